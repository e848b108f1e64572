"""libzkfence through cffi in ABI mode: the declarations, and finding the library.

ABI mode (``ffi.dlopen``) rather than API mode (a compiled extension): the
package is pure Python, so installing it needs neither a compiler, nor
Python's headers (python3-dev), nor libzkfence's headers; it loads the
libzkfence.so.0 that is there at run time, the one the C programs of the
same machine use. The price of ABI mode is that nothing checks these
declarations against include/zkfence/zkfence.h when the package is built:
tests/python/test_abi.py does, by compiling the header together with
FUNCTIONS below (a prototype that differs is a compile error, ``const``
included) and asserting the size and offsets of every struct and the value
of every enum constant declared in TYPES.

Which library (the first that applies):

1. ``$ZKFENCE_LIBRARY``, a path: that file, or an ImportError naming it.
2. A build next to the sources: when this package is imported from a
   checkout (``python/zkfence``), ``build/lib/libzkfence.so.0`` of that
   checkout (the README's build directory), if it exists.
3. ``libzkfence.so.0`` through the dynamic loader (``ld.so``: the system's
   library directories, ``ldconfig``'s cache, ``$LD_LIBRARY_PATH``), which is
   where ``cmake --install`` puts it (run ``ldconfig`` after installing
   under /usr/local).

The library must be of the same major.minor version as this package (before
1.0, every minor release may change the API; the soname only says "0").
"""
import os

import cffi

# The version of libzkfence these declarations describe (ZKF_VERSION_STRING).
BINDS = "0.1.0"

# Types: opaque handles, enums, callback types and option structs, as in
# zkfence.h. test_abi.py checks each struct's size and field offsets and each
# enum constant against the header.
TYPES = """
typedef struct zkf_client zkf_client_t;
typedef struct zkf_lock zkf_lock_t;
struct _zhandle;

typedef enum zkf_client_state {
    ZKF_CLIENT_CONNECTING = 0,
    ZKF_CLIENT_CONNECTED = 1,
    ZKF_CLIENT_SUSPENDED = 2,
    ZKF_CLIENT_EXPIRED = 3,
    ZKF_CLIENT_AUTH_FAILED = 4
} zkf_client_state_t;

typedef void (*zkf_client_state_cb)(zkf_client_t *client, zkf_client_state_t state, void *arg);

typedef struct zkf_client_options {
    size_t size;
    const char *hosts;
    const char *chroot;
    int session_timeout_ms;
    int connect_timeout_ms;
    const char *digest_user;
    const char *digest_password;
    int world_readable;
    zkf_client_state_cb state_cb;
    void *state_arg;
    int zk_log_level;
} zkf_client_options_t;

typedef enum zkf_lock_state {
    ZKF_LOCK_UNLOCKED = 0,
    ZKF_LOCK_WAITING = 1,
    ZKF_LOCK_HELD = 2,
    ZKF_LOCK_SUSPENDED = 3,
    ZKF_LOCK_LOST = 4
} zkf_lock_state_t;

typedef void (*zkf_lock_event_cb)(zkf_lock_t *lock, zkf_lock_state_t state, uint64_t token,
                                  void *arg);
typedef void (*zkf_acquire_cb)(zkf_lock_t *lock, int status, uint64_t token, void *arg);

typedef struct zkf_lock_options {
    size_t size;
    zkf_lock_event_cb event_cb;
    void *event_arg;
    int max_depth;
} zkf_lock_options_t;

typedef struct zkf_contender {
    char *node;
    int64_t owner;
    uint64_t token;
    int64_t created_ms;
    uint32_t sequence;
} zkf_contender_t;

typedef struct zkf_rwlock zkf_rwlock_t;
typedef enum zkf_rwlock_mode {
    ZKF_RWLOCK_READ = 0,
    ZKF_RWLOCK_WRITE = 1
} zkf_rwlock_mode_t;
typedef void (*zkf_rwlock_event_cb)(zkf_rwlock_t *rw, zkf_lock_state_t state, uint64_t token,
                                    void *arg);
typedef void (*zkf_rwlock_acquire_cb)(zkf_rwlock_t *rw, int status, uint64_t token, void *arg);
typedef struct zkf_rwlock_options {
    size_t size;
    zkf_rwlock_event_cb event_cb;
    void *event_arg;
} zkf_rwlock_options_t;

typedef struct zkf_semaphore zkf_semaphore_t;
typedef void (*zkf_semaphore_event_cb)(zkf_semaphore_t *sem, zkf_lock_state_t state,
                                       uint64_t token, void *arg);
typedef void (*zkf_semaphore_acquire_cb)(zkf_semaphore_t *sem, int status, uint64_t token,
                                         void *arg);
typedef struct zkf_semaphore_options {
    size_t size;
    zkf_semaphore_event_cb event_cb;
    void *event_arg;
} zkf_semaphore_options_t;

typedef struct zkf_election zkf_election_t;
typedef enum zkf_election_state {
    ZKF_ELECTION_IDLE = 0,
    ZKF_ELECTION_FOLLOWER = 1,
    ZKF_ELECTION_LEADER = 2,
    ZKF_ELECTION_SUSPENDED = 3,
    ZKF_ELECTION_LOST = 4
} zkf_election_state_t;
typedef void (*zkf_election_event_cb)(zkf_election_t *e, zkf_election_state_t state,
                                      uint64_t token, void *arg);
typedef void (*zkf_election_lead_cb)(zkf_election_t *e, int status, uint64_t token, void *arg);
typedef struct zkf_election_options {
    size_t size;
    zkf_election_event_cb event_cb;
    void *event_arg;
    const char *id;
} zkf_election_options_t;
typedef struct zkf_participant {
    char *node;
    char *id;
    int64_t owner;
    uint64_t token;
    int64_t created_ms;
    uint32_t sequence;
} zkf_participant_t;
"""

# Functions, written exactly as zkfence.h declares them (less ZKF_API), so
# that test_abi.py can compile them after the header. The blocking acquires
# (zkf_lock_acquire, zkf_rwlock_acquire, zkf_semaphore_acquire,
# zkf_election_lead) are left out on purpose: a thread blocked in C cannot
# be interrupted (KeyboardInterrupt), so every acquire waits in Python on
# the asynchronous one instead (zkfence/_holding.py). LEFT_OUT names them.
FUNCTIONS = """
const char *zkf_version(void);
const char *zkf_strerror(int err);
const char *zkf_err_name(int err);

void zkf_client_options_init(zkf_client_options_t *opts);
int zkf_client_connect(const zkf_client_options_t *opts, zkf_client_t **out);
int zkf_client_destroy(zkf_client_t *client);
zkf_client_state_t zkf_client_state(const zkf_client_t *client);
const char *zkf_client_state_name(zkf_client_state_t state);
int64_t zkf_client_session_id(const zkf_client_t *client);
int zkf_client_session_timeout(const zkf_client_t *client);
struct _zhandle *zkf_client_zhandle(zkf_client_t *client);

const char *zkf_lock_state_name(zkf_lock_state_t state);
void zkf_lock_options_init(zkf_lock_options_t *opts);
int zkf_lock_create(zkf_client_t *client, const char *path, const zkf_lock_options_t *opts,
                    zkf_lock_t **out);
void zkf_lock_destroy(zkf_lock_t *lock);
int zkf_lock_acquire_async(zkf_lock_t *lock, int timeout_ms, zkf_acquire_cb cb, void *arg);
int zkf_lock_cancel(zkf_lock_t *lock);
int zkf_lock_release(zkf_lock_t *lock);
int zkf_lock_token(const zkf_lock_t *lock, uint64_t *token);
zkf_lock_state_t zkf_lock_state(const zkf_lock_t *lock);
const char *zkf_lock_path(const zkf_lock_t *lock);
int zkf_lock_node(const zkf_lock_t *lock, char *buf, size_t len);
int zkf_lock_contenders(zkf_client_t *client, const char *path, zkf_contender_t **out,
                        size_t *count);
void zkf_contenders_free(zkf_contender_t *list, size_t count);
int zkf_lock_zk_error(const zkf_lock_t *lock);

void zkf_rwlock_options_init(zkf_rwlock_options_t *opts);
int zkf_rwlock_create(zkf_client_t *client, const char *path,
                      const zkf_rwlock_options_t *opts, zkf_rwlock_t **out);
void zkf_rwlock_destroy(zkf_rwlock_t *rw);
int zkf_rwlock_acquire_async(zkf_rwlock_t *rw, zkf_rwlock_mode_t mode, int timeout_ms,
                             zkf_rwlock_acquire_cb cb, void *arg);
int zkf_rwlock_cancel(zkf_rwlock_t *rw);
int zkf_rwlock_release(zkf_rwlock_t *rw);
int zkf_rwlock_token(const zkf_rwlock_t *rw, uint64_t *token);
zkf_lock_state_t zkf_rwlock_state(const zkf_rwlock_t *rw);
int zkf_rwlock_mode(const zkf_rwlock_t *rw);
const char *zkf_rwlock_path(const zkf_rwlock_t *rw);
int zkf_rwlock_node(const zkf_rwlock_t *rw, char *buf, size_t len);
int zkf_rwlock_zk_error(const zkf_rwlock_t *rw);
int zkf_rwlock_contenders(zkf_client_t *client, const char *path, zkf_contender_t **out,
                          size_t *count);

void zkf_semaphore_options_init(zkf_semaphore_options_t *opts);
int zkf_semaphore_create(zkf_client_t *client, const char *path, int max_leases,
                         const zkf_semaphore_options_t *opts, zkf_semaphore_t **out);
void zkf_semaphore_destroy(zkf_semaphore_t *sem);
int zkf_semaphore_acquire_async(zkf_semaphore_t *sem, int timeout_ms,
                                zkf_semaphore_acquire_cb cb, void *arg);
int zkf_semaphore_cancel(zkf_semaphore_t *sem);
int zkf_semaphore_release(zkf_semaphore_t *sem);
int zkf_semaphore_token(const zkf_semaphore_t *sem, uint64_t *token);
zkf_lock_state_t zkf_semaphore_state(const zkf_semaphore_t *sem);
const char *zkf_semaphore_path(const zkf_semaphore_t *sem);
int zkf_semaphore_max_leases(const zkf_semaphore_t *sem);
int zkf_semaphore_node(const zkf_semaphore_t *sem, char *buf, size_t len);
int zkf_semaphore_zk_error(const zkf_semaphore_t *sem);
int zkf_semaphore_leases(zkf_client_t *client, const char *path, zkf_contender_t **out,
                         size_t *count);

const char *zkf_election_state_name(zkf_election_state_t state);
void zkf_election_options_init(zkf_election_options_t *opts);
int zkf_election_create(zkf_client_t *client, const char *path,
                        const zkf_election_options_t *opts, zkf_election_t **out);
void zkf_election_destroy(zkf_election_t *e);
int zkf_election_lead_async(zkf_election_t *e, int timeout_ms, zkf_election_lead_cb cb,
                            void *arg);
int zkf_election_cancel(zkf_election_t *e);
int zkf_election_step_down(zkf_election_t *e, int rejoin);
int zkf_election_token(const zkf_election_t *e, uint64_t *token);
zkf_election_state_t zkf_election_state(const zkf_election_t *e);
const char *zkf_election_path(const zkf_election_t *e);
int zkf_election_node(const zkf_election_t *e, char *buf, size_t len);
int zkf_election_zk_error(const zkf_election_t *e);
int zkf_election_participants(zkf_client_t *client, const char *path,
                              zkf_participant_t **out, size_t *count);
void zkf_participants_free(zkf_participant_t *list, size_t count);
"""

# The header's functions not declared above, and why: see FUNCTIONS.
LEFT_OUT = {"zkf_lock_acquire", "zkf_rwlock_acquire", "zkf_semaphore_acquire",
            "zkf_election_lead"}

SONAME = "libzkfence.so.0"

ffi = cffi.FFI()
ffi.cdef(TYPES)
ffi.cdef(FUNCTIONS)


def _candidates():
    """(how, what to dlopen) in the order of the module's docstring."""
    explicit = os.environ.get("ZKFENCE_LIBRARY")
    if explicit:
        return [("$ZKFENCE_LIBRARY", explicit)]
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    checkout = os.path.dirname(os.path.dirname(here))  # python/zkfence -> the checkout
    beside = os.path.join(checkout, "build", "lib", SONAME)
    if os.path.basename(os.path.dirname(here)) == "python" and os.path.exists(beside):
        out.append(("the build next to these sources", beside))
    out.append(("the dynamic loader", SONAME))
    return out


def _load():
    tried = []
    for how, what in _candidates():
        try:
            lib = ffi.dlopen(what)
        except OSError as e:
            tried.append("%s (%s): %s" % (what, how, e))
            continue
        return lib, what
    raise ImportError(
        "zkfence: cannot load libzkfence: tried "
        + "; ".join(tried)
        + ". Install it (cmake --install build, then ldconfig), or set ZKFENCE_LIBRARY to "
        "the path of libzkfence.so.0"
    )


lib, LIBRARY = _load()
VERSION = ffi.string(lib.zkf_version()).decode()
if VERSION.split(".")[:2] != BINDS.split(".")[:2]:
    raise ImportError(
        "zkfence: %s is libzkfence %s; this package binds %s (before 1.0 only the same "
        "major.minor is compatible)" % (LIBRARY, VERSION, BINDS)
    )

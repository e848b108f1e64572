/* Credentials and rights (auth/creds.c): the access keys the proxy knows,
 * their secrets, and what each may do, as read from the credentials file
 * (`credentials = FILE`).
 *
 * The file, one rule per line ('#' starts a comment at the start of a line
 * or after a space or tab; blank lines are ignored; fields are separated by
 * spaces or tabs):
 *
 *     key    ACCESS_KEY_ID  SECRET_ACCESS_KEY
 *     grant  ACCESS_KEY_ID  BUCKET|*  read|write|admin
 *
 *  - ACCESS_KEY_ID: 1..128 printable ASCII bytes, none of them '/' or ','
 *    (what a SigV4 Credential can carry); each key is defined once.
 *  - SECRET_ACCESS_KEY: 16..256 printable ASCII bytes without spaces.
 *  - grant: the key must be defined on an earlier line; BUCKET is an S3
 *    bucket name (it need not exist yet: admin on it lets the key create
 *    it), '*' every bucket, present and future. Rights are levels: write
 *    includes read, admin includes write. Several grants of one key add up
 *    (the highest level for a bucket counts).
 *  - A key without grants authenticates but may do nothing (ListBuckets
 *    lists nothing).
 * A file with no key is refused: nobody could do anything.
 *
 * What each right allows is auth/rights.c's table; "admin on '*'" is also
 * what the admin endpoints need.
 *
 * A set is immutable once built, so any number of threads may read it
 * without a lock; a reload (SIGHUP) builds a new set and swaps it in
 * (auth/auth.c). */
#ifndef ZKP_CREDS_H
#define ZKP_CREDS_H

#include <stddef.h>

typedef enum {
    ZKP_RIGHT_NONE = 0,
    ZKP_RIGHT_READ = 1,  /* GET, HEAD, listings */
    ZKP_RIGHT_WRITE = 2, /* and PUT, DELETE, copy destination, DeleteObjects */
    ZKP_RIGHT_ADMIN = 3, /* and CreateBucket, DeleteBucket; on '*': the admin endpoints */
} zkp_right_t;

#define ZKP_CREDS_SECRET_MIN 16
#define ZKP_CREDS_SECRET_MAX 256
#define ZKP_CREDS_FILE_MAX (16u << 20) /* larger files are refused */

typedef struct zkp_creds zkp_creds_t;
typedef struct zkp_cred_key zkp_cred_key_t;

/* "read", "write", "admin" ("none" for ZKP_RIGHT_NONE). Static strings. */
const char *zkp_right_name(zkp_right_t r);

/* Parses the text of a credentials file; `name` is the file name used in
 * messages. Returns 0 and sets *out (free with zkp_creds_free()), or -1
 * with "NAME:LINE: message" in err (the message never quotes a secret).
 * Pure, thread-safe. */
int zkp_creds_parse(const char *text, size_t len, const char *name, zkp_creds_t **out, char *err,
                    size_t errlen);

/* Reads and parses the file at path: refused if group or others have any
 * access to it (util/fsutil.h, zkp_read_private_file()). Returns 0 or -1
 * with a message naming the file. */
int zkp_creds_load(const char *path, zkp_creds_t **out, char *err, size_t errlen);

/* Frees the set and wipes its secrets. NULL is a no-op. */
void zkp_creds_free(zkp_creds_t *c);

/* Number of keys. */
size_t zkp_creds_count(const zkp_creds_t *c);

/* The key named access_key (NUL-terminated), or NULL. The pointer lives as
 * long as the set. O(log keys). */
const zkp_cred_key_t *zkp_creds_find(const zkp_creds_t *c, const char *access_key);

/* The key's id (NUL-terminated, lives as long as the set). */
const char *zkp_cred_key_id(const zkp_cred_key_t *k);

/* Copies the key's secret and a NUL into out (capacity cap) and returns its
 * length, or -1 if cap is too small. */
int zkp_cred_key_secret(const zkp_cred_key_t *k, char *out, size_t cap);

/* The key's right on `bucket` (the highest of its grants naming the bucket
 * or '*'); bucket NULL: its right on '*' alone (what it may do everywhere).
 * NULL k: ZKP_RIGHT_NONE. */
zkp_right_t zkp_cred_key_right(const zkp_cred_key_t *k, const char *bucket);

/* The highest right the key holds on any bucket (any grant). */
zkp_right_t zkp_cred_key_max_right(const zkp_cred_key_t *k);

#endif

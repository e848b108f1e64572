/* Locks bound to keys (fence/bind.c): which lock fences a key is decided by
 * the configuration, not by the client.
 *
 * A binding ties a bucket, or a key prefix within it, to a lock path:
 *
 *     bind.seats          = /locks/seats               every key of bucket seats
 *     bind.seats/rows/    = /locks/rows                keys starting with "rows/"
 *     bind.ledger         = /locks/{bucket}/{key}      one lock per key
 *
 * The part after "bind." is the bucket, then optionally '/' and a key
 * prefix (raw bytes, compared with the key's bytes); the longest prefix
 * that matches a key wins, and a binding without a prefix covers the rest
 * of its bucket. The value is a lock path, or a template whose path
 * components may be the placeholders {bucket} and {key} (each a whole
 * component, each at most once; other components are literal and follow
 * the lock-name rules of fence.h; '{' and '}' appear nowhere else).
 *
 * {key} expands to the key's own path components (split at '/'), each
 * escaped so that every key gives a different lock and no key gives a
 * component ZooKeeper would refuse or read differently:
 *   - the bytes A-Z a-z 0-9 '-' '_' '.' '~' stay as they are;
 *   - every other byte (a '%', a space, '{', '}', anything outside ASCII)
 *     becomes %XX, two uppercase hex digits;
 *   - a component that is "." or ".." has every dot escaped ("%2E",
 *     "%2E%2E");
 *   - an empty component (the key "a//b", "/a", "a/") becomes "%", which no
 *     other component can be (every other '%' is followed by two digits).
 * So a component is never empty, ".", ".." or a NUL, and escaping is
 * undone by decoding the %XX (and "%" to nothing): two keys that give one
 * lock are the same key. {bucket} is the bucket's name (S3 names need no
 * escaping: [a-z0-9.-], never "." or "..").
 *
 * A lock a binding can give is reserved for the keys of that binding: a
 * request on any other key naming it is refused as well (zkp_binds_owner),
 * or a client could raise a bound lock's mark through an unbound key.
 *
 * Pure: no I/O, no global state. A table is immutable once built; any
 * number of threads may look up in it without a lock. */
#ifndef ZKP_BIND_H
#define ZKP_BIND_H

#include <stddef.h>

#define ZKP_BIND_BUCKET_MAX 63 /* S3 bucket names are 3..63 bytes */

typedef struct zkp_binds zkp_binds_t;
typedef struct zkp_bind zkp_bind_t;

/* An empty table, or NULL without memory. Free with zkp_binds_free(). */
zkp_binds_t *zkp_binds_new(void);
void zkp_binds_free(zkp_binds_t *b); /* NULL is a no-op */

/* Adds a binding: `spec` is the text after "bind." (BUCKET or
 * BUCKET/PREFIX), `value` the lock or template. The bucket is taken as
 * given (the configuration checks S3's naming rules): 1..63 bytes without
 * '/'. Returns 0, or -1 with a message naming the problem in err (a second
 * binding of the same spec, a lock that is not canonical, a bad
 * placeholder, ...). Not thread-safe: build the table before sharing it. */
int zkp_binds_add(zkp_binds_t *b, const char *spec, const char *value, char *err, size_t errlen);

/* Number of bindings; 0 for NULL. */
size_t zkp_binds_count(const zkp_binds_t *b);

/* 1 if some binding names `bucket`. */
int zkp_binds_has_bucket(const zkp_binds_t *b, const char *bucket);

/* The binding that governs key[0..key_len) of `bucket`: the longest prefix
 * among the bucket's bindings that begins the key; NULL if none. key ==
 * NULL asks for the bucket as a whole (a listing): only its binding
 * without a prefix can answer. NULL table: NULL. */
const zkp_bind_t *zkp_binds_lookup(const zkp_binds_t *b, const char *bucket, const char *key,
                                   size_t key_len);

/* The lock binding bd gives (bucket, key) (key == NULL: the bucket as a
 * whole), NUL-terminated in out[cap]. Returns its length; -1 if the
 * template needs a key and none was given; -2 if the lock would be longer
 * than ZKP_LOCK_NAME_MAX (or cap). */
int zkp_bind_lock(const zkp_bind_t *bd, const char *bucket, const char *key, size_t key_len,
                  char *out, size_t cap);

/* The one call for "which lock fences this key?" (PutObject, CopyObject's
 * destination, DeleteObject, multipart, reads): lookup and expansion in
 * one. Returns 1 with the lock in out (and *which, if not NULL, set to the
 * binding), 0 when no binding governs the key, or -1 / -2 as
 * zkp_bind_lock(). */
int zkp_binds_lock_for(const zkp_binds_t *b, const char *bucket, const char *key, size_t key_len,
                       char *out, size_t cap, const zkp_bind_t **which);

/* A binding that gives `lock` (NUL-terminated) to some key it governs, or
 * NULL if none can. bucket: only that bucket's bindings are considered
 * (NULL: every binding). bucket_out (ZKP_BIND_BUCKET_MAX + 1 bytes, may be
 * NULL) gets the binding's bucket. For a template, the key is recovered by
 * undoing the escaping, and must be governed by that very binding (a
 * longer prefix does not take it away). */
const zkp_bind_t *zkp_binds_owner(const zkp_binds_t *b, const char *lock, const char *bucket,
                                  char *bucket_out);

/* What the configuration said: "seats/rows/" (the spec) and its value. */
const char *zkp_bind_spec(const zkp_bind_t *bd);
const char *zkp_bind_value(const zkp_bind_t *bd);
/* 1 if the value uses {key}: each key has a lock of its own. */
int zkp_bind_per_key(const zkp_bind_t *bd);

/* The escaping of {key} (above): writes the escaped key (components joined
 * by '/') NUL-terminated into out[cap]. Returns its length, or -1 if it
 * does not fit. zkp_bind_unescape() undoes it: returns the key's length,
 * or -1 if `s` is not exactly what zkp_bind_escape() gives for some key
 * (or does not fit). */
int zkp_bind_escape(const char *key, size_t len, char *out, size_t cap);
int zkp_bind_unescape(const char *s, size_t len, char *out, size_t cap);

#endif

/* The multipart uploads made through this proxy with backend = s3
 * (uploads.c; internal to backend/s3/): for each, the id the proxy gave
 * the client, the proxy bucket and key it belongs to, the upstream's own
 * upload id, and the fencing record of its create.
 *
 * Why the proxy keeps them: a part's fencing is decided on the event loop
 * before its body is read (backend.h: mpu_stat answers from local state,
 * never from the network); and the id a client names must be checked
 * against the bucket and key of its request before anything goes upstream,
 * since an upstream upload id names an upload in an upstream bucket that
 * other proxy buckets (prefixes) share, and some stores (s3rver) complete an
 * upload under the key it was created with whatever key the request names.
 * The client never sees an upstream id: an id the proxy did not make is
 * unknown (NoSuchUpload).
 *
 * Each upload is one small file in DIR (DATA_DIR/s3-uploads), written and
 * fsync'ed before the create is answered, removed when the upload ends
 * (completed, aborted, swept), read back at start-up: an upload survives a
 * restart of the proxy.
 *
 * Thread safety: every function may be called from any thread. */
#ifndef ZKP_S3_UPLOADS_H
#define ZKP_S3_UPLOADS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "backend/s3/s3core.h"

#define ZKP_S3UP_ID_LEN 32 /* hex characters of the proxy's upload id */

/* One upload, as a copy the caller owns (zkp_s3up_free()). */
typedef struct zkp_s3up {
    char id[ZKP_S3UP_ID_LEN + 1];
    char *bucket;      /* the proxy bucket */
    char *key;         /* the proxy key */
    char *upstream_id; /* the upstream's UploadId */
    char *lock;        /* NULL: created without fencing */
    uint64_t token;
    time_t initiated;
} zkp_s3up_t;

void zkp_s3up_free(zkp_s3up_t *u);

/* Opens DIR (created if missing) and reads every upload in it; a file that
 * cannot be read is reported in err and stops the start (it is the proxy's
 * own state: nothing is dropped silently). 0, or -1 with err set. */
int zkp_s3ups_open(const char *dir, zkp_s3ups_t **out, char *err, size_t errlen);
void zkp_s3ups_close(zkp_s3ups_t *t);

/* Records a new upload (u->id is made here: random), durably. ZKP_BE_OK,
 * ZKP_BE_IO or ZKP_BE_NOMEM. */
int zkp_s3ups_add(zkp_s3ups_t *t, zkp_s3up_t *u);
/* A copy of upload `id` if it belongs to bucket and key and is not being
 * ended (busy); else ZKP_BE_NO_UPLOAD. With claim, the upload is marked
 * busy (a completion or abort is working on it) until zkp_s3ups_end(). */
int zkp_s3ups_get(zkp_s3ups_t *t, const char *id, const char *bucket, const char *key, int claim,
                  zkp_s3up_t *out);
/* Ends a claim: removes the upload (its file first) when remove, else
 * makes it available again. */
void zkp_s3ups_end(zkp_s3ups_t *t, const char *id, int remove);
/* The proxy id of an upstream upload id in bucket, into id; 0, or -1 if
 * none of this proxy's. */
int zkp_s3ups_find_upstream(zkp_s3ups_t *t, const char *bucket, const char *upstream_id,
                            char id[ZKP_S3UP_ID_LEN + 1]);
/* Claims every upload initiated before `before` that nobody is ending:
 * copies in *out (malloc'ed, *n of them; zkp_s3up_free() each, then
 * free()). ZKP_BE_OK or ZKP_BE_NOMEM. */
int zkp_s3ups_claim_older(zkp_s3ups_t *t, time_t before, zkp_s3up_t **out, size_t *n);

#endif

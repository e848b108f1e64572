/* Decoder for the aws-chunked content encoding that SigV4 streaming uploads
 * use (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]
 * or STREAMING-UNSIGNED-PAYLOAD-TRAILER):
 *
 *     <hex size>[;chunk-signature=<sig>]\r\n <size bytes> \r\n ...
 *     0[;chunk-signature=<sig>]\r\n [<trailer>:<value>\r\n]* \r\n
 *
 * The stored object is the concatenation of the chunk payloads. Given a
 * chunk-signature verifier (sigv4/sigv4.h, zkp_sigv4_chunks_t: the request
 * was signed with a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] payload),
 * every size line must carry exactly ";chunk-signature=<64 hex>", each
 * chunk's signature is checked as its data ends (before the next chunk is
 * taken), and a signed trailer's lines are checked against their
 * x-amz-trailer-signature. Without one (unsigned payloads, auth off), chunk
 * extensions are ignored. Trailer lines other than the signature go to the
 * trailer callback (x-amz-checksum-*: checked by the caller).
 * The decoder is incremental: bytes may arrive split anywhere, and it holds
 * at most one framing line (<= ZKP_CHUNKED_LINE_MAX bytes) in memory. */
#ifndef ZKP_AWSCHUNKED_H
#define ZKP_AWSCHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "sigv4/sigv4.h"

#define ZKP_CHUNKED_LINE_MAX 4096

/* Where decoded bytes go. data: payload bytes; trailer: one trailer line
 * split at its first ':' (NULL: trailers dropped). A non-zero return stops
 * the decoder and is returned by zkp_chunked_feed(). */
typedef struct zkp_chunked_cb {
    int (*data)(void *arg, const char *data, size_t len);
    int (*trailer)(void *arg, const char *name, size_t nlen, const char *value, size_t vlen);
} zkp_chunked_cb_t;

/* zkp_chunked_feed()/finish() failures (a callback's own non-zero values
 * pass through; callbacks should return positive values). */
#define ZKP_CHUNKED_EMALFORMED (-1) /* framing broken, or the body ends short */
#define ZKP_CHUNKED_ESIGNATURE (-2) /* a chunk or trailer signature does not match */

typedef struct zkp_chunked {
    int state;
    uint64_t remaining;      /* payload bytes left in the current chunk */
    uint64_t decoded;        /* payload bytes emitted so far */
    zkp_sigv4_chunks_t *sig; /* borrowed; NULL: signatures not checked */
    size_t line_len;
    char line[ZKP_CHUNKED_LINE_MAX];
} zkp_chunked_t;

/* sig: the verifier (initialised by zkp_sigv4_chunks_init(), outliving the
 * decoder), or NULL. */
void zkp_chunked_init(zkp_chunked_t *c, zkp_sigv4_chunks_t *sig);

/* Feeds len bytes of the encoded body. Returns 0, ZKP_CHUNKED_EMALFORMED,
 * ZKP_CHUNKED_ESIGNATURE (the decoder then stays failed: no byte after the
 * failing chunk reaches cb->data), or a callback's non-zero value. */
int zkp_chunked_feed(zkp_chunked_t *c, const char *data, size_t len, const zkp_chunked_cb_t *cb,
                     void *arg);

/* At the end of the body: 0 if it ended exactly after the final chunk (and
 * its trailers; with a verifier, every signature checked, the trailer's
 * included), ZKP_CHUNKED_EMALFORMED if truncated or malformed,
 * ZKP_CHUNKED_ESIGNATURE if a signature failed or is missing. */
int zkp_chunked_finish(const zkp_chunked_t *c);

#endif

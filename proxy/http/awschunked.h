/* Decoder for the aws-chunked content encoding that SigV4 streaming uploads
 * use (x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]
 * or STREAMING-UNSIGNED-PAYLOAD-TRAILER):
 *
 *     <hex size>[;chunk-signature=<sig>]\r\n <size bytes> \r\n ...
 *     0[;chunk-signature=<sig>]\r\n [<trailer>:<value>\r\n]* \r\n
 *
 * The stored object is the concatenation of the chunk payloads; the framing,
 * signatures and trailers are dropped (signatures are not verified yet).
 * The decoder is incremental: bytes may arrive split anywhere, and it holds
 * at most one framing line (<= ZKP_CHUNKED_LINE_MAX bytes) in memory. */
#ifndef ZKP_AWSCHUNKED_H
#define ZKP_AWSCHUNKED_H

#include <stddef.h>
#include <stdint.h>

#define ZKP_CHUNKED_LINE_MAX 4096

typedef int (*zkp_chunked_sink_fn)(void *arg, const char *data, size_t len);

typedef struct zkp_chunked {
    int state;
    uint64_t remaining; /* payload bytes left in the current chunk */
    uint64_t decoded;   /* payload bytes emitted so far */
    size_t line_len;
    char line[ZKP_CHUNKED_LINE_MAX];
} zkp_chunked_t;

void zkp_chunked_init(zkp_chunked_t *c);

/* Feeds len bytes of the encoded body; payload goes to sink. Returns 0, -1
 * if the framing is malformed (the decoder then stays failed), or the
 * sink's non-zero return value. */
int zkp_chunked_feed(zkp_chunked_t *c, const char *data, size_t len, zkp_chunked_sink_fn sink,
                     void *arg);

/* 0 if the body ended exactly after the final chunk (and its trailers), -1
 * if it was truncated or malformed. */
int zkp_chunked_finish(const zkp_chunked_t *c);

#endif

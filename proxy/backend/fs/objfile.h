/* On-disk format of one object of the local-files backend: metadata and
 * body in a single file, so that one rename(2) publishes both atomically
 * (no sidecar that could disagree with its object after a crash).
 *
 *   offset 0   preamble, 64 bytes:
 *              "ZKPOBJ1\0" | u32 header_len | u32 zero | u64 size |
 *              i64 mtime | 32 hex chars etag            (little-endian)
 *   offset 64  header_len bytes of records: u32 nlen | u32 vlen | name | value
 *              ":key" (the object key: the file name is only its hash),
 *              ":fence-lock", ":fence-token", for an object made by a
 *              multipart upload ":parts" (the part count, the "-N" of its
 *              ETag) and ":upload-id" (which upload made it), then stored
 *              HTTP headers
 *   then       the body, `size` bytes
 *
 * Size, mtime and etag are only known at the end of an upload; they live in
 * the fixed preamble, which is rewritten in place before the rename. The
 * preamble's etag is 32 hex digits: a multipart object's ETag is those and
 * "-" ":parts". The same format holds an upload's manifest and its parts
 * (multipart.c). */
#ifndef ZKP_OBJFILE_H
#define ZKP_OBJFILE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "util/buf.h"

#define ZKP_OBJ_PREAMBLE 64
#define ZKP_OBJ_MAX_HEADER (1u << 20)

/* What an object file may record besides its key and metadata. */
typedef struct zkp_objfile_extra {
    unsigned parts;        /* multipart: the part count; 0 for a plain object */
    const char *upload_id; /* multipart: the upload that made the object; NULL for none */
} zkp_objfile_extra_t;

/* The head of an object file: the preamble (with the meta's
 * size/mtime/etag) and the header records, into out (initialised here;
 * zkp_buf_free() it whatever the result). x may be NULL (nothing extra).
 * Its length is the body's offset. 0, or -1 (out of memory, or the header
 * records over ZKP_OBJ_MAX_HEADER). */
int zkp_objfile_format_head(const char *key, const zkp_obj_meta_t *meta,
                            const zkp_objfile_extra_t *x, zkp_buf_t *out);
/* zkp_objfile_format_head(), written at offset 0 of fd. *body_off gets
 * the body offset. 0 or -1. */
int zkp_objfile_write_head(int fd, const char *key, const zkp_obj_meta_t *meta,
                           const zkp_objfile_extra_t *x, uint64_t *body_off);
/* Rewrites the preamble with the final size, mtime and etag (its first 32
 * characters: the hex digits of a multipart ETag) of the object whose
 * body starts at body_off (what zkp_objfile_write_head gave): the header
 * length comes from there, so nothing is read back. 0 or -1. */
int zkp_objfile_finish(int fd, uint64_t body_off, uint64_t size, int64_t mtime, const char *etag);

/* Reads the head of an object file: *key gets the stored key (malloc'ed),
 * *meta the metadata (zkp_obj_meta_free(); its etag has the "-N" of a
 * multipart object), and, if upload_id is not NULL, *upload_id the upload
 * that made it (malloc'ed, or NULL). Checks that the file length is
 * exactly head + body. 0, or -1 if malformed or short. */
int zkp_objfile_read_head(int fd, char **key, zkp_obj_meta_t *meta, char **upload_id,
                          uint64_t *body_off);
/* zkp_objfile_read_head(), reading into buf (cap bytes, at least 4096):
 * the head and as much of the body as fits come in one read. On success
 * buf[0 .. *body_have) holds the body's first *body_have bytes (0 if none
 * fit); buf's other bytes are scratch. */
int zkp_objfile_read_head_buf(int fd, char **key, zkp_obj_meta_t *meta, char **upload_id,
                              uint64_t *body_off, void *buf, size_t cap, size_t *body_have);

#endif

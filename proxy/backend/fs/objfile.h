/* On-disk format of one object of the local-files backend: metadata and
 * body in a single file, so that one rename(2) publishes both atomically
 * (no sidecar that could disagree with its object after a crash).
 *
 *   offset 0   preamble, 64 bytes:
 *              "ZKPOBJ1\0" | u32 header_len | u32 zero | u64 size |
 *              i64 mtime | 32 hex chars etag            (little-endian)
 *   offset 64  header_len bytes of records: u32 nlen | u32 vlen | name | value
 *              ":key" (the object key: the file name is only its hash),
 *              ":fence-lock", ":fence-token", then stored HTTP headers
 *   then       the body, `size` bytes
 *
 * Size, mtime and etag are only known at the end of an upload; they live in
 * the fixed preamble, which is rewritten in place before the rename. */
#ifndef ZKP_OBJFILE_H
#define ZKP_OBJFILE_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

#define ZKP_OBJ_PREAMBLE 64
#define ZKP_OBJ_MAX_HEADER (1u << 20)

/* Writes the preamble (with the meta's size/mtime/etag) and the header
 * records at offset 0 of fd. *body_off gets the body offset. 0 or -1. */
int zkp_objfile_write_head(int fd, const char *key, const zkp_obj_meta_t *meta, uint64_t *body_off);
/* Rewrites only the preamble's size, mtime and etag. 0 or -1. */
int zkp_objfile_finish(int fd, uint64_t size, int64_t mtime, const char *etag);

/* Reads the head of an object file: *key gets the stored key (malloc'ed),
 * *meta the metadata (zkp_obj_meta_free()). Checks that the file length is
 * exactly head + body. 0, or -1 if malformed or short. */
int zkp_objfile_read_head(int fd, char **key, zkp_obj_meta_t *meta, uint64_t *body_off);

#endif

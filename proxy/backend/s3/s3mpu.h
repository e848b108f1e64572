/* Reading the upstream's answers to the multipart calls (s3mpu.c):
 * InitiateMultipartUploadResult, CompleteMultipartUploadResult (which S3
 * may send with status 200 and an <Error> inside), CopyPartResult,
 * ListPartsResult and ListMultipartUploadsResult. Pure, over the XML
 * reader of s3xml.h; bytes from the network: fuzzed (fuzz_s3xml). */
#ifndef ZKP_S3MPU_H
#define ZKP_S3MPU_H

#include <stddef.h>

#include "backend/backend.h"

/* The UploadId of an InitiateMultipartUploadResult, malloc'ed in *id: 1 to
 * ZKP_UPLOAD_ID_MAX printable ASCII bytes. ZKP_BE_OK, ZKP_BE_BAD_GATEWAY
 * (not that document, or an id out of those bounds) or ZKP_BE_NOMEM. */
int zkp_s3mpu_upload_id(const char *xml, size_t len, char **id);

/* The ETag (unquoted) of a document whose root is `root`
 * (CompleteMultipartUploadResult, CopyPartResult). An <Error> document
 * instead (a 200 that failed): ZKP_BE_UNAVAILABLE for InternalError,
 * SlowDown and ServiceUnavailable, else ZKP_BE_UPSTREAM (400, its code),
 * with the detail set (backend.h). Else ZKP_BE_OK, or ZKP_BE_BAD_GATEWAY. */
int zkp_s3mpu_etag(const char *xml, size_t len, const char *root, char etag[ZKP_ETAG_MAX + 1]);

/* A ListPartsResult into *out (zkp_part_list_free()). ZKP_BE_OK,
 * ZKP_BE_BAD_GATEWAY or ZKP_BE_NOMEM. */
int zkp_s3mpu_parts(const char *xml, size_t len, zkp_part_list_t *out);

/* A ListMultipartUploadsResult into *res (zkp_upload_list_result_free()):
 * keys and prefixes url-decoded when the document says so, those not
 * beginning with `strip` dropped, the others without it (NextKeyMarker
 * too). Upload ids are the upstream's as sent. ZKP_BE_OK,
 * ZKP_BE_BAD_GATEWAY or ZKP_BE_NOMEM. */
int zkp_s3mpu_uploads(const char *xml, size_t len, const char *strip,
                      zkp_upload_list_result_t *res);

#endif

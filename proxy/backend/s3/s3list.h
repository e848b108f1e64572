/* Reading the upstream's listings: ListObjectsV2 (ListBucketResult) into
 * the backend's page (backend.h: zkp_list_result_t), the upstream key
 * prefix taken off every name; ListBuckets (ListAllMyBucketsResult). */
#ifndef ZKP_S3LIST_H
#define ZKP_S3LIST_H

#include <stddef.h>

#include "backend/backend.h"

/* Parses a ListBucketResult. Keys and common prefixes that do not begin
 * with `strip` are dropped (the upstream would not send them), the others
 * lose it; url-encoded names (<EncodingType>url) are decoded; a name equal
 * to `skip` (may be NULL) is dropped. Items are sorted by name, and
 * res->next is the last name when the upstream says the page is
 * truncated. Returns 0, ZKP_BE_BAD_GATEWAY (not such a document) or
 * ZKP_BE_NOMEM. */
int zkp_s3list_objects(const char *xml, size_t len, const char *strip, const char *skip,
                       zkp_list_result_t *res);

/* Parses a ListAllMyBucketsResult: the bucket names valid for S3 and
 * their creation dates, *out malloc'ed (free()). Returns 0,
 * ZKP_BE_BAD_GATEWAY or ZKP_BE_NOMEM. */
int zkp_s3list_buckets(const char *xml, size_t len, zkp_bucket_info_t **out, size_t *n);

/* "2024-01-31T12:00:00.000Z" (fractions optional) -> time, or 0. */
time_t zkp_s3list_time(const char *iso);

#endif

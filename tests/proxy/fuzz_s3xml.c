/* Fuzz target for the bytes an upstream S3 endpoint answers with, as the
 * upstream backend reads them: the XML reader (backend/s3/s3xml.c) and
 * the listing readers over it (ListBucketResult with a key prefix to take
 * off, ListAllMyBucketsResult, ISO 8601 times) and the multipart answers
 * (s3mpu.c: InitiateMultipartUploadResult, CompleteMultipartUploadResult
 * and CopyPartResult or an <Error>, ListPartsResult,
 * ListMultipartUploadsResult). The first byte picks the
 * prefix; the rest is the document. Sources are compiled into the target
 * (not linked from zkp_core) so that libFuzzer sees their coverage. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/s3/s3list.h"
#include "backend/s3/s3mpu.h"
#include "backend/s3/s3xml.h"

static void on_open(void *arg, const char *name, int depth)
{
    (void)arg;
    (void)name;
    (void)depth;
}

static void on_close(void *arg, const char *name, int depth, const char *text, size_t len)
{
    size_t *total = arg;
    *total += strlen(name) + (size_t)depth + len + (text[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *strip = (data[0] & 1) ? "pfx/" : "";
    const char *skip = (data[0] & 2) ? "a/" : NULL;
    const char *xml = (const char *)data + 1;
    size_t len = size - 1;
    size_t total = 0;
    zkp_s3xml_handler_t h = {on_open, on_close};
    zkp_s3xml_parse(xml, len, &h, &total);
    zkp_list_result_t res;
    if (zkp_s3list_objects(xml, len, strip, skip, &res) == 0) {
        for (size_t i = 1; i < res.n; i++)
            if (strcmp(res.items[i - 1].name, res.items[i].name) > 0)
                abort(); /* items must come sorted */
        zkp_list_result_free(&res);
    }
    zkp_bucket_info_t *b = NULL;
    size_t n = 0;
    if (zkp_s3list_buckets(xml, len, &b, &n) == 0)
        free(b);
    char *id = NULL;
    if (zkp_s3mpu_upload_id(xml, len, &id) == 0) {
        if (id[0] == '\0' || strlen(id) > ZKP_UPLOAD_ID_MAX)
            abort(); /* ids are 1..ZKP_UPLOAD_ID_MAX bytes */
        free(id);
    }
    char etag[ZKP_ETAG_MAX + 1];
    zkp_s3mpu_etag(xml, len, (data[0] & 4) ? "CopyPartResult" : "CompleteMultipartUploadResult",
                   etag);
    zkp_part_list_t parts;
    if (zkp_s3mpu_parts(xml, len, &parts) == 0) {
        for (size_t i = 0; i < parts.n; i++)
            if (parts.parts[i].number < 1 || parts.parts[i].number > ZKP_MPU_MAX_PARTS)
                abort(); /* out-of-range part numbers are dropped */
        zkp_part_list_free(&parts);
    }
    zkp_upload_list_result_t ups;
    if (zkp_s3mpu_uploads(xml, len, strip, &ups) == 0)
        zkp_upload_list_result_free(&ups);
    char *s = strndup(xml, len);
    if (s != NULL) {
        zkp_s3list_time(s);
        free(s);
    }
    return 0;
}

/* The request headers kept with an object (s3/objmeta.h). */
#include "s3/objmeta.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const stored_headers[] = {
    "content-type",     "cache-control", "content-disposition",
    "content-language", "expires",       "content-encoding"};

/* "aws-chunked, gzip" -> "gzip": the transfer framing is not the object's
 * encoding. Writes into out (cap >= strlen(v) + 1). */
static void strip_aws_chunked(const char *v, char *out)
{
    out[0] = '\0';
    const char *p = v;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t len = n;
        while (len > 0 && isspace((unsigned char)*s)) {
            s++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1]))
            len--;
        if (len > 0 && !(len == 11 && strncasecmp(s, "aws-chunked", 11) == 0)) {
            if (out[0] != '\0')
                strcat(out, ",");
            strncat(out, s, len);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

static int collect_header(void *arg, const char *key, const char *value)
{
    zkp_req_t *r = arg;
    char name[256];
    size_t n = strlen(key);
    if (n >= sizeof(name))
        return 0;
    for (size_t i = 0; i <= n; i++)
        name[i] = (char)tolower((unsigned char)key[i]);
    int keep = 0, is_meta = strncmp(name, "x-amz-meta-", 11) == 0;
    /* libmicrohttpd gives an empty value as NULL: user metadata keeps it as
     * the empty string (S3 stores and returns "x-amz-meta-a:" as is); the
     * standard headers are not kept empty. */
    if (value == NULL && !is_meta)
        return 0;
    if (value == NULL)
        value = "";
    if (is_meta)
        /* The fencing credentials of one write are not object metadata:
         * stored, they would be copied by CopyObject and echoed to readers
         * as if they still meant something. Provenance is kept apart. */
        keep = strcmp(name, "x-amz-meta-fencing-lock") != 0 &&
               strcmp(name, "x-amz-meta-fencing-token") != 0;
    for (size_t i = 0; i < sizeof(stored_headers) / sizeof(char *); i++)
        if (strcmp(name, stored_headers[i]) == 0)
            keep = 1;
    if (!keep)
        return 0;
    if (strcmp(name, "content-encoding") == 0) {
        char *v = malloc(strlen(value) + 1);
        if (v == NULL)
            return 0;
        strip_aws_chunked(value, v);
        if (v[0] != '\0')
            zkp_obj_meta_add(&r->meta, name, v);
        free(v);
        return 0;
    }
    zkp_obj_meta_add(&r->meta, name, value);
    return 0;
}

void zkp_objmeta_collect(zkp_req_t *r)
{
    zkp_obj_meta_free(&r->meta);
    zkp_req_headers(r, collect_header, r);
    if (r->op.fence == ZKP_FENCE_PRESENT) {
        r->meta.fence_lock = strdup(r->op.lock);
        r->meta.fence_token = r->op.token;
    }
}

/* Minimal S3-style HTTP calls for the demo, over libcurl. */
#include "http.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct demo_http {
    CURL *curl;
    char *base;
    char curl_err[CURL_ERROR_SIZE];
    char error[CURL_ERROR_SIZE + 1100]; /* curl_err and the request */
    char userpwd[512];                  /* "AK:SECRET", empty: unsigned */
    char sigv4[96];                     /* "aws:amz:REGION:s3" */
    const char *ca;                     /* AWS_CA_BUNDLE, or NULL */
};

typedef struct sink {
    char *buf;
    size_t len;
} sink_t;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    sink_t *s = arg;
    size_t add = size * n;
    char *nb = realloc(s->buf, s->len + add + 1);
    if (nb == NULL)
        return 0;
    memcpy(nb + s->len, p, add);
    s->buf = nb;
    s->len += add;
    s->buf[s->len] = '\0';
    return add;
}

demo_http_t *demo_http_new(const char *base)
{
    demo_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->curl = curl_easy_init();
    h->base = strdup(base);
    if (h->curl == NULL || h->base == NULL) {
        demo_http_free(h);
        return NULL;
    }
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *region = getenv("AWS_REGION");
    if (region == NULL || *region == '\0')
        region = getenv("AWS_DEFAULT_REGION");
    if (ak != NULL && sk != NULL && *ak != '\0' && *sk != '\0') {
        snprintf(h->userpwd, sizeof(h->userpwd), "%s:%s", ak, sk);
        snprintf(h->sigv4, sizeof(h->sigv4), "aws:amz:%s:s3",
                 region && *region ? region : "us-east-1");
    }
    h->ca = getenv("AWS_CA_BUNDLE");
    return h;
}

void demo_http_free(demo_http_t *h)
{
    if (h == NULL)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->base);
    free(h);
}

/* libcurl's message, the system's reason for a failed connect (libcurl
 * says only "Couldn't connect to server"; errno says "Connection
 * refused"), and the request. */
static void describe_failure(demo_http_t *h, CURLcode rc, const char *method, const char *url)
{
    long os_errno = 0;
    curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
    snprintf(h->error, sizeof(h->error), "%s%s%s (%s %s)",
             h->curl_err[0] ? h->curl_err : curl_easy_strerror(rc), os_errno ? ": " : "",
             os_errno ? strerror((int)os_errno) : "", method, url);
}

/* The x-amz-content-sha256 header of a body: libcurl 7.88 signs with it
 * but does not send it, and the proxy (as S3) requires it. */
static struct curl_slist *add_payload_hash(struct curl_slist *hdrs, const char *body)
{
    unsigned char md[32];
    unsigned int n = 0;
    char line[96] = "x-amz-content-sha256: ";
    EVP_Digest(body ? body : "", body ? strlen(body) : 0, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(line + 22 + 2 * i, 3, "%02x", md[i]);
    return curl_slist_append(hdrs, line);
}

static int perform(demo_http_t *h, const char *method, const char *path, const char *body,
                   struct curl_slist *hdrs, char **out)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", h->base, path);
    sink_t s = {NULL, 0};
    CURL *c = h->curl;
    curl_easy_reset(c);
    h->curl_err[0] = h->error[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->curl_err);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    struct curl_slist *own = NULL; /* the list made here, when the caller gave none */
    if (h->userpwd[0] != '\0') {
        if (hdrs == NULL)
            own = hdrs = add_payload_hash(NULL, body);
        else
            add_payload_hash(hdrs, body); /* appended to the caller's list */
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, h->sigv4);
        curl_easy_setopt(c, CURLOPT_USERPWD, h->userpwd);
    }
    if (h->ca != NULL && *h->ca != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca);
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    long status = -1;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        describe_failure(h, rc, method, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(own);
    if (out) {
        *out = s.buf ? s.buf : strdup("");
    } else {
        free(s.buf);
    }
    return (int)status;
}

int demo_http_get(demo_http_t *h, const char *bucket, const char *key, char **body)
{
    char path[512];
    snprintf(path, sizeof(path), "/%s/%s", bucket, key);
    return perform(h, "GET", path, NULL, NULL, body);
}

int demo_http_put(demo_http_t *h, const char *bucket, const char *key, const char *body,
                  const char *lock, uint64_t token, char **err)
{
    char path[512], l[600], t[64];
    snprintf(path, sizeof(path), "/%s/%s", bucket, key);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: text/plain");
    /* Small bodies: no 100-continue round trip. Not by removing the header
     * ("Expect:") when signing: libcurl 7.88 signs a removed header as if
     * it were sent, and the proxy refuses a signed header that is absent;
     * instead libcurl does not wait for the interim answer. */
    if (h->userpwd[0] == '\0')
        hdrs = curl_slist_append(hdrs, "Expect:");
    if (lock) {
        snprintf(l, sizeof(l), "X-Fencing-Lock: %s", lock);
        snprintf(t, sizeof(t), "X-Fencing-Token: %" PRIu64, token);
        hdrs = curl_slist_append(hdrs, l);
        hdrs = curl_slist_append(hdrs, t);
    }
    char *resp = NULL;
    int st = perform(h, "PUT", path, body, hdrs, &resp);
    curl_slist_free_all(hdrs);
    if (err && (st < 200 || st > 299))
        *err = resp;
    else
        free(resp);
    return st;
}

const char *demo_http_error(const demo_http_t *h)
{
    return h->error;
}

int demo_http_create_bucket(demo_http_t *h, const char *bucket)
{
    char path[512];
    snprintf(path, sizeof(path), "/%s", bucket);
    return perform(h, "PUT", path, "", NULL, NULL);
}

/* The Jepsen-style suite's HTTP client (http.h). */
#include "http.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jp_http {
    CURL *curl;
    char *base;
    long timeout_ms;
    char userpwd[512]; /* "AK:SECRET" from the environment; empty: unsigned */
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    jp_body_t *b = arg;
    size_t add = size * n;
    char *nb = realloc(b->data, b->len + add + 1);
    if (nb == NULL)
        return 0; /* curl reports a write error: a transport error for the caller */
    memcpy(nb + b->len, p, add);
    b->data = nb;
    b->len += add;
    b->data[b->len] = '\0';
    return add;
}

jp_http_t *jp_http_new(const char *base, int timeout_ms)
{
    jp_http_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    h->curl = curl_easy_init();
    h->base = strdup(base);
    h->timeout_ms = timeout_ms;
    if (h->curl == NULL || h->base == NULL) {
        jp_http_free(h);
        return NULL;
    }
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (ak != NULL && sk != NULL && *ak != '\0' && *sk != '\0')
        snprintf(h->userpwd, sizeof(h->userpwd), "%s:%s", ak, sk);
    return h;
}

void jp_http_free(jp_http_t *h)
{
    if (h == NULL)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->base);
    free(h);
}

int jp_http_request(jp_http_t *h, const char *method, const char *path, const char *body,
                    size_t body_len, const char *lock, uint64_t token, jp_body_t *out, char *err,
                    size_t errlen)
{
    char url[2048], l[1100], t[64];
    snprintf(url, sizeof(url), "%s%s", h->base, path);
    jp_body_t sink = {NULL, 0};
    /* Signed: libcurl 7.88 does not send x-amz-content-sha256, which the
     * proxy (as S3) requires: UNSIGNED-PAYLOAD. The 100-continue round trip
     * is not avoided with an empty "Expect:" (libcurl 7.88 would sign the
     * removed header as if sent, and the proxy refuse it), but by telling
     * libcurl not to wait for the interim answer (below). */
    struct curl_slist *hdrs =
        h->userpwd[0] ? curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD") : NULL;
    if (lock) {
        snprintf(l, sizeof(l), "X-Fencing-Lock: %s", lock);
        snprintf(t, sizeof(t), "X-Fencing-Token: %" PRIu64, token);
        hdrs = curl_slist_append(hdrs, l);
        hdrs = curl_slist_append(hdrs, t);
    }
    CURL *c = h->curl;
    curl_easy_reset(c); /* keeps the connection cache: keep-alive across requests */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms < 2000 ? h->timeout_ms : 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L); /* no 100-continue round trip */
    if (h->userpwd[0]) {
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
        curl_easy_setopt(c, CURLOPT_USERPWD, h->userpwd);
    }
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    long status = -1;
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else if (err)
        snprintf(err, errlen, "%s", curl_easy_strerror(cc));
    curl_slist_free_all(hdrs);
    if (out) {
        *out = sink;
        if (out->data == NULL)
            out->data = calloc(1, 1);
    } else {
        free(sink.data);
    }
    return (int)status;
}

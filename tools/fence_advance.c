/* Fence-advance over HTTP with libcurl; see fence_advance.h. */
#include "fence_advance.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The answer's body, kept up to a bound (an S3 error is small). */
typedef struct answer {
    char text[4096];
    size_t len;
} answer_t;

static size_t keep(char *data, size_t size, size_t n, void *arg)
{
    answer_t *a = arg;
    size_t bytes = size * n;
    size_t room = sizeof(a->text) - 1 - a->len;
    size_t take = bytes < room ? bytes : room;
    memcpy(a->text + a->len, data, take);
    a->len += take;
    a->text[a->len] = '\0';
    return bytes;
}

/* The text of <tag>...</tag> in the answer, or "?". */
static const char *xml_field(const answer_t *a, const char *tag, char *out, size_t cap)
{
    char open[64];
    snprintf(open, sizeof(open), "<%s>", tag);
    const char *s = strstr(a->text, open);
    const char *e = s ? strchr(s + strlen(open), '<') : NULL;
    if (s == NULL || e == NULL || cap == 0) {
        snprintf(out, cap, "?");
        return out;
    }
    s += strlen(open);
    size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

int zkfence_fence_advance_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

/* SigV4 with libcurl's own signer when credentials are in the
 * environment, as the AWS tools take them; an HTTPS proxy's CA from
 * AWS_CA_BUNDLE, as the aws cli takes it. Returns the header list. */
static struct curl_slist *sign(CURL *h, struct curl_slist *hdrs, char *provider, size_t cap)
{
    const char *ca = env("AWS_CA_BUNDLE");
    if (ca != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    const char *key = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");
    if (key == NULL || secret == NULL)
        return hdrs;
    /* The SHA-256 of the empty body: libcurl 7.88 signs with it but does
     * not send the header, which the proxy (as S3) requires. */
    hdrs =
        curl_slist_append(hdrs, "x-amz-content-sha256: "
                                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *region = env("AWS_REGION");
    if (region == NULL)
        region = env("AWS_DEFAULT_REGION");
    snprintf(provider, cap, "aws:amz:%s:s3", region ? region : "us-east-1");
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, provider);
    curl_easy_setopt(h, CURLOPT_USERNAME, key);
    curl_easy_setopt(h, CURLOPT_PASSWORD, secret);
    const char *session = env("AWS_SESSION_TOKEN");
    if (session != NULL) {
        char line[4096];
        snprintf(line, sizeof(line), "x-amz-security-token: %s", session);
        hdrs = curl_slist_append(hdrs, line);
    }
    return hdrs;
}

/* The message for an answer other than 200. */
static void explain(long status, const answer_t *a, uint64_t token, char *msg, size_t msglen)
{
    char code[64], mark[32], detail[512];
    xml_field(a, "Code", code, sizeof(code));
    if (status == 412 && strcmp(code, "StaleFencingToken") == 0)
        snprintf(msg, msglen,
                 "refused by the proxy (412 StaleFencingToken): token %" PRIu64
                 " is below the lock's mark %s, a newer holder has fenced this one",
                 token, xml_field(a, "HighWaterMark", mark, sizeof(mark)));
    else if (status == 403 && env("AWS_ACCESS_KEY_ID") == NULL)
        snprintf(msg, msglen,
                 "refused by the proxy (403 %s): the request was not signed; set "
                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to a key of the proxy's "
                 "credentials file",
                 code);
    else if (status == 403 || status == 400)
        snprintf(msg, msglen,
                 "refused by the proxy (%ld %s: %s): fence-advance needs a key with write rights "
                 "on a bucket, or admin rights",
                 status, code, xml_field(a, "Message", detail, sizeof(detail)));
    else if (status == 503)
        snprintf(msg, msglen, "the proxy cannot raise marks now (503 %s: its mark store is down)",
                 code);
    else
        snprintf(msg, msglen, "the proxy answered HTTP %ld (%s)", status, code);
}

int zkfence_fence_advance(const char *base_url, const char *lock, uint64_t token, int timeout_ms,
                          char *msg, size_t msglen)
{
    char url[2048], h_lock[1100], h_token[64], provider[128], err[CURL_ERROR_SIZE] = "";
    size_t blen = strlen(base_url);
    while (blen > 0 && base_url[blen - 1] == '/')
        blen--;
    snprintf(url, sizeof(url), "%.*s/_zkfence/fence-advance", (int)blen, base_url);
    snprintf(h_lock, sizeof(h_lock), "X-Fencing-Lock: %s", lock);
    snprintf(h_token, sizeof(h_token), "X-Fencing-Token: %" PRIu64, token);
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(msg, msglen, "cannot start an HTTP request (libcurl)");
        return -1;
    }
    struct curl_slist *hdrs = curl_slist_append(curl_slist_append(NULL, h_lock), h_token);
    hdrs = sign(h, hdrs, provider, sizeof(provider));
    answer_t a = {.len = 0};
    a.text[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* other threads run (ZooKeeper's) */
    CURLcode rc = curl_easy_perform(h);
    long status = 0, os_errno = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        /* The system's word for it ("Connection refused") when there is one:
         * libcurl's own text does not always carry it. */
        snprintf(msg, msglen, "cannot reach the proxy at %s: %s%s%s", url,
                 err[0] ? err : curl_easy_strerror(rc), os_errno ? ": " : "",
                 os_errno ? strerror((int)os_errno) : "");
        return -1;
    }
    if (status == 200)
        return 0;
    explain(status, &a, token, msg, msglen);
    return -1;
}

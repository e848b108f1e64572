/* A minimal zkfence worker: take the lock, advance the fence at the proxy,
 * read the object and write it back with a line appended (a
 * read-modify-write), every request carrying the fencing token, release.
 * The README's linking example.
 *
 *   cc worker.c $(pkg-config --cflags --libs zkfence libcurl) -o worker
 *   cc worker.c $(pkg-config --cflags --libs zkfence-static libcurl) -o worker  # static
 *   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
 *   ./worker ZK_HOSTS /locks/report http://127.0.0.1:9000/bucket/report.txt
 *
 * Why both the advance and the token on the read: a holder paused past its
 * session could otherwise write between our read and our write, be
 * acknowledged, and be overwritten by our write (proxy/README.md,
 * "Read-modify-write: the rule"). Either one closes that window; the
 * advance does it before we read anything. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zkfence/zkfence.h>

typedef struct text {
    char *data;
    size_t len;
} text_t;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    text_t *t = arg;
    if (t == NULL)
        return size * n; /* not wanted */
    char *d = realloc(t->data, t->len + size * n + 1);
    if (d == NULL)
        return 0;
    memcpy(d + t->len, p, size * n);
    t->data = d;
    t->len += size * n;
    t->data[t->len] = '\0';
    return size * n;
}

/* One request fenced by the lock and token; its body goes to *got (NULL:
 * dropped).
 * Returns the HTTP status, or -1 if no answer came. */
static long fenced(const char *method, const char *url, const char *lock, uint64_t token,
                   const char *body, text_t *got)
{
    char h_lock[512], h_token[64], userpwd[512];
    snprintf(h_lock, sizeof(h_lock), "X-Fencing-Lock: %s", lock);
    snprintf(h_token, sizeof(h_token), "X-Fencing-Token: %" ZKF_TOKEN_FMT, token);
    struct curl_slist *hdrs = curl_slist_append(curl_slist_append(NULL, h_lock), h_token);
    /* libcurl 7.88 signs but does not send x-amz-content-sha256, which S3
     * requires. UNSIGNED-PAYLOAD: the body is not covered by the signature
     * (as SDKs do over HTTPS); send its SHA-256 instead to have it checked. */
    hdrs = curl_slist_append(hdrs, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    CURL *curl = curl_easy_init();
    long status = -1;
    if (ak != NULL && sk != NULL) {
        snprintf(userpwd, sizeof(userpwd), "%s:%s", ak, sk);
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
        curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, got);
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(hdrs);
    return status;
}

/* The critical section: fence-advance, fenced GET, fenced PUT of what was
 * read plus one line. Returns the PUT's status (or the first failure). */
static long append_line(const char *url, const char *lock, uint64_t token)
{
    /* The proxy's base URL: scheme://host:port, what precedes the path. */
    char advance[1024];
    const char *path = strchr(strstr(url, "://") ? strstr(url, "://") + 3 : url, '/');
    snprintf(advance, sizeof(advance), "%.*s/_zkfence/fence-advance",
             (int)(path ? path - url : (long)strlen(url)), url);
    text_t old = {NULL, 0};
    long status = fenced("POST", advance, lock, token, "", NULL);
    if (status != 200)
        return status; /* 412: a newer holder exists already */
    status = fenced("GET", url, lock, token, NULL, &old);
    if (status == 200 || status == 404) { /* 404: nothing written yet */
        const char *line = "written under the lock\n";
        size_t n = (status == 200 ? old.len : 0) + strlen(line) + 1;
        char *body = malloc(n);
        if (body == NULL)
            status = -1;
        else {
            snprintf(body, n, "%s%s", status == 200 ? old.data : "", line);
            status = fenced("PUT", url, lock, token, body, NULL);
            free(body);
        }
    }
    free(old.data);
    return status;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: worker ZK_HOSTS LOCK_PATH PROXY_URL/bucket/key\n");
        return 64;
    }
    zkf_client_options_t opts;
    zkf_client_options_init(&opts);
    opts.hosts = argv[1];
    zkf_client_t *client;
    zkf_lock_t *lock = NULL;
    uint64_t token;
    int rc = zkf_client_connect(&opts, &client);
    if (rc != 0) {
        fprintf(stderr, "connect: %s\n", zkf_strerror(rc));
        return 69;
    }
    long status = 0;
    if ((rc = zkf_lock_create(client, argv[2], NULL, &lock)) == 0 &&
        (rc = zkf_lock_acquire(lock, 30000, &token)) == 0) {
        /* The critical section: every request carries the token, so the
         * storage refuses it if a successor took over meanwhile (412). */
        status = append_line(argv[3], argv[2], token);
        printf("token %" ZKF_TOKEN_FMT ": read-modify-write of %s -> HTTP %ld\n", token, argv[3],
               status);
        rc = zkf_lock_release(lock);
    }
    if (rc != 0)
        fprintf(stderr, "lock %s: %s\n", argv[2], zkf_strerror(rc));
    zkf_lock_destroy(lock);
    zkf_client_destroy(client);
    return rc == 0 && status >= 200 && status < 300 ? 0 : 1;
}

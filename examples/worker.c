/* A minimal zkfence worker: take the lock, write through zkfence-proxy with
 * the fencing token, release. The README's linking example.
 *
 *   cc worker.c $(pkg-config --cflags --libs zkfence libcurl) -o worker
 *   cc worker.c $(pkg-config --cflags --libs zkfence-static libcurl) -o worker  # static
 *   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
 *   ./worker ZK_HOSTS /locks/report http://127.0.0.1:9000/bucket/report.txt
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <zkfence/zkfence.h>

/* PUT `body` to `url`, fenced by the lock and token, signed with AWS SigV4
 * (libcurl does it) by the key in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
 * as zkfence-proxy requires. Returns the HTTP status. */
static long fenced_put(const char *url, const char *lock, uint64_t token, const char *body)
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
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(hdrs);
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
        /* The critical section: every write carries the token, so the
         * storage refuses it if a successor took over meanwhile. */
        status = fenced_put(argv[3], argv[2], token, "written under the lock\n");
        printf("token %" ZKF_TOKEN_FMT ": PUT %s -> HTTP %ld\n", token, argv[3], status);
        rc = zkf_lock_release(lock);
    }
    if (rc != 0)
        fprintf(stderr, "lock %s: %s\n", argv[2], zkf_strerror(rc));
    zkf_lock_destroy(lock);
    zkf_client_destroy(client);
    return rc == 0 && status >= 200 && status < 300 ? 0 : 1;
}

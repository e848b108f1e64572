/* A minimal worker: take the lock, do the work with the fencing token,
 * release. This is the README's linking example.
 *
 *   cc worker.c $(pkg-config --cflags --libs zkfence) -o worker
 *   ./worker 127.0.0.1:2181 /locks/seat-12
 */
#include <stdio.h>
#include <zkfence/zkfence.h>

int main(int argc, char **argv)
{
    zkf_client_options_t opts;
    zkf_client_options_init(&opts);
    opts.hosts = argc > 1 ? argv[1] : "127.0.0.1:2181";
    const char *path = argc > 2 ? argv[2] : "/locks/example";

    zkf_client_t *client;
    zkf_lock_t *lock = NULL;
    uint64_t token;
    int rc = zkf_client_connect(&opts, &client);
    if (rc != 0) {
        fprintf(stderr, "connect: %s\n", zkf_strerror(rc));
        return 69;
    }
    if ((rc = zkf_lock_create(client, path, NULL, &lock)) == 0 &&
        (rc = zkf_lock_acquire(lock, 30000, &token)) == 0) {
        /* Critical section: send `token` with every write to the resource
         * (e.g. the X-Fencing-Token header to zkfence-proxy), so the storage
         * refuses us if a successor has taken over meanwhile. */
        printf("holding %s with token %" ZKF_TOKEN_FMT "\n", path, token);
        rc = zkf_lock_release(lock);
    }
    if (rc != 0)
        fprintf(stderr, "lock %s: %s\n", path, zkf_strerror(rc));
    zkf_lock_destroy(lock);
    zkf_client_destroy(client);
    return rc == 0 ? 0 : 1;
}

/* The backend registry and the `backend` configuration key: the default is
 * the local-files backend, a known name opens it, an unknown name is
 * refused with its name in the message (at configuration time with the
 * file and line; at open time when a configuration was built by hand),
 * and a refused name creates nothing. Then a real proxy started with
 * `backend = fs` serves a write and its read, and one started with an
 * unknown name exits 64 naming it. */
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/registry.h"
#include "harness.h"
#include "util/config.h"

static void test_config_key(void)
{
    zkp_config_t c;
    char err[256];
    zkp_config_defaults(&c);
    CU_ASSERT_STRING_EQUAL(c.backend, "fs");
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "backend = fs\n", err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(c.backend, "fs");
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "threads = 4\nbackend = s4\n", err, sizeof(err)),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown backend 's4'"));
    CU_ASSERT_STRING_EQUAL(c.backend, "fs"); /* a refused value changes nothing */
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "backend =\n", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(zkp_config_parse(&c, "t.conf", "backend = FS\n", err, sizeof(err)), -1);
    zkp_config_free(&c);
}

static void test_open_by_name(void)
{
    char dir[] = "/tmp/zkp-registry.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char data[300], path[400], err[256];
    snprintf(data, sizeof(data), "%s/data", dir);
    zkp_config_t c;
    zkp_config_defaults(&c);
    free(c.data_dir);
    c.data_dir = strdup(data);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.data_dir);

    /* An unknown name (a configuration built by hand): refused, by name,
     * before anything is created. */
    snprintf(c.backend, sizeof(c.backend), "nope");
    err[0] = '\0';
    CU_ASSERT_PTR_NULL(zkp_backend_open(&c, err, sizeof(err), NULL));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'nope'"));
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(data, &st), 0);

    snprintf(c.backend, sizeof(c.backend), "fs");
    zkp_backend_t *be = zkp_backend_open(&c, err, sizeof(err), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(be);
    CU_ASSERT_STRING_EQUAL(be->ops->name, "local-files");
    CU_ASSERT_EQUAL(be->ops->bucket_create(be, "bkt"), ZKP_BE_OK);
    CU_ASSERT_EQUAL(be->ops->bucket_exists(be, "bkt"), 1);
    snprintf(path, sizeof(path), "%s/objects/bkt", data);
    CU_ASSERT_EQUAL(stat(path, &st), 0); /* the local files, where data_dir says */
    be->ops->destroy(be);
    zkp_config_free(&c);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_proxy_with_backend_fs(void)
{
    pt_proxy_t p;
    CU_ASSERT_EQUAL_FATAL(pt_proxy_start(&p, "backend = fs\nfencing = optional\n"), 0);
    pt_resp_t r;
    CU_ASSERT_EQUAL(pt_http(&p, "PUT", "/bkt", NULL, NULL, 0, &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_http(&p, "PUT", "/bkt/k", NULL, "hello", 5, &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_http(&p, "GET", "/bkt/k", NULL, NULL, 0, &r), 0);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(r.len == 5 && memcmp(r.body, "hello", 5) == 0);
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_http(&p, "GET", "/_zkfence/health", NULL, NULL, 0, &r), 0);
    CU_ASSERT(pt_body_has(&r, "\"backend\":\"local-files\""));
    pt_resp_free(&r);
    CU_ASSERT_EQUAL(pt_count_files(&p, "objects/bkt"), 1);
    CU_ASSERT_EQUAL(pt_proxy_stop(&p), 0);
    pt_proxy_cleanup(&p);
}

static void test_proxy_unknown_backend(void)
{
    char dir[] = "/tmp/zkp-registry.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char conf[300], out[300], data[300];
    snprintf(conf, sizeof(conf), "%s/proxy.conf", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    FILE *f = fopen(conf, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "listen = 127.0.0.1:0\ndata_dir = %s\nbackend = s4\n", data);
    fclose(f);
    const char *args[] = {"--config", conf, NULL};
    CU_ASSERT_EQUAL(pt_proxy_run(args, out, 20000), 64);
    CU_ASSERT_EQUAL(pt_file_count(out, "proxy.conf:3: backend: unknown backend 's4'"), 1);
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(data, &st), 0); /* nothing created */
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void add_tests(void *suite)
{
    CU_add_test(suite, "the backend key", test_config_key);
    CU_add_test(suite, "the registry opens a backend by name", test_open_by_name);
    CU_add_test(suite, "a proxy with backend = fs", test_proxy_with_backend_fs);
    CU_add_test(suite, "a proxy with an unknown backend exits 64", test_proxy_unknown_backend);
}

int main(void)
{
    return pt_run_suite("proxy_backend_registry", add_tests);
}

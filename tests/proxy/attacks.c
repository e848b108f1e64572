/* Probes shared by several suites (attacks.h). */
#include "attacks.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The object at path is `body` (NULL: there is none). */
static void object_is(const pt_proxy_t *p, const char *path, const char *body)
{
    long st;
    char *got = pt_get_body(p, path, &st);
    if (body == NULL) {
        CU_ASSERT_EQUAL(st, 404);
    } else {
        CU_ASSERT_EQUAL(st, 200);
        CU_ASSERT_STRING_EQUAL(got, body);
    }
    free(got);
}

/* One refused request: status, code, and nothing moved. */
static void refused(const pt_proxy_t *p, const char *method, const char *path, const char *hdr[],
                    long status, const char *code, const char *lock, long long mark,
                    const char *body, int files)
{
    pt_resp_t r;
    int put = strcmp(method, "PUT") == 0;
    pt_http(p, method, path, hdr, put ? "evil" : NULL, put ? 4 : 0, &r);
    if (r.status != status || !pt_error_is(&r, code))
        fprintf(stderr, "%s %s [%s]: %ld %.*s\n", method, path, hdr[0], r.status, (int)r.len,
                r.body ? r.body : "");
    CU_ASSERT_EQUAL(r.status, status);
    CU_ASSERT(pt_error_is(&r, code));
    pt_resp_free(&r);
    object_is(p, path, body);
    CU_ASSERT_EQUAL(pt_mark(p, lock), mark);
    CU_ASSERT_EQUAL(pt_count_files(p, "objects"), files);
}

void pt_attack_lock_switch(const pt_proxy_t *p, const char *path, const char *lock, long long mark,
                           const char *body)
{
    char slash_after[1100], slash_before[1100];
    snprintf(slash_after, sizeof(slash_after), "%s/", lock);
    snprintf(slash_before, sizeof(slash_before), "/%s", lock);
    const struct {
        const char *lock;
        long status;
        const char *code;
    } probes[] = {
        {"/locks/zzz-new", 403, "FencingLockMismatch"},
        {slash_after, 400, "InvalidFencingLock"},
        {slash_before, 400, "InvalidFencingLock"},
    };
    int files = pt_count_files(p, "objects");
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        for (int meta = 0; meta < 2; meta++) {
            char l[1200];
            snprintf(l, sizeof(l), "%s: %s", meta ? "x-amz-meta-fencing-lock" : "X-Fencing-Lock",
                     probes[i].lock);
            const char *t = meta ? "x-amz-meta-fencing-token: 1" : "X-Fencing-Token: 1";
            const char *hdr[] = {l, t, NULL};
            for (int del = 0; del < 2; del++)
                refused(p, del ? "DELETE" : "PUT", path, hdr, probes[i].status, probes[i].code,
                        lock, mark, body, files);
        }
        /* The switched-to name got no mark of its own. */
        CU_ASSERT_EQUAL(pt_mark(p, probes[i].lock), -1);
    }
}

void pt_attack_forged_token(const pt_proxy_t *p, const char *path, const char *lock, long long mark,
                            const char *body, long status, const char *code)
{
    char l[1100];
    snprintf(l, sizeof(l), "X-Fencing-Lock: %s", lock);
    const char *hdr[] = {l, "X-Fencing-Token: 18446744073709551615", NULL};
    const char *alone[] = {"X-Fencing-Token: 18446744073709551615", NULL};
    int files = pt_count_files(p, "objects");
    refused(p, "PUT", path, hdr, status, code, lock, mark, body, files);
    refused(p, "PUT", path, alone, status, code, lock, mark, body, files); /* the bound lock */
    refused(p, "DELETE", path, hdr, status, code, lock, mark, body, files);
    refused(p, "GET", path, hdr, status, code, lock, mark, body, files); /* a fenced read */
}

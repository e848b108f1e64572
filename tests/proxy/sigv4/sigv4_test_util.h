/* Helpers shared by the SigV4 suites (header-only): header arrays from
 * string literals, a credentials table for the verifier, and the AWS
 * documentation's example credentials. */
#ifndef ZKP_SIGV4_TEST_UTIL_H
#define ZKP_SIGV4_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sigv4.h"

/* The example credentials of the S3 SigV4 documentation. */
#define DOC_AK "AKIAIOSFODNN7EXAMPLE"
#define DOC_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DOC_TIME ((time_t)1369353600) /* 20130524T000000Z */
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* A header from two NUL-terminated strings. */
#define H(n, v) ((zkp_sigv4_header_t){(n), strlen(n), (v), strlen(v)})

/* The lookup callback: a table of (key, secret) pairs ended by {NULL}. */
typedef struct st_cred {
    const char *ak;
    const char *secret;
} st_cred_t;

static inline int st_lookup(void *arg, const char *ak, char *secret, size_t cap)
{
    for (const st_cred_t *c = arg; c->ak != NULL; c++) {
        if (strcmp(c->ak, ak) != 0)
            continue;
        size_t n = strlen(c->secret);
        if (n >= cap)
            return -1;
        memcpy(secret, c->secret, n + 1);
        return (int)n;
    }
    return -1;
}

/* A verifier for region us-east-1 (or `region`), service s3. */
static inline zkp_sigv4_verifier_t *st_verifier(const st_cred_t *creds, const char *region)
{
    zkp_sigv4_config_t c;
    zkp_sigv4_config_init(&c);
    c.region = region ? region : "us-east-1";
    c.lookup = st_lookup;
    c.lookup_arg = (void *)creds;
    zkp_sigv4_verifier_t *v = NULL;
    if (zkp_sigv4_verifier_new(&c, &v) != 0) {
        fprintf(stderr, "zkp_sigv4_verifier_new failed\n");
        exit(2);
    }
    return v;
}

/* Hex SHA-256 of s[0..n) into out (65 bytes). */
static inline void st_sha256_hex(const void *s, size_t n, char *out)
{
    unsigned char h[32];
    unsigned int len = 0;
    EVP_Digest(s, n, h, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* Verifies and reports the code on a mismatch with what was expected. */
static inline int st_verify(zkp_sigv4_verifier_t *v, const char *method, const char *target,
                            const zkp_sigv4_header_t *h, size_t nh, time_t now,
                            zkp_sigv4_auth_t *auth)
{
    zkp_sigv4_request_t r = {method, target, strlen(target), h, nh, now};
    return zkp_sigv4_verify(v, &r, auth);
}

#define ST_EXPECT(got, want, auth)                                                                 \
    do {                                                                                           \
        int st_got_ = (got);                                                                       \
        if (st_got_ != (want))                                                                     \
            fprintf(stderr, "%s:%d: got %s, want %s (%s)\n", __FILE__, __LINE__,                   \
                    zkp_sigv4_err_name(st_got_), zkp_sigv4_err_name(want), (auth)->detail);        \
        CU_ASSERT_EQUAL(st_got_, (want));                                                          \
    } while (0)

static inline int st_run_suite(void)
{
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

#endif

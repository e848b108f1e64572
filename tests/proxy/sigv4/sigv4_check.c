/* sigv4_check: runs zkp_sigv4_verify() over raw HTTP requests, for the
 * cross-checks against independent signers (crosscheck.py: botocore, curl).
 *
 *   sigv4_check REGION ACCESS_KEY SECRET [ACCESS_KEY SECRET ...] < records
 *
 * Each record on standard input is a line "REQ <now> <body bytes>\n", then
 * the request head exactly as sent (request line and header lines, each
 * ending in CRLF, then an empty line), then the body. For each record one
 * line is written to standard output:
 *   <ZKP_SIGV4_... name> <S3 code> <payload kind> <detail>
 * After the signature, a body is checked as the verdict says: a hex
 * x-amz-content-sha256 against the body's SHA-256 (EPAYLOAD on mismatch).
 * With SIGV4_CHECK_DEBUG set, a SignatureDoesNotMatch also prints this
 * side's canonical request and string to sign to standard error.
 * Exits 0 after the last record, 2 on malformed input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4_test_util.h" /* the credentials table and its lookup */

#define MAX_HEADERS 128

/* Reads the head (up to and including the empty line) into a malloc'd
 * buffer. */
static char *read_head(size_t *len)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    int c;
    while (b != NULL && (c = getchar()) != EOF) {
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap *= 2);
            if (nb == NULL) {
                free(b);
                return NULL;
            }
            b = nb;
        }
        b[n++] = (char)c;
        if (n >= 4 && memcmp(b + n - 4, "\r\n\r\n", 4) == 0) {
            b[n] = '\0';
            *len = n;
            return b;
        }
    }
    free(b);
    return NULL;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits the head into method, target and headers (values trimmed of
 * surrounding spaces, as an HTTP server presents them). */
static int parse_head(char *head, size_t len, char **method, char **target, zkp_sigv4_header_t *h,
                      size_t *nh)
{
    char *end = head + len;
    char *eol = strstr(head, "\r\n");
    char *sp1 = memchr(head, ' ', (size_t)(eol - head));
    char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL)
        return -1;
    *sp1 = *sp2 = '\0';
    *method = head;
    *target = sp1 + 1;
    *nh = 0;
    for (char *line = eol + 2; line < end;) {
        char *e = strstr(line, "\r\n");
        if (e == NULL || e == line)
            break;
        char *colon = memchr(line, ':', (size_t)(e - line));
        if (colon == NULL || *nh == MAX_HEADERS)
            return -1;
        char *v = colon + 1, *ve = e;
        while (v < ve && is_ows(*v))
            v++;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        h[*nh] = (zkp_sigv4_header_t){line, (size_t)(colon - line), v, (size_t)(ve - v)};
        (*nh)++;
        line = e + 2;
    }
    return 0;
}

static const char *kind_name(zkp_sigv4_payload_t k)
{
    static const char *const names[] = {"UNSIGNED", "SHA256", "STREAMING", "STREAMING_TRAILER",
                                        "UNSIGNED_TRAILER"};
    return (unsigned)k < 5 ? names[k] : "?";
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc % 2 != 0) {
        fprintf(stderr, "usage: sigv4_check REGION AK SECRET [AK SECRET ...] < records\n");
        return 2;
    }
    size_t ncred = (size_t)(argc - 2) / 2;
    st_cred_t *creds = calloc(ncred + 1, sizeof(*creds));
    if (creds == NULL)
        return 2;
    for (size_t i = 0; i < ncred; i++)
        creds[i] = (st_cred_t){argv[2 + 2 * i], argv[3 + 2 * i]};
    zkp_sigv4_config_t c;
    zkp_sigv4_config_init(&c);
    c.region = argv[1];
    c.lookup = st_lookup;
    c.lookup_arg = creds;
    zkp_sigv4_verifier_t *v = NULL;
    if (zkp_sigv4_verifier_new(&c, &v) != 0) {
        fprintf(stderr, "sigv4_check: bad region\n");
        return 2;
    }
    int status = 0;
    long long now;
    size_t body_len;
    while (scanf("REQ %lld %zu", &now, &body_len) == 2) {
        if (getchar() != '\n') {
            status = 2;
            break;
        }
        size_t hlen = 0;
        char *head = read_head(&hlen);
        char *body = malloc(body_len + 1);
        if (head == NULL || body == NULL || fread(body, 1, body_len, stdin) != body_len) {
            free(head);
            free(body);
            status = 2;
            break;
        }
        char *method, *target;
        zkp_sigv4_header_t h[MAX_HEADERS];
        size_t nh;
        if (parse_head(head, hlen, &method, &target, h, &nh) != 0) {
            free(head);
            free(body);
            status = 2;
            break;
        }
        zkp_sigv4_request_t r = {method, target, strlen(target), h, nh, (time_t)now};
        zkp_sigv4_auth_t a;
        int rc = zkp_sigv4_verify(v, &r, &a);
        if (rc == 0 && a.payload == ZKP_SIGV4_PAYLOAD_SHA256) {
            zkp_sigv4_body_t b;
            rc = zkp_sigv4_body_init(&b, a.payload_sha256);
            if (rc == 0)
                rc = zkp_sigv4_body_update(&b, body, body_len);
            if (rc == 0)
                rc = zkp_sigv4_body_finish(&b);
            else
                zkp_sigv4_body_clear(&b);
        }
        if (a.canonical_request != NULL && getenv("SIGV4_CHECK_DEBUG") != NULL)
            fprintf(stderr, "-- canonical request:\n%s\n-- string to sign:\n%s\n",
                    a.canonical_request, a.string_to_sign);
        printf("%s %s %s %s\n", zkp_sigv4_err_name(rc), zkp_sigv4_error(rc).code,
               kind_name(a.payload), a.detail);
        fflush(stdout);
        zkp_sigv4_auth_clear(&a);
        free(head);
        free(body);
    }
    zkp_sigv4_verifier_free(v);
    free(creds);
    return status;
}

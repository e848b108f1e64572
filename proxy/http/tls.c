/* Loading and checking the HTTPS certificate and key (see http/tls.h). */
#include "http/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fsutil.h"

#define PEM_MAX (1u << 20)

static char *read_public(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "tls_cert %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (buf == NULL || bad || n > PEM_MAX) {
        snprintf(err, errlen, "tls_cert %s: %s", path,
                 buf == NULL ? "out of memory"
                 : bad       ? "read error"
                             : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* An encrypted key is refused rather than asked about: OpenSSL's default
 * would prompt on the terminal. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

int zkp_tls_load(const char *cert_path, const char *key_path, zkp_tls_pem_t *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t klen = 0;
    out->cert = read_public(cert_path, err, errlen);
    if (out->cert == NULL ||
        zkp_read_private_file(key_path, "tls_key", PEM_MAX, &out->key, &klen, err, errlen) != 0) {
        zkp_tls_pem_free(out);
        return -1;
    }
    out->key_len = klen;
    BIO *cb = BIO_new_mem_buf(out->cert, -1), *kb = BIO_new_mem_buf(out->key, (int)klen);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, no_password, NULL) : NULL;
    int rc = -1;
    if (x == NULL)
        snprintf(err, errlen, "tls_cert %s: no PEM certificate in it", cert_path);
    else if (k == NULL)
        snprintf(err, errlen, "tls_key %s: no unencrypted PEM private key in it", key_path);
    else if (X509_check_private_key(x, k) != 1)
        snprintf(err, errlen, "tls_key %s is not the private key of tls_cert %s", key_path,
                 cert_path);
    else
        rc = 0;
    ERR_clear_error();
    EVP_PKEY_free(k);
    X509_free(x);
    BIO_free(kb);
    BIO_free(cb);
    if (rc != 0)
        zkp_tls_pem_free(out);
    return rc;
}

void zkp_tls_pem_free(zkp_tls_pem_t *p)
{
    free(p->cert);
    if (p->key != NULL)
        explicit_bzero(p->key, p->key_len);
    free(p->key);
    memset(p, 0, sizeof(*p));
}

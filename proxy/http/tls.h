/* The TLS certificate and key of the HTTPS listener (http/tls.c), loaded
 * and checked before anything starts: libmicrohttpd takes them as PEM text
 * (its GnuTLS does the TLS), and would only say "cannot start" about a bad
 * pair. Here each problem gets its own message naming the file. */
#ifndef ZKP_TLS_H
#define ZKP_TLS_H

#include <stddef.h>

typedef struct zkp_tls_pem {
    char *cert; /* PEM, the certificate (chain), NUL-terminated */
    char *key;  /* PEM, the private key; secret: zkp_tls_pem_free() wipes it */
    size_t key_len;
} zkp_tls_pem_t;

/* Reads cert_path (a certificate chain) and key_path (its private key; the
 * file must be accessible by its owner only, like the credentials file),
 * and checks that both parse and that the key is the certificate's.
 * Returns 0, or -1 with a message in err. */
int zkp_tls_load(const char *cert_path, const char *key_path, zkp_tls_pem_t *out, char *err,
                 size_t errlen);

/* Frees (and wipes the key). Idempotent. */
void zkp_tls_pem_free(zkp_tls_pem_t *p);

#endif

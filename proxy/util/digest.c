#include "util/digest.h"

#include <pthread.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256, *md5, *sha1;

static void fetch_all(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
}

const EVP_MD *zkp_md_sha256(void)
{
    pthread_once(&once, fetch_all);
    return sha256 != NULL ? sha256 : EVP_sha256();
}

const EVP_MD *zkp_md_md5(void)
{
    pthread_once(&once, fetch_all);
    return md5 != NULL ? md5 : EVP_md5();
}

const EVP_MD *zkp_md_sha1(void)
{
    pthread_once(&once, fetch_all);
    return sha1 != NULL ? sha1 : EVP_sha1();
}

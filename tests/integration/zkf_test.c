/* Out-of-line helpers of tests/support/zkf_test.h. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <zookeeper/zookeeper.h>

#include "zkf_test.h"

char *zt_four_letter(const char *hosts, const char *word)
{
    char host[256];
    snprintf(host, sizeof(host), "%s", hosts);
    host[strcspn(host, ",/")] = '\0';
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return NULL;
    *colon = '\0';
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
        return NULL;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return NULL;
    }
    freeaddrinfo(ai);
    if (write(fd, word, strlen(word)) != (ssize_t)strlen(word)) {
        close(fd);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    close(fd);
    if (buf)
        buf[len] = '\0';
    return buf;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int connected;
} join_t;

static void join_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    join_t *j = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&j->mu);
    if (state == ZOO_CONNECTED_STATE)
        j->connected = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

int zt_expire_session(zkf_client_t *c)
{
    zhandle_t *zh = zkf_client_zhandle(c);
    if (zh == NULL)
        return -1;
    clientid_t id = *zoo_client_id(zh);
    join_t j = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    zhandle_t *other =
        zookeeper_init(zt_hosts(), join_watcher, zkf_client_session_timeout(c), &id, &j, 0);
    if (other == NULL)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 20;
    pthread_mutex_lock(&j.mu);
    while (!j.connected && pthread_cond_timedwait(&j.cv, &j.mu, &ts) == 0)
        ;
    int ok = j.connected;
    pthread_mutex_unlock(&j.mu);
    zookeeper_close(other); /* closes the shared session: the original handle sees it expire */
    return ok ? 0 : -1;
}

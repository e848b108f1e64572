/* The Jepsen-style suite's history: parsing and the checker's rules
 * (history.h). */
#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JP_LINE_MAX 1024 /* longer lines are malformed: the worker writes < 200 bytes */

void jp_history_init(jp_history_t *h, size_t max_kept)
{
    memset(h, 0, sizeof(*h));
    h->max_kept = max_kept;
}

void jp_history_free(jp_history_t *h)
{
    for (size_t i = 0; i < h->nviol_kept; i++)
        free(h->viol[i]);
    free(h->viol);
    free(h->ev);
    free(h->led);
    free(h->ops);
    memset(h, 0, sizeof(*h));
}

static int viol(jp_history_t *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int viol(jp_history_t *h, const char *fmt, ...)
{
    h->nviol++;
    if (h->nviol_kept >= h->max_kept)
        return 0;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (h->nviol_kept == 0 || (h->nviol_kept & (h->nviol_kept - 1)) == 0) {
        size_t cap = h->nviol_kept ? h->nviol_kept * 2 : 8;
        char **nv = realloc(h->viol, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        h->viol = nv;
    }
    if ((h->viol[h->nviol_kept] = strdup(buf)) == NULL)
        return -1;
    h->nviol_kept++;
    return 0;
}

/* Grows an array of `size`-byte elements to hold one more. */
static int grow(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 256;
    void *na = realloc(*arr, nc * size);
    if (na == NULL)
        return -1;
    *arr = na;
    *cap = nc;
    return 0;
}

/* Strict decimal: it starts with a digit (strtoull would take spaces and
 * a sign), and does not overflow. Advances *p past the number. */
static int parse_u64(const char **p, uint64_t *out)
{
    if (**p < '0' || **p > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(*p, &end, 10);
    if (errno == ERANGE)
        return -1;
    *p = end;
    *out = (uint64_t)v;
    return 0;
}

static int parse_bounded(const char **p, int neg_ok, int64_t max, int64_t *out)
{
    int neg = 0;
    if (neg_ok && **p == '-') {
        neg = 1;
        (*p)++;
    }
    uint64_t v;
    if (parse_u64(p, &v) != 0 || v > (uint64_t)max)
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int expect_space(const char **p)
{
    if (**p != ' ')
        return -1;
    (*p)++;
    return 0;
}

static const struct {
    const char *name;
    jp_kind_t kind;
} kinds[] = {
    {"acquired", JP_EV_ACQUIRED},
    {"read", JP_EV_READ},
    {"read_refused", JP_EV_READ_REFUSED},
    {"advance_refused", JP_EV_ADVANCE_REFUSED},
    {"invoke", JP_EV_INVOKE},
    {"ok", JP_EV_OK},
    {"refused", JP_EV_REFUSED},
    {"unknown", JP_EV_UNKNOWN},
};

/* The event name: [a-z_]{1,32}. */
static int parse_kind(const char **p, jp_kind_t *out)
{
    const char *s = *p;
    size_t n = 0;
    while ((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_')
        n++;
    if (n == 0 || n > 32)
        return -1;
    *out = JP_EV_OTHER;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strlen(kinds[i].name) == n && memcmp(kinds[i].name, s, n) == 0)
            *out = kinds[i].kind;
    *p = s + n;
    return 0;
}

/* "<us> <worker> <event> <token> <op> <status>[ detail]" */
static int parse_event(const char *s, jp_event_t *e)
{
    int64_t us, worker, status;
    if (parse_bounded(&s, 0, INT64_MAX, &us) != 0 || expect_space(&s) != 0 ||
        parse_bounded(&s, 0, 1000000000, &worker) != 0 || expect_space(&s) != 0 ||
        parse_kind(&s, &e->kind) != 0 || expect_space(&s) != 0 || parse_u64(&s, &e->token) != 0 ||
        expect_space(&s) != 0 || parse_u64(&s, &e->op) != 0 || expect_space(&s) != 0 ||
        parse_bounded(&s, 1, 1000000000, &status) != 0)
        return -1;
    if (*s != '\0' && *s != ' ')
        return -1;
    e->us = us;
    e->worker = (int)worker;
    e->status = (int)status;
    return 0;
}

/* "<worker> <op> <token>" */
static int parse_entry(const char *s, jp_entry_t *e)
{
    int64_t worker;
    if (parse_bounded(&s, 0, 1000000000, &worker) != 0 || expect_space(&s) != 0 ||
        parse_u64(&s, &e->op) != 0 || expect_space(&s) != 0 || parse_u64(&s, &e->token) != 0 ||
        *s != '\0')
        return -1;
    e->worker = (int)worker;
    return 0;
}

/* Calls fn on each line of text (without its '\n'; a last line without
 * one counts too), NUL-terminated in a bounded copy. */
typedef int (*line_fn)(jp_history_t *h, const char *name, size_t lineno, const char *line,
                       size_t len);
static int each_line(jp_history_t *h, const char *name, const char *text, size_t len, line_fn fn)
{
    size_t lineno = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        lineno++;
        if (fn(h, name, lineno, text + i, n) != 0)
            return -1;
        i += n + 1;
    }
    return 0;
}

static int copy_line(char *buf, const char *line, size_t len)
{
    if (len >= JP_LINE_MAX || memchr(line, '\0', len) != NULL)
        return -1;
    memcpy(buf, line, len);
    buf[len] = '\0';
    return 0;
}

static int log_line(jp_history_t *h, const char *name, size_t lineno, const char *line, size_t len)
{
    char buf[JP_LINE_MAX];
    jp_event_t e;
    if (copy_line(buf, line, len) != 0 || parse_event(buf, &e) != 0)
        return viol(h, "MALFORMED %s line %zu: not '<us> <worker> <event> <token> <op> <status>'",
                    name, lineno);
    if (grow((void **)&h->ev, h->nev, &h->cap_ev, sizeof(*h->ev)) != 0)
        return -1;
    h->ev[h->nev++] = e;
    return 0;
}

static int ledger_line(jp_history_t *h, const char *name, size_t lineno, const char *line,
                       size_t len)
{
    char buf[JP_LINE_MAX];
    jp_entry_t e;
    if (copy_line(buf, line, len) != 0 || parse_entry(buf, &e) != 0)
        return viol(h, "MALFORMED ledger line %zu: not '<worker> <op> <token>'", lineno);
    if (grow((void **)&h->led, h->nled, &h->cap_led, sizeof(*h->led)) != 0)
        return -1;
    h->led[h->nled++] = e;
    return 0;
}

int jp_read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    char *buf = NULL;
    size_t n = 0, size = 0;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if ((buf = malloc((size = (size_t)st.st_size) + 1)) == NULL)
        err = ENOMEM;
    while (!err && n < size) { /* a file that shrank meanwhile ends early */
        ssize_t got = read(fd, buf + n, size - n);
        if (got > 0)
            n += (size_t)got;
        else if (got == 0)
            break;
        else if (errno != EINTR)
            err = errno;
    }
    close(fd);
    if (err) {
        free(buf);
        errno = err;
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int jp_parse_log(jp_history_t *h, const char *name, const char *text, size_t len)
{
    return each_line(h, name, text, len, log_line);
}

int jp_parse_ledger(jp_history_t *h, const char *text, size_t len)
{
    return each_line(h, "ledger", text, len, ledger_line);
}

/* ---- analysis ---- */

static int cmp_op(const void *a, const void *b)
{
    const jp_op_t *x = a, *y = b;
    if (x->worker != y->worker)
        return x->worker < y->worker ? -1 : 1;
    return x->op < y->op ? -1 : x->op > y->op;
}

static jp_op_t *find_op(jp_history_t *h, int worker, uint64_t op)
{
    jp_op_t key = {.worker = worker, .op = op};
    return bsearch(&key, h->ops, h->nops, sizeof(*h->ops), cmp_op);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct acq {
    int64_t us;
    uint64_t token;
} acq_t;

static int cmp_acq(const void *a, const void *b)
{
    const acq_t *x = a, *y = b;
    return x->us < y->us ? -1 : x->us > y->us;
}

/* The last read of each worker, to pair a read with the invoke that
 * follows it in the same holding (same worker, same token). */
typedef struct last_read {
    int worker;
    uint64_t token;
    int64_t us;
} last_read_t;

typedef struct window { /* a holding's read-modify-write: read at `from`, write sent at `to` */
    uint64_t token;
    int64_t from, to;
} window_t;

static last_read_t *reader(last_read_t *r, size_t *n, int worker)
{
    for (size_t i = 0; i < *n; i++)
        if (r[i].worker == worker)
            return &r[i];
    r[*n] = (last_read_t){worker, 0, -1};
    return &r[(*n)++];
}

static const char *outcome_name(jp_outcome_t o)
{
    static const char *names[] = {"no outcome", "ok", "refused", "unknown"};
    return names[o];
}

/* Collects the invoked ops (sorted by worker and op), the read windows
 * and the acquisitions. */
static int collect(jp_history_t *h, jp_report_t *r, window_t **win, size_t *nwin, acq_t **acq,
                   size_t *nacq)
{
    size_t nops = 0, nreaders = 0;
    for (size_t i = 0; i < h->nev; i++)
        nops += h->ev[i].kind == JP_EV_INVOKE;
    h->ops = calloc(nops + 1, sizeof(*h->ops));
    *win = calloc(nops + 1, sizeof(**win));
    *acq = calloc(h->nev + 1, sizeof(**acq));
    last_read_t *rd = calloc(h->nev + 1, sizeof(*rd));
    if (!h->ops || !*win || !*acq || !rd) {
        free(rd);
        return -1;
    }
    for (size_t i = 0; i < h->nev; i++) {
        const jp_event_t *e = &h->ev[i];
        last_read_t *lr = reader(rd, &nreaders, e->worker);
        switch (e->kind) {
        case JP_EV_ACQUIRED:
            (*acq)[(*nacq)++] = (acq_t){e->us, e->token};
            break;
        case JP_EV_READ:
            r->reads++;
            lr->token = e->token;
            lr->us = e->us;
            break;
        case JP_EV_READ_REFUSED:
            r->reads_refused++;
            break;
        case JP_EV_ADVANCE_REFUSED:
            r->advances_refused++;
            break;
        case JP_EV_INVOKE:
            h->ops[h->nops++] = (jp_op_t){.worker = e->worker,
                                          .op = e->op,
                                          .token = e->token,
                                          .invoke_us = e->us,
                                          .outcome_us = -1};
            if (lr->us >= 0 && lr->token == e->token)
                (*win)[(*nwin)++] = (window_t){e->token, lr->us, e->us};
            lr->us = -1;
            break;
        default:
            break;
        }
    }
    r->workers = nreaders;
    r->acquisitions = *nacq;
    free(rd);
    qsort(h->ops, h->nops, sizeof(*h->ops), cmp_op);
    for (size_t i = 1; i < h->nops; i++)
        if (cmp_op(&h->ops[i - 1], &h->ops[i]) == 0 &&
            viol(h, "HISTORY worker %d op %" PRIu64 " invoked twice", h->ops[i].worker,
                 h->ops[i].op) != 0)
            return -1;
    return 0;
}

/* Attaches each outcome event to its op. */
static int outcomes(jp_history_t *h)
{
    for (size_t i = 0; i < h->nev; i++) {
        const jp_event_t *e = &h->ev[i];
        jp_outcome_t o = e->kind == JP_EV_OK        ? JP_OK
                         : e->kind == JP_EV_REFUSED ? JP_REFUSED
                         : e->kind == JP_EV_UNKNOWN ? JP_UNKNOWN
                                                    : JP_NONE;
        if (o == JP_NONE)
            continue;
        jp_op_t *op = find_op(h, e->worker, e->op);
        int rc = 0;
        if (op == NULL)
            rc = viol(h, "HISTORY worker %d op %" PRIu64 ": %s without an invoke", e->worker, e->op,
                      outcome_name(o));
        else if (op->outcome != JP_NONE)
            rc = viol(h, "HISTORY worker %d op %" PRIu64 ": two outcomes (%s, %s)", e->worker,
                      e->op, outcome_name(op->outcome), outcome_name(o));
        else if (op->token != e->token)
            rc = viol(h,
                      "HISTORY worker %d op %" PRIu64 ": invoked with token %" PRIu64
                      ", outcome logged with %" PRIu64,
                      e->worker, e->op, op->token, e->token);
        if (rc != 0)
            return -1;
        if (op && op->outcome == JP_NONE) {
            op->outcome = o;
            op->outcome_us = e->us;
            op->status = e->status;
        }
    }
    return 0;
}

/* The ledger against the ops: phantoms, duplicates, refused appends
 * present, tokens going down. */
static int ledger(jp_history_t *h, jp_report_t *r)
{
    r->ledger_lines = h->nled;
    for (size_t i = 0; i < h->nled; i++) {
        const jp_entry_t *e = &h->led[i];
        int rc = 0;
        if (i > 0 && e->token < h->led[i - 1].token) {
            r->order++;
            rc = viol(h,
                      "ORDER ledger line %zu (worker %d op %" PRIu64 ") has token %" PRIu64
                      ", lower than line %zu's %" PRIu64,
                      i + 1, e->worker, e->op, e->token, i, h->led[i - 1].token);
        }
        jp_op_t *op = find_op(h, e->worker, e->op);
        if (rc == 0 && (op == NULL || op->token != e->token)) {
            r->phantom++;
            rc = viol(h, "PHANTOM ledger line %zu: worker %d op %" PRIu64 " token %" PRIu64 " %s",
                      i + 1, e->worker, e->op, e->token,
                      op ? "was invoked with another token" : "was never invoked");
            op = NULL;
        }
        if (rc == 0 && op && ++op->in_ledger == 1)
            op->ledger_line = i + 1;
        if (rc == 0 && op && op->in_ledger == 2) {
            r->duplicated++;
            rc = viol(h,
                      "DUPLICATED worker %d op %" PRIu64 " token %" PRIu64
                      " is in the ledger more than once (lines %zu and %zu)",
                      e->worker, e->op, e->token, op->ledger_line, i + 1);
        }
        if (rc == 0 && op && op->outcome == JP_REFUSED && op->in_ledger == 1) {
            r->refused_present++;
            rc = viol(h,
                      "REFUSED-PRESENT worker %d op %" PRIu64 " token %" PRIu64
                      " was refused (%d) but is in the ledger (line %zu)",
                      e->worker, e->op, e->token, op->status, i + 1);
        }
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* The first write of a newer holder that is in the ledger: the one that
 * wrote over a lost append, as far as the history tells. */
static const jp_op_t *overwriter(const jp_history_t *h, const jp_op_t *lost)
{
    const jp_op_t *best = NULL;
    for (size_t i = 0; i < h->nops; i++) {
        const jp_op_t *o = &h->ops[i];
        if (o->token > lost->token && o->in_ledger && (best == NULL || o->token < best->token))
            best = o;
    }
    return best;
}

static const window_t *window_of(const window_t *win, size_t nwin, const jp_op_t *op)
{
    for (size_t i = 0; i < nwin; i++)
        if (win[i].token == op->token && win[i].to == op->invoke_us)
            return &win[i];
    return NULL;
}

static int lost(jp_history_t *h, jp_report_t *r, const window_t *win, size_t nwin, int64_t t0)
{
    for (size_t i = 0; i < h->nops; i++) {
        const jp_op_t *o = &h->ops[i];
        if (o->outcome != JP_OK || o->in_ledger)
            continue;
        r->lost++;
        const jp_op_t *w = overwriter(h, o);
        const window_t *ww = w ? window_of(win, nwin, w) : NULL;
        char ctx[200] = "";
        if (w && ww)
            snprintf(ctx, sizeof(ctx),
                     "; newer holder worker %d token %" PRIu64 " read at +%.3f s, wrote at +%.3f s",
                     w->worker, w->token, (double)(ww->from - t0) / 1e6,
                     (double)(ww->to - t0) / 1e6);
        if (viol(h,
                 "LOST worker %d op %" PRIu64 " token %" PRIu64
                 ": acknowledged (%d) at +%.3f s (sent at +%.3f s%s), not in the final ledger%s",
                 o->worker, o->op, o->token, o->status, (double)(o->outcome_us - t0) / 1e6,
                 (double)(o->invoke_us - t0) / 1e6, o->stale ? ", a stale write" : "", ctx) != 0)
            return -1;
    }
    return 0;
}

/* Stale: sent after a holder with a higher token had acquired. Raced:
 * sent inside a newer holder's read-modify-write window. */
static void staleness(jp_history_t *h, jp_report_t *r, acq_t *acq, size_t nacq, const window_t *win,
                      size_t nwin)
{
    qsort(acq, nacq, sizeof(*acq), cmp_acq);
    for (size_t i = 1; i < nacq; i++) /* running maximum */
        if (acq[i].token < acq[i - 1].token)
            acq[i].token = acq[i - 1].token;
    for (size_t i = 0; i < h->nops; i++) {
        jp_op_t *o = &h->ops[i];
        size_t lo = 0, hi = nacq; /* acquisitions strictly before the invoke: [0, lo) */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (acq[mid].us < o->invoke_us)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0 || acq[lo - 1].token <= o->token)
            continue;
        o->stale = 1;
        r->stale++;
        r->stale_ok += o->outcome == JP_OK;
        r->stale_refused += o->outcome == JP_REFUSED;
        r->stale_unknown += o->outcome == JP_UNKNOWN || o->outcome == JP_NONE;
        for (size_t k = 0; k < nwin && !o->raced; k++)
            o->raced =
                win[k].token > o->token && win[k].from < o->invoke_us && o->invoke_us < win[k].to;
        r->raced += o->raced;
    }
}

static int64_t max_gap(const jp_history_t *h, int64_t end_us)
{
    size_t n = 0;
    int64_t *t = malloc((h->nops + 1) * sizeof(*t)), gap = 0;
    if (t == NULL)
        return -1;
    for (size_t i = 0; i < h->nops; i++)
        if (h->ops[i].outcome == JP_OK)
            t[n++] = h->ops[i].outcome_us;
    qsort(t, n, sizeof(*t), cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (t[i] - t[i - 1] > gap)
            gap = t[i] - t[i - 1];
    if (n > 0 && end_us > t[n - 1] && end_us - t[n - 1] > gap)
        gap = end_us - t[n - 1];
    free(t);
    return gap;
}

int jp_analyse(jp_history_t *h, int64_t end_us, jp_report_t *r)
{
    memset(r, 0, sizeof(*r));
    window_t *win = NULL;
    acq_t *acq = NULL;
    size_t nwin = 0, nacq = 0;
    int rc = -1;
    int64_t t0 = INT64_MAX;
    for (size_t i = 0; i < h->nev; i++)
        if (h->ev[i].us < t0)
            t0 = h->ev[i].us;
    if (collect(h, r, &win, &nwin, &acq, &nacq) != 0 || outcomes(h) != 0 || ledger(h, r) != 0)
        goto out;
    staleness(h, r, acq, nacq, win, nwin);
    if (lost(h, r, win, nwin, t0) != 0)
        goto out;
    r->ops = h->nops;
    for (size_t i = 0; i < h->nops; i++) {
        const jp_op_t *o = &h->ops[i];
        r->ok += o->outcome == JP_OK;
        r->refused += o->outcome == JP_REFUSED;
        if (o->outcome == JP_UNKNOWN || o->outcome == JP_NONE) {
            r->unknown++;
            r->unknown_present += o->in_ledger > 0;
            r->unknown_absent += o->in_ledger == 0;
        }
    }
    if ((r->max_gap_us = max_gap(h, end_us)) < 0)
        goto out;
    r->violations = h->nviol;
    rc = 0;
out:
    free(win);
    free(acq);
    return rc;
}

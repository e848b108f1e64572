#include "report.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void report_fail(mode_result_t *r, const char *fmt, ...)
{
    if (r->failed)
        return; /* the first cause explains the rest */
    r->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
}

/* By time, and events of the same ms in the order they were logged (one
 * O_APPEND write per event: the file's order is the order of the writes,
 * across workers too). */
static int by_time(const void *a, const void *b)
{
    const demo_event_t *x = a, *y = b;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    return x->line < y->line ? -1 : x->line > y->line;
}

int report_load_events(const char *path, mode_result_t *r)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t cap = 256;
    r->events = malloc(cap * sizeof(*r->events));
    r->nevents = 0;
    char line[512];
    while (r->events && fgets(line, sizeof(line), f)) {
        demo_event_t e;
        long long ms;
        if (sscanf(line, "%lld %d %15s %" SCNu64 " %d %31s %d", &ms, &e.worker, e.ev, &e.token,
                   &e.seat, e.booking, &e.status) != 7)
            continue;
        e.ms = ms;
        e.line = r->nevents;
        if (r->nevents == cap) {
            demo_event_t *nb = realloc(r->events, 2 * cap * sizeof(*nb));
            if (nb == NULL)
                break;
            r->events = nb;
            cap *= 2;
        }
        r->events[r->nevents++] = e;
    }
    fclose(f);
    if (r->events == NULL)
        return -1;
    qsort(r->events, r->nevents, sizeof(*r->events), by_time);
    return 0;
}

static int lane_of(const demo_event_t *e)
{
    return e->worker >= 1 && e->worker <= REPORT_MAX_WORKERS ? e->worker : 0;
}

/* Every way the worker logs the end of a holding (worker.c). */
static int ends_holding(const char *ev)
{
    return strcmp(ev, "lost") == 0 || strncmp(ev, "release", 7) == 0;
}

static int is_write(const char *ev)
{
    return strncmp(ev, "write_", 6) == 0;
}

/* The victim's woken write and, around it, its successor's read and
 * write (the successor's holding: its worker and token): their times, the
 * victim's booking and whether it survived, and whether the stale write
 * landed between the successor's read and its write. Positions in the
 * sorted events, not times, decide the order: events of one ms keep the
 * order they were logged in. */
static void analyse_wake(mode_result_t *r)
{
    long vw = -1, sr = -1, sw = -1, resumed = -1;
    for (size_t i = 0; i < r->nevents; i++) {
        const demo_event_t *e = &r->events[i];
        long ix = (long)i;
        if (r->victim_worker && e->worker == r->victim_worker) {
            if (strcmp(e->ev, "resume") == 0 && resumed < 0)
                resumed = ix;
            else if (resumed >= 0 && vw < 0 && is_write(e->ev))
                vw = ix;
        }
        if (r->successor_token && e->worker == r->successor_worker &&
            e->token == r->successor_token) {
            if (strcmp(e->ev, "read") == 0 && sr < 0)
                sr = ix;
            else if (is_write(e->ev) && sw < 0)
                sw = ix;
        }
    }
    if (vw >= 0) {
        const demo_event_t *e = &r->events[vw];
        r->victim_write_ms = e->ms;
        snprintf(r->victim_booking, sizeof(r->victim_booking), "%s", e->booking);
        r->victim_booking_lost =
            strcmp(e->ev, "write_ok") == 0 && e->seat >= 0 &&
            (e->seat >= r->final_map.n || strcmp(r->final_map.owner[e->seat], e->booking) != 0);
    }
    if (sr >= 0)
        r->successor_read_ms = r->events[sr].ms;
    if (sw >= 0) {
        r->successor_write_ms = r->events[sw].ms;
        r->successor_write_ok = strcmp(r->events[sw].ev, "write_ok") == 0;
        r->successor_write_status = r->events[sw].status;
    }
    r->early_timing = sr >= 0 && vw > sr && sw > vw;
}

void report_analyse(mode_result_t *r)
{
    int per_seat[SEATMAP_MAX] = {0};
    int64_t held_since[REPORT_MAX_WORKERS + 1] = {0};
    double hold_total = 0;
    int holds = 0;
    int64_t pause_at = 0, resume_at = 0;
    for (size_t i = 0; i < r->nevents; i++) {
        const demo_event_t *e = &r->events[i];
        int w = lane_of(e);
        if (is_write(e->ev) && e->status >= 200 && e->status <= 299)
            r->writes_accepted++;
        if (strcmp(e->ev, "write_ok") == 0 && e->seat >= 0 && e->seat < SEATMAP_MAX) {
            r->confirmed++;
            per_seat[e->seat]++;
            if (e->seat >= r->final_map.n || strcmp(r->final_map.owner[e->seat], e->booking) != 0)
                r->acked_lost++;
        } else if (strcmp(e->ev, "write_stale") == 0) {
            r->stale_rejected++;
        } else if (strcmp(e->ev, "write_failed") == 0) {
            r->failed_writes++;
        } else if (strcmp(e->ev, "read_stale") == 0) {
            r->stale_reads++;
        } else if (strcmp(e->ev, "advanced") == 0) {
            r->advances++;
        } else if (strcmp(e->ev, "advance_stale") == 0) {
            r->stale_advances++;
        } else if (strcmp(e->ev, "acquired") == 0) {
            r->acquisitions++;
            if (w)
                held_since[w] = e->ms;
            /* The successor: the first other worker to get the lock while
             * the victim is stopped (its token is necessarily higher; the
             * check says so rather than assuming it). */
            if (pause_at && !r->successor_token && e->worker != r->victim_worker)
                r->successor_token = e->token, r->successor_worker = e->worker,
                r->successor_ms = e->ms;
        } else if (ends_holding(e->ev) && w && held_since[w]) {
            hold_total += (double)(e->ms - held_since[w]);
            holds++;
            held_since[w] = 0;
        } else if (strcmp(e->ev, "pause") == 0 && !pause_at) {
            pause_at = e->ms;
            r->victim_worker = e->worker;
            r->victim_token = e->token;
            r->victim_seat = e->seat;
        } else if (strcmp(e->ev, "resume") == 0 && e->worker == r->victim_worker && !resume_at) {
            resume_at = e->ms;
        }
        /* The victim's first write after it woke: the one the pause is about. */
        if (resume_at && is_write(e->ev) && e->worker == r->victim_worker && !r->victim_write_ok &&
            !r->victim_write_stale) {
            r->victim_write_ok = strcmp(e->ev, "write_ok") == 0;
            r->victim_write_stale = strcmp(e->ev, "write_stale") == 0;
        }
    }
    /* A replayed run has no supervisor's times: the worker's own events
     * bracket the stop as closely. */
    if (!r->pause_start_ms && pause_at) {
        r->pause_start_ms = pause_at;
        r->pause_end_ms = resume_at ? resume_at : pause_at;
    }
    for (int s = 0; s < SEATMAP_MAX; s++)
        r->double_booked += per_seat[s] >= 2;
    analyse_wake(r);
    r->victim_seat_double = r->victim_write_ok && r->victim_seat >= 0 &&
                            r->victim_seat < SEATMAP_MAX && per_seat[r->victim_seat] >= 2;
    r->oversold = r->confirmed > r->seats ? r->confirmed - r->seats : 0;
    for (int s = 0; s < r->final_map.n; s++)
        r->seats_sold += strcmp(r->final_map.owner[s], "-") != 0;
    r->hold_ms_mean = holds ? hold_total / holds : 0;
    if (r->end_ms > r->start_ms)
        r->duration_ms = r->end_ms - r->start_ms;
    else if (r->nevents)
        r->duration_ms = r->events[r->nevents - 1].ms - r->events[0].ms;
}

/* Modes 2, 4, 6 and 7: the lock with fenced reads and writes (or fenced
 * writes and fence-advance) must give exactly S bookings, none double,
 * and lose no acknowledged booking. */
static const char *exact_problem(const mode_result_t *m, char *buf, size_t len)
{
    if (m->double_booked > 0)
        snprintf(buf, len, "%d seat(s) double-booked", m->double_booked);
    else if (m->acked_lost > 0)
        snprintf(buf, len, "%d acknowledged booking(s) lost (not in the final seat map)",
                 m->acked_lost);
    else if (m->oversold > 0 || m->confirmed != m->seats)
        snprintf(buf, len, "%d bookings confirmed for %d seats", m->confirmed, m->seats);
    else if (m->seats_sold != m->seats)
        snprintf(buf, len, "%d of %d seats taken in the final seat map", m->seats_sold, m->seats);
    else
        return NULL;
    return buf;
}

/* Modes 4 to 6: a paused holder, a successor with a higher token, and in
 * the early modes the stale write inside the successor's read-modify-write. */
static const char *pause_problem(const mode_result_t *m, char *buf, size_t len)
{
    if (!m->victim_worker)
        snprintf(buf, len, "no lock holder was paused");
    else if (!m->successor_token)
        snprintf(buf, len, "no other worker took the lock during the pause");
    else if (!(m->victim_token < m->successor_token))
        snprintf(buf, len,
                 "the paused holder's token %" PRIu64 " is not below its successor's %" PRIu64,
                 m->victim_token, m->successor_token);
    else if (m->early && !m->early_timing)
        snprintf(buf, len,
                 "the paused holder's write did not land between its successor's read and its "
                 "successor's write");
    else
        return NULL;
    return buf;
}

const char *report_problem(const mode_result_t *m, char *buf, size_t len)
{
    if (m->failed) {
        snprintf(buf, len, "did not complete: %s", m->error);
        return buf;
    }
    switch (m->mode) {
    case 1:
        if (m->double_booked + m->oversold > 0)
            return NULL;
        snprintf(buf, len,
                 "no seat double-booked or oversold: the race did not show "
                 "(more workers or a longer --process-ms make it likelier)");
        return buf;
    case 2:
        return exact_problem(m, buf, len);
    case 3:
        if (!m->victim_worker)
            snprintf(buf, len, "no lock holder was paused");
        else if (!m->victim_write_ok)
            snprintf(buf, len, "the paused holder's unfenced write was not accepted");
        else if (!m->victim_seat_double)
            snprintf(buf, len, "the paused holder's write did not double-book seat %d",
                     m->victim_seat);
        else
            return NULL;
        return buf;
    case 4:
    case 6:
    case 7:
        if (exact_problem(m, buf, len) || pause_problem(m, buf, len))
            return buf;
        if (m->stale_rejected < 1 || !m->victim_write_stale)
            snprintf(buf, len, "the paused holder's write was not rejected as stale");
        else
            return NULL;
        return buf;
    case 5:
        if (pause_problem(m, buf, len))
            return buf;
        if (!m->victim_write_ok)
            snprintf(buf, len,
                     "the paused holder's write was not accepted (only writes are "
                     "fenced, and its successor had not written yet)");
        else if (!m->victim_booking_lost || m->acked_lost < 1)
            snprintf(buf, len,
                     "the paused holder's acknowledged booking %s was not lost: it is in the "
                     "final seat map",
                     m->victim_booking);
        else
            return NULL;
        return buf;
    default:
        snprintf(buf, len, "unknown mode %d", m->mode);
        return buf;
    }
}

int report_verdict(const mode_result_t *r, int n)
{
    if (n <= 0)
        return 1; /* nothing shown is not the expected outcome */
    char buf[256];
    for (int i = 0; i < n; i++)
        if (report_problem(&r[i], buf, sizeof(buf)) != NULL)
            return 1;
    return 0;
}

static const char *result_word(const mode_result_t *m)
{
    char buf[256];
    if (m->failed)
        return "FAILED";
    return report_problem(m, buf, sizeof(buf)) ? "UNEXPECTED" : "ok";
}

static const demo_event_t *victim_write(const mode_result_t *m);

/* The victim's writes after its first one on waking: how many, accepted
 * how many, and the range of their tokens. */
typedef struct later_writes {
    int n, ok;
    uint64_t lo, hi;
} later_writes_t;

static later_writes_t victim_later_writes(const mode_result_t *m)
{
    later_writes_t lw = {0, 0, 0, 0};
    int first_seen = 0;
    int64_t woke = m->pause_end_ms ? m->pause_end_ms : m->pause_start_ms;
    for (size_t i = 0; i < m->nevents; i++) {
        const demo_event_t *e = &m->events[i];
        if (e->worker != m->victim_worker || !is_write(e->ev) || e->ms < woke)
            continue;
        if (!first_seen) {
            first_seen = 1; /* the stale one */
            continue;
        }
        lw.ok += strcmp(e->ev, "write_ok") == 0;
        if (lw.n++ == 0 || e->token < lw.lo)
            lw.lo = e->token;
        if (e->token > lw.hi)
            lw.hi = e->token;
    }
    return lw;
}

static const char *plural(int n)
{
    return n == 1 ? "" : "s";
}

const char *report_story(const mode_result_t *m, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!m->paused || !m->victim_worker || len == 0)
        return buf;
    size_t k = 0;
#define SAY(...)                                                                                   \
    do {                                                                                           \
        if (k < len)                                                                               \
            k += (size_t)snprintf(buf + k, len - k, __VA_ARGS__);                                  \
    } while (0)
    int v = m->victim_worker, s = m->successor_worker;
    double paused_s = (double)(m->pause_end_ms - m->pause_start_ms) / 1000.0;
    SAY("Worker %d held the lock with token %" PRIu64 " and had read the seat map when it was "
        "stopped (SIGSTOP, as a long garbage-collection pause would) for %.1f s, just before "
        "writing it back.",
        v, m->victim_token, paused_s);
    if (m->successor_token && !m->early)
        SAY(" ZooKeeper expired its session meanwhile: %.1f s into the pause worker %d got the "
            "lock with token %" PRIu64 ", and the others booked seats after it.",
            (double)(m->successor_ms - m->pause_start_ms) / 1000.0, s, m->successor_token);
    if (m->successor_token && m->early) {
        SAY(" ZooKeeper expired its session meanwhile: %.1f s into the pause worker %d got the "
            "lock with token %" PRIu64 " and read the seat map, ",
            (double)(m->successor_ms - m->pause_start_ms) / 1000.0, s, m->successor_token);
        if (m->fenced_reads)
            SAY("with its token: a fenced read, so the proxy first made %" PRIu64 " the lock's "
                "mark.",
                m->successor_token);
        else if (m->fence_advance)
            SAY("without its token; but right after acquiring it had advanced the fence: the "
                "proxy had made %" PRIu64 " the lock's mark before that read.",
                m->successor_token);
        else
            SAY("without its token: the lock's mark stayed where the last write had left it, "
                "below %" PRIu64 ".",
                m->victim_token);
        SAY(" Right after that read the demo woke worker %d (an early wake), and worker %d waited "
            "for its write to be answered before writing its own.",
            v, s);
    }
    if (m->victim_write_ok && m->early) {
        SAY(" Worker %d wrote back the seat map it had read before the pause, with token "
            "%" PRIu64 ": above the mark, so the proxy accepted it (200) and booking %s was "
            "confirmed to its customer.",
            v, m->victim_token, m->victim_booking);
        if (m->successor_write_ok)
            SAY(" %lld ms later worker %d wrote the seat map it had read before that write, with "
                "token %" PRIu64 ", accepted too: booking %s was gone.",
                (long long)(m->successor_write_ms - m->victim_write_ms), s, m->successor_token,
                m->victim_booking);
        SAY(" %d acknowledged booking%s lost and %d seat%s sold twice (the table's "
            "\"acknowledged but lost\" and \"double\" columns): a fence on writes alone cannot "
            "refuse a stale write that comes before the successor's first write; a fenced read "
            "can (mode 6), and so can a fence-advance at acquisition (mode 7).",
            m->acked_lost, plural(m->acked_lost), m->double_booked, plural(m->double_booked));
    } else if (m->victim_write_ok) {
        SAY(" When worker %d woke, it still believed it held the lock and wrote back the seat map "
            "it had read before the pause. Nothing checked its token: the write was accepted and "
            "erased the bookings made while it slept: %d acknowledged booking%s lost and %d "
            "seat%s sold twice (the table's \"acknowledged but lost\" and \"double\" columns).",
            v, m->acked_lost, plural(m->acked_lost), m->double_booked, plural(m->double_booked));
    } else if (m->victim_write_stale) {
        SAY(" When worker %d woke, it wrote back the seat map it had read, with its old token "
            "%" PRIu64 ".",
            v, m->victim_token);
        if (m->early)
            SAY(" Its successor's %s had already raised the lock's mark to %" PRIu64 ",",
                m->fence_advance ? "fence-advance" : "fenced read", m->successor_token);
        else
            SAY(" The proxy had already accepted token %" PRIu64 " for this lock,",
                m->successor_token);
        SAY(" so it refused the write with 412 StaleFencingToken and stored nothing (its customer "
            "was told the booking failed)");
        if (m->early && m->successor_write_ok)
            SAY("; worker %d then wrote its seat map, accepted", s);
        SAY(": %d acknowledged booking%s lost, %d seat%s sold twice.", m->acked_lost,
            plural(m->acked_lost), m->double_booked, plural(m->double_booked));
    } else {
        SAY(" When worker %d woke, its write %s.", v,
            victim_write(m) ? "failed" : "was never made");
    }
    later_writes_t lw = victim_later_writes(m);
    if (lw.n == 1)
        SAY(" Its later write (token %" PRIu64 ") came after it queued for the lock again, and "
            "was %s.",
            lw.lo, lw.ok ? "accepted" : "refused");
    else if (lw.n > 1)
        SAY(" Its %d later writes (tokens %" PRIu64 " to %" PRIu64 ") came after it queued for "
            "the lock again: %d accepted.",
            lw.n, lw.lo, lw.hi, lw.ok);
#undef SAY
    return buf;
}

/* Prints text wrapped at 78 columns. */
static void print_wrapped(FILE *f, const char *text)
{
    int col = 0;
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > 0 && col + 1 + (int)word > 78) {
            fputc('\n', f);
            col = 0;
        } else if (col > 0) {
            fputc(' ', f);
            col++;
        }
        fwrite(p, 1, word, f);
        col += (int)word;
        p += word;
        while (*p == ' ')
            p++;
    }
    if (col > 0)
        fputc('\n', f);
}

/* What the victim's woken write did, for the terminal's line. */
static const char *victim_outcome(const mode_result_t *m, char *buf, size_t len)
{
    if (m->victim_write_ok && m->victim_booking_lost)
        snprintf(buf, len, "accepted, then overwritten: booking %s acknowledged but lost",
                 m->victim_booking);
    else if (m->victim_write_ok)
        snprintf(buf, len, "accepted");
    else if (m->victim_write_stale)
        snprintf(buf, len, "refused (412 StaleFencingToken)");
    else
        snprintf(buf, len, "not made");
    return buf;
}

void report_print(FILE *f, const mode_result_t *r, int n)
{
    /* The columns: confirmed, seats, double-booked or oversold,
     * acknowledged but lost (confirmed, then overwritten: how modes 1, 3
     * and 5 go wrong), writes accepted, stale writes refused, lock
     * acquisitions, duration. Two header lines, to keep the words. */
    fprintf(f, "\n%-38s %5s %9s %6s %8s %12s %8s %7s %8s %6s  %s\n", "mode", "seats", "confirmed",
            "double", "oversold", "acknowledged", "writes", "stale", "lock", "secs", "result");
    fprintf(f, "%-38s %5s %9s %6s %8s %12s %8s %7s %8s\n", "", "", "", "booked", "", "but lost",
            "accepted", "refused", "acquires");
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        char name[48];
        snprintf(name, sizeof(name), "%d %s", m->mode, m->title);
        fprintf(f, "%-38s %5d %9d %6d %8d %12d %8d %7d %8d %6.1f  %s\n", name, m->seats,
                m->confirmed, m->double_booked, m->oversold, m->acked_lost, m->writes_accepted,
                m->stale_rejected, m->acquisitions, (double)m->duration_ms / 1000.0,
                result_word(m));
    }
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        char out[128];
        if (!m->paused || !m->victim_worker)
            continue;
        fprintf(f,
                "mode %d: paused holder's token %" PRIu64 ", successor's token %" PRIu64
                "; worker %d paused %lld ms; its write %s\n",
                m->mode, m->victim_token, m->successor_token, m->victim_worker,
                (long long)(m->pause_end_ms - m->pause_start_ms),
                victim_outcome(m, out, sizeof(out)));
        if (m->early && m->early_timing)
            fprintf(f,
                    "mode %d: early wake: worker %d read (%s), worker %d's write answered "
                    "%lld ms later, worker %d wrote %lld ms after that\n",
                    m->mode, m->successor_worker,
                    m->fenced_reads    ? "fenced"
                    : m->fence_advance ? "not fenced, after its fence-advance"
                                       : "not fenced",
                    m->victim_worker, (long long)(m->victim_write_ms - m->successor_read_ms),
                    m->successor_worker, (long long)(m->successor_write_ms - m->victim_write_ms));
    }
    char buf[256];
    for (int i = 0; i < n; i++) {
        const char *p = report_problem(&r[i], buf, sizeof(buf));
        if (p)
            fprintf(f, "mode %d: UNEXPECTED: %s\n", r[i].mode, p);
    }
    char story[2048];
    for (int i = 0; i < n; i++) {
        if (*report_story(&r[i], story, sizeof(story)) == '\0')
            continue;
        fprintf(f, "\nmode %d, the paused holder:\n", r[i].mode);
        print_wrapped(f, story);
    }
    if (n == 0)
        fprintf(f, "no mode ran\n");
}

static int write_tsv(const char *path, const mode_result_t *r, int n)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "mode\tname\tstatus\texpected\tseats\tworkers\tconfirmed\tdouble_booked\toversold\t"
               "acknowledged_lost\tseats_sold\twrites_accepted\tstale_rejected\tfailed_writes\t"
               "acquisitions\tduration_ms\tvictim_worker\tvictim_token\tsuccessor_worker\t"
               "successor_token\tpause_ms\tvictim_write\tstale_reads\tvictim_booking\t"
               "victim_booking_lost\tearly_timing\tadvances\tstale_advances\n");
    char buf[256];
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        fprintf(f,
                "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%lld\t%d\t%" PRIu64
                "\t%d\t%" PRIu64 "\t%lld\t%s\t%d\t%s\t%s\t%s\t%d\t%d\n",
                m->mode, m->name, m->failed ? "failed" : "ok",
                report_problem(m, buf, sizeof(buf)) ? "no" : "yes", m->seats, m->workers,
                m->confirmed, m->double_booked, m->oversold, m->acked_lost, m->seats_sold,
                m->writes_accepted, m->stale_rejected, m->failed_writes, m->acquisitions,
                (long long)m->duration_ms, m->victim_worker, m->victim_token, m->successor_worker,
                m->successor_token, (long long)(m->pause_end_ms - m->pause_start_ms),
                m->victim_write_ok      ? "accepted"
                : m->victim_write_stale ? "stale"
                                        : "-",
                m->stale_reads, m->victim_booking[0] ? m->victim_booking : "-",
                !m->victim_booking[0]    ? "-"
                : m->victim_booking_lost ? "yes"
                                         : "no",
                !m->early         ? "-"
                : m->early_timing ? "yes"
                                  : "no",
                m->advances, m->stale_advances);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- SVG timeline ----
 *
 * One lane per worker. Within a lane, from top to bottom: a row of labels
 * above the boxes, the boxes (lock holdings) with a row of labels inside
 * them, a row of labels below. The x axis is the whole mode, from the
 * demo's start of it to its end (the table's duration), with a tick every
 * round number of seconds.
 *
 * Labels never overlap: each is placed only where the layout has room for
 * it on its row (the rows of a lane, and the lanes, are far enough apart
 * vertically), with widths computed for the monospace font the picture
 * asks for (0.61 em a character, a little more than DejaVu Sans Mono's
 * and Liberation Mono's). By priority: first the pause victim's holding and its captions,
 * then the successor's holding (those may move sideways, any distance,
 * to find room), then the other holdings in time order, each inside its
 * box if it fits, else right above or below it, else left to its tooltip
 * (tokens are long, holdings in a lane can be a few pixels apart). */

#define LANE_H 42
#define TOP 6
#define LEFT 70
#define WIDTH 900
#define RIGHT (WIDTH - 10)
#define FONT_PX 10
#define CHAR_W (0.61 * FONT_PX) /* monospace: DejaVu Sans Mono 0.602 em, Liberation 0.6 */
#define GAP 3.0
#define AXIS_H 16

enum { ROW_ABOVE, ROW_INSIDE, ROW_BELOW };
enum { HOLD_OK, HOLD_LOST, HOLD_PENDING, HOLD_FAILED, HOLD_OPEN };

typedef struct holding {
    int worker;
    int64_t t0, t1;
    uint64_t token;
    int kind;
} holding_t;

typedef struct label {
    int lane, row;
    double x0, x1; /* occupied span */
    char text[128];
    const char *cls, *fill;
} label_t;

typedef struct layout {
    label_t *v;
    size_t n, cap;
} layout_t;

static int lane_y(int lane)
{
    return TOP + (lane - 1) * LANE_H;
}

static int row_baseline(int lane, int row)
{
    int y = lane_y(lane);
    return row == ROW_ABOVE ? y + 10 : row == ROW_INSIDE ? y + 24 : y + 38;
}

static double text_w(const char *s)
{
    return CHAR_W * (double)strlen(s) + 2;
}

/* The time the picture spans: the mode as the demo ran it (its start and
 * end, whose difference is the table's duration), or for a replay, which
 * has neither, from the first event to the last; widened, should any
 * event or the pause fall outside. */
static void span_of(const mode_result_t *m, int64_t *t0, int64_t *t1)
{
    *t0 = m->events[0].ms;
    *t1 = m->events[m->nevents - 1].ms;
    if (m->end_ms > m->start_ms && m->start_ms > 0) {
        if (m->start_ms < *t0)
            *t0 = m->start_ms;
        if (m->end_ms > *t1)
            *t1 = m->end_ms;
    }
    if (m->pause_start_ms && m->pause_start_ms < *t0)
        *t0 = m->pause_start_ms;
    if (m->pause_end_ms > *t1)
        *t1 = m->pause_end_ms;
}

static double xpos(const mode_result_t *m, int64_t ms)
{
    int64_t t0, t1;
    span_of(m, &t0, &t1);
    double span = t1 > t0 ? (double)(t1 - t0) : 1.0;
    return LEFT + (double)(ms - t0) / span * (RIGHT - LEFT);
}

static int layout_free(const layout_t *l, int lane, int row, double x0, double x1)
{
    if (x0 < LEFT || x1 > RIGHT)
        return 0;
    for (size_t i = 0; i < l->n; i++) {
        const label_t *o = &l->v[i];
        if (o->lane == lane && o->row == row && x0 < o->x1 + GAP && o->x0 < x1 + GAP)
            return 0;
    }
    return 1;
}

/* Adds a label where layout_free() said there is room. 0, or -1 if out of
 * memory (the label is then left out: its tooltip still has the text). */
static int layout_add(layout_t *l, int lane, int row, double x0, const char *text, const char *cls,
                      const char *fill)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        label_t *nv = realloc(l->v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    label_t *o = &l->v[l->n++];
    o->lane = lane;
    o->row = row;
    o->x0 = x0;
    o->x1 = x0 + text_w(text);
    snprintf(o->text, sizeof(o->text), "%s", text);
    o->cls = cls;
    o->fill = fill;
    return 0;
}

/* Left edge for a label of width w that starts at x, kept on the picture. */
static double clamp_x(double x, double w)
{
    if (x + w > RIGHT)
        x = RIGHT - w;
    return x < LEFT ? LEFT : x;
}

/* Places a label on the first of `rows` (ROW_* values, -1 ends the list)
 * that has room for it at x, or, moving sideways in 2 px steps up to
 * max_shift each way, as near x as there is room. 1 if placed. */
static int place_near(layout_t *l, int lane, const int *rows, double x, double max_shift,
                      const char *text, const char *cls, const char *fill)
{
    double w = text_w(text);
    for (double d = 0; d <= max_shift; d += 2) {
        for (const int *r = rows; *r >= 0; r++) {
            double right = clamp_x(x + d, w), left = clamp_x(x - d, w);
            if (layout_free(l, lane, *r, right, right + w))
                return layout_add(l, lane, *r, right, text, cls, fill) == 0;
            if (layout_free(l, lane, *r, left, left + w))
                return layout_add(l, lane, *r, left, text, cls, fill) == 0;
        }
    }
    return 0;
}

static const int above_below[] = {ROW_ABOVE, ROW_BELOW, -1};

/* A holding's token label: inside the box if it fits clear of the write
 * dot at its end, else right above or below the box's start. forced (the
 * victim's and the successor's): moved sideways as far as it takes. */
static void place_token(layout_t *l, const mode_result_t *m, const holding_t *h, int forced)
{
    char text[32];
    snprintf(text, sizeof(text), "%" PRIu64, h->token);
    double w = text_w(text), x0 = xpos(m, h->t0), x1 = xpos(m, h->t1);
    if (x1 - x0 >= w + 12 && layout_free(l, h->worker, ROW_INSIDE, x0 + 2, x0 + 2 + w)) {
        layout_add(l, h->worker, ROW_INSIDE, x0 + 2, text, "token", "#1d3557");
        return;
    }
    place_near(l, h->worker, above_below, x0, forced ? RIGHT - LEFT : 0, text, "token", "#1d3557");
}

/* A caption on the victim's lane, ending just left of x if there is room
 * there (else starting right of it, else as near as there is room), on
 * the first of rows that has some. */
static void place_caption(layout_t *l, int lane, const int *rows, double x, const char *text,
                          const char *fill)
{
    double w = text_w(text);
    double want = x - 6 - w >= LEFT ? x - 6 - w : x + 6;
    place_near(l, lane, rows, want, RIGHT - LEFT, text, "caption", fill);
}
static size_t collect_holdings(const mode_result_t *m, holding_t **out)
{
    holding_t *h = calloc(m->nevents + 1, sizeof(*h));
    *out = h;
    if (h == NULL)
        return 0;
    size_t n = 0;
    long open[REPORT_MAX_WORKERS + 1];
    for (int w = 0; w <= REPORT_MAX_WORKERS; w++)
        open[w] = -1;
    for (size_t i = 0; i < m->nevents; i++) {
        const demo_event_t *e = &m->events[i];
        int w = lane_of(e);
        if (!w || w > m->workers)
            continue;
        if (strcmp(e->ev, "acquired") == 0) {
            h[n] = (holding_t){w, e->ms, e->ms, e->token, HOLD_OPEN};
            open[w] = (long)n++;
        } else if (ends_holding(e->ev) && open[w] >= 0) {
            holding_t *o = &h[open[w]];
            o->t1 = e->ms;
            o->kind = strcmp(e->ev, "released") == 0          ? HOLD_OK
                      : strcmp(e->ev, "lost") == 0            ? HOLD_LOST
                      : strcmp(e->ev, "release_pending") == 0 ? HOLD_PENDING
                                                              : HOLD_FAILED;
            open[w] = -1;
        }
    }
    int64_t t0, t1;
    span_of(m, &t0, &t1);
    for (size_t i = 0; i < n; i++) {
        if (h[i].kind == HOLD_OPEN) /* never released: the worker died holding */
            h[i].t1 = t1;
        /* Someone else acquired while this holder still believed it held
         * the lock: the service had given it away (its session expired),
         * even if the release later returned 0 because the library had
         * not heard yet. Drawn as lost, which it was. */
        for (size_t j = 0; j < n; j++)
            if (j != i && h[j].worker != h[i].worker && h[j].t0 > h[i].t0 && h[j].t0 < h[i].t1 &&
                (h[i].kind == HOLD_OK || h[i].kind == HOLD_PENDING))
                h[i].kind = HOLD_LOST;
    }
    return n;
}

static const char *hold_note(int kind)
{
    switch (kind) {
    case HOLD_LOST:
        return " (lost: another worker got the lock meanwhile)";
    case HOLD_PENDING:
        return " (release pending: ZooKeeper unreachable)";
    case HOLD_FAILED:
        return " (release failed)";
    case HOLD_OPEN:
        return " (never released)";
    default:
        return "";
    }
}

/* The victim's first write after it woke. */
static const demo_event_t *victim_write(const mode_result_t *m)
{
    for (size_t i = 0; i < m->nevents; i++) {
        const demo_event_t *e = &m->events[i];
        if (e->worker == m->victim_worker && is_write(e->ev) && e->ms >= m->pause_start_ms)
            return e;
    }
    return NULL;
}

/* The caption of the victim's first write after it woke: what it did, with
 * the numbers the table counts. */
static void victim_caption(const mode_result_t *m, const demo_event_t *vw, char *buf, size_t len)
{
    const char *how = m->fenced ? "stale write" : "unfenced write";
    int ok = strcmp(vw->ev, "write_ok") == 0;
    if (strcmp(vw->ev, "write_stale") == 0)
        snprintf(buf, len, "write with token %" PRIu64 " refused: 412 StaleFencingToken",
                 vw->token);
    else if (ok && (m->acked_lost || m->double_booked))
        snprintf(buf, len, "%s accepted: %d acknowledged booking%s lost, %d seat%s sold twice", how,
                 m->acked_lost, m->acked_lost == 1 ? "" : "s", m->double_booked,
                 m->double_booked == 1 ? "" : "s");
    else if (ok)
        snprintf(buf, len, "%s accepted", how);
    else
        snprintf(buf, len, "write failed: HTTP %d", vw->status);
}

/* The victim's token and captions: "stopped" in its box after the token
 * (or above the pause), and its woken write's caption below the write. */
static void place_victim(layout_t *lay, const mode_result_t *m, const holding_t *vh, int vic)
{
    place_token(lay, m, vh, 1);
    char cap[160];
    snprintf(cap, sizeof(cap), "worker %d stopped (SIGSTOP) while holding the lock", vic);
    double x = xpos(m, m->pause_start_ms) + 4, w = text_w(cap);
    const label_t *tl = lay->n ? &lay->v[lay->n - 1] : NULL; /* the victim's token label */
    if (tl && tl->lane == vic && tl->row == ROW_INSIDE && x < tl->x1 + 8)
        x = tl->x1 + 8;
    static const int above[] = {ROW_ABOVE, -1};
    if (!(x + w < xpos(m, vh->t1) - 8 && layout_free(lay, vic, ROW_INSIDE, x, x + w) &&
          layout_add(lay, vic, ROW_INSIDE, x, cap, "caption", "#333") == 0))
        place_near(lay, vic, above, x, RIGHT - LEFT, cap, "caption", "#333");
    const demo_event_t *vw = victim_write(m);
    if (vw) {
        static const int below_above[] = {ROW_BELOW, ROW_ABOVE, -1};
        victim_caption(m, vw, cap, sizeof(cap));
        place_caption(lay, vic, below_above, xpos(m, vw->ms), cap, "#d62828");
    }
}

/* The early wake on the successor's lane: its read (fenced or not: what
 * the mark became) and its write after the stale one was answered. */
static void place_successor(layout_t *lay, const mode_result_t *m, int lane)
{
    static const int below_above[] = {ROW_BELOW, ROW_ABOVE, -1};
    char cap[160];
    if (m->successor_read_ms) {
        if (m->fenced_reads)
            snprintf(cap, sizeof(cap), "fenced read: mark raised to %" PRIu64 "; worker %d woken",
                     m->successor_token, m->victim_worker);
        else if (m->fence_advance)
            snprintf(cap, sizeof(cap),
                     "read after fence-advance (mark %" PRIu64 "); worker %d woken",
                     m->successor_token, m->victim_worker);
        else
            snprintf(cap, sizeof(cap), "read, not fenced (mark unchanged); worker %d woken",
                     m->victim_worker);
        place_caption(lay, lane, above_below, xpos(m, m->successor_read_ms), cap, "#1d3557");
    }
    if (m->successor_write_ms) {
        if (m->successor_write_ok && m->victim_booking_lost)
            snprintf(cap, sizeof(cap), "writes what it read: booking %s overwritten",
                     m->victim_booking);
        else if (m->successor_write_ok)
            snprintf(cap, sizeof(cap), "writes what it read: nothing lost");
        else
            snprintf(cap, sizeof(cap), "its write refused: HTTP %d", m->successor_write_status);
        place_caption(lay, lane, below_above, xpos(m, m->successor_write_ms), cap,
                      m->victim_booking_lost ? "#d62828" : "#2a9d3a");
    }
}

/* A time axis along `bottom`, from 0 at LEFT to `span` at RIGHT, in
 * seconds or (ms) milliseconds, with grid lines up to `top` at round
 * steps, each labelled where the label has room; labels on baseline y. */
static void svg_axis_span(FILE *f, double span, int ms, int top, int bottom, int y)
{
    const char *unit = ms ? "ms" : "s";
    double px_per = span > 0 ? (RIGHT - LEFT) / span : 0;
    char start[16], end[32];
    snprintf(start, sizeof(start), "0 %s", unit);
    snprintf(end, sizeof(end), ms ? "%.0f %s" : "%.1f %s", span, unit);
    fprintf(f, "<g class='axis'><line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#999'/>\n", LEFT,
            bottom, RIGHT, bottom);
    fprintf(f, "<text x='%d' y='%d' fill='#555'>%s</text>\n", LEFT, y, start);
    fprintf(f, "<text x='%d' y='%d' fill='#555' text-anchor='end'>%s</text>\n", RIGHT, y, end);
    static const double s_steps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 0};
    static const double ms_steps[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 0};
    double step = 0;
    for (const double *st = ms ? ms_steps : s_steps; *st > 0 && px_per > 0; st++)
        if (*st * px_per >= 60) { /* room for "12.5 s" and a gap */
            step = *st;
            break;
        }
    double left_end = LEFT + text_w(start), right_start = RIGHT - text_w(end);
    for (int k = 1; step > 0 && k * step < span; k++) {
        double x = LEFT + k * step * px_per;
        char lab[32];
        snprintf(lab, sizeof(lab), step < 1 ? "%.1f %s" : "%.0f %s", k * step, unit);
        double w = text_w(lab);
        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#eee'/>\n", x, top, x,
                bottom);
        if (x - w / 2 > left_end + GAP && x + w / 2 < right_start - GAP)
            fprintf(f, "<text x='%.1f' y='%d' fill='#555' text-anchor='middle'>%s</text>\n", x, y,
                    lab);
    }
    fprintf(f, "</g>\n");
}

/* The mode's axis: 0 s at the mode's start, the mode's length at its end
 * (the table's duration), at the bottom of the lanes (h: their bottom
 * plus AXIS_H). */
static void svg_axis(FILE *f, const mode_result_t *m, int h)
{
    int64_t t0, t1;
    span_of(m, &t0, &t1);
    svg_axis_span(f, (double)(t1 - t0) / 1000.0, 0, TOP, h - AXIS_H, h - 4);
}

/* Reads that matter to the story: fenced reads refused (a red square),
 * and in the early modes a dashed line from the successor's read to the
 * end of the victim's pause: the wake it caused (the zoom below the
 * timeline shows the read itself). */
static void svg_reads(FILE *f, const mode_result_t *m, int lanes, int vic, int suc)
{
    for (size_t i = 0; i < m->nevents; i++) {
        const demo_event_t *e = &m->events[i];
        int w = lane_of(e);
        if (!w || w > lanes || strcmp(e->ev, "read_stale") != 0)
            continue;
        fprintf(f,
                "<rect class='read-rejected' x='%.1f' y='%d' width='7' height='7' fill='#d62828'>"
                "<title>fenced read refused: token %" PRIu64 ", HTTP %d</title></rect>\n",
                xpos(m, e->ms) - 3.5, lane_y(w) + 16, e->token, e->status);
    }
    if (!m->early || !suc || !vic || !m->successor_read_ms || !m->pause_end_ms)
        return;
    /* From the edge of the successor's box facing the victim's lane: the
     * box and its token label stay clear. */
    int y0 = lane_y(suc) + (suc > vic ? 13 : 27);
    fprintf(f,
            "<line class='wake' x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#1d3557' "
            "stroke-dasharray='3,3'><title>worker %d read the seat map with token %" PRIu64
            " (%s); the demo woke worker %d right after</title></line>\n",
            xpos(m, m->successor_read_ms), y0, xpos(m, m->pause_end_ms), lane_y(vic) + 20, suc,
            m->successor_token,
            m->fenced_reads    ? "a fenced read"
            : m->fence_advance ? "not fenced; its fence-advance had raised the mark"
                               : "not fenced",
            vic);
}

static void print_labels(FILE *f, const layout_t *lay, int dy)
{
    for (size_t i = 0; i < lay->n; i++) {
        const label_t *o = &lay->v[i];
        fprintf(f, "<text class='%s' x='%.1f' y='%d' fill='%s'>%s</text>\n", o->cls, o->x0,
                row_baseline(o->lane, o->row) + dy, o->fill, o->text);
    }
}

/* A label right of a marker at x if it fits there, else left of it. */
static void place_beside(layout_t *l, int lane, const int *rows, double x, const char *text,
                         const char *fill)
{
    double w = text_w(text);
    double want = x + 7 + w <= RIGHT ? x + 7 : x - 7 - w;
    place_near(l, lane, rows, want, RIGHT - LEFT, text, "caption", fill);
}

#define ZOOM_TITLE_H 18
#define ZOOM_H (ZOOM_TITLE_H + 2 * LANE_H + AXIS_H)

/* An early wake to zoom in on: the successor's read, the victim's write
 * and the successor's write were all seen. */
static int has_zoom(const mode_result_t *m)
{
    return m->early && m->victim_worker && m->successor_read_ms && m->victim_write_ms &&
           m->successor_write_ms && victim_write(m) != NULL;
}

/* The early wake, zoomed in, below the timeline (whose three events fall
 * within a few ms of each other there): the victim's lane and the
 * successor's, from the successor's read (0 ms) to a little after its
 * write. top: the panel's top edge. */
static void svg_zoom(FILE *f, const mode_result_t *m, int top)
{
    const demo_event_t *vw = victim_write(m);
    int64_t z0 = m->successor_read_ms;
    double span = (double)(m->successor_write_ms - z0);
    span = (span < 10 ? 10 : span) * 1.15; /* room after the last write */
    double per_ms = (RIGHT - LEFT) / span;
    int dy = top + ZOOM_TITLE_H - TOP; /* the panel's lane k is at lane_y(k) + dy */
    int v = m->victim_worker, s = m->successor_worker;
    fprintf(f,
            "<g class='zoom'><text x='%d' y='%d' fill='#333'>zoomed in: worker %d's read, worker "
            "%d's stale write, worker %d's write (ms after the read)</text>\n",
            LEFT, top + 12, s, v, s);
    for (int k = 1; k <= 2; k++)
        fprintf(f,
                "<text x='4' y='%d'>worker %d</text><line x1='%d' y1='%d' x2='%d' y2='%d' "
                "stroke='#ddd'/>\n",
                lane_y(k) + dy + 24, k == 1 ? v : s, LEFT, lane_y(k) + dy + LANE_H - 1, RIGHT,
                lane_y(k) + dy + LANE_H - 1);
    svg_axis_span(f, span, 1, top + ZOOM_TITLE_H, top + ZOOM_TITLE_H + 2 * LANE_H,
                  top + ZOOM_H - 4);
    double xr = LEFT, xv = LEFT + (double)(m->victim_write_ms - z0) * per_ms,
           xs = LEFT + (double)(m->successor_write_ms - z0) * per_ms;
    int yv = lane_y(1) + dy + 20, ys = lane_y(2) + dy + 20;
    int v_ok = strcmp(vw->ev, "write_ok") == 0;
    fprintf(f,
            "<line class='wake' x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#1d3557' "
            "stroke-dasharray='3,3'/>\n"
            "<path class='read' d='M %.1f %d l 5 5 l -5 5 l -5 -5 z' fill='#1d3557'/>\n"
            "<circle class='%s' cx='%.1f' cy='%d' r='4' fill='%s'/>\n"
            "<circle class='%s' cx='%.1f' cy='%d' r='4' fill='%s'/>\n",
            xr, ys, xv, yv, xr, ys - 5, v_ok ? "write-ok" : "write-rejected", xv, yv,
            v_ok ? "#2a9d3a" : "#d62828", m->successor_write_ok ? "write-ok" : "write-rejected", xs,
            ys, m->successor_write_ok ? "#2a9d3a" : "#d62828");
    layout_t lay = {0};
    char cap[160];
    static const int in_below[] = {ROW_INSIDE, ROW_BELOW, ROW_ABOVE, -1};
    static const int in_above[] = {ROW_INSIDE, ROW_ABOVE, ROW_BELOW, -1};
    snprintf(cap, sizeof(cap), "+%lld ms: write, token %" PRIu64 ": %d %s",
             (long long)(m->victim_write_ms - z0), vw->token, vw->status,
             v_ok                ? "accepted"
             : vw->status == 412 ? "StaleFencingToken"
                                 : "failed");
    place_beside(&lay, 1, in_below, xv, cap, v_ok ? "#2a9d3a" : "#d62828");
    if (m->fenced_reads)
        snprintf(cap, sizeof(cap), "0 ms: fenced read, token %" PRIu64 ": the mark is now %" PRIu64,
                 m->successor_token, m->successor_token);
    else if (m->fence_advance)
        snprintf(cap, sizeof(cap),
                 "0 ms: read, no token sent: the mark is %" PRIu64 " since its fence-advance",
                 m->successor_token);
    else
        snprintf(cap, sizeof(cap), "0 ms: read, no token sent: the mark is unchanged");
    place_beside(&lay, 2, in_above, xr, cap, "#1d3557");
    snprintf(cap, sizeof(cap), "+%lld ms: write, token %" PRIu64 ": %d%s%s%s",
             (long long)(m->successor_write_ms - z0), m->successor_token, m->successor_write_status,
             m->victim_booking_lost ? ", booking " : "",
             m->victim_booking_lost ? m->victim_booking : "",
             m->victim_booking_lost ? " gone" : "");
    place_beside(&lay, 2, in_below, xs, cap, m->victim_booking_lost ? "#d62828" : "#2a9d3a");
    print_labels(f, &lay, dy);
    free(lay.v);
    fprintf(f, "</g>\n");
}

static void svg_body(FILE *f, const mode_result_t *m, int standalone)
{
    if (m->nevents == 0)
        return;
    int lanes = m->workers < 1                    ? 1
                : m->workers > REPORT_MAX_WORKERS ? REPORT_MAX_WORKERS
                                                  : m->workers;
    int h = TOP + lanes * LANE_H + AXIS_H, zoom = has_zoom(m);
    int total = h + (zoom ? ZOOM_H : 0);
    /* The namespace is required in a standalone .svg file, and harmless in
     * the page; it is a name, not something fetched. */
    fprintf(f,
            "<svg %swidth='%d' height='%d' viewBox='0 0 %d %d' font-family='monospace' "
            "font-size='%d'>\n",
            standalone ? "xmlns='http://www.w3.org/2000/svg' " : "", WIDTH, total, WIDTH, total,
            FONT_PX);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    svg_axis(f, m, h);
    for (int w = 1; w <= lanes; w++) {
        int y = lane_y(w);
        fprintf(f,
                "<g class='lane' id='m%d-lane-%d'><text x='4' y='%d'>worker %d</text>"
                "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#ddd'/></g>\n",
                m->mode, w, y + 24, w, LEFT, y + LANE_H - 1, RIGHT, y + LANE_H - 1);
    }
    int vic = m->victim_worker >= 1 && m->victim_worker <= lanes ? m->victim_worker : 0;
    if (m->pause_start_ms && vic) {
        double x0 = xpos(m, m->pause_start_ms), x1 = xpos(m, m->pause_end_ms);
        fprintf(f,
                "<rect class='pause' x='%.1f' y='%d' width='%.1f' height='%d' fill='#999' "
                "opacity='0.25'><title>worker %d paused (SIGSTOP) for %lld ms</title></rect>\n",
                x0, lane_y(vic), x1 - x0, LANE_H - 2, vic,
                (long long)(m->pause_end_ms - m->pause_start_ms));
    }

    holding_t *hs;
    size_t nh = collect_holdings(m, &hs);
    layout_t lay = {0};
    const holding_t *vh = NULL, *sh = NULL;
    for (size_t i = 0; i < nh; i++) {
        if (vic && hs[i].worker == vic && hs[i].token == m->victim_token && !vh)
            vh = &hs[i];
        if (m->successor_token && hs[i].worker == m->successor_worker &&
            hs[i].token == m->successor_token && !sh)
            sh = &hs[i];
    }
    if (vh)
        place_victim(&lay, m, vh, vic);
    if (sh)
        place_token(&lay, m, sh, 1);
    int suc = m->successor_worker >= 1 && m->successor_worker <= lanes ? m->successor_worker : 0;
    if (m->early && sh && suc)
        place_successor(&lay, m, suc);
    for (size_t i = 0; i < nh; i++)
        if (&hs[i] != vh && &hs[i] != sh)
            place_token(&lay, m, &hs[i], 0);

    for (size_t i = 0; i < nh; i++) {
        const holding_t *x = &hs[i];
        double x0 = xpos(m, x->t0), x1 = xpos(m, x->t1);
        int lost = x->kind == HOLD_LOST || x->kind == HOLD_OPEN;
        fprintf(f,
                "<rect class='hold' data-worker='%d' data-token='%" PRIu64 "' x='%.1f' y='%d' "
                "width='%.1f' height='14' fill='%s' stroke='%s'><title>worker %d held the lock, "
                "token %" PRIu64 "%s</title></rect>\n",
                x->worker, x->token, x0, lane_y(x->worker) + 13, x1 - x0 < 1 ? 1 : x1 - x0,
                lost ? "#f4c7a1" : "#c9d9f2", lost ? "#c77d3a" : "#6b8fc7", x->worker, x->token,
                hold_note(x->kind));
    }
    for (size_t i = 0; i < m->nevents; i++) {
        const demo_event_t *e = &m->events[i];
        int w = lane_of(e);
        if (!w || w > lanes || !is_write(e->ev))
            continue;
        int ok = strcmp(e->ev, "write_ok") == 0;
        fprintf(f,
                "<circle class='%s' cx='%.1f' cy='%d' r='4' fill='%s'><title>%s seat %d (%s) "
                "token %" PRIu64 ", HTTP %d</title></circle>\n",
                ok ? "write-ok" : "write-rejected", xpos(m, e->ms), lane_y(w) + 20,
                ok ? "#2a9d3a" : "#d62828", ok ? "write accepted:" : "write rejected:", e->seat,
                e->booking, e->token, e->status);
    }
    svg_reads(f, m, lanes, vic, suc);
    print_labels(f, &lay, 0);
    free(lay.v);
    free(hs);
    if (zoom)
        svg_zoom(f, m, h);
    fprintf(f, "</svg>\n");
}

void report_svg(FILE *f, const mode_result_t *m)
{
    svg_body(f, m, 1);
}

static int write_html(const char *path, const mode_result_t *r, int n, int session_ms, int pause_ms)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    /* Self-contained: styles inline, pictures inline, nothing fetched. */
    fprintf(f, "<!doctype html>\n<html><head><meta charset='utf-8'><title>zkfence: the "
               "double-booking demo</title>\n<style>body{font-family:sans-serif;margin:2em;"
               "max-width:960px}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
               "padding:4px 8px;text-align:right}th{background:#f0f0f0}td:first-child{text-align:"
               "left}.bad{color:#d62828;font-weight:bold}.good{color:#2a9d3a}</style></head>"
               "<body>\n<h1>zkfence: the double-booking demo</h1>\n");
    fprintf(f,
            "<p>%d workers book %d seats through zkfence-proxy. Session timeout %d ms. In "
            "modes 3 to 7 the first worker to hold the lock is stopped (SIGSTOP) while it "
            "holds it, right before it writes: in modes 3 and 4 for %d ms (it wakes late, "
            "after its successor wrote), in modes 5 to 7 until its successor has read the "
            "seat map (it wakes early: its write lands between its successor's read and "
            "its successor's write). In mode 7 every holder advances the fence (raises the "
            "lock's mark to its token) right after acquiring, and reads without the "
            "token.</p>\n",
            n ? r[0].workers : 0, n ? r[0].seats : 0, session_ms, pause_ms);
    fprintf(f,
            "<table><tr><th>mode</th><th>seats</th><th>confirmed</th><th>double-booked</th>"
            "<th>oversold</th><th>acknowledged but lost</th><th>writes accepted</th><th>stale "
            "writes refused</th><th>lock acquisitions</th><th>mean hold ms</th><th>duration s</th>"
            "<th>result</th></tr>\n");
    char buf[256];
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        /* Red where the mode shows the failure it exists to show (1, 3, 5),
         * or where a mode that must not fail does. */
        const char *cls = m->double_booked || m->oversold || m->acked_lost ? "bad" : "good";
        const char *problem = report_problem(m, buf, sizeof(buf));
        fprintf(f,
                "<tr><td>%d. %s</td><td>%d</td><td>%d</td><td class='%s'>%d</td><td "
                "class='%s'>%d</td><td class='%s'>%d</td><td>%d</td><td>%d</td><td>%d</td>"
                "<td>%.1f</td><td>%.1f</td><td class='%s'>%s</td></tr>\n",
                m->mode, m->title, m->seats, m->confirmed, cls, m->double_booked, cls, m->oversold,
                cls, m->acked_lost, m->writes_accepted, m->stale_rejected, m->acquisitions,
                m->hold_ms_mean, (double)m->duration_ms / 1000.0, problem ? "bad" : "good",
                problem ? problem : "as expected");
    }
    fprintf(f, "</table>\n<p>Timelines: one lane per worker; boxes are lock holdings labelled "
               "with their fencing token (orange: the holding was lost); "
               "<span class='good'>&#9679;</span> accepted writes, "
               "<span class='bad'>&#9679;</span> rejected writes, "
               "<span class='bad'>&#9632;</span> refused fenced reads; grey: the pause. In "
               "modes 5 to 7 a dashed line goes from the successor's read to the wake it "
               "caused, and a zoomed-in strip below the timeline shows, in ms, the successor's "
               "read (&#9670;), the stale write and the successor's write.</p>\n");
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        fprintf(f, "<h2>%d. %s</h2>\n", m->mode, m->title);
        if (m->failed)
            fprintf(f, "<p class='bad'>This mode did not complete: %s</p>\n", m->error);
        char story[2048];
        if (m->paused && m->victim_worker)
            fprintf(f,
                    "<p>Paused holder: worker %d, token %" PRIu64 "; its successor: worker %d, "
                    "token %" PRIu64 ".</p>\n<p class='story'>%s</p>\n",
                    m->victim_worker, m->victim_token, m->successor_worker, m->successor_token,
                    report_story(m, story, sizeof(story)));
        svg_body(f, m, 0);
    }
    fprintf(f, "</body></html>\n");
    return fclose(f) == 0 ? 0 : -1;
}

int report_write(const char *dir, const mode_result_t *r, int n, int session_ms, int pause_ms)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/report.txt", dir);
    FILE *t = fopen(path, "w");
    if (t == NULL)
        return -1;
    report_print(t, r, n);
    if (fclose(t) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/report.tsv", dir);
    if (write_tsv(path, r, n) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/report.html", dir);
    if (write_html(path, r, n, session_ms, pause_ms) != 0)
        return -1;
    /* Each timeline on its own too, for embedding (the README's picture). */
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/timeline-mode%d.svg", dir, r[i].mode);
        FILE *s = fopen(path, "w");
        if (s == NULL)
            return -1;
        report_svg(s, &r[i]);
        if (fclose(s) != 0)
            return -1;
    }
    return 0;
}

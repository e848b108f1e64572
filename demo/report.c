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

static int by_time(const void *a, const void *b)
{
    const demo_event_t *x = a, *y = b;
    return x->ms < y->ms ? -1 : x->ms > y->ms;
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
                r->lost_bookings++;
        } else if (strcmp(e->ev, "write_stale") == 0) {
            r->stale_rejected++;
        } else if (strcmp(e->ev, "write_failed") == 0) {
            r->failed_writes++;
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

/* Modes 2 and 4: the lock with fencing must give exactly S bookings. */
static const char *exact_problem(const mode_result_t *m, char *buf, size_t len)
{
    if (m->double_booked > 0)
        snprintf(buf, len, "%d seat(s) double-booked", m->double_booked);
    else if (m->oversold > 0 || m->confirmed != m->seats)
        snprintf(buf, len, "%d bookings confirmed for %d seats", m->confirmed, m->seats);
    else if (m->seats_sold != m->seats)
        snprintf(buf, len, "%d of %d seats taken in the final seat map", m->seats_sold, m->seats);
    else if (m->lost_bookings > 0)
        snprintf(buf, len, "%d confirmed booking(s) missing from the final seat map",
                 m->lost_bookings);
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
        if (exact_problem(m, buf, len))
            return buf;
        if (!m->victim_worker)
            snprintf(buf, len, "no lock holder was paused");
        else if (!m->successor_token)
            snprintf(buf, len, "no other worker took the lock during the pause");
        else if (!(m->victim_token < m->successor_token))
            snprintf(buf, len,
                     "the paused holder's token %" PRIu64 " is not below its successor's %" PRIu64,
                     m->victim_token, m->successor_token);
        else if (m->stale_rejected < 1 || !m->victim_write_stale)
            snprintf(buf, len, "the paused holder's write was not rejected as stale");
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
    SAY("Worker %d held the lock with token %" PRIu64 " and had read the seat map when it was "
        "stopped (SIGSTOP, as a long garbage-collection pause would) for %.1f s, just before "
        "writing it back.",
        m->victim_worker, m->victim_token, (double)(m->pause_end_ms - m->pause_start_ms) / 1000.0);
    if (m->successor_token)
        SAY(" ZooKeeper expired its session meanwhile: %.1f s into the pause worker %d got the "
            "lock with token %" PRIu64 ", and the others booked seats after it.",
            (double)(m->successor_ms - m->pause_start_ms) / 1000.0, m->successor_worker,
            m->successor_token);
    if (m->victim_write_ok) {
        SAY(" When worker %d woke, it still believed it held the lock and wrote back the seat map "
            "it had read before the pause. Nothing checked its token: the write was accepted and "
            "erased the bookings made while it slept: %d confirmed booking%s lost and %d seat%s "
            "sold twice (the table's lost and double-booked columns).",
            m->victim_worker, m->lost_bookings, plural(m->lost_bookings), m->double_booked,
            plural(m->double_booked));
    } else if (m->victim_write_stale) {
        SAY(" When worker %d woke, it wrote back the seat map it had read, with its old token "
            "%" PRIu64 ". The proxy had already accepted token %" PRIu64 " for this lock, so it "
            "refused the write with 412 StaleFencingToken and stored nothing: %d booking%s lost, "
            "%d seat%s sold twice.",
            m->victim_worker, m->victim_token, m->successor_token, m->lost_bookings,
            plural(m->lost_bookings), m->double_booked, plural(m->double_booked));
    } else {
        SAY(" When worker %d woke, its write %s.", m->victim_worker,
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

void report_print(FILE *f, const mode_result_t *r, int n)
{
    /* The columns: confirmed, seats, double-booked or oversold,
     * writes accepted, stale writes rejected, lock acquisitions, duration;
     * "lost" (confirmed, then overwritten) shows how mode 3 goes wrong. */
    fprintf(f, "\n%-33s %5s %9s %6s %8s %4s %8s %5s %8s %6s  %s\n", "mode", "seats", "confirmed",
            "double", "oversold", "lost", "accepted", "stale", "acquires", "secs", "result");
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        char name[40];
        snprintf(name, sizeof(name), "%d %s", m->mode, m->title);
        fprintf(f, "%-33s %5d %9d %6d %8d %4d %8d %5d %8d %6.1f  %s\n", name, m->seats,
                m->confirmed, m->double_booked, m->oversold, m->lost_bookings, m->writes_accepted,
                m->stale_rejected, m->acquisitions, (double)m->duration_ms / 1000.0,
                result_word(m));
    }
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        if (m->paused && m->victim_worker)
            fprintf(f,
                    "mode %d: paused holder's token %" PRIu64 ", successor's token %" PRIu64
                    "; worker %d paused %lld ms; its write %s\n",
                    m->mode, m->victim_token, m->successor_token, m->victim_worker,
                    (long long)(m->pause_end_ms - m->pause_start_ms),
                    m->victim_write_ok      ? "accepted"
                    : m->victim_write_stale ? "refused (412 StaleFencingToken)"
                                            : "not made");
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
               "lost_bookings\tseats_sold\twrites_accepted\tstale_rejected\tfailed_writes\t"
               "acquisitions\tduration_ms\tvictim_worker\tvictim_token\tsuccessor_worker\t"
               "successor_token\tpause_ms\tvictim_write\n");
    char buf[256];
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        fprintf(f,
                "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%lld\t%d\t%" PRIu64
                "\t%d\t%" PRIu64 "\t%lld\t%s\n",
                m->mode, m->name, m->failed ? "failed" : "ok",
                report_problem(m, buf, sizeof(buf)) ? "no" : "yes", m->seats, m->workers,
                m->confirmed, m->double_booked, m->oversold, m->lost_bookings, m->seats_sold,
                m->writes_accepted, m->stale_rejected, m->failed_writes, m->acquisitions,
                (long long)m->duration_ms, m->victim_worker, m->victim_token, m->successor_worker,
                m->successor_token, (long long)(m->pause_end_ms - m->pause_start_ms),
                m->victim_write_ok      ? "accepted"
                : m->victim_write_stale ? "stale"
                                        : "-");
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
    if (strcmp(vw->ev, "write_stale") == 0)
        snprintf(buf, len, "write with token %" PRIu64 " refused: 412 StaleFencingToken",
                 vw->token);
    else if (strcmp(vw->ev, "write_ok") == 0 && (m->lost_bookings || m->double_booked))
        snprintf(buf, len, "unfenced write accepted: %d booking%s lost, %d seat%s sold twice",
                 m->lost_bookings, m->lost_bookings == 1 ? "" : "s", m->double_booked,
                 m->double_booked == 1 ? "" : "s");
    else if (strcmp(vw->ev, "write_ok") == 0)
        snprintf(buf, len, "unfenced write accepted");
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

/* The time axis: 0 s at the mode's start, the mode's length at its end
 * (the table's duration), and ticks at round seconds in between, each
 * labelled where the label has room. */
static void svg_axis(FILE *f, const mode_result_t *m, int h)
{
    int64_t t0, t1;
    span_of(m, &t0, &t1);
    double secs = (double)(t1 - t0) / 1000.0, px_per_s = secs > 0 ? (RIGHT - LEFT) / secs : 0;
    char end[32];
    snprintf(end, sizeof(end), "%.1f s", secs);
    int y = h - 4, top = TOP, bottom = h - AXIS_H;
    fprintf(f, "<g class='axis'><line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#999'/>\n", LEFT,
            bottom, RIGHT, bottom);
    fprintf(f, "<text x='%d' y='%d' fill='#555'>0 s</text>\n", LEFT, y);
    fprintf(f, "<text x='%d' y='%d' fill='#555' text-anchor='end'>%s</text>\n", RIGHT, y, end);
    static const double steps[] = {0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600};
    double step = 0;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && px_per_s > 0; i++)
        if (steps[i] * px_per_s >= 60) { /* room for "12.5 s" and a gap */
            step = steps[i];
            break;
        }
    double left_end = LEFT + text_w("0 s"), right_start = RIGHT - text_w(end);
    for (int k = 1; step > 0 && k * step < secs; k++) {
        double x = LEFT + k * step * px_per_s;
        char lab[32];
        snprintf(lab, sizeof(lab), step < 1 ? "%.1f s" : "%.0f s", k * step);
        double w = text_w(lab);
        fprintf(f, "<line x1='%.1f' y1='%d' x2='%.1f' y2='%d' stroke='#eee'/>\n", x, top, x,
                bottom);
        if (x - w / 2 > left_end + GAP && x + w / 2 < right_start - GAP)
            fprintf(f, "<text x='%.1f' y='%d' fill='#555' text-anchor='middle'>%s</text>\n", x, y,
                    lab);
    }
    fprintf(f, "</g>\n");
}

static void svg_body(FILE *f, const mode_result_t *m, int standalone)
{
    if (m->nevents == 0)
        return;
    int lanes = m->workers < 1                    ? 1
                : m->workers > REPORT_MAX_WORKERS ? REPORT_MAX_WORKERS
                                                  : m->workers;
    int h = TOP + lanes * LANE_H + AXIS_H;
    /* The namespace is required in a standalone .svg file, and harmless in
     * the page; it is a name, not something fetched. */
    fprintf(f,
            "<svg %swidth='%d' height='%d' viewBox='0 0 %d %d' font-family='monospace' "
            "font-size='%d'>\n",
            standalone ? "xmlns='http://www.w3.org/2000/svg' " : "", WIDTH, h, WIDTH, h, FONT_PX);
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
    for (size_t i = 0; i < lay.n; i++) {
        const label_t *o = &lay.v[i];
        fprintf(f, "<text class='%s' x='%.1f' y='%d' fill='%s'>%s</text>\n", o->cls, o->x0,
                row_baseline(o->lane, o->row), o->fill, o->text);
    }
    free(lay.v);
    free(hs);
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
            "<p>%d workers book %d seats through zkfence-proxy. Session timeout %d ms; in "
            "modes 3 and 4 the first worker to hold the lock is stopped (SIGSTOP) for %d ms "
            "while it holds it, right before it writes.</p>\n",
            n ? r[0].workers : 0, n ? r[0].seats : 0, session_ms, pause_ms);
    fprintf(f, "<table><tr><th>mode</th><th>seats</th><th>confirmed</th><th>double-booked</th>"
               "<th>oversold</th><th>lost bookings</th><th>writes accepted</th><th>stale writes "
               "rejected</th><th>lock acquisitions</th><th>mean hold ms</th><th>duration s</th>"
               "<th>result</th></tr>\n");
    char buf[256];
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        /* Red where the mode shows the failure it exists to show (1, 3), or
         * where a mode that must not fail does. */
        const char *cls = m->double_booked || m->oversold || m->lost_bookings ? "bad" : "good";
        const char *problem = report_problem(m, buf, sizeof(buf));
        fprintf(f,
                "<tr><td>%d. %s</td><td>%d</td><td>%d</td><td class='%s'>%d</td><td "
                "class='%s'>%d</td><td class='%s'>%d</td><td>%d</td><td>%d</td><td>%d</td>"
                "<td>%.1f</td><td>%.1f</td><td class='%s'>%s</td></tr>\n",
                m->mode, m->title, m->seats, m->confirmed, cls, m->double_booked, cls, m->oversold,
                cls, m->lost_bookings, m->writes_accepted, m->stale_rejected, m->acquisitions,
                m->hold_ms_mean, (double)m->duration_ms / 1000.0, problem ? "bad" : "good",
                problem ? problem : "as expected");
    }
    fprintf(f, "</table>\n<p>Timelines: one lane per worker; boxes are lock holdings labelled "
               "with their fencing token (orange: the holding was lost); "
               "<span class='good'>&#9679;</span> accepted writes, "
               "<span class='bad'>&#9679;</span> rejected writes; grey: the pause.</p>\n");
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

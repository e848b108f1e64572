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
                r->successor_token = e->token, r->successor_worker = e->worker;
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
 * above the boxes, the boxes (lock holdings), a row of labels below. A
 * token label goes inside its box when it fits, else above or below it,
 * wherever it overlaps nothing already placed. Labels are placed by
 * priority: first the pause victim's holding and its captions, then the
 * successor's holding, then the others in time order; those two are always
 * labelled, another is left to its tooltip only if all three places are
 * taken (tokens are long, holdings in a lane can be a few pixels apart). */

#define LANE_H 42
#define TOP 6
#define LEFT 70
#define WIDTH 900
#define RIGHT (WIDTH - 10)
#define CHAR_W 6.0 /* a generous average advance at font-size 10 */
#define GAP 3.0

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
    char text[96];
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

static void span_of(const mode_result_t *m, int64_t *t0, int64_t *t1)
{
    *t0 = m->events[0].ms;
    *t1 = m->events[m->nevents - 1].ms;
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
    if (x0 < 0 || x1 > WIDTH)
        return 0;
    for (size_t i = 0; i < l->n; i++) {
        const label_t *o = &l->v[i];
        if (o->lane == lane && o->row == row && x0 < o->x1 + GAP && o->x0 < x1 + GAP)
            return 0;
    }
    return 1;
}

static void layout_add(layout_t *l, int lane, int row, double x0, const char *text, const char *cls,
                       const char *fill)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        label_t *nv = realloc(l->v, cap * sizeof(*nv));
        if (nv == NULL)
            return; /* a label less; the tooltip still has it */
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
}

/* Left edge for a label of width w that starts at x, kept on the picture. */
static double clamp_x(double x, double w)
{
    if (x + w > RIGHT)
        x = RIGHT - w;
    return x < LEFT ? LEFT : x;
}

/* A holding's token label: inside the box if it fits clear of the write
 * dot at its end, else above, else below. forced: placed above even if
 * that overlaps (only the victim and successor are). */
static void place_token(layout_t *l, const mode_result_t *m, const holding_t *h, int forced)
{
    char text[32];
    snprintf(text, sizeof(text), "%" PRIu64, h->token);
    double w = text_w(text), x0 = xpos(m, h->t0), x1 = xpos(m, h->t1);
    if (x1 - x0 >= w + 12 && layout_free(l, h->worker, ROW_INSIDE, x0 + 2, x0 + 2 + w)) {
        layout_add(l, h->worker, ROW_INSIDE, x0 + 2, text, "token", "#1d3557");
        return;
    }
    double x = clamp_x(x0, w);
    for (int row = ROW_ABOVE; row <= ROW_BELOW; row += 2) {
        if (layout_free(l, h->worker, row, x, x + w)) {
            layout_add(l, h->worker, row, x, text, "token", "#1d3557");
            return;
        }
    }
    if (forced)
        layout_add(l, h->worker, ROW_ABOVE, x, text, "token", "#1d3557");
}

/* A caption for the victim's lane, on one of its rows, anchored so that it
 * ends just left of x (or starts right of it if there is no room left). */
static void place_caption(layout_t *l, int lane, int row, double x, const char *text,
                          const char *fill)
{
    double w = text_w(text);
    double left = x - 6 - w >= LEFT ? x - 6 - w : clamp_x(x + 6, w);
    layout_add(l, lane, row, left, text, "caption", fill);
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

static void svg_body(FILE *f, const mode_result_t *m, int standalone)
{
    if (m->nevents == 0)
        return;
    int lanes = m->workers < 1                    ? 1
                : m->workers > REPORT_MAX_WORKERS ? REPORT_MAX_WORKERS
                                                  : m->workers;
    int h = TOP + lanes * LANE_H + 16;
    /* The namespace is required in a standalone .svg file, and harmless in
     * the page; it is a name, not something fetched. */
    fprintf(f,
            "<svg %swidth='%d' height='%d' viewBox='0 0 %d %d' font-family='sans-serif' "
            "font-size='10'>\n",
            standalone ? "xmlns='http://www.w3.org/2000/svg' " : "", WIDTH, h, WIDTH, h);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
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
    if (vh) {
        place_token(&lay, m, vh, 1);
        /* "stopped" inside the victim's box, after its token, if it fits. */
        char cap[96];
        snprintf(cap, sizeof(cap), "worker %d stopped (SIGSTOP) while holding the lock", vic);
        double x = xpos(m, m->pause_start_ms) + 4, w = text_w(cap);
        const label_t *tl = lay.n ? &lay.v[lay.n - 1] : NULL; /* the victim's token label */
        if (tl && tl->row == ROW_INSIDE && x < tl->x1 + 8)
            x = tl->x1 + 8;
        if (x + w < xpos(m, vh->t1) - 8 && layout_free(&lay, vic, ROW_INSIDE, x, x + w))
            layout_add(&lay, vic, ROW_INSIDE, x, cap, "caption", "#333");
        else if (layout_free(&lay, vic, ROW_ABOVE, clamp_x(x, w), clamp_x(x, w) + w))
            layout_add(&lay, vic, ROW_ABOVE, clamp_x(x, w), cap, "caption", "#333");
        const demo_event_t *vw = victim_write(m);
        if (vw && strcmp(vw->ev, "write_stale") == 0) {
            snprintf(cap, sizeof(cap),
                     "write with token %" PRIu64 " refused: 412 StaleFencingToken", vw->token);
            place_caption(&lay, vic, ROW_BELOW, xpos(m, vw->ms), cap, "#d62828");
        } else if (vw && strcmp(vw->ev, "write_ok") == 0) {
            if (m->victim_seat_double)
                snprintf(cap, sizeof(cap), "unfenced write accepted: seat %d booked twice",
                         vw->seat);
            else
                snprintf(cap, sizeof(cap), "unfenced write accepted");
            place_caption(&lay, vic, ROW_BELOW, xpos(m, vw->ms), cap, "#d62828");
        }
    }
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
    int64_t t0, t1;
    span_of(m, &t0, &t1);
    fprintf(f,
            "<text x='%d' y='%d' fill='#555'>0 s</text><text x='%d' y='%d' fill='#555' "
            "text-anchor='end'>%.1f s</text>\n",
            LEFT, h - 4, RIGHT, h - 4, (double)(t1 - t0) / 1000.0);
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
        if (m->paused && m->victim_worker)
            fprintf(f,
                    "<p>Paused holder: worker %d, token %" PRIu64 "; its successor: worker %d, "
                    "token %" PRIu64 ".</p>\n",
                    m->victim_worker, m->victim_token, m->successor_worker, m->successor_token);
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

#include "report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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

void report_analyse(mode_result_t *r)
{
    int per_seat[SEATMAP_MAX] = {0};
    int64_t held_since[65] = {0};
    double hold_total = 0;
    int holds = 0;
    int64_t pause_at = 0;
    for (size_t i = 0; i < r->nevents; i++) {
        const demo_event_t *e = &r->events[i];
        int w = e->worker >= 0 && e->worker <= 64 ? e->worker : 0;
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
            held_since[w] = e->ms;
            if (pause_at && !r->successor_token && e->token > r->victim_token)
                r->successor_token = e->token;
        } else if ((strcmp(e->ev, "released") == 0 || strcmp(e->ev, "lost") == 0) &&
                   held_since[w]) {
            hold_total += (double)(e->ms - held_since[w]);
            holds++;
            held_since[w] = 0;
        } else if (strcmp(e->ev, "pause") == 0) {
            pause_at = e->ms;
            r->victim_token = e->token;
        }
    }
    for (int s = 0; s < SEATMAP_MAX; s++)
        r->double_booked += per_seat[s] >= 2;
    r->oversold = r->confirmed > r->seats ? r->confirmed - r->seats : 0;
    for (int s = 0; s < r->final_map.n; s++)
        r->seats_sold += strcmp(r->final_map.owner[s], "-") != 0;
    r->hold_ms_mean = holds ? hold_total / holds : 0;
    if (r->nevents)
        r->duration_ms = r->events[r->nevents - 1].ms - r->events[0].ms;
}

static int failure_shown(const mode_result_t *r)
{
    return r->double_booked > 0 || r->oversold > 0 || r->lost_bookings > 0;
}

int report_verdict(const mode_result_t *r, int n)
{
    int want_failure = 0, saw_failure = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        if (m->mode == 1 || m->mode == 3) {
            want_failure = 1;
            saw_failure |= failure_shown(m);
        } else {
            if (failure_shown(m) || m->seats_sold != m->seats || m->confirmed != m->seats)
                bad = 1;
            if (m->mode == 4 && (m->stale_rejected < 1 || !(m->victim_token < m->successor_token)))
                bad = 1;
        }
    }
    return bad || (want_failure && !saw_failure) ? 1 : 0;
}

void report_print(FILE *f, const mode_result_t *r, int n)
{
    fprintf(f, "\n%-34s %5s %9s %6s %8s %5s %8s %5s %8s %8s\n", "mode", "seats", "confirmed",
            "double", "oversold", "lost", "accepted", "stale", "acquires", "hold ms");
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        char name[40];
        snprintf(name, sizeof(name), "%d %s", m->mode, m->title);
        fprintf(f, "%-34s %5d %9d %6d %8d %5d %8d %5d %8d %8.1f\n", name, m->seats, m->confirmed,
                m->double_booked, m->oversold, m->lost_bookings, m->confirmed, m->stale_rejected,
                m->acquisitions, m->hold_ms_mean);
    }
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        if (m->paused && m->victim_token)
            fprintf(f,
                    "mode %d: paused holder's token %" PRIu64 ", successor's token %" PRIu64
                    "; pause %lld ms\n",
                    m->mode, m->victim_token, m->successor_token,
                    (long long)(m->pause_end_ms - m->pause_start_ms));
    }
}

/* ---- HTML + SVG ---- */

#define LANE_H 26
#define LEFT 70
#define WIDTH 900

static double xpos(const mode_result_t *m, int64_t ms)
{
    int64_t t0 = m->events[0].ms, t1 = m->events[m->nevents - 1].ms;
    if (m->pause_end_ms > t1)
        t1 = m->pause_end_ms;
    double span = t1 > t0 ? (double)(t1 - t0) : 1.0;
    return LEFT + (double)(ms - t0) / span * (WIDTH - LEFT - 10);
}

static void svg_timeline(FILE *f, const mode_result_t *m)
{
    if (m->nevents == 0)
        return;
    int h = m->workers * LANE_H + 30;
    fprintf(f,
            "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
            "font-family='sans-serif' font-size='10'>\n",
            WIDTH, h);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    for (int w = 1; w <= m->workers; w++) {
        int y = (w - 1) * LANE_H + 5;
        fprintf(f, "<text x='4' y='%d'>worker %d</text>\n", y + 15, w);
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#ddd'/>\n", LEFT, y + 20,
                WIDTH - 10, y + 20);
    }
    if (m->pause_start_ms) {
        /* the victim is worker 1 */
        double x0 = xpos(m, m->pause_start_ms), x1 = xpos(m, m->pause_end_ms);
        fprintf(f,
                "<rect x='%.1f' y='3' width='%.1f' height='%d' fill='#999' opacity='0.25'>"
                "<title>worker 1 paused (SIGSTOP)</title></rect>\n",
                x0, x1 - x0, LANE_H);
    }
    int64_t since[65] = {0};
    uint64_t tok[65] = {0};
    for (size_t i = 0; i < m->nevents; i++) {
        const demo_event_t *e = &m->events[i];
        int w = e->worker >= 1 && e->worker <= 64 ? e->worker : 0;
        int y = (w - 1) * LANE_H + 5;
        if (strcmp(e->ev, "acquired") == 0) {
            since[w] = e->ms;
            tok[w] = e->token;
        } else if ((strcmp(e->ev, "released") == 0 || strcmp(e->ev, "lost") == 0) && since[w]) {
            double x0 = xpos(m, since[w]), x1 = xpos(m, e->ms);
            const char *fill = strcmp(e->ev, "lost") == 0 ? "#f4c7a1" : "#c9d9f2";
            fprintf(f,
                    "<rect x='%.1f' y='%d' width='%.1f' height='14' fill='%s' "
                    "stroke='#6b8fc7'><title>held, token %" PRIu64 "%s</title></rect>\n",
                    x0, y + 4, x1 - x0 < 1 ? 1 : x1 - x0, fill, tok[w],
                    strcmp(e->ev, "lost") == 0 ? " (lost)" : "");
            if (x1 - x0 > 40)
                fprintf(f, "<text x='%.1f' y='%d'>%" PRIu64 "</text>\n", x0 + 2, y + 15, tok[w]);
            since[w] = 0;
        } else if (strncmp(e->ev, "write_", 6) == 0) {
            int ok = strcmp(e->ev, "write_ok") == 0;
            fprintf(f,
                    "<circle cx='%.1f' cy='%d' r='4' fill='%s'><title>%s seat %d (%s) token "
                    "%" PRIu64 ", HTTP %d</title></circle>\n",
                    xpos(m, e->ms), y + 11, ok ? "#2a9d3a" : "#d62828",
                    ok ? "write accepted:" : "write rejected:", e->seat, e->booking, e->token,
                    e->status);
            if (strcmp(e->ev, "write_stale") == 0)
                fprintf(f,
                        "<text x='%.1f' y='%d' fill='#d62828' text-anchor='end'>write with "
                        "token %" PRIu64 " refused: 412 StaleFencingToken</text>\n",
                        xpos(m, e->ms) - 8, y + 32, e->token);
        }
    }
    if (m->pause_start_ms) /* on top of the holding it interrupts */
        fprintf(f,
                "<text x='%.1f' y='20' fill='#333'>worker 1 stopped (SIGSTOP) while holding "
                "the lock</text>\n",
                xpos(m, m->pause_start_ms) + 60);
    double secs = (double)m->duration_ms / 1000.0;
    fprintf(f,
            "<text x='%d' y='%d' fill='#555'>0 s</text><text x='%d' y='%d' fill='#555' "
            "text-anchor='end'>%.1f s</text>\n",
            LEFT, h - 4, WIDTH - 10, h - 4, secs);
    fprintf(f, "</svg>\n");
}

int report_write(const char *dir, const mode_result_t *r, int n, int session_ms, int pause_ms)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/report.txt", dir);
    FILE *t = fopen(path, "w");
    if (t == NULL)
        return -1;
    report_print(t, r, n);
    fclose(t);

    snprintf(path, sizeof(path), "%s/report.html", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "<!doctype html>\n<html><head><meta charset='utf-8'><title>zkfence: the "
               "double-booking demo</title>\n<style>body{font-family:sans-serif;margin:2em;"
               "max-width:960px}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
               "padding:4px 8px;text-align:right}th{background:#f0f0f0}td:first-child{text-align:"
               "left}.bad{color:#d62828;font-weight:bold}.good{color:#2a9d3a}</style></head>"
               "<body>\n<h1>zkfence: the double-booking demo</h1>\n");
    fprintf(f,
            "<p>%d workers book %d seats through zkfence-proxy. Session timeout %d ms; in "
            "modes 3 and 4 worker 1 is stopped (SIGSTOP) for %d ms while it holds the lock, "
            "right before it writes.</p>\n",
            r[0].workers, r[0].seats, session_ms, pause_ms);
    fprintf(f, "<table><tr><th>mode</th><th>seats</th><th>confirmed</th><th>double-booked</th>"
               "<th>oversold</th><th>lost bookings</th><th>writes accepted</th><th>stale writes "
               "rejected</th><th>lock acquisitions</th><th>mean hold ms</th><th>duration s</th>"
               "</tr>\n");
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        int bad = failure_shown(m);
        fprintf(f,
                "<tr><td>%d. %s</td><td>%d</td><td>%d</td><td class='%s'>%d</td><td "
                "class='%s'>%d</td><td class='%s'>%d</td><td>%d</td><td>%d</td><td>%d</td>"
                "<td>%.1f</td><td>%.1f</td></tr>\n",
                m->mode, m->title, m->seats, m->confirmed, bad ? "bad" : "good", m->double_booked,
                bad ? "bad" : "good", m->oversold, bad ? "bad" : "good", m->lost_bookings,
                m->confirmed, m->stale_rejected, m->acquisitions, m->hold_ms_mean,
                (double)m->duration_ms / 1000.0);
    }
    fprintf(f, "</table>\n<p>Timelines: one lane per worker; boxes are lock holdings labelled "
               "with their fencing token (orange: the holding was lost); "
               "<span class='good'>&#9679;</span> accepted writes, "
               "<span class='bad'>&#9679;</span> rejected writes; grey: the pause.</p>\n");
    for (int i = 0; i < n; i++) {
        const mode_result_t *m = &r[i];
        fprintf(f, "<h2>%d. %s</h2>\n", m->mode, m->title);
        if (m->paused && m->victim_token)
            fprintf(f,
                    "<p>Paused holder's token: %" PRIu64 "; its successor's token: %" PRIu64
                    ".</p>\n",
                    m->victim_token, m->successor_token);
        svg_timeline(f, m);
    }
    fprintf(f, "</body></html>\n");
    if (fclose(f) != 0)
        return -1;
    /* Each timeline on its own too, for embedding (the README's picture). */
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/timeline-mode%d.svg", dir, r[i].mode);
        FILE *s = fopen(path, "w");
        if (s == NULL)
            return -1;
        svg_timeline(s, &r[i]);
        if (fclose(s) != 0)
            return -1;
    }
    return 0;
}

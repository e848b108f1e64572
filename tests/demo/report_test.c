/* Unit tests of the demo's report (demo/report.c): the analysis of a mode's
 * events, the verdict on outcomes that do and do not show what each mode
 * exists to show, and the SVG timeline's labels. No server: the events are
 * written here, as the workers would log them. */
#include <CUnit/Basic.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

typedef struct ev {
    int64_t ms;
    int worker;
    const char *ev;
    uint64_t token;
    int seat;
    const char *booking;
    int status;
} ev_t;

/* A mode result from an event list and the final owners of its seats. */
static mode_result_t *make(int mode, int workers, int seats, const ev_t *evs, size_t n,
                           const char *const *owners)
{
    mode_result_t *r = calloc(1, sizeof(*r));
    r->mode = mode;
    r->name = "test";
    r->title = "test";
    r->workers = workers;
    r->seats = seats;
    r->paused = mode >= 3;
    r->fenced = mode == 2 || mode == 4;
    r->events = calloc(n + 1, sizeof(*r->events));
    for (size_t i = 0; i < n; i++) {
        demo_event_t *e = &r->events[i];
        e->ms = evs[i].ms;
        e->worker = evs[i].worker;
        snprintf(e->ev, sizeof(e->ev), "%s", evs[i].ev);
        e->token = evs[i].token;
        e->seat = evs[i].seat;
        snprintf(e->booking, sizeof(e->booking), "%s", evs[i].booking ? evs[i].booking : "-");
        e->status = evs[i].status;
    }
    r->nevents = n;
    seatmap_init(&r->final_map, seats);
    for (int s = 0; s < seats && owners && owners[s]; s++)
        seatmap_set(&r->final_map, s, owners[s]);
    report_analyse(r);
    return r;
}

static void destroy(mode_result_t *r)
{
    free(r->events);
    free(r);
}

static int expected(const mode_result_t *r)
{
    char buf[256];
    return report_problem(r, buf, sizeof(buf)) == NULL;
}

#define N(a) (sizeof(a) / sizeof(a[0]))

/* Mode 2 done right: two workers, two seats, one booking each in turn. */
static const ev_t fenced_ok[] = {
    {100, 1, "acquired", 10, -1, NULL, 0},    {130, 1, "write_ok", 10, 0, "w1-1", 200},
    {131, 1, "released", 10, -1, NULL, 0},    {135, 2, "acquired", 11, -1, NULL, 0},
    {160, 2, "write_ok", 11, 1, "w2-1", 200}, {161, 2, "released", 11, -1, NULL, 0},
    {165, 1, "acquired", 12, -1, NULL, 0},    {166, 1, "released", 12, -1, NULL, 0},
    {167, 2, "acquired", 13, -1, NULL, 0},    {168, 2, "released", 13, -1, NULL, 0},
};
static const char *const fenced_owners[] = {"w1-1", "w2-1"};

/* Mode 3 done right: worker 1 pauses holding token 10 with seat 0 read
 * free; worker 2 takes over (11) and books seat 0, then 1; worker 1 wakes
 * and its unfenced write books seat 0 again. */
static const ev_t paused_nofence[] = {
    {100, 1, "acquired", 10, -1, NULL, 0},     {120, 1, "pause", 10, 0, NULL, 0},
    {2000, 2, "acquired", 11, -1, NULL, 0},    {2030, 2, "write_ok", 11, 0, "w2-1", 200},
    {2031, 2, "released", 11, -1, NULL, 0},    {2040, 2, "acquired", 12, -1, NULL, 0},
    {2070, 2, "write_ok", 12, 1, "w2-2", 200}, {2071, 2, "released", 12, -1, NULL, 0},
    {6000, 1, "resume", 10, 0, NULL, 0},       {6001, 1, "write_ok", 10, 0, "w1-1", 200},
    {6002, 1, "released", 10, -1, NULL, 0},
};
static const char *const paused_owners[] = {"w1-1", "-"};

/* Mode 4 done right: the same, and the woken write is refused. */
static const ev_t paused_fenced[] = {
    {100, 1, "acquired", 10, -1, NULL, 0},     {120, 1, "pause", 10, 0, NULL, 0},
    {2000, 2, "acquired", 11, -1, NULL, 0},    {2030, 2, "write_ok", 11, 0, "w2-1", 200},
    {2031, 2, "released", 11, -1, NULL, 0},    {2040, 2, "acquired", 12, -1, NULL, 0},
    {2070, 2, "write_ok", 12, 1, "w2-2", 200}, {2071, 2, "released", 12, -1, NULL, 0},
    {6000, 1, "resume", 10, 0, NULL, 0},       {6001, 1, "write_stale", 10, 0, "w1-1", 412},
    {6002, 1, "released", 10, -1, NULL, 0},
};
static const char *const fenced_pause_owners[] = {"w2-1", "w2-2"};

static void test_mode1_needs_the_race(void)
{
    const ev_t race[] = {{100, 1, "write_ok", 0, 0, "w1-1", 200},
                         {101, 2, "write_ok", 0, 0, "w2-1", 200}};
    const char *const owners[] = {"w2-1", "-"};
    mode_result_t *r = make(1, 2, 2, race, N(race), owners);
    CU_ASSERT_EQUAL(r->double_booked, 1);
    CU_ASSERT_EQUAL(r->lost_bookings, 1);
    CU_ASSERT(expected(r));
    destroy(r);

    /* No overlap: each seat once. Mode 1 ran and did not show its failure. */
    const ev_t calm[] = {{100, 1, "write_ok", 0, 0, "w1-1", 200},
                         {200, 2, "write_ok", 0, 1, "w2-1", 200}};
    const char *const calm_owners[] = {"w1-1", "w2-1"};
    r = make(1, 2, 2, calm, N(calm), calm_owners);
    CU_ASSERT_EQUAL(r->double_booked + r->oversold, 0);
    CU_ASSERT_FALSE(expected(r));
    CU_ASSERT_EQUAL(report_verdict(r, 1), 1);
    destroy(r);
}

static void test_mode2_exactly_s(void)
{
    mode_result_t *r = make(2, 2, 2, fenced_ok, N(fenced_ok), fenced_owners);
    CU_ASSERT_EQUAL(r->confirmed, 2);
    CU_ASSERT_EQUAL(r->writes_accepted, 2);
    CU_ASSERT_EQUAL(r->acquisitions, 4);
    CU_ASSERT(expected(r));
    CU_ASSERT_EQUAL(report_verdict(r, 1), 0);
    destroy(r);

    /* One booking short. */
    const char *const one[] = {"w1-1", "-"};
    r = make(2, 2, 2, fenced_ok, 3, one);
    CU_ASSERT_EQUAL(r->confirmed, 1);
    CU_ASSERT_FALSE(expected(r));
    destroy(r);

    /* A double booking under the lock. */
    ev_t dbl[N(fenced_ok)];
    memcpy(dbl, fenced_ok, sizeof(dbl));
    dbl[4].seat = 0;
    r = make(2, 2, 2, dbl, N(dbl), fenced_owners);
    CU_ASSERT_EQUAL(r->double_booked, 1);
    CU_ASSERT_FALSE(expected(r));
    destroy(r);

    /* A mode that did not complete fails whatever its numbers. */
    r = make(2, 2, 2, fenced_ok, N(fenced_ok), fenced_owners);
    report_fail(r, "timed out after %d s", 120);
    report_fail(r, "a later error"); /* the first cause is kept */
    CU_ASSERT_STRING_EQUAL(r->error, "timed out after 120 s");
    CU_ASSERT_FALSE(expected(r));
    destroy(r);
}

static void test_mode3_needs_the_overwrite(void)
{
    mode_result_t *r = make(3, 2, 2, paused_nofence, N(paused_nofence), paused_owners);
    CU_ASSERT_EQUAL(r->victim_worker, 1);
    CU_ASSERT_EQUAL(r->victim_token, 10);
    CU_ASSERT_EQUAL(r->successor_worker, 2);
    CU_ASSERT_EQUAL(r->successor_token, 11);
    CU_ASSERT(r->victim_write_ok);
    CU_ASSERT(r->victim_seat_double);
    CU_ASSERT_EQUAL(r->pause_start_ms, 120); /* from the events when replayed */
    CU_ASSERT_EQUAL(r->pause_end_ms, 6000);
    CU_ASSERT(expected(r));
    destroy(r);

    /* The woken write failed: no double booking shown. */
    ev_t failed[N(paused_nofence)];
    memcpy(failed, paused_nofence, sizeof(failed));
    failed[9].ev = "write_failed";
    failed[9].status = 500;
    const char *const owners[] = {"w2-1", "w2-2"};
    r = make(3, 2, 2, failed, N(failed), owners);
    CU_ASSERT_FALSE(r->victim_write_ok);
    CU_ASSERT_FALSE(expected(r));
    destroy(r);

    /* Nobody paused (the events of mode 2): mode 3 did not show anything. */
    r = make(3, 2, 2, fenced_ok, N(fenced_ok), fenced_owners);
    CU_ASSERT_EQUAL(r->victim_worker, 0);
    CU_ASSERT_FALSE(expected(r));
    destroy(r);
}

static void test_mode4_needs_the_refusal(void)
{
    mode_result_t *r = make(4, 2, 2, paused_fenced, N(paused_fenced), fenced_pause_owners);
    CU_ASSERT_EQUAL(r->stale_rejected, 1);
    CU_ASSERT(r->victim_write_stale);
    CU_ASSERT(r->victim_token < r->successor_token);
    CU_ASSERT(expected(r));
    destroy(r);

    /* The stale write got through: seat 0 double-booked. */
    ev_t through[N(paused_fenced)];
    memcpy(through, paused_fenced, sizeof(through));
    through[9].ev = "write_ok";
    through[9].status = 200;
    const char *const owners[] = {"w1-1", "-"};
    r = make(4, 2, 2, through, N(through), owners);
    CU_ASSERT(r->double_booked > 0);
    CU_ASSERT_FALSE(expected(r));
    destroy(r);

    /* Tokens out of order: the successor's is not higher. */
    ev_t order[N(paused_fenced)];
    memcpy(order, paused_fenced, sizeof(order));
    order[2].token = order[3].token = order[4].token = 9;
    r = make(4, 2, 2, order, N(order), fenced_pause_owners);
    CU_ASSERT_EQUAL(r->successor_token, 9);
    CU_ASSERT_FALSE(expected(r));
    destroy(r);

    /* No refusal logged at all (the victim never wrote). */
    r = make(4, 2, 2, paused_fenced, 8, fenced_pause_owners);
    CU_ASSERT_EQUAL(r->stale_rejected, 0);
    CU_ASSERT_FALSE(expected(r));
    destroy(r);
}

static void test_verdict_needs_every_mode(void)
{
    mode_result_t *m[4] = {
        make(1, 2, 2,
             (const ev_t[]){{1, 1, "write_ok", 0, 0, "a", 200}, {2, 2, "write_ok", 0, 0, "b", 200}},
             2, (const char *const[]){"b", "-"}),
        make(2, 2, 2, fenced_ok, N(fenced_ok), fenced_owners),
        make(3, 2, 2, paused_nofence, N(paused_nofence), paused_owners),
        make(4, 2, 2, paused_fenced, N(paused_fenced), fenced_pause_owners),
    };
    mode_result_t all[4];
    for (int i = 0; i < 4; i++)
        all[i] = *m[i];
    CU_ASSERT_EQUAL(report_verdict(all, 4), 0);
    /* Mode 1 showing its failure no longer covers for mode 3 not showing
     * its own, nor the other way round. */
    all[2].victim_write_ok = 0;
    all[2].victim_seat_double = 0;
    CU_ASSERT_EQUAL(report_verdict(all, 4), 1);
    all[2] = *m[2];
    all[0].double_booked = all[0].oversold = 0;
    CU_ASSERT_EQUAL(report_verdict(all, 4), 1);
    /* Nothing ran: not "as expected". */
    CU_ASSERT_EQUAL(report_verdict(all, 0), 1);
    for (int i = 0; i < 4; i++)
        destroy(m[i]);
}

/* ---- SVG ---- */

/* Not inlined: GCC 12 then mistakes pointers into the stream's buffer for
 * pointers to the local that open_memstream() updates (-Wdangling-pointer). */
__attribute__((noinline)) static char *svg_of(const mode_result_t *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    report_svg(f, r);
    fclose(f);
    return buf;
}

typedef struct text_el {
    double x;
    int y;
    char cls[16], body[96];
} text_el_t;

/* The <text class=...> elements of an SVG, in order. */
static size_t texts(const char *svg, text_el_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = svg; n < cap && (p = strstr(p, "<text class='")) != NULL; p++) {
        text_el_t *t = &out[n];
        if (sscanf(p, "<text class='%15[^']' x='%lf' y='%d' fill='%*[^']'>%95[^<]", t->cls, &t->x,
                   &t->y, t->body) == 4)
            n++;
    }
    return n;
}

/* The bottom line of each lane, from the lane groups. */
static int lane_bottoms(const char *svg, int *bottom, int cap)
{
    int n = 0;
    for (const char *p = svg; n < cap && (p = strstr(p, "<g class='lane'")) != NULL; p++) {
        const char *l = strstr(p, "<line");
        int y;
        if (l && sscanf(l, "<line x1='%*d' y1='%d'", &y) == 1)
            bottom[n++] = y;
    }
    return n;
}

static int lane_of_y(const int *bottom, int n, int y)
{
    for (int i = 0; i < n; i++)
        if (y < bottom[i])
            return i + 1;
    return 0;
}

static int has_token_label(const text_el_t *t, size_t n, uint64_t token)
{
    char want[32];
    snprintf(want, sizeof(want), "%" PRIu64, token);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].cls, "token") == 0 && strcmp(t[i].body, want) == 0)
            return 1;
    return 0;
}

static void test_svg_labels_every_holding(void)
{
    /* Narrow holdings (a few px wide) that are still far enough apart. */
    mode_result_t *r = make(2, 2, 2, fenced_ok, N(fenced_ok), fenced_owners);
    char *svg = svg_of(r);
    text_el_t t[64];
    size_t n = texts(svg, t, 64);
    for (uint64_t tok = 10; tok <= 13; tok++)
        CU_ASSERT(has_token_label(t, n, tok));
    int bottom[8];
    CU_ASSERT_EQUAL(lane_bottoms(svg, bottom, 8), 2); /* one lane per worker */
    free(svg);
    destroy(r);
}

static void test_svg_crowded_lane(void)
{
    /* Worker 1 paused (token 1000000001), worker 2 then holds twenty times
     * within 40 ms, with long tokens: they cannot all have a visible label,
     * but the victim's and the successor's must, labels must not overlap
     * within a lane, and the 412 caption stays in the victim's lane. */
    ev_t ev[64];
    size_t k = 0;
    ev[k++] = (ev_t){0, 1, "acquired", 1000000001, -1, NULL, 0};
    ev[k++] = (ev_t){10, 1, "pause", 1000000001, 0, NULL, 0};
    for (int i = 0; i < 20; i++) {
        ev[k++] = (ev_t){2000 + 2 * i, 2, "acquired", 1000000002 + (uint64_t)i, -1, NULL, 0};
        ev[k++] = (ev_t){2001 + 2 * i, 2, "released", 1000000002 + (uint64_t)i, -1, NULL, 0};
    }
    ev[k++] = (ev_t){6000, 1, "resume", 1000000001, 0, NULL, 0};
    ev[k++] = (ev_t){6001, 1, "write_stale", 1000000001, 0, "w1-1", 412};
    ev[k++] = (ev_t){6002, 1, "released", 1000000001, -1, NULL, 0};
    /* A third, idle lane below the victim's: the caption must not reach it. */
    mode_result_t *r = make(4, 3, 1, ev, k, NULL);
    CU_ASSERT_EQUAL(r->successor_token, 1000000002);
    char *svg = svg_of(r);
    text_el_t t[128];
    size_t n = texts(svg, t, 128);
    CU_ASSERT(has_token_label(t, n, 1000000001));
    CU_ASSERT(has_token_label(t, n, 1000000002));
    int bottom[8];
    CU_ASSERT_EQUAL(lane_bottoms(svg, bottom, 8), 3);
    int caption_seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (strstr(t[i].body, "412 StaleFencingToken")) {
            caption_seen = 1;
            CU_ASSERT_EQUAL(lane_of_y(bottom, 3, t[i].y), 1);
        }
        /* Same lane, same row: no two labels overlap (width as drawn). */
        for (size_t j = i + 1; j < n; j++) {
            if (t[i].y != t[j].y)
                continue;
            double wi = 6.0 * (double)strlen(t[i].body), wj = 6.0 * (double)strlen(t[j].body);
            CU_ASSERT(t[i].x + wi <= t[j].x || t[j].x + wj <= t[i].x);
        }
    }
    CU_ASSERT(caption_seen);
    /* The victim's holding is drawn as lost: another worker got the lock
     * while it believed it held it, even though its release returned 0. */
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "token 1000000001 (lost"));
    free(svg);
    destroy(r);
}

/* ---- what the picture says, measured on the SVG itself ---- */

static int by_ms(const void *a, const void *b)
{
    const ev_t *x = a, *y = b;
    return x->ms < y->ms ? -1 : x->ms > y->ms;
}

/* A drawn text's box: from its x, y, anchor and length, in the monospace
 * font the SVG asks for (0.61 em advance, a little more than DejaVu Sans
 * Mono's 0.602 and Liberation Mono's 0.6; ascent 0.8 em, descent 0.25 em). */
typedef struct box {
    double x0, y0, x1, y1;
    char body[160];
} box_t;

static double attr_num(const char *tag, const char *end, const char *name, double dflt)
{
    char key[32];
    snprintf(key, sizeof(key), " %s='", name);
    const char *p = strstr(tag, key);
    return p && p < end ? atof(p + strlen(key)) : dflt;
}

static int attr_is(const char *tag, const char *end, const char *name, const char *value)
{
    char key[64];
    snprintf(key, sizeof(key), " %s='%s'", name, value);
    const char *p = strstr(tag, key);
    return p != NULL && p < end;
}

/* Every <text> of an SVG, as boxes. */
static size_t text_boxes(const char *svg, box_t *out, size_t cap)
{
    const char *root = strstr(svg, "<svg ");
    CU_ASSERT_FATAL(root != NULL);
    const char *root_end = strchr(root, '>');
    CU_ASSERT(attr_is(root, root_end, "font-family", "monospace")); /* the widths assume it */
    double fs_root = attr_num(root, root_end, "font-size", 16);
    size_t n = 0;
    for (const char *p = svg; n < cap && (p = strstr(p, "<text")) != NULL; p++) {
        const char *gt = strchr(p, '>'), *close = gt ? strstr(gt, "</text>") : NULL;
        if (close == NULL)
            break;
        box_t *b = &out[n++];
        double fs = attr_num(p, gt, "font-size", fs_root);
        size_t len = (size_t)(close - gt - 1);
        snprintf(b->body, sizeof(b->body), "%.*s", (int)len, gt + 1);
        double w = 0.61 * fs * (double)strlen(b->body);
        double x = attr_num(p, gt, "x", 0), y = attr_num(p, gt, "y", 0);
        if (attr_is(p, gt, "text-anchor", "end"))
            x -= w;
        else if (attr_is(p, gt, "text-anchor", "middle"))
            x -= w / 2;
        *b = (box_t){x, y - 0.8 * fs, x + w, y + 0.25 * fs, ""};
        snprintf(b->body, sizeof(b->body), "%.*s", (int)len, gt + 1);
    }
    return n;
}

/* No two texts of the SVG overlap, and each lies on the picture. Returns
 * the number of overlapping pairs (printed). */
static int overlaps(const char *svg)
{
    static box_t b[4096];
    size_t n = text_boxes(svg, b, 4096);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (b[i].x0 < 0 || b[i].x1 > 900) {
            fprintf(stderr, "  off the picture: '%s' x %.1f..%.1f\n", b[i].body, b[i].x0, b[i].x1);
            bad++;
        }
        for (size_t j = i + 1; j < n; j++) {
            if (b[i].x0 < b[j].x1 && b[j].x0 < b[i].x1 && b[i].y0 < b[j].y1 && b[j].y0 < b[i].y1) {
                fprintf(stderr, "  overlap: '%s' (%.1f..%.1f, %.1f) and '%s' (%.1f..%.1f, %.1f)\n",
                        b[i].body, b[i].x0, b[i].x1, b[i].y1, b[j].body, b[j].x0, b[j].x1, b[j].y1);
                bad++;
            }
        }
    }
    return bad;
}

/* The woken victim of mode 3 books every seat its stale write freed, in a
 * burst of short holdings right after the pause: the crowded lane of a
 * real run (12 workers, 40 seats). */
static mode_result_t *woken_burst(int seats, int gap_ms)
{
    ev_t *ev = calloc((size_t)(12 * seats + 64), sizeof(*ev));
    size_t k = 0;
    ev[k++] = (ev_t){100, 1, "acquired", 5000, -1, NULL, 0};
    ev[k++] = (ev_t){110, 1, "pause", 5000, 0, NULL, 0};
    uint64_t tok = 5001;
    static char bk[2][1000][16];
    for (int s = 0; s < seats; s++) { /* the others book every seat */
        int w = 2 + s % 3;
        int64_t t = 2500 + 40 * s;
        snprintf(bk[0][s], 16, "w%d-%d", w, s);
        ev[k++] = (ev_t){t, w, "acquired", tok, -1, NULL, 0};
        ev[k++] = (ev_t){t + 20, w, "write_ok", tok, s, bk[0][s], 200};
        ev[k++] = (ev_t){t + 21, w, "released", tok++, -1, NULL, 0};
    }
    ev[k++] = (ev_t){6110, 1, "resume", 5000, 0, NULL, 0};
    ev[k++] = (ev_t){6111, 1, "write_ok", 5000, 0, "w1-0", 200};
    ev[k++] = (ev_t){6112, 1, "lost", 5000, -1, NULL, -7};
    for (int s = 1; s < seats; s++) { /* the victim books the freed seats again */
        int64_t t = 6120 + (int64_t)gap_ms * s;
        snprintf(bk[1][s], 16, "w1-%d", s);
        ev[k++] = (ev_t){t, 1, "acquired", tok, -1, NULL, 0};
        ev[k++] = (ev_t){t + 1, 1, "write_ok", tok, s, bk[1][s], 200};
        ev[k++] = (ev_t){t + 2, 1, "released", tok++, -1, NULL, 0};
    }
    const char *owners[1000];
    owners[0] = "w1-0";
    for (int s = 1; s < seats; s++)
        owners[s] = bk[1][s];
    mode_result_t *r = make(3, 4, seats, ev, k, owners);
    free(ev);
    return r;
}

static void test_svg_labels_never_overlap(void)
{
    mode_result_t *r = woken_burst(40, 10);
    char *svg = svg_of(r);
    CU_ASSERT_EQUAL(overlaps(svg), 0);
    free(svg);
    destroy(r);
    r = woken_burst(10, 300); /* a few, far enough apart to be labelled */
    svg = svg_of(r);
    CU_ASSERT_EQUAL(overlaps(svg), 0);
    free(svg);
    destroy(r);

    /* Random timelines, seeded: any number of workers and holdings, long
     * and short tokens, a victim or not. */
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        seed = seed * 1103515245u + 12345u;
        int workers = 2 + (int)(seed >> 16) % 12, holds = 1 + (int)(seed >> 8) % 60;
        uint64_t tok = (seed & 1) ? 7 : 4294967296ull * 1000 + 1;
        ev_t ev[400];
        size_t k = 0;
        int64_t t = 0;
        int paused = round % 3 != 0;
        if (paused) {
            ev[k++] = (ev_t){0, 1, "acquired", tok, -1, NULL, 0};
            ev[k++] = (ev_t){5, 1, "pause", tok, 0, NULL, 0};
        }
        uint64_t vtok = tok++;
        for (int i = 0; i < holds; i++) {
            seed = seed * 1103515245u + 12345u;
            int w = 1 + (int)(seed >> 16) % workers;
            t += (seed >> 4) % 200;
            int64_t len = (seed >> 12) % 300;
            ev[k++] = (ev_t){t, w, "acquired", tok, -1, NULL, 0};
            ev[k++] = (ev_t){t + len, w, "write_ok", tok, i % 4, "b", 200};
            ev[k++] = (ev_t){t + len + 1, w, "released", tok++, -1, NULL, 0};
        }
        if (paused) {
            ev[k++] = (ev_t){t + 10, 1, "resume", vtok, 0, NULL, 0};
            ev[k++] = (ev_t){t + 11, 1, "write_stale", vtok, 0, "w1-x", 412};
        }
        qsort(ev, k, sizeof(ev[0]), by_ms); /* as report_load_events() sorts them */
        r = make(paused ? 4 : 2, workers, 4, ev, k, NULL);
        svg = svg_of(r);
        int bad = overlaps(svg);
        if (bad)
            fprintf(stderr, "  (round %d: %d workers, %d holdings)\n", round, workers, holds);
        CU_ASSERT_EQUAL(bad, 0);
        free(svg);
        destroy(r);
    }
}

/* The axis spans the whole mode, as the demo ran it: its end label is the
 * table's duration, even when the workers' events end well before. */
static void test_svg_axis_covers_the_mode(void)
{
    mode_result_t *r = make(2, 2, 2, fenced_ok, N(fenced_ok), fenced_owners);
    /* The demo's own times of the mode (its events span 100..168 ms), and
     * the duration report_analyse() derives from them. */
    r->start_ms = 1;
    r->end_ms = 900;
    r->duration_ms = r->end_ms - r->start_ms;
    char *svg = svg_of(r);
    char want[64];
    snprintf(want, sizeof(want), "text-anchor='end'>%.1f s</text>", (double)r->duration_ms / 1000);
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, want));
    /* The last holding ends at 168 ms: a fifth of the way, not the edge. */
    const char *last = strstr(svg, "data-token='13'");
    CU_ASSERT_FATAL(last != NULL);
    double x = attr_num(last, strchr(last, '>'), "x", 0);
    CU_ASSERT(x < 70 + (890 - 70) * 0.25);
    CU_ASSERT_EQUAL(overlaps(svg), 0);
    free(svg);
    destroy(r);
}

/* Mode 3's caption and story count what the table counts. */
static void test_notes_count_what_the_table_counts(void)
{
    mode_result_t *r = woken_burst(10, 300);
    CU_ASSERT_EQUAL(r->lost_bookings, 10);
    CU_ASSERT_EQUAL(r->double_booked, 10);
    char *svg = svg_of(r);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(svg, "unfenced write accepted: 10 bookings lost, 10 seats sold twice"));
    CU_ASSERT_PTR_NULL(strstr(svg, "seat 0 booked twice"));
    char story[2048];
    report_story(r, story, sizeof(story));
    CU_ASSERT_PTR_NOT_NULL(strstr(story, "10 confirmed bookings lost and 10 seats sold twice"));
    CU_ASSERT_PTR_NOT_NULL(strstr(story, "wrote back the seat map it had read before the pause"));
    CU_ASSERT_PTR_NOT_NULL(strstr(story, "Its 9 later writes (tokens 5011 to 5019)"));
    free(svg);
    destroy(r);

    r = make(4, 2, 2, paused_fenced, N(paused_fenced), fenced_pause_owners);
    report_story(r, story, sizeof(story));
    CU_ASSERT_PTR_NOT_NULL(strstr(story, "with its old token 10"));
    CU_ASSERT_PTR_NOT_NULL(strstr(story, "already accepted token 11"));
    CU_ASSERT_PTR_NOT_NULL(strstr(story, "412 StaleFencingToken"));
    CU_ASSERT_PTR_NOT_NULL(strstr(story, "0 bookings lost, 0 seats sold twice"));
    destroy(r);
    r = make(2, 2, 2, fenced_ok, N(fenced_ok), fenced_owners);
    CU_ASSERT_STRING_EQUAL(report_story(r, story, sizeof(story)), ""); /* nobody paused */
    destroy(r);
}

static void test_svg_release_outcomes(void)
{
    const ev_t ev[] = {{0, 1, "acquired", 5, -1, NULL, 0},
                       {100, 1, "release_pending", 5, -1, NULL, -18},
                       {200, 2, "acquired", 6, -1, NULL, 0},
                       {300, 2, "lost", 6, -1, NULL, -7}};
    mode_result_t *r = make(2, 2, 1, ev, N(ev), NULL);
    char *svg = svg_of(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "token 5 (release pending"));
    CU_ASSERT_PTR_NOT_NULL(strstr(svg, "token 6 (lost"));
    free(svg);
    destroy(r);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("demo_report", NULL, NULL);
    CU_add_test(s, "mode 1 must show the race", test_mode1_needs_the_race);
    CU_add_test(s, "mode 2 must give exactly S bookings", test_mode2_exactly_s);
    CU_add_test(s, "mode 3 must show the overwrite", test_mode3_needs_the_overwrite);
    CU_add_test(s, "mode 4 must show the refusal", test_mode4_needs_the_refusal);
    CU_add_test(s, "verdict needs every mode", test_verdict_needs_every_mode);
    CU_add_test(s, "svg: every holding labelled", test_svg_labels_every_holding);
    CU_add_test(s, "svg: crowded lane", test_svg_crowded_lane);
    CU_add_test(s, "svg: release outcomes", test_svg_release_outcomes);
    CU_add_test(s, "svg: labels never overlap", test_svg_labels_never_overlap);
    CU_add_test(s, "svg: the axis covers the whole mode", test_svg_axis_covers_the_mode);
    CU_add_test(s, "notes count what the table counts", test_notes_count_what_the_table_counts);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

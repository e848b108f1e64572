/* The demo's report: analysis of each mode's events, the verdict, a
 * terminal table, a machine-readable report.tsv, and a self-contained HTML
 * page with an SVG timeline per mode. */
#ifndef ZKF_DEMO_REPORT_H
#define ZKF_DEMO_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "seatmap.h"

/* Workers are numbered 1..REPORT_MAX_WORKERS in the demo's events; other
 * ids (a container's worker) are counted but get no lane. */
#define REPORT_MAX_WORKERS 64

typedef struct demo_event {
    int64_t ms;
    int worker;
    char ev[16];
    uint64_t token;
    int seat;
    char booking[32];
    int status;
} demo_event_t;

typedef struct mode_result {
    int mode;
    const char *name;  /* "nolock", ...: report.tsv */
    const char *title; /* "no lock", ...: table and page */
    int seats, workers, fenced, paused;
    /* The mode did not run to its end (worker error, timeout, proxy
     * error): the verdict fails whatever the numbers say. */
    int failed;
    char error[200];
    seatmap_t final_map;
    demo_event_t *events; /* owned: free() */
    size_t nevents;
    int64_t start_ms, end_ms;             /* the mode's run, as the demo saw it */
    int64_t pause_start_ms, pause_end_ms; /* the victim's stop, 0 if none */
    /* analysis */
    int confirmed;       /* bookings the customer was told are confirmed */
    int writes_accepted; /* seat-map writes the proxy answered 2xx */
    int stale_rejected;  /* writes refused with 412 StaleFencingToken */
    int failed_writes;   /* other refused writes */
    int double_booked;   /* seats confirmed to two or more customers */
    int oversold;        /* confirmations beyond capacity */
    int lost_bookings;   /* confirmed, yet not in the final seat map */
    int seats_sold;      /* seats taken in the final map */
    int acquisitions;
    double hold_ms_mean;
    int64_t duration_ms;
    /* The pause: who was stopped holding which token, and who came next. */
    int victim_worker, victim_seat, successor_worker;
    uint64_t victim_token, successor_token;
    int64_t successor_ms;   /* when the successor got the lock */
    int victim_write_ok;    /* the victim's write after it woke was accepted */
    int victim_write_stale; /* ... or refused as stale */
    int victim_seat_double; /* the victim's seat ended up confirmed twice */
} mode_result_t;

/* Marks the mode failed with a reason (the first one given is kept). */
void report_fail(mode_result_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads an events file into r->events (sorted by time). 0, or -1. */
int report_load_events(const char *path, mode_result_t *r);
/* Fills the analysis fields from r->events and r->final_map. */
void report_analyse(mode_result_t *r);
/* NULL when the mode shows what it exists to show, else why not (in buf). */
const char *report_problem(const mode_result_t *r, char *buf, size_t len);
/* 0 when n > 0 and every mode shows what it exists to show; 1 otherwise. */
int report_verdict(const mode_result_t *r, int n);
void report_print(FILE *f, const mode_result_t *r, int n);
/* For a paused mode: what happened to the paused holder and its writes
 * after it woke, in words, with the numbers the table counts. "" for the
 * other modes. Returns buf. */
const char *report_story(const mode_result_t *m, char *buf, size_t len);
/* One mode's timeline as a standalone SVG document. */
void report_svg(FILE *f, const mode_result_t *m);
/* report.txt, report.tsv, report.html and timeline-modeN.svg into dir. */
int report_write(const char *dir, const mode_result_t *r, int n, int session_ms, int pause_ms);

#endif

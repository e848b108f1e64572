/* The demo's report: analysis of each mode's events, a terminal table, and
 * a self-contained HTML page with an SVG timeline per mode. */
#ifndef ZKF_DEMO_REPORT_H
#define ZKF_DEMO_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "seatmap.h"

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
    const char *title;
    int seats, workers, fenced, paused;
    seatmap_t final_map;
    demo_event_t *events;
    size_t nevents;
    int64_t pause_start_ms, pause_end_ms;
    /* analysis */
    int confirmed;      /* bookings the customer was told are confirmed */
    int stale_rejected; /* writes refused with 412 StaleFencingToken */
    int failed_writes;  /* other refused writes */
    int double_booked;  /* seats confirmed to two or more customers */
    int oversold;       /* confirmations beyond capacity */
    int lost_bookings;  /* confirmed, yet not in the final seat map */
    int seats_sold;     /* seats taken in the final map */
    int acquisitions;
    double hold_ms_mean;
    int64_t duration_ms;
    uint64_t victim_token, successor_token;
} mode_result_t;

int report_load_events(const char *path, mode_result_t *r);
void report_analyse(mode_result_t *r);
/* 0 when the outcome is the one each mode exists to show. */
int report_verdict(const mode_result_t *r, int n);
void report_print(FILE *f, const mode_result_t *r, int n);
int report_write(const char *dir, const mode_result_t *r, int n, int session_ms, int pause_ms);

#endif

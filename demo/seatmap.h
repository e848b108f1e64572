/* The demo's seat map: one line per seat, "seat-<n> <booking id or ->". */
#ifndef ZKF_DEMO_SEATMAP_H
#define ZKF_DEMO_SEATMAP_H

#define SEATMAP_MAX 1000

typedef struct seatmap {
    int n;
    char owner[SEATMAP_MAX][32]; /* "-" when free */
} seatmap_t;

void seatmap_init(seatmap_t *m, int seats);
int seatmap_parse(const char *text, seatmap_t *m); /* 0, or -1 on malformed text */
int seatmap_first_free(const seatmap_t *m);        /* index, or -1 when full */
void seatmap_set(seatmap_t *m, int seat, const char *booking);
char *seatmap_format(const seatmap_t *m); /* malloc'ed text */

#endif

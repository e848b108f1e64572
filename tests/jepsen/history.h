/* The Jepsen-style suite's history: the workers' event logs and the final
 * ledger, parsed, and the checker's rules applied to them.
 *
 * A worker appends one line per event to its own log (worker.c writes them,
 * this file reads them):
 *
 *   <unix us> <worker> <event> <token> <op> <status> [detail...]
 *
 * and a ledger line is "<worker> <op> <token>". An operation is one append:
 * `invoke` is logged (durably) before its PUT is sent, then exactly one of
 * `ok` (200), `refused` (4xx: nothing written) or `unknown` (timeout,
 * connection error, 5xx: it may or may not have landed). An invoke with no
 * outcome (the worker was killed) counts as unknown.
 *
 * The rules (a violation each):
 *   - lost: an acknowledged append missing from the final ledger;
 *   - duplicated: an append present more than once;
 *   - refused present: a refused append present;
 *   - phantom: a ledger line no worker ever invoked, or with another token;
 *   - order: a ledger line whose token is lower than the line before it;
 *   - a history that cannot be trusted: a malformed line, an op invoked
 *     twice, an outcome without its invoke, two outcomes for one op.
 * Unknown appends may be present or absent.
 *
 * Also measured: stale write attempts (a PUT sent with a token lower than
 * that of a holder who had already acquired), the stale writes that raced
 * a newer holder's read-modify-write (sent after that holder's read and
 * before its write), and the longest time without an acknowledged append.
 *
 * Not thread-safe; no global state. */
#ifndef JP_HISTORY_H
#define JP_HISTORY_H

#include <stddef.h>
#include <stdint.h>

typedef enum jp_kind {
    JP_EV_OTHER = 0, /* start, released, pause, ...: kept for nothing but the count */
    JP_EV_ACQUIRED,
    JP_EV_READ, /* a successful (possibly fenced) read of the ledger */
    JP_EV_READ_REFUSED,
    JP_EV_ADVANCE_REFUSED,
    JP_EV_INVOKE,
    JP_EV_OK,
    JP_EV_REFUSED,
    JP_EV_UNKNOWN
} jp_kind_t;

typedef struct jp_event {
    int64_t us;
    int worker;
    jp_kind_t kind;
    uint64_t token;
    uint64_t op;
    int status;
} jp_event_t;

typedef struct jp_entry { /* one ledger line */
    int worker;
    uint64_t op;
    uint64_t token;
} jp_entry_t;

typedef enum jp_outcome { JP_NONE = 0, JP_OK, JP_REFUSED, JP_UNKNOWN } jp_outcome_t;

typedef struct jp_op {
    int worker;
    uint64_t op;
    uint64_t token;
    int64_t invoke_us, outcome_us;
    jp_outcome_t outcome;
    int status;
    int in_ledger;      /* number of ledger lines naming it */
    size_t ledger_line; /* the first of them (1-based) */
    int stale;          /* sent after a holder with a higher token had acquired */
    int raced;          /* ...and after that holder's read, before its write */
} jp_op_t;

typedef struct jp_history {
    jp_event_t *ev;
    size_t nev, cap_ev;
    jp_entry_t *led;
    size_t nled, cap_led;
    /* Violations (kept: the first max_kept; counted: all). */
    char **viol;
    size_t nviol_kept, nviol, max_kept;
    /* Filled by jp_analyse(). */
    jp_op_t *ops;
    size_t nops;
} jp_history_t;

typedef struct jp_report {
    size_t workers;
    size_t ops, ok, refused, unknown, unknown_present, unknown_absent;
    size_t lost, duplicated, refused_present, phantom, order;
    size_t stale, stale_ok, stale_refused, stale_unknown, raced;
    size_t reads, reads_refused, advances_refused, acquisitions;
    size_t ledger_lines;
    int64_t max_gap_us; /* longest time without an acknowledged append */
    size_t violations;
} jp_report_t;

/* Initialises an empty history that keeps the text of up to max_kept
 * violations. */
void jp_history_init(jp_history_t *h, size_t max_kept);
/* Frees everything the history holds (not h itself). */
void jp_history_free(jp_history_t *h);

/* Reads a whole file (as long as it was when opened) into *out,
 * malloc'ed and NUL-terminated, *len bytes; the caller frees it. Returns 0,
 * or -1 with errno set. */
int jp_read_file(const char *path, char **out, size_t *len);

/* Parses one worker log (`len` bytes, need not be NUL-terminated), named
 * `name` in violations. A malformed line is a violation; parsing goes on.
 * Returns 0, or -1 when out of memory. */
int jp_parse_log(jp_history_t *h, const char *name, const char *text, size_t len);

/* Parses the final ledger. A malformed line is a violation. Returns 0, or
 * -1 when out of memory. */
int jp_parse_ledger(jp_history_t *h, const char *text, size_t len);

/* Applies the rules, fills *r and h->ops, and records the violations.
 * end_us (0: none) closes the last period without progress: the time the
 * run stopped. Call once, after every log and the ledger were parsed.
 * Returns 0, or -1 when out of memory. */
int jp_analyse(jp_history_t *h, int64_t end_us, jp_report_t *r);

#endif

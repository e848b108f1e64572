/* jepsen-check: the Jepsen-style suite's history checker.
 *
 *   jepsen-check --ledger FILE [--name NAME] [--end-us US] [--max-violations N] LOG...
 *
 * Reads the final ledger and every worker log, applies the rules of
 * history.h, prints a summary, the first violations (with their tokens and
 * times relative to the first event), and one machine-readable line:
 *
 *   SUMMARY name=.. ops=.. ok=.. refused=.. unknown=.. lost=.. ... violations=..
 *
 * Exits 0 with no violation, 1 with any, 66 if a file cannot be read, 64 on
 * a usage error, 70 when out of memory. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"

static int usage(void)
{
    fprintf(stderr, "usage: jepsen-check --ledger FILE [--name NAME] [--end-us US]\n"
                    "                    [--max-violations N] LOG...\n");
    return 64;
}

static int load(jp_history_t *h, const char *path, int is_ledger)
{
    char *text;
    size_t len;
    if (jp_read_file(path, &text, &len) != 0) {
        fprintf(stderr, "jepsen-check: %s: %s\n", path, strerror(errno));
        return 66;
    }
    int rc = is_ledger ? jp_parse_ledger(h, text, len) : jp_parse_log(h, path, text, len);
    free(text);
    if (rc != 0) {
        fprintf(stderr, "jepsen-check: out of memory\n");
        return 70;
    }
    return 0;
}

static void print(const char *name, const jp_report_t *r, const jp_history_t *h)
{
    printf("%s: %zu workers, %zu appends: %zu acknowledged, %zu refused, %zu unknown "
           "(%zu present, %zu absent); final ledger %zu lines\n",
           name, r->workers, r->ops, r->ok, r->refused, r->unknown, r->unknown_present,
           r->unknown_absent, r->ledger_lines);
    printf("%s: %zu acquisitions, %zu reads, %zu reads refused, %zu fence-advances refused\n", name,
           r->acquisitions, r->reads, r->reads_refused, r->advances_refused);
    printf("%s: stale writes attempted: %zu (%zu sent inside a newer holder's read-modify-write); "
           "%zu refused, %zu acknowledged, %zu unknown\n",
           name, r->stale, r->raced, r->stale_refused, r->stale_ok, r->stale_unknown);
    printf("%s: longest time without an acknowledged append: %.3f s\n", name,
           (double)r->max_gap_us / 1e6);
    printf("%s: violations: %zu (lost %zu, duplicated %zu, refused present %zu, phantom %zu, "
           "tokens going down %zu)\n",
           name, r->violations, r->lost, r->duplicated, r->refused_present, r->phantom, r->order);
    for (size_t i = 0; i < h->nviol_kept; i++)
        printf("  %s\n", h->viol[i]);
    if (h->nviol > h->nviol_kept)
        printf("  ... and %zu more\n", h->nviol - h->nviol_kept);
    printf("SUMMARY name=%s workers=%zu ops=%zu ok=%zu refused=%zu unknown=%zu "
           "unknown_present=%zu lost=%zu duplicated=%zu refused_present=%zu phantom=%zu "
           "order=%zu stale=%zu stale_ok=%zu stale_refused=%zu raced=%zu reads=%zu "
           "reads_refused=%zu advances_refused=%zu acquisitions=%zu ledger=%zu max_gap_ms=%" PRId64
           " violations=%zu\n",
           name, r->workers, r->ops, r->ok, r->refused, r->unknown, r->unknown_present, r->lost,
           r->duplicated, r->refused_present, r->phantom, r->order, r->stale, r->stale_ok,
           r->stale_refused, r->raced, r->reads, r->reads_refused, r->advances_refused,
           r->acquisitions, r->ledger_lines, r->max_gap_us / 1000, r->violations);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"ledger", required_argument, NULL, 'l'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"end-us", required_argument, NULL, 'e'},
                                         {"max-violations", required_argument, NULL, 'm'},
                                         {0, 0, 0, 0}};
    const char *ledger = NULL, *name = "history";
    long long end_us = 0;
    long max_kept = 20;
    char *end;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'l':
            ledger = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'e':
            errno = 0;
            end_us = strtoll(optarg, &end, 10);
            if (errno || *end || end_us < 0)
                return usage();
            break;
        case 'm':
            errno = 0;
            max_kept = strtol(optarg, &end, 10);
            if (errno || *end || max_kept < 0 || max_kept > 100000)
                return usage();
            break;
        default:
            return usage();
        }
    }
    if (ledger == NULL || optind == argc)
        return usage();
    jp_history_t h;
    jp_history_init(&h, (size_t)max_kept);
    int rc = load(&h, ledger, 1);
    for (int i = optind; rc == 0 && i < argc; i++)
        rc = load(&h, argv[i], 0);
    jp_report_t r;
    if (rc == 0 && jp_analyse(&h, end_us, &r) != 0) {
        fprintf(stderr, "jepsen-check: out of memory\n");
        rc = 70;
    }
    if (rc == 0) {
        print(name, &r, &h);
        rc = r.violations ? 1 : 0;
    }
    jp_history_free(&h);
    return rc;
}

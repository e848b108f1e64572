/* Fuzz target: the Jepsen-style suite's log and ledger parsers and the
 * checker's analysis. The first byte picks how the input is split: all of
 * it as a log, all of it as a ledger, or both halves. */
#include <stddef.h>
#include <stdint.h>

#include "history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1, half = len / 2;
    jp_history_t h;
    jp_history_init(&h, 4);
    switch (data[0] % 3) {
    case 0:
        jp_parse_log(&h, "fuzz", text, len);
        break;
    case 1:
        jp_parse_ledger(&h, text, len);
        break;
    default:
        jp_parse_log(&h, "fuzz", text, half);
        jp_parse_ledger(&h, text + half, len - half);
        break;
    }
    jp_report_t r;
    jp_analyse(&h, 0, &r);
    jp_history_free(&h);
    return 0;
}

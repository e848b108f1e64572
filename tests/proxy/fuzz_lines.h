/* Shared by the proxy's fuzz targets whose input is a request as lines
 * (method, target, "name: value" headers). */
#ifndef PT_FUZZ_LINES_H
#define PT_FUZZ_LINES_H

#include <string.h>

/* The next '\n'-terminated line of *p, NUL-terminated in place; NULL at
 * the end. */
static inline char *pt_next_line(char **p)
{
    char *s = *p;
    if (s == NULL)
        return NULL;
    char *nl = strchr(s, '\n');
    if (nl != NULL) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return s;
}

#endif

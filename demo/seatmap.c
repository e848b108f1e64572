#include "seatmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void seatmap_init(seatmap_t *m, int seats)
{
    m->n = seats;
    for (int i = 0; i < seats; i++)
        strcpy(m->owner[i], "-");
}

int seatmap_parse(const char *text, seatmap_t *m)
{
    m->n = 0;
    const char *p = text;
    while (p && *p) {
        int idx;
        char who[32];
        if (sscanf(p, "seat-%d %31s", &idx, who) != 2 || idx != m->n || m->n >= SEATMAP_MAX)
            return -1;
        snprintf(m->owner[m->n++], sizeof(m->owner[0]), "%s", who);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return m->n > 0 ? 0 : -1;
}

int seatmap_first_free(const seatmap_t *m)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->owner[i], "-") == 0)
            return i;
    return -1;
}

void seatmap_set(seatmap_t *m, int seat, const char *booking)
{
    snprintf(m->owner[seat], sizeof(m->owner[0]), "%s", booking);
}

char *seatmap_format(const seatmap_t *m)
{
    size_t cap = (size_t)m->n * 48 + 1;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t len = 0;
    for (int i = 0; i < m->n; i++)
        len += (size_t)snprintf(out + len, cap - len, "seat-%d %s\n", i, m->owner[i]);
    return out;
}

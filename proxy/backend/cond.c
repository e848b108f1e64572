/* Precondition checks: see cond.h. */
#include "backend/cond.h"

#include <string.h>

#include "util/textutil.h"

int zkp_cond_none(const zkp_cond_t *c)
{
    return c == NULL || (c->if_match == NULL && c->if_none_match == NULL &&
                         c->if_modified_since == NULL && c->if_unmodified_since == NULL);
}

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* One list element s[0..len), spaces trimmed, against etag. */
static int element_matches(const char *s, size_t len, const char *etag, int weak)
{
    while (len > 0 && ows(*s)) {
        s++;
        len--;
    }
    while (len > 0 && ows(s[len - 1]))
        len--;
    if (len == 1 && *s == '*')
        return 1;
    if (len >= 2 && s[0] == 'W' && s[1] == '/') {
        if (!weak)
            return 0; /* strong comparison: a weak tag matches nothing */
        s += 2;
        len -= 2;
    }
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    return len > 0 && strlen(etag) == len && memcmp(s, etag, len) == 0;
}

int zkp_etag_list_match(const char *list, const char *etag, int weak)
{
    if (list == NULL || etag == NULL)
        return 0;
    /* Commas inside a quoted tag are not separators (RFC 7232 etagc
     * excludes '"' but allows ','). */
    const char *start = list;
    int quoted = 0;
    for (const char *p = list;; p++) {
        if (*p == '"')
            quoted = !quoted;
        if (*p == '\0' || (*p == ',' && !quoted)) {
            if (element_matches(start, (size_t)(p - start), etag, weak))
                return 1;
            if (*p == '\0')
                return 0;
            start = p + 1;
        }
    }
}

/* The date of a header, if it parses; NULL or junk: 0 (ignored). */
static int date_of(const char *v, time_t *t)
{
    return v != NULL && zkp_http_date_parse(v, t) == 0;
}

static zkp_cond_result_t refuse(zkp_cond_result_t r, const char *header, const char **failed)
{
    if (failed != NULL)
        *failed = header;
    return r;
}

zkp_cond_result_t zkp_cond_check_read(const zkp_cond_t *c, const char *etag, time_t mtime,
                                      const char **failed)
{
    if (c == NULL)
        return ZKP_COND_PASS;
    time_t t;
    if (c->if_match != NULL) {
        if (!zkp_etag_list_match(c->if_match, etag, 0))
            return refuse(ZKP_COND_FAILED, "If-Match", failed);
    } else if (date_of(c->if_unmodified_since, &t) && mtime > t) {
        return refuse(ZKP_COND_FAILED, "If-Unmodified-Since", failed);
    }
    if (c->if_none_match != NULL) {
        if (zkp_etag_list_match(c->if_none_match, etag, 1))
            return refuse(ZKP_COND_NOT_MODIFIED, "If-None-Match", failed);
    } else if (date_of(c->if_modified_since, &t) && t <= time(NULL) && mtime <= t) {
        return refuse(ZKP_COND_NOT_MODIFIED, "If-Modified-Since", failed);
    }
    return ZKP_COND_PASS;
}

zkp_cond_result_t zkp_cond_check_write(const zkp_cond_t *c, int exists, const char *etag,
                                       const char **failed)
{
    if (c == NULL)
        return ZKP_COND_PASS;
    if (c->if_match != NULL && !exists)
        return refuse(ZKP_COND_NO_OBJECT, "If-Match", failed);
    if (c->if_match != NULL && !zkp_etag_list_match(c->if_match, etag, 0))
        return refuse(ZKP_COND_FAILED, "If-Match", failed);
    if (c->if_none_match != NULL && exists && zkp_etag_list_match(c->if_none_match, etag, 1))
        return refuse(ZKP_COND_FAILED, "If-None-Match", failed);
    return ZKP_COND_PASS;
}

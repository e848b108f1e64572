#include "util/textutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int zkp_pct_decode(const char *s, size_t len, int plus_is_space, char *out, size_t *outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) /* needs two hex digits after '%' */
                return -1;
            int hi = hexval((unsigned char)s[i + 1]);
            int lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}

size_t zkp_pct_encode(const char *s, size_t len, int keep_slash, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (c == '/' && keep_slash)) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

void zkp_hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * len] = '\0';
}

long zkp_hex_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
    if (len % 2 != 0 || len / 2 > cap)
        return -1;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval((unsigned char)s[i]);
        int lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi * 16 + lo);
    }
    return (long)(len / 2);
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long zkp_base64_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
    if (len % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            char c = s[i + j];
            if (c == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad > 0) /* data after padding */
                return -1;
            v[j] = b64val((unsigned char)c);
            if (v[j] < 0)
                return -1;
        }
        uint32_t w = (uint32_t)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        unsigned char bytes[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8),
                                  (unsigned char)w};
        for (int j = 0; j < 3 - pad; j++) {
            if (o >= cap)
                return -1;
            out[o++] = bytes[j];
        }
    }
    return (long)o;
}

/* UTC broken down by arithmetic (days since the epoch to a proleptic
 * Gregorian date, by 400-year eras), not gmtime_r: glibc's takes the time
 * zone lock on every call, and every GET formats its Last-Modified. */
typedef struct utc {
    long long year;
    int mon, mday, wday, hour, min, sec; /* mon 1-12; wday 0 = Monday */
} utc_t;

static utc_t utc_of(time_t t)
{
    long long secs = (long long)t, days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    utc_t u;
    u.hour = (int)(rem / 3600);
    u.min = (int)(rem % 3600 / 60);
    u.sec = (int)(rem % 60);
    u.wday = (int)(((days + 3) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    long long z = days + 719468;              /* days since 0000-03-01 */
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;                                      /* [0, 146096] */
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    long long mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    u.mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    u.mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    u.year = yoe + era * 400 + (u.mon <= 2);
    return u;
}

/* Writes n decimal digits of v (zero-padded) at p; returns p + n. */
static char *put_num(char *p, long long v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* Writes "HH:MM:SS" at p; returns the end. */
static char *put_clock(char *p, const utc_t *u)
{
    p = put_num(p, u->hour, 2);
    *p++ = ':';
    p = put_num(p, u->min, 2);
    *p++ = ':';
    return put_num(p, u->sec, 2);
}

/* Copies the string s into out (cap bytes), cut to fit. */
static void copy_out(const char *s, char *out, size_t cap)
{
    if (cap == 0)
        return;
    size_t n = strlen(s);
    n = n < cap - 1 ? n : cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Dates beyond four-digit years are not HTTP-dates: such a time (only a
 * damaged object file could hold one) is written as the epoch. */
static utc_t utc_of_4digit(time_t t)
{
    utc_t u = utc_of(t);
    return u.year < 0 || u.year > 9999 ? utc_of(0) : u;
}

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

void zkp_http_date(time_t t, char *out, size_t cap)
{
    utc_t u = utc_of_4digit(t);
    char b[32], *p = b;
    memcpy(p, days[u.wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put_num(p, u.mday, 2);
    *p++ = ' ';
    memcpy(p, months[u.mon - 1], 3);
    p += 3;
    *p++ = ' ';
    p = put_num(p, u.year, 4);
    *p++ = ' ';
    p = put_clock(p, &u);
    memcpy(p, " GMT", 5);
    copy_out(b, out, cap);
}

/* --- HTTP-date parsing -------------------------------------------------------- */

static const char *const long_days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};

/* Consumes exactly n digits; -1 if fewer. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* Consumes one of the names; returns its index or -1. */
static int name_of(const char **p, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (strncmp(*p, names[i], len) == 0) {
            *p += len;
            return (int)i;
        }
    }
    return -1;
}

static int lit(const char **p, const char *s)
{
    size_t len = strlen(s);
    if (strncmp(*p, s, len) != 0)
        return -1;
    *p += len;
    return 0;
}

/* "HH:MM:SS" into tm. */
static int clock_of(const char **p, struct tm *tm)
{
    tm->tm_hour = digits(p, 2);
    if (tm->tm_hour < 0 || lit(p, ":") != 0)
        return -1;
    tm->tm_min = digits(p, 2);
    if (tm->tm_min < 0 || lit(p, ":") != 0)
        return -1;
    tm->tm_sec = digits(p, 2);
    return tm->tm_sec < 0 ? -1 : 0;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int date_valid(const struct tm *tm)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm->tm_year + 1900;
    int dim = mdays[tm->tm_mon] + (tm->tm_mon == 1 && leap(y));
    return y >= 1970 && tm->tm_mday >= 1 && tm->tm_mday <= dim && tm->tm_hour <= 23 &&
           tm->tm_min <= 59 && tm->tm_sec <= 60;
}

/* After the day name: ", 06 Nov 1994 08:49:37 GMT" (IMF-fixdate) or
 * "day, 06-Nov-94 08:49:37 GMT" (RFC 850, long day name). */
static int fixdate_or_rfc850(const char **p, int rfc850, struct tm *tm)
{
    char sep = rfc850 ? '-' : ' ';
    if (lit(p, ", ") != 0 || (tm->tm_mday = digits(p, 2)) < 0 || **p != sep)
        return -1;
    (*p)++;
    if ((tm->tm_mon = name_of(p, months, 12)) < 0 || **p != sep)
        return -1;
    (*p)++;
    int y = digits(p, rfc850 ? 2 : 4);
    if (y < 0)
        return -1;
    tm->tm_year = (rfc850 ? (y < 70 ? 2000 + y : 1900 + y) : y) - 1900;
    if (lit(p, " ") != 0 || clock_of(p, tm) != 0)
        return -1;
    return lit(p, " GMT");
}

/* After the day name: " Nov  6 08:49:37 1994" (asctime; the day is
 * space-padded). */
static int asctime_date(const char **p, struct tm *tm)
{
    if (lit(p, " ") != 0 || (tm->tm_mon = name_of(p, months, 12)) < 0 || lit(p, " ") != 0)
        return -1;
    if (**p == ' ') {
        (*p)++;
        tm->tm_mday = digits(p, 1);
    } else {
        tm->tm_mday = digits(p, 2);
    }
    if (tm->tm_mday < 0 || lit(p, " ") != 0 || clock_of(p, tm) != 0 || lit(p, " ") != 0)
        return -1;
    int y = digits(p, 4);
    tm->tm_year = y - 1900;
    return y < 0 ? -1 : 0;
}

int zkp_http_date_parse(const char *s, time_t *out)
{
    if (s == NULL)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *p = s;
    int rc;
    if (name_of(&p, long_days, 7) >= 0) {
        rc = fixdate_or_rfc850(&p, 1, &tm);
    } else if (name_of(&p, days, 7) >= 0) {
        rc = *p == ',' ? fixdate_or_rfc850(&p, 0, &tm) : asctime_date(&p, &tm);
    } else {
        return -1;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (rc != 0 || *p != '\0' || !date_valid(&tm))
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t;
    return 0;
}

void zkp_iso8601(time_t t, char *out, size_t cap)
{
    utc_t u = utc_of_4digit(t);
    char b[32], *p = b;
    p = put_num(p, u.year, 4);
    *p++ = '-';
    p = put_num(p, u.mon, 2);
    *p++ = '-';
    p = put_num(p, u.mday, 2);
    *p++ = 'T';
    p = put_clock(p, &u);
    memcpy(p, ".000Z", 6);
    copy_out(b, out, cap);
}

int zkp_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n >= len) /* truncated sequence */
            return 0;
        for (size_t j = 1; j <= n; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

int zkp_has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int zkp_bucket_name_valid(const char *s, size_t len)
{
    if (len < 3 || len > ZKP_BUCKET_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '.')
            return 0;
        if ((i == 0 || i == len - 1) && !alnum)
            return 0;
        if (c == '.' && i > 0 && s[i - 1] == '.')
            return 0;
    }
    return 1;
}

/* Four dot-separated groups of 1-3 digits: the form S3 refuses. */
static int looks_like_ipv4(const char *s, size_t len)
{
    size_t groups = 1, digits = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (digits == 0)
                return 0;
            groups++;
            digits = 0;
        } else if (s[i] >= '0' && s[i] <= '9') {
            if (++digits > 3)
                return 0;
        } else {
            return 0;
        }
    }
    return groups == 4 && digits > 0;
}

int zkp_bucket_name_creatable(const char *s, size_t len)
{
    static const char *const prefixes[] = {"xn--", "sthree-", "amzn-s3-demo-"};
    static const char *const suffixes[] = {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"};
    if (!zkp_bucket_name_valid(s, len) || looks_like_ipv4(s, len))
        return 0;
    for (size_t i = 0; i + 1 < len; i++)
        if ((s[i] == '-' && s[i + 1] == '.') || (s[i] == '.' && s[i + 1] == '-'))
            return 0;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (len >= strlen(prefixes[i]) && memcmp(s, prefixes[i], strlen(prefixes[i])) == 0)
            return 0;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t n = strlen(suffixes[i]);
        if (len >= n && memcmp(s + len - n, suffixes[i], n) == 0)
            return 0;
    }
    return 1;
}

/* SigV4 timestamps (ISO 8601 basic, UTC) and the clock rules: 15 minutes of
 * skew for signed headers, X-Amz-Expires for presigned URLs. Calendar
 * arithmetic is done here rather than with timegm()/gmtime_r(), so that
 * parsing never depends on the process's time zone or locale. */
#include <string.h>

#include "sigv4_int.h"

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

static int digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int zkp_sigv4_parse_amz_date(const char *s, size_t len, time_t *out)
{
    unsigned y, mo, d, h, mi, se;
    if (s == NULL || out == NULL || len != ZKP_SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return -1;
    if (digits(s, 4, &y) || digits(s + 4, 2, &mo) || digits(s + 6, 2, &d) || digits(s + 9, 2, &h) ||
        digits(s + 11, 2, &mi) || digits(s + 13, 2, &se))
        return -1;
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    if ((int64_t)(time_t)t != t)
        return -1;
    *out = (time_t)t;
    return 0;
}

/* v in exactly n decimal digits (v < 10^n). */
static void put_digits(char *out, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

void zkp_sigv4_format_amz_date(time_t t, char out[ZKP_SIGV4_AMZ_DATE_LEN + 1])
{
    int64_t secs = (int64_t)t;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) { /* out of the format's range: clamp rather than overflow */
        memcpy(out, y < 0 ? "00000101T000000Z" : "99991231T235959Z", 17);
        return;
    }
    put_digits(out, (unsigned)y, 4);
    put_digits(out + 4, m, 2);
    put_digits(out + 6, d, 2);
    out[8] = 'T';
    put_digits(out + 9, (unsigned)(rem / 3600), 2);
    put_digits(out + 11, (unsigned)(rem / 60 % 60), 2);
    put_digits(out + 13, (unsigned)(rem % 60), 2);
    out[15] = 'Z';
    out[16] = '\0';
}

int zkp_sigv4_check_time(time_t request_time, time_t now, long expires, unsigned max_skew_s)
{
    int64_t rt = (int64_t)request_time, n = (int64_t)now, skew = (int64_t)max_skew_s;
    if (expires < 0)
        return (n - rt > skew || rt - n > skew) ? ZKP_SIGV4_ESKEW : 0;
    if (rt - n > skew)
        return ZKP_SIGV4_ENOTYET;
    if (n > rt + (int64_t)expires)
        return ZKP_SIGV4_EEXPIRED;
    return 0;
}

/*
 * time.c - timestamps: civil-date arithmetic, ISO 8601 and strptime-style
 * parsing, epoch numbers, and the ISO 8601 formatter; plus the exact
 * decimal conversion that epoch numbers and integer fields share.
 *
 * Design: the calendar is the proleptic Gregorian one, computed with
 * integer arithmetic over 400-year eras (146097 days each), so no libc
 * time function is involved: timegm()/mktime() read the process's TZ and
 * are slow. A parsed time is first split into parts (year .. microsecond
 * and a UTC offset), every part is range-checked (31/02, month 13 and hour
 * 25 are errors, leap days follow the Gregorian rule), and only then is it
 * combined into microseconds with overflow checks. ISO 8601 text in the
 * layout nearly every producer writes ("YYYY-MM-DDTHH:MM:SS[.fff]Z") is
 * read with fixed offsets first (iso_fixed()); anything else goes through
 * the general reader. Both end in the same range checks (parts_combine());
 * for the fixed layout with a year from 1 on, iso_fixed_combine() makes
 * the same checks and sum in fewer steps.
 *
 * Invariants:
 *   1. schema_format_timestamp() writes what the ISO parser reads back to
 *      the same value, for every int64 (years outside 0000-9999 use ISO's
 *      expanded form, a sign and six digits).
 *   2. Fractions finer than a microsecond are dropped (rounded toward
 *      negative infinity for parsed times, toward zero for epoch numbers).
 *
 * Threading: pure functions; no state.
 */
#include "schema/schema.h"
#include "schema/schema_int.h"

#include <limits.h>
#include <string.h>

#define US_PER_SEC 1000000LL
#define US_PER_DAY 86400000000LL
/* Days either side of the epoch that keep the year within an int. */
#define DAYS_LIMIT 700000000000LL

/* ---- civil dates ------------------------------------------------------------ */

int64_t schema_days_from_civil(int year, int month, int day)
{
    /* Years start on 1 March, so the leap day is the last day of a year. */
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                         /* [0, 399] */
    int64_t mp = ((int64_t)month + 9) % 12;              /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + day - 1;          /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468;                  /* 719468: 0000-03-01 to 1970-01-01 */
}

void schema_civil_from_days(int64_t days, int *year, int *month, int *day)
{
    if (days > DAYS_LIMIT)
        days = DAYS_LIMIT;
    if (days < -DAYS_LIMIT)
        days = -DAYS_LIMIT;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)m;
    *year = (int)(yoe + era * 400 + (m <= 2));
}

static bool is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* ---- exact decimals ------------------------------------------------------------ */

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* Parses "[eE][+-]digits" at p[*i]; the exponent is clamped, which keeps
 * the arithmetic safe and gives the same range errors. */
static bool read_exponent(const char *p, size_t n, size_t *i, int64_t *exp)
{
    size_t j = *i + 1;
    bool neg = false;
    if (j < n && (p[j] == '+' || p[j] == '-'))
        neg = p[j++] == '-';
    if (j >= n || !is_digit(p[j]))
        return false;
    int64_t e = 0;
    for (; j < n && is_digit(p[j]); j++)
        e = e < 100000000 ? e * 10 + (p[j] - '0') : e;
    *exp = neg ? -e : e;
    *i = j;
    return true;
}

int schema_decimal_scaled(const char *p, size_t n, int scale, int64_t *out, bool *inexact)
{
    size_t i = 0, int0, int1, frac0, frac1;
    bool neg = false;
    int64_t exp = 0;
    if (i < n && (p[i] == '+' || p[i] == '-'))
        neg = p[i++] == '-';
    for (int0 = i; i < n && is_digit(p[i]); i++)
        ;
    int1 = frac0 = frac1 = i;
    if (i < n && p[i] == '.') {
        for (frac0 = ++i; i < n && is_digit(p[i]); i++)
            ;
        frac1 = i;
    }
    if (int1 == int0 && frac1 == frac0)
        return CORE_EINVAL;
    if (i < n && (p[i] == 'e' || p[i] == 'E') && !read_exponent(p, n, &i, &exp))
        return CORE_EINVAL;
    if (i != n)
        return CORE_EINVAL;
    /* value = D * 10^e, D the digit string of both parts. */
    int64_t nd = (int64_t)(int1 - int0 + frac1 - frac0);
    int64_t e = exp - (int64_t)(frac1 - frac0) + scale;
    int64_t keep = e >= 0 ? nd : nd + e; /* digits left of the point */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, acc = 0;
    bool dropped = false;
    for (int64_t k = 0; k < nd; k++) {
        size_t at = (size_t)k < int1 - int0 ? int0 + (size_t)k : frac0 + (size_t)k - (int1 - int0);
        unsigned d = (unsigned)(p[at] - '0');
        if (k >= keep) {
            dropped = dropped || d != 0;
            continue;
        }
        if (acc > (limit - d) / 10)
            return CORE_ERANGE;
        acc = acc * 10 + d;
    }
    for (int64_t k = 0; k < e && acc != 0; k++) {
        if (acc > limit / 10)
            return CORE_ERANGE;
        acc *= 10;
    }
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    if (inexact)
        *inexact = dropped;
    return CORE_OK;
}

/* ---- the formatter ------------------------------------------------------------- */

static char *put_digits(char *o, int64_t v, int width)
{
    for (int k = width - 1; k >= 0; k--) {
        o[k] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + width;
}

size_t schema_format_timestamp(int64_t us, char *buf)
{
    int64_t rem = us % US_PER_DAY;
    int64_t days = us / US_PER_DAY - (rem < 0);
    int year, month, day;
    char *o = buf;
    if (rem < 0)
        rem += US_PER_DAY;
    schema_civil_from_days(days, &year, &month, &day);
    if (year >= 0 && year <= 9999) {
        o = put_digits(o, year, 4);
    } else {
        *o++ = year < 0 ? '-' : '+';
        o = put_digits(o, year < 0 ? -(int64_t)year : year, 6);
    }
    int64_t sec = rem / US_PER_SEC, frac = rem % US_PER_SEC;
    *o++ = '-';
    o = put_digits(o, month, 2);
    *o++ = '-';
    o = put_digits(o, day, 2);
    *o++ = 'T';
    o = put_digits(o, sec / 3600, 2);
    *o++ = ':';
    o = put_digits(o, sec / 60 % 60, 2);
    *o++ = ':';
    o = put_digits(o, sec % 60, 2);
    if (frac != 0) {
        *o++ = '.';
        o = put_digits(o, frac, 6);
    }
    *o++ = 'Z';
    *o = '\0';
    return (size_t)(o - buf);
}

/* ---- parts of a time ------------------------------------------------------------ */

typedef struct {
    int64_t year;
    int month, day, hour, min, sec;
    int64_t frac_us; /* [0, 999999] */
    int64_t off_s;   /* local = UTC + off_s */
} ts_parts_t;

static void parts_init(ts_parts_t *t)
{
    memset(t, 0, sizeof(*t));
    t->year = 1970;
    t->month = 1;
    t->day = 1;
}

/* Range-checks the parts and combines them into microseconds. */
static int parts_combine(const ts_parts_t *t, int64_t *us, const char **why)
{
    if (t->month < 1 || t->month > 12)
        return *why = "month out of range", CORE_EINVAL;
    if (t->day < 1 || t->day > days_in_month(t->year, t->month))
        return *why = "day out of range for the month", CORE_EINVAL;
    if (t->hour > 23)
        return *why = "hour out of range", CORE_EINVAL;
    if (t->min > 59)
        return *why = "minute out of range", CORE_EINVAL;
    if (t->sec > 59)
        return *why = "second out of range", CORE_EINVAL;
    int64_t days = schema_days_from_civil((int)t->year, t->month, t->day);
    int64_t secs = days * 86400 + t->hour * 3600 + t->min * 60 + t->sec - t->off_s;
    int64_t frac = t->frac_us, whole;
    if (secs < 0 && frac > 0) { /* keeps INT64_MIN's second reachable */
        secs += 1;
        frac -= US_PER_SEC;
    }
    if (__builtin_mul_overflow(secs, US_PER_SEC, &whole) || __builtin_add_overflow(whole, frac, us))
        return *why = "out of the representable range", CORE_EINVAL;
    return CORE_OK;
}

/* Exactly `count` digits at p[*i]. */
static bool fixed_digits(const char *p, size_t n, size_t *i, int count, int64_t *out)
{
    int64_t v = 0;
    if (n - *i < (size_t)count)
        return false;
    for (int k = 0; k < count; k++) {
        if (!is_digit(p[*i + (size_t)k]))
            return false;
        v = v * 10 + (p[*i + (size_t)k] - '0');
    }
    *i += (size_t)count;
    *out = v;
    return true;
}

/* One or two digits at p[*i], greedy. */
static bool short_digits(const char *p, size_t n, size_t *i, int *out)
{
    if (*i >= n || !is_digit(p[*i]))
        return false;
    int v = p[(*i)++] - '0';
    if (*i < n && is_digit(p[*i]))
        v = v * 10 + (p[(*i)++] - '0');
    *out = v;
    return true;
}

/* 1-9 digits of a fraction of a second, kept to the microsecond. */
static int read_fraction(const char *p, size_t n, size_t *i, int64_t *us, const char **why)
{
    size_t k = 0;
    int64_t v = 0;
    for (; *i < n && is_digit(p[*i]); (*i)++, k++) {
        if (k >= 9)
            return *why = "fraction longer than 9 digits", CORE_EINVAL;
        if (k < 6)
            v = v * 10 + (p[*i] - '0');
    }
    if (k == 0)
        return *why = "expected digits of a fraction", CORE_EINVAL;
    for (; k < 6; k++)
        v *= 10;
    *us = v;
    return CORE_OK;
}

/* Z, or +hh, +hhmm, +hh:mm (or '-'). */
static int read_zone(const char *p, size_t n, size_t *i, int64_t *off_s, const char **why)
{
    int64_t hh = 0, mm = 0;
    if (*i < n && (p[*i] == 'Z' || p[*i] == 'z')) {
        (*i)++;
        *off_s = 0;
        return CORE_OK;
    }
    if (*i >= n || (p[*i] != '+' && p[*i] != '-'))
        return *why = "expected a zone (Z, +hh:mm or +hhmm)", CORE_EINVAL;
    bool neg = p[(*i)++] == '-';
    if (!fixed_digits(p, n, i, 2, &hh))
        return *why = "expected two digits of zone hours", CORE_EINVAL;
    bool colon = *i < n && p[*i] == ':';
    *i += colon;
    if ((colon || (*i < n && is_digit(p[*i]))) && !fixed_digits(p, n, i, 2, &mm))
        return *why = "expected two digits of zone minutes", CORE_EINVAL;
    if (hh > 23 || mm > 59)
        return *why = "zone offset out of range", CORE_EINVAL;
    *off_s = (neg ? -1 : 1) * (hh * 3600 + mm * 60);
    return CORE_OK;
}

/* ---- ISO 8601 ----------------------------------------------------------------- */

static int iso_date(const char *p, size_t n, size_t *i, ts_parts_t *t, const char **why)
{
    int64_t v;
    if (*i < n && (p[*i] == '+' || p[*i] == '-')) {
        bool neg = p[(*i)++] == '-';
        if (!fixed_digits(p, n, i, 6, &v))
            return *why = "expected a sign and six digits of an expanded year", CORE_EINVAL;
        t->year = neg ? -v : v;
    } else if (!fixed_digits(p, n, i, 4, &t->year)) {
        return *why = "expected a four-digit year", CORE_EINVAL;
    }
    if (*i >= n || p[(*i)++] != '-' || !fixed_digits(p, n, i, 2, &v))
        return *why = "expected -MM after the year", CORE_EINVAL;
    t->month = (int)v;
    if (*i >= n || p[(*i)++] != '-' || !fixed_digits(p, n, i, 2, &v))
        return *why = "expected -DD after the month", CORE_EINVAL;
    t->day = (int)v;
    return CORE_OK;
}

static int iso_time(const char *p, size_t n, size_t *i, ts_parts_t *t, const char **why)
{
    int64_t v;
    if (!fixed_digits(p, n, i, 2, &v))
        return *why = "expected two digits of hours", CORE_EINVAL;
    t->hour = (int)v;
    if (*i >= n || p[(*i)++] != ':' || !fixed_digits(p, n, i, 2, &v))
        return *why = "expected :MM after the hour", CORE_EINVAL;
    t->min = (int)v;
    if (*i < n && p[*i] == ':') {
        (*i)++;
        if (!fixed_digits(p, n, i, 2, &v))
            return *why = "expected two digits of seconds", CORE_EINVAL;
        t->sec = (int)v;
        if (*i < n && (p[*i] == '.' || p[*i] == ',')) {
            (*i)++;
            if (read_fraction(p, n, i, &t->frac_us, why) < 0)
                return CORE_EINVAL;
        }
    }
    if (*i < n)
        return read_zone(p, n, i, &t->off_s, why);
    return CORE_OK;
}

/* 1 if p[k] is a digit, else 0 (for branch-free ands). */
static inline unsigned dig(const char *p, size_t k)
{
    return (unsigned char)(p[k] - '0') < 10;
}

/* iso_fixed()'s date and time of day. Little-endian machines check and
 * convert them a word at a time; others byte by byte, with the same
 * result. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint64_t load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* The high bit of each byte of w that is not an ASCII digit (no carries
 * between bytes). */
static inline uint64_t non_digits(uint64_t w)
{
    uint64_t x = w ^ 0x3030303030303030ull;
    return (((x & 0x7F7F7F7F7F7F7F7Full) + 0x7676767676767676ull) | x) & 0x8080808080808080ull;
}

/* Byte i of the result is 10 * d[i] + d[i+1], where d is w's digits at the
 * bytes `keep` selects (0x0F there; 0 elsewhere). No byte can carry. */
static inline uint64_t digit_pairs(uint64_t w, uint64_t keep)
{
    uint64_t d = (w ^ 0x3030303030303030ull) & keep;
    return d * 10 + (d >> 8);
}

/* "YYYY-MM-DDTHH:MM:SS" at p (19 bytes) into t, three words at a time;
 * false when p is anything else. */
static inline bool iso_fixed_head(const char *p, ts_parts_t *t)
{
    uint64_t w0 = load8(p), w1 = load8(p + 8), w2 = load8(p + 11); /* YYYY-MM- DDTHH:MM HH:MM:SS */
    uint64_t sep = w1 >> 16 & 0xFF;
    if ((non_digits(w0) & 0x0080800080808080ull) | (non_digits(w1) & 0x8080008080008080ull) |
        (non_digits(w2) & 0x8080000000000000ull))
        return false;
    if ((w0 & 0xFF0000FF00000000ull) != ((uint64_t)'-' << 56 | (uint64_t)'-' << 32) ||
        (w1 >> 40 & 0xFF) != ':' || (w2 >> 40 & 0xFF) != ':' ||
        (sep != 'T' && sep != 't' && sep != ' '))
        return false;
    uint64_t a = digit_pairs(w0, 0x000F0F000F0F0F0Full), b = digit_pairs(w1, 0x0F0F000F0F000F0Full),
             c = digit_pairs(w2, 0x0F0F000000000000ull);
    t->year = (int64_t)(a & 0xFF) * 100 + (int64_t)(a >> 16 & 0xFF);
    t->month = (int)(a >> 40 & 0xFF);
    t->day = (int)(b & 0xFF);
    t->hour = (int)(b >> 24 & 0xFF);
    t->min = (int)(b >> 48 & 0xFF);
    t->sec = (int)(c >> 48 & 0xFF);
    return true;
}
#else
/* Two digits at p (no checks). */
static inline int two(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

static inline bool iso_fixed_head(const char *p, ts_parts_t *t)
{
    unsigned digits = dig(p, 0) & dig(p, 1) & dig(p, 2) & dig(p, 3) & dig(p, 5) & dig(p, 6) &
                      dig(p, 8) & dig(p, 9) & dig(p, 11) & dig(p, 12) & dig(p, 14) & dig(p, 15) &
                      dig(p, 17) & dig(p, 18);
    if (!digits || p[4] != '-' || p[7] != '-' || p[13] != ':' || p[16] != ':' ||
        (p[10] != 'T' && p[10] != 't' && p[10] != ' '))
        return false;
    t->year = two(p) * 100 + two(p + 2);
    t->month = two(p + 5);
    t->day = two(p + 8);
    t->hour = two(p + 11);
    t->min = two(p + 14);
    t->sec = two(p + 17);
    return true;
}
#endif

/* The layout nearly every producer writes, "YYYY-MM-DDTHH:MM:SS[.f...]Z",
 * read with fixed offsets. false when p is anything else (then the general
 * reader decides); on true, t holds what iso_date() and iso_time() would
 * have read from the same text. */
static bool iso_fixed(const char *p, size_t n, ts_parts_t *t)
{
    if (n < 20 || (p[n - 1] != 'Z' && p[n - 1] != 'z') || !iso_fixed_head(p, t))
        return false;
    int64_t frac = 0;
    if (n > 20) { /* [.,] and 1-9 digits before the Z; microseconds kept */
        size_t k = 20;
        if ((p[19] != '.' && p[19] != ',') || n - 21 > 9 || n == 21)
            return false;
        for (; k < n - 1; k++) {
            if (!dig(p, k))
                return false;
            if (k < 26)
                frac = frac * 10 + (p[k] - '0');
        }
        for (; k < 26; k++)
            frac *= 10;
    }
    t->frac_us = frac;
    t->off_s = 0;
    return true;
}

/* parts_combine() for what iso_fixed() read (no zone offset, a four-digit
 * year) when the year is 1 or later and every part is in range: then the
 * result cannot overflow, and the civil date is counted with one formula
 * (schema_days_from_civil()'s, the 400-year eras folded back in). false
 * leaves the case, and its reason, to parts_combine(). */
static inline bool iso_fixed_combine(const ts_parts_t *t, int64_t *us)
{
    /* days before each month in a year that starts on 1 March */
    static const int before[12] = {306, 337, 0, 31, 61, 92, 122, 153, 184, 214, 245, 275};
    if (t->year < 1 || t->month < 1 || t->month > 12 || t->day < 1 || t->hour > 23 || t->min > 59 ||
        t->sec > 59 || (t->day > 28 && t->day > days_in_month(t->year, t->month)))
        return false;
    int64_t y = t->year - (t->month <= 2);
    int64_t days = y * 365 + y / 4 - y / 100 + y / 400 + before[t->month - 1] + t->day - 1 - 719468;
    *us = (days * 86400 + t->hour * 3600 + t->min * 60 + t->sec) * US_PER_SEC + t->frac_us;
    return true;
}

static int parse_iso(const char *p, size_t n, int64_t *us, const char **why)
{
    ts_parts_t t;
    size_t i = 0;
    if (iso_fixed(p, n, &t))
        return iso_fixed_combine(&t, us) ? CORE_OK : parts_combine(&t, us, why);
    parts_init(&t);
    if (iso_date(p, n, &i, &t, why) < 0)
        return CORE_EINVAL;
    if (i < n) {
        if (p[i] != 'T' && p[i] != 't' && p[i] != ' ')
            return *why = "expected 'T' or ' ' after the date", CORE_EINVAL;
        i++;
        if (iso_time(p, n, &i, &t, why) < 0)
            return CORE_EINVAL;
    }
    if (i != n)
        return *why = "unexpected characters after the time", CORE_EINVAL;
    return parts_combine(&t, us, why);
}

/* ---- strptime-style patterns ------------------------------------------------------ */

/* Reads one directive's text at p[*i] into t. */
static int pattern_directive(char c, const char *p, size_t n, size_t *i, ts_parts_t *t,
                             const char **why)
{
    int v = 0;
    switch (c) {
    case 'Y':
        if (!fixed_digits(p, n, i, 4, &t->year))
            return *why = "expected a four-digit year for %Y", CORE_EINVAL;
        return CORE_OK;
    case 'y':
        if (!short_digits(p, n, i, &v))
            return *why = "expected a two-digit year for %y", CORE_EINVAL;
        t->year = v < 69 ? 2000 + v : 1900 + v;
        return CORE_OK;
    case 'm':
        return short_digits(p, n, i, &t->month) ? CORE_OK
                                                : (*why = "expected a month for %m", CORE_EINVAL);
    case 'd':
        return short_digits(p, n, i, &t->day) ? CORE_OK
                                              : (*why = "expected a day for %d", CORE_EINVAL);
    case 'H':
        return short_digits(p, n, i, &t->hour) ? CORE_OK
                                               : (*why = "expected an hour for %H", CORE_EINVAL);
    case 'M':
        return short_digits(p, n, i, &t->min) ? CORE_OK
                                              : (*why = "expected minutes for %M", CORE_EINVAL);
    case 'S':
        return short_digits(p, n, i, &t->sec) ? CORE_OK
                                              : (*why = "expected seconds for %S", CORE_EINVAL);
    case 'f':
        return read_fraction(p, n, i, &t->frac_us, why);
    case 'z':
        return read_zone(p, n, i, &t->off_s, why);
    case '%':
        if (*i >= n || p[*i] != '%')
            return *why = "expected '%'", CORE_EINVAL;
        (*i)++;
        return CORE_OK;
    default:
        return *why = "unknown directive in the pattern", CORE_EINVAL;
    }
}

static int parse_pattern(const char *pat, const char *p, size_t n, int64_t *us, const char **why)
{
    ts_parts_t t;
    size_t i = 0;
    parts_init(&t);
    if (pat == NULL)
        return *why = "no pattern given", CORE_EINVAL;
    for (const char *q = pat; *q != '\0'; q++) {
        if (*q != '%') {
            if (i >= n || p[i] != *q)
                return *why = "text does not match the pattern", CORE_EINVAL;
            i++;
            continue;
        }
        q++;
        if (*q == '\0')
            return *why = "pattern ends with '%'", CORE_EINVAL;
        if (pattern_directive(*q, p, n, &i, &t, why) < 0)
            return CORE_EINVAL;
    }
    if (i != n)
        return *why = "unexpected characters after the pattern", CORE_EINVAL;
    return parts_combine(&t, us, why);
}

int schema_ts_pattern_check(const char *field, const char *pattern)
{
    static const char known[] = "YymdHMSfz";
    unsigned seen = 0;
    for (const char *q = pattern; *q != '\0'; q++) {
        if (*q != '%')
            continue;
        char c = *++q;
        if (c == '%')
            continue;
        const char *k = c != '\0' ? strchr(known, c) : NULL;
        if (k == NULL)
            return core_error(CORE_EINVAL,
                              "field \"%.64s\": unknown directive \"%%%.1s\" in timestamp "
                              "format \"%.64s\" (known: %%Y %%y %%m %%d %%H %%M %%S %%f %%z %%%%)",
                              field, c ? q : "", pattern);
        unsigned bit = 1u << (k - known);
        if (seen & bit)
            return core_error(CORE_EINVAL,
                              "field \"%.64s\": directive \"%%%c\" appears twice in timestamp "
                              "format \"%.64s\"",
                              field, c, pattern);
        seen |= bit;
    }
    if ((seen & 3u) == 3u)
        return core_error(CORE_EINVAL,
                          "field \"%.64s\": timestamp format \"%.64s\" has both %%Y and %%y", field,
                          pattern);
    return CORE_OK;
}

/* ---- dispatch -------------------------------------------------------------------- */

static int parse_epoch(const char *p, size_t n, int scale, int64_t *us, const char **why)
{
    int rc = schema_decimal_scaled(p, n, scale, us, NULL);
    if (rc == CORE_EINVAL)
        return *why = "not a number", CORE_EINVAL;
    if (rc == CORE_ERANGE)
        return *why = "out of the representable range", CORE_EINVAL;
    return CORE_OK;
}

int schema_ts_parse(schema_ts_format_t format, const char *pattern, const char *p, size_t n,
                    int64_t *us, const char **why)
{
    int rc;
    switch (format) {
    case SCHEMA_TS_AUTO:
        rc = schema_decimal_scaled(p, n, 3, us, NULL);
        if (rc == CORE_OK)
            return CORE_OK;
        if (rc == CORE_ERANGE)
            return *why = "out of the representable range", CORE_EINVAL;
        return parse_iso(p, n, us, why);
    case SCHEMA_TS_EPOCH_S:
        return parse_epoch(p, n, 6, us, why);
    case SCHEMA_TS_EPOCH_MS:
        return parse_epoch(p, n, 3, us, why);
    case SCHEMA_TS_EPOCH_US:
        return parse_epoch(p, n, 0, us, why);
    case SCHEMA_TS_ISO8601:
        return parse_iso(p, n, us, why);
    case SCHEMA_TS_STRFTIME:
        return parse_pattern(pattern, p, n, us, why);
    }
    return *why = "unknown timestamp format", CORE_EINVAL;
}

int schema_parse_timestamp(schema_ts_format_t format, const char *pattern, const char *text,
                           size_t len, int64_t *us)
{
    const char *why = "";
    if (schema_ts_parse(format, pattern, text, len, us, &why) == CORE_OK)
        return CORE_OK;
    return core_error(CORE_EINVAL, "timestamp \"%.*s\": %s", (int)CORE_MIN(len, 64), text, why);
}

const char *schema_ts_format_label(const schema_field_t *f)
{
    switch (f->ts_format) {
    case SCHEMA_TS_AUTO:
        return "auto";
    case SCHEMA_TS_EPOCH_S:
        return "epoch_s";
    case SCHEMA_TS_EPOCH_MS:
        return "epoch_ms";
    case SCHEMA_TS_EPOCH_US:
        return "epoch_us";
    case SCHEMA_TS_ISO8601:
        return "iso8601";
    case SCHEMA_TS_STRFTIME:
        return f->ts_pattern ? f->ts_pattern : "";
    }
    return "";
}

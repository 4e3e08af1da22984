/*
 * cron.c - five-field cron schedules: the parser, and the search for the
 * next instant a schedule fires in a time zone.
 *
 * Parsing turns each field into a bit set (batch_cron_t). A day-of-month or
 * day-of-week field that begins with '*' ("*" or "*" "/n") is unrestricted,
 * as in Vixie cron: then a day must match both fields, otherwise either.
 *
 * The search works on "wall seconds": a local date and time counted as if
 * it were UTC. Between two offset changes, wall = instant + offset, so the
 * search walks the zone's constant-offset periods in order and, in each,
 * asks wall_next() for the first matching local minute; wall_next() skips
 * whole months, days and hours, so a call costs at most a few thousand
 * steps even for a schedule that never fires. At an offset change the
 * daylight-saving rules apply (docs/jobs.md, "Daylight saving time"):
 *   - gap (offset grows): matching local times inside the skipped range
 *     fire once, at the instant of the change;
 *   - repeat (offset shrinks): local times of the repeated range fire
 *     again only for schedules whose hour field covers every hour.
 * Offset changes are found through batch_tz_offset() alone, probing every
 * PROBE_SECS and bisecting: a change that is undone within PROBE_SECS is
 * not seen (no zone in the tz database has one).
 *
 * Invariants: batch_cron_next() returns INT64_MAX or an instant in
 * (after, after + HORIZON_SECS].
 * Threading: pure functions of their arguments; no state.
 */
#include "batch/batch.h"

#include "core/core.h"
#include "schema/schema.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CRON_MAX_TEXT 1024
#define SECS_PER_DAY  86400
#define HORIZON_SECS  (5LL * 366 * SECS_PER_DAY) /* "within five years" */
#define PROBE_SECS    (6 * 3600)
#define LOOKBACK_SECS (3 * SECS_PER_DAY) /* longer than any offset change */
/* Searches start between 0001-01-01 and 9999-12-31 (UTC). */
#define T_MIN      (-62135596800LL)
#define T_MAX      253402300799LL
#define NONE       INT64_MIN
#define ALL_MINS   ((1ULL << 60) - 1)
#define ALL_HOURS  ((1U << 24) - 1)
#define ALL_MDAYS  (((1U << 31) - 1) << 1)
#define ALL_MONTHS ((uint16_t)(((1U << 12) - 1) << 1))
#define ALL_WDAYS  ((uint8_t)((1U << 7) - 1))

/* ---- parsing --------------------------------------------------------------- */

typedef struct {
    const char *name;
    int min, max;      /* accepted values */
    int star_max;      /* "*" and "a/n" run up to this (6 for weekdays) */
    const char *names; /* three-letter names for min.., or NULL */
} field_def_t;

static const field_def_t k_fields[5] = {
    {"minute", 0, 59, 59, NULL},
    {"hour", 0, 23, 23, NULL},
    {"day-of-month", 1, 31, 31, NULL},
    {"month", 1, 12, 12, "janfebmaraprmayjunjulaugsepoctnovdec"},
    {"day-of-week", 0, 7, 6, "sunmontuewedthufrisat"},
};

typedef struct {
    const char *p; /* a field's text, not NUL-terminated */
    size_t len;
} span_t;

/* Writes "cron: <field> field "<text>": <why>" to err and the detail. */
static int parse_error(char *err, size_t errlen, const field_def_t *f, span_t text, const char *why)
{
    int n = text.len > 64 ? 64 : (int)text.len;
    if (errlen > 0)
        snprintf(err, errlen, "cron: %s field \"%.*s\": %s", f->name, n, text.p, why);
    return core_error(CORE_EINVAL, "cron: %s field \"%.*s\": %s", f->name, n, text.p, why);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* A number (at most 4 digits) or a name, at *i in S. -1 if neither. */
static int read_value(const field_def_t *f, span_t s, size_t *i)
{
    if (*i < s.len && is_digit(s.p[*i])) {
        int v = 0, digits = 0;
        while (*i < s.len && is_digit(s.p[*i])) {
            if (++digits > 4)
                return -1;
            v = v * 10 + (s.p[(*i)++] - '0');
        }
        return v;
    }
    if (!f->names || s.len - *i < 3)
        return -1;
    char want[3] = {lower(s.p[*i]), lower(s.p[*i + 1]), lower(s.p[*i + 2])};
    for (int k = 0; f->names[3 * k]; k++) {
        if (memcmp(f->names + 3 * k, want, 3) == 0) {
            *i += 3;
            return f->min + k;
        }
    }
    return -1;
}

/* One list item: "*", "a", "a-b", each optionally "/n". Sets bits. */
static int parse_item(const field_def_t *f, span_t item, uint64_t *bits, char *err, size_t errlen)
{
    size_t i = 0;
    int lo, hi, step = 1;
    if (item.len == 0)
        return parse_error(err, errlen, f, item, "empty list item");
    if (item.p[0] == '*') {
        i = 1;
        lo = f->min;
        hi = f->star_max;
    } else {
        if ((lo = read_value(f, item, &i)) < 0)
            return parse_error(err, errlen, f, item, "expected a number or '*'");
        hi = lo;
        if (i < item.len && item.p[i] == '-') {
            i++;
            if ((hi = read_value(f, item, &i)) < 0)
                return parse_error(err, errlen, f, item, "expected a number after '-'");
        } else if (i < item.len && item.p[i] == '/') {
            hi = f->star_max > lo ? f->star_max : lo; /* "a/n": a, a+n, ... */
        }
    }
    if (i < item.len && item.p[i] == '/') {
        i++;
        if ((step = read_value(&k_fields[0], item, &i)) < 1 || step > f->max - f->min + 1)
            return parse_error(err, errlen, f, item, "step must be 1 to the field's size");
    }
    if (i != item.len)
        return parse_error(err, errlen, f, item, "unexpected characters");
    if (lo < f->min || lo > f->max || hi < f->min || hi > f->max) {
        char why[64];
        snprintf(why, sizeof(why), "value out of range %d-%d", f->min, f->max);
        return parse_error(err, errlen, f, item, why);
    }
    if (lo > hi)
        return parse_error(err, errlen, f, item, "range start is after its end");
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << v;
    return 0;
}

/* A whole field: comma-separated items. */
static int parse_field(const field_def_t *f, span_t text, uint64_t *bits, bool *star, char *err,
                       size_t errlen)
{
    *bits = 0;
    *star = text.len > 0 && text.p[0] == '*';
    size_t start = 0;
    for (size_t i = 0; i <= text.len; i++) {
        if (i < text.len && text.p[i] != ',')
            continue;
        span_t item = {text.p + start, i - start};
        int rc = parse_item(f, item, bits, err, errlen);
        if (rc < 0)
            return rc;
        start = i + 1;
    }
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int syntax_error(char *err, size_t errlen, const char *why, const char *text)
{
    if (errlen > 0)
        snprintf(err, errlen, "cron: %s in \"%.64s\"", why, text);
    return core_error(CORE_EINVAL, "cron: %s in \"%.64s\"", why, text);
}

/* "@daily" and friends, as five-field text; NULL if unknown. */
static const char *preset(const char *p, size_t len)
{
    static const char *const k_presets[][2] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
    };
    for (size_t k = 0; k < CORE_ARRAY_LEN(k_presets); k++)
        if (strlen(k_presets[k][0]) == len && strncasecmp(p, k_presets[k][0], len) == 0)
            return k_presets[k][1];
    return NULL;
}

/* Splits TEXT at white space into at most 6 spans; returns the count. */
static int split_fields(const char *text, span_t out[6])
{
    int n = 0;
    const char *p = text;
    while (*p) {
        while (is_space(*p))
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && !is_space(*p))
            p++;
        if (n == 6)
            return 7;
        out[n++] = (span_t){s, (size_t)(p - s)};
    }
    return n;
}

int batch_cron_parse(const char *text, batch_cron_t *out, char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    if (strnlen(text, CRON_MAX_TEXT + 1) > CRON_MAX_TEXT)
        return syntax_error(err, errlen, "schedule longer than 1024 bytes", text);
    span_t f[6];
    int n = split_fields(text, f);
    if (n >= 1 && f[0].p[0] == '@') {
        const char *exp = n == 1 ? preset(f[0].p, f[0].len) : NULL;
        if (!exp)
            return syntax_error(err, errlen,
                                "unknown preset (use @yearly, @annually, @monthly, @weekly, "
                                "@daily, @midnight or @hourly)",
                                text);
        return batch_cron_parse(exp, out, err, errlen);
    }
    if (n != 5)
        return syntax_error(err, errlen,
                            "expected 5 fields (minute hour day-of-month month day-of-week)", text);
    uint64_t bits[5];
    bool star[5];
    for (int i = 0; i < 5; i++) {
        int rc = parse_field(&k_fields[i], f[i], &bits[i], &star[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    memset(out, 0, sizeof(*out));
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->mdays = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->wdays = (uint8_t)((bits[4] | bits[4] >> 7) & ALL_WDAYS); /* 7 is Sunday */
    out->mday_any = star[2];
    out->wday_any = star[4];
    return 0;
}

/* ---- searching wall time ------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t ceil_minute(int64_t w)
{
    return floor_div(w + 59, 60) * 60;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    return m == 2 && leap ? 29 : dim[m - 1];
}

static bool day_matches(const batch_cron_t *c, int y, int m, int d)
{
    int64_t days = schema_days_from_civil(y, m, d);
    int wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    bool dom = c->mdays >> d & 1, dow = c->wdays >> wday & 1;
    return c->mday_any || c->wday_any ? dom && dow : dom || dow;
}

/* Lowest set bit of BITS at or above FROM, or -1. */
static int next_bit(uint64_t bits, int from)
{
    if (from > 63)
        return -1;
    bits &= ~0ULL << from;
    return bits ? __builtin_ctzll(bits) : -1;
}

typedef struct {
    int y, m, d, h, min;
} wall_t;

static int64_t wall_secs(const wall_t *w)
{
    return schema_days_from_civil(w->y, w->m, w->d) * SECS_PER_DAY + w->h * 3600 + w->min * 60;
}

/* Moves W to the start of the next month whose bit is set. */
static void next_month(const batch_cron_t *c, wall_t *w)
{
    int m = next_bit(c->months, w->m + 1);
    if (m < 0 || m > 12) {
        w->y++;
        m = next_bit(c->months, 1);
    }
    *w = (wall_t){w->y, m, 1, 0, 0};
}

static void next_day(const batch_cron_t *c, wall_t *w)
{
    if (w->d >= days_in_month(w->y, w->m))
        next_month(c, w);
    else
        *w = (wall_t){w->y, w->m, w->d + 1, 0, 0};
}

/* The first matching local minute at or after wall second W (a minute
 * boundary), or NONE if it is after LIM. The masks of C are non-empty. */
static int64_t wall_next(const batch_cron_t *c, int64_t w, int64_t lim)
{
    int64_t days = floor_div(w, SECS_PER_DAY);
    int sod = (int)(w - days * SECS_PER_DAY);
    wall_t t = {0, 0, 0, sod / 3600, sod / 60 % 60};
    schema_civil_from_days(days, &t.y, &t.m, &t.d);
    for (;;) {
        if (wall_secs(&t) > lim)
            return NONE;
        if (!(c->months >> t.m & 1)) {
            next_month(c, &t);
        } else if (!day_matches(c, t.y, t.m, t.d)) {
            next_day(c, &t);
        } else if (!(c->hours >> t.h & 1)) {
            int h = next_bit(c->hours, t.h + 1);
            if (h < 0) {
                next_day(c, &t);
            } else {
                t.h = h;
                t.min = 0;
            }
        } else if (!(c->minutes >> t.min & 1)) {
            int m = next_bit(c->minutes, t.min + 1);
            if (m >= 0) {
                t.min = m;
            } else if (t.h < 23) {
                t.h++;
                t.min = 0;
            } else {
                next_day(c, &t);
            }
        } else {
            return wall_secs(&t);
        }
    }
}

/* ---- offset changes ---------------------------------------------------------- */

/* The first instant in (s, x] whose offset differs from O, given that the
 * offset at S is O; NONE if there is none (see PROBE_SECS). */
static int64_t first_change(const batch_tz_t *tz, int64_t s, int64_t x, int32_t o)
{
    int64_t lo = s;
    while (lo < x) {
        int64_t hi = x - lo > PROBE_SECS ? lo + PROBE_SECS : x;
        if (batch_tz_offset(tz, hi) != o) {
            while (hi - lo > 1) { /* offset(lo) == o != offset(hi) */
                int64_t mid = lo + (hi - lo) / 2;
                if (batch_tz_offset(tz, mid) == o)
                    lo = mid;
                else
                    hi = mid;
            }
            return hi;
        }
        lo = hi;
    }
    return NONE;
}

/* If instant S (offset O) lies in the second occurrence of local times
 * repeated by a recent fall-back, the wall second where the repeated range
 * ends; else NONE. */
static int64_t repeat_end(const batch_tz_t *tz, int64_t s, int32_t o)
{
    int64_t lo = s - LOOKBACK_SECS, hi = s;
    if (batch_tz_offset(tz, lo) <= o)
        return NONE;
    while (hi - lo > 1) { /* offset(lo) != o == offset(hi) */
        int64_t mid = lo + (hi - lo) / 2;
        if (batch_tz_offset(tz, mid) == o)
            hi = mid;
        else
            lo = mid;
    }
    int32_t before = batch_tz_offset(tz, lo);
    return before > o && s + o < hi + before ? hi + before : NONE;
}

/* A copy of C with bits outside each field's range cleared; false if some
 * field is then empty (the schedule can never fire). */
static bool sanitize(const batch_cron_t *c, batch_cron_t *out)
{
    *out = *c;
    out->minutes &= ALL_MINS;
    out->hours &= ALL_HOURS;
    out->mdays &= ALL_MDAYS;
    out->months &= ALL_MONTHS;
    out->wdays &= ALL_WDAYS;
    return out->minutes && out->hours && out->mdays && out->months && out->wdays;
}

int64_t batch_cron_next(const batch_cron_t *cron, const batch_tz_t *tz, int64_t after)
{
    batch_cron_t c;
    if (!sanitize(cron, &c) || after < T_MIN || after > T_MAX)
        return INT64_MAX;
    const bool every_hour = c.hours == ALL_HOURS; /* fires in both repeated hours */
    const int64_t limit = after + HORIZON_SECS;
    int64_t s = after + 1;
    int32_t o = batch_tz_offset(tz, s);
    int32_t before = batch_tz_offset(tz, after);
    /* S may be the very instant a gap ends: its skipped local times fire at S. */
    if (before < o && wall_next(&c, ceil_minute(s + before), s + o - 1) != NONE)
        return s;
    int64_t rep = every_hour ? NONE : repeat_end(tz, s, o);
    for (;;) {
        int64_t wm = ceil_minute(s + o);
        if (rep != NONE && wm < rep)
            wm = ceil_minute(rep);
        int64_t l = wall_next(&c, wm, limit + o);
        int64_t x = l == NONE ? limit : l - o;
        int64_t t = first_change(tz, s, x, o);
        if (t == NONE)
            return l == NONE ? INT64_MAX : x;
        int32_t o2 = batch_tz_offset(tz, t);
        if (o2 > o && l != NONE && l < t + o2)
            return t; /* a match in the gap [t + o, t + o2) */
        rep = !every_hour && o2 < o ? t + o : NONE;
        s = t;
        o = o2;
    }
}

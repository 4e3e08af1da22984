/*
 * Unit tests for cron schedules (src/batch/cron.c): every field syntax
 * (lists, ranges, steps, names, 7 = Sunday, presets); parse errors that
 * name the field; next-run in UTC across month ends, leap days, year ends
 * and the five-year horizon, with Vixie's day-of-month / day-of-week rule;
 * and next-run across daylight-saving changes in Europe/Berlin,
 * America/New_York, Australia/Lord_Howe (a 30-minute change), Asia/Kolkata
 * and Europe/Berlin in 2090 (the footer rule), per the rules in
 * docs/jobs.md. Two oracles check random schedules against a
 * minute-by-minute walk that applies the documented rules literally: in
 * UTC, and in zones with daylight saving around their changes.
 *
 * Instants are seconds since the epoch; expected values were computed with
 * `date -u -d` and `TZ=<zone> date` (tzdata 2025b).
 * Threading: single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "batch/batch.h"
#include "core/core.h"

/* ---- helpers ------------------------------------------------------------------ */

static batch_cron_t parse(const char *text)
{
    batch_cron_t c;
    char err[200];
    int rc = batch_cron_parse(text, &c, err, sizeof(err));
    if (rc != 0)
        fail_msg("parse \"%s\": %d %s", text, rc, err);
    return c;
}

static batch_tz_t *load(const char *name)
{
    batch_tz_t *tz = NULL;
    if (batch_tz_load(name, &tz) != 0)
        fail_msg("load %s: %s (the tzdata package must be installed)", name, core_error_detail());
    return tz;
}

/* Bit set of the listed values, ended by -1. */
static uint64_t bits(int first, ...)
{
    uint64_t b = 0;
    va_list ap;
    va_start(ap, first);
    for (int v = first; v >= 0; v = va_arg(ap, int))
        b |= 1ULL << v;
    va_end(ap);
    return b;
}

static uint64_t range(int lo, int hi)
{
    uint64_t b = 0;
    for (int v = lo; v <= hi; v++)
        b |= 1ULL << v;
    return b;
}

/* Checks that TEXT fires at each of WANT[] in turn, starting after AFTER. */
static void assert_runs(const char *zone, const char *text, int64_t after, const int64_t *want,
                        size_t n)
{
    batch_cron_t c = parse(text);
    batch_tz_t *tz = load(zone);
    for (size_t i = 0; i < n; i++) {
        int64_t got = batch_cron_next(&c, tz, after);
        if (got != want[i])
            fail_msg("%s \"%s\" after %lld: run %zu at %lld, want %lld", zone, text,
                     (long long)after, i, (long long)got, (long long)want[i]);
        after = got;
    }
    batch_tz_destroy(tz);
}

#define RUNS(zone, text, after, ...)                                                               \
    do {                                                                                           \
        const int64_t want_[] = {__VA_ARGS__};                                                     \
        assert_runs(zone, text, after, want_, CORE_ARRAY_LEN(want_));                              \
    } while (0)

/* ---- parsing ------------------------------------------------------------------ */

static void test_parse_fields(void **state)
{
    (void)state;
    batch_cron_t c = parse("*/15 0-23/6 1,15,31 * *");
    assert_true(c.minutes == bits(0, 15, 30, 45, -1));
    assert_true(c.hours == bits(0, 6, 12, 18, -1));
    assert_true(c.mdays == bits(1, 15, 31, -1));
    assert_true(c.months == range(1, 12));
    assert_true(c.wdays == range(0, 6));
    assert_false(c.mday_any);
    assert_true(c.wday_any);

    c = parse("1,2,5-7 5/20 10-20/5 */5 1-5");
    assert_true(c.minutes == bits(1, 2, 5, 6, 7, -1));
    assert_true(c.hours == bits(5, -1)); /* 5, 25 is out of the field */
    assert_true(c.mdays == bits(10, 15, 20, -1));
    assert_true(c.months == bits(1, 6, 11, -1));
    assert_true(c.wdays == range(1, 5));
    assert_false(c.mday_any);
    assert_false(c.wday_any);

    c = parse("  0\t0   *   *   *  ");
    assert_true(c.minutes == 1 && c.hours == 1 && c.mdays == range(1, 31));
    assert_true(c.mday_any && c.wday_any);

    c = parse("0 0 */2 * *"); /* "*" "/n" is unrestricted, as in Vixie cron */
    assert_true(c.mday_any);
    assert_true(c.mdays == bits(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, -1));
    c = parse("0/20 * * * *");
    assert_true(c.minutes == bits(0, 20, 40, -1));
    c = parse("59 23 31 12 6");
    assert_true(c.minutes == bits(59, -1) && c.hours == bits(23, -1));
    assert_true(c.mdays == bits(31, -1) && c.months == bits(12, -1) && c.wdays == bits(6, -1));
}

static void test_parse_names(void **state)
{
    (void)state;
    batch_cron_t c = parse("0 0 * jan-mar,DEC Mon-Fri");
    assert_true(c.months == bits(1, 2, 3, 12, -1));
    assert_true(c.wdays == range(1, 5));
    c = parse("0 0 * Jul sun,SAT");
    assert_true(c.months == bits(7, -1));
    assert_true(c.wdays == bits(0, 6, -1));
    c = parse("0 0 * jan/3 tue-thu/2");
    assert_true(c.months == bits(1, 4, 7, 10, -1));
    assert_true(c.wdays == bits(2, 4, -1));
    /* 7 is Sunday, alone and in ranges. */
    c = parse("0 0 * * 7");
    assert_true(c.wdays == bits(0, -1));
    c = parse("0 0 * * 5-7");
    assert_true(c.wdays == bits(0, 5, 6, -1));
    c = parse("0 0 * * 1-7");
    assert_true(c.wdays == range(0, 6));
    c = parse("0 0 * * 0,7");
    assert_true(c.wdays == bits(0, -1));
    c = parse("0 0 * * */2");
    assert_true(c.wdays == bits(0, 2, 4, 6, -1));
}

static void test_presets(void **state)
{
    (void)state;
    static const struct {
        const char *preset, *same;
    } cases[] = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}, {" @Daily ", "0 0 * * *"},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(cases); i++) {
        batch_cron_t a = parse(cases[i].preset), b = parse(cases[i].same);
        assert_memory_equal(&a, &b, sizeof(a));
    }
}

static void assert_parse_error(const char *text, const char *want)
{
    batch_cron_t c;
    char err[200];
    int rc = batch_cron_parse(text, &c, err, sizeof(err));
    if (rc != CORE_EINVAL)
        fail_msg("\"%s\": got %d, want CORE_EINVAL", text, rc);
    if (!strstr(err, want))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, err, want);
    assert_string_equal(err, core_error_detail());
}

static void test_parse_errors(void **state)
{
    (void)state;
    assert_parse_error("60 * * * *", "minute field \"60\": value out of range 0-59");
    assert_parse_error("* 24 * * *", "hour field \"24\"");
    assert_parse_error("* * 0 * *", "day-of-month field \"0\"");
    assert_parse_error("* * 32 * *", "day-of-month field");
    assert_parse_error("* * * 13 *", "month field \"13\"");
    assert_parse_error("* * * 0 *", "month field");
    assert_parse_error("* * * * 8", "day-of-week field \"8\"");
    assert_parse_error("* * * foo *", "month field \"foo\"");
    assert_parse_error("* * * * mon-funday", "day-of-week field");
    assert_parse_error("* * * * jan", "day-of-week field \"jan\"");
    assert_parse_error("* * mon * *", "day-of-month field \"mon\"");
    assert_parse_error("5-1 * * * *", "minute field \"5-1\": range start is after its end");
    assert_parse_error("*/0 * * * *", "minute field \"*/0\": step");
    assert_parse_error("*/61 * * * *", "minute field");
    assert_parse_error("* */x * * *", "hour field");
    assert_parse_error("1,,2 * * * *", "minute field \"\": empty list item");
    assert_parse_error("1, * * * *", "minute field");
    assert_parse_error("1- * * * *", "minute field");
    assert_parse_error("-1 * * * *", "minute field");
    assert_parse_error("*5 * * * *", "minute field");
    assert_parse_error("1/2/3 * * * *", "minute field");
    assert_parse_error("99999 * * * *", "minute field");
    assert_parse_error("? * * * *", "minute field");
    assert_parse_error("* * * *", "expected 5 fields");
    assert_parse_error("* * * * * *", "expected 5 fields");
    assert_parse_error("", "expected 5 fields");
    assert_parse_error("   ", "expected 5 fields");
    assert_parse_error("@reboot", "unknown preset");
    assert_parse_error("@daily 5", "unknown preset");
    assert_parse_error("@", "unknown preset");
    char longtext[1100];
    memset(longtext, '1', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    assert_parse_error(longtext, "longer than 1024 bytes");

    /* A small or empty message buffer is never overrun. */
    batch_cron_t c;
    char small[8];
    assert_int_equal(batch_cron_parse("60 * * * *", &c, small, sizeof(small)), CORE_EINVAL);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(batch_cron_parse("60 * * * *", &c, NULL, 0), CORE_EINVAL);
}

/* ---- next run in UTC --------------------------------------------------------- */

static void test_month_ends(void **state)
{
    (void)state;
    /* The 31st skips the months without one. */
    RUNS("UTC", "0 0 31 * *", 1769817600, 1774915200, 1780185600, 1785456000, 1788134400,
         1793404800, 1798675200);
    /* February 29 fires in the next leap year. */
    RUNS("UTC", "0 0 29 2 *", 1740787200, 1835395200);
    /* 2100 is not a leap year: 2099-03-01 waits until 2104-02-29 (1825 days) ... */
    RUNS("UTC", "0 0 29 2 *", 4076006400, 4233686400);
    /* ... and from 2096-03-01 the next is beyond five years. */
    RUNS("UTC", "0 0 29 2 *", 3981398400, INT64_MAX);
    /* Dates that never exist. */
    RUNS("UTC", "0 0 30 2 *", 1767225600, INT64_MAX);
    RUNS("UTC", "0 0 31 4,6,9,11 *", 1767225600, INT64_MAX);
}

static void test_year_wrap(void **state)
{
    (void)state;
    RUNS("UTC", "59 23 31 12 *", 1798761540, 1830297540);
    RUNS("UTC", "0 0 1 1 *", 1798761599, 1798761600);
    RUNS("UTC", "@yearly", 1798761600, 1830297600);
    RUNS("UTC", "*/20 * * * *", 1798761540, 1798761600, 1798762800);
}

static void test_strictly_after(void **state)
{
    (void)state;
    RUNS("UTC", "* * * * *", 1767225600, 1767225660, 1767225720);
    RUNS("UTC", "* * * * *", 1767225599, 1767225600);
    RUNS("UTC", "* * * * *", 1767225601, 1767225660);
    /* Before 1970. */
    RUNS("UTC", "0 12 * * *", -1, 43200);
    RUNS("UTC", "0 0 1 1 *", -86400 * 365, 0);
}

static void test_day_or_week(void **state)
{
    (void)state;
    /* Both restricted: the 13th or a Friday (2026-01-01 is a Thursday). */
    RUNS("UTC", "0 0 13 * 5", 1767225600, 1767312000, 1767916800, 1768262400, 1768521600);
    /* One restricted: that one alone. */
    RUNS("UTC", "0 0 * * 5", 1767916800, 1768521600);
    RUNS("UTC", "0 0 13 * *", 1768262400, 1770940800);
    /* "*" "/10" is unrestricted (Vixie): days 1, 11, 21, 31 that are Mondays. */
    RUNS("UTC", "0 0 */10 * 1", 1767225600, 1778457600);
    /* Sunday as 7 and as 0. */
    RUNS("UTC", "0 0 * * 7", 1767225600, 1767484800);
    RUNS("UTC", "0 0 * * sun", 1767225600, 1767484800);
}

static void test_out_of_range(void **state)
{
    (void)state;
    batch_cron_t c = parse("* * * * *");
    batch_tz_t *tz = load("UTC");
    assert_true(batch_cron_next(&c, tz, INT64_MAX) == INT64_MAX);
    assert_true(batch_cron_next(&c, tz, INT64_MAX - 60) == INT64_MAX);
    assert_true(batch_cron_next(&c, tz, INT64_MIN) == INT64_MAX);
    assert_true(batch_cron_next(&c, tz, 253402300799LL) == 253402300800LL);
    /* A hand-made struct with an empty field never fires. */
    c.minutes = 0;
    assert_true(batch_cron_next(&c, tz, 0) == INT64_MAX);
    c = parse("* * * * *");
    c.hours = 1U << 30; /* out-of-range bits only */
    assert_true(batch_cron_next(&c, tz, 0) == INT64_MAX);
    batch_tz_destroy(tz);
}

/* ---- next run across daylight-saving changes --------------------------------- */

static void test_berlin_spring_forward(void **state)
{
    (void)state;
    /* 2026-03-29 01:00 UTC: 02:00 CET becomes 03:00 CEST. 02:30 does not
     * exist: it fires once at 03:00 CEST (01:00 UTC), then daily again. */
    RUNS("Europe/Berlin", "30 2 * * *", 1774699200, 1774746000, 1774830600);
    RUNS("Europe/Berlin", "0 2 * * *", 1774699200, 1774746000, 1774828800);
    RUNS("Europe/Berlin", "*/15 2 * * *", 1774699200, 1774746000, 1774828800);
    /* 03:00 exists and is the same instant: one run, not two. */
    RUNS("Europe/Berlin", "0 3 * * *", 1774699200, 1774746000, 1774832400);
    /* Every 15 minutes: the skipped hour collapses into the run at 03:00. */
    RUNS("Europe/Berlin", "*/15 * * * *", 1774744200, 1774745100, 1774746000, 1774746900);
    /* Starting one second before the gap ends, or exactly at it. */
    RUNS("Europe/Berlin", "30 2 * * *", 1774745999, 1774746000);
    RUNS("Europe/Berlin", "30 2 * * *", 1774746000, 1774830600);
}

static void test_berlin_fall_back(void **state)
{
    (void)state;
    /* 2026-10-25 01:00 UTC: 03:00 CEST becomes 02:00 CET; 02:00-02:59
     * happens twice. A daily 02:30 runs once, at the first (00:30 UTC). */
    RUNS("Europe/Berlin", "30 2 * * *", 1792843200, 1792888200, 1792978200);
    /* From inside the second 02:00-02:59 it does not run again that day. */
    RUNS("Europe/Berlin", "30 2 * * *", 1792890600, 1792978200);
    RUNS("Europe/Berlin", "*/15 2 * * *", 1792884600, 1792886400, 1792887300, 1792888200,
         1792889100, 1792976400);
    /* A schedule for every hour keeps real time through both 02:xx hours. */
    RUNS("Europe/Berlin", "0 * * * *", 1792884600, 1792886400, 1792890000, 1792893600);
    int64_t every15[12];
    for (int i = 0; i < 12; i++)
        every15[i] = 1792888200 + 900 * (i + 1);
    assert_runs("Europe/Berlin", "*/15 * * * *", 1792888200, every15, 12);
}

static void test_new_york(void **state)
{
    (void)state;
    /* 2026-03-08 07:00 UTC: 02:00 EST becomes 03:00 EDT. */
    RUNS("America/New_York", "30 2 * * *", 1772884800, 1772953200);
    /* 2026-11-01 06:00 UTC: 02:00 EDT becomes 01:00 EST. */
    RUNS("America/New_York", "30 1 * * *", 1793448000, 1793511000, 1793601000);
}

static void test_lord_howe(void **state)
{
    (void)state;
    /* 2026-10-04: 02:00 +10:30 becomes 02:30 +11 (15:30 UTC the day before). */
    RUNS("Australia/Lord_Howe", "15 2 * * *", 1790985600, 1791041400);
    RUNS("Australia/Lord_Howe", "45 2 * * *", 1790985600, 1791042300);
    /* 2026-04-05: 02:00 +11 becomes 01:30 +10:30; 01:30-01:59 repeats. */
    RUNS("Australia/Lord_Howe", "45 1 * * *", 1775260800, 1775313900, 1775402100);
    RUNS("Australia/Lord_Howe", "*/15 * * * *", 1775313000, 1775313900, 1775314800, 1775315700,
         1775316600);
}

static void test_kolkata(void **state)
{
    (void)state;
    /* +05:30 all year: 09:00 IST is 03:30 UTC. */
    RUNS("Asia/Kolkata", "0 9 * * *", 1767225600, 1767238200, 1767324600);
}

static void test_far_future(void **state)
{
    (void)state;
    /* 2090 is past the transition table: the footer rule decides. */
    RUNS("Europe/Berlin", "30 2 * * *", 3794126400, 3794173200);
    RUNS("Europe/Berlin", "30 2 * * *", 3812875200, 3812920200, 3813010200);
}

/* ---- oracles ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_below(uint64_t n)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (rng_state * 0x2545f4914f6cdd1dull) % n;
}

/* A random field over [lo, hi]. */
static void random_field(char *out, size_t n, int lo, int hi)
{
    int a = lo + (int)rng_below((uint64_t)(hi - lo + 1));
    int b = a + (int)rng_below((uint64_t)(hi - a + 1));
    switch (rng_below(6)) {
    case 0:
    case 1:
        snprintf(out, n, "*");
        break;
    case 2:
        snprintf(out, n, "*/%d", 1 + (int)rng_below(hi - lo < 12 ? (uint64_t)(hi - lo + 1) : 12));
        break;
    case 3:
        snprintf(out, n, "%d", a);
        break;
    case 4:
        snprintf(out, n, "%d-%d", a, b);
        break;
    default:
        snprintf(out, n, "%d,%d/%d", b, a, 1 + (int)rng_below(5));
        break;
    }
}

/* Does wall second W (a local time counted as UTC) match C? */
static bool wall_matches(const batch_cron_t *c, const batch_tz_t *utc, int64_t w)
{
    batch_local_t l;
    batch_tz_local(utc, w, &l);
    if (!(c->minutes >> l.minute & 1) || !(c->hours >> l.hour & 1) || !(c->months >> l.month & 1))
        return false;
    bool dom = c->mdays >> l.day & 1, dow = c->wdays >> l.wday & 1;
    return c->mday_any || c->wday_any ? dom && dow : dom || dow;
}

/* The documented rules, literally, one UTC minute at a time (the zones
 * used change offset only at whole minutes). -1 if nothing within SPAN. */
static int64_t walk_next(const batch_cron_t *c, const batch_tz_t *tz, const batch_tz_t *utc,
                         int64_t after, int64_t span)
{
    bool every_hour = c->hours == (1U << 24) - 1;
    for (int64_t t = (after / 60 + 1) * 60; t <= after + span; t += 60) {
        int32_t o = batch_tz_offset(tz, t), ob = batch_tz_offset(tz, t - 1);
        for (int64_t w = t + ob; w < t + o; w += 60) /* skipped by a gap ending at t */
            if (wall_matches(c, utc, w))
                return t;
        int64_t w = t + o;
        if (!wall_matches(c, utc, w))
            continue;
        bool repeat = false; /* did this local time occur before? */
        for (int64_t back = 60; back <= 4 * 3600 && !every_hour; back += 60) {
            int64_t tp = t - back;
            if (tp + batch_tz_offset(tz, tp) == w)
                repeat = true;
        }
        if (!repeat)
            return t;
    }
    return -1;
}

static void check_oracle(const char *zone, const int64_t *changes, size_t nchanges, int cases,
                         int64_t span)
{
    batch_tz_t *tz = load(zone), *utc = load("UTC");
    for (int i = 0; i < cases; i++) {
        char f[5][32], text[200];
        random_field(f[0], sizeof(f[0]), 0, 59);
        if (rng_below(2))
            random_field(f[1], sizeof(f[1]), 0, 23);
        else
            snprintf(f[1], sizeof(f[1]), "%d", (int)rng_below(4));
        snprintf(f[2], sizeof(f[2]), "*");
        snprintf(f[3], sizeof(f[3]), "*");
        if (rng_below(3) == 0)
            random_field(f[2], sizeof(f[2]), 1, 31);
        if (rng_below(3) == 0)
            random_field(f[4], sizeof(f[4]), 0, 7);
        else
            snprintf(f[4], sizeof(f[4]), "*");
        snprintf(text, sizeof(text), "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
        batch_cron_t c = parse(text);
        int64_t window = rng_below(2) ? 3 * 3600 : 2 * 86400;
        int64_t after = changes[rng_below(nchanges)] - (int64_t)rng_below((uint64_t)window);
        for (int step = 0; step < 4; step++) {
            int64_t want = walk_next(&c, tz, utc, after, span);
            int64_t got = batch_cron_next(&c, tz, after);
            if (want < 0 && got > after + span)
                break;
            if (got != want)
                fail_msg("%s \"%s\" after %lld: got %lld, want %lld", zone, text, (long long)after,
                         (long long)got, (long long)want);
            after = got;
        }
    }
    batch_tz_destroy(tz);
    batch_tz_destroy(utc);
}

static void test_oracle_utc(void **state)
{
    (void)state;
    const int64_t starts[] = {1767225600, 1835395200, 1798761600, 4102444800LL};
    check_oracle("UTC", starts, CORE_ARRAY_LEN(starts), 150, 3 * 86400);
}

static void test_oracle_dst(void **state)
{
    (void)state;
    /* Offset changes in 2026 and 2090 (footer rule). */
    const int64_t berlin[] = {1774746000, 1792890000, 3794173200, 3812922000};
    const int64_t howe[] = {1775314800, 1791041400};
    const int64_t ny[] = {1772953200, 1793512800};
    check_oracle("Europe/Berlin", berlin, CORE_ARRAY_LEN(berlin), 120, 3 * 86400);
    check_oracle("Australia/Lord_Howe", howe, CORE_ARRAY_LEN(howe), 60, 3 * 86400);
    check_oracle("America/New_York", ny, CORE_ARRAY_LEN(ny), 60, 3 * 86400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),     cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_presets),          cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_month_ends),       cmocka_unit_test(test_year_wrap),
        cmocka_unit_test(test_strictly_after),   cmocka_unit_test(test_day_or_week),
        cmocka_unit_test(test_out_of_range),     cmocka_unit_test(test_berlin_spring_forward),
        cmocka_unit_test(test_berlin_fall_back), cmocka_unit_test(test_new_york),
        cmocka_unit_test(test_lord_howe),        cmocka_unit_test(test_kolkata),
        cmocka_unit_test(test_far_future),       cmocka_unit_test(test_oracle_utc),
        cmocka_unit_test(test_oracle_dst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

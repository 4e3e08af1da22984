/*
 * Unit tests for timestamps: civil-date arithmetic against a day-by-day
 * calendar walk, the ISO 8601 formatter and its round trip through the
 * parser over the whole int64 range, and every format (auto, epoch_s,
 * epoch_ms, epoch_us, iso8601, strptime-style patterns) with its edge
 * cases: leap days, impossible dates and times, fractions of 1 to 9
 * digits, zone offsets, negative epochs, two-digit years.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schema/schema.h"

#define SEC 1000000LL
#define DAY (86400LL * SEC)

static int64_t parse_ok(schema_ts_format_t f, const char *pat, const char *text)
{
    int64_t us = 0;
    int rc = schema_parse_timestamp(f, pat, text, strlen(text), &us);
    if (rc != 0)
        fail_msg("\"%s\" rejected: %s", text, core_error_detail());
    return us;
}

static void parse_bad(schema_ts_format_t f, const char *pat, const char *text, const char *why)
{
    int64_t us = 0;
    core_error_clear();
    int rc = schema_parse_timestamp(f, pat, text, strlen(text), &us);
    if (rc != CORE_EINVAL)
        fail_msg("\"%s\" accepted as %lld", text, (long long)us);
    if (why != NULL && strstr(core_error_detail(), why) == NULL)
        fail_msg("\"%s\": detail \"%s\" lacks \"%s\"", text, core_error_detail(), why);
}

static int month_len(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* Walks the calendar day by day from 1600-01-01 to 2500-12-31 and checks
 * both conversions at every day. */
static void test_civil_walk(void **state)
{
    (void)state;
    int64_t days = schema_days_from_civil(1600, 1, 1);
    for (int y = 1600; y <= 2500; y++) {
        for (int m = 1; m <= 12; m++) {
            for (int d = 1; d <= month_len(y, m); d++) {
                int yy, mm, dd;
                assert_int_equal(schema_days_from_civil(y, m, d), days);
                schema_civil_from_days(days, &yy, &mm, &dd);
                if (yy != y || mm != m || dd != d)
                    fail_msg("day %lld: got %d-%d-%d, want %d-%d-%d", (long long)days, yy, mm, dd,
                             y, m, d);
                days++;
            }
        }
    }
}

static void test_civil_anchors(void **state)
{
    (void)state;
    int y, m, d;
    assert_int_equal(schema_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(schema_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(schema_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(schema_days_from_civil(2024, 2, 29), 19782);
    assert_int_equal(schema_days_from_civil(0, 1, 1), -719528);
    assert_int_equal(schema_days_from_civil(-1, 12, 31), -719529);
    schema_civil_from_days(-719529, &y, &m, &d);
    assert_true(y == -1 && m == 12 && d == 31);
    schema_civil_from_days(2932896, &y, &m, &d); /* 9999-12-31 */
    assert_true(y == 9999 && m == 12 && d == 31);
    /* Far away from the epoch both ways still round-trips. */
    for (int64_t days = -400000000; days <= 400000000; days += 9999991) {
        schema_civil_from_days(days, &y, &m, &d);
        assert_int_equal(schema_days_from_civil(y, m, d), days);
    }
}

static void test_format(void **state)
{
    (void)state;
    char buf[33];
    assert_int_equal(schema_format_timestamp(0, buf), 20);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    schema_format_timestamp(1795352645123456LL, buf);
    assert_string_equal(buf, "2026-11-22T13:04:05.123456Z");
    schema_format_timestamp(1795352645100000LL, buf);
    assert_string_equal(buf, "2026-11-22T13:04:05.100000Z");
    schema_format_timestamp(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    schema_format_timestamp(-SEC, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    schema_format_timestamp(schema_days_from_civil(10000, 1, 1) * DAY, buf);
    assert_string_equal(buf, "+010000-01-01T00:00:00Z");
    schema_format_timestamp(schema_days_from_civil(-1, 6, 1) * DAY, buf);
    assert_string_equal(buf, "-000001-06-01T00:00:00Z");
    assert_int_equal(schema_format_timestamp(INT64_MIN, buf), 30);
    assert_string_equal(buf, "-290308-12-21T19:59:05.224192Z");
    assert_int_equal(schema_format_timestamp(INT64_MAX, buf), 30);
    assert_string_equal(buf, "+294247-01-10T04:00:54.775807Z");
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_round_trip(void **state)
{
    (void)state;
    char buf[33];
    int64_t edges[] = {
        INT64_MIN, INT64_MIN + 1,        INT64_MAX,           INT64_MAX - 1, 0, -1, 1, -DAY,
        DAY - 1,   253402300799999999LL, 253402300800000000LL};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        size_t n = schema_format_timestamp(edges[i], buf);
        assert_int_equal(n, strlen(buf));
        int64_t back = parse_ok(SCHEMA_TS_ISO8601, NULL, buf);
        assert_int_equal(back, edges[i]);
    }
    for (int i = 0; i < 200000; i++) {
        int64_t us = (int64_t)rnd();
        if (i % 2)
            us %= 400LL * 365 * DAY; /* years 1570..2370 */
        if (i % 3 == 0)
            us -= us % SEC; /* no fraction */
        size_t n = schema_format_timestamp(us, buf);
        assert_true(n <= 32);
        int64_t back = 0;
        assert_int_equal(schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, buf, n, &back), 0);
        if (back != us)
            fail_msg("%lld -> %s -> %lld", (long long)us, buf, (long long)back);
    }
}

static void test_iso8601(void **state)
{
    (void)state;
    const schema_ts_format_t F = SCHEMA_TS_ISO8601;
    int64_t base = 1795352645LL * SEC; /* 2026-11-22T13:04:05Z */
    assert_int_equal(parse_ok(F, NULL, "2026-11-22T13:04:05Z"), base);
    assert_int_equal(parse_ok(F, NULL, "2026-11-22 13:04:05Z"), base);
    assert_int_equal(parse_ok(F, NULL, "2026-11-22t13:04:05z"), base);
    assert_int_equal(parse_ok(F, NULL, "2026-11-22T13:04:05"), base); /* no zone: UTC */
    assert_int_equal(parse_ok(F, NULL, "2026-11-22T13:04Z"), base - 5 * SEC);
    assert_int_equal(parse_ok(F, NULL, "2026-11-22"), base - (13 * 3600 + 4 * 60 + 5) * SEC);
    /* Offsets: local = UTC + offset. */
    assert_int_equal(parse_ok(F, NULL, "2026-11-22T18:34:05+05:30"), base);
    assert_int_equal(parse_ok(F, NULL, "2026-11-22T18:34:05+0530"), base);
    assert_int_equal(parse_ok(F, NULL, "2026-11-22T08:04:05-05"), base);
    assert_int_equal(parse_ok(F, NULL, "2026-11-22T13:04:05-00:00"), base);
    assert_int_equal(parse_ok(F, NULL, "2026-11-23T01:04:05+12:00"), base);
    /* Fractions of every length from 1 to 9 digits, '.' or ','. */
    static const struct {
        const char *text;
        int64_t us;
    } fr[] = {{"2026-11-22T13:04:05.1Z", 100000},
              {"2026-11-22T13:04:05.12Z", 120000},
              {"2026-11-22T13:04:05.123Z", 123000},
              {"2026-11-22T13:04:05.1234Z", 123400},
              {"2026-11-22T13:04:05.12345Z", 123450},
              {"2026-11-22T13:04:05.123456Z", 123456},
              {"2026-11-22T13:04:05.1234567Z", 123456},
              {"2026-11-22T13:04:05.12345678Z", 123456},
              {"2026-11-22T13:04:05.123456789Z", 123456},
              {"2026-11-22T13:04:05,5Z", 500000},
              {"2026-11-22T13:04:05.000001+01:00", 1 - 3600 * SEC}};
    for (size_t i = 0; i < sizeof(fr) / sizeof(fr[0]); i++)
        assert_int_equal(parse_ok(F, NULL, fr[i].text), base + fr[i].us);
    /* Leap days. */
    assert_int_equal(parse_ok(F, NULL, "2024-02-29"), schema_days_from_civil(2024, 2, 29) * DAY);
    assert_int_equal(parse_ok(F, NULL, "2000-02-29"), schema_days_from_civil(2000, 2, 29) * DAY);
    parse_bad(F, NULL, "2023-02-29", "day out of range");
    parse_bad(F, NULL, "1900-02-29", "day out of range");
    /* Before the epoch. */
    assert_int_equal(parse_ok(F, NULL, "1969-12-31T23:59:59.5Z"), -SEC / 2);
    assert_int_equal(parse_ok(F, NULL, "0001-01-01"), -62135596800LL * SEC);
}

static void test_iso8601_rejects(void **state)
{
    (void)state;
    const schema_ts_format_t F = SCHEMA_TS_ISO8601;
    parse_bad(F, NULL, "2026-13-01", "month out of range");
    parse_bad(F, NULL, "2026-00-01", "month out of range");
    parse_bad(F, NULL, "2026-04-31", "day out of range");
    parse_bad(F, NULL, "2026-04-00", "day out of range");
    parse_bad(F, NULL, "2026-11-22T25:00:00Z", "hour out of range");
    parse_bad(F, NULL, "2026-11-22T24:00:00Z", "hour out of range");
    parse_bad(F, NULL, "2026-11-22T12:60:00Z", "minute out of range");
    parse_bad(F, NULL, "2026-11-22T12:00:60Z", "second out of range");
    parse_bad(F, NULL, "2026-11-22T12:00:00.1234567890Z", "longer than 9 digits");
    parse_bad(F, NULL, "2026-11-22T12:00:00.Z", "digits of a fraction");
    parse_bad(F, NULL, "2026-11-22T12:00:00+24:00", "zone offset out of range");
    parse_bad(F, NULL, "2026-11-22T12:00:00+05:", "zone minutes");
    parse_bad(F, NULL, "2026-11-22T12:00:00+5", "zone hours");
    parse_bad(F, NULL, "2026-11-22T12:00:00 UTC", "zone");
    parse_bad(F, NULL, "2026-11-22T12", ":MM");
    parse_bad(F, NULL, "2026-11-22X12:00", "'T'");
    parse_bad(F, NULL, "2026-1-22", "-MM");
    parse_bad(F, NULL, "26-11-22", "four-digit year");
    parse_bad(F, NULL, "2026-11-22T12:00:00Zjunk", "unexpected characters");
    parse_bad(F, NULL, "", "four-digit year");
    parse_bad(F, NULL, "1700000000", NULL); /* numbers are not ISO */
    parse_bad(F, NULL, "+12345-01-01", "six digits");
    assert_int_equal(parse_ok(F, NULL, "-000001-12-31"), schema_days_from_civil(-1, 12, 31) * DAY);
}

static void test_epochs(void **state)
{
    (void)state;
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_S, NULL, "1700000000"), 1700000000LL * SEC);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_S, NULL, "1700000000.123456"), 1700000000123456LL);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_S, NULL, "1700000000.1234569"),
                     1700000000123456LL); /* below a microsecond: dropped */
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_S, NULL, "-1.5"), -1500000);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_S, NULL, "1.7e9"), 1700000000LL * SEC);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_S, NULL, "+2"), 2 * SEC);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_MS, NULL, "1700000000123"), 1700000000123000LL);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_MS, NULL, "-86400000"), -DAY);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_MS, NULL, "0.5"), 500);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_US, NULL, "-9223372036854775808"), INT64_MIN);
    assert_int_equal(parse_ok(SCHEMA_TS_EPOCH_US, NULL, "9223372036854775807"), INT64_MAX);
    parse_bad(SCHEMA_TS_EPOCH_US, NULL, "9223372036854775808", "range");
    parse_bad(SCHEMA_TS_EPOCH_S, NULL, "9223372036855", "range");
    parse_bad(SCHEMA_TS_EPOCH_S, NULL, "1e400", "range");
    parse_bad(SCHEMA_TS_EPOCH_S, NULL, "12abc", "not a number");
    parse_bad(SCHEMA_TS_EPOCH_MS, NULL, "", "not a number");
    parse_bad(SCHEMA_TS_EPOCH_MS, NULL, "2026-11-22", "not a number");
    parse_bad(SCHEMA_TS_EPOCH_MS, NULL, " 12", "not a number");
    /* auto: numbers are milliseconds, other text ISO 8601. */
    assert_int_equal(parse_ok(SCHEMA_TS_AUTO, NULL, "1700000000123"), 1700000000123000LL);
    assert_int_equal(parse_ok(SCHEMA_TS_AUTO, NULL, "-1"), -1000);
    assert_int_equal(parse_ok(SCHEMA_TS_AUTO, NULL, "2024-02-29T00:00:00Z"),
                     schema_days_from_civil(2024, 2, 29) * DAY);
    parse_bad(SCHEMA_TS_AUTO, NULL, "2023-02-29", "day out of range");
    parse_bad(SCHEMA_TS_AUTO, NULL, "yesterday", NULL);
}

static void test_patterns(void **state)
{
    (void)state;
    const schema_ts_format_t F = SCHEMA_TS_STRFTIME;
    int64_t aug2 = schema_days_from_civil(2016, 8, 2) * DAY;
    /* The bank data's dates: d/m/yy without leading zeros. */
    assert_int_equal(parse_ok(F, "%d/%m/%y", "2/8/16"), aug2);
    assert_int_equal(parse_ok(F, "%d/%m/%y", "02/08/16"), aug2);
    assert_int_equal(parse_ok(F, "%d/%m/%y", "29/2/16"), schema_days_from_civil(2016, 2, 29) * DAY);
    assert_int_equal(parse_ok(F, "%d/%m/%y", "3/6/85"), schema_days_from_civil(1985, 6, 3) * DAY);
    assert_int_equal(parse_ok(F, "%d/%m/%y", "1/1/68"), schema_days_from_civil(2068, 1, 1) * DAY);
    assert_int_equal(parse_ok(F, "%d/%m/%y", "1/1/69"), schema_days_from_civil(1969, 1, 1) * DAY);
    assert_int_equal(parse_ok(F, "%d/%m/%y", "1/1/00"), schema_days_from_civil(2000, 1, 1) * DAY);
    parse_bad(F, "%d/%m/%y", "31/2/16", "day out of range");
    parse_bad(F, "%d/%m/%y", "29/2/15", "day out of range");
    parse_bad(F, "%d/%m/%y", "1/13/16", "month out of range");
    parse_bad(F, "%d/%m/%y", "0/1/16", "day out of range");
    parse_bad(F, "%d/%m/%y", "1/1/1800", "unexpected characters");
    parse_bad(F, "%d/%m/%y", "1-1-16", "does not match");
    parse_bad(F, "%d/%m/%y", "1/1/", "%y");
    parse_bad(F, "%d/%m/%y", "nan", "%d");
    /* Dates with times; adjacent directives read two digits greedily. */
    assert_int_equal(parse_ok(F, "%d/%m/%y %H%M%S", "2/8/16 143207"),
                     aug2 + (14 * 3600 + 32 * 60 + 7) * SEC);
    assert_int_equal(parse_ok(F, "%d/%m/%y %H%M%S", "2/8/16 005314"), aug2 + (53 * 60 + 14) * SEC);
    parse_bad(F, "%d/%m/%y %H%M%S", "2/8/16 5314", NULL);
    parse_bad(F, "%d/%m/%y %H%M%S", "2/8/16 250000", "hour out of range");
    assert_int_equal(parse_ok(F, "%Y%m%d", "20160802"), aug2);
    assert_int_equal(parse_ok(F, "%Y-%m-%d %H:%M:%S.%f %z", "2016-08-02 05:30:00.25 +05:30"),
                     aug2 + SEC / 4);
    assert_int_equal(parse_ok(F, "%Y-%m-%dT%H:%M:%S%z", "2016-08-02T00:00:00Z"), aug2);
    assert_int_equal(parse_ok(F, "%H:%M", "01:02"), (3600 + 120) * SEC); /* date: 1970-01-01 */
    assert_int_equal(parse_ok(F, "100%% %Y", "100% 2016"),
                     schema_days_from_civil(2016, 1, 1) * DAY);
    assert_int_equal(parse_ok(F, "%S.%f", "1.123456789"), SEC + 123456);
    parse_bad(F, "%S.%f", "1.1234567891", "longer than 9 digits");
    parse_bad(F, "%Y", "16", "four-digit year");
    parse_bad(F, "%Y", "2016 ", "unexpected characters");
    parse_bad(F, "%q", "1", "unknown directive");
    parse_bad(F, "%Y%", "2016", "ends with");
    parse_bad(F, NULL, "2016", "no pattern");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_walk), cmocka_unit_test(test_civil_anchors),
        cmocka_unit_test(test_format),     cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_iso8601),    cmocka_unit_test(test_iso8601_rejects),
        cmocka_unit_test(test_epochs),     cmocka_unit_test(test_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

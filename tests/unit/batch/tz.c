/*
 * Unit tests for time zones (src/batch/tz.c): the built-in UTC; offsets and
 * broken-down local times of real zones from the system tz database
 * (Europe/Berlin, America/New_York, Australia/Lord_Howe, Asia/Kolkata,
 * Europe/Dublin) on both sides of known transitions, far before the 32-bit
 * range and far past the transition table (footer rules); hand-built TZif
 * files of every version under $TZDIR, footer rules in each date form
 * (Jn, n, Mm.w.d, negative and beyond-24h times, all-year daylight time,
 * negative daylight saving); name checks; and rejection, with the file
 * named, of every truncation of a real file and of each kind of damage.
 *
 * Expected values were taken from `TZ=<zone> date -d @T` and zdump on a
 * Debian 12 machine (tzdata 2025b); they are facts of the tz database.
 * Threading: single-threaded; the tests that set $TZDIR restore it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "batch/batch.h"
#include "core/core.h"

/* ---- helpers ------------------------------------------------------------------ */

static batch_tz_t *load(const char *name)
{
    batch_tz_t *tz = NULL;
    int rc = batch_tz_load(name, &tz);
    if (rc != 0)
        fail_msg("batch_tz_load(%s): %d %s", name, rc, core_error_detail());
    return tz;
}

static void assert_local(const batch_tz_t *tz, int64_t t, int y, int mo, int d, int h, int mi,
                         int s, int wday, int32_t off)
{
    batch_local_t l;
    batch_tz_local(tz, t, &l);
    if (l.year != y || l.month != mo || l.day != d || l.hour != h || l.minute != mi ||
        l.second != s || l.wday != wday || l.offset != off)
        fail_msg("%s at %lld: got %04d-%02d-%02d %02d:%02d:%02d wday %d offset %d, want "
                 "%04d-%02d-%02d %02d:%02d:%02d wday %d offset %d",
                 batch_tz_name(tz), (long long)t, l.year, l.month, l.day, l.hour, l.minute,
                 l.second, l.wday, l.offset, y, mo, d, h, mi, s, wday, off);
    assert_int_equal(batch_tz_offset(tz, t), off);
}

/* A temporary $TZDIR for hand-built files (on /dev/shm when it exists). */
static char tzdir[64];

static void tzdir_open(void)
{
    struct stat st; /* /dev/shm keeps the many small writes off the disk */
    bool shm = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode);
    snprintf(tzdir, sizeof(tzdir), "%s/strata-tz-XXXXXX", shm ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(tzdir));
    assert_int_equal(setenv("TZDIR", tzdir, 1), 0);
}

static void write_zone(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", tzdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void tzdir_close(void)
{
    char path[128];
    const char *names[] = {"Z1", "Z2", "Big"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", tzdir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/Dir", tzdir);
    rmdir(path);
    assert_int_equal(rmdir(tzdir), 0);
    unsetenv("TZDIR");
}

/* Loads NAME expecting failure CODE whose detail mentions the file. */
static void assert_load_fails(const char *name, int code)
{
    batch_tz_t *tz = (batch_tz_t *)1;
    int rc = batch_tz_load(name, &tz);
    if (rc != code)
        fail_msg("load %s: got %d (%s), want %d", name, rc, core_error_detail(), code);
    assert_null(tz);
    if (!strstr(core_error_detail(), name))
        fail_msg("detail \"%s\" does not name %s", core_error_detail(), name);
}

static uint8_t *read_system_zone(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s missing: the tzdata package must be installed", path);
    uint8_t *p = malloc(1 << 16);
    assert_non_null(p);
    *len = fread(p, 1, 1 << 16, f);
    fclose(f);
    return p;
}

/* ---- a TZif writer ------------------------------------------------------------ */

typedef struct {
    int32_t off;
    uint8_t isdst;
} ttype_t;

typedef struct {
    char version; /* 0, '2', '3', '4' */
    uint32_t ntimes;
    const int64_t *times;
    const uint8_t *idx;
    uint32_t ntypes;
    const ttype_t *types;
    const char *footer; /* version 2+ */
    uint32_t leaps;     /* leap-second records (zeros) */
} tzif_spec_t;

static size_t put_header(uint8_t *p, char version, const tzif_spec_t *z)
{
    memset(p, 0, 44);
    memcpy(p, "TZif", 4);
    p[4] = (uint8_t)version;
    core_store_be32(p + 28, z->leaps);
    core_store_be32(p + 32, z->ntimes);
    core_store_be32(p + 36, z->ntypes);
    core_store_be32(p + 40, 4); /* "XXX\0" */
    return 44;
}

static size_t put_block(uint8_t *p, const tzif_spec_t *z, int tsz)
{
    size_t n = 0;
    for (uint32_t i = 0; i < z->ntimes; i++, n += tsz) {
        if (tsz == 8)
            core_store_be64(p + n, (uint64_t)z->times[i]);
        else
            core_store_be32(p + n, (uint32_t)(int32_t)z->times[i]);
    }
    for (uint32_t i = 0; i < z->ntimes; i++)
        p[n++] = z->idx[i];
    for (uint32_t i = 0; i < z->ntypes; i++, n += 6) {
        core_store_be32(p + n, (uint32_t)z->types[i].off);
        p[n + 4] = z->types[i].isdst;
        p[n + 5] = 0;
    }
    memcpy(p + n, "XXX", 4);
    n += 4;
    memset(p + n, 0, (size_t)z->leaps * (tsz + 4));
    return n + (size_t)z->leaps * (tsz + 4);
}

/* Writes the file for Z into P (at least 4096 bytes); returns its size. */
static size_t build_tzif(uint8_t *p, const tzif_spec_t *z)
{
    size_t n = put_header(p, z->version, z);
    n += put_block(p + n, z, 4);
    if (z->version == 0)
        return n;
    n += put_header(p + n, z->version, z);
    n += put_block(p + n, z, 8);
    n += (size_t)snprintf((char *)p + n, 256, "\n%s\n", z->footer ? z->footer : "");
    return n;
}

/* A version 3 file with no transitions: the footer rule is the zone. */
static batch_tz_t *load_rule(const char *rule)
{
    uint8_t buf[4096];
    ttype_t t0 = {0, 0};
    tzif_spec_t z = {.version = '3', .ntypes = 1, .types = &t0, .footer = rule};
    write_zone("Z1", buf, build_tzif(buf, &z));
    return load("Z1");
}

/* ---- real zones ---------------------------------------------------------------- */

static void test_utc(void **state)
{
    (void)state;
    const char *names[] = {"UTC", "Etc/UTC", "Z"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(names); i++) {
        batch_tz_t *tz = load(names[i]);
        assert_string_equal(batch_tz_name(tz), names[i]);
        assert_local(tz, 0, 1970, 1, 1, 0, 0, 0, 4, 0);
        assert_local(tz, -1, 1969, 12, 31, 23, 59, 59, 3, 0);
        assert_local(tz, 951782400, 2000, 2, 29, 0, 0, 0, 2, 0);
        assert_local(tz, 1767225600, 2026, 1, 1, 0, 0, 0, 4, 0);
        batch_tz_destroy(tz);
    }
    batch_tz_destroy(NULL);
}

static void test_berlin(void **state)
{
    (void)state;
    batch_tz_t *tz = load("Europe/Berlin");
    /* 2026 spring forward at 01:00 UTC: 02:00 CET becomes 03:00 CEST. */
    assert_local(tz, 1774745999, 2026, 3, 29, 1, 59, 59, 0, 3600);
    assert_local(tz, 1774746000, 2026, 3, 29, 3, 0, 0, 0, 7200);
    /* 2026 fall back at 01:00 UTC: 03:00 CEST becomes 02:00 CET. */
    assert_local(tz, 1792889999, 2026, 10, 25, 2, 59, 59, 0, 7200);
    assert_local(tz, 1792890000, 2026, 10, 25, 2, 0, 0, 0, 3600);
    /* 1945: double summer time (+3), from the transition table. */
    assert_int_equal(batch_tz_offset(tz, -775440000), 10800); /* 1945-06-06 */
    /* 1880, before standard time: local mean time +0:53:28. */
    assert_local(tz, -2840140800, 1880, 1, 1, 0, 53, 28, 4, 3208);
    /* 2090, past the table: the footer's CET-1CEST,M3.5.0,M10.5.0/3. */
    assert_int_equal(batch_tz_offset(tz, 3794173199), 3600);
    assert_int_equal(batch_tz_offset(tz, 3794173200), 7200);
    assert_int_equal(batch_tz_offset(tz, 3812921999), 7200);
    assert_int_equal(batch_tz_offset(tz, 3812922000), 3600);
    assert_local(tz, 3802593600, 2090, 7, 1, 14, 0, 0, 6, 7200);
    batch_tz_destroy(tz);
}

static void test_new_york(void **state)
{
    (void)state;
    batch_tz_t *tz = load("America/New_York");
    assert_local(tz, 1772953199, 2026, 3, 8, 1, 59, 59, 0, -18000);
    assert_local(tz, 1772953200, 2026, 3, 8, 3, 0, 0, 0, -14400);
    assert_local(tz, 1793512799, 2026, 11, 1, 1, 59, 59, 0, -14400);
    assert_local(tz, 1793512800, 2026, 11, 1, 1, 0, 0, 0, -18000);
    /* 1874, before 1901 (only in the 64-bit data): LMT -4:56:02. */
    assert_int_equal(batch_tz_offset(tz, -3000000000LL), -17762);
    assert_local(tz, 3802593600, 2090, 7, 1, 8, 0, 0, 6, -14400);
    batch_tz_destroy(tz);
}

static void test_lord_howe(void **state)
{
    (void)state;
    batch_tz_t *tz = load("Australia/Lord_Howe");
    /* Daylight time ends 2026-04-05: 02:00 +11 becomes 01:30 +10:30. */
    assert_local(tz, 1775314799, 2026, 4, 5, 1, 59, 59, 0, 39600);
    assert_local(tz, 1775314800, 2026, 4, 5, 1, 30, 0, 0, 37800);
    /* It starts 2026-10-04: 02:00 +10:30 becomes 02:30 +11. */
    assert_local(tz, 1791041399, 2026, 10, 4, 1, 59, 59, 0, 37800);
    assert_local(tz, 1791041400, 2026, 10, 4, 2, 30, 0, 0, 39600);
    assert_local(tz, 3802593600, 2090, 7, 1, 22, 30, 0, 6, 37800);
    batch_tz_destroy(tz);
}

static void test_kolkata(void **state)
{
    (void)state;
    batch_tz_t *tz = load("Asia/Kolkata");
    assert_local(tz, 1767225600, 2026, 1, 1, 5, 30, 0, 4, 19800);
    assert_local(tz, 3802593600, 2090, 7, 1, 17, 30, 0, 6, 19800);
    /* 1942-1945: +06:30 war time. */
    assert_int_equal(batch_tz_offset(tz, -820000000), 23400);
    batch_tz_destroy(tz);
}

static void test_dublin_negative_dst(void **state)
{
    (void)state;
    /* IST-1GMT0,M10.5.0,M3.5.0/1: standard time is summer time. */
    batch_tz_t *tz = load("Europe/Dublin");
    assert_int_equal(batch_tz_offset(tz, 3794173199), 0);
    assert_int_equal(batch_tz_offset(tz, 3794173200), 3600);
    assert_int_equal(batch_tz_offset(tz, 3812921999), 3600);
    assert_int_equal(batch_tz_offset(tz, 3812922000), 0);
    batch_tz_destroy(tz);
}

static void test_extreme_instants(void **state)
{
    (void)state;
    const char *names[] = {"UTC", "Europe/Berlin", "Australia/Lord_Howe"};
    const int64_t ts[] = {INT64_MIN, INT64_MIN + 1, -(1LL << 40), 1LL << 40, INT64_MAX};
    for (size_t i = 0; i < CORE_ARRAY_LEN(names); i++) {
        batch_tz_t *tz = load(names[i]);
        for (size_t k = 0; k < CORE_ARRAY_LEN(ts); k++) {
            batch_local_t l;
            batch_tz_local(tz, ts[k], &l);
            assert_true(l.month >= 1 && l.month <= 12 && l.day >= 1 && l.day <= 31);
            assert_true(l.hour >= 0 && l.hour < 24 && l.minute >= 0 && l.minute < 60);
            assert_true(l.wday >= 0 && l.wday < 7);
            assert_true(ts[k] < 0 ? l.year < 1970 : l.year > 1970);
            int32_t off = batch_tz_offset(tz, ts[k]);
            assert_true(off >= -89999 && off <= 93599);
        }
        batch_tz_destroy(tz);
    }
}

/* ---- names and files ------------------------------------------------------------- */

static void test_bad_names(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "/etc/passwd",
                         "../etc/passwd",
                         "Europe/../UTC",
                         "Europe/Ber lin",
                         "Europe\\Berlin",
                         "Europe/Berlin\n",
                         "a..b"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(bad); i++) {
        batch_tz_t *tz = (batch_tz_t *)1;
        assert_int_equal(batch_tz_load(bad[i], &tz), CORE_EINVAL);
        assert_null(tz);
    }
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    batch_tz_t *tz;
    assert_int_equal(batch_tz_load(longname, &tz), CORE_EINVAL);
}

static void test_unknown_zone(void **state)
{
    (void)state;
    assert_load_fails("Mars/Olympus_Mons", CORE_ENOENT);
    assert_load_fails("Europe", CORE_ENOENT); /* a directory */
}

static void test_tzdir(void **state)
{
    (void)state;
    tzdir_open();
    uint8_t buf[4096];
    ttype_t types[2] = {{3600, 0}, {-7200, 1}};
    int64_t times[1] = {1000000000};
    uint8_t idx[1] = {1};
    tzif_spec_t z = {.version = '2',
                     .ntimes = 1,
                     .times = times,
                     .idx = idx,
                     .ntypes = 2,
                     .types = types,
                     .footer = "<-02>2"};
    write_zone("Z1", buf, build_tzif(buf, &z));
    batch_tz_t *tz = load("Z1");
    assert_int_equal(batch_tz_offset(tz, 999999999), 3600);
    assert_int_equal(batch_tz_offset(tz, 1000000000), -7200);
    assert_int_equal(batch_tz_offset(tz, INT64_MAX), -7200);
    batch_tz_destroy(tz);
    /* Europe/Berlin is not under this $TZDIR. */
    assert_load_fails("Europe/Berlin", CORE_ENOENT);
    assert_true(strstr(core_error_detail(), tzdir) != NULL);
    /* UTC needs no file. */
    tz = load("UTC");
    batch_tz_destroy(tz);
    tzdir_close();
}

static void test_version1_file(void **state)
{
    (void)state;
    tzdir_open();
    uint8_t buf[4096];
    ttype_t types[3] = {{3600, 0}, {7200, 1}, {7200, 0}};
    int64_t times[3] = {-100000, 100000, 200000};
    uint8_t idx[3] = {1, 2, 0};
    tzif_spec_t z = {
        .version = 0, .ntimes = 3, .times = times, .idx = idx, .ntypes = 3, .types = types};
    write_zone("Z1", buf, build_tzif(buf, &z));
    batch_tz_t *tz = load("Z1");
    assert_int_equal(batch_tz_offset(tz, INT64_MIN), 3600); /* type 0 before */
    assert_int_equal(batch_tz_offset(tz, -100001), 3600);
    assert_int_equal(batch_tz_offset(tz, -100000), 7200);
    assert_int_equal(batch_tz_offset(tz, 150000), 7200); /* isdst-only change */
    assert_int_equal(batch_tz_offset(tz, 199999), 7200);
    assert_int_equal(batch_tz_offset(tz, 200000), 3600);
    assert_int_equal(batch_tz_offset(tz, INT64_MAX), 3600); /* no footer: last stays */
    batch_tz_destroy(tz);
    tzdir_close();
}

static void test_footer_rules(void **state)
{
    (void)state;
    tzdir_open();
    static const struct {
        const char *rule;
        int64_t t;
        int32_t off;
    } cases[] = {
        /* All-year daylight time (RFC 8536's example), also across New Year. */
        {"EST5EDT,0/0,J365/25", 1798761600, -14400},
        {"EST5EDT,0/0,J365/25", 1814400000, -14400},
        {"EST5EDT,0/0,J365/25", 1830294000, -14400},
        /* Negative daylight saving: summer is standard time. */
        {"IST-1GMT0,M10.5.0,M3.5.0/1", 1774745999, 0},
        {"IST-1GMT0,M10.5.0,M3.5.0/1", 1774746000, 3600},
        {"IST-1GMT0,M10.5.0,M3.5.0/1", 1792889999, 3600},
        {"IST-1GMT0,M10.5.0,M3.5.0/1", 1792890000, 0},
        /* n counts February 29: day 59 is 2028-02-29 but 2027-03-01. */
        {"AAA0BBB,59/0,120/0", 1835395199, 0},
        {"AAA0BBB,59/0,120/0", 1835395200, 3600},
        {"AAA0BBB,59/0,120/0", 1803859199, 0},
        {"AAA0BBB,59/0,120/0", 1803859200, 3600},
        /* Jn never counts it: J60 is March 1 in every year. */
        {"AAA0BBB,J60/0,J120/0", 1835438400, 0},
        {"AAA0BBB,J60/0,J120/0", 1835481600, 3600},
        /* Negative and beyond-24h times of day (version 3). */
        {"AAA0BBB,M3.5.0/-1,M10.5.0/27", 1774738799, 0},
        {"AAA0BBB,M3.5.0/-1,M10.5.0/27", 1774738800, 3600},
        {"AAA0BBB,M3.5.0/-1,M10.5.0/27", 1792979999, 3600},
        {"AAA0BBB,M3.5.0/-1,M10.5.0/27", 1792980000, 0},
        /* Quoted abbreviations and minutes in offsets. */
        {"<+0545>-5:45", 1767225600, 20700},
        {"<-0330>3:30<-0230>,M3.2.0,M11.1.0", 1782864000, -9000},
        /* No rule after the daylight name: the default M3.2.0,M11.1.0. */
        {"EST5EDT", 1782864000, -14400},
        {"EST5EDT", 1772953199, -18000},
        {"EST5EDT", 1772953200, -14400},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(cases); i++) {
        batch_tz_t *tz = load_rule(cases[i].rule);
        int32_t got = batch_tz_offset(tz, cases[i].t);
        if (got != cases[i].off)
            fail_msg("%s at %lld: got %d, want %d", cases[i].rule, (long long)cases[i].t, got,
                     cases[i].off);
        /* The rule repeats every 400 years. */
        assert_int_equal(batch_tz_offset(tz, cases[i].t + 12622780800LL), cases[i].off);
        assert_int_equal(batch_tz_offset(tz, cases[i].t - 5 * 12622780800LL), cases[i].off);
        /* Any instant at all has an answer. */
        int32_t lo = batch_tz_offset(tz, INT64_MIN), hi = batch_tz_offset(tz, INT64_MAX);
        assert_true(lo >= -89999 && lo <= 93599 && hi >= -89999 && hi <= 93599);
        batch_tz_destroy(tz);
    }
    tzdir_close();
}

/* ---- damaged files ------------------------------------------------------------- */

static void test_truncations_rejected(void **state)
{
    (void)state;
    tzdir_open();
    const char *zones[] = {"Europe/Berlin", "Asia/Kolkata"};
    for (size_t k = 0; k < CORE_ARRAY_LEN(zones); k++) {
        size_t len;
        uint8_t *p = read_system_zone(zones[k], &len);
        for (size_t n = 0; n < len; n++) {
            write_zone("Z1", p, n);
            assert_load_fails("Z1", CORE_ECORRUPT);
        }
        write_zone("Z1", p, len);
        batch_tz_destroy(load("Z1"));
        free(p);
    }
    tzdir_close();
}

static void test_damage_rejected(void **state)
{
    (void)state;
    tzdir_open();
    uint8_t good[4096], buf[4096];
    ttype_t types[2] = {{3600, 0}, {7200, 1}};
    int64_t times[2] = {100, 200};
    uint8_t idx[2] = {1, 0};
    tzif_spec_t z = {.version = '2',
                     .ntimes = 2,
                     .times = times,
                     .idx = idx,
                     .ntypes = 2,
                     .types = types,
                     .footer = "CET-1CEST,M3.5.0,M10.5.0/3"};
    size_t n = build_tzif(good, &z);
    size_t v2 = 44 + 2 * 5 + 2 * 6 + 4; /* the second header */
    size_t types2 = v2 + 44 + 2 * 9;    /* its time types */
    static const struct {
        size_t at;
        uint8_t byte;
    } edits[] = {
        {0, 'X'},                         /* magic */
        {4, '5'},                         /* version */
        {4, '3'},                         /* first and second header versions differ */
        {35, 200},                        /* v1 time count exceeds the file */
        {44 + 2 * 5 + 2 * 6 + 4 + 39, 0}, /* v2 type count 0 */
        {44 + 2 * 5 + 2 * 6 + 4 + 43, 0}, /* v2 char count 0 */
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(edits); i++) {
        memcpy(buf, good, n);
        buf[edits[i].at] = edits[i].byte;
        write_zone("Z2", buf, n);
        assert_load_fails("Z2", CORE_ECORRUPT);
    }
    struct {
        size_t at;
        uint8_t byte;
        const char *what;
    } semantic[] = {
        {v2 + 44 + 16 + 0, 2, "type index"},       /* index 2 of 2 types */
        {v2 + 44 + 15, 100, "ascending"},          /* second time 100 == first */
        {types2 + 4, 2, "isdst"},                  /* isdst 2 */
        {types2 + 5, 9, "abbreviation index"},     /* beyond the 4 chars */
        {types2 + 0, 0x80, "offset out of range"}, /* huge negative offset */
        {n - 3, 'X', "footer"},                    /* "/X" */
        {n - 1, 'x', "footer"},                    /* no final newline */
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(semantic); i++) {
        memcpy(buf, good, n);
        buf[semantic[i].at] = semantic[i].byte;
        write_zone("Z2", buf, n);
        assert_load_fails("Z2", CORE_ECORRUPT);
        if (!strstr(core_error_detail(), semantic[i].what))
            fail_msg("case %zu: detail \"%s\" lacks \"%s\"", i, core_error_detail(),
                     semantic[i].what);
    }
    /* Footer rules that do not parse. */
    const char *footers[] = {"CET-1CEST,M3.5.0",
                             "CET-1CEST,M13.5.0,M10.5.0",
                             "CE-1",
                             "CET-25",
                             "CET-1CEST,J0,J100",
                             "CET-1CEST,M3.6.0,M10.5.0",
                             "CET-1CEST,366,100",
                             "CET-1CEST,M3.5.0/168,M10.5.0",
                             "<+1>-1",
                             "CET-1CEST,M3.5.0,M10.5.0/3 x"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(footers); i++) {
        z.footer = footers[i];
        write_zone("Z2", buf, build_tzif(buf, &z));
        assert_load_fails("Z2", CORE_ECORRUPT);
    }
    tzdir_close();
}

static void test_leap_seconds_and_size(void **state)
{
    (void)state;
    tzdir_open();
    uint8_t buf[4096];
    ttype_t t0 = {0, 0};
    tzif_spec_t z = {.version = '2', .ntypes = 1, .types = &t0, .footer = "UTC0", .leaps = 1};
    write_zone("Z1", buf, build_tzif(buf, &z));
    assert_load_fails("Z1", CORE_EUNSUPP);
    /* A file over the 1 MiB cap is refused before it is decoded. */
    size_t big = (1u << 20) + 1;
    uint8_t *p = calloc(1, big);
    assert_non_null(p);
    z.leaps = 0;
    memcpy(p, buf, build_tzif(buf, &z));
    write_zone("Big", p, big);
    free(p);
    assert_load_fails("Big", CORE_ECORRUPT);
    assert_non_null(strstr(core_error_detail(), "larger than"));
    /* A directory under $TZDIR is not a zone. */
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/Dir", tzdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_load_fails("Dir", CORE_ENOENT);
    tzdir_close();
}

static void test_alloc_failures(void **state)
{
    (void)state;
    for (long n = 1; n < 20; n++) {
        batch_tz_t *tz = NULL;
        core_mem_fail_at(n, false);
        int rc = batch_tz_load("Europe/Berlin", &tz);
        core_mem_fail_at(0, false);
        if (rc == 0) {
            assert_int_equal(batch_tz_offset(tz, 1774746000), 7200);
            batch_tz_destroy(tz);
            break;
        }
        assert_int_equal(rc, CORE_ENOMEM);
        assert_null(tz);
    }
    core_mem_stats_t st;
    core_mem_stats(CORE_MEM_BATCH, &st);
    assert_int_equal(st.bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc),
        cmocka_unit_test(test_berlin),
        cmocka_unit_test(test_new_york),
        cmocka_unit_test(test_lord_howe),
        cmocka_unit_test(test_kolkata),
        cmocka_unit_test(test_dublin_negative_dst),
        cmocka_unit_test(test_extreme_instants),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_unknown_zone),
        cmocka_unit_test(test_tzdir),
        cmocka_unit_test(test_version1_file),
        cmocka_unit_test(test_footer_rules),
        cmocka_unit_test(test_truncations_rejected),
        cmocka_unit_test(test_damage_rejected),
        cmocka_unit_test(test_leap_seconds_and_size),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the scan of an archive's partition (src/lake/lake.h, "A
 * partition of an archive in offset order"): files in the archive's
 * layout, written with the writer, are merged in offset order across files
 * and row groups; other partitions, staging folders and files at or past
 * `before` are not opened (one of those is not even Parquet); `needed`
 * follows _timestamp; the start skips old row groups; duplicates come
 * once; and a missing column, offsets that do not grow, a missing topic
 * folder and too many overlapping row groups behave as the contract says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "lake/lake.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/strata-lakescan-XXXXXX");
    return mkdtemp(root) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

static const lake_column_t fields[2] = {{"v", LAKE_COL_INT64, false}, {"s", LAKE_COL_STRING, true}};

static void mkdirs(const char *hour)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/t/%s", root, hour);
    assert_int_equal(system(cmd), 0);
}

/* Writes <root>/t/<hour>/t+<part>+<first>.parquet with the archive's
 * columns for the given offsets; _timestamp = offset * 1000 us; v =
 * offset * 10; key "k<offset>" (null for multiples of 5). */
static void write_file(const char *hour, int part, const int64_t *offs, size_t n, int64_t rg_rows,
                       bool with_key)
{
    mkdirs(hour);
    char path[256];
    snprintf(path, sizeof path, "%s/t/%s/t+%d+%lld.parquet", root, hour, part, (long long)offs[0]);
    lake_column_t cols[6] = {
        fields[0],
        fields[1],
        {"_key", LAKE_COL_STRING, true},
        {"_partition", LAKE_COL_INT64, false},
        {"_offset", LAKE_COL_INT64, false},
        {"_timestamp", LAKE_COL_TIMESTAMP, false},
    };
    size_t ncols = with_key ? 6 : 5;
    if (!with_key) {
        cols[2] = cols[3];
        cols[3] = cols[4];
        cols[4] = cols[5];
    }
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = rg_rows;
    lake_writer_t *w;
    assert_int_equal(lake_writer_create(path, cols, ncols, &o, &w), 0);
    for (size_t i = 0; i < n; i++) {
        char key[32], s[32];
        int kn = snprintf(key, sizeof key, "k%lld", (long long)offs[i]);
        int sn = snprintf(s, sizeof s, "s%lld", (long long)offs[i]);
        schema_value_t v[6] = {
            {.type = SCHEMA_INT, .v.i = offs[i] * 10},
            {.type = SCHEMA_STRING, .v.s = {s, (size_t)sn}},
            offs[i] % 5 == 0 ? (schema_value_t){.type = SCHEMA_NULL}
                             : (schema_value_t){.type = SCHEMA_STRING, .v.s = {key, (size_t)kn}},
            {.type = SCHEMA_INT, .v.i = part},
            {.type = SCHEMA_INT, .v.i = offs[i]},
            {.type = SCHEMA_TIMESTAMP, .v.i = offs[i] * 1000},
        };
        if (!with_key) {
            v[2] = v[3];
            v[3] = v[4];
            v[4] = v[5];
        }
        assert_int_equal(lake_writer_add(w, v), 0);
    }
    assert_int_equal(lake_writer_finish(w), 0);
}

/* Offsets from..to (exclusive) stepping by step. */
static size_t range(int64_t *out, int64_t from, int64_t to, int64_t step)
{
    size_t n = 0;
    for (int64_t o = from; o < to; o += step)
        out[n++] = o;
    return n;
}

static lake_scan_config_t config(int64_t before, int64_t from_us)
{
    return (lake_scan_config_t){
        .dir = root,
        .topic = "t",
        .partition = 0,
        .before = before,
        .from_us = from_us,
        .fields = fields,
        .nfields = 2,
    };
}

/* Two interleaved files of partition 0 (even and odd offsets, two
 * hours), one of partition 1, a staging file, and a file past `before`
 * that is not Parquet at all. */
static void standard_lake(void)
{
    int64_t offs[200];
    write_file("date=2024-01-01/hour=10", 0, offs, range(offs, 0, 100, 2), 10, true);
    write_file("date=2024-01-01/hour=11", 0, offs, range(offs, 1, 100, 2), 10, true);
    write_file("date=2024-01-01/hour=11", 1, offs, range(offs, 0, 100, 1), 10, true);
    write_file("_staging/0", 0, offs, range(offs, 0, 100, 1), 10, true);
    mkdirs("date=2024-01-01/hour=12");
    char path[256];
    snprintf(path, sizeof path, "%s/t/date=2024-01-01/hour=12/t+0+100.parquet", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not parquet", f);
    fclose(f);
}

static void test_merge(void **state)
{
    (void)state;
    standard_lake();
    lake_scan_config_t c = config(90, 0);
    lake_scan_t *s;
    assert_int_equal(lake_scan_open(&c, &s), 0);
    assert_int_equal(lake_scan_start(s), 0);
    assert_int_equal(lake_scan_nfiles(s), 2);
    lake_scan_row_t row;
    int64_t want = 0;
    int rc;
    while ((rc = lake_scan_next(s, &row)) == 1) {
        assert_int_equal(row.offset, want);
        assert_int_equal(row.timestamp_us, want * 1000);
        assert_true(row.needed);
        assert_int_equal(row.values[0].type, SCHEMA_INT);
        assert_int_equal(row.values[0].v.i, want * 10);
        char s1[32];
        snprintf(s1, sizeof s1, "s%lld", (long long)want);
        assert_int_equal(row.values[1].v.s.len, strlen(s1));
        assert_memory_equal(row.values[1].v.s.p, s1, strlen(s1));
        if (want % 5 == 0) {
            assert_null(row.key);
        } else {
            snprintf(s1, sizeof s1, "k%lld", (long long)want);
            assert_int_equal(row.key_len, strlen(s1));
            assert_memory_equal(row.key, s1, strlen(s1));
        }
        want++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(want, 90);
    bool read;
    int64_t needed, total = 0;
    for (size_t i = 0; i < lake_scan_nfiles(s); i++) {
        const char *p = lake_scan_file(s, i, &read, &needed);
        assert_non_null(strstr(p, "/t+0+"));
        assert_true(read);
        total += needed;
    }
    assert_int_equal(total, 90);
    assert_int_equal(lake_scan_duplicates(s), 0);
    lake_scan_close(s);
}

static void test_needed_and_start(void **state)
{
    (void)state;
    standard_lake();
    /* Row groups of 10 rows: even offsets 0-18, 20-38, 40-58, ...; odd
     * 1-19, 21-39, 41-59, ... Rows from offset 50 are needed: the groups
     * ending at 38 and 39 are the last old ones before the first group
     * that is not (it starts at 40), so the scan starts at 40. */
    lake_scan_config_t c = config(100, 50 * 1000);
    lake_scan_t *s;
    assert_int_equal(lake_scan_open(&c, &s), 0);
    assert_int_equal(lake_scan_start(s), 40);
    lake_scan_row_t row;
    int64_t want = 40;
    int rc;
    while ((rc = lake_scan_next(s, &row)) == 1) {
        assert_int_equal(row.offset, want);
        assert_int_equal(row.needed, want >= 50);
        if (!row.needed)
            assert_null(row.values);
        want++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(want, 100);
    lake_scan_close(s);

    /* Nothing needed: the start is past the last old group. */
    c = config(100, 1000 * 1000);
    assert_int_equal(lake_scan_open(&c, &s), 0);
    assert_int_equal(lake_scan_start(s), 100);
    assert_int_equal(lake_scan_next(s, &row), 0);
    lake_scan_close(s);
}

static void test_duplicates(void **state)
{
    (void)state;
    int64_t offs[100];
    write_file("date=2024-01-01/hour=10", 0, offs, range(offs, 0, 30, 1), 7, true);
    write_file("date=2024-01-01/hour=11", 0, offs, range(offs, 20, 40, 1), 7, true);
    lake_scan_config_t c = config(1000, 0);
    lake_scan_t *s;
    assert_int_equal(lake_scan_open(&c, &s), 0);
    lake_scan_row_t row;
    int64_t want = 0;
    while (lake_scan_next(s, &row) == 1)
        assert_int_equal(row.offset, want++);
    assert_int_equal(want, 40);
    assert_int_equal(lake_scan_duplicates(s), 10);
    lake_scan_close(s);
}

static void test_bad_files(void **state)
{
    (void)state;
    lake_scan_config_t c = config(1000, 0);
    lake_scan_t *s = NULL;
    /* No topic folder: nothing to read. */
    assert_int_equal(lake_scan_open(&c, &s), 0);
    assert_int_equal(lake_scan_nfiles(s), 0);
    assert_int_equal(lake_scan_start(s), 0);
    lake_scan_row_t row;
    assert_int_equal(lake_scan_next(s, &row), 0);
    lake_scan_close(s);
    /* A file without _key. */
    int64_t offs[10];
    write_file("date=2024-01-01/hour=10", 0, offs, range(offs, 0, 10, 1), 5, false);
    s = NULL;
    assert_int_equal(lake_scan_open(&c, &s), CORE_EINVAL);
    assert_null(s);
    assert_non_null(strstr(core_error_detail(), "t+0+0.parquet has no column _key"));
}

static void test_offsets_must_grow(void **state)
{
    (void)state;
    int64_t offs[4] = {3, 5, 4, 6};
    write_file("date=2024-01-01/hour=10", 0, offs, 4, 10, true);
    lake_scan_config_t c = config(1000, 0);
    lake_scan_t *s;
    assert_int_equal(lake_scan_open(&c, &s), 0);
    lake_scan_row_t row;
    int rc;
    while ((rc = lake_scan_next(s, &row)) == 1)
        ;
    assert_int_equal(rc, CORE_ECORRUPT);
    assert_non_null(strstr(core_error_detail(), "does not increase"));
    lake_scan_close(s);
}

static void test_max_open(void **state)
{
    (void)state;
    standard_lake();
    lake_scan_config_t c = config(100, 0);
    c.max_open = 1;
    lake_scan_t *s;
    assert_int_equal(lake_scan_open(&c, &s), 0);
    lake_scan_row_t row;
    int rc;
    while ((rc = lake_scan_next(s, &row)) == 1)
        ;
    assert_int_equal(rc, CORE_ETOOBIG);
    lake_scan_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_needed_and_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets_must_grow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_open, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

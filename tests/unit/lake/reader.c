/*
 * Unit tests of the Parquet reader (src/lake/lake.h, "Reading the lake"):
 * round trips through the writer for every column type with nulls and
 * extreme values, every codec, many pages and row groups, dictionary pages
 * and the fallback to PLAIN within a chunk; statistics and metadata as the
 * reader gives them; loading some columns only; zero-row files; what it
 * refuses (not Parquet, a truncated or lying footer, a corrupt page, data
 * page v2, nested columns, caps), each error naming file, column and page;
 * and an allocation failure at every allocation.
 *
 * DuckDB-written files are read in tests/integration/lake/reader.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "lake/lake.h"
#include "lake/lake_int.h"

#include "tmp_file.h"

/* ---- The data: row r of a table with every type, nulls and extremes. */

#define NCOLS 7
static const lake_column_t cols[NCOLS] = {
    {"b", LAKE_COL_BOOL, true},   {"i", LAKE_COL_INT64, false},    {"d", LAKE_COL_DOUBLE, true},
    {"s", LAKE_COL_STRING, true}, {"t", LAKE_COL_TIMESTAMP, true}, {"r", LAKE_COL_STRING, false},
    {"n", LAKE_COL_INT64, true},
};

static char strbuf[NCOLS][4096];

static void row_values(int64_t r, schema_value_t *v)
{
    static const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, 1e-310, 3.5};
    v[0] = r % 7 == 3 ? (schema_value_t){.type = SCHEMA_NULL}
                      : (schema_value_t){.type = SCHEMA_BOOL, .v.b = r % 3 == 0};
    v[1] = (schema_value_t){.type = SCHEMA_INT,
                            .v.i = r == 0   ? INT64_MIN
                                   : r == 1 ? INT64_MAX
                                            : r * 1000003 - 7};
    if (r % 11 == 5)
        v[2] = (schema_value_t){.type = SCHEMA_NULL};
    else if (r % 13 == 0)
        v[2] = (schema_value_t){.type = SCHEMA_FLOAT, .v.f = NAN};
    else
        v[2] = (schema_value_t){.type = SCHEMA_FLOAT,
                                .v.f = r < 6 ? specials[r] : (double)r / 7.0 - 100};
    /* strings: a few repeated (dictionary), then many distinct ones (the
     * fallback), empty, non-ASCII, and a long one. */
    int n;
    if (r % 5 == 1)
        v[3] = (schema_value_t){.type = SCHEMA_NULL};
    else {
        if (r < 1500)
            n = snprintf(strbuf[3], sizeof strbuf[3], "sym-%d", (int)(r % 9));
        else if (r % 97 == 0)
            n = snprintf(strbuf[3], sizeof strbuf[3], "%s", "");
        else if (r % 89 == 0)
            n = snprintf(strbuf[3], sizeof strbuf[3], "%s-\xc3\xa9\xe2\x82\xac-%d", "caf\xc3\xa9",
                         (int)r);
        else
            n = snprintf(strbuf[3], sizeof strbuf[3], "distinct-%lld", (long long)r);
        v[3] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {strbuf[3], (size_t)n}};
    }
    v[4] = r % 4 == 2 ? (schema_value_t){.type = SCHEMA_NULL}
                      : (schema_value_t){.type = SCHEMA_TIMESTAMP,
                                         .v.i = 1700000000000000LL + r * 1234567 - 50000000};
    if (r == 77) {
        memset(strbuf[5], 'x', 3000);
        n = 3000;
    } else {
        n = snprintf(strbuf[5], sizeof strbuf[5], "row %lld", (long long)r);
    }
    v[5] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {strbuf[5], (size_t)n}};
    v[6] = (schema_value_t){.type = SCHEMA_NULL}; /* an all-null column */
}

static void write_table(int64_t rows, const lake_writer_options_t *o)
{
    lake_writer_t *w;
    assert_int_equal(lake_writer_create(path, cols, NCOLS, o, &w), 0);
    schema_value_t v[NCOLS];
    for (int64_t r = 0; r < rows; r++) {
        row_values(r, v);
        assert_int_equal(lake_writer_add(w, v), 0);
    }
    assert_int_equal(lake_writer_set_meta(w, "strata.topic", "ticks"), 0);
    assert_int_equal(lake_writer_finish(w), 0);
}

static bool same_value(const schema_value_t *got, const schema_value_t *want, lake_col_type_t t)
{
    if (want->type == SCHEMA_NULL)
        return got->type == SCHEMA_NULL;
    switch (t) {
    case LAKE_COL_BOOL:
        return got->type == SCHEMA_BOOL && got->v.b == want->v.b;
    case LAKE_COL_INT64:
        return got->type == SCHEMA_INT && got->v.i == want->v.i;
    case LAKE_COL_TIMESTAMP:
        return got->type == SCHEMA_TIMESTAMP && got->v.i == want->v.i;
    case LAKE_COL_DOUBLE:
        return got->type == SCHEMA_FLOAT && memcmp(&got->v.f, &want->v.f, sizeof(double)) == 0;
    case LAKE_COL_STRING:
        return got->type == SCHEMA_STRING && got->v.s.len == want->v.s.len &&
               (want->v.s.len == 0 || memcmp(got->v.s.p, want->v.s.p, want->v.s.len) == 0);
    }
    return false;
}

/* Reads the file at path back and compares every value of rows rows. */
static void check_table(int64_t rows, size_t min_groups)
{
    lake_reader_t *r;
    assert_int_equal(lake_reader_open(path, NULL, &r), 0);
    assert_int_equal(lake_reader_ncolumns(r), NCOLS);
    for (size_t c = 0; c < NCOLS; c++) {
        const lake_column_t *col = lake_reader_column(r, c);
        assert_string_equal(col->name, cols[c].name);
        assert_int_equal(col->type, cols[c].type);
        assert_int_equal(col->optional, cols[c].optional);
        assert_int_equal(lake_reader_find(r, cols[c].name), (int)c);
    }
    assert_null(lake_reader_column(r, NCOLS));
    assert_int_equal(lake_reader_find(r, "nope"), -1);
    assert_int_equal(lake_reader_nrows(r), rows);
    assert_true(lake_reader_ngroups(r) >= min_groups);
    assert_string_equal(lake_reader_meta(r, "strata.topic"), "ticks");
    assert_null(lake_reader_meta(r, "nope"));
    int64_t at = 0;
    schema_value_t want[NCOLS], got;
    for (size_t g = 0; g < lake_reader_ngroups(r); g++) {
        assert_int_equal(lake_reader_load(r, g, NULL), 0);
        int64_t n = lake_reader_group_rows(r, g);
        for (int64_t k = 0; k < n; k++, at++) {
            row_values(at, want);
            for (size_t c = 0; c < NCOLS; c++) {
                lake_reader_value(r, c, k, &got);
                if (!same_value(&got, &want[c], cols[c].type))
                    fail_msg("row %lld column %s differs", (long long)at, cols[c].name);
            }
        }
        lake_reader_value(r, 0, n, &got); /* past the group */
        assert_int_equal(got.type, SCHEMA_NULL);
    }
    assert_int_equal(at, rows);
    lake_reader_close(r);
}

static void test_round_trip(void **state)
{
    (void)state;
    static const lake_codec_t codecs[] = {LAKE_CODEC_NONE, LAKE_CODEC_SNAPPY, LAKE_CODEC_ZSTD};
    for (size_t k = 0; k < CORE_ARRAY_LEN(codecs); k++) {
        lake_writer_options_t o;
        lake_writer_options_default(&o);
        o.codec = codecs[k];
        o.row_group_rows = 1700;
        o.page_bytes = 700;         /* many pages per chunk */
        o.dictionary_bytes = 20000; /* falls back to PLAIN within row groups */
        write_table(6000, &o);
        check_table(6000, 4);
        unlink(path);
    }
    /* Dictionary off, one big group. */
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.dictionary = false;
    write_table(3000, &o);
    check_table(3000, 1);
}

static void test_many_row_groups(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = 3;
    write_table(1000, &o);
    check_table(1000, 334);
}

static void test_zero_rows(void **state)
{
    (void)state;
    write_table(0, NULL);
    lake_reader_t *r;
    assert_int_equal(lake_reader_open(path, NULL, &r), 0);
    assert_int_equal(lake_reader_nrows(r), 0);
    assert_int_equal(lake_reader_ngroups(r), 0);
    assert_int_equal(lake_reader_load(r, 0, NULL), CORE_EINVAL);
    lake_reader_close(r);
}

static void test_stats(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = 100;
    write_table(250, &o);
    lake_reader_t *r;
    assert_int_equal(lake_reader_open(path, NULL, &r), 0);
    assert_int_equal(lake_reader_ngroups(r), 3);
    lake_read_stats_t st;
    /* i: group 1 holds rows 100..199 */
    assert_true(lake_reader_stats(r, 1, 1, &st));
    assert_true(st.has_minmax);
    assert_int_equal(st.null_count, 0);
    assert_int_equal(st.min.type, SCHEMA_INT);
    assert_int_equal(st.min.v.i, 100 * 1000003 - 7);
    assert_int_equal(st.max.v.i, 199 * 1000003 - 7);
    /* t: timestamps, nulls counted */
    assert_true(lake_reader_stats(r, 2, 4, &st));
    assert_int_equal(st.min.type, SCHEMA_TIMESTAMP);
    assert_int_equal(st.min.v.i, 1700000000000000LL + 200 * 1234567 - 50000000);
    assert_int_equal(st.max.v.i, 1700000000000000LL + 249 * 1234567 - 50000000);
    assert_int_equal(st.null_count, 12);
    /* d: group 0 has NaN: no bounds, but a null count */
    assert_true(lake_reader_stats(r, 0, 2, &st));
    assert_false(st.has_minmax);
    assert_true(st.null_count > 0);
    /* s: strings, byte order */
    assert_true(lake_reader_stats(r, 0, 3, &st));
    assert_true(st.has_minmax);
    assert_int_equal(st.min.type, SCHEMA_STRING);
    assert_memory_equal(st.min.v.s.p, "sym-0", 5);
    assert_memory_equal(st.max.v.s.p, "sym-8", 5);
    /* n: all null */
    assert_true(lake_reader_stats(r, 0, 6, &st));
    assert_false(st.has_minmax);
    assert_int_equal(st.null_count, 100);
    assert_false(lake_reader_stats(r, 3, 0, &st));
    lake_reader_close(r);
}

static void test_load_some_columns(void **state)
{
    (void)state;
    write_table(500, NULL);
    lake_reader_t *r;
    assert_int_equal(lake_reader_open(path, NULL, &r), 0);
    bool want[NCOLS] = {false, true, false, false, true, false, false};
    assert_int_equal(lake_reader_load(r, 0, want), 0);
    schema_value_t v, exp[NCOLS];
    row_values(42, exp);
    lake_reader_value(r, 1, 42, &v);
    assert_true(same_value(&v, &exp[1], LAKE_COL_INT64));
    lake_reader_value(r, 3, 42, &v); /* not loaded */
    assert_int_equal(v.type, SCHEMA_NULL);
    lake_reader_value(r, 99, 42, &v);
    assert_int_equal(v.type, SCHEMA_NULL);
    lake_reader_close(r);
}

/* ---- What the reader refuses. */

static void write_bytes(const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static uint8_t *read_all(size_t *n)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    uint8_t *p = core_alloc(CORE_MEM_TEST, (size_t)st.st_size);
    int fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
    close(fd);
    *n = (size_t)st.st_size;
    return p;
}

static void expect_open(int want, const char *detail_has)
{
    lake_reader_t *r = NULL;
    int rc = lake_reader_open(path, NULL, &r);
    if (rc != want)
        fail_msg("open gave %d, want %d (%s)", rc, want, core_error_detail());
    assert_null(r);
    assert_non_null(strstr(core_error_detail(), path));
    if (detail_has != NULL && strstr(core_error_detail(), detail_has) == NULL)
        fail_msg("detail '%s' lacks '%s'", core_error_detail(), detail_has);
}

static void test_not_parquet(void **state)
{
    (void)state;
    lake_reader_t *r;
    assert_int_equal(lake_reader_open(path, NULL, &r), CORE_ENOENT);
    write_bytes("PAR1", 4);
    expect_open(CORE_ECORRUPT, "too short");
    write_bytes("PAR1xxxxxxxxPAR2", 16);
    expect_open(CORE_ECORRUPT, "magic");
    uint8_t big[20] = "PAR1";
    lake_store_le32(big + 12, 1000);
    memcpy(big + 16, "PAR1", 4);
    write_bytes(big, sizeof big);
    expect_open(CORE_ECORRUPT, "footer length");
}

/* Every truncation and every single-byte change of a small file's footer
 * opens or fails cleanly (the fuzz target covers far more). */
static void test_footer_damage(void **state)
{
    (void)state;
    write_table(20, NULL);
    size_t n;
    uint8_t *orig = read_all(&n);
    uint32_t flen = (uint32_t)orig[n - 8] | (uint32_t)orig[n - 7] << 8;
    size_t fstart = n - 8 - flen;
    uint8_t *copy = core_alloc(CORE_MEM_TEST, n);
    int failures = 0;
    for (size_t cut = 1; cut < flen; cut += 7) {
        /* the footer shortened from its start: a shifted length */
        memcpy(copy, orig, n);
        lake_store_le32(copy + n - 8, flen - (uint32_t)cut);
        write_bytes(copy, n);
        lake_reader_t *r = NULL;
        int rc = lake_reader_open(path, NULL, &r);
        failures += rc != 0;
        assert_true(rc == 0 || rc == CORE_ECORRUPT || rc == CORE_EUNSUPP || rc == CORE_ETOOBIG);
        lake_reader_close(r);
    }
    for (size_t i = fstart; i < n - 8; i++) {
        memcpy(copy, orig, n);
        copy[i] ^= 0x5a;
        write_bytes(copy, n);
        lake_reader_t *r = NULL;
        int rc = lake_reader_open(path, NULL, &r);
        for (size_t g = 0; rc == 0 && g < lake_reader_ngroups(r); g++)
            (void)lake_reader_load(r, g, NULL);
        lake_reader_close(r);
    }
    assert_true(failures > 0);
    core_free(copy);
    core_free(orig);
}

static void test_page_damage(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.codec = LAKE_CODEC_NONE;
    lake_column_t c1 = {"v", LAKE_COL_INT64, true};
    lake_writer_t *w;
    assert_int_equal(lake_writer_create(path, &c1, 1, &o, &w), 0);
    for (int i = 0; i < 10; i++) {
        schema_value_t v = {.type = SCHEMA_INT, .v.i = i};
        assert_int_equal(lake_writer_add(w, &v), 0);
    }
    assert_int_equal(lake_writer_finish(w), 0);
    size_t n;
    uint8_t *orig = read_all(&n);
    /* The page header at offset 4 starts with its type: 0x15 (field 1,
     * i32) and zigzag 0 (DATA_PAGE). Type 3 is DATA_PAGE_V2. */
    assert_int_equal(orig[4], 0x15);
    assert_int_equal(orig[5], 0x00);
    orig[5] = 0x06;
    write_bytes(orig, n);
    lake_reader_t *r;
    assert_int_equal(lake_reader_open(path, NULL, &r), 0);
    assert_int_equal(lake_reader_load(r, 0, NULL), CORE_EUNSUPP);
    const char *d = core_error_detail();
    assert_non_null(strstr(d, path));
    assert_non_null(strstr(d, "row group 0, column v, page 0"));
    assert_non_null(strstr(d, "data page v2"));
    lake_reader_close(r);
    /* Definition levels that claim more bytes than the page holds. */
    orig[5] = 0x00;
    for (size_t i = 6; i + 4 < n; i++) {
        /* the levels' 4-byte length follows the page header: find the
         * first byte after the header's STOP bytes (0x00 0x00) */
        if (orig[i] == 0x00 && orig[i + 1] == 0x00) {
            orig[i + 2] = 0xff;
            break;
        }
    }
    write_bytes(orig, n);
    assert_int_equal(lake_reader_open(path, NULL, &r), 0);
    assert_int_equal(lake_reader_load(r, 0, NULL), CORE_ECORRUPT);
    assert_non_null(strstr(core_error_detail(), "column v, page 0"));
    lake_reader_close(r);
    core_free(orig);
}

/* A footer encoded by hand: a root with one group child holding a leaf. */
static void test_nested_refused(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 16);
    assert_int_equal(core_buf_append(&b, "PAR1", 4), 0);
    size_t at = b.len;
    lake_thrift_t t;
    lake_thrift_init(&t, &b);
    lake_thrift_field_i32(&t, 1, 2);
    lake_thrift_field_list(&t, 2, LAKE_CT_STRUCT, 3);
    lake_thrift_elem_struct(&t);
    lake_thrift_field_string(&t, 4, "schema");
    lake_thrift_field_i32(&t, 5, 1);
    lake_thrift_struct_end(&t);
    lake_thrift_elem_struct(&t);
    lake_thrift_field_i32(&t, 3, 1);
    lake_thrift_field_string(&t, 4, "group");
    lake_thrift_field_i32(&t, 5, 1);
    lake_thrift_struct_end(&t);
    lake_thrift_elem_struct(&t);
    lake_thrift_field_i32(&t, 1, 2);
    lake_thrift_field_i32(&t, 3, 1);
    lake_thrift_field_string(&t, 4, "leaf");
    lake_thrift_struct_end(&t);
    lake_thrift_field_i64(&t, 3, 0);
    lake_thrift_field_list(&t, 4, LAKE_CT_STRUCT, 0);
    assert_int_equal(lake_thrift_end(&t), 0);
    uint8_t tail[8];
    lake_store_le32(tail, (uint32_t)(b.len - at));
    memcpy(tail + 4, "PAR1", 4);
    assert_int_equal(core_buf_append(&b, tail, 8), 0);
    write_bytes(b.data, b.len);
    expect_open(CORE_EUNSUPP, "not flat");
    core_buf_fini(&b);
}

static void test_caps(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = 1000;
    write_table(2000, &o);
    lake_read_limits_t lim;
    lake_read_limits_default(&lim);
    lim.max_footer_bytes = 64;
    lake_reader_t *r = NULL;
    assert_int_equal(lake_reader_open(path, &lim, &r), CORE_ETOOBIG);
    assert_non_null(strstr(core_error_detail(), "footer"));
    lake_read_limits_default(&lim);
    lim.max_columns = 3;
    assert_int_equal(lake_reader_open(path, &lim, &r), CORE_ETOOBIG);
    lake_read_limits_default(&lim);
    lim.max_row_groups = 1;
    assert_int_equal(lake_reader_open(path, &lim, &r), CORE_ETOOBIG);
    lake_read_limits_default(&lim);
    lim.max_group_bytes = 20000;
    assert_int_equal(lake_reader_open(path, &lim, &r), 0);
    assert_int_equal(lake_reader_load(r, 0, NULL), CORE_ETOOBIG);
    assert_non_null(strstr(core_error_detail(), "row group 0"));
    lake_reader_value(r, 1, 0, &(schema_value_t){0}); /* nothing loaded: no crash */
    lake_reader_close(r);
    lake_read_limits_default(&lim);
    lim.max_page_values = 100;
    assert_int_equal(lake_reader_open(path, &lim, &r), 0);
    assert_int_equal(lake_reader_load(r, 1, NULL), CORE_ETOOBIG);
    assert_non_null(strstr(core_error_detail(), "row group 1, column b, page 0"));
    lake_reader_close(r);
    lake_read_limits_default(&lim);
    lim.max_value_bytes = 1000; /* row 77's string is 3000 bytes */
    assert_int_equal(lake_reader_open(path, &lim, &r), 0);
    assert_int_equal(lake_reader_load(r, 0, NULL), CORE_ETOOBIG);
    assert_non_null(strstr(core_error_detail(), "column r"));
    lake_reader_close(r);
}

/* ---- Every allocation failing in turn: an error, never a leak. */

static int job(void)
{
    lake_reader_t *r = NULL;
    int rc = lake_reader_open(path, NULL, &r);
    for (size_t g = 0; rc == 0 && g < lake_reader_ngroups(r); g++)
        rc = lake_reader_load(r, g, NULL);
    lake_reader_close(r);
    return rc;
}

static void test_allocation_failures(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = 30;
    o.page_bytes = 100;
    write_table(100, &o);
    core_mem_stats_t before, after;
    core_mem_stats(CORE_MEM_LAKE, &before);
    int64_t a0 = 0, a1 = 0;
    for (int t = 0; t < CORE_MEM__COUNT; t++) {
        core_mem_stats((core_mem_tag_t)t, &after);
        a0 += after.total_allocs;
    }
    assert_int_equal(job(), 0);
    for (int t = 0; t < CORE_MEM__COUNT; t++) {
        core_mem_stats((core_mem_tag_t)t, &after);
        a1 += after.total_allocs;
    }
    long n = (long)(a1 - a0);
    assert_true(n > 10);
    for (long k = 1; k <= n; k++) {
        core_mem_fail_at(k, false);
        int rc = job();
        core_mem_fail_at(0, false);
        assert_true(rc == CORE_ENOMEM || rc == 0);
        core_mem_stats(CORE_MEM_LAKE, &after);
        assert_int_equal(after.bytes, before.bytes);
        assert_int_equal(after.allocs, before.allocs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_row_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_some_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_parquet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_footer_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

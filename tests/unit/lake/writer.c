/*
 * Unit tests for the writer's contract (src/lake/lake.h): codecs and
 * options, column checks, which value types each column takes and that a
 * rejected row leaves the writer usable, key/value metadata, row groups by
 * rows and by bytes, statistics as stored in the footer (signed, IEEE with
 * NaN and zeros, byte order, long strings, all nulls), the dictionary and
 * its fallback, lake_writer_bytes(), zero-row files, abort, a write that
 * fails (RLIMIT_FSIZE), and an allocation failure at every allocation.
 *
 * Files are read back with footer_read.h, a decoder independent of the
 * writer. Values are checked end to end by the DuckDB and hyparquet round
 * trips (tests/integration/lake/).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "lake/lake.h"
#include "lake/lake_int.h"

#include "footer_read.h"
#include "tmp_file.h"

static footer_info_t info;

/* Reads the file at path and parses its footer into `info`. */
static void read_footer(void)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = core_alloc(CORE_MEM_TEST, (size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    assert_int_equal(footer_read(buf, (size_t)size, &info), 0);
    assert_true(footer_chunks_tile(&info));
    core_free(buf);
}

static schema_value_t sv_int(int64_t i)
{
    return (schema_value_t){.type = SCHEMA_INT, .v.i = i};
}
static schema_value_t sv_ts(int64_t i)
{
    return (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = i};
}
static schema_value_t sv_f(double f)
{
    return (schema_value_t){.type = SCHEMA_FLOAT, .v.f = f};
}
static schema_value_t sv_b(bool b)
{
    return (schema_value_t){.type = SCHEMA_BOOL, .v.b = b};
}
static schema_value_t sv_s(const char *s)
{
    return (schema_value_t){.type = SCHEMA_STRING, .v.s = {s, strlen(s)}};
}
static schema_value_t sv_null(void)
{
    return (schema_value_t){.type = SCHEMA_NULL};
}

static lake_writer_t *create1(lake_col_type_t type, bool optional, const lake_writer_options_t *o)
{
    lake_column_t col = {"c", type, optional};
    lake_writer_t *w = NULL;
    assert_int_equal(lake_writer_create(path, &col, 1, o, &w), 0);
    return w;
}

/* ------------------------------------------------------------------------ */

static void test_codecs_and_defaults(void **state)
{
    (void)state;
    lake_codec_t c;
    assert_int_equal(lake_codec_parse("none", &c), 0);
    assert_int_equal(c, LAKE_CODEC_NONE);
    assert_int_equal(lake_codec_parse("snappy", &c), 0);
    assert_int_equal(c, LAKE_CODEC_SNAPPY);
    assert_int_equal(lake_codec_parse("zstd", &c), 0);
    assert_int_equal(c, LAKE_CODEC_ZSTD);
    assert_int_equal(lake_codec_parse("gzip", &c), CORE_EINVAL);
    assert_int_equal(lake_codec_parse("ZSTD", &c), CORE_EINVAL);
    assert_string_equal(lake_codec_name(LAKE_CODEC_SNAPPY), "snappy");
    assert_string_equal(lake_codec_name(LAKE_CODEC_ZSTD), "zstd");
    assert_string_equal(lake_codec_name(LAKE_CODEC_NONE), "none");

    lake_writer_options_t o;
    lake_writer_options_default(&o);
    assert_int_equal(o.codec, LAKE_CODEC_ZSTD);
    assert_true(o.dictionary);
    assert_int_equal(o.page_bytes, 1 << 20);
    assert_int_equal(o.row_group_bytes, 64 << 20);
    assert_int_equal(o.dictionary_bytes, 1 << 20);
    assert_int_equal(o.row_group_rows, 0);
    assert_int_equal(o.zstd_level, 0);
    assert_false(o.dictionary_numbers);
    assert_true(o.background);
}

static void expect_bad_options(const lake_writer_options_t *o)
{
    lake_column_t col = {"c", LAKE_COL_INT64, false};
    lake_writer_t *w = (lake_writer_t *)1;
    assert_int_equal(lake_writer_create(path, &col, 1, o, &w), CORE_EINVAL);
    assert_null(w);
    assert_int_equal(access(path, F_OK), -1); /* nothing created */
}

static void test_bad_options(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.page_bytes = LAKE_MAX_PAGE_BYTES + 1;
    expect_bad_options(&o);
    lake_writer_options_default(&o);
    o.row_group_bytes = LAKE_MAX_ROW_GROUP_BYTES + 1;
    expect_bad_options(&o);
    lake_writer_options_default(&o);
    o.dictionary_bytes = LAKE_MAX_DICT_BYTES + 1;
    expect_bad_options(&o);
    lake_writer_options_default(&o);
    o.row_group_rows = -1;
    expect_bad_options(&o);
    lake_writer_options_default(&o);
    o.zstd_level = 1000;
    expect_bad_options(&o);
    lake_writer_options_default(&o);
    o.codec = (lake_codec_t)7;
    expect_bad_options(&o);
    /* zeros mean the defaults */
    memset(&o, 0, sizeof o);
    lake_writer_t *w = create1(LAKE_COL_INT64, false, &o);
    lake_writer_abort(w);
}

static void test_bad_columns(void **state)
{
    (void)state;
    lake_writer_t *w;
    lake_column_t cols[3] = {
        {"a", LAKE_COL_INT64, false}, {"b", LAKE_COL_STRING, true}, {"a", LAKE_COL_BOOL, false}};
    assert_int_equal(lake_writer_create(path, cols, 3, NULL, &w), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "a appears twice"));
    assert_int_equal(lake_writer_create(path, cols, 0, NULL, &w), CORE_EINVAL);
    assert_int_equal(lake_writer_create(path, NULL, 1, NULL, &w), CORE_EINVAL);
    assert_int_equal(lake_writer_create(path, cols, LAKE_MAX_COLUMNS + 1, NULL, &w), CORE_EINVAL);
    lake_column_t bad[1] = {{"", LAKE_COL_INT64, false}};
    assert_int_equal(lake_writer_create(path, bad, 1, NULL, &w), CORE_EINVAL);
    bad[0].name = NULL;
    assert_int_equal(lake_writer_create(path, bad, 1, NULL, &w), CORE_EINVAL);
    bad[0].name = "\xff\xfe";
    assert_int_equal(lake_writer_create(path, bad, 1, NULL, &w), CORE_EINVAL);
    bad[0].name = "ok";
    bad[0].type = (lake_col_type_t)9;
    assert_int_equal(lake_writer_create(path, bad, 1, NULL, &w), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "ok"));
    static char longname[LAKE_MAX_NAME_BYTES + 2];
    memset(longname, 'n', LAKE_MAX_NAME_BYTES + 1);
    bad[0] = (lake_column_t){longname, LAKE_COL_INT64, false};
    assert_int_equal(lake_writer_create(path, bad, 1, NULL, &w), CORE_EINVAL);
    assert_int_equal(access(path, F_OK), -1);

    /* an unwritable place: CORE_EIO naming the file */
    char nowhere[160];
    snprintf(nowhere, sizeof nowhere, "%s/missing/x.parquet", dir);
    assert_int_equal(lake_writer_create(nowhere, cols, 2, NULL, &w), CORE_EIO);
    assert_non_null(strstr(core_error_detail(), nowhere));

    /* the most columns allowed */
    static lake_column_t many[LAKE_MAX_COLUMNS];
    static char names[LAKE_MAX_COLUMNS][8];
    static schema_value_t row[LAKE_MAX_COLUMNS];
    for (int i = 0; i < LAKE_MAX_COLUMNS; i++) {
        snprintf(names[i], sizeof names[i], "c%d", i);
        many[i] = (lake_column_t){names[i], (lake_col_type_t)(i % 5), i % 2 == 0};
        row[i] = i % 2 == 0 ? sv_null() : (schema_value_t){0};
    }
    for (int i = 1; i < LAKE_MAX_COLUMNS; i += 2) {
        static const schema_type_t t[] = {SCHEMA_BOOL, SCHEMA_INT, SCHEMA_FLOAT, SCHEMA_STRING,
                                          SCHEMA_TIMESTAMP};
        row[i].type = t[i % 5];
    }
    assert_int_equal(lake_writer_create(path, many, LAKE_MAX_COLUMNS, NULL, &w), 0);
    assert_int_equal(lake_writer_add(w, row), 0);
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    assert_int_equal(info.schema_elements, LAKE_MAX_COLUMNS + 1);
    assert_int_equal(info.nchunks, LAKE_MAX_COLUMNS);
    assert_int_equal(info.num_rows, 1);
}

/* Every column type with every value type: accepted ones add a row,
 * rejected ones name the column and leave the writer as it was. */
static void test_value_types(void **state)
{
    (void)state;
    lake_column_t cols[5] = {{"b", LAKE_COL_BOOL, false},
                             {"i", LAKE_COL_INT64, false},
                             {"d", LAKE_COL_DOUBLE, false},
                             {"s", LAKE_COL_STRING, false},
                             {"t", LAKE_COL_TIMESTAMP, false}};
    lake_writer_t *w;
    assert_int_equal(lake_writer_create(path, cols, 5, NULL, &w), 0);
    const schema_value_t good = sv_b(true);
    schema_value_t row[5] = {good, sv_int(1), sv_f(1.5), sv_s("x"), sv_ts(7)};
    assert_int_equal(lake_writer_add(w, row), 0);
    /* the other accepted types */
    row[1] = sv_ts(2);
    row[2] = sv_int(3);
    row[3] = (schema_value_t){.type = SCHEMA_OBJECT, .v.s = {"{\"a\":1}", 7}};
    row[4] = sv_int(4);
    assert_int_equal(lake_writer_add(w, row), 0);
    row[3] = (schema_value_t){.type = SCHEMA_ARRAY, .v.s = {"[1]", 3}};
    assert_int_equal(lake_writer_add(w, row), 0);
    row[3] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {NULL, 0}}; /* empty */
    assert_int_equal(lake_writer_add(w, row), 0);

    struct {
        int col;
        schema_value_t v;
    } bad[] = {
        {0, {.type = SCHEMA_INT, .v.i = 5}}, /* its bytes are not a valid bool */
        {0, {.type = SCHEMA_INT}},
        {0, {.type = SCHEMA_STRING}},
        {1, {.type = SCHEMA_FLOAT}},
        {1, {.type = SCHEMA_STRING}},
        {2, {.type = SCHEMA_BOOL}},
        {2, {.type = SCHEMA_STRING}},
        {3, {.type = SCHEMA_INT}},
        {3, {.type = SCHEMA_BOOL}},
        {4, {.type = SCHEMA_FLOAT}},
        {4, {.type = SCHEMA_STRING}},
        {0, {.type = SCHEMA_NULL}},
        {3, {.type = SCHEMA_NULL}},
        {3, {.type = SCHEMA_STRING, .v.s = {"\xc3\x28", 2}}}, /* invalid UTF-8 */
        {3, {.type = (schema_type_t)99}},
    };
    for (size_t k = 0; k < CORE_ARRAY_LEN(bad); k++) {
        schema_value_t r[5] = {sv_b(false), sv_int(1), sv_f(1.5), sv_s("y"), sv_ts(7)};
        r[bad[k].col] = bad[k].v;
        assert_int_equal(lake_writer_add(w, r), CORE_EINVAL);
        assert_non_null(strstr(core_error_detail(), cols[bad[k].col].name));
        assert_int_equal(lake_writer_rows(w), 4);
    }
    /* a value over the size cap */
    size_t big = LAKE_MAX_VALUE_BYTES + 1;
    char *huge = core_calloc(CORE_MEM_TEST, 1, big);
    assert_non_null(huge);
    row[3] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {huge, big}};
    assert_int_equal(lake_writer_add(w, row), CORE_EINVAL);
    core_free(huge);
    assert_int_equal(lake_writer_add(w, NULL), CORE_EINVAL);
    assert_int_equal(lake_writer_add(NULL, row), CORE_EINVAL);
    row[3] = sv_s("last");
    assert_int_equal(lake_writer_add(w, row), 0);
    assert_int_equal(lake_writer_rows(w), 5);
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    assert_int_equal(info.num_rows, 5);
    assert_int_equal(info.rows_in_groups, 5);
    for (size_t i = 0; i < info.nchunks; i++)
        assert_int_equal(info.chunks[i].num_values, 5);
}

static void test_metadata(void **state)
{
    (void)state;
    lake_writer_t *w = create1(LAKE_COL_INT64, false, NULL);
    char key[32];
    for (int i = 0; i < LAKE_MAX_META; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(lake_writer_set_meta(w, key, "v"), 0);
    }
    assert_int_equal(lake_writer_set_meta(w, "one-more", "v"), CORE_ETOOBIG);
    assert_int_equal(lake_writer_set_meta(w, "k3", "replaced"), 0); /* a replace still fits */
    assert_int_equal(lake_writer_set_meta(w, "k4", NULL), 0);       /* a key without value */
    assert_int_equal(lake_writer_set_meta(w, "", "v"), CORE_EINVAL);
    assert_int_equal(lake_writer_set_meta(w, NULL, "v"), CORE_EINVAL);
    assert_int_equal(lake_writer_set_meta(w, "k1", "\xff"), CORE_EINVAL);
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    assert_int_equal(info.kv_pairs, LAKE_MAX_META);
    assert_string_equal(info.created_by, "strata");
}

static void test_zero_rows(void **state)
{
    (void)state;
    lake_column_t cols[2] = {{"a", LAKE_COL_STRING, true}, {"b", LAKE_COL_TIMESTAMP, false}};
    lake_writer_t *w;
    assert_int_equal(lake_writer_create(path, cols, 2, NULL, &w), 0);
    assert_int_equal(lake_writer_rows(w), 0);
    assert_int_equal(lake_writer_bytes(w), 4);
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    assert_int_equal(info.version, 2);
    assert_int_equal(info.num_rows, 0);
    assert_int_equal(info.row_groups, 0);
    assert_int_equal(info.nchunks, 0);
    assert_int_equal(info.schema_elements, 3);
    assert_int_equal(info.column_orders, 2);
    assert_int_equal(info.footer_start, 4);
    assert_string_equal(info.created_by, "strata");
}

static void test_row_groups_by_rows(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = 3;
    o.background = false; /* row groups written by add itself: sizes exact */
    lake_writer_t *w = create1(LAKE_COL_INT64, true, &o);
    struct stat st;
    for (int i = 0; i < 10; i++) {
        schema_value_t v = i % 4 == 0 ? sv_null() : sv_int(i);
        assert_int_equal(lake_writer_add(w, &v), 0);
        if (i % 3 == 2) { /* a row group was just written: bytes are the file's */
            assert_int_equal(stat(path, &st), 0);
            assert_int_equal(lake_writer_bytes(w), st.st_size);
        } else {
            assert_true(lake_writer_bytes(w) > 4);
        }
    }
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    assert_int_equal(info.row_groups, 4);
    assert_int_equal(info.rows_in_groups, 10);
    assert_int_equal(info.num_rows, 10);
    assert_int_equal(info.nchunks, 4);
    assert_int_equal(info.chunks[0].null_count, 1); /* rows 0, 1, 2 */
    assert_int_equal(info.chunks[1].null_count, 1); /* rows 3, 4, 5 */
    assert_int_equal(info.chunks[3].num_values, 1);
    assert_int_equal(info.chunks[0].codec, 6); /* ZSTD */
}

static void test_row_groups_by_bytes(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_bytes = 4000;
    o.page_bytes = 512;
    o.codec = LAKE_CODEC_SNAPPY;
    lake_writer_t *w = create1(LAKE_COL_DOUBLE, false, &o);
    for (int i = 0; i < 2000; i++) {
        schema_value_t v = sv_f(i * 0.5);
        assert_int_equal(lake_writer_add(w, &v), 0);
    }
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    /* 16000 bytes of doubles in groups of about 4000 bytes */
    assert_true(info.row_groups >= 4 && info.row_groups <= 5);
    assert_int_equal(info.rows_in_groups, 2000);
    for (size_t i = 0; i < info.nchunks; i++) {
        /* every group but the last closed on reaching 4000 bytes */
        assert_true(info.chunks[i].unc < 4000 + 512 + 100);
        if (i + 1 < info.nchunks)
            assert_true(info.chunks[i].unc >= 4000);
        assert_int_equal(info.chunks[i].codec, 1); /* SNAPPY */
    }
}

/* Writes one column of values and reads the one chunk's statistics. */
static const footer_chunk_t *stats_of(lake_col_type_t type, const schema_value_t *v, size_t n)
{
    lake_writer_t *w = create1(type, true, NULL);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(lake_writer_add(w, &v[i]), 0);
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    assert_int_equal(info.nchunks, 1);
    return &info.chunks[0];
}

static void expect_bin(const footer_bin_t *b, const void *want, size_t n)
{
    assert_true(b->present);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

static void test_stats_numbers(void **state)
{
    (void)state;
    /* int64: signed order; deprecated min/max too */
    schema_value_t iv[] = {sv_int(5), sv_null(), sv_int(-3), sv_ts(INT64_MAX)};
    const footer_chunk_t *c = stats_of(LAKE_COL_INT64, iv, 4);
    static const uint8_t m3[8] = {0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t imax[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    expect_bin(&c->min_value, m3, 8);
    expect_bin(&c->min, m3, 8);
    expect_bin(&c->max_value, imax, 8);
    expect_bin(&c->max, imax, 8);
    assert_int_equal(c->null_count, 1);
    assert_int_equal(c->nan_count, -1);
    assert_int_equal(c->num_values, 4);

    /* doubles: a zero min is -0.0, a zero max +0.0 */
    schema_value_t dv[] = {sv_f(0.0), sv_f(3.5)};
    c = stats_of(LAKE_COL_DOUBLE, dv, 2);
    static const uint8_t negzero[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    static const uint8_t three5[8] = {0, 0, 0, 0, 0, 0, 0x0c, 0x40};
    expect_bin(&c->min_value, negzero, 8);
    expect_bin(&c->max_value, three5, 8);
    assert_int_equal(c->nan_count, 0);
    schema_value_t dz[] = {sv_f(-0.0), sv_f(-2.0), sv_int(-1)};
    c = stats_of(LAKE_COL_DOUBLE, dz, 3);
    static const uint8_t poszero[8] = {0};
    static const uint8_t m2[8] = {0, 0, 0, 0, 0, 0, 0, 0xc0};
    expect_bin(&c->max_value, poszero, 8);
    expect_bin(&c->min_value, m2, 8);
    /* infinities are ordinary bounds */
    schema_value_t di[] = {sv_f(INFINITY), sv_f(1)};
    c = stats_of(LAKE_COL_DOUBLE, di, 2);
    static const uint8_t inf[8] = {0, 0, 0, 0, 0, 0, 0xf0, 0x7f};
    expect_bin(&c->max_value, inf, 8);
    /* a NaN: counted, and no bounds at all */
    schema_value_t dn[] = {sv_f(1.0), sv_f(NAN), sv_null(), sv_f(NAN)};
    c = stats_of(LAKE_COL_DOUBLE, dn, 4);
    assert_int_equal(c->nan_count, 2);
    assert_int_equal(c->null_count, 1);
    assert_false(c->min_value.present || c->max_value.present || c->min.present || c->max.present);

    /* bools: one byte */
    schema_value_t bv[] = {sv_b(true), sv_b(true), sv_null()};
    c = stats_of(LAKE_COL_BOOL, bv, 3);
    expect_bin(&c->min_value, "\x01", 1);
    expect_bin(&c->max_value, "\x01", 1);
    assert_int_equal(c->type, 0);

    /* all null: a null count, no bounds */
    schema_value_t nv[] = {sv_null(), sv_null()};
    c = stats_of(LAKE_COL_TIMESTAMP, nv, 2);
    assert_int_equal(c->null_count, 2);
    assert_false(c->min_value.present || c->max_value.present);
}

static void test_stats_strings(void **state)
{
    (void)state;
    /* unsigned byte order ("é" = c3 a9 sorts after "z"); a prefix first;
     * no deprecated min/max */
    schema_value_t sv[] = {sv_s("b"), sv_s("é"), sv_s("ab"), sv_s("a"), sv_s("z"), sv_s("b")};
    const footer_chunk_t *c = stats_of(LAKE_COL_STRING, sv, 6);
    expect_bin(&c->min_value, "a", 1);
    expect_bin(&c->max_value, "\xc3\xa9", 2);
    assert_false(c->min.present || c->max.present);
    assert_int_equal(c->type, 6);
    assert_true(c->dict_off >= 4); /* dictionary on by default */

    /* the same without the dictionary */
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.dictionary = false;
    lake_writer_t *w = create1(LAKE_COL_STRING, false, &o);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(lake_writer_add(w, &sv[i]), 0);
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    expect_bin(&info.chunks[0].min_value, "a", 1);
    expect_bin(&info.chunks[0].max_value, "\xc3\xa9", 2);
    assert_int_equal(info.chunks[0].dict_off, -1);

    /* a bound longer than LAKE_STATS_MAX_BYTES: no bounds */
    static char longs[LAKE_STATS_MAX_BYTES + 2];
    memset(longs, 'x', LAKE_STATS_MAX_BYTES + 1);
    schema_value_t lv[] = {sv_s("a"), sv_s(longs)};
    c = stats_of(LAKE_COL_STRING, lv, 2);
    assert_false(c->min_value.present || c->max_value.present);
    assert_int_equal(c->null_count, 0);
    longs[LAKE_STATS_MAX_BYTES] = '\0'; /* exactly at the limit: kept */
    schema_value_t lv2[] = {sv_s("a"), sv_s(longs)};
    c = stats_of(LAKE_COL_STRING, lv2, 2);
    assert_true(c->max_value.present);
    assert_int_equal(c->max_value.len, LAKE_STATS_MAX_BYTES);
}

static bool has_encoding(const footer_chunk_t *c, int32_t e)
{
    for (uint32_t i = 0; i < c->nencodings; i++)
        if (c->encodings[i] == e)
            return true;
    return false;
}

static void test_dictionary_fallback(void **state)
{
    (void)state;
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.dictionary_bytes = 200;
    o.page_bytes = 64;
    o.codec = LAKE_CODEC_NONE;
    lake_writer_t *w = create1(LAKE_COL_STRING, true, &o);
    char s[32];
    for (int i = 0; i < 100; i++) {
        snprintf(s, sizeof s, "value-%03d", i);
        schema_value_t v = i % 10 == 9 ? sv_null() : sv_s(s);
        assert_int_equal(lake_writer_add(w, &v), 0);
    }
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    const footer_chunk_t *c = &info.chunks[0];
    assert_true(c->dict_off >= 0 && c->dict_off < c->data_off);
    assert_true(has_encoding(c, LAKE_ENC_RLE_DICTIONARY));
    assert_true(has_encoding(c, LAKE_ENC_PLAIN));
    assert_true(has_encoding(c, LAKE_ENC_RLE));
    expect_bin(&c->min_value, "value-000", 9);
    expect_bin(&c->max_value, "value-098", 9);
    assert_int_equal(c->null_count, 10);

    /* all-null strings with the dictionary on: no dictionary page */
    schema_value_t nv[] = {sv_null(), sv_null()};
    c = stats_of(LAKE_COL_STRING, nv, 2);
    assert_int_equal(c->dict_off, -1);
    assert_false(has_encoding(c, LAKE_ENC_RLE_DICTIONARY));
}

static void test_abort(void **state)
{
    (void)state;
    lake_writer_t *w = create1(LAKE_COL_STRING, false, NULL);
    schema_value_t v = sv_s("x");
    assert_int_equal(lake_writer_add(w, &v), 0);
    assert_int_equal(access(path, F_OK), 0);
    lake_writer_abort(w);
    assert_int_equal(access(path, F_OK), -1);
    lake_writer_abort(NULL);
    assert_int_equal(lake_writer_finish(NULL), CORE_EINVAL);
    assert_int_equal(lake_writer_rows(NULL), 0);
    assert_int_equal(lake_writer_bytes(NULL), 0);
}

/* A write that fails (the file-size limit): CORE_EIO naming the file,
 * then the writer refuses rows and finish reports the failure. The fourth
 * row group (rows 60..79) is the one that passes the limit: without
 * `background` the add that completes it fails; with it, an add after the
 * thread failed, at the latest the one that hands off the next group. */
static void write_failure(bool background)
{
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 8192;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.codec = LAKE_CODEC_NONE;
    o.dictionary = false;
    o.row_group_rows = 20;
    o.background = background;
    lake_writer_t *w = create1(LAKE_COL_STRING, false, &o);
    char s[128];
    memset(s, 'q', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    schema_value_t v = sv_s(s);
    int rc = 0, i;
    for (i = 0; i < 1000 && rc == 0; i++)
        rc = lake_writer_add(w, &v);
    assert_int_equal(rc, CORE_EIO);
    assert_non_null(strstr(core_error_detail(), path));
    assert_non_null(strstr(core_error_detail(), "writing"));
    if (background)
        assert_true(i > 80 && i <= 100);
    else
        assert_int_equal(i, 80);
    assert_int_equal(lake_writer_add(w, &v), CORE_EIO);
    assert_int_equal(lake_writer_finish(w), CORE_EIO);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
}

static void test_write_failure(void **state)
{
    (void)state;
    write_failure(false);
    write_failure(true);
}

/* ------------------------------------------------------------------------
 * The background thread and number dictionaries
 * ------------------------------------------------------------------------ */

static uint8_t *slurp(const char *file, size_t *n)
{
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = core_alloc(CORE_MEM_TEST, (size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/* Rows of five columns of every kind, in row groups of `group` rows. */
static void write_mixed(const char *file, bool background, bool numbers, int64_t group, int rows)
{
    lake_column_t cols[5] = {{"s", LAKE_COL_STRING, true},
                             {"i", LAKE_COL_INT64, false},
                             {"d", LAKE_COL_DOUBLE, true},
                             {"t", LAKE_COL_TIMESTAMP, false},
                             {"b", LAKE_COL_BOOL, true}};
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = group;
    o.page_bytes = 300;
    o.background = background;
    o.dictionary_numbers = numbers;
    lake_writer_t *w;
    assert_int_equal(lake_writer_create(file, cols, 5, &o, &w), 0);
    char s[16];
    for (int i = 0; i < rows; i++) {
        snprintf(s, sizeof s, "k%d", i % 13);
        schema_value_t row[5] = {i % 7 ? sv_s(s) : sv_null(), sv_int(i % 9),
                                 i % 5 ? sv_f(i * 0.25) : sv_null(), sv_ts(1000000 * (int64_t)i),
                                 i % 3 ? sv_b(i % 2) : sv_null()};
        assert_int_equal(lake_writer_add(w, row), 0);
    }
    assert_int_equal(lake_writer_rows(w), rows);
    assert_int_equal(lake_writer_finish(w), 0);
}

/* The thread changes when row groups are written, never what. */
static void test_background_same_bytes(void **state)
{
    (void)state;
    char other[160];
    snprintf(other, sizeof other, "%s/sync.parquet", dir);
    for (int numbers = 0; numbers < 2; numbers++) {
        write_mixed(path, true, numbers, 100, 2345);
        write_mixed(other, false, numbers, 100, 2345);
        size_t na, nb;
        uint8_t *a = slurp(path, &na), *b = slurp(other, &nb);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, na);
        core_free(a);
        core_free(b);
        read_footer();
        assert_int_equal(info.row_groups, 24);
        assert_int_equal(info.num_rows, 2345);
    }
    unlink(other);
}

/* Abort with row groups in flight: the thread is joined, the file is
 * gone and every byte is freed; lake_writer_bytes() grows meanwhile. */
static void test_background_abort(void **state)
{
    (void)state;
    core_mem_stats_t before, after;
    core_mem_stats(CORE_MEM_LAKE, &before);
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = 50;
    lake_writer_t *w = create1(LAKE_COL_INT64, false, &o);
    int64_t last = lake_writer_bytes(w);
    for (int i = 0; i < 5000; i++) {
        schema_value_t v = sv_int(i * 7919);
        assert_int_equal(lake_writer_add(w, &v), 0);
        int64_t now = lake_writer_bytes(w);
        assert_true(now >= last || i % 50 == 49); /* a written group may be smaller */
        last = now;
    }
    assert_true(lake_writer_bytes(w) > 5000);
    lake_writer_abort(w);
    assert_int_equal(access(path, F_OK), -1);
    core_mem_stats(CORE_MEM_LAKE, &after);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.allocs, before.allocs);
}

/* ---- A small page reader for the number dictionaries: codec none,
 * REQUIRED or OPTIONAL INT64 chunks; returns the values (nulls as
 * INT64_MIN) and counts the pages of each encoding. Independent of the
 * writer: page headers through footer_read.h's Thrift reader, values
 * decoded from the format. */

typedef struct {
    int type, unc, comp, nvalues, encoding;
} page_hdr_t;

static size_t read_page_header(const uint8_t *p, size_t n, page_hdr_t *h)
{
    footer_rd_t r = {.p = p, .len = n};
    int16_t last = 0, id;
    int type;
    memset(h, 0, sizeof *h);
    while (fr_field(&r, &last, &id, &type)) {
        if (id >= 1 && id <= 3) {
            int v = (int)fr_int(&r, type);
            if (id == 1)
                h->type = v;
            else if (id == 2)
                h->unc = v;
            else
                h->comp = v;
        } else if (id == 5 || id == 7) {
            int16_t l2 = 0, id2;
            int t2;
            while (fr_field(&r, &l2, &id2, &t2)) {
                if (id2 == 1)
                    h->nvalues = (int)fr_int(&r, t2);
                else if (id2 == 2)
                    h->encoding = (int)fr_int(&r, t2);
                else
                    fr_skip(&r, t2);
            }
        } else {
            fr_skip(&r, type);
        }
    }
    assert_false(r.bad);
    return r.pos;
}

/* Decodes n values of the RLE/bit-packed hybrid (width bits) from p. */
static size_t read_hybrid(const uint8_t *p, size_t len, unsigned width, uint32_t *out, size_t n)
{
    footer_rd_t r = {.p = p, .len = len};
    size_t got = 0;
    while (got < n) {
        uint64_t h = fr_uvarint(&r);
        assert_false(r.bad);
        if (h & 1) {
            uint64_t acc = 0;
            unsigned bits = 0;
            for (size_t k = 0; k < (h >> 1) * 8; k++) {
                while (bits < width) {
                    acc |= (uint64_t)fr_u8(&r) << bits;
                    bits += 8;
                }
                if (got < n)
                    out[got++] = (uint32_t)(acc & ((1ull << width) - 1));
                acc >>= width;
                bits -= width;
            }
        } else {
            uint32_t v = 0;
            for (unsigned k = 0; k < (width + 7) / 8; k++)
                v |= (uint32_t)fr_u8(&r) << (8 * k);
            for (uint64_t k = 0; k < (h >> 1) && got < n; k++)
                out[got++] = v;
        }
        assert_false(r.bad);
    }
    return r.pos;
}

static int64_t le64_at(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return (int64_t)v;
}

/* Reads chunk c of the file in buf into vals; counts pages per encoding. */
static size_t read_int_chunk(const uint8_t *buf, const footer_chunk_t *c, bool optional,
                             int64_t *vals, int *dict_pages, int *plain_pages)
{
    int64_t at = c->dict_off >= 0 ? c->dict_off : c->data_off;
    int64_t end = at + c->comp;
    int64_t dict[4096];
    int ndict = 0;
    size_t got = 0;
    static uint32_t levels[1 << 16], idx[1 << 16];
    while (at < end) {
        page_hdr_t h;
        at += (int64_t)read_page_header(buf + at, (size_t)(end - at), &h);
        const uint8_t *body = buf + at;
        assert_int_equal(h.unc, h.comp); /* codec none */
        if (h.type == LAKE_PAGE_DICTIONARY) {
            assert_true(h.nvalues <= 4096);
            for (ndict = 0; ndict < h.nvalues; ndict++)
                dict[ndict] = le64_at(body + 8 * ndict);
            at += h.comp;
            continue;
        }
        size_t pos = 0, nonnull = (size_t)h.nvalues;
        if (optional) {
            size_t len = (size_t)body[0] | (size_t)body[1] << 8 | (size_t)body[2] << 16;
            read_hybrid(body + 4, len, 1, levels, (size_t)h.nvalues);
            pos = 4 + len;
            nonnull = 0;
            for (int k = 0; k < h.nvalues; k++)
                nonnull += levels[k];
        }
        if (h.encoding == LAKE_ENC_RLE_DICTIONARY) {
            (*dict_pages)++;
            unsigned width = body[pos];
            read_hybrid(body + pos + 1, (size_t)h.comp - pos - 1, width, idx, nonnull);
        } else {
            (*plain_pages)++;
        }
        for (size_t k = 0, v = 0; k < (size_t)h.nvalues; k++) {
            if (optional && !levels[k]) {
                vals[got++] = INT64_MIN;
                continue;
            }
            if (h.encoding == LAKE_ENC_RLE_DICTIONARY) {
                assert_true(idx[v] < (uint32_t)ndict);
                vals[got++] = dict[idx[v]];
            } else {
                vals[got++] = le64_at(body + pos + 8 * v);
            }
            v++;
        }
        at += h.comp;
    }
    return got;
}

/* dictionary_numbers: few distinct values get a dictionary, many do not;
 * every value reads back; statistics are unchanged. */
static void test_dictionary_numbers(void **state)
{
    (void)state;
    lake_column_t cols[4] = {{"few", LAKE_COL_INT64, false},
                             {"fewn", LAKE_COL_TIMESTAMP, true},
                             {"many", LAKE_COL_INT64, false},
                             {"d", LAKE_COL_DOUBLE, false}};
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.codec = LAKE_CODEC_NONE;
    o.dictionary_numbers = true;
    o.page_bytes = 256;
    o.row_group_rows = 1000;
    lake_writer_t *w;
    assert_int_equal(lake_writer_create(path, cols, 4, &o, &w), 0);
    enum { N = 2500 };
    static int64_t want[4][N];
    for (int i = 0; i < N; i++) {
        int64_t few = (i * 7) % 37 - 18, many = (int64_t)i * 1000003;
        double d = (i % 11 == 0) ? -0.0 : (i % 11) * 0.5;
        schema_value_t row[4] = {sv_int(few), i % 4 ? sv_ts(few * 1000) : sv_null(), sv_int(many),
                                 sv_f(d)};
        want[0][i] = few;
        want[1][i] = i % 4 ? few * 1000 : INT64_MIN;
        want[2][i] = many;
        memcpy(&want[3][i], &d, 8);
        assert_int_equal(lake_writer_add(w, row), 0);
    }
    assert_int_equal(lake_writer_finish(w), 0);
    read_footer();
    assert_int_equal(info.nchunks, 12);
    size_t n;
    uint8_t *buf = slurp(path, &n);
    static int64_t got[N];
    for (size_t col = 0; col < 4; col++) {
        size_t total = 0;
        for (size_t g = 0; g < 3; g++) {
            const footer_chunk_t *c = &info.chunks[g * 4 + col];
            int dp = 0, pp = 0;
            total += read_int_chunk(buf, c, col == 1, got + total, &dp, &pp);
            bool dict = col != 2;
            assert_int_equal(c->dict_off >= 0, dict);
            assert_int_equal(has_encoding(c, LAKE_ENC_RLE_DICTIONARY), dict);
            assert_true(dict ? dp >= 1 && pp == 0 : dp == 0 && pp > 1);
        }
        assert_int_equal(total, N);
        assert_memory_equal(got, want[col], sizeof got);
    }
    core_free(buf);
    /* statistics as without the dictionary: -0.0 min, 5.0 max */
    static const uint8_t negzero[8] = {0, 0, 0, 0, 0, 0, 0, 0x80};
    static const uint8_t five[8] = {0, 0, 0, 0, 0, 0, 0x14, 0x40};
    expect_bin(&info.chunks[3].min_value, negzero, 8);
    expect_bin(&info.chunks[3].max_value, five, 8);
    assert_int_equal(info.chunks[1].null_count, 250);
}

/* One small job: any failure is returned, and every byte is freed. */
static int job(bool background)
{
    lake_column_t cols[3] = {
        {"s", LAKE_COL_STRING, true}, {"i", LAKE_COL_INT64, false}, {"d", LAKE_COL_DOUBLE, true}};
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.row_group_rows = 20;
    o.page_bytes = 64;
    o.dictionary_bytes = 100;
    o.dictionary_numbers = true;
    o.background = background;
    lake_writer_t *w;
    int rc = lake_writer_create(path, cols, 3, &o, &w);
    if (rc != 0)
        return rc;
    rc = lake_writer_set_meta(w, "k", "v");
    char s[16];
    for (int i = 0; i < 50 && rc == 0; i++) {
        snprintf(s, sizeof s, "s%d", i % 17);
        schema_value_t row[3] = {i % 5 ? sv_s(s) : sv_null(), sv_int(i), sv_f(i)};
        rc = lake_writer_add(w, row);
    }
    if (rc != 0) {
        lake_writer_abort(w);
        return rc;
    }
    return lake_writer_finish(w);
}

/* Without `background` the allocations come in one order, and each is
 * failed in turn. With it, the thread's and the adding thread's
 * allocations interleave, so the n-th one differs from run to run; every
 * run must still fail cleanly (the thread's failure reaches add or finish)
 * and free everything. */
static void allocation_failures(bool background)
{
    core_mem_stats_t before, after;
    core_mem_stats(CORE_MEM_LAKE, &before);
    int64_t allocs0 = 0, allocs1 = 0;
    for (int t = 0; t < CORE_MEM__COUNT; t++) {
        core_mem_stats((core_mem_tag_t)t, &after);
        allocs0 += after.total_allocs;
    }
    assert_int_equal(job(background), 0);
    for (int t = 0; t < CORE_MEM__COUNT; t++) {
        core_mem_stats((core_mem_tag_t)t, &after);
        allocs1 += after.total_allocs;
    }
    long n = (long)(allocs1 - allocs0);
    assert_true(n > 10);
    for (long k = 1; k <= n; k++) {
        core_mem_fail_at(k, false);
        int rc = job(background);
        core_mem_fail_at(0, false);
        assert_true(rc == CORE_ENOMEM || rc == 0);
        core_mem_stats(CORE_MEM_LAKE, &after);
        assert_int_equal(after.bytes, before.bytes);
        assert_int_equal(after.allocs, before.allocs);
        unlink(path);
    }
    assert_int_equal(job(background), 0);
    read_footer();
    assert_int_equal(info.num_rows, 50);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    allocation_failures(false);
    allocation_failures(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codecs_and_defaults),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_value_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_groups_by_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_groups_by_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dictionary_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_same_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dictionary_numbers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * write_files.c - writes the Parquet files that the lake round-trip tests
 * read back with DuckDB and hyparquet, each beside a manifest that holds
 * every value written and what the file's layout must show.
 *
 *   test_lake_files DIR      writes DIR/<case>.parquet and DIR/<case>.json
 *   test_lake_files unzstd   decompresses one zstd frame from stdin to
 *                            stdout (hyparquet has no zstd of its own)
 *   test_lake_files bench N [CODEC]
 *                            writes N rows of a mixed schema (12 columns)
 *                            to a temporary file and prints rows/s (a
 *                            manual measurement, not a test)
 *
 * Values come from a seeded generator, so every run writes the same files.
 * The manifest encodes int64 and timestamps as decimal strings and doubles
 * as "%.17g" text ("NaN", "Infinity", "-Infinity"), so nothing is lost to
 * JavaScript's numbers.
 *
 * Threading: single-threaded.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "core/core.h"
#include "lake/lake.h"

enum kind {
    K_ID,       /* the row number */
    K_BOOL,     /* random */
    K_INT,      /* edge values, small runs, full-range random */
    K_DOUBLE,   /* edge values (NaN, infinities, -0, subnormals), random */
    K_STR,      /* a pool (dictionary-friendly), random UTF-8, rare long */
    K_DISTINCT, /* mostly distinct strings (dictionary fallback) */
    K_JSON,     /* object and array text into a string column */
    K_TS,       /* timestamps from year 1 to 9999, edge values */
    K_NULL,     /* always null */
    K_NAN,      /* always NaN */
    K_SMALLDBL, /* a handful of finite values */
};

typedef struct {
    const char *name;
    lake_col_type_t type;
    bool optional;
    enum kind kind;
    int null_pct; /* optional columns: share of nulls */
} col_spec_t;

typedef struct {
    const char *name;
    const col_spec_t *cols;
    size_t ncols;
    int64_t rows;
    lake_codec_t codec;
    bool dictionary;
    size_t page_bytes, row_group_bytes, dictionary_bytes;
    int64_t row_group_rows;
    /* expectations the readers check */
    int64_t row_groups;     /* exact count, or -1 */
    int64_t min_row_groups; /* at least */
    int64_t min_pages;      /* data pages in every chunk with rows, at least */
    bool fallback;          /* some string chunk has dictionary and PLAIN pages */
} case_t;

static const col_spec_t all_types[] = {
    {"id", LAKE_COL_INT64, false, K_ID, 0},      {"b", LAKE_COL_BOOL, false, K_BOOL, 0},
    {"bn", LAKE_COL_BOOL, true, K_BOOL, 20},     {"i", LAKE_COL_INT64, false, K_INT, 0},
    {"in", LAKE_COL_INT64, true, K_INT, 30},     {"d", LAKE_COL_DOUBLE, false, K_DOUBLE, 0},
    {"dn", LAKE_COL_DOUBLE, true, K_DOUBLE, 25}, {"s", LAKE_COL_STRING, false, K_STR, 0},
    {"sn", LAKE_COL_STRING, true, K_STR, 35},    {"j", LAKE_COL_STRING, true, K_JSON, 10},
    {"t", LAKE_COL_TIMESTAMP, false, K_TS, 0},   {"tn", LAKE_COL_TIMESTAMP, true, K_TS, 15},
};

static const col_spec_t narrow[] = {
    {"id", LAKE_COL_INT64, false, K_ID, 0},
    {"s", LAKE_COL_STRING, true, K_STR, 5},
    {"d", LAKE_COL_DOUBLE, false, K_SMALLDBL, 0},
    {"t", LAKE_COL_TIMESTAMP, false, K_TS, 0},
};

static const col_spec_t fallback_cols[] = {
    {"id", LAKE_COL_INT64, false, K_ID, 0},
    {"v", LAKE_COL_STRING, true, K_DISTINCT, 10},
    {"p", LAKE_COL_STRING, false, K_STR, 0},
};

static const col_spec_t null_cols[] = {
    {"id", LAKE_COL_INT64, false, K_ID, 0},    {"bn", LAKE_COL_BOOL, true, K_NULL, 0},
    {"in", LAKE_COL_INT64, true, K_NULL, 0},   {"dn", LAKE_COL_DOUBLE, true, K_NULL, 0},
    {"sn", LAKE_COL_STRING, true, K_NULL, 0},  {"tn", LAKE_COL_TIMESTAMP, true, K_NULL, 0},
    {"nan", LAKE_COL_DOUBLE, false, K_NAN, 0}, {"nann", LAKE_COL_DOUBLE, true, K_NAN, 50},
};

#define MIB     ((size_t)1 << 20)
#define NCOL(a) CORE_ARRAY_LEN(a)

/* name, cols, ncols, rows, codec, dict, page, rg bytes, dict bytes, rg rows,
 * row groups, min row groups, min pages, fallback */
static const case_t cases[] = {
    {"types_none_dict", all_types, NCOL(all_types), 3000, LAKE_CODEC_NONE, true, 2048, 64 * MIB, 0,
     1000, 3, 3, 2, false},
    {"types_none_plain", all_types, NCOL(all_types), 3000, LAKE_CODEC_NONE, false, 2048, 64 * MIB,
     0, 1000, 3, 3, 2, false},
    {"types_snappy_dict", all_types, NCOL(all_types), 3000, LAKE_CODEC_SNAPPY, true, 2048, 64 * MIB,
     0, 1000, 3, 3, 2, false},
    {"types_snappy_plain", all_types, NCOL(all_types), 3000, LAKE_CODEC_SNAPPY, false, 2048,
     64 * MIB, 0, 1000, 3, 3, 2, false},
    {"types_zstd_dict", all_types, NCOL(all_types), 3000, LAKE_CODEC_ZSTD, true, 2048, 64 * MIB, 0,
     1000, 3, 3, 2, false},
    {"types_zstd_plain", all_types, NCOL(all_types), 3000, LAKE_CODEC_ZSTD, false, 2048, 64 * MIB,
     0, 1000, 3, 3, 2, false},
    /* a row group far smaller than one page */
    {"tiny", all_types, NCOL(all_types), 5, LAKE_CODEC_ZSTD, true, 0, 0, 0, 0, 1, 1, 1, false},
    /* many pages in each of many row groups */
    {"many", narrow, NCOL(narrow), 60000, LAKE_CODEC_SNAPPY, true, 1024, 64 * MIB, 0, 8000, 8, 8, 3,
     false},
    /* row groups closed by size, not by rows */
    {"rg_bytes", narrow, NCOL(narrow), 40000, LAKE_CODEC_ZSTD, false, 4096, 128 * 1024, 0, 0, -1, 3,
     1, false},
    /* the dictionary outgrows its cap in every row group */
    {"fallback", fallback_cols, NCOL(fallback_cols), 6000, LAKE_CODEC_NONE, true, 8192, 64 * MIB,
     4096, 3000, 2, 2, 2, true},
    {"fallback_zstd", fallback_cols, NCOL(fallback_cols), 6000, LAKE_CODEC_ZSTD, true, 8192,
     64 * MIB, 4096, 0, 1, 1, 2, true},
    {"nulls", null_cols, NCOL(null_cols), 700, LAKE_CODEC_SNAPPY, true, 512, 64 * MIB, 0, 300, 3, 3,
     1, false},
    {"empty", all_types, NCOL(all_types), 0, LAKE_CODEC_ZSTD, true, 0, 0, 0, 0, 0, 0, 0, false},
};

/* ------------------------------------------------------------------------
 * Deterministic values
 * ------------------------------------------------------------------------ */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rnd(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(rng_t *r, uint64_t n)
{
    return rnd(r) % n;
}

static const char *const pool[] = {
    "",        "a",           "A",       "Z",          "zz",         "é",          "ß",
    "日本語",  "😀",           "Straße",  "naïve café", "ascii",      "tab\there",  "line\nbreak",
    "quote\"", "back\\slash", "𝄞 music", "中文字符",   "~tilde",     "mixed é中😀", "\u00ff",
    "\u0100",  "\u07ff",      "\u0800",  "\uffff",     "\U00010000", "\U0010ffff", "zzz",
    "0",       "-1",          "NULL",    "null",       " leading",   "trailing ",  "émoji 🎉🎉",
};

static const uint32_t alphabet[] = {'a',   'b',    'z',    'A',     'Q',     '0',     '9',  ' ',
                                    '"',   '\\',   '\n',   '~',     0x7f,    0x80,    0xe9, 0x7ff,
                                    0x800, 0x4e2d, 0xfffd, 0x10000, 0x1f600, 0x10ffff};

static size_t put_utf8(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xc0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xe0 | cp >> 12);
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    p[0] = (char)(0xf0 | cp >> 18);
    p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    p[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

#define LONG_MAX_CPS 12000
#define SCRATCH      (LONG_MAX_CPS * 4 + 64)

/* A random UTF-8 string of `cps` code points into buf; returns its bytes. */
static size_t random_text(rng_t *r, char *buf, size_t cps)
{
    size_t n = 0;
    for (size_t i = 0; i < cps; i++)
        n += put_utf8(buf + n, alphabet[below(r, CORE_ARRAY_LEN(alphabet))]);
    return n;
}

static void gen_string(rng_t *r, enum kind k, int64_t row, char *buf, schema_value_t *v)
{
    size_t n;
    v->type = SCHEMA_STRING;
    if (k == K_DISTINCT) {
        if (below(r, 10) == 0)
            n = (size_t)snprintf(buf, SCRATCH, "repeat-%d", (int)below(r, 5));
        else
            n = (size_t)snprintf(buf, SCRATCH, "distinct-%lld-%016llx-é", (long long)row,
                                 (unsigned long long)rnd(r));
    } else if (k == K_JSON) {
        if (below(r, 2) == 0) {
            v->type = SCHEMA_OBJECT;
            n = (size_t)snprintf(buf, SCRATCH, "{\"k\":%d,\"s\":\"é\"}", (int)below(r, 100));
        } else {
            v->type = SCHEMA_ARRAY;
            n = (size_t)snprintf(buf, SCRATCH, "[%d,true,null]", (int)below(r, 100));
        }
    } else {
        uint64_t pick = below(r, 1000);
        if (pick < 700) {
            const char *s = pool[below(r, CORE_ARRAY_LEN(pool))];
            n = strlen(s);
            memcpy(buf, s, n);
        } else if (pick < 997) {
            n = random_text(r, buf, (size_t)below(r, 25));
        } else {
            n = random_text(r, buf, 1100 + (size_t)below(r, LONG_MAX_CPS - 1100));
        }
    }
    v->v.s.p = buf;
    v->v.s.len = n;
}

static int64_t gen_int(rng_t *r)
{
    static const int64_t edge[] = {0,
                                   1,
                                   -1,
                                   INT64_MIN,
                                   INT64_MAX,
                                   INT64_MIN + 1,
                                   INT64_MAX - 1,
                                   1LL << 53,
                                   (1LL << 53) + 1,
                                   -(1LL << 53) - 1,
                                   1000000};
    uint64_t pick = below(r, 100);
    if (pick < 5)
        return edge[below(r, CORE_ARRAY_LEN(edge))];
    if (pick < 70)
        return (int64_t)below(r, 201) - 100;
    return (int64_t)rnd(r);
}

static double gen_double(rng_t *r)
{
    static const double edge[] = {0.0,     -0.0,     NAN,     INFINITY,     -INFINITY,
                                  DBL_MAX, -DBL_MAX, DBL_MIN, 4.9e-324,     -4.9e-324,
                                  0.1,     -1.5,     1e300,   123456789.125};
    if (below(r, 100) < 4)
        return edge[below(r, CORE_ARRAY_LEN(edge))];
    double mant = (double)(rnd(r) >> 11) / 9007199254740992.0;
    double v = mant * pow(10.0, (double)below(r, 21) - 10.0);
    return below(r, 2) ? -v : v;
}

#define TS_MIN (-62135596800000000LL) /* 0001-01-01T00:00:00Z */
#define TS_MAX 253402300799999999LL   /* 9999-12-31T23:59:59.999999Z */

static int64_t gen_ts(rng_t *r)
{
    static const int64_t edge[] = {
        0, -1, 1, TS_MIN, TS_MAX, -2208988800000000LL, 951782400000000LL, 1700000000123456LL};
    if (below(r, 100) < 5)
        return edge[below(r, CORE_ARRAY_LEN(edge))];
    return TS_MIN + (int64_t)below(r, (uint64_t)(TS_MAX - TS_MIN));
}

static void gen_value(rng_t *r, const col_spec_t *c, int64_t row, char *buf, schema_value_t *v)
{
    memset(v, 0, sizeof *v);
    if (c->kind == K_NULL || (c->optional && (int)below(r, 100) < c->null_pct)) {
        v->type = SCHEMA_NULL;
        return;
    }
    switch (c->kind) {
    case K_ID:
        v->type = SCHEMA_INT;
        v->v.i = row;
        return;
    case K_BOOL:
        v->type = SCHEMA_BOOL;
        v->v.b = below(r, 2) == 1;
        return;
    case K_INT:
    case K_TS:
        /* Both value types are accepted by INT64 and TIMESTAMP columns. */
        v->type = below(r, 2) ? SCHEMA_INT : SCHEMA_TIMESTAMP;
        v->v.i = c->kind == K_INT ? gen_int(r) : gen_ts(r);
        return;
    case K_DOUBLE:
    case K_NAN:
    case K_SMALLDBL:
        v->type = SCHEMA_FLOAT;
        if (c->kind == K_NAN) {
            v->v.f = NAN;
        } else if (c->kind == K_SMALLDBL) {
            v->v.f = (double)below(r, 7) * 0.25 - 0.5;
        } else if (below(r, 10) == 0) {
            v->type = SCHEMA_INT; /* converted to double by the writer */
            v->v.i = (int64_t)below(r, 2000001) - 1000000;
        } else {
            v->v.f = gen_double(r);
        }
        return;
    default:
        gen_string(r, c->kind, row, buf, v);
        return;
    }
}

/* ------------------------------------------------------------------------
 * Manifest
 * ------------------------------------------------------------------------ */

static const char *type_name(lake_col_type_t t)
{
    static const char *const names[] = {"bool", "int64", "double", "string", "timestamp"};
    return names[t];
}

static int write_cell(core_json_writer_t *j, const col_spec_t *c, const schema_value_t *v)
{
    char num[64];
    if (v->type == SCHEMA_NULL)
        return core_json_write_null(j);
    switch (c->type) {
    case LAKE_COL_BOOL:
        return core_json_write_bool(j, v->v.b);
    case LAKE_COL_INT64:
    case LAKE_COL_TIMESTAMP:
        snprintf(num, sizeof num, "%lld", (long long)v->v.i);
        return core_json_write_string(j, num, strlen(num));
    case LAKE_COL_DOUBLE: {
        double d = v->type == SCHEMA_INT ? (double)v->v.i : v->v.f;
        if (isnan(d))
            snprintf(num, sizeof num, "NaN");
        else if (isinf(d))
            snprintf(num, sizeof num, "%sInfinity", d < 0 ? "-" : "");
        else
            snprintf(num, sizeof num, "%.17g", d);
        return core_json_write_string(j, num, strlen(num));
    }
    case LAKE_COL_STRING:
        return core_json_write_string(j, v->v.s.p, v->v.s.len);
    }
    return CORE_EINVAL;
}

static void write_expect(core_json_writer_t *j, const case_t *k)
{
    core_json_write_key(j, "rows", 4);
    core_json_write_i64(j, k->rows);
    core_json_write_key(j, "codec", 5);
    const char *codec = k->codec == LAKE_CODEC_NONE     ? "UNCOMPRESSED"
                        : k->codec == LAKE_CODEC_SNAPPY ? "SNAPPY"
                                                        : "ZSTD";
    core_json_write_string(j, codec, strlen(codec));
    core_json_write_key(j, "dictionary", 10);
    core_json_write_bool(j, k->dictionary);
    core_json_write_key(j, "row_groups", 10);
    core_json_write_i64(j, k->row_groups);
    core_json_write_key(j, "min_row_groups", 14);
    core_json_write_i64(j, k->min_row_groups);
    core_json_write_key(j, "min_pages", 9);
    core_json_write_i64(j, k->min_pages);
    core_json_write_key(j, "fallback", 8);
    core_json_write_bool(j, k->fallback);
    core_json_write_key(j, "meta", 4);
    core_json_write_object_begin(j);
    core_json_write_key(j, "strata.case", 11);
    core_json_write_string(j, k->name, strlen(k->name));
    core_json_write_key(j, "note", 4);
    core_json_write_string(j, "é 日本", strlen("é 日本"));
    core_json_write_object_end(j);
    core_json_write_key(j, "columns", 7);
    core_json_write_array_begin(j);
    for (size_t c = 0; c < k->ncols; c++) {
        core_json_write_object_begin(j);
        core_json_write_key(j, "name", 4);
        core_json_write_string(j, k->cols[c].name, strlen(k->cols[c].name));
        core_json_write_key(j, "type", 4);
        core_json_write_string(j, type_name(k->cols[c].type), strlen(type_name(k->cols[c].type)));
        core_json_write_key(j, "optional", 8);
        core_json_write_bool(j, k->cols[c].optional);
        core_json_write_object_end(j);
    }
    core_json_write_array_end(j);
}

static int save(const char *path, const core_buf_t *b)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(b->data, 1, b->len, f) != b->len) {
        fprintf(stderr, "write_files: cannot write %s\n", path);
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------
 * Cases
 * ------------------------------------------------------------------------ */

static void options_of(const case_t *k, lake_writer_options_t *o)
{
    lake_writer_options_default(o);
    o->codec = k->codec;
    o->dictionary = k->dictionary;
    o->page_bytes = k->page_bytes;
    o->row_group_bytes = k->row_group_bytes;
    o->dictionary_bytes = k->dictionary_bytes;
    o->row_group_rows = k->row_group_rows;
}

/* Writes the rows of case k to w and, column by column, to the manifest:
 * the generator is rerun per column with the same seed. */
static int write_rows(const case_t *k, lake_writer_t *w, core_json_writer_t *j,
                      char (*bufs)[SCRATCH])
{
    schema_value_t vals[16];
    rng_t r = {0x5eed0000u + (uint64_t)k->rows};
    for (int64_t row = 0; row < k->rows; row++) {
        for (size_t c = 0; c < k->ncols; c++)
            gen_value(&r, &k->cols[c], row, bufs[c], &vals[c]);
        int rc = lake_writer_add(w, vals);
        if (rc != 0) {
            fprintf(stderr, "write_files: %s row %lld: %s\n", k->name, (long long)row,
                    core_error_detail());
            return -1;
        }
    }
    core_json_write_key(j, "values", 6);
    core_json_write_object_begin(j);
    for (size_t col = 0; col < k->ncols; col++) {
        core_json_write_key(j, k->cols[col].name, strlen(k->cols[col].name));
        core_json_write_array_begin(j);
        r.s = 0x5eed0000u + (uint64_t)k->rows;
        for (int64_t row = 0; row < k->rows; row++) {
            for (size_t c = 0; c < k->ncols; c++)
                gen_value(&r, &k->cols[c], row, bufs[c], &vals[c]);
            write_cell(j, &k->cols[col], &vals[col]);
        }
        core_json_write_array_end(j);
    }
    return core_json_write_object_end(j);
}

static int write_case(const char *dir, const case_t *k, char (*bufs)[SCRATCH])
{
    char path[4096];
    lake_column_t cols[16];
    lake_writer_options_t o;
    lake_writer_t *w;
    for (size_t c = 0; c < k->ncols; c++)
        cols[c] = (lake_column_t){k->cols[c].name, k->cols[c].type, k->cols[c].optional};
    options_of(k, &o);
    snprintf(path, sizeof path, "%s/%s.parquet", dir, k->name);
    if (lake_writer_create(path, cols, k->ncols, &o, &w) != 0) {
        fprintf(stderr, "write_files: %s\n", core_error_detail());
        return -1;
    }
    lake_writer_set_meta(w, "strata.case", "placeholder");
    lake_writer_set_meta(w, "note", "é 日本");
    lake_writer_set_meta(w, "strata.case", k->name); /* replaces the placeholder */

    core_buf_t out;
    core_buf_init(&out, CORE_MEM_TEST, (size_t)512 << 20);
    core_json_writer_t j;
    core_json_writer_init(&j, &out);
    core_json_write_object_begin(&j);
    write_expect(&j, k);
    int rc = write_rows(k, w, &j, bufs);
    core_json_write_object_end(&j);
    if (rc == 0 && core_json_writer_finish(&j) != 0)
        rc = -1;
    if (rc != 0) {
        lake_writer_abort(w);
    } else if (lake_writer_finish(w) != 0) {
        fprintf(stderr, "write_files: %s: %s\n", k->name, core_error_detail());
        rc = -1;
    }
    snprintf(path, sizeof path, "%s/%s.json", dir, k->name);
    if (rc == 0)
        rc = save(path, &out);
    core_buf_fini(&out);
    return rc;
}

/* ------------------------------------------------------------------------
 * unzstd and bench
 * ------------------------------------------------------------------------ */

static int unzstd(void)
{
    core_buf_t in;
    core_buf_init(&in, CORE_MEM_TEST, (size_t)1 << 30);
    uint8_t chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (core_buf_append(&in, chunk, n) != 0)
            return 1;
    unsigned long long size = ZSTD_getFrameContentSize(in.data, in.len);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1u << 30))
        return 1;
    void *out = malloc(size ? size : 1);
    size_t got = out ? ZSTD_decompress(out, size, in.data, in.len) : 0;
    int rc = out == NULL || ZSTD_isError(got) || fwrite(out, 1, got, stdout) != got;
    free(out);
    core_buf_fini(&in);
    return rc;
}

static int bench(int64_t rows, lake_codec_t codec)
{
    char path[] = "/tmp/strata-lake-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    static char bufs[NCOL(all_types)][SCRATCH];
    const case_t *k = &cases[4]; /* zstd, dictionary on */
    lake_column_t cols[16];
    schema_value_t vals[16];
    for (size_t c = 0; c < k->ncols; c++)
        cols[c] = (lake_column_t){k->cols[c].name, k->cols[c].type, k->cols[c].optional};
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.codec = codec;
    lake_writer_t *w;
    if (lake_writer_create(path, cols, k->ncols, &o, &w) != 0)
        return 1;
    rng_t r = {1};
    int64_t gen_ns = 0, start = core_mono_ns();
    for (int64_t row = 0; row < rows; row++) {
        int64_t g = core_mono_ns();
        for (size_t c = 0; c < k->ncols; c++)
            gen_value(&r, &k->cols[c], row, bufs[c], &vals[c]);
        gen_ns += core_mono_ns() - g;
        if (lake_writer_add(w, vals) != 0)
            return 1;
    }
    if (lake_writer_finish(w) != 0)
        return 1;
    double secs = (double)(core_mono_ns() - start - gen_ns) / 1e9;
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    unlink(path);
    printf("lake bench: %lld rows x %zu columns (%s, dictionary): %.0f rows/s, %.1f MB/s of "
           "file, %ld bytes\n",
           (long long)rows, k->ncols, lake_codec_name(codec), (double)rows / secs,
           (double)size / secs / 1e6, size);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "unzstd") == 0)
        return unzstd();
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "bench") == 0) {
        int64_t rows;
        lake_codec_t codec = LAKE_CODEC_ZSTD;
        if (core_parse_i64(argv[2], 1, INT64_MAX, &rows) != 0 ||
            (argc == 4 && lake_codec_parse(argv[3], &codec) != 0))
            return 2;
        return bench(rows, codec);
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR | unzstd | bench ROWS [CODEC]\n", argv[0]);
        return 2;
    }
    static char bufs[16][SCRATCH];
    for (size_t i = 0; i < CORE_ARRAY_LEN(cases); i++)
        if (write_case(argv[1], &cases[i], bufs) != 0)
            return 1;
    printf("wrote %zu cases to %s\n", CORE_ARRAY_LEN(cases), argv[1]);
    return 0;
}

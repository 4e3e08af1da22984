/*
 * Fuzz target for the Parquet writer (src/lake/). The input chooses the
 * columns (1..8, any type, required or optional), the options (codec,
 * zstd level, page and row-group sizes, row cap, dictionary and its cap,
 * number dictionaries, the background thread)
 * and then rows of typed values, some deliberately wrong: a type the
 * column refuses, a null in a required column, a string that is not UTF-8.
 *
 * Properties checked (abort on violation):
 *   - every row the contract accepts is accepted; every other row is
 *     refused with CORE_EINVAL and leaves the row count unchanged;
 *   - lake_writer_finish() succeeds;
 *   - the footer, read back by an independent decoder
 *     (tests/unit/lake/footer_read.h), says the file holds exactly the
 *     accepted rows, in row groups whose column chunks each hold every row
 *     and tile the file from byte 4 to the footer.
 *
 * The file goes to $TMPDIR (or /tmp) under a per-process name and is
 * removed after each input. Threading: the fuzzer's thread, plus the
 * writer's background thread when the input turns it on.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "lake/lake.h"

#include "../unit/lake/footer_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_COLS 8
#define MAX_ROWS 20000
#define MAX_STR  48

typedef struct {
    const uint8_t *p;
    size_t n, pos;
} input_t;

static footer_info_t info;
static char strings[MAX_COLS][MAX_STR];

static uint8_t next(input_t *in)
{
    return in->pos < in->n ? in->p[in->pos++] : 0;
}

static uint64_t next_u64(input_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | next(in);
    return v;
}

static void fail(const char *what)
{
    fprintf(stderr, "lake_writer fuzz: %s (%s)\n", what, core_error_detail());
    abort();
}

static void options_of(input_t *in, lake_writer_options_t *o)
{
    static const size_t page[] = {0, 16, 100, 1000};
    static const int64_t rg_rows[] = {0, 1, 7, 100};
    static const size_t rg_bytes[] = {0, 64, 1000, 100000};
    static const size_t dict[] = {0, 8, 64, 1000};
    static const int level[] = {0, 1, -3, 9};
    uint8_t a = next(in), b = next(in);
    lake_writer_options_default(o);
    o->codec = (lake_codec_t)((a & 3) % 3);
    o->dictionary = (a & 4) != 0;
    o->page_bytes = page[(a >> 3) & 3];
    o->row_group_rows = rg_rows[(a >> 5) & 3];
    o->row_group_bytes = rg_bytes[b & 3];
    o->dictionary_bytes = dict[(b >> 2) & 3];
    o->zstd_level = level[(b >> 4) & 3];
    o->background = (a & 0x80) != 0;
    o->dictionary_numbers = (b & 0x40) != 0;
}

/* A value the column refuses, with arbitrary payload bits (the writer must
 * not read a union member the type does not name). */
static schema_value_t wrong_value(input_t *in, lake_col_type_t t)
{
    static const schema_type_t wrong[] = {SCHEMA_FLOAT, SCHEMA_STRING, SCHEMA_BOOL, SCHEMA_INT,
                                          SCHEMA_FLOAT};
    schema_value_t v = {.type = wrong[t]};
    if (v.type == SCHEMA_STRING) {
        v.v.s.p = "x";
        v.v.s.len = 1;
    } else if (v.type == SCHEMA_BOOL) {
        v.v.b = (next(in) & 1) != 0;
    } else {
        v.v.i = (int64_t)next_u64(in);
    }
    return v;
}

static schema_value_t string_value(input_t *in, uint8_t tag, char *buf, bool *valid)
{
    static const schema_type_t kinds[] = {SCHEMA_STRING, SCHEMA_STRING, SCHEMA_OBJECT,
                                          SCHEMA_ARRAY};
    size_t n = next(in) % MAX_STR;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)next(in);
    *valid = core_utf8_valid(buf, n);
    return (schema_value_t){.type = kinds[(tag >> 5) & 3], .v.s = {buf, n}};
}

/* The next value for column c; *valid says whether the writer must take
 * it. */
static schema_value_t value_of(input_t *in, const lake_column_t *c, char *buf, bool *valid)
{
    uint8_t tag = next(in);
    schema_value_t v = {.type = SCHEMA_NULL};
    *valid = true;
    if (tag % 16 == 15) {
        *valid = false;
        return wrong_value(in, c->type);
    }
    if (tag % 4 == 0 && (c->optional || tag % 32 == 4)) {
        *valid = c->optional;
        return v;
    }
    switch (c->type) {
    case LAKE_COL_BOOL:
        v.type = SCHEMA_BOOL;
        v.v.b = (tag & 32) != 0;
        break;
    case LAKE_COL_INT64:
    case LAKE_COL_TIMESTAMP:
        v.type = tag & 32 ? SCHEMA_INT : SCHEMA_TIMESTAMP;
        v.v.i = tag & 64 ? (int64_t)next_u64(in) : (int64_t)(tag >> 4) - 8;
        break;
    case LAKE_COL_DOUBLE:
        if (tag & 32) {
            v.type = SCHEMA_INT;
            v.v.i = (int64_t)next_u64(in);
        } else {
            uint64_t bits = tag & 64 ? next_u64(in) : (uint64_t)(tag >> 4) << 60;
            v.type = SCHEMA_FLOAT;
            memcpy(&v.v.f, &bits, sizeof bits);
        }
        break;
    case LAKE_COL_STRING:
        return string_value(in, tag, buf, valid);
    }
    return v;
}

static void check_file(const char *path, size_t ncols, int64_t rows)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail("the file is missing");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    if (buf == NULL || fread(buf, 1, (size_t)size, f) != (size_t)size)
        fail("cannot read the file back");
    fclose(f);
    if (footer_read(buf, (size_t)size, &info) != 0)
        fail("the footer does not parse");
    free(buf);
    if (info.num_rows != rows || info.rows_in_groups != rows)
        fail("row count differs");
    if (info.nchunks != (size_t)info.row_groups * ncols ||
        info.schema_elements != (int64_t)ncols + 1)
        fail("chunk or schema count differs");
    if (info.nchunks <= FOOTER_MAX_CHUNKS && !footer_chunks_tile(&info))
        fail("column chunks do not tile the file");
    for (size_t c = 0; c < ncols && info.nchunks <= FOOTER_MAX_CHUNKS; c++) {
        int64_t values = 0;
        for (size_t i = c; i < info.nchunks; i += ncols)
            values += info.chunks[i].num_values;
        if (values != rows)
            fail("a column's chunks do not hold every row");
    }
    if (strcmp(info.created_by, "strata") != 0)
        fail("created_by");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = {data, size, 0};
    lake_column_t cols[MAX_COLS];
    schema_value_t vals[MAX_COLS];
    char names[MAX_COLS][4];
    lake_writer_options_t o;
    size_t ncols = 1 + next(&in) % MAX_COLS;
    options_of(&in, &o);
    for (size_t c = 0; c < ncols; c++) {
        uint8_t b = next(&in);
        snprintf(names[c], sizeof names[c], "c%zu", c);
        cols[c] = (lake_column_t){names[c], (lake_col_type_t)((b & 7) % 5), (b & 8) != 0};
    }
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/strata-fuzz-lake-%d.parquet", tmp ? tmp : "/tmp",
             (int)getpid());
    lake_writer_t *w;
    if (lake_writer_create(path, cols, ncols, &o, &w) != 0)
        fail("create");
    if (lake_writer_set_meta(w, "fuzz", "yes") != 0)
        fail("set_meta");
    int64_t accepted = 0;
    for (int row = 0; row < MAX_ROWS && in.pos < in.n; row++) {
        bool valid = true, ok;
        for (size_t c = 0; c < ncols; c++) {
            vals[c] = value_of(&in, &cols[c], strings[c], &ok);
            valid = valid && ok;
        }
        int rc = lake_writer_add(w, vals);
        if (valid && rc != 0)
            fail("a valid row was refused");
        if (!valid && rc != CORE_EINVAL)
            fail("an invalid row was not refused with CORE_EINVAL");
        accepted += valid;
        if (lake_writer_rows(w) != accepted)
            fail("lake_writer_rows");
    }
    if (lake_writer_finish(w) != 0)
        fail("finish");
    check_file(path, ncols, accepted);
    unlink(path);
    return 0;
}

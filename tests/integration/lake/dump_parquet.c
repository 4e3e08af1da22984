/*
 * dump_parquet - prints a Parquet file as strata's reader (src/lake/
 * lake.h, "Reading the lake") sees it, for tests/integration/lake/
 * reader.mjs to compare with what DuckDB wrote.
 *
 * Output: one JSON line with the columns ([name, type, optional] each;
 * type bool, int64, double, string or timestamp), then one JSON array per
 * row, in file order: null, true/false, or a string: int64 and timestamps
 * (microseconds) in decimal, doubles as %.17g or NaN/Infinity/-Infinity,
 * strings as they are. On error: the error detail on stderr and exit 1.
 *
 * usage: dump_parquet FILE
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "lake/lake.h"

static const char *type_name(lake_col_type_t t)
{
    static const char *const names[] = {"bool", "int64", "double", "string", "timestamp"};
    return names[t];
}

static void put_value(core_json_writer_t *w, const schema_value_t *v)
{
    char num[40];
    int n;
    switch (v->type) {
    case SCHEMA_NULL:
        core_json_write_null(w);
        return;
    case SCHEMA_BOOL:
        core_json_write_bool(w, v->v.b);
        return;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        n = snprintf(num, sizeof num, "%lld", (long long)v->v.i);
        break;
    case SCHEMA_FLOAT:
        if (isnan(v->v.f))
            n = snprintf(num, sizeof num, "NaN");
        else if (isinf(v->v.f))
            n = snprintf(num, sizeof num, "%sInfinity", v->v.f < 0 ? "-" : "");
        else
            n = snprintf(num, sizeof num, "%.17g", v->v.f);
        break;
    default:
        core_json_write_string(w, v->v.s.p, v->v.s.len);
        return;
    }
    core_json_write_string(w, num, (size_t)n);
}

static int flush_line(core_buf_t *b, core_json_writer_t *w)
{
    int rc = core_json_writer_finish(w);
    if (rc == 0) {
        fwrite(b->data, 1, b->len, stdout);
        fputc('\n', stdout);
    }
    core_buf_reset(b);
    return rc;
}

static int dump(lake_reader_t *r)
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, (size_t)1 << 28);
    core_json_writer_t w;
    size_t ncols = lake_reader_ncolumns(r);
    core_json_writer_init(&w, &b);
    core_json_write_array_begin(&w);
    for (size_t c = 0; c < ncols; c++) {
        const lake_column_t *col = lake_reader_column(r, c);
        core_json_write_array_begin(&w);
        core_json_write_string(&w, col->name, strlen(col->name));
        core_json_write_string(&w, type_name(col->type), strlen(type_name(col->type)));
        core_json_write_bool(&w, col->optional);
        core_json_write_array_end(&w);
    }
    core_json_write_array_end(&w);
    int rc = flush_line(&b, &w);
    for (size_t g = 0; rc == 0 && g < lake_reader_ngroups(r); g++) {
        rc = lake_reader_load(r, g, NULL);
        for (int64_t row = 0; rc == 0 && row < lake_reader_group_rows(r, g); row++) {
            core_json_writer_init(&w, &b);
            core_json_write_array_begin(&w);
            for (size_t c = 0; c < ncols; c++) {
                schema_value_t v;
                lake_reader_value(r, c, row, &v);
                put_value(&w, &v);
            }
            core_json_write_array_end(&w);
            rc = flush_line(&b, &w);
        }
    }
    core_buf_fini(&b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dump_parquet FILE\n");
        return 2;
    }
    lake_reader_t *r = NULL;
    int rc = lake_reader_open(argv[1], NULL, &r);
    if (rc == 0)
        rc = dump(r);
    lake_reader_close(r);
    if (rc != 0) {
        fprintf(stderr, "dump_parquet: %s\n", core_error_detail());
        return 1;
    }
    return 0;
}

/*
 * The `export` job kind: a view (merged across layers and partitions, as
 * queries see it) or a table of the serving store, for the run's interval,
 * written to a CSV or a Parquet file.
 *
 *   CSV      RFC 4180: a header row, fields quoted when they hold a comma,
 *            a quote or a line break; NULL is an empty field; view windows
 *            as ISO 8601.
 *   Parquet  through lake/ (zstd); every column optional. A table's
 *            columns take their declared types (integers INT64, floating
 *            point DOUBLE, booleans BOOLEAN, the rest STRING); a view's
 *            window bounds are TIMESTAMP_MICROS, key and layer STRING,
 *            final BOOLEAN, and each aggregate the type of its first value
 *            (INT64 or DOUBLE; DOUBLE when that is NULL).
 *
 * Rows of both sources arrive as (names, values) and go through one
 * out_row(); the Parquet writer is created at the first row, when the
 * types are known, so the columns are decided by the data.
 *
 * The file appears whole or not at all: it is written to "<path>.tmp",
 * fsynced, then renamed over <path>, and the directory is fsynced. A
 * retry rewrites the same path, so the export is idempotent per interval.
 *
 * Threading: runs on the runner's thread, on the run's connection.
 */
#include "batch/batch_int.h"
#include "lake/lake.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP    4096
#define OUT_FLUSH   (1 << 20)
#define OUT_CAP     (4 << 20)
#define MAX_COLUMNS 1024

typedef struct {
    bool parquet;
    const char *path; /* the temporary file */
    int64_t rows;
    /* csv */
    int fd;
    int64_t off;
    core_buf_t buf;
    bool header_done;
    /* parquet */
    lake_writer_t *w;
    lake_col_type_t types[MAX_COLUMNS];
    bool typed; /* types[] set before the first row */
    size_t ncols;
} out_t;

/* ---- CSV. */

static int csv_flush(out_t *o)
{
    int rc = core_pwrite_all(o->fd, o->buf.data, o->buf.len, o->off);
    if (rc != 0)
        return core_error(rc, "export: write %s: %s", o->path, strerror(errno));
    o->off += (int64_t)o->buf.len;
    core_buf_reset(&o->buf);
    return 0;
}

static int csv_field(out_t *o, bool first, const char *p, size_t n)
{
    int rc = first ? 0 : core_buf_append(&o->buf, ",", 1);
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (rc == 0 && !quote)
        return core_buf_append(&o->buf, p, n);
    if (rc == 0)
        rc = core_buf_append(&o->buf, "\"", 1);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = p[i] == '"' ? core_buf_append(&o->buf, "\"\"", 2) : core_buf_append(&o->buf, &p[i], 1);
    if (rc == 0)
        rc = core_buf_append(&o->buf, "\"", 1);
    return rc;
}

static int csv_value(out_t *o, bool first, const schema_value_t *v)
{
    char tmp[64];
    switch (v->type) {
    case SCHEMA_NULL:
        return csv_field(o, first, "", 0);
    case SCHEMA_BOOL:
        return csv_field(o, first, v->v.b ? "true" : "false", v->v.b ? 4 : 5);
    case SCHEMA_INT:
        snprintf(tmp, sizeof tmp, "%lld", (long long)v->v.i);
        return csv_field(o, first, tmp, strlen(tmp));
    case SCHEMA_FLOAT:
        snprintf(tmp, sizeof tmp, "%.17g", v->v.f);
        return csv_field(o, first, tmp, strlen(tmp));
    case SCHEMA_TIMESTAMP: {
        char iso[40];
        size_t n = schema_format_timestamp(v->v.i, iso);
        return csv_field(o, first, iso, n);
    }
    default:
        return csv_field(o, first, v->v.s.p, v->v.s.len);
    }
}

static int csv_header(out_t *o, const char *const *names, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = csv_field(o, i == 0, names[i], strlen(names[i]));
    o->header_done = true;
    return rc == 0 ? core_buf_append(&o->buf, "\n", 1) : rc;
}

static int csv_row(out_t *o, const char *const *names, const schema_value_t *v, size_t n)
{
    int rc = o->header_done ? 0 : csv_header(o, names, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = csv_value(o, i == 0, &v[i]);
    if (rc == 0)
        rc = core_buf_append(&o->buf, "\n", 1);
    if (rc == 0 && o->buf.len >= OUT_FLUSH)
        rc = csv_flush(o);
    return rc;
}

/* ---- Parquet. */

static lake_col_type_t type_of(const schema_value_t *v)
{
    switch (v->type) {
    case SCHEMA_BOOL:
        return LAKE_COL_BOOL;
    case SCHEMA_INT:
        return LAKE_COL_INT64;
    case SCHEMA_FLOAT:
        return LAKE_COL_DOUBLE;
    case SCHEMA_TIMESTAMP:
        return LAKE_COL_TIMESTAMP;
    default:
        return LAKE_COL_STRING;
    }
}

/* Creates the Parquet file. Column types: o->types when o->typed (a
 * table's declared types), else from the first row's values, a NULL
 * taking DOUBLE (view aggregates are numbers). */
static int pq_open(out_t *o, const char *const *names, const schema_value_t *v, size_t n)
{
    if (n > MAX_COLUMNS)
        return core_error(CORE_ETOOBIG, "export: %zu columns (at most %d)", n, MAX_COLUMNS);
    lake_column_t cols[MAX_COLUMNS];
    for (size_t i = 0; i < n; i++) {
        if (!o->typed)
            o->types[i] = v == NULL                  ? LAKE_COL_STRING
                          : v[i].type == SCHEMA_NULL ? LAKE_COL_DOUBLE
                                                     : type_of(&v[i]);
        cols[i] = (lake_column_t){names[i], o->types[i], true};
    }
    o->ncols = n;
    return lake_writer_create(o->path, cols, n, NULL, &o->w);
}

static int pq_row(out_t *o, const char *const *names, const schema_value_t *v, size_t n)
{
    int rc = o->w == NULL ? pq_open(o, names, v, n) : 0;
    if (rc == 0 && n != o->ncols)
        rc = core_error(CORE_EINVAL, "export: a row has %zu columns, the file %zu", n, o->ncols);
    schema_value_t fixed[MAX_COLUMNS];
    for (size_t i = 0; rc == 0 && i < n; i++) {
        fixed[i] = v[i];
        /* SQLite keeps what it is given: a float that is whole may come
         * back as an integer, a BIGINT column may hold text. */
        if (o->types[i] == LAKE_COL_INT64 && v[i].type == SCHEMA_FLOAT &&
            v[i].v.f == (double)(int64_t)v[i].v.f)
            fixed[i] = (schema_value_t){.type = SCHEMA_INT, .v.i = (int64_t)v[i].v.f};
        else if (o->types[i] == LAKE_COL_BOOL && v[i].type == SCHEMA_INT)
            fixed[i] = (schema_value_t){.type = SCHEMA_BOOL, .v.b = v[i].v.i != 0};
        else if (o->types[i] == LAKE_COL_STRING && v[i].type != SCHEMA_NULL &&
                 v[i].type != SCHEMA_STRING && v[i].type != SCHEMA_OBJECT &&
                 v[i].type != SCHEMA_ARRAY)
            rc = core_error(CORE_EINVAL, "export: column %s: a %s value in a text column", names[i],
                            schema_type_name(v[i].type));
    }
    if (rc == 0)
        rc = lake_writer_add(o->w, fixed);
    return rc;
}

static int out_row(out_t *o, const char *const *names, const schema_value_t *v, size_t n)
{
    int rc = o->parquet ? pq_row(o, names, v, n) : csv_row(o, names, v, n);
    if (rc == 0)
        o->rows++;
    return rc;
}

/* ---- Views. */

static int view_row(void *arg, const stream_view_row_t *row)
{
    static const char *const fixed[] = {"key", "window_start", "window_end", "layer", "final"};
    const char *names[MAX_COLUMNS];
    schema_value_t v[MAX_COLUMNS];
    size_t n = CORE_ARRAY_LEN(fixed);
    if (row->nvalues + n > MAX_COLUMNS)
        return core_error(CORE_ETOOBIG, "export: too many columns");
    memcpy(names, fixed, sizeof fixed);
    v[0] = row->key != NULL
               ? (schema_value_t){.type = SCHEMA_STRING, .v.s = {row->key, row->key_len}}
               : (schema_value_t){.type = SCHEMA_NULL};
    v[1] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = row->window_start};
    v[2] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = row->window_end};
    v[3] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {row->layer, strlen(row->layer)}};
    v[4] = (schema_value_t){.type = SCHEMA_BOOL, .v.b = row->final};
    for (size_t i = 0; i < row->nvalues; i++) {
        names[n] = row->names[i];
        v[n++] = row->values[i];
    }
    return out_row(arg, names, v, n);
}

/* ---- Tables. */

typedef struct {
    char *names[MAX_COLUMNS];
    lake_col_type_t types[MAX_COLUMNS];
    size_t n;
} columns_t;

/* A declared SQL column type as a Parquet column type. */
static lake_col_type_t declared_type(const char *t, size_t n)
{
    char low[64];
    size_t k = CORE_MIN(n, sizeof low - 1);
    for (size_t i = 0; i < k; i++)
        low[i] = (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] + 32 : t[i]);
    low[k] = '\0';
    if (strstr(low, "int") != NULL)
        return LAKE_COL_INT64;
    if (strstr(low, "double") != NULL || strstr(low, "real") != NULL ||
        strstr(low, "float") != NULL || strstr(low, "numeric") != NULL)
        return LAKE_COL_DOUBLE;
    if (strstr(low, "bool") != NULL)
        return LAKE_COL_BOOL;
    return LAKE_COL_STRING;
}

typedef struct {
    out_t *o;
    const columns_t *cols;
} table_ctx_t;

static int take_column(void *arg, const schema_value_t *v, size_t n)
{
    columns_t *c = arg;
    if (n < 1 || v[0].type != SCHEMA_STRING || c->n == MAX_COLUMNS)
        return 0;
    char *s = core_alloc(CORE_MEM_BATCH, v[0].v.s.len + 1);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "export: out of memory");
    memcpy(s, v[0].v.s.p, v[0].v.s.len);
    s[v[0].v.s.len] = '\0';
    c->types[c->n] = n >= 2 && v[1].type == SCHEMA_STRING ? declared_type(v[1].v.s.p, v[1].v.s.len)
                                                          : LAKE_COL_STRING;
    c->names[c->n++] = s;
    return 0;
}

static int table_row(void *arg, const schema_value_t *v, size_t n)
{
    table_ctx_t *t = arg;
    if (n != t->cols->n)
        return core_error(CORE_EINVAL, "export: %zu values for %zu columns", n, t->cols->n);
    return out_row(t->o, (const char *const *)t->cols->names, v, n);
}

static int table_sql(const batch_job_def_t *d, core_buf_t *sql)
{
    int rc = core_buf_append_str(sql, "SELECT * FROM ");
    if (rc == 0)
        rc = store_quote_ident(d->source, sql);
    if (rc == 0 && d->time_column != NULL) {
        rc = core_buf_append_str(sql, " WHERE ");
        for (int k = 0; rc == 0 && k < 2; k++) {
            rc = store_quote_ident(d->time_column, sql);
            if (rc == 0)
                rc = core_buf_append_str(sql, k == 0 ? " >= ?1 AND " : " < ?2");
        }
    }
    return rc == 0 ? core_buf_append(sql, " ORDER BY 1", 12) : rc;
}

static int export_table(batch_run_t *run, out_t *o)
{
    const batch_job_def_t *d = run->job;
    bool pg = strcmp(store_backend(run->store), "postgresql") == 0;
    columns_t cols = {.n = 0};
    schema_value_t name = {.type = SCHEMA_STRING, .v.s = {d->source, strlen(d->source)}};
    int rc = store_ident_check(d->source, "table");
    if (rc == 0)
        rc = store_exec(run->store,
                        pg ? "SELECT column_name::text, data_type::text FROM "
                             "information_schema.columns WHERE table_schema = current_schema() "
                             "AND table_name = ?1 ORDER BY ordinal_position"
                           : "SELECT name, type FROM pragma_table_info(?1) ORDER BY cid",
                        &name, 1, take_column, &cols, NULL);
    if (rc == 0 && cols.n == 0)
        rc = core_error(CORE_ENOENT, "job %s: export: no table or view named '%s'", d->name,
                        d->source);
    memcpy(o->types, cols.types, sizeof cols.types);
    o->typed = true;
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_BATCH, 1 << 16);
    if (rc == 0)
        rc = table_sql(d, &sql);
    schema_value_t range[2] = {{.type = SCHEMA_INT, .v.i = run->interval_start_us},
                               {.type = SCHEMA_INT, .v.i = run->interval_end_us}};
    table_ctx_t t = {o, &cols};
    if (rc == 0)
        rc = store_exec(run->store, (const char *)sql.data, range, d->time_column != NULL ? 2 : 0,
                        table_row, &t, NULL);
    if (rc == 0 && o->rows == 0 && !o->parquet)
        rc = csv_header(o, (const char *const *)cols.names, cols.n);
    if (rc == 0 && o->rows == 0 && o->parquet)
        rc = pq_open(o, (const char *const *)cols.names, NULL, cols.n);
    core_buf_fini(&sql);
    for (size_t i = 0; i < cols.n; i++)
        core_free(cols.names[i]);
    return rc;
}

static int write_rows(batch_run_t *run, out_t *o)
{
    stream_view_query_t q = {
        .from_us = run->interval_start_us,
        .to_us = run->interval_end_us,
    };
    int rc = stream_view_query(run->store, run->job->source, &q, view_row, o);
    if (rc == CORE_ENOENT)
        return export_table(run, o);
    if (rc == 0 && o->rows == 0) {
        /* An empty view: the fixed columns only. */
        static const char *const fixed[] = {"key", "window_start", "window_end", "layer", "final"};
        rc = o->parquet ? pq_open(o, fixed, NULL, CORE_ARRAY_LEN(fixed))
                        : csv_header(o, fixed, CORE_ARRAY_LEN(fixed));
    }
    return rc;
}

/* ---- Files. */

/* mkdir -p of path's directory. */
static int make_parent(const char *path)
{
    char dir[PATH_CAP + 8];
    snprintf(dir, sizeof dir, "%s", path);
    char *d = dirname(dir);
    for (char *p = d + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(d, 0755) != 0 && errno != EEXIST)
            return core_error(CORE_EIO, "export: mkdir %s: %s", d, strerror(errno));
        *p = '/';
    }
    if (mkdir(d, 0755) != 0 && errno != EEXIST)
        return core_error(CORE_EIO, "export: mkdir %s: %s", d, strerror(errno));
    return 0;
}

/* Writes the rows into o->path (the temporary file) and makes it durable. */
static int write_file(batch_run_t *run, out_t *o)
{
    int rc = 0;
    if (!o->parquet && (o->fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        return core_error(CORE_EIO, "export: create %s: %s", o->path, strerror(errno));
    rc = write_rows(run, o);
    if (o->parquet) {
        if (rc == 0)
            rc = lake_writer_finish(o->w); /* fdatasyncs */
        else
            lake_writer_abort(o->w);
        o->w = NULL;
        return rc;
    }
    if (rc == 0)
        rc = csv_flush(o);
    if (rc == 0 && fsync(o->fd) != 0)
        rc = core_error(CORE_EIO, "export: fsync %s: %s", o->path, strerror(errno));
    close(o->fd);
    return rc;
}

int batch_export_run(batch_run_t *run)
{
    const batch_job_def_t *d = run->job;
    bool parquet = d->format != NULL && strcmp(d->format, "parquet") == 0;
    if (d->format != NULL && !parquet && strcmp(d->format, "csv") != 0)
        return core_error(CORE_EINVAL, "job %s: export format '%s': csv or parquet", d->name,
                          d->format);
    core_buf_t path;
    core_buf_init(&path, CORE_MEM_BATCH, PATH_CAP);
    int rc = batch_template_expand(run, d->output, &path);
    if (rc == 0)
        rc = core_buf_append(&path, "", 1);
    char tmp[PATH_CAP + 8];
    if (rc == 0) {
        snprintf(tmp, sizeof tmp, "%s.tmp", (const char *)path.data);
        rc = make_parent(tmp);
    }
    out_t o = {.parquet = parquet, .path = tmp, .fd = -1};
    core_buf_init(&o.buf, CORE_MEM_BATCH, OUT_CAP);
    if (rc == 0)
        rc = write_file(run, &o);
    if (rc == 0 && rename(tmp, (const char *)path.data) != 0)
        rc = core_error(CORE_EIO, "export: rename to %s: %s", (const char *)path.data,
                        strerror(errno));
    if (rc == 0) {
        char dir[PATH_CAP + 8];
        snprintf(dir, sizeof dir, "%s", (const char *)path.data);
        rc = core_fsync_dir(dirname(dir));
    } else {
        unlink(tmp);
    }
    if (rc == 0) {
        run->rows_out = o.rows;
        rc = batch_lineage_output(run, "file", (const char *)path.data, o.rows);
    }
    core_buf_fini(&o.buf);
    core_buf_fini(&path);
    return rc;
}

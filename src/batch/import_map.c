/*
 * import_map.c - one CSV record to one topic record, for the import job
 * kind: the per-file column mapping built from the header, the typed and
 * checked row, the schema's rules, and the JSON value, key and timestamp.
 *
 * Per record (import_map_row):
 *   faulty CSV record, wrong field count       -> reject "invalid_csv" / "too_big"
 *   each field: column text or expression      -> schema_decode_text (type, checks)
 *   required fields, then the schema's rules   -> reject "required" / "rule"
 *   key, timestamp, JSON object                -> valid (or "too_big")
 *
 * Cells that are empty, "nan" or "null" (any case) are null, both for
 * fields and inside expressions, as schema_decode_text treats them.
 *
 * Invariants: the expression scratch and the text buffer are reserved to
 * their caps up front, so strings borrowed by the row (decode_text keeps
 * pointers to its text) never move while a record is converted.
 *
 * Threading: a map belongs to one thread.
 */
#include "batch/import_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "stream/expr_int.h"

#define SCRATCH_MAX (256 * 1024) /* expression results of one record */
#define TEXT_MAX    (64 * 1024)  /* numbers and times rendered as text */
#define KEY_MAX     (64 * 1024 + 64)

typedef struct {
    int col;             /* CSV column index, or -1 */
    stream_expr_t *expr; /* or NULL */
} source_t;

/* A timestamp an expression gave, as import_render_timestamp wrote it for
 * schema_decode_text: the encoder writes the same text again. */
typedef struct {
    const char *p; /* in the map's text buffer; NULL: none this row */
    size_t n;
    bool number;
} rendered_t;

struct import_map {
    const batch_job_def_t *job;
    const schema_t *schema;
    char *path;
    size_t ncolumns;
    size_t nfields;
    source_t *src; /* per schema field */
    schema_t *hdr; /* the CSV columns as strings, or NULL (no expressions) */
    int *hdr_col;  /* hdr field -> CSV column */
    size_t nhdr;   /* fields of hdr */
    schema_value_t *hdr_vals;
    stream_expr_t **rules; /* per schema rule */
    size_t nrules;
    int key_field, time_field; /* schema indices, or -1 */
    schema_row_t row;
    bool row_ready;
    core_buf_t scratch, text, value, key;
    stream_expr_env_t env;
    /* The encoder's fast path (see encode): per field its name written as
     * a JSON key with the comma before it, `,"name":` (no comma for the
     * first), all in `names`; false when a name cannot be written (then
     * every row goes through the writer, which reports it). */
    bool fast_names;
    core_buf_t names;
    size_t *name_end;     /* per field: end of its key text in names */
    rendered_t *rendered; /* per field: the timestamp text of this row */
};

/* ---- Timestamps as text. */

/* |us| / unit with `digits` fraction digits, trailing zeros dropped. */
static size_t render_decimal(int64_t us, uint64_t unit, int digits, char *buf, size_t cap)
{
    uint64_t a = us < 0 ? (uint64_t)0 - (uint64_t)us : (uint64_t)us;
    uint64_t ip = a / unit, fp = a % unit;
    int n = snprintf(buf, cap, "%s%" PRIu64, us < 0 ? "-" : "", ip);
    if (fp != 0 && n > 0 && (size_t)n < cap) {
        while (fp % 10 == 0) {
            fp /= 10;
            digits--;
        }
        n += snprintf(buf + n, cap - (size_t)n, ".%0*" PRIu64, digits, fp);
    }
    return n < 0 ? 0 : CORE_MIN((size_t)n, cap - 1);
}

static size_t render_pattern(const char *pattern, int64_t us, char *buf, size_t cap)
{
    const int64_t day_us = INT64_C(86400000000);
    int64_t days = us / day_us, rem = us % day_us;
    if (rem < 0) {
        rem += day_us;
        days--;
    }
    int year, month, day;
    schema_civil_from_days(days, &year, &month, &day);
    int64_t secs = rem / 1000000;
    size_t n = 0;
    for (const char *p = pattern; *p != '\0' && n + 16 < cap; p++) {
        int w = 0;
        if (*p != '%' || p[1] == '\0') {
            buf[n++] = *p;
            continue;
        }
        switch (*++p) {
        case 'Y':
            w = snprintf(buf + n, cap - n, year >= 0 && year <= 9999 ? "%04d" : "%d", year);
            break;
        case 'y':
            w = snprintf(buf + n, cap - n, "%02d", ((year % 100) + 100) % 100);
            break;
        case 'm':
            w = snprintf(buf + n, cap - n, "%02d", month);
            break;
        case 'd':
            w = snprintf(buf + n, cap - n, "%02d", day);
            break;
        case 'H':
            w = snprintf(buf + n, cap - n, "%02d", (int)(secs / 3600));
            break;
        case 'M':
            w = snprintf(buf + n, cap - n, "%02d", (int)(secs / 60 % 60));
            break;
        case 'S':
            w = snprintf(buf + n, cap - n, "%02d", (int)(secs % 60));
            break;
        case 'f':
            w = snprintf(buf + n, cap - n, "%06d", (int)(rem % 1000000));
            break;
        case 'z':
            w = snprintf(buf + n, cap - n, "Z");
            break;
        default:
            w = snprintf(buf + n, cap - n, "%c", *p);
            break;
        }
        n += w > 0 ? (size_t)w : 0;
    }
    buf[CORE_MIN(n, cap - 1)] = '\0';
    return CORE_MIN(n, cap - 1);
}

size_t import_render_timestamp(const schema_field_t *f, int64_t us, char *buf, size_t cap,
                               bool *number)
{
    *number = true;
    switch (f->ts_format) {
    case SCHEMA_TS_EPOCH_S:
        return render_decimal(us, 1000000, 6, buf, cap);
    case SCHEMA_TS_EPOCH_MS:
        return render_decimal(us, 1000, 3, buf, cap);
    case SCHEMA_TS_EPOCH_US:
        return render_decimal(us, 1, 0, buf, cap);
    case SCHEMA_TS_STRFTIME:
        *number = false;
        return render_pattern(f->ts_pattern != NULL ? f->ts_pattern : "", us, buf, cap);
    default:
        *number = false;
        return schema_format_timestamp(us, buf);
    }
}

/* ---- Building the map from the header. */

static int header_index(const batch_csv_record_t *h, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < h->nfields; i++)
        if (h->fields[i].len == n && memcmp(h->fields[i].p, name, n) == 0)
            return (int)i;
    return -1;
}

static int header_check(const char *path, const batch_csv_record_t *h)
{
    if (h->fault != BATCH_CSV_OK)
        return core_error(CORE_EINVAL, "%s: header row: %s", path, h->error);
    for (size_t i = 1; i < h->nfields; i++) {
        const batch_csv_field_t *a = &h->fields[i];
        for (size_t j = 0; a->len > 0 && j < i; j++)
            if (h->fields[j].len == a->len && memcmp(h->fields[j].p, a->p, a->len) == 0)
                return core_error(CORE_EINVAL,
                                  "%s: header row: columns %zu and %zu are both named \"%.*s\"",
                                  path, j + 1, i + 1, (int)CORE_MIN(a->len, 64), a->p);
    }
    return 0;
}

/* The all-string schema of the header's columns that expressions are
 * compiled against. Empty names, names holding a NUL byte and columns
 * past SCHEMA_MAX_FIELDS cannot be named by an expression. */
static int build_header_schema(import_map_t *m, const batch_csv_record_t *h)
{
    int rc = schema_create("csv", &m->hdr);
    if (rc == 0) {
        m->hdr_col = core_calloc(CORE_MEM_BATCH, h->nfields, sizeof *m->hdr_col);
        m->hdr_vals = core_calloc(CORE_MEM_BATCH, h->nfields, sizeof *m->hdr_vals);
        if (m->hdr_col == NULL || m->hdr_vals == NULL)
            rc = core_error(CORE_ENOMEM, "%s: out of memory", m->path);
    }
    char name[1024];
    for (size_t i = 0; rc == 0 && i < h->nfields && m->nhdr < SCHEMA_MAX_FIELDS; i++) {
        const batch_csv_field_t *f = &h->fields[i];
        if (f->len == 0 || f->len >= sizeof name || memchr(f->p, 0, f->len) != NULL)
            continue;
        memcpy(name, f->p, f->len);
        name[f->len] = '\0';
        schema_field_def_t d = {
            .name = name, .type = SCHEMA_STRING, .min_length = -1, .max_length = -1};
        rc = schema_add_field(m->hdr, &d);
        if (rc == 0)
            m->hdr_col[m->nhdr++] = (int)i;
    }
    if (rc == 0)
        rc = schema_seal(m->hdr);
    if (rc != 0 && rc != CORE_ENOMEM)
        rc = core_error(rc, "%s: header row: %s", m->path, core_error_detail());
    return rc;
}

static const batch_column_t *find_mapping(const batch_job_def_t *job, const char *field)
{
    for (size_t k = 0; k < job->ncolumns; k++)
        if (strcmp(job->columns[k].field, field) == 0)
            return &job->columns[k];
    return NULL;
}

static int check_mappings(const import_map_t *m)
{
    const batch_job_def_t *job = m->job;
    for (size_t k = 0; k < job->ncolumns; k++) {
        const char *f = job->columns[k].field;
        if (f == NULL || schema_field_index(m->schema, f, strlen(f)) < 0)
            return core_error(CORE_EINVAL,
                              "job %s: a column mapping names field \"%s\", which schema %s "
                              "does not have",
                              job->name, f != NULL ? f : "", schema_name(m->schema));
        if (find_mapping(job, f) != &job->columns[k])
            return core_error(CORE_EINVAL, "job %s: field \"%s\" is mapped twice", job->name, f);
    }
    return 0;
}

static int map_field(import_map_t *m, size_t i, const batch_csv_record_t *h)
{
    const schema_field_t *f = schema_field(m->schema, i);
    const batch_column_t *c = find_mapping(m->job, f->name);
    source_t *s = &m->src[i];
    s->col = -1;
    if (c != NULL && c->expr != NULL) {
        int rc = m->hdr == NULL ? build_header_schema(m, h) : 0;
        if (rc == 0 && (rc = stream_expr_compile(c->expr, m->hdr, &s->expr)) != 0 &&
            rc != CORE_ENOMEM)
            rc = core_error(rc, "%s: the expression of field \"%s\": %s", m->path, f->name,
                            core_error_detail());
        return rc;
    }
    const char *col = c != NULL && c->column != NULL ? c->column : f->name;
    s->col = header_index(h, col);
    if (s->col < 0 && c != NULL)
        return core_error(CORE_EINVAL,
                          "%s: the header has no column \"%s\" (mapped to field \"%s\")", m->path,
                          col, f->name);
    if (s->col < 0 && f->required)
        return core_error(CORE_EINVAL,
                          "%s: required field \"%s\" has no source: the header has no column of "
                          "that name and no column mapping names the field",
                          m->path, f->name);
    return 0;
}

static int compile_rules(import_map_t *m)
{
    m->nrules = schema_rule_count(m->schema);
    m->rules = core_calloc(CORE_MEM_BATCH, m->nrules + 1, sizeof *m->rules);
    if (m->rules == NULL)
        return core_error(CORE_ENOMEM, "%s: out of memory", m->path);
    for (size_t i = 0; i < m->nrules; i++) {
        const schema_rule_t *r = schema_rule(m->schema, i);
        int rc = stream_expr_compile_bool(r->expr, m->schema, &m->rules[i]);
        if (rc != 0)
            return rc == CORE_ENOMEM
                       ? rc
                       : core_error(rc, "schema %s: rule %s: %s", schema_name(m->schema), r->name,
                                    core_error_detail());
    }
    return 0;
}

static int field_of(const import_map_t *m, const char *name, const char *what, int *out)
{
    *out = -1;
    if (name == NULL)
        return 0;
    *out = schema_field_index(m->schema, name, strlen(name));
    if (*out < 0)
        return core_error(CORE_EINVAL, "job %s: %s \"%s\" is not a field of schema %s",
                          m->job->name, what, name, schema_name(m->schema));
    return 0;
}

/* The field names as JSON keys for the encoder's fast path, cut from an
 * object the writer writes, {"a":null,"b":null}: `"a":` then `,"b":` and
 * so on. A name the writer refuses turns the fast path off. */
static int build_names(import_map_t *m)
{
    m->name_end = core_calloc(CORE_MEM_BATCH, m->nfields + 1, sizeof *m->name_end);
    m->rendered = core_calloc(CORE_MEM_BATCH, m->nfields + 1, sizeof *m->rendered);
    if (m->name_end == NULL || m->rendered == NULL)
        return core_error(CORE_ENOMEM, "%s: out of memory", m->path);
    core_buf_t obj;
    core_buf_init(&obj, CORE_MEM_BATCH, IMPORT_VALUE_MAX);
    core_json_writer_t w;
    core_json_writer_init(&w, &obj);
    core_json_write_object_begin(&w);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < m->nfields; i++) {
        const schema_field_t *f = schema_field(m->schema, i);
        size_t from = obj.len;
        if ((rc = core_json_write_key(&w, f->name, f->name_len)) == 0)
            rc = core_buf_append(&m->names, obj.data + from, obj.len - from);
        m->name_end[i] = m->names.len;
        core_json_write_null(&w);
    }
    core_json_write_object_end(&w);
    if (rc == 0)
        rc = core_json_writer_finish(&w);
    core_buf_fini(&obj);
    m->fast_names = rc == 0;
    return rc == CORE_ENOMEM ? rc : 0;
}

static int map_setup(import_map_t *m, const batch_csv_record_t *h)
{
    int rc = header_check(m->path, h);
    if (rc == 0)
        rc = check_mappings(m);
    if (rc == 0)
        rc = field_of(m, m->job->key_field, "key_field", &m->key_field);
    if (rc == 0)
        rc = field_of(m, m->job->time_field, "time_field", &m->time_field);
    if (rc == 0 && m->time_field >= 0 &&
        schema_field(m->schema, (size_t)m->time_field)->type != SCHEMA_TIMESTAMP)
        rc = core_error(CORE_EINVAL, "job %s: time_field \"%s\" is not a timestamp field",
                        m->job->name, m->job->time_field);
    for (size_t i = 0; rc == 0 && i < m->nfields; i++)
        rc = map_field(m, i, h);
    if (rc == 0)
        rc = compile_rules(m);
    if (rc == 0 && (rc = schema_row_init(&m->row, m->schema)) == 0)
        m->row_ready = true;
    if (rc == 0)
        rc = core_buf_reserve(&m->scratch, SCRATCH_MAX);
    if (rc == 0)
        rc = core_buf_reserve(&m->text, TEXT_MAX);
    if (rc == 0)
        rc = build_names(m);
    return rc;
}

int import_map_create(const batch_job_def_t *job, const char *path,
                      const batch_csv_record_t *header, import_map_t **out)
{
    *out = NULL;
    import_map_t *m = core_calloc(CORE_MEM_BATCH, 1, sizeof *m);
    if (m == NULL)
        return core_error(CORE_ENOMEM, "%s: out of memory", path);
    m->job = job;
    m->schema = job->schema;
    m->ncolumns = header->nfields;
    m->nfields = schema_field_count(job->schema);
    core_buf_init(&m->scratch, CORE_MEM_BATCH, SCRATCH_MAX);
    core_buf_init(&m->text, CORE_MEM_BATCH, TEXT_MAX);
    core_buf_init(&m->value, CORE_MEM_BATCH, IMPORT_VALUE_MAX);
    core_buf_init(&m->key, CORE_MEM_BATCH, KEY_MAX);
    core_buf_init(&m->names, CORE_MEM_BATCH, IMPORT_VALUE_MAX);
    m->path = core_strdup(CORE_MEM_BATCH, path);
    m->src = core_calloc(CORE_MEM_BATCH, m->nfields + 1, sizeof *m->src);
    int rc = m->path == NULL || m->src == NULL ? core_error(CORE_ENOMEM, "%s: out of memory", path)
                                               : map_setup(m, header);
    if (rc != 0) {
        import_map_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

void import_map_destroy(import_map_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; m->src != NULL && i < m->nfields; i++)
        stream_expr_destroy(m->src[i].expr);
    for (size_t i = 0; m->rules != NULL && i < m->nrules; i++)
        stream_expr_destroy(m->rules[i]);
    if (m->row_ready)
        schema_row_fini(&m->row);
    schema_destroy(m->hdr);
    core_free(m->hdr_col);
    core_free(m->hdr_vals);
    core_free(m->rules);
    core_free(m->src);
    core_free(m->path);
    core_buf_fini(&m->scratch);
    core_buf_fini(&m->text);
    core_buf_fini(&m->value);
    core_buf_fini(&m->key);
    core_buf_fini(&m->names);
    core_free(m->name_end);
    core_free(m->rendered);
    core_free(m);
}

size_t import_map_columns(const import_map_t *m)
{
    return m->ncolumns;
}

/* ---- One record. */

static int reject(const import_map_t *m, import_row_t *row, int64_t line, const char *kind,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int reject(const import_map_t *m, import_row_t *row, int64_t line, const char *kind,
                  const char *fmt, ...)
{
    row->valid = false;
    row->kind = kind;
    int n = snprintf(row->reason, sizeof row->reason, "%s line %lld: ", m->path, (long long)line);
    if (n > 0 && (size_t)n < sizeof row->reason) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(row->reason + n, sizeof row->reason - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static bool null_text(const char *p, size_t n)
{
    return n == 0 || (n == 3 && strncasecmp(p, "nan", 3) == 0) ||
           (n == 4 && strncasecmp(p, "null", 4) == 0);
}

static void set_env(import_map_t *m, const batch_csv_record_t *rec)
{
    for (size_t j = 0; j < m->nhdr; j++) {
        const batch_csv_field_t *f = &rec->fields[m->hdr_col[j]];
        schema_value_t *v = &m->hdr_vals[j];
        v->type = null_text(f->p, f->len) ? SCHEMA_NULL : SCHEMA_STRING;
        v->v.s.p = f->p;
        v->v.s.len = f->len;
    }
    m->env = (stream_expr_env_t){.fields = m->hdr_vals,
                                 .key = {.type = SCHEMA_NULL},
                                 .partition = -1,
                                 .offset = rec->line,
                                 .timestamp_us = core_wall_us()};
}

/* The text of a non-null expression result, for schema_decode_text;
 * *number: it is a timestamp written as an epoch number. */
static int value_text(import_map_t *m, const schema_field_t *f, const schema_value_t *v,
                      const char **p, size_t *n, bool *number)
{
    char tmp[160];
    int w = 0;
    *number = false;
    switch (v->type) {
    case SCHEMA_STRING:
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        *p = v->v.s.p;
        *n = v->v.s.len;
        return 0;
    case SCHEMA_INT:
        w = snprintf(tmp, sizeof tmp, "%" PRId64, v->v.i);
        break;
    case SCHEMA_FLOAT:
        w = snprintf(tmp, sizeof tmp, "%.17g", v->v.f);
        break;
    case SCHEMA_BOOL:
        w = snprintf(tmp, sizeof tmp, "%s", v->v.b ? "true" : "false");
        break;
    case SCHEMA_TIMESTAMP:
        w = f->type == SCHEMA_TIMESTAMP
                ? (int)import_render_timestamp(f, v->v.i, tmp, sizeof tmp, number)
                : (int)schema_format_timestamp(v->v.i, tmp);
        break;
    case SCHEMA_NULL:
        break;
    }
    size_t at = m->text.len;
    int rc = core_buf_append(&m->text, tmp, (size_t)CORE_MAX(w, 0));
    *p = (const char *)m->text.data + at;
    *n = (size_t)CORE_MAX(w, 0);
    return rc;
}

/* Field i from its expression. */
static int expr_field(import_map_t *m, size_t i, const batch_csv_record_t *rec, import_row_t *row,
                      bool *ok)
{
    const schema_field_t *f = schema_field(m->schema, i);
    schema_value_t v;
    *ok = false;
    int rc = stream_expr_eval(m->src[i].expr, &m->env, &m->scratch, &v);
    if (rc == CORE_ETOOBIG)
        return reject(m, row, rec->line, "too_big",
                      "field \"%s\": the expression's result exceeds %d bytes", f->name,
                      SCRATCH_MAX);
    if (rc != 0)
        return rc;
    if (v.type == SCHEMA_NULL || (v.type == SCHEMA_FLOAT && !isfinite(v.v.f))) {
        *ok = true;
        return 0;
    }
    const char *p;
    size_t n;
    bool number;
    if ((rc = value_text(m, f, &v, &p, &n, &number)) != 0)
        return reject(m, row, rec->line, "too_big", "field \"%s\": value too long", f->name);
    schema_error_t err;
    if ((rc = schema_decode_text(m->schema, i, p, n, &m->row, &err)) != 0)
        return err.kind == SCHEMA_ERR_NONE
                   ? rc
                   : reject(m, row, rec->line, schema_err_kind_name(err.kind), "%s", err.reason);
    if (v.type == SCHEMA_TIMESTAMP && f->type == SCHEMA_TIMESTAMP && m->row.values[i].v.i != v.v.i)
        return reject(m, row, rec->line, "type",
                      "field \"%s\": the expression's time cannot be written exactly as \"%.*s\" "
                      "(format %s)",
                      f->name, (int)CORE_MIN(n, 64), p,
                      f->ts_pattern != NULL ? f->ts_pattern : "of the field");
    if (v.type == SCHEMA_TIMESTAMP && f->type == SCHEMA_TIMESTAMP)
        m->rendered[i] = (rendered_t){.p = p, .n = n, .number = number};
    *ok = true;
    return 0;
}

/* Fills m->row from the record; *ok false when it was rejected. */
static int fill_row(import_map_t *m, const batch_csv_record_t *rec, import_row_t *row, bool *ok)
{
    *ok = false;
    schema_row_clear(&m->row);
    core_buf_reset(&m->scratch);
    core_buf_reset(&m->text);
    memset(m->rendered, 0, m->nfields * sizeof *m->rendered);
    if (m->hdr != NULL)
        set_env(m, rec);
    for (size_t i = 0; i < m->nfields; i++) {
        const source_t *s = &m->src[i];
        if (s->expr != NULL) {
            int rc = expr_field(m, i, rec, row, ok);
            if (rc != 0 || !*ok)
                return rc;
            continue;
        }
        if (s->col < 0)
            continue;
        const batch_csv_field_t *c = &rec->fields[s->col];
        schema_error_t err;
        int rc = schema_decode_text(m->schema, i, c->p, c->len, &m->row, &err);
        if (rc != 0) {
            if (err.kind == SCHEMA_ERR_NONE)
                return rc;
            *ok = false;
            return reject(m, row, rec->line, schema_err_kind_name(err.kind), "%s", err.reason);
        }
    }
    schema_error_t err;
    if (schema_row_check_required(m->schema, &m->row, &err) != 0) {
        bool by_expr = err.field >= 0 && m->src[err.field].expr != NULL;
        *ok = false;
        return reject(m, row, rec->line, schema_err_kind_name(err.kind), "%s%s", err.reason,
                      by_expr ? " (its expression gave null)" : "");
    }
    *ok = true;
    return 0;
}

/* The key's bytes in m->key; *has false for a null key. */
static int key_bytes(import_map_t *m, bool *has)
{
    core_buf_reset(&m->key);
    *has = false;
    if (m->key_field < 0)
        return 0;
    const schema_value_t *v = &m->row.values[m->key_field];
    char tmp[64];
    int n = 0;
    switch (v->type) {
    case SCHEMA_NULL:
        return 0;
    case SCHEMA_STRING:
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        *has = true;
        return core_buf_append(&m->key, v->v.s.p, v->v.s.len);
    case SCHEMA_INT:
        n = snprintf(tmp, sizeof tmp, "%" PRId64, v->v.i);
        break;
    case SCHEMA_FLOAT:
        n = snprintf(tmp, sizeof tmp, "%.17g", v->v.f);
        break;
    case SCHEMA_BOOL:
        n = snprintf(tmp, sizeof tmp, "%s", v->v.b ? "true" : "false");
        break;
    case SCHEMA_TIMESTAMP:
        n = (int)schema_format_timestamp(v->v.i, tmp);
        break;
    }
    *has = true;
    return core_buf_append(&m->key, tmp, (size_t)CORE_MAX(n, 0));
}

static int check_rules(import_map_t *m, const batch_csv_record_t *rec, import_row_t *row, bool *ok)
{
    *ok = true;
    m->env.fields = m->row.values;
    m->env.key.type = row->has_key ? SCHEMA_STRING : SCHEMA_NULL;
    m->env.key.v.s.p = (const char *)m->key.data;
    m->env.key.v.s.len = m->key.len;
    m->env.partition = -1;
    m->env.offset = rec->line;
    m->env.timestamp_us = row->timestamp_ms >= 0 ? row->timestamp_ms * 1000 : core_wall_us();
    for (size_t i = 0; i < m->nrules; i++) {
        bool pass = false;
        core_buf_reset(&m->scratch);
        int rc = stream_expr_test(m->rules[i], &m->env, &m->scratch, &pass);
        if (rc == 0 && pass)
            continue;
        const schema_rule_t *r = schema_rule(m->schema, i);
        *ok = false;
        return reject(m, row, rec->line, schema_err_kind_name(SCHEMA_ERR_RULE),
                      "rule %s failed: %s", r->name, r->message != NULL ? r->message : r->expr);
    }
    return 0;
}

static int write_value(core_json_writer_t *w, const schema_field_t *f, const schema_value_t *v)
{
    char tmp[160];
    bool number;
    size_t n;
    switch (v->type) {
    case SCHEMA_BOOL:
        return core_json_write_bool(w, v->v.b);
    case SCHEMA_INT:
        return core_json_write_i64(w, v->v.i);
    case SCHEMA_FLOAT:
        return core_json_write_double(w, v->v.f);
    case SCHEMA_STRING:
        return core_json_write_string(w, v->v.s.p, v->v.s.len);
    case SCHEMA_TIMESTAMP:
        n = import_render_timestamp(f, v->v.i, tmp, sizeof tmp, &number);
        return number ? core_json_write_raw(w, tmp, n) : core_json_write_string(w, tmp, n);
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        return core_json_write_raw(w, v->v.s.p, v->v.s.len);
    case SCHEMA_NULL:
        break;
    }
    return core_json_write_null(w);
}

/* The row as a JSON object in m->value, fields in schema order, through
 * the writer. */
static int encode_writer(import_map_t *m)
{
    core_buf_reset(&m->value);
    core_json_writer_t w;
    core_json_writer_init(&w, &m->value);
    core_json_write_object_begin(&w);
    for (size_t i = 0; i < m->nfields; i++) {
        const schema_field_t *f = schema_field(m->schema, i);
        core_json_write_key(&w, f->name, f->name_len);
        write_value(&w, f, &m->row.values[i]);
    }
    core_json_write_object_end(&w);
    return core_json_writer_finish(&w);
}

/* ---- The encoder's fast path: the same bytes as encode_writer.
 *
 * The object is put together from the field names written once per map
 * (by the writer) and values appended directly when their text is certain:
 *   - strings of printable ASCII other than '"' and '\\': quoted as they
 *     are (nothing to escape, valid UTF-8);
 *   - floats read from a CSV cell of the plain shape that float_text
 *     accepts: the cell's text in the writer's form, without formatting
 *     the double;
 *   - timestamps from an expression: the text already rendered for the
 *     field's check.
 * Every other value goes through a writer of its own, appending to the
 * same buffer, so its bytes and errors are the writer's. */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* What core_json_write_double writes for the double that decimal cell
 * p[0..n) reads as, made from the text; 0 when the cell is not of the
 * shape where that is certain. The shape: an optional '-', an integer
 * part without leading zeros (or "0"), an optional fraction, at most 15
 * significant digits, and a value of 0 or at least 0.0001 in magnitude.
 * Why it is the writer's text: a decimal of at most 15 significant digits
 * (DBL_DIG) comes back unchanged from its nearest double at 15 digits, so
 * the writer's first try, "%.15g", gives that decimal back and reads back
 * as the same double. "%g" writes it in positional form (its exponent is
 * between -4 and 14), drops leading zeros and the fraction's trailing
 * zeros; the writer then adds ".0" when no point is left. */
static size_t float_text(const char *p, size_t n, char out[48])
{
    size_t i = n > 0 && p[0] == '-', o = i;
    if (i == 1)
        out[0] = '-';
    size_t ib = i;
    while (i < n && is_digit(p[i]))
        i++;
    size_t ilen = i - ib, fb = i, fe = i;
    if (ilen == 0 || ilen > 15 || (ilen > 1 && p[ib] == '0'))
        return 0;
    if (i < n && p[i] == '.')
        for (fb = fe = ++i; i < n && is_digit(p[i]); fe = ++i)
            ;
    if (i != n)
        return 0;
    while (fe > fb && p[fe - 1] == '0')
        fe--;
    size_t sig = ilen + (fe - fb);
    if (p[ib] == '0') {
        size_t lead = 0;
        while (fb + lead < fe && p[fb + lead] == '0')
            lead++;
        sig = fe - fb - lead;
        if (sig > 0 && lead > 3)
            return 0; /* below 0.0001: the writer uses an exponent */
    }
    if (sig > 15)
        return 0;
    memcpy(out + o, p + ib, ilen);
    o += ilen;
    out[o++] = '.';
    if (fe == fb)
        out[o++] = '0';
    memcpy(out + o, p + fb, fe - fb);
    return o + (fe - fb);
}

/* True when s[0..n) is printable ASCII without '"' and '\\' (eight bytes
 * at a time: a byte below 0x20 or equal to '"' or '\\' makes a zero-byte
 * test fire; a byte of 0x80 or more sets its own high bit). */
static bool plain_text(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t w, q, b;
        memcpy(&w, s + i, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & highs)
            return false;
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

static int put_string(core_buf_t *o, const char *s, size_t n)
{
    if (!plain_text(s, n)) {
        core_json_writer_t w;
        core_json_writer_init(&w, o);
        core_json_write_string(&w, s, n);
        return core_json_writer_finish(&w);
    }
    int rc = core_buf_reserve(o, o->len + n + 2);
    if (rc == 0) {
        o->data[o->len] = '"';
        memcpy(o->data + o->len + 1, s, n);
        o->data[o->len + 1 + n] = '"';
        o->len += n + 2;
    }
    return rc;
}

static int put_value(const import_map_t *m, size_t i, const batch_csv_record_t *rec, core_buf_t *o)
{
    const schema_value_t *v = &m->row.values[i];
    const rendered_t *r = &m->rendered[i];
    char tmp[48];
    size_t n;
    if (v->type == SCHEMA_STRING)
        return put_string(o, v->v.s.p, v->v.s.len);
    if (v->type == SCHEMA_NULL)
        return core_buf_append(o, "null", 4);
    if (v->type == SCHEMA_FLOAT && m->src[i].col >= 0 &&
        (n = float_text(rec->fields[m->src[i].col].p, rec->fields[m->src[i].col].len, tmp)) > 0)
        return core_buf_append(o, tmp, n);
    if (v->type == SCHEMA_TIMESTAMP && r->p != NULL)
        return r->number ? core_buf_append(o, r->p, r->n) : put_string(o, r->p, r->n);
    core_json_writer_t w;
    core_json_writer_init(&w, o);
    write_value(&w, schema_field(m->schema, i), v);
    return core_json_writer_finish(&w);
}

/* The row as a JSON object appended to O, through the fast path (which
 * needs fast_names). */
static int encode_fast(const import_map_t *m, const batch_csv_record_t *rec, core_buf_t *o)
{
    int rc = core_buf_append_u8(o, '{');
    size_t from = 0;
    for (size_t i = 0; rc == 0 && i < m->nfields; i++) {
        rc = core_buf_append(o, m->names.data + from, m->name_end[i] - from);
        from = m->name_end[i];
        if (rc == 0)
            rc = put_value(m, i, rec, o);
    }
    return rc == 0 ? core_buf_append_u8(o, '}') : rc;
}

/* The row as a JSON object in m->value (capped at IMPORT_VALUE_MAX). */
static int encode(import_map_t *m, const batch_csv_record_t *rec)
{
    if (!m->fast_names)
        return encode_writer(m);
    core_buf_reset(&m->value);
    return encode_fast(m, rec, &m->value);
}

/* Appends [key][value] to OUT directly, the common case: true when done;
 * false with OUT as it was when the value fails, is over IMPORT_VALUE_MAX
 * or OUT is full (finish_row then takes the general path, which gives the
 * same bytes or reports what went wrong). */
static bool append_direct(const import_map_t *m, const batch_csv_record_t *rec, core_buf_t *out,
                          import_row_t *row)
{
    size_t mark = out->len;
    if (!m->fast_names || (row->has_key && core_buf_append(out, m->key.data, m->key.len) != 0))
        return false;
    size_t at = out->len;
    if (encode_fast(m, rec, out) != 0 || out->len - at > IMPORT_VALUE_MAX) {
        out->len = mark;
        return false;
    }
    row->key_len = row->has_key ? m->key.len : 0;
    row->value_len = out->len - at;
    row->valid = true;
    return true;
}

static int finish_row(import_map_t *m, const batch_csv_record_t *rec, core_buf_t *out,
                      import_row_t *row)
{
    bool ok;
    int rc = key_bytes(m, &row->has_key);
    if (rc != 0)
        return reject(m, row, rec->line, "too_big", "the key is longer than %d bytes", KEY_MAX);
    if (m->time_field >= 0 && m->row.values[m->time_field].type == SCHEMA_TIMESTAMP) {
        int64_t us = m->row.values[m->time_field].v.i;
        row->event_us = us;
        row->timestamp_ms = us >= 0 ? us / 1000 : -1;
    }
    if ((rc = check_rules(m, rec, row, &ok)) != 0 || !ok)
        return rc;
    if (append_direct(m, rec, out, row))
        return 0;
    rc = encode(m, rec);
    if (rc == CORE_ETOOBIG)
        return reject(m, row, rec->line, "too_big", "the row is longer than %d bytes as JSON",
                      IMPORT_VALUE_MAX);
    if (rc != 0)
        return reject(m, row, rec->line, "type", "the row cannot be written as JSON: %s",
                      core_error_detail());
    row->key_len = row->has_key ? m->key.len : 0;
    row->value_len = m->value.len;
    if (row->has_key && (rc = core_buf_append(out, m->key.data, m->key.len)) != 0)
        return rc;
    if ((rc = core_buf_append(out, m->value.data, m->value.len)) != 0)
        return rc;
    row->valid = true;
    return 0;
}

int import_map_row(import_map_t *m, const batch_csv_record_t *rec, core_buf_t *out,
                   import_row_t *row)
{
    *row = (import_row_t){.timestamp_ms = -1, .event_us = INT64_MIN};
    if (rec->fault != BATCH_CSV_OK) {
        /* The reader's message starts "line N: "; reject() says where. */
        const char *what = strstr(rec->error, ": ");
        return reject(m, row, rec->line,
                      rec->fault == BATCH_CSV_TOO_LONG ? "too_big" : "invalid_csv", "%s",
                      what != NULL ? what + 2 : rec->error);
    }
    if (rec->nfields != m->ncolumns)
        return reject(m, row, rec->line, "invalid_csv", "%zu fields, but the header has %zu",
                      rec->nfields, m->ncolumns);
    bool ok;
    int rc = fill_row(m, rec, row, &ok);
    if (rc != 0 || !ok)
        return rc;
    return finish_row(m, rec, out, row);
}

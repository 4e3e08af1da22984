/*
 * Compiling a pipeline definition: expressions, the schema's rules,
 * aggregates, detectors, and the layout of the output table.
 *
 * Every problem is reported through the caller's error callback with the
 * config line it belongs to, so `strata check` can list them all; compile
 * fails if there was any.
 *
 * View tables (aggregate) have the columns
 *   key, window_start, layer, partition | window_end, final, updated_at,
 *   then each aggregate's partial-state columns (window_int.h),
 * with the first four as the primary key. Tables (table, cdc) have the
 * primary-key fields first, then the other columns, then _partition and
 * _offset (the record's coordinates; the key when none is configured).
 *
 * The result is immutable and owned by one runtime thread once started.
 */
#include "stream/stream_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define VIEW_FIXED_COLS 7
#define VIEW_PK_COLS    4

typedef struct {
    stream_error_fn fn;
    void *arg;
    int count;
} errs_t;

static void report(errs_t *e, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(errs_t *e, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->count++;
    if (e->fn != NULL)
        e->fn(e->arg, line, msg);
}

/* Compiles text, reporting a failure as "<what>: <detail>". */
static stream_expr_t *compile(errs_t *e, const schema_t *s, const char *text, bool boolean,
                              int line, const char *what)
{
    stream_expr_t *x = NULL;
    core_error_clear();
    int rc = boolean ? stream_expr_compile_bool(text, s, &x) : stream_expr_compile(text, s, &x);
    if (rc != 0) {
        report(e, line, "%s '%s': %s", what, text, core_error_detail());
        return NULL;
    }
    return x;
}

static bool numeric(schema_type_t t)
{
    return t == SCHEMA_INT || t == SCHEMA_FLOAT || t == SCHEMA_TIMESTAMP || t == SCHEMA_NULL ||
           t == SCHEMA_BOOL;
}

static int add_col(stream_pipeline_t *p, const char *name, schema_type_t type, int field)
{
    size_t i = p->out_def.ncolumns;
    copy_name(p->out_col_names[i], name);
    p->out_cols[i].name = p->out_col_names[i];
    p->out_cols[i].type = type;
    if (p->col_field != NULL)
        p->col_field[i] = field;
    p->out_def.ncolumns++;
    return 0;
}

static int alloc_cols(stream_pipeline_t *p, size_t n, bool fields)
{
    p->out_cols = core_calloc(CORE_MEM_STREAM, n, sizeof *p->out_cols);
    p->out_col_names = core_calloc(CORE_MEM_STREAM, n, sizeof *p->out_col_names);
    if (fields)
        p->col_field = core_calloc(CORE_MEM_STREAM, n, sizeof *p->col_field);
    if (p->out_cols == NULL || p->out_col_names == NULL || (fields && p->col_field == NULL))
        return core_error(CORE_ENOMEM, "stream: out of memory");
    p->out_def.columns = p->out_cols;
    return 0;
}

static int compile_view(stream_pipeline_t *p, const stream_pipeline_def_t *d, errs_t *e)
{
    size_t n = d->naggs;
    p->agg_kinds = core_calloc(CORE_MEM_STREAM, n + 1, sizeof *p->agg_kinds);
    p->agg_args = core_calloc(CORE_MEM_STREAM, n + 1, sizeof *p->agg_args);
    p->agg_names = core_calloc(CORE_MEM_STREAM, n + 1, sizeof *p->agg_names);
    if (p->agg_kinds == NULL || p->agg_args == NULL || p->agg_names == NULL ||
        alloc_cols(p, VIEW_FIXED_COLS + n * STREAM_AGG_MAX_COLS, false) != 0)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    p->wcfg.naggs = n; /* also what destroy walks */
    if (n == 0)
        report(e, d->line, "pipeline %s: an aggregate needs at least one aggregate", d->name);
    add_col(p, "key", SCHEMA_STRING, -1);
    add_col(p, "window_start", SCHEMA_TIMESTAMP, -1);
    add_col(p, "layer", SCHEMA_STRING, -1);
    add_col(p, "partition", SCHEMA_INT, -1);
    add_col(p, "window_end", SCHEMA_TIMESTAMP, -1);
    add_col(p, "final", SCHEMA_BOOL, -1);
    add_col(p, "updated_at", SCHEMA_TIMESTAMP, -1);
    p->out_def.npk = VIEW_PK_COLS;
    for (size_t i = 0; i < n; i++) {
        const stream_agg_def_t *a = &d->aggs[i];
        p->agg_names[i] = core_strdup(CORE_MEM_STREAM, a->name);
        if (p->agg_names[i] == NULL)
            return core_error(CORE_ENOMEM, "stream: out of memory");
        if (stream_agg_parse(a->fn, strlen(a->fn), &p->agg_kinds[i]) != 0) {
            report(e, a->line, "aggregate %s: unknown function '%s'", a->name, a->fn);
            continue;
        }
        bool empty = a->arg == NULL || a->arg[0] == '\0';
        if (empty && p->agg_kinds[i] != STREAM_AGG_COUNT)
            report(e, a->line, "aggregate %s: %s() needs an argument", a->name, a->fn);
        if (!empty) {
            p->agg_args[i] = compile(e, p->schema, a->arg, false, a->line, "aggregate argument");
            if (p->agg_args[i] != NULL && !numeric(stream_expr_type(p->agg_args[i])))
                report(e, a->line, "aggregate %s: %s() needs a number, '%s' is a %s", a->name,
                       a->fn, a->arg, schema_type_name(stream_expr_type(p->agg_args[i])));
        }
        store_column_t cols[STREAM_AGG_MAX_COLS];
        char names[STREAM_AGG_MAX_COLS][STREAM_AGG_COL_NAME];
        size_t nc = stream_agg_columns(p->agg_kinds[i], a->name, cols, names);
        for (size_t c = 0; c < nc; c++)
            add_col(p, names[c], cols[c].type, -1);
    }
    return 0;
}

static int compile_window(stream_pipeline_t *p, const stream_pipeline_def_t *d, errs_t *e)
{
    p->window = d->window;
    p->size_us = d->size_ms * 1000;
    p->slide_us = d->slide_ms * 1000;
    p->gap_us = d->gap_ms * 1000;
    p->ooo_us = d->max_ooo_ms * 1000;
    p->idle_us = d->idle_timeout_ms * 1000;
    p->emit = d->emit;
    stream_winop_config_t *w = &p->wcfg;
    w->kind = d->window == STREAM_WINDOW_TUMBLING  ? STREAM_WIN_TUMBLING
              : d->window == STREAM_WINDOW_HOPPING ? STREAM_WIN_HOPPING
                                                   : STREAM_WIN_SESSION;
    w->size_us = p->size_us;
    w->slide_us = d->window == STREAM_WINDOW_HOPPING ? p->slide_us : p->size_us;
    w->gap_us = p->gap_us;
    w->allowed_lateness_us = d->allowed_lateness_ms * 1000;
    w->aggs = p->agg_kinds;
    w->naggs = d->naggs;
    if (d->window == STREAM_WINDOW_SESSION ? p->gap_us <= 0 : p->size_us <= 0)
        report(e, d->line, "pipeline %s: window size (or session gap) must be positive", d->name);
    if (d->window == STREAM_WINDOW_HOPPING &&
        (p->slide_us <= 0 || p->size_us % CORE_MAX(p->slide_us, 1) != 0))
        report(e, d->line, "pipeline %s: hopping size must be a positive multiple of slide",
               d->name);
    return 0;
}

/* Adds field columns for table/cdc; *pk_count receives the PK width. */
static int table_field(stream_pipeline_t *p, const char *name, int line, errs_t *e)
{
    int f = schema_field_index(p->schema, name, strlen(name));
    if (f < 0) {
        report(e, line, "pipeline %s: no field '%s' in schema %s", p->name, name,
               schema_name(p->schema));
        return -1;
    }
    for (size_t i = 0; i < p->out_def.ncolumns; i++)
        if (p->col_field[i] == f)
            return 0;
    return add_col(p, name, schema_field(p->schema, (size_t)f)->type, f);
}

static int compile_table(stream_pipeline_t *p, const stream_pipeline_def_t *d, errs_t *e)
{
    size_t nf = schema_field_count(p->schema);
    if (alloc_cols(p, nf + 2, true) != 0)
        return CORE_ENOMEM;
    if (d->kind == STREAM_KIND_CDC && d->npk == 0)
        report(e, d->line, "pipeline %s: cdc needs a primary_key", d->name);
    if (d->npk == 0) {
        add_col(p, "_partition", SCHEMA_INT, -1);
        add_col(p, "_offset", SCHEMA_INT, -2);
    }
    for (size_t i = 0; i < d->npk; i++)
        table_field(p, d->primary_key[i], d->line, e);
    p->out_def.npk = d->npk == 0 ? 2 : p->out_def.ncolumns;
    if (p->out_def.npk == 0)
        p->out_def.npk = 1; /* reported above; keep the def well formed */
    if (d->columns != NULL) {
        for (size_t i = 0; i < d->ncolumns; i++)
            table_field(p, d->columns[i], d->line, e);
    } else {
        for (size_t i = 0; i < nf; i++)
            table_field(p, schema_field(p->schema, i)->name, d->line, e);
    }
    if (d->npk != 0) {
        add_col(p, "_partition", SCHEMA_INT, -1);
        add_col(p, "_offset", SCHEMA_INT, -2);
    }
    return 0;
}

static int compile_detectors(stream_pipeline_t *p, const stream_pipeline_def_t *d, errs_t *e)
{
    p->detectors = core_calloc(CORE_MEM_STREAM, d->nrules + 1, sizeof *p->detectors);
    if (p->detectors == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    if (d->nrules == 0)
        report(e, d->line, "pipeline %s: detect needs at least one rule", d->name);
    for (size_t i = 0; i < d->nrules; i++) {
        const stream_rule_def_t *r = &d->rules[i];
        stream_detector_t *x = &p->detectors[p->ndetectors++];
        x->kind = r->kind;
        x->threshold = r->threshold;
        x->min_history = r->min_history;
        x->window_us = r->window_ms * 1000;
        x->limit = r->limit;
        if ((x->name = core_strdup(CORE_MEM_STREAM, r->name)) == NULL)
            return core_error(CORE_ENOMEM, "stream: out of memory");
        if (r->kind == STREAM_RULE_THRESHOLD) {
            if (r->when == NULL)
                report(e, r->line, "rule %s: a threshold rule needs 'when'", r->name);
            else
                x->when = compile(e, p->schema, r->when, true, r->line, "rule condition");
            if (r->value != NULL)
                x->value = compile(e, p->schema, r->value, false, r->line, "rule value");
        } else if (r->kind == STREAM_RULE_ZSCORE) {
            if (r->field == NULL)
                report(e, r->line, "rule %s: a zscore rule needs 'field'", r->name);
            else
                x->value = compile(e, p->schema, r->field, false, r->line, "rule field");
            if (!(r->threshold > 0))
                report(e, r->line, "rule %s: threshold must be positive", r->name);
        } else if (r->window_ms <= 0 || r->limit < 0) {
            report(e, r->line, "rule %s: velocity needs a positive window and a limit >= 0",
                   r->name);
        }
    }
    return 0;
}

static int compile_rules(stream_pipeline_t *p, errs_t *e, int line)
{
    size_t n = schema_rule_count(p->schema);
    p->rules = core_calloc(CORE_MEM_STREAM, n + 1, sizeof *p->rules);
    if (p->rules == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    for (size_t i = 0; i < n; i++) {
        const schema_rule_t *r = schema_rule(p->schema, i);
        stream_rule_t *x = &p->rules[p->nrules++];
        x->name = core_strdup(CORE_MEM_STREAM, r->name);
        x->message = r->message != NULL ? core_strdup(CORE_MEM_STREAM, r->message) : NULL;
        if (x->name == NULL || (r->message != NULL && x->message == NULL))
            return core_error(CORE_ENOMEM, "stream: out of memory");
        x->check = compile(e, p->schema, r->expr, true, line, "schema rule");
    }
    return 0;
}

/* A sink's watermark serves the sink (the lake's hour markers); the sink
 * itself was taken by stream_pipeline_compile. */
static int compile_sink(stream_pipeline_t *p, const stream_pipeline_def_t *d, errs_t *e)
{
    p->ooo_us = d->max_ooo_ms * 1000;
    p->idle_us = d->idle_timeout_ms * 1000;
    if (p->sink_ops == NULL || p->sink == NULL)
        report(e, d->line, "pipeline %s: a sink pipeline needs a sink", d->name);
    return 0;
}

static const stream_kind_ops_t *kind_ops(stream_kind_t k)
{
    switch (k) {
    case STREAM_KIND_TABLE:
        return &stream_kind_table_ops;
    case STREAM_KIND_AGGREGATE:
        return &stream_kind_aggregate_ops;
    case STREAM_KIND_DETECT:
        return &stream_kind_detect_ops;
    case STREAM_KIND_CDC:
        return &stream_kind_cdc_ops;
    case STREAM_KIND_SINK:
        return &stream_kind_sink_ops;
    }
    return NULL;
}

static int compile_common(stream_pipeline_t *p, const stream_pipeline_def_t *d, errs_t *e)
{
    p->commit_interval_ms = d->commit_interval_ms > 0 ? d->commit_interval_ms : 100;
    p->commit_records = d->commit_records > 0 ? d->commit_records : 10000;
    p->event_time_field = -1;
    if (d->event_time != NULL) {
        p->event_time_field = schema_field_index(p->schema, d->event_time, strlen(d->event_time));
        if (p->event_time_field < 0)
            report(e, d->line, "pipeline %s: event_time '%s' is not a field of schema %s", d->name,
                   d->event_time, schema_name(p->schema));
        else if (schema_field(p->schema, (size_t)p->event_time_field)->type != SCHEMA_TIMESTAMP)
            report(e, d->line, "pipeline %s: event_time '%s' is not a timestamp field", d->name,
                   d->event_time);
    }
    if (d->filter != NULL && d->kind == STREAM_KIND_CDC)
        report(e, d->filter_line, "pipeline %s: cdc pipelines take no filter", d->name);
    else if (d->filter != NULL)
        p->filter = compile(e, p->schema, d->filter, true, d->filter_line, "filter");
    if (d->key != NULL)
        p->key = compile(e, p->schema, d->key, false, d->key_line, "key");
    return compile_rules(p, e, d->line);
}

static int compile_kind(stream_pipeline_t *p, const stream_pipeline_def_t *d, errs_t *e)
{
    const char *out = d->kind == STREAM_KIND_AGGREGATE ? d->view : d->table;
    p->out_name = core_strdup(CORE_MEM_STREAM, out != NULL ? out : d->name);
    if (p->out_name == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    p->out_def.name = p->out_name;
    switch (d->kind) {
    case STREAM_KIND_AGGREGATE: {
        int rc = compile_view(p, d, e);
        return rc != 0 ? rc : compile_window(p, d, e);
    }
    case STREAM_KIND_TABLE:
    case STREAM_KIND_CDC:
        return compile_table(p, d, e);
    case STREAM_KIND_DETECT:
        return compile_detectors(p, d, e);
    case STREAM_KIND_SINK:
        return compile_sink(p, d, e);
    }
    return 0;
}

int stream_pipeline_compile(const stream_pipeline_def_t *def, stream_error_fn err, void *arg,
                            stream_pipeline_t **out)
{
    errs_t e = {err, arg, 0};
    *out = NULL;
    bool sink = def->kind == STREAM_KIND_SINK && def->sink_ops != NULL;
    stream_pipeline_t *p = NULL;
    if (def->schema == NULL)
        report(&e, def->line, "pipeline %s: no schema", def->name);
    else
        p = core_calloc(CORE_MEM_STREAM, 1, sizeof *p);
    if (p == NULL) { /* the sink is taken in every case */
        if (sink && def->sink_ops->destroy != NULL)
            def->sink_ops->destroy(def->sink);
        return def->schema == NULL ? CORE_EINVAL : core_error(CORE_ENOMEM, "stream: out of memory");
    }
    p->kind = def->kind;
    p->ops = kind_ops(def->kind);
    if (def->kind == STREAM_KIND_SINK) {
        p->sink_ops = def->sink_ops;
        p->sink = def->sink;
    }
    p->schema = def->schema;
    p->name = core_strdup(CORE_MEM_STREAM, def->name);
    p->topic = core_strdup(CORE_MEM_STREAM, def->topic);
    int rc = (p->name == NULL || p->topic == NULL || p->ops == NULL)
                 ? core_error(CORE_ENOMEM, "stream: out of memory")
                 : 0;
    if (rc == 0)
        rc = compile_common(p, def, &e);
    if (rc == 0)
        rc = compile_kind(p, def, &e);
    if (rc == 0 && e.count == 0)
        rc = stream_pipeline_definition(p, def);
    if (rc == 0 && e.count > 0)
        rc = CORE_EINVAL;
    if (rc != 0) {
        stream_pipeline_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

const char *stream_pipeline_name(const stream_pipeline_t *p)
{
    return p->name;
}

stream_kind_t stream_pipeline_kind(const stream_pipeline_t *p)
{
    return p->kind;
}

const char *stream_pipeline_topic(const stream_pipeline_t *p)
{
    return p->topic;
}

void stream_pipeline_info(const stream_pipeline_t *p, stream_pipeline_info_t *out)
{
    out->schema = p->schema;
    out->filtered = p->filter != NULL;
    out->sink_ops = p->kind == STREAM_KIND_SINK ? p->sink_ops : NULL;
    out->sink = p->kind == STREAM_KIND_SINK ? p->sink : NULL;
}

const char *stream_pipeline_output(const stream_pipeline_t *p)
{
    return p->kind == STREAM_KIND_DETECT || p->kind == STREAM_KIND_SINK ? NULL : p->out_name;
}

int64_t stream_pipeline_lookback_ms(const stream_pipeline_t *p)
{
    if (p->kind != STREAM_KIND_AGGREGATE)
        return 0;
    int64_t span = p->window == STREAM_WINDOW_SESSION ? p->gap_us : p->size_us;
    if (span > INT64_MAX - p->ooo_us)
        return INT64_MAX / 1000;
    return (span + p->ooo_us) / 1000;
}

void stream_pipeline_destroy(stream_pipeline_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->nrules; i++) {
        core_free(p->rules[i].name);
        core_free(p->rules[i].message);
        stream_expr_destroy(p->rules[i].check);
    }
    core_free(p->rules);
    for (size_t i = 0; p->agg_names != NULL && i < p->wcfg.naggs; i++) {
        core_free(p->agg_names[i]);
        stream_expr_destroy(p->agg_args[i]);
    }
    core_free(p->agg_names);
    core_free(p->agg_args);
    core_free(p->agg_kinds);
    for (size_t i = 0; i < p->ndetectors; i++) {
        core_free(p->detectors[i].name);
        stream_expr_destroy(p->detectors[i].when);
        stream_expr_destroy(p->detectors[i].value);
    }
    core_free(p->detectors);
    stream_expr_destroy(p->filter);
    stream_expr_destroy(p->key);
    core_free(p->out_cols);
    core_free(p->out_col_names);
    core_free(p->col_field);
    core_free(p->out_name);
    core_free(p->definition);
    if (p->sink_ops != NULL && p->sink_ops->destroy != NULL)
        p->sink_ops->destroy(p->sink);
    core_free(p->name);
    core_free(p->topic);
    core_free(p);
}

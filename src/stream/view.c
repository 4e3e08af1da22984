/*
 * Views: the registry of aggregate views in the store (strata_views), and
 * queries that merge their partial states.
 *
 * A view's rows are keyed (key, window_start, layer, partition). Rows of
 * one (key, window) sort together, batch before speed. The query merges the
 * group's batch rows if there are any (the batch layer recomputed that
 * window from the whole log, late events included; it writes one complete
 * row per window, partition -1), else its speed rows, one per partition
 * that saw the key. The merged row is final when it comes from the batch
 * layer or when every speed partial is final.
 *
 * Sessions differ by layer: a late event can join two speed sessions into
 * one batch session with another start. A batch session contains every
 * speed session whose events it recomputed and starts no later, so a speed
 * session of the same key that starts before the end of an earlier batch
 * session is covered by it and skipped. With a lower bound on the start,
 * session queries also read the sessions still open at it (window_end >
 * from) to see such batch sessions, and drop them from the output.
 *
 * The definition stored in the registry holds what a query needs to read
 * the columns back: the aggregates' names and functions, and the emit mode.
 * The registry's version counts the view's versions: 1 when registered,
 * raised by each replay (replay.c), whose switch renames the new version's
 * table to the view's name, so queries always read the table by that name.
 * Registering again (every start) keeps the version.
 */
#include "stream/stream_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_AGGS        64
#define VIEW_FIXED_COLS 7

static const char *window_name(stream_window_t w)
{
    return w == STREAM_WINDOW_TUMBLING  ? "tumbling"
           : w == STREAM_WINDOW_HOPPING ? "hopping"
                                        : "session";
}

static const char *kind_name(stream_kind_t k)
{
    switch (k) {
    case STREAM_KIND_TABLE:
        return "table";
    case STREAM_KIND_AGGREGATE:
        return "aggregate";
    case STREAM_KIND_DETECT:
        return "detect";
    case STREAM_KIND_CDC:
        return "cdc";
    case STREAM_KIND_SINK:
        return "sink";
    }
    return "?";
}

static int write_def(core_json_writer_t *w, const stream_pipeline_t *p,
                     const stream_pipeline_def_t *d)
{
    core_json_write_object_begin(w);
    core_json_write_key(w, "pipeline", 8);
    core_json_write_string(w, p->name, strlen(p->name));
    core_json_write_key(w, "kind", 4);
    core_json_write_string(w, kind_name(p->kind), strlen(kind_name(p->kind)));
    core_json_write_key(w, "topic", 5);
    core_json_write_string(w, p->topic, strlen(p->topic));
    if (p->kind == STREAM_KIND_AGGREGATE) {
        core_json_write_key(w, "window", 6);
        core_json_write_string(w, window_name(d->window), strlen(window_name(d->window)));
        core_json_write_key(w, "size_ms", 7);
        core_json_write_i64(w, d->size_ms);
        core_json_write_key(w, "slide_ms", 8);
        core_json_write_i64(w, d->slide_ms);
        core_json_write_key(w, "gap_ms", 6);
        core_json_write_i64(w, d->gap_ms);
        core_json_write_key(w, "emit", 4);
        const char *emit = d->emit == STREAM_EMIT_FINAL ? "final" : "update";
        core_json_write_string(w, emit, strlen(emit));
        core_json_write_key(w, "aggregates", 10);
        core_json_write_array_begin(w);
        for (size_t i = 0; i < d->naggs; i++) {
            core_json_write_object_begin(w);
            core_json_write_key(w, "name", 4);
            core_json_write_string(w, d->aggs[i].name, strlen(d->aggs[i].name));
            core_json_write_key(w, "fn", 2);
            core_json_write_string(w, d->aggs[i].fn, strlen(d->aggs[i].fn));
            core_json_write_key(w, "arg", 3);
            const char *arg = d->aggs[i].arg != NULL ? d->aggs[i].arg : "";
            core_json_write_string(w, arg, strlen(arg));
            core_json_write_object_end(w);
        }
        core_json_write_array_end(w);
    }
    core_json_write_object_end(w);
    return core_json_writer_finish(w);
}

int stream_pipeline_definition(stream_pipeline_t *p, const stream_pipeline_def_t *d)
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_STREAM, 1 << 20);
    core_json_writer_t w;
    core_json_writer_init(&w, &b);
    int rc = write_def(&w, p, d);
    if (rc == 0)
        rc = core_buf_append(&b, "", 1);
    if (rc == 0)
        p->definition = (char *)core_buf_take(&b, NULL);
    core_buf_fini(&b);
    return rc == 0 && p->definition == NULL ? core_error(CORE_ENOMEM, "stream: out of memory") : rc;
}

int stream_pipeline_prepare(stream_pipeline_t *p, store_t *s)
{
    if (p->kind != STREAM_KIND_AGGREGATE)
        return 0;
    schema_value_t v[4] = {
        {.type = SCHEMA_STRING, .v.s = {p->out_name, strlen(p->out_name)}},
        {.type = SCHEMA_STRING, .v.s = {p->name, strlen(p->name)}},
        {.type = SCHEMA_STRING, .v.s = {p->definition, strlen(p->definition)}},
        {.type = SCHEMA_TIMESTAMP, .v.i = core_wall_us()},
    };
    return store_exec(s,
                      "INSERT INTO strata_views (name, pipeline, definition, created_at) "
                      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET "
                      "pipeline = excluded.pipeline, definition = excluded.definition",
                      v, 4, NULL, NULL, NULL);
}

static int take_version(void *arg, const schema_value_t *v, size_t n)
{
    if (n < 1 || (v[0].type != SCHEMA_INT && v[0].type != SCHEMA_NULL))
        return core_error(CORE_ECORRUPT, "strata_views: version is not an integer");
    *(int64_t *)arg = v[0].type == SCHEMA_INT ? v[0].v.i : 1;
    return 0;
}

int stream_view_version(store_t *s, const char *view, int64_t *version)
{
    *version = 0;
    schema_value_t name = {.type = SCHEMA_STRING, .v.s = {view, strlen(view)}};
    return store_exec(s, "SELECT \"version\" FROM \"strata_views\" WHERE \"name\" = ?1", &name, 1,
                      take_version, version, NULL);
}

int stream_views_list(store_t *s, store_row_fn fn, void *arg)
{
    return store_exec(s, "SELECT name, pipeline, definition FROM strata_views ORDER BY name", NULL,
                      0, fn, arg, NULL);
}

/* ---- Rows. */

size_t stream_view_agg_col(const stream_pipeline_t *p, size_t i)
{
    size_t at = VIEW_FIXED_COLS;
    for (size_t j = 0; j < i; j++) {
        store_column_t cols[STREAM_AGG_MAX_COLS];
        char names[STREAM_AGG_MAX_COLS][STREAM_AGG_COL_NAME];
        at += stream_agg_columns(p->agg_kinds[j], p->agg_names[j], cols, names);
    }
    return at;
}

void stream_view_row_values(const stream_pipeline_t *p, const stream_winop_row_t *row,
                            const char *layer, int32_t partition, int64_t now_us, schema_value_t *v)
{
    v[0] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {row->key, row->klen}};
    v[1] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = row->start};
    v[2] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {layer, strlen(layer)}};
    v[3] = (schema_value_t){.type = SCHEMA_INT, .v.i = partition};
    v[4] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = row->end};
    v[5] = (schema_value_t){.type = SCHEMA_BOOL, .v.b = row->final};
    v[6] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = now_us};
    size_t at = VIEW_FIXED_COLS;
    for (size_t i = 0; i < p->wcfg.naggs; i++)
        at += stream_agg_to_values(p->agg_kinds[i], &row->states[i], v + at);
}

/* ---- Queries. */

typedef struct {
    char name[STREAM_AGG_COL_NAME];
    stream_agg_kind_t kind;
    size_t col; /* first state column */
} view_agg_t;

typedef struct {
    bool found;
    bool final_only;
    bool sessions; /* a session view: windows of one key differ by layer */
    view_agg_t aggs[MAX_AGGS];
    size_t naggs;
    store_column_t cols[7 + MAX_AGGS * STREAM_AGG_MAX_COLS];
    char names[7 + MAX_AGGS * STREAM_AGG_MAX_COLS][STREAM_AGG_COL_NAME];
    store_table_def_t def;
} view_layout_t;

static int add_layout_col(view_layout_t *l, const char *name, schema_type_t type)
{
    size_t i = l->def.ncolumns++;
    copy_name(l->names[i], name);
    l->cols[i] = (store_column_t){l->names[i], type};
    return 0;
}

/* Reads the registry's definition JSON into a column layout. */
static int parse_layout(view_layout_t *l, const char *json, size_t len)
{
    core_json_value_t root, v, aggs;
    core_json_error_t jerr;
    if (core_json_parse(json, len, 8, &root, &jerr) != 0 || root.type != CORE_JSON_OBJECT)
        return core_error(CORE_ECORRUPT, "strata_views: definition is not a JSON object");
    l->final_only =
        core_json_find(&root, "emit", 4, &v) == 0 && core_json_string_eq(&v, "final", 5);
    l->sessions =
        core_json_find(&root, "window", 6, &v) == 0 && core_json_string_eq(&v, "session", 7);
    if (core_json_find(&root, "aggregates", 10, &aggs) != 0 || aggs.type != CORE_JSON_ARRAY)
        return core_error(CORE_ECORRUPT, "strata_views: definition has no aggregates");
    static const char *fixed[7] = {"key",        "window_start", "layer",     "partition",
                                   "window_end", "final",        "updated_at"};
    static const schema_type_t ftypes[7] = {SCHEMA_STRING,   SCHEMA_TIMESTAMP, SCHEMA_STRING,
                                            SCHEMA_INT,      SCHEMA_TIMESTAMP, SCHEMA_BOOL,
                                            SCHEMA_TIMESTAMP};
    for (int i = 0; i < 7; i++)
        add_layout_col(l, fixed[i], ftypes[i]);
    l->def.npk = 4;
    core_json_iter_t it;
    if (core_json_iter_init(&it, aggs.p, aggs.len, 8, &jerr) != 0)
        return core_error(CORE_ECORRUPT, "strata_views: bad aggregates");
    core_json_value_t a, name, fn;
    while (core_json_array_next(&it, &a) == 1) {
        if (l->naggs == MAX_AGGS || a.type != CORE_JSON_OBJECT ||
            core_json_find(&a, "name", 4, &name) != 0 || core_json_find(&a, "fn", 2, &fn) != 0 ||
            name.type != CORE_JSON_STRING || fn.type != CORE_JSON_STRING ||
            name.len >= STREAM_AGG_COL_NAME - 8)
            return core_error(CORE_ECORRUPT, "strata_views: bad aggregate entry");
        view_agg_t *x = &l->aggs[l->naggs++];
        snprintf(x->name, sizeof x->name, "%.*s", (int)name.len, name.p);
        if (stream_agg_parse(fn.p, fn.len, &x->kind) != 0)
            return core_error(CORE_ECORRUPT, "strata_views: unknown function %.*s", (int)fn.len,
                              fn.p);
        x->col = l->def.ncolumns;
        store_column_t c[STREAM_AGG_MAX_COLS];
        char n[STREAM_AGG_MAX_COLS][STREAM_AGG_COL_NAME];
        size_t nc = stream_agg_columns(x->kind, x->name, c, n);
        for (size_t j = 0; j < nc; j++)
            add_layout_col(l, n[j], c[j].type);
    }
    l->def.columns = l->cols;
    return 0;
}

static int found_view(void *arg, const schema_value_t *v, size_t n)
{
    view_layout_t *l = arg;
    if (n < 1 || v[0].type != SCHEMA_STRING)
        return core_error(CORE_ECORRUPT, "strata_views: definition is not text");
    l->found = true;
    return parse_layout(l, v[0].v.s.p, v[0].v.s.len);
}

typedef struct {
    view_layout_t *l;
    const stream_view_query_t *q;
    int (*fn)(void *arg, const stream_view_row_t *row);
    void *arg;
    bool open;  /* a group is being merged */
    bool batch; /* the group's rows are the batch layer's */
    bool final;
    char *key; /* the group's key (owned) */
    size_t key_len;
    int64_t start, end;
    int64_t batch_end; /* sessions: the latest end of the key's batch rows */
    stream_agg_state_t states[MAX_AGGS];
} merge_t;

static int emit_group(merge_t *m)
{
    if (!m->open)
        return 0;
    m->open = false;
    if (m->l->sessions) {
        /* The batch layer's session contains every speed session whose
         * events it recomputed, and starts no later: a speed session that
         * begins inside a batch session of its key is covered by it. */
        if (m->batch)
            m->batch_end = CORE_MAX(m->batch_end, m->end);
        else if (m->start < m->batch_end)
            return 0;
        if (m->start < m->q->from_us)
            return 0; /* read only to see the batch sessions covering the range */
    }
    if (m->l->final_only && !m->final && !m->q->include_open)
        return 0;
    schema_value_t vals[MAX_AGGS];
    const char *names[MAX_AGGS];
    for (size_t i = 0; i < m->l->naggs; i++) {
        const view_agg_t *a = &m->l->aggs[i];
        double d;
        names[i] = a->name;
        if (a->kind == STREAM_AGG_COUNT)
            vals[i] = (schema_value_t){.type = SCHEMA_INT, .v.i = m->states[i].n};
        else if (stream_agg_result(a->kind, &m->states[i], &d))
            vals[i] = (schema_value_t){.type = SCHEMA_FLOAT, .v.f = d};
        else
            vals[i].type = SCHEMA_NULL;
    }
    stream_view_row_t row = {m->key,   m->key_len,  m->start, m->end, m->batch ? "batch" : "speed",
                             m->final, m->l->naggs, names,    vals};
    return m->fn(m->arg, &row);
}

static int merge_row(void *arg, const schema_value_t *v, size_t n)
{
    merge_t *m = arg;
    view_layout_t *l = m->l;
    if (n != l->def.ncolumns || v[0].type != SCHEMA_STRING || v[2].type != SCHEMA_STRING)
        return core_error(CORE_ECORRUPT, "view %s: unexpected row", l->def.name);
    bool same = m->open && v[0].v.s.len == m->key_len &&
                memcmp(v[0].v.s.p, m->key, m->key_len) == 0 && v[1].v.i == m->start;
    bool batch = v[2].v.s.len == 5 && memcmp(v[2].v.s.p, "batch", 5) == 0;
    if (same && m->batch && !batch)
        return 0; /* the batch layer covers this window */
    if (!same) {
        int rc = emit_group(m);
        if (rc != 0)
            return rc;
        if (m->key == NULL || v[0].v.s.len != m->key_len ||
            memcmp(v[0].v.s.p, m->key, m->key_len) != 0)
            m->batch_end = INT64_MIN;
        char *k = core_realloc(CORE_MEM_STREAM, m->key, v[0].v.s.len + 1);
        if (k == NULL)
            return core_error(CORE_ENOMEM, "stream: out of memory");
        memcpy(k, v[0].v.s.p, v[0].v.s.len);
        m->key = k;
        m->key_len = v[0].v.s.len;
        m->start = v[1].v.i;
        m->end = v[4].v.i;
        m->open = true;
        m->batch = batch;
        m->final = true;
        for (size_t i = 0; i < l->naggs; i++)
            stream_agg_init(&m->states[i]);
    }
    m->final = m->final && v[5].type == SCHEMA_BOOL && v[5].v.b;
    m->end = CORE_MAX(m->end, v[4].v.i);
    for (size_t i = 0; i < l->naggs; i++) {
        stream_agg_state_t st;
        if (stream_agg_from_values(l->aggs[i].kind, v + l->aggs[i].col, &st) != 0)
            return core_error(CORE_ECORRUPT, "view %s: bad partial state for %s", l->def.name,
                              l->aggs[i].name);
        stream_agg_merge(l->aggs[i].kind, &m->states[i], &st);
    }
    return 0;
}

int stream_view_query(store_t *s, const char *view, const stream_view_query_t *q,
                      int (*fn)(void *arg, const stream_view_row_t *row), void *arg)
{
    view_layout_t *l = core_calloc(CORE_MEM_STREAM, 1, sizeof *l);
    if (l == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    l->def.name = view;
    schema_value_t name = {.type = SCHEMA_STRING, .v.s = {view, strlen(view)}};
    int rc = store_exec(s, "SELECT definition FROM strata_views WHERE name = ?1", &name, 1,
                        found_view, l, NULL);
    if (rc == 0 && !l->found)
        rc = core_error(CORE_ENOENT, "no view named %s", view);
    store_table_t *t = NULL;
    if (rc == 0)
        rc = store_table_open(s, &l->def, &t);
    store_filter_t f[3];
    size_t nf = 0;
    if (q->key != NULL)
        f[nf++] = (store_filter_t){
            "key", STORE_EQ, {.type = SCHEMA_STRING, .v.s = {q->key, strlen(q->key)}}};
    /* Sessions: also the earlier sessions still open at `from`, which may
     * be batch rows covering speed sessions that start in the range. */
    if (q->from_us != INT64_MIN && l->sessions)
        f[nf++] =
            (store_filter_t){"window_end", STORE_GT, {.type = SCHEMA_TIMESTAMP, .v.i = q->from_us}};
    else if (q->from_us != INT64_MIN)
        f[nf++] = (store_filter_t){
            "window_start", STORE_GE, {.type = SCHEMA_TIMESTAMP, .v.i = q->from_us}};
    if (q->to_us != INT64_MAX)
        f[nf++] =
            (store_filter_t){"window_start", STORE_LT, {.type = SCHEMA_TIMESTAMP, .v.i = q->to_us}};
    merge_t m = {.l = l, .q = q, .fn = fn, .arg = arg, .batch_end = INT64_MIN};
    if (rc == 0)
        rc = store_select(s, t, f, nf, 0, 0, merge_row, &m);
    if (rc == 0)
        rc = emit_group(&m);
    core_free(m.key);
    core_free(l);
    return rc;
}

/*
 * api_views.c - GET /api/views (the views registered in the store), GET
 * /api/views/{view} (a view's rows as queries see them: the Lambda merge
 * of stream_view_query, batch rows over speed rows, each row saying its
 * layer and whether it is final) and GET /api/tables/{table} (the rows of
 * a table or cdc pipeline's table, paged). docs/api.md.
 *
 * Identifiers from the URL never reach SQL unchecked: a view must be
 * registered (the query reads the registry first, with the name as a
 * parameter) and pass store_ident_check; a table must be the output of a
 * table or cdc pipeline of this config, and its columns are the ones the
 * config gives it (the layout stream/pipeline.c builds: primary-key fields,
 * the other columns, then _partition and _offset, or those two first when
 * there is no primary key), each quoted.
 *
 * Threading: any server thread; each request uses a pooled connection.
 */
#include "app/api.h"

#include <string.h>

#define TABLE_COLS_MAX 512
#define SQL_MAX        (64u << 10)
#define PAGE_BYTES     (16u << 20)

/* ---- /api/views */

static int view_row(void *arg, const schema_value_t *v, size_t n)
{
    core_json_writer_t *w = arg;
    if (n < 3)
        return 0;
    core_json_write_object_begin(w);
    api_key(w, "name");
    api_value(w, &v[0]);
    api_key(w, "pipeline");
    api_value(w, &v[1]);
    api_key(w, "definition");
    if (v[2].type == SCHEMA_STRING)
        api_json_or_bytes(w, v[2].v.s.p, v[2].v.s.len);
    else
        core_json_write_null(w);
    core_json_write_object_end(w);
    return 0;
}

int api_views_list(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    store_t *s = NULL;
    int rc = api_store_take(a, &s);
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_key(w, "views");
    core_json_write_array_begin(w);
    if (rc == 0)
        rc = stream_views_list(s, view_row, w);
    core_json_write_array_end(w);
    core_json_write_object_end(w);
    api_store_give(a, s, rc);
    if (rc != 0)
        return api_fail(r, rc, "list the views");
    return http_respond_json(r, 200);
}

/* ---- /api/views/{view} */

typedef struct {
    core_json_writer_t *w;
    http_page_t page;
    int64_t seen;
    size_t written;
    bool more;
} view_page_t;

#define PAGE_FULL 1 /* the callback's "stop": one row past the page was seen */

static int view_query_row(void *arg, const stream_view_row_t *row)
{
    view_page_t *vp = arg;
    if (vp->seen++ < vp->page.offset)
        return 0;
    if ((int64_t)vp->written == vp->page.limit || vp->w->out->len > PAGE_BYTES) {
        vp->more = true;
        return PAGE_FULL;
    }
    core_json_writer_t *w = vp->w;
    core_json_write_object_begin(w);
    api_key(w, "key");
    api_bytes(w, row->key, row->key_len);
    api_time(w, "window_start", row->window_start);
    api_time(w, "window_end", row->window_end);
    api_str(w, "layer", row->layer);
    api_key(w, "final");
    core_json_write_bool(w, row->final);
    for (size_t i = 0; i < row->nvalues; i++) {
        api_key(w, row->names[i]);
        api_value(w, &row->values[i]);
    }
    core_json_write_object_end(w);
    vp->written++;
    return 0;
}

/* Reads key, from, to, all, limit and offset into q and vp. */
static int view_params(http_request_t *r, stream_view_query_t *q, view_page_t *vp)
{
    *q = (stream_view_query_t){.key = http_request_query(r, "key")};
    int rc = api_query_time(r, "from", INT64_MIN, &q->from_us);
    if (rc == 0)
        rc = api_query_time(r, "to", INT64_MAX, &q->to_us);
    if (rc == 0)
        rc = http_query_bool(r, "all", false, &q->include_open);
    if (rc == 0)
        rc = http_query_page(r, APP_API_DEFAULT_LIMIT, APP_API_MAX_LIMIT, &vp->page);
    return rc;
}

int api_view_query(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    const char *view = http_request_param(r, "view");
    stream_view_query_t q;
    view_page_t vp = {0};
    if (view_params(r, &q, &vp) != 0)
        return api_bad_request(r);
    if (store_ident_check(view, "view") != 0)
        return http_respond_error(r, 404, "no view named %s", view);
    store_t *s = NULL;
    int rc = api_store_take(a, &s);
    vp.w = http_json(r);
    core_json_write_object_begin(vp.w);
    api_str(vp.w, "view", view);
    api_key(vp.w, "rows");
    core_json_write_array_begin(vp.w);
    if (rc == 0)
        rc = stream_view_query(s, view, &q, view_query_row, &vp);
    if (rc == PAGE_FULL)
        rc = 0;
    core_json_write_array_end(vp.w);
    http_json_page(vp.w, &vp.page, vp.written, vp.more);
    core_json_write_object_end(vp.w);
    api_store_give(a, s, rc);
    if (rc != 0)
        return api_fail(r, rc, "query the view");
    return http_respond_json(r, 200);
}

/* ---- /api/tables/{table} */

typedef struct {
    const app_pipeline_t *p;
    const app_schema_t *schema;
    const char *names[TABLE_COLS_MAX];
    app_field_type_t types[TABLE_COLS_MAX]; /* APP_FIELD_INT for _partition, _offset */
    size_t n, npk;
} layout_t;

static const app_pipeline_t *table_pipeline(const app_api_t *a, const char *table)
{
    const app_config_t *cfg = a->env.cfg;
    for (size_t i = 0; i < cfg->n_pipelines; i++) {
        const app_pipeline_t *p = &cfg->pipelines[i];
        if ((p->kind == APP_PIPE_TABLE || p->kind == APP_PIPE_CDC) && p->table != NULL &&
            strcmp(p->table, table) == 0)
            return p;
    }
    return NULL;
}

static void add_col(layout_t *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return;
    if (l->n == TABLE_COLS_MAX)
        return;
    const app_field_t *f = NULL;
    for (size_t i = 0; l->schema != NULL && i < l->schema->n_fields; i++)
        if (l->schema->fields[i].name != NULL && strcmp(l->schema->fields[i].name, name) == 0)
            f = &l->schema->fields[i];
    l->names[l->n] = name;
    l->types[l->n++] = f != NULL ? f->type : APP_FIELD_INT;
}

/* The table's columns as stream/pipeline.c lays them out. */
static void table_layout(const app_api_t *a, const app_pipeline_t *p, layout_t *l)
{
    const app_config_t *cfg = a->env.cfg;
    *l = (layout_t){.p = p};
    for (size_t i = 0; p->schema != NULL && i < cfg->n_schemas; i++)
        if (cfg->schemas[i].name != NULL && strcmp(cfg->schemas[i].name, p->schema) == 0)
            l->schema = &cfg->schemas[i];
    if (p->n_primary_key == 0) {
        add_col(l, "_partition");
        add_col(l, "_offset");
    }
    for (size_t i = 0; i < p->n_primary_key; i++)
        add_col(l, p->primary_key[i]);
    l->npk = l->n;
    if (p->n_columns > 0) {
        for (size_t i = 0; i < p->n_columns; i++)
            add_col(l, p->columns[i]);
    } else {
        for (size_t i = 0; l->schema != NULL && i < l->schema->n_fields; i++)
            add_col(l, l->schema->fields[i].name);
    }
    add_col(l, "_partition");
    add_col(l, "_offset");
}

static int table_sql(const layout_t *l, const char *table, core_buf_t *sql)
{
    int rc = core_buf_append_str(sql, "SELECT ");
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        if (i > 0)
            rc = core_buf_append_str(sql, ", ");
        if (rc == 0)
            rc = store_quote_ident(l->names[i], sql);
    }
    if (rc == 0)
        rc = core_buf_append_str(sql, " FROM ");
    if (rc == 0)
        rc = store_quote_ident(table, sql);
    for (size_t i = 0; rc == 0 && i < l->npk; i++) {
        rc = core_buf_append_str(sql, i == 0 ? " ORDER BY " : ", ");
        if (rc == 0)
            rc = store_quote_ident(l->names[i], sql);
    }
    if (rc == 0)
        rc = core_buf_append_str(sql, " LIMIT ?1 OFFSET ?2");
    if (rc == 0)
        rc = core_buf_append_u8(sql, 0);
    return rc;
}

/* A column value as the schema types it (the store returns timestamps and
 * SQLite's booleans as integers, JSON as text). */
static void column_value(core_json_writer_t *w, app_field_type_t t, const schema_value_t *v)
{
    if (t == APP_FIELD_TIMESTAMP && v->type == SCHEMA_INT)
        api_value(w, &(schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = v->v.i});
    else if (t == APP_FIELD_BOOL && v->type == SCHEMA_INT)
        core_json_write_bool(w, v->v.i != 0);
    else if ((t == APP_FIELD_OBJECT || t == APP_FIELD_ARRAY) && v->type == SCHEMA_STRING)
        api_json_or_bytes(w, v->v.s.p, v->v.s.len);
    else
        api_value(w, v);
}

typedef struct {
    core_json_writer_t *w;
    const layout_t *l;
    int64_t limit;
    size_t written;
    bool more;
} table_page_t;

static int table_row(void *arg, const schema_value_t *v, size_t n)
{
    table_page_t *tp = arg;
    if ((int64_t)tp->written == tp->limit) {
        tp->more = true;
        return 0;
    }
    core_json_write_object_begin(tp->w);
    for (size_t i = 0; i < n && i < tp->l->n; i++) {
        api_key(tp->w, tp->l->names[i]);
        column_value(tp->w, tp->l->types[i], &v[i]);
    }
    core_json_write_object_end(tp->w);
    tp->written++;
    return 0;
}

static int select_page(app_api_t *a, const layout_t *l, const char *table, const http_page_t *pg,
                       table_page_t *tp)
{
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_APP, SQL_MAX);
    int rc = table_sql(l, table, &sql);
    store_t *s = NULL;
    if (rc == 0)
        rc = api_store_take(a, &s);
    schema_value_t params[2] = {{.type = SCHEMA_INT, .v.i = pg->limit + 1},
                                {.type = SCHEMA_INT, .v.i = pg->offset}};
    if (rc == 0)
        rc = store_exec(s, (const char *)sql.data, params, 2, table_row, tp, NULL);
    api_store_give(a, s, rc);
    core_buf_fini(&sql);
    return rc;
}

int api_table_rows(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    const char *table = http_request_param(r, "table");
    http_page_t pg;
    if (http_query_page(r, APP_API_DEFAULT_LIMIT, APP_API_MAX_LIMIT, &pg) != 0)
        return api_bad_request(r);
    const app_pipeline_t *p = table_pipeline(a, table);
    if (p == NULL || store_ident_check(table, "table") != 0)
        return http_respond_error(r, 404,
                                  "no table named %s among the outputs of this config's table "
                                  "and cdc pipelines",
                                  table);
    static layout_t zero;
    layout_t *l = core_alloc(CORE_MEM_APP, sizeof *l);
    if (l == NULL)
        return api_fail(r, CORE_ENOMEM, "read the table");
    *l = zero;
    table_layout(a, p, l);
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_str(w, "table", table);
    api_str(w, "pipeline", p->name);
    api_key(w, "columns");
    core_json_write_array_begin(w);
    for (size_t i = 0; i < l->n; i++)
        core_json_write_string(w, l->names[i], strlen(l->names[i]));
    core_json_write_array_end(w);
    api_key(w, "rows");
    core_json_write_array_begin(w);
    table_page_t tp = {.w = w, .l = l, .limit = pg.limit};
    int rc = select_page(a, l, table, &pg, &tp);
    core_json_write_array_end(w);
    http_json_page(w, &pg, tp.written, tp.more);
    core_json_write_object_end(w);
    core_free(l);
    if (rc != 0)
        return api_fail(r, rc, "read the table");
    return http_respond_json(r, 200);
}

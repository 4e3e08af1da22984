/*
 * api_jobs.c - the batch layer over HTTP (docs/api.md):
 *   GET  /api/jobs               every job in the store's jobs table, with
 *                                its latest run
 *   GET  /api/jobs/{job}/runs    its runs, newest first, paged
 *   POST /api/jobs/{job}/run     queue a run (batch_runner_trigger): 202
 *                                with the run's id; the body, if any, is a
 *                                JSON object of run parameters
 *   GET  /api/runs/{id}          one run, with its parameters, lineage and
 *                                progress as JSON
 *
 * The job_runs table is the truth (batch.h): a triggered run is a pending
 * row the scheduler thread picks up; its state moves pending -> running ->
 * completed | failed (| retrying) and can be followed at /api/runs/{id}.
 *
 * Threading: any server thread; batch_runner_trigger opens its own store
 * connection and reads only the runner's immutable job list.
 */
#include "app/api.h"

#include <stdio.h>
#include <string.h>

#define PARAMS_MAX    64
#define PARAM_BYTES   (64u << 10)
#define JOBS_LIST_MAX 4096

#define RUN_COLUMNS                                                                                \
    "\"id\", \"job\", \"state\", \"attempt\", \"logical_date\", \"interval_end\", \"params\", "    \
    "\"started_at\", \"finished_at\", \"duration_ms\", \"rows_in\", \"rows_out\", \"error\", "     \
    "\"owner\", \"progress\", \"lineage\""
#define RUN_NCOLS 16

/* One job_runs row as JSON; lineage only when `detail`. */
static void write_run(core_json_writer_t *w, const schema_value_t *v, bool detail)
{
    static const char *const NAMES[RUN_NCOLS] = {
        "id",     "job",        "state",       "attempt",     "logical_date", "interval_end",
        "params", "started_at", "finished_at", "duration_ms", "rows_in",      "rows_out",
        "error",  "owner",      "progress",    "lineage"};
    core_json_write_object_begin(w);
    for (size_t i = 0; i < RUN_NCOLS; i++) {
        if (i == 15 && !detail)
            break;
        bool time = i == 4 || i == 5 || i == 7 || i == 8;
        bool json = i == 6 || i == 14 || i == 15;
        if (time) {
            api_time(w, NAMES[i], api_row_int(&v[i], INT64_MIN));
            continue;
        }
        api_key(w, NAMES[i]);
        if (json && v[i].type == SCHEMA_STRING)
            api_json_or_bytes(w, v[i].v.s.p, v[i].v.s.len);
        else
            api_value(w, &v[i]);
    }
    core_json_write_object_end(w);
}

typedef struct {
    core_json_writer_t *w;
    int64_t limit;
    size_t written;
    bool more;
    bool detail;
} runs_t;

static int run_row(void *arg, const schema_value_t *v, size_t n)
{
    runs_t *rs = arg;
    if (n < RUN_NCOLS)
        return CORE_ECORRUPT;
    if ((int64_t)rs->written == rs->limit) {
        rs->more = true;
        return 0;
    }
    write_run(rs->w, v, rs->detail);
    rs->written++;
    return 0;
}

/* ---- GET /api/jobs */

typedef struct {
    core_buf_t text; /* the rows' values: 'N' (NULL) or 'S' then the text, then NUL */
    size_t n;
} jobs_t;

static int put_text(core_buf_t *b, const schema_value_t *v)
{
    int rc = core_buf_append_u8(b, v->type == SCHEMA_NULL ? 'N' : 'S');
    if (rc == 0 && v->type == SCHEMA_STRING)
        rc = core_buf_append(b, v->v.s.p, v->v.s.len);
    else if (rc == 0 && v->type != SCHEMA_NULL)
        rc = core_buf_printf(b, "%lld", (long long)api_row_int(v, 0));
    return rc == 0 ? core_buf_append_u8(b, 0) : rc;
}

static int job_row(void *arg, const schema_value_t *v, size_t n)
{
    jobs_t *j = arg;
    if (n < 5)
        return CORE_ECORRUPT;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < 5; i++)
        rc = put_text(&j->text, &v[i]);
    j->n++;
    return rc;
}

/* The next field of a jobs_t walk: the text, or NULL for SQL NULL. */
static const char *next_field(const char **p)
{
    const char *s = *p;
    *p = s + strlen(s) + 1;
    return s[0] == 'N' ? NULL : s + 1;
}

static int write_job(store_t *s, core_json_writer_t *w, const char **p)
{
    static const char *const NAMES[] = {"name", "kind", "schedule", "definition", "updated_at"};
    const char *f[5];
    for (size_t i = 0; i < 5; i++)
        f[i] = next_field(p);
    core_json_write_object_begin(w);
    for (size_t i = 0; i < 3; i++)
        api_str(w, NAMES[i], f[i]);
    api_key(w, NAMES[3]);
    api_json_or_bytes(w, f[3], f[3] != NULL ? strlen(f[3]) : 0);
    int64_t at = INT64_MIN;
    if (f[4] != NULL)
        core_parse_i64(f[4], INT64_MIN, INT64_MAX, &at);
    api_time(w, NAMES[4], at);
    api_key(w, "last_run");
    runs_t rs = {.w = w, .limit = 1};
    schema_value_t name = {.type = SCHEMA_STRING,
                           .v.s = {f[0] ? f[0] : "", f[0] ? strlen(f[0]) : 0}};
    int rc = store_exec(s,
                        "SELECT " RUN_COLUMNS " FROM \"job_runs\" WHERE \"job\" = ?1 "
                        "ORDER BY \"id\" DESC LIMIT 1",
                        &name, 1, run_row, &rs, NULL);
    if (rs.written == 0)
        core_json_write_null(w);
    core_json_write_object_end(w);
    return rc;
}

int api_jobs_list(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    jobs_t j = {0};
    core_buf_init(&j.text, CORE_MEM_APP, JOBS_LIST_MAX * 1024);
    store_t *s = NULL;
    int rc = api_store_take(a, &s);
    if (rc == 0)
        rc = store_exec(s,
                        "SELECT \"name\", \"kind\", \"schedule\", \"definition\", \"updated_at\" "
                        "FROM \"jobs\" ORDER BY \"name\"",
                        NULL, 0, job_row, &j, NULL);
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_key(w, "jobs");
    core_json_write_array_begin(w);
    const char *p = (const char *)j.text.data;
    for (size_t i = 0; rc == 0 && i < j.n; i++)
        rc = write_job(s, w, &p);
    core_json_write_array_end(w);
    core_json_write_object_end(w);
    api_store_give(a, s, rc);
    core_buf_fini(&j.text);
    if (rc != 0)
        return api_fail(r, rc, "list the jobs");
    return http_respond_json(r, 200);
}

/* ---- GET /api/jobs/{job}/runs */

static int count_row(void *arg, const schema_value_t *v, size_t n)
{
    (void)v;
    (void)n;
    (*(int64_t *)arg)++;
    return 0;
}

int api_job_runs(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    const char *job = http_request_param(r, "job");
    http_page_t pg;
    if (http_query_page(r, APP_API_DEFAULT_LIMIT, APP_API_MAX_LIMIT, &pg) != 0)
        return api_bad_request(r);
    schema_value_t p[3] = {{.type = SCHEMA_STRING, .v.s = {job, strlen(job)}},
                           {.type = SCHEMA_INT, .v.i = pg.limit + 1},
                           {.type = SCHEMA_INT, .v.i = pg.offset}};
    store_t *s = NULL;
    int64_t known = 0;
    int rc = api_store_take(a, &s);
    if (rc == 0)
        rc = store_exec(s, "SELECT 1 FROM \"jobs\" WHERE \"name\" = ?1", p, 1, count_row, &known,
                        NULL);
    if (rc == 0 && known == 0) {
        api_store_give(a, s, rc);
        return http_respond_error(r, 404, "no job named %s", job);
    }
    runs_t rs = {.w = http_json(r), .limit = pg.limit};
    core_json_write_object_begin(rs.w);
    api_str(rs.w, "job", job);
    api_key(rs.w, "runs");
    core_json_write_array_begin(rs.w);
    if (rc == 0)
        rc = store_exec(s,
                        "SELECT " RUN_COLUMNS " FROM \"job_runs\" WHERE \"job\" = ?1 "
                        "ORDER BY \"id\" DESC LIMIT ?2 OFFSET ?3",
                        p, 3, run_row, &rs, NULL);
    core_json_write_array_end(rs.w);
    http_json_page(rs.w, &pg, rs.written, rs.more);
    core_json_write_object_end(rs.w);
    api_store_give(a, s, rc);
    if (rc != 0)
        return api_fail(r, rc, "list the runs");
    return http_respond_json(r, 200);
}

/* ---- GET /api/runs/{id} */

int api_run_get(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    const char *text = http_request_param(r, "id");
    int64_t id;
    if (core_parse_i64(text, 1, INT64_MAX, &id) != 0)
        return http_respond_error(r, 404, "no run with id %s", text);
    schema_value_t p = {.type = SCHEMA_INT, .v.i = id};
    runs_t rs = {.w = http_json(r), .limit = 1, .detail = true};
    store_t *s = NULL;
    int rc = api_store_take(a, &s);
    if (rc == 0)
        rc = store_exec(s, "SELECT " RUN_COLUMNS " FROM \"job_runs\" WHERE \"id\" = ?1", &p, 1,
                        run_row, &rs, NULL);
    api_store_give(a, s, rc);
    if (rc != 0)
        return api_fail(r, rc, "read the run");
    if (rs.written == 0)
        return http_respond_error(r, 404, "no run with id %lld", (long long)id);
    return http_respond_json(r, 200);
}

/* ---- POST /api/jobs/{job}/run */

typedef struct {
    batch_param_t params[PARAMS_MAX];
    size_t n;
    core_buf_t text; /* the names and values, NUL-terminated */
    size_t offs[2 * PARAMS_MAX];
} params_t;

/* Appends the text of a JSON string (decoded) or scalar (as written). */
static int param_text(params_t *ps, const core_json_value_t *v)
{
    if (v->type == CORE_JSON_STRING)
        return core_json_string_decode(v, &ps->text);
    if (v->type == CORE_JSON_OBJECT || v->type == CORE_JSON_ARRAY || v->type == CORE_JSON_NULL)
        return core_error(CORE_EINVAL, "run parameters are strings, numbers or booleans");
    return core_buf_append(&ps->text, v->p, v->len);
}

/* The body: empty, or a JSON object of parameters. */
static int parse_params(http_request_t *r, params_t *ps)
{
    size_t len = 0;
    const char *body = http_request_body(r, &len);
    if (len == 0)
        return 0;
    core_json_iter_t it;
    core_json_value_t k, v;
    core_json_error_t err;
    int rc = core_json_iter_init(&it, body, len, 0, &err);
    if (rc == 0 && it.type != CORE_JSON_OBJECT)
        rc = core_error(CORE_EINVAL, "the body is a JSON object of run parameters");
    while (rc == 0 && (rc = core_json_object_next(&it, &k, &v)) == 1) {
        if (ps->n == PARAMS_MAX)
            return core_error(CORE_EINVAL, "at most %d run parameters", PARAMS_MAX);
        ps->offs[2 * ps->n] = ps->text.len;
        rc = core_json_string_decode(&k, &ps->text);
        if (rc == 0)
            rc = core_buf_append_u8(&ps->text, 0);
        ps->offs[2 * ps->n + 1] = ps->text.len;
        if (rc == 0)
            rc = param_text(ps, &v);
        if (rc == 0)
            rc = core_buf_append_u8(&ps->text, 0);
        ps->n += rc == 0;
    }
    if (rc == CORE_ECORRUPT)
        rc = core_error(CORE_EINVAL, "the body is not valid JSON: %s", core_error_detail());
    for (size_t i = 0; rc == 0 && i < ps->n; i++)
        ps->params[i] = (batch_param_t){(const char *)ps->text.data + ps->offs[2 * i],
                                        (const char *)ps->text.data + ps->offs[2 * i + 1]};
    return rc < 0 ? rc : 0;
}

int api_job_trigger(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    const char *job = http_request_param(r, "job");
    size_t len = 0;
    http_request_body(r, &len);
    if (len > 0 && !http_request_content_type_is(r, "application/json"))
        return http_respond_error(r, 415, "run parameters are a JSON object (application/json)");
    if (a->env.runner == NULL)
        return http_respond_error(r, 404, "no job named %s (this config has no jobs)", job);
    params_t *ps = core_calloc(CORE_MEM_APP, 1, sizeof *ps);
    if (ps == NULL)
        return api_fail(r, CORE_ENOMEM, "trigger the job");
    core_buf_init(&ps->text, CORE_MEM_APP, PARAM_BYTES);
    int64_t id = -1;
    int rc = parse_params(r, ps);
    if (rc != 0) {
        api_bad_request(r);
    } else {
        rc = batch_runner_trigger(a->env.runner, job, ps->params, ps->n, &id);
        if (rc != 0)
            api_fail(r, rc, "trigger the job");
    }
    core_buf_fini(&ps->text);
    core_free(ps);
    if (rc != 0)
        return 0;
    char where[64];
    snprintf(where, sizeof where, "/api/runs/%lld", (long long)id);
    http_response_header(r, "Location", where);
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_int(w, "run_id", id);
    api_str(w, "job", job);
    api_str(w, "state", "pending");
    api_str(w, "run", where);
    core_json_write_object_end(w);
    return http_respond_json(r, 202);
}

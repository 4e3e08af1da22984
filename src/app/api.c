/*
 * api.c - the REST API's frame (api.h): creating it, its route table, the
 * pool of store connections the handlers share, and the helpers every
 * handler uses (error answers, time parameters, JSON values).
 *
 * The pool: a handler takes a connection for the duration of its store
 * work and gives it back. Connections are opened on demand, at most
 * API_POOL_MAX (more handlers wait for one); a connection whose call
 * failed with CORE_EIO (the server went away) is closed on return, so the
 * next taker reconnects. Connections are never migrated here: `strata up`
 * migrated the store before the server started.
 *
 * Invariants: every route in ROUTES, plus the documents' own two routes,
 * appears in the OpenAPI document and nothing else does (checked at start
 * by app_api_check, so `strata up` refuses to run with a stale document).
 *
 * Threading: the pool is guarded by pool_mu (pool_cv signals a returned
 * connection); create, route, start and destroy run on the main thread.
 */
#include "app/api.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *method;
    const char *pattern;
    http_handler_fn fn;
} api_route_t;

static const api_route_t ROUTES[] = {
    {"GET", "/readyz", api_readyz},
    {"GET", "/metrics", api_metrics},
    {"GET", "/api/topics", api_topics_list},
    {"GET", "/api/topics/{topic}", api_topic_get},
    {"GET", "/api/topics/{topic}/records", api_topic_records},
    {"GET", "/api/pipelines", api_pipelines_list},
    {"GET", "/api/views", api_views_list},
    {"GET", "/api/views/{view}", api_view_query},
    {"GET", "/api/tables/{table}", api_table_rows},
    {"GET", "/api/anomalies", api_anomalies_list},
    {"GET", "/api/dlq", api_dlq_list},
    {"POST", "/api/dlq/{id}/replay", api_dlq_replay},
    {"GET", "/api/jobs", api_jobs_list},
    {"GET", "/api/jobs/{job}/runs", api_job_runs},
    {"POST", "/api/jobs/{job}/run", api_job_trigger},
    {"GET", "/api/runs/{id}", api_run_get},
};

int app_api_create(const app_api_env_t *env, app_api_t **out)
{
    *out = NULL;
    app_api_t *a = core_calloc(CORE_MEM_APP, 1, sizeof *a);
    if (a == NULL)
        return core_error(CORE_ENOMEM, "api: out of memory");
    a->env = *env;
    pthread_mutex_init(&a->pool_mu, NULL);
    pthread_cond_init(&a->pool_cv, NULL);
    pthread_mutex_init(&a->sample_mu, NULL);
    pthread_mutex_init(&a->metrics_mu, NULL);
    size_t npipes = env->rt != NULL ? stream_runtime_count(env->rt) : 0;
    a->topics = core_calloc(CORE_MEM_APP, API_TOPICS_MAX, sizeof *a->topics);
    a->pipes = core_calloc(CORE_MEM_APP, npipes + 1, sizeof *a->pipes);
    a->jobs = core_calloc(CORE_MEM_APP, API_JOBS_MAX, sizeof *a->jobs);
    a->npipes = npipes;
    int rc = a->topics == NULL || a->pipes == NULL || a->jobs == NULL
                 ? core_error(CORE_ENOMEM, "api: out of memory")
                 : http_docs_create(app_openapi_json, app_openapi_json_len, &a->docs);
    if (rc != 0) {
        app_api_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

int app_api_route(app_api_t *a, http_server_t *srv)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < CORE_ARRAY_LEN(ROUTES); i++)
        rc = http_route(srv, ROUTES[i].method, ROUTES[i].pattern, ROUTES[i].fn, a);
    if (rc == 0)
        rc = http_docs_route(a->docs, srv, "/api/openapi.json", "/docs");
    return rc;
}

int app_api_check(const app_api_t *a, const http_server_t *srv)
{
    return http_docs_check(a->docs, srv);
}

int app_api_start(app_api_t *a)
{
    return api_sampler_start(a);
}

void app_api_destroy(app_api_t *a)
{
    if (a == NULL)
        return;
    api_sampler_stop(a);
    for (size_t i = 0; i < API_POOL_MAX; i++)
        store_close(a->conns[i]);
    api_groups_free(a->groups, a->ngroups);
    http_docs_destroy(a->docs);
    core_free(a->topics);
    core_free(a->pipes);
    core_free(a->jobs);
    pthread_mutex_destroy(&a->pool_mu);
    pthread_cond_destroy(&a->pool_cv);
    pthread_mutex_destroy(&a->sample_mu);
    pthread_mutex_destroy(&a->metrics_mu);
    core_free(a);
}

/* ---- The store pool. */

int api_store_take(app_api_t *a, store_t **s)
{
    *s = NULL;
    pthread_mutex_lock(&a->pool_mu);
    for (;;) {
        size_t closed = API_POOL_MAX;
        for (size_t i = 0; i < API_POOL_MAX; i++) {
            if (a->busy[i])
                continue;
            if (a->conns[i] != NULL) {
                a->busy[i] = true;
                *s = a->conns[i];
                pthread_mutex_unlock(&a->pool_mu);
                return 0;
            }
            if (closed == API_POOL_MAX)
                closed = i;
        }
        if (closed < API_POOL_MAX) {
            a->busy[closed] = true; /* opened outside the lock */
            pthread_mutex_unlock(&a->pool_mu);
            store_t *c = NULL;
            int rc = store_open(a->env.store_url, &c);
            if (rc != 0) {
                store_close(c);
                c = NULL;
            }
            pthread_mutex_lock(&a->pool_mu);
            a->conns[closed] = c;
            if (rc != 0)
                a->busy[closed] = false;
            pthread_cond_signal(&a->pool_cv);
            pthread_mutex_unlock(&a->pool_mu);
            *s = c;
            return rc;
        }
        pthread_cond_wait(&a->pool_cv, &a->pool_mu);
    }
}

void api_store_give(app_api_t *a, store_t *s, int rc)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&a->pool_mu);
    for (size_t i = 0; i < API_POOL_MAX; i++)
        if (a->conns[i] == s) {
            if (rc == CORE_EIO)
                a->conns[i] = NULL;
            a->busy[i] = false;
        }
    pthread_cond_signal(&a->pool_cv);
    pthread_mutex_unlock(&a->pool_mu);
    if (rc == CORE_EIO)
        store_close(s);
}

/* ---- Answers. */

int api_fail(http_request_t *r, int rc, const char *what)
{
    int status;
    switch (rc) {
    case CORE_EINVAL:
        status = 400;
        break;
    case CORE_ENOENT:
        status = 404;
        break;
    case CORE_EEXIST:
    case CORE_EFAILED:
        status = 409;
        break;
    case CORE_ETOOBIG:
        status = 413;
        break;
    case CORE_EIO:
    case CORE_ECLOSED:
        status = 503;
        break;
    default:
        status = 500;
    }
    const char *detail = core_error_detail();
    return http_respond_error(r, status, "%s: %s%s%s", what, core_strerror(rc),
                              detail[0] != '\0' ? ": " : "", detail);
}

int api_bad_request(http_request_t *r)
{
    return http_respond_error(r, 400, "%s", core_error_detail());
}

int api_query_time(http_request_t *r, const char *name, int64_t def, int64_t *us)
{
    const char *s = http_request_query(r, name);
    *us = def;
    if (s == NULL)
        return 0;
    int64_t ms;
    if (core_parse_i64(s, INT64_MIN / 1000 + 1, INT64_MAX / 1000 - 1, &ms) == 0) {
        *us = ms * 1000;
        return 0;
    }
    if (s[0] != '\0' && schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, s, strlen(s), us) == 0)
        return 0;
    return core_error(CORE_EINVAL,
                      "query parameter %s: '%.64s' is neither ISO 8601 nor epoch milliseconds",
                      name, s);
}

/* ---- JSON values. */

void api_key(core_json_writer_t *w, const char *key)
{
    core_json_write_key(w, key, strlen(key));
}

void api_str(core_json_writer_t *w, const char *key, const char *s)
{
    api_key(w, key);
    if (s == NULL)
        core_json_write_null(w);
    else
        core_json_write_string(w, s, strlen(s));
}

void api_int(core_json_writer_t *w, const char *key, int64_t v)
{
    api_key(w, key);
    core_json_write_i64(w, v);
}

void api_time(core_json_writer_t *w, const char *key, int64_t us)
{
    api_key(w, key);
    if (us == INT64_MIN) {
        core_json_write_null(w);
        return;
    }
    char ts[40];
    size_t n = schema_format_timestamp(us, ts);
    core_json_write_string(w, ts, n);
}

void api_double(core_json_writer_t *w, double v)
{
    if (isnan(v) || isinf(v))
        core_json_write_null(w);
    else
        core_json_write_double(w, v);
}

static void write_base64(core_json_writer_t *w, const unsigned char *p, size_t n)
{
    static const char ABC[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_APP, (n + 2) / 3 * 4 + 1);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char q[4] = {ABC[v >> 18 & 63], ABC[v >> 12 & 63], i + 1 < n ? ABC[v >> 6 & 63] : '=',
                     i + 2 < n ? ABC[v & 63] : '='};
        rc = core_buf_append(&b, q, 4);
    }
    if (rc == 0)
        core_json_write_string(w, b.len > 0 ? (const char *)b.data : "", b.len);
    else
        core_json_write_null(w); /* out of memory: the value is left out */
    core_buf_fini(&b);
}

const char *api_bytes(core_json_writer_t *w, const char *p, size_t n)
{
    if (p == NULL) {
        core_json_write_null(w);
        return "null";
    }
    if (core_utf8_valid(p, n)) {
        core_json_write_string(w, p, n);
        return "text";
    }
    write_base64(w, (const unsigned char *)p, n);
    return "base64";
}

const char *api_json_or_bytes(core_json_writer_t *w, const char *p, size_t n)
{
    if (p != NULL && n > 0 && core_json_validate(p, n, 0, NULL) == 0) {
        /* The value without the whitespace around it. */
        size_t a = 0, b = n;
        while (a < b && (p[a] == ' ' || p[a] == '\t' || p[a] == '\r' || p[a] == '\n'))
            a++;
        while (b > a &&
               (p[b - 1] == ' ' || p[b - 1] == '\t' || p[b - 1] == '\r' || p[b - 1] == '\n'))
            b--;
        core_json_write_raw(w, p + a, b - a);
        return "json";
    }
    return api_bytes(w, p, n);
}

void api_value(core_json_writer_t *w, const schema_value_t *v)
{
    switch (v->type) {
    case SCHEMA_BOOL:
        core_json_write_bool(w, v->v.b);
        break;
    case SCHEMA_INT:
        core_json_write_i64(w, v->v.i);
        break;
    case SCHEMA_FLOAT:
        api_double(w, v->v.f);
        break;
    case SCHEMA_STRING:
        api_bytes(w, v->v.s.p, v->v.s.len);
        break;
    case SCHEMA_TIMESTAMP: {
        char ts[40];
        size_t n = schema_format_timestamp(v->v.i, ts);
        core_json_write_string(w, ts, n);
        break;
    }
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        api_json_or_bytes(w, v->v.s.p, v->v.s.len);
        break;
    default:
        core_json_write_null(w);
    }
}

int64_t api_row_int(const schema_value_t *v, int64_t def)
{
    switch (v->type) {
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        return v->v.i;
    case SCHEMA_FLOAT:
        return isnan(v->v.f) ? def : (int64_t)v->v.f;
    case SCHEMA_BOOL:
        return v->v.b;
    default:
        return def;
    }
}

/* ---- The config. */

const app_pipeline_t *api_pipeline(const app_api_t *a, const char *name)
{
    const app_config_t *cfg = a->env.cfg;
    for (size_t i = 0; i < cfg->n_pipelines; i++)
        if (cfg->pipelines[i].name != NULL && strcmp(cfg->pipelines[i].name, name) == 0)
            return &cfg->pipelines[i];
    return NULL;
}

const char *api_kind_name(app_pipe_kind_t k)
{
    switch (k) {
    case APP_PIPE_TABLE:
        return "table";
    case APP_PIPE_AGGREGATE:
        return "aggregate";
    case APP_PIPE_DETECT:
        return "detect";
    case APP_PIPE_CDC:
        return "cdc";
    case APP_PIPE_ARCHIVE:
        return "archive";
    }
    return "?";
}

const char *api_pipeline_state(const stream_stats_t *st)
{
    if (st->failed)
        return "failed";
    if (st->paused)
        return "paused";
    if (st->running)
        return "running";
    return "starting";
}

/* ---- Rates. */

void api_ring_add(api_ring_t *r, int64_t t_ms, int64_t v)
{
    r->t_ms[r->head] = t_ms;
    r->v[r->head] = v;
    r->head = (r->head + 1) % API_RING;
    if (r->n < API_RING)
        r->n++;
}

double api_ring_rate(const api_ring_t *r)
{
    if (r->n < 2)
        return NAN;
    size_t newest = (r->head + API_RING - 1) % API_RING;
    size_t oldest = (r->head + API_RING - r->n) % API_RING;
    int64_t dt = r->t_ms[newest] - r->t_ms[oldest];
    int64_t dv = r->v[newest] - r->v[oldest];
    if (dt <= 0)
        return NAN;
    return dv < 0 ? 0.0 : (double)dv * 1000.0 / (double)dt;
}

double api_topic_rate(app_api_t *a, const char *name)
{
    double rate = NAN;
    pthread_mutex_lock(&a->sample_mu);
    for (size_t i = 0; i < a->ntopics; i++)
        if (strcmp(a->topics[i].name, name) == 0)
            rate = api_ring_rate(&a->topics[i].ring);
    pthread_mutex_unlock(&a->sample_mu);
    return rate;
}

double api_pipeline_rate(app_api_t *a, size_t i)
{
    double rate = NAN;
    pthread_mutex_lock(&a->sample_mu);
    if (i < a->npipes)
        rate = api_ring_rate(&a->pipes[i]);
    pthread_mutex_unlock(&a->sample_mu);
    return rate;
}

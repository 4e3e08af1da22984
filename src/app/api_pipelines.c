/*
 * api_pipelines.c - GET /api/pipelines (each running pipeline: what it
 * reads and writes, its state and its figures) and GET /readyz (whether
 * this process can serve: the store answers, the broker runs, every
 * pipeline runs). docs/api.md.
 *
 * Figures come from the runtime's stats snapshots (stream_runtime_stats,
 * safe from any thread) and rates from the sampler.
 *
 * Threading: any server thread.
 */
#include "app/api.h"

#include <stdio.h>
#include <string.h>

#define REASON_MAX 512
#define REASONS    64

static void write_pipeline(app_api_t *a, core_json_writer_t *w, size_t i)
{
    stream_stats_t st;
    stream_runtime_stats(a->env.rt, i, &st);
    const char *name = stream_runtime_name(a->env.rt, i);
    const app_pipeline_t *p = api_pipeline(a, name);
    core_json_write_object_begin(w);
    api_str(w, "name", name);
    api_str(w, "kind", p != NULL ? api_kind_name(p->kind) : NULL);
    api_str(w, "topic", p != NULL ? p->topic : NULL);
    api_str(w, "view", p != NULL ? p->view : NULL);
    api_str(w, "table", p != NULL ? p->table : NULL);
    api_str(w, "state", api_pipeline_state(&st));
    api_str(w, "error", st.failed ? st.error : NULL);
    api_int(w, "lag", st.lag);
    api_time(w, "watermark", st.watermark_us);
    api_int(w, "records", st.records);
    api_int(w, "valid", st.valid);
    api_int(w, "invalid", st.invalid);
    api_int(w, "late", st.late);
    api_int(w, "filtered", st.filtered);
    api_int(w, "rows", st.rows);
    api_int(w, "anomalies", st.anomalies);
    api_int(w, "commits", st.commits);
    api_int(w, "commit_errors", st.commit_errors);
    api_int(w, "open_windows", st.open_windows);
    api_int(w, "state_bytes", st.state_bytes);
    api_int(w, "view_version", st.view_version);
    api_key(w, "rate");
    api_double(w, api_pipeline_rate(a, i));
    core_json_write_object_end(w);
}

int api_pipelines_list(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_key(w, "pipelines");
    core_json_write_array_begin(w);
    size_t n = a->env.rt != NULL ? stream_runtime_count(a->env.rt) : 0;
    for (size_t i = 0; i < n; i++)
        write_pipeline(a, w, i);
    core_json_write_array_end(w);
    core_json_write_object_end(w);
    return http_respond_json(r, 200);
}

/* ---- /readyz */

typedef struct {
    char reasons[REASONS][REASON_MAX];
    size_t n;
} reasons_t;

static void reason(reasons_t *rs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reason(reasons_t *rs, const char *fmt, ...)
{
    if (rs->n == REASONS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rs->reasons[rs->n++], REASON_MAX, fmt, ap);
    va_end(ap);
}

static void check_store(app_api_t *a, core_json_writer_t *w, reasons_t *rs)
{
    store_t *s = NULL;
    int rc = api_store_take(a, &s);
    if (rc == 0)
        rc = store_ping(s);
    api_store_give(a, s, rc);
    char text[REASON_MAX];
    snprintf(text, sizeof text, "%s%s%s", core_strerror(rc), core_error_detail()[0] ? ": " : "",
             core_error_detail());
    api_str(w, "store", rc == 0 ? "ok" : text);
    if (rc != 0)
        reason(rs, "store: %s", text);
}

static void check_pipelines(app_api_t *a, core_json_writer_t *w, reasons_t *rs)
{
    api_key(w, "pipelines");
    core_json_write_object_begin(w);
    size_t n = a->env.rt != NULL ? stream_runtime_count(a->env.rt) : 0;
    for (size_t i = 0; i < n; i++) {
        stream_stats_t st;
        stream_runtime_stats(a->env.rt, i, &st);
        const char *name = stream_runtime_name(a->env.rt, i);
        const char *state = api_pipeline_state(&st);
        api_str(w, name, state);
        if (st.failed)
            reason(rs, "pipeline %s failed: %s", name, st.error);
        else if (st.paused)
            reason(rs, "pipeline %s is paused (the store is unreachable)", name);
        else if (!st.running)
            reason(rs, "pipeline %s is not running yet", name);
    }
    core_json_write_object_end(w);
}

int api_readyz(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    static reasons_t zero;
    reasons_t *rs = core_alloc(CORE_MEM_APP, sizeof *rs);
    if (rs == NULL)
        return api_fail(r, CORE_ENOMEM, "check readiness");
    *rs = zero;
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_key(w, "checks");
    core_json_write_object_begin(w);
    check_store(a, w, rs);
    api_str(w, "broker", a->env.broker != NULL ? "ok" : "disabled");
    check_pipelines(a, w, rs);
    core_json_write_object_end(w);
    api_str(w, "status", rs->n == 0 ? "ready" : "not ready");
    if (rs->n > 0) {
        char first[REASON_MAX + 64];
        snprintf(first, sizeof first, "not ready: %s%s", rs->reasons[0],
                 rs->n > 1 ? " (and more: see reasons)" : "");
        api_str(w, "error", first);
    }
    api_key(w, "reasons");
    core_json_write_array_begin(w);
    for (size_t i = 0; i < rs->n; i++)
        core_json_write_string(w, rs->reasons[i], strlen(rs->reasons[i]));
    core_json_write_array_end(w);
    core_json_write_object_end(w);
    int status = rs->n == 0 ? 200 : 503;
    core_free(rs);
    return http_respond_json(r, status);
}

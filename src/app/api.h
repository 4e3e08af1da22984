/*
 * api.h - what `strata up` serves on its HTTP server besides health and
 * ingest (internal to app/): the REST API over topics, pipelines, views,
 * tables, anomalies, the dlq and jobs (docs/api.md), GET /readyz, GET
 * /metrics in Prometheus's text format (docs/metrics.md), and the API's
 * OpenAPI document with its HTML rendering.
 *
 *   api.c              create, routes, the store connection pool, helpers
 *   api_topics.c       /api/topics...
 *   api_pipelines.c    /api/pipelines, /readyz
 *   api_views.c        /api/views..., /api/tables/{table}
 *   api_events.c       /api/anomalies, /api/dlq..., dlq replay
 *   api_jobs.c         /api/jobs..., /api/runs/{id}
 *   openapi.json       the OpenAPI document (embedded by the build, with
 *                      scripts/embed_json.py; JSON checked at build time)
 *   metrics_app.c      GET /metrics
 *   metrics_sampler.c  a thread sampling rates and consumer-group offsets
 *   metrics_groups.c   the decoder of __consumer_offsets records
 *
 * Lifecycle: app_api_create() -> app_api_route() (before the server
 * starts) -> app_api_start() (the sampler) -> ... -> app_api_destroy()
 * after the server stopped (no handler runs any more). Everything in the
 * env is borrowed and must outlive the api object.
 *
 * Threading: handlers run on the server's threads at once. They share the
 * store pool (a mutex), the sampler's figures (a mutex) and the metrics
 * cache (a mutex); everything else they touch is read-only (the config)
 * or thread-safe (the bus, the seglog, the runtime's stats, the broker's
 * stats, the batch runner's trigger).
 */
#ifndef STRATA_APP_API_H
#define STRATA_APP_API_H

#include <pthread.h>

#include "app/http_wiring.h"
#include "http/http.h"
#include "kafka/kafka.h"
#include "store/store.h"

/* Paging caps of every list endpoint. */
#define APP_API_DEFAULT_LIMIT 100
#define APP_API_MAX_LIMIT     1000

typedef struct {
    const app_config_t *cfg;
    seglog_t *log;          /* may be NULL */
    bus_t *bus;             /* required */
    stream_runtime_t *rt;   /* may be NULL: no pipelines running */
    kafka_broker_t *broker; /* NULL: no broker in this process */
    batch_runner_t *runner; /* NULL: no jobs */
    const char *store_url;
    http_server_t *srv; /* its stats and connections, for /metrics */
    /* HTTP ingest counters for /metrics; may be NULL. */
    void (*ingest_stats)(const void *arg, app_ingest_stats_t *out);
    const void *ingest_arg;
} app_api_env_t;

typedef struct app_api app_api_t;

/* The OpenAPI document (src/app/openapi.json, embedded by the build:
 * scripts/embed_json.py): JSON text, NUL-terminated. */
extern const char app_openapi_json[];
extern const size_t app_openapi_json_len;

/* Copies env, renders the API documents. Errors: CORE_ECORRUPT (the
 * embedded document is broken), CORE_ENOMEM. */
int app_api_create(const app_api_env_t *env, app_api_t **out);
/* Adds every route of the API to srv (before it starts): the handlers
 * below, /readyz, /metrics, /api/openapi.json and /docs. */
int app_api_route(app_api_t *a, http_server_t *srv);
/* Checks that the OpenAPI document lists exactly srv's routes (call it
 * once every route is added): CORE_EINVAL with the differences. */
int app_api_check(const app_api_t *a, const http_server_t *srv);
/* Starts the sampler thread. CORE_EIO if it cannot. */
int app_api_start(app_api_t *a);
/* Stops the sampler, closes the store connections, frees a. NULL is
 * ignored. The server must be stopped first. */
void app_api_destroy(app_api_t *a);

/* ------------------------------------------------------------------------
 * Shared by the api_*.c and metrics_*.c files.
 * ------------------------------------------------------------------------ */

#define API_POOL_MAX   16 /* store connections */
#define API_RING       31 /* samples kept: one minute at API_SAMPLE_MS */
#define API_SAMPLE_MS  2000
#define API_TOPICS_MAX 1024   /* topics whose rate is sampled */
#define API_GROUPS_MAX 100000 /* committed offsets followed */

/* A ring of (time, counter) samples; rate over the last minute. */
typedef struct {
    int64_t t_ms[API_RING];
    int64_t v[API_RING];
    size_t n, head; /* head: where the next sample goes */
} api_ring_t;

typedef struct {
    char name[256];
    api_ring_t ring; /* sum of the partitions' end offsets */
} api_topic_rate_t;

/* Committed offsets of Kafka consumer groups, replayed from the broker's
 * __consumer_offsets topic by the sampler. */
typedef struct {
    char *group, *topic; /* owned */
    int32_t partition;
    int64_t offset;
} api_group_offset_t;

/* Runs of one job in one state (the job_runs table, grouped). */
#define API_JOBS_MAX      4096
#define API_JOBS_CACHE_MS 5000
typedef struct {
    char job[128];
    char state[16];
    int64_t runs;
    int64_t timed;            /* runs with a duration */
    int64_t duration_ms;      /* their durations, summed */
    int64_t last_finished_us; /* INT64_MIN: none */
} api_job_fig_t;

struct app_api {
    app_api_env_t env;
    http_docs_t *docs;

    /* The store pool: connections opened on demand, up to API_POOL_MAX. */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    store_t *conns[API_POOL_MAX];
    bool busy[API_POOL_MAX];
    size_t nconns;

    /* The sampler's figures, under sample_mu. */
    pthread_mutex_t sample_mu;
    api_topic_rate_t *topics; /* API_TOPICS_MAX slots */
    size_t ntopics;
    api_ring_t *pipes; /* one per runtime pipeline */
    size_t npipes;
    api_group_offset_t *groups;
    size_t ngroups, cap_groups;
    core_map_t *group_index;      /* group \0 topic \0 partition -> index + 1 */
    bus_reader_t *offsets_reader; /* sampler thread only */
    pthread_t sampler;
    bool sampler_started;
    int stop; /* atomic */

    /* /metrics: job figures from the store, refreshed at most every
     * API_JOBS_CACHE_MS, under metrics_mu. */
    pthread_mutex_t metrics_mu;
    api_job_fig_t *jobs; /* API_JOBS_MAX slots */
    size_t njobs;
    int64_t jobs_read_ms; /* monotonic; 0: never */
    bool jobs_ok;         /* the last read succeeded */
};

/* Takes a store connection from the pool (opening one if none is free and
 * fewer than API_POOL_MAX exist; else waits). CORE_EIO when it cannot
 * connect (detail set). */
int api_store_take(app_api_t *a, store_t **s);
/* Gives it back; a connection whose last call failed with CORE_EIO is
 * closed instead, so the next take reconnects. */
void api_store_give(app_api_t *a, store_t *s, int rc);

/* Answers an error for code rc: 400 EINVAL, 404 ENOENT, 409 EEXIST and
 * EFAILED, 413 ETOOBIG, 503 EIO and ECLOSED, else 500; the message is
 * "<what>: <strerror>: <detail>". Returns 0 once answered. */
int api_fail(http_request_t *r, int rc, const char *what);
/* Answers 400 with the thread's detail (a bad query parameter). */
int api_bad_request(http_request_t *r);

/* A query parameter as a time: ISO 8601 or epoch milliseconds, in
 * microseconds; def when absent. CORE_EINVAL (detail set) otherwise. */
int api_query_time(http_request_t *r, const char *name, int64_t def, int64_t *us);

/* JSON helpers on core's writer: a key then the value. */
void api_key(core_json_writer_t *w, const char *key);
void api_str(core_json_writer_t *w, const char *key, const char *s); /* NULL -> null */
void api_int(core_json_writer_t *w, const char *key, int64_t v);
void api_time(core_json_writer_t *w, const char *key, int64_t us); /* ISO 8601; INT64_MIN -> null */
/* A double; NaN and infinities as null. */
void api_double(core_json_writer_t *w, double v);
/* Bytes as text: a string when p[0..n) is UTF-8, else its base64. Returns
 * "text" or "base64" (static); NULL p writes null and returns "null". */
const char *api_bytes(core_json_writer_t *w, const char *p, size_t n);
/* Bytes that may hold JSON: the JSON itself when p[0..n) is a valid JSON
 * document (of any type), else as api_bytes. Returns "json", "text",
 * "base64" or "null". */
const char *api_json_or_bytes(core_json_writer_t *w, const char *p, size_t n);
/* One store value: ints, doubles, booleans, strings (api_bytes), JSON
 * text (SCHEMA_OBJECT, SCHEMA_ARRAY) raw, timestamps as ISO 8601. */
void api_value(core_json_writer_t *w, const schema_value_t *v);

/* A store row's value as an integer (ints, floats, bools); def otherwise. */
int64_t api_row_int(const schema_value_t *v, int64_t def);

/* The config's pipeline named `name`, or NULL. */
const app_pipeline_t *api_pipeline(const app_api_t *a, const char *name);
/* The name of a pipeline kind as configs write it. Static. */
const char *api_kind_name(app_pipe_kind_t k);

/* Rates: adds a sample; the rate per second over the last minute, or NAN
 * when there are fewer than two samples. */
void api_ring_add(api_ring_t *r, int64_t t_ms, int64_t v);
double api_ring_rate(const api_ring_t *r);
/* The current rate of topic `name` (NAN if unknown) and of pipeline i. */
double api_topic_rate(app_api_t *a, const char *name);
double api_pipeline_rate(app_api_t *a, size_t i);

/* The pipeline state a runtime's stats say: "failed", "paused", "running"
 * or "starting". */
const char *api_pipeline_state(const stream_stats_t *st);

/* ---- Handlers (each answers exactly once). */
int api_topics_list(http_request_t *r, void *arg);
int api_topic_get(http_request_t *r, void *arg);
int api_topic_records(http_request_t *r, void *arg);
int api_pipelines_list(http_request_t *r, void *arg);
int api_readyz(http_request_t *r, void *arg);
int api_views_list(http_request_t *r, void *arg);
int api_view_query(http_request_t *r, void *arg);
int api_table_rows(http_request_t *r, void *arg);
int api_anomalies_list(http_request_t *r, void *arg);
int api_dlq_list(http_request_t *r, void *arg);
int api_dlq_replay(http_request_t *r, void *arg);
int api_jobs_list(http_request_t *r, void *arg);
int api_job_runs(http_request_t *r, void *arg);
int api_job_trigger(http_request_t *r, void *arg);
int api_run_get(http_request_t *r, void *arg);
int api_metrics(http_request_t *r, void *arg);

/* ---- The sampler (metrics_sampler.c). */
int api_sampler_start(app_api_t *a);
void api_sampler_stop(app_api_t *a);
/* Copies the consumer groups' committed offsets (under the lock); *out is
 * owned by the caller (api_groups_free). */
int api_groups_copy(app_api_t *a, api_group_offset_t **out, size_t *n);
void api_groups_free(api_group_offset_t *g, size_t n);

/* ---- __consumer_offsets records (metrics_groups.c). Pure; thread-safe. */
typedef struct {
    const char *group; /* borrowed from the key */
    size_t group_len;
    const char *topic;
    size_t topic_len;
    int32_t partition;
    bool tombstone; /* the offset was deleted */
    int64_t offset;
} api_group_commit_t;

/* Decodes one record of __consumer_offsets (Kafka's layout: key int16
 * version, then for versions 0 and 1 string group, string topic, int32
 * partition; value int16 version 0..3 then int64 offset; a null value is
 * a tombstone). Returns 1 for an offset commit (out filled), 0 for a
 * record of another kind (group metadata, key version 2), CORE_ECORRUPT
 * for bytes that do not decode (every length is checked against the
 * input). */
int api_group_record_decode(const void *key, size_t klen, const void *value, size_t vlen,
                            api_group_commit_t *out);

#endif /* STRATA_APP_API_H */

/*
 * metrics_app.c - GET /metrics: strata's figures in Prometheus's text
 * format 0.0.4 (docs/metrics.md lists every family).
 *
 * Sources, all read at scrape time except the jobs:
 *   build and memory      STRATA_VERSION, core_mem_stats per subsystem
 *   topics                the bus's offsets, the seglog's sizes
 *   broker                kafka_broker_stats; consumer groups' committed
 *                         offsets from the sampler (metrics_sampler.c)
 *   pipelines             stream_runtime_stats snapshots
 *   jobs                  the job_runs table, grouped, re-read at most
 *                         every API_JOBS_CACHE_MS (under metrics_mu), so
 *                         scrapes do not load the store
 *   HTTP                  http_server_stats, the ingest's counters
 *
 * The append-to-commit latency histogram comes from the runtime's
 * power-of-two millisecond buckets: bucket i counts latencies below 2^i
 * ms (the last one everything above), so its upper bound is 2^i ms, le =
 * 2^i / 1000 seconds; the last bucket is +Inf.
 *
 * Threading: any server thread; the job cache is shared under metrics_mu.
 */
#include "app/api.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define EXPOSITION_MAX  (64u << 20)
#define LATENCY_BUCKETS 20

typedef struct {
    http_prom_t p;
    app_api_t *a;
} scrape_t;

typedef http_prom_label_t label_t;

/* ---- Build, memory. */

static void write_process(scrape_t *s)
{
    http_prom_t *p = &s->p;
    http_prom_family(p, "strata_build_info", HTTP_PROM_GAUGE, "strata's version; always 1");
    http_prom_int(p, (label_t[]){{"version", STRATA_VERSION}}, 1, 1);
    core_mem_stats_t m[CORE_MEM__COUNT];
    for (int t = 0; t < CORE_MEM__COUNT; t++)
        core_mem_stats((core_mem_tag_t)t, &m[t]);
    http_prom_family(p, "strata_memory_bytes", HTTP_PROM_GAUGE,
                     "Heap bytes held now, by subsystem (the accounted allocator)");
    for (int t = 0; t < CORE_MEM__COUNT; t++)
        http_prom_int(p, (label_t[]){{"subsystem", core_mem_tag_name((core_mem_tag_t)t)}}, 1,
                      m[t].bytes);
    http_prom_family(p, "strata_memory_allocations", HTTP_PROM_GAUGE,
                     "Heap blocks held now, by subsystem");
    for (int t = 0; t < CORE_MEM__COUNT; t++)
        http_prom_int(p, (label_t[]){{"subsystem", core_mem_tag_name((core_mem_tag_t)t)}}, 1,
                      m[t].allocs);
    http_prom_family(p, "strata_memory_allocations_total", HTTP_PROM_COUNTER,
                     "Heap blocks allocated since the start, by subsystem");
    for (int t = 0; t < CORE_MEM__COUNT; t++)
        http_prom_int(p, (label_t[]){{"subsystem", core_mem_tag_name((core_mem_tag_t)t)}}, 1,
                      m[t].total_allocs);
}

/* ---- Topics. */

typedef struct {
    char *topic;
    int32_t partition;
    int64_t start, end, bytes;
    seglog_traffic_t traffic; /* zero without the embedded log */
} tp_t;

typedef struct {
    tp_t *v;
    size_t n, cap;
    char **names;
    size_t nnames;
    int32_t *counts; /* per name */
} topics_t;

static void topics_fini(topics_t *t, bool from_log)
{
    if (from_log)
        seglog_names_free(t->names, t->nnames);
    else
        core_free(t->names);
    core_free(t->v);
    core_free(t->counts);
}

static int tp_add(topics_t *t, const tp_t *e)
{
    if (t->n == t->cap) {
        size_t cap = t->cap == 0 ? 64 : t->cap * 2;
        tp_t *v = core_realloc(CORE_MEM_APP, t->v, cap * sizeof *v);
        if (v == NULL)
            return CORE_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n++] = *e;
    return 0;
}

/* A partition's size and traffic, pinned: the broker may delete the topic
 * meanwhile (then nothing is filled in). */
static void part_figures(seglog_t *log, const char *topic, int32_t p, tp_t *e)
{
    seglog_pin(log);
    seglog_topic_t *st = seglog_topic_get(log, topic);
    seglog_part_t *sp = st != NULL ? seglog_partition(st, p) : NULL;
    if (sp != NULL) {
        seglog_part_info_t info;
        seglog_part_info(sp, &info);
        e->bytes = info.size_bytes;
        seglog_part_traffic(sp, &e->traffic);
    }
    seglog_unpin(log);
}

/* Every partition of every visible topic, with offsets and size. */
static int collect_topics(app_api_t *a, topics_t *t, bool *from_log)
{
    *from_log = a->env.log != NULL;
    int rc = 0;
    if (*from_log) {
        rc = seglog_topic_names(a->env.log, &t->names, &t->nnames);
    } else {
        const app_config_t *cfg = a->env.cfg;
        t->names = core_calloc(CORE_MEM_APP, cfg->n_topics + 1, sizeof *t->names);
        rc = t->names == NULL ? CORE_ENOMEM : 0;
        for (size_t i = 0; rc == 0 && i < cfg->n_topics; i++)
            if (cfg->topics[i].name != NULL)
                t->names[t->nnames++] = cfg->topics[i].name;
    }
    t->counts = rc == 0 ? core_calloc(CORE_MEM_APP, t->nnames + 1, sizeof *t->counts) : NULL;
    if (rc == 0 && t->counts == NULL)
        rc = CORE_ENOMEM;
    for (size_t i = 0; rc == 0 && i < t->nnames; i++) {
        const char *name = t->names[i];
        if (strncmp(name, "__", 2) == 0 || bus_partitions(a->env.bus, name, &t->counts[i]) != 0)
            continue;
        for (int32_t p = 0; rc == 0 && p < t->counts[i]; p++) {
            tp_t e = {.topic = (char *)name, .partition = p};
            if (bus_offsets(a->env.bus, name, p, &e.start, &e.end) != 0)
                continue;
            if (*from_log)
                part_figures(a->env.log, name, p, &e);
            rc = tp_add(t, &e);
        }
    }
    core_error_clear();
    return rc;
}

static void write_topic_series(http_prom_t *p, const topics_t *t, int what)
{
    for (size_t i = 0; i < t->n; i++) {
        const tp_t *e = &t->v[i];
        char part[16];
        snprintf(part, sizeof part, "%d", e->partition);
        label_t l[2] = {{"topic", e->topic}, {"partition", part}};
        const int64_t v[] = {e->end,
                             e->end - e->start,
                             e->bytes,
                             e->traffic.in_bytes,
                             e->traffic.out_records,
                             e->traffic.out_bytes};
        http_prom_int(p, l, 2, v[what]);
    }
}

static int write_topics(scrape_t *s)
{
    http_prom_t *p = &s->p;
    topics_t t = {0};
    bool from_log;
    int rc = collect_topics(s->a, &t, &from_log);
    if (rc == 0) {
        http_prom_family(p, "strata_topic_partitions", HTTP_PROM_GAUGE, "Partitions of a topic");
        for (size_t i = 0; i < t.nnames; i++)
            if (t.counts[i] > 0)
                http_prom_int(p, (label_t[]){{"topic", t.names[i]}}, 1, t.counts[i]);
        http_prom_family(p, "strata_topic_records_produced_total", HTTP_PROM_COUNTER,
                         "Records appended to a partition since it was created (its end offset)");
        write_topic_series(p, &t, 0);
        http_prom_family(p, "strata_topic_stored_records", HTTP_PROM_GAUGE,
                         "Records a partition holds now (end offset - start offset)");
        write_topic_series(p, &t, 1);
        if (from_log) {
            http_prom_family(p, "strata_topic_size_bytes", HTTP_PROM_GAUGE,
                             "Bytes of a partition's segments on disk");
            write_topic_series(p, &t, 2);
            http_prom_family(p, "strata_topic_bytes_produced_total", HTTP_PROM_COUNTER,
                             "Bytes of record batches appended to a partition since the start");
            write_topic_series(p, &t, 3);
            http_prom_family(p, "strata_topic_records_consumed_total", HTTP_PROM_COUNTER,
                             "Records in the batches handed to consumers (Kafka fetches, "
                             "pipelines, sinks) since the start");
            write_topic_series(p, &t, 4);
            http_prom_family(p, "strata_topic_bytes_consumed_total", HTTP_PROM_COUNTER,
                             "Bytes of the record batches handed to consumers since the start");
            write_topic_series(p, &t, 5);
        }
    }
    topics_fini(&t, from_log);
    return rc;
}

/* ---- The broker. */

static const struct {
    int key;
    const char *name;
} KAFKA_APIS[] = {
    {KAFKA_API_PRODUCE, "Produce"},
    {KAFKA_API_FETCH, "Fetch"},
    {KAFKA_API_LIST_OFFSETS, "ListOffsets"},
    {KAFKA_API_METADATA, "Metadata"},
    {KAFKA_API_OFFSET_COMMIT, "OffsetCommit"},
    {KAFKA_API_OFFSET_FETCH, "OffsetFetch"},
    {KAFKA_API_FIND_COORDINATOR, "FindCoordinator"},
    {KAFKA_API_JOIN_GROUP, "JoinGroup"},
    {KAFKA_API_HEARTBEAT, "Heartbeat"},
    {KAFKA_API_LEAVE_GROUP, "LeaveGroup"},
    {KAFKA_API_SYNC_GROUP, "SyncGroup"},
    {KAFKA_API_DESCRIBE_GROUPS, "DescribeGroups"},
    {KAFKA_API_LIST_GROUPS, "ListGroups"},
    {KAFKA_API_API_VERSIONS, "ApiVersions"},
    {KAFKA_API_CREATE_TOPICS, "CreateTopics"},
    {KAFKA_API_DELETE_TOPICS, "DeleteTopics"},
    {KAFKA_API_INIT_PRODUCER_ID, "InitProducerId"},
};

static void family_int(http_prom_t *p, const char *name, http_prom_type_t type, const char *help,
                       int64_t v)
{
    http_prom_family(p, name, type, help);
    http_prom_int(p, NULL, 0, v);
}

static void write_reasons(http_prom_t *p, const char *name, const char *help,
                          const char *const *reasons, const int64_t *values, size_t n)
{
    http_prom_family(p, name, HTTP_PROM_COUNTER, help);
    for (size_t i = 0; i < n; i++)
        http_prom_int(p, (label_t[]){{"reason", reasons[i]}}, 1, values[i]);
}

static void write_broker(scrape_t *s)
{
    http_prom_t *p = &s->p;
    kafka_stats_t k;
    kafka_broker_stats(s->a->env.broker, &k);
    http_prom_family(p, "strata_kafka_requests_total", HTTP_PROM_COUNTER,
                     "Kafka requests served, by API");
    for (size_t i = 0; i < CORE_ARRAY_LEN(KAFKA_APIS); i++)
        http_prom_int(p, (label_t[]){{"api", KAFKA_APIS[i].name}}, 1,
                      k.requests[KAFKA_APIS[i].key]);
    http_prom_family(p, "strata_kafka_request_errors_total", HTTP_PROM_COUNTER,
                     "Kafka responses carrying an error code, by API");
    for (size_t i = 0; i < CORE_ARRAY_LEN(KAFKA_APIS); i++)
        http_prom_int(p, (label_t[]){{"api", KAFKA_APIS[i].name}}, 1, k.errors[KAFKA_APIS[i].key]);
    static const char *const REQ[] = {"unsupported", "malformed", "oversized"};
    write_reasons(
        p, "strata_kafka_rejected_requests_total",
        "Kafka requests refused: unknown API or version, unparsable (connection "
        "closed), over the size cap (connection closed)",
        REQ, (int64_t[]){k.unsupported_requests, k.malformed_requests, k.oversized_requests}, 3);
    static const char *const BATCH[] = {"corrupt", "oversized", "duplicate"};
    write_reasons(p, "strata_kafka_rejected_batches_total",
                  "Produced batches not appended: CRC or format errors, over the topic's "
                  "size, idempotent retries already appended",
                  BATCH, (int64_t[]){k.corrupt_batches, k.oversized_batches, k.duplicate_batches},
                  3);
    family_int(p, "strata_kafka_connections", HTTP_PROM_GAUGE, "Kafka client connections open",
               k.connections);
    static const char *const CONN[] = {"limit", "idle"};
    write_reasons(p, "strata_kafka_closed_connections_total",
                  "Kafka connections refused over max_connections or closed when idle", CONN,
                  (int64_t[]){k.rejected_connections, k.idle_closed}, 2);
    family_int(p, "strata_kafka_produced_records_total", HTTP_PROM_COUNTER,
               "Records appended through the Kafka protocol", k.records_in);
    family_int(p, "strata_kafka_received_bytes_total", HTTP_PROM_COUNTER,
               "Bytes read from Kafka clients", k.bytes_in);
    family_int(p, "strata_kafka_sent_bytes_total", HTTP_PROM_COUNTER, "Bytes sent to Kafka clients",
               k.bytes_out);
}

static int write_groups(scrape_t *s)
{
    http_prom_t *p = &s->p;
    api_group_offset_t *g = NULL;
    size_t n = 0;
    int rc = api_groups_copy(s->a, &g, &n);
    if (rc != 0)
        return rc;
    for (int what = 0; what < 2; what++) {
        http_prom_family(p,
                         what == 0 ? "strata_kafka_consumer_group_committed_offset"
                                   : "strata_kafka_consumer_group_lag",
                         HTTP_PROM_GAUGE,
                         what == 0 ? "Offset a Kafka consumer group committed for a partition"
                                   : "Records of a partition after a Kafka consumer group's "
                                     "committed offset (end offset - committed)");
        for (size_t i = 0; i < n; i++) {
            int64_t start, end;
            if (bus_offsets(s->a->env.bus, g[i].topic, g[i].partition, &start, &end) != 0)
                continue; /* a topic deleted since */
            char part[16];
            snprintf(part, sizeof part, "%d", g[i].partition);
            label_t l[3] = {{"group", g[i].group}, {"topic", g[i].topic}, {"partition", part}};
            http_prom_int(p, l, 3, what == 0 ? g[i].offset : CORE_MAX(end - g[i].offset, 0));
        }
    }
    core_error_clear();
    api_groups_free(g, n);
    return 0;
}

/* ---- Pipelines. */

typedef struct {
    const char *name;
    const char *help;
    size_t off; /* of an int64_t in stream_stats_t */
} pipe_counter_t;

static const pipe_counter_t PIPE_COUNTERS[] = {
    {"strata_pipeline_valid_total", "Records that decoded and passed validation",
     offsetof(stream_stats_t, valid)},
    {"strata_pipeline_invalid_total", "Records sent to the dlq by decoding or validation",
     offsetof(stream_stats_t, invalid)},
    {"strata_pipeline_late_total", "Records sent to the dlq as late",
     offsetof(stream_stats_t, late)},
    {"strata_pipeline_filtered_total", "Records dropped by the pipeline's filter",
     offsetof(stream_stats_t, filtered)},
    {"strata_pipeline_rows_total", "Table or view rows written (sinks: rows made durable)",
     offsetof(stream_stats_t, rows)},
    {"strata_pipeline_anomalies_total", "Anomaly rows written",
     offsetof(stream_stats_t, anomalies)},
    {"strata_pipeline_commits_total", "Store commits", offsetof(stream_stats_t, commits)},
    {"strata_pipeline_commit_errors_total", "Store commits that failed (and were retried)",
     offsetof(stream_stats_t, commit_errors)},
};

static const pipe_counter_t PIPE_GAUGES[] = {
    {"strata_pipeline_lag_records", "Records of the pipeline's topic not yet committed",
     offsetof(stream_stats_t, lag)},
    {"strata_pipeline_open_windows", "Windows open in memory",
     offsetof(stream_stats_t, open_windows)},
    {"strata_pipeline_state_bytes", "Bytes of keyed state in memory (windows, detectors)",
     offsetof(stream_stats_t, state_bytes)},
};

typedef struct {
    const char *name;
    const app_pipeline_t *cfg;
    stream_stats_t st;
} pipe_t;

static int64_t field(const stream_stats_t *st, size_t off)
{
    int64_t v;
    memcpy(&v, (const char *)st + off, sizeof v);
    return v;
}

static void write_pipe_info(http_prom_t *p, const pipe_t *ps, size_t n)
{
    http_prom_family(p, "strata_pipeline_info", HTTP_PROM_GAUGE,
                     "A pipeline's kind, topic and output; always 1");
    for (size_t i = 0; i < n; i++) {
        const app_pipeline_t *c = ps[i].cfg;
        const char *out = c == NULL ? "" : c->view != NULL ? c->view : c->table;
        label_t l[4] = {{"pipeline", ps[i].name},
                        {"kind", c != NULL ? api_kind_name(c->kind) : ""},
                        {"topic", c != NULL && c->topic != NULL ? c->topic : ""},
                        {"output", out != NULL ? out : ""}};
        http_prom_int(p, l, 4, 1);
    }
    static const char *const STATES[] = {"running", "paused", "failed", "starting"};
    http_prom_family(p, "strata_pipeline_state", HTTP_PROM_GAUGE,
                     "1 for the state a pipeline is in, 0 for the others");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < CORE_ARRAY_LEN(STATES); k++)
            http_prom_int(p, (label_t[]){{"pipeline", ps[i].name}, {"state", STATES[k]}}, 2,
                          strcmp(api_pipeline_state(&ps[i].st), STATES[k]) == 0);
    http_prom_family(p, "strata_pipeline_records_total", HTTP_PROM_COUNTER,
                     "Records a pipeline consumed from its topic");
    for (size_t i = 0; i < n; i++) {
        const char *topic = ps[i].cfg != NULL && ps[i].cfg->topic != NULL ? ps[i].cfg->topic : "";
        http_prom_int(p, (label_t[]){{"pipeline", ps[i].name}, {"topic", topic}}, 2,
                      ps[i].st.records);
    }
}

static void write_pipe_figures(http_prom_t *p, const pipe_t *ps, size_t n)
{
    for (size_t f = 0; f < CORE_ARRAY_LEN(PIPE_COUNTERS); f++) {
        http_prom_family(p, PIPE_COUNTERS[f].name, HTTP_PROM_COUNTER, PIPE_COUNTERS[f].help);
        for (size_t i = 0; i < n; i++)
            http_prom_int(p, (label_t[]){{"pipeline", ps[i].name}}, 1,
                          field(&ps[i].st, PIPE_COUNTERS[f].off));
    }
    for (size_t f = 0; f < CORE_ARRAY_LEN(PIPE_GAUGES); f++) {
        http_prom_family(p, PIPE_GAUGES[f].name, HTTP_PROM_GAUGE, PIPE_GAUGES[f].help);
        for (size_t i = 0; i < n; i++)
            http_prom_int(p, (label_t[]){{"pipeline", ps[i].name}}, 1,
                          field(&ps[i].st, PIPE_GAUGES[f].off));
    }
    http_prom_family(p, "strata_pipeline_watermark_seconds", HTTP_PROM_GAUGE,
                     "The lowest partition watermark, in seconds since the epoch (absent until "
                     "the first event)");
    for (size_t i = 0; i < n; i++)
        if (ps[i].st.watermark_us != INT64_MIN)
            http_prom_double(p, (label_t[]){{"pipeline", ps[i].name}}, 1,
                             (double)ps[i].st.watermark_us / 1e6);
}

static void write_pipe_times(http_prom_t *p, const pipe_t *ps, size_t n)
{
    double bounds[LATENCY_BUCKETS - 1];
    for (int b = 0; b < LATENCY_BUCKETS - 1; b++)
        bounds[b] = (double)STREAM_LATENCY_BOUND_MS(b) / 1000.0;
    http_prom_family(p, "strata_pipeline_latency_seconds", HTTP_PROM_HISTOGRAM,
                     "Time from a record's append to the store commit that holds its result");
    for (size_t i = 0; i < n; i++)
        http_prom_histogram(p, (label_t[]){{"pipeline", ps[i].name}}, 1, bounds,
                            ps[i].st.latency_buckets, LATENCY_BUCKETS - 1,
                            (double)ps[i].st.latency_ms_total / 1000.0);
    http_prom_family(p, "strata_pipeline_commit_duration_seconds", HTTP_PROM_SUMMARY,
                     "Time spent in store commits (the transaction of results and offsets)");
    for (size_t i = 0; i < n; i++)
        http_prom_summary(p, (label_t[]){{"pipeline", ps[i].name}}, 1,
                          (double)ps[i].st.commit_us_total / 1e6, ps[i].st.commits);
}

static int write_pipelines(scrape_t *s)
{
    app_api_t *a = s->a;
    size_t n = a->env.rt != NULL ? stream_runtime_count(a->env.rt) : 0;
    pipe_t *ps = core_calloc(CORE_MEM_APP, n + 1, sizeof *ps);
    if (ps == NULL)
        return core_error(CORE_ENOMEM, "metrics: out of memory");
    for (size_t i = 0; i < n; i++) {
        ps[i].name = stream_runtime_name(a->env.rt, i);
        ps[i].cfg = api_pipeline(a, ps[i].name);
        stream_runtime_stats(a->env.rt, i, &ps[i].st);
    }
    write_pipe_info(&s->p, ps, n);
    write_pipe_figures(&s->p, ps, n);
    write_pipe_times(&s->p, ps, n);
    core_free(ps);
    return 0;
}

/* ---- Jobs (cached). */

static int job_fig_row(void *arg, const schema_value_t *v, size_t n)
{
    app_api_t *a = arg;
    if (n < 6 || a->njobs == API_JOBS_MAX || v[0].type != SCHEMA_STRING ||
        v[1].type != SCHEMA_STRING)
        return 0;
    api_job_fig_t *f = &a->jobs[a->njobs++];
    snprintf(f->job, sizeof f->job, "%.*s", (int)CORE_MIN(v[0].v.s.len, sizeof f->job - 1),
             v[0].v.s.p);
    snprintf(f->state, sizeof f->state, "%.*s", (int)CORE_MIN(v[1].v.s.len, sizeof f->state - 1),
             v[1].v.s.p);
    f->runs = api_row_int(&v[2], 0);
    f->duration_ms = api_row_int(&v[3], 0);
    f->timed = api_row_int(&v[4], 0);
    f->last_finished_us = api_row_int(&v[5], INT64_MIN);
    return 0;
}

/* Re-reads the job figures when the cache is older than API_JOBS_CACHE_MS.
 * Under metrics_mu. */
static void refresh_jobs(app_api_t *a)
{
    int64_t now = core_mono_ms();
    if (a->jobs_read_ms != 0 && now - a->jobs_read_ms < API_JOBS_CACHE_MS)
        return;
    a->jobs_read_ms = now;
    a->njobs = 0;
    store_t *s = NULL;
    int rc = api_store_take(a, &s);
    if (rc == 0)
        rc = store_exec(s,
                        "SELECT \"job\", \"state\", COUNT(*), COALESCE(SUM(\"duration_ms\"), 0), "
                        "COUNT(\"duration_ms\"), MAX(\"finished_at\") FROM \"job_runs\" "
                        "GROUP BY \"job\", \"state\" ORDER BY \"job\", \"state\"",
                        NULL, 0, job_fig_row, a, NULL);
    api_store_give(a, s, rc);
    a->jobs_ok = rc == 0;
    if (rc != 0) {
        a->njobs = 0;
        core_log(CORE_LOG_WARN, "api", "metrics: reading job_runs: %s", core_error_detail());
    }
    core_error_clear();
}

static void write_jobs(scrape_t *s)
{
    http_prom_t *p = &s->p;
    app_api_t *a = s->a;
    pthread_mutex_lock(&a->metrics_mu);
    refresh_jobs(a);
    family_int(p, "strata_store_up", HTTP_PROM_GAUGE,
               "1 if the last read of the serving store for these metrics succeeded",
               a->jobs_ok ? 1 : 0);
    http_prom_family(p, "strata_job_runs", HTTP_PROM_GAUGE,
                     "Runs of a job in the job_runs table, by state");
    for (size_t i = 0; i < a->njobs; i++)
        http_prom_int(p, (label_t[]){{"job", a->jobs[i].job}, {"state", a->jobs[i].state}}, 2,
                      a->jobs[i].runs);
    http_prom_family(p, "strata_job_run_duration_seconds", HTTP_PROM_SUMMARY,
                     "Durations of a job's finished runs, by state");
    for (size_t i = 0; i < a->njobs; i++)
        if (a->jobs[i].timed > 0)
            http_prom_summary(p, (label_t[]){{"job", a->jobs[i].job}, {"state", a->jobs[i].state}},
                              2, (double)a->jobs[i].duration_ms / 1000.0, a->jobs[i].timed);
    http_prom_family(p, "strata_job_last_success_timestamp_seconds", HTTP_PROM_GAUGE,
                     "When a job's latest completed run finished, in seconds since the epoch");
    for (size_t i = 0; i < a->njobs; i++)
        if (strcmp(a->jobs[i].state, "completed") == 0 && a->jobs[i].last_finished_us != INT64_MIN)
            http_prom_double(p, (label_t[]){{"job", a->jobs[i].job}}, 1,
                             (double)a->jobs[i].last_finished_us / 1e6);
    pthread_mutex_unlock(&a->metrics_mu);
}

/* ---- HTTP. */

static void write_http(scrape_t *s)
{
    http_prom_t *p = &s->p;
    const app_api_env_t *env = &s->a->env;
    http_stats_t h;
    http_server_stats(env->srv, &h);
    family_int(p, "strata_http_requests_total", HTTP_PROM_COUNTER,
               "HTTP requests that reached the router", h.requests);
    http_prom_family(p, "strata_http_responses_total", HTTP_PROM_COUNTER,
                     "HTTP answers, by status class");
    static const char *const CLASSES[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int c = 1; c <= 5; c++)
        http_prom_int(p, (label_t[]){{"code", CLASSES[c - 1]}}, 1, h.responses[c]);
    family_int(p, "strata_http_request_body_bytes_total", HTTP_PROM_COUNTER,
               "HTTP request body bytes accepted", h.body_bytes);
    static const char *const REASONS[] = {"body_too_large", "not_found", "bad_method",
                                          "handler_error", "unauthorized"};
    write_reasons(p, "strata_http_rejected_requests_total",
                  "HTTP requests answered by the server itself: 413, 404 and 405 from the "
                  "router, 500 for a handler that did not answer, 401 without the token",
                  REASONS,
                  (int64_t[]){h.oversized_bodies, h.not_found, h.bad_method, h.handler_errors,
                              h.unauthorized},
                  5);
    family_int(p, "strata_http_connections", HTTP_PROM_GAUGE, "HTTP connections open",
               http_server_connections(env->srv));
    if (env->ingest_stats == NULL)
        return;
    app_ingest_stats_t in;
    env->ingest_stats(env->ingest_arg, &in);
    family_int(p, "strata_http_ingest_records_total", HTTP_PROM_COUNTER,
               "Records appended through POST /topics/{topic}/records", in.records_written);
    family_int(p, "strata_http_ingest_rejected_records_total", HTTP_PROM_COUNTER,
               "Records of ingest requests that failed their checks (422)", in.records_rejected);
    family_int(p, "strata_http_ingest_rejected_requests_total", HTTP_PROM_COUNTER,
               "Ingest requests answered 4xx", in.requests_rejected);
    family_int(p, "strata_http_ingest_write_errors_total", HTTP_PROM_COUNTER,
               "Ingest requests whose write failed (5xx)", in.write_errors);
}

int api_metrics(http_request_t *r, void *arg)
{
    scrape_t s = {.a = arg};
    core_buf_t out;
    core_buf_init(&out, CORE_MEM_APP, EXPOSITION_MAX);
    int rc = http_prom_init(&s.p, &out);
    if (rc == 0) {
        write_process(&s);
        rc = write_topics(&s);
    }
    if (rc == 0 && s.a->env.broker != NULL) {
        write_broker(&s);
        rc = write_groups(&s);
    }
    if (rc == 0)
        rc = write_pipelines(&s);
    if (rc == 0) {
        write_jobs(&s);
        write_http(&s);
        rc = http_prom_finish(&s.p);
    }
    http_prom_fini(&s.p);
    if (rc != 0) {
        core_buf_fini(&out);
        return api_fail(r, rc, "write the metrics");
    }
    rc = http_respond(r, 200, HTTP_PROM_CONTENT_TYPE, out.data != NULL ? (void *)out.data : "",
                      out.len);
    core_buf_fini(&out);
    return rc;
}

/*
 * bench_stream: the speed layer's throughput and latency, each figure
 * beside its reference from the same run.
 *
 *   1. events/s on one core (the calling thread) for three pipelines over a
 *      seglog topic of generated ~100-byte stock-tick JSON events:
 *        (a) a table pipeline into SQLite,
 *        (b) a tumbling 1-minute OHLC aggregate per symbol,
 *        (c) a hopping 10 s / 2 s count per symbol;
 *   2. DuckDB (npm @duckdb/node-api, 1 thread) computing (b) from the same
 *      events written as NDJSON, and (b) / DuckDB;
 *   3. with --pg URL: rows/s of the table pipeline into PostgreSQL beside a
 *      bare COPY of the same rows into a keyed table (timed from the COPY
 *      statement to the server's answer, its text made beforehand);
 *   4. append-to-commit latency p50/p99 at 10k events/s with a 50 ms commit
 *      interval.
 *
 * Usage: bench_stream [--events N] [--pg URL] [--pg-events N] [--dir DIR]
 *                     [--node-dir DIR] [--quick]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "bench_common.h"
#include "bus/bus.h"
#include "seglog/seglog.h"
#include "stream/stream.h"

#define SYMBOLS     100
#define PARTITIONS  4
#define BATCH       1000
#define BASE_MS     1795341600000LL /* 2026-11-22T10:00:00Z */
#define LAT_RATE    10000
#define LAT_SECONDS 10

typedef struct {
    int64_t events, pg_events;
    const char *pg, *dir, *node_dir;
    bool quick;
} opts_t;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- The dataset. */

typedef struct {
    uint64_t rng;
    double price[SYMBOLS];
    int64_t i;
} ticks_t;

static uint64_t next_rand(ticks_t *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

typedef struct {
    int sym;
    double price;
    int volume;
    int64_t ms;
} tick_t;

/* One tick as JSON into buf; returns its length. *t (may be NULL) gets the
 * values. */
static int tick_json(ticks_t *g, char *buf, size_t n, tick_t *t)
{
    int s = (int)(next_rand(g) % SYMBOLS);
    double u = (double)(next_rand(g) % 2001) / 1000.0 - 1.0;
    g->price[s] *= 1.0 + u * 0.001;
    int64_t ms = BASE_MS + g->i++ - (int64_t)(next_rand(g) % 500);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    double p = g->price[s];
    int vol = 1 + (int)(next_rand(g) % 1000);
    if (t != NULL)
        *t = (tick_t){s, p, vol, ms};
    return snprintf(buf, n,
                    "{\"symbol\":\"SYM%03d\",\"price\":%.2f,\"bid\":%.2f,\"ask\":%.2f,"
                    "\"volume\":%d,\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"}",
                    s, p, p - 0.01, p + 0.01, vol, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

typedef struct {
    bus_message_t msgs[BATCH];
    char text[BATCH][160];
    size_t n;
} pending_t;

static int flush_part(bus_t *bus, const char *topic, int32_t p, pending_t *q)
{
    int rc = q->n > 0 ? bus_produce(bus, topic, p, q->msgs, q->n, false, NULL) : 0;
    q->n = 0;
    return rc;
}

/* Produces `events` ticks into topic (symbols keep to one partition) and,
 * when ndjson is set, writes them there too. */
static int produce_ticks(bus_t *bus, const char *topic, int64_t events, const char *ndjson)
{
    static pending_t q[PARTITIONS];
    ticks_t g = {.rng = 0x9e3779b97f4a7c15ull};
    for (int s = 0; s < SYMBOLS; s++)
        g.price[s] = 50.0 + s;
    FILE *f = ndjson != NULL ? fopen(ndjson, "w") : NULL;
    if (ndjson != NULL && f == NULL)
        return CORE_EIO;
    int rc = 0;
    for (int64_t i = 0; i < events && rc == 0; i++) {
        tick_t t;
        char buf[160];
        int len = tick_json(&g, buf, sizeof buf, &t);
        int32_t p = t.sym % PARTITIONS;
        pending_t *pq = &q[p];
        memcpy(pq->text[pq->n], buf, (size_t)len);
        pq->msgs[pq->n] = (bus_message_t){
            .value = pq->text[pq->n], .value_len = (size_t)len, .timestamp_ms = BASE_MS + i};
        if (++pq->n == BATCH)
            rc = flush_part(bus, topic, p, pq);
        if (f != NULL)
            fprintf(f, "%.*s\n", len, buf);
    }
    for (int32_t p = 0; p < PARTITIONS && rc == 0; p++)
        rc = flush_part(bus, topic, p, &q[p]);
    if (f != NULL && fclose(f) != 0)
        rc = CORE_EIO;
    return rc;
}

/* ---- Pipelines. */

static schema_t *tick_schema(void)
{
    schema_t *s = NULL;
    const struct {
        const char *name;
        schema_type_t type;
        bool required;
    } fields[] = {
        {"symbol", SCHEMA_STRING, true}, {"price", SCHEMA_FLOAT, true},
        {"bid", SCHEMA_FLOAT, false},    {"ask", SCHEMA_FLOAT, false},
        {"volume", SCHEMA_INT, true},    {"ts", SCHEMA_TIMESTAMP, true},
    };
    if (schema_create("tick", &s) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        schema_field_def_t d = {.name = fields[i].name,
                                .type = fields[i].type,
                                .required = fields[i].required,
                                .min_length = -1,
                                .max_length = -1,
                                .format = fields[i].type == SCHEMA_TIMESTAMP ? "iso8601" : NULL};
        if (schema_add_field(s, &d) != 0) {
            schema_destroy(s);
            return NULL;
        }
    }
    if (schema_seal(s) != 0) {
        schema_destroy(s);
        return NULL;
    }
    return s;
}

static const stream_agg_def_t ohlc_aggs[] = {
    {"open", "first", "price", 0}, {"high", "max", "price", 0},    {"low", "min", "price", 0},
    {"close", "last", "price", 0}, {"volume", "sum", "volume", 0}, {"avg_price", "avg", "price", 0},
    {"trades", "count", "", 0},
};
static const stream_agg_def_t count_aggs[] = {{"trades", "count", "", 0}};

static stream_pipeline_def_t pipeline_def(char which, const schema_t *s, const char *topic)
{
    stream_pipeline_def_t d = {
        .name = which == 'a'   ? "ticks_table"
                : which == 'b' ? "ohlc_1m"
                               : "count_10s",
        .topic = topic,
        .schema = s,
        .key = "symbol",
        .event_time = "ts",
        .max_ooo_ms = 1000,
        .idle_timeout_ms = 3600 * 1000,
        .emit = STREAM_EMIT_UPDATE,
        .commit_interval_ms = 1000,
        .commit_records = 100000,
    };
    if (which == 'a') {
        d.kind = STREAM_KIND_TABLE;
        d.key = NULL;
        d.table = "ticks";
    } else if (which == 'b') {
        d.kind = STREAM_KIND_AGGREGATE;
        d.window = STREAM_WINDOW_TUMBLING;
        d.size_ms = 60000;
        d.view = "ohlc_1m";
        d.aggs = ohlc_aggs;
        d.naggs = sizeof ohlc_aggs / sizeof ohlc_aggs[0];
    } else {
        d.kind = STREAM_KIND_AGGREGATE;
        d.window = STREAM_WINDOW_HOPPING;
        d.size_ms = 10000;
        d.slide_ms = 2000;
        d.view = "count_10s";
        d.aggs = count_aggs;
        d.naggs = 1;
    }
    return d;
}

static void compile_error(void *arg, int line, const char *message)
{
    (void)arg;
    (void)line;
    fprintf(stderr, "bench_stream: %s\n", message);
}

/* Runs one pipeline to the end of the topic on this thread. */
static int run_pipeline(const stream_pipeline_def_t *d, bus_t *bus, const char *url, double *wall,
                        double *cpu, stream_stats_t *st)
{
    stream_pipeline_t *p;
    int rc = stream_pipeline_compile(d, compile_error, NULL, &p);
    if (rc != 0)
        return rc;
    double w0 = now_s(), c0 = cpu_s();
    rc = stream_pipeline_run_once(p, bus, url, st);
    *wall = now_s() - w0;
    *cpu = cpu_s() - c0;
    stream_pipeline_destroy(p);
    if (rc != 0)
        fprintf(stderr, "bench_stream: pipeline %s: %s\n", d->name, core_error_detail());
    return rc;
}

/* ---- DuckDB, from npm, in a child process. */

static int run_duckdb(const opts_t *o, const char *ndjson, double *secs, long *rows)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "node '%s/../../bench/node/ohlc.mjs' '%s/node_modules' '%s'",
             o->node_dir, o->node_dir, ndjson);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return CORE_EIO;
    int n = fscanf(f, "%lf %ld", secs, rows);
    int st = pclose(f);
    return n == 2 && st == 0 ? 0 : CORE_EIO;
}

/* ---- PostgreSQL: the table sink beside a bare COPY of the same rows. */

static int pg_ok(PGconn *c, PGresult *r, ExecStatusType want)
{
    int ok = PQresultStatus(r) == want;
    if (!ok)
        fprintf(stderr, "bench_stream: postgres: %s", PQerrorMessage(c));
    PQclear(r);
    return ok ? 0 : CORE_EIO;
}

/* The COPY text of the ticks (same generator, same order, same columns as
 * the table pipeline writes), in chunks of COPY_CHUNK rows. */
#define COPY_CHUNK 100000

static int copy_text(int64_t events, core_buf_t **out, size_t *nchunks)
{
    ticks_t g = {.rng = 0x9e3779b97f4a7c15ull};
    for (int s = 0; s < SYMBOLS; s++)
        g.price[s] = 50.0 + s;
    int64_t offs[PARTITIONS] = {0};
    size_t n = (size_t)((events + COPY_CHUNK - 1) / COPY_CHUNK);
    core_buf_t *chunks = calloc(n > 0 ? n : 1, sizeof *chunks);
    int rc = chunks != NULL ? 0 : CORE_ENOMEM;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        core_buf_init(&chunks[k], CORE_MEM_TEST, 64 << 20);
        for (int64_t j = (int64_t)k * COPY_CHUNK;
             rc == 0 && j < events && j < (int64_t)(k + 1) * COPY_CHUNK; j++) {
            tick_t t;
            char json[160];
            tick_json(&g, json, sizeof json, &t);
            int32_t part = t.sym % PARTITIONS;
            /* The values the JSON carries, as the table pipeline stores
             * them (prices rounded to cents, time in microseconds). */
            rc = core_buf_printf(&chunks[k],
                                 "%d\t%" PRId64 "\tSYM%03d\t%.2f\t%.2f\t%.2f\t%d\t%" PRId64 "\n",
                                 part, offs[part]++, t.sym, t.price, t.price - 0.01, t.price + 0.01,
                                 t.volume, t.ms * 1000);
        }
    }
    *out = chunks;
    *nchunks = chunks != NULL ? n : 0; /* unused chunks are zeroed: fini takes them */
    return rc;
}

/* COPYs the ticks into a fresh keyed table and times the whole COPY, from
 * the statement to the server's answer (the rows stored and committed);
 * the text is made beforehand, so the time is PostgreSQL's alone. */
static int copy_reference(const char *url, int64_t events, double *secs)
{
    core_buf_t *chunks = NULL;
    size_t n = 0;
    int rc = copy_text(events, &chunks, &n);
    PGconn *c = PQconnectdb(url);
    if (rc == 0 && PQstatus(c) != CONNECTION_OK)
        rc = CORE_EIO;
    if (rc == 0)
        rc = pg_ok(c,
                   PQexec(c, "DROP TABLE IF EXISTS copy_ref; CREATE TABLE copy_ref ("
                             "_partition BIGINT, _offset BIGINT, symbol TEXT, price DOUBLE "
                             "PRECISION, bid DOUBLE PRECISION, ask DOUBLE PRECISION, volume "
                             "BIGINT, ts BIGINT, PRIMARY KEY (_partition, _offset))"),
                   PGRES_COMMAND_OK);
    double t0 = now_s();
    if (rc == 0)
        rc = pg_ok(c, PQexec(c, "COPY copy_ref FROM STDIN"), PGRES_COPY_IN);
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = PQputCopyData(c, (const char *)chunks[k].data, (int)chunks[k].len) == 1 ? 0 : CORE_EIO;
    if (rc == 0)
        rc = PQputCopyEnd(c, NULL) == 1 ? pg_ok(c, PQgetResult(c), PGRES_COMMAND_OK) : CORE_EIO;
    *secs = now_s() - t0;
    for (size_t k = 0; k < n; k++)
        core_buf_fini(&chunks[k]);
    free(chunks);
    PQfinish(c);
    return rc;
}

/* ---- Latency: append to commit, at a fixed rate. */

typedef struct {
    int64_t *append_us; /* by offset (one partition) */
    int64_t *commit_us;
    int64_t n;
    int64_t committed; /* offsets below it are committed; atomic */
} lat_t;

static void on_commit(void *arg, const char *pipeline, int32_t partition, int64_t from, int64_t to)
{
    (void)pipeline;
    (void)partition;
    lat_t *l = arg;
    int64_t now = core_wall_us();
    for (int64_t o = from; o < to && o < l->n; o++)
        l->commit_us[o] = now;
    __atomic_store_n(&l->committed, to, __ATOMIC_RELEASE);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Produces at LAT_RATE/s for `seconds` into a one-partition topic while a
 * runtime with the OHLC pipeline (commit interval 50 ms) consumes it. */
static int latency(bus_t *bus, seglog_t *log, const schema_t *s, const char *url, int seconds,
                   double *p50, double *p99)
{
    seglog_topic_config_t tc;
    seglog_topic_config_default(&tc);
    tc.flush = SEGLOG_FLUSH_NEVER;
    int rc = seglog_topic_create(log, "lat", &tc);
    stream_pipeline_def_t d = pipeline_def('b', s, "lat");
    d.name = "ohlc_lat";
    d.view = "ohlc_lat";
    d.commit_interval_ms = 50;
    d.commit_records = 1000000;
    lat_t l = {.n = (int64_t)LAT_RATE * seconds};
    l.append_us = calloc((size_t)l.n, sizeof *l.append_us);
    l.commit_us = calloc((size_t)l.n, sizeof *l.commit_us);
    stream_pipeline_t *p = NULL;
    stream_runtime_t *rt = NULL;
    if (rc == 0 && (l.append_us == NULL || l.commit_us == NULL))
        rc = CORE_ENOMEM;
    if (rc == 0)
        rc = stream_pipeline_compile(&d, compile_error, NULL, &p);
    if (rc == 0)
        rc = stream_runtime_create(bus, url, &rt);
    if (rc == 0 && (rc = stream_runtime_add(rt, p)) == 0)
        p = NULL;
    if (rc == 0) {
        stream_runtime_set_commit_hook(rt, on_commit, &l);
        rc = stream_runtime_start(rt);
    }
    ticks_t g = {.rng = 42};
    for (int i = 0; i < SYMBOLS; i++)
        g.price[i] = 50.0 + i;
    double start = now_s();
    for (int64_t i = 0; rc == 0 && i < l.n; i++) {
        double due = start + (double)i / LAT_RATE;
        while (now_s() < due)
            ;
        char json[160];
        int len = tick_json(&g, json, sizeof json, NULL);
        bus_message_t m = {.value = json, .value_len = (size_t)len, .timestamp_ms = -1};
        l.append_us[i] = core_wall_us();
        rc = bus_produce(bus, "lat", 0, &m, 1, false, NULL);
    }
    while (rc == 0 && __atomic_load_n(&l.committed, __ATOMIC_ACQUIRE) < l.n)
        usleep(1000);
    stream_runtime_destroy(rt);
    stream_pipeline_destroy(p);
    if (rc == 0) {
        for (int64_t i = 0; i < l.n; i++)
            l.commit_us[i] = (l.commit_us[i] - l.append_us[i]) * 1000; /* ns */
        qsort(l.commit_us, (size_t)l.n, sizeof *l.commit_us, cmp_i64);
        *p50 = bench_percentile_ms(l.commit_us, l.n, 50);
        *p99 = bench_percentile_ms(l.commit_us, l.n, 99);
    }
    free(l.append_us);
    free(l.commit_us);
    return rc;
}

/* ---- main */

static int parse(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "bench_stream: %s needs a value (or unknown option)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--events") == 0)
            rc = bench_parse_count(a, v, 1000, INT64_C(1) << 32, &o->events);
        else if (strcmp(a, "--pg-events") == 0)
            rc = bench_parse_count(a, v, 1000, INT64_C(1) << 32, &o->pg_events);
        else if (strcmp(a, "--pg") == 0)
            o->pg = v;
        else if (strcmp(a, "--dir") == 0)
            o->dir = v;
        else if (strcmp(a, "--node-dir") == 0)
            o->node_dir = v;
        else
            rc = 2;
        if (rc != 0) {
            fprintf(stderr, "bench_stream: bad option %s\n", a);
            return 2;
        }
    }
    if (o->quick) {
        o->events = CORE_MIN(o->events, 20000);
        o->pg_events = CORE_MIN(o->pg_events, 20000);
    }
    return 0;
}

typedef struct {
    char root[4096], url[4200], ndjson[4200];
    seglog_t *log;
    bus_t *bus;
    schema_t *schema;
} env_t;

static int setup(const opts_t *o, env_t *e)
{
    char logdir[4200];
    snprintf(e->root, sizeof e->root, "%s/bench-stream-XXXXXX", o->dir);
    if (mkdtemp(e->root) == NULL)
        return CORE_EIO;
    snprintf(logdir, sizeof logdir, "%s/log", e->root);
    snprintf(e->ndjson, sizeof e->ndjson, "%s/ticks.ndjson", e->root);
    seglog_topic_config_t tc;
    seglog_topic_config_default(&tc);
    tc.partitions = PARTITIONS;
    tc.flush = SEGLOG_FLUSH_NEVER;
    e->schema = tick_schema();
    int rc = e->schema != NULL ? seglog_open(logdir, &e->log) : CORE_ENOMEM;
    if (rc == 0)
        rc = seglog_topic_create(e->log, "ticks", &tc);
    if (rc == 0)
        rc = bus_open_seglog(e->log, &e->bus);
    return rc;
}

static void teardown(env_t *e)
{
    bus_close(e->bus);
    if (e->log != NULL)
        seglog_close(e->log);
    schema_destroy(e->schema);
    bench_remove_tree(e->root);
}

static void line(const char *what, double events, double wall, double cpu, const char *ref)
{
    char a[32], b[32];
    printf("  %-34s %9s events/s (%s per CPU-second)%s\n", what,
           bench_fmt_count(a, sizeof a, events / wall), bench_fmt_count(b, sizeof b, events / cpu),
           ref);
}

static int one_core(const opts_t *o, env_t *e, double *ohlc_eps)
{
    static const char *names[] = {"(a) table into SQLite", "(b) tumbling 1 min OHLC",
                                  "(c) hopping 10 s/2 s count"};
    static const char *refs[] = {"   target >= 300k rows/s", "   target >= 1M, >= 2x DuckDB", ""};
    for (int i = 0; i < 3; i++) {
        snprintf(e->url, sizeof e->url, "sqlite:%s/store-%c.db", e->root, 'a' + i);
        stream_pipeline_def_t d = pipeline_def((char)('a' + i), e->schema, "ticks");
        double wall, cpu;
        stream_stats_t st;
        int rc = run_pipeline(&d, e->bus, e->url, &wall, &cpu, &st);
        if (rc != 0)
            return rc;
        if (st.valid != o->events) {
            fprintf(stderr, "bench_stream: %s processed %" PRId64 " of %" PRId64 " events\n",
                    d.name, st.valid, o->events);
            return CORE_EFAILED;
        }
        line(names[i], (double)o->events, wall, cpu, refs[i]);
        if (i == 1)
            *ohlc_eps = (double)o->events / wall;
    }
    return 0;
}

static void postgres(const opts_t *o, env_t *e)
{
    if (o->pg == NULL) {
        printf("  PostgreSQL table sink: not run (give --pg URL, e.g. under "
               "tests/integration/pg/with_pg.sh)\n");
        return;
    }
    /* A topic of pg_events ticks, so both sides write the same rows. */
    seglog_topic_config_t tc;
    seglog_topic_config_default(&tc);
    tc.partitions = PARTITIONS;
    tc.flush = SEGLOG_FLUSH_NEVER;
    int rc = seglog_topic_create(e->log, "ticks_pg", &tc);
    if (rc == 0)
        rc = produce_ticks(e->bus, "ticks_pg", o->pg_events, NULL);
    stream_pipeline_def_t d = pipeline_def('a', e->schema, "ticks_pg");
    double wall = 0, cpu, copy = 0;
    stream_stats_t st;
    if (rc == 0)
        rc = run_pipeline(&d, e->bus, o->pg, &wall, &cpu, &st);
    if (rc == 0)
        rc = copy_reference(o->pg, o->pg_events, &copy);
    if (rc != 0) {
        printf("  PostgreSQL table sink: failed (%s)\n", core_error_detail());
        return;
    }
    char a[32], b[32];
    double sink = (double)o->pg_events / wall, ref = (double)o->pg_events / copy;
    printf("  PostgreSQL table sink (%" PRId64 " rows) %9s rows/s   COPY of the same rows "
           "%s rows/s   ratio %.2f (target >= 0.50)\n",
           o->pg_events, bench_fmt_count(a, sizeof a, sink), bench_fmt_count(b, sizeof b, ref),
           sink / ref);
}

int main(int argc, char **argv)
{
    bench_set_name("bench_stream");
    opts_t o = {.events = 10000000,
                .pg_events = 2000000,
                .dir = "/tmp",
                .node_dir = STRATA_SOURCE_DIR "/tests/node"};
    if (getenv("STRATA_BENCH_PG_URL") != NULL)
        o.pg = getenv("STRATA_BENCH_PG_URL");
    if (parse(argc, argv, &o) != 0)
        return 2;
    core_log_set_level(CORE_LOG_ERROR);
    env_t e = {0};
    int rc = setup(&o, &e);
    double t0 = now_s();
    if (rc == 0)
        rc = produce_ticks(e.bus, "ticks", o.events, e.ndjson);
    if (rc != 0) {
        fprintf(stderr, "bench_stream: setup: %s\n", core_error_detail());
        teardown(&e);
        return 1;
    }
    char a[32];
    printf("bench_stream: %s stock ticks of ~100 bytes in %d partitions, %d symbols "
           "(generated in %.1f s)\n",
           bench_fmt_count(a, sizeof a, (double)o.events), PARTITIONS, SYMBOLS, now_s() - t0);
    printf("1. one core (the calling thread), from the seglog to the store:\n");
    double ohlc = 0, duck_s = 0;
    long duck_rows = 0;
    rc = one_core(&o, &e, &ohlc);
    if (rc == 0 && run_duckdb(&o, e.ndjson, &duck_s, &duck_rows) == 0) {
        double duck = (double)o.events / duck_s;
        printf("2. DuckDB (1 thread) read_json + GROUP BY of (b): %s events/s (%ld rows); "
               "(b) / DuckDB = %.2fx (target >= 2x)\n",
               bench_fmt_count(a, sizeof a, duck), duck_rows, ohlc / duck);
    } else if (rc == 0) {
        printf("2. DuckDB: could not run node with @duckdb/node-api from %s\n", o.node_dir);
    }
    if (rc == 0) {
        printf("3. ");
        postgres(&o, &e);
        double p50 = 0, p99 = 0;
        snprintf(e.url, sizeof e.url, "sqlite:%s/store-lat.db", e.root);
        rc = latency(e.bus, e.log, e.schema, e.url, o.quick ? 1 : LAT_SECONDS, &p50, &p99);
        if (rc == 0)
            printf("4. append -> committed in SQLite at %d events/s, commit interval 50 ms: "
                   "p50 %.1f ms, p99 %.1f ms (the interval alone gives about 25 / 50 ms)\n",
                   LAT_RATE, p50, p99);
    }
    teardown(&e);
    return rc == 0 ? 0 : 1;
}

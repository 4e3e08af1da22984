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
 *      events written as NDJSON, and (b) / DuckDB; the view (b) wrote is
 *      checked against both: as many rows as DuckDB's answer, every event
 *      counted once, and the generator's total volume;
 *   3. with --pg URL: rows/s of the table pipeline into PostgreSQL beside a
 *      bare COPY of the same rows into a keyed table (timed from the COPY
 *      statement to the server's answer, its text made beforehand);
 *   4. append-to-commit latency p50/p99 at 10k events/s with a 50 ms commit
 *      interval.
 *
 * Usage: bench_stream [--events N] [--pg URL] [--pg-events N] [--dir DIR]
 *                     [--node-dir DIR] [--only abc] [--quick] [--help]
 *
 * --only runs just the named pipelines of 1 (DuckDB too when b is among
 * them) and skips 3 and 4: for iterating on one figure.
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
#include "store/store.h"
#include "stream/stream.h"
#include "ticks.h"

#define PARTITIONS  4
#define LAT_RATE    10000
#define LAT_SECONDS 10

typedef struct {
    int64_t events, pg_events;
    const char *pg, *dir, *node_dir;
    const char *only; /* pipelines of 1 to run ("abc"), or NULL for all */
    bool quick;
} opts_t;

/* ---- Pipelines. */

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
    double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_THREAD_CPUTIME_ID);
    rc = stream_pipeline_run_once(p, bus, url, st);
    *wall = bench_seconds(CLOCK_MONOTONIC) - w0;
    *cpu = bench_seconds(CLOCK_THREAD_CPUTIME_ID) - c0;
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
    bench_ticks_t g;
    bench_ticks_init(&g, BENCH_TICKS_SEED);
    int64_t offs[PARTITIONS] = {0};
    size_t n = (size_t)((events + COPY_CHUNK - 1) / COPY_CHUNK);
    core_buf_t *chunks = calloc(n > 0 ? n : 1, sizeof *chunks);
    int rc = chunks != NULL ? 0 : CORE_ENOMEM;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        core_buf_init(&chunks[k], CORE_MEM_TEST, 64 << 20);
        for (int64_t j = (int64_t)k * COPY_CHUNK;
             rc == 0 && j < events && j < (int64_t)(k + 1) * COPY_CHUNK; j++) {
            bench_tick_t t;
            char json[160];
            bench_ticks_json(&g, json, sizeof json, &t);
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
    double t0 = bench_seconds(CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pg_ok(c, PQexec(c, "COPY copy_ref FROM STDIN"), PGRES_COPY_IN);
    for (size_t k = 0; rc == 0 && k < n; k++)
        rc = PQputCopyData(c, (const char *)chunks[k].data, (int)chunks[k].len) == 1 ? 0 : CORE_EIO;
    if (rc == 0)
        rc = PQputCopyEnd(c, NULL) == 1 ? pg_ok(c, PQgetResult(c), PGRES_COMMAND_OK) : CORE_EIO;
    *secs = bench_seconds(CLOCK_MONOTONIC) - t0;
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
    bench_ticks_t g;
    bench_ticks_init(&g, 42);
    double start = bench_seconds(CLOCK_MONOTONIC);
    for (int64_t i = 0; rc == 0 && i < l.n; i++) {
        double due = start + (double)i / LAT_RATE;
        while (bench_seconds(CLOCK_MONOTONIC) < due)
            ;
        char json[160];
        int len = bench_ticks_json(&g, json, sizeof json, NULL);
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

static void usage(void)
{
    printf("usage: bench_stream [--events N] [--pg URL] [--pg-events N] [--dir DIR]\n"
           "                    [--node-dir DIR] [--only abc] [--quick]\n"
           "  --events N      ticks in the topic (default 10M)\n"
           "  --pg URL        also run the PostgreSQL table sink beside COPY\n"
           "  --pg-events N   ticks for the PostgreSQL figure (default 2M)\n"
           "  --dir DIR       where the log, stores and NDJSON go (default /tmp)\n"
           "  --node-dir DIR  the folder holding node_modules with @duckdb/node-api\n"
           "  --only abc      run only these pipelines of 1 (DuckDB when b is one),\n"
           "                  and skip the PostgreSQL and latency figures\n"
           "  --quick         20k events, 1 s of latency (a smoke test)\n");
}

static bool only_valid(const char *s)
{
    for (const char *c = s; *c != '\0'; c++)
        if (*c < 'a' || *c > 'c')
            return false;
    return *s != '\0';
}

static int parse(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            exit(0);
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
        else if (strcmp(a, "--only") == 0)
            rc = only_valid(v) ? (o->only = v, 0) : 2;
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
    int64_t volume;    /* the ticks' total volume */
    int64_t ohlc_rows; /* rows in the view (b) wrote */
} env_t;

static int setup(const opts_t *o, env_t *e)
{
    snprintf(e->root, sizeof e->root, "%s/bench-stream-XXXXXX", o->dir);
    if (mkdtemp(e->root) == NULL)
        return CORE_EIO;
    snprintf(e->ndjson, sizeof e->ndjson, "%s/ticks.ndjson", e->root);
    e->schema = bench_ticks_schema();
    if (e->schema == NULL)
        return CORE_ENOMEM;
    return bench_ticks_log(e->root, "ticks", PARTITIONS, &e->log, &e->bus);
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

static int take_totals(void *arg, const schema_value_t *v, size_t n)
{
    double *out = arg;
    for (size_t i = 0; i < n && i < 3; i++)
        out[i] = v[i].type == SCHEMA_INT     ? (double)v[i].v.i
                 : v[i].type == SCHEMA_FLOAT ? v[i].v.f
                                             : -1;
    return 0;
}

/* The view (b) wrote: its rows into e->ohlc_rows; every event counted once
 * and the total volume the generator's, or CORE_EFAILED. */
static int check_ohlc(const opts_t *o, env_t *e)
{
    store_t *s = NULL;
    double got[3] = {-1, -1, -1}; /* rows, trades, volume */
    int rc = store_open(e->url, &s);
    if (rc == 0)
        rc = store_exec(s,
                        "SELECT count(*), sum(\"trades\"), sum(\"volume\") FROM \"ohlc_1m\" "
                        "WHERE \"layer\" = 'speed'",
                        NULL, 0, take_totals, got, NULL);
    store_close(s);
    if (rc != 0)
        return rc;
    e->ohlc_rows = (int64_t)got[0];
    if (got[1] != (double)o->events || got[2] != (double)e->volume) {
        fprintf(stderr,
                "bench_stream: the view of (b) counts %.0f trades and a volume of %.0f; the "
                "ticks were %" PRId64 " with a volume of %" PRId64 "\n",
                got[1], got[2], o->events, e->volume);
        return CORE_EFAILED;
    }
    return 0;
}

static bool runs(const opts_t *o, char which)
{
    return o->only == NULL || strchr(o->only, which) != NULL;
}

static int one_core(const opts_t *o, env_t *e, double *ohlc_eps)
{
    static const char *names[] = {"(a) table into SQLite", "(b) tumbling 1 min OHLC",
                                  "(c) hopping 10 s/2 s count"};
    static const char *refs[] = {"   target >= 300k rows/s", "   target >= 1M, >= 2x DuckDB", ""};
    for (int i = 0; i < 3; i++) {
        if (!runs(o, (char)('a' + i)))
            continue;
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
        if (i == 1 && (rc = check_ohlc(o, e)) != 0)
            return rc;
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
        rc = bench_ticks_produce(e->bus, "ticks_pg", PARTITIONS, o->pg_events, NULL, NULL);
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
    double t0 = bench_seconds(CLOCK_MONOTONIC);
    if (rc == 0)
        rc = bench_ticks_produce(e.bus, "ticks", PARTITIONS, o.events, e.ndjson, &e.volume);
    if (rc != 0) {
        fprintf(stderr, "bench_stream: setup: %s\n", core_error_detail());
        teardown(&e);
        return 1;
    }
    char a[32];
    printf("bench_stream: %s stock ticks of ~100 bytes in %d partitions, %d symbols "
           "(generated in %.1f s)\n",
           bench_fmt_count(a, sizeof a, (double)o.events), PARTITIONS, TICKS_SYMBOLS,
           bench_seconds(CLOCK_MONOTONIC) - t0);
    printf("1. one core (the calling thread), from the seglog to the store:\n");
    double ohlc = 0, duck_s = 0;
    long duck_rows = 0;
    rc = one_core(&o, &e, &ohlc);
    if (rc == 0 && !runs(&o, 'b')) {
        /* --only without b: no DuckDB figure to compare with */
    } else if (rc == 0 && run_duckdb(&o, e.ndjson, &duck_s, &duck_rows) == 0) {
        double duck = (double)o.events / duck_s;
        printf("2. DuckDB (1 thread) read_json + GROUP BY of (b): %s events/s (%ld rows); "
               "(b) / DuckDB = %.2fx (target >= 2x)\n",
               bench_fmt_count(a, sizeof a, duck), duck_rows, ohlc / duck);
        if (duck_rows != e.ohlc_rows) {
            fprintf(stderr, "bench_stream: the view of (b) has %" PRId64 " rows, DuckDB %ld\n",
                    e.ohlc_rows, duck_rows);
            rc = CORE_EFAILED;
        }
    } else if (rc == 0) {
        printf("2. DuckDB: could not run node with @duckdb/node-api from %s\n", o.node_dir);
    }
    if (rc == 0 && o.only == NULL) {
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

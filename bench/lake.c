/*
 * bench_lake: the lake sink's throughput beside DuckDB's from the same run.
 *
 *   1. produces N generated stock ticks (default 10,000,000, ~100 bytes of
 *      JSON each; bench/ticks.c) into a 4-partition seglog topic and writes
 *      the same ticks as NDJSON (not timed);
 *   2. runs an `archive` pipeline over the topic on the calling thread (one
 *      core): decode and validate each record by the ticks' schema, write
 *      Parquet files with the chosen codec (default zstd) into Hive-style
 *      hour folders, fdatasync, commit offsets to SQLite and publish: timed,
 *      rows/s;
 *   3. has DuckDB (npm @duckdb/node-api, node) convert the same NDJSON to
 *      Parquet with the same codec (COPY ... TO ... (FORMAT parquet)), with
 *      its default thread count and with one thread: timed, rows/s, and the
 *      ratio;
 *   4. checks the lake against DuckDB's file: row count, exact sums of every
 *      number column, time and symbol extremes, read back by DuckDB through
 *      read_parquet(..., hive_partitioning = true); exits 1 on a mismatch.
 *
 * strata's files carry four more columns than DuckDB's (_key, _partition,
 * _offset, _timestamp) and are durable (fdatasync) before they count.
 *
 * Usage: bench_lake [--events N] [--codec zstd|snappy|none] [--dir DIR]
 *                   [--node-dir DIR] [--keep] [--quick]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "lake/lake.h"
#include "seglog/seglog.h"
#include "stream/stream.h"
#include "ticks.h"

#define PARTITIONS 4

typedef struct {
    int64_t events;
    const char *codec, *dir, *node_dir;
    bool keep, quick;
} opts_t;

typedef struct {
    char root[4096], ndjson[4200], lake[4200], url[4300];
    seglog_t *log;
    bus_t *bus;
    schema_t *schema;
} env_t;

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

static int setup(const opts_t *o, env_t *e)
{
    char logdir[4200];
    snprintf(e->root, sizeof e->root, "%s/bench-lake-XXXXXX", o->dir);
    if (mkdtemp(e->root) == NULL)
        return core_error(CORE_EIO, "cannot make a directory under %s", o->dir);
    snprintf(logdir, sizeof logdir, "%s/log", e->root);
    snprintf(e->ndjson, sizeof e->ndjson, "%s/ticks.ndjson", e->root);
    snprintf(e->lake, sizeof e->lake, "%s/lake", e->root);
    snprintf(e->url, sizeof e->url, "sqlite:%s/store.db", e->root);
    seglog_topic_config_t tc;
    seglog_topic_config_default(&tc);
    tc.partitions = PARTITIONS;
    tc.flush = SEGLOG_FLUSH_NEVER;
    e->schema = bench_ticks_schema();
    int rc = e->schema != NULL ? seglog_open(logdir, &e->log) : CORE_ENOMEM;
    if (rc == 0)
        rc = seglog_topic_create(e->log, "ticks", &tc);
    if (rc == 0)
        rc = bus_open_seglog(e->log, &e->bus);
    return rc;
}

static void teardown(const opts_t *o, env_t *e)
{
    bus_close(e->bus);
    if (e->log != NULL)
        seglog_close(e->log);
    schema_destroy(e->schema);
    if (o->keep)
        printf("kept %s\n", e->root);
    else
        bench_remove_tree(e->root);
}

static void compile_error(void *arg, int line, const char *message)
{
    (void)arg;
    (void)line;
    fprintf(stderr, "bench_lake: %s\n", message);
}

/* The archive pipeline over the whole topic, on this thread. */
static int archive(const opts_t *o, env_t *e, double *wall, double *cpu, stream_stats_t *st)
{
    lake_archive_config_t c;
    lake_archive_config_default(&c);
    c.dir = e->lake;
    int rc = lake_codec_parse(o->codec, &c.codec);
    lake_archive_t *a = NULL;
    if (rc == 0)
        rc = lake_archive_create(&c, &a);
    if (rc != 0)
        return rc;
    stream_pipeline_def_t d = {
        .name = "ticks_archive",
        .kind = STREAM_KIND_SINK,
        .topic = "ticks",
        .schema = e->schema,
        .event_time = "ts",
        .max_ooo_ms = 1000,
        .idle_timeout_ms = 3600 * 1000,
        .commit_interval_ms = 1000,
        .commit_records = 100000,
        .sink_ops = &lake_archive_ops,
        .sink = a,
    };
    stream_pipeline_t *p = NULL;
    rc = stream_pipeline_compile(&d, compile_error, NULL, &p);
    if (rc != 0)
        return rc;
    double w0 = now_s(), c0 = cpu_s();
    rc = stream_pipeline_run_once(p, e->bus, e->url, st);
    *wall = now_s() - w0;
    *cpu = cpu_s() - c0;
    stream_pipeline_destroy(p);
    return rc;
}

/* DuckDB's COPY with `threads` threads; with check, also compares the lake
 * with its file (returns the mismatches in *bad). */
static int duckdb(const opts_t *o, const env_t *e, const char *threads, bool check, double *secs,
                  long *rows, int *bad)
{
    char cmd[16384], out[4300];
    snprintf(out, sizeof out, "%s/duckdb-%s.parquet", e->root, threads);
    snprintf(cmd, sizeof cmd,
             "node '%s/../../bench/node/lake.mjs' '%s/node_modules' '%s' '%s' %s %s '%s'",
             o->node_dir, o->node_dir, e->ndjson, out,
             strcmp(o->codec, "none") == 0 ? "uncompressed" : o->codec, threads,
             check ? e->lake : "-");
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return CORE_EIO;
    int n = fscanf(f, "%lf %ld ", secs, rows);
    char what[64], mine[128], theirs[128];
    while (check && fscanf(f, "check %63s %127s %127s ", what, mine, theirs) == 3) {
        bool same = strcmp(mine, theirs) == 0;
        *bad += !same;
        printf("  check %-10s DuckDB %s, lake %s%s\n", what, mine, theirs,
               same ? "" : "  MISMATCH");
    }
    int st = pclose(f);
    return n == 2 && st == 0 ? 0 : CORE_EIO;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_lake [--events N] [--codec zstd|snappy|none] [--dir DIR]\n"
                    "                  [--node-dir DIR] [--keep] [--quick]\n");
}

static int parse(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--keep") == 0) {
            o->keep = true;
            continue;
        }
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
            o->events = 100000;
            continue;
        }
        if (i + 1 >= argc) {
            usage();
            return CORE_EINVAL;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--events") == 0) {
            if (bench_parse_count(a, v, 1, 1000000000, &o->events) != 0)
                return CORE_EINVAL;
        } else if (strcmp(a, "--codec") == 0) {
            o->codec = v;
        } else if (strcmp(a, "--dir") == 0) {
            o->dir = v;
        } else if (strcmp(a, "--node-dir") == 0) {
            o->node_dir = v;
        } else {
            usage();
            return CORE_EINVAL;
        }
    }
    lake_codec_t c;
    if (lake_codec_parse(o->codec, &c) != 0) {
        fprintf(stderr, "bench_lake: %s\n", core_error_detail());
        return CORE_EINVAL;
    }
    return 0;
}

static int report(const opts_t *o, env_t *e, double rate)
{
    char a[32];
    double secs = 0;
    long rows = 0;
    int bad = 0;
    printf("2. DuckDB (node, @duckdb/node-api): COPY (read_json) TO parquet, %s:\n", o->codec);
    int rc = duckdb(o, e, "2", true, &secs, &rows, &bad);
    double two = rows / secs;
    if (rc == 0)
        printf("  2 threads (its default here)  %8.2f s: %9s rows/s\n", secs,
               bench_fmt_count(a, sizeof a, two));
    if (rc == 0)
        rc = duckdb(o, e, "1", false, &secs, &rows, &bad);
    double one = rows / secs;
    if (rc == 0)
        printf("  1 thread                      %8.2f s: %9s rows/s\n", secs,
               bench_fmt_count(a, sizeof a, one));
    if (rc != 0) {
        printf("  could not run node with @duckdb/node-api from %s\n", o->node_dir);
        return rc;
    }
    if (rows != (long)o->events || bad != 0) {
        printf("  results: %d mismatches between the lake and DuckDB's file\n", bad + 1);
        return CORE_EFAILED;
    }
    printf("  results: 0 mismatches (the lake against DuckDB's file)\n");
    printf("3. strata archive / DuckDB: %.2fx against 2 threads, %.2fx against 1 thread "
           "(target >= 1x)\n",
           rate / two, rate / one);
    return 0;
}

int main(int argc, char **argv)
{
    bench_set_name("bench_lake");
    opts_t o = {.events = 10000000,
                .codec = "zstd",
                .dir = "/tmp",
                .node_dir = STRATA_SOURCE_DIR "/tests/node"};
    if (parse(argc, argv, &o) != 0)
        return 2;
    core_log_set_level(CORE_LOG_ERROR);
    env_t e = {0};
    double t0 = now_s();
    int rc = setup(&o, &e);
    if (rc == 0)
        rc = bench_ticks_produce(e.bus, "ticks", PARTITIONS, o.events, e.ndjson);
    if (rc != 0) {
        fprintf(stderr, "bench_lake: setup: %s\n", core_error_detail());
        teardown(&o, &e);
        return 1;
    }
    char a[32], b[32], c[32];
    printf("bench_lake: %s stock ticks of ~100 bytes in %d partitions (generated in %.1f s), "
           "in %s\n",
           bench_fmt_count(a, sizeof a, (double)o.events), PARTITIONS, now_s() - t0, e.root);
    double wall = 0, cpu = 0;
    stream_stats_t st = {0};
    rc = archive(&o, &e, &wall, &cpu, &st);
    if (rc == 0 && st.rows != o.events)
        rc = core_error(CORE_EFAILED, "%lld of %lld rows archived", (long long)st.rows,
                        (long long)o.events);
    if (rc != 0) {
        fprintf(stderr, "bench_lake: archive: %s\n", core_error_detail());
        teardown(&o, &e);
        return 1;
    }
    double rate = (double)st.rows / wall;
    printf("1. strata archive pipeline (one core), seglog -> Parquet (%s), durable and "
           "committed:\n  %s rows in %.2f s: %s rows/s (%s per CPU-second)\n",
           o.codec, bench_fmt_count(a, sizeof a, (double)st.rows), wall,
           bench_fmt_count(b, sizeof b, rate), bench_fmt_count(c, sizeof c, (double)st.rows / cpu));
    rc = report(&o, &e, rate);
    teardown(&o, &e);
    return rc == 0 ? 0 : 1;
}

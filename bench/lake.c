/*
 * bench_lake: the lake sink's throughput beside DuckDB's from the same run.
 *
 *   1. produces N generated stock ticks (default 10,000,000, ~100 bytes of
 *      JSON each; bench/ticks.c) into a 4-partition seglog topic and writes
 *      the same ticks as NDJSON (not timed);
 *   2. runs an `archive` pipeline over the topic on the calling thread:
 *      decode and validate each record by the ticks' schema, write Parquet
 *      files with the chosen codec (default zstd) into Hive-style hour
 *      folders, fdatasync, commit offsets to SQLite and publish. Twice, each
 *      time into a new lake and store: on one core (the calling thread
 *      pinned to one CPU, which the writers' background threads it starts
 *      inherit and share) and on two cores (not pinned). Each run prints
 *      its wall time and rows/s, the process CPU time, and how many threads
 *      strata used (the pipeline thread and the writers' background
 *      threads, counted from /proc/self/status while it runs);
 *   3. has DuckDB (npm @duckdb/node-api, node) convert the same NDJSON to
 *      Parquet with the same codec (COPY ... TO ... (FORMAT parquet)), with
 *      two threads (its default here) and with one thread: timed, rows/s;
 *      each strata run is compared with DuckDB's of the same thread count
 *      (one core against one thread, two against two);
 *   4. checks each lake against DuckDB's file: row count, exact sums of
 *      every number column, time and symbol extremes, read back by DuckDB
 *      through read_parquet(..., hive_partitioning = true); exits 1 on a
 *      mismatch.
 *
 * strata's files carry four more columns than DuckDB's (_key, _partition,
 * _offset, _timestamp) and are durable (fdatasync) before they count.
 *
 * Usage: bench_lake [--events N] [--codec zstd|snappy|none] [--dir DIR]
 *                   [--node-dir DIR] [--keep] [--quick]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    char root[4096], ndjson[4200];
    seglog_t *log;
    bus_t *bus;
    schema_t *schema;
} env_t;

/* One archive run: where it wrote and what it took. */
typedef struct {
    int cores; /* 1: pinned to one CPU; 2: free */
    char lake[4200], url[4300];
    double wall, cpu; /* cpu: the process's */
    double own;       /* CPU time of the pipeline's thread */
    int threads;      /* the most strata ran at once */
    stream_stats_t st;
} run_t;

/* The process's thread count, from /proc/self/status (0 if unknown). */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "Threads:", 8) == 0)
            n = (int)strtol(line + 8, NULL, 10);
    if (f != NULL)
        fclose(f);
    return n;
}

/* Samples the thread count every 10 ms while a run lasts (a writer's
 * thread lives as long as its file). */
typedef struct {
    atomic_bool stop;
    atomic_int most;
} sampler_t;

static void *sample_threads(void *arg)
{
    sampler_t *s = arg;
    while (!atomic_load(&s->stop)) {
        int n = thread_count();
        if (n > atomic_load(&s->most))
            atomic_store(&s->most, n);
        usleep(10000);
    }
    return NULL;
}

static int setup(const opts_t *o, env_t *e)
{
    snprintf(e->root, sizeof e->root, "%s/bench-lake-XXXXXX", o->dir);
    if (mkdtemp(e->root) == NULL)
        return core_error(CORE_EIO, "cannot make a directory under %s", o->dir);
    snprintf(e->ndjson, sizeof e->ndjson, "%s/ticks.ndjson", e->root);
    e->schema = bench_ticks_schema();
    if (e->schema == NULL)
        return CORE_ENOMEM;
    return bench_ticks_log(e->root, "ticks", PARTITIONS, &e->log, &e->bus);
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

/* Pins the calling thread (and the threads it will start) to the CPU it
 * runs on, or unpins it; returns false if it cannot. */
static bool pin(bool one, cpu_set_t *saved)
{
    if (!one)
        return sched_setaffinity(0, sizeof *saved, saved) == 0;
    if (sched_getaffinity(0, sizeof *saved, saved) != 0)
        return false;
    cpu_set_t only;
    CPU_ZERO(&only);
    CPU_SET(sched_getcpu(), &only);
    return sched_setaffinity(0, sizeof only, &only) == 0;
}

/* The archive pipeline over the whole topic, on this thread: into r->lake
 * and r->url, fresh for each run. */
static int archive(const opts_t *o, env_t *e, run_t *r)
{
    snprintf(r->lake, sizeof r->lake, "%s/lake-%d", e->root, r->cores);
    snprintf(r->url, sizeof r->url, "sqlite:%s/store-%d.db", e->root, r->cores);
    lake_archive_config_t c;
    lake_archive_config_default(&c);
    c.dir = r->lake;
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
    cpu_set_t saved;
    if (r->cores == 1 && !pin(true, &saved))
        return core_error(CORE_EFAILED, "cannot pin the archive to one CPU");
    sampler_t s;
    atomic_init(&s.stop, false);
    atomic_init(&s.most, 0);
    int base = thread_count();
    pthread_t sampler;
    bool sampling = pthread_create(&sampler, NULL, sample_threads, &s) == 0;
    double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    double t0 = bench_seconds(CLOCK_THREAD_CPUTIME_ID);
    rc = stream_pipeline_run_once(p, e->bus, r->url, &r->st);
    r->wall = bench_seconds(CLOCK_MONOTONIC) - w0;
    r->cpu = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    r->own = bench_seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
    if (sampling) {
        atomic_store(&s.stop, true);
        pthread_join(sampler, NULL);
    }
    /* the most seen, less the threads from before and the sampler, plus
     * the pipeline's own */
    r->threads = sampling ? atomic_load(&s.most) - base : 0;
    if (r->cores == 1)
        pin(false, &saved);
    stream_pipeline_destroy(p);
    return rc;
}

/* DuckDB's COPY with `threads` threads; with a lake, also compares it
 * with its file (returns the mismatches in *bad). */
static int duckdb(const opts_t *o, const env_t *e, const char *threads, const char *lake,
                  double *secs, long *rows, int *bad)
{
    char cmd[16384], out[4300];
    snprintf(out, sizeof out, "%s/duckdb-%s.parquet", e->root, threads);
    snprintf(cmd, sizeof cmd,
             "node '%s/../../bench/node/lake.mjs' '%s/node_modules' '%s' '%s' %s %s '%s'",
             o->node_dir, o->node_dir, e->ndjson, out,
             strcmp(o->codec, "none") == 0 ? "uncompressed" : o->codec, threads, lake);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return CORE_EIO;
    int n = fscanf(f, "%lf %ld ", secs, rows);
    char what[64], mine[128], theirs[128];
    while (fscanf(f, "check %63s %127s %127s ", what, mine, theirs) == 3) {
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

static void print_run(const run_t *r)
{
    char a[32], b[32];
    double rate = (double)r->st.rows / r->wall;
    printf("  %s: %.2f s: %9s rows/s; %d thread%s at most (the pipeline's and the writers' "
           "background threads);\n    CPU %.2f s (the pipeline's thread %.2f s, the rest %.2f s): "
           "%s rows per CPU-second\n",
           r->cores == 1 ? "on one core (pinned)" : "on two cores", r->wall,
           bench_fmt_count(a, sizeof a, rate), r->threads, r->threads == 1 ? "" : "s", r->cpu,
           r->own, r->cpu - r->own, bench_fmt_count(b, sizeof b, (double)r->st.rows / r->cpu));
}

/* DuckDB with the thread count of run r, checking r's lake against its
 * file; prints both rates and their ratio. */
static int compare(const opts_t *o, env_t *e, const run_t *r, int *bad)
{
    char a[32], threads[8];
    double secs = 0;
    long rows = 0;
    snprintf(threads, sizeof threads, "%d", r->cores);
    printf("  DuckDB with %s, checked against the lake of strata on %s:\n",
           r->cores == 1 ? "1 thread" : "2 threads (its default here)",
           r->cores == 1 ? "one core" : "two cores");
    int rc = duckdb(o, e, threads, r->lake, &secs, &rows, bad);
    if (rc != 0) {
        printf("  could not run node with @duckdb/node-api from %s\n", o->node_dir);
        return rc;
    }
    if (rows != (long)o->events)
        (*bad)++;
    double theirs = (double)rows / secs, mine = (double)r->st.rows / r->wall;
    printf("  DuckDB %d thread%s %8.2f s: %9s rows/s; strata on %s: %.2fx (target >= 1x)\n",
           r->cores, r->cores == 1 ? " " : "s", secs, bench_fmt_count(a, sizeof a, theirs),
           r->cores == 1 ? "one core" : "two cores", mine / theirs);
    return 0;
}

static int report(const opts_t *o, env_t *e, const run_t *runs)
{
    int bad = 0;
    printf("2. DuckDB (node, @duckdb/node-api): COPY (read_json) TO parquet, %s:\n", o->codec);
    int rc = compare(o, e, &runs[0], &bad);
    if (rc == 0)
        rc = compare(o, e, &runs[1], &bad);
    if (rc != 0)
        return rc;
    if (bad != 0) {
        printf("  results: %d mismatches between the lakes and DuckDB's files\n", bad);
        return CORE_EFAILED;
    }
    printf("  results: 0 mismatches (both lakes against DuckDB's files)\n");
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
    double t0 = bench_seconds(CLOCK_MONOTONIC);
    int rc = setup(&o, &e);
    if (rc == 0)
        rc = bench_ticks_produce(e.bus, "ticks", PARTITIONS, o.events, e.ndjson, NULL);
    if (rc != 0) {
        fprintf(stderr, "bench_lake: setup: %s\n", core_error_detail());
        teardown(&o, &e);
        return 1;
    }
    char a[32];
    printf("bench_lake: %s stock ticks of ~100 bytes in %d partitions (generated in %.1f s), "
           "in %s\n",
           bench_fmt_count(a, sizeof a, (double)o.events), PARTITIONS,
           bench_seconds(CLOCK_MONOTONIC) - t0, e.root);
    printf("1. strata archive pipeline, seglog -> Parquet (%s), durable and committed:\n", o.codec);
    run_t runs[2] = {{.cores = 1}, {.cores = 2}};
    for (int i = 0; i < 2 && rc == 0; i++) {
        rc = archive(&o, &e, &runs[i]);
        if (rc == 0 && runs[i].st.rows != o.events)
            rc = core_error(CORE_EFAILED, "%lld of %lld rows archived", (long long)runs[i].st.rows,
                            (long long)o.events);
        if (rc == 0)
            print_run(&runs[i]);
    }
    if (rc != 0) {
        fprintf(stderr, "bench_lake: archive: %s\n", core_error_detail());
        teardown(&o, &e);
        return 1;
    }
    rc = report(&o, &e, runs);
    teardown(&o, &e);
    return rc == 0 ? 0 : 1;
}

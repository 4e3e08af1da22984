/*
 * stream: the pipeline runtime. A pipeline consumes one topic and turns its
 * records into rows of the serving store:
 *
 *   decode (schema) -> validate (field checks, rules) -> filter -> kind
 *     table:     upsert each event as a row (primary key, or the record's
 *                partition and offset)
 *     aggregate: key -> event-time window -> partial aggregates -> view rows
 *     detect:    anomaly rules (threshold, per-key z-score, velocity)
 *     cdc:       Debezium change events -> upserts and deletes
 *
 * Records that fail go to the dlq with their topic, partition, offset and a
 * reason; nothing stops the pipeline.
 *
 * Exactly once: each partition has one task. A commit is one store
 * transaction holding the changed view rows, table rows, anomalies, dlq rows,
 * detector state and the partition's next offset and watermark, fenced by
 * the epoch the task claimed at start. A restarted task claims a new epoch,
 * reloads its offset, watermark, open windows and detector state, and
 * continues from there; a zombie's commit fails its fence.
 *
 * Lifecycle: stream_pipeline_compile() (also used by `strata check`) ->
 * stream_runtime_create() -> stream_runtime_add() -> stream_runtime_start()
 * -> stream_runtime_stop() -> stream_runtime_destroy().
 *
 * Threading: each pipeline runs on its own thread with its own store
 * connection and serves all of its partitions' tasks. Stats are read with
 * relaxed atomics from any thread.
 */
#ifndef STRATA_STREAM_H
#define STRATA_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "core/core.h"
#include "schema/schema.h"
#include "store/store.h"

typedef enum {
    STREAM_KIND_TABLE,
    STREAM_KIND_AGGREGATE,
    STREAM_KIND_DETECT,
    STREAM_KIND_CDC
} stream_kind_t;

typedef enum { STREAM_EMIT_UPDATE, STREAM_EMIT_FINAL } stream_emit_t;

typedef enum {
    STREAM_WINDOW_TUMBLING,
    STREAM_WINDOW_HOPPING,
    STREAM_WINDOW_SESSION
} stream_window_t;

/* One output column of an aggregate view: fn(arg). arg is "" for count(). */
typedef struct {
    const char *name;
    const char *fn;
    const char *arg;
    int line;
} stream_agg_def_t;

typedef enum { STREAM_RULE_THRESHOLD, STREAM_RULE_ZSCORE, STREAM_RULE_VELOCITY } stream_rule_kind_t;

typedef struct {
    const char *name;
    stream_rule_kind_t kind;
    const char *when;    /* threshold: condition */
    const char *value;   /* threshold: expression recorded as the value (optional) */
    const char *field;   /* zscore: numeric expression */
    double threshold;    /* zscore: |z| above it */
    int64_t min_history; /* zscore: values seen before scoring */
    int64_t window_ms;   /* velocity: tumbling window */
    int64_t limit;       /* velocity: more than `limit` events per key per window */
    int line;
} stream_rule_def_t;

/* A pipeline as configured. All pointers are borrowed by
 * stream_pipeline_compile, which copies what it keeps; the schema must
 * outlive the compiled pipeline. */
typedef struct {
    const char *name;
    stream_kind_t kind;
    const char *topic;
    const schema_t *schema;
    const char *filter; /* NULL: none */
    int filter_line;
    const char *key; /* aggregate/detect key expression; NULL: one key */
    int key_line;
    const char *event_time; /* a timestamp field; NULL: the record timestamp */
    stream_window_t window;
    int64_t size_ms, slide_ms, gap_ms;
    int64_t max_ooo_ms, idle_timeout_ms, allowed_lateness_ms;
    stream_emit_t emit;
    const char *view; /* aggregate: view (table) name */
    const stream_agg_def_t *aggs;
    size_t naggs;
    const char *table; /* table/cdc */
    const char *const *primary_key;
    size_t npk;
    const char *const *columns; /* NULL: every schema field */
    size_t ncolumns;
    const stream_rule_def_t *rules;
    size_t nrules;
    int64_t commit_interval_ms;
    int64_t commit_records;
    int line;
} stream_pipeline_def_t;

typedef struct stream_pipeline stream_pipeline_t;

/* Called once per problem found while compiling; line is the config line
 * of the offending item (0 if unknown). */
typedef void (*stream_error_fn)(void *arg, int line, const char *message);

/* Compiles a definition: expressions, aggregate specs, rules, column
 * layout. Reports every problem through err (may be NULL) and returns
 * CORE_EINVAL if there was any. */
int stream_pipeline_compile(const stream_pipeline_def_t *def, stream_error_fn err, void *arg,
                            stream_pipeline_t **out);
void stream_pipeline_destroy(stream_pipeline_t *p);
const char *stream_pipeline_name(const stream_pipeline_t *p);
stream_kind_t stream_pipeline_kind(const stream_pipeline_t *p);
const char *stream_pipeline_topic(const stream_pipeline_t *p);
/* The output table: an aggregate's view, a table or cdc pipeline's table;
 * NULL for detect. */
const char *stream_pipeline_output(const stream_pipeline_t *p);
/* Aggregates: the window size (the gap for sessions) plus
 * max_out_of_orderness, in ms (a recompute's default lookback); 0 for the
 * other kinds. */
int64_t stream_pipeline_lookback_ms(const stream_pipeline_t *p);

typedef struct {
    int64_t records;   /* records consumed */
    int64_t valid;     /* decoded and passed validation */
    int64_t invalid;   /* sent to the dlq by decoding or validation */
    int64_t late;      /* sent to the dlq as late */
    int64_t filtered;  /* dropped by the filter (counted, not an error) */
    int64_t anomalies; /* anomaly rows written */
    int64_t rows;      /* table or view rows written */
    int64_t commits;
    int64_t commit_errors; /* failed attempts (store unreachable, ...) */
    int64_t commit_us_total;
    int64_t lag;          /* sum over partitions of end - committed */
    int64_t watermark_us; /* lowest partition watermark; INT64_MIN: none */
    int64_t open_windows;
    int64_t state_bytes;
    bool running;
    bool paused; /* waiting for the store to come back */
    bool failed; /* stopped for good; see error */
    char error[256];
    /* Append-to-commit latency: counts of records per bucket, bucket i
     * holding latencies below STREAM_LATENCY_BOUND_MS(i) ms. */
    int64_t latency_buckets[20];
} stream_stats_t;
#define STREAM_LATENCY_BOUND_MS(i) (1LL << (i))

typedef struct stream_runtime stream_runtime_t;

/* bus is borrowed; store_url is copied (each pipeline thread opens its own
 * connection). */
int stream_runtime_create(bus_t *bus, const char *store_url, stream_runtime_t **out);
/* Takes ownership of p. Before start only. */
int stream_runtime_add(stream_runtime_t *rt, stream_pipeline_t *p);
/* Called on a pipeline's thread after each successful commit: the records
 * of `partition` at offsets [from, to) are now in the store. Must be quick.
 * Before start only. */
typedef void (*stream_commit_fn)(void *arg, const char *pipeline, int32_t partition, int64_t from,
                                 int64_t to);
void stream_runtime_set_commit_hook(stream_runtime_t *rt, stream_commit_fn fn, void *arg);
/* Creates the tables and starts one thread per pipeline. Fails (and starts
 * nothing) if the store cannot be prepared. */
int stream_runtime_start(stream_runtime_t *rt);
/* Commits what was processed and stops every thread. Idempotent. */
void stream_runtime_stop(stream_runtime_t *rt);
void stream_runtime_destroy(stream_runtime_t *rt);
size_t stream_runtime_count(const stream_runtime_t *rt);
const char *stream_runtime_name(const stream_runtime_t *rt, size_t i);
void stream_runtime_stats(stream_runtime_t *rt, size_t i, stream_stats_t *out);

/* Runs a pipeline on the calling thread until every partition has been
 * consumed up to the end offsets seen at the start, committing as
 * configured, then commits and returns (benchmarks, tests and one-shot
 * runs). */
int stream_pipeline_run_once(stream_pipeline_t *p, bus_t *bus, const char *store_url,
                             stream_stats_t *stats);

/* ---- Views: querying the merged partials. */

/* One merged view row. Values are the finished aggregates in definition
 * order (SCHEMA_NULL when empty); layer is "speed" or "batch". Borrowed
 * for the callback's duration. */
typedef struct {
    const char *key;
    size_t key_len;
    int64_t window_start, window_end;
    const char *layer;
    bool final;
    size_t nvalues;
    const char *const *names;
    const schema_value_t *values;
} stream_view_row_t;

typedef struct {
    const char *key;   /* NULL: every key */
    int64_t from_us;   /* window_start >= from (INT64_MIN: no bound) */
    int64_t to_us;     /* window_start < to (INT64_MAX: no bound) */
    bool include_open; /* for emit=final views: also rows not yet final */
} stream_view_query_t;

/* Lists the views registered in the store: fn receives (name, pipeline,
 * definition JSON) as strings. */
int stream_views_list(store_t *s, store_row_fn fn, void *arg);
/* Queries a registered view: for each (key, window) the batch layer's rows
 * if a batch row exists, else the speed partials of every partition,
 * merged. Rows arrive ordered by key then window start. CORE_ENOENT for an
 * unknown view. */
int stream_view_query(store_t *s, const char *view, const stream_view_query_t *q,
                      int (*fn)(void *arg, const stream_view_row_t *row), void *arg);

/* ---- Recompute: the batch layer's run of an aggregate pipeline.
 *
 * Recomputes the pipeline's windows that lie within [from_us, to_us)
 * (window_start >= from, window_end <= to) from the topic log, late events
 * included, with the speed layer's own code: the same decoding, validation,
 * filter, key, event time and aggregation (one window operator in batch
 * mode, fed from every partition, so nothing is late and each row is the
 * complete value of its window). Each window becomes one view row with
 * layer 'batch', partition -1, final = true, updated_at = the run's start
 * time; batch rows of the range that this run did not write (a window
 * whose events left the log, a session merged since) are deleted at the
 * end. stream_view_query() serves those rows instead of the speed layer's.
 *
 * Input: each partition from the first offset whose record timestamp is
 * >= read_from_ms (bus_offset_for_time) to its end offset when the run
 * starts. Events are fed only if one of their windows lies within the
 * range (sessions: if they are before to_us, since earlier events may
 * extend a session back); the others are counted `outside`. Invalid
 * records are counted, never written to the dlq (the speed layer did that).
 *
 * Sessions: a session is written only if it lies within the range; one
 * that crosses a bound is left to the speed layer (or a wider recompute).
 * The read must start before the first event of every session written:
 * choose read_from_ms at least one session's length (plus the producers'
 * clock skew) before from_us.
 *
 * Commits: rows go to the store in chunks of chunk_rows, each chunk one
 * transaction. Each row is complete by itself, so a run that fails between
 * chunks leaves only correct rows, and a rerun over the same log writes the
 * same values: the recompute is idempotent.
 *
 * Memory: every window of the range is held until the input ends; the
 * pipeline's max_windows cap applies (CORE_ETOOBIG: recompute shorter
 * ranges). */
typedef struct {
    int64_t from_us, to_us; /* the windows recomputed; from < to */
    int64_t read_from_ms;   /* record timestamp to read each partition from */
    size_t chunk_rows;      /* rows per commit; 0: 10000 */
    const int *stop;        /* may be NULL; non-zero (atomic load): stop */
    /* Called once per partition with the offsets [from, to) to be read
     * (lineage), before they are read; a nonzero return stops the run and
     * is returned. May be NULL. */
    int (*range_fn)(void *arg, int32_t partition, int64_t from_offset, int64_t to_offset);
    void *arg;
} stream_recompute_opts_t;

typedef struct {
    int64_t records;  /* records read */
    int64_t valid;    /* decoded, validated, kept by the filter */
    int64_t invalid;  /* rejected (the speed layer sent them to the dlq) */
    int64_t filtered; /* dropped by the filter */
    int64_t outside;  /* valid, but no window of theirs lies in the range */
    int64_t windows;  /* (key, window) results computed */
    int64_t rows;     /* batch rows written (windows within the range) */
    int64_t deleted;  /* stale batch rows deleted */
    int64_t commits;
} stream_recompute_stats_t;

/* Runs a recompute of aggregate pipeline p (borrowed, used read-only, so a
 * runtime may be running it meanwhile) on the calling thread, over bus and
 * store (a migrated store; its connection is used for this run only).
 * Registers the view and creates its table if needed. out (may be NULL)
 * gets the figures, also on failure. Errors: CORE_EINVAL for a pipeline
 * that is not an aggregate or an empty range; CORE_ECLOSED when stopped;
 * CORE_ETOOBIG when the range holds more windows than the cap; the bus's
 * and the store's errors (CORE_EIO: retry the run). */
int stream_recompute(stream_pipeline_t *p, bus_t *bus, store_t *store,
                     const stream_recompute_opts_t *opts, stream_recompute_stats_t *out);

#endif

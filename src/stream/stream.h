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
 * connection and serves all of its partitions' tasks. Stats are read
 * from any thread as snapshots the pipeline thread publishes.
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
    STREAM_KIND_CDC,
    STREAM_KIND_SINK /* records go to a sink (stream_sink_ops_t, below), not to store rows */
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

/* The interface of a sink (STREAM_KIND_SINK): see "Sinks" below. */
typedef struct stream_sink_ops stream_sink_ops_t;

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
    /* sink: its interface and the sink itself, which compile takes (also
     * when it fails): the compiled pipeline destroys it with
     * sink_ops->destroy. Also uses max_ooo_ms and idle_timeout_ms for its
     * watermark. */
    const stream_sink_ops_t *sink_ops;
    void *sink;
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
    int64_t rows;      /* table or view rows written; sinks: rows made durable */
    int64_t commits;
    int64_t commit_errors; /* failed attempts (store unreachable, ...) */
    int64_t commit_us_total;
    int64_t lag;          /* sum over partitions of end - committed */
    int64_t watermark_us; /* lowest partition watermark; INT64_MIN: none */
    int64_t open_windows;
    int64_t state_bytes;
    bool running;
    bool paused;          /* waiting for the store to come back */
    bool failed;          /* stopped for good; see error */
    int64_t view_version; /* aggregate: the view version its tasks run at (stream.h,
                           * "Replay"); 0 until started */
    char error[256];
    /* Append-to-commit latency: counts of records per bucket, bucket i
     * holding latencies below STREAM_LATENCY_BOUND_MS(i) ms. */
    int64_t latency_buckets[20];
    int64_t latency_ms_total; /* the latencies counted there, summed (ms; negative ones,
                               * from producers' clocks ahead of ours, as 0) */
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
/* A consistent snapshot of pipeline i's stats, as its thread last
 * published them (after each pass of its loop, and when it pauses, starts
 * or stops): figures may be a loop pass old, never torn. Any thread. */
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
 * filter, key, event time and aggregation (window operators in batch
 * mode, merged into one before anything is written, so nothing is late
 * and each row is the complete value of its window). Each window becomes one view row with
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
 * ranges), to each reading thread's operator and to the merged one.
 *
 * Threads: `threads` threads read (0: the online CPUs), at most one per
 * partition, partitions i, i + n, ... each; the calling thread is one of
 * them. Each has its own task and window operator; when all are done, the
 * others' windows are folded into the first's (stream_winop_merge), in
 * thread order, so a rerun with the same thread count writes the same
 * values (sums may differ in the last bits between thread counts). One
 * thread reads for session windows, and when source_fn is to be called
 * (it need not be thread-safe). Rows are written on the calling thread.
 *
 * Records the log no longer holds (retention): a partition's read starts
 * at its first stored offset S > 0 when bus_offset_for_time(read_from_ms)
 * gives S itself, i.e. the oldest record the log still holds is already at
 * or after read_from_ms, so records before it may belong to the range too.
 * For such a partition, before its log is read, source_fn (if set) is
 * called with the partition, S and read_from_ms, and may feed records of
 * offsets below S through `feed`, which runs each one through the same
 * path as a record read from the log from the decode step on (see
 * stream_recompute_record_t): the records at offsets below S, strictly
 * increasing, that it holds and whose timestamp is at or after
 * read_from_ms. The log supplies S and later. (The batch layer reads the
 * topic's archive in the lake this way: docs/recompute.md.) feed returns 0
 * or an error, which source_fn should return: CORE_EINVAL for an offset
 * not above the previous one or not below S, or a value whose type is
 * neither its field's nor SCHEMA_NULL; CORE_ECLOSED when stopped; the
 * errors of the read path. A nonzero return of source_fn stops the run and
 * is returned. */

/* A record from another source than the log, already decoded: one value
 * per field of the pipeline's schema in schema order, each of the field's
 * type (as schema_decode_json() gave it when the record was first read) or
 * SCHEMA_NULL. Required fields and the schema's rules are checked, and the
 * filter, key, event time and aggregates applied, as for a decoded record;
 * the other field checks are not applied again (the record passed them
 * when it was first decoded). Everything is borrowed for the call. */
typedef struct {
    const schema_value_t *values;
    const char *key; /* NULL: a null key */
    size_t key_len;
    int64_t offset;
    int64_t timestamp_ms; /* the record's timestamp */
} stream_recompute_record_t;

typedef int (*stream_recompute_feed_fn)(void *feed_ctx, const stream_recompute_record_t *rec);

typedef struct {
    int64_t from_us, to_us; /* the windows recomputed; from < to */
    int64_t read_from_ms;   /* record timestamp to read each partition from */
    size_t chunk_rows;      /* rows per commit; 0: 10000 */
    int threads;            /* threads reading the log; 0: the online CPUs (see Threads) */
    const int *stop;        /* may be NULL; non-zero (atomic load): stop */
    /* Called once per partition with the offsets [from, to) to be read
     * from the log (lineage), before they are read; a nonzero return stops
     * the run and is returned. May be NULL. */
    int (*range_fn)(void *arg, int32_t partition, int64_t from_offset, int64_t to_offset);
    /* Records below the log's start (above). May be NULL: the run then
     * reads what the log holds. */
    int (*source_fn)(void *arg, int32_t partition, int64_t log_start, int64_t read_from_ms,
                     stream_recompute_feed_fn feed, void *feed_ctx);
    void *arg; /* for range_fn and source_fn */
} stream_recompute_opts_t;

typedef struct {
    int64_t records;  /* records read (from the log and from source_fn) */
    int64_t sourced;  /* of which source_fn fed */
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
 * runtime may be running it meanwhile) on the calling thread (and reading
 * threads: see Threads above), over bus and
 * store (a migrated store; its connection is used for this run only).
 * Registers the view and creates its table if needed. out (may be NULL)
 * gets the figures, also on failure. Errors: CORE_EINVAL for a pipeline
 * that is not an aggregate or an empty range; CORE_ECLOSED when stopped;
 * CORE_ETOOBIG when the range holds more windows than the cap; the bus's
 * and the store's errors (CORE_EIO: retry the run). */
int stream_recompute(stream_pipeline_t *p, bus_t *bus, store_t *store,
                     const stream_recompute_opts_t *opts, stream_recompute_stats_t *out);

/* What the batch layer needs to know of another pipeline of a recomputed
 * pipeline's topic to use its output as a source (an `archive` pipeline's
 * lake: docs/recompute.md). Everything is borrowed from p. */
typedef struct {
    const schema_t *schema;
    bool filtered;                     /* p has a filter: its output holds only some records */
    const stream_sink_ops_t *sink_ops; /* STREAM_KIND_SINK: its sink's interface */
    void *sink;                        /* ... and the sink; else NULL */
} stream_pipeline_info_t;
void stream_pipeline_info(const stream_pipeline_t *p, stream_pipeline_info_t *out);

/* ---- Replay (Kappa mode): a new version of an aggregate pipeline's view,
 * rebuilt from offset 0 while the current version keeps serving, then
 * switched to atomically (docs/replay.md).
 *
 * The pipeline runs under the name "<pipeline>@v<N>" into the table
 * "<view>__v<N>" (N = the registry's version + 1), from offset 0 of every
 * partition, in rounds: each round reads every partition up to its end
 * offset when the round starts and commits as configured. The idle timeout
 * does not apply: each partition's watermark follows its own events, so the
 * new version depends on the log alone. After a round, once every
 * partition's committed offset is at or past the live pipeline's, one store
 * transaction:
 *   - carries the batch layer's rows over from the current table (when the
 *     definition did not change),
 *   - drops the current table and renames the new one to the view's name,
 *     so every reader, SQL clients included, sees either version whole,
 *   - hands the new version's offsets and watermarks (and keyed state) to
 *     the live pipeline's name with a bumped epoch, so a running live
 *     task's next commit is fenced; the runtime tells this fence from a
 *     zombie's by the registry version and reopens its tasks,
 *   - moves the replay's dlq rows to the live pipeline (those of offsets
 *     it has not seen; the others are duplicates),
 *   - sets the registry's version to N (and the definition to p's).
 * If the live pipeline committed past the new version meanwhile, the
 * transaction is rolled back and another round runs. Queries never see the
 * view shrink: at the switch the new version holds every offset the old
 * one held.
 *
 * A replay that fails or is stopped drops what it built; a later replay
 * also removes what a crashed one left. Only one replay of a view may run
 * at a time (the batch layer's job claim sees to that; docs/replay.md). */
typedef struct {
    int64_t version;   /* the version being built */
    const char *phase; /* "replaying", "catching up", "switching", "switched" (static) */
    int64_t done;      /* records the new version has read, over all partitions */
    int64_t total;     /* the partitions' end offsets, summed, at the last look */
    int64_t behind;    /* offsets the live pipeline had committed beyond the new
                        * version at the last look (0: none) */
    int64_t rounds;    /* rounds completed */
} stream_replay_progress_t;

typedef struct {
    const int *stop; /* may be NULL; non-zero (atomic load): stop */
    /* Called on the replaying thread about every progress_ms, and at each
     * phase change. Must be quick. May be NULL. */
    void (*progress)(void *arg, const stream_replay_progress_t *pr);
    int64_t progress_ms; /* 0: 1000 */
    /* Called after a successful switch, once per partition, with the
     * offsets [from, to) the new version read (lineage). May be NULL. */
    int (*range_fn)(void *arg, int32_t partition, int64_t from_offset, int64_t to_offset);
    void *arg;
} stream_replay_opts_t;

typedef struct {
    int64_t version; /* the view's version serving at the end (N after a switch) */
    int64_t records; /* records read */
    int64_t valid, invalid, late, filtered;
    int64_t rows; /* view rows written by the new version */
    int64_t commits;
    int64_t rounds;     /* rounds run */
    int64_t attempts;   /* switch transactions tried (more than one: the live
                         * pipeline had moved ahead) */
    int64_t batch_rows; /* batch-layer rows carried over */
} stream_replay_stats_t;

/* Replays aggregate pipeline p (borrowed and used exclusively: no runtime
 * may run this compiled pipeline meanwhile; its name and output table are
 * the new version's for the duration and restored before returning) over
 * bus and the store at store_url (own connection, migrated here), on the
 * calling thread. A runtime running another compile of the same pipeline
 * (`strata up`) keeps running across the switch. out (may be NULL) gets
 * the figures, also on failure. Errors: CORE_EINVAL (not an aggregate; a
 * view name too long for a version suffix), CORE_ECLOSED (stopped),
 * CORE_EEXIST (another replay switched the view first, or a table of the
 * new version's name belongs to another view), the bus's and the store's
 * errors; on every error the new version is dropped. */
int stream_replay(stream_pipeline_t *p, bus_t *bus, const char *store_url,
                  const stream_replay_opts_t *opts, stream_replay_stats_t *out);

/* The view's version in the registry (1 when created, N after the N-1th
 * replay); 0 when the view is not registered. */
int stream_view_version(store_t *s, const char *view, int64_t *version);

/* ---- Sinks: pipelines whose output leaves the store (the lake's
 * `archive`).
 *
 * A pipeline of kind STREAM_KIND_SINK hands every valid record that its
 * filter keeps, decoded by its schema, to a sink (def->sink_ops, def->sink)
 * instead of writing store rows. Invalid records go to the dlq as for every
 * kind; a record the sink refuses (write() returns CORE_EINVAL, with a
 * detail) goes to the dlq with kind "sink" and that detail as the reason.
 *
 * The sink keeps one part per partition task: opened when the task starts,
 * closed when it ends. Every call for one pipeline comes from its thread,
 * so parts may share the sink object without a lock.
 *
 * Exactly once. A part makes records durable on its own schedule (files
 * that roll). At each commit the runtime:
 *   1. calls flush(): the part adds its state changes with put(); they are
 *      committed in the same transaction as the offset (strata_state, name
 *      "sink", per pipeline and partition);
 *   2. calls hold(): the lowest offset whose record is not yet durable
 *      (INT64_MAX: none), and commits min(next, hold) as the partition's
 *      next offset, so a restart reads those records again;
 *   3. after the transaction succeeded, calls committed(): the part may now
 *      publish what the commit covers. Errors there are kept by the part
 *      and returned by its next tick().
 * A commit that failed is retried with the same batch, without a second
 * flush(). After a restart the part is opened with the committed state
 * entries and offset, and is handed the records from that offset on again:
 * it must skip those it had already made durable.
 *
 * tick() runs on every pass of the pipeline's loop with the partition's
 * watermark (the largest event time seen minus max_out_of_orderness, or
 * the highest watermark of the pipeline for an idle partition). It returns
 * 1 when the part has something to commit although no record came (the
 * runtime then commits at the commit interval), 0 when not, or an error,
 * which stops the pipeline. `final` is set when the runtime stops or a
 * run_once ends: the part should make everything durable now. */

/* One committed state entry: bytes, borrowed for the call. */
typedef struct {
    const char *key;
    size_t key_len;
    const void *state;
    size_t state_len;
} stream_sink_entry_t;

/* What a part is opened with. Everything is borrowed for open() only. */
typedef struct {
    const char *pipeline;
    const char *topic;
    int32_t partition;
    int32_t partitions; /* the topic's partition count */
    const schema_t *schema;
    int64_t epoch;        /* this task's claim; differs at every start */
    int64_t committed;    /* the next offset as committed: records come again from here */
    int64_t watermark_us; /* as committed; INT64_MIN: none */
    const stream_sink_entry_t *state; /* the committed entries, ordered by key */
    size_t nstate;
    int64_t *rows; /* the pipeline's `rows` figure: the part adds the rows it
                    * made durable (pipeline thread only) */
} stream_sink_open_t;

/* One record handed to write(). Values borrow the record's bytes for the
 * call only. */
typedef struct {
    const schema_value_t *values; /* one per schema field, in schema order */
    const char *key;              /* NULL: a null key */
    size_t key_len;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_us; /* the record's timestamp */
    int64_t event_us;     /* its event time: the event_time field, else timestamp_us */
} stream_sink_record_t;

/* Adds key -> state to the coming commit (state NULL: delete the key). */
typedef int (*stream_sink_put_fn)(void *ctx, const char *key, size_t key_len, const void *state,
                                  size_t state_len);

struct stream_sink_ops {
    /* Opens the part of info->partition: restores info->state and puts the
     * partition's output in the state the commit describes. */
    int (*open)(void *sink, const stream_sink_open_t *info, void **part);
    /* One record, in offset order. CORE_EINVAL: refused (to the dlq). */
    int (*write)(void *part, const stream_sink_record_t *rec);
    int (*tick)(void *part, int64_t watermark_us, bool final);
    int (*flush)(void *part, stream_sink_put_fn put, void *ctx);
    int64_t (*hold)(void *part);
    /* The commit holding flush()'s state succeeded: next_offset is now the
     * committed offset. */
    void (*committed)(void *part, int64_t next_offset, int64_t watermark_us);
    /* Drops the part (what is not durable is discarded). NULL is ignored. */
    void (*close)(void *part);
    /* Frees the sink, after its parts are closed. NULL is ignored. */
    void (*destroy)(void *sink);
};

#endif

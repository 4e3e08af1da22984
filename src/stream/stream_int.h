/*
 * Internals of the pipeline runtime shared by its files: the compiled
 * pipeline, the per-partition task, and the interface each pipeline kind
 * implements (table, aggregate, detect, cdc).
 *
 * A kind sees one record at a time on the task's thread, after decoding,
 * validation and the filter. It adds what the record produces to the
 * commit's store batch (table rows, anomalies) or to its own state (windows,
 * detector state), and writes that state into the batch when the task
 * flushes before a commit.
 */
#ifndef STRATA_STREAM_INT_H
#define STRATA_STREAM_INT_H

#include <math.h>
#include <string.h>

#include "stream/expr_int.h"
#include "stream/stream.h"
#include "stream/window_int.h"

/* process() asks for a commit before the record can be applied (e.g. its
 * primary key is already in the batch); the runtime commits and calls
 * process() again with the same record. */
#define STREAM_NEED_COMMIT 1

typedef struct stream_task stream_task_t;

/* Hashes of the primary keys already in a task's batch. */
typedef struct {
    uint64_t *slots; /* 0 = empty */
    size_t cap, count;
} task_keyset_t;

typedef struct {
    /* Prepares the kind's tables (on the pipeline thread's connection). */
    int (*prepare)(stream_pipeline_t *p, store_t *s);
    /* Per task: creates state and loads what the store holds for it. This,
     * flush, committed and task_fini may be NULL when a kind has no state. */
    int (*task_init)(stream_task_t *t, store_t *s);
    /* One valid, filtered record. May add to t->batch, or set t->late and
     * return 0 for a record to be sent to the dlq as late, or add its own
     * dlq row with stream_task_dlq. */
    int (*process)(stream_task_t *t, const bus_record_t *rec);
    /* Before a commit: adds changed state to t->batch. */
    int (*flush)(stream_task_t *t);
    /* After a successful commit. May be NULL. */
    void (*committed)(stream_task_t *t);
    void (*task_fini)(stream_task_t *t);
    /* Optional (sinks). The lowest offset whose effects are not yet
     * durable, asked after flush: the commit stores min(next, hold) as the
     * next offset. INT64_MAX: nothing held. */
    int64_t (*hold)(stream_task_t *t);
    /* Optional (sinks). Every pass of the runtime's loop (final: it is
     * stopping). Returns 1 when the kind has state to commit although no
     * record came, 0, or an error that stops the pipeline. */
    int (*tick)(stream_task_t *t, bool final);
} stream_kind_ops_t;

extern const stream_kind_ops_t stream_kind_table_ops;
extern const stream_kind_ops_t stream_kind_aggregate_ops;
extern const stream_kind_ops_t stream_kind_detect_ops;
extern const stream_kind_ops_t stream_kind_cdc_ops;
extern const stream_kind_ops_t stream_kind_sink_ops;

typedef struct {
    char *name;
    stream_expr_t *check;
    char *message;
} stream_rule_t;

/* A compiled detector rule. */
typedef struct {
    char *name;
    stream_rule_kind_t kind;
    stream_expr_t *when;  /* threshold */
    stream_expr_t *value; /* threshold (optional) and zscore's field */
    double threshold;
    int64_t min_history;
    int64_t window_us;
    int64_t limit;
} stream_detector_t;

/* A compiled pipeline. Immutable once compiled, except the store table
 * handles, which belong to the pipeline thread's connection. */
struct stream_pipeline {
    char *name;
    char *topic;
    stream_kind_t kind;
    const stream_kind_ops_t *ops;
    const schema_t *schema;
    stream_rule_t *rules; /* the schema's cross-field rules */
    size_t nrules;
    stream_expr_t *filter;
    stream_expr_t *key;
    int event_time_field; /* -1: the record timestamp */
    int64_t commit_interval_ms;
    int64_t commit_records;

    /* aggregate */
    stream_winop_config_t wcfg;
    stream_agg_kind_t *agg_kinds;
    stream_expr_t **agg_args; /* NULL entry: count() */
    char **agg_names;
    int64_t ooo_us, idle_us;
    stream_emit_t emit;
    stream_window_t window;
    int64_t size_us, slide_us, gap_us;

    /* The output table: the view (aggregate), the table (table, cdc). */
    char *out_name;
    store_table_def_t out_def;
    store_column_t *out_cols;
    char (*out_col_names)[STREAM_AGG_COL_NAME];
    int *col_field;     /* table/cdc: schema field per column; -1/-2 for
                         * _partition/_offset */
    store_table_t *out; /* set by prepare, on the pipeline thread */

    /* detect */
    stream_detector_t *detectors;
    size_t ndetectors;

    char *definition; /* JSON registered in strata_views */

    /* sink: taken from the definition; destroyed with the pipeline */
    const stream_sink_ops_t *sink_ops;
    void *sink;
};

/* One partition of a pipeline, on the pipeline's thread. */
struct stream_task {
    stream_pipeline_t *p;
    int32_t partition;
    bus_reader_t *reader;
    int64_t epoch;
    int64_t committed;      /* next offset, as committed */
    int64_t next;           /* next offset to commit: past every record processed */
    int64_t max_ts;         /* largest event time seen (us); INT64_MIN: none */
    int64_t wm;             /* watermark (us); INT64_MIN: none */
    int64_t last_record_ms; /* monotonic time of the last poll that brought records */
    bool idle;

    schema_row_t row;
    core_buf_t scratch; /* expression scratch, reset per record */
    stream_expr_env_t env;
    int64_t event_us; /* the current record's event time */
    bool late;        /* set by process(): send to the dlq as late */

    store_batch_t *batch;
    size_t pending;         /* records processed since the last commit */
    bool flushed;           /* kind state and offset are in the batch */
    task_keyset_t keys;     /* primary keys already in the batch */
    int64_t last_commit_ms; /* monotonic */
    bool wm_moved;          /* the watermark moved since the last commit */

    stream_winop_t *winop; /* aggregate */
    void *kind_state;      /* detect, cdc; sink: its part */

    stream_stats_t *stats;      /* the pipeline's, owned by the runtime */
    stream_commit_fn on_commit; /* may be NULL */
    void *on_commit_arg;
    int64_t *lat_ts; /* record timestamps (ms) awaiting commit, sampled */
    size_t nlat, caplat;
    bool detached;      /* stream_task_create_detached(): no reader, no kind state */
    int32_t partitions; /* the topic's partition count (sinks) */
    bool dirty;         /* the kind's tick() has state to commit */
    int64_t flush_next; /* the next offset in the flushed batch (held back by hold()) */
};

/* What stream_task_check() found for a record. */
typedef enum {
    STREAM_CHECK_OK,       /* valid and kept by the filter; t->event_us is its event time */
    STREAM_CHECK_REJECTED, /* invalid: the error's kind and reason are the dlq row's */
    STREAM_CHECK_FILTERED  /* the filter is false */
} stream_check_t;

/* Points the task's expression environment at rec (key, partition, offset,
 * timestamp), empties the scratch and sets t->event_us to the record
 * timestamp. First step for every record. */
void stream_task_begin(stream_task_t *t, const bus_record_t *rec);
/* Decodes rec into t->row, checks the fields and the schema's rules,
 * applies the filter and reads the event time: the speed layer's path for
 * every kind but cdc, shared with the batch layer's recompute. Writes
 * nothing and counts nothing; the caller decides what a rejection means
 * (the speed layer sends it to the dlq). Errors from expressions are
 * returned (CORE_ETOOBIG: a result over its cap). */
int stream_task_check(stream_task_t *t, const bus_record_t *rec, stream_check_t *out,
                      schema_error_t *err);
/* stream_task_check() of a row already decoded: the caller has filled
 * t->row.values (after stream_task_begin) with what schema_decode_json()
 * gave for the record when it was first read (values of the fields' types
 * or SCHEMA_NULL). The required fields and the schema's rules are checked,
 * then the filter and the event time, as for a decoded record; the other
 * field checks (enum, bounds, lengths, pattern) are not applied again
 * (recompute.c, reading the lake's rows). */
int stream_task_check_row(stream_task_t *t, const bus_record_t *rec, stream_check_t *out,
                          schema_error_t *err);

/* Adds a dlq row for the task's current record. */
int stream_task_dlq(stream_task_t *t, const bus_record_t *rec, const char *kind,
                    const char *reason);
/* Evaluates e for the current record as a double; false when NULL or not
 * numeric. */
bool stream_task_number(stream_task_t *t, const stream_expr_t *e, double *out);

/* stream_task_number() of an expression that is a reference to field value
 * f read as `as` (stream_expr_root_field()): the same answer without the
 * evaluation. */
static inline bool stream_field_number(const schema_value_t *f, schema_type_t as, double *out)
{
    if (f->type != as && as != SCHEMA_NULL) { /* a value of another type reads as NULL, */
        if (as != SCHEMA_FLOAT || f->type != SCHEMA_INT)
            return false;
        *out = (double)f->v.i; /* except an int in a float field */
        return true;
    }
    switch (f->type) {
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        *out = (double)f->v.i;
        return true;
    case SCHEMA_FLOAT:
        *out = f->v.f;
        return !isnan(f->v.f);
    case SCHEMA_BOOL:
        *out = f->v.b ? 1.0 : 0.0;
        return true;
    default:
        return false;
    }
}

/* Evaluates the key expression to bytes (in scratch); the empty string when
 * the pipeline has none; NULL keys become "". */
int stream_task_key(stream_task_t *t, const char **key, size_t *len);
/* Builds the output table's row for the current record into vals (one per
 * column) and reports the primary key bytes used for duplicate detection. */
int stream_task_table_row(stream_task_t *t, const bus_record_t *rec, schema_value_t *vals);
/* Remembers a primary key for this batch; STREAM_NEED_COMMIT if already
 * there. */
int stream_task_claim_key(stream_task_t *t, const schema_value_t *pk, size_t npk);

/* Copies a column name, cut at STREAM_AGG_COL_NAME - 1 bytes (the store
 * rejects names over 63 bytes anyway). */
static inline void copy_name(char *dst, const char *src)
{
    size_t n = strnlen(src, STREAM_AGG_COL_NAME - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* task.c: the task's life and its commits. */
/* A detached task: decoding, expression and kind state only, with no
 * reader, no claimed offsets and no batch (the batch layer's recompute
 * drives the kind's process() with it). The kind's task_init is not run and
 * its task_fini is not run by destroy: the caller owns t->winop. */
int stream_task_create_detached(stream_pipeline_t *p, stream_stats_t *stats, stream_task_t **out);
int stream_task_create(stream_pipeline_t *p, int32_t partition, bus_t *bus, store_t *s,
                       store_batch_t *batch, stream_stats_t *stats, stream_task_t **out);
void stream_task_destroy(stream_task_t *t);
/* Processes one record. STREAM_NEED_COMMIT: commit, then call again. */
int stream_task_record(stream_task_t *t, const bus_record_t *rec);
/* Flushes (once) and commits. CORE_EIO: retry later with the same batch;
 * CORE_EFAILED: fenced. */
int stream_task_commit(stream_task_t *t, store_t *s);
/* Moves the watermark to at least wm (idle partitions). */
void stream_task_advance(stream_task_t *t, int64_t wm);
/* The kind's periodic work (tick op); sets t->dirty when it has state to
 * commit. 0 or the kind's error. */
int stream_task_tick(stream_task_t *t, bool final);

/* pipeline.c / view.c */
/* Index of aggregate i's first column in a view row. */
size_t stream_view_agg_col(const stream_pipeline_t *p, size_t i);
/* One view row of pipeline p (an aggregate) into v (p->out_def.ncolumns
 * entries): key, window_start, layer, partition, window_end, final,
 * updated_at = now_us, then each aggregate's partial state. The first four
 * are the primary key (all a delete needs). Strings borrow row and layer. */
void stream_view_row_values(const stream_pipeline_t *p, const stream_winop_row_t *row,
                            const char *layer, int32_t partition, int64_t now_us,
                            schema_value_t *v);
int stream_pipeline_definition(stream_pipeline_t *p, const stream_pipeline_def_t *d);
/* Creates the output table and registers a view (pipeline thread). */
int stream_pipeline_prepare(stream_pipeline_t *p, store_t *s);

/* runtime.c: a pipeline driven by its caller, on the caller's thread and
 * store connection (the replay): every partition's task, run in rounds.
 * The idle timeout is not applied, so each partition's watermark follows
 * its own events only, and no registry version is tracked. */
typedef struct stream_drive stream_drive_t;
/* Prepares p's output table on s (borrowed; must outlive the drive) and
 * claims every partition under p's name. stop may be NULL. */
int stream_drive_open(stream_pipeline_t *p, bus_t *bus, store_t *s, const int *stop,
                      stream_drive_t **out);
/* Reads each partition i up to offset until[i] (partitions entries),
 * committing as configured, then commits everything. on_loop (may be NULL)
 * is called after every pass over the partitions. CORE_ECLOSED when
 * stopped before the end; the store's errors (CORE_EIO is retried inside,
 * with backoff, until stopped). */
int stream_drive_round(stream_drive_t *d, const int64_t *until, void (*on_loop)(void *arg),
                       void *arg);
int32_t stream_drive_partitions(const stream_drive_t *d);
/* Partition i's end offset now, the next offset the drive will read, and
 * its committed offset. */
int64_t stream_drive_end(stream_drive_t *d, int32_t i);
int64_t stream_drive_position(const stream_drive_t *d, int32_t i);
int64_t stream_drive_committed(const stream_drive_t *d, int32_t i);
const stream_stats_t *stream_drive_stats(const stream_drive_t *d);
/* Closes the tasks (what is not committed is dropped). NULL is ignored. */
void stream_drive_close(stream_drive_t *d);

#endif

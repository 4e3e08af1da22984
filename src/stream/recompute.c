/*
 * The batch layer's recompute of an aggregate pipeline (contract in
 * stream.h): the pipeline's own code over a closed range of the log, late
 * events included, written as complete 'batch' rows.
 *
 *   ranges    every partition's [offset_for_time(read_from), end at start)
 *   source    a partition whose read starts at its log start S > 0 first
 *             takes records below S from opts->source_fn, already decoded:
 *             stream_task_check_row (required fields, rules, filter, event
 *             time) instead of the decode, then the same steps as below
 *   read      readers (threads; the calling thread is reader 0), each
 *             taking partitions i, i + n, ... one after another through a
 *             detached task of its own and its own window operator:
 *             stream_task_begin + stream_task_check (decode, validate,
 *             filter, event time: task.c) -> counted, never dlq'd when
 *             rejected; events with no window in the range -> `outside`;
 *             the rest -> the kind's process() (kind_aggregate.c: key,
 *             aggregate inputs, stream_winop_add)
 *   merge     readers 1.. closed and drained into reader 0's operator
 *             (stream_winop_merge), in reader order
 *   close     stream_winop_advance(INT64_MAX): the operator is in batch
 *             mode, so nothing was late and every window closes now
 *   write     windows within [from, to) as rows (layer 'batch', partition
 *             -1, final), chunk_rows per transaction
 *   sweep     batch rows of the range with another updated_at than this
 *             run's were not rewritten: stale, deleted by one statement
 *
 * Invariants: one operator for all partitions once merged, so a row is
 * the whole window and needs no merge with other batch rows; a partition
 * is read by one reader only; the compiled pipeline is
 * only read (a runtime may run it on another thread meanwhile: the view's
 * table handle here is this store's, never p->out); rows are absolute
 * values, so any prefix of committed chunks is correct and a rerun rewrites
 * the same values; a partition's records are fed in increasing offset
 * order, the source's (all below S) before the log's (from S), so no
 * offset is fed twice.
 *
 * Threading: readers touch only their own reader_t, the shared read-only
 * run state (ranges, options, pipeline) and the atomic flags (the stop
 * flag, `failed`); everything else (store, merge, writes) is the calling
 * thread's, after every reader has been joined.
 */
#include "stream/stream_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define POLL_MAX      1024
#define POLL_WAIT_MS  100
#define CHUNK_DEFAULT 10000
#define MAX_VALUES    (7 + STREAM_WIN_MAX_AGGS * STREAM_AGG_MAX_COLS)
#define CHUNK_FULL    1 /* a callback's "commit, then call again" */
#define READERS_MAX   64

typedef struct recompute recompute_t;

/* One reading thread's part of the run: its partitions, its task and its
 * operator, and its figures (summed into the run's at the end). */
typedef struct {
    recompute_t *r;
    int32_t first; /* reads partitions first, first + nreaders, ... */
    stream_stats_t tstats;
    stream_task_t *t;   /* detached */
    stream_winop_t *op; /* batch mode; reader 0's is the run's */
    stream_recompute_stats_t st;
    pthread_t thread;
    bool started;
    int rc;
    bool first_error;                   /* the run's first failure is this reader's */
    char detail[CORE_ERROR_DETAIL_MAX]; /* its message (error details are per thread) */
    bus_record_t recs[POLL_MAX];
} reader_t;

struct recompute {
    stream_pipeline_t *p;
    bus_t *bus;
    store_t *store;
    const stream_recompute_opts_t *o;
    stream_recompute_stats_t *st;
    size_t chunk;
    int64_t stamp; /* updated_at of every row this run writes */
    store_table_t *view;
    store_batch_t *batch;
    size_t pending; /* row operations in the batch */
    reader_t *readers;
    int32_t nreaders;
    int failed;         /* atomic: a reader failed; the others stop */
    stream_winop_t *op; /* readers[0].op: every window once merged */
    size_t cap;         /* open-window cap */
    size_t hops;        /* windows one event may open */
    int32_t nparts;
    int64_t *from, *to; /* offsets per partition */
    int64_t *start;     /* each partition's first stored offset */
};

static bool stopping(const recompute_t *r)
{
    return (r->o->stop != NULL && __atomic_load_n(r->o->stop, __ATOMIC_RELAXED) != 0) ||
           __atomic_load_n(&r->failed, __ATOMIC_RELAXED) != 0;
}

static int stopped(const recompute_t *r)
{
    return core_error(CORE_ECLOSED, "recompute of %s: stopped", r->p->name);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Whether an event at ts belongs to a window within [from, to): tumbling
 * and hopping windows are [s, s + size) with s a multiple of slide and
 * s <= ts < s + size. Any event before `to` may belong to a session within
 * the range (an earlier one can extend it back). */
static bool in_range(const recompute_t *r, int64_t ts)
{
    const stream_winop_config_t *w = &r->p->wcfg;
    int64_t from = r->o->from_us, to = r->o->to_us;
    if (ts < -STREAM_WIN_TS_LIMIT || ts > STREAM_WIN_TS_LIMIT || ts >= to)
        return false;
    if (w->kind == STREAM_WIN_SESSION)
        return true;
    if (ts < from)
        return false;
    int64_t lo = CORE_MAX(from, ts - w->size_us + 1); /* earliest start wanted */
    int64_t s = -floor_div(-lo, w->slide_us) * w->slide_us;
    return s <= ts && s <= to - w->size_us;
}

/* One record after its checks (rc, c: stream_task_check's), as a task
 * goes on with it, without the dlq. */
static int feed_checked(reader_t *w, const bus_record_t *rec, int rc, stream_check_t c)
{
    recompute_t *r = w->r;
    stream_task_t *t = w->t;
    if (rc == CORE_ETOOBIG)
        c = STREAM_CHECK_REJECTED; /* the speed layer's "too_big" */
    else if (rc != 0)
        return rc;
    if (c != STREAM_CHECK_OK) {
        w->st.invalid += c == STREAM_CHECK_REJECTED;
        w->st.filtered += c == STREAM_CHECK_FILTERED;
        return 0;
    }
    if (!in_range(r, t->event_us)) {
        w->st.valid++;
        w->st.outside++;
        return 0;
    }
    t->late = false;
    rc = r->p->ops->process(t, rec);
    /* Over a cap: an expression's or the key's (the speed layer sent the
     * record to the dlq), unless the operator is near its window cap. */
    if (rc == CORE_ETOOBIG && stream_winop_open(w->op) + r->hops <= r->cap) {
        w->st.invalid++;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (t->late)
        return core_error(CORE_EFAILED,
                          "recompute of %s: partition %d offset %lld was late in "
                          "batch mode",
                          r->p->name, (int)t->partition, (long long)rec->offset);
    w->st.valid++;
    return 0;
}

/* One record of the log, as a task reads it. */
static int feed(reader_t *w, const bus_record_t *rec)
{
    stream_check_t c = STREAM_CHECK_OK;
    schema_error_t err = {0};
    w->st.records++;
    stream_task_begin(w->t, rec);
    int rc = stream_task_check(w->t, rec, &c, &err);
    return feed_checked(w, rec, rc, c);
}

/* ---- Records below the log's start, from opts->source_fn. */

typedef struct {
    reader_t *w;
    int32_t part;
    int64_t log_start;
    int64_t last; /* offset last fed; -1 */
} source_ctx_t;

static int source_types(const reader_t *w, const stream_recompute_record_t *rec)
{
    const recompute_t *r = w->r;
    const schema_t *s = r->p->schema;
    for (size_t i = 0; i < schema_field_count(s); i++) {
        schema_type_t want = schema_field(s, i)->type, got = rec->values[i].type;
        if (got != SCHEMA_NULL && got != want)
            return core_error(CORE_EINVAL,
                              "recompute of %s: partition %d offset %lld: the source gave a %s for "
                              "field %s, a %s",
                              r->p->name, (int)w->t->partition, (long long)rec->offset,
                              schema_type_name(got), schema_field(s, i)->name,
                              schema_type_name(want));
    }
    return 0;
}

static int feed_source(void *ctx, const stream_recompute_record_t *rec)
{
    source_ctx_t *c = ctx;
    reader_t *w = c->w;
    recompute_t *r = w->r;
    if (rec == NULL || rec->offset <= c->last || rec->offset >= c->log_start)
        return core_error(CORE_EINVAL,
                          "recompute of %s: partition %d: the source gave offset %lld after %lld; "
                          "it may give increasing offsets below the log's start %lld only",
                          r->p->name, (int)c->part, rec != NULL ? (long long)rec->offset : -1LL,
                          (long long)c->last, (long long)c->log_start);
    if (stopping(r))
        return stopped(r);
    int rc = source_types(w, rec);
    if (rc != 0)
        return rc;
    c->last = rec->offset;
    bus_record_t b = {
        .key = rec->key,
        .key_len = rec->key_len,
        .offset = rec->offset,
        .timestamp_ms = rec->timestamp_ms,
        .partition = c->part,
    };
    stream_check_t chk = STREAM_CHECK_OK;
    schema_error_t err = {0};
    w->st.records++;
    w->st.sourced++;
    stream_task_begin(w->t, &b);
    memcpy(w->t->row.values, rec->values, schema_field_count(r->p->schema) * sizeof *rec->values);
    rc = stream_task_check_row(w->t, &b, &chk, &err);
    return feed_checked(w, &b, rc, chk);
}

/* Whether a partition's read starts at its log start above 0, so that
 * opts->source_fn is asked for what lies below (read_source). */
static bool needs_source(const recompute_t *r, int32_t part)
{
    return r->o->source_fn != NULL && r->start[part] > 0 && r->from[part] == r->start[part];
}

/* The source's records below the log start, for such a partition. */
static int read_source(reader_t *w, int32_t part)
{
    recompute_t *r = w->r;
    if (!needs_source(r, part))
        return 0;
    int64_t start = r->start[part];
    source_ctx_t c = {w, part, start, -1};
    return r->o->source_fn(r->o->arg, part, start, r->o->read_from_ms, feed_source, &c);
}

static int read_partition(reader_t *w, int32_t part)
{
    recompute_t *r = w->r;
    int64_t to = r->to[part];
    bus_reader_t *rd = NULL;
    w->t->partition = part;
    int rc = read_source(w, part);
    if (rc == 0 && r->from[part] >= to)
        return 0;
    if (rc == 0)
        rc = bus_reader_open(r->bus, r->p->topic, part, r->from[part], &rd);
    while (rc == 0) {
        int64_t pos = bus_reader_position(rd);
        if (pos >= to)
            break;
        if (stopping(r)) {
            rc = stopped(r);
            break;
        }
        size_t n = 0;
        size_t max = (size_t)CORE_MIN(to - pos, (int64_t)POLL_MAX);
        rc = bus_reader_poll(rd, w->recs, max, &n, POLL_WAIT_MS);
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (w->recs[i].offset < to)
                rc = feed(w, &w->recs[i]);
    }
    bus_reader_close(rd);
    if (rc != 0 && rc != CORE_ECLOSED && rc != CORE_ETOOBIG) {
        char detail[CORE_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof detail, "%s", core_error_detail());
        core_error(rc, "recompute of %s: topic %s partition %d: %s", r->p->name, r->p->topic,
                   (int)part, detail);
    }
    return rc;
}

/* Every partition's offsets, all taken before anything is read. */
static int find_ranges(recompute_t *r)
{
    int rc = bus_partitions(r->bus, r->p->topic, &r->nparts);
    if (rc != 0)
        return rc;
    r->from = core_calloc(CORE_MEM_STREAM, (size_t)r->nparts + 1, sizeof *r->from);
    r->to = core_calloc(CORE_MEM_STREAM, (size_t)r->nparts + 1, sizeof *r->to);
    r->start = core_calloc(CORE_MEM_STREAM, (size_t)r->nparts + 1, sizeof *r->start);
    if (r->from == NULL || r->to == NULL || r->start == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    for (int32_t i = 0; i < r->nparts && rc == 0; i++) {
        rc = bus_offsets(r->bus, r->p->topic, i, &r->start[i], &r->to[i]);
        if (rc == 0)
            rc = bus_offset_for_time(r->bus, r->p->topic, i, r->o->read_from_ms, &r->from[i]);
        r->from[i] = CORE_MIN(CORE_MAX(r->from[i], r->start[i]), r->to[i]);
    }
    for (int32_t i = 0; i < r->nparts && rc == 0; i++)
        if (r->o->range_fn != NULL)
            rc = r->o->range_fn(r->o->arg, i, r->from[i], r->to[i]);
    return rc;
}

static int commit_chunk(recompute_t *r)
{
    if (r->pending == 0)
        return 0;
    int rc = store_commit(r->store, r->batch);
    if (rc != 0)
        return rc;
    r->pending = 0;
    r->st->commits++;
    return 0;
}

static int write_row(void *arg, const stream_winop_row_t *row)
{
    recompute_t *r = arg;
    if (row->removed)
        return 0; /* merged away inside this run: never stored by it */
    if (r->pending >= r->chunk)
        return CHUNK_FULL; /* this row stays changed for the next drain */
    r->st->windows++;
    if (row->start < r->o->from_us || row->end > r->o->to_us)
        return 0; /* crosses a bound of the range */
    schema_value_t v[MAX_VALUES];
    stream_view_row_values(r->p, row, "batch", -1, r->stamp, v);
    int rc = store_batch_upsert(r->batch, r->view, v);
    if (rc != 0)
        return rc;
    r->pending++;
    r->st->rows++;
    return 0;
}

static int write_rows(recompute_t *r)
{
    stream_winop_advance(r->op, INT64_MAX);
    stream_winop_sort_changed(r->op); /* the view's primary-key order */
    for (;;) {
        if (stopping(r))
            return stopped(r);
        int drc = stream_winop_drain(r->op, write_row, r);
        if (drc != 0 && drc != CHUNK_FULL)
            return drc;
        int rc = commit_chunk(r);
        if (rc != 0 || drc == 0)
            return rc;
    }
}

/* Deletes the batch rows of the range that this run did not write (another
 * updated_at), in one statement: no scan in key order, no row round trips. */
static int sweep(recompute_t *r)
{
    if (stopping(r))
        return stopped(r);
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STREAM, 4096);
    int rc = core_buf_append_str(&sql, "DELETE FROM ");
    if (rc == 0)
        rc = store_quote_ident(store_table_def(r->view)->name, &sql);
    if (rc == 0)
        rc = core_buf_append_str(&sql, " WHERE \"layer\" = 'batch' AND \"partition\" = -1"
                                       " AND \"window_start\" >= ?1 AND \"window_start\" < ?2"
                                       " AND \"window_end\" <= ?2 AND \"updated_at\" <> ?3");
    if (rc == 0)
        rc = core_buf_append_u8(&sql, 0);
    schema_value_t params[3] = {
        {.type = SCHEMA_TIMESTAMP, .v.i = r->o->from_us},
        {.type = SCHEMA_TIMESTAMP, .v.i = r->o->to_us},
        {.type = SCHEMA_TIMESTAMP, .v.i = r->stamp},
    };
    int64_t deleted = 0;
    if (rc == 0)
        rc = store_exec(r->store, (const char *)sql.data, params, 3, NULL, NULL, &deleted);
    else
        rc = core_error(rc, "recompute of %s: out of memory", r->p->name);
    core_buf_fini(&sql);
    if (rc == 0) {
        r->st->deleted += deleted;
        r->st->commits += deleted > 0;
    }
    return rc;
}

static int setup(recompute_t *r)
{
    stream_winop_config_t cfg = r->p->wcfg;
    cfg.batch_mode = true;
    r->cap = cfg.max_windows != 0 ? cfg.max_windows : 1000000;
    r->hops = cfg.kind == STREAM_WIN_HOPPING ? (size_t)(cfg.size_us / cfg.slide_us) : 1;
    int rc = store_batch_create(&r->batch);
    if (rc == 0)
        rc = stream_pipeline_prepare(r->p, r->store);
    if (rc == 0)
        rc = store_table_open(r->store, &r->p->out_def, &r->view);
    return rc;
}

/* How many threads read: opts->threads (0: the online CPUs), at most one
 * per partition. One for session windows (sessions of a key may span
 * partitions, and merging them is not a per-window fold) and whenever a
 * partition needs the source (source_fn is not thread-safe). */
static int32_t reader_count(const recompute_t *r)
{
    long want = r->o->threads > 0 ? (long)r->o->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (r->p->wcfg.kind == STREAM_WIN_SESSION)
        return 1;
    for (int32_t i = 0; i < r->nparts; i++)
        if (needs_source(r, i))
            return 1;
    return (int32_t)CORE_MAX(1, CORE_MIN(want, CORE_MIN((long)r->nparts, (long)READERS_MAX)));
}

static int readers_create(recompute_t *r)
{
    stream_winop_config_t cfg = r->p->wcfg;
    cfg.batch_mode = true;
    r->nreaders = reader_count(r);
    r->readers = core_calloc(CORE_MEM_STREAM, (size_t)r->nreaders, sizeof *r->readers);
    if (r->readers == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    int rc = 0;
    for (int32_t i = 0; rc == 0 && i < r->nreaders; i++) {
        reader_t *w = &r->readers[i];
        w->r = r;
        w->first = i;
        rc = stream_task_create_detached(r->p, &w->tstats, &w->t);
        if (rc == 0)
            rc = stream_winop_create(&cfg, &w->op);
        if (rc == 0)
            w->t->winop = w->op;
    }
    if (rc == 0)
        r->op = r->readers[0].op;
    return rc;
}

static void readers_destroy(recompute_t *r)
{
    for (int32_t i = 0; r->readers != NULL && i < r->nreaders; i++) {
        stream_task_destroy(r->readers[i].t);
        stream_winop_destroy(r->readers[i].op);
    }
    core_free(r->readers);
}

/* A reader's partitions, in order; the first failure stops the others. */
static void *reader_main(void *arg)
{
    reader_t *w = arg;
    recompute_t *r = w->r;
    int rc = 0;
    for (int32_t i = w->first; rc == 0 && i < r->nparts; i += r->nreaders)
        rc = read_partition(w, i);
    w->rc = rc;
    if (rc != 0 && __atomic_exchange_n(&r->failed, 1, __ATOMIC_RELAXED) == 0) {
        w->first_error = true;
        snprintf(w->detail, sizeof w->detail, "%s", core_error_detail());
    }
    return NULL;
}

/* Folds a reader's windows into the run's operator. */
static int merge_row(void *arg, const stream_winop_row_t *row)
{
    recompute_t *r = arg;
    return stream_winop_merge(r->op, row->key, row->klen, row->start, row->end, row->states);
}

/* Reads every partition: reader 0 on the calling thread, the others on
 * threads of their own; then merges readers 1.. into reader 0's operator,
 * in order (so a rerun adds the floating-point partials in the same order
 * and writes the same values), and sums the figures. */
static int read_all(recompute_t *r)
{
    int rc = readers_create(r);
    for (int32_t i = 1; rc == 0 && i < r->nreaders; i++) {
        reader_t *w = &r->readers[i];
        if (pthread_create(&w->thread, NULL, reader_main, w) != 0)
            rc = core_error(CORE_EIO, "recompute of %s: cannot start a reading thread", r->p->name);
        else
            w->started = true;
    }
    if (rc != 0)
        __atomic_store_n(&r->failed, 1, __ATOMIC_RELAXED); /* the started ones stop */
    else
        reader_main(&r->readers[0]);
    for (int32_t i = 0; r->readers != NULL && i < r->nreaders; i++) {
        reader_t *w = &r->readers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        if (rc == 0 && w->first_error)
            rc = core_error(w->rc, "%s", w->detail); /* on this thread */
        r->st->records += w->st.records;
        r->st->sourced += w->st.sourced;
        r->st->valid += w->st.valid;
        r->st->invalid += w->st.invalid;
        r->st->filtered += w->st.filtered;
        r->st->outside += w->st.outside;
    }
    for (int32_t i = 1; rc == 0 && i < r->nreaders; i++) {
        stream_winop_advance(r->readers[i].op, INT64_MAX); /* drained windows are freed */
        rc = stream_winop_drain(r->readers[i].op, merge_row, r);
        stream_winop_destroy(r->readers[i].op);
        r->readers[i].op = NULL;
        r->readers[i].t->winop = NULL;
    }
    return rc;
}

static int check_args(const stream_pipeline_t *p, const stream_recompute_opts_t *o)
{
    if (p->kind != STREAM_KIND_AGGREGATE)
        return core_error(CORE_EINVAL, "recompute: pipeline %s is not an aggregate pipeline",
                          p->name);
    if (o->from_us >= o->to_us)
        return core_error(CORE_EINVAL, "recompute of %s: the range [%lld, %lld) is empty", p->name,
                          (long long)o->from_us, (long long)o->to_us);
    return 0;
}

int stream_recompute(stream_pipeline_t *p, bus_t *bus, store_t *store,
                     const stream_recompute_opts_t *opts, stream_recompute_stats_t *out)
{
    stream_recompute_stats_t st = {0};
    int rc = check_args(p, opts);
    recompute_t *r = rc == 0 ? core_calloc(CORE_MEM_STREAM, 1, sizeof *r) : NULL;
    if (rc == 0 && r == NULL)
        rc = core_error(CORE_ENOMEM, "stream: out of memory");
    if (rc == 0) {
        r->p = p;
        r->bus = bus;
        r->store = store;
        r->o = opts;
        r->st = &st;
        r->chunk = opts->chunk_rows != 0 ? opts->chunk_rows : CHUNK_DEFAULT;
        r->stamp = core_wall_us();
        rc = setup(r);
    }
    if (rc == 0)
        rc = find_ranges(r);
    if (rc == 0)
        rc = read_all(r);
    if (rc == 0)
        rc = write_rows(r);
    if (rc == 0)
        rc = sweep(r);
    if (r != NULL) {
        store_batch_destroy(r->batch);
        readers_destroy(r);
        core_free(r->from);
        core_free(r->to);
        core_free(r->start);
        core_free(r);
    }
    if (out != NULL)
        *out = st;
    return rc;
}

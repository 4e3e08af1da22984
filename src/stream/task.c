/*
 * A pipeline task: one partition of one pipeline. It turns records into a
 * store batch and commits that batch, with the partition's next offset and
 * watermark, in one transaction.
 *
 * Per record (task_record):
 *   null value / too big / bad JSON / field checks -> dlq, counted invalid
 *   a schema rule is false                        -> dlq "rule"
 *   the filter is false                           -> counted filtered
 *   otherwise the kind's process(); late          -> dlq "late"
 * cdc skips the decoding steps: its kind decodes the envelope itself. The
 * steps up to the filter and the event time are stream_task_check(), which
 * only reports; the batch layer's recompute (recompute.c) runs them, and
 * the kind's process(), on a detached task that has no reader, claims no
 * offsets and writes no dlq.
 *
 * Watermark: the largest event time seen minus max_out_of_orderness,
 * checked before the record updates it; it is committed with the offset,
 * so a restart resumes with the same watermark and classifies the same
 * events as late.
 *
 * Commit state: `flushed` is set once the kind's state and the offset are
 * in the batch; a commit that failed with CORE_EIO is retried with the same
 * batch, without flushing again. The offset committed is `next` (past every
 * record processed), except for kinds with a hold() (sinks): those commit
 * min(next, hold), the first offset whose record is not yet durable, so a
 * restart reads such records again (flush_next keeps the value across
 * retries). A kind with a tick() may ask for a commit without new records
 * (`dirty`).
 *
 * Threading: a task is used only by its pipeline's thread.
 */
#include "stream/stream_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define RECORD_MAX_BYTES (1024 * 1024)
#define SCRATCH_MAX      (256 * 1024)
#define KEYSET_MIN       1024

/* ---- Primary keys already in the batch: a set of 64-bit hashes. A
 * collision only causes an early commit, never a wrong result. */

static int keyset_grow(stream_task_t *t)
{
    task_keyset_t *k = &t->keys;
    size_t cap = k->cap == 0 ? KEYSET_MIN : k->cap * 2;
    uint64_t *slots = core_calloc(CORE_MEM_STREAM, cap, sizeof *slots);
    if (slots == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    for (size_t i = 0; i < k->cap; i++) {
        uint64_t h = k->slots[i];
        if (h == 0)
            continue;
        size_t j = h & (cap - 1);
        while (slots[j] != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = h;
    }
    core_free(k->slots);
    k->slots = slots;
    k->cap = cap;
    return 0;
}

static void keyset_clear(stream_task_t *t)
{
    if (t->keys.count > 0)
        memset(t->keys.slots, 0, t->keys.cap * sizeof *t->keys.slots);
    t->keys.count = 0;
}

static uint64_t hash_values(const schema_value_t *v, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        switch (v[i].type) {
        case SCHEMA_STRING:
        case SCHEMA_OBJECT:
        case SCHEMA_ARRAY:
            h = core_hash64(v[i].v.s.p, v[i].v.s.len, h);
            break;
        case SCHEMA_NULL:
            h = core_hash64("", 0, h ^ 1);
            break;
        default:
            h = core_hash64(&v[i].v, sizeof v[i].v.i, h ^ (uint64_t)v[i].type);
            break;
        }
    }
    return h == 0 ? 1 : h;
}

int stream_task_claim_key(stream_task_t *t, const schema_value_t *pk, size_t npk)
{
    task_keyset_t *k = &t->keys;
    if ((k->count + 1) * 2 > k->cap && keyset_grow(t) != 0)
        return CORE_ENOMEM;
    uint64_t h = hash_values(pk, npk);
    size_t j = h & (k->cap - 1);
    while (k->slots[j] != 0) {
        if (k->slots[j] == h)
            return STREAM_NEED_COMMIT;
        j = (j + 1) & (k->cap - 1);
    }
    k->slots[j] = h;
    k->count++;
    return 0;
}

/* ---- Helpers for the kinds. */

int stream_task_dlq(stream_task_t *t, const bus_record_t *rec, const char *kind, const char *reason)
{
    store_dlq_t d = {
        .pipeline = t->p->name,
        .topic = t->p->topic,
        .partition = t->partition,
        .offset = rec->offset,
        .kind = kind,
        .reason = reason,
        .key = rec->key,
        .key_len = rec->key_len,
        .value = rec->value,
        .value_len = CORE_MIN(rec->value_len, (size_t)RECORD_MAX_BYTES),
        .event_time = t->event_us,
    };
    if (strcmp(kind, "late") == 0)
        t->stats->late++;
    else
        t->stats->invalid++;
    return store_batch_dlq(t->batch, &d);
}

bool stream_task_number(stream_task_t *t, const stream_expr_t *e, double *out)
{
    schema_value_t v;
    if (stream_expr_eval(e, &t->env, &t->scratch, &v) != 0)
        return false;
    switch (v.type) {
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        *out = (double)v.v.i;
        return true;
    case SCHEMA_FLOAT:
        *out = v.v.f;
        return !isnan(v.v.f);
    case SCHEMA_BOOL:
        *out = v.v.b ? 1.0 : 0.0;
        return true;
    default:
        return false;
    }
}

int stream_task_key(stream_task_t *t, const char **key, size_t *len)
{
    *key = "";
    *len = 0;
    if (t->p->key == NULL)
        return 0;
    schema_value_t v;
    int rc = stream_expr_eval(t->p->key, &t->env, &t->scratch, &v);
    if (rc != 0)
        return rc;
    char num[40];
    int n;
    switch (v.type) {
    case SCHEMA_STRING:
        *key = v.v.s.p;
        *len = v.v.s.len;
        return 0;
    case SCHEMA_INT:
        n = snprintf(num, sizeof num, "%" PRId64, v.v.i);
        break;
    case SCHEMA_TIMESTAMP:
        n = (int)schema_format_timestamp(v.v.i, num);
        break;
    case SCHEMA_FLOAT:
        n = snprintf(num, sizeof num, "%.17g", v.v.f);
        break;
    case SCHEMA_BOOL:
        n = snprintf(num, sizeof num, "%s", v.v.b ? "true" : "false");
        break;
    default:
        return 0;
    }
    size_t at = t->scratch.len;
    rc = core_buf_append(&t->scratch, num, (size_t)n);
    if (rc != 0)
        return rc;
    *key = (const char *)t->scratch.data + at;
    *len = (size_t)n;
    return 0;
}

int stream_task_table_row(stream_task_t *t, const bus_record_t *rec, schema_value_t *vals)
{
    const stream_pipeline_t *p = t->p;
    for (size_t i = 0; i < p->out_def.ncolumns; i++) {
        int f = p->col_field[i];
        if (f == -1) {
            vals[i].type = SCHEMA_INT;
            vals[i].v.i = t->partition;
        } else if (f == -2) {
            vals[i].type = SCHEMA_INT;
            vals[i].v.i = rec->offset;
        } else {
            vals[i] = t->row.values[f];
        }
    }
    return 0;
}

/* ---- Lifecycle. */

int stream_task_create_detached(stream_pipeline_t *p, stream_stats_t *stats, stream_task_t **out)
{
    stream_task_t *t = core_calloc(CORE_MEM_STREAM, 1, sizeof *t);
    if (t == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    t->p = p;
    t->stats = stats;
    t->detached = true;
    t->max_ts = INT64_MIN;
    t->wm = INT64_MIN;
    t->event_us = INT64_MIN;
    t->last_record_ms = core_mono_ms();
    t->last_commit_ms = t->last_record_ms;
    core_buf_init(&t->scratch, CORE_MEM_STREAM, SCRATCH_MAX);
    /* Reserved whole: a buffer that grew would move, and strings from an
     * earlier evaluation of the same record (the key) would dangle. */
    int rc = core_buf_reserve(&t->scratch, SCRATCH_MAX);
    if (rc == 0)
        rc = schema_row_init(&t->row, p->schema);
    if (rc != 0) {
        stream_task_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

int stream_task_create(stream_pipeline_t *p, int32_t partition, bus_t *bus, store_t *s,
                       store_batch_t *batch, stream_stats_t *stats, stream_task_t **out)
{
    stream_task_t *t = NULL;
    int rc = stream_task_create_detached(p, stats, &t);
    if (rc != 0)
        return rc;
    t->detached = false;
    t->partition = partition;
    t->batch = batch;
    rc = store_offsets_claim(s, p->name, p->topic, partition, &t->epoch, &t->committed, &t->wm);
    if (rc == 0 && t->wm != INT64_MIN)
        t->max_ts = t->wm > INT64_MIN + p->ooo_us ? t->wm + p->ooo_us : t->wm;
    t->next = t->committed;
    if (rc == 0)
        rc = bus_reader_open(bus, p->topic, partition, t->committed, &t->reader);
    if (rc == 0)
        rc = bus_partitions(bus, p->topic, &t->partitions);
    if (rc == 0 && p->ops->task_init != NULL)
        rc = p->ops->task_init(t, s);
    if (rc != 0) {
        stream_task_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

void stream_task_destroy(stream_task_t *t)
{
    if (t == NULL)
        return;
    if (!t->detached && t->p->ops->task_fini != NULL)
        t->p->ops->task_fini(t);
    bus_reader_close(t->reader);
    schema_row_fini(&t->row);
    core_buf_fini(&t->scratch);
    core_free(t->keys.slots);
    core_free(t->lat_ts);
    core_free(t);
}

/* ---- One record. */

/* The schema's cross-field rules over t->row; *ok false with err set when
 * one fails. */
static void check_rules(stream_task_t *t, bool *ok, schema_error_t *err)
{
    *ok = false;
    for (size_t i = 0; i < t->p->nrules; i++) {
        bool pass = false;
        int rc = stream_expr_test(t->p->rules[i].check, &t->env, &t->scratch, &pass);
        if (rc != 0 || !pass) {
            const stream_rule_t *r = &t->p->rules[i];
            snprintf(err->reason, sizeof err->reason, "rule %s failed: %s", r->name,
                     r->message != NULL ? r->message : stream_expr_text(r->check));
            err->kind = SCHEMA_ERR_RULE;
            return;
        }
    }
    *ok = true;
}

/* Decodes and validates; *ok false with err set when the record is
 * invalid. */
static int validate(stream_task_t *t, const bus_record_t *rec, bool *ok, schema_error_t *err)
{
    *ok = false;
    if (rec->value == NULL) {
        err->kind = SCHEMA_ERR_JSON;
        snprintf(err->reason, sizeof err->reason, "record value is null");
        return 0;
    }
    if (rec->value_len > RECORD_MAX_BYTES) {
        err->kind = SCHEMA_ERR_TOOBIG;
        snprintf(err->reason, sizeof err->reason, "record value of %zu bytes exceeds %d",
                 rec->value_len, RECORD_MAX_BYTES);
        return 0;
    }
    if (schema_decode_json(t->p->schema, rec->value, rec->value_len, &t->row, err) != 0)
        return 0;
    check_rules(t, ok, err);
    return 0;
}

/* The record's event time into t->event_us; *ok false (err set) when the
 * field is null. */
static void event_time(stream_task_t *t, const bus_record_t *rec, bool *ok, schema_error_t *err)
{
    *ok = true;
    int f = t->p->event_time_field;
    if (f < 0) {
        t->event_us = rec->timestamp_ms * 1000;
        return;
    }
    const schema_value_t *v = &t->row.values[f];
    if (v->type != SCHEMA_TIMESTAMP) {
        *ok = false;
        err->kind = SCHEMA_ERR_REQUIRED;
        snprintf(err->reason, sizeof err->reason, "field \"%s\": event time is missing",
                 schema_field(t->p->schema, (size_t)f)->name);
        return;
    }
    t->event_us = v->v.i;
}

/* After validation: the filter and the event time. */
static int filter_and_time(stream_task_t *t, const bus_record_t *rec, stream_check_t *out,
                           schema_error_t *err);

int stream_task_check(stream_task_t *t, const bus_record_t *rec, stream_check_t *out,
                      schema_error_t *err)
{
    bool ok = false;
    *out = STREAM_CHECK_REJECTED;
    int rc = validate(t, rec, &ok, err);
    if (rc != 0 || !ok)
        return rc;
    return filter_and_time(t, rec, out, err);
}

int stream_task_check_row(stream_task_t *t, const bus_record_t *rec, stream_check_t *out,
                          schema_error_t *err)
{
    bool ok = false;
    *out = STREAM_CHECK_REJECTED;
    if (schema_row_check_required(t->p->schema, &t->row, err) != 0)
        return 0;
    check_rules(t, &ok, err);
    return ok ? filter_and_time(t, rec, out, err) : 0;
}

static int filter_and_time(stream_task_t *t, const bus_record_t *rec, stream_check_t *out,
                           schema_error_t *err)
{
    bool ok = false;
    int rc;
    if (t->p->filter != NULL) {
        bool pass = false;
        rc = stream_expr_test(t->p->filter, &t->env, &t->scratch, &pass);
        if (rc != 0)
            return rc;
        if (!pass) {
            *out = STREAM_CHECK_FILTERED;
            return 0;
        }
    }
    event_time(t, rec, &ok, err);
    if (ok)
        *out = STREAM_CHECK_OK;
    return 0;
}

static int dlq_late(stream_task_t *t, const bus_record_t *rec)
{
    char reason[200], a[40], b[40];
    schema_format_timestamp(t->event_us, a);
    schema_format_timestamp(t->wm, b);
    snprintf(reason, sizeof reason,
             "late: event time %s is behind the watermark %s beyond the allowed lateness", a, b);
    return stream_task_dlq(t, rec, "late", reason);
}

static void note_latency(stream_task_t *t, int64_t ts_ms)
{
    if (t->nlat == t->caplat) {
        size_t cap = t->caplat == 0 ? 1024 : t->caplat * 2;
        if (cap > (size_t)t->p->commit_records * 2 + 1024)
            return; /* enough samples for this commit */
        int64_t *n = core_realloc(CORE_MEM_STREAM, t->lat_ts, cap * sizeof *n);
        if (n == NULL)
            return;
        t->lat_ts = n;
        t->caplat = cap;
    }
    t->lat_ts[t->nlat++] = ts_ms;
}

static int apply(stream_task_t *t, const bus_record_t *rec)
{
    int rc = 0;
    if (t->p->kind != STREAM_KIND_CDC) {
        stream_check_t c = STREAM_CHECK_OK;
        schema_error_t err; /* not zeroed whole: 264 bytes a record */
        err.kind = SCHEMA_ERR_NONE;
        err.field = -1;
        err.reason[0] = '\0';
        rc = stream_task_check(t, rec, &c, &err);
        if (rc != 0)
            return rc;
        if (c == STREAM_CHECK_REJECTED)
            return stream_task_dlq(t, rec, schema_err_kind_name(err.kind), err.reason);
        if (c == STREAM_CHECK_FILTERED) {
            t->stats->filtered++;
            return 0;
        }
    }
    t->late = false;
    int64_t rejected = t->stats->invalid; /* a kind may send the record to the dlq */
    rc = t->p->ops->process(t, rec);
    if (rc != 0)
        return rc;
    if (t->late)
        return dlq_late(t, rec);
    if (t->p->kind != STREAM_KIND_CDC && t->stats->invalid == rejected)
        t->stats->valid++;
    if (t->event_us > t->max_ts && t->p->kind != STREAM_KIND_CDC) {
        t->max_ts = t->event_us;
        int64_t wm = t->max_ts - t->p->ooo_us;
        if (wm > t->wm) {
            t->wm = wm;
            t->wm_moved = true;
        }
    }
    return 0;
}

void stream_task_begin(stream_task_t *t, const bus_record_t *rec)
{
    core_buf_reset(&t->scratch);
    t->env.fields = t->row.values;
    t->env.key.type = rec->key != NULL ? SCHEMA_STRING : SCHEMA_NULL;
    t->env.key.v.s.p = rec->key;
    t->env.key.v.s.len = rec->key_len;
    t->env.partition = t->partition;
    t->env.offset = rec->offset;
    t->env.timestamp_us = rec->timestamp_ms * 1000;
    t->event_us = rec->timestamp_ms * 1000;
}

int stream_task_record(stream_task_t *t, const bus_record_t *rec)
{
    stream_task_begin(t, rec);
    int rc = apply(t, rec);
    if (rc == STREAM_NEED_COMMIT)
        return rc;
    if (rc == CORE_ETOOBIG) {
        /* The record's expressions or state overflowed a cap: dlq it. */
        char reason[256];
        snprintf(reason, sizeof reason, "too big: %s", core_error_detail());
        rc = stream_task_dlq(t, rec, "too_big", reason);
    }
    if (rc != 0)
        return rc;
    t->stats->records++;
    t->next = rec->offset + 1;
    t->pending++; /* last_record_ms: set by the runtime once per poll */
    t->idle = false;
    note_latency(t, rec->timestamp_ms);
    return 0;
}

void stream_task_advance(stream_task_t *t, int64_t wm)
{
    if (wm > t->wm) {
        t->wm = wm;
        t->wm_moved = true;
    }
}

/* ---- Commits. */

_Static_assert(STREAM_LATENCY_BOUND_MS(0) == 1 && STREAM_LATENCY_BOUND_MS(19) == 1LL << 19,
               "record_latency() computes the bucket of bounds 2^b");

static void record_latency(stream_task_t *t)
{
    int64_t now = core_wall_ms();
    for (size_t i = 0; i < t->nlat; i++) {
        int64_t ms = now - t->lat_ts[i];
        /* the first bucket whose bound 2^b is above ms, at most 19 */
        int b = ms <= 0 ? 0 : CORE_MIN(64 - __builtin_clzll((uint64_t)ms), 19);
        t->stats->latency_buckets[b]++;
        t->stats->latency_ms_total += ms > 0 ? ms : 0;
    }
    t->nlat = 0;
}

int stream_task_tick(stream_task_t *t, bool final)
{
    if (t->p->ops->tick == NULL)
        return 0;
    int rc = t->p->ops->tick(t, final);
    if (rc > 0)
        t->dirty = true;
    return rc > 0 ? 0 : rc;
}

/* The next offset a commit stores: past every record processed, held back
 * by the kind to its first record that is not yet durable (sinks), never
 * behind what is committed. */
static int64_t commit_offset(stream_task_t *t)
{
    int64_t next = t->next;
    if (t->p->ops->hold != NULL)
        next = CORE_MIN(next, t->p->ops->hold(t));
    return CORE_MAX(next, t->committed);
}

int stream_task_commit(stream_task_t *t, store_t *s)
{
    int rc = 0;
    if (!t->flushed) {
        rc = t->p->ops->flush != NULL ? t->p->ops->flush(t) : 0;
        t->flush_next = commit_offset(t);
        if (rc == 0)
            rc = store_batch_offset(t->batch, t->p->name, t->p->topic, t->partition, t->flush_next,
                                    t->epoch, t->wm);
        if (rc != 0)
            return rc;
        t->flushed = true;
    }
    int64_t next = t->flush_next;
    int64_t start = core_mono_ms();
    rc = store_commit(s, t->batch);
    if (rc != 0) {
        t->stats->commit_errors++;
        return rc;
    }
    t->flushed = false;
    int64_t from = t->committed;
    t->committed = next;
    t->pending = 0;
    t->wm_moved = false;
    t->dirty = false;
    t->last_commit_ms = core_mono_ms();
    t->stats->commits++;
    t->stats->commit_us_total += (t->last_commit_ms - start) * 1000;
    keyset_clear(t);
    record_latency(t);
    if (t->p->ops->committed != NULL)
        t->p->ops->committed(t);
    if (t->on_commit != NULL && next > from)
        t->on_commit(t->on_commit_arg, t->p->name, t->partition, from, next);
    return 0;
}

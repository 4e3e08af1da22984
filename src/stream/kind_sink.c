/*
 * The `sink` kind: each valid record that the filter keeps goes to a sink
 * (stream.h, "Sinks"), the lake's archive for one. This file adapts the
 * sink's per-partition part to the task: it loads the part's committed
 * state (strata_state rows named "sink") and opens the part with it, hands
 * it records, its ticks and its commits, and puts its state changes into
 * the commit's batch.
 *
 * A record the sink refuses (CORE_EINVAL) goes to the dlq with kind "sink"
 * and the sink's detail as the reason; other errors stop the pipeline.
 *
 * Threading: the pipeline thread only.
 */
#include "stream/stream_int.h"

#include <stdio.h>
#include <string.h>

#define STATE_NAME      "sink"
#define STATE_MAX_BYTES (64u << 20) /* all of a part's committed state */

/* The committed entries while they load: bytes in one buffer, offsets in
 * another, turned into stream_sink_entry_t once complete. */
typedef struct {
    core_buf_t bytes;
    size_t *at; /* key offset, key length, state offset, state length */
    size_t n, cap;
} loaded_t;

static int load_row(void *arg, const schema_value_t *v, size_t n)
{
    loaded_t *l = arg;
    if (n < 3 || v[0].type != SCHEMA_STRING || v[1].type != SCHEMA_STRING ||
        v[2].type != SCHEMA_STRING || v[0].v.s.len != strlen(STATE_NAME) ||
        memcmp(v[0].v.s.p, STATE_NAME, v[0].v.s.len) != 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 64 : l->cap * 2;
        size_t *at = core_realloc(CORE_MEM_STREAM, l->at, cap * 4 * sizeof *at);
        if (at == NULL)
            return core_error(CORE_ENOMEM, "sink: out of memory loading state");
        l->at = at;
        l->cap = cap;
    }
    size_t *e = &l->at[l->n * 4];
    e[0] = l->bytes.len;
    e[1] = v[1].v.s.len;
    int rc = core_buf_append(&l->bytes, v[1].v.s.p, v[1].v.s.len);
    e[2] = l->bytes.len;
    e[3] = v[2].v.s.len;
    if (rc == 0)
        rc = core_buf_append(&l->bytes, v[2].v.s.p, v[2].v.s.len);
    if (rc != 0)
        return core_error(rc, "sink: the committed state exceeds %u bytes", STATE_MAX_BYTES);
    l->n++;
    return 0;
}

static int open_part(stream_task_t *t, const loaded_t *l)
{
    const stream_pipeline_t *p = t->p;
    stream_sink_entry_t *entries = core_calloc(CORE_MEM_STREAM, l->n + 1, sizeof *entries);
    if (entries == NULL)
        return core_error(CORE_ENOMEM, "sink: out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const size_t *e = &l->at[i * 4];
        entries[i] = (stream_sink_entry_t){(const char *)l->bytes.data + e[0], e[1],
                                           l->bytes.data + e[2], e[3]};
    }
    stream_sink_open_t info = {
        .pipeline = p->name,
        .topic = p->topic,
        .partition = t->partition,
        .partitions = t->partitions,
        .schema = p->schema,
        .epoch = t->epoch,
        .committed = t->committed,
        .watermark_us = t->wm,
        .state = entries,
        .nstate = l->n,
        .rows = &t->stats->rows,
    };
    int rc = p->sink_ops->open(p->sink, &info, &t->kind_state);
    core_free(entries);
    return rc;
}

static int prepare(stream_pipeline_t *p, store_t *s)
{
    (void)p;
    (void)s; /* strata_state is a system table */
    return 0;
}

static int task_init(stream_task_t *t, store_t *s)
{
    loaded_t l = {0};
    core_buf_init(&l.bytes, CORE_MEM_STREAM, STATE_MAX_BYTES);
    int rc = store_state_load(s, t->p->name, t->partition, load_row, &l);
    if (rc == 0)
        rc = open_part(t, &l);
    core_buf_fini(&l.bytes);
    core_free(l.at);
    return rc;
}

static int process(stream_task_t *t, const bus_record_t *rec)
{
    stream_sink_record_t r = {
        .values = t->row.values,
        .key = rec->key,
        .key_len = rec->key_len,
        .partition = t->partition,
        .offset = rec->offset,
        .timestamp_us = rec->timestamp_ms * 1000,
        .event_us = t->event_us,
    };
    core_error_clear();
    int rc = t->p->sink_ops->write(t->kind_state, &r);
    if (rc != CORE_EINVAL)
        return rc;
    char reason[SCHEMA_REASON_MAX];
    snprintf(reason, sizeof reason, "%s", core_error_detail());
    return stream_task_dlq(t, rec, "sink", reason);
}

static int put(void *ctx, const char *key, size_t key_len, const void *state, size_t state_len)
{
    stream_task_t *t = ctx;
    return store_batch_state(t->batch, t->p->name, t->partition, STATE_NAME, key, key_len, state,
                             state_len);
}

static int flush(stream_task_t *t)
{
    return t->p->sink_ops->flush(t->kind_state, put, t);
}

static int64_t hold(stream_task_t *t)
{
    return t->p->sink_ops->hold(t->kind_state);
}

static int tick(stream_task_t *t, bool final)
{
    return t->p->sink_ops->tick(t->kind_state, t->wm, final);
}

static void committed(stream_task_t *t)
{
    t->p->sink_ops->committed(t->kind_state, t->committed, t->wm);
}

static void task_fini(stream_task_t *t)
{
    if (t->kind_state != NULL)
        t->p->sink_ops->close(t->kind_state);
    t->kind_state = NULL;
}

const stream_kind_ops_t stream_kind_sink_ops = {
    .prepare = prepare,
    .task_init = task_init,
    .process = process,
    .flush = flush,
    .committed = committed,
    .task_fini = task_fini,
    .hold = hold,
    .tick = tick,
};

/*
 * group_offsets.c - committed consumer-group offsets, kept in memory and
 * made durable on the internal topic __consumer_offsets (one partition).
 *
 * Write path: kafka_offsets_commit() encodes every accepted offset as one
 * record of ONE batch, appends it, and asks the kafka_sync_fn for
 * durability. Each append becomes an `op` in a FIFO in append order. A
 * sync completion only marks its op done; drain() then applies ops from the
 * head while the head is done, so offsets reach memory (and clients hear
 * back) strictly in append order even if completions arrive out of order.
 *
 * Read path: at open, the partition is replayed from log start to end; the
 * last value per key wins and a null value (tombstone) removes the key.
 * Records that do not decode are logged with topic/partition/offset and
 * skipped; the store still opens.
 *
 * Invariants:
 *   1. An offset is in memory only after the record that carries it was
 *      appended and synced (or was found by replay).
 *   2. Ops are applied in the order they were appended (FIFO, drain()).
 *   3. Every op with a commit callback calls it exactly once: from drain(),
 *      or from kafka_offsets_close() for ops still in flight.
 *   4. An op outlives the store only when its sync is still pending at
 *      close; it is then orphaned (owner NULL) and freed by sync_done().
 *
 * Memory: groups map (group id -> ogroup_t), each with a map (be32
 * partition + topic -> entry_t). Everything is CORE_MEM_KAFKA.
 *
 * Threading: loop thread only; sync completions must be delivered on it.
 */
#include "kafka/group_offsets_int.h"

#include "record/record.h"

#include <string.h>

#define KEY_VERSION_OFFSET 1 /* Kafka's OffsetCommitKey */
#define KEY_VERSION_GROUP  2 /* Kafka's GroupMetadataKey: not ours, skipped */
#define VALUE_VERSION      3 /* offset, leader epoch, metadata, commit time */
#define KAFKA_STRING_MAX   32767
#define REPLAY_READ_BYTES  (1u << 20)
#define REPLAY_INFLATE_MAX (64u << 20)
#define OFFSETS_SEGMENT    (100LL << 20) /* Kafka's offsets.topic.segment.bytes */
#define OP_RECS_MAX        (1u << 30)
#define SCRATCH_MAX        (1u << 17)

static const uint8_t empty_bytes[1] = {0};

typedef struct {
    int64_t offset;
    int32_t leader_epoch;
    int32_t meta_len;
    uint8_t meta[];
} entry_t;

typedef struct {
    core_map_t *parts; /* be32 partition + topic bytes -> entry_t* */
} ogroup_t;

/* One appended batch waiting for durability. */
typedef struct op {
    struct op *next;
    kafka_offsets_t *owner;  /* NULL once orphaned by kafka_offsets_close() */
    kafka_commit_req_t *req; /* NULL for tombstone writes */
    kafka_commit_cb cb;
    void *arg;
    int rc;
    bool done;
    core_buf_t recs; /* copies of the records: be32 klen, key, be32 vlen (~0 = null), value */
} op_t;

struct kafka_offsets {
    seglog_part_t *part; /* borrowed from the log */
    const char *part_name;
    int32_t max_metadata_bytes;
    size_t max_batch;
    kafka_sync_fn sync;
    void *sync_ctx;
    core_map_t *groups; /* group id -> ogroup_t* */
    op_t *head, *tail;  /* in append order */
    core_buf_t kbuf, vbuf, pkey;
};

typedef struct {
    kafka_bytes_t group;
    kafka_bytes_t topic;
    int32_t partition;
} okey_t;

typedef struct {
    int64_t offset;
    int32_t leader_epoch;
    kafka_bytes_t metadata;
} oval_t;

static const uint8_t *bytes_ptr(kafka_bytes_t b)
{
    return b.len > 0 ? b.p : empty_bytes;
}

static size_t bytes_len(kafka_bytes_t b)
{
    return b.len > 0 ? (size_t)b.len : 0;
}

/* ---- encoding ---------------------------------------------------------- */

static int put_str(core_buf_t *b, kafka_bytes_t s)
{
    int rc = core_buf_append_be16(b, (uint16_t)bytes_len(s));
    return rc ? rc : core_buf_append(b, bytes_ptr(s), bytes_len(s));
}

static int key_encode(core_buf_t *b, kafka_bytes_t group, kafka_bytes_t topic, int32_t partition)
{
    core_buf_reset(b);
    int rc = core_buf_append_be16(b, KEY_VERSION_OFFSET);
    if (rc == 0)
        rc = put_str(b, group);
    if (rc == 0)
        rc = put_str(b, topic);
    if (rc == 0)
        rc = core_buf_append_be32(b, (uint32_t)partition);
    return rc;
}

static int value_encode(core_buf_t *b, const kafka_offset_commit_t *e, int64_t commit_ms)
{
    core_buf_reset(b);
    int rc = core_buf_append_be16(b, VALUE_VERSION);
    if (rc == 0)
        rc = core_buf_append_be64(b, (uint64_t)e->offset);
    if (rc == 0)
        rc = core_buf_append_be32(b, (uint32_t)e->leader_epoch);
    if (rc == 0)
        rc = put_str(b, e->metadata);
    if (rc == 0)
        rc = core_buf_append_be64(b, (uint64_t)commit_ms);
    return rc;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool bad;
} reader_t;

static const uint8_t *take(reader_t *r, size_t n)
{
    if (r->bad || r->len - r->pos < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *at = r->p + r->pos;
    r->pos += n;
    return at;
}

static int16_t get_i16(reader_t *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (int16_t)core_load_be16(p) : 0;
}

static int32_t get_i32(reader_t *r)
{
    const uint8_t *p = take(r, 4);
    return p ? (int32_t)core_load_be32(p) : 0;
}

static int64_t get_i64(reader_t *r)
{
    const uint8_t *p = take(r, 8);
    return p ? (int64_t)core_load_be64(p) : 0;
}

/* A string; length -1 (null) reads as empty. */
static kafka_bytes_t get_str(reader_t *r)
{
    int16_t n = get_i16(r);
    if (n < -1)
        r->bad = true;
    if (r->bad || n <= 0)
        return (kafka_bytes_t){empty_bytes, 0};
    const uint8_t *p = take(r, (size_t)n);
    return p ? (kafka_bytes_t){p, n} : (kafka_bytes_t){empty_bytes, 0};
}

/* 1 = an offset key, 0 = a key of another kind (skip), CORE_ECORRUPT. */
static int key_decode(const uint8_t *p, int32_t len, okey_t *k)
{
    if (p == NULL || len < 2)
        return CORE_ECORRUPT;
    reader_t r = {p, (size_t)len, 0, false};
    int16_t version = get_i16(&r);
    if (version == KEY_VERSION_GROUP)
        return 0;
    if (version != 0 && version != KEY_VERSION_OFFSET)
        return CORE_ECORRUPT;
    k->group = get_str(&r);
    k->topic = get_str(&r);
    k->partition = get_i32(&r);
    return r.bad || r.pos != r.len ? CORE_ECORRUPT : 1;
}

/* Value versions 0-3 (Kafka's OffsetCommitValue). */
static int value_decode(const uint8_t *p, int32_t len, oval_t *v)
{
    if (p == NULL || len < 2)
        return CORE_ECORRUPT;
    reader_t r = {p, (size_t)len, 0, false};
    int16_t version = get_i16(&r);
    if (version < 0 || version > VALUE_VERSION)
        return CORE_ECORRUPT;
    v->offset = get_i64(&r);
    v->leader_epoch = version >= 3 ? get_i32(&r) : -1;
    v->metadata = get_str(&r);
    (void)get_i64(&r); /* commit timestamp */
    if (version == 1)
        (void)get_i64(&r); /* expire timestamp */
    return r.bad || r.pos != r.len ? CORE_ECORRUPT : 0;
}

/* ---- the in-memory maps -------------------------------------------------- */

static int part_key(kafka_offsets_t *o, kafka_bytes_t topic, int32_t partition)
{
    core_buf_reset(&o->pkey);
    int rc = core_buf_append_be32(&o->pkey, (uint32_t)partition);
    return rc ? rc : core_buf_append(&o->pkey, bytes_ptr(topic), bytes_len(topic));
}

static ogroup_t *ogroup_get(kafka_offsets_t *o, kafka_bytes_t group)
{
    void *v = NULL;
    return core_map_get(o->groups, bytes_ptr(group), bytes_len(group), &v) ? v : NULL;
}

static void ogroup_free(ogroup_t *og)
{
    if (og == NULL)
        return;
    size_t cur = 0;
    const void *k;
    size_t kl;
    void *v;
    while (core_map_next(og->parts, &cur, &k, &kl, &v))
        core_free(v);
    core_map_destroy(og->parts);
    core_free(og);
}

static ogroup_t *ogroup_make(kafka_offsets_t *o, kafka_bytes_t group)
{
    ogroup_t *og = ogroup_get(o, group);
    if (og)
        return og;
    og = core_calloc(CORE_MEM_KAFKA, 1, sizeof *og);
    if (og == NULL)
        return NULL;
    og->parts = core_map_create(CORE_MEM_KAFKA, 8);
    if (og->parts == NULL ||
        core_map_put(o->groups, bytes_ptr(group), bytes_len(group), og, NULL) != 0) {
        if (og->parts)
            core_map_destroy(og->parts);
        core_free(og);
        return NULL;
    }
    return og;
}

static int apply_set(kafka_offsets_t *o, const okey_t *k, const oval_t *v)
{
    ogroup_t *og = ogroup_make(o, k->group);
    entry_t *e = core_alloc(CORE_MEM_KAFKA, sizeof *e + bytes_len(v->metadata));
    if (og == NULL || e == NULL || part_key(o, k->topic, k->partition) != 0) {
        core_free(e);
        return CORE_ENOMEM;
    }
    e->offset = v->offset;
    e->leader_epoch = v->leader_epoch;
    e->meta_len = (int32_t)bytes_len(v->metadata);
    memcpy(e->meta, bytes_ptr(v->metadata), bytes_len(v->metadata));
    void *old = NULL;
    if (core_map_put(og->parts, o->pkey.data, o->pkey.len, e, &old) != 0) {
        core_free(e);
        return CORE_ENOMEM;
    }
    core_free(old);
    return 0;
}

static int apply_del(kafka_offsets_t *o, const okey_t *k)
{
    ogroup_t *og = ogroup_get(o, k->group);
    void *old = NULL;
    if (og == NULL)
        return 0;
    if (part_key(o, k->topic, k->partition) != 0)
        return CORE_ENOMEM;
    if (core_map_del(og->parts, o->pkey.data, o->pkey.len, &old))
        core_free(old);
    if (core_map_count(og->parts) == 0) {
        core_map_del(o->groups, bytes_ptr(k->group), bytes_len(k->group), NULL);
        ogroup_free(og);
    }
    return 0;
}

/* Applies one record (from replay, or from an op that became durable).
 * Undecodable records are logged (`at` is the log offset, -1 if unknown)
 * and skipped; only CORE_ENOMEM is returned. */
static int apply_record(kafka_offsets_t *o, const uint8_t *key, int32_t klen, const uint8_t *value,
                        int32_t vlen, int64_t at)
{
    okey_t k;
    oval_t v;
    int rc = key_decode(key, klen, &k);
    if (rc == 0)
        return 0;
    if (rc < 0) {
        core_log(CORE_LOG_WARN, "kafka", "%s: offset %lld: undecodable offset-commit key; skipped",
                 o->part_name, (long long)at);
        return 0;
    }
    if (vlen < 0)
        return apply_del(o, &k);
    if (value_decode(value, vlen, &v) != 0) {
        core_log(CORE_LOG_WARN, "kafka",
                 "%s: offset %lld: undecodable offset-commit value for group '%.*s'; skipped",
                 o->part_name, (long long)at, (int)bytes_len(k.group), bytes_ptr(k.group));
        return 0;
    }
    return apply_set(o, &k, &v);
}

/* ---- ops: records kept for apply ------------------------------------------ */

static int recs_put(core_buf_t *recs, const uint8_t *key, size_t klen, const uint8_t *value,
                    int32_t vlen)
{
    int rc = core_buf_append_be32(recs, (uint32_t)klen);
    if (rc == 0)
        rc = core_buf_append(recs, key, klen);
    if (rc == 0)
        rc = core_buf_append_be32(recs, (uint32_t)vlen);
    if (rc == 0 && vlen > 0)
        rc = core_buf_append(recs, value, (size_t)vlen);
    return rc;
}

/* Walks the records an op keeps. Returns false at the end. The buffer is
 * ours, so its layout is trusted. */
static bool recs_next(const core_buf_t *recs, size_t *pos, const uint8_t **key, int32_t *klen,
                      const uint8_t **value, int32_t *vlen)
{
    if (*pos >= recs->len)
        return false;
    const uint8_t *p = recs->data + *pos;
    *klen = (int32_t)core_load_be32(p);
    *key = p + 4;
    p += 4 + (size_t)*klen;
    *vlen = (int32_t)core_load_be32(p);
    *value = *vlen > 0 ? p + 4 : NULL;
    *pos += 8 + (size_t)*klen + (size_t)(*vlen > 0 ? *vlen : 0);
    return true;
}

static op_t *op_new(kafka_offsets_t *o, kafka_commit_req_t *req, kafka_commit_cb cb, void *arg)
{
    op_t *op = core_calloc(CORE_MEM_KAFKA, 1, sizeof *op);
    if (op == NULL)
        return NULL;
    op->owner = o;
    op->req = req;
    op->cb = cb;
    op->arg = arg;
    core_buf_init(&op->recs, CORE_MEM_KAFKA, OP_RECS_MAX);
    return op;
}

static void op_free(op_t *op)
{
    core_buf_fini(&op->recs);
    core_free(op);
}

static int16_t op_error(int rc)
{
    if (rc == 0)
        return KAFKA_ERR_NONE;
    return rc == CORE_ETOOBIG ? KAFKA_ERR_INVALID_COMMIT_OFFSET_SIZE
                              : KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
}

/* Entries still at 0 are the ones this op carries. */
static void set_accepted_errors(kafka_commit_req_t *req, int16_t err)
{
    for (int32_t i = 0; err != 0 && i < req->n_offsets; i++)
        if (req->offsets[i].error == KAFKA_ERR_NONE)
            req->offsets[i].error = err;
}

/* Applies op's records. The i-th record carries the i-th entry of req still
 * at 0; an entry that cannot be applied for want of memory reports 15 (it
 * is durable, so a retry or a restart brings it back). */
static void op_apply(kafka_offsets_t *o, op_t *op)
{
    size_t pos = 0;
    const uint8_t *k, *v;
    int32_t kl, vl, i = 0;
    kafka_commit_req_t *req = op->req;
    while (recs_next(&op->recs, &pos, &k, &kl, &v, &vl)) {
        int rc = apply_record(o, k, kl, v, vl, -1);
        while (req && i < req->n_offsets && req->offsets[i].error != KAFKA_ERR_NONE)
            i++;
        if (rc != 0 && req && i < req->n_offsets)
            req->offsets[i].error = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        else if (rc != 0)
            core_log(CORE_LOG_ERROR, "kafka", "%s: out of memory dropping a deleted offset",
                     o->part_name);
        i++;
    }
}

/* Applies (on success; tombstones always) and reports one op, then frees it. */
static void op_finish(kafka_offsets_t *o, op_t *op)
{
    if (op->rc == 0 || op->req == NULL)
        op_apply(o, op);
    if (op->rc != 0) {
        const char *why = seglog_part_error(o->part);
        core_log(CORE_LOG_ERROR, "kafka", "%s: %s could not be made durable: %s%s%s", o->part_name,
                 op->req ? "an offset commit" : "offset tombstones (dropped from memory anyway)",
                 core_strerror(op->rc), why ? ": " : "", why ? why : "");
    }
    kafka_commit_req_t *req = op->req;
    kafka_commit_cb cb = op->cb;
    void *arg = op->arg;
    if (req)
        set_accepted_errors(req, op_error(op->rc));
    op_free(op);
    if (cb)
        cb(arg, req);
}

static void drain(kafka_offsets_t *o)
{
    while (o->head && o->head->done) {
        op_t *op = o->head;
        o->head = op->next;
        if (o->head == NULL)
            o->tail = NULL;
        op_finish(o, op);
    }
}

static void sync_done(void *arg, int rc)
{
    op_t *op = arg;
    if (op->owner == NULL) {
        op_free(op);
        return;
    }
    op->rc = rc;
    op->done = true;
    drain(op->owner);
}

/* Never waits for an fsync, whatever the topic's flush policy: the loop
 * must not block; durability comes from the sync step. */
static int batch_append(kafka_offsets_t *o, record_builder_t *b, int64_t *end)
{
    uint8_t *batch;
    size_t len;
    int64_t base;
    int rc = record_builder_finish(b, &batch, &len);
    return rc ? rc : seglog_append_nowait(o->part, batch, len, &base, end);
}

/* Appends the builder's records as op's batch, queues op and starts the
 * sync. rc != 0 means the batch could not be built: op fails in order. op
 * may be freed before this returns. */
static void submit(kafka_offsets_t *o, op_t *op, record_builder_t *b, int rc)
{
    int64_t end = 0;
    if (rc == 0)
        rc = batch_append(o, b, &end);
    if (o->tail)
        o->tail->next = op;
    else
        o->head = op;
    o->tail = op;
    if (rc == 0 && o->sync) {
        rc = o->sync(o->sync_ctx, o->part, end, sync_done, op);
        if (rc == 0)
            return; /* sync_done() comes (or came already: op may be gone) */
    } else if (rc == 0) {
        rc = seglog_sync(o->part, end);
    }
    op->rc = rc;
    op->done = true;
    drain(o);
}

/* ---- commits ------------------------------------------------------------ */

static int add_commit(kafka_offsets_t *o, record_builder_t *b, op_t *op, kafka_bytes_t group,
                      const kafka_offset_commit_t *e, int64_t now_ms)
{
    int rc = key_encode(&o->kbuf, group, e->topic, e->partition);
    if (rc == 0)
        rc = value_encode(&o->vbuf, e, now_ms);
    if (rc == 0)
        rc = record_builder_add(b, now_ms, o->kbuf.data, (int32_t)o->kbuf.len, o->vbuf.data,
                                (int32_t)o->vbuf.len, NULL, 0);
    if (rc == 0)
        rc = recs_put(&op->recs, o->kbuf.data, o->kbuf.len, o->vbuf.data, (int32_t)o->vbuf.len);
    return rc;
}

static int16_t check_entry(const kafka_offsets_t *o, const kafka_offset_commit_t *e)
{
    int32_t cap = CORE_MIN(o->max_metadata_bytes, KAFKA_STRING_MAX);
    if (e->metadata.len > cap)
        return KAFKA_ERR_OFFSET_METADATA_TOO_LARGE;
    if (e->topic.len < 0 || e->topic.len > KAFKA_STRING_MAX)
        return KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
    return KAFKA_ERR_NONE;
}

void kafka_offsets_commit(kafka_offsets_t *o, kafka_commit_req_t *req, kafka_commit_cb cb,
                          void *arg)
{
    op_t *op = op_new(o, req, cb, arg);
    if (op == NULL) {
        set_accepted_errors(req, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
        cb(arg, req);
        return;
    }
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_KAFKA, o->max_batch);
    int64_t now_ms = core_wall_ms();
    int32_t n = 0;
    int rc = 0;
    for (int32_t i = 0; rc == 0 && i < req->n_offsets; i++) {
        kafka_offset_commit_t *e = &req->offsets[i];
        if (e->error != KAFKA_ERR_NONE)
            continue;
        e->error = check_entry(o, e);
        if (e->error != KAFKA_ERR_NONE)
            continue;
        rc = add_commit(o, &b, op, req->group_id, e, now_ms);
        n++;
    }
    if (n == 0) {
        record_builder_fini(&b);
        op_free(op);
        cb(arg, req);
        return;
    }
    submit(o, op, &b, rc);
    record_builder_fini(&b);
}

/* ---- tombstones for a deleted topic -------------------------------------- */

static bool topic_is(kafka_bytes_t a, const uint8_t *t, size_t tlen)
{
    return bytes_len(a) == tlen && memcmp(bytes_ptr(a), t, tlen) == 0;
}

/* Collects the keys of `topic` (in memory and in flight) as be32 len + key. */
static int collect_keys(kafka_offsets_t *o, kafka_bytes_t topic, core_buf_t *keys)
{
    size_t gcur = 0, gkl, pkl;
    const void *gk, *pk;
    void *gv, *pv;
    int rc = 0;
    while (rc == 0 && core_map_next(o->groups, &gcur, &gk, &gkl, &gv)) {
        ogroup_t *og = gv;
        size_t pcur = 0;
        while (rc == 0 && core_map_next(og->parts, &pcur, &pk, &pkl, &pv)) {
            const uint8_t *p = pk;
            if (!topic_is(topic, p + 4, pkl - 4))
                continue;
            kafka_bytes_t g = {gk, (int32_t)gkl};
            rc = key_encode(&o->kbuf, g, topic, (int32_t)core_load_be32(p));
            if (rc == 0)
                rc = recs_put(keys, o->kbuf.data, o->kbuf.len, NULL, -1);
        }
    }
    for (op_t *op = o->head; rc == 0 && op; op = op->next) {
        size_t pos = 0;
        const uint8_t *k, *v;
        int32_t kl, vl;
        okey_t ok;
        while (rc == 0 && recs_next(&op->recs, &pos, &k, &kl, &v, &vl))
            if (key_decode(k, kl, &ok) == 1 && kafka_bytes_eq(ok.topic, topic))
                rc = recs_put(keys, k, (size_t)kl, NULL, -1);
    }
    return rc;
}

void kafka_offsets_topic_deleted(kafka_offsets_t *o, kafka_bytes_t topic)
{
    core_buf_t keys;
    core_buf_init(&keys, CORE_MEM_KAFKA, OP_RECS_MAX);
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_KAFKA, o->max_batch);
    int rc = collect_keys(o, topic, &keys);
    size_t pos = 0;
    while (rc == 0 && pos < keys.len) {
        op_t *op = op_new(o, NULL, NULL, NULL);
        if (op == NULL) {
            rc = CORE_ENOMEM;
            break;
        }
        record_builder_reset(&b);
        int32_t n = 0;
        int64_t now_ms = core_wall_ms();
        const uint8_t *k, *v;
        int32_t kl, vl;
        size_t at = pos;
        while (rc == 0 && recs_next(&keys, &at, &k, &kl, &v, &vl)) {
            rc = record_builder_add(&b, now_ms, k, kl, NULL, -1, NULL, 0);
            if (rc == CORE_ETOOBIG && n > 0) {
                rc = 0; /* the batch is full: this key starts the next one */
                break;
            }
            if (rc == 0)
                rc = recs_put(&op->recs, k, (size_t)kl, NULL, -1);
            pos = at;
            n++;
        }
        submit(o, op, &b, rc);
    }
    if (rc != 0)
        core_log(CORE_LOG_ERROR, "kafka",
                 "%s: writing offset tombstones for deleted topic '%.*s': %s", o->part_name,
                 (int)bytes_len(topic), bytes_ptr(topic), core_strerror(rc));
    record_builder_fini(&b);
    core_buf_fini(&keys);
}

/* ---- queries ------------------------------------------------------------ */

void kafka_offsets_get(kafka_offsets_t *o, kafka_bytes_t group, kafka_bytes_t topic,
                       int32_t partition, kafka_committed_t *out)
{
    out->offset = -1;
    out->leader_epoch = -1;
    out->metadata = (kafka_bytes_t){empty_bytes, 0};
    ogroup_t *og = ogroup_get(o, group);
    void *v = NULL;
    if (og == NULL || part_key(o, topic, partition) != 0 ||
        !core_map_get(og->parts, o->pkey.data, o->pkey.len, &v))
        return;
    const entry_t *e = v;
    out->offset = e->offset;
    out->leader_epoch = e->leader_epoch;
    out->metadata = (kafka_bytes_t){e->meta_len > 0 ? e->meta : empty_bytes, e->meta_len};
}

void kafka_offsets_each(kafka_offsets_t *o, kafka_bytes_t group,
                        int (*fn)(void *arg, kafka_bytes_t topic, int32_t partition,
                                  const kafka_committed_t *c),
                        void *arg)
{
    ogroup_t *og = ogroup_get(o, group);
    size_t cur = 0, kl;
    const void *k;
    void *v;
    while (og && core_map_next(og->parts, &cur, &k, &kl, &v)) {
        const uint8_t *p = k;
        const entry_t *e = v;
        kafka_committed_t c = {
            e->offset, e->leader_epoch, {e->meta_len > 0 ? e->meta : empty_bytes, e->meta_len}};
        kafka_bytes_t topic = {kl > 4 ? p + 4 : empty_bytes, (int32_t)(kl - 4)};
        if (fn(arg, topic, (int32_t)core_load_be32(p), &c) != 0)
            return;
    }
}

void kafka_offsets_each_group(kafka_offsets_t *o, void (*fn)(void *arg, kafka_bytes_t group),
                              void *arg)
{
    size_t cur = 0, kl;
    const void *k;
    void *v;
    while (core_map_next(o->groups, &cur, &k, &kl, &v))
        fn(arg, (kafka_bytes_t){k, (int32_t)kl});
}

bool kafka_offsets_in_use(kafka_offsets_t *o, kafka_bytes_t group)
{
    if (ogroup_get(o, group))
        return true;
    for (op_t *op = o->head; op; op = op->next) {
        size_t pos = 0;
        const uint8_t *k, *v;
        int32_t kl, vl;
        okey_t ok;
        while (recs_next(&op->recs, &pos, &k, &kl, &v, &vl))
            if (key_decode(k, kl, &ok) == 1 && bytes_len(ok.group) == bytes_len(group) &&
                memcmp(bytes_ptr(ok.group), bytes_ptr(group), bytes_len(group)) == 0)
                return true;
    }
    return false;
}

/* ---- replay --------------------------------------------------------------- */

/* Only CORE_ENOMEM is returned: what does not decode is logged and skipped. */
static int replay_batch(kafka_offsets_t *o, const uint8_t *p, size_t len,
                        const record_batch_header_t *h, int64_t from, core_buf_t *plain)
{
    if (h->attributes & RECORD_ATTR_CONTROL)
        return 0;
    if (h->attributes & RECORD_ATTR_CODEC_MASK) {
        core_buf_reset(plain);
        int rc = record_batch_decompress(p, len, REPLAY_INFLATE_MAX, plain);
        if (rc == CORE_ENOMEM)
            return rc;
        if (rc != 0) {
            core_log(CORE_LOG_WARN, "kafka",
                     "%s: offset %lld: cannot decompress batch: %s; skipped", o->part_name,
                     (long long)h->base_offset, core_error_detail());
            return 0;
        }
        p = plain->data;
        len = plain->len;
    }
    record_iter_t it;
    record_t r;
    int rc = record_iter_init(&it, p, len, true);
    while (rc == 0 && (rc = record_iter_next(&it, &r)) == 1) {
        rc = r.offset >= from ? apply_record(o, r.key, r.key_len, r.value, r.value_len, r.offset)
                              : 0;
        if (rc != 0)
            return rc;
    }
    if (rc < 0)
        core_log(CORE_LOG_WARN, "kafka", "%s: batch at offset %lld: %s; rest of batch skipped",
                 o->part_name, (long long)h->base_offset, core_error_detail());
    return 0;
}

/* Replays the batches in buf; advances *next past them. */
static int replay_chunk(kafka_offsets_t *o, const core_buf_t *buf, int64_t *next, core_buf_t *plain)
{
    size_t pos = 0;
    while (pos < buf->len) {
        record_batch_header_t h;
        int rc = record_batch_parse(buf->data + pos, buf->len - pos, false, &h);
        if (rc != 0)
            return rc;
        rc = replay_batch(o, buf->data + pos, record_batch_size(&h), &h, *next, plain);
        if (rc != 0)
            return rc;
        if (record_batch_last_offset(&h) + 1 > *next)
            *next = record_batch_last_offset(&h) + 1;
        pos += record_batch_size(&h);
    }
    return 0;
}

/* Rebuilds the offsets from the log. Returns CORE_ENOMEM only (the store
 * must not open with offsets missing); a stretch that cannot be read is
 * logged and ends the replay. */
static int replay(kafka_offsets_t *o)
{
    core_buf_t buf, plain;
    core_buf_init(&buf, CORE_MEM_KAFKA, (size_t)1 << 30);
    core_buf_init(&plain, CORE_MEM_KAFKA, REPLAY_INFLATE_MAX + RECORD_BATCH_HEADER_SIZE);
    int64_t next = seglog_log_start(o->part), end = seglog_log_end(o->part);
    int rc = 0;
    while (rc == 0 && next < end) {
        int64_t before = next;
        core_buf_reset(&buf);
        rc = seglog_read(o->part, next, REPLAY_READ_BYTES, &buf);
        if (rc == 0)
            rc = replay_chunk(o, &buf, &next, &plain);
        if (rc == 0 && next <= before)
            rc = core_error(CORE_ECORRUPT, "no batch covers offset %lld", (long long)next);
        if (rc != 0 && rc != CORE_ENOMEM) {
            core_log(CORE_LOG_ERROR, "kafka",
                     "%s: offset %lld: cannot read: %s (%s); committed offsets from here to "
                     "offset %lld are not loaded",
                     o->part_name, (long long)before, core_strerror(rc), core_error_detail(),
                     (long long)end);
            rc = 0;
            break;
        }
    }
    core_buf_fini(&plain);
    core_buf_fini(&buf);
    return rc;
}

/* ---- lifecycle ---------------------------------------------------------- */

static int open_part(seglog_t *log, seglog_part_t **part, size_t *max_batch)
{
    seglog_topic_t *t = seglog_topic_get(log, KAFKA_OFFSETS_TOPIC);
    if (t == NULL) {
        seglog_topic_config_t c;
        seglog_topic_config_default(&c);
        c.partitions = 1;
        c.flush = SEGLOG_FLUSH_NEVER; /* commits are synced on demand */
        c.segment_bytes = OFFSETS_SEGMENT;
        c.retention_bytes = -1;
        c.retention_ms = -1;
        int rc = seglog_topic_create(log, KAFKA_OFFSETS_TOPIC, &c);
        if (rc != 0 && rc != CORE_EEXIST)
            return rc;
        t = seglog_topic_get(log, KAFKA_OFFSETS_TOPIC);
    }
    *part = t ? seglog_partition(t, 0) : NULL;
    if (*part == NULL)
        return core_error(CORE_ENOENT, "%s: partition 0 is missing", KAFKA_OFFSETS_TOPIC);
    *max_batch = (size_t)seglog_topic_config(t)->max_message_bytes;
    return 0;
}

int kafka_offsets_open(seglog_t *log, int32_t max_metadata_bytes, kafka_sync_fn sync,
                       void *sync_ctx, kafka_offsets_t **out)
{
    *out = NULL;
    kafka_offsets_t *o = core_calloc(CORE_MEM_KAFKA, 1, sizeof *o);
    if (o == NULL)
        return CORE_ENOMEM;
    int rc = open_part(log, &o->part, &o->max_batch);
    if (rc != 0) {
        core_free(o);
        return rc;
    }
    o->part_name = seglog_part_name(o->part);
    o->max_metadata_bytes = max_metadata_bytes;
    o->sync = sync;
    o->sync_ctx = sync_ctx;
    core_buf_init(&o->kbuf, CORE_MEM_KAFKA, SCRATCH_MAX);
    core_buf_init(&o->vbuf, CORE_MEM_KAFKA, SCRATCH_MAX);
    core_buf_init(&o->pkey, CORE_MEM_KAFKA, SCRATCH_MAX);
    o->groups = core_map_create(CORE_MEM_KAFKA, 16);
    if (o->groups == NULL) {
        kafka_offsets_close(o);
        return CORE_ENOMEM;
    }
    rc = replay(o);
    if (rc != 0) {
        const char *name = o->part_name; /* the log's, not ours */
        kafka_offsets_close(o);
        return core_error(rc, "%s: out of memory replaying committed offsets", name);
    }
    *out = o;
    return 0;
}

/* Reports the ops still queued; orphans those whose sync is pending. */
static void close_ops(kafka_offsets_t *o)
{
    op_t *op = o->head;
    o->head = o->tail = NULL;
    while (op) {
        op_t *next = op->next;
        kafka_commit_req_t *req = op->req;
        kafka_commit_cb cb = op->cb;
        void *arg = op->arg;
        if (req)
            set_accepted_errors(req,
                                op->done ? op_error(op->rc) : KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
        if (op->done) {
            op_free(op);
        } else {
            core_buf_fini(&op->recs);
            op->owner = NULL; /* sync_done() frees it */
        }
        if (cb)
            cb(arg, req);
        op = next;
    }
}

void kafka_offsets_close(kafka_offsets_t *o)
{
    if (o == NULL)
        return;
    close_ops(o);
    if (o->groups) {
        size_t cur = 0, kl;
        const void *k;
        void *v;
        while (core_map_next(o->groups, &cur, &k, &kl, &v))
            ogroup_free(v);
        core_map_destroy(o->groups);
    }
    core_buf_fini(&o->kbuf);
    core_buf_fini(&o->vbuf);
    core_buf_fini(&o->pkey);
    core_free(o);
}

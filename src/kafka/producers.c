/*
 * producers.c - idempotent-producer deduplication (rules in
 * producers_int.h).
 *
 * State is keyed by (producer id, partition handle) in a hash map; each
 * entry keeps the epoch and a ring of the last KAFKA_PRODUCER_BATCHES
 * batches' sequence ranges and base offsets. Partition handles stay valid
 * while their topic exists; when a topic is deleted its entries must be
 * dropped (kafka_producers_forget_part), because the allocator may give a
 * later partition the same address.
 *
 * Threading: loop thread only.
 */
#include "kafka/producers_int.h"

typedef struct {
    int32_t first_seq;
    int32_t last_seq;
    int64_t base_offset;
} batch_seen_t;

typedef struct {
    int16_t epoch;
    int n;    /* batches remembered, up to KAFKA_PRODUCER_BATCHES */
    int next; /* ring position of the next batch */
    batch_seen_t seen[KAFKA_PRODUCER_BATCHES];
} producer_state_t;

struct kafka_producers {
    core_map_t *states; /* key: {pid, part pointer} */
    core_map_t *loaded; /* part pointers whose log tail was replayed */
    int64_t last_id;
};

typedef struct {
    int64_t pid;
    const seglog_part_t *part;
} state_key_t;

int kafka_producers_create(kafka_producers_t **out)
{
    kafka_producers_t *ps = core_calloc(CORE_MEM_KAFKA, 1, sizeof *ps);
    if (ps == NULL)
        return CORE_ENOMEM;
    ps->states = core_map_create(CORE_MEM_KAFKA, 64);
    ps->loaded = core_map_create(CORE_MEM_KAFKA, 16);
    if (ps->states == NULL || ps->loaded == NULL) {
        core_map_destroy(ps->states);
        core_map_destroy(ps->loaded);
        core_free(ps);
        return CORE_ENOMEM;
    }
    *out = ps;
    return 0;
}

void kafka_producers_destroy(kafka_producers_t *ps)
{
    if (ps == NULL)
        return;
    size_t cursor = 0;
    const void *k;
    size_t kl;
    void *v;
    while (core_map_next(ps->states, &cursor, &k, &kl, &v))
        core_free(v);
    core_map_destroy(ps->states);
    core_map_destroy(ps->loaded);
    core_free(ps);
}

int64_t kafka_producers_new_id(kafka_producers_t *ps)
{
    /* 2^10 ids per millisecond of wall time: unique across restarts as long
     * as the clock does not go back, without persisting a counter. */
    int64_t id = core_wall_ms() << 10;
    if (id <= ps->last_id)
        id = ps->last_id + 1;
    ps->last_id = id;
    return id;
}

static producer_state_t *find(kafka_producers_t *ps, int64_t pid, const seglog_part_t *part)
{
    state_key_t key;
    memset(&key, 0, sizeof key);
    key.pid = pid;
    key.part = part;
    void *v = NULL;
    return core_map_get(ps->states, &key, sizeof key, &v) ? v : NULL;
}

static int32_t seq_add(int32_t seq, int32_t n)
{
    int64_t v = (int64_t)seq + n;
    return (int32_t)(v > INT32_MAX ? v - INT32_MAX - 1 : v);
}

int16_t kafka_producers_check(kafka_producers_t *ps, const seglog_part_t *part,
                              const record_batch_header_t *h, int64_t *dup_base)
{
    if (h->producer_id < 0)
        return KAFKA_ERR_NONE;
    producer_state_t *st = find(ps, h->producer_id, part);
    if (st == NULL || st->n == 0)
        return KAFKA_ERR_NONE;
    if (h->producer_epoch < st->epoch)
        return KAFKA_ERR_INVALID_PRODUCER_EPOCH;
    if (h->producer_epoch > st->epoch)
        return KAFKA_ERR_NONE;
    int32_t last_seq = seq_add(h->base_sequence, h->last_offset_delta);
    for (int i = 0; i < st->n; i++) {
        const batch_seen_t *b = &st->seen[i];
        if (b->first_seq == h->base_sequence && b->last_seq == last_seq) {
            *dup_base = b->base_offset;
            return KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER;
        }
    }
    const batch_seen_t *latest =
        &st->seen[(st->next + KAFKA_PRODUCER_BATCHES - 1) % KAFKA_PRODUCER_BATCHES];
    if (h->base_sequence != seq_add(latest->last_seq, 1))
        return KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    return KAFKA_ERR_NONE;
}

/* Replays the producer batches of one read (whole batches in buf). Returns
 * the offset after the last batch. */
static int64_t replay_batches(kafka_producers_t *ps, const seglog_part_t *part,
                              const core_buf_t *buf, int64_t next)
{
    size_t at = 0;
    record_batch_header_t h;
    while (at < buf->len && record_batch_parse_header(buf->data + at, buf->len - at, &h) == 0) {
        if (h.producer_id >= 0 && kafka_producers_check(ps, part, &h, &(int64_t){0}) !=
                                      KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER)
            (void)kafka_producers_record(ps, part, &h, h.base_offset);
        next = record_batch_last_offset(&h) + 1;
        at += record_batch_size(&h);
    }
    return next;
}

void kafka_producers_load(kafka_producers_t *ps, seglog_part_t *part)
{
    if (core_map_get(ps->loaded, &part, sizeof part, NULL))
        return;
    if (core_map_put(ps->loaded, &part, sizeof part, ps, NULL) != 0)
        return; /* out of memory: try again next time */
    int64_t end = seglog_log_end(part);
    int64_t off = CORE_MAX(seglog_log_start(part), end - KAFKA_PRODUCER_SCAN_OFFSETS);
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_KAFKA, 64u << 20);
    while (off < end) {
        core_buf_reset(&buf);
        int rc = seglog_read(part, off, 1u << 20, &buf);
        if (rc != 0 || buf.len == 0) {
            if (rc != 0)
                core_log(CORE_LOG_WARN, "kafka", "%s: producer state from offset %lld: %s",
                         seglog_part_name(part), (long long)off, core_error_detail());
            break;
        }
        int64_t next = replay_batches(ps, part, &buf, off);
        if (next <= off)
            break;
        off = next;
    }
    core_buf_fini(&buf);
}

void kafka_producers_forget_part(kafka_producers_t *ps, const seglog_part_t *part)
{
    core_map_del(ps->loaded, &part, sizeof part, NULL);
    size_t cursor = 0;
    const void *k;
    size_t kl;
    void *v;
    for (;;) { /* deleting disturbs iteration: restart after each removal */
        bool removed = false;
        cursor = 0;
        while (core_map_next(ps->states, &cursor, &k, &kl, &v)) {
            state_key_t key;
            memcpy(&key, k, sizeof key);
            if (key.part == part) {
                core_map_del(ps->states, &key, sizeof key, NULL);
                core_free(v);
                removed = true;
                break;
            }
        }
        if (!removed)
            return;
    }
}

int kafka_producers_record(kafka_producers_t *ps, const seglog_part_t *part,
                           const record_batch_header_t *h, int64_t base_offset)
{
    if (h->producer_id < 0)
        return 0;
    producer_state_t *st = find(ps, h->producer_id, part);
    if (st == NULL) {
        st = core_calloc(CORE_MEM_KAFKA, 1, sizeof *st);
        if (st == NULL)
            return CORE_ENOMEM;
        state_key_t key;
        memset(&key, 0, sizeof key);
        key.pid = h->producer_id;
        key.part = part;
        if (core_map_put(ps->states, &key, sizeof key, st, NULL) != 0) {
            core_free(st);
            return CORE_ENOMEM;
        }
    }
    if (h->producer_epoch != st->epoch) {
        st->epoch = h->producer_epoch;
        st->n = 0;
        st->next = 0;
    }
    st->seen[st->next] = (batch_seen_t){
        h->base_sequence, seq_add(h->base_sequence, h->last_offset_delta), base_offset};
    st->next = (st->next + 1) % KAFKA_PRODUCER_BATCHES;
    if (st->n < KAFKA_PRODUCER_BATCHES)
        st->n++;
    return 0;
}

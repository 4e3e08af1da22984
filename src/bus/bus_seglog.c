/*
 * The bus over the embedded seglog.
 *
 * Readers read whole batches with seglog_read() into their own buffer,
 * decompress the ones that need it, and hand out the records at or after
 * their position. The topic is looked up by name on every call, under a
 * seglog pin held until the call is done with the partition (never while
 * waiting for data), so a topic deleted by another thread (Kafka
 * DeleteTopics) shows up as CORE_ENOENT rather than a dangling pointer.
 *
 * A poll that stops inside an uncompressed batch keeps its record
 * iterator, and the next poll goes on from it: each record is decoded
 * once. A compressed batch is decompressed into `plain`, which is emptied
 * at the start of every poll (the records of the last poll may then go)
 * and holds one batch at a time: once a poll has handed out records from
 * it, the poll ends before the next decompression, which could move it.
 * A batch a poll stops inside is decompressed again by the next poll.
 *
 * Waiting: the bus registers one seglog append hook that bumps the bus's
 * generation (bus_notify); a reader with nothing to read waits until the
 * generation moves or its timeout passes.
 *
 * Threading: the seglog bus's fields are immutable after open. A reader
 * belongs to one thread.
 */
#include "bus/bus_int.h"

#include <stdio.h>
#include <string.h>

#include "record/record.h"
#include "seglog/seglog.h"

#define READ_MAX_BYTES       (1024 * 1024)
#define DECOMPRESS_MAX_BYTES (64 * 1024 * 1024)
/* A read returns at least one whole batch, which may be as large as a
 * topic's max message size (capped at 64 MiB here). */
#define RAW_MAX_BYTES (READ_MAX_BYTES + 64 * 1024 * 1024)
/* The one decompressed batch of a poll. */
#define PLAIN_MAX_BYTES (RECORD_BATCH_HEADER_SIZE + DECOMPRESS_MAX_BYTES)

typedef struct {
    bus_t base;
    seglog_t *log; /* borrowed */
} seg_bus_t;

typedef struct {
    core_buf_t raw;    /* batches of the current read */
    core_buf_t plain;  /* the batch decompressed in this poll */
    size_t raw_off;    /* next unread batch in raw */
    record_iter_t it;  /* the records of the batch at raw_off, when open */
    bool open;         /* it is set (and a poll may stop inside the batch) */
    bool open_codec;   /* the batch is compressed: `it` reads plain */
    int64_t open_last; /* the batch's last offset */
    size_t open_size;  /* its size in raw */
} seg_reader_t;

static seglog_t *log_of(bus_t *b)
{
    return ((seg_bus_t *)b)->log;
}

static void on_append(void *arg, seglog_part_t *p)
{
    (void)p;
    bus_notify(arg);
}

static void seg_close(bus_t *b)
{
    seglog_remove_append_hook(log_of(b), on_append, b);
    bus_base_fini(b);
    core_free(b);
}

static int get_part(bus_t *b, const char *topic, int32_t partition, seglog_part_t **out)
{
    seglog_topic_t *t = seglog_topic_get(log_of(b), topic);
    if (t == NULL)
        return core_error(CORE_ENOENT, "topic %s does not exist", topic);
    seglog_part_t *p = seglog_partition(t, partition);
    if (p == NULL)
        return core_error(CORE_ENOENT, "topic %s has no partition %d", topic, (int)partition);
    *out = p;
    return 0;
}

static int seg_partitions(bus_t *b, const char *topic, int32_t *count)
{
    seglog_pin(log_of(b));
    seglog_topic_t *t = seglog_topic_get(log_of(b), topic);
    if (t != NULL)
        *count = seglog_topic_config(t)->partitions;
    seglog_unpin(log_of(b));
    return t != NULL ? 0 : core_error(CORE_ENOENT, "topic %s does not exist", topic);
}

static int seg_offsets(bus_t *b, const char *topic, int32_t partition, int64_t *start, int64_t *end)
{
    seglog_part_t *p = NULL;
    seglog_pin(log_of(b));
    int rc = get_part(b, topic, partition, &p);
    if (rc == 0) {
        *start = seglog_log_start(p);
        *end = seglog_log_end(p);
    }
    seglog_unpin(log_of(b));
    return rc;
}

static int seg_offset_for_time(bus_t *b, const char *topic, int32_t partition, int64_t ts_ms,
                               int64_t *offset)
{
    seglog_part_t *p = NULL;
    seglog_pin(log_of(b));
    int rc = get_part(b, topic, partition, &p);
    if (rc == 0)
        rc = seglog_offset_for_time(p, ts_ms, offset);
    seglog_unpin(log_of(b));
    return rc;
}

static int seg_reader_open(bus_reader_t *r)
{
    seglog_part_t *p = NULL;
    seglog_pin(log_of(r->bus));
    int rc = get_part(r->bus, r->topic, r->partition, &p); /* it exists, for now */
    seglog_unpin(log_of(r->bus));
    if (rc != 0)
        return rc;
    seg_reader_t *s = core_calloc(CORE_MEM_BUS, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "bus: out of memory");
    core_buf_init(&s->raw, CORE_MEM_BUS, RAW_MAX_BYTES);
    core_buf_init(&s->plain, CORE_MEM_BUS, PLAIN_MAX_BYTES);
    r->impl = s;
    return 0;
}

static void seg_reader_close(bus_reader_t *r)
{
    seg_reader_t *s = r->impl;
    core_buf_fini(&s->raw);
    core_buf_fini(&s->plain);
    core_free(s);
}

static int64_t seg_reader_end(bus_reader_t *r)
{
    seglog_part_t *p = NULL;
    seglog_pin(log_of(r->bus));
    int64_t end = get_part(r->bus, r->topic, r->partition, &p) == 0 ? seglog_log_end(p) : r->pos;
    seglog_unpin(log_of(r->bus));
    return end;
}

static int error_at(bus_reader_t *r, int code, const char *what)
{
    char detail[CORE_ERROR_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%s", core_error_detail());
    return core_error(code, "%s topic %s partition %d at offset %lld%s%s", what, r->topic,
                      (int)r->partition, (long long)r->pos, detail[0] != '\0' ? ": " : "", detail);
}

/* Hands out the records at or after r->pos that `it` yields, up to max. */
static int take_records(bus_reader_t *r, record_iter_t *it, bus_record_t *recs, size_t max,
                        size_t *n)
{
    record_t rec;
    int rc = 0;
    while (*n < max && (rc = record_iter_next(it, &rec)) == 1) {
        if (rec.offset < r->pos)
            continue;
        bus_record_t *o = &recs[(*n)++];
        o->key = rec.key_len >= 0 ? (const char *)rec.key : NULL;
        o->key_len = rec.key_len > 0 ? (size_t)rec.key_len : 0;
        o->value = rec.value_len >= 0 ? (const char *)rec.value : NULL;
        o->value_len = rec.value_len > 0 ? (size_t)rec.value_len : 0;
        o->offset = rec.offset;
        o->timestamp_ms = rec.timestamp;
        o->partition = r->partition;
        r->pos = rec.offset + 1;
    }
    if (rc < 0)
        return error_at(r, rc, "decode a batch of");
    return 0;
}

/* Starts on the batch at raw_off (header h): sets s->it on its records,
 * decompressed into plain if need be. *stop when this poll must end first
 * (it handed out records from plain, which decompressing could move). */
static int open_batch(bus_reader_t *r, const uint8_t *batch, const record_batch_header_t *h,
                      size_t n, bool *stop)
{
    seg_reader_t *s = r->impl;
    size_t size = record_batch_size(h);
    int rc;
    *stop = false;
    core_error_clear();
    if ((h->attributes & RECORD_ATTR_CODEC_MASK) == 0) {
        rc = record_iter_init(&s->it, batch, size, false);
        return rc != 0 ? error_at(r, rc, "decode a batch of") : 0;
    }
    if (s->plain.len > 0 && n > 0) {
        *stop = true;
        return 0;
    }
    core_buf_reset(&s->plain);
    rc = record_batch_decompress(batch, size, DECOMPRESS_MAX_BYTES, &s->plain);
    if (rc != 0)
        return error_at(r, rc, "decompress a batch of");
    rc = record_iter_init(&s->it, s->plain.data, s->plain.len, false);
    return rc != 0 ? error_at(r, rc, "decode a batch of") : 0;
}

/* Hands out records from the batches already read, going on inside the
 * batch the last poll stopped in. Returns with *n == max, or the batches
 * used up, or (compressed batches) early as open_batch() asks. */
static int take_from_raw(bus_reader_t *r, bus_record_t *recs, size_t max, size_t *n)
{
    seg_reader_t *s = r->impl;
    while (s->raw_off < s->raw.len && *n < max) {
        int rc;
        if (!s->open) {
            const uint8_t *batch = s->raw.data + s->raw_off;
            record_batch_header_t h;
            core_error_clear();
            rc = record_batch_parse(batch, s->raw.len - s->raw_off, false, &h);
            if (rc != 0)
                return error_at(r, rc, "parse a batch of");
            s->open_last = record_batch_last_offset(&h);
            s->open_size = record_batch_size(&h);
            s->open_codec = (h.attributes & RECORD_ATTR_CODEC_MASK) != 0;
            if (s->open_last >= r->pos) {
                bool stop;
                rc = open_batch(r, batch, &h, *n, &stop);
                if (rc != 0 || stop)
                    return rc;
                s->open = true;
            }
        }
        if (s->open) {
            rc = take_records(r, &s->it, recs, max, n);
            if (rc != 0)
                return rc;
            if (*n == max && r->pos <= s->open_last) {
                /* not finished: an uncompressed batch goes on from its
                 * iterator, a compressed one is decompressed again */
                s->open = !s->open_codec;
                return 0;
            }
        }
        s->open = false;
        r->pos = CORE_MAX(r->pos, s->open_last + 1);
        s->raw_off += s->open_size;
    }
    return 0;
}

/* Reads the next batches from the seglog into raw. *got is false at the
 * log end. Pinned (a delete of the topic waits), never waiting for data. */
static int read_more_pinned(bus_reader_t *r, bool *got)
{
    seg_reader_t *s = r->impl;
    seglog_part_t *p = NULL;
    int rc = get_part(r->bus, r->topic, r->partition, &p);
    if (rc != 0)
        return rc;
    *got = false;
    if (r->pos >= seglog_log_end(p))
        return 0;
    int64_t start = seglog_log_start(p);
    if (r->pos < start) {
        core_log(CORE_LOG_WARN, "bus",
                 "topic %s partition %d: offsets %lld to %lld were deleted by retention; "
                 "going on from %lld",
                 r->topic, (int)r->partition, (long long)r->pos, (long long)start - 1,
                 (long long)start);
        r->pos = start;
    }
    core_buf_reset(&s->raw);
    s->raw_off = 0;
    s->open = false;
    core_error_clear();
    rc = seglog_read(p, r->pos, READ_MAX_BYTES, &s->raw);
    if (rc != 0)
        return error_at(r, rc, "read");
    seglog_part_count_out(p, s->raw.data, s->raw.len);
    *got = s->raw.len > 0;
    return 0;
}

static int read_more(bus_reader_t *r, bool *got)
{
    seglog_pin(log_of(r->bus));
    int rc = read_more_pinned(r, got);
    seglog_unpin(log_of(r->bus));
    return rc;
}

static int seg_reader_poll(bus_reader_t *r, bus_record_t *recs, size_t max, size_t *n,
                           int timeout_ms)
{
    seg_reader_t *s = r->impl;
    core_buf_reset(&s->plain); /* the records of the last poll may go */
    for (int round = 0; *n < max; round++) {
        int rc = take_from_raw(r, recs, max, n);
        if (rc != 0 || *n > 0)
            return rc;
        uint64_t seen = bus_generation(r->bus);
        bool got;
        rc = read_more(r, &got);
        if (rc != 0)
            return rc;
        if (got)
            continue;
        if (timeout_ms <= 0 || round > 0)
            return 0;
        bus_wait(r->bus, seen, timeout_ms);
    }
    return 0;
}

static int build_batch(const bus_message_t *msgs, size_t n, size_t max_bytes, record_builder_t *bld)
{
    int64_t now = core_wall_ms();
    for (size_t i = 0; i < n; i++) {
        const bus_message_t *m = &msgs[i];
        if (m->key_len > INT32_MAX || m->value_len > INT32_MAX)
            return core_error(CORE_ETOOBIG, "record larger than 2 GiB");
        int rc = record_builder_add(bld, m->timestamp_ms < 0 ? now : m->timestamp_ms, m->key,
                                    m->key != NULL ? (int32_t)m->key_len : -1, m->value,
                                    m->value != NULL ? (int32_t)m->value_len : -1, NULL, 0);
        if (rc != 0)
            return rc == CORE_ETOOBIG ? core_error(rc,
                                                   "batch of %zu records exceeds the "
                                                   "topic's max message size of %zu bytes",
                                                   n, max_bytes)
                                      : rc;
    }
    return 0;
}

static int produce_pinned(bus_t *b, const char *topic, int32_t partition, const bus_message_t *msgs,
                          size_t n, bool sync, int64_t *base)
{
    seglog_topic_t *t = seglog_topic_get(log_of(b), topic);
    if (t == NULL)
        return core_error(CORE_ENOENT, "topic %s does not exist", topic);
    const seglog_topic_config_t *cfg = seglog_topic_config(t);
    if (partition < 0)
        partition = bus_pick_partition(b, &msgs[0], cfg->partitions);
    seglog_part_t *p = seglog_partition(t, partition);
    if (p == NULL)
        return core_error(CORE_ENOENT, "topic %s has no partition %d", topic, (int)partition);
    record_builder_t bld;
    record_builder_init(&bld, CORE_MEM_BUS, (size_t)cfg->max_message_bytes);
    uint8_t *batch;
    size_t len;
    int64_t first = 0, end;
    int rc = build_batch(msgs, n, (size_t)cfg->max_message_bytes, &bld);
    if (rc == 0)
        rc = record_builder_finish(&bld, &batch, &len);
    if (rc == 0 && sync) {
        rc = seglog_append_nowait(p, batch, len, &first, &end);
        if (rc == 0)
            rc = seglog_sync(p, end);
    } else if (rc == 0) {
        rc = seglog_append(p, batch, len, &first); /* syncs under flush=always */
    }
    record_builder_fini(&bld);
    if (rc == 0 && base != NULL)
        *base = first;
    return rc;
}

/* Pinned: a delete of the topic waits for the append (and its fsync). */
static int seg_produce(bus_t *b, const char *topic, int32_t partition, const bus_message_t *msgs,
                       size_t n, bool sync, int64_t *base)
{
    seglog_pin(log_of(b));
    int rc = produce_pinned(b, topic, partition, msgs, n, sync, base);
    seglog_unpin(log_of(b));
    return rc;
}

static const bus_ops_t seglog_ops = {
    .name = "seglog",
    .external = false,
    .close = seg_close,
    .partitions = seg_partitions,
    .offsets = seg_offsets,
    .offset_for_time = seg_offset_for_time,
    .reader_open = seg_reader_open,
    .reader_close = seg_reader_close,
    .reader_poll = seg_reader_poll,
    .reader_end = seg_reader_end,
    .produce = seg_produce,
};

int bus_seglog_open(seglog_t *log, bus_t **out)
{
    seg_bus_t *s = core_calloc(CORE_MEM_BUS, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "bus: out of memory");
    bus_base_init(&s->base, &seglog_ops);
    s->log = log;
    int rc = seglog_add_append_hook(log, on_append, &s->base);
    if (rc != 0) {
        bus_base_fini(&s->base);
        core_free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}

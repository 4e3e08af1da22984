/*
 * The bus over the embedded seglog.
 *
 * Readers read whole batches with seglog_read() into their own buffer,
 * decompress the ones that need it, and hand out the records at or after
 * their position. The topic is looked up by name on every poll, so a
 * deleted topic shows up as CORE_ENOENT rather than a dangling pointer.
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
/* Decompressed batches of one poll; the poll returns early past PLAIN_SOFT. */
#define PLAIN_SOFT_BYTES (8 * 1024 * 1024)
#define PLAIN_MAX_BYTES  (PLAIN_SOFT_BYTES + RECORD_BATCH_HEADER_SIZE + DECOMPRESS_MAX_BYTES)

typedef struct {
    bus_t base;
    seglog_t *log; /* borrowed */
} seg_bus_t;

typedef struct {
    core_buf_t raw;   /* batches of the current read */
    core_buf_t plain; /* decompressed batches */
    size_t raw_off;   /* next unread batch in raw */
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
    seglog_topic_t *t = seglog_topic_get(log_of(b), topic);
    if (t == NULL)
        return core_error(CORE_ENOENT, "topic %s does not exist", topic);
    *count = seglog_topic_config(t)->partitions;
    return 0;
}

static int seg_offsets(bus_t *b, const char *topic, int32_t partition, int64_t *start, int64_t *end)
{
    seglog_part_t *p = NULL;
    int rc = get_part(b, topic, partition, &p);
    if (rc != 0)
        return rc;
    *start = seglog_log_start(p);
    *end = seglog_log_end(p);
    return 0;
}

static int seg_offset_for_time(bus_t *b, const char *topic, int32_t partition, int64_t ts_ms,
                               int64_t *offset)
{
    seglog_part_t *p = NULL;
    int rc = get_part(b, topic, partition, &p);
    if (rc != 0)
        return rc;
    return seglog_offset_for_time(p, ts_ms, offset);
}

static int seg_reader_open(bus_reader_t *r)
{
    seglog_part_t *p = NULL;
    int rc = get_part(r->bus, r->topic, r->partition, &p);
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
    if (get_part(r->bus, r->topic, r->partition, &p) != 0)
        return r->pos;
    return seglog_log_end(p);
}

static int error_at(bus_reader_t *r, int code, const char *what)
{
    char detail[CORE_ERROR_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%s", core_error_detail());
    return core_error(code, "%s topic %s partition %d at offset %lld%s%s", what, r->topic,
                      (int)r->partition, (long long)r->pos, detail[0] != '\0' ? ": " : "", detail);
}

/* Copies the records at or after r->pos out of one uncompressed batch. */
static int take_records(bus_reader_t *r, const uint8_t *batch, size_t len, bus_record_t *recs,
                        size_t max, size_t *n)
{
    record_iter_t it;
    record_t rec;
    core_error_clear();
    int rc = record_iter_init(&it, batch, len, false);
    while (rc == 0 && *n < max && (rc = record_iter_next(&it, &rec)) == 1) {
        rc = 0;
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

/* Hands out records from the batches already read. Decompressed batches are
 * appended to `plain`, which is reset by the next read, so records stay
 * valid until the next poll. Returns with *n == max, or the batches used up. */
static int take_from_raw(bus_reader_t *r, bus_record_t *recs, size_t max, size_t *n)
{
    seg_reader_t *s = r->impl;
    while (s->raw_off < s->raw.len && *n < max) {
        const uint8_t *batch = s->raw.data + s->raw_off;
        record_batch_header_t h;
        core_error_clear();
        int rc = record_batch_parse(batch, s->raw.len - s->raw_off, false, &h);
        if (rc != 0)
            return error_at(r, rc, "parse a batch of");
        size_t size = record_batch_size(&h);
        if (record_batch_last_offset(&h) >= r->pos) {
            if ((h.attributes & RECORD_ATTR_CODEC_MASK) != 0) {
                if (s->plain.len > PLAIN_SOFT_BYTES)
                    return 0; /* enough for this poll; records so far stay valid */
                size_t at = s->plain.len;
                rc = record_batch_decompress(batch, size, DECOMPRESS_MAX_BYTES, &s->plain);
                if (rc != 0)
                    return error_at(r, rc, "decompress a batch of");
                rc = take_records(r, s->plain.data + at, s->plain.len - at, recs, max, n);
            } else {
                rc = take_records(r, batch, size, recs, max, n);
            }
            if (rc != 0)
                return rc;
            if (*n == max && r->pos <= record_batch_last_offset(&h))
                return 0; /* this batch is not finished; stay on it */
        }
        r->pos = CORE_MAX(r->pos, record_batch_last_offset(&h) + 1);
        s->raw_off += size;
    }
    return 0;
}

/* Reads the next batches from the seglog into raw. *got is false at the
 * log end. */
static int read_more(bus_reader_t *r, bool *got)
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
    core_error_clear();
    rc = seglog_read(p, r->pos, READ_MAX_BYTES, &s->raw);
    if (rc != 0)
        return error_at(r, rc, "read");
    seglog_part_count_out(p, s->raw.data, s->raw.len);
    *got = s->raw.len > 0;
    return 0;
}

static int seg_reader_poll(bus_reader_t *r, bus_record_t *recs, size_t max, size_t *n,
                           int timeout_ms)
{
    seg_reader_t *s = r->impl;
    if (s->raw_off >= s->raw.len)
        core_buf_reset(&s->plain);
    for (int round = 0; *n < max; round++) {
        int rc = take_from_raw(r, recs, max, n);
        if (rc != 0 || *n > 0)
            return rc;
        uint64_t seen = bus_generation(r->bus);
        bool got;
        core_buf_reset(&s->plain);
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

static int seg_produce(bus_t *b, const char *topic, int32_t partition, const bus_message_t *msgs,
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

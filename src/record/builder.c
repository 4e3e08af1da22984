/*
 * builder.c - the RecordBatch v2 encoder: record_builder_t, the only
 * producer of batches in strata.
 *
 * Layout of b->buf while building: 61 placeholder header bytes, then the
 * encoded records back to back. The header is written only by finish().
 * With a codec set, finish() leaves b->buf as it is and assembles the
 * compressed batch in b->zbuf: a header, then the codec's output for
 * b->buf[61, len). b->buf keeps the records uncompressed, so finish() can
 * run again (say, after more adds) and add() never depends on the codec.
 *
 * Invariants:
 *   1. buf.len == 0 exactly when count == 0; otherwise buf.len is 61 plus
 *      the bytes of `count` complete records, and buf.len <= max_bytes.
 *   2. A failed add() changes nothing: sizes are computed and checked, and
 *      room reserved, before the first byte is written.
 *   3. Record i has offset delta i and timestamp delta ts - base_timestamp,
 *      where base_timestamp is the first record's timestamp (deltas wrap
 *      like the decoder's sums, so any int64 timestamp round-trips).
 *   4. reset() returns the builder to its just-initialised state, producer
 *      fields included, so no batch inherits a stale sequence number. The
 *      codec is configuration, like max_bytes, and survives reset().
 *   5. max_bytes caps the uncompressed batch; a finished batch is never
 *      larger than that, because finish() falls back to the uncompressed
 *      batch when compression does not shrink it.
 *
 * Speed: each record is sized once and then encoded straight into the
 * buffer, with no allocation once the buffer has grown to a batch's size.
 *
 * Threading: a builder belongs to one thread.
 */
#include "record/record.h"

#include <assert.h>
#include <string.h>

/* Largest Length a batch can carry (Length is an int32). */
#define MAX_TOTAL ((size_t)INT32_MAX + RECORD_BATCH_LOG_OVERHEAD)

void record_builder_init(record_builder_t *b, core_mem_tag_t tag, size_t max_bytes)
{
    core_buf_init(&b->buf, tag, max_bytes);
    b->count = 0;
    b->base_timestamp = 0;
    b->max_timestamp = 0;
    b->producer_id = -1;
    b->producer_epoch = -1;
    b->base_sequence = -1;
    b->attributes = 0;
    b->codec = RECORD_CODEC_NONE;
    /* Holds at most a compressed copy of buf, which is itself capped. */
    core_buf_init(&b->zbuf, tag, SIZE_MAX);
}

void record_builder_fini(record_builder_t *b)
{
    core_buf_fini(&b->buf);
    core_buf_fini(&b->zbuf);
    b->count = 0;
}

void record_builder_reset(record_builder_t *b)
{
    core_buf_reset(&b->buf);
    core_buf_reset(&b->zbuf);
    b->count = 0;
    b->base_timestamp = 0;
    b->max_timestamp = 0;
    b->producer_id = -1;
    b->producer_epoch = -1;
    b->base_sequence = -1;
    b->attributes = 0;
}

void record_builder_set_producer(record_builder_t *b, int64_t producer_id, int16_t epoch,
                                 int32_t base_sequence)
{
    b->producer_id = producer_id;
    b->producer_epoch = epoch;
    b->base_sequence = base_sequence;
}

void record_builder_set_codec(record_builder_t *b, record_codec_t codec)
{
    b->codec = codec;
}

/* Bytes of a length-prefixed field: the varint, plus the bytes unless null. */
static uint64_t field_size(int32_t len)
{
    return core_varint_size(len) + (len > 0 ? (uint64_t)len : 0);
}

/* Checks the arguments and returns the size of the record body (everything
 * after its Length varint) in *body. */
static int size_record(const record_builder_t *b, int64_t ts_delta, int32_t key_len,
                       int32_t value_len, const record_header_t *headers, int32_t header_count,
                       uint64_t *body)
{
    if (key_len < -1 || value_len < -1 || header_count < 0 || (header_count > 0 && !headers))
        return core_error(CORE_EINVAL, "record builder: bad lengths (key %d, value %d, %d headers)",
                          (int)key_len, (int)value_len, (int)header_count);
    uint64_t n = 1 + core_varint_size(ts_delta) + core_varint_size(b->count) + field_size(key_len) +
                 field_size(value_len) + core_varint_size(header_count);
    for (int32_t i = 0; i < header_count; i++) {
        const record_header_t *h = &headers[i];
        if (h->key_len < 0 || (h->key_len > 0 && !h->key) || h->value_len < -1 ||
            (h->value_len > 0 && !h->value))
            return core_error(CORE_EINVAL,
                              "record builder: header %d has bad lengths (key %d, value %d)",
                              (int)i, (int)h->key_len, (int)h->value_len);
        n += field_size(h->key_len) + field_size(h->value_len);
    }
    *body = n;
    return 0;
}

/* Writes a length varint and, unless null, the bytes. */
static uint8_t *put_field(uint8_t *w, const void *p, int32_t len)
{
    w += core_varint_put(w, len);
    if (len > 0) {
        memcpy(w, p, (size_t)len);
        w += len;
    }
    return w;
}

static uint8_t *put_record(const record_builder_t *b, uint8_t *w, uint64_t body, int64_t ts_delta,
                           const void *key, int32_t key_len, const void *value, int32_t value_len,
                           const record_header_t *headers, int32_t header_count)
{
    w += core_varint_put(w, (int64_t)body);
    *w++ = 0; /* record attributes */
    w += core_varint_put(w, ts_delta);
    w += core_varint_put(w, b->count);
    w = put_field(w, key, key_len);
    w = put_field(w, value, value_len);
    w += core_varint_put(w, header_count);
    for (int32_t i = 0; i < header_count; i++) {
        w = put_field(w, headers[i].key, headers[i].key_len);
        w = put_field(w, headers[i].value, headers[i].value_len);
    }
    return w;
}

int record_builder_add(record_builder_t *b, int64_t timestamp, const void *key, int32_t key_len,
                       const void *value, int32_t value_len, const record_header_t *headers,
                       int32_t header_count)
{
    if (!key)
        key_len = -1;
    if (!value)
        value_len = -1;
    int64_t base = b->count ? b->base_timestamp : timestamp;
    int64_t ts_delta = (int64_t)((uint64_t)timestamp - (uint64_t)base);
    uint64_t body = 0;
    int rc = size_record(b, ts_delta, key_len, value_len, headers, header_count, &body);
    if (rc < 0)
        return rc;
    size_t head = b->buf.len ? 0 : RECORD_BATCH_HEADER_SIZE;
    uint64_t need = head + core_varint_size((int64_t)body) + body;
    uint64_t total = (uint64_t)b->buf.len + need;
    if (b->count == INT32_MAX || total > b->buf.max || total > MAX_TOTAL)
        return core_error(CORE_ETOOBIG, "record builder: batch would take %llu bytes, limit %zu",
                          (unsigned long long)total, CORE_MIN(b->buf.max, MAX_TOTAL));
    rc = core_buf_reserve(&b->buf, (size_t)need);
    if (rc < 0)
        return rc;
    uint8_t *w = b->buf.data + b->buf.len;
    if (head) {
        memset(w, 0, head);
        w += head;
    }
    uint8_t *end =
        put_record(b, w, body, ts_delta, key, key_len, value, value_len, headers, header_count);
    assert(end == b->buf.data + total);
    (void)end;
    b->buf.len = (size_t)total;
    if (b->count == 0) {
        b->base_timestamp = timestamp;
        b->max_timestamp = timestamp;
    } else if (timestamp > b->max_timestamp) {
        b->max_timestamp = timestamp;
    }
    b->count++;
    return 0;
}

/* Fills the 61-byte header at p for a batch of `total` bytes. */
static void write_header(const record_builder_t *b, uint8_t *p, size_t total, int16_t attributes)
{
    core_store_be64(p + RECORD_OFF_BASE_OFFSET, 0);
    core_store_be32(p + RECORD_OFF_LENGTH, (uint32_t)(total - RECORD_BATCH_LOG_OVERHEAD));
    core_store_be32(p + RECORD_OFF_LEADER_EPOCH, UINT32_MAX); /* -1 */
    p[RECORD_OFF_MAGIC] = RECORD_MAGIC_V2;
    core_store_be16(p + RECORD_OFF_ATTRIBUTES, (uint16_t)attributes);
    core_store_be32(p + RECORD_OFF_LAST_OFFSET_DELTA, (uint32_t)(b->count - 1));
    core_store_be64(p + RECORD_OFF_BASE_TIMESTAMP, (uint64_t)b->base_timestamp);
    core_store_be64(p + RECORD_OFF_MAX_TIMESTAMP, (uint64_t)b->max_timestamp);
    core_store_be64(p + RECORD_OFF_PRODUCER_ID, (uint64_t)b->producer_id);
    core_store_be16(p + RECORD_OFF_PRODUCER_EPOCH, (uint16_t)b->producer_epoch);
    core_store_be32(p + RECORD_OFF_BASE_SEQUENCE, (uint32_t)b->base_sequence);
    core_store_be32(p + RECORD_OFF_RECORDS_COUNT, (uint32_t)b->count);
    uint32_t crc = core_crc32c(0, p + RECORD_OFF_ATTRIBUTES, total - RECORD_OFF_ATTRIBUTES);
    core_store_be32(p + RECORD_OFF_CRC, crc);
}

/* Compresses the records into zbuf after a header placeholder. Returns 1
 * when the compressed batch is smaller than the uncompressed one, 0 when it
 * is not (the caller sends it uncompressed), or an error. */
static int compress_records(record_builder_t *b)
{
    core_buf_reset(&b->zbuf);
    int rc = core_buf_reserve(&b->zbuf, RECORD_BATCH_HEADER_SIZE);
    if (rc < 0)
        return core_error(rc, "record builder: cannot allocate the compressed batch");
    memset(b->zbuf.data, 0, RECORD_BATCH_HEADER_SIZE);
    b->zbuf.len = RECORD_BATCH_HEADER_SIZE;
    rc = record_codec_compress(b->codec, b->buf.data + RECORD_BATCH_HEADER_SIZE,
                               b->buf.len - RECORD_BATCH_HEADER_SIZE, &b->zbuf);
    if (rc < 0)
        return rc;
    return b->zbuf.len < b->buf.len ? 1 : 0;
}

int record_builder_finish(record_builder_t *b, uint8_t **batch, size_t *len)
{
    if (b->count == 0)
        return core_error(CORE_EINVAL, "record builder: cannot finish an empty batch");
    int16_t attributes = (int16_t)(b->attributes & ~RECORD_ATTR_CODEC_MASK);
    if (b->codec != RECORD_CODEC_NONE) {
        int rc = compress_records(b);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            write_header(b, b->zbuf.data, b->zbuf.len, (int16_t)(attributes | (int16_t)b->codec));
            *batch = b->zbuf.data;
            *len = b->zbuf.len;
            return 0;
        }
    }
    write_header(b, b->buf.data, b->buf.len, attributes);
    *batch = b->buf.data;
    *len = b->buf.len;
    return 0;
}

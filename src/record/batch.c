/*
 * batch.c - decoding of Kafka RecordBatch v2: header parsing with CRC32C
 * validation, the record iterator and the record-header walker.
 *
 * Every byte decoded here came from outside (a client, a segment file), so
 * nothing is trusted:
 *   1. No read ever leaves [p, p + len) of the caller's buffer; inside a
 *      batch no read leaves [record start, record start + record Length).
 *   2. A batch is accepted by record_batch_parse() only if magic == 2,
 *      Length >= 49 (total >= 61), the whole batch is present, the codec is
 *      0..4, RecordsCount >= 0, LastOffsetDelta >= 0 and, when asked, the
 *      CRC32C over bytes 21..end matches.
 *   3. The iterator yields exactly RecordsCount records whose fields consume
 *      exactly their Length, whose offset deltas strictly increase and never
 *      exceed LastOffsetDelta, and it then requires the batch to end.
 *   4. Offset and timestamp sums use wrapping arithmetic: they are data, and
 *      hostile data must not reach signed overflow.
 * Every failure returns CORE_ECORRUPT (or the code named in record.h) with a
 * core_error() detail naming the record, the field and the numbers.
 *
 * Threading: no shared state; an iterator belongs to one thread.
 */
#include "record/record.h"

#include <stdarg.h>
#include <stdio.h>

/* Bytes of a batch after the Length field that its header takes. */
#define HEADER_AFTER_LENGTH (RECORD_BATCH_HEADER_SIZE - RECORD_BATCH_LOG_OVERHEAD)

static const char *const codec_names[8] = {"none", "gzip",    "snappy",  "lz4",
                                           "zstd", "codec 5", "codec 6", "codec 7"};

static int64_t wrapping_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

int record_batch_peek_size(const uint8_t *p, size_t len, size_t max_size, size_t *size)
{
    if (len < RECORD_BATCH_LOG_OVERHEAD)
        return core_error(CORE_ETRUNC, "record batch: %zu bytes, need %d to read its length", len,
                          RECORD_BATCH_LOG_OVERHEAD);
    int32_t length = (int32_t)core_load_be32(p + RECORD_OFF_LENGTH);
    if (length < HEADER_AFTER_LENGTH)
        return core_error(CORE_ECORRUPT, "record batch: Length %d is below the minimum %d",
                          (int)length, HEADER_AFTER_LENGTH);
    size_t total = (size_t)length + RECORD_BATCH_LOG_OVERHEAD;
    if (total > max_size)
        return core_error(CORE_ETOOBIG, "record batch: %zu bytes exceeds the limit of %zu", total,
                          max_size);
    *size = total;
    return 0;
}

/* Decodes the fixed header fields of a batch known to hold >= 61 bytes. */
static void load_header(const uint8_t *p, record_batch_header_t *h)
{
    h->base_offset = (int64_t)core_load_be64(p + RECORD_OFF_BASE_OFFSET);
    h->length = (int32_t)core_load_be32(p + RECORD_OFF_LENGTH);
    h->leader_epoch = (int32_t)core_load_be32(p + RECORD_OFF_LEADER_EPOCH);
    h->magic = (int8_t)p[RECORD_OFF_MAGIC];
    h->crc = core_load_be32(p + RECORD_OFF_CRC);
    h->attributes = (int16_t)core_load_be16(p + RECORD_OFF_ATTRIBUTES);
    h->last_offset_delta = (int32_t)core_load_be32(p + RECORD_OFF_LAST_OFFSET_DELTA);
    h->base_timestamp = (int64_t)core_load_be64(p + RECORD_OFF_BASE_TIMESTAMP);
    h->max_timestamp = (int64_t)core_load_be64(p + RECORD_OFF_MAX_TIMESTAMP);
    h->producer_id = (int64_t)core_load_be64(p + RECORD_OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)core_load_be16(p + RECORD_OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)core_load_be32(p + RECORD_OFF_BASE_SEQUENCE);
    h->records_count = (int32_t)core_load_be32(p + RECORD_OFF_RECORDS_COUNT);
}

/* Checks the decoded fields that need no bytes beyond the header. */
static int check_header(const record_batch_header_t *h)
{
    int codec = h->attributes & RECORD_ATTR_CODEC_MASK;
    if (codec > RECORD_CODEC_ZSTD)
        return core_error(
            CORE_ECORRUPT, "record batch at offset %lld: attributes 0x%04x name unknown %s",
            (long long)h->base_offset, (unsigned)(uint16_t)h->attributes, codec_names[codec]);
    if (h->records_count < 0)
        return core_error(CORE_ECORRUPT, "record batch at offset %lld: RecordsCount %d is negative",
                          (long long)h->base_offset, (int)h->records_count);
    if (h->last_offset_delta < 0)
        return core_error(CORE_ECORRUPT,
                          "record batch at offset %lld: LastOffsetDelta %d is negative",
                          (long long)h->base_offset, (int)h->last_offset_delta);
    return 0;
}

/* Checks magic and Length; sets *total to the batch size. */
static int check_prefix(const uint8_t *p, size_t len, size_t *total)
{
    if (len < RECORD_BATCH_LOG_OVERHEAD)
        return core_error(CORE_ETRUNC, "record batch: %zu bytes, need %d to read its length", len,
                          RECORD_BATCH_LOG_OVERHEAD);
    /* Magic first: a legacy v0/v1 message is "unsupported", not "corrupt",
     * even though its shorter header fails the v2 length check. */
    if (len > RECORD_OFF_MAGIC && p[RECORD_OFF_MAGIC] != RECORD_MAGIC_V2)
        return core_error(CORE_EUNSUPP, "record batch: magic %d is not supported (only 2)",
                          (int)(int8_t)p[RECORD_OFF_MAGIC]);
    return record_batch_peek_size(p, len, SIZE_MAX, total);
}

int record_batch_parse_header(const uint8_t *p, size_t len, record_batch_header_t *h)
{
    size_t total = 0;
    int rc = check_prefix(p, len, &total);
    if (rc < 0)
        return rc;
    if (len < RECORD_BATCH_HEADER_SIZE)
        return core_error(CORE_ETRUNC, "record batch: %zu bytes, need %d for its header", len,
                          RECORD_BATCH_HEADER_SIZE);
    load_header(p, h);
    return check_header(h);
}

int record_batch_parse(const uint8_t *p, size_t len, bool check_crc, record_batch_header_t *h)
{
    size_t total = 0;
    int rc = check_prefix(p, len, &total);
    if (rc < 0)
        return rc;
    if (len < total)
        return core_error(CORE_ETRUNC, "record batch: %zu of its %zu bytes present", len, total);
    load_header(p, h);
    rc = check_header(h);
    if (rc < 0)
        return rc;
    if (check_crc) {
        uint32_t crc = core_crc32c(0, p + RECORD_OFF_ATTRIBUTES, total - RECORD_OFF_ATTRIBUTES);
        if (crc != h->crc)
            return core_error(CORE_ECORRUPT,
                              "record batch at offset %lld: CRC 0x%08x stored, 0x%08x computed",
                              (long long)h->base_offset, (unsigned)h->crc, (unsigned)crc);
    }
    return 0;
}

int record_iter_init(record_iter_t *it, const uint8_t *p, size_t len, bool check_crc)
{
    int rc = record_batch_parse(p, len, check_crc, &it->h);
    if (rc < 0)
        return rc;
    int codec = it->h.attributes & RECORD_ATTR_CODEC_MASK;
    if (codec != RECORD_CODEC_NONE)
        return core_error(CORE_EUNSUPP,
                          "record batch at offset %lld: %s compression is not supported yet",
                          (long long)it->h.base_offset, codec_names[codec]);
    it->pos = p + RECORD_BATCH_HEADER_SIZE;
    it->end = p + record_batch_size(&it->h);
    it->index = 0;
    it->prev_offset_delta = -1;
    return 0;
}

/* ------------------------------------------------------------------------
 * Field reader shared by records and record headers. `rec` is the record's
 * index (-1 when unknown, as in record_header_next) and `hdr` the header's
 * index (-1 outside the header section); both only feed error details.
 * ------------------------------------------------------------------------ */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
    int32_t rec;
    int32_t hdr;
} reader_t;

static int fail(const reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const reader_t *r, const char *fmt, ...)
{
    char what[48];
    char msg[200];
    if (r->rec >= 0 && r->hdr >= 0)
        snprintf(what, sizeof(what), "record %d header %d", (int)r->rec, (int)r->hdr);
    else if (r->rec >= 0)
        snprintf(what, sizeof(what), "record %d", (int)r->rec);
    else
        snprintf(what, sizeof(what), "record header");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return core_error(CORE_ECORRUPT, "%s: %s", what, msg);
}

static size_t left(const reader_t *r)
{
    return (size_t)(r->end - r->p);
}

static int read_varint(reader_t *r, const char *field, int64_t *v)
{
    int n = core_varint_get(r->p, left(r), v);
    if (n < 0)
        return fail(r, "%s %s", field, n == CORE_ETRUNC ? "is cut off" : "is an over-long varint");
    r->p += n;
    return 0;
}

static int read_varint32(reader_t *r, const char *field, int32_t *v)
{
    int n = core_varint_get32(r->p, left(r), v);
    if (n < 0)
        return fail(r, "%s %s", field,
                    n == CORE_ETRUNC ? "is cut off" : "is not a valid 32-bit varint");
    r->p += n;
    return 0;
}

/* Reads a varint length and the bytes it covers; -1 means null (pointer
 * NULL) when `nullable`. */
static int read_bytes(reader_t *r, const char *field, bool nullable, const uint8_t **ptr,
                      int32_t *len)
{
    int rc = read_varint32(r, field, len);
    if (rc < 0)
        return rc;
    if (*len == -1 && nullable) {
        *ptr = NULL;
        return 0;
    }
    if (*len < 0)
        return fail(r, "%s length %d is negative", field, (int)*len);
    if ((size_t)*len > left(r))
        return fail(r, "%s length %d exceeds the %zu bytes left", field, (int)*len, left(r));
    *ptr = r->p;
    r->p += *len;
    return 0;
}

static int read_header(reader_t *r, record_header_t *out)
{
    int rc = read_bytes(r, "header key", false, &out->key, &out->key_len);
    if (rc < 0)
        return rc;
    return read_bytes(r, "header value", true, &out->value, &out->value_len);
}

int record_header_next(const uint8_t **pos, const uint8_t *end, record_header_t *out)
{
    if (*pos >= end)
        return 0;
    reader_t r = {.p = *pos, .end = end, .rec = -1, .hdr = -1};
    int rc = read_header(&r, out);
    if (rc < 0)
        return rc;
    *pos = r.p;
    return 1;
}

/* Walks the header section once, so that a record is valid as a whole
 * before it is yielded and record_header_next() cannot fail on it. */
static int skip_headers(reader_t *r, record_t *out)
{
    int rc = read_varint32(r, "header count", &out->header_count);
    if (rc < 0)
        return rc;
    if (out->header_count < 0)
        return fail(r, "header count %d is negative", (int)out->header_count);
    out->headers = r->p;
    for (r->hdr = 0; r->hdr < out->header_count; r->hdr++) {
        record_header_t h;
        rc = read_header(r, &h);
        if (rc < 0)
            return rc;
    }
    r->hdr = -1;
    out->headers_len = (size_t)(r->p - out->headers);
    return 0;
}

/* Decodes the fields of one record, whose body is [r->p, r->end). */
static int read_record(record_iter_t *it, reader_t *r, record_t *out)
{
    int64_t ts_delta = 0;
    int32_t offset_delta = 0;
    r->p++; /* attributes: unused in v2, no bits defined */
    int rc = read_varint(r, "timestamp delta", &ts_delta);
    if (rc == 0)
        rc = read_varint32(r, "offset delta", &offset_delta);
    if (rc < 0)
        return rc;
    if (offset_delta < 0)
        return fail(r, "offset delta %d is negative", (int)offset_delta);
    if (offset_delta <= it->prev_offset_delta)
        return fail(r, "offset delta %d does not follow %lld", (int)offset_delta,
                    (long long)it->prev_offset_delta);
    if (offset_delta > it->h.last_offset_delta)
        return fail(r, "offset delta %d exceeds LastOffsetDelta %d", (int)offset_delta,
                    (int)it->h.last_offset_delta);
    rc = read_bytes(r, "key", true, &out->key, &out->key_len);
    if (rc == 0)
        rc = read_bytes(r, "value", true, &out->value, &out->value_len);
    if (rc == 0)
        rc = skip_headers(r, out);
    if (rc < 0)
        return rc;
    if (r->p != r->end)
        return fail(r, "fields end %zu bytes before its Length does", left(r));
    out->offset = wrapping_add(it->h.base_offset, offset_delta);
    if (it->h.attributes & RECORD_ATTR_LOG_APPEND_TIME)
        out->timestamp = it->h.max_timestamp;
    else
        out->timestamp = wrapping_add(it->h.base_timestamp, ts_delta);
    it->prev_offset_delta = offset_delta;
    return 0;
}

int record_iter_next(record_iter_t *it, record_t *out)
{
    reader_t r = {.p = it->pos, .end = it->end, .rec = it->index, .hdr = -1};
    if (it->index >= it->h.records_count) {
        if (r.p != r.end)
            return fail(&r, "%zu bytes follow the last of %d records", left(&r),
                        (int)it->h.records_count);
        return 0;
    }
    if (r.p == r.end)
        return fail(&r, "the batch ends after %d of its %d records", (int)it->index,
                    (int)it->h.records_count);
    int32_t length = 0;
    int rc = read_varint32(&r, "length", &length);
    if (rc < 0)
        return rc;
    if (length < 1)
        return fail(&r, "length %d is too small", (int)length);
    if ((size_t)length > left(&r))
        return fail(&r, "length %d exceeds the %zu bytes left", (int)length, left(&r));
    r.end = r.p + length;
    rc = read_record(it, &r, out);
    if (rc < 0)
        return rc;
    it->pos = r.end;
    it->index++;
    return 1;
}

/*
 * record.h - Kafka RecordBatch v2: the one format strata stores and serves.
 *
 * A batch is a 61-byte header followed by records (see the table in
 * shared/reference/kafka-protocol.md, section 2.1). The CRC32C covers bytes
 * 21..end, so the broker can rewrite BaseOffset and PartitionLeaderEpoch
 * without recomputing it.
 *
 * Decoding never trusts the input: every length is checked against the
 * bytes actually present and against caps, and errors say which field of
 * which record failed. Encoding goes through record_builder_t, the only
 * producer of batches in strata.
 *
 * Compression (attribute bits 0-2: gzip, snappy, lz4, zstd) covers only the
 * records section after RecordsCount, and the CRC covers the compressed
 * bytes. Header parsing, validation and offset assignment work for every
 * codec because they never look inside. The iterator walks uncompressed
 * batches only: callers turn a compressed batch into an equivalent
 * uncompressed one with record_batch_decompress() first. The codecs
 * themselves (record_codec_*) live in codec.c.
 *
 * Thread-safety: all functions are reentrant; builders and iterators belong
 * to one thread.
 */
#ifndef STRATA_RECORD_H
#define STRATA_RECORD_H

#include "core/core.h"

#define RECORD_BATCH_HEADER_SIZE  61
#define RECORD_BATCH_LOG_OVERHEAD 12 /* BaseOffset + Length: outside Length */
#define RECORD_MAGIC_V2           2

/* Byte offsets of header fields. */
#define RECORD_OFF_BASE_OFFSET       0
#define RECORD_OFF_LENGTH            8
#define RECORD_OFF_LEADER_EPOCH      12
#define RECORD_OFF_MAGIC             16
#define RECORD_OFF_CRC               17
#define RECORD_OFF_ATTRIBUTES        21
#define RECORD_OFF_LAST_OFFSET_DELTA 23
#define RECORD_OFF_BASE_TIMESTAMP    27
#define RECORD_OFF_MAX_TIMESTAMP     35
#define RECORD_OFF_PRODUCER_ID       43
#define RECORD_OFF_PRODUCER_EPOCH    51
#define RECORD_OFF_BASE_SEQUENCE     53
#define RECORD_OFF_RECORDS_COUNT     57

/* Attribute bits. */
#define RECORD_ATTR_CODEC_MASK      0x07
#define RECORD_ATTR_LOG_APPEND_TIME 0x08
#define RECORD_ATTR_TRANSACTIONAL   0x10
#define RECORD_ATTR_CONTROL         0x20

typedef enum {
    RECORD_CODEC_NONE = 0,
    RECORD_CODEC_GZIP = 1,
    RECORD_CODEC_SNAPPY = 2,
    RECORD_CODEC_LZ4 = 3,
    RECORD_CODEC_ZSTD = 4
} record_codec_t;

/* The decoded batch header. */
typedef struct {
    int64_t base_offset;
    int32_t length; /* bytes after the Length field */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
} record_batch_header_t;

/* Total bytes of the batch on disk or on the wire: length + 12. */
static inline size_t record_batch_size(const record_batch_header_t *h)
{
    return (size_t)h->length + RECORD_BATCH_LOG_OVERHEAD;
}
static inline int64_t record_batch_last_offset(const record_batch_header_t *h)
{
    return h->base_offset + h->last_offset_delta;
}

/* Reads the batch's total size from its first 12 bytes. Returns
 * CORE_ETRUNC if len < 12, CORE_ECORRUPT if Length is below the header
 * size or the total would exceed max_size (CORE_ETOOBIG in that case).
 * Does not need the whole batch, so it tells a reader how much to read. */
int record_batch_peek_size(const uint8_t *p, size_t len, size_t max_size, size_t *size);

/* Parses the fixed 61-byte header only (len >= 61), for readers that have
 * not read the records yet. Checks magic, Length >= 49, records_count >= 0
 * and last_offset_delta >= 0; the CRC is not checked. Errors: CORE_ETRUNC,
 * CORE_ECORRUPT, CORE_EUNSUPP (magic other than 2). */
int record_batch_parse_header(const uint8_t *p, size_t len, record_batch_header_t *h);

/* Parses and checks the header of the batch at p, which must hold the whole
 * batch (len >= its size; extra bytes after it are ignored). Checks magic,
 * lengths, record count >= 0 and last_offset_delta >= 0, and, when
 * `check_crc`, the CRC32C over bytes 21..end. Errors: CORE_ETRUNC,
 * CORE_ECORRUPT, CORE_EUNSUPP (magic other than 2). Sets a detail naming the
 * field. */
int record_batch_parse(const uint8_t *p, size_t len, bool check_crc, record_batch_header_t *h);

/* Overwrites BaseOffset in place (outside the CRC). */
static inline void record_batch_set_base_offset(uint8_t *p, int64_t base_offset)
{
    core_store_be64(p + RECORD_OFF_BASE_OFFSET, (uint64_t)base_offset);
}

/* One record, as the iterator yields it. Pointers borrow the batch bytes. */
typedef struct {
    int64_t offset;    /* base_offset + offset delta */
    int64_t timestamp; /* base_timestamp + delta, or max_timestamp for LogAppendTime */
    const uint8_t *key;
    int32_t key_len; /* -1 = null */
    const uint8_t *value;
    int32_t value_len;      /* -1 = null */
    const uint8_t *headers; /* the raw header section, for record_header_next() */
    size_t headers_len;
    int32_t header_count;
} record_t;

/* A record header, as record_header_next() yields it. */
typedef struct {
    const uint8_t *key;
    int32_t key_len;
    const uint8_t *value;
    int32_t value_len; /* -1 = null */
} record_header_t;

/* Iterates the records of one validated, uncompressed batch. */
typedef struct {
    record_batch_header_t h;
    const uint8_t *pos;
    const uint8_t *end;
    int32_t index; /* records yielded so far */
    int64_t prev_offset_delta;
} record_iter_t;

/* Starts iterating the batch at p (len bytes, which must cover it). Parses
 * the header (CRC checked when `check_crc`). CORE_EUNSUPP for a compressed
 * batch: decompress it first with record_batch_decompress() and iterate the
 * result. */
int record_iter_init(record_iter_t *it, const uint8_t *p, size_t len, bool check_crc);
/* Yields the next record: returns 1 with *out set, 0 at the end, or a
 * negative code when a record is malformed (the detail names its index and
 * field). Checks that the count matches, offset deltas increase, and lengths
 * stay inside the batch. */
int record_iter_next(record_iter_t *it, record_t *out);

/* Walks a record's header section: *pos starts at r->headers, end is
 * r->headers + r->headers_len. Returns 1 with *out set, 0 at the end, or a
 * negative code. */
int record_header_next(const uint8_t **pos, const uint8_t *end, record_header_t *out);

/* Builds one batch, uncompressed unless a codec is set.
 *
 * Lifecycle: init -> (set_codec) -> (add)* -> finish -> reset -> (add)* ...
 * -> fini. finish() fills the header (count, deltas, max timestamp, CRC) and
 * hands back a pointer into the builder's buffers, valid until the next add,
 * finish, reset or fini. The first record's timestamp becomes the base
 * timestamp. Records are always encoded uncompressed into `buf`; with a
 * codec set, finish() compresses them into `zbuf` and assembles the batch
 * there. */
typedef struct {
    core_buf_t buf; /* header placeholder + encoded records */
    int32_t count;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int16_t attributes;
    record_codec_t codec; /* set_codec(); survives reset() */
    core_buf_t zbuf;      /* the compressed batch finish() assembles */
} record_builder_t;

/* max_bytes caps the batch's uncompressed size (header + records as add()
 * encodes them; e.g. the topic's max message size). With a codec the cap
 * still applies to the uncompressed bytes, as librdkafka's batch.size
 * does, and the finished batch is never larger: see record_builder_finish. */
void record_builder_init(record_builder_t *b, core_mem_tag_t tag, size_t max_bytes);
void record_builder_fini(record_builder_t *b);
void record_builder_reset(record_builder_t *b);
/* Optional, before finish: idempotent-producer fields (default -1/-1/-1). */
void record_builder_set_producer(record_builder_t *b, int64_t producer_id, int16_t epoch,
                                 int32_t base_sequence);
/* Appends a record. key/value may be NULL (null). headers may be NULL when
 * header_count is 0. CORE_ETOOBIG if the batch would exceed max_bytes (the
 * builder is unchanged, so the caller can finish and start a new batch). */
int record_builder_add(record_builder_t *b, int64_t timestamp, const void *key, int32_t key_len,
                       const void *value, int32_t value_len, const record_header_t *headers,
                       int32_t header_count);
/* Selects the codec finish() compresses with (default RECORD_CODEC_NONE).
 * It is configuration, like max_bytes: reset() keeps it, so one builder
 * serves one topic's compression.type. May be called at any time before
 * finish(); add() does not depend on it. A value outside 0..4 makes finish()
 * fail with CORE_EINVAL. */
void record_builder_set_codec(record_builder_t *b, record_codec_t codec);
/* Completes the batch with BaseOffset 0. CORE_EINVAL if it is empty. With a
 * codec set, the records section is compressed and the codec recorded in the
 * attributes; if the compressed batch would not be smaller than the
 * uncompressed one (incompressible data), the uncompressed batch is returned
 * instead, with codec bits 0, so the result never exceeds max_bytes.
 * Compression may fail with CORE_ENOMEM (the builder is unchanged, and
 * finish can be retried). *batch is borrowed from the builder. */
int record_builder_finish(record_builder_t *b, uint8_t **batch, size_t *len);
static inline int32_t record_builder_count(const record_builder_t *b)
{
    return b->count;
}
/* Bytes the finished batch would take if it were finished now without
 * compression (an upper bound when a codec is set). */
static inline size_t record_builder_size(const record_builder_t *b)
{
    return b->buf.len < RECORD_BATCH_HEADER_SIZE ? RECORD_BATCH_HEADER_SIZE : b->buf.len;
}

/* ------------------------------------------------------------------------
 * Codecs: gzip (zlib), snappy, lz4 (frame format), zstd.
 *
 * Every decompressor writes straight into a capped output and stops as soon
 * as the output would pass its cap, so a small hostile input cannot inflate
 * into a large allocation (zip bombs). Decoders accept what Kafka's clients
 * send:
 *   gzip    a gzip stream (one or more members) or a zlib stream;
 *   snappy  raw snappy (librdkafka) or xerial framing (Java, kafka-python):
 *           "\x82SNAPPY\0", version i32, compat i32, then blocks of
 *           [i32 big-endian length][raw snappy block];
 *   lz4     one or more LZ4 frames (not the legacy or raw block formats);
 *   zstd    one or more zstd frames, content size recorded or not.
 * Encoders write gzip with the gzip wrapper, raw snappy, an LZ4 frame with
 * independent 64 KiB blocks (the layout Kafka's Java client writes and
 * reads), and zstd at RECORD_ZSTD_LEVEL.
 *
 * Thread-safety: reentrant; no shared state.
 * ------------------------------------------------------------------------ */
#define RECORD_ZSTD_LEVEL 3

/* Compresses src[0, len) with `codec` and appends the result to out
 * (RECORD_CODEC_NONE appends a copy). src is borrowed; out is the caller's.
 * Errors: CORE_EINVAL for an unknown codec or len > INT32_MAX (no batch
 * holds more), CORE_ETOOBIG if out has less room under out->max than the
 * codec's worst-case output size, CORE_ENOMEM. On error out->len is
 * unchanged. Sets a detail naming the codec. */
int record_codec_compress(record_codec_t codec, const uint8_t *src, size_t len, core_buf_t *out);

/* Decompresses src[0, len) and appends the result to out (NONE appends a
 * copy). At most max_out bytes are appended, and never past out->max.
 * Errors, each with a detail naming the codec:
 *   CORE_ETOOBIG   the output would pass max_out or out->max (the detail
 *                  names the cap); also a zstd frame asking for a window
 *                  larger than the cap warrants (see codec.c);
 *   CORE_ECORRUPT  garbage, a checksum mismatch, or input that ends early
 *                  (empty input included, except for NONE) or has trailing
 *                  bytes;
 *   CORE_EINVAL    unknown codec, or len > INT32_MAX;
 *   CORE_ENOMEM    allocation failed.
 * On error out->len is unchanged (its capacity may have grown). */
int record_codec_decompress(record_codec_t codec, const uint8_t *src, size_t len, size_t max_out,
                            core_buf_t *out);

/* Given the whole batch at batch[0, len) (extra bytes after it are
 * ignored), checks it with record_batch_parse(CRC included) and appends to
 * out an equivalent uncompressed batch: the same header fields, except that
 * the attributes' codec bits are cleared and Length and CRC describe the
 * decompressed records. An uncompressed batch is copied as is. max_out caps
 * the records section of the result (bytes after offset 61), for
 * uncompressed input too, so the result takes at most 61 + max_out bytes.
 * Errors: those of record_batch_parse and record_codec_decompress, with a
 * detail naming the batch's base offset and codec. On error out->len is
 * unchanged. The records themselves are not validated: iterate the result. */
int record_batch_decompress(const uint8_t *batch, size_t len, size_t max_out, core_buf_t *out);

#endif /* STRATA_RECORD_H */

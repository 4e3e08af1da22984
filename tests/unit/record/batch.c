/*
 * tests/unit/record/batch.c - RecordBatch v2 decode and encode.
 *
 * The known-bytes test compares the builder's output with a batch spelled
 * out by hand from the spec (kafka-protocol.md section 2.1), CRC included,
 * computed here by a bitwise CRC32C that shares no code with core/. Malformed
 * batches are assembled by the same hand-written helpers, so every reject
 * test reaches the check it names rather than an earlier CRC failure.
 *
 * Invariants: tests are deterministic (a fixed-seed PRNG) and independent.
 * Threading: single-threaded.
 */
#include "record/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ------------------------------------------------------------------------
 * Independent helpers: bitwise CRC32C and zigzag varints, from the spec.
 * ------------------------------------------------------------------------ */
static uint32_t test_crc32c(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
    }
    return crc ^ 0xFFFFFFFFu;
}

typedef struct {
    uint8_t b[8192];
    size_t n;
} bytes_t;

static void put_u8(bytes_t *o, uint8_t v)
{
    assert_true(o->n < sizeof(o->b));
    o->b[o->n++] = v;
}

static void put_raw(bytes_t *o, const void *p, size_t n)
{
    assert_true(o->n + n <= sizeof(o->b));
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_be(bytes_t *o, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--)
        put_u8(o, (uint8_t)(v >> (8 * i)));
}

/* Zigzag varint: (v << 1) ^ (v >> 63), then 7 bits a byte, low first. */
static void put_v(bytes_t *o, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    while (z >= 0x80) {
        put_u8(o, (uint8_t)(z | 0x80));
        z >>= 7;
    }
    put_u8(o, (uint8_t)z);
}

/* Prefixes a record body with its Length varint (body length + adjust). */
static void put_record(bytes_t *o, const bytes_t *body, int64_t adjust)
{
    put_v(o, (int64_t)body->n + adjust);
    put_raw(o, body->b, body->n);
}

/* A simple record body: attrs 0, the given deltas, key, value, no headers. */
static void simple_body(bytes_t *body, int64_t ts_delta, int64_t off_delta, const char *key,
                        const char *value)
{
    body->n = 0;
    put_u8(body, 0);
    put_v(body, ts_delta);
    put_v(body, off_delta);
    put_v(body, key ? (int64_t)strlen(key) : -1);
    if (key)
        put_raw(body, key, strlen(key));
    put_v(body, value ? (int64_t)strlen(value) : -1);
    if (value)
        put_raw(body, value, strlen(value));
    put_v(body, 0);
}

/* A whole batch around `recs`, with a correct CRC. */
static void make_batch(bytes_t *o, int16_t attrs, int32_t last_delta, int32_t count,
                       const bytes_t *recs)
{
    o->n = 0;
    put_be(o, 0, 8);                        /* BaseOffset */
    put_be(o, (uint32_t)(49 + recs->n), 4); /* Length */
    put_be(o, UINT32_MAX, 4);               /* PartitionLeaderEpoch -1 */
    put_u8(o, 2);                           /* Magic */
    put_be(o, 0, 4);                        /* CRC, below */
    put_be(o, (uint16_t)attrs, 2);          /* Attributes */
    put_be(o, (uint32_t)last_delta, 4);     /* LastOffsetDelta */
    put_be(o, 1000, 8);                     /* BaseTimestamp */
    put_be(o, 2000, 8);                     /* MaxTimestamp */
    put_be(o, UINT64_MAX, 8);               /* ProducerId -1 */
    put_be(o, UINT16_MAX, 2);               /* ProducerEpoch -1 */
    put_be(o, UINT32_MAX, 4);               /* BaseSequence -1 */
    put_be(o, (uint32_t)count, 4);          /* RecordsCount */
    put_raw(o, recs->b, recs->n);
    uint32_t crc = test_crc32c(o->b + 21, o->n - 21);
    for (int i = 0; i < 4; i++)
        o->b[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

static void refresh_crc(uint8_t *p, size_t n)
{
    uint32_t crc = test_crc32c(p + 21, n - 21);
    for (int i = 0; i < 4; i++)
        p[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

/* Iterates the batch and returns the first negative code, or the count. */
static int iterate_all(const uint8_t *p, size_t n)
{
    record_iter_t it;
    int rc = record_iter_init(&it, p, n, true);
    if (rc < 0)
        return rc;
    record_t r;
    int count = 0;
    while ((rc = record_iter_next(&it, &r)) == 1)
        count++;
    return rc < 0 ? rc : count;
}

static void assert_detail_has(const char *needle)
{
    const char *d = core_error_detail();
    if (!strstr(d, needle))
        fail_msg("detail \"%s\" lacks \"%s\"", d, needle);
}

/* ------------------------------------------------------------------------
 * Known bytes
 * ------------------------------------------------------------------------ */
static void test_crc32c_reference(void **state)
{
    (void)state;
    assert_int_equal(test_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
}

/* The expected batch for: record 0 (ts 1700000000000, key "k1", value
 * "hello", header h=v) and record 1 (ts +5, null key, value "world"). */
static const uint8_t known_batch[91] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* @0  BaseOffset 0 */
    0x00, 0x00, 0x00, 0x4f,                         /* @8  Length 79 = 91 - 12 */
    0xff, 0xff, 0xff, 0xff,                         /* @12 PartitionLeaderEpoch -1 */
    0x02,                                           /* @16 Magic 2 */
    0x4b, 0xf4, 0x2f, 0x08,                         /* @17 CRC32C of bytes 21..90 */
    0x00, 0x00,                                     /* @21 Attributes: no codec */
    0x00, 0x00, 0x00, 0x01,                         /* @23 LastOffsetDelta 1 */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* @27 BaseTimestamp 1700000000000 */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x05, /* @35 MaxTimestamp 1700000000005 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* @43 ProducerId -1 */
    0xff, 0xff,                                     /* @51 ProducerEpoch -1 */
    0xff, 0xff, 0xff, 0xff,                         /* @53 BaseSequence -1 */
    0x00, 0x00, 0x00, 0x02,                         /* @57 RecordsCount 2 */
    /* record 0, @61 */
    0x22,                          /* Length 17 -> zigzag 34 */
    0x00,                          /* Attributes */
    0x00,                          /* TimestampDelta 0 */
    0x00,                          /* OffsetDelta 0 */
    0x04, 'k', '1',                /* KeyLen 2 -> zigzag 4, key */
    0x0a, 'h', 'e', 'l', 'l', 'o', /* ValueLen 5 -> zigzag 10, value */
    0x02,                          /* HeaderCount 1 -> zigzag 2 */
    0x02, 'h',                     /* header KeyLen 1 -> 2, key */
    0x02, 'v',                     /* header ValueLen 1 -> 2, value */
    /* record 1, @79 */
    0x16,                          /* Length 11 -> zigzag 22 */
    0x00,                          /* Attributes */
    0x0a,                          /* TimestampDelta 5 -> zigzag 10 */
    0x02,                          /* OffsetDelta 1 -> zigzag 2 */
    0x01,                          /* KeyLen -1 (null) -> zigzag 1 */
    0x0a, 'w', 'o', 'r', 'l', 'd', /* ValueLen 5 -> zigzag 10, value */
    0x00,                          /* HeaderCount 0 */
};

static void build_known(record_builder_t *b, uint8_t **batch, size_t *len)
{
    record_header_t h = {
        .key = (const uint8_t *)"h", .key_len = 1, .value = (const uint8_t *)"v", .value_len = 1};
    record_builder_init(b, CORE_MEM_TEST, 1 << 20);
    assert_int_equal(record_builder_add(b, 1700000000000LL, "k1", 2, "hello", 5, &h, 1), 0);
    assert_int_equal(record_builder_add(b, 1700000000005LL, NULL, 0, "world", 5, NULL, 0), 0);
    assert_int_equal(record_builder_size(b), sizeof(known_batch));
    assert_int_equal(record_builder_finish(b, batch, len), 0);
}

static void test_known_bytes(void **state)
{
    (void)state;
    /* The CRC literal in known_batch was computed outside this program (a
     * bitwise CRC32C in Python); this file's own CRC32C must agree. */
    assert_int_equal(test_crc32c(known_batch + 21, sizeof(known_batch) - 21), 0x4bf42f08u);

    record_builder_t b;
    uint8_t *batch = NULL;
    size_t len = 0;
    build_known(&b, &batch, &len);
    assert_int_equal(len, sizeof(known_batch));
    assert_memory_equal(batch, known_batch, sizeof(known_batch));
    record_builder_fini(&b);

    record_iter_t it;
    record_t r;
    record_header_t h;
    assert_int_equal(record_iter_init(&it, known_batch, sizeof(known_batch), true), 0);
    assert_int_equal(it.h.records_count, 2);
    assert_int_equal(it.h.last_offset_delta, 1);
    assert_int_equal(it.h.leader_epoch, -1);
    assert_int_equal(it.h.producer_id, -1);
    assert_int_equal(it.h.crc, 0x4bf42f08u);
    assert_int_equal(record_iter_next(&it, &r), 1);
    assert_int_equal(r.offset, 0);
    assert_int_equal(r.timestamp, 1700000000000LL);
    assert_int_equal(r.key_len, 2);
    assert_memory_equal(r.key, "k1", 2);
    assert_int_equal(r.value_len, 5);
    assert_memory_equal(r.value, "hello", 5);
    assert_int_equal(r.header_count, 1);
    const uint8_t *hp = r.headers;
    assert_int_equal(record_header_next(&hp, r.headers + r.headers_len, &h), 1);
    assert_int_equal(h.key_len, 1);
    assert_memory_equal(h.key, "h", 1);
    assert_int_equal(h.value_len, 1);
    assert_memory_equal(h.value, "v", 1);
    assert_int_equal(record_header_next(&hp, r.headers + r.headers_len, &h), 0);
    assert_int_equal(record_iter_next(&it, &r), 1);
    assert_int_equal(r.offset, 1);
    assert_int_equal(r.timestamp, 1700000000005LL);
    assert_int_equal(r.key_len, -1);
    assert_null(r.key);
    assert_memory_equal(r.value, "world", 5);
    assert_int_equal(r.header_count, 0);
    assert_int_equal(r.headers_len, 0);
    assert_int_equal(record_iter_next(&it, &r), 0);
    assert_int_equal(record_iter_next(&it, &r), 0);
}

/* ------------------------------------------------------------------------
 * Round trip of random records
 * ------------------------------------------------------------------------ */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define POOL_SIZE (300 * 1024)
#define MAX_RECS  60
#define MAX_HDRS  4

typedef struct {
    int64_t ts;
    int32_t key_len, value_len; /* -1 = null */
    const uint8_t *key, *value;
    record_header_t hdrs[MAX_HDRS];
    int32_t hcount;
} spec_t;

/* A length: null 1 in 5, empty 1 in 5, rarely large, else small. */
static int32_t random_len(bool nullable, int32_t small, bool allow_large)
{
    uint64_t pick = rng() % 20;
    if (pick < 4 && nullable)
        return -1;
    if (pick < 8)
        return 0;
    if (pick == 19 && allow_large)
        return (int32_t)(64 * 1024 + rng() % (200 * 1024));
    return (int32_t)(rng() % (uint64_t)small);
}

static const uint8_t *pool_slice(const uint8_t *pool, int32_t len)
{
    if (len < 0)
        return NULL;
    return pool + rng() % (uint64_t)(POOL_SIZE - len + 1);
}

static void random_spec(spec_t *s, const uint8_t *pool, int64_t base_ts)
{
    s->ts = base_ts + (int64_t)(rng() % 100000) - 50000;
    s->key_len = random_len(true, 40, false);
    s->key = pool_slice(pool, s->key_len);
    s->value_len = random_len(true, 300, true);
    s->value = pool_slice(pool, s->value_len);
    s->hcount = (int32_t)(rng() % (MAX_HDRS + 1));
    for (int32_t i = 0; i < s->hcount; i++) {
        s->hdrs[i].key_len = random_len(false, 12, false);
        s->hdrs[i].key = pool_slice(pool, s->hdrs[i].key_len);
        s->hdrs[i].value_len = random_len(true, 30, false);
        s->hdrs[i].value = pool_slice(pool, s->hdrs[i].value_len);
    }
}

static void assert_bytes(const uint8_t *got, int32_t got_len, const uint8_t *want, int32_t want_len)
{
    assert_int_equal(got_len, want_len);
    if (want_len < 0)
        assert_null(got);
    else if (want_len > 0)
        assert_memory_equal(got, want, (size_t)want_len);
}

static void check_record(const record_t *r, const spec_t *s, int64_t offset)
{
    assert_int_equal(r->offset, offset);
    assert_int_equal(r->timestamp, s->ts);
    assert_bytes(r->key, r->key_len, s->key, s->key_len);
    assert_bytes(r->value, r->value_len, s->value, s->value_len);
    assert_int_equal(r->header_count, s->hcount);
    const uint8_t *hp = r->headers;
    const uint8_t *hend = r->headers + r->headers_len;
    record_header_t h;
    for (int32_t i = 0; i < s->hcount; i++) {
        assert_int_equal(record_header_next(&hp, hend, &h), 1);
        assert_bytes(h.key, h.key_len, s->hdrs[i].key, s->hdrs[i].key_len);
        assert_bytes(h.value, h.value_len, s->hdrs[i].value, s->hdrs[i].value_len);
    }
    assert_int_equal(record_header_next(&hp, hend, &h), 0);
}

static void roundtrip_one(record_builder_t *b, const uint8_t *pool, spec_t *specs)
{
    int n = 1 + (int)(rng() % MAX_RECS);
    int64_t base = 1700000000000LL + (int64_t)(rng() % 1000000);
    int64_t max_ts = INT64_MIN;
    record_builder_reset(b);
    for (int i = 0; i < n; i++) {
        spec_t *s = &specs[i];
        random_spec(s, pool, base);
        max_ts = s->ts > max_ts ? s->ts : max_ts;
        assert_int_equal(record_builder_add(b, s->ts, s->key, s->key_len, s->value, s->value_len,
                                            s->hcount ? s->hdrs : NULL, s->hcount),
                         0);
    }
    uint8_t *batch = NULL;
    size_t len = 0;
    assert_int_equal(record_builder_finish(b, &batch, &len), 0);
    int64_t base_offset = (int64_t)(rng() % 1000000000);
    record_batch_set_base_offset(batch, base_offset);

    record_iter_t it;
    record_t r;
    assert_int_equal(record_iter_init(&it, batch, len, true), 0);
    assert_int_equal(it.h.records_count, n);
    assert_int_equal(it.h.last_offset_delta, n - 1);
    assert_int_equal(it.h.base_timestamp, specs[0].ts);
    assert_int_equal(it.h.max_timestamp, max_ts);
    for (int i = 0; i < n; i++) {
        assert_int_equal(record_iter_next(&it, &r), 1);
        check_record(&r, &specs[i], base_offset + i);
    }
    assert_int_equal(record_iter_next(&it, &r), 0);
}

static void test_roundtrip_random(void **state)
{
    (void)state;
    uint8_t *pool = malloc(POOL_SIZE);
    spec_t *specs = calloc(MAX_RECS, sizeof(*specs));
    assert_non_null(pool);
    assert_non_null(specs);
    for (size_t i = 0; i < POOL_SIZE; i++)
        pool[i] = (uint8_t)rng();
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 64u << 20);
    for (int round = 0; round < 200; round++)
        roundtrip_one(&b, pool, specs);
    record_builder_fini(&b);
    free(specs);
    free(pool);
}

/* Extreme timestamps must survive the delta encoding. */
static void test_roundtrip_extreme_timestamps(void **state)
{
    (void)state;
    const int64_t ts[] = {INT64_MAX, INT64_MIN, -1, 0, INT64_MIN + 1};
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 4096);
    for (size_t i = 0; i < CORE_ARRAY_LEN(ts); i++)
        assert_int_equal(record_builder_add(&b, ts[i], "", 0, "x", 1, NULL, 0), 0);
    uint8_t *batch = NULL;
    size_t len = 0;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    record_iter_t it;
    record_t r;
    assert_int_equal(record_iter_init(&it, batch, len, true), 0);
    assert_int_equal(it.h.max_timestamp, INT64_MAX);
    for (size_t i = 0; i < CORE_ARRAY_LEN(ts); i++) {
        assert_int_equal(record_iter_next(&it, &r), 1);
        assert_int_equal(r.timestamp, ts[i]);
        assert_int_equal(r.key_len, 0);
        assert_non_null(r.key);
    }
    assert_int_equal(record_iter_next(&it, &r), 0);
    record_builder_fini(&b);
}

/* ------------------------------------------------------------------------
 * Header parsing
 * ------------------------------------------------------------------------ */
static void copy_known(uint8_t *dst)
{
    memcpy(dst, known_batch, sizeof(known_batch));
}

static void test_peek_size(void **state)
{
    (void)state;
    size_t size = 0;
    assert_int_equal(record_batch_peek_size(known_batch, 12, 1 << 20, &size), 0);
    assert_int_equal(size, sizeof(known_batch));
    assert_int_equal(record_batch_peek_size(known_batch, 11, 1 << 20, &size), CORE_ETRUNC);
    assert_int_equal(record_batch_peek_size(known_batch, 0, 1 << 20, &size), CORE_ETRUNC);
    assert_int_equal(record_batch_peek_size(known_batch, 12, 90, &size), CORE_ETOOBIG);
    assert_int_equal(record_batch_peek_size(known_batch, 12, 91, &size), 0);
    uint8_t p[91];
    copy_known(p);
    p[11] = 48; /* Length 48: total 60 < 61 */
    assert_int_equal(record_batch_peek_size(p, 12, 1 << 20, &size), CORE_ECORRUPT);
    assert_detail_has("Length 48");
    p[11] = 49;
    assert_int_equal(record_batch_peek_size(p, 12, 1 << 20, &size), 0);
    assert_int_equal(size, 61);
    p[8] = 0x80; /* negative Length */
    assert_int_equal(record_batch_peek_size(p, 12, SIZE_MAX, &size), CORE_ECORRUPT);
}

static void test_parse_rejects_magic_and_length(void **state)
{
    (void)state;
    record_batch_header_t h;
    uint8_t p[91];
    for (int magic = 0; magic < 256; magic++) {
        if (magic == 2)
            continue;
        copy_known(p);
        p[16] = (uint8_t)magic;
        assert_int_equal(record_batch_parse(p, sizeof(p), false, &h), CORE_EUNSUPP);
    }
    assert_detail_has("magic");
    copy_known(p);
    p[11] = 48;
    assert_int_equal(record_batch_parse(p, sizeof(p), false, &h), CORE_ECORRUPT);
    p[8] = 0xff; /* Length -16777168 */
    assert_int_equal(record_batch_parse(p, sizeof(p), false, &h), CORE_ECORRUPT);
    copy_known(p);
    p[11] = 80; /* says 92 bytes, 91 present */
    assert_int_equal(record_batch_parse(p, sizeof(p), false, &h), CORE_ETRUNC);
}

static void test_parse_rejects_truncated(void **state)
{
    (void)state;
    record_batch_header_t h;
    for (size_t n = 0; n < sizeof(known_batch); n++) {
        /* A copy of exactly n bytes, so ASan sees any overread. */
        uint8_t *p = malloc(n ? n : 1);
        assert_non_null(p);
        memcpy(p, known_batch, n);
        assert_int_equal(record_batch_parse(p, n, true, &h), CORE_ETRUNC);
        free(p);
    }
    /* Extra bytes after the batch are ignored. */
    uint8_t longer[100];
    memset(longer, 0xAB, sizeof(longer));
    memcpy(longer, known_batch, sizeof(known_batch));
    assert_int_equal(record_batch_parse(longer, sizeof(longer), true, &h), 0);
    assert_int_equal(iterate_all(longer, sizeof(longer)), 2);
}

static void test_parse_rejects_header_fields(void **state)
{
    (void)state;
    record_batch_header_t h;
    uint8_t p[91];
    for (int codec = 5; codec <= 7; codec++) {
        copy_known(p);
        p[22] = (uint8_t)codec;
        refresh_crc(p, sizeof(p));
        assert_int_equal(record_batch_parse(p, sizeof(p), true, &h), CORE_ECORRUPT);
        assert_detail_has("codec");
    }
    copy_known(p);
    p[57] = 0x80; /* RecordsCount negative */
    refresh_crc(p, sizeof(p));
    assert_int_equal(record_batch_parse(p, sizeof(p), true, &h), CORE_ECORRUPT);
    assert_detail_has("RecordsCount");
    copy_known(p);
    p[23] = 0xff; /* LastOffsetDelta negative */
    refresh_crc(p, sizeof(p));
    assert_int_equal(record_batch_parse(p, sizeof(p), true, &h), CORE_ECORRUPT);
    assert_detail_has("LastOffsetDelta");
}

static void test_crc_detects_every_flip(void **state)
{
    (void)state;
    record_batch_header_t h;
    uint8_t p[91];
    /* Every byte from the stored CRC (17) to the end: each single-bit flip
     * and each whole-byte inversion must fail the check. */
    for (size_t i = 17; i < sizeof(p); i++) {
        for (int bit = 0; bit <= 8; bit++) {
            copy_known(p);
            p[i] ^= bit == 8 ? 0xFF : (uint8_t)(1u << bit);
            int rc = record_batch_parse(p, sizeof(p), true, &h);
            if (rc != CORE_ECORRUPT)
                fail_msg("flip of byte %zu (bit %d) gave %d", i, bit, rc);
        }
    }
    /* Bytes outside the CRC: base offset and leader epoch may change freely. */
    copy_known(p);
    for (size_t i = 0; i < 8; i++)
        p[i] = 0x5A;
    for (size_t i = 12; i < 16; i++)
        p[i] = 0x00;
    assert_int_equal(record_batch_parse(p, sizeof(p), true, &h), 0);
    /* Without the check a flipped value byte goes unnoticed. */
    copy_known(p);
    p[70] ^= 0x01;
    assert_int_equal(record_batch_parse(p, sizeof(p), false, &h), 0);
    assert_int_equal(record_batch_parse(p, sizeof(p), true, &h), CORE_ECORRUPT);
    assert_detail_has("CRC");
}

/* ------------------------------------------------------------------------
 * Iterator rejects
 * ------------------------------------------------------------------------ */
static void expect_iter_corrupt(const bytes_t *batch, int yielded_ok, const char *detail)
{
    record_iter_t it;
    record_t r;
    assert_int_equal(record_iter_init(&it, batch->b, batch->n, true), 0);
    for (int i = 0; i < yielded_ok; i++)
        assert_int_equal(record_iter_next(&it, &r), 1);
    assert_int_equal(record_iter_next(&it, &r), CORE_ECORRUPT);
    if (detail)
        assert_detail_has(detail);
    /* A failed iterator stays failed. */
    assert_int_equal(record_iter_next(&it, &r), CORE_ECORRUPT);
}

static void test_iter_count_mismatch(void **state)
{
    (void)state;
    bytes_t recs = {.n = 0}, body, batch;
    simple_body(&body, 0, 0, "a", "1");
    put_record(&recs, &body, 0);
    simple_body(&body, 0, 1, "b", "2");
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 2, 3, &recs); /* claims 3, holds 2 */
    expect_iter_corrupt(&batch, 2, "record 2: the batch ends after 2 of its 3 records");
    make_batch(&batch, 0, 1, 1, &recs); /* claims 1, holds 2: trailing bytes */
    expect_iter_corrupt(&batch, 1, "follow the last of 1 records");
    make_batch(&batch, 0, 1, 2, &recs);
    assert_int_equal(iterate_all(batch.b, batch.n), 2);
    /* An empty batch with stray bytes. */
    make_batch(&batch, 0, 0, 0, &recs);
    expect_iter_corrupt(&batch, 0, "follow the last of 0 records");
    bytes_t none = {.n = 0};
    make_batch(&batch, 0, 0, 0, &none);
    assert_int_equal(iterate_all(batch.b, batch.n), 0);
}

static void test_iter_length_overflow(void **state)
{
    (void)state;
    bytes_t recs = {.n = 0}, body, batch;
    simple_body(&body, 0, 0, "a", "1");
    put_record(&recs, &body, 1); /* Length one past the batch end */
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, "record 0: length 9 exceeds the 8 bytes left");
    recs.n = 0;
    put_record(&recs, &body, -1); /* fields run past Length */
    put_u8(&recs, 0);
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, "record 0");
    recs.n = 0;
    put_u8(&body, 0x77); /* a stray byte inside the record */
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, "fields end 1 bytes before");
    /* A value length past the record. */
    body.n = 0;
    put_u8(&body, 0);
    put_v(&body, 0);
    put_v(&body, 0);
    put_v(&body, -1);
    put_v(&body, 900);
    put_raw(&body, "abc", 3);
    recs.n = 0;
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, "record 0: value length 900 exceeds the 3 bytes left");
}

/* Builds a one-record batch whose key, value, header count or header key
 * length is `bad`, and expects the named rejection. */
static void expect_bad_length(int which, int64_t bad, const char *detail)
{
    bytes_t body = {.n = 0}, recs = {.n = 0}, batch;
    put_u8(&body, 0);
    put_v(&body, 0);
    put_v(&body, 0);
    put_v(&body, which == 0 ? bad : 1); /* key */
    put_u8(&body, 'k');
    put_v(&body, which == 1 ? bad : 1); /* value */
    put_u8(&body, 'v');
    put_v(&body, which == 2 ? bad : 1); /* header count */
    put_v(&body, which == 3 ? bad : 1); /* header key */
    put_u8(&body, 'h');
    put_v(&body, which == 4 ? bad : -1); /* header value */
    recs.n = 0;
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, detail);
}

static void test_iter_negative_lengths(void **state)
{
    (void)state;
    expect_bad_length(0, -2, "record 0: key length -2 is negative");
    expect_bad_length(1, -7, "record 0: value length -7 is negative");
    expect_bad_length(2, -1, "record 0: header count -1 is negative");
    expect_bad_length(3, -1, "record 0 header 0: header key length -1 is negative");
    expect_bad_length(4, -3, "record 0 header 0: header value length -3 is negative");
    expect_bad_length(0, INT32_MAX, "record 0: key length 2147483647 exceeds");
    /* A record Length of -1. */
    bytes_t recs = {.n = 0}, batch;
    put_v(&recs, -1);
    put_raw(&recs, "\0\0\0\0\0\0", 6);
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, "record 0: length -1");
}

static void test_iter_offset_deltas(void **state)
{
    (void)state;
    bytes_t recs = {.n = 0}, body, batch;
    simple_body(&body, 0, 1, "a", "1");
    put_record(&recs, &body, 0);
    simple_body(&body, 0, 0, "b", "2"); /* decreases */
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 1, 2, &recs);
    expect_iter_corrupt(&batch, 1, "record 1: offset delta 0 does not follow 1");
    recs.n = 0;
    simple_body(&body, 0, 0, "a", "1");
    put_record(&recs, &body, 0);
    put_record(&recs, &body, 0); /* repeats */
    make_batch(&batch, 0, 1, 2, &recs);
    expect_iter_corrupt(&batch, 1, "record 1: offset delta 0 does not follow 0");
    recs.n = 0;
    simple_body(&body, 0, -1, "a", "1"); /* negative */
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, "record 0: offset delta -1 is negative");
    recs.n = 0;
    simple_body(&body, 0, 5, "a", "1"); /* beyond LastOffsetDelta 4 */
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 4, 1, &recs);
    expect_iter_corrupt(&batch, 0, "exceeds LastOffsetDelta 4");
    /* Gaps are fine (compacted batches). */
    recs.n = 0;
    simple_body(&body, 7, 2, "a", "1");
    put_record(&recs, &body, 0);
    simple_body(&body, -3, 4, NULL, NULL);
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 4, 2, &recs);
    record_iter_t it;
    record_t r;
    assert_int_equal(record_iter_init(&it, batch.b, batch.n, true), 0);
    assert_int_equal(record_iter_next(&it, &r), 1);
    assert_int_equal(r.offset, 2);
    assert_int_equal(r.timestamp, 1007);
    assert_int_equal(record_iter_next(&it, &r), 1);
    assert_int_equal(r.offset, 4);
    assert_int_equal(r.timestamp, 997);
    assert_null(r.value);
    assert_int_equal(record_iter_next(&it, &r), 0);
}

static void test_iter_truncated_varints(void **state)
{
    (void)state;
    bytes_t recs = {.n = 0}, body = {.n = 0}, batch;
    put_u8(&body, 0);
    put_u8(&body, 0x80); /* timestamp delta cut off by the record end */
    put_record(&recs, &body, 0);
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, "record 0: timestamp delta is cut off");
    recs.n = 0;
    put_raw(&recs, "\xff\xff\xff\xff\xff\xff", 6); /* over-long record length */
    make_batch(&batch, 0, 0, 1, &recs);
    expect_iter_corrupt(&batch, 0, "record 0: length");
}

static void test_header_next_rejects(void **state)
{
    (void)state;
    bytes_t h = {.n = 0};
    record_header_t out;
    put_v(&h, -1); /* null header key */
    const uint8_t *p = h.b;
    assert_int_equal(record_header_next(&p, h.b + h.n, &out), CORE_ECORRUPT);
    assert_ptr_equal(p, h.b);
    h.n = 0;
    put_v(&h, 2);
    put_raw(&h, "ab", 2);
    put_v(&h, 5);
    put_raw(&h, "xyz", 3);
    p = h.b;
    assert_int_equal(record_header_next(&p, h.b + h.n, &out), CORE_ECORRUPT);
    assert_detail_has("header value length 5 exceeds the 3 bytes left");
    h.n = 0;
    put_v(&h, 0);
    put_v(&h, -1);
    p = h.b;
    assert_int_equal(record_header_next(&p, h.b + h.n, &out), 1);
    assert_int_equal(out.key_len, 0);
    assert_int_equal(out.value_len, -1);
    assert_null(out.value);
    assert_int_equal(record_header_next(&p, h.b + h.n, &out), 0);
}

/* ------------------------------------------------------------------------
 * Attributes: compression and LogAppendTime
 * ------------------------------------------------------------------------ */
static void test_compressed_unsupported(void **state)
{
    (void)state;
    static const char *const names[] = {"gzip", "snappy", "lz4", "zstd"};
    uint8_t p[91];
    for (int codec = 1; codec <= 4; codec++) {
        copy_known(p);
        p[22] = (uint8_t)codec;
        refresh_crc(p, sizeof(p));
        record_batch_header_t h;
        assert_int_equal(record_batch_parse(p, sizeof(p), true, &h), 0);
        assert_int_equal(h.attributes & RECORD_ATTR_CODEC_MASK, codec);
        assert_int_equal(record_batch_last_offset(&h), 1);
        record_iter_t it;
        assert_int_equal(record_iter_init(&it, p, sizeof(p), true), CORE_EUNSUPP);
        assert_detail_has(names[codec - 1]);
    }
}

static void test_log_append_time(void **state)
{
    (void)state;
    uint8_t p[91];
    copy_known(p);
    p[22] = RECORD_ATTR_LOG_APPEND_TIME;
    for (int i = 0; i < 8; i++)
        p[35 + i] = (uint8_t)(0x0102030405060708ull >> (56 - 8 * i));
    refresh_crc(p, sizeof(p));
    record_iter_t it;
    record_t r;
    assert_int_equal(record_iter_init(&it, p, sizeof(p), true), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(record_iter_next(&it, &r), 1);
        assert_int_equal(r.timestamp, 0x0102030405060708LL);
    }
    assert_int_equal(record_iter_next(&it, &r), 0);
}

/* ------------------------------------------------------------------------
 * Builder
 * ------------------------------------------------------------------------ */
static void test_builder_too_big(void **state)
{
    (void)state;
    uint8_t value[20];
    memset(value, 'x', sizeof(value));
    /* Each record: Length(1) + attrs, ts, offset, key(-1) (4) + value 1+20 +
     * headers 1 = 27 bytes. Room for 3: 61 + 81 = 142. */
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 142 + 26);
    for (int i = 0; i < 3; i++)
        assert_int_equal(record_builder_add(&b, 10 + i, NULL, 0, value, 20, NULL, 0), 0);
    assert_int_equal(record_builder_size(&b), 142);
    uint8_t before[142];
    memcpy(before, b.buf.data, sizeof(before));
    assert_int_equal(record_builder_add(&b, 99, NULL, 0, value, 20, NULL, 0), CORE_ETOOBIG);
    assert_int_equal(record_builder_count(&b), 3);
    assert_int_equal(record_builder_size(&b), 142);
    assert_memory_equal(b.buf.data, before, sizeof(before));
    assert_int_equal(b.max_timestamp, 12);
    /* A smaller record still fits. */
    assert_int_equal(record_builder_add(&b, 13, NULL, 0, value, 19, NULL, 0), 0);
    uint8_t *batch = NULL;
    size_t len = 0;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_int_equal(len, 142 + 26);
    assert_int_equal(iterate_all(batch, len), 4);
    record_builder_reset(&b);
    assert_int_equal(record_builder_count(&b), 0);
    assert_int_equal(record_builder_size(&b), RECORD_BATCH_HEADER_SIZE);
    assert_int_equal(record_builder_finish(&b, &batch, &len), CORE_EINVAL);
    assert_int_equal(record_builder_add(&b, 1, NULL, 0, value, 20, NULL, 0), 0);
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_int_equal(iterate_all(batch, len), 1);
    record_builder_fini(&b);

    /* A cap below the header fits nothing. */
    record_builder_init(&b, CORE_MEM_TEST, 60);
    assert_int_equal(record_builder_add(&b, 1, NULL, 0, NULL, 0, NULL, 0), CORE_ETOOBIG);
    assert_int_equal(record_builder_count(&b), 0);
    assert_int_equal(record_builder_size(&b), RECORD_BATCH_HEADER_SIZE);
    record_builder_fini(&b);
}

static void test_builder_rejects_bad_args(void **state)
{
    (void)state;
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 4096);
    record_header_t h = {.key = NULL, .key_len = -1, .value = NULL, .value_len = -1};
    assert_int_equal(record_builder_add(&b, 1, "k", -2, NULL, 0, NULL, 0), CORE_EINVAL);
    assert_int_equal(record_builder_add(&b, 1, NULL, 0, NULL, 0, NULL, 1), CORE_EINVAL);
    assert_int_equal(record_builder_add(&b, 1, NULL, 0, NULL, 0, &h, -1), CORE_EINVAL);
    assert_int_equal(record_builder_add(&b, 1, NULL, 0, NULL, 0, &h, 1), CORE_EINVAL);
    assert_int_equal(record_builder_count(&b), 0);
    assert_int_equal(b.buf.len, 0);
    record_builder_fini(&b);
}

static void test_set_base_offset_keeps_crc(void **state)
{
    (void)state;
    record_builder_t b;
    uint8_t *batch = NULL;
    size_t len = 0;
    build_known(&b, &batch, &len);
    uint32_t crc = core_load_be32(batch + RECORD_OFF_CRC);
    record_batch_set_base_offset(batch, 1234567890123LL);
    assert_int_equal(core_load_be32(batch + RECORD_OFF_CRC), crc);
    record_batch_header_t h;
    assert_int_equal(record_batch_parse(batch, len, true, &h), 0);
    assert_int_equal(h.base_offset, 1234567890123LL);
    assert_int_equal(record_batch_last_offset(&h), 1234567890124LL);
    record_iter_t it;
    record_t r;
    assert_int_equal(record_iter_init(&it, batch, len, true), 0);
    assert_int_equal(record_iter_next(&it, &r), 1);
    assert_int_equal(r.offset, 1234567890123LL);
    assert_int_equal(record_iter_next(&it, &r), 1);
    assert_int_equal(r.offset, 1234567890124LL);
    record_builder_fini(&b);
}

static void test_builder_producer_fields(void **state)
{
    (void)state;
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 4096);
    record_builder_set_producer(&b, 77, 3, 1000);
    assert_int_equal(record_builder_add(&b, 5, "k", 1, "v", 1, NULL, 0), 0);
    uint8_t *batch = NULL;
    size_t len = 0;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    record_batch_header_t h;
    assert_int_equal(record_batch_parse(batch, len, true, &h), 0);
    assert_int_equal(h.producer_id, 77);
    assert_int_equal(h.producer_epoch, 3);
    assert_int_equal(h.base_sequence, 1000);
    assert_int_equal(h.magic, 2);
    assert_int_equal(h.leader_epoch, -1);
    assert_int_equal(h.base_offset, 0);
    /* reset() returns the producer fields to -1. */
    record_builder_reset(&b);
    assert_int_equal(record_builder_add(&b, 5, "k", 1, "v", 1, NULL, 0), 0);
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_int_equal(record_batch_parse(batch, len, true, &h), 0);
    assert_int_equal(h.producer_id, -1);
    assert_int_equal(h.base_sequence, -1);
    record_builder_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_reference),
        {"RecordBatch encode and decode against known bytes", test_known_bytes, NULL, NULL, NULL},
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_roundtrip_extreme_timestamps),
        cmocka_unit_test(test_peek_size),
        cmocka_unit_test(test_parse_rejects_magic_and_length),
        cmocka_unit_test(test_parse_rejects_truncated),
        cmocka_unit_test(test_parse_rejects_header_fields),
        cmocka_unit_test(test_crc_detects_every_flip),
        cmocka_unit_test(test_iter_count_mismatch),
        cmocka_unit_test(test_iter_length_overflow),
        cmocka_unit_test(test_iter_negative_lengths),
        cmocka_unit_test(test_iter_offset_deltas),
        cmocka_unit_test(test_iter_truncated_varints),
        cmocka_unit_test(test_header_next_rejects),
        cmocka_unit_test(test_compressed_unsupported),
        cmocka_unit_test(test_log_append_time),
        cmocka_unit_test(test_builder_too_big),
        cmocka_unit_test(test_builder_rejects_bad_args),
        cmocka_unit_test(test_set_base_offset_keeps_crc),
        cmocka_unit_test(test_builder_producer_fields),
    };
    return cmocka_run_group_tests_name("record/batch", tests, NULL, NULL);
}

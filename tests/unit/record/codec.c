/*
 * tests/unit/record/codec.c - the record codecs (gzip, snappy, lz4, zstd),
 * record_batch_decompress() and the builder's compression.
 *
 * Interop: known byte arrays made by independent tools (the gzip, lz4 and
 * zstd command-line programs, and raw snappy spelled out by hand from the
 * snappy format description) must decompress to their text, and xerial
 * frames are assembled here by hand around raw snappy blocks.
 *
 * Batch oracle: a batch built with a codec and then decompressed must equal,
 * byte for byte, the same records built without a codec.
 *
 * Invariants: deterministic (fixed-seed PRNG), tests independent; every
 * buffer is finalised so ASan's leak check stays quiet.
 * Threading: single-threaded.
 */
#include "record/record.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const record_codec_t codecs[] = {RECORD_CODEC_GZIP, RECORD_CODEC_SNAPPY, RECORD_CODEC_LZ4,
                                        RECORD_CODEC_ZSTD};
static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

#define MIB ((size_t)1 << 20)

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rng();
}

/* Text-like bytes: words from a small vocabulary, so every codec shrinks it. */
static void fill_repetitive(uint8_t *p, size_t n)
{
    static const char *const words[] = {"order ",   "shipped ",     "customer-42 ",
                                        "eu-west ", "{\"qty\":3} ", "2026-11-22 "};
    size_t i = 0;
    while (i < n) {
        const char *w = words[rng() % CORE_ARRAY_LEN(words)];
        for (size_t j = 0; w[j] && i < n; j++)
            p[i++] = (uint8_t)w[j];
    }
}

static void assert_detail_has(const char *needle)
{
    const char *d = core_error_detail();
    if (!strstr(d, needle))
        fail_msg("detail \"%s\" lacks \"%s\"", d, needle);
}

static void buf_init(core_buf_t *b)
{
    core_buf_init(b, CORE_MEM_TEST, SIZE_MAX);
}

static void compress_ok(record_codec_t codec, const uint8_t *src, size_t len, core_buf_t *out)
{
    int rc = record_codec_compress(codec, src, len, out);
    if (rc != 0)
        fail_msg("%s compress of %zu bytes: %d (%s)", codec_names[codec], len, rc,
                 core_error_detail());
}

/* Compresses src, then decompresses into a buffer that already holds a
 * prefix (appending), with max_out exactly len (accepted) and len - 1
 * (refused). */
static void roundtrip(record_codec_t codec, const uint8_t *src, size_t len)
{
    static const char prefix[] = "prefix";
    core_buf_t z, out;
    buf_init(&z);
    buf_init(&out);
    compress_ok(codec, src, len, &z);
    assert_true(z.len > 0);
    assert_int_equal(core_buf_append(&out, prefix, 6), 0);
    int rc = record_codec_decompress(codec, z.data, z.len, len, &out);
    if (rc != 0)
        fail_msg("%s decompress: %d (%s)", codec_names[codec], rc, core_error_detail());
    assert_int_equal(out.len, 6 + len);
    assert_memory_equal(out.data, prefix, 6);
    if (len)
        assert_memory_equal(out.data + 6, src, len);
    if (len > 0) {
        assert_int_equal(record_codec_decompress(codec, z.data, z.len, len - 1, &out),
                         CORE_ETOOBIG);
        assert_detail_has(codec_names[codec]);
        assert_int_equal(out.len, 6 + len); /* unchanged by the failure */
    }
    core_buf_fini(&z);
    core_buf_fini(&out);
}

/* ------------------------------------------------------------------------
 * Round trips
 * ------------------------------------------------------------------------ */
static void test_roundtrip_empty_and_tiny(void **state)
{
    (void)state;
    static const uint8_t one[1] = {'x'};
    static const char tiny[] = "hello, strata";
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        roundtrip(codecs[i], NULL, 0);
        roundtrip(codecs[i], one, 1);
        roundtrip(codecs[i], (const uint8_t *)tiny, sizeof(tiny) - 1);
    }
    roundtrip(RECORD_CODEC_NONE, one, 1);
}

static void test_roundtrip_random_1mib(void **state)
{
    (void)state;
    uint8_t *p = malloc(MIB);
    assert_non_null(p);
    fill_random(p, MIB);
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++)
        roundtrip(codecs[i], p, MIB);
    free(p);
}

static void test_roundtrip_repetitive_1mib(void **state)
{
    (void)state;
    uint8_t *p = malloc(MIB);
    assert_non_null(p);
    fill_repetitive(p, MIB);
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        roundtrip(codecs[i], p, MIB);
        core_buf_t z;
        buf_init(&z);
        compress_ok(codecs[i], p, MIB, &z);
        assert_true(z.len < MIB / 3); /* it really compressed */
        core_buf_fini(&z);
    }
    free(p);
}

/* ------------------------------------------------------------------------
 * Caps: a small input that inflates past max_out
 * ------------------------------------------------------------------------ */
static void test_decompress_caps(void **state)
{
    (void)state;
    size_t n = 8 * MIB;
    uint8_t *zeros = calloc(1, n);
    assert_non_null(zeros);
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        record_codec_t c = codecs[i];
        core_buf_t z, out;
        buf_init(&z);
        buf_init(&out);
        compress_ok(c, zeros, n, &z);
        assert_true(z.len < 512 * 1024); /* a small input... */
        /* ...that inflates past max_out. */
        assert_int_equal(record_codec_decompress(c, z.data, z.len, 65536, &out), CORE_ETOOBIG);
        assert_detail_has(codec_names[c]);
        assert_detail_has("65536");
        assert_int_equal(out.len, 0);
        /* The output buffer's own cap counts too, when it is the smaller. */
        core_buf_t small;
        core_buf_init(&small, CORE_MEM_TEST, 4096);
        assert_int_equal(record_codec_decompress(c, z.data, z.len, n, &small), CORE_ETOOBIG);
        assert_detail_has("4096");
        assert_true(small.cap <= 4096);
        core_buf_fini(&small);
        /* A generous cap passes, and the output never exceeded it. */
        assert_int_equal(record_codec_decompress(c, z.data, z.len, n, &out), 0);
        assert_int_equal(out.len, n);
        core_buf_fini(&z);
        core_buf_fini(&out);
    }
    free(zeros);
}

/* Compression refuses to write past the output buffer's cap. */
static void test_compress_respects_out_cap(void **state)
{
    (void)state;
    uint8_t src[4096];
    fill_random(src, sizeof(src));
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        core_buf_t out;
        core_buf_init(&out, CORE_MEM_TEST, 1000);
        assert_int_equal(record_codec_compress(codecs[i], src, sizeof(src), &out), CORE_ETOOBIG);
        assert_detail_has(codec_names[codecs[i]]);
        assert_int_equal(out.len, 0);
        core_buf_fini(&out);
    }
    core_buf_t out;
    buf_init(&out);
    assert_int_equal(record_codec_compress((record_codec_t)5, src, 1, &out), CORE_EINVAL);
    assert_int_equal(record_codec_decompress((record_codec_t)7, src, 1, 10, &out), CORE_EINVAL);
    core_buf_fini(&out);
}

/* ------------------------------------------------------------------------
 * Garbage and truncated input: CORE_ECORRUPT, never a crash
 * ------------------------------------------------------------------------ */
static void expect_corrupt(record_codec_t c, const uint8_t *p, size_t n, const char *what)
{
    core_buf_t out;
    buf_init(&out);
    int rc = record_codec_decompress(c, p, n, MIB, &out);
    if (rc != CORE_ECORRUPT)
        fail_msg("%s, %s (%zu bytes): got %d (%s), want CORE_ECORRUPT", codec_names[c], what, n, rc,
                 core_error_detail());
    assert_detail_has(codec_names[c]);
    assert_int_equal(out.len, 0);
    core_buf_fini(&out);
}

static void test_garbage_is_corrupt(void **state)
{
    (void)state;
    uint8_t junk[2048];
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        record_codec_t c = codecs[i];
        expect_corrupt(c, NULL, 0, "empty input");
        for (int round = 0; round < 50; round++) {
            size_t n = 1 + rng() % sizeof(junk);
            fill_random(junk, n);
            expect_corrupt(c, junk, n, "random bytes");
        }
        memset(junk, 0xff, sizeof(junk));
        expect_corrupt(c, junk, sizeof(junk), "0xff bytes");
    }
}

/* Every prefix of a small stream, and chosen cuts of a larger one. */
static void test_truncated_is_corrupt(void **state)
{
    (void)state;
    uint8_t small[300];
    uint8_t *big = malloc(200000);
    assert_non_null(big);
    fill_repetitive(small, sizeof(small));
    fill_repetitive(big, 100000);
    fill_random(big + 100000, 100000);
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        record_codec_t c = codecs[i];
        core_buf_t z;
        buf_init(&z);
        compress_ok(c, small, sizeof(small), &z);
        for (size_t cut = 0; cut < z.len; cut++)
            expect_corrupt(c, z.data, cut, "prefix of a small stream");
        core_buf_reset(&z);
        compress_ok(c, big, 200000, &z);
        size_t cuts[] = {1, 10, z.len / 3, z.len / 2, z.len - 10, z.len - 1};
        for (size_t k = 0; k < CORE_ARRAY_LEN(cuts); k++)
            expect_corrupt(c, z.data, cuts[k], "prefix of a large stream");
        core_buf_fini(&z);
    }
    free(big);
}

/* Bytes after a complete stream are not silently ignored. */
static void test_trailing_bytes_are_corrupt(void **state)
{
    (void)state;
    static const char text[] = "some text, some text, some text";
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        core_buf_t z;
        buf_init(&z);
        compress_ok(codecs[i], (const uint8_t *)text, sizeof(text) - 1, &z);
        assert_int_equal(core_buf_append(&z, "\x07junk", 5), 0);
        expect_corrupt(codecs[i], z.data, z.len, "trailing bytes");
        core_buf_fini(&z);
    }
}

/* Two complete streams back to back decode to both texts (gzip members,
 * lz4 and zstd frames). */
static void test_concatenated_streams(void **state)
{
    (void)state;
    static const record_codec_t multi[] = {RECORD_CODEC_GZIP, RECORD_CODEC_LZ4, RECORD_CODEC_ZSTD};
    for (size_t i = 0; i < CORE_ARRAY_LEN(multi); i++) {
        core_buf_t z, out;
        buf_init(&z);
        buf_init(&out);
        compress_ok(multi[i], (const uint8_t *)"first,", 6, &z);
        compress_ok(multi[i], (const uint8_t *)"second", 6, &z);
        assert_int_equal(record_codec_decompress(multi[i], z.data, z.len, 100, &out), 0);
        assert_int_equal(out.len, 12);
        assert_memory_equal(out.data, "first,second", 12);
        core_buf_fini(&z);
        core_buf_fini(&out);
    }
}

/* ------------------------------------------------------------------------
 * Known bytes from independent tools
 * ------------------------------------------------------------------------ */
static const char known_text[] = "hello hello hello strata";

/* printf 'hello hello hello strata' | gzip -9 -n -c | xxd -i */
static const uint8_t known_gzip[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
                                     0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40,
                                     0x22, 0x8b, 0x4b, 0x8a, 0x12, 0x4b, 0x12, 0x01, 0xdf,
                                     0x04, 0x80, 0xf4, 0x18, 0x00, 0x00, 0x00};

/* python3 -c "import zlib; print(zlib.compress(b'hello hello hello strata'))"
 * (the zlib wrapper, not gzip: librdkafka and Java write gzip, but the
 * decoder takes either). */
static const uint8_t known_zlib[] = {0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
                                     0xc8, 0x40, 0x22, 0x8b, 0x4b, 0x8a, 0x12, 0x4b,
                                     0x12, 0x01, 0x71, 0xa3, 0x09, 0x2c};

/* printf 'hello hello hello strata' | lz4 -c | xxd -i (lz4 CLI 1.9.4; the
 * frame has independent blocks and a content checksum). */
static const uint8_t known_lz4[] = {0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x10, 0x00,
                                    0x00, 0x00, 0x68, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20,
                                    0x06, 0x00, 0x60, 0x73, 0x74, 0x72, 0x61, 0x74, 0x61,
                                    0x00, 0x00, 0x00, 0x00, 0x41, 0x95, 0xc7, 0xb1};

/* printf 'hello hello hello strata' | zstd -c -q | xxd -i (zstd CLI 1.5.4). */
static const uint8_t known_zstd[] = {
    0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x95, 0x00, 0x00, 0x60, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20,
    0x73, 0x74, 0x72, 0x61, 0x74, 0x61, 0x01, 0x00, 0xe1, 0x4a, 0x11, 0xb4, 0x3c, 0x93, 0xc9};

/* Raw snappy by hand from the format description: varint length 24; a
 * 6-byte literal (tag (6-1)<<2); copy-1 of 8 bytes from offset 6 (tag
 * (8-4)<<2 | 1, offset 6); copy-1 of 4 from offset 6; a 6-byte literal. */
static const uint8_t known_snappy[] = {0x18, 0x14, 'h',  'e', 'l', 'l', 'o', ' ', 0x11, 0x06,
                                       0x01, 0x06, 0x14, 's', 't', 'r', 'a', 't', 'a'};

static void expect_text(record_codec_t c, const uint8_t *p, size_t n, const char *text)
{
    core_buf_t out;
    buf_init(&out);
    int rc = record_codec_decompress(c, p, n, 1024, &out);
    if (rc != 0)
        fail_msg("%s known bytes: %d (%s)", codec_names[c], rc, core_error_detail());
    assert_int_equal(out.len, strlen(text));
    assert_memory_equal(out.data, text, out.len);
    core_buf_fini(&out);
}

static void test_known_bytes_from_other_tools(void **state)
{
    (void)state;
    expect_text(RECORD_CODEC_GZIP, known_gzip, sizeof(known_gzip), known_text);
    expect_text(RECORD_CODEC_GZIP, known_zlib, sizeof(known_zlib), known_text);
    expect_text(RECORD_CODEC_LZ4, known_lz4, sizeof(known_lz4), known_text);
    expect_text(RECORD_CODEC_ZSTD, known_zstd, sizeof(known_zstd), known_text);
    expect_text(RECORD_CODEC_SNAPPY, known_snappy, sizeof(known_snappy), known_text);
    /* A flipped bit in the lz4 frame's content checksum is caught. */
    uint8_t bad[sizeof(known_lz4)];
    memcpy(bad, known_lz4, sizeof(bad));
    bad[sizeof(bad) - 1] ^= 1;
    expect_corrupt(RECORD_CODEC_LZ4, bad, sizeof(bad), "bad content checksum");
    /* So is one in the gzip CRC32 trailer. */
    uint8_t badgz[sizeof(known_gzip)];
    memcpy(badgz, known_gzip, sizeof(badgz));
    badgz[sizeof(badgz) - 6] ^= 1;
    expect_corrupt(RECORD_CODEC_GZIP, badgz, sizeof(badgz), "bad gzip crc");
}

/* ------------------------------------------------------------------------
 * Xerial-framed snappy (Java, kafka-python)
 * ------------------------------------------------------------------------ */
static void xerial_header(core_buf_t *f)
{
    static const uint8_t magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
    assert_int_equal(core_buf_append(f, magic, sizeof(magic)), 0);
    assert_int_equal(core_buf_append_be32(f, 1), 0); /* version */
    assert_int_equal(core_buf_append_be32(f, 1), 0); /* compatible version */
}

static void xerial_block(core_buf_t *f, const uint8_t *raw, size_t n)
{
    assert_int_equal(core_buf_append_be32(f, (uint32_t)n), 0);
    assert_int_equal(core_buf_append(f, raw, n), 0);
}

static void test_xerial_snappy(void **state)
{
    (void)state;
    uint8_t *a = malloc(100000);
    assert_non_null(a);
    fill_repetitive(a, 100000);
    core_buf_t raw, frame, out;
    buf_init(&raw);
    buf_init(&frame);
    buf_init(&out);
    compress_ok(RECORD_CODEC_SNAPPY, a, 100000, &raw);
    xerial_header(&frame);
    xerial_block(&frame, raw.data, raw.len);
    xerial_block(&frame, known_snappy, sizeof(known_snappy));
    size_t total = 100000 + strlen(known_text);

    assert_int_equal(
        record_codec_decompress(RECORD_CODEC_SNAPPY, frame.data, frame.len, total, &out), 0);
    assert_int_equal(out.len, total);
    assert_memory_equal(out.data, a, 100000);
    assert_memory_equal(out.data + 100000, known_text, strlen(known_text));
    core_buf_reset(&out);

    /* The cap spans blocks: the second block would pass it. */
    assert_int_equal(
        record_codec_decompress(RECORD_CODEC_SNAPPY, frame.data, frame.len, total - 1, &out),
        CORE_ETOOBIG);
    assert_detail_has("snappy");
    assert_int_equal(out.len, 0);

    /* Cut inside the header, inside a block length, inside a block. */
    expect_corrupt(RECORD_CODEC_SNAPPY, frame.data, 12, "xerial header cut");
    expect_corrupt(RECORD_CODEC_SNAPPY, frame.data, 18, "xerial block length cut");
    expect_corrupt(RECORD_CODEC_SNAPPY, frame.data, 16 + 4 + raw.len / 2, "xerial block cut");
    expect_corrupt(RECORD_CODEC_SNAPPY, frame.data, frame.len - 1, "xerial last block cut");
    /* A block length past the end. */
    core_store_be32(frame.data + 16, (uint32_t)frame.len);
    expect_corrupt(RECORD_CODEC_SNAPPY, frame.data, frame.len, "xerial block length too big");

    /* A header with no blocks is an empty payload. */
    core_buf_reset(&frame);
    xerial_header(&frame);
    assert_int_equal(record_codec_decompress(RECORD_CODEC_SNAPPY, frame.data, frame.len, 10, &out),
                     0);
    assert_int_equal(out.len, 0);
    core_buf_fini(&raw);
    core_buf_fini(&frame);
    core_buf_fini(&out);
    free(a);
}

/* ------------------------------------------------------------------------
 * Batches: builder with a codec -> record_batch_decompress -> iterate
 * ------------------------------------------------------------------------ */
#define NREC 200

typedef struct {
    int64_t ts;
    char key[24];
    int32_t key_len; /* -1 = null */
    char value[160];
    int32_t value_len; /* -1 = null */
    record_header_t hdr;
    int32_t header_count;
} spec_t;

static void make_specs(spec_t *s, int n)
{
    for (int i = 0; i < n; i++) {
        memset(&s[i], 0, sizeof(s[i]));
        s[i].ts = 1700000000000LL + i * 7;
        s[i].key_len =
            i % 11 == 0 ? -1 : (int32_t)snprintf(s[i].key, sizeof(s[i].key), "customer-%d", i % 17);
        s[i].value_len = i % 13 == 0 ? -1 : (int32_t)(rng() % sizeof(s[i].value));
        if (s[i].value_len > 0)
            fill_repetitive((uint8_t *)s[i].value, (size_t)s[i].value_len);
        s[i].header_count = i % 3 == 0;
        s[i].hdr = (record_header_t){.key = (const uint8_t *)"trace",
                                     .key_len = 5,
                                     .value = (const uint8_t *)"abc",
                                     .value_len = 3};
    }
}

static void add_specs(record_builder_t *b, const spec_t *s, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(record_builder_add(b, s[i].ts, s[i].key_len < 0 ? NULL : s[i].key,
                                            s[i].key_len, s[i].value_len < 0 ? NULL : s[i].value,
                                            s[i].value_len, s[i].header_count ? &s[i].hdr : NULL,
                                            s[i].header_count),
                         0);
}

static void assert_field(const uint8_t *got, int32_t got_len, const char *want, int32_t want_len)
{
    assert_int_equal(got_len, want_len);
    if (want_len < 0)
        assert_null(got);
    else if (want_len > 0)
        assert_memory_equal(got, want, (size_t)want_len);
}

static void check_records(const uint8_t *batch, size_t len, const spec_t *s, int n, int64_t base)
{
    record_iter_t it;
    record_t r;
    assert_int_equal(record_iter_init(&it, batch, len, true), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(record_iter_next(&it, &r), 1);
        assert_int_equal(r.offset, base + i);
        assert_int_equal(r.timestamp, s[i].ts);
        assert_field(r.key, r.key_len, s[i].key, s[i].key_len);
        assert_field(r.value, r.value_len, s[i].value, s[i].value_len);
        assert_int_equal(r.header_count, s[i].header_count);
        if (s[i].header_count) {
            const uint8_t *p = r.headers;
            record_header_t h;
            assert_int_equal(record_header_next(&p, r.headers + r.headers_len, &h), 1);
            assert_field(h.key, h.key_len, "trace", 5);
            assert_field(h.value, h.value_len, "abc", 3);
        }
    }
    assert_int_equal(record_iter_next(&it, &r), 0);
}

/* Builds specs with `codec` into a caller-owned copy. */
static uint8_t *build(record_codec_t codec, const spec_t *s, int n, size_t *len)
{
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    record_builder_set_codec(&b, codec);
    record_builder_set_producer(&b, 9001, 2, 500);
    add_specs(&b, s, n);
    uint8_t *batch = NULL;
    assert_int_equal(record_builder_finish(&b, &batch, len), 0);
    uint8_t *copy = malloc(*len);
    assert_non_null(copy);
    memcpy(copy, batch, *len);
    record_builder_fini(&b);
    return copy;
}

static void test_batch_with_each_codec(void **state)
{
    (void)state;
    static spec_t specs[NREC];
    make_specs(specs, NREC);
    size_t plain_len = 0;
    uint8_t *plain = build(RECORD_CODEC_NONE, specs, NREC, &plain_len);
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        record_codec_t c = codecs[i];
        size_t len = 0;
        uint8_t *batch = build(c, specs, NREC, &len);
        record_batch_set_base_offset(batch, 5000);
        record_batch_header_t h;
        assert_int_equal(record_batch_parse(batch, len, true, &h), 0);
        assert_int_equal(h.attributes & RECORD_ATTR_CODEC_MASK, c);
        assert_int_equal(h.records_count, NREC);
        assert_int_equal(record_batch_last_offset(&h), 5000 + NREC - 1);
        assert_true(len < plain_len / 2);
        record_iter_t it;
        assert_int_equal(record_iter_init(&it, batch, len, true), CORE_EUNSUPP);

        core_buf_t out;
        buf_init(&out);
        assert_int_equal(record_batch_decompress(batch, len, 1 << 20, &out), 0);
        check_records(out.data, out.len, specs, NREC, 5000);
        /* Equal to the uncompressed build, but for BaseOffset. */
        assert_int_equal(out.len, plain_len);
        record_batch_set_base_offset(out.data, 0);
        assert_memory_equal(out.data, plain, plain_len);
        core_buf_fini(&out);
        free(batch);
    }
    /* An uncompressed batch is copied as is, appended after what out holds. */
    core_buf_t out;
    buf_init(&out);
    assert_int_equal(core_buf_append(&out, "xy", 2), 0);
    assert_int_equal(record_batch_decompress(plain, plain_len, 1 << 20, &out), 0);
    assert_int_equal(out.len, 2 + plain_len);
    assert_memory_equal(out.data + 2, plain, plain_len);
    check_records(out.data + 2, plain_len, specs, NREC, 0);
    /* max_out caps its records section too. */
    assert_int_equal(record_batch_decompress(plain, plain_len, 100, &out), CORE_ETOOBIG);
    assert_int_equal(out.len, 2 + plain_len);
    core_buf_fini(&out);
    free(plain);
}

static void test_batch_decompress_errors(void **state)
{
    (void)state;
    static spec_t specs[NREC];
    make_specs(specs, NREC);
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        record_codec_t c = codecs[i];
        size_t len = 0;
        uint8_t *batch = build(c, specs, NREC, &len);
        record_batch_set_base_offset(batch, 777);
        core_buf_t out;
        buf_init(&out);

        /* The CRC is checked before any decompression. */
        batch[len - 1] ^= 0x40;
        assert_int_equal(record_batch_decompress(batch, len, 1 << 20, &out), CORE_ECORRUPT);
        assert_detail_has("CRC");
        batch[len - 1] ^= 0x40;

        /* The cap names the codec, the batch and the limit. */
        assert_int_equal(record_batch_decompress(batch, len, 1000, &out), CORE_ETOOBIG);
        assert_detail_has(codec_names[c]);
        assert_detail_has("offset 777");
        assert_detail_has("1000");

        /* A corrupt payload with a good CRC reaches the codec. */
        uint8_t *bad = malloc(len);
        assert_non_null(bad);
        memcpy(bad, batch, len);
        fill_random(bad + RECORD_BATCH_HEADER_SIZE, len - RECORD_BATCH_HEADER_SIZE);
        core_store_be32(bad + RECORD_OFF_CRC,
                        core_crc32c(0, bad + RECORD_OFF_ATTRIBUTES, len - RECORD_OFF_ATTRIBUTES));
        assert_int_equal(record_batch_decompress(bad, len, 1 << 20, &out), CORE_ECORRUPT);
        assert_detail_has(codec_names[c]);
        assert_detail_has("offset 777");

        /* So does a payload cut short (Length shrunk, CRC redone). */
        memcpy(bad, batch, len);
        size_t cut = len - 7;
        core_store_be32(bad + RECORD_OFF_LENGTH, (uint32_t)(cut - RECORD_BATCH_LOG_OVERHEAD));
        core_store_be32(bad + RECORD_OFF_CRC,
                        core_crc32c(0, bad + RECORD_OFF_ATTRIBUTES, cut - RECORD_OFF_ATTRIBUTES));
        assert_int_equal(record_batch_decompress(bad, cut, 1 << 20, &out), CORE_ECORRUPT);
        assert_detail_has(codec_names[c]);
        assert_detail_has("offset 777");
        assert_int_equal(out.len, 0);

        free(bad);
        core_buf_fini(&out);
        free(batch);
    }
}

/* Every allocation on the decompress path can fail without a leak, and the
 * output is left as it was. */
static void test_batch_decompress_alloc_failures(void **state)
{
    (void)state;
    static spec_t specs[20];
    make_specs(specs, 20);
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        size_t len = 0;
        uint8_t *batch = build(codecs[i], specs, 20, &len);
        int rc = -1;
        for (long n = 1; n < 100 && rc != 0; n++) {
            core_buf_t out;
            buf_init(&out);
            core_mem_fail_at(n, false);
            rc = record_batch_decompress(batch, len, 1 << 20, &out);
            core_mem_fail_at(0, false);
            if (rc != 0) {
                assert_int_equal(rc, CORE_ENOMEM);
                assert_int_equal(out.len, 0);
            } else {
                check_records(out.data, out.len, specs, 20, 0);
            }
            core_buf_fini(&out);
        }
        assert_int_equal(rc, 0);
        free(batch);
    }
}

/* finish() with a codec survives each allocation failing in turn: it
 * reports CORE_ENOMEM, and a retry yields the same batch as a clean run. */
static void test_builder_finish_alloc_failures(void **state)
{
    (void)state;
    static spec_t specs[30];
    make_specs(specs, 30);
    for (size_t i = 0; i < CORE_ARRAY_LEN(codecs); i++) {
        size_t want_len = 0;
        uint8_t *want = build(codecs[i], specs, 30, &want_len);
        int rc = -1;
        for (long n = 1; n < 50 && rc != 0; n++) {
            record_builder_t b;
            record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
            record_builder_set_codec(&b, codecs[i]);
            record_builder_set_producer(&b, 9001, 2, 500);
            add_specs(&b, specs, 30);
            uint8_t *batch = NULL;
            size_t len = 0;
            core_mem_fail_at(n, false);
            rc = record_builder_finish(&b, &batch, &len);
            core_mem_fail_at(0, false);
            if (rc != 0) {
                assert_int_equal(rc, CORE_ENOMEM);
                assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
            }
            assert_int_equal(len, want_len);
            assert_memory_equal(batch, want, want_len);
            record_builder_fini(&b);
        }
        assert_int_equal(rc, 0);
        free(want);
    }
}

/* ------------------------------------------------------------------------
 * Builder behaviour with a codec
 * ------------------------------------------------------------------------ */
static void test_builder_codec_lifecycle(void **state)
{
    (void)state;
    static spec_t specs[NREC];
    make_specs(specs, NREC);
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    record_builder_set_codec(&b, RECORD_CODEC_ZSTD);
    add_specs(&b, specs, NREC);
    size_t uncompressed = record_builder_size(&b);
    uint8_t *batch = NULL;
    size_t len = 0;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_true(len < uncompressed);
    /* finish() again gives the same bytes. */
    uint8_t *first = malloc(len);
    assert_non_null(first);
    memcpy(first, batch, len);
    size_t len2 = 0;
    assert_int_equal(record_builder_finish(&b, &batch, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(batch, first, len);
    free(first);

    /* reset() keeps the codec. */
    record_builder_reset(&b);
    add_specs(&b, specs, 10);
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    record_batch_header_t h;
    assert_int_equal(record_batch_parse(batch, len, true, &h), 0);
    assert_int_equal(h.attributes & RECORD_ATTR_CODEC_MASK, RECORD_CODEC_ZSTD);
    assert_int_equal(h.producer_id, -1);

    /* Incompressible records go out uncompressed, never above max_bytes. */
    record_builder_reset(&b);
    uint8_t noise[4000];
    fill_random(noise, sizeof(noise));
    for (int i = 0; i < 3; i++)
        assert_int_equal(record_builder_add(&b, i, NULL, 0, noise + i * 1000, 1000, NULL, 0), 0);
    uncompressed = record_builder_size(&b);
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_int_equal(len, uncompressed);
    assert_int_equal(record_batch_parse(batch, len, true, &h), 0);
    assert_int_equal(h.attributes & RECORD_ATTR_CODEC_MASK, RECORD_CODEC_NONE);
    record_iter_t it;
    assert_int_equal(record_iter_init(&it, batch, len, true), 0);

    /* A codec out of range fails finish() and leaves the builder usable. */
    record_builder_set_codec(&b, (record_codec_t)6);
    assert_int_equal(record_builder_finish(&b, &batch, &len), CORE_EINVAL);
    record_builder_set_codec(&b, RECORD_CODEC_NONE);
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_int_equal(len, uncompressed);
    record_builder_fini(&b);
}

/* max_bytes caps the uncompressed size during add(), with a codec too. */
static void test_builder_cap_is_uncompressed(void **state)
{
    (void)state;
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 2000);
    record_builder_set_codec(&b, RECORD_CODEC_GZIP);
    char value[100];
    memset(value, 'a', sizeof(value));
    int added = 0;
    while (record_builder_add(&b, added, NULL, 0, value, sizeof(value), NULL, 0) == 0)
        added++;
    assert_true(record_builder_size(&b) <= 2000);
    assert_true(added < 20);
    uint8_t *batch = NULL;
    size_t len = 0;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_true(len < 200);
    core_buf_t out;
    buf_init(&out);
    assert_int_equal(record_batch_decompress(batch, len, 2000, &out), 0);
    assert_int_equal(out.len, record_builder_size(&b));
    core_buf_fini(&out);
    record_builder_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_empty_and_tiny),
        cmocka_unit_test(test_roundtrip_random_1mib),
        cmocka_unit_test(test_roundtrip_repetitive_1mib),
        cmocka_unit_test(test_decompress_caps),
        cmocka_unit_test(test_compress_respects_out_cap),
        cmocka_unit_test(test_garbage_is_corrupt),
        cmocka_unit_test(test_truncated_is_corrupt),
        cmocka_unit_test(test_trailing_bytes_are_corrupt),
        cmocka_unit_test(test_concatenated_streams),
        cmocka_unit_test(test_known_bytes_from_other_tools),
        cmocka_unit_test(test_xerial_snappy),
        cmocka_unit_test(test_batch_with_each_codec),
        cmocka_unit_test(test_batch_decompress_errors),
        cmocka_unit_test(test_batch_decompress_alloc_failures),
        cmocka_unit_test(test_builder_finish_alloc_failures),
        cmocka_unit_test(test_builder_codec_lifecycle),
        cmocka_unit_test(test_builder_cap_is_uncompressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * tests/fuzz/record_codec.c - libFuzzer target for the record codecs and
 * record_batch_decompress(), with cap and round-trip oracles.
 *
 * Input layout: byte 0 picks the codec (value % 5: none, gzip, snappy, lz4,
 * zstd); the rest is the payload. For each input:
 *   1. decompress the payload with a 1 MiB cap; when that succeeds, the
 *      same call with a 1 KiB cap must fail with CORE_ETOOBIG exactly when
 *      the output passed 1 KiB, and otherwise yield the same bytes; small
 *      outputs are re-compressed and must decompress to themselves;
 *   2. feed the payload to record_batch_decompress() as a batch, as is;
 *   3. when the payload holds a header, patch it into a well-formed batch
 *      header for the chosen codec with a correct CRC, so the fuzzer reaches
 *      the codec through record_batch_decompress(), and iterate the result.
 * Any broken oracle calls abort(), which is what the fuzzer reports.
 *
 * Invariants: every buffer is finalised before returning (LeakSanitizer).
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "record/record.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BIG_CAP       ((size_t)1 << 20)
#define SMALL_CAP     ((size_t)1024)
#define ROUNDTRIP_MAX ((size_t)64 << 10)

static void check_codec(record_codec_t codec, const uint8_t *p, size_t n)
{
    core_buf_t big, small, packed, again;
    core_buf_init(&big, CORE_MEM_TEST, SIZE_MAX);
    core_buf_init(&small, CORE_MEM_TEST, SIZE_MAX);
    core_buf_init(&packed, CORE_MEM_TEST, SIZE_MAX);
    core_buf_init(&again, CORE_MEM_TEST, SIZE_MAX);
    int rc = record_codec_decompress(codec, p, n, BIG_CAP, &big);
    if (rc < 0 && big.len != 0)
        abort(); /* a failed call must leave out->len unchanged */
    if (rc == 0) {
        if (big.len > BIG_CAP)
            abort();
        int rc_small = record_codec_decompress(codec, p, n, SMALL_CAP, &small);
        if (big.len > SMALL_CAP ? rc_small != CORE_ETOOBIG : rc_small != 0)
            abort();
        if (rc_small == 0 &&
            (small.len != big.len || (big.len && memcmp(small.data, big.data, big.len) != 0)))
            abort();
        if (big.len <= ROUNDTRIP_MAX) {
            if (record_codec_compress(codec, big.data, big.len, &packed) < 0 ||
                record_codec_decompress(codec, packed.data, packed.len, big.len, &again) < 0 ||
                again.len != big.len || (big.len && memcmp(again.data, big.data, big.len) != 0))
                abort();
        }
    }
    core_buf_fini(&big);
    core_buf_fini(&small);
    core_buf_fini(&packed);
    core_buf_fini(&again);
}

/* Decompresses a batch and, on success, walks every record of the result. */
static void check_batch(const uint8_t *p, size_t n)
{
    core_buf_t out;
    core_buf_init(&out, CORE_MEM_TEST, SIZE_MAX);
    if (record_batch_decompress(p, n, BIG_CAP, &out) == 0) {
        if (out.len > RECORD_BATCH_HEADER_SIZE + BIG_CAP)
            abort();
        record_iter_t it;
        record_t r;
        /* The result must be a CRC-valid, uncompressed batch. */
        if (record_iter_init(&it, out.data, out.len, true) < 0)
            abort();
        while (record_iter_next(&it, &r) == 1)
            ;
    } else if (out.len != 0) {
        abort();
    }
    core_buf_fini(&out);
}

/* Turns a copy of the payload into a batch header for `codec` with a good
 * CRC, so the codec sees the bytes after offset 61. */
static void check_patched_batch(record_codec_t codec, const uint8_t *p, size_t n)
{
    if (n < RECORD_BATCH_HEADER_SIZE || n > (size_t)INT32_MAX)
        return;
    uint8_t *b = malloc(n);
    if (!b)
        return;
    memcpy(b, p, n);
    core_store_be32(b + RECORD_OFF_LENGTH, (uint32_t)(n - RECORD_BATCH_LOG_OVERHEAD));
    b[RECORD_OFF_MAGIC] = RECORD_MAGIC_V2;
    uint16_t attrs = core_load_be16(b + RECORD_OFF_ATTRIBUTES);
    attrs = (uint16_t)((attrs & ~RECORD_ATTR_CODEC_MASK) | (uint16_t)codec);
    core_store_be16(b + RECORD_OFF_ATTRIBUTES, attrs);
    /* Keep the count and last delta non-negative so the header parses. */
    b[RECORD_OFF_LAST_OFFSET_DELTA] &= 0x7f;
    b[RECORD_OFF_RECORDS_COUNT] &= 0x7f;
    core_store_be32(b + RECORD_OFF_CRC,
                    core_crc32c(0, b + RECORD_OFF_ATTRIBUTES, n - RECORD_OFF_ATTRIBUTES));
    check_batch(b, n);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    record_codec_t codec = (record_codec_t)(data[0] % 5);
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    check_codec(codec, p, n);
    check_batch(p, n);
    check_patched_batch(codec, p, n);
    return 0;
}

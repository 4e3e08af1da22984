/*
 * Unit tests for src/lake/encode.c: bit widths; the RLE/bit-packed hybrid
 * against bytes computed by hand (including the format specification's own
 * example), and round trips of random values through a decoder written
 * here from the grammar; the string dictionary (first-seen indices, its
 * PLAIN bytes, the byte cap, growth, reset).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "lake/lake_int.h"

static void expect_rle(const void *vals, size_t es, size_t n, unsigned width, const uint8_t *want,
                       size_t wn)
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 20);
    assert_int_equal(lake_rle_encode(&b, vals, es, n, width), 0);
    if (wn == 0) {
        assert_int_equal(b.len, 0);
        core_buf_fini(&b);
        return;
    }
    if (b.len != wn || memcmp(b.data, want, wn) != 0) {
        for (size_t i = 0; i < b.len; i++)
            print_message("%02x ", b.data[i]);
        print_message("\n");
    }
    assert_int_equal(b.len, wn);
    assert_memory_equal(b.data, want, wn);
    core_buf_fini(&b);
}

static void test_bit_width(void **state)
{
    (void)state;
    assert_int_equal(lake_bit_width(0), 0);
    assert_int_equal(lake_bit_width(1), 1);
    assert_int_equal(lake_bit_width(2), 2);
    assert_int_equal(lake_bit_width(3), 2);
    assert_int_equal(lake_bit_width(4), 3);
    assert_int_equal(lake_bit_width(255), 8);
    assert_int_equal(lake_bit_width(256), 9);
    assert_int_equal(lake_bit_width(UINT32_MAX), 32);
}

static void test_spec_example(void **state)
{
    (void)state;
    /* Encodings.md: 0..7 at bit width 3 pack to 10001000 11000110 11111010;
     * one group of 8, so the header is varint(1 << 1 | 1). */
    static const uint32_t v[] = {0, 1, 2, 3, 4, 5, 6, 7};
    static const uint8_t want[] = {0x03, 0x88, 0xc6, 0xfa};
    expect_rle(v, 4, 8, 3, want, sizeof want);
    static const uint8_t v8[] = {0, 1, 2, 3, 4, 5, 6, 7};
    expect_rle(v8, 1, 8, 3, want, sizeof want);
}

static void test_rle_runs(void **state)
{
    (void)state;
    /* 10 ones at width 1: header varint(10 << 1) = 14, value in 1 byte. */
    uint8_t ones[10];
    memset(ones, 1, sizeof ones);
    static const uint8_t w1[] = {0x14, 0x01};
    expect_rle(ones, 1, 10, 1, w1, sizeof w1);

    /* Exactly 8 equal values are a run: header 10. Width 9 takes 2 bytes. */
    uint32_t v300[8];
    for (int i = 0; i < 8; i++)
        v300[i] = 300;
    static const uint8_t w9[] = {0x10, 0x2c, 0x01};
    expect_rle(v300, 4, 8, 9, w9, sizeof w9);

    /* Width 17 takes 3 bytes, width 32 four. */
    uint32_t big[9];
    for (int i = 0; i < 9; i++)
        big[i] = 0x1abcd;
    static const uint8_t w17[] = {0x12, 0xcd, 0xab, 0x01};
    expect_rle(big, 4, 9, 17, w17, sizeof w17);
    for (int i = 0; i < 9; i++)
        big[i] = 0xdeadbeef;
    static const uint8_t w32[] = {0x12, 0xef, 0xbe, 0xad, 0xde};
    expect_rle(big, 4, 9, 32, w32, sizeof w32);

    /* 1000 zeros: the header 2000 is a 2-byte varint d0 0f. */
    static uint8_t zeros[1000];
    static const uint8_t wz[] = {0xd0, 0x0f, 0x00};
    expect_rle(zeros, 1, 1000, 1, wz, sizeof wz);
}

static void test_mixed_runs(void **state)
{
    (void)state;
    /* A group of 8 mixed levels (LSB first: 1,0,1,1,0,0,1,0 = 0x4d), then
     * 20 ones (RLE 28 01), then 0,1,1 padded into one group (0x06). */
    uint8_t v[31] = {1, 0, 1, 1, 0, 0, 1, 0};
    for (int i = 8; i < 28; i++)
        v[i] = 1;
    v[28] = 0;
    v[29] = 1;
    v[30] = 1;
    static const uint8_t want[] = {0x03, 0x4d, 0x28, 0x01, 0x03, 0x06};
    expect_rle(v, 1, 31, 1, want, sizeof want);

    /* 16 alternating values: one bit-packed run of 2 groups. */
    uint8_t alt[16];
    for (int i = 0; i < 16; i++)
        alt[i] = (uint8_t)(i & 1);
    static const uint8_t walt[] = {0x05, 0xaa, 0xaa};
    expect_rle(alt, 1, 16, 1, walt, sizeof walt);

    /* 7 equal values are too few for a run: they are bit-packed, padded. */
    uint8_t seven[7] = {1, 1, 1, 1, 1, 1, 1};
    static const uint8_t wseven[] = {0x03, 0x7f};
    expect_rle(seven, 1, 7, 1, wseven, sizeof wseven);

    /* A run starting inside a group stays packed up to the group's end;
     * the rest of the run becomes an RLE run if 8 or more remain. Width 2:
     * 2,1 then fourteen 3s: the group 2,1,3,3,3,3,3,3 packs to f6 ff, then
     * eight 3s are a run (10 03). */
    uint32_t mid[16] = {2, 1};
    for (int i = 2; i < 16; i++)
        mid[i] = 3;
    static const uint8_t wmid[] = {0x03, 0xf6, 0xff, 0x10, 0x03};
    expect_rle(mid, 4, 16, 2, wmid, sizeof wmid);
    /* With only four 3s left over, they join the packed run: a second
     * group 3,3,3,3 and four zeros of padding (ff 00). */
    static const uint8_t wshort[] = {0x05, 0xf6, 0xff, 0xff, 0x00};
    expect_rle(mid, 4, 12, 2, wshort, sizeof wshort);

    /* Nothing to encode: nothing written. */
    expect_rle(mid, 4, 0, 2, NULL, 0);
}

/* A decoder written from the grammar, for round trips. Returns values
 * decoded, or -1 on malformed input. */
static long rle_decode(const uint8_t *p, size_t len, unsigned width, uint32_t *out, size_t n)
{
    size_t pos = 0, got = 0;
    while (got < n) {
        uint64_t h;
        int used = core_uvarint_get(p + pos, len - pos, &h);
        if (used <= 0)
            return -1;
        pos += (size_t)used;
        if (h & 1) {
            size_t count = (size_t)(h >> 1) * 8;
            if ((h >> 1) * width > len - pos)
                return -1;
            for (size_t i = 0; i < count; i++) {
                uint32_t v = 0;
                for (unsigned b = 0; b < width; b++) {
                    size_t bit = i * width + b;
                    v |= (uint32_t)((p[pos + bit / 8] >> (bit % 8)) & 1) << b;
                }
                if (got < n)
                    out[got++] = v;
            }
            pos += (size_t)(h >> 1) * width;
        } else {
            unsigned nb = (width + 7) / 8;
            if (nb > len - pos)
                return -1;
            uint32_t v = 0;
            for (unsigned b = 0; b < nb; b++)
                v |= (uint32_t)p[pos + b] << (8 * b);
            pos += nb;
            for (uint64_t i = 0; i < (h >> 1) && got < n; i++)
                out[got++] = v;
        }
    }
    return pos == len ? (long)got : -1;
}

static void test_round_trips(void **state)
{
    (void)state;
    enum { N = 3000 };
    static uint32_t vals[N], back[N];
    uint64_t seed = 42;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 20);
    for (unsigned width = 1; width <= 32; width++) {
        for (int trial = 0; trial < 20; trial++) {
            size_t n = (size_t)(seed % N) + 1;
            uint32_t mask = width == 32 ? UINT32_MAX : (1u << width) - 1;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                /* long runs sometimes, random values otherwise */
                vals[i] = (seed >> 60) < 6 && i > 0 ? vals[i - 1] : (uint32_t)(seed >> 20) & mask;
            }
            core_buf_reset(&b);
            assert_int_equal(lake_rle_encode(&b, vals, 4, n, width), 0);
            assert_int_equal(rle_decode(b.data, b.len, width, back, n), (long)n);
            assert_memory_equal(vals, back, n * sizeof vals[0]);
        }
    }
    core_buf_fini(&b);
}

static void test_rle_errors(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 4);
    uint8_t v[64];
    for (int i = 0; i < 64; i++)
        v[i] = (uint8_t)(i % 3);
    assert_int_equal(lake_rle_encode(&b, v, 1, 64, 0), CORE_EINVAL);
    assert_int_equal(lake_rle_encode(&b, v, 1, 64, 33), CORE_EINVAL);
    assert_int_equal(lake_rle_encode(&b, v, 2, 64, 2), CORE_EINVAL);
    assert_int_equal(core_buf_append(&b, "x", 1), 0);
    assert_int_equal(lake_rle_encode(&b, v, 1, 64, 2), CORE_ETOOBIG);
    assert_int_equal(b.len, 1); /* restored */
    core_buf_fini(&b);
}

static void test_dict_basics(void **state)
{
    (void)state;
    lake_dict_t d;
    lake_dict_init(&d, 1 << 20);
    uint32_t idx;
    bool added;
    assert_int_equal(lake_dict_put(&d, "a", 1, &idx, &added), 0);
    assert_int_equal(idx, 0);
    assert_true(added);
    assert_int_equal(lake_dict_put(&d, "bc", 2, &idx, &added), 0);
    assert_int_equal(idx, 1);
    assert_true(added);
    assert_int_equal(lake_dict_put(&d, "a", 1, &idx, &added), 0);
    assert_int_equal(idx, 0);
    assert_false(added);
    assert_int_equal(lake_dict_put(&d, "", 0, &idx, &added), 0);
    assert_int_equal(idx, 2);
    assert_int_equal(lake_dict_put(&d, "", 0, &idx, &added), 0);
    assert_int_equal(idx, 2);
    assert_false(added);
    /* "a" is not a prefix match of "ab" */
    assert_int_equal(lake_dict_put(&d, "ab", 2, &idx, &added), 0);
    assert_int_equal(idx, 3);
    assert_int_equal(d.count, 4);
    static const uint8_t plain[] = {1, 0, 0, 0, 'a', 2, 0, 0, 0,   'b', 'c',
                                    0, 0, 0, 0, 2,   0, 0, 0, 'a', 'b'};
    assert_int_equal(d.plain.len, sizeof plain);
    assert_memory_equal(d.plain.data, plain, sizeof plain);
    lake_dict_reset(&d);
    assert_int_equal(d.count, 0);
    assert_int_equal(d.plain.len, 0);
    assert_int_equal(lake_dict_put(&d, "bc", 2, &idx, &added), 0);
    assert_int_equal(idx, 0);
    assert_true(added);
    lake_dict_fini(&d);
}

static void test_dict_cap(void **state)
{
    (void)state;
    lake_dict_t d;
    lake_dict_init(&d, 12);
    uint32_t idx;
    bool added;
    assert_int_equal(lake_dict_put(&d, "a", 1, &idx, &added), 0);  /* 5 bytes */
    assert_int_equal(lake_dict_put(&d, "bc", 2, &idx, &added), 0); /* 11 */
    assert_int_equal(lake_dict_put(&d, "d", 1, &idx, &added), LAKE_DICT_FULL);
    assert_int_equal(d.count, 2);
    assert_int_equal(d.plain.len, 11);
    /* Values already in still resolve when the dictionary is full. */
    assert_int_equal(lake_dict_put(&d, "bc", 2, &idx, &added), 0);
    assert_int_equal(idx, 1);
    /* A value larger than the whole cap. */
    char big[64];
    memset(big, 'x', sizeof big);
    assert_int_equal(lake_dict_put(&d, big, sizeof big, &idx, &added), LAKE_DICT_FULL);
    lake_dict_fini(&d);
}

static void test_dict_growth(void **state)
{
    (void)state;
    lake_dict_t d;
    lake_dict_init(&d, 1 << 20);
    char key[32];
    uint32_t idx;
    bool added;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5000; i++) {
            int n = snprintf(key, sizeof key, "key-%d", i);
            assert_int_equal(lake_dict_put(&d, key, (size_t)n, &idx, &added), 0);
            assert_int_equal(idx, (uint32_t)i);
            assert_int_equal(added, round == 0);
        }
    }
    assert_int_equal(d.count, 5000);
    assert_true(d.nslots >= 10000);
    lake_dict_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bit_width),   cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_rle_runs),    cmocka_unit_test(test_mixed_runs),
        cmocka_unit_test(test_round_trips), cmocka_unit_test(test_rle_errors),
        cmocka_unit_test(test_dict_basics), cmocka_unit_test(test_dict_cap),
        cmocka_unit_test(test_dict_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

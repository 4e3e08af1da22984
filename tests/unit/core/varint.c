/*
 * Unit tests for varints: known encodings, round trips at the edges of each
 * type, the 127/128 boundaries, truncated and overlong input, and the 32-bit
 * getters' range checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

/* Decodes from an exactly-sized heap copy so ASan catches any overread. */
static int uget_exact(const uint8_t *p, size_t len, uint64_t *v)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, p, len);
    int rc = core_uvarint_get(copy, len, v);
    free(copy);
    return rc;
}

static void test_known_encodings(void **state)
{
    (void)state;
    uint8_t b[CORE_VARINT_MAX];
    assert_int_equal(core_uvarint_put(b, 0), 1);
    assert_int_equal(b[0], 0x00);
    assert_int_equal(core_uvarint_put(b, 127), 1);
    assert_int_equal(b[0], 0x7f);
    assert_int_equal(core_uvarint_put(b, 128), 2);
    assert_int_equal(b[0], 0x80);
    assert_int_equal(b[1], 0x01);
    assert_int_equal(core_uvarint_put(b, 300), 2);
    assert_int_equal(b[0], 0xac);
    assert_int_equal(b[1], 0x02);
    assert_int_equal(core_uvarint_put(b, UINT64_MAX), 10);
    for (int i = 0; i < 9; i++)
        assert_int_equal(b[i], 0xff);
    assert_int_equal(b[9], 0x01);
    /* zigzag: -1 -> 1, 1 -> 2, -64 -> 127 (1 byte), 64 -> 128 (2 bytes) */
    assert_int_equal(core_varint_put(b, -1), 1);
    assert_int_equal(b[0], 0x01);
    assert_int_equal(core_varint_put(b, 1), 1);
    assert_int_equal(b[0], 0x02);
    assert_int_equal(core_varint_size(-64), 1);
    assert_int_equal(core_varint_size(64), 2);
    assert_int_equal(core_varint_size(INT64_MIN), 10);
    assert_int_equal(core_varint_size(INT64_MAX), 10);
}

static void test_zigzag(void **state)
{
    (void)state;
    assert_int_equal(core_zigzag_encode(0), 0);
    assert_int_equal(core_zigzag_encode(-1), 1);
    assert_int_equal(core_zigzag_encode(1), 2);
    assert_int_equal(core_zigzag_encode(-2), 3);
    assert_true(core_zigzag_encode(INT64_MAX) == UINT64_MAX - 1);
    assert_true(core_zigzag_encode(INT64_MIN) == UINT64_MAX);
    assert_true(core_zigzag_decode(UINT64_MAX) == INT64_MIN);
    assert_true(core_zigzag_decode(UINT64_MAX - 1) == INT64_MAX);
}

static void test_unsigned_round_trip(void **state)
{
    (void)state;
    const uint64_t vals[] = {0,
                             1,
                             126,
                             127,
                             128,
                             129,
                             16383,
                             16384,
                             2097151,
                             2097152,
                             UINT32_MAX,
                             (uint64_t)UINT32_MAX + 1,
                             INT64_MAX,
                             (uint64_t)INT64_MAX + 1,
                             UINT64_MAX - 1,
                             UINT64_MAX};
    for (size_t i = 0; i < CORE_ARRAY_LEN(vals); i++) {
        uint8_t b[CORE_VARINT_MAX];
        size_t n = core_uvarint_put(b, vals[i]);
        assert_int_equal(n, core_uvarint_size(vals[i]));
        uint64_t out = 0;
        assert_int_equal(uget_exact(b, n, &out), (int)n);
        assert_true(out == vals[i]);
        if (vals[i] <= UINT32_MAX) {
            uint32_t o32 = 0;
            assert_int_equal(core_uvarint_get32(b, n, &o32), (int)n);
            assert_true(o32 == vals[i]);
        } else {
            uint32_t o32 = 7;
            assert_int_equal(core_uvarint_get32(b, n, &o32), CORE_ERANGE);
            assert_int_equal(o32, 7);
        }
    }
}

static void test_signed_round_trip(void **state)
{
    (void)state;
    const int64_t vals[] = {0,
                            1,
                            -1,
                            63,
                            -64,
                            64,
                            -65,
                            127,
                            128,
                            -128,
                            INT32_MAX,
                            INT32_MIN,
                            (int64_t)INT32_MAX + 1,
                            (int64_t)INT32_MIN - 1,
                            INT64_MAX,
                            INT64_MIN,
                            INT64_MAX - 1,
                            INT64_MIN + 1};
    for (size_t i = 0; i < CORE_ARRAY_LEN(vals); i++) {
        uint8_t b[CORE_VARINT_MAX + 4];
        memset(b, 0xAA, sizeof(b)); /* trailing junk must not be read */
        size_t n = core_varint_put(b, vals[i]);
        assert_int_equal(n, core_varint_size(vals[i]));
        int64_t out = 0;
        assert_int_equal(core_varint_get(b, sizeof(b), &out), (int)n);
        assert_true(out == vals[i]);
        int32_t o32 = 99;
        int rc = core_varint_get32(b, n, &o32);
        if (vals[i] >= INT32_MIN && vals[i] <= INT32_MAX) {
            assert_int_equal(rc, (int)n);
            assert_int_equal(o32, vals[i]);
        } else {
            assert_int_equal(rc, CORE_ERANGE);
            assert_int_equal(o32, 99);
        }
    }
}

static void test_truncated(void **state)
{
    (void)state;
    uint8_t b[CORE_VARINT_MAX] = {0};
    uint64_t v;
    int64_t s;
    uint32_t u32;
    int32_t s32;
    assert_int_equal(uget_exact(b, 0, &v), CORE_ETRUNC);
    size_t n = core_uvarint_put(b, UINT64_MAX);
    for (size_t len = 0; len < n; len++) {
        assert_int_equal(uget_exact(b, len, &v), CORE_ETRUNC);
        assert_int_equal(core_varint_get(b, len, &s), CORE_ETRUNC);
    }
    n = core_uvarint_put(b, 128);
    assert_int_equal(uget_exact(b, 1, &v), CORE_ETRUNC);
    n = core_uvarint_put(b, UINT32_MAX);
    for (size_t len = 0; len < n; len++) {
        assert_int_equal(core_uvarint_get32(b, len, &u32), CORE_ETRUNC);
        assert_int_equal(core_varint_get32(b, len, &s32), CORE_ETRUNC);
    }
}

static void test_overlong(void **state)
{
    (void)state;
    uint64_t v;
    uint32_t u32;
    int32_t s32;
    /* 11 bytes: continuation on the 10th byte */
    uint8_t b11[11];
    memset(b11, 0x80, sizeof(b11));
    b11[10] = 0x00;
    assert_int_equal(uget_exact(b11, sizeof(b11), &v), CORE_ERANGE);
    /* 10th byte carrying more than one bit overflows 64 bits */
    uint8_t b10[10];
    memset(b10, 0xff, sizeof(b10));
    b10[9] = 0x02;
    assert_int_equal(uget_exact(b10, sizeof(b10), &v), CORE_ERANGE);
    b10[9] = 0x01;
    assert_int_equal(uget_exact(b10, sizeof(b10), &v), 10);
    assert_true(v == UINT64_MAX);
    /* 32-bit: a 6th byte, or a 5th byte above 0x0f, is out of range */
    uint8_t b6[6] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(core_uvarint_get32(b6, sizeof(b6), &u32), CORE_ERANGE);
    assert_int_equal(core_varint_get32(b6, sizeof(b6), &s32), CORE_ERANGE);
    uint8_t b5[5] = {0xff, 0xff, 0xff, 0xff, 0x10};
    assert_int_equal(core_uvarint_get32(b5, sizeof(b5), &u32), CORE_ERANGE);
    b5[4] = 0x0f;
    assert_int_equal(core_uvarint_get32(b5, sizeof(b5), &u32), 5);
    assert_true(u32 == UINT32_MAX);
    assert_int_equal(core_varint_get32(b5, sizeof(b5), &s32), 5);
    assert_int_equal(s32, INT32_MIN);
    /* non-minimal but in-range encodings are accepted */
    uint8_t nm[2] = {0x80, 0x00};
    assert_int_equal(uget_exact(nm, 2, &v), 2);
    assert_true(v == 0);
}

static void test_stream_of_varints(void **state)
{
    (void)state;
    uint8_t b[CORE_VARINT_MAX * 200];
    size_t off = 0;
    for (int64_t i = -100; i < 100; i++)
        off += core_varint_put(b + off, i * 1000003);
    size_t pos = 0;
    for (int64_t i = -100; i < 100; i++) {
        int64_t v;
        int n = core_varint_get(b + pos, off - pos, &v);
        assert_true(n > 0);
        assert_true(v == i * 1000003);
        pos += (size_t)n;
    }
    assert_int_equal(pos, off);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_encodings),     cmocka_unit_test(test_zigzag),
        cmocka_unit_test(test_unsigned_round_trip), cmocka_unit_test(test_signed_round_trip),
        cmocka_unit_test(test_truncated),           cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_stream_of_varints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for CRC32C: known vectors through the table and the SSE4.2
 * implementations and the dispatcher, incremental use, and agreement of the
 * two implementations on random lengths and alignments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
    uint8_t b[32];
    assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
    memset(b, 0, sizeof(b));
    assert_int_equal(f(0, b, 32), 0x8A9136AAu);
    memset(b, 0xFF, sizeof(b));
    assert_int_equal(f(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    assert_int_equal(f(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    assert_int_equal(f(0, b, 32), 0x113FDB5Cu);
    assert_int_equal(f(0, "", 0), 0u);
    assert_int_equal(f(0x12345678u, "", 0), 0x12345678u);
    assert_int_equal(f(0, "a", 1), 0xC1D04330u);
}

static void check_incremental(crc_fn f)
{
    uint8_t data[1000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 131 + 7);
    uint32_t whole = f(0, data, sizeof(data));
    for (size_t cut = 0; cut <= sizeof(data); cut += 37) {
        uint32_t c = f(0, data, cut);
        c = f(c, data + cut, sizeof(data) - cut);
        assert_int_equal(c, whole);
    }
    /* byte at a time */
    uint32_t c = 0;
    for (size_t i = 0; i < sizeof(data); i++)
        c = f(c, data + i, 1);
    assert_int_equal(c, whole);
}

static void test_sw_vectors(void **state)
{
    (void)state;
    check_vectors(core_crc32c_sw);
    check_incremental(core_crc32c_sw);
}

static void test_hw_vectors(void **state)
{
    (void)state;
    if (!core_crc32c_hw_available())
        skip();
    check_vectors(core_crc32c_hw);
    check_incremental(core_crc32c_hw);
}

static void test_dispatch_vectors(void **state)
{
    (void)state;
    check_vectors(core_crc32c);
    check_incremental(core_crc32c);
}

static void test_sw_equals_hw_random(void **state)
{
    (void)state;
    if (!core_crc32c_hw_available())
        skip();
    enum { MAXLEN = 4096 };
    uint8_t *buf = malloc(MAXLEN + 16);
    assert_non_null(buf);
    srand(12345);
    for (size_t i = 0; i < MAXLEN + 16; i++)
        buf[i] = (uint8_t)rand();
    for (int iter = 0; iter < 2000; iter++) {
        size_t off = (size_t)rand() % 16;
        size_t len = (size_t)rand() % (iter < 200 ? 40 : MAXLEN);
        uint32_t seed = iter % 3 == 0 ? 0 : (uint32_t)rand();
        uint32_t sw = core_crc32c_sw(seed, buf + off, len);
        uint32_t hw = core_crc32c_hw(seed, buf + off, len);
        assert_int_equal(sw, hw);
        assert_int_equal(core_crc32c(seed, buf + off, len), sw);
    }
    free(buf);
}

static void test_detects_single_bit_flip(void **state)
{
    (void)state;
    uint8_t b[64];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)i;
    uint32_t base = core_crc32c(0, b, sizeof(b));
    for (size_t bit = 0; bit < sizeof(b) * 8; bit++) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(core_crc32c(0, b, sizeof(b)), base);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sw_vectors),
        cmocka_unit_test(test_hw_vectors),
        cmocka_unit_test(test_dispatch_vectors),
        cmocka_unit_test(test_sw_equals_hw_random),
        cmocka_unit_test(test_detects_single_bit_flip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

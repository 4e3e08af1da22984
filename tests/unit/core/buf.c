/*
 * Unit tests for capped buffers: appends and big-endian stores, the cap
 * (an append past max fails with CORE_ETOOBIG and changes nothing), printf
 * growth and its cap, take, reset, and allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static int64_t test_bytes(void)
{
    core_mem_stats_t s;
    core_mem_stats(CORE_MEM_TEST, &s);
    return s.bytes;
}

static void test_append_and_be(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1024);
    assert_null(b.data);
    assert_int_equal(core_buf_append(&b, "ab", 2), CORE_OK);
    assert_int_equal(core_buf_append_u8(&b, 0x7f), CORE_OK);
    assert_int_equal(core_buf_append_be16(&b, 0x0102), CORE_OK);
    assert_int_equal(core_buf_append_be32(&b, 0x03040506), CORE_OK);
    assert_int_equal(core_buf_append_be64(&b, 0x0708090a0b0c0d0eull), CORE_OK);
    assert_int_equal(core_buf_append_str(&b, "xyz"), CORE_OK);
    assert_int_equal(core_buf_append(&b, NULL, 0), CORE_OK);
    const uint8_t want[] = {'a', 'b', 0x7f, 1,  2,  3,  4,  5,   6,   7,
                            8,   9,   10,   11, 12, 13, 14, 'x', 'y', 'z'};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    assert_int_equal(core_load_be16(b.data + 3), 0x0102);
    assert_int_equal(core_load_be32(b.data + 5), 0x03040506);
    assert_true(core_load_be64(b.data + 9) == 0x0708090a0b0c0d0eull);
    core_buf_fini(&b);
}

static void test_cap_is_enforced(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 100);
    uint8_t chunk[30];
    memset(chunk, 'q', sizeof(chunk));
    for (int i = 0; i < 3; i++)
        assert_int_equal(core_buf_append(&b, chunk, sizeof(chunk)), CORE_OK);
    assert_int_equal(b.len, 90);
    uint8_t before[90];
    memcpy(before, b.data, 90);
    assert_int_equal(core_buf_append(&b, chunk, 11), CORE_ETOOBIG);
    assert_int_equal(b.len, 90);
    assert_memory_equal(b.data, before, 90);
    assert_int_equal(core_buf_append_be64(&b, 1), CORE_OK); /* 98 */
    assert_int_equal(core_buf_append_be32(&b, 1), CORE_ETOOBIG);
    assert_int_equal(core_buf_append_be16(&b, 1), CORE_OK); /* exactly 100 */
    assert_int_equal(core_buf_append_u8(&b, 1), CORE_ETOOBIG);
    assert_int_equal(core_buf_append(&b, chunk, SIZE_MAX), CORE_ETOOBIG);
    assert_int_equal(b.len, 100);
    assert_true(b.cap <= b.max);
    assert_int_equal(core_buf_reserve(&b, 1), CORE_ETOOBIG);
    core_buf_fini(&b);
}

static void test_growth_never_passes_max(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1000);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(core_buf_append_u8(&b, (uint8_t)i), CORE_OK);
        assert_true(b.cap <= 1000);
        assert_true(b.len <= b.cap);
    }
    for (int i = 0; i < 1000; i++)
        assert_int_equal(b.data[i], (uint8_t)i);
    core_buf_fini(&b);
}

static void test_reserve_and_reset(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 4096);
    assert_int_equal(core_buf_reserve(&b, 500), CORE_OK);
    assert_int_equal(b.len, 0);
    assert_true(b.cap >= 500);
    size_t cap = b.cap;
    uint8_t *data = b.data;
    assert_int_equal(core_buf_append_str(&b, "hello"), CORE_OK);
    assert_ptr_equal(b.data, data); /* no reallocation within reserved room */
    core_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, cap);
    assert_ptr_equal(b.data, data);
    assert_int_equal(core_buf_reserve(&b, 4097), CORE_ETOOBIG);
    core_buf_fini(&b);
    assert_null(b.data);
}

static void test_printf(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 4096);
    assert_int_equal(core_buf_printf(&b, "%s-%d", "part", 7), CORE_OK);
    assert_int_equal(core_buf_printf(&b, "/%05u", 42u), CORE_OK);
    assert_int_equal(b.len, strlen("part-7/00042"));
    assert_memory_equal(b.data, "part-7/00042", b.len);
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(core_buf_printf(&b, "[%s]", big), CORE_OK); /* forces growth */
    assert_int_equal(b.len, 12 + 1001);
    assert_int_equal(b.data[12], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    core_buf_fini(&b);
}

static void test_printf_cap(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 10);
    assert_int_equal(core_buf_printf(&b, "%s", "abcd"), CORE_OK);
    assert_int_equal(core_buf_printf(&b, "%s", "1234567"), CORE_ETOOBIG);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "abcd", 4);
    /* exactly reaching max works even though the NUL would not fit */
    assert_int_equal(core_buf_printf(&b, "%d", 123456), CORE_OK);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "abcd123456", 10);
    assert_true(b.cap <= 10);
    assert_int_equal(core_buf_printf(&b, "%s", "x"), CORE_ETOOBIG);
    assert_int_equal(core_buf_printf(&b, "%s", ""), CORE_OK);
    assert_int_equal(b.len, 10);
    core_buf_fini(&b);
}

static void test_take(void **state)
{
    (void)state;
    int64_t before = test_bytes();
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 100);
    assert_int_equal(core_buf_append_str(&b, "owned"), CORE_OK);
    size_t len = 0;
    uint8_t *p = core_buf_take(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 5);
    assert_memory_equal(p, "owned", 5);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* the buffer is reusable after take */
    assert_int_equal(core_buf_append_str(&b, "again"), CORE_OK);
    core_buf_fini(&b);
    assert_true(test_bytes() > before);
    core_free(p);
    assert_int_equal(test_bytes(), before);
}

static void test_alloc_failure_leaves_buffer_unchanged(void **state)
{
    (void)state;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 20);
    assert_int_equal(core_buf_append_str(&b, "keep"), CORE_OK);
    size_t cap = b.cap;
    uint8_t big[4096] = {0};
    core_mem_fail_at(1, false);
    assert_int_equal(core_buf_append(&b, big, sizeof(big)), CORE_ENOMEM);
    assert_int_equal(b.len, 4);
    assert_int_equal(b.cap, cap);
    assert_memory_equal(b.data, "keep", 4);
    core_mem_fail_at(1, false);
    assert_int_equal(core_buf_printf(&b, "%4000s", "x"), CORE_ENOMEM);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.data, "keep", 4);
    assert_int_equal(core_buf_append(&b, big, sizeof(big)), CORE_OK);
    core_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_be),
        cmocka_unit_test(test_cap_is_enforced),
        cmocka_unit_test(test_growth_never_passes_max),
        cmocka_unit_test(test_reserve_and_reset),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_printf_cap),
        cmocka_unit_test(test_take),
        cmocka_unit_test(test_alloc_failure_leaves_buffer_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for the accounted allocator: per-tag byte and block counts
 * rise and fall back exactly, tags are independent, realloc keeps the block's
 * tag, fault injection fails exactly the Nth attempt, and the string copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static core_mem_stats_t stats(core_mem_tag_t tag)
{
    core_mem_stats_t s;
    core_mem_stats(tag, &s);
    return s;
}

static void test_counts_rise_and_fall(void **state)
{
    (void)state;
    core_mem_stats_t before = stats(CORE_MEM_TEST);
    void *a = core_alloc(CORE_MEM_TEST, 100);
    void *b = core_alloc(CORE_MEM_TEST, 28);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 1, 100);
    memset(b, 2, 28);
    core_mem_stats_t mid = stats(CORE_MEM_TEST);
    assert_int_equal(mid.bytes, before.bytes + 128);
    assert_int_equal(mid.allocs, before.allocs + 2);
    assert_int_equal(mid.total_allocs, before.total_allocs + 2);
    core_free(a);
    core_free(b);
    core_free(NULL);
    core_mem_stats_t after = stats(CORE_MEM_TEST);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.allocs, before.allocs);
    assert_int_equal(after.total_allocs, before.total_allocs + 2);
}

static void test_tags_are_independent(void **state)
{
    (void)state;
    core_mem_stats_t t0 = stats(CORE_MEM_TEST), g0 = stats(CORE_MEM_GEN);
    void *g = core_alloc(CORE_MEM_GEN, 4000);
    assert_non_null(g);
    core_mem_stats_t t1 = stats(CORE_MEM_TEST), g1 = stats(CORE_MEM_GEN);
    assert_int_equal(t1.bytes, t0.bytes);
    assert_int_equal(t1.allocs, t0.allocs);
    assert_int_equal(g1.bytes, g0.bytes + 4000);
    assert_int_equal(g1.allocs, g0.allocs + 1);
    core_free(g);
    assert_int_equal(stats(CORE_MEM_GEN).bytes, g0.bytes);
}

static void test_alignment_and_zero_size(void **state)
{
    (void)state;
    for (size_t n = 0; n < 64; n++) {
        void *p = core_alloc(CORE_MEM_TEST, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        core_free(p);
    }
}

static void test_calloc_zeroes_and_checks_overflow(void **state)
{
    (void)state;
    core_mem_stats_t before = stats(CORE_MEM_TEST);
    uint32_t *p = core_calloc(CORE_MEM_TEST, 100, sizeof(uint32_t));
    assert_non_null(p);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    assert_int_equal(stats(CORE_MEM_TEST).bytes, before.bytes + 400);
    core_free(p);
    assert_null(core_calloc(CORE_MEM_TEST, SIZE_MAX / 2, 4)); /* overflow */
    assert_null(core_alloc(CORE_MEM_TEST, SIZE_MAX));
    assert_int_equal(stats(CORE_MEM_TEST).bytes, before.bytes);
    assert_int_equal(stats(CORE_MEM_TEST).allocs, before.allocs);
}

static void test_realloc_keeps_tag_and_contents(void **state)
{
    (void)state;
    core_mem_stats_t t0 = stats(CORE_MEM_TEST), s0 = stats(CORE_MEM_STORE);
    char *p = core_realloc(CORE_MEM_TEST, NULL, 10); /* NULL: allocates with tag */
    assert_non_null(p);
    memcpy(p, "0123456789", 10);
    assert_int_equal(stats(CORE_MEM_TEST).bytes, t0.bytes + 10);
    p = core_realloc(CORE_MEM_STORE, p, 5000); /* keeps its own tag */
    assert_non_null(p);
    assert_memory_equal(p, "0123456789", 10);
    assert_int_equal(stats(CORE_MEM_TEST).bytes, t0.bytes + 5000);
    assert_int_equal(stats(CORE_MEM_STORE).bytes, s0.bytes);
    p = core_realloc(CORE_MEM_TEST, p, 3);
    assert_non_null(p);
    assert_memory_equal(p, "012", 3);
    assert_int_equal(stats(CORE_MEM_TEST).bytes, t0.bytes + 3);
    assert_int_equal(stats(CORE_MEM_TEST).allocs, t0.allocs + 1);
    core_free(p);
    assert_int_equal(stats(CORE_MEM_TEST).bytes, t0.bytes);
}

static void test_fail_at_nth(void **state)
{
    (void)state;
    core_mem_stats_t before = stats(CORE_MEM_TEST);
    core_mem_fail_at(3, false);
    void *a = core_alloc(CORE_MEM_TEST, 8);
    void *b = core_alloc(CORE_MEM_TEST, 8);
    void *c = core_alloc(CORE_MEM_TEST, 8); /* the 3rd fails */
    void *d = core_alloc(CORE_MEM_TEST, 8); /* and only the 3rd */
    assert_non_null(a);
    assert_non_null(b);
    assert_null(c);
    assert_non_null(d);
    core_free(a);
    core_free(b);
    core_free(d);
    assert_int_equal(stats(CORE_MEM_TEST).bytes, before.bytes);
    assert_int_equal(stats(CORE_MEM_TEST).total_allocs, before.total_allocs + 3);
}

static void test_fail_persist_and_off(void **state)
{
    (void)state;
    core_mem_fail_at(2, true);
    void *a = core_alloc(CORE_MEM_TEST, 8);
    assert_non_null(a);
    for (int i = 0; i < 5; i++)
        assert_null(core_alloc(CORE_MEM_TEST, 8));
    assert_null(core_strdup(CORE_MEM_TEST, "x"));
    /* a failed realloc leaves the block valid */
    assert_null(core_realloc(CORE_MEM_TEST, a, 100));
    memset(a, 0, 8);
    core_mem_fail_at(0, false);
    void *b = core_alloc(CORE_MEM_TEST, 8);
    assert_non_null(b);
    core_free(a);
    core_free(b);
    core_mem_fail_at(1, false);
    assert_null(core_calloc(CORE_MEM_TEST, 2, 2));
    b = core_calloc(CORE_MEM_TEST, 2, 2);
    assert_non_null(b);
    core_free(b);
}

static void test_strdup(void **state)
{
    (void)state;
    core_mem_stats_t before = stats(CORE_MEM_TEST);
    char *s = core_strdup(CORE_MEM_TEST, "hello");
    assert_string_equal(s, "hello");
    assert_int_equal(stats(CORE_MEM_TEST).bytes, before.bytes + 6);
    char *t = core_strndup(CORE_MEM_TEST, "hello world", 5);
    assert_string_equal(t, "hello");
    char *u = core_strndup(CORE_MEM_TEST, "hi", 100);
    assert_string_equal(u, "hi");
    char raw[3] = {'a', 'b', 'c'}; /* not NUL-terminated: must stop at n */
    char *v = core_strndup(CORE_MEM_TEST, raw, 3);
    assert_string_equal(v, "abc");
    core_free(s);
    core_free(t);
    core_free(u);
    core_free(v);
    assert_int_equal(stats(CORE_MEM_TEST).bytes, before.bytes);
}

static void test_tag_names(void **state)
{
    (void)state;
    assert_string_equal(core_mem_tag_name(CORE_MEM_SEGLOG), "seglog");
    assert_string_equal(core_mem_tag_name(CORE_MEM_CORE), "core");
    assert_string_equal(core_mem_tag_name(CORE_MEM_TEST), "test");
    assert_string_equal(core_mem_tag_name(CORE_MEM__COUNT), "unknown");
    for (int a = 0; a < CORE_MEM__COUNT; a++) {
        assert_non_null(core_mem_tag_name((core_mem_tag_t)a));
        for (int b = a + 1; b < CORE_MEM__COUNT; b++)
            assert_string_not_equal(core_mem_tag_name((core_mem_tag_t)a),
                                    core_mem_tag_name((core_mem_tag_t)b));
    }
}

/* core_grow: capacity doubles from 16 and covers `need`; a failed grow or
 * an overflowing size leaves the array and its capacity as they were. */
static void test_grow(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    assert_int_equal(core_grow(CORE_MEM_TEST, (void **)&v, &cap, 0, sizeof *v), 0);
    assert_null(v);
    assert_int_equal(core_grow(CORE_MEM_TEST, (void **)&v, &cap, 1, sizeof *v), 0);
    assert_int_equal(cap, 16);
    for (int i = 0; i < 16; i++)
        v[i] = i;
    assert_int_equal(core_grow(CORE_MEM_TEST, (void **)&v, &cap, 100, sizeof *v), 0);
    assert_int_equal(cap, 128);
    assert_int_equal(v[15], 15);
    int *before = v;
    core_mem_fail_at(1, false);
    assert_int_equal(core_grow(CORE_MEM_TEST, (void **)&v, &cap, 129, sizeof *v), CORE_ENOMEM);
    core_mem_fail_at(0, false);
    assert_ptr_equal(v, before);
    assert_int_equal(cap, 128);
    assert_int_equal(core_grow(CORE_MEM_TEST, (void **)&v, &cap, SIZE_MAX / 2, sizeof *v),
                     CORE_ENOMEM);
    assert_int_equal(cap, 128);
    assert_int_equal(v[15], 15);
    core_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_rise_and_fall),
        cmocka_unit_test(test_tags_are_independent),
        cmocka_unit_test(test_alignment_and_zero_size),
        cmocka_unit_test(test_calloc_zeroes_and_checks_overflow),
        cmocka_unit_test(test_realloc_keeps_tag_and_contents),
        cmocka_unit_test(test_fail_at_nth),
        cmocka_unit_test(test_fail_persist_and_off),
        cmocka_unit_test(test_strdup),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_tag_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

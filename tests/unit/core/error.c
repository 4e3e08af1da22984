/*
 * Unit tests for error codes: every code has its own message, unknown codes
 * are named as such, and the error detail is formatted, truncated, cleared
 * and kept per thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static void test_every_code_has_a_distinct_message(void **state)
{
    (void)state;
    for (int a = 0; a >= CORE_ECODE_MIN; a--) {
        const char *ma = core_strerror(a);
        assert_non_null(ma);
        assert_true(strlen(ma) > 0);
        assert_string_not_equal(ma, "unknown error");
        for (int b = a - 1; b >= CORE_ECODE_MIN; b--)
            assert_string_not_equal(ma, core_strerror(b));
    }
    assert_string_equal(core_strerror(CORE_ECORRUPT), "corrupt data");
}

static void test_unknown_codes(void **state)
{
    (void)state;
    assert_string_equal(core_strerror(1), "unknown error");
    assert_string_equal(core_strerror(CORE_ECODE_MIN - 1), "unknown error");
    assert_string_equal(core_strerror(-1000), "unknown error");
}

static void test_detail_set_and_clear(void **state)
{
    (void)state;
    core_error_clear();
    assert_string_equal(core_error_detail(), "");
    int rc = core_error(CORE_ECORRUPT, "%s: bad crc at byte %d", "orders-0", 4096);
    assert_int_equal(rc, CORE_ECORRUPT);
    assert_string_equal(core_error_detail(), "orders-0: bad crc at byte 4096");
    core_error(CORE_EIO, "second");
    assert_string_equal(core_error_detail(), "second");
    core_error_clear();
    assert_string_equal(core_error_detail(), "");
}

static void test_detail_truncated(void **state)
{
    (void)state;
    char big[CORE_ERROR_DETAIL_MAX * 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(core_error(CORE_ETOOBIG, "%s", big), CORE_ETOOBIG);
    assert_int_equal(strlen(core_error_detail()), CORE_ERROR_DETAIL_MAX - 1);
    assert_memory_equal(core_error_detail(), big, CORE_ERROR_DETAIL_MAX - 1);
}

/* Wrapping the previous detail in a new one must keep its text intact. */
static void test_detail_wraps_itself(void **state)
{
    (void)state;
    core_error(CORE_ECORRUPT, "bad CRC at byte %d", 61);
    assert_int_equal(core_error(CORE_ECORRUPT, "orders-0: %s; stopping", core_error_detail()),
                     CORE_ECORRUPT);
    assert_string_equal(core_error_detail(), "orders-0: bad CRC at byte 61; stopping");
}

static void *other_thread(void *arg)
{
    char *seen = arg;
    /* A new thread starts with no detail, and its own does not leak out. */
    size_t n = strlen(core_error_detail());
    seen[0] = n == 0 ? 'e' : 'n';
    core_error(CORE_EINVAL, "from the other thread");
    seen[1] = strcmp(core_error_detail(), "from the other thread") == 0 ? 'y' : 'n';
    return NULL;
}

static void test_detail_is_per_thread(void **state)
{
    (void)state;
    core_error(CORE_ENOENT, "main thread detail");
    char seen[2] = {0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, seen), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(seen[0], 'e');
    assert_int_equal(seen[1], 'y');
    assert_string_equal(core_error_detail(), "main thread detail");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_a_distinct_message),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_detail_set_and_clear),
        cmocka_unit_test(test_detail_truncated),
        cmocka_unit_test(test_detail_is_per_thread),
        cmocka_unit_test(test_detail_wraps_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

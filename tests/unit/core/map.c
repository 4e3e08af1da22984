/*
 * Unit tests for the hash map and core_hash64: put/get/replace/delete over
 * many keys, deletion at high load (long collision clusters, wrap-around)
 * checked against a reference model, iteration visiting each key once,
 * growth, key copying, memory accounting and allocation failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

static size_t key_of(int i, char *k, size_t cap)
{
    int n = snprintf(k, cap, "key-%d", i);
    return (size_t)n;
}

static void *val_of(int i)
{
    return (void *)(uintptr_t)(i + 1);
}

static int64_t test_bytes(void)
{
    core_mem_stats_t s;
    core_mem_stats(CORE_MEM_TEST, &s);
    return s.bytes;
}

static void test_put_get_replace(void **state)
{
    (void)state;
    core_map_t *m = core_map_create(CORE_MEM_TEST, 0);
    assert_non_null(m);
    void *old = (void *)1;
    void *v = NULL;
    assert_false(core_map_get(m, "a", 1, &v));
    assert_int_equal(core_map_put(m, "a", 1, val_of(1), &old), CORE_OK);
    assert_null(old);
    assert_true(core_map_get(m, "a", 1, &v));
    assert_ptr_equal(v, val_of(1));
    assert_int_equal(core_map_put(m, "a", 1, val_of(2), &old), CORE_OK);
    assert_ptr_equal(old, val_of(1));
    assert_int_equal(core_map_count(m), 1);
    /* keys are byte strings: a prefix or an extra NUL is another key */
    assert_false(core_map_get(m, "a\0", 2, &v));
    assert_false(core_map_get(m, "", 0, &v));
    assert_int_equal(core_map_put(m, "", 0, val_of(3), NULL), CORE_OK);
    assert_true(core_map_get(m, "", 0, &v));
    assert_ptr_equal(v, val_of(3));
    assert_int_equal(core_map_count(m), 2);
    core_map_destroy(m);
    core_map_destroy(NULL);
}

static void test_keys_are_copied(void **state)
{
    (void)state;
    core_map_t *m = core_map_create(CORE_MEM_TEST, 4);
    char key[16] = "mutable";
    assert_int_equal(core_map_put(m, key, 7, val_of(9), NULL), CORE_OK);
    memcpy(key, "changed", 7);
    void *v = NULL;
    assert_true(core_map_get(m, "mutable", 7, &v));
    assert_ptr_equal(v, val_of(9));
    assert_false(core_map_get(m, "changed", 7, &v));
    core_map_destroy(m);
}

static void test_many_keys_and_growth(void **state)
{
    (void)state;
    int64_t before = test_bytes();
    enum { N = 20000 };
    core_map_t *m = core_map_create(CORE_MEM_TEST, 0);
    char k[32];
    for (int i = 0; i < N; i++) {
        size_t kl = key_of(i, k, sizeof(k));
        assert_int_equal(core_map_put(m, k, kl, val_of(i), NULL), CORE_OK);
    }
    assert_int_equal(core_map_count(m), N);
    for (int i = 0; i < N; i++) {
        size_t kl = key_of(i, k, sizeof(k));
        void *v = NULL;
        assert_true(core_map_get(m, k, kl, &v));
        assert_ptr_equal(v, val_of(i));
    }
    /* delete the even keys */
    for (int i = 0; i < N; i += 2) {
        size_t kl = key_of(i, k, sizeof(k));
        void *v = NULL;
        assert_true(core_map_del(m, k, kl, &v));
        assert_ptr_equal(v, val_of(i));
        assert_false(core_map_del(m, k, kl, &v));
    }
    assert_int_equal(core_map_count(m), N / 2);
    for (int i = 0; i < N; i++) {
        size_t kl = key_of(i, k, sizeof(k));
        void *v = NULL;
        bool found = core_map_get(m, k, kl, &v);
        assert_int_equal(found, i % 2 == 1);
        if (found)
            assert_ptr_equal(v, val_of(i));
    }
    core_map_destroy(m);
    assert_int_equal(test_bytes(), before);
}

/* At just under 7/8 load of a fixed table every key sits in a long cluster;
 * delete in random order and check the whole model after each step. */
static void test_delete_under_collisions(void **state)
{
    (void)state;
    enum { N = 56 }; /* capacity 64 holds 56 without growing */
    char k[32];
    srand(777);
    for (int round = 0; round < 50; round++) {
        core_map_t *m = core_map_create(CORE_MEM_TEST, N);
        bool present[N];
        int order[N];
        int base = round * 1000;
        for (int i = 0; i < N; i++) {
            size_t kl = key_of(base + i, k, sizeof(k));
            assert_int_equal(core_map_put(m, k, kl, val_of(i), NULL), CORE_OK);
            present[i] = true;
            order[i] = i;
        }
        for (int i = N - 1; i > 0; i--) {
            int j = rand() % (i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int d = 0; d < N; d++) {
            int victim = order[d];
            size_t kl = key_of(base + victim, k, sizeof(k));
            assert_true(core_map_del(m, k, kl, NULL));
            present[victim] = false;
            for (int i = 0; i < N; i++) {
                kl = key_of(base + i, k, sizeof(k));
                void *v = NULL;
                assert_int_equal(core_map_get(m, k, kl, &v), present[i]);
                if (present[i])
                    assert_ptr_equal(v, val_of(i));
            }
            assert_int_equal(core_map_count(m), (size_t)(N - d - 1));
        }
        core_map_destroy(m);
    }
}

static void test_random_ops_against_model(void **state)
{
    (void)state;
    enum { KEYS = 300, OPS = 30000 };
    int model[KEYS]; /* 0 = absent, else value */
    memset(model, 0, sizeof(model));
    core_map_t *m = core_map_create(CORE_MEM_TEST, 2);
    char k[32];
    srand(4242);
    size_t live = 0;
    for (int op = 0; op < OPS; op++) {
        int i = rand() % KEYS;
        size_t kl = key_of(i, k, sizeof(k));
        void *v = NULL;
        if (rand() % 2) {
            int val = op + 1;
            assert_int_equal(core_map_put(m, k, kl, (void *)(uintptr_t)val, &v), CORE_OK);
            assert_int_equal((int)(uintptr_t)v, model[i]);
            live += model[i] == 0;
            model[i] = val;
        } else {
            bool had = core_map_del(m, k, kl, &v);
            assert_int_equal(had, model[i] != 0);
            if (had) {
                assert_int_equal((int)(uintptr_t)v, model[i]);
                live--;
            }
            model[i] = 0;
        }
        assert_int_equal(core_map_count(m), live);
    }
    for (int i = 0; i < KEYS; i++) {
        size_t kl = key_of(i, k, sizeof(k));
        void *v = NULL;
        assert_int_equal(core_map_get(m, k, kl, &v), model[i] != 0);
    }
    core_map_destroy(m);
}

static void test_iteration_visits_each_once(void **state)
{
    (void)state;
    enum { N = 1000 };
    core_map_t *m = core_map_create(CORE_MEM_TEST, 16);
    char k[32];
    for (int i = 0; i < N; i++) {
        size_t kl = key_of(i, k, sizeof(k));
        assert_int_equal(core_map_put(m, k, kl, val_of(i), NULL), CORE_OK);
    }
    int seen[N];
    memset(seen, 0, sizeof(seen));
    size_t cursor = 0, visits = 0;
    const void *key;
    size_t klen;
    void *v;
    while (core_map_next(m, &cursor, &key, &klen, &v)) {
        int i = (int)(uintptr_t)v - 1;
        assert_true(i >= 0 && i < N);
        size_t kl = key_of(i, k, sizeof(k));
        assert_int_equal(klen, kl);
        assert_memory_equal(key, k, kl);
        seen[i]++;
        visits++;
    }
    assert_int_equal(visits, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_false(core_map_next(m, &cursor, &key, &klen, &v)); /* stays at end */
    core_map_destroy(m);

    core_map_t *empty = core_map_create(CORE_MEM_TEST, 0);
    cursor = 0;
    assert_false(core_map_next(empty, &cursor, &key, &klen, &v));
    core_map_destroy(empty);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    core_map_t *m = core_map_create(CORE_MEM_TEST, 0);
    char k[32];
    int i = 0;
    /* fill to just below the growth threshold of the first table */
    for (; i < 7; i++) {
        size_t kl = key_of(i, k, sizeof(k));
        assert_int_equal(core_map_put(m, k, kl, val_of(i), NULL), CORE_OK);
    }
    size_t kl = key_of(i, k, sizeof(k));
    core_mem_fail_at(1, false); /* the growth fails */
    assert_int_equal(core_map_put(m, k, kl, val_of(i), NULL), CORE_ENOMEM);
    assert_int_equal(core_map_count(m), 7);
    assert_false(core_map_get(m, k, kl, NULL));
    core_mem_fail_at(2, false); /* growth succeeds, key copy fails */
    assert_int_equal(core_map_put(m, k, kl, val_of(i), NULL), CORE_ENOMEM);
    assert_int_equal(core_map_count(m), 7);
    assert_false(core_map_get(m, k, kl, NULL));
    assert_int_equal(core_map_put(m, k, kl, val_of(i), NULL), CORE_OK);
    for (int j = 0; j <= i; j++) {
        kl = key_of(j, k, sizeof(k));
        assert_true(core_map_get(m, k, kl, NULL));
    }
    core_map_destroy(m);
    core_mem_fail_at(1, false);
    assert_null(core_map_create(CORE_MEM_TEST, 0));
    core_mem_fail_at(2, false);
    assert_null(core_map_create(CORE_MEM_TEST, 0));
    core_mem_fail_at(0, false);
}

static void test_hash64(void **state)
{
    (void)state;
    const char *s = "the quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    assert_true(core_hash64(s, n, 1) == core_hash64(s, n, 1));
    assert_true(core_hash64(s, n, 1) != core_hash64(s, n, 2));
    assert_true(core_hash64("a", 1, 0) != core_hash64("a\0", 2, 0));
    assert_true(core_hash64("", 0, 0) != core_hash64("\0", 1, 0));
    /* every length and alignment gives the same hash for the same bytes */
    char a[80], b[96];
    for (size_t len = 0; len <= 64; len++) {
        memcpy(a, s, len < n ? len : n);
        for (size_t off = 1; off < 8; off++) {
            memcpy(b + off, a, len < n ? len : n);
            assert_true(core_hash64(a, len < n ? len : n, 5) ==
                        core_hash64(b + off, len < n ? len : n, 5));
        }
    }
    /* avalanche: flipping one input bit flips about half the output bits */
    uint8_t buf[24];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 37);
    long total = 0;
    int trials = 0;
    for (size_t len = 1; len <= sizeof(buf); len++) {
        uint64_t h0 = core_hash64(buf, len, 0);
        for (size_t bit = 0; bit < len * 8; bit++) {
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            uint64_t h1 = core_hash64(buf, len, 0);
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            int flips = __builtin_popcountll(h0 ^ h1);
            assert_true(flips > 0);
            total += flips;
            trials++;
        }
    }
    double avg = (double)total / trials;
    assert_true(avg > 30.0 && avg < 34.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_replace),
        cmocka_unit_test(test_keys_are_copied),
        cmocka_unit_test(test_many_keys_and_growth),
        cmocka_unit_test(test_delete_under_collisions),
        cmocka_unit_test(test_random_ops_against_model),
        cmocka_unit_test(test_iteration_visits_each_once),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_hash64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

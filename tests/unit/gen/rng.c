/*
 * The generators' randomness (src/gen/rng.c): splitmix64 and xoshiro256**
 * against the published reference outputs (splitmix64 from 0; xoshiro256**
 * from the state {1, 2, 3, 4}) and against an independent Python rendering
 * of the same algorithms (seed 42); and the distributions' moments and
 * frequencies, each within 4 standard deviations of its expectation
 * (1,000,000 draws; a false alarm about once in 16,000 checks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include <cmocka.h>

#include "gen/gen_int.h"

#define N 1000000

static void within(double got, double want, double sigma, const char *what)
{
    if (fabs(got - want) > 4 * sigma)
        fail_msg("%s: %g, expected %g +- %g", what, got, want, 4 * sigma);
}

static void test_reference_outputs(void **state)
{
    (void)state;
    uint64_t x = 0;
    assert_true(gen_splitmix64(&x) == 0xe220a8397b1dcdafULL);
    assert_true(gen_splitmix64(&x) == 0x6e789e6aa1b965f4ULL);
    assert_true(gen_splitmix64(&x) == 0x06c45d188009454fULL);

    gen_rng_t r = {.s = {1, 2, 3, 4}};
    assert_true(gen_rng_u64(&r) == 11520ULL);
    assert_true(gen_rng_u64(&r) == 0ULL);
    assert_true(gen_rng_u64(&r) == 1509978240ULL);
    assert_true(gen_rng_u64(&r) == 1215971899390074240ULL);

    gen_rng_seed(&r, 42);
    assert_true(gen_rng_u64(&r) == 0x15780b2e0c2ec716ULL);
    assert_true(gen_rng_u64(&r) == 0x6104d9866d113a7eULL);
    assert_true(gen_rng_u64(&r) == 0xae17533239e499a1ULL);
}

static void test_uniform_and_below(void **state)
{
    (void)state;
    gen_rng_t r;
    gen_rng_seed(&r, 1);
    double sum = 0;
    size_t buckets[7] = {0};
    for (int i = 0; i < N; i++) {
        double u = gen_rng_uniform(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        uint64_t k = gen_rng_below(&r, 7);
        assert_true(k < 7);
        buckets[k]++;
        int64_t v = gen_rng_range(&r, -3, 3);
        assert_true(v >= -3 && v <= 3);
    }
    within(sum / N, 0.5, sqrt(1.0 / 12 / N), "uniform mean");
    for (int k = 0; k < 7; k++)
        within((double)buckets[k], N / 7.0, sqrt(N * (1 / 7.0) * (6 / 7.0)), "below(7) bucket");
    assert_int_equal(gen_rng_range(&r, 5, 5), 5);
}

static void test_normal_exponential_lognormal(void **state)
{
    (void)state;
    gen_rng_t r;
    gen_rng_seed(&r, 2);
    double sum = 0, sq = 0, esum = 0;
    size_t below_median = 0;
    for (int i = 0; i < N; i++) {
        double z = gen_rng_normal(&r);
        sum += z;
        sq += z * z;
        esum += gen_rng_exponential(&r, 3.0);
        below_median += gen_rng_lognormal(&r, 2.0, 0.7) < exp(2.0);
    }
    within(sum / N, 0.0, 1.0 / sqrt(N), "normal mean");
    within(sq / N, 1.0, sqrt(2.0 / N), "normal variance");
    within(esum / N, 3.0, 3.0 / sqrt(N), "exponential mean");
    within((double)below_median, N / 2.0, sqrt(N / 4.0), "lognormal median");
}

static void test_weighted_zipf_power_law(void **state)
{
    (void)state;
    gen_rng_t r;
    gen_rng_seed(&r, 3);
    static const double w[] = {1, 2, 7};
    size_t picks[3] = {0};
    gen_zipf_t z;
    assert_int_equal(gen_zipf_init(&z, 30, 0.8), 0);
    size_t zipf0 = 0, zipf29 = 0, pow0 = 0, pow_last = 0;
    const uint64_t n = 1000000;
    for (int i = 0; i < N; i++) {
        picks[gen_rng_weighted(&r, w, 3)]++;
        size_t k = gen_zipf_draw(&z, &r);
        assert_true(k < 30);
        zipf0 += k == 0;
        zipf29 += k == 29;
        uint64_t p = gen_power_law(&r, n, 0.3);
        assert_true(p < n);
        pow0 += p == 0;
        pow_last += p == n - 1;
    }
    for (int k = 0; k < 3; k++) {
        double p = w[k] / 10.0;
        within((double)picks[k], p * N, sqrt(N * p * (1 - p)), "weighted choice");
    }
    double h = 0;
    for (int k = 1; k <= 30; k++)
        h += pow(k, -0.8);
    double p0 = 1.0 / h, p29 = pow(30, -0.8) / h;
    within((double)zipf0, p0 * N, sqrt(N * p0 * (1 - p0)), "zipf rank 0");
    within((double)zipf29, p29 * N, sqrt(N * p29 * (1 - p29)), "zipf rank 29");
    /* The power law's rank 0 has probability (2^e - 1) / ((n + 1)^e - 1). */
    double e = 0.7, denom = pow((double)n + 1, e) - 1;
    double q0 = (pow(2, e) - 1) / denom;
    double ql = (pow((double)n + 1, e) - pow((double)n, e)) / denom;
    within((double)pow0, q0 * N, sqrt(N * q0 * (1 - q0)), "power law rank 0");
    within((double)pow_last, ql * N, sqrt(N * ql * (1 - ql)), "power law last rank");
    gen_zipf_fini(&z);
}

static void test_recent(void **state)
{
    (void)state;
    gen_recent_t rec = {{0}, 0, 0};
    gen_rng_t r;
    gen_rng_seed(&r, 4);
    uint64_t v = 99;
    assert_false(gen_recent_pick(&rec, &r, &v));
    gen_recent_push(&rec, 10);
    assert_true(gen_recent_pick(&rec, &r, &v));
    assert_int_equal(v, 10);
    for (uint64_t i = 11; i <= 20; i++)
        gen_recent_push(&rec, i);
    size_t seen[2] = {0};
    for (int i = 0; i < 1000; i++) {
        assert_true(gen_recent_pick(&rec, &r, &v));
        assert_true(v == 19 || v == 20); /* one of the two latest */
        seen[v - 19]++;
    }
    assert_true(seen[0] > 0 && seen[1] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_outputs),
        cmocka_unit_test(test_uniform_and_below),
        cmocka_unit_test(test_normal_exponential_lognormal),
        cmocka_unit_test(test_weighted_zipf_power_law),
        cmocka_unit_test(test_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

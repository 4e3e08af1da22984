/*
 * The generators' record writer (src/gen/record.c) against core's: numbers
 * of a fixed number of decimals (gen_format_fixed) give the text
 * core_json_write_double gives for the same rounded value, or defer to it
 * exactly where %g would choose another form; timestamps (gen_format_ts)
 * equal core_format_iso8601_ms across days, years and the epoch; and every
 * kind's output for one seed and start is pinned by a SHA-256 recorded
 * from the generators as they were when they wrote through core's JSON
 * writer and printf (the `--stdout --with-keys` bytes of `strata gen KIND
 * --count 20000 --seed 7 --start 2026-01-01T00:00:00Z` with all three
 * ratios 0.05). A deliberate change to a kind's output changes its hash:
 * record the new one with that command piped into sha256sum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "gen/gen_int.h"

#define START_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

/* core_json_write_double(round(v * 10^d) / 10^d) into out (NUL-ended). */
static void core_text(double v, int d, char *out, size_t n)
{
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    double r = round(v * scale[d]) / scale[d];
    if (!isfinite(r))
        r = 0;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 64);
    core_json_writer_t w;
    core_json_writer_init(&w, &b);
    assert_int_equal(core_json_write_double(&w, r), 0);
    assert_true(b.len < n);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    core_buf_fini(&b);
}

/* Checks one value; returns whether the fast path took it. */
static bool check_fixed(double v, int d)
{
    char want[64], got[GEN_NUM_MAX + 1];
    size_t n = gen_format_fixed(v, d, got);
    if (n == 0)
        return false;
    assert_true(n <= GEN_NUM_MAX);
    got[n] = '\0';
    core_text(v, d, want, sizeof want);
    if (strcmp(got, want) != 0)
        fail_msg("v=%.17g d=%d: gen '%s', core '%s'", v, d, got, want);
    return true;
}

static void test_fixed_random(void **state)
{
    (void)state;
    gen_rng_t r;
    gen_rng_seed(&r, 11);
    int64_t fast = 0, total = 0;
    for (int i = 0; i < 400000; i++) {
        int d = (int)gen_rng_below(&r, 7);
        double mag = pow(10.0, -9.0 + 26.0 * gen_rng_uniform(&r)); /* 1e-9 .. 1e17 */
        double v = mag * gen_rng_uniform(&r) * (gen_rng_chance(&r, 0.5) ? -1 : 1);
        fast += check_fixed(v, d);
        total++;
    }
    /* Prices, amounts: cents in an everyday range all take the fast path. */
    for (int i = 0; i < 200000; i++) {
        double v = 0.005 + 1e6 * gen_rng_uniform(&r);
        assert_true(check_fixed(v, 2));
    }
    assert_true(fast > total / 2);
}

static void test_fixed_edges(void **state)
{
    (void)state;
    static const double values[] = {
        0.0,       -0.0,
        0.004,     -0.004,
        0.005,     0.0049999,
        0.125,     2.5,
        -2.5,      1e-4,
        0.00015,   5e-5,
        9.9e-5,    0.000099,
        1e14,      999999999999999.0,
        1e15,      1.5e15,
        1e16,      123.456789,
        100.0,     0.1 + 0.2,
        1 / 3.0,   189.5,
        -1e-5,     4503599627370495.5,
        1e300,     -1e300,
        NAN,       INFINITY,
        -INFINITY, 0.00001,
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        for (int d = 0; d <= 6; d++)
            check_fixed(values[i], d);
    /* Where %g would write an exponent, or there is nothing to write, core
     * decides. */
    char out[GEN_NUM_MAX];
    assert_int_equal(gen_format_fixed(0.0, 2, out), 0);
    assert_int_equal(gen_format_fixed(0.00001, 5, out), 0);
    assert_int_equal(gen_format_fixed(1e15, 0, out), 0);
    assert_int_equal(gen_format_fixed(NAN, 2, out), 0);
    assert_int_equal(gen_format_fixed(1.0, 7, out), 0);
    assert_true(check_fixed(0.0001, 4));
    assert_true(check_fixed(999999999999999.0, 0));
    assert_true(check_fixed(-0.5, 1));
    assert_true(check_fixed(100.0, 2)); /* "100.0" */
}

static gen_t *stocks(void)
{
    gen_options_t o = {.kind = "stocks", .seed = 1, .start_ms = START_MS};
    gen_t *g = NULL;
    assert_int_equal(gen_create(&o, &g), 0);
    return g;
}

static void check_ts(gen_t *g, int64_t ms)
{
    char want[64], got[64];
    core_format_iso8601_ms(ms, want, sizeof want);
    size_t n = gen_format_ts(g, ms, got);
    got[n] = '\0';
    if (strcmp(got, want) != 0)
        fail_msg("ms=%lld: gen '%s', core '%s'", (long long)ms, got, want);
}

static void test_timestamps(void **state)
{
    (void)state;
    gen_t *g = stocks();
    gen_rng_t r;
    gen_rng_seed(&r, 12);
    /* Random times from 1900 to 10100, so both sides of the epoch and of
     * year 9999 take turns with the cached day. */
    for (int i = 0; i < 300000; i++)
        check_ts(g, gen_rng_range(&r, -2208988800000LL, 256000000000000LL));
    /* A stream crossing midnights, month and leap-year ends. */
    static const int64_t starts[] = {START_MS - 5000, 1709164800000LL /* 2024-02-29 */,
                                     951782400000LL /* 2000-02-29 */, 0, 253402300799000LL};
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++)
        for (int64_t ms = starts[s] - 86400000LL; ms < starts[s] + 2 * 86400000LL; ms += 997)
            check_ts(g, ms);
    check_ts(g, -1);
    check_ts(g, INT64_MAX / 2);
    gen_destroy(g);
}

static void test_pinned_output(void **state)
{
    (void)state;
    static const struct {
        const char *kind, *sha256;
    } pinned[] = {
        {"transactions", "cd0ce035973aedf51c8a86edcb0696d1682cbff361917270e0f46d839e5ce54f"},
        {"stocks", "a5c646f1d743c8a3bb13179338e20e5d0f696820e3632b9161ec4d77008bb39f"},
        {"app", "90b6fbc12c425e281cb55099225546628431d4a59d1db1ab398b881dfcc627fe"},
        {"web", "e87b14662f58fcce67e074e04a4560b958f5578db6a0b24af01f87e291e5510e"},
        {"clickstream", "8caec489a149f4005377d68468e0417890c7f45fdaec0c3bf79ac4090e66da17"},
        {"cdc", "ed5e025f75d466fee4c329ba4fef30abea1dcdb7bb881b4e6d395ea40b83e336"},
        {"external", "a5110c1b31914df96d348a3ea5070863aafe73c58a241cde1a8d60d771b14df7"},
        {"nexmark", "d209c6a0ba317d106508711b62b4a59d29cc51a92df8d368933ad472c7141840"},
    };
    for (size_t k = 0; k < sizeof pinned / sizeof pinned[0]; k++) {
        gen_options_t o = {.kind = pinned[k].kind,
                           .seed = 7,
                           .start_ms = START_MS,
                           .invalid_ratio = 0.05,
                           .late_ratio = 0.05,
                           .anomaly_ratio = 0.05};
        gen_t *g = NULL;
        assert_int_equal(gen_create(&o, &g), 0);
        core_sha256_t h;
        core_sha256_init(&h);
        for (int i = 0; i < 20000; i++) {
            gen_record_t rec;
            gen_next(g, &rec);
            core_sha256_update(&h, rec.key, rec.key_len);
            core_sha256_update(&h, "\t", 1);
            core_sha256_update(&h, rec.value, rec.value_len);
            core_sha256_update(&h, "\n", 1);
        }
        uint8_t digest[32];
        char hex[65];
        core_sha256_final(&h, digest);
        core_sha256_hex(digest, hex);
        if (strcmp(hex, pinned[k].sha256) != 0)
            fail_msg("kind %s: output hash %s, pinned %s", pinned[k].kind, hex, pinned[k].sha256);
        gen_destroy(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_random),
        cmocka_unit_test(test_fixed_edges),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_pinned_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

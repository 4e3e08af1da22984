/*
 * Unit tests of the config's `generators` section (src/app/config_keys.c
 * and config_gen.c): every key read into app_generator_t, the defaults
 * (the seed from the name, count unlimited, start now, ratios 0,
 * enabled), the rate and time syntaxes, each check with its exact
 * "FILE:LINE:COL: path: message" text, ${VAR} in values, and the kinds
 * against gen_kinds() so that the config accepts exactly gen/'s kinds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/config.h"
#include "gen/gen.h"

static int clear_env(void **state)
{
    (void)state;
    unsetenv("GENTEST_RATE");
    return 0;
}

static app_config_t *load_ok(const char *yaml)
{
    app_config_t *cfg = NULL;
    int rc = app_config_load_string("t.yaml", yaml, strlen(yaml), &cfg);
    assert_non_null(cfg);
    if (rc != 0)
        app_config_print_errors(cfg, stderr);
    assert_int_equal(rc, 0);
    return cfg;
}

/* Asserts that yaml's printed errors are exactly `want`. */
static void expect_errors(const char *yaml, const char *want)
{
    app_config_t *cfg = NULL;
    int rc = app_config_load_string("t.yaml", yaml, strlen(yaml), &cfg);
    assert_non_null(cfg);
    char *got = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&got, &len);
    assert_non_null(f);
    app_config_print_errors(cfg, f);
    assert_int_equal(fclose(f), 0);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "--- config:\n%s--- want:\n%s--- got:\n%s", yaml, want, got);
    assert_string_equal(got, want);
    assert_int_equal(rc, want[0] == '\0' ? 0 : CORE_EINVAL);
    free(got);
    app_config_destroy(cfg);
}

#define TOPICS                                                                                     \
    "topics:\n"                /* 1 */                                                             \
    "  - name: stocks\n"       /* 2 */                                                             \
    "  - name: transactions\n" /* 3 */                                                             \
    "generators:\n"            /* 4 */

static void test_every_key(void **state)
{
    (void)state;
    app_config_t *cfg = load_ok(TOPICS "  - name: ticks\n"
                                       "    kind: stocks\n"
                                       "    topic: stocks\n"
                                       "    rate: 200/s\n"
                                       "    count: 5000\n"
                                       "    seed: 7\n"
                                       "    start: 2026-11-22T13:00:00.250Z\n"
                                       "    invalid_ratio: 0.05\n"
                                       "    late_ratio: 0.02\n"
                                       "    anomaly_ratio: 0.01\n"
                                       "    enabled: false\n"
                                       "  - {name: tx, kind: transactions, topic: transactions, "
                                       "rate: 12.5}\n");
    assert_int_equal(cfg->n_generators, 2);
    const app_generator_t *g = &cfg->generators[0];
    assert_string_equal(g->name, "ticks");
    assert_int_equal(g->kind, APP_GEN_STOCKS);
    assert_string_equal(app_gen_kind_name(g->kind), "stocks");
    assert_string_equal(g->topic, "stocks");
    assert_true(g->rate == 200.0);
    assert_int_equal(g->count, 5000);
    assert_true(g->has_seed);
    assert_int_equal(g->seed, 7);
    assert_true(g->has_start);
    assert_int_equal(g->start_ms, 1795352400250LL);
    assert_true(g->invalid_ratio == 0.05 && g->late_ratio == 0.02 && g->anomaly_ratio == 0.01);
    assert_false(g->enabled);
    assert_int_equal(g->line, 5);

    /* The defaults. */
    g = &cfg->generators[1];
    assert_string_equal(g->name, "tx");
    assert_int_equal(g->kind, APP_GEN_TRANSACTIONS);
    assert_true(g->rate == 12.5);
    assert_int_equal(g->count, -1);
    assert_false(g->has_seed);
    assert_int_equal(g->seed, app_generator_default_seed("tx"));
    assert_false(g->has_start);
    assert_true(g->invalid_ratio == 0 && g->late_ratio == 0 && g->anomaly_ratio == 0);
    assert_true(g->enabled);
    assert_int_equal(g->line, 16);
    app_config_destroy(cfg);
}

/* FNV-1a's published 64-bit vectors, top bit cleared. */
static void test_default_seed(void **state)
{
    (void)state;
    assert_int_equal(app_generator_default_seed(""), 0x4bf29ce484222325LL);
    assert_int_equal(app_generator_default_seed("a"), 0x2f63dc4c8601ec8cLL);
    assert_int_equal(app_generator_default_seed("foobar"), 0x05944171f73967e8LL);
    assert_true(app_generator_default_seed("ticks") != app_generator_default_seed("ticks2"));
    /* An explicit seed wins, 0 included. */
    app_config_t *cfg = load_ok(TOPICS "  - {name: a, kind: stocks, topic: stocks, rate: 1, "
                                       "seed: 0}\n");
    assert_true(cfg->generators[0].has_seed);
    assert_int_equal(cfg->generators[0].seed, 0);
    app_config_destroy(cfg);
}

static void test_rate_and_time_syntax(void **state)
{
    (void)state;
    static const struct {
        const char *rate;
        double want;
    } rates[] = {{"200/s", 200}, {"200", 200}, {"0.5/s", 0.5}, {"0.01", 0.01}, {"1e6/s", 1e6}};
    for (size_t i = 0; i < CORE_ARRAY_LEN(rates); i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, TOPICS "  - {name: a, kind: web, topic: stocks, rate: '%s'}\n",
                 rates[i].rate);
        app_config_t *cfg = load_ok(yaml);
        assert_true(cfg->generators[0].rate == rates[i].want);
        app_config_destroy(cfg);
    }
    static const struct {
        const char *start;
        int64_t want;
    } starts[] = {
        {"1795352400000", 1795352400000LL},
        {"2026-11-22T13:00:00Z", 1795352400000LL},
        {"2026-11-22T14:00:00+01:00", 1795352400000LL},
        {"2026-11-22", 1795305600000LL},
        {"0", 0},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(starts); i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 TOPICS "  - {name: a, kind: app, topic: stocks, rate: 1, start: '%s'}\n",
                 starts[i].start);
        app_config_t *cfg = load_ok(yaml);
        assert_true(cfg->generators[0].has_start);
        assert_int_equal(cfg->generators[0].start_ms, starts[i].want);
        app_config_destroy(cfg);
    }
}

static void test_interpolation(void **state)
{
    (void)state;
    const char *yaml =
        TOPICS "  - {name: a, kind: cdc, topic: stocks, rate: '${GENTEST_RATE:50/s}'}\n";
    app_config_t *cfg = load_ok(yaml);
    assert_true(cfg->generators[0].rate == 50);
    app_config_destroy(cfg);
    setenv("GENTEST_RATE", "7/s", 1);
    cfg = load_ok(yaml);
    assert_true(cfg->generators[0].rate == 7);
    app_config_destroy(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    expect_errors(
        TOPICS "  - {name: a, kind: stock, topic: stocks, rate: 1}\n"          /* 5 */
               "  - {name: b, kind: stocks, topic: stock, rate: 1}\n"          /* 6 */
               "  - {name: c, kind: stocks, topic: stocks, rate: fast}\n"      /* 7 */
               "  - {name: d, kind: stocks, topic: stocks, rate: 0}\n"         /* 8 */
               "  - {name: e, kind: stocks, topic: stocks, rate: 2000000/s}\n" /* 9 */
               "  - {name: f, kind: stocks, topic: stocks}\n"                  /* 10 */
               "  - {name: g, kind: stocks, topic: stocks, rate: 1, invalid_ratio: 0.5,\n"
               "     late_ratio: 0.3, anomaly_ratio: 0.3}\n"           /* 12 */
               "  - {name: a, kind: stocks, topic: stocks, rate: 1}\n" /* 13 */
               "  - {name: h, kind: stocks, topic: stocks, rate: 1, start: yesterday}\n"
               "  - {name: i, kind: stocks, topic: stocks, rate: 1, count: -2}\n" /* 15 */
               "  - {name: j, kind: stocks, topic: stocks, rate: 1, late_ratio: 1.5}\n"
               "  - {name: k, kind: stocks, topic: stocks, rate: 1, seed: -1}\n" /* 17 */
               "  - {name: l, kind: stocks, topic: stocks, rate: 1, window: 5}\n",
        "t.yaml:5:21: generators[0].kind: unknown value 'stock' (expected one of: transactions, "
        "stocks, app, web, clickstream, cdc, external, nexmark)\n"
        "t.yaml:6:36: generators[1].topic: unknown topic 'stock' (did you mean 'stocks'?)\n"
        "t.yaml:7:50: generators[2].rate: invalid rate 'fast' (write records per second, 0.01 "
        "to 1000000: 200 or 200/s)\n"
        "t.yaml:8:50: generators[3].rate: invalid rate '0' (write records per second, 0.01 to "
        "1000000: 200 or 200/s)\n"
        "t.yaml:9:50: generators[4].rate: invalid rate '2000000/s' (write records per second, "
        "0.01 to 1000000: 200 or 200/s)\n"
        "t.yaml:10:5: generators[5]: missing required key 'rate'\n"
        "t.yaml:11: generators[6]: invalid_ratio + late_ratio + anomaly_ratio is 1.1; the shares "
        "must not exceed 1\n"
        "t.yaml:13:12: generators[7].name: duplicate generator 'a' (first defined at line 5)\n"
        "t.yaml:14:60: generators[8].start: invalid time 'yesterday' (write ISO 8601 such as "
        "2026-11-22T13:00:00Z, or ms since the epoch)\n"
        "t.yaml:15:60: generators[9].count: -2 is below the minimum -1\n"
        "t.yaml:16:65: generators[10].late_ratio: 1.5 is out of range (0 to 1)\n"
        "t.yaml:17:59: generators[11].seed: -1 is below the minimum 0\n"
        "t.yaml:18:53: generators[12]: unknown key 'window'\n");
    /* At most 1 in all: exactly 1 is fine. */
    expect_errors(TOPICS "  - {name: a, kind: stocks, topic: stocks, rate: 1, invalid_ratio: 0.5, "
                         "late_ratio: 0.25, anomaly_ratio: 0.25}\n",
                  "");
}

/* Every kind of gen/ is a kind of the config, in the same order, and no
 * other. */
static void test_kinds_match_gen(void **state)
{
    (void)state;
    const char *const *kinds = gen_kinds();
    size_t n = 0;
    for (; kinds[n] != NULL; n++) {
        assert_string_equal(app_gen_kind_name((app_gen_kind_t)n), kinds[n]);
        char yaml[512];
        snprintf(yaml, sizeof yaml, TOPICS "  - {name: a, kind: %s, topic: stocks, rate: 1}\n",
                 kinds[n]);
        app_config_t *cfg = load_ok(yaml);
        assert_int_equal(cfg->generators[0].kind, (int)n);
        /* What the wiring hands gen_create() is accepted by it. */
        gen_options_t o = {.kind = app_gen_kind_name(cfg->generators[0].kind),
                           .seed = (uint64_t)cfg->generators[0].seed,
                           .start_ms = 1795352400000LL,
                           .rate = cfg->generators[0].rate};
        gen_t *g = NULL;
        assert_int_equal(gen_create(&o, &g), 0);
        gen_destroy(g);
        app_config_destroy(cfg);
    }
    assert_int_equal(n, APP_GEN_NEXMARK + 1);
    assert_string_equal(app_gen_kind_name((app_gen_kind_t)n), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_every_key, clear_env),
        cmocka_unit_test_setup(test_default_seed, clear_env),
        cmocka_unit_test_setup(test_rate_and_time_syntax, clear_env),
        cmocka_unit_test_setup(test_interpolation, clear_env),
        cmocka_unit_test_setup(test_errors, clear_env),
        cmocka_unit_test_setup(test_kinds_match_gen, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

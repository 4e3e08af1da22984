/*
 * Unit tests of the Prometheus text writer (src/http/metrics.c): the exact
 * bytes of counters, gauges, histograms and summaries; escaping of label
 * values and HELP text; cumulative histogram buckets with +Inf; number
 * formats; and every refusal (names, duplicate families, sample types,
 * bounds, caps), which must stick.
 *
 * Teardown checks that no CORE_MEM_HTTP byte is left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

#include <math.h>
#include <string.h>

typedef struct {
    core_buf_t out;
    http_prom_t p;
} fx_t;

static int setup(void **state)
{
    fx_t *f = test_calloc(1, sizeof *f);
    core_buf_init(&f->out, CORE_MEM_TEST, 1 << 20);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    http_prom_fini(&f->p);
    core_buf_fini(&f->out);
    test_free(f);
    core_mem_stats_t m;
    core_mem_stats(CORE_MEM_HTTP, &m);
    assert_int_equal(m.bytes, 0);
    return 0;
}

static void expect_text(fx_t *f, const char *want)
{
    assert_int_equal(http_prom_finish(&f->p), 0);
    assert_int_equal(f->out.len, strlen(want));
    assert_memory_equal(f->out.data, want, f->out.len);
}

static void test_counter_and_gauge(void **state)
{
    fx_t *f = *state;
    http_prom_label_t l[2] = {{"topic", "orders"}, {"partition", "3"}};
    assert_int_equal(
        http_prom_family(&f->p, "strata_records_total", HTTP_PROM_COUNTER, "Records appended"), 0);
    assert_int_equal(http_prom_int(&f->p, l, 2, 42), 0);
    assert_int_equal(http_prom_int(&f->p, NULL, 0, INT64_MAX), 0);
    assert_int_equal(http_prom_family(&f->p, "strata_lag", HTTP_PROM_GAUGE, NULL), 0);
    assert_int_equal(http_prom_int(&f->p, l, 1, -7), 0);
    assert_int_equal(http_prom_double(&f->p, NULL, 0, 0.25), 0);
    expect_text(f, "# HELP strata_records_total Records appended\n"
                   "# TYPE strata_records_total counter\n"
                   "strata_records_total{topic=\"orders\",partition=\"3\"} 42\n"
                   "strata_records_total 9223372036854775807\n"
                   "# TYPE strata_lag gauge\n"
                   "strata_lag{topic=\"orders\"} -7\n"
                   "strata_lag 0.25\n");
}

static void test_label_value_escaping(void **state)
{
    fx_t *f = *state;
    /* backslash, quote, newline, a valid multi-byte character, and two
     * bytes that are not UTF-8 (a lone continuation byte, a cut lead). */
    http_prom_label_t l[1] = {{"group", "a\\b\"c\nd \xC3\xA9 \x80 \xE2\x82"}};
    assert_int_equal(http_prom_family(&f->p, "g", HTTP_PROM_GAUGE, "back\\slash\nnew \"line\""), 0);
    assert_int_equal(http_prom_int(&f->p, l, 1, 1), 0);
    expect_text(f,
                "# HELP g back\\\\slash\\nnew \"line\"\n"
                "# TYPE g gauge\n"
                "g{group=\"a\\\\b\\\"c\\nd \xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\"} 1\n");
}

static void test_histogram_cumulative(void **state)
{
    fx_t *f = *state;
    const double bounds[3] = {0.001, 0.002, 0.004};
    const int64_t counts[4] = {1, 0, 2, 3}; /* the last: above 0.004 */
    http_prom_label_t l[1] = {{"pipeline", "p"}};
    assert_int_equal(http_prom_family(&f->p, "lat_seconds", HTTP_PROM_HISTOGRAM, "Latency"), 0);
    assert_int_equal(http_prom_histogram(&f->p, l, 1, bounds, counts, 3, 1.5), 0);
    assert_int_equal(http_prom_histogram(&f->p, NULL, 0, bounds, (int64_t[]){0, 0, 0, 0}, 3, 0), 0);
    expect_text(f, "# HELP lat_seconds Latency\n"
                   "# TYPE lat_seconds histogram\n"
                   "lat_seconds_bucket{pipeline=\"p\",le=\"0.001\"} 1\n"
                   "lat_seconds_bucket{pipeline=\"p\",le=\"0.002\"} 1\n"
                   "lat_seconds_bucket{pipeline=\"p\",le=\"0.004\"} 3\n"
                   "lat_seconds_bucket{pipeline=\"p\",le=\"+Inf\"} 6\n"
                   "lat_seconds_sum{pipeline=\"p\"} 1.5\n"
                   "lat_seconds_count{pipeline=\"p\"} 6\n"
                   "lat_seconds_bucket{le=\"0.001\"} 0\n"
                   "lat_seconds_bucket{le=\"0.002\"} 0\n"
                   "lat_seconds_bucket{le=\"0.004\"} 0\n"
                   "lat_seconds_bucket{le=\"+Inf\"} 0\n"
                   "lat_seconds_sum 0\n"
                   "lat_seconds_count 0\n");
}

static void test_summary(void **state)
{
    fx_t *f = *state;
    assert_int_equal(http_prom_family(&f->p, "commit_seconds", HTTP_PROM_SUMMARY, NULL), 0);
    assert_int_equal(
        http_prom_summary(&f->p, (http_prom_label_t[]){{"pipeline", "x"}}, 1, 0.125, 4), 0);
    expect_text(f, "# TYPE commit_seconds summary\n"
                   "commit_seconds_sum{pipeline=\"x\"} 0.125\n"
                   "commit_seconds_count{pipeline=\"x\"} 4\n");
}

static void test_number_formats(void **state)
{
    fx_t *f = *state;
    assert_int_equal(http_prom_family(&f->p, "v", HTTP_PROM_GAUGE, NULL), 0);
    const double vals[] = {NAN, INFINITY, -INFINITY, 0.1, 1e-05, 123456789.125, 1e21, -0.5};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        assert_int_equal(http_prom_double(&f->p, NULL, 0, vals[i]), 0);
    expect_text(f, "# TYPE v gauge\n"
                   "v NaN\n"
                   "v +Inf\n"
                   "v -Inf\n"
                   "v 0.1\n"
                   "v 1e-05\n"
                   "v 123456789.125\n"
                   "v 1e+21\n"
                   "v -0.5\n");
}

/* Each call is refused with CORE_EINVAL, and the refusal sticks. */
static void expect_refused(fx_t *f, int rc)
{
    assert_int_equal(rc, CORE_EINVAL);
    assert_int_equal(http_prom_finish(&f->p), CORE_EINVAL);
    assert_int_equal(http_prom_family(&f->p, "fine", HTTP_PROM_GAUGE, NULL), CORE_EINVAL);
}

static void test_refused_names(void **state)
{
    fx_t *f = *state;
    static const char *const bad[] = {"", "1abc", "a-b", "__reserved", "a b", "é"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_prom_fini(&f->p);
        core_buf_reset(&f->out);
        assert_int_equal(http_prom_init(&f->p, &f->out), 0);
        expect_refused(f, http_prom_family(&f->p, bad[i], HTTP_PROM_GAUGE, NULL));
    }
    http_prom_fini(&f->p);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    expect_refused(f, http_prom_family(&f->p, "no_suffix", HTTP_PROM_COUNTER, NULL));
}

static void test_refused_labels(void **state)
{
    fx_t *f = *state;
    static const char *const bad[] = {"le", "quantile", "__x", "a:b", "9a", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_prom_fini(&f->p);
        core_buf_reset(&f->out);
        assert_int_equal(http_prom_init(&f->p, &f->out), 0);
        assert_int_equal(http_prom_family(&f->p, "g", HTTP_PROM_GAUGE, NULL), 0);
        expect_refused(f, http_prom_int(&f->p, (http_prom_label_t[]){{bad[i], "v"}}, 1, 1));
    }
    http_prom_fini(&f->p);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    assert_int_equal(http_prom_family(&f->p, "g", HTTP_PROM_GAUGE, NULL), 0);
    expect_refused(f, http_prom_int(&f->p, (http_prom_label_t[]){{"a", "1"}, {"a", "2"}}, 2, 1));
}

static void test_refused_samples(void **state)
{
    fx_t *f = *state;
    expect_refused(f, http_prom_int(&f->p, NULL, 0, 1)); /* before any family */

    http_prom_fini(&f->p);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    assert_int_equal(http_prom_family(&f->p, "x_total", HTTP_PROM_COUNTER, NULL), 0);
    expect_refused(f, http_prom_int(&f->p, NULL, 0, -1)); /* a counter never goes below 0 */

    http_prom_fini(&f->p);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    assert_int_equal(http_prom_family(&f->p, "x_total", HTTP_PROM_COUNTER, NULL), 0);
    expect_refused(f, http_prom_family(&f->p, "x_total", HTTP_PROM_GAUGE, NULL)); /* twice */

    http_prom_fini(&f->p);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    assert_int_equal(http_prom_family(&f->p, "g", HTTP_PROM_GAUGE, NULL), 0);
    expect_refused(f, http_prom_summary(&f->p, NULL, 0, 1, 1)); /* a summary in a gauge */

    http_prom_fini(&f->p);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    assert_int_equal(http_prom_family(&f->p, "h", HTTP_PROM_HISTOGRAM, NULL), 0);
    expect_refused(f, http_prom_int(&f->p, NULL, 0, 1)); /* a plain sample in a histogram */
}

static void test_refused_bounds(void **state)
{
    fx_t *f = *state;
    const double not_increasing[2] = {0.5, 0.5};
    const double infinite[1] = {INFINITY};
    const int64_t counts[3] = {1, 1, 1};
    assert_int_equal(http_prom_family(&f->p, "h", HTTP_PROM_HISTOGRAM, NULL), 0);
    expect_refused(f, http_prom_histogram(&f->p, NULL, 0, not_increasing, counts, 2, 0));

    http_prom_fini(&f->p);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    assert_int_equal(http_prom_family(&f->p, "h", HTTP_PROM_HISTOGRAM, NULL), 0);
    expect_refused(f, http_prom_histogram(&f->p, NULL, 0, infinite, counts, 1, 0));

    http_prom_fini(&f->p);
    assert_int_equal(http_prom_init(&f->p, &f->out), 0);
    assert_int_equal(http_prom_family(&f->p, "h", HTTP_PROM_HISTOGRAM, NULL), 0);
    expect_refused(f, http_prom_histogram(&f->p, NULL, 0, (double[]){1}, (int64_t[]){1, -1}, 1, 0));
}

static void test_buffer_cap(void **state)
{
    (void)state;
    core_buf_t small;
    core_buf_init(&small, CORE_MEM_TEST, 40);
    http_prom_t p;
    assert_int_equal(http_prom_init(&p, &small), 0);
    int rc = http_prom_family(&p, "a_rather_long_metric_name", HTTP_PROM_GAUGE,
                              "and a help text that does not fit");
    assert_int_equal(rc, CORE_ETOOBIG);
    assert_int_equal(http_prom_finish(&p), CORE_ETOOBIG);
    assert_int_equal(http_prom_int(&p, NULL, 0, 1), CORE_ETOOBIG);
    http_prom_fini(&p);
    core_buf_fini(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counter_and_gauge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_value_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_cumulative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_number_formats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_labels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_cap, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

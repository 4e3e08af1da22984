/*
 * The rate schedule of gen_run (src/gen/run.c), driven by a simulated
 * clock so that nothing depends on the machine's speed: deadlines and due
 * counts agree exactly; batches grow with the rate so wake-ups stay near
 * 1000 a second; a simulated run at rates from 10/s to 1,000,000/s, with
 * sends that cost time and sleeps that overshoot, lasts count / rate within
 * 2%; a stall is made up without shifting the records after it (no
 * drift); an overloaded sender never sleeps; unlimited sends in chunks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>

#include <cmocka.h>

#include "gen/gen_int.h"

static const double rates[] = {0.5, 10, 99.9, 1000, 4321.5, 33333.3, 100000, 1000000};

static void test_due_and_deadline_agree(void **state)
{
    (void)state;
    for (size_t r = 0; r < CORE_ARRAY_LEN(rates); r++) {
        gen_schedule_t s;
        gen_schedule_init(&s, rates[r]);
        assert_int_equal(gen_schedule_deadline(&s, 0), 0);
        assert_int_equal(gen_schedule_due(&s, 0), 1); /* the first record is due at once */
        int64_t prev = -1;
        for (int64_t i = 0; i < 5000; i += 1 + i / 7) {
            int64_t d = gen_schedule_deadline(&s, i);
            assert_true(d >= prev);
            prev = d;
            /* Record i is due exactly from its deadline on. */
            assert_true(gen_schedule_due(&s, d) >= i + 1);
            if (d > 0)
                assert_true(gen_schedule_due(&s, d - 1) <= i);
            /* And the deadline is i / rate, rounded up to the ns. */
            assert_true(fabs((double)d - (double)i * 1e9 / rates[r]) <= 1.0);
        }
    }
}

static void test_batch_size(void **state)
{
    (void)state;
    gen_schedule_t s;
    gen_schedule_init(&s, 10);
    assert_int_equal(s.batch, 1);
    gen_schedule_init(&s, 1000);
    assert_int_equal(s.batch, 1);
    gen_schedule_init(&s, 1500);
    assert_int_equal(s.batch, 2);
    gen_schedule_init(&s, 100000);
    assert_int_equal(s.batch, 100);
    gen_schedule_init(&s, 1e9);
    assert_int_equal(s.batch, GEN_CHUNK);
    gen_schedule_init(&s, 0);
    assert_int_equal(s.batch, GEN_CHUNK);
    assert_int_equal(gen_schedule_due(&s, 0), INT64_MAX);
}

/* A simulated sender: each send costs per_step + n * per_record ns, each
 * sleep overshoots its target by `late` ns. */
typedef struct {
    int64_t per_step, per_record, late;
    int64_t stall_at, stall_ns; /* one send at this count takes stall_ns more */
} sim_cost_t;

typedef struct {
    int64_t end_ns; /* when the run finished */
    int64_t wakeups, steps;
    int64_t max_send;
    int64_t worst_lag; /* most records ever overdue after a send */
} sim_result_t;

static sim_result_t simulate(double rate, int64_t count, sim_cost_t c)
{
    gen_schedule_t s;
    gen_schedule_init(&s, rate);
    sim_result_t res = {0, 0, 0, 0, 0};
    int64_t now = 0, sent = 0;
    for (int guard = 0; guard < 100000000; guard++) {
        gen_step_t st = gen_schedule_step(&s, sent, count, now);
        if (st.done)
            break;
        if (st.send == 0) {
            assert_true(st.wake_ns > now); /* never a busy loop */
            now = st.wake_ns + c.late;
            res.wakeups++;
            continue;
        }
        res.steps++;
        res.max_send = CORE_MAX(res.max_send, st.send);
        now += c.per_step + st.send * c.per_record;
        if (sent <= c.stall_at && c.stall_at < sent + st.send)
            now += c.stall_ns;
        sent += st.send;
        int64_t due = CORE_MIN(gen_schedule_due(&s, now), count);
        res.worst_lag = CORE_MAX(res.worst_lag, due - sent);
    }
    assert_int_equal(sent, count);
    res.end_ns = now;
    return res;
}

static void test_simulated_rates(void **state)
{
    (void)state;
    /* 2 us per send call, 300 ns per record (about 3M records/s), and
     * sleeps that wake 80 us late: a loaded machine. */
    sim_cost_t c = {2000, 300, 80000, -1, 0};
    static const double sim_rates[] = {10, 1000, 100000, 1000000};
    for (size_t r = 0; r < CORE_ARRAY_LEN(sim_rates); r++) {
        double rate = sim_rates[r];
        int64_t count = (int64_t)(rate * 5); /* five seconds */
        sim_result_t res = simulate(rate, count, c);
        double achieved = (double)count / ((double)res.end_ns / 1e9);
        if (fabs(achieved - rate) / rate > 0.02)
            fail_msg("rate %g: achieved %g", rate, achieved);
        /* At most about one wake-up per record at low rates and per
         * millisecond at high ones. */
        assert_true(res.wakeups <= CORE_MIN(count, 5 * 1000 + 10) + 1);
        /* The sender never falls more than a batch and a wake-up behind. */
        assert_true(res.worst_lag <= (int64_t)ceil(rate * 1e-3) + (int64_t)ceil(rate * 1e-4) + 2);
    }
}

static void test_no_drift(void **state)
{
    (void)state;
    const double rate = 1000;
    const int64_t count = 10000;
    sim_cost_t smooth = {2000, 300, 50000, -1, 0};
    sim_cost_t stalled = smooth;
    stalled.stall_at = 3000;
    stalled.stall_ns = 500000000; /* half a second */
    sim_result_t a = simulate(rate, count, smooth), b = simulate(rate, count, stalled);
    /* The stall is made up: both runs end on the same schedule. */
    assert_true(llabs(a.end_ns - b.end_ns) < 1000000);
    /* Right after it the overdue records go out together. */
    assert_true(b.max_send >= 400);
}

static void test_overloaded(void **state)
{
    (void)state;
    /* 10 us a record cannot keep 1M/s: it sends what is due, in chunks,
     * and never sleeps until the count is reached. */
    sim_cost_t slow = {2000, 10000, 0, -1, 0};
    sim_result_t res = simulate(1000000, 200000, slow);
    assert_int_equal(res.wakeups, 0);
    assert_true(res.max_send <= GEN_CHUNK);
    /* Unlimited: chunks of GEN_CHUNK, no sleeping at all. */
    res = simulate(0, 100000, slow);
    assert_int_equal(res.wakeups, 0);
    assert_int_equal(res.max_send, GEN_CHUNK);
}

static void test_count_edges(void **state)
{
    (void)state;
    gen_schedule_t s;
    gen_schedule_init(&s, 10);
    gen_step_t st = gen_schedule_step(&s, 0, 0, 0);
    assert_true(st.done);
    /* With the count reached it waits for the run's end: 5 records at 10/s
     * take half a second. */
    st = gen_schedule_step(&s, 5, 5, 450000000);
    assert_false(st.done);
    assert_int_equal(st.send, 0);
    assert_int_equal(st.wake_ns, 500000000);
    st = gen_schedule_step(&s, 5, 5, 500000000);
    assert_true(st.done);
    /* Unbounded counts never finish. */
    st = gen_schedule_step(&s, 1000, -1, 199000000000LL);
    assert_false(st.done);
    assert_true(st.send > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_and_deadline_agree),
        cmocka_unit_test(test_batch_size),
        cmocka_unit_test(test_simulated_rates),
        cmocka_unit_test(test_no_drift),
        cmocka_unit_test(test_overloaded),
        cmocka_unit_test(test_count_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of the job runner, with sql jobs (the simplest kind) so that
 * the tests exercise tracking, not the kinds: run_now's states and
 * lineage, templates, a failing run and its retries with backoff under the
 * scheduler, `after` ordering, the claim that keeps two runs of a job
 * apart (also when claims race), recovery of a run a crash left running,
 * and catch-up of missed fire times.
 *
 * Each test has a store of its own: a fresh SQLite file, or with a
 * PostgreSQL URL as argv[1] (tests/batch_runner.cmake, through
 * integration/pg/with_pg.sh) a fresh database on that server. Two tests
 * whose SQL is SQLite's (AUTOINCREMENT and group_concat; a trigger) run on
 * SQLite only.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch/batch.h"
#include "batch/run_int.h"
#include "core/core.h"
#include "store/store.h"

typedef struct {
    char dir[256];
    char db[64]; /* PostgreSQL: the test's database */
    char url[600];
    store_t *s;
} fx_t;

static const char *g_pg; /* argv[1]: a PostgreSQL server's URL, or NULL */
static int g_dbs;

/* Runs one statement on the server's own database (g_pg). */
static void pg_admin(const char *sql)
{
    store_t *a = NULL;
    assert_int_equal(store_open(g_pg, &a), 0);
    int rc = store_exec(a, sql, NULL, 0, NULL, NULL, NULL);
    if (rc != 0)
        print_error("%s: %s\n", sql, core_error_detail());
    assert_int_equal(rc, 0);
    store_close(a);
}

/* g_pg with its database name replaced by DB (and its query kept). */
static void pg_url_for(const char *db, char *out, size_t n)
{
    const char *host = strstr(g_pg, "://");
    assert_non_null(host);
    const char *path = strchr(host + 3, '/'), *query = strchr(host + 3, '?');
    if (path == NULL || (query != NULL && path > query))
        path = query != NULL ? query : g_pg + strlen(g_pg);
    assert_true((size_t)snprintf(out, n, "%.*s/%s%s", (int)(path - g_pg), g_pg, db,
                                 query != NULL ? query : "") < n);
}

static void fx_open(fx_t *f)
{
    snprintf(f->dir, sizeof f->dir, "%s/strata-runner-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    if (g_pg != NULL) {
        char sql[128];
        snprintf(f->db, sizeof f->db, "strata_runner_%ld_%d", (long)getpid(), g_dbs++);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", f->db);
        pg_admin(sql);
        pg_url_for(f->db, f->url, sizeof f->url);
    } else {
        f->db[0] = '\0';
        snprintf(f->url, sizeof f->url, "sqlite:%s/store.db", f->dir);
    }
    assert_int_equal(store_open(f->url, &f->s), 0);
    assert_int_equal(store_migrate(f->s), 0);
}

static void fx_close(fx_t *f)
{
    store_close(f->s);
    if (f->db[0] != '\0') {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", f->db);
        pg_admin(sql);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static int one_int(void *arg, const schema_value_t *v, size_t n)
{
    if (n >= 1 && v[0].type == SCHEMA_INT)
        *(int64_t *)arg = v[0].v.i;
    return 0;
}

static int64_t q_int(fx_t *f, const char *sql)
{
    int64_t x = -1;
    assert_int_equal(store_exec(f->s, sql, NULL, 0, one_int, &x, NULL), 0);
    return x;
}

static int one_text(void *arg, const schema_value_t *v, size_t n)
{
    if (n >= 1 && v[0].type == SCHEMA_STRING)
        snprintf(arg, 512, "%.*s", (int)v[0].v.s.len, v[0].v.s.p);
    return 0;
}

static void q_text(fx_t *f, const char *sql, char out[512])
{
    out[0] = '\0';
    assert_int_equal(store_exec(f->s, sql, NULL, 0, one_text, out, NULL), 0);
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (up to 20 s) until the query's integer equals want. */
static bool wait_int(fx_t *f, const char *sql, int64_t want)
{
    for (int i = 0; i < 2000; i++) {
        if (q_int(f, sql) == want)
            return true;
        nap_ms(10);
    }
    return false;
}

static batch_job_def_t sql_job(const char *name, const char *const *sql, size_t n)
{
    return (batch_job_def_t){
        .name = name,
        .kind = BATCH_KIND_SQL,
        .max_attempts = 1,
        .sql = sql,
        .nsql = n,
    };
}

static batch_runner_t *runner(fx_t *f, const batch_job_def_t *jobs, size_t n)
{
    batch_env_t env = {.store_url = f->url};
    batch_runner_t *r = NULL;
    assert_int_equal(batch_runner_create(&env, jobs, n, &r), 0);
    return r;
}

/* run_now: completed, with counts, lineage, the interval from params and
 * templates expanded in it. */
static void test_run_now_tracks_the_run(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    static const char *const sql[] = {
        "CREATE TABLE IF NOT EXISTS daily (day TEXT PRIMARY KEY, start_us BIGINT)",
        "INSERT INTO daily VALUES ('{{ds}}', {{interval_start_us}}), ('{{next_ds}}', "
        "{{interval_end_us}}) ON CONFLICT (day) DO UPDATE SET start_us = excluded.start_us",
    };
    batch_job_def_t j = sql_job("daily", sql, 2);
    batch_runner_t *r = runner(&f, &j, 1);
    batch_param_t p[] = {{"from", "2026-02-28T00:00:00Z"}, {"to", "2026-03-01T00:00:00Z"}};
    int64_t id = 0;
    assert_int_equal(batch_run_now(r, "daily", p, 2, &id), 0);
    assert_true(id > 0);
    char text[512];
    q_text(&f, "SELECT state FROM job_runs", text);
    assert_string_equal(text, "completed");
    assert_int_equal(q_int(&f, "SELECT rows_out FROM job_runs"), 2);
    assert_int_equal(q_int(&f, "SELECT logical_date FROM job_runs"), 1772236800000000LL);
    assert_int_equal(q_int(&f, "SELECT interval_end FROM job_runs"), 1772323200000000LL);
    assert_int_equal(q_int(&f, "SELECT start_us FROM daily WHERE day = '2026-02-28'"),
                     1772236800000000LL);
    assert_int_equal(q_int(&f, "SELECT COUNT(*) FROM daily WHERE day = '2026-03-01'"), 1);
    q_text(&f, "SELECT lineage FROM job_runs", text);
    assert_non_null(strstr(text, "\"outputs\":[{\"kind\":\"sql\",\"name\":\"statement 1\""));
    assert_true(q_int(&f, "SELECT duration_ms FROM job_runs") >= 0);
    assert_true(q_int(&f, "SELECT finished_at - started_at FROM job_runs") >= 0);
    batch_runner_destroy(r);
    fx_close(&f);
}

/* A failing run_now: failed, error recorded, the transaction rolled back. */
static void test_run_now_failure_rolls_back(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    assert_int_equal(store_exec(f.s, "CREATE TABLE t (x INTEGER)", NULL, 0, NULL, NULL, NULL), 0);
    static const char *const sql[] = {"INSERT INTO t VALUES (1)", "INSERT INTO missing VALUES (2)"};
    batch_job_def_t j = sql_job("bad", sql, 2);
    batch_runner_t *r = runner(&f, &j, 1);
    int64_t id = 0;
    assert_int_not_equal(batch_run_now(r, "bad", NULL, 0, &id), 0);
    char text[512];
    q_text(&f, "SELECT state FROM job_runs", text);
    assert_string_equal(text, "failed");
    q_text(&f, "SELECT error FROM job_runs", text);
    assert_non_null(strstr(text, "statement 2"));
    assert_int_equal(q_int(&f, "SELECT COUNT(*) FROM t"), 0);
    batch_runner_destroy(r);
    fx_close(&f);
}

/* Unknown templates and parameter values that could inject SQL fail. */
static void test_templates_refuse_bad_input(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    static const char *const sql1[] = {"SELECT '{{nope}}'"};
    static const char *const sql2[] = {"SELECT '{{params.who}}'"};
    batch_job_def_t jobs[] = {sql_job("a", sql1, 1), sql_job("b", sql2, 1)};
    batch_runner_t *r = runner(&f, jobs, 2);
    assert_int_equal(batch_run_now(r, "a", NULL, 0, NULL), CORE_EINVAL);
    batch_param_t p[] = {{"who", "x'; DROP TABLE job_runs; --"}};
    assert_int_equal(batch_run_now(r, "b", p, 1, NULL), CORE_EINVAL);
    batch_param_t ok[] = {{"who", "alice 2"}};
    assert_int_equal(batch_run_now(r, "b", ok, 1, NULL), 0);
    batch_runner_destroy(r);
    fx_close(&f);
}

/* Under the scheduler, a failing triggered run goes to retrying, waits its
 * backoff, and completes once its cause is fixed; attempt counts up. */
static void test_retry_with_backoff(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    static const char *const sql[] = {"INSERT INTO later VALUES (1)"};
    batch_job_def_t j = sql_job("retry", sql, 1);
    j.max_attempts = 5;
    j.retry_backoff_ms = 200;
    batch_runner_t *r = runner(&f, &j, 1);
    int64_t id;
    assert_int_equal(batch_runner_trigger(r, "retry", NULL, 0, &id), 0);
    assert_int_equal(batch_runner_start(r), 0);
    assert_true(wait_int(&f, "SELECT COUNT(*) FROM job_runs WHERE state = 'retrying'", 1));
    int64_t failed_at = q_int(&f, "SELECT finished_at FROM job_runs");
    assert_int_equal(store_exec(f.s, "CREATE TABLE later (x INTEGER)", NULL, 0, NULL, NULL, NULL),
                     0);
    assert_true(wait_int(&f, "SELECT COUNT(*) FROM job_runs WHERE state = 'completed'", 1));
    int64_t attempt = q_int(&f, "SELECT attempt FROM job_runs");
    assert_true(attempt >= 2);
    /* Retried no sooner than the backoff after the failure (backoff doubles
     * per attempt: the last start is at least 200 ms after the first
     * failure). */
    assert_true(q_int(&f, "SELECT started_at FROM job_runs") - failed_at >= 200 * 1000);
    assert_int_equal(q_int(&f, "SELECT COUNT(*) FROM later"), 1);
    batch_runner_destroy(r);
    fx_close(&f);
}

/* The last attempt failing leaves the run failed. */
static void test_attempts_run_out(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    static const char *const sql[] = {"INSERT INTO never VALUES (1)"};
    batch_job_def_t j = sql_job("doomed", sql, 1);
    j.max_attempts = 3;
    j.retry_backoff_ms = 10;
    batch_runner_t *r = runner(&f, &j, 1);
    assert_int_equal(batch_runner_trigger(r, "doomed", NULL, 0, NULL), 0);
    assert_int_equal(batch_runner_start(r), 0);
    assert_true(wait_int(&f, "SELECT COUNT(*) FROM job_runs WHERE state = 'failed'", 1));
    assert_int_equal(q_int(&f, "SELECT attempt FROM job_runs"), 3);
    batch_runner_destroy(r);
    fx_close(&f);
}

/* `after`: b waits for a's run of the same logical date although b was
 * queued first; b fails when a fails. */
static void test_after_orders_runs(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    assert_int_equal(store_exec(f.s,
                                "CREATE TABLE seq (n INTEGER PRIMARY KEY AUTOINCREMENT, "
                                "who TEXT)",
                                NULL, 0, NULL, NULL, NULL),
                     0);
    static const char *const sa[] = {"INSERT INTO seq (who) VALUES ('a')"};
    static const char *const sb[] = {"INSERT INTO seq (who) VALUES ('b')"};
    static const char *const after_a[] = {"a"};
    batch_job_def_t jobs[] = {sql_job("a", sa, 1), sql_job("b", sb, 1)};
    jobs[1].after = after_a;
    jobs[1].nafter = 1;
    batch_runner_t *r = runner(&f, jobs, 2);
    batch_param_t p[] = {{"from", "2026-11-01"}, {"to", "2026-11-02"}};
    assert_int_equal(batch_runner_trigger(r, "b", p, 2, NULL), 0);
    assert_int_equal(batch_runner_trigger(r, "a", p, 2, NULL), 0);
    assert_int_equal(batch_runner_start(r), 0);
    assert_true(wait_int(&f, "SELECT COUNT(*) FROM job_runs WHERE state = 'completed'", 2));
    char text[512];
    q_text(&f, "SELECT group_concat(who, '') FROM (SELECT who FROM seq ORDER BY n)", text);
    assert_string_equal(text, "ab");
    batch_runner_destroy(r);
    fx_close(&f);
}

static void test_after_cycle_refused(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    static const char *const s[] = {"SELECT 1"};
    static const char *const ab[] = {"b"}, *const ba[] = {"a"};
    batch_job_def_t jobs[] = {sql_job("a", s, 1), sql_job("b", s, 1)};
    jobs[0].after = ab;
    jobs[0].nafter = 1;
    jobs[1].after = ba;
    jobs[1].nafter = 1;
    batch_env_t env = {.store_url = f.url};
    batch_runner_t *r = NULL;
    assert_int_equal(batch_runner_create(&env, jobs, 2, &r), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "cycle"));
    fx_close(&f);
}

/* A second claim while a run of the job is running is refused. */
static void test_one_running_run_per_job(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    static const char *const s[] = {"SELECT 1"};
    batch_job_def_t j = sql_job("solo", s, 1);
    batch_runner_t *r = runner(&f, &j, 1);
    /* Running in a live process (this one): the job is busy. */
    char host[256] = "", sql[600];
    assert_int_equal(gethostname(host, sizeof host - 1), 0);
    snprintf(sql, sizeof sql,
             "INSERT INTO job_runs (job, state, attempt, owner) VALUES ('solo', 'running', 1, "
             "'%s:%ld')",
             host, (long)getpid());
    assert_int_equal(store_exec(f.s, sql, NULL, 0, NULL, NULL, NULL), 0);
    assert_int_equal(batch_run_now(r, "solo", NULL, 0, NULL), CORE_EEXIST);
    /* The index refuses a second running row outright. */
    assert_int_not_equal(store_exec(f.s,
                                    "INSERT INTO job_runs (job, state, attempt) VALUES "
                                    "('solo', 'running', 1)",
                                    NULL, 0, NULL, NULL, NULL),
                         0);
    /* Owned by a process of this host that is gone: recovered, then run. */
    snprintf(sql, sizeof sql, "UPDATE job_runs SET owner = '%s:999999999' WHERE state = 'running'",
             host);
    assert_int_equal(store_exec(f.s, sql, NULL, 0, NULL, NULL, NULL), 0);
    assert_int_equal(batch_run_now(r, "solo", NULL, 0, NULL), 0);
    assert_int_equal(q_int(&f, "SELECT COUNT(*) FROM job_runs WHERE state = 'failed' AND error "
                               "LIKE 'interrupted%'"),
                     1);
    /* Owned by another host: left alone, the job stays busy. */
    assert_int_equal(store_exec(f.s,
                                "INSERT INTO job_runs (job, state, attempt, owner) VALUES "
                                "('solo', 'running', 1, 'elsewhere.example:1')",
                                NULL, 0, NULL, NULL, NULL),
                     0);
    assert_int_equal(batch_run_now(r, "solo", NULL, 0, NULL), CORE_EEXIST);
    batch_runner_destroy(r);
    fx_close(&f);
}

/* A run a crash left running is retried at start; at its last attempt it
 * is failed instead. */
static void test_interrupted_run_recovered(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    static const char *const s[] = {"SELECT 1"};
    batch_job_def_t jobs[] = {sql_job("again", s, 1), sql_job("last", s, 1)};
    jobs[0].max_attempts = 2;
    assert_int_equal(store_exec(f.s,
                                "INSERT INTO job_runs (job, state, attempt, logical_date, "
                                "interval_end, params) VALUES ('again', 'running', 1, 0, 1, "
                                "'{}'), ('last', 'running', 1, 0, 1, '{}')",
                                NULL, 0, NULL, NULL, NULL),
                     0);
    batch_runner_t *r = runner(&f, jobs, 2);
    assert_int_equal(batch_runner_start(r), 0);
    assert_true(wait_int(&f,
                         "SELECT COUNT(*) FROM job_runs WHERE job = 'again' AND state = "
                         "'completed' AND attempt = 2",
                         1));
    char text[512];
    q_text(&f, "SELECT state || ':' || error FROM job_runs WHERE job = 'last'", text);
    assert_non_null(strstr(text, "failed:interrupted"));
    batch_runner_destroy(r);
    fx_close(&f);
}

/* catchup: all queues every missed fire time since the last run. */
static void test_catchup_all_and_last(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    static const char *const s[] = {"SELECT 1"};
    batch_job_def_t jobs[] = {sql_job("every", s, 1), sql_job("latest", s, 1)};
    jobs[0].schedule = jobs[1].schedule = "@daily";
    jobs[0].catchup = BATCH_CATCHUP_ALL;
    jobs[1].catchup = BATCH_CATCHUP_LAST;
    int64_t day_us = 86400LL * 1000000;
    int64_t today = core_wall_us() / day_us * day_us;
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO job_runs (job, state, attempt, logical_date, interval_end, params) "
             "VALUES ('every', 'completed', 1, %lld, %lld, '{}'), ('latest', 'completed', 1, "
             "%lld, %lld, '{}')",
             (long long)(today - 4 * day_us), (long long)(today - 3 * day_us),
             (long long)(today - 4 * day_us), (long long)(today - 3 * day_us));
    assert_int_equal(store_exec(f.s, sql, NULL, 0, NULL, NULL, NULL), 0);
    batch_runner_t *r = runner(&f, jobs, 2);
    assert_int_equal(batch_runner_start(r), 0);
    /* Missed: the fires at today-2d, today-1d and today. */
    assert_true(wait_int(&f,
                         "SELECT COUNT(*) FROM job_runs WHERE job = 'every' AND state = "
                         "'completed'",
                         4));
    assert_true(wait_int(&f,
                         "SELECT COUNT(*) FROM job_runs WHERE job = 'latest' AND state = "
                         "'completed'",
                         2));
    snprintf(sql, sizeof sql, "SELECT MAX(interval_end) FROM job_runs WHERE job = 'latest'");
    assert_int_equal(q_int(&f, sql), today);
    batch_runner_destroy(r);
    fx_close(&f);
}

/* ---- A fire time that comes while the store refuses the run's insert is
 * queued once the store takes it again (it used to move on regardless, and
 * that interval was never run). The scheduler's clock is the test's; a
 * trigger logs each insert of a run and drops it (RAISE(IGNORE): the
 * insert returns no id, which the runner takes as a store failure). */

static _Atomic int64_t fake_now;

static int64_t fake_clock(void *arg)
{
    (void)arg;
    return atomic_load(&fake_now);
}

static void test_fire_survives_a_store_outage(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    int64_t boundary = core_wall_ms() / 1000 / 60 * 60; /* a minute */
    atomic_store(&fake_now, boundary - 30);
    static const char *const s[] = {"SELECT 1"};
    batch_job_def_t job = sql_job("minutely", s, 1);
    job.schedule = "* * * * *";
    batch_env_t env = {.store_url = f.url, .clock_s = fake_clock};
    batch_runner_t *r = NULL;
    assert_int_equal(batch_runner_create(&env, &job, 1, &r), 0);
    assert_int_equal(batch_runner_start(r), 0);
    assert_true(wait_int(&f, "SELECT COUNT(*) FROM jobs WHERE name = 'minutely'", 1));
    assert_int_equal(store_exec(f.s,
                                "CREATE TABLE outage_log (at BIGINT); "
                                "CREATE TRIGGER outage BEFORE INSERT ON job_runs BEGIN "
                                "INSERT INTO outage_log VALUES (NEW.interval_end); "
                                "SELECT RAISE(IGNORE); END",
                                NULL, 0, NULL, NULL, NULL),
                     0);
    atomic_store(&fake_now, boundary + 5); /* the fire at `boundary` has come */
    assert_true(wait_int(&f, "SELECT COUNT(*) > 0 FROM outage_log", 1));
    assert_int_equal(store_exec(f.s, "DROP TRIGGER outage", NULL, 0, NULL, NULL, NULL), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM job_runs WHERE job = 'minutely' AND interval_end = %lld AND "
             "state = 'completed'",
             (long long)boundary * 1000000);
    assert_true(wait_int(&f, sql, 1));
    assert_int_equal(q_int(&f, "SELECT MIN(at) FROM outage_log"), boundary * 1000000);
    batch_runner_destroy(r);
    fx_close(&f);
}

/* A claim made on a stale snapshot of a retrying run (another process
 * claimed and finished an attempt since) is refused; the current one
 * wins. */
static void test_claim_refuses_a_stale_snapshot(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    int64_t id = -1;
    assert_int_equal(store_exec(f.s,
                                "INSERT INTO job_runs (job, state, attempt) VALUES ('stale', "
                                "'retrying', 2) RETURNING id",
                                NULL, 0, one_int, &id, NULL),
                     0);
    bool won = true;
    /* Seen as retrying at attempt 1: claims attempt 2 again. */
    assert_int_equal(batch_row_claim(f.s, id, "stale", 2, &won), 0);
    assert_false(won);
    assert_int_equal(q_int(&f, "SELECT attempt FROM job_runs WHERE state = 'retrying'"), 2);
    /* Seen as it is. */
    assert_int_equal(batch_row_claim(f.s, id, "stale", 3, &won), 0);
    assert_true(won);
    assert_int_equal(q_int(&f, "SELECT attempt FROM job_runs WHERE state = 'running'"), 3);
    fx_close(&f);
}

/* ---- Recovery racing a claim (processes sharing a store).
 *
 * Two processes starting at once both recover a run a crash left
 * running. If one reads the run as dead, the other recovers and claims it,
 * and the first then applies its stale verdict, the live run is marked
 * interrupted (retrying) and can be claimed a second time. Every thread
 * here recovers each job and claims its run at once; per job exactly one
 * claim may win, and the run must still be running afterwards. */
#define RACE_JOBS    8
#define RACE_THREADS 3
#define RACE_ROUNDS  200

typedef struct {
    const char *url;
    const int64_t *ids; /* RACE_JOBS runs, one per job race<k> */
    pthread_barrier_t *go;
    bool won[RACE_JOBS];
    int errors;
} racer_t;

static void *racer_main(void *arg)
{
    racer_t *x = arg;
    store_t *s = NULL;
    if (store_open(x->url, &s) != 0)
        x->errors++;
    pthread_barrier_wait(x->go);
    for (int k = 0; s != NULL && k < RACE_JOBS; k++) {
        char job[16];
        snprintf(job, sizeof job, "race%d", k);
        int64_t n = 0;
        bool won = false;
        if (batch_rows_recover(s, job, 5, &n) != 0 ||
            batch_row_claim(s, x->ids[k], job, 2, &won) != 0)
            x->errors++;
        x->won[k] = won;
    }
    store_close(s);
    return NULL;
}

static void test_recover_never_steals_a_claimed_run(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char host[256] = "", sql[600], text[512];
    assert_int_equal(gethostname(host, sizeof host - 1), 0);
    int bad = 0;
    for (int round = 0; round < RACE_ROUNDS && bad == 0; round++) {
        assert_int_equal(store_exec(f.s, "DELETE FROM job_runs", NULL, 0, NULL, NULL, NULL), 0);
        int64_t ids[RACE_JOBS];
        for (int k = 0; k < RACE_JOBS; k++) {
            snprintf(sql, sizeof sql,
                     "INSERT INTO job_runs (job, state, attempt, owner) VALUES ('race%d', "
                     "'running', 1, '%s:999999999') RETURNING id",
                     k, host);
            ids[k] = -1;
            assert_int_equal(store_exec(f.s, sql, NULL, 0, one_int, &ids[k], NULL), 0);
        }
        pthread_barrier_t go;
        assert_int_equal(pthread_barrier_init(&go, NULL, RACE_THREADS), 0);
        racer_t x[RACE_THREADS];
        pthread_t t[RACE_THREADS];
        for (int i = 0; i < RACE_THREADS; i++) {
            x[i] = (racer_t){.url = f.url, .ids = ids, .go = &go};
            assert_int_equal(pthread_create(&t[i], NULL, racer_main, &x[i]), 0);
        }
        for (int i = 0; i < RACE_THREADS; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            assert_int_equal(x[i].errors, 0);
        }
        pthread_barrier_destroy(&go);
        for (int k = 0; k < RACE_JOBS; k++) {
            int winners = 0;
            for (int i = 0; i < RACE_THREADS; i++)
                winners += x[i].won[k];
            snprintf(sql, sizeof sql, "SELECT state FROM job_runs WHERE id = %lld",
                     (long long)ids[k]);
            q_text(&f, sql, text);
            if (winners != 1 || strcmp(text, "running") != 0) {
                print_error("round %d job race%d: %d claims won, state %s\n", round, k, winners,
                            text);
                bad++;
            }
        }
    }
    assert_int_equal(bad, 0);
    fx_close(&f);
}

/* ---- Claims racing (processes sharing a store). Each thread claims a
 * pending run of its own of one job at the same moment: exactly one wins,
 * and every other is told it lost (won false, no error). On PostgreSQL the
 * losers' NOT EXISTS can pass side by side, and the partial unique index
 * is what refuses them; that refusal used to come back as an error. */
#define CLAIM_THREADS 4
#define CLAIM_ROUNDS  100

typedef struct {
    const char *url;
    int64_t id;
    pthread_barrier_t *go;
    int rc;
    bool won;
    char detail[256];
} claimer_t;

static void *claimer_main(void *arg)
{
    claimer_t *x = arg;
    store_t *s = NULL;
    x->rc = store_open(x->url, &s);
    pthread_barrier_wait(x->go);
    if (x->rc == 0)
        x->rc = batch_row_claim(s, x->id, "claimed", 1, &x->won);
    if (x->rc != 0)
        snprintf(x->detail, sizeof x->detail, "%s", core_error_detail());
    store_close(s);
    return NULL;
}

static void test_racing_claims_one_winner(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    int bad = 0;
    for (int round = 0; round < CLAIM_ROUNDS && bad == 0; round++) {
        assert_int_equal(store_exec(f.s, "DELETE FROM job_runs", NULL, 0, NULL, NULL, NULL), 0);
        pthread_barrier_t go;
        assert_int_equal(pthread_barrier_init(&go, NULL, CLAIM_THREADS), 0);
        claimer_t x[CLAIM_THREADS];
        pthread_t t[CLAIM_THREADS];
        for (int i = 0; i < CLAIM_THREADS; i++) {
            x[i] = (claimer_t){.url = f.url, .id = -1, .go = &go};
            assert_int_equal(store_exec(f.s,
                                        "INSERT INTO job_runs (job, state, attempt) VALUES "
                                        "('claimed', 'pending', 1) RETURNING id",
                                        NULL, 0, one_int, &x[i].id, NULL),
                             0);
            assert_int_equal(pthread_create(&t[i], NULL, claimer_main, &x[i]), 0);
        }
        int winners = 0;
        for (int i = 0; i < CLAIM_THREADS; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            if (x[i].rc != 0) {
                print_error("round %d claim %d: %s\n", round, i, x[i].detail);
                bad++;
            }
            winners += x[i].won;
        }
        pthread_barrier_destroy(&go);
        int64_t running =
            q_int(&f, "SELECT COUNT(*) FROM job_runs WHERE job = 'claimed' AND state = 'running'");
        if (winners != 1 || running != 1) {
            print_error("round %d: %d claims won, %lld runs running\n", round, winners,
                        (long long)running);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    fx_close(&f);
}

int main(int argc, char **argv)
{
    g_pg = argc > 1 && argv[1][0] != '\0' ? argv[1] : NULL;
    const struct CMUnitTest everywhere[] = {
        cmocka_unit_test(test_run_now_tracks_the_run),
        cmocka_unit_test(test_run_now_failure_rolls_back),
        cmocka_unit_test(test_templates_refuse_bad_input),
        cmocka_unit_test(test_retry_with_backoff),
        cmocka_unit_test(test_attempts_run_out),
        cmocka_unit_test(test_after_cycle_refused),
        cmocka_unit_test(test_one_running_run_per_job),
        cmocka_unit_test(test_interrupted_run_recovered),
        cmocka_unit_test(test_catchup_all_and_last),
        cmocka_unit_test(test_recover_never_steals_a_claimed_run),
        cmocka_unit_test(test_claim_refuses_a_stale_snapshot),
        cmocka_unit_test(test_racing_claims_one_winner),
    };
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test(test_after_orders_runs),
        cmocka_unit_test(test_fire_survives_a_store_outage),
    };
    int failed =
        cmocka_run_group_tests_name(g_pg != NULL ? "postgresql" : "sqlite", everywhere, NULL, NULL);
    if (g_pg == NULL)
        failed += cmocka_run_group_tests_name("sqlite only", sqlite_only, NULL, NULL);
    return failed;
}

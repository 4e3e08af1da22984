/*
 * Connection loss on PostgreSQL: the server dies between two commits.
 *
 * Run under tests/integration/pg/with_pg.sh, which exports
 * STRATA_TEST_PG_URL, STRATA_TEST_PG_DIR and STRATA_TEST_PG_SH. The test
 * commits a batch, crashes the server (pg.sh kill: immediate stop), checks
 * that the next commit fails with CORE_EIO and keeps its batch, that calls
 * keep failing with CORE_EIO while the server is down, restarts the server
 * (pg.sh restart, same port), retries the kept batch, and checks that every
 * row is there exactly once and the offset advanced once. A last commit
 * shows the session (temporary tables) was rebuilt after the reconnect.
 * Without the environment it exits 77 (skipped).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"

static const char *g_url, *g_dir, *g_sh;

static void pg_control(const char *verb)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s '%s'", g_sh, verb, g_dir);
    assert_int_equal(system(cmd), 0);
}

static int grab_int(void *arg, const schema_value_t *values, size_t n)
{
    assert_int_equal(n, 1);
    assert_int_equal(values[0].type, SCHEMA_INT);
    *(int64_t *)arg = values[0].v.i;
    return 0;
}

static int64_t scalar(store_t *s, const char *sql)
{
    int64_t v = -1;
    int rc = store_exec(s, sql, NULL, 0, grab_int, &v, NULL);
    if (rc != 0)
        print_error("scalar: %s\n", core_error_detail());
    assert_int_equal(rc, 0);
    return v;
}

static void add_rows(store_batch_t *b, store_table_t *t, int from, int to)
{
    for (int i = from; i < to; i++) {
        char name[32];
        snprintf(name, sizeof name, "row %d", i);
        schema_value_t v[2] = {{.type = SCHEMA_INT, .v.i = i},
                               {.type = SCHEMA_STRING, .v.s = {name, strlen(name)}}};
        assert_int_equal(store_batch_upsert(b, t, v), 0);
    }
}

static void test_server_crash_and_retry(void **state)
{
    (void)state;
    store_t *s;
    assert_int_equal(store_open(g_url, &s), 0);
    assert_int_equal(store_migrate(s), 0);
    static const store_column_t cols[] = {{"id", SCHEMA_INT}, {"name", SCHEMA_STRING}};
    store_table_def_t def = {"loss_rows", cols, 2, 1};
    store_table_t *t;
    assert_int_equal(store_table_open(s, &def, &t), 0);
    int64_t epoch, next, wm;
    assert_int_equal(store_offsets_claim(s, "p", "in", 0, &epoch, &next, &wm), 0);

    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    add_rows(b, t, 0, 100);
    assert_int_equal(store_batch_offset(b, "p", "in", 0, 100, epoch, 0), 0);
    assert_int_equal(store_commit(s, b), 0);

    pg_control("kill");
    add_rows(b, t, 100, 200);
    store_dlq_t d = {.pipeline = "p",
                     .topic = "in",
                     .partition = 0,
                     .offset = 150,
                     .kind = "type",
                     .reason = "bad",
                     .event_time = INT64_MIN};
    assert_int_equal(store_batch_dlq(b, &d), 0);
    assert_int_equal(store_batch_offset(b, "p", "in", 0, 200, epoch, 0), 0);
    assert_int_equal(store_commit(s, b), CORE_EIO);
    assert_null(strstr(core_error_detail(), "password"));
    assert_int_equal(store_batch_rows(b), 101); /* kept for the retry */
    /* While the server is down every call fails the same way. */
    assert_int_equal(store_ping(s), CORE_EIO);
    assert_int_equal(store_commit(s, b), CORE_EIO);
    assert_int_equal(store_batch_rows(b), 101);

    pg_control("restart");
    int rc = store_commit(s, b);
    if (rc != 0)
        print_error("retry: %s\n", core_error_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(store_batch_rows(b), 0);
    assert_int_equal(scalar(s, "SELECT COUNT(*) FROM \"loss_rows\""), 200);
    assert_int_equal(scalar(s, "SELECT COUNT(DISTINCT \"id\") FROM \"loss_rows\""), 200);
    assert_int_equal(scalar(s, "SELECT CAST(SUM(\"id\") AS BIGINT) FROM \"loss_rows\""),
                     199 * 200 / 2);
    assert_int_equal(scalar(s, "SELECT COUNT(*) FROM \"dlq\""), 1);
    assert_int_equal(scalar(s, "SELECT \"next_offset\" FROM \"strata_offsets\""), 200);

    /* The rebuilt session takes further commits (temp tables re-created). */
    add_rows(b, t, 200, 210);
    assert_int_equal(store_batch_offset(b, "p", "in", 0, 210, epoch, 0), 0);
    assert_int_equal(store_commit(s, b), 0);
    assert_int_equal(scalar(s, "SELECT COUNT(*) FROM \"loss_rows\""), 210);

    /* A crash while idle is noticed by the next call, which reconnects
     * once the server is back. */
    pg_control("kill");
    pg_control("restart");
    add_rows(b, t, 210, 220);
    rc = store_commit(s, b);
    if (rc == CORE_EIO) /* the dead socket was found by this call */
        rc = store_commit(s, b);
    assert_int_equal(rc, 0);
    assert_int_equal(scalar(s, "SELECT COUNT(*) FROM \"loss_rows\""), 220);
    store_batch_destroy(b);
    store_close(s);
}

int main(void)
{
    g_url = getenv("STRATA_TEST_PG_URL");
    g_dir = getenv("STRATA_TEST_PG_DIR");
    g_sh = getenv("STRATA_TEST_PG_SH");
    if (g_url == NULL || g_dir == NULL || g_sh == NULL) {
        fprintf(stderr, "pg_loss: run under tests/integration/pg/with_pg.sh; skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_crash_and_retry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The serving store's behaviour suite, run unchanged against each backend.
 *
 * The store comes from argv[1], else STRATA_TEST_STORE_URL, else a fresh
 * SQLite file in a temporary folder. tests/store.cmake runs it once on
 * SQLite and once on a throwaway PostgreSQL (integration/pg/with_pg.sh).
 * Table and pipeline names carry a per-run suffix, so the suite can run
 * again against the same PostgreSQL database.
 *
 * Covered: migrations (concurrently from several connections, then
 * again), identifier rules, table creation / reopen /
 * added column / type and key mismatches, upsert and delete, NULLs and
 * exact round trips of every type, repeated keys in a batch, dlq and
 * anomaly de-duplication, keyed state, offset claims and the epoch fence
 * (a fenced commit applies nothing and keeps the batch), select filters,
 * store_exec parameters (a '?' inside a literal stays as written) and its
 * CORE_EEXIST for a key already there, a 100,000-row batch, and passwords
 * kept out of error details.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>

#include "store/store.h"

static char g_url[4096];
static char g_dir[256];
static char g_run[32]; /* "_r<pid>" */
static store_t *S;

/* ---- Helpers. */

static const char *nm(char *buf, size_t n, const char *base)
{
    snprintf(buf, n, "%s%s", base, g_run);
    return buf;
}

static schema_value_t vint(int64_t i)
{
    return (schema_value_t){.type = SCHEMA_INT, .v.i = i};
}
static schema_value_t vts(int64_t i)
{
    return (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = i};
}
static schema_value_t vflt(double f)
{
    return (schema_value_t){.type = SCHEMA_FLOAT, .v.f = f};
}
static schema_value_t vbool(bool b)
{
    return (schema_value_t){.type = SCHEMA_BOOL, .v.b = b};
}
static schema_value_t vstrn(const char *s, size_t n)
{
    return (schema_value_t){.type = SCHEMA_STRING, .v.s = {s, n}};
}
static schema_value_t vstr(const char *s)
{
    return vstrn(s, strlen(s));
}
static schema_value_t vjson(schema_type_t t, const char *s)
{
    return (schema_value_t){.type = t, .v.s = {s, strlen(s)}};
}
static schema_value_t vnull(void)
{
    return (schema_value_t){.type = SCHEMA_NULL};
}

/* Rows collected from a read: values deep-copied. */
typedef struct {
    size_t nrows, ncols, cap;
    schema_value_t *v;
} rows_t;

static int collect(void *arg, const schema_value_t *values, size_t n)
{
    rows_t *r = arg;
    if (r->nrows == 0 && r->cap == 0)
        r->ncols = n;
    assert_int_equal(n, r->ncols);
    if (r->nrows == r->cap) {
        r->cap = r->cap == 0 ? 16 : r->cap * 2;
        r->v = core_realloc(CORE_MEM_TEST, r->v, r->cap * n * sizeof(*r->v));
        assert_non_null(r->v);
    }
    for (size_t i = 0; i < n; i++) {
        schema_value_t c = values[i];
        if (c.type == SCHEMA_STRING || c.type == SCHEMA_OBJECT || c.type == SCHEMA_ARRAY) {
            char *p = core_alloc(CORE_MEM_TEST, c.v.s.len + 1);
            assert_non_null(p);
            memcpy(p, c.v.s.p, c.v.s.len);
            p[c.v.s.len] = '\0';
            c.v.s.p = p;
        }
        r->v[r->nrows * n + i] = c;
    }
    r->nrows++;
    return 0;
}

static void rows_free(rows_t *r)
{
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        if (r->v[i].type == SCHEMA_STRING || r->v[i].type == SCHEMA_OBJECT ||
            r->v[i].type == SCHEMA_ARRAY)
            core_free((void *)r->v[i].v.s.p);
    core_free(r->v);
    memset(r, 0, sizeof(*r));
}

static const schema_value_t *cell(const rows_t *r, size_t row, size_t col)
{
    assert_true(row < r->nrows && col < r->ncols);
    return &r->v[row * r->ncols + col];
}

static void assert_value_equal(const schema_value_t *a, const schema_value_t *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case SCHEMA_NULL:
        break;
    case SCHEMA_BOOL:
        assert_int_equal(a->v.b, b->v.b);
        break;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        assert_true(a->v.i == b->v.i);
        break;
    case SCHEMA_FLOAT:
        assert_memory_equal(&a->v.f, &b->v.f, sizeof(double));
        break;
    default:
        assert_int_equal(a->v.s.len, b->v.s.len);
        assert_memory_equal(a->v.s.p, b->v.s.p, a->v.s.len);
        break;
    }
}

/* A single integer from SQL (written with ?N parameters). */
static int64_t query_int(const char *sql, const schema_value_t *p, size_t np)
{
    rows_t r = {0};
    int rc = store_exec(S, sql, p, np, collect, &r, NULL);
    if (rc != 0)
        print_error("query_int: %s\n", core_error_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(r.nrows, 1);
    assert_int_equal(cell(&r, 0, 0)->type, SCHEMA_INT);
    int64_t v = cell(&r, 0, 0)->v.i;
    rows_free(&r);
    return v;
}

static int64_t count_table(const char *table)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM \"%s\"", table);
    return query_int(sql, NULL, 0);
}

static void commit_ok(store_batch_t *b)
{
    int rc = store_commit(S, b);
    if (rc != 0)
        print_error("commit: %s\n", core_error_detail());
    assert_int_equal(rc, 0);
    assert_int_equal(store_batch_rows(b), 0);
}

/* A table "kv<run>": id INT key, name STRING, score FLOAT. */
static store_table_t *kv_table(const char *base)
{
    static char name[80];
    static const store_column_t cols[] = {
        {"id", SCHEMA_INT}, {"name", SCHEMA_STRING}, {"score", SCHEMA_FLOAT}};
    store_table_def_t def = {nm(name, sizeof name, base), cols, 3, 1};
    store_table_t *t = NULL;
    int rc = store_table_open(S, &def, &t);
    if (rc != 0)
        print_error("table_open: %s\n", core_error_detail());
    assert_int_equal(rc, 0);
    return t;
}

static void kv_put(store_batch_t *b, store_table_t *t, int64_t id, const char *name, double s)
{
    schema_value_t v[3] = {vint(id), vstr(name), vflt(s)};
    assert_int_equal(store_batch_upsert(b, t, v), 0);
}

static rows_t kv_all(store_table_t *t)
{
    rows_t r = {0};
    assert_int_equal(store_select(S, t, NULL, 0, 0, 0, collect, &r), 0);
    return r;
}

/* ---- Tests. */

/* One of several threads migrating a fresh database and creating the same
 * table at once, each on its own connection. */
static void *migrate_thread(void *arg)
{
    int *rc = arg;
    store_t *s;
    *rc = store_open(g_url, &s);
    if (*rc != 0)
        return NULL;
    char name[80];
    static const store_column_t cols[] = {{"id", SCHEMA_INT}, {"v", SCHEMA_STRING}};
    store_table_def_t d = {nm(name, sizeof name, "race"), cols, 2, 1};
    store_table_t *t;
    *rc = store_migrate(s);
    if (*rc == 0)
        *rc = store_table_open(s, &d, &t);
    if (*rc != 0)
        fprintf(stderr, "migrate_thread: %s\n", core_error_detail());
    store_close(s);
    return NULL;
}

static void test_migrate_concurrently(void **state)
{
    (void)state;
    enum { THREADS = 4 };
    pthread_t th[THREADS];
    int rc[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, migrate_thread, &rc[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rc[i], 0);
    }
    /* Each step applied once, however many threads raced. */
    assert_int_equal(query_int("SELECT COUNT(*) FROM \"strata_migrations\"", NULL, 0),
                     query_int("SELECT MAX(\"version\") FROM \"strata_migrations\"", NULL, 0));
}

static void test_migrate_twice(void **state)
{
    (void)state;
    assert_int_equal(store_migrate(S), 0);
    assert_int_equal(store_migrate(S), 0);
    int64_t steps = query_int("SELECT COUNT(*) FROM \"strata_migrations\"", NULL, 0);
    assert_true(steps >= 2);
    assert_int_equal(query_int("SELECT MAX(\"version\") FROM \"strata_migrations\"", NULL, 0),
                     steps);
    static const char *const tables[] = {"strata_offsets", "strata_state", "strata_views", "dlq",
                                         "anomalies",      "jobs",         "job_runs"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        assert_true(count_table(tables[i]) >= 0);
    /* The quoted keyword columns exist. */
    assert_int_equal(
        store_exec(S, "SELECT \"partition\", \"offset\" FROM \"dlq\"", NULL, 0, NULL, NULL, NULL),
        0);
    assert_int_equal(store_ping(S), 0);
}

static void test_identifiers(void **state)
{
    (void)state;
    assert_int_equal(store_ident_check("orders", "table"), 0);
    assert_int_equal(store_ident_check("_x9", "column"), 0);
    char long63[64], long64[65];
    memset(long63, 'a', 63);
    long63[63] = '\0';
    memset(long64, 'a', 64);
    long64[64] = '\0';
    assert_int_equal(store_ident_check(long63, "table"), 0);
    assert_int_equal(store_ident_check(long64, "table"), CORE_EINVAL);
    static const char *const bad[] = {"",     "9lives", "Orders",      "a-b", "a b",
                                      "a\"b", "a;drop", "caf\xc3\xa9", "a.b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_ident_check(bad[i], "column"), CORE_EINVAL);
    assert_int_equal(store_ident_check(NULL, "table"), CORE_EINVAL);
    assert_int_equal(store_ident_check("a-b", "column"), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "column"));

    static const char *const reserved[] = {"dlq",      "anomalies",    "jobs",
                                           "job_runs", "strata_views", "strata_x"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        assert_true(store_ident_reserved(reserved[i]));
    assert_false(store_ident_reserved("orders"));
    assert_false(store_ident_reserved("stratax"));

    core_buf_t q;
    core_buf_init(&q, CORE_MEM_TEST, 256);
    assert_int_equal(store_quote_ident("a\"b", &q), 0);
    assert_int_equal(q.len, 6);
    assert_memory_equal(q.data, "\"a\"\"b\"", 6);
    core_buf_fini(&q);

    /* Definitions that table_open refuses. */
    store_column_t cols[] = {{"id", SCHEMA_INT}, {"v", SCHEMA_STRING}};
    store_table_t *t;
    store_table_def_t d = {"dlq", cols, 2, 1};
    assert_int_equal(store_table_open(S, &d, &t), CORE_EINVAL);
    d.name = "strata_mine";
    assert_int_equal(store_table_open(S, &d, &t), CORE_EINVAL);
    d.name = "Bad";
    assert_int_equal(store_table_open(S, &d, &t), CORE_EINVAL);
    d.name = "okname";
    d.npk = 0;
    assert_int_equal(store_table_open(S, &d, &t), CORE_EINVAL);
    d.npk = 3;
    assert_int_equal(store_table_open(S, &d, &t), CORE_EINVAL);
    d.npk = 1;
    cols[1].name = "id";
    assert_int_equal(store_table_open(S, &d, &t), CORE_EINVAL);
    cols[1].name = "v-x";
    assert_int_equal(store_table_open(S, &d, &t), CORE_EINVAL);
    cols[1].name = "v";
    cols[1].type = SCHEMA_NULL;
    assert_int_equal(store_table_open(S, &d, &t), CORE_EINVAL);
}

static void test_table_lifecycle(void **state)
{
    (void)state;
    char name[80];
    nm(name, sizeof name, "life");
    store_column_t cols[] = {{"k", SCHEMA_STRING}, {"n", SCHEMA_INT}, {"extra", SCHEMA_FLOAT}};
    store_table_def_t d = {name, cols, 2, 1};
    store_table_t *t1, *t2;
    assert_int_equal(store_table_open(S, &d, &t1), 0);
    assert_int_equal(store_table_open(S, &d, &t2), 0);
    assert_ptr_equal(t1, t2);
    assert_string_equal(store_table_def(t1)->name, name);
    assert_int_equal(store_table_def(t1)->ncolumns, 2);

    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    schema_value_t row[3] = {vstr("a"), vint(1), vflt(2.5)};
    assert_int_equal(store_batch_upsert(b, t1, row), 0);
    commit_ok(b);

    /* A second connection: the table exists; add a column. */
    store_t *s2;
    assert_int_equal(store_open(g_url, &s2), 0);
    store_table_t *w;
    d.ncolumns = 3;
    assert_int_equal(store_table_open(s2, &d, &w), 0);
    rows_t r = {0};
    assert_int_equal(store_select(s2, w, NULL, 0, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 1);
    assert_int_equal(cell(&r, 0, 2)->type, SCHEMA_NULL);
    rows_free(&r);
    row[0] = vstr("b");
    assert_int_equal(store_batch_upsert(b, w, row), 0);
    assert_int_equal(store_commit(s2, b), 0);
    assert_int_equal(store_select(s2, w, NULL, 0, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 2);
    schema_value_t want = vflt(2.5);
    assert_value_equal(cell(&r, 1, 2), &want);
    rows_free(&r);

    /* The same column with another type, and another primary key. */
    store_column_t bad[] = {{"k", SCHEMA_STRING}, {"n", SCHEMA_STRING}};
    store_table_def_t db = {name, bad, 2, 1};
    assert_int_equal(store_table_open(s2, &db, &w), CORE_ECORRUPT);
    assert_non_null(strstr(core_error_detail(), name));
    store_column_t pk2[] = {{"k", SCHEMA_STRING}, {"n", SCHEMA_INT}};
    store_table_def_t dk = {name, pk2, 2, 2};
    assert_int_equal(store_table_open(s2, &dk, &w), CORE_ECORRUPT);
    store_column_t other[] = {{"n", SCHEMA_INT}, {"k", SCHEMA_STRING}};
    store_table_def_t dn = {name, other, 2, 1};
    assert_int_equal(store_table_open(s2, &dn, &w), CORE_ECORRUPT);
    store_close(s2);
    store_batch_destroy(b);
}

static void test_upsert_and_delete(void **state)
{
    (void)state;
    store_table_t *t = kv_table("kv");
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    for (int i = 1; i <= 5; i++)
        kv_put(b, t, i, "first", i * 1.5);
    assert_int_equal(store_batch_rows(b), 5);
    commit_ok(b);

    kv_put(b, t, 2, "second", -1.0);
    kv_put(b, t, 6, "new", 6.0);
    schema_value_t pk = vint(4);
    assert_int_equal(store_batch_delete(b, t, &pk), 0);
    pk = vint(99); /* deleting what is not there is fine */
    assert_int_equal(store_batch_delete(b, t, &pk), 0);
    commit_ok(b);

    rows_t r = kv_all(t);
    assert_int_equal(r.nrows, 5);
    int64_t ids[] = {1, 2, 3, 5, 6};
    for (size_t i = 0; i < 5; i++)
        assert_true(cell(&r, i, 0)->v.i == ids[i]);
    assert_string_equal(cell(&r, 1, 1)->v.s.p, "second");
    assert_true(cell(&r, 1, 2)->v.f == -1.0);
    assert_string_equal(cell(&r, 0, 1)->v.s.p, "first");
    rows_free(&r);

    /* Delete then re-insert the same key in one batch: deletes go first. */
    pk = vint(1);
    assert_int_equal(store_batch_delete(b, t, &pk), 0);
    kv_put(b, t, 1, "again", 0.0);
    commit_ok(b);
    r = kv_all(t);
    assert_int_equal(r.nrows, 5);
    assert_string_equal(cell(&r, 0, 1)->v.s.p, "again");
    rows_free(&r);

    /* Values of the wrong type, NULL keys and bad text are refused. */
    schema_value_t bad[3] = {vstr("x"), vstr("n"), vflt(1)};
    assert_int_equal(store_batch_upsert(b, t, bad), CORE_EINVAL);
    schema_value_t nullkey[3] = {vnull(), vstr("n"), vflt(1)};
    assert_int_equal(store_batch_upsert(b, t, nullkey), CORE_EINVAL);
    schema_value_t nul[3] = {vint(7), vstrn("a\0b", 3), vflt(1)};
    assert_int_equal(store_batch_upsert(b, t, nul), CORE_EINVAL);
    schema_value_t utf[3] = {vint(7), vstr("\xff\xfe"), vflt(1)};
    assert_int_equal(store_batch_upsert(b, t, utf), CORE_EINVAL);
    assert_int_equal(store_batch_rows(b), 0);
    /* Ints are accepted for float columns. */
    schema_value_t ok[3] = {vint(7), vstr("int"), vint(3)};
    assert_int_equal(store_batch_upsert(b, t, ok), 0);
    commit_ok(b);
    schema_value_t f = {.type = SCHEMA_INT, .v.i = 7};
    store_filter_t eq = {"id", STORE_EQ, f};
    assert_int_equal(store_select(S, t, &eq, 1, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 1);
    schema_value_t three = vflt(3.0);
    assert_value_equal(cell(&r, 0, 2), &three);
    rows_free(&r);
    store_batch_destroy(b);
}

static const store_column_t ALL_COLS[] = {
    {"id", SCHEMA_INT},   {"b", SCHEMA_BOOL},       {"i", SCHEMA_INT},      {"f", SCHEMA_FLOAT},
    {"s", SCHEMA_STRING}, {"ts", SCHEMA_TIMESTAMP}, {"obj", SCHEMA_OBJECT}, {"arr", SCHEMA_ARRAY},
};
#define NALL (sizeof ALL_COLS / sizeof ALL_COLS[0])

static void test_types_round_trip(void **state)
{
    (void)state;
    char name[80];
    store_table_def_t d = {nm(name, sizeof name, "types"), ALL_COLS, NALL, 1};
    store_table_t *t;
    assert_int_equal(store_table_open(S, &d, &t), 0);
    static const char tricky[] = "tab\there\nnew line\r\\back\\slash 'single' \"double\" "
                                 "\\N \\x00 caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
                                 "\xf0\x9f\x98\x80 ?1 $1 %s";
    schema_value_t rows[][NALL] = {
        {vint(1), vbool(true), vint(INT64_MAX), vflt(0.1), vstr(tricky), vts(0), vnull(), vnull()},
        {vint(2), vbool(false), vint(INT64_MIN), vflt(-1e308), vstr(""), vts(INT64_MAX),
         vjson(SCHEMA_OBJECT, "{\"a\":[1,2],\"b\":\"x\\ty\"}"),
         vjson(SCHEMA_ARRAY, "[1,\"two\",null]")},
        {vint(3), vbool(true), vint(-1), vflt(5e-324), vstr("\\"), vts(-1234567890123456), vnull(),
         vnull()},
        {vint(4), vbool(false), vint(0), vflt(3.141592653589793), vstr("x"), vts(1763776000123456),
         vnull(), vnull()},
        {vint(5), vbool(true), vint(42), vflt(INFINITY), vstr("\\\\N"), vts(INT64_MIN + 1), vnull(),
         vnull()},
        {vint(6), vnull(), vnull(), vnull(), vnull(), vnull(), vnull(), vnull()},
        {vint(INT64_MIN), vbool(true), vint(1), vflt(-INFINITY), vstr("min"), vts(1), vnull(),
         vnull()},
        {vint(INT64_MAX), vbool(false), vint(2), vflt(1.7976931348623157e308), vstr("max"), vts(2),
         vnull(), vnull()},
    };
    size_t n = sizeof rows / sizeof rows[0];
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(store_batch_upsert(b, t, rows[i]), 0);
    commit_ok(b);
    store_batch_destroy(b);

    rows_t r = {0};
    assert_int_equal(store_select(S, t, NULL, 0, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, n);
    /* ORDER BY id: INT64_MIN first, INT64_MAX last, the rest by id. */
    size_t order[] = {6, 0, 1, 2, 3, 4, 5, 7};
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < NALL; c++)
            assert_value_equal(cell(&r, i, c), &rows[order[i]][c]);
    rows_free(&r);

    /* NaN is stored as NULL on both backends. */
    schema_value_t nanrow[NALL] = {vint(9), vnull(), vnull(), vflt(NAN),
                                   vnull(), vnull(), vnull(), vnull()};
    assert_int_equal(store_batch_create(&b), 0);
    assert_int_equal(store_batch_upsert(b, t, nanrow), 0);
    commit_ok(b);
    store_batch_destroy(b);
    store_filter_t f = {"id", STORE_EQ, vint(9)};
    assert_int_equal(store_select(S, t, &f, 1, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 1);
    assert_int_equal(cell(&r, 0, 3)->type, SCHEMA_NULL);
    rows_free(&r);
}

static void test_repeated_key_rejected(void **state)
{
    (void)state;
    store_table_t *t = kv_table("dup");
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    kv_put(b, t, 1, "a", 1);
    kv_put(b, t, 2, "b", 2);
    kv_put(b, t, 1, "c", 3);
    assert_int_equal(store_commit(S, b), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), store_table_def(t)->name));
    assert_int_equal(store_batch_rows(b), 3); /* kept */
    assert_int_equal(count_table(store_table_def(t)->name), 0);
    store_batch_reset(b);

    schema_value_t pk = vint(5);
    assert_int_equal(store_batch_delete(b, t, &pk), 0);
    assert_int_equal(store_batch_delete(b, t, &pk), 0);
    assert_int_equal(store_commit(S, b), CORE_EINVAL);
    store_batch_reset(b);

    /* Composite keys: differing in the second column are distinct. */
    char name[80];
    store_column_t cols[] = {{"a", SCHEMA_STRING}, {"b", SCHEMA_INT}, {"v", SCHEMA_INT}};
    store_table_def_t d = {nm(name, sizeof name, "dup2"), cols, 3, 2};
    store_table_t *t2;
    assert_int_equal(store_table_open(S, &d, &t2), 0);
    schema_value_t r1[3] = {vstr("x"), vint(1), vint(10)};
    schema_value_t r2[3] = {vstr("x"), vint(2), vint(20)};
    schema_value_t r3[3] = {vstr("y"), vint(1), vint(30)};
    assert_int_equal(store_batch_upsert(b, t2, r1), 0);
    assert_int_equal(store_batch_upsert(b, t2, r2), 0);
    assert_int_equal(store_batch_upsert(b, t2, r3), 0);
    commit_ok(b);
    assert_int_equal(count_table(name), 3);
    store_batch_destroy(b);
}

static void test_dlq_once(void **state)
{
    (void)state;
    char pipe[80];
    nm(pipe, sizeof pipe, "dlqpipe");
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    static const char raw_key[] = {'k', 0, (char)0xff, '\n'};
    static const char raw_val[] = "{\"bad\": \xc3\x28 \\ \t}";
    store_dlq_t d = {.pipeline = pipe,
                     .topic = "orders",
                     .partition = 3,
                     .offset = 100,
                     .kind = "type",
                     .reason = "field \"x\": expected int, got \xff",
                     .key = raw_key,
                     .key_len = sizeof raw_key,
                     .value = raw_val,
                     .value_len = sizeof raw_val - 1,
                     .event_time = INT64_MIN};
    assert_int_equal(store_batch_dlq(b, &d), 0);
    store_dlq_t d2 = d;
    d2.offset = 101;
    d2.key = NULL;
    d2.event_time = 5;
    assert_int_equal(store_batch_dlq(b, &d2), 0);
    assert_int_equal(store_batch_dlq(b, &d2), 0); /* repeated within the batch */
    commit_ok(b);

    store_dlq_t again = d;
    again.reason = "second time";
    assert_int_equal(store_batch_dlq(b, &again), 0);
    commit_ok(b);

    schema_value_t p = vstr(pipe);
    assert_int_equal(query_int("SELECT COUNT(*) FROM \"dlq\" WHERE \"pipeline\" = ?1", &p, 1), 2);
    rows_t r = {0};
    assert_int_equal(store_exec(S,
                                "SELECT \"key\", \"value\", \"reason\", \"event_time\", "
                                "\"partition\", \"offset\", \"kind\" FROM \"dlq\" "
                                "WHERE \"pipeline\" = ?1 ORDER BY \"offset\"",
                                &p, 1, collect, &r, NULL),
                     0);
    assert_int_equal(r.nrows, 2);
    schema_value_t k = vstrn(raw_key, sizeof raw_key), v = vstrn(raw_val, sizeof raw_val - 1);
    assert_value_equal(cell(&r, 0, 0), &k);
    assert_value_equal(cell(&r, 0, 1), &v);
    /* The invalid byte in the reason became U+FFFD; the first reason won. */
    assert_string_equal(cell(&r, 0, 2)->v.s.p, "field \"x\": expected int, got \xef\xbf\xbd");
    assert_int_equal(cell(&r, 0, 3)->type, SCHEMA_NULL);
    assert_true(cell(&r, 0, 4)->v.i == 3 && cell(&r, 0, 5)->v.i == 100);
    assert_string_equal(cell(&r, 0, 6)->v.s.p, "type");
    assert_int_equal(cell(&r, 1, 0)->type, SCHEMA_NULL);
    assert_true(cell(&r, 1, 3)->v.i == 5);
    rows_free(&r);
    store_batch_destroy(b);
}

static void test_anomalies_once(void **state)
{
    (void)state;
    char pipe[80];
    nm(pipe, sizeof pipe, "anompipe");
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    schema_value_t p = vstr(pipe);
    rows_t r = {0};
    store_anomaly_t a = {.pipeline = pipe,
                         .rule = "spike",
                         .key = "ACME",
                         .key_len = 4,
                         .event_time = 1000,
                         .value = 99.5,
                         .score = NAN,
                         .detail = "{\"z\":3.2}",
                         .topic = "orders",
                         .partition = 0,
                         .offset = 7};
    assert_int_equal(store_batch_anomaly(b, &a), 0);
    store_anomaly_t a2 = a;
    a2.rule = "drop";
    a2.score = 3.25;
    a2.detail = NULL;
    assert_int_equal(store_batch_anomaly(b, &a2), 0);
    commit_ok(b);
    a.value = 1.0;
    assert_int_equal(store_batch_anomaly(b, &a), 0);
    commit_ok(b);
    assert_int_equal(query_int("SELECT COUNT(*) FROM \"anomalies\" WHERE \"pipeline\" = ?1", &p, 1),
                     2);
    assert_int_equal(store_exec(S,
                                "SELECT \"rule\", \"key\", \"value\", \"score\", \"detail\", "
                                "\"event_time\" FROM \"anomalies\" WHERE \"pipeline\" = ?1 "
                                "ORDER BY \"rule\"",
                                &p, 1, collect, &r, NULL),
                     0);
    assert_int_equal(r.nrows, 2);
    assert_string_equal(cell(&r, 0, 0)->v.s.p, "drop");
    assert_true(cell(&r, 0, 3)->v.f == 3.25);
    assert_int_equal(cell(&r, 0, 4)->type, SCHEMA_NULL);
    assert_string_equal(cell(&r, 1, 1)->v.s.p, "ACME");
    assert_true(cell(&r, 1, 2)->v.f == 99.5); /* the first insert won */
    assert_int_equal(cell(&r, 1, 3)->type, SCHEMA_NULL);
    assert_string_equal(cell(&r, 1, 4)->v.s.p, "{\"z\":3.2}");
    assert_true(cell(&r, 1, 5)->v.i == 1000);
    rows_free(&r);
    store_batch_destroy(b);
}

static void test_state(void **state)
{
    (void)state;
    char pipe[80];
    nm(pipe, sizeof pipe, "statepipe");
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    static const char bin_key[] = {0, 1, 2, (char)0xff};
    static const char bin_state[] = {'s', 0, '\\', '\t'};
    assert_int_equal(store_batch_state(b, pipe, 0, "zscore", "a", 1, "A1", 2), 0);
    assert_int_equal(store_batch_state(b, pipe, 0, "zscore", "b", 1, "B1", 2), 0);
    assert_int_equal(store_batch_state(b, pipe, 0, "zscore", bin_key, sizeof bin_key, bin_state, 4),
                     0);
    assert_int_equal(store_batch_state(b, pipe, 1, "zscore", "a", 1, "P1", 2), 0);
    assert_int_equal(store_batch_state(b, pipe, 0, "count", "", 0, "", 0), 0);
    /* A later operation on the same key replaces the earlier one. */
    assert_int_equal(store_batch_state(b, pipe, 0, "zscore", "b", 1, "B2", 2), 0);
    assert_int_equal(store_batch_rows(b), 5);
    commit_ok(b);

    assert_int_equal(store_batch_state(b, pipe, 0, "zscore", "a", 1, NULL, 0), 0);
    assert_int_equal(store_batch_state(b, pipe, 0, "zscore", "c", 1, "C1", 2), 0);
    assert_int_equal(store_batch_state(b, pipe, 0, "zscore", "c", 1, NULL, 0), 0);
    assert_int_equal(store_batch_state(b, pipe, 0, "zscore", "b", 1, "B3", 2), 0);
    commit_ok(b);

    rows_t r = {0};
    assert_int_equal(store_state_load(S, pipe, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 3);
    schema_value_t want[3][3] = {
        {vstr("count"), vstr(""), vstr("")},
        {vstr("zscore"), vstrn(bin_key, 4), vstrn(bin_state, 4)},
        {vstr("zscore"), vstr("b"), vstr("B3")},
    };
    for (size_t i = 0; i < 3; i++)
        for (size_t c = 0; c < 3; c++)
            assert_value_equal(cell(&r, i, c), &want[i][c]);
    rows_free(&r);
    assert_int_equal(store_state_load(S, pipe, 1, collect, &r), 0);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(cell(&r, 0, 2)->v.s.p, "P1");
    rows_free(&r);
    assert_int_equal(store_state_load(S, pipe, 2, collect, &r), 0);
    assert_int_equal(r.nrows, 0);
    rows_free(&r);
    store_batch_destroy(b);
}

static void test_offsets_and_fence(void **state)
{
    (void)state;
    char pipe[80];
    nm(pipe, sizeof pipe, "fencepipe");
    store_table_t *t = kv_table("fenced");
    const char *tn = store_table_def(t)->name;
    int64_t epoch, next, wm;
    assert_int_equal(store_offsets_claim(S, pipe, "orders", 2, &epoch, &next, &wm), 0);
    assert_true(epoch == 1 && next == 0 && wm == INT64_MIN);

    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    kv_put(b, t, 1, "one", 1);
    assert_int_equal(store_batch_offset(b, pipe, "orders", 2, 50, 1, 1000), 0);
    assert_int_equal(store_batch_offset(b, pipe, "orders", 2, 51, 1, 1000), CORE_EINVAL);
    commit_ok(b);

    /* A new owner claims: the epoch increments, the position is kept. */
    assert_int_equal(store_offsets_claim(S, pipe, "orders", 2, &epoch, &next, &wm), 0);
    assert_true(epoch == 2 && next == 50 && wm == 1000);

    /* The old owner's commit is fenced and applies nothing. */
    kv_put(b, t, 2, "zombie", 2);
    schema_value_t pk = vint(1);
    assert_int_equal(store_batch_delete(b, t, &pk), 0);
    store_dlq_t d = {.pipeline = pipe,
                     .topic = "orders",
                     .partition = 2,
                     .offset = 60,
                     .kind = "late",
                     .reason = "late",
                     .event_time = INT64_MIN};
    assert_int_equal(store_batch_dlq(b, &d), 0);
    assert_int_equal(store_batch_state(b, pipe, 2, "w", "k", 1, "s", 1), 0);
    assert_int_equal(store_batch_offset(b, pipe, "orders", 2, 70, 1, 2000), 0);
    assert_int_equal(store_commit(S, b), CORE_EFAILED);
    assert_non_null(strstr(core_error_detail(), "fenced"));
    assert_int_equal(store_batch_rows(b), 4); /* kept */
    rows_t r = kv_all(t);
    assert_int_equal(r.nrows, 1);
    assert_string_equal(cell(&r, 0, 1)->v.s.p, "one");
    rows_free(&r);
    schema_value_t p = vstr(pipe);
    assert_int_equal(query_int("SELECT COUNT(*) FROM \"dlq\" WHERE \"pipeline\" = ?1", &p, 1), 0);
    assert_int_equal(
        query_int("SELECT COUNT(*) FROM \"strata_state\" WHERE \"pipeline\" = ?1", &p, 1), 0);
    assert_int_equal(query_int("SELECT \"next_offset\" FROM \"strata_offsets\" WHERE "
                               "\"pipeline\" = ?1 AND \"partition\" = 2",
                               &p, 1),
                     50);
    /* Retrying the kept batch is fenced again. */
    assert_int_equal(store_commit(S, b), CORE_EFAILED);
    assert_int_equal(count_table(tn), 1);
    store_batch_reset(b);

    /* The current owner commits. */
    kv_put(b, t, 2, "owner", 2);
    assert_int_equal(store_batch_offset(b, pipe, "orders", 2, 80, 2, 3000), 0);
    commit_ok(b);
    assert_int_equal(count_table(tn), 2);
    assert_int_equal(store_offsets_claim(S, pipe, "orders", 2, &epoch, &next, &wm), 0);
    assert_true(epoch == 3 && next == 80 && wm == 3000);

    /* A partition never claimed cannot be committed. */
    assert_int_equal(store_batch_offset(b, pipe, "orders", 9, 1, 1, 0), 0);
    assert_int_equal(store_commit(S, b), CORE_EFAILED);
    store_batch_reset(b);
    /* Other partitions keep their own epochs. */
    assert_int_equal(store_offsets_claim(S, pipe, "orders", 3, &epoch, &next, &wm), 0);
    assert_true(epoch == 1 && next == 0);
    store_batch_destroy(b);
}

static int stop_after_two(void *arg, const schema_value_t *v, size_t n)
{
    (void)v;
    (void)n;
    int *seen = arg;
    return ++*seen == 2 ? 77 : 0;
}

/* Table "sel<run>" (g, n) -> at, ok, x holding n = 1..10, inserted out of
 * order; g is "odd" or "even"; x is n / 4 except NULL for n = 3. Upserting
 * the same rows again makes this idempotent. */
static store_table_t *sel_table(void)
{
    static char name[80];
    static const store_column_t cols[] = {{"g", SCHEMA_STRING},
                                          {"n", SCHEMA_INT},
                                          {"at", SCHEMA_TIMESTAMP},
                                          {"ok", SCHEMA_BOOL},
                                          {"x", SCHEMA_FLOAT}};
    store_table_def_t d = {nm(name, sizeof name, "sel"), cols, 5, 2};
    store_table_t *t;
    assert_int_equal(store_table_open(S, &d, &t), 0);
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    for (int i = 10; i >= 1; i--) {
        schema_value_t row[5] = {vstr(i % 2 ? "odd" : "even"), vint(i), vts(i * 1000), vbool(i > 5),
                                 i == 3 ? vnull() : vflt(i / 4.0)};
        assert_int_equal(store_batch_upsert(b, t, row), 0);
    }
    commit_ok(b);
    store_batch_destroy(b);
    return t;
}

static void test_select(void **state)
{
    (void)state;
    store_table_t *t = sel_table();
    rows_t r = {0};
    assert_int_equal(store_select(S, t, NULL, 0, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 10);
    /* ORDER BY g, n: even 2..10 then odd 1..9. */
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(cell(&r, i, 0)->v.s.p, i < 5 ? "even" : "odd");
        assert_true(cell(&r, i, 1)->v.i == (int64_t)(i < 5 ? 2 * i + 2 : 2 * (i - 5) + 1));
        assert_int_equal(cell(&r, i, 2)->type, SCHEMA_TIMESTAMP);
        assert_int_equal(cell(&r, i, 3)->type, SCHEMA_BOOL);
    }
    rows_free(&r);

    store_filter_t f[3] = {{"g", STORE_EQ, vstr("odd")}, {"n", STORE_GT, vint(3)}};
    assert_int_equal(store_select(S, t, f, 2, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 3); /* 5 7 9 */
    assert_true(cell(&r, 0, 1)->v.i == 5 && cell(&r, 2, 1)->v.i == 9);
    rows_free(&r);

    f[0] = (store_filter_t){"at", STORE_GE, vts(4000)};
    f[1] = (store_filter_t){"at", STORE_LE, vint(6000)};
    f[2] = (store_filter_t){"ok", STORE_EQ, vbool(true)};
    assert_int_equal(store_select(S, t, f, 3, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 1); /* n = 6 */
    assert_true(cell(&r, 0, 1)->v.i == 6);
    rows_free(&r);

    f[0] = (store_filter_t){"x", STORE_LT, vflt(1.0)};
    assert_int_equal(store_select(S, t, f, 1, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 2); /* 0.5 (2) and 0.25 (1); 3 is NULL */
    rows_free(&r);
    f[0] = (store_filter_t){"x", STORE_EQ, vnull()};
    assert_int_equal(store_select(S, t, f, 1, 0, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 1);
    assert_true(cell(&r, 0, 1)->v.i == 3);
    rows_free(&r);
}

static void test_select_limits(void **state)
{
    (void)state;
    store_table_t *t = sel_table();
    const char *name = store_table_def(t)->name;
    rows_t r = {0};
    store_filter_t f[1];
    /* LIMIT and OFFSET over the key order. */
    assert_int_equal(store_select(S, t, NULL, 0, 3, 4, collect, &r), 0);
    assert_int_equal(r.nrows, 3); /* even 10, odd 1, odd 3 */
    assert_true(cell(&r, 0, 1)->v.i == 10 && cell(&r, 1, 1)->v.i == 1 && cell(&r, 2, 1)->v.i == 3);
    rows_free(&r);
    assert_int_equal(store_select(S, t, NULL, 0, 0, 8, collect, &r), 0);
    assert_int_equal(r.nrows, 2);
    rows_free(&r);
    assert_int_equal(store_select(S, t, NULL, 0, 2, 0, collect, &r), 0);
    assert_int_equal(r.nrows, 2);
    rows_free(&r);

    /* Errors, and a callback that stops the scan. */
    f[0] = (store_filter_t){"nope", STORE_EQ, vint(1)};
    assert_int_equal(store_select(S, t, f, 1, 0, 0, collect, &r), CORE_EINVAL);
    f[0] = (store_filter_t){"n", STORE_EQ, vstr("1")};
    assert_int_equal(store_select(S, t, f, 1, 0, 0, collect, &r), CORE_EINVAL);
    f[0] = (store_filter_t){"n", STORE_LT, vnull()};
    assert_int_equal(store_select(S, t, f, 1, 0, 0, collect, &r), CORE_EINVAL);
    int seen = 0;
    assert_int_equal(store_select(S, t, NULL, 0, 0, 0, stop_after_two, &seen), 77);
    assert_int_equal(seen, 2);
    /* The connection is still usable after a stopped scan. */
    assert_int_equal(count_table(name), 10);
}

static void test_exec(void **state)
{
    (void)state;
    store_table_t *t = kv_table("ex");
    const char *tn = store_table_def(t)->name;
    char sql[512];
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    for (int i = 1; i <= 4; i++)
        kv_put(b, t, i, "n", i);
    commit_ok(b);
    store_batch_destroy(b);

    /* '?' inside literals, identifiers and comments is left alone. */
    rows_t r = {0};
    schema_value_t p[3] = {vstr("it's ?2"), vint(-5), vflt(0.5)};
    assert_int_equal(store_exec(S,
                                "SELECT '?1' AS \"q?1\", ?1 AS a, ?2 AS b, ?3 AS c, 'x''?2' AS d "
                                "/* ?3 */ -- ?9\n",
                                p, 3, collect, &r, NULL),
                     0);
    assert_int_equal(r.nrows, 1);
    assert_int_equal(r.ncols, 5);
    assert_string_equal(cell(&r, 0, 0)->v.s.p, "?1");
    assert_string_equal(cell(&r, 0, 1)->v.s.p, "it's ?2");
    assert_int_equal(cell(&r, 0, 2)->type, SCHEMA_INT);
    assert_true(cell(&r, 0, 2)->v.i == -5);
    assert_int_equal(cell(&r, 0, 3)->type, SCHEMA_FLOAT);
    assert_true(cell(&r, 0, 3)->v.f == 0.5);
    assert_string_equal(cell(&r, 0, 4)->v.s.p, "x'?2");
    rows_free(&r);

    /* Typed results and NULL. */
    snprintf(sql, sizeof sql,
             "SELECT \"id\", \"name\", \"score\", NULL FROM \"%s\" WHERE \"id\" >= ?1 "
             "ORDER BY \"id\"",
             tn);
    schema_value_t two = vint(2);
    assert_int_equal(store_exec(S, sql, &two, 1, collect, &r, NULL), 0);
    assert_int_equal(r.nrows, 3);
    assert_int_equal(cell(&r, 0, 0)->type, SCHEMA_INT);
    assert_int_equal(cell(&r, 0, 1)->type, SCHEMA_STRING);
    assert_int_equal(cell(&r, 0, 2)->type, SCHEMA_FLOAT);
    assert_true(cell(&r, 2, 2)->v.f == 4.0);
    assert_int_equal(cell(&r, 0, 3)->type, SCHEMA_NULL);
    rows_free(&r);

    /* Changes, and a statement without a callback. */
    int64_t changes = -1;
    snprintf(sql, sizeof sql, "UPDATE \"%s\" SET \"name\" = ?1 WHERE \"id\" <= ?2", tn);
    schema_value_t up[2] = {vstr("upd"), vint(3)};
    assert_int_equal(store_exec(S, sql, up, 2, NULL, NULL, &changes), 0);
    assert_true(changes == 3);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM \"%s\" WHERE \"name\" = 'upd'", tn);
    assert_int_equal(query_int(sql, NULL, 0), 3);

    /* A statement that changes nothing reports no changes. */
    char other[80];
    snprintf(sql, sizeof sql, "CREATE TABLE \"%s\" (\"a\" BIGINT)", nm(other, sizeof other, "ddl"));
    assert_int_equal(store_exec(S, sql, NULL, 0, NULL, NULL, &changes), 0);
    assert_true(changes == 0);

    /* Missing parameters and bad SQL are errors, not crashes. */
    schema_value_t nul = vstrn("a\0b", 3);
    assert_int_equal(store_exec(S, "SELECT ?1", &nul, 1, NULL, NULL, NULL), CORE_EINVAL);
    assert_int_equal(store_exec(S, "SELECT ?2", p, 1, NULL, NULL, NULL), CORE_EINVAL);
    assert_int_equal(store_exec(S, "SELEKT 1", NULL, 0, NULL, NULL, NULL), CORE_EINVAL);
    assert_int_equal(store_exec(S, "SELECT 'unterminated", NULL, 0, NULL, NULL, NULL), CORE_EINVAL);
    assert_int_equal(query_int("SELECT 1 + ?1", &two, 1), 3);

    /* A key already there is CORE_EEXIST (callers tell a lost race from an
     * error by it); the row stays as it was. */
    snprintf(sql, sizeof sql, "INSERT INTO \"%s\" (\"id\", \"name\") VALUES (?1, 'again')", tn);
    assert_int_equal(store_exec(S, sql, &two, 1, NULL, NULL, NULL), CORE_EEXIST);
    assert_non_null(strstr(core_error_detail(), "store "));
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM \"%s\" WHERE \"name\" = 'again'", tn);
    assert_int_equal(query_int(sql, NULL, 0), 0);
}

static void test_large_batch(void **state)
{
    (void)state;
    char name[80];
    static const store_column_t cols[] = {{"id", SCHEMA_INT},  {"label", SCHEMA_STRING},
                                          {"v", SCHEMA_FLOAT}, {"at", SCHEMA_TIMESTAMP},
                                          {"ok", SCHEMA_BOOL}, {"note", SCHEMA_STRING}};
    store_table_def_t d = {nm(name, sizeof name, "big"), cols, 6, 1};
    store_table_t *t;
    assert_int_equal(store_table_open(S, &d, &t), 0);
    store_batch_t *b;
    assert_int_equal(store_batch_create(&b), 0);
    enum { N = 100000 };
    char label[32];
    for (int i = 0; i < N; i++) {
        snprintf(label, sizeof label, "row\t%d\\", i);
        schema_value_t row[6] = {vint(i),         vstr(label),       vflt(i * 0.25),
                                 vts(i * 1000LL), vbool(i % 3 == 0), i % 7 ? vstr("n") : vnull()};
        assert_int_equal(store_batch_upsert(b, t, row), 0);
    }
    assert_int_equal(store_batch_rows(b), N);
    commit_ok(b);
    store_batch_destroy(b);
    assert_int_equal(count_table(name), N);
    static const int probes[] = {0, 1, 4242, 77777, N - 1};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        int i = probes[k];
        rows_t r = {0};
        store_filter_t f = {"id", STORE_EQ, vint(i)};
        assert_int_equal(store_select(S, t, &f, 1, 0, 0, collect, &r), 0);
        assert_int_equal(r.nrows, 1);
        snprintf(label, sizeof label, "row\t%d\\", i);
        schema_value_t want[6] = {vint(i),         vstr(label),       vflt(i * 0.25),
                                  vts(i * 1000LL), vbool(i % 3 == 0), i % 7 ? vstr("n") : vnull()};
        for (size_t c = 0; c < 6; c++)
            assert_value_equal(cell(&r, 0, c), &want[c]);
        rows_free(&r);
    }
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT CAST(SUM(\"id\") AS BIGINT) FROM \"%s\"", name);
    assert_true(query_int(sql, NULL, 0) == (int64_t)N * (N - 1) / 2);
}

static void test_urls_and_secrets(void **state)
{
    (void)state;
    store_t *s = NULL;
    assert_int_equal(
        store_open("postgresql://strata_u:s3cr3tPW@127.0.0.1:1/db?connect_timeout=3", &s),
        CORE_EIO);
    assert_null(s);
    assert_null(strstr(core_error_detail(), "s3cr3tPW"));
    assert_non_null(strstr(core_error_detail(), "strata_u@127.0.0.1:1/db"));
    assert_int_equal(
        store_open("postgres://u@127.0.0.1:1/db?password=hunter2x&connect_timeout=3", &s),
        CORE_EIO);
    assert_null(strstr(core_error_detail(), "hunter2x"));
    assert_int_equal(store_open("", &s), CORE_EINVAL);
    assert_int_equal(store_open("sqlite:", &s), CORE_EINVAL);

    char path[512];
    snprintf(path, sizeof path, "sqlite:%s/opts.db?synchronous=full&busy_timeout=100", g_dir);
    assert_int_equal(store_open(path, &s), 0);
    assert_string_equal(store_backend(s), "sqlite");
    assert_int_equal(store_ping(s), 0);
    store_close(s);
    snprintf(path, sizeof path, "sqlite:%s/opts.db?nosuch=1", g_dir);
    assert_int_equal(store_open(path, &s), CORE_EINVAL);
    snprintf(path, sizeof path, "%s/missing-dir/x.db", g_dir);
    assert_int_equal(store_open(path, &s), CORE_EIO);
    store_close(NULL);
}

/* ---- Main. */

static int group_setup(void **state)
{
    (void)state;
    int rc = store_open(g_url, &S);
    if (rc != 0) {
        fprintf(stderr, "suite: cannot open the store: %s\n", core_error_detail());
        return -1;
    }
    fprintf(stderr, "suite: backend %s\n", store_backend(S));
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    store_close(S);
    S = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : getenv("STRATA_TEST_STORE_URL");
    snprintf(g_run, sizeof g_run, "_r%ld", (long)getpid());
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/strata-store-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    if (url != NULL && url[0] != '\0')
        snprintf(g_url, sizeof g_url, "%s", url);
    else
        snprintf(g_url, sizeof g_url, "sqlite:%s/store.db", g_dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_concurrently),  cmocka_unit_test(test_migrate_twice),
        cmocka_unit_test(test_identifiers),           cmocka_unit_test(test_table_lifecycle),
        cmocka_unit_test(test_upsert_and_delete),     cmocka_unit_test(test_types_round_trip),
        cmocka_unit_test(test_repeated_key_rejected), cmocka_unit_test(test_dlq_once),
        cmocka_unit_test(test_anomalies_once),        cmocka_unit_test(test_state),
        cmocka_unit_test(test_offsets_and_fence),     cmocka_unit_test(test_select),
        cmocka_unit_test(test_select_limits),         cmocka_unit_test(test_exec),
        cmocka_unit_test(test_large_batch),           cmocka_unit_test(test_urls_and_secrets),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "suite: could not remove %s\n", g_dir);
    return failed;
}

/*
 * bench/bench_store.c - the serving store's bulk upsert benchmark.
 *
 * Upserts N rows into a 6-column table (id BIGINT key, label TEXT, v DOUBLE
 * PRECISION, at BIGINT timestamp, ok BOOLEAN, note TEXT) in batches of B
 * rows, one transaction per batch, and prints rows/s for two passes:
 *   insert  every key new;
 *   update  the same keys again with new values (ON CONFLICT DO UPDATE).
 * The figure includes building the batch (store_batch_upsert copies each
 * row) and store_commit; "commit" is the share spent in store_commit.
 *
 * References, measured in the same run (STYLE rule 13):
 *   SQLite: the bare sqlite3 API on a second file with the same settings
 *     (WAL, synchronous=NORMAL), the same INSERT ... ON CONFLICT statement
 *     prepared once, the values bound straight from the loop, one BEGIN
 *     IMMEDIATE ... COMMIT per batch. The gap is the store's own cost.
 *   PostgreSQL (with --pg URL): bare libpq COPY of the same rows into a
 *     fresh table with the same primary key, one transaction per batch: the
 *     fastest way rows get in, without the store's upsert semantics (the
 *     store COPYs into a temporary table, then INSERT ... ON CONFLICT).
 * Target: the store's SQLite insert pass at >= 300k rows/s.
 *
 * Run:
 *   build/release/bench/bench_store [--rows N] [--batch N] [--dir DIR]
 *                                   [--pg URL] [--quick]
 * DIR (default $TMPDIR, else /var/tmp) should be on a disk. The program
 * works in DIR/strata-bench-store-XXXXXX and removes it. --quick uses 20,000
 * rows (a smoke test). The exit status is non-zero only when something
 * fails, never for a missed target.
 *
 * Threading: single-threaded.
 */
#include "store/store.h"
#include "bench_common.h"
#include "core/core.h"

#include <libpq-fe.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TARGET_SQLITE_ROWS_S 300e3
#define NOTE                 "a constant note text"

typedef struct {
    const char *base_dir;
    const char *pg_url;
    int64_t rows;
    int64_t batch;
} options_t;

typedef struct {
    double rows_s;       /* per wall-clock second */
    double rows_cpu_s;   /* per second of this process's CPU time */
    double commit_share; /* of the wall time, inside store_commit */
} figure_t;

static int fail(int rc, const char *what)
{
    fprintf(stderr, "bench_store: %s: %s: %s\n", what, core_strerror(rc), core_error_detail());
    return rc;
}

/* Row i of pass `pass`: the label changes between passes. */
static void make_row(int64_t i, int pass, char *label, size_t n, schema_value_t *v)
{
    int len = snprintf(label, n, "label-%d-%lld", pass, (long long)i);
    v[0] = (schema_value_t){.type = SCHEMA_INT, .v.i = i};
    v[1] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {label, (size_t)len}};
    v[2] = (schema_value_t){.type = SCHEMA_FLOAT, .v.f = (double)i * 0.5 + pass};
    v[3] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = 1763776000000000 + i};
    v[4] = (schema_value_t){.type = SCHEMA_BOOL, .v.b = (i + pass) % 2 == 0};
    v[5] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {NOTE, sizeof NOTE - 1}};
}

/* ---- Through the store. */

static int store_pass(store_t *s, store_table_t *t, const options_t *o, int pass, figure_t *f)
{
    store_batch_t *b;
    int rc = store_batch_create(&b);
    if (rc != 0)
        return fail(rc, "store_batch_create");
    char label[48];
    schema_value_t v[6];
    int64_t commit_ns = 0, t0 = core_mono_ns(), c_0 = bench_cpu_ns();
    for (int64_t i = 0; rc == 0 && i < o->rows; i++) {
        make_row(i, pass, label, sizeof label, v);
        rc = store_batch_upsert(b, t, v);
        if (rc == 0 && ((i + 1) % o->batch == 0 || i + 1 == o->rows)) {
            int64_t c0 = core_mono_ns();
            rc = store_commit(s, b);
            commit_ns += core_mono_ns() - c0;
        }
    }
    int64_t ns = core_mono_ns() - t0, cpu = bench_cpu_ns() - c_0;
    store_batch_destroy(b);
    if (rc != 0)
        return fail(rc, "store upsert");
    f->rows_s = (double)o->rows * 1e9 / (double)ns;
    f->rows_cpu_s = (double)o->rows * 1e9 / (double)cpu;
    f->commit_share = (double)commit_ns / (double)ns;
    return 0;
}

static int store_run(const char *url, const options_t *o, figure_t f[2])
{
    static const store_column_t cols[] = {{"id", SCHEMA_INT},  {"label", SCHEMA_STRING},
                                          {"v", SCHEMA_FLOAT}, {"at", SCHEMA_TIMESTAMP},
                                          {"ok", SCHEMA_BOOL}, {"note", SCHEMA_STRING}};
    char name[64];
    snprintf(name, sizeof name, "bench_store_%ld", (long)getpid());
    store_table_def_t def = {name, cols, 6, 1};
    store_t *s;
    store_table_t *t;
    int rc = store_open(url, &s);
    if (rc != 0)
        return fail(rc, "store_open");
    rc = store_table_open(s, &def, &t);
    if (rc != 0)
        fail(rc, "store_table_open");
    for (int pass = 0; rc == 0 && pass < 2; pass++)
        rc = store_pass(s, t, o, pass, &f[pass]);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP TABLE \"%s\"", name);
    if (strncmp(url, "postgres", 8) == 0 && store_exec(s, sql, NULL, 0, NULL, NULL, NULL) != 0)
        fail(CORE_EIO, "drop table");
    store_close(s);
    return rc;
}

/* ---- SQLite reference: the bare API. */

static int sq_check(sqlite3 *db, int src, const char *what)
{
    if (src == SQLITE_OK || src == SQLITE_DONE)
        return 0;
    fprintf(stderr, "bench_store: sqlite %s: %s\n", what, sqlite3_errmsg(db));
    return -1;
}

static int sqlite_pass(sqlite3 *db, sqlite3_stmt *st, const options_t *o, int pass, figure_t *f)
{
    char label[48];
    schema_value_t v[6];
    int rc = 0;
    int64_t t0 = core_mono_ns(), c_0 = bench_cpu_ns();
    for (int64_t i = 0; rc == 0 && i < o->rows; i++) {
        if (i % o->batch == 0)
            rc = sq_check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
        make_row(i, pass, label, sizeof label, v);
        sqlite3_bind_int64(st, 1, v[0].v.i);
        sqlite3_bind_text(st, 2, v[1].v.s.p, (int)v[1].v.s.len, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, v[2].v.f);
        sqlite3_bind_int64(st, 4, v[3].v.i);
        sqlite3_bind_int(st, 5, v[4].v.b);
        sqlite3_bind_text(st, 6, v[5].v.s.p, (int)v[5].v.s.len, SQLITE_STATIC);
        if (rc == 0)
            rc = sq_check(db, sqlite3_step(st), "step");
        sqlite3_reset(st);
        if (rc == 0 && ((i + 1) % o->batch == 0 || i + 1 == o->rows))
            rc = sq_check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    }
    f->rows_s = (double)o->rows * 1e9 / (double)(core_mono_ns() - t0);
    f->rows_cpu_s = (double)o->rows * 1e9 / (double)(bench_cpu_ns() - c_0);
    f->commit_share = 0;
    return rc;
}

static int sqlite_reference(const char *path, const options_t *o, figure_t f[2])
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_open(path, &db);
    int rc = sq_check(db, src, "open");
    if (rc == 0)
        rc = sq_check(db,
                      sqlite3_exec(db,
                                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                   "CREATE TABLE r (\"id\" BIGINT NOT NULL, \"label\" TEXT, "
                                   "\"v\" DOUBLE PRECISION, \"at\" BIGINT, \"ok\" BOOLEAN, "
                                   "\"note\" TEXT, PRIMARY KEY (\"id\"))",
                                   NULL, NULL, NULL),
                      "setup");
    if (rc == 0)
        rc = sq_check(db,
                      sqlite3_prepare_v2(db,
                                         "INSERT INTO r VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON "
                                         "CONFLICT (\"id\") DO UPDATE SET \"label\" = "
                                         "excluded.\"label\", \"v\" = excluded.\"v\", \"at\" = "
                                         "excluded.\"at\", \"ok\" = excluded.\"ok\", \"note\" = "
                                         "excluded.\"note\"",
                                         -1, &st, NULL),
                      "prepare");
    for (int pass = 0; rc == 0 && pass < 2; pass++)
        rc = sqlite_pass(db, st, o, pass, &f[pass]);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* ---- PostgreSQL reference: bare COPY. */

static int pg_check(PGconn *c, PGresult *r, ExecStatusType want, const char *what)
{
    int rc = r != NULL && PQresultStatus(r) == want ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "bench_store: libpq %s: %s", what, PQerrorMessage(c));
    PQclear(r);
    return rc;
}

static int pg_copy_batch(PGconn *c, const options_t *o, int64_t from, int pass, core_buf_t *buf)
{
    char label[48];
    schema_value_t v[6];
    int rc = pg_check(c, PQexec(c, "BEGIN"), PGRES_COMMAND_OK, "begin");
    if (rc == 0)
        rc = pg_check(c, PQexec(c, "COPY strata_bench_copy FROM STDIN"), PGRES_COPY_IN, "copy");
    core_buf_reset(buf);
    for (int64_t i = from; rc == 0 && i < o->rows && i < from + o->batch; i++) {
        make_row(i, pass, label, sizeof label, v);
        rc = core_buf_printf(buf, "%lld\t%s\t%.17g\t%lld\t%c\t%s\n", (long long)v[0].v.i, label,
                             v[2].v.f, (long long)v[3].v.i, v[4].v.b ? 't' : 'f', NOTE);
        if (rc == 0 && buf->len >= (1u << 20)) {
            rc = PQputCopyData(c, (const char *)buf->data, (int)buf->len) == 1 ? 0 : -1;
            core_buf_reset(buf);
        }
    }
    if (rc == 0 && buf->len > 0)
        rc = PQputCopyData(c, (const char *)buf->data, (int)buf->len) == 1 ? 0 : -1;
    if (rc == 0)
        rc = PQputCopyEnd(c, NULL) == 1 ? 0 : -1;
    if (rc == 0)
        rc = pg_check(c, PQgetResult(c), PGRES_COMMAND_OK, "copy end");
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL)
        PQclear(r);
    if (rc == 0)
        rc = pg_check(c, PQexec(c, "COMMIT"), PGRES_COMMAND_OK, "commit");
    return rc;
}

static int pg_reference(const char *url, const options_t *o, figure_t *f)
{
    PGconn *c = PQconnectdb(url);
    int rc = PQstatus(c) == CONNECTION_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "bench_store: libpq connect: %s", PQerrorMessage(c));
    if (rc == 0)
        rc = pg_check(c,
                      PQexec(c, "CREATE TABLE strata_bench_copy (id BIGINT PRIMARY KEY, "
                                "label TEXT, v DOUBLE PRECISION, at BIGINT, ok BOOLEAN, "
                                "note TEXT)"),
                      PGRES_COMMAND_OK, "create");
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_TEST, (size_t)64 << 20);
    int64_t t0 = core_mono_ns(), c_0 = bench_cpu_ns();
    for (int64_t i = 0; rc == 0 && i < o->rows; i += o->batch)
        rc = pg_copy_batch(c, o, i, 0, &buf);
    f->rows_s = (double)o->rows * 1e9 / (double)(core_mono_ns() - t0);
    f->rows_cpu_s = (double)o->rows * 1e9 / (double)(bench_cpu_ns() - c_0);
    core_buf_fini(&buf);
    PQclear(PQexec(c, "DROP TABLE IF EXISTS strata_bench_copy"));
    PQfinish(c);
    return rc;
}

/* ---- Main. */

static void print_row(const char *what, const figure_t *f, const char *ref, const figure_t *r)
{
    char a[32], b[32], c[32], d[32];
    printf("%-17s %7s rows/s (%7s/cpu-s, commit %2.0f%%)  vs %-12s %7s rows/s (%7s/cpu-s)  "
           "%.2fx\n",
           what, bench_fmt_count(a, sizeof a, f->rows_s),
           bench_fmt_count(b, sizeof b, f->rows_cpu_s), f->commit_share * 100, ref,
           bench_fmt_count(c, sizeof c, r->rows_s), bench_fmt_count(d, sizeof d, r->rows_cpu_s),
           f->rows_s / r->rows_s);
}

static int parse_options(int argc, char **argv, options_t *o)
{
    const char *tmp = getenv("TMPDIR");
    *o = (options_t){
        .base_dir = tmp != NULL && *tmp ? tmp : "/var/tmp", .rows = 1000000, .batch = 50000};
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(argv[i], "--rows") == 0)
            rc = bench_parse_count("--rows", next, 1, 1000000000, &o->rows), i++;
        else if (strcmp(argv[i], "--batch") == 0)
            rc = bench_parse_count("--batch", next, 1, 10000000, &o->batch), i++;
        else if (strcmp(argv[i], "--dir") == 0 && next != NULL)
            o->base_dir = next, i++;
        else if (strcmp(argv[i], "--pg") == 0 && next != NULL)
            o->pg_url = next, i++;
        else if (strcmp(argv[i], "--quick") == 0)
            o->rows = 20000, o->batch = 5000;
        else
            rc = CORE_EINVAL;
        if (rc != 0) {
            fprintf(stderr, "usage: bench_store [--rows N] [--batch N] [--dir DIR] [--pg URL] "
                            "[--quick]\n");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_set_name("bench_store");
    options_t o;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    char dir[PATH_MAX], db[PATH_MAX + 16], ref[PATH_MAX + 16];
    if (bench_path_join(dir, sizeof dir, o.base_dir, "strata-bench-store-XXXXXX") != 0)
        return 1;
    if (mkdtemp(dir) == NULL) {
        perror("bench_store: mkdtemp");
        return 1;
    }
    bool memory;
    printf("store bench: %lld rows x 6 columns, batches of %lld, dir %s (%s)\n", (long long)o.rows,
           (long long)o.batch, dir, bench_fs_name(dir, &memory));
    snprintf(db, sizeof db, "sqlite:%s/store.db", dir);
    snprintf(ref, sizeof ref, "%s/reference.db", dir);
    figure_t s[2], r[2], pg[2], pgref;
    int rc = store_run(db, &o, s);
    if (rc == 0)
        rc = sqlite_reference(ref, &o, r);
    if (rc == 0) {
        print_row("sqlite insert", &s[0], "bare sqlite3", &r[0]);
        print_row("sqlite update", &s[1], "bare sqlite3", &r[1]);
        printf("  target >= %.0fk rows/s (insert): %s%s\n", TARGET_SQLITE_ROWS_S / 1e3,
               s[0].rows_s >= TARGET_SQLITE_ROWS_S ? "met" : "MISS",
               s[0].rows_s < TARGET_SQLITE_ROWS_S && s[0].rows_cpu_s >= TARGET_SQLITE_ROWS_S
                   ? " (met per CPU-second: the machine is busy)"
                   : "");
    }
    if (rc == 0 && o.pg_url != NULL) {
        rc = store_run(o.pg_url, &o, pg);
        if (rc == 0)
            rc = pg_reference(o.pg_url, &o, &pgref);
        if (rc == 0) {
            print_row("postgresql insert", &pg[0], "bare COPY", &pgref);
            print_row("postgresql update", &pg[1], "bare COPY", &pgref);
        }
    }
    bench_remove_tree(dir);
    return rc == 0 ? 0 : 1;
}

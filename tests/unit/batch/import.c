/*
 * Unit tests of the import job kind (src/batch/import.c, import_map.c) on
 * a real seglog topic and a SQLite store, with a hand-built run (no
 * runner): column mapping by header names with spaces and parentheses, an
 * expression for the event time (lpad + to_timestamp), every rejection
 * kind with its dlq row, skipping content already imported, globs, and
 * exactly-once resumption: a run that resumes after records were produced
 * past its saved progress (with another producer's record in between)
 * ends with the same partitions, record for record, as one clean run,
 * also when the rows to verify span several chunks; rows whose JSON is long
 * enough to need several conversion passes per chunk; and the encoder's
 * fast paths (numbers kept as written, strings without escapes, rendered
 * timestamps) giving the JSON writer's bytes on random cells.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch/batch_int.h"
#include "batch/import_int.h"
#include "bus/bus.h"
#include "stream/expr_int.h"
#include "core/core.h"
#include "seglog/seglog.h"
#include "store/store.h"

#define PARTS 4

typedef struct {
    char dir[256];
    char url[320];
    seglog_t *log;
    bus_t *bus;
    store_t *s;
    schema_t *schema;
    batch_env_t env;
    batch_job_def_t job;
    batch_column_t cols[4];
} fx_t;

static const char TS_EXPR[] =
    "to_timestamp(\"Date\" || ' ' || lpad(\"Time\", 6, '0'), '%d/%m/%y %H%M%S')";

static schema_t *make_schema(void)
{
    schema_t *s;
    assert_int_equal(schema_create("tx", &s), 0);
    schema_field_def_t f[] = {
        {.name = "id", .type = SCHEMA_STRING, .required = true, .pattern = "T[0-9]+"},
        {.name = "amount", .type = SCHEMA_FLOAT, .required = true, .has_min = true, .min = 0},
        {.name = "city", .type = SCHEMA_STRING},
        {.name = "ts", .type = SCHEMA_TIMESTAMP, .required = true, .format = "iso8601"},
    };
    for (size_t i = 0; i < 4; i++) {
        f[i].min_length = f[i].max_length = -1;
        assert_int_equal(schema_add_field(s, &f[i]), 0);
    }
    assert_int_equal(schema_add_rule(s, "reasonable", "amount < 1000", "amount above 1000"), 0);
    assert_int_equal(schema_seal(s), 0);
    return s;
}

static void fx_open(fx_t *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s/strata-import-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    char path[320];
    snprintf(path, sizeof path, "%s/log", f->dir);
    assert_int_equal(seglog_open(path, &f->log), 0);
    seglog_topic_config_t tc;
    seglog_topic_config_default(&tc);
    tc.partitions = PARTS;
    assert_int_equal(seglog_topic_create(f->log, "tx", &tc), 0);
    assert_int_equal(bus_open_seglog(f->log, &f->bus), 0);
    snprintf(f->url, sizeof f->url, "sqlite:%s/store.db", f->dir);
    assert_int_equal(store_open(f->url, &f->s), 0);
    assert_int_equal(store_migrate(f->s), 0);
    f->schema = make_schema();
    f->env = (batch_env_t){.bus = f->bus, .log = f->log, .store_url = f->url};
    f->cols[0] = (batch_column_t){.field = "id", .column = "Transaction ID"};
    f->cols[1] = (batch_column_t){.field = "amount", .column = "Amount (INR)"};
    f->cols[2] = (batch_column_t){.field = "city", .column = "City"};
    f->cols[3] = (batch_column_t){.field = "ts", .expr = TS_EXPR};
    f->job = (batch_job_def_t){
        .name = "load_tx",
        .kind = BATCH_KIND_IMPORT,
        .max_attempts = 1,
        .topic = "tx",
        .schema = f->schema,
        .key_field = "id",
        .time_field = "ts",
        .columns = f->cols,
        .ncolumns = 4,
    };
}

static void fx_close(fx_t *f)
{
    store_close(f->s);
    bus_close(f->bus);
    seglog_close(f->log);
    schema_destroy(f->schema);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

typedef struct {
    batch_run_t run;
    int rc;
    char inputs[4096];
} result_t;

/* Runs the import of PATH as run ID and keeps its lineage. */
static void run_import(fx_t *f, const char *path, int64_t id, result_t *r)
{
    f->job.path = path;
    memset(r, 0, sizeof *r);
    r->run = (batch_run_t){.job = &f->job, .env = &f->env, .store = f->s, .run_id = id};
    core_buf_init(&r->run.inputs, CORE_MEM_TEST, BATCH_LINEAGE_MAX);
    core_buf_init(&r->run.outputs, CORE_MEM_TEST, BATCH_LINEAGE_MAX);
    core_error_clear();
    r->rc = batch_import_run(&r->run);
    snprintf(r->inputs, sizeof r->inputs, "%.*s", (int)r->run.inputs.len,
             r->run.inputs.data ? (const char *)r->run.inputs.data : "");
    core_buf_fini(&r->run.inputs);
    core_buf_fini(&r->run.outputs);
}

/* ---- Reading the topic. */

typedef struct {
    char key[64];
    char value[512];
    int64_t ts;
} rec_t;

typedef struct {
    rec_t *recs;
    size_t n;
} part_t;

static void read_partition(fx_t *f, int32_t p, part_t *out)
{
    int64_t start, end;
    assert_int_equal(bus_offsets(f->bus, "tx", p, &start, &end), 0);
    out->recs = calloc((size_t)end + 1, sizeof *out->recs);
    out->n = 0;
    bus_reader_t *r;
    assert_int_equal(bus_reader_open(f->bus, "tx", p, start, &r), 0);
    while (bus_reader_position(r) < end) {
        bus_record_t b[64];
        size_t n;
        assert_int_equal(bus_reader_poll(r, b, 64, &n, 1000), 0);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            rec_t *x = &out->recs[out->n++];
            snprintf(x->key, sizeof x->key, "%.*s", (int)b[i].key_len, b[i].key ? b[i].key : "");
            snprintf(x->value, sizeof x->value, "%.*s", (int)b[i].value_len, b[i].value);
            x->ts = b[i].timestamp_ms;
        }
    }
    bus_reader_close(r);
}

static size_t topic_count(fx_t *f)
{
    size_t total = 0;
    for (int32_t p = 0; p < PARTS; p++) {
        int64_t start, end;
        assert_int_equal(bus_offsets(f->bus, "tx", p, &start, &end), 0);
        total += (size_t)(end - start);
    }
    return total;
}

static const rec_t *find_key(part_t *parts, const char *key)
{
    for (int32_t p = 0; p < PARTS; p++)
        for (size_t i = 0; i < parts[p].n; i++)
            if (strcmp(parts[p].recs[i].key, key) == 0)
                return &parts[p].recs[i];
    return NULL;
}

/* ---- Reading the store. */

typedef struct {
    char kind[32];
    char reason[512];
    char topic[256];
    char value[256];
    int64_t offset, partition;
} dlq_t;

typedef struct {
    dlq_t rows[64];
    size_t n;
} dlqs_t;

static void text_of(const schema_value_t *v, char *out, size_t cap)
{
    if (v->type == SCHEMA_STRING)
        snprintf(out, cap, "%.*s", (int)v->v.s.len, v->v.s.p);
    else
        out[0] = '\0';
}

static int dlq_row(void *arg, const schema_value_t *v, size_t n)
{
    dlqs_t *d = arg;
    if (n != 6 || d->n == 64)
        return CORE_ERANGE;
    dlq_t *x = &d->rows[d->n++];
    text_of(&v[0], x->kind, sizeof x->kind);
    text_of(&v[1], x->reason, sizeof x->reason);
    text_of(&v[2], x->topic, sizeof x->topic);
    text_of(&v[3], x->value, sizeof x->value);
    x->offset = v[4].v.i;
    x->partition = v[5].v.i;
    return 0;
}

static void read_dlq(fx_t *f, dlqs_t *d)
{
    d->n = 0;
    assert_int_equal(store_exec(f->s,
                                "SELECT \"kind\", \"reason\", \"topic\", \"value\", \"offset\", "
                                "\"partition\" FROM \"dlq\" ORDER BY \"offset\"",
                                NULL, 0, dlq_row, d, NULL),
                     0);
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
    if (n >= 1)
        text_of(&v[0], arg, 512);
    return 0;
}

static void q_text(fx_t *f, const char *sql, char out[512])
{
    out[0] = '\0';
    assert_int_equal(store_exec(f->s, sql, NULL, 0, one_text, out, NULL), 0);
}

/* ---- The hand-written file: one valid row, one of each rejection. */

static const char SMALL[] = "Transaction ID,Amount (INR),City,Date,Time\n" /* 1 */
                            "T1,10.5,MUMBAI,28/8/16,12154\n"               /* 2 valid */
                            "T2,abc,PUNE,1/1/16,0\n"                       /* 3 type */
                            ",5,PUNE,1/1/16,5\n"                           /* 4 required */
                            "T4,5000,\"DELHI, NCR\",2/1/16,235959\n"       /* 5 rule */
                            "T5,1,X,31/2/16,1\n"                           /* 6 bad date */
                            "T6,1,\"multi\nline city\",3/1/16,10203\n"     /* 7-8 valid */
                            "T7,1,2,3\n"                                   /* 9 fields */
                            "\"T8\"x,1,A,1/1/16,1\n"                       /* 10 quote */
                            "T9,nan,A,1/1/16,1\n"                          /* 11 required */
                            "X10,1,A,1/1/16,1\n"                           /* 12 pattern */
                            "T11,-1,A,1/1/16,1\r\n";                       /* 13 min */

/* Writes SMALL to the fixture's small.csv; path receives its name. */
static void write_small(const fx_t *f, char *path, size_t n)
{
    snprintf(path, n, "%s/small.csv", f->dir);
    write_file(path, SMALL, sizeof SMALL - 1);
}

static void test_rows_and_rejections(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char path[400];
    write_small(&f, path, sizeof path);
    result_t r;
    run_import(&f, path, 1, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.run.rows_in, 11);
    assert_int_equal(r.run.rows_out, 2);
    assert_false(r.run.skipped);
    assert_int_equal(topic_count(&f), 2);

    part_t parts[PARTS];
    for (int32_t p = 0; p < PARTS; p++)
        read_partition(&f, p, &parts[p]);
    const rec_t *t1 = find_key(parts, "T1");
    assert_non_null(t1);
    assert_string_equal(t1->value, "{\"id\":\"T1\",\"amount\":10.5,\"city\":\"MUMBAI\","
                                   "\"ts\":\"2016-08-28T01:21:54Z\"}");
    assert_int_equal(t1->ts, INT64_C(1472347314000));
    const rec_t *t6 = find_key(parts, "T6");
    assert_non_null(t6);
    assert_string_equal(t6->value, "{\"id\":\"T6\",\"amount\":1.0,\"city\":\"multi\\nline city\","
                                   "\"ts\":\"2016-01-03T01:02:03Z\"}");
    /* Keyed records go where Kafka's partitioner puts them. */
    int32_t want = bus_partition_for_key("T1", 2, PARTS);
    bool found = false;
    for (size_t i = 0; i < parts[want].n; i++)
        found |= strcmp(parts[want].recs[i].key, "T1") == 0;
    assert_true(found);
    for (int32_t p = 0; p < PARTS; p++)
        free(parts[p].recs);

    dlqs_t d;
    read_dlq(&f, &d);
    static const struct {
        int64_t line;
        const char *kind, *field;
    } want_dlq[] = {
        {3, "type", "\"amount\""},      {4, "required", "\"id\""}, {5, "rule", "reasonable"},
        {6, "required", "expression"},  {9, "invalid_csv", "5"},   {10, "invalid_csv", "quote"},
        {11, "required", "\"amount\""}, {12, "check", "\"id\""},   {13, "check", "\"amount\""},
    };
    assert_int_equal(d.n, CORE_ARRAY_LEN(want_dlq));
    for (size_t i = 0; i < d.n; i++) {
        char where[512];
        snprintf(where, sizeof where, "%s line %lld: ", path, (long long)want_dlq[i].line);
        assert_int_equal(d.rows[i].offset, want_dlq[i].line);
        assert_int_equal(d.rows[i].partition, -1);
        assert_string_equal(d.rows[i].topic, path);
        assert_string_equal(d.rows[i].kind, want_dlq[i].kind);
        assert_true(strncmp(d.rows[i].reason, where, strlen(where)) == 0);
        assert_non_null(strstr(d.rows[i].reason, want_dlq[i].field));
    }
    assert_string_equal(d.rows[2].value, "T4,5000,\"DELHI, NCR\",2/1/16,235959");
    assert_string_equal(d.rows[8].value, "T11,-1,A,1/1/16,1");
    assert_non_null(strstr(d.rows[2].reason, "amount above 1000"));

    char text[512];
    q_text(&f,
           "SELECT \"state\" || ':' || \"rows\" || ':' || \"invalid\" || ':' || \"job\" FROM "
           "\"strata_imports\"",
           text);
    assert_string_equal(text, "completed:2:9:load_tx");
    assert_non_null(strstr(r.inputs, "\"rows\":11"));
    assert_non_null(strstr(r.inputs, path));
    fx_close(&f);
}

static void test_same_content_is_skipped(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/a.csv", f.dir);
    snprintf(b, sizeof b, "%s/b.csv", f.dir);
    write_file(a, SMALL, sizeof SMALL - 1);
    write_file(b, SMALL, sizeof SMALL - 1);
    result_t r;
    run_import(&f, a, 1, &r);
    assert_int_equal(r.rc, 0);
    size_t before = topic_count(&f);
    run_import(&f, a, 2, &r);
    assert_int_equal(r.rc, 0);
    assert_true(r.run.skipped);
    assert_int_equal(r.run.rows_out, 0);
    assert_non_null(strstr(r.inputs, "\"rows\":0"));
    /* The same bytes under another name are the same file. */
    run_import(&f, b, 3, &r);
    assert_int_equal(r.rc, 0);
    assert_true(r.run.skipped);
    assert_int_equal(topic_count(&f), before);
    assert_int_equal(q_int(&f, "SELECT COUNT(*) FROM \"dlq\""), 9);
    fx_close(&f);
}

/* Two imports of the same content claiming it at the same moment: the one
 * whose insert comes second is told so, and appends nothing. The race is
 * made with a trigger that inserts the other run's row first (SQLite runs
 * no trigger from inside a trigger by default). */
static void test_racing_claim_is_named(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char path[400];
    write_small(&f, path, sizeof path);
    assert_int_equal(store_exec(f.s,
                                "CREATE TRIGGER racing BEFORE INSERT ON strata_imports BEGIN "
                                "INSERT INTO strata_imports (sha256, topic, path, job, run_id, "
                                "imported_at, state) VALUES (NEW.sha256, NEW.topic, 'elsewhere', "
                                "'other', 99, 0, 'running'); END",
                                NULL, 0, NULL, NULL, NULL),
                     0);
    result_t r;
    run_import(&f, path, 1, &r);
    assert_int_equal(r.rc, CORE_EEXIST);
    assert_non_null(strstr(core_error_detail(), "another run began importing the same content"));
    assert_int_equal(topic_count(&f), 0);
    fx_close(&f);
}

static void test_glob_imports_each_file_in_order(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char p1[400], p2[400], pattern[400];
    snprintf(p1, sizeof p1, "%s/part-1.csv", f.dir);
    snprintf(p2, sizeof p2, "%s/part-2.csv", f.dir);
    snprintf(pattern, sizeof pattern, "%s/part-*.csv", f.dir);
    const char one[] = "Transaction ID,Amount (INR),City,Date,Time\nT1,1,A,1/1/16,1\n";
    const char two[] = "Date,Time,City,Amount (INR),Transaction ID\n2/1/16,2,B,2,T2\n"
                       "3/1/16,3,C,3,T3\n";
    write_file(p2, two, sizeof two - 1);
    write_file(p1, one, sizeof one - 1);
    result_t r;
    run_import(&f, pattern, 1, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.run.rows_out, 3);
    assert_int_equal(topic_count(&f), 3);
    char *first = strstr(r.inputs, "part-1.csv"), *second = strstr(r.inputs, "part-2.csv");
    assert_non_null(first);
    assert_non_null(second);
    assert_true(first < second);
    fx_close(&f);
}

static void test_setup_errors_name_the_problem(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char path[400], missing[400];
    snprintf(path, sizeof path, "%s/x.csv", f.dir);
    snprintf(missing, sizeof missing, "%s/none-*.csv", f.dir);
    write_file(path, SMALL, sizeof SMALL - 1);
    result_t r;

    run_import(&f, missing, 1, &r);
    assert_int_equal(r.rc, CORE_ENOENT);
    assert_non_null(strstr(core_error_detail(), "none-*.csv"));

    f.cols[1].column = "Amount";
    run_import(&f, path, 2, &r);
    assert_int_equal(r.rc, CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "no column \"Amount\""));
    assert_non_null(strstr(core_error_detail(), path));
    f.cols[1].column = "Amount (INR)";

    f.cols[3].expr = "to_timestamp(\"Datum\")";
    run_import(&f, path, 3, &r);
    assert_int_equal(r.rc, CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "Datum"));
    f.cols[3].expr = TS_EXPR;

    f.job.time_field = "city";
    run_import(&f, path, 4, &r);
    assert_int_equal(r.rc, CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "time_field"));
    f.job.time_field = "ts";

    f.job.topic = "nope";
    run_import(&f, path, 5, &r);
    assert_int_equal(r.rc, CORE_ENOENT);
    f.job.topic = "tx";

    char empty[400];
    snprintf(empty, sizeof empty, "%s/empty.csv", f.dir);
    write_file(empty, "", 0);
    run_import(&f, empty, 6, &r);
    assert_int_equal(r.rc, CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "no header"));
    assert_int_equal(topic_count(&f), 0);
    fx_close(&f);
}

/* ---- Exactly-once resumption. */

#define BIG_ROWS 2500
#define CUT_ROWS 700

/* The first UPTO rows of the test file; invalid every 101st (bad amount),
 * 103rd (rule) and 107th (extra field) row. Writes PATH; *sha gets its
 * SHA-256 in hex. Returns its size. */
static size_t gen_csv(const char *path, int upto, char sha[65])
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 22);
    assert_int_equal(core_buf_append_str(&b, "Transaction ID,Amount (INR),City,Date,Time\n"), 0);
    for (int n = 1; n <= upto; n++) {
        int secs = (n * 37) % 86400;
        int hhmmss = secs / 3600 * 10000 + secs / 60 % 60 * 100 + secs % 60;
        assert_int_equal(core_buf_printf(&b, "T%d,", n), 0);
        if (n % 101 == 0)
            assert_int_equal(core_buf_append_str(&b, "x"), 0);
        else if (n % 103 == 0)
            assert_int_equal(core_buf_append_str(&b, "5000"), 0);
        else
            assert_int_equal(core_buf_printf(&b, "%d.25", n % 997), 0);
        assert_int_equal(core_buf_printf(&b, ",\"CITY, %d\",%d/%d/16,%d%s\n", n % 7, n % 28 + 1,
                                         n % 12 + 1, hhmmss, n % 107 == 0 ? ",extra" : ""),
                         0);
    }
    write_file(path, (const char *)b.data, b.len);
    core_sha256_t c;
    uint8_t d[32];
    core_sha256_init(&c);
    core_sha256_update(&c, b.data, b.len);
    core_sha256_final(&c, d);
    core_sha256_hex(d, sha);
    size_t len = b.len;
    core_buf_fini(&b);
    return len;
}

static int64_t count_valid(int upto)
{
    int64_t v = 0;
    for (int n = 1; n <= upto; n++)
        v += n % 101 != 0 && n % 103 != 0 && n % 107 != 0;
    return v;
}

/* The row number of key "T<n>". */
static int64_t key_row(const char *key)
{
    int64_t n = -1;
    assert_int_equal(core_parse_i64(key + 1, 1, INT64_MAX, &n), 0);
    return n;
}

static void produce_one(fx_t *f, int32_t p, const char *key, const char *value)
{
    bus_message_t m = {.key = key,
                       .key_len = strlen(key),
                       .value = value,
                       .value_len = strlen(value),
                       .timestamp_ms = -1};
    assert_int_equal(bus_produce(f->bus, "tx", p, &m, 1, true, NULL), 0);
}

/* Produces MSGS (keys and values of records read back) to partition p
 * in one durable batch. */
static void produce_recs(fx_t *f, int32_t p, const rec_t *const *recs, size_t n)
{
    if (n == 0)
        return;
    bus_message_t *m = calloc(n, sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < n; i++)
        m[i] = (bus_message_t){.key = recs[i]->key,
                               .key_len = strlen(recs[i]->key),
                               .value = recs[i]->value,
                               .value_len = strlen(recs[i]->value),
                               .timestamp_ms = -1};
    assert_int_equal(bus_produce(f->bus, "tx", p, m, n, true, NULL), 0);
    free(m);
}

/* A crashed attempt had saved its progress after row CUT, then produced
 * rows up to PRODUCED into partitions 0 and 1 only; another producer wrote
 * into partitions 0 and 2 meanwhile. The retry must leave exactly the
 * partitions a clean run of BIG rows makes (plus the other producer's
 * records). */
static void resume_case(int big, int cut, int produced)
{
    fx_t x, y;
    fx_open(&x);
    fx_open(&y);
    char px[400], py[400], sha[65], cut_sha[65];
    snprintf(px, sizeof px, "%s/big.csv", x.dir);
    snprintf(py, sizeof py, "%s/big.csv", y.dir);
    gen_csv(px, big, sha);
    result_t r;
    run_import(&x, px, 1, &r);
    assert_int_equal(r.rc, 0);
    int64_t valid = count_valid(big);
    assert_int_equal(r.run.rows_out, valid);

    /* Y: the prefix imported and its progress saved. */
    gen_csv(py, cut, cut_sha);
    run_import(&y, py, 1, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.run.rows_out, count_valid(cut));
    part_t xp[PARTS];
    for (int32_t p = 0; p < PARTS; p++)
        read_partition(&x, p, &xp[p]);
    produce_one(&y, 0, "foreign", "{\"a\":1}");
    for (int32_t p = 0; p < 2; p++) {
        const rec_t **list = calloc(xp[p].n + 1, sizeof *list);
        size_t n = 0;
        for (size_t i = 0; i < xp[p].n; i++) {
            int64_t row = key_row(xp[p].recs[i].key);
            if (row > cut && row <= produced)
                list[n++] = &xp[p].recs[i];
        }
        produce_recs(&y, p, list, n);
        free(list);
    }
    produce_one(&y, 2, "foreign", "{\"a\":2}");

    /* The whole file now stands where the prefix was, and the saved
     * progress (rows, next byte and line, end offsets) is the prefix's. */
    gen_csv(py, big, sha);
    schema_value_t k = {.type = SCHEMA_STRING, .v.s = {sha, 64}};
    assert_int_equal(store_exec(y.s,
                                "UPDATE \"strata_imports\" SET \"sha256\" = ?1, \"state\" = "
                                "'running'",
                                &k, 1, NULL, NULL, NULL),
                     0);
    run_import(&y, py, 2, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.run.rows_out, valid);
    assert_int_equal(r.run.rows_in, big);

    size_t foreign = 0;
    for (int32_t p = 0; p < PARTS; p++) {
        part_t yp;
        read_partition(&y, p, &yp);
        size_t j = 0;
        for (size_t i = 0; i < yp.n; i++) {
            if (strcmp(yp.recs[i].key, "foreign") == 0) {
                foreign++;
                continue;
            }
            assert_true(j < xp[p].n);
            assert_string_equal(yp.recs[i].key, xp[p].recs[j].key);
            assert_string_equal(yp.recs[i].value, xp[p].recs[j].value);
            j++;
        }
        assert_int_equal(j, xp[p].n);
        free(yp.recs);
        free(xp[p].recs);
    }
    assert_int_equal(foreign, 2);
    assert_int_equal(q_int(&y, "SELECT \"rows\" FROM \"strata_imports\""), valid);
    assert_int_equal(q_int(&y, "SELECT \"invalid\" FROM \"strata_imports\""), big - valid);
    assert_int_equal(q_int(&y, "SELECT \"run_id\" FROM \"strata_imports\""), 2);
    assert_int_equal(q_int(&y, "SELECT COUNT(*) FROM \"dlq\""), big - valid);
    assert_int_equal(q_int(&y, "SELECT COUNT(DISTINCT \"offset\") FROM \"dlq\""), big - valid);
    fx_close(&x);
    fx_close(&y);
}

static void test_resume_after_partial_produce(void **state)
{
    (void)state;
    resume_case(BIG_ROWS, CUT_ROWS, 1000);
}

/* The same over many chunks: the rows to verify span several of them, and
 * the clean runs cross several sync points. */
static void test_resume_across_chunks(void **state)
{
    (void)state;
    resume_case(30000, 9000, 21000);
}

/* A crash after every record was produced but before any progress was
 * saved: the retry produces nothing new. */
static void test_resume_when_everything_was_produced(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char path[400], sha[65];
    snprintf(path, sizeof path, "%s/big.csv", f.dir);
    gen_csv(path, BIG_ROWS, sha);
    result_t r;
    run_import(&f, path, 1, &r);
    assert_int_equal(r.rc, 0);
    size_t count = topic_count(&f);
    assert_int_equal(count, (size_t)count_valid(BIG_ROWS));
    assert_int_equal(store_exec(f.s,
                                "UPDATE \"strata_imports\" SET \"state\" = 'running', \"rows\" = "
                                "0, \"invalid\" = 0, \"next_byte\" = 0, \"next_line\" = 0, "
                                "\"end_offsets\" = '[0,0,0,0]'",
                                NULL, 0, NULL, NULL, NULL),
                     0);
    run_import(&f, path, 2, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.run.rows_out, count_valid(BIG_ROWS));
    assert_int_equal(topic_count(&f), count);
    assert_int_equal(q_int(&f, "SELECT \"rows\" FROM \"strata_imports\" WHERE \"state\" = "
                               "'completed'"),
                     count_valid(BIG_ROWS));
    assert_int_equal(q_int(&f, "SELECT COUNT(*) FROM \"dlq\""), BIG_ROWS - count_valid(BIG_ROWS));
    fx_close(&f);
}

/* A run asked to stop stops before appending anything, says where a
 * retry resumes, and leaves the import running; the retry completes it
 * with every row once. */
static void test_stop_then_resume(void **state)
{
    (void)state;
    fx_t f;
    fx_open(&f);
    char path[400], sha[65];
    snprintf(path, sizeof path, "%s/big.csv", f.dir);
    gen_csv(path, 20000, sha);
    static const int stop = 1;
    f.job.path = path;
    result_t r;
    memset(&r, 0, sizeof r);
    r.run = (batch_run_t){.job = &f.job, .env = &f.env, .store = f.s, .run_id = 1, .stop = &stop};
    core_buf_init(&r.run.inputs, CORE_MEM_TEST, BATCH_LINEAGE_MAX);
    core_buf_init(&r.run.outputs, CORE_MEM_TEST, BATCH_LINEAGE_MAX);
    assert_int_equal(batch_import_run(&r.run), CORE_ECLOSED);
    assert_non_null(strstr(core_error_detail(), "stopped at line 2"));
    core_buf_fini(&r.run.inputs);
    core_buf_fini(&r.run.outputs);
    assert_int_equal(topic_count(&f), 0);
    char text[512];
    q_text(&f, "SELECT \"state\" FROM \"strata_imports\"", text);
    assert_string_equal(text, "running");
    run_import(&f, path, 2, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.run.rows_out, count_valid(20000));
    assert_int_equal(topic_count(&f), (size_t)count_valid(20000));
    assert_int_equal(q_int(&f, "SELECT COUNT(*) FROM \"dlq\""), 20000 - count_valid(20000));
    fx_close(&f);
}

/* Rows whose JSON is far longer than their CSV (control characters are
 * written \u00XX): a chunk of them takes several conversion passes, and
 * each partition's records need several batches. Every row arrives once,
 * in order, with the value the JSON writer gives. */
static void test_long_values_take_several_passes(void **state)
{
    (void)state;
    enum { ROWS = 120, CITY = 20000 };
    fx_t f;
    fx_open(&f);
    char path[400];
    snprintf(path, sizeof path, "%s/long.csv", f.dir);
    char *city = malloc(CITY + 1);
    assert_non_null(city);
    memset(city, 1, CITY);
    city[CITY] = '\0';
    core_buf_t b, want;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 23);
    core_buf_init(&want, CORE_MEM_TEST, 1 << 20);
    assert_int_equal(core_buf_append_str(&b, "Transaction ID,Amount (INR),City,Date,Time\n"), 0);
    for (int n = 1; n <= ROWS; n++)
        assert_int_equal(core_buf_printf(&b, "T%d,%d.5,%s,1/1/16,%d\n", n, n, city, n % 60), 0);
    write_file(path, (const char *)b.data, b.len);
    result_t r;
    run_import(&f, path, 1, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.run.rows_out, ROWS);
    size_t seen = 0;
    for (int32_t p = 0; p < PARTS; p++) {
        int64_t start, end, last = 0;
        assert_int_equal(bus_offsets(f.bus, "tx", p, &start, &end), 0);
        bus_reader_t *rd;
        assert_int_equal(bus_reader_open(f.bus, "tx", p, start, &rd), 0);
        while (bus_reader_position(rd) < end) {
            bus_record_t rec[8];
            size_t n;
            assert_int_equal(bus_reader_poll(rd, rec, 8, &n, 1000), 0);
            assert_true(n > 0);
            for (size_t i = 0; i < n; i++, seen++) {
                char key[32];
                snprintf(key, sizeof key, "%.*s", (int)rec[i].key_len, rec[i].key);
                int64_t row = key_row(key);
                assert_true(row > last);
                last = row;
                char num[32], ts[40];
                snprintf(num, sizeof num, "%lld.5", (long long)row);
                snprintf(ts, sizeof ts, "2016-01-01T00:00:%02lldZ", (long long)row % 60);
                core_json_writer_t w;
                core_buf_reset(&want);
                core_json_writer_init(&w, &want);
                core_json_write_object_begin(&w);
                core_json_write_key(&w, "id", 2);
                core_json_write_string(&w, key, strlen(key));
                core_json_write_key(&w, "amount", 6);
                core_json_write_double(&w, strtod(num, NULL));
                core_json_write_key(&w, "city", 4);
                core_json_write_string(&w, city, CITY);
                core_json_write_key(&w, "ts", 2);
                core_json_write_string(&w, ts, strlen(ts));
                core_json_write_object_end(&w);
                assert_int_equal(core_json_writer_finish(&w), 0);
                assert_int_equal(rec[i].value_len, want.len);
                assert_memory_equal(rec[i].value, want.data, want.len);
            }
        }
        bus_reader_close(rd);
    }
    assert_int_equal(seen, ROWS);
    core_buf_fini(&b);
    core_buf_fini(&want);
    free(city);
    fx_close(&f);
}

/* ---- The encoder's fast paths against the JSON writer. */

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A number-like cell of many shapes: signs, leading and trailing zeros,
 * long fractions, exponents, 15 to 17 significant digits, and some that
 * are not numbers at all. */
static void random_number(uint64_t *s, char *out, size_t cap)
{
    static const char *const odd[] = {"0",
                                      "-0",
                                      "0.0",
                                      "-0.0",
                                      "+5",
                                      "5.",
                                      ".5",
                                      "-.5",
                                      "00012",
                                      "0.0001",
                                      "0.00001",
                                      "1e5",
                                      "1E-3",
                                      "12.3400",
                                      "100000000000000",
                                      "1000000000000000",
                                      "999999999999999",
                                      "0.000123",
                                      "9007199254740993",
                                      "1.7976931348623157e308",
                                      "4.9e-324",
                                      "abc",
                                      "1.2.3",
                                      "-",
                                      "",
                                      "0.30000000000000004"};
    if (rnd(s) % 8 == 0) {
        snprintf(out, cap, "%s", odd[rnd(s) % CORE_ARRAY_LEN(odd)]);
        return;
    }
    size_t n = 0;
    uint64_t k = rnd(s);
    if (k % 5 == 0)
        out[n++] = '-';
    if (k % 31 == 1)
        out[n++] = '+';
    int ilen = (int)(rnd(s) % 17), flen = (int)(rnd(s) % 21);
    if (ilen == 0 && flen == 0)
        ilen = 1;
    for (int i = 0; i < ilen && n + 2 < cap; i++)
        out[n++] = (char)('0' + (i == 0 && rnd(s) % 6 ? 1 + rnd(s) % 9 : rnd(s) % 10));
    if (flen > 0 || k % 7 == 3)
        out[n++] = '.';
    for (int i = 0; i < flen && n + 2 < cap; i++)
        out[n++] = (char)('0' + (rnd(s) % 4 == 0 ? 0 : rnd(s) % 10));
    if (k % 23 == 5 && n + 5 < cap)
        n += (size_t)snprintf(out + n, cap - n, "e%d", (int)(rnd(s) % 40) - 20);
    out[n] = '\0';
}

/* Text with and without characters the writer escapes. */
static void random_text(uint64_t *s, char *out, size_t cap)
{
    static const char *const pieces[] = {
        "a",    "MUMBAI", " ", "DELHI, NCR", "\"",           "\\", "\n", "\t",
        "\x01", "\x7f",   "/", "\xc3\xa9",   "\xe2\x82\xac", "x",  "12"};
    size_t n = 0, parts = rnd(s) % 6;
    bool plain = rnd(s) % 2 == 0;
    for (size_t i = 0; i < parts; i++) {
        const char *p = pieces[plain ? rnd(s) % 2 * 14 : rnd(s) % CORE_ARRAY_LEN(pieces)];
        size_t l = strlen(p);
        if (n + l + 1 >= cap)
            break;
        memcpy(out + n, p, l);
        n += l;
    }
    out[n] = '\0';
}

static void expect_row_json(const schema_t *schema, const char *num, const char *text, int64_t us,
                            core_buf_t *want)
{
    core_json_writer_t w;
    char tmp[160];
    bool number;
    core_buf_reset(want);
    core_json_writer_init(&w, want);
    core_json_write_object_begin(&w);
    core_json_write_key(&w, "f", 1);
    core_json_write_double(&w, strtod(num, NULL));
    core_json_write_key(&w, "s", 1);
    if (text[0] == '\0')
        core_json_write_null(&w);
    else
        core_json_write_string(&w, text, strlen(text));
    core_json_write_key(&w, "t", 1);
    size_t n = import_render_timestamp(schema_field(schema, 2), us, tmp, sizeof tmp, &number);
    core_json_write_string(&w, tmp, n);
    core_json_write_key(&w, "e", 1);
    n = import_render_timestamp(schema_field(schema, 3), us, tmp, sizeof tmp, &number);
    assert_true(number);
    core_json_write_raw(&w, tmp, n);
    core_json_write_object_end(&w);
    assert_int_equal(core_json_writer_finish(&w), 0);
}

static void test_values_match_the_writer(void **state)
{
    (void)state;
    schema_t *schema;
    assert_int_equal(schema_create("v", &schema), 0);
    schema_field_def_t defs[] = {
        {.name = "f", .type = SCHEMA_FLOAT, .required = true},
        {.name = "s", .type = SCHEMA_STRING},
        {.name = "t", .type = SCHEMA_TIMESTAMP, .format = "iso8601"},
        {.name = "e", .type = SCHEMA_TIMESTAMP, .format = "epoch_ms"},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(defs); i++) {
        defs[i].min_length = defs[i].max_length = -1;
        assert_int_equal(schema_add_field(schema, &defs[i]), 0);
    }
    assert_int_equal(schema_seal(schema), 0);
    const char *expr = "to_timestamp(\"D\", '%d/%m/%y %H%M%S')";
    batch_column_t cols[] = {
        {"f", "F", NULL}, {"s", "S", NULL}, {"t", NULL, expr}, {"e", NULL, expr}};
    batch_job_def_t job = {.name = "v", .schema = schema, .columns = cols, .ncolumns = 4};
    batch_csv_field_t hf[3] = {{"F", 1, false}, {"S", 1, false}, {"D", 1, false}};
    batch_csv_record_t header = {.fields = hf, .nfields = 3, .line = 1};
    import_map_t *m;
    assert_int_equal(import_map_create(&job, "v.csv", &header, &m), 0);
    core_buf_t out, want;
    core_buf_init(&out, CORE_MEM_TEST, 1 << 20);
    core_buf_init(&want, CORE_MEM_TEST, 1 << 20);
    uint64_t s = 5;
    int valid = 0;
    for (int i = 0; i < 30000; i++) {
        char num[64], text[64], date[32];
        random_number(&s, num, sizeof num);
        random_text(&s, text, sizeof text);
        snprintf(date, sizeof date, "%d/%d/%02d %02d%02d%02d", 1 + (int)(rnd(&s) % 28),
                 1 + (int)(rnd(&s) % 12), (int)(rnd(&s) % 100), (int)(rnd(&s) % 24),
                 (int)(rnd(&s) % 60), (int)(rnd(&s) % 60));
        batch_csv_field_t fl[3] = {
            {num, strlen(num), false}, {text, strlen(text), false}, {date, strlen(date), false}};
        batch_csv_record_t rec = {.fields = fl, .nfields = 3, .line = 2 + i};
        import_row_t row;
        core_buf_reset(&out);
        assert_int_equal(import_map_row(m, &rec, &out, &row), 0);
        if (!row.valid)
            continue;
        valid++;
        int64_t us;
        assert_int_equal(
            schema_parse_timestamp(SCHEMA_TS_STRFTIME, "%d/%m/%y %H%M%S", date, strlen(date), &us),
            0);
        expect_row_json(schema, num, text, us, &want);
        assert_int_equal(out.len, want.len);
        assert_memory_equal(out.data, want.data, want.len);
    }
    assert_true(valid > 20000);
    core_buf_fini(&out);
    core_buf_fini(&want);
    import_map_destroy(m);
    schema_destroy(schema);
}

/* ---- Pieces. */

static void test_render_timestamp(void **state)
{
    (void)state;
    schema_field_t f = {.type = SCHEMA_TIMESTAMP};
    char buf[160];
    bool num;
    f.ts_format = SCHEMA_TS_EPOCH_S;
    assert_int_equal(import_render_timestamp(&f, 1500000, buf, sizeof buf, &num), 3);
    assert_string_equal(buf, "1.5");
    assert_true(num);
    f.ts_format = SCHEMA_TS_EPOCH_MS;
    import_render_timestamp(&f, -1500, buf, sizeof buf, &num);
    assert_string_equal(buf, "-1.5");
    import_render_timestamp(&f, 2000, buf, sizeof buf, &num);
    assert_string_equal(buf, "2");
    f.ts_format = SCHEMA_TS_EPOCH_US;
    import_render_timestamp(&f, 123, buf, sizeof buf, &num);
    assert_string_equal(buf, "123");
    f.ts_format = SCHEMA_TS_STRFTIME;
    f.ts_pattern = "%d/%m/%y %H%M%S.%f%z %%";
    import_render_timestamp(&f, INT64_C(1472347314000007), buf, sizeof buf, &num);
    assert_string_equal(buf, "28/08/16 012154.000007Z %");
    assert_false(num);
    f.ts_format = SCHEMA_TS_ISO8601;
    import_render_timestamp(&f, INT64_C(1472347314000000), buf, sizeof buf, &num);
    assert_string_equal(buf, "2016-08-28T01:21:54Z");
    assert_false(num);
    /* Before the epoch, the pattern still counts days down correctly. */
    f.ts_format = SCHEMA_TS_STRFTIME;
    f.ts_pattern = "%Y-%m-%d %H:%M:%S";
    import_render_timestamp(&f, -1000000, buf, sizeof buf, &num);
    assert_string_equal(buf, "1969-12-31 23:59:59");
}

/* lpad()/rpad(), added to the expression language for CSV times such as
 * "5314" (00:53:14). */
static void expect_str(const char *text, const char *want)
{
    stream_expr_t *e;
    core_buf_t scratch;
    core_buf_init(&scratch, CORE_MEM_TEST, 4096);
    assert_int_equal(stream_expr_compile(text, NULL, &e), 0);
    schema_value_t v;
    stream_expr_env_t env = {0};
    assert_int_equal(stream_expr_eval(e, &env, &scratch, &v), 0);
    if (want == NULL) {
        assert_int_equal(v.type, SCHEMA_NULL);
    } else {
        assert_int_equal(v.type, SCHEMA_STRING);
        assert_int_equal(v.v.s.len, strlen(want));
        assert_memory_equal(v.v.s.p, want, v.v.s.len);
    }
    stream_expr_destroy(e);
    core_buf_fini(&scratch);
}

static void test_lpad_rpad(void **state)
{
    (void)state;
    expect_str("lpad('5314', 6, '0')", "005314");
    expect_str("lpad('223214', 6, '0')", "223214");
    expect_str("lpad('abc', 2)", "ab");
    expect_str("lpad('7', 3)", "  7");
    expect_str("lpad('7', 4, 'xy')", "xyx7");
    expect_str("rpad('ab', 5, '-')", "ab---");
    expect_str("rpad('ab', 5, 'xy')", "abxyx");
    expect_str("lpad('\xc3\xa9', 3, '\xc3\xbc')", "\xc3\xbc\xc3\xbc\xc3\xa9");
    expect_str("lpad('x', 0)", "");
    expect_str("lpad('x', -1, 'y')", "");
    expect_str("lpad('ab', 5, '')", "ab");
    expect_str("lpad(null, 3, '0')", NULL);
    stream_expr_t *e = NULL;
    assert_int_equal(stream_expr_compile("lpad('a')", NULL, &e), CORE_EINVAL);
    core_buf_t small;
    core_buf_init(&small, CORE_MEM_TEST, 64);
    assert_int_equal(stream_expr_compile("lpad('a', 1000000000, 'xyz')", NULL, &e), 0);
    schema_value_t v;
    stream_expr_env_t env = {0};
    assert_int_equal(stream_expr_eval(e, &env, &small, &v), CORE_ETOOBIG);
    stream_expr_destroy(e);
    core_buf_fini(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_rejections),
        cmocka_unit_test(test_same_content_is_skipped),
        cmocka_unit_test(test_racing_claim_is_named),
        cmocka_unit_test(test_glob_imports_each_file_in_order),
        cmocka_unit_test(test_setup_errors_name_the_problem),
        cmocka_unit_test(test_resume_after_partial_produce),
        cmocka_unit_test(test_resume_across_chunks),
        cmocka_unit_test(test_stop_then_resume),
        cmocka_unit_test(test_long_values_take_several_passes),
        cmocka_unit_test(test_values_match_the_writer),
        cmocka_unit_test(test_resume_when_everything_was_produced),
        cmocka_unit_test(test_render_timestamp),
        cmocka_unit_test(test_lpad_rpad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

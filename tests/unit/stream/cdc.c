/*
 * Tests of the cdc kind (src/stream/kind_cdc.c), through real pipelines:
 * a seglog topic, stream_pipeline_run_once() and a SQLite store.
 * Debezium events, plain and wrapped in {schema, payload}: creates,
 * snapshot reads, updates and deletes (with a before image that has only
 * the key) applied to the table; several changes of one key within one
 * commit applied in log order; tombstones counted as filtered; every kind
 * of bad event in the dlq with its kind and reason, the pipeline carrying
 * on; a replay from offset 0 leaving the table unchanged; and a filter
 * rejected.
 */
#include "kind_fixture.h"

static schema_t *make_schema(void)
{
    schema_t *s = NULL;
    assert_int_equal(schema_create("customer", &s), 0);
    schema_field_def_t f[] = {
        kf_field("id", SCHEMA_INT, true),
        kf_field("name", SCHEMA_STRING, true),
        kf_field("email", SCHEMA_STRING, false),
        kf_field("age", SCHEMA_INT, false),
    };
    f[3].has_min = true;
    f[3].min = 0;
    for (size_t i = 0; i < CORE_ARRAY_LEN(f); i++)
        assert_int_equal(schema_add_field(s, &f[i]), 0);
    assert_int_equal(
        schema_add_rule(s, "age_sane", "age is null or age < 150", "age must be below 150"), 0);
    assert_int_equal(schema_seal(s), 0);
    return s;
}

static const char *const primary_key[] = {"id"};

static stream_pipeline_def_t cdc_def(const schema_t *s, int64_t commit_records)
{
    stream_pipeline_def_t d = {
        .name = "mirror",
        .kind = STREAM_KIND_CDC,
        .topic = KF_TOPIC,
        .schema = s,
        .table = "customers",
        .primary_key = primary_key,
        .npk = 1,
        .commit_records = commit_records,
        .commit_interval_ms = 60000,
    };
    return d;
}

#define SOURCE                                                                                     \
    "\"source\":{\"version\":\"2.5.0.Final\",\"connector\":\"postgresql\",\"name\":"               \
    "\"dbserver1\",\"ts_ms\":1700000000000,\"snapshot\":\"false\",\"db\":\"inventory\","           \
    "\"table\":\"customers\"}"

/* The events, in log order; NULL is a tombstone. */
static const char *const events[] = {
    /* 0 */ "{\"before\":null,\"after\":{\"id\":1,\"name\":\"Ann\",\"email\":\"ann@x.org\","
            "\"age\":30}," SOURCE ",\"op\":\"c\",\"ts_ms\":1700000000123}",
    /* 1: wrapped by Kafka Connect's JSON converter */
    "{\"schema\":{\"type\":\"struct\",\"fields\":[{\"type\":\"struct\",\"fields\":[{\"type\":"
    "\"int32\",\"optional\":false,\"field\":\"id\"}],\"optional\":true,\"field\":\"before\"}],"
    "\"optional\":false,\"name\":\"dbserver1.inventory.customers.Envelope\"},\"payload\":{"
    "\"before\":null,\"after\":{\"id\":2,\"name\":\"Bob\",\"email\":null,\"age\":41}," SOURCE
    ",\"op\":\"c\",\"ts_ms\":1700000000200}}",
    /* 2 */
    "{\"before\":{\"id\":1,\"name\":\"Ann\",\"email\":\"ann@x.org\",\"age\":30},"
    "\"after\":{\"id\":1,\"name\":\"Anna\",\"email\":\"anna@x.org\",\"age\":31},"
    "\"op\":\"u\"}",
    /* 3 */ "{\"before\":null,\"after\":{\"id\":3,\"name\":\"Cy\",\"age\":7},\"op\":\"r\"}",
    /* 4: a before image with the key only (default replica identity) */
    "{\"before\":{\"id\":2,\"name\":null,\"email\":null,\"age\":null},\"after\":null,"
    "\"op\":\"d\"}",
    /* 5 */ NULL,
    /* 6 */ "{\"op\":\"t\"," SOURCE "}",
    /* 7 */ "{\"op\":\"c\",\"after\":",
    /* 8 */ "{\"after\":{\"id\":9,\"name\":\"No op\"}}",
    /* 9 */ "{\"after\":{\"id\":9,\"name\":\"X\"},\"op\":\"x\"}",
    /* 10 */ "{\"before\":null,\"after\":null,\"op\":\"c\"}",
    /* 11 */ "{\"after\":null,\"op\":\"d\"}",
    /* 12 */ "{\"after\":{\"id\":\"abc\",\"name\":\"X\"},\"op\":\"c\"}",
    /* 13 */ "{\"before\":{\"name\":\"Q\"},\"op\":\"d\"}",
    /* 14 */ "{\"after\":{\"id\":9,\"name\":\"Old\",\"age\":200},\"op\":\"u\"}",
    /* 15 */ "{\"schema\":null,\"payload\":null}",
    /* 16..18: delete and re-create within one commit */
    "{\"after\":{\"id\":4,\"name\":\"Dee\"},\"op\":\"c\"}",
    "{\"before\":{\"id\":4},\"op\":\"d\"}",
    "{\"after\":{\"id\":4,\"name\":\"Dee2\"},\"op\":\"c\"}",
    /* 19..20: create then delete within one commit */
    "{\"after\":{\"id\":5,\"name\":\"Eve\"},\"op\":\"c\"}",
    "{\"before\":{\"id\":5,\"name\":\"Eve\"},\"op\":\"d\"}",
    /* 21 */ "[1,2]",
    /* 22 */
    "{\"before\":{\"id\":3},\"after\":{\"id\":3,\"name\":\"Cy\",\"email\":\"cy@x.org\","
    "\"age\":8},\"op\":\"u\"}",
    /* 23 */ "{\"after\":{\"id\":6,\"name\":\"Neg\",\"age\":-1},\"op\":\"c\"}",
    /* 24 */ "{\"after\":{\"id\":7,\"name\":\"Raw\"},\"op\":\"c\",\"payload\":{\"op\":\"d\"}}",
};

static void produce_events(kf_t *f)
{
    for (size_t i = 0; i < CORE_ARRAY_LEN(events); i++)
        kf_produce(f, 0, "k", events[i], INT64_C(1700000000000) + (int64_t)i);
}

static const char *const want_table[] = {
    "1|Anna|anna@x.org|31|0|2",
    "3|Cy|cy@x.org|8|0|22",
    "4|Dee2|NULL|NULL|0|18",
    "7|Raw|NULL|NULL|0|24",
};

#define TABLE_SQL "SELECT id, name, email, age, _partition, _offset FROM customers ORDER BY id"

static void test_events_applied_in_order(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    produce_events(&f);
    schema_t *s = make_schema();
    stream_pipeline_def_t d = cdc_def(s, 1000); /* one commit, but for claimed keys */
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    kf_rows_t r;
    kf_query(&f, TABLE_SQL, NULL, &r);
    kf_assert_rows(&r, want_table, CORE_ARRAY_LEN(want_table));
    kf_rows_free(&r);
    assert_int_equal(st.records, (int64_t)CORE_ARRAY_LEN(events));
    assert_int_equal(st.rows, 12);
    assert_int_equal(st.valid, 12);
    assert_int_equal(st.filtered, 2);
    assert_int_equal(st.invalid, 11);
    assert_true(st.commits >= 4); /* changes of keys 1, 4 (twice) and 5 forced them */
    schema_destroy(s);
    kf_close(&f);
}

static void test_bad_events_go_to_the_dlq(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    produce_events(&f);
    schema_t *s = make_schema();
    stream_pipeline_def_t d = cdc_def(s, 5);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    kf_rows_t r;
    kf_query(&f, "SELECT \"offset\", kind, reason FROM dlq WHERE pipeline = ?1 ORDER BY \"offset\"",
             "mirror", &r);
    const char *want[] = {
        "6|unsupported|cdc: truncate events are not applied",
        "7|invalid_json|invalid JSON at byte ",
        "8|envelope|cdc: the change event has no \"op\"",
        "9|envelope|cdc: unknown op \"x\"",
        "10|envelope|cdc: op 'c' needs \"after\" to be an object, not null",
        "11|envelope|cdc: op 'd' has no \"before\"",
        "12|type|after: field \"id\": ",
        ("13|required|before: field \"id\": primary-key field is missing, the delete cannot "
         "be applied"),
        "14|rule|after: rule age_sane failed: age must be below 150",
        "21|envelope|cdc: the value is a JSON array, not a change event",
        "23|check|after: field \"age\": ",
    };
    assert_int_equal(r.n, CORE_ARRAY_LEN(want));
    for (size_t i = 0; i < r.n; i++)
        if (strncmp(r.rows[i], want[i], strlen(want[i])) != 0)
            fail_msg("dlq row %zu: got \"%s\", want a prefix \"%s\"", i, r.rows[i], want[i]);
    kf_rows_free(&r);
    /* the raw bytes are kept */
    kf_query(&f, "SELECT value FROM dlq WHERE \"offset\" = 7", NULL, &r);
    const char *raw[] = {events[7]};
    kf_assert_rows(&r, raw, 1);
    kf_rows_free(&r);
    /* and the good events around them were applied */
    kf_query(&f, TABLE_SQL, NULL, &r);
    kf_assert_rows(&r, want_table, CORE_ARRAY_LEN(want_table));
    kf_rows_free(&r);
    schema_destroy(s);
    kf_close(&f);
}

/* Replaying the whole topic (as after losing the offsets) converges on the
 * same table and adds no dlq row. */
static void test_replay_is_idempotent(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    produce_events(&f);
    schema_t *s = make_schema();
    stream_pipeline_def_t d = cdc_def(s, 3);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    store_t *db = NULL;
    assert_int_equal(store_open(f.url, &db), 0);
    int64_t changed = 0;
    assert_int_equal(
        store_exec(db, "UPDATE strata_offsets SET next_offset = 0", NULL, 0, NULL, NULL, &changed),
        0);
    assert_int_equal(changed, 1);
    store_close(db);
    assert_int_equal(kf_run(&f, &d, &st), 0);
    assert_int_equal(st.records, (int64_t)CORE_ARRAY_LEN(events));
    kf_rows_t r;
    kf_query(&f, TABLE_SQL, NULL, &r);
    kf_assert_rows(&r, want_table, CORE_ARRAY_LEN(want_table));
    kf_rows_free(&r);
    kf_query(&f, "SELECT count(*) FROM dlq", NULL, &r);
    const char *want[] = {"11"};
    kf_assert_rows(&r, want, 1);
    kf_rows_free(&r);
    schema_destroy(s);
    kf_close(&f);
}

static void rejecting(void *arg, int line, const char *message)
{
    (void)line;
    *(bool *)arg = strstr(message, "filter") != NULL;
}

static void test_filter_rejected(void **state)
{
    (void)state;
    schema_t *s = make_schema();
    stream_pipeline_def_t d = cdc_def(s, 10);
    d.filter = "age > 3";
    bool said = false;
    stream_pipeline_t *p = NULL;
    assert_int_equal(stream_pipeline_compile(&d, rejecting, &said, &p), CORE_EINVAL);
    assert_null(p);
    assert_true(said);
    schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_applied_in_order),
        cmocka_unit_test(test_bad_events_go_to_the_dlq),
        cmocka_unit_test(test_replay_is_idempotent),
        cmocka_unit_test(test_filter_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for the config loader (src/app/config*.c): a full valid config
 * read into the expected structs, the defaults, every kind of error with
 * its exact "FILE:LINE:COL: path: message" text, several errors in one
 * file, environment overrides, ${VAR} interpolation, YAML syntax errors,
 * refused aliases, the size and depth caps, unreadable files, the error
 * API other code appends to, allocation failure at every point, and the
 * key reference printed from the tables.
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

#include "app/config.h"

/* Environment variables the tests set; cleared before each test. */
static const char *const test_env[] = {
    "STRATA_DATA_DIR",    "STRATA_STORE_URL",  "STRATA_BROKER_ENABLED", "STRATA_BROKER_LISTEN",
    "STRATA_HTTP_LISTEN", "CFGTEST_PARTS",     "CFGTEST_EMPTY",         "CFGTEST_HOST",
    "CFGTEST_UNSET",      "STRATA_HTTP_TOKEN",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < CORE_ARRAY_LEN(test_env); i++)
        unsetenv(test_env[i]);
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
    assert_int_equal(app_config_error_count(cfg), 0);
    return cfg;
}

/* Loads yaml (as "t.yaml") and returns the printed errors; *rc_out gets
 * the load's result. The caller frees the text. */
static char *errors_of_len(const char *yaml, size_t len, int *rc_out)
{
    app_config_t *cfg = NULL;
    int rc = app_config_load_string("t.yaml", yaml, len, &cfg);
    assert_non_null(cfg);
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    assert_non_null(f);
    size_t n = app_config_print_errors(cfg, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(n, app_config_error_count(cfg));
    assert_true((rc == 0) == (n == 0));
    if (rc_out != NULL)
        *rc_out = rc;
    app_config_destroy(cfg);
    return text;
}

/* Asserts that yaml's printed errors are exactly `want`. */
static void expect_errors(const char *yaml, const char *want)
{
    int rc = 0;
    char *got = errors_of_len(yaml, strlen(yaml), &rc);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "--- config:\n%s--- want:\n%s--- got:\n%s", yaml, want, got);
    assert_string_equal(got, want);
    assert_int_equal(rc, want[0] == '\0' ? 0 : CORE_EINVAL);
    free(got);
}

/* ---- a full valid config */

static const char full_yaml[] =
    "data:\n"                                   /* 1 */
    "  dir: ./strata-data\n"                    /* 2 */
    "store:\n"                                  /* 3 */
    "  url: postgresql://u@localhost:5432/db\n" /* 4 */
    "broker:\n"                                 /* 5 */
    "  enabled: no\n"                           /* 6 */
    "  listen: 0.0.0.0:19092\n"                 /* 7 */
    "http:\n"                                   /* 8 */
    "  listen: '[::1]:8081'\n"                  /* 9 */
    "topics:\n"                                 /* 10 */
    "  - name: stocks\n"                        /* 11 */
    "    partitions: 4\n"                       /* 12 */
    "    flush: interval:100\n"                 /* 13 */
    "    retention_ms: 604800000\n"             /* 14 */
    "    retention_bytes: 1GiB\n"               /* 15 */
    "    segment_bytes: 1048576\n"              /* 16 */
    "    schema: stock_tick\n"                  /* 17 */
    "  - {name: raw.events-1, flush: always}\n" /* 18 */
    "schemas:\n"                                /* 19 */
    "  - name: stock_tick\n"                    /* 20 */
    "    max_value_bytes: 4096\n"               /* 21 */
    "    fields:\n"                             /* 22 */
    "      - {name: symbol, type: string, required: true, pattern: '[A-Z]{1,5}', "
    "min_length: 1, max_length: 5}\n"                                                 /* 23 */
    "      - {name: side, type: string, enum: [buy, sell]}\n"                         /* 24 */
    "      - {name: price, type: float, required: true, min: 0}\n"                    /* 25 */
    "      - {name: volume, type: int, min: 0, max: 1e9}\n"                           /* 26 */
    "      - {name: ts, type: timestamp, format: iso8601, required: true}\n"          /* 27 */
    "      - {name: bid, type: float}\n"                                              /* 28 */
    "      - {name: ask, type: float}\n"                                              /* 29 */
    "    rules:\n"                                                                    /* 30 */
    "      - name: bid_le_ask\n"                                                      /* 31 */
    "        check: 'bid <= ask'\n"                                                   /* 32 */
    "        message: bid above ask\n"                                                /* 33 */
    "pipelines:\n"                                                                    /* 34 */
    "  - name: ohlc_1m\n"                                                             /* 35 */
    "    kind: aggregate\n"                                                           /* 36 */
    "    topic: stocks\n"                                                             /* 37 */
    "    filter: 'price > 0'\n"                                                       /* 38 */
    "    commit: {interval: 250ms, records: 500}\n"                                   /* 39 */
    "    key: symbol\n"                                                               /* 40 */
    "    event_time: ts\n"                                                            /* 41 */
    "    window: {type: hopping, size: 1m, slide: 20s}\n"                             /* 42 */
    "    watermark: {max_out_of_orderness: 5s, idle_timeout: 30s}\n"                  /* 43 */
    "    allowed_lateness: 2s\n"                                                      /* 44 */
    "    emit: final\n"                                                               /* 45 */
    "    view: stocks_ohlc_1m\n"                                                      /* 46 */
    "    aggregates:\n"                                                               /* 47 */
    "      open: first(price)\n"                                                      /* 48 */
    "      high: max( price * 2 )\n"                                                  /* 49 */
    "      trades: count()\n"                                                         /* 50 */
    "      dev: stddev(coalesce(price, 0))\n"                                         /* 51 */
    "  - name: transactions\n"                                                        /* 52 */
    "    kind: table\n"                                                               /* 53 */
    "    topic: stocks\n"                                                             /* 54 */
    "    schema: stock_tick\n"                                                        /* 55 */
    "    primary_key: [symbol, ts]\n"                                                 /* 56 */
    "    columns: [symbol, ts, price]\n"                                              /* 57 */
    "  - name: alerts\n"                                                              /* 58 */
    "    kind: detect\n"                                                              /* 59 */
    "    topic: stocks\n"                                                             /* 60 */
    "    key: symbol\n"                                                               /* 61 */
    "    rules:\n"                                                                    /* 62 */
    "      - {name: big, type: threshold, when: 'volume > 10000', value: volume}\n"   /* 63 */
    "      - {name: z, type: zscore, field: price, threshold: 2.5, min_history: 5}\n" /* 64 */
    "      - {name: burst, type: velocity, window: 1m, limit: 5}\n"                   /* 65 */
    "  - name: changes\n"                                                             /* 66 */
    "    kind: cdc\n"                                                                 /* 67 */
    "    topic: stocks\n"                                                             /* 68 */
    "    primary_key: [symbol]\n";                                                    /* 69 */

static void test_full_config(void **state)
{
    (void)state;
    app_config_t *cfg = load_ok(full_yaml);
    assert_string_equal(cfg->name, "t.yaml");
    assert_string_equal(cfg->data_dir, "./strata-data");
    assert_string_equal(cfg->store_url, "postgresql://u@localhost:5432/db");
    assert_false(cfg->broker_enabled);
    assert_string_equal(cfg->broker_listen, "0.0.0.0:19092");
    assert_string_equal(cfg->http_listen, "[::1]:8081");

    assert_int_equal(cfg->n_topics, 2);
    const app_topic_t *t = app_config_find_topic(cfg, "stocks");
    assert_ptr_equal(t, &cfg->topics[0]);
    assert_int_equal(t->partitions, 4);
    assert_string_equal(t->flush, "interval:100");
    assert_int_equal(t->retention_ms, 604800000);
    assert_int_equal(t->retention_bytes, 1 << 30);
    assert_int_equal(t->segment_bytes, 1048576);
    assert_string_equal(t->schema, "stock_tick");
    assert_int_equal(t->line, 11);
    t = &cfg->topics[1];
    assert_string_equal(t->name, "raw.events-1");
    assert_string_equal(t->flush, "always");
    assert_int_equal(t->partitions, 1);
    assert_null(t->schema);
    assert_int_equal(t->line, 18);
    assert_null(app_config_find_topic(cfg, "nope"));

    assert_int_equal(cfg->n_schemas, 1);
    const app_schema_t *s = app_config_find_schema(cfg, "stock_tick");
    assert_non_null(s);
    assert_int_equal(s->max_value_bytes, 4096);
    assert_int_equal(s->line, 20);
    assert_int_equal(s->n_fields, 7);
    const app_field_t *f = app_schema_find_field(s, "symbol");
    assert_ptr_equal(f, &s->fields[0]);
    assert_int_equal(f->type, APP_FIELD_STRING);
    assert_true(f->required);
    assert_string_equal(f->pattern, "[A-Z]{1,5}");
    assert_int_equal(f->min_length, 1);
    assert_int_equal(f->max_length, 5);
    assert_false(f->has_min);
    assert_int_equal(f->line, 23);
    f = &s->fields[1];
    assert_int_equal(f->n_enum, 2);
    assert_string_equal(f->enum_values[0], "buy");
    assert_string_equal(f->enum_values[1], "sell");
    assert_false(f->required);
    assert_int_equal(f->min_length, -1);
    assert_null(f->pattern);
    f = &s->fields[2];
    assert_int_equal(f->type, APP_FIELD_FLOAT);
    assert_true(f->has_min);
    assert_false(f->has_max);
    assert_true(f->min == 0.0);
    f = &s->fields[3];
    assert_int_equal(f->type, APP_FIELD_INT);
    assert_true(f->has_max && f->max == 1e9);
    f = &s->fields[4];
    assert_int_equal(f->type, APP_FIELD_TIMESTAMP);
    assert_string_equal(f->format, "iso8601");
    assert_null(app_schema_find_field(s, "nope"));
    assert_int_equal(s->n_rules, 1);
    assert_string_equal(s->rules[0].name, "bid_le_ask");
    assert_string_equal(s->rules[0].check, "bid <= ask");
    assert_string_equal(s->rules[0].message, "bid above ask");
    assert_int_equal(s->rules[0].line, 31);
    assert_int_equal(s->rules[0].check_line, 32);
    app_config_destroy(cfg);
}

static void test_full_config_pipelines(void **state)
{
    (void)state;
    app_config_t *cfg = load_ok(full_yaml);
    assert_int_equal(cfg->n_pipelines, 4);
    const app_pipeline_t *p = app_config_find_pipeline(cfg, "ohlc_1m");
    assert_ptr_equal(p, &cfg->pipelines[0]);
    assert_int_equal(p->kind, APP_PIPE_AGGREGATE);
    assert_int_equal(p->line, 35);
    assert_string_equal(p->topic, "stocks");
    assert_string_equal(p->schema, "stock_tick"); /* from the topic */
    assert_string_equal(p->filter, "price > 0");
    assert_int_equal(p->filter_line, 38);
    assert_int_equal(p->commit_interval_ms, 250);
    assert_int_equal(p->commit_records, 500);
    assert_string_equal(p->key, "symbol");
    assert_int_equal(p->key_line, 40);
    assert_string_equal(p->event_time, "ts");
    assert_int_equal(p->event_time_line, 41);
    assert_true(p->has_window);
    assert_int_equal(p->window.kind, APP_WIN_HOPPING);
    assert_int_equal(p->window.size_ms, 60000);
    assert_int_equal(p->window.slide_ms, 20000);
    assert_int_equal(p->max_ooo_ms, 5000);
    assert_int_equal(p->idle_timeout_ms, 30000);
    assert_int_equal(p->allowed_lateness_ms, 2000);
    assert_int_equal(p->emit, APP_EMIT_FINAL);
    assert_string_equal(p->view, "stocks_ohlc_1m");
    assert_null(p->table);
    assert_int_equal(p->n_aggregates, 4);
    static const struct {
        const char *name;
        app_agg_fn_t fn;
        const char *arg;
        int line;
    } aggs[] = {{"open", APP_AGG_FIRST, "price", 48},
                {"high", APP_AGG_MAX, "price * 2", 49},
                {"trades", APP_AGG_COUNT, "", 50},
                {"dev", APP_AGG_STDDEV, "coalesce(price, 0)", 51}};
    for (size_t i = 0; i < CORE_ARRAY_LEN(aggs); i++) {
        assert_string_equal(p->aggregates[i].name, aggs[i].name);
        assert_int_equal(p->aggregates[i].fn, aggs[i].fn);
        assert_string_equal(p->aggregates[i].arg, aggs[i].arg);
        assert_int_equal(p->aggregates[i].line, aggs[i].line);
        assert_int_equal(p->aggregates[i].col, 13 + (int)strlen(aggs[i].name) - 4);
    }

    p = &cfg->pipelines[1];
    assert_int_equal(p->kind, APP_PIPE_TABLE);
    assert_string_equal(p->table, "transactions"); /* the pipeline name */
    assert_null(p->view);
    assert_int_equal(p->n_primary_key, 2);
    assert_string_equal(p->primary_key[1], "ts");
    assert_int_equal(p->n_columns, 3);
    assert_string_equal(p->columns[2], "price");
    assert_null(p->filter);
    assert_int_equal(p->commit_interval_ms, 100); /* defaults */
    assert_int_equal(p->commit_records, 10000);

    p = &cfg->pipelines[2];
    assert_int_equal(p->kind, APP_PIPE_DETECT);
    assert_int_equal(p->n_rules, 3);
    const app_detect_rule_t *r = p->rules;
    assert_int_equal(r[0].type, APP_RULE_THRESHOLD);
    assert_string_equal(r[0].when, "volume > 10000");
    assert_string_equal(r[0].value, "volume");
    assert_int_equal(r[0].line, 63);
    assert_int_equal(r[0].when_line, 63);
    assert_int_equal(r[1].type, APP_RULE_ZSCORE);
    assert_string_equal(r[1].field, "price");
    assert_true(r[1].threshold == 2.5);
    assert_int_equal(r[1].min_history, 5);
    assert_null(r[1].when);
    assert_int_equal(r[2].type, APP_RULE_VELOCITY);
    assert_int_equal(r[2].window_ms, 60000);
    assert_int_equal(r[2].limit, 5);
    assert_int_equal(r[2].line, 65);

    p = &cfg->pipelines[3];
    assert_int_equal(p->kind, APP_PIPE_CDC);
    assert_string_equal(p->table, "changes");
    assert_int_equal(p->n_columns, 0);
    app_config_destroy(cfg);
}

static void test_defaults(void **state)
{
    (void)state;
    app_config_t *cfg = load_ok("topics:\n"
                                "  - name: t\n"
                                "    schema: s\n"
                                "schemas:\n"
                                "  - name: s\n"
                                "    fields: [{name: ts, type: timestamp}, {name: v, type: int}]\n"
                                "pipelines:\n"
                                "  - name: agg\n"
                                "    kind: aggregate\n"
                                "    topic: t\n"
                                "    window: {type: session, gap: 30m}\n"
                                "    aggregates: {n: count(), s: sum(v)}\n"
                                "  - {name: z, kind: detect, topic: t, rules: [{name: r, type: "
                                "zscore, field: v}]}\n");
    assert_string_equal(cfg->data_dir, "./data");
    assert_string_equal(cfg->store_url, "sqlite:./data/strata.db");
    assert_true(cfg->broker_enabled);
    assert_string_equal(cfg->broker_listen, "127.0.0.1:9092");
    assert_string_equal(cfg->http_listen, "127.0.0.1:8080");
    const app_topic_t *t = &cfg->topics[0];
    assert_int_equal(t->partitions, 1);
    assert_string_equal(t->flush, "interval:1000");
    assert_int_equal(t->retention_ms, -1);
    assert_int_equal(t->retention_bytes, -1);
    assert_int_equal(t->segment_bytes, 1073741824);
    assert_int_equal(cfg->schemas[0].max_value_bytes, 65536);
    assert_string_equal(cfg->schemas[0].fields[0].format, "auto");
    assert_null(cfg->schemas[0].fields[1].format); /* only timestamps have one */
    const app_pipeline_t *p = &cfg->pipelines[0];
    assert_string_equal(p->view, "agg");
    assert_string_equal(p->schema, "s");
    assert_null(p->key);
    assert_null(p->event_time);
    assert_int_equal(p->window.kind, APP_WIN_SESSION);
    assert_int_equal(p->window.gap_ms, 30 * 60000);
    assert_int_equal(p->max_ooo_ms, 0);
    assert_int_equal(p->idle_timeout_ms, 60000);
    assert_int_equal(p->allowed_lateness_ms, 0);
    assert_int_equal(p->emit, APP_EMIT_UPDATE);
    assert_int_equal(p->commit_interval_ms, 100);
    assert_int_equal(p->commit_records, 10000);
    const app_detect_rule_t *r = &cfg->pipelines[1].rules[0];
    assert_true(r->threshold == 3.0);
    assert_int_equal(r->min_history, 20);
    app_config_destroy(cfg);

    /* An empty file, a null document and explicit nulls are all defaults. */
    cfg = load_ok("");
    assert_int_equal(cfg->n_topics + cfg->n_schemas + cfg->n_pipelines, 0);
    assert_string_equal(cfg->http_listen, "127.0.0.1:8080");
    app_config_destroy(cfg);
    cfg = load_ok("# nothing\n~\n");
    app_config_destroy(cfg);
    cfg = load_ok("data:\nhttp: ~\ntopics:\n");
    assert_string_equal(cfg->data_dir, "./data");
    app_config_destroy(cfg);
    /* data.dir decides the default store; a trailing slash is dropped. */
    cfg = load_ok("data: {dir: /var/lib/strata/}\n");
    assert_string_equal(cfg->store_url, "sqlite:/var/lib/strata/strata.db");
    app_config_destroy(cfg);
}

/* ---- errors, one kind at a time */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_errors("topics:\n"
                  "  - name: t\n"
                  "    partition: 3\n"
                  "    colour: red\n"
                  "htp:\n"
                  "  listen: 1.2.3.4:80\n"
                  "data: {dri: x}\n",
                  "t.yaml:3:5: topics[0]: unknown key 'partition' (did you mean 'partitions'?)\n"
                  "t.yaml:4:5: topics[0]: unknown key 'colour'\n"
                  "t.yaml:5:1: unknown key 'htp' (did you mean 'http'?)\n"
                  "t.yaml:7:8: data: unknown key 'dri' (did you mean 'dir'?)\n");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_errors("broker:\n"
                  "  enabled: maybe\n"
                  "  listen: [a, b]\n"
                  "http: 8080\n"
                  "topics:\n"
                  "  name: t\n"
                  "schemas:\n"
                  "  - name: s\n"
                  "    fields:\n"
                  "      - {name: a, type: decimal}\n"
                  "      - {name: b, type: string, enum: buy}\n"
                  "      - just text\n"
                  "      - {name: c, type: float, min: low}\n",
                  "t.yaml:2:12: broker.enabled: expected true or false, got 'maybe'\n"
                  "t.yaml:3:11: broker.listen: expected a scalar value, got a list\n"
                  "t.yaml:4:7: http: expected a mapping (key: value), got a scalar\n"
                  "t.yaml:6:3: topics: expected a list of mappings (lines starting with '- '), "
                  "got a mapping\n"
                  "t.yaml:10:25: schemas[0].fields[0].type: unknown value 'decimal' (expected one "
                  "of: string, int, float, bool, timestamp, object, array)\n"
                  "t.yaml:11:39: schemas[0].fields[1].enum: expected a list such as [a, b], got "
                  "a scalar\n"
                  "t.yaml:12:9: schemas[0].fields[2]: expected a mapping (key: value), got a "
                  "scalar\n"
                  "t.yaml:13:37: schemas[0].fields[3].min: expected a number, got 'low'\n");
}

static void test_bounds(void **state)
{
    (void)state;
    expect_errors("topics:\n"
                  "  - name: t\n"
                  "    partitions: 1025\n"
                  "    retention_ms: -2\n"
                  "    segment_bytes: 12x\n"
                  "    flush: interval:0\n"
                  "  - name: ..\n"
                  "broker: {listen: 'localhost:70000'}\n"
                  "store: {url: 'mysql://x'}\n",
                  "t.yaml:3:17: topics[0].partitions: 1025 is out of range (1 to 1024)\n"
                  "t.yaml:4:19: topics[0].retention_ms: -2 is below the minimum -1\n"
                  "t.yaml:5:20: topics[0].segment_bytes: invalid size '12x' (write bytes, or a "
                  "number with KiB, MiB or GiB)\n"
                  "t.yaml:6:12: topics[0].flush: invalid flush policy 'interval:0' (always, never "
                  "or interval:<ms>, 1 to 86400000)\n"
                  "t.yaml:7:11: topics[1].name: invalid topic name '..' (1 to 249 of A-Z a-z 0-9 "
                  ". _ -, not . or ..)\n"
                  "t.yaml:8:18: broker.listen: invalid listen address 'localhost:70000' (write "
                  "HOST:PORT, port 0 to 65535)\n"
                  "t.yaml:9:14: store.url: invalid store URL 'mysql://x' (write sqlite:PATH or "
                  "postgresql://user@host/db)\n");
}

static const char pipe_prefix[] = "topics: [{name: t, schema: s}]\n"      /* 1 */
                                  "schemas:\n"                            /* 2 */
                                  "  - name: s\n"                         /* 3 */
                                  "    fields:\n"                         /* 4 */
                                  "      - {name: id, type: string}\n"    /* 5 */
                                  "      - {name: ts, type: timestamp}\n" /* 6 */
                                  "      - {name: amount, type: float}\n" /* 7 */
                                  "      - {name: City, type: string}\n"  /* 8 */
                                  "pipelines:\n";                         /* 9 */

/* expect_errors on pipe_prefix followed by `pipelines` (from line 10). */
static void expect_pipeline_errors(const char *pipelines, const char *want)
{
    size_t n = strlen(pipe_prefix) + strlen(pipelines) + 1;
    char *yaml = malloc(n);
    assert_non_null(yaml);
    snprintf(yaml, n, "%s%s", pipe_prefix, pipelines);
    expect_errors(yaml, want);
    free(yaml);
}

static void test_missing_required(void **state)
{
    (void)state;
    expect_pipeline_errors(
        "  - name: a\n"                                                                /* 10 */
        "    kind: aggregate\n"                                                        /* 11 */
        "    topic: t\n"                                                               /* 12 */
        "  - {name: c, kind: cdc, topic: t, columns: [id]}\n"                          /* 13 */
        "  - {name: d, kind: detect, topic: t}\n"                                      /* 14 */
        "  - {kind: table}\n"                                                          /* 15 */
        "  - name: w\n"                                                                /* 16 */
        "    kind: aggregate\n"                                                        /* 17 */
        "    topic: t\n"                                                               /* 18 */
        "    window: {type: hopping, size: 1m}\n"                                      /* 19 */
        "    aggregates: {n: count()}\n"                                               /* 20 */
        "  - {name: r, kind: detect, topic: t, rules: [{name: x, type: velocity}]}\n", /* 21 */
        "t.yaml:10:5: pipelines[0]: missing required key 'window' (needed when kind is "
        "aggregate)\n"
        "t.yaml:10:5: pipelines[0]: missing required key 'aggregates' (needed when kind is "
        "aggregate)\n"
        "t.yaml:13:5: pipelines[1]: missing required key 'primary_key' (needed when kind is "
        "cdc)\n"
        "t.yaml:14:5: pipelines[2]: missing required key 'rules' (needed when kind is detect)\n"
        "t.yaml:15:5: pipelines[3]: missing required key 'name'\n"
        "t.yaml:15:5: pipelines[3]: missing required key 'topic'\n"
        "t.yaml:19:13: pipelines[4].window: missing required key 'slide' (needed when type is "
        "hopping)\n"
        "t.yaml:21:47: pipelines[5].rules[0]: missing required key 'window' (needed when type "
        "is velocity)\n"
        "t.yaml:21:47: pipelines[5].rules[0]: missing required key 'limit' (needed when type is "
        "velocity)\n");
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_errors("topics:\n"
                  "  - name: t\n"
                  "  - name: t\n"
                  "    partitions: 2\n"
                  "    partitions: 3\n"
                  "schemas:\n"
                  "  - name: s\n"
                  "    fields: [{name: a, type: int}, {name: a, type: string}]\n"
                  "    rules: [{name: r, check: a > 0}, {name: r, check: a < 9}]\n"
                  "  - {name: s, fields: [{name: b, type: int}]}\n"
                  "pipelines:\n"
                  "  - {name: p, kind: table, topic: t, schema: s}\n"
                  "  - {name: p, kind: table, topic: t, schema: s, table: q}\n"
                  "  - {name: q, kind: table, topic: t, schema: s}\n",
                  "t.yaml:3:11: topics[1].name: duplicate topic 't' (first defined at line 2)\n"
                  "t.yaml:5:5: topics[1].partitions: duplicate key (first given at line 4)\n"
                  "t.yaml:8:43: schemas[0].fields[1].name: duplicate field 'a' (first defined at "
                  "line 8)\n"
                  "t.yaml:9:45: schemas[0].rules[1].name: duplicate rule 'r' (first defined at "
                  "line 9)\n"
                  "t.yaml:10:12: schemas[1].name: duplicate schema 's' (first defined at line 7)\n"
                  "t.yaml:13:12: pipelines[1].name: duplicate pipeline 'p' (first defined at "
                  "line 12)\n"
                  "t.yaml:14:12: pipelines[2].table: duplicate table or view 'q' (first defined "
                  "at line 13)\n");
}

static void test_references(void **state)
{
    (void)state;
    expect_pipeline_errors(
        "  - {name: a, kind: table, topic: tt}\n"            /* 10 */
        "  - {name: b, kind: table, topic: t, schema: ss}\n" /* 11 */
        "  - {name: c, kind: table, topic: t, primary_key: [idd], columns: [id, amount]}\n"
        "  - {name: d, kind: cdc, topic: t, primary_key: [ts], columns: [id]}\n" /* 13 */
        "  - name: e\n"                                                          /* 14 */
        "    kind: aggregate\n"                                                  /* 15 */
        "    topic: t\n"                                                         /* 16 */
        "    event_time: amount\n"                                               /* 17 */
        "    window: {type: tumbling, size: 1m}\n"                               /* 18 */
        "    aggregates: {n: count()}\n"                                         /* 19 */
        "  - {name: f, kind: detect, topic: t, event_time: when, rules: [{name: z, type: "
        "zscore, field: id}]}\n", /* 20 */
        "t.yaml:10:35: pipelines[0].topic: unknown topic 'tt' (did you mean 't'?)\n"
        "t.yaml:11:46: pipelines[1].schema: unknown schema 'ss' (did you mean 's'?)\n"
        "t.yaml:12:52: pipelines[2].primary_key[0]: 'idd' is not a field of schema 's' (did you "
        "mean 'id'?)\n"
        "t.yaml:13:50: pipelines[3].primary_key[0]: 'ts' is not among the columns\n"
        "t.yaml:17:17: pipelines[4].event_time: field 'amount' is a float; event_time needs a "
        "timestamp field\n"
        "t.yaml:20:51: pipelines[5].event_time: 'when' is not a field of schema 's'\n"
        "t.yaml:20:96: pipelines[5].rules[0].field: field 'id' is a string; zscore needs a "
        "number\n");
}

static void test_topic_without_schema(void **state)
{
    (void)state;
    expect_errors("topics: [{name: t, schema: nope}, {name: u}]\n"
                  "pipelines:\n"
                  "  - {name: a, kind: table, topic: t}\n"
                  "  - {name: b, kind: table, topic: u}\n",
                  "t.yaml:1:28: topics[0].schema: unknown schema 'nope'\n"
                  "t.yaml:4: pipelines[1]: missing required key 'schema' (topic 'u' has no "
                  "schema)\n");
}

static void test_identifiers_and_reserved(void **state)
{
    (void)state;
    expect_pipeline_errors(
        "  - {name: Big-One, kind: table, topic: t, columns: [id]}\n" /* 10 */
        "  - {name: v, kind: aggregate, topic: t, view: 9lives, window: {type: tumbling, size: "
        "1s}, aggregates: {n: count()}}\n"                                             /* 11 */
        "  - {name: dlq, kind: table, topic: t, columns: [id]}\n"                      /* 12 */
        "  - {name: x, kind: table, topic: t, table: strata_offsets, columns: [id]}\n" /* 13 */
        "  - {name: y, kind: table, topic: t}\n"                                       /* 14 */
        "  - {name: z, kind: table, topic: t, columns: [City]}\n"                      /* 15 */
        "  - {name: anomalies, kind: aggregate, topic: t, window: {type: tumbling, size: 1s}, "
        "aggregates: {Count: count()}}\n", /* 16 */
        "t.yaml:10:12: pipelines[0].name: invalid identifier 'Big-One' (lower case: "
        "[a-z_][a-z0-9_]{0,62})\n"
        "t.yaml:11:48: pipelines[1].view: invalid identifier '9lives' (lower case: "
        "[a-z_][a-z0-9_]{0,62})\n"
        "t.yaml:12:12: pipelines[2].table: 'dlq' is reserved for strata's own tables (dlq, "
        "anomalies, jobs, job_runs, strata_*); choose another name\n"
        "t.yaml:13:45: pipelines[3].table: 'strata_offsets' is reserved for strata's own tables "
        "(dlq, anomalies, jobs, job_runs, strata_*); choose another name\n"
        "t.yaml:14: pipelines[4].columns: field 'City' of schema 's' (line 8) is not a valid "
        "column name ([a-z_][a-z0-9_]{0,62}); list the columns to store, or rename the field\n"
        "t.yaml:15:48: pipelines[5].columns[0]: invalid identifier 'City' (lower case: "
        "[a-z_][a-z0-9_]{0,62})\n"
        "t.yaml:16:12: pipelines[6].view: 'anomalies' is reserved for strata's own tables (dlq, "
        "anomalies, jobs, job_runs, strata_*); choose another name\n"
        "t.yaml:16:99: pipelines[6].aggregates.Count: invalid output name 'Count' (lower case: "
        "[a-z_][a-z0-9_]{0,62})\n");
}

static void test_aggregate_strings(void **state)
{
    (void)state;
    expect_pipeline_errors("  - name: a\n"                            /* 10 */
                           "    kind: aggregate\n"                    /* 11 */
                           "    topic: t\n"                           /* 12 */
                           "    window: {type: tumbling, size: 1m}\n" /* 13 */
                           "    aggregates:\n"                        /* 14 */
                           "      m: median(amount)\n"                /* 15 */
                           "      s: sum()\n"                         /* 16 */
                           "      x: max(amount) + 1\n"               /* 17 */
                           "      y: amount\n"                        /* 18 */
                           "      z: min(amount\n"                    /* 19 */
                           "      q: \"count(')')\"\n"                /* 20 */
                           "      e:\n"                               /* 21 */
                           "      m: avg(amount)\n"                   /* 22 */
                           "      ok: avg( (amount + 1) * 2 )\n",     /* 23 */
                           "t.yaml:15:10: pipelines[0].aggregates.m: unknown aggregate function "
                           "'median' (expected count, sum, min, max, avg, first, last or "
                           "stddev)\n"
                           "t.yaml:16:10: pipelines[0].aggregates.s: sum() needs an argument, as "
                           "in sum(price)\n"
                           "t.yaml:17:10: pipelines[0].aggregates.x: expected fn(expression), got "
                           "'max(amount) + 1'\n"
                           "t.yaml:18:10: pipelines[0].aggregates.y: expected fn(expression), got "
                           "'amount'\n"
                           "t.yaml:19:10: pipelines[0].aggregates.z: expected fn(expression), got "
                           "'min(amount'\n"
                           "t.yaml:21:9: pipelines[0].aggregates.e: expected fn(expression) such "
                           "as max(price), got nothing\n"
                           "t.yaml:22:7: pipelines[0].aggregates.m: duplicate output name (first "
                           "at line 15)\n");
}

static void test_windows_and_durations(void **state)
{
    (void)state;
    expect_pipeline_errors(
        "  - name: a\n"                                                  /* 10 */
        "    kind: aggregate\n"                                          /* 11 */
        "    topic: t\n"                                                 /* 12 */
        "    window: {type: hopping, size: 10s, slide: 3s}\n"            /* 13 */
        "    aggregates: {n: count()}\n"                                 /* 14 */
        "  - name: b\n"                                                  /* 15 */
        "    kind: aggregate\n"                                          /* 16 */
        "    topic: t\n"                                                 /* 17 */
        "    window: {type: hopping, size: 10s, slide: 20s, gap: 1s}\n"  /* 18 */
        "    aggregates: {n: count()}\n"                                 /* 19 */
        "    commit: {interval: 0ms, records: 1}\n"                      /* 20 */
        "    watermark: {max_out_of_orderness: 5 s, idle_timeout: 1h}\n" /* 21 */
        "  - name: c\n"                                                  /* 22 */
        "    kind: aggregate\n"                                          /* 23 */
        "    topic: t\n"                                                 /* 24 */
        "    window: {type: tumbling, size: ten}\n"                      /* 25 */
        "    allowed_lateness: 99999999999999999999\n"                   /* 26 */
        "    aggregates: {n: count()}\n"                                 /* 27 */
        "  - {name: d, kind: aggregate, topic: t, window: {type: sliding}, aggregates: {n: "
        "count()}}\n", /* 28 */
        "t.yaml:13:35: pipelines[0].window.size: 10s is not a multiple of the slide 3s\n"
        "t.yaml:18:47: pipelines[1].window.slide: 20s is longer than the size 10s\n"
        "t.yaml:18:52: pipelines[1].window.gap: key does not apply when type is hopping\n"
        "t.yaml:20:24: pipelines[1].commit.interval: 0ms is out of range (1 to 3600000 ms)\n"
        "t.yaml:21:39: pipelines[1].watermark.max_out_of_orderness: invalid duration '5 s' "
        "(write 250ms, 5s, 1m, 1h, 1d, or milliseconds)\n"
        "t.yaml:25:36: pipelines[2].window.size: invalid duration 'ten' (write 250ms, 5s, 1m, "
        "1h, 1d, or milliseconds)\n"
        "t.yaml:26:23: pipelines[2].allowed_lateness: invalid duration '99999999999999999999' "
        "(write 250ms, 5s, 1m, 1h, 1d, or milliseconds)\n"
        "t.yaml:28:57: pipelines[3].window.type: unknown value 'sliding' (expected one of: "
        "tumbling, hopping, session)\n");
}

static void test_key_applies_to_kind(void **state)
{
    (void)state;
    expect_pipeline_errors(
        "  - {name: a, kind: table, topic: t, window: {type: tumbling, size: 1s}, emit: final}\n"
        "  - {name: b, kind: detect, topic: t, rules: [{name: r, type: threshold, when: x, "
        "field: id}], view: v}\n"
        "schemas_extra: 1\n",
        /* no columns: every field is a column, and City is not a valid name */
        "t.yaml:10: pipelines[0].columns: field 'City' of schema 's' (line 8) is not a valid "
        "column name ([a-z_][a-z0-9_]{0,62}); list the columns to store, or rename the field\n"
        "t.yaml:10:38: pipelines[0].window: key does not apply when kind is table\n"
        "t.yaml:10:74: pipelines[0].emit: key does not apply when kind is table\n"
        "t.yaml:11:83: pipelines[1].rules[0].field: key does not apply when type is threshold\n"
        "t.yaml:11:96: pipelines[1].view: key does not apply when kind is detect\n"
        "t.yaml:12:1: unknown key 'schemas_extra'\n");
}

/* Several kinds of error in one file: all reported, in file order. */
static void test_many_errors_in_one_file(void **state)
{
    (void)state;
    const char *yaml = "pipelines:\n"                             /* 1 */
                       "  - name: p\n"                            /* 2 */
                       "    kind: aggregate\n"                    /* 3 */
                       "    topic: nope\n"                        /* 4 */
                       "    window: {type: tumbling, size: 0s}\n" /* 5 */
                       "    aggregates: {a: foo(x)}\n"            /* 6 */
                       "topics:\n"                                /* 7 */
                       "  - {name: t, partitions: many}\n"        /* 8 */
                       "http: {listen: nowhere}\n";               /* 9 */
    int rc = 0;
    char *got = errors_of_len(yaml, strlen(yaml), &rc);
    assert_int_equal(rc, CORE_EINVAL);
    const char *want =
        "t.yaml:4:12: pipelines[0].topic: unknown topic 'nope'\n"
        "t.yaml:5:36: pipelines[0].window.size: 0s is out of range (1 to 31536000000 ms)\n"
        "t.yaml:6:21: pipelines[0].aggregates.a: unknown aggregate function 'foo' (expected "
        "count, sum, min, max, avg, first, last or stddev)\n"
        "t.yaml:8:27: topics[0].partitions: expected an integer, got 'many'\n"
        "t.yaml:9:16: http.listen: invalid listen address 'nowhere' (write HOST:PORT, port 0 to "
        "65535)\n";
    assert_string_equal(got, want);
    free(got);
}

/* ---- environment and interpolation */

/* http.token: none by default, from the file, and STRATA_HTTP_TOKEN beats
 * the file (its syntax is checked when the server starts: http_wiring.c). */
static void test_http_token(void **state)
{
    (void)state;
    app_config_t *cfg = load_ok("");
    assert_null(cfg->http_token);
    app_config_destroy(cfg);
    const char *yaml = "http: {token: from-the-file-0123456789}\n";
    cfg = load_ok(yaml);
    assert_string_equal(cfg->http_token, "from-the-file-0123456789");
    app_config_destroy(cfg);
    setenv("STRATA_HTTP_TOKEN", "from-the-environment-0123", 1);
    cfg = load_ok(yaml);
    assert_string_equal(cfg->http_token, "from-the-environment-0123");
    app_config_destroy(cfg);
}

static void test_env_overrides(void **state)
{
    (void)state;
    const char *yaml = "data: {dir: /from/file}\n"
                       "broker: {listen: '127.0.0.1:1111', enabled: true}\n"
                       "http: {listen: '127.0.0.1:2222'}\n";
    setenv("STRATA_HTTP_LISTEN", "0.0.0.0:9999", 1); /* beats the file */
    setenv("STRATA_BROKER_ENABLED", "no", 1);
    setenv("STRATA_BROKER_LISTEN", "", 1);     /* empty: ignored */
    setenv("STRATA_DATA_DIR", "/from/env", 1); /* and the default store follows */
    app_config_t *cfg = load_ok(yaml);
    assert_string_equal(cfg->http_listen, "0.0.0.0:9999");
    assert_false(cfg->broker_enabled);
    assert_string_equal(cfg->broker_listen, "127.0.0.1:1111");
    assert_string_equal(cfg->data_dir, "/from/env");
    assert_string_equal(cfg->store_url, "sqlite:/from/env/strata.db");
    app_config_destroy(cfg);

    /* The environment beats the defaults too. */
    setenv("STRATA_STORE_URL", "postgresql://db/strata", 1);
    cfg = load_ok("");
    assert_string_equal(cfg->store_url, "postgresql://db/strata");
    app_config_destroy(cfg);

    /* A bad value is checked like the file's, and named by its variable. */
    setenv("STRATA_BROKER_LISTEN", "no-port", 1);
    setenv("STRATA_BROKER_ENABLED", "sometimes", 1);
    expect_errors(yaml, "$STRATA_BROKER_ENABLED: broker.enabled: expected true or false, got "
                        "'sometimes'\n"
                        "$STRATA_BROKER_LISTEN: broker.listen: invalid listen address 'no-port' "
                        "(write HOST:PORT, port 0 to 65535)\n");
}

static void test_interpolation(void **state)
{
    (void)state;
    setenv("CFGTEST_PARTS", "8", 1);
    setenv("CFGTEST_HOST", "10.0.0.1", 1);
    setenv("CFGTEST_EMPTY", "", 1);
    app_config_t *cfg = load_ok("http: {listen: '${CFGTEST_HOST}:${CFGTEST_UNSET:8080}'}\n"
                                "broker: {listen: '${CFGTEST_EMPTY:127.0.0.2}:9092'}\n"
                                "data: {dir: '/d/$${literal}/${CFGTEST_EMPTY}x'}\n"
                                "topics:\n"
                                "  - name: t${CFGTEST_UNSET:}\n"
                                "    partitions: ${CFGTEST_PARTS}\n"
                                "    flush: ${CFGTEST_UNSET:interval:5}\n");
    assert_string_equal(cfg->http_listen, "10.0.0.1:8080");
    assert_string_equal(cfg->broker_listen, "127.0.0.2:9092"); /* empty takes the default */
    assert_string_equal(cfg->data_dir, "/d/${literal}/x");
    assert_string_equal(cfg->topics[0].name, "t");
    assert_int_equal(cfg->topics[0].partitions, 8);
    assert_string_equal(cfg->topics[0].flush, "interval:5");
    app_config_destroy(cfg);

    expect_errors("topics:\n"
                  "  - name: t\n"
                  "    partitions: ${CFGTEST_UNSET}\n"
                  "    flush: interval:${CFGTEST_UNSET}\n"
                  "    schema: 'a ${CFGTEST_UNSET} b'\n"
                  "data:\n"
                  "  dir: x${1BAD}\n"
                  "http:\n"
                  "  listen: ab${CFGTEST_HOST\n",
                  "t.yaml:3:17: topics[0].partitions: environment variable 'CFGTEST_UNSET' is "
                  "not set (write ${CFGTEST_UNSET:default} to give a default)\n"
                  "t.yaml:4:21: topics[0].flush: environment variable 'CFGTEST_UNSET' is not "
                  "set (write ${CFGTEST_UNSET:default} to give a default)\n"
                  "t.yaml:5:13: topics[0].schema: environment variable 'CFGTEST_UNSET' is not "
                  "set (write ${CFGTEST_UNSET:default} to give a default)\n"
                  "t.yaml:7:9: data.dir: invalid variable reference '${1BAD}'\n"
                  "t.yaml:9:13: http.listen: '${' without a closing '}'\n");
}

/* ---- YAML-level problems and caps */

static void test_yaml_syntax_error(void **state)
{
    (void)state;
    expect_errors("topics:\n"
                  "  - name: t\n"
                  "    partitions: 1\n"
                  "   bad: indentation\n",
                  "t.yaml:4:4: invalid YAML: did not find expected '-' indicator (while parsing a "
                  "block collection that starts at line 2)\n");
    expect_errors("http: {listen: x\n",
                  "t.yaml:2:1: invalid YAML: did not find expected ',' or '}' (while parsing a "
                  "flow mapping that starts at line 1)\n");
    expect_errors("a: 1\n---\nb: 2\n",
                  "t.yaml:2:1: a config file holds one YAML document; remove this '---'\n");
    /* Bytes that are not UTF-8: a reader error, placed by byte offset. */
    expect_errors("data:\n  dir: \xff\n",
                  "t.yaml:2:8: invalid YAML: invalid leading UTF-8 octet\n");
    /* A NUL inside a quoted value. */
    expect_errors("data: {dir: \"a\\0b\"}\n", "t.yaml:1:13: data.dir: value contains a NUL byte\n");
}

static void test_aliases_refused(void **state)
{
    (void)state;
    expect_errors("topics:\n"
                  "  - &base {name: t, partitions: 2}\n"
                  "  - *base\n"
                  "http: {listen: *nope}\n"
                  "broker: {listen: bad}\n",
                  "t.yaml:3:5: aliases (*base) are not supported; write the value out\n"
                  "t.yaml:3:5: topics[1]: expected a mapping (key: value), got a scalar\n"
                  "t.yaml:4:16: aliases (*nope) are not supported; write the value out\n"
                  "t.yaml:5:18: broker.listen: invalid listen address 'bad' (write HOST:PORT, "
                  "port 0 to 65535)\n");
}

static void test_caps(void **state)
{
    (void)state;
    /* Size: one byte over the cap is refused before parsing. */
    size_t big = APP_CONFIG_MAX_BYTES + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    int rc = 0;
    char *got = errors_of_len(text, big, &rc);
    assert_int_equal(rc, CORE_ETOOBIG);
    assert_string_equal(got, "t.yaml: the config is 4194305 bytes; the limit is 4194304 bytes "
                             "(4 MiB)\n");
    free(got);
    /* ... and from a file. */
    char path[] = "/tmp/strata-cfgtest-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, big), (ssize_t)big);
    close(fd);
    app_config_t *cfg = NULL;
    assert_int_equal(app_config_load(path, &cfg), CORE_ETOOBIG);
    assert_non_null(cfg);
    assert_int_equal(app_config_error_count(cfg), 1);
    assert_string_equal(app_config_error_get(cfg, 0)->text,
                        "the config is larger than 4194304 bytes (4 MiB)");
    app_config_destroy(cfg);
    unlink(path);
    /* Exactly at the cap is fine (all comment). */
    got = errors_of_len(text, big - 1, &rc);
    assert_int_equal(rc, 0);
    free(got);
    free(text);

    /* Depth: 40 nested flow lists. */
    char deep[128] = "topics: ";
    size_t n = strlen(deep);
    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    expect_errors(deep, "t.yaml:1:40: the config nests deeper than 32 levels\n");

    /* Lists longer than their key allows. */
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 20);
    core_buf_append_str(&b, "schemas:\n  - name: s\n    fields:\n");
    for (int i = 0; i < 257; i++)
        core_buf_printf(&b, "      - {name: f%d, type: int}\n", i);
    core_buf_append_u8(&b, '\0');
    expect_errors((const char *)b.data,
                  "t.yaml:4:7: schemas[0].fields: too many entries: 257 (at most 256)\n");
    core_buf_fini(&b);
}

static void test_unreadable_file(void **state)
{
    (void)state;
    app_config_t *cfg = NULL;
    assert_int_equal(app_config_load("/nonexistent/strata.yaml", &cfg), CORE_ENOENT);
    assert_non_null(cfg);
    assert_int_equal(app_config_error_count(cfg), 1);
    assert_string_equal(app_config_error_get(cfg, 0)->text,
                        "cannot open the config: No such file or directory");
    app_config_destroy(cfg);
    assert_int_equal(app_config_load("/", &cfg), CORE_EIO); /* a directory */
    app_config_destroy(cfg);
    app_config_destroy(NULL);
}

static void test_fixture_files(void **state)
{
    (void)state;
    app_config_t *cfg = NULL;
    assert_int_equal(app_config_load(APP_FIXTURES "/good.yaml", &cfg), 0);
    assert_int_equal(cfg->n_topics, 2);
    assert_int_equal(cfg->n_schemas, 2);
    assert_int_equal(cfg->n_pipelines, 4);
    app_config_destroy(cfg);
    assert_int_equal(app_config_load(APP_FIXTURES "/bad.yaml", &cfg), CORE_EINVAL);
    assert_true(app_config_error_count(cfg) >= 10);
    app_config_destroy(cfg);
}

/* ---- the error API other modules use */

static void test_error_api(void **state)
{
    (void)state;
    app_config_t *cfg = load_ok("pipelines: []\n");
    app_config_error(cfg, 7, 0, "pipelines[0].filter: unknown field '%s'", "prise");
    app_config_error(cfg, 3, 5, "second, but earlier in the file");
    app_config_error(cfg, 0, 0, "no position");
    assert_int_equal(app_config_error_count(cfg), 3);
    assert_int_equal(app_config_error_get(cfg, 0)->line, 7);
    assert_null(app_config_error_get(cfg, 3));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(app_config_print_errors(cfg, f), 3);
    fclose(f);
    assert_string_equal(text, "t.yaml: no position\n"
                              "t.yaml:3:5: second, but earlier in the file\n"
                              "t.yaml:7: pipelines[0].filter: unknown field 'prise'\n");
    free(text);
    /* Past the cap errors are counted, and the count is printed. */
    for (int i = 0; i < APP_CONFIG_MAX_ERRORS; i++)
        app_config_error(cfg, 1, 1, "e%d", i);
    assert_int_equal(app_config_error_count(cfg), APP_CONFIG_MAX_ERRORS + 3);
    f = open_memstream(&text, &len);
    app_config_print_errors(cfg, f);
    fclose(f);
    assert_non_null(strstr(text, "t.yaml: 3 more errors not shown\n"));
    free(text);
    app_config_destroy(cfg);
}

static void test_value_syntax(void **state)
{
    (void)state;
    int64_t ms = -1;
    static const struct {
        const char *s;
        int64_t ms;
    } ok[] = {{"0", 0},        {"250ms", 250},   {"5s", 5000}, {"1m", 60000},
              {"1h", 3600000}, {"1d", 86400000}, {"0s", 0},    {"1500", 1500}};
    for (size_t i = 0; i < CORE_ARRAY_LEN(ok); i++) {
        assert_int_equal(app_parse_duration(ok[i].s, &ms), 0);
        assert_int_equal(ms, ok[i].ms);
    }
    static const char *const bad[] = {"", "ten", "-1s", "1.5s", "1 s", "1m30s", "5S", "s", "1w"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(bad); i++)
        assert_int_equal(app_parse_duration(bad[i], &ms), CORE_EINVAL);
    assert_int_equal(app_parse_duration("9223372036854775807d", &ms), CORE_ERANGE);
    assert_int_equal(app_parse_duration("106751991167301d", &ms), CORE_ERANGE);

    assert_true(app_ident_valid("a"));
    assert_true(app_ident_valid("_x9"));
    assert_true(app_ident_valid("stocks_ohlc_1m"));
    char longest[64];
    memset(longest, 'a', 63);
    longest[63] = '\0';
    assert_true(app_ident_valid(longest));
    longest[62] = '\0';
    assert_true(app_ident_valid(longest));
    char too_long[65];
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    assert_false(app_ident_valid(too_long));
    assert_false(app_ident_valid(""));
    assert_false(app_ident_valid("9a"));
    assert_false(app_ident_valid("Ab"));
    assert_false(app_ident_valid("a-b"));
    assert_false(app_ident_valid("a b"));
    assert_false(app_ident_valid(NULL));

    assert_string_equal(app_pipe_kind_name(APP_PIPE_CDC), "cdc");
    assert_string_equal(app_win_kind_name(APP_WIN_SESSION), "session");
    assert_string_equal(app_agg_fn_name(APP_AGG_STDDEV), "stddev");
    assert_string_equal(app_field_type_name(APP_FIELD_TIMESTAMP), "timestamp");
    assert_string_equal(app_emit_name(APP_EMIT_FINAL), "final");
    assert_string_equal(app_rule_kind_name(APP_RULE_VELOCITY), "velocity");
    assert_string_equal(app_agg_fn_name((app_agg_fn_t)99), "?");
}

/* Every allocation of a load fails in turn: the loader reports ENOMEM (or
 * gets through), never crashes, and frees everything. */
static void test_allocation_failures(void **state)
{
    (void)state;
    core_mem_stats_t before, after;
    core_mem_stats(CORE_MEM_APP, &before);
    bool succeeded = false;
    for (long n = 1; n < 5000 && !succeeded; n++) {
        app_config_t *cfg = NULL;
        core_mem_fail_at(n, false);
        int rc = app_config_load_string("t.yaml", full_yaml, strlen(full_yaml), &cfg);
        core_mem_fail_at(0, false);
        if (cfg == NULL) {
            assert_int_equal(rc, CORE_ENOMEM);
            continue;
        }
        assert_true(rc == 0 || rc == CORE_ENOMEM);
        succeeded = rc == 0;
        app_config_destroy(cfg);
    }
    assert_true(succeeded);
    core_mem_stats(CORE_MEM_APP, &after);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.allocs, before.allocs);
}

static void test_print_keys(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(app_config_print_keys(f), 0);
    fclose(f);
    static const char *const want[] = {
        "### `data`\n",
        "| `dir` | path | `./data` |  | `STRATA_DATA_DIR` |",
        "| `url` | store URL | sqlite:<data.dir>/strata.db |  | `STRATA_STORE_URL` |",
        "| `enabled` | bool | `true` |  | `STRATA_BROKER_ENABLED` |",
        "| `token` | string | none |  | `STRATA_HTTP_TOKEN` |",
        "### `topics[]`\n",
        "| `partitions` | integer | `1` | 1 to 1024 |  |",
        "### `schemas[].fields[]`\n",
        "| `format` | timestamp format | `auto` |  | type: timestamp |",
        "### `pipelines[]`\n",
        "| `kind` | one of `table`, `aggregate`, `detect`, `cdc`, `archive` | **required** |",
        "| `commit.interval` | duration | `100ms` | 1ms to 1h |  |",
        "| `window.slide` | duration | **required** for type: hopping | 1ms to 365d | kind: "
        "aggregate; type: hopping |",
        "| `primary_key` | list of identifier | **required** for kind: cdc; else table: "
        "_partition, _offset | 1 to 32 entries | kind: table, cdc |",
        "### `pipelines[].rules[]`\n",
        "### `generators[]`\n",
        "| `kind` | one of `transactions`, `stocks`, `app`, `web`, `clickstream`, `cdc`, "
        "`external`, `nexmark` | **required** |",
        "| `rate` | rate | **required** | 0.01/s to 1000000/s |  |",
        "| `start` | time | now, at each start |  |  |",
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(want); i++) {
        if (strstr(text, want[i]) == NULL)
            fprintf(stderr, "missing: %s\n", want[i]);
        assert_non_null(strstr(text, want[i]));
    }
    /* A nested mapping has its own row, then a row per key. */
    assert_non_null(strstr(text, "| `window` | mapping | **required** for kind: aggregate |  | "
                                 "kind: aggregate |"));
    assert_non_null(strstr(text, "| `window.type` | one of `tumbling`, `hopping`, `session` | "
                                 "**required** in `window` |  | kind: aggregate |"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_full_config, clear_env),
        cmocka_unit_test_setup(test_full_config_pipelines, clear_env),
        cmocka_unit_test_setup(test_defaults, clear_env),
        cmocka_unit_test_setup(test_unknown_keys, clear_env),
        cmocka_unit_test_setup(test_wrong_types, clear_env),
        cmocka_unit_test_setup(test_bounds, clear_env),
        cmocka_unit_test_setup(test_missing_required, clear_env),
        cmocka_unit_test_setup(test_duplicates, clear_env),
        cmocka_unit_test_setup(test_references, clear_env),
        cmocka_unit_test_setup(test_topic_without_schema, clear_env),
        cmocka_unit_test_setup(test_identifiers_and_reserved, clear_env),
        cmocka_unit_test_setup(test_aggregate_strings, clear_env),
        cmocka_unit_test_setup(test_windows_and_durations, clear_env),
        cmocka_unit_test_setup(test_key_applies_to_kind, clear_env),
        cmocka_unit_test_setup(test_many_errors_in_one_file, clear_env),
        cmocka_unit_test_setup(test_env_overrides, clear_env),
        cmocka_unit_test_setup(test_http_token, clear_env),
        cmocka_unit_test_setup(test_interpolation, clear_env),
        cmocka_unit_test_setup(test_yaml_syntax_error, clear_env),
        cmocka_unit_test_setup(test_aliases_refused, clear_env),
        cmocka_unit_test_setup(test_caps, clear_env),
        cmocka_unit_test_setup(test_unreadable_file, clear_env),
        cmocka_unit_test_setup(test_fixture_files, clear_env),
        cmocka_unit_test_setup(test_error_api, clear_env),
        cmocka_unit_test_setup(test_value_syntax, clear_env),
        cmocka_unit_test_setup(test_allocation_failures, clear_env),
        cmocka_unit_test_setup(test_print_keys, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

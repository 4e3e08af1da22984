/*
 * kind_fixture.h - what the detect and cdc kind tests share: a temporary
 * data folder with a seglog topic behind a bus and a SQLite store, records
 * produced into it, pipelines run with stream_pipeline_run_once(), and
 * query results as text rows ("a|b|c", NULL as "NULL", floats with %.17g
 * so that they compare exactly).
 */
#ifndef STRATA_TEST_STREAM_KIND_FIXTURE_H
#define STRATA_TEST_STREAM_KIND_FIXTURE_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus/bus.h"
#include "seglog/seglog.h"
#include "store/store.h"
#include "stream/stream.h"

#define KF_TOPIC "events"

typedef struct {
    char *dir;
    seglog_t *log;
    bus_t *bus;
    char url[4200];
} kf_t;

static inline void kf_open(kf_t *f, int32_t partitions)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    f->dir = core_alloc(CORE_MEM_TEST, 4096);
    assert_non_null(f->dir);
    snprintf(f->dir, 4096, "%s/strata-kind-XXXXXX", base);
    assert_non_null(mkdtemp(f->dir));
    char path[4200];
    snprintf(path, sizeof path, "%s/log", f->dir);
    assert_int_equal(seglog_open(path, &f->log), 0);
    seglog_topic_config_t c;
    seglog_topic_config_default(&c);
    c.partitions = partitions;
    c.flush = SEGLOG_FLUSH_NEVER;
    assert_int_equal(seglog_topic_create(f->log, KF_TOPIC, &c), 0);
    assert_int_equal(bus_open_seglog(f->log, &f->bus), 0);
    snprintf(f->url, sizeof f->url, "sqlite:%s/store.db", f->dir);
}

static inline void kf_close(kf_t *f)
{
    bus_close(f->bus);
    seglog_close(f->log);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    core_free(f->dir);
}

/* Produces one record; value NULL is a tombstone. */
static inline void kf_produce(kf_t *f, int32_t partition, const char *key, const char *value,
                              int64_t ts_ms)
{
    bus_message_t m = {
        .key = key,
        .key_len = key != NULL ? strlen(key) : 0,
        .value = value,
        .value_len = value != NULL ? strlen(value) : 0,
        .timestamp_ms = ts_ms,
    };
    assert_int_equal(bus_produce(f->bus, KF_TOPIC, partition, &m, 1, false, NULL), 0);
}

static inline void kf_error(void *arg, int line, const char *message)
{
    (void)arg;
    fail_msg("compile error at line %d: %s", line, message);
}

/* Compiles def and runs it over everything produced so far. */
static inline int kf_run(kf_t *f, const stream_pipeline_def_t *def, stream_stats_t *st)
{
    stream_pipeline_t *p = NULL;
    assert_int_equal(stream_pipeline_compile(def, kf_error, NULL, &p), 0);
    int rc = stream_pipeline_run_once(p, f->bus, f->url, st);
    stream_pipeline_destroy(p);
    return rc;
}

typedef struct {
    char **rows;
    size_t n, cap;
} kf_rows_t;

static inline int kf_collect(void *arg, const schema_value_t *v, size_t n)
{
    kf_rows_t *r = arg;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 20);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_int_equal(core_buf_append_u8(&b, '|'), 0);
        switch (v[i].type) {
        case SCHEMA_NULL:
            core_buf_append_str(&b, "NULL");
            break;
        case SCHEMA_BOOL:
            core_buf_append_str(&b, v[i].v.b ? "true" : "false");
            break;
        case SCHEMA_INT:
        case SCHEMA_TIMESTAMP:
            core_buf_printf(&b, "%" PRId64, v[i].v.i);
            break;
        case SCHEMA_FLOAT:
            core_buf_printf(&b, "%.17g", v[i].v.f);
            break;
        default:
            core_buf_append(&b, v[i].v.s.p, v[i].v.s.len);
            break;
        }
    }
    assert_int_equal(core_buf_append_u8(&b, 0), 0);
    if (r->n == r->cap) {
        r->cap = r->cap == 0 ? 64 : r->cap * 2;
        r->rows = core_realloc(CORE_MEM_TEST, r->rows, r->cap * sizeof *r->rows);
        assert_non_null(r->rows);
    }
    r->rows[r->n++] = (char *)core_buf_take(&b, NULL);
    core_buf_fini(&b);
    return 0;
}

static inline void kf_rows_free(kf_rows_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        core_free(r->rows[i]);
    core_free(r->rows);
    memset(r, 0, sizeof *r);
}

/* Runs sql (parameters: one optional string ?1) and collects the rows. */
static inline void kf_query(kf_t *f, const char *sql, const char *param, kf_rows_t *out)
{
    store_t *s = NULL;
    memset(out, 0, sizeof *out);
    assert_int_equal(store_open(f->url, &s), 0);
    schema_value_t p = {.type = SCHEMA_STRING};
    if (param != NULL) {
        p.v.s.p = param;
        p.v.s.len = strlen(param);
    }
    int rc =
        store_exec(s, sql, param != NULL ? &p : NULL, param != NULL ? 1 : 0, kf_collect, out, NULL);
    if (rc != 0)
        fail_msg("query failed (%d): %s: %s", rc, core_error_detail(), sql);
    store_close(s);
}

static inline void kf_assert_rows(const kf_rows_t *got, const char *const *want, size_t n)
{
    for (size_t i = 0; i < got->n && i < n; i++)
        if (strcmp(got->rows[i], want[i]) != 0)
            fail_msg("row %zu: got \"%s\", want \"%s\"", i, got->rows[i], want[i]);
    if (got->n != n)
        fail_msg("got %zu rows, want %zu", got->n, n);
}

/* A schema field definition with no checks. */
static inline schema_field_def_t kf_field(const char *name, schema_type_t type, bool required)
{
    schema_field_def_t d = {
        .name = name, .type = type, .required = required, .min_length = -1, .max_length = -1};
    return d;
}

#endif

/*
 * Unit tests of the archive sink (src/lake/archive.c).
 *
 * Two drivers:
 *   - the real runtime (stream_pipeline_run_once, or a stream runtime on
 *     its thread) over a seglog topic and a SQLite store
 *     (tests/unit/stream/kind_fixture.h): layout, columns, arrival vs event
 *     time, the dlq, and the committed offset held back in the store;
 *   - a small simulator of the runtime's calls (open, write, tick, flush,
 *     hold, commit, committed, close) with its own committed state, which
 *     can "crash" between any two calls: rolls, hold-back, restarts that
 *     rewrite the same file names, skipping what is durable, staging
 *     cleanup, and the _SUCCESS markers.
 * Files are checked through their footers (footer_read.h): row counts and
 * the _offset column's min and max.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lake/lake.h"

#include "../stream/kind_fixture.h"
#include "footer_read.h"

#define HOUR  3600000000LL
#define H10   (1767261600LL * 1000000) /* 2026-01-01T10:00:00Z */
#define DIR10 "date=2026-01-01/hour=10"
#define DIR11 "date=2026-01-01/hour=11"
#define DIR12 "date=2026-01-01/hour=12"
#define NCOLS 7 /* id, n, ts + _key, _partition, _offset, _timestamp */

static footer_info_t *footer;

/* ---- Files. */

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    struct stat st;
    return stat(path, &st) == 0;
}

/* Files in dir whose name ends with suffix (0 when dir is missing). */
static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int n = 0;
    struct dirent *de;
    size_t sl = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0 && de->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

static int64_t le64(const footer_bin_t *b)
{
    assert_true(b->present);
    assert_int_equal(b->len, 8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b->data[i];
    return (int64_t)v;
}

/* The Parquet file at lake/events/<hour dir>/events+<p>+<first>.parquet
 * holds `rows` rows with _offset from first to last. */
static void check_file(const char *lake, const char *hour, int32_t p, int64_t first, int64_t rows,
                       int64_t last)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/events/%s/events+%d+%lld.parquet", lake, hour, (int)p,
             (long long)first);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        fail_msg("missing %s", path);
    uint8_t *buf = core_alloc(CORE_MEM_TEST, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 1 << 20, fp);
    fclose(fp);
    assert_int_equal(footer_read(buf, n, footer), 0);
    core_free(buf);
    if (footer->num_rows != rows)
        fail_msg("%s: %lld rows, want %lld", path, (long long)footer->num_rows, (long long)rows);
    assert_int_equal(footer->nchunks % NCOLS, 0);
    assert_true(footer_chunks_tile(footer));
    const footer_chunk_t *off = NULL;
    for (size_t i = 0; i < footer->nchunks && off == NULL; i++)
        if (strcmp(footer->chunks[i].path, "_offset") == 0)
            off = &footer->chunks[i];
    assert_non_null(off);
    assert_int_equal(le64(&off->min_value), first);
    assert_int_equal(le64(&off->max_value), last);
}

/* ---- A schema: id (string, required), n (int), ts (timestamp, required). */

static schema_t *make_schema(void)
{
    schema_t *s = NULL;
    assert_int_equal(schema_create("ev", &s), 0);
    schema_field_def_t f = kf_field("id", SCHEMA_STRING, true);
    assert_int_equal(schema_add_field(s, &f), 0);
    f = kf_field("n", SCHEMA_INT, false);
    assert_int_equal(schema_add_field(s, &f), 0);
    f = kf_field("ts", SCHEMA_TIMESTAMP, true);
    f.format = "epoch_us";
    assert_int_equal(schema_add_field(s, &f), 0);
    assert_int_equal(schema_seal(s), 0);
    return s;
}

static lake_archive_t *make_archive(const char *dir, int64_t rows, int64_t bytes, int64_t age_ms,
                                    int32_t max_open)
{
    lake_archive_config_t c;
    lake_archive_config_default(&c);
    c.dir = dir;
    c.codec = LAKE_CODEC_SNAPPY;
    c.roll_rows = rows;
    c.roll_bytes = bytes;
    c.roll_age_ms = age_ms;
    c.max_open = max_open;
    lake_archive_t *a = NULL;
    assert_int_equal(lake_archive_create(&c, &a), 0);
    return a;
}

/* ---- The simulator: one partition's task, its committed state and offset
 * surviving "crashes" of the part. */

#define MAX_ENTRIES 256

typedef struct {
    char key[64];
    char val[64];
} sim_entry_t;

typedef struct {
    sim_entry_t e[MAX_ENTRIES];
    size_t n;
} sim_state_t;

typedef struct {
    lake_archive_t *a;
    const schema_t *schema;
    int32_t partition, partitions;
    void *part;
    sim_state_t state; /* committed */
    int64_t committed, wm_committed;
    int64_t next, wm; /* of the running part */
    int64_t rows;
    int64_t *epoch; /* shared by the simulated tasks: claims */
} sim_t;

static int state_put(void *ctx, const char *key, size_t klen, const void *v, size_t vlen)
{
    sim_state_t *s = ctx;
    assert_true(klen < 64 && vlen < 64);
    size_t i = 0;
    while (i < s->n && (strlen(s->e[i].key) != klen || memcmp(s->e[i].key, key, klen) != 0))
        i++;
    if (v == NULL) {
        if (i < s->n)
            s->e[i] = s->e[--s->n];
        return 0;
    }
    if (i == s->n) {
        assert_true(s->n < MAX_ENTRIES);
        memcpy(s->e[i].key, key, klen);
        s->e[i].key[klen] = '\0';
        s->n++;
    }
    memcpy(s->e[i].val, v, vlen);
    s->e[i].val[vlen] = '\0';
    return 0;
}

static void sim_init(sim_t *s, lake_archive_t *a, const schema_t *schema, int32_t partition,
                     int32_t partitions, int64_t *epoch)
{
    memset(s, 0, sizeof *s);
    s->a = a;
    s->schema = schema;
    s->partition = partition;
    s->partitions = partitions;
    s->wm_committed = INT64_MIN;
    s->epoch = epoch;
}

static int sim_open(sim_t *s)
{
    stream_sink_entry_t ents[MAX_ENTRIES];
    for (size_t i = 0; i < s->state.n; i++)
        ents[i] = (stream_sink_entry_t){s->state.e[i].key, strlen(s->state.e[i].key),
                                        s->state.e[i].val, strlen(s->state.e[i].val)};
    stream_sink_open_t info = {
        .pipeline = "arc",
        .topic = KF_TOPIC,
        .partition = s->partition,
        .partitions = s->partitions,
        .schema = s->schema,
        .epoch = ++*s->epoch,
        .committed = s->committed,
        .watermark_us = s->wm_committed,
        .state = ents,
        .nstate = s->state.n,
        .rows = &s->rows,
    };
    s->next = s->committed;
    s->wm = s->wm_committed;
    s->rows = 0; /* the figure of this run */
    return lake_archive_ops.open(s->a, &info, &s->part);
}

static int sim_write(sim_t *s, int64_t offset, int64_t event_us)
{
    char id[32], key[32];
    snprintf(id, sizeof id, "r%lld", (long long)offset);
    snprintf(key, sizeof key, "k%lld", (long long)offset);
    schema_value_t v[3] = {
        {.type = SCHEMA_STRING, .v.s = {id, strlen(id)}},
        {.type = SCHEMA_INT, .v.i = offset},
        {.type = SCHEMA_TIMESTAMP, .v.i = event_us},
    };
    stream_sink_record_t r = {
        .values = v,
        .key = key,
        .key_len = strlen(key),
        .partition = s->partition,
        .offset = offset,
        .timestamp_us = event_us,
        .event_us = event_us,
    };
    s->next = offset + 1;
    return lake_archive_ops.write(s->part, &r);
}

static int sim_tick(sim_t *s, bool final)
{
    return lake_archive_ops.tick(s->part, s->wm, final);
}

/* flush + hold + the transaction; publish: also the committed() call
 * (false: the process dies between the commit and the call). */
static void sim_commit(sim_t *s, bool publish)
{
    sim_state_t pending = s->state;
    assert_int_equal(lake_archive_ops.flush(s->part, state_put, &pending), 0);
    int64_t next = CORE_MIN(s->next, lake_archive_ops.hold(s->part));
    next = CORE_MAX(next, s->committed);
    s->state = pending;
    s->committed = next;
    s->wm_committed = s->wm;
    if (publish)
        lake_archive_ops.committed(s->part, next, s->wm);
}

static void sim_crash(sim_t *s)
{
    lake_archive_ops.close(s->part);
    s->part = NULL;
}

/* ---- Fixture of the simulator tests: a temp folder, a schema. */

typedef struct {
    char dir[512];
    char lake[600];
    char staging0[700];
    schema_t *schema;
    int64_t epoch;
} env_t;

static int env_setup(void **state)
{
    env_t *e = core_calloc(CORE_MEM_TEST, 1, sizeof *e);
    assert_non_null(e);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(e->dir, sizeof e->dir, "%s/strata-arc-XXXXXX", base);
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->lake, sizeof e->lake, "%s/lake", e->dir);
    snprintf(e->staging0, sizeof e->staging0, "%s/events/_staging/0", e->lake);
    e->schema = make_schema();
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    env_t *e = *state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
    schema_destroy(e->schema);
    core_free(e);
    return 0;
}

static void hour_path(const env_t *e, const char *hour, char *out, size_t cap)
{
    snprintf(out, cap, "%s/events/%s", e->lake, hour);
}

/* ---- Rolls. */

static void test_roll_rows(void **state)
{
    env_t *e = *state;
    lake_archive_t *a = make_archive(e->lake, 3, 1 << 30, 3600 * 1000, 8);
    sim_t s;
    sim_init(&s, a, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    for (int64_t o = 0; o < 10; o++)
        assert_int_equal(sim_write(&s, o, H10 + o * 1000000), 0);
    assert_int_equal(sim_tick(&s, true), 1); /* closed files to commit */
    sim_commit(&s, true);
    assert_int_equal(s.committed, 10);
    assert_int_equal(s.rows, 10);
    check_file(e->lake, DIR10, 0, 0, 3, 2);
    check_file(e->lake, DIR10, 0, 3, 3, 5);
    check_file(e->lake, DIR10, 0, 6, 3, 8);
    check_file(e->lake, DIR10, 0, 9, 1, 9);
    char dir[800];
    hour_path(e, DIR10, dir, sizeof dir);
    assert_int_equal(count_files(dir, ".parquet"), 4);
    assert_int_equal(count_files(e->staging0, ""), 0);
    sim_crash(&s);
    lake_archive_destroy(a);
}

static void test_roll_bytes(void **state)
{
    env_t *e = *state;
    lake_archive_t *a = make_archive(e->lake, 1000, 1, 3600 * 1000, 8);
    sim_t s;
    sim_init(&s, a, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    for (int64_t o = 0; o < 3; o++)
        assert_int_equal(sim_write(&s, o, H10 + o), 0);
    /* Every row reaches the size on its own: one file each, none open. */
    assert_int_equal(lake_archive_ops.hold(s.part), INT64_MAX);
    sim_commit(&s, true);
    for (int64_t o = 0; o < 3; o++)
        check_file(e->lake, DIR10, 0, o, 1, o);
    sim_crash(&s);
    lake_archive_destroy(a);
}

static void nap_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_roll_age(void **state)
{
    env_t *e = *state;
    lake_archive_t *slow = make_archive(e->lake, 1000, 1 << 30, 3600 * 1000, 8);
    sim_t s;
    sim_init(&s, slow, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    assert_int_equal(sim_write(&s, 0, H10), 0);
    nap_ms(5);
    assert_int_equal(sim_tick(&s, false), 0); /* an hour to go: still open */
    assert_int_equal(lake_archive_ops.hold(s.part), 0);
    sim_crash(&s);
    lake_archive_destroy(slow);

    lake_archive_t *fast = make_archive(e->lake, 1000, 1 << 30, 1, 8);
    sim_init(&s, fast, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    assert_int_equal(sim_write(&s, 0, H10), 0);
    assert_int_equal(sim_write(&s, 1, H10 + 1), 0);
    nap_ms(5);
    assert_int_equal(sim_tick(&s, false), 1); /* older than 1 ms: closed */
    assert_int_equal(lake_archive_ops.hold(s.part), INT64_MAX);
    sim_commit(&s, true);
    check_file(e->lake, DIR10, 0, 0, 2, 1);
    sim_crash(&s);
    lake_archive_destroy(fast);
}

/* A file closes when the watermark passes the end of its hour; at most
 * max_open files are open, the oldest closing first. */
static void test_watermark_and_open_bound(void **state)
{
    env_t *e = *state;
    lake_archive_t *a = make_archive(e->lake, 1000, 1 << 30, 3600 * 1000, 2);
    sim_t s;
    sim_init(&s, a, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    assert_int_equal(sim_write(&s, 0, H10), 0);
    assert_int_equal(sim_write(&s, 1, H10 + HOUR), 0);
    assert_int_equal(lake_archive_ops.hold(s.part), 0);
    assert_int_equal(sim_write(&s, 2, H10 + 2 * HOUR), 0); /* a third hour: 10 closes */
    assert_int_equal(lake_archive_ops.hold(s.part), 1);
    assert_int_equal(sim_write(&s, 3, H10 + HOUR + 5), 0);
    s.wm = H10 + 2 * HOUR; /* past the end of hour 11 */
    assert_int_equal(sim_tick(&s, false), 1);
    assert_int_equal(lake_archive_ops.hold(s.part), 2);
    sim_commit(&s, true);
    assert_int_equal(s.committed, 2);
    check_file(e->lake, DIR10, 0, 0, 1, 0);
    check_file(e->lake, DIR11, 0, 1, 2, 3);
    assert_false(exists("%s/events/%s/events+0+2.parquet", e->lake, DIR12));
    sim_crash(&s);
    lake_archive_destroy(a);
}

/* ---- Exactly once across crashes. */

/* A crash loses the open file and the closed one the commit did not
 * cover; the restart reads from the held-back offset and writes the same
 * files again, under the same names. */
static void test_restart_rewrites_same_names(void **state)
{
    env_t *e = *state;
    lake_archive_t *a = make_archive(e->lake, 4, 1 << 30, 3600 * 1000, 8);
    sim_t s;
    sim_init(&s, a, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    for (int64_t o = 0; o < 10; o++)
        assert_int_equal(sim_write(&s, o, H10 + o), 0);
    sim_commit(&s, true);
    assert_int_equal(s.committed, 8); /* held at the open file's first offset */
    check_file(e->lake, DIR10, 0, 0, 4, 3);
    check_file(e->lake, DIR10, 0, 4, 4, 7);
    for (int64_t o = 10; o < 12; o++)
        assert_int_equal(sim_write(&s, o, H10 + o), 0); /* +8 closes, not committed */
    assert_int_equal(count_files(e->staging0, ".tmp"), 1);
    sim_crash(&s);
    assert_false(exists("%s/events/%s/events+0+8.parquet", e->lake, DIR10));

    assert_int_equal(sim_open(&s), 0);
    assert_int_equal(count_files(e->staging0, ""), 0); /* the uncommitted file is gone */
    for (int64_t o = s.committed; o < 14; o++)
        assert_int_equal(sim_write(&s, o, H10 + o), 0);
    assert_int_equal(sim_tick(&s, true), 1);
    sim_commit(&s, true);
    assert_int_equal(s.committed, 14);
    check_file(e->lake, DIR10, 0, 0, 4, 3);
    check_file(e->lake, DIR10, 0, 4, 4, 7);
    check_file(e->lake, DIR10, 0, 8, 4, 11);
    check_file(e->lake, DIR10, 0, 12, 2, 13);
    char dir[800];
    hour_path(e, DIR10, dir, sizeof dir);
    assert_int_equal(count_files(dir, ".parquet"), 4);
    sim_crash(&s);
    lake_archive_destroy(a);
}

/* Records of two hours interleave: hour 11's file is committed while hour
 * 10's is still open, so the committed offset lies before some of hour
 * 11's durable records. After a crash they come again and are skipped. */
static void test_restart_skips_durable_records(void **state)
{
    env_t *e = *state;
    lake_archive_t *a = make_archive(e->lake, 4, 1 << 30, 3600 * 1000, 8);
    sim_t s;
    sim_init(&s, a, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    int64_t t[8] = {H10, H10 + HOUR, H10 + HOUR, H10 + 1, H10 + HOUR, H10 + HOUR, H10 + 2, H10 + 3};
    for (int64_t o = 0; o < 6; o++)
        assert_int_equal(sim_write(&s, o, t[o]), 0); /* hour 11: 1, 2, 4, 5 -> closes */
    sim_commit(&s, true);
    assert_int_equal(s.committed, 0);
    check_file(e->lake, DIR11, 0, 1, 4, 5);
    sim_crash(&s);

    assert_int_equal(sim_open(&s), 0);
    for (int64_t o = 0; o < 8; o++)
        assert_int_equal(sim_write(&s, o, t[o]), 0);
    assert_int_equal(sim_tick(&s, true), 1);
    sim_commit(&s, true);
    assert_int_equal(s.committed, 8);
    assert_int_equal(s.rows, 4); /* this run published hour 10's file only */
    check_file(e->lake, DIR10, 0, 0, 4, 7);
    check_file(e->lake, DIR11, 0, 1, 4, 5);
    char dir[800];
    hour_path(e, DIR11, dir, sizeof dir);
    assert_int_equal(count_files(dir, ".parquet"), 1);
    sim_crash(&s);
    lake_archive_destroy(a);
}

/* The process dies after the commit, before the rename: the next open
 * publishes the committed file. */
static void test_crash_between_commit_and_publish(void **state)
{
    env_t *e = *state;
    lake_archive_t *a = make_archive(e->lake, 2, 1 << 30, 3600 * 1000, 8);
    sim_t s;
    sim_init(&s, a, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    for (int64_t o = 0; o < 3; o++)
        assert_int_equal(sim_write(&s, o, H10 + o), 0);
    sim_commit(&s, false);
    assert_int_equal(s.committed, 2);
    assert_false(exists("%s/events/%s/events+0+0.parquet", e->lake, DIR10));
    sim_crash(&s);

    assert_int_equal(sim_open(&s), 0);
    check_file(e->lake, DIR10, 0, 0, 2, 1);
    assert_int_equal(count_files(e->staging0, ""), 0);
    /* The committed entry of the published file is dropped by the next
     * commit. */
    assert_int_equal(sim_tick(&s, false), 1);
    sim_commit(&s, true);
    for (size_t i = 0; i < s.state.n; i++)
        assert_int_not_equal(s.state.e[i].key[0], 'f');
    assert_int_equal(sim_write(&s, 2, H10 + 2), 0);
    assert_int_equal(sim_tick(&s, true), 1);
    sim_commit(&s, true);
    check_file(e->lake, DIR10, 0, 2, 1, 2);
    sim_crash(&s);
    lake_archive_destroy(a);
}

/* ---- _SUCCESS markers. */

static bool marker(const env_t *e, const char *hour)
{
    return exists("%s/events/%s/_SUCCESS", e->lake, hour);
}

/* Written once every partition's watermark has passed the hour and every
 * file of the hour is published; a late record's file is published into
 * the marked hour later. */
static void test_success_markers(void **state)
{
    env_t *e = *state;
    lake_archive_t *a = make_archive(e->lake, 1000, 1 << 30, 3600 * 1000, 8);
    sim_t s0, s1;
    sim_init(&s0, a, e->schema, 0, 2, &e->epoch);
    sim_init(&s1, a, e->schema, 1, 2, &e->epoch);
    assert_int_equal(sim_open(&s0), 0);
    assert_int_equal(sim_write(&s0, 0, H10 + 10), 0);
    assert_int_equal(sim_write(&s0, 1, H10 + HOUR + 10), 0);
    s0.wm = H10 + HOUR + 10;
    assert_int_equal(sim_tick(&s0, false), 1);
    sim_commit(&s0, true);
    check_file(e->lake, DIR10, 0, 0, 1, 0);
    assert_false(marker(e, DIR10)); /* partition 1 is not open yet */

    assert_int_equal(sim_open(&s1), 0);
    assert_int_equal(sim_write(&s1, 0, H10 + 20), 0);
    s1.wm = H10 + 20;
    assert_int_equal(sim_tick(&s1, false), 0);
    sim_commit(&s1, true);
    assert_false(marker(e, DIR10)); /* partition 1 is still in hour 10 */

    assert_int_equal(sim_write(&s1, 1, H10 + HOUR + 30), 0);
    s1.wm = H10 + HOUR + 30;
    assert_int_equal(sim_tick(&s1, false), 1);
    sim_commit(&s1, true);
    assert_true(marker(e, DIR10));
    assert_false(marker(e, DIR11));
    check_file(e->lake, DIR10, 1, 0, 1, 0);

    /* A late record of hour 10: its own file, after which the marker is
     * written again (removed here to see it come back). */
    assert_int_equal(sim_write(&s0, 2, H10 + 50), 0);
    char path[900];
    snprintf(path, sizeof path, "%s/events/%s/_SUCCESS", e->lake, DIR10);
    assert_int_equal(unlink(path), 0);
    sim_commit(&s0, true);
    assert_false(marker(e, DIR10)); /* the late file is still open */
    assert_int_equal(sim_tick(&s0, true), 1);
    sim_commit(&s0, true);
    check_file(e->lake, DIR10, 0, 2, 1, 2);
    assert_true(marker(e, DIR10));
    assert_false(marker(e, DIR11));
    sim_crash(&s0);
    sim_crash(&s1);
    lake_archive_destroy(a);
}

/* A commit may come after the watermark passed an hour but before the
 * hour's open file closed. After a crash, the restored watermark is past
 * the hour while its records are still to be written again: no marker
 * until they are published. */
static void test_marker_waits_for_rewrite(void **state)
{
    env_t *e = *state;
    lake_archive_t *a = make_archive(e->lake, 1000, 1 << 30, 3600 * 1000, 8);
    sim_t s;
    sim_init(&s, a, e->schema, 0, 1, &e->epoch);
    assert_int_equal(sim_open(&s), 0);
    assert_int_equal(sim_write(&s, 0, H10 + 10), 0);
    assert_int_equal(sim_write(&s, 1, H10 + HOUR + 10), 0);
    s.wm = H10 + HOUR + 10;
    sim_commit(&s, true); /* before the tick that would close hour 10 */
    assert_int_equal(s.committed, 0);
    assert_false(marker(e, DIR10));
    sim_crash(&s);

    assert_int_equal(sim_open(&s), 0);
    assert_int_equal(sim_tick(&s, false), 0);
    sim_commit(&s, true);           /* the restored watermark is past hour 10 ... */
    assert_false(marker(e, DIR10)); /* ... but hour 10 is to be written again */
    assert_int_equal(sim_write(&s, 0, H10 + 10), 0);
    assert_int_equal(sim_write(&s, 1, H10 + HOUR + 10), 0);
    assert_int_equal(sim_tick(&s, false), 1);
    sim_commit(&s, true);
    check_file(e->lake, DIR10, 0, 0, 1, 0);
    assert_true(marker(e, DIR10));
    sim_crash(&s);
    lake_archive_destroy(a);
}

/* ---- Through the runtime. */

typedef struct {
    kf_t f;
    schema_t *schema;
    char lake[4300];
} rt_t;

static int rt_setup(void **state)
{
    rt_t *r = core_calloc(CORE_MEM_TEST, 1, sizeof *r);
    assert_non_null(r);
    kf_open(&r->f, 2);
    r->schema = make_schema();
    snprintf(r->lake, sizeof r->lake, "%s/lake", r->f.dir);
    *state = r;
    return 0;
}

static int rt_teardown(void **state)
{
    rt_t *r = *state;
    kf_close(&r->f);
    schema_destroy(r->schema);
    core_free(r);
    return 0;
}

static stream_pipeline_t *rt_pipeline(rt_t *r, const char *name, const char *event_time,
                                      int64_t roll_rows, int64_t roll_age_ms)
{
    stream_pipeline_def_t d = {
        .name = name,
        .kind = STREAM_KIND_SINK,
        .topic = KF_TOPIC,
        .schema = r->schema,
        .event_time = event_time,
        .max_ooo_ms = 0,
        .idle_timeout_ms = 3600 * 1000,
        .commit_interval_ms = 10,
        .commit_records = 1000,
        .sink_ops = &lake_archive_ops,
        .sink = make_archive(r->lake, roll_rows, 1 << 30, roll_age_ms, 8),
    };
    stream_pipeline_t *p = NULL;
    assert_int_equal(stream_pipeline_compile(&d, kf_error, NULL, &p), 0);
    return p;
}

/* A record with id, n = its timestamp and ts = event_us. */
static void produce(rt_t *r, int32_t p, const char *key, const char *id, int64_t event_us,
                    int64_t ts_ms)
{
    char v[128];
    snprintf(v, sizeof v, "{\"id\":\"%s\",\"n\":%lld,\"ts\":%lld}", id, (long long)ts_ms,
             (long long)event_us);
    kf_produce(&r->f, p, key, v, ts_ms);
}

/* Columns and layout from the runtime's own decoding; arrival time puts
 * the same records in the hours of their timestamps. */
static void test_runtime_layout_and_arrival(void **state)
{
    rt_t *r = *state;
    int64_t at12 = H10 / 1000 + 2 * 3600 * 1000;
    produce(r, 0, "a", "a", H10 + 1, at12); /* event 10:00, arrival 12:00 */
    produce(r, 0, "b", "b", H10 + HOUR + 1, at12);
    produce(r, 1, NULL, "c", H10 + 5, at12);
    produce(r, 1, "d", "d", H10 + HOUR + 5, at12);
    kf_produce(&r->f, 1, "e", "{\"id\": \"e\"}", at12); /* no ts: to the dlq */
    stream_stats_t st;
    stream_pipeline_t *p = rt_pipeline(r, "arc", "ts", 1000, 3600 * 1000);
    assert_int_equal(stream_pipeline_run_once(p, r->f.bus, r->f.url, &st), 0);
    stream_pipeline_destroy(p);
    assert_int_equal(st.valid, 4);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.rows, 4);
    check_file(r->lake, DIR10, 0, 0, 1, 0);
    check_file(r->lake, DIR11, 0, 1, 1, 1);
    check_file(r->lake, DIR10, 1, 0, 1, 0);
    check_file(r->lake, DIR11, 1, 1, 1, 1);
    /* Both partitions are past hour 10 (not 11): its marker only. */
    assert_true(exists("%s/events/%s/_SUCCESS", r->lake, DIR10));
    assert_false(exists("%s/events/%s/_SUCCESS", r->lake, DIR11));
    kf_rows_t rows;
    kf_query(&r->f, "SELECT kind, \"offset\" FROM dlq WHERE pipeline = ?1", "arc", &rows);
    const char *want[] = {"required|2"};
    kf_assert_rows(&rows, want, 1);
    kf_rows_free(&rows);

    /* Arrival: the record timestamps (12:00) place every record. */
    snprintf(r->lake, sizeof r->lake, "%s/lake2", r->f.dir);
    p = rt_pipeline(r, "arrival", NULL, 1000, 3600 * 1000);
    assert_int_equal(stream_pipeline_run_once(p, r->f.bus, r->f.url, &st), 0);
    stream_pipeline_destroy(p);
    assert_int_equal(st.rows, 4);
    check_file(r->lake, DIR12, 0, 0, 2, 1);
    check_file(r->lake, DIR12, 1, 0, 2, 1);
    assert_false(exists("%s/events/%s", r->lake, DIR10));
}

/* A key that is not UTF-8 cannot go into _key: the record goes to the dlq
 * as "sink", and the others are archived. */
static void test_runtime_rejects_binary_key(void **state)
{
    rt_t *r = *state;
    produce(r, 0, "\xff\xfe", "bad", H10, H10 / 1000);
    produce(r, 0, "ok", "ok", H10 + 1, H10 / 1000);
    stream_stats_t st;
    stream_pipeline_t *p = rt_pipeline(r, "arc", "ts", 1000, 3600 * 1000);
    assert_int_equal(stream_pipeline_run_once(p, r->f.bus, r->f.url, &st), 0);
    stream_pipeline_destroy(p);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.rows, 1);
    check_file(r->lake, DIR10, 0, 1, 1, 1);
    kf_rows_t rows;
    kf_query(&r->f, "SELECT kind, \"offset\" FROM dlq WHERE pipeline = ?1", "arc", &rows);
    const char *want[] = {"sink|0"};
    kf_assert_rows(&rows, want, 1);
    kf_rows_free(&rows);
}

static void committed_offset(rt_t *r, char *out, size_t cap)
{
    kf_rows_t rows;
    kf_query(&r->f, "SELECT next_offset FROM strata_offsets WHERE pipeline = ?1 AND partition = 0",
             "arc", &rows);
    snprintf(out, cap, "%s", rows.n == 1 ? rows.rows[0] : "none");
    kf_rows_free(&rows);
}

/* While a file is open, the store's committed offset stays at its first
 * offset; the stop closes it and the offset moves past every record. */
static void test_runtime_holds_committed_offset(void **state)
{
    rt_t *r = *state;
    produce(r, 0, "a", "a", H10 - 1,
            H10 / 1000); /* hour 9: closes once the watermark passes 10:00 */
    for (int i = 1; i < 5; i++)
        produce(r, 0, "b", "b", H10 + i, H10 / 1000);
    stream_pipeline_t *p = rt_pipeline(r, "arc", "ts", 1000, 3600 * 1000);
    /* The store's tables exist before the runtime's thread gets to them, so
     * the polling below never queries a table that is not there yet. */
    store_t *st = NULL;
    assert_int_equal(store_open(r->f.url, &st), 0);
    assert_int_equal(store_migrate(st), 0);
    store_close(st);
    stream_runtime_t *rt = NULL;
    assert_int_equal(stream_runtime_create(r->f.bus, r->f.url, &rt), 0);
    assert_int_equal(stream_runtime_add(rt, p), 0);
    assert_int_equal(stream_runtime_start(rt), 0);
    char got[64] = "";
    for (int i = 0; i < 2000 && strcmp(got, "1") != 0; i++) {
        nap_ms(10);
        committed_offset(r, got, sizeof got);
        if (strcmp(got, "none") != 0 && strcmp(got, "0") != 0 && strcmp(got, "1") != 0)
            fail_msg("committed offset %s while a file holds offset 1", got);
    }
    assert_string_equal(got, "1");
    /* The rename follows the commit on the pipeline's thread. */
    for (int i = 0;
         i < 2000 && !exists("%s/events/date=2026-01-01/hour=09/events+0+0.parquet", r->lake); i++)
        nap_ms(10);
    check_file(r->lake, "date=2026-01-01/hour=09", 0, 0, 1, 0);
    assert_false(exists("%s/events/%s/events+0+1.parquet", r->lake, DIR10));
    stream_runtime_stop(rt);
    committed_offset(r, got, sizeof got);
    assert_string_equal(got, "5");
    check_file(r->lake, DIR10, 0, 1, 4, 4);
    stream_runtime_destroy(rt);
}

int main(void)
{
    footer = core_alloc(CORE_MEM_TEST, sizeof *footer);
    if (footer == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roll_rows, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_roll_bytes, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_roll_age, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_watermark_and_open_bound, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_restart_rewrites_same_names, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_restart_skips_durable_records, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_crash_between_commit_and_publish, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_success_markers, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_marker_waits_for_rewrite, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_runtime_layout_and_arrival, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_runtime_rejects_binary_key, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_runtime_holds_committed_offset, rt_setup, rt_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    core_free(footer);
    return rc;
}

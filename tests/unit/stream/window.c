/*
 * Unit tests for the window operator (src/stream/window.c): configuration
 * checks; tumbling and hopping membership and boundaries (negative times
 * included); session creation, extension, bridging merges, removals and
 * the exact gap boundary; closing by watermark and allowed lateness; late
 * events (all windows closed, hopping partial lateness, merged sessions);
 * batch mode; drain semantics (each changed row once, final rows freed,
 * stop and resume); restore after a simulated crash against an
 * uninterrupted run (random data, all three kinds, several crash points);
 * a brute-force oracle over random out-of-order events; merging operators
 * that each saw part of the events (stream_winop_merge); drains in key
 * order (stream_winop_sort_changed); the open-window
 * cap; allocation failure at every step; and an allocation-free warm path.
 *
 * Rows are drained into a fake store (a hash map of (key, start) -> row),
 * which is what the pipeline does with the real store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "stream/window_int.h"

/* Every operator here computes these aggregates of one input. */
enum { A_COUNT, A_SUM, A_MIN, A_MAX, A_FIRST, A_LAST, A_AVG, A_STDDEV, NAGGS };
static const stream_agg_kind_t aggs[NAGGS] = {
    STREAM_AGG_COUNT, STREAM_AGG_SUM,  STREAM_AGG_MIN, STREAM_AGG_MAX,
    STREAM_AGG_FIRST, STREAM_AGG_LAST, STREAM_AGG_AVG, STREAM_AGG_STDDEV,
};

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static int64_t rng_range(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static stream_winop_t *make_op(stream_win_kind_t kind, int64_t a, int64_t b, int64_t lateness,
                               bool batch, size_t cap)
{
    stream_winop_config_t cfg = {
        .kind = kind,
        .allowed_lateness_us = lateness,
        .aggs = aggs,
        .naggs = NAGGS,
        .batch_mode = batch,
        .max_windows = cap,
    };
    if (kind == STREAM_WIN_SESSION) {
        cfg.gap_us = a;
    } else {
        cfg.size_us = a;
        cfg.slide_us = b;
    }
    stream_winop_t *op = NULL;
    assert_int_equal(stream_winop_create(&cfg, &op), 0);
    assert_non_null(op);
    return op;
}

/* Adds x to every aggregate (present unless null_sum, which makes the sum's
 * input NULL). */
static int add_ev(stream_winop_t *op, const char *key, int64_t ts, double x, int64_t ord,
                  int64_t wm, bool null_sum, bool *late)
{
    double in[NAGGS];
    bool present[NAGGS];
    for (int i = 0; i < NAGGS; i++) {
        in[i] = x;
        present[i] = true;
    }
    present[A_SUM] = !null_sum;
    return stream_winop_add(op, key, strlen(key), ts, in, present, ord, wm, late);
}

static void add_ok(stream_winop_t *op, const char *key, int64_t ts, double x, int64_t wm,
                   bool want_late)
{
    bool late = !want_late;
    assert_int_equal(add_ev(op, key, ts, x, 0, wm, false, &late), 0);
    assert_int_equal(late, want_late);
}

/* ---- The fake store. */

#define KEYMAX 32

typedef struct {
    char key[KEYMAX];
    size_t klen;
    int64_t start, end;
    bool final;
    bool live;
    int final_batch; /* batch whose drain first saw it final */
    unsigned drain_id;
    stream_agg_state_t st[NAGGS];
} frow_t;

typedef struct {
    core_map_t *idx; /* key bytes + start -> row index + 1 */
    frow_t *rows;
    size_t n, cap;
    unsigned drain_id;
    int batch;
    size_t removed; /* removals applied */
    size_t reported;
    size_t finals;
    bool upserted;  /* this drain has reported a row that is not removed */
    int stop_after; /* the callback fails after this many rows; < 0 never */
} fstore_t;

static void fs_init(fstore_t *fs)
{
    memset(fs, 0, sizeof(*fs));
    fs->idx = core_map_create(CORE_MEM_TEST, 0);
    fs->stop_after = -1;
    assert_non_null(fs->idx);
}

static void fs_fini(fstore_t *fs)
{
    core_map_destroy(fs->idx);
    core_free(fs->rows);
}

static size_t fs_mapkey(char *buf, const char *key, size_t klen, int64_t start)
{
    memcpy(buf, key, klen);
    memcpy(buf + klen, &start, sizeof(start));
    return klen + sizeof(start);
}

static frow_t *fs_get(const fstore_t *fs, const char *key, size_t klen, int64_t start)
{
    char mk[KEYMAX + 8];
    void *v = NULL;
    if (!core_map_get(fs->idx, mk, fs_mapkey(mk, key, klen, start), &v))
        return NULL;
    return &fs->rows[(uintptr_t)v - 1];
}

static int fs_apply(void *arg, const stream_winop_row_t *row)
{
    fstore_t *fs = arg;
    if (fs->stop_after >= 0 && fs->reported >= (size_t)fs->stop_after)
        return 77;
    fs->reported++;
    assert_true(row->klen < KEYMAX);
    char mk[KEYMAX + 8];
    size_t mlen = fs_mapkey(mk, row->key, row->klen, row->start);
    frow_t *r = fs_get(fs, row->key, row->klen, row->start);
    if (r && r->drain_id == fs->drain_id)
        fail_msg("row %.*s@%lld reported twice in one drain", (int)row->klen, row->key,
                 (long long)row->start);
    if (row->removed) {
        assert_false(fs->upserted); /* removals come first */
        if (r) {
            r->live = false;
            r->drain_id = fs->drain_id;
            assert_true(core_map_del(fs->idx, mk, mlen, NULL));
        }
        fs->removed++;
        return 0;
    }
    if (!r) {
        if (fs->n == fs->cap) {
            fs->cap = fs->cap ? fs->cap * 2 : 64;
            fs->rows = core_realloc(CORE_MEM_TEST, fs->rows, fs->cap * sizeof(frow_t));
            assert_non_null(fs->rows);
        }
        r = &fs->rows[fs->n++];
        memset(r, 0, sizeof(*r));
        memcpy(r->key, row->key, row->klen);
        r->klen = row->klen;
        r->start = row->start;
        r->final_batch = -1;
        assert_int_equal(core_map_put(fs->idx, mk, mlen, (void *)(uintptr_t)fs->n, NULL), 0);
    }
    assert_false(r->final); /* a final row never changes again */
    fs->upserted = true;
    r->live = true;
    r->end = row->end;
    r->final = row->final;
    if (row->final) {
        r->final_batch = fs->batch;
        fs->finals++;
    }
    r->drain_id = fs->drain_id;
    memcpy(r->st, row->states, sizeof(r->st));
    return 0;
}

static int fs_drain(fstore_t *fs, stream_winop_t *op)
{
    fs->drain_id++;
    fs->upserted = false;
    return stream_winop_drain(op, fs_apply, fs);
}

static size_t fs_live(const fstore_t *fs)
{
    return core_map_count(fs->idx);
}

static frow_t *must_get(const fstore_t *fs, const char *key, int64_t start)
{
    frow_t *r = fs_get(fs, key, strlen(key), start);
    if (!r)
        fail_msg("no row %s@%lld", key, (long long)start);
    return r;
}

/* ---- Configuration. */

static void expect_bad_config(stream_winop_config_t cfg)
{
    stream_winop_t *op = (stream_winop_t *)1;
    assert_int_equal(stream_winop_create(&cfg, &op), CORE_EINVAL);
    assert_null(op);
    assert_true(strlen(core_error_detail()) > 0);
}

static void test_config(void **state)
{
    (void)state;
    stream_winop_config_t ok = {
        .kind = STREAM_WIN_HOPPING, .size_us = 10, .slide_us = 5, .aggs = aggs, .naggs = NAGGS};
    stream_winop_t *op = NULL;
    assert_int_equal(stream_winop_create(&ok, &op), 0);
    stream_winop_destroy(op);
    stream_winop_destroy(NULL);

    stream_winop_config_t c = ok;
    c.slide_us = 3; /* size not a multiple of slide */
    expect_bad_config(c);
    c.slide_us = 20; /* slide > size */
    expect_bad_config(c);
    c = ok;
    c.size_us = STREAM_WIN_MAX_HOPS + 1;
    c.slide_us = 1;
    expect_bad_config(c);
    c = ok;
    c.kind = STREAM_WIN_TUMBLING;
    c.size_us = 0;
    expect_bad_config(c);
    c.size_us = STREAM_WIN_SPAN_MAX + 1;
    expect_bad_config(c);
    c = ok;
    c.kind = STREAM_WIN_SESSION;
    c.gap_us = 0;
    expect_bad_config(c);
    c = ok;
    c.allowed_lateness_us = -1;
    expect_bad_config(c);
    c = ok;
    c.kind = (stream_win_kind_t)9;
    expect_bad_config(c);
    c = ok;
    c.naggs = STREAM_WIN_MAX_AGGS + 1;
    expect_bad_config(c);
    c = ok;
    stream_agg_kind_t bad[] = {STREAM_AGG_SUM, (stream_agg_kind_t)42};
    c.aggs = bad;
    c.naggs = 2;
    expect_bad_config(c);
    c = ok;
    c.max_windows = (size_t)STREAM_WIN_MAX_WINDOWS + 1;
    expect_bad_config(c);
}

/* ---- Membership and boundaries. */

static void test_tumbling_boundaries(void **state)
{
    (void)state;
    stream_winop_t *op = make_op(STREAM_WIN_TUMBLING, 10, 0, 0, false, 0);
    const int64_t ts[] = {0, 9, 10, -1, -10, -11, 19, 20};
    for (size_t i = 0; i < CORE_ARRAY_LEN(ts); i++)
        add_ok(op, "k", ts[i], (double)i, INT64_MIN, false);
    assert_int_equal(stream_winop_open(op), 5);
    fstore_t fs;
    fs_init(&fs);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs_live(&fs), 5);
    struct {
        int64_t start;
        int64_t count;
        double first;
    } want[] = {{0, 2, 0}, {10, 2, 2}, {-10, 2, 4}, {-20, 1, 5}, {20, 1, 7}};
    for (size_t i = 0; i < CORE_ARRAY_LEN(want); i++) {
        frow_t *r = must_get(&fs, "k", want[i].start);
        assert_int_equal(r->end, want[i].start + 10);
        assert_int_equal(r->st[A_COUNT].n, want[i].count);
        assert_true(r->st[A_FIRST].a == want[i].first);
        assert_false(r->final);
    }
    fs_fini(&fs);
    stream_winop_destroy(op);
}

static void test_hopping_membership(void **state)
{
    (void)state;
    /* boundaries: 5 is in [0,10) and [5,15), not [-5,5) */
    stream_winop_t *op = make_op(STREAM_WIN_HOPPING, 10, 5, 0, false, 0);
    fstore_t fs;
    fs_init(&fs);
    add_ok(op, "k", 5, 1, INT64_MIN, false);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs_live(&fs), 2);
    must_get(&fs, "k", 0);
    must_get(&fs, "k", 5);
    fs_fini(&fs);
    stream_winop_destroy(op);

    /* random times: every event is in exactly size/slide windows, each
     * window [s, s+size) with s a multiple of slide and s <= ts < s+size */
    rng_state = 0x1234567;
    const int64_t size = 12, slide = 3;
    op = make_op(STREAM_WIN_HOPPING, size, slide, 0, false, 0);
    fs_init(&fs);
    int64_t ts[500];
    for (int i = 0; i < 500; i++) {
        ts[i] = rng_range(-100, 100);
        add_ok(op, "k", ts[i], 1, INT64_MIN, false);
    }
    assert_int_equal(fs_drain(&fs, op), 0);
    int64_t total = 0;
    for (size_t i = 0; i < fs.n; i++) {
        const frow_t *r = &fs.rows[i];
        assert_int_equal(((r->start % slide) + slide) % slide, 0);
        assert_int_equal(r->end - r->start, size);
        int64_t want = 0;
        for (int e = 0; e < 500; e++)
            want += r->start <= ts[e] && ts[e] < r->end;
        assert_int_equal(r->st[A_COUNT].n, want);
        total += want;
    }
    assert_int_equal(total, 500 * (size / slide));
    fs_fini(&fs);
    stream_winop_destroy(op);
}

/* ---- Sessions. */

static void test_session_gap_boundary(void **state)
{
    (void)state;
    stream_winop_t *op = make_op(STREAM_WIN_SESSION, 10, 0, 0, false, 0);
    fstore_t fs;
    fs_init(&fs);
    add_ok(op, "a", 0, 1, INT64_MIN, false);
    add_ok(op, "a", 9, 2, INT64_MIN, false);   /* 9 apart: same session */
    add_ok(op, "a", 19, 3, INT64_MIN, false);  /* 10 apart: a new one */
    add_ok(op, "b", -5, 4, INT64_MIN, false);  /* another key */
    add_ok(op, "a", -10, 5, INT64_MIN, false); /* 10 before the first: new */
    assert_int_equal(stream_winop_open(op), 4);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs_live(&fs), 4);
    frow_t *r = must_get(&fs, "a", 0);
    assert_int_equal(r->end, 19); /* last event + gap */
    assert_int_equal(r->st[A_COUNT].n, 2);
    assert_int_equal(must_get(&fs, "a", 19)->end, 29);
    assert_int_equal(must_get(&fs, "a", -10)->end, 0);
    assert_int_equal(must_get(&fs, "b", -5)->end, 5);
    /* an event inside a session does not move its end back */
    add_ok(op, "a", 3, 6, INT64_MIN, false);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(must_get(&fs, "a", 0)->end, 19);
    assert_int_equal(must_get(&fs, "a", 0)->st[A_COUNT].n, 3);
    assert_int_equal(fs.reported, 5);
    fs_fini(&fs);
    stream_winop_destroy(op);
}

static void test_session_merge(void **state)
{
    (void)state;
    stream_winop_t *op = make_op(STREAM_WIN_SESSION, 10, 0, 0, false, 0);
    fstore_t fs;
    fs_init(&fs);
    add_ok(op, "k", 0, 1, INT64_MIN, false);  /* [0, 10) */
    add_ok(op, "k", 15, 2, INT64_MIN, false); /* [15, 25) */
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs_live(&fs), 2);
    /* 8 is within gap of both: one session [0, 25) */
    add_ok(op, "k", 8, 3, INT64_MIN, false);
    assert_int_equal(stream_winop_open(op), 1);
    size_t before = fs.reported;
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported - before, 2); /* removed 15, upserted 0 */
    assert_int_equal(fs.removed, 1);
    assert_int_equal(fs_live(&fs), 1);
    frow_t *r = must_get(&fs, "k", 0);
    assert_int_equal(r->end, 25);
    assert_int_equal(r->st[A_COUNT].n, 3);
    assert_true(r->st[A_SUM].a == 6 && r->st[A_MAX].a == 3 && r->st[A_FIRST].a == 1);
    assert_true(r->st[A_LAST].a == 2); /* event time 15 is the last */

    /* an event before the start moves it: the row at the old start goes */
    add_ok(op, "k", -5, 4, INT64_MIN, false);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.removed, 2);
    assert_int_equal(fs_live(&fs), 1);
    r = must_get(&fs, "k", -5);
    assert_int_equal(r->end, 25);
    assert_int_equal(r->st[A_COUNT].n, 4);
    assert_null(fs_get(&fs, "k", 1, 0));

    /* created and merged between two drains: no removals at all */
    add_ok(op, "m", 100, 1, INT64_MIN, false);
    add_ok(op, "m", 115, 1, INT64_MIN, false);
    add_ok(op, "m", 95, 1, INT64_MIN, false);  /* moves the start of [100,110) */
    add_ok(op, "m", 108, 1, INT64_MIN, false); /* bridges [95,110) and [115,125) */
    before = fs.reported;
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported - before, 1);
    assert_int_equal(fs.removed, 2);
    r = must_get(&fs, "m", 95);
    assert_int_equal(r->end, 125);
    assert_int_equal(r->st[A_COUNT].n, 4);
    assert_int_equal(stream_winop_open(op), 2);
    fs_fini(&fs);
    stream_winop_destroy(op);
}

/* ---- Watermarks, lateness and batch mode. */

static void test_watermark_closing(void **state)
{
    (void)state;
    for (int64_t lateness = 0; lateness <= 5; lateness += 5) {
        stream_winop_t *op = make_op(STREAM_WIN_TUMBLING, 10, 0, lateness, false, 0);
        fstore_t fs;
        fs_init(&fs);
        add_ok(op, "k", 3, 1, INT64_MIN, false);
        add_ok(op, "k", 13, 1, INT64_MIN, false);
        assert_int_equal(fs_drain(&fs, op), 0);
        /* [0,10) closes at end + lateness: one microsecond earlier it does not */
        stream_winop_advance(op, 10 + lateness - 1);
        assert_int_equal(stream_winop_open(op), 2);
        assert_int_equal(fs_drain(&fs, op), 0);
        assert_int_equal(fs.reported, 2); /* nothing changed: nothing reported */
        stream_winop_advance(op, 10 + lateness);
        assert_int_equal(stream_winop_open(op), 1);
        assert_int_equal(fs_drain(&fs, op), 0);
        assert_int_equal(fs.reported, 3);
        assert_true(must_get(&fs, "k", 0)->final);
        assert_false(must_get(&fs, "k", 10)->final);
        /* the final row is gone from the operator */
        assert_int_equal(fs_drain(&fs, op), 0);
        assert_int_equal(fs.reported, 3);
        /* events for it are late now, even when the caller's wm lags */
        add_ok(op, "k", 9, 1, 0, true);
        add_ok(op, "k", 10, 1, 0, false);
        assert_int_equal(fs_drain(&fs, op), 0);
        assert_int_equal(fs.reported, 4);
        assert_int_equal(must_get(&fs, "k", 10)->st[A_COUNT].n, 2);
        fs_fini(&fs);
        stream_winop_destroy(op);
    }
}

static void test_late_events(void **state)
{
    (void)state;
    fstore_t fs;
    /* tumbling: late only when its window is closed */
    stream_winop_t *op = make_op(STREAM_WIN_TUMBLING, 10, 0, 0, false, 0);
    fs_init(&fs);
    add_ok(op, "k", 5, 1, 10, true);
    add_ok(op, "k", 10, 1, 10, false);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 1);
    assert_null(fs_get(&fs, "k", 1, 0));
    fs_fini(&fs);
    stream_winop_destroy(op);

    /* allowed lateness keeps [0,10) open until wm 15 */
    op = make_op(STREAM_WIN_TUMBLING, 10, 0, 5, false, 0);
    add_ok(op, "k", 5, 1, 10, false);
    add_ok(op, "k", 5, 1, 14, false);
    add_ok(op, "k", 5, 1, 15, true);
    fs_init(&fs);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(must_get(&fs, "k", 0)->st[A_COUNT].n, 2);
    fs_fini(&fs);
    stream_winop_destroy(op);

    /* hopping: 7 is in [0,10) and [5,15); at wm 10 only the second is open */
    op = make_op(STREAM_WIN_HOPPING, 10, 5, 0, false, 0);
    add_ok(op, "k", 7, 1, 10, false);
    add_ok(op, "k", 7, 1, 15, true);
    fs_init(&fs);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 1);
    assert_int_equal(must_get(&fs, "k", 5)->st[A_COUNT].n, 1);
    fs_fini(&fs);
    stream_winop_destroy(op);

    /* sessions: judged by the merged session */
    op = make_op(STREAM_WIN_SESSION, 10, 0, 0, false, 0);
    add_ok(op, "k", 5, 1, 20, true);   /* [5,15) alone is closed at 20 */
    add_ok(op, "k", 12, 1, 20, false); /* [12,22) is open */
    add_ok(op, "k", 4, 1, 20, false);  /* [4,14) joins [12,22): open */
    add_ok(op, "k", 0, 1, 30, true);   /* joins [4,22): closed at 30 too */
    fs_init(&fs);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 1);
    frow_t *r = must_get(&fs, "k", 4);
    assert_int_equal(r->end, 22);
    assert_int_equal(r->st[A_COUNT].n, 2);
    fs_fini(&fs);
    stream_winop_destroy(op);
}

static void test_batch_mode(void **state)
{
    (void)state;
    stream_win_kind_t kinds[] = {STREAM_WIN_TUMBLING, STREAM_WIN_HOPPING, STREAM_WIN_SESSION};
    for (size_t k = 0; k < 3; k++) {
        stream_winop_t *op = make_op(kinds[k], 10, 5, 0, true, 0);
        add_ok(op, "k", 100, 1, INT64_MAX - 1, false);
        add_ok(op, "k", 0, 1, INT64_MAX - 1, false); /* never late */
        size_t open = stream_winop_open(op);
        assert_true(open >= 2);
        stream_winop_advance(op, INT64_MAX - 1); /* closes nothing */
        assert_int_equal(stream_winop_open(op), open);
        fstore_t fs;
        fs_init(&fs);
        assert_int_equal(fs_drain(&fs, op), 0);
        for (size_t i = 0; i < fs.n; i++)
            assert_false(fs.rows[i].final);
        stream_winop_advance(op, INT64_MAX);
        assert_int_equal(stream_winop_open(op), 0);
        /* a final window takes nothing more, even in batch mode */
        add_ok(op, "k", 100, 1, 0, true);
        assert_int_equal(fs_drain(&fs, op), 0);
        assert_int_equal(fs_live(&fs), open);
        for (size_t i = 0; i < fs.n; i++)
            assert_true(fs.rows[i].final);
        fs_fini(&fs);
        stream_winop_destroy(op);
    }
}

/* ---- Drain. */

static void test_drain_stop(void **state)
{
    (void)state;
    stream_winop_t *op = make_op(STREAM_WIN_TUMBLING, 10, 0, 0, false, 0);
    char key[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        add_ok(op, key, i, 1, INT64_MIN, false);
    }
    fstore_t fs;
    fs_init(&fs);
    fs.stop_after = 4;
    assert_int_equal(fs_drain(&fs, op), 77);
    assert_int_equal(fs.reported, 4);
    /* the rest (including the refused row) are still changed */
    fs.stop_after = -1;
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 10);
    assert_int_equal(fs_live(&fs), 10);
    /* a changed row is reported once however often it changes */
    for (int i = 0; i < 5; i++)
        add_ok(op, "k3", 5, 1, INT64_MIN, false);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 11);
    assert_int_equal(must_get(&fs, "k3", 0)->st[A_COUNT].n, 6);
    /* final rows that a stopped drain did not reach stay in the operator */
    stream_winop_advance(op, 10);
    fs.stop_after = 12;
    assert_int_equal(fs_drain(&fs, op), 77);
    fs.stop_after = -1;
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 21);
    for (size_t i = 0; i < fs.n; i++)
        assert_true(fs.rows[i].final);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 21);
    fs_fini(&fs);
    stream_winop_destroy(op);
}

/* ---- Random event streams. */

typedef struct {
    char key[16];
    int64_t ts;
    double x;
    bool null_sum;
} event_t;

typedef struct {
    stream_win_kind_t kind;
    int64_t a, b; /* size, slide or gap */
    int64_t lateness;
    int64_t ooo; /* watermark = max event time - ooo */
    int batch;   /* events per batch: advance and drain after each */
} run_cfg_t;

/* Out-of-order times: each event lags the running clock by a random amount,
 * often more than the watermark allows. */
static void gen_jittered(event_t *ev, size_t n, int nkeys, int64_t step, int64_t jitter)
{
    int64_t clock = -1000;
    for (size_t i = 0; i < n; i++) {
        snprintf(ev[i].key, sizeof(ev[i].key), "k%d", (int)rng_range(0, nkeys - 1));
        clock += rng_range(0, step);
        ev[i].ts = clock - rng_range(0, jitter);
        ev[i].x = (double)rng_range(-50, 50); /* integers: sums are exact */
        ev[i].null_sum = rng_range(0, 9) == 0;
    }
}

/* Sessions: keys come and go. Key j is active while the clock is in
 * [j*E, (j+NA)*E); normal events lag the clock by at most maxlag
 * (= ooo + lateness, so they never touch a closed session), and one in
 * twenty is replayed for a key retired long enough ago that all its
 * sessions are closed: those are late. */
static void gen_sessions(event_t *ev, size_t n, int64_t gap, int64_t maxlag)
{
    enum { NA = 6 };
    const int64_t era = 4 * gap + 3 * maxlag;
    int64_t clock = 0;
    for (size_t i = 0; i < n; i++) {
        clock += rng_range(0, gap / 4);
        int64_t now = clock / era;
        int64_t j = now - rng_range(0, NA - 1);
        int64_t ts = clock - rng_range(0, maxlag);
        if (j < 0)
            j = now;
        if (rng_range(0, 19) == 0 && now >= NA + 4) {
            j = now - NA - 2 - rng_range(0, 2);
            ts = rng_range(j * era, (j + NA) * era);
        }
        snprintf(ev[i].key, sizeof(ev[i].key), "k%d", (int)j);
        ev[i].ts = ts;
        ev[i].x = (double)rng_range(-50, 50);
        ev[i].null_sum = rng_range(0, 9) == 0;
    }
}

typedef struct {
    int64_t max_ts; /* the watermark source: max event time seen */
    int64_t wm_seen;
    bool *late;     /* per event */
    int64_t *wm_at; /* per event: the watermark in force when it was added */
    int *batch_at;
} run_state_t;

static void run_init(run_state_t *rs, size_t n)
{
    memset(rs, 0, sizeof(*rs));
    rs->max_ts = INT64_MIN;
    rs->wm_seen = INT64_MIN;
    rs->late = core_calloc(CORE_MEM_TEST, n, sizeof(bool));
    rs->wm_at = core_calloc(CORE_MEM_TEST, n, sizeof(int64_t));
    rs->batch_at = core_calloc(CORE_MEM_TEST, n, sizeof(int));
    assert_true(rs->late && rs->wm_at && rs->batch_at);
}

static void run_fini(run_state_t *rs)
{
    core_free(rs->late);
    core_free(rs->wm_at);
    core_free(rs->batch_at);
}

static int64_t run_wm(const run_cfg_t *rc, const run_state_t *rs)
{
    return rs->max_ts == INT64_MIN ? INT64_MIN : rs->max_ts - rc->ooo;
}

/* After an advance to wm and a drain, exactly the windows with
 * end + lateness <= wm are final. */
static void check_closed(const run_cfg_t *rc, const fstore_t *fs, int64_t wm)
{
    for (size_t i = 0; i < fs->n; i++) {
        const frow_t *r = &fs->rows[i];
        if (r->live && r->final != (r->end + rc->lateness <= wm))
            fail_msg("row %.*s [%lld, %lld): final %d at watermark %lld", (int)r->klen, r->key,
                     (long long)r->start, (long long)r->end, r->final, (long long)wm);
    }
}

/* Feeds events [from, to) as a task would: per event add with the
 * watermark so far, per batch advance and drain. */
static void run_events(const run_cfg_t *rc, run_state_t *rs, stream_winop_t *op, fstore_t *fs,
                       const event_t *ev, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        int64_t wm = run_wm(rc, rs);
        if (wm > rs->wm_seen)
            rs->wm_seen = wm;
        rs->wm_at[i] = rs->wm_seen;
        rs->batch_at[i] = fs->batch;
        bool late = false;
        assert_int_equal(add_ev(op, ev[i].key, ev[i].ts, ev[i].x, STREAM_AGG_ORD(0, i), wm,
                                ev[i].null_sum, &late),
                         0);
        rs->late[i] = late;
        if (ev[i].ts > rs->max_ts)
            rs->max_ts = ev[i].ts;
        if ((i + 1) % (size_t)rc->batch == 0) {
            stream_winop_advance(op, run_wm(rc, rs));
            assert_int_equal(fs_drain(fs, op), 0);
            check_closed(rc, fs, run_wm(rc, rs));
            fs->batch++;
        }
    }
}

static void run_finish(stream_winop_t *op, fstore_t *fs)
{
    stream_winop_advance(op, INT64_MAX);
    assert_int_equal(fs_drain(fs, op), 0);
    assert_int_equal(stream_winop_open(op), 0);
}

static stream_winop_t *run_op(const run_cfg_t *rc)
{
    return make_op(rc->kind, rc->a, rc->b, rc->lateness, false, 0);
}

/* Reloads the open rows of fs into a new operator. */
static stream_winop_t *restore_from(const run_cfg_t *rc, const fstore_t *fs)
{
    stream_winop_t *op = run_op(rc);
    for (size_t i = 0; i < fs->n; i++) {
        const frow_t *r = &fs->rows[i];
        if (r->live && !r->final)
            assert_int_equal(stream_winop_restore(op, r->key, r->klen, r->start, r->end, r->st), 0);
    }
    return op;
}

static void assert_state_equal(const stream_agg_state_t *a, const stream_agg_state_t *b)
{
    for (int i = 0; i < NAGGS; i++) {
        assert_int_equal(a[i].n, b[i].n);
        double ra = 0, rb = 0;
        bool ha = stream_agg_result(aggs[i], &a[i], &ra);
        assert_int_equal(ha, stream_agg_result(aggs[i], &b[i], &rb));
        if (!ha)
            continue;
        if (i == A_STDDEV || i == A_AVG) {
            if (fabs(ra - rb) > 1e-9 * (fabs(rb) > 1 ? fabs(rb) : 1))
                fail_msg("aggregate %d: %.17g != %.17g", i, ra, rb);
        } else {
            assert_true(ra == rb);
        }
        if (i == A_FIRST || i == A_LAST)
            assert_true(a[i].ts == b[i].ts && a[i].ord == b[i].ord);
    }
}

static void assert_stores_equal(const fstore_t *a, const fstore_t *b)
{
    assert_int_equal(fs_live(a), fs_live(b));
    for (size_t i = 0; i < a->n; i++) {
        const frow_t *r = &a->rows[i];
        if (!r->live)
            continue;
        const frow_t *o = fs_get(b, r->key, r->klen, r->start);
        if (!o)
            fail_msg("row %.*s@%lld missing", (int)r->klen, r->key, (long long)r->start);
        assert_int_equal(o->end, r->end);
        assert_int_equal(o->final, r->final);
        assert_state_equal(o->st, r->st);
    }
}

static void check_restart(const run_cfg_t *rc, const event_t *ev, size_t n, size_t crash_batch)
{
    size_t cut = crash_batch * (size_t)rc->batch;
    /* uninterrupted */
    run_state_t ra, rb;
    run_init(&ra, n);
    run_init(&rb, n);
    fstore_t sa, sb;
    fs_init(&sa);
    fs_init(&sb);
    stream_winop_t *op = run_op(rc);
    run_events(rc, &ra, op, &sa, ev, 0, n);
    run_finish(op, &sa);
    stream_winop_destroy(op);
    /* crash after the commit at `cut`: the process is gone, the store and
     * the committed position remain; the task restores and goes on */
    op = run_op(rc);
    run_events(rc, &rb, op, &sb, ev, 0, cut);
    stream_winop_destroy(op);
    op = restore_from(rc, &sb);
    stream_winop_advance(op, run_wm(rc, &rb)); /* the committed watermark */
    run_events(rc, &rb, op, &sb, ev, cut, n);
    run_finish(op, &sb);
    stream_winop_destroy(op);
    assert_stores_equal(&sa, &sb);
    assert_memory_equal(ra.late, rb.late, n * sizeof(bool));
    fs_fini(&sa);
    fs_fini(&sb);
    run_fini(&ra);
    run_fini(&rb);
}

static void test_restore_continues(void **state)
{
    (void)state;
    const run_cfg_t cfgs[] = {
        {STREAM_WIN_TUMBLING, 100, 0, 0, 30, 50}, {STREAM_WIN_TUMBLING, 100, 0, 40, 10, 37},
        {STREAM_WIN_HOPPING, 100, 25, 0, 30, 50}, {STREAM_WIN_HOPPING, 90, 30, 20, 5, 41},
        {STREAM_WIN_SESSION, 40, 0, 0, 30, 50},   {STREAM_WIN_SESSION, 25, 0, 30, 10, 33},
    };
    enum { N = 3000 };
    static event_t ev[N];
    rng_state = 0xfeedbeef;
    for (size_t c = 0; c < CORE_ARRAY_LEN(cfgs); c++) {
        const run_cfg_t *rc = &cfgs[c];
        gen_jittered(ev, N, 12, 8, 120);
        size_t batches = N / (size_t)rc->batch;
        for (size_t crash = 1; crash < batches; crash += 1 + batches / 7)
            check_restart(rc, ev, N, crash);
    }
}

/* The same, with removals: sessions restored and then merged. */
static void test_restore_sessions_merge(void **state)
{
    (void)state;
    const run_cfg_t rc = {STREAM_WIN_SESSION, 30, 0, 10, 20, 25};
    enum { N = 3000 };
    static event_t ev[N];
    rng_state = 0xabcdef;
    gen_sessions(ev, N, rc.a, rc.ooo + rc.lateness);
    for (size_t crash = 1; crash < N / 25; crash += 9)
        check_restart(&rc, ev, N, crash);
}

/* ---- The oracle: final rows against a naive recomputation. */

typedef struct {
    int64_t count, sum_n, n_ord;
    double sum, min, max, first, last;
    int64_t first_ts, first_ord, last_ts, last_ord;
} naive_t;

static void naive_add(naive_t *nv, const event_t *e, int64_t ord)
{
    if (nv->count == 0 || e->x < nv->min)
        nv->min = e->x;
    if (nv->count == 0 || e->x > nv->max)
        nv->max = e->x;
    if (nv->count == 0 || e->ts < nv->first_ts || (e->ts == nv->first_ts && ord < nv->first_ord)) {
        nv->first = e->x;
        nv->first_ts = e->ts;
        nv->first_ord = ord;
    }
    if (nv->count == 0 || e->ts > nv->last_ts || (e->ts == nv->last_ts && ord > nv->last_ord)) {
        nv->last = e->x;
        nv->last_ts = e->ts;
        nv->last_ord = ord;
    }
    nv->count++;
    if (!e->null_sum) {
        nv->sum += e->x;
        nv->sum_n++;
    }
}

static void naive_check(const naive_t *nv, const frow_t *r)
{
    assert_int_equal(r->st[A_COUNT].n, nv->count);
    assert_int_equal(r->st[A_SUM].n, nv->sum_n);
    if (nv->sum_n > 0)
        assert_true(r->st[A_SUM].a == nv->sum);
    assert_true(r->st[A_MIN].a == nv->min);
    assert_true(r->st[A_MAX].a == nv->max);
    assert_true(r->st[A_FIRST].a == nv->first);
    assert_int_equal(r->st[A_FIRST].ts, nv->first_ts);
    assert_int_equal(r->st[A_FIRST].ord, nv->first_ord);
    assert_true(r->st[A_LAST].a == nv->last);
    assert_int_equal(r->st[A_LAST].ord, nv->last_ord);
}

/* Tumbling and hopping: an event goes into each of its windows that is
 * open at the watermark in force when it arrives; late iff none is. */
static void oracle_fixed(const run_cfg_t *rc, const event_t *ev, size_t n, const run_state_t *rs,
                         const fstore_t *fs)
{
    int64_t size = rc->a, slide = rc->kind == STREAM_WIN_HOPPING ? rc->b : rc->a;
    size_t rows_with_events = 0, late = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const frow_t *r = &fs->rows[i];
        assert_true(r->live && r->final);
        naive_t nv = {0};
        for (size_t e = 0; e < n; e++) {
            bool in = strlen(ev[e].key) == r->klen && memcmp(ev[e].key, r->key, r->klen) == 0 &&
                      r->start <= ev[e].ts && ev[e].ts < r->end;
            if (in && r->end + rc->lateness > rs->wm_at[e])
                naive_add(&nv, &ev[e], STREAM_AGG_ORD(0, e));
        }
        assert_true(nv.count > 0); /* no row without events */
        naive_check(&nv, r);
        rows_with_events++;
    }
    /* every event that was not late is in a row; late ones had all closed */
    for (size_t e = 0; e < n; e++) {
        int64_t s = (ev[e].ts >= 0 ? ev[e].ts / slide : -((-ev[e].ts + slide - 1) / slide)) * slide;
        bool any_open = false;
        for (; s > ev[e].ts - size; s -= slide) {
            bool open = s + size + rc->lateness > rs->wm_at[e];
            any_open |= open;
            if (open && !fs_get(fs, ev[e].key, strlen(ev[e].key), s))
                fail_msg("event %zu: no row for window %lld", e, (long long)s);
        }
        assert_int_equal(rs->late[e], !any_open);
        late += rs->late[e];
    }
    assert_true(late > 0 && late < n); /* the data exercised both paths */
    assert_true(rows_with_events > 0);
}

static int cmp_key_ts(const void *a, const void *b)
{
    const event_t *x = *(const event_t *const *)a, *y = *(const event_t *const *)b;
    int c = strcmp(x->key, y->key);
    if (c != 0)
        return c;
    return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Sessions: group the accepted events of each key by gap. Exact as long as
 * no accepted event touched a session already closed when it arrived (the
 * generator keeps normal lag within ooo + lateness); checked first. */
static void oracle_sessions(const run_cfg_t *rc, const event_t *ev, size_t n, const run_state_t *rs,
                            const fstore_t *fs)
{
    int64_t gap = rc->a;
    const event_t **acc = core_calloc(CORE_MEM_TEST, n, sizeof(*acc));
    assert_non_null(acc);
    size_t nacc = 0, rows = 0;
    for (size_t e = 0; e < n; e++) {
        for (size_t i = 0; !rs->late[e] && i < fs->n; i++) {
            const frow_t *r = &fs->rows[i];
            bool same = strlen(ev[e].key) == r->klen && memcmp(ev[e].key, r->key, r->klen) == 0;
            if (same && r->live && r->final_batch < rs->batch_at[e] && ev[e].ts < r->end &&
                ev[e].ts + gap > r->start)
                fail_msg("event %zu (%s ts %lld, batch %d, wm %lld) touches session [%lld, %lld) "
                         "closed in batch %d",
                         e, ev[e].key, (long long)ev[e].ts, rs->batch_at[e],
                         (long long)rs->wm_at[e], (long long)r->start, (long long)r->end,
                         r->final_batch);
        }
        if (!rs->late[e])
            acc[nacc++] = &ev[e];
    }
    qsort(acc, nacc, sizeof(*acc), cmp_key_ts);
    naive_t nv = {0};
    int64_t start = 0, last = 0;
    for (size_t i = 0; i <= nacc; i++) {
        /* a session ends at the end, at a new key, or at a gap */
        if (nv.count > 0 &&
            (i == nacc || strcmp(acc[i]->key, acc[i - 1]->key) != 0 || acc[i]->ts - last >= gap)) {
            frow_t *r = must_get(fs, acc[i - 1]->key, start);
            assert_int_equal(r->end, last + gap);
            naive_check(&nv, r);
            rows++;
            memset(&nv, 0, sizeof(nv));
        }
        if (i == nacc)
            break;
        if (nv.count == 0)
            start = acc[i]->ts;
        last = acc[i]->ts;
        naive_add(&nv, acc[i], STREAM_AGG_ORD(0, (size_t)(acc[i] - ev)));
    }
    assert_int_equal(rows, fs_live(fs));
    assert_true(nacc > 0 && nacc < n);
    core_free(acc);
}

static void test_oracle(void **state)
{
    (void)state;
    const run_cfg_t cfgs[] = {
        {STREAM_WIN_TUMBLING, 50, 0, 0, 20, 40}, {STREAM_WIN_TUMBLING, 64, 0, 30, 0, 16},
        {STREAM_WIN_HOPPING, 60, 20, 0, 20, 40}, {STREAM_WIN_HOPPING, 40, 10, 15, 5, 23},
        {STREAM_WIN_HOPPING, 30, 30, 0, 10, 1},  {STREAM_WIN_SESSION, 40, 0, 0, 20, 40},
        {STREAM_WIN_SESSION, 30, 0, 25, 10, 17}, {STREAM_WIN_SESSION, 60, 0, 0, 0, 1},
    };
    enum { N = 2500 };
    static event_t ev[N];
    rng_state = 0x5eed;
    for (size_t c = 0; c < CORE_ARRAY_LEN(cfgs); c++) {
        const run_cfg_t *rc = &cfgs[c];
        if (rc->kind == STREAM_WIN_SESSION)
            gen_sessions(ev, N, rc->a, rc->ooo + rc->lateness);
        else
            gen_jittered(ev, N, 10, 6, 3 * (rc->ooo + rc->lateness + rc->a));
        run_state_t rs;
        run_init(&rs, N);
        fstore_t fs;
        fs_init(&fs);
        stream_winop_t *op = run_op(rc);
        run_events(rc, &rs, op, &fs, ev, 0, N);
        run_finish(op, &fs);
        stream_winop_destroy(op);
        if (rc->kind == STREAM_WIN_SESSION)
            oracle_sessions(rc, ev, N, &rs, &fs);
        else
            oracle_fixed(rc, ev, N, &rs, &fs);
        fs_fini(&fs);
        run_fini(&rs);
    }
}

/* ---- Caps, bad input, restore checks. */

static void test_cap(void **state)
{
    (void)state;
    stream_winop_t *op = make_op(STREAM_WIN_TUMBLING, 10, 0, 0, false, 3);
    add_ok(op, "a", 1, 1, INT64_MIN, false);
    add_ok(op, "b", 1, 1, INT64_MIN, false);
    add_ok(op, "c", 1, 1, INT64_MIN, false);
    bool late = true;
    assert_int_equal(add_ev(op, "d", 1, 1, 0, INT64_MIN, false, &late), CORE_ETOOBIG);
    assert_non_null(strstr(core_error_detail(), "max_windows"));
    assert_int_equal(add_ev(op, "a", 11, 1, 0, INT64_MIN, false, &late), CORE_ETOOBIG);
    add_ok(op, "a", 2, 1, INT64_MIN, false); /* an open window takes more events */
    stream_agg_state_t st[NAGGS] = {0};
    assert_int_equal(stream_winop_restore(op, "z", 1, 0, 10, st), CORE_ETOOBIG);
    assert_int_equal(stream_winop_open(op), 3);
    fstore_t fs;
    fs_init(&fs);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 3);
    assert_null(fs_get(&fs, "d", 1, 0));
    /* closing makes room */
    stream_winop_advance(op, 10);
    add_ok(op, "a", 11, 1, 10, false);
    fs_fini(&fs);
    stream_winop_destroy(op);

    /* hopping needs two windows: nothing at all is added when one is over */
    op = make_op(STREAM_WIN_HOPPING, 10, 5, 0, false, 3);
    add_ok(op, "a", 7, 1, INT64_MIN, false);
    assert_int_equal(add_ev(op, "b", 7, 1, 0, INT64_MIN, false, &late), CORE_ETOOBIG);
    add_ok(op, "a", 12, 1, INT64_MIN, false); /* [5,15) exists, [10,20) is new */
    fs_init(&fs);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 3);
    assert_int_equal(must_get(&fs, "a", 5)->st[A_COUNT].n, 2);
    fs_fini(&fs);
    stream_winop_destroy(op);

    /* sessions: a new session counts, a merge does not */
    op = make_op(STREAM_WIN_SESSION, 10, 0, 0, false, 1);
    add_ok(op, "a", 0, 1, INT64_MIN, false);
    assert_int_equal(add_ev(op, "a", 50, 1, 0, INT64_MIN, false, &late), CORE_ETOOBIG);
    add_ok(op, "a", 5, 1, INT64_MIN, false);
    assert_int_equal(stream_winop_open(op), 1);
    stream_winop_destroy(op);
}

/* ---- Merge: operators that each saw a part of the events, folded into
 * one, equal the operator that saw them all (tumbling and hopping). */

static int merge_into(void *arg, const stream_winop_row_t *row)
{
    return stream_winop_merge(arg, row->key, row->klen, row->start, row->end, row->states);
}

static void test_merge(void **state)
{
    (void)state;
    rng_state = 0x5eed5eedULL;
    for (int kind = 0; kind < 2; kind++) {
        stream_win_kind_t k = kind == 0 ? STREAM_WIN_TUMBLING : STREAM_WIN_HOPPING;
        stream_winop_t *all = make_op(k, 100, 25, 0, true, 0);
        stream_winop_t *part[3];
        for (int i = 0; i < 3; i++)
            part[i] = make_op(k, 100, 25, 0, true, 0);
        for (int i = 0; i < 3000; i++) {
            char key[8];
            snprintf(key, sizeof key, "k%d", (int)rng_range(0, 19));
            int64_t ts = rng_range(-500, 2000);
            double x = (double)rng_range(-50, 50);
            bool late = true;
            assert_int_equal(add_ev(all, key, ts, x, i, INT64_MIN, i % 7 == 0, &late), 0);
            assert_false(late);
            assert_int_equal(add_ev(part[i % 3], key, ts, x, i, INT64_MIN, i % 7 == 0, &late), 0);
            assert_false(late);
        }
        for (int i = 1; i < 3; i++) {
            stream_winop_advance(part[i], INT64_MAX);
            assert_int_equal(stream_winop_drain(part[i], merge_into, part[0]), 0);
            assert_int_equal(stream_winop_open(part[i]), 0);
        }
        assert_int_equal(stream_winop_open(part[0]), stream_winop_open(all));
        fstore_t want, got;
        fs_init(&want);
        fs_init(&got);
        run_finish(all, &want);
        run_finish(part[0], &got);
        assert_true(fs_live(&want) > 0);
        assert_stores_equal(&got, &want);
        /* a final window takes no merge */
        stream_agg_state_t st[NAGGS];
        for (int i = 0; i < NAGGS; i++)
            stream_agg_init(&st[i]);
        stream_winop_t *fin = make_op(k, 100, 25, 0, true, 0);
        add_ok(fin, "k", 10, 1, 0, false);
        stream_winop_advance(fin, INT64_MAX);
        assert_int_equal(stream_winop_merge(fin, "k", 1, 0, 100, st), CORE_EINVAL);
        fs_fini(&want);
        fs_fini(&got);
        stream_winop_destroy(fin);
        stream_winop_destroy(all);
        for (int i = 0; i < 3; i++)
            stream_winop_destroy(part[i]);
    }
    stream_agg_state_t st[NAGGS];
    for (int i = 0; i < NAGGS; i++)
        stream_agg_init(&st[i]);
    stream_winop_t *op = make_op(STREAM_WIN_TUMBLING, 100, 0, 0, true, 1);
    assert_int_equal(stream_winop_merge(op, "k", 1, 50, 150, st), CORE_EINVAL); /* misaligned */
    assert_int_equal(stream_winop_merge(op, "k", 1, 0, 50, st), CORE_EINVAL);   /* wrong size */
    assert_int_equal(stream_winop_merge(op, "k", 1, 0, 100, st), 0);
    assert_int_equal(stream_winop_merge(op, "k", 1, 0, 100, st), 0); /* the same window */
    assert_int_equal(stream_winop_merge(op, "k", 1, 100, 200, st), CORE_ETOOBIG); /* cap 1 */
    assert_int_equal(stream_winop_open(op), 1);
    stream_winop_destroy(op);
    op = make_op(STREAM_WIN_SESSION, 100, 0, 0, true, 0);
    assert_int_equal(stream_winop_merge(op, "k", 1, 0, 100, st), CORE_EINVAL);
    stream_winop_destroy(op);
}

/* ---- Sorted drains. */

typedef struct {
    char key[KEYMAX];
    size_t klen;
    int64_t start;
    bool removed;
    int n;
} order_t;

static int check_order(void *arg, const stream_winop_row_t *row)
{
    order_t *o = arg;
    assert_true(row->klen < KEYMAX);
    if (o->n > 0 && !o->removed) {
        assert_false(row->removed); /* removed rows come first */
        int c = memcmp(o->key, row->key, o->klen < row->klen ? o->klen : row->klen);
        if (c == 0 && o->klen != row->klen)
            c = o->klen < row->klen ? -1 : 1;
        if (c > 0 || (c == 0 && o->start >= row->start))
            fail_msg("row %.*s@%lld after %.*s@%lld", (int)row->klen, row->key,
                     (long long)row->start, (int)o->klen, o->key, (long long)o->start);
    }
    memcpy(o->key, row->key, row->klen);
    o->klen = row->klen;
    o->start = row->start;
    o->removed = row->removed;
    o->n++;
    return 0;
}

static void test_sort_changed(void **state)
{
    (void)state;
    rng_state = 0xa11ce;
    stream_winop_t *op = make_op(STREAM_WIN_HOPPING, 100, 50, 0, true, 0);
    for (int i = 0; i < 2000; i++) {
        char key[KEYMAX];
        int kn = (int)rng_range(0, 40);
        snprintf(key, sizeof key, kn % 2 ? "k%d" : "k%d0", kn); /* some prefixes of others */
        add_ok(op, key, rng_range(-1000, 5000), 1, 0, false);
    }
    size_t open = stream_winop_open(op);
    stream_winop_advance(op, INT64_MAX);
    stream_winop_sort_changed(op);
    order_t o = {0};
    assert_int_equal(stream_winop_drain(op, check_order, &o), 0);
    assert_int_equal(o.n, (int)open);
    stream_winop_destroy(op);

    /* sessions: a drained session merged away is reported removed, first */
    op = make_op(STREAM_WIN_SESSION, 10, 0, 0, false, 0);
    fstore_t fs;
    fs_init(&fs);
    add_ok(op, "z", 0, 1, 0, false);
    add_ok(op, "z", 15, 1, 0, false);
    assert_int_equal(fs_drain(&fs, op), 0);
    add_ok(op, "a", 5, 1, 0, false);
    add_ok(op, "z", 8, 1, 0, false); /* bridges [0, 10) and [15, 25) */
    stream_winop_sort_changed(op);
    o = (order_t){0};
    assert_int_equal(stream_winop_drain(op, check_order, &o), 0);
    assert_int_equal(o.n, 3); /* z@15 removed, then a@5, z@0 */
    fs_fini(&fs);
    stream_winop_destroy(op);
}

static int count_row(void *arg, const stream_winop_row_t *row)
{
    size_t *rows = arg;
    assert_true(row->final && !row->removed);
    (*rows)++;
    return 0;
}

static void test_bad_input(void **state)
{
    (void)state;
    stream_winop_t *op = make_op(STREAM_WIN_TUMBLING, 10, 0, 0, false, 0);
    bool late = true;
    assert_int_equal(add_ev(op, "k", STREAM_WIN_TS_LIMIT + 1, 1, 0, 0, false, &late), CORE_ERANGE);
    assert_int_equal(add_ev(op, "k", INT64_MIN, 1, 0, 0, false, &late), CORE_ERANGE);
    add_ok(op, "k", STREAM_WIN_TS_LIMIT, 1, INT64_MIN, false);
    add_ok(op, "k", -STREAM_WIN_TS_LIMIT, 1, INT64_MIN, false);
    static char big[STREAM_WIN_MAX_KEY + 1];
    double in[NAGGS] = {0};
    assert_int_equal(stream_winop_add(op, big, sizeof(big), 0, in, NULL, 0, 0, &late), CORE_ERANGE);
    assert_int_equal(stream_winop_add(op, big, STREAM_WIN_MAX_KEY, 0, in, NULL, 0, 0, &late), 0);
    assert_int_equal(stream_winop_add(op, NULL, 0, 0, in, NULL, 0, 0, &late), 0); /* empty key */
    assert_int_equal(stream_winop_open(op), 4);
    stream_winop_advance(op, INT64_MAX);
    assert_int_equal(stream_winop_open(op), 0);
    size_t rows = 0;
    assert_int_equal(stream_winop_drain(op, count_row, &rows), 0);
    assert_int_equal(rows, 4);
    stream_winop_destroy(op);
}

static void test_restore_checks(void **state)
{
    (void)state;
    stream_agg_state_t st[NAGGS];
    for (int i = 0; i < NAGGS; i++)
        stream_agg_init(&st[i]);
    st[A_COUNT].n = 7;
    stream_winop_t *op = make_op(STREAM_WIN_HOPPING, 10, 5, 0, false, 0);
    assert_int_equal(stream_winop_restore(op, "k", 1, 3, 13, st), CORE_EINVAL); /* misaligned */
    assert_int_equal(stream_winop_restore(op, "k", 1, 5, 16, st), CORE_EINVAL); /* size */
    assert_int_equal(stream_winop_restore(op, "k", 1, -5, 5, st), 0);
    assert_int_equal(stream_winop_restore(op, "k", 1, -5, 5, st), CORE_EEXIST);
    /* restored: not changed, but it takes events and closes */
    fstore_t fs;
    fs_init(&fs);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.reported, 0);
    add_ok(op, "k", 2, 1, INT64_MIN, false);
    stream_winop_advance(op, 5);
    assert_int_equal(fs_drain(&fs, op), 0);
    frow_t *r = must_get(&fs, "k", -5);
    assert_true(r->final);
    assert_int_equal(r->st[A_COUNT].n, 8);
    assert_false(must_get(&fs, "k", 0)->final);
    fs_fini(&fs);
    stream_winop_destroy(op);

    op = make_op(STREAM_WIN_SESSION, 10, 0, 0, false, 0);
    assert_int_equal(stream_winop_restore(op, "k", 1, 0, 9, st), CORE_EINVAL); /* < gap */
    assert_int_equal(stream_winop_restore(op, "k", 1, 0, 25, st), 0);
    assert_int_equal(stream_winop_restore(op, "k", 1, 0, 30, st), CORE_EEXIST);
    assert_int_equal(stream_winop_restore(op, "k", 1, 20, 30, st), CORE_EINVAL); /* overlaps */
    assert_int_equal(stream_winop_restore(op, "k", 1, 25, 40, st), 0);           /* touches */
    /* a restored session merged away is reported removed */
    add_ok(op, "k", 20, 1, INT64_MIN, false);
    fs_init(&fs);
    assert_int_equal(fs_drain(&fs, op), 0);
    assert_int_equal(fs.removed, 1);
    assert_int_equal(fs.reported, 2);
    r = must_get(&fs, "k", 0);
    assert_int_equal(r->end, 40);
    assert_int_equal(r->st[A_COUNT].n, 15);
    fs_fini(&fs);
    stream_winop_destroy(op);
}

/* ---- Allocation. */

static int64_t stream_total_allocs(void)
{
    core_mem_stats_t s;
    core_mem_stats(CORE_MEM_STREAM, &s);
    return s.total_allocs;
}

static void run_steady(stream_winop_t *op, fstore_t *fs, int64_t *clock, int rounds, int64_t step)
{
    char key[16];
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 100; k++) {
            snprintf(key, sizeof(key), "SYM%03d", k);
            bool late = true;
            assert_int_equal(add_ev(op, key, *clock + k % 7, 1.5, r, *clock - 20, false, &late), 0);
            assert_false(late);
        }
        *clock += step;
        stream_winop_advance(op, *clock - 20);
        assert_int_equal(fs_drain(fs, op), 0);
    }
}

static void test_warm_path_allocation_free(void **state)
{
    (void)state;
    const struct {
        stream_win_kind_t kind;
        int64_t a, b, step;
    } cases[] = {
        {STREAM_WIN_TUMBLING, 60, 0, 7},
        {STREAM_WIN_HOPPING, 100, 20, 7},
        {STREAM_WIN_SESSION, 10, 0, 13}, /* a new session per key every round */
    };
    core_mem_stats_t base, now;
    core_mem_stats(CORE_MEM_STREAM, &base);
    for (size_t c = 0; c < CORE_ARRAY_LEN(cases); c++) {
        stream_winop_t *op = make_op(cases[c].kind, cases[c].a, cases[c].b, 0, false, 0);
        fstore_t fs;
        fs_init(&fs);
        int64_t clock = 0;
        run_steady(op, &fs, &clock, 200, cases[c].step);
        size_t bytes = stream_winop_bytes(op);
        size_t finals = fs.finals;
        int64_t before = stream_total_allocs();
        run_steady(op, &fs, &clock, 500, cases[c].step);
        assert_int_equal(stream_total_allocs(), before);
        assert_int_equal(stream_winop_bytes(op), bytes);
        assert_true(fs.finals >= finals + 100 * 20); /* windows turned over */
        fs_fini(&fs);
        stream_winop_destroy(op);
        core_mem_stats(CORE_MEM_STREAM, &now);
        assert_int_equal(now.bytes, base.bytes); /* destroy frees everything */
        assert_int_equal(now.allocs, base.allocs);
    }
}

/* Memory follows the keys and windows held, not the keys ever seen: key
 * records and their bytes are recycled. */
static void test_key_churn(void **state)
{
    (void)state;
    stream_win_kind_t kinds[] = {STREAM_WIN_TUMBLING, STREAM_WIN_SESSION};
    for (size_t k = 0; k < 2; k++) {
        stream_winop_t *op = make_op(kinds[k], 10, 0, 0, false, 0);
        fstore_t fs;
        fs_init(&fs);
        size_t bytes = 0;
        char key[16];
        for (int i = 0; i < 20000; i++) {
            /* 20 keys at a time, a new one every 5 microseconds */
            int64_t ts = i;
            snprintf(key, sizeof(key), "key-%d", i / 5 + (i % 20));
            add_ok(op, key, ts, 1, ts - 5, false);
            if (i % 100 == 99) {
                stream_winop_advance(op, ts - 5);
                assert_int_equal(fs_drain(&fs, op), 0);
            }
            if (i == 999)
                bytes = stream_winop_bytes(op);
        }
        assert_true(stream_winop_bytes(op) <= bytes);
        assert_true(fs.n > 4000);
        fs_fini(&fs);
        stream_winop_destroy(op);
    }
}

/* Every allocation may fail; the failed add changes nothing, so retrying
 * it gives the same result as a run without failures. */
static void test_alloc_failure(void **state)
{
    (void)state;
    const run_cfg_t cfgs[] = {
        {STREAM_WIN_HOPPING, 40, 10, 0, 10, 20},
        {STREAM_WIN_SESSION, 20, 0, 0, 10, 20},
    };
    enum { N = 400 };
    static event_t ev[N];
    rng_state = 0x77;
    for (size_t c = 0; c < CORE_ARRAY_LEN(cfgs); c++) {
        const run_cfg_t *rc = &cfgs[c];
        gen_jittered(ev, N, 40, 6, 30);
        fstore_t want, got;
        fs_init(&want);
        fs_init(&got);
        stream_winop_t *op = run_op(rc);
        int64_t wm = INT64_MIN;
        for (size_t i = 0; i < N; i++) {
            bool late;
            assert_int_equal(add_ev(op, ev[i].key, ev[i].ts, ev[i].x, (int64_t)i, wm, false, &late),
                             0);
            wm = CORE_MAX(wm, ev[i].ts - rc->ooo);
        }
        run_finish(op, &want);
        stream_winop_destroy(op);

        op = run_op(rc);
        wm = INT64_MIN;
        size_t failures = 0;
        for (size_t i = 0; i < N; i++) {
            bool late;
            for (long nth = 1;; nth++) {
                core_mem_fail_at(nth, false);
                int r = add_ev(op, ev[i].key, ev[i].ts, ev[i].x, (int64_t)i, wm, false, &late);
                core_mem_fail_at(0, false);
                if (r == 0)
                    break;
                assert_int_equal(r, CORE_ENOMEM);
                failures++;
            }
            wm = CORE_MAX(wm, ev[i].ts - rc->ooo);
        }
        run_finish(op, &got);
        stream_winop_destroy(op);
        assert_true(failures > 10);
        assert_stores_equal(&want, &got);
        fs_fini(&want);
        fs_fini(&got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_tumbling_boundaries),
        cmocka_unit_test(test_hopping_membership),
        cmocka_unit_test(test_session_gap_boundary),
        cmocka_unit_test(test_session_merge),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_sort_changed),
        cmocka_unit_test(test_watermark_closing),
        cmocka_unit_test(test_late_events),
        cmocka_unit_test(test_batch_mode),
        cmocka_unit_test(test_drain_stop),
        cmocka_unit_test(test_restore_continues),
        cmocka_unit_test(test_restore_sessions_merge),
        cmocka_unit_test(test_oracle),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_restore_checks),
        cmocka_unit_test(test_warm_path_allocation_free),
        cmocka_unit_test(test_key_churn),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Aggregates as mergeable partial states, and the window operator that keeps
 * them per (key, window). Internal to stream/.
 *
 * A partial state is what a view row stores (never only the finished
 * number), so that partitions, instances, restarts and the batch layer all
 * merge with one function, stream_agg_merge().
 *
 *   kind    state used               result
 *   count   n                        n (rows, or non-null inputs with an argument)
 *   sum     n, a = sum               a, NULL when n = 0
 *   avg     n, a = sum               a / n, NULL when n = 0
 *   min     n, a = min               a, NULL when n = 0
 *   max     n, a = max               a, NULL when n = 0
 *   first   n, a, ts, ord            a of the smallest (ts, ord)
 *   last    n, a, ts, ord            a of the largest (ts, ord)
 *   stddev  n, a = mean, b = M2      sample stddev sqrt(M2/(n-1)), NULL when n < 2
 * stddev uses Welford's update and Chan's pairwise merge. `ord` breaks ties
 * between equal event times: STREAM_AGG_ORD(partition, offset), so first
 * and last are the same however the partials were split.
 *
 * The window operator belongs to one pipeline task (one thread). Windows are
 * tumbling (size), hopping (size, slide; size a multiple of slide) or
 * session (gap), aligned to the epoch. An event at ts belongs to tumbling
 * window [floor(ts/size)*size, +size), to each hopping window
 * [s, s+size) with s a multiple of slide and s <= ts < s+size, and to a
 * session that it extends or creates ([ts, ts+gap), merged with every
 * open session [start, end) of the key it overlaps: ts < end and
 * ts + gap > start). A session's end is its last event time + gap, so two
 * events share a session iff they are less than gap apart; an event
 * exactly gap after the last one starts a new session. A merged session
 * keeps the earliest start.
 *
 * Lateness: a window is closed once watermark >= end + allowed_lateness.
 * An event is added to each of its windows that is still open; it is late
 * only if none of them is (for sessions: if the merged session would
 * already be closed). Late events change nothing and are reported so the
 * caller can send them to the dlq. In batch mode nothing is ever late and
 * windows close only at stream_winop_advance(INT64_MAX), which ends the
 * input (an event added after it is late, as in any mode once the
 * watermark is INT64_MAX). The operator keeps the highest watermark it was
 * given (by add or advance); a smaller one later changes nothing.
 */
#ifndef STRATA_STREAM_WINDOW_INT_H
#define STRATA_STREAM_WINDOW_INT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "schema/schema.h"
#include "store/store.h"

typedef enum {
    STREAM_AGG_COUNT,
    STREAM_AGG_SUM,
    STREAM_AGG_MIN,
    STREAM_AGG_MAX,
    STREAM_AGG_AVG,
    STREAM_AGG_FIRST,
    STREAM_AGG_LAST,
    STREAM_AGG_STDDEV
} stream_agg_kind_t;

#define STREAM_AGG_ORD(partition, offset) (((int64_t)(partition) << 40) | (int64_t)(offset))

typedef struct {
    int64_t n;
    double a;
    double b;
    int64_t ts;
    int64_t ord;
} stream_agg_state_t;

/* "count", "sum", ... Static. */
const char *stream_agg_name(stream_agg_kind_t k);
int stream_agg_parse(const char *name, size_t len, stream_agg_kind_t *out); /* CORE_EINVAL */

void stream_agg_init(stream_agg_state_t *s);

/* Folds (x, ts, ord) into a first (want < 0) or last (want > 0) state:
 * it replaces the kept one when its key (ts, ord, x) is smaller (first)
 * or larger (last), so equal keys are broken by the value. */
static inline void stream_agg_keep_key(stream_agg_state_t *s, double x, int64_t ts, int64_t ord,
                                       int want)
{
    int cmp = ts != s->ts     ? (ts < s->ts ? -1 : 1)
              : ord != s->ord ? (ord < s->ord ? -1 : 1)
              : x != s->a     ? (x < s->a ? -1 : 1)
                              : 0;
    if (s->n == 0 || cmp * want > 0) {
        s->a = x;
        s->ts = ts;
        s->ord = ord;
    }
}

/* Adds one non-null input x (ignored by count, which counts calls). The
 * other kinds ignore a NaN x, as if it were NULL. Inline: the window
 * operator calls it for every aggregate of every event. */
static inline void stream_agg_add(stream_agg_kind_t k, stream_agg_state_t *s, double x, int64_t ts,
                                  int64_t ord)
{
    if (k == STREAM_AGG_COUNT) {
        s->n++;
        return;
    }
    if (isnan(x))
        return;
    switch (k) {
    case STREAM_AGG_SUM:
    case STREAM_AGG_AVG:
        s->a = s->n == 0 ? x : s->a + x;
        break;
    case STREAM_AGG_MIN:
        if (s->n == 0 || x < s->a)
            s->a = x;
        break;
    case STREAM_AGG_MAX:
        if (s->n == 0 || x > s->a)
            s->a = x;
        break;
    case STREAM_AGG_FIRST:
        stream_agg_keep_key(s, x, ts, ord, -1);
        break;
    case STREAM_AGG_LAST:
        stream_agg_keep_key(s, x, ts, ord, 1);
        break;
    case STREAM_AGG_STDDEV: {
        if (s->n == 0) {
            s->a = x;
            s->b = 0;
            break;
        }
        double delta = x - s->a;
        s->a += delta / (double)(s->n + 1);
        s->b += delta * (x - s->a);
        break;
    }
    default:
        return;
    }
    s->n++;
}
/* into := into merged with from. Associative and commutative (up to float
 * rounding for sum, avg and stddev). */
void stream_agg_merge(stream_agg_kind_t k, stream_agg_state_t *into,
                      const stream_agg_state_t *from);
/* The finished value; false when it is NULL. */
bool stream_agg_result(stream_agg_kind_t k, const stream_agg_state_t *s, double *out);

/* Store columns of one aggregate called `name`: at most STREAM_AGG_MAX_COLS.
 *   count: name (int)
 *   sum, avg, min, max: name_n (int), name (float, NULL when n = 0)
 *       (for avg, `name` holds the sum: the partial, not the finished value)
 *   first, last: name_n (int), name (float), name_ts (timestamp), name_ord (int)
 *   stddev: name_n (int), name_mean (float), name_m2 (float)
 * Column names are written into `names` (one NUL-terminated string each,
 * STREAM_AGG_COL_NAME bytes apiece) and cols[i].name points at them. Returns
 * the number of columns. */
#define STREAM_AGG_MAX_COLS 4
#define STREAM_AGG_COL_NAME 72
size_t stream_agg_columns(stream_agg_kind_t k, const char *name, store_column_t *cols,
                          char names[][STREAM_AGG_COL_NAME]);
/* State to and from those columns' values (same order and count). */
size_t stream_agg_to_values(stream_agg_kind_t k, const stream_agg_state_t *s, schema_value_t *vals);
int stream_agg_from_values(stream_agg_kind_t k, const schema_value_t *vals,
                           stream_agg_state_t *s); /* CORE_EINVAL on bad types */

/* ---- The window operator. */

typedef enum { STREAM_WIN_TUMBLING, STREAM_WIN_HOPPING, STREAM_WIN_SESSION } stream_win_kind_t;

/* Limits. Event times are within +-STREAM_WIN_TS_LIMIT us (about 146,000
 * years); sizes, slides, gaps and allowed lateness within
 * [1, STREAM_WIN_SPAN_MAX] us (lateness may be 0), so no window arithmetic
 * can overflow. */
#define STREAM_WIN_TS_LIMIT    ((int64_t)1 << 62)
#define STREAM_WIN_SPAN_MAX    ((int64_t)1 << 60)
#define STREAM_WIN_MAX_HOPS    4096     /* hopping size/slide */
#define STREAM_WIN_MAX_AGGS    64       /* aggregates per operator */
#define STREAM_WIN_MAX_KEY     65536    /* key bytes */
#define STREAM_WIN_MAX_WINDOWS 67108864 /* largest max_windows */

typedef struct {
    stream_win_kind_t kind;
    int64_t size_us;  /* tumbling, hopping */
    int64_t slide_us; /* hopping */
    int64_t gap_us;   /* session */
    int64_t allowed_lateness_us;
    const stream_agg_kind_t *aggs; /* copied */
    size_t naggs;
    bool batch_mode;
    size_t max_windows; /* open (key, window) cap; 0 = 1,000,000 */
} stream_winop_config_t;

typedef struct stream_winop stream_winop_t;

/* CORE_EINVAL (with a detail naming the setting) for a bad config: sizes
 * outside the limits above, a hopping size that is not a multiple of its
 * slide, an unknown kind; CORE_ENOMEM. */
int stream_winop_create(const stream_winop_config_t *cfg, stream_winop_t **out);
void stream_winop_destroy(stream_winop_t *op); /* NULL is ignored */

/* One input: the key bytes (borrowed; copied when a window is created),
 * its event time, and one input per aggregate (present[i] false = NULL
 * input; present NULL = all present; inputs may be NULL when naggs is 0).
 * wm is the watermark before this event. Sets *late when the event was
 * added to no window. CORE_ETOOBIG when the open-window cap is hit,
 * CORE_ERANGE for an event time outside +-STREAM_WIN_TS_LIMIT or a key
 * longer than STREAM_WIN_MAX_KEY, CORE_ENOMEM: on any error nothing is
 * added and nothing changes. Once warm (no new keys, open windows below
 * their peak) it does not allocate. */
int stream_winop_add(stream_winop_t *op, const char *key, size_t klen, int64_t ts,
                     const double *inputs, const bool *present, int64_t ord, int64_t wm,
                     bool *late);

/* Closes every window with end + allowed_lateness <= wm (or the highest
 * watermark given before, if larger) and marks it final and changed. Call
 * it once per batch of events, not per event. In batch mode only
 * wm == INT64_MAX closes anything. */
void stream_winop_advance(stream_winop_t *op, int64_t wm);

/* One changed row since the last drain. `removed` rows are sessions merged
 * away: delete them from the store. states has naggs entries. */
typedef struct {
    const char *key;
    size_t klen;
    int64_t start, end;
    bool final;
    bool removed;
    const stream_agg_state_t *states;
} stream_winop_row_t;

/* Calls fn for every row changed since the last drain, then forgets the
 * changes and frees final windows. Removed rows come first (so a store
 * applying the rows in order deletes before it upserts); otherwise the
 * order is unspecified (stream_winop_sort_changed sets it). The row and
 * its key are borrowed for the call; fn must not call the operator. A
 * nonzero return from fn stops the drain and is returned; that row and the
 * rows not yet visited stay changed. The states of a removed row are its
 * last contents (not meaningful). */
int stream_winop_drain(stream_winop_t *op, int (*fn)(void *arg, const stream_winop_row_t *row),
                       void *arg);

/* Orders the changed rows for the next drain by key bytes, then window
 * start (removed rows still first), so a store takes them in primary-key
 * order: B-tree inserts in order touch each page once (a recompute's
 * writes). O(n log n) and a temporary array; out of memory, the order
 * simply stays. */
void stream_winop_sort_changed(stream_winop_t *op);

/* Reinstates an open window loaded from the store (not marked changed;
 * states: naggs entries, copied). A session row later merged into an
 * earlier one is reported removed. After restoring, call
 * stream_winop_advance() with the watermark that was committed with the
 * rows, so that windows closed before the restart stay closed (events for
 * them are late instead of recreating final rows). Errors, with nothing
 * changed: CORE_EINVAL when [start, end) cannot be a window of this
 * operator (misaligned, wrong size, a session shorter than gap or
 * overlapping one already restored), CORE_EEXIST for the same window
 * twice, CORE_ETOOBIG at the cap, CORE_ERANGE for a key too long,
 * CORE_ENOMEM. */
int stream_winop_restore(stream_winop_t *op, const char *key, size_t klen, int64_t start,
                         int64_t end, const stream_agg_state_t *states);

/* Folds partial states (naggs entries) into window [start, end) of key,
 * creating it (open, changed) when absent: how operators that each saw a
 * part of the input (partitions read on different threads) become one.
 * Tumbling and hopping windows only; the window must not be final. Errors,
 * with nothing changed: CORE_EINVAL for a session operator, a final window
 * or [start, end) that cannot be a window of this operator, CORE_ETOOBIG at
 * the cap, CORE_ERANGE for a key too long, CORE_ENOMEM. */
int stream_winop_merge(stream_winop_t *op, const char *key, size_t klen, int64_t start, int64_t end,
                       const stream_agg_state_t *states);

/* Open windows held, and their approximate bytes. */
size_t stream_winop_open(const stream_winop_t *op);
size_t stream_winop_bytes(const stream_winop_t *op);

#endif

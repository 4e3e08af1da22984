/*
 * window.c - the event-time window operator: per (key, window) partial
 * aggregate states, closed by the watermark, drained as changed rows.
 *
 * Layout. Window records live in one pool of fixed-stride slots (a header,
 * then naggs stream_agg_state_t inline), addressed by 32-bit index so the
 * pool may move when it grows; a free list recycles slots. Keys are
 * interned: one key record per distinct key bytes, found through an
 * open-addressing table, reference-counted by the window records that use
 * it, and its byte buffer kept on the free list for reuse. Tumbling and
 * hopping windows are found through a second open-addressing table on
 * (key record, start). Sessions are not in that table: each key record
 * heads a list of its open sessions.
 *
 * A min-heap on window end holds every open window, so closing by watermark
 * pops exactly the windows that close. The dirty list holds each changed
 * record once (flag W_DIRTY). The heap and dirty arrays are as long as the
 * pool, so pushing onto them never allocates.
 *
 * Record states:
 *   open     in the heap (and the table or its key's session list); counted
 *            in op->open
 *   final    closed by stream_winop_advance; out of the heap and session
 *            list, still in the table so events for it are refused; freed
 *            by the next drain
 *   removed  a session row merged away after it had been drained (or
 *            restored): reported once with removed = true, then freed
 *   dead     a session merged away before any drain saw it: freed by the
 *            next drain without a report
 *
 * Invariants:
 *   1. A record is on the dirty list iff W_DIRTY is set; final, removed and
 *      dead records always are.
 *   2. op->open counts the records in the heap, which are exactly the open
 *      ones; it never exceeds the configured cap.
 *   3. A key record's refs counts the live window records pointing at it;
 *      it leaves the key table when refs drops to zero.
 *   4. Open sessions of one key never overlap (as half-open intervals).
 *   5. Every fallible step (allocation, cap check) of an add or restore
 *      happens before the first change, so a failure changes nothing.
 *   6. op->wm never decreases; windows with end + lateness <= op->wm take
 *      no more events.
 *   7. A key's last_win, when not NIL, is the record the window table maps
 *      (key, last_start) to; op->cur, when set, is a multiple of the step.
 *      Both are caches: filling them is not a change in the sense of 5.
 *
 * Threading: an operator belongs to one pipeline task thread.
 */
#include "stream/window_int.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

enum {
    W_DIRTY = 1u << 0,
    W_FINAL = 1u << 1,
    W_REMOVED = 1u << 2,
    W_DEAD = 1u << 3,
    W_PERSISTED = 1u << 4, /* its row reached a drain (or came from the store) */
};

typedef struct {
    int64_t start;
    int64_t end;
    uint32_t key;   /* key record */
    uint32_t heap;  /* position in the heap, or NIL */
    uint32_t next;  /* free list, or the key's session list */
    uint32_t prev;  /* the key's session list */
    uint32_t flags; /* W_* */
    uint32_t pad;
    /* followed by naggs stream_agg_state_t */
} win_t;

typedef struct {
    char *bytes; /* owned; kept for reuse while on the free list */
    uint64_t hash;
    uint32_t len;
    uint32_t cap;
    uint32_t refs;     /* live window records using this key */
    uint32_t sessions; /* head of the open-session list, or NIL */
    uint32_t next_free;
    uint32_t last_win;  /* tumbling/hopping: the window last found for this */
    int64_t last_start; /* key and its start (NIL: none); see win_lookup() */
} wkey_t;

/* An open-addressing table of record indices; `hash` is cached so probing
 * and rehashing never touch the records. */
typedef struct {
    uint32_t hash;
    uint32_t idx; /* NIL = empty */
} slot_t;

typedef struct {
    slot_t *slots;
    uint32_t mask;
    uint32_t count;
} table_t;

struct stream_winop {
    stream_winop_config_t cfg;
    stream_agg_kind_t *aggs; /* owned copy */
    size_t naggs;
    size_t stride;   /* bytes per pool slot */
    uint32_t hops;   /* windows per event (tumbling 1, hopping size/slide) */
    int64_t step;    /* distance between window starts */
    int64_t wm;      /* highest watermark seen (invariant 6) */
    uint64_t seed;   /* hash seed */
    size_t cap_open; /* open-window cap */
    size_t open;

    uint8_t *pool; /* pool_cap slots of `stride` bytes */
    uint32_t pool_cap, pool_used, pool_free, pool_nfree;
    uint32_t *heap; /* pool_cap entries; min-heap on window end */
    uint32_t nheap;
    uint32_t *dirty; /* pool_cap entries */
    uint32_t ndirty;

    wkey_t *keys;
    uint32_t keys_cap, keys_used, keys_free;
    size_t key_bytes; /* sum of key buffer capacities */
    table_t ktab;     /* key bytes -> key record */
    table_t wtab;     /* (key record, start) -> window (tumbling, hopping) */

    int64_t *starts; /* hops entries: scratch for one add */
    uint32_t *found; /* hops entries */
    int64_t cur;     /* the latest start computed from an event time; */
    bool have_cur;   /* [cur, cur + step) maps to it without a division */
};

/* ---- Small helpers. */

static inline win_t *win_at(const stream_winop_t *op, uint32_t i)
{
    return (win_t *)(op->pool + (size_t)i * op->stride);
}

static inline stream_agg_state_t *win_states(win_t *w)
{
    return (stream_agg_state_t *)(w + 1);
}

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The key table's hash: keys are usually short (a symbol, a city), so up to
 * 16 bytes are mixed inline, read as two loads that may overlap (they
 * cover every byte, so keys of one length that differ give different
 * inputs); longer ones go through core_hash64. Seeded per operator, so
 * crafted keys cannot aim at one probe chain. */
static inline uint64_t key_hash(const stream_winop_t *op, const char *key, size_t klen)
{
    uint64_t a = 0, b = 0;
    if (klen > 16)
        return core_hash64(key, klen, op->seed);
    if (klen >= 8) {
        a = load64(key);
        b = load64(key + klen - 8);
    } else if (klen >= 4) {
        a = load32(key);
        b = load32(key + klen - 4);
    } else if (klen > 0) {
        a = (uint64_t)(unsigned char)key[0] | (uint64_t)(unsigned char)key[klen / 2] << 8 |
            (uint64_t)(unsigned char)key[klen - 1] << 16;
    }
    return mix64(mix64(a ^ op->seed) ^ b ^ (uint64_t)klen);
}

static inline uint32_t win_hash(const stream_winop_t *op, uint32_t kid, int64_t start)
{
    return (uint32_t)mix64(((uint64_t)start ^ op->seed) + (uint64_t)kid * 0x9e3779b97f4a7c15ull);
}

static inline bool is_session(const stream_winop_t *op)
{
    return op->cfg.kind == STREAM_WIN_SESSION;
}

/* True once the window ending at `end` takes no more events at wm (in
 * batch mode only the end of input, wm = INT64_MAX, closes). */
static inline bool closed_at(const stream_winop_t *op, int64_t end, int64_t wm)
{
    if (op->cfg.batch_mode)
        return wm == INT64_MAX;
    return end + op->cfg.allowed_lateness_us <= wm;
}

/* ---- Open-addressing tables (linear probing, backward-shift delete). */

static int table_init(table_t *t, uint32_t cap)
{
    t->slots = core_alloc(CORE_MEM_STREAM, (size_t)cap * sizeof(slot_t));
    if (!t->slots)
        return core_error(CORE_ENOMEM, "window: no memory for a %u-slot table", cap);
    for (uint32_t i = 0; i < cap; i++)
        t->slots[i].idx = NIL;
    t->mask = cap - 1;
    t->count = 0;
    return 0;
}

static void table_place(table_t *t, uint32_t hash, uint32_t idx)
{
    uint32_t i = hash & t->mask;
    while (t->slots[i].idx != NIL)
        i = (i + 1) & t->mask;
    t->slots[i].hash = hash;
    t->slots[i].idx = idx;
}

/* Makes room for `extra` more entries at a load of at most 3/4. */
static int table_reserve(table_t *t, uint32_t extra)
{
    uint64_t cap = (uint64_t)t->mask + 1;
    uint64_t need = (uint64_t)t->count + extra;
    if (need * 4 <= cap * 3)
        return 0;
    while (need * 4 > cap * 3)
        cap *= 2;
    if (cap > (1ull << 31))
        return core_error(CORE_ETOOBIG, "window: table of %llu slots is too large",
                          (unsigned long long)cap);
    table_t bigger;
    int rc = table_init(&bigger, (uint32_t)cap);
    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i <= t->mask; i++)
        if (t->slots[i].idx != NIL)
            table_place(&bigger, t->slots[i].hash, t->slots[i].idx);
    bigger.count = t->count;
    core_free(t->slots);
    *t = bigger;
    return 0;
}

static void table_insert(table_t *t, uint32_t hash, uint32_t idx)
{
    table_place(t, hash, idx);
    t->count++;
}

static void table_remove(table_t *t, uint32_t hash, uint32_t idx)
{
    uint32_t i = hash & t->mask;
    while (t->slots[i].idx != idx)
        i = (i + 1) & t->mask;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->slots[j].idx == NIL)
            break;
        uint32_t home = t->slots[j].hash & t->mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].idx = NIL;
    t->count--;
}

/* ---- Keys. */

/* a[0..n) == b[0..n), inline: keys are short (4 to 16 bytes: two loads
 * that may overlap). */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16)
        return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
    if (n >= 4 && n < 8)
        return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
    uint32_t x, y;
    for (; n >= 4; a += 4, b += 4, n -= 4) {
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        if (x != y)
            return false;
    }
    for (; n > 0; a++, b++, n--)
        if (*a != *b)
            return false;
    return true;
}

static uint32_t key_find(const stream_winop_t *op, const char *key, size_t klen, uint64_t hash)
{
    const table_t *t = &op->ktab;
    uint32_t h = (uint32_t)hash;
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const slot_t *s = &t->slots[i];
        if (s->idx == NIL)
            return NIL;
        if (s->hash == h) {
            const wkey_t *k = &op->keys[s->idx];
            if (k->len == klen && k->hash == hash && same_bytes(k->bytes, key, klen))
                return s->idx;
        }
    }
}

/* Interns a key not yet present. Everything else must already be reserved
 * (this is the last fallible step of an add). */
static int key_create(stream_winop_t *op, const char *key, size_t klen, uint64_t hash,
                      uint32_t *out)
{
    int rc = table_reserve(&op->ktab, 1);
    if (rc < 0)
        return rc;
    if (op->keys_free == NIL && op->keys_used == op->keys_cap) {
        uint32_t cap = op->keys_cap ? op->keys_cap * 2 : 64;
        wkey_t *keys = core_realloc(CORE_MEM_STREAM, op->keys, (size_t)cap * sizeof(*keys));
        if (!keys)
            return core_error(CORE_ENOMEM, "window: no memory for %u keys", cap);
        op->keys = keys;
        op->keys_cap = cap;
    }
    bool reuse = op->keys_free != NIL;
    uint32_t kid = reuse ? op->keys_free : op->keys_used;
    wkey_t *k = &op->keys[kid];
    if (!reuse)
        memset(k, 0, sizeof(*k));
    if (k->cap < klen || k->bytes == NULL) {
        size_t cap = (klen + 16) & ~(size_t)15;
        char *bytes = core_realloc(CORE_MEM_STREAM, k->bytes, cap);
        if (!bytes)
            return core_error(CORE_ENOMEM, "window: no memory for a %zu-byte key", klen);
        op->key_bytes += cap - k->cap;
        k->bytes = bytes;
        k->cap = (uint32_t)cap;
    }
    if (reuse)
        op->keys_free = k->next_free;
    else
        op->keys_used++;
    memcpy(k->bytes, key, klen);
    k->len = (uint32_t)klen;
    k->hash = hash;
    k->refs = 0;
    k->sessions = NIL;
    k->next_free = NIL;
    k->last_win = NIL;
    table_insert(&op->ktab, (uint32_t)hash, kid);
    *out = kid;
    return 0;
}

static void key_unref(stream_winop_t *op, uint32_t kid)
{
    wkey_t *k = &op->keys[kid];
    if (--k->refs > 0)
        return;
    table_remove(&op->ktab, (uint32_t)k->hash, kid);
    k->next_free = op->keys_free;
    op->keys_free = kid;
}

/* ---- The pool of window records. */

/* Makes room for n more records (pool, heap and dirty list together). */
static int pool_reserve(stream_winop_t *op, uint32_t n)
{
    uint64_t avail = (uint64_t)op->pool_nfree + (op->pool_cap - op->pool_used);
    if (avail >= n)
        return 0;
    uint64_t cap = op->pool_cap ? op->pool_cap : 64;
    while (cap - op->pool_used + op->pool_nfree < n)
        cap *= 2;
    if (cap >= NIL)
        return core_error(CORE_ETOOBIG, "window: more than %u window records", NIL - 1);
    uint8_t *pool = core_realloc(CORE_MEM_STREAM, op->pool, cap * op->stride);
    if (!pool)
        return core_error(CORE_ENOMEM, "window: no memory for %llu windows",
                          (unsigned long long)cap);
    op->pool = pool;
    uint32_t *heap = core_realloc(CORE_MEM_STREAM, op->heap, cap * sizeof(uint32_t));
    if (!heap)
        return core_error(CORE_ENOMEM, "window: no memory for %llu windows",
                          (unsigned long long)cap);
    op->heap = heap;
    uint32_t *dirty = core_realloc(CORE_MEM_STREAM, op->dirty, cap * sizeof(uint32_t));
    if (!dirty)
        return core_error(CORE_ENOMEM, "window: no memory for %llu windows",
                          (unsigned long long)cap);
    op->dirty = dirty;
    op->pool_cap = (uint32_t)cap;
    return 0;
}

/* A fresh record (reserved beforehand) for key kid, with empty states. */
static uint32_t win_new(stream_winop_t *op, uint32_t kid, int64_t start, int64_t end,
                        uint32_t flags)
{
    uint32_t wi;
    if (op->pool_free != NIL) {
        wi = op->pool_free;
        op->pool_free = win_at(op, wi)->next;
        op->pool_nfree--;
    } else {
        wi = op->pool_used++;
    }
    win_t *w = win_at(op, wi);
    w->start = start;
    w->end = end;
    w->key = kid;
    w->heap = NIL;
    w->next = w->prev = NIL;
    w->flags = flags;
    stream_agg_state_t *st = win_states(w);
    for (size_t i = 0; i < op->naggs; i++)
        stream_agg_init(&st[i]);
    op->keys[kid].refs++;
    return wi;
}

static void mark_dirty(stream_winop_t *op, uint32_t wi)
{
    win_t *w = win_at(op, wi);
    if (w->flags & W_DIRTY)
        return;
    w->flags |= W_DIRTY;
    op->dirty[op->ndirty++] = wi;
}

/* Returns a drained record to the pool. */
static void win_free(stream_winop_t *op, uint32_t wi)
{
    win_t *w = win_at(op, wi);
    if (!is_session(op))
        table_remove(&op->wtab, win_hash(op, w->key, w->start), wi);
    if (op->keys[w->key].last_win == wi)
        op->keys[w->key].last_win = NIL;
    key_unref(op, w->key);
    w->flags = 0;
    w->next = op->pool_free;
    op->pool_free = wi;
    op->pool_nfree++;
}

static void fold_event(const stream_winop_t *op, win_t *w, const double *inputs,
                       const bool *present, int64_t ts, int64_t ord)
{
    stream_agg_state_t *st = win_states(w);
    for (size_t i = 0; i < op->naggs; i++)
        if (!present || present[i])
            stream_agg_add(op->aggs[i], &st[i], inputs[i], ts, ord);
}

/* ---- The close heap (min on window end). */

static inline bool heap_less(const stream_winop_t *op, uint32_t a, uint32_t b)
{
    return win_at(op, op->heap[a])->end < win_at(op, op->heap[b])->end;
}

static void heap_swap(stream_winop_t *op, uint32_t a, uint32_t b)
{
    uint32_t t = op->heap[a];
    op->heap[a] = op->heap[b];
    op->heap[b] = t;
    win_at(op, op->heap[a])->heap = a;
    win_at(op, op->heap[b])->heap = b;
}

static void heap_fix(stream_winop_t *op, uint32_t pos)
{
    while (pos > 0 && heap_less(op, pos, (pos - 1) / 2)) {
        heap_swap(op, pos, (pos - 1) / 2);
        pos = (pos - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < op->nheap && heap_less(op, l, m))
            m = l;
        if (r < op->nheap && heap_less(op, r, m))
            m = r;
        if (m == pos)
            return;
        heap_swap(op, pos, m);
        pos = m;
    }
}

static void heap_push(stream_winop_t *op, uint32_t wi)
{
    uint32_t pos = op->nheap++;
    op->heap[pos] = wi;
    win_at(op, wi)->heap = pos;
    heap_fix(op, pos);
}

static void heap_remove(stream_winop_t *op, uint32_t wi)
{
    uint32_t pos = win_at(op, wi)->heap;
    uint32_t last = --op->nheap;
    if (pos != last) {
        op->heap[pos] = op->heap[last];
        win_at(op, op->heap[pos])->heap = pos;
        heap_fix(op, pos);
    }
    win_at(op, wi)->heap = NIL;
}

/* ---- Sessions lists. */

static void session_link(stream_winop_t *op, uint32_t wi)
{
    win_t *w = win_at(op, wi);
    wkey_t *k = &op->keys[w->key];
    w->prev = NIL;
    w->next = k->sessions;
    if (k->sessions != NIL)
        win_at(op, k->sessions)->prev = wi;
    k->sessions = wi;
}

static void session_unlink(stream_winop_t *op, uint32_t wi)
{
    win_t *w = win_at(op, wi);
    if (w->prev != NIL)
        win_at(op, w->prev)->next = w->next;
    else
        op->keys[w->key].sessions = w->next;
    if (w->next != NIL)
        win_at(op, w->next)->prev = w->prev;
    w->next = w->prev = NIL;
}

/* ---- Create and destroy. */

static int check_span(const char *what, int64_t v, bool zero_ok)
{
    if (v < (zero_ok ? 0 : 1) || v > STREAM_WIN_SPAN_MAX)
        return core_error(CORE_EINVAL, "window: %s of %lld us is outside [%d, %lld]", what,
                          (long long)v, zero_ok ? 0 : 1, (long long)STREAM_WIN_SPAN_MAX);
    return 0;
}

static int check_config(const stream_winop_config_t *cfg)
{
    int rc = check_span("allowed_lateness", cfg->allowed_lateness_us, true);
    if (rc == 0 && cfg->kind == STREAM_WIN_SESSION)
        return check_span("session gap", cfg->gap_us, false);
    if (rc == 0 && cfg->kind != STREAM_WIN_TUMBLING && cfg->kind != STREAM_WIN_HOPPING)
        return core_error(CORE_EINVAL, "window: unknown window kind %d", (int)cfg->kind);
    if (rc == 0)
        rc = check_span("window size", cfg->size_us, false);
    if (rc == 0 && cfg->kind == STREAM_WIN_HOPPING) {
        rc = check_span("window slide", cfg->slide_us, false);
        if (rc == 0 && (cfg->slide_us > cfg->size_us || cfg->size_us % cfg->slide_us != 0))
            return core_error(CORE_EINVAL,
                              "window: hopping size %lld us is not a multiple of slide %lld us",
                              (long long)cfg->size_us, (long long)cfg->slide_us);
        if (rc == 0 && cfg->size_us / cfg->slide_us > STREAM_WIN_MAX_HOPS)
            return core_error(CORE_EINVAL,
                              "window: size/slide is %lld; at most %d windows per event",
                              (long long)(cfg->size_us / cfg->slide_us), STREAM_WIN_MAX_HOPS);
    }
    return rc;
}

static int check_aggs(const stream_winop_config_t *cfg)
{
    if (cfg->naggs > STREAM_WIN_MAX_AGGS || (cfg->naggs > 0 && !cfg->aggs))
        return core_error(CORE_EINVAL, "window: %zu aggregates (at most %d)", cfg->naggs,
                          STREAM_WIN_MAX_AGGS);
    for (size_t i = 0; i < cfg->naggs; i++)
        if ((unsigned)cfg->aggs[i] > (unsigned)STREAM_AGG_STDDEV)
            return core_error(CORE_EINVAL, "window: aggregate %zu has unknown kind %d", i,
                              (int)cfg->aggs[i]);
    if (cfg->max_windows > STREAM_WIN_MAX_WINDOWS)
        return core_error(CORE_EINVAL, "window: max_windows %zu is above %d", cfg->max_windows,
                          STREAM_WIN_MAX_WINDOWS);
    return 0;
}

static int alloc_parts(stream_winop_t *op, const stream_agg_kind_t *aggs)
{
    if (op->naggs > 0) {
        op->aggs = core_calloc(CORE_MEM_STREAM, op->naggs, sizeof(*op->aggs));
        if (!op->aggs)
            return core_error(CORE_ENOMEM, "window: no memory for the aggregate list");
        memcpy(op->aggs, aggs, op->naggs * sizeof(*op->aggs));
    }
    op->starts = core_calloc(CORE_MEM_STREAM, op->hops, sizeof(*op->starts));
    op->found = core_calloc(CORE_MEM_STREAM, op->hops, sizeof(*op->found));
    if (!op->starts || !op->found)
        return core_error(CORE_ENOMEM, "window: no memory for %u window starts", op->hops);
    int rc = table_init(&op->ktab, 64);
    if (rc == 0)
        rc = table_init(&op->wtab, is_session(op) ? 1 : 64);
    if (rc == 0)
        rc = pool_reserve(op, 64);
    return rc;
}

int stream_winop_create(const stream_winop_config_t *cfg, stream_winop_t **out)
{
    *out = NULL;
    int rc = check_config(cfg);
    if (rc == 0)
        rc = check_aggs(cfg);
    if (rc < 0)
        return rc;
    stream_winop_t *op = core_calloc(CORE_MEM_STREAM, 1, sizeof(*op));
    if (!op)
        return core_error(CORE_ENOMEM, "window: no memory for the operator");
    op->cfg = *cfg;
    op->cfg.aggs = NULL; /* the copy in op->aggs is used */
    op->naggs = cfg->naggs;
    op->stride = sizeof(win_t) + cfg->naggs * sizeof(stream_agg_state_t);
    op->step = cfg->kind == STREAM_WIN_HOPPING ? cfg->slide_us : cfg->size_us;
    op->hops = cfg->kind == STREAM_WIN_HOPPING ? (uint32_t)(cfg->size_us / cfg->slide_us) : 1;
    op->wm = INT64_MIN;
    op->seed = mix64((uint64_t)core_mono_ns() ^ (uint64_t)(uintptr_t)op);
    op->cap_open = cfg->max_windows ? cfg->max_windows : 1000000;
    op->pool_free = NIL;
    op->keys_free = NIL;
    rc = alloc_parts(op, cfg->aggs);
    if (rc < 0) {
        stream_winop_destroy(op);
        return rc;
    }
    *out = op;
    return 0;
}

void stream_winop_destroy(stream_winop_t *op)
{
    if (!op)
        return;
    for (uint32_t i = 0; i < op->keys_used; i++)
        core_free(op->keys[i].bytes);
    core_free(op->keys);
    core_free(op->ktab.slots);
    core_free(op->wtab.slots);
    core_free(op->pool);
    core_free(op->heap);
    core_free(op->dirty);
    core_free(op->starts);
    core_free(op->found);
    core_free(op->aggs);
    core_free(op);
}

/* ---- Adding events: tumbling and hopping. */

static uint32_t win_find(const stream_winop_t *op, uint32_t kid, int64_t start)
{
    const table_t *t = &op->wtab;
    uint32_t h = win_hash(op, kid, start);
    for (uint32_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const slot_t *s = &t->slots[i];
        if (s->idx == NIL)
            return NIL;
        if (s->hash == h) {
            const win_t *w = win_at(op, s->idx);
            if (w->key == kid && w->start == start)
                return s->idx;
        }
    }
}

/* win_find() through the key's one-entry cache: events of a key mostly
 * fall into the window its previous event did. The cache names a record
 * the table maps (kid, start) to; win_free() clears it. */
static uint32_t win_lookup(stream_winop_t *op, uint32_t kid, int64_t start)
{
    wkey_t *k = &op->keys[kid];
    if (k->last_win != NIL && k->last_start == start)
        return k->last_win;
    uint32_t wi = win_find(op, kid, start);
    if (wi != NIL) {
        k->last_win = wi;
        k->last_start = start;
    }
    return wi;
}

static int cap_error(const stream_winop_t *op, int64_t ts)
{
    return core_error(CORE_ETOOBIG,
                      "window: the cap of %zu open windows is reached (event time %lld); raise "
                      "max_windows or shorten the windows",
                      op->cap_open, (long long)ts);
}

/* Reserves `missing` new windows (and the key if kid is NIL, which it then
 * creates): the fallible part of an add. */
static int reserve_new(stream_winop_t *op, uint32_t missing, uint32_t *kid, const char *key,
                       size_t klen, uint64_t khash, int64_t ts)
{
    if (op->open + missing > op->cap_open)
        return cap_error(op, ts);
    int rc = pool_reserve(op, missing);
    if (rc == 0 && !is_session(op))
        rc = table_reserve(&op->wtab, missing);
    if (rc == 0 && *kid == NIL)
        rc = key_create(op, key, klen, khash, kid);
    return rc;
}

/* Collects the starts of the event's windows that are still open at wm,
 * latest first; returns how many. */
static uint32_t open_starts(stream_winop_t *op, int64_t ts, int64_t wm)
{
    /* Consecutive events mostly share their latest start: skip the
     * division then (no overflow: both are within the window limits). */
    if (!op->have_cur || ts < op->cur || ts - op->cur >= op->step) {
        op->cur = floor_div(ts, op->step) * op->step;
        op->have_cur = true;
    }
    int64_t s = op->cur;
    uint32_t n = 0;
    for (uint32_t h = 0; h < op->hops; h++, s -= op->step) {
        if (closed_at(op, s + op->cfg.size_us, wm))
            break; /* earlier starts end earlier: closed too */
        op->starts[n++] = s;
    }
    return n;
}

static int add_fixed(stream_winop_t *op, const char *key, size_t klen, int64_t ts,
                     const double *inputs, const bool *present, int64_t ord, int64_t wm, bool *late)
{
    uint32_t n = open_starts(op, ts, wm);
    if (n == 0) {
        *late = true;
        return 0;
    }
    uint64_t khash = key_hash(op, key, klen);
    uint32_t kid = key_find(op, key, klen, khash);
    uint32_t missing = 0;
    /* open_starts() skipped every final window: a window is final only
     * once op->wm closes it (invariant 6) */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t wi = kid == NIL ? NIL : win_lookup(op, kid, op->starts[i]);
        op->found[i] = wi;
        missing += wi == NIL;
    }
    if (missing > 0) {
        int rc = reserve_new(op, missing, &kid, key, klen, khash, ts);
        if (rc < 0)
            return rc;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t wi = op->found[i];
        if (wi == NIL) {
            wi = win_new(op, kid, op->starts[i], op->starts[i] + op->cfg.size_us, 0);
            table_insert(&op->wtab, win_hash(op, kid, op->starts[i]), wi);
            heap_push(op, wi);
            op->open++;
            op->keys[kid].last_win = wi;
            op->keys[kid].last_start = op->starts[i];
        }
        fold_event(op, win_at(op, wi), inputs, present, ts, ord);
        mark_dirty(op, wi);
    }
    return 0;
}

/* ---- Adding events: sessions. */

static inline bool overlaps_event(const win_t *w, int64_t ts, int64_t gap)
{
    return ts < w->end && ts + gap > w->start;
}

/* A merged-away session leaves the open set; its row is removed from the
 * store if a drain ever reported it. */
static void session_retire(stream_winop_t *op, uint32_t wi)
{
    session_unlink(op, wi);
    heap_remove(op, wi);
    op->open--;
    win_t *w = win_at(op, wi);
    w->flags |= (w->flags & W_PERSISTED) ? W_REMOVED : W_DEAD;
    mark_dirty(op, wi);
}

/* Folds the event into `surv` (the overlapping session with the earliest
 * start) and every other overlapping session into it; [s, e) is the
 * merged extent. The tombstone slot is reserved by the caller. */
static void session_merge(stream_winop_t *op, uint32_t surv, int64_t ts, int64_t s, int64_t e)
{
    win_t *sw = win_at(op, surv);
    int64_t gap = op->cfg.gap_us;
    if (s < sw->start && (sw->flags & W_PERSISTED)) {
        /* the stored row is keyed by the old start: report it removed */
        uint32_t t = win_new(op, sw->key, sw->start, sw->end, W_REMOVED | W_PERSISTED);
        sw = win_at(op, surv);
        sw->flags &= ~(uint32_t)W_PERSISTED;
        mark_dirty(op, t);
    }
    for (uint32_t wi = op->keys[sw->key].sessions; wi != NIL;) {
        win_t *w = win_at(op, wi);
        uint32_t next = w->next;
        if (wi != surv && overlaps_event(w, ts, gap)) {
            stream_agg_state_t *into = win_states(sw), *from = win_states(w);
            for (size_t i = 0; i < op->naggs; i++)
                stream_agg_merge(op->aggs[i], &into[i], &from[i]);
            session_retire(op, wi);
        }
        wi = next;
    }
    sw->start = s;
    sw->end = e;
    heap_fix(op, sw->heap);
}

static int add_session(stream_winop_t *op, const char *key, size_t klen, int64_t ts,
                       const double *inputs, const bool *present, int64_t ord, int64_t wm,
                       bool *late)
{
    int64_t gap = op->cfg.gap_us;
    uint64_t khash = key_hash(op, key, klen);
    uint32_t kid = key_find(op, key, klen, khash);
    uint32_t surv = NIL;
    int64_t s = ts, e = ts + gap;
    for (uint32_t wi = kid == NIL ? NIL : op->keys[kid].sessions; wi != NIL;) {
        const win_t *w = win_at(op, wi);
        if (overlaps_event(w, ts, gap)) {
            if (surv == NIL || w->start < win_at(op, surv)->start)
                surv = wi;
            s = CORE_MIN(s, w->start);
            e = CORE_MAX(e, w->end);
        }
        wi = w->next;
    }
    if (closed_at(op, e, wm)) {
        *late = true;
        return 0;
    }
    if (surv == NIL) {
        int rc = reserve_new(op, 1, &kid, key, klen, khash, ts);
        if (rc < 0)
            return rc;
        surv = win_new(op, kid, s, e, 0);
        session_link(op, surv);
        heap_push(op, surv);
        op->open++;
    } else {
        const win_t *sw = win_at(op, surv);
        if (s < sw->start && (sw->flags & W_PERSISTED)) {
            int rc = pool_reserve(op, 1);
            if (rc < 0)
                return rc;
        }
        session_merge(op, surv, ts, s, e);
    }
    fold_event(op, win_at(op, surv), inputs, present, ts, ord);
    mark_dirty(op, surv);
    return 0;
}

static int check_key_ts(const char *key, size_t klen, int64_t ts)
{
    if (klen > STREAM_WIN_MAX_KEY)
        return core_error(CORE_ERANGE, "window: key of %zu bytes (at most %d)", klen,
                          STREAM_WIN_MAX_KEY);
    if (klen > 0 && !key)
        return core_error(CORE_EINVAL, "window: NULL key of %zu bytes", klen);
    if (ts < -STREAM_WIN_TS_LIMIT || ts > STREAM_WIN_TS_LIMIT)
        return core_error(CORE_ERANGE, "window: event time %lld us is outside +-%lld",
                          (long long)ts, (long long)STREAM_WIN_TS_LIMIT);
    return 0;
}

int stream_winop_add(stream_winop_t *op, const char *key, size_t klen, int64_t ts,
                     const double *inputs, const bool *present, int64_t ord, int64_t wm, bool *late)
{
    *late = false;
    int rc = check_key_ts(key, klen, ts);
    if (rc < 0)
        return rc;
    if (!key)
        key = "";
    if (!op->cfg.batch_mode && wm > op->wm)
        op->wm = wm;
    if (is_session(op))
        return add_session(op, key, klen, ts, inputs, present, ord, op->wm, late);
    return add_fixed(op, key, klen, ts, inputs, present, ord, op->wm, late);
}

/* ---- Closing and draining. */

void stream_winop_advance(stream_winop_t *op, int64_t wm)
{
    if (op->cfg.batch_mode && wm != INT64_MAX)
        return;
    if (wm > op->wm)
        op->wm = wm;
    if (op->wm == INT64_MAX) {
        /* The input has ended: every open window closes, so no heap order
         * is needed (popping them one by one is O(n log n)). */
        for (uint32_t i = 0; i < op->nheap; i++) {
            uint32_t wi = op->heap[i];
            win_t *w = win_at(op, wi);
            w->heap = NIL;
            if (is_session(op))
                session_unlink(op, wi);
            w->flags |= W_FINAL;
            mark_dirty(op, wi);
        }
        op->open -= op->nheap;
        op->nheap = 0;
        return;
    }
    while (op->nheap > 0) {
        uint32_t wi = op->heap[0];
        win_t *w = win_at(op, wi);
        if (!closed_at(op, w->end, op->wm))
            break;
        heap_remove(op, wi);
        if (is_session(op))
            session_unlink(op, wi);
        w->flags |= W_FINAL;
        op->open--;
        mark_dirty(op, wi);
    }
}

/* Puts removed and dead records first, so a store applies deletions before
 * upserts that might reuse a key. */
static void dirty_partition(stream_winop_t *op)
{
    uint32_t front = 0;
    for (uint32_t i = 0; i < op->ndirty; i++) {
        uint32_t wi = op->dirty[i];
        if (win_at(op, wi)->flags & (W_REMOVED | W_DEAD)) {
            op->dirty[i] = op->dirty[front];
            op->dirty[front++] = wi;
        }
    }
}

/* A changed record with what stream_winop_sort_changed orders by. */
typedef struct {
    const char *key;
    uint32_t klen;
    uint32_t wi;
    int64_t start;
    int gone; /* removed or dead: first */
} sort_item_t;

static int cmp_sort_item(const void *pa, const void *pb)
{
    const sort_item_t *a = pa, *b = pb;
    if (a->gone != b->gone)
        return a->gone ? -1 : 1;
    int c = memcmp(a->key, b->key, CORE_MIN(a->klen, b->klen));
    if (c != 0)
        return c;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return a->start < b->start ? -1 : a->start > b->start;
}

void stream_winop_sort_changed(stream_winop_t *op)
{
    if (op->ndirty < 2)
        return;
    sort_item_t *v = core_alloc(CORE_MEM_STREAM, (size_t)op->ndirty * sizeof *v);
    if (v == NULL)
        return; /* an optimisation only: the order stays */
    for (uint32_t i = 0; i < op->ndirty; i++) {
        const win_t *w = win_at(op, op->dirty[i]);
        const wkey_t *k = &op->keys[w->key];
        v[i] = (sort_item_t){k->bytes, k->len, op->dirty[i], w->start,
                             (w->flags & (W_REMOVED | W_DEAD)) != 0};
    }
    qsort(v, op->ndirty, sizeof *v, cmp_sort_item);
    for (uint32_t i = 0; i < op->ndirty; i++)
        op->dirty[i] = v[i].wi;
    core_free(v);
}

int stream_winop_drain(stream_winop_t *op, int (*fn)(void *arg, const stream_winop_row_t *row),
                       void *arg)
{
    dirty_partition(op);
    uint32_t i = 0;
    int rc = 0;
    for (; i < op->ndirty; i++) {
        uint32_t wi = op->dirty[i];
        win_t *w = win_at(op, wi);
        if (!(w->flags & W_DEAD)) {
            const wkey_t *k = &op->keys[w->key];
            stream_winop_row_t row = {
                .key = k->bytes,
                .klen = k->len,
                .start = w->start,
                .end = w->end,
                .final = (w->flags & W_FINAL) != 0,
                .removed = (w->flags & W_REMOVED) != 0,
                .states = win_states(w),
            };
            rc = fn(arg, &row);
            if (rc != 0)
                break;
        }
        w->flags = (w->flags & ~(uint32_t)W_DIRTY) | W_PERSISTED;
        if (w->flags & (W_FINAL | W_REMOVED | W_DEAD))
            win_free(op, wi);
    }
    op->ndirty -= i;
    memmove(op->dirty, op->dirty + i, (size_t)op->ndirty * sizeof(uint32_t));
    return rc;
}

/* ---- Restore. */

static int check_restore_shape(const stream_winop_t *op, int64_t start, int64_t end)
{
    int64_t lim = STREAM_WIN_TS_LIMIT;
    if (is_session(op)) {
        if (start < -lim || start > lim || end > lim + op->cfg.gap_us ||
            end - start < op->cfg.gap_us)
            return core_error(CORE_EINVAL,
                              "window: stored session [%lld, %lld) is invalid for gap %lld us",
                              (long long)start, (long long)end, (long long)op->cfg.gap_us);
        return 0;
    }
    if (start < -lim - op->cfg.size_us || start > lim || end - start != op->cfg.size_us ||
        floor_div(start, op->step) * op->step != start)
        return core_error(CORE_EINVAL,
                          "window: stored window [%lld, %lld) does not match size %lld us, "
                          "slide %lld us",
                          (long long)start, (long long)end, (long long)op->cfg.size_us,
                          (long long)op->step);
    return 0;
}

/* CORE_EEXIST or CORE_EINVAL when the key already holds this window or an
 * overlapping session. */
static int check_restore_clash(const stream_winop_t *op, uint32_t kid, int64_t start, int64_t end)
{
    if (kid == NIL)
        return 0;
    if (!is_session(op)) {
        if (win_find(op, kid, start) != NIL)
            return core_error(CORE_EEXIST, "window: window at %lld restored twice",
                              (long long)start);
        return 0;
    }
    for (uint32_t wi = op->keys[kid].sessions; wi != NIL; wi = win_at(op, wi)->next) {
        const win_t *w = win_at(op, wi);
        if (w->start == start)
            return core_error(CORE_EEXIST, "window: session at %lld restored twice",
                              (long long)start);
        if (start < w->end && end > w->start)
            return core_error(
                CORE_EINVAL, "window: stored session [%lld, %lld) overlaps [%lld, %lld)",
                (long long)start, (long long)end, (long long)w->start, (long long)w->end);
    }
    return 0;
}

/* What restore and merge check first: the key and the window's shape; then
 * the key's hash and record (NIL when the key is new). A NULL key is "". */
static int find_window_key(const stream_winop_t *op, const char **key, size_t klen, int64_t start,
                           int64_t end, uint64_t *khash, uint32_t *kid)
{
    int rc = check_key_ts(*key, klen, 0);
    if (rc == 0)
        rc = check_restore_shape(op, start, end);
    if (rc < 0)
        return rc;
    if (*key == NULL)
        *key = "";
    *khash = key_hash(op, *key, klen);
    *kid = key_find(op, *key, klen, *khash);
    return 0;
}

int stream_winop_restore(stream_winop_t *op, const char *key, size_t klen, int64_t start,
                         int64_t end, const stream_agg_state_t *states)
{
    uint64_t khash;
    uint32_t kid;
    int rc = find_window_key(op, &key, klen, start, end, &khash, &kid);
    if (rc < 0)
        return rc;
    rc = check_restore_clash(op, kid, start, end);
    if (rc == 0)
        rc = reserve_new(op, 1, &kid, key, klen, khash, start);
    if (rc < 0)
        return rc;
    uint32_t wi = win_new(op, kid, start, end, W_PERSISTED);
    if (op->naggs > 0)
        memcpy(win_states(win_at(op, wi)), states, op->naggs * sizeof(*states));
    if (is_session(op))
        session_link(op, wi);
    else
        table_insert(&op->wtab, win_hash(op, kid, start), wi);
    heap_push(op, wi);
    op->open++;
    return 0;
}

int stream_winop_merge(stream_winop_t *op, const char *key, size_t klen, int64_t start, int64_t end,
                       const stream_agg_state_t *states)
{
    if (is_session(op))
        return core_error(CORE_EINVAL, "window: session windows cannot be merged by window");
    uint64_t khash;
    uint32_t kid;
    int rc = find_window_key(op, &key, klen, start, end, &khash, &kid);
    if (rc < 0)
        return rc;
    uint32_t wi = kid == NIL ? NIL : win_lookup(op, kid, start);
    if (wi != NIL && (win_at(op, wi)->flags & W_FINAL))
        return core_error(CORE_EINVAL, "window: window at %lld is final; nothing merges into it",
                          (long long)start);
    if (wi == NIL) {
        rc = reserve_new(op, 1, &kid, key, klen, khash, start);
        if (rc < 0)
            return rc;
        wi = win_new(op, kid, start, end, 0);
        table_insert(&op->wtab, win_hash(op, kid, start), wi);
        heap_push(op, wi);
        op->open++;
    }
    stream_agg_state_t *st = win_states(win_at(op, wi));
    for (size_t i = 0; i < op->naggs; i++)
        stream_agg_merge(op->aggs[i], &st[i], &states[i]);
    mark_dirty(op, wi);
    return 0;
}

size_t stream_winop_open(const stream_winop_t *op)
{
    return op->open;
}

size_t stream_winop_bytes(const stream_winop_t *op)
{
    size_t pool = (size_t)op->pool_cap * (op->stride + 2 * sizeof(uint32_t));
    size_t keys = (size_t)op->keys_cap * sizeof(wkey_t) + op->key_bytes;
    size_t tables = ((size_t)op->ktab.mask + 1 + op->wtab.mask + 1) * sizeof(slot_t);
    return sizeof(*op) + pool + keys + tables +
           op->hops * (sizeof(*op->starts) + sizeof(*op->found));
}

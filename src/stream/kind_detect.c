/*
 * The `detect` kind: anomaly rules evaluated on every valid record; each
 * anomaly is a row of the `anomalies` table.
 *
 *   threshold  `when` is true                 -> anomaly, value = `value`
 *   zscore     |x - mean| / stddev > threshold -> anomaly, value = x, score = z
 *              once the key has min_history values; x then joins the
 *              history either way
 *   velocity   the key's count in its tumbling -> one anomaly per window, at
 *              event-time window passes limit    its (limit + 1)-th event
 *
 * State: one entry per (rule, key) for zscore (n, mean, M2, updated with
 * Welford's method, the stddev aggregate's code) and velocity (window
 * start, count), in a hash map keyed by the rule's index and the key bytes.
 * Entries changed since the last commit are listed; flush() writes each as
 * a strata_state row (name = rule, key = key, state = exact text), so state
 * commits in the same transaction as the offset, and task_init() reloads
 * the partition's rows. A replay from the committed offset thus starts from
 * the state the records saw the first time and writes the same anomalies;
 * the store ignores duplicates of (pipeline, rule, topic, partition,
 * offset).
 *
 * A record has all its effects or none: (1) evaluate every rule's
 * expressions (a scratch overflow returns CORE_ETOOBIG and the runtime
 * sends the record to the dlq), (2) find or create the state entries it
 * needs, against DETECT_MAX_STATES per task (past it, a record that would
 * need a new entry goes to the dlq as "state_full"), (3) update state and
 * write anomalies.
 *
 * Entry flags: `dirty` = changed since it was last put in a batch;
 * `in_batch` = put in the batch now being committed. The runtime flushes
 * once per batch and retries a failed commit with the same batch, so an
 * entry is written at most once per batch; committed() clears in_batch and
 * keeps listed the entries that changed again meanwhile.
 *
 * Threading: a task's state belongs to its pipeline's thread.
 */
#include "stream/stream_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DETECT_MAX_STATES 1000000
#define DETECT_MAX_KEY    SCHEMA_DEFAULT_MAX_VALUE
#define DETAIL_MAX        (128 * 1024)
#define STATE_TEXT_MAX    128
#define ENTRY_OVERHEAD    64 /* map slot and allocator header, roughly */

typedef struct {
    stream_agg_state_t st; /* zscore: n, a = mean, b = M2; velocity: n = count */
    int64_t start;         /* velocity: current window start (us); INT64_MIN: none */
    uint32_t rule;
    bool dirty, in_batch, listed;
    size_t klen;
    char key[];
} entry_t;

/* What step (1) found for one rule and the current record. */
typedef struct {
    bool hit;      /* threshold: the condition is true */
    bool has;      /* threshold: value; zscore: x; velocity: a window */
    double x;      /* threshold value, zscore input */
    int64_t start; /* velocity: the event's window start */
    entry_t *e;    /* zscore, velocity: the key's entry */
} eval_t;

typedef struct {
    core_map_t *map; /* rule index + key bytes -> entry_t * (owned) */
    entry_t **changed;
    size_t nchanged, capchanged;
    eval_t *ev;      /* one per detector */
    core_buf_t key;  /* the current record's key, copied out of scratch */
    core_buf_t mkey; /* map key being built */
    core_buf_t text; /* anomaly detail or state text */
    size_t max_states;
    int64_t bytes;   /* approximate, also added to stats->state_bytes */
    int64_t skipped; /* stored rows ignored at load */
} detect_t;

/* ---- State entries. */

static int map_key(detect_t *d, uint32_t rule, const char *key, size_t klen)
{
    core_buf_reset(&d->mkey);
    int rc = core_buf_append(&d->mkey, &rule, sizeof rule);
    return rc != 0 ? rc : core_buf_append(&d->mkey, key, klen);
}

static int lookup(detect_t *d, uint32_t rule, const char *key, size_t klen, entry_t **out)
{
    void *v = NULL;
    int rc = map_key(d, rule, key, klen);
    if (rc != 0)
        return rc;
    *out = core_map_get(d->map, d->mkey.data, d->mkey.len, &v) ? v : NULL;
    return 0;
}

static void account(stream_task_t *t, detect_t *d, int64_t delta)
{
    d->bytes += delta;
    if (t->stats != NULL)
        t->stats->state_bytes += delta;
}

/* Creates the entry of (rule, key), which must not exist. */
static int entry_create(stream_task_t *t, detect_t *d, uint32_t rule, const char *key, size_t klen,
                        entry_t **out)
{
    entry_t *e = core_alloc(CORE_MEM_STREAM, sizeof *e + klen);
    if (e == NULL)
        return core_error(CORE_ENOMEM, "detect: out of memory for rule state");
    memset(e, 0, sizeof *e);
    stream_agg_init(&e->st);
    e->start = INT64_MIN;
    e->rule = rule;
    e->klen = klen;
    if (klen > 0)
        memcpy(e->key, key, klen);
    int rc = map_key(d, rule, key, klen);
    if (rc == 0)
        rc = core_map_put(d->map, d->mkey.data, d->mkey.len, e, NULL);
    if (rc != 0) {
        core_free(e);
        return rc;
    }
    account(t, d, (int64_t)(sizeof *e + 2 * klen + ENTRY_OVERHEAD));
    *out = e;
    return 0;
}

/* Lists e for the next flush. */
static int mark(detect_t *d, entry_t *e)
{
    e->dirty = true;
    if (e->listed)
        return 0;
    if (d->nchanged == d->capchanged) {
        size_t cap = d->capchanged == 0 ? 256 : d->capchanged * 2;
        entry_t **n = core_realloc(CORE_MEM_STREAM, d->changed, cap * sizeof *n);
        if (n == NULL)
            return core_error(CORE_ENOMEM, "detect: out of memory listing changed state");
        d->changed = n;
        d->capchanged = cap;
    }
    d->changed[d->nchanged++] = e;
    e->listed = true;
    return 0;
}

/* ---- State text: "z N MEAN M2" and "v START COUNT", doubles in %a so
 * they read back bit for bit. */

static int encode_state(const stream_detector_t *det, const entry_t *e, core_buf_t *out)
{
    core_buf_reset(out);
    if (det->kind == STREAM_RULE_ZSCORE)
        return core_buf_printf(out, "z %" PRId64 " %a %a", e->st.n, e->st.a, e->st.b);
    return core_buf_printf(out, "v %" PRId64 " %" PRId64, e->start, e->st.n);
}

/* Reads " <int>" at *s. */
static bool next_i64(const char **s, int64_t *out)
{
    if (**s != ' ' || (*s)[1] == ' ' || (*s)[1] == '\0')
        return false;
    char *end = NULL;
    long long v = strtoll(*s + 1, &end, 10);
    if (end == *s + 1 || (*end != ' ' && *end != '\0'))
        return false;
    *out = v;
    *s = end;
    return true;
}

/* Reads " <double>" at *s (hex floats, inf and nan included). */
static bool next_f64(const char **s, double *out)
{
    if (**s != ' ' || (*s)[1] == ' ' || (*s)[1] == '\0')
        return false;
    char *end = NULL;
    double v = strtod(*s + 1, &end);
    if (end == *s + 1 || (*end != ' ' && *end != '\0'))
        return false;
    *out = v;
    *s = end;
    return true;
}

/* Parses stored text into e; false when it is not this rule's format. */
static bool decode_state(const stream_detector_t *det, const char *p, size_t len, entry_t *e)
{
    char buf[STATE_TEXT_MAX];
    if (len < 2 || len >= sizeof buf)
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    const char *s = buf + 1;
    if (det->kind == STREAM_RULE_ZSCORE) {
        if (buf[0] != 'z' || !next_i64(&s, &e->st.n) || !next_f64(&s, &e->st.a) ||
            !next_f64(&s, &e->st.b) || *s != '\0' || e->st.n < 0)
            return false;
        return true;
    }
    if (buf[0] != 'v' || !next_i64(&s, &e->start) || !next_i64(&s, &e->st.n) || *s != '\0' ||
        e->st.n < 0)
        return false;
    if (e->start != INT64_MIN && e->start % det->window_us != 0) {
        /* The window size changed since this was stored: start afresh. */
        e->start = INT64_MIN;
        e->st.n = 0;
    }
    return true;
}

/* store_state_load callback: (name, key, state). */
static int load_row(void *arg, const schema_value_t *v, size_t n)
{
    stream_task_t *t = arg;
    detect_t *d = t->kind_state;
    const stream_pipeline_t *p = t->p;
    if (n < 3 || v[0].type != SCHEMA_STRING || v[1].type != SCHEMA_STRING ||
        v[2].type != SCHEMA_STRING || v[1].v.s.len > DETECT_MAX_KEY) {
        d->skipped++;
        return 0;
    }
    size_t i = 0;
    while (i < p->ndetectors && (strlen(p->detectors[i].name) != v[0].v.s.len ||
                                 memcmp(p->detectors[i].name, v[0].v.s.p, v[0].v.s.len) != 0))
        i++;
    const stream_detector_t *det = i < p->ndetectors ? &p->detectors[i] : NULL;
    entry_t tmp;
    memset(&tmp, 0, sizeof tmp);
    if (det == NULL || det->kind == STREAM_RULE_THRESHOLD ||
        !decode_state(det, v[2].v.s.p, v[2].v.s.len, &tmp)) {
        d->skipped++;
        return 0;
    }
    entry_t *e = NULL;
    int rc = lookup(d, (uint32_t)i, v[1].v.s.p, v[1].v.s.len, &e);
    if (rc == 0 && e == NULL)
        rc = entry_create(t, d, (uint32_t)i, v[1].v.s.p, v[1].v.s.len, &e);
    if (rc != 0)
        return rc;
    e->st = tmp.st;
    e->start = tmp.start;
    return 0;
}

/* ---- Anomalies. */

/* Finishes the detail document in d->text as a C string; NULL detail when
 * it could not be written (text that is not UTF-8, a huge expression). */
static int finish_detail(detect_t *d, core_json_writer_t *w, const char **detail)
{
    *detail = NULL;
    int rc = core_json_writer_finish(w);
    if (rc == 0)
        rc = core_buf_append_u8(&d->text, 0);
    if (rc == 0)
        *detail = (const char *)d->text.data;
    return rc == CORE_ENOMEM ? rc : 0;
}

static void write_number(core_json_writer_t *w, const char *name, double v)
{
    core_json_write_key(w, name, strlen(name));
    if (isfinite(v))
        core_json_write_double(w, v);
    else
        core_json_write_null(w);
}

static void write_time(core_json_writer_t *w, const char *name, int64_t us)
{
    char iso[40];
    size_t n = schema_format_timestamp(us, iso);
    core_json_write_key(w, name, strlen(name));
    core_json_write_string(w, iso, n);
}

static int emit(stream_task_t *t, const bus_record_t *rec, const stream_detector_t *det,
                double value, double score, const char *detail)
{
    detect_t *d = t->kind_state;
    store_anomaly_t a = {
        .pipeline = t->p->name,
        .rule = det->name,
        .key = d->key.len > 0 ? (const char *)d->key.data : "",
        .key_len = d->key.len,
        .event_time = t->event_us,
        .value = value,
        .score = score,
        .detail = detail,
        .topic = t->p->topic,
        .partition = t->partition,
        .offset = rec->offset,
    };
    int rc = store_batch_anomaly(t->batch, &a);
    if (rc == 0)
        t->stats->anomalies++;
    return rc;
}

static int apply_threshold(stream_task_t *t, const bus_record_t *rec, const stream_detector_t *det,
                           const eval_t *ev)
{
    detect_t *d = t->kind_state;
    if (!ev->hit)
        return 0;
    core_json_writer_t w;
    core_buf_reset(&d->text);
    core_json_writer_init(&w, &d->text);
    core_json_write_object_begin(&w);
    const char *when = stream_expr_text(det->when);
    core_json_write_key(&w, "when", 4);
    core_json_write_string(&w, when, strlen(when));
    core_json_write_object_end(&w);
    const char *detail = NULL;
    int rc = finish_detail(d, &w, &detail);
    if (rc != 0)
        return rc;
    return emit(t, rec, det, ev->has ? ev->x : NAN, NAN, detail);
}

/* Scores x against the history, then adds it to the history: a value that
 * is anomalous still shifts the mean and stddev, as it would in a batch
 * recomputation over the same records. */
static int apply_zscore(stream_task_t *t, const bus_record_t *rec, const stream_detector_t *det,
                        const eval_t *ev)
{
    detect_t *d = t->kind_state;
    entry_t *e = ev->e;
    if (!ev->has)
        return 0;
    double sd = 0;
    int rc = 0;
    if (e->st.n >= det->min_history && stream_agg_result(STREAM_AGG_STDDEV, &e->st, &sd) &&
        sd > 0) {
        double z = (ev->x - e->st.a) / sd;
        if (fabs(z) > det->threshold) {
            core_json_writer_t w;
            core_buf_reset(&d->text);
            core_json_writer_init(&w, &d->text);
            core_json_write_object_begin(&w);
            write_number(&w, "mean", e->st.a);
            write_number(&w, "stddev", sd);
            core_json_write_key(&w, "n", 1);
            core_json_write_i64(&w, e->st.n);
            write_number(&w, "threshold", det->threshold);
            core_json_write_object_end(&w);
            const char *detail = NULL;
            rc = finish_detail(d, &w, &detail);
            if (rc == 0)
                rc = emit(t, rec, det, ev->x, z, detail);
        }
    }
    if (rc != 0)
        return rc;
    stream_agg_add(STREAM_AGG_STDDEV, &e->st, ev->x, t->event_us,
                   STREAM_AGG_ORD(t->partition, rec->offset));
    return mark(d, e);
}

/* Counts the event in its window. An event of a window before the key's
 * current one is ignored: the count of a past window is gone, and
 * ignoring it keeps the result a function of the log order. */
static int apply_velocity(stream_task_t *t, const bus_record_t *rec, const stream_detector_t *det,
                          const eval_t *ev)
{
    detect_t *d = t->kind_state;
    entry_t *e = ev->e;
    if (!ev->has || (e->start != INT64_MIN && ev->start < e->start))
        return 0;
    if (e->start != ev->start) {
        e->start = ev->start;
        e->st.n = 0;
    }
    if (e->st.n < INT64_MAX)
        e->st.n++;
    int rc = mark(d, e);
    if (rc != 0 || e->st.n - 1 != det->limit)
        return rc;
    int64_t end = 0;
    if (__builtin_add_overflow(e->start, det->window_us, &end))
        end = INT64_MAX;
    core_json_writer_t w;
    core_buf_reset(&d->text);
    core_json_writer_init(&w, &d->text);
    core_json_write_object_begin(&w);
    write_time(&w, "window_start", e->start);
    write_time(&w, "window_end", end);
    core_json_write_key(&w, "count", 5);
    core_json_write_i64(&w, e->st.n);
    core_json_write_key(&w, "limit", 5);
    core_json_write_i64(&w, det->limit);
    core_json_write_object_end(&w);
    const char *detail = NULL;
    rc = finish_detail(d, &w, &detail);
    if (rc == 0)
        rc = emit(t, rec, det, (double)e->st.n, (double)e->st.n, detail);
    return rc;
}

/* ---- One record. */

/* The tumbling window of ts, aligned to the epoch; false if out of range. */
static bool window_of(int64_t ts, int64_t size, int64_t *start)
{
    if (size <= 0 || ts == INT64_MIN)
        return false;
    int64_t q = ts / size;
    if (ts % size < 0)
        q--;
    return !__builtin_mul_overflow(q, size, start);
}

static int copy_key(stream_task_t *t, detect_t *d)
{
    const char *k = NULL;
    size_t n = 0;
    int rc = stream_task_key(t, &k, &n);
    if (rc != 0)
        return rc;
    if (n > DETECT_MAX_KEY)
        return core_error(CORE_ETOOBIG, "detect: key of %zu bytes exceeds the limit of %d", n,
                          DETECT_MAX_KEY);
    core_buf_reset(&d->key);
    return n == 0 ? 0 : core_buf_append(&d->key, k, n);
}

/* Step (1): every expression, before anything changes. */
static int evaluate(stream_task_t *t, detect_t *d)
{
    const stream_pipeline_t *p = t->p;
    for (size_t i = 0; i < p->ndetectors; i++) {
        const stream_detector_t *det = &p->detectors[i];
        eval_t *ev = &d->ev[i];
        memset(ev, 0, sizeof *ev);
        switch (det->kind) {
        case STREAM_RULE_THRESHOLD: {
            int rc = stream_expr_test(det->when, &t->env, &t->scratch, &ev->hit);
            if (rc != 0)
                return rc;
            if (ev->hit && det->value != NULL)
                ev->has = stream_task_number(t, det->value, &ev->x);
            break;
        }
        case STREAM_RULE_ZSCORE:
            ev->has = stream_task_number(t, det->value, &ev->x) && isfinite(ev->x);
            break;
        case STREAM_RULE_VELOCITY:
            ev->has = window_of(t->event_us, det->window_us, &ev->start);
            break;
        }
    }
    return 0;
}

/* Step (2): finds or creates the entries; *ok false when the record went
 * to the dlq because new entries would pass the cap. */
static int bind(stream_task_t *t, detect_t *d, const bus_record_t *rec, bool *ok)
{
    const stream_pipeline_t *p = t->p;
    const char *key = d->key.len > 0 ? (const char *)d->key.data : "";
    size_t missing = 0;
    *ok = true;
    for (size_t i = 0; i < p->ndetectors; i++) {
        eval_t *ev = &d->ev[i];
        if (p->detectors[i].kind == STREAM_RULE_THRESHOLD || !ev->has)
            continue;
        int rc = lookup(d, (uint32_t)i, key, d->key.len, &ev->e);
        if (rc != 0)
            return rc;
        missing += ev->e == NULL;
    }
    if (missing > 0 && core_map_count(d->map) + missing > d->max_states) {
        char reason[160];
        snprintf(reason, sizeof reason,
                 "detect: the partition already holds %zu rule states (the limit); a new key "
                 "is not evaluated",
                 core_map_count(d->map));
        *ok = false;
        return stream_task_dlq(t, rec, "state_full", reason);
    }
    for (size_t i = 0; i < p->ndetectors && missing > 0; i++) {
        eval_t *ev = &d->ev[i];
        if (p->detectors[i].kind == STREAM_RULE_THRESHOLD || !ev->has || ev->e != NULL)
            continue;
        int rc = entry_create(t, d, (uint32_t)i, key, d->key.len, &ev->e);
        if (rc != 0)
            return rc;
        missing--;
    }
    return 0;
}

static int process(stream_task_t *t, const bus_record_t *rec)
{
    detect_t *d = t->kind_state;
    const stream_pipeline_t *p = t->p;
    bool ok = true;
    int rc = copy_key(t, d);
    if (rc == 0)
        rc = evaluate(t, d);
    if (rc == 0)
        rc = bind(t, d, rec, &ok);
    for (size_t i = 0; rc == 0 && ok && i < p->ndetectors; i++) {
        const stream_detector_t *det = &p->detectors[i];
        switch (det->kind) {
        case STREAM_RULE_THRESHOLD:
            rc = apply_threshold(t, rec, det, &d->ev[i]);
            break;
        case STREAM_RULE_ZSCORE:
            rc = apply_zscore(t, rec, det, &d->ev[i]);
            break;
        case STREAM_RULE_VELOCITY:
            rc = apply_velocity(t, rec, det, &d->ev[i]);
            break;
        }
    }
    return rc;
}

/* ---- Lifecycle. */

static int prepare(stream_pipeline_t *p, store_t *s)
{
    (void)p;
    (void)s;
    return 0; /* `anomalies` and `strata_state` are system tables */
}

static int task_init(stream_task_t *t, store_t *s)
{
    const stream_pipeline_t *p = t->p;
    detect_t *d = core_calloc(CORE_MEM_STREAM, 1, sizeof *d);
    if (d == NULL)
        return core_error(CORE_ENOMEM, "detect: out of memory");
    t->kind_state = d;
    core_buf_init(&d->key, CORE_MEM_STREAM, DETECT_MAX_KEY);
    core_buf_init(&d->mkey, CORE_MEM_STREAM, DETECT_MAX_KEY + sizeof(uint32_t));
    core_buf_init(&d->text, CORE_MEM_STREAM, DETAIL_MAX);
    d->max_states = DETECT_MAX_STATES;
    d->map = core_map_create(CORE_MEM_STREAM, 0);
    d->ev = core_calloc(CORE_MEM_STREAM, p->ndetectors + 1, sizeof *d->ev);
    if (d->map == NULL || d->ev == NULL)
        return core_error(CORE_ENOMEM, "detect: out of memory");
    int rc = store_state_load(s, p->name, t->partition, load_row, t);
    if (rc != 0)
        return rc;
    if (d->skipped > 0)
        core_log(CORE_LOG_WARN, "stream",
                 "pipeline %s, partition %" PRId32 ": ignored %" PRId64
                 " stored detector states of rules no longer defined (or unreadable)",
                 p->name, t->partition, d->skipped);
    return 0;
}

/* Writes every entry changed since it was last put in a batch. */
static int flush(stream_task_t *t)
{
    detect_t *d = t->kind_state;
    const stream_pipeline_t *p = t->p;
    for (size_t i = 0; i < d->nchanged; i++) {
        entry_t *e = d->changed[i];
        if (!e->dirty || e->in_batch)
            continue;
        const stream_detector_t *det = &p->detectors[e->rule];
        int rc = encode_state(det, e, &d->text);
        if (rc == 0)
            rc = store_batch_state(t->batch, p->name, t->partition, det->name,
                                   e->klen > 0 ? e->key : "", e->klen, d->text.data, d->text.len);
        if (rc != 0)
            return rc;
        e->dirty = false;
        e->in_batch = true;
    }
    return 0;
}

static void committed(stream_task_t *t)
{
    detect_t *d = t->kind_state;
    size_t keep = 0;
    for (size_t i = 0; i < d->nchanged; i++) {
        entry_t *e = d->changed[i];
        e->in_batch = false;
        if (e->dirty)
            d->changed[keep++] = e;
        else
            e->listed = false;
    }
    d->nchanged = keep;
}

static void task_fini(stream_task_t *t)
{
    detect_t *d = t->kind_state;
    if (d == NULL)
        return;
    if (d->map != NULL) {
        size_t cursor = 0;
        const void *k;
        size_t klen;
        void *v;
        while (core_map_next(d->map, &cursor, &k, &klen, &v))
            core_free(v);
        core_map_destroy(d->map);
    }
    account(t, d, -d->bytes);
    core_free(d->changed);
    core_free(d->ev);
    core_buf_fini(&d->key);
    core_buf_fini(&d->mkey);
    core_buf_fini(&d->text);
    core_free(d);
    t->kind_state = NULL;
}

const stream_kind_ops_t stream_kind_detect_ops = {
    .prepare = prepare,
    .task_init = task_init,
    .process = process,
    .flush = flush,
    .committed = committed,
    .task_fini = task_fini,
};

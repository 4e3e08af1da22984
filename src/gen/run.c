/*
 * gen_run: drives a generator into a topic at a rate, and the schedule it
 * keeps.
 *
 * Schedule. Record i is due at ceil(i * 1e9 / rate) ns after the start, and
 * a run of N records lasts N / rate seconds. Deadlines are absolute, so
 * time lost to a slow send or a late wake-up is made up by the next step
 * instead of pushing every later record back (no drift). The sender
 * sleeps (clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME) until the
 * record that completes the next batch is due; a batch is ceil(rate x
 * 1 ms) records, so it wakes at most about 1000 times a second whatever
 * the rate, and a step never sends more than GEN_CHUNK records. Sleeps
 * are cut into slices of at most 100 ms so that a stop request is seen.
 *
 * Sending. A step's records are copied into one buffer (a record borrows
 * the generator's buffers only until the next gen_next), grouped by
 * partition (counting sort, stable, so each partition keeps generation
 * order) and produced as one batch per partition. A batch the topic
 * refuses as too big is split in halves.
 *
 * Unlimited rate into an external cluster: the bus's produce call waits
 * for its acknowledgements (acks=all: the broker's fsync), so records are
 * gathered over steps and flushed EXT_CHUNK records or EXT_STEP_BYTES at a
 * time instead, paying that wait per 64k records rather than per 4k. Paced
 * runs and the embedded log send every step as it is made.
 *
 * Threading: the calling thread; *stop may be set from any thread.
 */
#include "gen/gen_int.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "bus/bus.h"

#define STEP_BYTES     (512 * 1024) /* a step's buffer is sent when it holds more */
#define EXT_CHUNK      65536        /* records per flush, unlimited into a cluster */
#define EXT_STEP_BYTES (8 << 20)    /* bytes per flush, unlimited into a cluster */
#define SLICE_NS       100000000LL  /* longest single sleep: 100 ms */

/* ------------------------------------------------------------------------
 * The schedule (pure).
 * ------------------------------------------------------------------------ */
void gen_schedule_init(gen_schedule_t *s, double rate)
{
    s->rate = rate > 0 ? rate : 0;
    if (s->rate == 0) {
        s->batch = GEN_CHUNK;
        return;
    }
    double b = ceil(s->rate * (double)GEN_TICK_NS / 1e9);
    s->batch = b < 1 ? 1 : b > GEN_CHUNK ? GEN_CHUNK : (int64_t)b;
}

int64_t gen_schedule_deadline(const gen_schedule_t *s, int64_t i)
{
    if (s->rate == 0 || i <= 0)
        return 0;
    double t = ceil((double)i * 1e9 / s->rate);
    return t >= 9.2e18 ? INT64_MAX : (int64_t)t;
}

int64_t gen_schedule_due(const gen_schedule_t *s, int64_t elapsed_ns)
{
    if (s->rate == 0)
        return INT64_MAX;
    if (elapsed_ns < 0)
        return 0;
    double d = floor((double)elapsed_ns * s->rate / 1e9) + 1;
    if (d >= 9.2e18)
        return INT64_MAX;
    int64_t n = (int64_t)d;
    /* Agree exactly with gen_schedule_deadline despite rounding. */
    while (n > 0 && gen_schedule_deadline(s, n - 1) > elapsed_ns)
        n--;
    while (gen_schedule_deadline(s, n) <= elapsed_ns)
        n++;
    return n;
}

gen_step_t gen_schedule_step(const gen_schedule_t *s, int64_t sent, int64_t count,
                             int64_t elapsed_ns)
{
    gen_step_t st = {0, elapsed_ns, false};
    if (count >= 0 && sent >= count) {
        int64_t end = gen_schedule_deadline(s, count);
        if (elapsed_ns >= end)
            st.done = true;
        else
            st.wake_ns = end;
        return st;
    }
    int64_t due = gen_schedule_due(s, elapsed_ns);
    if (count >= 0 && due > count)
        due = count;
    if (due > sent) {
        st.send = CORE_MIN(due - sent, (int64_t)GEN_CHUNK);
        return st;
    }
    int64_t next = sent + s->batch - 1;
    if (count >= 0 && next > count - 1)
        next = count - 1;
    st.wake_ns = gen_schedule_deadline(s, next);
    return st;
}

/* ------------------------------------------------------------------------
 * Sending.
 * ------------------------------------------------------------------------ */
typedef struct {
    uint32_t key_off, key_len, value_off, value_len;
    int64_t ts;
    int32_t part;
    uint8_t cls;
} pending_t;

typedef struct {
    bus_t *bus;
    const char *topic;
    int32_t nparts;
    gen_stats_t *stats;
    size_t cap;        /* records held before a flush */
    size_t step_bytes; /* bytes held before a flush */
    core_buf_t bytes;
    pending_t *recs; /* cap */
    size_t n;
    uint32_t *order;     /* cap: recs indices grouped by partition */
    uint32_t *start;     /* nparts + 1 */
    bus_message_t *msgs; /* cap */
} sender_t;

static int sender_init(sender_t *s, bus_t *bus, const char *topic, gen_stats_t *stats, bool big)
{
    memset(s, 0, sizeof *s);
    s->bus = bus;
    s->topic = topic;
    s->stats = stats;
    s->cap = big ? EXT_CHUNK : GEN_CHUNK;
    s->step_bytes = big ? EXT_STEP_BYTES : STEP_BYTES;
    int rc = bus_partitions(bus, topic, &s->nparts);
    if (rc != 0)
        return rc;
    size_t max = s->step_bytes + GEN_KEY_MAX + GEN_VALUE_MAX;
    core_buf_init(&s->bytes, CORE_MEM_GEN, max);
    s->recs = core_calloc(CORE_MEM_GEN, s->cap, sizeof *s->recs);
    s->order = core_calloc(CORE_MEM_GEN, s->cap, sizeof *s->order);
    s->start = core_calloc(CORE_MEM_GEN, (size_t)s->nparts + 1, sizeof *s->start);
    s->msgs = core_calloc(CORE_MEM_GEN, s->cap, sizeof *s->msgs);
    if (s->recs == NULL || s->order == NULL || s->start == NULL || s->msgs == NULL)
        return core_error(CORE_ENOMEM, "gen: send buffers for %s", topic);
    return core_buf_reserve(&s->bytes, max);
}

static void sender_fini(sender_t *s)
{
    core_buf_fini(&s->bytes);
    core_free(s->recs);
    core_free(s->order);
    core_free(s->start);
    core_free(s->msgs);
}

static void sender_add(sender_t *s, const gen_record_t *r)
{
    pending_t *p = &s->recs[s->n++];
    p->key_off = (uint32_t)s->bytes.len;
    p->key_len = (uint32_t)r->key_len;
    core_buf_append(&s->bytes, r->key, r->key_len);
    p->value_off = (uint32_t)s->bytes.len;
    p->value_len = (uint32_t)r->value_len;
    core_buf_append(&s->bytes, r->value, r->value_len);
    p->ts = r->timestamp_ms;
    p->cls = (uint8_t)r->cls;
    p->part = bus_partition_for_key(r->key, r->key_len, s->nparts);
}

/* Produces msgs[0..n) to partition p, halving batches the topic refuses as
 * too big. */
static int produce_split(sender_t *s, int32_t p, bus_message_t *msgs, size_t n)
{
    core_error_clear();
    int rc = bus_produce(s->bus, s->topic, p, msgs, n, false, NULL);
    if (rc == CORE_ETOOBIG && n > 1) {
        rc = produce_split(s, p, msgs, n / 2);
        if (rc == 0)
            rc = produce_split(s, p, msgs + n / 2, n - n / 2);
        return rc;
    }
    if (rc == 0 && s->stats != NULL)
        s->stats->batches++;
    return rc;
}

/* Sends the pending records, one batch per partition. */
static int sender_flush(sender_t *s)
{
    if (s->n == 0)
        return 0;
    memset(s->start, 0, ((size_t)s->nparts + 1) * sizeof *s->start);
    for (size_t i = 0; i < s->n; i++)
        s->start[s->recs[i].part + 1]++;
    for (int32_t p = 0; p < s->nparts; p++)
        s->start[p + 1] += s->start[p];
    for (size_t i = 0; i < s->n; i++) /* stable: generation order per partition */
        s->order[s->start[s->recs[i].part]++] = (uint32_t)i;
    /* start[p] now holds the end of p's run; its beginning is start[p-1]. */
    int rc = 0;
    for (int32_t p = 0; rc == 0 && p < s->nparts; p++) {
        uint32_t lo = p == 0 ? 0 : s->start[p - 1], hi = s->start[p];
        if (lo == hi)
            continue;
        for (uint32_t k = lo; k < hi; k++) {
            const pending_t *r = &s->recs[s->order[k]];
            s->msgs[k - lo] = (bus_message_t){s->bytes.data + r->key_off, r->key_len,
                                              s->bytes.data + r->value_off, r->value_len, r->ts};
        }
        rc = produce_split(s, p, s->msgs, hi - lo);
        if (rc == 0 && s->stats != NULL) {
            s->stats->produced += hi - lo;
            for (uint32_t k = lo; k < hi; k++)
                s->stats->by_class[s->recs[s->order[k]].cls]++;
        }
    }
    s->n = 0;
    core_buf_reset(&s->bytes);
    return rc;
}

/* Generates n records and sends them (all of them when `flush`, else
 * whenever the sender is full). */
static int send_records(gen_t *g, sender_t *s, int64_t n, bool flush)
{
    for (int64_t i = 0; i < n; i++) {
        gen_record_t r;
        gen_next(g, &r);
        sender_add(s, &r);
        if (s->bytes.len > s->step_bytes || s->n == s->cap) {
            int rc = sender_flush(s);
            if (rc != 0)
                return rc;
        }
    }
    return flush ? sender_flush(s) : 0;
}

static void sleep_until(int64_t t0, int64_t wake_ns, int64_t elapsed_ns)
{
    int64_t until = t0 + CORE_MIN(wake_ns, elapsed_ns + SLICE_NS);
    struct timespec ts = {(time_t)(until / 1000000000LL), (long)(until % 1000000000LL)};
    /* EINTR (a signal) returns early; the caller looks at *stop. */
    (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static bool stopped(const int *stop)
{
    return stop != NULL && __atomic_load_n(stop, __ATOMIC_RELAXED) != 0;
}

int gen_run(gen_t *g, bus_t *bus, const char *topic, double rate, int64_t count, const int *stop,
            gen_stats_t *stats)
{
    if (!(rate >= 0) || isinf(rate))
        return core_error(CORE_EINVAL, "gen: rate %g is not a finite number >= 0", rate);
    sender_t s;
    bool big = rate == 0 && bus_is_external(bus);
    int rc = sender_init(&s, bus, topic, stats, big);
    gen_schedule_t sch;
    gen_schedule_init(&sch, rate);
    int64_t sent = 0;
    int64_t t0 = core_mono_ns();
    while (rc == 0 && !stopped(stop)) {
        int64_t elapsed = core_mono_ns() - t0;
        gen_step_t st = gen_schedule_step(&sch, sent, count, elapsed);
        if (st.done)
            break;
        if (st.send == 0) {
            sleep_until(t0, st.wake_ns, elapsed);
            continue;
        }
        rc = send_records(g, &s, st.send, !big);
        sent += st.send;
    }
    if (rc == 0)
        rc = sender_flush(&s); /* what `big` gathered */
    sender_fini(&s);
    return rc;
}

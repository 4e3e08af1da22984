/*
 * Internals of the data simulators shared by their files: the PRNG and
 * distributions (rng.c), the generator object and the interface each kind
 * implements (gen.c), the JSON record writer with its invalid-record
 * mutations (record.c) and the rate schedule of gen_run (run.c).
 *
 * Determinism: everything a kind emits comes from gen_rng_t draws made in
 * a fixed order, from the options and from nothing else (no clock, no
 * address, no hash-map iteration order), so a seed gives the same bytes.
 *
 * Threading: a gen_t and all it holds belong to one thread.
 */
#ifndef STRATA_GEN_INT_H
#define STRATA_GEN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "gen/gen.h"

/* ------------------------------------------------------------------------
 * PRNG: xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that
 * any 64-bit seed, 0 included, gives a well-mixed non-zero state.
 * ------------------------------------------------------------------------ */
typedef struct {
    uint64_t s[4];
    double spare; /* the polar method's second normal deviate */
    bool has_spare;
} gen_rng_t;

/* One splitmix64 step: advances *x and returns the mixed output. Also a good
 * 64-bit hash of a counter (used to derive per-entity attributes). */
uint64_t gen_splitmix64(uint64_t *x);
/* splitmix64's output function applied to x alone. */
uint64_t gen_mix64(uint64_t x);

void gen_rng_seed(gen_rng_t *r, uint64_t seed);
uint64_t gen_rng_u64(gen_rng_t *r);
double gen_rng_uniform(gen_rng_t *r);                        /* [0, 1), 53 bits */
uint64_t gen_rng_below(gen_rng_t *r, uint64_t n);            /* [0, n), unbiased; n > 0 */
int64_t gen_rng_range(gen_rng_t *r, int64_t lo, int64_t hi); /* [lo, hi] */
bool gen_rng_chance(gen_rng_t *r, double p);
double gen_rng_normal(gen_rng_t *r); /* N(0, 1), Marsaglia's polar method */
double gen_rng_exponential(gen_rng_t *r, double mean);
double gen_rng_lognormal(gen_rng_t *r, double mu, double sigma);
/* Index drawn with probability weights[i] / sum(weights); n > 0. */
size_t gen_rng_weighted(gen_rng_t *r, const double *weights, size_t n);

/* Zipf popularity over ranks 0..n-1: P(k) proportional to 1 / (k + 1)^s.
 * A cumulative table, drawn by binary search. */
typedef struct {
    double *cdf; /* owned, n entries, cdf[n - 1] == 1 */
    size_t n;
} gen_zipf_t;

int gen_zipf_init(gen_zipf_t *z, size_t n, double s); /* CORE_ENOMEM */
void gen_zipf_fini(gen_zipf_t *z);
size_t gen_zipf_draw(const gen_zipf_t *z, gen_rng_t *r);

/* A rank in [0, n) with P(k) close to proportional to 1 / (k + 1)^s, for
 * 0 <= s < 1: the continuous power law inverted, so O(1) with no table,
 * for populations too large for gen_zipf_t. n > 0. */
uint64_t gen_power_law(gen_rng_t *r, uint64_t n, double s);

/* ------------------------------------------------------------------------
 * Recently used entities (customers, symbols, users): a late record is
 * another event of one of them, so the partition its key maps to has seen
 * an on-time record a moment ago and its watermark is current.
 * ------------------------------------------------------------------------ */
#define GEN_RECENT 4
typedef struct {
    uint64_t v[GEN_RECENT];
    size_t n;    /* entries held, up to GEN_RECENT */
    size_t next; /* slot of the next push */
} gen_recent_t;

void gen_recent_push(gen_recent_t *r, uint64_t v);
/* One of the two most recent entries; false when empty. */
bool gen_recent_pick(const gen_recent_t *r, gen_rng_t *rng, uint64_t *out);

/* ------------------------------------------------------------------------
 * Kinds
 * ------------------------------------------------------------------------ */
typedef struct gen_kind {
    const char *name;
    /* How far behind the current event time a late record is stamped
     * (uniform in [min, max]); chosen per kind to lie beyond every window
     * plus allowed lateness of the example pipelines that read it. */
    int64_t late_min_ms, late_max_ms;
    /* Share of anomalies that are bursts of burst_len records of one key
     * (0 = none). The class draw is adjusted so that the anomaly share
     * still comes out as requested. */
    double burst_share;
    int burst_len;
    int (*create)(gen_t *g, void **state); /* CORE_ENOMEM */
    void (*destroy)(void *state);
    /* Writes one record of class g->cls into g->key and g->value, with
     * event time g->ts_ms, and sets g->topic_hint if it differs from the
     * kind's name. g->burst_pos >= 0 inside a burst (0 = its first
     * record). Never fails: buffers are reserved at create. */
    void (*emit)(gen_t *g, void *state);
    /* Optional: moves g->now_us on after a record (default: exponential
     * gaps with mean g->interval_us). */
    void (*advance)(gen_t *g, void *state);
} gen_kind_t;

extern const gen_kind_t gen_kind_transactions;
extern const gen_kind_t gen_kind_stocks;
extern const gen_kind_t gen_kind_app;
extern const gen_kind_t gen_kind_web;
extern const gen_kind_t gen_kind_clickstream;
extern const gen_kind_t gen_kind_cdc;
extern const gen_kind_t gen_kind_external;
extern const gen_kind_t gen_kind_nexmark;

/* Largest key and value a kind may write (the buffers are reserved at this
 * size when the generator is created, so gen_next never allocates). */
#define GEN_KEY_MAX   256
#define GEN_VALUE_MAX 8192

struct gen {
    const gen_kind_t *kind;
    void *state; /* the kind's, owned */
    gen_options_t opt;
    gen_rng_t rng;
    /* Class draw, adjusted for bursts (see gen.c). */
    double p_invalid, p_late, p_anomaly, p_burst;
    int burst_left;       /* records of the current burst still to come */
    int burst_pos;        /* position in the current burst, -1 outside */
    int64_t late_debt;    /* late draws postponed until a recent entity exists */
    int64_t ontime_valid; /* normal and anomalous records so far */
    /* Event time. */
    double interval_us;    /* mean gap between records */
    double clock_us;       /* event time since start, in microseconds */
    int64_t now_ms;        /* current event time (start + clock) */
    int64_t late_extra_ms; /* added to the kind's late lag: gaps of recent records */
    uint64_t seq;          /* records emitted before this one */
    /* The record being written. */
    gen_class_t cls;
    int64_t ts_ms; /* its event time: now_ms, or behind it when late */
    const char *topic_hint;
    core_buf_t key;
    core_buf_t value;
    /* A 6-digit number derived from the seed and start, for ids that must
     * not collide between runs ("T4829131"...). */
    uint32_t run_tag;
    /* gen_format_ts: the day of the last timestamp written (days since the
     * epoch, -1 = none) and its "YYYY-MM-DDT". */
    int64_t ts_day;
    char ts_date[12];
    core_buf_t num; /* doubles that take core's writer (GEN_NUM_MAX) */
};

/* ------------------------------------------------------------------------
 * Record writing (record.c)
 *
 * A kind writes its record with these helpers. For an invalid record it
 * first picks one of its mutations; the helpers then drop, replace or
 * duplicate the targeted field as they pass it, or cut the finished JSON
 * short. If the targeted field was never written (it is optional and
 * absent in this record), gen_json_end() falls back to cutting the JSON,
 * so an invalid record is always invalid.
 * ------------------------------------------------------------------------ */
typedef enum {
    GEN_MUT_DROP,     /* leave the field out (required fields) */
    GEN_MUT_RAW,      /* write `raw` (JSON text) as the field's value */
    GEN_MUT_DUP,      /* write the field twice (a duplicated member) */
    GEN_MUT_TRUNCATE, /* cut the JSON short: not JSON at all */
} gen_mut_op_t;

typedef struct {
    gen_mut_op_t op;
    const char *scope; /* enclosing member ("after"), or NULL for top level */
    const char *field;
    const char *raw;
} gen_mutation_t;

/* The writer appends straight to g->value, placing commas itself, and
 * writes the bytes core's JSON writer would (gen_json_* is its fast path:
 * records are flat objects with one level of nesting, ASCII keys and
 * numbers of a fixed number of decimals). An append that would pass
 * GEN_VALUE_MAX, or a string that is not UTF-8, fails the record as core's
 * writer would (see gen_json_end). */
typedef struct {
    gen_t *g;
    const gen_mutation_t *mut; /* NULL for a valid record */
    const char *scope;         /* member name of the object being written */
    uint32_t has_items;        /* bit d: the object at depth d has a member */
    int depth;                 /* open objects */
    bool failed;               /* an append did not fit, or bad UTF-8 */
    bool applied;              /* the mutation has been applied */
} gen_json_t;

/* Starts the value (an object) of the current record. mut may be NULL. */
void gen_json_begin(gen_t *g, gen_json_t *j, const gen_mutation_t *mut);
void gen_json_str(gen_json_t *j, const char *key, const char *s);
void gen_json_i64(gen_json_t *j, const char *key, int64_t v);
/* v rounded to `decimals` places (0..6). */
void gen_json_f64(gen_json_t *j, const char *key, double v, int decimals);
void gen_json_bool(gen_json_t *j, const char *key, bool v);
void gen_json_null(gen_json_t *j, const char *key);
/* An ISO 8601 UTC string with milliseconds, "2026-11-22T13:04:05.120Z". */
void gen_json_ts(gen_json_t *j, const char *key, int64_t ms);
/* A nested object under `key`; returns false when the mutation dropped or
 * replaced it (then write nothing and do not call gen_json_obj_end). */
bool gen_json_obj_begin(gen_json_t *j, const char *key);
void gen_json_obj_end(gen_json_t *j);
/* Closes the object and applies a truncation (or the fallback). */
void gen_json_end(gen_json_t *j);

/* Longest number text gen_format_fixed writes (sign, 15 digits, point). */
#define GEN_NUM_MAX 40

/* The text core_json_write_double() gives for round(v * 10^decimals) /
 * 10^decimals (decimals 0..6), made from the integer round(v * 10^decimals)
 * instead of through printf: its digits with the point put back, trailing
 * zeros dropped, ".0" for a whole number. Returns the length written to
 * out (at least GEN_NUM_MAX bytes, no NUL), or 0 where %g would choose
 * another form (zero, magnitudes below 1e-4 or of 1e15 and more, more than
 * 15 digits, not finite); the caller then uses core's writer. */
size_t gen_format_fixed(double v, int decimals, char *out);

/* The text of core_format_iso8601_ms(ms) ("2026-11-22T13:04:05.120Z", 24
 * bytes, no NUL) into out (at least 32 bytes); returns its length. The
 * date part is kept in g between calls, as consecutive records mostly
 * share a day. Years outside 1970..9999 take core's formatter. */
size_t gen_format_ts(gen_t *g, int64_t ms, char *out);

/* Picks one of n mutations uniformly. */
const gen_mutation_t *gen_pick_mutation(gen_t *g, const gen_mutation_t *muts, size_t n);

/* Sets the record's key from a string or a formatted number. */
void gen_key_str(gen_t *g, const char *s);
void gen_key_u64(gen_t *g, const char *prefix, uint64_t v);

/* For a late record, an entity from `recent`; else false (the caller then
 * picks as for a normal record). */
bool gen_late_entity(gen_t *g, const gen_recent_t *recent, uint64_t *out);
/* Records that a normal or anomalous record used entity v. */
void gen_note_entity(gen_t *g, gen_recent_t *recent, uint64_t v);

/* Formats days since the epoch as "YYYY-MM-DD" (dates of birth). */
void gen_format_date(int64_t days, char *out, size_t n);

/* Appends the default exponential gap to the event clock. */
void gen_advance_default(gen_t *g);
/* Recomputes now_ms from clock_us. */
void gen_clock_sync(gen_t *g);

/* ------------------------------------------------------------------------
 * Rate schedule (run.c), pure so it can be tested without a clock.
 *
 * Record i (0-based) is due at i / rate seconds after the start; a run of
 * N records ends at N / rate. The sender wakes at most once per tick
 * (GEN_TICK_NS) and then sends every record that is due, so batches grow
 * with the rate while the number of wake-ups stays bounded. Deadlines are
 * absolute, from the start, so a late wake-up or a slow send never shifts
 * the records after it (no drift): the next step sends what is overdue.
 * ------------------------------------------------------------------------ */
#define GEN_TICK_NS 1000000LL /* 1 ms */
#define GEN_CHUNK   4096      /* most records one step sends */

typedef struct {
    double rate;   /* records per second; 0 = unlimited */
    int64_t batch; /* records per wake-up at this rate */
} gen_schedule_t;

typedef struct {
    int64_t send;    /* records to send now (0 = sleep) */
    int64_t wake_ns; /* when send is 0: elapsed time to sleep until */
    bool done;       /* count reached and the run's time is over */
} gen_step_t;

void gen_schedule_init(gen_schedule_t *s, double rate);
/* Records due by `elapsed_ns` (all of 0..n-1 with deadline <= elapsed). */
int64_t gen_schedule_due(const gen_schedule_t *s, int64_t elapsed_ns);
/* Deadline of record i, in ns from the start. */
int64_t gen_schedule_deadline(const gen_schedule_t *s, int64_t i);
/* What to do with `sent` records sent of `count` (< 0 = unbounded). */
gen_step_t gen_schedule_step(const gen_schedule_t *s, int64_t sent, int64_t count,
                             int64_t elapsed_ns);

#endif /* STRATA_GEN_INT_H */

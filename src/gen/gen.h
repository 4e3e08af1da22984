/* gen: data simulators. Each kind produces realistic JSON events with a
 * stable key, so that all of a key's state lives in one partition, and
 * with event-time timestamps. Output is a pure function of the options:
 * the same kind, seed and start give byte-identical records.
 *
 * Kinds: transactions, stocks, app, web, clickstream, cdc, external,
 * nexmark. See docs/generators.md for each kind's fields and
 * distributions.
 *
 * Lifecycle: gen_create() -> gen_next()... -> gen_destroy(); or
 * gen_run(), which drives a generator into a bus topic at a rate.
 *
 * Threading: a gen_t belongs to one thread.
 */
#ifndef STRATA_GEN_H
#define STRATA_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"

typedef struct gen gen_t;

typedef struct {
    const char *kind; /* borrowed for the call */
    uint64_t seed;
    /* Event time of the first record (ms since the epoch). Records advance
     * event time by 1000 / rate ms on average (rate below; 0 = 1000/s).
     * Must be set: pass the wall clock for live use, a fixed value for
     * reproducible output. */
    int64_t start_ms;
    double rate;          /* events per second of event time, for stamps */
    double invalid_ratio; /* share of records that fail their schema */
    double late_ratio;    /* share stamped far behind the stream (minutes) */
    double anomaly_ratio; /* share with anomalous values (amount spikes,
                           * price jumps, bursts); what counts as an
                           * anomaly per kind is in docs/generators.md */
} gen_options_t;

/* What the record is, for tests and counters. Exactly one class. */
typedef enum {
    GEN_CLASS_NORMAL,
    GEN_CLASS_INVALID,
    GEN_CLASS_LATE,
    GEN_CLASS_ANOMALY,
} gen_class_t;

/* One generated record. Pointers borrow the generator's buffers until the
 * next gen_next() or gen_destroy(). */
typedef struct {
    const char *topic_hint; /* nexmark: "person", "auction" or "bid";
                             * otherwise the kind's name */
    const char *key;
    size_t key_len;
    const char *value; /* one JSON object, no newline */
    size_t value_len;
    int64_t timestamp_ms; /* event time, also used as the record timestamp */
    gen_class_t cls;
} gen_record_t;

/* The kinds' names, NULL-terminated, static. */
const char *const *gen_kinds(void);

/* CORE_EINVAL for an unknown kind (detail lists the kinds) or a ratio
 * outside [0, 1] or ratios summing above 1. */
int gen_create(const gen_options_t *o, gen_t **out);
void gen_destroy(gen_t *g); /* NULL is ignored */

/* The next record. Never fails once created. */
void gen_next(gen_t *g, gen_record_t *out);

/* Counters of gen_run. */
typedef struct {
    int64_t produced;
    int64_t by_class[4]; /* indexed by gen_class_t */
    int64_t batches;
} gen_stats_t;

/* Produces into TOPIC of BUS (partition by key, bus_partition_for_key) at
 * RATE records per second of wall time (0 = as fast as possible), COUNT
 * records (< 0 = until *stop becomes non-zero). Rate control holds the
 * achieved rate within 2% from 10/s to the machine's limit, sending in
 * small batches on a fixed schedule (no drift). STOP may be NULL; it is
 * read with an atomic load. STATS (may be NULL) is updated as it goes
 * (plain stores; read it after return, or racily for display). Errors
 * come from bus_produce (CORE_ENOENT for a missing topic). */
int gen_run(gen_t *g, bus_t *bus, const char *topic, double rate, int64_t count, const int *stop,
            gen_stats_t *stats);

#endif

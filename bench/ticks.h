/*
 * Generated stock ticks for the benchmarks (bench_stream, bench_lake): ~100
 * bytes of JSON per tick, 100 symbols on a random walk, event times a few
 * hundred ms out of order, produced into a seglog topic (a symbol keeps to
 * one partition) and optionally written as NDJSON for DuckDB.
 * Deterministic: the same count gives the same ticks.
 */
#ifndef STRATA_BENCH_TICKS_H
#define STRATA_BENCH_TICKS_H

#include <stdint.h>

#include "bus/bus.h"
#include "schema/schema.h"
#include "seglog/seglog.h"

#define TICKS_SYMBOLS 100
#define TICKS_BASE_MS 1795341600000LL /* 2026-11-22T10:00:00Z */

/* The generator: a seed, each symbol's price, and the ticks made so far. */
typedef struct {
    uint64_t rng;
    double price[TICKS_SYMBOLS];
    int64_t i;
} bench_ticks_t;

/* One tick's values, as its JSON carries them (the price before rounding
 * to cents). */
typedef struct {
    int sym;
    double price;
    int volume;
    int64_t ms;
} bench_tick_t;

/* Starts a generator; the same seed gives the same ticks. */
void bench_ticks_init(bench_ticks_t *g, uint64_t seed);
/* The next tick as JSON into buf (n >= 160); returns its length. *t (may
 * be NULL) gets its values. */
int bench_ticks_json(bench_ticks_t *g, char *buf, size_t n, bench_tick_t *t);

/* Produces `events` ticks (seed BENCH_TICKS_SEED) into `partitions`
 * partitions of topic (symbol modulo partitions; record timestamps
 * TICKS_BASE_MS + i) and, when ndjson is not NULL, writes each one there
 * as a line too. *volume (may be NULL) gets the sum of their volumes. */
#define BENCH_TICKS_SEED 0x9e3779b97f4a7c15ull
int bench_ticks_produce(bus_t *bus, const char *topic, int32_t partitions, int64_t events,
                        const char *ndjson, int64_t *volume);

/* Opens a seglog in <root>/log holding the topic `topic` of `partitions`
 * partitions (flush never: the benchmarks time the readers), and a bus
 * over it. On failure what was opened is left in *log and *bus for the
 * caller to close. */
int bench_ticks_log(const char *root, const char *topic, int32_t partitions, seglog_t **log,
                    bus_t **bus);

/* The ticks' schema: symbol (string), price (float), bid and ask (optional
 * floats), volume (int), ts (ISO 8601 timestamp); the caller destroys it.
 * NULL when out of memory. */
schema_t *bench_ticks_schema(void);

#endif

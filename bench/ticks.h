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

#define TICKS_SYMBOLS 100
#define TICKS_BASE_MS 1795341600000LL /* 2026-11-22T10:00:00Z */

/* Produces `events` ticks into `partitions` partitions of topic (record
 * timestamps TICKS_BASE_MS + i) and, when ndjson is not NULL, writes each
 * one there as a line too. */
int bench_ticks_produce(bus_t *bus, const char *topic, int32_t partitions, int64_t events,
                        const char *ndjson);

/* The ticks' schema: symbol (string), price (float), bid and ask (optional
 * floats), volume (int), ts (ISO 8601 timestamp); the caller destroys it.
 * NULL when out of memory. */
schema_t *bench_ticks_schema(void);

#endif

/*
 * Internals of the bus shared by its implementations: the vtable each one
 * fills in (bus_seglog.c: the embedded seglog; kafka.c: an external Kafka
 * cluster through librdkafka) and the fields every bus and reader share.
 *
 * bus.c owns the dispatch, the generation counter and its condition
 * variable (bus_generation, bus_wait, bus_wake), and the partitioner; an
 * implementation bumps the generation with bus_notify() whenever records
 * may have become readable.
 */
#ifndef STRATA_BUS_INT_H
#define STRATA_BUS_INT_H

#include <pthread.h>

#include "bus/bus.h"

typedef struct {
    const char *name; /* "seglog", "kafka" */
    bool external;    /* bus_is_external() */
    void (*close)(bus_t *b);
    int (*partitions)(bus_t *b, const char *topic, int32_t *count);
    int (*offsets)(bus_t *b, const char *topic, int32_t partition, int64_t *start, int64_t *end);
    int (*offset_for_time)(bus_t *b, const char *topic, int32_t partition, int64_t ts_ms,
                           int64_t *offset);
    /* Allocates the implementation's reader; bus.c fills the common part
     * (bus, topic, partition, pos) before calling it, and frees it after
     * reader_close. */
    int (*reader_open)(bus_reader_t *r);
    void (*reader_close)(bus_reader_t *r);
    int (*reader_poll)(bus_reader_t *r, bus_record_t *recs, size_t max, size_t *n, int timeout_ms);
    int64_t (*reader_end)(bus_reader_t *r);
    int (*produce)(bus_t *b, const char *topic, int32_t partition, const bus_message_t *msgs,
                   size_t n, bool sync, int64_t *base);
    /* Optional (external buses): consumer groups. */
    int (*group_open)(bus_t *b, const char *topic, const char *group,
                      const bus_group_callbacks_t *cb, bus_group_t **out);
} bus_ops_t;

/* The part every bus shares; an implementation embeds it first. */
struct bus {
    const bus_ops_t *ops;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* with mu: the generation moved */
    uint64_t gen;      /* guarded by mu */
    uint32_t rr;       /* round-robin cursor for null keys (atomic) */
};

/* The part every reader shares. `impl` is the implementation's state. */
struct bus_reader {
    bus_t *bus;
    char *topic; /* owned */
    int32_t partition;
    int64_t pos; /* next offset to hand out */
    void *impl;
};

/* Initialises the shared part (ops, lock, condition variable). */
void bus_base_init(bus_t *b, const bus_ops_t *ops);
void bus_base_fini(bus_t *b);
/* Bumps the generation and wakes waiters (any thread). */
void bus_notify(bus_t *b);
/* The partition a batch goes to when the caller passed partition < 0. */
int32_t bus_pick_partition(bus_t *b, const bus_message_t *first, int32_t partitions);

/* Opens a seglog bus (bus_seglog.c) and a Kafka bus (kafka.c). */
int bus_seglog_open(seglog_t *log, bus_t **out);

#endif

/*
 * bus: how pipelines, jobs and generators reach topics. Produce, consume
 * and read ranges over the embedded seglog (bus_open_seglog) or over an
 * external Kafka cluster through librdkafka (bus_open_kafka); both are
 * implementations of the vtable in bus_int.h.
 *
 * Lifecycle: bus_open_seglog() or bus_open_kafka() -> readers, groups and
 * produce calls -> bus_close() (after every reader and group is closed).
 *
 * Threading: a bus_t may be shared by threads (the seglog and librdkafka
 * handles are thread-safe); a bus_reader_t and a bus_group_t belong to one
 * thread.
 *
 * Records handed out by a reader borrow its buffers until its next poll.
 * Offsets are Kafka offsets; timestamps are the record's Kafka timestamp in
 * milliseconds.
 */
#ifndef STRATA_BUS_H
#define STRATA_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef struct bus bus_t;
typedef struct bus_reader bus_reader_t;
typedef struct seglog seglog_t;

/* A bus over an open seglog (borrowed; it must outlive the bus). */
int bus_open_seglog(seglog_t *log, bus_t **out);
void bus_close(bus_t *b); /* NULL is ignored */

/* A bus over an external Kafka cluster. bootstrap is "host:port[,...]"
 * (copied); props[0..nprops) are librdkafka properties "name=value"
 * (copied), applied to every producer and consumer the bus creates, after
 * strata's defaults and before the settings the bus needs (idempotence,
 * acks=all, no auto commit). Checks the cluster answers a metadata request
 * within 10 s. CORE_EINVAL: a property librdkafka rejects (the detail names
 * it); CORE_EIO: the cluster is unreachable. */
int bus_open_kafka(const char *bootstrap, const char *const *props, size_t nprops, bus_t **out);
/* Whether the bus is an external cluster (pipelines then share partitions
 * with other instances through consumer groups). */
bool bus_is_external(const bus_t *b);

/* Partition count of a topic. CORE_ENOENT if it does not exist. */
int bus_partitions(bus_t *b, const char *topic, int32_t *count);
/* First stored offset and next offset to be written. */
int bus_offsets(bus_t *b, const char *topic, int32_t partition, int64_t *start, int64_t *end);
/* First offset whose record timestamp is >= ts_ms, or the end offset. */
int bus_offset_for_time(bus_t *b, const char *topic, int32_t partition, int64_t ts_ms,
                        int64_t *offset);

typedef struct {
    const char *key; /* NULL when the key is null */
    size_t key_len;
    const char *value; /* NULL when the value is null (a tombstone) */
    size_t value_len;
    int64_t offset;
    int64_t timestamp_ms;
    int32_t partition;
} bus_record_t;

/* A reader of one partition from `offset` on. */
int bus_reader_open(bus_t *b, const char *topic, int32_t partition, int64_t offset,
                    bus_reader_t **out);
void bus_reader_close(bus_reader_t *r); /* NULL is ignored */

/* Fills recs[0..max) with the next records and sets *n. When none is
 * available it waits up to timeout_ms for an append (0 = do not wait) and
 * returns with *n = 0 if nothing came. If the position was deleted by
 * retention it moves to the log start and logs a warning. Errors:
 * CORE_ECORRUPT (detail names topic, partition and offset), CORE_EFAILED
 * (the partition has failed), CORE_ENOENT (topic deleted). */
int bus_reader_poll(bus_reader_t *r, bus_record_t *recs, size_t max, size_t *n, int timeout_ms);
/* The offset of the next record poll will return. */
int64_t bus_reader_position(const bus_reader_t *r);
/* The partition's end offset (next to be written): lag = end - position. */
int64_t bus_reader_end(bus_reader_t *r);
/* Wakes readers and waiters blocked in poll or bus_wait (any thread). */
void bus_wake(bus_t *b);
/* A counter that moves on every append (and wake). Take it before reading,
 * then bus_wait() returns at once if anything was appended since. */
uint64_t bus_generation(bus_t *b);
void bus_wait(bus_t *b, uint64_t seen, int timeout_ms);

/* One record to produce. */
typedef struct {
    const void *key; /* NULL = null key */
    size_t key_len;
    const void *value; /* NULL = null value */
    size_t value_len;
    int64_t timestamp_ms; /* < 0: now */
} bus_message_t;

/* Kafka's default partitioner: murmur2 of the key modulo the partition
 * count; null keys go round-robin. */
int32_t bus_partition_for_key(const void *key, size_t key_len, int32_t partitions);

/* Appends msgs[0..n) to one partition as one batch (partition < 0: all
 * messages must have keys, or all null keys, and go where the first
 * message's key points), written with the topic's flush policy and
 * acknowledged as acks=all would be when `sync` is set. *base (may be NULL)
 * gets the first offset. CORE_ETOOBIG if the batch exceeds the topic's
 * max message size. */
int bus_produce(bus_t *b, const char *topic, int32_t partition, const bus_message_t *msgs, size_t n,
                bool sync, int64_t *base);

/* ---- Consumer groups (external buses only).
 *
 * A group member of `group` subscribed to `topic`: the cluster assigns it
 * a share of the topic's partitions and moves them between members as they
 * come and go (an eager protocol: on every rebalance all of a member's
 * partitions are revoked, then the new share is assigned). The member
 * reads nothing itself: its owner reads assigned partitions with readers at
 * offsets of its own choosing. Callbacks run inside bus_group_poll and
 * bus_group_close, on the calling thread; an error a callback returns is
 * returned by that call. */
typedef struct bus_group bus_group_t;
typedef struct {
    int (*assigned)(void *arg, const int32_t *partitions, size_t n);
    /* Called before the partitions go to another member: the owner must
     * stop reading them (and commit what it wants kept) before returning. */
    int (*revoked)(void *arg, const int32_t *partitions, size_t n);
    void *arg;
} bus_group_callbacks_t;

/* Joins `group` (copied) for `topic` (copied); cb is copied. CORE_EUNSUPP on
 * the embedded bus. */
int bus_group_open(bus_t *b, const char *topic, const char *group, const bus_group_callbacks_t *cb,
                   bus_group_t **out);
/* Keeps the membership alive and serves rebalances; call it at least every
 * few seconds. Waits up to timeout_ms for an event. */
int bus_group_poll(bus_group_t *g, int timeout_ms);
/* Records that partition's records before `next` are processed: sent to
 * the cluster as the group's committed offset (asynchronously, at most once
 * a second, for monitoring tools; strata never reads it back). */
void bus_group_commit(bus_group_t *g, int32_t partition, int64_t next);
/* Leaves the group (the revoked callback runs for the partitions still
 * held) and frees g. NULL is ignored. */
void bus_group_close(bus_group_t *g);

#endif

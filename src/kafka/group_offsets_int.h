/*
 * group_offsets_int.h - committed consumer-group offsets on the internal
 * topic __consumer_offsets, private to the group coordinator (group*.c).
 *
 * The store knows nothing about membership: group.c decides whether a
 * commit is allowed (member id, generation, group state) and hands the
 * accepted ones here. The store checks each partition's own limits,
 * appends one batch, waits for durability through the kafka_sync_fn, and
 * only then applies the offsets in memory and reports. Appends are applied
 * strictly in append order, whatever order the sync completions arrive in,
 * so a committed offset never goes backwards through reordering.
 *
 * Record format (Kafka's own, so Kafka tools can read the topic):
 *   key    int16 version (1), string group, string topic, int32 partition
 *   value  int16 version (3), int64 offset, int32 leader epoch,
 *          string metadata, int64 commit timestamp (wall ms)
 *          null value = tombstone (the offset was deleted)
 * Strings are int16 length + bytes. Replay also reads value versions 0-2
 * and skips group-metadata keys (version 2).
 *
 * Threading: loop thread only, like the coordinator.
 */
#ifndef STRATA_KAFKA_GROUP_OFFSETS_INT_H
#define STRATA_KAFKA_GROUP_OFFSETS_INT_H

#include "kafka/group_int.h"

#define KAFKA_OFFSETS_TOPIC "__consumer_offsets"

typedef struct kafka_offsets kafka_offsets_t;

/* Opens __consumer_offsets in `log` (creating it with one partition, flush
 * never, unlimited retention) and replays it. Undecodable records are
 * logged (topic, partition, offset) and skipped; an unreadable stretch of
 * the log stops the replay with an error in the log, not a failure.
 * `sync` may be NULL: then seglog_sync() is called on the loop thread.
 * Errors: CORE_ENOMEM, or the seglog error when the topic cannot be
 * created or has no partition 0 (the detail says which). */
int kafka_offsets_open(seglog_t *log, int32_t max_metadata_bytes, kafka_sync_fn sync,
                       void *sync_ctx, kafka_offsets_t **out);
/* Reports every commit still waiting for durability (an entry that was
 * already made durable reports 0, the others COORDINATOR_NOT_AVAILABLE)
 * and frees the store. A sync completion that arrives afterwards is safe:
 * it only frees its own record. NULL is ignored. */
void kafka_offsets_close(kafka_offsets_t *o);

/* Stores the entries of req whose error is 0 (others are left alone).
 * Sets 12 for metadata over the cap and 17 for a null or over-long topic,
 * appends the rest as one batch, and calls cb(arg, req) once they are
 * durable and applied, or once they have failed (28 when the batch is
 * over the topic's max message size, 15 when the append or the sync
 * failed). cb may run before this returns. `req` and the entries' byte
 * views are only read during this call; req itself must stay valid until
 * cb, which writes the final errors into it. */
void kafka_offsets_commit(kafka_offsets_t *o, kafka_commit_req_t *req, kafka_commit_cb cb,
                          void *arg);

/* The committed offset of one partition; offset -1 and empty metadata when
 * there is none. out->metadata is valid until the next call into the store. */
void kafka_offsets_get(kafka_offsets_t *o, kafka_bytes_t group, kafka_bytes_t topic,
                       int32_t partition, kafka_committed_t *out);
/* Calls fn for every committed offset of a group, until fn returns non-zero.
 * fn must not call into the store. */
void kafka_offsets_each(kafka_offsets_t *o, kafka_bytes_t group,
                        int (*fn)(void *arg, kafka_bytes_t topic, int32_t partition,
                                  const kafka_committed_t *c),
                        void *arg);
/* Calls fn for every group id that has committed offsets. fn must not call
 * into the store. */
void kafka_offsets_each_group(kafka_offsets_t *o, void (*fn)(void *arg, kafka_bytes_t group),
                              void *arg);
/* True if the group has committed offsets or a commit in flight. */
bool kafka_offsets_in_use(kafka_offsets_t *o, kafka_bytes_t group);

/* Writes tombstones for every offset of `topic` (in every group), durably
 * through the same path as commits, and drops them from memory in append
 * order. A failed write is logged; the offsets are dropped anyway. */
void kafka_offsets_topic_deleted(kafka_offsets_t *o, kafka_bytes_t topic);

#endif /* STRATA_KAFKA_GROUP_OFFSETS_INT_H */

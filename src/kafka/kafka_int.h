/*
 * kafka_int.h - types shared by the broker's parts: byte views, Kafka
 * error codes, and the asynchronous durability hook.
 *
 * The broker's files and their internal headers:
 *   server_int.h  server.c     epoll loop, connections, framing, ordered responses
 *   proto_int.h   wire.c, proto*.c   request decoding and response encoding
 *   group_int.h   group*.c     classic group coordinator and committed offsets
 *   broker.c, handlers*.c      the APIs: glue between the above and seglog
 *   syncer.c                   threads that wait for fsyncs off the loop
 */
#ifndef STRATA_KAFKA_INT_H
#define STRATA_KAFKA_INT_H

#include "kafka/kafka.h"

#include <string.h>

/* A view of bytes inside a request frame or other storage; len -1 = null. */
typedef struct {
    const uint8_t *p;
    int32_t len;
} kafka_bytes_t;

#define KAFKA_NULL_BYTES ((kafka_bytes_t){NULL, -1})

static inline bool kafka_bytes_eq(kafka_bytes_t a, kafka_bytes_t b)
{
    return a.len == b.len && (a.len <= 0 || memcmp(a.p, b.p, (size_t)a.len) == 0);
}

/* Kafka error codes used by the broker (Errors.java). */
enum {
    KAFKA_ERR_UNKNOWN_SERVER_ERROR = -1,
    KAFKA_ERR_NONE = 0,
    KAFKA_ERR_OFFSET_OUT_OF_RANGE = 1,
    KAFKA_ERR_CORRUPT_MESSAGE = 2,
    KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    KAFKA_ERR_INVALID_FETCH_SIZE = 4,
    KAFKA_ERR_LEADER_NOT_AVAILABLE = 5,
    KAFKA_ERR_NOT_LEADER_OR_FOLLOWER = 6,
    KAFKA_ERR_REQUEST_TIMED_OUT = 7,
    KAFKA_ERR_MESSAGE_TOO_LARGE = 10,
    KAFKA_ERR_OFFSET_METADATA_TOO_LARGE = 12,
    KAFKA_ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    KAFKA_ERR_COORDINATOR_NOT_AVAILABLE = 15,
    KAFKA_ERR_NOT_COORDINATOR = 16,
    KAFKA_ERR_INVALID_TOPIC_EXCEPTION = 17,
    KAFKA_ERR_RECORD_LIST_TOO_LARGE = 18,
    KAFKA_ERR_INVALID_REQUIRED_ACKS = 21,
    KAFKA_ERR_ILLEGAL_GENERATION = 22,
    KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    KAFKA_ERR_INVALID_GROUP_ID = 24,
    KAFKA_ERR_UNKNOWN_MEMBER_ID = 25,
    KAFKA_ERR_INVALID_SESSION_TIMEOUT = 26,
    KAFKA_ERR_REBALANCE_IN_PROGRESS = 27,
    KAFKA_ERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    KAFKA_ERR_INVALID_TIMESTAMP = 32,
    KAFKA_ERR_UNSUPPORTED_VERSION = 35,
    KAFKA_ERR_TOPIC_ALREADY_EXISTS = 36,
    KAFKA_ERR_INVALID_PARTITIONS = 37,
    KAFKA_ERR_INVALID_REPLICATION_FACTOR = 38,
    KAFKA_ERR_INVALID_REQUEST = 42,
    KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    KAFKA_ERR_INVALID_PRODUCER_EPOCH = 47,
    KAFKA_ERR_UNKNOWN_PRODUCER_ID = 59,
    KAFKA_ERR_NON_EMPTY_GROUP = 68,
    KAFKA_ERR_GROUP_ID_NOT_FOUND = 69,
    KAFKA_ERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    KAFKA_ERR_MEMBER_ID_REQUIRED = 79,
    KAFKA_ERR_GROUP_MAX_SIZE_REACHED = 81,
    KAFKA_ERR_FENCED_INSTANCE_ID = 82,
    KAFKA_ERR_INVALID_RECORD = 87
};

/* Asks for `part` to be durable up to end_offset without blocking the loop:
 * the implementation calls done(done_arg, rc) on the loop thread once
 * seglog_sync(part, end_offset) has returned rc. */
typedef void (*kafka_sync_done_fn)(void *done_arg, int rc);
typedef int (*kafka_sync_fn)(void *sync_ctx, seglog_part_t *part, int64_t end_offset,
                             kafka_sync_done_fn done, void *done_arg);

#endif /* STRATA_KAFKA_INT_H */

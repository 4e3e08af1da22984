/*
 * kafka.h - the Kafka-compatible broker: strata's log served over the Kafka
 * wire protocol to unchanged Kafka clients (librdkafka and kcat,
 * confluent-kafka, kafka-python, kafkajs).
 *
 * Lifecycle: kafka_config_default() -> adjust -> kafka_broker_create()
 * (binds the listener) -> kafka_broker_start() (a thread of its own) or
 * kafka_broker_run() (the calling thread) -> kafka_broker_stop() ->
 * kafka_broker_destroy().
 *
 * The broker borrows the seglog; the caller keeps it open until the broker
 * is destroyed. Committed consumer-group offsets live in the internal topic
 * __consumer_offsets of that log, so they survive restarts.
 *
 * Threading: one event-loop thread owns connections, groups and request
 * handling; a few sync threads wait for fsyncs (acks=all, offset commits)
 * and hand completions back to the loop. kafka_broker_stop() and
 * kafka_broker_stats() may be called from any thread.
 */
#ifndef STRATA_KAFKA_H
#define STRATA_KAFKA_H

#include "core/core.h"
#include "seglog/seglog.h"

typedef struct kafka_broker kafka_broker_t;

typedef struct {
    const char *listen;                   /* "127.0.0.1:9092"; port 0 picks a free one */
    const char *advertise;                /* "host:port" for Metadata; NULL = listen address */
    int32_t node_id;                      /* 0 */
    int32_t default_partitions;           /* for auto-created topics; 1 */
    bool auto_create_topics;              /* on Metadata, as Kafka's auto.create.topics.enable */
    int32_t max_request_bytes;            /* socket.request.max.bytes; 16 MiB */
    int32_t max_connections;              /* 1000 */
    int64_t idle_timeout_ms;              /* connections.max.idle.ms; 600000 */
    int64_t initial_rebalance_delay_ms;   /* group.initial.rebalance.delay.ms; 3000 */
    int32_t sync_threads;                 /* fsync waiters; 2 */
    seglog_topic_config_t topic_defaults; /* for created topics (partitions ignored) */
} kafka_config_t;

void kafka_config_default(kafka_config_t *cfg);

/* Binds the listener and loads group offsets. Errors: CORE_EINVAL (bad
 * address), CORE_EIO (bind failed; the detail says why). */
int kafka_broker_create(seglog_t *log, const kafka_config_t *cfg, kafka_broker_t **out);
/* The bound port (useful with port 0). */
int kafka_broker_port(const kafka_broker_t *b);
/* Runs the event loop on the calling thread until kafka_broker_stop(). */
int kafka_broker_run(kafka_broker_t *b);
/* Runs the event loop on a new thread. */
int kafka_broker_start(kafka_broker_t *b);
/* Asks the loop to stop; returns at once. Thread-safe and async-signal-safe. */
void kafka_broker_stop(kafka_broker_t *b);
/* Stops (joining a thread from kafka_broker_start()), closes every
 * connection and frees the broker. NULL is ignored. */
void kafka_broker_destroy(kafka_broker_t *b);

/* API keys the broker serves. */
enum {
    KAFKA_API_PRODUCE = 0,
    KAFKA_API_FETCH = 1,
    KAFKA_API_LIST_OFFSETS = 2,
    KAFKA_API_METADATA = 3,
    KAFKA_API_OFFSET_COMMIT = 8,
    KAFKA_API_OFFSET_FETCH = 9,
    KAFKA_API_FIND_COORDINATOR = 10,
    KAFKA_API_JOIN_GROUP = 11,
    KAFKA_API_HEARTBEAT = 12,
    KAFKA_API_LEAVE_GROUP = 13,
    KAFKA_API_SYNC_GROUP = 14,
    KAFKA_API_DESCRIBE_GROUPS = 15,
    KAFKA_API_LIST_GROUPS = 16,
    KAFKA_API_API_VERSIONS = 18,
    KAFKA_API_CREATE_TOPICS = 19,
    KAFKA_API_DELETE_TOPICS = 20,
    KAFKA_API_INIT_PRODUCER_ID = 22,
    KAFKA_API_KEY_MAX = 22
};

/* Counters, for /metrics later. Every rejection is counted. */
typedef struct {
    int64_t requests[KAFKA_API_KEY_MAX + 1];
    int64_t errors[KAFKA_API_KEY_MAX + 1]; /* responses carrying an error code */
    int64_t unsupported_requests;          /* unknown key or version */
    int64_t malformed_requests;            /* closed: unparsable */
    int64_t oversized_requests;            /* closed: over max_request_bytes */
    int64_t rejected_connections;          /* over max_connections */
    int64_t idle_closed;                   /* closed after idle_timeout_ms */
    int64_t connections;                   /* open now */
    int64_t corrupt_batches;               /* CORRUPT_MESSAGE answers */
    int64_t oversized_batches;             /* MESSAGE_TOO_LARGE answers */
    int64_t duplicate_batches;             /* idempotent retries answered from memory */
    int64_t records_in;
    int64_t bytes_in;
    int64_t bytes_out;
} kafka_stats_t;

void kafka_broker_stats(kafka_broker_t *b, kafka_stats_t *out);

#endif /* STRATA_KAFKA_H */

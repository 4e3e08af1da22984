/*
 * broker_int.h - the broker object and the API handlers that run on its
 * event loop.
 *
 * A request arrives in broker.c (on_request): the header is decoded, the
 * API and version checked, the response header written into the slot, the
 * body decoded into arena memory, and the handler for the API called. A
 * handler returns what the server should do with the slot:
 * KAFKA_SERVER_DONE (the body is in slot->out), KAFKA_SERVER_DEFER (it
 * keeps the slot and completes it later with kafka_broker_complete()),
 * KAFKA_SERVER_NO_RESPONSE (acks=0) or KAFKA_SERVER_CLOSE (malformed).
 *
 * Request memory (req->arena) is reset after every request, and the frame
 * is only valid during the call: a handler that defers copies what it
 * needs into memory of its own.
 *
 * Threading: everything here runs on the loop thread, except the stats,
 * which are atomics.
 */
#ifndef STRATA_KAFKA_BROKER_INT_H
#define STRATA_KAFKA_BROKER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "kafka/group_int.h"
#include "kafka/producers_int.h"
#include "kafka/proto_int.h"
#include "kafka/server_int.h"
#include "kafka/syncer_int.h"

#define KAFKA_ERR_KAFKA_STORAGE_ERROR 56
#define KAFKA_ERR_INVALID_CONFIG      40
#define KAFKA_OFFSETS_TOPIC           "__consumer_offsets"
/* Cap on a produced batch's decompressed records (zip-bomb guard). */
#define KAFKA_PLAIN_MAX (128u << 20)

typedef struct kafka_parked_fetch kafka_parked_fetch_t;
typedef struct kafka_parked_delete kafka_parked_delete_t;

struct kafka_broker {
    kafka_config_t cfg; /* string fields point into the owned copies below */
    char *listen;
    char *adv_host;
    int32_t adv_port;
    seglog_t *log; /* borrowed */
    bool hooked;   /* our append hook is registered with log */
    kafka_server_t *server;
    kafka_syncer_t *syncer;
    kafka_groups_t *groups;
    kafka_producers_t *producers;
    core_arena_t *arena; /* per request, reset after each */
    core_buf_t plain;    /* decompressed records of the batch being validated */

    kafka_parked_fetch_t *fetches;  /* long-polls waiting for data or time */
    kafka_parked_delete_t *deletes; /* DeleteTopics waiting for their topics' syncs */
    core_map_t *topic_syncs;        /* topic handle -> fsync requests in flight */
    atomic_llong data_epoch;        /* bumped by every append (any thread) */
    int64_t seen_epoch;             /* data_epoch when parked fetches were last checked */

    pthread_t thread;
    bool thread_started;

    /* Stats, read from any thread. */
    atomic_llong requests[KAFKA_API_KEY_MAX + 1];
    atomic_llong errors[KAFKA_API_KEY_MAX + 1];
    atomic_llong unsupported_requests;
    atomic_llong malformed_requests;
    atomic_llong corrupt_batches;
    atomic_llong oversized_batches;
    atomic_llong duplicate_batches;
    atomic_llong records_in;
};

/* One request being handled. */
typedef struct {
    kafka_broker_t *b;
    kafka_conn_t *conn;
    kafka_slot_t *slot;
    kafka_req_header_t h;
    core_arena_t *arena;
    int64_t now_ms;
} kafka_req_t;

typedef int (*kafka_handler_fn)(kafka_req_t *req, kafka_request_body_t *body);

/* handlers_meta.c */
int kafka_handle_api_versions(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_metadata(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_create_topics(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_delete_topics(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_find_coordinator(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_init_producer_id(kafka_req_t *req, kafka_request_body_t *body);
/* Answers an ApiVersions request of a version above the served range. */
int kafka_answer_api_versions_fallback(kafka_req_t *req);
/* Answers parked DeleteTopics whose topics are no longer busy, or whose
 * time is up; returns the next deadline. */
int64_t kafka_deletes_tick(kafka_broker_t *b, int64_t now_ms);
void kafka_deletes_cancel(kafka_broker_t *b);

/* handlers_data.c */
int kafka_handle_produce(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_fetch(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_list_offsets(kafka_req_t *req, kafka_request_body_t *body);
/* Answers parked fetches whose data arrived or whose time is up; returns
 * the next deadline. With `all`, answers every one (shutdown). */
int64_t kafka_fetches_tick(kafka_broker_t *b, int64_t now_ms, bool all);

/* handlers_group.c */
int kafka_handle_join_group(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_sync_group(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_heartbeat(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_leave_group(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_offset_commit(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_offset_fetch(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_list_groups(kafka_req_t *req, kafka_request_body_t *body);
int kafka_handle_describe_groups(kafka_req_t *req, kafka_request_body_t *body);

/* broker.c: shared helpers */
/* Turns an encoder's result into a handler result: DONE, or CLOSE (logged). */
int kafka_broker_encoded(kafka_req_t *req, int rc);
/* Completes a deferred slot (body already appended to slot->out). */
void kafka_broker_complete(kafka_broker_t *b, kafka_slot_t *slot);
/* Counts a response that carries an error code. */
void kafka_broker_count_error(kafka_broker_t *b, int16_t api_key, int16_t error_code);
/* A copy of v in arena memory (NULL view stays NULL). */
kafka_bytes_t kafka_bytes_dup(core_arena_t *a, kafka_bytes_t v);
/* v as a NUL-terminated string in arena memory; NULL if null, if v holds a
 * NUL byte (it would alias a shorter name), or on failure. */
char *kafka_bytes_cstr_dup(core_arena_t *a, kafka_bytes_t v);
/* True while fsyncs of the topic are in flight (the sync threads hold its
 * partition handles, so it must not be deleted yet). */
bool kafka_broker_topic_busy(kafka_broker_t *b, seglog_topic_t *t);
/* Requests durability of part up to end; done(arg, rc) runs on the loop. */
int kafka_broker_sync(kafka_broker_t *b, seglog_part_t *part, int64_t end, kafka_sync_done_fn done,
                      void *arg);
/* Creates a topic with the broker's defaults and `partitions`. */
int kafka_broker_create_topic(kafka_broker_t *b, const char *name, int32_t partitions,
                              const seglog_topic_config_t *overrides);

#endif /* STRATA_KAFKA_BROKER_INT_H */

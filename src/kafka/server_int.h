/*
 * server_int.h - the broker's network layer: an epoll event loop that owns
 * the listener and every connection, frames requests, and writes responses
 * back in request order. It knows nothing about Kafka APIs: each complete
 * request frame goes to the handler given at creation.
 *
 * Response slots. Every request that expects a response gets a slot in its
 * connection's ordered queue. The handler either completes the slot at once
 * (fills slot->out, returns KAFKA_SERVER_DONE) or keeps it
 * (KAFKA_SERVER_DEFER) and completes it later, on the loop thread, with
 * kafka_server_complete(). Responses leave in queue order: a deferred slot
 * holds back the ones behind it, as Kafka's protocol requires.
 *
 * If a connection closes while slots are deferred, those slots stay alive
 * until completed; kafka_server_complete() then just frees them. A
 * kafka_conn_t pointer stays valid until on_close returns, and after that
 * for as long as one of its deferred slots is not yet completed.
 *
 * Handler callbacks never nest: completing a slot or asking for a close
 * only marks state, and the loop writes and closes between callbacks.
 *
 * Threading: everything runs on the loop thread except kafka_server_post(),
 * kafka_server_wake(), kafka_server_stop() and kafka_server_stats(), which
 * any thread may call.
 */
#ifndef STRATA_KAFKA_SERVER_INT_H
#define STRATA_KAFKA_SERVER_INT_H

#include "core/core.h"

typedef struct kafka_server kafka_server_t;
typedef struct kafka_conn kafka_conn_t;

/* One response, in its connection's queue. */
typedef struct kafka_slot {
    core_buf_t out;     /* the response: header + body, WITHOUT the size prefix */
    kafka_conn_t *conn; /* NULL once the connection has closed */
    bool done;          /* set by the server; handlers only read it */
    struct kafka_slot *next;
} kafka_slot_t;

/* What a handler returns. On NO_RESPONSE and CLOSE the server frees the
 * slot. CLOSE closes at once and drops responses not yet written, as Kafka
 * does on malformed input; to answer what came before and then close, call
 * kafka_conn_close_after_flush() and return NO_RESPONSE. Any other value is
 * treated as CLOSE. */
enum {
    KAFKA_SERVER_DONE = 0,        /* slot->out holds the response */
    KAFKA_SERVER_DEFER = 1,       /* the handler keeps the slot */
    KAFKA_SERVER_NO_RESPONSE = 2, /* acks=0 produce: the slot is dropped */
    KAFKA_SERVER_CLOSE = 3        /* close the connection (malformed input) */
};

typedef struct {
    /* A complete request frame (the 4-byte size removed). The frame bytes are
     * valid only during the call; copy what must outlive it. The handler may
     * modify them in place (the broker rewrites a batch's BaseOffset before
     * appending it, as Kafka does, rather than copying it). */
    int (*on_request)(void *ctx, kafka_conn_t *c, kafka_slot_t *slot, uint8_t *frame, size_t len);
    /* A connection is closing (peer closed, error, idle, or shutdown).
     * May be NULL, as may on_tick. */
    void (*on_close)(void *ctx, kafka_conn_t *c);
    /* Called on every loop iteration with the monotonic time; returns the
     * monotonic ms of the next deadline the handler needs (INT64_MAX if
     * none). Timers for group sessions and fetch long-polls hang off this. */
    int64_t (*on_tick)(void *ctx, int64_t now_ms);
} kafka_server_ops_t;

typedef struct {
    const char *listen;        /* "host:port"; IPv4 or [IPv6]; port 0 = any free */
    int32_t max_request_bytes; /* > 0; a frame size < 0 or above it closes */
    int32_t max_connections;   /* > 0; more are accepted and closed at once */
    int64_t idle_timeout_ms;   /* > 0; no reads or writes and nothing deferred */
    int32_t max_inflight;      /* queued slots per connection before reading pauses; <= 0: 64 */
} kafka_server_config_t;

/* Counters the server keeps; the broker folds them into kafka_stats_t. */
typedef struct {
    int64_t oversized_requests;
    int64_t rejected_connections;
    int64_t idle_closed;
    int64_t connections;
    int64_t bytes_in;
    int64_t bytes_out;
} kafka_server_stats_t;

/* Binds and listens. cfg and ops are copied; cfg->listen is borrowed for the
 * call; ctx is borrowed until destroy. Errors: CORE_EINVAL (bad config or
 * address, unknown host), CORE_EIO (socket, bind or listen failed); the
 * detail names the address and the OS reason. *out is NULL on error. */
int kafka_server_create(const kafka_server_config_t *cfg, const kafka_server_ops_t *ops, void *ctx,
                        kafka_server_t **out);
/* Call once run() has returned (or was never called). Closes every
 * connection (on_close runs), then runs the posted functions the loop did
 * not, so each successful post runs exactly once; ctx must still be valid.
 * NULL is ignored. */
void kafka_server_destroy(kafka_server_t *s);
int kafka_server_port(const kafka_server_t *s);
/* Runs the loop until kafka_server_stop(); returns 0, or CORE_EIO if
 * epoll_wait fails. Connections stay open until destroy. */
int kafka_server_run(kafka_server_t *s);
/* Thread-safe and async-signal-safe: wakes the loop and makes run() return.
 * The stop is sticky: a run() that starts afterwards returns at once. */
void kafka_server_stop(kafka_server_t *s);

/* Completes a deferred slot on the loop thread (slot->out filled). If its
 * connection is gone the slot is freed. May be called from any callback,
 * including on_request and on_close; the response is written after the
 * callback returns. */
void kafka_server_complete(kafka_server_t *s, kafka_slot_t *slot);

/* Runs fn(arg) on the loop thread soon, in posting order; arg is handed to
 * fn. Thread-safe: this is how sync threads hand completions back. Returns
 * CORE_ENOMEM if it cannot queue (fn will then not run). */
int kafka_server_post(kafka_server_t *s, void (*fn)(void *arg), void *arg);

/* Runs posted functions now, on the calling thread, until none is left.
 * Only while run() is not running (after it returned): the broker uses it
 * to deliver completions in a safe order at shutdown. */
void kafka_server_run_posted(kafka_server_t *s);

/* Wakes the loop so that on_tick runs promptly (e.g. new data for parked
 * fetches). Thread-safe, cheap when called often. */
void kafka_server_wake(kafka_server_t *s);

void kafka_server_stats(const kafka_server_t *s, kafka_server_stats_t *out);

/* Per-connection facts for handlers. */
const char *kafka_conn_peer(const kafka_conn_t *c); /* "127.0.0.1:54321" */
uint64_t kafka_conn_id(const kafka_conn_t *c);      /* unique, never reused */
/* Closes the connection after the responses already queued are written
 * (deferred ones included); no further request is read. */
void kafka_conn_close_after_flush(kafka_conn_t *c);

#endif /* STRATA_KAFKA_SERVER_INT_H */

/*
 * server.c - the broker's network layer: one epoll loop on one thread owns
 * the listener, an eventfd for wake-ups from other threads, and every
 * connection. It cuts the byte stream into [i32 size][size bytes] frames,
 * hands each to ops->on_request with a response slot, and writes responses
 * back in request order. It knows nothing about Kafka APIs.
 *
 * A connection's life:
 *
 *   accept_ready() -> OPEN --kafka_conn_close_after_flush()--> DRAINING
 *                      |   (reading pauses while                 |
 *                      |    nqueued >= max_inflight)             | queue empty
 *                      v                                         v
 *                   conn_close(): on_close, fd closed, unlinked; done slots
 *                      |          freed, deferred slots detached (conn = NULL)
 *                      v
 *                   CLOSED --refs == 0 (conn_unref)--> freed
 *
 * conn_close() is reached from OPEN or DRAINING on EOF or a socket error,
 * a frame size < 0 or > max_request_bytes, a handler's CLOSE, or
 * idle_timeout_ms without reads or writes while no slot is deferred.
 *
 * Invariants:
 *  1. A connection's slots form one FIFO (head..tail) in request order and
 *     only its done prefix is written, so responses leave in request order.
 *     woff counts the bytes of head's frame (4-byte size + out) already sent.
 *  2. nqueued counts the slots in the queue and pending those not yet done;
 *     out_bytes the frame bytes of done slots not yet fully written. Reading
 *     and dispatch pause while nqueued >= max_inflight, out_bytes >=
 *     OUT_QUEUE_MAX (a peer that pipelines large fetches and never reads
 *     cannot pin more than about that much) or DRAINING.
 *  3. After dispatch the read buffer starts with at most one partial frame
 *     (unless dispatch paused). It grows, doubling, only when full and that
 *     frame needs more, never past 4 + max_request_bytes: memory follows the
 *     bytes received, not the size a peer claims.
 *  4. refs counts what keeps a conn's memory alive: 1 while open, 1 while on
 *     the flush list, 1 while an event is being handled, and 1 per detached
 *     deferred slot. So a handler may keep a conn pointer beside a deferred
 *     slot and read its id or peer even after on_close.
 *  5. Handler callbacks never nest. kafka_server_complete() and
 *     kafka_conn_close_after_flush() only mark state and put the conn on the
 *     flush list, which the loop drains at top level; connections close only
 *     from the loop's own code, so on_close never runs inside another
 *     handler callback.
 *
 * Threading: everything runs on the loop thread except kafka_server_post()
 * (post_lock guards the queue), kafka_server_wake() and kafka_server_stop()
 * (an atomic flag and a write() to the eventfd; stop is async-signal-safe)
 * and kafka_server_stats() (relaxed atomic counters).
 *
 * Shutdown: kafka_server_destroy() closes every connection (on_close runs)
 * and then runs the posted functions the loop did not get to, so each
 * successful post runs exactly once and a completion posted by a sync
 * thread still frees what it carries.
 */
#include "kafka/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RBUF_MIN         ((size_t)16 * 1024) /* first read buffer */
#define RBUF_KEEP        (4 * RBUF_MIN)      /* larger idle buffers shrink back */
#define READ_BUDGET      8                   /* reads per readiness event, for fairness */
#define ACCEPT_BUDGET    64
#define EVENT_BATCH      128
#define IOV_SLOTS        32 /* slots gathered into one sendmsg */
#define OUT_MIN_MAX      ((size_t)64 << 20)
#define DEFAULT_INFLIGHT 64
#define OUT_QUEUE_MAX    ((size_t)64 << 20) /* answered bytes a peer may leave unread */
#define ACCEPT_PAUSE_MS  100                /* listener rest after EMFILE and the like */
#define PEER_MAX         (INET6_ADDRSTRLEN + 10)

/* Work handed to the loop by kafka_server_post(). */
typedef struct post_item {
    void (*fn)(void *arg);
    void *arg;
    struct post_item *next;
} post_item_t;

/* A slot as the server allocates it; the handler sees only `pub`. */
typedef struct {
    kafka_slot_t pub;    /* first, so a kafka_slot_t * converts back */
    kafka_conn_t *owner; /* the connection, even after pub.conn is cleared */
    uint8_t hdr[4];      /* the size prefix while the slot is written */
} slot_box_t;

/* Owned by the loop thread. */
struct kafka_conn {
    kafka_server_t *srv;
    int fd; /* -1 once closed */
    uint64_t id;
    char peer[PEER_MAX];
    bool closed;       /* on_close has run and fd is closed */
    bool draining;     /* close once the queue is empty */
    bool flush_queued; /* on the server's flush list */
    bool want_out;     /* a write hit EAGAIN: EPOLLOUT wanted */
    uint32_t events;   /* the epoll interest set now */
    int32_t refs;      /* invariant 4 */
    uint8_t *rbuf;     /* received bytes not yet dispatched */
    size_t rlen, rcap;
    kafka_slot_t *head, *tail;
    int32_t nqueued, pending;  /* invariant 2 */
    size_t out_bytes;          /* done responses not yet fully written (invariant 2) */
    size_t woff;               /* bytes of head's frame already sent */
    int64_t last_active_ms;    /* last read or write */
    kafka_conn_t *prev, *next; /* the server's open connections */
    kafka_conn_t *flush_next;
};

struct kafka_server {
    kafka_server_config_t cfg; /* cfg.listen is not kept */
    kafka_server_ops_t ops;
    void *ctx;
    int lfd, efd, epfd, port;
    size_t out_max;
    int32_t max_inflight;
    /* Loop thread only. */
    kafka_conn_t *conns;
    int32_t nconns;
    uint64_t next_id;
    kafka_conn_t *flush_head;
    int64_t now_ms;
    int64_t idle_next_ms; /* no connection can be idle before this */
    int64_t accept_resume_ms;
    bool listener_paused;
    /* Any thread. */
    pthread_mutex_t post_lock; /* guards post_head and post_tail */
    post_item_t *post_head, *post_tail;
    atomic_bool stop;
    atomic_bool wake_pending;
    struct {
        _Atomic int64_t oversized, rejected, idle_closed, connections, bytes_in, bytes_out;
    } st;
};

static void conn_drive(kafka_conn_t *c);

static void stat_add(_Atomic int64_t *counter, int64_t v)
{
    atomic_fetch_add_explicit(counter, v, memory_order_relaxed);
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* ------------------------------------------------------------------------
 * Slots and connection lifetime
 * ------------------------------------------------------------------------ */

static void slot_free(kafka_slot_t *slot)
{
    core_buf_fini(&slot->out);
    core_free((slot_box_t *)slot);
}

static void conn_unref(kafka_conn_t *c)
{
    if (--c->refs == 0)
        core_free(c);
}

static void slot_mark_done(kafka_conn_t *c, kafka_slot_t *slot)
{
    if (slot->done)
        return;
    slot->done = true;
    c->out_bytes += 4 + slot->out.len;
    if (--c->pending == 0) {
        kafka_server_t *s = c->srv;
        int64_t dl = add_sat(c->last_active_ms, s->cfg.idle_timeout_ms);
        s->idle_next_ms = CORE_MIN(s->idle_next_ms, dl);
    }
}

static void schedule_flush(kafka_conn_t *c)
{
    if (c->closed || c->flush_queued)
        return;
    c->flush_queued = true;
    c->refs++;
    c->flush_next = c->srv->flush_head;
    c->srv->flush_head = c;
}

/* Frees the done slots and detaches the deferred ones (invariant 4). */
static void conn_release_slots(kafka_conn_t *c)
{
    kafka_slot_t *slot = c->head;
    c->head = c->tail = NULL;
    c->nqueued = c->pending = 0;
    while (slot != NULL) {
        kafka_slot_t *next = slot->next;
        slot->next = NULL;
        if (slot->done) {
            slot_free(slot);
        } else {
            slot->conn = NULL;
            c->refs++;
        }
        slot = next;
    }
}

static void conn_close(kafka_conn_t *c)
{
    if (c->closed)
        return;
    kafka_server_t *s = c->srv;
    c->closed = true; /* first: on_close may call complete() or close_after_flush() */
    stat_add(&s->st.connections, -1);
    if (s->ops.on_close != NULL)
        s->ops.on_close(s->ctx, c);
    close(c->fd);
    c->fd = -1;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->nconns--;
    core_free(c->rbuf);
    c->rbuf = NULL;
    c->rlen = c->rcap = 0;
    conn_release_slots(c);
    conn_unref(c); /* the open reference */
}

static void conn_set_interest(kafka_conn_t *c)
{
    kafka_server_t *s = c->srv;
    uint32_t ev = 0;
    if (!c->draining && c->nqueued < s->max_inflight && c->out_bytes < OUT_QUEUE_MAX)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (c->want_out)
        ev |= EPOLLOUT;
    if (ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &e) != 0) {
        core_log(CORE_LOG_ERROR, "kafka", "%s: epoll_ctl: %s; closing the connection", c->peer,
                 strerror(errno));
        conn_close(c);
        return;
    }
    c->events = ev;
}

/* ------------------------------------------------------------------------
 * Reading and dispatch
 * ------------------------------------------------------------------------ */

/* Queues a slot for one frame and calls the handler. The caller holds a
 * reference; the connection may be closed on return. */
static void dispatch_one(kafka_conn_t *c, uint8_t *frame, size_t len)
{
    kafka_server_t *s = c->srv;
    slot_box_t *b = core_calloc(CORE_MEM_KAFKA, 1, sizeof *b);
    if (b == NULL) {
        core_log(CORE_LOG_ERROR, "kafka", "%s: out of memory for a response slot; closing",
                 c->peer);
        conn_close(c);
        return;
    }
    kafka_slot_t *slot = &b->pub, *prev_tail = c->tail;
    core_buf_init(&slot->out, CORE_MEM_KAFKA, s->out_max);
    slot->conn = c;
    b->owner = c;
    if (prev_tail != NULL)
        prev_tail->next = slot;
    else
        c->head = slot;
    c->tail = slot;
    c->nqueued++;
    c->pending++;
    int rc = s->ops.on_request(s->ctx, c, slot, frame, len);
    if (rc == KAFKA_SERVER_DONE) {
        slot_mark_done(c, slot);
    } else if (rc != KAFKA_SERVER_DEFER) {
        /* NO_RESPONSE, CLOSE, or a value outside the contract (which closes):
         * the handler has let go of the slot, and no dispatch ran since it
         * was queued, so it is still the tail. */
        slot_mark_done(c, slot); /* keeps pending and the idle deadline right */
        c->out_bytes -= 4 + slot->out.len;
        c->tail = prev_tail;
        if (prev_tail != NULL)
            prev_tail->next = NULL;
        else
            c->head = NULL;
        c->nqueued--;
        slot_free(slot);
        if (rc != KAFKA_SERVER_NO_RESPONSE)
            conn_close(c);
    }
}

/* Dispatches the complete frames in the read buffer until it runs out, the
 * queue is full, or the connection drains or closes; then compacts. */
static void dispatch_buffered(kafka_conn_t *c)
{
    kafka_server_t *s = c->srv;
    size_t pos = 0;
    while (!c->draining && c->nqueued < s->max_inflight && c->out_bytes < OUT_QUEUE_MAX &&
           c->rlen - pos >= 4) {
        int32_t size = (int32_t)core_load_be32(c->rbuf + pos);
        if (size < 0 || size > s->cfg.max_request_bytes) {
            stat_add(&s->st.oversized, 1);
            core_log(CORE_LOG_WARN, "kafka",
                     "%s: request size %d is outside [0, %d] (max_request_bytes); closing "
                     "the connection",
                     c->peer, (int)size, (int)s->cfg.max_request_bytes);
            conn_close(c);
            return;
        }
        if (c->rlen - pos - 4 < (size_t)size)
            break;
        dispatch_one(c, c->rbuf + pos + 4, (size_t)size);
        if (c->closed)
            return;
        pos += 4 + (size_t)size;
    }
    if (pos > 0) {
        memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
        c->rlen -= pos;
    }
    if (c->rcap > RBUF_KEEP && c->rlen <= RBUF_MIN) {
        uint8_t *p = core_realloc(CORE_MEM_KAFKA, c->rbuf, RBUF_MIN);
        if (p != NULL) { /* on failure the larger buffer simply stays */
            c->rbuf = p;
            c->rcap = RBUF_MIN;
        }
    }
}

/* Makes room to read into (invariant 3). */
static int rbuf_make_room(kafka_conn_t *c)
{
    if (c->rlen < c->rcap)
        return 0;
    size_t want = RBUF_MIN;
    if (c->rlen >= 4) {
        /* Full: only a partial frame at the front can be waiting for bytes;
         * dispatch_buffered() has already checked its size. */
        size_t need = 4 + (size_t)core_load_be32(c->rbuf);
        want = CORE_MIN(CORE_MAX(2 * c->rcap, RBUF_MIN), need);
    }
    if (want <= c->rcap)
        return core_error(CORE_EINVAL, "read buffer full without a partial frame");
    uint8_t *p = core_realloc(CORE_MEM_KAFKA, c->rbuf, want);
    if (p == NULL)
        return core_error(CORE_ENOMEM, "out of memory for the read buffer");
    c->rbuf = p;
    c->rcap = want;
    return 0;
}

static bool conn_can_read(const kafka_conn_t *c)
{
    return !c->closed && !c->draining && c->nqueued < c->srv->max_inflight &&
           c->out_bytes < OUT_QUEUE_MAX;
}

static void conn_read(kafka_conn_t *c)
{
    kafka_server_t *s = c->srv;
    for (int i = 0; i < READ_BUDGET && conn_can_read(c); i++) {
        if (rbuf_make_room(c) != 0) {
            core_log(CORE_LOG_ERROR, "kafka", "%s: %s; closing", c->peer, core_error_detail());
            conn_close(c);
            return;
        }
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            core_log(CORE_LOG_DEBUG, "kafka", "%s: %s; closing", c->peer,
                     n == 0 ? "peer closed" : strerror(errno));
            conn_close(c);
            return;
        }
        c->rlen += (size_t)n;
        c->last_active_ms = s->now_ms;
        stat_add(&s->st.bytes_in, n);
        conn_drive(c);
    }
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

/* Gathers the done prefix of the queue, each slot as size prefix + out. */
static int gather(kafka_conn_t *c, struct iovec *iov, int max_iov)
{
    int n = 0;
    size_t skip = c->woff;
    for (kafka_slot_t *sl = c->head; sl != NULL && sl->done && n + 2 <= max_iov; sl = sl->next) {
        slot_box_t *b = (slot_box_t *)sl;
        core_store_be32(b->hdr, (uint32_t)sl->out.len);
        if (skip < 4)
            iov[n++] = (struct iovec){b->hdr + skip, 4 - skip};
        size_t body = skip > 4 ? skip - 4 : 0;
        if (sl->out.len > body)
            iov[n++] = (struct iovec){sl->out.data + body, sl->out.len - body};
        skip = 0;
    }
    return n;
}

/* Frees the slots that `n` sent bytes completed. */
static void consume_sent(kafka_conn_t *c, size_t n)
{
    while (n > 0) {
        kafka_slot_t *h = c->head;
        size_t left = 4 + h->out.len - c->woff;
        if (n < left) {
            c->woff += n;
            return;
        }
        n -= left;
        c->woff = 0;
        c->head = h->next;
        if (c->head == NULL)
            c->tail = NULL;
        c->nqueued--;
        c->out_bytes -= 4 + h->out.len;
        slot_free(h);
    }
}

static void conn_write(kafka_conn_t *c)
{
    kafka_server_t *s = c->srv;
    while (!c->closed && c->head != NULL && c->head->done) {
        if (c->head->out.len > INT32_MAX) {
            core_log(CORE_LOG_ERROR, "kafka", "%s: response of %zu bytes exceeds the frame limit",
                     c->peer, c->head->out.len);
            conn_close(c);
            return;
        }
        struct iovec iov[2 * IOV_SLOTS];
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)gather(c, iov, 2 * IOV_SLOTS)};
        ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c->want_out = true;
            return;
        }
        if (n < 0) {
            core_log(CORE_LOG_DEBUG, "kafka", "%s: write: %s; closing", c->peer, strerror(errno));
            conn_close(c);
            return;
        }
        c->last_active_ms = s->now_ms;
        stat_add(&s->st.bytes_out, n);
        consume_sent(c, (size_t)n);
    }
    c->want_out = false;
}

/* Dispatches what is buffered and writes what is done until neither makes
 * progress, then settles the epoll interest. The caller holds a reference. */
static void conn_drive(kafka_conn_t *c)
{
    for (;;) {
        if (!c->draining)
            dispatch_buffered(c);
        if (c->closed)
            return;
        int32_t queued = c->nqueued;
        conn_write(c);
        if (c->closed)
            return;
        if (c->nqueued == queued || c->draining || c->rlen < 4)
            break;
    }
    if (c->draining && c->head == NULL) {
        conn_close(c);
        return;
    }
    conn_set_interest(c);
}

static void conn_event(kafka_conn_t *c, uint32_t ev)
{
    c->refs++;
    if (ev & EPOLLERR) {
        core_log(CORE_LOG_DEBUG, "kafka", "%s: socket error; closing", c->peer);
        conn_close(c);
    }
    if (!c->closed && (ev & EPOLLOUT))
        conn_write(c);
    if (!c->closed && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
        /* Read to EOF first: a peer may send its last requests (acks=0
         * produces) and close at once. Without reading, a hang-up ends it. */
        if (conn_can_read(c))
            conn_read(c);
        else if (ev & EPOLLHUP)
            conn_close(c);
    }
    if (!c->closed)
        conn_drive(c);
    conn_unref(c);
}

static void run_flush_list(kafka_server_t *s)
{
    while (s->flush_head != NULL) {
        kafka_conn_t *c = s->flush_head;
        s->flush_head = c->flush_next;
        c->flush_next = NULL;
        c->flush_queued = false;
        if (!c->closed)
            conn_drive(c);
        conn_unref(c);
    }
}

/* ------------------------------------------------------------------------
 * Accepting
 * ------------------------------------------------------------------------ */

static void format_peer(const struct sockaddr_storage *sa, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, len, "%s:%u", host, (unsigned)ntohs(in->sin_port));
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, len, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(out, len, "unknown");
    }
}

static void conn_open(kafka_server_t *s, int fd, const struct sockaddr_storage *sa)
{
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        core_log(CORE_LOG_DEBUG, "kafka", "TCP_NODELAY: %s", strerror(errno));
    kafka_conn_t *c = core_calloc(CORE_MEM_KAFKA, 1, sizeof *c);
    if (c == NULL) {
        core_log(CORE_LOG_ERROR, "kafka", "out of memory for a new connection; refused");
        close(fd);
        return;
    }
    c->srv = s;
    c->fd = fd;
    c->id = ++s->next_id;
    c->refs = 1;
    c->last_active_ms = s->now_ms;
    c->events = EPOLLIN | EPOLLRDHUP;
    format_peer(sa, c->peer, sizeof c->peer);
    struct epoll_event e = {.events = c->events, .data.ptr = c};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) != 0) {
        core_log(CORE_LOG_ERROR, "kafka", "%s: epoll_ctl: %s; refused", c->peer, strerror(errno));
        close(fd);
        core_free(c);
        return;
    }
    c->next = s->conns;
    if (s->conns != NULL)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    stat_add(&s->st.connections, 1);
    s->idle_next_ms = CORE_MIN(s->idle_next_ms, add_sat(s->now_ms, s->cfg.idle_timeout_ms));
}

static void listener_set(kafka_server_t *s, bool on)
{
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->lfd};
    if (epoll_ctl(s->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->lfd, &e) != 0)
        core_log(CORE_LOG_ERROR, "kafka", "listener epoll_ctl: %s", strerror(errno));
    s->listener_paused = !on;
    s->accept_resume_ms = add_sat(s->now_ms, ACCEPT_PAUSE_MS);
}

static bool accept_transient(int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

static void accept_ready(kafka_server_t *s)
{
    for (int i = 0; i < ACCEPT_BUDGET; i++) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        int fd = accept4(s->lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && accept_transient(errno))
            continue;
        if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (fd < 0) {
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the listener stays readable,
             * so rest it rather than spin. */
            core_log(CORE_LOG_WARN, "kafka",
                     "accept: %s; not accepting for %d ms (raise the open-files limit or "
                     "lower max_connections)",
                     strerror(errno), ACCEPT_PAUSE_MS);
            listener_set(s, false);
            return;
        }
        if (s->nconns >= s->cfg.max_connections) {
            stat_add(&s->st.rejected, 1); /* first: the peer may look once it sees EOF */
            close(fd);
            continue;
        }
        conn_open(s, fd, &sa);
    }
}

/* ------------------------------------------------------------------------
 * The loop
 * ------------------------------------------------------------------------ */

static void eventfd_kick(kafka_server_t *s)
{
    uint64_t one = 1;
    while (write(s->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* Runs the queued posts in order; returns whether there were any. */
static bool drain_posts(kafka_server_t *s)
{
    pthread_mutex_lock(&s->post_lock);
    post_item_t *p = s->post_head;
    s->post_head = s->post_tail = NULL;
    pthread_mutex_unlock(&s->post_lock);
    bool any = p != NULL;
    while (p != NULL) {
        post_item_t *next = p->next;
        void (*fn)(void *) = p->fn;
        void *arg = p->arg;
        core_free(p);
        fn(arg);
        p = next;
    }
    return any;
}

static void eventfd_ready(kafka_server_t *s)
{
    /* Consume the kicks first, then clear the flag, then drain. A wake()
     * that still finds the flag set made its post before the clear, so
     * this drain (or on_tick's data check after it) sees it; one that finds
     * it clear kicks again. Clearing before the read would lose the kick of
     * a wake() that fell between the two, and leave the flag set with
     * nothing to wake the loop: later posts would wait for unrelated
     * traffic (a producer's acks=all answers stalled until it timed out). */
    uint64_t v;
    while (read(s->efd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    atomic_store(&s->wake_pending, false);
    drain_posts(s);
}

static void idle_sweep(kafka_server_t *s)
{
    int64_t next = INT64_MAX;
    kafka_conn_t *c = s->conns;
    while (c != NULL) {
        /* on_close cannot close other connections, so `nx` stays valid. */
        kafka_conn_t *nx = c->next;
        if (c->pending == 0) {
            int64_t dl = add_sat(c->last_active_ms, s->cfg.idle_timeout_ms);
            if (dl <= s->now_ms) {
                core_log(CORE_LOG_DEBUG, "kafka", "%s: idle for %lld ms; closing", c->peer,
                         (long long)s->cfg.idle_timeout_ms);
                stat_add(&s->st.idle_closed, 1);
                conn_close(c);
            } else {
                next = CORE_MIN(next, dl);
            }
        }
        c = nx;
    }
    s->idle_next_ms = next;
}

static int wait_timeout(const kafka_server_t *s, int64_t deadline)
{
    if (s->flush_head != NULL)
        return 0;
    deadline = CORE_MIN(deadline, s->idle_next_ms);
    if (s->listener_paused)
        deadline = CORE_MIN(deadline, s->accept_resume_ms);
    if (deadline == INT64_MAX)
        return -1;
    int64_t d = deadline - s->now_ms;
    if (d <= 0)
        return 0;
    return d > INT_MAX ? INT_MAX : (int)d;
}

/* Timers, pending flushes and on_tick; returns epoll_wait's timeout. */
static int loop_prepare(kafka_server_t *s)
{
    s->now_ms = core_mono_ms();
    if (s->listener_paused && s->now_ms >= s->accept_resume_ms)
        listener_set(s, true);
    if (s->now_ms >= s->idle_next_ms)
        idle_sweep(s);
    run_flush_list(s);
    /* on_tick goes last so that no request dispatched after it can miss
     * its deadline; slots it completes leave on the next pass (timeout 0). */
    int64_t deadline = INT64_MAX;
    if (s->ops.on_tick != NULL)
        deadline = s->ops.on_tick(s->ctx, s->now_ms);
    return wait_timeout(s, deadline);
}

static void handle_event(kafka_server_t *s, const struct epoll_event *e)
{
    if (e->data.ptr == &s->lfd)
        accept_ready(s);
    else if (e->data.ptr == &s->efd)
        eventfd_ready(s);
    else
        conn_event(e->data.ptr, e->events);
}

int kafka_server_run(kafka_server_t *s)
{
    struct epoll_event evs[EVENT_BATCH];
    while (!atomic_load(&s->stop)) {
        int timeout = loop_prepare(s);
        if (atomic_load(&s->stop))
            break;
        int n = epoll_wait(s->epfd, evs, EVENT_BATCH, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return core_error(CORE_EIO, "kafka: epoll_wait: %s", strerror(errno));
        s->now_ms = core_mono_ms();
        for (int i = 0; i < n; i++)
            handle_event(s, &evs[i]);
        run_flush_list(s);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Creation and the listener
 * ------------------------------------------------------------------------ */

/* Binds the first address `listen` resolves to that accepts the bind. */
static int open_listener(kafka_server_t *s, const char *listen)
{
    return core_listen_tcp(listen, "kafka", "9092", SOMAXCONN, &s->lfd, &s->port);
}

static int check_config(const kafka_server_config_t *cfg, const kafka_server_ops_t *ops)
{
    if (ops == NULL || ops->on_request == NULL)
        return core_error(CORE_EINVAL, "kafka server: ops->on_request is required");
    if (cfg->listen == NULL)
        return core_error(CORE_EINVAL, "kafka server: listen is missing (e.g. 127.0.0.1:9092)");
    if (cfg->max_request_bytes <= 0)
        return core_error(CORE_EINVAL, "kafka server: max_request_bytes is %d; it must be > 0",
                          (int)cfg->max_request_bytes);
    if (cfg->max_connections <= 0)
        return core_error(CORE_EINVAL, "kafka server: max_connections is %d; it must be > 0",
                          (int)cfg->max_connections);
    if (cfg->idle_timeout_ms <= 0)
        return core_error(CORE_EINVAL, "kafka server: idle_timeout_ms is %lld; it must be > 0",
                          (long long)cfg->idle_timeout_ms);
    return 0;
}

static int server_open_fds(kafka_server_t *s, const char *listen)
{
    int rc = open_listener(s, listen);
    if (rc != 0)
        return rc;
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->efd < 0 || s->epfd < 0)
        return core_error(CORE_EIO, "kafka: listen %s: eventfd/epoll_create1: %s", listen,
                          strerror(errno));
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &s->efd};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->efd, &e) != 0)
        return core_error(CORE_EIO, "kafka: listen %s: epoll_ctl: %s", listen, strerror(errno));
    e = (struct epoll_event){.events = EPOLLIN, .data.ptr = &s->lfd};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &e) != 0)
        return core_error(CORE_EIO, "kafka: listen %s: epoll_ctl: %s", listen, strerror(errno));
    return 0;
}

int kafka_server_create(const kafka_server_config_t *cfg, const kafka_server_ops_t *ops, void *ctx,
                        kafka_server_t **out)
{
    *out = NULL;
    int rc = check_config(cfg, ops);
    if (rc != 0)
        return rc;
    kafka_server_t *s = core_calloc(CORE_MEM_KAFKA, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "kafka server: out of memory");
    s->cfg = *cfg;
    s->cfg.listen = NULL;
    s->ops = *ops;
    s->ctx = ctx;
    s->lfd = s->efd = s->epfd = -1;
    s->max_inflight = cfg->max_inflight > 0 ? cfg->max_inflight : DEFAULT_INFLIGHT;
    s->out_max =
        CORE_MIN((size_t)INT32_MAX, CORE_MAX(OUT_MIN_MAX, 2 * (size_t)cfg->max_request_bytes));
    s->idle_next_ms = INT64_MAX;
    pthread_mutex_init(&s->post_lock, NULL);
    atomic_init(&s->stop, false);
    atomic_init(&s->wake_pending, false);
    rc = server_open_fds(s, cfg->listen);
    if (rc != 0) {
        kafka_server_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

void kafka_server_destroy(kafka_server_t *s)
{
    if (s == NULL)
        return;
    s->now_ms = core_mono_ms();
    while (s->conns != NULL)
        conn_close(s->conns);
    run_flush_list(s); /* every conn is closed: this only drops references */
    /* Posts run exactly once; after the closes their slots are detached. */
    while (drain_posts(s))
        run_flush_list(s);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->efd >= 0)
        close(s->efd);
    if (s->epfd >= 0)
        close(s->epfd);
    pthread_mutex_destroy(&s->post_lock);
    core_free(s);
}

/* ------------------------------------------------------------------------
 * The rest of the contract
 * ------------------------------------------------------------------------ */

int kafka_server_port(const kafka_server_t *s)
{
    return s->port;
}

void kafka_server_stop(kafka_server_t *s)
{
    int saved = errno; /* async-signal-safe: a handler must not change errno */
    atomic_store(&s->stop, true);
    eventfd_kick(s);
    errno = saved;
}

void kafka_server_complete(kafka_server_t *s, kafka_slot_t *slot)
{
    (void)s; /* the slot knows its connection and server */
    kafka_conn_t *c = slot->conn;
    if (c == NULL) {
        kafka_conn_t *owner = ((slot_box_t *)slot)->owner;
        slot_free(slot);
        conn_unref(owner);
        return;
    }
    slot_mark_done(c, slot);
    schedule_flush(c);
}

void kafka_server_run_posted(kafka_server_t *s)
{
    while (drain_posts(s))
        ;
}

int kafka_server_post(kafka_server_t *s, void (*fn)(void *arg), void *arg)
{
    post_item_t *p = core_alloc(CORE_MEM_KAFKA, sizeof *p);
    if (p == NULL)
        return core_error(CORE_ENOMEM,
                          "kafka: cannot queue work for the event loop: out of memory");
    p->fn = fn;
    p->arg = arg;
    p->next = NULL;
    pthread_mutex_lock(&s->post_lock);
    if (s->post_tail != NULL)
        s->post_tail->next = p;
    else
        s->post_head = p;
    s->post_tail = p;
    pthread_mutex_unlock(&s->post_lock);
    kafka_server_wake(s);
    return 0;
}

void kafka_server_wake(kafka_server_t *s)
{
    if (!atomic_exchange(&s->wake_pending, true))
        eventfd_kick(s);
}

void kafka_server_stats(const kafka_server_t *s, kafka_server_stats_t *out)
{
    out->oversized_requests = atomic_load_explicit(&s->st.oversized, memory_order_relaxed);
    out->rejected_connections = atomic_load_explicit(&s->st.rejected, memory_order_relaxed);
    out->idle_closed = atomic_load_explicit(&s->st.idle_closed, memory_order_relaxed);
    out->connections = atomic_load_explicit(&s->st.connections, memory_order_relaxed);
    out->bytes_in = atomic_load_explicit(&s->st.bytes_in, memory_order_relaxed);
    out->bytes_out = atomic_load_explicit(&s->st.bytes_out, memory_order_relaxed);
}

const char *kafka_conn_peer(const kafka_conn_t *c)
{
    return c->peer;
}

uint64_t kafka_conn_id(const kafka_conn_t *c)
{
    return c->id;
}

void kafka_conn_close_after_flush(kafka_conn_t *c)
{
    if (c->closed || c->draining)
        return;
    c->draining = true;
    schedule_flush(c);
}

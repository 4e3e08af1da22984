/*
 * Unit tests for the broker's network layer (src/kafka/server.c). Each test
 * starts a real server on 127.0.0.1, port 0, running kafka_server_run() on
 * a thread of its own, and talks to it over real sockets.
 *
 * The test handler reads the first byte of each frame as a command:
 *   'E' echo the frame          'D' defer; a worker thread posts the echo back
 *   'H' hold until released     'N' no response (acks=0)
 *   'C' return CLOSE            'F' echo, then close after flush
 *   'P' echo, record the peer   'X' return a value outside the contract
 *   'G' no response, then close after flush (a graceful CLOSE)
 *
 * Teardown stops the server even when a test fails, completes held slots,
 * destroys the server and checks that no CORE_MEM_KAFKA byte is left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kafka/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQ    (1 << 20)
#define MAX_HELD   64
#define WAIT_MS    10000
#define PEER_SIZE  64
#define BIG_ANSWER (8u << 20)

/* A deferred or held request: its slot and a copy of its frame. */
typedef struct pending {
    struct fixture *fx;
    kafka_slot_t *slot;
    struct pending *next;
    size_t len;
    uint8_t frame[];
} pending_t;

typedef struct fixture {
    kafka_server_t *srv;
    pthread_t loop;
    bool loop_running;
    int run_rc;
    atomic_int requests, closes, ticks;
    atomic_bool post_on_loop;
    pthread_t loop_id;
    /* mu guards the worker queue, held[], peer and conn_id. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pending_t *work_head, *work_tail;
    bool worker_stop;
    pthread_t worker;
    pending_t *held[MAX_HELD];
    int nheld;
    char peer[PEER_SIZE];
    uint64_t conn_id;
} fixture_t;

/* ------------------------------------------------------------------------
 * The test handler (loop thread) and its worker thread
 * ------------------------------------------------------------------------ */

static pending_t *pending_new(fixture_t *fx, kafka_slot_t *slot, const uint8_t *frame, size_t len)
{
    pending_t *p = core_alloc(CORE_MEM_TEST, sizeof *p + len);
    if (p == NULL)
        return NULL;
    p->fx = fx;
    p->slot = slot;
    p->next = NULL;
    p->len = len;
    memcpy(p->frame, frame, len);
    return p;
}

/* Completes a pending slot with the echo of its frame (loop thread). */
static void pending_finish(void *arg)
{
    pending_t *p = arg;
    (void)core_buf_append(&p->slot->out, p->frame, p->len);
    kafka_server_complete(p->fx->srv, p->slot);
    core_free(p);
}

static void *worker_main(void *arg)
{
    fixture_t *fx = arg;
    pthread_mutex_lock(&fx->mu);
    for (;;) {
        while (fx->work_head == NULL && !fx->worker_stop)
            pthread_cond_wait(&fx->cv, &fx->mu);
        pending_t *p = fx->work_head;
        if (p == NULL)
            break;
        fx->work_head = p->next;
        if (fx->work_head == NULL)
            fx->work_tail = NULL;
        pthread_mutex_unlock(&fx->mu);
        if (kafka_server_post(fx->srv, pending_finish, p) != 0)
            abort(); /* out of memory in a test: nothing sensible left to do */
        pthread_mutex_lock(&fx->mu);
    }
    pthread_mutex_unlock(&fx->mu);
    return NULL;
}

static int defer_or_hold(fixture_t *fx, kafka_slot_t *slot, const uint8_t *frame, size_t len,
                         bool hold)
{
    pending_t *p = pending_new(fx, slot, frame, len);
    if (p == NULL)
        return KAFKA_SERVER_CLOSE;
    pthread_mutex_lock(&fx->mu);
    if (hold && fx->nheld < MAX_HELD) {
        fx->held[fx->nheld++] = p;
    } else if (hold) {
        pthread_mutex_unlock(&fx->mu);
        core_free(p);
        return KAFKA_SERVER_CLOSE;
    } else {
        if (fx->work_tail != NULL)
            fx->work_tail->next = p;
        else
            fx->work_head = p;
        fx->work_tail = p;
        pthread_cond_signal(&fx->cv);
    }
    pthread_mutex_unlock(&fx->mu);
    return KAFKA_SERVER_DEFER;
}

static int on_request(void *ctx, kafka_conn_t *c, kafka_slot_t *slot, uint8_t *frame, size_t len)
{
    fixture_t *fx = ctx;
    atomic_fetch_add(&fx->requests, 1);
    char cmd = len > 0 ? (char)frame[0] : 'E';
    switch (cmd) {
    case 'D':
    case 'H':
        return defer_or_hold(fx, slot, frame, len, cmd == 'H');
    case 'N':
        return KAFKA_SERVER_NO_RESPONSE;
    case 'C':
        return KAFKA_SERVER_CLOSE;
    case 'X':
        return 7;
    case 'F':
        kafka_conn_close_after_flush(c);
        break;
    case 'G':
        kafka_conn_close_after_flush(c);
        return KAFKA_SERVER_NO_RESPONSE;
    case 'B': /* a big answer: BIG_ANSWER bytes */
        if (core_buf_reserve(&slot->out, BIG_ANSWER) != 0)
            return KAFKA_SERVER_CLOSE;
        memset(slot->out.data, 'b', BIG_ANSWER);
        slot->out.len = BIG_ANSWER;
        return KAFKA_SERVER_DONE;
    case 'P':
        pthread_mutex_lock(&fx->mu);
        snprintf(fx->peer, sizeof fx->peer, "%s", kafka_conn_peer(c));
        fx->conn_id = kafka_conn_id(c);
        pthread_mutex_unlock(&fx->mu);
        break;
    default:
        break;
    }
    if (core_buf_append(&slot->out, frame, len) != 0)
        return KAFKA_SERVER_CLOSE;
    return KAFKA_SERVER_DONE;
}

static void on_close(void *ctx, kafka_conn_t *c)
{
    fixture_t *fx = ctx;
    (void)c;
    atomic_fetch_add(&fx->closes, 1);
}

static int64_t on_tick(void *ctx, int64_t now_ms)
{
    fixture_t *fx = ctx;
    (void)now_ms;
    atomic_fetch_add(&fx->ticks, 1);
    return INT64_MAX;
}

static const kafka_server_ops_t test_ops = {on_request, on_close, on_tick};

/* Completes every held slot (loop thread, or any thread once it stopped). */
static void release_held(void *arg)
{
    fixture_t *fx = arg;
    pthread_mutex_lock(&fx->mu);
    int n = fx->nheld;
    pending_t *held[MAX_HELD];
    memcpy(held, fx->held, sizeof held);
    fx->nheld = 0;
    pthread_mutex_unlock(&fx->mu);
    for (int i = 0; i < n; i++)
        pending_finish(held[i]);
}

static int held_count(fixture_t *fx)
{
    pthread_mutex_lock(&fx->mu);
    int n = fx->nheld;
    pthread_mutex_unlock(&fx->mu);
    return n;
}

/* ------------------------------------------------------------------------
 * Fixture
 * ------------------------------------------------------------------------ */

static void *loop_main(void *arg)
{
    fixture_t *fx = arg;
    fx->run_rc = kafka_server_run(fx->srv);
    return NULL;
}

static int start(void **state, int64_t idle_ms, int32_t max_conns, int32_t inflight)
{
    fixture_t *fx = core_calloc(CORE_MEM_TEST, 1, sizeof *fx);
    if (fx == NULL)
        return -1;
    *state = fx;
    pthread_mutex_init(&fx->mu, NULL);
    pthread_cond_init(&fx->cv, NULL);
    kafka_server_config_t cfg = {"127.0.0.1:0", MAX_REQ, max_conns, idle_ms, inflight};
    if (kafka_server_create(&cfg, &test_ops, fx, &fx->srv) != 0) {
        fprintf(stderr, "kafka_server_create: %s\n", core_error_detail());
        return -1;
    }
    if (pthread_create(&fx->worker, NULL, worker_main, fx) != 0)
        return -1;
    if (pthread_create(&fx->loop, NULL, loop_main, fx) != 0)
        return -1;
    fx->loop_id = fx->loop;
    fx->loop_running = true;
    return 0;
}

static int setup_default(void **state)
{
    return start(state, 60000, 64, 64);
}

static int setup_idle(void **state)
{
    return start(state, 200, 64, 64);
}

static int setup_four_conns(void **state)
{
    return start(state, 60000, 4, 64);
}

static int setup_inflight4(void **state)
{
    return start(state, 60000, 64, 4);
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    int rc = 0;
    if (fx == NULL)
        return 0;
    pthread_mutex_lock(&fx->mu);
    fx->worker_stop = true; /* it posts what it has left, then exits */
    pthread_cond_broadcast(&fx->cv);
    pthread_mutex_unlock(&fx->mu);
    if (fx->srv != NULL)
        pthread_join(fx->worker, NULL);
    if (fx->loop_running) {
        kafka_server_stop(fx->srv);
        pthread_join(fx->loop, NULL);
    }
    release_held(fx);              /* the loop has stopped: this thread may complete */
    kafka_server_destroy(fx->srv); /* runs the posts the loop did not */
    core_mem_stats_t m;
    core_mem_stats(CORE_MEM_KAFKA, &m);
    if (m.bytes != 0 || m.allocs != 0) {
        fprintf(stderr, "leak: %lld kafka bytes in %lld blocks\n", (long long)m.bytes,
                (long long)m.allocs);
        rc = -1;
    }
    pthread_cond_destroy(&fx->cv);
    pthread_mutex_destroy(&fx->mu);
    core_free(fx);
    return rc;
}

/* ------------------------------------------------------------------------
 * Client helpers
 * ------------------------------------------------------------------------ */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Polls `cond` every 2 ms for up to WAIT_MS; the caller asserts it. */
#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        for (int wait_i_ = 0; wait_i_ < WAIT_MS / 2 && !(cond); wait_i_++)                         \
            sleep_ms(2);                                                                           \
    } while (0)

static kafka_server_stats_t stats(const fixture_t *fx)
{
    kafka_server_stats_t st;
    kafka_server_stats(fx->srv, &st);
    return st;
}

static int64_t kafka_bytes(void)
{
    core_mem_stats_t m;
    core_mem_stats(CORE_MEM_KAFKA, &m);
    return m.bytes;
}

static int client_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {WAIT_MS / 1000, 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Appends [size][cmd][text] to out; returns the new length. */
static size_t put_frame(uint8_t *out, size_t at, char cmd, const char *text)
{
    size_t n = strlen(text);
    core_store_be32(out + at, (uint32_t)(n + 1));
    out[at + 4] = (uint8_t)cmd;
    memcpy(out + at + 5, text, n);
    return at + 5 + n;
}

static void send_frame(int fd, char cmd, const char *text)
{
    uint8_t buf[512];
    assert_true(strlen(text) + 5 <= sizeof buf);
    size_t n = put_frame(buf, 0, cmd, text);
    assert_int_equal(send_all(fd, buf, n), 0);
}

static int recv_exact(int fd, void *p, size_t n)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t r = recv(fd, b, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one response frame into buf (NUL-terminated); returns its length. */
static size_t recv_frame(int fd, uint8_t *buf, size_t cap)
{
    uint8_t hdr[4];
    assert_int_equal(recv_exact(fd, hdr, 4), 0);
    uint32_t n = core_load_be32(hdr);
    assert_true(n < cap);
    assert_int_equal(recv_exact(fd, buf, n), 0);
    buf[n] = 0;
    return n;
}

static void expect_frame(int fd, char cmd, const char *text)
{
    uint8_t buf[512];
    size_t n = recv_frame(fd, buf, sizeof buf);
    assert_int_equal(n, strlen(text) + 1);
    assert_int_equal(buf[0], (uint8_t)cmd);
    assert_string_equal((char *)buf + 1, text);
}

/* The server closed: EOF or a reset, not a receive timeout. */
static void expect_closed(int fd)
{
    uint8_t b;
    ssize_t r;
    do {
        r = recv(fd, &b, 1, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        assert_int_equal(errno, ECONNRESET);
    else
        assert_int_equal(r, 0);
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

static void test_frame_one_byte_at_a_time(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    uint8_t buf[64];
    size_t n = put_frame(buf, 0, 'E', "hello, world");
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(send_all(fd, buf + i, 1), 0);
        sleep_ms(1);
    }
    expect_frame(fd, 'E', "hello, world");
    WAIT_FOR(stats(fx).bytes_out == (int64_t)n);
    assert_int_equal(stats(fx).bytes_in, n);
    assert_int_equal(stats(fx).bytes_out, n);
    assert_int_equal(stats(fx).connections, 1);
    close(fd);
}

static void test_pipeline_in_order_with_defer_and_no_response(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    static uint8_t buf[64 * 64];
    char text[32];
    size_t n = 0;
    for (int i = 0; i < 60; i++) {
        char cmd = i % 3 == 0 ? 'D' : i % 5 == 1 ? 'N' : 'E';
        snprintf(text, sizeof text, "request %d", i);
        n = put_frame(buf, n, cmd, text);
    }
    assert_int_equal(send_all(fd, buf, n), 0);
    for (int i = 0; i < 60; i++) {
        char cmd = i % 3 == 0 ? 'D' : i % 5 == 1 ? 'N' : 'E';
        if (cmd == 'N')
            continue;
        snprintf(text, sizeof text, "request %d", i);
        expect_frame(fd, cmd, text);
    }
    assert_int_equal(atomic_load(&fx->requests), 60);
    close(fd);
}

static void test_handler_close(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    send_frame(fd, 'E', "first");
    expect_frame(fd, 'E', "first"); /* CLOSE drops what is not yet written */
    send_frame(fd, 'C', "close me");
    expect_closed(fd);
    close(fd);
    fd = client_connect(kafka_server_port(fx->srv));
    send_frame(fd, 'X', "bad return value");
    expect_closed(fd);
    close(fd);
    WAIT_FOR(atomic_load(&fx->closes) == 2);
    assert_int_equal(atomic_load(&fx->closes), 2);
    assert_int_equal(stats(fx).connections, 0);
}

static void test_close_after_flush(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    uint8_t buf[64];
    size_t n = put_frame(buf, 0, 'D', "deferred first");
    n = put_frame(buf, n, 'F', "last words");
    n = put_frame(buf, n, 'E', "never read");
    assert_int_equal(send_all(fd, buf, n), 0);
    expect_frame(fd, 'D', "deferred first");
    expect_frame(fd, 'F', "last words");
    expect_closed(fd);
    close(fd);
    assert_int_equal(atomic_load(&fx->requests), 2);
    fd = client_connect(kafka_server_port(fx->srv));
    n = put_frame(buf, 0, 'D', "answered");
    n = put_frame(buf, n, 'G', "goodbye");
    n = put_frame(buf, n, 'E', "never read");
    assert_int_equal(send_all(fd, buf, n), 0);
    expect_frame(fd, 'D', "answered");
    expect_closed(fd);
    close(fd);
    assert_int_equal(atomic_load(&fx->requests), 4);
}

static void send_size_only(int fd, uint32_t size)
{
    uint8_t hdr[4];
    core_store_be32(hdr, size);
    assert_int_equal(send_all(fd, hdr, 4), 0);
}

static void test_oversized_frame_closes(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    send_size_only(fd, MAX_REQ + 1);
    expect_closed(fd);
    close(fd);
    WAIT_FOR(stats(fx).oversized_requests == 1);
    assert_int_equal(stats(fx).oversized_requests, 1);
    assert_int_equal(atomic_load(&fx->requests), 0);
}

static void test_negative_size_closes(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    send_frame(fd, 'E', "fine");
    expect_frame(fd, 'E', "fine");
    send_size_only(fd, 0xffffffffu);
    expect_closed(fd);
    close(fd);
    WAIT_FOR(stats(fx).oversized_requests == 1);
    assert_int_equal(stats(fx).oversized_requests, 1);
}

/* A peer that claims a large frame gets memory only as its bytes arrive. */
static void test_claimed_size_is_not_preallocated(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    uint8_t *big = core_alloc(CORE_MEM_TEST, MAX_REQ + 4);
    assert_non_null(big);
    core_store_be32(big, MAX_REQ);
    big[4] = 'E';
    for (size_t i = 5; i < MAX_REQ + 4; i++)
        big[i] = (uint8_t)i;
    int64_t base = kafka_bytes();
    assert_int_equal(send_all(fd, big, 104), 0);
    WAIT_FOR(stats(fx).bytes_in == 104);
    assert_int_equal(stats(fx).bytes_in, 104);
    assert_true(kafka_bytes() - base < 64 * 1024);
    assert_int_equal(send_all(fd, big + 104, MAX_REQ - 100), 0);
    uint8_t *back = core_alloc(CORE_MEM_TEST, MAX_REQ + 1);
    assert_non_null(back);
    size_t n = recv_frame(fd, back, MAX_REQ + 1);
    assert_int_equal(n, MAX_REQ);
    assert_memory_equal(back, big + 4, MAX_REQ);
    core_free(back);
    core_free(big);
    close(fd);
}

static void test_max_connections(void **state)
{
    fixture_t *fx = *state;
    int port = kafka_server_port(fx->srv);
    int fds[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = client_connect(port);
        send_frame(fds[i], 'E', "in");
        expect_frame(fds[i], 'E', "in");
    }
    int extra = client_connect(port); /* the kernel accepts; the server closes */
    expect_closed(extra);
    close(extra);
    assert_int_equal(stats(fx).rejected_connections, 1);
    assert_int_equal(stats(fx).connections, 4);
    close(fds[0]);
    WAIT_FOR(stats(fx).connections == 3);
    fds[0] = client_connect(port);
    send_frame(fds[0], 'E', "room again");
    expect_frame(fds[0], 'E', "room again");
    assert_int_equal(stats(fx).rejected_connections, 1);
    for (int i = 0; i < 4; i++)
        close(fds[i]);
}

static void test_idle_timeout(void **state)
{
    fixture_t *fx = *state;
    int port = kafka_server_port(fx->srv);
    int idle = client_connect(port);
    int busy = client_connect(port);
    send_frame(idle, 'E', "then silence");
    expect_frame(idle, 'E', "then silence");
    send_frame(busy, 'H', "held"); /* a deferred slot keeps a connection open */
    expect_closed(idle);
    close(idle);
    assert_int_equal(stats(fx).idle_closed, 1);
    sleep_ms(500);
    assert_int_equal(stats(fx).connections, 1);
    assert_int_equal(stats(fx).idle_closed, 1);
    assert_int_equal(kafka_server_post(fx->srv, release_held, fx), 0);
    expect_frame(busy, 'H', "held");
    expect_closed(busy); /* now it is idle too */
    close(busy);
    assert_int_equal(stats(fx).idle_closed, 2);
    assert_int_equal(atomic_load(&fx->closes), 2);
}

typedef struct {
    int fd;
    int frames;
    int rc;
} writer_t;

static void *writer_main(void *arg)
{
    writer_t *w = arg;
    uint8_t frame[4 + 1024];
    for (int i = 0; i < w->frames && w->rc == 0; i++) {
        core_store_be32(frame, 1024);
        frame[4] = i % 10 == 0 ? 'D' : 'E';
        memset(frame + 5, 'a' + i % 26, sizeof frame - 5);
        core_store_be32(frame + 5, (uint32_t)i);
        w->rc = send_all(w->fd, frame, sizeof frame);
    }
    return NULL;
}

/* 1000 pipelined 1 KiB frames through max_inflight = 4: no deadlock, and
 * the answers come in order though every tenth is deferred. */
static void test_backpressure_pipeline(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    writer_t w = {fd, 1000, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    uint8_t buf[2048];
    int i = 0;
    for (; i < 1000; i++) {
        size_t n = recv_frame(fd, buf, sizeof buf);
        if (n != 1024 || core_load_be32(buf + 1) != (uint32_t)i)
            break;
    }
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
    assert_int_equal(i, 1000);
    close(fd);
}

static void test_backpressure_pauses_reading(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    static uint8_t buf[32 * 32];
    char text[16];
    size_t n = put_frame(buf, 0, 'H', "head");
    for (int i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "e%d", i);
        n = put_frame(buf, n, 'E', text);
    }
    assert_int_equal(send_all(fd, buf, n), 0);
    WAIT_FOR(atomic_load(&fx->requests) == 4);
    sleep_ms(100);
    assert_int_equal(atomic_load(&fx->requests), 4); /* the held head and three behind it */
    assert_int_equal(kafka_server_post(fx->srv, release_held, fx), 0);
    expect_frame(fd, 'H', "head");
    for (int i = 0; i < 20; i++) {
        snprintf(text, sizeof text, "e%d", i);
        expect_frame(fd, 'E', text);
    }
    assert_int_equal(atomic_load(&fx->requests), 21);
    close(fd);
}

/* A peer that pipelines requests with big answers and does not read: the
 * server stops reading once about 64 MiB of answers wait (not after
 * max_inflight = 64 requests), and serves the rest once the peer reads. */
static void test_backpressure_by_bytes(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    static uint8_t buf[32 * 40];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n = put_frame(buf, n, 'B', "big");
    assert_int_equal(send_all(fd, buf, n), 0);
    WAIT_FOR(atomic_load(&fx->requests) >= 8);
    sleep_ms(200);
    int served = atomic_load(&fx->requests);
    /* 8 answers fill the 64 MiB; the socket buffers may take a few more. */
    assert_true(served >= 8 && served < 20);
    uint8_t *big = core_alloc(CORE_MEM_TEST, BIG_ANSWER + 1);
    assert_non_null(big);
    for (int i = 0; i < 40; i++)
        assert_int_equal(recv_frame(fd, big, BIG_ANSWER + 1), BIG_ANSWER);
    core_free(big);
    assert_int_equal(atomic_load(&fx->requests), 40);
    close(fd);
}

static void test_deferred_slot_outlives_connection(void **state)
{
    fixture_t *fx = *state;
    int64_t base = kafka_bytes();
    int fd = client_connect(kafka_server_port(fx->srv));
    send_frame(fd, 'E', "before");
    expect_frame(fd, 'E', "before");
    send_frame(fd, 'H', "orphan");
    WAIT_FOR(held_count(fx) == 1);
    assert_int_equal(held_count(fx), 1);
    close(fd);
    WAIT_FOR(atomic_load(&fx->closes) == 1);
    assert_int_equal(stats(fx).connections, 0);
    assert_int_equal(kafka_server_post(fx->srv, release_held, fx), 0);
    WAIT_FOR(held_count(fx) == 0 && kafka_bytes() == base);
    assert_int_equal(kafka_bytes(), base); /* slot and connection freed */
}

/* A client may send its last requests and close at once (acks=0). */
static void test_requests_before_eof_are_served(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    uint8_t buf[256];
    size_t n = 0;
    for (int i = 0; i < 10; i++)
        n = put_frame(buf, n, 'N', "fire and forget");
    assert_int_equal(send_all(fd, buf, n), 0);
    close(fd);
    WAIT_FOR(atomic_load(&fx->closes) == 1);
    assert_int_equal(atomic_load(&fx->requests), 10);
}

static void record_thread(void *arg)
{
    fixture_t *fx = arg;
    atomic_store(&fx->post_on_loop, pthread_equal(pthread_self(), fx->loop_id) != 0);
}

static void test_post_and_wake(void **state)
{
    fixture_t *fx = *state;
    assert_int_equal(kafka_server_post(fx->srv, record_thread, fx), 0);
    WAIT_FOR(atomic_load(&fx->post_on_loop));
    assert_true(atomic_load(&fx->post_on_loop));
    int before = atomic_load(&fx->ticks);
    for (int i = 0; i < 100; i++)
        kafka_server_wake(fx->srv);
    WAIT_FOR(atomic_load(&fx->ticks) > before);
    assert_true(atomic_load(&fx->ticks) > before);
}

/* Threads that each post and wait for their post to run, many times over,
 * so posts keep landing while the loop handles the previous wake-up. A
 * lost wake-up leaves a poster waiting for traffic that never comes. */
#define RACE_THREADS 4
#define RACE_ROUNDS  20000

typedef struct {
    fixture_t *fx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;       /* posts that have run */
    bool timed_out; /* a post did not run within WAIT_MS */
} racer_t;

static void racer_ran(void *arg)
{
    racer_t *r = arg;
    pthread_mutex_lock(&r->mu);
    r->done++;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void *racer_main(void *arg)
{
    racer_t *r = arg;
    for (int i = 0; i < RACE_ROUNDS && !r->timed_out; i++) {
        if (kafka_server_post(r->fx->srv, racer_ran, r) != 0)
            abort(); /* out of memory in a test */
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += WAIT_MS / 1000;
        pthread_mutex_lock(&r->mu);
        while (r->done <= i && !r->timed_out)
            if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT)
                r->timed_out = r->done <= i;
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

static void test_posts_from_racing_threads(void **state)
{
    fixture_t *fx = *state;
    racer_t r[RACE_THREADS];
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++) {
        r[i] = (racer_t){.fx = fx, .done = 0, .timed_out = false};
        pthread_mutex_init(&r[i].mu, NULL);
        pthread_cond_init(&r[i].cv, NULL);
        assert_int_equal(pthread_create(&t[i], NULL, racer_main, &r[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < RACE_THREADS; i++) {
        if (r[i].timed_out)
            fail_msg("poster %d: post %d did not run within %d ms (a lost wake-up)", i, r[i].done,
                     WAIT_MS);
        assert_int_equal(r[i].done, RACE_ROUNDS);
        pthread_mutex_destroy(&r[i].mu);
        pthread_cond_destroy(&r[i].cv);
    }
}

static void test_peer_and_id(void **state)
{
    fixture_t *fx = *state;
    uint64_t ids[2];
    for (int i = 0; i < 2; i++) {
        int fd = client_connect(kafka_server_port(fx->srv));
        send_frame(fd, 'P', "who");
        expect_frame(fd, 'P', "who");
        pthread_mutex_lock(&fx->mu);
        ids[i] = fx->conn_id;
        assert_true(strncmp(fx->peer, "127.0.0.1:", 10) == 0);
        pthread_mutex_unlock(&fx->mu);
        close(fd);
    }
    assert_true(ids[1] > ids[0]);
}

static void test_stop_from_another_thread(void **state)
{
    fixture_t *fx = *state;
    int fd = client_connect(kafka_server_port(fx->srv));
    send_frame(fd, 'H', "open at stop");
    WAIT_FOR(held_count(fx) == 1);
    kafka_server_stop(fx->srv);
    assert_int_equal(pthread_join(fx->loop, NULL), 0);
    fx->loop_running = false;
    assert_int_equal(fx->run_rc, 0);
    close(fd); /* teardown completes the held slot and destroys the server */
}

static void test_stop_before_run(void **state)
{
    (void)state;
    kafka_server_config_t cfg = {"127.0.0.1:0", MAX_REQ, 8, 1000, 0};
    kafka_server_t *s;
    assert_int_equal(kafka_server_create(&cfg, &test_ops, NULL, &s), 0);
    kafka_server_stop(s);
    assert_int_equal(kafka_server_run(s), 0);
    kafka_server_destroy(s);
    kafka_server_destroy(NULL);
}

static void test_listen_addresses(void **state)
{
    fixture_t *fx = *state;
    kafka_server_config_t cfg = {"localhost:0", MAX_REQ, 8, 1000, 0};
    kafka_server_t *s;
    assert_int_equal(kafka_server_create(&cfg, &test_ops, NULL, &s), 0);
    assert_true(kafka_server_port(s) > 0);
    kafka_server_destroy(s);
    cfg.listen = "[::1]:0"; /* a host without IPv6 fails to bind, not to parse */
    int rc = kafka_server_create(&cfg, &test_ops, NULL, &s);
    assert_true(rc == 0 || rc == CORE_EIO);
    if (rc == 0) {
        assert_true(kafka_server_port(s) > 0);
        kafka_server_destroy(s);
    }
    const char *bad[] = {"nohost", "127.0.0.1", "::1:9092",  "127.0.0.1:70000", "127.0.0.1:port",
                         ":9092",  "[::1]",     "[::1]9092", "127.0.0.1:",      "[::1:9092"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.listen = bad[i];
        assert_int_equal(kafka_server_create(&cfg, &test_ops, NULL, &s), CORE_EINVAL);
        assert_null(s);
    }
    char taken[32];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", kafka_server_port(fx->srv));
    cfg.listen = taken;
    assert_int_equal(kafka_server_create(&cfg, &test_ops, NULL, &s), CORE_EIO);
    assert_non_null(strstr(core_error_detail(), taken));
    cfg.listen = "127.0.0.1:0";
    cfg.max_request_bytes = 0;
    assert_int_equal(kafka_server_create(&cfg, &test_ops, NULL, &s), CORE_EINVAL);
}

#define TEST(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_frame_one_byte_at_a_time, setup_default),
        TEST(test_pipeline_in_order_with_defer_and_no_response, setup_default),
        TEST(test_handler_close, setup_default),
        TEST(test_close_after_flush, setup_default),
        TEST(test_oversized_frame_closes, setup_default),
        TEST(test_negative_size_closes, setup_default),
        TEST(test_claimed_size_is_not_preallocated, setup_default),
        TEST(test_max_connections, setup_four_conns),
        TEST(test_idle_timeout, setup_idle),
        TEST(test_backpressure_pipeline, setup_inflight4),
        TEST(test_backpressure_pauses_reading, setup_inflight4),
        TEST(test_backpressure_by_bytes, setup_default),
        TEST(test_deferred_slot_outlives_connection, setup_default),
        TEST(test_requests_before_eof_are_served, setup_default),
        TEST(test_post_and_wake, setup_default),
        TEST(test_posts_from_racing_threads, setup_default),
        TEST(test_peer_and_id, setup_default),
        TEST(test_stop_from_another_thread, setup_default),
        cmocka_unit_test(test_stop_before_run),
        TEST(test_listen_addresses, setup_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

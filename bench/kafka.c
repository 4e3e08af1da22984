/*
 * bench/kafka.c - the broker benchmark: strata's Kafka produce path, side by
 * side with librdkafka's in-process mock cluster (STYLE rule 13; the mock is
 * the produce-path reference chosen in the shared performance references).
 *
 * What it measures, in one run:
 *   1. Produce throughput. librdkafka produces N records (default 1,000,000)
 *      of 100-byte values, no key, to partition 0 of a fresh 1-partition
 *      topic, with acks=1, linger.ms=5 and batch.size=1048576; the clock runs
 *      from the first produce call to the last delivery report. The same
 *      records go, with the same client settings, to a strata broker (a child
 *      process with a fresh data directory on disk, default flush policy
 *      interval:1000) and to librdkafka's mock cluster (rdkafka_mock.h, in
 *      this process, in memory, keeping only the last 5 MiB of each
 *      partition, persisting nothing). Each side runs 3 rounds, alternating
 *      strata/mock, and the median is reported with the rounds beside it.
 *      Before each round one untimed record is produced and flushed, so the
 *      connection, metadata and topic exist. Afterwards the partition's high
 *      watermark is checked against the count. Target: strata >= 70% of the
 *      mock's records/s.
 *   2. End-to-end latency at half of strata's median produce rate: a
 *      producer with the same settings is paced at that rate for 5 s; each
 *      value carries its scheduled send time (CLOCK_MONOTONIC ns, so a
 *      stalled producer is not hidden); a librdkafka consumer (partition 0
 *      assigned at the end, fetch.wait.max.ms=5, fetch.min.bytes=1) takes
 *      receive time minus that stamp. p50 and p99 (nearest rank) for strata,
 *      and the same run against the mock cluster as the reference. Beside
 *      each, "ack": the same stamp to the producer's delivery report, which
 *      tells the produce leg from the fetch leg. A record that never arrives
 *      (the mock drops all but its last 5 MiB, so a lagging consumer loses
 *      records there) is counted and reported, not timed. On a small machine
 *      producer, consumer and broker share the cores: the cpu figures on each
 *      line show when the run is CPU-bound rather than broker-bound.
 *
 * MB = 10^6 bytes of record values. "broker cpu" is the strata process's CPU
 * time over wall time, "bench cpu" this process's (client, and for the mock
 * also the mock's threads); 100% = one core busy. A missed target prints
 * MISS; the exit status is non-zero only when something fails.
 *
 * Run:
 *   build/release/bench/bench_kafka [--records N] [--rounds N] [--seconds S]
 *                                   [--dir DIR] [--strata PATH] [--quick]
 * PATH defaults to the strata binary of the same build (../strata from this
 * program's directory). DIR (default $TMPDIR, else /var/tmp) should be on a
 * disk, not tmpfs; the broker works in a fresh DIR/strata-bench-kafka-XXXXXX
 * that is removed at the end. --quick runs tiny sizes in a few seconds: the
 * CTest smoke test that keeps this program from rotting.
 *
 * Lifecycle of the child broker: started before any librdkafka handle
 * exists (so fork happens in a single-threaded process), ready when it
 * prints its "listening on" line, stopped with SIGTERM (SIGKILL after 10 s)
 * on every exit path; it also gets SIGTERM if this process dies
 * (PR_SET_PDEATHSIG). SIGINT/SIGTERM here stop the run and clean up.
 *
 * Threading: the main thread produces, polls delivery reports and hosts the
 * mock cluster's handle (the mock runs on librdkafka's threads). During a
 * latency run one consumer thread owns the consumer handle and the sample
 * array; the main thread reads the samples only after joining it, and the
 * two share only the atomics in latency_run_t.
 */
#include "bench_common.h"
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define VALUE_BYTES        100
#define STAMP_BYTES        8    /* value[0..7]: scheduled send time, host order */
#define MEASURED_MARK      0x4d /* value[8] of timed latency records */
#define LINGER_MS          "5"
#define BATCH_SIZE         "1048576"
#define FETCH_WAIT_MS      "5"
#define MAX_ROUNDS         9
#define MAX_LAT_RECORDS    20000000
#define MB                 1e6
#define TARGET_RATIO       0.70
#define BROKER_READY_MS    15000
#define BROKER_STOP_MS     10000
#define FLUSH_DEADLINE_NS  (300 * 1000000000LL)
#define DRAIN_IDLE_NS      (2 * 1000000000LL) /* no new record for this long: done */
#define WARMUP_DEADLINE_NS (30 * 1000000000LL)
#define PACE_NAP_NS        100000
#define BOOTSTRAP_MAX      128
#define LISTEN_PREFIX      "strata broker listening on "

static volatile sig_atomic_t stop_requested;

typedef struct {
    const char *base_dir;
    const char *strata; /* NULL: ../strata beside this program */
    int64_t records;
    int rounds;
    double seconds; /* of each latency run */
    double rate;    /* latency run's records/s; 0 = half of strata's peak */
    bool quick;
} options_t;

/* The whole run; owned by the main thread. */
typedef struct {
    options_t opt;
    char strata[PATH_MAX];
    char dir[PATH_MAX];      /* fresh working directory, removed at the end */
    char data_dir[PATH_MAX]; /* dir/data: the broker's data directory */
    char log_path[PATH_MAX]; /* dir/broker.log: the broker's stderr */
    bool made_dir;
    pid_t broker_pid; /* 0 when no child runs */
    int broker_out;   /* read end of the child's stdout, -1 when closed */
    char strata_bootstrap[BOOTSTRAP_MAX];
    rd_kafka_t *mock_host; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mock;
    char mock_bootstrap[BOOTSTRAP_MAX];
    int topic_seq;
    int targets;
    int targets_met;
} bench_t;

/* One side of the comparison. */
typedef struct {
    const char *label;
    const char *bootstrap;
    bool strata;
} side_t;

/* Delivery-report tally of one producer; touched only by the thread that
 * polls that producer (the main thread). */
typedef struct {
    int64_t expect; /* the report that completes this count stamps done_ns */
    int64_t delivered;
    int64_t failed;
    rd_kafka_resp_err_t first_err;
    int64_t done_ns;
    int64_t *ack_lat; /* if set: report time - stamp of timed latency records */
    int64_t ack_cap;
    int64_t ack_n;
} delivery_t;

/* One timed produce round. */
typedef struct {
    int64_t records;
    int64_t ns;
    double broker_cpu; /* fraction of one core; < 0 when not measured */
    double bench_cpu;
} run_t;

/* One latency run. The consumer thread owns consumer and lat[0..n); the
 * atomics are shared with the main thread. */
typedef struct {
    rd_kafka_t *consumer;
    int64_t *lat;
    int64_t cap;          /* timed records produced (and expected) */
    int64_t n;            /* samples taken; read by main after join */
    int64_t consume_errs; /* read by main after join */
    char first_err[256];
    int64_t sent_ns;   /* from the first timed send to the last; main thread */
    double bench_cpu;  /* over the paced run and its drain, as in run_t */
    double broker_cpu; /* < 0 when not measured */
    atomic_bool stop;
    atomic_llong warm_seen; /* untimed records received */
    atomic_llong received;  /* timed records received */
} latency_run_t;

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int stopped(void)
{
    if (!stop_requested)
        return 0;
    fprintf(stderr, "bench_kafka: interrupted\n");
    return CORE_ECLOSED;
}

static int sys_fail(const char *what, const char *arg)
{
    fprintf(stderr, "bench_kafka: %s %s: %s\n", what, arg, strerror(errno));
    return CORE_EIO;
}

static int kafka_fail(const char *what, const char *side, rd_kafka_resp_err_t err)
{
    fprintf(stderr, "bench_kafka: %s (%s): %s\n", what, side, rd_kafka_err2str(err));
    return CORE_EIO;
}

static void nap_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

static double run_rec_s(const run_t *r)
{
    return r->ns > 0 ? (double)r->records * 1e9 / (double)r->ns : 0.0;
}

/* "3.12M", "845.0k" or "12". */

static const char *verdict(bench_t *b, bool ok)
{
    b->targets++;
    b->targets_met += ok;
    return ok ? "[ok]" : "[MISS]";
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p% of samples <= it. */

/* ------------------------------------------------------------------------
 * The strata broker child
 * ------------------------------------------------------------------------ */

/* CPU time (user + system) of a process in ns, from /proc; -1 if unknown. */
static int64_t proc_cpu_ns(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (p == NULL ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (int64_t)((ut + st) * (1000000000ULL / (unsigned long long)sysconf(_SC_CLK_TCK)));
}

/* Shows the end of the broker's stderr, for a failure report. */
static void broker_log_tail(const bench_t *b)
{
    char buf[2048];
    int fd = open(b->log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t start = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, start);
    close(fd);
    if (n > 0) {
        buf[n] = '\0';
        fprintf(stderr, "bench_kafka: end of %s:\n%s\n", b->log_path, buf);
    }
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void exec_broker(const bench_t *b, int out_fd, int log_fd)
{
    char *args[] = {(char *)b->strata,   "broker", "--listen", "127.0.0.1:0", "--data",
                    (char *)b->data_dir, NULL};
    int null_fd = open("/dev/null", O_RDONLY);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(log_fd, 2) < 0)
        _exit(126);
    execv(b->strata, args);
    _exit(127);
}

/* Reads the "listening on HOST:PORT" line into strata_bootstrap. */
static int broker_await_ready(bench_t *b)
{
    char line[256];
    size_t len = 0;
    int64_t deadline = core_mono_ns() + (int64_t)BROKER_READY_MS * 1000000;
    while (memchr(line, '\n', len) == NULL) {
        int left_ms = (int)((deadline - core_mono_ns()) / 1000000);
        struct pollfd pfd = {.fd = b->broker_out, .events = POLLIN};
        if (left_ms <= 0 || len == sizeof line - 1 || stop_requested) {
            fprintf(stderr, "bench_kafka: no 'listening' line from %s within %d ms\n", b->strata,
                    BROKER_READY_MS);
            return CORE_EIO;
        }
        if (poll(&pfd, 1, left_ms) < 0 && errno != EINTR)
            return sys_fail("poll", "broker stdout");
        ssize_t n = pfd.revents ? read(b->broker_out, line + len, sizeof line - 1 - len) : -1;
        if (n == 0) {
            fprintf(stderr, "bench_kafka: %s exited before listening\n", b->strata);
            return CORE_EIO;
        }
        if (n > 0)
            len += (size_t)n;
    }
    line[len] = '\0';
    *strchr(line, '\n') = '\0';
    const char *addr = line + strlen(LISTEN_PREFIX);
    if (strncmp(line, LISTEN_PREFIX, strlen(LISTEN_PREFIX)) != 0 || strchr(addr, ':') == NULL ||
        strlen(addr) >= sizeof b->strata_bootstrap) {
        fprintf(stderr, "bench_kafka: unexpected first line from the broker: '%s'\n", line);
        return CORE_EIO;
    }
    snprintf(b->strata_bootstrap, sizeof b->strata_bootstrap, "%s", addr);
    return 0;
}

static int broker_start(bench_t *b)
{
    int pipe_fd[2];
    if (pipe2(pipe_fd, O_CLOEXEC) != 0)
        return sys_fail("pipe2", "for the broker");
    int log_fd = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        close(pipe_fd[0]);
        close(pipe_fd[1]);
        return sys_fail("open", b->log_path);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_broker(b, pipe_fd[1], log_fd);
    close(pipe_fd[1]);
    close(log_fd);
    b->broker_out = pipe_fd[0];
    if (pid < 0)
        return sys_fail("fork", "for the broker");
    b->broker_pid = pid;
    return broker_await_ready(b);
}

/* Non-zero if the broker has died; reaps it and says so. */
static int broker_lost(bench_t *b)
{
    int status;
    if (b->broker_pid <= 0 || waitpid(b->broker_pid, &status, WNOHANG) != b->broker_pid)
        return 0;
    fprintf(stderr, "bench_kafka: the strata broker (pid %d) exited unexpectedly, status 0x%x\n",
            (int)b->broker_pid, (unsigned)status);
    b->broker_pid = 0;
    return CORE_EIO;
}

/* SIGTERM, then SIGKILL after BROKER_STOP_MS; returns non-zero if the broker
 * did not exit cleanly. */
static int broker_stop(bench_t *b)
{
    int status = 0, rc = 0;
    if (b->broker_pid > 0) {
        kill(b->broker_pid, SIGTERM);
        int64_t deadline = core_mono_ns() + (int64_t)BROKER_STOP_MS * 1000000;
        pid_t w;
        while ((w = waitpid(b->broker_pid, &status, WNOHANG)) == 0 && core_mono_ns() < deadline)
            nap_ns(10000000);
        if (w == 0) {
            fprintf(stderr, "bench_kafka: broker ignored SIGTERM for %d ms; killing it\n",
                    BROKER_STOP_MS);
            kill(b->broker_pid, SIGKILL);
            waitpid(b->broker_pid, &status, 0);
            rc = CORE_EIO;
        } else if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_kafka: broker stopped with status 0x%x\n", (unsigned)status);
            rc = CORE_EIO;
        }
        b->broker_pid = 0;
    }
    if (b->broker_out >= 0)
        close(b->broker_out);
    b->broker_out = -1;
    return rc;
}

/* ------------------------------------------------------------------------
 * Clients
 * ------------------------------------------------------------------------ */

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) == RD_KAFKA_CONF_OK)
        return 0;
    fprintf(stderr, "bench_kafka: client config %s=%s: %s\n", key, value, err);
    return CORE_EINVAL;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    delivery_t *d = opaque;
    (void)rk;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && d->failed++ == 0)
        d->first_err = m->err;
    else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        d->delivered++;
    if (d->delivered + d->failed == d->expect)
        d->done_ns = core_mono_ns();
    const uint8_t *v = m->payload;
    if (d->ack_lat != NULL && m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len == VALUE_BYTES &&
        v[STAMP_BYTES] == MEASURED_MARK && d->ack_n < d->ack_cap) {
        int64_t sent;
        memcpy(&sent, v, sizeof sent);
        d->ack_lat[d->ack_n++] = core_mono_ns() - sent;
    }
}

/* A producer with the benchmark's settings; d receives its delivery reports. */
static int producer_create(const side_t *s, delivery_t *d, rd_kafka_t **out)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = conf_set(conf, "bootstrap.servers", s->bootstrap);
    if (rc == 0)
        rc = conf_set(conf, "acks", "1");
    if (rc == 0)
        rc = conf_set(conf, "linger.ms", LINGER_MS);
    if (rc == 0)
        rc = conf_set(conf, "batch.size", BATCH_SIZE);
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, d);
    *out = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (*out == NULL) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "bench_kafka: producer for %s: %s\n", s->label, err);
        return CORE_EIO;
    }
    return 0;
}

/* A consumer that will read partition 0 from its end. */
static int consumer_create(const side_t *s, rd_kafka_t **out)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = conf_set(conf, "bootstrap.servers", s->bootstrap);
    if (rc == 0)
        rc = conf_set(conf, "group.id", "strata-bench-kafka");
    if (rc == 0)
        rc = conf_set(conf, "enable.auto.commit", "false");
    if (rc == 0)
        rc = conf_set(conf, "fetch.wait.max.ms", FETCH_WAIT_MS);
    if (rc == 0)
        rc = conf_set(conf, "fetch.min.bytes", "1");
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    *out = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (*out == NULL) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "bench_kafka: consumer for %s: %s\n", s->label, err);
        return CORE_EIO;
    }
    return 0;
}

/* CreateTopics through the admin API, 1 partition, replication 1. */
static int create_topic_admin(rd_kafka_t *rk, const side_t *s, const char *topic)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof err);
    if (nt == NULL) {
        fprintf(stderr, "bench_kafka: NewTopic %s: %s\n", topic, err);
        return CORE_EINVAL;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 20000);
    rd_kafka_resp_err_t e = ev == NULL ? RD_KAFKA_RESP_ERR__TIMED_OUT : rd_kafka_event_error(ev);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        size_t cnt = 0;
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        const rd_kafka_topic_result_t **tr =
            res != NULL ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
        e = cnt == 1 ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
    }
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : kafka_fail("CreateTopics", s->label, e);
}

static int create_topic(bench_t *b, rd_kafka_t *rk, const side_t *s, const char *topic)
{
    if (s->strata)
        return create_topic_admin(rk, s, topic);
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(b->mock, topic, 1, 1);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : kafka_fail("mock topic create", s->label, e);
}

/* Produces one copy of value to partition 0, waiting while the client's
 * queue is full. */
static int produce_value(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const uint8_t *value)
{
    while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)value, VALUE_BYTES, NULL, 0,
                            NULL) != 0) {
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return kafka_fail("produce", rd_kafka_name(rk), e);
        rd_kafka_poll(rk, 1);
    }
    return 0;
}

/* Waits until every produced record has its delivery report and all
 * succeeded. */
static int flush_all(bench_t *b, rd_kafka_t *rk, const side_t *s, const delivery_t *d)
{
    int64_t deadline = core_mono_ns() + FLUSH_DEADLINE_NS;
    int rc = 0;
    while (rc == 0 && rd_kafka_flush(rk, 200) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
        if ((rc = stopped()) != 0 || (rc = broker_lost(b)) != 0)
            break;
        if (core_mono_ns() > deadline) {
            fprintf(stderr, "bench_kafka: %s: %d records undelivered after %lld s\n", s->label,
                    rd_kafka_outq_len(rk), FLUSH_DEADLINE_NS / 1000000000);
            rc = CORE_EIO;
        }
    }
    if (rc == 0 && d->failed > 0) {
        fprintf(stderr, "bench_kafka: %s: %lld of %lld records failed, first: %s\n", s->label,
                (long long)d->failed, (long long)d->expect, rd_kafka_err2str(d->first_err));
        rc = CORE_EIO;
    }
    return rc;
}

/* One untimed record through produce and delivery: connection, metadata
 * and the topic's leader are settled before any clock starts. */
static int warm_up(bench_t *b, rd_kafka_t *rk, rd_kafka_topic_t *rkt, const side_t *s,
                   delivery_t *d, const uint8_t *value)
{
    *d = (delivery_t){.expect = 1};
    int rc = produce_value(rk, rkt, value);
    if (rc == 0)
        rc = flush_all(b, rk, s, d);
    *d = (delivery_t){0};
    return rc;
}

/* The partition's high watermark must equal `want`. */
static int check_end(rd_kafka_t *rk, const side_t *s, const char *topic, int64_t want)
{
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kafka_fail("query watermark offsets", s->label, e);
    if (hi != want) {
        fprintf(stderr, "bench_kafka: %s: %s-0 ends at offset %lld, expected %lld\n", s->label,
                topic, (long long)hi, (long long)want);
        return CORE_ECORRUPT;
    }
    return 0;
}

/* Everything one producer session needs; filled by session_open. */
typedef struct {
    char topic[64];
    delivery_t d;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
} session_t;

/* A fresh topic, a producer and one warm-up record delivered to it. */
static int session_open(bench_t *b, const side_t *s, const char *kind, const uint8_t *value,
                        session_t *ss)
{
    memset(ss, 0, sizeof *ss);
    snprintf(ss->topic, sizeof ss->topic, "bench-%s-%d", kind, ++b->topic_seq);
    int rc = producer_create(s, &ss->d, &ss->rk);
    if (rc == 0)
        rc = create_topic(b, ss->rk, s, ss->topic);
    if (rc == 0 && (ss->rkt = rd_kafka_topic_new(ss->rk, ss->topic, NULL)) == NULL)
        rc = kafka_fail("topic handle", s->label, rd_kafka_last_error());
    if (rc == 0)
        rc = warm_up(b, ss->rk, ss->rkt, s, &ss->d, value);
    return rc;
}

static void session_close(session_t *ss)
{
    if (ss->rkt != NULL)
        rd_kafka_topic_destroy(ss->rkt);
    if (ss->rk != NULL) {
        rd_kafka_flush(ss->rk, 5000);
        rd_kafka_destroy(ss->rk);
    }
    memset(ss, 0, sizeof *ss);
}

/* ------------------------------------------------------------------------
 * Produce throughput
 * ------------------------------------------------------------------------ */

static int produce_round(bench_t *b, const side_t *s, run_t *r)
{
    uint8_t value[VALUE_BYTES];
    for (int i = 0; i < VALUE_BYTES; i++)
        value[i] = (uint8_t)(i * 151 + 17);
    session_t ss;
    int64_t n = b->opt.records;
    int rc = session_open(b, s, "produce", value, &ss);
    if (rc != 0)
        goto done;
    ss.d.expect = n;
    int64_t cpu0 = bench_cpu_ns(), bcpu0 = s->strata ? proc_cpu_ns(b->broker_pid) : -1;
    int64_t t0 = core_mono_ns();
    for (int64_t i = 0; i < n && rc == 0; i++) {
        rc = produce_value(ss.rk, ss.rkt, value);
        if ((i & 1023) == 0)
            rd_kafka_poll(ss.rk, 0);
    }
    if (rc == 0)
        rc = flush_all(b, ss.rk, s, &ss.d);
    int64_t bcpu1 = s->strata ? proc_cpu_ns(b->broker_pid) : -1;
    *r = (run_t){.records = n, .ns = ss.d.done_ns - t0};
    r->bench_cpu = (double)(bench_cpu_ns() - cpu0) / (double)r->ns;
    r->broker_cpu = bcpu0 >= 0 && bcpu1 >= 0 ? (double)(bcpu1 - bcpu0) / (double)r->ns : -1;
    if (rc == 0)
        rc = check_end(ss.rk, s, ss.topic, n + 1);
done:
    session_close(&ss);
    return rc;
}

static void print_produce_line(const side_t *s, run_t *runs, int rounds, double median)
{
    char c[32];
    printf("produce  %-16s %9s rec/s %7.1f MB/s   rounds:", s->label,
           bench_fmt_count(c, sizeof c, median), median * VALUE_BYTES / MB);
    for (int i = 0; i < rounds; i++)
        printf(" %s", bench_fmt_count(c, sizeof c, run_rec_s(&runs[i])));
    printf("; bench cpu");
    for (int i = 0; i < rounds; i++)
        printf(" %.0f%%", 100.0 * runs[i].bench_cpu);
    if (s->strata) {
        printf("; broker cpu");
        for (int i = 0; i < rounds; i++)
            printf(" %.0f%%", 100.0 * runs[i].broker_cpu);
    } else {
        printf("\n         (in memory: keeps only its last 5 MiB per partition, persists "
               "nothing)");
    }
    printf("\n");
}

static double median_rate(const run_t *runs, int rounds)
{
    double rates[MAX_ROUNDS];
    for (int i = 0; i < rounds; i++)
        rates[i] = run_rec_s(&runs[i]);
    qsort(rates, (size_t)rounds, sizeof rates[0], cmp_double);
    return rates[rounds / 2];
}

/* Rounds alternate strata / mock so drift on a noisy machine hits both. */
static int phase_produce(bench_t *b, const side_t *strata, const side_t *mock, double *peak)
{
    run_t rs[MAX_ROUNDS], rm[MAX_ROUNDS];
    int rounds = b->opt.rounds, rc = 0;
    for (int i = 0; i < rounds && rc == 0; i++) {
        rc = produce_round(b, strata, &rs[i]);
        if (rc == 0)
            rc = produce_round(b, mock, &rm[i]);
    }
    if (rc != 0)
        return rc;
    double ms = median_rate(rs, rounds), mm = median_rate(rm, rounds);
    double ratio = mm > 0 ? ms / mm : 0.0;
    print_produce_line(strata, rs, rounds, ms);
    print_produce_line(mock, rm, rounds, mm);
    printf("ratio strata/mock %.2f   target >= %.2f   %s\n", ratio, TARGET_RATIO,
           verdict(b, ratio >= TARGET_RATIO));
    fflush(stdout);
    *peak = ms;
    return 0;
}

/* ------------------------------------------------------------------------
 * End-to-end latency
 * ------------------------------------------------------------------------ */

static void take_message(latency_run_t *lr, const rd_kafka_message_t *m, int64_t now)
{
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (lr->consume_errs++ == 0)
            snprintf(lr->first_err, sizeof lr->first_err, "%s", rd_kafka_message_errstr(m));
        return;
    }
    const uint8_t *v = m->payload;
    if (m->len != VALUE_BYTES || v[STAMP_BYTES] != MEASURED_MARK) {
        atomic_fetch_add(&lr->warm_seen, 1);
        return;
    }
    int64_t sent;
    memcpy(&sent, v, sizeof sent);
    if (lr->n < lr->cap)
        lr->lat[lr->n++] = now - sent;
    atomic_fetch_add(&lr->received, 1);
}

static void *consumer_main(void *arg)
{
    latency_run_t *lr = arg;
    while (!atomic_load(&lr->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(lr->consumer, 20);
        if (m == NULL)
            continue;
        take_message(lr, m, core_mono_ns());
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int consumer_assign_end(rd_kafka_t *c, const side_t *s, const char *topic)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_resp_err_t e = rd_kafka_assign(c, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : kafka_fail("assign", s->label, e);
}

/* Untimed records every 20 ms until the consumer sees one: from then on it
 * is fetching at the log end. */
static int await_consumer(bench_t *b, session_t *ss, const side_t *s, latency_run_t *lr,
                          const uint8_t *value)
{
    int64_t deadline = core_mono_ns() + WARMUP_DEADLINE_NS;
    int rc = 0;
    while (rc == 0 && atomic_load(&lr->warm_seen) == 0) {
        ss->d.expect++;
        rc = produce_value(ss->rk, ss->rkt, value);
        rd_kafka_poll(ss->rk, 20);
        if (rc == 0 && (rc = stopped()) == 0 && (rc = broker_lost(b)) == 0 &&
            core_mono_ns() > deadline) {
            fprintf(stderr, "bench_kafka: %s: the consumer received nothing in %lld s\n", s->label,
                    WARMUP_DEADLINE_NS / 1000000000);
            rc = CORE_EIO;
        }
    }
    return rc;
}

/* Produces lr->cap timed records at `rate`, each stamped with its scheduled
 * send time; lr->sent_ns is how long handing them to the client took. */
static int paced_produce(session_t *ss, latency_run_t *lr, double rate)
{
    uint8_t value[VALUE_BYTES];
    for (int i = 0; i < VALUE_BYTES; i++)
        value[i] = (uint8_t)(i * 151 + 17);
    value[STAMP_BYTES] = MEASURED_MARK;
    double ns_per = 1e9 / rate;
    int64_t t0 = core_mono_ns(), i = 0;
    int rc = 0;
    ss->d.expect += lr->cap;
    while (i < lr->cap && rc == 0) {
        int64_t due = CORE_MIN(lr->cap, (int64_t)((double)(core_mono_ns() - t0) / ns_per) + 1);
        for (; i < due && rc == 0; i++) {
            int64_t sched = t0 + (int64_t)((double)i * ns_per);
            memcpy(value, &sched, sizeof sched);
            rc = produce_value(ss->rk, ss->rkt, value);
        }
        rd_kafka_poll(ss->rk, 0);
        if (rc == 0 && (rc = stopped()) == 0 && i < lr->cap)
            nap_ns(PACE_NAP_NS);
    }
    lr->sent_ns = core_mono_ns() - t0;
    return rc;
}

/* Waits until the consumer has every timed record, or receives none for
 * DRAIN_IDLE_NS (records the mock dropped never come). */
static void await_drain(latency_run_t *lr)
{
    int64_t last = -1, idle_since = core_mono_ns();
    while (!stop_requested) {
        int64_t got = atomic_load(&lr->received), now = core_mono_ns();
        if (got >= lr->cap || (got == last && now - idle_since > DRAIN_IDLE_NS))
            break;
        if (got != last)
            idle_since = now;
        last = got;
        nap_ns(5000000);
    }
}

static void print_percentiles(const char *label, const char *what, int64_t *lat, int64_t n)
{
    qsort(lat, (size_t)n, sizeof lat[0], cmp_i64);
    printf("  %-16s %-4s p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms", label, what,
           bench_percentile_ms(lat, n, 50), bench_percentile_ms(lat, n, 99),
           (double)lat[n - 1] / 1e6);
}

static void print_latency_lines(const side_t *s, latency_run_t *lr, delivery_t *d)
{
    char c[32];
    print_percentiles(s->label, "e2e", lr->lat, lr->n);
    printf("   sent at %s rec/s; bench cpu %.0f%%",
           bench_fmt_count(c, sizeof c, (double)lr->cap * 1e9 / (double)CORE_MAX(lr->sent_ns, 1)),
           100.0 * lr->bench_cpu);
    if (lr->broker_cpu >= 0)
        printf(", broker cpu %.0f%%", 100.0 * lr->broker_cpu);
    printf("\n");
    if (d->ack_n > 0) {
        print_percentiles("", "ack", d->ack_lat, d->ack_n);
        printf("   (produce call to delivery report)\n");
    }
    if (lr->n < lr->cap)
        printf("  %-16s WARNING: %lld of %lld timed records never arrived%s\n", "",
               (long long)(lr->cap - lr->n), (long long)lr->cap,
               s->strata ? "" : " (the consumer fell behind the mock's 5 MiB retention)");
    if (lr->consume_errs > 0)
        printf("  %-16s %lld consumer errors, first: %s\n", "", (long long)lr->consume_errs,
               lr->first_err);
}

/* Runs the consumer thread around the paced producer. */
static int latency_measure(bench_t *b, const side_t *s, session_t *ss, latency_run_t *lr,
                           double rate)
{
    uint8_t warm[VALUE_BYTES] = {0};
    pthread_t th;
    int rc = pthread_create(&th, NULL, consumer_main, lr);
    if (rc != 0) {
        errno = rc;
        return sys_fail("pthread_create", "consumer");
    }
    rc = await_consumer(b, ss, s, lr, warm);
    int64_t t0 = core_mono_ns(), cpu0 = bench_cpu_ns();
    int64_t bcpu0 = s->strata ? proc_cpu_ns(b->broker_pid) : -1;
    if (rc == 0)
        rc = paced_produce(ss, lr, rate);
    if (rc == 0)
        rc = flush_all(b, ss->rk, s, &ss->d);
    if (rc == 0)
        await_drain(lr);
    atomic_store(&lr->stop, true);
    int64_t bcpu1 = s->strata ? proc_cpu_ns(b->broker_pid) : -1, wall = core_mono_ns() - t0;
    lr->bench_cpu = (double)(bench_cpu_ns() - cpu0) / (double)wall;
    lr->broker_cpu = bcpu0 >= 0 && bcpu1 >= 0 ? (double)(bcpu1 - bcpu0) / (double)wall : -1;
    pthread_join(th, NULL);
    return rc;
}

static int latency_run(bench_t *b, const side_t *s, double rate)
{
    uint8_t warm[VALUE_BYTES] = {0};
    latency_run_t lr = {0};
    session_t ss = {0};
    lr.cap = CORE_MIN(MAX_LAT_RECORDS, CORE_MAX(1, (int64_t)(rate * b->opt.seconds)));
    lr.lat = core_calloc(CORE_MEM_APP, (size_t)lr.cap, sizeof lr.lat[0]);
    int64_t *ack = core_calloc(CORE_MEM_APP, (size_t)lr.cap, sizeof ack[0]);
    int rc = lr.lat != NULL && ack != NULL ? session_open(b, s, "latency", warm, &ss) : CORE_ENOMEM;
    ss.d.ack_lat = ack;
    ss.d.ack_cap = lr.cap;
    if (rc == 0)
        rc = consumer_create(s, &lr.consumer);
    if (rc == 0)
        rc = consumer_assign_end(lr.consumer, s, ss.topic);
    if (rc == 0)
        rc = latency_measure(b, s, &ss, &lr, rate);
    if (rc == 0 && lr.n == 0) {
        fprintf(stderr, "bench_kafka: %s: the consumer received no timed record\n", s->label);
        rc = CORE_EIO;
    }
    if (rc == 0)
        print_latency_lines(s, &lr, &ss.d);
    if (lr.consumer != NULL) {
        rd_kafka_consumer_close(lr.consumer);
        rd_kafka_destroy(lr.consumer);
    }
    session_close(&ss);
    core_free(lr.lat);
    core_free(ack);
    return rc;
}

static int phase_latency(bench_t *b, const side_t *strata, const side_t *mock, double peak)
{
    char c[32];
    double rate = b->opt.rate > 0 ? b->opt.rate : peak / 2;
    printf("e2e latency at %s rec/s (%s), %.1f s per side, from each "
           "record's scheduled send time to its receipt by a consumer (fetch.wait.max.ms=%s, "
           "fetch.min.bytes=1):\n",
           bench_fmt_count(c, sizeof c, rate),
           b->opt.rate > 0 ? "--rate" : "half of strata's median peak", b->opt.seconds,
           FETCH_WAIT_MS);
    fflush(stdout);
    int rc = latency_run(b, strata, rate);
    if (rc == 0)
        rc = latency_run(b, mock, rate);
    fflush(stdout);
    return rc;
}

/* ------------------------------------------------------------------------
 * Setup, teardown and main
 * ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_kafka [--records N] [--rounds N] [--seconds S] [--rate N] [--dir DIR] "
               "[--strata PATH] [--quick]\n"
               "  --records N    records per produce round (default 1000000)\n"
               "  --rounds N     produce rounds per side, median shown (default 3)\n"
               "  --seconds S    length of each latency run (default 5)\n"
               "  --rate N       records/s of the latency runs (default: half of strata's\n"
               "                 measured peak)\n"
               "  --dir DIR      where the broker's data goes (default $TMPDIR, else /var/tmp);\n"
               "                 use a disk, not tmpfs\n"
               "  --strata PATH  the strata binary (default: ../strata beside this program)\n"
               "  --quick        tiny sizes, a few seconds (smoke test)\n");
}

static int parse_options(int argc, char **argv, options_t *o)
{
    int64_t records = -1, rounds = -1, seconds = -1, rate = -1;
    const char *tmp = getenv("TMPDIR");
    *o = (options_t){.base_dir = tmp != NULL && *tmp ? tmp : "/var/tmp"};
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(argv[i], "--dir") == 0 && next != NULL)
            o->base_dir = argv[++i];
        else if (strcmp(argv[i], "--strata") == 0 && next != NULL)
            o->strata = argv[++i];
        else if (strcmp(argv[i], "--records") == 0)
            rc = bench_parse_count("--records", argv[++i], 1, 1000000000, &records);
        else if (strcmp(argv[i], "--rounds") == 0)
            rc = bench_parse_count("--rounds", argv[++i], 1, MAX_ROUNDS, &rounds);
        else if (strcmp(argv[i], "--seconds") == 0)
            rc = bench_parse_count("--seconds", argv[++i], 1, 600, &seconds);
        else if (strcmp(argv[i], "--rate") == 0)
            rc = bench_parse_count("--rate", argv[++i], 1, 100000000, &rate);
        else if (strcmp(argv[i], "--quick") == 0)
            o->quick = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout), 1;
        else
            rc = CORE_EINVAL;
        if (rc != 0)
            return usage(stderr), -1;
    }
    o->records = records > 0 ? records : o->quick ? 20000 : 1000000;
    o->rounds = (int)(rounds > 0 ? rounds : o->quick ? 1 : 3);
    o->seconds = seconds > 0 ? (double)seconds : o->quick ? 0.5 : 5.0;
    o->rate = rate > 0 ? (double)rate : 0;
    return 0;
}

/* The strata binary: --strata, or ../strata beside this program. */
static int find_strata(bench_t *b)
{
    char self[PATH_MAX], guess[PATH_MAX];
    if (b->opt.strata != NULL) {
        snprintf(b->strata, sizeof b->strata, "%s", b->opt.strata);
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
            return sys_fail("readlink", "/proc/self/exe");
        self[n] = '\0';
        int rc = bench_path_join(guess, sizeof guess, dirname(self), "../strata");
        if (rc != 0)
            return rc;
        if (realpath(guess, b->strata) == NULL) {
            fprintf(stderr, "bench_kafka: no strata binary at %s; pass --strata PATH\n", guess);
            return CORE_ENOENT;
        }
    }
    if (access(b->strata, X_OK) != 0)
        return sys_fail("cannot execute", b->strata);
    return 0;
}

static int mock_start(bench_t *b)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The host handle never connects; hide its "no bootstrap.servers" notice. */
    int rc = conf_set(conf, "log_level", "4");
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    b->mock_host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (b->mock_host == NULL) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "bench_kafka: mock cluster host handle: %s\n", err);
        return CORE_EIO;
    }
    b->mock = rd_kafka_mock_cluster_new(b->mock_host, 1);
    if (b->mock == NULL) {
        fprintf(stderr, "bench_kafka: rd_kafka_mock_cluster_new failed\n");
        return CORE_EIO;
    }
    snprintf(b->mock_bootstrap, sizeof b->mock_bootstrap, "%s",
             rd_kafka_mock_cluster_bootstraps(b->mock));
    return 0;
}

static int setup(bench_t *b)
{
    bool tmpfs;
    int rc = find_strata(b);
    if (rc == 0)
        rc = bench_path_join(b->dir, sizeof b->dir, b->opt.base_dir, "strata-bench-kafka-XXXXXX");
    if (rc != 0)
        return rc;
    if (mkdtemp(b->dir) == NULL)
        return sys_fail("mkdtemp", b->dir);
    b->made_dir = true;
    rc = bench_path_join(b->data_dir, sizeof b->data_dir, b->dir, "data");
    if (rc == 0)
        rc = bench_path_join(b->log_path, sizeof b->log_path, b->dir, "broker.log");
    if (rc != 0)
        return rc;
    const char *fs = bench_fs_name(b->dir, &tmpfs);
    printf("kafka bench: %lld records x %d B values (no key), acks=1, linger.ms=%s, "
           "batch.size=%s, librdkafka %s\n",
           (long long)b->opt.records, VALUE_BYTES, LINGER_MS, BATCH_SIZE, rd_kafka_version_str());
    printf("strata broker %s, data in %s (%s), default flush policy (interval:1000); %ld CPUs\n",
           b->strata, b->dir, fs, sysconf(_SC_NPROCESSORS_ONLN));
    if (b->opt.quick)
        printf("--quick: a smoke test; sizes this small make every figure meaningless\n");
    if (tmpfs)
        printf("WARNING: %s is in memory, not on a disk\n", b->dir);
    printf("produce: median of %d round(s) per side, rounds alternate strata/mock, each a fresh "
           "topic, timed from the first produce call to the last delivery report; "
           "MB = 10^6 B of values\n",
           b->opt.rounds);
    fflush(stdout);
    rc = broker_start(b); /* before any librdkafka thread exists */
    if (rc == 0)
        rc = mock_start(b);
    return rc;
}

static void teardown(bench_t *b, int *rc)
{
    if (b->mock != NULL)
        rd_kafka_mock_cluster_destroy(b->mock);
    if (b->mock_host != NULL)
        rd_kafka_destroy(b->mock_host);
    int stop_rc = broker_stop(b);
    if (*rc == 0)
        *rc = stop_rc;
    if (*rc != 0 && b->made_dir)
        broker_log_tail(b);
    if (b->made_dir)
        bench_remove_tree(b->dir);
}

int main(int argc, char **argv)
{
    bench_set_name("bench_kafka");
    bench_t b;
    memset(&b, 0, sizeof b);
    b.broker_out = -1;
    int rc = parse_options(argc, argv, &b.opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int64_t t0 = core_mono_ns();
    double peak = 0;
    rc = setup(&b);
    side_t strata = {"strata broker", b.strata_bootstrap, true};
    side_t mock = {"librdkafka mock", b.mock_bootstrap, false};
    if (rc == 0)
        rc = phase_produce(&b, &strata, &mock, &peak);
    if (rc == 0)
        rc = phase_latency(&b, &strata, &mock, peak);
    teardown(&b, &rc);
    if (rc != 0)
        return 1;
    printf("targets met: %d of %d; total %.1f s\n", b.targets_met, b.targets,
           (double)(core_mono_ns() - t0) / 1e9);
    return 0;
}

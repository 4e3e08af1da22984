/*
 * bench/gen.c - `strata gen stocks --rate max` (the issue "Sources"): the
 * stock-tick simulator driven by gen_run at unlimited rate, with each
 * figure beside its target or reference from the same run.
 *
 *   (a) into the embedded log: a seglog in a fresh directory, topic
 *       `stocks` with 4 partitions and the settings `strata gen` gives a
 *       topic it creates (seglog_topic_config_default: flush policy
 *       interval:1000, i.e. an fdatasync per partition at most once a
 *       second, on the log's flusher thread, never waited for by a
 *       produce). Target: >= 1M events/s on one core. gen_run runs on
 *       the calling thread; "CPU" is this whole process's user + system
 *       time (the flusher thread and the kernel's write included), so
 *       events per CPU-second is the one-core rate.
 *   (b) into a `strata broker` child process over the Kafka protocol,
 *       through the bus's librdkafka implementation (bus_open_kafka; the
 *       producer is idempotent with acks=all, so every produce call waits
 *       for the broker's fsync). The broker's data directory is fresh and
 *       holds the same 4-partition topic, made before it starts. Beside
 *       it: its ratio to (a), this process's CPU (librdkafka's threads
 *       included) and the broker's.
 *   Reference for both: gen_next alone, the same seed without any bus
 *   (what generating costs; the rest of (a) is the produce path).
 *
 * Events are the generator's defaults of `strata gen` (invalid, late and
 * anomaly ratios 0.01 each), seed 1, fixed start. MB = 10^6 bytes of keys
 * plus values, counted by the reference pass (same seed, same bytes).
 * Every run is checked: the topic's end offsets must add up to the count.
 *
 * Usage: bench_gen [--events N] [--kafka-events N] [--dir DIR]
 *                  [--strata PATH] [--quick]
 * DIR defaults to $TMPDIR, else /var/tmp (a disk, not tmpfs). PATH defaults
 * to ../strata beside this program. --quick: small counts, a smoke test.
 *
 * The broker child is forked before any librdkafka thread exists, is
 * ready when it prints its "listening on" line, gets SIGTERM when done
 * (SIGKILL after 10 s) and SIGTERM if this process dies.
 *
 * Threading: the main thread, plus the seglog's and librdkafka's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "bus/bus.h"
#include "core/core.h"
#include "gen/gen.h"
#include "seglog/seglog.h"

#define PARTITIONS      4
#define TOPIC           "stocks"
#define START_MS        1795341600000LL /* 2026-11-22T10:00:00Z */
#define TARGET_EPS      1e6
#define BROKER_READY_MS 15000
#define BROKER_STOP_MS  10000
#define LISTEN_PREFIX   "strata broker listening on "

typedef struct {
    int64_t events, kafka_events;
    const char *dir, *strata;
    bool quick;
} opts_t;

typedef struct {
    double wall, cpu; /* seconds; cpu = this process, user + system */
} span_t;

/* CPU seconds (user + system) of another process, from /proc; -1 if
 * unknown. */
static double pid_cpu_s(pid_t pid)
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
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static gen_t *stocks_gen(void)
{
    gen_options_t o = {.kind = "stocks",
                       .seed = 1,
                       .start_ms = START_MS,
                       .invalid_ratio = 0.01,
                       .late_ratio = 0.01,
                       .anomaly_ratio = 0.01};
    gen_t *g = NULL;
    if (gen_create(&o, &g) != 0)
        fprintf(stderr, "bench_gen: %s\n", core_error_detail());
    return g;
}

/* ---- The runs. */

/* gen_next alone; *bytes gets the keys and values generated. */
static int run_alone(int64_t events, span_t *sp, double *bytes)
{
    gen_t *g = stocks_gen();
    if (g == NULL)
        return CORE_EFAILED;
    double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID),
           sum = 0;
    for (int64_t i = 0; i < events; i++) {
        gen_record_t r;
        gen_next(g, &r);
        sum += (double)(r.key_len + r.value_len);
    }
    sp->wall = bench_seconds(CLOCK_MONOTONIC) - w0;
    sp->cpu = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    *bytes = sum;
    gen_destroy(g);
    return 0;
}

/* gen_run into TOPIC of bus; checks the end offsets add up to events. */
static int run_into(bus_t *bus, int64_t events, span_t *sp)
{
    gen_t *g = stocks_gen();
    if (g == NULL)
        return CORE_EFAILED;
    gen_stats_t st = {0};
    double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    core_error_clear();
    int rc = gen_run(g, bus, TOPIC, 0, events, NULL, &st);
    sp->wall = bench_seconds(CLOCK_MONOTONIC) - w0;
    sp->cpu = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    gen_destroy(g);
    int64_t total = 0;
    for (int32_t p = 0; rc == 0 && p < PARTITIONS; p++) {
        int64_t start, end;
        rc = bus_offsets(bus, TOPIC, p, &start, &end);
        total += end;
    }
    if (rc != 0) {
        fprintf(stderr, "bench_gen: %s\n", core_error_detail());
        return rc;
    }
    if (total != events || st.produced != events) {
        fprintf(stderr,
                "bench_gen: %" PRId64 " records produced, %" PRId64 " in the topic, want %" PRId64
                "\n",
                st.produced, total, events);
        return CORE_EFAILED;
    }
    return 0;
}

/* A seglog in dir with TOPIC (4 partitions, default settings); left open
 * in *out, or closed when out is NULL. */
static int make_log(const char *dir, seglog_t **out)
{
    seglog_t *log = NULL;
    seglog_topic_config_t tc;
    seglog_topic_config_default(&tc);
    tc.partitions = PARTITIONS;
    int rc = seglog_open(dir, &log);
    if (rc == 0)
        rc = seglog_topic_create(log, TOPIC, &tc);
    if (rc != 0)
        fprintf(stderr, "bench_gen: seglog in %s: %s\n", dir, core_error_detail());
    if (out != NULL && rc == 0)
        *out = log;
    else if (log != NULL)
        seglog_close(log);
    return rc;
}

static int run_embedded(const char *dir, int64_t events, span_t *sp)
{
    seglog_t *log = NULL;
    bus_t *bus = NULL;
    int rc = make_log(dir, &log);
    if (rc == 0)
        rc = bus_open_seglog(log, &bus);
    if (rc == 0)
        rc = run_into(bus, events, sp);
    bus_close(bus);
    if (log != NULL)
        seglog_close(log);
    return rc;
}

/* ---- The broker child. */

typedef struct {
    char strata[PATH_MAX], data[PATH_MAX], log[PATH_MAX];
    char bootstrap[128];
    pid_t pid;
    int out; /* read end of its stdout */
} broker_t;

/* Between fork and exec: async-signal-safe calls only. */
static void exec_broker(const broker_t *b, int out_fd, int log_fd)
{
    char *args[] = {(char *)b->strata, "broker",        "--listen", "127.0.0.1:0",
                    "--data",          (char *)b->data, NULL};
    int null_fd = open("/dev/null", O_RDONLY);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(log_fd, 2) < 0)
        _exit(126);
    execv(b->strata, args);
    _exit(127);
}

/* Reads the "listening on HOST:PORT" line into b->bootstrap. */
static int broker_ready(broker_t *b)
{
    char line[256];
    size_t len = 0;
    int64_t deadline = core_mono_ns() + (int64_t)BROKER_READY_MS * 1000000;
    while (memchr(line, '\n', len) == NULL) {
        int left_ms = (int)((deadline - core_mono_ns()) / 1000000);
        struct pollfd pfd = {.fd = b->out, .events = POLLIN};
        if (left_ms <= 0 || len == sizeof line - 1) {
            fprintf(stderr, "bench_gen: no 'listening' line from %s (see %s)\n", b->strata, b->log);
            return CORE_EIO;
        }
        if (poll(&pfd, 1, left_ms) < 0 && errno != EINTR)
            return CORE_EIO;
        ssize_t n = pfd.revents ? read(b->out, line + len, sizeof line - 1 - len) : -1;
        if (n == 0) {
            fprintf(stderr, "bench_gen: the broker exited before listening (see %s)\n", b->log);
            return CORE_EIO;
        }
        if (n > 0)
            len += (size_t)n;
    }
    line[len] = '\0';
    *strchr(line, '\n') = '\0';
    if (strncmp(line, LISTEN_PREFIX, strlen(LISTEN_PREFIX)) != 0 ||
        strlen(line) - strlen(LISTEN_PREFIX) >= sizeof b->bootstrap) {
        fprintf(stderr, "bench_gen: unexpected first line from the broker: '%s'\n", line);
        return CORE_EIO;
    }
    size_t n = strlen(line) - strlen(LISTEN_PREFIX); /* < sizeof bootstrap, checked above */
    memcpy(b->bootstrap, line + strlen(LISTEN_PREFIX), n + 1);
    return 0;
}

static int broker_start(broker_t *b)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return CORE_EIO;
    int log_fd = open(b->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        close(fds[0]);
        close(fds[1]);
        return CORE_EIO;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        exec_broker(b, fds[1], log_fd);
    close(fds[1]);
    close(log_fd);
    b->out = fds[0];
    if (pid < 0)
        return CORE_EIO;
    b->pid = pid;
    return broker_ready(b);
}

static void broker_stop(broker_t *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        int64_t deadline = core_mono_ns() + (int64_t)BROKER_STOP_MS * 1000000;
        int status;
        pid_t w;
        while ((w = waitpid(b->pid, &status, WNOHANG)) == 0 && core_mono_ns() < deadline)
            usleep(10000);
        if (w == 0) {
            fprintf(stderr, "bench_gen: the broker ignored SIGTERM; killing it\n");
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &status, 0);
        }
        b->pid = 0;
    }
    if (b->out >= 0)
        close(b->out);
    b->out = -1;
}

static int run_kafka(broker_t *b, int64_t events, span_t *sp, double *broker_cpu)
{
    bus_t *bus = NULL;
    core_error_clear();
    int rc = bus_open_kafka(b->bootstrap, NULL, 0, &bus);
    if (rc != 0) {
        fprintf(stderr, "bench_gen: kafka %s: %s\n", b->bootstrap, core_error_detail());
        return rc;
    }
    double c0 = pid_cpu_s(b->pid);
    rc = run_into(bus, events, sp);
    double c1 = pid_cpu_s(b->pid);
    *broker_cpu = c0 >= 0 && c1 >= 0 ? c1 - c0 : -1;
    bus_close(bus);
    return rc;
}

/* ---- main */

static int parse(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--quick") == 0) {
            o->quick = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "bench_gen: %s needs a value (or unknown option)\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--events") == 0)
            rc = bench_parse_count(a, v, 1000, INT64_C(1) << 34, &o->events);
        else if (strcmp(a, "--kafka-events") == 0)
            rc = bench_parse_count(a, v, 1000, INT64_C(1) << 34, &o->kafka_events);
        else if (strcmp(a, "--dir") == 0)
            o->dir = v;
        else if (strcmp(a, "--strata") == 0)
            o->strata = v;
        else
            rc = 2;
        if (rc != 0) {
            fprintf(stderr, "bench_gen: bad option %s\n", a);
            return 2;
        }
    }
    if (o->quick) {
        o->events = CORE_MIN(o->events, 50000);
        o->kafka_events = CORE_MIN(o->kafka_events, 20000);
    }
    return 0;
}

/* The strata binary: --strata, or ../strata beside this program. */
static int find_strata(const opts_t *o, broker_t *b)
{
    char self[PATH_MAX], guess[PATH_MAX + 16];
    if (o->strata != NULL) {
        snprintf(b->strata, sizeof b->strata, "%s", o->strata);
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
            return CORE_EIO;
        self[n] = '\0';
        snprintf(guess, sizeof guess, "%s/../strata", dirname(self));
        if (realpath(guess, b->strata) == NULL) {
            fprintf(stderr, "bench_gen: no strata binary at %s; pass --strata PATH\n", guess);
            return CORE_ENOENT;
        }
    }
    if (access(b->strata, X_OK) != 0) {
        fprintf(stderr, "bench_gen: cannot execute %s\n", b->strata);
        return CORE_ENOENT;
    }
    return 0;
}

static void line(const char *what, int64_t events, const span_t *sp, double bytes_per_event,
                 const char *ref)
{
    char a[32], b[32];
    double n = (double)events;
    printf("  %-30s %8s events/s %7.1f MB/s  CPU %.2f s (%s events per CPU-second)  %s\n", what,
           bench_fmt_count(a, sizeof a, n / sp->wall), n * bytes_per_event / sp->wall / 1e6,
           sp->cpu, bench_fmt_count(b, sizeof b, n / sp->cpu), ref);
}

static int run_all(const opts_t *o, const char *root, broker_t *b)
{
    char emb[PATH_MAX + 16], ref[160], c[32];
    snprintf(emb, sizeof emb, "%s/embedded", root);
    span_t alone, sa, sk;
    double bytes = 0, broker_cpu = -1;
    int rc = run_alone(o->events, &alone, &bytes);
    double bpe = bytes / (double)o->events;
    if (rc == 0)
        rc = run_embedded(emb, o->events, &sa);
    if (rc != 0)
        return rc;
    printf("stocks, %" PRId64 " events into the embedded log, %" PRId64
           " over Kafka; %.1f bytes of key + value per event\n",
           o->events, o->kafka_events, bpe);
    line("reference: gen_next alone", o->events, &alone, bpe, "(no bus)");
    double eps = (double)o->events / sa.wall, per_cpu = (double)o->events / sa.cpu;
    snprintf(ref, sizeof ref, "target >= %s/s on one core: %s",
             bench_fmt_count(c, sizeof c, TARGET_EPS),
             eps >= TARGET_EPS && per_cpu >= TARGET_EPS ? "met" : "MISS");
    line("(a) embedded log", o->events, &sa, bpe, ref);
    rc = run_kafka(b, o->kafka_events, &sk, &broker_cpu);
    if (rc != 0)
        return rc;
    double keps = (double)o->kafka_events / sk.wall;
    snprintf(ref, sizeof ref, "%.2fx of (a); broker CPU %.2f s (%.0f%% of a core)", keps / eps,
             broker_cpu, broker_cpu >= 0 ? 100.0 * broker_cpu / sk.wall : -1.0);
    line("(b) strata broker, Kafka", o->kafka_events, &sk, bpe, ref);
    return 0;
}

int main(int argc, char **argv)
{
    bench_set_name("bench_gen");
    const char *tmp = getenv("TMPDIR");
    opts_t o = {.events = 10000000,
                .kafka_events = 3000000,
                .dir = tmp != NULL && tmp[0] != '\0' ? tmp : "/var/tmp"};
    if (parse(argc, argv, &o) != 0)
        return 2;
    core_log_set_level(CORE_LOG_ERROR);
    broker_t b = {.out = -1};
    char root[PATH_MAX - 32];
    int rc = find_strata(&o, &b);
    if (rc != 0)
        return 1;
    snprintf(root, sizeof root, "%s/bench-gen-XXXXXX", o.dir);
    if (mkdtemp(root) == NULL) {
        fprintf(stderr, "bench_gen: mkdtemp %s: %s\n", root, strerror(errno));
        return 1;
    }
    snprintf(b.data, sizeof b.data, "%s/broker", root);
    snprintf(b.log, sizeof b.log, "%s/broker.log", root);
    bool memory;
    printf("bench_gen: data in %s (%s)%s; topic %s, %d partitions, flush policy interval:1000 "
           "(as `strata gen` creates it); %ld CPUs; MB = 10^6 B\n",
           root, bench_fs_name(root, &memory), memory ? ", IN MEMORY" : "", TOPIC, PARTITIONS,
           sysconf(_SC_NPROCESSORS_ONLN));
    if (o.quick)
        printf("--quick: a smoke test; sizes this small make every figure meaningless\n");
    /* The broker's topic exists before it starts (the bus does not create
     * topics), and the broker is forked before librdkafka starts threads. */
    rc = make_log(b.data, NULL);
    if (rc == 0)
        rc = broker_start(&b);
    if (rc == 0)
        rc = run_all(&o, root, &b);
    broker_stop(&b);
    bench_remove_tree(root);
    return rc == 0 ? 0 : 1;
}

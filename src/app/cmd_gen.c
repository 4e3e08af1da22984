/*
 * cmd_gen.c - `strata gen KIND`: realistic test data from the simulators of
 * gen/, produced into a topic of the data directory, into a topic of a
 * Kafka cluster (--broker kafka://HOST:PORT[,...], through the bus's
 * librdkafka implementation), or printed as NDJSON (--stdout) for piping
 * into kcat or `strata produce`.
 *
 * A missing topic is created with --partitions partitions (default 4, as
 * in the example configs) and default settings; on a cluster through the
 * admin API (CreateTopics, the broker's default replication factor), since
 * the bus never lets a metadata request create topics. Keys go to
 * partitions by murmur2 either way, so the same run puts the same records
 * in the same partitions of the embedded log and of a cluster. Without --seed a seed is
 * taken from the clock, and without --start event time starts now; both
 * are printed in the summary, so any run can be repeated exactly.
 *
 * Rate: --rate N (or N/s) records per second of wall time; `max` or 0 for
 * as fast as possible. The default is `max` with --count and 100/s
 * without. The event-time spacing of the records follows the same rate
 * (1000/s when unlimited), so with --start now event time keeps pace with
 * the wall clock.
 *
 * Invariants: the summary (stderr) always says how many records of each
 * class reached the topic, also after SIGINT/SIGTERM or an error.
 *
 * Threading: single-threaded. The signal handlers only set a flag, which
 * gen_run and the stdout loop read between batches.
 */
#include "app/app.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "bus/bus.h"
#include "gen/gen.h"
#include "schema/schema.h"

#define DEFAULT_PARTITIONS  4
#define DEFAULT_LIVE_RATE   100.0
#define KAFKA_SCHEME        "kafka://" /* as --broker of `strata up` (kafka_wiring.c) */
#define KAFKA_PROPS_MAX     64
#define KAFKA_ADMIN_MS      10000 /* CreateTopics request and operation timeouts */
#define KAFKA_TOPIC_WAIT_MS 10000 /* for a created topic to show in metadata */

static int stop_flag; /* set by the signal handler, read atomically */

static void on_stop_signal(int sig)
{
    (void)sig;
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

typedef struct {
    gen_options_t gen;
    const char *topic;
    double rate; /* wall-clock records per second, 0 = unlimited */
    bool rate_set, seed_set, start_set;
    int64_t count; /* < 0 = until stopped */
    int64_t partitions;
    bool partitions_set;
    bool to_stdout, with_keys;
    const char *bootstrap;              /* --broker without kafka://; NULL = the data directory */
    const char *props[KAFKA_PROPS_MAX]; /* --kafka-property, borrowed from argv */
    size_t nprops;
} gen_opts_t;

static const char *default_topic(const char *kind)
{
    static const char *const topics[][2] = {
        {"app", "app_events"},
        {"web", "web_events"},
        {"clickstream", "clicks"},
        {"cdc", "customers_cdc"},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(topics); i++)
        if (strcmp(kind, topics[i][0]) == 0)
            return topics[i][1];
    return kind;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: strata gen KIND [options]\n"
               "\n"
               "Generates realistic events (docs/generators.md) into a topic, or to stdout.\n"
               "Kinds:");
    for (const char *const *k = gen_kinds(); *k != NULL; k++)
        fprintf(f, " %s", *k);
    fprintf(f,
            "\n"
            "\n"
            "Options:\n"
            "  --topic T            topic to produce to (default: stocks, transactions,\n"
            "                       app_events, web_events, clicks, customers_cdc,\n"
            "                       external or nexmark, after the kind); created if missing\n"
            "  --partitions N       partitions of a topic created here (default %d)\n"
            "  --rate N[/s]         records per second, or 'max' (default: max with\n"
            "                       --count, else %g/s)\n"
            "  --count N            stop after N records (default: until SIGINT/SIGTERM)\n"
            "  --seed S             seed, 0 to 2^63-1 (default: from the clock; printed)\n"
            "  --start TIME         event time of the first record: ISO 8601 or ms since\n"
            "                       the epoch (default: now)\n"
            "  --invalid-ratio R    share of records that fail their schema (default 0.01)\n"
            "  --late-ratio R       share stamped far behind the stream (default 0.01)\n"
            "  --anomaly-ratio R    share with anomalous values (default 0.01)\n"
            "  --stdout             print each record's value as one JSON line instead\n"
            "  --with-keys          with --stdout: print KEY<TAB>VALUE (kcat -K '\\t')\n"
            "  --broker kafka://HOST:PORT[,HOST:PORT]\n"
            "                       produce to a Kafka cluster (or a strata broker) instead\n"
            "                       of the data directory\n"
            "  --kafka-property NAME=VALUE\n"
            "                       a librdkafka property for --broker (repeatable)\n"
            "  --data DIR           data directory\n"
            "  -h, --help           show this help\n",
            DEFAULT_PARTITIONS, DEFAULT_LIVE_RATE);
}

/* A number in [min, max] (strtod, the whole text). */
static int parse_double(const char *opt, const char *s, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= min && v <= max))
        return app_usage_error("gen", "%s %s: need a number from %g to %g", opt, s, min, max);
    *out = v;
    return 0;
}

static int parse_rate(const char *s, double *out)
{
    if (strcmp(s, "max") == 0 || strcmp(s, "unlimited") == 0) {
        *out = 0;
        return 0;
    }
    char buf[64];
    size_t n = strlen(s);
    if (n >= 2 && strcmp(s + n - 2, "/s") == 0)
        n -= 2;
    if (n == 0 || n >= sizeof buf)
        return app_usage_error("gen", "--rate %s: use N, N/s or max", s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return parse_double("--rate", buf, 0, 1e9, out);
}

static int parse_start(const char *s, int64_t *out)
{
    if (core_parse_i64(s, INT64_MIN / 1000, INT64_MAX / 1000, out) == 0)
        return 0;
    int64_t us = 0;
    core_error_clear();
    if (schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, s, strlen(s), &us) != 0)
        return app_usage_error("gen", "--start %s: not ISO 8601 (2026-11-22T13:00:00Z) nor ms", s);
    *out = us / 1000;
    return 0;
}

enum {
    OPT_TOPIC = 0x200,
    OPT_RATE,
    OPT_COUNT,
    OPT_SEED,
    OPT_INVALID,
    OPT_LATE,
    OPT_ANOMALY,
    OPT_START,
    OPT_PARTITIONS,
    OPT_STDOUT,
    OPT_WITH_KEYS,
    OPT_BROKER,
    OPT_KAFKA_PROP,
};

static int parse_one(int c, gen_opts_t *o)
{
    int64_t v = 0;
    int rc = 0;
    switch (c) {
    case OPT_TOPIC:
        o->topic = optarg;
        break;
    case OPT_RATE:
        o->rate_set = true;
        return parse_rate(optarg, &o->rate);
    case OPT_COUNT:
        return app_parse_int("gen", "--count", optarg, 0, INT64_MAX, &o->count);
    case OPT_SEED:
        o->seed_set = true;
        rc = app_parse_int("gen", "--seed", optarg, 0, INT64_MAX, &v);
        o->gen.seed = (uint64_t)v;
        return rc;
    case OPT_INVALID:
        return parse_double("--invalid-ratio", optarg, 0, 1, &o->gen.invalid_ratio);
    case OPT_LATE:
        return parse_double("--late-ratio", optarg, 0, 1, &o->gen.late_ratio);
    case OPT_ANOMALY:
        return parse_double("--anomaly-ratio", optarg, 0, 1, &o->gen.anomaly_ratio);
    case OPT_START:
        o->start_set = true;
        return parse_start(optarg, &o->gen.start_ms);
    case OPT_PARTITIONS:
        o->partitions_set = true;
        return app_parse_int("gen", "--partitions", optarg, 1, SEGLOG_PARTITIONS_MAX,
                             &o->partitions);
    case OPT_STDOUT:
        o->to_stdout = true;
        break;
    case OPT_WITH_KEYS:
        o->with_keys = true;
        break;
    case OPT_BROKER:
        if (strncmp(optarg, KAFKA_SCHEME, strlen(KAFKA_SCHEME)) != 0 ||
            optarg[strlen(KAFKA_SCHEME)] == '\0')
            return app_usage_error("gen", "--broker wants kafka://HOST:PORT[,HOST:PORT], not '%s'",
                                   optarg);
        o->bootstrap = optarg + strlen(KAFKA_SCHEME);
        break;
    case OPT_KAFKA_PROP:
        if (strchr(optarg, '=') == NULL || optarg[0] == '=')
            return app_usage_error("gen", "--kafka-property %s: want NAME=VALUE", optarg);
        if (o->nprops == KAFKA_PROPS_MAX)
            return app_usage_error("gen", "more than %d --kafka-property options", KAFKA_PROPS_MAX);
        o->props[o->nprops++] = optarg;
        break;
    default:
        return APP_EXIT_USAGE;
    }
    return rc;
}

static int parse_options(app_ctx_t *ctx, int argc, char **argv, gen_opts_t *o)
{
    static const struct option opts[] = {
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"rate", required_argument, NULL, OPT_RATE},
        {"count", required_argument, NULL, OPT_COUNT},
        {"seed", required_argument, NULL, OPT_SEED},
        {"invalid-ratio", required_argument, NULL, OPT_INVALID},
        {"late-ratio", required_argument, NULL, OPT_LATE},
        {"anomaly-ratio", required_argument, NULL, OPT_ANOMALY},
        {"start", required_argument, NULL, OPT_START},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"stdout", no_argument, NULL, OPT_STDOUT},
        {"with-keys", no_argument, NULL, OPT_WITH_KEYS},
        {"broker", required_argument, NULL, OPT_BROKER},
        {"kafka-property", required_argument, NULL, OPT_KAFKA_PROP},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int rc = 0;
        if (c == 'h') {
            usage(stdout);
            return APP_HELP_SHOWN;
        } else if (c == APP_OPT_DATA) {
            ctx->data_dir = optarg;
        } else if (c == ':' || c == '?') {
            return app_option_error("gen", c, argv, argc);
        } else {
            rc = parse_one(c, o);
        }
        if (rc != 0)
            return rc;
    }
    if (optind >= argc)
        return app_usage_error("gen", "missing the KIND");
    if (argc - optind > 1)
        return app_usage_error("gen", "unexpected argument '%s'", argv[optind + 1]);
    o->gen.kind = argv[optind];
    if (o->with_keys && !o->to_stdout)
        return app_usage_error("gen", "--with-keys goes with --stdout");
    if (o->bootstrap != NULL && o->to_stdout)
        return app_usage_error("gen", "--broker and --stdout exclude each other");
    if (o->nprops > 0 && o->bootstrap == NULL)
        return app_usage_error("gen", "--kafka-property goes with --broker");
    if (!o->to_stdout && o->bootstrap == NULL && ctx->data_dir[0] == '\0')
        return app_usage_error("gen", "--data needs a non-empty directory");
    return 0;
}

/* Fills what the user left to the defaults. */
static void apply_defaults(gen_opts_t *o)
{
    if (!o->seed_set)
        o->gen.seed =
            ((uint64_t)core_wall_us() ^ ((uint64_t)core_mono_ns() << 20)) & (uint64_t)INT64_MAX;
    if (!o->start_set)
        o->gen.start_ms = core_wall_ms();
    if (!o->rate_set)
        o->rate = o->count >= 0 ? 0 : DEFAULT_LIVE_RATE;
    o->gen.rate = o->rate;
    if (o->topic == NULL)
        o->topic = default_topic(o->gen.kind);
    if (!o->partitions_set)
        o->partitions = DEFAULT_PARTITIONS;
}

static void print_summary(const gen_opts_t *o, const gen_stats_t *st, double secs,
                          const char *where)
{
    char start[40];
    core_format_iso8601_ms(o->gen.start_ms, start, sizeof start);
    double rate = secs > 0 ? (double)st->produced / secs : 0;
    fprintf(stderr,
            "strata gen: %lld %s records %s in %.3f s (%.1f/s): normal %lld, invalid %lld, "
            "late %lld, anomaly %lld; %lld batches; seed %llu, start %s\n",
            (long long)st->produced, o->gen.kind, where, secs, rate,
            (long long)st->by_class[GEN_CLASS_NORMAL], (long long)st->by_class[GEN_CLASS_INVALID],
            (long long)st->by_class[GEN_CLASS_LATE], (long long)st->by_class[GEN_CLASS_ANOMALY],
            (long long)st->batches, (unsigned long long)o->gen.seed, start);
}

/* ------------------------------------------------------------------------
 * --stdout: the same absolute schedule as gen_run (record i due at i /
 * rate), written here because gen_run produces to a bus.
 * ------------------------------------------------------------------------ */
static int64_t due_at(double rate, int64_t elapsed_ns)
{
    return (int64_t)floor((double)elapsed_ns * rate / 1e9) + 1;
}

static void sleep_for_record(int64_t t0, double rate, int64_t i)
{
    int64_t at = t0 + (int64_t)ceil((double)i * 1e9 / rate);
    int64_t cap = core_mono_ns() + 100000000LL; /* look at the stop flag at least every 100 ms */
    at = CORE_MIN(at, cap);
    struct timespec ts = {(time_t)(at / 1000000000LL), (long)(at % 1000000000LL)};
    (void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

static int write_record(const gen_record_t *r, bool with_keys)
{
    if (with_keys && (fwrite(r->key, 1, r->key_len, stdout) != r->key_len || putchar('\t') == EOF))
        return -1;
    if (fwrite(r->value, 1, r->value_len, stdout) != r->value_len || putchar('\n') == EOF)
        return -1;
    return 0;
}

static int run_stdout(gen_t *g, const gen_opts_t *o, gen_stats_t *st)
{
    int64_t t0 = core_mono_ns();
    int64_t batch = o->rate > 0 ? (int64_t)ceil(o->rate / 1000.0) : 4096;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_RELAXED) &&
           (o->count < 0 || st->produced < o->count)) {
        int64_t due = o->rate > 0 ? due_at(o->rate, core_mono_ns() - t0) : st->produced + batch;
        if (o->count >= 0)
            due = CORE_MIN(due, o->count);
        if (due <= st->produced) {
            sleep_for_record(t0, o->rate, st->produced + batch - 1);
            continue;
        }
        for (; st->produced < due; st->produced++) {
            gen_record_t r;
            gen_next(g, &r);
            if (write_record(&r, o->with_keys) != 0)
                return errno == EPIPE ? 0 : core_error(CORE_EIO, "%s", strerror(errno));
            st->by_class[r.cls]++;
        }
        if (fflush(stdout) != 0)
            return errno == EPIPE ? 0 : core_error(CORE_EIO, "%s", strerror(errno));
        st->batches++;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Into a topic.
 * ------------------------------------------------------------------------ */
static int ensure_topic(const app_ctx_t *ctx, seglog_t *log, const gen_opts_t *o)
{
    core_error_clear();
    int rc = seglog_topic_name_check(o->topic);
    if (rc != 0)
        return app_fail(rc, "gen: topic name '%s'", o->topic);
    seglog_topic_t *t = seglog_topic_get(log, o->topic);
    if (t != NULL) {
        int32_t have = seglog_topic_config(t)->partitions;
        if (o->partitions_set && have != o->partitions)
            fprintf(stderr,
                    "strata gen: topic %s already has %d partitions; --partitions %lld "
                    "ignored\n",
                    o->topic, (int)have, (long long)o->partitions);
        return 0;
    }
    seglog_topic_config_t cfg;
    seglog_topic_config_default(&cfg);
    cfg.partitions = (int32_t)o->partitions;
    rc = seglog_topic_create(log, o->topic, &cfg);
    if (rc != 0)
        return app_fail(rc, "gen: create topic %s in %s", o->topic, ctx->data_dir);
    fprintf(stderr, "strata gen: created topic %s with %d partitions\n", o->topic,
            (int)cfg.partitions);
    return 0;
}

/* *secs gets the time gen_run took (the rate it achieved is over that,
 * not over opening the log or the final fsync at close). */
static int run_topic(const app_ctx_t *ctx, gen_t *g, const gen_opts_t *o, gen_stats_t *st,
                     double *secs)
{
    seglog_t *log = NULL;
    if (app_open_log(ctx, true, &log) != 0) {
        fprintf(stderr,
                "strata gen: if `strata up` holds this data directory, feed it through its "
                "broker: strata gen %s --stdout --with-keys | kcat -P -b HOST:PORT -t %s "
                "-K '\\t' -X topic.partitioner=murmur2_random\n",
                o->gen.kind, o->topic);
        return APP_EXIT_ERROR;
    }
    bus_t *bus = NULL;
    int exit_code = ensure_topic(ctx, log, o);
    if (exit_code == 0) {
        core_error_clear();
        int rc = bus_open_seglog(log, &bus);
        int64_t t0 = core_mono_ns();
        if (rc == 0)
            rc = gen_run(g, bus, o->topic, o->rate, o->count, &stop_flag, st);
        *secs = (double)(core_mono_ns() - t0) / 1e9;
        if (rc != 0)
            exit_code = app_fail(rc, "gen: produce to %s", o->topic);
    }
    bus_close(bus);
    seglog_close(log); /* fsyncs every partition */
    return exit_code;
}

/* ------------------------------------------------------------------------
 * Into a topic of a Kafka cluster (--broker).
 * ------------------------------------------------------------------------ */

/* An admin client: bootstrap.servers and the user's properties. */
static int admin_open(const gen_opts_t *o, rd_kafka_t **out)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    int rc = 0;
    if (rd_kafka_conf_set(c, "bootstrap.servers", o->bootstrap, err, sizeof err) !=
        RD_KAFKA_CONF_OK)
        rc = core_error(CORE_EINVAL, "kafka bootstrap %s: %s", o->bootstrap, err);
    for (size_t i = 0; rc == 0 && i < o->nprops; i++) {
        char name[256];
        const char *eq = strchr(o->props[i], '=');
        size_t len = (size_t)(eq - o->props[i]);
        if (len >= sizeof name) {
            rc = core_error(CORE_EINVAL, "kafka property '%s': name too long", o->props[i]);
            break;
        }
        memcpy(name, o->props[i], len);
        name[len] = '\0';
        if (rd_kafka_conf_set(c, name, eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK)
            rc = core_error(CORE_EINVAL, "kafka property %s: %s", o->props[i], err);
    }
    if (rc == 0 && (*out = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err)) == NULL)
        rc = core_error(CORE_EINVAL, "kafka %s: cannot create an admin client: %s", o->bootstrap,
                        err);
    if (rc != 0)
        rd_kafka_conf_destroy(c);
    return rc;
}

/* The answer to one CreateTopics request (TOPIC_ALREADY_EXISTS is fine: a
 * concurrent run made it). */
static int create_result(const gen_opts_t *o, rd_kafka_event_t *ev)
{
    if (ev == NULL)
        return core_error(CORE_EIO, "kafka %s: no answer to CreateTopics %s within %d ms",
                          o->bootstrap, o->topic, KAFKA_ADMIN_MS + 5000);
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return core_error(CORE_EIO, "kafka %s: CreateTopics %s: %s", o->bootstrap, o->topic,
                          rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    rd_kafka_resp_err_t err =
        n == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        return 0;
    const char *why = n == 1 ? rd_kafka_topic_result_error_string(res[0]) : NULL;
    return core_error(CORE_EIO, "kafka %s: create topic %s with %lld partitions: %s", o->bootstrap,
                      o->topic, (long long)o->partitions,
                      why != NULL ? why : rd_kafka_err2str(err));
}

/* CreateTopics through librdkafka's admin API; the bus itself never
 * creates topics. */
static int create_kafka_topic(const gen_opts_t *o)
{
    rd_kafka_t *rk = NULL;
    int rc = admin_open(o, &rk);
    if (rc != 0)
        return rc;
    char err[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(o->topic, (int)o->partitions, -1, err, sizeof err);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    if (nt == NULL)
        rc = core_error(CORE_EINVAL, "kafka topic %s: %s", o->topic, err);
    if (rc == 0 &&
        (rd_kafka_AdminOptions_set_request_timeout(ao, KAFKA_ADMIN_MS, err, sizeof err) != 0 ||
         rd_kafka_AdminOptions_set_operation_timeout(ao, KAFKA_ADMIN_MS, err, sizeof err) != 0))
        rc = core_error(CORE_EINVAL, "kafka admin options: %s", err);
    if (rc == 0) {
        rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KAFKA_ADMIN_MS + 5000);
        rc = create_result(o, ev);
        if (ev != NULL)
            rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(ao);
    if (nt != NULL)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return rc;
}

/* The topic exists on the cluster afterwards, created if missing. */
static int ensure_kafka_topic(bus_t *bus, const gen_opts_t *o)
{
    int32_t have = 0;
    core_error_clear();
    int rc = bus_partitions(bus, o->topic, &have);
    if (rc == 0) {
        if (o->partitions_set && have != o->partitions)
            fprintf(stderr,
                    "strata gen: topic %s already has %d partitions on kafka://%s; "
                    "--partitions %lld ignored\n",
                    o->topic, (int)have, o->bootstrap, (long long)o->partitions);
        return 0;
    }
    if (rc != CORE_ENOENT)
        return rc;
    rc = create_kafka_topic(o);
    /* A cluster may answer metadata without the new topic for a moment. */
    int64_t deadline = core_mono_ns() + (int64_t)KAFKA_TOPIC_WAIT_MS * 1000000;
    while (rc == 0 && (rc = bus_partitions(bus, o->topic, &have)) == CORE_ENOENT &&
           core_mono_ns() < deadline) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        core_error_clear();
    }
    if (rc == 0)
        fprintf(stderr, "strata gen: created topic %s with %d partitions on kafka://%s\n", o->topic,
                (int)have, o->bootstrap);
    return rc;
}

static int run_kafka(gen_t *g, const gen_opts_t *o, gen_stats_t *st, double *secs)
{
    bus_t *bus = NULL;
    core_error_clear();
    int rc = seglog_topic_name_check(o->topic);
    if (rc != 0)
        return app_fail(rc, "gen: topic name '%s'", o->topic);
    rc = bus_open_kafka(o->bootstrap, o->props, o->nprops, &bus);
    if (rc != 0)
        return app_fail(rc, "gen: connect to kafka://%s", o->bootstrap);
    rc = ensure_kafka_topic(bus, o);
    int exit_code = 0;
    if (rc != 0) {
        exit_code = app_fail(rc, "gen: topic %s on kafka://%s", o->topic, o->bootstrap);
    } else {
        int64_t t0 = core_mono_ns();
        rc = gen_run(g, bus, o->topic, o->rate, o->count, &stop_flag, st);
        *secs = (double)(core_mono_ns() - t0) / 1e9;
        if (rc != 0)
            exit_code = app_fail(rc, "gen: produce to %s on kafka://%s", o->topic, o->bootstrap);
    }
    bus_close(bus); /* every produce call has waited for its acks */
    return exit_code;
}

int cmd_gen(app_ctx_t *ctx, int argc, char **argv)
{
    gen_opts_t o = {.count = -1,
                    .gen = {.invalid_ratio = 0.01, .late_ratio = 0.01, .anomaly_ratio = 0.01}};
    int rc = parse_options(ctx, argc, argv, &o);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    apply_defaults(&o);
    gen_t *g = NULL;
    core_error_clear();
    rc = gen_create(&o.gen, &g);
    if (rc == CORE_EINVAL)
        return app_usage_error("gen", "%s", core_error_detail());
    if (rc != 0)
        return app_fail(rc, "gen: create the %s generator", o.gen.kind);
    catch_signals();
    gen_stats_t st;
    memset(&st, 0, sizeof st);
    int64_t t0 = core_mono_ns();
    int exit_code = APP_EXIT_OK;
    double secs = 0;
    if (o.to_stdout) {
        core_error_clear();
        rc = run_stdout(g, &o, &st);
        if (rc != 0)
            exit_code = app_fail(rc, "gen: write to stdout");
        secs = (double)(core_mono_ns() - t0) / 1e9;
    } else if (o.bootstrap != NULL) {
        exit_code = run_kafka(g, &o, &st, &secs);
    } else {
        exit_code = run_topic(ctx, g, &o, &st, &secs);
    }
    char where[600] = "to stdout";
    if (o.bootstrap != NULL)
        snprintf(where, sizeof where, "to topic %s on kafka://%s", o.topic, o.bootstrap);
    else if (!o.to_stdout)
        snprintf(where, sizeof where, "to topic %s", o.topic);
    print_summary(&o, &st, secs, where);
    gen_destroy(g);
    return exit_code;
}

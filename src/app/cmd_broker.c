/*
 * cmd_broker.c - `strata broker`: serves the data directory's log to Kafka
 * clients until SIGINT or SIGTERM.
 *
 * Once listening it prints one line to stdout, "strata broker listening on
 * HOST:PORT", which tests and scripts wait for (with --listen ...:0 the
 * port is the one the kernel chose). Shutdown is clean: the broker stops,
 * then the log closes and writes its clean-shutdown marker.
 *
 * Threading: the broker runs on its own thread; this thread waits for a
 * stop signal.
 */
#include "app/app.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kafka/kafka.h"

enum {
    OPT_LISTEN = 0x200,
    OPT_ADVERTISE,
    OPT_DEFAULT_PARTITIONS,
    OPT_NO_AUTO_CREATE,
    OPT_MAX_CONNECTIONS,
    OPT_FLUSH,
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: strata broker [options]\n"
               "\n"
               "Serves the log over the Kafka protocol, so Kafka clients (kcat, librdkafka,\n"
               "confluent-kafka, kafka-python, kafkajs) can produce and consume unchanged.\n"
               "\n"
               "Options:\n"
               "  --listen HOST:PORT        address to listen on (default 127.0.0.1:9092;\n"
               "                            port 0 picks a free port)\n"
               "  --advertise HOST:PORT     address given to clients in Metadata\n"
               "                            (default: the listen address)\n"
               "  --default-partitions N    partitions of auto-created topics (default 1)\n"
               "  --no-auto-create          do not create topics on Metadata requests\n"
               "  --flush POLICY            flush policy of created topics: always, never or\n"
               "                            interval:MS (default interval:1000); acks=all is\n"
               "                            always answered after an fsync\n"
               "  --max-connections N       (default 1000)\n"
               "  --data DIR                data directory\n"
               "  -h, --help                show this help\n");
}

static int parse_opt(int c, kafka_config_t *cfg)
{
    int64_t n = 0;
    switch (c) {
    case OPT_LISTEN:
        cfg->listen = optarg;
        return 0;
    case OPT_ADVERTISE:
        cfg->advertise = optarg;
        return 0;
    case OPT_NO_AUTO_CREATE:
        cfg->auto_create_topics = false;
        return 0;
    case OPT_DEFAULT_PARTITIONS:
        if (app_parse_int("broker", "--default-partitions", optarg, 1, SEGLOG_PARTITIONS_MAX, &n) !=
            0)
            return APP_EXIT_USAGE;
        cfg->default_partitions = (int32_t)n;
        return 0;
    case OPT_MAX_CONNECTIONS:
        if (app_parse_int("broker", "--max-connections", optarg, 1, 1000000, &n) != 0)
            return APP_EXIT_USAGE;
        cfg->max_connections = (int32_t)n;
        return 0;
    case OPT_FLUSH:
        if (seglog_flush_parse(optarg, &cfg->topic_defaults.flush,
                               &cfg->topic_defaults.flush_interval_ms) != 0)
            return app_usage_error("broker", "--flush: %s", core_error_detail());
        return 0;
    default:
        return APP_EXIT_USAGE;
    }
}

static int parse_options(app_ctx_t *ctx, int argc, char **argv, kafka_config_t *cfg)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"advertise", required_argument, NULL, OPT_ADVERTISE},
        {"default-partitions", required_argument, NULL, OPT_DEFAULT_PARTITIONS},
        {"no-auto-create", no_argument, NULL, OPT_NO_AUTO_CREATE},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
        {"flush", required_argument, NULL, OPT_FLUSH},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return APP_HELP_SHOWN;
        }
        if (c == APP_OPT_DATA) {
            ctx->data_dir = optarg;
            continue;
        }
        if (c == ':' || c == '?')
            return app_option_error("broker", c, argv, argc);
        int rc = parse_opt(c, cfg);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return app_usage_error("broker", "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* Runs until a stop signal; returns an exit code. */
static int serve(const app_ctx_t *ctx, seglog_t *log, const kafka_config_t *cfg)
{
    kafka_broker_t *b;
    core_error_clear();
    int rc = kafka_broker_create(log, cfg, &b);
    if (rc != 0)
        return app_fail(rc, "start the broker on %s", cfg->listen);
    rc = kafka_broker_start(b);
    if (rc != 0) {
        kafka_broker_destroy(b);
        return app_fail(rc, "start the broker thread");
    }
    char host[256];
    const char *colon = strrchr(cfg->listen, ':');
    size_t hl = colon ? (size_t)(colon - cfg->listen) : strlen(cfg->listen);
    snprintf(host, sizeof host, "%.*s", (int)CORE_MIN(hl, sizeof host - 1), cfg->listen);
    printf("strata broker listening on %s:%d\n", host, kafka_broker_port(b));
    fflush(stdout);
    core_log(CORE_LOG_INFO, "app", "broker serving %s on %s:%d", ctx->data_dir, host,
             kafka_broker_port(b));
    while (!app_stop_requested()) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL); /* a signal cuts the nap short */
    }
    core_log(CORE_LOG_INFO, "app", "stopping the broker");
    kafka_broker_stop(b);
    kafka_broker_destroy(b);
    return APP_EXIT_OK;
}

int cmd_broker(app_ctx_t *ctx, int argc, char **argv)
{
    kafka_config_t cfg;
    kafka_config_default(&cfg);
    int rc = parse_options(ctx, argc, argv, &cfg);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    app_catch_signals();
    seglog_t *log;
    rc = app_open_log(ctx, true, &log);
    if (rc != 0)
        return rc;
    rc = serve(ctx, log, &cfg);
    seglog_close(log);
    return rc;
}

/*
 * cmd_topics.c - `strata topics create|list|describe|delete`.
 *
 * Each action opens the log, does one thing, and closes it. Only `create`
 * may create the data directory; the others report a missing one. Names are
 * checked with seglog_topic_name_check() before the log is opened, so a bad
 * name never leaves a data directory behind.
 *
 * Threading: single-threaded.
 */
#include "app/app.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum {
    OPT_PARTITIONS = 0x200,
    OPT_FLUSH,
    OPT_SEGMENT_BYTES,
    OPT_SEGMENT_MS,
    OPT_RETENTION_BYTES,
    OPT_RETENTION_MS,
    OPT_MAX_MESSAGE_BYTES,
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: strata topics create NAME [options]\n"
            "       strata topics list\n"
            "       strata topics describe NAME\n"
            "       strata topics delete NAME\n"
            "\n"
            "Options of create:\n"
            "  --partitions N           partitions (default 1)\n"
            "  --flush POLICY           always, never or interval:MS (default interval:1000)\n"
            "  --segment-bytes N        roll a segment at this size (default 1 GiB)\n"
            "  --segment-ms N           roll a segment at this age (default 7 days)\n"
            "  --retention-bytes N      per-partition size limit, -1 = none (default -1)\n"
            "  --retention-ms N         age limit by record time, -1 = none (default -1)\n"
            "  --max-message-bytes N    largest batch accepted (default 1048588)\n"
            "\n"
            "Common options:\n"
            "  --data DIR               data directory\n"
            "  -h, --help               show this help\n"
            "\n"
            "Topic names: 1 to %d characters of A-Z a-z 0-9 . _ -, not '.' or '..'.\n",
            SEGLOG_TOPIC_NAME_MAX);
}

/* Applies one option of `topics create` to cfg. Returns 0 or
 * APP_EXIT_USAGE (already reported). */
static int parse_create_opt(const char *cmd, int c, seglog_topic_config_t *cfg)
{
    int64_t v = 0;
    int rc = 0;
    switch (c) {
    case OPT_PARTITIONS:
        rc = app_parse_int(cmd, "--partitions", optarg, 1, SEGLOG_PARTITIONS_MAX, &v);
        cfg->partitions = (int32_t)v;
        break;
    case OPT_FLUSH:
        core_error_clear();
        if (seglog_flush_parse(optarg, &cfg->flush, &cfg->flush_interval_ms) != 0)
            rc = app_usage_error(cmd, "--flush: %s", core_error_detail());
        break;
    case OPT_SEGMENT_BYTES:
        rc = app_parse_int(cmd, "--segment-bytes", optarg, 1, INT64_MAX, &cfg->segment_bytes);
        break;
    case OPT_SEGMENT_MS:
        rc = app_parse_int(cmd, "--segment-ms", optarg, 1, INT64_MAX, &cfg->segment_ms);
        break;
    case OPT_RETENTION_BYTES:
        rc = app_parse_int(cmd, "--retention-bytes", optarg, -1, INT64_MAX, &cfg->retention_bytes);
        break;
    case OPT_RETENTION_MS:
        rc = app_parse_int(cmd, "--retention-ms", optarg, -1, INT64_MAX, &cfg->retention_ms);
        break;
    case OPT_MAX_MESSAGE_BYTES:
        rc = app_parse_int(cmd, "--max-message-bytes", optarg, 1, INT32_MAX, &v);
        cfg->max_message_bytes = (int32_t)v;
        break;
    default:
        rc = APP_EXIT_USAGE;
        break;
    }
    return rc;
}

/* Parses the options of one action: the create settings into cfg, or only
 * the common ones when cfg is NULL. Returns 0 with *first set to the index
 * of the first operand, APP_HELP_SHOWN, or APP_EXIT_USAGE (reported). */
static int parse_options(app_ctx_t *ctx, const char *cmd, int argc, char **argv,
                         seglog_topic_config_t *cfg, int *first)
{
    static const struct option create_opts[] = {
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"flush", required_argument, NULL, OPT_FLUSH},
        {"segment-bytes", required_argument, NULL, OPT_SEGMENT_BYTES},
        {"segment-ms", required_argument, NULL, OPT_SEGMENT_MS},
        {"retention-bytes", required_argument, NULL, OPT_RETENTION_BYTES},
        {"retention-ms", required_argument, NULL, OPT_RETENTION_MS},
        {"max-message-bytes", required_argument, NULL, OPT_MAX_MESSAGE_BYTES},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct option common_opts[] = {
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", cfg != NULL ? create_opts : common_opts, NULL)) !=
           -1) {
        if (c == 'h') {
            usage(stdout);
            return APP_HELP_SHOWN;
        }
        if (c == APP_OPT_DATA) {
            ctx->data_dir = optarg;
            continue;
        }
        if (c == ':' || c == '?')
            return app_option_error(cmd, c, argv, argc);
        int rc = parse_create_opt(cmd, c, cfg);
        if (rc != 0)
            return rc;
    }
    *first = optind;
    return 0;
}

/* Parses options and exactly `want` operands (the topic name when 1).
 * Returns 0, APP_HELP_SHOWN or APP_EXIT_USAGE. */
static int parse_action(app_ctx_t *ctx, const char *cmd, int argc, char **argv,
                        seglog_topic_config_t *cfg, int want, const char **name)
{
    int first = 0;
    int rc = parse_options(ctx, cmd, argc, argv, cfg, &first);
    if (rc != 0)
        return rc;
    int have = argc - first;
    if (want == 1 && have == 0)
        return app_usage_error(cmd, "missing the topic NAME");
    if (have > want)
        return app_usage_error(cmd, "unexpected argument '%s'", argv[first + want]);
    if (want == 1)
        *name = argv[first];
    if (ctx->data_dir[0] == '\0')
        return app_usage_error(cmd, "--data needs a non-empty directory");
    return 0;
}

static int topics_create(app_ctx_t *ctx, int argc, char **argv)
{
    const char *cmd = "topics create";
    seglog_topic_config_t cfg;
    seglog_topic_config_default(&cfg);
    const char *name = NULL;
    int rc = parse_action(ctx, cmd, argc, argv, &cfg, 1, &name);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    core_error_clear();
    rc = seglog_topic_name_check(name);
    if (rc != 0)
        return app_fail(rc, "create topic");

    seglog_t *log = NULL;
    if (app_open_log(ctx, true, &log) != 0)
        return APP_EXIT_ERROR;
    core_error_clear();
    rc = seglog_topic_create(log, name, &cfg);
    int exit_code = APP_EXIT_OK;
    if (rc == CORE_EEXIST) {
        core_error(rc, "topic '%s' is already in %s; delete it first or pick another name", name,
                   ctx->data_dir);
        exit_code = app_fail(rc, "create topic %s", name);
    } else if (rc != 0) {
        exit_code = app_fail(rc, "create topic %s", name);
    } else {
        printf("created topic %s with %d partition%s\n", name, (int)cfg.partitions,
               cfg.partitions == 1 ? "" : "s");
    }
    seglog_close(log);
    return exit_code;
}

static int topics_list(app_ctx_t *ctx, int argc, char **argv)
{
    int rc = parse_action(ctx, "topics list", argc, argv, NULL, 0, NULL);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    seglog_t *log = NULL;
    if (app_open_log(ctx, false, &log) != 0)
        return APP_EXIT_ERROR;
    char **names = NULL;
    size_t count = 0;
    core_error_clear();
    rc = seglog_topic_names(log, &names, &count);
    int exit_code = APP_EXIT_OK;
    if (rc != 0) {
        exit_code = app_fail(rc, "list topics in %s", ctx->data_dir);
    } else {
        for (size_t i = 0; i < count; i++)
            printf("%s\n", names[i]);
        seglog_names_free(names, count);
    }
    seglog_close(log);
    return exit_code;
}

static void print_config(const seglog_topic_t *t)
{
    const seglog_topic_config_t *c = seglog_topic_config(t);
    char flush[64];
    seglog_flush_format(c->flush, c->flush_interval_ms, flush, sizeof flush);
    printf("topic                 %s\n", seglog_topic_name(t));
    printf("partitions            %d\n", (int)c->partitions);
    printf("flush                 %s\n", flush);
    printf("segment.bytes         %lld\n", (long long)c->segment_bytes);
    printf("segment.ms            %lld\n", (long long)c->segment_ms);
    printf("retention.bytes       %lld\n", (long long)c->retention_bytes);
    printf("retention.ms          %lld\n", (long long)c->retention_ms);
    printf("max.message.bytes     %d\n", (int)c->max_message_bytes);
    printf("index.interval.bytes  %d\n", (int)c->index_interval_bytes);
}

static void print_partitions(seglog_topic_t *t)
{
    int32_t n = seglog_topic_config(t)->partitions;
    printf("\n%9s %12s %12s %12s %14s %9s  %s\n", "partition", "log_start", "log_end",
           "durable_end", "size_bytes", "segments", "state");
    for (int32_t p = 0; p < n; p++) {
        seglog_part_t *part = seglog_partition(t, p);
        if (part == NULL)
            continue;
        seglog_part_info_t info;
        seglog_part_info(part, &info);
        const char *err = info.failed ? seglog_part_error(part) : NULL;
        printf("%9d %12lld %12lld %12lld %14lld %9d  %s%s%s\n", (int)p, (long long)info.log_start,
               (long long)info.log_end, (long long)info.durable_end, (long long)info.size_bytes,
               (int)info.segments, info.failed ? "failed" : "ok", err != NULL ? ": " : "",
               err != NULL ? err : "");
    }
}

static int topics_describe(app_ctx_t *ctx, int argc, char **argv)
{
    const char *name = NULL;
    int rc = parse_action(ctx, "topics describe", argc, argv, NULL, 1, &name);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    seglog_t *log = NULL;
    if (app_open_log(ctx, false, &log) != 0)
        return APP_EXIT_ERROR;
    seglog_topic_t *t = NULL;
    int exit_code = app_get_topic(ctx, log, "describe topic", name, &t);
    if (exit_code == APP_EXIT_OK) {
        print_config(t);
        print_partitions(t);
    }
    seglog_close(log);
    return exit_code;
}

static int topics_delete(app_ctx_t *ctx, int argc, char **argv)
{
    const char *name = NULL;
    int rc = parse_action(ctx, "topics delete", argc, argv, NULL, 1, &name);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    seglog_t *log = NULL;
    if (app_open_log(ctx, false, &log) != 0)
        return APP_EXIT_ERROR;
    seglog_topic_t *t = NULL;
    int exit_code = app_get_topic(ctx, log, "delete topic", name, &t);
    if (exit_code == APP_EXIT_OK) {
        core_error_clear();
        rc = seglog_topic_delete(log, name);
        if (rc != 0)
            exit_code = app_fail(rc, "delete topic %s", name);
        else
            printf("deleted topic %s\n", name);
    }
    seglog_close(log);
    return exit_code;
}

int cmd_topics(app_ctx_t *ctx, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(app_ctx_t *ctx, int argc, char **argv);
    } actions[] = {
        {"create", topics_create},
        {"list", topics_list},
        {"describe", topics_describe},
        {"delete", topics_delete},
    };
    if (argc < 2) {
        usage(stderr);
        return APP_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return APP_EXIT_OK;
    }
    for (size_t i = 0; i < CORE_ARRAY_LEN(actions); i++)
        if (strcmp(argv[1], actions[i].name) == 0)
            return actions[i].run(ctx, argc - 1, argv + 1);
    return app_usage_error("topics", "unknown action '%s' (create, list, describe, delete)",
                           argv[1]);
}

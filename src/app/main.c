/*
 * main.c - the strata command line: global options and subcommand dispatch.
 *
 *   strata [--data DIR] [-h|--help] [-V|--version] COMMAND [ARGS...]
 *
 * The data directory is --data, else $STRATA_DATA, else "./data". Global
 * options stop at the first non-option word, the command; each command then
 * parses the rest itself (getopt_long, restarted with optind = 0).
 *
 * Invariants: every path out of a command returns an APP_EXIT_ code; errors
 * are printed once, to stderr, as "strata: <what>: <message>: <detail>".
 *
 * Threading: single-threaded. The signal handlers only set a flag.
 */
#include "app/app.h"
#include "app/config.h"
#include "app/platform.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *name;
    int (*run)(app_ctx_t *ctx, int argc, char **argv);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"topics", cmd_topics, "create, list, describe and delete topics"},
    {"produce", cmd_produce, "append the lines of stdin to a topic, one record each"},
    {"consume", cmd_consume, "print the records of a topic"},
    {"broker", cmd_broker, "serve the log to Kafka clients over the Kafka protocol"},
    {"check", cmd_check, "validate a config file (check -c FILE)"},
    {"up", cmd_up, "run the platform a config describes (up -c FILE)"},
    {"demo", cmd_demo, "run the whole platform with a built-in config and live data"},
    {"views", cmd_views, "list and query aggregate views"},
    {"gen", cmd_gen, "generate realistic test data into a topic (gen KIND)"},
    {"jobs", cmd_jobs, "list, run and inspect batch jobs and their runs"},
    {"import", cmd_import, "import CSV files into a topic as a tracked job run"},
    {"replay", cmd_replay, "rebuild a view from offset 0 and switch to it (replay PIPELINE)"},
};

/* Set by the signal handler, which may run on any thread, and read by
 * others: a lock-free atomic (async-signal-safe), not a volatile. */
static atomic_int stop_flag;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop flag must be lock-free to be set in a handler");

static void usage(FILE *f)
{
    fprintf(f, "usage: strata [--data DIR] COMMAND [ARGS...]\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < CORE_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-9s %s\n", "help", "show the help of a command (strata help COMMAND)");
    fprintf(f, "\n"
               "Options:\n"
               "  --data DIR     data directory (default: $STRATA_DATA, else ./data)\n"
               "  -h, --help     show this help\n"
               "  -V, --version  print the version\n"
               "\n"
               "Exit codes: 0 ok, 1 error, 2 bad usage.\n");
}

int app_fail(int code, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *detail = core_error_detail();
    if (detail[0] != '\0')
        fprintf(stderr, "strata: %s: %s: %s\n", what, core_strerror(code), detail);
    else
        fprintf(stderr, "strata: %s: %s\n", what, core_strerror(code));
    return APP_EXIT_ERROR;
}

int app_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cmd == NULL || cmd[0] == '\0')
        fprintf(stderr, "strata: %s\nTry 'strata --help'.\n", msg);
    else
        fprintf(stderr, "strata %s: %s\nTry 'strata %s --help'.\n", cmd, msg, cmd);
    return APP_EXIT_USAGE;
}

int app_option_error(const char *cmd, int c, char **argv, int argc)
{
    /* For a long option getopt leaves optopt = 0 (or the option's value);
     * the offending word is then the one just consumed. */
    const char *word = (optind >= 1 && optind - 1 < argc) ? argv[optind - 1] : "?";
    if (c == ':') {
        if (optopt > 0 && optopt < 0x100)
            return app_usage_error(cmd, "option '-%c' needs a value", optopt);
        return app_usage_error(cmd, "option '%s' needs a value", word);
    }
    if (optopt > 0 && optopt < 0x100)
        return app_usage_error(cmd, "unknown option '-%c'", optopt);
    return app_usage_error(cmd, "unknown option '%s'", word);
}

int app_parse_int(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
                  int64_t *out)
{
    int rc = core_parse_i64(s, min, max, out);
    if (rc == CORE_ERANGE)
        return app_usage_error(cmd, "%s %s: must be between %lld and %lld", opt, s, (long long)min,
                               (long long)max);
    if (rc != 0)
        return app_usage_error(cmd, "%s %s: not a whole number", opt, s);
    return 0;
}

int app_open_log(const app_ctx_t *ctx, bool create, seglog_t **out)
{
    struct stat st;
    if (!create && stat(ctx->data_dir, &st) != 0 && errno == ENOENT) {
        core_error(CORE_ENOENT,
                   "%s does not exist; create a topic first, or point --data "
                   "or STRATA_DATA at an existing data directory",
                   ctx->data_dir);
        return app_fail(CORE_ENOENT, "open data directory %s", ctx->data_dir);
    }
    core_error_clear();
    int rc = seglog_open(ctx->data_dir, out);
    if (rc != 0)
        return app_fail(rc, "open data directory %s", ctx->data_dir);
    return 0;
}

int app_get_topic(const app_ctx_t *ctx, seglog_t *log, const char *what, const char *name,
                  seglog_topic_t **out)
{
    core_error_clear();
    int rc = seglog_topic_name_check(name);
    if (rc != 0)
        return app_fail(rc, "%s: topic name '%s'", what, name);
    *out = seglog_topic_get(log, name);
    if (*out == NULL) {
        core_error(CORE_ENOENT, "no topic '%s' in %s; see 'strata topics list'", name,
                   ctx->data_dir);
        return app_fail(CORE_ENOENT, "%s", what);
    }
    return 0;
}

static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store(&stop_flag, 1);
}

int app_topic_operand(const app_ctx_t *ctx, const char *cmd, int argc, char **argv,
                      const char **topic)
{
    if (optind >= argc)
        return app_usage_error(cmd, "missing the TOPIC");
    if (argc - optind > 1)
        return app_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    if (ctx->data_dir[0] == '\0')
        return app_usage_error(cmd, "--data needs a non-empty directory");
    *topic = argv[optind];
    return 0;
}

void app_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking reads must see EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool app_stop_requested(void)
{
    return atomic_load(&stop_flag) != 0;
}

/* Flushes stdout and turns a failed write (a full disk, say) into an error,
 * so `strata topics list > file` cannot fail silently. A reader that went
 * away (EPIPE, as with `| head`) is not an error. */
static int finish_stdout(int exit_code)
{
    if (fflush(stdout) == 0 && !ferror(stdout))
        return exit_code;
    int err = errno;
    if (exit_code == APP_EXIT_OK && err != EPIPE) {
        core_error(CORE_EIO, "%s", strerror(err));
        exit_code = app_fail(CORE_EIO, "write to stdout");
    }
    return exit_code;
}

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < CORE_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* `strata help [COMMAND]`: the global help, or COMMAND --help. */
static int run_help(app_ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return finish_stdout(APP_EXIT_OK);
    }
    const command_t *cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "strata: unknown command '%s'\nTry 'strata --help'.\n", argv[1]);
        return APP_EXIT_USAGE;
    }
    char *sub_argv[] = {argv[1], (char *)"--help", NULL};
    return finish_stdout(cmd->run(ctx, 2, sub_argv));
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    app_ctx_t ctx = {.data_dir = "./data"};
    const char *env = getenv("STRATA_DATA");
    if (env != NULL && env[0] != '\0')
        ctx.data_dir = env;
    core_log_set_level(CORE_LOG_WARN);

    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
        switch (c) {
        case APP_OPT_DATA:
            ctx.data_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return finish_stdout(APP_EXIT_OK);
        case 'V':
            printf("strata %s\n", STRATA_VERSION);
            return finish_stdout(APP_EXIT_OK);
        default:
            return app_option_error("", c, argv, argc);
        }
    }
    if (ctx.data_dir[0] == '\0') {
        fprintf(stderr, "strata: --data needs a non-empty directory\n");
        return APP_EXIT_USAGE;
    }
    if (optind >= argc) {
        usage(stderr);
        return APP_EXIT_USAGE;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    if (strcmp(sub_argv[0], "help") == 0)
        return run_help(&ctx, sub_argc, sub_argv);
    const command_t *cmd = find_command(sub_argv[0]);
    if (cmd == NULL) {
        fprintf(stderr, "strata: unknown command '%s'\nTry 'strata --help'.\n", sub_argv[0]);
        return APP_EXIT_USAGE;
    }
    optind = 0; /* glibc: 0 restarts getopt's scan, including its internal state */
    int exit_code = cmd->run(&ctx, sub_argc, sub_argv);
    return finish_stdout(exit_code);
}

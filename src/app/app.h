/*
 * app.h - what the strata command-line subcommands share (internal to app/).
 *
 * main.c parses the global options and dispatches to one cmd_* function,
 * which parses its own options and returns the process exit code. The
 * helpers below, defined in main.c, keep error reporting, option parsing and
 * log opening identical across subcommands.
 *
 * Threading: the command-line tool is single-threaded (seglog may run its
 * own flusher thread underneath).
 */
#ifndef STRATA_APP_H
#define STRATA_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "seglog/seglog.h"

/* Exit codes (shared/reference/conventions.md). */
#define APP_EXIT_OK    0
#define APP_EXIT_ERROR 1
#define APP_EXIT_USAGE 2

/* Returned by option parsers when --help was handled: exit 0 at once. */
#define APP_HELP_SHOWN (-1000)

/* Long-option value of --data, accepted by every subcommand. */
#define APP_OPT_DATA 0x100

/* Settings every subcommand receives. Owned by main(). */
typedef struct {
    const char *data_dir; /* borrowed from argv or the environment */
} app_ctx_t;

/* Subcommands: argv[0] is the subcommand's name. Return an APP_EXIT_ code. */
int cmd_topics(app_ctx_t *ctx, int argc, char **argv);
int cmd_produce(app_ctx_t *ctx, int argc, char **argv);
int cmd_consume(app_ctx_t *ctx, int argc, char **argv);
int cmd_broker(app_ctx_t *ctx, int argc, char **argv);
int cmd_gen(app_ctx_t *ctx, int argc, char **argv);

/* Prints "strata: <what>: <core_strerror(code)>: <detail>" to stderr, where
 * <what> comes from the printf format and <detail> is the thread's
 * core_error_detail() (left out when empty). Returns APP_EXIT_ERROR. */
int app_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "strata <cmd>: <message>" and a pointer to `strata <cmd> --help`
 * to stderr. Returns APP_EXIT_USAGE. */
int app_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports getopt_long's ':' (missing value) or '?' (unknown option) result
 * for command `cmd`. Call with optopt/optind as getopt left them. Returns
 * APP_EXIT_USAGE. */
int app_option_error(const char *cmd, int c, char **argv, int argc);

/* Parses option `opt`'s value as a decimal integer in [min, max]; on
 * failure prints a usage error and returns APP_EXIT_USAGE, else 0. */
int app_parse_int(const char *cmd, const char *opt, const char *s, int64_t min, int64_t max,
                  int64_t *out);

/* Opens the log in ctx->data_dir. With `create` false a missing data
 * directory is an error (so read-only commands do not create one). Reports
 * failures itself and returns APP_EXIT_ERROR; 0 on success. */
int app_open_log(const app_ctx_t *ctx, bool create, seglog_t **out);

/* Looks up a topic, reporting an unknown or badly named one as the failure
 * of `what`. Returns 0 or APP_EXIT_ERROR. */
int app_get_topic(const app_ctx_t *ctx, seglog_t *log, const char *what, const char *name,
                  seglog_topic_t **out);

/* Installs SIGINT/SIGTERM handlers that only set a flag (no SA_RESTART, so a
 * blocking read returns EINTR), and ignores SIGPIPE so that a closed stdout
 * is an EPIPE write error rather than a kill that skips seglog_close(). */
/* After getopt: takes exactly one operand, the TOPIC, at argv[optind], and
 * checks --data is not empty. Returns 0 or APP_EXIT_USAGE (reported). */
int app_topic_operand(const app_ctx_t *ctx, const char *cmd, int argc, char **argv,
                      const char **topic);

void app_catch_signals(void);
bool app_stop_requested(void);

#endif /* STRATA_APP_H */

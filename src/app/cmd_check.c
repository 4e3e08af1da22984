/*
 * cmd_check.c - `strata check`: validate a config file without running
 * anything, or print the reference of every config key.
 *
 *   strata check -c FILE        every error on stderr, one per line, as
 *                               FILE:LINE:COL: path.to.key: message, and
 *                               exit 78 (EX_CONFIG); or a one-line summary
 *                               on stdout and exit 0
 *   strata check --print-keys   the key reference (Markdown), generated
 *                               from the key tables; docs/config.md
 *                               embeds it
 *
 * A file that cannot be read at all is an ordinary error (exit 1); bad
 * usage exits 2.
 *
 * Threading: single-threaded.
 */
#include "app/config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum { OPT_PRINT_KEYS = 0x200 };

static void usage(FILE *f)
{
    fprintf(f, "usage: strata check -c FILE\n"
               "       strata check --print-keys\n"
               "\n"
               "Validates a config file: YAML syntax, key names, types, bounds, required\n"
               "keys, and references between topics, schemas and pipelines. Environment\n"
               "overrides (STRATA_<SECTION>_<KEY>) and ${VAR} interpolation apply, as\n"
               "when the config is used.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  the config file to check\n"
               "  --print-keys       print the reference of every key (Markdown)\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit codes: 0 valid, 78 invalid config (each error printed as\n"
               "FILE:LINE:COL: key.path: message), 1 file unreadable, 2 bad usage.\n");
}

/* Parses the options. Returns 0, APP_HELP_SHOWN or APP_EXIT_USAGE. */
static int parse_options(int argc, char **argv, const char **path, bool *print_keys)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"print-keys", no_argument, NULL, OPT_PRINT_KEYS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *path = optarg;
            break;
        case OPT_PRINT_KEYS:
            *print_keys = true;
            break;
        case 'h':
            usage(stdout);
            return APP_HELP_SHOWN;
        default:
            return app_option_error("check", c, argv, argc);
        }
    }
    if (optind < argc)
        return app_usage_error("check", "unexpected argument '%s'", argv[optind]);
    if (*print_keys && *path != NULL)
        return app_usage_error("check", "give either -c FILE or --print-keys, not both");
    if (!*print_keys && (*path == NULL || (*path)[0] == '\0'))
        return app_usage_error("check", "missing the config: -c FILE");
    return 0;
}

static int check_file(const char *path)
{
    app_config_t *cfg = NULL;
    int rc = app_config_load(path, &cfg);
    if (cfg == NULL)
        return app_fail(rc, "check %s", path);
    int exit_code = APP_EXIT_OK;
    /* Expressions, schemas and pipelines compile only on a config that
     * loaded cleanly (a failed load may hold NULL entries). */
    if (rc == 0 && app_check_pipelines(cfg) < 0)
        rc = CORE_ENOMEM;
    if (rc == CORE_ENOENT || rc == CORE_EIO || rc == CORE_ENOMEM) {
        exit_code = app_fail(rc, "check %s", path);
    } else if (app_config_error_count(cfg) > 0) {
        size_t n = app_config_print_errors(cfg, stderr);
        fprintf(stderr, "%s: %zu error%s; the config is not valid\n", path, n, n == 1 ? "" : "s");
        exit_code = APP_EXIT_CONFIG;
    } else {
        printf("ok: %zu topics, %zu schemas, %zu pipelines", cfg->n_topics, cfg->n_schemas,
               cfg->n_pipelines);
        if (cfg->n_jobs > 0)
            printf(", %zu jobs", cfg->n_jobs);
        if (cfg->n_generators > 0)
            printf(", %zu generators", cfg->n_generators);
        printf("\n");
    }
    app_config_destroy(cfg);
    return exit_code;
}

int cmd_check(app_ctx_t *ctx, int argc, char **argv)
{
    (void)ctx; /* the config names its own data directory */
    const char *path = NULL;
    bool print_keys = false;
    int rc = parse_options(argc, argv, &path, &print_keys);
    if (rc == APP_HELP_SHOWN)
        return APP_EXIT_OK;
    if (rc != 0)
        return rc;
    if (print_keys) {
        core_error_clear();
        rc = app_config_print_keys(stdout);
        return rc == 0 ? APP_EXIT_OK : app_fail(rc, "print the key reference");
    }
    return check_file(path);
}

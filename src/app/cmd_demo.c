/*
 * `strata demo`: the whole platform at once, with no file to write. The
 * config is built into the binary (examples/demo/overlay.yaml over the
 * examples' stocks, transactions and events configs, merged at build time
 * by scripts/demo_config.py): the broker on 127.0.0.1:9092, the dashboard
 * and API on 127.0.0.1:8080, generators for transactions, stocks, app,
 * web, clickstream and CDC events at modest rates, every example pipeline,
 * and the batch jobs, including a recompute every minute. It takes the
 * options of `strata up`; `--print-config` prints the built-in config.
 *
 * Threading: as `strata up`.
 */
#include <stdio.h>
#include <string.h>

#include "app/platform.h"

extern const char app_demo_config[];
extern const size_t app_demo_config_len;

int cmd_demo(app_ctx_t *ctx, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--print-config") == 0) {
            fwrite(app_demo_config, 1, app_demo_config_len, stdout);
            return APP_EXIT_OK;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("Usage: strata demo [--print-config] [options of strata up]\n"
                   "\n"
                   "Runs the whole platform with a built-in config: the broker (127.0.0.1:9092),\n"
                   "generators for transactions, stocks, app, web, clickstream and CDC events,\n"
                   "the example pipelines, batch jobs, and the dashboard and REST API\n"
                   "(http://127.0.0.1:8080/). Data goes to ./strata-demo ($STRATA_DEMO_DIR).\n"
                   "\n"
                   "  --print-config   print the built-in config and exit\n"
                   "Every option of `strata up` applies (--listen, --http-listen, --store, ...);\n"
                   "see `strata up --help`.\n");
            return APP_EXIT_OK;
        }
    }
    return app_up_main(ctx, argc, argv, app_demo_config, app_demo_config_len);
}

/*
 * tests/fuzz/app_config.c - libFuzzer target for the config loader: any
 * bytes through app_config_load_string(), errors printed to /dev/null.
 *
 * Oracles: the loader returns a config for every input (memory permitting);
 * it returns 0 exactly when it recorded no error, and CORE_EINVAL or
 * CORE_ETOOBIG otherwise; every recorded error has text and a sane
 * position; a valid config's names are non-NULL and its pipelines resolve
 * their schema. Any broken oracle calls abort(), which the fuzzer reports.
 *
 * Invariants: the config is destroyed before returning (LeakSanitizer).
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "app/config.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_valid(const app_config_t *cfg)
{
    check(cfg->data_dir != NULL && cfg->store_url != NULL && cfg->http_listen != NULL);
    for (size_t i = 0; i < cfg->n_topics; i++)
        check(cfg->topics[i].name != NULL && cfg->topics[i].flush != NULL);
    for (size_t i = 0; i < cfg->n_pipelines; i++) {
        const app_pipeline_t *p = &cfg->pipelines[i];
        check(p->name != NULL && p->topic != NULL && p->schema != NULL);
        check(app_config_find_schema(cfg, p->schema) != NULL);
        check(p->kind != APP_PIPE_AGGREGATE || (p->has_window && p->n_aggregates > 0));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (sink == NULL)
        sink = fopen("/dev/null", "w");
    app_config_t *cfg = NULL;
    int rc = app_config_load_string("fuzz.yaml", (const char *)data, size, &cfg);
    if (cfg == NULL) {
        check(rc == CORE_ENOMEM);
        return 0;
    }
    size_t n = app_config_error_count(cfg);
    check((rc == 0) == (n == 0));
    check(rc == 0 || rc == CORE_EINVAL || rc == CORE_ETOOBIG || rc == CORE_ENOMEM);
    for (size_t i = 0; app_config_error_get(cfg, i) != NULL; i++) {
        const app_config_error_t *e = app_config_error_get(cfg, i);
        check(e->text != NULL && e->line >= 0 && e->col >= 0);
    }
    if (rc == 0)
        check_valid(cfg);
    if (sink != NULL)
        check(app_config_print_errors(cfg, sink) == n);
    app_config_destroy(cfg);
    return 0;
}

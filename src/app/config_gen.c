/*
 * config_gen.c - cross-reference checks and computed defaults of the
 * `generators` section: unique names, each generator's topic is a topic
 * of the config, the three ratios sum to 1 at most (gen_create's rule,
 * reported here with the line), and the seed of a generator that gives
 * none is derived from its name, so that `strata check` and `strata up`
 * agree on it and a restart repeats it.
 *
 * The kind is an enum of the key table (config_keys.c), so an unknown kind
 * is already reported by the parser; this file does not need gen/.
 *
 * Invariants: parsing may have left a name or topic NULL (after its own
 * error); checks skip what they cannot judge, so one mistake is reported
 * once.
 *
 * Threading: the loading thread only.
 */
#include "app/config.h"

#include <stdio.h>
#include <string.h>

int64_t app_generator_default_seed(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, 64 bit */
    for (const unsigned char *p = (const unsigned char *)name; p != NULL && *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return (int64_t)(h & (uint64_t)INT64_MAX);
}

static void check_topic(app_config_t *cfg, size_t i, const app_generator_t *g)
{
    if (g->topic == NULL || app_config_find_topic(cfg, g->topic) != NULL)
        return;
    app_suggest_t s = {.word = g->topic};
    for (size_t j = 0; j < cfg->n_topics; j++)
        app_suggest_consider(&s, cfg->topics[j].name);
    char hint[128];
    int line, col;
    app_config_value_pos(cfg, &g->topic, g->line, &line, &col);
    app_config_error(cfg, line, col, "generators[%zu].topic: unknown topic '%s'%s", i, g->topic,
                     app_suggest_text(&s, hint, sizeof hint));
}

static void check_ratios(app_config_t *cfg, size_t i, const app_generator_t *g)
{
    double sum = g->invalid_ratio + g->late_ratio + g->anomaly_ratio;
    if (sum > 1.0 + 1e-9)
        app_config_error(cfg, g->line, 0,
                         "generators[%zu]: invalid_ratio + late_ratio + anomaly_ratio is %g; "
                         "the shares must not exceed 1",
                         i, sum);
}

void app_config_check_generators(app_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_generators; i++) {
        app_generator_t *g = &cfg->generators[i];
        for (size_t k = 0; k < i && g->name != NULL; k++) {
            const app_generator_t *first = &cfg->generators[k];
            if (first->name != NULL && strcmp(first->name, g->name) == 0) {
                int line, col;
                app_config_value_pos(cfg, &g->name, g->line, &line, &col);
                app_config_error(cfg, line, col,
                                 "generators[%zu].name: duplicate generator '%s' (first defined "
                                 "at line %d)",
                                 i, g->name, first->line);
                break;
            }
        }
        check_topic(cfg, i, g);
        check_ratios(cfg, i, g);
        if (!g->has_seed && g->name != NULL)
            g->seed = app_generator_default_seed(g->name);
    }
}

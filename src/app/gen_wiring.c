/*
 * gen_wiring.c - the `generators` of a config inside `strata up`: one
 * thread per enabled generator, each running gen_run() into its topic on
 * the platform's bus at its rate, until its count is reached or the
 * platform stops (docs/generators.md, "In the config").
 *
 * Each start of `strata up` starts every generator from the beginning of
 * its stream: the configured (or name-derived) seed, and event time from
 * `start`, or from the wall clock read here when `start` is not given.
 * The line printed per generator names both, so `strata gen` can repeat
 * any run exactly.
 *
 * Invariants: each generator's counts are printed exactly once: by its
 * thread when it ends by itself (count reached, or an error), else by
 * app_gens_stop() after the join. The bus outlives every thread.
 *
 * Threading: app_gens_start() and app_gens_stop() run on the main thread.
 * A task (its gen_t and its stats) belongs to its thread from
 * pthread_create until the join; the main thread reads it after the join.
 * The stop flag is written by the main thread and read atomically by
 * gen_run in every thread.
 */
#include "app/platform.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "gen/gen.h"

typedef struct {
    const app_generator_t *def; /* borrowed from the config */
    gen_options_t opts;
    gen_t *gen; /* owned */
    bus_t *bus; /* borrowed */
    const int *stop;
    gen_stats_t stats;
    pthread_t thread;
    bool started;
    bool reported; /* the thread printed the counts */
} gen_task_t;

struct app_gens {
    int stop; /* 1 once app_gens_stop() runs; atomic */
    gen_task_t *tasks;
    size_t n;
};

static void print_counts(const gen_task_t *t, const char *how)
{
    const gen_stats_t *st = &t->stats;
    printf("strata up: generator %s %s: %lld %s records to %s: normal %lld, invalid %lld, late "
           "%lld, anomaly %lld\n",
           t->def->name, how, (long long)st->produced, t->opts.kind, t->def->topic,
           (long long)st->by_class[GEN_CLASS_NORMAL], (long long)st->by_class[GEN_CLASS_INVALID],
           (long long)st->by_class[GEN_CLASS_LATE], (long long)st->by_class[GEN_CLASS_ANOMALY]);
    fflush(stdout);
}

static void *gen_main(void *arg)
{
    gen_task_t *t = arg;
    core_error_clear();
    int rc =
        gen_run(t->gen, t->bus, t->def->topic, t->def->rate, t->def->count, t->stop, &t->stats);
    if (rc != 0) {
        app_fail(rc, "generator %s stopped: produce to %s", t->def->name, t->def->topic);
        print_counts(t, "failed");
        t->reported = true;
    } else if (t->def->count >= 0 && t->stats.produced >= t->def->count) {
        print_counts(t, "finished");
        t->reported = true;
    }
    return NULL;
}

static void task_options(gen_task_t *t, int64_t now_ms)
{
    const app_generator_t *d = t->def;
    t->opts = (gen_options_t){
        .kind = app_gen_kind_name(d->kind),
        .seed = (uint64_t)d->seed,
        .start_ms = d->has_start ? d->start_ms : now_ms,
        .rate = d->rate,
        .invalid_ratio = d->invalid_ratio,
        .late_ratio = d->late_ratio,
        .anomaly_ratio = d->anomaly_ratio,
    };
}

static void print_start(const gen_task_t *t)
{
    char start[40], count[48] = "";
    core_format_iso8601_ms(t->opts.start_ms, start, sizeof start);
    if (t->def->count >= 0)
        snprintf(count, sizeof count, ", %lld records", (long long)t->def->count);
    printf("strata up: generator %s: %s into %s at %g/s%s, seed %llu, start %s\n", t->def->name,
           t->opts.kind, t->def->topic, t->def->rate, count, (unsigned long long)t->opts.seed,
           start);
}

/* Creates the generator and starts its thread. 0 or APP_EXIT_ERROR
 * (printed). */
static int task_start(app_gens_t *gs, gen_task_t *t, bus_t *bus, int64_t now_ms)
{
    task_options(t, now_ms);
    t->bus = bus;
    t->stop = &gs->stop;
    core_error_clear();
    int rc = gen_create(&t->opts, &t->gen);
    if (rc != 0)
        return app_fail(rc, "generator %s (line %d)", t->def->name, t->def->line);
    print_start(t);
    if (pthread_create(&t->thread, NULL, gen_main, t) != 0)
        return app_fail(CORE_EIO, "generator %s: cannot start its thread", t->def->name);
    t->started = true;
    return 0;
}

static size_t count_enabled(const app_config_t *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_generators; i++)
        n += cfg->generators[i].enabled;
    return n;
}

int app_gens_start(const app_config_t *cfg, bus_t *bus, bool run, app_gens_t **out)
{
    *out = NULL;
    size_t n = count_enabled(cfg);
    if (!run || n == 0) {
        if (cfg->n_generators > 0)
            printf("strata up: 0 generators running (%zu in the config%s)\n", cfg->n_generators,
                   run ? ", all disabled" : "; --no-generators");
        return 0;
    }
    app_gens_t *gs = core_calloc(CORE_MEM_APP, 1, sizeof *gs);
    if (gs != NULL)
        gs->tasks = core_calloc(CORE_MEM_APP, n, sizeof *gs->tasks);
    if (gs == NULL || gs->tasks == NULL) {
        core_free(gs);
        return app_fail(CORE_ENOMEM, "start the generators");
    }
    int64_t now_ms = core_wall_ms(); /* one clock reading: the generators start together */
    for (size_t i = 0; i < cfg->n_generators; i++) {
        if (!cfg->generators[i].enabled)
            continue;
        gen_task_t *t = &gs->tasks[gs->n++];
        t->def = &cfg->generators[i];
        if (task_start(gs, t, bus, now_ms) != 0) {
            app_gens_stop(gs);
            return APP_EXIT_ERROR;
        }
    }
    printf("strata up: %zu generator%s running", n, n == 1 ? "" : "s");
    if (n < cfg->n_generators)
        printf(" (%zu disabled)", cfg->n_generators - n);
    printf("\n");
    *out = gs;
    return 0;
}

void app_gens_stop(app_gens_t *gs)
{
    if (gs == NULL)
        return;
    __atomic_store_n(&gs->stop, 1, __ATOMIC_RELAXED);
    for (size_t i = 0; i < gs->n; i++) {
        gen_task_t *t = &gs->tasks[i];
        if (t->started) {
            pthread_join(t->thread, NULL);
            if (!t->reported)
                print_counts(t, "stopped");
        }
        gen_destroy(t->gen);
    }
    core_free(gs->tasks);
    core_free(gs);
}

/*
 * `strata replay PIPELINE -c FILE`: Kappa reprocessing. Rebuilds an
 * aggregate pipeline's view from offset 0 as a new version while the
 * current one keeps serving, switches to it atomically and drops the old
 * one (docs/replay.md), printing the progress once a second.
 *
 * Where it runs. The replay reads the topic log, and only one process may
 * have a data directory open (seglog's DATA/.lock). So:
 *   - the directory is free: this process opens it and runs the replay
 *     itself, as a run of job replay:PIPELINE executed by a batch runner
 *     started here for that one job;
 *   - `strata up` holds it (its DATA/.up.lock is locked): the run is queued
 *     in job_runs for the runner inside `strata up`, which has one replay
 *     job per aggregate pipeline; this process only follows its progress
 *     (--no-wait: queues and exits);
 *   - another strata command holds it: an error.
 * Either way the run is a row of job_runs, its progress is read from the
 * row's `progress` column, and two replays of one view never run at once
 * (the runner's claim).
 *
 * Threading: the calling thread; in the first case the runner's scheduler
 * thread runs the replay while this thread prints the progress.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "app/platform.h"
#include "bus/bus.h"
#include "store/store.h"

enum { OPT_STORE = 0x200, OPT_WAIT, OPT_NO_WAIT };

/* Held by a running `strata up` (cmd_up.c uses the same name). */
#define UP_LOCK_FILE "/.up.lock"
#define POLL_MS      200
#define PRINT_MS     1000
#define JOB_NAME_MAX 512

typedef struct {
    const char *pipeline;
    const char *config;
    const char *store;
    const char *data;
    bool no_wait;
} replay_opts_t;

static void usage(FILE *f)
{
    fprintf(f, "Usage: strata replay PIPELINE -c FILE [options]\n"
               "\n"
               "Rebuilds the view of aggregate pipeline PIPELINE from offset 0 as a new\n"
               "version while the current version keeps serving, then switches to it\n"
               "atomically and drops the old one; prints the progress once a second\n"
               "(see docs/replay.md). With a `strata up` running on the data directory the\n"
               "replay runs inside it; otherwise in this process.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  the YAML config\n"
               "  --store URL        serving store (overrides store.url)\n"
               "  --data DIR         data directory (overrides data.dir)\n"
               "  --wait             follow the replay until it switches (the default)\n"
               "  --no-wait          with a running `strata up`: queue the replay and exit\n"
               "  -h, --help         show this help\n");
}

static int parse_options(int argc, char **argv, replay_opts_t *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"store", required_argument, NULL, OPT_STORE},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"wait", no_argument, NULL, OPT_WAIT},
        {"no-wait", no_argument, NULL, OPT_NO_WAIT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return APP_HELP_SHOWN;
        } else if (c == 'c') {
            o->config = optarg;
        } else if (c == OPT_STORE) {
            o->store = optarg;
        } else if (c == APP_OPT_DATA) {
            o->data = optarg;
        } else if (c == OPT_WAIT || c == OPT_NO_WAIT) {
            o->no_wait = c == OPT_NO_WAIT;
        } else {
            return app_option_error("replay", c, argv, argc);
        }
    }
    if (optind >= argc)
        return app_usage_error("replay", "missing the PIPELINE to replay");
    o->pipeline = argv[optind];
    if (optind + 1 < argc)
        return app_usage_error("replay", "unexpected argument '%s'", argv[optind + 1]);
    if (o->config == NULL)
        return app_usage_error("replay", "-c FILE is required");
    return 0;
}

/* ---- Following a run. */

typedef struct {
    char state[32];
    char phase[32];
    char error[1024];
    int64_t version, done, total, behind, rows_in, rows_out;
    bool found;
} run_view_t;

static void copy_text(char *dst, size_t cap, const schema_value_t *v)
{
    if (v->type == SCHEMA_STRING)
        snprintf(dst, cap, "%.*s", (int)CORE_MIN(v->v.s.len, cap - 1), v->v.s.p);
    else
        dst[0] = '\0';
}

static int64_t json_i64(const core_json_value_t *obj, const char *key)
{
    core_json_value_t v;
    int64_t n = 0;
    if (core_json_find(obj, key, strlen(key), &v) != 0 || core_json_to_i64(&v, &n) != 0)
        return 0;
    return n;
}

static int take_run(void *arg, const schema_value_t *v, size_t n)
{
    run_view_t *r = arg;
    if (n < 5)
        return 0;
    r->found = true;
    copy_text(r->state, sizeof r->state, &v[0]);
    copy_text(r->error, sizeof r->error, &v[2]);
    r->rows_in = v[3].type == SCHEMA_INT ? v[3].v.i : 0;
    r->rows_out = v[4].type == SCHEMA_INT ? v[4].v.i : 0;
    core_json_value_t root, ph;
    core_json_error_t err;
    if (v[1].type != SCHEMA_STRING ||
        core_json_parse(v[1].v.s.p, v[1].v.s.len, 4, &root, &err) != 0 ||
        root.type != CORE_JSON_OBJECT)
        return 0;
    if (core_json_find(&root, "phase", 5, &ph) == 0 && ph.type == CORE_JSON_STRING)
        snprintf(r->phase, sizeof r->phase, "%.*s", (int)CORE_MIN(ph.len, 31), ph.p);
    r->version = json_i64(&root, "version");
    r->done = json_i64(&root, "done");
    r->total = json_i64(&root, "total");
    r->behind = json_i64(&root, "behind");
    return 0;
}

static int read_run(store_t *s, int64_t id, run_view_t *out)
{
    memset(out, 0, sizeof *out);
    schema_value_t v = {.type = SCHEMA_INT, .v.i = id};
    return store_exec(s,
                      "SELECT \"state\", \"progress\", \"error\", \"rows_in\", \"rows_out\" FROM "
                      "\"job_runs\" WHERE \"id\" = ?1",
                      &v, 1, take_run, out, NULL);
}

static void print_progress(const char *pipeline, const run_view_t *r, double rate)
{
    if (r->phase[0] == '\0') {
        printf("replay %s: %s\n", pipeline, r->state);
    } else {
        double pct = r->total > 0 ? 100.0 * (double)r->done / (double)r->total : 100.0;
        printf("replay %s: version %lld, %s: %lld / %lld records (%.1f%%)", pipeline,
               (long long)r->version, r->phase, (long long)r->done, (long long)r->total, pct);
        if (rate >= 0)
            printf(", %.0f records/s", rate);
        if (r->behind > 0)
            printf(", %lld behind the live pipeline", (long long)r->behind);
        printf("\n");
    }
    fflush(stdout);
}

static void nap(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool up_running(const char *data);

/* Prints the run's progress once a second until it ends (0: completed,
 * APP_EXIT_ERROR: failed) or a stop signal comes (*interrupted). up_data:
 * the data directory of the `strata up` executing the run (its exit ends
 * the wait), or NULL. */
static int follow(store_t *s, int64_t id, const char *pipeline, const char *up_data,
                  bool *interrupted)
{
    int64_t last_ms = 0, last_done = 0;
    run_view_t r;
    *interrupted = false;
    for (;;) {
        int rc = read_run(s, id, &r);
        if (rc != 0)
            return app_fail(rc, "read run %lld", (long long)id);
        if (!r.found)
            return app_fail(CORE_ENOENT, "run %lld is gone from job_runs", (long long)id);
        int64_t now = core_mono_ms();
        bool over = strcmp(r.state, "completed") == 0 || strcmp(r.state, "failed") == 0;
        if (now - last_ms >= PRINT_MS && !over && r.phase[0] != '\0') {
            double secs = last_ms > 0 ? (double)(now - last_ms) / 1000.0 : 0;
            print_progress(pipeline, &r, secs > 0 ? (double)(r.done - last_done) / secs : -1);
            last_ms = now;
            last_done = r.done;
        }
        if (strcmp(r.state, "completed") == 0) {
            printf("replay %s: switched to version %lld: %lld records read, %lld view rows "
                   "written (run %lld)\n",
                   pipeline, (long long)r.version, (long long)r.rows_in, (long long)r.rows_out,
                   (long long)id);
            return APP_EXIT_OK;
        }
        if (over) {
            fprintf(stderr, "strata replay: run %lld of %s%s failed: %s\n", (long long)id,
                    BATCH_REPLAY_JOB_PREFIX, pipeline, r.error);
            return APP_EXIT_ERROR;
        }
        if (app_stop_requested()) {
            *interrupted = true;
            return APP_EXIT_ERROR;
        }
        if (up_data != NULL && !up_running(up_data)) {
            fprintf(stderr,
                    "strata replay: the strata up on %s stopped before run %lld ended (state "
                    "%s); see `strata jobs show %lld`\n",
                    up_data, (long long)id, r.state, (long long)id);
            return APP_EXIT_ERROR;
        }
        nap(POLL_MS);
    }
}

/* ---- Setting up. */

typedef struct {
    app_config_t *cfg;
    app_platform_t pf;
    char job[JOB_NAME_MAX];
    batch_job_def_t def;
    batch_env_t env;
    const char *url;
    const char *data;
    seglog_t *log;
    bus_t *bus;
    batch_runner_t *runner;
    store_t *store;
} replay_ctx_t;

static int setup(const replay_opts_t *o, replay_ctx_t *x)
{
    int rc = app_load_checked(o->config, &x->cfg, &x->pf);
    if (rc != 0)
        return rc;
    const stream_pipeline_t *p = NULL;
    for (size_t i = 0; i < x->pf.n_pipelines; i++)
        if (x->pf.batch_pipelines[i] != NULL &&
            strcmp(stream_pipeline_name(x->pf.batch_pipelines[i]), o->pipeline) == 0)
            p = x->pf.batch_pipelines[i];
    if (p == NULL || stream_pipeline_kind(p) != STREAM_KIND_AGGREGATE) {
        fprintf(stderr, "strata replay: %s has no aggregate pipeline named '%s'\n", o->config,
                o->pipeline);
        return APP_EXIT_ERROR;
    }
    snprintf(x->job, sizeof x->job, "%s%s", BATCH_REPLAY_JOB_PREFIX, o->pipeline);
    x->def = (batch_job_def_t){
        .name = x->job, .kind = BATCH_KIND_REPLAY, .pipeline = o->pipeline, .max_attempts = 1};
    x->url = o->store != NULL ? o->store : x->cfg->store_url;
    x->data = o->data != NULL ? o->data : x->cfg->data_dir;
    x->env = (batch_env_t){.store_url = x->url,
                           .pipelines = (stream_pipeline_t *const *)x->pf.batch_pipelines,
                           .npipelines = x->pf.n_pipelines};
    rc = store_open(x->url, &x->store);
    if (rc == 0)
        rc = store_migrate(x->store);
    if (rc != 0) {
        char safe[512];
        app_redact_url(x->url, safe, sizeof safe);
        return app_fail(rc, "open the store %s", safe);
    }
    return 0;
}

static void teardown(replay_ctx_t *x)
{
    batch_runner_destroy(x->runner);
    store_close(x->store);
    bus_close(x->bus);
    if (x->log != NULL)
        seglog_close(x->log);
    app_platform_fini(&x->pf);
    app_config_destroy(x->cfg);
}

/* Whether a `strata up` holds the data directory. */
static bool up_running(const char *data)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", data, UP_LOCK_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}

static int take_one(void *arg, const schema_value_t *v, size_t n)
{
    *(int64_t *)arg = n >= 1 && v[0].type == SCHEMA_INT ? v[0].v.i : 0;
    return 0;
}

/* ---- The two ways. */

/* No other process has the data directory: run here. */
static int run_here(replay_ctx_t *x, const char *pipeline)
{
    int rc = app_platform_topics(x->cfg, x->log);
    if (rc == 0)
        rc = bus_open_seglog(x->log, &x->bus);
    x->env.bus = x->bus;
    x->env.log = x->log;
    if (rc == 0)
        rc = batch_runner_create(&x->env, &x->def, 1, &x->runner);
    if (rc == 0)
        rc = batch_runner_start(x->runner);
    int64_t id = -1;
    if (rc == 0)
        rc = batch_runner_trigger(x->runner, x->job, NULL, 0, &id);
    if (rc != 0)
        return app_fail(rc, "start the replay of %s", pipeline);
    printf("replay %s: run %lld, in this process (no strata up holds %s)\n", pipeline,
           (long long)id, x->data);
    fflush(stdout);
    bool interrupted = false;
    rc = follow(x->store, id, pipeline, NULL, &interrupted);
    if (interrupted) {
        /* Stops the run between steps; it drops what it built. */
        batch_runner_destroy(x->runner);
        x->runner = NULL;
        fprintf(stderr, "strata replay: interrupted; the new version was dropped\n");
    }
    return rc;
}

/* A `strata up` has the data directory: queue the run for its runner. */
static int run_there(replay_ctx_t *x, const replay_opts_t *o)
{
    int64_t known = 0;
    schema_value_t name = {.type = SCHEMA_STRING, .v.s = {x->job, strlen(x->job)}};
    int rc = store_exec(x->store, "SELECT COUNT(*) FROM \"jobs\" WHERE \"name\" = ?1", &name, 1,
                        take_one, &known, NULL);
    if (rc != 0)
        return app_fail(rc, "read the jobs table");
    if (known == 0) {
        fprintf(stderr,
                "strata replay: the strata up running on %s has no replay job for pipeline %s "
                "(it runs another config, or is still starting)\n",
                x->data, o->pipeline);
        return APP_EXIT_ERROR;
    }
    int64_t id = -1;
    rc = batch_runner_create(&x->env, &x->def, 1, &x->runner);
    if (rc == 0)
        rc = batch_runner_trigger(x->runner, x->job, NULL, 0, &id);
    if (rc != 0)
        return app_fail(rc, "queue the replay of %s", o->pipeline);
    printf("replay %s: run %lld, queued for the strata up running on %s\n", o->pipeline,
           (long long)id, x->data);
    fflush(stdout);
    if (o->no_wait)
        return APP_EXIT_OK;
    bool interrupted = false;
    rc = follow(x->store, id, o->pipeline, x->data, &interrupted);
    if (interrupted)
        fprintf(stderr,
                "strata replay: no longer following; run %lld goes on in strata up (see "
                "`strata jobs show %lld`)\n",
                (long long)id, (long long)id);
    return rc;
}

int cmd_replay(app_ctx_t *ctx, int argc, char **argv)
{
    replay_opts_t o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    app_catch_signals();
    replay_ctx_t x = {0};
    (void)ctx; /* the data directory comes from --data or the config, as for up */
    rc = setup(&o, &x);
    if (rc == 0) {
        core_error_clear();
        int lrc = seglog_open(x.data, &x.log);
        if (lrc == 0)
            rc = run_here(&x, o.pipeline);
        else if (lrc == CORE_EEXIST && up_running(x.data))
            rc = run_there(&x, &o);
        else
            rc = app_fail(lrc, "open data directory %s", x.data);
    }
    teardown(&x);
    return rc;
}

/*
 * `strata up -c FILE`: runs the platform a config describes in one process:
 * the seglog, the broker (unless disabled), every pipeline and the batch
 * jobs' scheduler.
 *
 * Start order: load and check the whole config (every error listed, exit
 * 78) -> open the log and create missing topics -> start the broker ->
 * migrate the store and start the pipelines -> the jobs -> the HTTP server
 * (http_wiring.c) -> the generators (gen_wiring.c; not with --once or
 * --no-generators). Stop order (SIGINT/SIGTERM) is the reverse: the
 * generators stop, HTTP stops, pipelines commit and stop, then the broker,
 * then the log closes cleanly.
 *
 * Replays (docs/replay.md): besides the config's jobs, the batch runner
 * gets one replay job per aggregate pipeline (BATCH_REPLAY_JOB_PREFIX
 * "<pipeline>"), which `strata replay` queues while this process holds the
 * data directory. To tell this process from any other strata command
 * holding the directory, `up` (unless --once) also keeps an exclusive
 * flock on DATA/.up.lock until it exits.
 *
 * Threading: the main thread waits for a signal; the broker, each
 * pipeline, each generator and the batch runner have threads of their own.
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
#include "app/http_wiring.h"
#include "app/kafka_wiring.h"
#include "kafka/kafka.h"

enum {
    OPT_STORE = 0x200,
    OPT_NO_BROKER,
    OPT_LISTEN,
    OPT_ONCE,
    OPT_HTTP_LISTEN,
    OPT_NO_GENS,
    OPT_BROKER
};

typedef struct {
    const char *config;
    const char *store;       /* overrides store.url */
    const char *listen;      /* overrides broker.listen */
    const char *http_listen; /* overrides http.listen; starts HTTP even if disabled */
    const char *data;        /* overrides data.dir */
    const char *broker;      /* --broker kafka://...: an external cluster */
    bool no_broker;
    bool no_generators; /* --no-generators: the config's generators stay off */
    bool once;
    bool builtin; /* strata demo: the embedded config unless -c is given */
} up_opts_t;

static void usage(FILE *f)
{
    fprintf(f, "Usage: strata up -c FILE [options]\n"
               "\n"
               "Runs what the config describes, in one process: the topic log, the Kafka\n"
               "broker, the pipelines and the generators, until SIGINT or SIGTERM.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE    the YAML config (see docs/config.md)\n"
               "  --store URL          serving store: sqlite:PATH or postgresql://...\n"
               "                       (overrides store.url)\n"
               "  --listen HOST:PORT   broker address (overrides broker.listen; port 0\n"
               "                       picks a free port)\n"
               "  --no-broker          do not start the broker\n"
               "  --broker kafka://HOST:PORT[,HOST:PORT]\n"
               "                       read and write topics on an external Kafka cluster\n"
               "                       (overrides kafka.bootstrap; the embedded broker is\n"
               "                       not started); see docs/external-kafka.md\n"
               "  --no-generators      do not start the config's generators (--once never\n"
               "                       starts them)\n"
               "  --once               run each pipeline until it has consumed what its\n"
               "                       topic holds now, commit, print its counts and exit\n"
               "                       (no broker)\n"
               "  --http-listen HOST:PORT\n"
               "                       HTTP address (overrides http.listen, and starts\n"
               "                       HTTP even with http.enabled false; port 0 picks\n"
               "                       a free port)\n"
               "  --data DIR           data directory (overrides data.dir)\n"
               "  -h, --help           show this help\n");
}

static int parse_options(int argc, char **argv, up_opts_t *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"store", required_argument, NULL, OPT_STORE},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"no-broker", no_argument, NULL, OPT_NO_BROKER},
        {"broker", required_argument, NULL, OPT_BROKER},
        {"once", no_argument, NULL, OPT_ONCE},
        {"http-listen", required_argument, NULL, OPT_HTTP_LISTEN},
        {"no-generators", no_argument, NULL, OPT_NO_GENS},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return APP_HELP_SHOWN;
        case 'c':
            o->config = optarg;
            break;
        case OPT_STORE:
            o->store = optarg;
            break;
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_NO_BROKER:
            o->no_broker = true;
            break;
        case OPT_BROKER:
            o->broker = optarg;
            break;
        case OPT_ONCE:
            o->once = true;
            break;
        case OPT_HTTP_LISTEN:
            o->http_listen = optarg;
            break;
        case OPT_NO_GENS:
            o->no_generators = true;
            break;
        case APP_OPT_DATA:
            o->data = optarg;
            break;
        default:
            return app_option_error("up", c, argv, argc);
        }
    }
    if (optind < argc)
        return app_usage_error("up", "unexpected argument '%s'", argv[optind]);
    if (o->config == NULL && !o->builtin)
        return app_usage_error("up", "-c FILE is required");
    return 0;
}

static int load_checked(const char *path, const char *text, size_t len, app_config_t **cfg,
                        app_platform_t *pf)
{
    memset(pf, 0, sizeof *pf);
    int rc =
        text != NULL ? app_config_load_string(path, text, len, cfg) : app_config_load(path, cfg);
    if (rc == CORE_ENOMEM)
        return app_fail(rc, "load %s", path);
    if (rc == 0) {
        rc = app_platform_build(*cfg, pf);
        if (rc < 0)
            return app_fail(rc, "build the pipelines of %s", path);
    }
    if (app_config_error_count(*cfg) > 0) {
        size_t n = app_config_print_errors(*cfg, stderr);
        fprintf(stderr, "strata: %s: %zu error%s; nothing was started\n", path, n,
                n == 1 ? "" : "s");
        return APP_EXIT_CONFIG;
    }
    return 0;
}

int app_load_checked(const char *path, app_config_t **cfg, app_platform_t *pf)
{
    return load_checked(path, NULL, 0, cfg, pf);
}

int app_load_checked_text(const char *name, const char *text, size_t len, app_config_t **cfg,
                          app_platform_t *pf)
{
    return load_checked(name, text, len, cfg, pf);
}

/* Held by `strata up` while it runs; `strata replay` tests it (cmd_replay.c
 * uses the same name). */
#define UP_LOCK_FILE ".up.lock"

typedef struct {
    seglog_t *log;
    kafka_broker_t *broker;
    bus_t *bus;
    stream_runtime_t *rt;
    app_jobs_t jobs;
    batch_job_def_t *all_jobs; /* the config's jobs, then one replay job per
                                * aggregate pipeline; owned */
    char **replay_names;       /* the replay jobs' names; owned */
    size_t n_all, n_replays;
    batch_runner_t *runner;
    int up_lock; /* fd holding DATA/.up.lock, or -1 */
    app_http_t *http;
    app_gens_t *gens; /* the config's generators (gen_wiring.c) */
} platform_run_t;

static int start_broker(platform_run_t *r, const char *listen)
{
    kafka_config_t kc;
    kafka_config_default(&kc);
    kc.listen = listen;
    core_error_clear();
    int rc = kafka_broker_create(r->log, &kc, &r->broker);
    if (rc == 0)
        rc = kafka_broker_start(r->broker);
    if (rc != 0)
        return app_fail(rc, "start the broker on %s", listen);
    const char *colon = strrchr(listen, ':');
    int hl = colon != NULL ? (int)(colon - listen) : (int)strlen(listen);
    printf("strata broker listening on %.*s:%d\n", hl, listen, kafka_broker_port(r->broker));
    return 0;
}

static int start_pipelines(platform_run_t *r, app_platform_t *pf, const char *url)
{
    int rc = r->bus != NULL ? 0 : bus_open_seglog(r->log, &r->bus);
    if (rc == 0)
        rc = stream_runtime_create(r->bus, url, &r->rt);
    for (size_t i = 0; rc == 0 && i < pf->n_pipelines; i++) {
        rc = stream_runtime_add(r->rt, pf->pipelines[i]);
        if (rc == 0)
            pf->pipelines[i] = NULL; /* taken */
    }
    if (rc == 0)
        rc = stream_runtime_start(r->rt);
    char safe[512];
    app_redact_url(url, safe, sizeof safe);
    if (rc != 0)
        return app_fail(rc, "start the pipelines on %s", safe);
    printf("strata up: %zu pipeline%s running; store %s\n", stream_runtime_count(r->rt),
           stream_runtime_count(r->rt) == 1 ? "" : "s", safe);
    return 0;
}

/* The config's jobs followed by a replay job per aggregate pipeline. */
static int add_replay_jobs(platform_run_t *r, const app_platform_t *pf)
{
    size_t n = r->jobs.n + pf->n_pipelines;
    r->all_jobs = core_calloc(CORE_MEM_APP, n + 1, sizeof *r->all_jobs);
    r->replay_names = core_calloc(CORE_MEM_APP, pf->n_pipelines + 1, sizeof *r->replay_names);
    if (r->all_jobs == NULL || r->replay_names == NULL)
        return core_error(CORE_ENOMEM, "app: out of memory");
    for (size_t i = 0; i < r->jobs.n; i++)
        r->all_jobs[r->n_all++] = r->jobs.defs[i];
    for (size_t i = 0; i < pf->n_pipelines; i++) {
        const stream_pipeline_t *p = pf->batch_pipelines[i];
        if (p == NULL || stream_pipeline_kind(p) != STREAM_KIND_AGGREGATE)
            continue;
        const char *name = stream_pipeline_name(p);
        size_t len = strlen(BATCH_REPLAY_JOB_PREFIX) + strlen(name) + 1;
        char *job = core_alloc(CORE_MEM_APP, len);
        if (job == NULL)
            return core_error(CORE_ENOMEM, "app: out of memory");
        snprintf(job, len, "%s%s", BATCH_REPLAY_JOB_PREFIX, name);
        r->replay_names[r->n_replays++] = job;
        r->all_jobs[r->n_all++] = (batch_job_def_t){
            .name = job, .kind = BATCH_KIND_REPLAY, .pipeline = name, .max_attempts = 1};
    }
    return 0;
}

/* The batch layer: jobs on their schedules, and the replays `strata
 * replay` queues, in a thread of the runner. */
static int start_jobs(platform_run_t *r, const app_config_t *cfg, const app_platform_t *pf,
                      const char *url)
{
    int rc = app_jobs_build(cfg, pf, &r->jobs);
    if (rc == 0)
        rc = add_replay_jobs(r, pf);
    if (rc != 0)
        return app_fail(rc, "build the batch jobs");
    if (r->n_all == 0)
        return 0;
    r->jobs.env.bus = r->bus;
    r->jobs.env.log = r->log;
    r->jobs.env.store_url = url;
    rc = batch_runner_create(&r->jobs.env, r->all_jobs, r->n_all, &r->runner);
    if (rc == 0)
        rc = batch_runner_start(r->runner);
    if (rc != 0)
        return app_fail(rc, "start the batch jobs");
    if (r->jobs.n > 0)
        printf("strata up: %zu job%s scheduled\n", r->jobs.n, r->jobs.n == 1 ? "" : "s");
    return 0;
}

/* Takes DATA/.up.lock (see UP_LOCK_FILE); a failure only costs `strata
 * replay` the ability to find this process, so it is a warning. */
static void lock_up(platform_run_t *r, const char *data_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data_dir, UP_LOCK_FILE);
    r->up_lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (r->up_lock >= 0 && flock(r->up_lock, LOCK_EX | LOCK_NB) == 0)
        return;
    core_log(CORE_LOG_WARN, "app",
             "%s: cannot lock (%s); `strata replay` will not find this "
             "process",
             path, strerror(errno));
    if (r->up_lock >= 0)
        close(r->up_lock);
    r->up_lock = -1;
}

static void report_failures(platform_run_t *r, bool *reported)
{
    for (size_t i = 0; r->rt != NULL && i < stream_runtime_count(r->rt); i++) {
        stream_stats_t st;
        stream_runtime_stats(r->rt, i, &st);
        if (st.failed && !reported[i]) {
            reported[i] = true;
            fprintf(stderr, "strata: pipeline %s stopped: %s\n", stream_runtime_name(r->rt, i),
                    st.error);
        }
    }
}

/* A replay switched a pipeline's view to a new version (the pipeline
 * reopened its tasks on it): says so once per version. */
static void report_switches(platform_run_t *r, int64_t *versions)
{
    for (size_t i = 0; r->rt != NULL && i < stream_runtime_count(r->rt); i++) {
        stream_stats_t st;
        stream_runtime_stats(r->rt, i, &st);
        if (versions[i] > 0 && st.view_version > versions[i])
            printf("strata up: pipeline %s: view switched to version %lld by a replay\n",
                   stream_runtime_name(r->rt, i), (long long)st.view_version);
        if (st.view_version > versions[i]) {
            versions[i] = st.view_version;
            fflush(stdout);
        }
    }
}

static void wait_for_signal(platform_run_t *r)
{
    bool reported[256] = {false};
    int64_t versions[256] = {0};
    while (!app_stop_requested()) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (r->rt != NULL && stream_runtime_count(r->rt) <= 256) {
            report_failures(r, reported);
            report_switches(r, versions);
        }
    }
}

static void stop_all(platform_run_t *r)
{
    app_gens_stop(r->gens); /* first: they write through the bus */
    r->gens = NULL;
    app_http_stop(r->http); /* its handlers write through the bus too */
    r->http = NULL;
    batch_runner_destroy(r->runner);
    r->runner = NULL;
    for (size_t i = 0; i < r->n_replays; i++)
        core_free(r->replay_names[i]);
    core_free(r->replay_names);
    core_free(r->all_jobs);
    app_jobs_fini(&r->jobs);
    stream_runtime_destroy(r->rt);
    if (r->broker != NULL) {
        kafka_broker_stop(r->broker);
        kafka_broker_destroy(r->broker);
    }
    bus_close(r->bus);
    if (r->log != NULL)
        seglog_close(r->log);
    if (r->up_lock >= 0)
        close(r->up_lock); /* releases the flock */
    r->up_lock = -1;
}

/* --once: each pipeline in turn on this thread, up to the current ends. */
static int run_once(platform_run_t *r, app_platform_t *pf, const char *url)
{
    int rc = r->bus != NULL ? 0 : bus_open_seglog(r->log, &r->bus);
    for (size_t i = 0; rc == 0 && i < pf->n_pipelines; i++) {
        stream_stats_t st;
        rc = stream_pipeline_run_once(pf->pipelines[i], r->bus, url, &st);
        if (rc != 0)
            return app_fail(rc, "run pipeline %s", stream_pipeline_name(pf->pipelines[i]));
        printf("pipeline %s: %lld records, %lld valid, %lld invalid, %lld late, %lld filtered, "
               "%lld rows, %lld anomalies, %lld commits\n",
               stream_pipeline_name(pf->pipelines[i]), (long long)st.records, (long long)st.valid,
               (long long)st.invalid, (long long)st.late, (long long)st.filtered,
               (long long)st.rows, (long long)st.anomalies, (long long)st.commits);
    }
    return rc;
}

/* The host part of HOST:PORT (n bytes), for the demo's addresses. */
static int host_len(const char *listen)
{
    const char *colon = listen != NULL ? strrchr(listen, ':') : NULL;
    return colon != NULL ? (int)(colon - listen) : 0;
}

/* strata demo: where to look, once everything runs. */
static void demo_banner(const platform_run_t *r, const up_opts_t *o, const app_config_t *cfg)
{
    const char *hl = o->http_listen != NULL ? o->http_listen : cfg->http_listen;
    const char *bl = o->listen != NULL ? o->listen : cfg->broker_listen;
    if (hl == NULL)
        hl = "127.0.0.1:0";
    if (bl == NULL)
        bl = "127.0.0.1:0";
    printf("\nstrata demo is running: generators, pipelines, batch jobs, the broker and the "
           "dashboard.\n");
    if (r->http != NULL) {
        printf("  dashboard        http://%.*s:%d/\n", host_len(hl), hl, app_http_port(r->http));
        printf("  REST API         http://%.*s:%d/docs\n", host_len(hl), hl,
               app_http_port(r->http));
        printf("  metrics          http://%.*s:%d/metrics\n", host_len(hl), hl,
               app_http_port(r->http));
    }
    if (r->broker != NULL)
        printf("  Kafka bootstrap  %.*s:%d\n", host_len(bl), bl, kafka_broker_port(r->broker));
    printf("  data             %s (store %s)\n", o->data != NULL ? o->data : cfg->data_dir,
           o->store != NULL ? o->store : cfg->store_url);
    printf("Stop with Ctrl-C.\n");
}

static int up(app_ctx_t *ctx, const up_opts_t *o, app_config_t *cfg, app_platform_t *pf)
{
    platform_run_t r = {.up_lock = -1};
    /* A listener off loopback without a token is refused before anything
     * starts. */
    if (!o->once && app_http_check_access(cfg, o->http_listen) != 0)
        return APP_EXIT_CONFIG;
    app_ctx_t c = *ctx;
    c.data_dir = o->data != NULL ? o->data : cfg->data_dir;
    int rc = app_open_log(&c, true, &r.log);
    if (rc == 0)
        rc = app_platform_topics(cfg, r.log);
    if (rc == 0) /* the seglog's, or an external cluster's (kafka_wiring.c) */
        rc = app_kafka_open_bus(cfg, o->broker, r.log, &r.bus);
    if (rc == 0 && o->once) {
        rc = run_once(&r, pf, o->store != NULL ? o->store : cfg->store_url);
        stop_all(&r);
        return rc;
    }
    if (rc == 0)
        lock_up(&r, c.data_dir);
    bool broker = cfg->broker_enabled && !o->no_broker && !app_kafka_external(cfg, o->broker);
    if (rc == 0 && broker)
        rc = start_broker(&r, o->listen != NULL ? o->listen : cfg->broker_listen);
    const char *url = o->store != NULL ? o->store : cfg->store_url;
    if (rc == 0)
        rc = start_pipelines(&r, pf, url);
    if (rc == 0)
        rc = start_jobs(&r, cfg, pf, url);
    app_http_parts_t parts = {.rt = r.rt, .broker = r.broker, .runner = r.runner, .store_url = url};
    if (rc == 0)
        rc = app_http_start(cfg, pf, r.log, r.bus, o->http_listen, &parts, &r.http);
    if (rc == 0)
        rc = app_gens_start(cfg, r.bus, !o->no_generators, &r.gens);
    if (rc == 0 && o->builtin && o->config == NULL)
        demo_banner(&r, o, cfg);
    fflush(stdout);
    if (rc == 0)
        wait_for_signal(&r);
    stop_all(&r);
    return rc;
}

int cmd_up(app_ctx_t *ctx, int argc, char **argv)
{
    return app_up_main(ctx, argc, argv, NULL, 0);
}

int app_up_main(app_ctx_t *ctx, int argc, char **argv, const char *text, size_t len)
{
    up_opts_t o = {.builtin = text != NULL};
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    app_catch_signals();
    app_config_t *cfg = NULL;
    app_platform_t pf;
    rc = text != NULL && o.config == NULL ? app_load_checked_text("<demo>", text, len, &cfg, &pf)
                                          : app_load_checked(o.config, &cfg, &pf);
    if (rc == 0)
        rc = up(ctx, &o, cfg, &pf);
    app_platform_fini(&pf);
    app_config_destroy(cfg);
    return rc;
}

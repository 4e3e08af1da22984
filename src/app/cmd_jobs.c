/*
 * `strata jobs`: the batch layer from the command line.
 *
 *   strata jobs list -c FILE               jobs of the config, last run of each
 *   strata jobs run NAME -c FILE [--param k=v]...
 *                                          run now, in this process, tracked
 *   strata jobs trigger NAME -c FILE [--param k=v]...
 *                                          queue a run for a running `strata up`
 *   strata jobs runs [NAME] [--limit N]    recent runs, newest first
 *   strata jobs show RUN_ID                one run, with its lineage (JSON)
 *
 * `run` opens the data directory's log itself, so it is meant for when no
 * `strata up` is running on that directory; with one running, use
 * `trigger`. runs and show need only the store: -c FILE, --store URL or
 * --data DIR.
 *
 * Threading: the calling thread (the runner is never started here).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "app/platform.h"
#include "bus/bus.h"
#include "store/store.h"

enum { OPT_STORE = 0x200, OPT_PARAM, OPT_LIMIT };

#define MAX_PARAMS 64

typedef struct {
    const char *config;
    const char *store;
    const char *data;
    batch_param_t params[MAX_PARAMS];
    size_t nparams;
    int64_t limit;
} jobs_opts_t;

static void usage(FILE *f)
{
    fprintf(f, "Usage: strata jobs list -c FILE\n"
               "       strata jobs run NAME -c FILE [--param k=v]...\n"
               "       strata jobs trigger NAME -c FILE [--param k=v]...\n"
               "       strata jobs runs [NAME] [--limit N] [store options]\n"
               "       strata jobs show RUN_ID [store options]\n"
               "\n"
               "Batch jobs and their tracked runs (see docs/jobs.md). `run` executes a job\n"
               "now in this process; `trigger` queues a run for a running `strata up`.\n"
               "Parameters from=T and to=T (ISO 8601 or epoch ms) set the run's data\n"
               "interval; others are available to templates as {{params.NAME}}.\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  the YAML config\n"
               "  --param K=V        a run parameter (repeatable)\n"
               "  --limit N          runs: at most N rows (default 20)\n"
               "  --store URL        the store (sqlite:PATH or postgresql://...)\n"
               "  --data DIR         data directory (for the default SQLite store)\n"
               "  -h, --help         show this help\n");
}

static int parse_options(int argc, char **argv, jobs_opts_t *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"store", required_argument, NULL, OPT_STORE},
        {"param", required_argument, NULL, OPT_PARAM},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    o->limit = 20;
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
        } else if (c == OPT_LIMIT) {
            int rc = app_parse_int("jobs", "--limit", optarg, 1, 100000, &o->limit);
            if (rc != 0)
                return rc;
        } else if (c == OPT_PARAM) {
            char *eq = strchr(optarg, '=');
            if (eq == NULL || eq == optarg)
                return app_usage_error("jobs", "--param wants KEY=VALUE, got '%s'", optarg);
            if (o->nparams == MAX_PARAMS)
                return app_usage_error("jobs", "at most %d parameters", MAX_PARAMS);
            *eq = '\0';
            o->params[o->nparams++] = (batch_param_t){optarg, eq + 1};
        } else {
            return app_option_error("jobs", c, argv, argc);
        }
    }
    return 0;
}

/* ---- Store-only subcommands. */

static int open_store(const jobs_opts_t *o, app_ctx_t *ctx, app_config_t **cfg, store_t **s)
{
    char url[4096];
    if (o->store != NULL) {
        snprintf(url, sizeof url, "%s", o->store);
    } else if (o->config != NULL) {
        app_platform_t pf;
        int rc = app_load_checked(o->config, cfg, &pf);
        app_platform_fini(&pf);
        if (rc != 0)
            return rc;
        snprintf(url, sizeof url, "%s", (*cfg)->store_url);
    } else {
        const char *dir = o->data != NULL ? o->data : ctx->data_dir;
        snprintf(url, sizeof url, "sqlite:%s/strata.db", dir != NULL ? dir : ".");
    }
    int rc = store_open(url, s);
    if (rc == 0)
        rc = store_migrate(*s);
    if (rc != 0) {
        char safe[512];
        app_redact_url(url, safe, sizeof safe);
        return app_fail(rc, "open the store %s", safe);
    }
    return 0;
}

static void print_value(const schema_value_t *v, int width)
{
    if (v->type == SCHEMA_INT)
        printf("%-*lld ", width, (long long)v->v.i);
    else if (v->type == SCHEMA_FLOAT)
        printf("%-*.0f ", width, v->v.f);
    else if (v->type == SCHEMA_STRING)
        printf("%-*.*s ", width, (int)v->v.s.len, v->v.s.p);
    else
        printf("%-*s ", width, "-");
}

static void print_time(const schema_value_t *v)
{
    if (v->type != SCHEMA_INT) {
        printf("%-27s ", "-");
        return;
    }
    char iso[40];
    schema_format_timestamp(v->v.i, iso);
    printf("%-27s ", iso);
}

static int run_row(void *arg, const schema_value_t *v, size_t n)
{
    (void)arg;
    if (n < 10)
        return 0;
    print_value(&v[0], 6);
    print_value(&v[1], 28);
    print_value(&v[2], 9);
    print_value(&v[3], 3);
    print_time(&v[4]);
    print_time(&v[5]);
    print_value(&v[6], 8);
    print_value(&v[7], 9);
    print_value(&v[8], 9);
    if (v[9].type == SCHEMA_STRING)
        printf("%.*s", (int)CORE_MIN(v[9].v.s.len, 120), v[9].v.s.p);
    printf("\n");
    return 0;
}

static int cmd_runs(store_t *s, const char *job, int64_t limit)
{
    printf("%-6s %-28s %-9s %-3s %-27s %-27s %-8s %-9s %-9s %s\n", "id", "job", "state", "try",
           "logical_date", "started_at", "ms", "rows_in", "rows_out", "error");
    schema_value_t v[2] = {{.type = SCHEMA_INT, .v.i = limit}};
    if (job != NULL)
        v[1] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {job, strlen(job)}};
    int rc = store_exec(s,
                        job != NULL
                            ? "SELECT \"id\", \"job\", \"state\", \"attempt\", \"logical_date\", "
                              "\"started_at\", \"duration_ms\", \"rows_in\", \"rows_out\", "
                              "\"error\" FROM \"job_runs\" WHERE \"job\" = ?2 ORDER BY \"id\" "
                              "DESC LIMIT ?1"
                            : "SELECT \"id\", \"job\", \"state\", \"attempt\", \"logical_date\", "
                              "\"started_at\", \"duration_ms\", \"rows_in\", \"rows_out\", "
                              "\"error\" FROM \"job_runs\" ORDER BY \"id\" DESC LIMIT ?1",
                        v, job != NULL ? 2 : 1, run_row, NULL, NULL);
    return rc == 0 ? APP_EXIT_OK : app_fail(rc, "read job_runs");
}

static const char *const SHOW_COLUMNS[] = {
    "id",           "job",      "state",      "attempt",     "logical_date",
    "interval_end", "params",   "started_at", "finished_at", "duration_ms",
    "rows_in",      "rows_out", "error",      "lineage",
};

static int show_row(void *arg, const schema_value_t *v, size_t n)
{
    core_buf_t *out = arg;
    core_json_writer_t w;
    core_json_writer_init(&w, out);
    core_json_write_object_begin(&w);
    for (size_t i = 0; i < n && i < CORE_ARRAY_LEN(SHOW_COLUMNS); i++) {
        const char *k = SHOW_COLUMNS[i];
        core_json_write_key(&w, k, strlen(k));
        if (v[i].type == SCHEMA_INT)
            core_json_write_i64(&w, v[i].v.i);
        else if (v[i].type == SCHEMA_FLOAT)
            core_json_write_double(&w, v[i].v.f);
        else if (v[i].type != SCHEMA_STRING)
            core_json_write_null(&w);
        else if (strcmp(k, "lineage") == 0 || strcmp(k, "params") == 0)
            core_json_write_raw(&w, v[i].v.s.p, v[i].v.s.len);
        else
            core_json_write_string(&w, v[i].v.s.p, v[i].v.s.len);
    }
    core_json_write_object_end(&w);
    return core_json_writer_finish(&w);
}

static int cmd_show(store_t *s, const char *id_text)
{
    int64_t id;
    if (core_parse_i64(id_text, 1, INT64_MAX, &id) != 0)
        return app_usage_error("jobs", "show: '%s' is not a run id", id_text);
    core_buf_t out;
    core_buf_init(&out, CORE_MEM_APP, 8 << 20);
    schema_value_t v = {.type = SCHEMA_INT, .v.i = id};
    int rc = store_exec(s,
                        "SELECT \"id\", \"job\", \"state\", \"attempt\", \"logical_date\", "
                        "\"interval_end\", \"params\", \"started_at\", \"finished_at\", "
                        "\"duration_ms\", \"rows_in\", \"rows_out\", \"error\", \"lineage\" FROM "
                        "\"job_runs\" WHERE \"id\" = ?1",
                        &v, 1, show_row, &out, NULL);
    if (rc == 0 && out.len == 0) {
        core_buf_fini(&out);
        fprintf(stderr, "strata jobs: no run %lld\n", (long long)id);
        return APP_EXIT_ERROR;
    }
    if (rc == 0)
        printf("%.*s\n", (int)out.len, (const char *)out.data);
    core_buf_fini(&out);
    return rc == 0 ? APP_EXIT_OK : app_fail(rc, "read run %lld", (long long)id);
}

/* ---- Subcommands that need the config's jobs. */

typedef struct {
    app_config_t *cfg;
    app_platform_t pf;
    app_jobs_t jobs;
    seglog_t *log;
    bus_t *bus;
    batch_runner_t *runner;
} jobs_ctx_t;

static int jobs_open(app_ctx_t *ctx, const jobs_opts_t *o, bool with_log, jobs_ctx_t *j)
{
    if (o->config == NULL)
        return app_usage_error("jobs", "-c FILE is required");
    int rc = app_load_checked(o->config, &j->cfg, &j->pf);
    if (rc != 0)
        return rc;
    rc = app_jobs_build(j->cfg, &j->pf, &j->jobs);
    if (rc != 0)
        return app_fail(rc, "build the jobs of %s", o->config);
    if (with_log) {
        app_ctx_t c = *ctx;
        c.data_dir = o->data != NULL ? o->data : j->cfg->data_dir;
        rc = app_open_log(&c, true, &j->log);
        if (rc == 0)
            rc = app_platform_topics(j->cfg, j->log);
        if (rc != 0)
            return rc;
        rc = bus_open_seglog(j->log, &j->bus);
        if (rc != 0)
            return app_fail(rc, "open the bus");
    }
    j->jobs.env.bus = j->bus;
    j->jobs.env.log = j->log;
    j->jobs.env.store_url = o->store != NULL ? o->store : j->cfg->store_url;
    rc = batch_runner_create(&j->jobs.env, j->jobs.defs, j->jobs.n, &j->runner);
    if (rc != 0)
        return app_fail(rc, "check the jobs of %s", o->config);
    return 0;
}

static void jobs_close(jobs_ctx_t *j)
{
    batch_runner_destroy(j->runner);
    bus_close(j->bus);
    if (j->log != NULL)
        seglog_close(j->log);
    app_jobs_fini(&j->jobs);
    app_platform_fini(&j->pf);
    app_config_destroy(j->cfg);
}

static int cmd_run(jobs_ctx_t *j, const jobs_opts_t *o, const char *name, bool trigger)
{
    int64_t id = -1;
    int rc = trigger ? batch_runner_trigger(j->runner, name, o->params, o->nparams, &id)
                     : batch_run_now(j->runner, name, o->params, o->nparams, &id);
    if (trigger && rc == 0) {
        printf("queued run %lld of job %s\n", (long long)id, name);
        return APP_EXIT_OK;
    }
    if (rc != 0 && id < 0)
        return app_fail(rc, "run job %s", name);
    if (rc != 0) {
        fprintf(stderr, "strata jobs: run %lld of job %s failed: %s\n", (long long)id, name,
                core_error_detail());
        return APP_EXIT_ERROR;
    }
    printf("run %lld of job %s completed\n", (long long)id, name);
    return APP_EXIT_OK;
}

static int cmd_list(jobs_ctx_t *j)
{
    printf("%-24s%-11s%-20s%-18s%s\n", "job", "kind", "schedule", "timezone", "after");
    for (size_t i = 0; i < j->jobs.n; i++) {
        const batch_job_def_t *d = &j->jobs.defs[i];
        printf("%-24s%-11s%-20s%-18s", d->name, batch_kind_name(d->kind),
               d->schedule != NULL ? d->schedule : "(manual)",
               d->timezone != NULL ? d->timezone : "UTC");
        for (size_t k = 0; k < d->nafter; k++)
            printf("%s%s", k > 0 ? "," : "", d->after[k]);
        printf("\n");
    }
    return APP_EXIT_OK;
}

int cmd_jobs(app_ctx_t *ctx, int argc, char **argv)
{
    jobs_opts_t o = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    if (optind >= argc)
        return app_usage_error("jobs", "missing subcommand (list, run, trigger, runs, show)");
    const char *sub = argv[optind];
    const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
    if (optind + 2 < argc)
        return app_usage_error("jobs", "unexpected argument '%s'", argv[optind + 2]);
    if (strcmp(sub, "runs") == 0 || strcmp(sub, "show") == 0) {
        if (strcmp(sub, "show") == 0 && arg == NULL)
            return app_usage_error("jobs", "show needs a RUN_ID");
        app_config_t *cfg = NULL;
        store_t *s = NULL;
        rc = open_store(&o, ctx, &cfg, &s);
        if (rc == 0)
            rc = strcmp(sub, "runs") == 0 ? cmd_runs(s, arg, o.limit) : cmd_show(s, arg);
        store_close(s);
        app_config_destroy(cfg);
        return rc;
    }
    bool run = strcmp(sub, "run") == 0, trigger = strcmp(sub, "trigger") == 0;
    if (!run && !trigger && strcmp(sub, "list") != 0)
        return app_usage_error("jobs", "unknown subcommand '%s'", sub);
    if ((run || trigger) && arg == NULL)
        return app_usage_error("jobs", "%s needs a job NAME", sub);
    jobs_ctx_t j = {0};
    rc = jobs_open(ctx, &o, run, &j);
    if (rc == 0)
        rc = run || trigger ? cmd_run(&j, &o, arg, trigger) : cmd_list(&j);
    jobs_close(&j);
    return rc;
}

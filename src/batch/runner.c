/*
 * The job runner: checks the jobs, records them in the `jobs` table, and
 * (once started) schedules and executes their runs, tracked in job_runs.
 *
 * The job_runs table is the queue and the truth: a fire time creates a
 * pending row for its data interval [previous fire, this fire); a trigger
 * from another process (`strata jobs trigger`) creates one too. The
 * scheduler thread picks the oldest due row of each job whose upstream
 * jobs (`after`) have completed for the same logical date, claims it
 * (pending/retrying -> running, refused while another run of the job
 * runs), executes it, and records the outcome:
 *
 *   error, attempt < max_attempts  -> retrying, due again after
 *                                     retry_backoff * 2^(attempt-1)
 *   error, last attempt            -> failed
 *   upstream run failed            -> failed ("upstream X failed")
 *
 * At start, runs left `running` by a crash become retrying (or failed at
 * their last attempt), and missed fire times are queued per catchup.
 *
 * Runs execute one at a time per runner, in the scheduler thread
 * (batch_run_now executes in its caller's thread instead).
 *
 * Threading: the runner's job list is immutable after create; the stop
 * flag is atomic; everything else belongs to the scheduler thread.
 */
#include "batch/batch_int.h"
#include "batch/run_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TICK_MS       250
#define STORE_BACKOFF 1000
#define CATCHUP_MAX   1000 /* missed runs queued at most, per job */
#define PARAMS_MAX    64
#define YEAR_S        (366 * 86400)

typedef struct {
    const batch_job_def_t *def;
    batch_cron_t cron;
    bool scheduled;
    batch_tz_t *tz;
    int64_t next_fire; /* seconds; the scheduler's next fire time */
    int64_t last_fire; /* the fire before it */
} job_t;

struct batch_runner {
    batch_env_t env;
    job_t *jobs;
    size_t n;
    pthread_t thread;
    bool started;
    int stop;
};

const char *batch_kind_name(batch_kind_t k)
{
    static const char *const names[] = {"import", "recompute", "sql",
                                        "export", "retention", "replay"};
    return (unsigned)k < CORE_ARRAY_LEN(names) ? names[k] : "?";
}

int batch_kind_parse(const char *name, batch_kind_t *out)
{
    for (int k = 0; k <= BATCH_KIND_RETENTION; k++)
        if (strcmp(name, batch_kind_name((batch_kind_t)k)) == 0) {
            *out = (batch_kind_t)k;
            return 0;
        }
    return core_error(CORE_EINVAL, "unknown job kind '%s'", name);
}

static bool stopping(const batch_runner_t *r)
{
    return __atomic_load_n(&r->stop, __ATOMIC_RELAXED) != 0;
}

static void nap(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static job_t *find_job(const batch_runner_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->jobs[i].def->name, name) == 0)
            return &r->jobs[i];
    return NULL;
}

/* ---- Fire times. */

/* The last fire time strictly before t (INT64_MIN if none in five
 * years): look back further and further until a fire lands before t,
 * then walk forward to the last one. */
static int64_t prev_fire(const job_t *j, int64_t t)
{
    static const int64_t spans[] = {3600, 86400, 32 * 86400, YEAR_S, 5 * YEAR_S};
    for (size_t i = 0; i < CORE_ARRAY_LEN(spans); i++) {
        int64_t f = batch_cron_next(&j->cron, j->tz, t - spans[i] - 1);
        if (f >= t)
            continue;
        for (;;) {
            int64_t g = batch_cron_next(&j->cron, j->tz, f);
            if (g >= t)
                return f;
            f = g;
        }
    }
    return INT64_MIN;
}

/* Start of the local day containing t, in j's zone. */
static int64_t day_start(const job_t *j, int64_t t)
{
    batch_local_t l;
    batch_tz_local(j->tz, t, &l);
    int64_t local = schema_days_from_civil(l.year, l.month, l.day) * 86400;
    return local - batch_tz_offset(j->tz, local - l.offset);
}

/* The default interval of a manual run: the last complete scheduled
 * interval, or yesterday (local) for a job without a schedule. */
static void manual_interval(const job_t *j, int64_t now, int64_t *from, int64_t *to)
{
    if (j->scheduled) {
        int64_t last = prev_fire(j, now + 1);
        int64_t before = last == INT64_MIN ? INT64_MIN : prev_fire(j, last);
        if (last != INT64_MIN && before != INT64_MIN) {
            *from = before;
            *to = last;
            return;
        }
    }
    *to = day_start(j, now);
    *from = day_start(j, *to - 1);
}

/* ---- Create and check. */

static int check_deps(const batch_runner_t *r, size_t i, int depth)
{
    const batch_job_def_t *d = r->jobs[i].def;
    if (depth > (int)r->n)
        return core_error(CORE_EINVAL, "job %s: `after` forms a cycle", d->name);
    for (size_t k = 0; k < d->nafter; k++) {
        job_t *up = find_job(r, d->after[k]);
        if (up == NULL)
            return core_error(CORE_EINVAL, "job %s: after: no job named '%s'", d->name,
                              d->after[k]);
        int rc = check_deps(r, (size_t)(up - r->jobs), depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool has_pipeline(const batch_env_t *env, const char *name)
{
    for (size_t i = 0; i < env->npipelines; i++)
        if (strcmp(stream_pipeline_name(env->pipelines[i]), name) == 0)
            return true;
    return false;
}

static int check_job(const batch_runner_t *r, job_t *j)
{
    const batch_job_def_t *d = j->def;
    char err[256] = "";
    int rc = batch_tz_load(d->timezone != NULL ? d->timezone : "UTC", &j->tz);
    if (rc != 0)
        return core_error(rc, "job %s: timezone: %s", d->name, core_error_detail());
    if (d->schedule != NULL) {
        if (batch_cron_parse(d->schedule, &j->cron, err, sizeof err) != 0)
            return core_error(CORE_EINVAL, "job %s: schedule: %s", d->name, err);
        j->scheduled = true;
    }
    if (d->max_attempts < 1)
        return core_error(CORE_EINVAL, "job %s: max_attempts must be at least 1", d->name);
    switch (d->kind) {
    case BATCH_KIND_IMPORT:
        if (d->path == NULL || d->topic == NULL || d->schema == NULL)
            return core_error(CORE_EINVAL, "job %s: import needs path, topic and a schema",
                              d->name);
        break;
    case BATCH_KIND_RECOMPUTE:
        if (d->pipeline == NULL || !has_pipeline(&r->env, d->pipeline))
            return core_error(CORE_EINVAL, "job %s: recompute: no pipeline named '%s'", d->name,
                              d->pipeline != NULL ? d->pipeline : "");
        break;
    case BATCH_KIND_SQL:
        if (d->nsql == 0)
            return core_error(CORE_EINVAL, "job %s: sql needs at least one statement", d->name);
        break;
    case BATCH_KIND_EXPORT:
        if (d->source == NULL || d->output == NULL)
            return core_error(CORE_EINVAL, "job %s: export needs source and output", d->name);
        break;
    case BATCH_KIND_RETENTION:
        if (d->max_age_ms <= 0)
            return core_error(CORE_EINVAL, "job %s: retention needs max_age", d->name);
        break;
    case BATCH_KIND_REPLAY:
        if (d->pipeline == NULL || !has_pipeline(&r->env, d->pipeline))
            return core_error(CORE_EINVAL, "job %s: replay: no pipeline named '%s'", d->name,
                              d->pipeline != NULL ? d->pipeline : "");
        break;
    }
    return 0;
}

int batch_runner_create(const batch_env_t *env, const batch_job_def_t *jobs, size_t njobs,
                        batch_runner_t **out)
{
    batch_runner_t *r = core_calloc(CORE_MEM_BATCH, 1, sizeof *r);
    if (r == NULL ||
        (njobs > 0 && (r->jobs = core_calloc(CORE_MEM_BATCH, njobs, sizeof *r->jobs)) == NULL)) {
        core_free(r);
        return core_error(CORE_ENOMEM, "batch: out of memory");
    }
    r->env = *env;
    r->n = njobs;
    int rc = 0;
    for (size_t i = 0; i < njobs; i++)
        r->jobs[i].def = &jobs[i];
    for (size_t i = 0; rc == 0 && i < njobs; i++) {
        if (find_job(r, jobs[i].name) != &r->jobs[i])
            rc = core_error(CORE_EINVAL, "job %s: defined twice", jobs[i].name);
        if (rc == 0)
            rc = check_job(r, &r->jobs[i]);
    }
    for (size_t i = 0; rc == 0 && i < njobs; i++)
        rc = check_deps(r, i, 0);
    if (rc != 0) {
        batch_runner_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---- Executing one run. */

static int kind_run(batch_run_t *run)
{
    switch (run->job->kind) {
    case BATCH_KIND_IMPORT:
        return batch_import_run(run);
    case BATCH_KIND_RECOMPUTE:
        return batch_recompute_run(run);
    case BATCH_KIND_SQL:
        return batch_sql_run(run);
    case BATCH_KIND_EXPORT:
        return batch_export_run(run);
    case BATCH_KIND_RETENTION:
        return batch_retention_run(run);
    case BATCH_KIND_REPLAY:
        return batch_replay_run(run);
    }
    return core_error(CORE_EINVAL, "job %s: unknown kind", run->job->name);
}

typedef struct {
    int64_t id;
    int attempt;
    int64_t from_us, to_us;
    const batch_param_t *params;
    size_t nparams;
    bool retry; /* a failure may be retried */
} run_req_t;

/* Claims and executes one run; CORE_EEXIST if another run of the job is
 * running. Returns the kind's result (any code, CORE_EEXIST too: a job's
 * SQL may break a unique constraint); *claimed (may be NULL) says whether
 * it ran. */
static int execute(const batch_runner_t *r, store_t *s, const job_t *j, const run_req_t *q,
                   bool *claimed)
{
    bool won = false;
    int rc = batch_row_claim(s, q->id, j->def->name, q->attempt, &won);
    if (claimed != NULL)
        *claimed = rc == 0 && won;
    if (rc != 0)
        return rc;
    if (!won)
        return core_error(CORE_EEXIST, "job %s: a run is already running", j->def->name);
    batch_run_t run = {
        .job = j->def,
        .env = &r->env,
        .store = s,
        .run_id = q->id,
        .attempt = q->attempt,
        .interval_start_us = q->from_us,
        .interval_end_us = q->to_us,
        .tz = j->tz,
        .params = q->params,
        .nparams = q->nparams,
        .stop = &r->stop,
    };
    core_buf_init(&run.inputs, CORE_MEM_BATCH, BATCH_LINEAGE_MAX);
    core_buf_init(&run.outputs, CORE_MEM_BATCH, BATCH_LINEAGE_MAX);
    int64_t started = core_wall_us();
    core_log(CORE_LOG_INFO, "batch", "job %s: run %lld attempt %d started", j->def->name,
             (long long)q->id, q->attempt);
    core_error_clear();
    int krc = kind_run(&run);
    char error[CORE_ERROR_DETAIL_MAX + 64] = "";
    const char *state = "completed";
    if (krc != 0) {
        snprintf(error, sizeof error, "%s: %s", core_strerror(krc), core_error_detail());
        state = q->retry && q->attempt < j->def->max_attempts ? "retrying" : "failed";
        core_log(CORE_LOG_WARN, "batch", "job %s: run %lld attempt %d %s: %s", j->def->name,
                 (long long)q->id, q->attempt, state, error);
    } else {
        core_log(CORE_LOG_INFO, "batch", "job %s: run %lld completed: %lld rows in, %lld out",
                 j->def->name, (long long)q->id, (long long)run.rows_in, (long long)run.rows_out);
    }
    rc = batch_row_finish(s, &run, state, krc != 0 ? error : NULL, started);
    core_buf_fini(&run.inputs);
    core_buf_fini(&run.outputs);
    if (krc != 0)
        return core_error(krc, "%s", error);
    return rc;
}

static int parse_time_param(const char *name, const char *s, int64_t *us)
{
    int64_t ms;
    if (core_parse_i64(s, INT64_MIN / 1000 + 1, INT64_MAX / 1000 - 1, &ms) == 0) {
        *us = ms * 1000;
        return 0;
    }
    if (schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, s, strlen(s), us) == 0)
        return 0;
    return core_error(CORE_EINVAL, "parameter %s: '%s' is neither ISO 8601 nor epoch ms", name, s);
}

/* The interval of a manual run: params from/to, else the default. */
static int run_interval(const job_t *j, const batch_param_t *params, size_t n, int64_t *from_us,
                        int64_t *to_us)
{
    int64_t from_s, to_s;
    manual_interval(j, core_wall_ms() / 1000, &from_s, &to_s);
    *from_us = from_s * 1000000;
    *to_us = to_s * 1000000;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (strcmp(params[i].name, "from") == 0)
            rc = parse_time_param("from", params[i].value, from_us);
        else if (strcmp(params[i].name, "to") == 0)
            rc = parse_time_param("to", params[i].value, to_us);
    }
    if (rc == 0 && *from_us >= *to_us)
        rc = core_error(CORE_EINVAL, "job %s: the interval is empty (from >= to)", j->def->name);
    return rc;
}

static int open_store(const batch_runner_t *r, store_t **s)
{
    int rc = store_open(r->env.store_url, s);
    if (rc == 0)
        rc = store_migrate(*s);
    if (rc != 0) {
        store_close(*s);
        *s = NULL;
    }
    return rc;
}

int batch_run_now(batch_runner_t *r, const char *name, const batch_param_t *params, size_t nparams,
                  int64_t *run_id)
{
    job_t *j = find_job(r, name);
    if (j == NULL)
        return core_error(CORE_ENOENT, "no job named '%s'", name);
    run_req_t q = {.attempt = 1, .params = params, .nparams = nparams};
    int rc = run_interval(j, params, nparams, &q.from_us, &q.to_us);
    store_t *s = NULL;
    int64_t recovered = 0;
    if (rc == 0)
        rc = open_store(r, &s);
    if (rc == 0)
        rc = batch_rows_recover(s, name, j->def->max_attempts, &recovered);
    if (rc == 0 && recovered > 0)
        core_log(CORE_LOG_WARN, "batch", "job %s: %lld interrupted run(s) marked failed", name,
                 (long long)recovered);
    if (rc == 0)
        rc = batch_row_create(s, name, q.from_us, q.to_us, params, nparams, &q.id);
    if (rc == 0 && run_id != NULL)
        *run_id = q.id;
    if (rc == 0)
        rc = execute(r, s, j, &q, NULL);
    store_close(s);
    return rc;
}

int batch_runner_trigger(batch_runner_t *r, const char *name, const batch_param_t *params,
                         size_t nparams, int64_t *run_id)
{
    job_t *j = find_job(r, name);
    if (j == NULL)
        return core_error(CORE_ENOENT, "no job named '%s'", name);
    int64_t from, to, id = -1;
    int rc = run_interval(j, params, nparams, &from, &to);
    store_t *s = NULL;
    if (rc == 0)
        rc = open_store(r, &s);
    if (rc == 0)
        rc = batch_row_create(s, name, from, to, params, nparams, &id);
    if (rc == 0 && run_id != NULL)
        *run_id = id;
    store_close(s);
    return rc;
}

/* ---- The scheduler thread. */

static schema_value_t sval(const char *s)
{
    return (schema_value_t){.type = SCHEMA_STRING, .v.s = {s, strlen(s)}};
}

static schema_value_t ival(int64_t i)
{
    return (schema_value_t){.type = SCHEMA_INT, .v.i = i};
}

/* Records the jobs in the `jobs` table. */
static int sync_jobs(const batch_runner_t *r, store_t *s)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const batch_job_def_t *d = r->jobs[i].def;
        char def[512];
        snprintf(def, sizeof def, "{\"timezone\":\"%s\",\"max_attempts\":%d,\"catchup\":%d}",
                 batch_tz_name(r->jobs[i].tz), d->max_attempts, (int)d->catchup);
        schema_value_t v[] = {sval(d->name), sval(batch_kind_name(d->kind)),
                              d->schedule != NULL ? sval(d->schedule)
                                                  : (schema_value_t){.type = SCHEMA_NULL},
                              sval(def), ival(core_wall_us())};
        rc = store_exec(s,
                        "INSERT INTO \"jobs\" (\"name\", \"kind\", \"schedule\", \"definition\", "
                        "\"updated_at\") VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (\"name\") DO "
                        "UPDATE SET \"kind\" = excluded.\"kind\", \"schedule\" = "
                        "excluded.\"schedule\", \"definition\" = excluded.\"definition\", "
                        "\"updated_at\" = excluded.\"updated_at\"",
                        v, CORE_ARRAY_LEN(v), NULL, NULL, NULL);
    }
    return rc;
}

/* Runs left running by a crash: retrying, or failed at their last
 * attempt. */
static int recover(const batch_runner_t *r, store_t *s)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const batch_job_def_t *d = r->jobs[i].def;
        int64_t n = 0;
        rc = batch_rows_recover(s, d->name, d->max_attempts, &n);
        if (rc == 0 && n > 0)
            core_log(CORE_LOG_WARN, "batch", "job %s: %lld interrupted run(s) marked failed",
                     d->name, (long long)n);
    }
    return rc;
}

static int one_i64(void *arg, const schema_value_t *v, size_t n)
{
    if (n >= 1 && v[0].type == SCHEMA_INT)
        *(int64_t *)arg = v[0].v.i;
    else if (n >= 1 && v[0].type == SCHEMA_FLOAT)
        *(int64_t *)arg = (int64_t)v[0].v.f;
    return 0;
}

/* Queues the missed fire times of job j (catchup) and sets its next fire
 * time after now. */
static int catch_up(store_t *s, job_t *j, int64_t now)
{
    j->next_fire = batch_cron_next(&j->cron, j->tz, now);
    j->last_fire = prev_fire(j, j->next_fire);
    int64_t last_end = INT64_MIN;
    schema_value_t v[] = {sval(j->def->name)};
    int rc = store_exec(s,
                        "SELECT MAX(\"interval_end\") FROM \"job_runs\" WHERE \"job\" = ?1 AND "
                        "\"params\" = '{}'",
                        v, 1, one_i64, &last_end, NULL);
    if (rc != 0 || last_end == INT64_MIN || j->def->catchup == BATCH_CATCHUP_NONE)
        return rc;
    int64_t fires[CATCHUP_MAX];
    size_t n = 0;
    for (int64_t f = batch_cron_next(&j->cron, j->tz, last_end / 1000000);
         f <= now && f != INT64_MAX; f = batch_cron_next(&j->cron, j->tz, f)) {
        if (n == CATCHUP_MAX)
            memmove(fires, fires + 1, --n * sizeof *fires);
        fires[n++] = f;
    }
    size_t first = j->def->catchup == BATCH_CATCHUP_LAST && n > 0 ? n - 1 : 0;
    for (size_t i = first; rc == 0 && i < n; i++) {
        int64_t from = prev_fire(j, fires[i]), id;
        rc = batch_row_create(s, j->def->name, from * 1000000, fires[i] * 1000000, NULL, 0, &id);
        if (rc == 0)
            core_log(CORE_LOG_INFO, "batch", "job %s: queued missed run %lld", j->def->name,
                     (long long)id);
    }
    return rc;
}

/* Fire times that have come: one pending run each. A fire time moves on
 * only once its run is queued: if the store fails, the same fire is
 * queued when it is back (catch-up runs only at the first session). */
static int fire_due(const batch_runner_t *r, store_t *s, int64_t now)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        job_t *j = &r->jobs[i];
        while (rc == 0 && j->scheduled && j->next_fire <= now) {
            int64_t id;
            rc = batch_row_create(s, j->def->name, j->last_fire * 1000000, j->next_fire * 1000000,
                                  NULL, 0, &id);
            if (rc != 0)
                break;
            j->last_fire = j->next_fire;
            j->next_fire = batch_cron_next(&j->cron, j->tz, j->next_fire);
        }
    }
    return rc;
}

static int64_t now_s(const batch_runner_t *r)
{
    return r->env.clock_s != NULL ? r->env.clock_s(r->env.clock_arg) : core_wall_ms() / 1000;
}

/* A queued row of job_runs. */
typedef struct {
    int64_t id;
    char job[128];
    bool retrying;
    int attempt;
    int64_t from_us, to_us, finished_us;
    char params[4096];
    bool params_null;
} queued_t;

typedef struct {
    queued_t *rows;
    size_t n, cap;
} queue_t;

static int64_t as_i64(const schema_value_t *v)
{
    return v->type == SCHEMA_INT ? v->v.i : v->type == SCHEMA_FLOAT ? (int64_t)v->v.f : 0;
}

static int take_queued(void *arg, const schema_value_t *v, size_t n)
{
    queue_t *q = arg;
    if (n < 8 || q->n == q->cap)
        return 0;
    queued_t *e = &q->rows[q->n++];
    e->id = as_i64(&v[0]);
    snprintf(e->job, sizeof e->job, "%.*s", v[1].type == SCHEMA_STRING ? (int)v[1].v.s.len : 0,
             v[1].type == SCHEMA_STRING ? v[1].v.s.p : "");
    e->retrying = v[2].type == SCHEMA_STRING && v[2].v.s.len == 8;
    e->attempt = (int)as_i64(&v[3]);
    e->from_us = as_i64(&v[4]);
    e->to_us = as_i64(&v[5]);
    e->params_null = v[6].type != SCHEMA_STRING;
    snprintf(e->params, sizeof e->params, "%.*s", e->params_null ? 0 : (int)v[6].v.s.len,
             e->params_null ? "" : v[6].v.s.p);
    e->finished_us = as_i64(&v[7]);
    return 0;
}

static int take_state(void *arg, const schema_value_t *v, size_t n)
{
    if (n >= 1 && v[0].type == SCHEMA_STRING)
        snprintf(arg, 32, "%.*s", (int)CORE_MIN(v[0].v.s.len, 31), v[0].v.s.p);
    return 0;
}

/* State of job UP's latest run for logical date `logical`: 1 completed,
 * -1 failed, 0 anything else (not run yet, or still on its way). */
static int upstream_state(store_t *s, const char *up, int64_t logical)
{
    schema_value_t v[] = {sval(up), ival(logical)};
    char state[32] = "";
    int rc = store_exec(s,
                        "SELECT \"state\" FROM \"job_runs\" WHERE \"job\" = ?1 AND "
                        "\"logical_date\" = ?2 ORDER BY \"id\" DESC LIMIT 1",
                        v, 2, take_state, state, NULL);
    if (rc != 0)
        return 0;
    return strcmp(state, "completed") == 0 ? 1 : strcmp(state, "failed") == 0 ? -1 : 0;
}

static int mark_failed(store_t *s, int64_t id, const char *why)
{
    schema_value_t v[] = {ival(id), sval(why), ival(core_wall_us())};
    return store_exec(s,
                      "UPDATE \"job_runs\" SET \"state\" = 'failed', \"error\" = ?2, "
                      "\"finished_at\" = ?3 WHERE \"id\" = ?1",
                      v, 3, NULL, NULL, NULL);
}

/* params JSON (an object of strings) -> params[]; the strings point into
 * the jansson value, which *root keeps alive. */
static size_t parse_params(const char *text, json_t **root, batch_param_t *out, size_t cap)
{
    *root = json_loads(text, 0, NULL);
    size_t n = 0;
    const char *k;
    json_t *v;
    if (json_is_object(*root))
        json_object_foreach(*root, k, v)
        {
            if (n < cap && json_is_string(v))
                out[n++] = (batch_param_t){k, json_string_value(v)};
        }
    return n;
}

/* Whether queued run e may start now; fails it when an upstream failed. */
static bool due(const batch_runner_t *r, store_t *s, const queued_t *e, const job_t *j,
                int64_t now_us)
{
    if (e->retrying) {
        int64_t wait_ms = j->def->retry_backoff_ms;
        for (int a = 1; a < e->attempt && wait_ms < INT64_MAX / 4; a++)
            wait_ms *= 2;
        if (now_us < e->finished_us + wait_ms * 1000)
            return false;
    }
    for (size_t k = 0; k < j->def->nafter; k++) {
        int st = upstream_state(s, j->def->after[k], e->from_us);
        if (st == 0)
            return false;
        if (st < 0) {
            char why[256];
            snprintf(why, sizeof why, "upstream job %s failed", j->def->after[k]);
            mark_failed(s, e->id, why);
            return false;
        }
    }
    (void)r;
    return true;
}

/* Executes the first due queued run. *ran says whether one ran. */
static int dispatch(batch_runner_t *r, store_t *s, bool *ran)
{
    queue_t q = {.cap = 256};
    q.rows = core_calloc(CORE_MEM_BATCH, q.cap, sizeof *q.rows);
    if (q.rows == NULL)
        return core_error(CORE_ENOMEM, "batch: out of memory");
    int rc = store_exec(s,
                        "SELECT \"id\", \"job\", \"state\", \"attempt\", \"logical_date\", "
                        "\"interval_end\", \"params\", \"finished_at\" FROM \"job_runs\" WHERE "
                        "\"state\" IN ('pending', 'retrying') ORDER BY \"id\" LIMIT 256",
                        NULL, 0, take_queued, &q, NULL);
    int64_t now = core_wall_us();
    *ran = false;
    for (size_t i = 0; rc == 0 && i < q.n && !*ran && !stopping(r); i++) {
        queued_t *e = &q.rows[i];
        const job_t *j = find_job(r, e->job);
        if (j == NULL || !due(r, s, e, j, now))
            continue;
        batch_param_t params[PARAMS_MAX];
        json_t *root = NULL;
        size_t np = e->params_null ? 0 : parse_params(e->params, &root, params, PARAMS_MAX);
        run_req_t req = {.id = e->id,
                         .attempt = e->retrying ? e->attempt + 1 : e->attempt,
                         .from_us = e->from_us,
                         .to_us = e->to_us,
                         .params = params,
                         .nparams = np,
                         .retry = true};
        bool claimed = false;
        int xrc = execute(r, s, j, &req, &claimed);
        json_decref(root);
        *ran = claimed;
        if (xrc == CORE_EIO)
            rc = xrc; /* the store went away: reconnect */
    }
    core_free(q.rows);
    return rc;
}

static int start_session(batch_runner_t *r, store_t *s)
{
    int rc = sync_jobs(r, s);
    if (rc == 0)
        rc = recover(r, s);
    int64_t now = now_s(r);
    for (size_t i = 0; rc == 0 && i < r->n; i++)
        if (r->jobs[i].scheduled)
            rc = catch_up(s, &r->jobs[i], now);
    return rc;
}

static void *scheduler_main(void *arg)
{
    batch_runner_t *r = arg;
    store_t *s = NULL;
    bool fresh = true;
    while (!stopping(r)) {
        if (s == NULL) {
            int rc = open_store(r, &s);
            if (rc == 0 && fresh)
                rc = start_session(r, s);
            if (rc != 0) {
                core_log(CORE_LOG_WARN, "batch", "scheduler: store: %s; retrying",
                         core_error_detail());
                store_close(s);
                s = NULL;
                nap(STORE_BACKOFF);
                continue;
            }
            fresh = false;
        }
        bool ran = false;
        int rc = fire_due(r, s, now_s(r));
        if (rc == 0)
            rc = dispatch(r, s, &ran);
        if (rc != 0) {
            core_log(CORE_LOG_WARN, "batch", "scheduler: %s", core_error_detail());
            store_close(s);
            s = NULL;
            nap(STORE_BACKOFF);
        } else if (!ran) {
            nap(TICK_MS);
        }
    }
    store_close(s);
    return NULL;
}

int batch_runner_start(batch_runner_t *r)
{
    if (r->started)
        return 0;
    if (pthread_create(&r->thread, NULL, scheduler_main, r) != 0)
        return core_error(CORE_EIO, "batch: cannot start the scheduler thread");
    r->started = true;
    return 0;
}

void batch_runner_destroy(batch_runner_t *r)
{
    if (r == NULL)
        return;
    if (r->started) {
        __atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
        pthread_join(r->thread, NULL);
    }
    for (size_t i = 0; i < r->n; i++)
        batch_tz_destroy(r->jobs[i].tz);
    core_free(r->jobs);
    core_free(r);
}

/*
 * The `replay` job kind (docs/replay.md): never configured; `strata up`
 * and `strata replay` add one per aggregate pipeline, named
 * BATCH_REPLAY_JOB_PREFIX "<pipeline>". A run rebuilds the pipeline's view
 * from offset 0 as a new version and switches to it (stream_replay in
 * stream.h), and writes its progress to its job_runs row about once a
 * second, so that `strata replay` in another process can show it.
 *
 * Unlike the other kinds a run is not tied to its data interval: it either
 * switches (and is complete) or drops what it built, so a rerun simply
 * builds the next version from scratch. The runner's claim keeps two runs
 * of one replay job from running at once, in any process sharing the
 * store.
 *
 * Lineage: the offsets [0, to) of each partition read by the new version,
 * and the view.
 *
 * Threading: the thread running the job. The replay uses the batch layer's
 * compile of the pipeline (no runtime runs it) exclusively while it runs;
 * progress goes through the run's connection, on the same thread.
 */
#include "batch/batch_int.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    batch_run_t *run;
    const char *topic;
} replay_ctx_t;

static stream_pipeline_t *find_pipeline(const batch_env_t *env, const char *name)
{
    for (size_t i = 0; name != NULL && i < env->npipelines; i++)
        if (strcmp(stream_pipeline_name(env->pipelines[i]), name) == 0)
            return env->pipelines[i];
    return NULL;
}

/* Best effort: a progress row that cannot be written is only logged. */
static void progress(void *arg, const stream_replay_progress_t *pr)
{
    replay_ctx_t *c = arg;
    char json[320];
    snprintf(json, sizeof json,
             "{\"phase\":\"%s\",\"version\":%lld,\"done\":%lld,\"total\":%lld,\"behind\":%lld,"
             "\"rounds\":%lld}",
             pr->phase, (long long)pr->version, (long long)pr->done, (long long)pr->total,
             (long long)pr->behind, (long long)pr->rounds);
    schema_value_t v[3] = {
        {.type = SCHEMA_INT, .v.i = c->run->run_id},
        {.type = SCHEMA_INT, .v.i = pr->done},
        {.type = SCHEMA_STRING, .v.s = {json, strlen(json)}},
    };
    if (store_exec(c->run->store,
                   "UPDATE \"job_runs\" SET \"rows_in\" = ?2, \"progress\" = ?3 WHERE \"id\" = ?1",
                   v, 3, NULL, NULL, NULL) != 0)
        core_log(CORE_LOG_WARN, "batch", "job %s: run %lld: cannot record progress: %s",
                 c->run->job->name, (long long)c->run->run_id, core_error_detail());
}

static int lineage_range(void *arg, int32_t partition, int64_t from, int64_t to)
{
    replay_ctx_t *c = arg;
    return batch_lineage_range(c->run, c->topic, partition, from, to);
}

int batch_replay_run(batch_run_t *run)
{
    const batch_job_def_t *job = run->job;
    stream_pipeline_t *p = find_pipeline(run->env, job->pipeline);
    if (p == NULL)
        return core_error(CORE_EINVAL, "job %s: no pipeline named %s", job->name,
                          job->pipeline != NULL ? job->pipeline : "(none)");
    if (stream_pipeline_kind(p) != STREAM_KIND_AGGREGATE)
        return core_error(CORE_EINVAL, "job %s: pipeline %s is not an aggregate pipeline",
                          job->name, job->pipeline);
    replay_ctx_t c = {run, stream_pipeline_topic(p)};
    stream_replay_opts_t o = {
        .stop = run->stop,
        .progress = progress,
        .range_fn = lineage_range,
        .arg = &c,
    };
    stream_replay_stats_t st = {0};
    int rc = stream_replay(p, run->env->bus, run->env->store_url, &o, &st);
    run->rows_in = st.records;
    run->rows_out = st.rows;
    if (rc != 0)
        return rc;
    core_log(CORE_LOG_INFO, "batch",
             "job %s: view %s is now version %lld: %lld records read (%lld valid, %lld invalid, "
             "%lld late, %lld filtered), %lld rows written, %lld batch rows carried over",
             job->name, stream_pipeline_output(p), (long long)st.version, (long long)st.records,
             (long long)st.valid, (long long)st.invalid, (long long)st.late, (long long)st.filtered,
             (long long)st.rows, (long long)st.batch_rows);
    return batch_lineage_output(run, "view", stream_pipeline_output(p), st.rows);
}

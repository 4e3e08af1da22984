/*
 * The `recompute` job kind: recomputes an aggregate pipeline's view over a
 * run's data interval from the topic log, late events included, with the
 * speed layer's own code (stream_recompute in stream.h), and records the
 * offsets read and the rows written as the run's lineage.
 *
 * The interval [interval_start, interval_end) is the range of windows
 * rewritten: windows with start >= interval_start and end <= interval_end.
 * The log is read from interval_start - lookback (by record timestamp):
 * the job's lookback, else the pipeline's window size (session gap) plus
 * its max_out_of_orderness.
 *
 * Idempotent per (job, interval): a rerun writes the same rows (layer
 * 'batch', partition -1, one complete row per window) and deletes the batch
 * rows of the range it did not write. A stop request ends the run between
 * chunks; the chunks committed so far are correct rows.
 *
 * Threading: the thread running the job, with the runner's store
 * connection for this run.
 */
#include "batch/batch_int.h"

#include <string.h>

static stream_pipeline_t *find_pipeline(const batch_env_t *env, const char *name)
{
    for (size_t i = 0; name != NULL && i < env->npipelines; i++)
        if (strcmp(stream_pipeline_name(env->pipelines[i]), name) == 0)
            return env->pipelines[i];
    return NULL;
}

typedef struct {
    batch_run_t *run;
    const char *topic;
} lineage_t;

static int lineage_range(void *arg, int32_t partition, int64_t from, int64_t to)
{
    lineage_t *l = arg;
    return batch_lineage_range(l->run, l->topic, partition, from, to);
}

/* interval_start (us) - lookback (ms), in ms, rounded down, saturating. */
static int64_t read_from_ms(int64_t start_us, int64_t lookback_ms)
{
    int64_t ms = start_us / 1000 - (start_us % 1000 < 0 ? 1 : 0);
    if (lookback_ms <= 0)
        return ms;
    return ms < INT64_MIN + lookback_ms ? INT64_MIN : ms - lookback_ms;
}

int batch_recompute_run(batch_run_t *run)
{
    const batch_job_def_t *job = run->job;
    stream_pipeline_t *p = find_pipeline(run->env, job->pipeline);
    if (p == NULL)
        return core_error(CORE_EINVAL, "job %s: no pipeline named %s", job->name,
                          job->pipeline != NULL ? job->pipeline : "(none)");
    if (stream_pipeline_kind(p) != STREAM_KIND_AGGREGATE)
        return core_error(CORE_EINVAL, "job %s: pipeline %s is not an aggregate pipeline",
                          job->name, job->pipeline);
    int64_t lookback = job->lookback_ms > 0 ? job->lookback_ms : stream_pipeline_lookback_ms(p);
    lineage_t lineage = {run, stream_pipeline_topic(p)};
    stream_recompute_opts_t o = {
        .from_us = run->interval_start_us,
        .to_us = run->interval_end_us,
        .read_from_ms = read_from_ms(run->interval_start_us, lookback),
        .stop = run->stop,
        .range_fn = lineage_range,
        .arg = &lineage,
    };
    stream_recompute_stats_t st = {0};
    int rc = stream_recompute(p, run->env->bus, run->store, &o, &st);
    run->rows_in = st.records;
    run->rows_out = st.rows;
    if (rc != 0)
        return rc;
    core_log(CORE_LOG_INFO, "batch",
             "job %s: recomputed %s: %lld records read (%lld valid, %lld invalid, %lld filtered, "
             "%lld outside the range), %lld rows written, %lld stale rows deleted",
             job->name, stream_pipeline_output(p), (long long)st.records, (long long)st.valid,
             (long long)st.invalid, (long long)st.filtered, (long long)st.outside,
             (long long)st.rows, (long long)st.deleted);
    return batch_lineage_output(run, "view", stream_pipeline_output(p), st.rows);
}

/*
 * jobs.c - the config's `jobs` section as batch/ job definitions, and the
 * batch environment (pipelines compiled for the batch layer).
 *
 * Threading: the calling thread only.
 */
#include "app/platform.h"

#include <string.h>

static batch_kind_t kind_of(app_job_kind_t k)
{
    switch (k) {
    case APP_JOB_IMPORT:
        return BATCH_KIND_IMPORT;
    case APP_JOB_RECOMPUTE:
        return BATCH_KIND_RECOMPUTE;
    case APP_JOB_SQL:
        return BATCH_KIND_SQL;
    case APP_JOB_EXPORT:
        return BATCH_KIND_EXPORT;
    case APP_JOB_RETENTION:
        return BATCH_KIND_RETENTION;
    }
    return BATCH_KIND_SQL;
}

static batch_catchup_t catchup_of(app_catchup_t c)
{
    return c == APP_CATCHUP_NONE  ? BATCH_CATCHUP_NONE
           : c == APP_CATCHUP_ALL ? BATCH_CATCHUP_ALL
                                  : BATCH_CATCHUP_LAST;
}

static void fill(const app_config_t *cfg, const app_platform_t *pf, const app_job_t *j,
                 batch_column_t *cols, batch_job_def_t *d)
{
    *d = (batch_job_def_t){
        .name = j->name,
        .kind = kind_of(j->kind),
        .schedule = j->schedule,
        .timezone = j->timezone,
        .after = (const char *const *)j->after,
        .nafter = j->n_after,
        .catchup = catchup_of(j->catchup),
        .max_attempts = (int)j->max_attempts,
        .retry_backoff_ms = j->retry_backoff_ms,
        .path = j->path,
        .topic = j->topic,
        .schema = app_platform_schema(cfg, pf, j->schema),
        .key_field = j->key,
        .time_field = j->time_field,
        .columns = j->n_columns > 0 ? cols : NULL,
        .ncolumns = j->n_columns,
        .delimiter = j->delimiter != NULL ? j->delimiter[0] : ',',
        .pipeline = j->pipeline,
        .lookback_ms = j->lookback_ms,
        .sql = (const char *const *)j->sql,
        .nsql = j->n_sql,
        .source = j->source,
        .output = j->output,
        .format = j->format == APP_EXPORT_PARQUET ? "parquet" : "csv",
        .time_column = j->time_column,
        .max_age_ms = j->max_age_ms,
        .tables = (const char *const *)j->tables,
        .ntables = j->n_tables,
        .topics = (const char *const *)j->topics,
        .ntopics = j->n_topics,
    };
    for (size_t k = 0; k < j->n_columns; k++)
        cols[k] = (batch_column_t){j->columns[k].field, j->columns[k].column, j->columns[k].expr};
}

int app_jobs_build(const app_config_t *cfg, const app_platform_t *pf, app_jobs_t *out)
{
    memset(out, 0, sizeof *out);
    size_t ncols = 0;
    for (size_t i = 0; i < cfg->n_jobs; i++)
        ncols += cfg->jobs[i].n_columns;
    out->defs = core_calloc(CORE_MEM_APP, cfg->n_jobs + 1, sizeof *out->defs);
    out->columns = core_calloc(CORE_MEM_APP, ncols + 1, sizeof *out->columns);
    if (out->defs == NULL || out->columns == NULL) {
        app_jobs_fini(out);
        return core_error(CORE_ENOMEM, "app: out of memory");
    }
    out->n = cfg->n_jobs;
    size_t at = 0;
    for (size_t i = 0; i < cfg->n_jobs; i++) {
        fill(cfg, pf, &cfg->jobs[i], out->columns + at, &out->defs[i]);
        at += cfg->jobs[i].n_columns;
    }
    out->env.pipelines = (stream_pipeline_t *const *)pf->batch_pipelines;
    out->env.npipelines = pf->n_pipelines;
    return 0;
}

void app_jobs_fini(app_jobs_t *j)
{
    core_free(j->defs);
    core_free(j->columns);
    memset(j, 0, sizeof *j);
}

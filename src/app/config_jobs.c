/*
 * config_jobs.c - cross-reference checks of the `jobs` section: unique
 * names, `after` references (cycles are found by batch/ when the runner is
 * built), schedules and zones, and each kind's references to topics,
 * schemas, fields and pipelines. An import job's schema defaults to its
 * topic's.
 *
 * Threading: the loading thread only.
 */
#include "app/config.h"
#include "batch/batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void check_schedule(app_config_t *cfg, size_t i, const app_job_t *j)
{
    if (j->schedule != NULL) {
        batch_cron_t c;
        char why[256];
        if (batch_cron_parse(j->schedule, &c, why, sizeof why) != 0)
            app_config_error(cfg, j->schedule_line, 0, "jobs[%zu].schedule: %s", i, why);
    }
    if (j->timezone != NULL) {
        batch_tz_t *tz = NULL;
        if (batch_tz_load(j->timezone, &tz) != 0)
            app_config_error(cfg, j->line, 0, "jobs[%zu].timezone: %s", i, core_error_detail());
        batch_tz_destroy(tz);
    }
}

static void check_import(app_config_t *cfg, size_t i, app_job_t *j)
{
    const app_topic_t *t = j->topic != NULL ? app_config_find_topic(cfg, j->topic) : NULL;
    if (j->topic != NULL && t == NULL)
        app_config_error(cfg, j->line, 0, "jobs[%zu].topic: unknown topic '%s'", i, j->topic);
    if (j->schema == NULL && t != NULL)
        j->schema = t->schema;
    if (j->topic != NULL && t != NULL && j->schema == NULL) {
        app_config_error(cfg, j->line, 0,
                         "jobs[%zu]: missing required key 'schema' (topic '%s' has no schema)", i,
                         j->topic);
        return;
    }
    const app_schema_t *s = j->schema != NULL ? app_config_find_schema(cfg, j->schema) : NULL;
    if (j->schema != NULL && s == NULL) {
        app_config_error(cfg, j->line, 0, "jobs[%zu].schema: unknown schema '%s'", i, j->schema);
        return;
    }
    if (s == NULL)
        return;
    if (j->key != NULL && app_schema_find_field(s, j->key) == NULL)
        app_config_error(cfg, j->line, 0, "jobs[%zu].key: schema '%s' has no field '%s'", i,
                         s->name, j->key);
    const app_field_t *tf = j->time_field != NULL ? app_schema_find_field(s, j->time_field) : NULL;
    if (j->time_field != NULL && (tf == NULL || tf->type != APP_FIELD_TIMESTAMP))
        app_config_error(cfg, j->line, 0,
                         "jobs[%zu].time_field: schema '%s' has no timestamp field '%s'", i,
                         s->name, j->time_field);
    for (size_t k = 0; k < j->n_columns; k++) {
        const app_import_column_t *c = &j->columns[k];
        if (c->field != NULL && app_schema_find_field(s, c->field) == NULL)
            app_config_error(cfg, c->line, 0,
                             "jobs[%zu].columns[%zu].field: schema '%s' has no "
                             "field '%s'",
                             i, k, s->name, c->field);
        if (c->column != NULL && c->expr != NULL)
            app_config_error(cfg, c->line, 0,
                             "jobs[%zu].columns[%zu]: give either column or expr, not both", i, k);
    }
    if (j->delimiter != NULL && strlen(j->delimiter) != 1)
        app_config_error(cfg, j->line, 0, "jobs[%zu].delimiter: must be one character", i);
}

static void check_kind(app_config_t *cfg, size_t i, app_job_t *j)
{
    if (j->kind == APP_JOB_IMPORT) {
        check_import(cfg, i, j);
    } else if (j->kind == APP_JOB_RECOMPUTE && j->pipeline != NULL) {
        const app_pipeline_t *p = app_config_find_pipeline(cfg, j->pipeline);
        if (p == NULL || p->kind != APP_PIPE_AGGREGATE)
            app_config_error(cfg, j->line, 0,
                             "jobs[%zu].pipeline: '%s' is not an aggregate pipeline of this "
                             "config",
                             i, j->pipeline);
    } else if (j->kind == APP_JOB_RETENTION) {
        for (size_t k = 0; k < j->n_topics; k++)
            if (j->topics[k] != NULL && app_config_find_topic(cfg, j->topics[k]) == NULL)
                app_config_error(cfg, j->line, 0, "jobs[%zu].topics[%zu]: unknown topic '%s'", i, k,
                                 j->topics[k]);
    }
}

/* Depth-first search over `after` with colours (0 new, 1 on the path, 2
 * done): reaching a job on the path is a cycle. Linear in the edges. */
static bool cycle_from(const app_config_t *cfg, size_t i, unsigned char *colour)
{
    colour[i] = 1;
    const app_job_t *j = &cfg->jobs[i];
    for (size_t k = 0; k < j->n_after; k++) {
        const app_job_t *up = j->after[k] != NULL ? app_config_find_job(cfg, j->after[k]) : NULL;
        size_t u = up != NULL ? (size_t)(up - cfg->jobs) : 0;
        if (up != NULL && (colour[u] == 1 || (colour[u] == 0 && cycle_from(cfg, u, colour))))
            return true;
    }
    colour[i] = 2;
    return false;
}

static void check_cycles(app_config_t *cfg)
{
    unsigned char *colour = core_calloc(CORE_MEM_APP, cfg->n_jobs + 1, 1);
    if (colour == NULL) {
        app_config_error(cfg, 0, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < cfg->n_jobs; i++)
        if (colour[i] == 0 && cycle_from(cfg, i, colour)) {
            app_config_error(cfg, cfg->jobs[i].line, 0,
                             "jobs[%zu].after: the jobs' `after` lists form a cycle", i);
            break;
        }
    core_free(colour);
}

void app_config_check_jobs(app_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_jobs; i++) {
        app_job_t *j = &cfg->jobs[i];
        for (size_t k = 0; k < i && j->name != NULL; k++)
            if (cfg->jobs[k].name != NULL && strcmp(cfg->jobs[k].name, j->name) == 0)
                app_config_error(cfg, j->line, 0,
                                 "jobs[%zu].name: duplicate job '%s' (first defined at line %d)", i,
                                 j->name, cfg->jobs[k].line);
        for (size_t k = 0; k < j->n_after; k++)
            if (j->after[k] != NULL && app_config_find_job(cfg, j->after[k]) == NULL)
                app_config_error(cfg, j->line, 0, "jobs[%zu].after[%zu]: unknown job '%s'", i, k,
                                 j->after[k]);
        check_schedule(cfg, i, j);
        check_kind(cfg, i, j);
    }
    check_cycles(cfg);
}

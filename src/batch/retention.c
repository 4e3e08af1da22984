/*
 * The `retention` job kind. Store rows older than max_age (measured from
 * the run's start) are deleted from the tables listed:
 *
 *   dlq, anomalies   by created_at
 *   job_runs         by finished_at, finished runs only
 *   a view           by window_end, both layers
 *   a table          by job.time_column (microseconds), which must be set
 *
 * and the listed topics apply their own retention (retention.ms and
 * retention.bytes of the topic config) to sealed segments now, instead of
 * waiting for the log's periodic pass. Deleting is idempotent, so a retry
 * is harmless.
 *
 * Threading: runs on the runner's thread, on the run's connection.
 */
#include "batch/batch_int.h"
#include "seglog/seglog.h"

#include <stdio.h>
#include <string.h>

static int take_count(void *arg, const schema_value_t *v, size_t n)
{
    if (n >= 1 && v[0].type == SCHEMA_INT)
        *(int64_t *)arg = v[0].v.i;
    return 0;
}

static int is_view(store_t *s, const char *name, bool *yes)
{
    int64_t n = 0;
    schema_value_t v = {.type = SCHEMA_STRING, .v.s = {name, strlen(name)}};
    int rc = store_exec(s, "SELECT COUNT(*) FROM \"strata_views\" WHERE \"name\" = ?1", &v, 1,
                        take_count, &n, NULL);
    *yes = n > 0;
    return rc;
}

static int trim_table(batch_run_t *run, const char *table, int64_t cutoff_us)
{
    const batch_job_def_t *d = run->job;
    const char *column = NULL, *extra = "";
    bool view = false;
    int rc = store_ident_check(table, "table");
    if (rc == 0 && (strcmp(table, "dlq") == 0 || strcmp(table, "anomalies") == 0)) {
        column = "created_at";
    } else if (rc == 0 && strcmp(table, "job_runs") == 0) {
        column = "finished_at";
        extra = " AND \"state\" IN ('completed', 'failed')";
    } else if (rc == 0 && (rc = is_view(run->store, table, &view)) == 0 && view) {
        column = "window_end";
    } else if (rc == 0) {
        column = d->time_column;
        if (column == NULL)
            return core_error(CORE_EINVAL,
                              "job %s: retention of table %s needs time_column (microseconds)",
                              d->name, table);
    }
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_BATCH, 4096);
    if (rc == 0)
        rc = core_buf_append_str(&sql, "DELETE FROM ");
    if (rc == 0)
        rc = store_quote_ident(table, &sql);
    if (rc == 0)
        rc = core_buf_append_str(&sql, " WHERE ");
    if (rc == 0)
        rc = store_quote_ident(column, &sql);
    if (rc == 0)
        rc = core_buf_append_str(&sql, " < ?1");
    if (rc == 0)
        rc = core_buf_append(&sql, extra, strlen(extra) + 1);
    schema_value_t cut = {.type = SCHEMA_INT, .v.i = cutoff_us};
    int64_t changes = 0;
    if (rc == 0)
        rc = store_exec(run->store, (const char *)sql.data, &cut, 1, NULL, NULL, &changes);
    core_buf_fini(&sql);
    if (rc == 0) {
        run->rows_out += changes;
        rc = batch_lineage_output(run, "deleted_rows", table, changes);
    }
    return rc;
}

static int trim_topic(batch_run_t *run, const char *topic)
{
    seglog_t *log = run->env->log;
    if (log == NULL)
        return core_error(CORE_EINVAL, "job %s: retention of topic %s: no log here", run->job->name,
                          topic);
    seglog_pin(log); /* the broker may delete the topic meanwhile */
    seglog_topic_t *t = seglog_topic_get(log, topic);
    int rc = t == NULL ? core_error(CORE_ENOENT, "job %s: retention: no topic named '%s'",
                                    run->job->name, topic)
                       : 0;
    int32_t parts = t != NULL ? seglog_topic_config(t)->partitions : 0;
    int64_t deleted = 0;
    for (int32_t p = 0; rc == 0 && p < parts; p++) {
        int n = seglog_retention_run(seglog_partition(t, p), core_wall_ms());
        if (n < 0)
            rc = n;
        else
            deleted += n;
    }
    seglog_unpin(log);
    if (rc == 0)
        rc = batch_lineage_output(run, "deleted_segments", topic, deleted);
    return rc;
}

int batch_retention_run(batch_run_t *run)
{
    const batch_job_def_t *d = run->job;
    int64_t cutoff = core_wall_us() - d->max_age_ms * 1000;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < d->ntables; i++)
        rc = trim_table(run, d->tables[i], cutoff);
    for (size_t i = 0; rc == 0 && i < d->ntopics; i++)
        rc = trim_topic(run, d->topics[i]);
    return rc;
}

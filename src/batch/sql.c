/*
 * The `sql` job kind: statements against the serving store, run in order
 * in one transaction, with templates ({{ds}} ...) expanded first. A retry
 * runs them all again, so statements should be idempotent per interval:
 * an INSERT ... ON CONFLICT DO UPDATE, or a DELETE of the interval's rows
 * before the INSERT (docs/jobs.md shows both).
 *
 * Threading: runs on the runner's thread, on the run's connection.
 */
#include "batch/batch_int.h"

#include <stdio.h>
#include <string.h>

#define SQL_MAX (1 << 20)

int batch_sql_run(batch_run_t *run)
{
    const batch_job_def_t *d = run->job;
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_BATCH, SQL_MAX);
    int rc = store_exec(run->store, "BEGIN", NULL, 0, NULL, NULL, NULL);
    for (size_t i = 0; rc == 0 && i < d->nsql; i++) {
        core_buf_reset(&sql);
        rc = batch_template_expand(run, d->sql[i], &sql);
        if (rc == 0)
            rc = core_buf_append(&sql, "", 1);
        int64_t changes = 0;
        if (rc == 0)
            rc = store_exec(run->store, (const char *)sql.data, NULL, 0, NULL, NULL, &changes);
        if (rc != 0) {
            rc = core_error(rc, "job %s: statement %zu: %s", d->name, i + 1, core_error_detail());
            break;
        }
        run->rows_out += changes;
        char name[32];
        snprintf(name, sizeof name, "statement %zu", i + 1);
        rc = batch_lineage_output(run, "sql", name, changes);
    }
    if (rc == 0) {
        rc = store_exec(run->store, "COMMIT", NULL, 0, NULL, NULL, NULL);
    } else {
        char detail[CORE_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof detail, "%s", core_error_detail());
        (void)store_exec(run->store, "ROLLBACK", NULL, 0, NULL, NULL, NULL);
        core_error(rc, "%s", detail);
    }
    core_buf_fini(&sql);
    return rc;
}

/* batch internals: what the runner hands a job kind, and what a kind hands
 * back. One batch_run_t per run, owned by the thread executing it.
 */
#ifndef STRATA_BATCH_INT_H
#define STRATA_BATCH_INT_H

#include "batch/batch.h"
#include "core/core.h"
#include "store/store.h"

#define BATCH_LINEAGE_MAX (1 << 20) /* cap of each lineage list, bytes */

typedef struct {
    const batch_job_def_t *job; /* borrowed */
    const batch_env_t *env;     /* borrowed */
    store_t *store;             /* the runner's connection, for this run */
    int64_t run_id;
    int attempt;
    /* The data interval, microseconds since the epoch. */
    int64_t interval_start_us;
    int64_t interval_end_us;
    const batch_tz_t *tz; /* the job's zone (templates use it) */
    const batch_param_t *params;
    size_t nparams;
    const int *stop; /* non-zero: stop at the next step (atomic load) */

    /* Filled in by the kind. */
    int64_t rows_in;
    int64_t rows_out;
    bool skipped;       /* nothing to do (an import already done) */
    core_buf_t inputs;  /* lineage: comma-separated JSON objects */
    core_buf_t outputs; /* lineage: comma-separated JSON objects */
} batch_run_t;

/* The job kinds. Each returns 0 or an error with core_error's detail set
 * (it becomes the run's error text). They commit their own outputs; a run
 * that fails may be retried, so each kind's effect must be idempotent per
 * (job, interval): a retry replaces or skips, never duplicates. */
int batch_import_run(batch_run_t *run);
int batch_recompute_run(batch_run_t *run);
int batch_sql_run(batch_run_t *run);
int batch_export_run(batch_run_t *run);
int batch_retention_run(batch_run_t *run);
/* Kappa replay of an aggregate pipeline (replay.c, docs/replay.md). */
int batch_replay_run(batch_run_t *run);

/* Lineage entries, appended to run->inputs / run->outputs as JSON objects:
 *   {"file": PATH, "sha256": HEX, "rows": N}
 *   {"topic": T, "partition": P, "from": O1, "to": O2}   (offsets [O1, O2))
 *   {"kind": K, "name": NAME, "rows": N}                 (outputs)
 * CORE_ETOOBIG past BATCH_LINEAGE_MAX. */
int batch_lineage_file(batch_run_t *run, const char *path, const char *sha256_hex, int64_t rows);
int batch_lineage_range(batch_run_t *run, const char *topic, int32_t partition, int64_t from,
                        int64_t to);
int batch_lineage_output(batch_run_t *run, const char *kind, const char *name, int64_t rows);

/* Expands {{ds}}, {{ds_nodash}}, {{ts}}, {{prev_ds}}, {{next_ds}},
 * {{interval_start_us}}, {{interval_end_us}} (dates in the job's zone, from
 * the interval) and {{params.NAME}} into OUT. Parameter values may only
 * hold [A-Za-z0-9_.:+-] and spaces (they land in SQL text). CORE_EINVAL
 * names an unknown template or a bad parameter value. */
int batch_template_expand(const batch_run_t *run, const char *text, core_buf_t *out);

/* The value of parameter NAME, or NULL. */
const char *batch_param_get(const batch_run_t *run, const char *name);

#endif

/* batch internals: job_runs rows (run.c), used by the runner. */
#ifndef STRATA_BATCH_RUN_INT_H
#define STRATA_BATCH_RUN_INT_H

#include "batch/batch_int.h"

/* Inserts a pending run of JOB for the interval [logical_us, end_us) with
 * PARAMS (stored as a JSON object); *id gets its id. */
int batch_row_create(store_t *s, const char *job, int64_t logical_us, int64_t end_us,
                     const batch_param_t *params, size_t nparams, int64_t *id);

/* Moves run ID (pending or retrying) to running with ATTEMPT, unless
 * another run of JOB is running, or the row is no longer as the caller saw
 * it (pending at attempt 1 for ATTEMPT 1, or retrying at ATTEMPT - 1):
 * *won says whether it moved. */
int batch_row_claim(store_t *s, int64_t id, const char *job, int attempt, bool *won);

/* Runs of JOB left running by a process of this host that no longer
 * exists (or with no owner) become retrying, or failed at their last
 * attempt, with the error "interrupted". Runs owned by live processes or
 * by other hosts are left alone. *recovered counts them. */
int batch_rows_recover(store_t *s, const char *job, int max_attempts, int64_t *recovered);

/* Records the end of an attempt: STATE (completed, retrying or failed),
 * ERROR (or NULL), counts and lineage from RUN. */
int batch_row_finish(store_t *s, const batch_run_t *run, const char *state, const char *error,
                     int64_t started_us);

#endif

/* batch: the batch layer. Schedules (five-field cron in a time zone), the
 * job runner with tracked runs, and the job kinds: import, recompute, sql,
 * export, retention.
 *
 * Threading: a batch_cron_t and a batch_tz_t are immutable after parsing
 * or loading and may be shared by threads.
 */
#ifndef STRATA_BATCH_H
#define STRATA_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "schema/schema.h"
#include "stream/stream.h"

/* ---- Time zones.
 *
 * A zone is loaded from the system's tz database (TZif files under
 * /usr/share/zoneinfo, or $TZDIR): version 1 to 4 files, the 64-bit
 * transition table when present, and the POSIX TZ rule in the footer for
 * instants after the last transition. "UTC" (and "Etc/UTC", "Z") needs no
 * file. Times are seconds since the epoch (UTC). */
typedef struct batch_tz batch_tz_t;

/* Loads zone NAME ("Europe/Berlin"). Names are checked: no "..", no
 * leading '/', only [A-Za-z0-9_+-/]. Errors: CORE_ENOENT (unknown zone,
 * detail names the file), CORE_ECORRUPT (a malformed file, detail names
 * the file and what is wrong), CORE_EINVAL (a bad name or an over-long
 * path), CORE_EUNSUPP (leap-second "right/" zones), CORE_EIO (the file
 * cannot be read), CORE_ENOMEM. Reads $TZDIR with getenv(): do not run
 * it concurrently with setenv(). */
int batch_tz_load(const char *name, batch_tz_t **out);
void batch_tz_destroy(batch_tz_t *tz); /* NULL is ignored */
const char *batch_tz_name(const batch_tz_t *tz);

/* Offset from UTC, in seconds east, in force at instant T. */
int32_t batch_tz_offset(const batch_tz_t *tz, int64_t t);

/* Broken-down local time at instant T. */
typedef struct {
    int year, month, day; /* month 1-12, day 1-31 */
    int hour, minute, second;
    int wday;       /* 0 = Sunday */
    int32_t offset; /* seconds east of UTC */
} batch_local_t;
void batch_tz_local(const batch_tz_t *tz, int64_t t, batch_local_t *out);

/* ---- Cron schedules.
 *
 * Five fields: minute hour day-of-month month day-of-week, each "*", a
 * number, a range "a-b", a step "*" "/n" or "a-b/n" or "a/n", or a
 * comma-separated list of those. Months and weekdays also take names
 * (jan-dec, sun-sat, case-insensitive); weekday 7 is Sunday. As in
 * Vixie cron, when both day-of-month and day-of-week are restricted, a
 * day matches if either does. Presets: @yearly (@annually), @monthly,
 * @weekly, @daily (@midnight), @hourly. */
typedef struct {
    uint64_t minutes; /* bit m for minute m, 0-59 */
    uint32_t hours;   /* bits 0-23 */
    uint32_t mdays;   /* bits 1-31 */
    uint16_t months;  /* bits 1-12 */
    uint8_t wdays;    /* bits 0-6, 0 = Sunday */
    bool mday_any;    /* day-of-month field began with '*' ("*" or a step of
                       * it): unrestricted, as in Vixie cron */
    bool wday_any;    /* day-of-week field likewise */
} batch_cron_t;

/* Parses TEXT. On error returns CORE_EINVAL and writes a message naming
 * the field and the offending text into ERR (ERRLEN bytes, may be 0). */
int batch_cron_parse(const char *text, batch_cron_t *out, char *err, size_t errlen);

/* The first instant strictly after AFTER (seconds since the epoch) at
 * which the schedule fires, in zone TZ, or INT64_MAX if none within 1830
 * days (e.g. "0 0 30 2 *") or if AFTER lies outside the years 1-9999.
 * Daylight-saving rules:
 *   - local times that do not exist (skipped by a spring-forward gap)
 *     fire once, at the instant the gap ends;
 *   - a local time that occurs twice (fall back) fires at its first
 *     occurrence only, unless the hour field matches every hour ("*",
 *     "*" "/1", "0-23"): then it fires at both, so minutely and hourly
 *     schedules keep running through the repeated hour.
 * Documented in docs/jobs.md. */
int64_t batch_cron_next(const batch_cron_t *c, const batch_tz_t *tz, int64_t after);

/* ---- Jobs.
 *
 * A job is a named, scheduled (or manually triggered) unit of batch work.
 * Every run is a row of the store's job_runs table:
 *
 *   pending -> running -> completed
 *                      -> failed -> retrying -> running ...  (attempt + 1,
 *                                   after a backoff, up to max_attempts)
 *
 * A run left `running` by a crash is marked failed at the next runner
 * start and retried if its policy allows. At most one run of a job is
 * running at a time, across restarts (the job_runs table is the truth).
 *
 * Each run covers a data interval [interval_start, interval_end): for a
 * scheduled run, from the previous fire time to this one (Airflow's
 * data interval; logical_date = interval_start); for a manual run, the
 * interval of the last completed fire time unless params "from"/"to"
 * override it. Templates {{ds}}, {{ds_nodash}}, {{ts}}, {{next_ds}},
 * {{prev_ds}}, {{interval_start_us}}, {{interval_end_us}} and
 * {{params.NAME}} expand in SQL text and export paths.
 */
typedef enum {
    BATCH_KIND_IMPORT,
    BATCH_KIND_RECOMPUTE,
    BATCH_KIND_SQL,
    BATCH_KIND_EXPORT,
    BATCH_KIND_RETENTION,
    BATCH_KIND_REPLAY, /* not configured: one per aggregate pipeline, see below */
} batch_kind_t;

/* Replay jobs (docs/replay.md): `strata up` adds one job of kind replay per
 * aggregate pipeline, named BATCH_REPLAY_JOB_PREFIX "<pipeline>", manual
 * only, one attempt; `strata replay` queues a run of it (or runs it in its
 * own process when no `strata up` holds the data directory). A run
 * rebuilds the pipeline's view from offset 0 as a new version and switches
 * to it (stream_replay), writing its progress to the run's `progress`
 * column (JSON: phase, version, done, total, behind, rounds) and rows_in
 * about once a second. */
#define BATCH_REPLAY_JOB_PREFIX "replay:"

const char *batch_kind_name(batch_kind_t k);
int batch_kind_parse(const char *name, batch_kind_t *out);

/* Runs missed while strata was down. */
typedef enum {
    BATCH_CATCHUP_NONE, /* skip them; wait for the next fire time */
    BATCH_CATCHUP_LAST, /* run the most recent missed one */
    BATCH_CATCHUP_ALL,  /* run every missed one, oldest first */
} batch_catchup_t;

typedef struct {
    const char *name;
    const char *value;
} batch_param_t;

/* An import column: target schema field <- CSV column (header name) or,
 * when `expr` is set, an expression over the CSV columns (all strings;
 * column names that are not identifiers are written "quoted"). */
typedef struct {
    const char *field;
    const char *column; /* NULL: same as field */
    const char *expr;   /* NULL: take the column's text */
} batch_column_t;

/* A job as configured. Every pointer is borrowed and must outlive the
 * runner (the config owns them). */
typedef struct {
    const char *name;
    batch_kind_t kind;
    const char *schedule;     /* cron text, or NULL: manual only */
    const char *timezone;     /* NULL: UTC */
    const char *const *after; /* jobs that must have completed for the
                               * same logical date first */
    size_t nafter;
    batch_catchup_t catchup;
    int max_attempts;         /* >= 1 */
    int64_t retry_backoff_ms; /* first retry delay; doubles per attempt */

    /* import */
    const char *path; /* a file or a glob */
    const char *topic;
    const schema_t *schema;        /* the topic's schema (required) */
    const char *key_field;         /* record key; NULL = null keys */
    const char *time_field;        /* record timestamp from this timestamp field;
                                    * NULL = import time */
    const batch_column_t *columns; /* NULL: schema fields by same name */
    size_t ncolumns;
    char delimiter; /* 0 = ',' */

    /* recompute (pipeline must be an aggregate pipeline) */
    const char *pipeline;
    int64_t lookback_ms; /* read the log from interval_start - lookback
                          * (by record timestamp); 0 = the window size
                          * plus max_out_of_orderness */

    /* sql: statements run in order, in one transaction */
    const char *const *sql;
    size_t nsql;

    /* export: a view (merged, as queries see it) or a table, rows whose
     * time column is within the interval */
    const char *source;      /* view or table name */
    const char *output;      /* path template; "{{ds}}" etc. expand */
    const char *format;      /* "csv" (default) or "parquet" */
    const char *time_column; /* tables: rows with this column (microseconds)
                              * in the interval; NULL: the whole table.
                              * Views use window_start. */

    /* retention */
    int64_t max_age_ms;        /* rows/segments older than this go */
    const char *const *tables; /* store tables to trim: dlq, anomalies,
                                * job_runs, views ... */
    size_t ntables;
    const char *const *topics; /* topics whose old segments go */
    size_t ntopics;
} batch_job_def_t;

/* What the job kinds may use. Borrowed; outlives the runner. */
typedef struct {
    bus_t *bus;
    seglog_t *log; /* for retention; may be NULL */
    const char *store_url;
    stream_pipeline_t *const *pipelines; /* compiled pipelines, by name */
    size_t npipelines;
    /* The scheduler's clock, seconds since the epoch; NULL: the wall clock.
     * Tests set it to bring fire times on demand. */
    int64_t (*clock_s)(void *arg);
    void *clock_arg;
} batch_env_t;

typedef struct batch_runner batch_runner_t;

/* Creates a runner over JOBS (borrowed). Checks the jobs: schedules parse,
 * zones load, `after` names exist and form no cycle, recompute pipelines
 * exist. Errors: CORE_EINVAL with a detail naming the job. */
int batch_runner_create(const batch_env_t *env, const batch_job_def_t *jobs, size_t njobs,
                        batch_runner_t **out);

/* Starts the scheduler thread: records the jobs in the `jobs` table,
 * fails runs interrupted by a crash (and queues their retries), queues
 * missed runs per catchup, then fires jobs on schedule. */
int batch_runner_start(batch_runner_t *r);

/* Runs job NAME now, in the calling thread, as a tracked run (state
 * pending -> running -> completed|failed; no retries). PARAMS are
 * borrowed. *run_id gets the job_runs id (may be NULL). Returns the
 * run's result: 0 when completed; the kind's error otherwise, with the
 * detail also stored in the run's error column. CORE_EEXIST if a run of
 * the job is already running (a kind that breaks a unique constraint,
 * such as a sql job's INSERT, fails with CORE_EEXIST too: the detail and
 * the run's state tell them apart). */
int batch_run_now(batch_runner_t *r, const char *name, const batch_param_t *params, size_t nparams,
                  int64_t *run_id);

/* Queues a run of job NAME (a pending job_runs row) for a started runner
 * to pick up, possibly in another process sharing the store: `strata jobs
 * trigger`. The interval is computed as for batch_run_now. */
int batch_runner_trigger(batch_runner_t *r, const char *name, const batch_param_t *params,
                         size_t nparams, int64_t *run_id);

/* Stops the scheduler (waits for a running job to finish its current
 * step) and destroys the runner. NULL is ignored. */
void batch_runner_destroy(batch_runner_t *r);

#endif

/*
 * platform.h - turns a loaded config into the running parts' own settings:
 * schema_t objects for the schemas, compiled stream pipelines, and seglog
 * topic settings (internal to app/).
 *
 * Lifecycle: app_platform_build() -> use -> app_platform_fini(). Problems
 * are appended to the config's error list with their lines, so `strata
 * check` and `strata up` report them the same way.
 *
 * Threading: the calling thread only.
 */
#ifndef STRATA_APP_PLATFORM_H
#define STRATA_APP_PLATFORM_H

#include "app/config.h"
#include "batch/batch.h"
#include "bus/bus.h"
#include "schema/schema.h"
#include "seglog/seglog.h"
#include "stream/stream.h"

typedef struct {
    schema_t **schemas; /* parallel to cfg->schemas; owned */
    size_t n_schemas;
    stream_pipeline_t **pipelines; /* parallel to cfg->pipelines; owned until taken */
    size_t n_pipelines;
    stream_pipeline_t **batch_pipelines; /* a second compile, for the batch layer; owned */
} app_platform_t;

/* The batch layer's view of a config: job definitions for batch/ and the
 * environment they run in. Built after the platform; everything points
 * into cfg and pf, which must outlive it. */
typedef struct {
    batch_job_def_t *defs;
    size_t n;
    batch_column_t *columns; /* every import job's columns, one array */
    batch_env_t env;
} app_jobs_t;

/* Fills out from cfg->jobs. ENV's bus, log and store URL are set by the
 * caller afterwards (before the runner is created). */
int app_jobs_build(const app_config_t *cfg, const app_platform_t *pf, app_jobs_t *out);
void app_jobs_fini(app_jobs_t *j);

int cmd_jobs(app_ctx_t *ctx, int argc, char **argv);
int cmd_import(app_ctx_t *ctx, int argc, char **argv);
int cmd_replay(app_ctx_t *ctx, int argc, char **argv);
int cmd_demo(app_ctx_t *ctx, int argc, char **argv);

/* `strata up` with argv's options; TEXT (LEN bytes, may be NULL) is a
 * built-in config used when no -c is given (`strata demo`). */
int app_up_main(app_ctx_t *ctx, int argc, char **argv, const char *text, size_t len);
/* app_load_checked() for config text named NAME in messages. */
int app_load_checked_text(const char *name, const char *text, size_t len, app_config_t **cfg,
                          app_platform_t *pf);

/* Builds schemas and compiles pipelines. Returns the number of errors it
 * appended to cfg (0 = usable), or a negative code for ENOMEM. */
int app_platform_build(app_config_t *cfg, app_platform_t *out);
void app_platform_fini(app_platform_t *pf);

/* The schema named `name`, or NULL. Borrowed. */
schema_t *app_platform_schema(const app_config_t *cfg, const app_platform_t *pf, const char *name);

/* Creates the config's topics that the log lacks; reports existing topics
 * whose partition count differs (a warning: partitions never change). */
int app_platform_topics(const app_config_t *cfg, seglog_t *log);

/* "postgresql://user:secret@h/db" -> "postgresql://user:***@h/db", for logs
 * and messages. Writes at most n bytes. */
void app_redact_url(const char *url, char *out, size_t n);

/* Loads the config at path and builds its platform, printing every error
 * (then returning APP_EXIT_CONFIG). 0 or an APP_EXIT_ code; *cfg is set
 * whenever it could be loaded (destroy it), pf is always finishable. */
int app_load_checked(const char *path, app_config_t **cfg, app_platform_t *pf);

/* ---- The config's generators inside `strata up` (gen_wiring.c). */

typedef struct app_gens app_gens_t;

/* Starts one thread per enabled generator of cfg, each producing with
 * gen_run() into its topic on `bus` (borrowed; it must outlive
 * app_gens_stop()) at its rate. `run` false (--no-generators) starts
 * none. Prints a line per generator (kind, topic, rate, seed, start) and
 * "strata up: N generators running" (nothing when the config has no
 * generators). *out is NULL when nothing was started. Returns 0, or
 * APP_EXIT_ERROR after printing why (the generators already started are
 * stopped). Main thread. */
int app_gens_start(const app_config_t *cfg, bus_t *bus, bool run, app_gens_t **out);

/* Sets the generators' stop flag, joins their threads (each stops within
 * about 100 ms), prints the counts of each generator that was still
 * running, and frees everything. NULL is ignored. Main thread; call it
 * before the bus closes. */
void app_gens_stop(app_gens_t *gs);

int cmd_up(app_ctx_t *ctx, int argc, char **argv);
int cmd_views(app_ctx_t *ctx, int argc, char **argv);

#endif /* STRATA_APP_PLATFORM_H */

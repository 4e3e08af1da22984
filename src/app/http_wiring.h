/*
 * http_wiring.h - the HTTP server inside `strata up`, and the handlers app/
 * gives it (internal to app/). http/ stays generic; what it serves comes
 * from here, as routes whose handlers close over the parts they need.
 *
 *   GET  /healthz                    liveness (built into http/)
 *   POST /topics/{topic}/records     ingest (http_ingest.c, docs/http.md)
 *   GET  /readyz, /metrics, /api/... the REST API and metrics (api.h,
 *                                    docs/api.md, docs/metrics.md)
 *
 * Lifecycle: app_http_start() after the log, the bus and the pipelines are
 * up -> app_http_stop() before any of them is closed. The config, the
 * platform's schemas, the log and the bus are borrowed and must outlive
 * the server.
 *
 * Threading: start and stop on the main thread; handlers run on the
 * server's threads and touch only thread-safe parts (the bus, the seglog,
 * sealed schemas and compiled expressions).
 */
#ifndef STRATA_APP_HTTP_WIRING_H
#define STRATA_APP_HTTP_WIRING_H

#include "app/platform.h"
#include "bus/bus.h"
#include "http/http.h"
#include "kafka/kafka.h"
#include "seglog/seglog.h"

typedef struct app_http app_http_t;

/* What the REST API and /metrics read besides the config, the log and
 * the bus (all borrowed; each must outlive the server). */
typedef struct {
    stream_runtime_t *rt;   /* may be NULL: no pipelines */
    kafka_broker_t *broker; /* NULL: no broker in this process */
    batch_runner_t *runner; /* NULL: no jobs */
    const char *store_url;  /* the serving store */
} app_http_parts_t;

/* Starts the server with the config's http section, unless http.enabled is
 * false and `listen` is NULL. `listen` (may be NULL) overrides
 * http.listen (--http-listen). Prints "strata http listening on
 * HOST:PORT" with the bound port. With `parts` (may be NULL: health and
 * ingest only) it also serves the REST API, /readyz and /metrics. *out is
 * NULL when nothing was started. With http.token set every request but
 * GET /healthz needs it (docs/http.md), and with `parts` the dashboard's
 * sign-in routes POST /login and /logout are added. Returns 0;
 * APP_EXIT_CONFIG after printing why when the listen address is not
 * loopback and http.token is not set, or the token is malformed (nothing
 * is bound then); or APP_EXIT_ERROR after printing why (a bind failure, a
 * schema rule that does not compile). */
int app_http_start(const app_config_t *cfg, const app_platform_t *pf, seglog_t *log, bus_t *bus,
                   const char *listen, const app_http_parts_t *parts, app_http_t **out);
/* The access rules app_http_start() applies first (docs/http.md, "Access
 * token"), for callers that want them checked before starting anything
 * else: 0 when the server would not start (http.enabled false and
 * `listen` NULL), when the listen address (`listen`, else http.listen) is
 * loopback, or when http.token is set and well-formed; else
 * APP_EXIT_CONFIG after printing a config error naming http.listen and
 * http.token (or the malformed http.token, never its value). */
int app_http_check_access(const app_config_t *cfg, const char *listen);
/* Stops the server (requests in flight finish first) and frees it. NULL
 * is ignored. */
void app_http_stop(app_http_t *h);
/* The port the server listens on (0 for NULL). */
int app_http_port(const app_http_t *h);

/* ---- Ingest (http_ingest.c). */

typedef struct app_ingest app_ingest_t;

/* Largest number of records one request may carry (413 past it). */
#define APP_INGEST_MAX_RECORDS 100000

/* Builds the ingest state: for each config topic with a schema, the
 * schema (borrowed from pf) and its rules compiled. Errors: CORE_EINVAL
 * (a rule does not compile; the detail names schema and rule),
 * CORE_ENOMEM. */
int app_ingest_create(const app_config_t *cfg, const app_platform_t *pf, seglog_t *log, bus_t *bus,
                      app_ingest_t **out);
void app_ingest_destroy(app_ingest_t *in); /* NULL is ignored */
/* Adds POST /topics/{topic}/records to srv (before it starts); `in` must
 * outlive the server. */
int app_ingest_route(app_ingest_t *in, http_server_t *srv);

/* Counters, for /metrics later (any thread; relaxed reads). */
typedef struct {
    int64_t records_written;   /* records appended (all acks modes) */
    int64_t records_rejected;  /* records that failed their checks (422) */
    int64_t requests_rejected; /* 4xx answers of the handler (400, 403, 404, 413, 415, 422) */
    int64_t write_errors;      /* requests whose write failed (5xx) */
} app_ingest_stats_t;
void app_ingest_stats(const app_ingest_t *in, app_ingest_stats_t *out);

#endif /* STRATA_APP_HTTP_WIRING_H */

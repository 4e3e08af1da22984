/*
 * http_wiring.c - starts and stops the HTTP server of `strata up`: turns
 * the config's http section into http_config_t, builds the ingest state
 * and the REST API (api.h), registers the routes and prints the bound
 * address.
 *
 * Invariant: the server is stopped before the ingest state and the API
 * are freed, so no handler can run on freed state.
 *
 * Threading: the main thread only (handlers: see http_ingest.c).
 */
#include "app/http_wiring.h"

#include "app/api.h"
#include "app/web_routes.h"

#include <stdio.h>
#include <string.h>

struct app_http {
    http_server_t *srv;
    app_ingest_t *ingest;
    app_api_t *api; /* NULL without parts */
};

int app_http_port(const app_http_t *h)
{
    return h != NULL ? http_server_port(h->srv) : 0;
}

void app_http_stop(app_http_t *h)
{
    if (h == NULL)
        return;
    http_server_destroy(h->srv); /* stops first */
    app_api_destroy(h->api);
    app_ingest_destroy(h->ingest);
    core_free(h);
}

static void server_config(const app_config_t *cfg, const char *listen, http_config_t *hc)
{
    http_config_default(hc);
    hc->listen = listen;
    hc->max_body_bytes = (size_t)cfg->http_max_body_bytes;
    hc->max_header_bytes = (size_t)cfg->http_max_header_bytes;
    hc->max_connections = (unsigned)cfg->http_max_connections;
    hc->threads = (unsigned)cfg->http_threads;
    hc->idle_timeout_s = (unsigned)((cfg->http_idle_timeout_ms + 999) / 1000);
    if (hc->max_connections < hc->threads)
        hc->max_connections = hc->threads;
}

/* "127.0.0.1:0" with port 8123 bound -> "127.0.0.1:8123". */
static void print_address(const char *listen, int port)
{
    const char *colon = strrchr(listen, ':');
    int hl = colon != NULL ? (int)(colon - listen) : (int)strlen(listen);
    printf("strata http listening on %.*s:%d\n", hl, listen, port);
}

static void ingest_stats(const void *arg, app_ingest_stats_t *out)
{
    app_ingest_stats(arg, out);
}

/* The REST API's routes, checked against its OpenAPI document once every
 * route is in, and its sampler thread. */
static int add_api(app_http_t *h, const app_config_t *cfg, seglog_t *log, bus_t *bus,
                   const app_http_parts_t *parts)
{
    app_api_env_t env = {.cfg = cfg,
                         .log = log,
                         .bus = bus,
                         .rt = parts->rt,
                         .broker = parts->broker,
                         .runner = parts->runner,
                         .store_url = parts->store_url,
                         .srv = h->srv,
                         .ingest_stats = ingest_stats,
                         .ingest_arg = h->ingest};
    int rc = app_api_create(&env, &h->api);
    if (rc == 0)
        rc = app_api_route(h->api, h->srv);
    if (rc == 0)
        rc = app_api_check(h->api, h->srv);
    if (rc == 0)
        rc = app_api_start(h->api);
    return rc;
}

int app_http_start(const app_config_t *cfg, const app_platform_t *pf, seglog_t *log, bus_t *bus,
                   const char *listen, const app_http_parts_t *parts, app_http_t **out)
{
    *out = NULL;
    if (listen == NULL && !cfg->http_enabled)
        return 0;
    if (listen == NULL)
        listen = cfg->http_listen;
    app_http_t *h = core_calloc(CORE_MEM_APP, 1, sizeof *h);
    if (h == NULL)
        return app_fail(CORE_ENOMEM, "start the HTTP server");
    http_config_t hc;
    server_config(cfg, listen, &hc);
    core_error_clear();
    int rc = app_ingest_create(cfg, pf, log, bus, &h->ingest);
    if (rc == 0)
        rc = http_server_create(&hc, &h->srv);
    if (rc == 0)
        rc = app_ingest_route(h->ingest, h->srv);
    if (rc == 0 && parts != NULL)
        rc = add_api(h, cfg, log, bus, parts);
    if (rc == 0 && parts != NULL) /* the dashboard, after the API's document check */
        rc = app_web_route(h->srv);
    if (rc == 0)
        rc = http_server_start(h->srv);
    if (rc != 0) {
        app_fail(rc, "start the HTTP server on %s", listen);
        app_http_stop(h);
        return APP_EXIT_ERROR;
    }
    print_address(listen, http_server_port(h->srv));
    *out = h;
    return 0;
}

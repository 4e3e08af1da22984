/*
 * web_routes.c - serves the dashboard (web_routes.h, docs/dashboard.md):
 * GET / answers the embedded index.html, GET /static/{file} any other
 * embedded file. The page itself is a client of the REST API and
 * /metrics; nothing here reads platform state.
 *
 * Caching: each answer carries the file's ETag (a hash of its bytes, fixed
 * at build time) and Cache-Control: no-cache, so a browser revalidates on
 * every load and gets a body-less 304 while the binary is unchanged.
 *
 * Invariants: bodies are borrowed from the generated constant table
 * (http_respond_static), never copied; a file name containing '/' cannot
 * match (names in the table have none, and a route parameter is one
 * segment).
 *
 * Threading: handlers run on any server thread; they read only constant
 * data.
 */
#include "app/web_routes.h"

#include <string.h>

const app_web_asset_t *app_web_asset(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < app_web_assets_count; i++)
        if (strcmp(app_web_assets[i].name, name) == 0)
            return &app_web_assets[i];
    return NULL;
}

/* True if the request's If-None-Match lists the asset's ETag (or is "*"):
 * the copy the browser holds is current. Weak comparison, as RFC 9110
 * prescribes for If-None-Match, so W/"x" matches "x". */
static bool not_modified(const http_request_t *r, const app_web_asset_t *a)
{
    const char *inm = http_request_header(r, "If-None-Match");
    if (inm == NULL)
        return false;
    while (*inm == ' ' || *inm == '\t')
        inm++;
    if (strcmp(inm, "*") == 0)
        return true;
    return strstr(inm, a->etag) != NULL; /* a quoted hex digest: no false hit */
}

static int serve(http_request_t *r, const app_web_asset_t *a)
{
    int rc = http_response_header(r, "ETag", a->etag);
    if (rc == 0)
        rc = http_response_header(r, "Cache-Control", "no-cache");
    if (rc == 0)
        rc = http_response_header(r, "X-Content-Type-Options", "nosniff");
    if (rc != 0)
        return rc;
    if (not_modified(r, a))
        return http_respond_static(r, 304, NULL, "", 0);
    return http_respond_static(r, 200, a->content_type, a->data, a->len);
}

static int web_index(http_request_t *r, void *arg)
{
    (void)arg;
    const app_web_asset_t *a = app_web_asset("index.html");
    if (a == NULL)
        return http_respond_error(r, 404, "the dashboard is not embedded in this binary");
    return serve(r, a);
}

static int web_static(http_request_t *r, void *arg)
{
    (void)arg;
    const char *name = http_request_param(r, "file");
    const app_web_asset_t *a = app_web_asset(name);
    if (a == NULL || strcmp(name, "index.html") == 0)
        return http_respond_error(r, 404, "no dashboard file named %s", name);
    return serve(r, a);
}

int app_web_route(http_server_t *srv)
{
    int rc = http_route(srv, "GET", "/", web_index, NULL);
    if (rc == 0)
        rc = http_route(srv, "GET", "/static/{file}", web_static, NULL);
    return rc;
}

/*
 * web_routes.h - the dashboard's files, embedded in the binary, and the
 * routes that serve them from `strata up` (internal to app/;
 * docs/dashboard.md).
 *
 *   GET /                  index.html
 *   GET /static/{file}     every other embedded file (scripts, styles,
 *                          uPlot's dist files)
 *
 * The table app_web_assets[] is generated at build time by
 * scripts/embed_web.py from web/ and web/node_modules (a CMake custom
 * command); it is constant data, so every thread may read it.
 */
#ifndef STRATA_APP_WEB_ROUTES_H
#define STRATA_APP_WEB_ROUTES_H

#include <stddef.h>

#include "http/http.h"

/* One embedded file. Every pointer is to static data. */
typedef struct {
    const char *name;         /* "index.html", "app.js": no '/' */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const char *etag;         /* a quoted strong validator: "\"0123abcd...\"" */
    const unsigned char *data;
    size_t len; /* > 0 */
} app_web_asset_t;

/* The generated table (web_assets.c in the build directory). */
extern const app_web_asset_t app_web_assets[];
extern const size_t app_web_assets_count;

/* The embedded file called `name`, or NULL. Any thread. */
const app_web_asset_t *app_web_asset(const char *name);

/* Adds GET / and GET /static/{file} to srv (before it starts). Answers:
 * 200 with the file, its content type, its ETag and Cache-Control:
 * no-cache (browsers revalidate, so a new binary is picked up at once);
 * 304 when If-None-Match names the current ETag; 404 for a file that is
 * not embedded. Errors: http_route's. */
int app_web_route(http_server_t *srv);

#endif /* STRATA_APP_WEB_ROUTES_H */

/*
 * http_wiring.c - starts and stops the HTTP server of `strata up`: turns
 * the config's http section into http_config_t, builds the ingest state
 * and the REST API (api.h), registers the routes and prints the bound
 * address.
 *
 * Access (docs/http.md, "Access token"): with http.token set, http/ lets
 * only requests carrying it through. Browsers sign in once: a page load
 * without the token gets the sign-in page below (a 401), which sends the
 * token to POST /login in the Authorization header; /login answers with
 * the token in an HttpOnly, SameSite=Strict cookie that http/ accepts in
 * place of the header, so the dashboard's page loads, scripts and API
 * calls carry it without the page's script ever holding it. A listener
 * beyond loopback without a token is refused before the server binds.
 *
 * Invariants: the server is stopped before the ingest state and the API
 * are freed, so no handler can run on freed state; the token is never
 * printed (messages give its length at most).
 *
 * Threading: the main thread only (handlers: see http_ingest.c; the login
 * handlers read the config's token, immutable while the server runs).
 */
#include "app/http_wiring.h"

#include "app/api.h"
#include "app/config.h"
#include "app/web_routes.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The cookie that carries the token for browsers (http_config_t). */
#define TOKEN_COOKIE "strata_token"

/* The 401 page shown to a browser without the token: it sends what is
 * typed to POST /login as a bearer token and reloads on success. Inline,
 * since nothing else may be fetched before signing in. */
static const char signin_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>strata: sign in</title><link rel=\"icon\" href=\"data:,\">\n"
    "<style>body{font:15px system-ui,sans-serif;background:#f4f5f7;color:#1d2433;margin:0;"
    "display:flex;justify-content:center;padding-top:12vh}form{background:#fff;border:1px solid "
    "#d8dce3;border-radius:8px;padding:24px 28px;width:340px}h1{font-size:20px;margin:0 0 8px}"
    "p{margin:8px 0;color:#4a5263}input{width:100%;box-sizing:border-box;padding:8px;"
    "font:inherit;margin:8px 0}button{padding:7px 16px;font:inherit}.bad{color:#b42318}"
    "</style></head><body>\n"
    "<form id=\"signin\"><h1>strata</h1>\n"
    "<p>This server needs its access token (<code>http.token</code>).</p>\n"
    "<input id=\"token\" type=\"password\" autocomplete=\"current-password\" "
    "aria-label=\"access token\" required autofocus>\n"
    "<button type=\"submit\">Sign in</button>\n"
    "<p id=\"refused\" class=\"bad\" hidden>That token was not accepted.</p></form>\n"
    "<script>\n"
    "document.getElementById(\"signin\").addEventListener(\"submit\", async (e) => {\n"
    "  e.preventDefault();\n"
    "  const token = document.getElementById(\"token\").value.trim();\n"
    "  let ok = false;\n"
    "  try {\n"
    "    const r = await fetch(\"/login\", {method: \"POST\", "
    "headers: {Authorization: \"Bearer \" + token}});\n"
    "    ok = r.status === 204;\n"
    "  } catch (err) {}\n"
    "  if (ok) location.reload();\n"
    "  else document.getElementById(\"refused\").hidden = false;\n"
    "});\n"
    "</script></body></html>\n";

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
    hc->token = cfg->http_token;
}

/* True when listen's host is loopback: localhost, 127.0.0.0/8, ::1 (or
 * ::ffff:127.x.y.z). A name other than localhost is not trusted to be. */
static bool listen_is_loopback(const char *listen)
{
    char host[256];
    const char *h = listen, *end;
    if (listen[0] == '[') {
        h = listen + 1;
        end = strchr(h, ']');
    } else {
        end = strrchr(listen, ':');
    }
    size_t n = end != NULL ? (size_t)(end - h) : 0;
    if (n == 0 || n >= sizeof host)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) != 1)
        return false;
    return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
}

/* The access rules of docs/http.md: a token that http/ would refuse, or
 * a listener beyond loopback without one, is a config error. Never prints
 * the token. */
int app_http_check_access(const app_config_t *cfg, const char *listen)
{
    if (listen == NULL && !cfg->http_enabled)
        return 0;
    if (listen == NULL)
        listen = cfg->http_listen;
    const char *token = cfg->http_token;
    if (token != NULL && !http_token_valid(token, strlen(token))) {
        fprintf(stderr,
                "strata: config: http.token (or STRATA_HTTP_TOKEN) is %zu bytes; it must be %d "
                "to %d bytes of A-Z a-z 0-9 - . _ ~ + / with optional '=' at the end (e.g. "
                "`openssl rand -hex 32`)\n",
                strlen(token), HTTP_MIN_TOKEN_BYTES, HTTP_MAX_TOKEN_BYTES);
        return APP_EXIT_CONFIG;
    }
    if (token == NULL && !listen_is_loopback(listen)) {
        fprintf(stderr,
                "strata: config: http.listen (or --http-listen) is %s, not a loopback address, "
                "and http.token is not set: anyone who reaches it could read and change data. "
                "Set http.token (or STRATA_HTTP_TOKEN) to a secret, e.g. `openssl rand -hex 32`, "
                "or listen on 127.0.0.1\n",
                listen);
        return APP_EXIT_CONFIG;
    }
    return 0;
}

/* POST /login: reached only with the token (http/ checked it), so it
 * hands it back as the cookie browsers send from then on. arg: the token. */
static int web_login(http_request_t *r, void *arg)
{
    char cookie[sizeof TOKEN_COOKIE + HTTP_MAX_TOKEN_BYTES + 64];
    snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict", TOKEN_COOKIE,
             (const char *)arg);
    int rc = http_response_header(r, "Set-Cookie", cookie);
    explicit_bzero(cookie, sizeof cookie);
    if (rc == 0)
        rc = http_response_header(r, "Cache-Control", "no-store");
    return rc != 0 ? rc : http_respond(r, 204, NULL, "", 0);
}

/* POST /logout: forgets the cookie. */
static int web_logout(http_request_t *r, void *arg)
{
    (void)arg;
    int rc = http_response_header(r, "Set-Cookie",
                                  TOKEN_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    return rc != 0 ? rc : http_respond(r, 204, NULL, "", 0);
}

/* The dashboard's files, and its sign-in routes when there is a token. */
static int add_web(http_server_t *srv, const app_config_t *cfg)
{
    int rc = app_web_route(srv);
    if (rc == 0 && cfg->http_token != NULL)
        rc = http_route(srv, "POST", "/login", web_login, cfg->http_token);
    if (rc == 0 && cfg->http_token != NULL)
        rc = http_route(srv, "POST", "/logout", web_logout, NULL);
    return rc;
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
    int rc = app_http_check_access(cfg, listen);
    if (rc != 0)
        return rc;
    app_http_t *h = core_calloc(CORE_MEM_APP, 1, sizeof *h);
    if (h == NULL)
        return app_fail(CORE_ENOMEM, "start the HTTP server");
    http_config_t hc;
    server_config(cfg, listen, &hc);
    if (parts != NULL) { /* the dashboard: browsers may sign in */
        hc.token_cookie = TOKEN_COOKIE;
        hc.unauthorized_html = signin_page;
        hc.unauthorized_html_len = sizeof signin_page - 1;
    }
    core_error_clear();
    rc = app_ingest_create(cfg, pf, log, bus, &h->ingest);
    if (rc == 0)
        rc = http_server_create(&hc, &h->srv);
    if (rc == 0)
        rc = app_ingest_route(h->ingest, h->srv);
    if (rc == 0 && parts != NULL)
        rc = add_api(h, cfg, log, bus, parts);
    if (rc == 0 && parts != NULL) /* the dashboard, after the API's document check */
        rc = add_web(h->srv, cfg);
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

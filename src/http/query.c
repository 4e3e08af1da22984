/*
 * query.c - helpers for JSON APIs on the server: typed query parameters,
 * paging (limit and offset, with a cap), and introspection of the server
 * (its route table, its open connections) for documentation checks and
 * metrics.
 *
 * Invariants: a parameter that is present but malformed is an error, never
 * silently the default; a limit above the cap is lowered to the cap (the
 * answer's "limit" says what was applied).
 *
 * Threading: the request helpers run on the request's thread; the
 * introspection calls read the route table, which is immutable once the
 * server started, and ask libmicrohttpd for its connection count.
 */
#include "http/http_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int http_query_int(const http_request_t *r, const char *name, int64_t min, int64_t max, int64_t def,
                   int64_t *out)
{
    const char *v = http_request_query(r, name);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (core_parse_i64(v, min, max, out) != 0)
        return core_error(CORE_EINVAL,
                          "query parameter %s: '%.64s' is not an integer in [%lld, %lld]", name, v,
                          (long long)min, (long long)max);
    return 0;
}

int http_query_bool(const http_request_t *r, const char *name, bool def, bool *out)
{
    const char *v = http_request_query(r, name);
    *out = def;
    if (v == NULL)
        return 0;
    if (v[0] == '\0' || strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
        strcasecmp(v, "yes") == 0) {
        *out = true;
        return 0;
    }
    if (strcmp(v, "0") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0) {
        *out = false;
        return 0;
    }
    return core_error(CORE_EINVAL, "query parameter %s: '%.64s' is not true or false", name, v);
}

int http_query_page(const http_request_t *r, int64_t def_limit, int64_t max_limit, http_page_t *out)
{
    int rc = http_query_int(r, "limit", 1, INT64_MAX, def_limit, &out->limit);
    if (rc == 0)
        rc = http_query_int(r, "offset", 0, INT64_MAX / 2, 0, &out->offset);
    if (out->limit > max_limit)
        out->limit = max_limit;
    return rc;
}

int http_json_page(core_json_writer_t *w, const http_page_t *pg, size_t returned, bool more)
{
    core_json_write_key(w, "limit", 5);
    core_json_write_i64(w, pg->limit);
    core_json_write_key(w, "offset", 6);
    core_json_write_i64(w, pg->offset);
    core_json_write_key(w, "next_offset", 11);
    if (more)
        return core_json_write_i64(w, pg->offset + (int64_t)returned);
    return core_json_write_null(w);
}

void http_server_routes(const http_server_t *s, http_route_visit_fn fn, void *arg)
{
    char pattern[1024];
    for (size_t i = 0; i < s->n_routes; i++) {
        const http_route_t *rt = &s->routes[i];
        size_t used = 0;
        pattern[0] = '\0';
        for (size_t k = 0; k < rt->n_segs; k++) {
            int n = snprintf(pattern + used, sizeof pattern - used, "/%s", rt->segs[k]);
            if (n < 0 || (size_t)n >= sizeof pattern - used)
                break;
            used += (size_t)n;
        }
        fn(arg, rt->method, used > 0 ? pattern : "/");
    }
}

int64_t http_server_connections(const http_server_t *s)
{
    if (s->daemon == NULL) /* set and cleared on the thread that starts and stops */
        return 0;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info != NULL ? (int64_t)info->num_connections : 0;
}

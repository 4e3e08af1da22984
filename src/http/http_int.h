/*
 * http_int.h - the server's and the request's insides, shared by server.c
 * (listener, routing, libmicrohttpd glue) and response.c (answers). Internal
 * to http/.
 *
 * Threading: http_server_t is immutable once started, except the stats
 * (relaxed atomics). An http_request_t belongs to the server thread that
 * serves its connection.
 */
#ifndef STRATA_HTTP_INT_H
#define STRATA_HTTP_INT_H

#include "http/http.h"

#include <microhttpd.h>

#define HTTP_MAX_RESPONSE_HEADERS 8

typedef struct {
    char *method;                        /* owned */
    char *segs[HTTP_MAX_ROUTE_SEGMENTS]; /* owned; a parameter keeps its braces */
    size_t n_segs;
    http_handler_fn fn;
    void *arg;
} http_route_t;

struct http_server {
    http_config_t cfg; /* cfg.listen, .token and .token_cookie are NULL: copies below */
    char listen[288];  /* the address as given, for messages */
    char *token;       /* owned; NULL: no access token needed */
    size_t token_len;
    char *token_cookie; /* owned; NULL: the token only in Authorization */
    int lfd;            /* listening socket until MHD takes it at start, else -1 */
    int port;
    struct MHD_Daemon *daemon; /* NULL until started */
    http_route_t *routes;      /* owned */
    size_t n_routes, cap_routes;
    http_stats_t stats; /* relaxed atomics */
};

/* Request states: reading the body -> (body too big: draining) -> answered. */
struct http_request {
    http_server_t *srv;
    struct MHD_Connection *conn;
    const char *method; /* borrowed from MHD */
    char *path;         /* owned copy of the decoded path */
    char *split;        /* owned copy of path, cut into segs by the router */
    char *segs[HTTP_MAX_ROUTE_SEGMENTS];
    size_t n_segs;
    const http_route_t *route;
    core_buf_t body;  /* capped at max_body_bytes */
    uint64_t dropped; /* body bytes discarded past the cap */
    bool too_big;
    bool answered;
    core_buf_t out; /* the JSON helpers' response, capped at max_response_bytes */
    core_json_writer_t w;
    bool w_ready;
    char *hdr_names[HTTP_MAX_RESPONSE_HEADERS]; /* owned */
    char *hdr_values[HTTP_MAX_RESPONSE_HEADERS];
    size_t n_hdrs;
};

/* Queues resp (taken: destroyed here) with status, after adding the
 * pending headers. 0, or CORE_EIO when MHD refuses it. */
int http_queue(http_request_t *r, int status, struct MHD_Response *resp);

/* The access-token gate (auth.c), once the request's headers are read:
 * 1 when the request may go on (no token configured, the token matches,
 * or GET/HEAD /healthz); 0 when it was answered 401; a negative CORE_E*
 * when even that answer failed. */
int http_auth_check(http_request_t *r);

static inline void http_stat_add(int64_t *counter, int64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

#endif /* STRATA_HTTP_INT_H */

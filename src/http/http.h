/*
 * http: strata's HTTP server (libmicrohttpd underneath): routing with path
 * parameters, capped request bodies, responses built in memory (JSON
 * helpers on core's writer) or streamed from a callback, and the decoding
 * of record-carrying bodies (a JSON array, or NDJSON).
 *
 * The module is generic: it knows no topic, pipeline or store. app/
 * registers handlers that close over the read-only interfaces it chooses
 * to hand out (DESIGN.md §2). The only built-in route is GET /healthz.
 *
 * Lifecycle: http_config_default() -> adjust -> http_server_create()
 * (checks the settings, binds the listener: the port is known from here
 * on) -> http_route() for every route -> http_server_start() (the worker
 * threads) -> http_server_stop() -> http_server_destroy().
 *
 * Requests: a handler runs on a server thread once the whole body has
 * arrived (at most max_body_bytes; past that the server answers 413 and
 * never calls the handler). It reads the request through the accessors
 * below and answers exactly once with one of the http_respond* calls. A
 * handler that returns without answering gets a 500 sent for it (with the
 * thread's error detail when it returned a negative code).
 *
 * Threading: create, route, start, stop and destroy belong to one thread.
 * Handlers run concurrently on up to `threads` server threads, so their
 * `arg` must be safe to share; a request and everything borrowed from it
 * belong to the thread running its handler, until the handler returns.
 * http_server_port() and http_server_stats() may be called from any thread.
 */
#ifndef STRATA_HTTP_H
#define STRATA_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"

typedef struct http_server http_server_t;
typedef struct http_request http_request_t;

/* Bounds of the settings (http_server_create checks them). */
#define HTTP_MAX_THREADS        64
#define HTTP_MIN_HEADER_BYTES   4096
#define HTTP_MAX_ROUTE_SEGMENTS 16 /* path segments of a route pattern */
#define HTTP_MAX_PARAMS         8  /* {params} in one pattern */

typedef struct {
    const char *listen;        /* "127.0.0.1:8080", "[::1]:8080", "localhost:8080";
                                * port 0 picks a free one. Borrowed during create. */
    size_t max_body_bytes;     /* request body cap; 413 past it. 8 MiB */
    size_t max_header_bytes;   /* per-connection memory for the request line and
                                * headers (libmicrohttpd's memory limit); >=
                                * HTTP_MIN_HEADER_BYTES. 32 KiB */
    size_t max_response_bytes; /* cap of a response built with the JSON helpers. 64 MiB */
    unsigned max_connections;  /* open connections; more are refused. 256 */
    unsigned threads;          /* server threads, 1..HTTP_MAX_THREADS. 2 */
    unsigned idle_timeout_s;   /* an idle connection is closed after this. 30 */
    /* Access token (see "Access token" below). NULL or "": none, every
     * request is served. Copied at create. */
    const char *token;
    /* NULL: the token is only accepted in the Authorization header. Else
     * the name of a cookie that may carry it instead (for browsers, which
     * cannot add a header to page loads); [A-Za-z0-9_-], 1..64 bytes.
     * Copied at create. */
    const char *token_cookie;
    /* NULL, or the body of the 401 answered to a GET or HEAD whose Accept
     * names text/html (a sign-in page): unauthorized_html_len bytes,
     * borrowed, outliving the server (an embedded page). */
    const char *unauthorized_html;
    size_t unauthorized_html_len;
} http_config_t;

void http_config_default(http_config_t *cfg);

/* ---- Access token.
 *
 * With cfg.token set, a request is served only when it carries the token:
 * as "Authorization: Bearer <token>" (the scheme case-insensitive), or as
 * the value of the cookie cfg.token_cookie when that is set. GET and HEAD
 * /healthz are always served (liveness probes carry no secret). Any other
 * request is answered 401 with "WWW-Authenticate: Bearer" (plus
 * error="invalid_token" when a wrong token was sent) as soon as its
 * headers are read: the router, the handlers and the body reader never see
 * it. The body is {"error": ...}, or cfg.unauthorized_html for a browser's
 * page load. Tokens are compared in constant time and never logged.
 *
 * A token is HTTP_MIN_TOKEN_BYTES..HTTP_MAX_TOKEN_BYTES bytes of RFC 6750's
 * b64token alphabet: A-Z a-z 0-9 - . _ ~ + / then optional trailing '='
 * (so it fits a header and a cookie as is). http_server_create() refuses
 * anything else with CORE_EINVAL; the detail gives the length, never the
 * token. */
#define HTTP_MIN_TOKEN_BYTES 16
#define HTTP_MAX_TOKEN_BYTES 512

/* True when token[0..len) is a valid access token (see above). Pure. */
bool http_token_valid(const char *token, size_t len);

/* True when given[0..given_len) equals want[0..want_len). The time taken
 * depends on given_len only, never on the bytes of either or on where
 * they differ (so a client cannot find the token byte by byte from answer
 * times). want_len 0 never matches. Pure; any thread. */
bool http_token_equal(const char *given, size_t given_len, const char *want, size_t want_len);

/* What a request's headers say about the token. */
typedef enum {
    HTTP_TOKEN_MISSING, /* neither header offers a token */
    HTTP_TOKEN_WRONG,   /* one offers a token, and none offered is the one */
    HTTP_TOKEN_OK       /* the Bearer credentials or a cookie named cookie_name hold it */
} http_token_check_t;

/* The gate's decision for an Authorization header value and a Cookie
 * header value ("a=1; b=2"), either NULL when absent: the token is taken
 * from "Bearer <token>" (scheme case-insensitive, blanks around skipped)
 * and from every cookie called cookie_name (NULL: cookies are not looked
 * at). token[0..token_len) is the expected token (token_len > 0). Pure;
 * any thread; reads only up to the headers' NULs. */
http_token_check_t http_token_check(const char *authorization, const char *cookies,
                                    const char *cookie_name, const char *token, size_t token_len);

/* Checks cfg and binds the listener. Errors: CORE_EINVAL (a setting out of
 * bounds, a listen address that is not host:port, a token or cookie name
 * that is not valid; the detail names it), CORE_EIO (the bind failed: the
 * detail says why), CORE_ENOMEM. *out is owned by the caller
 * (http_server_destroy). */
int http_server_create(const http_config_t *cfg, http_server_t **out);

/* The handler of a route. arg is the pointer given to http_route. Returns
 * 0, or a negative CORE_E* code (with core_error detail) when it failed
 * before answering. */
typedef int (*http_handler_fn)(http_request_t *req, void *arg);

/* Adds a route: method ("GET", "POST", ...; copied) and a path pattern
 * (copied) of literal segments and {name} parameters, each matching one
 * whole non-empty segment: "/topics/{topic}/records". A GET route also
 * answers HEAD. Routes are tried in the order added; the first match wins.
 * A path that matches some route but not with this method gets 405 with an
 * Allow header; a path no route matches gets 404. Only before
 * http_server_start(). Errors: CORE_EINVAL (bad pattern, too many segments
 * or parameters, server started), CORE_ENOMEM. */
int http_route(http_server_t *s, const char *method, const char *pattern, http_handler_fn fn,
               void *arg);

/* Starts the worker threads. CORE_EIO if libmicrohttpd refuses to start
 * (detail set), CORE_EINVAL if already started. */
int http_server_start(http_server_t *s);
/* The bound port (useful with port 0). Any thread. */
int http_server_port(const http_server_t *s);
/* Stops accepting, closes the connections and joins the threads: handlers
 * running now finish first. Idempotent. */
void http_server_stop(http_server_t *s);
/* Stops if needed and frees everything. NULL is ignored. */
void http_server_destroy(http_server_t *s);

/* Counters, for /metrics later; read with relaxed atomics. */
typedef struct {
    int64_t requests;         /* requests that reached the router */
    int64_t responses[6];     /* answers by class: [2] = 2xx ... [5] = 5xx */
    int64_t body_bytes;       /* request body bytes accepted */
    int64_t oversized_bodies; /* 413 for a body over max_body_bytes */
    int64_t not_found;        /* 404 from the router */
    int64_t bad_method;       /* 405 from the router */
    int64_t handler_errors;   /* handlers that returned without answering */
    int64_t unauthorized;     /* 401 for a missing or wrong access token */
} http_stats_t;
void http_server_stats(const http_server_t *s, http_stats_t *out);

/* ------------------------------------------------------------------------
 * Reading a request. Every string is borrowed from the request (valid
 * until the handler returns) and NUL-terminated.
 * ------------------------------------------------------------------------ */

const char *http_request_method(const http_request_t *r);
/* The path, percent-decoded, without the query string. */
const char *http_request_path(const http_request_t *r);
/* The value of the route's {name} parameter, or NULL. */
const char *http_request_param(const http_request_t *r, const char *name);
/* The (decoded) value of query argument name, or NULL when absent; "" for
 * "?name" or "?name=". When repeated, the first one. */
const char *http_request_query(const http_request_t *r, const char *name);
/* A request header (case-insensitive name), or NULL. */
const char *http_request_header(const http_request_t *r, const char *name);
/* True if the Content-Type's media type (before any ';' parameters) is
 * `media`, compared case-insensitively. */
bool http_request_content_type_is(const http_request_t *r, const char *media);
/* The body: *len bytes at the returned pointer (not NUL-terminated; NULL
 * with *len 0 when empty). At most max_body_bytes. */
const char *http_request_body(const http_request_t *r, size_t *len);

/* ------------------------------------------------------------------------
 * Answering. Exactly one http_respond* call per request succeeds; a second
 * gives CORE_EINVAL. Status codes are HTTP's (100..599). Content types
 * are copied.
 * ------------------------------------------------------------------------ */

/* Adds a header to the coming response (name and value copied; at most 8
 * per request). CORE_EINVAL for a name or value holding CR or LF, or too
 * many; CORE_ENOMEM. */
int http_response_header(http_request_t *r, const char *name, const char *value);
/* Answers with a copy of body[0..len). */
int http_respond(http_request_t *r, int status, const char *content_type, const void *body,
                 size_t len);
/* Answers with body[0..len), borrowed: it must outlive the server (an
 * embedded file). */
int http_respond_static(http_request_t *r, int status, const char *content_type, const void *body,
                        size_t len);

/* JSON answers: http_json() gives a writer over the request's response
 * buffer (capped at max_response_bytes; the same writer on every call);
 * the handler writes one document and calls http_respond_json(), which
 * answers `status` with Content-Type application/json. A writer error
 * (the document incomplete, the cap hit) answers 500 instead and returns
 * the error. */
core_json_writer_t *http_json(http_request_t *r);
int http_respond_json(http_request_t *r, int status);
/* Answers {"error": "<message>"} with `status`; the message is formatted
 * from fmt and truncated at 1 KiB. Discards whatever http_json() held. */
int http_respond_error(http_request_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Streamed answers (chunked transfer encoding), for bodies produced bit by
 * bit. fn fills buf[0..cap) with the bytes at position pos of the body and
 * returns how many (> 0), HTTP_STREAM_END when the body is complete, or
 * HTTP_STREAM_ERROR to abort the connection. It runs on a server thread
 * after the handler returned, and must not return 0 (that would spin the
 * thread; long waits such as server-sent events need connection
 * suspension, not built yet). free_fn(arg) (may be NULL) runs once when
 * the response is done with, also when http_respond_stream itself fails. */
#define HTTP_STREAM_END   ((ssize_t)-1)
#define HTTP_STREAM_ERROR ((ssize_t)-2)
typedef ssize_t (*http_stream_fn)(void *arg, uint64_t pos, char *buf, size_t cap);
int http_respond_stream(http_request_t *r, int status, const char *content_type, http_stream_fn fn,
                        void (*free_fn)(void *arg), void *arg);

/* ------------------------------------------------------------------------
 * Record bodies: a JSON document (an array of values, or one value) or
 * NDJSON (one value per line), split into the byte spans of its records.
 * Pure functions over the bytes; thread-safe.
 * ------------------------------------------------------------------------ */

typedef enum {
    HTTP_BODY_JSON,  /* an array: each element is a record; any other value is one record */
    HTTP_BODY_NDJSON /* each non-blank line is a record ("\n" or "\r\n" ends a line) */
} http_body_format_t;

/* One record of a body: body[offset .. offset+len) is one complete, valid
 * JSON value (any type: callers check for objects), without surrounding
 * whitespace. line is the 1-based line of the body where it starts. */
typedef struct {
    size_t index; /* 0-based position among the records */
    size_t offset;
    size_t len;
    size_t line;
} http_body_record_t;

/* Where a body stopped being valid. offset counts bytes from the start of
 * the body; line and column (1-based, column in bytes) locate it; what is
 * a static description ("expected ',' or ']' after an array element"). */
typedef struct {
    size_t offset;
    size_t line;
    size_t column;
    const char *what;
} http_body_error_t;

/* Called once per record, in order; a non-zero return stops the split and
 * is returned by http_body_split. */
typedef int (*http_body_record_fn)(void *arg, const http_body_record_t *rec);

/* Splits body[0..len) (not NUL-terminated) into records and calls fn for
 * each. Nesting inside a record is capped at CORE_JSON_DEFAULT_DEPTH.
 * Returns 0; CORE_ECORRUPT for invalid JSON (err filled, thread detail
 * set; fn may already have seen the records before the fault: callers
 * that want all-or-nothing collect first, act after); CORE_ETOOBIG when
 * the body holds more than max_records records; or fn's code. An empty
 * (or all-blank) body has no records. err may be NULL. */
int http_body_split(http_body_format_t format, const char *body, size_t len, size_t max_records,
                    http_body_record_fn fn, void *arg, http_body_error_t *err);

/* ------------------------------------------------------------------------
 * Introspection (query.c). Any thread once the server is started (the
 * route table is read-only from then on); before, the creating thread.
 * ------------------------------------------------------------------------ */

/* Calls fn once per route, in the order added, with its method and its
 * pattern as given to http_route ("/topics/{topic}/records"; borrowed for
 * the call). The built-in GET /healthz is included. */
typedef void (*http_route_visit_fn)(void *arg, const char *method, const char *pattern);
void http_server_routes(const http_server_t *s, http_route_visit_fn fn, void *arg);
/* Connections open now (0 before start and after stop). */
int64_t http_server_connections(const http_server_t *s);

/* ------------------------------------------------------------------------
 * Query parameters and paging (query.c), for JSON APIs. Errors set the
 * thread's detail to a sentence naming the parameter, ready for
 * http_respond_error(r, 400, "%s", core_error_detail()).
 * ------------------------------------------------------------------------ */

/* Query argument `name` as a decimal integer in [min, max]: *out = def when
 * absent. CORE_EINVAL when present but empty, not an integer or out of
 * bounds. */
int http_query_int(const http_request_t *r, const char *name, int64_t min, int64_t max, int64_t def,
                   int64_t *out);
/* Query argument `name` as a boolean: absent -> def; "", "1", "true", "yes"
 * -> true; "0", "false", "no" -> false; anything else CORE_EINVAL. */
int http_query_bool(const http_request_t *r, const char *name, bool def, bool *out);

/* A page: `limit` items starting at item `offset`. */
typedef struct {
    int64_t limit;
    int64_t offset;
} http_page_t;

/* Reads ?limit= (1..; default def_limit; a larger value is lowered to
 * max_limit, not refused) and ?offset= (>= 0; default 0). CORE_EINVAL for
 * a limit < 1, a negative offset or text that is not an integer. */
int http_query_page(const http_request_t *r, int64_t def_limit, int64_t max_limit,
                    http_page_t *out);
/* Writes the members "limit", "offset" and "next_offset" (the offset of
 * the next page when `more`, else null) into the object being written. */
int http_json_page(core_json_writer_t *w, const http_page_t *pg, size_t returned, bool more);

/* ------------------------------------------------------------------------
 * Prometheus text exposition format, version 0.0.4 (metrics.c).
 *
 * A writer appends metric families to a buffer: http_prom_family() writes
 * a family's # HELP and # TYPE lines, then its samples follow with the
 * calls below until the next family. Checked as they are written: metric
 * and label names (Prometheus's rules: [a-zA-Z_:][a-zA-Z0-9_:]* for
 * metrics, [a-zA-Z_][a-zA-Z0-9_]* for labels, no "__" prefix, "le" and
 * "quantile" reserved), a family declared once, samples matching the
 * family's type, histogram bounds strictly increasing. Label values are
 * escaped (\\, \", \n) and bytes that are not UTF-8 become U+FFFD; HELP
 * text escapes \\ and \n. Integers are written exactly; doubles in the
 * shortest form that reads back the same, NaN as NaN, infinities as +Inf
 * and -Inf.
 *
 * The first error is sticky: every later call returns it, and the buffer
 * then holds a partial exposition to be discarded. Errors: CORE_EINVAL
 * (a bad name, a duplicate family, a sample of the wrong type or before
 * any family, bad bounds), the buffer's CORE_ETOOBIG / CORE_ENOMEM.
 *
 * Lives in the caller's storage (init/fini); `out` is borrowed. One thread.
 * ------------------------------------------------------------------------ */
#define HTTP_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define HTTP_PROM_NAME_MAX     128 /* bytes of a metric or label name, NUL included */
#define HTTP_PROM_MAX_LABELS   16  /* labels of one sample */

typedef enum {
    HTTP_PROM_COUNTER,   /* one sample per label set: the family's name; ends in _total */
    HTTP_PROM_GAUGE,     /* one sample per label set: the family's name */
    HTTP_PROM_HISTOGRAM, /* NAME_bucket{le=...}..., NAME_sum, NAME_count */
    HTTP_PROM_SUMMARY    /* NAME_sum and NAME_count (no quantiles) */
} http_prom_type_t;

typedef struct {
    const char *name;  /* borrowed */
    const char *value; /* borrowed; any bytes */
} http_prom_label_t;

typedef struct {
    core_buf_t *out;  /* borrowed */
    core_map_t *seen; /* family names written; owned */
    char family[HTTP_PROM_NAME_MAX];
    http_prom_type_t type;
    bool open; /* a family was declared */
    int rc;    /* sticky first error */
} http_prom_t;

/* CORE_ENOMEM when the name set cannot be made (fini is still safe). */
int http_prom_init(http_prom_t *p, core_buf_t *out);
void http_prom_fini(http_prom_t *p);
/* Declares a family. A counter's name must end in "_total"; help is any
 * text (may be NULL: no HELP line). */
int http_prom_family(http_prom_t *p, const char *name, http_prom_type_t type, const char *help);
/* One sample of the current counter or gauge family. labels may be NULL
 * when n is 0. A counter's value must not be negative. */
int http_prom_int(http_prom_t *p, const http_prom_label_t *labels, size_t n, int64_t v);
int http_prom_double(http_prom_t *p, const http_prom_label_t *labels, size_t n, double v);
/* One histogram of the current histogram family: counts[i] is the number
 * of observations in bucket i (not cumulative): at most bounds[i] and above
 * bounds[i-1], for i < nbounds; counts[nbounds] is the number above the
 * last bound. Written cumulatively as NAME_bucket{...,le="b"} for each
 * bound, le="+Inf", then NAME_sum (sum) and NAME_count (the total). */
int http_prom_histogram(http_prom_t *p, const http_prom_label_t *labels, size_t n,
                        const double *bounds, const int64_t *counts, size_t nbounds, double sum);
/* One summary of the current summary family: NAME_sum and NAME_count. */
int http_prom_summary(http_prom_t *p, const http_prom_label_t *labels, size_t n, double sum,
                      int64_t count);
/* 0 if everything was written, else the sticky error. */
int http_prom_finish(const http_prom_t *p);

/* ------------------------------------------------------------------------
 * API documents (openapi.c): an OpenAPI 3.0 document (JSON) served as is
 * and rendered as one HTML page, server-side, without scripts.
 * ------------------------------------------------------------------------ */
typedef struct http_docs http_docs_t;

/* Parses doc[0..len) (borrowed: it must outlive the object and the server,
 * as an embedded document does) and renders its HTML page: title and
 * description from `info`; per path and operation the method, path,
 * summary, description, parameters (with $ref to #/components/parameters
 * resolved), request body and responses. Errors: CORE_ECORRUPT (not JSON,
 * or no "paths" object; the detail says where), CORE_ENOMEM. */
int http_docs_create(const char *doc, size_t len, http_docs_t **out);
void http_docs_destroy(http_docs_t *d); /* NULL is ignored */
/* The rendered page (borrowed from d; NUL-terminated at *len). */
const char *http_docs_html(const http_docs_t *d, size_t *len);
/* Adds GET json_path (the document, application/json) and GET html_path
 * (the page) to srv. d must outlive the server. */
int http_docs_route(http_docs_t *d, http_server_t *srv, const char *json_path,
                    const char *html_path);
/* Compares the document's operations (path template and method) with the
 * routes of srv: CORE_EINVAL when a route is not documented or a
 * documented operation has no route, with a detail listing them. */
int http_docs_check(const http_docs_t *d, const http_server_t *srv);

#endif /* STRATA_HTTP_H */

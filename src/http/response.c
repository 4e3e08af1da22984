/*
 * response.c - what a handler sees of its request (accessors) and how it
 * answers: bodies copied, borrowed for the process's life, built with the
 * JSON writer, or streamed from a callback.
 *
 * Invariants: a request is answered at most once (r->answered); every
 * answer goes through http_queue(), which adds the pending headers and
 * counts the status class. A JSON response's buffer is handed to MHD
 * without a copy (core_buf_take) and freed by MHD with core_free.
 *
 * Threading: everything here runs on the server thread that owns the
 * request (see server.c).
 */
#include "http/http_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ERROR_MESSAGE_MAX 1024
#define STREAM_BLOCK      (16u << 10)

_Static_assert(HTTP_STREAM_END == MHD_CONTENT_READER_END_OF_STREAM, "stream end marker");
_Static_assert(HTTP_STREAM_ERROR == MHD_CONTENT_READER_END_WITH_ERROR, "stream error marker");

/* ---- Reading. */

const char *http_request_method(const http_request_t *r)
{
    return r->method;
}

const char *http_request_path(const http_request_t *r)
{
    return r->path;
}

const char *http_request_param(const http_request_t *r, const char *name)
{
    const http_route_t *rt = r->route;
    size_t n = strlen(name);
    for (size_t i = 0; rt != NULL && i < rt->n_segs && i < r->n_segs; i++) {
        const char *seg = rt->segs[i];
        if (seg[0] == '{' && strlen(seg) == n + 2 && memcmp(seg + 1, name, n) == 0)
            return r->segs[i];
    }
    return NULL;
}

const char *http_request_query(const http_request_t *r, const char *name)
{
    const char *v = NULL;
    size_t vlen = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
                                      &vlen) != MHD_YES)
        return NULL;
    return v != NULL ? v : "";
}

const char *http_request_header(const http_request_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

bool http_request_content_type_is(const http_request_t *r, const char *media)
{
    const char *ct = http_request_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(media);
    if (strncasecmp(ct, media, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

const char *http_request_body(const http_request_t *r, size_t *len)
{
    *len = r->body.len;
    return r->body.len > 0 ? (const char *)r->body.data : NULL;
}

/* ---- Answering. */

static bool header_text_valid(const char *s, bool name)
{
    if (name && *s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s == '\r' || *s == '\n' || (name && (*s == ':' || *s == ' ')))
            return false;
    return true;
}

int http_response_header(http_request_t *r, const char *name, const char *value)
{
    if (r->n_hdrs == HTTP_MAX_RESPONSE_HEADERS || !header_text_valid(name, true) ||
        !header_text_valid(value, false))
        return core_error(CORE_EINVAL,
                          "http: response header '%s' refused (bad text, or more "
                          "than %d headers)",
                          name, HTTP_MAX_RESPONSE_HEADERS);
    char *n = core_strdup(CORE_MEM_HTTP, name);
    char *v = core_strdup(CORE_MEM_HTTP, value);
    if (n == NULL || v == NULL) {
        core_free(n);
        core_free(v);
        return core_error(CORE_ENOMEM, "http: out of memory");
    }
    r->hdr_names[r->n_hdrs] = n;
    r->hdr_values[r->n_hdrs++] = v;
    return 0;
}

int http_queue(http_request_t *r, int status, struct MHD_Response *resp)
{
    int rc = 0;
    for (size_t i = 0; i < r->n_hdrs && rc == 0; i++)
        if (MHD_add_response_header(resp, r->hdr_names[i], r->hdr_values[i]) != MHD_YES)
            rc = core_error(CORE_EIO, "http: cannot add header %s", r->hdr_names[i]);
    if (rc == 0 && MHD_queue_response(r->conn, (unsigned)status, resp) != MHD_YES)
        rc = core_error(CORE_EIO, "http: %s %s: the %d answer was refused", r->method, r->path,
                        status);
    MHD_destroy_response(resp);
    if (rc != 0)
        return rc;
    r->answered = true;
    http_stat_add(&r->srv->stats.responses[status / 100], 1);
    return 0;
}

/* Checks the status and that no answer was given yet. */
static int check_answer(const http_request_t *r, int status)
{
    if (r->answered)
        return core_error(CORE_EINVAL, "http: %s %s answered twice", r->method, r->path);
    if (status < 100 || status > 599)
        return core_error(CORE_EINVAL, "http: %s %s: status %d is not an HTTP status", r->method,
                          r->path, status);
    return 0;
}

static int queue_with_type(http_request_t *r, int status, const char *content_type,
                           struct MHD_Response *resp)
{
    if (resp == NULL)
        return core_error(CORE_ENOMEM, "http: out of memory for a response");
    if (content_type != NULL &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES) {
        MHD_destroy_response(resp);
        return core_error(CORE_EINVAL, "http: bad content type '%s'", content_type);
    }
    return http_queue(r, status, resp);
}

int http_respond(http_request_t *r, int status, const char *content_type, const void *body,
                 size_t len)
{
    int rc = check_answer(r, status);
    if (rc != 0)
        return rc;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    return queue_with_type(r, status, content_type, resp);
}

int http_respond_static(http_request_t *r, int status, const char *content_type, const void *body,
                        size_t len)
{
    int rc = check_answer(r, status);
    if (rc != 0)
        return rc;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    return queue_with_type(r, status, content_type, resp);
}

core_json_writer_t *http_json(http_request_t *r)
{
    if (!r->w_ready) {
        core_buf_reset(&r->out);
        core_json_writer_init(&r->w, &r->out);
        r->w_ready = true;
    }
    return &r->w;
}

static void free_block(void *p)
{
    core_free(p);
}

int http_respond_json(http_request_t *r, int status)
{
    int rc = check_answer(r, status);
    if (rc != 0)
        return rc;
    rc = r->w_ready ? core_json_writer_finish(&r->w) : CORE_EINVAL;
    if (rc != 0) {
        int code = rc;
        http_respond_error(r, 500, "%s %s: the response could not be built: %s", r->method, r->path,
                           core_strerror(code));
        return code;
    }
    size_t len = 0;
    uint8_t *body = core_buf_take(&r->out, &len);
    r->w_ready = false;
    struct MHD_Response *resp =
        body != NULL ? MHD_create_response_from_buffer_with_free_callback(len, body, free_block)
                     : NULL;
    if (resp == NULL)
        core_free(body);
    return queue_with_type(r, status, "application/json", resp);
}

/* Writes {"error": msg} into r->out. */
static int error_document(http_request_t *r, const char *msg, size_t n)
{
    r->w_ready = false;
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    core_json_write_key(w, "error", 5);
    core_json_write_string(w, msg, n);
    core_json_write_object_end(w);
    return core_json_writer_finish(w);
}

int http_respond_error(http_request_t *r, int status, const char *fmt, ...)
{
    int rc = check_answer(r, status);
    if (rc != 0)
        return rc;
    char msg[ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : CORE_MIN((size_t)n, sizeof msg - 1);
    if (!core_utf8_valid(msg, len)) /* a path or value from the client, or a cut */
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)msg[i] >= 0x80)
                msg[i] = '?';
    if (error_document(r, msg, len) == 0)
        return http_respond_json(r, status);
    r->w_ready = false;
    return http_respond(r, status, "text/plain; charset=utf-8", msg, len);
}

int http_respond_stream(http_request_t *r, int status, const char *content_type, http_stream_fn fn,
                        void (*free_fn)(void *arg), void *arg)
{
    int rc = check_answer(r, status);
    struct MHD_Response *resp = NULL;
    if (rc == 0) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, fn, arg, free_fn);
        if (resp == NULL)
            rc = core_error(CORE_ENOMEM, "http: out of memory for a response");
    }
    if (rc != 0) {
        if (free_fn != NULL)
            free_fn(arg);
        return rc;
    }
    return queue_with_type(r, status, content_type, resp);
}

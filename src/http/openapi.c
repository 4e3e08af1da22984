/*
 * openapi.c - an OpenAPI 3.0 document (JSON) served as is, and rendered
 * once, at create, into one self-contained HTML page (inline CSS, no
 * scripts, nothing fetched from elsewhere).
 *
 * What the page shows, per operation in document order: method and path,
 * summary, description, a table of parameters (path-level ones first;
 * "$ref": "#/components/parameters/NAME" resolved), the request body's
 * description and media types, and a table of responses. Every text taken
 * from the document is HTML-escaped.
 *
 * The document is also the list of operations that http_docs_check()
 * compares with a server's routes, so the two cannot drift apart unseen.
 *
 * Invariants: the document is borrowed and never changes (an embedded
 * string); the page and the operation list are built at create and
 * read-only afterwards.
 *
 * Threading: create and destroy on one thread; the routes' handlers only
 * read, from any server thread.
 */
#include "http/http.h"

#include <stdio.h>
#include <string.h>

#define HTML_MAX    (4u << 20)
#define TEXT_MAX    (64u << 10)
#define OPS_MAX     512
#define OP_TEXT_MAX 1100

struct http_docs {
    const char *doc; /* borrowed */
    size_t len;
    core_buf_t html;
    char **ops; /* "METHOD /path", owned */
    size_t nops;
};

typedef struct {
    http_docs_t *d;
    core_json_value_t root;
    core_buf_t *out;
    core_buf_t text; /* scratch for decoded strings */
    size_t index;    /* operations rendered */
} render_t;

static const char *const METHODS[] = {"get",  "put",     "post",  "delete",
                                      "head", "options", "patch", "trace"};

static const char CSS[] =
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}code{font:14px ui-monospace,monospace}.desc{white-space:pre-line}"
    "section{border-top:1px solid #ddd;padding:.5rem 0}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;"
    "padding:.2rem .5rem;text-align:left;vertical-align:top}"
    ".m{display:inline-block;min-width:4rem;font:bold 13px monospace;color:#fff;"
    "padding:.1rem .4rem;border-radius:3px;text-align:center}.get{background:#2a7}"
    ".post{background:#27c}.put,.patch{background:#c80}.delete{background:#c33}"
    ".other{background:#777}nav li{list-style:none}";

/* ---- Text. */

static int put_html(core_buf_t *out, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        switch (s[i]) {
        case '&':
            rc = core_buf_append_str(out, "&amp;");
            break;
        case '<':
            rc = core_buf_append_str(out, "&lt;");
            break;
        case '>':
            rc = core_buf_append_str(out, "&gt;");
            break;
        case '"':
            rc = core_buf_append_str(out, "&quot;");
            break;
        case '\'':
            rc = core_buf_append_str(out, "&#39;");
            break;
        case '\0':
            break; /* a decoded \u0000 */
        default:
            rc = core_buf_append_u8(out, (uint8_t)s[i]);
        }
    }
    return rc;
}

/* The decoded text of string member `key` of obj, in r->text
 * (NUL-terminated), or NULL when absent or not a string. */
static const char *member_text(render_t *r, const core_json_value_t *obj, const char *key)
{
    core_json_value_t v;
    if (obj->type != CORE_JSON_OBJECT || core_json_find(obj, key, strlen(key), &v) != 0 ||
        v.type != CORE_JSON_STRING)
        return NULL;
    core_buf_reset(&r->text);
    if (core_json_string_decode(&v, &r->text) != 0 || core_buf_append_u8(&r->text, 0) != 0)
        return NULL;
    return (const char *)r->text.data;
}

/* Writes open, the escaped text of member key (when present), close. */
static int put_member(render_t *r, const core_json_value_t *obj, const char *key, const char *open,
                      const char *close)
{
    const char *t = member_text(r, obj, key);
    if (t == NULL)
        return 0;
    int rc = core_buf_append_str(r->out, open);
    if (rc == 0)
        rc = put_html(r->out, t, strlen(t));
    if (rc == 0)
        rc = core_buf_append_str(r->out, close);
    return rc;
}

/* ---- Parameters. */

/* Follows "$ref": "#/components/parameters/NAME" (one level). */
static void resolve_ref(render_t *r, core_json_value_t *v)
{
    static const char PREFIX[] = "#/components/parameters/";
    const char *ref = member_text(r, v, "$ref");
    if (ref == NULL || strncmp(ref, PREFIX, sizeof PREFIX - 1) != 0)
        return;
    const char *name = ref + sizeof PREFIX - 1;
    core_json_value_t comps, params, target;
    if (core_json_find(&r->root, "components", 10, &comps) == 0 &&
        core_json_find(&comps, "parameters", 10, &params) == 0 &&
        core_json_find(&params, name, strlen(name), &target) == 0 &&
        target.type == CORE_JSON_OBJECT)
        *v = target;
}

static int put_param(render_t *r, core_json_value_t p)
{
    resolve_ref(r, &p);
    core_json_value_t schema, req;
    int rc = put_member(r, &p, "name", "<tr><td><code>", "</code></td>");
    if (rc == 0)
        rc = put_member(r, &p, "in", "<td>", "</td>");
    if (rc == 0)
        rc = core_buf_append_str(r->out, "<td>");
    if (rc == 0 && core_json_find(&p, "schema", 6, &schema) == 0)
        rc = put_member(r, &schema, "type", "", "");
    bool required = core_json_find(&p, "required", 8, &req) == 0 && req.type == CORE_JSON_TRUE;
    if (rc == 0)
        rc = core_buf_append_str(r->out, required ? "</td><td>yes</td><td>" : "</td><td></td><td>");
    if (rc == 0)
        rc = put_member(r, &p, "description", "", "");
    if (rc == 0)
        rc = core_buf_append_str(r->out, "</td></tr>");
    return rc;
}

/* Rows for every element of the array member "parameters" of obj. */
static int put_param_rows(render_t *r, const core_json_value_t *obj, size_t *rows)
{
    core_json_value_t arr, el;
    if (obj->type != CORE_JSON_OBJECT || core_json_find(obj, "parameters", 10, &arr) != 0 ||
        arr.type != CORE_JSON_ARRAY)
        return 0;
    core_json_iter_t it;
    int rc = core_json_iter_init(&it, arr.p, arr.len, 0, NULL);
    while (rc == 0 && (rc = core_json_array_next(&it, &el)) == 1) {
        rc = el.type == CORE_JSON_OBJECT ? put_param(r, el) : 0;
        (*rows)++;
    }
    return rc < 0 ? rc : 0;
}

static int put_params(render_t *r, const core_json_value_t *path_item, const core_json_value_t *op)
{
    size_t mark = r->out->len, rows = 0;
    int rc = core_buf_append_str(r->out, "<h3>Parameters</h3><table><tr><th>name</th><th>in</th>"
                                         "<th>type</th><th>required</th><th>description</th></tr>");
    if (rc == 0)
        rc = put_param_rows(r, path_item, &rows);
    if (rc == 0)
        rc = put_param_rows(r, op, &rows);
    if (rc == 0 && rows == 0)
        r->out->len = mark; /* no parameters: no table */
    else if (rc == 0)
        rc = core_buf_append_str(r->out, "</table>");
    return rc;
}

/* ---- Request body and responses. */

static int put_keys(render_t *r, const core_json_value_t *obj, const char *open, const char *close)
{
    core_json_iter_t it;
    core_json_value_t k, v;
    int rc = core_json_iter_init(&it, obj->p, obj->len, 0, NULL);
    while (rc == 0 && (rc = core_json_object_next(&it, &k, &v)) == 1) {
        core_buf_reset(&r->text);
        rc = core_json_string_decode(&k, &r->text);
        if (rc == 0)
            rc = core_buf_append_str(r->out, open);
        if (rc == 0)
            rc = put_html(r->out, (const char *)r->text.data, r->text.len);
        if (rc == 0)
            rc = core_buf_append_str(r->out, close);
    }
    return rc < 0 ? rc : 0;
}

static int put_body(render_t *r, const core_json_value_t *op)
{
    core_json_value_t body, content;
    if (core_json_find(op, "requestBody", 11, &body) != 0 || body.type != CORE_JSON_OBJECT)
        return 0;
    int rc = core_buf_append_str(r->out, "<h3>Request body</h3>");
    if (rc == 0)
        rc = put_member(r, &body, "description", "<p class=\"desc\">", "</p>");
    if (rc == 0 && core_json_find(&body, "content", 7, &content) == 0 &&
        content.type == CORE_JSON_OBJECT) {
        rc = core_buf_append_str(r->out, "<p>Media types:");
        if (rc == 0)
            rc = put_keys(r, &content, " <code>", "</code>");
        if (rc == 0)
            rc = core_buf_append_str(r->out, "</p>");
    }
    return rc;
}

static int put_responses(render_t *r, const core_json_value_t *op)
{
    core_json_value_t resp, k, v;
    if (core_json_find(op, "responses", 9, &resp) != 0 || resp.type != CORE_JSON_OBJECT)
        return 0;
    int rc = core_buf_append_str(r->out, "<h3>Responses</h3><table><tr><th>status</th>"
                                         "<th>description</th></tr>");
    core_json_iter_t it;
    if (rc == 0)
        rc = core_json_iter_init(&it, resp.p, resp.len, 0, NULL);
    while (rc == 0 && (rc = core_json_object_next(&it, &k, &v)) == 1) {
        core_buf_reset(&r->text);
        rc = core_json_string_decode(&k, &r->text);
        if (rc == 0)
            rc = core_buf_append_str(r->out, "<tr><td><code>");
        if (rc == 0)
            rc = put_html(r->out, (const char *)r->text.data, r->text.len);
        if (rc == 0)
            rc = core_buf_append_str(r->out, "</code></td><td>");
        if (rc == 0)
            rc = put_member(r, &v, "description", "", "");
        if (rc == 0)
            rc = core_buf_append_str(r->out, "</td></tr>");
    }
    if (rc == 0)
        rc = core_buf_append_str(r->out, "</table>");
    return rc < 0 ? rc : 0;
}

/* ---- Operations. */

static int add_op(http_docs_t *d, const char *method, const char *path, size_t path_len)
{
    if (d->nops == OPS_MAX || path_len > OP_TEXT_MAX - 20)
        return core_error(CORE_ETOOBIG, "openapi: more than %d operations, or a path too long",
                          OPS_MAX);
    char text[OP_TEXT_MAX];
    size_t m = strlen(method);
    for (size_t i = 0; i < m; i++)
        text[i] = (char)(method[i] - 'a' + 'A');
    text[m] = ' ';
    memcpy(text + m + 1, path, path_len);
    text[m + 1 + path_len] = '\0';
    char **ops = core_realloc(CORE_MEM_HTTP, d->ops, (d->nops + 1) * sizeof *ops);
    if (ops == NULL)
        return core_error(CORE_ENOMEM, "openapi: out of memory");
    d->ops = ops;
    if ((d->ops[d->nops] = core_strdup(CORE_MEM_HTTP, text)) == NULL)
        return core_error(CORE_ENOMEM, "openapi: out of memory");
    d->nops++;
    return 0;
}

static const char *method_of(const char *key, size_t n)
{
    for (size_t i = 0; i < CORE_ARRAY_LEN(METHODS); i++)
        if (strlen(METHODS[i]) == n && memcmp(METHODS[i], key, n) == 0)
            return METHODS[i];
    return NULL;
}

static int put_op(render_t *r, const char *method, const char *path, size_t plen,
                  const core_json_value_t *item, const core_json_value_t *op)
{
    bool known = strcmp(method, "get") == 0 || strcmp(method, "post") == 0 ||
                 strcmp(method, "put") == 0 || strcmp(method, "patch") == 0 ||
                 strcmp(method, "delete") == 0;
    int rc = core_buf_printf(r->out, "<section id=\"op-%zu\"><h2><span class=\"m %s\">", r->index,
                             known ? method : "other");
    for (const char *m = method; rc == 0 && *m != '\0'; m++)
        rc = core_buf_append_u8(r->out, (uint8_t)(*m - 'a' + 'A'));
    if (rc == 0)
        rc = core_buf_append_str(r->out, "</span> <code>");
    if (rc == 0)
        rc = put_html(r->out, path, plen);
    if (rc == 0)
        rc = core_buf_append_str(r->out, "</code></h2>");
    if (rc == 0)
        rc = put_member(r, op, "summary", "<p><b>", "</b></p>");
    if (rc == 0)
        rc = put_member(r, op, "description", "<p class=\"desc\">", "</p>");
    if (rc == 0)
        rc = put_params(r, item, op);
    if (rc == 0)
        rc = put_body(r, op);
    if (rc == 0)
        rc = put_responses(r, op);
    if (rc == 0)
        rc = core_buf_append_str(r->out, "</section>\n");
    r->index++;
    return rc;
}

/* Calls each operation of the document: fn(r, method, path, item, op). */
typedef int (*op_fn)(render_t *r, const char *method, const char *path, size_t plen,
                     const core_json_value_t *item, const core_json_value_t *op);

static int each_op(render_t *r, op_fn fn)
{
    core_json_value_t paths, pk, item, mk, op;
    if (core_json_find(&r->root, "paths", 5, &paths) != 0 || paths.type != CORE_JSON_OBJECT)
        return core_error(CORE_ECORRUPT, "openapi: the document has no \"paths\" object");
    core_json_iter_t it, mit;
    int rc = core_json_iter_init(&it, paths.p, paths.len, 0, NULL);
    while (rc == 0 && (rc = core_json_object_next(&it, &pk, &item)) == 1) {
        rc = 0;
        if (item.type != CORE_JSON_OBJECT || pk.escaped)
            continue; /* a path template never needs escapes */
        rc = core_json_iter_init(&mit, item.p, item.len, 0, NULL);
        while (rc == 0 && (rc = core_json_object_next(&mit, &mk, &op)) == 1) {
            const char *m = method_of(mk.p, mk.len);
            rc = m != NULL && op.type == CORE_JSON_OBJECT ? fn(r, m, pk.p, pk.len, &item, &op) : 0;
        }
        rc = rc < 0 ? rc : 0;
    }
    return rc < 0 ? rc : 0;
}

static int collect_op(render_t *r, const char *method, const char *path, size_t plen,
                      const core_json_value_t *item, const core_json_value_t *op)
{
    (void)item;
    core_buf_t *out = r->out;
    int rc = add_op(r->d, method, path, plen);
    /* The table of contents: one line per operation. */
    if (rc == 0)
        rc = core_buf_printf(out, "<li><a href=\"#op-%zu\"><code>", r->index++);
    for (const char *m = method; rc == 0 && *m != '\0'; m++)
        rc = core_buf_append_u8(out, (uint8_t)(*m - 'a' + 'A'));
    if (rc == 0)
        rc = core_buf_append_u8(out, ' ');
    if (rc == 0)
        rc = put_html(out, path, plen);
    if (rc == 0)
        rc = core_buf_append_str(out, "</code></a> ");
    if (rc == 0)
        rc = put_member(r, op, "summary", "", "");
    if (rc == 0)
        rc = core_buf_append_str(out, "</li>\n");
    return rc;
}

static int render(render_t *r)
{
    core_json_value_t info = {0};
    const char *title = NULL;
    if (core_json_find(&r->root, "info", 4, &info) == 0)
        title = member_text(r, &info, "title");
    int rc = core_buf_append_str(r->out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                                         "<meta charset=\"utf-8\"><title>");
    if (rc == 0)
        rc = put_html(r->out, title != NULL ? title : "API", title != NULL ? strlen(title) : 3);
    if (rc == 0)
        rc = core_buf_printf(r->out, "</title><style>%s</style></head><body>\n", CSS);
    if (rc == 0)
        rc = put_member(r, &info, "title", "<h1>", "</h1>");
    if (rc == 0)
        rc = put_member(r, &info, "version", "<p>Version ", "</p>");
    if (rc == 0)
        rc = put_member(r, &info, "description", "<p class=\"desc\">", "</p>");
    if (rc == 0)
        rc = core_buf_append_str(r->out, "<nav><ul>\n");
    if (rc == 0)
        rc = each_op(r, collect_op);
    r->index = 0;
    if (rc == 0)
        rc = core_buf_append_str(r->out, "</ul></nav>\n");
    if (rc == 0)
        rc = each_op(r, put_op);
    if (rc == 0)
        rc = core_buf_append_str(r->out, "</body></html>\n");
    return rc;
}

int http_docs_create(const char *doc, size_t len, http_docs_t **out)
{
    *out = NULL;
    http_docs_t *d = core_calloc(CORE_MEM_HTTP, 1, sizeof *d);
    if (d == NULL)
        return core_error(CORE_ENOMEM, "openapi: out of memory");
    d->doc = doc;
    d->len = len;
    core_buf_init(&d->html, CORE_MEM_HTTP, HTML_MAX);
    render_t r = {.d = d, .out = &d->html};
    core_buf_init(&r.text, CORE_MEM_HTTP, TEXT_MAX);
    core_json_error_t err;
    int rc = core_json_parse(doc, len, 0, &r.root, &err);
    if (rc != 0)
        rc = core_error(CORE_ECORRUPT, "openapi: the document is not JSON: byte %zu: %s",
                        err.offset, err.what);
    else if (r.root.type != CORE_JSON_OBJECT)
        rc = core_error(CORE_ECORRUPT, "openapi: the document is not a JSON object");
    if (rc == 0)
        rc = render(&r);
    if (rc == 0)
        rc = core_buf_append_u8(&d->html, 0); /* a C string too, for callers' ease */
    if (rc == 0)
        d->html.len--;
    core_buf_fini(&r.text);
    if (rc != 0) {
        http_docs_destroy(d);
        return rc;
    }
    *out = d;
    return 0;
}

void http_docs_destroy(http_docs_t *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nops; i++)
        core_free(d->ops[i]);
    core_free(d->ops);
    core_buf_fini(&d->html);
    core_free(d);
}

const char *http_docs_html(const http_docs_t *d, size_t *len)
{
    *len = d->html.len;
    return (const char *)d->html.data;
}

static int serve_json(http_request_t *r, void *arg)
{
    const http_docs_t *d = arg;
    return http_respond_static(r, 200, "application/json", d->doc, d->len);
}

static int serve_html(http_request_t *r, void *arg)
{
    const http_docs_t *d = arg;
    return http_respond_static(r, 200, "text/html; charset=utf-8", d->html.data, d->html.len);
}

int http_docs_route(http_docs_t *d, http_server_t *srv, const char *json_path,
                    const char *html_path)
{
    int rc = http_route(srv, "GET", json_path, serve_json, d);
    if (rc == 0)
        rc = http_route(srv, "GET", html_path, serve_html, d);
    return rc;
}

/* ---- The check against a server's routes. */

typedef struct {
    const http_docs_t *d;
    bool *documented; /* per operation: a route has it */
    char missing[768];
    size_t n_missing;
} check_t;

/* Appends ", text" (or "text" first) when it fits; else leaves it out. */
static void note(char *buf, size_t cap, const char *text)
{
    size_t used = strlen(buf), sep = used > 0 ? 2 : 0, n = strlen(text);
    if (used + sep + n + 1 > cap)
        return;
    memcpy(buf + used, ", ", sep);
    memcpy(buf + used + sep, text, n + 1);
}

static void visit_route(void *arg, const char *method, const char *pattern)
{
    check_t *c = arg;
    char text[OP_TEXT_MAX];
    snprintf(text, sizeof text, "%s %s", method, pattern);
    for (size_t i = 0; i < c->d->nops; i++)
        if (strcmp(c->d->ops[i], text) == 0) {
            c->documented[i] = true;
            return;
        }
    note(c->missing, sizeof c->missing, text);
    c->n_missing++;
}

int http_docs_check(const http_docs_t *d, const http_server_t *srv)
{
    check_t c = {.d = d};
    c.documented = core_calloc(CORE_MEM_HTTP, d->nops + 1, sizeof *c.documented);
    if (c.documented == NULL)
        return core_error(CORE_ENOMEM, "openapi: out of memory");
    http_server_routes(srv, visit_route, &c);
    char extra[768] = "";
    size_t n_extra = 0;
    for (size_t i = 0; i < d->nops; i++)
        if (!c.documented[i]) {
            note(extra, sizeof extra, d->ops[i]);
            n_extra++;
        }
    core_free(c.documented);
    if (c.n_missing == 0 && n_extra == 0)
        return 0;
    return core_error(CORE_EINVAL,
                      "openapi: %zu route(s) not in the document [%s]; %zu documented "
                      "operation(s) without a route [%s]",
                      c.n_missing, c.missing, n_extra, extra);
}

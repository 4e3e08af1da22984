/*
 * config.c - loads a strata config file: YAML (libyaml) into the structs of
 * config.h, driven by the key tables of config_keys.c; and the error
 * collector.
 *
 * Stages (see config.h for what each means to the user):
 *   text --libyaml events--> tree of ynode_t (line/col kept on every node)
 *        --key tables------> structs (defaults, then the file's values,
 *                            each converted by app_key_convert())
 *        --environment-----> overrides of data/store/broker/http keys
 *        --config_refs.c---> computed defaults; names, references, windows
 * No stage stops at the first error: each records what it finds with
 * app_config_error() and carries on with what it could read, so one run
 * reports everything. Only a YAML syntax error ends the tree stage, since
 * libyaml cannot resume after one.
 *
 * Invariants:
 *   - nothing outside the input's bounds is trusted: the text is capped at
 *     APP_CONFIG_MAX_BYTES, nesting at APP_CONFIG_MAX_DEPTH, nodes at
 *     APP_CONFIG_MAX_NODES, every list at its key's max, values and their
 *     ${} expansions at APP_CONFIG_MAX_SCALAR (and all expansions together
 *     at EXPAND_BUDGET), and aliases are refused (no expansion bombs);
 *   - every string in the config lives in cfg->arena; the tree and the
 *     location map live in the loader and die with it;
 *   - a struct field a key did not set holds its table default, or zero /
 *     NULL, so later stages must accept NULL names after errors.
 *
 * Threading: one loader per thread; nothing here is shared.
 */
#include "app/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#define CONFIG_ARENA_MAX (128u << 20)
#define TREE_ARENA_MAX   (64u << 20)
#define EXPAND_BUDGET    (16u << 20)
#define WHY_MAX          320
#define PATH_MAX_LEN     256

/* ------------------------------------------------------------------------
 * The error collector
 * ------------------------------------------------------------------------ */

static char *arena_strndup(core_arena_t *a, const char *s, size_t n)
{
    char *d = core_arena_alloc(a, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *arena_strdup(core_arena_t *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

/* Records one error with an explicit source (NULL = the config's name). */
static void add_error_v(app_config_t *cfg, const char *source, int line, int col, const char *fmt,
                        va_list ap) __attribute__((format(printf, 5, 0)));
static void add_error_v(app_config_t *cfg, const char *source, int line, int col, const char *fmt,
                        va_list ap)
{
    if (cfg->n_errors >= APP_CONFIG_MAX_ERRORS) {
        cfg->n_dropped++;
        return;
    }
    if (cfg->n_errors == cfg->cap_errors) {
        size_t cap = cfg->cap_errors ? cfg->cap_errors * 2 : 16;
        app_config_error_t *e = core_realloc(CORE_MEM_APP, cfg->errors, cap * sizeof *e);
        if (e == NULL) {
            cfg->n_dropped++;
            return;
        }
        cfg->errors = e;
        cfg->cap_errors = cap;
    }
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    app_config_error_t *e = &cfg->errors[cfg->n_errors++];
    e->source = source;
    e->line = line;
    e->col = col;
    e->text = arena_strdup(cfg->arena, text);
    if (e->text == NULL)
        e->text = (char *)"(out of memory while recording this error)";
}

void app_config_error(app_config_t *cfg, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error_v(cfg, NULL, line, col, fmt, ap);
    va_end(ap);
}

static void add_error_src(app_config_t *cfg, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_error_src(app_config_t *cfg, const char *source, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error_v(cfg, source, 0, 0, fmt, ap);
    va_end(ap);
}

size_t app_config_error_count(const app_config_t *cfg)
{
    return cfg->n_errors + cfg->n_dropped;
}

const app_config_error_t *app_config_error_get(const app_config_t *cfg, size_t i)
{
    return i < cfg->n_errors ? &cfg->errors[i] : NULL;
}

/* Sort key: errors without a line first, then by line, column, order. */
static bool error_before(const app_config_error_t *a, size_t ia, const app_config_error_t *b,
                         size_t ib)
{
    if (a->line != b->line)
        return a->line < b->line;
    if (a->col != b->col)
        return a->col < b->col;
    return ia < ib;
}

size_t app_config_print_errors(const app_config_t *cfg, FILE *f)
{
    size_t n = cfg->n_errors;
    size_t *order = core_calloc(CORE_MEM_APP, n ? n : 1, sizeof *order);
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        /* Insertion sort, stable; n is at most APP_CONFIG_MAX_ERRORS. */
        while (order != NULL && j > 0 &&
               error_before(&cfg->errors[i], i, &cfg->errors[order[j - 1]], order[j - 1])) {
            order[j] = order[j - 1];
            j--;
        }
        if (order != NULL)
            order[j] = i;
    }
    for (size_t i = 0; i < n; i++) {
        const app_config_error_t *e = &cfg->errors[order != NULL ? order[i] : i];
        const char *src = e->source != NULL ? e->source : cfg->name;
        if (e->line > 0 && e->col > 0)
            fprintf(f, "%s:%d:%d: %s\n", src, e->line, e->col, e->text);
        else if (e->line > 0)
            fprintf(f, "%s:%d: %s\n", src, e->line, e->text);
        else
            fprintf(f, "%s: %s\n", src, e->text);
    }
    if (cfg->n_dropped > 0)
        fprintf(f, "%s: %zu more errors not shown\n", cfg->name, cfg->n_dropped);
    core_free(order);
    return app_config_error_count(cfg);
}

/* ------------------------------------------------------------------------
 * The config object
 * ------------------------------------------------------------------------ */

static app_config_t *config_create(const char *name)
{
    app_config_t *cfg = core_calloc(CORE_MEM_APP, 1, sizeof *cfg);
    if (cfg == NULL)
        return NULL;
    cfg->arena = core_arena_create(CORE_MEM_APP, 64 * 1024, CONFIG_ARENA_MAX);
    if (cfg->arena == NULL || (cfg->name = arena_strdup(cfg->arena, name)) == NULL) {
        app_config_destroy(cfg);
        return NULL;
    }
    return cfg;
}

void app_config_destroy(app_config_t *cfg)
{
    if (cfg == NULL)
        return;
    core_free(cfg->errors);
    core_arena_destroy(cfg->arena);
    core_free(cfg);
}

static bool name_is(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

const app_topic_t *app_config_find_topic(const app_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_topics; i++)
        if (name_is(cfg->topics[i].name, name))
            return &cfg->topics[i];
    return NULL;
}

const app_schema_t *app_config_find_schema(const app_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_schemas; i++)
        if (name_is(cfg->schemas[i].name, name))
            return &cfg->schemas[i];
    return NULL;
}

const app_pipeline_t *app_config_find_pipeline(const app_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_pipelines; i++)
        if (name_is(cfg->pipelines[i].name, name))
            return &cfg->pipelines[i];
    return NULL;
}

const app_job_t *app_config_find_job(const app_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_jobs; i++)
        if (name_is(cfg->jobs[i].name, name))
            return &cfg->jobs[i];
    return NULL;
}

const app_field_t *app_schema_find_field(const app_schema_t *schema, const char *name)
{
    for (size_t i = 0; i < schema->n_fields; i++)
        if (name_is(schema->fields[i].name, name))
            return &schema->fields[i];
    return NULL;
}

/* ------------------------------------------------------------------------
 * The YAML tree
 * ------------------------------------------------------------------------ */

typedef enum { Y_SCALAR, Y_SEQ, Y_MAP } ykind_t;

typedef struct ynode ynode_t;
struct ynode {
    ykind_t kind;
    bool plain; /* a scalar written without quotes or block style */
    int line, col;
    char *text; /* scalar bytes, NUL-terminated (may hold NULs: see len) */
    size_t len;
    ynode_t *first, *last, *next; /* children; a mapping's alternate key, value */
    size_t n;                     /* number of children */
};

typedef struct {
    app_config_t *cfg;
    const char *text; /* the input, for reader-error positions */
    size_t text_len;
    core_arena_t *tree;
    size_t nodes;
    ynode_t *root;
    size_t expanded; /* bytes produced by ${} expansion so far */
    bool oom;
    char path[PATH_MAX_LEN];
    size_t path_len;
} loader_t;

static void oom(loader_t *L)
{
    if (!L->oom)
        app_config_error(L->cfg, 0, 0, "out of memory while loading the config");
    L->oom = true;
}

static const char *kind_name(const ynode_t *n)
{
    if (n->kind == Y_MAP)
        return "a mapping";
    if (n->kind == Y_SEQ)
        return "a list";
    return "a scalar";
}

/* Line and column (1-based) of byte `off` of the input. */
static void offset_position(const loader_t *L, size_t off, int *line, int *col)
{
    int l = 1, c = 1;
    for (size_t i = 0; i < off && i < L->text_len; i++) {
        if (L->text[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static void syntax_error(loader_t *L, const yaml_parser_t *p)
{
    int line, col;
    if (p->error == YAML_MEMORY_ERROR) {
        oom(L);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        offset_position(L, p->problem_offset, &line, &col);
    } else {
        line = (int)p->problem_mark.line + 1;
        col = (int)p->problem_mark.column + 1;
    }
    const char *problem = p->problem != NULL ? p->problem : "malformed input";
    if (p->context != NULL)
        app_config_error(L->cfg, line, col, "invalid YAML: %s (%s that starts at line %d)", problem,
                         p->context, (int)p->context_mark.line + 1);
    else
        app_config_error(L->cfg, line, col, "invalid YAML: %s", problem);
}

static ynode_t *node_new(loader_t *L, ykind_t kind, const yaml_mark_t *mark)
{
    if (++L->nodes > APP_CONFIG_MAX_NODES) {
        app_config_error(L->cfg, (int)mark->line + 1, (int)mark->column + 1,
                         "the config has more than %d values", APP_CONFIG_MAX_NODES);
        return NULL;
    }
    ynode_t *n = core_arena_alloc(L->tree, sizeof *n);
    if (n == NULL) {
        oom(L);
        return NULL;
    }
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = (int)mark->line + 1;
    n->col = (int)mark->column + 1;
    return n;
}

static void node_add(ynode_t *parent, ynode_t *child)
{
    if (parent->last != NULL)
        parent->last->next = child;
    else
        parent->first = child;
    parent->last = child;
    parent->n++;
}

typedef struct {
    ynode_t *stack[APP_CONFIG_MAX_DEPTH];
    int depth;
    int documents;
    bool failed; /* the tree is incomplete: do not parse it */
} builder_t;

/* Adds a new node under the top of the stack (or as the root). */
static bool attach(loader_t *L, builder_t *b, ynode_t *n)
{
    if (n == NULL) {
        b->failed = true;
        return false;
    }
    if (b->depth == 0)
        L->root = n;
    else
        node_add(b->stack[b->depth - 1], n);
    return true;
}

static bool on_scalar(loader_t *L, builder_t *b, const yaml_event_t *ev)
{
    ynode_t *n = node_new(L, Y_SCALAR, &ev->start_mark);
    if (n != NULL) {
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->text = arena_strndup(L->tree, (const char *)ev->data.scalar.value, n->len);
        if (n->text == NULL) {
            oom(L);
            n = NULL;
        }
    }
    return attach(L, b, n);
}

static bool on_open(loader_t *L, builder_t *b, const yaml_event_t *ev, ykind_t kind)
{
    if (b->depth == APP_CONFIG_MAX_DEPTH) {
        app_config_error(L->cfg, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                         "the config nests deeper than %d levels", APP_CONFIG_MAX_DEPTH);
        b->failed = true;
        return false;
    }
    ynode_t *n = node_new(L, kind, &ev->start_mark);
    if (!attach(L, b, n))
        return false;
    b->stack[b->depth++] = n;
    return true;
}

/* An alias is refused (no expansion bombs, and a config has no need for
 * one); a null stands in for it so the rest of the file is still checked. */
static bool on_alias(loader_t *L, builder_t *b, const yaml_event_t *ev)
{
    app_config_error(L->cfg, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                     "aliases (*%.64s) are not supported; write the value out",
                     (const char *)ev->data.alias.anchor);
    ynode_t *n = node_new(L, Y_SCALAR, &ev->start_mark);
    if (n != NULL) {
        n->plain = true;
        if ((n->text = arena_strndup(L->tree, "", 0)) == NULL) {
            oom(L);
            n = NULL;
        }
    }
    return attach(L, b, n);
}

/* Handles one event; returns false to stop (error or end of stream). */
static bool on_event(loader_t *L, builder_t *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1) {
            app_config_error(L->cfg, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
                             "a config file holds one YAML document; remove this '---'");
            b->failed = true;
            return false;
        }
        return true;
    case YAML_ALIAS_EVENT:
        return on_alias(L, b, ev);
    case YAML_SCALAR_EVENT:
        return on_scalar(L, b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_open(L, b, ev, Y_SEQ);
    case YAML_MAPPING_START_EVENT:
        return on_open(L, b, ev, Y_MAP);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0)
            b->depth--;
        return true;
    case YAML_STREAM_END_EVENT:
        return false;
    default:
        return true;
    }
}

/* Builds L->root from the text. Returns 0 (aliases may have been
 * reported), CORE_EINVAL after recording why the tree is incomplete
 * (syntax error, a cap), or CORE_ENOMEM. */
static int build_tree(loader_t *L)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        oom(L);
        return CORE_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)L->text, L->text_len);
    builder_t b = {.depth = 0};
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            syntax_error(L, &p);
            b.failed = true;
            break;
        }
        bool go_on = on_event(L, &b, &ev);
        yaml_event_delete(&ev);
        if (!go_on)
            break;
    }
    yaml_parser_delete(&p);
    if (L->oom)
        return CORE_ENOMEM;
    return b.failed ? CORE_EINVAL : 0;
}

/* ------------------------------------------------------------------------
 * Loader helpers: key paths, locations, errors with paths, suggestions
 * ------------------------------------------------------------------------ */

static size_t path_push_key(loader_t *L, const char *key)
{
    size_t old = L->path_len;
    int n = snprintf(L->path + old, sizeof L->path - old, "%s%s", old ? "." : "", key);
    if (n > 0)
        L->path_len = CORE_MIN(old + (size_t)n, sizeof L->path - 1);
    return old;
}

static size_t path_push_index(loader_t *L, size_t i)
{
    size_t old = L->path_len;
    int n = snprintf(L->path + old, sizeof L->path - old, "[%zu]", i);
    if (n > 0)
        L->path_len = CORE_MIN(old + (size_t)n, sizeof L->path - 1);
    return old;
}

static void path_pop(loader_t *L, size_t old)
{
    L->path_len = old;
    L->path[old] = '\0';
}

static void err_at(loader_t *L, const ynode_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_at(loader_t *L, const ynode_t *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L->path_len > 0)
        app_config_error(L->cfg, n->line, n->col, "%s: %s", L->path, msg);
    else
        app_config_error(L->cfg, n->line, n->col, "%s", msg);
}

static void loc_set(loader_t *L, const void *field, int line, int col)
{
    uint64_t v = (uint64_t)(uint32_t)line << 32 | (uint32_t)col;
    if (core_map_put(L->cfg->locs, &field, sizeof field, (void *)(uintptr_t)v, NULL) != 0)
        oom(L);
}

void app_config_value_pos(const app_config_t *cfg, const void *field, int fallback, int *line,
                          int *col)
{
    void *v = NULL;
    if (cfg->locs != NULL && core_map_get(cfg->locs, &field, sizeof field, &v)) {
        uint64_t u = (uint64_t)(uintptr_t)v;
        *line = (int)(u >> 32);
        *col = (int)(u & 0xffffffffu);
    } else {
        *line = fallback;
        *col = 0;
    }
}

/* Edit distance counting a swap of neighbours as one edit (optimal string
 * alignment), so "dri" is one edit from "dir". Words over 40 bytes are
 * never close. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return SIZE_MAX;
    size_t rows[3][41]; /* row i lives in rows[i % 3] */
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3], *prev = rows[(i + 2) % 3], *prev2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t d = CORE_MIN(CORE_MIN(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d = CORE_MIN(d, prev2[j - 2] + 1);
            cur[j] = d;
        }
    }
    return rows[la % 3][lb];
}

void app_suggest_consider(app_suggest_t *s, const char *cand)
{
    if (cand == NULL)
        return;
    size_t d = edit_distance(s->word, cand);
    size_t limit = CORE_MAX((size_t)1, strlen(s->word) / 3);
    if (d > 0 && d <= limit && (s->best == NULL || d < s->dist)) {
        s->best = cand;
        s->dist = d;
    }
}

const char *app_suggest_text(const app_suggest_t *s, char *buf, size_t cap)
{
    if (s->best == NULL)
        return "";
    snprintf(buf, cap, " (did you mean '%s'?)", s->best);
    return buf;
}

/* ------------------------------------------------------------------------
 * Scalars: null, ${} expansion
 * ------------------------------------------------------------------------ */

static bool is_null(const ynode_t *n)
{
    if (n->kind != Y_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

/* Expands one ${NAME} or ${NAME:default} starting at s[i] == '$'. Returns
 * the index after it, or 0 after reporting an error. */
static size_t expand_ref(loader_t *L, const ynode_t *n, size_t i, core_buf_t *out)
{
    const char *s = n->text;
    int col = n->plain ? n->col + (int)i : n->col;
    const char *close = memchr(s + i, '}', n->len - i);
    if (close == NULL) {
        app_config_error(L->cfg, n->line, col, "%s: '${' without a closing '}'", L->path);
        return 0;
    }
    size_t start = i + 2, end = (size_t)(close - s), name_end = start;
    while (name_end < end && s[name_end] != ':')
        name_end++;
    bool name_ok = name_end > start && !(s[start] >= '0' && s[start] <= '9');
    for (size_t k = start; k < name_end; k++)
        if (!((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= 'a' && s[k] <= 'z') ||
              (s[k] >= '0' && s[k] <= '9') || s[k] == '_'))
            name_ok = false;
    char name[128];
    if (!name_ok || name_end - start >= sizeof name) {
        app_config_error(L->cfg, n->line, col, "%s: invalid variable reference '%.*s'", L->path,
                         (int)CORE_MIN(end - i + 1, 64), s + i);
        return 0;
    }
    memcpy(name, s + start, name_end - start);
    name[name_end - start] = '\0';
    const char *v = getenv(name);
    bool has_default = name_end < end;
    int rc = 0;
    if (v != NULL && (v[0] != '\0' || !has_default))
        rc = core_buf_append_str(out, v);
    else if (has_default)
        rc = core_buf_append(out, s + name_end + 1, end - name_end - 1);
    else {
        app_config_error(L->cfg, n->line, col,
                         "%s: environment variable '%s' is not set (write ${%s:default} to give a "
                         "default)",
                         L->path, name, name);
        return 0;
    }
    if (rc != 0) {
        app_config_error(L->cfg, n->line, col,
                         "%s: value longer than %u bytes after expanding '${%s}'", L->path,
                         APP_CONFIG_MAX_SCALAR, name);
        return 0;
    }
    return end + 1;
}

/* The text of scalar n with ${...} expanded ("$${" stands for a literal
 * "${"); NULL after reporting an error. */
static const char *scalar_text(loader_t *L, const ynode_t *n)
{
    if (memchr(n->text, '\0', n->len) != NULL) {
        err_at(L, n, "value contains a NUL byte");
        return NULL;
    }
    if (strchr(n->text, '$') == NULL || strstr(n->text, "${") == NULL) {
        if (n->len > APP_CONFIG_MAX_SCALAR) {
            err_at(L, n, "value longer than %u bytes", APP_CONFIG_MAX_SCALAR);
            return NULL;
        }
        return n->text;
    }
    core_buf_t out;
    core_buf_init(&out, CORE_MEM_APP, APP_CONFIG_MAX_SCALAR);
    const char *result = NULL;
    size_t i = 0;
    while (i < n->len) {
        if (n->text[i] == '$' && n->text[i + 1] == '$' && n->text[i + 2] == '{') {
            if (core_buf_append(&out, "${", 2) != 0)
                break;
            i += 3;
        } else if (n->text[i] == '$' && n->text[i + 1] == '{') {
            if ((i = expand_ref(L, n, i, &out)) == 0)
                goto out;
        } else if (core_buf_append_u8(&out, (uint8_t)n->text[i++]) != 0) {
            break;
        }
    }
    if (i < n->len) {
        err_at(L, n, "value longer than %u bytes", APP_CONFIG_MAX_SCALAR);
        goto out;
    }
    L->expanded += out.len;
    if (L->expanded > EXPAND_BUDGET) {
        err_at(L, n, "${} expansions exceed %u bytes in all", EXPAND_BUDGET);
        goto out;
    }
    result = arena_strndup(L->tree, out.len ? (const char *)out.data : "", out.len);
    if (result == NULL)
        oom(L);
out:
    core_buf_fini(&out);
    return result;
}

/* ------------------------------------------------------------------------
 * Table-driven parsing
 * ------------------------------------------------------------------------ */

static void *at(void *base, size_t off)
{
    return (char *)base + off - 1;
}

static bool applies(unsigned mask, int variant)
{
    return mask == 0 || variant < 0 || (mask & APP_VAR(variant)) != 0;
}

static void apply_defaults(loader_t *L, const app_section_t *sec, void *base, int variant)
{
    char text[WHY_MAX];
    for (size_t i = 0; i < sec->n_keys; i++) {
        const app_key_t *k = &sec->keys[i];
        if (!applies(k->variants, variant))
            continue;
        if (variant >= 0 && strcmp(k->name, sec->discriminator) == 0)
            continue; /* already read: it chose the variant */
        if (k->type == APP_KEY_SECTION)
            apply_defaults(L, k->section, base, -1);
        else if (k->def != NULL && !app_key_convert(L->cfg->arena, k, k->type, k->def,
                                                    at(base, k->off), text, sizeof text))
            app_config_error(L->cfg, 0, 0, "internal: default of %s: %s", k->name, text);
    }
}

static void parse_section(loader_t *L, const app_section_t *sec, const ynode_t *map, void *base);

/* A scalar key: expand, convert, store, remember where it came from. */
static void parse_scalar(loader_t *L, const app_key_t *k, const ynode_t *v, void *base)
{
    if (v->kind != Y_SCALAR) {
        err_at(L, v, "expected a %s value, got %s", k->type == APP_KEY_ENUM ? "single" : "scalar",
               kind_name(v));
        return;
    }
    const char *s = scalar_text(L, v);
    if (s == NULL)
        return;
    char text[WHY_MAX];
    void *dst = at(base, k->off);
    if (!app_key_convert(L->cfg->arena, k, k->type, s, dst, text, sizeof text)) {
        err_at(L, v, "%s", text);
        return;
    }
    loc_set(L, dst, v->line, v->col);
    if (k->off2)
        *(bool *)at(base, k->off2) = true;
    if (k->line_off)
        *(int *)at(base, k->line_off) = v->line;
}

/* Checks a list's length against the key's bounds; returns how many
 * entries to read (at most max). */
static size_t list_length(loader_t *L, const app_key_t *k, const ynode_t *v, size_t n)
{
    if (k->max > 0 && n > (size_t)k->max) {
        err_at(L, v, "too many entries: %zu (at most %lld)", n, (long long)k->max);
        return (size_t)k->max;
    }
    if (n < (size_t)k->min)
        err_at(L, v, "needs at least %lld %s", (long long)k->min,
               k->min == 1 ? "entry" : "entries");
    return n;
}

static void *arena_zalloc(loader_t *L, size_t n)
{
    void *p = core_arena_alloc(L->cfg->arena, n ? n : 1);
    if (p == NULL)
        oom(L);
    else
        memset(p, 0, n ? n : 1);
    return p;
}

/* A sequence of scalars into a char * array. */
static void parse_list(loader_t *L, const app_key_t *k, const ynode_t *v, void *base)
{
    if (v->kind != Y_SEQ) {
        err_at(L, v, "expected a list such as [a, b], got %s", kind_name(v));
        return;
    }
    size_t n = list_length(L, k, v, v->n);
    char **items = arena_zalloc(L, n * sizeof *items);
    if (items == NULL)
        return;
    char text[WHY_MAX];
    const ynode_t *e = v->first;
    /* A bad entry stays as NULL, so the list keeps its length and later
     * checks neither see it nor take an empty list for a missing one. */
    for (size_t i = 0; i < n; i++, e = e->next) {
        size_t old = path_push_index(L, i);
        const char *s = e->kind == Y_SCALAR ? scalar_text(L, e) : NULL;
        if (e->kind != Y_SCALAR)
            err_at(L, e, "expected a scalar value, got %s", kind_name(e));
        else if (s != NULL &&
                 !app_key_convert(L->cfg->arena, k, k->elem, s, &items[i], text, sizeof text))
            err_at(L, e, "%s", text);
        else if (s != NULL)
            loc_set(L, &items[i], e->line, e->col);
        path_pop(L, old);
    }
    *(char ***)at(base, k->off) = items;
    *(size_t *)at(base, k->off2) = n;
}

/* A sequence of mappings, each an item of k->section. */
static void parse_items(loader_t *L, const app_key_t *k, const ynode_t *v, void *base)
{
    if (v->kind != Y_SEQ) {
        err_at(L, v, "expected a list of mappings (lines starting with '- '), got %s",
               kind_name(v));
        return;
    }
    const app_section_t *sec = k->section;
    size_t n = list_length(L, k, v, v->n);
    char *items = arena_zalloc(L, n * sec->item_size);
    if (items == NULL)
        return;
    const ynode_t *e = v->first;
    for (size_t i = 0; i < n; i++, e = e->next) {
        void *item = items + i * sec->item_size;
        size_t old = path_push_index(L, i);
        if (sec->line_off)
            *(int *)at(item, sec->line_off) = e->line;
        if (e->kind != Y_MAP) {
            apply_defaults(L, sec, item, -1);
            err_at(L, e, "expected a mapping (key: value), got %s", kind_name(e));
        } else {
            parse_section(L, sec, e, item);
        }
        path_pop(L, old);
    }
    *(void **)at(base, k->off) = items;
    *(size_t *)at(base, k->off2) = n;
}

/* Splits "fn(args)" into the function and the trimmed argument text,
 * checking only the outer shape and that parentheses balance outside
 * quotes; the expression itself is compiled later by stream/. */
static bool split_aggregate(const char *s, app_agg_fn_t *fn, const char **arg, size_t *arg_len,
                            app_why_t *w)
{
    const char *p = s, *end = s + strlen(s);
    while (*p == ' ' || *p == '\t')
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    const char *name = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '_')
        p++;
    size_t name_len = (size_t)(p - name);
    while (*p == ' ')
        p++;
    if (name_len == 0 || *p != '(' || end <= p + 1 || end[-1] != ')')
        return app_why(w, "expected fn(expression), got '%.64s'", s);
    int found = -1;
    for (int i = 0; i <= APP_AGG_STDDEV; i++) {
        const char *fname = app_agg_fn_name((app_agg_fn_t)i);
        if (strlen(fname) == name_len && memcmp(fname, name, name_len) == 0)
            found = i;
    }
    if (found < 0)
        return app_why(w,
                       "unknown aggregate function '%.*s' (expected count, sum, min, max, avg, "
                       "first, last or stddev)",
                       (int)CORE_MIN(name_len, 64), name);
    const char *a = p + 1, *b = end - 1;
    int depth = 0;
    char quote = 0;
    for (const char *q = a; q < b && depth >= 0; q++) {
        if (quote != 0)
            quote = *q == quote ? 0 : quote;
        else if (*q == '\'' || *q == '"')
            quote = *q;
        else
            depth += *q == '(' ? 1 : *q == ')' ? -1 : 0;
    }
    if (depth != 0 || quote != 0)
        return app_why(w, "unbalanced parentheses or quotes in '%.64s'", s);
    while (a < b && (*a == ' ' || *a == '\t'))
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
    if (a == b && found != APP_AGG_COUNT)
        return app_why(w, "%s() needs an argument, as in %s(price)", app_agg_fn_name(found),
                       app_agg_fn_name(found));
    *fn = (app_agg_fn_t)found;
    *arg = a;
    *arg_len = (size_t)(b - a);
    return true;
}

static void parse_one_aggregate(loader_t *L, const ynode_t *key, const ynode_t *v,
                                app_aggregate_t *agg)
{
    char text[WHY_MAX];
    app_why_t w = {text, sizeof text};
    agg->line = v->line;
    agg->col = v->col;
    if (!app_ident_valid(key->text)) {
        err_at(L, key, "invalid output name '%.64s' (lower case: [a-z_][a-z0-9_]{0,62})",
               key->text);
        return;
    }
    agg->name = arena_strdup(L->cfg->arena, key->text);
    if (v->kind != Y_SCALAR || is_null(v)) {
        err_at(L, v, "expected fn(expression) such as max(price), got %s",
               v->kind == Y_SCALAR ? "nothing" : kind_name(v));
        return;
    }
    const char *s = scalar_text(L, v);
    const char *arg = NULL;
    size_t arg_len = 0;
    if (s == NULL)
        return;
    if (!split_aggregate(s, &agg->fn, &arg, &arg_len, &w)) {
        err_at(L, v, "%s", text);
        return;
    }
    agg->arg = arena_strndup(L->cfg->arena, arg, arg_len);
    if (agg->name == NULL || agg->arg == NULL)
        oom(L);
}

/* A mapping of output name -> "fn(args)", in file order. */
static void parse_aggregates(loader_t *L, const app_key_t *k, const ynode_t *v, void *base)
{
    if (v->kind != Y_MAP) {
        err_at(L, v, "expected a mapping of name: fn(expression), got %s", kind_name(v));
        return;
    }
    size_t n = list_length(L, k, v, v->n / 2);
    app_aggregate_t *aggs = arena_zalloc(L, n * sizeof *aggs);
    if (aggs == NULL)
        return;
    const ynode_t *key = v->first;
    for (size_t i = 0; i < n; i++, key = key->next->next) {
        const ynode_t *val = key->next;
        if (key->kind != Y_SCALAR) {
            err_at(L, key, "a key must be a name, not %s", kind_name(key));
            continue;
        }
        size_t old = path_push_key(L, key->text);
        for (size_t j = 0; j < i; j++)
            if (name_is(aggs[j].name, key->text))
                err_at(L, key, "duplicate output name (first at line %d)", aggs[j].line);
        parse_one_aggregate(L, key, val, &aggs[i]);
        path_pop(L, old);
    }
    *(app_aggregate_t **)at(base, k->off) = aggs;
    *(size_t *)at(base, k->off2) = n;
}

static void parse_value(loader_t *L, const app_key_t *k, const ynode_t *v, void *base)
{
    switch (k->type) {
    case APP_KEY_SECTION:
        parse_section(L, k->section, v, base);
        if (k->off2 && v->kind == Y_MAP)
            *(bool *)at(base, k->off2) = true;
        break;
    case APP_KEY_ITEMS:
        parse_items(L, k, v, base);
        break;
    case APP_KEY_LIST:
        parse_list(L, k, v, base);
        break;
    case APP_KEY_AGGREGATES:
        parse_aggregates(L, k, v, base);
        break;
    default:
        parse_scalar(L, k, v, base);
        break;
    }
}

static int find_key(const app_section_t *sec, const char *name)
{
    for (size_t i = 0; i < sec->n_keys; i++)
        if (strcmp(sec->keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Reads the section's discriminator (if any) first: it decides which
 * other keys apply. Returns the variant, or -1 when unknown. */
static int parse_variant(loader_t *L, const app_section_t *sec, const ynode_t *map, void *base)
{
    if (sec->discriminator == NULL)
        return -1;
    const app_key_t *k = &sec->keys[find_key(sec, sec->discriminator)];
    int errors = (int)app_config_error_count(L->cfg);
    for (const ynode_t *key = map->first; key != NULL && key->next != NULL; key = key->next->next) {
        if (key->kind != Y_SCALAR || strcmp(key->text, k->name) != 0 || is_null(key->next))
            continue;
        size_t old = path_push_key(L, k->name);
        parse_scalar(L, k, key->next, base);
        path_pop(L, old);
        if ((int)app_config_error_count(L->cfg) != errors)
            return -1;
        return *(int *)at(base, k->off);
    }
    return -1;
}

static void report_unknown_key(loader_t *L, const app_section_t *sec, const ynode_t *key)
{
    app_suggest_t s = {.word = key->text};
    for (size_t i = 0; i < sec->n_keys; i++)
        app_suggest_consider(&s, sec->keys[i].name);
    char hint[128];
    err_at(L, key, "unknown key '%.64s'%s", key->text, app_suggest_text(&s, hint, sizeof hint));
}

/* Names the variants of mask, for "needed when kind is aggregate". */
static void variants_text(const app_section_t *sec, unsigned mask, char *out, size_t cap)
{
    const app_key_t *d = &sec->keys[find_key(sec, sec->discriminator)];
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; d->choices[i] != NULL; i++) {
        if (!(mask & APP_VAR(i)))
            continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? " or " : "", d->choices[i]);
        if (n > 0)
            used = CORE_MIN(used + (size_t)n, cap - 1);
    }
}

static void check_required(loader_t *L, const app_section_t *sec, const ynode_t *map, int variant,
                           uint64_t given)
{
    for (size_t i = 0; i < sec->n_keys; i++) {
        const app_key_t *k = &sec->keys[i];
        if ((given & (1ull << i)) || k->required == 0)
            continue;
        if (k->required == APP_VAR_ALL) {
            err_at(L, map, "missing required key '%s'", k->name);
        } else if (variant >= 0 && (k->required & APP_VAR(variant))) {
            char which[128];
            variants_text(sec, APP_VAR(variant), which, sizeof which);
            err_at(L, map, "missing required key '%s' (needed when %s is %s)", k->name,
                   sec->discriminator, which);
        }
    }
}

typedef struct {
    int variant;
    uint64_t seen;  /* keys written, for duplicates */
    uint64_t given; /* keys with a non-null value, for required ones */
    int first[APP_MAX_SECTION];
} pairs_t;

/* Reads one key: value pair of a section. */
static void parse_pair(loader_t *L, const app_section_t *sec, const ynode_t *key, const ynode_t *v,
                       void *base, pairs_t *st)
{
    if (key->kind != Y_SCALAR) {
        err_at(L, key, "a key must be a name, not %s", kind_name(key));
        return;
    }
    int i = find_key(sec, key->text);
    if (i < 0) {
        report_unknown_key(L, sec, key);
        return;
    }
    const app_key_t *k = &sec->keys[i];
    bool discriminator = sec->discriminator && strcmp(k->name, sec->discriminator) == 0;
    size_t old = path_push_key(L, k->name);
    if (st->seen & (1ull << i)) {
        err_at(L, key, "duplicate key (first given at line %d)", st->first[i]);
    } else if (!applies(k->variants, st->variant)) {
        char which[128];
        variants_text(sec, APP_VAR(st->variant), which, sizeof which);
        err_at(L, key, "key does not apply when %s is %s", sec->discriminator, which);
    } else if (!is_null(v) && !discriminator) {
        parse_value(L, k, v, base);
    }
    if (!(st->seen & (1ull << i))) {
        st->first[i] = key->line;
        st->seen |= 1ull << i;
        if (!is_null(v))
            st->given |= 1ull << i;
    }
    path_pop(L, old);
}

static void parse_section(loader_t *L, const app_section_t *sec, const ynode_t *map, void *base)
{
    if (is_null(map)) {
        apply_defaults(L, sec, base, -1);
        check_required(L, sec, map, -1, 0);
        return;
    }
    if (map->kind != Y_MAP) {
        apply_defaults(L, sec, base, -1);
        err_at(L, map, "expected a mapping (key: value), got %s", kind_name(map));
        return;
    }
    pairs_t st = {.variant = parse_variant(L, sec, map, base)};
    apply_defaults(L, sec, base, st.variant);
    for (const ynode_t *key = map->first; key != NULL && key->next != NULL; key = key->next->next)
        parse_pair(L, sec, key, key->next, base, &st);
    check_required(L, sec, map, st.variant, st.given);
}

/* ------------------------------------------------------------------------
 * Environment overrides and loading
 * ------------------------------------------------------------------------ */

static bool is_scalar_type(app_key_type_t t)
{
    return t != APP_KEY_LIST && t != APP_KEY_SECTION && t != APP_KEY_ITEMS &&
           t != APP_KEY_AGGREGATES;
}

/* STRATA_<SECTION>_<KEY>, upper case. */
static void env_name(const char *section, const char *key, char *out, size_t cap)
{
    int n = snprintf(out, cap, "STRATA_%s_%s", section, key);
    for (int i = 0; i < n && (size_t)i < cap; i++)
        if (out[i] >= 'a' && out[i] <= 'z')
            out[i] = (char)(out[i] - 32);
}

/* One env-enabled section: each scalar key whose variable is set and not
 * empty takes its value, converted by the same table entry as the file's. */
static void apply_env_section(loader_t *L, const app_section_t *sec)
{
    for (size_t j = 0; j < sec->n_keys; j++) {
        const app_key_t *k = &sec->keys[j];
        char name[96], why[WHY_MAX];
        if (!is_scalar_type(k->type))
            continue;
        env_name(sec->name, k->name, name, sizeof name);
        const char *v = getenv(name);
        if (v == NULL || v[0] == '\0')
            continue;
        void *dst = at(L->cfg, k->off);
        if (!app_key_convert(L->cfg->arena, k, k->type, v, dst, why, sizeof why)) {
            char source[100];
            snprintf(source, sizeof source, "$%s", name);
            const char *src = arena_strdup(L->cfg->arena, source);
            add_error_src(L->cfg, src != NULL ? src : "$STRATA_", "%s.%s: %s", sec->name, k->name,
                          why);
            continue;
        }
        core_map_del(L->cfg->locs, &dst, sizeof dst, NULL);
        if (k->off2)
            *(bool *)at(L->cfg, k->off2) = true;
    }
}

static void apply_env(loader_t *L)
{
    const app_section_t *root = app_config_root();
    for (size_t i = 0; i < root->n_keys; i++) {
        const app_key_t *k = &root->keys[i];
        if (k->type == APP_KEY_SECTION && k->section->env)
            apply_env_section(L, k->section);
    }
}

static void parse_root(loader_t *L)
{
    const app_section_t *root = app_config_root();
    if (L->root == NULL || is_null(L->root)) {
        apply_defaults(L, root, L->cfg, -1);
    } else if (L->root->kind != Y_MAP) {
        apply_defaults(L, root, L->cfg, -1);
        err_at(L, L->root,
               "a config is a mapping of sections (data, store, broker, http, topics, schemas, "
               "pipelines), not %s",
               kind_name(L->root));
    } else {
        parse_section(L, root, L->root, L->cfg);
    }
}

/* Runs every stage on text[0..len). Returns 0, CORE_EINVAL (errors are in
 * cfg) or CORE_ENOMEM. */
static int load_text(app_config_t *cfg, const char *text, size_t len)
{
    loader_t L = {.cfg = cfg, .text = text, .text_len = len};
    int rc;
    L.tree = core_arena_create(CORE_MEM_APP, 64 * 1024, TREE_ARENA_MAX);
    cfg->locs = core_map_create(CORE_MEM_APP, 256);
    if (L.tree == NULL || cfg->locs == NULL) {
        oom(&L);
        goto out;
    }
    rc = build_tree(&L);
    if (rc == 0) {
        parse_root(&L);
        apply_env(&L);
        if (!L.oom)
            app_config_check_refs(cfg);
    } else if (rc == CORE_EINVAL) {
        /* The tree is incomplete: report only why, but leave the
         * structs at their defaults rather than half-filled. */
        apply_defaults(&L, app_config_root(), cfg, -1);
    }
out:
    core_map_destroy(cfg->locs);
    cfg->locs = NULL;
    core_arena_destroy(L.tree);
    if (L.oom)
        return core_error(CORE_ENOMEM, "%s: out of memory while loading", cfg->name);
    if (app_config_error_count(cfg) > 0)
        return core_error(CORE_EINVAL, "%s: %zu errors in the config", cfg->name,
                          app_config_error_count(cfg));
    return 0;
}

int app_config_load_string(const char *name, const char *text, size_t len, app_config_t **out)
{
    *out = NULL;
    app_config_t *cfg = config_create(name != NULL ? name : "<string>");
    if (cfg == NULL)
        return core_error(CORE_ENOMEM, "out of memory creating a config");
    *out = cfg;
    if (len > APP_CONFIG_MAX_BYTES) {
        app_config_error(cfg, 0, 0, "the config is %zu bytes; the limit is %u bytes (4 MiB)", len,
                         APP_CONFIG_MAX_BYTES);
        return core_error(CORE_ETOOBIG, "%s: config larger than %u bytes", cfg->name,
                          APP_CONFIG_MAX_BYTES);
    }
    return load_text(cfg, text != NULL ? text : "", text != NULL ? len : 0);
}

/* Reads the whole file into b (capped). Returns 0 or a code, after
 * recording the error in cfg. */
static int read_file(app_config_t *cfg, const char *path, core_buf_t *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        app_config_error(cfg, 0, 0, "cannot open the config: %s", strerror(err));
        return core_error(err == ENOENT ? CORE_ENOENT : CORE_EIO, "%s: %s", path, strerror(err));
    }
    int rc = 0;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            app_config_error(cfg, 0, 0, "cannot read the config: %s", strerror(err));
            rc = core_error(CORE_EIO, "%s: %s", path, strerror(err));
            break;
        }
        if (n == 0)
            break;
        rc = core_buf_append(b, chunk, (size_t)n);
        if (rc == CORE_ETOOBIG) {
            app_config_error(cfg, 0, 0, "the config is larger than %u bytes (4 MiB)",
                             APP_CONFIG_MAX_BYTES);
            rc = core_error(CORE_ETOOBIG, "%s: larger than %u bytes", path, APP_CONFIG_MAX_BYTES);
            break;
        }
        if (rc != 0) {
            app_config_error(cfg, 0, 0, "out of memory reading the config");
            break;
        }
    }
    close(fd);
    return rc;
}

int app_config_load(const char *path, app_config_t **out)
{
    *out = NULL;
    app_config_t *cfg = config_create(path);
    if (cfg == NULL)
        return core_error(CORE_ENOMEM, "out of memory creating a config");
    *out = cfg;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_APP, APP_CONFIG_MAX_BYTES);
    int rc = read_file(cfg, path, &b);
    if (rc == 0)
        rc = load_text(cfg, b.len ? (const char *)b.data : "", b.len);
    core_buf_fini(&b);
    return rc;
}

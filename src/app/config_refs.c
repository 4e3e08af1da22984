/*
 * config_refs.c - the checks that span more than one key of a config, run
 * once by the loader after parsing and the environment overrides:
 *
 *   - computed defaults: store.url from data.dir; a pipeline's schema from
 *     its topic; view and table names from the pipeline name; an archive's
 *     lake_dir from data.dir;
 *   - unique names: topics, schemas, pipelines, the fields and rules of a
 *     schema, the rules of a detect pipeline, and the views and tables
 *     pipelines write (one namespace: they are all store tables);
 *   - references: topic.schema, pipeline.topic and pipeline.schema name
 *     things that exist; event_time, primary_key, columns and zscore
 *     fields name fields of the pipeline's schema, of the right type;
 *   - output names: identifiers, not reserved (dlq, anomalies, jobs,
 *     job_runs, strata_*); without `columns`, every field of a table or
 *     cdc pipeline's schema becomes a column and must be an identifier;
 *   - window shapes: a hopping window's size is a multiple of its slide;
 *   - archives: no schema field named like the archive's own columns, no
 *     event_time with partition_by: arrival, no two archives of one topic
 *     into one lake_dir, and no two uploading one topic (same keys);
 *   - s3: with a bucket, the AWS_* variables fill in what neither the file
 *     nor STRATA_S3_* gave (credentials, region, endpoint), and an access
 *     key is required; `upload: true` needs a bucket. The values' form
 *     (bucket name, endpoint) is checked by lake/ when `strata check`
 *     compiles the archives. Secrets never appear in a message.
 *
 * Invariants: parsing may have left any name NULL (after its own error);
 * every check here skips what it cannot judge, so one mistake is reported
 * once. Errors point at the value's position when it came from the file
 * (app_config_value_pos), else at the item that holds it.
 *
 * Threading: runs on the loading thread.
 */
#include "app/config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reserved_names[] = {"dlq", "anomalies", "jobs", "job_runs"};

/* Records an error at the position of the value stored at `field`. */
static void err_field(app_config_t *cfg, const void *field, int fallback, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_field(app_config_t *cfg, const void *field, int fallback, const char *fmt, ...)
{
    int line, col;
    app_config_value_pos(cfg, field, fallback, &line, &col);
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    app_config_error(cfg, line, col, "%s", text);
}

/* ---- unique names */

typedef struct {
    core_map_t *map; /* name -> first line */
    bool oom;
} names_t;

static void names_init(names_t *n)
{
    n->map = core_map_create(CORE_MEM_APP, 16);
    n->oom = n->map == NULL;
}

static void names_fini(names_t *n)
{
    core_map_destroy(n->map);
}

/* Registers `name`; reports "PATH: duplicate WHAT 'name' (first defined at
 * line N)" when it was seen before. */
static void names_add(app_config_t *cfg, names_t *n, const char *name, const void *field, int line,
                      const char *what, const char *path)
{
    if (name == NULL || n->oom)
        return;
    void *first = NULL;
    if (core_map_get(n->map, name, strlen(name), &first)) {
        err_field(cfg, field, line, "%s: duplicate %s '%s' (first defined at line %d)", path, what,
                  name, (int)(intptr_t)first);
        return;
    }
    if (core_map_put(n->map, name, strlen(name), (void *)(intptr_t)line, NULL) != 0)
        n->oom = true;
}

/* ---- topics and schemas */

static void check_topics(app_config_t *cfg)
{
    names_t names;
    names_init(&names);
    for (size_t i = 0; i < cfg->n_topics; i++) {
        app_topic_t *t = &cfg->topics[i];
        char path[64];
        snprintf(path, sizeof path, "topics[%zu].name", i);
        names_add(cfg, &names, t->name, &t->name, t->line, "topic", path);
        if (t->schema == NULL || app_config_find_schema(cfg, t->schema) != NULL)
            continue;
        app_suggest_t s = {.word = t->schema};
        for (size_t j = 0; j < cfg->n_schemas; j++)
            app_suggest_consider(&s, cfg->schemas[j].name);
        char hint[128];
        err_field(cfg, &t->schema, t->line, "topics[%zu].schema: unknown schema '%s'%s", i,
                  t->schema, app_suggest_text(&s, hint, sizeof hint));
    }
    names_fini(&names);
}

static void check_field(app_config_t *cfg, size_t si, size_t fi, const app_field_t *f)
{
    if (f->has_min && f->has_max && f->min > f->max)
        err_field(cfg, &f->max, f->line, "schemas[%zu].fields[%zu].max: %g is below min %g", si, fi,
                  f->max, f->min);
    if (f->min_length >= 0 && f->max_length >= 0 && f->min_length > f->max_length)
        err_field(cfg, &f->max_length, f->line,
                  "schemas[%zu].fields[%zu].max_length: %" PRId64 " is below min_length %" PRId64,
                  si, fi, f->max_length, f->min_length);
}

static void check_schema(app_config_t *cfg, size_t si, const app_schema_t *s)
{
    names_t fields, rules;
    names_init(&fields);
    names_init(&rules);
    char path[96];
    for (size_t i = 0; i < s->n_fields; i++) {
        const app_field_t *f = &s->fields[i];
        snprintf(path, sizeof path, "schemas[%zu].fields[%zu].name", si, i);
        names_add(cfg, &fields, f->name, &f->name, f->line, "field", path);
        check_field(cfg, si, i, f);
    }
    for (size_t i = 0; i < s->n_rules; i++) {
        snprintf(path, sizeof path, "schemas[%zu].rules[%zu].name", si, i);
        names_add(cfg, &rules, s->rules[i].name, &s->rules[i].name, s->rules[i].line, "rule", path);
    }
    names_fini(&fields);
    names_fini(&rules);
}

static void check_schemas(app_config_t *cfg)
{
    names_t names;
    names_init(&names);
    for (size_t i = 0; i < cfg->n_schemas; i++) {
        char path[64];
        snprintf(path, sizeof path, "schemas[%zu].name", i);
        names_add(cfg, &names, cfg->schemas[i].name, &cfg->schemas[i].name, cfg->schemas[i].line,
                  "schema", path);
        check_schema(cfg, i, &cfg->schemas[i]);
    }
    names_fini(&names);
}

/* ---- pipelines */

/* <data.dir>/<name>, in the config's arena; NULL (reported) when out of
 * memory or when there is no data.dir. */
static char *data_path(app_config_t *cfg, const char *name)
{
    if (cfg->data_dir == NULL)
        return NULL;
    size_t n = strlen(cfg->data_dir);
    while (n > 0 && cfg->data_dir[n - 1] == '/')
        n--;
    size_t cap = n + strlen(name) + 2;
    char *path = core_arena_alloc(cfg->arena, cap);
    if (path == NULL) {
        app_config_error(cfg, 0, 0, "out of memory");
        return NULL;
    }
    snprintf(path, cap, "%.*s/%s", (int)n, cfg->data_dir, name);
    return path;
}

/* Fills in a pipeline's computed defaults. Returns its topic, or NULL. */
static const app_topic_t *resolve_pipeline(app_config_t *cfg, app_pipeline_t *p)
{
    const app_topic_t *t = p->topic != NULL ? app_config_find_topic(cfg, p->topic) : NULL;
    if (p->schema == NULL && t != NULL)
        p->schema = t->schema;
    if (p->kind == APP_PIPE_AGGREGATE && p->view == NULL)
        p->view = p->name;
    if ((p->kind == APP_PIPE_TABLE || p->kind == APP_PIPE_CDC) && p->table == NULL)
        p->table = p->name;
    if (p->kind == APP_PIPE_ARCHIVE && p->lake_dir == NULL)
        p->lake_dir = data_path(cfg, "lake");
    return t;
}

/* Field `name` of schema s, or NULL after reporting it at `field`. */
static const app_field_t *need_field(app_config_t *cfg, const app_schema_t *s, const char *name,
                                     const void *field, int line, const char *path)
{
    if (name == NULL) /* a bad list entry, already reported */
        return NULL;
    const app_field_t *f = app_schema_find_field(s, name);
    if (f != NULL)
        return f;
    app_suggest_t sg = {.word = name};
    for (size_t i = 0; i < s->n_fields; i++)
        app_suggest_consider(&sg, s->fields[i].name);
    char hint[128];
    err_field(cfg, field, line, "%s: '%s' is not a field of schema '%s'%s", path, name, s->name,
              app_suggest_text(&sg, hint, sizeof hint));
    return NULL;
}

static bool listed(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL && name != NULL && strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* primary_key and columns of a table or cdc pipeline. */
static void check_columns(app_config_t *cfg, size_t i, const app_pipeline_t *p,
                          const app_schema_t *s)
{
    char path[96];
    for (size_t j = 0; j < p->n_columns; j++) {
        snprintf(path, sizeof path, "pipelines[%zu].columns[%zu]", i, j);
        need_field(cfg, s, p->columns[j], &p->columns[j], p->line, path);
    }
    for (size_t j = 0; j < p->n_primary_key; j++) {
        snprintf(path, sizeof path, "pipelines[%zu].primary_key[%zu]", i, j);
        if (need_field(cfg, s, p->primary_key[j], &p->primary_key[j], p->line, path) != NULL &&
            p->n_columns > 0 && !listed(p->columns, p->n_columns, p->primary_key[j]))
            err_field(cfg, &p->primary_key[j], p->line, "%s: '%s' is not among the columns", path,
                      p->primary_key[j]);
    }
    if (p->n_columns > 0)
        return;
    /* Every field becomes a column: each name must be an identifier. */
    for (size_t j = 0; j < s->n_fields; j++) {
        const char *name = s->fields[j].name;
        if (name != NULL && !app_ident_valid(name))
            app_config_error(cfg, p->line, 0,
                             "pipelines[%zu].columns: field '%s' of schema '%s' (line %d) is not "
                             "a valid column name ([a-z_][a-z0-9_]{0,62}); list the columns to "
                             "store, or rename the field",
                             i, name, s->name, s->fields[j].line);
    }
}

/* An archive's columns are the schema's fields plus its own; its folders
 * come from event time unless partition_by is arrival. */
static void check_archive(app_config_t *cfg, size_t i, const app_pipeline_t *p,
                          const app_schema_t *s)
{
    static const char *const own[] = {"_key", "_partition", "_offset", "_timestamp"};
    for (size_t j = 0; j < s->n_fields; j++)
        for (size_t k = 0; s->fields[j].name != NULL && k < CORE_ARRAY_LEN(own); k++)
            if (strcmp(s->fields[j].name, own[k]) == 0)
                app_config_error(cfg, p->line, 0,
                                 "pipelines[%zu]: field '%s' of schema '%s' (line %d) clashes "
                                 "with the archive's own column %s; rename the field",
                                 i, own[k], s->name, s->fields[j].line, own[k]);
    if (p->partition_by == APP_PART_ARRIVAL && p->event_time != NULL)
        err_field(cfg, &p->event_time, p->line,
                  "pipelines[%zu].event_time: not used with partition_by: arrival (folders and "
                  "the watermark then follow the record timestamp); remove one of the two",
                  i);
}

/* Fields a pipeline names: event_time, columns and keys, zscore fields. */
static void check_pipeline_fields(app_config_t *cfg, size_t i, const app_pipeline_t *p,
                                  const app_schema_t *s)
{
    char path[96];
    if (p->event_time != NULL) {
        snprintf(path, sizeof path, "pipelines[%zu].event_time", i);
        const app_field_t *f = need_field(cfg, s, p->event_time, &p->event_time, p->line, path);
        if (f != NULL && f->type != APP_FIELD_TIMESTAMP)
            err_field(cfg, &p->event_time, p->line,
                      "%s: field '%s' is a %s; event_time needs a timestamp field", path, f->name,
                      app_field_type_name(f->type));
    }
    if (p->kind == APP_PIPE_TABLE || p->kind == APP_PIPE_CDC)
        check_columns(cfg, i, p, s);
    if (p->kind == APP_PIPE_ARCHIVE)
        check_archive(cfg, i, p, s);
    for (size_t j = 0; p->kind == APP_PIPE_DETECT && j < p->n_rules; j++) {
        const app_detect_rule_t *r = &p->rules[j];
        if (r->type != APP_RULE_ZSCORE || r->field == NULL)
            continue;
        snprintf(path, sizeof path, "pipelines[%zu].rules[%zu].field", i, j);
        const app_field_t *f = need_field(cfg, s, r->field, &r->field, r->line, path);
        if (f != NULL && f->type != APP_FIELD_INT && f->type != APP_FIELD_FLOAT)
            err_field(cfg, &r->field, r->line, "%s: field '%s' is a %s; zscore needs a number",
                      path, f->name, app_field_type_name(f->type));
    }
}

/* The view or table a pipeline writes: not reserved, not another
 * pipeline's. */
static void check_output(app_config_t *cfg, size_t i, const app_pipeline_t *p, names_t *outputs)
{
    bool view = p->kind == APP_PIPE_AGGREGATE;
    const char *name = view ? p->view : p->table;
    const void *field = view ? (const void *)&p->view : (const void *)&p->table;
    int line, col;
    if (name == NULL)
        return;
    app_config_value_pos(cfg, field, 0, &line, &col);
    if (line == 0) /* defaulted to the pipeline name: point at that */
        field = &p->name;
    char path[64];
    snprintf(path, sizeof path, "pipelines[%zu].%s", i, view ? "view" : "table");
    bool reserved = strncmp(name, "strata_", 7) == 0;
    for (size_t j = 0; j < CORE_ARRAY_LEN(reserved_names); j++)
        reserved = reserved || strcmp(name, reserved_names[j]) == 0;
    if (reserved)
        err_field(cfg, field, p->line,
                  "%s: '%s' is reserved for strata's own tables (dlq, anomalies, jobs, job_runs, "
                  "strata_*); choose another name",
                  path, name);
    else
        names_add(cfg, outputs, name, field, p->line, view ? "view or table" : "table or view",
                  path);
}

/* Appends a duration as "10s" or "1500ms". */
static void duration_text(int64_t ms, char *out, size_t cap)
{
    if (ms % 1000 == 0)
        snprintf(out, cap, "%" PRId64 "s", ms / 1000);
    else
        snprintf(out, cap, "%" PRId64 "ms", ms);
}

static void check_window(app_config_t *cfg, size_t i, const app_pipeline_t *p)
{
    const app_window_t *w = &p->window;
    if (!p->has_window || w->kind != APP_WIN_HOPPING || w->size_ms <= 0 || w->slide_ms <= 0)
        return;
    char size[32], slide[32];
    duration_text(w->size_ms, size, sizeof size);
    duration_text(w->slide_ms, slide, sizeof slide);
    if (w->slide_ms > w->size_ms)
        err_field(cfg, &w->slide_ms, p->line,
                  "pipelines[%zu].window.slide: %s is longer than the size %s", i, slide, size);
    else if (w->size_ms % w->slide_ms != 0)
        err_field(cfg, &w->size_ms, p->line,
                  "pipelines[%zu].window.size: %s is not a multiple of the slide %s", i, size,
                  slide);
}

/* The topic and schema a pipeline reads. Returns its schema, or NULL. */
static const app_schema_t *check_sources(app_config_t *cfg, size_t i, const app_pipeline_t *p,
                                         const app_topic_t *t)
{
    if (p->topic != NULL && t == NULL) {
        app_suggest_t s = {.word = p->topic};
        for (size_t j = 0; j < cfg->n_topics; j++)
            app_suggest_consider(&s, cfg->topics[j].name);
        char hint[128];
        err_field(cfg, &p->topic, p->line, "pipelines[%zu].topic: unknown topic '%s'%s", i,
                  p->topic, app_suggest_text(&s, hint, sizeof hint));
        return p->schema != NULL ? app_config_find_schema(cfg, p->schema) : NULL;
    }
    if (t == NULL)
        return NULL;
    if (p->schema == NULL) {
        app_config_error(cfg, p->line, 0,
                         "pipelines[%zu]: missing required key 'schema' (topic '%s' has no "
                         "schema)",
                         i, t->name);
        return NULL;
    }
    const app_schema_t *s = app_config_find_schema(cfg, p->schema);
    if (s == NULL && p->schema != t->schema) { /* the topic's own is reported with the topic */
        app_suggest_t sg = {.word = p->schema};
        for (size_t j = 0; j < cfg->n_schemas; j++)
            app_suggest_consider(&sg, cfg->schemas[j].name);
        char hint[128];
        err_field(cfg, &p->schema, p->line, "pipelines[%zu].schema: unknown schema '%s'%s", i,
                  p->schema, app_suggest_text(&sg, hint, sizeof hint));
    }
    return s;
}

/* An archive's upload: `upload: true` needs a bucket, and two archives
 * uploading one topic would write the same keys. */
static void check_upload(app_config_t *cfg, size_t i, const app_pipeline_t *p, names_t *uploads)
{
    if (p->kind != APP_PIPE_ARCHIVE || !p->upload || p->topic == NULL)
        return;
    if (cfg->s3_bucket == NULL) {
        if (p->upload_given)
            err_field(cfg, &p->upload, p->line,
                      "pipelines[%zu].upload: there is no s3.bucket to upload to (set it, or "
                      "STRATA_S3_BUCKET)",
                      i);
        return;
    }
    void *first = NULL;
    if (uploads->oom)
        return;
    if (core_map_get(uploads->map, p->topic, strlen(p->topic), &first)) {
        err_field(cfg, &p->upload, p->line,
                  "pipelines[%zu].upload: the archive at line %d uploads topic '%s' already; "
                  "both would write the same keys (set upload: false on one)",
                  i, (int)(intptr_t)first, p->topic);
        return;
    }
    if (core_map_put(uploads->map, p->topic, strlen(p->topic), (void *)(intptr_t)p->line, NULL) !=
        0)
        uploads->oom = true;
}

/* Two archives of one topic in one lake would write the same file names. */
static void check_lake(app_config_t *cfg, size_t i, const app_pipeline_t *p, names_t *lakes)
{
    if (p->kind != APP_PIPE_ARCHIVE || p->lake_dir == NULL || p->topic == NULL)
        return;
    char folder[1024], path[64];
    snprintf(folder, sizeof folder, "%s/%s", p->lake_dir, p->topic);
    snprintf(path, sizeof path, "pipelines[%zu].lake_dir", i);
    names_add(cfg, lakes, folder, &p->lake_dir, p->line, "archive folder", path);
}

static void check_pipelines(app_config_t *cfg)
{
    names_t names, outputs, lakes, uploads;
    names_init(&names);
    names_init(&outputs);
    names_init(&lakes);
    names_init(&uploads);
    for (size_t i = 0; i < cfg->n_pipelines; i++) {
        app_pipeline_t *p = &cfg->pipelines[i];
        char path[96];
        snprintf(path, sizeof path, "pipelines[%zu].name", i);
        names_add(cfg, &names, p->name, &p->name, p->line, "pipeline", path);
        const app_topic_t *t = resolve_pipeline(cfg, p);
        const app_schema_t *s = check_sources(cfg, i, p, t);
        if (s != NULL)
            check_pipeline_fields(cfg, i, p, s);
        check_output(cfg, i, p, &outputs);
        check_lake(cfg, i, p, &lakes);
        check_upload(cfg, i, p, &uploads);
        check_window(cfg, i, p);
        names_t rules;
        names_init(&rules);
        for (size_t j = 0; j < p->n_rules; j++) {
            snprintf(path, sizeof path, "pipelines[%zu].rules[%zu].name", i, j);
            names_add(cfg, &rules, p->rules[j].name, &p->rules[j].name, p->rules[j].line, "rule",
                      path);
        }
        names_fini(&rules);
    }
    names_fini(&names);
    names_fini(&outputs);
    names_fini(&lakes);
    names_fini(&uploads);
}

/* store.url defaults to sqlite:<data.dir>/strata.db. */
static void resolve_store(app_config_t *cfg)
{
    if (cfg->store_url != NULL || cfg->data_dir == NULL)
        return;
    size_t n = strlen(cfg->data_dir);
    while (n > 0 && cfg->data_dir[n - 1] == '/')
        n--;
    size_t cap = n + sizeof "sqlite:/strata.db";
    char *url = core_arena_alloc(cfg->arena, cap);
    if (url == NULL) {
        app_config_error(cfg, 0, 0, "out of memory");
        return;
    }
    snprintf(url, cap, "sqlite:%.*s/strata.db", (int)n, cfg->data_dir);
    cfg->store_url = url;
}

/* ---- s3 */

/* *dst = the first of the variables a, b that is set and not empty, copied
 * into the config; unchanged when *dst is set already or neither is.
 * True when it took one. */
static bool from_env(app_config_t *cfg, char **dst, const char *a, const char *b)
{
    const char *v = NULL;
    if (*dst != NULL)
        return false;
    if (a != NULL && (v = getenv(a)) != NULL && v[0] == '\0')
        v = NULL;
    if (v == NULL && b != NULL && (v = getenv(b)) != NULL && v[0] == '\0')
        v = NULL;
    if (v == NULL)
        return false;
    *dst = core_arena_strndup(cfg->arena, v, strlen(v));
    if (*dst == NULL)
        app_config_error(cfg, 0, 0, "out of memory");
    return *dst != NULL;
}

/* The AWS tools' variables stand in for what neither the file nor
 * STRATA_S3_* gave; the endpoint follows the region. Only with a bucket. */
static void resolve_s3(app_config_t *cfg)
{
    if (cfg->s3_bucket == NULL)
        return;
    bool aws_key = from_env(cfg, &cfg->s3_access_key_id, "AWS_ACCESS_KEY_ID", NULL);
    from_env(cfg, &cfg->s3_secret_access_key, "AWS_SECRET_ACCESS_KEY", NULL);
    if (aws_key) /* a token belongs to the key it came with */
        from_env(cfg, &cfg->s3_session_token, "AWS_SESSION_TOKEN", NULL);
    from_env(cfg, &cfg->s3_region, "AWS_REGION", "AWS_DEFAULT_REGION");
    if (cfg->s3_region == NULL)
        cfg->s3_region = core_arena_strndup(cfg->arena, "us-east-1", 9);
    from_env(cfg, &cfg->s3_endpoint, "AWS_ENDPOINT_URL", NULL);
    if (cfg->s3_endpoint == NULL && cfg->s3_region != NULL) {
        size_t cap = strlen(cfg->s3_region) + sizeof "https://s3..amazonaws.com";
        char *e = core_arena_alloc(cfg->arena, cap);
        if (e != NULL)
            snprintf(e, cap, "https://s3.%s.amazonaws.com", cfg->s3_region);
        cfg->s3_endpoint = e;
    }
    if (cfg->s3_region == NULL || cfg->s3_endpoint == NULL)
        app_config_error(cfg, 0, 0, "out of memory");
    if (cfg->s3_access_key_id == NULL)
        err_field(cfg, &cfg->s3_bucket, 0,
                  "s3.access_key_id: no access key for bucket '%s': set s3.access_key_id, "
                  "STRATA_S3_ACCESS_KEY_ID or AWS_ACCESS_KEY_ID",
                  cfg->s3_bucket);
    if (cfg->s3_secret_access_key == NULL)
        err_field(cfg, &cfg->s3_bucket, 0,
                  "s3.secret_access_key: no secret key for bucket '%s': set "
                  "s3.secret_access_key, STRATA_S3_SECRET_ACCESS_KEY or AWS_SECRET_ACCESS_KEY",
                  cfg->s3_bucket);
}

void app_config_check_refs(app_config_t *cfg)
{
    resolve_store(cfg);
    resolve_s3(cfg);
    check_topics(cfg);
    check_schemas(cfg);
    check_pipelines(cfg);
    app_config_check_jobs(cfg);
    app_config_check_generators(cfg);
}

/*
 * From a loaded config to the modules' own settings: schemas, compiled
 * pipelines, topics. Every problem goes into the config's error list with
 * its line, so `strata check` and `strata up` list them all before
 * anything starts.
 *
 * Threading: the calling thread only.
 */
#include "app/platform.h"

#include <string.h>

#include "lake/lake.h"

static const schema_type_t field_types[] = {
    [APP_FIELD_STRING] = SCHEMA_STRING,       [APP_FIELD_INT] = SCHEMA_INT,
    [APP_FIELD_FLOAT] = SCHEMA_FLOAT,         [APP_FIELD_BOOL] = SCHEMA_BOOL,
    [APP_FIELD_TIMESTAMP] = SCHEMA_TIMESTAMP, [APP_FIELD_OBJECT] = SCHEMA_OBJECT,
    [APP_FIELD_ARRAY] = SCHEMA_ARRAY,
};

static int build_schema(app_config_t *cfg, const app_schema_t *as, schema_t **out)
{
    int before = (int)app_config_error_count(cfg);
    schema_t *s;
    int rc = schema_create(as->name, &s);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < as->n_fields; i++) {
        const app_field_t *f = &as->fields[i];
        schema_field_def_t d = {
            .name = f->name,
            .type = field_types[f->type],
            .required = f->required,
            .has_min = f->has_min,
            .has_max = f->has_max,
            .min = f->min,
            .max = f->max,
            /* Keys that do not apply to a type keep zero in the config. */
            .min_length = f->type == APP_FIELD_STRING ? f->min_length : -1,
            .max_length = f->type == APP_FIELD_STRING ? f->max_length : -1,
            .enum_values = (const char *const *)f->enum_values,
            .n_enum = f->n_enum,
            .pattern = f->pattern,
            .format = f->type == APP_FIELD_TIMESTAMP ? f->format : NULL,
        };
        core_error_clear();
        if (schema_add_field(s, &d) != 0)
            app_config_error(cfg, f->line, 0, "schemas.%s.fields.%s: %s", as->name, f->name,
                             core_error_detail());
    }
    for (size_t i = 0; i < as->n_rules; i++) {
        const app_schema_rule_t *r = &as->rules[i];
        if (schema_add_rule(s, r->name, r->check, r->message) != 0)
            app_config_error(cfg, r->line, 0, "schemas.%s.rules.%s: %s", as->name, r->name,
                             core_error_detail());
    }
    schema_set_limits(s, (size_t)CORE_MAX(as->max_value_bytes, 0), 0);
    if (schema_seal(s) != 0)
        app_config_error(cfg, as->line, 0, "schemas.%s: %s", as->name, core_error_detail());
    *out = s;
    return (int)app_config_error_count(cfg) - before;
}

typedef struct {
    app_config_t *cfg;
    const char *pipeline;
} report_ctx_t;

static void report(void *arg, int line, const char *message)
{
    report_ctx_t *r = arg;
    app_config_error(r->cfg, line, 0, "pipelines.%s: %s", r->pipeline, message);
}

static const stream_agg_def_t *agg_defs(const app_pipeline_t *ap, stream_agg_def_t *defs)
{
    for (size_t i = 0; i < ap->n_aggregates; i++) {
        const app_aggregate_t *a = &ap->aggregates[i];
        defs[i] = (stream_agg_def_t){a->name, app_agg_fn_name(a->fn), a->arg, a->line};
    }
    return defs;
}

static const stream_rule_def_t *rule_defs(const app_pipeline_t *ap, stream_rule_def_t *defs)
{
    static const stream_rule_kind_t kinds[] = {
        [APP_RULE_THRESHOLD] = STREAM_RULE_THRESHOLD,
        [APP_RULE_ZSCORE] = STREAM_RULE_ZSCORE,
        [APP_RULE_VELOCITY] = STREAM_RULE_VELOCITY,
    };
    for (size_t i = 0; i < ap->n_rules; i++) {
        const app_detect_rule_t *r = &ap->rules[i];
        defs[i] = (stream_rule_def_t){
            .name = r->name,
            .kind = kinds[r->type],
            .when = r->when,
            .value = r->value,
            .field = r->field,
            .threshold = r->threshold,
            .min_history = r->min_history,
            .window_ms = r->window_ms,
            .limit = r->limit,
            .line = r->line,
        };
    }
    return defs;
}

/* An archive pipeline's sink (taken by the compile). Touches no file. */
static int archive_sink(app_config_t *cfg, const app_pipeline_t *ap, stream_pipeline_def_t *d)
{
    static const lake_codec_t codecs[] = {
        [APP_CODEC_ZSTD] = LAKE_CODEC_ZSTD,
        [APP_CODEC_SNAPPY] = LAKE_CODEC_SNAPPY,
        [APP_CODEC_NONE] = LAKE_CODEC_NONE,
    };
    lake_archive_config_t c;
    lake_archive_config_default(&c);
    c.dir = ap->lake_dir;
    c.codec = codecs[ap->codec];
    c.roll_rows = ap->roll_rows;
    c.roll_bytes = ap->roll_bytes;
    c.roll_age_ms = ap->roll_age_ms;
    c.max_open = (int32_t)ap->max_open_files;
    lake_s3_config_t s3;
    if (ap->upload && cfg->s3_bucket != NULL) { /* docs/lake.md, "Uploading to S3" */
        lake_s3_config_default(&s3);
        s3.endpoint = cfg->s3_endpoint;
        s3.region = cfg->s3_region;
        s3.bucket = cfg->s3_bucket;
        s3.prefix = cfg->s3_prefix;
        s3.access_key_id = cfg->s3_access_key_id;
        s3.secret_access_key = cfg->s3_secret_access_key;
        s3.session_token = cfg->s3_session_token;
        s3.path_style = cfg->s3_path_style;
        s3.connect_timeout_ms = cfg->s3_connect_timeout_ms;
        s3.stall_timeout_ms = cfg->s3_timeout_ms;
        s3.max_attempts = (int32_t)cfg->s3_max_attempts;
        s3.retry_backoff_ms = cfg->s3_retry_backoff_ms;
        s3.retry_backoff_max_ms = CORE_MAX(cfg->s3_retry_backoff_max_ms, cfg->s3_retry_backoff_ms);
        s3.drain_timeout_ms = cfg->s3_drain_timeout_ms;
        c.s3 = &s3;
    }
    lake_archive_t *a = NULL;
    core_error_clear();
    int rc = lake_archive_create(&c, &a);
    if (rc == CORE_EINVAL) {
        app_config_error(cfg, ap->line, 0, "pipelines.%s: %s", ap->name, core_error_detail());
        return 0;
    }
    d->kind = STREAM_KIND_SINK;
    d->sink_ops = &lake_archive_ops;
    d->sink = a;
    if (ap->partition_by == APP_PART_ARRIVAL)
        d->event_time = NULL; /* folders and watermark follow the record timestamp */
    return rc;
}

static int compile_pipeline(app_config_t *cfg, const app_platform_t *pf, const app_pipeline_t *ap,
                            stream_pipeline_t **out)
{
    static const stream_kind_t kinds[] = {
        [APP_PIPE_TABLE] = STREAM_KIND_TABLE,   [APP_PIPE_AGGREGATE] = STREAM_KIND_AGGREGATE,
        [APP_PIPE_DETECT] = STREAM_KIND_DETECT, [APP_PIPE_CDC] = STREAM_KIND_CDC,
        [APP_PIPE_ARCHIVE] = STREAM_KIND_SINK,
    };
    static const stream_window_t windows[] = {
        [APP_WIN_TUMBLING] = STREAM_WINDOW_TUMBLING,
        [APP_WIN_HOPPING] = STREAM_WINDOW_HOPPING,
        [APP_WIN_SESSION] = STREAM_WINDOW_SESSION,
    };
    stream_agg_def_t *aggs = core_calloc(CORE_MEM_APP, ap->n_aggregates + 1, sizeof *aggs);
    stream_rule_def_t *rules = core_calloc(CORE_MEM_APP, ap->n_rules + 1, sizeof *rules);
    int rc = aggs == NULL || rules == NULL ? CORE_ENOMEM : 0;
    stream_pipeline_def_t d = {
        .name = ap->name,
        .kind = kinds[ap->kind],
        .topic = ap->topic,
        .schema = app_platform_schema(cfg, pf, ap->schema),
        .filter = ap->filter,
        .filter_line = ap->filter_line,
        .key = ap->key,
        .key_line = ap->key_line,
        .event_time = ap->event_time,
        .window = windows[ap->window.kind],
        .size_ms = ap->window.size_ms,
        .slide_ms = ap->window.slide_ms,
        .gap_ms = ap->window.gap_ms,
        .max_ooo_ms = ap->max_ooo_ms,
        .idle_timeout_ms = ap->idle_timeout_ms,
        .allowed_lateness_ms = ap->allowed_lateness_ms,
        .emit = ap->emit == APP_EMIT_FINAL ? STREAM_EMIT_FINAL : STREAM_EMIT_UPDATE,
        .view = ap->view,
        .naggs = ap->n_aggregates,
        .table = ap->table,
        .primary_key = (const char *const *)ap->primary_key,
        .npk = ap->n_primary_key,
        .columns = ap->n_columns > 0 ? (const char *const *)ap->columns : NULL,
        .ncolumns = ap->n_columns,
        .nrules = ap->n_rules,
        .commit_interval_ms = ap->commit_interval_ms,
        .commit_records = ap->commit_records,
        .line = ap->line,
    };
    if (rc == 0 && ap->kind == APP_PIPE_ARCHIVE) {
        rc = archive_sink(cfg, ap, &d);
        if (rc == 0 && d.sink == NULL)
            rc = CORE_EINVAL; /* reported */
    }
    if (rc == 0) {
        d.aggs = agg_defs(ap, aggs);
        d.rules = rule_defs(ap, rules);
        report_ctx_t r = {cfg, ap->name};
        rc = stream_pipeline_compile(&d, report, &r, out);
    }
    core_free(aggs);
    core_free(rules);
    return rc == CORE_EINVAL ? 0 : rc;
}

int app_platform_build(app_config_t *cfg, app_platform_t *out)
{
    memset(out, 0, sizeof *out);
    size_t before = app_config_error_count(cfg);
    out->schemas = core_calloc(CORE_MEM_APP, cfg->n_schemas + 1, sizeof *out->schemas);
    out->pipelines = core_calloc(CORE_MEM_APP, cfg->n_pipelines + 1, sizeof *out->pipelines);
    out->batch_pipelines =
        core_calloc(CORE_MEM_APP, cfg->n_pipelines + 1, sizeof *out->batch_pipelines);
    if (out->schemas == NULL || out->pipelines == NULL || out->batch_pipelines == NULL)
        return core_error(CORE_ENOMEM, "app: out of memory");
    out->n_schemas = cfg->n_schemas;
    out->n_pipelines = cfg->n_pipelines;
    for (size_t i = 0; i < cfg->n_schemas; i++) {
        int rc = build_schema(cfg, &cfg->schemas[i], &out->schemas[i]);
        if (rc < 0)
            return rc;
    }
    if (app_config_error_count(cfg) > before)
        return (int)(app_config_error_count(cfg) - before); /* pipelines need sound schemas */
    for (size_t i = 0; i < cfg->n_pipelines; i++) {
        int rc = compile_pipeline(cfg, out, &cfg->pipelines[i], &out->pipelines[i]);
        if (rc < 0)
            return rc;
    }
    if (app_config_error_count(cfg) > before)
        return (int)(app_config_error_count(cfg) - before);
    /* The batch layer's own copies: it runs beside the stream runtime, on
     * its own thread and store connection. */
    for (size_t i = 0; i < cfg->n_pipelines; i++) {
        int rc = compile_pipeline(cfg, out, &cfg->pipelines[i], &out->batch_pipelines[i]);
        if (rc < 0)
            return rc;
    }
    return (int)(app_config_error_count(cfg) - before);
}

void app_platform_fini(app_platform_t *pf)
{
    for (size_t i = 0; pf->pipelines != NULL && i < pf->n_pipelines; i++)
        stream_pipeline_destroy(pf->pipelines[i]);
    for (size_t i = 0; pf->batch_pipelines != NULL && i < pf->n_pipelines; i++)
        stream_pipeline_destroy(pf->batch_pipelines[i]);
    core_free(pf->batch_pipelines);
    for (size_t i = 0; pf->schemas != NULL && i < pf->n_schemas; i++)
        schema_destroy(pf->schemas[i]);
    core_free(pf->pipelines);
    core_free(pf->schemas);
    memset(pf, 0, sizeof *pf);
}

schema_t *app_platform_schema(const app_config_t *cfg, const app_platform_t *pf, const char *name)
{
    for (size_t i = 0; name != NULL && i < cfg->n_schemas && i < pf->n_schemas; i++)
        if (strcmp(cfg->schemas[i].name, name) == 0)
            return pf->schemas[i];
    return NULL;
}

int app_check_pipelines(app_config_t *cfg)
{
    app_platform_t pf;
    int rc = app_platform_build(cfg, &pf);
    app_platform_fini(&pf);
    return rc;
}

int app_platform_topics(const app_config_t *cfg, seglog_t *log)
{
    for (size_t i = 0; i < cfg->n_topics; i++) {
        const app_topic_t *t = &cfg->topics[i];
        seglog_topic_t *have = seglog_topic_get(log, t->name);
        if (have != NULL) {
            if (seglog_topic_config(have)->partitions != t->partitions)
                core_log(CORE_LOG_WARN, "app",
                         "topic %s has %d partitions, the config says %lld; keeping %d", t->name,
                         (int)seglog_topic_config(have)->partitions, (long long)t->partitions,
                         (int)seglog_topic_config(have)->partitions);
            continue;
        }
        seglog_topic_config_t c;
        seglog_topic_config_default(&c);
        c.partitions = (int32_t)t->partitions;
        c.retention_ms = t->retention_ms;
        c.retention_bytes = t->retention_bytes;
        c.segment_bytes = t->segment_bytes;
        int rc = seglog_flush_parse(t->flush, &c.flush, &c.flush_interval_ms);
        if (rc == 0)
            rc = seglog_topic_create(log, t->name, &c);
        if (rc != 0)
            return app_fail(rc, "create topic %s (%s line %d)", t->name, cfg->name, t->line);
    }
    return 0;
}

void app_redact_url(const char *url, char *out, size_t n)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme != NULL ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at != NULL ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (colon == NULL) {
        snprintf(out, n, "%s", url);
        return;
    }
    snprintf(out, n, "%.*s:***%s", (int)(colon - url), url, at);
}

/*
 * `strata views list` and `strata views query NAME`: read the aggregate
 * views registered in the serving store, merging their partial states
 * (batch layer over speed layer, partitions merged) as the REST API does.
 *
 * The store is --store URL, else the store of -c FILE, else
 * $STRATA_STORE_URL, else sqlite:<data dir>/strata.db.
 *
 * Threading: the calling thread only.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/platform.h"

enum { OPT_STORE = 0x200, OPT_KEY, OPT_FROM, OPT_TO, OPT_FORMAT, OPT_ALL };

typedef struct {
    const char *store;
    const char *config;
    const char *data;
    stream_view_query_t q;
    bool table;
} views_opts_t;

static void usage(FILE *f)
{
    fprintf(f, "Usage: strata views list [options]\n"
               "       strata views query NAME [--key K] [--from T] [--to T] [options]\n"
               "\n"
               "Lists the aggregate views in the serving store, or prints a view's rows:\n"
               "one per key and window, the batch layer's value where a batch run covered\n"
               "the window, else the speed layer's partials merged across partitions.\n"
               "Each row says its layer and whether it is final.\n"
               "\n"
               "Options:\n"
               "  --key K            only this key\n"
               "  --from T, --to T   windows starting in [T, T'): ISO 8601 or epoch ms\n"
               "  --all              emit=final views: also windows not yet final\n"
               "  --format F         json (default) or table\n"
               "  --store URL        the store (sqlite:PATH or postgresql://...)\n"
               "  -c, --config FILE  use the store of this config\n"
               "  --data DIR         data directory (for the default SQLite store)\n"
               "  -h, --help         show this help\n");
}

static int parse_time(const char *opt, const char *s, int64_t *us)
{
    int64_t ms;
    if (core_parse_i64(s, INT64_MIN / 1000 + 1, INT64_MAX / 1000 - 1, &ms) == 0) {
        *us = ms * 1000;
        return 0;
    }
    if (schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, s, strlen(s), us) == 0)
        return 0;
    return app_usage_error("views", "%s: '%s' is neither ISO 8601 nor epoch milliseconds", opt, s);
}

static int parse_opt(int c, views_opts_t *o)
{
    switch (c) {
    case OPT_STORE:
        o->store = optarg;
        return 0;
    case 'c':
        o->config = optarg;
        return 0;
    case APP_OPT_DATA:
        o->data = optarg;
        return 0;
    case OPT_KEY:
        o->q.key = optarg;
        return 0;
    case OPT_FROM:
        return parse_time("--from", optarg, &o->q.from_us);
    case OPT_TO:
        return parse_time("--to", optarg, &o->q.to_us);
    case OPT_ALL:
        o->q.include_open = true;
        return 0;
    case OPT_FORMAT:
        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
            return app_usage_error("views", "--format must be json or table");
        o->table = strcmp(optarg, "table") == 0;
        return 0;
    default:
        return APP_EXIT_USAGE;
    }
}

static int parse_options(int argc, char **argv, views_opts_t *o)
{
    static const struct option opts[] = {
        {"store", required_argument, NULL, OPT_STORE},
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"key", required_argument, NULL, OPT_KEY},
        {"from", required_argument, NULL, OPT_FROM},
        {"to", required_argument, NULL, OPT_TO},
        {"all", no_argument, NULL, OPT_ALL},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    o->q.from_us = INT64_MIN;
    o->q.to_us = INT64_MAX;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return APP_HELP_SHOWN;
        }
        if (c == ':' || c == '?')
            return app_option_error("views", c, argv, argc);
        int rc = parse_opt(c, o);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Opens the store the options point at. */
static int open_store(const app_ctx_t *ctx, const views_opts_t *o, store_t **out)
{
    char url[4096];
    const char *env = getenv("STRATA_STORE_URL");
    app_config_t *cfg = NULL;
    if (o->store != NULL) {
        snprintf(url, sizeof url, "%s", o->store);
    } else if (o->config != NULL) {
        app_platform_t pf;
        int rc = app_load_checked(o->config, &cfg, &pf);
        app_platform_fini(&pf);
        if (rc != 0) {
            app_config_destroy(cfg);
            return rc;
        }
        snprintf(url, sizeof url, "%s", cfg->store_url);
        app_config_destroy(cfg);
    } else if (env != NULL && env[0] != '\0') {
        snprintf(url, sizeof url, "%s", env);
    } else {
        snprintf(url, sizeof url, "sqlite:%s/strata.db", o->data != NULL ? o->data : ctx->data_dir);
    }
    int rc = store_open(url, out);
    if (rc != 0) {
        char safe[512];
        app_redact_url(url, safe, sizeof safe);
        return app_fail(rc, "open the store %s", safe);
    }
    return 0;
}

static int print_view(void *arg, const schema_value_t *v, size_t n)
{
    (void)arg;
    if (n >= 3)
        printf("%.*s\tpipeline %.*s\t%.*s\n", (int)v[0].v.s.len, v[0].v.s.p, (int)v[1].v.s.len,
               v[1].v.s.p, (int)v[2].v.s.len, v[2].v.s.p);
    return 0;
}

static void write_value(core_json_writer_t *w, const schema_value_t *v)
{
    if (v->type == SCHEMA_INT)
        core_json_write_i64(w, v->v.i);
    else if (v->type == SCHEMA_FLOAT)
        core_json_write_double(w, v->v.f);
    else
        core_json_write_null(w);
}

static void write_time(core_json_writer_t *w, const char *k, int64_t us)
{
    char ts[40];
    size_t n = schema_format_timestamp(us, ts);
    core_json_write_key(w, k, strlen(k));
    core_json_write_string(w, ts, n);
}

typedef struct {
    bool table;
    size_t rows;
} print_ctx_t;

static int print_table_row(const stream_view_row_t *r)
{
    char a[40], b[40];
    schema_format_timestamp(r->window_start, a);
    schema_format_timestamp(r->window_end, b);
    printf("%.*s\t%s\t%s\t%s\t%s", (int)r->key_len, r->key, a, b, r->layer,
           r->final ? "final" : "open");
    for (size_t i = 0; i < r->nvalues; i++) {
        const schema_value_t *v = &r->values[i];
        if (v->type == SCHEMA_INT)
            printf("\t%" PRId64, v->v.i);
        else if (v->type == SCHEMA_FLOAT)
            printf("\t%.10g", v->v.f);
        else
            printf("\tNULL");
    }
    putchar('\n');
    return 0;
}

static int print_row(void *arg, const stream_view_row_t *r)
{
    print_ctx_t *pc = arg;
    if (pc->table) {
        if (pc->rows++ == 0) {
            printf("key\twindow_start\twindow_end\tlayer\tstate");
            for (size_t i = 0; i < r->nvalues; i++)
                printf("\t%s", r->names[i]);
            putchar('\n');
        }
        return print_table_row(r);
    }
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_APP, 16 << 20);
    core_json_writer_t w;
    core_json_writer_init(&w, &b);
    core_json_write_object_begin(&w);
    core_json_write_key(&w, "key", 3);
    core_json_write_string(&w, r->key, r->key_len);
    write_time(&w, "window_start", r->window_start);
    write_time(&w, "window_end", r->window_end);
    core_json_write_key(&w, "layer", 5);
    core_json_write_string(&w, r->layer, strlen(r->layer));
    core_json_write_key(&w, "final", 5);
    core_json_write_bool(&w, r->final);
    for (size_t i = 0; i < r->nvalues; i++) {
        core_json_write_key(&w, r->names[i], strlen(r->names[i]));
        write_value(&w, &r->values[i]);
    }
    core_json_write_object_end(&w);
    int rc = core_json_writer_finish(&w);
    if (rc == 0)
        printf("%s%.*s\n", pc->rows++ == 0 ? "[" : ",", (int)b.len, (const char *)b.data);
    core_buf_fini(&b);
    return rc;
}

static int run(const app_ctx_t *ctx, const char *sub, const char *name, views_opts_t *o)
{
    store_t *s;
    int rc = open_store(ctx, o, &s);
    if (rc != 0)
        return rc;
    if (strcmp(sub, "list") == 0) {
        rc = stream_views_list(s, print_view, NULL);
        if (rc != 0)
            rc = app_fail(rc, "list the views");
    } else {
        print_ctx_t pc = {o->table, 0};
        rc = stream_view_query(s, name, &o->q, print_row, &pc);
        if (rc != 0)
            rc = app_fail(rc, "query view %s", name);
        else if (!o->table)
            printf(pc.rows == 0 ? "[]\n" : "]\n");
    }
    store_close(s);
    return rc;
}

int cmd_views(app_ctx_t *ctx, int argc, char **argv)
{
    views_opts_t o = {0};
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? APP_EXIT_USAGE : APP_EXIT_OK;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "list") != 0 && strcmp(sub, "query") != 0)
        return app_usage_error("views", "unknown subcommand '%s'", sub);
    int rc = parse_options(argc - 1, argv + 1, &o);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    char **ops = argv + 1 + optind; /* operands after the subcommand */
    int nops = argc - 1 - optind;
    bool query = strcmp(sub, "query") == 0;
    if (query && nops == 0)
        return app_usage_error("views", "query needs the view's NAME");
    if (nops > (query ? 1 : 0))
        return app_usage_error("views", "unexpected argument '%s'", ops[query ? 1 : 0]);
    const char *name = query ? ops[0] : NULL;
    return run(ctx, sub, name, &o);
}

/*
 * `strata import FILE --topic T -c CONFIG`: imports CSV files (a path or a
 * glob) into a topic as one tracked run of an import job (batch/, kind
 * import), then prints what the run did.
 *
 * The job is built from the options, not from the config's `jobs`: the
 * config gives the topic's schema, the data directory and the store. Its
 * name is --job, else import_<topic>; its run is a row of job_runs like
 * any other, and a file already imported into the topic is skipped.
 *
 * Threading: the calling thread only (the runner's scheduler is never
 * started).
 */
#include <ctype.h>
#include <getopt.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "app/platform.h"
#include "bus/bus.h"
#include "store/store.h"

enum {
    OPT_TOPIC = 0x200,
    OPT_SCHEMA,
    OPT_STORE,
    OPT_KEY,
    OPT_TIME,
    OPT_MAP,
    OPT_EXPR,
    OPT_JOB,
    OPT_DELIM
};

#define MAX_COLUMNS  1024
#define NAME_MAX_LEN 128

typedef struct {
    const char *file;
    const char *config;
    const char *data;
    const char *store;
    const char *topic;
    const char *schema;
    const char *key;
    const char *time_field;
    const char *job;
    char delimiter;
    batch_column_t columns[MAX_COLUMNS];
    size_t ncolumns;
} import_opts_t;

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: strata import FILE --topic T -c CONFIG [options]\n"
           "\n"
           "Imports a CSV file, or every file a glob matches (quote it), into topic T:\n"
           "one JSON record per valid row, converted to and checked against the topic's\n"
           "schema; invalid rows go to the dlq with their file and line. The import is a\n"
           "tracked run of a job; a file whose content was already imported into T is\n"
           "skipped, and an interrupted import resumes where it stopped without\n"
           "duplicating records (docs/import.md).\n"
           "\n"
           "Options:\n"
           "  --topic T            the topic (required)\n"
           "  -c, --config FILE    the YAML config: the topic's schema, data and store\n"
           "  --schema S           a schema of the config other than the topic's\n"
           "  --key FIELD          the record key (default: null keys)\n"
           "  --time-field FIELD   a timestamp field for the record time (default: now)\n"
           "  --map FIELD=COLUMN   schema field FIELD from the CSV column whose header\n"
           "                       is COLUMN (repeatable; unmapped fields take the column\n"
           "                       of their own name)\n"
           "  --expr FIELD=EXPR    schema field FIELD from an expression over the CSV\n"
           "                       columns, e.g. ts=\"to_timestamp(\\\"Date\\\", '%%d/%%m/%%y')\"\n"
           "  --delimiter C        field separator (default ',')\n"
           "  --job NAME           the job the run is tracked under (default\n"
           "                       import_<topic>)\n"
           "  --store URL          serving store (overrides store.url)\n"
           "  --data DIR           data directory (overrides data.dir)\n"
           "  -h, --help           show this help\n");
}

/* FIELD=VALUE into the next column mapping. */
static int add_column(import_opts_t *o, const char *opt, char *arg, bool expr)
{
    char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg || eq[1] == '\0')
        return app_usage_error("import", "%s '%s': expected FIELD=%s", opt, arg,
                               expr ? "EXPR" : "COLUMN");
    if (o->ncolumns == MAX_COLUMNS)
        return app_usage_error("import", "more than %d --map and --expr options", MAX_COLUMNS);
    *eq = '\0'; /* argv is ours to change */
    batch_column_t *c = &o->columns[o->ncolumns++];
    c->field = arg;
    c->column = expr ? NULL : eq + 1;
    c->expr = expr ? eq + 1 : NULL;
    return 0;
}

static int parse_opt(int c, import_opts_t *o)
{
    switch (c) {
    case 'c':
        o->config = optarg;
        return 0;
    case APP_OPT_DATA:
        o->data = optarg;
        return 0;
    case OPT_STORE:
        o->store = optarg;
        return 0;
    case OPT_TOPIC:
        o->topic = optarg;
        return 0;
    case OPT_SCHEMA:
        o->schema = optarg;
        return 0;
    case OPT_KEY:
        o->key = optarg;
        return 0;
    case OPT_TIME:
        o->time_field = optarg;
        return 0;
    case OPT_JOB:
        o->job = optarg;
        return 0;
    case OPT_MAP:
    case OPT_EXPR:
        return add_column(o, c == OPT_MAP ? "--map" : "--expr", optarg, c == OPT_EXPR);
    case OPT_DELIM:
        if (strlen(optarg) != 1 || optarg[0] == '"' || optarg[0] == '\n' || optarg[0] == '\r')
            return app_usage_error("import", "--delimiter must be one character, not a quote "
                                             "or a line end");
        o->delimiter = optarg[0];
        return 0;
    default:
        return APP_EXIT_USAGE;
    }
}

static int parse_options(int argc, char **argv, import_opts_t *o)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"store", required_argument, NULL, OPT_STORE},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"schema", required_argument, NULL, OPT_SCHEMA},
        {"key", required_argument, NULL, OPT_KEY},
        {"time-field", required_argument, NULL, OPT_TIME},
        {"map", required_argument, NULL, OPT_MAP},
        {"expr", required_argument, NULL, OPT_EXPR},
        {"job", required_argument, NULL, OPT_JOB},
        {"delimiter", required_argument, NULL, OPT_DELIM},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return APP_HELP_SHOWN;
        }
        if (c == ':' || c == '?')
            return app_option_error("import", c, argv, argc);
        int rc = parse_opt(c, o);
        if (rc != 0)
            return rc;
    }
    if (optind >= argc)
        return app_usage_error("import", "missing the FILE (a path or a quoted glob)");
    if (argc - optind > 1)
        return app_usage_error("import", "unexpected argument '%s'", argv[optind + 1]);
    o->file = argv[optind];
    if (o->topic == NULL)
        return app_usage_error("import", "--topic T is required");
    if (o->config == NULL)
        return app_usage_error("import", "-c CONFIG is required (it holds the topic's schema)");
    return 0;
}

/* The schema: --schema, else the topic's in the config. */
static int find_schema(const import_opts_t *o, const app_config_t *cfg, const app_platform_t *pf,
                       const schema_t **out)
{
    const char *name = o->schema;
    if (name == NULL) {
        const app_topic_t *t = app_config_find_topic(cfg, o->topic);
        if (t == NULL || t->schema == NULL) {
            core_error(CORE_EINVAL, "%s defines no topic %s with a schema; give --schema",
                       o->config, o->topic);
            return app_fail(CORE_EINVAL, "import into %s", o->topic);
        }
        name = t->schema;
    }
    *out = app_platform_schema(cfg, pf, name);
    if (*out == NULL) {
        core_error(CORE_ENOENT, "%s defines no schema named '%s'", o->config, name);
        return app_fail(CORE_ENOENT, "import into %s", o->topic);
    }
    return 0;
}

/* import_<topic>, in the characters of an identifier. */
static void default_job_name(const char *topic, char *out, size_t n)
{
    snprintf(out, n, "import_%s", topic);
    for (char *p = out; *p != '\0'; p++)
        *p = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '_';
}

typedef struct {
    int64_t files, rows, invalid;
} summary_t;

static int summary_row(void *arg, const schema_value_t *v, size_t n)
{
    summary_t *s = arg;
    if (n == 3) {
        s->files = v[0].type == SCHEMA_INT ? v[0].v.i : 0;
        s->rows = v[1].type == SCHEMA_INT ? v[1].v.i : 0;
        s->invalid = v[2].type == SCHEMA_INT ? v[2].v.i : 0;
    }
    return 0;
}

/* Prints what run ID did, from strata_imports (files it completed). */
static int report(const import_opts_t *o, const char *url, const char *job, int64_t id)
{
    store_t *s = NULL;
    summary_t sum = {0};
    schema_value_t p[2] = {{.type = SCHEMA_INT, .v.i = id},
                           {.type = SCHEMA_STRING, .v.s = {o->topic, strlen(o->topic)}}};
    int rc = store_open(url, &s);
    if (rc == 0)
        rc = store_exec(s,
                        "SELECT COUNT(*), CAST(COALESCE(SUM(\"rows\"), 0) AS BIGINT), "
                        "CAST(COALESCE(SUM(\"invalid\"), 0) AS BIGINT) "
                        "FROM \"strata_imports\" WHERE \"run_id\" = ?1 AND \"topic\" = ?2 AND "
                        "\"state\" = 'completed'",
                        p, 2, summary_row, &sum, NULL);
    store_close(s);
    if (rc != 0)
        return app_fail(rc, "read the result of run %lld", (long long)id);
    glob_t g;
    memset(&g, 0, sizeof g);
    int64_t files = glob(o->file, 0, NULL, &g) == 0 ? (int64_t)g.gl_pathc : sum.files;
    globfree(&g);
    printf("run %lld of job %s completed\n", (long long)id, job);
    printf("files: %lld imported, %lld skipped (already imported into %s)\n", (long long)sum.files,
           (long long)CORE_MAX(files - sum.files, 0), o->topic);
    printf("rows: %lld imported, %lld invalid (in the dlq)\n", (long long)sum.rows,
           (long long)sum.invalid);
    return APP_EXIT_OK;
}

typedef struct {
    app_config_t *cfg;
    app_platform_t pf;
    seglog_t *log;
    bus_t *bus;
    batch_runner_t *runner;
} import_ctx_t;

static int import_open(app_ctx_t *ctx, const import_opts_t *o, import_ctx_t *x)
{
    int rc = app_load_checked(o->config, &x->cfg, &x->pf);
    if (rc != 0)
        return rc;
    app_ctx_t c = *ctx;
    c.data_dir = o->data != NULL ? o->data : x->cfg->data_dir;
    rc = app_open_log(&c, true, &x->log);
    if (rc == 0)
        rc = app_platform_topics(x->cfg, x->log);
    if (rc != 0)
        return rc;
    rc = bus_open_seglog(x->log, &x->bus);
    if (rc != 0)
        return app_fail(rc, "open the bus");
    return 0;
}

static void import_close(import_ctx_t *x)
{
    batch_runner_destroy(x->runner);
    bus_close(x->bus);
    if (x->log != NULL)
        seglog_close(x->log);
    app_platform_fini(&x->pf);
    app_config_destroy(x->cfg);
}

static int run_import(app_ctx_t *ctx, const import_opts_t *o, import_ctx_t *x)
{
    int rc = import_open(ctx, o, x);
    const schema_t *schema = NULL;
    if (rc == 0)
        rc = find_schema(o, x->cfg, &x->pf, &schema);
    if (rc != 0)
        return rc;
    char name[NAME_MAX_LEN];
    default_job_name(o->topic, name, sizeof name);
    batch_job_def_t def = {
        .name = o->job != NULL ? o->job : name,
        .kind = BATCH_KIND_IMPORT,
        .max_attempts = 1,
        .path = o->file,
        .topic = o->topic,
        .schema = schema,
        .key_field = o->key,
        .time_field = o->time_field,
        .columns = o->ncolumns > 0 ? o->columns : NULL,
        .ncolumns = o->ncolumns,
        .delimiter = o->delimiter,
    };
    const char *url = o->store != NULL ? o->store : x->cfg->store_url;
    batch_env_t env = {.bus = x->bus, .log = x->log, .store_url = url};
    rc = batch_runner_create(&env, &def, 1, &x->runner);
    if (rc != 0)
        return app_fail(rc, "import into %s", o->topic);
    int64_t id = -1;
    rc = batch_run_now(x->runner, def.name, NULL, 0, &id);
    if (rc != 0 && id < 0)
        return app_fail(rc, "import into %s", o->topic);
    if (rc != 0) {
        fprintf(stderr, "strata import: run %lld of job %s failed: %s\n", (long long)id, def.name,
                core_error_detail());
        return APP_EXIT_ERROR;
    }
    return report(o, url, def.name, id);
}

int cmd_import(app_ctx_t *ctx, int argc, char **argv)
{
    import_opts_t *o = core_calloc(CORE_MEM_APP, 1, sizeof *o);
    if (o == NULL)
        return app_fail(CORE_ENOMEM, "import");
    int rc = parse_options(argc, argv, o);
    if (rc == 0) {
        import_ctx_t x = {0};
        rc = run_import(ctx, o, &x);
        import_close(&x);
    }
    core_free(o);
    return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
}

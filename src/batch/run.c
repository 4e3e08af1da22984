/*
 * One tracked run: its row in job_runs, its lineage, and the templates its
 * SQL and paths may use.
 *
 * Row states (DESIGN.md "Jobs"):
 *
 *   pending --claim--> running --finish(ok)--> completed
 *                        |
 *                        +--finish(error)--> retrying  (attempt < max)
 *                        |                      |  backoff passed: claim,
 *                        |                      +- attempt + 1 -> running
 *                        +--finish(error)--> failed    (attempt = max)
 *
 * batch_row_claim() moves a run to running only if no other run of the
 * job is running (one UPDATE ... WHERE NOT EXISTS, backed by a partial
 * unique index, so two instances sharing a store cannot both win it: on
 * PostgreSQL two claims can pass NOT EXISTS together, and the index
 * refuses the later one, which is then told it lost) and the row is still
 * as the claimer saw it. Recovery marks a running run
 * interrupted only while its owner is the one it judged dead, so a stale
 * verdict never hits a run another process has since claimed. Times are
 * microseconds since the epoch.
 *
 * Threading: the functions work on the caller's store connection and run
 * struct; the runner calls them from one thread at a time per run.
 */
#include "batch/batch_int.h"
#include "batch/run_int.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- Lineage. */

/* One member of a lineage object: a string (s != NULL) or an integer. */
typedef struct {
    const char *key;
    const char *s;
    int64_t i;
} lineage_field_t;

/* Appends {key: value, ...} to list (comma-separated objects). */
static int lineage_add(core_buf_t *list, const lineage_field_t *f, size_t n)
{
    size_t mark = list->len;
    int rc = list->len > 0 ? core_buf_append(list, ",", 1) : 0;
    core_json_writer_t w;
    core_json_writer_init(&w, list);
    core_json_write_object_begin(&w);
    for (size_t k = 0; k < n; k++) {
        core_json_write_key(&w, f[k].key, strlen(f[k].key));
        if (f[k].s != NULL)
            core_json_write_string(&w, f[k].s, strlen(f[k].s));
        else
            core_json_write_i64(&w, f[k].i);
    }
    core_json_write_object_end(&w);
    if (rc == 0)
        rc = core_json_writer_finish(&w);
    if (rc != 0)
        list->len = mark; /* nothing half-written stays */
    return rc == CORE_ETOOBIG ? core_error(rc, "batch: lineage above %d bytes", BATCH_LINEAGE_MAX)
                              : rc;
}

int batch_lineage_file(batch_run_t *run, const char *path, const char *sha256_hex, int64_t rows)
{
    lineage_field_t f[] = {{"file", path, 0}, {"sha256", sha256_hex, 0}, {"rows", NULL, rows}};
    return lineage_add(&run->inputs, f, CORE_ARRAY_LEN(f));
}

int batch_lineage_range(batch_run_t *run, const char *topic, int32_t partition, int64_t from,
                        int64_t to)
{
    lineage_field_t f[] = {{"topic", topic, 0},
                           {"partition", NULL, partition},
                           {"from", NULL, from},
                           {"to", NULL, to}};
    return lineage_add(&run->inputs, f, CORE_ARRAY_LEN(f));
}

int batch_lineage_output(batch_run_t *run, const char *kind, const char *name, int64_t rows)
{
    lineage_field_t f[] = {{"kind", kind, 0}, {"name", name, 0}, {"rows", NULL, rows}};
    return lineage_add(&run->outputs, f, CORE_ARRAY_LEN(f));
}

/* ---- Templates. */

const char *batch_param_get(const batch_run_t *run, const char *name)
{
    for (size_t i = 0; i < run->nparams; i++)
        if (strcmp(run->params[i].name, name) == 0)
            return run->params[i].value;
    return NULL;
}

/* YYYY-MM-DD (or YYYYMMDD) of instant us in the run's zone. */
static void local_date(const batch_run_t *run, int64_t us, bool dashes, char *out, size_t cap)
{
    int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    batch_local_t l;
    if (run->tz != NULL) {
        batch_tz_local(run->tz, s, &l);
    } else {
        int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
        schema_civil_from_days(days, &l.year, &l.month, &l.day);
    }
    snprintf(out, cap, dashes ? "%04d-%02d-%02d" : "%04d%02d%02d", l.year, l.month, l.day);
}

static bool param_value_ok(const char *v)
{
    for (; *v != '\0'; v++)
        if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
              strchr("_.:+- ", *v) != NULL))
            return false;
    return true;
}

/* The value of template NAME (n bytes) into val. */
static int template_value(const batch_run_t *run, const char *name, size_t n, char *val, size_t cap)
{
    int64_t span = run->interval_end_us - run->interval_start_us;
    if (n == 2 && memcmp(name, "ds", 2) == 0) {
        local_date(run, run->interval_start_us, true, val, cap);
    } else if (n == 9 && memcmp(name, "ds_nodash", 9) == 0) {
        local_date(run, run->interval_start_us, false, val, cap);
    } else if (n == 7 && memcmp(name, "next_ds", 7) == 0) {
        local_date(run, run->interval_end_us, true, val, cap);
    } else if (n == 7 && memcmp(name, "prev_ds", 7) == 0) {
        local_date(run, run->interval_start_us - span, true, val, cap);
    } else if (n == 2 && memcmp(name, "ts", 2) == 0) {
        char iso[40];
        schema_format_timestamp(run->interval_start_us, iso);
        snprintf(val, cap, "%s", iso);
    } else if (n == 17 && memcmp(name, "interval_start_us", 17) == 0) {
        snprintf(val, cap, "%lld", (long long)run->interval_start_us);
    } else if (n == 15 && memcmp(name, "interval_end_us", 15) == 0) {
        snprintf(val, cap, "%lld", (long long)run->interval_end_us);
    } else if (n > 7 && memcmp(name, "params.", 7) == 0) {
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(n - 7), name + 7);
        const char *v = batch_param_get(run, key);
        if (v == NULL)
            return core_error(CORE_EINVAL, "job %s: template {{%.*s}}: no parameter '%s'",
                              run->job->name, (int)n, name, key);
        if (!param_value_ok(v))
            return core_error(CORE_EINVAL,
                              "job %s: parameter %s: only letters, digits, spaces and _.:+- "
                              "may be used in templates",
                              run->job->name, key);
        snprintf(val, cap, "%s", v);
    } else {
        return core_error(CORE_EINVAL, "job %s: unknown template {{%.*s}}", run->job->name, (int)n,
                          name);
    }
    return 0;
}

int batch_template_expand(const batch_run_t *run, const char *text, core_buf_t *out)
{
    int rc = 0;
    while (rc == 0 && *text != '\0') {
        const char *open = strstr(text, "{{");
        if (open == NULL)
            return core_buf_append_str(out, text);
        rc = core_buf_append(out, text, (size_t)(open - text));
        const char *close = strstr(open + 2, "}}");
        if (rc != 0 || close == NULL)
            return rc != 0 ? rc
                           : core_error(CORE_EINVAL, "job %s: unclosed '{{' in '%s'",
                                        run->job->name, text);
        const char *name = open + 2;
        while (name < close && *name == ' ')
            name++;
        const char *end = close;
        while (end > name && end[-1] == ' ')
            end--;
        char val[256];
        rc = template_value(run, name, (size_t)(end - name), val, sizeof val);
        if (rc == 0)
            rc = core_buf_append_str(out, val);
        text = close + 2;
    }
    return rc;
}

/* ---- job_runs rows. */

static schema_value_t sval(const char *s)
{
    if (s == NULL)
        return (schema_value_t){.type = SCHEMA_NULL};
    return (schema_value_t){.type = SCHEMA_STRING, .v.s = {s, strlen(s)}};
}

static schema_value_t ival(int64_t i)
{
    return (schema_value_t){.type = SCHEMA_INT, .v.i = i};
}

static int take_id(void *arg, const schema_value_t *v, size_t n)
{
    if (n >= 1 && v[0].type == SCHEMA_INT)
        *(int64_t *)arg = v[0].v.i;
    return 0;
}

/* params as a JSON object, for the params column. */
static int params_json(const batch_param_t *params, size_t n, core_buf_t *out)
{
    core_json_writer_t w;
    core_json_writer_init(&w, out);
    core_json_write_object_begin(&w);
    for (size_t i = 0; i < n; i++) {
        core_json_write_key(&w, params[i].name, strlen(params[i].name));
        core_json_write_string(&w, params[i].value, strlen(params[i].value));
    }
    core_json_write_object_end(&w);
    return core_json_writer_finish(&w);
}

int batch_row_create(store_t *s, const char *job, int64_t logical_us, int64_t end_us,
                     const batch_param_t *params, size_t nparams, int64_t *id)
{
    core_buf_t pj;
    core_buf_init(&pj, CORE_MEM_BATCH, 1 << 16);
    int rc = params_json(params, nparams, &pj);
    char *text = NULL;
    if (rc == 0 && (text = core_alloc(CORE_MEM_BATCH, pj.len + 1)) == NULL)
        rc = core_error(CORE_ENOMEM, "batch: out of memory");
    if (rc == 0) {
        memcpy(text, pj.data, pj.len);
        text[pj.len] = '\0';
        schema_value_t v[] = {sval(job), ival(logical_us), sval(text), ival(end_us)};
        *id = -1;
        rc = store_exec(s,
                        "INSERT INTO \"job_runs\" (\"job\", \"state\", \"attempt\", "
                        "\"logical_date\", \"params\", \"interval_end\") "
                        "VALUES (?1, 'pending', 1, ?2, ?3, ?4) RETURNING \"id\"",
                        v, 4, take_id, id, NULL);
        if (rc == 0 && *id < 0)
            rc = core_error(CORE_EIO, "batch: job %s: the store returned no run id", job);
    }
    core_free(text);
    core_buf_fini(&pj);
    return rc;
}

/* "host:pid" of this process. */
static void owner_of_self(char *out, size_t cap)
{
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "unknown");
    snprintf(out, cap, "%s:%ld", host, (long)getpid());
}

/* True when OWNER ("host:pid") is a process of this host that no longer
 * exists, or is unknown (NULL, or not in that form). A run owned by
 * another host is never judged dead here. */
static bool owner_dead(const char *owner, size_t len)
{
    char self[300], host[300];
    owner_of_self(self, sizeof self);
    const char *colon = owner != NULL ? memchr(owner, ':', len) : NULL;
    if (colon == NULL)
        return true;
    const char *self_colon = strchr(self, ':');
    if ((size_t)(colon - owner) != (size_t)(self_colon - self) ||
        memcmp(owner, self, (size_t)(colon - owner)) != 0)
        return false;
    snprintf(host, sizeof host, "%.*s", (int)(len - (size_t)(colon - owner) - 1), colon + 1);
    int64_t pid;
    if (core_parse_i64(host, 1, INT32_MAX, &pid) != 0)
        return true;
    return pid != (int64_t)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Runs judged dead: their ids, and the owner each verdict was about
 * (owned copies; NULL: the run had no owner). */
typedef struct {
    int64_t ids[64];
    char *owners[64];
    size_t n;
    int rc;
} dead_runs_t;

static int take_dead(void *arg, const schema_value_t *v, size_t n)
{
    dead_runs_t *d = arg;
    if (n < 2 || v[0].type != SCHEMA_INT || d->n == CORE_ARRAY_LEN(d->ids))
        return 0;
    bool known = v[1].type == SCHEMA_STRING;
    if (known && !owner_dead(v[1].v.s.p, v[1].v.s.len))
        return 0;
    char *owner = known ? core_strndup(CORE_MEM_BATCH, v[1].v.s.p, v[1].v.s.len) : NULL;
    if (known && owner == NULL) {
        d->rc = core_error(CORE_ENOMEM, "batch: out of memory");
        return 0;
    }
    d->ids[d->n] = v[0].v.i;
    d->owners[d->n++] = owner;
    return 0;
}

/* The verdict "dead" holds only for the owner it was made about: between
 * the SELECT and this UPDATE, another process may recover the same run,
 * claim it and be running it (owner: that live process). Without the
 * owner in the WHERE, the stale verdict would mark that live run
 * interrupted, and it could then be claimed and executed a second time
 * alongside the first. */
static int recover_one(store_t *s, int64_t id, const char *owner, int max_attempts,
                       int64_t *changes)
{
    schema_value_t v[] = {ival(id), ival(max_attempts), ival(core_wall_us()), sval(owner)};
    return store_exec(s,
                      owner != NULL
                          ? "UPDATE \"job_runs\" SET \"state\" = CASE WHEN \"attempt\" < ?2 THEN "
                            "'retrying' ELSE 'failed' END, \"finished_at\" = ?3, \"error\" = "
                            "'interrupted: the process running it stopped' WHERE \"id\" = ?1 AND "
                            "\"state\" = 'running' AND \"owner\" = ?4"
                          : "UPDATE \"job_runs\" SET \"state\" = CASE WHEN \"attempt\" < ?2 THEN "
                            "'retrying' ELSE 'failed' END, \"finished_at\" = ?3, \"error\" = "
                            "'interrupted: the process running it stopped' WHERE \"id\" = ?1 AND "
                            "\"state\" = 'running' AND \"owner\" IS NULL",
                      v, owner != NULL ? 4 : 3, NULL, NULL, changes);
}

int batch_rows_recover(store_t *s, const char *job, int max_attempts, int64_t *recovered)
{
    dead_runs_t d = {.n = 0};
    schema_value_t q[] = {sval(job)};
    int rc = store_exec(s,
                        "SELECT \"id\", \"owner\" FROM \"job_runs\" WHERE \"job\" = ?1 AND "
                        "\"state\" = 'running'",
                        q, 1, take_dead, &d, NULL);
    if (rc == 0)
        rc = d.rc;
    *recovered = 0;
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        int64_t changes = 0;
        rc = recover_one(s, d.ids[i], d.owners[i], max_attempts, &changes);
        *recovered += changes;
    }
    for (size_t i = 0; i < d.n; i++)
        core_free(d.owners[i]);
    return rc;
}

/* ATTEMPT was derived from the caller's snapshot of the row (pending: 1,
 * retrying at attempt k: k + 1). The row must still be as seen: another
 * process may have claimed and finished an attempt since, and a claim on
 * the stale snapshot would repeat that attempt's number and skip its
 * backoff. */
int batch_row_claim(store_t *s, int64_t id, const char *job, int attempt, bool *won)
{
    char owner[300];
    owner_of_self(owner, sizeof owner);
    schema_value_t v[] = {ival(id), ival(core_wall_us()), sval(job), ival(attempt), sval(owner)};
    int64_t changes = 0;
    int rc = store_exec(s,
                        "UPDATE \"job_runs\" SET \"state\" = 'running', \"started_at\" = ?2, "
                        "\"attempt\" = ?4, \"owner\" = ?5, \"finished_at\" = NULL, "
                        "\"duration_ms\" = NULL "
                        "WHERE \"id\" = ?1 AND \"state\" IN ('pending', 'retrying') AND "
                        "\"attempt\" = CASE WHEN \"state\" = 'retrying' THEN ?4 - 1 ELSE ?4 END "
                        "AND NOT EXISTS (SELECT 1 FROM \"job_runs\" AS o WHERE o.\"job\" = ?3 "
                        "AND o.\"state\" = 'running')",
                        v, 5, NULL, NULL, &changes);
    if (rc == CORE_EEXIST) { /* PostgreSQL: a racing claim got there first */
        core_error_clear();
        rc = 0;
        changes = 0;
    }
    *won = rc == 0 && changes == 1;
    return rc;
}

int batch_row_finish(store_t *s, const batch_run_t *run, const char *state, const char *error,
                     int64_t started_us)
{
    core_buf_t lin;
    core_buf_init(&lin, CORE_MEM_BATCH, 2 * BATCH_LINEAGE_MAX + 64);
    int rc = core_buf_append_str(&lin, "{\"inputs\":[");
    if (rc == 0)
        rc = core_buf_append(&lin, run->inputs.data, run->inputs.len);
    if (rc == 0)
        rc = core_buf_append_str(&lin, "],\"outputs\":[");
    if (rc == 0)
        rc = core_buf_append(&lin, run->outputs.data, run->outputs.len);
    if (rc == 0)
        rc = core_buf_append(&lin, "]}", 3); /* with the NUL */
    if (rc != 0) {
        core_buf_fini(&lin);
        return rc;
    }
    int64_t now = core_wall_us();
    schema_value_t v[] = {
        ival(run->run_id),  sval(state),         ival(now),   ival((now - started_us) / 1000),
        ival(run->rows_in), ival(run->rows_out), sval(error), sval((const char *)lin.data),
    };
    rc = store_exec(s,
                    "UPDATE \"job_runs\" SET \"state\" = ?2, \"finished_at\" = ?3, "
                    "\"duration_ms\" = ?4, \"rows_in\" = ?5, \"rows_out\" = ?6, \"error\" = ?7, "
                    "\"lineage\" = ?8 WHERE \"id\" = ?1",
                    v, CORE_ARRAY_LEN(v), NULL, NULL, NULL);
    core_buf_fini(&lin);
    return rc;
}

/*
 * Kappa replay (contract in stream.h, "Replay"; docs/replay.md): a new
 * version of an aggregate pipeline's view, rebuilt from offset 0 while the
 * current one serves, then switched to in one store transaction.
 *
 *   prepare   the registry's version V (the view is registered as version
 *             1 first if the pipeline never ran); N = V + 1; the table
 *             "<view>__v<N>" and the pipeline name "<pipeline>@v<N>"; what
 *             an earlier attempt at N left behind is removed
 *   rounds    p, renamed, driven from offset 0 (stream_drive_*), each round
 *             up to the partitions' end offsets when it starts
 *   switch    after a round that reached the live pipeline's committed
 *             offset on every partition: one transaction (try_switch),
 *             rolled back and followed by another round when the live
 *             pipeline committed past the new version meanwhile
 *   discard   on any failure or stop: the new table and the rows kept
 *             under the derived name go
 *
 * Invariants:
 *   1. The switch reads what it compares and writes (offsets, watermarks,
 *      the version) inside its transaction, with the offset rows locked
 *      (BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on PostgreSQL):
 *      a live commit lands before it (and is compared) or after it (and
 *      is fenced by the bumped epoch).
 *   2. The new table takes the view's name in the same transaction that
 *      drops the old one, so a reader sees one version whole, and at least
 *      every offset the old version held.
 *   3. The registry's version moves from V to N only if it still is V: two
 *      replays of one view cannot both switch.
 *   4. p carries the derived name and table only between rename_pipeline()
 *      and restore_pipeline(), both on this thread.
 *
 * Threading: the calling thread, with its own store connection; the stop
 * flag is read atomically.
 */
#include "stream/stream_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define SWITCH_AGAIN   1   /* the live pipeline is ahead: another round */
#define EIO_TRIES      50  /* switch attempts in a row on an unreachable store */
#define EIO_NAP_MS     100 /* between them */
#define DERIVED_MAX    320 /* "<pipeline>@v<N>" */
#define TABLE_NAME_MAX 64  /* the store's identifiers: 63 bytes */
#define SQL_MAX        (1 << 20)

typedef struct {
    int64_t next, watermark;
    bool seen;
} offset_row_t;

typedef struct {
    stream_pipeline_t *p;
    bus_t *bus;
    store_t *s;
    const stream_replay_opts_t *o;
    stream_replay_stats_t *st;
    bool pg;
    stream_drive_t *d;
    int64_t from_version;       /* V */
    bool same_def;              /* the registry holds p's definition */
    bool named;                 /* table and derived are set */
    char table[TABLE_NAME_MAX]; /* <view>__v<N> */
    char derived[DERIVED_MAX];  /* <pipeline>@v<N> */
    char *live_name;            /* p's own name, while p carries the derived one */
    const char *live_table;     /* p's own output table name, likewise */
    store_table_t *live_out;    /* p->out before the replay */
    bool renamed;
    int32_t nparts;
    int64_t *until;               /* the current round's end offsets */
    offset_row_t *live, *mine;    /* committed offsets, live and new */
    int64_t progress_ms, last_ms; /* monotonic */
    stream_replay_progress_t pr;
} replay_t;

static schema_value_t sval(const char *s)
{
    return (schema_value_t){.type = SCHEMA_STRING, .v.s = {s, strlen(s)}};
}

static schema_value_t ival(int64_t i)
{
    return (schema_value_t){.type = SCHEMA_INT, .v.i = i};
}

static int exec(replay_t *r, const char *sql, const schema_value_t *v, size_t n, int64_t *changes)
{
    return store_exec(r->s, sql, v, n, NULL, NULL, changes);
}

/* Runs "<a> <quoted x>[ <b> <quoted y>]" (b NULL: without the second
 * half). */
static int exec_ddl(replay_t *r, const char *a, const char *x, const char *b, const char *y)
{
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STREAM, SQL_MAX);
    int rc = core_buf_append_str(&sql, a);
    if (rc == 0)
        rc = store_quote_ident(x, &sql);
    if (rc == 0 && b != NULL)
        rc = core_buf_append_str(&sql, b);
    if (rc == 0 && b != NULL)
        rc = store_quote_ident(y, &sql);
    if (rc == 0)
        rc = core_buf_append_u8(&sql, 0);
    if (rc == 0)
        rc = exec(r, (const char *)sql.data, NULL, 0, NULL);
    core_buf_fini(&sql);
    return rc;
}

static bool stopping(const replay_t *r)
{
    return r->o->stop != NULL && __atomic_load_n(r->o->stop, __ATOMIC_RELAXED) != 0;
}

static void nap_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- Progress. */

static void report(replay_t *r, const char *phase, bool force)
{
    r->pr.phase = phase;
    int64_t now = core_mono_ms();
    if (r->o->progress == NULL || (!force && now - r->last_ms < r->progress_ms))
        return;
    r->last_ms = now;
    r->pr.version = r->from_version + 1;
    r->pr.rounds = r->st->rounds;
    if (r->d != NULL) {
        r->pr.done = r->pr.total = 0;
        for (int32_t i = 0; i < r->nparts; i++) {
            r->pr.done += stream_drive_position(r->d, i);
            r->pr.total += stream_drive_end(r->d, i);
        }
    }
    r->o->progress(r->o->arg, &r->pr);
}

static void on_loop(void *arg)
{
    replay_t *r = arg;
    report(r, r->pr.phase, false);
}

/* ---- The registry and the names. */

typedef struct {
    const char *definition;
    int64_t version;
    bool same;
} registry_row_t;

static int take_registry(void *arg, const schema_value_t *v, size_t n)
{
    registry_row_t *g = arg;
    if (n < 2 || (v[0].type != SCHEMA_INT && v[0].type != SCHEMA_NULL))
        return core_error(CORE_ECORRUPT, "strata_views: unexpected version column");
    g->version = v[0].type == SCHEMA_INT ? v[0].v.i : 1;
    g->same = v[1].type == SCHEMA_STRING && v[1].v.s.len == strlen(g->definition) &&
              memcmp(v[1].v.s.p, g->definition, v[1].v.s.len) == 0;
    return 0;
}

static int read_registry(replay_t *r, registry_row_t *g)
{
    schema_value_t name = sval(r->p->out_name);
    g->definition = r->p->definition;
    g->version = 0;
    g->same = false;
    return store_exec(
        r->s, "SELECT \"version\", \"definition\" FROM \"strata_views\" WHERE \"name\" = ?1", &name,
        1, take_registry, g, NULL);
}

static int take_count(void *arg, const schema_value_t *v, size_t n)
{
    *(int64_t *)arg = n >= 1 && v[0].type == SCHEMA_INT ? v[0].v.i : 0;
    return 0;
}

/* The new version's table and pipeline names, checked. */
static int make_names(replay_t *r)
{
    long long n = (long long)r->from_version + 1;
    int len = snprintf(r->table, sizeof r->table, "%s__v%lld", r->p->out_name, n);
    if (len < 0 || (size_t)len >= sizeof r->table || store_ident_check(r->table, "table") != 0)
        return core_error(CORE_EINVAL,
                          "replay of %s: view name %s is too long for a version suffix "
                          "(\"__v%lld\"; a table name has at most 63 bytes)",
                          r->p->name, r->p->out_name, n);
    len = snprintf(r->derived, sizeof r->derived, "%s@v%lld", r->p->name, n);
    if (len < 0 || (size_t)len >= sizeof r->derived)
        return core_error(CORE_EINVAL, "replay of %s: pipeline name too long", r->p->name);
    int64_t views = 0;
    schema_value_t t = sval(r->table);
    int rc = store_exec(r->s, "SELECT COUNT(*) FROM \"strata_views\" WHERE \"name\" = ?1", &t, 1,
                        take_count, &views, NULL);
    if (rc == 0 && views > 0)
        rc = core_error(CORE_EEXIST,
                        "replay of %s: %s is the name of another view; its table cannot hold "
                        "version %lld of view %s",
                        r->p->name, r->table, n, r->p->out_name);
    r->named = rc == 0;
    return rc;
}

/* Drops the new version's table and the rows kept under the derived name
 * (a failed replay's, or those a crash left). */
static int discard(replay_t *r)
{
    int rc = exec_ddl(r, "DROP TABLE IF EXISTS ", r->table, NULL, NULL);
    schema_value_t d = sval(r->derived);
    if (rc == 0)
        rc = exec(r, "DELETE FROM \"strata_offsets\" WHERE \"pipeline\" = ?1", &d, 1, NULL);
    if (rc == 0)
        rc = exec(r, "DELETE FROM \"strata_state\" WHERE \"pipeline\" = ?1", &d, 1, NULL);
    if (rc == 0)
        rc = exec(r, "DELETE FROM \"dlq\" WHERE \"pipeline\" = ?1", &d, 1, NULL);
    return rc;
}

/* Registry, names, leftovers and per-partition arrays. */
static int prepare(replay_t *r)
{
    registry_row_t g;
    int rc = read_registry(r, &g);
    if (rc == 0 && g.version == 0) {
        /* Never ran: version 1 is the (empty) table the runtime would make. */
        rc = r->p->ops->prepare(r->p, r->s);
        if (rc == 0)
            rc = stream_pipeline_prepare(r->p, r->s);
        if (rc == 0)
            rc = read_registry(r, &g);
    }
    r->from_version = g.version;
    r->same_def = g.same;
    if (rc == 0)
        rc = make_names(r);
    if (rc == 0)
        rc = discard(r);
    if (rc == 0)
        rc = bus_partitions(r->bus, r->p->topic, &r->nparts);
    if (rc == 0) {
        size_t n = (size_t)r->nparts + 1;
        r->until = core_calloc(CORE_MEM_STREAM, n, sizeof *r->until);
        r->live = core_calloc(CORE_MEM_STREAM, n, sizeof *r->live);
        r->mine = core_calloc(CORE_MEM_STREAM, n, sizeof *r->mine);
        if (r->until == NULL || r->live == NULL || r->mine == NULL)
            rc = core_error(CORE_ENOMEM, "stream: out of memory");
    }
    return rc;
}

static void rename_pipeline(replay_t *r)
{
    r->live_name = r->p->name;
    r->live_table = r->p->out_def.name;
    r->p->name = r->derived;
    r->p->out_def.name = r->table;
    r->renamed = true;
}

static void restore_pipeline(replay_t *r)
{
    if (!r->renamed)
        return;
    r->p->name = r->live_name;
    r->p->out_def.name = r->live_table;
    r->p->out = r->live_out;
    r->renamed = false;
}

/* ---- Offsets. */

static int take_offset(void *arg, const schema_value_t *v, size_t n)
{
    replay_t *r = arg;
    if (n < 4 || v[0].type != SCHEMA_STRING || v[1].type != SCHEMA_INT || v[2].type != SCHEMA_INT ||
        v[3].type != SCHEMA_INT)
        return core_error(CORE_ECORRUPT, "strata_offsets: unexpected row");
    if (v[1].v.i < 0 || v[1].v.i >= r->nparts)
        return 0; /* a partition the topic no longer has */
    bool mine =
        v[0].v.s.len == strlen(r->derived) && memcmp(v[0].v.s.p, r->derived, v[0].v.s.len) == 0;
    offset_row_t *o = mine ? &r->mine[v[1].v.i] : &r->live[v[1].v.i];
    *o = (offset_row_t){.next = v[2].v.i, .watermark = v[3].v.i, .seen = true};
    return 0;
}

/* Both pipelines' committed offsets; `lock` (PostgreSQL, in the switch's
 * transaction) locks the rows, in one order, until it ends. */
static int read_offsets(replay_t *r, bool lock)
{
    memset(r->live, 0, (size_t)r->nparts * sizeof *r->live);
    memset(r->mine, 0, (size_t)r->nparts * sizeof *r->mine);
    schema_value_t v[3] = {sval(r->live_name), sval(r->derived), sval(r->p->topic)};
    return store_exec(r->s,
                      lock && r->pg
                          ? "SELECT \"pipeline\", \"partition\", \"next_offset\", \"watermark\" "
                            "FROM \"strata_offsets\" WHERE \"pipeline\" IN (?1, ?2) AND "
                            "\"topic\" = ?3 ORDER BY \"pipeline\", \"partition\" FOR UPDATE"
                          : "SELECT \"pipeline\", \"partition\", \"next_offset\", \"watermark\" "
                            "FROM \"strata_offsets\" WHERE \"pipeline\" IN (?1, ?2) AND "
                            "\"topic\" = ?3",
                      v, 3, take_offset, r, NULL);
}

/* SWITCH_AGAIN while the live pipeline has committed past the new version
 * on some partition (pr.behind counts by how much). */
static int compare(replay_t *r)
{
    r->pr.behind = 0;
    for (int32_t i = 0; i < r->nparts; i++) {
        if (!r->mine[i].seen)
            return core_error(CORE_ECORRUPT, "replay %s: partition %d has no committed offset",
                              r->derived, (int)i);
        if (r->live[i].seen && r->live[i].next > r->mine[i].next)
            r->pr.behind += r->live[i].next - r->mine[i].next;
    }
    return r->pr.behind > 0 ? SWITCH_AGAIN : 0;
}

/* ---- The switch. */

/* Appends "INSERT INTO new (cols) SELECT cols FROM view WHERE layer =
 * 'batch'" (with the NUL). */
static int copy_sql(replay_t *r, core_buf_t *sql)
{
    const store_table_def_t *d = &r->p->out_def;
    int rc = core_buf_append_str(sql, "INSERT INTO ");
    if (rc == 0)
        rc = store_quote_ident(r->table, sql);
    for (int pass = 0; rc == 0 && pass < 2; pass++) {
        rc = core_buf_append_str(sql, pass == 0 ? " (" : " SELECT ");
        for (size_t i = 0; rc == 0 && i < d->ncolumns; i++) {
            if (i > 0)
                rc = core_buf_append_str(sql, ", ");
            if (rc == 0)
                rc = store_quote_ident(d->columns[i].name, sql);
        }
        if (rc == 0 && pass == 0)
            rc = core_buf_append_str(sql, ")");
    }
    if (rc == 0)
        rc = core_buf_append_str(sql, " FROM ");
    if (rc == 0)
        rc = store_quote_ident(r->p->out_name, sql);
    if (rc == 0)
        rc = core_buf_append_str(sql, " WHERE \"layer\" = 'batch'");
    return rc == 0 ? core_buf_append_u8(sql, 0) : rc;
}

/* Carries the batch layer's rows over (same definition only), drops the
 * old table and gives the new one the view's name. */
static int switch_tables(replay_t *r)
{
    int rc = 0;
    if (r->same_def) {
        core_buf_t sql;
        core_buf_init(&sql, CORE_MEM_STREAM, SQL_MAX);
        rc = copy_sql(r, &sql);
        if (rc == 0)
            rc = exec(r, (const char *)sql.data, NULL, 0, &r->st->batch_rows);
        core_buf_fini(&sql);
    }
    if (rc == 0)
        rc = exec_ddl(r, "DROP TABLE IF EXISTS ", r->p->out_name, NULL, NULL);
    if (rc == 0)
        rc = exec_ddl(r, "ALTER TABLE ", r->table, " RENAME TO ", r->p->out_name);
    return rc;
}

/* Offsets and watermarks to the live name with a bumped epoch (fencing
 * its running tasks), then its keyed state, dlq rows and the registry. */
static int switch_rows(replay_t *r)
{
    int64_t now = core_wall_us();
    int rc = 0;
    for (int32_t i = 0; rc == 0 && i < r->nparts; i++) {
        schema_value_t v[6] = {sval(r->live_name),    sval(r->p->topic),          ival(i),
                               ival(r->mine[i].next), ival(r->mine[i].watermark), ival(now)};
        rc = exec(r,
                  "INSERT INTO \"strata_offsets\" (\"pipeline\", \"topic\", \"partition\", "
                  "\"next_offset\", \"epoch\", \"watermark\", \"updated_at\") VALUES (?1, ?2, ?3, "
                  "?4, 1, ?5, ?6) ON CONFLICT (\"pipeline\", \"topic\", \"partition\") DO UPDATE "
                  "SET \"next_offset\" = excluded.\"next_offset\", \"watermark\" = "
                  "excluded.\"watermark\", \"epoch\" = \"strata_offsets\".\"epoch\" + 1, "
                  "\"updated_at\" = excluded.\"updated_at\"",
                  v, 6, NULL);
    }
    schema_value_t names[2] = {sval(r->live_name), sval(r->derived)};
    if (rc == 0)
        rc = exec(r, "DELETE FROM \"strata_offsets\" WHERE \"pipeline\" = ?1", &names[1], 1, NULL);
    if (rc == 0)
        rc = exec(r, "DELETE FROM \"strata_state\" WHERE \"pipeline\" = ?1", &names[0], 1, NULL);
    if (rc == 0)
        rc = exec(r, "UPDATE \"strata_state\" SET \"pipeline\" = ?1 WHERE \"pipeline\" = ?2", names,
                  2, NULL);
    if (rc == 0)
        rc = exec(r,
                  "INSERT INTO \"dlq\" (\"pipeline\", \"topic\", \"partition\", \"offset\", "
                  "\"kind\", \"reason\", \"key\", \"value\", \"event_time\", \"created_at\") "
                  "SELECT CAST(?1 AS TEXT), \"topic\", \"partition\", \"offset\", \"kind\", "
                  "\"reason\", \"key\", \"value\", \"event_time\", \"created_at\" FROM \"dlq\" "
                  "WHERE \"pipeline\" = ?2 ON CONFLICT (\"pipeline\", \"topic\", \"partition\", "
                  "\"offset\") DO NOTHING",
                  names, 2, NULL);
    if (rc == 0)
        rc = exec(r, "DELETE FROM \"dlq\" WHERE \"pipeline\" = ?1", &names[1], 1, NULL);
    schema_value_t g[6] = {ival(r->from_version + 1), sval(r->p->definition),
                           sval(r->live_name),        ival(now),
                           sval(r->p->out_name),      ival(r->from_version)};
    int64_t changed = 0;
    if (rc == 0)
        rc = exec(r,
                  "UPDATE \"strata_views\" SET \"version\" = ?1, \"definition\" = ?2, "
                  "\"pipeline\" = ?3, \"replayed_at\" = ?4 WHERE \"name\" = ?5 AND "
                  "\"version\" = ?6",
                  g, 6, &changed);
    if (rc == 0 && changed != 1)
        rc = core_error(CORE_EEXIST, "view %s: its version changed during the replay",
                        r->p->out_name);
    return rc;
}

/* Inside the switch: the version must still be V, and every partition of
 * the new version at or past the live pipeline's committed offset. */
static int switch_check(replay_t *r)
{
    int rc = read_offsets(r, true);
    int64_t v = 0;
    if (rc == 0)
        rc = stream_view_version(r->s, r->p->out_name, &v);
    if (rc == 0 && v != r->from_version)
        return core_error(CORE_EEXIST,
                          "view %s: another replay switched it to version %lld first; this one "
                          "(version %lld) is dropped",
                          r->p->out_name, (long long)v, (long long)r->from_version + 1);
    return rc == 0 ? compare(r) : rc;
}

static int try_switch(replay_t *r)
{
    r->st->attempts++;
    int rc = exec(r, r->pg ? "BEGIN" : "BEGIN IMMEDIATE", NULL, 0, NULL);
    if (rc != 0)
        return rc;
    rc = switch_check(r);
    if (rc == 0)
        rc = switch_tables(r);
    if (rc == 0)
        rc = switch_rows(r);
    if (rc == 0) {
        rc = exec(r, "COMMIT", NULL, 0, NULL);
        int64_t v = 0;
        if (rc == 0)
            return 0;
        /* PostgreSQL: a COMMIT whose answer was lost may have committed
         * (the version is read on a new session). */
        if (r->pg && rc == CORE_EIO && stream_view_version(r->s, r->p->out_name, &v) == 0 &&
            v == r->from_version + 1)
            return 0;
    }
    char detail[CORE_ERROR_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%s", core_error_detail());
    (void)exec(r, "ROLLBACK", NULL, 0, NULL);
    if (rc < 0)
        core_error(rc, "%s", detail);
    return rc;
}

/* ---- Rounds. */

/* After a round: SWITCH_AGAIN while the live pipeline is ahead. */
static int precheck(replay_t *r)
{
    int rc = read_offsets(r, false);
    for (int32_t i = 0; rc == 0 && i < r->nparts; i++)
        if (r->live[i].seen && r->live[i].next > stream_drive_end(r->d, i))
            rc = core_error(CORE_ECORRUPT,
                            "replay of %s: the live pipeline committed offset %lld of %s-%d, "
                            "beyond the partition's end %lld (was the topic recreated?)",
                            r->live_name, (long long)r->live[i].next, r->p->topic, (int)i,
                            (long long)stream_drive_end(r->d, i));
    return rc == 0 ? compare(r) : rc;
}

static int run_rounds(replay_t *r)
{
    int eio = 0;
    for (;;) {
        if (stopping(r))
            return core_error(CORE_ECLOSED, "replay of %s: stopped", r->live_name);
        for (int32_t i = 0; i < r->nparts; i++)
            r->until[i] = stream_drive_end(r->d, i);
        report(r, r->st->rounds == 0 ? "replaying" : "catching up", r->st->rounds == 0);
        int rc = stream_drive_round(r->d, r->until, on_loop, r);
        if (rc != 0)
            return rc;
        r->st->rounds++;
        rc = precheck(r);
        if (rc == SWITCH_AGAIN)
            continue;
        if (rc == 0) {
            report(r, "switching", true);
            rc = try_switch(r);
        }
        if (rc == 0)
            return 0;
        if (rc == CORE_EIO && ++eio < EIO_TRIES) {
            nap_ms(EIO_NAP_MS);
            continue;
        }
        if (rc != SWITCH_AGAIN)
            return rc;
        eio = 0;
    }
}

static void collect(replay_t *r)
{
    if (r->d == NULL)
        return;
    const stream_stats_t *s = stream_drive_stats(r->d);
    r->st->records = s->records;
    r->st->valid = s->valid;
    r->st->invalid = s->invalid;
    r->st->late = s->late;
    r->st->filtered = s->filtered;
    r->st->rows = s->rows;
    r->st->commits = s->commits;
}

/* After a switch: lineage, the last progress report, the log line. */
static void finished(replay_t *r)
{
    for (int32_t i = 0; r->o->range_fn != NULL && i < r->nparts; i++)
        if (r->o->range_fn(r->o->arg, i, 0, r->mine[i].next) != 0)
            core_log(CORE_LOG_WARN, "stream", "replay of %s: lineage: %s", r->p->name,
                     core_error_detail());
    r->st->version = r->from_version + 1;
    r->pr.behind = 0;
    int64_t done = 0;
    for (int32_t i = 0; i < r->nparts; i++)
        done += r->mine[i].next;
    r->pr.done = r->pr.total = done;
    report(r, "switched", true);
    core_log(CORE_LOG_INFO, "stream",
             "replay of %s: view %s switched to version %lld (%lld records, %lld rounds, %lld "
             "switch attempts, %lld batch rows carried over)",
             r->p->name, r->p->out_name, (long long)r->st->version, (long long)r->st->records,
             (long long)r->st->rounds, (long long)r->st->attempts, (long long)r->st->batch_rows);
}

static int replay_run(replay_t *r, const char *store_url)
{
    int rc = store_open(store_url, &r->s);
    if (rc == 0) {
        r->pg = strcmp(store_backend(r->s), "postgresql") == 0;
        rc = store_migrate(r->s);
    }
    if (rc == 0)
        rc = prepare(r);
    r->st->version = r->from_version;
    if (rc == 0) {
        rename_pipeline(r);
        rc = stream_drive_open(r->p, r->bus, r->s, r->o->stop, &r->d);
    }
    if (rc == 0)
        rc = run_rounds(r);
    collect(r);
    stream_drive_close(r->d);
    r->d = NULL;
    restore_pipeline(r);
    if (rc == 0) {
        finished(r);
    } else if (r->named) {
        char detail[CORE_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof detail, "%s", core_error_detail());
        if (discard(r) != 0)
            core_log(CORE_LOG_WARN, "stream", "replay of %s: cannot drop %s: %s", r->p->name,
                     r->table, core_error_detail());
        core_error(rc, "%s", detail);
    }
    return rc;
}

int stream_replay(stream_pipeline_t *p, bus_t *bus, const char *store_url,
                  const stream_replay_opts_t *opts, stream_replay_stats_t *out)
{
    stream_replay_stats_t st = {0};
    static const stream_replay_opts_t none = {0};
    int rc =
        p->kind == STREAM_KIND_AGGREGATE
            ? 0
            : core_error(CORE_EINVAL, "replay: pipeline %s is not an aggregate pipeline", p->name);
    replay_t *r = rc == 0 ? core_calloc(CORE_MEM_STREAM, 1, sizeof *r) : NULL;
    if (rc == 0 && r == NULL)
        rc = core_error(CORE_ENOMEM, "stream: out of memory");
    if (rc == 0) {
        r->p = p;
        r->bus = bus;
        r->o = opts != NULL ? opts : &none;
        r->st = &st;
        r->progress_ms = r->o->progress_ms > 0 ? r->o->progress_ms : 1000;
        r->live_name = p->name;
        r->live_out = p->out;
        rc = replay_run(r, store_url);
        store_close(r->s);
        core_free(r->until);
        core_free(r->live);
        core_free(r->mine);
        core_free(r);
    }
    if (out != NULL)
        *out = st;
    return rc;
}

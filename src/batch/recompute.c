/*
 * The `recompute` job kind: recomputes an aggregate pipeline's view over a
 * run's data interval from the topic log, late events included, with the
 * speed layer's own code (stream_recompute in stream.h), and records the
 * offsets read and the rows written as the run's lineage.
 *
 * The interval [interval_start, interval_end) is the range of windows
 * rewritten: windows with start >= interval_start and end <= interval_end.
 * The log is read from interval_start - lookback (by record timestamp):
 * the job's lookback, else the pipeline's window size (session gap) plus
 * its max_out_of_orderness.
 *
 * Records the log no longer holds (docs/recompute.md, "Reading the
 * lake"): where a partition's log starts at an offset S > 0 whose record
 * is already within the read, stream_recompute asks source() for what lies
 * below S. With an `archive` pipeline of the topic (same schema, no
 * filter), the lake supplies it: lake_scan of the partition's files, rows
 * with _offset < S and _timestamp >= the read's start, in offset order,
 * fed as decoded rows. Every offset from the scan's start up to S must be
 * accounted for: a lake row, or a record the archive sent to the dlq (it
 * was invalid, so the speed layer rejected it too). Offsets that are
 * neither are a gap: logged as a warning naming the topic, partition and
 * offsets, and the run fails with them in its error (nothing is written).
 * Holes before the first needed row that are followed by an old row are
 * not needed (record timestamps grow with offsets, as the log's seek by
 * time assumes). The run parameter `input` chooses: auto (the default:
 * the lake when there is a usable archive, else a warning), log (the log
 * only, with the warning), lake (a usable archive is required).
 *
 * Idempotent per (job, interval): a rerun writes the same rows (layer
 * 'batch', partition -1, one complete row per window) and deletes the batch
 * rows of the range it did not write. A stop request ends the run between
 * chunks; the chunks committed so far are correct rows.
 *
 * Threading: the thread running the job, with the runner's store
 * connection for this run.
 */
#include "batch/batch_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lake/lake.h"

#define HOLES_BATCH  4096      /* holes checked against the dlq at once */
#define DLQ_CAP      (1 << 22) /* dlq offsets loaded for one batch of holes */
#define SHOWN_RANGES 5         /* missing ranges named in the message */
#define SHA_CHUNK    (1 << 20)

typedef enum { INPUT_AUTO, INPUT_LOG, INPUT_LAKE } input_t;

typedef struct {
    int64_t from, to; /* [from, to) */
} span_t;

/* Offsets of a partition in no source, found while scanning. */
typedef struct {
    span_t *v; /* holes; v[0..firm) are needed, v[firm..n) tentative */
    size_t n, firm, cap;
    bool seen_needed;
    int64_t *dlq; /* one batch's dlq offsets */
    size_t ndlq, capdlq;
    int64_t explained; /* offsets the dlq accounts for */
    int64_t missing;   /* offsets in no source */
    span_t shown[SHOWN_RANGES];
    size_t nshown, more;
} holes_t;

typedef struct {
    batch_run_t *run;
    stream_pipeline_t *p;
    const char *topic;
    input_t input;
    stream_pipeline_t *archive; /* NULL: none usable */
    const char *lake_dir;
    char why_none[256];     /* why no archive is used */
    const schema_t *schema; /* p's */
    lake_column_t *cols;    /* the schema's fields as lake columns */
    schema_value_t *vals;
    size_t nfields;
    int64_t lake_rows, lake_files;
    holes_t h;
} job_t;

static stream_pipeline_t *find_pipeline(const batch_env_t *env, const char *name)
{
    for (size_t i = 0; name != NULL && i < env->npipelines; i++)
        if (strcmp(stream_pipeline_name(env->pipelines[i]), name) == 0)
            return env->pipelines[i];
    return NULL;
}

static int lineage_range(void *arg, int32_t partition, int64_t from, int64_t to)
{
    job_t *j = arg;
    return batch_lineage_range(j->run, j->topic, partition, from, to);
}

/* interval_start (us) - lookback (ms), in ms, rounded down, saturating. */
static int64_t read_from_ms(int64_t start_us, int64_t lookback_ms)
{
    int64_t ms = start_us / 1000 - (start_us % 1000 < 0 ? 1 : 0);
    if (lookback_ms <= 0)
        return ms;
    return ms < INT64_MIN + lookback_ms ? INT64_MIN : ms - lookback_ms;
}

/* ------------------------------------------------------------------------
 * Choosing the archive
 * ------------------------------------------------------------------------ */

static int parse_input(const batch_run_t *run, input_t *out)
{
    const char *v = batch_param_get(run, "input");
    *out = INPUT_AUTO;
    if (v == NULL || strcmp(v, "auto") == 0)
        return 0;
    if (strcmp(v, "log") == 0)
        *out = INPUT_LOG;
    else if (strcmp(v, "lake") == 0)
        *out = INPUT_LAKE;
    else
        return core_error(CORE_EINVAL, "job %s: parameter input is '%s': use auto, log or lake",
                          run->job->name, v);
    return 0;
}

/* The run parameter `threads`: threads reading the log (0, the default:
 * the online CPUs; stream_recompute takes at most one per partition). */
static int parse_threads(const batch_run_t *run, int *out)
{
    const char *v = batch_param_get(run, "threads");
    *out = 0;
    if (v == NULL)
        return 0;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < 0 || n > 1024)
        return core_error(CORE_EINVAL,
                          "job %s: parameter threads is '%s': use a count from 1 to 1024, or 0 "
                          "for one per CPU",
                          run->job->name, v);
    *out = (int)n;
    return 0;
}

/* The first archive pipeline of the topic whose lake holds every valid
 * record as p decodes it: same schema, no filter. */
static void find_archive(job_t *j)
{
    const batch_env_t *env = j->run->env;
    snprintf(j->why_none, sizeof j->why_none, "no archive pipeline of topic %s", j->topic);
    stream_pipeline_info_t mine;
    stream_pipeline_info(j->p, &mine);
    for (size_t i = 0; i < env->npipelines; i++) {
        stream_pipeline_t *q = env->pipelines[i];
        stream_pipeline_info_t info;
        stream_pipeline_info(q, &info);
        if (info.sink_ops != &lake_archive_ops || strcmp(stream_pipeline_topic(q), j->topic) != 0)
            continue;
        if (info.filtered || info.schema != mine.schema) {
            snprintf(j->why_none, sizeof j->why_none,
                     "archive pipeline %s %s, so its lake does not hold every record as %s "
                     "decodes it",
                     stream_pipeline_name(q), info.filtered ? "has a filter" : "has another schema",
                     stream_pipeline_name(j->p));
            continue;
        }
        j->archive = q;
        j->lake_dir = lake_archive_dir(info.sink);
        return;
    }
}

static int make_columns(job_t *j)
{
    static const lake_col_type_t types[] = {
        [SCHEMA_BOOL] = LAKE_COL_BOOL,           [SCHEMA_INT] = LAKE_COL_INT64,
        [SCHEMA_FLOAT] = LAKE_COL_DOUBLE,        [SCHEMA_STRING] = LAKE_COL_STRING,
        [SCHEMA_TIMESTAMP] = LAKE_COL_TIMESTAMP, [SCHEMA_OBJECT] = LAKE_COL_STRING,
        [SCHEMA_ARRAY] = LAKE_COL_STRING,
    };
    stream_pipeline_info_t info;
    stream_pipeline_info(j->p, &info);
    j->schema = info.schema;
    j->nfields = schema_field_count(info.schema);
    j->cols = core_calloc(CORE_MEM_BATCH, j->nfields + 1, sizeof *j->cols);
    j->vals = core_calloc(CORE_MEM_BATCH, j->nfields + 1, sizeof *j->vals);
    if (j->cols == NULL || j->vals == NULL)
        return core_error(CORE_ENOMEM, "batch: out of memory");
    for (size_t i = 0; i < j->nfields; i++) {
        const schema_field_t *f = schema_field(info.schema, i);
        j->cols[i] = (lake_column_t){f->name, types[f->type], !f->required};
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Gaps: holes in the lake's offsets, explained by the archive's dlq or not
 * ------------------------------------------------------------------------ */

static void add_missing(holes_t *h, int64_t from, int64_t to)
{
    if (from >= to)
        return;
    h->missing += to - from;
    if (h->nshown < SHOWN_RANGES)
        h->shown[h->nshown++] = (span_t){from, to};
    else
        h->more++;
}

static int take_offset(void *arg, const schema_value_t *v, size_t n)
{
    holes_t *h = arg;
    if (n < 1 || v[0].type != SCHEMA_INT)
        return 0;
    if (h->ndlq == DLQ_CAP)
        return core_error(CORE_ETOOBIG, "batch: more than %d dlq rows among the lake's holes",
                          DLQ_CAP);
    if (h->ndlq == h->capdlq) {
        size_t cap = h->capdlq == 0 ? 1024 : h->capdlq * 2;
        int64_t *p = core_realloc(CORE_MEM_BATCH, h->dlq, cap * sizeof *p);
        if (p == NULL)
            return core_error(CORE_ENOMEM, "batch: out of memory");
        h->dlq = p;
        h->capdlq = cap;
    }
    h->dlq[h->ndlq++] = v[0].v.i;
    return 0;
}

/* Checks the needed holes v[0..firm) against the archive's dlq rows of the
 * partition, then keeps only the tentative ones. */
static int check_holes(job_t *j, int32_t part)
{
    holes_t *h = &j->h;
    if (h->firm == 0)
        return 0;
    const char *arch = stream_pipeline_name(j->archive);
    schema_value_t v[5] = {
        {.type = SCHEMA_STRING, .v.s = {arch, strlen(arch)}},
        {.type = SCHEMA_STRING, .v.s = {j->topic, strlen(j->topic)}},
        {.type = SCHEMA_INT, .v.i = part},
        {.type = SCHEMA_INT, .v.i = h->v[0].from},
        {.type = SCHEMA_INT, .v.i = h->v[h->firm - 1].to},
    };
    h->ndlq = 0;
    int rc = store_exec(j->run->store,
                        "SELECT \"offset\" FROM \"dlq\" WHERE \"pipeline\" = ?1 AND \"topic\" = ?2 "
                        "AND \"partition\" = ?3 AND \"offset\" >= ?4 AND \"offset\" < ?5 "
                        "ORDER BY \"offset\"",
                        v, 5, take_offset, h, NULL);
    if (rc != 0)
        return rc;
    size_t d = 0;
    for (size_t i = 0; i < h->firm; i++) {
        int64_t at = h->v[i].from;
        while (d < h->ndlq && h->dlq[d] < h->v[i].from)
            d++;
        for (; d < h->ndlq && h->dlq[d] < h->v[i].to; d++) {
            add_missing(h, at, h->dlq[d]);
            at = h->dlq[d] + 1;
            h->explained++;
        }
        add_missing(h, at, h->v[i].to);
    }
    memmove(h->v, h->v + h->firm, (h->n - h->firm) * sizeof *h->v);
    h->n -= h->firm;
    h->firm = 0;
    return 0;
}

static int push_hole(job_t *j, int32_t part, int64_t from, int64_t to)
{
    holes_t *h = &j->h;
    if (h->n == h->cap) {
        size_t cap = h->cap == 0 ? 64 : h->cap * 2;
        span_t *p = core_realloc(CORE_MEM_BATCH, h->v, cap * sizeof *p);
        if (p == NULL)
            return core_error(CORE_ENOMEM, "batch: out of memory");
        h->v = p;
        h->cap = cap;
    }
    h->v[h->n++] = (span_t){from, to};
    if (h->seen_needed)
        h->firm = h->n;
    return h->firm >= HOLES_BATCH ? check_holes(j, part) : 0;
}

/* A row at `offset` after the one at `prev`: the hole between them, and
 * what the row says of the tentative holes. */
static int note_row(job_t *j, int32_t part, int64_t prev, int64_t offset, bool needed)
{
    holes_t *h = &j->h;
    int rc = offset > prev + 1 ? push_hole(j, part, prev + 1, offset) : 0;
    if (rc != 0 || h->seen_needed)
        return rc;
    if (needed) {
        h->seen_needed = true;
        h->firm = h->n;
    } else {
        h->n = h->firm; /* holes before an old row are not needed */
    }
    return 0;
}

static int gap_error(job_t *j, int32_t part, int64_t log_start)
{
    const holes_t *h = &j->h;
    char ranges[256];
    size_t at = 0;
    for (size_t i = 0; i < h->nshown && at < sizeof ranges; i++) {
        int n = snprintf(ranges + at, sizeof ranges - at, "%s%" PRId64 "-%" PRId64,
                         i > 0 ? ", " : "", h->shown[i].from, h->shown[i].to - 1);
        at += n > 0 ? (size_t)n : 0;
    }
    char more[64] = "";
    if (h->more > 0)
        snprintf(more, sizeof more, " and %zu more ranges", h->more);
    core_log(CORE_LOG_WARN, "batch",
             "job %s: topic %s partition %d: offsets %s%s (%" PRId64
             " in all) are in neither the log (it starts at %" PRId64
             ") nor the lake (%s) nor the dlq of archive %s",
             j->run->job->name, j->topic, (int)part, ranges, more, h->missing, log_start,
             j->lake_dir, stream_pipeline_name(j->archive));
    return core_error(CORE_ENOENT,
                      "job %s: offsets %s%s (%" PRId64 " in all) of topic %s partition %d are in "
                      "neither the log (it starts at %" PRId64 ") nor the lake nor the archive's "
                      "dlq: restore the lake's files, or run with --param input=log",
                      j->run->job->name, ranges, more, h->missing, j->topic, (int)part, log_start);
}

/* ------------------------------------------------------------------------
 * Lineage: the lake files read, with their SHA-256
 * ------------------------------------------------------------------------ */

static int file_sha256(const char *path, char hex[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return core_error(CORE_EIO, "batch: cannot open %s: %s", path, strerror(errno));
    uint8_t *buf = core_alloc(CORE_MEM_BATCH, SHA_CHUNK);
    int rc = buf == NULL ? core_error(CORE_ENOMEM, "batch: out of memory") : 0;
    core_sha256_t sha;
    core_sha256_init(&sha);
    while (rc == 0) {
        ssize_t n = read(fd, buf, SHA_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = core_error(CORE_EIO, "batch: reading %s: %s", path, strerror(errno));
        if (n <= 0)
            break;
        core_sha256_update(&sha, buf, (size_t)n);
    }
    close(fd);
    core_free(buf);
    uint8_t digest[32];
    core_sha256_final(&sha, digest);
    core_sha256_hex(digest, hex);
    return rc;
}

static int record_files(job_t *j, const lake_scan_t *s)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < lake_scan_nfiles(s); i++) {
        bool read = false;
        int64_t needed = 0;
        const char *path = lake_scan_file(s, i, &read, &needed);
        if (!read)
            continue;
        char hex[65];
        rc = file_sha256(path, hex);
        if (rc == 0)
            rc = batch_lineage_file(j->run, path, hex, needed);
        j->lake_files++;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * The source: the lake below the log's start
 * ------------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* One needed row as the record the pipeline decoded. */
static int feed_row(job_t *j, const lake_scan_row_t *row, stream_recompute_feed_fn feed, void *ctx)
{
    for (size_t i = 0; i < j->nfields; i++) {
        j->vals[i] = row->values[i];
        schema_type_t t = schema_field(j->schema, i)->type;
        if ((t == SCHEMA_OBJECT || t == SCHEMA_ARRAY) && j->vals[i].type == SCHEMA_STRING)
            j->vals[i].type = t; /* the archive keeps their JSON text */
    }
    stream_recompute_record_t rec = {
        .values = j->vals,
        .key = row->key,
        .key_len = row->key_len,
        .offset = row->offset,
        .timestamp_ms = floor_div(row->timestamp_us, 1000),
    };
    j->lake_rows++;
    return feed(ctx, &rec);
}

static int scan_lake(job_t *j, int32_t part, int64_t log_start, int64_t from_ms,
                     stream_recompute_feed_fn feed, void *ctx)
{
    lake_scan_config_t c = {
        .dir = j->lake_dir,
        .topic = j->topic,
        .partition = part,
        .before = log_start,
        .from_us = from_ms < INT64_MIN / 1000   ? INT64_MIN
                   : from_ms > INT64_MAX / 1000 ? INT64_MAX
                                                : from_ms * 1000,
        .fields = j->cols,
        .nfields = j->nfields,
    };
    lake_scan_t *s = NULL;
    int rc = lake_scan_open(&c, &s);
    int64_t prev = rc == 0 ? lake_scan_start(s) - 1 : -1;
    lake_scan_row_t row;
    while (rc == 0 && (rc = lake_scan_next(s, &row)) == 1) {
        rc = note_row(j, part, prev, row.offset, row.needed);
        prev = row.offset;
        if (rc == 0 && row.needed)
            rc = feed_row(j, &row, feed, ctx);
    }
    if (rc == 0 && prev + 1 < log_start) {
        j->h.seen_needed = true; /* the log's first record is within the read */
        rc = push_hole(j, part, prev + 1, log_start);
    }
    if (rc == 0) {
        j->h.firm = j->h.n;
        rc = check_holes(j, part);
    }
    if (s != NULL && lake_scan_duplicates(s) > 0)
        core_log(CORE_LOG_WARN, "batch",
                 "job %s: topic %s partition %d: %" PRId64 " offsets are in two lake files; "
                 "each was read once",
                 j->run->job->name, j->topic, (int)part, lake_scan_duplicates(s));
    int lrc = s != NULL ? record_files(j, s) : 0;
    lake_scan_close(s);
    return rc != 0 ? rc : lrc;
}

static int source(void *arg, int32_t part, int64_t log_start, int64_t from_ms,
                  stream_recompute_feed_fn feed, void *ctx)
{
    job_t *j = arg;
    if (j->input == INPUT_LOG || j->archive == NULL) {
        core_log(CORE_LOG_WARN, "batch",
                 "job %s: topic %s partition %d: the log starts at offset %" PRId64
                 " within the read; records before it are not read (%s)",
                 j->run->job->name, j->topic, (int)part, log_start,
                 j->input == INPUT_LOG ? "input: log" : j->why_none);
        return 0;
    }
    holes_t *h = &j->h; /* per partition; its buffers are kept */
    h->n = h->firm = h->nshown = h->more = 0;
    h->seen_needed = false;
    h->explained = h->missing = 0;
    int64_t rows = j->lake_rows;
    int rc = scan_lake(j, part, log_start, from_ms, feed, ctx);
    if (rc == 0 && h->missing > 0)
        return gap_error(j, part, log_start);
    if (rc == 0)
        core_log(CORE_LOG_INFO, "batch",
                 "job %s: topic %s partition %d: %" PRId64 " records below offset %" PRId64
                 " read from the lake (%s); %" PRId64 " offsets there are the archive's dlq rows",
                 j->run->job->name, j->topic, (int)part, j->lake_rows - rows, log_start,
                 j->lake_dir, h->explained);
    return rc;
}

/* ------------------------------------------------------------------------
 * The run
 * ------------------------------------------------------------------------ */

static int prepare(job_t *j)
{
    int rc = parse_input(j->run, &j->input);
    if (rc != 0 || j->input == INPUT_LOG)
        return rc;
    find_archive(j);
    if (j->archive == NULL && j->input == INPUT_LAKE)
        return core_error(CORE_ENOENT, "job %s: input is lake, but %s", j->run->job->name,
                          j->why_none);
    return j->archive != NULL ? make_columns(j) : 0;
}

static void job_fini(job_t *j)
{
    core_free(j->cols);
    core_free(j->vals);
    core_free(j->h.v);
    core_free(j->h.dlq);
}

int batch_recompute_run(batch_run_t *run)
{
    const batch_job_def_t *job = run->job;
    stream_pipeline_t *p = find_pipeline(run->env, job->pipeline);
    if (p == NULL)
        return core_error(CORE_EINVAL, "job %s: no pipeline named %s", job->name,
                          job->pipeline != NULL ? job->pipeline : "(none)");
    if (stream_pipeline_kind(p) != STREAM_KIND_AGGREGATE)
        return core_error(CORE_EINVAL, "job %s: pipeline %s is not an aggregate pipeline",
                          job->name, job->pipeline);
    int64_t lookback = job->lookback_ms > 0 ? job->lookback_ms : stream_pipeline_lookback_ms(p);
    job_t j = {.run = run, .p = p, .topic = stream_pipeline_topic(p)};
    int threads = 0;
    int rc = parse_threads(run, &threads);
    if (rc == 0)
        rc = prepare(&j);
    stream_recompute_opts_t o = {
        .from_us = run->interval_start_us,
        .to_us = run->interval_end_us,
        .read_from_ms = read_from_ms(run->interval_start_us, lookback),
        .threads = threads,
        .stop = run->stop,
        .range_fn = lineage_range,
        .source_fn = source,
        .arg = &j,
    };
    stream_recompute_stats_t st = {0};
    if (rc == 0)
        rc = stream_recompute(p, run->env->bus, run->store, &o, &st);
    job_fini(&j);
    run->rows_in = st.records;
    run->rows_out = st.rows;
    if (rc != 0)
        return rc;
    core_log(CORE_LOG_INFO, "batch",
             "job %s: recomputed %s: %lld records read (%lld from %lld lake files; %lld valid, "
             "%lld invalid, %lld filtered, %lld outside the range), %lld rows written, %lld "
             "stale rows deleted",
             job->name, stream_pipeline_output(p), (long long)st.records, (long long)st.sourced,
             (long long)j.lake_files, (long long)st.valid, (long long)st.invalid,
             (long long)st.filtered, (long long)st.outside, (long long)st.rows,
             (long long)st.deleted);
    return batch_lineage_output(run, "view", stream_pipeline_output(p), st.rows);
}

/*
 * cmd_produce.c - `strata produce TOPIC`: each line of stdin becomes a record.
 *
 * Lines are split on '\n' (a trailing "\r\n" counts as one terminator); an
 * empty line is an empty value. Records collect in one record_builder_t per
 * partition and go to seglog_append() as a batch when the batch holds
 * --batch records, when the next record would push it past the topic's
 * max.message.bytes, or at the end of input. Partition choice, per record:
 * --partition P; else with --key-field the Kafka default partitioner
 * (murmur2 of the key, made positive, modulo the partition count); else
 * round-robin, moving on with each batch. --compression sets the builders'
 * codec (Kafka's compression.type names).
 *
 * Invariants:
 *  - no line longer than max.message.bytes is ever buffered: the reader's
 *    buffer is sized from that cap and a longer line is an error;
 *  - a record reaches the log only with every record before it from the
 *    same partition; when a line fails, the records before it are appended
 *    (and synced) before the error is reported, and none after it;
 *  - before exit every partition written is seglog_sync()ed to the end of
 *    what this command appended.
 *
 * Threading: single-threaded. SIGINT/SIGTERM end the input as EOF would,
 * dropping an unterminated partial line.
 */
#include "app/app.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "record/record.h"

#define READ_CHUNK    65536
#define DEFAULT_BATCH 1000
#define MAX_BATCH     1000000

/* ------------------------------------------------------------------------
 * Line reader: stdin split into lines, borrowed from the buffer until the
 * next call. The buffer holds cap + 2 ("\r\n") + READ_CHUNK bytes, so a line
 * of up to cap bytes is always found whole.
 * ------------------------------------------------------------------------ */
typedef struct {
    int fd;
    uint8_t *buf; /* owned */
    size_t size;
    size_t start; /* first byte not yet returned */
    size_t end;   /* end of the bytes read */
    size_t cap;   /* longest line accepted */
    bool eof;
    bool interrupted;
} line_reader_t;

static int reader_init(line_reader_t *r, int fd, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->cap = cap;
    r->size = cap + 2 + READ_CHUNK;
    r->buf = core_alloc(CORE_MEM_APP, r->size);
    if (r->buf == NULL)
        return core_error(CORE_ENOMEM, "line buffer of %zu bytes", r->size);
    return 0;
}

static void reader_fini(line_reader_t *r)
{
    core_free(r->buf);
    r->buf = NULL;
}

/* Moves the pending bytes to the front and reads once more. */
static int reader_fill(line_reader_t *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    for (;;) {
        if (app_stop_requested()) {
            r->eof = r->interrupted = true;
            return 0;
        }
        ssize_t n = read(r->fd, r->buf + r->end, r->size - r->end);
        if (n > 0) {
            r->end += (size_t)n;
            return 0;
        }
        if (n == 0) {
            r->eof = true;
            return 0;
        }
        if (errno != EINTR)
            return core_error(CORE_EIO, "read stdin: %s", strerror(errno));
    }
}

/* Returns 1 with the next line (terminator stripped), 0 at the end, or
 * CORE_ETOOBIG for a line over the cap, or CORE_EIO. */
static int reader_next(line_reader_t *r, const uint8_t **line, size_t *len)
{
    for (;;) {
        uint8_t *s = r->buf + r->start;
        size_t avail = r->end - r->start;
        uint8_t *nl = avail > 0 ? memchr(s, '\n', avail) : NULL;
        size_t n = avail;
        if (nl != NULL) {
            n = (size_t)(nl - s);
            r->start += n + 1;
            if (n > 0 && s[n - 1] == '\r')
                n--;
        } else if (avail > r->cap + 1) {
            n = avail;
        } else if (!r->eof) {
            int rc = reader_fill(r);
            if (rc != 0)
                return rc;
            continue;
        } else if (avail == 0 || r->interrupted) {
            return 0;
        } else {
            r->start = r->end; /* last line, no terminator */
        }
        if (n > r->cap)
            return core_error(CORE_ETOOBIG, "longer than max.message.bytes (%zu bytes)", r->cap);
        *line = s;
        *len = n;
        return 1;
    }
}

/* ------------------------------------------------------------------------
 * Key extraction, with core's JSON scanner. The whole line must be valid
 * JSON (a line the scanner rejects would be rejected by a pipeline too).
 * ------------------------------------------------------------------------ */

/* Finds top-level member `field` of the JSON object in line[0..len) and
 * leaves its value in `out`: a string decoded, a number as its text.
 * CORE_EINVAL with a detail when the line is not such an object. */
static int json_find_field(const uint8_t *line, size_t len, const char *field, core_buf_t *out)
{
    core_json_value_t root, v;
    core_json_error_t err;
    if (core_json_parse((const char *)line, len, 0, &root, &err) != 0)
        return core_error(CORE_EINVAL, "not valid JSON: byte %zu: %s", err.offset, err.what);
    if (root.type != CORE_JSON_OBJECT)
        return core_error(CORE_EINVAL, "not a JSON object");
    if (core_json_find(&root, field, strlen(field), &v) != 0)
        return core_error(CORE_EINVAL, "no top-level field \"%s\"", field);
    core_buf_reset(out);
    if (v.type == CORE_JSON_STRING)
        return core_json_string_decode(&v, out);
    if (v.type == CORE_JSON_NUMBER)
        return core_buf_append(out, v.p, v.len);
    return core_error(CORE_EINVAL, "field \"%s\" is not a string or number", field);
}

/* ------------------------------------------------------------------------
 * Producer: builders per partition and the append/sync bookkeeping.
 * ------------------------------------------------------------------------ */
typedef struct {
    record_builder_t builder;
    bool ready;  /* builder initialised */
    int64_t end; /* offset after this command's last append, -1 if none */
} part_out_t;

typedef struct {
    const char *topic_name;
    seglog_topic_t *topic;
    int32_t nparts;
    size_t max_bytes;  /* max.message.bytes of the topic */
    part_out_t *parts; /* owned, nparts entries */
    int64_t batch_records;
    record_codec_t codec;  /* --compression */
    int32_t fixed_part;    /* --partition, or -1 */
    int32_t rr_part;       /* round-robin's current partition */
    const char *key_field; /* --key-field, or NULL */
    core_buf_t key;        /* decoded key of the current line */
    int64_t produced;      /* records appended */
    char failed_at[128];   /* what an error was about: "line 7", "append to t-2" */
    bool append_failed;    /* the error came from seglog, not from the input */
} producer_t;

static int producer_init(producer_t *pr, seglog_topic_t *t)
{
    const seglog_topic_config_t *cfg = seglog_topic_config(t);
    pr->topic = t;
    pr->topic_name = seglog_topic_name(t);
    pr->nparts = cfg->partitions;
    pr->max_bytes = (size_t)cfg->max_message_bytes;
    pr->parts = core_calloc(CORE_MEM_APP, (size_t)pr->nparts, sizeof *pr->parts);
    if (pr->parts == NULL)
        return core_error(CORE_ENOMEM, "state for %d partitions", (int)pr->nparts);
    for (int32_t p = 0; p < pr->nparts; p++)
        pr->parts[p].end = -1;
    core_buf_init(&pr->key, CORE_MEM_APP, pr->max_bytes);
    /* Round-robin starts where the clock says, so that runs of small inputs
     * spread over the partitions instead of all landing on partition 0. */
    pr->rr_part = (int32_t)((uint64_t)core_mono_ns() % (uint64_t)pr->nparts);
    return 0;
}

static void producer_fini(producer_t *pr)
{
    if (pr->parts != NULL)
        for (int32_t p = 0; p < pr->nparts; p++)
            if (pr->parts[p].ready)
                record_builder_fini(&pr->parts[p].builder);
    core_free(pr->parts);
    core_buf_fini(&pr->key);
}

/* Appends partition p's pending batch, if any. */
static int flush_part(producer_t *pr, int32_t p)
{
    part_out_t *o = &pr->parts[p];
    if (!o->ready || record_builder_count(&o->builder) == 0)
        return 0;
    int32_t count = record_builder_count(&o->builder);
    seglog_part_t *part = seglog_partition(pr->topic, p);
    uint8_t *batch = NULL;
    size_t len = 0;
    int64_t base = 0;
    core_error_clear();
    int rc = record_builder_finish(&o->builder, &batch, &len);
    if (rc == 0)
        rc = seglog_append(part, batch, len, &base);
    record_builder_reset(&o->builder);
    if (rc != 0) {
        snprintf(pr->failed_at, sizeof pr->failed_at, "append %d records to %s", (int)count,
                 seglog_part_name(part));
        pr->append_failed = true;
        return rc;
    }
    pr->produced += count;
    o->end = base + count;
    if (pr->fixed_part < 0 && pr->key_field == NULL)
        pr->rr_part = (pr->rr_part + 1) % pr->nparts;
    return 0;
}

static int flush_all(producer_t *pr)
{
    for (int32_t p = 0; p < pr->nparts; p++) {
        int rc = flush_part(pr, p);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Waits until everything this command appended is on disk. */
static int sync_all(producer_t *pr)
{
    for (int32_t p = 0; p < pr->nparts; p++) {
        if (pr->parts[p].end < 0)
            continue;
        seglog_part_t *part = seglog_partition(pr->topic, p);
        core_error_clear();
        int rc = seglog_sync(part, pr->parts[p].end);
        if (rc != 0) {
            snprintf(pr->failed_at, sizeof pr->failed_at, "sync %s", seglog_part_name(part));
            pr->append_failed = true;
            return rc;
        }
    }
    return 0;
}

/* Picks the partition of the current line; with --key-field extracts the
 * key into pr->key first. */
static int choose_partition(producer_t *pr, const uint8_t *line, size_t len, int32_t *p)
{
    if (pr->key_field != NULL) {
        int rc = json_find_field(line, len, pr->key_field, &pr->key);
        if (rc != 0)
            return rc;
    }
    if (pr->fixed_part >= 0)
        *p = pr->fixed_part;
    else if (pr->key_field != NULL)
        *p = (int32_t)((core_murmur2(pr->key.data, pr->key.len) & 0x7fffffffu) %
                       (uint32_t)pr->nparts);
    else
        *p = pr->rr_part;
    return 0;
}

static int add_record(producer_t *pr, int32_t p, const uint8_t *line, size_t len)
{
    part_out_t *o = &pr->parts[p];
    if (!o->ready) {
        record_builder_init(&o->builder, CORE_MEM_APP, pr->max_bytes);
        record_builder_set_codec(&o->builder, pr->codec);
        o->ready = true;
    }
    static const uint8_t empty[1] = {0};
    const void *key = NULL;
    int32_t key_len = -1;
    if (pr->key_field != NULL) {
        key = pr->key.len > 0 ? pr->key.data : empty;
        key_len = (int32_t)pr->key.len;
    }
    const void *value = len > 0 ? line : empty;
    return record_builder_add(&o->builder, core_wall_ms(), key, key_len, value, (int32_t)len, NULL,
                              0);
}

/* Adds one line as a record, appending batches as they fill. */
static int produce_line(producer_t *pr, const uint8_t *line, size_t len, int64_t lineno)
{
    int32_t p = 0;
    snprintf(pr->failed_at, sizeof pr->failed_at, "line %lld", (long long)lineno);
    core_error_clear();
    int rc = choose_partition(pr, line, len, &p);
    if (rc != 0)
        return rc;
    rc = add_record(pr, p, line, len);
    if (rc == CORE_ETOOBIG && record_builder_count(&pr->parts[p].builder) > 0) {
        rc = flush_part(pr, p);
        if (rc != 0)
            return rc;
        snprintf(pr->failed_at, sizeof pr->failed_at, "line %lld", (long long)lineno);
        if (pr->fixed_part < 0 && pr->key_field == NULL)
            p = pr->rr_part; /* round-robin moved on with the batch */
        rc = add_record(pr, p, line, len);
    }
    if (rc == CORE_ETOOBIG)
        return core_error(rc,
                          "a record of %zu bytes does not fit in one batch of "
                          "max.message.bytes=%zu (batch and record headers need ~80 bytes)",
                          len, pr->max_bytes);
    if (rc != 0)
        return rc;
    if (record_builder_count(&pr->parts[p].builder) >= pr->batch_records)
        return flush_part(pr, p);
    return 0;
}

/* Reads stdin to the end, or to the first failing line. */
static int produce_stream(producer_t *pr, line_reader_t *r, int64_t *lineno)
{
    for (;;) {
        const uint8_t *line = NULL;
        size_t len = 0;
        core_error_clear();
        int rc = reader_next(r, &line, &len);
        if (rc == 0)
            return flush_all(pr);
        if (rc < 0) {
            if (rc == CORE_ETOOBIG)
                snprintf(pr->failed_at, sizeof pr->failed_at, "line %lld",
                         (long long)(*lineno + 1));
            else
                snprintf(pr->failed_at, sizeof pr->failed_at, "read stdin");
            return rc;
        }
        (*lineno)++;
        rc = produce_line(pr, line, len, *lineno);
        if (rc != 0)
            return rc;
    }
}

/* Reports a failed run. Records before a bad line are still appended, so
 * that the input up to it is in the log exactly once. */
static int report_failure(producer_t *pr, int rc)
{
    app_fail(rc, "produce to %s: %s", pr->topic_name, pr->failed_at);
    bool bad_line = !pr->append_failed && strncmp(pr->failed_at, "line ", 5) == 0;
    if (!pr->append_failed) {
        rc = flush_all(pr);
        if (rc != 0)
            app_fail(rc, "produce to %s: %s", pr->topic_name, pr->failed_at);
    }
    rc = sync_all(pr);
    if (rc != 0)
        app_fail(rc, "produce to %s: %s", pr->topic_name, pr->failed_at);
    const char *s = pr->produced == 1 ? "" : "s";
    const char *were = pr->produced == 1 ? "was" : "were";
    if (bad_line)
        fprintf(stderr,
                "strata: the %lld record%s before %s %s appended to %s and stay%s there; "
                "fix the line and produce the input from it on (tail -n +%s)\n",
                (long long)pr->produced, s, pr->failed_at, were, pr->topic_name,
                pr->produced == 1 ? "s" : "", pr->failed_at + 5);
    else
        fprintf(stderr,
                "strata: %lld record%s %s appended to %s before the error and stay%s "
                "there\n",
                (long long)pr->produced, s, were, pr->topic_name, pr->produced == 1 ? "s" : "");
    return APP_EXIT_ERROR;
}

typedef struct {
    const char *topic;
    const char *key_field;
    int64_t partition; /* -1 = not given */
    int64_t batch;
    record_codec_t codec;
} produce_opts_t;

/* Kafka's compression.type names. */
static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static int parse_codec(const char *s, record_codec_t *out)
{
    for (size_t i = 0; i < CORE_ARRAY_LEN(codec_names); i++) {
        if (strcmp(s, codec_names[i]) == 0) {
            *out = (record_codec_t)i;
            return 0;
        }
    }
    return app_usage_error("produce", "--compression %s: use none, gzip, snappy, lz4 or zstd", s);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: strata produce TOPIC [options] < LINES\n"
            "\n"
            "Appends each line of stdin to TOPIC as one record (an empty line is an empty\n"
            "value; a trailing \\r\\n or \\n is stripped). Lines longer than the topic's\n"
            "max.message.bytes are refused.\n"
            "\n"
            "Options:\n"
            "  --key-field NAME  key each record by top-level field NAME of its JSON line\n"
            "                    (string or number) and place it as Kafka's default\n"
            "                    partitioner would (murmur2)\n"
            "  --partition P     write every record to partition P\n"
            "  --batch N         records per batch (default %d)\n"
            "  --compression C   none, gzip, snappy, lz4 or zstd (default none)\n"
            "  --data DIR        data directory\n"
            "  -h, --help        show this help\n"
            "\n"
            "Without --partition or --key-field, batches go round-robin to the partitions.\n",
            DEFAULT_BATCH);
}

static int parse_options(app_ctx_t *ctx, int argc, char **argv, produce_opts_t *o)
{
    enum { OPT_KEY_FIELD = 0x200, OPT_PARTITION, OPT_BATCH, OPT_COMPRESSION };
    static const struct option opts[] = {
        {"key-field", required_argument, NULL, OPT_KEY_FIELD},
        {"partition", required_argument, NULL, OPT_PARTITION},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"compression", required_argument, NULL, OPT_COMPRESSION},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "produce";
    int c;
    int rc = 0;
    optind = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return APP_HELP_SHOWN;
        case APP_OPT_DATA:
            ctx->data_dir = optarg;
            break;
        case OPT_KEY_FIELD:
            o->key_field = optarg;
            if (optarg[0] == '\0')
                rc = app_usage_error(cmd, "--key-field needs a field name");
            break;
        case OPT_PARTITION:
            rc = app_parse_int(cmd, "--partition", optarg, 0, SEGLOG_PARTITIONS_MAX - 1,
                               &o->partition);
            break;
        case OPT_BATCH:
            rc = app_parse_int(cmd, "--batch", optarg, 1, MAX_BATCH, &o->batch);
            break;
        case OPT_COMPRESSION:
            rc = parse_codec(optarg, &o->codec);
            break;
        default:
            return app_option_error(cmd, c, argv, argc);
        }
    }
    if (rc != 0)
        return rc;
    return app_topic_operand(ctx, cmd, argc, argv, &o->topic);
}

/* Runs the command on an open log. */
static int produce_topic(const app_ctx_t *ctx, seglog_t *log, const produce_opts_t *o)
{
    seglog_topic_t *t = NULL;
    if (app_get_topic(ctx, log, "produce", o->topic, &t) != 0)
        return APP_EXIT_ERROR;
    int32_t nparts = seglog_topic_config(t)->partitions;
    if (o->partition >= nparts) {
        core_error(CORE_ERANGE, "topic %s has partitions 0 to %d", o->topic, (int)nparts - 1);
        return app_fail(CORE_ERANGE, "produce to %s: --partition %lld", o->topic,
                        (long long)o->partition);
    }
    producer_t pr;
    memset(&pr, 0, sizeof pr);
    pr.batch_records = o->batch;
    pr.codec = o->codec;
    pr.fixed_part = (int32_t)o->partition;
    pr.key_field = o->key_field;
    line_reader_t r;
    int rc = producer_init(&pr, t);
    if (rc == 0)
        rc = reader_init(&r, STDIN_FILENO, pr.max_bytes);
    if (rc != 0) {
        producer_fini(&pr);
        return app_fail(rc, "produce to %s", o->topic);
    }
    int64_t lineno = 0;
    int exit_code = APP_EXIT_OK;
    rc = produce_stream(&pr, &r, &lineno);
    if (rc == 0)
        rc = sync_all(&pr);
    if (rc != 0)
        exit_code = report_failure(&pr, rc);
    else
        fprintf(stderr, "produced %lld records to %s\n", (long long)pr.produced, o->topic);
    if (r.interrupted && r.end > r.start)
        fprintf(stderr,
                "strata: interrupted: the unterminated last %zu bytes of input were "
                "not produced\n",
                r.end - r.start);
    reader_fini(&r);
    producer_fini(&pr);
    return exit_code;
}

int cmd_produce(app_ctx_t *ctx, int argc, char **argv)
{
    produce_opts_t o = {.partition = -1, .batch = DEFAULT_BATCH, .codec = RECORD_CODEC_NONE};
    int rc = parse_options(ctx, argc, argv, &o);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    seglog_t *log = NULL;
    if (app_open_log(ctx, false, &log) != 0)
        return APP_EXIT_ERROR;
    app_catch_signals();
    int exit_code = produce_topic(ctx, log, &o);
    seglog_close(log);
    return exit_code;
}

/*
 * cmd_consume.c - `strata consume TOPIC`: prints records, one per line.
 *
 * Each partition read keeps a position, the next offset to print. A read
 * (seglog_read) returns whole batches starting with the one that holds the
 * position, so records below it in the first batch are skipped. Compressed
 * batches are decompressed (record_batch_decompress) before iterating. Without
 * --partition the partitions are read in order, each to its end.
 *
 * There is no --follow: the data folder is locked by the one process that
 * has it open, so nothing else can append while this command reads. Live
 * tailing belongs to Kafka consumers against the broker.
 *
 * Invariants: a position only moves forward; each record is printed at most
 * once; output is "value\n", or "key\tvalue\n" with --keys, a null key or
 * value printing as nothing. A closed stdout (EPIPE) ends the command
 * quietly, like an -n limit.
 *
 * Threading: single-threaded.
 */
#include "app/app.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "record/record.h"

#define READ_MAX_BYTES (1024 * 1024)
/* Cap on a compressed batch's records once decompressed. */
#define DECOMPRESS_MAX_BYTES (64 * 1024 * 1024)

enum { OPT_FROM_BEGINNING = 0x200, OPT_OFFSET, OPT_PARTITION, OPT_KEYS };

typedef struct {
    const char *topic;
    bool from_beginning;
    int64_t offset;    /* -1 = not given */
    int64_t max;       /* -1 = no limit */
    int64_t partition; /* -1 = all */
    bool keys;
} consume_opts_t;

typedef struct {
    int64_t remaining; /* records still to print; -1 = no limit */
    bool keys;
    bool out_closed;  /* stdout's reader went away */
    core_buf_t buf;   /* batches of the current read */
    core_buf_t plain; /* the current batch, decompressed */
} consumer_t;

static void usage(FILE *f)
{
    fprintf(f, "usage: strata consume TOPIC [options]\n"
               "\n"
               "Prints each record's value on its own line. Partitions are read in order\n"
               "(all of partition 0, then 1, ...) unless --partition picks one.\n"
               "\n"
               "Options:\n"
               "  --from-beginning   start at the first stored offset\n"
               "  --offset N         start at offset N (needs --partition if the topic has\n"
               "                     several partitions)\n"
               "  -n, --max-messages N  stop after N records\n"
               "  --partition P      read only partition P\n"
               "  --keys             print \"key<TAB>value\"\n"
               "  --data DIR         data directory\n"
               "  -h, --help         show this help\n"
               "\n"
               "Without --from-beginning or --offset, reading starts at the end of the log,\n"
               "as Kafka's auto.offset.reset=latest does, so nothing is printed.\n");
}

/* Prefixes the thread's error detail with where it happened. */
static int error_at(int code, seglog_part_t *part, const char *what, int64_t offset)
{
    char detail[CORE_ERROR_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%s", core_error_detail());
    return core_error(code, "%s %s at offset %lld%s%s", what, seglog_part_name(part),
                      (long long)offset, detail[0] != '\0' ? ": " : "", detail);
}

/* Reports a failed write to stdout; EPIPE is a quiet stop. */
static int output_error(consumer_t *cs)
{
    if (errno == EPIPE) {
        cs->out_closed = true;
        clearerr(stdout); /* so main() does not report it again */
        return 0;
    }
    return core_error(CORE_EIO, "write to stdout: %s", strerror(errno));
}

static int emit(consumer_t *cs, const record_t *r)
{
    if (cs->keys) {
        if (r->key_len > 0)
            fwrite(r->key, 1, (size_t)r->key_len, stdout);
        putchar('\t');
    }
    if (r->value_len > 0)
        fwrite(r->value, 1, (size_t)r->value_len, stdout);
    putchar('\n');
    if (ferror(stdout))
        return output_error(cs);
    return 0;
}

/* Prints the records at or after *pos of one uncompressed batch. */
static int print_batch(consumer_t *cs, seglog_part_t *part, const uint8_t *batch, size_t len,
                       int64_t *pos)
{
    record_iter_t it;
    record_t r;
    core_error_clear();
    int rc = record_iter_init(&it, batch, len, false);
    while (rc == 0 && cs->remaining != 0 && (rc = record_iter_next(&it, &r)) == 1) {
        rc = 0;
        if (r.offset < *pos)
            continue;
        *pos = r.offset + 1;
        if (cs->remaining > 0)
            cs->remaining--;
        int wrc = emit(cs, &r);
        if (wrc != 0 || cs->out_closed)
            return wrc;
    }
    if (rc < 0)
        return error_at(rc, part, "decode a batch of", *pos);
    return 0;
}

/* Prints the records at or after *pos from the batches in cs->buf,
 * decompressing those that need it, and moves *pos past them. */
static int print_batches(consumer_t *cs, seglog_part_t *part, int64_t *pos)
{
    size_t off = 0;
    while (off < cs->buf.len && cs->remaining != 0 && !cs->out_closed) {
        const uint8_t *batch = cs->buf.data + off;
        record_batch_header_t h;
        core_error_clear();
        int rc = record_batch_parse(batch, cs->buf.len - off, false, &h);
        if (rc != 0)
            return error_at(rc, part, "parse a batch of", *pos);
        size_t size = record_batch_size(&h);
        if ((h.attributes & RECORD_ATTR_CODEC_MASK) != 0) {
            core_buf_reset(&cs->plain);
            rc = record_batch_decompress(batch, size, DECOMPRESS_MAX_BYTES, &cs->plain);
            if (rc != 0)
                return error_at(rc, part, "decompress a batch of", *pos);
            rc = print_batch(cs, part, cs->plain.data, cs->plain.len, pos);
        } else {
            rc = print_batch(cs, part, batch, size, pos);
        }
        if (rc != 0 || cs->remaining == 0 || cs->out_closed)
            return rc;
        /* Whole batch done; this also steps over offsets that no record
         * carries (a batch may end in a gap). */
        *pos = CORE_MAX(*pos, record_batch_last_offset(&h) + 1);
        off += size;
    }
    return 0;
}

/* Prints what partition `part` holds from *pos to its current end. */
static int drain_part(consumer_t *cs, seglog_part_t *part, int64_t *pos)
{
    while (cs->remaining != 0 && !cs->out_closed && !app_stop_requested()) {
        if (*pos >= seglog_log_end(part))
            return 0;
        int64_t start = seglog_log_start(part);
        if (*pos < start) {
            core_log(CORE_LOG_WARN, "app",
                     "%s: offsets %lld to %lld were deleted by "
                     "retention; going on from %lld",
                     seglog_part_name(part), (long long)*pos, (long long)start - 1,
                     (long long)start);
            *pos = start;
        }
        core_buf_reset(&cs->buf);
        core_error_clear();
        int rc = seglog_read(part, *pos, READ_MAX_BYTES, &cs->buf);
        if (rc != 0)
            return error_at(rc, part, "read", *pos);
        if (cs->buf.len == 0)
            return 0;
        int64_t before = *pos;
        rc = print_batches(cs, part, pos);
        if (rc != 0)
            return rc;
        if (*pos == before && cs->remaining != 0 && !cs->out_closed)
            return core_error(CORE_ECORRUPT,
                              "read %s at offset %lld returned no record at "
                              "or after it",
                              seglog_part_name(part), (long long)before);
    }
    return 0;
}

/* Reads partitions [first, last] from positions pos[0..] to their ends. */
static int consume_loop(consumer_t *cs, seglog_topic_t *t, int32_t first, int32_t last,
                        int64_t *pos)
{
    for (int32_t p = first; p <= last; p++) {
        int rc = drain_part(cs, seglog_partition(t, p), &pos[p - first]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The first position to read in partition p, checking --offset. */
static int start_position(const consume_opts_t *o, seglog_part_t *part, int64_t *pos)
{
    int64_t start = seglog_log_start(part);
    int64_t end = seglog_log_end(part);
    if (o->offset < 0) {
        *pos = o->from_beginning ? start : end;
        return 0;
    }
    if (o->offset < start || o->offset >= end)
        return core_error(CORE_ERANGE, "offset %lld out of range [%lld, %lld) for %s",
                          (long long)o->offset, (long long)start, (long long)end,
                          seglog_part_name(part));
    *pos = o->offset;
    return 0;
}

static int parse_option(const char *cmd, int c, consume_opts_t *o)
{
    switch (c) {
    case OPT_FROM_BEGINNING:
        o->from_beginning = true;
        return 0;
    case OPT_OFFSET:
        return app_parse_int(cmd, "--offset", optarg, 0, INT64_MAX, &o->offset);
    case OPT_PARTITION:
        return app_parse_int(cmd, "--partition", optarg, 0, SEGLOG_PARTITIONS_MAX - 1,
                             &o->partition);
    case OPT_KEYS:
        o->keys = true;
        return 0;
    case 'n':
        return app_parse_int(cmd, "-n", optarg, 0, INT64_MAX, &o->max);
    default:
        return APP_EXIT_USAGE;
    }
}

static int parse_options(app_ctx_t *ctx, int argc, char **argv, consume_opts_t *o)
{
    static const struct option opts[] = {
        {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
        {"offset", required_argument, NULL, OPT_OFFSET},
        {"partition", required_argument, NULL, OPT_PARTITION},
        {"keys", no_argument, NULL, OPT_KEYS},
        {"max-messages", required_argument, NULL, 'n'},
        {"data", required_argument, NULL, APP_OPT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "consume";
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hn:", opts, NULL)) != -1) {
        int rc;
        if (c == 'h') {
            usage(stdout);
            return APP_HELP_SHOWN;
        }
        if (c == APP_OPT_DATA)
            ctx->data_dir = optarg;
        else if (c == ':' || c == '?')
            return app_option_error(cmd, c, argv, argc);
        else if ((rc = parse_option(cmd, c, o)) != 0)
            return rc;
    }
    if (o->from_beginning && o->offset >= 0)
        return app_usage_error(cmd, "give --from-beginning or --offset, not both");
    return app_topic_operand(ctx, cmd, argc, argv, &o->topic);
}

/* Runs the command on an open log. */
static int consume_topic(const app_ctx_t *ctx, seglog_t *log, const consume_opts_t *o)
{
    seglog_topic_t *t = NULL;
    if (app_get_topic(ctx, log, "consume", o->topic, &t) != 0)
        return APP_EXIT_ERROR;
    const seglog_topic_config_t *cfg = seglog_topic_config(t);
    if (o->partition >= cfg->partitions) {
        core_error(CORE_ERANGE, "topic %s has partitions 0 to %d", o->topic,
                   (int)cfg->partitions - 1);
        return app_fail(CORE_ERANGE, "consume from %s: --partition %lld", o->topic,
                        (long long)o->partition);
    }
    if (o->offset >= 0 && o->partition < 0 && cfg->partitions > 1)
        return app_usage_error("consume",
                               "--offset needs --partition: topic %s has %d "
                               "partitions",
                               o->topic, (int)cfg->partitions);
    int32_t first = o->partition >= 0 ? (int32_t)o->partition : 0;
    int32_t last = o->partition >= 0 ? (int32_t)o->partition : cfg->partitions - 1;
    int64_t *pos = core_calloc(CORE_MEM_APP, (size_t)(last - first + 1), sizeof *pos);
    if (pos == NULL)
        return app_fail(CORE_ENOMEM, "consume from %s", o->topic);
    consumer_t cs = {.remaining = o->max, .keys = o->keys};
    core_buf_init(&cs.buf, CORE_MEM_APP, READ_MAX_BYTES + (size_t)cfg->max_message_bytes);
    core_buf_init(&cs.plain, CORE_MEM_APP, RECORD_BATCH_HEADER_SIZE + DECOMPRESS_MAX_BYTES);
    int rc = 0;
    for (int32_t p = first; p <= last && rc == 0; p++)
        rc = start_position(o, seglog_partition(t, p), &pos[p - first]);
    if (rc == 0)
        rc = consume_loop(&cs, t, first, last, pos);
    if (rc == 0 && !cs.out_closed && fflush(stdout) != 0)
        rc = output_error(&cs);
    int exit_code = rc != 0 ? app_fail(rc, "consume from %s", o->topic) : APP_EXIT_OK;
    core_buf_fini(&cs.buf);
    core_buf_fini(&cs.plain);
    core_free(pos);
    return exit_code;
}

int cmd_consume(app_ctx_t *ctx, int argc, char **argv)
{
    consume_opts_t o = {.offset = -1, .max = -1, .partition = -1};
    int rc = parse_options(ctx, argc, argv, &o);
    if (rc != 0)
        return rc == APP_HELP_SHOWN ? APP_EXIT_OK : rc;
    seglog_t *log = NULL;
    if (app_open_log(ctx, false, &log) != 0)
        return APP_EXIT_ERROR;
    app_catch_signals();
    int exit_code = consume_topic(ctx, log, &o);
    seglog_close(log);
    return exit_code;
}

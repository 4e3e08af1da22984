/*
 * import.c - the `import` job kind: CSV files (a path or a glob) into a
 * topic, one JSON record per valid row, invalid rows to the dlq.
 *
 * Per file (sorted glob order):
 *   sha256 of the file
 *   strata_imports row for (sha256, topic):
 *     state completed          -> skip the file
 *     state running (a failed  -> take it over and resume: verify what the
 *       or crashed attempt)       failed attempt produced past its last
 *                                 saved progress, then continue
 *     none                     -> insert one (state running, the topic's
 *                                 current end offsets)
 *   read the header, build the column mapping (import_map.c)
 *   chunks of up to CHUNK_ROWS rows / CHUNK_BYTES bytes, each:
 *     1. produce the valid rows, one synchronous (fsynced) batch per
 *        partition;
 *     2. commit the chunk's dlq rows (idempotent: unique per job, file
 *        and line);
 *     3. save progress: next byte and line of the file, counts, and per
 *        partition the offset after this import's last record.
 *   at the end: check the file's sha256 again, mark the row completed.
 *
 * Exactly-once: rows are produced deterministically (same file, job and
 * schema give the same keys, values and partitions), and progress is saved
 * only after the records it covers are durable. A crash between (1) and
 * (3) leaves records past the saved end offsets; the resumed attempt reads
 * each partition from its saved end offset to the end it finds, and skips
 * the rows whose records (same key and value, in order) are already there.
 * docs/import.md states the guarantee and its limits.
 *
 * Fencing: progress updates name the run that owns the row; a run that
 * took the row over makes the older run's next update fail.
 *
 * Threading: one run, the calling thread.
 */
#include "batch/batch_int.h"
#include "batch/import_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_ROWS   10000
#define CHUNK_BYTES  (1 << 20)
#define CHUNK_MAX    (CHUNK_BYTES + IMPORT_VALUE_MAX + 128 * 1024)
#define VERIFY_BATCH 64
#define OFFSETS_MAX  (1 << 20) /* text of the end offsets */
#define HASH_CHUNK   (64 * 1024)

typedef struct {
    size_t key_off, key_len, val_off, val_len;
    bool has_key;
    int64_t ts_ms;
    int32_t partition;
} msg_t;

/* Resume verification of one partition: the records in [from, stop). */
typedef struct {
    bus_reader_t *reader; /* NULL: nothing (more) to look at */
    int64_t stop;
    bus_record_t recs[VERIFY_BATCH];
    size_t n, i;
} verify_t;

typedef struct {
    batch_run_t *run;
    const batch_job_def_t *job;
    bus_t *bus;
    const char *path;
    char sha[65];
    int32_t nparts;
    int64_t *ends;    /* per partition: offset after this import's last record */
    verify_t *verify; /* per partition while resuming, else NULL */
    int64_t rows, invalid;
    int64_t next_byte, next_line;
    core_buf_t data; /* the chunk's keys and values */
    msg_t *msgs;
    size_t nmsgs, capmsgs;
    bus_message_t *out; /* one partition's messages */
    store_batch_t *dlq;
    size_t chunk_rows;
} file_t;

/* ---- strata_imports. */

static schema_value_t sv(const char *s)
{
    return (schema_value_t){.type = SCHEMA_STRING, .v.s = {s, strlen(s)}};
}

static schema_value_t iv(int64_t i)
{
    return (schema_value_t){.type = SCHEMA_INT, .v.i = i};
}

typedef struct {
    bool found, completed;
    int64_t rows, invalid, next_byte, next_line;
    core_buf_t offsets;
} progress_t;

static int progress_row(void *arg, const schema_value_t *v, size_t n)
{
    progress_t *p = arg;
    if (n != 6 || v[0].type != SCHEMA_STRING)
        return CORE_ECORRUPT;
    p->found = true;
    p->completed = v[0].v.s.len == 9 && memcmp(v[0].v.s.p, "completed", 9) == 0;
    p->rows = v[1].type == SCHEMA_INT ? v[1].v.i : 0;
    p->invalid = v[2].type == SCHEMA_INT ? v[2].v.i : 0;
    p->next_byte = v[3].type == SCHEMA_INT ? v[3].v.i : 0;
    p->next_line = v[4].type == SCHEMA_INT ? v[4].v.i : 0;
    core_buf_reset(&p->offsets);
    if (v[5].type == SCHEMA_STRING)
        return core_buf_append(&p->offsets, v[5].v.s.p, v[5].v.s.len);
    return 0;
}

static int progress_load(file_t *f, progress_t *p)
{
    schema_value_t k[2] = {sv(f->sha), sv(f->job->topic)};
    int rc = store_exec(f->run->store,
                        "SELECT \"state\", \"rows\", \"invalid\", \"next_byte\", \"next_line\", "
                        "\"end_offsets\" FROM \"strata_imports\" WHERE \"sha256\" = ?1 AND "
                        "\"topic\" = ?2",
                        k, 2, progress_row, p, NULL);
    if (rc != 0)
        return core_error(rc, "%s: reading strata_imports: %s", f->path, core_error_detail());
    return 0;
}

static int offsets_text(const file_t *f, core_buf_t *out)
{
    core_json_writer_t w;
    core_buf_reset(out);
    core_json_writer_init(&w, out);
    core_json_write_array_begin(&w);
    for (int32_t p = 0; p < f->nparts; p++)
        core_json_write_i64(&w, f->ends[p]);
    core_json_write_array_end(&w);
    int rc = core_json_writer_finish(&w);
    return rc == 0 ? core_buf_append_u8(out, 0) : rc;
}

static int offsets_parse(file_t *f, const core_buf_t *text)
{
    core_json_iter_t it;
    core_json_value_t v;
    int32_t p = 0;
    int rc = text->len > 0 ? core_json_iter_init(&it, (const char *)text->data, text->len, 2, NULL)
                           : CORE_ECORRUPT;
    while (rc == 0 && (rc = core_json_array_next(&it, &v)) == 1) {
        int64_t o;
        if (p >= f->nparts || core_json_to_i64(&v, &o) != 0 || o < 0)
            rc = CORE_ECORRUPT;
        else
            f->ends[p++] = o;
        rc = rc == 1 ? 0 : rc;
    }
    if (rc == 0 && p != f->nparts)
        rc = CORE_ECORRUPT;
    if (rc != 0)
        return core_error(CORE_ECORRUPT,
                          "%s: strata_imports holds end offsets that do not fit topic %s's %d "
                          "partitions; was the topic recreated?",
                          f->path, f->job->topic, (int)f->nparts);
    return 0;
}

/* Inserts the row of a new import: state running, nothing read yet. */
static int progress_insert(file_t *f)
{
    core_buf_t text;
    core_buf_init(&text, CORE_MEM_BATCH, OFFSETS_MAX);
    int rc = offsets_text(f, &text);
    schema_value_t v[8] = {sv(f->sha),       sv(f->job->topic),          sv(f->path),
                           sv(f->job->name), iv(f->run->run_id),         iv(core_wall_us()),
                           sv("running"),    sv((const char *)text.data)};
    if (rc == 0)
        rc = store_exec(f->run->store,
                        "INSERT INTO \"strata_imports\" (\"sha256\", \"topic\", \"path\", \"job\", "
                        "\"run_id\", \"rows\", \"invalid\", \"imported_at\", \"state\", "
                        "\"next_byte\", \"next_line\", \"end_offsets\") "
                        "VALUES (?1, ?2, ?3, ?4, ?5, 0, 0, ?6, ?7, 0, 0, ?8)",
                        v, 8, NULL, NULL, NULL);
    core_buf_fini(&text);
    if (rc != 0)
        return core_error(rc, "%s: recording the import in strata_imports: %s", f->path,
                          core_error_detail());
    return 0;
}

/* Makes this run the owner of a running import. */
static int progress_take(file_t *f)
{
    schema_value_t v[5] = {iv(f->run->run_id), sv(f->job->name), sv(f->path), sv(f->sha),
                           sv(f->job->topic)};
    int64_t changes = 0;
    int rc =
        store_exec(f->run->store,
                   "UPDATE \"strata_imports\" SET \"run_id\" = ?1, \"job\" = ?2, \"path\" = ?3 "
                   "WHERE \"sha256\" = ?4 AND \"topic\" = ?5 AND \"state\" = 'running'",
                   v, 5, NULL, NULL, &changes);
    if (rc == 0 && changes != 1)
        rc = core_error(CORE_EFAILED, "%s: the import into %s was completed by another run",
                        f->path, f->job->topic);
    return rc;
}

/* Saves the progress, or (done) marks the import completed. Fenced by the
 * run id. */
static int progress_save(file_t *f, bool done)
{
    core_buf_t text;
    core_buf_init(&text, CORE_MEM_BATCH, OFFSETS_MAX);
    int rc = offsets_text(f, &text);
    schema_value_t v[10] = {iv(f->rows),
                            iv(f->invalid),
                            iv(f->next_byte),
                            iv(f->next_line),
                            sv((const char *)text.data),
                            sv(done ? "completed" : "running"),
                            iv(core_wall_us()),
                            sv(f->sha),
                            sv(f->job->topic),
                            iv(f->run->run_id)};
    int64_t changes = 0;
    if (rc == 0)
        rc = store_exec(f->run->store,
                        "UPDATE \"strata_imports\" SET \"rows\" = ?1, \"invalid\" = ?2, "
                        "\"next_byte\" = ?3, \"next_line\" = ?4, \"end_offsets\" = ?5, "
                        "\"state\" = ?6, \"imported_at\" = ?7 WHERE \"sha256\" = ?8 AND "
                        "\"topic\" = ?9 AND \"run_id\" = ?10 AND \"state\" = 'running'",
                        v, 10, NULL, NULL, &changes);
    core_buf_fini(&text);
    if (rc != 0)
        return core_error(rc, "%s: saving the import's progress: %s", f->path, core_error_detail());
    if (changes != 1)
        return core_error(CORE_EFAILED,
                          "%s: another run took over the import into %s; this run stops", f->path,
                          f->job->topic);
    return 0;
}

/* ---- Resume verification. */

static void verify_close(file_t *f)
{
    for (int32_t p = 0; f->verify != NULL && p < f->nparts; p++)
        bus_reader_close(f->verify[p].reader);
    core_free(f->verify);
    f->verify = NULL;
}

/* Opens a reader over [ends[p], current end) of each partition that grew
 * since the saved progress. */
static int verify_open(file_t *f)
{
    f->verify = core_calloc(CORE_MEM_BATCH, (size_t)f->nparts, sizeof *f->verify);
    if (f->verify == NULL)
        return core_error(CORE_ENOMEM, "%s: out of memory", f->path);
    for (int32_t p = 0; p < f->nparts; p++) {
        int64_t start, end;
        int rc = bus_offsets(f->bus, f->job->topic, p, &start, &end);
        if (rc == 0 && end < f->ends[p])
            rc = core_error(CORE_ECORRUPT,
                            "%s: topic %s partition %d ends at offset %lld, before offset %lld "
                            "that this import had written; was the topic recreated?",
                            f->path, f->job->topic, (int)p, (long long)end, (long long)f->ends[p]);
        if (rc == 0 && end > f->ends[p]) {
            f->verify[p].stop = end;
            rc = bus_reader_open(f->bus, f->job->topic, p, f->ends[p], &f->verify[p].reader);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The next record of partition p's verify range, or NULL when there is
 * none left. */
static int verify_peek(file_t *f, int32_t p, const bus_record_t **out)
{
    verify_t *v = &f->verify[p];
    *out = NULL;
    if (v->reader == NULL)
        return 0;
    if (v->i == v->n) {
        v->i = v->n = 0;
        int rc = bus_reader_position(v->reader) < v->stop
                     ? bus_reader_poll(v->reader, v->recs, VERIFY_BATCH, &v->n, 0)
                     : 0;
        if (rc != 0)
            return rc;
    }
    if (v->i == v->n || v->recs[v->i].offset >= v->stop) {
        bus_reader_close(v->reader);
        v->reader = NULL;
        return 0;
    }
    *out = &v->recs[v->i];
    return 0;
}

static bool same_record(const bus_record_t *r, const bus_message_t *m)
{
    if ((r->key == NULL) != (m->key == NULL) || r->key_len != m->key_len ||
        r->value_len != m->value_len || r->value == NULL)
        return false;
    return (m->key == NULL || memcmp(r->key, m->key, m->key_len) == 0) &&
           memcmp(r->value, m->value, m->value_len) == 0;
}

/* How many of msgs[0..n) partition p already holds: our records appear in
 * order, possibly between others' records, so the first message not found
 * ends the prefix (and the range is then used up). */
static int verify_prefix(file_t *f, int32_t p, const bus_message_t *msgs, size_t n, size_t *done)
{
    *done = 0;
    while (*done < n) {
        const bus_record_t *r;
        int rc = verify_peek(f, p, &r);
        if (rc != 0 || r == NULL)
            return rc;
        f->verify[p].i++;
        if (same_record(r, &msgs[*done])) {
            f->ends[p] = r->offset + 1;
            (*done)++;
        }
    }
    return 0;
}

/* ---- Producing a chunk. */

/* Produces msgs[0..n) to partition p synchronously; halves a batch the
 * topic refuses as too big. */
static int produce_split(file_t *f, int32_t p, const bus_message_t *msgs, size_t n)
{
    int64_t base = 0;
    int rc = bus_produce(f->bus, f->job->topic, p, msgs, n, true, &base);
    if (rc == CORE_ETOOBIG && n > 1) {
        rc = produce_split(f, p, msgs, n / 2);
        return rc != 0 ? rc : produce_split(f, p, msgs + n / 2, n - n / 2);
    }
    if (rc == CORE_ETOOBIG)
        return core_error(rc, "%s: a row of %zu bytes exceeds the max message size of topic %s",
                          f->path, msgs[0].value_len, f->job->topic);
    if (rc != 0)
        return core_error(rc, "%s: producing to %s partition %d: %s", f->path, f->job->topic,
                          (int)p, core_error_detail());
    f->ends[p] = base + (int64_t)n;
    return 0;
}

static int produce_partition(file_t *f, int32_t p)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nmsgs; i++) {
        const msg_t *m = &f->msgs[i];
        if (m->partition != p)
            continue;
        f->out[n++] = (bus_message_t){
            .key = m->has_key ? f->data.data + m->key_off : NULL,
            .key_len = m->key_len,
            .value = f->data.data + m->val_off,
            .value_len = m->val_len,
            .timestamp_ms = m->ts_ms,
        };
    }
    size_t done = 0;
    int rc = n > 0 && f->verify != NULL ? verify_prefix(f, p, f->out, n, &done) : 0;
    if (rc == 0 && done < n)
        rc = produce_split(f, p, f->out + done, n - done);
    if (rc == 0)
        f->rows += (int64_t)n;
    return rc;
}

static bool verifying(const file_t *f)
{
    for (int32_t p = 0; f->verify != NULL && p < f->nparts; p++)
        if (f->verify[p].reader != NULL)
            return true;
    return false;
}

static int chunk_flush(file_t *f)
{
    int rc = 0;
    for (int32_t p = 0; rc == 0 && p < f->nparts; p++)
        rc = produce_partition(f, p);
    if (rc == 0 && f->verify != NULL && !verifying(f))
        verify_close(f);
    if (rc == 0 && store_batch_rows(f->dlq) > 0 && (rc = store_commit(f->run->store, f->dlq)) != 0)
        rc =
            core_error(rc, "%s: writing invalid rows to the dlq: %s", f->path, core_error_detail());
    if (rc == 0)
        rc = progress_save(f, false);
    core_buf_reset(&f->data);
    f->nmsgs = 0;
    f->chunk_rows = 0;
    return rc;
}

/* ---- Reading a chunk. */

static int push_msg(file_t *f, const batch_csv_record_t *rec, const import_row_t *row, size_t at)
{
    if (f->nmsgs == f->capmsgs) {
        size_t cap = f->capmsgs == 0 ? CHUNK_ROWS : f->capmsgs * 2;
        msg_t *m = core_realloc(CORE_MEM_BATCH, f->msgs, cap * sizeof *m);
        bus_message_t *o = core_realloc(CORE_MEM_BATCH, f->out, cap * sizeof *o);
        if (m != NULL)
            f->msgs = m;
        if (o != NULL)
            f->out = o;
        if (m == NULL || o == NULL)
            return core_error(CORE_ENOMEM, "%s: out of memory", f->path);
        f->capmsgs = cap;
    }
    msg_t *m = &f->msgs[f->nmsgs++];
    m->has_key = row->has_key;
    m->key_off = at;
    m->key_len = row->key_len;
    m->val_off = at + row->key_len;
    m->val_len = row->value_len;
    m->ts_ms = row->timestamp_ms;
    m->partition = row->has_key ? bus_partition_for_key(f->data.data + at, row->key_len, f->nparts)
                                : (int32_t)((uint64_t)rec->line % (uint64_t)f->nparts);
    return 0;
}

static int reject_row(file_t *f, const batch_csv_record_t *rec, const import_row_t *row)
{
    store_dlq_t d = {
        .pipeline = f->job->name,
        .topic = f->path,
        .partition = -1,
        .offset = rec->line,
        .kind = row->kind,
        .reason = row->reason,
        .value = rec->raw,
        .value_len = rec->raw_len,
        .event_time = row->event_us,
    };
    f->invalid++;
    int rc = store_batch_dlq(f->dlq, &d);
    return rc != 0 ? core_error(rc, "%s line %lld: queueing the dlq row: %s", f->path,
                                (long long)rec->line, core_error_detail())
                   : 0;
}

/* Reads rows into the chunk until it is full; *eof at the end of the file. */
static int chunk_fill(file_t *f, batch_csv_t *csv, import_map_t *map, bool *eof)
{
    batch_csv_record_t rec;
    import_row_t row;
    *eof = false;
    while (f->chunk_rows < CHUNK_ROWS && f->data.len < CHUNK_BYTES) {
        int rc = batch_csv_next(csv, &rec);
        if (rc == 0) {
            *eof = true;
            return 0;
        }
        if (rc < 0)
            return rc;
        size_t at = f->data.len;
        rc = import_map_row(map, &rec, &f->data, &row);
        if (rc == 0)
            rc = row.valid ? push_msg(f, &rec, &row, at) : reject_row(f, &rec, &row);
        if (rc != 0)
            return rc;
        f->chunk_rows++;
        f->next_byte = rec.end;
        f->next_line = batch_csv_line(csv);
    }
    return 0;
}

/* ---- One file. */

static bool stop_requested(const batch_run_t *run)
{
    return run->stop != NULL && __atomic_load_n(run->stop, __ATOMIC_RELAXED) != 0;
}

static int hash_file(const char *path, char hex[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return core_error(errno == ENOENT ? CORE_ENOENT : CORE_EIO, "%s: open: %s", path,
                          strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st) != 0    ? core_error(CORE_EIO, "%s: stat: %s", path, strerror(errno))
             : !S_ISREG(st.st_mode) ? core_error(CORE_EINVAL, "%s: not a regular file", path)
                                    : 0;
    uint8_t *buf = rc == 0 ? core_alloc(CORE_MEM_BATCH, HASH_CHUNK) : NULL;
    if (rc == 0 && buf == NULL)
        rc = core_error(CORE_ENOMEM, "%s: out of memory", path);
    core_sha256_t sha;
    core_sha256_init(&sha);
    while (rc == 0) {
        ssize_t n = read(fd, buf, HASH_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = core_error(CORE_EIO, "%s: read: %s", path, strerror(errno));
        if (n <= 0)
            break;
        core_sha256_update(&sha, buf, (size_t)n);
    }
    uint8_t digest[32];
    core_sha256_final(&sha, digest);
    core_sha256_hex(digest, hex);
    core_free(buf);
    close(fd);
    return rc;
}

/* Claims the import of the file: a new row, or the row of an attempt
 * that did not finish (taken over, its progress restored, and what it may
 * have produced past that progress set up for verification). */
static int file_claim(file_t *f, const progress_t *p)
{
    int rc = 0;
    if (!p->found) {
        for (int32_t i = 0; rc == 0 && i < f->nparts; i++) {
            int64_t start;
            rc = bus_offsets(f->bus, f->job->topic, i, &start, &f->ends[i]);
        }
        return rc == 0 ? progress_insert(f) : rc;
    }
    f->rows = p->rows;
    f->invalid = p->invalid;
    f->next_byte = p->next_byte;
    f->next_line = p->next_line;
    rc = offsets_parse(f, &p->offsets);
    if (rc == 0)
        rc = progress_take(f);
    if (rc == 0)
        rc = verify_open(f);
    if (rc == 0)
        core_log(CORE_LOG_INFO, "batch", "import %s: resuming %s at line %lld (%lld rows done)",
                 f->job->name, f->path, (long long)f->next_line, (long long)(f->rows + f->invalid));
    return rc;
}

/* Opens the file, reads its header, builds the mapping, claims the import
 * and moves to where it stands. */
static int file_open(file_t *f, const progress_t *p, batch_csv_t **csv, import_map_t **map)
{
    batch_csv_opts_t o = {.delimiter = f->job->delimiter};
    batch_csv_record_t header = {0};
    int rc = batch_csv_open(f->path, &o, csv);
    if (rc == 0 && (rc = batch_csv_next(*csv, &header)) == 0)
        rc = core_error(CORE_EINVAL, "%s: the file is empty: no header row", f->path);
    if (rc == 1)
        rc = import_map_create(f->job, f->path, &header, map);
    int64_t header_end = header.end;
    if (rc == 0)
        rc = file_claim(f, p);
    if (rc == 0 && f->next_byte > 0)
        rc = batch_csv_skip_to(*csv, f->next_byte, f->next_line);
    if (rc == 0 && f->next_byte == 0) {
        f->next_byte = header_end;
        f->next_line = batch_csv_line(*csv);
    }
    return rc;
}

/* Reads the file to its end, chunk by chunk, then marks it completed. */
static int file_import(file_t *f, const progress_t *p)
{
    batch_csv_t *csv = NULL;
    import_map_t *map = NULL;
    int rc = file_open(f, p, &csv, &map);
    bool eof = false;
    while (rc == 0 && !eof) {
        if (stop_requested(f->run)) {
            rc = core_error(CORE_ECLOSED, "%s: stopped at line %lld; a retry resumes there",
                            f->path, (long long)f->next_line);
            break;
        }
        rc = chunk_fill(f, csv, map, &eof);
        if (rc == 0 && f->chunk_rows > 0)
            rc = chunk_flush(f);
    }
    uint8_t digest[32];
    char hex[65];
    if (rc == 0) {
        batch_csv_digest(csv, digest);
        core_sha256_hex(digest, hex);
        if (strcmp(hex, f->sha) != 0)
            rc = core_error(CORE_ECORRUPT,
                            "%s: the file changed while it was imported (sha256 %s before, %s "
                            "after); restore it and run the import again",
                            f->path, f->sha, hex);
    }
    if (rc == 0)
        rc = progress_save(f, true);
    import_map_destroy(map);
    batch_csv_close(csv);
    return rc;
}

typedef struct {
    int64_t files, skipped, rows, invalid;
} totals_t;

static int one_file(batch_run_t *run, const char *path, int32_t nparts, totals_t *t)
{
    file_t f = {.run = run, .job = run->job, .bus = run->env->bus, .path = path, .nparts = nparts};
    progress_t p = {0};
    core_buf_init(&p.offsets, CORE_MEM_BATCH, OFFSETS_MAX);
    core_buf_init(&f.data, CORE_MEM_BATCH, CHUNK_MAX);
    f.ends = core_calloc(CORE_MEM_BATCH, (size_t)nparts, sizeof *f.ends);
    int rc = f.ends == NULL ? core_error(CORE_ENOMEM, "%s: out of memory", path)
                            : store_batch_create(&f.dlq);
    if (rc == 0)
        rc = hash_file(path, f.sha);
    if (rc == 0)
        rc = progress_load(&f, &p);
    bool skip = rc == 0 && p.found && p.completed;
    if (rc == 0 && !skip)
        rc = file_import(&f, &p);
    if (rc == 0)
        rc = batch_lineage_file(run, path, f.sha, skip ? 0 : f.rows + f.invalid);
    if (rc == 0 && skip) {
        t->skipped++;
        core_log(CORE_LOG_INFO, "batch", "import %s: %s (sha256 %s) was already imported into %s",
                 run->job->name, path, f.sha, run->job->topic);
    } else if (rc == 0) {
        t->files++;
        t->rows += f.rows;
        t->invalid += f.invalid;
        core_log(CORE_LOG_INFO, "batch", "import %s: %s: %lld rows into %s, %lld invalid",
                 run->job->name, path, (long long)f.rows, run->job->topic, (long long)f.invalid);
    }
    verify_close(&f);
    store_batch_destroy(f.dlq);
    core_buf_fini(&f.data);
    core_buf_fini(&p.offsets);
    core_free(f.msgs);
    core_free(f.out);
    core_free(f.ends);
    return rc;
}

static int expand(const batch_job_def_t *job, glob_t *g)
{
    int rc = glob(job->path, GLOB_ERR, NULL, g);
    if (rc == GLOB_NOMATCH)
        return core_error(CORE_ENOENT, "job %s: no file matches %s", job->name, job->path);
    if (rc == GLOB_NOSPACE)
        return core_error(CORE_ENOMEM, "job %s: out of memory expanding %s", job->name, job->path);
    if (rc != 0)
        return core_error(CORE_EIO, "job %s: cannot read the directories of %s", job->name,
                          job->path);
    return 0;
}

int batch_import_run(batch_run_t *run)
{
    const batch_job_def_t *job = run->job;
    if (job->path == NULL || job->topic == NULL || job->schema == NULL || run->env->bus == NULL)
        return core_error(CORE_EINVAL, "job %s: import needs path, topic, a schema and a bus",
                          job->name);
    int32_t nparts = 0;
    int rc = bus_partitions(run->env->bus, job->topic, &nparts);
    if (rc != 0)
        return core_error(rc, "job %s: topic %s: %s", job->name, job->topic, core_error_detail());
    glob_t g;
    memset(&g, 0, sizeof g);
    rc = expand(job, &g);
    totals_t t = {0};
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
        rc = one_file(run, g.gl_pathv[i], nparts, &t);
    globfree(&g);
    run->rows_in = t.rows + t.invalid;
    run->rows_out = t.rows;
    run->skipped = rc == 0 && t.files == 0;
    if (rc == 0)
        rc = batch_lineage_output(run, "topic", job->topic, t.rows);
    return rc;
}

/*
 * import.c - the `import` job kind: CSV files (a path or a glob) into a
 * topic, one JSON record per valid row, invalid rows to the dlq.
 *
 * Per file (sorted glob order):
 *   open it, read the header, build the column mapping (import_map.c),
 *   and start reading and converting the first chunks (read_ahead): they
 *   are appended only once the import is claimed below
 *   sha256 of the file (needed first: the claim depends on it)
 *   strata_imports row for (sha256, topic):
 *     state completed          -> skip the file
 *     state running (a failed  -> take it over and resume: verify what the
 *       or crashed attempt)       failed attempt produced past its last
 *                                 saved progress, then continue
 *     none                     -> insert one (state running, the topic's
 *                                 current end offsets)
 *   (a resume past the header reads again from where it resumes)
 *   chunks of up to CHUNK_ROWS records, in file order, each:
 *     1. read: the calling thread reads the records and copies them into
 *        the chunk (scan_chunk);
 *     2. convert: a worker thread turns them into keys and values, and dlq
 *        rows (convert_chunk), any number of chunks at once;
 *     3. append, in chunk order on the calling thread: verify (when
 *        resuming), produce each partition's records, commit the chunk's
 *        dlq rows (idempotent: unique per job, file and line);
 *   sync points, every SYNC_MIN_ROWS rows or more once the calling thread
 *   has nothing else to do, and at the end: make every partition durable
 *   (fdatasync), then save progress: next byte and line of the file,
 *   counts, and per partition the offset after this import's last record.
 *   at the end: check the file's sha256 again, mark the row completed.
 *
 * Appending without waiting for the disk: each partition's records go out
 * in order with sync off, except the last one, which is held back (copied)
 * until the next append or sync point; a sync point produces the held
 * records with sync on, which makes everything before them durable too.
 * So progress is saved only after the records it covers are durable, as
 * before, with one fdatasync per partition per sync point instead of one
 * per chunk.
 *
 * Exactly-once: rows are produced deterministically (same file, job and
 * schema give the same keys, values and partitions), and progress is saved
 * only after the records it covers are durable. A crash between an append
 * and the next sync point leaves records past the saved end offsets; the
 * resumed attempt reads each partition from its saved end offset to the
 * end it finds, and skips the rows whose records (same key and value, in
 * order) are already there. docs/import.md states the guarantee and its
 * limits.
 *
 * Fencing: progress updates name the run that owns the row; a run that
 * took the row over makes the older run's next update fail.
 *
 * Threading: the calling thread owns the reader, the store, the bus
 * produce calls and the progress; WORKERS threads, started per file,
 * convert chunks, each with its own import_map_t. The chunk ring (pipe_t)
 * is guarded by its mutex, and a chunk's state says who owns it: FREE, the
 * calling thread (which fills it); SCANNED, waiting for the first worker
 * to take it; CONVERTING, that worker; CONVERTED, the calling thread
 * again. The counters `scanned` and `appended` are written by the calling
 * thread under the mutex. The schema is shared read-only.
 */
#include "batch/batch_int.h"
#include "batch/import_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_ROWS    4096      /* records per chunk */
#define CHUNK_BYTES   (1 << 20) /* copied record bytes per chunk (soft) */
#define CHUNK_ARENA   (CHUNK_BYTES + 2 * BATCH_CSV_MAX_RECORD + 4096)
#define CHUNK_DATA    (4 << 20) /* converted keys and values per pass (soft) */
#define CHUNK_MAX     (CHUNK_DATA + IMPORT_VALUE_MAX + 128 * 1024)
#define SLOTS         8            /* chunks in flight */
#define WORKERS       2            /* converting threads per file */
#define SYNC_MIN_ROWS 16384        /* rows appended before an idle sync point */
#define SYNC_MAX_ROWS (128 * 1024) /* rows appended before a forced one */
#define HELD_MAX      (IMPORT_VALUE_MAX + 128 * 1024)
#define VERIFY_BATCH  64
#define OFFSETS_MAX   (1 << 20) /* text of the end offsets */
#define HASH_CHUNK    (256 * 1024)

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

/* A partition's last record, not yet produced (see the top comment). */
typedef struct {
    bool set, has_key;
    size_t key_len, val_len;
    int64_t ts_ms;
    core_buf_t bytes; /* key then value */
} held_t;

/* ---- Chunks. A record copied out of the reader: its raw bytes, decoded
 * fields and fault message in the chunk's arena. */
typedef struct {
    int64_t line, start, end;
    int64_t next_line; /* the reader's line after the record */
    uint32_t raw_off, raw_len;
    uint32_t fld, nfields; /* its fields: flds[fld .. fld + nfields) */
    uint32_t err_off;      /* fault message (NUL-terminated) */
    batch_csv_fault_t fault;
} crec_t;

typedef struct {
    uint32_t off, len;
    bool quoted;
} cfld_t;

typedef enum { CH_FREE, CH_SCANNED, CH_CONVERTING, CH_CONVERTED } ch_state_t;

typedef struct {
    ch_state_t state;
    /* Read (calling thread). */
    core_buf_t arena;
    crec_t *recs;
    size_t nrecs, caprecs;
    cfld_t *flds;
    size_t nflds, capflds;
    /* Converted: recs[first .. upto) (a pass stops at CHUNK_DATA bytes;
     * the rest is converted by another pass after the append). */
    size_t first, upto;
    core_buf_t data; /* keys and values */
    msg_t *msgs;
    size_t nmsgs, capmsgs;
    store_batch_t *dlq;
    int64_t invalid;
    int rc;       /* a conversion error: stops the import */
    char *detail; /* its message */
} chunk_t;

typedef struct pipe pipe_t;

typedef struct {
    pipe_t *pipe;
    pthread_t thread;
    bool started;
    import_map_t *map;
    batch_csv_field_t *fields; /* a record rebuilt from a chunk */
    size_t capfields;
} worker_t;

/* The chunk ring: chunk number n lives in slots[n % SLOTS]. */
struct pipe {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast on every state change */
    chunk_t slots[SLOTS];
    bool ready;        /* pipe_init ran */
    uint64_t scanned;  /* chunks handed to the workers */
    uint64_t appended; /* chunks taken back, in order */
    bool quit;
    const char *path, *job;
    int32_t nparts;
    worker_t workers[WORKERS];
};

typedef struct {
    batch_run_t *run;
    const batch_job_def_t *job;
    bus_t *bus;
    const char *path;
    char sha[65];
    int32_t nparts;
    int64_t *ends;    /* per partition: offset after this import's last record */
    verify_t *verify; /* per partition while resuming, else NULL */
    held_t *held;     /* per partition */
    /* Saved with the progress: what the last sync point covers. */
    int64_t rows, invalid;
    int64_t next_byte, next_line;
    /* Appended since the last sync point. */
    int64_t add_rows, add_invalid, add_byte, add_line;
    bool unsynced;
    bus_message_t *out; /* one partition's messages */
    size_t capout;
    /* Reading: the reader, where the header ends, the mappings not yet
     * handed to a worker, and an error of the read-ahead (reported only
     * if the file is not skipped). */
    batch_csv_t *csv;
    int64_t header_end, header_next_line;
    import_map_t *maps[WORKERS];
    int early_rc;
    char *early_detail;
    /* The reader's state: at the end, or stopped by a read error (returned
     * once what was read before it is appended). */
    bool eof;
    int read_rc;
    char *read_detail;
    pipe_t pipe;
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
    if (rc == CORE_EEXIST)
        return core_error(rc,
                          "%s: another run began importing the same content (sha256 %s) into %s "
                          "at the same moment; it goes on there, and running this job again "
                          "skips the file or resumes it",
                          f->path, f->sha, f->job->topic);
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

/* ---- Appending, in chunk order on the calling thread. */

/* Produces msgs[0..n) to partition p, `sync` applying to the last record
 * (it makes every record before it durable too); halves a batch the topic
 * refuses as too big. */
static int produce_split(file_t *f, int32_t p, const bus_message_t *msgs, size_t n, bool sync)
{
    int64_t base = 0;
    int rc = bus_produce(f->bus, f->job->topic, p, msgs, n, sync, &base);
    if (rc == CORE_ETOOBIG && n > 1) {
        rc = produce_split(f, p, msgs, n / 2, false);
        return rc != 0 ? rc : produce_split(f, p, msgs + n / 2, n - n / 2, sync);
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

static bus_message_t held_message(const held_t *h)
{
    return (bus_message_t){.key = h->has_key ? h->bytes.data : NULL,
                           .key_len = h->key_len,
                           .value = h->bytes.data + h->key_len,
                           .value_len = h->val_len,
                           .timestamp_ms = h->ts_ms};
}

static int hold(file_t *f, int32_t p, const bus_message_t *m)
{
    held_t *h = &f->held[p];
    core_buf_reset(&h->bytes);
    int rc = m->key != NULL ? core_buf_append(&h->bytes, m->key, m->key_len) : 0;
    if (rc == 0)
        rc = core_buf_append(&h->bytes, m->value, m->value_len);
    if (rc != 0)
        return core_error(rc, "%s: holding a record of %zu bytes: %s", f->path, m->value_len,
                          core_strerror(rc));
    *h = (held_t){.set = true,
                  .has_key = m->key != NULL,
                  .key_len = m->key != NULL ? m->key_len : 0,
                  .val_len = m->value_len,
                  .ts_ms = m->timestamp_ms,
                  .bytes = h->bytes};
    return 0;
}

/* Partition p's messages of the chunk, after the held one, in f->out[1..];
 * returns their count. */
static size_t gather(file_t *f, const chunk_t *ch, int32_t p)
{
    size_t n = 0;
    for (size_t i = 0; i < ch->nmsgs; i++) {
        const msg_t *m = &ch->msgs[i];
        if (m->partition != p)
            continue;
        f->out[1 + n++] = (bus_message_t){
            .key = m->has_key ? ch->data.data + m->key_off : NULL,
            .key_len = m->key_len,
            .value = ch->data.data + m->val_off,
            .value_len = m->val_len,
            .timestamp_ms = m->ts_ms,
        };
    }
    return n;
}

/* Appends partition p's messages of CH: those a resumed attempt finds
 * already there are skipped; the rest go out after the held record. With
 * SYNC everything is produced and made durable; without it the last record
 * is held back. */
static int append_partition(file_t *f, const chunk_t *ch, int32_t p, bool sync)
{
    size_t n = gather(f, ch, p), done = 0;
    int rc = n > 0 && f->verify != NULL ? verify_prefix(f, p, f->out + 1, n, &done) : 0;
    f->add_rows += (int64_t)n;
    bus_message_t *l = f->out + 1 + done;
    size_t len = n - done;
    if (rc == 0 && f->held[p].set) { /* a held record means verification is over: done == 0 */
        *--l = held_message(&f->held[p]);
        len++;
    }
    if (rc != 0 || len == 0)
        return rc;
    if (sync) {
        f->held[p].set = false;
        return produce_split(f, p, l, len, true);
    }
    if (len == 1 && f->held[p].set)
        return 0; /* nothing new: keep holding */
    if (len > 1 && (rc = produce_split(f, p, l, len - 1, false)) != 0)
        return rc;
    return hold(f, p, &l[len - 1]);
}

static bool verifying(const file_t *f)
{
    for (int32_t p = 0; f->verify != NULL && p < f->nparts; p++)
        if (f->verify[p].reader != NULL)
            return true;
    return false;
}

/* Produces the converted part of CH and commits its dlq rows. */
static int append_chunk(file_t *f, chunk_t *ch, bool sync)
{
    int rc = 0;
    if (ch->nmsgs + 1 > f->capout) {
        bus_message_t *o = core_realloc(CORE_MEM_BATCH, f->out, (ch->nmsgs + 1) * sizeof *o);
        if (o == NULL)
            return core_error(CORE_ENOMEM, "%s: out of memory", f->path);
        f->out = o;
        f->capout = ch->nmsgs + 1;
    }
    for (int32_t p = 0; rc == 0 && p < f->nparts; p++)
        rc = append_partition(f, ch, p, sync);
    if (rc == 0 && f->verify != NULL && !verifying(f))
        verify_close(f);
    if (rc == 0 && store_batch_rows(ch->dlq) > 0 &&
        (rc = store_commit(f->run->store, ch->dlq)) != 0)
        rc =
            core_error(rc, "%s: writing invalid rows to the dlq: %s", f->path, core_error_detail());
    if (rc == 0 && ch->upto > ch->first) {
        const crec_t *last = &ch->recs[ch->upto - 1];
        f->add_invalid += ch->invalid;
        f->add_byte = last->end;
        f->add_line = last->next_line;
        f->unsynced = true;
    }
    return rc;
}

/* Makes every partition durable up to what was appended, then saves the
 * progress that covers it. */
static int sync_point(file_t *f)
{
    int rc = 0;
    for (int32_t p = 0; rc == 0 && p < f->nparts; p++) {
        if (!f->held[p].set)
            continue;
        bus_message_t m = held_message(&f->held[p]);
        f->held[p].set = false;
        rc = produce_split(f, p, &m, 1, true);
    }
    if (rc != 0 || !f->unsynced)
        return rc;
    f->rows += f->add_rows;
    f->invalid += f->add_invalid;
    f->next_byte = f->add_byte;
    f->next_line = f->add_line;
    f->add_rows = f->add_invalid = 0;
    f->unsynced = false;
    return progress_save(f, false);
}

/* ---- Reading a chunk (calling thread). */

/* Where field bytes q[0..n) lie inside the record's raw bytes, or -1. */
static int64_t offset_in_raw(const batch_csv_record_t *rec, const char *q, size_t n)
{
    uintptr_t r = (uintptr_t)rec->raw, a = (uintptr_t)q;
    if (a < r || a - r > rec->raw_len || n > rec->raw_len - (a - r))
        return -1;
    return (int64_t)(a - r);
}

/* Copies REC into the chunk: raw bytes, fields (as offsets into the raw
 * bytes where they lie there, else copied) and the fault message. */
static int chunk_add(chunk_t *ch, const char *path, const batch_csv_record_t *rec,
                     int64_t next_line)
{
    int rc = core_grow(CORE_MEM_BATCH, (void **)&ch->recs, &ch->caprecs, ch->nrecs + 1,
                       sizeof *ch->recs);
    if (rc == 0)
        rc = core_grow(CORE_MEM_BATCH, (void **)&ch->flds, &ch->capflds, ch->nflds + rec->nfields,
                       sizeof *ch->flds);
    crec_t *r = rc == 0 ? &ch->recs[ch->nrecs] : NULL;
    if (r != NULL)
        *r = (crec_t){.line = rec->line,
                      .start = rec->start,
                      .end = rec->end,
                      .next_line = next_line,
                      .raw_off = (uint32_t)ch->arena.len,
                      .raw_len = (uint32_t)rec->raw_len,
                      .fld = (uint32_t)ch->nflds,
                      .nfields = (uint32_t)rec->nfields,
                      .fault = rec->fault};
    if (rc == 0)
        rc = core_buf_append(&ch->arena, rec->raw, rec->raw_len);
    for (size_t i = 0; rc == 0 && i < rec->nfields; i++) {
        const batch_csv_field_t *in = &rec->fields[i];
        int64_t at = offset_in_raw(rec, in->p, in->len);
        cfld_t *o = &ch->flds[ch->nflds + i];
        *o = (cfld_t){
            .off = r->raw_off + (uint32_t)at, .len = (uint32_t)in->len, .quoted = in->quoted};
        if (at < 0) {
            o->off = (uint32_t)ch->arena.len;
            rc = core_buf_append(&ch->arena, in->p, in->len);
        }
    }
    if (rc == 0 && rec->fault != BATCH_CSV_OK) {
        r->err_off = (uint32_t)ch->arena.len;
        rc = core_buf_append(&ch->arena, rec->error, strlen(rec->error) + 1);
    }
    if (rc != 0)
        return core_error(CORE_ENOMEM, "%s line %lld: out of memory", path, (long long)rec->line);
    ch->nflds += rec->nfields;
    ch->nrecs++;
    return 0;
}

/* Fills CH with the next records; *eof at the end of the file. */
static int scan_chunk(chunk_t *ch, const char *path, batch_csv_t *csv, bool *eof)
{
    ch->nrecs = ch->nflds = ch->first = ch->upto = 0;
    core_buf_reset(&ch->arena);
    batch_csv_record_t rec;
    while (ch->nrecs < CHUNK_ROWS && ch->arena.len < CHUNK_BYTES) {
        int rc = batch_csv_next(csv, &rec);
        if (rc == 0)
            *eof = true;
        if (rc <= 0)
            return rc;
        if ((rc = chunk_add(ch, path, &rec, batch_csv_line(csv))) != 0)
            return rc;
    }
    return 0;
}

/* ---- Converting a chunk (a worker thread). */

static int push_msg(const pipe_t *pp, chunk_t *ch, const batch_csv_record_t *rec,
                    const import_row_t *row, size_t at)
{
    if (core_grow(CORE_MEM_BATCH, (void **)&ch->msgs, &ch->capmsgs, ch->nmsgs + 1,
                  sizeof *ch->msgs) != 0)
        return core_error(CORE_ENOMEM, "%s: out of memory", pp->path);
    msg_t *m = &ch->msgs[ch->nmsgs++];
    m->has_key = row->has_key;
    m->key_off = at;
    m->key_len = row->key_len;
    m->val_off = at + row->key_len;
    m->val_len = row->value_len;
    m->ts_ms = row->timestamp_ms;
    m->partition = row->has_key
                       ? bus_partition_for_key(ch->data.data + at, row->key_len, pp->nparts)
                       : (int32_t)((uint64_t)rec->line % (uint64_t)pp->nparts);
    return 0;
}

static int reject_row(const pipe_t *pp, chunk_t *ch, const batch_csv_record_t *rec,
                      const import_row_t *row)
{
    store_dlq_t d = {
        .pipeline = pp->job,
        .topic = pp->path,
        .partition = -1,
        .offset = rec->line,
        .kind = row->kind,
        .reason = row->reason,
        .value = rec->raw,
        .value_len = rec->raw_len,
        .event_time = row->event_us,
    };
    ch->invalid++;
    int rc = store_batch_dlq(ch->dlq, &d);
    return rc != 0 ? core_error(rc, "%s line %lld: queueing the dlq row: %s", pp->path,
                                (long long)rec->line, core_error_detail())
                   : 0;
}

/* Record k of CH as the reader returned it (borrowing the chunk). */
static int rebuild(worker_t *w, const chunk_t *ch, size_t k, batch_csv_record_t *rec)
{
    const crec_t *r = &ch->recs[k];
    if (core_grow(CORE_MEM_BATCH, (void **)&w->fields, &w->capfields, r->nfields + 1,
                  sizeof *w->fields) != 0)
        return core_error(CORE_ENOMEM, "%s: out of memory", w->pipe->path);
    const char *base = (const char *)ch->arena.data;
    for (uint32_t i = 0; i < r->nfields; i++) {
        const cfld_t *f = &ch->flds[r->fld + i];
        w->fields[i] = (batch_csv_field_t){.p = base + f->off, .len = f->len, .quoted = f->quoted};
    }
    rec->fields = w->fields;
    rec->nfields = r->nfields;
    rec->line = r->line;
    rec->start = r->start;
    rec->end = r->end;
    rec->raw = base + r->raw_off;
    rec->raw_len = r->raw_len;
    rec->fault = r->fault;
    rec->error[0] = '\0';
    if (r->fault != BATCH_CSV_OK)
        snprintf(rec->error, sizeof rec->error, "%s", base + r->err_off);
    return 0;
}

/* Converts records [first, ...) of CH until CHUNK_DATA bytes are out;
 * sets upto, or rc and detail on an error. */
static void convert_chunk(worker_t *w, chunk_t *ch)
{
    batch_csv_record_t rec;
    import_row_t row;
    core_buf_reset(&ch->data);
    ch->nmsgs = 0;
    ch->invalid = 0;
    size_t k = ch->first;
    int rc = 0;
    for (; rc == 0 && k < ch->nrecs && ch->data.len < CHUNK_DATA; k++) {
        size_t at = ch->data.len;
        rc = rebuild(w, ch, k, &rec);
        if (rc == 0)
            rc = import_map_row(w->map, &rec, &ch->data, &row);
        if (rc == 0)
            rc = row.valid ? push_msg(w->pipe, ch, &rec, &row, at)
                           : reject_row(w->pipe, ch, &rec, &row);
    }
    ch->upto = rc == 0 ? k : k - 1;
    ch->rc = rc;
    if (rc != 0)
        ch->detail = core_strdup(CORE_MEM_BATCH, core_error_detail());
}

/* The first chunk waiting for a worker, or NULL. Under the lock. */
static chunk_t *next_scanned(pipe_t *pp)
{
    for (uint64_t n = pp->appended; n < pp->scanned; n++)
        if (pp->slots[n % SLOTS].state == CH_SCANNED)
            return &pp->slots[n % SLOTS];
    return NULL;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    pipe_t *pp = w->pipe;
    pthread_mutex_lock(&pp->mu);
    for (;;) {
        chunk_t *ch = NULL;
        while (!pp->quit && (ch = next_scanned(pp)) == NULL)
            pthread_cond_wait(&pp->cv, &pp->mu);
        if (pp->quit)
            break;
        ch->state = CH_CONVERTING;
        pthread_mutex_unlock(&pp->mu);
        convert_chunk(w, ch);
        pthread_mutex_lock(&pp->mu);
        ch->state = CH_CONVERTED;
        pthread_cond_broadcast(&pp->cv);
    }
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

/* ---- The pipe's life. */

static void set_state(pipe_t *pp, chunk_t *ch, ch_state_t st)
{
    pthread_mutex_lock(&pp->mu);
    ch->state = st;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
}

static ch_state_t get_state(pipe_t *pp, const chunk_t *ch)
{
    pthread_mutex_lock(&pp->mu);
    ch_state_t st = ch->state;
    pthread_mutex_unlock(&pp->mu);
    return st;
}

static void wait_converted(pipe_t *pp, const chunk_t *ch)
{
    pthread_mutex_lock(&pp->mu);
    while (ch->state != CH_CONVERTED)
        pthread_cond_wait(&pp->cv, &pp->mu);
    pthread_mutex_unlock(&pp->mu);
}

static int pipe_init(file_t *f)
{
    pipe_t *pp = &f->pipe;
    pp->path = f->path;
    pp->job = f->job->name;
    pp->nparts = f->nparts;
    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->cv, NULL);
    pp->ready = true;
    int rc = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        chunk_t *ch = &pp->slots[i];
        core_buf_init(&ch->arena, CORE_MEM_BATCH, CHUNK_ARENA);
        core_buf_init(&ch->data, CORE_MEM_BATCH, CHUNK_MAX);
        if (rc == 0)
            rc = store_batch_create(&ch->dlq);
    }
    return rc;
}

/* Stops and joins the workers, frees the chunks. */
static void pipe_fini(pipe_t *pp)
{
    if (!pp->ready)
        return;
    pthread_mutex_lock(&pp->mu);
    pp->quit = true;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    for (size_t i = 0; i < WORKERS; i++) {
        worker_t *w = &pp->workers[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        import_map_destroy(w->map);
        core_free(w->fields);
    }
    for (size_t i = 0; i < SLOTS; i++) {
        chunk_t *ch = &pp->slots[i];
        core_buf_fini(&ch->arena);
        core_buf_fini(&ch->data);
        core_free(ch->recs);
        core_free(ch->flds);
        core_free(ch->msgs);
        core_free(ch->detail);
        store_batch_destroy(ch->dlq);
    }
    pthread_cond_destroy(&pp->cv);
    pthread_mutex_destroy(&pp->mu);
}

/* Starts the workers; each takes one of MAPS (built from the header). */
static int pipe_start(pipe_t *pp, import_map_t **maps)
{
    for (size_t i = 0; i < WORKERS; i++) {
        worker_t *w = &pp->workers[i];
        w->pipe = pp;
        w->map = maps[i];
        maps[i] = NULL;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            return core_error(CORE_ENOMEM, "%s: cannot start a converting thread", pp->path);
        w->started = true;
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

/* Opens the file, reads its header and builds the mappings (one per
 * worker). */
static int file_open(file_t *f)
{
    batch_csv_opts_t o = {.delimiter = f->job->delimiter};
    batch_csv_record_t header = {0};
    int rc = batch_csv_open(f->path, &o, &f->csv);
    if (rc == 0 && (rc = batch_csv_next(f->csv, &header)) == 0)
        rc = core_error(CORE_EINVAL, "%s: the file is empty: no header row", f->path);
    rc = rc == 1 ? 0 : rc;
    for (size_t i = 0; rc == 0 && i < WORKERS; i++)
        rc = import_map_create(f->job, f->path, &header, &f->maps[i]);
    f->header_end = header.end;
    f->header_next_line = rc == 0 ? batch_csv_line(f->csv) : 0;
    return rc;
}

/* Stops the workers and closes the reader. */
static void file_close(file_t *f)
{
    pipe_fini(&f->pipe);
    memset(&f->pipe, 0, sizeof f->pipe);
    for (size_t i = 0; i < WORKERS; i++) {
        import_map_destroy(f->maps[i]);
        f->maps[i] = NULL;
    }
    batch_csv_close(f->csv);
    f->csv = NULL;
}

static int stopped(file_t *f)
{
    int rc = sync_point(f);
    return rc != 0 ? rc
                   : core_error(CORE_ECLOSED, "%s: stopped at line %lld; a retry resumes there",
                                f->path, (long long)f->next_line);
}

/* Takes back the oldest chunk, converted: appends it (LAST: the file's
 * final records, appended durably), then frees its slot or sends the rest
 * of it back for another pass. */
static int take_chunk(file_t *f, chunk_t *ch, bool last)
{
    pipe_t *pp = &f->pipe;
    if (ch->rc != 0)
        return core_error(ch->rc, "%s", ch->detail != NULL ? ch->detail : core_strerror(ch->rc));
    bool whole = ch->upto == ch->nrecs;
    int rc = append_chunk(f, ch, last && whole);
    if (rc == 0 && last && whole)
        rc = sync_point(f);
    if (rc != 0)
        return rc;
    if (!whole) {
        ch->first = ch->upto;
        set_state(pp, ch, CH_SCANNED);
        return 0;
    }
    pthread_mutex_lock(&pp->mu);
    ch->state = CH_FREE;
    pp->appended++;
    pthread_mutex_unlock(&pp->mu);
    if (f->add_rows + f->add_invalid >= SYNC_MAX_ROWS)
        rc = sync_point(f);
    return rc;
}

/* Reads the next chunk into a free slot and hands it to the workers. A
 * read error stops reading (read_rc keeps it). */
static void scan_next(file_t *f)
{
    pipe_t *pp = &f->pipe;
    chunk_t *ch = &pp->slots[pp->scanned % SLOTS];
    int rc = scan_chunk(ch, f->path, f->csv, &f->eof);
    if (rc != 0) {
        f->eof = true;
        f->read_rc = rc;
        f->read_detail = core_strdup(CORE_MEM_BATCH, core_error_detail());
        return;
    }
    if (ch->nrecs == 0)
        return;
    pthread_mutex_lock(&pp->mu);
    ch->state = CH_SCANNED;
    pp->scanned++;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
}

/* Runs the file through the pipe: read ahead while slots are free, append
 * converted chunks in order, sync when idle (or at the end). */
static int file_pump(file_t *f)
{
    pipe_t *pp = &f->pipe;
    int rc = 0;
    while (rc == 0) {
        chunk_t *ch = pp->appended < pp->scanned ? &pp->slots[pp->appended % SLOTS] : NULL;
        if (stop_requested(f->run))
            rc = stopped(f);
        else if (ch != NULL && get_state(pp, ch) == CH_CONVERTED)
            rc = take_chunk(f, ch, f->eof && f->read_rc == 0 && pp->appended + 1 == pp->scanned);
        else if (!f->eof && pp->scanned - pp->appended < SLOTS)
            scan_next(f);
        else if (f->unsynced && (ch == NULL || f->add_rows + f->add_invalid >= SYNC_MIN_ROWS))
            rc = sync_point(f);
        else if (ch == NULL)
            break;
        else
            wait_converted(pp, ch);
    }
    if (rc == 0 && f->read_rc != 0)
        rc = core_error(f->read_rc, "%s",
                        f->read_detail != NULL ? f->read_detail : core_strerror(f->read_rc));
    return rc;
}

/* Opens the file and starts converting its first chunks while the
 * caller hashes it: nothing is appended before the import is claimed. An
 * error is kept in early_rc (the file may turn out to be skipped). */
static void read_ahead(file_t *f)
{
    int rc = pipe_init(f);
    if (rc == 0)
        rc = file_open(f);
    if (rc == 0)
        rc = pipe_start(&f->pipe, f->maps);
    while (rc == 0 && !f->eof && f->pipe.scanned < SLOTS)
        scan_next(f);
    if (rc != 0) {
        f->early_rc = rc;
        f->early_detail = core_strdup(CORE_MEM_BATCH, core_error_detail());
    }
}

/* Claims the import and makes the reader stand where it resumes: a run
 * that resumes past the header starts reading again from there. */
static int file_position(file_t *f, const progress_t *p)
{
    int rc = file_claim(f, p);
    if (rc != 0 || f->next_byte == 0) {
        f->next_byte = f->header_end;
        f->next_line = f->header_next_line;
        return rc;
    }
    file_close(f);
    f->eof = false;
    f->read_rc = 0;
    core_free(f->read_detail);
    f->read_detail = NULL;
    rc = pipe_init(f);
    if (rc == 0)
        rc = file_open(f);
    if (rc == 0)
        rc = batch_csv_skip_to(f->csv, f->next_byte, f->next_line);
    if (rc == 0)
        rc = pipe_start(&f->pipe, f->maps);
    return rc;
}

/* Reads the file to its end, chunk by chunk, then marks it completed. */
static int file_import(file_t *f, const progress_t *p)
{
    if (f->early_rc != 0)
        return core_error(f->early_rc, "%s",
                          f->early_detail != NULL ? f->early_detail : core_strerror(f->early_rc));
    int rc = file_position(f, p);
    if (rc == 0)
        rc = file_pump(f);
    uint8_t digest[32];
    char hex[65];
    if (rc == 0) {
        batch_csv_digest(f->csv, digest);
        core_sha256_hex(digest, hex);
        if (strcmp(hex, f->sha) != 0)
            rc = core_error(CORE_ECORRUPT,
                            "%s: the file changed while it was imported (sha256 %s before, %s "
                            "after); restore it and run the import again",
                            f->path, f->sha, hex);
    }
    if (rc == 0)
        rc = progress_save(f, true);
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
    f.ends = core_calloc(CORE_MEM_BATCH, (size_t)nparts, sizeof *f.ends);
    f.held = core_calloc(CORE_MEM_BATCH, (size_t)nparts, sizeof *f.held);
    for (int32_t i = 0; f.held != NULL && i < nparts; i++)
        core_buf_init(&f.held[i].bytes, CORE_MEM_BATCH, HELD_MAX);
    int rc =
        f.ends == NULL || f.held == NULL ? core_error(CORE_ENOMEM, "%s: out of memory", path) : 0;
    if (rc == 0)
        read_ahead(&f);
    if (rc == 0)
        rc = hash_file(path, f.sha);
    if (rc == 0)
        rc = progress_load(&f, &p);
    bool skip = rc == 0 && p.found && p.completed;
    if (rc == 0 && !skip)
        rc = file_import(&f, &p);
    file_close(&f);
    core_free(f.early_detail);
    core_free(f.read_detail);
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
    for (int32_t i = 0; f.held != NULL && i < nparts; i++)
        core_buf_fini(&f.held[i].bytes);
    core_buf_fini(&p.offsets);
    core_free(f.out);
    core_free(f.held);
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

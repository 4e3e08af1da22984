/*
 * handlers_data.c - Produce, Fetch and ListOffsets: the data path.
 *
 * Produce: each partition's records must be exactly one RecordBatch v2.
 * The batch is checked against the idempotent-producer state, appended
 * without waiting (seglog_append_nowait rewrites its BaseOffset in the
 * frame), and, when durability is owed (acks=all, or a topic whose flush
 * policy is `always`), an fsync is requested from the syncer. The response
 * waits for every requested fsync; a failed one turns that partition's
 * answer into KAFKA_STORAGE_ERROR. acks=0 gets no response at all.
 *
 * Fetch: reads whole batches from each partition (seglog_read) within the
 * partition and request byte limits, always letting the first partition
 * with data return at least one batch. If fewer than min_bytes are ready
 * and max_wait allows, the request is parked: its partitions are kept by
 * topic name (never by handle, so a deleted topic cannot leave a dangling
 * pointer) and re-read when data arrives (the append hook bumps
 * data_epoch) or when max_wait expires.
 *
 * Threading: loop thread.
 */
#include "kafka/broker_int.h"

#include <inttypes.h>
#include <string.h>

#define FETCH_BUF_MAX (1u << 30)
/* The most a Fetch response carries (Kafka's fetch.max.bytes is 55 MB),
 * below the server's 64 MiB response cap even with one oversized batch. */
#define FETCH_MAX_BYTES (50u << 20)

/* ------------------------------------------------------------------------
 * Produce
 * ------------------------------------------------------------------------ */

typedef struct {
    kafka_broker_t *b;
    kafka_slot_t *slot;
    int16_t version;
    int pending;         /* fsyncs not yet done */
    core_arena_t *arena; /* owns resp and everything it points to */
    kafka_produce_resp_t resp;
} produce_wait_t;

typedef struct {
    produce_wait_t *w;
    kafka_produce_resp_part_t *part;
} produce_sync_t;

static int16_t storage_error(int rc)
{
    switch (rc) {
    case CORE_ECORRUPT:
        return KAFKA_ERR_CORRUPT_MESSAGE;
    case CORE_ETOOBIG:
        return KAFKA_ERR_MESSAGE_TOO_LARGE;
    case CORE_EUNSUPP:
        return KAFKA_ERR_CORRUPT_MESSAGE;
    default:
        return KAFKA_ERR_KAFKA_STORAGE_ERROR;
    }
}

/* Validates a batch's records as Kafka's LogValidator does before an
 * append, so malformed records never reach consumers or pipelines: the
 * CRC, then (decompressed if need be, under a cap) every record's lengths
 * inside the batch, and offset deltas 0..n-1 with n = LastOffsetDelta + 1.
 * Returns the error code to answer, or KAFKA_ERR_NONE. */
static int16_t check_records(kafka_broker_t *b, const uint8_t *p, size_t len,
                             const record_batch_header_t *h)
{
    const uint8_t *plain = p;
    size_t plain_len = len;
    bool check_crc = true;
    if ((h->attributes & RECORD_ATTR_CODEC_MASK) != RECORD_CODEC_NONE) {
        core_buf_reset(&b->plain);
        int rc = record_batch_decompress(p, len, KAFKA_PLAIN_MAX, &b->plain);
        if (rc != 0) /* a bad CRC, or a payload the codec rejects */
            return rc == CORE_ETOOBIG ? KAFKA_ERR_MESSAGE_TOO_LARGE : KAFKA_ERR_CORRUPT_MESSAGE;
        plain = b->plain.data;
        plain_len = b->plain.len;
        check_crc = false; /* record_batch_decompress checked it */
    }
    record_iter_t it;
    if (record_iter_init(&it, plain, plain_len, check_crc) != 0)
        return KAFKA_ERR_CORRUPT_MESSAGE;
    if (h->records_count != h->last_offset_delta + 1)
        return KAFKA_ERR_INVALID_RECORD;
    record_t r;
    int rc;
    int64_t expect = h->base_offset;
    while ((rc = record_iter_next(&it, &r)) == 1)
        if (r.offset != expect++)
            return KAFKA_ERR_INVALID_RECORD;
    return rc == 0 ? KAFKA_ERR_NONE : KAFKA_ERR_INVALID_RECORD;
}

/* Appends one partition's batch; fills out and sets *sync_end when an
 * fsync is owed. */
static void produce_part(kafka_req_t *req, seglog_topic_t *t, const kafka_produce_req_part_t *in,
                         kafka_produce_resp_part_t *out, int16_t acks, int64_t *sync_end)
{
    kafka_broker_t *b = req->b;
    seglog_part_t *p = t ? seglog_partition(t, in->partition) : NULL;
    *out = (kafka_produce_resp_part_t){in->partition, KAFKA_ERR_NONE, -1, -1, -1};
    *sync_end = -1;
    if (p == NULL) {
        out->error_code = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (strcmp(seglog_topic_name(t), KAFKA_OFFSETS_TOPIC) == 0) {
        out->error_code = KAFKA_ERR_INVALID_TOPIC_EXCEPTION; /* only the coordinator writes */
        return;
    }
    record_batch_header_t h;
    size_t len = in->records.len > 0 ? (size_t)in->records.len : 0;
    if (len == 0 || record_batch_parse(in->records.p, len, false, &h) != 0 ||
        record_batch_size(&h) != len) {
        atomic_fetch_add(&b->corrupt_batches, 1);
        out->error_code = KAFKA_ERR_CORRUPT_MESSAGE; /* one whole v2 batch required */
        return;
    }
    if ((h.attributes & RECORD_ATTR_CODEC_MASK) == RECORD_CODEC_ZSTD && req->h.api_version < 7) {
        out->error_code = KAFKA_ERR_UNSUPPORTED_COMPRESSION_TYPE; /* as Kafka: zstd needs v7 */
        return;
    }
    out->error_code = check_records(b, in->records.p, len, &h);
    if (out->error_code != KAFKA_ERR_NONE) {
        atomic_fetch_add(&b->corrupt_batches, 1);
        return;
    }
    int64_t base = -1, end = -1;
    if (h.producer_id >= 0)
        kafka_producers_load(b->producers, p); /* once per partition: state after a restart */
    int16_t err = kafka_producers_check(b->producers, p, &h, &base);
    if (err == KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER) {
        atomic_fetch_add(&b->duplicate_batches, 1);
        out->base_offset = base; /* the original offset; nothing appended */
        out->log_start_offset = seglog_log_start(p);
        *sync_end = acks == -1 ? base + h.last_offset_delta + 1 : -1;
        return;
    }
    if (err != KAFKA_ERR_NONE) {
        out->error_code = err;
        return;
    }
    int rc = seglog_append_nowait(p, (uint8_t *)in->records.p, len, &base, &end);
    if (rc != 0) {
        out->error_code = storage_error(rc);
        if (rc == CORE_ECORRUPT)
            atomic_fetch_add(&b->corrupt_batches, 1);
        else if (rc == CORE_ETOOBIG)
            atomic_fetch_add(&b->oversized_batches, 1);
        else
            core_log(CORE_LOG_ERROR, "kafka", "produce to %s: %s", seglog_part_name(p),
                     core_error_detail());
        return;
    }
    (void)kafka_producers_record(b->producers, p, &h, base); /* a hint on failure */
    atomic_fetch_add(&b->records_in, h.records_count);
    out->base_offset = base;
    out->log_start_offset = seglog_log_start(p);
    if (acks == -1 || seglog_topic_config(t)->flush == SEGLOG_FLUSH_ALWAYS)
        *sync_end = end;
}

static void produce_finish(produce_wait_t *w)
{
    if (w->slot == NULL) { /* acks=0: the fsync was owed to the topic's policy only */
        core_arena_destroy(w->arena);
        return;
    }
    for (int32_t i = 0; i < w->resp.n_topics; i++)
        for (int32_t k = 0; k < w->resp.topics[i].n_partitions; k++)
            kafka_broker_count_error(w->b, KAFKA_API_PRODUCE,
                                     w->resp.topics[i].partitions[k].error_code);
    if (kafka_encode_produce_resp(&w->slot->out, w->version, &w->resp) != 0)
        core_log(CORE_LOG_ERROR, "kafka", "cannot encode a Produce response: %s",
                 core_error_detail());
    kafka_broker_complete(w->b, w->slot);
    core_arena_destroy(w->arena);
}

static void produce_synced(void *arg, int rc)
{
    produce_sync_t *s = arg;
    if (rc != 0)
        s->part->error_code = KAFKA_ERR_KAFKA_STORAGE_ERROR;
    if (--s->w->pending == 0)
        produce_finish(s->w);
}

/* First pass: allocates the whole response (and the sync contexts) before
 * anything is appended, so running out of memory cannot leave a request
 * half applied. */
static produce_sync_t **produce_alloc(const kafka_produce_req_t *pr, produce_wait_t *w)
{
    core_arena_t *a = w->arena;
    kafka_produce_resp_topic_t *topics =
        core_arena_alloc(a, (size_t)pr->n_topics * sizeof *topics + 1);
    produce_sync_t **syncs = core_arena_alloc(a, (size_t)pr->n_topics * sizeof *syncs + 1);
    if (topics == NULL || syncs == NULL)
        return NULL;
    for (int32_t i = 0; i < pr->n_topics; i++) {
        const kafka_produce_req_topic_t *in = &pr->topics[i];
        kafka_produce_resp_part_t *parts =
            core_arena_alloc(a, (size_t)in->n_partitions * sizeof *parts + 1);
        syncs[i] = core_arena_alloc(a, (size_t)in->n_partitions * sizeof **syncs + 1);
        kafka_bytes_t name = kafka_bytes_dup(a, in->name);
        if (parts == NULL || syncs[i] == NULL || (name.len < 0 && in->name.len >= 0))
            return NULL;
        topics[i] = (kafka_produce_resp_topic_t){name, parts, in->n_partitions};
    }
    w->resp = (kafka_produce_resp_t){topics, pr->n_topics, 0};
    return syncs;
}

/* Second pass: appends every partition and requests the fsyncs owed. */
static void produce_all(kafka_req_t *req, const kafka_produce_req_t *pr, produce_wait_t *w,
                        produce_sync_t **syncs)
{
    bool bad_acks = pr->acks != 0 && pr->acks != 1 && pr->acks != -1;
    for (int32_t i = 0; i < pr->n_topics; i++) {
        const kafka_produce_req_topic_t *in = &pr->topics[i];
        kafka_produce_resp_part_t *parts =
            (kafka_produce_resp_part_t *)w->resp.topics[i].partitions;
        char *name = kafka_bytes_cstr_dup(req->arena, in->name);
        seglog_topic_t *t = name ? seglog_topic_get(req->b->log, name) : NULL;
        for (int32_t k = 0; k < in->n_partitions; k++) {
            int64_t end = -1;
            if (bad_acks)
                parts[k] = (kafka_produce_resp_part_t){in->partitions[k].partition,
                                                       KAFKA_ERR_INVALID_REQUIRED_ACKS, -1, -1, -1};
            else
                produce_part(req, t, &in->partitions[k], &parts[k], pr->acks, &end);
            if (end < 0)
                continue;
            produce_sync_t *s = &syncs[i][k];
            *s = (produce_sync_t){w, &parts[k]};
            w->pending++;
            if (kafka_broker_sync(req->b, seglog_partition(t, in->partitions[k].partition), end,
                                  produce_synced, s) != 0) {
                w->pending--;
                parts[k].error_code = KAFKA_ERR_KAFKA_STORAGE_ERROR;
            }
        }
    }
}

int kafka_handle_produce(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_produce_req_t *pr = &body->produce;
    produce_wait_t *w = NULL;
    produce_sync_t **syncs = NULL;
    size_t cap = 4 * (size_t)req->b->cfg.max_request_bytes + (1u << 20);
    core_arena_t *a = core_arena_create(CORE_MEM_KAFKA, 4096, cap);
    if (a != NULL && (w = core_arena_alloc(a, sizeof *w)) != NULL) {
        *w = (produce_wait_t){req->b, req->slot, req->h.api_version, 1, a, {NULL, 0, 0}};
        syncs = produce_alloc(pr, w);
    }
    if (syncs == NULL) {
        core_log(CORE_LOG_ERROR, "kafka",
                 "%s: out of memory for a Produce response; nothing "
                 "was appended; closing the connection",
                 kafka_conn_peer(req->conn));
        core_arena_destroy(a);
        return KAFKA_SERVER_CLOSE;
    }
    produce_all(req, pr, w, syncs);
    if (pr->acks == 0)
        w->slot = NULL; /* no response; fsyncs owed to a flush=always topic still run */
    if (--w->pending > 0)
        return pr->acks == 0 ? KAFKA_SERVER_NO_RESPONSE : KAFKA_SERVER_DEFER;
    if (pr->acks == 0) {
        core_arena_destroy(a);
        return KAFKA_SERVER_NO_RESPONSE;
    }
    for (int32_t i = 0; i < w->resp.n_topics; i++)
        for (int32_t k = 0; k < w->resp.topics[i].n_partitions; k++)
            kafka_broker_count_error(req->b, KAFKA_API_PRODUCE,
                                     w->resp.topics[i].partitions[k].error_code);
    int rc = kafka_encode_produce_resp(&req->slot->out, req->h.api_version, &w->resp);
    core_arena_destroy(a);
    return kafka_broker_encoded(req, rc);
}

/* ------------------------------------------------------------------------
 * Fetch
 * ------------------------------------------------------------------------ */

typedef struct {
    char *topic; /* NUL-terminated, in the parked fetch's arena */
    int32_t partition;
    int64_t offset;
    int32_t max_bytes;
} fetch_want_t;

typedef struct {
    kafka_bytes_t topic;
    const fetch_want_t *wants;
    int32_t n;
} fetch_want_topic_t;

struct kafka_parked_fetch {
    kafka_slot_t *slot;
    int16_t version;
    int64_t deadline_ms;
    int32_t min_bytes;
    int32_t max_bytes;
    core_arena_t *arena;
    fetch_want_topic_t *topics;
    int32_t n_topics;
    struct kafka_parked_fetch *next;
};

/* Where one partition's records sit in the response's data buffer. */
typedef struct {
    size_t off, len;
} span_t;

/* Reads one partition into buf, at most `limit` bytes; only when `first`
 * may a single batch larger than that come back (seglog returns at least
 * one whole batch). Fills out and *span. */
static void fetch_part(kafka_broker_t *b, const fetch_want_t *want, size_t limit, bool first,
                       core_buf_t *buf, kafka_fetch_resp_part_t *out, span_t *span)
{
    seglog_topic_t *t = seglog_topic_get(b->log, want->topic);
    seglog_part_t *p = t ? seglog_partition(t, want->partition) : NULL;
    *out = (kafka_fetch_resp_part_t){want->partition, KAFKA_ERR_NONE, -1, -1, -1, NULL, 0, -1,
                                     KAFKA_NULL_BYTES};
    *span = (span_t){buf->len, 0};
    if (p == NULL) {
        out->error_code = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    seglog_part_info_t info;
    seglog_part_info(p, &info);
    out->high_watermark = out->last_stable_offset = info.log_end;
    out->log_start_offset = info.log_start;
    if (info.failed) {
        out->error_code = KAFKA_ERR_KAFKA_STORAGE_ERROR;
    } else if (want->offset < info.log_start || want->offset > info.log_end) {
        out->error_code = KAFKA_ERR_OFFSET_OUT_OF_RANGE;
    } else if (limit > 0 && want->offset < info.log_end) {
        int rc = seglog_read(p, want->offset, limit, buf);
        if (rc != 0) {
            core_log(CORE_LOG_ERROR, "kafka", "fetch %s at %" PRId64 ": %s", seglog_part_name(p),
                     want->offset, core_error_detail());
            out->error_code =
                rc == CORE_ERANGE ? KAFKA_ERR_OFFSET_OUT_OF_RANGE : KAFKA_ERR_KAFKA_STORAGE_ERROR;
            buf->len = span->off;
        }
        if (!first && buf->len - span->off > limit)
            buf->len = span->off; /* its first batch does not fit: nothing this time */
        span->len = buf->len - span->off;
        seglog_part_count_out(p, buf->data + span->off, span->len);
    }
}

/* Reads every wanted partition within the limits. Returns the bytes read;
 * *any_error tells whether a partition carries an error. */
static size_t fetch_read(kafka_broker_t *b, const kafka_parked_fetch_t *f, core_buf_t *data,
                         kafka_fetch_resp_topic_t *topics, span_t **spans, core_arena_t *a,
                         bool *any_error)
{
    size_t total = 0;
    size_t remaining = f->max_bytes > 0 ? CORE_MIN((size_t)f->max_bytes, FETCH_MAX_BYTES) : 0;
    for (int32_t i = 0; i < f->n_topics; i++) {
        int32_t n = f->topics[i].n;
        kafka_fetch_resp_part_t *parts = core_arena_alloc(a, (size_t)n * sizeof *parts + 1);
        spans[i] = core_arena_alloc(a, (size_t)n * sizeof **spans + 1);
        if (parts == NULL || spans[i] == NULL)
            return SIZE_MAX;
        for (int32_t k = 0; k < n; k++) {
            const fetch_want_t *w = &f->topics[i].wants[k];
            size_t limit = CORE_MIN((size_t)CORE_MAX(w->max_bytes, 0), remaining);
            /* Until something is read, one batch may pass the limits. */
            fetch_part(b, w, total == 0 ? CORE_MAX(limit, 1) : limit, total == 0, data, &parts[k],
                       &spans[i][k]);
            total += spans[i][k].len;
            remaining = spans[i][k].len >= remaining ? 0 : remaining - spans[i][k].len;
            *any_error |= parts[k].error_code != KAFKA_ERR_NONE;
            kafka_broker_count_error(b, KAFKA_API_FETCH, parts[k].error_code);
        }
        topics[i] = (kafka_fetch_resp_topic_t){f->topics[i].topic, parts, n};
    }
    return total;
}

/* Encodes a Fetch response into `out` if at least min_bytes are ready, an
 * error must be reported, or `force`. Returns true when it did. */
static bool fetch_respond(kafka_broker_t *b, const kafka_parked_fetch_t *f, core_arena_t *a,
                          core_buf_t *out, bool force)
{
    core_buf_t data;
    core_buf_init(&data, CORE_MEM_KAFKA, FETCH_BUF_MAX);
    kafka_fetch_resp_topic_t *topics =
        core_arena_alloc(a, (size_t)f->n_topics * sizeof *topics + 1);
    span_t **spans = core_arena_alloc(a, (size_t)f->n_topics * sizeof *spans + 1);
    bool any_error = false;
    size_t total =
        topics && spans ? fetch_read(b, f, &data, topics, spans, a, &any_error) : SIZE_MAX;
    bool failed = total == SIZE_MAX;
    bool ready = force || any_error || failed || total >= (size_t)CORE_MAX(f->min_bytes, 0);
    if (ready) {
        kafka_fetch_resp_t resp = {0, KAFKA_ERR_UNKNOWN_SERVER_ERROR, 0, NULL, 0};
        if (!failed) {
            /* Views into `data` only now that it no longer moves. */
            for (int32_t i = 0; i < f->n_topics; i++)
                for (int32_t k = 0; k < f->topics[i].n; k++) {
                    kafka_fetch_resp_part_t *p =
                        (kafka_fetch_resp_part_t *)&topics[i].partitions[k];
                    p->records = spans[i][k].len == 0
                                     ? kafka_bytes_of("", 0)
                                     : kafka_bytes_of(data.data + spans[i][k].off, spans[i][k].len);
                }
            resp = (kafka_fetch_resp_t){0, KAFKA_ERR_NONE, 0, topics, f->n_topics};
        }
        if (kafka_encode_fetch_resp(out, f->version, &resp) != 0)
            core_log(CORE_LOG_ERROR, "kafka", "cannot encode a Fetch response: %s",
                     core_error_detail());
    }
    core_buf_fini(&data);
    return ready;
}

/* Copies the request into a parked fetch (its own arena). */
static kafka_parked_fetch_t *park_copy(kafka_req_t *req, const kafka_fetch_req_t *fr)
{
    core_arena_t *a = core_arena_create(CORE_MEM_KAFKA, 4096, 64u << 20);
    kafka_parked_fetch_t *f = a ? core_arena_alloc(a, sizeof *f) : NULL;
    if (f == NULL) {
        core_arena_destroy(a);
        return NULL;
    }
    *f = (kafka_parked_fetch_t){req->slot,     req->h.api_version, req->now_ms + fr->max_wait_ms,
                                fr->min_bytes, fr->max_bytes,      a,
                                NULL,          fr->n_topics,       NULL};
    f->topics = core_arena_alloc(a, (size_t)fr->n_topics * sizeof *f->topics + 1);
    for (int32_t i = 0; f->topics && i < fr->n_topics; i++) {
        const kafka_fetch_req_topic_t *t = &fr->topics[i];
        fetch_want_t *w = core_arena_alloc(a, (size_t)t->n_partitions * sizeof *w + 1);
        char *name = kafka_bytes_cstr_dup(a, t->topic);
        if (w == NULL || name == NULL) {
            core_arena_destroy(a);
            return NULL;
        }
        for (int32_t k = 0; k < t->n_partitions; k++)
            w[k] = (fetch_want_t){name, t->partitions[k].partition, t->partitions[k].fetch_offset,
                                  t->partitions[k].partition_max_bytes};
        f->topics[i] = (fetch_want_topic_t){kafka_bytes_cstr(name), w, t->n_partitions};
    }
    if (f->topics == NULL) {
        core_arena_destroy(a);
        return NULL;
    }
    return f;
}

int kafka_handle_fetch(kafka_req_t *req, kafka_request_body_t *body)
{
    kafka_broker_t *b = req->b;
    kafka_parked_fetch_t *f = park_copy(req, &body->fetch);
    if (f == NULL)
        return kafka_broker_encoded(req, CORE_ENOMEM);
    bool may_wait = body->fetch.max_wait_ms > 0;
    if (fetch_respond(b, f, req->arena, &req->slot->out, !may_wait)) {
        core_arena_destroy(f->arena);
        return KAFKA_SERVER_DONE;
    }
    f->next = b->fetches;
    b->fetches = f;
    return KAFKA_SERVER_DEFER;
}

/* True if a wanted partition has data past its fetch offset, or something
 * changed that the answer must report (the topic or offset went away). A
 * cheap test on offsets, so new data elsewhere does not make every parked
 * fetch read its partitions. */
static bool fetch_may_answer(kafka_broker_t *b, const kafka_parked_fetch_t *f)
{
    for (int32_t i = 0; i < f->n_topics; i++) {
        for (int32_t k = 0; k < f->topics[i].n; k++) {
            const fetch_want_t *w = &f->topics[i].wants[k];
            seglog_topic_t *t = seglog_topic_get(b->log, w->topic);
            seglog_part_t *p = t ? seglog_partition(t, w->partition) : NULL;
            if (p == NULL || w->offset < seglog_log_start(p) || w->offset < seglog_log_end(p))
                return true;
        }
    }
    return false;
}

int64_t kafka_fetches_tick(kafka_broker_t *b, int64_t now_ms, bool all)
{
    int64_t epoch = atomic_load_explicit(&b->data_epoch, memory_order_relaxed);
    bool new_data = epoch != b->seen_epoch;
    b->seen_epoch = epoch;
    int64_t next = INT64_MAX;
    kafka_parked_fetch_t **pp = &b->fetches;
    while (*pp != NULL) {
        kafka_parked_fetch_t *f = *pp;
        bool expired = all || now_ms >= f->deadline_ms;
        bool gone = f->slot->conn == NULL; /* nobody to answer: drop it now */
        if (gone || ((new_data || expired) && (expired || fetch_may_answer(b, f)) &&
                     fetch_respond(b, f, b->arena, &f->slot->out, expired))) {
            *pp = f->next;
            kafka_broker_complete(b, f->slot);
            core_arena_destroy(f->arena);
            core_arena_reset(b->arena);
            continue;
        }
        core_arena_reset(b->arena);
        next = CORE_MIN(next, f->deadline_ms);
        pp = &f->next;
    }
    return next;
}

/* ------------------------------------------------------------------------
 * ListOffsets
 * ------------------------------------------------------------------------ */

/* The timestamp of the record at `offset`, or -1. */
static int64_t record_time(seglog_part_t *p, int64_t offset)
{
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_KAFKA, FETCH_BUF_MAX);
    int64_t ts = -1;
    if (seglog_read(p, offset, 1, &buf) == 0 && buf.len > 0) {
        core_buf_t plain;
        core_buf_init(&plain, CORE_MEM_KAFKA, 256u << 20);
        if (record_batch_decompress(buf.data, buf.len, 256u << 20, &plain) == 0) {
            record_iter_t it;
            record_t r;
            if (record_iter_init(&it, plain.data, plain.len, false) == 0)
                while (record_iter_next(&it, &r) == 1)
                    if (r.offset == offset) {
                        ts = r.timestamp;
                        break;
                    }
        }
        core_buf_fini(&plain);
    }
    core_buf_fini(&buf);
    return ts;
}

static void list_offsets_part(kafka_broker_t *b, seglog_topic_t *t,
                              const kafka_list_offsets_req_part_t *in,
                              kafka_list_offsets_resp_part_t *out)
{
    seglog_part_t *p = t ? seglog_partition(t, in->partition) : NULL;
    *out = (kafka_list_offsets_resp_part_t){in->partition, KAFKA_ERR_NONE, -1, -1, 0};
    if (p == NULL) {
        out->error_code = KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    if (in->timestamp == -1) {
        out->offset = seglog_log_end(p);
    } else if (in->timestamp == -2) {
        out->offset = seglog_log_start(p);
    } else if (in->timestamp < 0) {
        out->error_code = KAFKA_ERR_INVALID_REQUEST;
    } else {
        int64_t off = -1;
        if (seglog_offset_for_time(p, in->timestamp, &off) != 0) {
            out->error_code = KAFKA_ERR_KAFKA_STORAGE_ERROR;
        } else if (off < seglog_log_end(p)) {
            out->offset = off;
            out->timestamp = record_time(p, off);
        }
    }
    kafka_broker_count_error(b, KAFKA_API_LIST_OFFSETS, out->error_code);
}

int kafka_handle_list_offsets(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_list_offsets_req_t *lr = &body->list_offsets;
    kafka_list_offsets_resp_topic_t *topics =
        core_arena_alloc(req->arena, (size_t)lr->n_topics * sizeof *topics + 1);
    if (topics == NULL)
        return kafka_broker_encoded(req, CORE_ENOMEM);
    for (int32_t i = 0; i < lr->n_topics; i++) {
        const kafka_list_offsets_req_topic_t *in = &lr->topics[i];
        char *name = kafka_bytes_cstr_dup(req->arena, in->name);
        seglog_topic_t *t = name ? seglog_topic_get(req->b->log, name) : NULL;
        kafka_list_offsets_resp_part_t *parts =
            core_arena_alloc(req->arena, (size_t)in->n_partitions * sizeof *parts + 1);
        if (parts == NULL)
            return kafka_broker_encoded(req, CORE_ENOMEM);
        for (int32_t k = 0; k < in->n_partitions; k++)
            list_offsets_part(req->b, t, &in->partitions[k], &parts[k]);
        topics[i] = (kafka_list_offsets_resp_topic_t){in->name, parts, in->n_partitions};
    }
    kafka_list_offsets_resp_t resp = {0, topics, lr->n_topics};
    return kafka_broker_encoded(
        req, kafka_encode_list_offsets_resp(&req->slot->out, req->h.api_version, &resp));
}

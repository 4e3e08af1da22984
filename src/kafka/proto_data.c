/*
 * proto_data.c - the data-path APIs: Produce (v0-7), Fetch (v4-11) and
 * ListOffsets (v1-5). Request decoders and response encoders, field by
 * field as apache/kafka's ProduceRequest.json etc. lay them out; the
 * comment beside a versioned field names the versions that carry it.
 *
 * Invariants: decoders write only views into the input and arena memory,
 * consume the whole body (kafka_rd_finish), and give absent fields their
 * JSON defaults; encoders never write a field outside its versions.
 * Quirks kept here on purpose:
 *   - Produce responses put ThrottleTimeMs LAST (v1+); Fetch and
 *     ListOffsets put it first.
 *   - Fetch records are never null on the wire: a null view is written as
 *     zero-length (librdkafka rejects a -1 MessageSetSize).
 *
 * Threading: reentrant; no shared state.
 */
#include "kafka/proto_int.h"

/* ------------------------------------------------------------------------
 * Produce
 * ------------------------------------------------------------------------ */
static void produce_req_topic(kafka_rd_t *r, core_arena_t *a, kafka_produce_req_topic_t *t)
{
    t->name = kafka_rd_string(r, "topic_data.name");
    /* partition index (4) + records length (4) */
    int32_t n = kafka_rd_array(r, 8, "partition_data");
    t->partitions = kafka_rd_alloc(r, a, n, sizeof(*t->partitions), "partition_data");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        kafka_produce_req_part_t *p = &t->partitions[i];
        p->partition = kafka_rd_i32(r, "partition_data.index");
        p->records = kafka_rd_nbytes(r, "partition_data.records");
    }
    t->n_partitions = r->err == 0 ? n : 0;
}

int kafka_decode_produce_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                             kafka_produce_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_PRODUCE, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->transactional_id = KAFKA_NULL_BYTES;
    if (version >= 3)
        out->transactional_id = kafka_rd_nstring(r, "transactional_id");
    out->acks = kafka_rd_i16(r, "acks");
    out->timeout_ms = kafka_rd_i32(r, "timeout_ms");
    /* name length (2) + partition count (4) */
    int32_t n = kafka_rd_array(r, 6, "topic_data");
    out->topics = kafka_rd_alloc(r, a, n, sizeof(*out->topics), "topic_data");
    for (int32_t i = 0; i < n && r->err == 0; i++)
        produce_req_topic(r, a, &out->topics[i]);
    out->n_topics = r->err == 0 ? n : 0;
    return kafka_rd_finish(r, "Produce", version);
}

int kafka_encode_produce_resp(core_buf_t *out, int16_t version, const kafka_produce_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_PRODUCE, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    kafka_wr_array(&w, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const kafka_produce_resp_topic_t *t = &resp->topics[i];
        kafka_wr_string(&w, t->name);
        kafka_wr_array(&w, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            const kafka_produce_resp_part_t *p = &t->partitions[j];
            kafka_wr_i32(&w, p->partition);
            kafka_wr_i16(&w, p->error_code);
            kafka_wr_i64(&w, p->base_offset);
            if (version >= 2)
                kafka_wr_i64(&w, p->log_append_time_ms);
            if (version >= 5)
                kafka_wr_i64(&w, p->log_start_offset);
        }
    }
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * Fetch
 * ------------------------------------------------------------------------ */
static void fetch_req_topic(kafka_rd_t *r, int16_t version, core_arena_t *a,
                            kafka_fetch_req_topic_t *t)
{
    t->topic = kafka_rd_string(r, "topics.topic");
    /* partition (4) + fetch offset (8) + partition max bytes (4) */
    int32_t n = kafka_rd_array(r, 16, "topics.partitions");
    t->partitions = kafka_rd_alloc(r, a, n, sizeof(*t->partitions), "topics.partitions");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        kafka_fetch_req_part_t *p = &t->partitions[i];
        p->partition = kafka_rd_i32(r, "partitions.partition");
        p->current_leader_epoch = -1;
        if (version >= 9)
            p->current_leader_epoch = kafka_rd_i32(r, "partitions.current_leader_epoch");
        p->fetch_offset = kafka_rd_i64(r, "partitions.fetch_offset");
        p->log_start_offset = -1;
        if (version >= 5)
            p->log_start_offset = kafka_rd_i64(r, "partitions.log_start_offset");
        p->partition_max_bytes = kafka_rd_i32(r, "partitions.partition_max_bytes");
    }
    t->n_partitions = r->err == 0 ? n : 0;
}

/* v7+: topics the client's fetch session no longer wants. */
static void fetch_req_forgotten(kafka_rd_t *r, core_arena_t *a, kafka_fetch_req_t *out)
{
    /* topic length (2) + partition count (4) */
    int32_t n = kafka_rd_array(r, 6, "forgotten_topics_data");
    out->forgotten = kafka_rd_alloc(r, a, n, sizeof(*out->forgotten), "forgotten_topics_data");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        kafka_fetch_req_forgotten_t *f = &out->forgotten[i];
        f->topic = kafka_rd_string(r, "forgotten_topics_data.topic");
        kafka_rd_i32_array(r, a, &f->partitions, &f->n_partitions,
                           "forgotten_topics_data.partitions");
    }
    out->n_forgotten = r->err == 0 ? n : 0;
}

int kafka_decode_fetch_req(kafka_rd_t *r, int16_t version, core_arena_t *a, kafka_fetch_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_FETCH, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->replica_id = kafka_rd_i32(r, "replica_id");
    out->max_wait_ms = kafka_rd_i32(r, "max_wait_ms");
    out->min_bytes = kafka_rd_i32(r, "min_bytes");
    out->max_bytes = kafka_rd_i32(r, "max_bytes");            /* v3+ */
    out->isolation_level = kafka_rd_i8(r, "isolation_level"); /* v4+ */
    out->session_id = 0;
    out->session_epoch = -1;
    if (version >= 7) {
        out->session_id = kafka_rd_i32(r, "session_id");
        out->session_epoch = kafka_rd_i32(r, "session_epoch");
    }
    int32_t n = kafka_rd_array(r, 6, "topics");
    out->topics = kafka_rd_alloc(r, a, n, sizeof(*out->topics), "topics");
    for (int32_t i = 0; i < n && r->err == 0; i++)
        fetch_req_topic(r, version, a, &out->topics[i]);
    out->n_topics = r->err == 0 ? n : 0;
    if (version >= 7)
        fetch_req_forgotten(r, a, out);
    out->rack_id = (kafka_bytes_t){NULL, 0};
    if (version >= 11)
        out->rack_id = kafka_rd_string(r, "rack_id");
    return kafka_rd_finish(r, "Fetch", version);
}

static void fetch_resp_part(kafka_wr_t *w, int16_t version, const kafka_fetch_resp_part_t *p)
{
    kafka_wr_i32(w, p->partition);
    kafka_wr_i16(w, p->error_code);
    kafka_wr_i64(w, p->high_watermark);
    kafka_wr_i64(w, p->last_stable_offset); /* v4+ */
    if (version >= 5)
        kafka_wr_i64(w, p->log_start_offset);
    kafka_wr_narray(w, p->n_aborted); /* v4+, nullable */
    for (int32_t k = 0; k < p->n_aborted; k++) {
        kafka_wr_i64(w, p->aborted[k].producer_id);
        kafka_wr_i64(w, p->aborted[k].first_offset);
    }
    if (version >= 11)
        kafka_wr_i32(w, p->preferred_read_replica);
    /* Never null: librdkafka treats a -1 size as a corrupt response. */
    kafka_wr_bytes(w, p->records);
}

int kafka_encode_fetch_resp(core_buf_t *out, int16_t version, const kafka_fetch_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_FETCH, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    kafka_wr_i32(&w, resp->throttle_time_ms); /* v1+ */
    if (version >= 7) {
        kafka_wr_i16(&w, resp->error_code);
        kafka_wr_i32(&w, resp->session_id);
    }
    kafka_wr_array(&w, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const kafka_fetch_resp_topic_t *t = &resp->topics[i];
        kafka_wr_string(&w, t->topic);
        kafka_wr_array(&w, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++)
            fetch_resp_part(&w, version, &t->partitions[j]);
    }
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * ListOffsets
 * ------------------------------------------------------------------------ */
static void list_offsets_req_topic(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                   kafka_list_offsets_req_topic_t *t)
{
    t->name = kafka_rd_string(r, "topics.name");
    /* partition (4) + timestamp (8) */
    int32_t n = kafka_rd_array(r, 12, "topics.partitions");
    t->partitions = kafka_rd_alloc(r, a, n, sizeof(*t->partitions), "topics.partitions");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        kafka_list_offsets_req_part_t *p = &t->partitions[i];
        p->partition = kafka_rd_i32(r, "partitions.partition_index");
        p->current_leader_epoch = -1;
        if (version >= 4)
            p->current_leader_epoch = kafka_rd_i32(r, "partitions.current_leader_epoch");
        p->timestamp = kafka_rd_i64(r, "partitions.timestamp");
    }
    t->n_partitions = r->err == 0 ? n : 0;
}

int kafka_decode_list_offsets_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                  kafka_list_offsets_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_LIST_OFFSETS, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->replica_id = kafka_rd_i32(r, "replica_id");
    if (version >= 2)
        out->isolation_level = kafka_rd_i8(r, "isolation_level");
    int32_t n = kafka_rd_array(r, 6, "topics");
    out->topics = kafka_rd_alloc(r, a, n, sizeof(*out->topics), "topics");
    for (int32_t i = 0; i < n && r->err == 0; i++)
        list_offsets_req_topic(r, version, a, &out->topics[i]);
    out->n_topics = r->err == 0 ? n : 0;
    return kafka_rd_finish(r, "ListOffsets", version);
}

int kafka_encode_list_offsets_resp(core_buf_t *out, int16_t version,
                                   const kafka_list_offsets_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_LIST_OFFSETS, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 2)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_array(&w, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const kafka_list_offsets_resp_topic_t *t = &resp->topics[i];
        kafka_wr_string(&w, t->name);
        kafka_wr_array(&w, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            const kafka_list_offsets_resp_part_t *p = &t->partitions[j];
            kafka_wr_i32(&w, p->partition);
            kafka_wr_i16(&w, p->error_code);
            kafka_wr_i64(&w, p->timestamp);
            kafka_wr_i64(&w, p->offset);
            if (version >= 4)
                kafka_wr_i32(&w, p->leader_epoch);
        }
    }
    return kafka_wr_finish(&w);
}

/*
 * tests/fuzz/kafka_request.c - libFuzzer target for the Kafka request
 * decoders (src/kafka/wire.c, proto_*.c).
 *
 * Each input is one request frame without its 4-byte size prefix: the
 * header is decoded, then the body of whatever (API, version) it names if
 * the broker serves it. Oracles, on top of ASan/UBSan:
 *   - every byte view in a decoded request lies inside the input, and every
 *     array count is -1 (null, where allowed) or within what the input
 *     could hold; a violation calls abort();
 *   - for the data-path APIs, a response echoing the request's topics and
 *     partitions is encoded for the same version and must succeed.
 *
 * Invariants: one arena, reset before every input, holds all decoder
 * allocations (capped, so absurd counts cannot exhaust memory); response
 * buffers are finished before returning, so LeakSanitizer stays quiet.
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "kafka/proto_int.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *in_start, *in_end;

static void view_ok(kafka_bytes_t b)
{
    if (b.len == -1 && b.p == NULL)
        return;
    if (b.len < 0)
        abort();
    if (b.len == 0)
        return;
    if (b.p < in_start || b.p > in_end || (size_t)(in_end - b.p) < (size_t)b.len)
        abort();
}

static void count_ok(int32_t n, bool nullable)
{
    if (n < (nullable ? -1 : 0) || (n > 0 && (size_t)n > (size_t)(in_end - in_start)))
        abort();
}

static void check_produce(const kafka_produce_req_t *q)
{
    view_ok(q->transactional_id);
    count_ok(q->n_topics, false);
    for (int32_t i = 0; i < q->n_topics; i++) {
        view_ok(q->topics[i].name);
        count_ok(q->topics[i].n_partitions, false);
        for (int32_t j = 0; j < q->topics[i].n_partitions; j++)
            view_ok(q->topics[i].partitions[j].records);
    }
}

static void check_fetch(const kafka_fetch_req_t *q)
{
    count_ok(q->n_topics, false);
    for (int32_t i = 0; i < q->n_topics; i++) {
        view_ok(q->topics[i].topic);
        count_ok(q->topics[i].n_partitions, false);
    }
    count_ok(q->n_forgotten, false);
    for (int32_t i = 0; i < q->n_forgotten; i++) {
        view_ok(q->forgotten[i].topic);
        count_ok(q->forgotten[i].n_partitions, false);
    }
    view_ok(q->rack_id);
}

static void check_groups(int16_t key, const kafka_request_body_t *b)
{
    switch (key) {
    case KAFKA_API_OFFSET_COMMIT:
        view_ok(b->offset_commit.group_id);
        view_ok(b->offset_commit.member_id);
        view_ok(b->offset_commit.group_instance_id);
        for (int32_t i = 0; i < b->offset_commit.n_topics; i++) {
            const kafka_offset_commit_req_topic_t *t = &b->offset_commit.topics[i];
            view_ok(t->name);
            for (int32_t j = 0; j < t->n_partitions; j++)
                view_ok(t->partitions[j].committed_metadata);
        }
        break;
    case KAFKA_API_OFFSET_FETCH:
        view_ok(b->offset_fetch.group_id);
        count_ok(b->offset_fetch.n_topics, true);
        for (int32_t i = 0; i < b->offset_fetch.n_topics; i++)
            view_ok(b->offset_fetch.topics[i].name);
        break;
    case KAFKA_API_JOIN_GROUP:
        view_ok(b->join_group.member_id);
        view_ok(b->join_group.group_instance_id);
        for (int32_t i = 0; i < b->join_group.n_protocols; i++) {
            view_ok(b->join_group.protocols[i].name);
            view_ok(b->join_group.protocols[i].metadata);
        }
        break;
    case KAFKA_API_LEAVE_GROUP:
        for (int32_t i = 0; i < b->leave_group.n_members; i++) {
            view_ok(b->leave_group.members[i].member_id);
            view_ok(b->leave_group.members[i].group_instance_id);
        }
        break;
    case KAFKA_API_SYNC_GROUP:
        for (int32_t i = 0; i < b->sync_group.n_assignments; i++) {
            view_ok(b->sync_group.assignments[i].member_id);
            view_ok(b->sync_group.assignments[i].assignment);
        }
        break;
    default:
        break;
    }
}

static void check_admin(int16_t key, const kafka_request_body_t *b)
{
    switch (key) {
    case KAFKA_API_METADATA:
        count_ok(b->metadata.n_topics, true);
        for (int32_t i = 0; i < b->metadata.n_topics; i++)
            view_ok(b->metadata.topics[i]);
        break;
    case KAFKA_API_API_VERSIONS:
        view_ok(b->api_versions.client_software_name);
        view_ok(b->api_versions.client_software_version);
        break;
    case KAFKA_API_CREATE_TOPICS:
        for (int32_t i = 0; i < b->create_topics.n_topics; i++) {
            const kafka_create_topics_req_topic_t *t = &b->create_topics.topics[i];
            view_ok(t->name);
            count_ok(t->n_assignments, false);
            for (int32_t j = 0; j < t->n_configs; j++) {
                view_ok(t->configs[j].name);
                view_ok(t->configs[j].value);
            }
        }
        break;
    case KAFKA_API_DELETE_TOPICS:
        for (int32_t i = 0; i < b->delete_topics.n_topic_names; i++)
            view_ok(b->delete_topics.topic_names[i]);
        break;
    case KAFKA_API_DESCRIBE_GROUPS:
        for (int32_t i = 0; i < b->describe_groups.n_groups; i++)
            view_ok(b->describe_groups.groups[i]);
        break;
    default:
        break;
    }
}

/* Echo responses: the encoders must accept anything a decoder produced. */
static void echo_produce(core_arena_t *a, int16_t v, const kafka_produce_req_t *q, core_buf_t *out)
{
    kafka_produce_resp_topic_t *topics =
        core_arena_alloc(a, sizeof(*topics) * (size_t)q->n_topics + 1);
    if (topics == NULL)
        return;
    for (int32_t i = 0; i < q->n_topics; i++) {
        int32_t n = q->topics[i].n_partitions;
        kafka_produce_resp_part_t *parts = core_arena_alloc(a, sizeof(*parts) * (size_t)n + 1);
        if (parts == NULL)
            return;
        for (int32_t j = 0; j < n; j++)
            parts[j] =
                (kafka_produce_resp_part_t){q->topics[i].partitions[j].partition, 0, 0, -1, 0};
        topics[i] = (kafka_produce_resp_topic_t){q->topics[i].name, parts, n};
    }
    kafka_produce_resp_t resp = {topics, q->n_topics, 0};
    if (kafka_encode_produce_resp(out, v, &resp) != 0)
        abort();
}

static void echo_fetch(core_arena_t *a, int16_t v, const kafka_fetch_req_t *q, core_buf_t *out)
{
    kafka_fetch_resp_topic_t *topics =
        core_arena_alloc(a, sizeof(*topics) * (size_t)q->n_topics + 1);
    if (topics == NULL)
        return;
    for (int32_t i = 0; i < q->n_topics; i++) {
        int32_t n = q->topics[i].n_partitions;
        kafka_fetch_resp_part_t *parts = core_arena_alloc(a, sizeof(*parts) * (size_t)n + 1);
        if (parts == NULL)
            return;
        for (int32_t j = 0; j < n; j++) {
            parts[j] = (kafka_fetch_resp_part_t){.partition = q->topics[i].partitions[j].partition,
                                                 .n_aborted = -1,
                                                 .records = q->rack_id};
        }
        topics[i] = (kafka_fetch_resp_topic_t){q->topics[i].topic, parts, n};
    }
    kafka_fetch_resp_t resp = {.topics = topics, .n_topics = q->n_topics};
    if (kafka_encode_fetch_resp(out, v, &resp) != 0)
        abort();
}

static void echo_metadata(int16_t v, const kafka_metadata_req_t *q, core_buf_t *out)
{
    kafka_metadata_resp_broker_t broker = {0, kafka_bytes_cstr("127.0.0.1"), 9092,
                                           KAFKA_NULL_BYTES};
    kafka_metadata_resp_topic_t topics[4];
    int32_t n = q->n_topics < 0 ? 0 : CORE_MIN(q->n_topics, 4);
    for (int32_t i = 0; i < n; i++)
        topics[i] = (kafka_metadata_resp_topic_t){3, q->topics[i], false, NULL, 0};
    kafka_metadata_resp_t resp = {
        .brokers = &broker, .n_brokers = 1, .topics = topics, .n_topics = n};
    if (kafka_encode_metadata_resp(out, v, &resp) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static core_arena_t *arena;
    if (arena == NULL) {
        arena = core_arena_create(CORE_MEM_TEST, 64 << 10, 256u << 20);
        if (arena == NULL)
            abort();
    }
    core_arena_reset(arena);
    in_start = data;
    in_end = data + size;

    kafka_rd_t r;
    kafka_req_header_t h;
    kafka_rd_init(&r, data, size);
    if (kafka_decode_request_header(&r, &h) != 0)
        return 0;
    view_ok(h.client_id);
    if (!kafka_api_supported(h.api_key, h.api_version))
        return 0;
    kafka_request_body_t body;
    if (kafka_decode_request_body(&r, h.api_key, h.api_version, arena, &body) != 0)
        return 0;
    if (r.p != r.end)
        abort(); /* success means the whole body was consumed */

    core_buf_t out;
    core_buf_init(&out, CORE_MEM_TEST, 64u << 20);
    switch (h.api_key) {
    case KAFKA_API_PRODUCE:
        check_produce(&body.produce);
        echo_produce(arena, h.api_version, &body.produce, &out);
        break;
    case KAFKA_API_FETCH:
        check_fetch(&body.fetch);
        echo_fetch(arena, h.api_version, &body.fetch, &out);
        break;
    case KAFKA_API_METADATA:
        check_admin(h.api_key, &body);
        echo_metadata(h.api_version, &body.metadata, &out);
        break;
    default:
        check_groups(h.api_key, &body);
        check_admin(h.api_key, &body);
        break;
    }
    if (kafka_encode_response_header(&out, h.correlation_id, h.api_key, h.api_version) != 0)
        abort();
    core_buf_fini(&out);
    return 0;
}

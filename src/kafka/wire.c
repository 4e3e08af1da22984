/*
 * wire.c - the Kafka protocol's primitive types, its headers and the table
 * of served APIs: a bounds-checked reader and a capped writer, both with a
 * sticky error, that every per-API decoder and encoder (proto_*.c) is
 * written in.
 *
 * Invariants:
 *   1. A reader never reads outside [p, end). Each read checks the bytes it
 *      needs first; on failure it records the first error and the field
 *      name, consumes nothing, and returns zero / an empty view. Every read
 *      after that returns zeros too, so r->p stays at the failing field and
 *      (r->p - r->start) is the byte offset reported to the user.
 *   2. An array count is accepted only if count * min_elem <= remaining
 *      bytes, so no count can make a decoder allocate more than a fixed
 *      multiple of the input's size, nor loop longer than the input allows.
 *   3. A writer appends only through core_buf_t (which enforces the cap);
 *      after the first failure it appends nothing, and kafka_wr_finish()
 *      restores the buffer's length at init, so a failed encode leaves no
 *      partial response behind.
 *   4. kafka_apis is sorted by api_key and is the single source of the
 *      advertised ranges (ApiVersions) and of what the decoders accept.
 *
 * Threading: no shared mutable state; the tables are const.
 */
#include "kafka/proto_int.h"

#include <limits.h>

/* ------------------------------------------------------------------------
 * The served APIs: the fact sheet's "Advertise" column, and Kafka's first
 * flexible version per API (the JSON files' flexibleVersions).
 * ------------------------------------------------------------------------ */
const kafka_api_info_t kafka_apis[] = {
    {KAFKA_API_PRODUCE, 0, 7, 9, "Produce"},
    {KAFKA_API_FETCH, 4, 11, 12, "Fetch"},
    {KAFKA_API_LIST_OFFSETS, 1, 5, 6, "ListOffsets"},
    {KAFKA_API_METADATA, 0, 7, 9, "Metadata"},
    {KAFKA_API_OFFSET_COMMIT, 0, 7, 8, "OffsetCommit"},
    {KAFKA_API_OFFSET_FETCH, 1, 5, 6, "OffsetFetch"},
    {KAFKA_API_FIND_COORDINATOR, 0, 2, 3, "FindCoordinator"},
    {KAFKA_API_JOIN_GROUP, 0, 5, 6, "JoinGroup"},
    {KAFKA_API_HEARTBEAT, 0, 3, 4, "Heartbeat"},
    {KAFKA_API_LEAVE_GROUP, 0, 3, 4, "LeaveGroup"},
    {KAFKA_API_SYNC_GROUP, 0, 3, 4, "SyncGroup"},
    {KAFKA_API_DESCRIBE_GROUPS, 0, 4, 5, "DescribeGroups"},
    {KAFKA_API_LIST_GROUPS, 0, 2, 3, "ListGroups"},
    {KAFKA_API_API_VERSIONS, 0, 3, 3, "ApiVersions"},
    {KAFKA_API_CREATE_TOPICS, 0, 4, 5, "CreateTopics"},
    {KAFKA_API_DELETE_TOPICS, 0, 3, 4, "DeleteTopics"},
    {KAFKA_API_INIT_PRODUCER_ID, 0, 1, 2, "InitProducerId"},
};

const int32_t kafka_apis_count = (int32_t)CORE_ARRAY_LEN(kafka_apis);

const kafka_api_info_t *kafka_api_info(int16_t key)
{
    for (int32_t i = 0; i < kafka_apis_count; i++) {
        if (kafka_apis[i].api_key == key)
            return &kafka_apis[i];
    }
    return NULL;
}

bool kafka_api_supported(int16_t key, int16_t version)
{
    const kafka_api_info_t *api = kafka_api_info(key);
    return api != NULL && version >= api->min_version && version <= api->max_version;
}

bool kafka_api_flexible(int16_t key, int16_t version)
{
    const kafka_api_info_t *api = kafka_api_info(key);
    return api != NULL && version >= api->first_flexible;
}

int kafka_api_check(int16_t key, int16_t version)
{
    if (kafka_api_supported(key, version))
        return 0;
    const kafka_api_info_t *api = kafka_api_info(key);
    if (api == NULL)
        return core_error(CORE_EUNSUPP, "kafka: api key %d is not served", key);
    return core_error(CORE_EUNSUPP, "kafka: %s v%d is not served (versions %d-%d)", api->name,
                      version, api->min_version, api->max_version);
}

/* ------------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------------ */
void kafka_rd_init(kafka_rd_t *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->end = p + len;
    r->err = 0;
    r->field = NULL;
    r->start = p;
}

void kafka_rd_fail(kafka_rd_t *r, int err, const char *field)
{
    if (r->err == 0) {
        r->err = err;
        r->field = field;
    }
}

/* True if n more bytes can be read; records CORE_ETRUNC otherwise. */
static bool rd_need(kafka_rd_t *r, size_t n, const char *field)
{
    if (r->err != 0)
        return false;
    if (kafka_rd_remaining(r) < n) {
        kafka_rd_fail(r, CORE_ETRUNC, field);
        return false;
    }
    return true;
}

int8_t kafka_rd_i8(kafka_rd_t *r, const char *field)
{
    if (!rd_need(r, 1, field))
        return 0;
    return (int8_t)*r->p++;
}

int16_t kafka_rd_i16(kafka_rd_t *r, const char *field)
{
    if (!rd_need(r, 2, field))
        return 0;
    int16_t v = (int16_t)core_load_be16(r->p);
    r->p += 2;
    return v;
}

int32_t kafka_rd_i32(kafka_rd_t *r, const char *field)
{
    return (int32_t)kafka_rd_u32(r, field);
}

uint32_t kafka_rd_u32(kafka_rd_t *r, const char *field)
{
    if (!rd_need(r, 4, field))
        return 0;
    uint32_t v = core_load_be32(r->p);
    r->p += 4;
    return v;
}

int64_t kafka_rd_i64(kafka_rd_t *r, const char *field)
{
    if (!rd_need(r, 8, field))
        return 0;
    int64_t v = (int64_t)core_load_be64(r->p);
    r->p += 8;
    return v;
}

bool kafka_rd_bool(kafka_rd_t *r, const char *field)
{
    return kafka_rd_i8(r, field) != 0;
}

uint32_t kafka_rd_uvarint(kafka_rd_t *r, const char *field)
{
    if (r->err != 0)
        return 0;
    uint32_t v = 0;
    int n = core_uvarint_get32(r->p, kafka_rd_remaining(r), &v);
    if (n < 0) {
        kafka_rd_fail(r, n == CORE_ETRUNC ? CORE_ETRUNC : CORE_ECORRUPT, field);
        return 0;
    }
    r->p += n;
    return v;
}

void kafka_rd_skip(kafka_rd_t *r, size_t n, const char *field)
{
    if (rd_need(r, n, field))
        r->p += n;
}

/* A view of the next n bytes (n >= 0), or an empty view on failure. */
static kafka_bytes_t rd_view(kafka_rd_t *r, int32_t n, const char *field)
{
    if (!rd_need(r, (size_t)n, field))
        return (kafka_bytes_t){NULL, 0};
    kafka_bytes_t v = {r->p, n};
    r->p += n;
    return v;
}

/* Reads a view given its decoded length: -1 = null, < -1 = corrupt. */
static kafka_bytes_t rd_sized(kafka_rd_t *r, int64_t len, bool nullable, const char *field)
{
    if (r->err != 0)
        return (kafka_bytes_t){NULL, 0};
    if (len == -1 && nullable)
        return KAFKA_NULL_BYTES;
    if (len < 0 || len > INT32_MAX) {
        kafka_rd_fail(r, CORE_ECORRUPT, field);
        return (kafka_bytes_t){NULL, 0};
    }
    return rd_view(r, (int32_t)len, field);
}

kafka_bytes_t kafka_rd_string(kafka_rd_t *r, const char *field)
{
    return rd_sized(r, kafka_rd_i16(r, field), false, field);
}

kafka_bytes_t kafka_rd_nstring(kafka_rd_t *r, const char *field)
{
    return rd_sized(r, kafka_rd_i16(r, field), true, field);
}

kafka_bytes_t kafka_rd_bytes(kafka_rd_t *r, const char *field)
{
    return rd_sized(r, kafka_rd_i32(r, field), false, field);
}

kafka_bytes_t kafka_rd_nbytes(kafka_rd_t *r, const char *field)
{
    return rd_sized(r, kafka_rd_i32(r, field), true, field);
}

/* Compact length: uvarint N+1 (0 = null). Strings are capped at 32767 bytes
 * as in Kafka's readCompactString. */
static kafka_bytes_t rd_compact(kafka_rd_t *r, bool nullable, bool is_string, const char *field)
{
    int64_t len = (int64_t)kafka_rd_uvarint(r, field) - 1;
    if (r->err == 0 && is_string && len > INT16_MAX) {
        kafka_rd_fail(r, CORE_ECORRUPT, field);
        return (kafka_bytes_t){NULL, 0};
    }
    return rd_sized(r, len, nullable, field);
}

kafka_bytes_t kafka_rd_cstring(kafka_rd_t *r, const char *field)
{
    return rd_compact(r, false, true, field);
}

kafka_bytes_t kafka_rd_cnstring(kafka_rd_t *r, const char *field)
{
    return rd_compact(r, true, true, field);
}

kafka_bytes_t kafka_rd_cbytes(kafka_rd_t *r, const char *field)
{
    return rd_compact(r, false, false, field);
}

kafka_bytes_t kafka_rd_cnbytes(kafka_rd_t *r, const char *field)
{
    return rd_compact(r, true, false, field);
}

/* Validates a decoded array count (-1 = null) against the bytes left. */
static int32_t rd_count(kafka_rd_t *r, int64_t n, size_t min_elem, bool nullable, const char *field)
{
    if (r->err != 0)
        return 0;
    if (n == -1 && nullable)
        return -1;
    if (min_elem == 0)
        min_elem = 1;
    if (n < 0 || (uint64_t)n > kafka_rd_remaining(r) / min_elem) {
        kafka_rd_fail(r, CORE_ECORRUPT, field);
        return 0;
    }
    return (int32_t)n;
}

int32_t kafka_rd_array(kafka_rd_t *r, size_t min_elem, const char *field)
{
    return rd_count(r, kafka_rd_i32(r, field), min_elem, false, field);
}

int32_t kafka_rd_narray(kafka_rd_t *r, size_t min_elem, const char *field)
{
    return rd_count(r, kafka_rd_i32(r, field), min_elem, true, field);
}

int32_t kafka_rd_carray(kafka_rd_t *r, size_t min_elem, const char *field)
{
    return rd_count(r, (int64_t)kafka_rd_uvarint(r, field) - 1, min_elem, false, field);
}

int32_t kafka_rd_cnarray(kafka_rd_t *r, size_t min_elem, const char *field)
{
    return rd_count(r, (int64_t)kafka_rd_uvarint(r, field) - 1, min_elem, true, field);
}

void kafka_rd_tags(kafka_rd_t *r)
{
    /* Each tagged field takes at least 2 bytes (tag and size). */
    int32_t n = rd_count(r, kafka_rd_uvarint(r, "tagged_fields"), 2, false, "tagged_fields");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        (void)kafka_rd_uvarint(r, "tag");
        uint32_t size = kafka_rd_uvarint(r, "tag_size");
        kafka_rd_skip(r, size, "tag_data");
    }
}

void *kafka_rd_alloc(kafka_rd_t *r, core_arena_t *a, int32_t n, size_t size, const char *field)
{
    if (n <= 0 || r->err != 0)
        return NULL;
    if ((size_t)n > SIZE_MAX / size) {
        kafka_rd_fail(r, CORE_ENOMEM, field);
        return NULL;
    }
    void *p = core_arena_alloc(a, (size_t)n * size);
    if (p == NULL) {
        kafka_rd_fail(r, CORE_ENOMEM, field);
        return NULL;
    }
    memset(p, 0, (size_t)n * size);
    return p;
}

void kafka_rd_i32_array(kafka_rd_t *r, core_arena_t *a, int32_t **out, int32_t *n,
                        const char *field)
{
    int32_t count = kafka_rd_array(r, 4, field);
    int32_t *v = kafka_rd_alloc(r, a, count, sizeof(*v), field);
    for (int32_t i = 0; v != NULL && i < count; i++)
        v[i] = kafka_rd_i32(r, field);
    *out = v;
    *n = r->err == 0 ? count : 0;
}

void kafka_rd_string_array(kafka_rd_t *r, core_arena_t *a, kafka_bytes_t **out, int32_t *n,
                           const char *field)
{
    int32_t count = kafka_rd_array(r, 2, field);
    kafka_bytes_t *v = kafka_rd_alloc(r, a, count, sizeof(*v), field);
    for (int32_t i = 0; v != NULL && i < count; i++)
        v[i] = kafka_rd_string(r, field);
    *out = v;
    *n = r->err == 0 ? count : 0;
}

/* Sets the thread's error detail for a failed read and returns its code. */
static int rd_report(const kafka_rd_t *r, const char *what, int16_t version)
{
    const char *why = r->err == CORE_ETRUNC     ? "request ends inside the field"
                      : r->err == CORE_ENOMEM   ? "request needs more memory than allowed"
                      : r->err == CORE_ECORRUPT ? "invalid length, count or trailing bytes"
                                                : core_strerror(r->err);
    /* start is NULL if the reader was not made by kafka_rd_init */
    ptrdiff_t at = r->start != NULL ? r->p - r->start : -1;
    return core_error(r->err, "kafka: %s v%d: field %s at byte %td: %s", what, version,
                      r->field != NULL ? r->field : "?", at, why);
}

int kafka_rd_finish(kafka_rd_t *r, const char *what, int16_t version)
{
    if (r->err == 0 && r->p != r->end)
        kafka_rd_fail(r, CORE_ECORRUPT, "(trailing bytes)");
    return r->err == 0 ? 0 : rd_report(r, what, version);
}

/* ------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------ */
void kafka_wr_init(kafka_wr_t *w, core_buf_t *b)
{
    w->b = b;
    w->start = b->len;
    w->err = 0;
}

void kafka_wr_raw(kafka_wr_t *w, const void *p, size_t n)
{
    if (w->err != 0 || n == 0)
        return;
    int rc = core_buf_append(w->b, p, n);
    if (rc < 0)
        w->err = rc;
}

void kafka_wr_i8(kafka_wr_t *w, int8_t v)
{
    uint8_t b = (uint8_t)v;
    kafka_wr_raw(w, &b, 1);
}

void kafka_wr_i16(kafka_wr_t *w, int16_t v)
{
    uint8_t b[2];
    core_store_be16(b, (uint16_t)v);
    kafka_wr_raw(w, b, sizeof(b));
}

void kafka_wr_i32(kafka_wr_t *w, int32_t v)
{
    kafka_wr_u32(w, (uint32_t)v);
}

void kafka_wr_u32(kafka_wr_t *w, uint32_t v)
{
    uint8_t b[4];
    core_store_be32(b, v);
    kafka_wr_raw(w, b, sizeof(b));
}

void kafka_wr_i64(kafka_wr_t *w, int64_t v)
{
    uint8_t b[8];
    core_store_be64(b, (uint64_t)v);
    kafka_wr_raw(w, b, sizeof(b));
}

void kafka_wr_bool(kafka_wr_t *w, bool v)
{
    kafka_wr_i8(w, v ? 1 : 0);
}

void kafka_wr_uvarint(kafka_wr_t *w, uint32_t v)
{
    uint8_t b[CORE_VARINT_MAX];
    kafka_wr_raw(w, b, core_uvarint_put(b, v));
}

/* Body bytes of a view (nothing for null or empty). */
static void wr_body(kafka_wr_t *w, kafka_bytes_t s)
{
    if (s.len > 0)
        kafka_wr_raw(w, s.p, (size_t)s.len);
}

/* Strings longer than an i16 length can say cannot be encoded. */
static bool wr_string_fits(kafka_wr_t *w, kafka_bytes_t s)
{
    if (s.len > INT16_MAX) {
        if (w->err == 0)
            w->err = core_error(CORE_EINVAL, "kafka: string of %d bytes exceeds 32767", s.len);
        return false;
    }
    return true;
}

void kafka_wr_string(kafka_wr_t *w, kafka_bytes_t s)
{
    if (!wr_string_fits(w, s))
        return;
    kafka_wr_i16(w, (int16_t)(s.len < 0 ? 0 : s.len));
    wr_body(w, s);
}

void kafka_wr_nstring(kafka_wr_t *w, kafka_bytes_t s)
{
    if (!wr_string_fits(w, s))
        return;
    kafka_wr_i16(w, (int16_t)(s.len < 0 ? -1 : s.len));
    wr_body(w, s);
}

void kafka_wr_bytes(kafka_wr_t *w, kafka_bytes_t s)
{
    kafka_wr_i32(w, s.len < 0 ? 0 : s.len);
    wr_body(w, s);
}

void kafka_wr_nbytes(kafka_wr_t *w, kafka_bytes_t s)
{
    kafka_wr_i32(w, s.len < 0 ? -1 : s.len);
    wr_body(w, s);
}

void kafka_wr_cstring(kafka_wr_t *w, kafka_bytes_t s)
{
    if (!wr_string_fits(w, s))
        return;
    kafka_wr_cbytes(w, s);
}

void kafka_wr_cnstring(kafka_wr_t *w, kafka_bytes_t s)
{
    if (!wr_string_fits(w, s))
        return;
    kafka_wr_cnbytes(w, s);
}

void kafka_wr_cbytes(kafka_wr_t *w, kafka_bytes_t s)
{
    kafka_wr_uvarint(w, s.len < 0 ? 1u : (uint32_t)s.len + 1u);
    wr_body(w, s);
}

void kafka_wr_cnbytes(kafka_wr_t *w, kafka_bytes_t s)
{
    kafka_wr_uvarint(w, s.len < 0 ? 0u : (uint32_t)s.len + 1u);
    wr_body(w, s);
}

void kafka_wr_array(kafka_wr_t *w, int32_t n)
{
    kafka_wr_i32(w, n < 0 ? 0 : n);
}

void kafka_wr_narray(kafka_wr_t *w, int32_t n)
{
    kafka_wr_i32(w, n < 0 ? -1 : n);
}

void kafka_wr_carray(kafka_wr_t *w, int32_t n)
{
    kafka_wr_uvarint(w, n < 0 ? 1u : (uint32_t)n + 1u);
}

void kafka_wr_cnarray(kafka_wr_t *w, int32_t n)
{
    kafka_wr_uvarint(w, n < 0 ? 0u : (uint32_t)n + 1u);
}

void kafka_wr_i32_array(kafka_wr_t *w, const int32_t *v, int32_t n)
{
    kafka_wr_array(w, n);
    for (int32_t i = 0; i < n; i++)
        kafka_wr_i32(w, v[i]);
}

void kafka_wr_tags(kafka_wr_t *w)
{
    kafka_wr_uvarint(w, 0);
}

int kafka_wr_finish(kafka_wr_t *w)
{
    if (w->err == 0)
        return 0;
    w->b->len = w->start;
    if (w->err == CORE_ETOOBIG)
        return core_error(CORE_ETOOBIG, "kafka: response exceeds the buffer cap of %zu bytes",
                          w->b->max);
    return w->err;
}

/* ------------------------------------------------------------------------
 * Headers
 * ------------------------------------------------------------------------ */
int kafka_decode_request_header(kafka_rd_t *r, kafka_req_header_t *h)
{
    memset(h, 0, sizeof(*h));
    h->api_key = kafka_rd_i16(r, "request_api_key");
    h->api_version = kafka_rd_i16(r, "request_api_version");
    h->correlation_id = kafka_rd_i32(r, "correlation_id");
    h->client_id = kafka_rd_nstring(r, "client_id");
    h->flexible = kafka_api_flexible(h->api_key, h->api_version);
    if (h->flexible)
        kafka_rd_tags(r);
    return r->err == 0 ? 0 : rd_report(r, "request header", h->flexible ? 2 : 1);
}

int kafka_encode_response_header(core_buf_t *out, int32_t correlation_id, int16_t api_key,
                                 int16_t version)
{
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    kafka_wr_i32(&w, correlation_id);
    /* ApiVersions always answers with header v0 so that a client can parse
     * it before it knows which versions the broker speaks. */
    if (api_key != KAFKA_API_API_VERSIONS && kafka_api_flexible(api_key, version))
        kafka_wr_tags(&w);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------------ */
int kafka_decode_request_body(kafka_rd_t *r, int16_t api_key, int16_t version, core_arena_t *a,
                              kafka_request_body_t *out)
{
    switch (api_key) {
    case KAFKA_API_PRODUCE:
        return kafka_decode_produce_req(r, version, a, &out->produce);
    case KAFKA_API_FETCH:
        return kafka_decode_fetch_req(r, version, a, &out->fetch);
    case KAFKA_API_LIST_OFFSETS:
        return kafka_decode_list_offsets_req(r, version, a, &out->list_offsets);
    case KAFKA_API_METADATA:
        return kafka_decode_metadata_req(r, version, a, &out->metadata);
    case KAFKA_API_OFFSET_COMMIT:
        return kafka_decode_offset_commit_req(r, version, a, &out->offset_commit);
    case KAFKA_API_OFFSET_FETCH:
        return kafka_decode_offset_fetch_req(r, version, a, &out->offset_fetch);
    case KAFKA_API_FIND_COORDINATOR:
        return kafka_decode_find_coordinator_req(r, version, a, &out->find_coordinator);
    case KAFKA_API_JOIN_GROUP:
        return kafka_decode_join_group_req(r, version, a, &out->join_group);
    case KAFKA_API_HEARTBEAT:
        return kafka_decode_heartbeat_req(r, version, a, &out->heartbeat);
    case KAFKA_API_LEAVE_GROUP:
        return kafka_decode_leave_group_req(r, version, a, &out->leave_group);
    case KAFKA_API_SYNC_GROUP:
        return kafka_decode_sync_group_req(r, version, a, &out->sync_group);
    case KAFKA_API_DESCRIBE_GROUPS:
        return kafka_decode_describe_groups_req(r, version, a, &out->describe_groups);
    case KAFKA_API_LIST_GROUPS:
        return kafka_decode_list_groups_req(r, version, a, &out->list_groups);
    case KAFKA_API_API_VERSIONS:
        return kafka_decode_api_versions_req(r, version, a, &out->api_versions);
    case KAFKA_API_CREATE_TOPICS:
        return kafka_decode_create_topics_req(r, version, a, &out->create_topics);
    case KAFKA_API_DELETE_TOPICS:
        return kafka_decode_delete_topics_req(r, version, a, &out->delete_topics);
    case KAFKA_API_INIT_PRODUCER_ID:
        return kafka_decode_init_producer_id_req(r, version, a, &out->init_producer_id);
    default:
        return kafka_api_check(api_key, version);
    }
}

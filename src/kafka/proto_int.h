/*
 * proto_int.h - the Kafka wire-protocol codec: a bounds-checked reader and a
 * capped writer for the protocol's primitive types, the request and response
 * headers, the table of APIs and versions the broker advertises, and one
 * request struct (decoded) and one response struct (encoded) per API.
 *
 * Field layouts follow apache/kafka clients/src/main/resources/common/
 * message/<Api>{Request,Response}.json; each struct covers the union of the
 * fields over the versions the broker serves (kafka_api_ranges below), and
 * each field's comment names the versions that carry it. A field absent
 * from the decoded version holds the JSON default given in its comment.
 *
 * Decoding. Requests are decoded zero-copy: every kafka_bytes_t in a
 * request struct is a BORROWED view into the frame passed to kafka_rd_init
 * (valid while the frame is), and arrays are allocated from the core_arena_t
 * given to the decoder (valid until the arena is reset). A decoder consumes
 * the whole body; trailing bytes are CORE_ECORRUPT. Errors: CORE_ETRUNC
 * (input ends inside a field), CORE_ECORRUPT (bad length, null where the
 * version forbids it, trailing bytes), CORE_ENOMEM (arena exhausted),
 * CORE_EUNSUPP (version outside the served range). On error the thread's
 * core_error() detail names the API, version, field and byte offset; the
 * broker should close the connection, as Kafka does.
 *
 * Encoding. kafka_encode_<api>_resp() APPENDS the body of a response to a
 * core_buf_t (the response header comes first, from
 * kafka_encode_response_header). Response structs and everything they
 * point to are BORROWED for the duration of the call. On failure (CORE_ETOOBIG
 * at the buffer's cap, CORE_ENOMEM, CORE_EUNSUPP) the buffer is restored to
 * its length before the call. A kafka_bytes_t with len -1 is encoded as null
 * where the version allows null and as the empty string/bytes elsewhere
 * (notably Fetch records: null becomes zero-length, as librdkafka needs).
 * An array pointer may be NULL when its count is 0; a count of -1 encodes a
 * null array where the field is nullable (else an empty one).
 *
 * Version quirks the broker must know are in the comments of the structs.
 *
 * Threading: all functions are reentrant; readers, writers and the structs
 * belong to the calling thread. The tables are immutable.
 */
#ifndef STRATA_KAFKA_PROTO_INT_H
#define STRATA_KAFKA_PROTO_INT_H

#include "core/core.h"
#include "kafka/kafka_int.h"

#include <string.h>

/* ------------------------------------------------------------------------
 * Byte views
 * ------------------------------------------------------------------------ */

/* A view of a NUL-terminated C string (not copied; NULL gives null). */
static inline kafka_bytes_t kafka_bytes_cstr(const char *s)
{
    if (s == NULL)
        return KAFKA_NULL_BYTES;
    return (kafka_bytes_t){(const uint8_t *)s, (int32_t)strlen(s)};
}

static inline kafka_bytes_t kafka_bytes_of(const void *p, size_t len)
{
    return (kafka_bytes_t){(const uint8_t *)p, (int32_t)len};
}

/* ------------------------------------------------------------------------
 * Reader: bounds-checked, with a sticky error.
 *
 * Every read takes the name of the field it reads. The first failure
 * records the error code (CORE_ETRUNC, CORE_ECORRUPT or CORE_ENOMEM) and the
 * field name; from then on reads consume nothing and return zeros / empty
 * views, so a decoder can read a whole structure and check r->err once.
 * Views returned point into the input (borrowed).
 * ------------------------------------------------------------------------ */
typedef struct {
    const uint8_t *p, *end;
    int err;              /* 0 or the first error */
    const char *field;    /* the field that failed (static string), or NULL */
    const uint8_t *start; /* start of the input, for error offsets */
} kafka_rd_t;

void kafka_rd_init(kafka_rd_t *r, const uint8_t *p, size_t len);
/* Records `err` for `field` unless an error is already recorded. */
void kafka_rd_fail(kafka_rd_t *r, int err, const char *field);
static inline size_t kafka_rd_remaining(const kafka_rd_t *r)
{
    return (size_t)(r->end - r->p);
}

int8_t kafka_rd_i8(kafka_rd_t *r, const char *field);
int16_t kafka_rd_i16(kafka_rd_t *r, const char *field);
int32_t kafka_rd_i32(kafka_rd_t *r, const char *field);
int64_t kafka_rd_i64(kafka_rd_t *r, const char *field);
uint32_t kafka_rd_u32(kafka_rd_t *r, const char *field);
bool kafka_rd_bool(kafka_rd_t *r, const char *field); /* any non-zero byte is true */
/* Kafka's unsigned varint: at most 5 bytes, 32 bits; longer is CORE_ECORRUPT. */
uint32_t kafka_rd_uvarint(kafka_rd_t *r, const char *field);
void kafka_rd_skip(kafka_rd_t *r, size_t n, const char *field);

/* Strings and bytes. Classic: i16 (string) / i32 (bytes) length, -1 = null.
 * Compact: uvarint N+1, 0 = null. The non-nullable forms fail with
 * CORE_ECORRUPT on null; the nullable ones return KAFKA_NULL_BYTES. */
kafka_bytes_t kafka_rd_string(kafka_rd_t *r, const char *field);
kafka_bytes_t kafka_rd_nstring(kafka_rd_t *r, const char *field);
kafka_bytes_t kafka_rd_bytes(kafka_rd_t *r, const char *field);
kafka_bytes_t kafka_rd_nbytes(kafka_rd_t *r, const char *field);
kafka_bytes_t kafka_rd_cstring(kafka_rd_t *r, const char *field);
kafka_bytes_t kafka_rd_cnstring(kafka_rd_t *r, const char *field);
kafka_bytes_t kafka_rd_cbytes(kafka_rd_t *r, const char *field);
kafka_bytes_t kafka_rd_cnbytes(kafka_rd_t *r, const char *field);

/* Array counts. Classic: i32, -1 = null; compact: uvarint N+1, 0 = null.
 * `min_elem` is the smallest wire size of one element (>= 1); a count whose
 * elements cannot fit in the remaining bytes is CORE_ECORRUPT, so a count
 * never drives an allocation larger than the input justifies. The
 * non-nullable forms fail on null (CORE_ECORRUPT) and return 0; the
 * nullable ones return -1 for null. */
int32_t kafka_rd_array(kafka_rd_t *r, size_t min_elem, const char *field);
int32_t kafka_rd_narray(kafka_rd_t *r, size_t min_elem, const char *field);
int32_t kafka_rd_carray(kafka_rd_t *r, size_t min_elem, const char *field);
int32_t kafka_rd_cnarray(kafka_rd_t *r, size_t min_elem, const char *field);

/* Skips a tagged-field section (flexible versions): uvarint count, then per
 * field a uvarint tag, a uvarint size and that many bytes. */
void kafka_rd_tags(kafka_rd_t *r);

/* Zeroed arena memory for n elements of `size` bytes; NULL when n <= 0.
 * On exhaustion records CORE_ENOMEM for `field` and returns NULL. */
void *kafka_rd_alloc(kafka_rd_t *r, core_arena_t *a, int32_t n, size_t size, const char *field);

/* Arrays of int32 / strings, classic form, into arena memory. The nullable
 * form sets *n = -1 for null. */
void kafka_rd_i32_array(kafka_rd_t *r, core_arena_t *a, int32_t **out, int32_t *n,
                        const char *field);
void kafka_rd_string_array(kafka_rd_t *r, core_arena_t *a, kafka_bytes_t **out, int32_t *n,
                           const char *field);

/* Ends a decode: trailing bytes become CORE_ECORRUPT; on error sets the
 * thread's core_error() detail ("kafka: <what>: field <f> at byte <n>: ...")
 * and returns the code; else 0. */
int kafka_rd_finish(kafka_rd_t *r, const char *what, int16_t version);

/* ------------------------------------------------------------------------
 * Writer: appends to a capped core_buf_t, with a sticky error.
 * ------------------------------------------------------------------------ */
typedef struct {
    core_buf_t *b; /* borrowed */
    size_t start;  /* b->len at init: restored on failure */
    int err;       /* 0 or the first error (CORE_ETOOBIG, CORE_ENOMEM, ...) */
} kafka_wr_t;

void kafka_wr_init(kafka_wr_t *w, core_buf_t *b);
void kafka_wr_raw(kafka_wr_t *w, const void *p, size_t n);
void kafka_wr_i8(kafka_wr_t *w, int8_t v);
void kafka_wr_i16(kafka_wr_t *w, int16_t v);
void kafka_wr_i32(kafka_wr_t *w, int32_t v);
void kafka_wr_i64(kafka_wr_t *w, int64_t v);
void kafka_wr_u32(kafka_wr_t *w, uint32_t v);
void kafka_wr_bool(kafka_wr_t *w, bool v);
void kafka_wr_uvarint(kafka_wr_t *w, uint32_t v);
/* Non-nullable forms write a null view as empty; nullable forms write null. */
void kafka_wr_string(kafka_wr_t *w, kafka_bytes_t s);
void kafka_wr_nstring(kafka_wr_t *w, kafka_bytes_t s);
void kafka_wr_bytes(kafka_wr_t *w, kafka_bytes_t s);
void kafka_wr_nbytes(kafka_wr_t *w, kafka_bytes_t s);
void kafka_wr_cstring(kafka_wr_t *w, kafka_bytes_t s);
void kafka_wr_cnstring(kafka_wr_t *w, kafka_bytes_t s);
void kafka_wr_cbytes(kafka_wr_t *w, kafka_bytes_t s);
void kafka_wr_cnbytes(kafka_wr_t *w, kafka_bytes_t s);
/* Array counts: n < 0 writes null in the nullable forms, 0 otherwise. */
void kafka_wr_array(kafka_wr_t *w, int32_t n);
void kafka_wr_narray(kafka_wr_t *w, int32_t n);
void kafka_wr_carray(kafka_wr_t *w, int32_t n);
void kafka_wr_cnarray(kafka_wr_t *w, int32_t n);
void kafka_wr_i32_array(kafka_wr_t *w, const int32_t *v, int32_t n); /* classic */
/* An empty tagged-field section (one zero byte). */
void kafka_wr_tags(kafka_wr_t *w);
/* Ends an encode: on error truncates the buffer back to its length at init
 * and returns the error; else 0. */
int kafka_wr_finish(kafka_wr_t *w);

/* ------------------------------------------------------------------------
 * APIs, versions, headers
 * ------------------------------------------------------------------------ */

/* One served API: the range advertised in ApiVersions (= the range the
 * decoders accept) and the first flexible version per Kafka's JSON. */
typedef struct {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
    int16_t first_flexible; /* versions >= this use compact encodings + tags */
    const char *name;       /* "Produce", ... */
} kafka_api_info_t;

/* The advertised table, ordered by api_key (the fact sheet's "Advertise"
 * column: Produce 0-7, Fetch 4-11, ListOffsets 1-5, Metadata 0-7,
 * OffsetCommit 0-7, OffsetFetch 1-5, FindCoordinator 0-2, JoinGroup 0-5,
 * Heartbeat 0-3, LeaveGroup 0-3, SyncGroup 0-3, DescribeGroups 0-4,
 * ListGroups 0-2, ApiVersions 0-3, CreateTopics 0-4, DeleteTopics 0-3,
 * InitProducerId 0-1). */
extern const kafka_api_info_t kafka_apis[];
extern const int32_t kafka_apis_count;

/* The table entry for `key`, or NULL if the broker does not serve it. */
const kafka_api_info_t *kafka_api_info(int16_t key);
/* True if `key` is served and min <= version <= max. */
bool kafka_api_supported(int16_t key, int16_t version);
/* True if (key, version) uses the flexible encoding (request header v2,
 * response header v1 except ApiVersions). Keys the broker does not serve
 * are reported non-flexible. Versions above the served range still follow
 * Kafka's flexibleVersions, so an unsupported-but-flexible request header
 * (e.g. ApiVersions v4) is parsed correctly. */
bool kafka_api_flexible(int16_t key, int16_t version);

/* 0 if the broker serves (key, version); else CORE_EUNSUPP with a detail
 * naming the API and version. Every decoder and encoder checks this first. */
int kafka_api_check(int16_t key, int16_t version);

/* Request header v1/v2. client_id keeps its i16 nullable encoding even in
 * header v2. */
typedef struct {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    kafka_bytes_t client_id; /* nullable; borrowed from the frame */
    bool flexible;           /* header v2: a tag section followed client_id */
} kafka_req_header_t;

/* Decodes the header at the start of a frame (size prefix removed) and
 * leaves r at the body. The tag section is read (and skipped) when
 * kafka_api_flexible(key, version). Unknown keys/versions are NOT an error
 * here: the caller checks kafka_api_supported(). Errors: CORE_ETRUNC,
 * CORE_ECORRUPT. */
int kafka_decode_request_header(kafka_rd_t *r, kafka_req_header_t *h);

/* Appends the response header: correlation id, plus an empty tag section
 * for flexible versions of every API except ApiVersions (always header v0,
 * which is also how an unsupported ApiVersions version must be answered). */
int kafka_encode_response_header(core_buf_t *out, int32_t correlation_id, int16_t api_key,
                                 int16_t version);

/* ------------------------------------------------------------------------
 * Produce (key 0), versions 0-7. Fact sheet: clients use v3+; acks=0 gets
 * no response at all.
 * ------------------------------------------------------------------------ */
typedef struct {
    int32_t partition;
    kafka_bytes_t records; /* nullable; the raw RecordBatch/MessageSet bytes */
} kafka_produce_req_part_t;

typedef struct {
    kafka_bytes_t name;
    kafka_produce_req_part_t *partitions;
    int32_t n_partitions;
} kafka_produce_req_topic_t;

typedef struct {
    kafka_bytes_t transactional_id; /* v3+, nullable; null before v3 */
    int16_t acks;
    int32_t timeout_ms;
    kafka_produce_req_topic_t *topics;
    int32_t n_topics;
} kafka_produce_req_t;

typedef struct {
    int32_t partition;
    int16_t error_code;
    int64_t base_offset;
    int64_t log_append_time_ms; /* v2+; -1 for CreateTime topics */
    int64_t log_start_offset;   /* v5+ */
} kafka_produce_resp_part_t;

typedef struct {
    kafka_bytes_t name;
    const kafka_produce_resp_part_t *partitions;
    int32_t n_partitions;
} kafka_produce_resp_topic_t;

typedef struct {
    const kafka_produce_resp_topic_t *topics;
    int32_t n_topics;
    int32_t throttle_time_ms; /* v1+; written LAST in Produce */
} kafka_produce_resp_t;

int kafka_decode_produce_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                             kafka_produce_req_t *out);
int kafka_encode_produce_resp(core_buf_t *out, int16_t version, const kafka_produce_resp_t *resp);

/* ------------------------------------------------------------------------
 * Fetch (key 1), versions 4-11.
 * ------------------------------------------------------------------------ */
typedef struct {
    int32_t partition;
    int32_t current_leader_epoch; /* v9+; -1 */
    int64_t fetch_offset;
    int64_t log_start_offset; /* v5+; -1 (only followers send it) */
    int32_t partition_max_bytes;
} kafka_fetch_req_part_t;

typedef struct {
    kafka_bytes_t topic;
    kafka_fetch_req_part_t *partitions;
    int32_t n_partitions;
} kafka_fetch_req_topic_t;

typedef struct {
    kafka_bytes_t topic;
    int32_t *partitions;
    int32_t n_partitions;
} kafka_fetch_req_forgotten_t;

typedef struct {
    int32_t replica_id; /* -1 for consumers */
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;      /* v3+ */
    int8_t isolation_level; /* v4+: 0 read_uncommitted, 1 read_committed */
    int32_t session_id;     /* v7+; 0 */
    int32_t session_epoch;  /* v7+; -1 */
    kafka_fetch_req_topic_t *topics;
    int32_t n_topics;
    kafka_fetch_req_forgotten_t *forgotten; /* v7+ */
    int32_t n_forgotten;
    kafka_bytes_t rack_id; /* v11+; empty before */
} kafka_fetch_req_t;

typedef struct {
    int64_t producer_id;
    int64_t first_offset;
} kafka_fetch_aborted_txn_t;

typedef struct {
    int32_t partition;
    int16_t error_code;
    int64_t high_watermark;
    int64_t last_stable_offset;               /* v4+ */
    int64_t log_start_offset;                 /* v5+ */
    const kafka_fetch_aborted_txn_t *aborted; /* v4+; n_aborted -1 = null */
    int32_t n_aborted;
    int32_t preferred_read_replica; /* v11+; set -1 */
    kafka_bytes_t records;          /* appended as is; null is sent as zero-length */
} kafka_fetch_resp_part_t;

typedef struct {
    kafka_bytes_t topic;
    const kafka_fetch_resp_part_t *partitions;
    int32_t n_partitions;
} kafka_fetch_resp_topic_t;

typedef struct {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;       /* v7+ */
    int32_t session_id;       /* v7+; 0 = no session */
    const kafka_fetch_resp_topic_t *topics;
    int32_t n_topics;
} kafka_fetch_resp_t;

int kafka_decode_fetch_req(kafka_rd_t *r, int16_t version, core_arena_t *a, kafka_fetch_req_t *out);
int kafka_encode_fetch_resp(core_buf_t *out, int16_t version, const kafka_fetch_resp_t *resp);

/* ------------------------------------------------------------------------
 * ListOffsets (key 2), versions 1-5. Timestamp -1 = latest, -2 = earliest.
 * ------------------------------------------------------------------------ */
typedef struct {
    int32_t partition;
    int32_t current_leader_epoch; /* v4+; -1 */
    int64_t timestamp;
} kafka_list_offsets_req_part_t;

typedef struct {
    kafka_bytes_t name;
    kafka_list_offsets_req_part_t *partitions;
    int32_t n_partitions;
} kafka_list_offsets_req_topic_t;

typedef struct {
    int32_t replica_id;
    int8_t isolation_level; /* v2+; 0 */
    kafka_list_offsets_req_topic_t *topics;
    int32_t n_topics;
} kafka_list_offsets_req_t;

typedef struct {
    int32_t partition;
    int16_t error_code;
    int64_t timestamp; /* -1 when not found / not by timestamp */
    int64_t offset;
    int32_t leader_epoch; /* v4+ */
} kafka_list_offsets_resp_part_t;

typedef struct {
    kafka_bytes_t name;
    const kafka_list_offsets_resp_part_t *partitions;
    int32_t n_partitions;
} kafka_list_offsets_resp_topic_t;

typedef struct {
    int32_t throttle_time_ms; /* v2+ */
    const kafka_list_offsets_resp_topic_t *topics;
    int32_t n_topics;
} kafka_list_offsets_resp_t;

int kafka_decode_list_offsets_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                  kafka_list_offsets_req_t *out);
int kafka_encode_list_offsets_resp(core_buf_t *out, int16_t version,
                                   const kafka_list_offsets_resp_t *resp);

/* ------------------------------------------------------------------------
 * Metadata (key 3), versions 0-7.
 * n_topics: -1 = null (v1+ only: "all topics"); 0 = empty (v0: all topics,
 * v1+: none). A null array in v0 is CORE_ECORRUPT, as in Kafka.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t *topics;          /* names */
    int32_t n_topics;               /* -1 = null */
    bool allow_auto_topic_creation; /* v4+; true before v4 */
} kafka_metadata_req_t;

typedef struct {
    int32_t node_id;
    kafka_bytes_t host;
    int32_t port;
    kafka_bytes_t rack; /* v1+, nullable */
} kafka_metadata_resp_broker_t;

typedef struct {
    int16_t error_code;
    int32_t partition;
    int32_t leader_id;
    int32_t leader_epoch; /* v7+ */
    const int32_t *replicas;
    int32_t n_replicas;
    const int32_t *isr;
    int32_t n_isr;
    const int32_t *offline_replicas; /* v5+ */
    int32_t n_offline_replicas;
} kafka_metadata_resp_part_t;

typedef struct {
    int16_t error_code;
    kafka_bytes_t name;
    bool is_internal; /* v1+ */
    const kafka_metadata_resp_part_t *partitions;
    int32_t n_partitions;
} kafka_metadata_resp_topic_t;

typedef struct {
    int32_t throttle_time_ms; /* v3+ */
    const kafka_metadata_resp_broker_t *brokers;
    int32_t n_brokers;
    kafka_bytes_t cluster_id; /* v2+, nullable */
    int32_t controller_id;    /* v1+; must be a listed broker */
    const kafka_metadata_resp_topic_t *topics;
    int32_t n_topics;
} kafka_metadata_resp_t;

int kafka_decode_metadata_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                              kafka_metadata_req_t *out);
int kafka_encode_metadata_resp(core_buf_t *out, int16_t version, const kafka_metadata_resp_t *resp);

/* ------------------------------------------------------------------------
 * OffsetCommit (key 8), versions 0-7.
 * ------------------------------------------------------------------------ */
typedef struct {
    int32_t partition;
    int64_t committed_offset;
    int32_t committed_leader_epoch;   /* v6+; -1 */
    int64_t commit_timestamp;         /* v1 only; -1 */
    kafka_bytes_t committed_metadata; /* nullable */
} kafka_offset_commit_req_part_t;

typedef struct {
    kafka_bytes_t name;
    kafka_offset_commit_req_part_t *partitions;
    int32_t n_partitions;
} kafka_offset_commit_req_topic_t;

typedef struct {
    kafka_bytes_t group_id;
    int32_t generation_id;           /* v1+; -1 */
    kafka_bytes_t member_id;         /* v1+; empty */
    kafka_bytes_t group_instance_id; /* v7+, nullable; null */
    int64_t retention_time_ms;       /* v2-4; -1 */
    kafka_offset_commit_req_topic_t *topics;
    int32_t n_topics;
} kafka_offset_commit_req_t;

typedef struct {
    int32_t partition;
    int16_t error_code;
} kafka_offset_commit_resp_part_t;

typedef struct {
    kafka_bytes_t name;
    const kafka_offset_commit_resp_part_t *partitions;
    int32_t n_partitions;
} kafka_offset_commit_resp_topic_t;

typedef struct {
    int32_t throttle_time_ms; /* v3+ */
    const kafka_offset_commit_resp_topic_t *topics;
    int32_t n_topics;
} kafka_offset_commit_resp_t;

int kafka_decode_offset_commit_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                   kafka_offset_commit_req_t *out);
int kafka_encode_offset_commit_resp(core_buf_t *out, int16_t version,
                                    const kafka_offset_commit_resp_t *resp);

/* ------------------------------------------------------------------------
 * OffsetFetch (key 9), versions 1-5. n_topics -1 (null, v2+) = all
 * committed offsets of the group. Uncommitted: offset -1, metadata "",
 * error 0 (fact sheet 4.7).
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t name;
    int32_t *partitions;
    int32_t n_partitions;
} kafka_offset_fetch_req_topic_t;

typedef struct {
    kafka_bytes_t group_id;
    kafka_offset_fetch_req_topic_t *topics;
    int32_t n_topics; /* -1 = null (v2+) */
} kafka_offset_fetch_req_t;

typedef struct {
    int32_t partition;
    int64_t committed_offset;
    int32_t committed_leader_epoch; /* v5+ */
    kafka_bytes_t metadata;         /* nullable */
    int16_t error_code;
} kafka_offset_fetch_resp_part_t;

typedef struct {
    kafka_bytes_t name;
    const kafka_offset_fetch_resp_part_t *partitions;
    int32_t n_partitions;
} kafka_offset_fetch_resp_topic_t;

typedef struct {
    int32_t throttle_time_ms; /* v3+ */
    const kafka_offset_fetch_resp_topic_t *topics;
    int32_t n_topics;
    int16_t error_code; /* v2+ (top level, after the topics) */
} kafka_offset_fetch_resp_t;

int kafka_decode_offset_fetch_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                  kafka_offset_fetch_req_t *out);
int kafka_encode_offset_fetch_resp(core_buf_t *out, int16_t version,
                                   const kafka_offset_fetch_resp_t *resp);

/* ------------------------------------------------------------------------
 * FindCoordinator (key 10), versions 0-2.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t key;
    int8_t key_type; /* v1+; 0 = group, 1 = transaction */
} kafka_find_coordinator_req_t;

typedef struct {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    kafka_bytes_t error_message; /* v1+, nullable */
    int32_t node_id;
    kafka_bytes_t host;
    int32_t port;
} kafka_find_coordinator_resp_t;

int kafka_decode_find_coordinator_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                      kafka_find_coordinator_req_t *out);
int kafka_encode_find_coordinator_resp(core_buf_t *out, int16_t version,
                                       const kafka_find_coordinator_resp_t *resp);

/* ------------------------------------------------------------------------
 * JoinGroup (key 11), versions 0-5.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t name;
    kafka_bytes_t metadata;
} kafka_join_group_req_protocol_t;

typedef struct {
    kafka_bytes_t group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;    /* v1+; v0: set to session_timeout_ms */
    kafka_bytes_t member_id;         /* empty on first join */
    kafka_bytes_t group_instance_id; /* v5+, nullable; null */
    kafka_bytes_t protocol_type;
    kafka_join_group_req_protocol_t *protocols;
    int32_t n_protocols;
} kafka_join_group_req_t;

typedef struct {
    kafka_bytes_t member_id;
    kafka_bytes_t group_instance_id; /* v5+, nullable */
    kafka_bytes_t metadata;
} kafka_join_group_resp_member_t;

typedef struct {
    int32_t throttle_time_ms; /* v2+ */
    int16_t error_code;
    int32_t generation_id;
    kafka_bytes_t protocol_name;
    kafka_bytes_t leader;
    kafka_bytes_t member_id;
    const kafka_join_group_resp_member_t *members; /* the leader's reply only */
    int32_t n_members;
} kafka_join_group_resp_t;

int kafka_decode_join_group_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                kafka_join_group_req_t *out);
int kafka_encode_join_group_resp(core_buf_t *out, int16_t version,
                                 const kafka_join_group_resp_t *resp);

/* ------------------------------------------------------------------------
 * Heartbeat (key 12), versions 0-3.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t group_id;
    int32_t generation_id;
    kafka_bytes_t member_id;
    kafka_bytes_t group_instance_id; /* v3+, nullable; null */
} kafka_heartbeat_req_t;

typedef struct {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
} kafka_heartbeat_resp_t;

int kafka_decode_heartbeat_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                               kafka_heartbeat_req_t *out);
int kafka_encode_heartbeat_resp(core_buf_t *out, int16_t version,
                                const kafka_heartbeat_resp_t *resp);

/* ------------------------------------------------------------------------
 * LeaveGroup (key 13), versions 0-3. v0-2 carry one member_id; v3 a batch.
 * The decoder always fills `members`: for v0-2 with one entry made from
 * member_id (group_instance_id null), so handlers can loop over members.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t member_id;
    kafka_bytes_t group_instance_id; /* v3+, nullable */
} kafka_leave_group_req_member_t;

typedef struct {
    kafka_bytes_t group_id;
    kafka_bytes_t member_id; /* v0-2; empty in v3 */
    kafka_leave_group_req_member_t *members;
    int32_t n_members;
} kafka_leave_group_req_t;

typedef struct {
    kafka_bytes_t member_id;
    kafka_bytes_t group_instance_id; /* nullable */
    int16_t error_code;
} kafka_leave_group_resp_member_t;

typedef struct {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    const kafka_leave_group_resp_member_t *members; /* v3+ */
    int32_t n_members;
} kafka_leave_group_resp_t;

int kafka_decode_leave_group_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                 kafka_leave_group_req_t *out);
int kafka_encode_leave_group_resp(core_buf_t *out, int16_t version,
                                  const kafka_leave_group_resp_t *resp);

/* ------------------------------------------------------------------------
 * SyncGroup (key 14), versions 0-3. The leader sends assignments; followers
 * send none. An empty assignment must be answered with a valid empty
 * ConsumerProtocolAssignment (fact sheet 3), which is the broker's job.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t member_id;
    kafka_bytes_t assignment;
} kafka_sync_group_req_assignment_t;

typedef struct {
    kafka_bytes_t group_id;
    int32_t generation_id;
    kafka_bytes_t member_id;
    kafka_bytes_t group_instance_id; /* v3+, nullable; null */
    kafka_sync_group_req_assignment_t *assignments;
    int32_t n_assignments;
} kafka_sync_group_req_t;

typedef struct {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    kafka_bytes_t assignment;
} kafka_sync_group_resp_t;

int kafka_decode_sync_group_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                kafka_sync_group_req_t *out);
int kafka_encode_sync_group_resp(core_buf_t *out, int16_t version,
                                 const kafka_sync_group_resp_t *resp);

/* ------------------------------------------------------------------------
 * DescribeGroups (key 15), versions 0-4.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t *groups;
    int32_t n_groups;
    bool include_authorized_operations; /* v3+ */
} kafka_describe_groups_req_t;

typedef struct {
    kafka_bytes_t member_id;
    kafka_bytes_t group_instance_id; /* v4+, nullable */
    kafka_bytes_t client_id;
    kafka_bytes_t client_host;
    kafka_bytes_t member_metadata;
    kafka_bytes_t member_assignment;
} kafka_describe_groups_resp_member_t;

typedef struct {
    int16_t error_code;
    kafka_bytes_t group_id;
    kafka_bytes_t group_state;   /* "Empty", "PreparingRebalance", "Stable", ... */
    kafka_bytes_t protocol_type; /* "consumer" */
    kafka_bytes_t protocol_data; /* the chosen protocol name */
    const kafka_describe_groups_resp_member_t *members;
    int32_t n_members;
    int32_t authorized_operations; /* v3+; INT32_MIN = not requested */
} kafka_describe_groups_resp_group_t;

typedef struct {
    int32_t throttle_time_ms; /* v1+ */
    const kafka_describe_groups_resp_group_t *groups;
    int32_t n_groups;
} kafka_describe_groups_resp_t;

int kafka_decode_describe_groups_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                     kafka_describe_groups_req_t *out);
int kafka_encode_describe_groups_resp(core_buf_t *out, int16_t version,
                                      const kafka_describe_groups_resp_t *resp);

/* ------------------------------------------------------------------------
 * ListGroups (key 16), versions 0-2. The request body is empty.
 * ------------------------------------------------------------------------ */
typedef struct {
    int32_t unused; /* no fields in v0-2 */
} kafka_list_groups_req_t;

typedef struct {
    kafka_bytes_t group_id;
    kafka_bytes_t protocol_type;
} kafka_list_groups_resp_group_t;

typedef struct {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    const kafka_list_groups_resp_group_t *groups;
    int32_t n_groups;
} kafka_list_groups_resp_t;

int kafka_decode_list_groups_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                 kafka_list_groups_req_t *out);
int kafka_encode_list_groups_resp(core_buf_t *out, int16_t version,
                                  const kafka_list_groups_resp_t *resp);

/* ------------------------------------------------------------------------
 * ApiVersions (key 18), versions 0-3; v3 is flexible (compact strings,
 * tags) but its RESPONSE HEADER is v0. For a version above 3 the broker
 * must not decode the body: answer with a v0 body (encode with version 0),
 * error 35 and the full table, under header v0 (fact sheet 1.3).
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t client_software_name;    /* v3+ */
    kafka_bytes_t client_software_version; /* v3+ */
} kafka_api_versions_req_t;

typedef struct {
    int16_t error_code;
    /* The advertised ranges; NULL with n_apis 0 means "use kafka_apis". */
    const kafka_api_info_t *apis;
    int32_t n_apis;
    int32_t throttle_time_ms; /* v1+; written after the array */
} kafka_api_versions_resp_t;

int kafka_decode_api_versions_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                  kafka_api_versions_req_t *out);
int kafka_encode_api_versions_resp(core_buf_t *out, int16_t version,
                                   const kafka_api_versions_resp_t *resp);

/* ------------------------------------------------------------------------
 * CreateTopics (key 19), versions 0-4. kafkajs sends num_partitions and
 * replication_factor -1 ("broker default") in every version.
 * ------------------------------------------------------------------------ */
typedef struct {
    int32_t partition;
    int32_t *broker_ids;
    int32_t n_broker_ids;
} kafka_create_topics_req_assignment_t;

typedef struct {
    kafka_bytes_t name;
    kafka_bytes_t value; /* nullable */
} kafka_create_topics_req_config_t;

typedef struct {
    kafka_bytes_t name;
    int32_t num_partitions;
    int16_t replication_factor;
    kafka_create_topics_req_assignment_t *assignments;
    int32_t n_assignments;
    kafka_create_topics_req_config_t *configs;
    int32_t n_configs;
} kafka_create_topics_req_topic_t;

typedef struct {
    kafka_create_topics_req_topic_t *topics;
    int32_t n_topics;
    int32_t timeout_ms;
    bool validate_only; /* v1+; false */
} kafka_create_topics_req_t;

typedef struct {
    kafka_bytes_t name;
    int16_t error_code;
    kafka_bytes_t error_message; /* v1+, nullable */
} kafka_create_topics_resp_topic_t;

typedef struct {
    int32_t throttle_time_ms; /* v2+ */
    const kafka_create_topics_resp_topic_t *topics;
    int32_t n_topics;
} kafka_create_topics_resp_t;

int kafka_decode_create_topics_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                   kafka_create_topics_req_t *out);
int kafka_encode_create_topics_resp(core_buf_t *out, int16_t version,
                                    const kafka_create_topics_resp_t *resp);

/* ------------------------------------------------------------------------
 * DeleteTopics (key 20), versions 0-3.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t *topic_names;
    int32_t n_topic_names;
    int32_t timeout_ms;
} kafka_delete_topics_req_t;

typedef struct {
    kafka_bytes_t name;
    int16_t error_code;
} kafka_delete_topics_resp_topic_t;

typedef struct {
    int32_t throttle_time_ms; /* v1+ */
    const kafka_delete_topics_resp_topic_t *responses;
    int32_t n_responses;
} kafka_delete_topics_resp_t;

int kafka_decode_delete_topics_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                   kafka_delete_topics_req_t *out);
int kafka_encode_delete_topics_resp(core_buf_t *out, int16_t version,
                                    const kafka_delete_topics_resp_t *resp);

/* ------------------------------------------------------------------------
 * InitProducerId (key 22), versions 0-1.
 * ------------------------------------------------------------------------ */
typedef struct {
    kafka_bytes_t transactional_id; /* nullable */
    int32_t transaction_timeout_ms;
} kafka_init_producer_id_req_t;

typedef struct {
    int32_t throttle_time_ms; /* v0+ (first) */
    int16_t error_code;
    int64_t producer_id;
    int16_t producer_epoch;
} kafka_init_producer_id_resp_t;

int kafka_decode_init_producer_id_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                      kafka_init_producer_id_req_t *out);
int kafka_encode_init_producer_id_resp(core_buf_t *out, int16_t version,
                                       const kafka_init_producer_id_resp_t *resp);

/* ------------------------------------------------------------------------
 * Generic dispatch: decodes the body of any served (key, version) into the
 * matching member of the union. CORE_EUNSUPP if not served.
 * ------------------------------------------------------------------------ */
typedef union {
    kafka_produce_req_t produce;
    kafka_fetch_req_t fetch;
    kafka_list_offsets_req_t list_offsets;
    kafka_metadata_req_t metadata;
    kafka_offset_commit_req_t offset_commit;
    kafka_offset_fetch_req_t offset_fetch;
    kafka_find_coordinator_req_t find_coordinator;
    kafka_join_group_req_t join_group;
    kafka_heartbeat_req_t heartbeat;
    kafka_leave_group_req_t leave_group;
    kafka_sync_group_req_t sync_group;
    kafka_describe_groups_req_t describe_groups;
    kafka_list_groups_req_t list_groups;
    kafka_api_versions_req_t api_versions;
    kafka_create_topics_req_t create_topics;
    kafka_delete_topics_req_t delete_topics;
    kafka_init_producer_id_req_t init_producer_id;
} kafka_request_body_t;

int kafka_decode_request_body(kafka_rd_t *r, int16_t api_key, int16_t version, core_arena_t *a,
                              kafka_request_body_t *out);

#endif /* STRATA_KAFKA_PROTO_INT_H */

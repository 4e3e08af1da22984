/*
 * core.h - the leaf library every strata module stands on.
 *
 * Contents, in order: error codes with messages and a per-thread detail
 * string; the accounted allocator; capped growable buffers; arenas; clocks;
 * an open-addressing hash map; varints (unsigned and zigzag); CRC32C; the
 * diagnostics logger; the JSON scanner and writer.
 *
 * Nothing here knows about any other module. Every function is thread-safe
 * unless its contract says otherwise; objects (buffers, arenas, maps) are
 * owned by one thread at a time and carry no locks.
 */
#ifndef STRATA_CORE_H
#define STRATA_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * Errors
 *
 * A fallible function returns 0 on success or one of these negative codes.
 * CORE_EAGAIN is the ordinary "not now" of non-blocking work, not a failure.
 * Where a caller may want to show the user more than the code's message, the
 * failing function also sets the thread's error detail with core_error(),
 * naming what failed and where (file and byte, topic/partition/offset).
 * ------------------------------------------------------------------------ */
enum {
    CORE_OK = 0,
    CORE_EAGAIN = -1,    /* try again later (non-blocking work) */
    CORE_ENOMEM = -2,    /* allocation failed or an accounting cap was hit */
    CORE_EINVAL = -3,    /* invalid argument or malformed input */
    CORE_EIO = -4,       /* an operating-system I/O call failed */
    CORE_ENOSPC = -5,    /* no space left on the device */
    CORE_ECORRUPT = -6,  /* stored or received bytes fail validation */
    CORE_ERANGE = -7,    /* value or offset outside the valid range */
    CORE_ENOENT = -8,    /* no such topic, partition, file or key */
    CORE_EEXIST = -9,    /* already exists */
    CORE_ETOOBIG = -10,  /* input exceeds a configured cap */
    CORE_EFAILED = -11,  /* the object is in a failed state; see its error */
    CORE_ECLOSED = -12,  /* the object is closed or shutting down */
    CORE_ETRUNC = -13,   /* input ends before the structure does */
    CORE_EUNSUPP = -14,  /* well-formed but not supported (yet) */
    CORE_ECODE_MIN = -14 /* lowest code; keep in step with the list */
};

/* The fixed message of a code ("corrupt data", ...). Never NULL; unknown
 * codes give "unknown error". */
const char *core_strerror(int code);

/* Sets the calling thread's error detail from a printf format and returns
 * `code`, so a failure reads `return core_error(CORE_ECORRUPT, "%s: ...")`.
 * The detail is truncated at CORE_ERROR_DETAIL_MAX bytes. */
#define CORE_ERROR_DETAIL_MAX 512
int core_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last detail, or the empty string. Borrowed: valid
 * until the thread's next core_error() or core_error_clear(). */
const char *core_error_detail(void);
void core_error_clear(void);

/* ------------------------------------------------------------------------
 * Accounted allocator
 *
 * Every heap allocation names the subsystem that owns it. Live bytes and
 * allocation counts are kept per subsystem (relaxed atomics) and exported as
 * metrics. Each block carries a 16-byte header recording its size and tag,
 * so core_free() needs neither.
 *
 * core_alloc/core_calloc/core_realloc return NULL on failure and never
 * abort; callers must check. For tests, core_mem_fail_at() makes the Nth
 * allocation from now fail (SQLite-style fault injection).
 * ------------------------------------------------------------------------ */
typedef enum {
    CORE_MEM_CORE,
    CORE_MEM_RECORD,
    CORE_MEM_SEGLOG,
    CORE_MEM_KAFKA,
    CORE_MEM_SCHEMA,
    CORE_MEM_STORE,
    CORE_MEM_BUS,
    CORE_MEM_STREAM,
    CORE_MEM_LAKE,
    CORE_MEM_BATCH,
    CORE_MEM_GEN,
    CORE_MEM_HTTP,
    CORE_MEM_APP,
    CORE_MEM_TEST,
    CORE_MEM__COUNT
} core_mem_tag_t;

void *core_alloc(core_mem_tag_t tag, size_t n);
void *core_calloc(core_mem_tag_t tag, size_t count, size_t size); /* checks overflow */
/* Resizes a block from core_alloc. p may be NULL (then it allocates with
 * `tag`; otherwise the block keeps its own tag). On failure returns NULL and
 * leaves p valid. */
void *core_realloc(core_mem_tag_t tag, void *p, size_t n);
/* Grows the array *arr of *cap elements of `size` bytes so that it holds at
 * least `need` (capacity doubling from 16; *arr may be NULL). 0, or
 * CORE_ENOMEM (also when the size would overflow) with *arr and *cap
 * unchanged. */
int core_grow(core_mem_tag_t tag, void **arr, size_t *cap, size_t need, size_t size);
void core_free(void *p); /* NULL is ignored */
/* A NUL-terminated copy of s (or of its first n bytes), owned by the caller. */
char *core_strdup(core_mem_tag_t tag, const char *s);
char *core_strndup(core_mem_tag_t tag, const char *s, size_t n);

typedef struct {
    int64_t bytes;        /* live bytes requested by callers */
    int64_t allocs;       /* live blocks */
    int64_t total_allocs; /* blocks ever allocated */
} core_mem_stats_t;

void core_mem_stats(core_mem_tag_t tag, core_mem_stats_t *out);
const char *core_mem_tag_name(core_mem_tag_t tag); /* "seglog", ... */
/* Fault injection: the n-th allocation from now (1 = the next) fails, and
 * with `persist` every one after it too. n <= 0 turns injection off. */
void core_mem_fail_at(long n, bool persist);

/* ------------------------------------------------------------------------
 * Capped growable buffer
 *
 * Lives in the caller's storage (init/fini). `max` caps len; an append that
 * would exceed it fails with CORE_ETOOBIG and leaves the buffer unchanged.
 * core_buf_take() transfers the bytes to the caller, who frees them with
 * core_free(), and leaves the buffer empty.
 * ------------------------------------------------------------------------ */
typedef struct {
    uint8_t *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;
    core_mem_tag_t tag;
} core_buf_t;

void core_buf_init(core_buf_t *b, core_mem_tag_t tag, size_t max);
void core_buf_fini(core_buf_t *b);
void core_buf_reset(core_buf_t *b); /* len = 0, keeps memory */
/* Ensures room for `extra` more bytes without changing len. */
int core_buf_reserve(core_buf_t *b, size_t extra);
int core_buf_append(core_buf_t *b, const void *p, size_t n);
int core_buf_append_u8(core_buf_t *b, uint8_t v);
int core_buf_append_be16(core_buf_t *b, uint16_t v);
int core_buf_append_be32(core_buf_t *b, uint32_t v);
int core_buf_append_be64(core_buf_t *b, uint64_t v);
int core_buf_append_str(core_buf_t *b, const char *s);
int core_buf_printf(core_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint8_t *core_buf_take(core_buf_t *b, size_t *len_out);

/* Big-endian loads and stores on raw bytes (no alignment needed). */
static inline uint16_t core_load_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t core_load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t core_load_be64(const uint8_t *p)
{
    return (uint64_t)core_load_be32(p) << 32 | core_load_be32(p + 4);
}
static inline void core_store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void core_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void core_store_be64(uint8_t *p, uint64_t v)
{
    core_store_be32(p, (uint32_t)(v >> 32));
    core_store_be32(p + 4, (uint32_t)v);
}

/* ------------------------------------------------------------------------
 * Arena
 *
 * Bump allocation for request- and batch-scoped memory, freed all at once by
 * core_arena_reset(). Chunks of `chunk_size` bytes (larger requests get a
 * chunk of their own); total chunk bytes are capped by `max_bytes`, past
 * which core_arena_alloc() returns NULL. Returned memory is 16-byte aligned.
 * ------------------------------------------------------------------------ */
typedef struct core_arena core_arena_t;

core_arena_t *core_arena_create(core_mem_tag_t tag, size_t chunk_size, size_t max_bytes);
void core_arena_destroy(core_arena_t *a);
void *core_arena_alloc(core_arena_t *a, size_t n);
char *core_arena_strndup(core_arena_t *a, const char *s, size_t n);
/* Frees every allocation; keeps the first chunk for reuse. */
void core_arena_reset(core_arena_t *a);
size_t core_arena_used(const core_arena_t *a); /* bytes handed out */

/* ------------------------------------------------------------------------
 * Clocks
 * ------------------------------------------------------------------------ */
int64_t core_mono_ns(void); /* CLOCK_MONOTONIC, nanoseconds */
int64_t core_mono_ms(void);
int64_t core_wall_ms(void); /* CLOCK_REALTIME, ms since the Unix epoch */
int64_t core_wall_us(void);
/* Formats a wall time in ms as "2026-11-22T04:36:11.123Z" into out (>= 25 bytes). */
void core_format_iso8601_ms(int64_t wall_ms, char *out, size_t out_len);

/* ------------------------------------------------------------------------
 * Hash map
 *
 * Open addressing with linear probing and backward-shift deletion; byte-
 * string keys, copied into map-owned memory; values are borrowed pointers
 * the map never dereferences. Grows at 7/8 load. Not thread-safe.
 * ------------------------------------------------------------------------ */
typedef struct core_map core_map_t;

uint64_t core_hash64(const void *p, size_t n, uint64_t seed);
/* Kafka's murmur2 (the Java client's Utils.murmur2, which its default
 * partitioner uses): MurmurHash2, 32-bit, seed 0x9747b28c, words read
 * little-endian. Partition = (murmur2(key) & 0x7fffffff) % partitions. */
uint32_t core_murmur2(const void *p, size_t n);

core_map_t *core_map_create(core_mem_tag_t tag, size_t initial_capacity);
void core_map_destroy(core_map_t *m); /* values are not freed */
/* Inserts or replaces. If `old` is non-NULL it receives the replaced value
 * (NULL if the key was new). */
int core_map_put(core_map_t *m, const void *key, size_t klen, void *value, void **old);
/* Returns true and sets *value if present. */
bool core_map_get(const core_map_t *m, const void *key, size_t klen, void **value);
/* Returns true and sets *value (if non-NULL) when the key was removed. */
bool core_map_del(core_map_t *m, const void *key, size_t klen, void **value);
size_t core_map_count(const core_map_t *m);
/* Iteration: start with *cursor = 0; returns false at the end. Keys are
 * borrowed. The map must not be modified during iteration. */
bool core_map_next(const core_map_t *m, size_t *cursor, const void **key, size_t *klen,
                   void **value);

/* ------------------------------------------------------------------------
 * Varints
 *
 * Unsigned LEB128 (Kafka's flexible-version "uvarint") and zigzag-signed
 * (record fields). Encoders write at most CORE_VARINT_MAX bytes and return
 * the count. Decoders read at most `len` bytes; they return the number of
 * bytes used, or CORE_ETRUNC when the input ends mid-varint, or CORE_ERANGE
 * when the varint is longer than its type allows.
 * ------------------------------------------------------------------------ */
#define CORE_VARINT_MAX 10

size_t core_uvarint_put(uint8_t *dst, uint64_t v);
size_t core_uvarint_size(uint64_t v);
/* The decoders below take one-byte varints inline (most lengths and deltas
 * in a record are) and call these for the rest. */
int core_uvarint_get_any(const uint8_t *p, size_t len, uint64_t *v);
int core_uvarint_get32_any(const uint8_t *p, size_t len, uint32_t *v);

static inline int core_uvarint_get(const uint8_t *p, size_t len, uint64_t *v)
{
    if (len > 0 && p[0] < 0x80) {
        *v = p[0];
        return 1;
    }
    return core_uvarint_get_any(p, len, v);
}
static inline int core_uvarint_get32(const uint8_t *p, size_t len, uint32_t *v)
{
    if (len > 0 && p[0] < 0x80) {
        *v = p[0];
        return 1;
    }
    return core_uvarint_get32_any(p, len, v);
}

static inline uint64_t core_zigzag_encode(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t core_zigzag_decode(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
size_t core_varint_put(uint8_t *dst, int64_t v); /* zigzag */
size_t core_varint_size(int64_t v);

static inline int core_varint_get(const uint8_t *p, size_t len, int64_t *v)
{
    uint64_t u = 0;
    int n = core_uvarint_get(p, len, &u);
    if (n > 0)
        *v = core_zigzag_decode(u);
    return n;
}
static inline int core_varint_get32(const uint8_t *p, size_t len, int32_t *v)
{
    /* A 32-bit zigzag value fits in 32 unsigned bits, which maps exactly
     * onto [INT32_MIN, INT32_MAX]; the 5-byte/4-bit limit enforces that. */
    uint32_t u = 0;
    int n = core_uvarint_get32(p, len, &u);
    if (n > 0)
        *v = (int32_t)core_zigzag_decode(u);
    return n;
}

/* ------------------------------------------------------------------------
 * CRC32C (Castagnoli), as Kafka's RecordBatch v2 uses it.
 *
 * core_crc32c() picks the SSE4.2 instruction when the CPU has it, else the
 * table version. `crc` is the running value: pass 0 to start, and the
 * previous result to continue. The two implementations are exported so tests
 * can check both against known vectors.
 * ------------------------------------------------------------------------ */
uint32_t core_crc32c(uint32_t crc, const void *p, size_t n);

/* SHA-256 (FIPS 180-4), incremental. Checksums of imported files (lineage,
 * "already imported") and request signing. core_sha256_init() uses the x86
 * SHA extensions when the CPU has them (about ten times the portable
 * speed), else portable C; core_sha256_init_portable() always takes the
 * portable code (tests compare the two). Both give the same digests. A
 * context belongs to one thread. */
typedef struct {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t block[64];
    size_t used; /* bytes in block */
    bool hw;     /* blocks go through the SHA extensions */
} core_sha256_t;
void core_sha256_init(core_sha256_t *c);
void core_sha256_init_portable(core_sha256_t *c);
/* True when this CPU has the SHA extensions (with SSSE3 and SSE4.1). */
bool core_sha256_hw_available(void);
void core_sha256_update(core_sha256_t *c, const void *p, size_t n);
void core_sha256_final(core_sha256_t *c, uint8_t out[32]);
/* Lower-case hex of a digest: 64 characters and a NUL. */
void core_sha256_hex(const uint8_t digest[32], char out[65]);
uint32_t core_crc32c_sw(uint32_t crc, const void *p, size_t n);
uint32_t core_crc32c_hw(uint32_t crc, const void *p, size_t n); /* only if available */
bool core_crc32c_hw_available(void);

/* ------------------------------------------------------------------------
 * Diagnostics logging, to stderr:
 *   2026-11-22T04:36:11.123Z WARN  seglog: orders-0: cut torn tail at byte 4096
 * One write(2) per line, so lines from threads do not interleave.
 * ------------------------------------------------------------------------ */
typedef enum {
    CORE_LOG_DEBUG,
    CORE_LOG_INFO,
    CORE_LOG_WARN,
    CORE_LOG_ERROR,
    CORE_LOG_OFF
} core_log_level_t;

void core_log_set_level(core_log_level_t level);
core_log_level_t core_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "off"; CORE_EINVAL otherwise. */
int core_log_parse_level(const char *s, core_log_level_t *out);
void core_log(core_log_level_t level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------------
 * JSON scanner (json.c) and writer (json_write.c)
 *
 * A zero-copy, allocation-free scanner for strict RFC 8259 JSON: no
 * trailing commas, comments, leading zeros, NaN/Infinity; control
 * characters and invalid UTF-8 (overlongs, encoded surrogates, > U+10FFFF)
 * in strings are rejected, and so are lone surrogate escapes (\uD800 not
 * followed by \uDC00-\uDFFF, or a bare \uDC00-\uDFFF), as jansson does.
 * Anything after the document but whitespace is an error. Nesting is
 * scanned iteratively and capped (max_depth: 0 means CORE_JSON_DEFAULT_DEPTH,
 * at most CORE_JSON_MAX_DEPTH; "[]" has depth 1, a scalar 0).
 *
 * Ownership: every pointer the scanner hands out (values, keys, iterators)
 * is borrowed from the input, which must outlive them and stay unchanged.
 * Nothing is allocated. All functions are pure over their arguments and
 * thread-safe; an iterator or writer belongs to one thread.
 *
 * Errors: invalid input gives CORE_ECORRUPT, fills the optional
 * core_json_error_t and sets the thread's error detail to
 *   "json: byte 17: expected ':' after object key"
 * (offsets count from the first byte of the document; an offset equal to
 * the length means the input ended early). Misuse (wrong value type, bad
 * max_depth) gives CORE_EINVAL.
 * ------------------------------------------------------------------------ */
#define CORE_JSON_DEFAULT_DEPTH 64
#define CORE_JSON_MAX_DEPTH     4096

typedef enum {
    CORE_JSON_NULL,
    CORE_JSON_FALSE,
    CORE_JSON_TRUE,
    CORE_JSON_NUMBER,
    CORE_JSON_STRING,
    CORE_JSON_ARRAY,
    CORE_JSON_OBJECT
} core_json_type_t;

/* One scanned value. p/len is its raw text, borrowed: for strings the bytes
 * between the quotes with escapes undecoded; for numbers and literals the
 * token; for objects and arrays the whole span including the brackets. A
 * value the scanner returns is valid JSON down to its last byte. */
typedef struct {
    core_json_type_t type;
    const char *p;
    size_t len;
    bool escaped; /* strings: holds a backslash (decode before use) */
    bool integer; /* numbers: no fraction and no exponent */
} core_json_value_t;

typedef struct {
    size_t offset;    /* byte offset of the fault from the document start */
    const char *what; /* static text, e.g. "expected ':' after object key" */
} core_json_error_t;

/* Checks a whole document. err may be NULL. Returns 0 or CORE_ECORRUPT
 * (CORE_EINVAL for a bad max_depth). */
int core_json_validate(const char *p, size_t len, size_t max_depth, core_json_error_t *err);
/* As core_json_validate, and on success sets *root (may be NULL) to the
 * document's value. One pass; the cold-path entry point. */
int core_json_parse(const char *p, size_t len, size_t max_depth, core_json_value_t *root,
                    core_json_error_t *err);

/* Iterator over one object's members or one array's elements, without a
 * tree: each call scans (and fully validates) one member and skips nested
 * containers. Lives in the caller's storage; fields are private.
 *
 * The hot path is one pass: core_json_iter_init() on a document whose root
 * is an object or array, then *_next() until it returns 0. Returning 0
 * means the entire document was valid (trailing whitespace checked);
 * stopping earlier leaves the rest unchecked. To descend, open a child
 * iterator on a member value with core_json_iter_child(); error offsets
 * then still count from the document start. Any container value (or its
 * p/len) may also be iterated on its own with core_json_iter_init(). */
typedef struct {
    const char *doc;         /* borrowed: offsets count from here */
    size_t pos;              /* next byte to read */
    size_t end;              /* one past the last byte to read */
    size_t depth_left;       /* nesting allowed inside members */
    core_json_type_t type;   /* CORE_JSON_OBJECT or CORE_JSON_ARRAY */
    int state;               /* private */
    bool root;               /* check trailing whitespace at the end */
    int rc;                  /* sticky error once failed */
    core_json_error_t error; /* the failure, once *_next() returned < 0 */
} core_json_iter_t;

/* Starts iterating the object or array that is the document p/len. A root
 * that is not '{' or '[' gives CORE_ECORRUPT. The type is it->type. */
int core_json_iter_init(core_json_iter_t *it, const char *p, size_t len, size_t max_depth,
                        core_json_error_t *err);
/* Starts iterating `v`, an object or array returned by parent (CORE_EINVAL
 * otherwise). */
int core_json_iter_child(const core_json_iter_t *parent, const core_json_value_t *v,
                         core_json_iter_t *child);
/* Next member: 1 with *key (a string) and *value set, 0 at the end, or a
 * negative code (sticky; details in it->error). CORE_EINVAL on an array. */
int core_json_object_next(core_json_iter_t *it, core_json_value_t *key, core_json_value_t *value);
/* Next element: as core_json_object_next. CORE_EINVAL on an object. */
int core_json_array_next(core_json_iter_t *it, core_json_value_t *value);

/* One member of an object: its key (a string) and its value. */
typedef struct {
    core_json_value_t key;
    core_json_value_t value;
} core_json_member_t;

/* The hot path for small objects: scans the whole document p/len, which
 * must be an object, in one call and puts its members into out[0..cap) in
 * document order. Returns the member count, having validated everything
 * exactly as an iterator over p/len would (nested values under max_depth,
 * the root counting as one level; trailing whitespace). CORE_ECORRUPT for
 * invalid JSON or a root that is not an object (details in *err, which may
 * be NULL; offsets as for iterators, but the reason for a root that is not
 * an object is worded differently); CORE_ETOOBIG when the object has more
 * than cap members (the rest is not checked; iterate instead); CORE_EINVAL
 * for a bad max_depth. Pure; thread-safe. */
int core_json_object_members(const char *p, size_t len, size_t max_depth, core_json_member_t *out,
                             size_t cap, core_json_error_t *err);

/* Plain strings, for decoders that take the commonest shape of a token
 * inline (the scanner's own fast path, the schema decoder's ordered path).
 * core_json_plain_string_end(p, i, len): i is just past an opening quote;
 * returns the position of the closing quote when every byte before it is
 * printable ASCII other than a backslash (such a string is valid JSON as it
 * stands and needs no decoding), or SIZE_MAX (an escape, a control byte, a
 * byte >= 0x80, or no closing quote before len). Whole 8-byte words are
 * read only while 8 bytes remain before len. Pure. */
static inline uint64_t core_json_swar_special(uint64_t w)
{
    /* Non-zero if any byte of w is '"', '\\', < 0x20 or >= 0x80. False
     * positives occur only above a true one (borrows run upward). */
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t t = ((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w;
    return t & high;
}

static inline size_t core_json_swar_skip(uint64_t m)
{
    /* Bytes before the first flagged byte of m (m != 0), or 0 when m is 0.
     * On a little-endian load the lowest flag is a true one; elsewhere the
     * caller's byte loop finds it. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return m != 0 ? (size_t)__builtin_ctzll(m) / 8 : 0;
#else
    (void)m;
    return 0;
#endif
}

static inline size_t core_json_plain_string_end(const char *p, size_t i, size_t len)
{
    while (len - i >= 8) {
        uint64_t w, m;
        __builtin_memcpy(&w, p + i, 8);
        if ((m = core_json_swar_special(w)) != 0) {
            i += core_json_swar_skip(m);
            break;
        }
        i += 8;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"')
            return i;
        if (c == '\\' || c < 0x20 || c >= 0x80)
            return SIZE_MAX;
    }
    return SIZE_MAX;
}

/* Top-level lookup of key[0..klen) in the object `obj` (escaped keys are
 * compared decoded). The first matching member wins; duplicates are not
 * detected. Returns 0 with *out set, CORE_ENOENT, CORE_EINVAL if obj is
 * not an object, or CORE_ECORRUPT if obj is not valid JSON. */
int core_json_find(const core_json_value_t *obj, const char *key, size_t klen,
                   core_json_value_t *out);
/* True if the string value `v` decodes to exactly s[0..n). */
bool core_json_string_eq(const core_json_value_t *v, const char *s, size_t n);

/* Appends the decoded (UTF-8) text of the string value `v` to out:
 * escapes resolved, \uXXXX surrogate pairs joined, \u0000 kept as a NUL
 * byte. Returns 0, CORE_EINVAL (not a string), CORE_ECORRUPT (bad or lone
 * surrogate escape: only when v did not come from the scanner), or the
 * buffer's CORE_ETOOBIG / CORE_ENOMEM (out unchanged on failure). */
int core_json_string_decode(const core_json_value_t *v, core_buf_t *out);
/* Exact integer value of a number. CORE_EINVAL if v is not a number or has
 * a fraction or exponent ("1.0", "1e3"); CORE_ERANGE outside int64. */
int core_json_to_i64(const core_json_value_t *v, int64_t *out);
/* Double value of any number, correctly rounded as strtod() does (the
 * process must keep the "C" LC_NUMERIC locale). Underflow gives 0 or a
 * subnormal; overflow gives CORE_ERANGE with *out = +-HUGE_VAL. */
int core_json_to_double(const core_json_value_t *v, double *out);

/* True if p[0..n) is well-formed UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF). */
bool core_utf8_valid(const void *p, size_t n);

/* Writer: appends one JSON document to a core_buf_t, placing commas and
 * colons itself. Lives in the caller's storage; `out` is borrowed. The
 * first error is sticky: every later call returns it, and the buffer then
 * holds a partial document the caller should discard. Misuse (a value in
 * an object without a key, a key outside an object, unbalanced ends, a
 * second root value, nesting past CORE_JSON_WRITE_DEPTH) is CORE_EINVAL;
 * buffer limits give CORE_ETOOBIG / CORE_ENOMEM. */
#define CORE_JSON_WRITE_DEPTH 64
typedef struct {
    core_buf_t *out;    /* borrowed */
    uint64_t is_object; /* bit d: level d+1 is an object */
    uint64_t has_items; /* bit d: level d+1 has a member already */
    uint32_t depth;
    bool after_key; /* a key was written; its value comes next */
    bool done;      /* the root value is complete */
    int rc;         /* sticky first error */
} core_json_writer_t;

void core_json_writer_init(core_json_writer_t *w, core_buf_t *out);
/* 0 if exactly one complete document was written, else the sticky error or
 * CORE_EINVAL. */
int core_json_writer_finish(const core_json_writer_t *w);
int core_json_write_object_begin(core_json_writer_t *w);
int core_json_write_object_end(core_json_writer_t *w);
int core_json_write_array_begin(core_json_writer_t *w);
int core_json_write_array_end(core_json_writer_t *w);
/* Keys and strings must be valid UTF-8 (CORE_EINVAL otherwise); '"', '\\'
 * and control characters are escaped (\b \f \n \r \t, others \u00XX). */
int core_json_write_key(core_json_writer_t *w, const char *s, size_t n);
int core_json_write_string(core_json_writer_t *w, const char *s, size_t n);
/* Appends s[0..n) to out as a JSON string, quoted and escaped as the writer
 * escapes ('"', '\\', and control characters as \b \f \n \r \t or \u00XX);
 * no UTF-8 check. 0 or out's append error. */
int core_json_append_quoted(core_buf_t *out, const char *s, size_t n);
int core_json_write_i64(core_json_writer_t *w, int64_t v);
/* The shortest decimal that reads back as v, with ".0" added to integral
 * values so they stay doubles. NaN and infinities give CORE_EINVAL. */
int core_json_write_double(core_json_writer_t *w, double v);
int core_json_write_bool(core_json_writer_t *w, bool v);
int core_json_write_null(core_json_writer_t *w);
/* Pre-encoded JSON, copied as is: the caller vouches that it is one valid
 * value (for instance a value the scanner returned). */
int core_json_write_raw(core_json_writer_t *w, const char *p, size_t n);

/* ------------------------------------------------------------------------
 * Small helpers shared by every module.
 * ------------------------------------------------------------------------ */
#define CORE_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CORE_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define CORE_MAX(a, b)    ((a) > (b) ? (a) : (b))

/* Parses a whole decimal integer in [min, max]; CORE_EINVAL on junk,
 * CORE_ERANGE outside the bounds. The replacement for atoi. */
int core_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Writes all n bytes at `off` (pwrite loop, retrying EINTR). Returns 0, or
 * CORE_ENOSPC / CORE_EIO with errno preserved. */
int core_pwrite_all(int fd, const void *p, size_t n, int64_t off);
/* Splits a listen address, "host:port" or "[v6]:port" with a port in
 * 0..65535, into NUL-terminated host and port texts. CORE_EINVAL otherwise,
 * the detail starting "WHAT: " and showing EXAMPLE_PORT in its examples. */
int core_split_host_port(const char *listen, const char *what, const char *example_port, char *host,
                         size_t host_len, char *port, size_t port_len);
/* A listening TCP socket (non-blocking, close-on-exec, SO_REUSEADDR) on
 * the first address `listen` ("host:port", "[v6]:port"; port 0: any free
 * one) resolves to that accepts the bind; *port_out is the bound port.
 * CORE_EINVAL for an address that does not parse or resolve, CORE_EIO when
 * no address can be bound; the detail starts "WHAT: listen ADDRESS". */
int core_listen_tcp(const char *listen, const char *what, const char *example_port, int backlog,
                    int *fd_out, int *port_out);
/* Reads exactly n bytes at `off`; CORE_ETRUNC if the file ends first. */
int core_pread_all(int fd, void *p, size_t n, int64_t off);
/* fsyncs a directory so that entries created, renamed or removed in it are
 * durable. */
int core_fsync_dir(const char *path);

#endif /* STRATA_CORE_H */

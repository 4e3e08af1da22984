/*
 * codec.c - Kafka's record compression codecs (gzip, snappy, lz4, zstd) and
 * record_batch_decompress(), which turns a compressed RecordBatch v2 into an
 * equivalent uncompressed one the iterator can walk.
 *
 * Compressed bytes come from outside (producers, segment files), so:
 *   1. Every decoder writes into a "sink": the caller's core_buf_t, never
 *      past `limit` = min(max_out, room left under out->max). Room is
 *      reserved a doubling step at a time, so memory follows real output,
 *      not what a header claims.
 *   2. Once the sink is full the decoder is offered a one-byte probe
 *      instead; a decoder that writes into the probe proves the output
 *      passes the cap, and the call fails with CORE_ETOOBIG. A stream that
 *      ends exactly at the cap is accepted.
 *   3. Input that ends before the stream does, or stops a decoder making
 *      progress, is CORE_ECORRUPT; so are garbage and trailing bytes. Every
 *      loop either consumes input, produces output, or ends.
 *   4. On any error the caller's out->len is restored.
 * Streaming decoders (zlib, LZ4F, zstd) run over the whole input in one
 * call; snappy is one-shot per block because its header states the exact
 * decoded size, which is checked against the cap before any allocation.
 *
 * Memory: output goes through core_buf_t (the accounted allocator, with the
 * caller's tag); zlib's working state through core_calloc (CORE_MEM_RECORD).
 * libzstd, liblz4 and libsnappy allocate their bounded working state with
 * malloc (their stable APIs take no allocator); it is freed before return.
 * zstd's window is capped by ZSTD_d_windowLogMax (see zstd_window_log).
 *
 * Threading: reentrant; no shared state.
 */
#include "record/record.h"

#define ZLIB_CONST /* next_in is const: zlib never writes to its input */

#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Largest input or output a single call accepts: a batch's Length is an
 * int32, and this keeps every size inside zlib's 32-bit counters. */
#define MAX_IO ((size_t)INT32_MAX)
/* Smallest first reservation for decoded output, and largest single step. */
#define FIRST_ROOM ((size_t)4096)
#define MAX_STEP   ((size_t)1 << 30)
/* zstd window limits: at least 8 MiB (any level's default window for
 * streamed input), at most zstd's own default limit of 128 MiB. */
#define ZSTD_WINDOW_LOG_MIN 23
#define ZSTD_WINDOW_LOG_MAX 27

#define HEADER_AFTER_LENGTH (RECORD_BATCH_HEADER_SIZE - RECORD_BATCH_LOG_OVERHEAD)

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER_SIZE 16 /* magic + version i32 + compat i32 */

static const char *codec_name(int codec)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return codec >= 0 && codec < (int)CORE_ARRAY_LEN(names) ? names[codec] : "unknown codec";
}

/* ------------------------------------------------------------------------
 * Sink: capped output into the caller's buffer (invariants 1, 2 and 4).
 * ------------------------------------------------------------------------ */
typedef struct {
    core_buf_t *out;
    size_t start;      /* out->len on entry */
    size_t limit;      /* most bytes this call may append */
    size_t hint;       /* size of the first reservation */
    const char *codec; /* for error details */
    uint8_t probe;     /* offered once the sink is full */
} sink_t;

static void sink_init(sink_t *s, core_buf_t *out, size_t max_out, size_t in_len, const char *codec)
{
    size_t room = out->max > out->len ? out->max - out->len : 0;
    s->out = out;
    s->start = out->len;
    s->limit = CORE_MIN(CORE_MIN(max_out, room), MAX_IO);
    s->hint = in_len < MAX_STEP / 4 ? in_len * 4 : MAX_STEP;
    if (s->hint < FIRST_ROOM)
        s->hint = FIRST_ROOM;
    s->codec = codec;
    s->probe = 0;
}

static size_t sink_used(const sink_t *s)
{
    return s->out->len - s->start;
}

static int sink_too_big(const sink_t *s)
{
    return core_error(CORE_ETOOBIG, "%s: decompressed data exceeds the cap of %zu bytes", s->codec,
                      s->limit);
}

/* Offers space for more output: free bytes after out->len, never past the
 * limit, or the one-byte probe once the limit is reached. */
static int sink_room(sink_t *s, uint8_t **dst, size_t *avail)
{
    core_buf_t *out = s->out;
    size_t used = sink_used(s);
    if (used >= s->limit) {
        *dst = &s->probe;
        *avail = 1;
        return 0;
    }
    if (out->cap == out->len) {
        size_t want = CORE_MAX(used, s->hint);
        want = CORE_MIN(CORE_MIN(want, MAX_STEP), s->limit - used);
        if (core_buf_reserve(out, want) < 0)
            return core_error(CORE_ENOMEM, "%s: cannot allocate %zu bytes for decompressed data",
                              s->codec, want);
    }
    *dst = out->data + out->len;
    *avail = CORE_MIN(CORE_MIN(out->cap - out->len, s->limit - used), MAX_STEP);
    return 0;
}

/* Accounts for n bytes a decoder wrote at dst (from sink_room). */
static int sink_commit(sink_t *s, const uint8_t *dst, size_t n)
{
    if (dst == &s->probe)
        return n > 0 ? sink_too_big(s) : 0;
    s->out->len += n;
    return 0;
}

static int truncated(const sink_t *s)
{
    return core_error(CORE_ECORRUPT, "%s: compressed data ends before its stream does", s->codec);
}

/* Reserves room for an encoder's worst-case output, with a detail. */
static int reserve_out(core_buf_t *out, size_t n, const char *codec)
{
    int rc = core_buf_reserve(out, n);
    if (rc == CORE_ETOOBIG)
        return core_error(rc,
                          "%s: output of up to %zu bytes does not fit the %zu bytes left "
                          "under the buffer's cap",
                          codec, n, out->max - out->len);
    if (rc < 0)
        return core_error(rc, "%s: cannot allocate %zu bytes for output", codec, n);
    return 0;
}

/* ------------------------------------------------------------------------
 * gzip (zlib)
 * ------------------------------------------------------------------------ */
static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return core_calloc(CORE_MEM_RECORD, items, size);
}

static void zlib_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    core_free(p);
}

/* Maps one inflate() result; returns 1 to go on, 0 when done, or an error. */
static int gzip_step(sink_t *s, z_stream *zs, int zrc, size_t produced)
{
    switch (zrc) {
    case Z_OK:
        return 1;
    case Z_STREAM_END:
        if (zs->avail_in == 0)
            return 0;
        /* Another gzip member follows (Java's GZIPInputStream reads them). */
        return inflateReset(zs) == Z_OK ? 1 : core_error(CORE_EFAILED, "gzip: inflateReset failed");
    case Z_BUF_ERROR:
        if (zs->avail_in == 0 && produced == 0)
            return truncated(s);
        return 1;
    case Z_MEM_ERROR:
        return core_error(CORE_ENOMEM, "gzip: out of memory while inflating");
    default: /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
        return core_error(CORE_ECORRUPT, "gzip: %s after %zu input bytes",
                          zs->msg ? zs->msg : "invalid data", (size_t)zs->total_in);
    }
}

static int gzip_decompress(const uint8_t *src, size_t len, sink_t *s)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = zlib_alloc;
    zs.zfree = zlib_free;
    /* 15 + 32: a 32 KiB window, and accept either a gzip or a zlib header. */
    int zrc = inflateInit2(&zs, 15 + 32);
    if (zrc != Z_OK)
        return core_error(zrc == Z_MEM_ERROR ? CORE_ENOMEM : CORE_EFAILED,
                          "gzip: cannot start the decoder (zlib %d)", zrc);
    zs.next_in = src;
    zs.avail_in = (uInt)len;
    int rc = 1;
    if (len == 0)
        rc = truncated(s);
    while (rc == 1) {
        uint8_t *dst = NULL;
        size_t avail = 0;
        rc = sink_room(s, &dst, &avail);
        if (rc < 0)
            break;
        zs.next_out = dst;
        zs.avail_out = (uInt)avail;
        zrc = inflate(&zs, Z_NO_FLUSH);
        size_t produced = avail - zs.avail_out;
        rc = sink_commit(s, dst, produced);
        if (rc == 0)
            rc = gzip_step(s, &zs, zrc, produced);
    }
    inflateEnd(&zs);
    return rc;
}

static int gzip_compress(const uint8_t *src, size_t len, core_buf_t *out, size_t *n)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    zs.zalloc = zlib_alloc;
    zs.zfree = zlib_free;
    /* 15 + 16: a 32 KiB window with the gzip wrapper, as Kafka writes it. */
    int zrc = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (zrc != Z_OK)
        return core_error(zrc == Z_MEM_ERROR ? CORE_ENOMEM : CORE_EFAILED,
                          "gzip: cannot start the encoder (zlib %d)", zrc);
    size_t bound = deflateBound(&zs, (uLong)len);
    int rc = reserve_out(out, bound, "gzip");
    if (rc == 0) {
        zs.next_in = src;
        zs.avail_in = (uInt)len;
        zs.next_out = out->data + out->len;
        zs.avail_out = (uInt)bound;
        zrc = deflate(&zs, Z_FINISH);
        if (zrc == Z_STREAM_END)
            *n = bound - zs.avail_out;
        else
            rc = core_error(zrc == Z_MEM_ERROR ? CORE_ENOMEM : CORE_EFAILED,
                            "gzip: deflate failed (zlib %d)", zrc);
    }
    deflateEnd(&zs);
    return rc;
}

/* ------------------------------------------------------------------------
 * snappy: raw blocks (librdkafka) and xerial framing (Java, kafka-python).
 * ------------------------------------------------------------------------ */
static int snappy_block(const uint8_t *src, size_t len, sink_t *s, int32_t block)
{
    char where[32] = "";
    if (block >= 0)
        snprintf(where, sizeof(where), " xerial block %d", (int)block);
    size_t size = 0;
    if (snappy_uncompressed_length((const char *)src, len, &size) != SNAPPY_OK)
        return core_error(CORE_ECORRUPT, "snappy%s: invalid length preamble", where);
    if (size > s->limit - sink_used(s)) {
        /* Only a valid stream is "too big"; garbage claiming a huge size is
         * corrupt. Validation walks the tags without writing, in O(len). */
        if (snappy_validate_compressed_buffer((const char *)src, len) != SNAPPY_OK)
            return core_error(CORE_ECORRUPT, "snappy%s: invalid compressed data", where);
        return sink_too_big(s);
    }
    if (core_buf_reserve(s->out, size) < 0)
        return core_error(CORE_ENOMEM, "snappy%s: cannot allocate %zu bytes", where, size);
    char empty = 0;
    char *dst = size ? (char *)s->out->data + s->out->len : &empty;
    size_t got = size;
    if (snappy_uncompress((const char *)src, len, dst, &got) != SNAPPY_OK || got != size)
        return core_error(CORE_ECORRUPT, "snappy%s: invalid compressed data", where);
    s->out->len += size;
    return 0;
}

static int snappy_decompress(const uint8_t *src, size_t len, sink_t *s)
{
    if (len < sizeof(xerial_magic) || memcmp(src, xerial_magic, sizeof(xerial_magic)) != 0)
        return snappy_block(src, len, s, -1);
    /* A raw stream cannot start with the magic: after its length varint
     * (0x82 0x53) would come 'N', a copy with nothing yet to copy from. */
    if (len < XERIAL_HEADER_SIZE)
        return core_error(CORE_ECORRUPT, "snappy: xerial header cut off at %zu of %d bytes", len,
                          XERIAL_HEADER_SIZE);
    size_t pos = XERIAL_HEADER_SIZE;
    for (int32_t block = 0; pos < len; block++) {
        if (len - pos < 4)
            return core_error(CORE_ECORRUPT, "snappy: xerial block %d: length cut off", (int)block);
        size_t blen = core_load_be32(src + pos);
        pos += 4;
        if (blen > len - pos)
            return core_error(CORE_ECORRUPT,
                              "snappy: xerial block %d: length %zu exceeds the %zu bytes left",
                              (int)block, blen, len - pos);
        int rc = snappy_block(src + pos, blen, s, block);
        if (rc < 0)
            return rc;
        pos += blen;
    }
    return 0;
}

static int snappy_compress_to(const uint8_t *src, size_t len, core_buf_t *out, size_t *n)
{
    size_t bound = snappy_max_compressed_length(len);
    *n = bound;
    int rc = reserve_out(out, bound, "snappy");
    if (rc < 0)
        return rc;
    if (snappy_compress((const char *)src, len, (char *)out->data + out->len, n) != SNAPPY_OK)
        return core_error(CORE_EFAILED, "snappy: compression failed");
    return 0;
}

/* ------------------------------------------------------------------------
 * lz4: the frame format (LZ4F).
 * ------------------------------------------------------------------------ */
static int lz4_decompress(const uint8_t *src, size_t len, sink_t *s)
{
    LZ4F_dctx *dctx = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return core_error(CORE_ENOMEM, "lz4: cannot create a decompression context");
    size_t pos = 0;
    int rc = 0;
    for (;;) {
        uint8_t *dst = NULL;
        size_t avail = 0;
        rc = sink_room(s, &dst, &avail);
        if (rc < 0)
            break;
        size_t dst_n = avail;
        size_t src_n = len - pos;
        size_t r = LZ4F_decompress(dctx, dst, &dst_n, src + pos, &src_n, NULL);
        if (LZ4F_isError(r)) {
            rc = core_error(CORE_ECORRUPT, "lz4: %s at input byte %zu", LZ4F_getErrorName(r), pos);
            break;
        }
        pos += src_n;
        rc = sink_commit(s, dst, dst_n);
        if (rc < 0)
            break;
        if (r == 0 && pos == len)
            break; /* the last frame is complete and flushed */
        /* r == 0 with input left: another frame follows. Otherwise LZ4F
         * flushes all it can, so no progress means it is waiting for input. */
        if (r != 0 && src_n == 0 && dst_n == 0) {
            rc = truncated(s);
            break;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    return rc;
}

static int lz4_compress(const uint8_t *src, size_t len, core_buf_t *out, size_t *n)
{
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    /* Kafka's Java client decodes each block on its own. */
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    int rc = reserve_out(out, bound, "lz4");
    if (rc < 0)
        return rc;
    size_t r = LZ4F_compressFrame(out->data + out->len, bound, src, len, &prefs);
    if (LZ4F_isError(r))
        return core_error(CORE_EFAILED, "lz4: %s", LZ4F_getErrorName(r));
    *n = r;
    return 0;
}

/* ------------------------------------------------------------------------
 * zstd
 * ------------------------------------------------------------------------ */

/* The largest window a frame may ask for: what the cap could need (no
 * window beyond the output is useful), but never below any compression
 * level's default window, so valid frames from any producer decode. */
static int zstd_window_log(size_t limit)
{
    int log = ZSTD_WINDOW_LOG_MIN;
    while (log < ZSTD_WINDOW_LOG_MAX && ((size_t)1 << log) < limit)
        log++;
    return log;
}

static int zstd_error(const sink_t *s, size_t r, size_t pos)
{
    switch (ZSTD_getErrorCode(r)) {
    case ZSTD_error_frameParameter_windowTooLarge:
        return core_error(
            CORE_ETOOBIG,
            "zstd: frame window exceeds the 2^%d bytes allowed for a cap of %zu bytes",
            zstd_window_log(s->limit), s->limit);
    case ZSTD_error_memory_allocation:
        return core_error(CORE_ENOMEM, "zstd: out of memory");
    default:
        return core_error(CORE_ECORRUPT, "zstd: %s at input byte %zu", ZSTD_getErrorName(r), pos);
    }
}

static int zstd_decompress(const uint8_t *src, size_t len, sink_t *s)
{
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!dctx)
        return core_error(CORE_ENOMEM, "zstd: cannot create a decompression context");
    int rc = 0;
    size_t r = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, zstd_window_log(s->limit));
    if (ZSTD_isError(r))
        rc = core_error(CORE_EFAILED, "zstd: %s", ZSTD_getErrorName(r));
    ZSTD_inBuffer in = {src, len, 0};
    while (rc == 0) {
        uint8_t *dst = NULL;
        size_t avail = 0;
        rc = sink_room(s, &dst, &avail);
        if (rc < 0)
            break;
        ZSTD_outBuffer ob = {dst, avail, 0};
        size_t in_before = in.pos;
        r = ZSTD_decompressStream(dctx, &ob, &in);
        if (ZSTD_isError(r)) {
            rc = zstd_error(s, r, in.pos);
            break;
        }
        rc = sink_commit(s, dst, ob.pos);
        if (rc < 0 || (r == 0 && in.pos == in.size))
            break; /* error, or the last frame is complete and flushed */
        /* zstd returns only when it needs more input or more room, so a
         * call that neither consumed nor produced is waiting for input. */
        if (in.pos == in_before && ob.pos == 0)
            rc = in.pos == in.size
                     ? truncated(s)
                     : core_error(CORE_ECORRUPT, "zstd: no progress at input byte %zu", in.pos);
    }
    ZSTD_freeDCtx(dctx);
    return rc;
}

static int zstd_compress(const uint8_t *src, size_t len, core_buf_t *out, size_t *n)
{
    size_t bound = ZSTD_compressBound(len);
    int rc = reserve_out(out, bound, "zstd");
    if (rc < 0)
        return rc;
    size_t r = ZSTD_compress(out->data + out->len, bound, src, len, RECORD_ZSTD_LEVEL);
    if (ZSTD_isError(r))
        return core_error(CORE_EFAILED, "zstd: %s", ZSTD_getErrorName(r));
    *n = r;
    return 0;
}

/* ------------------------------------------------------------------------
 * Public entry points
 * ------------------------------------------------------------------------ */
/* Stands in for a NULL source of length 0, so no library sees NULL + 0. */
static const uint8_t no_bytes[1] = {0};

int record_codec_compress(record_codec_t codec, const uint8_t *src, size_t len, core_buf_t *out)
{
    const char *name = codec_name((int)codec);
    if (len > MAX_IO)
        return core_error(CORE_EINVAL, "%s: %zu bytes to compress exceeds the limit of %zu", name,
                          len, MAX_IO);
    if (!src)
        src = no_bytes;
    size_t n = 0;
    int rc;
    switch (codec) {
    case RECORD_CODEC_NONE:
        n = len;
        rc = reserve_out(out, len, name);
        if (rc == 0 && len > 0)
            memcpy(out->data + out->len, src, len);
        break;
    case RECORD_CODEC_GZIP:
        rc = gzip_compress(src, len, out, &n);
        break;
    case RECORD_CODEC_SNAPPY:
        rc = snappy_compress_to(src, len, out, &n);
        break;
    case RECORD_CODEC_LZ4:
        rc = lz4_compress(src, len, out, &n);
        break;
    case RECORD_CODEC_ZSTD:
        rc = zstd_compress(src, len, out, &n);
        break;
    default:
        return core_error(CORE_EINVAL, "record codec %d is unknown (0..4)", (int)codec);
    }
    if (rc < 0)
        return rc;
    out->len += n;
    return 0;
}

int record_codec_decompress(record_codec_t codec, const uint8_t *src, size_t len, size_t max_out,
                            core_buf_t *out)
{
    const char *name = codec_name((int)codec);
    if ((unsigned)codec > RECORD_CODEC_ZSTD)
        return core_error(CORE_EINVAL, "record codec %d is unknown (0..4)", (int)codec);
    if (len > MAX_IO)
        return core_error(CORE_EINVAL, "%s: %zu compressed bytes exceeds the limit of %zu", name,
                          len, MAX_IO);
    if (!src)
        src = no_bytes;
    sink_t s;
    sink_init(&s, out, max_out, len, name);
    int rc = 0;
    switch (codec) {
    case RECORD_CODEC_NONE:
        if (len > s.limit)
            rc = sink_too_big(&s);
        else
            rc = reserve_out(out, len, name);
        if (rc == 0 && len > 0) {
            memcpy(out->data + out->len, src, len);
            out->len += len;
        }
        break;
    case RECORD_CODEC_GZIP:
        rc = gzip_decompress(src, len, &s);
        break;
    case RECORD_CODEC_SNAPPY:
        rc = len == 0 ? truncated(&s) : snappy_decompress(src, len, &s);
        break;
    case RECORD_CODEC_LZ4:
        rc = lz4_decompress(src, len, &s);
        break;
    case RECORD_CODEC_ZSTD:
        rc = zstd_decompress(src, len, &s);
        break;
    }
    if (rc < 0)
        out->len = s.start;
    return rc;
}

/* Re-issues the thread's detail (which names the codec) prefixed with the
 * batch's base offset. */
static int batch_error(int rc, int64_t base_offset)
{
    char detail[CORE_ERROR_DETAIL_MAX];
    snprintf(detail, sizeof(detail), "%s", core_error_detail());
    return core_error(rc, "record batch at offset %lld: %s", (long long)base_offset, detail);
}

int record_batch_decompress(const uint8_t *batch, size_t len, size_t max_out, core_buf_t *out)
{
    record_batch_header_t h;
    int rc = record_batch_parse(batch, len, true, &h);
    if (rc < 0)
        return rc;
    int codec = h.attributes & RECORD_ATTR_CODEC_MASK;
    size_t total = record_batch_size(&h);
    size_t payload = total - RECORD_BATCH_HEADER_SIZE;
    size_t start = out->len;
    if (codec == RECORD_CODEC_NONE) {
        if (payload > max_out)
            rc = core_error(CORE_ETOOBIG, "none: %zu record bytes exceed the cap of %zu bytes",
                            payload, max_out);
        else
            rc = reserve_out(out, total, "none");
        if (rc < 0)
            return batch_error(rc, h.base_offset);
        memcpy(out->data + out->len, batch, total);
        out->len += total;
        return 0;
    }
    rc = reserve_out(out, RECORD_BATCH_HEADER_SIZE, codec_name(codec));
    if (rc == 0) {
        memcpy(out->data + out->len, batch, RECORD_BATCH_HEADER_SIZE);
        out->len += RECORD_BATCH_HEADER_SIZE;
        /* The result's Length must still fit its int32. */
        size_t cap = CORE_MIN(max_out, (size_t)INT32_MAX - HEADER_AFTER_LENGTH);
        rc = record_codec_decompress((record_codec_t)codec, batch + RECORD_BATCH_HEADER_SIZE,
                                     payload, cap, out);
    }
    if (rc < 0) {
        out->len = start;
        return batch_error(rc, h.base_offset);
    }
    uint8_t *p = out->data + start;
    size_t new_total = out->len - start;
    core_store_be32(p + RECORD_OFF_LENGTH, (uint32_t)(new_total - RECORD_BATCH_LOG_OVERHEAD));
    core_store_be16(p + RECORD_OFF_ATTRIBUTES,
                    (uint16_t)((uint16_t)h.attributes & ~(uint16_t)RECORD_ATTR_CODEC_MASK));
    uint32_t crc = core_crc32c(0, p + RECORD_OFF_ATTRIBUTES, new_total - RECORD_OFF_ATTRIBUTES);
    core_store_be32(p + RECORD_OFF_CRC, crc);
    return 0;
}

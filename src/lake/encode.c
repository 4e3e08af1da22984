/*
 * encode.c - Parquet's RLE/bit-packed hybrid encoding (definition levels
 * and dictionary indices) and the string dictionary of a column chunk.
 *
 * The hybrid encoder looks at the values once, left to right:
 *   - at a position where 8 or more equal values start, it writes one RLE
 *     run (header varint(len << 1), then the value in ceil(width / 8)
 *     little-endian bytes);
 *   - otherwise it writes a bit-packed run (header varint(groups << 1 | 1))
 *     of whole groups of 8 values, packed from the least significant bit of
 *     each byte, extending it group by group until a group boundary starts
 *     a run of 8 or more equal values. Only the final group of the input may
 *     be short; it is padded with zeros, which readers ignore because they
 *     know the value count.
 * Every run holds at most 2^31 - 1 values, as the spec requires.
 *
 * The dictionary keeps distinct values in first-seen order, already PLAIN-
 * encoded, so its bytes are the dictionary page. Lookups use an open-
 * addressing table (linear probing) of entry indices, at most half full;
 * each entry's 64-bit hash is kept so growing never rereads the values.
 * The number dictionary (8-byte values) uses the same table, hashing the
 * value itself with one multiplication.
 *
 * Threading: none; callers own their buffers and dictionaries.
 */
#include "lake/lake_int.h"

#include <string.h>

#define MAX_RUN       ((size_t)INT32_MAX)
#define MAX_GROUPS    (MAX_RUN / 8)
#define DICT_SEED     0x6c616b6564696374ull /* any fixed seed */
#define DICT_MIN_SLOT 64

unsigned lake_bit_width(uint32_t max)
{
    return max == 0 ? 0 : 32 - (unsigned)__builtin_clz(max);
}

static inline uint32_t value_at(const void *vals, size_t elem_size, size_t i)
{
    if (elem_size == 1)
        return ((const uint8_t *)vals)[i];
    return ((const uint32_t *)vals)[i];
}

/* Length of the run of equal values starting at i, counting at most cap. */
static size_t run_length(const void *vals, size_t es, size_t n, size_t i, size_t cap)
{
    uint32_t v = value_at(vals, es, i);
    size_t j = i + 1;
    while (j < n && j - i < cap && value_at(vals, es, j) == v)
        j++;
    return j - i;
}

static int put_uvarint(core_buf_t *out, uint64_t v)
{
    uint8_t b[CORE_VARINT_MAX];
    return core_buf_append(out, b, core_uvarint_put(b, v));
}

static int rle_run(core_buf_t *out, uint32_t v, size_t len, unsigned width)
{
    uint8_t b[4];
    unsigned nbytes = (width + 7) / 8;
    int rc = put_uvarint(out, (uint64_t)len << 1);
    for (unsigned k = 0; k < nbytes; k++)
        b[k] = (uint8_t)(v >> (8 * k));
    return rc != 0 ? rc : core_buf_append(out, b, nbytes);
}

/* Bit-packs groups * 8 values from start (zeros past n). */
static int packed_run(core_buf_t *out, const void *vals, size_t es, size_t n, size_t start,
                      size_t groups, unsigned width)
{
    int rc = put_uvarint(out, (uint64_t)groups << 1 | 1);
    size_t bytes = groups * width; /* 8 values of `width` bits per group */
    if (rc == 0)
        rc = core_buf_reserve(out, bytes);
    if (rc != 0)
        return rc;
    uint8_t *dst = out->data + out->len;
    uint64_t acc = 0;
    unsigned nbits = 0;
    for (size_t i = start; i < start + groups * 8; i++) {
        uint64_t v = i < n ? value_at(vals, es, i) : 0;
        acc |= v << nbits;
        nbits += width;
        while (nbits >= 8) {
            *dst++ = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    out->len += bytes;
    return 0;
}

int lake_rle_encode(core_buf_t *out, const void *vals, size_t elem_size, size_t n,
                    unsigned bit_width)
{
    if (bit_width < 1 || bit_width > 32 || (elem_size != 1 && elem_size != 4))
        return core_error(CORE_EINVAL, "lake: bad RLE bit width %u", bit_width);
    size_t before = out->len;
    size_t i = 0;
    int rc = 0;
    while (i < n && rc == 0) {
        size_t run = run_length(vals, elem_size, n, i, MAX_RUN);
        if (run >= 8) {
            rc = rle_run(out, value_at(vals, elem_size, i), run, bit_width);
            i += run;
            continue;
        }
        size_t start = i, groups = 0;
        do {
            groups++;
            i += 8;
        } while (i < n && groups < MAX_GROUPS && run_length(vals, elem_size, n, i, 8) < 8);
        rc = packed_run(out, vals, elem_size, n, start, groups, bit_width);
    }
    if (rc != 0)
        out->len = before;
    return rc;
}

/* ------------------------------------------------------------------------
 * Dictionary
 * ------------------------------------------------------------------------ */

void lake_dict_init(lake_dict_t *d, size_t max_bytes)
{
    memset(d, 0, sizeof *d);
    core_buf_init(&d->plain, CORE_MEM_LAKE, max_bytes);
}

void lake_dict_fini(lake_dict_t *d)
{
    core_buf_fini(&d->plain);
    core_free(d->offsets);
    core_free(d->hashes);
    core_free(d->slots);
    memset(d, 0, sizeof *d);
}

void lake_dict_reset(lake_dict_t *d)
{
    core_buf_reset(&d->plain);
    if (d->slots != NULL)
        memset(d->slots, 0, d->nslots * sizeof *d->slots);
    d->count = 0;
}

/* Doubles the slot table (or creates it) and reinserts every entry. */
static int grow_slots(lake_dict_t *d)
{
    size_t nslots = d->nslots == 0 ? DICT_MIN_SLOT : d->nslots * 2;
    uint32_t *slots = core_calloc(CORE_MEM_LAKE, nslots, sizeof *slots);
    if (slots == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a dictionary");
    for (uint32_t e = 0; e < d->count; e++) {
        size_t s = (size_t)d->hashes[e] & (nslots - 1);
        while (slots[s] != 0)
            s = (s + 1) & (nslots - 1);
        slots[s] = e + 1;
    }
    core_free(d->slots);
    d->slots = slots;
    d->nslots = nslots;
    return 0;
}

static int grow_entries(lake_dict_t *d)
{
    uint32_t room = d->room == 0 ? DICT_MIN_SLOT : d->room * 2;
    uint32_t *offsets = core_realloc(CORE_MEM_LAKE, d->offsets, (size_t)room * sizeof *offsets);
    if (offsets == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a dictionary");
    d->offsets = offsets;
    uint64_t *hashes = core_realloc(CORE_MEM_LAKE, d->hashes, (size_t)room * sizeof *hashes);
    if (hashes == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a dictionary");
    d->hashes = hashes;
    d->room = room;
    return 0;
}

static bool entry_equals(const lake_dict_t *d, uint32_t e, uint64_t h, const void *p, size_t n)
{
    if (d->hashes[e] != h)
        return false;
    const uint8_t *q = d->plain.data + d->offsets[e];
    uint32_t len =
        (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    return len == n && (n == 0 || memcmp(q + 4, p, n) == 0);
}

/* Appends the value as a new entry whose slot is s. */
static int add_entry(lake_dict_t *d, size_t s, uint64_t h, const void *p, size_t n)
{
    if (d->count == d->room) {
        int rc = grow_entries(d);
        if (rc != 0)
            return rc;
    }
    uint8_t len[4];
    lake_store_le32(len, (uint32_t)n);
    size_t off = d->plain.len;
    int rc = core_buf_reserve(&d->plain, 4 + n);
    if (rc != 0)
        return rc;
    core_buf_append(&d->plain, len, 4);
    if (n > 0)
        core_buf_append(&d->plain, p, n);
    d->offsets[d->count] = (uint32_t)off;
    d->hashes[d->count] = h;
    d->slots[s] = d->count + 1;
    d->count++;
    return 0;
}

int lake_dict_put(lake_dict_t *d, const void *p, size_t n, uint32_t *idx, bool *added)
{
    uint64_t h = core_hash64(p, n, DICT_SEED);
    *added = false;
    if (d->nslots == 0) {
        int rc = grow_slots(d);
        if (rc != 0)
            return rc;
    }
    size_t s = (size_t)h & (d->nslots - 1);
    while (d->slots[s] != 0) {
        uint32_t e = d->slots[s] - 1;
        if (entry_equals(d, e, h, p, n)) {
            *idx = e;
            return 0;
        }
        s = (s + 1) & (d->nslots - 1);
    }
    if (n > d->plain.max || 4 > d->plain.max - n || d->plain.len > d->plain.max - 4 - n)
        return LAKE_DICT_FULL;
    if ((size_t)d->count + 1 > d->nslots / 2) {
        int rc = grow_slots(d);
        if (rc != 0)
            return rc;
        s = (size_t)h & (d->nslots - 1);
        while (d->slots[s] != 0)
            s = (s + 1) & (d->nslots - 1);
    }
    int rc = add_entry(d, s, h, p, n);
    if (rc != 0)
        return rc;
    *idx = d->count - 1;
    *added = true;
    return 0;
}

/* ------------------------------------------------------------------------
 * Number dictionary
 * ------------------------------------------------------------------------ */

static inline size_t num_slot(uint64_t v, size_t nslots)
{
    /* a 64-bit finalizer (xor-shift-multiply): every input bit moves the
     * low bits, which doubles' and timestamps' patterns would not */
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdull;
    v ^= v >> 33;
    v *= 0xc4ceb9fe1a85ec53ull;
    v ^= v >> 33;
    return (size_t)v & (nslots - 1);
}

void lake_numdict_init(lake_numdict_t *d, uint32_t max_entries)
{
    memset(d, 0, sizeof *d);
    d->max = max_entries;
}

void lake_numdict_fini(lake_numdict_t *d)
{
    core_free(d->keys);
    core_free(d->slots);
    memset(d, 0, sizeof *d);
}

void lake_numdict_reset(lake_numdict_t *d, uint32_t max_entries)
{
    if (d->slots != NULL && d->count > 0)
        memset(d->slots, 0, d->nslots * sizeof *d->slots);
    d->count = 0;
    d->max = max_entries;
}

static int num_grow_slots(lake_numdict_t *d)
{
    size_t nslots = d->nslots == 0 ? DICT_MIN_SLOT : d->nslots * 2;
    uint32_t *slots = core_calloc(CORE_MEM_LAKE, nslots, sizeof *slots);
    if (slots == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a dictionary");
    for (uint32_t e = 0; e < d->count; e++) {
        size_t s = num_slot(d->keys[e], nslots);
        while (slots[s] != 0)
            s = (s + 1) & (nslots - 1);
        slots[s] = e + 1;
    }
    core_free(d->slots);
    d->slots = slots;
    d->nslots = nslots;
    return 0;
}

static int num_add(lake_numdict_t *d, uint64_t v, uint32_t *idx)
{
    if (d->count == d->room) {
        uint32_t room = d->room == 0 ? DICT_MIN_SLOT : d->room * 2;
        uint64_t *keys = core_realloc(CORE_MEM_LAKE, d->keys, (size_t)room * sizeof *keys);
        if (keys == NULL)
            return core_error(CORE_ENOMEM, "lake: out of memory for a dictionary");
        d->keys = keys;
        d->room = room;
    }
    if ((size_t)d->count + 1 > d->nslots / 2) {
        int rc = num_grow_slots(d);
        if (rc != 0)
            return rc;
    }
    size_t s = num_slot(v, d->nslots);
    while (d->slots[s] != 0)
        s = (s + 1) & (d->nslots - 1);
    d->keys[d->count] = v;
    d->slots[s] = d->count + 1;
    *idx = d->count++;
    return 0;
}

int lake_numdict_put(lake_numdict_t *d, uint64_t v, uint32_t *idx)
{
    if (d->nslots > 0) {
        size_t s = num_slot(v, d->nslots);
        uint32_t e;
        while ((e = d->slots[s]) != 0) {
            if (d->keys[e - 1] == v) {
                *idx = e - 1;
                return 0;
            }
            s = (s + 1) & (d->nslots - 1);
        }
    }
    if (d->count >= d->max)
        return LAKE_DICT_FULL;
    return num_add(d, v, idx);
}

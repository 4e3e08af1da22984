/*
 * map.c - open-addressing hash map from byte-string keys to borrowed
 * pointers, plus core_hash64.
 *
 * Design: a power-of-two slot array probed linearly from hash & mask. Each
 * slot caches the key's full hash so probes compare lengths and bytes only on
 * a hash match. Deletion shifts later members of the cluster back into the
 * hole (no tombstones), so lookups stay short after heavy churn.
 *
 * Invariants:
 *   1. A slot is empty iff its key is NULL; keys are map-owned copies (a
 *      zero-length key still gets a 1-byte block so it is non-NULL).
 *   2. Every stored key is reachable from its home slot by a run of occupied
 *      slots (the linear-probing invariant), which deletion preserves.
 *   3. count * 8 <= cap * 7 after every insert (grows at 7/8 load).
 *
 * Threading: not thread-safe; a map belongs to one thread at a time.
 */
#include "core/core.h"

#include <string.h>

#define MAP_MIN_CAP 8

typedef struct {
    uint64_t hash;
    void *key; /* owned; NULL = empty slot */
    size_t klen;
    void *value; /* borrowed */
} map_slot_t;

struct core_map {
    core_mem_tag_t tag;
    map_slot_t *slots;
    size_t cap; /* power of two */
    size_t count;
    uint64_t seed;
};

/* ---- core_hash64: 8 bytes per step, multiply/rotate mixing, final
 * avalanche. Constants are arbitrary odd 64-bit values. ---- */
#define H_M1 0x9E3779B97F4A7C15ull
#define H_M2 0xBF58476D1CE4E5B9ull
#define H_M3 0x94D049BB133111EBull
#define H_M4 0xD1B54A32D192ED03ull

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t mix_word(uint64_t h, uint64_t w)
{
    w *= H_M2;
    w = rotl64(w, 29);
    w *= H_M1;
    h ^= w;
    return rotl64(h, 31) * H_M4 + H_M3;
}

uint64_t core_hash64(const void *p, size_t n, uint64_t seed)
{
    const uint8_t *s = p;
    uint64_t h = seed ^ ((uint64_t)n * H_M1) ^ H_M3;
    size_t left = n;
    while (left >= 8) {
        h = mix_word(h, load_le64(s));
        s += 8;
        left -= 8;
    }
    if (left > 0) {
        uint64_t w = 0;
        for (size_t i = 0; i < left; i++)
            w |= (uint64_t)s[i] << (8 * i);
        h = mix_word(h, w ^ ((uint64_t)left << 56));
    }
    h ^= h >> 32;
    h *= H_M2;
    h ^= h >> 29;
    h *= H_M4;
    h ^= h >> 32;
    return h;
}

/* ---- the map ---- */

static size_t cap_for(size_t entries)
{
    size_t cap = MAP_MIN_CAP;
    while (cap < SIZE_MAX / 16 && entries * 8 > cap * 7)
        cap *= 2;
    return cap;
}

core_map_t *core_map_create(core_mem_tag_t tag, size_t initial_capacity)
{
    core_map_t *m = core_calloc(tag, 1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->tag = tag;
    m->cap = cap_for(initial_capacity);
    m->seed = 0x2545F4914F6CDD1Dull;
    m->slots = core_calloc(tag, m->cap, sizeof(map_slot_t));
    if (m->slots == NULL) {
        core_free(m);
        return NULL;
    }
    return m;
}

void core_map_destroy(core_map_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->cap; i++)
        core_free(m->slots[i].key);
    core_free(m->slots);
    core_free(m);
}

/* Index of the slot holding key, or of the empty slot where it would go. */
static size_t find_slot(const core_map_t *m, uint64_t hash, const void *key, size_t klen)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash & mask;
    for (;;) {
        const map_slot_t *s = &m->slots[i];
        if (s->key == NULL)
            return i;
        if (s->hash == hash && s->klen == klen && (klen == 0 || memcmp(s->key, key, klen) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

static int map_grow(core_map_t *m)
{
    if (m->cap > SIZE_MAX / 2 / sizeof(map_slot_t))
        return CORE_ENOMEM;
    size_t ncap = m->cap * 2;
    map_slot_t *ns = core_calloc(m->tag, ncap, sizeof(map_slot_t));
    if (ns == NULL)
        return CORE_ENOMEM;
    size_t mask = ncap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        map_slot_t *s = &m->slots[i];
        if (s->key == NULL)
            continue;
        size_t j = (size_t)s->hash & mask;
        while (ns[j].key != NULL)
            j = (j + 1) & mask;
        ns[j] = *s;
    }
    core_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return CORE_OK;
}

int core_map_put(core_map_t *m, const void *key, size_t klen, void *value, void **old)
{
    uint64_t hash = core_hash64(key, klen, m->seed);
    size_t i = find_slot(m, hash, key, klen);
    map_slot_t *s = &m->slots[i];
    if (s->key != NULL) {
        if (old != NULL)
            *old = s->value;
        s->value = value;
        return CORE_OK;
    }
    if ((m->count + 1) * 8 > m->cap * 7) {
        int rc = map_grow(m);
        if (rc != CORE_OK)
            return rc;
        i = find_slot(m, hash, key, klen);
        s = &m->slots[i];
    }
    void *copy = core_alloc(m->tag, klen ? klen : 1);
    if (copy == NULL)
        return CORE_ENOMEM;
    if (klen > 0)
        memcpy(copy, key, klen);
    s->hash = hash;
    s->key = copy;
    s->klen = klen;
    s->value = value;
    m->count++;
    if (old != NULL)
        *old = NULL;
    return CORE_OK;
}

bool core_map_get(const core_map_t *m, const void *key, size_t klen, void **value)
{
    uint64_t hash = core_hash64(key, klen, m->seed);
    const map_slot_t *s = &m->slots[find_slot(m, hash, key, klen)];
    if (s->key == NULL)
        return false;
    if (value != NULL)
        *value = s->value;
    return true;
}

/* Closes the hole at `hole` by moving back every later cluster member whose
 * home is at or before the hole (Knuth's algorithm R). */
static void backward_shift(core_map_t *m, size_t hole)
{
    size_t mask = m->cap - 1;
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        map_slot_t *s = &m->slots[j];
        if (s->key == NULL)
            break;
        size_t home = (size_t)s->hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            m->slots[hole] = *s;
            hole = j;
        }
    }
    m->slots[hole] = (map_slot_t){0};
}

bool core_map_del(core_map_t *m, const void *key, size_t klen, void **value)
{
    uint64_t hash = core_hash64(key, klen, m->seed);
    size_t i = find_slot(m, hash, key, klen);
    map_slot_t *s = &m->slots[i];
    if (s->key == NULL)
        return false;
    if (value != NULL)
        *value = s->value;
    core_free(s->key);
    backward_shift(m, i);
    m->count--;
    return true;
}

size_t core_map_count(const core_map_t *m)
{
    return m->count;
}

bool core_map_next(const core_map_t *m, size_t *cursor, const void **key, size_t *klen,
                   void **value)
{
    for (size_t i = *cursor; i < m->cap; i++) {
        const map_slot_t *s = &m->slots[i];
        if (s->key == NULL)
            continue;
        if (key != NULL)
            *key = s->key;
        if (klen != NULL)
            *klen = s->klen;
        if (value != NULL)
            *value = s->value;
        *cursor = i + 1;
        return true;
    }
    *cursor = m->cap;
    return false;
}

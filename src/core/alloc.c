/*
 * alloc.c - the accounted allocator: every block names the subsystem that
 * owns it, and live bytes/blocks are counted per subsystem.
 *
 * Layout of a block: a 16-byte header (requested size, tag, magic) followed
 * by the caller's bytes. The header keeps the caller's pointer aligned to 16
 * and lets core_free() find size and tag without being told.
 *
 * Invariants:
 *   1. For each tag, stats.bytes is the sum of the requested sizes of its
 *      live blocks and stats.allocs their count.
 *   2. A live block's header has HDR_MAGIC; a freed one has it cleared, so a
 *      double free trips the assertion in debug builds.
 *   3. Fault injection counts every attempt (alloc, calloc, realloc, strdup)
 *      and a failed attempt changes no counter.
 *
 * Threading: all counters and fault-injection state are atomics with relaxed
 * ordering (they are statistics, not synchronisation); every function is
 * thread-safe.
 */
#include "core/core.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HDR_MAGIC 0x5354524Du /* "STRM" */

typedef struct {
    size_t size;
    uint32_t tag;
    uint32_t magic;
} block_hdr_t;

_Static_assert(sizeof(block_hdr_t) == 16, "block header must be 16 bytes");

static atomic_llong mem_bytes[CORE_MEM__COUNT];
static atomic_llong mem_allocs[CORE_MEM__COUNT];
static atomic_llong mem_total[CORE_MEM__COUNT];

static atomic_long fail_countdown; /* 0 = off; else attempts until failure */
static atomic_bool fail_persist;
static atomic_bool fail_forever; /* set once a persistent failure fired */

static const char *const tag_names[CORE_MEM__COUNT] = {
    [CORE_MEM_CORE] = "core",   [CORE_MEM_RECORD] = "record", [CORE_MEM_SEGLOG] = "seglog",
    [CORE_MEM_KAFKA] = "kafka", [CORE_MEM_SCHEMA] = "schema", [CORE_MEM_STORE] = "store",
    [CORE_MEM_BUS] = "bus",     [CORE_MEM_STREAM] = "stream", [CORE_MEM_LAKE] = "lake",
    [CORE_MEM_BATCH] = "batch", [CORE_MEM_GEN] = "gen",       [CORE_MEM_HTTP] = "http",
    [CORE_MEM_APP] = "app",     [CORE_MEM_TEST] = "test",
};

/* True when fault injection says this attempt must fail. */
static bool injected_failure(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (n > 0) {
        if (atomic_compare_exchange_weak_explicit(&fail_countdown, &n, n - 1, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            if (n != 1)
                return false;
            if (atomic_load_explicit(&fail_persist, memory_order_relaxed))
                atomic_store_explicit(&fail_forever, true, memory_order_relaxed);
            return true;
        }
    }
    return atomic_load_explicit(&fail_forever, memory_order_relaxed);
}

void core_mem_fail_at(long n, bool persist)
{
    atomic_store_explicit(&fail_forever, false, memory_order_relaxed);
    atomic_store_explicit(&fail_persist, persist, memory_order_relaxed);
    atomic_store_explicit(&fail_countdown, n > 0 ? n : 0, memory_order_relaxed);
}

static void account(unsigned tag, long long bytes, long long blocks)
{
    atomic_fetch_add_explicit(&mem_bytes[tag], bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&mem_allocs[tag], blocks, memory_order_relaxed);
    if (blocks > 0)
        atomic_fetch_add_explicit(&mem_total[tag], blocks, memory_order_relaxed);
}

static void *alloc_block(core_mem_tag_t tag, size_t n, bool zero)
{
    if ((unsigned)tag >= CORE_MEM__COUNT || n > SIZE_MAX - sizeof(block_hdr_t))
        return NULL;
    if (injected_failure())
        return NULL;
    block_hdr_t *h = zero ? calloc(1, sizeof(*h) + n) : malloc(sizeof(*h) + n);
    if (h == NULL)
        return NULL;
    h->size = n;
    h->tag = (uint32_t)tag;
    h->magic = HDR_MAGIC;
    account(tag, (long long)n, 1);
    return h + 1;
}

void *core_alloc(core_mem_tag_t tag, size_t n)
{
    return alloc_block(tag, n, false);
}

void *core_calloc(core_mem_tag_t tag, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    return alloc_block(tag, count * size, true);
}

void *core_realloc(core_mem_tag_t tag, void *p, size_t n)
{
    if (p == NULL)
        return core_alloc(tag, n);
    if (n > SIZE_MAX - sizeof(block_hdr_t))
        return NULL;
    block_hdr_t *h = (block_hdr_t *)p - 1;
    assert(h->magic == HDR_MAGIC);
    if (injected_failure())
        return NULL;
    size_t old = h->size;
    block_hdr_t *nh = realloc(h, sizeof(*nh) + n);
    if (nh == NULL)
        return NULL;
    nh->size = n;
    account(nh->tag, (long long)n - (long long)old, 0);
    return nh + 1;
}

int core_grow(core_mem_tag_t tag, void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap == 0 ? 16 : *cap;
    while (n < need && n <= SIZE_MAX / 2)
        n *= 2;
    if (n < need || size == 0 || n > SIZE_MAX / size)
        return core_error(CORE_ENOMEM, "out of memory: an array of %zu entries of %zu bytes", need,
                          size);
    void *p = core_realloc(tag, *arr, n * size);
    if (p == NULL)
        return core_error(CORE_ENOMEM, "out of memory: an array of %zu entries of %zu bytes", n,
                          size);
    *arr = p;
    *cap = n;
    return 0;
}

void core_free(void *p)
{
    if (p == NULL)
        return;
    block_hdr_t *h = (block_hdr_t *)p - 1;
    assert(h->magic == HDR_MAGIC);
    h->magic = 0;
    account(h->tag, -(long long)h->size, -1);
    free(h);
}

char *core_strndup(core_mem_tag_t tag, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = core_alloc(tag, len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *core_strdup(core_mem_tag_t tag, const char *s)
{
    return core_strndup(tag, s, SIZE_MAX);
}

void core_mem_stats(core_mem_tag_t tag, core_mem_stats_t *out)
{
    if ((unsigned)tag >= CORE_MEM__COUNT) {
        *out = (core_mem_stats_t){0};
        return;
    }
    out->bytes = atomic_load_explicit(&mem_bytes[tag], memory_order_relaxed);
    out->allocs = atomic_load_explicit(&mem_allocs[tag], memory_order_relaxed);
    out->total_allocs = atomic_load_explicit(&mem_total[tag], memory_order_relaxed);
}

const char *core_mem_tag_name(core_mem_tag_t tag)
{
    if ((unsigned)tag >= CORE_MEM__COUNT)
        return "unknown";
    return tag_names[tag];
}

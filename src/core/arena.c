/*
 * arena.c - chunked bump allocation for request- and batch-scoped memory.
 *
 * Memory comes from chunks of `chunk_size` bytes taken from the accounted
 * allocator; a request larger than a chunk gets a chunk of its own on a
 * separate list, so the current chunk keeps serving small requests.
 *
 * Invariants:
 *   1. Every pointer returned is 16-byte aligned: chunk data starts 16-byte
 *      aligned and every request is rounded up to a multiple of 16.
 *   2. chunk_bytes (sum of all chunk data sizes) <= max_bytes.
 *   3. `first`, the chunk made at create, is the tail of the normal list and
 *      survives reset; all other chunks are freed by reset.
 *
 * Threading: an arena belongs to one thread at a time; no locks.
 */
#include "core/core.h"

#include <string.h>

#define ARENA_ALIGN 16

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* data bytes */
    size_t used; /* data bytes handed out */
    size_t pad;  /* keeps the data that follows 16-byte aligned */
} arena_chunk_t;

_Static_assert(sizeof(arena_chunk_t) % ARENA_ALIGN == 0, "chunk header breaks alignment");

struct core_arena {
    core_mem_tag_t tag;
    size_t chunk_size;
    size_t max_bytes;
    size_t chunk_bytes;   /* data bytes in all chunks, big ones included */
    size_t used;          /* bytes requested by callers since the last reset */
    arena_chunk_t *cur;   /* newest normal chunk; allocations bump here */
    arena_chunk_t *first; /* oldest normal chunk, kept across reset */
    arena_chunk_t *big;   /* chunks made for oversize requests */
};

static arena_chunk_t *chunk_new(core_arena_t *a, size_t size)
{
    if (size > a->max_bytes - a->chunk_bytes)
        return NULL;
    arena_chunk_t *c = core_alloc(a->tag, sizeof(*c) + size);
    if (c == NULL)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    a->chunk_bytes += size;
    return c;
}

static void chunk_list_free(arena_chunk_t *c, const arena_chunk_t *stop)
{
    while (c != NULL && c != stop) {
        arena_chunk_t *next = c->next;
        core_free(c);
        c = next;
    }
}

core_arena_t *core_arena_create(core_mem_tag_t tag, size_t chunk_size, size_t max_bytes)
{
    if (chunk_size == 0 || chunk_size > max_bytes)
        return NULL;
    chunk_size = (chunk_size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    core_arena_t *a = core_calloc(tag, 1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->tag = tag;
    a->chunk_size = chunk_size;
    a->max_bytes = max_bytes;
    a->first = a->cur = chunk_new(a, chunk_size);
    if (a->first == NULL) {
        core_free(a);
        return NULL;
    }
    return a;
}

void core_arena_destroy(core_arena_t *a)
{
    if (a == NULL)
        return;
    chunk_list_free(a->cur, NULL);
    chunk_list_free(a->big, NULL);
    core_free(a);
}

void *core_arena_alloc(core_arena_t *a, size_t n)
{
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t want = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    arena_chunk_t *c = a->cur;
    if (want > a->chunk_size) {
        c = chunk_new(a, want);
        if (c == NULL)
            return NULL;
        c->next = a->big;
        a->big = c;
    } else if (c->size - c->used < want) {
        c = chunk_new(a, a->chunk_size);
        if (c == NULL)
            return NULL;
        c->next = a->cur;
        a->cur = c;
    }
    void *p = (uint8_t *)(c + 1) + c->used;
    c->used += want;
    a->used += n;
    return p;
}

char *core_arena_strndup(core_arena_t *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = core_arena_alloc(a, len + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

void core_arena_reset(core_arena_t *a)
{
    chunk_list_free(a->cur, a->first);
    chunk_list_free(a->big, NULL);
    a->big = NULL;
    a->cur = a->first;
    a->first->used = 0;
    a->chunk_bytes = a->first->size;
    a->used = 0;
}

size_t core_arena_used(const core_arena_t *a)
{
    return a->used;
}

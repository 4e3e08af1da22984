/*
 * buf.c - capped growable byte buffers in the caller's storage.
 *
 * Invariants: len <= cap <= max (cap may be 0 with data NULL); a failed
 * append leaves data, len and the contents [0, len) untouched. Capacity
 * doubles on growth but is clamped to max, so a buffer filled from outside
 * never holds more than its cap.
 *
 * Threading: a buffer belongs to one thread at a time; no locks.
 */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

#define BUF_MIN_CAP 64

void core_buf_init(core_buf_t *b, core_mem_tag_t tag, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->tag = tag;
}

void core_buf_fini(core_buf_t *b)
{
    core_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void core_buf_reset(core_buf_t *b)
{
    b->len = 0;
}

int core_buf_reserve(core_buf_t *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return CORE_ETOOBIG;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return CORE_OK;
    size_t cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
    while (cap < need && cap <= SIZE_MAX / 2)
        cap *= 2;
    if (cap < need)
        cap = need;
    if (cap > b->max)
        cap = b->max;
    uint8_t *d = core_realloc(b->tag, b->data, cap);
    if (d == NULL)
        return CORE_ENOMEM;
    b->data = d;
    b->cap = cap;
    return CORE_OK;
}

int core_buf_append(core_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return CORE_OK;
    int rc = core_buf_reserve(b, n);
    if (rc != CORE_OK)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return CORE_OK;
}

int core_buf_append_u8(core_buf_t *b, uint8_t v)
{
    return core_buf_append(b, &v, 1);
}

int core_buf_append_be16(core_buf_t *b, uint16_t v)
{
    uint8_t t[2];
    core_store_be16(t, v);
    return core_buf_append(b, t, sizeof(t));
}

int core_buf_append_be32(core_buf_t *b, uint32_t v)
{
    uint8_t t[4];
    core_store_be32(t, v);
    return core_buf_append(b, t, sizeof(t));
}

int core_buf_append_be64(core_buf_t *b, uint64_t v)
{
    uint8_t t[8];
    core_store_be64(t, v);
    return core_buf_append(b, t, sizeof(t));
}

int core_buf_append_str(core_buf_t *b, const char *s)
{
    if (s == NULL)
        return CORE_EINVAL;
    return core_buf_append(b, s, strlen(s));
}

/* Formats into a temporary block and appends it; used when the output fits
 * under max but its terminating NUL would not. */
__attribute__((format(printf, 3, 0))) static int printf_via_temp(core_buf_t *b, size_t n,
                                                                 const char *fmt, va_list ap)
{
    char *tmp = core_alloc(b->tag, n + 1);
    if (tmp == NULL)
        return CORE_ENOMEM;
    vsnprintf(tmp, n + 1, fmt, ap);
    int rc = core_buf_append(b, tmp, n);
    core_free(tmp);
    return rc;
}

int core_buf_printf(core_buf_t *b, const char *fmt, ...)
{
    va_list ap, ap2;
    size_t spare = b->cap - b->len;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int r = vsnprintf(spare ? (char *)b->data + b->len : NULL, spare, fmt, ap);
    va_end(ap);
    int rc = CORE_OK;
    if (r < 0) {
        rc = CORE_EINVAL;
        goto out;
    }
    size_t n = (size_t)r;
    if (n < spare) { /* it fitted, NUL included */
        b->len += n;
        goto out;
    }
    if (n > b->max || b->len > b->max - n) {
        rc = CORE_ETOOBIG;
        goto out;
    }
    if (b->len + n < b->max) {
        rc = core_buf_reserve(b, n + 1);
        if (rc == CORE_OK) {
            vsnprintf((char *)b->data + b->len, n + 1, fmt, ap2);
            b->len += n;
        }
    } else {
        rc = printf_via_temp(b, n, fmt, ap2);
    }
out:
    va_end(ap2);
    return rc;
}

uint8_t *core_buf_take(core_buf_t *b, size_t *len_out)
{
    uint8_t *d = b->data;
    if (len_out != NULL)
        *len_out = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}

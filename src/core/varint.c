/*
 * varint.c - unsigned LEB128 and zigzag-signed varints, as Kafka uses them.
 *
 * Invariants: encoders write at most CORE_VARINT_MAX bytes; decoders never
 * read past `len`, and reject encodings longer than the type allows
 * (CORE_ERANGE) or cut short (CORE_ETRUNC).
 *
 * Threading: pure functions, no state.
 */
#include "core/core.h"

size_t core_uvarint_put(uint8_t *dst, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        dst[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[i++] = (uint8_t)v;
    return i;
}

size_t core_uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Decodes at most `max_bytes` bytes; `top_bits` is how many value bits the
 * final permitted byte may carry (so 64-bit: 10 bytes, last byte <= 1). */
static int uvarint_decode(const uint8_t *p, size_t len, size_t max_bytes, unsigned top_bits,
                          uint64_t *v)
{
    uint64_t result = 0;
    for (size_t i = 0; i < max_bytes; i++) {
        if (i >= len)
            return CORE_ETRUNC;
        uint8_t b = p[i];
        if (i == max_bytes - 1) {
            /* The last byte must end the varint and fit the bits left. */
            if ((b & 0x80) || (b >> top_bits) != 0)
                return CORE_ERANGE;
        }
        result |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = result;
            return (int)(i + 1);
        }
    }
    return CORE_ERANGE; /* unreachable: the last byte returns above */
}

int core_uvarint_get_any(const uint8_t *p, size_t len, uint64_t *v)
{
    return uvarint_decode(p, len, 10, 1, v);
}

int core_uvarint_get32_any(const uint8_t *p, size_t len, uint32_t *v)
{
    uint64_t r = 0;
    int n = uvarint_decode(p, len, 5, 4, &r);
    if (n > 0)
        *v = (uint32_t)r;
    return n;
}

size_t core_varint_put(uint8_t *dst, int64_t v)
{
    return core_uvarint_put(dst, core_zigzag_encode(v));
}

size_t core_varint_size(int64_t v)
{
    return core_uvarint_size(core_zigzag_encode(v));
}

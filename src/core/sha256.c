/*
 * SHA-256 as FIPS 180-4 defines it: 64-byte blocks, eight 32-bit working
 * words, 64 rounds with the round constants (the first 32 bits of the
 * fractional parts of the cube roots of the first 64 primes), and padding
 * with 0x80, zeros and the 64-bit big-endian bit length.
 *
 * Two block functions compute the same thing:
 *   - blocks_portable: plain C, any CPU;
 *   - blocks_hw: the x86 SHA extensions (SHA256RNDS2 does two rounds on
 *     the state held as the register pair ABEF / CDGH, SHA256MSG1 and
 *     SHA256MSG2 extend the message schedule four words at a time), with
 *     SSSE3 byte shuffles for the big-endian loads and SSE4.1 blends to
 *     move between h[0..7] and the register pair.
 * core_sha256_init() picks the hardware path when the CPU reports SHA,
 * SSSE3 and SSE4.1 (cpuid, probed once); core_sha256_init_portable()
 * always takes the portable one, so tests can check both.
 *
 * Invariants:
 *   1. c->used < 64 between calls.
 *   2. blocks_hw is the only function built for the SHA/SSE4.1 target
 *      (a function attribute); it runs only when the probe said yes, so no
 *      such instruction reaches a CPU without it.
 *
 * Threading: a context belongs to one thread; the CPU probe is a relaxed
 * atomic, idempotent, so any thread may run it.
 */
#include "core/core.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_HAVE_HW 1
#else
#define SHA256_HAVE_HW 0
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* ---- Portable. */

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t h[8], const uint8_t *blk)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
               (uint32_t)blk[4 * i + 2] << 8 | (uint32_t)blk[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += k;
}

static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    for (size_t i = 0; i < nblocks; i++)
        compress(h, p + 64 * i);
}

/* ---- x86 SHA extensions. */

#if SHA256_HAVE_HW
#define HW_TARGET __attribute__((target("sha,ssse3,sse4.1")))

/* Four message words W[t..t+3] plus K[t..t+3], two rounds each through
 * SHA256RNDS2: the first call turns (CDGH, ABEF) into the next ABEF, the
 * old ABEF becoming CDGH, so the two registers swap roles every call. */
#define QROUND(abef, cdgh, w, t)                                                                   \
    do {                                                                                           \
        __m128i wk_ = _mm_add_epi32((w), _mm_loadu_si128((const __m128i *)&K[(t)]));               \
        (cdgh) = _mm_sha256rnds2_epu32((cdgh), (abef), wk_);                                       \
        (abef) = _mm_sha256rnds2_epu32((abef), (cdgh), _mm_shuffle_epi32(wk_, 0x0E));              \
    } while (0)

/* W[t..t+3] from the four previous groups (w0 oldest): W[t] = s1(W[t-2]) +
 * W[t-7] + s0(W[t-15]) + W[t-16]; MSG1 adds the s0 terms to the oldest
 * group, the W[t-7] terms come from the two newest groups shifted by one
 * word, and MSG2 adds the s1 terms (which depend on the new words). */
#define SCHEDULE(w0, w1, w2, w3)                                                                   \
    _mm_sha256msg2_epu32(                                                                          \
        _mm_add_epi32(_mm_sha256msg1_epu32((w0), (w1)), _mm_alignr_epi8((w3), (w2), 4)), (w3))

HW_TARGET static void blocks_hw(uint32_t h[8], const uint8_t *p, size_t nblocks)
{
    /* Byte order within each 32-bit word reversed: the words are big-endian. */
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    /* h[0..3] = A B C D and h[4..7] = E F G H (A in the low lane) become
     * ABEF = {A, B, E, F} and CDGH = {C, D, G, H}, first named highest. */
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);    /* B A D C */
    __m128i cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* H G F E */
    __m128i abef = _mm_alignr_epi8(t, cdgh, 8);                                      /* F E B A */
    cdgh = _mm_blend_epi16(cdgh, t, 0xF0);                                           /* H G D C */
    for (size_t b = 0; b < nblocks; b++, p += 64) {
        __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        QROUND(abef, cdgh, w0, 0);
        QROUND(abef, cdgh, w1, 4);
        QROUND(abef, cdgh, w2, 8);
        QROUND(abef, cdgh, w3, 12);
        for (int r = 16; r < 64; r += 16) {
            w0 = SCHEDULE(w0, w1, w2, w3);
            QROUND(abef, cdgh, w0, r);
            w1 = SCHEDULE(w1, w2, w3, w0);
            QROUND(abef, cdgh, w1, r + 4);
            w2 = SCHEDULE(w2, w3, w0, w1);
            QROUND(abef, cdgh, w2, r + 8);
            w3 = SCHEDULE(w3, w0, w1, w2);
            QROUND(abef, cdgh, w3, r + 12);
        }
        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
    }
    t = _mm_shuffle_epi32(abef, 0x1B);     /* A B E F, A lowest */
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);  /* C D G H */
    abef = _mm_blend_epi16(t, cdgh, 0xF0); /* A B C D */
    cdgh = _mm_alignr_epi8(cdgh, t, 8);    /* E F G H */
    _mm_storeu_si128((__m128i *)&h[0], abef);
    _mm_storeu_si128((__m128i *)&h[4], cdgh);
}

static atomic_int hw_state; /* 0 not probed, 1 absent, 2 present */

bool core_sha256_hw_available(void)
{
    int st = atomic_load_explicit(&hw_state, memory_order_relaxed);
    if (st == 0) {
        unsigned a, b, c, d;
        bool sse = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1);
        bool sha = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
        st = sse && sha ? 2 : 1;
        atomic_store_explicit(&hw_state, st, memory_order_relaxed);
    }
    return st == 2;
}
#else
bool core_sha256_hw_available(void)
{
    return false;
}
#endif

static void blocks(const core_sha256_t *c, uint32_t h[8], const uint8_t *p, size_t nblocks)
{
#if SHA256_HAVE_HW
    if (c->hw) {
        blocks_hw(h, p, nblocks);
        return;
    }
#else
    (void)c;
#endif
    blocks_portable(h, p, nblocks);
}

/* ---- The incremental interface. */

void core_sha256_init_portable(core_sha256_t *c)
{
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, H0, sizeof H0);
    c->len = 0;
    c->used = 0;
    c->hw = false;
}

void core_sha256_init(core_sha256_t *c)
{
    core_sha256_init_portable(c);
    c->hw = core_sha256_hw_available();
}

void core_sha256_update(core_sha256_t *c, const void *p, size_t n)
{
    const uint8_t *in = p;
    c->len += n;
    if (c->used > 0) {
        size_t take = CORE_MIN(n, 64 - c->used);
        memcpy(c->block + c->used, in, take);
        c->used += take;
        in += take;
        n -= take;
        if (c->used < 64)
            return;
        blocks(c, c->h, c->block, 1);
        c->used = 0;
    }
    if (n >= 64) {
        blocks(c, c->h, in, n / 64);
        in += n / 64 * 64;
        n %= 64;
    }
    if (n > 0)
        memcpy(c->block, in, n);
    c->used = n;
}

void core_sha256_final(core_sha256_t *c, uint8_t out[32])
{
    uint64_t bits = c->len * 8;
    c->block[c->used++] = 0x80;
    if (c->used > 56) {
        memset(c->block + c->used, 0, 64 - c->used);
        blocks(c, c->h, c->block, 1);
        c->used = 0;
    }
    memset(c->block + c->used, 0, 56 - c->used);
    for (int i = 0; i < 8; i++)
        c->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    blocks(c, c->h, c->block, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
}

void core_sha256_hex(const uint8_t digest[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[64] = '\0';
}

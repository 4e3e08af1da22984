/*
 * crc32c.c - CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as the
 * Kafka RecordBatch v2 checksum uses it.
 *
 * Two implementations: a portable slicing-by-8 table version and one built
 * on the SSE4.2 crc32 instruction. core_crc32c() dispatches at run time.
 *
 * Invariants:
 *   1. This file is compiled with -msse4.2 (for the intrinsic), so every
 *      function except crc32c_hw_body is marked BASELINE, which turns the
 *      SSE3+ extensions back off; the compiler therefore cannot slip an
 *      SSE4.2 instruction into code that runs on a CPU without it.
 *   2. core_crc32c() calls the hardware path only after
 *      __builtin_cpu_supports("sse4.2") said yes.
 *   3. The running value is the finished CRC: callers pass 0 to start and
 *      the previous result to continue; inversion happens inside.
 *
 * Threading: the tables are built once under pthread_once and read-only
 * afterwards; the CPU probe result is a relaxed atomic. All functions are
 * thread-safe.
 */
#include "core/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) && defined(__SSE4_2__)
#include <nmmintrin.h>
#define CRC32C_HAVE_HW 1
#define BASELINE       __attribute__((target("no-sse3,no-popcnt")))
#else
#define CRC32C_HAVE_HW 0
#define BASELINE
#endif

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

BASELINE static void crc_table_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1u)));
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int t = 1; t < 8; t++) {
            uint32_t prev = crc_table[t - 1][i];
            crc_table[t][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
        }
    }
}

BASELINE static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

BASELINE uint32_t core_crc32c_sw(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&crc_table_once, crc_table_build);
    const uint8_t *s = p;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = c ^ load_le32(s);
        uint32_t hi = load_le32(s + 4);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^
            crc_table[2][(hi >> 8) & 0xff] ^ crc_table[1][(hi >> 16) & 0xff] ^
            crc_table[0][hi >> 24];
        s += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = (c >> 8) ^ crc_table[0][(c ^ *s++) & 0xff];
    return ~c;
}

#if CRC32C_HAVE_HW
/* The only function allowed to contain SSE4.2 instructions. */
static uint32_t crc32c_hw_body(uint32_t crc, const uint8_t *s, size_t n)
{
    uint64_t c = ~crc;
    while (n > 0 && ((uintptr_t)s & 7) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *s++);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, sizeof(w));
        c = _mm_crc32_u64(c, w);
        s += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = _mm_crc32_u8((uint32_t)c, *s++);
    return ~(uint32_t)c;
}
#endif

/* 0 = not probed yet, 1 = no hardware CRC, 2 = SSE4.2 present. */
static atomic_int crc_hw_state;

BASELINE bool core_crc32c_hw_available(void)
{
    int st = atomic_load_explicit(&crc_hw_state, memory_order_relaxed);
    if (st == 0) {
#if CRC32C_HAVE_HW
        __builtin_cpu_init();
        st = __builtin_cpu_supports("sse4.2") ? 2 : 1;
#else
        st = 1;
#endif
        atomic_store_explicit(&crc_hw_state, st, memory_order_relaxed);
    }
    return st == 2;
}

BASELINE uint32_t core_crc32c_hw(uint32_t crc, const void *p, size_t n)
{
#if CRC32C_HAVE_HW
    if (core_crc32c_hw_available())
        return crc32c_hw_body(crc, p, n);
#endif
    return core_crc32c_sw(crc, p, n); /* no hardware: same answer, slower */
}

BASELINE uint32_t core_crc32c(uint32_t crc, const void *p, size_t n)
{
#if CRC32C_HAVE_HW
    if (core_crc32c_hw_available())
        return crc32c_hw_body(crc, p, n);
#endif
    return core_crc32c_sw(crc, p, n);
}

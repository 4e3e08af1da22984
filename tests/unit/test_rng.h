/*
 * test_rng.h - the seeded generator of the randomized differential tests
 * (xorshift64*: small, fast, and the same sequence everywhere for a seed,
 * so a failing seed the test prints can be replayed). One state per test
 * program; single-threaded.
 */
#ifndef STRATA_TEST_RNG_H
#define STRATA_TEST_RNG_H

#include <stdbool.h>
#include <stdint.h>

static uint64_t rng_state; /* seed it (non-zero) before the first draw */

static inline uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform enough in [0, n) for tests; n > 0. */
static inline unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* True with probability pct / 100. */
static inline bool chance(unsigned pct)
{
    return below(100) < pct;
}

#endif

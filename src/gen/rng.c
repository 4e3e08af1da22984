/*
 * The generators' randomness: xoshiro256** seeded by splitmix64, and the
 * distributions built on it (uniform, normal, exponential, lognormal,
 * weighted choice, Zipf).
 *
 * Both generators are written from their published descriptions
 * (Blackman and Vigna, "Scrambled linear pseudorandom number generators",
 * 2018; splitmix64 from Steele, Lea and Flood, 2014, with the constants of
 * Java's SplittableRandom). Normal deviates use Marsaglia's polar method,
 * which makes them in pairs; the second is kept for the next call.
 *
 * Invariants: the xoshiro state is never all zero (splitmix64 seeding
 * cannot produce four zero words in a row). Every function is a pure
 * function of the state, so a seed fixes every draw.
 *
 * Threading: a gen_rng_t belongs to one thread.
 */
#include "gen/gen_int.h"

#include <math.h>

uint64_t gen_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t gen_splitmix64(uint64_t *x)
{
    *x += 0x9e3779b97f4a7c15ULL;
    return gen_mix64(*x);
}

void gen_rng_seed(gen_rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = gen_splitmix64(&x);
    r->has_spare = false;
    r->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t gen_rng_u64(gen_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double gen_rng_uniform(gen_rng_t *r)
{
    return (double)(gen_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t gen_rng_below(gen_rng_t *r, uint64_t n)
{
    /* Reject the lowest (2^64 mod n) values so every residue is equally
     * likely. */
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = gen_rng_u64(r);
        if (x >= threshold)
            return x % n;
    }
}

int64_t gen_rng_range(gen_rng_t *r, int64_t lo, int64_t hi)
{
    if (hi <= lo)
        return lo;
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;
    if (span == 0) /* the whole int64 range */
        return (int64_t)gen_rng_u64(r);
    return (int64_t)((uint64_t)lo + gen_rng_below(r, span));
}

bool gen_rng_chance(gen_rng_t *r, double p)
{
    return gen_rng_uniform(r) < p;
}

double gen_rng_normal(gen_rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * gen_rng_uniform(r) - 1.0;
        v = 2.0 * gen_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = sqrt(-2.0 * log(s) / s);
    r->spare = v * f;
    r->has_spare = true;
    return u * f;
}

double gen_rng_exponential(gen_rng_t *r, double mean)
{
    /* 1 - u lies in (0, 1], so the log is finite. */
    return -mean * log(1.0 - gen_rng_uniform(r));
}

double gen_rng_lognormal(gen_rng_t *r, double mu, double sigma)
{
    return exp(mu + sigma * gen_rng_normal(r));
}

size_t gen_rng_weighted(gen_rng_t *r, const double *weights, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += weights[i];
    double x = gen_rng_uniform(r) * total;
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    return n - 1; /* rounding at the very end */
}

int gen_zipf_init(gen_zipf_t *z, size_t n, double s)
{
    z->n = n;
    z->cdf = core_calloc(CORE_MEM_GEN, n > 0 ? n : 1, sizeof *z->cdf);
    if (z->cdf == NULL)
        return core_error(CORE_ENOMEM, "gen: Zipf table of %zu ranks", n);
    double sum = 0;
    for (size_t k = 0; k < n; k++) {
        sum += 1.0 / pow((double)(k + 1), s);
        z->cdf[k] = sum;
    }
    for (size_t k = 0; k < n; k++)
        z->cdf[k] /= sum;
    if (n > 0)
        z->cdf[n - 1] = 1.0;
    return 0;
}

void gen_zipf_fini(gen_zipf_t *z)
{
    core_free(z->cdf);
    z->cdf = NULL;
    z->n = 0;
}

size_t gen_zipf_draw(const gen_zipf_t *z, gen_rng_t *r)
{
    double u = gen_rng_uniform(r);
    size_t lo = 0, hi = z->n - 1;
    while (lo < hi) { /* first k with cdf[k] > u */
        size_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

uint64_t gen_power_law(gen_rng_t *r, uint64_t n, double s)
{
    /* Density proportional to x^-s on [1, n + 1): its CDF is
     * (x^e - 1) / ((n + 1)^e - 1) with e = 1 - s; invert it. */
    double e = 1.0 - s;
    double hi = pow((double)n + 1.0, e);
    double x = pow(1.0 + gen_rng_uniform(r) * (hi - 1.0), 1.0 / e);
    uint64_t k = x >= 1.0 ? (uint64_t)x - 1 : 0;
    return k >= n ? n - 1 : k;
}

void gen_recent_push(gen_recent_t *r, uint64_t v)
{
    r->v[r->next] = v;
    r->next = (r->next + 1) % GEN_RECENT;
    if (r->n < GEN_RECENT)
        r->n++;
}

bool gen_recent_pick(const gen_recent_t *r, gen_rng_t *rng, uint64_t *out)
{
    if (r->n == 0)
        return false;
    size_t back = r->n >= 2 ? (size_t)gen_rng_below(rng, 2) : 0;
    *out = r->v[(r->next + GEN_RECENT - 1 - back) % GEN_RECENT];
    return true;
}

/*
 * murmur2.c - Kafka's key hash, so records keyed here land in the same
 * partition as they would from a Java, librdkafka (murmur2 partitioner) or
 * kafkajs producer. Written from MurmurHash2's definition; pure function,
 * thread-safe.
 */
#include "core/core.h"

uint32_t core_murmur2(const void *data, size_t n)
{
    const uint8_t *p = data;
    const uint32_t m = 0x5bd1e995u;
    uint32_t h = 0x9747b28cu ^ (uint32_t)n;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                     (uint32_t)p[i + 3] << 24;
        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    size_t rest = n - i;
    if (rest >= 3)
        h ^= (uint32_t)p[i + 2] << 16;
    if (rest >= 2)
        h ^= (uint32_t)p[i + 1] << 8;
    if (rest >= 1) {
        h ^= p[i];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

/*
 * tests/fuzz/app_group_offsets.c - libFuzzer target for
 * api_group_record_decode (src/app/metrics_groups.c), the decoder of the
 * broker's __consumer_offsets records that /metrics reads for consumer
 * group lag, with oracles.
 *
 * Input: byte 0 is the key's length (capped by what follows), byte 1 bit
 * 0 makes the value null (a tombstone); then the key, then the value.
 * Key and value are copied to exact-size heap blocks so ASan sees any read
 * past them. Oracles:
 *   1. 1 (an offset commit): key version 0 or 1; group and topic lie
 *      inside the key, in order, and their lengths plus the framing add up
 *      to the key's length exactly; a null value is a tombstone, else the
 *      offset is the big-endian int64 after the value's version;
 *   2. 0: the key's version is 2;
 *   3. otherwise CORE_ECORRUPT.
 * Any broken oracle calls abort().
 *
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "app/api.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t klen = CORE_MIN((size_t)data[0], size - 2);
    bool null_value = (data[1] & 1) != 0;
    size_t vlen = size - 2 - klen;
    uint8_t *key = malloc(klen + 1), *value = malloc(vlen + 1);
    check(key != NULL && value != NULL);
    memcpy(key, data + 2, klen);
    memcpy(value, data + 2 + klen, vlen);
    api_group_commit_t c;
    int rc = api_group_record_decode(key, klen, null_value ? NULL : value, vlen, &c);
    int16_t version = klen >= 2 ? (int16_t)core_load_be16(key) : -1;
    if (rc == 1) {
        check(version == 0 || version == 1);
        const char *k = (const char *)key;
        check(c.group == k + 4);
        check(c.topic == c.group + c.group_len + 2);
        check(2 + 2 + c.group_len + 2 + c.topic_len + 4 == klen);
        check(c.tombstone == null_value);
        if (!null_value) {
            check(vlen >= 10);
            check(c.offset == (int64_t)core_load_be64(value + 2));
        }
    } else if (rc == 0) {
        check(version == 2);
    } else {
        check(rc == CORE_ECORRUPT);
    }
    free(key);
    free(value);
    return 0;
}

/*
 * metrics_groups.c - decodes the records of __consumer_offsets, where the
 * broker keeps Kafka consumer groups' committed offsets in Kafka's own
 * layout (src/kafka/group_offsets_int.h), so /metrics can report each
 * group's lag without reaching into the broker's loop thread.
 *
 *   key    int16 version; versions 0 and 1: string group, string topic,
 *          int32 partition (an offset commit); version 2: group metadata
 *   value  int16 version (0..3), int64 offset, ...; null: a tombstone
 *   string = int16 length (>= 0) + bytes; integers big-endian
 *
 * Invariants: every length is checked against the bytes given; nothing
 * is read past them; nothing is allocated. Fuzzed by
 * tests/fuzz/app_group_offsets.c.
 *
 * Threading: pure; any thread.
 */
#include "app/api.h"

typedef struct {
    const uint8_t *p;
    size_t len, pos;
} cursor_t;

static bool take(cursor_t *c, size_t n, const uint8_t **out)
{
    if (n > c->len - c->pos)
        return false;
    *out = c->p + c->pos;
    c->pos += n;
    return true;
}

static bool get_i16(cursor_t *c, int16_t *v)
{
    const uint8_t *p;
    if (!take(c, 2, &p))
        return false;
    *v = (int16_t)core_load_be16(p);
    return true;
}

static bool get_str(cursor_t *c, const char **s, size_t *len)
{
    int16_t n;
    const uint8_t *p;
    if (!get_i16(c, &n) || n < 0 || !take(c, (size_t)n, &p))
        return false;
    *s = (const char *)p;
    *len = (size_t)n;
    return true;
}

int api_group_record_decode(const void *key, size_t klen, const void *value, size_t vlen,
                            api_group_commit_t *out)
{
    *out = (api_group_commit_t){0};
    if (key == NULL)
        return core_error(CORE_ECORRUPT, "__consumer_offsets: a record without a key");
    cursor_t k = {key, klen, 0};
    int16_t version;
    if (!get_i16(&k, &version))
        return core_error(CORE_ECORRUPT, "__consumer_offsets: key of %zu bytes", klen);
    if (version == 2)
        return 0; /* group metadata */
    const uint8_t *part;
    if ((version != 0 && version != 1) || !get_str(&k, &out->group, &out->group_len) ||
        !get_str(&k, &out->topic, &out->topic_len) || !take(&k, 4, &part) || k.pos != klen)
        return core_error(CORE_ECORRUPT,
                          "__consumer_offsets: key (version %d, %zu bytes) does "
                          "not decode",
                          version, klen);
    out->partition = (int32_t)core_load_be32(part);
    if (value == NULL) {
        out->tombstone = true;
        return 1;
    }
    cursor_t v = {value, vlen, 0};
    const uint8_t *off;
    if (!get_i16(&v, &version) || version < 0 || version > 3 || !take(&v, 8, &off))
        return core_error(CORE_ECORRUPT, "__consumer_offsets: value (%zu bytes) does not decode",
                          vlen);
    out->offset = (int64_t)core_load_be64(off);
    return 1;
}

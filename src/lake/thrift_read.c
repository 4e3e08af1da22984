/*
 * thrift_read.c - the Thrift compact protocol, decoding side, as Parquet
 * uses it for FileMetaData and page headers (the encoder is thrift.c).
 *
 * Wire rules (Thrift compact protocol):
 *   - A struct is its fields followed by a STOP byte (0).
 *   - A field header is one byte (id delta << 4 | type) when the delta is
 *     1..15, else the type byte followed by the id as a zigzag varint.
 *   - Boolean fields carry their value in the header type (1 true,
 *     2 false); as list elements they are one byte each.
 *   - i16/i32/i64 are zigzag varints, i8 one byte, double 8 bytes, binary
 *     a varint length then the bytes, uuid 16 bytes.
 *   - A list or set header is one byte (n << 4 | elem type) for n < 15,
 *     else 0xF0 | elem type followed by n as a varint. A map is a varint
 *     n, then (n > 0) one byte (key type << 4 | value type), then the
 *     entries.
 *
 * Input is outside bytes: every read checks what is left, varints are at
 * most 10 bytes and must fit their type, a count can never exceed the bytes
 * left (every element takes at least one byte), and nesting is capped at
 * LAKE_TR_MAX_DEPTH, so skipping is linear in the input.
 *
 * Invariant: last[depth - 1] is the id of the previous field read in the
 * innermost open struct (0 at its start).
 *
 * Threading: a cursor belongs to one thread.
 */
#include "lake/read_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lake_tr_init(lake_tr_t *r, const void *p, size_t n, const char *what)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->end = r->p + n;
    r->what = what != NULL ? what : "thrift";
    r->depth = 1;
}

size_t lake_tr_used(const lake_tr_t *r, const void *start)
{
    return (size_t)(r->p - (const uint8_t *)start);
}

int lake_tr_fail(lake_tr_t *r, const char *fmt, ...)
{
    if (r->rc != 0)
        return r->rc;
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    r->rc = core_error(CORE_ECORRUPT, "%s: %s", r->what, why);
    return r->rc;
}

static size_t left(const lake_tr_t *r)
{
    return (size_t)(r->end - r->p);
}

static int get_u8(lake_tr_t *r, uint8_t *v)
{
    *v = 0;
    if (r->rc != 0)
        return r->rc;
    if (left(r) < 1)
        return lake_tr_fail(r, "truncated");
    *v = *r->p++;
    return 0;
}

static int get_uvarint(lake_tr_t *r, uint64_t *v)
{
    *v = 0;
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        uint8_t b = 0;
        int rc = get_u8(r, &b);
        if (rc != 0)
            return rc;
        if (shift == 63 && b > 1)
            return lake_tr_fail(r, "varint overflows 64 bits");
        x |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *v = x;
            return 0;
        }
    }
    return lake_tr_fail(r, "varint longer than 10 bytes");
}

static int get_zigzag(lake_tr_t *r, int64_t min, int64_t max, int64_t *v)
{
    *v = 0;
    uint64_t u;
    int rc = get_uvarint(r, &u);
    if (rc != 0)
        return rc;
    int64_t x = core_zigzag_decode(u);
    if (x < min || x > max)
        return lake_tr_fail(r, "integer %lld out of range", (long long)x);
    *v = x;
    return 0;
}

int lake_tr_field(lake_tr_t *r, int16_t *id, int *type)
{
    *id = 0;
    *type = 0;
    uint8_t b = 0;
    int rc = get_u8(r, &b);
    if (rc != 0)
        return rc;
    if (b == LAKE_TR_STOP)
        return 0;
    int t = b & 0x0f;
    int delta = b >> 4;
    int16_t *last = &r->last[r->depth - 1];
    if (t == LAKE_TR_STOP || t > LAKE_TR_UUID)
        return lake_tr_fail(r, "unknown field type %d", t);
    if (delta != 0) {
        if ((int)*last + delta > INT16_MAX)
            return lake_tr_fail(r, "field id overflows");
        *id = (int16_t)(*last + delta);
    } else {
        int64_t v;
        rc = get_zigzag(r, INT16_MIN, INT16_MAX, &v);
        if (rc != 0)
            return rc;
        *id = (int16_t)v;
    }
    *last = *id;
    *type = t;
    return 1;
}

int lake_tr_enter(lake_tr_t *r)
{
    if (r->rc != 0)
        return r->rc;
    if (r->depth >= LAKE_TR_MAX_DEPTH)
        return lake_tr_fail(r, "structs nested deeper than %d", LAKE_TR_MAX_DEPTH);
    r->last[r->depth++] = 0;
    return 0;
}

void lake_tr_leave(lake_tr_t *r)
{
    if (r->depth > 1)
        r->depth--;
}

static int want_type(lake_tr_t *r, int type, int want)
{
    if (r->rc != 0)
        return r->rc;
    if (type != want)
        return lake_tr_fail(r, "field of type %d where type %d was expected", type, want);
    return 0;
}

int lake_tr_i32(lake_tr_t *r, int type, int32_t *v)
{
    *v = 0;
    int64_t x = 0;
    int rc;
    if (type == LAKE_TR_I8) {
        uint8_t b = 0;
        rc = get_u8(r, &b);
        if (rc == 0)
            *v = (int8_t)b;
        return rc;
    }
    if (type != LAKE_TR_I16)
        rc = want_type(r, type, LAKE_TR_I32);
    else
        rc = 0;
    if (rc == 0)
        rc = get_zigzag(r, INT32_MIN, INT32_MAX, &x);
    if (rc == 0)
        *v = (int32_t)x;
    return rc;
}

int lake_tr_i64(lake_tr_t *r, int type, int64_t *v)
{
    *v = 0;
    if (type == LAKE_TR_I32 || type == LAKE_TR_I16 || type == LAKE_TR_I8) {
        int32_t x = 0;
        int rc = lake_tr_i32(r, type, &x);
        if (rc == 0)
            *v = x;
        return rc;
    }
    int rc = want_type(r, type, LAKE_TR_I64);
    return rc != 0 ? rc : get_zigzag(r, INT64_MIN, INT64_MAX, v);
}

int lake_tr_bool(lake_tr_t *r, int type, bool *v)
{
    *v = false;
    if (r->rc != 0)
        return r->rc;
    if (type != LAKE_TR_TRUE && type != LAKE_TR_FALSE)
        return lake_tr_fail(r, "field of type %d where a bool was expected", type);
    *v = type == LAKE_TR_TRUE;
    return 0;
}

static int get_binary(lake_tr_t *r, const uint8_t **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    uint64_t len;
    int rc = get_uvarint(r, &len);
    if (rc != 0)
        return rc;
    if (len > left(r))
        return lake_tr_fail(r, "binary of %llu bytes with %zu left", (unsigned long long)len,
                            left(r));
    *p = r->p;
    *n = (size_t)len;
    r->p += len;
    return 0;
}

int lake_tr_binary(lake_tr_t *r, int type, const uint8_t **p, size_t *n)
{
    int rc = want_type(r, type, LAKE_TR_BINARY);
    return rc != 0 ? rc : get_binary(r, p, n);
}

static int list_header(lake_tr_t *r, int *elem, uint32_t *n)
{
    *elem = 0;
    *n = 0;
    uint8_t b = 0;
    int rc = get_u8(r, &b);
    if (rc != 0)
        return rc;
    uint64_t count = b >> 4;
    *elem = b & 0x0f;
    if (count == 15 && (rc = get_uvarint(r, &count)) != 0)
        return rc;
    if (*elem == LAKE_TR_STOP || *elem > LAKE_TR_UUID)
        return lake_tr_fail(r, "list of unknown element type %d", *elem);
    if (count > left(r))
        return lake_tr_fail(r, "list of %llu elements with %zu bytes left",
                            (unsigned long long)count, left(r));
    *n = (uint32_t)count;
    return 0;
}

int lake_tr_list(lake_tr_t *r, int type, int *elem, uint32_t *n)
{
    int rc = want_type(r, type, LAKE_TR_LIST);
    return rc != 0 ? rc : list_header(r, elem, n);
}

int lake_tr_elem_i32(lake_tr_t *r, int elem, int32_t *v)
{
    return lake_tr_i32(r, elem, v);
}

int lake_tr_elem_binary(lake_tr_t *r, int elem, const uint8_t **p, size_t *n)
{
    return lake_tr_binary(r, elem, p, n);
}

static int skip_bytes(lake_tr_t *r, size_t n)
{
    if (r->rc != 0)
        return r->rc;
    if (n > left(r))
        return lake_tr_fail(r, "truncated");
    r->p += n;
    return 0;
}

static int skip_struct(lake_tr_t *r)
{
    int rc = lake_tr_enter(r);
    int16_t id;
    int type;
    while (rc == 0 && (rc = lake_tr_field(r, &id, &type)) == 1)
        rc = lake_tr_skip(r, type);
    lake_tr_leave(r);
    return rc;
}

/* Elements of a list or set, or (value_type >= 0) the entries of a map. */
static int skip_elems(lake_tr_t *r, int key_type, int value_type, uint64_t n)
{
    if (r->depth >= LAKE_TR_MAX_DEPTH)
        return lake_tr_fail(r, "containers nested deeper than %d", LAKE_TR_MAX_DEPTH);
    r->depth++; /* containers count towards the depth */
    r->last[r->depth - 1] = 0;
    int rc = 0;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        /* A bool element is one byte, not a header type. */
        rc = key_type == LAKE_TR_TRUE || key_type == LAKE_TR_FALSE ? skip_bytes(r, 1)
                                                                   : lake_tr_skip(r, key_type);
        if (rc == 0 && value_type >= 0)
            rc = value_type == LAKE_TR_TRUE || value_type == LAKE_TR_FALSE
                     ? skip_bytes(r, 1)
                     : lake_tr_skip(r, value_type);
    }
    r->depth--;
    return rc;
}

static int skip_map(lake_tr_t *r)
{
    uint64_t n;
    int rc = get_uvarint(r, &n);
    if (rc != 0 || n == 0)
        return rc;
    uint8_t kv = 0;
    rc = get_u8(r, &kv);
    if (rc != 0)
        return rc;
    int k = kv >> 4, v = kv & 0x0f;
    if (k == LAKE_TR_STOP || k > LAKE_TR_UUID || v == LAKE_TR_STOP || v > LAKE_TR_UUID)
        return lake_tr_fail(r, "map of unknown types %d, %d", k, v);
    if (n > left(r) / 2)
        return lake_tr_fail(r, "map of %llu entries with %zu bytes left", (unsigned long long)n,
                            left(r));
    return skip_elems(r, k, v, n);
}

int lake_tr_skip(lake_tr_t *r, int type)
{
    if (r->rc != 0)
        return r->rc;
    uint64_t u;
    const uint8_t *p;
    size_t n;
    int elem = 0;
    uint32_t count = 0;
    switch (type) {
    case LAKE_TR_TRUE:
    case LAKE_TR_FALSE:
        return 0; /* a bool field's value is its header */
    case LAKE_TR_I8:
        return skip_bytes(r, 1);
    case LAKE_TR_I16:
    case LAKE_TR_I32:
    case LAKE_TR_I64:
        return get_uvarint(r, &u);
    case LAKE_TR_DOUBLE:
        return skip_bytes(r, 8);
    case LAKE_TR_UUID:
        return skip_bytes(r, 16);
    case LAKE_TR_BINARY:
        return get_binary(r, &p, &n);
    case LAKE_TR_LIST:
    case LAKE_TR_SET:
        if (list_header(r, &elem, &count) != 0)
            return r->rc;
        return skip_elems(r, elem, -1, count);
    case LAKE_TR_MAP:
        return skip_map(r);
    case LAKE_TR_STRUCT:
        return skip_struct(r);
    default:
        return lake_tr_fail(r, "unknown type %d", type);
    }
}

/*
 * thrift.c - the Thrift compact protocol, encoding side only, as Parquet
 * uses it for FileMetaData and page headers.
 *
 * Wire rules (Thrift compact protocol):
 *   - A struct is its fields followed by a STOP byte (0).
 *   - A field header is one byte (id delta << 4 | type) when the id is 1..15
 *     above the previous field's id in the same struct, else the type byte
 *     followed by the id as a zigzag varint.
 *   - Booleans fields carry their value in the header type (1 true,
 *     2 false) and have no body.
 *   - i16/i32/i64 are zigzag varints, i8 one byte, double 8 bytes little-
 *     endian, binary a varint length then the bytes.
 *   - A list header is one byte (n << 4 | elem type) for n < 15, else
 *     0xF0 | elem type followed by n as a varint.
 *
 * Invariant: last[depth - 1] is the id of the previous field written in the
 * innermost open struct (0 at its start); entering a struct pushes a 0,
 * leaving it pops.
 *
 * Threading: an encoder belongs to one thread.
 */
#include "lake/lake_int.h"

#include <string.h>

void lake_thrift_init(lake_thrift_t *t, core_buf_t *out)
{
    memset(t, 0, sizeof *t);
    t->out = out;
    t->depth = 1;
}

static void put(lake_thrift_t *t, const void *p, size_t n)
{
    if (t->rc == 0)
        t->rc = core_buf_append(t->out, p, n);
}

static void put_u8(lake_thrift_t *t, uint8_t v)
{
    put(t, &v, 1);
}

static void put_uvarint(lake_thrift_t *t, uint64_t v)
{
    uint8_t b[CORE_VARINT_MAX];
    put(t, b, core_uvarint_put(b, v));
}

static void put_zigzag(lake_thrift_t *t, int64_t v)
{
    put_uvarint(t, core_zigzag_encode(v));
}

static void field_header(lake_thrift_t *t, int16_t id, int type)
{
    if (t->rc != 0)
        return;
    int16_t *last = &t->last[t->depth - 1];
    int delta = (int)id - (int)*last;
    if (delta > 0 && delta <= 15) {
        put_u8(t, (uint8_t)(delta << 4 | type));
    } else {
        put_u8(t, (uint8_t)type);
        put_zigzag(t, id);
    }
    *last = id;
}

static void push(lake_thrift_t *t)
{
    if (t->rc != 0)
        return;
    if (t->depth >= LAKE_THRIFT_MAX_DEPTH) {
        t->rc = core_error(CORE_EINVAL, "lake: thrift structs nested too deep");
        return;
    }
    t->last[t->depth++] = 0;
}

int lake_thrift_end(lake_thrift_t *t)
{
    if (t->rc == 0 && t->depth != 1)
        t->rc = core_error(CORE_EINVAL, "lake: thrift struct left open");
    put_u8(t, LAKE_CT_STOP);
    t->depth = 0;
    return t->rc;
}

void lake_thrift_field_bool(lake_thrift_t *t, int16_t id, bool v)
{
    field_header(t, id, v ? LAKE_CT_TRUE : LAKE_CT_FALSE);
}

void lake_thrift_field_i8(lake_thrift_t *t, int16_t id, int8_t v)
{
    field_header(t, id, LAKE_CT_I8);
    put_u8(t, (uint8_t)v);
}

void lake_thrift_field_i16(lake_thrift_t *t, int16_t id, int16_t v)
{
    field_header(t, id, LAKE_CT_I16);
    put_zigzag(t, v);
}

void lake_thrift_field_i32(lake_thrift_t *t, int16_t id, int32_t v)
{
    field_header(t, id, LAKE_CT_I32);
    put_zigzag(t, v);
}

void lake_thrift_field_i64(lake_thrift_t *t, int16_t id, int64_t v)
{
    field_header(t, id, LAKE_CT_I64);
    put_zigzag(t, v);
}

void lake_thrift_field_double(lake_thrift_t *t, int16_t id, double v)
{
    uint64_t bits;
    uint8_t b[8];
    memcpy(&bits, &v, sizeof bits);
    lake_store_le64(b, bits);
    field_header(t, id, LAKE_CT_DOUBLE);
    put(t, b, sizeof b);
}

void lake_thrift_field_binary(lake_thrift_t *t, int16_t id, const void *p, size_t n)
{
    field_header(t, id, LAKE_CT_BINARY);
    lake_thrift_elem_binary(t, p, n);
}

void lake_thrift_field_string(lake_thrift_t *t, int16_t id, const char *s)
{
    lake_thrift_field_binary(t, id, s, strlen(s));
}

void lake_thrift_field_struct(lake_thrift_t *t, int16_t id)
{
    field_header(t, id, LAKE_CT_STRUCT);
    push(t);
}

void lake_thrift_struct_end(lake_thrift_t *t)
{
    if (t->rc == 0 && t->depth <= 1) {
        t->rc = core_error(CORE_EINVAL, "lake: thrift struct end without a struct");
        return;
    }
    put_u8(t, LAKE_CT_STOP);
    if (t->rc == 0)
        t->depth--;
}

void lake_thrift_field_list(lake_thrift_t *t, int16_t id, int elem, uint32_t n)
{
    field_header(t, id, LAKE_CT_LIST);
    if (n < 15) {
        put_u8(t, (uint8_t)(n << 4 | (uint32_t)elem));
    } else {
        put_u8(t, (uint8_t)(0xf0 | elem));
        put_uvarint(t, n);
    }
}

void lake_thrift_elem_i32(lake_thrift_t *t, int32_t v)
{
    put_zigzag(t, v);
}

void lake_thrift_elem_binary(lake_thrift_t *t, const void *p, size_t n)
{
    put_uvarint(t, n);
    if (n > 0)
        put(t, p, n);
}

void lake_thrift_elem_struct(lake_thrift_t *t)
{
    push(t);
}

void lake_thrift_raw(lake_thrift_t *t, const void *p, size_t n)
{
    if (n > 0)
        put(t, p, n);
}

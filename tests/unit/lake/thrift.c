/*
 * Unit tests for the Thrift compact protocol encoder (src/lake/thrift.c)
 * against bytes computed by hand from the protocol's rules: zigzag varints
 * for i16/i32/i64, short and long field headers, booleans in the header,
 * list headers below and above 15 elements, nested structs restarting the
 * field-id delta, and the sticky errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "lake/lake_int.h"

typedef struct {
    core_buf_t buf;
    lake_thrift_t t;
} enc_t;

static void enc_init(enc_t *e)
{
    core_buf_init(&e->buf, CORE_MEM_TEST, 1 << 16);
    lake_thrift_init(&e->t, &e->buf);
}

/* Ends the outermost struct and compares every byte with want. */
static void expect_bytes(enc_t *e, const uint8_t *want, size_t n)
{
    assert_int_equal(lake_thrift_end(&e->t), 0);
    if (e->buf.len != n || memcmp(e->buf.data, want, n) != 0) {
        for (size_t i = 0; i < e->buf.len; i++)
            print_message("%02x ", e->buf.data[i]);
        print_message("\n");
    }
    assert_int_equal(e->buf.len, n);
    assert_memory_equal(e->buf.data, want, n);
    core_buf_fini(&e->buf);
}

static void test_i32_zigzag_varints(void **state)
{
    (void)state;
    enc_t e;
    enc_init(&e);
    lake_thrift_field_i32(&e.t, 1, 0);         /* 15 00 */
    lake_thrift_field_i32(&e.t, 2, -1);        /* 15 01 */
    lake_thrift_field_i32(&e.t, 3, 1);         /* 15 02 */
    lake_thrift_field_i32(&e.t, 4, -64);       /* zigzag 127: 15 7f */
    lake_thrift_field_i32(&e.t, 5, 64);        /* zigzag 128: 15 80 01 */
    lake_thrift_field_i32(&e.t, 6, 150);       /* zigzag 300: 15 ac 02 */
    lake_thrift_field_i32(&e.t, 7, INT32_MIN); /* zigzag 2^32-1: ff ff ff ff 0f */
    lake_thrift_field_i32(&e.t, 8, INT32_MAX); /* zigzag 2^32-2: fe ff ff ff 0f */
    static const uint8_t want[] = {0x15, 0x00, 0x15, 0x01, 0x15, 0x02, 0x15, 0x7f, 0x15,
                                   0x80, 0x01, 0x15, 0xac, 0x02, 0x15, 0xff, 0xff, 0xff,
                                   0xff, 0x0f, 0x15, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x00};
    expect_bytes(&e, want, sizeof want);
}

static void test_i64_i16_i8_double(void **state)
{
    (void)state;
    enc_t e;
    enc_init(&e);
    lake_thrift_field_i64(&e.t, 1, INT64_MAX); /* zigzag 2^64-2 */
    lake_thrift_field_i64(&e.t, 2, INT64_MIN); /* zigzag 2^64-1 */
    lake_thrift_field_i64(&e.t, 3, 1234567);   /* zigzag 2469134 = 0x25ad0e */
    lake_thrift_field_i16(&e.t, 4, -2);        /* 14 03 */
    lake_thrift_field_i8(&e.t, 5, -1);         /* 13 ff */
    lake_thrift_field_i8(&e.t, 6, 64);         /* 13 40: i8 is a raw byte */
    lake_thrift_field_double(&e.t, 7, 1.0);    /* 17 + little-endian 0x3ff0... */
    static const uint8_t want[] = {
        0x16, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* 1 */
        0x16, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* 2 */
        0x16, 0x8e, 0xda, 0x96, 0x01,                                     /* 3 */
        0x14, 0x03,                                                       /* 4 */
        0x13, 0xff,                                                       /* 5 */
        0x13, 0x40,                                                       /* 6 */
        0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,             /* 7 */
        0x00};
    expect_bytes(&e, want, sizeof want);
}

static void test_field_id_deltas(void **state)
{
    (void)state;
    enc_t e;
    enc_init(&e);
    lake_thrift_field_i32(&e.t, 1, 0);   /* delta 1: 15 00 */
    lake_thrift_field_i32(&e.t, 16, 0);  /* delta 15, still short: f5 00 */
    lake_thrift_field_i32(&e.t, 32, 0);  /* delta 16: long, 05 + zigzag(32)=64: 05 40 00 */
    lake_thrift_field_i32(&e.t, 31, 0);  /* going back: long, 05 3e 00 */
    lake_thrift_field_i32(&e.t, 200, 0); /* zigzag 400 = 0x190: 05 90 03 00 */
    lake_thrift_field_i32(&e.t, 201, 7); /* short again: 15 0e */
    static const uint8_t want[] = {0x15, 0x00, 0xf5, 0x00, 0x05, 0x40, 0x00, 0x05, 0x3e,
                                   0x00, 0x05, 0x90, 0x03, 0x00, 0x15, 0x0e, 0x00};
    expect_bytes(&e, want, sizeof want);
}

static void test_bools_in_headers(void **state)
{
    (void)state;
    enc_t e;
    enc_init(&e);
    lake_thrift_field_bool(&e.t, 1, true);   /* 11 */
    lake_thrift_field_bool(&e.t, 2, false);  /* 12 */
    lake_thrift_field_bool(&e.t, 20, true);  /* long: 01 28 */
    lake_thrift_field_bool(&e.t, 21, false); /* 12 */
    static const uint8_t want[] = {0x11, 0x12, 0x01, 0x28, 0x12, 0x00};
    expect_bytes(&e, want, sizeof want);
}

static void test_binary_and_strings(void **state)
{
    (void)state;
    enc_t e;
    enc_init(&e);
    lake_thrift_field_binary(&e.t, 1, "hi", 2); /* 18 02 'h' 'i' */
    lake_thrift_field_binary(&e.t, 2, NULL, 0); /* 18 00 */
    lake_thrift_field_string(&e.t, 3, "é");     /* 18 02 c3 a9 */
    static const uint8_t want[] = {0x18, 0x02, 'h', 'i', 0x18, 0x00, 0x18, 0x02, 0xc3, 0xa9, 0x00};
    expect_bytes(&e, want, sizeof want);

    /* A 200-byte binary: its length is a 2-byte varint (c8 01). */
    enc_init(&e);
    uint8_t big[200];
    memset(big, 'x', sizeof big);
    lake_thrift_field_binary(&e.t, 1, big, sizeof big);
    assert_int_equal(lake_thrift_end(&e.t), 0);
    assert_int_equal(e.buf.len, 1 + 2 + 200 + 1);
    assert_int_equal(e.buf.data[1], 0xc8);
    assert_int_equal(e.buf.data[2], 0x01);
    core_buf_fini(&e.buf);
}

static void test_lists(void **state)
{
    (void)state;
    enc_t e;
    enc_init(&e);
    lake_thrift_field_list(&e.t, 1, LAKE_CT_I32, 3); /* 19 35 */
    lake_thrift_elem_i32(&e.t, 1);                   /* 02 */
    lake_thrift_elem_i32(&e.t, -1);                  /* 01 */
    lake_thrift_elem_i32(&e.t, 2);                   /* 04 */
    lake_thrift_field_list(&e.t, 2, LAKE_CT_I32, 0); /* 19 05 */
    lake_thrift_field_list(&e.t, 3, LAKE_CT_BINARY, 1);
    lake_thrift_elem_binary(&e.t, "a", 1); /* 19 18 01 'a' */
    static const uint8_t want[] = {0x19, 0x35, 0x02, 0x01, 0x04, 0x19,
                                   0x05, 0x19, 0x18, 0x01, 'a',  0x00};
    expect_bytes(&e, want, sizeof want);

    /* 14 elements fit the short header; 15 and more need the long one. */
    enc_init(&e);
    lake_thrift_field_list(&e.t, 1, LAKE_CT_I32, 14);
    for (int i = 0; i < 14; i++)
        lake_thrift_elem_i32(&e.t, 0);
    lake_thrift_field_list(&e.t, 2, LAKE_CT_I32, 15);
    for (int i = 0; i < 15; i++)
        lake_thrift_elem_i32(&e.t, 0);
    lake_thrift_field_list(&e.t, 3, LAKE_CT_I32, 300);
    for (int i = 0; i < 300; i++)
        lake_thrift_elem_i32(&e.t, 0);
    assert_int_equal(lake_thrift_end(&e.t), 0);
    assert_int_equal(e.buf.len, 2 + 14 + 3 + 15 + 4 + 300 + 1);
    assert_int_equal(e.buf.data[1], 0xe5);  /* 14 << 4 | 5 */
    assert_int_equal(e.buf.data[17], 0xf5); /* long form */
    assert_int_equal(e.buf.data[18], 15);
    assert_int_equal(e.buf.data[35], 0xf5);
    assert_int_equal(e.buf.data[36], 0xac); /* 300 = ac 02 */
    assert_int_equal(e.buf.data[37], 0x02);
    core_buf_fini(&e.buf);
}

static void test_structs_restart_deltas(void **state)
{
    (void)state;
    enc_t e;
    enc_init(&e);
    lake_thrift_field_struct(&e.t, 3);                  /* 3c */
    lake_thrift_field_i32(&e.t, 1, 1);                  /* inside, from 0: 15 02 */
    lake_thrift_field_struct(&e.t, 2);                  /* 1c */
    lake_thrift_struct_end(&e.t);                       /* empty struct: 00 */
    lake_thrift_struct_end(&e.t);                       /* 00 */
    lake_thrift_field_i32(&e.t, 4, 2);                  /* outside, from 3: 15 04 */
    lake_thrift_field_list(&e.t, 5, LAKE_CT_STRUCT, 2); /* 19 2c */
    lake_thrift_elem_struct(&e.t);
    lake_thrift_field_i32(&e.t, 1, 5); /* 15 0a */
    lake_thrift_struct_end(&e.t);      /* 00 */
    lake_thrift_elem_struct(&e.t);
    lake_thrift_field_i32(&e.t, 2, 5); /* each element starts from 0: 25 0a */
    lake_thrift_struct_end(&e.t);      /* 00 */
    lake_thrift_field_i32(&e.t, 6, 0); /* after the list, from 5: 15 00 */
    static const uint8_t want[] = {0x3c, 0x15, 0x02, 0x1c, 0x00, 0x00, 0x15, 0x04, 0x19, 0x2c,
                                   0x15, 0x0a, 0x00, 0x25, 0x0a, 0x00, 0x15, 0x00, 0x00};
    expect_bytes(&e, want, sizeof want);
}

static void test_raw_elements(void **state)
{
    (void)state;
    /* A struct encoded on its own is a valid list element. */
    core_buf_t elem;
    core_buf_init(&elem, CORE_MEM_TEST, 64);
    lake_thrift_t t;
    lake_thrift_init(&t, &elem);
    lake_thrift_field_i64(&t, 3, 10);
    assert_int_equal(lake_thrift_end(&t), 0);
    enc_t e;
    enc_init(&e);
    lake_thrift_field_i32(&e.t, 1, 2);
    lake_thrift_field_list(&e.t, 4, LAKE_CT_STRUCT, 1);
    lake_thrift_raw(&e.t, elem.data, elem.len);
    lake_thrift_field_i32(&e.t, 5, 1);
    static const uint8_t want[] = {0x15, 0x04, 0x39, 0x1c, 0x36, 0x14, 0x00, 0x15, 0x02, 0x00};
    expect_bytes(&e, want, sizeof want);
    core_buf_fini(&elem);
}

static void test_errors_are_sticky(void **state)
{
    (void)state;
    /* A buffer too small: the first failure sticks, later calls do nothing. */
    core_buf_t small;
    core_buf_init(&small, CORE_MEM_TEST, 3);
    lake_thrift_t t;
    lake_thrift_init(&t, &small);
    lake_thrift_field_i32(&t, 1, 1);
    lake_thrift_field_i64(&t, 2, INT64_MAX);
    lake_thrift_field_i32(&t, 3, 1);
    assert_int_equal(lake_thrift_end(&t), CORE_ETOOBIG);
    assert_int_equal(small.len, 3); /* 15 02, then the i64 header fit; its value did not */
    core_buf_fini(&small);

    enc_t e;
    enc_init(&e);
    lake_thrift_field_struct(&e.t, 1);
    assert_int_equal(lake_thrift_end(&e.t), CORE_EINVAL); /* left open */
    core_buf_fini(&e.buf);

    enc_init(&e);
    lake_thrift_struct_end(&e.t); /* nothing open but the outermost */
    assert_int_equal(lake_thrift_end(&e.t), CORE_EINVAL);
    core_buf_fini(&e.buf);

    enc_init(&e);
    for (int i = 0; i < LAKE_THRIFT_MAX_DEPTH + 2; i++)
        lake_thrift_field_struct(&e.t, 1);
    assert_int_equal(e.t.rc, CORE_EINVAL);
    core_buf_fini(&e.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i32_zigzag_varints),     cmocka_unit_test(test_i64_i16_i8_double),
        cmocka_unit_test(test_field_id_deltas),        cmocka_unit_test(test_bools_in_headers),
        cmocka_unit_test(test_binary_and_strings),     cmocka_unit_test(test_lists),
        cmocka_unit_test(test_structs_restart_deltas), cmocka_unit_test(test_raw_elements),
        cmocka_unit_test(test_errors_are_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

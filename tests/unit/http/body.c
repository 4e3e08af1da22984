/*
 * Unit tests of http_body_split (src/http/body.c): JSON arrays, single
 * values and NDJSON split into the spans of their records, with lines
 * counted, and invalid bodies located by line, column and byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

#include <stdio.h>
#include <string.h>

#define MAX_SEEN 16

typedef struct {
    const char *body;
    char text[MAX_SEEN][64];
    size_t line[MAX_SEEN];
    size_t n;
    size_t stop_at; /* return CORE_EEXIST at this record; 0 = never */
} seen_t;

static int collect(void *arg, const http_body_record_t *rec)
{
    seen_t *s = arg;
    assert_int_equal(rec->index, s->n);
    if (s->stop_at != 0 && rec->index + 1 == s->stop_at)
        return CORE_EEXIST;
    assert_true(s->n < MAX_SEEN);
    snprintf(s->text[s->n], sizeof s->text[0], "%.*s", (int)rec->len, s->body + rec->offset);
    s->line[s->n++] = rec->line;
    return 0;
}

static int split(http_body_format_t f, const char *body, seen_t *s, http_body_error_t *err)
{
    memset(s, 0, sizeof *s);
    s->body = body;
    return http_body_split(f, body, strlen(body), 100, collect, s, err);
}

static void test_array(void **state)
{
    (void)state;
    seen_t s;
    const char *body = " [ {\"a\": 1},\n  \"str\\\"ing\" ,\n\n 42, [1, {\"b\": []}], null ]\n";
    assert_int_equal(split(HTTP_BODY_JSON, body, &s, NULL), 0);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.text[0], "{\"a\": 1}");
    assert_string_equal(s.text[1], "\"str\\\"ing\"");
    assert_string_equal(s.text[2], "42");
    assert_string_equal(s.text[3], "[1, {\"b\": []}]");
    assert_string_equal(s.text[4], "null");
    size_t lines[] = {1, 2, 4, 4, 4};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(s.line[i], lines[i]);
}

static void test_single_value_and_empty(void **state)
{
    (void)state;
    seen_t s;
    assert_int_equal(split(HTTP_BODY_JSON, "\n  {\"x\": [1]}  \r\n", &s, NULL), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.text[0], "{\"x\": [1]}");
    assert_int_equal(s.line[0], 2);
    assert_int_equal(split(HTTP_BODY_JSON, " \n\t ", &s, NULL), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(split(HTTP_BODY_JSON, "[]", &s, NULL), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(split(HTTP_BODY_NDJSON, "", &s, NULL), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(http_body_split(HTTP_BODY_NDJSON, NULL, 0, 10, collect, &s, NULL), 0);
}

static void test_ndjson(void **state)
{
    (void)state;
    seen_t s;
    const char *body = "{\"a\":1}\r\n\n   \n  {\"b\":\"x y\"}  \n[1,2]\n\"s\"";
    assert_int_equal(split(HTTP_BODY_NDJSON, body, &s, NULL), 0);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.text[0], "{\"a\":1}");
    assert_string_equal(s.text[1], "{\"b\":\"x y\"}");
    assert_string_equal(s.text[2], "[1,2]");
    assert_string_equal(s.text[3], "\"s\"");
    size_t lines[] = {1, 4, 5, 6};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(s.line[i], lines[i]);
}

static void test_errors_are_located(void **state)
{
    (void)state;
    seen_t s;
    http_body_error_t e;
    /* NDJSON: line 3 lacks a colon at column 6. */
    assert_int_equal(split(HTTP_BODY_NDJSON, "{}\n{}\n{\"a\" 1}\n{}\n", &s, &e), CORE_ECORRUPT);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 6);
    assert_int_equal(e.offset, 11);
    assert_non_null(e.what);
    assert_non_null(strstr(core_error_detail(), "line 3, column 6 (byte 11)"));
    /* Two values on one line. */
    assert_int_equal(split(HTTP_BODY_NDJSON, "{} {}\n", &s, &e), CORE_ECORRUPT);
    assert_int_equal(e.line, 1);
    assert_int_equal(e.column, 4);
    /* An array with a trailing comma, on line 2. */
    assert_int_equal(split(HTTP_BODY_JSON, "[{},\n {},\n]", &s, &e), CORE_ECORRUPT);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 1);
    /* Unterminated array: the fault is at the end. */
    assert_int_equal(split(HTTP_BODY_JSON, "[{}, {}", &s, &e), CORE_ECORRUPT);
    assert_int_equal(e.offset, 7);
    /* Junk after a single value. */
    assert_int_equal(split(HTTP_BODY_JSON, "{} x", &s, &e), CORE_ECORRUPT);
    assert_int_equal(e.column, 4);
    /* Trailing junk after an array. */
    assert_int_equal(split(HTTP_BODY_JSON, "[1]\n]", &s, &e), CORE_ECORRUPT);
    assert_int_equal(e.line, 2);
    /* Invalid UTF-8 inside a string. */
    assert_int_equal(split(HTTP_BODY_NDJSON, "{\"a\":\"\xff\"}", &s, &e), CORE_ECORRUPT);
}

static void test_depth_is_capped(void **state)
{
    (void)state;
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < CORE_JSON_DEFAULT_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < CORE_JSON_DEFAULT_DEPTH; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    seen_t s;
    assert_int_equal(split(HTTP_BODY_NDJSON, deep, &s, NULL), 0);
    char wrapped[420];
    snprintf(wrapped, sizeof wrapped, "[%s]", deep);
    assert_int_equal(split(HTTP_BODY_JSON, wrapped, &s, NULL), 0);
    assert_int_equal(s.n, 1);
    char deeper[420];
    snprintf(deeper, sizeof deeper, "[%s]", deep);
    assert_int_equal(split(HTTP_BODY_NDJSON, deeper, &s, NULL), CORE_ECORRUPT);
}

static void test_record_cap_and_stop(void **state)
{
    (void)state;
    seen_t s = {0};
    s.body = "[1,2,3,4]";
    assert_int_equal(http_body_split(HTTP_BODY_JSON, s.body, strlen(s.body), 3, collect, &s, NULL),
                     CORE_ETOOBIG);
    assert_int_equal(s.n, 3);
    assert_int_equal(split(HTTP_BODY_JSON, "[1,2,3,4]", &s, NULL), 0);
    memset(&s, 0, sizeof s);
    s.body = "1\n2\n3\n";
    s.stop_at = 2;
    assert_int_equal(
        http_body_split(HTTP_BODY_NDJSON, s.body, strlen(s.body), 10, collect, &s, NULL),
        CORE_EEXIST);
    assert_int_equal(s.n, 1);
}

/* Only len bytes are read: a body cut in the middle of a value fails. */
static void test_length_is_respected(void **state)
{
    (void)state;
    const char *text = "{\"a\":1}\n{\"b\":2}";
    seen_t s = {.body = text};
    http_body_error_t e;
    assert_int_equal(http_body_split(HTTP_BODY_NDJSON, text, 12, 10, collect, &s, &e),
                     CORE_ECORRUPT);
    assert_int_equal(s.n, 1);
    assert_int_equal(e.line, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array),
        cmocka_unit_test(test_single_value_and_empty),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_errors_are_located),
        cmocka_unit_test(test_depth_is_capped),
        cmocka_unit_test(test_record_cap_and_stop),
        cmocka_unit_test(test_length_is_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

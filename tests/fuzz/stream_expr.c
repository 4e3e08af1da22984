/*
 * tests/fuzz/stream_expr.c - libFuzzer target for the expression language:
 * arbitrary text is compiled against a fixed schema and, when it compiles,
 * evaluated against a fixed row, with consistency oracles.
 *
 * For each input (treated as text; a NUL byte ends it):
 *   1. stream_expr_compile() either succeeds with an expression whose text
 *      is the input, or fails with CORE_EINVAL (or CORE_ENOMEM) and a
 *      detail starting "expr: ";
 *   2. a compiled expression evaluates to 0 or CORE_ETOOBIG; a value's
 *      type matches the static type unless one of them is NULL; every byte
 *      of a string result is read (ASan checks the pointer);
 *   3. evaluating again gives the same value (evaluation is pure);
 *   4. with an 8-byte scratch the result is either the same value or
 *      CORE_ETOOBIG;
 *   5. stream_expr_compile_bool() accepts exactly the texts whose static
 *      type is bool or unknown, and stream_expr_test() agrees with eval.
 * Any broken oracle calls abort(), which is what the fuzzer reports.
 *
 * Invariants: every buffer and expression is released before returning;
 * the schema is built once and kept (reachable, not a leak).
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "core/core.h"
#include "schema/schema.h"
#include "stream/expr_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEXT (70 * 1024)

static schema_t *schema;
static schema_value_t row[8];

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void str_value(schema_value_t *v, schema_type_t t, const char *s)
{
    v->type = t;
    v->v.s.p = s;
    v->v.s.len = strlen(s);
}

static void init_schema(void)
{
    static const struct {
        const char *name;
        schema_type_t type;
    } defs[] = {{"amount", SCHEMA_INT},  {"price", SCHEMA_FLOAT},  {"city", SCHEMA_STRING},
                {"active", SCHEMA_BOOL}, {"ts", SCHEMA_TIMESTAMP}, {"note", SCHEMA_STRING},
                {"meta", SCHEMA_OBJECT}, {"tags", SCHEMA_ARRAY}};
    check(schema_create("fuzz", &schema) == 0);
    for (size_t i = 0; i < CORE_ARRAY_LEN(defs); i++) {
        schema_field_def_t d = {
            .name = defs[i].name, .type = defs[i].type, .min_length = -1, .max_length = -1};
        check(schema_add_field(schema, &d) == 0);
    }
    check(schema_seal(schema) == 0);
    row[0] = (schema_value_t){.type = SCHEMA_INT, .v.i = -250};
    row[1] = (schema_value_t){.type = SCHEMA_FLOAT, .v.f = 2.5};
    str_value(&row[2], SCHEMA_STRING, "M\xc3\xbcnchen%_");
    row[3] = (schema_value_t){.type = SCHEMA_BOOL, .v.b = true};
    row[4] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = -1234567890123};
    row[5].type = SCHEMA_NULL;
    str_value(&row[6], SCHEMA_OBJECT, "{\"a\":[1,2]}");
    str_value(&row[7], SCHEMA_ARRAY, "[\"x\",null]");
}

static bool same_value(const schema_value_t *a, const schema_value_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case SCHEMA_NULL:
        return true;
    case SCHEMA_BOOL:
        return a->v.b == b->v.b;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        return a->v.i == b->v.i;
    case SCHEMA_FLOAT:
        return memcmp(&a->v.f, &b->v.f, sizeof(double)) == 0;
    default:
        return a->v.s.len == b->v.s.len &&
               (a->v.s.len == 0 || memcmp(a->v.s.p, b->v.s.p, a->v.s.len) == 0);
    }
}

/* Evaluates e with scratch, checking the result; returns the eval code. */
static int eval_checked(const stream_expr_t *e, const stream_expr_env_t *env, core_buf_t *scratch,
                        schema_value_t *v)
{
    int rc = stream_expr_eval(e, env, scratch, v);
    check(rc == 0 || rc == CORE_ETOOBIG || rc == CORE_ENOMEM);
    if (rc < 0) {
        check(v->type == SCHEMA_NULL);
        return rc;
    }
    schema_type_t st = stream_expr_type(e);
    check(v->type == SCHEMA_NULL || st == SCHEMA_NULL || v->type == st);
    if (v->type == SCHEMA_STRING || v->type == SCHEMA_OBJECT || v->type == SCHEMA_ARRAY) {
        volatile unsigned sum = 0;
        for (size_t i = 0; i < v->v.s.len; i++)
            sum += (unsigned char)v->v.s.p[i];
        (void)sum;
    }
    return rc;
}

static void run(const char *text, const stream_expr_env_t *env)
{
    stream_expr_t *e = NULL;
    int rc = stream_expr_compile(text, schema, &e);
    if (rc < 0) {
        check(rc == CORE_EINVAL || rc == CORE_ENOMEM);
        check(e == NULL);
        check(rc == CORE_ENOMEM || strncmp(core_error_detail(), "expr: ", 6) == 0);
        return;
    }
    check(e != NULL && strcmp(stream_expr_text(e), text) == 0);
    core_buf_t big, again, tiny;
    core_buf_init(&big, CORE_MEM_TEST, 1 << 16);
    core_buf_init(&again, CORE_MEM_TEST, 1 << 16);
    core_buf_init(&tiny, CORE_MEM_TEST, 8);
    schema_value_t v1, v2, v3;
    int r1 = eval_checked(e, env, &big, &v1);
    int r2 = eval_checked(e, env, &again, &v2);
    check(r1 == r2 && (r1 < 0 || same_value(&v1, &v2)));
    int r3 = eval_checked(e, env, &tiny, &v3);
    check(r3 == CORE_ETOOBIG || (r3 == r1 && (r1 < 0 || same_value(&v1, &v3))));

    schema_type_t st = stream_expr_type(e);
    stream_expr_t *b = NULL;
    rc = stream_expr_compile_bool(text, schema, &b);
    check((rc == 0) == (st == SCHEMA_BOOL || st == SCHEMA_NULL));
    if (rc == 0) {
        bool res;
        core_buf_reset(&again);
        int rt = stream_expr_test(b, env, &again, &res);
        check(rt == r1);
        check(rt < 0 || res == (v1.type == SCHEMA_BOOL && v1.v.b));
    }
    stream_expr_destroy(b);
    core_buf_fini(&big);
    core_buf_fini(&again);
    core_buf_fini(&tiny);
    stream_expr_destroy(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (schema == NULL)
        init_schema();
    if (size > MAX_TEXT)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    stream_expr_env_t env = {.fields = row, .partition = 7, .offset = 99, .timestamp_us = 0};
    str_value(&env.key, SCHEMA_STRING, "key-1");
    run(text, &env);
    env.key.type = SCHEMA_NULL;
    env.fields = NULL; /* an env without fields must not crash either */
    run(text, &env);
    free(text);
    return 0;
}

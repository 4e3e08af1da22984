/*
 * tests/fuzz/schema_decode.c - libFuzzer target for schema decoding, with
 * jansson as the differential oracle.
 *
 * For each input:
 *   1. schema_decode_json() with a fixed schema (every type, every check,
 *      small caps) returns 0 or CORE_EINVAL; a failure has a kind, a field
 *      index in range (or -1), and a bounded, valid UTF-8 reason; accepted
 *      values have the field's type, strings point into the input or the
 *      row's scratch and are valid UTF-8, and each check holds;
 *   2. jansson parses the same bytes: when it rejects them (outside the
 *      classes it cannot represent: integers beyond int64, overflowing
 *      reals, NUL in keys) we must reject too, as SCHEMA_ERR_JSON or
 *      SCHEMA_ERR_TOOBIG; when it returns an object and we accept, every
 *      field's value agrees with jansson's (strings byte for byte, ints
 *      exactly, floats bit for bit or as jansson's integer converted);
 *   3. the input split at ',' is fed cell by cell to schema_decode_text()
 *      with the same invariants, then schema_row_check_required();
 *   4. the input is parsed as a timestamp in every format; a success
 *      formats as ISO 8601 and parses back to the same microsecond.
 * Any broken oracle calls abort(), which is what the fuzzer reports.
 *
 * Invariants: the schema and row are built once and reused (as the hot path
 * does); nothing leaks per input.
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "schema/schema.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_B, F_I, F_F, F_S, F_T, F_O, F_A, F_E, F_P, F_D, NF };

static schema_t *schema;
static schema_row_t row;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void setup(void)
{
    static const char *const sides[] = {"buy", "sell", "\xc3\xa9"};
    schema_field_def_t d[NF] = {
        {.name = "b", .type = SCHEMA_BOOL},
        {.name = "i", .type = SCHEMA_INT, .has_min = true, .min = -1e6},
        {.name = "f", .type = SCHEMA_FLOAT, .has_max = true, .max = 1e12},
        {.name = "s", .type = SCHEMA_STRING, .required = true, .max_length = 20},
        {.name = "t", .type = SCHEMA_TIMESTAMP},
        {.name = "o", .type = SCHEMA_OBJECT},
        {.name = "a", .type = SCHEMA_ARRAY},
        {.name = "e", .type = SCHEMA_STRING, .enum_values = sides, .n_enum = 3},
        {.name = "p", .type = SCHEMA_STRING, .pattern = "[a-z]+(-[0-9]{1,3})?", .min_length = 2},
        {.name = "d", .type = SCHEMA_TIMESTAMP, .format = "%d/%m/%y %H:%M:%S.%f%z"},
    };
    for (int i = 0; i < NF; i++) {
        if (d[i].min_length == 0)
            d[i].min_length = -1;
        if (d[i].max_length == 0)
            d[i].max_length = -1;
    }
    check(schema_create("fuzz", &schema) == 0);
    for (int i = 0; i < NF; i++)
        check(schema_add_field(schema, &d[i]) == 0);
    schema_set_limits(schema, 48, 8);
    check(schema_seal(schema) == 0);
    check(schema_row_init(&row, schema) == 0);
}

static bool within(const char *p, size_t n, const void *base, size_t len)
{
    const char *b = base;
    return n == 0 || (p >= b && p + n <= b + len);
}

static void check_error(int rc, const schema_error_t *err)
{
    check(rc == CORE_EINVAL);
    check(err->kind > SCHEMA_ERR_NONE && err->kind < SCHEMA_ERR_RULE);
    check(err->field >= -1 && err->field < NF);
    size_t n = strnlen(err->reason, SCHEMA_REASON_MAX);
    check(n > 0 && n < SCHEMA_REASON_MAX);
    check(core_utf8_valid(err->reason, n));
}

/* The field checks hold for an accepted value. */
static void check_value(int i, const schema_value_t *v, const uint8_t *in, size_t size)
{
    const schema_field_t *f = schema_field(schema, (size_t)i);
    if (v->type == SCHEMA_NULL) {
        check(!f->required);
        return;
    }
    check(v->type == f->type);
    if (v->type == SCHEMA_STRING || v->type == SCHEMA_OBJECT || v->type == SCHEMA_ARRAY) {
        check(v->v.s.len <= 48);
        check(within(v->v.s.p, v->v.s.len, in, size) ||
              within(v->v.s.p, v->v.s.len, row.scratch.data, row.scratch.len));
    }
    if (v->type == SCHEMA_STRING)
        check(core_utf8_valid(v->v.s.p, v->v.s.len));
    if (f->has_min && v->type == SCHEMA_INT)
        check((double)v->v.i >= f->min);
    if (f->has_max && v->type == SCHEMA_FLOAT)
        check(v->v.f <= f->max);
}

static void compare_jansson(const json_t *root)
{
    for (int i = 0; i < NF; i++) {
        const schema_field_t *f = schema_field(schema, (size_t)i);
        const json_t *j = json_object_get(root, f->name);
        const schema_value_t *v = &row.values[i];
        if (j == NULL || json_is_null(j)) {
            check(v->type == SCHEMA_NULL);
            continue;
        }
        switch (f->type) {
        case SCHEMA_BOOL:
            check(v->v.b == json_is_true(j));
            break;
        case SCHEMA_INT:
            if (json_is_integer(j))
                check(v->v.i == json_integer_value(j));
            else
                check(json_is_real(j) && fabs((double)v->v.i - json_real_value(j)) <=
                                             fabs(json_real_value(j)) * 1e-15);
            break;
        case SCHEMA_FLOAT:
            if (json_is_integer(j)) {
                check(v->v.f == (double)json_integer_value(j));
            } else {
                double want = json_real_value(j);
                check(json_is_real(j) && memcmp(&v->v.f, &want, sizeof(want)) == 0);
            }
            break;
        case SCHEMA_STRING:
            check(json_is_string(j) && v->v.s.len == json_string_length(j) &&
                  memcmp(v->v.s.p, json_string_value(j), v->v.s.len) == 0);
            break;
        case SCHEMA_OBJECT:
            check(json_is_object(j));
            break;
        case SCHEMA_ARRAY:
            check(json_is_array(j));
            break;
        default:
            check(json_is_number(j) || json_is_string(j));
            break;
        }
    }
}

static void fuzz_json(const uint8_t *data, size_t size)
{
    schema_error_t err;
    json_error_t je;
    const char *p = (const char *)data;
    int rc = schema_decode_json(schema, p, size, &row, &err);
    if (rc == 0) {
        check(err.kind == SCHEMA_ERR_NONE);
        for (int i = 0; i < NF; i++)
            check_value(i, &row.values[i], data, size);
    } else {
        check_error(rc, &err);
    }
    json_t *root = json_loadb(p, size, JSON_ALLOW_NUL, &je);
    if (root == NULL) {
        bool excluded =
            strstr(je.text, "too big") || strstr(je.text, "overflow") || strstr(je.text, "NUL");
        if (!excluded)
            check(rc != 0 && (err.kind == SCHEMA_ERR_JSON || err.kind == SCHEMA_ERR_TOOBIG));
        return;
    }
    if (rc == 0) {
        check(json_is_object(root));
        compare_jansson(root);
    }
    json_decref(root);
}

static void fuzz_text(const uint8_t *data, size_t size)
{
    schema_error_t err;
    const char *p = (const char *)data, *end = p + size;
    schema_row_clear(&row);
    for (int i = 0; i < NF && p <= end; i++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        int rc = schema_decode_text(schema, (size_t)i, p, n, &row, &err);
        if (rc == 0)
            check_value(i, &row.values[i], data, size);
        else
            check_error(rc, &err);
        if (!comma)
            break;
        p = comma + 1;
    }
    int rc = schema_row_check_required(schema, &row, &err);
    check(rc == 0 || (rc == CORE_EINVAL && err.kind == SCHEMA_ERR_REQUIRED));
}

static void fuzz_timestamps(const uint8_t *data, size_t size)
{
    static const char *const patterns[] = {"%d/%m/%y", "%Y-%m-%dT%H:%M:%S.%f%z", "%H%M%S"};
    const char *p = (const char *)data;
    char iso[33];
    for (int f = SCHEMA_TS_AUTO; f <= SCHEMA_TS_STRFTIME; f++) {
        for (size_t k = 0; k < (f == SCHEMA_TS_STRFTIME ? 3 : 1); k++) {
            int64_t us, back;
            if (schema_parse_timestamp((schema_ts_format_t)f, patterns[k], p, size, &us) != 0)
                continue;
            size_t n = schema_format_timestamp(us, iso);
            check(n <= 32 && n == strlen(iso));
            check(schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, iso, n, &back) == 0);
            check(back == us);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (schema == NULL)
        setup();
    fuzz_json(data, size);
    fuzz_text(data, size);
    if (size < 256)
        fuzz_timestamps(data, size);
    return 0;
}

/*
 * tests/fuzz/http_body.c - libFuzzer target for http_body_split, the
 * decoder of record-carrying request bodies (POST /topics/{topic}/records),
 * with oracles.
 *
 * The first input byte picks the format (bit 0: NDJSON or JSON) and the
 * record cap (bit 1: 3, else 10000); the rest is the body, copied to an
 * exact-size heap block so ASan sees any read past it. For each input:
 *   1. every record lies inside the body, after the previous one, and is
 *      one valid JSON value on its own (core_json_validate) with no
 *      whitespace around it;
 *   2. a record's line is 1 + the newlines before its first byte;
 *   3. indexes count from 0 and never exceed the cap;
 *   4. a failure is CORE_ECORRUPT with a location inside the body whose
 *      line and column agree with its byte offset, or CORE_ETOOBIG exactly
 *      when cap + 1 records were found;
 *   5. NDJSON: a body without newlines that splits cleanly into one record
 *      splits the same way as JSON, unless it is an array (which JSON
 *      splits into elements).
 * Any broken oracle calls abort().
 *
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

typedef struct {
    const char *body;
    size_t len;
    size_t next_index;
    size_t min_offset;
    size_t cap;
    size_t first_off, first_len;
} oracle_t;

static size_t line_of(const char *body, size_t offset)
{
    size_t line = 1;
    for (size_t i = 0; i < offset; i++)
        line += body[i] == '\n';
    return line;
}

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int on_record(void *arg, const http_body_record_t *rec)
{
    oracle_t *o = arg;
    check(rec->index == o->next_index++ && rec->index < o->cap);
    check(rec->offset >= o->min_offset && rec->len > 0 && rec->offset + rec->len <= o->len);
    const char *p = o->body + rec->offset;
    check(!space(p[0]) && !space(p[rec->len - 1]));
    check(core_json_validate(p, rec->len, CORE_JSON_DEFAULT_DEPTH, NULL) == 0);
    check(rec->line == line_of(o->body, rec->offset));
    o->min_offset = rec->offset + rec->len;
    if (rec->index == 0) {
        o->first_off = rec->offset;
        o->first_len = rec->len;
    }
    return 0;
}

static int run(http_body_format_t f, const char *body, size_t len, size_t cap, oracle_t *o)
{
    *o = (oracle_t){.body = body, .len = len, .cap = cap};
    http_body_error_t e = {0};
    int rc = http_body_split(f, body, len, cap, on_record, o, &e);
    if (rc == CORE_ECORRUPT) {
        check(e.offset <= len && e.what != NULL);
        check(e.line == line_of(body, e.offset));
        size_t col_start = e.offset;
        while (col_start > 0 && body[col_start - 1] != '\n')
            col_start--;
        check(e.column == e.offset - col_start + 1);
    } else if (rc == CORE_ETOOBIG) {
        check(o->next_index == cap);
    } else {
        check(rc == 0);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    http_body_format_t f = (data[0] & 1) ? HTTP_BODY_NDJSON : HTTP_BODY_JSON;
    size_t cap = (data[0] & 2) ? 3 : 10000;
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (body == NULL)
        return 0;
    memcpy(body, data + 1, len);
    oracle_t o;
    int rc = run(f, body, len, cap, &o);
    if (f == HTTP_BODY_NDJSON && rc == 0 && o.next_index == 1 && memchr(body, '\n', len) == NULL &&
        body[o.first_off] != '[') {
        oracle_t j;
        check(run(HTTP_BODY_JSON, body, len, cap, &j) == 0);
        check(j.next_index == 1 && j.first_off == o.first_off && j.first_len == o.first_len);
    }
    free(body);
    return 0;
}

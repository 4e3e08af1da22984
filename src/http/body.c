/*
 * body.c - splits a record-carrying request body (a JSON array, one JSON
 * value, or NDJSON) into the byte spans of its records, with core's
 * scanner doing all validation.
 *
 * Bytes from the network: every read is bounded by len, nesting is capped
 * (CORE_JSON_DEFAULT_DEPTH inside a record), and the record count by the
 * caller's max_records. Nothing is allocated.
 *
 * Line numbers are counted incrementally as the split moves forward, so a
 * body is scanned a bounded number of times (the scanner's pass, plus the
 * newline count up to each record).
 *
 * Threading: pure functions.
 */
#include "http/http.h"

#include <string.h>

/* Depth given to a record: the array around it takes one level. */
#define RECORD_DEPTH CORE_JSON_DEFAULT_DEPTH

typedef struct {
    const char *body;
    size_t len;
    size_t max_records;
    http_body_record_fn fn;
    void *arg;
    size_t count;    /* records handed out */
    size_t line_pos; /* newlines are counted up to here */
    size_t line;     /* the line of line_pos */
} split_t;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Advances the line count to offset. */
static void count_lines(split_t *s, size_t offset)
{
    for (const char *p = s->body + s->line_pos, *end = s->body + offset; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        s->line++;
        p = nl + 1;
    }
    s->line_pos = offset;
}

static int fail(split_t *s, size_t offset, const char *what, http_body_error_t *err)
{
    count_lines(s, offset);
    size_t col_start = offset;
    while (col_start > 0 && s->body[col_start - 1] != '\n')
        col_start--;
    if (err != NULL)
        *err = (http_body_error_t){
            .offset = offset, .line = s->line, .column = offset - col_start + 1, .what = what};
    return core_error(CORE_ECORRUPT, "invalid JSON at line %zu, column %zu (byte %zu): %s", s->line,
                      offset - col_start + 1, offset, what);
}

static int emit(split_t *s, size_t offset, size_t len)
{
    if (s->count == s->max_records)
        return core_error(CORE_ETOOBIG, "the body holds more than %zu records", s->max_records);
    count_lines(s, offset);
    http_body_record_t rec = {.index = s->count++, .offset = offset, .len = len, .line = s->line};
    return s->fn(s->arg, &rec);
}

static int split_array(split_t *s, http_body_error_t *err)
{
    core_json_iter_t it;
    core_json_error_t jerr = {0};
    if (core_json_iter_init(&it, s->body, s->len, RECORD_DEPTH + 1, &jerr) != 0)
        return fail(s, jerr.offset, jerr.what, err);
    core_json_value_t v;
    int rc;
    while ((rc = core_json_array_next(&it, &v)) == 1) {
        size_t off = (size_t)(v.p - s->body), n = v.len;
        if (v.type == CORE_JSON_STRING) { /* p/len hold the text between the quotes */
            off--;
            n += 2;
        }
        rc = emit(s, off, n);
        if (rc != 0)
            return rc;
    }
    if (rc < 0)
        return fail(s, it.error.offset, it.error.what, err);
    return 0;
}

static int split_json(split_t *s, http_body_error_t *err)
{
    size_t start = 0, end = s->len;
    while (start < end && is_space(s->body[start]))
        start++;
    if (start == end)
        return 0;
    if (s->body[start] == '[')
        return split_array(s, err);
    core_json_error_t jerr = {0};
    if (core_json_validate(s->body, s->len, RECORD_DEPTH, &jerr) != 0)
        return fail(s, jerr.offset, jerr.what, err);
    while (end > start && is_space(s->body[end - 1]))
        end--;
    return emit(s, start, end - start);
}

static int split_ndjson(split_t *s, http_body_error_t *err)
{
    size_t pos = 0;
    while (pos < s->len) {
        const char *nl = memchr(s->body + pos, '\n', s->len - pos);
        size_t next = nl != NULL ? (size_t)(nl - s->body) + 1 : s->len;
        size_t start = pos, end = nl != NULL ? next - 1 : s->len;
        while (start < end && is_space(s->body[start]))
            start++;
        while (end > start && is_space(s->body[end - 1]))
            end--;
        if (end > start) {
            core_json_error_t jerr = {0};
            if (core_json_validate(s->body + start, end - start, RECORD_DEPTH, &jerr) != 0)
                return fail(s, start + jerr.offset, jerr.what, err);
            int rc = emit(s, start, end - start);
            if (rc != 0)
                return rc;
        }
        pos = next;
    }
    return 0;
}

int http_body_split(http_body_format_t format, const char *body, size_t len, size_t max_records,
                    http_body_record_fn fn, void *arg, http_body_error_t *err)
{
    split_t s = {.body = body,
                 .len = body != NULL ? len : 0,
                 .max_records = max_records,
                 .fn = fn,
                 .arg = arg,
                 .line = 1};
    if (format == HTTP_BODY_NDJSON)
        return split_ndjson(&s, err);
    return split_json(&s, err);
}

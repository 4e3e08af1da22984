/*
 * json_write.c - the JSON writer: appends one document to a core_buf_t,
 * placing commas and colons itself, escaping strings and printing doubles
 * in their shortest round-trip form.
 *
 * State: `depth` open containers; for open level d (1-based) bit d-1 of
 * is_object says object or array and bit d-1 of has_items whether a member
 * was written (so the next one needs a comma). In an object the states
 * alternate key -> value, tracked by after_key. When the root value
 * completes, `done` is set and the writer accepts nothing more.
 *
 * Invariants: the first error is kept in rc and returned by every later
 * call, so a caller may check only core_json_writer_finish(). Everything
 * written is valid JSON as long as raw fragments are.
 *
 * Threading: a writer belongs to one thread; no shared state.
 */
#include "core/core.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void core_json_writer_init(core_json_writer_t *w, core_buf_t *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

int core_json_writer_finish(const core_json_writer_t *w)
{
    if (w->rc < 0)
        return w->rc;
    if (!w->done)
        return core_error(CORE_EINVAL, "json writer: document incomplete (depth %u)",
                          (unsigned)w->depth);
    return CORE_OK;
}

static int stick(core_json_writer_t *w, int rc)
{
    if (rc < 0 && w->rc == 0)
        w->rc = rc;
    return rc;
}

static bool top_is_object(const core_json_writer_t *w)
{
    return w->depth > 0 && (w->is_object >> (w->depth - 1) & 1);
}

/* Checks that a value may come now and writes the comma before it. */
static int begin_value(core_json_writer_t *w)
{
    if (w->rc < 0)
        return w->rc;
    if (w->done)
        return stick(w, core_error(CORE_EINVAL, "json writer: value after the root value"));
    if (w->depth == 0)
        return CORE_OK;
    if (top_is_object(w)) {
        if (!w->after_key)
            return stick(w, core_error(CORE_EINVAL, "json writer: object value without a key"));
        w->after_key = false;
        return CORE_OK;
    }
    uint64_t bit = (uint64_t)1 << (w->depth - 1);
    int rc = 0;
    if (w->has_items & bit)
        rc = core_buf_append_u8(w->out, ',');
    w->has_items |= bit;
    return stick(w, rc);
}

/* Appends the scalar text p[0..n) as the next value. */
static int put_scalar(core_json_writer_t *w, const char *p, size_t n)
{
    int rc = begin_value(w);
    if (rc < 0)
        return rc;
    if ((rc = core_buf_append(w->out, p, n)) < 0)
        return stick(w, rc);
    if (w->depth == 0)
        w->done = true;
    return CORE_OK;
}

static int open_container(core_json_writer_t *w, bool object)
{
    int rc = begin_value(w);
    if (rc < 0)
        return rc;
    if (w->depth >= CORE_JSON_WRITE_DEPTH)
        return stick(w, core_error(CORE_EINVAL, "json writer: nesting deeper than %d",
                                   CORE_JSON_WRITE_DEPTH));
    if ((rc = core_buf_append_u8(w->out, object ? '{' : '[')) < 0)
        return stick(w, rc);
    uint64_t bit = (uint64_t)1 << w->depth;
    w->is_object = object ? w->is_object | bit : w->is_object & ~bit;
    w->has_items &= ~bit;
    w->depth++;
    return CORE_OK;
}

static int close_container(core_json_writer_t *w, bool object)
{
    if (w->rc < 0)
        return w->rc;
    if (w->depth == 0 || top_is_object(w) != object || w->after_key)
        return stick(w, core_error(CORE_EINVAL, "json writer: unbalanced %s end",
                                   object ? "object" : "array"));
    int rc = core_buf_append_u8(w->out, object ? '}' : ']');
    if (rc < 0)
        return stick(w, rc);
    if (--w->depth == 0)
        w->done = true;
    return CORE_OK;
}

int core_json_write_object_begin(core_json_writer_t *w)
{
    return open_container(w, true);
}

int core_json_write_object_end(core_json_writer_t *w)
{
    return close_container(w, true);
}

int core_json_write_array_begin(core_json_writer_t *w)
{
    return open_container(w, false);
}

int core_json_write_array_end(core_json_writer_t *w)
{
    return close_container(w, false);
}

int core_json_append_quoted(core_buf_t *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = core_buf_append_u8(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t elen = 2;
        const char *short_form = c ? strchr("\bb\ff\nn\rr\tt", c) : NULL;
        if (c < 0x20 && short_form) {
            esc[1] = short_form[1];
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if ((rc = core_buf_append(out, s + run, i - run)) == 0)
            rc = core_buf_append(out, esc, elen);
        run = i + 1;
    }
    if (rc == 0)
        rc = core_buf_append(out, s + run, n - run);
    if (rc == 0)
        rc = core_buf_append_u8(out, '"');
    return rc;
}

int core_json_write_key(core_json_writer_t *w, const char *s, size_t n)
{
    if (w->rc < 0)
        return w->rc;
    if (!top_is_object(w) || w->after_key)
        return stick(w, core_error(CORE_EINVAL, "json writer: key outside an object"));
    if (!core_utf8_valid(s, n))
        return stick(w, core_error(CORE_EINVAL, "json writer: key is not valid UTF-8"));
    uint64_t bit = (uint64_t)1 << (w->depth - 1);
    int rc = 0;
    if (w->has_items & bit)
        rc = core_buf_append_u8(w->out, ',');
    w->has_items |= bit;
    if (rc == 0)
        rc = core_json_append_quoted(w->out, s, n);
    if (rc == 0)
        rc = core_buf_append_u8(w->out, ':');
    w->after_key = true;
    return stick(w, rc);
}

int core_json_write_string(core_json_writer_t *w, const char *s, size_t n)
{
    if (w->rc == 0 && !core_utf8_valid(s, n))
        return stick(w, core_error(CORE_EINVAL, "json writer: string is not valid UTF-8"));
    int rc = begin_value(w);
    if (rc < 0)
        return rc;
    if ((rc = core_json_append_quoted(w->out, s, n)) < 0)
        return stick(w, rc);
    if (w->depth == 0)
        w->done = true;
    return CORE_OK;
}

int core_json_write_i64(core_json_writer_t *w, int64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    return put_scalar(w, tmp + i, sizeof(tmp) - i);
}

int core_json_write_double(core_json_writer_t *w, double v)
{
    if (!isfinite(v))
        return stick(w, core_error(CORE_EINVAL, "json writer: NaN or infinity is not JSON"));
    char tmp[40];
    int n = 0;
    /* %g drops trailing zeros, so for a normal double the first precision
     * from 15 up that reads back is the shortest (bar rare ties at binade
     * edges, which take 17). Subnormals hold fewer digits: search from 1. */
    int first = fabs(v) < DBL_MIN && v != 0 ? 1 : 15;
    for (int prec = first; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof(tmp) - 2, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    if (n <= 0 || (size_t)n >= sizeof(tmp) - 2)
        return stick(w, core_error(CORE_EINVAL, "json writer: cannot format double"));
    if (strspn(tmp, "-0123456789") == (size_t)n) {
        memcpy(tmp + n, ".0", 2);
        n += 2;
    }
    return put_scalar(w, tmp, (size_t)n);
}

int core_json_write_bool(core_json_writer_t *w, bool v)
{
    return v ? put_scalar(w, "true", 4) : put_scalar(w, "false", 5);
}

int core_json_write_null(core_json_writer_t *w)
{
    return put_scalar(w, "null", 4);
}

int core_json_write_raw(core_json_writer_t *w, const char *p, size_t n)
{
    return put_scalar(w, p, n);
}

/*
 * json.c - the hot-path JSON scanner: strict RFC 8259 validation, an
 * iterator over one container's members, all of a small object's members
 * in one call, and typed accessors.
 *
 * Design: nothing is allocated and nothing is copied. A scan walks the input
 * once; strings are checked eight bytes at a time (SWAR) until a quote, a
 * backslash, a control byte or a non-ASCII byte needs a closer look (the
 * first flagged byte of a word is found with count-trailing-zeros on
 * little-endian machines), and nested containers are skipped by one
 * iterative loop whose only state is a bit per open level (object or
 * array), so depth costs no C stack. core_json_object_members() keeps its
 * position in a register and takes the common tokens (plain strings,
 * numbers without exponent, separators without whitespace) inline; any
 * other token goes to the same scanner the iterators use, from the token's
 * start, so the two accept the same documents and fail at the same byte
 * with the same reason.
 *
 * Invariants:
 *   1. Every value handed out was fully validated, so decoding it cannot
 *      fail on its syntax (only on the output buffer's cap).
 *   2. Reads never pass `end`; the SWAR loop reads whole words only when
 *      eight bytes remain.
 *   3. A failure records the offset of the offending byte (the input length
 *      if the input ended) and a static reason; iterators keep it sticky.
 *
 * Threading: pure functions over borrowed input; an iterator belongs to
 * one thread. The only shared state is the thread's error detail.
 */
#include "core/core.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ITER_FIRST, ITER_AFTER, ITER_DONE, ITER_FAILED };

/* One scan over doc[pos, end) with `max_depth` levels of nesting allowed. */
typedef struct {
    const char *doc;
    size_t pos;
    size_t end;
    size_t max_depth;
    core_json_error_t *err;
} scan_t;

static int fail(scan_t *s, size_t off, const char *what)
{
    if (s->err) {
        s->err->offset = off;
        s->err->what = what;
    }
    return core_error(CORE_ECORRUPT, "json: byte %zu: %s%s", off,
                      off >= s->end ? "unexpected end of input; " : "", what);
}

static int depth_arg(size_t max_depth, size_t *out)
{
    if (max_depth == 0)
        max_depth = CORE_JSON_DEFAULT_DEPTH;
    if (max_depth > CORE_JSON_MAX_DEPTH)
        return core_error(CORE_EINVAL, "json: max_depth %zu exceeds %d", max_depth,
                          CORE_JSON_MAX_DEPTH);
    *out = max_depth;
    return CORE_OK;
}

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static inline void skip_ws(scan_t *s)
{
    const char *p = s->doc;
    size_t i = s->pos;
    if (i < s->end && (unsigned char)p[i] > ' ')
        return; /* the usual case: no whitespace at all */
    while (i < s->end && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    s->pos = i;
}

/* Length (2-4) of the well-formed UTF-8 sequence at p[0..n), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlongs */
        hi = c == 0xED ? 0x9F : 0xBF; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80; /* no overlongs */
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

bool core_utf8_valid(const void *p, size_t n)
{
    const unsigned char *s = p;
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = (unsigned char)p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (unsigned)(c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Reads a \uXXXX escape (and its low half, for a high surrogate) at p[*i]
 * == '\\' within [.., end); sets *cp and advances *i. Returns a reason on
 * failure, with *i at the fault. */
static const char *read_u_escape(const char *p, size_t *i, size_t end, unsigned *cp)
{
    size_t j = *i;
    unsigned hi, lo;
    if (end - j < 6 || hex4(p + j + 2, &hi) < 0)
        return "expected 4 hex digits after \\u";
    j += 6;
    if (hi >= 0xDC00 && hi <= 0xDFFF)
        return "lone low surrogate escape";
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        *i = j;
        if (end - j < 6 || p[j] != '\\' || p[j + 1] != 'u' || hex4(p + j + 2, &lo) < 0 ||
            lo < 0xDC00 || lo > 0xDFFF)
            return "expected a low surrogate escape \\uDC00-\\uDFFF after a high surrogate";
        hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        j += 6;
    }
    *i = j;
    *cp = hi;
    return NULL;
}

/* Checks the escape at p[*i] == '\\' and advances *i past it. */
static int scan_escape(scan_t *s, size_t *i)
{
    const char *p = s->doc;
    if (*i + 1 >= s->end)
        return fail(s, s->end, "expected an escape character after '\\'");
    switch (p[*i + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        *i += 2;
        return CORE_OK;
    case 'u': {
        unsigned cp;
        size_t j = *i;
        const char *why = read_u_escape(p, &j, s->end, &cp);
        if (why)
            return fail(s, j, why);
        *i = j;
        return CORE_OK;
    }
    default:
        return fail(s, *i + 1, "invalid escape (expected one of \"\\/bfnrtu after '\\')");
    }
}

/* s->pos is at the opening quote. */
static int scan_string(scan_t *s, core_json_value_t *v)
{
    const char *p = s->doc;
    size_t i = s->pos + 1, end = s->end;
    bool escaped = false;
    for (;;) {
        uint64_t w, m = 0;
        while (end - i >= 8 && (memcpy(&w, p + i, 8), (m = core_json_swar_special(w)) == 0))
            i += 8;
        i += core_json_swar_skip(m);
        if (i >= end)
            return fail(s, end, "expected '\"' to close the string");
        unsigned char c = (unsigned char)p[i];
        if (c == '"')
            break;
        if (c == '\\') {
            escaped = true;
            int rc = scan_escape(s, &i);
            if (rc < 0)
                return rc;
        } else if (c < 0x20) {
            return fail(s, i, "control character in string (must be escaped)");
        } else if (c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)p + i, end - i);
            if (n == 0)
                return fail(s, i, "invalid UTF-8 in string");
            i += n;
        } else {
            i++;
        }
    }
    v->type = CORE_JSON_STRING;
    v->p = p + s->pos + 1;
    v->len = i - s->pos - 1;
    v->escaped = escaped;
    v->integer = false;
    s->pos = i + 1;
    return CORE_OK;
}

static size_t skip_digits(const char *p, size_t i, size_t end)
{
    while (i < end && is_digit(p[i]))
        i++;
    return i;
}

/* s->pos is at '-' or a digit. */
static int scan_number(scan_t *s, core_json_value_t *v)
{
    const char *p = s->doc;
    size_t i = s->pos, end = s->end;
    bool integer = true;
    if (p[i] == '-')
        i++;
    if (i >= end || !is_digit(p[i]))
        return fail(s, i, "expected a digit after '-'");
    if (p[i] == '0') {
        if (++i < end && is_digit(p[i]))
            return fail(s, i, "leading zero in number");
    } else {
        i = skip_digits(p, i, end);
    }
    if (i < end && p[i] == '.') {
        integer = false;
        if (++i >= end || !is_digit(p[i]))
            return fail(s, i, "expected a digit after '.'");
        i = skip_digits(p, i, end);
    }
    if (i < end && (p[i] == 'e' || p[i] == 'E')) {
        integer = false;
        if (++i < end && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i >= end || !is_digit(p[i]))
            return fail(s, i, "expected a digit in the exponent");
        i = skip_digits(p, i, end);
    }
    v->type = CORE_JSON_NUMBER;
    v->p = p + s->pos;
    v->len = i - s->pos;
    v->escaped = false;
    v->integer = integer;
    s->pos = i;
    return CORE_OK;
}

static int scan_literal(scan_t *s, core_json_value_t *v, const char *word, size_t n,
                        core_json_type_t type, const char *what)
{
    if (s->end - s->pos < n || memcmp(s->doc + s->pos, word, n) != 0)
        return fail(s, s->pos, what);
    v->type = type;
    v->p = s->doc + s->pos;
    v->len = n;
    v->escaped = false;
    v->integer = false;
    s->pos += n;
    return CORE_OK;
}

/* Any value but an object or array, at s->pos. */
static int scan_scalar(scan_t *s, core_json_value_t *v)
{
    if (s->pos >= s->end)
        return fail(s, s->pos, "expected a value");
    char c = s->doc[s->pos];
    switch (c) {
    case '"':
        return scan_string(s, v);
    case 't':
        return scan_literal(s, v, "true", 4, CORE_JSON_TRUE, "expected 'true'");
    case 'f':
        return scan_literal(s, v, "false", 5, CORE_JSON_FALSE, "expected 'false'");
    case 'n':
        return scan_literal(s, v, "null", 4, CORE_JSON_NULL, "expected 'null'");
    default:
        if (c == '-' || is_digit(c))
            return scan_number(s, v);
        return fail(s, s->pos, "expected a value");
    }
}

#define STACK_WORDS (CORE_JSON_MAX_DEPTH / 64)

/* Skips the object or array at s->pos, validating everything inside. A
 * state machine over an explicit stack: bit d of `objects` says whether
 * open level d is an object. */
static int scan_container(scan_t *s, core_json_value_t *v)
{
    uint64_t objects[STACK_WORDS];
    size_t depth = 0, start = s->pos;
    const char *p = s->doc;
    core_json_value_t tmp;
    int rc;
    bool obj;
open:
    if (depth >= s->max_depth)
        return fail(s, s->pos, "nesting deeper than the depth cap");
    obj = p[s->pos] == '{';
    if (obj)
        objects[depth / 64] |= (uint64_t)1 << (depth % 64);
    else
        objects[depth / 64] &= ~((uint64_t)1 << (depth % 64));
    depth++;
    s->pos++;
    skip_ws(s);
    if (s->pos < s->end && p[s->pos] == (obj ? '}' : ']'))
        goto close;
    if (!obj)
        goto value;
key:
    if (s->pos >= s->end || p[s->pos] != '"')
        return fail(s, s->pos, "expected '\"' to start an object key");
    if ((rc = scan_string(s, &tmp)) < 0)
        return rc;
    skip_ws(s);
    if (s->pos >= s->end || p[s->pos] != ':')
        return fail(s, s->pos, "expected ':' after object key");
    s->pos++;
    skip_ws(s);
value:
    if (s->pos < s->end && (p[s->pos] == '{' || p[s->pos] == '['))
        goto open;
    if ((rc = scan_scalar(s, &tmp)) < 0)
        return rc;
after:
    skip_ws(s);
    obj = objects[(depth - 1) / 64] >> ((depth - 1) % 64) & 1;
    if (s->pos < s->end && p[s->pos] == ',') {
        s->pos++;
        skip_ws(s);
        if (obj)
            goto key;
        goto value;
    }
    if (s->pos >= s->end || p[s->pos] != (obj ? '}' : ']'))
        return fail(s, s->pos,
                    obj ? "expected ',' or '}' after object member"
                        : "expected ',' or ']' after array element");
close:
    s->pos++;
    if (--depth > 0)
        goto after;
    v->type = p[start] == '{' ? CORE_JSON_OBJECT : CORE_JSON_ARRAY;
    v->p = p + start;
    v->len = s->pos - start;
    v->escaped = false;
    v->integer = false;
    return CORE_OK;
}

/* Any value at s->pos (whitespace already skipped). */
static int scan_value(scan_t *s, core_json_value_t *v)
{
    if (s->pos < s->end && (s->doc[s->pos] == '{' || s->doc[s->pos] == '['))
        return scan_container(s, v);
    return scan_scalar(s, v);
}

int core_json_parse(const char *p, size_t len, size_t max_depth, core_json_value_t *root,
                    core_json_error_t *err)
{
    scan_t s = {.doc = p, .pos = 0, .end = len, .err = err};
    core_json_value_t v;
    int rc = depth_arg(max_depth, &s.max_depth);
    if (rc < 0)
        return rc;
    skip_ws(&s);
    if ((rc = scan_value(&s, &v)) < 0)
        return rc;
    skip_ws(&s);
    if (s.pos != len)
        return fail(&s, s.pos, "trailing characters after the document");
    if (root)
        *root = v;
    return CORE_OK;
}

int core_json_validate(const char *p, size_t len, size_t max_depth, core_json_error_t *err)
{
    return core_json_parse(p, len, max_depth, NULL, err);
}

/* ---- all members at once ----------------------------------------------- */

/* The fast path keeps its position in a local; each helper below handles
 * the common shape of a token and reports SIZE_MAX for anything else, which
 * the caller then hands to the general scanner from the token's start, so
 * both accept and reject exactly the same input and fail the same way. */

static inline size_t ws_end(const char *p, size_t i, size_t end)
{
    while (i < end && (unsigned char)p[i] <= ' ' &&
           (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    return i;
}

/* The end of a number without an exponent at p[i], or SIZE_MAX. */
static inline size_t plain_number_end(const char *p, size_t i, size_t end, bool *integer)
{
    i += i < end && p[i] == '-';
    if (i >= end || !is_digit(p[i]))
        return SIZE_MAX;
    if (p[i] == '0') {
        if (++i < end && is_digit(p[i]))
            return SIZE_MAX;
    } else {
        i = skip_digits(p, i, end);
    }
    *integer = true;
    if (i < end && p[i] == '.') {
        if (++i >= end || !is_digit(p[i]))
            return SIZE_MAX;
        i = skip_digits(p, i, end);
        *integer = false;
    }
    if (i < end && (p[i] == 'e' || p[i] == 'E'))
        return SIZE_MAX;
    return i;
}

/* The string at p[*i] == '"' into v; *i moves past it. */
static inline int member_string(scan_t *s, size_t *i, core_json_value_t *v)
{
    size_t q = core_json_plain_string_end(s->doc, *i + 1, s->end);
    if (q == SIZE_MAX) {
        s->pos = *i;
        int rc = scan_string(s, v);
        *i = s->pos;
        return rc;
    }
    v->type = CORE_JSON_STRING;
    v->p = s->doc + *i + 1;
    v->len = q - *i - 1;
    v->escaped = false;
    v->integer = false;
    *i = q + 1;
    return CORE_OK;
}

/* Any value at p[*i] (whitespace skipped) into v. */
static inline int member_value(scan_t *s, size_t *i, core_json_value_t *v)
{
    const char *p = s->doc;
    int rc;
    if (*i < s->end) {
        char c = p[*i];
        if (c == '"')
            return member_string(s, i, v);
        if (c == '-' || is_digit(c)) {
            bool integer = true;
            size_t e = plain_number_end(p, *i, s->end, &integer);
            if (e != SIZE_MAX) {
                v->type = CORE_JSON_NUMBER;
                v->p = p + *i;
                v->len = e - *i;
                v->escaped = false;
                v->integer = integer;
                *i = e;
                return CORE_OK;
            }
        }
    }
    s->pos = *i;
    rc = scan_value(s, v);
    *i = s->pos;
    return rc;
}

/* Steps past the separator `sep` at or after p[i] (whitespace allowed
 * around it) and the whitespace after it; SIZE_MAX if it is not there.
 * Inputs without whitespace pay one compare. */
static inline size_t past(const char *p, size_t i, size_t end, char sep)
{
    if (i >= end || p[i] != sep) {
        i = ws_end(p, i, end);
        if (i >= end || p[i] != sep)
            return SIZE_MAX;
    }
    i++;
    if (i < end && (unsigned char)p[i] <= ' ')
        i = ws_end(p, i, end);
    return i;
}

int core_json_object_members(const char *p, size_t len, size_t max_depth, core_json_member_t *out,
                             size_t cap, core_json_error_t *err)
{
    scan_t s = {.doc = p, .pos = 0, .end = len, .err = err};
    size_t depth = CORE_JSON_DEFAULT_DEPTH, n = 0, i, j;
    int rc = depth_arg(max_depth, &depth);
    if (rc < 0)
        return rc;
    cap = CORE_MIN(cap, (size_t)INT_MAX);
    s.max_depth = depth - 1; /* what the members may nest, as for an iterator */
    if ((i = past(p, 0, len, '{')) == SIZE_MAX)
        return fail(&s, ws_end(p, 0, len), "expected '{'");
    if (i < len && p[i] == '}')
        goto close;
    for (;;) {
        if (i >= len || p[i] != '"')
            return fail(&s, i, "expected '\"' to start an object key");
        if (n == cap)
            return core_error(CORE_ETOOBIG, "json: more than %zu members", cap);
        if ((rc = member_string(&s, &i, &out[n].key)) < 0)
            return rc;
        if ((j = past(p, i, len, ':')) == SIZE_MAX)
            return fail(&s, ws_end(p, i, len), "expected ':' after object key");
        i = j;
        if ((rc = member_value(&s, &i, &out[n].value)) < 0)
            return rc;
        n++;
        if ((j = past(p, i, len, ',')) != SIZE_MAX) {
            i = j;
            continue;
        }
        i = ws_end(p, i, len);
        if (i < len && p[i] == '}')
            break;
        return fail(&s, i, "expected ',' or '}' after object member");
    }
close:
    i = ws_end(p, i + 1, len);
    if (i != len)
        return fail(&s, i, "trailing characters after the document");
    return (int)n;
}

/* ---- iterators ---------------------------------------------------------- */

int core_json_iter_init(core_json_iter_t *it, const char *p, size_t len, size_t max_depth,
                        core_json_error_t *err)
{
    scan_t s = {.doc = p, .pos = 0, .end = len, .err = &it->error};
    size_t depth = CORE_JSON_DEFAULT_DEPTH;
    int rc = depth_arg(max_depth, &depth);
    it->doc = p;
    it->pos = 0;
    it->end = len;
    it->depth_left = 0;
    it->type = CORE_JSON_NULL;
    it->root = true;
    it->state = ITER_FAILED;
    it->error.offset = 0;
    it->error.what = "";
    it->rc = rc;
    if (rc < 0)
        return rc;
    skip_ws(&s);
    if (s.pos >= len || (p[s.pos] != '{' && p[s.pos] != '[')) {
        it->rc = fail(&s, s.pos, "expected '{' or '['");
        if (err)
            *err = it->error;
        return it->rc;
    }
    it->type = p[s.pos] == '{' ? CORE_JSON_OBJECT : CORE_JSON_ARRAY;
    it->pos = s.pos + 1;
    it->depth_left = depth - 1;
    it->state = ITER_FIRST;
    it->rc = CORE_OK;
    return CORE_OK;
}

int core_json_iter_child(const core_json_iter_t *parent, const core_json_value_t *v,
                         core_json_iter_t *child)
{
    if ((v->type != CORE_JSON_OBJECT && v->type != CORE_JSON_ARRAY) || v->p < parent->doc ||
        v->len < 2 || parent->depth_left == 0)
        return core_error(CORE_EINVAL, "json: child iterator needs a container of the parent");
    child->doc = parent->doc;
    child->pos = (size_t)(v->p - parent->doc) + 1;
    child->end = (size_t)(v->p - parent->doc) + v->len;
    child->depth_left = parent->depth_left - 1;
    child->type = v->type;
    child->state = ITER_FIRST;
    child->root = false;
    child->rc = CORE_OK;
    child->error.offset = 0;
    child->error.what = "";
    return CORE_OK;
}

/* Records a failure: the iterator stays failed and returns rc from now on. */
static int iter_fail(core_json_iter_t *it, int rc)
{
    it->state = ITER_FAILED;
    it->rc = rc;
    return rc;
}

/* Moves past the separator before the next member. Returns 1 if a member
 * follows (s->pos at it), 0 if the container closed, or an error. */
static int iter_step(core_json_iter_t *it, scan_t *s)
{
    char close = it->type == CORE_JSON_OBJECT ? '}' : ']';
    const char *p = s->doc;
    skip_ws(s);
    if (it->state == ITER_AFTER) {
        if (s->pos < s->end && p[s->pos] == ',') {
            s->pos++;
            skip_ws(s);
            return 1;
        }
    } else if (s->pos >= s->end || p[s->pos] != close) {
        return 1;
    }
    if (s->pos >= s->end || p[s->pos] != close)
        return fail(s, s->pos,
                    close == '}' ? "expected ',' or '}' after object member"
                                 : "expected ',' or ']' after array element");
    s->pos++;
    if (it->root) {
        skip_ws(s);
        if (s->pos != s->end)
            return fail(s, s->pos, "trailing characters after the document");
    }
    it->state = ITER_DONE;
    it->pos = s->pos;
    return 0;
}

int core_json_object_next(core_json_iter_t *it, core_json_value_t *key, core_json_value_t *value)
{
    if (it->state == ITER_DONE)
        return 0;
    if (it->state == ITER_FAILED)
        return it->rc;
    if (it->type != CORE_JSON_OBJECT)
        return core_error(CORE_EINVAL, "json: object_next on an array");
    scan_t s = {.doc = it->doc,
                .pos = it->pos,
                .end = it->end,
                .max_depth = it->depth_left,
                .err = &it->error};
    int rc = iter_step(it, &s);
    if (rc <= 0)
        return rc < 0 ? iter_fail(it, rc) : 0;
    if (s.pos >= s.end || s.doc[s.pos] != '"')
        return iter_fail(it, fail(&s, s.pos, "expected '\"' to start an object key"));
    if ((rc = scan_string(&s, key)) < 0)
        return iter_fail(it, rc);
    skip_ws(&s);
    if (s.pos >= s.end || s.doc[s.pos] != ':')
        return iter_fail(it, fail(&s, s.pos, "expected ':' after object key"));
    s.pos++;
    skip_ws(&s);
    if ((rc = scan_value(&s, value)) < 0)
        return iter_fail(it, rc);
    it->pos = s.pos;
    it->state = ITER_AFTER;
    return 1;
}

int core_json_array_next(core_json_iter_t *it, core_json_value_t *value)
{
    if (it->state == ITER_DONE)
        return 0;
    if (it->state == ITER_FAILED)
        return it->rc;
    if (it->type != CORE_JSON_ARRAY)
        return core_error(CORE_EINVAL, "json: array_next on an object");
    scan_t s = {.doc = it->doc,
                .pos = it->pos,
                .end = it->end,
                .max_depth = it->depth_left,
                .err = &it->error};
    int rc = iter_step(it, &s);
    if (rc <= 0)
        return rc < 0 ? iter_fail(it, rc) : 0;
    if ((rc = scan_value(&s, value)) < 0)
        return iter_fail(it, rc);
    it->pos = s.pos;
    it->state = ITER_AFTER;
    return 1;
}

/* ---- strings ------------------------------------------------------------ */

static size_t utf8_put(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the escape at p[*i] == '\\' into out[0..4); returns the byte
 * count, or 0 for a malformed escape. */
static size_t decode_escape(const char *p, size_t *i, size_t end, char *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (*i + 1 >= end)
        return 0;
    char c = p[*i + 1];
    if (c == 'u') {
        unsigned cp;
        if (read_u_escape(p, i, end, &cp) != NULL)
            return 0;
        return utf8_put(out, cp);
    }
    const char *hit = c ? memchr(from, c, sizeof(from) - 1) : NULL;
    if (!hit)
        return 0;
    out[0] = to[hit - from];
    *i += 2;
    return 1;
}

int core_json_string_decode(const core_json_value_t *v, core_buf_t *out)
{
    if (v->type != CORE_JSON_STRING)
        return core_error(CORE_EINVAL, "json: string_decode on a non-string");
    if (!v->escaped)
        return core_buf_append(out, v->p, v->len);
    /* Decoding never lengthens: reserve once, then write in place. */
    int rc = core_buf_reserve(out, v->len);
    if (rc < 0)
        return rc;
    char *dst = (char *)out->data + out->len;
    size_t i = 0, n = 0;
    while (i < v->len) {
        const char *bs = memchr(v->p + i, '\\', v->len - i);
        size_t run = bs ? (size_t)(bs - (v->p + i)) : v->len - i;
        memcpy(dst + n, v->p + i, run);
        n += run;
        i += run;
        if (i >= v->len)
            break;
        size_t k = decode_escape(v->p, &i, v->len, dst + n);
        if (k == 0)
            return core_error(CORE_ECORRUPT, "json: bad escape at string byte %zu", i);
        n += k;
    }
    out->len += n;
    return CORE_OK;
}

bool core_json_string_eq(const core_json_value_t *v, const char *s, size_t n)
{
    if (v->type != CORE_JSON_STRING)
        return false;
    if (!v->escaped)
        return v->len == n && (n == 0 || memcmp(v->p, s, n) == 0);
    size_t i = 0, j = 0;
    while (i < v->len) {
        if (v->p[i] != '\\') {
            if (j >= n || v->p[i++] != s[j++])
                return false;
            continue;
        }
        char tmp[4];
        size_t k = decode_escape(v->p, &i, v->len, tmp);
        if (k == 0 || n - j < k || memcmp(tmp, s + j, k) != 0)
            return false;
        j += k;
    }
    return j == n;
}

int core_json_find(const core_json_value_t *obj, const char *key, size_t klen,
                   core_json_value_t *out)
{
    if (obj->type != CORE_JSON_OBJECT)
        return core_error(CORE_EINVAL, "json: find on a non-object");
    core_json_iter_t it;
    core_json_value_t k, v;
    int rc = core_json_iter_init(&it, obj->p, obj->len, CORE_JSON_MAX_DEPTH, NULL);
    if (rc < 0)
        return rc;
    while ((rc = core_json_object_next(&it, &k, &v)) > 0) {
        if (core_json_string_eq(&k, key, klen)) {
            *out = v;
            return CORE_OK;
        }
    }
    return rc < 0 ? rc : CORE_ENOENT;
}

/* ---- numbers ------------------------------------------------------------ */

int core_json_to_i64(const core_json_value_t *v, int64_t *out)
{
    if (v->type != CORE_JSON_NUMBER || !v->integer || v->len == 0)
        return core_error(CORE_EINVAL, "json: not an integer: %.*s", (int)CORE_MIN(v->len, 64),
                          v->p);
    size_t i = v->p[0] == '-';
    uint64_t limit = i ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, acc = 0;
    if (i >= v->len)
        return core_error(CORE_EINVAL, "json: not an integer");
    for (; i < v->len; i++) {
        unsigned d = (unsigned)(v->p[i] - '0');
        if (d > 9)
            return core_error(CORE_EINVAL, "json: not an integer");
        if (acc > (limit - d) / 10)
            return core_error(CORE_ERANGE, "json: integer out of int64 range: %.*s",
                              (int)CORE_MIN(v->len, 64), v->p);
        acc = acc * 10 + d;
    }
    *out = v->p[0] == '-' ? (int64_t)(0 - acc) : (int64_t)acc;
    return CORE_OK;
}

/* Enough significant digits to round any decimal to the nearest double
 * (the longest exact halfway case has 767), plus a sticky digit. */
#define SIG_DIGITS 780
#define EXP_CLAMP  100000

/* Rewrites a long number as "[-]D.DDD...e<exp>" with at most SIG_DIGITS
 * significant digits; a dropped non-zero tail becomes a trailing '1', which
 * keeps strtod's rounding exact. */
static size_t normalize_number(const char *p, size_t len, char *out)
{
    size_t i = 0, n = 0, sig = 0;
    int64_t exp10 = 0; /* value = 0.DIGITS * 10^exp10 */
    bool seen = false, dropped = false, frac = false;
    if (p[0] == '-')
        out[n++] = p[i++];
    out[n++] = '.';
    for (; i < len && (is_digit(p[i]) || p[i] == '.'); i++) {
        if (p[i] == '.') {
            frac = true;
            continue;
        }
        seen = seen || p[i] != '0';
        if (!seen) { /* leading zeros: only those after the point matter */
            exp10 -= frac;
            continue;
        }
        exp10 += !frac;
        if (sig < SIG_DIGITS)
            out[n + sig++] = p[i];
        else
            dropped = dropped || p[i] != '0';
    }
    if (dropped)
        out[n + sig++] = '1';
    n += sig;
    if (!seen)
        out[n++] = '0';
    int64_t e = 0;
    if (i < len) { /* 'e' or 'E' */
        bool neg = p[++i] == '-';
        i += p[i] == '+' || p[i] == '-';
        for (; i < len; i++)
            e = e < EXP_CLAMP ? e * 10 + (p[i] - '0') : e;
        e = neg ? -e : e;
    }
    e += exp10;
    e = e > EXP_CLAMP ? EXP_CLAMP : e < -EXP_CLAMP ? -EXP_CLAMP : e;
    n += (size_t)snprintf(out + n, 16, "e%lld", (long long)e);
    out[n] = '\0';
    return n;
}

int core_json_to_double(const core_json_value_t *v, double *out)
{
    char buf[SIG_DIGITS + 32];
    if (v->type != CORE_JSON_NUMBER || v->len == 0)
        return core_error(CORE_EINVAL, "json: not a number");
    if (v->len < 64) {
        memcpy(buf, v->p, v->len);
        buf[v->len] = '\0';
    } else {
        normalize_number(v->p, v->len, buf);
    }
    errno = 0;
    char *endp;
    double d = strtod(buf, &endp);
    if (*endp != '\0')
        return core_error(CORE_EINVAL, "json: not a number");
    *out = d;
    if (errno == ERANGE && isinf(d))
        return core_error(CORE_ERANGE, "json: number overflows a double: %.*s",
                          (int)CORE_MIN(v->len, 64), v->p);
    return CORE_OK;
}

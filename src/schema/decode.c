/*
 * decode.c - the hot path: JSON objects (and CSV-style text cells) into
 * typed rows, with every field check applied.
 *
 * Three paths, one result. The ordered path (ordered_members()) takes the
 * shape producers commonly write, a compact object whose members come in
 * schema order: it matches each key against the fields expected next (two
 * masked words for short names, patterns built at seal time), checks the
 * grammar of each flat value as it converts it, and never looks a name up.
 * Anything else goes, from the start, to the fast path (fast_members()):
 * all of the object's members from one scanner call,
 * core_json_object_members(), which validates the whole document first;
 * it guesses that members come in schema order (one compare) before asking
 * the name index, and converts the commonest values (plain strings,
 * numbers in unbounded fields) without the general dispatch. Both only
 * ever accept: on any failure or anything unusual the record is decoded
 * again from the start by the reference path (members()): core's iterator
 * walks the members once (validating everything, nested values included,
 * under the schema's depth cap), each member name is looked up in the name
 * index built at seal time, and every failure is reported as documented
 * below. All convert with the same functions and without allocation
 * (numbers are read in place, with exact fast paths for short integers and
 * short decimals) and decode only strings holding escapes, into the row's
 * scratch buffer; tests/unit/schema/ordered.c checks that the ordered path
 * agrees with the others.
 *
 * Invariants:
 *   1. The scratch buffer may move while a record is decoded (it grows),
 *      so string values decoded into it are kept as offsets during the pass
 *      and turned into pointers once at the end (fix_scratch()).
 *   2. The first field failure in document order is kept, but the scan goes
 *      on: a record that is not valid JSON is reported as SCHEMA_ERR_JSON
 *      (or SCHEMA_ERR_TOOBIG for nesting) whatever came before, so the
 *      accept/reject decision never depends on where a field fails.
 *   3. A member name of the schema that appears twice is an error
 *      (SCHEMA_ERR_JSON): picking one silently would hide a bad producer.
 *   4. Reasons are bounded (SCHEMA_REASON_MAX) and name the field; values
 *      shown in them are cut to VALUE_SHOW bytes at a UTF-8 boundary.
 *
 * Threading: the schema is read-only here and may be shared; a row and its
 * scratch belong to the calling thread.
 */
#include "schema/schema.h"
#include "schema/schema_int.h"

#include <errno.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALUE_SHOW   40
#define NAME_SHOW    64
#define FAST_MEMBERS 64 /* members the fast path takes (4 KiB of stack) */

/* Outcomes of ordered_members() and fast_members(): redo the record on
 * the next path, done, or (ordered_members()) a field failed, which only
 * the reference path reports. */
enum { FAST_REDO = 0, FAST_DONE = 1, FAST_FAILED = 2 };

typedef struct {
    const schema_t *s;
    schema_row_t *row;
    schema_error_t *err;
    uint64_t seen[SCHEMA_MAX_FIELDS / 64];
    uint64_t in_scratch[SCHEMA_MAX_FIELDS / 64];
    size_t off[SCHEMA_MAX_FIELDS]; /* scratch offsets, where in_scratch */
} decode_t;

static inline bool bit_get(const uint64_t *set, size_t i)
{
    return set[i / 64] >> (i % 64) & 1;
}

static inline void bit_set(uint64_t *set, size_t i)
{
    set[i / 64] |= (uint64_t)1 << (i % 64);
}

/* ---- reasons ---------------------------------------------------------------- */

/* Appends a printable form of p[0..n) to out (NUL-terminated, at most cap
 * bytes): at most VALUE_SHOW input bytes, cut at a character boundary, then
 * "...". Raw JSON string bodies are shown as they are (already escaped);
 * other text gets '"', '\\', control bytes and invalid UTF-8 escaped. */
static void show_value(char *out, size_t cap, const char *p, size_t n, bool json_raw)
{
    size_t o = 0, i = 0;
    while (i < n && i < VALUE_SHOW && o + 8 < cap) {
        unsigned char c = (unsigned char)p[i];
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (c >= 0x80 && i + k <= n && core_utf8_valid(p + i, k)) {
            if (i + k > VALUE_SHOW)
                break;
            memcpy(out + o, p + i, k);
            o += k;
            i += k;
            continue;
        }
        if (json_raw || (c >= 0x20 && c < 0x7F && c != '"' && c != '\\'))
            out[o++] = (char)c;
        else if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, cap - o, "\\%c", c);
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02X", c);
        i++;
    }
    if (i < n && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static void set_reason(schema_error_t *err, schema_err_kind_t kind, int field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_reason(schema_error_t *err, schema_err_kind_t kind, int field, const char *fmt, ...)
{
    va_list ap;
    err->kind = kind;
    err->field = field;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
}

/* A failure of field i: "field "<name>": <what>". */
static int field_fail(const schema_t *s, schema_error_t *err, schema_err_kind_t kind, size_t i,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int field_fail(const schema_t *s, schema_error_t *err, schema_err_kind_t kind, size_t i,
                      const char *fmt, ...)
{
    char what[SCHEMA_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    set_reason(err, kind, (int)i, "field \"%.*s\": %s", NAME_SHOW, s->fields[i]->name, what);
    return CORE_EINVAL;
}

/* A number for a reason: integral values without an exponent. */
static void show_double(char *out, size_t cap, double d)
{
    if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d)
        snprintf(out, cap, "%lld", (long long)d);
    else
        snprintf(out, cap, "%.17g", d);
}

/* ---- numbers ---------------------------------------------------------------- */

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* Integer value of a JSON number: plain integers of up to 18 digits are
 * read directly, anything else exactly through schema_decimal_scaled().
 * CORE_EINVAL if it has a fraction, CORE_ERANGE outside int64. */
static int json_to_int(const core_json_value_t *v, int64_t *out)
{
    if (v->integer && v->len <= 18) {
        size_t i = v->p[0] == '-';
        int64_t acc = 0;
        for (; i < v->len; i++)
            acc = acc * 10 + (v->p[i] - '0');
        *out = v->p[0] == '-' ? -acc : acc;
        return CORE_OK;
    }
    bool inexact = false;
    int rc = schema_decimal_scaled(v->p, v->len, 0, out, &inexact);
    if (rc < 0)
        return rc;
    return inexact ? CORE_EINVAL : CORE_OK;
}

/* Powers of ten that a double holds exactly. */
static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Exact fast path for short decimals: at most 15 digits (exact in a
 * double) and a power of ten of at most 22 (also exact), so one IEEE
 * multiplication or division rounds correctly. false when it does not
 * apply; the caller then uses strtod. */
static bool fast_double(const char *p, size_t n, double *out)
{
#if FLT_EVAL_METHOD != 0
    return false;
#endif
    size_t i = 0, nd = 0, nfrac = 0;
    bool neg = false, dot = false;
    uint64_t m = 0;
    if (i < n && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    for (; i < n; i++) {
        if (is_digit(p[i])) {
            if (++nd > 15)
                return false;
            m = m * 10 + (uint64_t)(p[i] - '0');
            nfrac += dot;
        } else if (p[i] == '.' && !dot) {
            dot = true;
        } else {
            return false; /* exponents and anything else: the slow path */
        }
    }
    if (nd == 0 || nfrac > 22)
        return false;
    double d = (double)m / pow10[nfrac];
    *out = neg ? -d : d;
    return true;
}

/* Double value of decimal text p[0..n) in the grammar of strtod without
 * hex, inf or nan: [+-]digits[.digits][e[+-]digits] or [+-].digits.
 * Long texts are NUL-terminated in scratch (restored after). CORE_EINVAL
 * (syntax), CORE_ERANGE (overflow), CORE_ENOMEM / CORE_ETOOBIG (scratch). */
static int text_to_double(const char *p, size_t n, core_buf_t *scratch, double *out)
{
    int64_t ignored;
    int rc = schema_decimal_scaled(p, n, 0, &ignored, NULL);
    if (rc == CORE_EINVAL)
        return rc; /* syntax; CORE_ERANGE only means "not an int64" here */
    if (fast_double(p, n, out))
        return CORE_OK;
    char small[64], *z = small;
    size_t mark = scratch->len;
    if (n >= sizeof(small)) {
        if ((rc = core_buf_append(scratch, p, n)) < 0 ||
            (rc = core_buf_append_u8(scratch, 0)) < 0) {
            scratch->len = mark;
            return rc;
        }
        z = (char *)scratch->data + mark;
    } else {
        memcpy(small, p, n);
        small[n] = '\0';
    }
    errno = 0;
    *out = strtod(z, NULL);
    rc = errno == ERANGE && (*out > 1.0 || *out < -1.0) ? CORE_ERANGE : CORE_OK;
    scratch->len = mark;
    return rc;
}

/* fast_double for a number the scanner validated ([-]int[.frac][exp]): no
 * sign or syntax checks left, and the mantissa only has to stay below 2^53
 * (exact in a double) rather than within 15 digits. */
static bool json_fast_double(const core_json_value_t *v, double *out)
{
#if FLT_EVAL_METHOD != 0
    return false;
#endif
    const char *p = v->p, *end = v->p + v->len, *frac;
    bool neg = p < end && *p == '-';
    uint64_t m = 0;
    p += neg;
    if (end - p > 17)
        return false; /* at most 17 digits and a point: m cannot wrap */
    for (; p < end && is_digit(*p); p++)
        m = m * 10 + (uint64_t)(*p - '0');
    frac = p;
    if (p < end && *p == '.')
        for (frac = ++p; p < end && is_digit(*p); p++)
            m = m * 10 + (uint64_t)(*p - '0');
    if (p != end || m > ((uint64_t)1 << 53))
        return false; /* an exponent, or a mantissa a double cannot hold */
    double d = (double)m / pow10[p - frac];
    *out = neg ? -d : d;
    return true;
}

static int json_to_double(const core_json_value_t *v, double *out)
{
    if (json_fast_double(v, out))
        return CORE_OK;
    return core_json_to_double(v, out);
}

/* -1, 0 or 1 as v is below, equal to or above d (not NaN), exactly. */
static int cmp_i64_double(int64_t v, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)d;
    if (v != t)
        return v < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/* ---- checks ------------------------------------------------------------------ */

/* A bound for a reason: ISO text for timestamps within range. */
static void show_bound(char *out, size_t cap, const schema_field_t *f, double d)
{
    if (f->type == SCHEMA_TIMESTAMP && d >= -9.2e18 && d <= 9.2e18 && cap >= 33) {
        schema_format_timestamp((int64_t)d, out);
        return;
    }
    show_double(out, cap, d);
}

static void show_number(char *out, size_t cap, const schema_field_t *f, const schema_value_t *v)
{
    if (f->type == SCHEMA_FLOAT)
        show_double(out, cap, v->v.f);
    else if (f->type == SCHEMA_TIMESTAMP && cap >= 33)
        schema_format_timestamp(v->v.i, out);
    else
        snprintf(out, cap, "%lld", (long long)v->v.i);
}

static int check_bounds(const schema_t *s, size_t i, const schema_value_t *v, schema_error_t *err)
{
    const schema_field_t *f = s->fields[i];
    int below = 0, above = 0;
    if (f->type == SCHEMA_FLOAT) {
        below = f->has_min && v->v.f < f->min;
        above = f->has_max && v->v.f > f->max;
    } else {
        below = f->has_min && cmp_i64_double(v->v.i, f->min) < 0;
        above = f->has_max && cmp_i64_double(v->v.i, f->max) > 0;
    }
    if (!below && !above)
        return CORE_OK;
    char val[48], bound[48];
    show_number(val, sizeof(val), f, v);
    show_bound(bound, sizeof(bound), f, below ? f->min : f->max);
    return field_fail(s, err, SCHEMA_ERR_CHECK, i, "%s is %s the %s %s", val,
                      below ? "below" : "above", below ? "minimum" : "maximum", bound);
}

/* Most fields have no bounds: that case costs one test here. */
static inline int check_range(const schema_t *s, size_t i, const schema_value_t *v,
                              schema_error_t *err)
{
    const schema_field_t *f = s->fields[i];
    return f->has_min || f->has_max ? check_bounds(s, i, v, err) : CORE_OK;
}

static bool enum_has(const schema_t *s, size_t i, const char *p, size_t n)
{
    const schema_field_t *f = s->fields[i];
    if (s->enum_idx[i].mask != 0)
        return schema_names_find(&s->enum_idx[i], (const char *const *)f->enum_values, f->enum_lens,
                                 p, n) >= 0;
    for (size_t k = 0; k < f->n_enum; k++) {
        if (f->enum_lens[k] == n && (n == 0 || memcmp(f->enum_values[k], p, n) == 0))
            return true;
    }
    return false;
}

/* "a, b, c" (cut to fit) for an enum reason. */
static void show_enum(char *out, size_t cap, const schema_field_t *f)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t k = 0; k < f->n_enum && o + 8 < cap; k++) {
        int w = snprintf(out + o, cap - o, "%s\"%.32s\"", k ? ", " : "", f->enum_values[k]);
        if (w < 0 || (size_t)w >= cap - o) {
            out[o] = '\0';
            break;
        }
        o += (size_t)w;
    }
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_REGEXEC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_REGEXEC 1
#endif
#endif

/* 1 if p[0..n) matches the anchored regex, 0 if not, CORE_ENOMEM. The
 * bytes are matched in place with REG_STARTEND (no copy, NULs allowed).
 * AddressSanitizer's regexec interceptor ignores REG_STARTEND and reads to
 * a NUL, so sanitizer builds match a NUL-terminated copy instead, with the
 * same REG_STARTEND bounds and therefore the same result. */
static int pattern_match(const regex_t *re, const char *p, size_t n)
{
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)n}};
    if (n > (size_t)INT32_MAX)
        return 0;
#ifdef SANITIZER_REGEXEC
    char small[256], *copy = n < sizeof(small) ? small : core_alloc(CORE_MEM_SCHEMA, n + 1);
    if (copy == NULL)
        return CORE_ENOMEM;
    if (n > 0)
        memcpy(copy, p, n);
    copy[n] = '\0';
    int rc = regexec(re, copy, 1, m, REG_STARTEND);
    if (copy != small)
        core_free(copy);
    return rc == 0;
#else
    return regexec(re, n ? p : "", 1, m, REG_STARTEND) == 0;
#endif
}

static int check_string(const schema_t *s, size_t i, const char *p, size_t n, schema_error_t *err)
{
    const schema_field_t *f = s->fields[i];
    char val[4 * VALUE_SHOW + 8];
    if (f->n_enum > 0 && !enum_has(s, i, p, n)) {
        char list[120];
        show_value(val, sizeof(val), p, n, false);
        show_enum(list, sizeof(list), f);
        return field_fail(s, err, SCHEMA_ERR_CHECK, i, "\"%s\" is not one of %s", val, list);
    }
    if (f->min_length >= 0 || f->max_length >= 0) {
        int64_t chars = 0;
        for (size_t k = 0; k < n; k++)
            chars += ((unsigned char)p[k] & 0xC0) != 0x80;
        if (f->min_length >= 0 && chars < f->min_length)
            return field_fail(s, err, SCHEMA_ERR_CHECK, i,
                              "length %lld is below the minimum length %lld", (long long)chars,
                              (long long)f->min_length);
        if (f->max_length >= 0 && chars > f->max_length)
            return field_fail(s, err, SCHEMA_ERR_CHECK, i,
                              "length %lld is above the maximum length %lld", (long long)chars,
                              (long long)f->max_length);
    }
    if (f->pattern != NULL) {
        int rc = f->fast != NULL ? schema_fast_pattern_match(f->fast, p, n) : -1;
        if (rc < 0)
            rc = pattern_match(&f->regex, p, n);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            show_value(val, sizeof(val), p, n, false);
            return field_fail(s, err, SCHEMA_ERR_CHECK, i,
                              "\"%s\" does not match the pattern "
                              "\"%.48s\"",
                              val, f->pattern);
        }
    }
    return CORE_OK;
}

static int check_size(const schema_t *s, size_t i, size_t n, schema_error_t *err)
{
    if (n <= s->max_value)
        return CORE_OK;
    return field_fail(s, err, SCHEMA_ERR_TOOBIG, i, "value of %zu bytes exceeds the limit of %zu",
                      n, s->max_value);
}

/* ---- JSON values ---------------------------------------------------------------- */

static const char *json_type_name(core_json_type_t t)
{
    static const char *const names[] = {
        [CORE_JSON_NULL] = "null",     [CORE_JSON_FALSE] = "bool",    [CORE_JSON_TRUE] = "bool",
        [CORE_JSON_NUMBER] = "number", [CORE_JSON_STRING] = "string", [CORE_JSON_ARRAY] = "array",
        [CORE_JSON_OBJECT] = "object",
    };
    return (unsigned)t < CORE_ARRAY_LEN(names) ? names[t] : "value";
}

static int json_type_fail(decode_t *d, size_t i, const core_json_value_t *v)
{
    const schema_field_t *f = d->s->fields[i];
    char val[4 * VALUE_SHOW + 8];
    show_value(val, sizeof(val), v->p, v->len, true);
    bool quote = v->type == CORE_JSON_STRING;
    char fmt_label[80] = "";
    if (f->type == SCHEMA_TIMESTAMP)
        snprintf(fmt_label, sizeof(fmt_label), " (%.64s)", schema_ts_format_label(f));
    return field_fail(d->s, d->err, SCHEMA_ERR_TYPE, i, "expected %s%s, got %s %s%s%s",
                      schema_type_name(f->type), fmt_label, json_type_name(v->type),
                      quote ? "\"" : "", val, quote ? "\"" : "");
}

static unsigned hex_digit(char c)
{
    if (is_digit(c))
        return (unsigned)(c - '0');
    return (unsigned)((c | 0x20) - 'a' + 10);
}

/* Decoded length of an escaped string body (valid: the scanner saw it). */
static size_t escaped_len(const char *p, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] != '\\' || i + 1 >= n) {
            out++;
            i++;
            continue;
        }
        if (p[i + 1] != 'u' || i + 6 > n) {
            out++;
            i += 2;
            continue;
        }
        unsigned cp = 0;
        for (size_t k = 2; k < 6; k++)
            cp = cp << 4 | hex_digit(p[i + k]);
        i += 6;
        if (cp >= 0xD800 && cp < 0xDC00) { /* a pair: 12 bytes of text, 4 of UTF-8 */
            out += 4;
            i += 6;
        } else {
            out += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
        }
    }
    return out;
}

static int json_string(decode_t *d, size_t i, const core_json_value_t *v, schema_value_t *out)
{
    core_buf_t *sc = &d->row->scratch;
    const char *p = v->p;
    size_t n = v->len;
    int rc;
    if (v->escaped) {
        if (n > d->s->max_value && (rc = check_size(d->s, i, escaped_len(p, n), d->err)) < 0)
            return rc;
        size_t mark = sc->len;
        if ((rc = core_json_string_decode(v, sc)) < 0)
            return rc;
        p = (const char *)sc->data + mark;
        n = sc->len - mark;
        bit_set(d->in_scratch, i);
        d->off[i] = mark;
    } else if ((rc = check_size(d->s, i, n, d->err)) < 0) {
        return rc;
    }
    out->type = SCHEMA_STRING;
    out->v.s.p = p;
    out->v.s.len = n;
    return check_string(d->s, i, p, n, d->err);
}

static int ts_fail(const schema_t *s, schema_error_t *err, size_t i, const char *p, size_t n,
                   bool json_raw, const char *why)
{
    char val[4 * VALUE_SHOW + 8];
    show_value(val, sizeof(val), p, n, json_raw);
    return field_fail(s, err, SCHEMA_ERR_TYPE, i, "cannot parse \"%s\" as a timestamp (%.48s): %s",
                      val, schema_ts_format_label(s->fields[i]), why);
}

static int json_timestamp(decode_t *d, size_t i, const core_json_value_t *v, schema_value_t *out)
{
    const schema_field_t *f = d->s->fields[i];
    const char *why = "";
    int64_t us = 0;
    if (v->type == CORE_JSON_NUMBER) {
        if (f->ts_format == SCHEMA_TS_ISO8601 || f->ts_format == SCHEMA_TS_STRFTIME)
            return json_type_fail(d, i, v);
        schema_ts_format_t fmt = f->ts_format == SCHEMA_TS_AUTO ? SCHEMA_TS_EPOCH_MS : f->ts_format;
        if (schema_ts_parse(fmt, NULL, v->p, v->len, &us, &why) < 0)
            return ts_fail(d->s, d->err, i, v->p, v->len, true, why);
    } else if (v->type == CORE_JSON_STRING) {
        core_buf_t *sc = &d->row->scratch;
        size_t mark = sc->len;
        const char *p = v->p;
        size_t n = v->len;
        int rc;
        if (v->escaped) {
            if ((rc = core_json_string_decode(v, sc)) < 0)
                return rc;
            p = (const char *)sc->data + mark;
            n = sc->len - mark;
        }
        rc = schema_ts_parse(f->ts_format, f->ts_pattern, p, n, &us, &why);
        sc->len = mark;
        if (rc < 0)
            return ts_fail(d->s, d->err, i, v->p, v->len, true, why);
    } else {
        return json_type_fail(d, i, v);
    }
    out->type = SCHEMA_TIMESTAMP;
    out->v.i = us;
    return check_range(d->s, i, out, d->err);
}

static int json_number(decode_t *d, size_t i, const core_json_value_t *v, schema_value_t *out)
{
    const schema_field_t *f = d->s->fields[i];
    char val[4 * VALUE_SHOW + 8];
    int rc;
    if (f->type == SCHEMA_INT) {
        if ((rc = json_to_int(v, &out->v.i)) < 0) {
            show_value(val, sizeof(val), v->p, v->len, true);
            if (rc == CORE_ERANGE)
                return field_fail(d->s, d->err, SCHEMA_ERR_TYPE, i,
                                  "number %s is outside the int range", val);
            return json_type_fail(d, i, v);
        }
        out->type = SCHEMA_INT;
    } else {
        if (json_to_double(v, &out->v.f) < 0) {
            show_value(val, sizeof(val), v->p, v->len, true);
            return field_fail(d->s, d->err, SCHEMA_ERR_TYPE, i,
                              "number %s is outside the float range", val);
        }
        out->type = SCHEMA_FLOAT;
    }
    return check_range(d->s, i, out, d->err);
}

/* Converts and checks the member value v of field i. CORE_EINVAL with
 * d->err set for a record failure; other codes are the decoder's own. */
static int json_value(decode_t *d, size_t i, const core_json_value_t *v)
{
    const schema_field_t *f = d->s->fields[i];
    schema_value_t *out = &d->row->values[i];
    if (v->type == CORE_JSON_NULL)
        return CORE_OK; /* already SCHEMA_NULL; required is checked later */
    switch (f->type) {
    case SCHEMA_BOOL:
        if (v->type != CORE_JSON_TRUE && v->type != CORE_JSON_FALSE)
            return json_type_fail(d, i, v);
        out->type = SCHEMA_BOOL;
        out->v.b = v->type == CORE_JSON_TRUE;
        return CORE_OK;
    case SCHEMA_INT:
    case SCHEMA_FLOAT:
        if (v->type != CORE_JSON_NUMBER)
            return json_type_fail(d, i, v);
        return json_number(d, i, v, out);
    case SCHEMA_STRING:
        if (v->type != CORE_JSON_STRING)
            return json_type_fail(d, i, v);
        return json_string(d, i, v, out);
    case SCHEMA_TIMESTAMP:
        return json_timestamp(d, i, v, out);
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        if (v->type != (f->type == SCHEMA_OBJECT ? CORE_JSON_OBJECT : CORE_JSON_ARRAY))
            return json_type_fail(d, i, v);
        out->type = f->type;
        out->v.s.p = v->p;
        out->v.s.len = v->len;
        return check_size(d->s, i, v->len, d->err);
    case SCHEMA_NULL:
        break;
    }
    return json_type_fail(d, i, v);
}

/* ---- rows ------------------------------------------------------------------------ */

/* The scratch cap (computed at seal time: schema.c). */
static inline size_t scratch_cap(const schema_t *s)
{
    return s->scratch_cap;
}

int schema_row_init(schema_row_t *row, const schema_t *s)
{
    memset(row, 0, sizeof(*row));
    if (!s->sealed)
        return core_error(CORE_EINVAL, "schema \"%.64s\": row_init before schema_seal", s->name);
    row->values = core_calloc(CORE_MEM_SCHEMA, s->n_fields ? s->n_fields : 1, sizeof(*row->values));
    if (row->values == NULL)
        return core_error(CORE_ENOMEM, "schema \"%.64s\": out of memory for a row", s->name);
    row->schema = s;
    core_buf_init(&row->scratch, CORE_MEM_SCHEMA, scratch_cap(s));
    return CORE_OK;
}

void schema_row_fini(schema_row_t *row)
{
    if (row == NULL)
        return;
    core_free(row->values);
    core_buf_fini(&row->scratch);
    memset(row, 0, sizeof(*row));
}

void schema_row_clear(schema_row_t *row)
{
    if (row->schema != NULL)
        memset(row->values, 0, schema_field_count(row->schema) * sizeof(*row->values));
    core_buf_reset(&row->scratch);
}

static void err_clear(schema_error_t *err)
{
    err->kind = SCHEMA_ERR_NONE;
    err->field = -1;
    err->reason[0] = '\0';
}

/* Misuse (unsealed schema, a row of another schema). */
static int check_use(const schema_t *s, const schema_row_t *row, schema_error_t *err)
{
    err_clear(err);
    if (!s->sealed)
        return core_error(CORE_EINVAL, "schema \"%.64s\": decode before schema_seal", s->name);
    if (row->schema != s || row->values == NULL)
        return core_error(CORE_EINVAL, "schema \"%.64s\": the row belongs to another schema",
                          s->name);
    return CORE_OK;
}

static int required_fail(const schema_t *s, schema_error_t *err, size_t i, const char *what)
{
    return field_fail(s, err, SCHEMA_ERR_REQUIRED, i, "required field is %s", what);
}

int schema_row_check_required(const schema_t *s, const schema_row_t *row, schema_error_t *err)
{
    schema_error_t local;
    int rc = check_use(s, row, err ? err : &local);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < s->n_required; k++) {
        size_t i = s->required[k];
        if (row->values[i].type == SCHEMA_NULL) {
            required_fail(s, err ? err : &local, i, "missing");
            return core_error(CORE_EINVAL, "%s", (err ? err : &local)->reason);
        }
    }
    return CORE_OK;
}

/* ---- the JSON pass ------------------------------------------------------------- */

static int lookup(const schema_t *s, const core_json_value_t *k)
{
    if (!k->escaped)
        return schema_names_find(&s->index, s->names, s->name_lens, k->p, k->len);
    /* Rare: compare decoded, without a buffer. */
    for (size_t i = 0; i < s->n_fields; i++) {
        if (core_json_string_eq(k, s->names[i], s->name_lens[i]))
            return (int)i;
    }
    return -1;
}

static void json_fail(const schema_t *s, schema_error_t *err, const core_json_error_t *e,
                      size_t len)
{
    const char *what = e->what ? e->what : "malformed";
    if (strstr(what, "depth") != NULL) {
        set_reason(err, SCHEMA_ERR_TOOBIG, -1, "JSON nesting deeper than %zu levels at byte %zu",
                   s->max_depth, e->offset);
        return;
    }
    set_reason(err, SCHEMA_ERR_JSON, -1, "invalid JSON at byte %zu: %s%s", e->offset,
               e->offset >= len ? "unexpected end of input; " : "", what);
}

static void fix_scratch(decode_t *d)
{
    uint64_t any = 0;
    for (size_t w = 0; w < CORE_ARRAY_LEN(d->in_scratch); w++)
        any |= d->in_scratch[w];
    if (any == 0)
        return; /* no escaped strings: the usual case */
    for (size_t w = 0; w < CORE_ARRAY_LEN(d->in_scratch); w++) {
        uint64_t bits = d->in_scratch[w];
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            d->row->values[i].v.s.p = (const char *)d->row->scratch.data + d->off[i];
        }
    }
}

/* json_value() for the commonest members, when it could only accept: a
 * number in an int or float field without bounds that the exact fast
 * conversions take, or a string without escapes in a string field without
 * checks, within the size limit. Same result, without the dispatch.
 * false: use json_value(). */
static inline bool fast_value(const schema_t *s, const schema_field_t *f,
                              const core_json_value_t *v, schema_value_t *out)
{
    if (v->type == CORE_JSON_STRING && f->type == SCHEMA_STRING && !v->escaped &&
        v->len <= s->max_value && f->n_enum == 0 && f->min_length < 0 && f->max_length < 0 &&
        f->pattern == NULL) {
        out->type = SCHEMA_STRING;
        out->v.s.p = v->p;
        out->v.s.len = v->len;
        return true;
    }
    if (v->type != CORE_JSON_NUMBER || f->has_min || f->has_max)
        return false;
    if (f->type == SCHEMA_FLOAT && json_fast_double(v, &out->v.f)) {
        out->type = SCHEMA_FLOAT;
        return true;
    }
    if (f->type == SCHEMA_INT && v->integer && v->len <= 18) {
        json_to_int(v, &out->v.i); /* cannot fail: the short exact case */
        out->type = SCHEMA_INT;
        return true;
    }
    return false;
}

/* a[0..n) == b[0..n), inline: member names are short. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    uint32_t x, y;
    for (; n >= 4; a += 4, b += 4, n -= 4) {
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        if (x != y)
            return false;
    }
    for (; n > 0; a++, b++, n--)
        if (*a != *b)
            return false;
    return true;
}

/* The fast path: all members from one scanner call, names found by
 * guessing that members come in schema order (one compare) before the
 * index is asked. It only ever accepts: any failure (invalid JSON, a field
 * check, a duplicate, more than FAST_MEMBERS members) returns FAST_REDO with
 * the row half filled, and the caller redoes the record with members(),
 * whose reasons are the reference. Same conversions, same order, so an
 * accepted row is the one members() would build. Returns FAST_DONE when
 * the row is complete, or a negative code for the decoder's own failures. */
static int fast_members(decode_t *d, const char *json, size_t len)
{
    const schema_t *s = d->s;
    core_json_member_t m[FAST_MEMBERS];
    int n = core_json_object_members(json, len, s->max_depth, m, FAST_MEMBERS, NULL);
    size_t next = 0; /* the field expected next */
    for (int k = 0; k < n; k++) {
        const core_json_value_t *key = &m[k].key;
        int i;
        if (!key->escaped && next < s->n_fields && s->name_lens[next] == key->len &&
            same_bytes(s->names[next], key->p, key->len))
            i = (int)next;
        else if ((i = lookup(s, key)) < 0)
            continue;
        next = (size_t)i + 1;
        if (bit_get(d->seen, (size_t)i))
            return FAST_REDO;
        bit_set(d->seen, (size_t)i);
        if (fast_value(s, s->fields[i], &m[k].value, &d->row->values[i]))
            continue;
        int rc = json_value(d, (size_t)i, &m[k].value);
        if (rc < 0 && rc != CORE_EINVAL && rc != CORE_ETOOBIG)
            return rc;
        if (rc < 0 || d->err->kind != SCHEMA_ERR_NONE)
            return FAST_REDO;
    }
    return n >= 0 ? FAST_DONE : FAST_REDO;
}

/* ---- the ordered path ---------------------------------------------------------- */

static inline uint64_t load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* The field whose key `"name":` starts at p[i] == '"', trying the fields
 * from `from` on in schema order (absent fields are skipped over), or -1.
 * Only plain names are tried: raw between quotes they are the whole key.
 * Short names are compared as two masked words when 16 bytes follow. */
static int ordered_key_scan(const schema_t *s, const char *p, size_t i, size_t len, size_t from)
{
    bool words = len - i > 16;
    uint64_t w0 = words ? load8(p + i + 1) : 0, w1 = words ? load8(p + i + 9) : 0;
    for (size_t k = from; k < s->n_fields; k++) {
        const schema_key_pattern_t *kp = &s->key_pats[k];
        size_t n = s->name_lens[k];
        if (words && kp->mask[0] != 0) {
            if ((((w0 ^ kp->word[0]) & kp->mask[0]) | ((w1 ^ kp->word[1]) & kp->mask[1])) == 0)
                return (int)k;
        } else if (len - i > n + 2 && p[i + n + 1] == '"' && p[i + n + 2] == ':' &&
                   bit_get(s->plain_names, k) && same_bytes(s->names[k], p + i + 1, n)) {
            return (int)k;
        }
    }
    return -1;
}

/* ordered_key_scan(), trying the field expected next inline first. */
static inline int ordered_key(const schema_t *s, const char *p, size_t i, size_t len, size_t next)
{
    if (next < s->n_fields && len - i > 16) {
        const schema_key_pattern_t *kp = &s->key_pats[next];
        if (kp->mask[0] != 0 && (((load8(p + i + 1) ^ kp->word[0]) & kp->mask[0]) |
                                 ((load8(p + i + 9) ^ kp->word[1]) & kp->mask[1])) == 0)
            return (int)next;
    }
    return ordered_key_scan(s, p, i, len, next);
}

/* A number scanned by ordered_number(). */
typedef struct {
    uint64_t m;   /* its digits as one integer (wraps when long) */
    size_t nfrac; /* digits after the point */
    bool neg;
    bool integer; /* no fraction */
} ord_num_t;

/* The end of the number at p[i] (JSON grammar, no exponent), or SIZE_MAX,
 * with its digits gathered on the way into *n. The document ends with '}'
 * (ordered_members() checks it), which stops every run of digits before
 * the end, so the scan needs no bound checks. */
static inline size_t ordered_number(const char *p, size_t i, ord_num_t *n)
{
    uint64_t m = 0;
    n->neg = p[i] == '-';
    i += n->neg;
    if (!is_digit(p[i]))
        return SIZE_MAX;
    if (p[i] == '0') {
        if (is_digit(p[++i]))
            return SIZE_MAX; /* a leading zero */
    } else {
        for (; is_digit(p[i]); i++)
            m = m * 10 + (uint64_t)(p[i] - '0');
    }
    n->integer = p[i] != '.';
    n->nfrac = 0;
    if (!n->integer) {
        size_t at = ++i;
        if (!is_digit(p[i]))
            return SIZE_MAX;
        for (; is_digit(p[i]); i++)
            m = m * 10 + (uint64_t)(p[i] - '0');
        n->nfrac = i - at;
    }
    if (p[i] == 'e' || p[i] == 'E')
        return SIZE_MAX;
    n->m = m;
    return i;
}

/* The number p[at, e) of field f (an int or a float) into out, exactly as
 * fast_value() and json_number() would; false when that takes their
 * general conversions. */
static inline bool ordered_convert(const schema_field_t *f, size_t at, size_t e, const ord_num_t *n,
                                   schema_value_t *out)
{
#if FLT_EVAL_METHOD != 0
    if (f->type == SCHEMA_FLOAT)
        return false;
#endif
    if (f->type == SCHEMA_FLOAT && e - at - n->neg <= 17 && n->m <= ((uint64_t)1 << 53)) {
        double d = (double)n->m / pow10[n->nfrac]; /* json_fast_double() */
        out->type = SCHEMA_FLOAT;
        out->v.f = n->neg ? -d : d;
        return true;
    }
    if (f->type == SCHEMA_INT && n->integer && e - at <= 18) { /* json_to_int() */
        out->type = SCHEMA_INT;
        out->v.i = n->neg ? -(int64_t)n->m : (int64_t)n->m;
        return true;
    }
    return false;
}

/* A literal (null, true, false) at p[at] into v; its length, or 0. */
static inline size_t ordered_literal(const char *p, size_t at, size_t len, core_json_value_t *v)
{
    size_t n;
    if (len - at >= 4 && memcmp(p + at, "null", 4) == 0) {
        v->type = CORE_JSON_NULL;
        n = 4;
    } else if (len - at >= 4 && memcmp(p + at, "true", 4) == 0) {
        v->type = CORE_JSON_TRUE;
        n = 4;
    } else if (len - at >= 5 && memcmp(p + at, "false", 5) == 0) {
        v->type = CORE_JSON_FALSE;
        n = 5;
    } else {
        return 0;
    }
    v->p = p + at;
    v->len = n;
    v->escaped = false;
    v->integer = false;
    return n;
}

/* What the other paths do with a value the ordered path scanned but does
 * not convert itself: fast_value(), else json_value(). */
static int ordered_general(decode_t *d, size_t k, const core_json_value_t *v, schema_value_t *out)
{
    if (fast_value(d->s, d->s->fields[k], v, out))
        return FAST_DONE;
    int rc = json_value(d, k, v);
    if (rc < 0 && rc != CORE_EINVAL && rc != CORE_ETOOBIG)
        return rc;
    return rc < 0 || d->err->kind != SCHEMA_ERR_NONE ? FAST_FAILED : FAST_DONE;
}

/* The value of field k at p[*i] into out (the row's value k), converted
 * and checked, *i moved past it. FAST_DONE, FAST_REDO for a shape the
 * ordered path does not take (escapes, containers, exponents), FAST_FAILED
 * when a check failed, or the decoder's own negative codes. *null is set
 * for a JSON null. */
static inline int ordered_value(decode_t *d, size_t k, const char *p, size_t *i, size_t len,
                                schema_value_t *out, bool *null)
{
    const schema_field_t *f = d->s->fields[k];
    core_json_value_t v;
    size_t at = *i, e;
    char c = p[at];
    if (c == '"') { /* the closing quote comes before the final '}' */
        if ((e = core_json_plain_string_end(p, at + 1, len)) == SIZE_MAX)
            return FAST_REDO;
        *i = e + 1;
        if (f->type == SCHEMA_TIMESTAMP) { /* json_timestamp(), unescaped */
            const char *why = "";
            if (schema_ts_parse(f->ts_format, f->ts_pattern, p + at + 1, e - at - 1, &out->v.i,
                                &why) < 0)
                return FAST_FAILED;
            out->type = SCHEMA_TIMESTAMP;
            return check_range(d->s, k, out, d->err) < 0 ? FAST_FAILED : FAST_DONE;
        }
        if (bit_get(d->s->plain_strings, k) && e - at - 1 <= d->s->max_value) { /* fast_value() */
            out->type = SCHEMA_STRING;
            out->v.s.p = p + at + 1;
            out->v.s.len = e - at - 1;
            return FAST_DONE;
        }
        v.type = CORE_JSON_STRING;
        v.p = p + at + 1;
        v.len = e - at - 1;
        v.escaped = false;
        v.integer = false;
        return ordered_general(d, k, &v, out);
    }
    if (c == '-' || is_digit(c)) {
        ord_num_t n;
        if ((e = ordered_number(p, at, &n)) == SIZE_MAX)
            return FAST_REDO;
        *i = e;
        if ((f->type == SCHEMA_FLOAT || f->type == SCHEMA_INT) &&
            ordered_convert(f, at, e, &n, out))
            return check_range(d->s, k, out, d->err) < 0 ? FAST_FAILED : FAST_DONE;
        v.type = CORE_JSON_NUMBER;
        v.p = p + at;
        v.len = e - at;
        v.escaped = false;
        v.integer = n.integer;
        return ordered_general(d, k, &v, out);
    }
    if ((e = ordered_literal(p, at, len, &v)) == 0)
        return FAST_REDO;
    *i = at + e;
    if (v.type == CORE_JSON_NULL) {
        *null = true; /* already SCHEMA_NULL; required is checked later */
        return FAST_DONE;
    }
    return ordered_general(d, k, &v, out);
}

/* The ordered path, tried first: a compact object (no whitespace at all)
 * whose members are schema fields in schema order, some perhaps absent,
 * with flat values. Each key is matched against the fields expected next,
 * so no key is scanned and no name is looked up, and each value is
 * converted as it is scanned. It checks the JSON grammar of what it takes
 * as it goes, so a document it finishes is valid JSON whose members are
 * exactly the ones converted. It only ever accepts: any other shape
 * (whitespace, another order, an unknown or repeated member, an escape, a
 * nested value, an exponent) returns FAST_REDO, for fast_members(), and a
 * field check that fails returns FAST_FAILED, for the reference path,
 * which reports it. Conversions are fast_value()'s and json_value()'s, so
 * an accepted row is the one the other paths would build. *nulls tells
 * whether a member was null.
 *
 * The document must end with its closing '}': that byte stops every scan
 * of a number or a key before the end, so those need no bound checks. */
static int ordered_members(decode_t *d, const char *p, size_t len, bool *nulls)
{
    const schema_t *s = d->s;
    schema_value_t *values = d->row->values;
    size_t i = 1, next = 0;
    *nulls = false;
    if (len < 2 || p[0] != '{' || p[len - 1] != '}')
        return FAST_REDO;
    if (len == 2)
        return FAST_DONE;
    for (;;) {
        int k = p[i] == '"' ? ordered_key(s, p, i, len, next) : -1;
        if (k < 0)
            return FAST_REDO;
        i += s->name_lens[k] + 3; /* before the final '}' */
        bit_set(d->seen, (size_t)k);
        int rc = ordered_value(d, (size_t)k, p, &i, len, &values[k], nulls);
        if (rc != FAST_DONE)
            return rc;
        next = (size_t)k + 1;
        if (p[i] != ',') /* i < len: every value ends before the final '}' */
            break;
        i++;
    }
    return p[i] == '}' && i == len - 1 ? FAST_DONE : FAST_REDO;
}

/* Walks the members; returns a negative code only for the decoder's own
 * failures (out of memory). */
static int members(decode_t *d, const char *json, size_t len)
{
    core_json_iter_t it;
    core_json_value_t k, v;
    int rc;
    if (core_json_iter_init(&it, json, len, d->s->max_depth, NULL) < 0) {
        json_fail(d->s, d->err, &it.error, len);
        return CORE_OK;
    }
    if (it.type != CORE_JSON_OBJECT) {
        set_reason(d->err, SCHEMA_ERR_JSON, -1, "invalid JSON: expected an object, got an array");
        return CORE_OK;
    }
    while ((rc = core_json_object_next(&it, &k, &v)) > 0) {
        int i = lookup(d->s, &k);
        if (i < 0 || d->err->kind != SCHEMA_ERR_NONE)
            continue;
        if (bit_get(d->seen, (size_t)i)) {
            set_reason(d->err, SCHEMA_ERR_JSON, i, "field \"%.*s\": duplicate member in the object",
                       NAME_SHOW, d->s->names[i]);
            continue;
        }
        bit_set(d->seen, (size_t)i);
        rc = json_value(d, (size_t)i, &v);
        if (rc == CORE_ETOOBIG)
            field_fail(d->s, d->err, SCHEMA_ERR_TOOBIG, (size_t)i,
                       "decoded values exceed the "
                       "row's scratch limit");
        else if (rc < 0 && rc != CORE_EINVAL)
            return rc;
    }
    if (rc < 0)
        json_fail(d->s, d->err, &it.error, len);
    return CORE_OK;
}

/* Whether every required field was seen. */
static inline bool all_seen(const schema_t *s, const decode_t *d)
{
    uint64_t missing = 0;
    for (size_t w = 0; w < CORE_ARRAY_LEN(s->required_bits); w++)
        missing |= s->required_bits[w] & ~d->seen[w];
    return missing == 0;
}

/* Empties the row and the pass's state for the next path. */
static void restart(decode_t *d)
{
    memset(d->row->values, 0, d->s->n_fields * sizeof(*d->row->values));
    core_buf_reset(&d->row->scratch);
    memset(d->seen, 0, sizeof(d->seen));
    memset(d->in_scratch, 0, sizeof(d->in_scratch));
    err_clear(d->err);
}

int schema_decode_json(const schema_t *s, const char *json, size_t len, schema_row_t *row,
                       schema_error_t *err)
{
    schema_error_t local;
    decode_t d;
    if (err == NULL)
        err = &local;
    int rc = check_use(s, row, err);
    if (rc < 0)
        return rc;
    memset(row->values, 0, s->n_fields * sizeof(*row->values));
    core_buf_reset(&row->scratch);
    row->scratch.max = scratch_cap(s);
    d.s = s;
    d.row = row;
    d.err = err;
    memset(d.seen, 0, sizeof(d.seen));
    memset(d.in_scratch, 0, sizeof(d.in_scratch));
    bool nulls = true;
    rc = ordered_members(&d, json, len, &nulls);
    if (rc == FAST_REDO) { /* start again on the fast path */
        nulls = true;
        restart(&d);
        rc = fast_members(&d, json, len);
    }
    if (rc == FAST_REDO || rc == FAST_FAILED) { /* start again on the reference path */
        restart(&d);
        nulls = true;
        rc = members(&d, json, len);
    } else if (rc == FAST_DONE) {
        rc = CORE_OK;
    }
    fix_scratch(&d);
    if (rc < 0)
        return core_error(rc, "schema \"%.64s\": decoding failed: %s", s->name, core_strerror(rc));
    if (!nulls && all_seen(s, &d))
        return CORE_OK; /* the ordered path: every required field has a value */
    for (size_t k = 0; k < s->n_required && err->kind == SCHEMA_ERR_NONE; k++) {
        size_t i = s->required[k];
        if (row->values[i].type == SCHEMA_NULL)
            required_fail(s, err, i, bit_get(d.seen, i) ? "null" : "missing");
    }
    if (err->kind != SCHEMA_ERR_NONE)
        return core_error(CORE_EINVAL, "%s", err->reason);
    return CORE_OK;
}

/* ---- text cells ----------------------------------------------------------------- */

static bool text_is(const char *p, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

static int text_fail(const schema_t *s, schema_error_t *err, size_t i, const char *p, size_t n)
{
    char val[4 * VALUE_SHOW + 8];
    show_value(val, sizeof(val), p, n, false);
    return field_fail(s, err, SCHEMA_ERR_TYPE, i, "expected %s, got \"%s\"",
                      schema_type_name(s->fields[i]->type), val);
}

static int text_int(const schema_t *s, size_t i, const char *p, size_t n, schema_value_t *out,
                    schema_error_t *err)
{
    size_t k = n > 0 && (p[0] == '+' || p[0] == '-');
    if (k == n)
        return text_fail(s, err, i, p, n);
    for (size_t j = k; j < n; j++) {
        if (!is_digit(p[j]))
            return text_fail(s, err, i, p, n);
    }
    if (schema_decimal_scaled(p, n, 0, &out->v.i, NULL) < 0) {
        char val[4 * VALUE_SHOW + 8];
        show_value(val, sizeof(val), p, n, false);
        return field_fail(s, err, SCHEMA_ERR_TYPE, i, "number %s is outside the int range", val);
    }
    out->type = SCHEMA_INT;
    return check_range(s, i, out, err);
}

static int text_float(const schema_t *s, size_t i, const char *p, size_t n, schema_row_t *row,
                      schema_error_t *err)
{
    schema_value_t *out = &row->values[i];
    if (n > s->max_value)
        return check_size(s, i, n, err);
    int rc = text_to_double(p, n, &row->scratch, &out->v.f);
    if (rc == CORE_EINVAL)
        return text_fail(s, err, i, p, n);
    if (rc == CORE_ERANGE) {
        char val[4 * VALUE_SHOW + 8];
        show_value(val, sizeof(val), p, n, false);
        return field_fail(s, err, SCHEMA_ERR_TYPE, i, "number %s is outside the float range", val);
    }
    if (rc < 0)
        return rc;
    out->type = SCHEMA_FLOAT;
    return check_range(s, i, out, err);
}

static int text_container(const schema_t *s, size_t i, const char *p, size_t n, schema_value_t *out,
                          schema_error_t *err)
{
    const schema_field_t *f = s->fields[i];
    core_json_value_t root;
    core_json_error_t je = {0, ""};
    int rc = check_size(s, i, n, err);
    if (rc < 0)
        return rc;
    if (core_json_parse(p, n, s->max_depth, &root, &je) < 0) {
        if (strstr(je.what, "depth") != NULL)
            return field_fail(s, err, SCHEMA_ERR_TOOBIG, i, "JSON nesting deeper than %zu levels",
                              s->max_depth);
        return text_fail(s, err, i, p, n);
    }
    if (root.type != (f->type == SCHEMA_OBJECT ? CORE_JSON_OBJECT : CORE_JSON_ARRAY))
        return text_fail(s, err, i, p, n);
    out->type = f->type;
    out->v.s.p = root.p;
    out->v.s.len = root.len;
    return CORE_OK;
}

static int text_string(const schema_t *s, size_t i, const char *p, size_t n, schema_value_t *out,
                       schema_error_t *err)
{
    int rc = check_size(s, i, n, err);
    if (rc < 0)
        return rc;
    if (!core_utf8_valid(p, n)) {
        char val[4 * VALUE_SHOW + 8];
        show_value(val, sizeof(val), p, n, false);
        return field_fail(s, err, SCHEMA_ERR_TYPE, i, "\"%s\" is not valid UTF-8", val);
    }
    out->type = SCHEMA_STRING;
    out->v.s.p = p;
    out->v.s.len = n;
    return check_string(s, i, p, n, err);
}

/* Converts one non-null cell. */
static int text_value(const schema_t *s, size_t i, const char *p, size_t n, schema_row_t *row,
                      schema_error_t *err)
{
    const schema_field_t *f = s->fields[i];
    schema_value_t *out = &row->values[i];
    const char *why = "";
    switch (f->type) {
    case SCHEMA_BOOL: {
        bool t = text_is(p, n, "true") || text_is(p, n, "1");
        if (!t && !text_is(p, n, "false") && !text_is(p, n, "0"))
            return text_fail(s, err, i, p, n);
        out->type = SCHEMA_BOOL;
        out->v.b = t;
        return CORE_OK;
    }
    case SCHEMA_INT:
        return text_int(s, i, p, n, out, err);
    case SCHEMA_FLOAT:
        return text_float(s, i, p, n, row, err);
    case SCHEMA_STRING:
        return text_string(s, i, p, n, out, err);
    case SCHEMA_TIMESTAMP:
        if (schema_ts_parse(f->ts_format, f->ts_pattern, p, n, &out->v.i, &why) < 0)
            return ts_fail(s, err, i, p, n, false, why);
        out->type = SCHEMA_TIMESTAMP;
        return check_range(s, i, out, err);
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        return text_container(s, i, p, n, out, err);
    case SCHEMA_NULL:
        break;
    }
    return text_fail(s, err, i, p, n);
}

int schema_decode_text(const schema_t *s, size_t i, const char *text, size_t len, schema_row_t *row,
                       schema_error_t *err)
{
    schema_error_t local;
    if (err == NULL)
        err = &local;
    int rc = check_use(s, row, err);
    if (rc < 0)
        return rc;
    if (i >= s->n_fields)
        return core_error(CORE_EINVAL, "schema \"%.64s\": field index %zu out of range", s->name,
                          i);
    row->scratch.max = scratch_cap(s);
    row->values[i].type = SCHEMA_NULL;
    if (len == 0 || text_is(text, len, "nan") || text_is(text, len, "null")) {
        if (!s->fields[i]->required)
            return CORE_OK;
        if (len == 0)
            required_fail(s, err, i, "empty");
        else
            required_fail(s, err, i, text_is(text, len, "nan") ? "null (\"nan\")" : "null");
    } else if ((rc = text_value(s, i, text, len, row, err)) < 0 && rc != CORE_EINVAL) {
        row->values[i].type = SCHEMA_NULL;
        return core_error(rc, "schema \"%.64s\": decoding failed: %s", s->name, core_strerror(rc));
    }
    if (err->kind != SCHEMA_ERR_NONE) {
        row->values[i].type = SCHEMA_NULL;
        return core_error(CORE_EINVAL, "%s", err->reason);
    }
    return CORE_OK;
}

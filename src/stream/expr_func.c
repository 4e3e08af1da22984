/*
 * expr_func.c - the built-in functions of the expression language: their
 * table (names, arity, argument classes, result types) and their
 * implementations. Date and time math goes through schema's civil-date
 * functions.
 *
 * Strict functions receive evaluated arguments that are non-NULL and of
 * the declared class (a NULL or mistyped argument makes the call NULL
 * without reaching them). Lazy functions (coalesce, if, concat, least,
 * greatest) evaluate their own arguments, because NULL is not contagious
 * for them.
 *
 * Invariants: no allocation (strings go to the caller's scratch through
 * stream_expr_out_begin/commit); input strings are resolved only after the
 * reserve that may move the scratch.
 *
 * Threading: the table is static and read-only.
 */
#include "stream/expr_int.h"

#include "stream/expr_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define US_PER_SEC  INT64_C(1000000)
#define US_PER_MIN  (60 * US_PER_SEC)
#define US_PER_HOUR (60 * US_PER_MIN)
#define US_PER_DAY  (24 * US_PER_HOUR)

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* a mod b in [0, b) for b > 0, without overflow. */
static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

static void set_finite(expr_val_t *out, double f)
{
    if (isfinite(f))
        expr_set_float(out, f);
    else
        expr_set_null(out);
}

/* The bytes [start, start + len) of the string v, sharing its storage. */
static void sub_of(const expr_val_t *v, size_t start, size_t len, expr_val_t *out)
{
    if (len == 0) {
        expr_set_str(out, "", 0);
        return;
    }
    *out = *v;
    out->type = SCHEMA_STRING;
    out->v.s.len = len;
    if (v->in_scratch)
        out->v.s.off += start;
    else
        out->v.s.p += start;
}

/* Writes n bytes of src (formatted text, not a scratch string) as the
 * result. */
static int put_text(const expr_ctx_t *c, const char *src, size_t n, expr_val_t *out)
{
    char *dst = NULL;
    size_t off = 0;
    int rc = stream_expr_out_begin(c, n, &dst, &off);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(dst, src, n);
    stream_expr_out_commit(c, off, n, out);
    return 0;
}

static bool is_cont(char b)
{
    return ((unsigned char)b & 0xC0) == 0x80;
}

/* Converts an int or float to double. */
static double num(const expr_val_t *v)
{
    return v->type == SCHEMA_INT ? (double)v->v.i : v->v.f;
}

/* A copy of a string value in buf, NUL-terminated; false if too long. */
static bool copy_cstr(const expr_ctx_t *c, const expr_val_t *v, char *buf, size_t cap)
{
    if (v->v.s.len >= cap)
        return false;
    if (v->v.s.len)
        memcpy(buf, stream_expr_str(c, v), v->v.s.len);
    buf[v->v.s.len] = '\0';
    return true;
}

/* A double in the int64 range converted toward zero; false outside it
 * (and for NaN). */
static bool f2i(double f, int64_t *out)
{
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return false;
    *out = (int64_t)f;
    return true;
}

/* ------------------------------------------------------------------------
 * Lazy functions
 * ------------------------------------------------------------------------ */

/* Gives an int result the float type when the call's static type is float
 * (coalesce(int, float) and friends). */
static void promote(const expr_node_t *n, expr_val_t *v)
{
    if (n->type == SCHEMA_FLOAT && v->type == SCHEMA_INT)
        expr_set_float(v, (double)v->v.i);
}

static int fn_coalesce(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    for (uint32_t i = 0; i < n->nkids; i++) {
        int rc = stream_expr_eval_kid(c, n, i, out);
        if (rc < 0)
            return rc;
        if (out->type != SCHEMA_NULL) {
            promote(n, out);
            return 0;
        }
    }
    expr_set_null(out);
    return 0;
}

static int fn_if(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    int rc = stream_expr_eval_kid(c, n, 0, out);
    if (rc < 0)
        return rc;
    bool yes = out->type == SCHEMA_BOOL && out->v.b;
    rc = stream_expr_eval_kid(c, n, yes ? 1 : 2, out);
    if (rc == 0)
        promote(n, out);
    return rc;
}

/* concat(): NULL arguments are skipped, as in PostgreSQL. */
static int fn_concat(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    expr_set_null(out);
    for (uint32_t i = 0; i < n->nkids; i++) {
        expr_val_t v;
        int rc = stream_expr_eval_kid(c, n, i, &v);
        if (rc == 0 && v.type != SCHEMA_NULL)
            rc = stream_expr_append_text(c, out, &v);
        if (rc < 0)
            return rc;
    }
    if (out->type == SCHEMA_NULL)
        expr_set_str(out, "", 0);
    return 0;
}

/* least()/greatest(): NULLs are ignored; values that cannot be compared
 * make the result NULL. */
static int extreme(const expr_ctx_t *c, const expr_node_t *n, int want, expr_val_t *out)
{
    expr_set_null(out);
    for (uint32_t i = 0; i < n->nkids; i++) {
        expr_val_t v;
        int cmp, rc = stream_expr_eval_kid(c, n, i, &v);
        if (rc < 0)
            return rc;
        if (v.type == SCHEMA_NULL)
            continue;
        if (out->type == SCHEMA_NULL) {
            *out = v;
            continue;
        }
        if (!stream_expr_compare(c, &v, out, &cmp)) {
            expr_set_null(out);
            return 0;
        }
        if (cmp == want)
            *out = v;
    }
    promote(n, out);
    return 0;
}

static int fn_least(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    return extreme(c, n, -1, out);
}

static int fn_greatest(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    return extreme(c, n, 1, out);
}

/* ------------------------------------------------------------------------
 * Strings
 * ------------------------------------------------------------------------ */

static int change_case(const expr_ctx_t *c, const expr_val_t *s, bool up, expr_val_t *out)
{
    char *dst = NULL;
    size_t off = 0, n = s->v.s.len;
    int rc = stream_expr_out_begin(c, n, &dst, &off);
    if (rc < 0)
        return rc;
    const char *src = stream_expr_str(c, s); /* after the reserve */
    for (size_t i = 0; i < n; i++) {
        char ch = src[i];
        if (up && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        else if (!up && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        dst[i] = ch;
    }
    stream_expr_out_commit(c, off, n, out);
    return 0;
}

static int fn_lower(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)n;
    return change_case(c, &a[0], false, out);
}

static int fn_upper(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)n;
    return change_case(c, &a[0], true, out);
}

static int fn_length(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                     expr_val_t *out)
{
    (void)n;
    const char *s = stream_expr_str(c, &a[0]);
    int64_t count = 0;
    for (size_t i = 0; i < a[0].v.s.len; i++)
        count += !is_cont(s[i]);
    expr_set_int(out, SCHEMA_INT, count);
    return 0;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int fn_trim(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)n;
    const char *s = stream_expr_str(c, &a[0]);
    size_t b = 0, e = a[0].v.s.len;
    while (b < e && is_space(s[b]))
        b++;
    while (e > b && is_space(s[e - 1]))
        e--;
    sub_of(&a[0], b, e - b, out);
    return 0;
}

/* Byte offset of the code point numbered k (0-based) in s, or len. */
static size_t cp_offset(const char *s, size_t len, int64_t k)
{
    size_t i = 0;
    while (i < len && k > 0) {
        i++;
        while (i < len && is_cont(s[i]))
            i++;
        k--;
    }
    return i;
}

/* substr(s, start[, len]): 1-based code points; positions before 1 count
 * toward len (as in PostgreSQL); a negative len is NULL. */
static int fn_substr(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                     expr_val_t *out)
{
    int64_t from = a[1].v.i, to = INT64_MAX; /* [from, to) in 1-based positions */
    if (n->nkids > 2) {
        if (a[2].v.i < 0) {
            expr_set_null(out);
            return 0;
        }
        if (__builtin_add_overflow(from, a[2].v.i, &to))
            to = INT64_MAX;
    }
    if (from < 1)
        from = 1;
    if (to <= from) {
        expr_set_str(out, "", 0);
        return 0;
    }
    const char *s = stream_expr_str(c, &a[0]);
    size_t len = a[0].v.s.len;
    size_t b = cp_offset(s, len, from - 1);
    size_t e = to == INT64_MAX ? len : b + cp_offset(s + b, len - b, to - from);
    sub_of(&a[0], b, e - b, out);
    return 0;
}

static int fn_contains(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                       expr_val_t *out)
{
    (void)n;
    size_t hn = a[0].v.s.len, nn = a[1].v.s.len;
    bool r = nn == 0 || (nn <= hn && memmem(stream_expr_str(c, &a[0]), hn,
                                            stream_expr_str(c, &a[1]), nn) != NULL);
    expr_set_bool(out, r);
    return 0;
}

static int fn_starts_with(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                          expr_val_t *out)
{
    (void)n;
    size_t hn = a[0].v.s.len, pn = a[1].v.s.len;
    bool r = pn == 0 ||
             (pn <= hn && memcmp(stream_expr_str(c, &a[0]), stream_expr_str(c, &a[1]), pn) == 0);
    expr_set_bool(out, r);
    return 0;
}

static int fn_ends_with(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                        expr_val_t *out)
{
    (void)n;
    size_t hn = a[0].v.s.len, pn = a[1].v.s.len;
    bool r = pn == 0 || (pn <= hn && memcmp(stream_expr_str(c, &a[0]) + hn - pn,
                                            stream_expr_str(c, &a[1]), pn) == 0);
    expr_set_bool(out, r);
    return 0;
}

/* Number of non-overlapping occurrences of f[0..fn) in s[0..sn). */
static size_t count_hits(const char *s, size_t sn, const char *f, size_t fn)
{
    size_t hits = 0, i = 0;
    const char *h;
    while (i + fn <= sn && (h = memmem(s + i, sn - i, f, fn)) != NULL) {
        hits++;
        i = (size_t)(h - s) + fn;
    }
    return hits;
}

/* replace(s, from, to): every non-overlapping occurrence, left to right;
 * an empty `from` leaves s unchanged. */
static int fn_replace(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                      expr_val_t *out)
{
    (void)n;
    size_t sn = a[0].v.s.len, fn = a[1].v.s.len, tn = a[2].v.s.len, off = 0;
    size_t hits = fn ? count_hits(stream_expr_str(c, &a[0]), sn, stream_expr_str(c, &a[1]), fn) : 0;
    if (hits == 0) {
        *out = a[0];
        return 0;
    }
    size_t grow = tn > fn ? tn - fn : 0;
    if (grow && hits > (SIZE_MAX - sn) / grow)
        return core_error(CORE_ETOOBIG, "expr: replace() result too long");
    size_t total = sn - hits * (fn - CORE_MIN(fn, tn)) + hits * grow;
    if (total == 0) {
        expr_set_str(out, "", 0);
        return 0;
    }
    char *dst = NULL;
    int rc = stream_expr_out_begin(c, total, &dst, &off);
    if (rc < 0)
        return rc;
    const char *s = stream_expr_str(c, &a[0]), *f = stream_expr_str(c, &a[1]);
    const char *t = stream_expr_str(c, &a[2]);
    size_t i = 0, w = 0;
    const char *h;
    while (i + fn <= sn && (h = memmem(s + i, sn - i, f, fn)) != NULL) {
        size_t at = (size_t)(h - s);
        if (at > i)
            memcpy(dst + w, s + i, at - i);
        w += at - i;
        if (tn)
            memcpy(dst + w, t, tn);
        w += tn;
        i = at + fn;
    }
    if (sn > i)
        memcpy(dst + w, s + i, sn - i);
    stream_expr_out_commit(c, off, total, out);
    return 0;
}

/* Code points in s[0..len) (continuation bytes are not counted). */
static int64_t cp_count(const char *s, size_t len)
{
    int64_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += !is_cont(s[i]);
    return count;
}

/* lpad(s, n[, fill]) and rpad(s, n[, fill]), as in PostgreSQL: s cut or
 * padded to n code points, with fill (default ' ') repeated on the left or
 * the right. An empty fill leaves a short s as it is; n < 0 gives ''. */
static int pad(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out,
               bool left)
{
    int64_t want = a[1].v.i, have = cp_count(stream_expr_str(c, &a[0]), a[0].v.s.len);
    size_t sn = a[0].v.s.len, fn = n->nkids > 2 ? a[2].v.s.len : 1;
    int64_t fill_cps = n->nkids > 2 ? cp_count(stream_expr_str(c, &a[2]), fn) : 1;
    if (want <= 0) {
        expr_set_str(out, "", 0);
        return 0;
    }
    if (have >= want || fill_cps == 0) {
        size_t keep = cp_offset(stream_expr_str(c, &a[0]), sn, want);
        sub_of(&a[0], 0, keep, out);
        return 0;
    }
    /* Padding: `full` whole copies of fill, then its first `rest` code
     * points. */
    int64_t need = want - have, full = need / fill_cps, rest = need % fill_cps;
    const char *f0 = n->nkids > 2 ? stream_expr_str(c, &a[2]) : " ";
    size_t rest_bytes = cp_offset(f0, fn, rest), padn = 0, total = 0;
    if (__builtin_mul_overflow((size_t)full, fn, &padn) ||
        __builtin_add_overflow(padn, rest_bytes, &padn) || __builtin_add_overflow(padn, sn, &total))
        return core_error(CORE_ETOOBIG, "expr: %s() result too long", left ? "lpad" : "rpad");
    char *dst = NULL;
    size_t off = 0;
    int rc = stream_expr_out_begin(c, total, &dst, &off);
    if (rc < 0)
        return rc;
    const char *s = stream_expr_str(c, &a[0]);
    const char *f = n->nkids > 2 ? stream_expr_str(c, &a[2]) : " ";
    char *p = left ? dst : dst + sn;
    for (int64_t k = 0; k < full; k++, p += fn)
        memcpy(p, f, fn);
    if (rest_bytes)
        memcpy(p, f, rest_bytes);
    if (sn)
        memcpy(left ? dst + padn : dst, s, sn);
    stream_expr_out_commit(c, off, total, out);
    return 0;
}

static int fn_lpad(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    return pad(c, n, a, out, true);
}

static int fn_rpad(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    return pad(c, n, a, out, false);
}

/* ------------------------------------------------------------------------
 * Numbers
 * ------------------------------------------------------------------------ */

static int fn_abs(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)c;
    (void)n;
    if (a[0].type == SCHEMA_FLOAT)
        expr_set_float(out, fabs(a[0].v.f));
    else if (a[0].v.i == INT64_MIN)
        expr_set_null(out);
    else
        expr_set_int(out, SCHEMA_INT, a[0].v.i < 0 ? -a[0].v.i : a[0].v.i);
    return 0;
}

/* Rounds an int to a negative number of digits, half away from zero. */
static void round_int(int64_t x, int64_t digits, expr_val_t *out)
{
    if (digits >= 0) {
        expr_set_int(out, SCHEMA_INT, x);
        return;
    }
    if (digits < -18) {
        expr_set_int(out, SCHEMA_INT, 0);
        return;
    }
    int64_t m = 1, r;
    for (int64_t i = 0; i < -digits; i++)
        m *= 10;
    int64_t q = x / m, rem = x % m;
    if (rem >= (m + 1) / 2 || rem <= -((m + 1) / 2))
        q += x < 0 ? -1 : 1;
    if (__builtin_mul_overflow(q, m, &r))
        expr_set_null(out);
    else
        expr_set_int(out, SCHEMA_INT, r);
}

/* round(x[, digits]): half away from zero; ints stay ints. */
static int fn_round(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)c;
    int64_t d = n->nkids > 1 ? a[1].v.i : 0;
    if (a[0].type == SCHEMA_INT) {
        round_int(a[0].v.i, d, out);
        return 0;
    }
    double x = a[0].v.f;
    if (d == 0)
        set_finite(out, round(x));
    else if (d > 330)
        set_finite(out, x);
    else if (d < -330)
        set_finite(out, x * 0.0);
    else if (d > 0) {
        double s = pow(10.0, (double)d), y = x * s;
        set_finite(out, isfinite(y) ? round(y) / s : x);
    } else {
        double s = pow(10.0, (double)-d);
        set_finite(out, round(x / s) * s);
    }
    return 0;
}

static int fn_floor(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)c;
    (void)n;
    *out = a[0];
    if (a[0].type == SCHEMA_FLOAT)
        out->v.f = floor(a[0].v.f);
    return 0;
}

static int fn_ceil(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)c;
    (void)n;
    *out = a[0];
    if (a[0].type == SCHEMA_FLOAT)
        out->v.f = ceil(a[0].v.f);
    return 0;
}

static int fn_sqrt(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)c;
    (void)n;
    double x = num(&a[0]);
    if (x < 0)
        expr_set_null(out);
    else
        set_finite(out, sqrt(x));
    return 0;
}

static int fn_ln(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)c;
    (void)n;
    double x = num(&a[0]);
    if (x <= 0)
        expr_set_null(out);
    else
        set_finite(out, log(x));
    return 0;
}

static int fn_exp(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)c;
    (void)n;
    set_finite(out, exp(num(&a[0])));
    return 0;
}

static int fn_pow(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)c;
    (void)n;
    set_finite(out, pow(num(&a[0]), num(&a[1])));
    return 0;
}

/* ------------------------------------------------------------------------
 * Conversions
 * ------------------------------------------------------------------------ */

/* Parses a whole decimal float (digits, sign, '.', exponent; no hex, inf
 * or nan). */
static bool parse_float(const char *buf, double *out)
{
    if (buf[0] == '\0' || strspn(buf, "0123456789+-.eE") != strlen(buf))
        return false;
    char *end;
    errno = 0;
    double f = strtod(buf, &end);
    if (*end != '\0' || !isfinite(f))
        return false;
    *out = f;
    return true;
}

static int fn_int(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)n;
    const expr_val_t *v = &a[0];
    int64_t i = 0;
    bool ok = true;
    char buf[64];
    double f;
    switch (v->type) {
    case SCHEMA_BOOL:
        i = v->v.b;
        break;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        i = v->v.i;
        break;
    case SCHEMA_FLOAT:
        ok = f2i(v->v.f, &i);
        break;
    default: /* string: an integer, else a float truncated toward zero */
        ok = copy_cstr(c, v, buf, sizeof(buf));
        if (ok && core_parse_i64(buf, INT64_MIN, INT64_MAX, &i) < 0)
            ok = parse_float(buf, &f) && f2i(f, &i);
        break;
    }
    if (ok)
        expr_set_int(out, SCHEMA_INT, i);
    else
        expr_set_null(out);
    return 0;
}

static int fn_float(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)n;
    const expr_val_t *v = &a[0];
    char buf[512];
    double f = 0;
    switch (v->type) {
    case SCHEMA_BOOL:
        f = v->v.b;
        break;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        f = (double)v->v.i;
        break;
    case SCHEMA_FLOAT:
        f = v->v.f;
        break;
    default:
        if (!copy_cstr(c, v, buf, sizeof(buf)) || !parse_float(buf, &f)) {
            expr_set_null(out);
            return 0;
        }
        break;
    }
    set_finite(out, f);
    return 0;
}

static int fn_string(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                     expr_val_t *out)
{
    (void)n;
    char tmp[48];
    if (a[0].type == SCHEMA_STRING || a[0].type == SCHEMA_OBJECT || a[0].type == SCHEMA_ARRAY) {
        *out = a[0];
        out->type = SCHEMA_STRING;
        return 0;
    }
    size_t len = stream_expr_text_of(&a[0], tmp);
    return put_text(c, tmp, len, out);
}

/* bool(x): numbers are true when non-zero; strings 'true'/'false'/'1'/'0'
 * in any case; anything else is NULL. */
static int fn_bool(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)n;
    const expr_val_t *v = &a[0];
    if (v->type == SCHEMA_BOOL)
        *out = *v;
    else if (v->type == SCHEMA_INT)
        expr_set_bool(out, v->v.i != 0);
    else if (v->type == SCHEMA_FLOAT)
        expr_set_bool(out, v->v.f != 0);
    else {
        const char *s = stream_expr_str(c, v);
        size_t len = v->v.s.len;
        if ((len == 4 && strncasecmp(s, "true", 4) == 0) || (len == 1 && s[0] == '1'))
            expr_set_bool(out, true);
        else if ((len == 5 && strncasecmp(s, "false", 5) == 0) || (len == 1 && s[0] == '0'))
            expr_set_bool(out, false);
        else
            expr_set_null(out);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------ */

typedef enum {
    PART_YEAR,
    PART_MONTH,
    PART_DAY,
    PART_HOUR,
    PART_MINUTE,
    PART_SECOND,
    PART_DOW
} part_t;

static int64_t time_part(int64_t us, part_t part)
{
    int64_t days = floor_div(us, US_PER_DAY), in_day = floor_mod(us, US_PER_DAY);
    int y, m, d;
    switch (part) {
    case PART_HOUR:
        return in_day / US_PER_HOUR;
    case PART_MINUTE:
        return in_day / US_PER_MIN % 60;
    case PART_SECOND:
        return in_day / US_PER_SEC % 60;
    case PART_DOW:
        return floor_mod(days + 4, 7); /* 1970-01-01 was a Thursday */
    default:
        break;
    }
    schema_civil_from_days(days, &y, &m, &d);
    return part == PART_YEAR ? y : part == PART_MONTH ? m : d;
}

#define TIME_PART_FN(fname, part)                                                                  \
    static int fname(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,               \
                     expr_val_t *out)                                                              \
    {                                                                                              \
        (void)c;                                                                                   \
        (void)n;                                                                                   \
        expr_set_int(out, SCHEMA_INT, time_part(a[0].v.i, part));                                  \
        return 0;                                                                                  \
    }
TIME_PART_FN(fn_year, PART_YEAR)
TIME_PART_FN(fn_month, PART_MONTH)
TIME_PART_FN(fn_day, PART_DAY)
TIME_PART_FN(fn_hour, PART_HOUR)
TIME_PART_FN(fn_minute, PART_MINUTE)
TIME_PART_FN(fn_second, PART_SECOND)
TIME_PART_FN(fn_dow, PART_DOW)

static int fn_date(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a, expr_val_t *out)
{
    (void)n;
    int y, m, d;
    schema_civil_from_days(floor_div(a[0].v.i, US_PER_DAY), &y, &m, &d);
    char tmp[48]; /* years outside 0..9999 as +YYYYYY / -YYYYYY, as in ISO 8601 */
    int len = y >= 0 && y <= 9999 ? snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", y, m, d)
                                  : snprintf(tmp, sizeof(tmp), "%+07d-%02d-%02d", y, m, d);
    return put_text(c, tmp, len < 0 ? 0 : (size_t)len, out);
}

static const struct {
    const char *name;
    int64_t us; /* 0: month */
} trunc_units[] = {
    {"minute", US_PER_MIN}, {"hour", US_PER_HOUR}, {"day", US_PER_DAY}, {"month", 0}};

static int trunc_unit(const char *unit, size_t len)
{
    for (size_t i = 0; i < CORE_ARRAY_LEN(trunc_units); i++)
        if (strlen(trunc_units[i].name) == len && strncasecmp(trunc_units[i].name, unit, len) == 0)
            return (int)i;
    return -1;
}

bool stream_expr_trunc_unit_valid(const char *unit, size_t len)
{
    return trunc_unit(unit, len) >= 0;
}

static int fn_date_trunc(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                         expr_val_t *out)
{
    (void)n;
    int u = trunc_unit(stream_expr_str(c, &a[0]), a[0].v.s.len);
    int64_t us = a[1].v.i, r;
    bool overflow = u < 0; /* an unknown unit is NULL too */
    if (u >= 0 && trunc_units[u].us) {
        overflow = __builtin_sub_overflow(us, floor_mod(us, trunc_units[u].us), &r);
    } else if (u >= 0) {
        int y, m, d;
        schema_civil_from_days(floor_div(us, US_PER_DAY), &y, &m, &d);
        overflow = __builtin_mul_overflow(schema_days_from_civil(y, m, 1), US_PER_DAY, &r);
    }
    if (overflow) /* the start of the unit is before the first timestamp */
        expr_set_null(out);
    else
        expr_set_int(out, SCHEMA_TIMESTAMP, r);
    return 0;
}

static int fn_epoch_ms(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                       expr_val_t *out)
{
    (void)c;
    (void)n;
    expr_set_int(out, SCHEMA_INT, floor_div(a[0].v.i, 1000));
    return 0;
}

/* Multiplies an int or float count of units into int microseconds. */
static void scale_us(const expr_val_t *v, int64_t unit, schema_type_t t, expr_val_t *out)
{
    int64_t r;
    if (v->type == SCHEMA_INT) {
        if (__builtin_mul_overflow(v->v.i, unit, &r))
            expr_set_null(out);
        else
            expr_set_int(out, t, r);
        return;
    }
    double f = round(v->v.f * (double)unit);
    if (f2i(f, &r))
        expr_set_int(out, t, r);
    else
        expr_set_null(out);
}

/* to_timestamp(x[, format]): numbers are epoch milliseconds; strings are
 * ISO 8601, or follow the strptime-style format when one is given (the
 * format is ignored for numbers). */
static int fn_to_timestamp(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,
                           expr_val_t *out)
{
    const expr_val_t *v = &a[0];
    char fmt[128];
    int64_t us;
    if (v->type == SCHEMA_TIMESTAMP) {
        *out = *v;
        return 0;
    }
    if (v->type != SCHEMA_STRING) {
        scale_us(v, 1000, SCHEMA_TIMESTAMP, out);
        return 0;
    }
    int rc;
    if (n->nkids > 1) {
        if (!copy_cstr(c, &a[1], fmt, sizeof(fmt))) {
            expr_set_null(out);
            return 0;
        }
        rc =
            schema_parse_timestamp(SCHEMA_TS_STRFTIME, fmt, stream_expr_str(c, v), v->v.s.len, &us);
    } else
        rc =
            schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, stream_expr_str(c, v), v->v.s.len, &us);
    if (rc < 0) {
        core_error_clear();
        expr_set_null(out);
    } else
        expr_set_int(out, SCHEMA_TIMESTAMP, us);
    return 0;
}

#define INTERVAL_FN(fname, unit)                                                                   \
    static int fname(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *a,               \
                     expr_val_t *out)                                                              \
    {                                                                                              \
        (void)c;                                                                                   \
        (void)n;                                                                                   \
        scale_us(&a[0], unit, SCHEMA_INT, out);                                                    \
        return 0;                                                                                  \
    }
INTERVAL_FN(fn_seconds, US_PER_SEC)
INTERVAL_FN(fn_minutes, US_PER_MIN)
INTERVAL_FN(fn_hours, US_PER_HOUR)
INTERVAL_FN(fn_days, US_PER_DAY)

/* ------------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------------ */

#define V          EXPR_FN_VARIADIC
#define A_ANY      EXPR_ARG_ANY
#define A_SCAL     EXPR_ARG_SCALAR
#define A_STR      EXPR_ARG_STRING
#define A_NUM      EXPR_ARG_NUMBER
#define A_INT      EXPR_ARG_INT
#define A_BOOL     EXPR_ARG_BOOL
#define A_TIME     EXPR_ARG_TIME
#define A_TIMEABLE EXPR_ARG_TIMEABLE
#define A_BOOLABLE EXPR_ARG_BOOLABLE
#define FIXED(t)   EXPR_RES_FIXED, SCHEMA_##t
#define ARG0       EXPR_RES_ARG0, SCHEMA_NULL
#define UNIFY      EXPR_RES_UNIFY, SCHEMA_NULL

static const expr_fn_t functions[] = {
    {"coalesce", 1, V, {A_ANY}, UNIFY, false, 0, NULL, fn_coalesce},
    {"if", 3, 3, {A_BOOL, A_ANY}, UNIFY, false, 1, NULL, fn_if},
    {"concat", 1, V, {A_ANY}, FIXED(STRING), false, 0, NULL, fn_concat},
    {"least", 1, V, {A_SCAL}, UNIFY, true, 0, NULL, fn_least},
    {"greatest", 1, V, {A_SCAL}, UNIFY, true, 0, NULL, fn_greatest},
    {"lower", 1, 1, {A_STR}, FIXED(STRING), false, 0, fn_lower, NULL},
    {"upper", 1, 1, {A_STR}, FIXED(STRING), false, 0, fn_upper, NULL},
    {"length", 1, 1, {A_STR}, FIXED(INT), false, 0, fn_length, NULL},
    {"trim", 1, 1, {A_STR}, FIXED(STRING), false, 0, fn_trim, NULL},
    {"substr", 2, 3, {A_STR, A_INT}, FIXED(STRING), false, 0, fn_substr, NULL},
    {"contains", 2, 2, {A_STR}, FIXED(BOOL), false, 0, fn_contains, NULL},
    {"starts_with", 2, 2, {A_STR}, FIXED(BOOL), false, 0, fn_starts_with, NULL},
    {"ends_with", 2, 2, {A_STR}, FIXED(BOOL), false, 0, fn_ends_with, NULL},
    {"replace", 3, 3, {A_STR}, FIXED(STRING), false, 0, fn_replace, NULL},
    {"lpad", 2, 3, {A_STR, A_INT, A_STR}, FIXED(STRING), false, 0, fn_lpad, NULL},
    {"rpad", 2, 3, {A_STR, A_INT, A_STR}, FIXED(STRING), false, 0, fn_rpad, NULL},
    {"abs", 1, 1, {A_NUM}, ARG0, false, 0, fn_abs, NULL},
    {"round", 1, 2, {A_NUM, A_INT}, ARG0, false, 0, fn_round, NULL},
    {"floor", 1, 1, {A_NUM}, ARG0, false, 0, fn_floor, NULL},
    {"ceil", 1, 1, {A_NUM}, ARG0, false, 0, fn_ceil, NULL},
    {"sqrt", 1, 1, {A_NUM}, FIXED(FLOAT), false, 0, fn_sqrt, NULL},
    {"ln", 1, 1, {A_NUM}, FIXED(FLOAT), false, 0, fn_ln, NULL},
    {"exp", 1, 1, {A_NUM}, FIXED(FLOAT), false, 0, fn_exp, NULL},
    {"pow", 2, 2, {A_NUM}, FIXED(FLOAT), false, 0, fn_pow, NULL},
    {"int", 1, 1, {A_SCAL}, FIXED(INT), false, 0, fn_int, NULL},
    {"float", 1, 1, {A_SCAL}, FIXED(FLOAT), false, 0, fn_float, NULL},
    {"string", 1, 1, {A_ANY}, FIXED(STRING), false, 0, fn_string, NULL},
    {"bool", 1, 1, {A_BOOLABLE}, FIXED(BOOL), false, 0, fn_bool, NULL},
    {"year", 1, 1, {A_TIME}, FIXED(INT), false, 0, fn_year, NULL},
    {"month", 1, 1, {A_TIME}, FIXED(INT), false, 0, fn_month, NULL},
    {"day", 1, 1, {A_TIME}, FIXED(INT), false, 0, fn_day, NULL},
    {"hour", 1, 1, {A_TIME}, FIXED(INT), false, 0, fn_hour, NULL},
    {"minute", 1, 1, {A_TIME}, FIXED(INT), false, 0, fn_minute, NULL},
    {"second", 1, 1, {A_TIME}, FIXED(INT), false, 0, fn_second, NULL},
    {"dow", 1, 1, {A_TIME}, FIXED(INT), false, 0, fn_dow, NULL},
    {"date", 1, 1, {A_TIME}, FIXED(STRING), false, 0, fn_date, NULL},
    {"date_trunc", 2, 2, {A_STR, A_TIME}, FIXED(TIMESTAMP), false, 0, fn_date_trunc, NULL},
    {"epoch_ms", 1, 1, {A_TIME}, FIXED(INT), false, 0, fn_epoch_ms, NULL},
    {"to_timestamp", 1, 2, {A_TIMEABLE, A_STR}, FIXED(TIMESTAMP), false, 0, fn_to_timestamp, NULL},
    {"seconds", 1, 1, {A_NUM}, FIXED(INT), false, 0, fn_seconds, NULL},
    {"minutes", 1, 1, {A_NUM}, FIXED(INT), false, 0, fn_minutes, NULL},
    {"hours", 1, 1, {A_NUM}, FIXED(INT), false, 0, fn_hours, NULL},
    {"days", 1, 1, {A_NUM}, FIXED(INT), false, 0, fn_days, NULL},
};

const expr_fn_t *stream_expr_fn_find(const char *name, size_t len, uint32_t *index)
{
    for (uint32_t i = 0; i < CORE_ARRAY_LEN(functions); i++) {
        if (strlen(functions[i].name) == len && strncasecmp(functions[i].name, name, len) == 0) {
            *index = i;
            return &functions[i];
        }
    }
    return NULL;
}

const expr_fn_t *stream_expr_fn_get(uint32_t index)
{
    return index < CORE_ARRAY_LEN(functions) ? &functions[index] : NULL;
}

expr_arg_class_t stream_expr_fn_class(const expr_fn_t *fn, uint32_t i)
{
    uint32_t last = 0;
    for (uint32_t k = 1; k < CORE_ARRAY_LEN(fn->classes); k++)
        if (fn->classes[k] != 0)
            last = k;
    return (expr_arg_class_t)fn->classes[i < last ? i : last];
}

bool stream_expr_class_accepts(expr_arg_class_t k, schema_type_t t)
{
    bool scalar = t != SCHEMA_OBJECT && t != SCHEMA_ARRAY && t != SCHEMA_NULL;
    switch (k) {
    case EXPR_ARG_ANY:
        return t != SCHEMA_NULL;
    case EXPR_ARG_SCALAR:
        return scalar;
    case EXPR_ARG_STRING:
        return t == SCHEMA_STRING;
    case EXPR_ARG_NUMBER:
        return t == SCHEMA_INT || t == SCHEMA_FLOAT;
    case EXPR_ARG_INT:
        return t == SCHEMA_INT;
    case EXPR_ARG_BOOL:
        return t == SCHEMA_BOOL;
    case EXPR_ARG_TIME:
        return t == SCHEMA_TIMESTAMP;
    case EXPR_ARG_TIMEABLE:
        return scalar && t != SCHEMA_BOOL;
    case EXPR_ARG_BOOLABLE:
        return scalar && t != SCHEMA_TIMESTAMP;
    }
    return false;
}

const char *stream_expr_class_name(expr_arg_class_t k)
{
    switch (k) {
    case EXPR_ARG_ANY:
        return "a value";
    case EXPR_ARG_SCALAR:
        return "a bool, number, string or timestamp";
    case EXPR_ARG_STRING:
        return "a string";
    case EXPR_ARG_NUMBER:
        return "a number";
    case EXPR_ARG_INT:
        return "an int";
    case EXPR_ARG_BOOL:
        return "a bool";
    case EXPR_ARG_TIME:
        return "a timestamp";
    case EXPR_ARG_TIMEABLE:
        return "a number, string or timestamp";
    case EXPR_ARG_BOOLABLE:
        return "a bool, number or string";
    }
    return "a value";
}

int stream_expr_call(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    const expr_fn_t *fn = &functions[n->u.fn];
    if (fn->lazy)
        return fn->lazy(c, n, out);
    expr_val_t args[EXPR_FN_MAX_STRICT];
    for (uint32_t i = 0; i < n->nkids && i < EXPR_FN_MAX_STRICT; i++) {
        int rc = stream_expr_eval_kid(c, n, i, &args[i]);
        if (rc < 0)
            return rc;
        if (args[i].type == SCHEMA_NULL ||
            !stream_expr_class_accepts(stream_expr_fn_class(fn, i), args[i].type)) {
            expr_set_null(out);
            return 0;
        }
    }
    return fn->strict(c, n, args, out);
}

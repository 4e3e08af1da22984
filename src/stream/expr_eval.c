/*
 * expr_eval.c - evaluation of compiled expressions: operators, SQL NULL
 * semantics, comparisons, text conversion, and the public eval/test entry
 * points. Functions live in expr_func.c.
 *
 * Invariants:
 *   - evaluation never allocates except through the caller's scratch
 *     buffer (core_buf_reserve), which keeps its memory across resets, so a
 *     warmed-up scratch makes evaluation allocation-free;
 *   - a value in the scratch is kept as an offset and resolved to a
 *     pointer only after the last reserve that could move the buffer;
 *   - recursion depth is bounded by the node depth cap (EXPR_MAX_DEPTH);
 *   - int overflow, division by zero and non-finite float results give
 *     NULL, never a trap.
 *
 * Threading: reads the immutable compiled expression; the env and scratch
 * belong to the calling thread.
 */
#include "stream/expr_int.h"

#include "stream/expr_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Scratch strings
 * ------------------------------------------------------------------------ */

const char *stream_expr_str(const expr_ctx_t *c, const expr_val_t *v)
{
    if (v->in_scratch)
        return (const char *)c->scratch->data + v->v.s.off;
    return v->v.s.p ? v->v.s.p : "";
}

int stream_expr_out_begin(const expr_ctx_t *c, size_t n, char **dst, size_t *off)
{
    core_buf_t *b = c->scratch;
    if (b == NULL)
        return core_error(CORE_ETOOBIG, "expr: no scratch buffer for a string result");
    int rc = core_buf_reserve(b, n);
    if (rc == CORE_ETOOBIG)
        return core_error(rc, "expr: scratch buffer full (%zu-byte cap)", b->max);
    if (rc < 0)
        return rc;
    *off = b->len;
    *dst = b->data ? (char *)b->data + b->len : NULL;
    return 0;
}

void stream_expr_out_commit(const expr_ctx_t *c, size_t off, size_t n, expr_val_t *out)
{
    if (n == 0) {
        expr_set_str(out, "", 0);
        return;
    }
    c->scratch->len += n;
    out->type = SCHEMA_STRING;
    out->in_scratch = true;
    out->v.s.p = NULL;
    out->v.s.off = off;
    out->v.s.len = n;
}

/* Shortest "%g" text that reads back as f. */
static size_t format_double(double f, char *tmp)
{
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(tmp, 48, "%.*g", prec, f);
        if (strtod(tmp, NULL) == f)
            break;
    }
    return n < 0 ? 0 : (size_t)n;
}

size_t stream_expr_text_of(const expr_val_t *v, char *tmp)
{
    int n = 0;
    switch (v->type) {
    case SCHEMA_STRING:
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        return v->v.s.len;
    case SCHEMA_INT:
        n = snprintf(tmp, 48, "%" PRId64, v->v.i);
        break;
    case SCHEMA_FLOAT:
        return format_double(v->v.f, tmp);
    case SCHEMA_BOOL:
        n = snprintf(tmp, 48, "%s", v->v.b ? "true" : "false");
        break;
    case SCHEMA_TIMESTAMP:
        return schema_format_timestamp(v->v.i, tmp);
    default:
        return 0;
    }
    return n < 0 ? 0 : (size_t)n;
}

static bool is_bytes(const expr_val_t *v)
{
    return v->type == SCHEMA_STRING || v->type == SCHEMA_OBJECT || v->type == SCHEMA_ARRAY;
}

int stream_expr_append_text(const expr_ctx_t *c, expr_val_t *acc, const expr_val_t *v)
{
    char tmp[48];
    size_t vlen = stream_expr_text_of(v, tmp), off = 0;
    char *dst = NULL;
    int rc;
    if (acc->type == SCHEMA_NULL && is_bytes(v)) { /* borrow it as it is */
        *acc = *v;
        acc->type = SCHEMA_STRING;
        return 0;
    }
    if (acc->type == SCHEMA_NULL)
        expr_set_str(acc, "", 0);
    if (vlen == 0)
        return 0;
    size_t alen = acc->v.s.len;
    if (acc->in_scratch && acc->v.s.off + alen == c->scratch->len) { /* extend in place */
        if ((rc = stream_expr_out_begin(c, vlen, &dst, &off)) < 0)
            return rc;
        memcpy(dst, is_bytes(v) ? stream_expr_str(c, v) : tmp, vlen);
        c->scratch->len += vlen;
        acc->v.s.len += vlen;
        return 0;
    }
    if (alen > SIZE_MAX - vlen)
        return core_error(CORE_ETOOBIG, "expr: string result too long");
    if ((rc = stream_expr_out_begin(c, alen + vlen, &dst, &off)) < 0)
        return rc;
    if (alen)
        memcpy(dst, stream_expr_str(c, acc), alen);
    memcpy(dst + alen, is_bytes(v) ? stream_expr_str(c, v) : tmp, vlen);
    stream_expr_out_commit(c, off, alen + vlen, acc);
    return 0;
}

/* ------------------------------------------------------------------------
 * Comparison
 * ------------------------------------------------------------------------ */

static int sign3(double d)
{
    return d < 0 ? -1 : d > 0 ? 1 : 0;
}

bool stream_expr_compare(const expr_ctx_t *c, const expr_val_t *a, const expr_val_t *b, int *cmp)
{
    if (a->type != b->type) {
        bool na = a->type == SCHEMA_INT || a->type == SCHEMA_FLOAT;
        bool nb = b->type == SCHEMA_INT || b->type == SCHEMA_FLOAT;
        if (!na || !nb)
            return false;
        double x = a->type == SCHEMA_INT ? (double)a->v.i : a->v.f;
        double y = b->type == SCHEMA_INT ? (double)b->v.i : b->v.f;
        if (isnan(x) || isnan(y))
            return false;
        *cmp = sign3(x - y);
        return true;
    }
    switch (a->type) {
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        *cmp = a->v.i < b->v.i ? -1 : a->v.i > b->v.i;
        return true;
    case SCHEMA_FLOAT:
        if (isnan(a->v.f) || isnan(b->v.f))
            return false;
        *cmp = a->v.f < b->v.f ? -1 : a->v.f > b->v.f;
        return true;
    case SCHEMA_BOOL:
        *cmp = (int)a->v.b - (int)b->v.b;
        return true;
    case SCHEMA_STRING: {
        size_t n = CORE_MIN(a->v.s.len, b->v.s.len);
        int r = n ? memcmp(stream_expr_str(c, a), stream_expr_str(c, b), n) : 0;
        *cmp = r ? (r < 0 ? -1 : 1) : (a->v.s.len < b->v.s.len ? -1 : a->v.s.len > b->v.s.len);
        return true;
    }
    default:
        return false;
    }
}

/* ------------------------------------------------------------------------
 * Leaves
 * ------------------------------------------------------------------------ */

static void from_schema(const schema_value_t *s, expr_val_t *v)
{
    v->type = s->type;
    v->in_scratch = false;
    switch (s->type) {
    case SCHEMA_BOOL:
        v->v.b = s->v.b;
        break;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        v->v.i = s->v.i;
        break;
    case SCHEMA_FLOAT:
        v->v.f = s->v.f;
        break;
    case SCHEMA_STRING:
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        v->v.s.p = s->v.s.p;
        v->v.s.off = 0;
        v->v.s.len = s->v.s.p ? s->v.s.len : 0;
        break;
    default:
        v->type = SCHEMA_NULL;
        break;
    }
}

/* A field's value; a value of another type than the field's is NULL (an
 * int in a float field is converted), so operators can trust types. */
static void eval_field(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    const stream_expr_env_t *env = c->env;
    if (env == NULL || env->fields == NULL) {
        expr_set_null(out);
        return;
    }
    const schema_value_t *f = &env->fields[n->u.field];
    if (f->type == n->type || n->type == SCHEMA_NULL)
        from_schema(f, out);
    else if (n->type == SCHEMA_FLOAT && f->type == SCHEMA_INT)
        expr_set_float(out, (double)f->v.i);
    else
        expr_set_null(out);
}

static void eval_leaf(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    const stream_expr_env_t *env = c->env;
    if (n->op == EXPR_LIT) {
        out->type = n->type;
        out->in_scratch = false;
        if (n->type == SCHEMA_STRING)
            expr_set_str(out, c->pool + n->u.s.off, n->u.s.len);
        else if (n->type == SCHEMA_FLOAT)
            out->v.f = n->u.f;
        else if (n->type == SCHEMA_BOOL)
            out->v.b = n->u.b;
        else
            out->v.i = n->u.i;
    } else if (n->op == EXPR_FIELD)
        eval_field(c, n, out);
    else if (env == NULL)
        expr_set_null(out);
    else if (n->op == EXPR_KEY) {
        if (env->key.type == SCHEMA_STRING)
            from_schema(&env->key, out);
        else
            expr_set_null(out);
    } else if (n->op == EXPR_PARTITION)
        expr_set_int(out, SCHEMA_INT, env->partition);
    else if (n->op == EXPR_OFFSET)
        expr_set_int(out, SCHEMA_INT, env->offset);
    else
        expr_set_int(out, SCHEMA_TIMESTAMP, env->timestamp_us);
}

/* ------------------------------------------------------------------------
 * Arithmetic
 * ------------------------------------------------------------------------ */

static void set_finite(expr_val_t *out, double f)
{
    if (isfinite(f))
        expr_set_float(out, f);
    else
        expr_set_null(out);
}

static void arith_int(expr_op_t op, int64_t a, int64_t b, schema_type_t t, expr_val_t *out)
{
    int64_t r = 0;
    bool overflow = false;
    switch (op) {
    case EXPR_ADD:
        overflow = __builtin_add_overflow(a, b, &r);
        break;
    case EXPR_SUB:
        overflow = __builtin_sub_overflow(a, b, &r);
        break;
    case EXPR_MUL:
        overflow = __builtin_mul_overflow(a, b, &r);
        break;
    case EXPR_DIV:
        overflow = b == 0 || (a == INT64_MIN && b == -1);
        r = overflow ? 0 : a / b;
        break;
    default: /* EXPR_MOD: the sign follows the dividend, as in C and SQL */
        overflow = b == 0;
        r = overflow || b == -1 ? 0 : a % b;
        break;
    }
    if (overflow)
        expr_set_null(out);
    else
        expr_set_int(out, t, r);
}

static void arith_float(expr_op_t op, double a, double b, expr_val_t *out)
{
    switch (op) {
    case EXPR_ADD:
        set_finite(out, a + b);
        break;
    case EXPR_SUB:
        set_finite(out, a - b);
        break;
    case EXPR_MUL:
        set_finite(out, a * b);
        break;
    case EXPR_DIV:
        if (b == 0)
            expr_set_null(out);
        else
            set_finite(out, a / b);
        break;
    default:
        if (b == 0)
            expr_set_null(out);
        else
            set_finite(out, fmod(a, b));
        break;
    }
}

static int eval_arith(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    expr_val_t a, b;
    int rc = stream_expr_eval_kid(c, n, 0, &a);
    if (rc == 0 && a.type != SCHEMA_NULL)
        rc = stream_expr_eval_kid(c, n, 1, &b);
    if (rc < 0 || a.type == SCHEMA_NULL || b.type == SCHEMA_NULL) {
        expr_set_null(out);
        return rc;
    }
    expr_op_t op = (expr_op_t)n->op;
    schema_type_t ta = a.type, tb = b.type;
    bool additive = op == EXPR_ADD || op == EXPR_SUB;
    if (ta == SCHEMA_INT && tb == SCHEMA_INT)
        arith_int(op, a.v.i, b.v.i, SCHEMA_INT, out);
    else if ((ta == SCHEMA_INT || ta == SCHEMA_FLOAT) && (tb == SCHEMA_INT || tb == SCHEMA_FLOAT))
        arith_float(op, ta == SCHEMA_INT ? (double)a.v.i : a.v.f,
                    tb == SCHEMA_INT ? (double)b.v.i : b.v.f, out);
    else if (ta == SCHEMA_TIMESTAMP && tb == SCHEMA_INT && additive)
        arith_int(op, a.v.i, b.v.i, SCHEMA_TIMESTAMP, out);
    else if (ta == SCHEMA_INT && tb == SCHEMA_TIMESTAMP && op == EXPR_ADD)
        arith_int(op, a.v.i, b.v.i, SCHEMA_TIMESTAMP, out);
    else if (ta == SCHEMA_TIMESTAMP && tb == SCHEMA_TIMESTAMP && op == EXPR_SUB)
        arith_int(op, a.v.i, b.v.i, SCHEMA_INT, out);
    else
        expr_set_null(out);
    return 0;
}

static int eval_neg(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    int rc = stream_expr_eval_kid(c, n, 0, out);
    if (rc < 0)
        return rc;
    if (out->type == SCHEMA_INT && out->v.i != INT64_MIN)
        out->v.i = -out->v.i;
    else if (out->type == SCHEMA_FLOAT)
        out->v.f = -out->v.f;
    else
        expr_set_null(out);
    return 0;
}

static int eval_concat(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    expr_val_t a, b;
    int rc = stream_expr_eval_kid(c, n, 0, &a);
    if (rc == 0 && a.type != SCHEMA_NULL)
        rc = stream_expr_eval_kid(c, n, 1, &b);
    expr_set_null(out);
    if (rc < 0 || a.type == SCHEMA_NULL || b.type == SCHEMA_NULL)
        return rc;
    if ((rc = stream_expr_append_text(c, out, &a)) == 0)
        rc = stream_expr_append_text(c, out, &b);
    if (rc < 0)
        expr_set_null(out);
    return rc;
}

/* ------------------------------------------------------------------------
 * Logic and predicates. Truth values: 1 true, 0 false, -1 NULL.
 * ------------------------------------------------------------------------ */

static void set_tri(expr_val_t *out, int t, bool negate)
{
    if (t < 0)
        expr_set_null(out);
    else
        expr_set_bool(out, negate ? !t : t);
}

static int eval_logic(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    bool is_or = n->op == EXPR_OR, saw_null = false;
    for (uint32_t i = 0; i < n->nkids; i++) {
        expr_val_t v;
        int rc = stream_expr_eval_kid(c, n, i, &v);
        if (rc < 0)
            return rc;
        if (v.type != SCHEMA_BOOL)
            saw_null = true;
        else if (v.v.b == is_or) { /* true decides or, false decides and */
            expr_set_bool(out, is_or);
            return 0;
        }
    }
    set_tri(out, saw_null ? -1 : !is_or, false);
    return 0;
}

static int eval_not(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    int rc = stream_expr_eval_kid(c, n, 0, out);
    if (rc == 0 && out->type == SCHEMA_BOOL)
        out->v.b = !out->v.b;
    else
        expr_set_null(out);
    return rc;
}

/* Orders two values as -1/0/1 in *cmp; returns -1 (SQL NULL) when either
 * is NULL or they are not comparable. */
static int compare_kids(const expr_ctx_t *c, const expr_val_t *a, const expr_val_t *b, int *cmp)
{
    if (a->type == SCHEMA_NULL || b->type == SCHEMA_NULL)
        return -1;
    return stream_expr_compare(c, a, b, cmp) ? 0 : -1;
}

static int eval_cmp(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    expr_val_t a, b;
    int cmp = 0, rc = stream_expr_eval_kid(c, n, 0, &a);
    if (rc == 0)
        rc = stream_expr_eval_kid(c, n, 1, &b);
    if (rc < 0 || compare_kids(c, &a, &b, &cmp) < 0) {
        expr_set_null(out);
        return rc;
    }
    bool r;
    switch (n->op) {
    case EXPR_EQ:
        r = cmp == 0;
        break;
    case EXPR_NE:
        r = cmp != 0;
        break;
    case EXPR_LT:
        r = cmp < 0;
        break;
    case EXPR_LE:
        r = cmp <= 0;
        break;
    case EXPR_GT:
        r = cmp > 0;
        break;
    default:
        r = cmp >= 0;
        break;
    }
    expr_set_bool(out, r);
    return 0;
}

static int eval_isnull(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    int rc = stream_expr_eval_kid(c, n, 0, out);
    if (rc == 0)
        expr_set_bool(out, (out->type == SCHEMA_NULL) != n->negate);
    return rc;
}

static int eval_in(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    expr_val_t x, v;
    int rc = stream_expr_eval_kid(c, n, 0, &x), cmp, t = 0;
    if (rc < 0 || x.type == SCHEMA_NULL) {
        expr_set_null(out);
        return rc;
    }
    for (uint32_t i = 1; i < n->nkids && t != 1; i++) {
        if ((rc = stream_expr_eval_kid(c, n, i, &v)) < 0)
            return rc;
        if (compare_kids(c, &x, &v, &cmp) < 0)
            t = -1; /* unknown unless a later element matches */
        else if (cmp == 0)
            t = 1;
    }
    set_tri(out, t, n->negate);
    return 0;
}

static int eval_between(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    expr_val_t x, lo, hi;
    int rc = stream_expr_eval_kid(c, n, 0, &x), cl, ch;
    if (rc == 0)
        rc = stream_expr_eval_kid(c, n, 1, &lo);
    if (rc == 0)
        rc = stream_expr_eval_kid(c, n, 2, &hi);
    if (rc < 0)
        return rc;
    int ge = compare_kids(c, &x, &lo, &cl) < 0 ? -1 : cl >= 0;
    int le = compare_kids(c, &x, &hi, &ch) < 0 ? -1 : ch <= 0;
    int t = ge == 0 || le == 0 ? 0 : ge < 0 || le < 0 ? -1 : 1;
    set_tri(out, t, n->negate);
    return 0;
}

/* Bytes in the UTF-8 sequence starting at s[0], at most n (>= 1). */
static size_t cp_len(const char *s, size_t n)
{
    unsigned char u = (unsigned char)s[0];
    size_t k = u < 0xC0 ? 1 : u < 0xE0 ? 2 : u < 0xF0 ? 3 : 4;
    return k < n ? k : n;
}

/* SQL like: '%' any run of characters, '_' one code point, no escape.
 * Iterative with one backtrack point (the last '%'), so O(len(s)*len(p)). */
static bool like_match(const char *s, size_t sn, const char *p, size_t pn)
{
    size_t si = 0, pi = 0, star = SIZE_MAX, mark = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '%') {
            star = ++pi;
            mark = si;
        } else if (pi < pn && p[pi] == '_') {
            pi++;
            si += cp_len(s + si, sn - si);
        } else if (pi < pn && p[pi] == s[si]) {
            pi++;
            si++;
        } else if (star != SIZE_MAX) {
            pi = star;
            mark += cp_len(s + mark, sn - mark);
            si = mark;
        } else
            return false;
    }
    while (pi < pn && p[pi] == '%')
        pi++;
    return pi == pn;
}

static int eval_like(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out)
{
    expr_val_t s, p;
    int rc = stream_expr_eval_kid(c, n, 0, &s);
    if (rc == 0)
        rc = stream_expr_eval_kid(c, n, 1, &p);
    if (rc < 0 || s.type != SCHEMA_STRING || p.type != SCHEMA_STRING) {
        expr_set_null(out);
        return rc;
    }
    bool m = like_match(stream_expr_str(c, &s), s.v.s.len, stream_expr_str(c, &p), p.v.s.len);
    set_tri(out, m, n->negate);
    return 0;
}

/* ------------------------------------------------------------------------
 * Dispatch and the public entry points
 * ------------------------------------------------------------------------ */

int stream_expr_eval_kid(const expr_ctx_t *c, const expr_node_t *n, uint32_t i, expr_val_t *out)
{
    return stream_expr_eval_node(c, c->kids[n->kid + i], out);
}

int stream_expr_eval_node(const expr_ctx_t *c, uint32_t idx, expr_val_t *out)
{
    const expr_node_t *n = &c->nodes[idx];
    switch ((expr_op_t)n->op) {
    case EXPR_LIT:
    case EXPR_FIELD:
    case EXPR_KEY:
    case EXPR_PARTITION:
    case EXPR_OFFSET:
    case EXPR_TIMESTAMP:
        eval_leaf(c, n, out);
        return 0;
    case EXPR_NEG:
        return eval_neg(c, n, out);
    case EXPR_NOT:
        return eval_not(c, n, out);
    case EXPR_AND:
    case EXPR_OR:
        return eval_logic(c, n, out);
    case EXPR_EQ:
    case EXPR_NE:
    case EXPR_LT:
    case EXPR_LE:
    case EXPR_GT:
    case EXPR_GE:
        return eval_cmp(c, n, out);
    case EXPR_ADD:
    case EXPR_SUB:
    case EXPR_MUL:
    case EXPR_DIV:
    case EXPR_MOD:
        return eval_arith(c, n, out);
    case EXPR_CONCAT:
        return eval_concat(c, n, out);
    case EXPR_ISNULL:
        return eval_isnull(c, n, out);
    case EXPR_IN:
        return eval_in(c, n, out);
    case EXPR_BETWEEN:
        return eval_between(c, n, out);
    case EXPR_LIKE:
        return eval_like(c, n, out);
    case EXPR_CALL:
        return stream_expr_call(c, n, out);
    }
    expr_set_null(out);
    return 0;
}

/* stream_expr_eval of an expression that is one field reference (aggregate
 * arguments and keys usually are): eval_field() and the conversion below,
 * without the working value in between. */
static void eval_root_field(const expr_node_t *n, const stream_expr_env_t *env, schema_value_t *out)
{
    const schema_value_t *f = env != NULL && env->fields != NULL ? &env->fields[n->u.field] : NULL;
    out->type = SCHEMA_NULL;
    if (f == NULL)
        return;
    if (f->type != n->type && n->type != SCHEMA_NULL) {
        if (n->type == SCHEMA_FLOAT && f->type == SCHEMA_INT) {
            out->type = SCHEMA_FLOAT;
            out->v.f = (double)f->v.i;
        }
        return;
    }
    switch (f->type) {
    case SCHEMA_BOOL:
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
    case SCHEMA_FLOAT:
        *out = *f;
        break;
    case SCHEMA_STRING:
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        out->type = f->type;
        out->v.s.p = f->v.s.p != NULL ? f->v.s.p : "";
        out->v.s.len = f->v.s.p != NULL ? f->v.s.len : 0;
        break;
    default:
        break;
    }
}

int stream_expr_root_field(const stream_expr_t *e, schema_type_t *as)
{
    const expr_node_t *n = &e->nodes[e->root];
    if (n->op != EXPR_FIELD)
        return -1;
    *as = n->type;
    return (int)n->u.field;
}

int stream_expr_eval(const stream_expr_t *e, const stream_expr_env_t *env, core_buf_t *scratch,
                     schema_value_t *out)
{
    if (e->nodes[e->root].op == EXPR_FIELD) {
        eval_root_field(&e->nodes[e->root], env, out);
        return 0;
    }
    expr_ctx_t c = {e->nodes, e->kids, e->pool, env, scratch};
    expr_val_t v;
    out->type = SCHEMA_NULL;
    int rc = stream_expr_eval_node(&c, e->root, &v);
    if (rc < 0)
        return rc;
    out->type = v.type;
    switch (v.type) {
    case SCHEMA_BOOL:
        out->v.b = v.v.b;
        break;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        out->v.i = v.v.i;
        break;
    case SCHEMA_FLOAT:
        out->v.f = v.v.f;
        break;
    case SCHEMA_STRING:
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY:
        out->v.s.p = stream_expr_str(&c, &v);
        out->v.s.len = v.v.s.len;
        break;
    default:
        break;
    }
    return 0;
}

int stream_expr_test(const stream_expr_t *e, const stream_expr_env_t *env, core_buf_t *scratch,
                     bool *result)
{
    schema_value_t v;
    int rc = stream_expr_eval(e, env, scratch, &v);
    *result = rc == 0 && v.type == SCHEMA_BOOL && v.v.b;
    return rc;
}

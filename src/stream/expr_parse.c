/*
 * expr_parse.c - lexer, recursive-descent parser, type checker and constant
 * folder of the expression language (grammar in expr_int.h), and the
 * public compile/accessor functions.
 *
 * The parser builds the flat node array of expr_impl.h bottom-up: a node's
 * children are parsed first and their indices pushed on a stack, then the
 * node takes the top entries of the stack as its children. Every node is
 * type-checked as it is made (using its children's static types) and,
 * when all its children are constants, evaluated once and replaced by the
 * constant it yields.
 *
 * Invariants:
 *   - the text is at most EXPR_MAX_TEXT bytes;
 *   - parser recursion and node depth are both capped at EXPR_MAX_DEPTH, so
 *     neither compiling nor evaluating can exhaust the stack;
 *   - every error names the 1-based column (in code points) where it is.
 *
 * Threading: compiling touches only its own parser state; the compiled
 * expression is immutable and may be shared between threads.
 */
#include "stream/expr_int.h"

#include "stream/expr_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POOL_MAX (1u << 20) /* literal pool: text-derived plus folded strings */

typedef enum {
    T_END,
    T_INT,
    T_FLOAT,
    T_STR,
    T_IDENT,
    T_QIDENT,
    T_LP,
    T_RP,
    T_COMMA,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_CONCAT,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PCT,
    T_AND,
    T_OR,
    T_NOT,
    T_IS,
    T_NULL,
    T_IN,
    T_BETWEEN,
    T_LIKE,
    T_TRUE,
    T_FALSE
} tok_kind_t;

typedef struct {
    tok_kind_t kind;
    uint32_t pos, len; /* source span */
    bool big;          /* T_INT equal to 2^63: valid only after '-' */
    int64_t i;
    double f;
    uint32_t soff, slen; /* T_STR, T_QIDENT: unescaped bytes in the pool */
} token_t;

typedef struct {
    const char *text;
    size_t len;
    size_t pos; /* next byte to lex */
    token_t tok;
    const schema_t *schema;
    expr_node_t *nodes;
    uint32_t nnodes, capnodes;
    uint32_t *kids;
    uint32_t nkids, capkids;
    uint32_t *stack;
    uint32_t nstack, capstack;
    core_buf_t pool;
    core_buf_t fold; /* scratch for constant folding */
    int nest;
} parser_t;

static const struct {
    const char *word;
    tok_kind_t kind;
} keywords[] = {
    {"and", T_AND}, {"or", T_OR},     {"not", T_NOT},   {"is", T_IS},           {"null", T_NULL},
    {"in", T_IN},   {"like", T_LIKE}, {"true", T_TRUE}, {"between", T_BETWEEN}, {"false", T_FALSE},
};

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4))) static int perr(const parser_t *p, size_t pos,
                                                      const char *fmt, ...)
{
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t col = 1;
    for (size_t i = 0; i < pos && i < p->len; i++)
        col += ((unsigned char)p->text[i] & 0xC0) != 0x80;
    return core_error(CORE_EINVAL, "expr: column %zu: %s", col, msg);
}

static const char *tname(uint8_t t)
{
    return schema_type_name((schema_type_t)t);
}

/* "'abc'" or "end of expression", for messages. */
static void tok_desc(const parser_t *p, const token_t *t, char *buf, size_t cap)
{
    if (t->kind == T_END) {
        snprintf(buf, cap, "end of expression");
        return;
    }
    int n = t->len > 40 ? 40 : (int)t->len;
    snprintf(buf, cap, "'%.*s%s'", n, p->text + t->pos, t->len > 40 ? "..." : "");
}

/* ------------------------------------------------------------------------
 * Lexer
 * ------------------------------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ident_start(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u >= 0x80;
}

static bool is_ident_char(char c)
{
    return is_ident_start(c) || is_digit(c);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* A quoted string ('...') or identifier ("..."), the quote doubled to
 * escape it; the unescaped bytes go to the pool, NUL-terminated. */
static int lex_quoted(parser_t *p, char q, token_t *t)
{
    size_t i = p->pos + 1;
    size_t off = p->pool.len;
    int rc = 0;
    for (;;) {
        if (i >= p->len) {
            p->pool.len = off;
            return perr(p, p->pos,
                        q == '\'' ? "unterminated string" : "unterminated quoted identifier");
        }
        if (p->text[i] == q) {
            if (i + 1 < p->len && p->text[i + 1] == q) {
                rc = core_buf_append(&p->pool, &q, 1);
                i += 2;
                if (rc < 0)
                    break;
                continue;
            }
            break;
        }
        const char *e = memchr(p->text + i, q, p->len - i);
        size_t run = e ? (size_t)(e - (p->text + i)) : p->len - i;
        rc = core_buf_append(&p->pool, p->text + i, run);
        if (rc < 0)
            break;
        i += run;
    }
    if (rc == 0)
        rc = core_buf_append_u8(&p->pool, 0);
    if (rc < 0)
        return rc == CORE_ENOMEM ? rc : perr(p, p->pos, "too many string literals");
    t->kind = q == '\'' ? T_STR : T_QIDENT;
    t->soff = (uint32_t)off;
    t->slen = (uint32_t)(p->pool.len - off - 1);
    t->len = (uint32_t)(i + 1 - p->pos);
    return 0;
}

/* Converts the digits of an integer literal; 2^63 is allowed as `big`. */
static int lex_int_value(parser_t *p, token_t *t)
{
    uint64_t v = 0;
    for (size_t k = 0; k < t->len; k++) {
        uint64_t d = (uint64_t)(p->text[t->pos + k] - '0');
        if (v > (UINT64_C(1) << 63) / 10 || v * 10 > (UINT64_C(1) << 63) - d)
            return perr(p, t->pos, "integer literal out of range");
        v = v * 10 + d;
    }
    t->kind = T_INT;
    t->big = v == (UINT64_C(1) << 63);
    t->i = t->big ? INT64_MIN : (int64_t)v;
    return 0;
}

static int lex_number(parser_t *p, token_t *t)
{
    size_t i = p->pos;
    bool is_float = false, bad = false;
    while (i < p->len && is_digit(p->text[i]))
        i++;
    if (i < p->len && p->text[i] == '.') {
        is_float = true;
        bad |= !(++i < p->len && is_digit(p->text[i]));
        while (i < p->len && is_digit(p->text[i]))
            i++;
    }
    if (!bad && i < p->len && (p->text[i] == 'e' || p->text[i] == 'E')) {
        is_float = true;
        i++;
        if (i < p->len && (p->text[i] == '+' || p->text[i] == '-'))
            i++;
        bad |= !(i < p->len && is_digit(p->text[i]));
        while (i < p->len && is_digit(p->text[i]))
            i++;
    }
    while (i < p->len && (is_ident_char(p->text[i]) || p->text[i] == '.')) {
        bad = true;
        i++;
    }
    t->len = (uint32_t)(i - p->pos);
    int shown = t->len > 40 ? 40 : (int)t->len;
    if (bad)
        return perr(p, p->pos, "invalid number '%.*s'", shown, p->text + p->pos);
    if (!is_float)
        return lex_int_value(p, t);
    char buf[512];
    if (t->len >= sizeof(buf))
        return perr(p, p->pos, "number literal too long");
    memcpy(buf, p->text + p->pos, t->len);
    buf[t->len] = '\0';
    t->kind = T_FLOAT;
    t->f = strtod(buf, NULL);
    if (!isfinite(t->f))
        return perr(p, p->pos, "number '%.*s' out of range", shown, p->text + p->pos);
    return 0;
}

static void lex_ident(parser_t *p, token_t *t)
{
    size_t i = p->pos;
    while (i < p->len && is_ident_char(p->text[i]))
        i++;
    t->kind = T_IDENT;
    t->len = (uint32_t)(i - p->pos);
    for (size_t k = 0; k < CORE_ARRAY_LEN(keywords); k++) {
        if (strlen(keywords[k].word) == t->len &&
            strncasecmp(keywords[k].word, p->text + p->pos, t->len) == 0) {
            t->kind = keywords[k].kind;
            break;
        }
    }
}

/* Punctuation and operators; returns false for an unknown character. */
static bool lex_punct(parser_t *p, token_t *t)
{
    char c = p->text[p->pos];
    char d = p->pos + 1 < p->len ? p->text[p->pos + 1] : '\0';
    t->len = 1;
    switch (c) {
    case '(':
        t->kind = T_LP;
        return true;
    case ')':
        t->kind = T_RP;
        return true;
    case ',':
        t->kind = T_COMMA;
        return true;
    case '+':
        t->kind = T_PLUS;
        return true;
    case '-':
        t->kind = T_MINUS;
        return true;
    case '*':
        t->kind = T_STAR;
        return true;
    case '/':
        t->kind = T_SLASH;
        return true;
    case '%':
        t->kind = T_PCT;
        return true;
    case '=':
        t->kind = T_EQ;
        t->len = d == '=' ? 2 : 1;
        return true;
    case '!':
        t->kind = T_NE;
        t->len = 2;
        return d == '=';
    case '|':
        t->kind = T_CONCAT;
        t->len = 2;
        return d == '|';
    case '<':
        t->kind = d == '=' ? T_LE : d == '>' ? T_NE : T_LT;
        t->len = d == '=' || d == '>' ? 2 : 1;
        return true;
    case '>':
        t->kind = d == '=' ? T_GE : T_GT;
        t->len = d == '=' ? 2 : 1;
        return true;
    default:
        return false;
    }
}

/* Reads the next token into p->tok. */
static int lex(parser_t *p)
{
    while (p->pos < p->len && is_space(p->text[p->pos]))
        p->pos++;
    token_t *t = &p->tok;
    memset(t, 0, sizeof(*t));
    t->pos = (uint32_t)p->pos;
    int rc = 0;
    if (p->pos >= p->len) {
        t->kind = T_END;
        return 0;
    }
    char c = p->text[p->pos];
    if (c == '\'' || c == '"')
        rc = lex_quoted(p, c, t);
    else if (is_digit(c))
        rc = lex_number(p, t);
    else if (is_ident_start(c))
        lex_ident(p, t);
    else if (!lex_punct(p, t)) {
        if (c == '!' || c == '|')
            return perr(p, p->pos, "unexpected character '%c' (did you mean '%s'?)", c,
                        c == '!' ? "!=" : "||");
        if ((unsigned char)c < 0x20 || c == 0x7f)
            return perr(p, p->pos, "unexpected character 0x%02x", (unsigned char)c);
        return perr(p, p->pos, "unexpected character '%c'", c);
    }
    if (rc == 0)
        p->pos += t->len;
    return rc;
}

/* ------------------------------------------------------------------------
 * Node construction
 * ------------------------------------------------------------------------ */

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = core_realloc(CORE_MEM_STREAM, *arr, (size_t)ncap * elem);
    if (n == NULL)
        return core_error(CORE_ENOMEM, "expr: out of memory compiling an expression");
    *arr = n;
    *cap = ncap;
    return 0;
}

static int push(parser_t *p, uint32_t idx)
{
    int rc = grow((void **)&p->stack, &p->capstack, p->nstack + 1, sizeof(uint32_t));
    if (rc == 0)
        p->stack[p->nstack++] = idx;
    return rc;
}

/* The i-th of the top n stack entries (the children being collected). */
static uint32_t top(const parser_t *p, uint32_t n, uint32_t i)
{
    return p->stack[p->nstack - n + i];
}

/* Makes a node whose children are the top nkids stack entries (popped). */
static int new_node(parser_t *p, expr_op_t op, uint32_t start, uint32_t nkids, uint32_t *out)
{
    int rc = grow((void **)&p->nodes, &p->capnodes, p->nnodes + 1, sizeof(expr_node_t));
    if (rc == 0)
        rc = grow((void **)&p->kids, &p->capkids, p->nkids + nkids, sizeof(uint32_t));
    if (rc < 0)
        return rc;
    uint32_t depth = 0;
    for (uint32_t i = 0; i < nkids; i++) {
        uint32_t k = top(p, nkids, i);
        if (p->nodes[k].depth > depth)
            depth = p->nodes[k].depth;
        p->kids[p->nkids + i] = k;
    }
    if (depth >= EXPR_MAX_DEPTH)
        return perr(p, start, "expression nests too deeply (more than %d levels)", EXPR_MAX_DEPTH);
    expr_node_t *n = &p->nodes[p->nnodes];
    memset(n, 0, sizeof(*n));
    n->op = (uint8_t)op;
    n->type = SCHEMA_NULL;
    n->depth = (uint16_t)(depth + 1);
    n->start = start;
    n->kid = p->nkids;
    n->nkids = nkids;
    p->nkids += nkids;
    p->nstack -= nkids;
    *out = p->nnodes++;
    return 0;
}

static bool is_null_lit(const expr_node_t *n)
{
    return n->op == EXPR_LIT && n->type == SCHEMA_NULL;
}

/* Moves a folded string into the pool. Returns false when it does not fit
 * (the node then stays unfolded). */
static bool fold_string(parser_t *p, expr_node_t *n, const expr_ctx_t *c, const expr_val_t *v)
{
    size_t off = v->v.s.off;
    if (!v->in_scratch) { /* copy out of the pool before the pool may move */
        off = p->fold.len;
        if (v->v.s.len && core_buf_append(&p->fold, stream_expr_str(c, v), v->v.s.len) < 0)
            return false;
    }
    size_t poff = p->pool.len;
    if (core_buf_reserve(&p->pool, v->v.s.len + 1) < 0)
        return false;
    if (v->v.s.len)
        memcpy(p->pool.data + poff, p->fold.data + off, v->v.s.len);
    p->pool.data[poff + v->v.s.len] = 0;
    p->pool.len += v->v.s.len + 1;
    n->u.s.off = (uint32_t)poff;
    n->u.s.len = (uint32_t)v->v.s.len;
    return true;
}

/* Replaces node idx by its value when all its children are constants. */
static void fold(parser_t *p, uint32_t idx)
{
    expr_node_t *n = &p->nodes[idx];
    if (n->op <= EXPR_TIMESTAMP)
        return;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (p->nodes[p->kids[n->kid + i]].op != EXPR_LIT)
            return;
    expr_ctx_t c = {p->nodes, p->kids, (const char *)p->pool.data, NULL, &p->fold};
    expr_val_t v;
    core_buf_reset(&p->fold);
    if (stream_expr_eval_node(&c, idx, &v) < 0) {
        core_error_clear(); /* no room: evaluate at run time instead */
        return;
    }
    switch (v.type) {
    case SCHEMA_NULL:
        break;
    case SCHEMA_BOOL:
        n->u.b = v.v.b;
        break;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        n->u.i = v.v.i;
        break;
    case SCHEMA_FLOAT:
        n->u.f = v.v.f;
        break;
    case SCHEMA_STRING:
        if (!fold_string(p, n, &c, &v))
            return;
        break;
    default:
        return; /* objects and arrays only come from fields */
    }
    n->op = EXPR_LIT;
    n->type = (uint8_t)v.type;
    n->nkids = 0;
    n->depth = 1;
}

static int new_lit(parser_t *p, schema_type_t type, uint32_t start, uint32_t *out)
{
    int rc = new_node(p, EXPR_LIT, start, 0, out);
    if (rc == 0)
        p->nodes[*out].type = (uint8_t)type;
    return rc;
}

/* ------------------------------------------------------------------------
 * Type checks
 * ------------------------------------------------------------------------ */

static bool is_num(uint8_t t)
{
    return t == SCHEMA_INT || t == SCHEMA_FLOAT;
}

static bool comparable(uint8_t a, uint8_t b)
{
    if (a == SCHEMA_NULL || b == SCHEMA_NULL)
        return true;
    if (is_num(a) && is_num(b))
        return true;
    return a == b && a != SCHEMA_OBJECT && a != SCHEMA_ARRAY;
}

/* A string literal compared with a timestamp becomes a timestamp literal. */
static int coerce_time(parser_t *p, uint32_t lit)
{
    expr_node_t *n = &p->nodes[lit];
    const char *s = (const char *)p->pool.data + n->u.s.off;
    int64_t us;
    if (schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, s, n->u.s.len, &us) < 0) {
        core_error_clear();
        int shown = n->u.s.len > 40 ? 40 : (int)n->u.s.len;
        return perr(p, n->start,
                    "cannot compare timestamp with string: '%.*s' is not an ISO 8601 time", shown,
                    s);
    }
    n->type = SCHEMA_TIMESTAMP;
    n->u.i = us;
    return 0;
}

/* Checks that a and b may be compared (at the column of a). */
static int check_compare(parser_t *p, uint32_t a, uint32_t b)
{
    expr_node_t *na = &p->nodes[a], *nb = &p->nodes[b];
    if (na->type == SCHEMA_TIMESTAMP && nb->type == SCHEMA_STRING && nb->op == EXPR_LIT)
        return coerce_time(p, b);
    if (nb->type == SCHEMA_TIMESTAMP && na->type == SCHEMA_STRING && na->op == EXPR_LIT)
        return coerce_time(p, a);
    if (!comparable(na->type, nb->type))
        return perr(p, na->start, "cannot compare %s with %s", tname(na->type), tname(nb->type));
    return 0;
}

static int check_bool(parser_t *p, uint32_t k, const char *what)
{
    const expr_node_t *n = &p->nodes[k];
    if (n->type != SCHEMA_NULL && n->type != SCHEMA_BOOL)
        return perr(p, n->start, "'%s' needs boolean operands, got %s", what, tname(n->type));
    return 0;
}

static const char *op_text(expr_op_t op)
{
    static const char *const text[] = {"+", "-", "*", "/", "%"};
    return text[op - EXPR_ADD];
}

/* Result type of l op r for + - * / %, or a compile error. */
static int check_arith(parser_t *p, expr_op_t op, uint32_t l, uint32_t r, uint8_t *type)
{
    uint8_t a = p->nodes[l].type, b = p->nodes[r].type;
    bool ok_a = a == SCHEMA_NULL || is_num(a) || a == SCHEMA_TIMESTAMP;
    bool ok_b = b == SCHEMA_NULL || is_num(b) || b == SCHEMA_TIMESTAMP;
    bool additive = op == EXPR_ADD || op == EXPR_SUB;
    *type = SCHEMA_NULL;
    if (ok_a && ok_b && (a == SCHEMA_NULL || b == SCHEMA_NULL)) {
        ok_a = additive || a != SCHEMA_TIMESTAMP;
        ok_b = additive || b != SCHEMA_TIMESTAMP;
        if (ok_a && ok_b)
            return 0;
    }
    if (ok_a && ok_b) {
        if (is_num(a) && is_num(b)) {
            *type = a == SCHEMA_INT && b == SCHEMA_INT ? SCHEMA_INT : SCHEMA_FLOAT;
            return 0;
        }
        if (a == SCHEMA_TIMESTAMP && b == SCHEMA_INT && additive)
            *type = SCHEMA_TIMESTAMP;
        else if (a == SCHEMA_INT && b == SCHEMA_TIMESTAMP && op == EXPR_ADD)
            *type = SCHEMA_TIMESTAMP;
        else if (a == SCHEMA_TIMESTAMP && b == SCHEMA_TIMESTAMP && op == EXPR_SUB)
            *type = SCHEMA_INT;
        if (*type != SCHEMA_NULL)
            return 0;
    }
    uint32_t at = p->nodes[l].start;
    if (a == SCHEMA_NULL || b == SCHEMA_NULL)
        return perr(p, at, "cannot apply '%s' to %s", op_text(op), tname(a ? a : b));
    return perr(p, at, "cannot apply '%s' to %s and %s", op_text(op), tname(a), tname(b));
}

/* ------------------------------------------------------------------------
 * Parser
 * ------------------------------------------------------------------------ */

static int parse_expr(parser_t *p, uint32_t *out);
static int parse_not(parser_t *p, uint32_t *out);
static int parse_concat(parser_t *p, uint32_t *out);
static int parse_unary(parser_t *p, uint32_t *out);

static int expect(parser_t *p, tok_kind_t kind, const char *what)
{
    if (p->tok.kind != kind) {
        char d[64];
        tok_desc(p, &p->tok, d, sizeof(d));
        return perr(p, p->tok.pos, "expected %s, found %s", what, d);
    }
    return lex(p);
}

/* Finishes a node: sets its type and folds it. */
static void finish(parser_t *p, uint32_t idx, uint8_t type, uint32_t *out)
{
    p->nodes[idx].type = type;
    fold(p, idx);
    *out = idx;
}

/* or := and ("or" and)*   and := not ("and" not)*   (n-ary nodes) */
static int parse_logic(parser_t *p, bool is_or, uint32_t *out)
{
    tok_kind_t kw = is_or ? T_OR : T_AND;
    const char *what = is_or ? "or" : "and";
    uint32_t k, n = 0;
    int rc = is_or ? parse_logic(p, false, &k) : parse_not(p, &k);
    if (rc < 0 || p->tok.kind != kw) {
        *out = k;
        return rc;
    }
    uint32_t start = p->nodes[k].start;
    for (;;) {
        if ((rc = check_bool(p, k, what)) < 0 || (rc = push(p, k)) < 0)
            return rc;
        n++;
        if (p->tok.kind != kw)
            break;
        if ((rc = lex(p)) < 0)
            return rc;
        rc = is_or ? parse_logic(p, false, &k) : parse_not(p, &k);
        if (rc < 0)
            return rc;
    }
    uint32_t idx;
    if ((rc = new_node(p, is_or ? EXPR_OR : EXPR_AND, start, n, &idx)) < 0)
        return rc;
    finish(p, idx, SCHEMA_BOOL, out);
    return 0;
}

static int nest_in(parser_t *p, uint32_t pos)
{
    if (++p->nest > EXPR_MAX_DEPTH)
        return perr(p, pos, "expression nests too deeply (more than %d levels)", EXPR_MAX_DEPTH);
    return 0;
}

/* not := "not" not | cmp */
static int parse_cmp(parser_t *p, uint32_t *out);

static int parse_not(parser_t *p, uint32_t *out)
{
    if (p->tok.kind != T_NOT)
        return parse_cmp(p, out);
    uint32_t start = p->tok.pos, k, idx;
    int rc = nest_in(p, start);
    if (rc == 0)
        rc = lex(p);
    if (rc == 0)
        rc = parse_not(p, &k);
    if (rc < 0)
        return rc;
    p->nest--;
    const expr_node_t *kn = &p->nodes[k];
    if (kn->type != SCHEMA_NULL && kn->type != SCHEMA_BOOL)
        return perr(p, kn->start, "'not' needs a boolean operand, got %s", tname(kn->type));
    if ((rc = push(p, k)) < 0 || (rc = new_node(p, EXPR_NOT, start, 1, &idx)) < 0)
        return rc;
    finish(p, idx, SCHEMA_BOOL, out);
    return 0;
}

/* ["not"] "in" "(" expr ("," expr)* ")" with l already parsed. */
static int parse_in(parser_t *p, uint32_t l, bool negate, uint32_t *out)
{
    int rc = lex(p);
    if (rc == 0)
        rc = expect(p, T_LP, "'(' after 'in'");
    if (rc == 0)
        rc = push(p, l);
    uint32_t n = 1, e, idx;
    while (rc == 0) {
        if ((rc = parse_expr(p, &e)) < 0 || (rc = check_compare(p, l, e)) < 0 ||
            (rc = push(p, e)) < 0)
            return rc;
        n++;
        if (p->tok.kind == T_RP)
            break;
        rc = expect(p, T_COMMA, "',' or ')' in the 'in' list");
    }
    if (rc == 0)
        rc = lex(p);
    if (rc == 0)
        rc = new_node(p, EXPR_IN, p->nodes[l].start, n, &idx);
    if (rc < 0)
        return rc;
    p->nodes[idx].negate = negate;
    finish(p, idx, SCHEMA_BOOL, out);
    return 0;
}

/* ["not"] "between" concat "and" concat */
static int parse_between(parser_t *p, uint32_t l, bool negate, uint32_t *out)
{
    uint32_t lo, hi, idx;
    int rc = lex(p);
    if (rc == 0)
        rc = parse_concat(p, &lo);
    if (rc == 0)
        rc = check_compare(p, l, lo);
    if (rc == 0)
        rc = expect(p, T_AND, "'and' in 'between'");
    if (rc == 0)
        rc = parse_concat(p, &hi);
    if (rc == 0)
        rc = check_compare(p, l, hi);
    if (rc == 0 && (rc = push(p, l)) == 0 && (rc = push(p, lo)) == 0 && (rc = push(p, hi)) == 0)
        rc = new_node(p, EXPR_BETWEEN, p->nodes[l].start, 3, &idx);
    if (rc < 0)
        return rc;
    p->nodes[idx].negate = negate;
    finish(p, idx, SCHEMA_BOOL, out);
    return 0;
}

/* ["not"] "like" concat */
static int parse_like(parser_t *p, uint32_t l, bool negate, uint32_t *out)
{
    uint32_t pat, idx;
    int rc = lex(p);
    if (rc == 0)
        rc = parse_concat(p, &pat);
    if (rc < 0)
        return rc;
    uint32_t both[2] = {l, pat};
    for (int i = 0; i < 2; i++) {
        const expr_node_t *n = &p->nodes[both[i]];
        if (n->type != SCHEMA_NULL && n->type != SCHEMA_STRING)
            return perr(p, n->start, "'like' needs strings, got %s", tname(n->type));
    }
    if ((rc = push(p, l)) < 0 || (rc = push(p, pat)) < 0 ||
        (rc = new_node(p, EXPR_LIKE, p->nodes[l].start, 2, &idx)) < 0)
        return rc;
    p->nodes[idx].negate = negate;
    finish(p, idx, SCHEMA_BOOL, out);
    return 0;
}

static expr_op_t cmp_op(tok_kind_t k)
{
    switch (k) {
    case T_EQ:
        return EXPR_EQ;
    case T_NE:
        return EXPR_NE;
    case T_LT:
        return EXPR_LT;
    case T_LE:
        return EXPR_LE;
    case T_GT:
        return EXPR_GT;
    case T_GE:
        return EXPR_GE;
    default:
        return EXPR_LIT;
    }
}

/* "is" ["not"] "null" */
static int parse_is(parser_t *p, uint32_t l, uint32_t *out)
{
    bool negate = false;
    uint32_t idx;
    int rc = lex(p);
    if (rc == 0 && p->tok.kind == T_NOT) {
        negate = true;
        rc = lex(p);
    }
    if (rc == 0)
        rc = expect(p, T_NULL, negate ? "'null' after 'is not'" : "'null' or 'not' after 'is'");
    if (rc == 0 && (rc = push(p, l)) == 0)
        rc = new_node(p, EXPR_ISNULL, p->nodes[l].start, 1, &idx);
    if (rc < 0)
        return rc;
    p->nodes[idx].negate = negate;
    finish(p, idx, SCHEMA_BOOL, out);
    return 0;
}

/* cmp := concat (compare concat | is [not] null | [not] in/between/like)? */
static int parse_cmp(parser_t *p, uint32_t *out)
{
    uint32_t l, r, idx;
    int rc = parse_concat(p, &l);
    if (rc < 0)
        return rc;
    expr_op_t op = cmp_op(p->tok.kind);
    if (op != EXPR_LIT) {
        if ((rc = lex(p)) < 0 || (rc = parse_concat(p, &r)) < 0 ||
            (rc = check_compare(p, l, r)) < 0 || (rc = push(p, l)) < 0 || (rc = push(p, r)) < 0 ||
            (rc = new_node(p, op, p->nodes[l].start, 2, &idx)) < 0)
            return rc;
        finish(p, idx, SCHEMA_BOOL, out);
        return 0;
    }
    bool negate = false;
    if (p->tok.kind == T_IS)
        return parse_is(p, l, out);
    if (p->tok.kind == T_NOT) {
        negate = true;
        if ((rc = lex(p)) < 0)
            return rc;
        if (p->tok.kind != T_IN && p->tok.kind != T_BETWEEN && p->tok.kind != T_LIKE)
            return perr(p, p->tok.pos, "expected 'in', 'between' or 'like' after 'not'");
    }
    if (p->tok.kind == T_IN)
        return parse_in(p, l, negate, out);
    if (p->tok.kind == T_BETWEEN)
        return parse_between(p, l, negate, out);
    if (p->tok.kind == T_LIKE)
        return parse_like(p, l, negate, out);
    *out = l;
    return 0;
}

/* concat := add ("||" add)*   (left-associative; any operand types) */
static int parse_add(parser_t *p, uint32_t *out);

static int parse_concat(parser_t *p, uint32_t *out)
{
    uint32_t l, r, idx;
    int rc = parse_add(p, &l);
    while (rc == 0 && p->tok.kind == T_CONCAT) {
        if ((rc = lex(p)) < 0 || (rc = parse_add(p, &r)) < 0 || (rc = push(p, l)) < 0 ||
            (rc = push(p, r)) < 0 ||
            (rc = new_node(p, EXPR_CONCAT, p->nodes[l].start, 2, &idx)) < 0)
            return rc;
        finish(p, idx, SCHEMA_STRING, &l);
    }
    *out = l;
    return rc;
}

/* One left-associative arithmetic level: add (mul=false) or mul. */
static int parse_arith(parser_t *p, bool mul, uint32_t *out)
{
    uint32_t l, r, idx;
    int rc = mul ? parse_unary(p, &l) : parse_arith(p, true, &l);
    for (;;) {
        tok_kind_t k = p->tok.kind;
        expr_op_t op = k == T_PLUS    ? EXPR_ADD
                       : k == T_MINUS ? EXPR_SUB
                       : k == T_STAR  ? EXPR_MUL
                       : k == T_SLASH ? EXPR_DIV
                       : k == T_PCT   ? EXPR_MOD
                                      : EXPR_LIT;
        if (rc < 0 || op == EXPR_LIT || (mul != (op >= EXPR_MUL)))
            break;
        uint8_t type;
        if ((rc = lex(p)) < 0 || (rc = mul ? parse_unary(p, &r) : parse_arith(p, true, &r)) < 0 ||
            (rc = check_arith(p, op, l, r, &type)) < 0 || (rc = push(p, l)) < 0 ||
            (rc = push(p, r)) < 0 || (rc = new_node(p, op, p->nodes[l].start, 2, &idx)) < 0)
            break;
        finish(p, idx, type, &l);
    }
    *out = l;
    return rc;
}

static int parse_add(parser_t *p, uint32_t *out)
{
    return parse_arith(p, false, out);
}

/* unary := "-" unary | primary */
static int parse_primary(parser_t *p, uint32_t *out);

static int parse_unary(parser_t *p, uint32_t *out)
{
    if (p->tok.kind != T_MINUS)
        return parse_primary(p, out);
    uint32_t start = p->tok.pos, k, idx;
    int rc = lex(p);
    if (rc == 0 && p->tok.kind == T_INT && p->tok.big) { /* -9223372036854775808 */
        if ((rc = new_lit(p, SCHEMA_INT, start, out)) == 0) {
            p->nodes[*out].u.i = INT64_MIN;
            rc = lex(p);
        }
        return rc;
    }
    if (rc == 0)
        rc = nest_in(p, start);
    if (rc == 0)
        rc = parse_unary(p, &k);
    if (rc < 0)
        return rc;
    p->nest--;
    uint8_t t = p->nodes[k].type;
    if (t != SCHEMA_NULL && !is_num(t))
        return perr(p, start, "cannot negate %s", tname(t));
    if ((rc = push(p, k)) < 0 || (rc = new_node(p, EXPR_NEG, start, 1, &idx)) < 0)
        return rc;
    finish(p, idx, t, out);
    return 0;
}

static const struct {
    const char *name;
    expr_op_t op;
    schema_type_t type;
} metadata[] = {
    {"_key", EXPR_KEY, SCHEMA_STRING},
    {"_partition", EXPR_PARTITION, SCHEMA_INT},
    {"_offset", EXPR_OFFSET, SCHEMA_INT},
    {"_timestamp", EXPR_TIMESTAMP, SCHEMA_TIMESTAMP},
};

/* A field of the schema, else a metadata name. */
static int resolve_field(parser_t *p, const char *name, size_t len, uint32_t pos, uint32_t *out)
{
    int idx = p->schema ? schema_field_index(p->schema, name, len) : -1;
    int rc;
    if (idx >= 0) {
        if ((rc = new_node(p, EXPR_FIELD, pos, 0, out)) < 0)
            return rc;
        p->nodes[*out].u.field = idx;
        p->nodes[*out].type = (uint8_t)schema_field(p->schema, (size_t)idx)->type;
        return 0;
    }
    for (size_t i = 0; i < CORE_ARRAY_LEN(metadata); i++) {
        if (strlen(metadata[i].name) == len && memcmp(metadata[i].name, name, len) == 0) {
            if ((rc = new_node(p, metadata[i].op, pos, 0, out)) == 0)
                p->nodes[*out].type = (uint8_t)metadata[i].type;
            return rc;
        }
    }
    int shown = len > 64 ? 64 : (int)len;
    return perr(p, pos, "unknown field '%.*s%s'", shown, name, len > 64 ? "..." : "");
}

/* Type of a call's result from its (checked) arguments: the n stack entries
 * at the top. */
static uint8_t call_type(const parser_t *p, const expr_fn_t *fn, uint32_t n)
{
    if (fn->rule == EXPR_RES_FIXED)
        return (uint8_t)fn->result;
    if (fn->rule == EXPR_RES_ARG0)
        return p->nodes[top(p, n, 0)].type;
    uint8_t t = SCHEMA_NULL;
    bool any = false;
    for (uint32_t i = fn->unify_from; i < n; i++) {
        const expr_node_t *k = &p->nodes[top(p, n, i)];
        if (is_null_lit(k))
            continue;
        if (k->type == SCHEMA_NULL)
            return SCHEMA_NULL;
        if (!any)
            t = k->type;
        else if (t != k->type)
            t = is_num(t) && is_num(k->type) ? SCHEMA_FLOAT : 0xff;
        any = true;
    }
    return t == 0xff ? SCHEMA_NULL : t;
}

/* Arity, argument classes and the constant checks of one call. */
static int check_call(parser_t *p, const expr_fn_t *fn, uint32_t n, uint32_t pos)
{
    if (n < fn->min_args || n > fn->max_args) {
        const char *s = fn->min_args == 1 ? "" : "s";
        if (fn->max_args == EXPR_FN_VARIADIC)
            return perr(p, pos, "%s() takes at least %u argument%s, got %u", fn->name, fn->min_args,
                        s, n);
        if (fn->min_args == fn->max_args)
            return perr(p, pos, "%s() takes %u argument%s, got %u", fn->name, fn->min_args, s, n);
        return perr(p, pos, "%s() takes %u or %u arguments, got %u", fn->name, fn->min_args,
                    fn->max_args, n);
    }
    int first = -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = top(p, n, i);
        const expr_node_t *kn = &p->nodes[k];
        expr_arg_class_t cls = stream_expr_fn_class(fn, i);
        if (kn->type != SCHEMA_NULL && !stream_expr_class_accepts(cls, (schema_type_t)kn->type))
            return perr(p, kn->start, "argument %u of %s() must be %s, got %s", i + 1, fn->name,
                        stream_expr_class_name(cls), tname(kn->type));
        if (fn->comparable && kn->type != SCHEMA_NULL) {
            if (first >= 0 && !comparable(p->nodes[first].type, kn->type))
                return perr(p, kn->start, "cannot compare %s with %s", tname(kn->type),
                            tname(p->nodes[first].type));
            if (first < 0)
                first = (int)k;
        }
    }
    const expr_node_t *u = &p->nodes[top(p, n, 0)];
    if (strcmp(fn->name, "date_trunc") == 0 && u->op == EXPR_LIT && u->type == SCHEMA_STRING &&
        !stream_expr_trunc_unit_valid((const char *)p->pool.data + u->u.s.off, u->u.s.len))
        return perr(
            p, u->start, "unknown date_trunc unit '%.*s' (use 'minute', 'hour', 'day' or 'month')",
            u->u.s.len > 40 ? 40 : (int)u->u.s.len, (const char *)p->pool.data + u->u.s.off);
    return 0;
}

/* func "(" [expr ("," expr)*] ")" with the name already consumed. */
static int parse_call(parser_t *p, const char *name, size_t len, uint32_t pos, uint32_t *out)
{
    uint32_t fi, n = 0, a, idx;
    const expr_fn_t *fn = stream_expr_fn_find(name, len, &fi);
    if (fn == NULL)
        return perr(p, pos, "unknown function '%.*s'", len > 64 ? 64 : (int)len, name);
    int rc = lex(p); /* '(' */
    if (rc == 0 && p->tok.kind != T_RP) {
        for (;;) {
            if ((rc = parse_expr(p, &a)) < 0 || (rc = push(p, a)) < 0)
                return rc;
            n++;
            if (p->tok.kind != T_COMMA)
                break;
            if ((rc = lex(p)) < 0)
                return rc;
        }
    }
    if (rc == 0 && p->tok.kind != T_RP) {
        char d[64];
        tok_desc(p, &p->tok, d, sizeof(d));
        return perr(p, p->tok.pos, "expected ',' or ')' in the arguments of %s(), found %s",
                    fn->name, d);
    }
    if (rc == 0)
        rc = lex(p);
    if (rc == 0)
        rc = check_call(p, fn, n, pos);
    if (rc < 0)
        return rc;
    uint8_t type = call_type(p, fn, n);
    if ((rc = new_node(p, EXPR_CALL, pos, n, &idx)) < 0)
        return rc;
    p->nodes[idx].u.fn = fi;
    finish(p, idx, type, out);
    return 0;
}

static int parse_literal(parser_t *p, uint32_t *out)
{
    token_t t = p->tok;
    schema_type_t type = t.kind == T_INT     ? SCHEMA_INT
                         : t.kind == T_FLOAT ? SCHEMA_FLOAT
                         : t.kind == T_STR   ? SCHEMA_STRING
                         : t.kind == T_NULL  ? SCHEMA_NULL
                                             : SCHEMA_BOOL;
    if (t.kind == T_INT && t.big)
        return perr(p, t.pos, "integer literal out of range");
    int rc = new_lit(p, type, t.pos, out);
    if (rc < 0)
        return rc;
    expr_node_t *n = &p->nodes[*out];
    if (t.kind == T_INT)
        n->u.i = t.i;
    else if (t.kind == T_FLOAT)
        n->u.f = t.f;
    else if (t.kind == T_STR) {
        n->u.s.off = t.soff;
        n->u.s.len = t.slen;
    } else
        n->u.b = t.kind == T_TRUE;
    return lex(p);
}

/* primary := literal | identifier | "quoted" | func(...) | "(" expr ")" */
static int parse_primary(parser_t *p, uint32_t *out)
{
    token_t t = p->tok;
    int rc;
    switch (t.kind) {
    case T_INT:
    case T_FLOAT:
    case T_STR:
    case T_TRUE:
    case T_FALSE:
    case T_NULL:
        return parse_literal(p, out);
    case T_LP:
        if ((rc = lex(p)) < 0 || (rc = parse_expr(p, out)) < 0)
            return rc;
        return expect(p, T_RP, "')'");
    case T_IDENT:
        if ((rc = lex(p)) < 0)
            return rc;
        if (p->tok.kind == T_LP)
            return parse_call(p, p->text + t.pos, t.len, t.pos, out);
        return resolve_field(p, p->text + t.pos, t.len, t.pos, out);
    case T_QIDENT:
        rc = resolve_field(p, (const char *)p->pool.data + t.soff, t.slen, t.pos, out);
        if (p->pool.len == (size_t)t.soff + t.slen + 1)
            p->pool.len = t.soff; /* the name is not needed any more */
        return rc < 0 ? rc : lex(p);
    default: {
        char d[64];
        tok_desc(p, &t, d, sizeof(d));
        return perr(p, t.pos, "unexpected %s", d);
    }
    }
}

static int parse_expr(parser_t *p, uint32_t *out)
{
    int rc = nest_in(p, p->tok.pos);
    if (rc == 0)
        rc = parse_logic(p, true, out);
    if (rc == 0)
        p->nest--;
    return rc;
}

/* ------------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------------ */

static void parser_fini(parser_t *p)
{
    core_free(p->nodes);
    core_free(p->kids);
    core_free(p->stack);
    core_buf_fini(&p->pool);
    core_buf_fini(&p->fold);
}

/* Moves the parser's arrays into a new expression. */
static int build(parser_t *p, const char *text, size_t len, uint32_t root, stream_expr_t **out)
{
    stream_expr_t *e = core_calloc(CORE_MEM_STREAM, 1, sizeof(*e));
    char *copy = core_strndup(CORE_MEM_STREAM, text, len);
    if (e == NULL || copy == NULL) {
        core_free(e);
        core_free(copy);
        return core_error(CORE_ENOMEM, "expr: out of memory compiling an expression");
    }
    e->schema = p->schema;
    e->text = copy;
    e->nodes = p->nodes;
    e->kids = p->kids;
    e->pool = (char *)core_buf_take(&p->pool, NULL);
    e->root = root;
    e->type = (schema_type_t)p->nodes[root].type;
    p->nodes = NULL;
    p->kids = NULL;
    *out = e;
    return 0;
}

int stream_expr_compile(const char *text, const schema_t *schema, stream_expr_t **out)
{
    *out = NULL;
    if (text == NULL)
        return core_error(CORE_EINVAL, "expr: no expression text");
    size_t len = strnlen(text, EXPR_MAX_TEXT + 1);
    if (len > EXPR_MAX_TEXT)
        return core_error(CORE_EINVAL, "expr: expression text exceeds %d bytes", EXPR_MAX_TEXT);
    parser_t p = {.text = text, .len = len, .schema = schema};
    core_buf_init(&p.pool, CORE_MEM_STREAM, POOL_MAX);
    core_buf_init(&p.fold, CORE_MEM_STREAM, EXPR_MAX_TEXT);
    uint32_t root;
    int rc = lex(&p);
    if (rc == 0 && p.tok.kind == T_END)
        rc = perr(&p, p.tok.pos, "empty expression");
    if (rc == 0)
        rc = parse_expr(&p, &root);
    if (rc == 0 && p.tok.kind != T_END) {
        char d[64];
        tok_desc(&p, &p.tok, d, sizeof(d));
        rc = perr(&p, p.tok.pos, "unexpected %s after the expression", d);
    }
    if (rc == 0)
        rc = build(&p, text, len, root, out);
    parser_fini(&p);
    return rc;
}

int stream_expr_compile_bool(const char *text, const schema_t *schema, stream_expr_t **out)
{
    int rc = stream_expr_compile(text, schema, out);
    if (rc < 0)
        return rc;
    schema_type_t t = (*out)->type;
    if (t != SCHEMA_BOOL && t != SCHEMA_NULL) {
        size_t start = (*out)->nodes[(*out)->root].start;
        parser_t p = {.text = text, .len = strlen(text)};
        stream_expr_destroy(*out);
        *out = NULL;
        return perr(&p, start, "a condition must be boolean, got %s", schema_type_name(t));
    }
    return 0;
}

void stream_expr_destroy(stream_expr_t *e)
{
    if (e == NULL)
        return;
    core_free(e->text);
    core_free(e->nodes);
    core_free(e->kids);
    core_free(e->pool);
    core_free(e);
}

schema_type_t stream_expr_type(const stream_expr_t *e)
{
    return e->type;
}

const char *stream_expr_text(const stream_expr_t *e)
{
    return e->text;
}

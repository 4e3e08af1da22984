/*
 * Private to the expression files (expr_parse.c, expr_eval.c, expr_func.c):
 * the compiled form of an expression and the evaluator's working values.
 * Nothing outside those three files includes this header; the rest of
 * stream/ uses expr_int.h.
 *
 * A compiled expression is a flat array of nodes. Children are listed in a
 * separate index array (node.kid .. node.kid + node.nkids - 1), so n-ary
 * nodes (and, or, ||, in, function calls) need no per-node allocation.
 * String literals live in one pool, each NUL-terminated, addressed by
 * offset because the pool may move while it is being built.
 *
 * Strings produced during evaluation live in the caller's scratch buffer.
 * The buffer may move when it grows, so a working value refers to scratch
 * bytes by offset (in_scratch) and is turned into a pointer only at the
 * moment it is read, always after any reserve that could move it.
 */
#ifndef STRATA_STREAM_EXPR_IMPL_H
#define STRATA_STREAM_EXPR_IMPL_H

#include "stream/expr_int.h"

#define EXPR_MAX_TEXT  (64 * 1024) /* bytes of expression text */
#define EXPR_MAX_DEPTH 256         /* nesting levels and tree depth */

typedef enum {
    EXPR_LIT,       /* constant: type and value in the node */
    EXPR_FIELD,     /* u.field: schema field index */
    EXPR_KEY,       /* _key */
    EXPR_PARTITION, /* _partition */
    EXPR_OFFSET,    /* _offset */
    EXPR_TIMESTAMP, /* _timestamp */
    EXPR_NEG,
    EXPR_NOT,
    EXPR_AND, /* n-ary */
    EXPR_OR,  /* n-ary */
    EXPR_EQ,
    EXPR_NE,
    EXPR_LT,
    EXPR_LE,
    EXPR_GT,
    EXPR_GE,
    EXPR_ADD,
    EXPR_SUB,
    EXPR_MUL,
    EXPR_DIV,
    EXPR_MOD,
    EXPR_CONCAT,  /* binary || */
    EXPR_ISNULL,  /* negate: is not null */
    EXPR_IN,      /* kids: value, list...; negate: not in */
    EXPR_BETWEEN, /* kids: value, low, high; negate: not between */
    EXPR_LIKE,    /* kids: value, pattern; negate: not like */
    EXPR_CALL     /* u.fn: index into the function table */
} expr_op_t;

typedef struct {
    uint8_t op;     /* expr_op_t */
    uint8_t type;   /* static schema_type_t; SCHEMA_NULL = known only at run time */
    bool negate;    /* not in / not between / not like / is not null */
    uint16_t depth; /* 1 for leaves */
    uint32_t start; /* byte offset of the node's first token (for errors) */
    uint32_t kid;   /* first child in the kids array */
    uint32_t nkids;
    union {
        bool b;
        int64_t i; /* SCHEMA_INT, SCHEMA_TIMESTAMP */
        double f;
        struct {
            uint32_t off, len; /* into the pool */
        } s;
        int32_t field;
        uint32_t fn;
    } u;
} expr_node_t;

struct stream_expr {
    const schema_t *schema; /* borrowed */
    char *text;             /* owned copy of the source */
    expr_node_t *nodes;     /* owned */
    uint32_t *kids;         /* owned */
    char *pool;             /* owned; string literals, NUL-terminated */
    uint32_t root;
    schema_type_t type;
};

/* A value during evaluation. Strings (and object/array text) are either
 * borrowed bytes (p) or scratch bytes at offset off (in_scratch). */
typedef struct {
    schema_type_t type;
    bool in_scratch;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p;
            size_t off;
            size_t len;
        } s;
    } v;
} expr_val_t;

/* Everything one evaluation reads. Owned by the evaluating thread. */
typedef struct {
    const expr_node_t *nodes;
    const uint32_t *kids;
    const char *pool;
    const stream_expr_env_t *env; /* NULL while constant folding */
    core_buf_t *scratch;          /* NULL: no room for strings */
} expr_ctx_t;

/* Argument classes of a function signature, checked at compile time when
 * the argument's type is known and at run time otherwise. */
typedef enum {
    EXPR_ARG_ANY = 1,  /* anything, objects and arrays included (0: unset) */
    EXPR_ARG_SCALAR,   /* not an object or array */
    EXPR_ARG_STRING,   /* string */
    EXPR_ARG_NUMBER,   /* int or float */
    EXPR_ARG_INT,      /* int */
    EXPR_ARG_BOOL,     /* bool */
    EXPR_ARG_TIME,     /* timestamp */
    EXPR_ARG_TIMEABLE, /* int, float, string or timestamp (to_timestamp) */
    EXPR_ARG_BOOLABLE  /* bool, int, float or string (bool) */
} expr_arg_class_t;

/* How a function's static result type is found. */
typedef enum {
    EXPR_RES_FIXED, /* fn.result */
    EXPR_RES_ARG0,  /* the first argument's type (abs, round, floor, ceil) */
    EXPR_RES_UNIFY  /* common type of the value arguments (coalesce, if, least) */
} expr_res_rule_t;

#define EXPR_FN_MAX_STRICT 3 /* strict functions take at most this many args */
#define EXPR_FN_VARIADIC   UINT32_MAX

/* Strict functions get evaluated, non-null, class-checked arguments. Lazy
 * ones (lazy = true) evaluate their own arguments from the node. */
typedef int (*expr_fn_strict_t)(const expr_ctx_t *c, const expr_node_t *n, const expr_val_t *args,
                                expr_val_t *out);
typedef int (*expr_fn_lazy_t)(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out);

typedef struct {
    const char *name;
    uint32_t min_args, max_args; /* max: EXPR_FN_VARIADIC for no limit */
    uint8_t classes[3];          /* per argument; the last one set repeats */
    expr_res_rule_t rule;        /* static result type */
    schema_type_t result;        /* EXPR_RES_FIXED */
    bool comparable;             /* least/greatest: arguments must compare */
    uint8_t unify_from;          /* EXPR_RES_UNIFY: first value argument */
    expr_fn_strict_t strict;     /* exactly one of strict and lazy */
    expr_fn_lazy_t lazy;
} expr_fn_t;

/* ---- expr_func.c */

/* The function called name[0..len) (case-insensitive), or NULL. */
const expr_fn_t *stream_expr_fn_find(const char *name, size_t len, uint32_t *index);
const expr_fn_t *stream_expr_fn_get(uint32_t index);
/* The class an argument at position i (0-based) must satisfy. */
expr_arg_class_t stream_expr_fn_class(const expr_fn_t *fn, uint32_t i);
/* True if a value of type t satisfies class k (t is not SCHEMA_NULL). */
bool stream_expr_class_accepts(expr_arg_class_t k, schema_type_t t);
/* "a string", "a number", ... for messages. */
const char *stream_expr_class_name(expr_arg_class_t k);
/* Evaluates a call node. */
int stream_expr_call(const expr_ctx_t *c, const expr_node_t *n, expr_val_t *out);
/* True if unit[0..len) names a date_trunc unit. */
bool stream_expr_trunc_unit_valid(const char *unit, size_t len);

/* ---- expr_eval.c */

/* Evaluates node idx into *out. 0, or CORE_ETOOBIG / CORE_ENOMEM when the
 * scratch cannot hold a string result. */
int stream_expr_eval_node(const expr_ctx_t *c, uint32_t idx, expr_val_t *out);
/* Evaluates the i-th child of n. */
int stream_expr_eval_kid(const expr_ctx_t *c, const expr_node_t *n, uint32_t i, expr_val_t *out);
/* The bytes of a string (or object/array) value, resolved now. Valid until
 * the scratch next grows. */
const char *stream_expr_str(const expr_ctx_t *c, const expr_val_t *v);
/* Makes room for n more scratch bytes. After it succeeds, *dst is where
 * they go (resolve input strings only after this call) and *off their
 * offset; finish with stream_expr_out_commit(). n may be 0. */
int stream_expr_out_begin(const expr_ctx_t *c, size_t n, char **dst, size_t *off);
/* Marks n bytes at the scratch end as used and sets *out to that string. */
void stream_expr_out_commit(const expr_ctx_t *c, size_t off, size_t n, expr_val_t *out);
/* Compares two non-null values: false when they are not comparable. */
bool stream_expr_compare(const expr_ctx_t *c, const expr_val_t *a, const expr_val_t *b, int *cmp);
/* Text of a non-string value in tmp (>= 48 bytes), for ||, concat() and
 * string(). Returns the length; strings, objects and arrays return their
 * own length and leave tmp alone (read them with stream_expr_str). */
size_t stream_expr_text_of(const expr_val_t *v, char *tmp);
/* Appends v's text to the accumulated string *acc (a scratch string, or
 * empty with acc->type = SCHEMA_NULL at the start). */
int stream_expr_append_text(const expr_ctx_t *c, expr_val_t *acc, const expr_val_t *v);

static inline void expr_set_null(expr_val_t *v)
{
    v->type = SCHEMA_NULL;
    v->in_scratch = false;
}

static inline void expr_set_int(expr_val_t *v, schema_type_t t, int64_t i)
{
    v->type = t;
    v->in_scratch = false;
    v->v.i = i;
}

static inline void expr_set_float(expr_val_t *v, double f)
{
    v->type = SCHEMA_FLOAT;
    v->in_scratch = false;
    v->v.f = f;
}

static inline void expr_set_bool(expr_val_t *v, bool b)
{
    v->type = SCHEMA_BOOL;
    v->in_scratch = false;
    v->v.b = b;
}

static inline void expr_set_str(expr_val_t *v, const char *p, size_t len)
{
    v->type = SCHEMA_STRING;
    v->in_scratch = false;
    v->v.s.p = p;
    v->v.s.off = 0;
    v->v.s.len = len;
}

#endif

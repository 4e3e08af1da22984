/*
 * The expression language: filters, keys, derived fields, schema rules,
 * detector thresholds and aggregate arguments. Internal to stream/.
 *
 * Grammar (SQL-flavoured, keywords case-insensitive):
 *   expr    := or
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | cmp
 *   cmp     := concat (("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") concat
 *              | "is" ["not"] "null"
 *              | ["not"] "in" "(" expr ("," expr)* ")"
 *              | ["not"] "between" concat "and" concat
 *              | ["not"] "like" concat)?
 *   concat  := add ("||" add)*
 *   add     := mul (("+" | "-") mul)*
 *   mul     := unary (("*" | "/" | "%") unary)*
 *   unary   := "-" unary | primary
 *   primary := number | 'string' ('' escapes a quote) | true | false | null
 *            | identifier | "quoted identifier" | func "(" [expr ("," expr)*] ")"
 *            | "(" expr ")"
 * Identifiers name schema fields, or the record's metadata: _key (string),
 * _partition (int), _offset (int), _timestamp (timestamp: the Kafka record
 * time). A schema field of the same name wins over a metadata name. Field
 * names are case-sensitive; keywords and function names are not.
 *
 * Semantics follow SQL: any operator with a NULL operand yields NULL, except
 * "and"/"or" (three-valued logic), "is null" and coalesce(). A filter or rule
 * treats NULL as false. int op int stays int (overflow yields NULL);
 * mixing int and float gives float; "/" of two ints is integer division
 * truncated toward zero; division or modulo by zero yields NULL. Timestamps
 * compare with timestamps (a string literal compared with a timestamp is
 * read as ISO 8601 at compile time); timestamp +/- int adds microseconds;
 * timestamp - timestamp is int microseconds. Strings compare bytewise.
 * Comparing values of incompatible types is a compile error when the types
 * are known, NULL otherwise. Functions return NULL when an argument is
 * NULL, except coalesce(), if() (a NULL condition takes the else branch),
 * concat() (skips NULLs) and least()/greatest() (ignore NULLs).
 *
 * Functions: coalesce(a, b, ...), if(cond, a, b), lower(s), upper(s),
 * length(s) (code points), trim(s), substr(s, start[, len]) (1-based, code
 * points), concat(a, ...), contains(s, sub), starts_with(s, p),
 * ends_with(s, p), replace(s, from, to), lpad(s, n[, fill]), rpad(s, n[, fill])
 * (PostgreSQL's: cut to n, or padded with fill, default ' '), abs(x), round(x[, digits]),
 * floor(x), ceil(x), sqrt(x), ln(x), exp(x), pow(x, y), least(a, ...),
 * greatest(a, ...), int(x), float(x), string(x), bool(x);
 * time: year(ts), month(ts), day(ts), hour(ts), minute(ts), second(ts),
 * dow(ts) (0 = Sunday), date(ts) ('YYYY-MM-DD'), date_trunc('minute' |
 * 'hour' | 'day' | 'month', ts) (timestamp), epoch_ms(ts),
 * to_timestamp(x[, format]) (number = epoch ms; string = ISO 8601 or the
 * strptime-style format), interval literals via seconds(n), minutes(n),
 * hours(n), days(n) (int microseconds).
 * "like" supports % and _ (one code point); there is no escape character.
 * lower()/upper() change ASCII letters only.
 *
 * Limits: text up to 64 KiB; nesting (parentheses, calls, unary operators)
 * and tree depth up to 256 levels. Literal-only subexpressions are folded
 * to constants at compile time.
 *
 * Compiling checks names, arity and, where the types are known, types; the
 * error says where: "expr: column 12: unknown field 'amout'" (columns count
 * code points from 1). Evaluation never allocates: strings made by
 * functions go into the caller's scratch buffer, which the caller resets
 * per record; when it is full the result is CORE_ETOOBIG. (Growing the
 * scratch up to its cap goes through core_buf_reserve, so a warmed-up
 * scratch, which keeps its memory across resets, makes evaluation
 * allocation-free.)
 *
 * Threading: a compiled expression is immutable and may be shared; the
 * scratch and the env belong to the evaluating thread.
 */
#ifndef STRATA_STREAM_EXPR_INT_H
#define STRATA_STREAM_EXPR_INT_H

#include "core/core.h"
#include "schema/schema.h"

typedef struct stream_expr stream_expr_t;

/* What an expression is evaluated against. fields has one value per schema
 * field (schema order), or is NULL (every field NULL); a value whose type
 * differs from its field's type reads as NULL, except that an int in a
 * float field reads as that float. The metadata describes the record. All
 * borrowed. */
typedef struct {
    const schema_value_t *fields;
    schema_value_t key; /* SCHEMA_STRING or SCHEMA_NULL */
    int32_t partition;
    int64_t offset;
    int64_t timestamp_us;
} stream_expr_env_t;

/* Compiles text (NUL-terminated, copied) against schema (borrowed: it must
 * outlive the expression; NULL means no fields, only metadata). *out is
 * owned by the caller (stream_expr_destroy). On error *out is NULL and the
 * result is CORE_EINVAL with the core error detail set, e.g.
 * "expr: column 12: unknown field 'amout'" or
 * "expr: column 1: cannot compare string with int", or CORE_ENOMEM. */
int stream_expr_compile(const char *text, const schema_t *schema, stream_expr_t **out);
void stream_expr_destroy(stream_expr_t *e); /* NULL is ignored */

/* The static result type: SCHEMA_NULL when it is only known at run time
 * (e.g. coalesce of differently typed arguments). */
schema_type_t stream_expr_type(const stream_expr_t *e);
/* The source text. Borrowed. */
const char *stream_expr_text(const stream_expr_t *e);

/* Evaluates. *out may borrow env's strings, scratch bytes or the
 * expression's own constants: valid while those stay unchanged. Scratch
 * bytes move when the scratch grows, so a caller keeping several results
 * of one record at once either reserves the scratch to its cap first
 * (core_buf_reserve(scratch, scratch->max - scratch->len)) or copies each
 * result before the next evaluation. scratch may be NULL (string-making
 * functions then fail). Errors: CORE_ETOOBIG when scratch is full
 * (CORE_ENOMEM if it cannot grow); *out is then NULL. Type errors found at
 * run time give NULL, not an error. */
int stream_expr_eval(const stream_expr_t *e, const stream_expr_env_t *env, core_buf_t *scratch,
                     schema_value_t *out);

/* Evaluates as a condition: true only for a true boolean (NULL and false
 * are false). Non-boolean results are a compile-time error for conditions:
 * use stream_expr_compile_bool, which is stream_expr_compile plus
 * "expr: column N: a condition must be boolean, got int" when the static
 * type is known and not bool (a type known only at run time is accepted;
 * a non-boolean value then tests false). stream_expr_test returns
 * stream_expr_eval's error, with *result false. */
int stream_expr_compile_bool(const char *text, const schema_t *schema, stream_expr_t **out);
int stream_expr_test(const stream_expr_t *e, const stream_expr_env_t *env, core_buf_t *scratch,
                     bool *result);

/* When e is one field reference, its field index, and in *as the type it
 * reads the field as (SCHEMA_NULL: as it is); else -1. A caller may then
 * read the row directly (stream_field_number() in stream_int.h). */
int stream_expr_root_field(const stream_expr_t *e, schema_type_t *as);

#endif

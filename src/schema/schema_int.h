/*
 * schema_int.h - internals shared by the schema module's files (schema.c,
 * decode.c, time.c). Nothing outside src/schema/ includes this.
 */
#ifndef STRATA_SCHEMA_INT_H
#define STRATA_SCHEMA_INT_H

#include "schema/schema.h"

#include <string.h>

/* An open-addressing index over byte strings kept elsewhere (field names,
 * enum values): slot = position + 1, 0 = empty. Load is at most 1/2, so a
 * miss ends at an empty slot after a short probe. Read-only once built. */
typedef struct {
    uint32_t *slots; /* owned */
    size_t mask;     /* slot count - 1; 0 when not built */
} schema_names_t;

/* Enums this long or longer get a hash index; shorter ones are scanned. */
#define SCHEMA_ENUM_HASH_MIN 8

/* decode.c's ordered path matches the bytes that follow a key's opening
 * quote, `name":`, as two 8-byte words under masks, loaded in memory order
 * (names of up to SCHEMA_KEY_PATTERN_MAX bytes that are plain; mask[0] is 0
 * for other names, which are compared byte by byte or not at all). */
#define SCHEMA_KEY_PATTERN_MAX 14
typedef struct {
    uint64_t word[2];
    uint64_t mask[2];
} schema_key_pattern_t;

/* pattern.c: the fast matcher for simple patterns (see there). */
#define SCHEMA_FAST_ATOMS 16
/* *out gets the compiled pattern, or NULL when the pattern is not one the
 * fast matcher takes (regexec decides). 0 or CORE_ENOMEM. */
int schema_fast_pattern_compile(const char *pattern, schema_fast_pattern_t **out);
void schema_fast_pattern_free(schema_fast_pattern_t *fp); /* NULL is ignored */
/* 1 if p[0..n) matches the whole pattern, 0 if not, -1 if the value holds a
 * NUL or a byte >= 0x80 (ask regexec). */
int schema_fast_pattern_match(const schema_fast_pattern_t *fp, const char *p, size_t n);

struct schema {
    char *name;              /* owned */
    schema_field_t **fields; /* owned, each owned; stable addresses */
    size_t n_fields, cap_fields;
    schema_rule_t **rules; /* owned, each owned */
    size_t n_rules, cap_rules;
    size_t max_value; /* bytes per string/object/array */
    size_t max_depth; /* JSON nesting, as core's scanner counts it */
    bool sealed;
    /* Built by schema_seal(): */
    const char **names;       /* borrowed from fields[i]->name */
    size_t *name_lens;        /* fields[i]->name_len */
    size_t max_name_len;      /* longest field name */
    schema_names_t index;     /* over names */
    schema_names_t *enum_idx; /* per field; mask 0 when the enum is short */
    uint16_t *required;       /* indexes of required fields */
    size_t n_required;
    /* Fields whose names are printable ASCII without '"' or '\\': written
     * raw between quotes they are the whole, valid JSON key, so decode.c's
     * ordered path may match them byte for byte. */
    uint64_t plain_names[SCHEMA_MAX_FIELDS / 64];
    uint64_t required_bits[SCHEMA_MAX_FIELDS / 64]; /* the required fields */
    /* String fields without checks (enum, lengths, pattern): a plain JSON
     * string within max_value is their value as it stands. */
    uint64_t plain_strings[SCHEMA_MAX_FIELDS / 64];
    schema_key_pattern_t *key_pats; /* per field; owned */
    size_t scratch_cap;             /* a row's scratch cap (decode.c) */
};

/* 64-bit hash of a short byte string (field names, enum values). */
static inline uint64_t schema_name_hash(const char *p, size_t n)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t h = (uint64_t)n * k, w;
    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    w = 0;
    if (n > 0)
        memcpy(&w, p, n);
    h = (h ^ w) * k;
    h ^= h >> 32;
    return h;
}

/* Position of p[0..n) among strs[]/lens[] through the index t, or -1. */
static inline int schema_names_find(const schema_names_t *t, const char *const *strs,
                                    const size_t *lens, const char *p, size_t n)
{
    size_t i = (size_t)schema_name_hash(p, n) & t->mask;
    for (;;) {
        uint32_t slot = t->slots[i];
        if (slot == 0)
            return -1;
        size_t k = slot - 1;
        if (lens[k] == n && (n == 0 || memcmp(strs[k], p, n) == 0))
            return (int)k;
        i = (i + 1) & t->mask;
    }
}

/* Builds t over strs[0..n) (n < 2^31). CORE_ENOMEM. */
int schema_names_build(schema_names_t *t, const char *const *strs, const size_t *lens, size_t n);
void schema_names_fini(schema_names_t *t);

/* ---- numbers and time (time.c) ----------------------------------------- */

/* Exact value of the decimal text p[0..n) ([+-]digits[.digits][e[+-]digits],
 * or .digits) times 10^scale, rounded toward zero. *inexact tells whether
 * non-zero digits were dropped. 0, CORE_EINVAL (not a decimal) or
 * CORE_ERANGE (outside int64). */
int schema_decimal_scaled(const char *p, size_t n, int scale, int64_t *out, bool *inexact);

/* schema_parse_timestamp without touching the thread's error detail: on
 * failure returns CORE_EINVAL and points *why at a static explanation. */
int schema_ts_parse(schema_ts_format_t format, const char *pattern, const char *p, size_t n,
                    int64_t *us, const char **why);

/* Checks a strptime-style pattern at schema_add_field() time. CORE_EINVAL
 * with the thread's detail naming the field and the problem. */
int schema_ts_pattern_check(const char *field, const char *pattern);

/* "auto", "epoch_s", ... or the pattern, for reasons. */
const char *schema_ts_format_label(const schema_field_t *f);

#endif

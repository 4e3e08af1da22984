/*
 * schema.c - building a schema (fields, checks, rules), sealing it, and
 * looking fields up by name.
 *
 * Invariants:
 *   1. A field is validated completely before it is added: on any error
 *      the schema is unchanged. Each field lives in its own allocation, so
 *      pointers from schema_field() stay valid while fields are added, and
 *      a compiled regex_t is never moved.
 *   2. Patterns are compiled twice at add time: alone, to reject texts
 *      such as "a)|(b" that would escape the implied anchors, and as
 *      "^(" pattern ")$", which is what decoding runs.
 *   3. schema_seal() builds the name index, the enum indexes and the list
 *      of required fields; after it nothing changes until destroy.
 *
 * Threading: building is single-threaded; a sealed schema is read-only and
 * may be shared by any number of decoding threads.
 */
#include "schema/schema.h"
#include "schema/schema_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {
    [SCHEMA_NULL] = "null",     [SCHEMA_BOOL] = "bool",     [SCHEMA_INT] = "int",
    [SCHEMA_FLOAT] = "float",   [SCHEMA_STRING] = "string", [SCHEMA_TIMESTAMP] = "timestamp",
    [SCHEMA_OBJECT] = "object", [SCHEMA_ARRAY] = "array",
};

const char *schema_type_name(schema_type_t t)
{
    if ((unsigned)t < CORE_ARRAY_LEN(type_names))
        return type_names[t];
    return "unknown";
}

int schema_type_parse(const char *name, schema_type_t *out)
{
    static const struct {
        const char *name;
        schema_type_t type;
    } aliases[] = {{"integer", SCHEMA_INT},
                   {"long", SCHEMA_INT},
                   {"double", SCHEMA_FLOAT},
                   {"boolean", SCHEMA_BOOL},
                   {"str", SCHEMA_STRING}};
    if (name == NULL)
        return core_error(CORE_EINVAL, "schema: type name is missing");
    for (size_t i = 0; i < CORE_ARRAY_LEN(type_names); i++) {
        if (strcmp(name, type_names[i]) == 0) {
            *out = (schema_type_t)i;
            return CORE_OK;
        }
    }
    for (size_t i = 0; i < CORE_ARRAY_LEN(aliases); i++) {
        if (strcmp(name, aliases[i].name) == 0) {
            *out = aliases[i].type;
            return CORE_OK;
        }
    }
    return core_error(CORE_EINVAL,
                      "schema: unknown type \"%.64s\" (expected string, int, float, bool, "
                      "timestamp, object or array)",
                      name);
}

const char *schema_err_kind_name(schema_err_kind_t k)
{
    static const char *const names[] = {
        [SCHEMA_ERR_NONE] = "none",   [SCHEMA_ERR_JSON] = "invalid_json",
        [SCHEMA_ERR_TYPE] = "type",   [SCHEMA_ERR_REQUIRED] = "required",
        [SCHEMA_ERR_CHECK] = "check", [SCHEMA_ERR_TOOBIG] = "too_big",
        [SCHEMA_ERR_RULE] = "rule",
    };
    if ((unsigned)k < CORE_ARRAY_LEN(names))
        return names[k];
    return "unknown";
}

/* ---- the name index ------------------------------------------------------ */

int schema_names_build(schema_names_t *t, const char *const *strs, const size_t *lens, size_t n)
{
    size_t cap = 8;
    while (cap < 2 * n)
        cap *= 2;
    t->slots = core_calloc(CORE_MEM_SCHEMA, cap, sizeof(*t->slots));
    if (t->slots == NULL)
        return core_error(CORE_ENOMEM, "schema: out of memory building a name index");
    t->mask = cap - 1;
    for (size_t k = 0; k < n; k++) {
        size_t i = (size_t)schema_name_hash(strs[k], lens[k]) & t->mask;
        while (t->slots[i] != 0)
            i = (i + 1) & t->mask;
        t->slots[i] = (uint32_t)(k + 1);
    }
    return CORE_OK;
}

void schema_names_fini(schema_names_t *t)
{
    core_free(t->slots);
    t->slots = NULL;
    t->mask = 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

int schema_create(const char *name, schema_t **out)
{
    *out = NULL;
    if (name == NULL)
        return core_error(CORE_EINVAL, "schema: a schema needs a name");
    schema_t *s = core_calloc(CORE_MEM_SCHEMA, 1, sizeof(*s));
    if (s == NULL)
        return core_error(CORE_ENOMEM, "schema \"%.64s\": out of memory", name);
    s->name = core_strdup(CORE_MEM_SCHEMA, name);
    if (s->name == NULL) {
        core_free(s);
        return core_error(CORE_ENOMEM, "schema \"%.64s\": out of memory", name);
    }
    s->max_value = SCHEMA_DEFAULT_MAX_VALUE;
    s->max_depth = SCHEMA_DEFAULT_MAX_DEPTH;
    *out = s;
    return CORE_OK;
}

static void field_free(schema_field_t *f)
{
    if (f == NULL)
        return;
    core_free(f->name);
    for (size_t i = 0; i < f->n_enum; i++)
        core_free(f->enum_values[i]);
    core_free(f->enum_values);
    core_free(f->enum_lens);
    if (f->pattern != NULL)
        regfree(&f->regex);
    schema_fast_pattern_free(f->fast);
    core_free(f->pattern);
    core_free(f->ts_pattern);
    core_free(f);
}

static void rule_free(schema_rule_t *r)
{
    if (r == NULL)
        return;
    core_free(r->name);
    core_free(r->expr);
    core_free(r->message);
    core_free(r);
}

static void seal_undo(schema_t *s)
{
    core_free(s->names);
    core_free(s->name_lens);
    schema_names_fini(&s->index);
    if (s->enum_idx != NULL) {
        for (size_t i = 0; i < s->n_fields; i++)
            schema_names_fini(&s->enum_idx[i]);
    }
    core_free(s->enum_idx);
    core_free(s->required);
    core_free(s->key_pats);
    s->key_pats = NULL;
    s->names = NULL;
    s->name_lens = NULL;
    s->enum_idx = NULL;
    s->required = NULL;
    s->n_required = 0;
    memset(s->plain_names, 0, sizeof(s->plain_names));
    memset(s->required_bits, 0, sizeof(s->required_bits));
    memset(s->plain_strings, 0, sizeof(s->plain_strings));
    s->sealed = false;
}

void schema_destroy(schema_t *s)
{
    if (s == NULL)
        return;
    seal_undo(s);
    for (size_t i = 0; i < s->n_fields; i++)
        field_free(s->fields[i]);
    core_free(s->fields);
    for (size_t i = 0; i < s->n_rules; i++)
        rule_free(s->rules[i]);
    core_free(s->rules);
    core_free(s->name);
    core_free(s);
}

void schema_set_limits(schema_t *s, size_t max_value_bytes, size_t max_depth)
{
    if (s->sealed)
        return;
    if (max_value_bytes > 0)
        s->max_value = max_value_bytes;
    if (max_depth > 0)
        s->max_depth = CORE_MIN(max_depth, (size_t)CORE_JSON_MAX_DEPTH);
}

/* ---- adding fields --------------------------------------------------------- */

/* Grows an array of pointers to hold one more. */
static int grow_ptrs(void ***arr, size_t n, size_t *cap)
{
    if (n < *cap)
        return CORE_OK;
    size_t ncap = *cap ? *cap * 2 : 8;
    void **p = core_realloc(CORE_MEM_SCHEMA, *arr, ncap * sizeof(*p));
    if (p == NULL)
        return CORE_ENOMEM;
    *arr = p;
    *cap = ncap;
    return CORE_OK;
}

static bool is_numeric(schema_type_t t)
{
    return t == SCHEMA_INT || t == SCHEMA_FLOAT || t == SCHEMA_TIMESTAMP;
}

/* The checks of a definition that need no allocation. */
static int check_def(const schema_t *s, const schema_field_def_t *d)
{
    const char *n = d->name;
    if (s->sealed)
        return core_error(CORE_EINVAL, "schema \"%.64s\": field \"%.64s\": schema is sealed",
                          s->name, n ? n : "");
    if (n == NULL || n[0] == '\0')
        return core_error(CORE_EINVAL, "schema \"%.64s\": a field has an empty name", s->name);
    if (schema_field_index(s, n, strlen(n)) >= 0)
        return core_error(CORE_EINVAL, "schema \"%.64s\": field \"%.64s\" is defined twice",
                          s->name, n);
    if (s->n_fields >= SCHEMA_MAX_FIELDS)
        return core_error(CORE_EINVAL, "schema \"%.64s\": field \"%.64s\": more than %d fields",
                          s->name, n, SCHEMA_MAX_FIELDS);
    if (d->type <= SCHEMA_NULL || d->type > SCHEMA_ARRAY)
        return core_error(CORE_EINVAL, "field \"%.64s\": invalid type %d", n, (int)d->type);
    if ((d->has_min || d->has_max) && !is_numeric(d->type))
        return core_error(CORE_EINVAL,
                          "field \"%.64s\": min/max apply to int, float and "
                          "timestamp fields, not %s",
                          n, schema_type_name(d->type));
    if ((d->has_min && isnan(d->min)) || (d->has_max && isnan(d->max)))
        return core_error(CORE_EINVAL, "field \"%.64s\": min/max is NaN", n);
    if (d->has_min && d->has_max && d->min > d->max)
        return core_error(CORE_EINVAL, "field \"%.64s\": min %g is greater than max %g", n, d->min,
                          d->max);
    if (d->min_length < -1 || d->max_length < -1)
        return core_error(CORE_EINVAL, "field \"%.64s\": a length bound is negative", n);
    if ((d->min_length >= 0 || d->max_length >= 0) && d->type != SCHEMA_STRING)
        return core_error(CORE_EINVAL,
                          "field \"%.64s\": min_length/max_length apply to "
                          "string fields, not %s",
                          n, schema_type_name(d->type));
    if (d->min_length >= 0 && d->max_length >= 0 && d->min_length > d->max_length)
        return core_error(CORE_EINVAL,
                          "field \"%.64s\": min_length %lld is greater than "
                          "max_length %lld",
                          n, (long long)d->min_length, (long long)d->max_length);
    if (d->n_enum > 0 && d->type != SCHEMA_STRING)
        return core_error(CORE_EINVAL, "field \"%.64s\": enum applies to string fields, not %s", n,
                          schema_type_name(d->type));
    if (d->n_enum > 0 && d->enum_values == NULL)
        return core_error(CORE_EINVAL, "field \"%.64s\": enum values are missing", n);
    if (d->n_enum > UINT32_MAX / 4)
        return core_error(CORE_EINVAL, "field \"%.64s\": too many enum values", n);
    for (size_t i = 0; i < d->n_enum; i++) {
        if (d->enum_values[i] == NULL)
            return core_error(CORE_EINVAL, "field \"%.64s\": enum value %zu is missing", n, i);
    }
    if (d->pattern != NULL && d->type != SCHEMA_STRING)
        return core_error(CORE_EINVAL,
                          "field \"%.64s\": pattern applies to string fields, "
                          "not %s",
                          n, schema_type_name(d->type));
    if (d->format != NULL && d->type != SCHEMA_TIMESTAMP)
        return core_error(CORE_EINVAL,
                          "field \"%.64s\": format applies to timestamp fields, "
                          "not %s",
                          n, schema_type_name(d->type));
    return CORE_OK;
}

/* Sets f->ts_format (and ts_pattern) from the definition's format text. */
static int set_format(schema_field_t *f, const char *format)
{
    static const struct {
        const char *name;
        schema_ts_format_t fmt;
    } names[] = {{"auto", SCHEMA_TS_AUTO},
                 {"epoch_s", SCHEMA_TS_EPOCH_S},
                 {"epoch_ms", SCHEMA_TS_EPOCH_MS},
                 {"epoch_us", SCHEMA_TS_EPOCH_US},
                 {"iso8601", SCHEMA_TS_ISO8601}};
    f->ts_format = SCHEMA_TS_AUTO;
    if (format == NULL)
        return CORE_OK;
    for (size_t i = 0; i < CORE_ARRAY_LEN(names); i++) {
        if (strcmp(format, names[i].name) == 0) {
            f->ts_format = names[i].fmt;
            return CORE_OK;
        }
    }
    if (strchr(format, '%') == NULL)
        return core_error(CORE_EINVAL,
                          "field \"%.64s\": unknown timestamp format \"%.64s\" (expected auto, "
                          "epoch_s, epoch_ms, epoch_us, iso8601 or a pattern with %%-directives)",
                          f->name, format);
    int rc = schema_ts_pattern_check(f->name, format);
    if (rc < 0)
        return rc;
    f->ts_format = SCHEMA_TS_STRFTIME;
    f->ts_pattern = core_strdup(CORE_MEM_SCHEMA, format);
    return f->ts_pattern ? CORE_OK : CORE_ENOMEM;
}

/* Compiles the pattern alone (to validate it) and then anchored. */
static int set_pattern(schema_field_t *f, const char *pattern)
{
    regex_t probe;
    char msg[128];
    int rc = regcomp(&probe, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &probe, msg, sizeof(msg));
        return core_error(CORE_EINVAL, "field \"%.64s\": bad pattern \"%.64s\": %s", f->name,
                          pattern, msg);
    }
    regfree(&probe);
    size_t n = strlen(pattern);
    char *anchored = core_alloc(CORE_MEM_SCHEMA, n + 5);
    if (anchored == NULL)
        return CORE_ENOMEM;
    memcpy(anchored, "^(", 2);
    memcpy(anchored + 2, pattern, n);
    memcpy(anchored + 2 + n, ")$", 3);
    rc = regcomp(&f->regex, anchored, REG_EXTENDED | REG_NOSUB);
    core_free(anchored);
    if (rc != 0) {
        regerror(rc, &f->regex, msg, sizeof(msg));
        return core_error(CORE_EINVAL, "field \"%.64s\": bad pattern \"%.64s\": %s", f->name,
                          pattern, msg);
    }
    f->pattern = core_strdup(CORE_MEM_SCHEMA, pattern);
    if (f->pattern == NULL || schema_fast_pattern_compile(pattern, &f->fast) != 0) {
        regfree(&f->regex);
        core_free(f->pattern);
        f->pattern = NULL;
        return CORE_ENOMEM;
    }
    return CORE_OK;
}

static int copy_enum(schema_field_t *f, const schema_field_def_t *d)
{
    if (d->n_enum == 0)
        return CORE_OK;
    f->enum_values = core_calloc(CORE_MEM_SCHEMA, d->n_enum, sizeof(*f->enum_values));
    f->enum_lens = core_calloc(CORE_MEM_SCHEMA, d->n_enum, sizeof(*f->enum_lens));
    if (f->enum_values == NULL || f->enum_lens == NULL)
        return CORE_ENOMEM;
    for (size_t i = 0; i < d->n_enum; i++) {
        f->enum_values[i] = core_strdup(CORE_MEM_SCHEMA, d->enum_values[i]);
        if (f->enum_values[i] == NULL)
            return CORE_ENOMEM;
        f->enum_lens[i] = strlen(f->enum_values[i]);
        f->n_enum = i + 1;
    }
    return CORE_OK;
}

/* Fills a new field from a checked definition. On failure the caller frees
 * the partial field with field_free(). */
static int build_field(schema_field_t *f, const schema_field_def_t *d)
{
    int rc;
    f->name = core_strdup(CORE_MEM_SCHEMA, d->name);
    if (f->name == NULL)
        return CORE_ENOMEM;
    f->name_len = strlen(f->name);
    f->type = d->type;
    f->required = d->required;
    f->has_min = d->has_min;
    f->has_max = d->has_max;
    f->min = d->has_min ? d->min : 0;
    f->max = d->has_max ? d->max : 0;
    f->min_length = d->min_length;
    f->max_length = d->max_length;
    if ((rc = copy_enum(f, d)) < 0)
        return rc;
    if (d->pattern != NULL && (rc = set_pattern(f, d->pattern)) < 0)
        return rc;
    if (d->type == SCHEMA_TIMESTAMP && (rc = set_format(f, d->format)) < 0)
        return rc;
    return CORE_OK;
}

int schema_add_field(schema_t *s, const schema_field_def_t *def)
{
    schema_field_t *f = NULL;
    int rc = check_def(s, def);
    if (rc < 0)
        return rc;
    f = core_calloc(CORE_MEM_SCHEMA, 1, sizeof(*f));
    if (f == NULL) {
        rc = CORE_ENOMEM;
        goto out;
    }
    if ((rc = build_field(f, def)) < 0)
        goto out;
    if ((rc = grow_ptrs((void ***)&s->fields, s->n_fields, &s->cap_fields)) < 0)
        goto out;
    s->fields[s->n_fields++] = f;
    f = NULL;
out:
    field_free(f);
    if (rc == CORE_ENOMEM)
        return core_error(rc, "schema \"%.64s\": field \"%.64s\": out of memory", s->name,
                          def->name);
    return rc;
}

int schema_add_rule(schema_t *s, const char *name, const char *expr, const char *message)
{
    schema_rule_t *r = NULL;
    int rc = CORE_OK;
    if (s->sealed)
        return core_error(CORE_EINVAL, "schema \"%.64s\": rule: schema is sealed", s->name);
    if (name == NULL || name[0] == '\0' || expr == NULL || expr[0] == '\0')
        return core_error(CORE_EINVAL, "schema \"%.64s\": a rule needs a name and an expression",
                          s->name);
    for (size_t i = 0; i < s->n_rules; i++) {
        if (strcmp(s->rules[i]->name, name) == 0)
            return core_error(CORE_EINVAL, "schema \"%.64s\": rule \"%.64s\" is defined twice",
                              s->name, name);
    }
    r = core_calloc(CORE_MEM_SCHEMA, 1, sizeof(*r));
    if (r == NULL || (r->name = core_strdup(CORE_MEM_SCHEMA, name)) == NULL ||
        (r->expr = core_strdup(CORE_MEM_SCHEMA, expr)) == NULL ||
        (message != NULL && (r->message = core_strdup(CORE_MEM_SCHEMA, message)) == NULL) ||
        grow_ptrs((void ***)&s->rules, s->n_rules, &s->cap_rules) < 0) {
        rc = core_error(CORE_ENOMEM, "schema \"%.64s\": rule \"%.64s\": out of memory", s->name,
                        name);
        goto out;
    }
    s->rules[s->n_rules++] = r;
    r = NULL;
out:
    rule_free(r);
    return rc;
}

/* ---- sealing and lookup ------------------------------------------------------ */

static int build_enum_indexes(schema_t *s)
{
    s->enum_idx = core_calloc(CORE_MEM_SCHEMA, s->n_fields ? s->n_fields : 1, sizeof(*s->enum_idx));
    if (s->enum_idx == NULL)
        return CORE_ENOMEM;
    for (size_t i = 0; i < s->n_fields; i++) {
        const schema_field_t *f = s->fields[i];
        if (f->n_enum < SCHEMA_ENUM_HASH_MIN)
            continue;
        int rc = schema_names_build(&s->enum_idx[i], (const char *const *)f->enum_values,
                                    f->enum_lens, f->n_enum);
        if (rc < 0)
            return rc;
    }
    return CORE_OK;
}

/* The ordered path's pattern for a plain name (schema_int.h). */
static void key_pattern(const char *name, size_t n, schema_key_pattern_t *kp)
{
    unsigned char word[16] = {0}, mask[16] = {0};
    memset(kp, 0, sizeof(*kp));
    if (n > SCHEMA_KEY_PATTERN_MAX)
        return;
    memcpy(word, name, n);
    memcpy(word + n, "\":", 2);
    memset(mask, 0xFF, n + 2);
    memcpy(kp->word, word, sizeof(word));
    memcpy(kp->mask, mask, sizeof(mask));
}

/* Printable ASCII other than '"' and '\\' (see plain_names). */
static bool plain_name(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7E || p[i] == '"' || p[i] == '\\')
            return false;
    return true;
}

int schema_seal(schema_t *s)
{
    int rc = CORE_OK;
    if (s->sealed)
        return CORE_OK;
    size_t n = s->n_fields ? s->n_fields : 1;
    s->names = core_calloc(CORE_MEM_SCHEMA, n, sizeof(*s->names));
    s->name_lens = core_calloc(CORE_MEM_SCHEMA, n, sizeof(*s->name_lens));
    s->required = core_calloc(CORE_MEM_SCHEMA, n, sizeof(*s->required));
    s->key_pats = core_calloc(CORE_MEM_SCHEMA, n, sizeof(*s->key_pats));
    if (s->names == NULL || s->name_lens == NULL || s->required == NULL || s->key_pats == NULL) {
        rc = CORE_ENOMEM;
        goto out;
    }
    s->max_name_len = 0;
    for (size_t i = 0; i < s->n_fields; i++) {
        s->names[i] = s->fields[i]->name;
        s->name_lens[i] = s->fields[i]->name_len;
        s->max_name_len = CORE_MAX(s->max_name_len, s->name_lens[i]);
        if (s->fields[i]->required) {
            s->required[s->n_required++] = (uint16_t)i;
            s->required_bits[i / 64] |= (uint64_t)1 << (i % 64);
        }
        const schema_field_t *f = s->fields[i];
        if (f->type == SCHEMA_STRING && f->n_enum == 0 && f->min_length < 0 && f->max_length < 0 &&
            f->pattern == NULL)
            s->plain_strings[i / 64] |= (uint64_t)1 << (i % 64);
        if (plain_name(s->names[i], s->name_lens[i])) {
            s->plain_names[i / 64] |= (uint64_t)1 << (i % 64);
            key_pattern(s->names[i], s->name_lens[i], &s->key_pats[i]);
        }
    }
    /* Every field's value at the limit, plus room for one temporary (a
     * long number being NUL-terminated), saturating. */
    if (__builtin_mul_overflow(s->n_fields + 1, s->max_value, &s->scratch_cap) ||
        s->scratch_cap > SIZE_MAX - 64)
        s->scratch_cap = SIZE_MAX;
    else
        s->scratch_cap += 64;
    if ((rc = schema_names_build(&s->index, s->names, s->name_lens, s->n_fields)) < 0)
        goto out;
    if ((rc = build_enum_indexes(s)) < 0)
        goto out;
    s->sealed = true;
out:
    if (rc < 0) {
        seal_undo(s);
        return core_error(CORE_ENOMEM, "schema \"%.64s\": out of memory sealing", s->name);
    }
    return CORE_OK;
}

const char *schema_name(const schema_t *s)
{
    return s->name;
}

size_t schema_field_count(const schema_t *s)
{
    return s->n_fields;
}

const schema_field_t *schema_field(const schema_t *s, size_t i)
{
    return i < s->n_fields ? s->fields[i] : NULL;
}

int schema_field_index(const schema_t *s, const char *name, size_t len)
{
    if (len == 0 || name == NULL)
        return -1;
    if (s->sealed)
        return schema_names_find(&s->index, s->names, s->name_lens, name, len);
    for (size_t i = 0; i < s->n_fields; i++) {
        const schema_field_t *f = s->fields[i];
        if (f->name_len == len && memcmp(f->name, name, len) == 0)
            return (int)i;
    }
    return -1;
}

size_t schema_rule_count(const schema_t *s)
{
    return s->n_rules;
}

const schema_rule_t *schema_rule(const schema_t *s, size_t i)
{
    return i < s->n_rules ? s->rules[i] : NULL;
}

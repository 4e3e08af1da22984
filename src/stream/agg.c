/*
 * agg.c - aggregates as mergeable partial states (see window_int.h for the
 * table of kinds, states and results).
 *
 * Every aggregate keeps a small fixed state (stream_agg_state_t) and offers
 * three operations: add one input, merge another partial, and finish. The
 * store keeps the partial, never the finished number, so restarts,
 * partitions, instances and the batch layer all combine with one merge.
 * Adding, which the window operator does for every aggregate of every
 * event, is inline in window_int.h (stream_agg_add()); the rest is here.
 *
 * Invariants of a state s for each kind (n counts the inputs added):
 *   1. n == 0 means "no input": every value field is meaningless and the
 *      result is NULL (count: 0).
 *   2. sum/avg: a is the sum of the inputs. min/max: a is the extreme.
 *   3. first/last: (ts, ord) is the smallest/largest key seen and a its
 *      value. Equal keys are broken by the value (smaller a for first,
 *      larger for last), so the result does not depend on how the inputs
 *      were split or in which order partials merge.
 *   4. stddev: a is the running mean and b = M2, the sum of squared
 *      deviations from it (Welford); partials merge with Chan's formula.
 * A NaN input is treated as NULL (ignored), except by count, which counts
 * calls and never looks at its input.
 *
 * Threading: pure functions over caller-owned states; thread-safe.
 */
#include "stream/window_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const agg_names[] = {
    [STREAM_AGG_COUNT] = "count", [STREAM_AGG_SUM] = "sum",       [STREAM_AGG_MIN] = "min",
    [STREAM_AGG_MAX] = "max",     [STREAM_AGG_AVG] = "avg",       [STREAM_AGG_FIRST] = "first",
    [STREAM_AGG_LAST] = "last",   [STREAM_AGG_STDDEV] = "stddev",
};

const char *stream_agg_name(stream_agg_kind_t k)
{
    if ((size_t)k >= CORE_ARRAY_LEN(agg_names))
        return "unknown";
    return agg_names[k];
}

int stream_agg_parse(const char *name, size_t len, stream_agg_kind_t *out)
{
    for (size_t i = 0; i < CORE_ARRAY_LEN(agg_names); i++) {
        if (strlen(agg_names[i]) == len && strncasecmp(agg_names[i], name, len) == 0) {
            *out = (stream_agg_kind_t)i;
            return 0;
        }
    }
    return core_error(CORE_EINVAL,
                      "aggregate '%.*s' is unknown (use count, sum, min, max, avg, first, "
                      "last or stddev)",
                      (int)CORE_MIN(len, 64), name);
}

void stream_agg_init(stream_agg_state_t *s)
{
    memset(s, 0, sizeof(*s));
}

/* Chan et al.'s pairwise combination of (n, mean, M2). */
static void merge_moments(stream_agg_state_t *into, const stream_agg_state_t *from)
{
    double na = (double)into->n;
    double nb = (double)from->n;
    double n = na + nb;
    double delta = from->a - into->a;
    into->a += delta * (nb / n);
    into->b += from->b + delta * delta * (na * nb / n);
    into->n += from->n;
}

void stream_agg_merge(stream_agg_kind_t k, stream_agg_state_t *into, const stream_agg_state_t *from)
{
    if (from->n == 0)
        return;
    if (into->n == 0 && k != STREAM_AGG_COUNT) {
        *into = *from;
        return;
    }
    switch (k) {
    case STREAM_AGG_COUNT:
        into->n += from->n;
        return;
    case STREAM_AGG_SUM:
    case STREAM_AGG_AVG:
        into->a += from->a;
        break;
    case STREAM_AGG_MIN:
        if (from->a < into->a)
            into->a = from->a;
        break;
    case STREAM_AGG_MAX:
        if (from->a > into->a)
            into->a = from->a;
        break;
    case STREAM_AGG_FIRST:
        stream_agg_keep_key(into, from->a, from->ts, from->ord, -1);
        break;
    case STREAM_AGG_LAST:
        stream_agg_keep_key(into, from->a, from->ts, from->ord, 1);
        break;
    case STREAM_AGG_STDDEV:
        merge_moments(into, from);
        return;
    default:
        return;
    }
    into->n += from->n;
}

bool stream_agg_result(stream_agg_kind_t k, const stream_agg_state_t *s, double *out)
{
    switch (k) {
    case STREAM_AGG_COUNT:
        *out = (double)s->n;
        return true;
    case STREAM_AGG_AVG:
        if (s->n == 0)
            return false;
        *out = s->a / (double)s->n;
        return true;
    case STREAM_AGG_STDDEV:
        if (s->n < 2)
            return false;
        /* rounding can leave M2 a hair below zero for constant inputs */
        *out = sqrt(CORE_MAX(s->b, 0.0) / (double)(s->n - 1));
        return true;
    case STREAM_AGG_SUM:
    case STREAM_AGG_MIN:
    case STREAM_AGG_MAX:
    case STREAM_AGG_FIRST:
    case STREAM_AGG_LAST:
        if (s->n == 0)
            return false;
        *out = s->a;
        return true;
    default:
        return false;
    }
}

/* ---- Store columns. */

static void set_col(store_column_t *cols, char names[][STREAM_AGG_COL_NAME], size_t i,
                    const char *name, const char *suffix, schema_type_t type)
{
    snprintf(names[i], STREAM_AGG_COL_NAME, "%s%s", name, suffix);
    cols[i].name = names[i];
    cols[i].type = type;
}

size_t stream_agg_columns(stream_agg_kind_t k, const char *name, store_column_t *cols,
                          char names[][STREAM_AGG_COL_NAME])
{
    switch (k) {
    case STREAM_AGG_COUNT:
        set_col(cols, names, 0, name, "", SCHEMA_INT);
        return 1;
    case STREAM_AGG_SUM:
    case STREAM_AGG_AVG:
    case STREAM_AGG_MIN:
    case STREAM_AGG_MAX:
        set_col(cols, names, 0, name, "_n", SCHEMA_INT);
        set_col(cols, names, 1, name, "", SCHEMA_FLOAT);
        return 2;
    case STREAM_AGG_FIRST:
    case STREAM_AGG_LAST:
        set_col(cols, names, 0, name, "_n", SCHEMA_INT);
        set_col(cols, names, 1, name, "", SCHEMA_FLOAT);
        set_col(cols, names, 2, name, "_ts", SCHEMA_TIMESTAMP);
        set_col(cols, names, 3, name, "_ord", SCHEMA_INT);
        return 4;
    case STREAM_AGG_STDDEV:
        set_col(cols, names, 0, name, "_n", SCHEMA_INT);
        set_col(cols, names, 1, name, "_mean", SCHEMA_FLOAT);
        set_col(cols, names, 2, name, "_m2", SCHEMA_FLOAT);
        return 3;
    default:
        return 0;
    }
}

static schema_value_t int_value(schema_type_t t, int64_t v)
{
    schema_value_t out = {.type = t};
    out.v.i = v;
    return out;
}

/* A float column's value; NULL for an empty state. */
static schema_value_t float_value(const stream_agg_state_t *s, double v)
{
    schema_value_t out = {.type = SCHEMA_NULL};
    if (s->n > 0) {
        out.type = SCHEMA_FLOAT;
        out.v.f = v;
    }
    return out;
}

size_t stream_agg_to_values(stream_agg_kind_t k, const stream_agg_state_t *s, schema_value_t *vals)
{
    schema_value_t none = {.type = SCHEMA_NULL};
    vals[0] = int_value(SCHEMA_INT, s->n);
    switch (k) {
    case STREAM_AGG_COUNT:
        return 1;
    case STREAM_AGG_SUM:
    case STREAM_AGG_AVG:
    case STREAM_AGG_MIN:
    case STREAM_AGG_MAX:
        vals[1] = float_value(s, s->a);
        return 2;
    case STREAM_AGG_FIRST:
    case STREAM_AGG_LAST:
        vals[1] = float_value(s, s->a);
        vals[2] = s->n > 0 ? int_value(SCHEMA_TIMESTAMP, s->ts) : none;
        vals[3] = s->n > 0 ? int_value(SCHEMA_INT, s->ord) : none;
        return 4;
    case STREAM_AGG_STDDEV:
        vals[1] = float_value(s, s->a);
        vals[2] = float_value(s, s->b);
        return 3;
    default:
        return 0;
    }
}

/* The type of a stored value in error details (schema/ is only used for
 * its types here, so this does not call schema_type_name). */
static const char *type_word(schema_type_t t)
{
    switch (t) {
    case SCHEMA_NULL:
        return "null";
    case SCHEMA_BOOL:
        return "bool";
    case SCHEMA_INT:
        return "int";
    case SCHEMA_FLOAT:
        return "float";
    case SCHEMA_STRING:
        return "string";
    case SCHEMA_TIMESTAMP:
        return "timestamp";
    default:
        return "non-scalar";
    }
}

/* Reads column `i` (named by `what` in errors) as a float; NULL is only
 * allowed in an empty state, where the value is unused. */
static int read_float(const schema_value_t *vals, size_t i, int64_t n, const char *what,
                      double *out)
{
    const schema_value_t *v = &vals[i];
    *out = 0;
    if (v->type == SCHEMA_FLOAT)
        *out = v->v.f;
    else if (v->type == SCHEMA_INT)
        *out = (double)v->v.i;
    else if (v->type != SCHEMA_NULL || n > 0)
        return core_error(CORE_EINVAL, "aggregate state: column %zu (%s) holds a %s, want float%s",
                          i, what, type_word(v->type), n > 0 ? "" : " or null");
    return 0;
}

static int read_int(const schema_value_t *vals, size_t i, int64_t n, const char *what, int64_t *out)
{
    const schema_value_t *v = &vals[i];
    *out = 0;
    if (v->type == SCHEMA_INT || v->type == SCHEMA_TIMESTAMP)
        *out = v->v.i;
    else if (v->type != SCHEMA_NULL || n > 0)
        return core_error(CORE_EINVAL, "aggregate state: column %zu (%s) holds a %s, want int%s", i,
                          what, type_word(v->type), n > 0 ? "" : " or null");
    return 0;
}

int stream_agg_from_values(stream_agg_kind_t k, const schema_value_t *vals, stream_agg_state_t *s)
{
    stream_agg_state_t st;
    stream_agg_init(&st);
    if (vals[0].type != SCHEMA_INT || vals[0].v.i < 0)
        return core_error(CORE_EINVAL,
                          "aggregate state: %s count column holds %s, want a non-negative int",
                          stream_agg_name(k),
                          vals[0].type == SCHEMA_INT ? "a negative int" : type_word(vals[0].type));
    st.n = vals[0].v.i;
    int rc = 0;
    switch (k) {
    case STREAM_AGG_COUNT:
        break;
    case STREAM_AGG_SUM:
    case STREAM_AGG_AVG:
    case STREAM_AGG_MIN:
    case STREAM_AGG_MAX:
        rc = read_float(vals, 1, st.n, "value", &st.a);
        break;
    case STREAM_AGG_FIRST:
    case STREAM_AGG_LAST:
        rc = read_float(vals, 1, st.n, "value", &st.a);
        if (rc == 0)
            rc = read_int(vals, 2, st.n, "ts", &st.ts);
        if (rc == 0)
            rc = read_int(vals, 3, st.n, "ord", &st.ord);
        break;
    case STREAM_AGG_STDDEV:
        rc = read_float(vals, 1, st.n, "mean", &st.a);
        if (rc == 0)
            rc = read_float(vals, 2, st.n, "m2", &st.b);
        break;
    default:
        return core_error(CORE_EINVAL, "aggregate state: unknown kind %d", (int)k);
    }
    if (rc == 0)
        *s = st;
    return rc;
}

/*
 * Writing one generated record: keys, and JSON values through core's
 * writer, with the mutations that make a record invalid applied on the
 * way (a field dropped, replaced by a wrong value, duplicated, or the JSON
 * cut short).
 *
 * Invariants: a record whose gen_json_t carries a mutation is never valid
 * JSON for its schema: if the mutation's field was not written, the value
 * is cut short at the end instead. Values never exceed GEN_VALUE_MAX
 * (reserved at create), so writing allocates nothing.
 *
 * Threading: the generator's thread.
 */
#include "gen/gen_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "schema/schema.h"

void gen_json_begin(gen_t *g, gen_json_t *j, const gen_mutation_t *mut)
{
    memset(j, 0, sizeof *j);
    j->g = g;
    j->mut = mut;
    core_buf_reset(&g->value);
    core_json_writer_init(&j->w, &g->value);
    core_json_write_object_begin(&j->w);
}

static bool same_scope(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void write_key(gen_json_t *j, const char *key)
{
    core_json_write_key(&j->w, key, strlen(key));
}

/* How often to write field `key`: 1 normally, 0 when the mutation drops
 * it or has already written its replacement, 2 to duplicate it. */
static int field_reps(gen_json_t *j, const char *key)
{
    const gen_mutation_t *m = j->mut;
    if (m == NULL || j->applied || m->op == GEN_MUT_TRUNCATE)
        return 1;
    if (!same_scope(m->scope, j->scope) || strcmp(m->field, key) != 0)
        return 1;
    j->applied = true;
    switch (m->op) {
    case GEN_MUT_DROP:
        return 0;
    case GEN_MUT_DUP:
        return 2;
    case GEN_MUT_RAW:
        write_key(j, key);
        core_json_write_raw(&j->w, m->raw, strlen(m->raw));
        return 0;
    case GEN_MUT_TRUNCATE:
        break;
    }
    return 1;
}

void gen_json_str(gen_json_t *j, const char *key, const char *s)
{
    for (int n = field_reps(j, key); n > 0; n--) {
        write_key(j, key);
        core_json_write_string(&j->w, s, strlen(s));
    }
}

void gen_json_i64(gen_json_t *j, const char *key, int64_t v)
{
    for (int n = field_reps(j, key); n > 0; n--) {
        write_key(j, key);
        core_json_write_i64(&j->w, v);
    }
}

void gen_json_f64(gen_json_t *j, const char *key, double v, int decimals)
{
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (decimals < 0)
        decimals = 0;
    if (decimals > 6)
        decimals = 6;
    double r = round(v * scale[decimals]) / scale[decimals];
    if (!isfinite(r))
        r = 0;
    for (int n = field_reps(j, key); n > 0; n--) {
        write_key(j, key);
        core_json_write_double(&j->w, r);
    }
}

void gen_json_bool(gen_json_t *j, const char *key, bool v)
{
    for (int n = field_reps(j, key); n > 0; n--) {
        write_key(j, key);
        core_json_write_bool(&j->w, v);
    }
}

void gen_json_null(gen_json_t *j, const char *key)
{
    for (int n = field_reps(j, key); n > 0; n--) {
        write_key(j, key);
        core_json_write_null(&j->w);
    }
}

void gen_json_ts(gen_json_t *j, const char *key, int64_t ms)
{
    char buf[40];
    core_format_iso8601_ms(ms, buf, sizeof buf);
    gen_json_str(j, key, buf);
}

bool gen_json_obj_begin(gen_json_t *j, const char *key)
{
    if (field_reps(j, key) == 0)
        return false;
    write_key(j, key);
    core_json_write_object_begin(&j->w);
    j->scope = key;
    return true;
}

void gen_json_obj_end(gen_json_t *j)
{
    core_json_write_object_end(&j->w);
    j->scope = NULL;
}

void gen_json_end(gen_json_t *j)
{
    gen_t *g = j->g;
    core_json_write_object_end(&j->w);
    if (core_json_writer_finish(&j->w) != 0) {
        /* Cannot happen with the kinds' bounded records; keep the stream
         * going with a record that says what went wrong. */
        core_log(CORE_LOG_WARN, "gen", "%s: record over %d bytes", g->kind->name, GEN_VALUE_MAX);
        core_buf_reset(&g->value);
        core_buf_append_str(&g->value, "{\"error\":\"gen: record too big\"}");
    }
    if (j->mut != NULL && (j->mut->op == GEN_MUT_TRUNCATE || !j->applied)) {
        /* Any proper prefix of an object is not JSON: its closing brace
         * is the last byte. Keep at least the opening brace. */
        size_t len = g->value.len;
        g->value.len = 1 + (size_t)gen_rng_below(&g->rng, len - 1);
        j->applied = true;
    }
}

const gen_mutation_t *gen_pick_mutation(gen_t *g, const gen_mutation_t *muts, size_t n)
{
    return &muts[gen_rng_below(&g->rng, n)];
}

void gen_key_str(gen_t *g, const char *s)
{
    core_buf_reset(&g->key);
    core_buf_append(&g->key, s, CORE_MIN(strlen(s), (size_t)GEN_KEY_MAX));
}

void gen_key_u64(gen_t *g, const char *prefix, uint64_t v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s%llu", prefix, (unsigned long long)v);
    gen_key_str(g, buf);
}

bool gen_late_entity(gen_t *g, const gen_recent_t *recent, uint64_t *out)
{
    return g->cls == GEN_CLASS_LATE && gen_recent_pick(recent, &g->rng, out);
}

void gen_note_entity(gen_t *g, gen_recent_t *recent, uint64_t v)
{
    if (g->cls == GEN_CLASS_NORMAL || g->cls == GEN_CLASS_ANOMALY)
        gen_recent_push(recent, v);
}

void gen_format_date(int64_t days, char *out, size_t n)
{
    int y, m, d;
    schema_civil_from_days(days, &y, &m, &d);
    snprintf(out, n, "%04d-%02d-%02d", y, m, d);
}

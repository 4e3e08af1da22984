/*
 * Writing one generated record: keys, and JSON values, with the mutations
 * that make a record invalid applied on the way (a field dropped, replaced
 * by a wrong value, duplicated, or the JSON cut short).
 *
 * The JSON is appended straight to g->value. Its bytes are those core's
 * JSON writer gives for the same calls (commas, escaping, shortest
 * doubles, ".0" on whole numbers), so output did not change when this
 * writer replaced it; what it leaves out is the writer's per-call state
 * checks and printf. Numbers of a fixed number of decimals are written
 * from the integer round(v * 10^d), timestamps from civil-date arithmetic
 * with the date kept between records: formatting through snprintf and
 * strtod was half of the time of `strata gen` at full speed.
 * tests/unit/gen/json.c checks both formatters against core's.
 *
 * Invariants: a record whose gen_json_t carries a mutation is never valid
 * JSON for its schema: if the mutation's field was not written, the value
 * is cut short at the end instead. Values never exceed GEN_VALUE_MAX
 * (reserved at create), so writing allocates nothing; a record that would
 * (or a string that is not UTF-8) becomes an error record, as with core's
 * writer.
 *
 * Threading: the generator's thread.
 */
#include "gen/gen_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "schema/schema.h"

#define MS_PER_DAY  86400000LL
#define TS_FAST_END 253402300800000LL /* 10000-01-01T00:00:00Z: 4-digit years end */

/* ---- Appending, sticky on failure as core's writer is. */

static void put(gen_json_t *j, const void *p, size_t n)
{
    core_buf_t *b = &j->g->value;
    if (j->failed)
        return;
    if (n <= b->cap - b->len) { /* cap <= max: within the buffer's limit */
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return;
    }
    if (core_buf_append(b, p, n) != 0)
        j->failed = true;
}

static void put_char(gen_json_t *j, char c)
{
    put(j, &c, 1);
}

static bool plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* s[0..n) quoted, escaped as core's writer escapes it ('"', '\\', and
 * control characters as \b \f \n \r \t or \u00XX); not UTF-8 fails. */
static void put_quoted(gen_json_t *j, const char *s, size_t n)
{
    core_buf_t *b = &j->g->value;
    if (plain(s, n)) {
        if (!j->failed && n + 2 <= b->cap - b->len) {
            uint8_t *o = b->data + b->len;
            *o++ = '"';
            memcpy(o, s, n);
            o[n] = '"';
            b->len += n + 2;
            return;
        }
    } else if (!core_utf8_valid(s, n)) {
        j->failed = true;
        return;
    }
    if (!j->failed && core_json_append_quoted(b, s, n) != 0)
        j->failed = true;
}

/* The member's `,"key":` (no comma before the first). Keys are the kinds'
 * ASCII literals, so they are written in one go when there is room. */
static void put_key(gen_json_t *j, const char *key)
{
    uint32_t bit = (uint32_t)1 << (j->depth - 1);
    bool comma = (j->has_items & bit) != 0;
    j->has_items |= bit;
    size_t n = strlen(key);
    core_buf_t *b = &j->g->value;
    if (!j->failed && n + 4 <= b->cap - b->len && plain(key, n)) {
        uint8_t *o = b->data + b->len;
        if (comma)
            *o++ = ',';
        *o++ = '"';
        memcpy(o, key, n);
        o += n;
        *o++ = '"';
        *o++ = ':';
        b->len = (size_t)(o - b->data);
        return;
    }
    if (comma)
        put_char(j, ',');
    put_quoted(j, key, n);
    put_char(j, ':');
}

static void open_object(gen_json_t *j)
{
    put_char(j, '{');
    j->has_items &= ~((uint32_t)1 << j->depth);
    j->depth++;
}

static void close_object(gen_json_t *j)
{
    put_char(j, '}');
    j->depth--;
}

/* ---- Numbers and times as text. */

/* The decimal digits of u into out; returns their count. */
static size_t u64_text(uint64_t u, char *out)
{
    char tmp[20];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    memcpy(out, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

static size_t i64_text(int64_t v, char *out)
{
    if (v >= 0)
        return u64_text((uint64_t)v, out);
    out[0] = '-';
    return 1 + u64_text(0 - (uint64_t)v, out + 1);
}

/* n >= 1 digits of v, zero-padded. */
static void put_digits(char *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

size_t gen_format_fixed(double v, int decimals, char *out)
{
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    static const uint64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (decimals < 0 || decimals > 6)
        return 0;
    double m = round(v * scale[decimals]);
    double r = m / scale[decimals], am = fabs(m);
    /* Core writes the first of %.15g, %.16g, %.17g that reads back. With
     * at most 15 digits in m, %.15g of r (the double nearest m / 10^d) is
     * m / 10^d exactly, and reads back; %g then writes it without an
     * exponent when 1e-4 <= |r| < 1e15, and drops trailing zeros. */
    double least = decimals > 4 ? (double)pow10[decimals - 4] : 1.0;
    if (!isfinite(r) || !(am < 1e15) || am < least)
        return 0;
    uint64_t u = (uint64_t)am;
    uint64_t whole = u / pow10[decimals], frac = u % pow10[decimals];
    size_t n = 0;
    if (m < 0)
        out[n++] = '-';
    n += u64_text(whole, out + n);
    out[n++] = '.';
    if (frac == 0) {
        out[n++] = '0';
        return n;
    }
    put_digits(out + n, frac, decimals);
    n += (size_t)decimals;
    while (out[n - 1] == '0')
        n--;
    return n;
}

size_t gen_format_ts(gen_t *g, int64_t ms, char *out)
{
    if (ms < 0 || ms >= TS_FAST_END) {
        core_format_iso8601_ms(ms, out, 32);
        return strlen(out);
    }
    int64_t day = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
    if (day != g->ts_day) {
        int y, mo, d;
        schema_civil_from_days(day, &y, &mo, &d);
        put_digits(g->ts_date, (uint64_t)y, 4);
        g->ts_date[4] = '-';
        put_digits(g->ts_date + 5, (uint64_t)mo, 2);
        g->ts_date[7] = '-';
        put_digits(g->ts_date + 8, (uint64_t)d, 2);
        g->ts_date[10] = 'T';
        g->ts_day = day;
    }
    memcpy(out, g->ts_date, 11);
    put_digits(out + 11, (uint64_t)(rem / 3600000), 2);
    out[13] = ':';
    put_digits(out + 14, (uint64_t)(rem / 60000 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (uint64_t)(rem / 1000 % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (uint64_t)(rem % 1000), 3);
    out[23] = 'Z';
    return 24;
}

/* The text of core_json_write_double(r), for the values gen_format_fixed
 * leaves to it; 0 if core refuses it (it cannot: r is finite). */
static size_t double_text(gen_t *g, double r, char *out)
{
    core_json_writer_t w;
    core_buf_reset(&g->num);
    core_json_writer_init(&w, &g->num);
    if (core_json_write_double(&w, r) != 0 || g->num.len > GEN_NUM_MAX)
        return 0;
    memcpy(out, g->num.data, g->num.len);
    return g->num.len;
}

/* ---- Fields. */

void gen_json_begin(gen_t *g, gen_json_t *j, const gen_mutation_t *mut)
{
    memset(j, 0, sizeof *j);
    j->g = g;
    j->mut = mut;
    core_buf_reset(&g->value);
    open_object(j);
}

static bool same_scope(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
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
        put_key(j, key);
        put(j, m->raw, strlen(m->raw));
        return 0;
    case GEN_MUT_TRUNCATE:
        break;
    }
    return 1;
}

/* Field `key` with the value text[0..n), which is already JSON. */
static void field_text(gen_json_t *j, const char *key, const char *text, size_t n)
{
    for (int reps = field_reps(j, key); reps > 0; reps--) {
        put_key(j, key);
        put(j, text, n);
    }
}

static void field_string(gen_json_t *j, const char *key, const char *s, size_t n)
{
    for (int reps = field_reps(j, key); reps > 0; reps--) {
        put_key(j, key);
        put_quoted(j, s, n);
    }
}

void gen_json_str(gen_json_t *j, const char *key, const char *s)
{
    field_string(j, key, s, strlen(s));
}

void gen_json_i64(gen_json_t *j, const char *key, int64_t v)
{
    char text[24];
    field_text(j, key, text, i64_text(v, text));
}

void gen_json_f64(gen_json_t *j, const char *key, double v, int decimals)
{
    static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (decimals < 0)
        decimals = 0;
    if (decimals > 6)
        decimals = 6;
    char text[GEN_NUM_MAX];
    size_t n = gen_format_fixed(v, decimals, text);
    if (n == 0) {
        double r = round(v * scale[decimals]) / scale[decimals];
        if (!isfinite(r))
            r = 0;
        n = double_text(j->g, r, text);
        if (n == 0)
            j->failed = true;
    }
    field_text(j, key, text, n);
}

void gen_json_bool(gen_json_t *j, const char *key, bool v)
{
    field_text(j, key, v ? "true" : "false", v ? 4 : 5);
}

void gen_json_null(gen_json_t *j, const char *key)
{
    field_text(j, key, "null", 4);
}

void gen_json_ts(gen_json_t *j, const char *key, int64_t ms)
{
    char buf[40];
    field_string(j, key, buf, gen_format_ts(j->g, ms, buf));
}

bool gen_json_obj_begin(gen_json_t *j, const char *key)
{
    if (field_reps(j, key) == 0)
        return false;
    put_key(j, key);
    open_object(j);
    j->scope = key;
    return true;
}

void gen_json_obj_end(gen_json_t *j)
{
    close_object(j);
    j->scope = NULL;
}

void gen_json_end(gen_json_t *j)
{
    gen_t *g = j->g;
    close_object(j);
    if (j->failed || j->depth != 0) {
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
    size_t n = strlen(prefix);
    if (n + 21 > sizeof buf) { /* as snprintf would cut it */
        snprintf(buf, sizeof buf, "%s%llu", prefix, (unsigned long long)v);
    } else {
        memcpy(buf, prefix, n);
        buf[n + u64_text(v, buf + n)] = '\0';
    }
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

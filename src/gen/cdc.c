/*
 * Kind `cdc`: Debezium-style change events of a `customers` table, the
 * customer schema of examples/events.yaml (id, name, email, city,
 * updated_at) and the envelope docs/cdc.md describes:
 *
 *   {"before": row|null, "after": row|null, "source": {...}, "op": "u",
 *    "ts_ms": 1732280645123}
 *
 * Key: the row's id, in decimal. The generator keeps the table's state:
 * the first 100 records are a snapshot (op "r") of the initial rows; after
 * that 25% of changes create a row (while the table holds fewer than
 * 200,000 rows ever created), 65% update one and 10% delete one. Updates
 * and deletes only ever touch rows that exist, and `before` is always the
 * row as the last change left it. An invalid record is not applied: the
 * state after it is what a pipeline that sent it to the dlq holds.
 *
 * Anomalies are bursts of 6 updates of one row in a row (a flapping
 * record). Late records carry a ts_ms 10 to 30 minutes old; a cdc pipeline
 * has no event time, so they apply as usual.
 *
 * Threading: the generator's thread.
 */
#include "gen/gen_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define SNAPSHOT_ROWS 100
#define MAX_ROWS      200000
#define FIRST_ID      1001

static const char *const first_names[] = {
    "Aarav",  "Aditi",  "Amit",   "Ananya", "Arjun",  "Asha",  "Deepak",  "Divya",
    "Farhan", "Gita",   "Harish", "Isha",   "Karan",  "Kavya", "Lakshmi", "Manish",
    "Meera",  "Naveen", "Neha",   "Pooja",  "Priya",  "Rahul", "Rajesh",  "Ritu",
    "Rohan",  "Sanjay", "Sara",   "Sneha",  "Suresh", "Tara",  "Vikram",  "Zoya",
};
static const char *const last_names[] = {
    "Agarwal", "Bose",  "Chopra", "Das",   "Desai",  "Gupta", "Iyer",  "Jain",
    "Kapoor",  "Khan",  "Kumar",  "Menon", "Mehta",  "Nair",  "Patel", "Pillai",
    "Rao",     "Reddy", "Saxena", "Shah",  "Sharma", "Singh", "Verma", "Yadav",
};
static const char *const domains[] = {"example.com", "example.org", "example.net",
                                      "mail.example.in"};
static const char *const cities[] = {
    "MUMBAI", "NEW DELHI", "BANGALORE", "HYDERABAD", "AHMEDABAD", "CHENNAI",    "KOLKATA",
    "PUNE",   "JAIPUR",    "LUCKNOW",   "INDORE",    "KOCHI",     "CHANDIGARH",
};

typedef struct {
    uint8_t first, last, city, domain;
    uint16_t email_n; /* 0 = first.last@, else first.lastN@ */
    int32_t live_pos; /* index in live[], -1 once deleted */
    int64_t updated_ms;
} row_t;

typedef struct {
    row_t *rows; /* rows[i] has id FIRST_ID + i; MAX_ROWS entries */
    size_t nrows;
    uint32_t *live; /* indices of the rows that exist */
    size_t nlive;
    size_t burst_row;
    uint64_t lsn, tx;
} cdc_state_t;

/* Mutations of an event that has an `after` image (c, r, u). */
static const gen_mutation_t upsert_mutations[] = {
    {GEN_MUT_RAW, "after", "email", "\"asha.rao(at)example.com\""},
    {GEN_MUT_RAW, "after", "id", "\"1001\""},
    {GEN_MUT_DROP, "after", "id", NULL},
    {GEN_MUT_RAW, "after", "updated_at", "\"31/02/2026\""},
    {GEN_MUT_DUP, "after", "email", NULL},
    {GEN_MUT_RAW, NULL, "after", "\"customer 1001\""},
    {GEN_MUT_DROP, NULL, "after", NULL},
    {GEN_MUT_DROP, NULL, "op", NULL},
    {GEN_MUT_RAW, NULL, "op", "\"x\""},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

/* Mutations of a delete. */
static const gen_mutation_t delete_mutations[] = {
    {GEN_MUT_RAW, NULL, "before", "null"}, {GEN_MUT_RAW, "before", "id", "\"1001\""},
    {GEN_MUT_DROP, "before", "id", NULL},  {GEN_MUT_DROP, NULL, "op", NULL},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

static int cdc_create(gen_t *g, void **state)
{
    (void)g;
    cdc_state_t *s = core_calloc(CORE_MEM_GEN, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "gen: cdc state");
    s->rows = core_calloc(CORE_MEM_GEN, MAX_ROWS, sizeof *s->rows);
    s->live = core_calloc(CORE_MEM_GEN, MAX_ROWS, sizeof *s->live);
    if (s->rows == NULL || s->live == NULL) {
        core_free(s->rows);
        core_free(s->live);
        core_free(s);
        return core_error(CORE_ENOMEM, "gen: cdc table of %d rows", MAX_ROWS);
    }
    for (size_t i = 0; i < MAX_ROWS; i++)
        s->rows[i].live_pos = -1; /* not created yet */
    s->lsn = 24023128;
    s->tx = 555;
    *state = s;
    return 0;
}

static void cdc_destroy(void *state)
{
    cdc_state_t *s = state;
    core_free(s->rows);
    core_free(s->live);
    core_free(s);
}

static void random_row(gen_t *g, row_t *r)
{
    r->first = (uint8_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(first_names));
    r->last = (uint8_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(last_names));
    r->city = (uint8_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(cities));
    r->domain = (uint8_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(domains));
    r->email_n = gen_rng_chance(&g->rng, 0.5) ? 0 : (uint16_t)gen_rng_range(&g->rng, 1, 99);
}

/* An update: a new email (most often), a move, or a new surname. */
static void change_row(gen_t *g, row_t *r)
{
    double u = gen_rng_uniform(&g->rng);
    if (u < 0.5) {
        r->domain = (uint8_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(domains));
        r->email_n = (uint16_t)gen_rng_range(&g->rng, 1, 999);
    } else if (u < 0.85) {
        r->city = (uint8_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(cities));
    } else {
        r->last = (uint8_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(last_names));
    }
}

static void lower(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

static void write_row(gen_json_t *j, const char *key, size_t index, const row_t *r)
{
    if (!gen_json_obj_begin(j, key))
        return;
    char name[64], first[32], last[32], email[128];
    snprintf(name, sizeof name, "%s %s", first_names[r->first], last_names[r->last]);
    lower(first_names[r->first], first, sizeof first);
    lower(last_names[r->last], last, sizeof last);
    if (r->email_n == 0)
        snprintf(email, sizeof email, "%s.%s@%s", first, last, domains[r->domain]);
    else
        snprintf(email, sizeof email, "%s.%s%u@%s", first, last, (unsigned)r->email_n,
                 domains[r->domain]);
    gen_json_i64(j, "id", (int64_t)(FIRST_ID + index));
    gen_json_str(j, "name", name);
    gen_json_str(j, "email", email);
    gen_json_str(j, "city", cities[r->city]);
    gen_json_ts(j, "updated_at", r->updated_ms);
    gen_json_obj_end(j);
}

/* The operation of this record and the row it touches: 'c'/'r' with a
 * row that does not exist (a new one, or a deleted one coming back once
 * MAX_ROWS ids are used), or 'u'/'d' with a live row. */
static char choose_op(gen_t *g, cdc_state_t *s, size_t *index)
{
    if (g->burst_pos > 0 && s->rows[s->burst_row].live_pos >= 0) {
        *index = s->burst_row;
        return 'u';
    }
    char op;
    if (s->nrows < SNAPSHOT_ROWS && g->seq < SNAPSHOT_ROWS) {
        op = 'r';
    } else if (s->nlive == 0) {
        op = 'c';
    } else {
        double u = gen_rng_uniform(&g->rng);
        op = u < 0.25 ? 'c' : u < 0.9 ? 'u' : 'd';
        if (op == 'd' && g->burst_pos == 0)
            op = 'u'; /* a burst updates one row */
    }
    if ((op == 'c' || op == 'r') && s->nrows == MAX_ROWS && s->nlive > 0)
        op = 'u';
    if (op == 'u' || op == 'd')
        *index = s->live[gen_rng_below(&g->rng, s->nlive)];
    else if (s->nrows < MAX_ROWS)
        *index = s->nrows;
    else /* every id used and none live: a deleted row comes back */
        *index = (size_t)gen_rng_below(&g->rng, MAX_ROWS);
    if (g->burst_pos == 0)
        s->burst_row = *index;
    return op;
}

/* Applies a valid change to the state. */
static void apply(cdc_state_t *s, char op, size_t index, const row_t *after)
{
    if (op == 'c' || op == 'r') {
        s->rows[index] = *after;
        s->rows[index].live_pos = (int32_t)s->nlive;
        s->live[s->nlive++] = (uint32_t)index;
        if (index == s->nrows)
            s->nrows++;
    } else if (op == 'u') {
        int32_t pos = s->rows[index].live_pos;
        s->rows[index] = *after;
        s->rows[index].live_pos = pos;
    } else {
        size_t pos = (size_t)s->rows[index].live_pos;
        uint32_t moved = s->live[--s->nlive];
        s->live[pos] = moved;
        s->rows[moved].live_pos = (int32_t)pos;
        s->rows[index].live_pos = -1;
    }
}

static void write_source(gen_t *g, gen_json_t *j, cdc_state_t *s, char op)
{
    if (!gen_json_obj_begin(j, "source"))
        return;
    gen_json_str(j, "version", "strata-gen");
    gen_json_str(j, "connector", "postgresql");
    gen_json_str(j, "name", "shop");
    gen_json_i64(j, "ts_ms", g->ts_ms - gen_rng_range(&g->rng, 1, 40));
    gen_json_str(j, "snapshot", op == 'r' ? "true" : "false");
    gen_json_str(j, "db", "shop");
    gen_json_str(j, "schema", "public");
    gen_json_str(j, "table", "customers");
    gen_json_i64(j, "txId", (int64_t)s->tx);
    gen_json_i64(j, "lsn", (int64_t)s->lsn);
    gen_json_obj_end(j);
}

static void cdc_emit(gen_t *g, void *state)
{
    cdc_state_t *s = state;
    size_t index;
    char op = choose_op(g, s, &index);
    row_t after = op == 'c' || op == 'r' ? (row_t){0} : s->rows[index];
    if (op == 'c' || op == 'r')
        random_row(g, &after);
    else if (op == 'u')
        change_row(g, &after);
    after.updated_ms = g->ts_ms;
    const gen_mutation_t *m = NULL;
    if (g->cls == GEN_CLASS_INVALID)
        m = op == 'd' ? gen_pick_mutation(g, delete_mutations, CORE_ARRAY_LEN(delete_mutations))
                      : gen_pick_mutation(g, upsert_mutations, CORE_ARRAY_LEN(upsert_mutations));
    s->tx += 1 + gen_rng_below(&g->rng, 3);
    s->lsn += 64 + gen_rng_below(&g->rng, 4096);

    gen_key_u64(g, "", FIRST_ID + index);
    gen_json_t j;
    char ops[2] = {op, '\0'};
    gen_json_begin(g, &j, m);
    if (op == 'c' || op == 'r')
        gen_json_null(&j, "before");
    else
        write_row(&j, "before", index, &s->rows[index]);
    if (op == 'd')
        gen_json_null(&j, "after");
    else
        write_row(&j, "after", index, &after);
    write_source(g, &j, s, op);
    gen_json_str(&j, "op", ops);
    gen_json_i64(&j, "ts_ms", g->ts_ms);
    gen_json_end(&j);
    if (g->cls != GEN_CLASS_INVALID)
        apply(s, op, index, &after);
}

const gen_kind_t gen_kind_cdc = {
    .name = "cdc",
    .late_min_ms = 10 * 60000,
    .late_max_ms = 30 * 60000,
    .burst_share = 1.0,
    .burst_len = 6,
    .create = cdc_create,
    .destroy = cdc_destroy,
    .emit = cdc_emit,
};

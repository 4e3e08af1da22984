/*
 * bench_batch: the batch layer on a generated bank-transactions CSV, each
 * figure beside DuckDB's from the same run.
 *
 *   1. writes a CSV of N rows (default 1,000,000) laid out like
 *      shared/data/bank_transactions_sample.csv: the same header, d/m/yy
 *      dates over 76 days (1/8/16 to 15/10/16), HHMMSS times without
 *      leading zeros, 'nan' and empty cells, quoted locations ("DELHI,
 *      NCR") and a skewed location mix (a few big cities, a long tail of
 *      towns). Deterministic (fixed seed); not timed;
 *   2. imports it into a 4-partition topic with an import job (the column
 *      mapping of docs/import.md, key customer_id, time field ts): timed;
 *   3. recomputes a daily per-location aggregate (count, sum and avg of the
 *      amount, key coalesce(location, 'UNKNOWN')) over the whole date range
 *      with a recompute job into the SQLite store: timed;
 *   4. runs DuckDB (npm @duckdb/node-api, node) on the same file: read_csv
 *      plus the same GROUP BY, with its default thread count and with one
 *      thread, and prints strata's time beside it;
 *      and the I/O floor of strata's part: the topic log's bytes written
 *      with fdatasync and read back, with no other work;
 *   5. checks the view's rows against the generator's own tallies and
 *      against DuckDB's groups: "results: N groups, 0 mismatches", and
 *      exits 1 on any mismatch (the figures are only worth printing if the
 *      answers agree).
 *
 * With --pg URL (or STRATA_BENCH_PG_URL) steps 2, 3 and 5 run again with
 * the PostgreSQL store.
 *
 * Usage: bench_batch [--rows N] [--pg URL] [--dir DIR] [--node-dir DIR]
 *                    [--keep] [--quick]
 *
 * Threads: the import job uses the calling thread (reading the CSV,
 * producing, progress) and two threads of its own that convert rows (so it
 * keeps both of this machine's cores busy, as DuckDB's default does); the
 * recompute job reads the partitions on one thread per CPU (the calling
 * thread and the others, at most one per partition) and writes the rows
 * on the calling thread. DuckDB runs in a child process,
 * once with its default thread count and once with one thread.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch/batch.h"
#include "bench_common.h"
#include "bus/bus.h"
#include "seglog/seglog.h"
#include "store/store.h"
#include "stream/stream.h"

#define PARTITIONS 4
#define DAYS       76            /* 1/8/16 .. 15/10/16 */
#define DAY0       17014         /* 2016-08-01, days since the epoch */
#define DAY_US     86400000000LL /* one day in microseconds */
#define TOWNS      (40 * 12 * 3) /* the generated long tail */
#define LOC_MAX    80
#define FROM_PARAM "2016-08-01T00:00:00Z"
#define TO_PARAM   "2016-10-16T00:00:00Z"

typedef struct {
    int64_t rows;
    const char *pg, *dir, *node_dir;
    bool quick, keep;
} opts_t;

/* ---- Locations: weights per 10,000 rows for the cities; the rest of the
 * rows go to generated town names, weights 1/(rank + 10); 10 in 10,000 have no
 * location. */

static const struct {
    const char *name;
    int weight;
} cities[] = {
    {"MUMBAI", 1030},     {"NEW DELHI", 860}, {"BANGALORE", 840},    {"GURGAON", 740},
    {"DELHI", 720},       {"NOIDA", 330},     {"CHENNAI", 300},      {"PUNE", 270},
    {"HYDERABAD", 240},   {"THANE", 230},     {"KOLKATA", 210},      {"AHMEDABAD", 140},
    {"NAVI MUMBAI", 140}, {"GHAZIABAD", 100}, {"JAIPUR", 90},        {"CHANDIGARH", 90},
    {"LUCKNOW", 80},      {"DELHI, NCR", 70}, {"FARIDABAD", 70},     {"MOHALI", 60},
    {"INDORE", 60},       {"SURAT", 55},      {"NAGPUR", 50},        {"VADODARA", 50},
    {"KOCHI", 50},        {"BHOPAL", 40},     {"PATNA", 40},         {"LUDHIANA", 40},
    {"COIMBATORE", 40},   {"JAMSHEDPUR", 30}, {"VISAKHAPATNAM", 30}, {"KANPUR", 30},
    {"DEHRADUN", 30},     {"GOA", 30},        {"JHAJJAR", 20},
};
#define CITIES     ((int)CORE_ARRAY_LEN(cities))
#define LOCS       (CITIES + TOWNS) /* index LOCS: no location */
#define NO_LOC_PER 10               /* per 10,000 */

static const char *const town_head[40] = {
    "RAM",     "SHIV",   "HARI",    "DEV",   "SUR",    "CHAND", "GOPAL", "KRISHNA",
    "LAKSHMI", "SITA",   "BHAWANI", "DURGA", "GANESH", "INDRA", "KALI",  "MADHAV",
    "NARAYAN", "PRATAP", "RAGHU",   "SHYAM", "VIJAY",  "ANAND", "ASHOK", "BALA",
    "CHITRA",  "DHARMA", "GOVIND",  "JAGAN", "KAMAL",  "MOHAN", "NAND",  "PADMA",
    "RAJ",     "SAMPAT", "TARA",    "UDAY",  "VISHNU", "YASH",  "ARJUN", "BHIM"};
static const char *const town_tail[12] = {"PUR",  "NAGAR", "ABAD",  "GANJ",    "GARH",  "KOT",
                                          "WADI", "GAON",  "PALLI", "NAGARAM", "PURAM", "PET"};
static const char *const states[8] = {"UP", "MP", "MH", "RJ", "HR", "KA", "TN", "WB"};

typedef struct {
    char names[LOCS][LOC_MAX];
    double cum[LOCS]; /* cumulative probability, given a location */
} locs_t;

static void locs_init(locs_t *l)
{
    int head = 0;
    for (int i = 0; i < CITIES; i++) {
        snprintf(l->names[i], LOC_MAX, "%s", cities[i].name);
        head += cities[i].weight;
    }
    double harmonic = 0;
    for (int k = 0; k < TOWNS; k++)
        harmonic += 1.0 / (k + 10);
    double total = 10000 - NO_LOC_PER, acc = 0;
    for (int i = 0; i < LOCS; i++) {
        if (i < CITIES) {
            acc += cities[i].weight / total;
        } else {
            int k = i - CITIES, base = k / 3, variant = k % 3;
            const char *h = town_head[base % 40], *t = town_tail[base / 40];
            if (variant == 0)
                snprintf(l->names[i], LOC_MAX, "%s%s", h, t);
            else if (variant == 1)
                snprintf(l->names[i], LOC_MAX, "NEW %s%s", h, t);
            else
                snprintf(l->names[i], LOC_MAX, "%s%s, %s", h, t, states[base % 8]);
            acc += (total - head) / total / harmonic / (k + 10);
        }
        l->cum[i] = acc;
    }
    l->cum[LOCS - 1] = 1.0;
}

/* ---- The generator. */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s) /* [0, 1) */
{
    return (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
    double u = unit(s), v = unit(s);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* Rows per (location, day): what the view must hold. */
typedef struct {
    int64_t n, cents;
} tally_t;

typedef struct {
    locs_t locs;
    tally_t *tally; /* (LOCS + 1) * DAYS */
    int64_t customers;
} gen_t;

static int pick_location(const locs_t *l, uint64_t *s)
{
    if (splitmix(s) % 10000 < NO_LOC_PER)
        return LOCS;
    double u = unit(s);
    int lo = 0, hi = LOCS - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (l->cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* A customer's fixed attributes, from its number. */
typedef struct {
    int loc;
    char dob[16], gender[2];
} customer_t;

static void customer(const gen_t *g, int64_t id, customer_t *c)
{
    uint64_t s = (uint64_t)id * 0x2545f4914f6cdd1dull + 7;
    c->loc = pick_location(&g->locs, &s);
    uint64_t r = splitmix(&s) % 1000;
    if (r < 50)
        snprintf(c->dob, sizeof c->dob, "1/1/1800");
    else if (r < 53)
        snprintf(c->dob, sizeof c->dob, "nan");
    else
        snprintf(c->dob, sizeof c->dob, "%d/%d/%d", 1 + (int)(splitmix(&s) % 28),
                 1 + (int)(splitmix(&s) % 12), 40 + (int)(splitmix(&s) % 60));
    r = splitmix(&s) % 10000;
    snprintf(c->gender, sizeof c->gender, "%s",
             r < 7200   ? "M"
             : r < 9990 ? "F"
             : r < 9995 ? "T"
                        : "");
}

static int hour_of_day(uint64_t *s)
{
    static const int w[24] = {2,  1,  1,  1,  1,  2,  4,  6,  8, 10, 11, 12,
                              12, 12, 11, 11, 11, 11, 11, 10, 9, 7,  5,  3};
    int total = 0, h = 0;
    for (int i = 0; i < 24; i++)
        total += w[i];
    int r = (int)(splitmix(s) % (uint64_t)total);
    while (r >= w[h])
        r -= w[h++];
    return h;
}

/* An amount in paise: log-normal around 500 INR, a few zero. */
static int64_t amount_cents(uint64_t *s)
{
    if (splitmix(s) % 1000 == 0)
        return 0;
    double x = exp(log(500.0) + 1.6 * normal(s));
    return x > 1e7 ? 1000000000LL : (int64_t)llround(x * 100);
}

/* "494.8", "1957.0", "42191.50", "369.64", as in the sample. */
static void format_amount(char *out, size_t n, int64_t cents, uint64_t *s)
{
    int64_t whole = cents / 100, frac = cents % 100;
    if (frac % 10 == 0 && splitmix(s) % 4 != 0)
        snprintf(out, n, "%" PRId64 ".%" PRId64, whole, frac / 10);
    else
        snprintf(out, n, "%" PRId64 ".%02" PRId64, whole, frac);
}

static void write_location(FILE *f, const char *loc)
{
    if (strchr(loc, ',') != NULL)
        fprintf(f, "\"%s\",", loc);
    else
        fprintf(f, "%s,", loc);
}

static void write_row(FILE *f, gen_t *g, int64_t i, uint64_t *s)
{
    customer_t c;
    int64_t id = (int64_t)(splitmix(s) % (uint64_t)g->customers);
    customer(g, id, &c);
    int day = (int)(splitmix(s) % DAYS);
    int y, mo, d;
    schema_civil_from_days(DAY0 + day, &y, &mo, &d);
    int hms = hour_of_day(s) * 10000 + (int)(splitmix(s) % 60) * 100 + (int)(splitmix(s) % 60);
    int64_t cents = amount_cents(s);
    char amount[32], balance[32] = "";
    format_amount(amount, sizeof amount, cents, s);
    if (splitmix(s) % 10000 >= 25)
        snprintf(balance, sizeof balance, "%.2f", exp(log(20000.0) + 1.8 * normal(s)));
    fprintf(f, "T%" PRId64 ",C%" PRId64 ",%s,%s,", i + 1, 1000000 + id, c.dob, c.gender);
    write_location(f, c.loc < LOCS ? g->locs.names[c.loc] : "");
    fprintf(f, "%s,%d/%d/%02d,%d,%s\n", balance, d, mo, y % 100, hms, amount);
    tally_t *t = &g->tally[c.loc * DAYS + day];
    t->n++;
    t->cents += cents;
}

static int generate(const char *path, int64_t rows, gen_t *g)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return core_error(CORE_EIO, "%s: cannot create", path);
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    fputs("TransactionID,CustomerID,CustomerDOB,CustGender,CustLocation,CustAccountBalance,"
          "TransactionDate,TransactionTime,TransactionAmount (INR)\n",
          f);
    g->customers = rows * 85 / 100 + 1;
    uint64_t s = 20160801;
    for (int64_t i = 0; i < rows; i++)
        write_row(f, g, i, &s);
    /* On disk before anything is timed, as a file to import would be: else
     * the import's first fdatasync would also write the CSV back (ext4
     * commits the journal with the other files' dirty data). */
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0 || !ok)
        return core_error(CORE_EIO, "%s: write failed", path);
    return 0;
}

/* ---- The topic's schema and the jobs (examples/transactions.yaml). */

static schema_t *bank_schema(void)
{
    static const char *const genders[] = {"M", "F", "T"};
    schema_field_def_t f[] = {
        {.name = "transaction_id", .type = SCHEMA_STRING, .required = true, .pattern = "T[0-9]+"},
        {.name = "customer_id", .type = SCHEMA_STRING, .required = true, .pattern = "C[0-9]+"},
        {.name = "customer_dob", .type = SCHEMA_STRING},
        {.name = "gender", .type = SCHEMA_STRING, .enum_values = genders, .n_enum = 3},
        {.name = "location", .type = SCHEMA_STRING, .max_length = 64},
        {.name = "account_balance", .type = SCHEMA_FLOAT},
        {.name = "amount", .type = SCHEMA_FLOAT, .required = true, .has_min = true},
        {.name = "ts", .type = SCHEMA_TIMESTAMP, .required = true, .format = "iso8601"},
    };
    schema_t *s = NULL;
    int rc = schema_create("transaction", &s);
    for (size_t i = 0; rc == 0 && i < CORE_ARRAY_LEN(f); i++) {
        f[i].min_length = -1;
        if (f[i].max_length == 0)
            f[i].max_length = -1;
        rc = schema_add_field(s, &f[i]);
    }
    if (rc == 0)
        rc = schema_add_rule(s, "amount_within_reason", "amount < 100000000",
                             "amount above 100M INR");
    if (rc == 0)
        rc = schema_seal(s);
    if (rc != 0) {
        schema_destroy(s);
        return NULL;
    }
    return s;
}

static const batch_column_t columns[] = {
    {"transaction_id", "TransactionID", NULL},
    {"customer_id", "CustomerID", NULL},
    {"customer_dob", "CustomerDOB", NULL},
    {"gender", "CustGender", NULL},
    {"location", "CustLocation", NULL},
    {"account_balance", "CustAccountBalance", NULL},
    {"amount", "TransactionAmount (INR)", NULL},
    {"ts", NULL,
     "to_timestamp(\"TransactionDate\" || ' ' || lpad(\"TransactionTime\", 6, '0'), "
     "'%d/%m/%y %H%M%S')"},
};

static const stream_agg_def_t daily_aggs[] = {
    {"transactions", "count", "", 0},
    {"total", "sum", "amount", 0},
    {"average", "avg", "amount", 0},
};

static void compile_error(void *arg, int line, const char *message)
{
    (void)arg;
    (void)line;
    fprintf(stderr, "bench_batch: %s\n", message);
}

static int daily_pipeline(const schema_t *s, const char *topic, stream_pipeline_t **out)
{
    stream_pipeline_def_t d = {
        .name = "location_daily",
        .kind = STREAM_KIND_AGGREGATE,
        .topic = topic,
        .schema = s,
        .key = "coalesce(location, 'UNKNOWN')",
        .event_time = "ts",
        .window = STREAM_WINDOW_TUMBLING,
        .size_ms = 86400000,
        .max_ooo_ms = 60000,
        .idle_timeout_ms = 60000,
        .emit = STREAM_EMIT_UPDATE,
        .view = "location_daily",
        .aggs = daily_aggs,
        .naggs = CORE_ARRAY_LEN(daily_aggs),
        .commit_interval_ms = 1000,
        .commit_records = 100000,
    };
    return stream_pipeline_compile(&d, compile_error, NULL, out);
}

/* ---- Groups: (location, day) -> count, sum, avg, from the view or from
 * DuckDB. */

typedef struct {
    char loc[LOC_MAX];
    int32_t day; /* days since the epoch */
    int64_t n;
    double sum, avg;
} group_t;

typedef struct {
    group_t *g;
    size_t n, cap;
    core_map_t *map; /* "loc\x1fday" -> index + 1 */
} groups_t;

static size_t group_key(char *out, size_t n, const char *loc, size_t len, int32_t day)
{
    int k = snprintf(out, n, "%.*s\x1f%" PRId32, (int)len, loc, day);
    return k < 0 ? 0 : CORE_MIN((size_t)k, n - 1);
}

static int groups_add(groups_t *gs, const char *loc, size_t len, int32_t day, int64_t n, double sum,
                      double avg)
{
    if (len >= LOC_MAX)
        return core_error(CORE_EINVAL, "location of %zu bytes", len);
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? gs->cap * 2 : 4096;
        group_t *g = core_realloc(CORE_MEM_TEST, gs->g, cap * sizeof *g);
        if (g == NULL)
            return CORE_ENOMEM;
        gs->g = g;
        gs->cap = cap;
    }
    if (gs->map == NULL && (gs->map = core_map_create(CORE_MEM_TEST, 4096)) == NULL)
        return CORE_ENOMEM;
    group_t *g = &gs->g[gs->n];
    memcpy(g->loc, loc, len);
    g->loc[len] = '\0';
    g->day = day;
    g->n = n;
    g->sum = sum;
    g->avg = avg;
    char key[LOC_MAX + 16];
    size_t klen = group_key(key, sizeof key, loc, len, day);
    void *old = NULL;
    int rc = core_map_put(gs->map, key, klen, (void *)(uintptr_t)(++gs->n), &old);
    if (rc == 0 && old != NULL)
        rc = core_error(CORE_EINVAL, "group (%s, day %d) seen twice", g->loc, (int)day);
    return rc;
}

static const group_t *groups_find(const groups_t *gs, const char *loc, int32_t day)
{
    char key[LOC_MAX + 16];
    size_t klen = group_key(key, sizeof key, loc, strlen(loc), day);
    void *v;
    return gs->map != NULL && core_map_get(gs->map, key, klen, &v) ? &gs->g[(uintptr_t)v - 1]
                                                                   : NULL;
}

static void groups_fini(groups_t *gs)
{
    core_map_destroy(gs->map);
    core_free(gs->g);
    memset(gs, 0, sizeof *gs);
}

static bool close_to(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

static double num(const schema_value_t *v)
{
    return v->type == SCHEMA_INT ? (double)v->v.i : v->type == SCHEMA_FLOAT ? v->v.f : NAN;
}

static int view_row(void *arg, const stream_view_row_t *r)
{
    if (strcmp(r->layer, "batch") != 0 || !r->final || r->nvalues != 3 ||
        r->window_end - r->window_start != DAY_US || r->window_start % DAY_US != 0)
        return core_error(CORE_EINVAL,
                          "view row %.*s at %" PRId64 " is not a final daily batch row",
                          (int)r->key_len, r->key, r->window_start);
    double n = num(&r->values[0]);
    return groups_add(arg, r->key, r->key_len, (int32_t)(r->window_start / DAY_US), (int64_t)n,
                      num(&r->values[1]), num(&r->values[2]));
}

static int read_view(const char *url, groups_t *gs)
{
    store_t *s = NULL;
    int rc = store_open(url, &s);
    stream_view_query_t q = {.from_us = INT64_MIN, .to_us = INT64_MAX};
    if (rc == 0)
        rc = stream_view_query(s, "location_daily", &q, view_row, gs);
    store_close(s);
    return rc;
}

/* Mismatches between the generator's tallies and the view. */
static int64_t check_tallies(const gen_t *g, const groups_t *view, int64_t *groups)
{
    int64_t bad = 0, seen = 0;
    for (int l = 0; l <= LOCS; l++) {
        for (int d = 0; d < DAYS; d++) {
            const tally_t *t = &g->tally[l * DAYS + d];
            if (t->n == 0)
                continue;
            seen++;
            const group_t *v = groups_find(view, l < LOCS ? g->locs.names[l] : "UNKNOWN", DAY0 + d);
            double sum = (double)t->cents / 100.0;
            if (v == NULL || v->n != t->n || !close_to(v->sum, sum) ||
                !close_to(v->avg, sum / (double)t->n)) {
                if (bad++ < 5)
                    fprintf(stderr,
                            "bench_batch: (%s, day %d): generated %" PRId64 " rows, %.2f; "
                            "view %s\n",
                            l < LOCS ? g->locs.names[l] : "UNKNOWN", DAY0 + d, t->n, sum,
                            v == NULL ? "has no row" : "differs");
            }
        }
    }
    *groups = seen;
    return bad + ((int64_t)view->n != seen ? llabs((int64_t)view->n - seen) : 0);
}

/* Mismatches between DuckDB's groups and the view. */
static int64_t check_duck(const groups_t *duck, const groups_t *view)
{
    int64_t bad = (int64_t)(duck->n > view->n ? duck->n - view->n : view->n - duck->n);
    for (size_t i = 0; i < duck->n; i++) {
        const group_t *d = &duck->g[i], *v = groups_find(view, d->loc, d->day);
        if (v == NULL || v->n != d->n || !close_to(v->sum, d->sum) || !close_to(v->avg, d->avg)) {
            if (bad++ < 5)
                fprintf(stderr,
                        "bench_batch: (%s, day %d): DuckDB %" PRId64 " rows, %.17g; view "
                        "%" PRId64 " rows, %.17g\n",
                        d->loc, (int)d->day, d->n, d->sum, v != NULL ? v->n : 0,
                        v != NULL ? v->sum : 0.0);
        }
    }
    return bad;
}

/* ---- strata: the import and the recompute, as tracked job runs. */

typedef struct {
    double import_s, import_cpu, recompute_s, recompute_cpu;
    int64_t records;   /* in the topic after the import */
    int64_t log_bytes; /* of the topic's segment files after the import */
    groups_t view;
} strata_result_t;

typedef struct {
    char root[4096], csv[4200], duck_tsv[4200];
    int64_t csv_bytes;
    seglog_t *log;
    bus_t *bus;
    schema_t *schema;
} env_t;

/* A store reused across runs (PostgreSQL) would skip the file as already
 * imported: forget it, as docs/import.md says. */
static int forget_import(const char *url, const char *topic)
{
    store_t *s = NULL;
    int rc = store_open(url, &s);
    if (rc == 0)
        rc = store_migrate(s);
    schema_value_t v = {.type = SCHEMA_STRING, .v.s = {topic, strlen(topic)}};
    if (rc == 0)
        rc = store_exec(s, "DELETE FROM strata_imports WHERE topic = ?1", &v, 1, NULL, NULL, NULL);
    store_close(s);
    return rc;
}

static int timed_run(batch_runner_t *r, const char *job, const batch_param_t *params, size_t n,
                     double *wall, double *cpu)
{
    double w0 = bench_seconds(CLOCK_MONOTONIC), c0 = bench_seconds(CLOCK_PROCESS_CPUTIME_ID);
    int rc = batch_run_now(r, job, params, n, NULL);
    *wall = bench_seconds(CLOCK_MONOTONIC) - w0;
    *cpu = bench_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (rc != 0)
        fprintf(stderr, "bench_batch: job %s: %s\n", job, core_error_detail());
    return rc;
}

static int64_t topic_records(bus_t *bus, const char *topic)
{
    int64_t total = 0;
    for (int32_t p = 0; p < PARTITIONS; p++) {
        int64_t start = 0, end = 0;
        if (bus_offsets(bus, topic, p, &start, &end) == 0)
            total += end - start;
    }
    return total;
}

/* The bytes of the topic's segment files (log/topics/TOPIC-N/ *.log). */
static int64_t log_bytes(const env_t *e, const char *topic)
{
    int64_t total = 0;
    for (int32_t p = 0; p < PARTITIONS; p++) {
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/log/topics/%s-%d", e->root, topic, (int)p);
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d != NULL && (de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            struct stat st;
            char path[4700];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (n > 4 && strcmp(de->d_name + n - 4, ".log") == 0 && stat(path, &st) == 0)
                total += st.st_size;
        }
        if (d != NULL)
            closedir(d);
    }
    return total;
}

/* The I/O floor of the import and the recompute: BYTES written to a file
 * in 1 MiB writes, made durable with one fdatasync, then read back (from
 * the page cache, as the recompute reads the log), with no other work.
 * secs[0..3): the three steps' seconds. False on an I/O error. */
static bool io_floor(const env_t *e, int64_t bytes, double secs[3])
{
    char path[4200];
    snprintf(path, sizeof path, "%s/io_floor.bin", e->root);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    static char buf[1 << 20];
    memset(buf, 'x', sizeof buf);
    bool ok = fd >= 0;
    double t0 = bench_seconds(CLOCK_MONOTONIC);
    for (int64_t done = 0; ok && done < bytes; done += (int64_t)sizeof buf) {
        size_t n = (size_t)CORE_MIN(bytes - done, (int64_t)sizeof buf);
        ok = write(fd, buf, n) == (ssize_t)n;
    }
    double t1 = bench_seconds(CLOCK_MONOTONIC);
    ok = ok && fdatasync(fd) == 0;
    double t2 = bench_seconds(CLOCK_MONOTONIC);
    for (int64_t done = 0; ok && done < bytes; done += (int64_t)sizeof buf) {
        size_t n = (size_t)CORE_MIN(bytes - done, (int64_t)sizeof buf);
        ok = pread(fd, buf, n, done) == (ssize_t)n;
    }
    secs[0] = t1 - t0;
    secs[1] = t2 - t1;
    secs[2] = bench_seconds(CLOCK_MONOTONIC) - t2;
    if (fd >= 0)
        close(fd);
    unlink(path);
    return ok;
}

static int run_strata(env_t *e, const char *url, const char *topic, strata_result_t *out)
{
    seglog_topic_config_t tc;
    seglog_topic_config_default(&tc);
    tc.partitions = PARTITIONS;
    tc.flush_interval_ms = 200;
    stream_pipeline_t *p = NULL;
    batch_runner_t *r = NULL;
    int rc = seglog_topic_create(e->log, topic, &tc);
    if (rc == 0)
        rc = daily_pipeline(e->schema, topic, &p);
    batch_job_def_t jobs[2] = {
        {.name = "import_bank",
         .kind = BATCH_KIND_IMPORT,
         .max_attempts = 1,
         .path = e->csv,
         .topic = topic,
         .schema = e->schema,
         .key_field = "customer_id",
         .time_field = "ts",
         .columns = columns,
         .ncolumns = CORE_ARRAY_LEN(columns)},
        {.name = "location_daily_recompute",
         .kind = BATCH_KIND_RECOMPUTE,
         .max_attempts = 1,
         .pipeline = "location_daily"},
    };
    batch_env_t env = {
        .bus = e->bus, .log = e->log, .store_url = url, .pipelines = &p, .npipelines = 1};
    if (rc == 0)
        rc = batch_runner_create(&env, jobs, 2, &r);
    if (rc == 0)
        rc = forget_import(url, topic);
    if (rc == 0)
        rc = timed_run(r, "import_bank", NULL, 0, &out->import_s, &out->import_cpu);
    const batch_param_t range[] = {{"from", FROM_PARAM}, {"to", TO_PARAM}};
    if (rc == 0)
        rc = timed_run(r, "location_daily_recompute", range, 2, &out->recompute_s,
                       &out->recompute_cpu);
    out->records = topic_records(e->bus, topic);
    out->log_bytes = log_bytes(e, topic);
    if (rc == 0)
        rc = read_view(url, &out->view);
    batch_runner_destroy(r);
    stream_pipeline_destroy(p);
    return rc;
}

/* ---- DuckDB, from npm, in a child process. */

typedef struct {
    char version[32];
    int threads;        /* DuckDB's default on this machine */
    double secs, secs1; /* default threads, one thread */
    groups_t groups;    /* of the default run */
} duck_t;

static int read_duck_groups(const char *path, groups_t *gs)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return core_error(CORE_EIO, "%s: cannot open", path);
    char line[512];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        char *t1 = strchr(line, '\t'), *end;
        if (t1 == NULL) {
            rc = core_error(CORE_EINVAL, "%s: bad line %s", path, line);
            break;
        }
        long day = strtol(t1 + 1, &end, 10);
        long long n = strtoll(end, &end, 10);
        double sum = strtod(end, &end), avg = strtod(end, &end);
        rc = groups_add(gs, line, (size_t)(t1 - line), (int32_t)day, n, sum, avg);
    }
    fclose(f);
    return rc;
}

static int run_duckdb(const opts_t *o, const env_t *e, duck_t *d)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "node '%s/bench/node/bank.mjs' '%s/node_modules' '%s' '%s'",
             STRATA_SOURCE_DIR, o->node_dir, e->csv, e->duck_tsv);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return CORE_EIO;
    long g0 = 0, g1 = 0;
    int one = 0;
    int n = fscanf(f, "version %31s threads %d %lf %ld threads %d %lf %ld", d->version, &d->threads,
                   &d->secs, &g0, &one, &d->secs1, &g1);
    int st = pclose(f);
    if (n != 7 || st != 0 || one != 1 || g0 != g1)
        return CORE_EIO;
    return read_duck_groups(e->duck_tsv, &d->groups);
}

/* ---- main */

static int parse(int argc, char **argv, opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0 || strcmp(a, "--keep") == 0) {
            *(a[2] == 'q' ? &o->quick : &o->keep) = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "bench_batch: %s needs a value (or unknown option)\n", a);
            return 2;
        }
        i++;
        int rc = 0;
        if (strcmp(a, "--rows") == 0)
            rc = bench_parse_count(a, v, 1000, INT64_C(100000000), &o->rows);
        else if (strcmp(a, "--pg") == 0)
            o->pg = v;
        else if (strcmp(a, "--dir") == 0)
            o->dir = v;
        else if (strcmp(a, "--node-dir") == 0)
            o->node_dir = v;
        else
            rc = 2;
        if (rc != 0) {
            fprintf(stderr, "bench_batch: bad option %s\n", a);
            return 2;
        }
    }
    if (o->quick)
        o->rows = CORE_MIN(o->rows, 20000);
    return 0;
}

static int setup(const opts_t *o, env_t *e)
{
    char logdir[4200];
    snprintf(e->root, sizeof e->root, "%s/bench-batch-XXXXXX", o->dir);
    if (mkdtemp(e->root) == NULL)
        return core_error(CORE_EIO, "%s: cannot create", e->root);
    snprintf(logdir, sizeof logdir, "%s/log", e->root);
    snprintf(e->csv, sizeof e->csv, "%s/bank_transactions.csv", e->root);
    snprintf(e->duck_tsv, sizeof e->duck_tsv, "%s/duckdb_groups.tsv", e->root);
    e->schema = bank_schema();
    int rc = e->schema != NULL ? seglog_open(logdir, &e->log) : CORE_EINVAL;
    if (rc == 0)
        rc = bus_open_seglog(e->log, &e->bus);
    return rc;
}

static void teardown(const opts_t *o, env_t *e)
{
    bus_close(e->bus);
    if (e->log != NULL)
        seglog_close(e->log);
    schema_destroy(e->schema);
    if (o->keep)
        printf("kept %s\n", e->root);
    else
        bench_remove_tree(e->root);
}

static void rate_line(const char *what, int64_t rows, double wall, double cpu)
{
    char a[32], b[32];
    printf("  %-44s %s rows in %.2f s: %9s rows/s (CPU %.2f s)\n", what,
           bench_fmt_count(a, sizeof a, (double)rows), wall,
           bench_fmt_count(b, sizeof b, (double)rows / wall), cpu);
}

/* Runs and reports one store; returns the mismatches (or -1 on failure). */
static int64_t strata_section(const opts_t *o, env_t *e, const gen_t *g, const char *url,
                              const char *topic, strata_result_t *r)
{
    if (run_strata(e, url, topic, r) != 0) {
        fprintf(stderr, "bench_batch: %s\n", core_error_detail());
        return -1;
    }
    rate_line("import (CSV -> topic, 4 partitions)", o->rows, r->import_s, r->import_cpu);
    rate_line("recompute (daily per location, 76 days)", r->records, r->recompute_s,
              r->recompute_cpu);
    rate_line("import + recompute", o->rows, r->import_s + r->recompute_s,
              r->import_cpu + r->recompute_cpu);
    int64_t groups = 0, bad = check_tallies(g, &r->view, &groups);
    if (r->records != o->rows)
        bad++;
    printf("  results: %" PRId64 " groups, %" PRId64 " mismatches (the view against the "
           "generator's own tallies; %" PRId64 " of %" PRId64 " rows in the topic)\n",
           groups, bad, r->records, o->rows);
    return bad;
}

static int64_t duck_section(const opts_t *o, const env_t *e, duck_t *d, const strata_result_t *r)
{
    if (run_duckdb(o, e, d) != 0) {
        printf("2. DuckDB: could not run node with @duckdb/node-api from %s\n", o->node_dir);
        return 0;
    }
    char a[32];
    printf("2. DuckDB %s (node, @duckdb/node-api): read_csv + GROUP BY of the same file:\n",
           d->version);
    printf("  %d threads (its default here)%17s %.2f s: %9s rows/s\n", d->threads, "", d->secs,
           bench_fmt_count(a, sizeof a, (double)o->rows / d->secs));
    printf("  1 thread%37s %.2f s: %9s rows/s\n", "", d->secs1,
           bench_fmt_count(a, sizeof a, (double)o->rows / d->secs1));
    int64_t bad = check_duck(&d->groups, &r->view);
    printf("  results: %zu groups, %" PRId64 " mismatches (DuckDB against the view)\n", d->groups.n,
           bad);
    double total = r->import_s + r->recompute_s, ratio = d->secs / total;
    printf("3. strata import + recompute %.2f s, DuckDB (default, %d threads) %.2f s: "
           "%.3fx DuckDB (target >= 1x): %s; against DuckDB on 1 thread: %.3fx\n",
           total, d->threads, d->secs, ratio, ratio >= 1.0 ? "met" : "missed", d->secs1 / total);
    double f[3];
    char csv[32], log[32];
    if (io_floor(e, r->log_bytes, f))
        printf("  I/O floor: the topic's log, %sB (%.1fx the CSV's %sB), written (%.2f s), "
               "fdatasync'd (%.2f s) and read back (%.2f s), nothing else: %.2f s, %.2f of "
               "DuckDB's whole run\n",
               bench_fmt_count(log, sizeof log, (double)r->log_bytes),
               (double)r->log_bytes / (double)e->csv_bytes,
               bench_fmt_count(csv, sizeof csv, (double)e->csv_bytes), f[0], f[1], f[2],
               f[0] + f[1] + f[2], (f[0] + f[1] + f[2]) / d->secs);
    return bad;
}

/* With --pg: the strata steps again on PostgreSQL, checked against the
 * generator and DuckDB. Returns BAD plus the new mismatches, or -1. */
static int64_t pg_section(const opts_t *o, env_t *e, const gen_t *g, const duck_t *d, int64_t bad)
{
    if (o->pg == NULL) {
        printf("4. PostgreSQL store: not run (give --pg URL)\n");
        return bad;
    }
    strata_result_t p = {0};
    printf("4. strata, PostgreSQL store:\n");
    int64_t b = strata_section(o, e, g, o->pg, "transactions_pg", &p);
    if (b >= 0 && d->groups.n > 0) {
        int64_t bd = check_duck(&d->groups, &p.view);
        double total = p.import_s + p.recompute_s;
        printf("  results: %zu groups, %" PRId64 " mismatches (DuckDB against this view); "
               "import + recompute %.2f s: %.3fx DuckDB (default)\n",
               d->groups.n, bd, total, d->secs / total);
        b += bd;
    }
    groups_fini(&p.view);
    return b < 0 ? b : bad + b;
}

int main(int argc, char **argv)
{
    bench_set_name("bench_batch");
    opts_t o = {.rows = 1000000, .dir = "/tmp", .node_dir = STRATA_SOURCE_DIR "/tests/node"};
    if (getenv("STRATA_BENCH_PG_URL") != NULL)
        o.pg = getenv("STRATA_BENCH_PG_URL");
    if (parse(argc, argv, &o) != 0)
        return 2;
    core_log_set_level(CORE_LOG_ERROR);
    env_t e = {0};
    gen_t *g = core_calloc(CORE_MEM_TEST, 1, sizeof *g);
    tally_t *tally = core_calloc(CORE_MEM_TEST, (size_t)(LOCS + 1) * DAYS, sizeof *tally);
    int rc = g != NULL && tally != NULL ? setup(&o, &e) : CORE_ENOMEM;
    double t0 = bench_seconds(CLOCK_MONOTONIC);
    if (rc == 0) {
        g->tally = tally;
        locs_init(&g->locs);
        rc = generate(e.csv, o.rows, g);
    }
    struct stat st;
    if (rc == 0 && stat(e.csv, &st) == 0)
        e.csv_bytes = st.st_size;
    if (rc != 0) {
        fprintf(stderr, "bench_batch: setup: %s\n", core_error_detail());
        teardown(&o, &e);
        core_free(tally);
        core_free(g);
        return 1;
    }
    char a[32];
    bool mem;
    printf("bench_batch: %s bank transactions, CSV of the sample's layout (%d locations, %d "
           "days; generated in %.1f s, not timed), in %s on %s\n",
           bench_fmt_count(a, sizeof a, (double)o.rows), LOCS, DAYS,
           bench_seconds(CLOCK_MONOTONIC) - t0, e.root, bench_fs_name(e.root, &mem));
    char url[4300];
    snprintf(url, sizeof url, "sqlite:%s/store.db", e.root);
    printf("1. strata, SQLite store (import: calling thread + 2 converting threads; recompute: "
           "%ld reading threads, then the calling thread writes):\n",
           CORE_MIN(sysconf(_SC_NPROCESSORS_ONLN), (long)PARTITIONS));
    strata_result_t r = {0};
    duck_t d = {0};
    int64_t bad = strata_section(&o, &e, g, url, "transactions", &r);
    if (bad >= 0)
        bad += duck_section(&o, &e, &d, &r);
    if (bad >= 0)
        bad = pg_section(&o, &e, g, &d, bad);
    groups_fini(&r.view);
    groups_fini(&d.groups);
    teardown(&o, &e);
    core_free(tally);
    core_free(g);
    return bad == 0 ? 0 : 1;
}

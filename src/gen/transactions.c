/*
 * Kind `transactions`: bank card transactions shaped like
 * shared/data/bank_transactions_sample.csv, as JSON with the field names of
 * examples/transactions.yaml (transaction_id, customer_id, customer_dob,
 * gender, location, account_balance, amount, ts). Key: customer_id.
 *
 * A fixed population of customers is derived from the seed: customer i's
 * id, date of birth, gender, home city, typical amount and usual balance
 * are a hash of (seed, i), so they cost no memory and do not depend on the
 * other options. The population is sized from the event rate so that a
 * customer transacts about once an hour of event time on average (at
 * least 20,000 customers, at most 100 million); which customer transacts
 * follows a mild Zipf law (exponent 0.3) over the population, so that an
 * ordinary customer rarely makes six transactions in a minute (what
 * examples/transactions.yaml calls a burst) unless a burst is injected.
 *
 * Amounts are lognormal around the customer's typical amount. The
 * parameters come from the sample: its amounts have a log-mean of 6.5
 * (about 670 INR) and a log-sd of 1.6, balances a log-mean of 10.0 and a
 * log-sd of 2.0, genders are 71.5% M, 28.4% F and a few T. The sample
 * spreads customers evenly over its 22 cities; the generator skews them
 * by city size instead (weights 1 / rank^0.9, largest metro first).
 *
 * Anomalies: 70% are amount spikes (50 to 200 times the customer's typical
 * amount), 30% bursts of 8 transactions of one customer in a row.
 *
 * Threading: the generator's thread.
 */
#include "gen/gen_int.h"

#include <math.h>
#include <stdio.h>

#define MIN_CUSTOMERS 20000
#define MAX_CUSTOMERS 100000000
#define TX_PER_HOUR   1.0  /* per customer, on average */
#define ACTIVITY_SKEW 0.3  /* Zipf exponent of activity */
#define AMOUNT_SIGMA  1.35 /* per transaction, around the customer's mu */
#define MU_MEAN       6.51
#define MU_SD         0.9
#define AMOUNT_CAP    5e7
#define MINUTE_MS     60000LL
#define HOUR_MS       (60 * MINUTE_MS)

/* The sample's cities, largest metro first. */
static const char *const cities[] = {
    "MUMBAI",  "NEW DELHI",  "BANGALORE", "HYDERABAD",   "AHMEDABAD", "CHENNAI",
    "KOLKATA", "PUNE",       "DELHI",     "GURGAON",     "NOIDA",     "THANE",
    "JAIPUR",  "LUCKNOW",    "INDORE",    "NAVI MUMBAI", "KOCHI",     "CHANDIGARH",
    "MOHALI",  "JAMSHEDPUR", "JHAJJAR",   "DELHI, NCR",
};
#define NCITIES (sizeof cities / sizeof cities[0])

typedef struct {
    uint64_t number; /* the digits after "C" */
    const char *city;
    char gender;
    int32_t dob_days;
    double mu;      /* log of the typical amount */
    double balance; /* usual balance */
} customer_t;

typedef struct {
    uint64_t n;     /* customers */
    uint64_t prime; /* customer numbers: 1000000 + (a i + b) mod prime */
    uint64_t a, b;
    uint64_t salt; /* customer attributes hash from this */
    double city_w[NCITIES];
    gen_recent_t recent; /* customer indices */
    uint64_t burst_customer;
} tx_state_t;

static const gen_mutation_t mutations[] = {
    {GEN_MUT_DROP, NULL, "transaction_id", NULL},
    {GEN_MUT_DROP, NULL, "customer_id", NULL},
    {GEN_MUT_DROP, NULL, "amount", NULL},
    {GEN_MUT_DROP, NULL, "ts", NULL},
    {GEN_MUT_RAW, NULL, "transaction_id", "\"TXN-000117\""},
    {GEN_MUT_RAW, NULL, "customer_id", "\"CUST-1074277\""},
    {GEN_MUT_RAW, NULL, "amount", "\"1,250.00\""},
    {GEN_MUT_RAW, NULL, "amount", "-250.0"},
    {GEN_MUT_RAW, NULL, "amount", "250000000.0"}, /* the amount_within_reason rule */
    {GEN_MUT_RAW, NULL, "gender", "\"X\""},
    {GEN_MUT_RAW, NULL, "ts", "\"28/8/16 12:15:04\""},
    {GEN_MUT_RAW, NULL, "account_balance", "\"n/a\""},
    {GEN_MUT_RAW, NULL, "location",
     "\"PLOT 42, SECTOR 18, NEAR THE OLD BUS STAND, NAVI MUMBAI, MAHARASHTRA 400703\""},
    {GEN_MUT_DUP, NULL, "amount", NULL},
    {GEN_MUT_RAW, NULL, "amount", "NaN"},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

/* Customer i: every attribute is drawn from a PRNG seeded by (seed, i). */
static void customer(const tx_state_t *s, uint64_t i, customer_t *c)
{
    gen_rng_t r;
    gen_rng_seed(&r, s->salt ^ gen_mix64(i));
    c->number = 1000000 + (s->a * i + s->b) % s->prime;
    c->city = cities[gen_rng_weighted(&r, s->city_w, NCITIES)];
    double u = gen_rng_uniform(&r);
    c->gender = u < 0.715 ? 'M' : u < 0.999 ? 'F' : 'T';
    double year = 1985.0 + 11.0 * gen_rng_normal(&r);
    year = CORE_MAX(1940.0, CORE_MIN(2006.0, year));
    c->dob_days = (int32_t)(((int64_t)year - 1970) * 36525 / 100 + gen_rng_range(&r, 0, 364));
    c->mu = MU_MEAN + MU_SD * gen_rng_normal(&r);
    c->balance = CORE_MIN(gen_rng_lognormal(&r, 10.0, 2.0), 5e7);
}

static int tx_create(gen_t *g, void **state)
{
    static const uint64_t primes[] = {200003, 1000003, 10000019, 100000007};
    tx_state_t *s = core_calloc(CORE_MEM_GEN, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "gen: transactions state");
    double n = g->opt.rate * 3600.0 / TX_PER_HOUR;
    s->n = n < MIN_CUSTOMERS ? MIN_CUSTOMERS : n > MAX_CUSTOMERS ? MAX_CUSTOMERS : (uint64_t)n;
    for (size_t i = 0; i < CORE_ARRAY_LEN(primes) && s->prime < s->n; i++)
        s->prime = primes[i];
    uint64_t x = gen_mix64(g->opt.seed ^ 0x7472616e73616374ULL);
    s->salt = gen_splitmix64(&x);
    s->a = 1 + gen_splitmix64(&x) % (s->prime - 1);
    s->b = gen_splitmix64(&x) % s->prime;
    for (size_t i = 0; i < NCITIES; i++)
        s->city_w[i] = 1.0 / pow((double)(i + 1), 0.9);
    *state = s;
    return 0;
}

static void tx_destroy(void *state)
{
    core_free(state);
}

static uint64_t pick_customer(gen_t *g, tx_state_t *s)
{
    uint64_t v;
    if (gen_late_entity(g, &s->recent, &v))
        return v;
    if (g->burst_pos > 0)
        return s->burst_customer;
    uint64_t i = gen_power_law(&g->rng, s->n, ACTIVITY_SKEW);
    if (g->burst_pos == 0)
        s->burst_customer = i;
    return i;
}

static double draw_amount(gen_t *g, const customer_t *c)
{
    double amount;
    if (g->cls == GEN_CLASS_ANOMALY && g->burst_pos < 0)
        amount = exp(c->mu) * (50.0 + 150.0 * gen_rng_uniform(&g->rng));
    else if (g->burst_pos >= 0)
        amount = gen_rng_lognormal(&g->rng, c->mu - 1.0, 0.5); /* card testing */
    else
        amount = gen_rng_lognormal(&g->rng, c->mu, AMOUNT_SIGMA);
    return CORE_MAX(1.0, CORE_MIN(amount, AMOUNT_CAP));
}

static void tx_emit(gen_t *g, void *state)
{
    tx_state_t *s = state;
    uint64_t i = pick_customer(g, s);
    customer_t c;
    customer(s, i, &c);
    double amount = draw_amount(g, &c);
    double balance = c.balance * exp(0.25 * gen_rng_normal(&g->rng));
    const gen_mutation_t *m = NULL;
    if (g->cls == GEN_CLASS_INVALID)
        m = gen_pick_mutation(g, mutations, CORE_ARRAY_LEN(mutations));
    gen_note_entity(g, &s->recent, i);

    char id[40], cust[24], dob[16], gender[2] = {c.gender, '\0'};
    snprintf(id, sizeof id, "T%u%llu", (unsigned)g->run_tag, (unsigned long long)g->seq + 1);
    snprintf(cust, sizeof cust, "C%llu", (unsigned long long)c.number);
    gen_format_date(c.dob_days, dob, sizeof dob);
    gen_key_str(g, cust);

    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "transaction_id", id);
    gen_json_str(&j, "customer_id", cust);
    gen_json_str(&j, "customer_dob", dob);
    gen_json_str(&j, "gender", gender);
    gen_json_str(&j, "location", c.city);
    gen_json_f64(&j, "account_balance", balance, 2);
    gen_json_f64(&j, "amount", amount, 2);
    gen_json_ts(&j, "ts", g->ts_ms);
    gen_json_end(&j);
}

/* Late by a day or two: beyond customer_daily's one-day windows plus one
 * hour of allowed lateness and a minute out of order. */
const gen_kind_t gen_kind_transactions = {
    .name = "transactions",
    .late_min_ms = 26 * HOUR_MS,
    .late_max_ms = 50 * HOUR_MS,
    .burst_share = 0.3,
    .burst_len = 8,
    .create = tx_create,
    .destroy = tx_destroy,
    .emit = tx_emit,
};

/*
 * Kind `stocks`: trade ticks for a fixed list of symbols, matching the
 * stock_tick schema of examples/stocks.yaml (symbol, price, volume, bid,
 * ask, ts). Key: symbol.
 *
 * Prices follow geometric Brownian motion per symbol: between two ticks
 * dt apart (in trading years of 252 days of 6.5 hours), the log price
 * moves by (mu - sigma^2 / 2) dt + sigma sqrt(dt) Z with Z standard normal.
 * Prices are in cents; bid and ask straddle the price by the symbol's
 * spread, rounded outwards to the cent, so bid <= ask always holds.
 * Volumes are round lots of 100 (70%, a geometric number of lots) or odd
 * lots of 1 to 99. Symbols are picked by a Zipf law over the list order.
 *
 * Anomalies are price jumps of 5% to 15% up or down; the price stays at the
 * new level (the walk continues from it). Late ticks repeat the current
 * price of a recently traded symbol.
 *
 * Threading: the generator's thread.
 */
#include "gen/gen_int.h"

#include <math.h>

#define TRADING_YEAR_MS (252.0 * 6.5 * 3600.0 * 1000.0)
#define DRIFT           0.05

typedef struct {
    const char *symbol;
    double price;  /* initial price */
    double sigma;  /* annual volatility */
    double spread; /* bid-ask spread in basis points of the price */
} symbol_def_t;

static const symbol_def_t symbols[] = {
    {"AAPL", 189.5, 0.25, 1.0},  {"MSFT", 410.2, 0.24, 1.0},  {"NVDA", 480.1, 0.50, 1.5},
    {"AMZN", 150.3, 0.32, 1.2},  {"GOOGL", 140.8, 0.30, 1.2}, {"META", 330.4, 0.38, 1.5},
    {"TSLA", 240.6, 0.60, 2.0},  {"JPM", 170.2, 0.22, 1.5},   {"V", 260.5, 0.20, 1.5},
    {"BRK.B", 360.0, 0.18, 2.0}, {"JNJ", 155.1, 0.16, 1.5},   {"WMT", 165.4, 0.18, 1.5},
    {"XOM", 105.7, 0.28, 1.5},   {"UNH", 520.3, 0.22, 2.0},   {"PG", 150.9, 0.16, 1.5},
    {"MA", 420.0, 0.22, 1.5},    {"HD", 340.2, 0.24, 1.5},    {"KO", 60.1, 0.15, 2.0},
    {"PEP", 170.3, 0.16, 2.0},   {"AVGO", 900.5, 0.40, 2.5},  {"COST", 620.0, 0.20, 2.0},
    {"ORCL", 115.4, 0.30, 2.0},  {"CSCO", 50.2, 0.22, 2.0},   {"ADBE", 560.7, 0.35, 2.5},
    {"CRM", 230.1, 0.35, 2.5},   {"NFLX", 450.6, 0.42, 2.5},  {"AMD", 120.4, 0.55, 2.0},
    {"INTC", 43.2, 0.35, 2.5},   {"DIS", 90.3, 0.28, 2.0},    {"BA", 210.8, 0.38, 2.5},
};
#define NSYMBOLS (sizeof symbols / sizeof symbols[0])

typedef struct {
    double price[NSYMBOLS];
    int64_t last_ms[NSYMBOLS];
    gen_zipf_t popularity;
    gen_recent_t recent;
} stocks_state_t;

static const gen_mutation_t mutations[] = {
    {GEN_MUT_DROP, NULL, "symbol", NULL},
    {GEN_MUT_DROP, NULL, "price", NULL},
    {GEN_MUT_DROP, NULL, "volume", NULL},
    {GEN_MUT_DROP, NULL, "ts", NULL},
    {GEN_MUT_RAW, NULL, "symbol", "\"$aapl\""},
    {GEN_MUT_RAW, NULL, "price", "-1.5"},
    {GEN_MUT_RAW, NULL, "price", "\"189.50\""},
    {GEN_MUT_RAW, NULL, "volume", "12.5"},
    {GEN_MUT_RAW, NULL, "volume", "-100"},
    {GEN_MUT_RAW, NULL, "bid", "999999.0"}, /* the bid_not_above_ask rule */
    {GEN_MUT_RAW, NULL, "ts", "\"13:04:05\""},
    {GEN_MUT_DUP, NULL, "price", NULL},
    {GEN_MUT_RAW, NULL, "price", "NaN"},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

static int stocks_create(gen_t *g, void **state)
{
    stocks_state_t *s = core_calloc(CORE_MEM_GEN, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "gen: stocks state");
    int rc = gen_zipf_init(&s->popularity, NSYMBOLS, 0.8);
    if (rc != 0) {
        core_free(s);
        return rc;
    }
    for (size_t i = 0; i < NSYMBOLS; i++) {
        s->price[i] = symbols[i].price;
        s->last_ms[i] = g->opt.start_ms;
    }
    *state = s;
    return 0;
}

static void stocks_destroy(void *state)
{
    stocks_state_t *s = state;
    gen_zipf_fini(&s->popularity);
    core_free(s);
}

/* Moves symbol i's price to time g->ts_ms, with a jump for an anomaly. */
static double step_price(gen_t *g, stocks_state_t *s, size_t i)
{
    double dt = (double)CORE_MAX(g->ts_ms - s->last_ms[i], 0) / TRADING_YEAR_MS;
    double sigma = symbols[i].sigma;
    double z = gen_rng_normal(&g->rng);
    double p = s->price[i] * exp((DRIFT - sigma * sigma / 2) * dt + sigma * sqrt(dt) * z);
    if (g->cls == GEN_CLASS_ANOMALY) {
        double jump = 0.05 + 0.10 * gen_rng_uniform(&g->rng);
        p *= gen_rng_chance(&g->rng, 0.5) ? 1.0 + jump : 1.0 - jump;
    }
    p = CORE_MAX(p, 0.01);
    if (g->cls != GEN_CLASS_INVALID) { /* a garbled tick moves nothing */
        s->price[i] = p;
        s->last_ms[i] = g->ts_ms;
    }
    return p;
}

static int64_t draw_volume(gen_t *g)
{
    if (gen_rng_chance(&g->rng, 0.7))
        return 100 * (1 + (int64_t)gen_rng_exponential(&g->rng, 3.0));
    return gen_rng_range(&g->rng, 1, 99);
}

static void stocks_emit(gen_t *g, void *state)
{
    stocks_state_t *s = state;
    uint64_t v;
    size_t i;
    double price;
    if (gen_late_entity(g, &s->recent, &v)) {
        i = (size_t)v;
        price = s->price[i]; /* as traded a few minutes ago, near enough */
    } else {
        i = gen_zipf_draw(&s->popularity, &g->rng);
        price = step_price(g, s, i);
    }
    gen_note_entity(g, &s->recent, i);
    price = round(price * 100) / 100;
    price = CORE_MAX(price, 0.01);
    double half = CORE_MAX(0.005, price * symbols[i].spread / 2e4);
    double bid = floor((price - half) * 100) / 100;
    double ask = ceil((price + half) * 100) / 100;
    const gen_mutation_t *m = NULL;
    if (g->cls == GEN_CLASS_INVALID)
        m = gen_pick_mutation(g, mutations, CORE_ARRAY_LEN(mutations));

    gen_key_str(g, symbols[i].symbol);
    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "symbol", symbols[i].symbol);
    gen_json_f64(&j, "price", price, 2);
    gen_json_i64(&j, "volume", draw_volume(g));
    gen_json_f64(&j, "bid", CORE_MAX(bid, 0.0), 2);
    gen_json_f64(&j, "ask", ask, 2);
    gen_json_ts(&j, "ts", g->ts_ms);
    gen_json_end(&j);
}

/* Late by 2 to 10 minutes: beyond ohlc_1m's one-minute windows plus 10 s of
 * lateness and 5 s out of order, and trades_10s's 10 s windows. */
const gen_kind_t gen_kind_stocks = {
    .name = "stocks",
    .late_min_ms = 2 * 60000,
    .late_max_ms = 10 * 60000,
    .burst_share = 0,
    .burst_len = 1,
    .create = stocks_create,
    .destroy = stocks_destroy,
    .emit = stocks_emit,
};

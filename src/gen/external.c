/*
 * Kind `external`: readings of outside data feeds, delivered in periodic
 * batches as a poller would fetch them. Three feeds take turns, one batch
 * each: weather (8 stations x temperature, humidity, wind), market (7
 * indices, rates and commodities) and social (8 trending topics' mention
 * counts). Every reading of a batch has the batch's timestamp; the next
 * batch comes (batch size) x (1000 / rate) ms later, so the record rate
 * averages the requested rate. Key: "feed/source" ("weather/MUMBAI").
 *
 *   {"feed": "weather", "source": "MUMBAI", "metric": "temperature",
 *    "value": 31.4, "unit": "C", "batch": 17, "ts": "2026-..."}
 *
 * Weather follows a daily cycle (warmest mid-afternoon UTC+5:30) plus
 * AR(1) noise; market values are geometric Brownian motion; mentions are
 * lognormal around a level that drifts (a random walk in log space).
 * Anomalies are spikes: a sensor reading 15 to 25 degrees off, humidity
 * stuck at 0, wind 3 to 5 times too strong, a market value 8% to 15% off,
 * a topic going viral (20 to 50 times its mentions). Late readings are
 * stamped 15 to 45 minutes before their batch.
 *
 * Threading: the generator's thread.
 */
#include "gen/gen_int.h"

#include <math.h>
#include <stdio.h>

#define PI        3.14159265358979323846
#define DAY_MS    86400000.0
#define YEAR_MS   (365.25 * DAY_MS)
#define NSTATIONS 8
#define NMARKETS  7
#define NTOPICS   8

enum { FEED_WEATHER, FEED_MARKET, FEED_SOCIAL, FEED_COUNT };
static const char *const feeds[FEED_COUNT] = {"weather", "market", "social"};
static const int batch_size[FEED_COUNT] = {NSTATIONS * 3, NMARKETS, NTOPICS};

static const struct {
    const char *name;
    double mean_c; /* daily mean temperature */
} stations[NSTATIONS] = {
    {"MUMBAI", 28.0},  {"NEW DELHI", 25.0}, {"BANGALORE", 24.0}, {"CHENNAI", 29.0},
    {"KOLKATA", 27.0}, {"HYDERABAD", 27.0}, {"PUNE", 25.0},      {"JAIPUR", 26.0},
};

static const struct {
    const char *name, *unit;
    double value, sigma;
} markets[NMARKETS] = {
    {"NIFTY50", "points", 22000, 0.14},   {"SENSEX", "points", 72500, 0.13},
    {"NIFTYBANK", "points", 47000, 0.18}, {"USDINR", "INR", 83.2, 0.05},
    {"BRENT", "USD", 82.5, 0.30},         {"GOLD", "USD", 2030, 0.15},
    {"GSEC10Y", "pct", 7.1, 0.08},
};

static const struct {
    const char *name;
    double level; /* typical mentions per batch */
} topics[NTOPICS] = {
    {"#cricket", 4200},   {"#ipl", 3100},     {"#monsoon", 900},    {"#budget", 600},
    {"#bollywood", 2500}, {"#startups", 400}, {"#elections", 1500}, {"#traffic", 700},
};

typedef struct {
    int feed, pos; /* the reading this record is: feed and index in its batch */
    int64_t batch;
    double noise[NSTATIONS][3];
    double market[NMARKETS];
    double level[NTOPICS]; /* log of the current mention level */
    int64_t market_ms;     /* event time of the market values */
} external_state_t;

static const gen_mutation_t mutations[] = {
    {GEN_MUT_DROP, NULL, "value", NULL},  {GEN_MUT_RAW, NULL, "value", "\"N/A\""},
    {GEN_MUT_RAW, NULL, "value", "NaN"},  {GEN_MUT_DROP, NULL, "source", NULL},
    {GEN_MUT_DROP, NULL, "ts", NULL},     {GEN_MUT_RAW, NULL, "ts", "\"soon\""},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

static int external_create(gen_t *g, void **state)
{
    external_state_t *s = core_calloc(CORE_MEM_GEN, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "gen: external state");
    for (int i = 0; i < NMARKETS; i++)
        s->market[i] = markets[i].value;
    for (int i = 0; i < NTOPICS; i++)
        s->level[i] = log(topics[i].level);
    s->market_ms = g->opt.start_ms;
    *state = s;
    return 0;
}

static void external_destroy(void *state)
{
    core_free(state);
}

/* One weather reading; *unit set. */
static double weather(gen_t *g, external_state_t *s, int station, int metric, const char **unit)
{
    /* Hours since local (UTC+5:30) midnight; the cycle peaks at 15:00. */
    double hour = fmod(((double)g->ts_ms + 5.5 * 3600000.0) / 3600000.0, 24.0);
    double cycle = cos(2 * PI * (hour - 15.0) / 24.0);
    double *e = &s->noise[station][metric];
    if (g->cls != GEN_CLASS_INVALID)
        *e = 0.9 * *e + 0.4 * gen_rng_normal(&g->rng);
    bool spike = g->cls == GEN_CLASS_ANOMALY;
    switch (metric) {
    case 0:
        *unit = "C";
        return stations[station].mean_c + 5.0 * cycle + *e +
               (spike ? 15.0 + 10.0 * gen_rng_uniform(&g->rng) : 0.0);
    case 1:
        *unit = "pct";
        return spike ? 0.0 : CORE_MAX(5.0, CORE_MIN(100.0, 65.0 - 15.0 * cycle + 4.0 * *e));
    default:
        *unit = "km/h";
        return CORE_MAX(0.0, 8.0 + 3.0 * *e) * (spike ? 3.0 + 2.0 * gen_rng_uniform(&g->rng) : 1.0);
    }
}

static double market(gen_t *g, external_state_t *s, int i)
{
    if (s->pos == 0 && g->cls != GEN_CLASS_LATE) { /* first reading of the batch */
        double dt = (double)CORE_MAX(g->ts_ms - s->market_ms, 0) / YEAR_MS;
        for (int k = 0; k < NMARKETS; k++) {
            double sg = markets[k].sigma;
            s->market[k] *= exp(-sg * sg / 2 * dt + sg * sqrt(dt) * gen_rng_normal(&g->rng));
        }
        s->market_ms = g->ts_ms;
    }
    double v = s->market[i];
    if (g->cls == GEN_CLASS_ANOMALY) {
        double jump = 0.08 + 0.07 * gen_rng_uniform(&g->rng);
        v *= gen_rng_chance(&g->rng, 0.5) ? 1.0 + jump : 1.0 - jump;
    }
    return v;
}

static double social(gen_t *g, external_state_t *s, int i)
{
    if (g->cls != GEN_CLASS_INVALID)
        s->level[i] += 0.05 * gen_rng_normal(&g->rng) - 0.01 * (s->level[i] - log(topics[i].level));
    double v = floor(gen_rng_lognormal(&g->rng, s->level[i], 0.25));
    if (g->cls == GEN_CLASS_ANOMALY)
        v *= 20.0 + 30.0 * gen_rng_uniform(&g->rng);
    return v;
}

static void external_emit(gen_t *g, void *state)
{
    external_state_t *s = state;
    static const char *const metric_names[] = {"temperature", "humidity", "wind_speed"};
    const char *source, *metric, *unit;
    double value;
    int decimals = 2;
    if (s->feed == FEED_WEATHER) {
        int station = s->pos / 3, k = s->pos % 3;
        source = stations[station].name;
        metric = metric_names[k];
        value = weather(g, s, station, k, &unit);
        decimals = 1;
    } else if (s->feed == FEED_MARKET) {
        source = markets[s->pos].name;
        metric = "value";
        unit = markets[s->pos].unit;
        value = market(g, s, s->pos);
    } else {
        source = topics[s->pos].name;
        metric = "mentions";
        unit = "count";
        value = social(g, s, s->pos);
        decimals = 0;
    }
    const gen_mutation_t *m = NULL;
    if (g->cls == GEN_CLASS_INVALID)
        m = gen_pick_mutation(g, mutations, CORE_ARRAY_LEN(mutations));
    char key[96];
    snprintf(key, sizeof key, "%s/%s", feeds[s->feed], source);
    gen_key_str(g, key);
    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "feed", feeds[s->feed]);
    gen_json_str(&j, "source", source);
    gen_json_str(&j, "metric", metric);
    gen_json_f64(&j, "value", value, decimals);
    gen_json_str(&j, "unit", unit);
    gen_json_i64(&j, "batch", s->batch);
    gen_json_ts(&j, "ts", g->ts_ms);
    gen_json_end(&j);
}

/* The clock moves only between batches, by the batch's share of time. */
static void external_advance(gen_t *g, void *state)
{
    external_state_t *s = state;
    if (++s->pos < batch_size[s->feed])
        return;
    g->clock_us += g->interval_us * batch_size[s->feed];
    gen_clock_sync(g);
    s->pos = 0;
    s->feed = (s->feed + 1) % FEED_COUNT;
    s->batch++;
}

const gen_kind_t gen_kind_external = {
    .name = "external",
    .late_min_ms = 15 * 60000,
    .late_max_ms = 45 * 60000,
    .burst_share = 0,
    .burst_len = 1,
    .create = external_create,
    .destroy = external_destroy,
    .emit = external_emit,
    .advance = external_advance,
};

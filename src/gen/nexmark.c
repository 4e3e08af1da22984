/*
 * Kind `nexmark`: the three event types of the Nexmark benchmark (an
 * online auction), in its fixed mix: of every 50 events, 1 person, 3
 * auctions and 46 bids. Every event carries a "type" discriminator
 * ("person", "auction", "bid"), which is also the record's topic hint.
 *
 *   person   id, name, emailAddress, creditCard, city, state, dateTime
 *   auction  id, itemName, description, initialBid, reserve, dateTime,
 *            expires, seller, category
 *   bid      auction, bidder, price, channel, url, dateTime
 *
 * Ids count up from 1000 (persons and auctions separately). Prices are in
 * cents (integers). Sellers and bidders are recent persons; half of the
 * bids go to the 8 newest ("hot") auctions, the rest to any of the last
 * 256; each bid raises its auction's price by 1% to 10%. Times are ISO
 * 8601 strings; an auction expires 2 to 20 minutes of event time after it
 * opens. Key: the person's id, the auction's id, and for a bid the id of
 * its auction (so an auction and its bids share a partition).
 *
 * Anomalies: a bid 50 to 100 times the auction's price, an auction whose
 * initial bid is 100 times the usual, a person reusing the previous
 * person's credit card. Late events are stamped 2 to 10 minutes behind.
 *
 * Threading: the generator's thread.
 */
#include "gen/gen_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define FIRST_ID  1000
#define OPEN_MAX  256
#define HOT       8
#define PERSONS_R 100 /* sellers and bidders come from the last 100 persons */

static const char *const first_names[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",   "Vicky",
                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter", "Maria"};
static const char *const last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris", "Lopez"};
static const struct {
    const char *city, *state;
} places[] = {
    {"Phoenix", "AZ"},  {"Los Angeles", "CA"}, {"San Francisco", "CA"}, {"Boise", "ID"},
    {"Portland", "OR"}, {"Bend", "OR"},        {"Redmond", "WA"},       {"Seattle", "WA"},
    {"Kent", "WA"},     {"Cheyenne", "WY"},
};
static const char *const adjectives[] = {"vintage", "rare",  "mint", "signed",  "antique",
                                         "classic", "boxed", "used", "limited", "handmade"};
static const char *const nouns[] = {"camera", "guitar", "watch", "bicycle", "lamp",
                                    "vase",   "record", "clock", "chair",   "comic"};
static const char *const channels[] = {"Google", "Facebook", "Baidu", "Apple"};

typedef struct {
    int64_t id;
    int64_t price; /* current price in cents */
} open_auction_t;

typedef struct {
    int64_t next_person, next_auction;
    open_auction_t open[OPEN_MAX]; /* ring of the newest auctions */
    size_t nopen, open_next;
    char last_card[24];
} nexmark_state_t;

static const gen_mutation_t person_mutations[] = {
    {GEN_MUT_DROP, NULL, "id", NULL},       {GEN_MUT_RAW, NULL, "emailAddress", "42"},
    {GEN_MUT_DROP, NULL, "dateTime", NULL}, {GEN_MUT_RAW, NULL, "dateTime", "\"tomorrow\""},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};
static const gen_mutation_t auction_mutations[] = {
    {GEN_MUT_DROP, NULL, "seller", NULL},    {GEN_MUT_RAW, NULL, "reserve", "\"high\""},
    {GEN_MUT_RAW, NULL, "initialBid", "-5"}, {GEN_MUT_DROP, NULL, "id", NULL},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};
static const gen_mutation_t bid_mutations[] = {
    {GEN_MUT_DROP, NULL, "price", NULL},    {GEN_MUT_RAW, NULL, "price", "\"12.50\""},
    {GEN_MUT_RAW, NULL, "auction", "null"}, {GEN_MUT_DROP, NULL, "dateTime", NULL},
    {GEN_MUT_DUP, NULL, "price", NULL},     {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

static int nexmark_create(gen_t *g, void **state)
{
    (void)g;
    nexmark_state_t *s = core_calloc(CORE_MEM_GEN, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "gen: nexmark state");
    s->next_person = FIRST_ID;
    s->next_auction = FIRST_ID;
    *state = s;
    return 0;
}

static void nexmark_destroy(void *state)
{
    core_free(state);
}

static const gen_mutation_t *pick(gen_t *g, const gen_mutation_t *muts, size_t n)
{
    return g->cls == GEN_CLASS_INVALID ? gen_pick_mutation(g, muts, n) : NULL;
}

/* A recent person (a seller or bidder); the first person before any. */
static int64_t some_person(gen_t *g, const nexmark_state_t *s)
{
    int64_t made = s->next_person - FIRST_ID;
    if (made <= 0)
        return FIRST_ID;
    int64_t span = CORE_MIN(made, PERSONS_R);
    return s->next_person - 1 - gen_rng_range(&g->rng, 0, span - 1);
}

/* "dddd dddd dddd dddd". The groups are drawn last first, one draw per
 * statement: they were once four arguments of one call, whose order of
 * evaluation is the compiler's (gcc went right to left, clang left to
 * right), and this keeps the bytes gcc gave. */
static void card_number(gen_t *g, char *out, size_t n)
{
    int group[4];
    for (int i = 3; i >= 0; i--)
        group[i] = (int)gen_rng_below(&g->rng, 10000);
    snprintf(out, n, "%04d %04d %04d %04d", group[0], group[1], group[2], group[3]);
}

static void person(gen_t *g, nexmark_state_t *s)
{
    const gen_mutation_t *m = pick(g, person_mutations, CORE_ARRAY_LEN(person_mutations));
    int64_t id = s->next_person;
    if (g->cls != GEN_CLASS_INVALID)
        s->next_person++;
    const char *first = first_names[gen_rng_below(&g->rng, CORE_ARRAY_LEN(first_names))];
    const char *last = last_names[gen_rng_below(&g->rng, CORE_ARRAY_LEN(last_names))];
    size_t place = (size_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(places));
    char name[64], email[96], card[24];
    snprintf(name, sizeof name, "%s %s", first, last);
    snprintf(email, sizeof email, "%c%s%lld@example.com", tolower((unsigned char)first[0]), last,
             (long long)id);
    for (size_t i = 0; email[i] != '\0' && email[i] != '@'; i++)
        email[i] = (char)tolower((unsigned char)email[i]);
    if (g->cls == GEN_CLASS_ANOMALY && s->last_card[0] != '\0')
        snprintf(card, sizeof card, "%s", s->last_card);
    else
        card_number(g, card, sizeof card);
    snprintf(s->last_card, sizeof s->last_card, "%s", card);
    gen_key_u64(g, "", (uint64_t)id);
    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "type", "person");
    gen_json_i64(&j, "id", id);
    gen_json_str(&j, "name", name);
    gen_json_str(&j, "emailAddress", email);
    gen_json_str(&j, "creditCard", card);
    gen_json_str(&j, "city", places[place].city);
    gen_json_str(&j, "state", places[place].state);
    gen_json_ts(&j, "dateTime", g->ts_ms);
    gen_json_end(&j);
}

static void auction(gen_t *g, nexmark_state_t *s)
{
    const gen_mutation_t *m = pick(g, auction_mutations, CORE_ARRAY_LEN(auction_mutations));
    int64_t id = s->next_auction;
    int64_t initial = (int64_t)gen_rng_lognormal(&g->rng, 7.0, 1.0) + 1; /* ~ $11 */
    if (g->cls == GEN_CLASS_ANOMALY)
        initial *= 100;
    int64_t reserve = initial + (int64_t)((double)initial * (0.2 + 2 * gen_rng_uniform(&g->rng)));
    if (g->cls != GEN_CLASS_INVALID) {
        s->next_auction++;
        s->open[s->open_next] = (open_auction_t){id, initial};
        s->open_next = (s->open_next + 1) % OPEN_MAX;
        s->nopen = CORE_MIN(s->nopen + 1, OPEN_MAX);
    }
    const char *adj = adjectives[gen_rng_below(&g->rng, CORE_ARRAY_LEN(adjectives))];
    const char *noun = nouns[gen_rng_below(&g->rng, CORE_ARRAY_LEN(nouns))];
    char item[64], desc[128];
    snprintf(item, sizeof item, "%s %s", adj, noun);
    snprintf(desc, sizeof desc, "%s %s %s in good condition, ships in %d days",
             strchr("aeiou", adj[0]) != NULL ? "An" : "A", adj, noun,
             (int)gen_rng_range(&g->rng, 1, 7));
    gen_key_u64(g, "", (uint64_t)id);
    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "type", "auction");
    gen_json_i64(&j, "id", id);
    gen_json_str(&j, "itemName", item);
    gen_json_str(&j, "description", desc);
    gen_json_i64(&j, "initialBid", initial);
    gen_json_i64(&j, "reserve", reserve);
    gen_json_ts(&j, "dateTime", g->ts_ms);
    gen_json_ts(&j, "expires", g->ts_ms + gen_rng_range(&g->rng, 2 * 60000, 20 * 60000));
    gen_json_i64(&j, "seller", some_person(g, s));
    gen_json_i64(&j, "category", gen_rng_range(&g->rng, 10, 14));
    gen_json_end(&j);
}

static open_auction_t *some_auction(gen_t *g, nexmark_state_t *s)
{
    if (s->nopen == 0)
        return NULL;
    size_t back = gen_rng_chance(&g->rng, 0.5)
                      ? (size_t)gen_rng_below(&g->rng, CORE_MIN(HOT, s->nopen))
                      : (size_t)gen_rng_below(&g->rng, s->nopen);
    return &s->open[(s->open_next + OPEN_MAX - 1 - back) % OPEN_MAX];
}

static void bid(gen_t *g, nexmark_state_t *s)
{
    const gen_mutation_t *m = pick(g, bid_mutations, CORE_ARRAY_LEN(bid_mutations));
    open_auction_t *a = some_auction(g, s);
    open_auction_t none = {FIRST_ID, 1000};
    if (a == NULL)
        a = &none;
    int64_t price =
        a->price + 1 + (int64_t)((double)a->price * (0.01 + 0.09 * gen_rng_uniform(&g->rng)));
    if (g->cls == GEN_CLASS_ANOMALY)
        price = a->price * gen_rng_range(&g->rng, 50, 100);
    else if (g->cls != GEN_CLASS_INVALID)
        a->price = price;
    size_t ch = (size_t)gen_rng_below(&g->rng, CORE_ARRAY_LEN(channels));
    /* Noun before adjective: the order these draws first had, as gcc
     * evaluated them inside one call's arguments (see card_number). */
    const char *noun = nouns[gen_rng_below(&g->rng, CORE_ARRAY_LEN(nouns))];
    const char *adj = adjectives[gen_rng_below(&g->rng, CORE_ARRAY_LEN(adjectives))];
    char url[128];
    snprintf(url, sizeof url, "https://www.nexmark.com/%s/%s/item.htm?query=1&channel_id=%zu", adj,
             noun, ch);
    gen_key_u64(g, "", (uint64_t)a->id);
    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "type", "bid");
    gen_json_i64(&j, "auction", a->id);
    gen_json_i64(&j, "bidder", some_person(g, s));
    gen_json_i64(&j, "price", price);
    gen_json_str(&j, "channel", channels[ch]);
    gen_json_str(&j, "url", url);
    gen_json_ts(&j, "dateTime", g->ts_ms);
    gen_json_end(&j);
}

static void nexmark_emit(gen_t *g, void *state)
{
    nexmark_state_t *s = state;
    uint64_t slot = g->seq % 50;
    if (slot == 0) {
        g->topic_hint = "person";
        person(g, s);
    } else if (slot <= 3) {
        g->topic_hint = "auction";
        auction(g, s);
    } else {
        g->topic_hint = "bid";
        bid(g, s);
    }
}

const gen_kind_t gen_kind_nexmark = {
    .name = "nexmark",
    .late_min_ms = 2 * 60000,
    .late_max_ms = 10 * 60000,
    .burst_share = 0,
    .burst_len = 1,
    .create = nexmark_create,
    .destroy = nexmark_destroy,
    .emit = nexmark_emit,
};

/*
 * Kinds `app`, `web` and `clickstream`: user activity, matching the
 * app_event, web_event and click schemas of examples/events.yaml. Key:
 * user_id, so all of a user's events (and sessions) share a partition.
 *
 * All three run the same engine: a pool of 32 visits in progress. Each
 * record advances one visit, picked at random, by one event; a visit that
 * ends is replaced by a new one for a user drawn uniformly from the
 * population. The population is sized from the rate so that a user's
 * visits are about four hours of event time apart on average: session
 * windows with a 30-minute gap then see separate sessions, as they would
 * from real users.
 *
 *   app          app_open, then screen_view and tap events over a graph of
 *                screens (home, search, product, cart, checkout, ...), a
 *                purchase with a lognormal amount at checkout, app_close.
 *   web          a view of each page, scroll and submit events on it, a
 *                leave at the end; duration_ms is the time since the
 *                visit's previous event (lognormal, median 6 s).
 *   clickstream  one click per record, on the current page, with the
 *                element clicked; the referrer is the visit's entry
 *                referrer (a search engine, social site, newsletter, or
 *                none for direct visits) on the entry page, then the
 *                previous page's URL.
 *
 * Anomalies: app, purchases of 50 to 200 times the usual amount; web,
 * pages left open for 2 to 20 hours; clickstream, bursts of 10 clicks by
 * one user on one element (click floods). Late events are events of a
 * recently active user from an earlier visit (an offline device uploading
 * late), 2 to 6 hours behind.
 *
 * Threading: the generator's thread.
 */
#include "gen/gen_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define POOL         32
#define MEAN_EVENTS  12.0
#define USER_GAP_S   (4.0 * 3600.0) /* mean event time between a user's visits */
#define MIN_USERS    10000
#define HOUR_MS      3600000LL
#define SITE         "https://shop.example.com"
#define SPIKE_FACTOR (50.0 + 150.0 * gen_rng_uniform(&g->rng))

typedef struct {
    uint64_t user;
    uint64_t number;           /* visit number; the session id derives from it */
    int step;                  /* events so far */
    int left;                  /* events still to come; the last one ends the visit */
    int page;                  /* current screen or page */
    int param;                 /* its product, search term or post */
    int prev_page, prev_param; /* clickstream: the page before, or -1 */
    int entry_ref;             /* clickstream: entry referrer, -1 = direct */
    int sub;                   /* web: scroll and submit events left on this page */
} visit_t;

typedef struct {
    visit_t pool[POOL];
    uint64_t users;
    uint64_t next_visit;
    uint64_t salt;
    gen_recent_t recent; /* users */
    int burst_slot;
} visits_t;

static void visit_start(gen_t *g, visits_t *s, visit_t *v, int entry_page);

static int visits_create(gen_t *g, void **state, int (*entry)(gen_t *g))
{
    visits_t *s = core_calloc(CORE_MEM_GEN, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "gen: %s state", g->kind->name);
    double users = g->opt.rate * USER_GAP_S / MEAN_EVENTS;
    s->users = users > MIN_USERS ? (uint64_t)users : MIN_USERS;
    s->salt = gen_mix64(g->opt.seed ^ 0x5e5510d5ULL);
    for (int i = 0; i < POOL; i++)
        visit_start(g, s, &s->pool[i], entry(g));
    *state = s;
    return 0;
}

static void visits_destroy(void *state)
{
    core_free(state);
}

static void visit_start(gen_t *g, visits_t *s, visit_t *v, int entry_page)
{
    memset(v, 0, sizeof *v);
    v->user = 1 + gen_rng_below(&g->rng, s->users);
    v->number = s->next_visit++;
    v->left = 3 + (int)CORE_MIN(gen_rng_exponential(&g->rng, MEAN_EVENTS - 3), 60.0);
    v->page = entry_page;
    v->prev_page = -1;
    v->entry_ref = -1;
}

static void session_id(const visits_t *s, uint64_t number, char *out, size_t n)
{
    snprintf(out, n, "%016llx", (unsigned long long)gen_mix64(number ^ s->salt));
}

static void user_id(uint64_t user, char *out, size_t n)
{
    snprintf(out, n, "u%llu", (unsigned long long)user);
}

/* The visit this record advances (the same one throughout a burst). */
static visit_t *pick_visit(gen_t *g, visits_t *s)
{
    if (g->burst_pos > 0)
        return &s->pool[s->burst_slot];
    int slot = (int)gen_rng_below(&g->rng, POOL);
    if (g->burst_pos == 0)
        s->burst_slot = slot;
    return &s->pool[slot];
}

/* Counts the event; a visit that is over starts again for a new user. */
static void visit_step(gen_t *g, visits_t *s, visit_t *v, int entry_page)
{
    v->step++;
    if (--v->left <= 0)
        visit_start(g, s, v, entry_page);
}

/* For a late record: a recent user and an earlier visit of theirs. */
static bool late_user(gen_t *g, visits_t *s, uint64_t *user, uint64_t *visit)
{
    if (!gen_late_entity(g, &s->recent, user))
        return false;
    *visit = s->next_visit++;
    return true;
}

static const gen_mutation_t *pick_invalid(gen_t *g, const gen_mutation_t *muts, size_t n)
{
    return g->cls == GEN_CLASS_INVALID ? gen_pick_mutation(g, muts, n) : NULL;
}

/* ------------------------------------------------------------------------
 * app
 * ------------------------------------------------------------------------ */
enum {
    S_HOME,
    S_SEARCH,
    S_CATEGORY,
    S_PRODUCT,
    S_CART,
    S_CHECKOUT,
    S_CONFIRMATION,
    S_PROFILE,
    S_SETTINGS,
    S_OFFERS,
    S_NOTIFICATIONS,
    S_COUNT
};

static const char *const screens[S_COUNT] = {
    "home",    "search",   "category", "product",       "cart", "checkout", "order_confirmation",
    "profile", "settings", "offers",   "notifications",
};

/* Where a user goes from each screen (uniformly among these). */
static const int8_t screen_next[S_COUNT][6] = {
    [S_HOME] = {S_SEARCH, S_CATEGORY, S_OFFERS, S_PROFILE, S_NOTIFICATIONS, S_PRODUCT},
    [S_SEARCH] = {S_PRODUCT, S_PRODUCT, S_SEARCH, S_CATEGORY, -1},
    [S_CATEGORY] = {S_PRODUCT, S_PRODUCT, S_CATEGORY, S_SEARCH, -1},
    [S_PRODUCT] = {S_CART, S_PRODUCT, S_CATEGORY, S_SEARCH, S_HOME, -1},
    [S_CART] = {S_CHECKOUT, S_CHECKOUT, S_PRODUCT, S_HOME, -1},
    [S_CHECKOUT] = {S_CART, -1},
    [S_CONFIRMATION] = {S_HOME, S_PRODUCT, -1},
    [S_PROFILE] = {S_SETTINGS, S_HOME, -1},
    [S_SETTINGS] = {S_HOME, S_PROFILE, -1},
    [S_OFFERS] = {S_PRODUCT, S_CATEGORY, S_HOME, -1},
    [S_NOTIFICATIONS] = {S_PRODUCT, S_OFFERS, S_HOME, -1},
};

static int next_of(gen_t *g, const int8_t *succ, size_t max)
{
    size_t n = 0;
    while (n < max && succ[n] >= 0)
        n++;
    return succ[gen_rng_below(&g->rng, n > 0 ? n : 1)];
}

static const gen_mutation_t app_mutations[] = {
    {GEN_MUT_DROP, NULL, "user_id", NULL},
    {GEN_MUT_DROP, NULL, "event_type", NULL},
    {GEN_MUT_DROP, NULL, "ts", NULL},
    {GEN_MUT_RAW, NULL, "event_type", "\"swipe\""},
    {GEN_MUT_RAW, NULL, "user_id", "\"\""},
    {GEN_MUT_RAW, NULL, "user_id", "12345"},
    {GEN_MUT_RAW, NULL, "device", "\"windows\""},
    {GEN_MUT_RAW, NULL, "amount", "-12.5"},
    {GEN_MUT_DROP, NULL, "amount", NULL}, /* purchase_has_amount */
    {GEN_MUT_RAW, NULL, "ts", "\"yesterday\""},
    {GEN_MUT_RAW, NULL, "screen",
     "\"checkout/payment/card/3ds/verification/redirect/bank/otp/confirm/retry/"
     "fallback/legacy/webview/embedded/frame/inner/step-2/details/summary\""},
    {GEN_MUT_DUP, NULL, "event_type", NULL},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

#define APP_AMOUNT_MU    3.4 /* median purchase about 30 */
#define APP_AMOUNT_SIGMA 0.8

static int app_entry(gen_t *g)
{
    (void)g;
    return S_HOME;
}

static int app_create(gen_t *g, void **state)
{
    return visits_create(g, state, app_entry);
}

static const char *device_of(const visits_t *s, uint64_t user)
{
    return gen_mix64(user ^ s->salt) % 100 < 70 ? "android" : "ios";
}

/* The event a visit makes next: its type, and moves between screens. */
static const char *app_event(gen_t *g, visit_t *v, bool *purchase)
{
    *purchase = false;
    if (v->step == 0)
        return "app_open";
    if (v->left == 1)
        return "app_close";
    if (v->page == S_CHECKOUT && gen_rng_chance(&g->rng, 0.6)) {
        *purchase = true;
        return "purchase";
    }
    if (gen_rng_chance(&g->rng, 0.45))
        return "tap";
    v->page = next_of(g, screen_next[v->page], 6);
    return "screen_view";
}

static void app_write(gen_t *g, const gen_mutation_t *m, const visits_t *s, uint64_t user,
                      uint64_t visit, const char *type, int screen, double amount)
{
    char uid[32], sid[32];
    user_id(user, uid, sizeof uid);
    session_id(s, visit, sid, sizeof sid);
    gen_key_str(g, uid);
    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "user_id", uid);
    gen_json_str(&j, "session_id", sid);
    gen_json_str(&j, "event_type", type);
    gen_json_str(&j, "screen", screens[screen]);
    if (amount >= 0)
        gen_json_f64(&j, "amount", amount, 2);
    gen_json_str(&j, "device", device_of(s, user));
    gen_json_ts(&j, "ts", g->ts_ms);
    gen_json_end(&j);
}

static void app_emit(gen_t *g, void *state)
{
    visits_t *s = state;
    const gen_mutation_t *m = pick_invalid(g, app_mutations, CORE_ARRAY_LEN(app_mutations));
    uint64_t user, visit;
    if (late_user(g, s, &user, &visit)) {
        int screen = (int)gen_rng_below(&g->rng, S_COUNT);
        app_write(g, m, s, user, visit, "screen_view", screen, -1);
        return;
    }
    visit_t *v = pick_visit(g, s);
    bool purchase;
    const char *type = app_event(g, v, &purchase);
    int screen = v->page;
    double amount = -1;
    bool needs_amount = m != NULL && m->field != NULL && strcmp(m->field, "amount") == 0;
    if (g->cls == GEN_CLASS_ANOMALY || needs_amount || purchase) {
        type = "purchase";
        screen = S_CHECKOUT;
        amount = gen_rng_lognormal(&g->rng, APP_AMOUNT_MU, APP_AMOUNT_SIGMA);
        if (g->cls == GEN_CLASS_ANOMALY)
            amount = exp(APP_AMOUNT_MU) * SPIKE_FACTOR;
        if (purchase)
            v->page = S_CONFIRMATION;
    }
    gen_note_entity(g, &s->recent, v->user);
    app_write(g, m, s, v->user, v->number, type, screen, amount);
    visit_step(g, s, v, S_HOME);
}

/* ------------------------------------------------------------------------
 * Pages of the web site, shared by web and clickstream.
 * ------------------------------------------------------------------------ */
enum {
    P_HOME,
    P_PRODUCTS,
    P_PRODUCT,
    P_CART,
    P_CHECKOUT,
    P_SEARCH,
    P_BLOG,
    P_POST,
    P_ACCOUNT,
    P_LOGIN,
    P_SIGNUP,
    P_HELP,
    P_COUNT
};

static const int8_t page_next[P_COUNT][6] = {
    [P_HOME] = {P_PRODUCTS, P_SEARCH, P_BLOG, P_PRODUCT, P_LOGIN, P_SIGNUP},
    [P_PRODUCTS] = {P_PRODUCT, P_PRODUCT, P_PRODUCT, P_SEARCH, P_HOME, -1},
    [P_PRODUCT] = {P_CART, P_PRODUCT, P_PRODUCTS, P_SEARCH, P_HOME, -1},
    [P_CART] = {P_CHECKOUT, P_CHECKOUT, P_PRODUCT, P_PRODUCTS, -1},
    [P_CHECKOUT] = {P_ACCOUNT, P_HOME, P_CART, -1},
    [P_SEARCH] = {P_PRODUCT, P_PRODUCT, P_SEARCH, P_PRODUCTS, -1},
    [P_BLOG] = {P_POST, P_POST, P_HOME, -1},
    [P_POST] = {P_POST, P_BLOG, P_PRODUCT, P_SIGNUP, -1},
    [P_ACCOUNT] = {P_HOME, P_PRODUCTS, P_HELP, -1},
    [P_LOGIN] = {P_ACCOUNT, P_HOME, P_SIGNUP, -1},
    [P_SIGNUP] = {P_ACCOUNT, P_HOME, -1},
    [P_HELP] = {P_HOME, P_ACCOUNT, -1},
};

static const char *const search_terms[] = {"running+shoes", "headphones", "phone+case",
                                           "laptop",        "backpack",   "smart+watch",
                                           "coffee",        "yoga+mat"};
static const char *const posts[] = {"spring-sale",  "how-to-choose-headphones",
                                    "new-arrivals", "care-guide",
                                    "gift-ideas",   "behind-the-scenes"};

static int page_param(gen_t *g, int page)
{
    switch (page) {
    case P_PRODUCT:
        return 1 + (int)gen_rng_below(&g->rng, 500);
    case P_SEARCH:
        return (int)gen_rng_below(&g->rng, CORE_ARRAY_LEN(search_terms));
    case P_POST:
        return (int)gen_rng_below(&g->rng, CORE_ARRAY_LEN(posts));
    default:
        return 0;
    }
}

static void page_path(int page, int param, char *out, size_t n)
{
    static const char *const fixed[P_COUNT] = {
        [P_HOME] = "/",       [P_PRODUCTS] = "/products",
        [P_CART] = "/cart",   [P_CHECKOUT] = "/checkout",
        [P_BLOG] = "/blog",   [P_ACCOUNT] = "/account",
        [P_LOGIN] = "/login", [P_SIGNUP] = "/signup",
        [P_HELP] = "/help",
    };
    if (page == P_PRODUCT)
        snprintf(out, n, "/products/%d", param);
    else if (page == P_SEARCH)
        snprintf(out, n, "/search?q=%s", search_terms[param]);
    else if (page == P_POST)
        snprintf(out, n, "/blog/%s", posts[param]);
    else
        snprintf(out, n, "%s", fixed[page]);
}

static void move_to_next_page(gen_t *g, visit_t *v)
{
    v->prev_page = v->page;
    v->prev_param = v->param;
    v->page = next_of(g, page_next[v->page], 6);
    v->param = page_param(g, v->page);
}

static int web_entry(gen_t *g)
{
    static const double w[] = {0.4, 0.25, 0.2, 0.15};
    static const int entries[] = {P_HOME, P_PRODUCT, P_POST, P_SEARCH};
    return entries[gen_rng_weighted(&g->rng, w, 4)];
}

/* ------------------------------------------------------------------------
 * web
 * ------------------------------------------------------------------------ */
static const gen_mutation_t web_mutations[] = {
    {GEN_MUT_RAW, NULL, "page", "\"products/42\""},
    {GEN_MUT_RAW, NULL, "page", "\"/search results\""},
    {GEN_MUT_RAW, NULL, "action", "\"click\""},
    {GEN_MUT_RAW, NULL, "duration_ms", "-1"},
    {GEN_MUT_RAW, NULL, "duration_ms", "90000000"},
    {GEN_MUT_RAW, NULL, "duration_ms", "\"12s\""},
    {GEN_MUT_DROP, NULL, "session_id", NULL},
    {GEN_MUT_DROP, NULL, "user_id", NULL},
    {GEN_MUT_DROP, NULL, "page", NULL},
    {GEN_MUT_DROP, NULL, "ts", NULL},
    {GEN_MUT_DUP, NULL, "page", NULL},
    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

static bool is_form(int page)
{
    return page == P_SEARCH || page == P_LOGIN || page == P_SIGNUP || page == P_CHECKOUT;
}

static int web_create(gen_t *g, void **state)
{
    int rc = visits_create(g, state, web_entry);
    if (rc == 0) {
        visits_t *s = *state;
        for (int i = 0; i < POOL; i++)
            s->pool[i].param = page_param(g, s->pool[i].page);
    }
    return rc;
}

/* The visit's next action, moving it between pages. */
static const char *web_action(gen_t *g, visit_t *v)
{
    if (v->step == 0) {
        v->sub = (int)gen_rng_below(&g->rng, 3);
        return "view";
    }
    if (v->left == 1)
        return "leave";
    if (v->sub > 0) {
        v->sub--;
        return v->sub == 0 && is_form(v->page) && gen_rng_chance(&g->rng, 0.6) ? "submit"
                                                                               : "scroll";
    }
    move_to_next_page(g, v);
    v->sub = (int)gen_rng_below(&g->rng, 3);
    return "view";
}

static void web_write(gen_t *g, const gen_mutation_t *m, const visits_t *s, uint64_t user,
                      uint64_t visit, int page, int param, const char *action, int64_t duration)
{
    char uid[32], sid[32], path[96];
    user_id(user, uid, sizeof uid);
    session_id(s, visit, sid, sizeof sid);
    page_path(page, param, path, sizeof path);
    gen_key_str(g, uid);
    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "user_id", uid);
    gen_json_str(&j, "session_id", sid);
    gen_json_str(&j, "page", path);
    gen_json_str(&j, "action", action);
    gen_json_i64(&j, "duration_ms", duration);
    gen_json_ts(&j, "ts", g->ts_ms);
    gen_json_end(&j);
}

static int64_t web_duration(gen_t *g)
{
    double d = gen_rng_lognormal(&g->rng, log(6000.0), 1.0);
    return (int64_t)CORE_MIN(d, (double)HOUR_MS);
}

static void web_emit(gen_t *g, void *state)
{
    visits_t *s = state;
    const gen_mutation_t *m = pick_invalid(g, web_mutations, CORE_ARRAY_LEN(web_mutations));
    uint64_t user, visit;
    if (late_user(g, s, &user, &visit)) {
        int page = web_entry(g);
        /* One draw per statement, in the order gcc evaluated them when they
         * were arguments of one call (the order is the compiler's: clang's
         * differs), so that the bytes stay those gcc gave. */
        int64_t duration = web_duration(g);
        int param = page_param(g, page);
        web_write(g, m, s, user, visit, page, param, "view", duration);
        return;
    }
    visit_t *v = pick_visit(g, s);
    bool first = v->step == 0;
    const char *action = web_action(g, v);
    int64_t duration = first ? 0 : web_duration(g);
    if (g->cls == GEN_CLASS_ANOMALY)
        duration = gen_rng_range(&g->rng, 2 * HOUR_MS, 20 * HOUR_MS);
    gen_note_entity(g, &s->recent, v->user);
    web_write(g, m, s, v->user, v->number, v->page, v->param, action, duration);
    visit_step(g, s, v, web_entry(g));
    if (v->step == 0)
        v->param = page_param(g, v->page);
}

/* ------------------------------------------------------------------------
 * clickstream
 * ------------------------------------------------------------------------ */
static const char *const referrers[] = {
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://www.facebook.com/",
    "https://t.co/",
    "https://news.ycombinator.com/",
    "https://www.instagram.com/",
    "https://mail.example.com/newsletter",
};
static const double referrer_w[] = {0.45, 0.08, 0.15, 0.08, 0.04, 0.1, 0.1};

/* What a click on a page that leads to `page` hits. */
static const char *const elements[P_COUNT] = {
    [P_HOME] = "a#logo",
    [P_PRODUCTS] = "a.nav-products",
    [P_PRODUCT] = "a.product-card",
    [P_CART] = "button#add-to-cart",
    [P_CHECKOUT] = "button#checkout",
    [P_SEARCH] = "input#search",
    [P_BLOG] = "a.nav-blog",
    [P_POST] = "a.post-link",
    [P_ACCOUNT] = "a#account",
    [P_LOGIN] = "a#login",
    [P_SIGNUP] = "button#signup",
    [P_HELP] = "a.footer-help",
};

static const gen_mutation_t click_mutations[] = {
    {GEN_MUT_DROP, NULL, "user_id", NULL},   {GEN_MUT_DROP, NULL, "page", NULL},
    {GEN_MUT_DROP, NULL, "ts", NULL},        {GEN_MUT_RAW, NULL, "page", "\"home\""},
    {GEN_MUT_RAW, NULL, "page", "\"/a b\""}, {GEN_MUT_RAW, NULL, "user_id", "42"},
    {GEN_MUT_RAW, NULL, "element", "true"},  {GEN_MUT_RAW, NULL, "ts", "\"yesterday\""},
    {GEN_MUT_DUP, NULL, "user_id", NULL},    {GEN_MUT_TRUNCATE, NULL, NULL, NULL},
};

static int click_referrer(gen_t *g)
{
    if (gen_rng_chance(&g->rng, 0.3))
        return -1; /* direct */
    return (int)gen_rng_weighted(&g->rng, referrer_w, CORE_ARRAY_LEN(referrer_w));
}

static int click_create(gen_t *g, void **state)
{
    int rc = visits_create(g, state, web_entry);
    if (rc == 0) {
        visits_t *s = *state;
        for (int i = 0; i < POOL; i++) {
            s->pool[i].param = page_param(g, s->pool[i].page);
            s->pool[i].entry_ref = click_referrer(g);
        }
    }
    return rc;
}

static void click_write(gen_t *g, const gen_mutation_t *m, uint64_t user, const char *page,
                        const char *referrer, const char *element)
{
    char uid[32];
    user_id(user, uid, sizeof uid);
    gen_key_str(g, uid);
    gen_json_t j;
    gen_json_begin(g, &j, m);
    gen_json_str(&j, "user_id", uid);
    gen_json_str(&j, "page", page);
    if (referrer != NULL)
        gen_json_str(&j, "referrer", referrer);
    gen_json_str(&j, "element", element);
    gen_json_ts(&j, "ts", g->ts_ms);
    gen_json_end(&j);
}

static void click_emit(gen_t *g, void *state)
{
    visits_t *s = state;
    const gen_mutation_t *m = pick_invalid(g, click_mutations, CORE_ARRAY_LEN(click_mutations));
    char path[96], ref[160];
    uint64_t user, visit;
    if (late_user(g, s, &user, &visit)) {
        int page = web_entry(g), r = click_referrer(g);
        page_path(page, page_param(g, page), path, sizeof path);
        int to = next_of(g, page_next[page], 6);
        click_write(g, m, user, path, r >= 0 ? referrers[r] : NULL, elements[to]);
        return;
    }
    visit_t *v = pick_visit(g, s);
    page_path(v->page, v->param, path, sizeof path);
    const char *referrer = v->entry_ref >= 0 ? referrers[v->entry_ref] : NULL;
    if (v->prev_page >= 0) {
        char prev[96];
        page_path(v->prev_page, v->prev_param, prev, sizeof prev);
        snprintf(ref, sizeof ref, "%s%s", SITE, prev);
        referrer = ref;
    }
    gen_note_entity(g, &s->recent, v->user);
    if (g->burst_pos >= 0) { /* a click flood: same page, same element */
        click_write(g, m, v->user, path, referrer, "div.promo-banner");
        return;
    }
    move_to_next_page(g, v);
    click_write(g, m, v->user, path, referrer, elements[v->page]);
    visit_step(g, s, v, web_entry(g));
    if (v->step == 0) {
        v->param = page_param(g, v->page);
        v->entry_ref = click_referrer(g);
    }
}

/* Late by 2 to 6 hours: beyond the one-hour windows of app_hourly,
 * web_pages_hourly and clicks_by_referrer, and the 30-minute sessions. */
const gen_kind_t gen_kind_app = {
    .name = "app",
    .late_min_ms = 2 * HOUR_MS,
    .late_max_ms = 6 * HOUR_MS,
    .burst_share = 0,
    .burst_len = 1,
    .create = app_create,
    .destroy = visits_destroy,
    .emit = app_emit,
};

const gen_kind_t gen_kind_web = {
    .name = "web",
    .late_min_ms = 2 * HOUR_MS,
    .late_max_ms = 6 * HOUR_MS,
    .burst_share = 0,
    .burst_len = 1,
    .create = web_create,
    .destroy = visits_destroy,
    .emit = web_emit,
};

const gen_kind_t gen_kind_clickstream = {
    .name = "clickstream",
    .late_min_ms = 2 * HOUR_MS,
    .late_max_ms = 6 * HOUR_MS,
    .burst_share = 1.0,
    .burst_len = 10,
    .create = click_create,
    .destroy = visits_destroy,
    .emit = click_emit,
};

/*
 * The generator object: the registry of kinds, option checks, the class
 * draw of each record (normal, invalid, late, anomalous) and the event
 * clock. The kinds (transactions.c, stocks.c, ...) write the records.
 *
 * Class draw. Each record is independently invalid, late or anomalous with
 * the requested probabilities, except that an anomaly may be a burst: a
 * run of burst_len anomalous records of one key. A burst takes the draws
 * of the records it covers, which would make anomalies more frequent and
 * the other classes rarer than asked. So the per-draw probabilities are
 * adjusted: with q the share of anomalies that start a burst and L its
 * length, a draw is anomalous with a = p_a / (1 + q (L - 1) (1 - p_a)) and
 * each other class with p_x (1 + a q (L - 1)). Over many records (renewal
 * argument: a draw covers 1 + a q (L - 1) records on average) every share
 * then comes out as requested.
 *
 * Late records reuse an entity of a recent on-time record (see
 * gen_recent_t). Before the first on-time record there is none, so a late
 * draw then is postponed: the record is normal, and the next normal draw
 * after an on-time record becomes late instead.
 *
 * Event time starts at start_ms and moves on by exponential gaps with mean
 * 1000 / rate ms (a Poisson stream), unless the kind keeps its own clock.
 *
 * Threading: a gen_t belongs to one thread.
 */
#include "gen/gen_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const gen_kind_t *const kinds[] = {
    &gen_kind_transactions, &gen_kind_stocks, &gen_kind_app,      &gen_kind_web,
    &gen_kind_clickstream,  &gen_kind_cdc,    &gen_kind_external, &gen_kind_nexmark,
};

const char *const *gen_kinds(void)
{
    static const char *const names[] = {
        "transactions", "stocks", "app", "web", "clickstream", "cdc", "external", "nexmark", NULL,
    };
    return names;
}

static const gen_kind_t *find_kind(const char *name)
{
    for (size_t i = 0; i < CORE_ARRAY_LEN(kinds); i++)
        if (name != NULL && strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

static int check_ratio(const char *what, double v)
{
    if (!(v >= 0.0 && v <= 1.0)) /* also rejects NaN */
        return core_error(CORE_EINVAL, "gen: %s %g is outside [0, 1]", what, v);
    return 0;
}

static int check_options(const gen_options_t *o)
{
    if (find_kind(o->kind) == NULL) {
        char list[256] = "";
        size_t n = 0;
        for (const char *const *k = gen_kinds(); *k != NULL; k++)
            n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n > 0 ? ", " : "", *k);
        return core_error(CORE_EINVAL, "gen: unknown kind '%s' (kinds: %s)",
                          o->kind != NULL ? o->kind : "(null)", list);
    }
    int rc = check_ratio("invalid ratio", o->invalid_ratio);
    if (rc == 0)
        rc = check_ratio("late ratio", o->late_ratio);
    if (rc == 0)
        rc = check_ratio("anomaly ratio", o->anomaly_ratio);
    if (rc != 0)
        return rc;
    double sum = o->invalid_ratio + o->late_ratio + o->anomaly_ratio;
    if (sum > 1.0 + 1e-9)
        return core_error(CORE_EINVAL, "gen: invalid, late and anomaly ratios sum to %g (> 1)",
                          sum);
    if (!(o->rate >= 0.0) || isinf(o->rate))
        return core_error(CORE_EINVAL, "gen: rate %g is not a finite number >= 0", o->rate);
    return 0;
}

/* The per-draw probabilities of the header comment. */
static void set_probabilities(gen_t *g)
{
    const gen_options_t *o = &g->opt;
    double q = o->anomaly_ratio > 0 ? g->kind->burst_share : 0.0;
    double extra = q * (double)(g->kind->burst_len - 1);
    double a = o->anomaly_ratio / (1.0 + extra * (1.0 - o->anomaly_ratio));
    double d = 1.0 + a * extra;
    g->p_anomaly = a;
    g->p_invalid = o->invalid_ratio * d;
    g->p_late = o->late_ratio * d;
    g->p_burst = q;
}

int gen_create(const gen_options_t *o, gen_t **out)
{
    *out = NULL;
    int rc = check_options(o);
    if (rc != 0)
        return rc;
    gen_t *g = core_calloc(CORE_MEM_GEN, 1, sizeof *g);
    if (g == NULL)
        return core_error(CORE_ENOMEM, "gen: generator");
    g->kind = find_kind(o->kind);
    g->opt = *o;
    g->opt.kind = g->kind->name; /* the caller's string is only borrowed */
    if (g->opt.rate == 0)
        g->opt.rate = 1000.0;
    gen_rng_seed(&g->rng, o->seed);
    set_probabilities(g);
    g->burst_pos = -1;
    g->interval_us = 1e6 / g->opt.rate;
    g->late_extra_ms = (int64_t)ceil(16.0 * g->interval_us / 1000.0);
    g->now_ms = o->start_ms;
    g->run_tag =
        (uint32_t)(100000 + gen_mix64(o->seed ^ gen_mix64((uint64_t)o->start_ms)) % 900000);
    core_buf_init(&g->key, CORE_MEM_GEN, GEN_KEY_MAX);
    core_buf_init(&g->value, CORE_MEM_GEN, GEN_VALUE_MAX);
    core_buf_init(&g->num, CORE_MEM_GEN, GEN_NUM_MAX);
    g->ts_day = -1;
    rc = core_buf_reserve(&g->key, GEN_KEY_MAX);
    if (rc == 0)
        rc = core_buf_reserve(&g->value, GEN_VALUE_MAX);
    if (rc == 0)
        rc = core_buf_reserve(&g->num, GEN_NUM_MAX);
    if (rc == 0)
        rc = g->kind->create(g, &g->state);
    if (rc != 0) {
        gen_destroy(g);
        return rc;
    }
    *out = g;
    return 0;
}

void gen_destroy(gen_t *g)
{
    if (g == NULL)
        return;
    if (g->state != NULL)
        g->kind->destroy(g->state);
    core_buf_fini(&g->key);
    core_buf_fini(&g->value);
    core_buf_fini(&g->num);
    core_free(g);
}

static gen_class_t draw_class(gen_t *g)
{
    if (g->burst_left > 0) {
        g->burst_left--;
        g->burst_pos++;
        return GEN_CLASS_ANOMALY;
    }
    g->burst_pos = -1;
    double u = gen_rng_uniform(&g->rng);
    gen_class_t cls = GEN_CLASS_NORMAL;
    if (u < g->p_invalid) {
        cls = GEN_CLASS_INVALID;
    } else if (u < g->p_invalid + g->p_late) {
        cls = GEN_CLASS_LATE;
    } else if (u < g->p_invalid + g->p_late + g->p_anomaly) {
        cls = GEN_CLASS_ANOMALY;
        if (g->p_burst > 0 && gen_rng_chance(&g->rng, g->p_burst)) {
            g->burst_left = g->kind->burst_len - 1;
            g->burst_pos = 0;
        }
    }
    if (cls == GEN_CLASS_LATE && g->ontime_valid == 0) {
        g->late_debt++;
        cls = GEN_CLASS_NORMAL;
    } else if (cls == GEN_CLASS_NORMAL && g->late_debt > 0 && g->ontime_valid > 0) {
        g->late_debt--;
        cls = GEN_CLASS_LATE;
    }
    return cls;
}

void gen_clock_sync(gen_t *g)
{
    g->now_ms = g->opt.start_ms + (int64_t)floor(g->clock_us / 1000.0);
}

void gen_advance_default(gen_t *g)
{
    g->clock_us += gen_rng_exponential(&g->rng, g->interval_us);
    gen_clock_sync(g);
}

void gen_next(gen_t *g, gen_record_t *out)
{
    g->cls = draw_class(g);
    g->ts_ms = g->now_ms;
    if (g->cls == GEN_CLASS_LATE) {
        int64_t lag = gen_rng_range(&g->rng, g->kind->late_min_ms, g->kind->late_max_ms);
        g->ts_ms = g->now_ms - lag - g->late_extra_ms;
    }
    g->topic_hint = g->kind->name;
    core_buf_reset(&g->key);
    core_buf_reset(&g->value);
    g->kind->emit(g, g->state);
    if (g->cls == GEN_CLASS_NORMAL || g->cls == GEN_CLASS_ANOMALY)
        g->ontime_valid++;
    out->topic_hint = g->topic_hint;
    out->key = (const char *)g->key.data;
    out->key_len = g->key.len;
    out->value = (const char *)g->value.data;
    out->value_len = g->value.len;
    out->timestamp_ms = g->ts_ms;
    out->cls = g->cls;
    if (g->kind->advance != NULL)
        g->kind->advance(g, g->state);
    else
        gen_advance_default(g);
    g->seq++;
}

/*
 * metrics_sampler.c - a thread of the API that, every API_SAMPLE_MS:
 *   - sums each topic's partition end offsets and each pipeline's records
 *     into rings of a minute, for the rates of /api/topics and
 *     /api/pipelines;
 *   - reads what the broker appended to __consumer_offsets since its last
 *     look, and keeps each Kafka consumer group's committed offset per
 *     (group, topic, partition), for the lag that /metrics reports.
 *
 * The committed offsets are replayed from the topic's start when the
 * sampler starts (the topic is small: one record per commit, cleaned up by
 * retention), then followed. A record that does not decode is skipped and
 * counted in the log; a reader error starts the replay over.
 *
 * Threading: the sampler thread writes the figures under sample_mu;
 * handlers read them under the same lock. The reader belongs to the
 * sampler thread. stop is an atomic flag; the thread naps in 100 ms steps
 * so that a stop is seen quickly.
 */
#include "app/api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define OFFSETS_TOPIC "__consumer_offsets"
#define POLL_MAX      256
#define READ_MAX      20000 /* records per look; the rest waits for the next */
#define KEY_MAX       (2 * 256 + 8)

static bool stopping(app_api_t *a)
{
    return __atomic_load_n(&a->stop, __ATOMIC_RELAXED) != 0;
}

/* ---- Rates. */

static api_topic_rate_t *topic_slot(app_api_t *a, const char *name)
{
    for (size_t i = 0; i < a->ntopics; i++)
        if (strcmp(a->topics[i].name, name) == 0)
            return &a->topics[i];
    if (a->ntopics == API_TOPICS_MAX || strlen(name) >= sizeof a->topics[0].name)
        return NULL;
    api_topic_rate_t *t = &a->topics[a->ntopics++];
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

static void sample_topic(app_api_t *a, const char *name, int64_t now)
{
    int32_t n = 0;
    int64_t sum = 0;
    if (strncmp(name, "__", 2) == 0 || bus_partitions(a->env.bus, name, &n) != 0)
        return;
    for (int32_t p = 0; p < n; p++) {
        int64_t start, end;
        if (bus_offsets(a->env.bus, name, p, &start, &end) == 0)
            sum += end;
    }
    pthread_mutex_lock(&a->sample_mu);
    api_topic_rate_t *t = topic_slot(a, name);
    if (t != NULL)
        api_ring_add(&t->ring, now, sum);
    pthread_mutex_unlock(&a->sample_mu);
}

static void sample_rates(app_api_t *a)
{
    int64_t now = core_mono_ms();
    const app_config_t *cfg = a->env.cfg;
    char **names = NULL;
    size_t n = 0;
    if (a->env.log != NULL && seglog_topic_names(a->env.log, &names, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            sample_topic(a, names[i], now);
        seglog_names_free(names, n);
    } else {
        for (size_t i = 0; i < cfg->n_topics; i++)
            if (cfg->topics[i].name != NULL)
                sample_topic(a, cfg->topics[i].name, now);
    }
    for (size_t i = 0; i < a->npipes; i++) {
        stream_stats_t st;
        stream_runtime_stats(a->env.rt, i, &st);
        pthread_mutex_lock(&a->sample_mu);
        api_ring_add(&a->pipes[i], now, st.records);
        pthread_mutex_unlock(&a->sample_mu);
    }
    core_error_clear();
}

/* ---- Committed offsets (under sample_mu). */

static size_t group_key(const api_group_commit_t *c, char *key)
{
    memcpy(key, c->group, c->group_len);
    key[c->group_len] = '\0';
    memcpy(key + c->group_len + 1, c->topic, c->topic_len);
    key[c->group_len + 1 + c->topic_len] = '\0';
    memcpy(key + c->group_len + c->topic_len + 2, &c->partition, 4);
    return c->group_len + c->topic_len + 6;
}

static void group_remove(app_api_t *a, const char *key, size_t klen)
{
    void *v;
    if (!core_map_del(a->group_index, key, klen, &v))
        return;
    size_t i = (size_t)(uintptr_t)v - 1, last = a->ngroups - 1;
    core_free(a->groups[i].group);
    core_free(a->groups[i].topic);
    if (i != last) {
        a->groups[i] = a->groups[last];
        api_group_commit_t c = {.group = a->groups[i].group,
                                .group_len = strlen(a->groups[i].group),
                                .topic = a->groups[i].topic,
                                .topic_len = strlen(a->groups[i].topic),
                                .partition = a->groups[i].partition};
        char moved[KEY_MAX];
        size_t mlen = group_key(&c, moved);
        core_map_put(a->group_index, moved, mlen, (void *)(uintptr_t)(i + 1), NULL);
    }
    a->ngroups--;
}

static int group_add(app_api_t *a, const api_group_commit_t *c, const char *key, size_t klen)
{
    if (a->ngroups == API_GROUPS_MAX)
        return CORE_ETOOBIG;
    if (a->ngroups == a->cap_groups) {
        size_t cap = a->cap_groups == 0 ? 64 : a->cap_groups * 2;
        api_group_offset_t *g = core_realloc(CORE_MEM_APP, a->groups, cap * sizeof *g);
        if (g == NULL)
            return CORE_ENOMEM;
        a->groups = g;
        a->cap_groups = cap;
    }
    api_group_offset_t *g = &a->groups[a->ngroups];
    g->group = core_strndup(CORE_MEM_APP, c->group, c->group_len);
    g->topic = core_strndup(CORE_MEM_APP, c->topic, c->topic_len);
    g->partition = c->partition;
    g->offset = c->offset;
    int rc = g->group == NULL || g->topic == NULL ? CORE_ENOMEM : 0;
    if (rc == 0)
        rc = core_map_put(a->group_index, key, klen, (void *)(uintptr_t)(a->ngroups + 1), NULL);
    if (rc != 0) {
        core_free(g->group);
        core_free(g->topic);
        return rc;
    }
    a->ngroups++;
    return 0;
}

static void group_apply(app_api_t *a, const api_group_commit_t *c)
{
    if (c->group_len > 255 || c->topic_len > 255 || memchr(c->group, 0, c->group_len) != NULL ||
        memchr(c->topic, 0, c->topic_len) != NULL)
        return; /* not a name Kafka clients use; not reported */
    char key[KEY_MAX];
    size_t klen = group_key(c, key);
    void *v;
    pthread_mutex_lock(&a->sample_mu);
    bool ready = a->group_index != NULL; /* else out of memory at the last start over */
    if (ready && c->tombstone)
        group_remove(a, key, klen);
    else if (ready && core_map_get(a->group_index, key, klen, &v))
        a->groups[(size_t)(uintptr_t)v - 1].offset = c->offset;
    else if (ready)
        group_add(a, c, key, klen);
    pthread_mutex_unlock(&a->sample_mu);
}

static void groups_clear(app_api_t *a)
{
    pthread_mutex_lock(&a->sample_mu);
    api_groups_free(a->groups, a->ngroups);
    a->groups = NULL;
    a->ngroups = a->cap_groups = 0;
    core_map_destroy(a->group_index);
    a->group_index = core_map_create(CORE_MEM_APP, 64);
    pthread_mutex_unlock(&a->sample_mu);
}

/* Reads what was appended to __consumer_offsets since the last look. */
static void read_groups(app_api_t *a)
{
    if (a->offsets_reader == NULL) {
        if (a->env.log == NULL || seglog_topic_get(a->env.log, OFFSETS_TOPIC) == NULL ||
            bus_reader_open(a->env.bus, OFFSETS_TOPIC, 0, 0, &a->offsets_reader) != 0)
            return;
        groups_clear(a);
    }
    bus_record_t recs[POLL_MAX];
    size_t n = 0, total = 0;
    int rc = 0;
    do {
        rc = bus_reader_poll(a->offsets_reader, recs, POLL_MAX, &n, 0);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            api_group_commit_t c;
            if (api_group_record_decode(recs[i].key, recs[i].key_len, recs[i].value,
                                        recs[i].value_len, &c) == 1)
                group_apply(a, &c);
        }
        total += n;
    } while (rc == 0 && n > 0 && total < READ_MAX && !stopping(a));
    if (rc != 0) {
        core_log(CORE_LOG_WARN, "api", "reading %s for consumer-group lag: %s; starting over",
                 OFFSETS_TOPIC, core_error_detail());
        bus_reader_close(a->offsets_reader);
        a->offsets_reader = NULL;
    }
    core_error_clear();
}

/* ---- The thread. */

static void *sampler_main(void *arg)
{
    app_api_t *a = arg;
    while (!stopping(a)) {
        sample_rates(a);
        read_groups(a);
        for (int waited = 0; waited < API_SAMPLE_MS && !stopping(a); waited += 100) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

int api_sampler_start(app_api_t *a)
{
    a->group_index = core_map_create(CORE_MEM_APP, 64);
    if (a->group_index == NULL)
        return core_error(CORE_ENOMEM, "api: out of memory");
    if (pthread_create(&a->sampler, NULL, sampler_main, a) != 0)
        return core_error(CORE_EIO, "api: cannot start the sampler thread");
    a->sampler_started = true;
    return 0;
}

void api_sampler_stop(app_api_t *a)
{
    if (a->sampler_started) {
        __atomic_store_n(&a->stop, 1, __ATOMIC_RELAXED);
        pthread_join(a->sampler, NULL);
        a->sampler_started = false;
    }
    bus_reader_close(a->offsets_reader);
    a->offsets_reader = NULL;
    core_map_destroy(a->group_index);
    a->group_index = NULL;
}

int api_groups_copy(app_api_t *a, api_group_offset_t **out, size_t *n)
{
    pthread_mutex_lock(&a->sample_mu);
    *n = 0;
    *out = core_calloc(CORE_MEM_APP, a->ngroups + 1, sizeof **out);
    int rc = *out == NULL ? CORE_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < a->ngroups; i++) {
        api_group_offset_t *g = &(*out)[i];
        *g = a->groups[i];
        g->group = core_strdup(CORE_MEM_APP, a->groups[i].group);
        g->topic = core_strdup(CORE_MEM_APP, a->groups[i].topic);
        (*n)++;
        if (g->group == NULL || g->topic == NULL)
            rc = CORE_ENOMEM;
    }
    pthread_mutex_unlock(&a->sample_mu);
    if (rc != 0) {
        api_groups_free(*out, *n);
        *out = NULL;
        *n = 0;
        return core_error(rc, "api: out of memory");
    }
    return 0;
}

void api_groups_free(api_group_offset_t *g, size_t n)
{
    for (size_t i = 0; g != NULL && i < n; i++) {
        core_free(g[i].group);
        core_free(g[i].topic);
    }
    core_free(g);
}

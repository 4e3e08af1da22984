/*
 * Generated stock ticks for the benchmarks (see ticks.h). Single-threaded.
 */
#include "ticks.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define BATCH          1000
#define MAX_PARTITIONS 16

static uint64_t next_rand(bench_ticks_t *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

void bench_ticks_init(bench_ticks_t *g, uint64_t seed)
{
    *g = (bench_ticks_t){.rng = seed};
    for (int s = 0; s < TICKS_SYMBOLS; s++)
        g->price[s] = 50.0 + s;
}

int bench_ticks_json(bench_ticks_t *g, char *buf, size_t n, bench_tick_t *t)
{
    int s = (int)(next_rand(g) % TICKS_SYMBOLS);
    double u = (double)(next_rand(g) % 2001) / 1000.0 - 1.0;
    g->price[s] *= 1.0 + u * 0.001;
    int64_t ms = TICKS_BASE_MS + g->i++ - (int64_t)(next_rand(g) % 500);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    double p = g->price[s];
    int vol = 1 + (int)(next_rand(g) % 1000);
    if (t != NULL)
        *t = (bench_tick_t){s, p, vol, ms};
    return snprintf(buf, n,
                    "{\"symbol\":\"SYM%03d\",\"price\":%.2f,\"bid\":%.2f,\"ask\":%.2f,"
                    "\"volume\":%d,\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"}",
                    s, p, p - 0.01, p + 0.01, vol, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

typedef struct {
    bus_message_t msgs[BATCH];
    char text[BATCH][160];
    size_t n;
} pending_t;

static int flush_part(bus_t *bus, const char *topic, int32_t p, pending_t *q)
{
    int rc = q->n > 0 ? bus_produce(bus, topic, p, q->msgs, q->n, false, NULL) : 0;
    q->n = 0;
    return rc;
}

int bench_ticks_produce(bus_t *bus, const char *topic, int32_t partitions, int64_t events,
                        const char *ndjson, int64_t *volume)
{
    static pending_t q[MAX_PARTITIONS];
    if (partitions < 1 || partitions > MAX_PARTITIONS)
        return CORE_EINVAL;
    bench_ticks_t g;
    bench_ticks_init(&g, BENCH_TICKS_SEED);
    FILE *f = ndjson != NULL ? fopen(ndjson, "w") : NULL;
    if (ndjson != NULL && f == NULL)
        return CORE_EIO;
    int rc = 0;
    for (int64_t i = 0; i < events && rc == 0; i++) {
        bench_tick_t t;
        char buf[160];
        int len = bench_ticks_json(&g, buf, sizeof buf, &t);
        int32_t p = t.sym % partitions;
        pending_t *pq = &q[p];
        memcpy(pq->text[pq->n], buf, (size_t)len);
        pq->msgs[pq->n] = (bus_message_t){
            .value = pq->text[pq->n], .value_len = (size_t)len, .timestamp_ms = TICKS_BASE_MS + i};
        if (++pq->n == BATCH)
            rc = flush_part(bus, topic, p, pq);
        if (volume != NULL)
            *volume += t.volume;
        if (f != NULL)
            fprintf(f, "%.*s\n", len, buf);
    }
    for (int32_t p = 0; p < partitions && rc == 0; p++)
        rc = flush_part(bus, topic, p, &q[p]);
    if (f != NULL && fclose(f) != 0)
        rc = CORE_EIO;
    return rc;
}

int bench_ticks_log(const char *root, const char *topic, int32_t partitions, seglog_t **log,
                    bus_t **bus)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/log", root);
    seglog_topic_config_t tc;
    seglog_topic_config_default(&tc);
    tc.partitions = partitions;
    tc.flush = SEGLOG_FLUSH_NEVER;
    int rc = seglog_open(dir, log);
    if (rc == 0)
        rc = seglog_topic_create(*log, topic, &tc);
    if (rc == 0)
        rc = bus_open_seglog(*log, bus);
    return rc;
}

schema_t *bench_ticks_schema(void)
{
    schema_t *s = NULL;
    const struct {
        const char *name;
        schema_type_t type;
        bool required;
    } fields[] = {
        {"symbol", SCHEMA_STRING, true}, {"price", SCHEMA_FLOAT, true},
        {"bid", SCHEMA_FLOAT, false},    {"ask", SCHEMA_FLOAT, false},
        {"volume", SCHEMA_INT, true},    {"ts", SCHEMA_TIMESTAMP, true},
    };
    if (schema_create("tick", &s) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        schema_field_def_t d = {.name = fields[i].name,
                                .type = fields[i].type,
                                .required = fields[i].required,
                                .min_length = -1,
                                .max_length = -1,
                                .format = fields[i].type == SCHEMA_TIMESTAMP ? "iso8601" : NULL};
        if (schema_add_field(s, &d) != 0) {
            schema_destroy(s);
            return NULL;
        }
    }
    if (schema_seal(s) != 0) {
        schema_destroy(s);
        return NULL;
    }
    return s;
}

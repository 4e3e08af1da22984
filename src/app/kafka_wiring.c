/*
 * The bus of `strata up`: the embedded seglog, or an external Kafka
 * cluster (kafka_wiring.h). --broker beats kafka.bootstrap; either may be
 * written with or without the kafka:// prefix in the config, but --broker
 * must carry it, so a mistyped store or HTTP URL is not taken for a
 * cluster.
 *
 * Threading: main thread, at start.
 */
#include "app/kafka_wiring.h"

#include <stdio.h>
#include <string.h>

#include "app/app.h"

#define KAFKA_SCHEME "kafka://"

static const char *bootstrap_of(const app_config_t *cfg, const char *broker_url)
{
    const char *s = broker_url != NULL ? broker_url : cfg->kafka_bootstrap;
    if (s != NULL && strncmp(s, KAFKA_SCHEME, strlen(KAFKA_SCHEME)) == 0)
        s += strlen(KAFKA_SCHEME);
    return s;
}

bool app_kafka_external(const app_config_t *cfg, const char *broker_url)
{
    const char *s = bootstrap_of(cfg, broker_url);
    return s != NULL && s[0] != '\0';
}

int app_kafka_open_bus(const app_config_t *cfg, const char *broker_url, seglog_t *log, bus_t **out)
{
    if (broker_url != NULL && strncmp(broker_url, KAFKA_SCHEME, strlen(KAFKA_SCHEME)) != 0)
        return app_usage_error("up", "--broker wants kafka://HOST:PORT[,HOST:PORT], not '%s'",
                               broker_url);
    if (!app_kafka_external(cfg, broker_url)) {
        int rc = bus_open_seglog(log, out);
        return rc != 0 ? app_fail(rc, "open the bus") : 0;
    }
    const char *bootstrap = bootstrap_of(cfg, broker_url);
    int rc = bus_open_kafka(bootstrap, (const char *const *)cfg->kafka_properties,
                            cfg->n_kafka_properties, out);
    if (rc != 0)
        return app_fail(rc, "connect to kafka://%s", bootstrap);
    printf("strata up: topics on kafka://%s (%zu propert%s)\n", bootstrap, cfg->n_kafka_properties,
           cfg->n_kafka_properties == 1 ? "y" : "ies");
    return 0;
}

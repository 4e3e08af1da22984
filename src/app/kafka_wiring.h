/*
 * kafka_wiring.h - which bus `strata up` gives its pipelines, jobs and
 * HTTP ingest (internal to app/): the embedded seglog, or an external
 * Kafka cluster named by --broker kafka://HOST:PORT[,HOST:PORT] or the
 * config's kafka.bootstrap, with kafka.properties passed to librdkafka
 * (docs/external-kafka.md).
 */
#ifndef STRATA_APP_KAFKA_WIRING_H
#define STRATA_APP_KAFKA_WIRING_H

#include "app/config.h"
#include "bus/bus.h"
#include "seglog/seglog.h"

/* Whether the run uses an external cluster: `broker_url` (--broker, may be
 * NULL) or kafka.bootstrap is set. */
bool app_kafka_external(const app_config_t *cfg, const char *broker_url);

/* Opens *out: over an external cluster when app_kafka_external() (it must
 * answer; the detail names it), else over `log` (borrowed). Errors are
 * printed (app_fail) and returned: APP_EXIT_USAGE for a --broker URL that
 * is not kafka://..., else the bus's code. */
int app_kafka_open_bus(const app_config_t *cfg, const char *broker_url, seglog_t *log, bus_t **out);

#endif

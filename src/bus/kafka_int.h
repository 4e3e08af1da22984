/*
 * Internals of the Kafka bus shared by kafka.c (metadata, readers,
 * producer) and kafka_group.c (consumer groups).
 */
#ifndef STRATA_BUS_KAFKA_INT_H
#define STRATA_BUS_KAFKA_INT_H

#include <librdkafka/rdkafka.h>

#include "bus/bus_int.h"

/* Blocking metadata and offset queries give up after this long. */
#define KBUS_QUERY_TIMEOUT_MS 10000

typedef enum { KBUS_PRODUCER, KBUS_READER, KBUS_GROUP } kbus_role_t;

/* Builds the librdkafka configuration of one handle: strata's defaults for
 * the role, the user's properties, then what the role needs (for a group,
 * group.id = group). CORE_EINVAL names a property librdkafka rejects. */
int kbus_conf(bus_t *b, kbus_role_t role, const char *group, rd_kafka_conf_t **out);
/* Maps a librdkafka error to a CORE_E* code with a detail naming what. */
int kbus_error(rd_kafka_resp_err_t err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The group implementation (kafka_group.c) behind bus_group_open. */
int kbus_group_open(bus_t *b, const char *topic, const char *group, const bus_group_callbacks_t *cb,
                    bus_group_t **out);

#endif

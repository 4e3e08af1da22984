/*
 * producers_int.h - idempotent-producer state: producer ids, epochs and the
 * last batches per (producer, partition), so a retried batch is answered
 * with its original offset instead of being appended twice.
 *
 * Rules (Kafka's, for the classic idempotent producer):
 *   - a batch with producer id -1 is not idempotent: always appended;
 *   - an epoch older than the one seen → INVALID_PRODUCER_EPOCH (47);
 *   - a newer epoch starts over (librdkafka bumps the epoch itself and
 *     restarts at sequence 0);
 *   - a batch whose sequence range equals one of the last 5 appended →
 *     duplicate: answered with that batch's base offset, not appended;
 *   - otherwise the first sequence must follow the last one (wrapping at
 *     INT32_MAX) → else OUT_OF_ORDER_SEQUENCE_NUMBER (45);
 *   - a producer unknown for the partition is accepted at any sequence.
 *
 * The state is in memory. After a restart, kafka_producers_load() rebuilds
 * it from the producer batches among a partition's last
 * KAFKA_PRODUCER_SCAN_OFFSETS offsets (batch headers carry producer id,
 * epoch and sequence), so a retry of a batch that was written before a
 * crash but never acknowledged is still recognised as a duplicate.
 *
 * Threading: loop thread only.
 */
#ifndef STRATA_KAFKA_PRODUCERS_INT_H
#define STRATA_KAFKA_PRODUCERS_INT_H

#include "kafka/kafka_int.h"
#include "record/record.h"

#define KAFKA_PRODUCER_BATCHES      5
#define KAFKA_PRODUCER_SCAN_OFFSETS 200000

typedef struct kafka_producers kafka_producers_t;

int kafka_producers_create(kafka_producers_t **out);
void kafka_producers_destroy(kafka_producers_t *ps);

/* A new producer id, unique across restarts (derived from the wall clock
 * and a counter). */
int64_t kafka_producers_new_id(kafka_producers_t *ps);

/* Rebuilds the state of `part` from its log tail, once per partition (later
 * calls return at once). Errors are logged; the state then starts empty. */
void kafka_producers_load(kafka_producers_t *ps, seglog_part_t *part);

/* Checks a batch before it is appended to `part`. Returns KAFKA_ERR_NONE to
 * append, KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER with *dup_base set to the
 * original base offset (answer success with it), or an error code. */
int16_t kafka_producers_check(kafka_producers_t *ps, const seglog_part_t *part,
                              const record_batch_header_t *h, int64_t *dup_base);
/* Drops every producer's state for `part`, which is about to be deleted:
 * its handle may be reused by a partition created later. */
void kafka_producers_forget_part(kafka_producers_t *ps, const seglog_part_t *part);
/* Records a batch appended at base_offset. CORE_ENOMEM if it cannot. */
int kafka_producers_record(kafka_producers_t *ps, const seglog_part_t *part,
                           const record_batch_header_t *h, int64_t base_offset);

#endif /* STRATA_KAFKA_PRODUCERS_INT_H */

/*
 * syncer_int.h - fsync waiters for the broker (see syncer.c).
 *
 * Lifecycle: create (starts the threads) -> requests -> destroy. Destroy
 * must be called on the loop thread before the server is destroyed; it
 * joins the threads and completes requests still queued with CORE_ECLOSED.
 * Completions already posted to the server run when the loop drains them.
 */
#ifndef STRATA_KAFKA_SYNCER_INT_H
#define STRATA_KAFKA_SYNCER_INT_H

#include "kafka/kafka_int.h"
#include "kafka/server_int.h"

typedef struct kafka_syncer kafka_syncer_t;

int kafka_syncer_create(kafka_server_t *server, int threads, kafka_syncer_t **out);
void kafka_syncer_destroy(kafka_syncer_t *s);
/* A kafka_sync_fn: ctx is the syncer. done(done_arg, rc) runs on the loop
 * thread after seglog_sync(part, end_offset). */
int kafka_syncer_request(void *ctx, seglog_part_t *part, int64_t end_offset,
                         kafka_sync_done_fn done, void *done_arg);

#endif /* STRATA_KAFKA_SYNCER_INT_H */

/*
 * The `table` kind: every valid event becomes a row of the output table,
 * upserted on its primary key (or on the record's partition and offset
 * when none is configured), so a replayed event rewrites the same row.
 *
 * Two events with the same primary key in one commit would make one
 * statement touch a row twice; the second one asks for a commit first
 * (STREAM_NEED_COMMIT), which keeps "last event wins" in log order.
 *
 * Threading: the pipeline thread only.
 */
#include "stream/stream_int.h"

#define MAX_COLUMNS (SCHEMA_MAX_FIELDS + 2)

static int prepare(stream_pipeline_t *p, store_t *s)
{
    return store_table_open(s, &p->out_def, &p->out);
}

static int process(stream_task_t *t, const bus_record_t *rec)
{
    schema_value_t vals[MAX_COLUMNS];
    int rc = stream_task_table_row(t, rec, vals);
    if (rc == 0)
        rc = stream_task_claim_key(t, vals, t->p->out_def.npk);
    if (rc == 0)
        rc = store_batch_upsert(t->batch, t->p->out, vals);
    if (rc == 0)
        t->stats->rows++;
    return rc;
}

const stream_kind_ops_t stream_kind_table_ops = {
    .prepare = prepare,
    .process = process,
};

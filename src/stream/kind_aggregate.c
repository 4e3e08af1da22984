/*
 * The `aggregate` kind: filter -> key -> event-time window -> partial
 * aggregates, written as view rows.
 *
 * Each task keeps its partition's open windows in a window operator. At
 * every commit the watermark closes what it can, and each changed window
 * becomes an upsert of its row (layer 'speed', this partition), final once
 * closed; sessions merged away become deletes. On start the task reloads
 * its partition's open rows (final = false), so a restart continues with
 * exactly the state of its last commit. Aggregates whose arguments have the
 * same text (first/min/max/last/avg of one field) share one evaluation per
 * record (the task's kind_state says which).
 *
 * Threading: the pipeline thread only.
 */
#include "stream/stream_int.h"

#include <math.h>
#include <string.h>

#define FIXED_COLS 7
#define MAX_COLS   (FIXED_COLS + 64 * STREAM_AGG_MAX_COLS)
#define MAX_AGGS   64

static int prepare(stream_pipeline_t *p, store_t *s)
{
    if (p->wcfg.naggs > MAX_AGGS)
        return core_error(CORE_EINVAL, "view %s: more than %d aggregates", p->out_name, MAX_AGGS);
    return store_table_open(s, &p->out_def, &p->out);
}

static int restore_row(void *arg, const schema_value_t *v, size_t n)
{
    stream_task_t *t = arg;
    const stream_pipeline_t *p = t->p;
    stream_agg_state_t states[MAX_AGGS];
    if (n != p->out_def.ncolumns || v[0].type != SCHEMA_STRING || v[1].type != SCHEMA_TIMESTAMP ||
        v[4].type != SCHEMA_TIMESTAMP)
        return core_error(CORE_ECORRUPT, "view %s: a stored row has unexpected columns",
                          p->out_name);
    for (size_t i = 0; i < p->wcfg.naggs; i++) {
        int rc = stream_agg_from_values(p->agg_kinds[i], v + stream_view_agg_col(p, i), &states[i]);
        if (rc != 0)
            return core_error(CORE_ECORRUPT, "view %s: bad partial state in column %s", p->out_name,
                              p->agg_names[i]);
    }
    return stream_winop_restore(t->winop, v[0].v.s.p, v[0].v.s.len, v[1].v.i, v[4].v.i, states);
}

/* Per task: for each aggregate, the first aggregate whose argument has the
 * same text (itself if none), so that e.g. first/max/min/last/avg of one
 * field evaluate it once per record. Expressions have no side effects and
 * depend on the record only, so equal texts give equal values. Arguments
 * that are one field reference are read from the row directly. */
typedef struct {
    uint8_t same_as[MAX_AGGS];
    int field[MAX_AGGS];        /* the argument's field, or -1 */
    schema_type_t as[MAX_AGGS]; /* how it reads that field */
    int key_field;              /* the key is this string field, or -1 */
} agg_state_t;

static int plan_args(stream_task_t *t)
{
    const stream_pipeline_t *p = t->p;
    agg_state_t *a = core_calloc(CORE_MEM_STREAM, 1, sizeof *a);
    if (a == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    for (size_t i = 0; i < p->wcfg.naggs; i++) {
        a->same_as[i] = (uint8_t)i;
        a->field[i] =
            p->agg_args[i] != NULL ? stream_expr_root_field(p->agg_args[i], &a->as[i]) : -1;
        for (size_t j = 0; j < i && p->agg_args[i] != NULL; j++) {
            if (p->agg_args[j] != NULL &&
                strcmp(stream_expr_text(p->agg_args[j]), stream_expr_text(p->agg_args[i])) == 0) {
                a->same_as[i] = (uint8_t)j;
                break;
            }
        }
    }
    schema_type_t as = SCHEMA_NULL;
    a->key_field = p->key != NULL ? stream_expr_root_field(p->key, &as) : -1;
    if (as != SCHEMA_STRING)
        a->key_field = -1;
    t->kind_state = a;
    return 0;
}

static int task_init(stream_task_t *t, store_t *s)
{
    int rc = stream_winop_create(&t->p->wcfg, &t->winop);
    if (rc == 0)
        rc = plan_args(t);
    if (rc != 0)
        return rc;
    store_filter_t f[3] = {
        {"layer", STORE_EQ, {.type = SCHEMA_STRING, .v.s = {"speed", 5}}},
        {"partition", STORE_EQ, {.type = SCHEMA_INT, .v.i = t->partition}},
        {"final", STORE_EQ, {.type = SCHEMA_BOOL, .v.b = false}},
    };
    rc = store_select(s, t->p->out, f, 3, 0, 0, restore_row, t);
    /* The operator must know the committed watermark too, or an event for
     * a window that closed before the restart would open it again. */
    if (rc == 0 && t->wm != INT64_MIN)
        stream_winop_advance(t->winop, t->wm);
    return rc;
}

static int process(stream_task_t *t, const bus_record_t *rec)
{
    const stream_pipeline_t *p = t->p;
    double in[MAX_AGGS];
    bool present[MAX_AGGS];
    const char *key = "";
    size_t klen = 0;
    const agg_state_t *a = t->kind_state; /* NULL in a detached task */
    if (a != NULL && a->key_field >= 0) { /* stream_task_key() of a string field */
        const schema_value_t *k = &t->row.values[a->key_field];
        if (k->type == SCHEMA_STRING && k->v.s.p != NULL) {
            key = k->v.s.p;
            klen = k->v.s.len;
        }
    } else {
        int rc = stream_task_key(t, &key, &klen);
        if (rc != 0)
            return rc;
    }
    bool all = true; /* every input present: the operator skips the checks */
    for (size_t i = 0; i < p->wcfg.naggs; i++) {
        size_t j = a != NULL ? a->same_as[i] : i;
        in[i] = 0;
        if (j < i) {
            in[i] = in[j];
            present[i] = present[j];
        } else if (a != NULL && a->field[i] >= 0) {
            present[i] = stream_field_number(&t->row.values[a->field[i]], a->as[i], &in[i]);
        } else {
            present[i] = p->agg_args[i] == NULL || stream_task_number(t, p->agg_args[i], &in[i]);
        }
        all = all && present[i];
    }
    return stream_winop_add(t->winop, key, klen, t->event_us, in, all ? NULL : present,
                            STREAM_AGG_ORD(t->partition, rec->offset), t->wm, &t->late);
}

typedef struct {
    stream_task_t *t;
    int64_t now_us;
} drain_ctx_t;

static int write_row(void *arg, const stream_winop_row_t *row)
{
    drain_ctx_t *c = arg;
    stream_task_t *t = c->t;
    const stream_pipeline_t *p = t->p;
    schema_value_t v[MAX_COLS];
    /* The layout the batch layer's rows share (view.c). */
    stream_view_row_values(p, row, "speed", t->partition, c->now_us, v);
    if (row->removed)
        return store_batch_delete(t->batch, p->out, v);
    t->stats->rows++;
    return store_batch_upsert(t->batch, p->out, v);
}

static int flush(stream_task_t *t)
{
    if (t->wm != INT64_MIN)
        stream_winop_advance(t->winop, t->wm);
    drain_ctx_t c = {t, core_wall_us()};
    return stream_winop_drain(t->winop, write_row, &c);
}

static void task_fini(stream_task_t *t)
{
    stream_winop_destroy(t->winop);
    t->winop = NULL;
    core_free(t->kind_state);
    t->kind_state = NULL;
}

const stream_kind_ops_t stream_kind_aggregate_ops = {
    .prepare = prepare,
    .task_init = task_init,
    .process = process,
    .flush = flush,
    .committed = NULL,
    .task_fini = task_fini,
};

/*
 * The `cdc` kind: Debezium change events applied to a table.
 *
 * A record's value is an envelope {"before", "after", "source", "op",
 * "ts_ms"}, possibly wrapped as {"schema": ..., "payload": {envelope}}:
 *
 *   op c, r, u  -> `after` decoded with the pipeline's schema (field checks
 *                  and the schema's rules) -> upsert of its row
 *   op d        -> `before` decoded; only the primary-key fields must be
 *                  there (other fields may be absent, as Debezium sends
 *                  with a default replica identity) -> delete by key
 *   op t        -> dlq "unsupported" (a truncate is not applied)
 *   null value  -> counted as filtered: the tombstone Debezium writes after
 *                  a delete, for log compaction ({"payload": null} alike)
 *   anything else -> dlq, with the reason; the pipeline never stops
 *
 * The runtime does not decode cdc records: this kind owns the whole value.
 * Within one commit a primary key is claimed once (stream_task_claim_key);
 * a second change of the same key asks for a commit first, so changes
 * apply in log order (the store applies a batch's deletes before its
 * upserts, which would otherwise reorder them).
 *
 * A change of primary key arrives from Debezium as a delete of the old key
 * and a create of the new one, so `u` needs no look at `before`.
 *
 * Threading: the pipeline thread only.
 */
#include "stream/stream_int.h"

#include <stdio.h>
#include <string.h>

#define CDC_MAX_VALUE (1024 * 1024)
#define REASON_MAX    (SCHEMA_REASON_MAX + 64)

typedef struct {
    schema_value_t *vals; /* one per output column */
} cdc_t;

/* The members of an envelope that matter. */
typedef struct {
    core_json_value_t op, before, after, payload;
    bool has_op, has_before, has_after, has_payload;
} envelope_t;

typedef enum { EV_OK, EV_TOMBSTONE, EV_BAD } ev_status_t;

static int check_pipeline(const stream_pipeline_t *p)
{
    if (p->filter != NULL)
        return core_error(CORE_EINVAL, "cdc pipeline %s: a filter is not supported", p->name);
    if (p->col_field == NULL || p->out_def.npk == 0)
        return core_error(CORE_EINVAL, "cdc pipeline %s: no output table layout", p->name);
    for (size_t i = 0; i < p->out_def.npk; i++)
        if (p->col_field[i] < 0)
            return core_error(CORE_EINVAL, "cdc pipeline %s: the primary key must be schema fields",
                              p->name);
    return 0;
}

/* ---- The envelope. */

/* Reads one object's members; 0, or the scanner's error (it->error). */
static int scan_members(core_json_iter_t *it, envelope_t *ev)
{
    core_json_value_t k, v;
    int rc;
    while ((rc = core_json_object_next(it, &k, &v)) == 1) {
        if (!ev->has_op && core_json_string_eq(&k, "op", 2)) {
            ev->op = v;
            ev->has_op = true;
        } else if (!ev->has_after && core_json_string_eq(&k, "after", 5)) {
            ev->after = v;
            ev->has_after = true;
        } else if (!ev->has_before && core_json_string_eq(&k, "before", 6)) {
            ev->before = v;
            ev->has_before = true;
        } else if (!ev->has_payload && core_json_string_eq(&k, "payload", 7)) {
            ev->payload = v;
            ev->has_payload = true;
        }
    }
    return rc;
}

static ev_status_t bad_json(const core_json_iter_t *it, char *reason, const char **kind)
{
    *kind = schema_err_kind_name(SCHEMA_ERR_JSON);
    snprintf(reason, REASON_MAX, "invalid JSON at byte %zu: %s", it->error.offset,
             it->error.what != NULL ? it->error.what : "malformed");
    return EV_BAD;
}

/* Finds op, before and after, unwrapping {"schema", "payload"}. */
static ev_status_t scan_envelope(const bus_record_t *rec, envelope_t *ev, char *reason,
                                 const char **kind)
{
    core_json_iter_t it;
    core_json_error_t err = {0, NULL};
    memset(&it, 0, sizeof it);
    memset(ev, 0, sizeof *ev);
    *kind = "envelope";
    if (core_json_iter_init(&it, rec->value, rec->value_len, 0, &err) != 0) {
        it.error.offset = err.offset;
        it.error.what = err.what != NULL ? err.what : "the value is not a JSON object";
        return bad_json(&it, reason, kind);
    }
    if (it.type != CORE_JSON_OBJECT) {
        snprintf(reason, REASON_MAX, "cdc: the value is a JSON array, not a change event");
        return EV_BAD;
    }
    if (scan_members(&it, ev) != 0)
        return bad_json(&it, reason, kind);
    if (!ev->has_op && ev->has_payload) {
        /* {"schema": ..., "payload": {envelope}} (Kafka Connect's JSON
         * converter with schemas enabled). */
        if (ev->payload.type == CORE_JSON_NULL)
            return EV_TOMBSTONE;
        if (ev->payload.type != CORE_JSON_OBJECT) {
            snprintf(reason, REASON_MAX, "cdc: \"payload\" is not an object");
            return EV_BAD;
        }
        core_json_iter_t child;
        memset(&child, 0, sizeof child);
        core_json_value_t payload = ev->payload;
        memset(ev, 0, sizeof *ev);
        if (core_json_iter_child(&it, &payload, &child) != 0 || scan_members(&child, ev) != 0)
            return bad_json(&child, reason, kind);
    }
    if (!ev->has_op) {
        snprintf(reason, REASON_MAX, "cdc: the change event has no \"op\"");
        return EV_BAD;
    }
    return EV_OK;
}

/* The op's letter, or 0 when op is not one of the known one-letter
 * strings (compared decoded, so "\u0063" is "c"). */
static char op_letter(const core_json_value_t *op)
{
    static const char letters[] = {'c', 'r', 'u', 'd', 't'};
    if (op->type != CORE_JSON_STRING)
        return 0;
    for (size_t i = 0; i < sizeof letters; i++)
        if (core_json_string_eq(op, &letters[i], 1))
            return letters[i];
    return 0;
}

/* ---- Applying. */

static int reject_schema(stream_task_t *t, const bus_record_t *rec, const char *image,
                         const schema_error_t *err)
{
    char reason[REASON_MAX];
    schema_err_kind_t k = err->kind == SCHEMA_ERR_NONE ? SCHEMA_ERR_JSON : err->kind;
    snprintf(reason, sizeof reason, "%s: %s", image,
             err->reason[0] != '\0' ? err->reason : core_error_detail());
    return stream_task_dlq(t, rec, schema_err_kind_name(k), reason);
}

/* Decodes an image into t->row. *ok false when it went to the dlq;
 * missing required fields are tolerated when `partial` (deletes). */
static int decode_image(stream_task_t *t, const bus_record_t *rec, char op, const char *image,
                        const core_json_value_t *v, bool partial, bool *ok)
{
    char reason[REASON_MAX];
    *ok = false;
    if (v->type != CORE_JSON_OBJECT) {
        snprintf(reason, sizeof reason, "cdc: op '%c' needs \"%s\" to be an object, not %s", op,
                 image, v->type == CORE_JSON_NULL ? "null" : "another JSON value");
        return stream_task_dlq(t, rec, "envelope", reason);
    }
    schema_error_t err;
    memset(&err, 0, sizeof err);
    int rc = schema_decode_json(t->p->schema, v->p, v->len, &t->row, &err);
    if (rc == CORE_ENOMEM)
        return rc;
    if (rc != 0 && !(partial && rc == CORE_EINVAL && err.kind == SCHEMA_ERR_REQUIRED))
        return reject_schema(t, rec, image, &err);
    *ok = true;
    return 0;
}

/* The schema's cross-field rules on the after image; *ok false when one
 * failed and the record went to the dlq. */
static int check_rules(stream_task_t *t, const bus_record_t *rec, bool *ok)
{
    const stream_pipeline_t *p = t->p;
    *ok = true;
    for (size_t i = 0; i < p->nrules; i++) {
        bool pass = false;
        int rc = stream_expr_test(p->rules[i].check, &t->env, &t->scratch, &pass);
        if (rc == 0 && pass)
            continue;
        const stream_rule_t *r = &p->rules[i];
        char reason[REASON_MAX];
        snprintf(reason, sizeof reason, "after: rule %s failed: %s", r->name,
                 r->message != NULL ? r->message : stream_expr_text(r->check));
        *ok = false;
        return stream_task_dlq(t, rec, schema_err_kind_name(SCHEMA_ERR_RULE), reason);
    }
    return 0;
}

static int apply_upsert(stream_task_t *t, const bus_record_t *rec, const envelope_t *ev, char op)
{
    cdc_t *c = t->kind_state;
    bool ok = false;
    if (!ev->has_after) {
        char reason[REASON_MAX];
        snprintf(reason, sizeof reason, "cdc: op '%c' has no \"after\"", op);
        return stream_task_dlq(t, rec, "envelope", reason);
    }
    int rc = decode_image(t, rec, op, "after", &ev->after, false, &ok);
    if (rc == 0 && ok)
        rc = check_rules(t, rec, &ok);
    if (rc != 0 || !ok)
        return rc;
    rc = stream_task_table_row(t, rec, c->vals);
    if (rc == 0)
        rc = stream_task_claim_key(t, c->vals, t->p->out_def.npk);
    if (rc != 0)
        return rc; /* STREAM_NEED_COMMIT included */
    rc = store_batch_upsert(t->batch, t->p->out, c->vals);
    if (rc == 0) {
        t->stats->valid++;
        t->stats->rows++;
    }
    return rc;
}

static int apply_delete(stream_task_t *t, const bus_record_t *rec, const envelope_t *ev)
{
    cdc_t *c = t->kind_state;
    const stream_pipeline_t *p = t->p;
    bool ok = false;
    if (!ev->has_before)
        return stream_task_dlq(t, rec, "envelope", "cdc: op 'd' has no \"before\"");
    int rc = decode_image(t, rec, 'd', "before", &ev->before, true, &ok);
    if (rc != 0 || !ok)
        return rc;
    for (size_t i = 0; i < p->out_def.npk; i++) {
        int f = p->col_field[i];
        if (t->row.values[f].type != SCHEMA_NULL)
            continue;
        char reason[REASON_MAX];
        snprintf(reason, sizeof reason,
                 "before: field \"%s\": primary-key field is missing, the delete cannot be "
                 "applied",
                 schema_field(p->schema, (size_t)f)->name);
        return stream_task_dlq(t, rec, schema_err_kind_name(SCHEMA_ERR_REQUIRED), reason);
    }
    rc = stream_task_table_row(t, rec, c->vals);
    if (rc == 0)
        rc = stream_task_claim_key(t, c->vals, p->out_def.npk);
    if (rc != 0)
        return rc; /* STREAM_NEED_COMMIT included */
    rc = store_batch_delete(t->batch, p->out, c->vals);
    if (rc == 0) {
        t->stats->valid++;
        t->stats->rows++;
    }
    return rc;
}

static int process(stream_task_t *t, const bus_record_t *rec)
{
    if (rec->value == NULL) {
        t->stats->filtered++; /* a tombstone */
        return 0;
    }
    if (rec->value_len > CDC_MAX_VALUE) {
        char reason[REASON_MAX];
        snprintf(reason, sizeof reason, "record value of %zu bytes exceeds %d", rec->value_len,
                 CDC_MAX_VALUE);
        return stream_task_dlq(t, rec, schema_err_kind_name(SCHEMA_ERR_TOOBIG), reason);
    }
    envelope_t ev;
    char reason[REASON_MAX];
    const char *kind = NULL;
    switch (scan_envelope(rec, &ev, reason, &kind)) {
    case EV_TOMBSTONE:
        t->stats->filtered++;
        return 0;
    case EV_BAD:
        return stream_task_dlq(t, rec, kind, reason);
    case EV_OK:
        break;
    }
    char op = op_letter(&ev.op);
    switch (op) {
    case 'c':
    case 'r':
    case 'u':
        return apply_upsert(t, rec, &ev, op);
    case 'd':
        return apply_delete(t, rec, &ev);
    case 't':
        return stream_task_dlq(t, rec, "unsupported", "cdc: truncate events are not applied");
    default:
        break;
    }
    if (ev.op.type == CORE_JSON_STRING && ev.op.len <= 16 && !ev.op.escaped)
        snprintf(reason, sizeof reason, "cdc: unknown op \"%.*s\"", (int)ev.op.len, ev.op.p);
    else
        snprintf(reason, sizeof reason, "cdc: \"op\" is not one of c, r, u, d, t");
    return stream_task_dlq(t, rec, "envelope", reason);
}

/* ---- Lifecycle. */

static int prepare(stream_pipeline_t *p, store_t *s)
{
    int rc = check_pipeline(p);
    return rc != 0 ? rc : store_table_open(s, &p->out_def, &p->out);
}

static int task_init(stream_task_t *t, store_t *s)
{
    (void)s;
    int rc = check_pipeline(t->p);
    if (rc != 0)
        return rc;
    cdc_t *c = core_calloc(CORE_MEM_STREAM, 1, sizeof *c);
    if (c == NULL)
        return core_error(CORE_ENOMEM, "cdc: out of memory");
    t->kind_state = c;
    c->vals = core_calloc(CORE_MEM_STREAM, t->p->out_def.ncolumns, sizeof *c->vals);
    if (c->vals == NULL)
        return core_error(CORE_ENOMEM, "cdc: out of memory");
    return 0;
}

static int flush(stream_task_t *t)
{
    (void)t;
    return 0; /* everything is in the batch already */
}

static void task_fini(stream_task_t *t)
{
    cdc_t *c = t->kind_state;
    if (c == NULL)
        return;
    core_free(c->vals);
    core_free(c);
    t->kind_state = NULL;
}

const stream_kind_ops_t stream_kind_cdc_ops = {
    .prepare = prepare,
    .task_init = task_init,
    .process = process,
    .flush = flush,
    .committed = NULL,
    .task_fini = task_fini,
};

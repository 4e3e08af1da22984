/*
 * batch.c - store_batch_t: everything one commit writes, queued in memory.
 *
 * Values are converted to their column's type when queued (ints into float
 * and timestamp columns, NaN to NULL) and every string or byte run is
 * copied into the batch's arena, so callers may reuse their buffers at once.
 * Text bound for TEXT columns must be valid UTF-8 without NUL bytes (what
 * PostgreSQL accepts, so both backends behave alike): user-table values that
 * are not fail with CORE_EINVAL; dlq and anomaly text, which exists to
 * record bad input, is repaired instead (bad bytes become U+FFFD).
 *
 * Invariants:
 *   1. tabs[0..ntabs) name distinct tables; entries past ntabs keep their
 *      arrays for reuse after a reset.
 *   2. A failed call leaves the batch as it was (counts are bumped last).
 *   3. state[] holds one operation per (pipeline, partition, name, key): a
 *      later put or delete replaces the earlier one in place.
 *
 * Threading: a batch belongs to one thread at a time.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <math.h>
#include <string.h>

int store_batch_create(store_batch_t **out)
{
    store_batch_t *b = core_calloc(CORE_MEM_STORE, 1, sizeof(*b));
    if (b == NULL)
        return core_error(CORE_ENOMEM, "store: batch: out of memory");
    b->arena = core_arena_create(CORE_MEM_STORE, 256 * 1024, STORE_BATCH_MAX_BYTES);
    if (b->arena == NULL) {
        core_free(b);
        return core_error(CORE_ENOMEM, "store: batch: out of memory");
    }
    *out = b;
    return CORE_OK;
}

void store_batch_destroy(store_batch_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->cap_tabs; i++) {
        core_free(b->tabs[i].up);
        core_free(b->tabs[i].del);
    }
    core_free(b->tabs);
    core_free(b->dlq);
    core_free(b->anom);
    core_free(b->state);
    core_free(b->off);
    core_map_destroy(b->state_index);
    core_arena_destroy(b->arena);
    core_free(b);
}

void store_batch_reset(store_batch_t *b)
{
    for (size_t i = 0; i < b->ntabs; i++) {
        b->tabs[i].table = NULL;
        b->tabs[i].nup = b->tabs[i].ndel = 0;
    }
    b->ntabs = b->ndlq = b->nanom = b->nstate = b->noff = b->rows = 0;
    core_map_destroy(b->state_index);
    b->state_index = NULL;
    core_arena_reset(b->arena);
}

size_t store_batch_rows(const store_batch_t *b)
{
    return b->rows;
}

/* Makes room for `more` elements of `size` bytes in *arr (count n, *cap). */
static int grow(void **arr, size_t *cap, size_t n, size_t more, size_t size)
{
    if (n + more <= *cap)
        return CORE_OK;
    size_t want = *cap < 16 ? 16 : *cap;
    while (want < n + more)
        want *= 2;
    if (want > SIZE_MAX / size)
        return core_error(CORE_ENOMEM, "store: batch too large");
    void *p = core_realloc(CORE_MEM_STORE, *arr, want * size);
    if (p == NULL)
        return core_error(CORE_ENOMEM, "store: batch: out of memory");
    *arr = p;
    *cap = want;
    return CORE_OK;
}

static int copy_bytes(store_batch_t *b, const char *p, size_t n, const char **out)
{
    char *d = core_arena_alloc(b->arena, n + 1);
    if (d == NULL)
        return core_error(CORE_ENOMEM, "store: batch holds more than %zu bytes",
                          STORE_BATCH_MAX_BYTES);
    if (n > 0)
        memcpy(d, p, n);
    d[n] = '\0';
    *out = d;
    return CORE_OK;
}

/* Copies text, replacing each byte that does not start a valid UTF-8
 * sequence (and each NUL) with U+FFFD. NULL stays NULL. */
static int copy_repaired(store_batch_t *b, const char *p, size_t n, const char **out)
{
    *out = NULL;
    if (p == NULL)
        return CORE_OK;
    if (store_text_ok(p, n))
        return copy_bytes(b, p, n, out);
    if (n > (SIZE_MAX - 1) / 3)
        return core_error(CORE_ENOMEM, "store: batch: text too long");
    char *d = core_arena_alloc(b->arena, n * 3 + 1);
    if (d == NULL)
        return core_error(CORE_ENOMEM, "store: batch: out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        if (c != 0 && len > 0 && len <= n - i && core_utf8_valid(p + i, len)) {
            memcpy(d + o, p + i, len);
            o += len;
            i += len;
        } else {
            memcpy(d + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    d[o] = '\0';
    *out = d;
    return CORE_OK;
}

static int copy_text(store_batch_t *b, const char *s, const char *what, const char **out)
{
    if (s == NULL)
        return core_error(CORE_EINVAL, "store: batch: %s is NULL", what);
    size_t n = strlen(s);
    if (!store_text_ok(s, n))
        return core_error(CORE_EINVAL, "store: batch: %s is not valid UTF-8", what);
    return copy_bytes(b, s, n, out);
}

int store_value_coerce(schema_type_t col, const schema_value_t *v, schema_value_t *out,
                       const char *what)
{
    *out = *v;
    if (v->type == SCHEMA_NULL)
        return CORE_OK;
    if (v->type == SCHEMA_INT && col == SCHEMA_FLOAT) {
        out->type = SCHEMA_FLOAT;
        out->v.f = (double)v->v.i;
        return CORE_OK;
    }
    if ((v->type == SCHEMA_INT && col == SCHEMA_TIMESTAMP) ||
        (v->type == SCHEMA_TIMESTAMP && col == SCHEMA_INT)) {
        out->type = col;
        return CORE_OK;
    }
    if (v->type != col)
        return core_error(CORE_EINVAL, "store: column \"%s\" is %s, the value is %s", what,
                          schema_type_name(col), schema_type_name(v->type));
    if (col == SCHEMA_FLOAT && isnan(v->v.f))
        out->type = SCHEMA_NULL;
    if ((col == SCHEMA_STRING || col == SCHEMA_OBJECT || col == SCHEMA_ARRAY) &&
        !store_text_ok(v->v.s.p, v->v.s.len))
        return core_error(
            CORE_EINVAL, "store: column \"%s\": text is not valid UTF-8 or holds a NUL byte", what);
    return CORE_OK;
}

/* The batch's entry for table t, added if new. */
static int tab_for(store_batch_t *b, store_table_t *t, store_batch_tab_t **out)
{
    for (size_t i = b->ntabs; i-- > 0;)
        if (b->tabs[i].table == t) {
            *out = &b->tabs[i];
            return CORE_OK;
        }
    size_t old_cap = b->cap_tabs;
    int rc = grow((void **)&b->tabs, &b->cap_tabs, b->ntabs, 1, sizeof(*b->tabs));
    if (rc != CORE_OK)
        return rc;
    if (b->cap_tabs > old_cap)
        memset(b->tabs + old_cap, 0, (b->cap_tabs - old_cap) * sizeof(*b->tabs));
    store_batch_tab_t *e = &b->tabs[b->ntabs++];
    e->table = t;
    e->nup = e->ndel = 0;
    *out = e;
    return CORE_OK;
}

/* Converts n values for columns cols[0..n) into dst, copying text. */
static int copy_values(store_batch_t *b, const store_table_t *t, const schema_value_t *src,
                       size_t n, schema_value_t *dst)
{
    for (size_t i = 0; i < n; i++) {
        const store_column_t *c = &t->def.columns[i];
        int rc = store_value_coerce(c->type, &src[i], &dst[i], c->name);
        if (rc != CORE_OK)
            return core_error(rc, "store: table %s: %s", t->def.name, core_error_detail());
        if (i < t->def.npk && dst[i].type == SCHEMA_NULL)
            return core_error(CORE_EINVAL, "store: table %s: primary key column \"%s\" is NULL",
                              t->def.name, c->name);
        if (dst[i].type == SCHEMA_STRING || dst[i].type == SCHEMA_OBJECT ||
            dst[i].type == SCHEMA_ARRAY) {
            rc = copy_bytes(b, dst[i].v.s.p, dst[i].v.s.len, &dst[i].v.s.p);
            if (rc != CORE_OK)
                return rc;
        }
    }
    return CORE_OK;
}

int store_batch_upsert(store_batch_t *b, store_table_t *t, const schema_value_t *values)
{
    if (b == NULL || t == NULL || values == NULL)
        return core_error(CORE_EINVAL, "store: batch_upsert: NULL argument");
    store_batch_tab_t *e;
    int rc = tab_for(b, t, &e);
    size_t nc = t->def.ncolumns;
    if (rc == CORE_OK)
        rc = grow((void **)&e->up, &e->cap_up, e->nup * nc, nc, sizeof(*e->up));
    if (rc == CORE_OK)
        rc = copy_values(b, t, values, nc, e->up + e->nup * nc);
    if (rc != CORE_OK)
        return rc;
    e->nup++;
    b->rows++;
    return CORE_OK;
}

int store_batch_delete(store_batch_t *b, store_table_t *t, const schema_value_t *pk)
{
    if (b == NULL || t == NULL || pk == NULL)
        return core_error(CORE_EINVAL, "store: batch_delete: NULL argument");
    store_batch_tab_t *e;
    int rc = tab_for(b, t, &e);
    size_t nk = t->def.npk;
    if (rc == CORE_OK)
        rc = grow((void **)&e->del, &e->cap_del, e->ndel * nk, nk, sizeof(*e->del));
    if (rc == CORE_OK)
        rc = copy_values(b, t, pk, nk, e->del + e->ndel * nk);
    if (rc != CORE_OK)
        return rc;
    e->ndel++;
    b->rows++;
    return CORE_OK;
}

int store_batch_dlq(store_batch_t *b, const store_dlq_t *d)
{
    if (b == NULL || d == NULL)
        return core_error(CORE_EINVAL, "store: batch_dlq: NULL argument");
    int rc = grow((void **)&b->dlq, &b->cap_dlq, b->ndlq, 1, sizeof(*b->dlq));
    if (rc != CORE_OK)
        return rc;
    store_dlq_op_t *o = &b->dlq[b->ndlq];
    *o = (store_dlq_op_t){.partition = d->partition,
                          .offset = d->offset,
                          .key_len = d->key != NULL ? d->key_len : 0,
                          .value_len = d->value != NULL ? d->value_len : 0,
                          .event_time = d->event_time,
                          .created_at = store_now_us()};
    rc = copy_text(b, d->pipeline, "dlq pipeline", &o->pipeline);
    if (rc == CORE_OK)
        rc = copy_text(b, d->topic, "dlq topic", &o->topic);
    if (rc == CORE_OK)
        rc = copy_repaired(b, d->kind, d->kind != NULL ? strlen(d->kind) : 0, &o->kind);
    if (rc == CORE_OK)
        rc = copy_repaired(b, d->reason, d->reason != NULL ? strlen(d->reason) : 0, &o->reason);
    if (rc == CORE_OK && d->key != NULL)
        rc = copy_bytes(b, d->key, d->key_len, &o->key);
    if (rc == CORE_OK && d->value != NULL)
        rc = copy_bytes(b, d->value, d->value_len, &o->value);
    if (rc != CORE_OK)
        return rc;
    b->ndlq++;
    b->rows++;
    return CORE_OK;
}

int store_batch_anomaly(store_batch_t *b, const store_anomaly_t *a)
{
    if (b == NULL || a == NULL)
        return core_error(CORE_EINVAL, "store: batch_anomaly: NULL argument");
    int rc = grow((void **)&b->anom, &b->cap_anom, b->nanom, 1, sizeof(*b->anom));
    if (rc != CORE_OK)
        return rc;
    store_anomaly_op_t *o = &b->anom[b->nanom];
    *o = (store_anomaly_op_t){.event_time = a->event_time,
                              .value = a->value,
                              .score = a->score,
                              .partition = a->partition,
                              .offset = a->offset,
                              .created_at = store_now_us()};
    rc = copy_text(b, a->pipeline, "anomaly pipeline", &o->pipeline);
    if (rc == CORE_OK)
        rc = copy_text(b, a->rule, "anomaly rule", &o->rule);
    if (rc == CORE_OK)
        rc = copy_text(b, a->topic, "anomaly topic", &o->topic);
    if (rc == CORE_OK)
        rc = copy_repaired(b, a->key, a->key != NULL ? a->key_len : 0, &o->key);
    if (rc == CORE_OK && o->key != NULL)
        o->key_len = strlen(o->key);
    if (rc == CORE_OK)
        rc = copy_repaired(b, a->detail, a->detail != NULL ? strlen(a->detail) : 0, &o->detail);
    if (rc != CORE_OK)
        return rc;
    b->nanom++;
    b->rows++;
    return CORE_OK;
}

/* The map key of a state operation: pipeline NUL partition(4) name NUL key. */
static int state_map_key(const char *pipeline, int32_t partition, const char *name, const char *key,
                         size_t key_len, core_buf_t *out)
{
    uint8_t part[4];
    core_store_be32(part, (uint32_t)partition);
    int rc = core_buf_append(out, pipeline, strlen(pipeline) + 1);
    if (rc == CORE_OK)
        rc = core_buf_append(out, part, 4);
    if (rc == CORE_OK)
        rc = core_buf_append(out, name, strlen(name) + 1);
    if (rc == CORE_OK)
        rc = core_buf_append(out, key, key_len);
    return rc;
}

static int state_fill(store_batch_t *b, store_state_op_t *o, const char *pipeline,
                      int32_t partition, const char *name, const char *key, size_t key_len,
                      const void *state, size_t state_len)
{
    *o = (store_state_op_t){.partition = partition, .key_len = key_len};
    int rc = copy_text(b, pipeline, "state pipeline", &o->pipeline);
    if (rc == CORE_OK)
        rc = copy_text(b, name, "state name", &o->name);
    if (rc == CORE_OK)
        rc = copy_bytes(b, key != NULL ? key : "", key_len, &o->key);
    if (rc == CORE_OK && state != NULL) {
        o->state_len = state_len;
        rc = copy_bytes(b, state, state_len, &o->state);
    }
    return rc;
}

int store_batch_state(store_batch_t *b, const char *pipeline, int32_t partition, const char *name,
                      const char *key, size_t key_len, const void *state, size_t state_len)
{
    if (b == NULL || pipeline == NULL || name == NULL || (key == NULL && key_len > 0))
        return core_error(CORE_EINVAL, "store: batch_state: NULL argument");
    if (b->state_index == NULL) {
        b->state_index = core_map_create(CORE_MEM_STORE, 16);
        if (b->state_index == NULL)
            return core_error(CORE_ENOMEM, "store: batch: out of memory");
    }
    core_buf_t mk;
    core_buf_init(&mk, CORE_MEM_STORE, STORE_MAX_VALUE_BYTES);
    store_state_op_t op;
    void *found = NULL;
    int rc = state_map_key(pipeline, partition, name, key != NULL ? key : "", key_len, &mk);
    if (rc == CORE_OK)
        rc = state_fill(b, &op, pipeline, partition, name, key, key_len, state, state_len);
    if (rc == CORE_OK)
        rc = grow((void **)&b->state, &b->cap_state, b->nstate, 1, sizeof(*b->state));
    if (rc == CORE_OK && core_map_get(b->state_index, mk.data, mk.len, &found)) {
        b->state[(uintptr_t)found - 1] = op;
        goto done;
    }
    if (rc == CORE_OK)
        rc =
            core_map_put(b->state_index, mk.data, mk.len, (void *)(uintptr_t)(b->nstate + 1), NULL);
    if (rc == CORE_OK) {
        b->state[b->nstate++] = op;
        b->rows++;
    }
done:
    core_buf_fini(&mk);
    if (rc == CORE_ETOOBIG || rc == CORE_ENOMEM)
        rc = core_error(rc, "store: batch_state: key too large or out of memory");
    return rc;
}

int store_batch_offset(store_batch_t *b, const char *pipeline, const char *topic, int32_t partition,
                       int64_t next_offset, int64_t epoch, int64_t watermark)
{
    if (b == NULL || pipeline == NULL || topic == NULL || partition < 0)
        return core_error(CORE_EINVAL, "store: batch_offset: bad argument");
    for (size_t i = 0; i < b->noff; i++)
        if (b->off[i].partition == partition && strcmp(b->off[i].pipeline, pipeline) == 0 &&
            strcmp(b->off[i].topic, topic) == 0)
            return core_error(CORE_EINVAL, "store: batch already has an offset for %s/%s-%d",
                              pipeline, topic, partition);
    int rc = grow((void **)&b->off, &b->cap_off, b->noff, 1, sizeof(*b->off));
    if (rc != CORE_OK)
        return rc;
    store_offset_op_t *o = &b->off[b->noff];
    *o = (store_offset_op_t){
        .partition = partition, .next_offset = next_offset, .epoch = epoch, .watermark = watermark};
    rc = copy_text(b, pipeline, "offset pipeline", &o->pipeline);
    if (rc == CORE_OK)
        rc = copy_text(b, topic, "offset topic", &o->topic);
    if (rc != CORE_OK)
        return rc;
    b->noff++;
    return CORE_OK;
}

/* ---- Repeated primary keys. */

static uint64_t key_hash(const schema_value_t *k, size_t n)
{
    uint64_t h = 0x5354524154414b45ull;
    for (size_t i = 0; i < n; i++) {
        const schema_value_t *v = &k[i];
        switch (v->type) {
        case SCHEMA_BOOL:
            h = core_hash64(&v->v.b, sizeof(v->v.b), h);
            break;
        case SCHEMA_INT:
        case SCHEMA_TIMESTAMP: /* keys are mostly integers: mixed inline */
            h = (h ^ (uint64_t)v->v.i) * 0x9E3779B97F4A7C15ull;
            h ^= h >> 29;
            h *= 0xBF58476D1CE4E5B9ull;
            h ^= h >> 32;
            break;
        case SCHEMA_FLOAT: {
            double f = v->v.f == 0.0 ? 0.0 : v->v.f; /* -0.0 equals 0.0 */
            h = core_hash64(&f, sizeof(f), h);
            break;
        }
        default:
            h = core_hash64(v->v.s.p, v->v.s.len, h);
            break;
        }
    }
    return h;
}

static bool key_equal(const schema_value_t *a, const schema_value_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].type != b[i].type)
            return false;
        switch (a[i].type) {
        case SCHEMA_BOOL:
            if (a[i].v.b != b[i].v.b)
                return false;
            break;
        case SCHEMA_INT:
        case SCHEMA_TIMESTAMP:
            if (a[i].v.i != b[i].v.i)
                return false;
            break;
        case SCHEMA_FLOAT:
            if (a[i].v.f != b[i].v.f)
                return false;
            break;
        default:
            if (a[i].v.s.len != b[i].v.s.len || memcmp(a[i].v.s.p, b[i].v.s.p, a[i].v.s.len) != 0)
                return false;
            break;
        }
    }
    return true;
}

/* Rows of `stride` values, whose first npk values are the key: -1 if all
 * keys are distinct, else the index of the first repeat. CORE_ENOMEM.
 *
 * Large batches make this a walk over a table much larger than the cache,
 * so the keys are hashed first, in one sequential pass, and each probe
 * prefetches the slot of a key PROBE_AHEAD rows later; a slot keeps 32
 * bits of the hash beside the row, so rows are compared only when those
 * match. */
#define PROBE_AHEAD 16

static int64_t first_repeat(const schema_value_t *rows, size_t nrows, size_t stride, size_t npk)
{
    if (nrows < 2)
        return -1;
    size_t cap = 16;
    while (cap < nrows * 2)
        cap *= 2;
    uint64_t *slots = core_calloc(CORE_MEM_STORE, cap, sizeof(*slots)); /* tag << 32 | row + 1 */
    uint64_t *hashes = core_calloc(CORE_MEM_STORE, nrows, sizeof(*hashes));
    int64_t found = slots != NULL && hashes != NULL ? -1 : CORE_ENOMEM;
    for (size_t r = 0; found == -1 && r < nrows; r++)
        hashes[r] = key_hash(rows + r * stride, npk);
    for (size_t r = 0; found == -1 && r < nrows; r++) {
        if (r + PROBE_AHEAD < nrows)
            __builtin_prefetch(&slots[hashes[r + PROBE_AHEAD] & (cap - 1)], 1);
        const schema_value_t *k = rows + r * stride;
        uint64_t tag = hashes[r] >> 32 << 32;
        size_t i = (size_t)hashes[r] & (cap - 1);
        for (; slots[i] != 0; i = (i + 1) & (cap - 1)) {
            uint64_t s = slots[i];
            if ((s & ~(uint64_t)UINT32_MAX) == tag &&
                key_equal(rows + (size_t)((uint32_t)s - 1) * stride, k, npk)) {
                found = (int64_t)r;
                break;
            }
        }
        slots[i] = tag | (uint64_t)(r + 1);
    }
    core_free(slots);
    core_free(hashes);
    return found;
}

int store_batch_check(const store_batch_t *b)
{
    for (size_t i = 0; i < b->ntabs; i++) {
        const store_batch_tab_t *e = &b->tabs[i];
        const store_table_def_t *d = &e->table->def;
        if (e->nup >= UINT32_MAX || e->ndel >= UINT32_MAX)
            return core_error(CORE_EINVAL, "store: table %s: too many rows in one batch", d->name);
        int64_t up = first_repeat(e->up, e->nup, d->ncolumns, d->npk);
        int64_t del = up >= -1 ? first_repeat(e->del, e->ndel, d->npk, d->npk) : -1;
        if (up == CORE_ENOMEM || del == CORE_ENOMEM)
            return core_error(CORE_ENOMEM, "store: table %s: out of memory", d->name);
        if (up >= 0 || del >= 0)
            return core_error(CORE_EINVAL,
                              "store: table %s: the batch %s the same primary key twice "
                              "(row %lld); collapse repeated keys before committing",
                              d->name, up >= 0 ? "upserts" : "deletes",
                              (long long)(up >= 0 ? up : del));
    }
    return CORE_OK;
}

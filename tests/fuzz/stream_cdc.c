/*
 * tests/fuzz/stream_cdc.c - libFuzzer target for the cdc kind's handling of
 * one record value (src/stream/kind_cdc.c): envelope scanning, unwrapping
 * {schema, payload}, decoding `after` / `before` with a schema that has
 * every kind of check and a cross-field rule, and building the upsert or
 * delete.
 *
 * For each input, the value of one record goes through the kind's
 * process() on a task built once against an in-memory SQLite store.
 * Oracles:
 *   1. process() returns 0: nothing a record holds may stop a pipeline
 *      (one record cannot claim a key twice, so STREAM_NEED_COMMIT cannot
 *      happen either);
 *   2. exactly one of the counters valid, invalid, filtered moves, by one;
 *   3. the batch then holds exactly one operation (an upsert, a delete or a
 *      dlq row), except for a filtered tombstone, which adds nothing;
 *   4. every fourth input's batch commits to the store without error.
 * Any broken oracle calls abort(), which is what the fuzzer reports.
 *
 * Invariants: the schema, pipeline, store and task are built once and
 * reused (as a pipeline thread does); per input only the batch, the
 * scratch and the claimed keys are reset.
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "stream/stream_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static schema_t *schema;
static stream_pipeline_t *pipeline;
static store_t *store;
static store_batch_t *batch;
static stream_stats_t stats;
static stream_task_t task;
static uint64_t inputs;

static void build_schema(void)
{
    static const char *const colours[] = {"red", "green", "blue"};
    schema_field_def_t f[] = {
        {.name = "id", .type = SCHEMA_INT, .required = true, .min_length = -1, .max_length = -1},
        {.name = "name",
         .type = SCHEMA_STRING,
         .required = true,
         .min_length = 1,
         .max_length = 20,
         .pattern = "[A-Za-z ]+"},
        {.name = "colour",
         .type = SCHEMA_STRING,
         .enum_values = colours,
         .n_enum = 3,
         .min_length = -1,
         .max_length = -1},
        {.name = "price",
         .type = SCHEMA_FLOAT,
         .has_min = true,
         .min = 0,
         .has_max = true,
         .max = 1e6,
         .min_length = -1,
         .max_length = -1},
        {.name = "at", .type = SCHEMA_TIMESTAMP, .min_length = -1, .max_length = -1},
        {.name = "ok", .type = SCHEMA_BOOL, .min_length = -1, .max_length = -1},
        {.name = "tags", .type = SCHEMA_ARRAY, .min_length = -1, .max_length = -1},
        {.name = "meta", .type = SCHEMA_OBJECT, .min_length = -1, .max_length = -1},
    };
    check(schema_create("item", &schema) == 0);
    for (size_t i = 0; i < CORE_ARRAY_LEN(f); i++)
        check(schema_add_field(schema, &f[i]) == 0);
    check(schema_add_rule(schema, "cheap_red", "colour <> 'red' or price < 100", NULL) == 0);
    schema_set_limits(schema, 4096, 8);
    check(schema_seal(schema) == 0);
}

static void setup(void)
{
    core_log_set_level(CORE_LOG_OFF);
    build_schema();
    static const char *const pk[] = {"id", "name"};
    stream_pipeline_def_t d = {
        .name = "fuzz",
        .kind = STREAM_KIND_CDC,
        .topic = "t",
        .schema = schema,
        .table = "items",
        .primary_key = pk,
        .npk = 2,
    };
    check(stream_pipeline_compile(&d, NULL, NULL, &pipeline) == 0);
    check(store_open("sqlite::memory:", &store) == 0);
    check(store_migrate(store) == 0);
    check(pipeline->ops->prepare(pipeline, store) == 0);
    check(store_batch_create(&batch) == 0);
    task.p = pipeline;
    task.batch = batch;
    task.stats = &stats;
    check(schema_row_init(&task.row, schema) == 0);
    core_buf_init(&task.scratch, CORE_MEM_STREAM, 256 * 1024);
    check(pipeline->ops->task_init(&task, store) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (pipeline == NULL)
        setup();
    /* A copy of exactly `size` bytes, so reads past the value are caught;
     * an input starting with 0xff is a tombstone. */
    bool tombstone = size > 0 && data[0] == 0xff;
    char *value = tombstone ? NULL : core_alloc(CORE_MEM_TEST, size > 0 ? size : 1);
    check(tombstone || value != NULL);
    if (value != NULL && size > 0)
        memcpy(value, data, size);
    bus_record_t rec = {
        .key = "k",
        .key_len = 1,
        .value = value,
        .value_len = tombstone ? 0 : size,
        .offset = (int64_t)inputs,
        .timestamp_ms = 1700000000000,
    };
    core_buf_reset(&task.scratch);
    task.env.fields = task.row.values;
    task.env.key = (schema_value_t){.type = SCHEMA_STRING, .v.s = {"k", 1}};
    task.env.offset = rec.offset;
    task.env.timestamp_us = rec.timestamp_ms * 1000;
    task.event_us = task.env.timestamp_us;
    int64_t before = stats.valid + stats.invalid + stats.filtered;
    int64_t filtered = stats.filtered;
    check(pipeline->ops->process(&task, &rec) == 0);
    check(stats.valid + stats.invalid + stats.filtered == before + 1);
    check(store_batch_rows(batch) == (stats.filtered > filtered ? 0u : 1u));
    if (++inputs % 4 == 0)
        check(store_commit(store, batch) == 0);
    store_batch_reset(batch);
    if (task.keys.count > 0)
        memset(task.keys.slots, 0, task.keys.cap * sizeof *task.keys.slots);
    task.keys.count = 0;
    core_free(value);
    return 0;
}

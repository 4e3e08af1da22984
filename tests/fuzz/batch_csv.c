/*
 * tests/fuzz/batch_csv.c - libFuzzer target for the import job's CSV
 * reader, with oracles.
 *
 * The first input byte picks the options (delimiter ',', ';', TAB or '|';
 * small or default caps; the fast or the byte-at-a-time reference reader),
 * the rest is the CSV text. For each input:
 *   1. every record lies inside the input: start < end <= size, starts
 *      grow, ends are the next record's start or skip only empty lines;
 *   2. line numbers never go backwards, and a record's fields and raw
 *      bytes respect the caps (max_record bytes, max_fields fields);
 *   3. a record without a fault has raw bytes no shorter than its decoded
 *      fields together;
 *   4. the reader's digest after the end equals SHA-256 of the input;
 *   5. resuming after the first record (skip_to its end and next line)
 *      yields the same next record as reading straight on.
 * Any broken oracle calls abort().
 *
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "batch/csv_int.h"
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void options(uint8_t b, batch_csv_opts_t *o)
{
    static const char delims[4] = {',', ';', '\t', '|'};
    o->delimiter = delims[b & 3];
    o->max_record = (b & 4) ? 16 : 0;
    o->max_fields = (b & 8) ? 3 : 0;
    o->reference = (b & 16) != 0;
}

typedef struct {
    int64_t line, end, next_line;
    size_t nfields;
    size_t len0; /* length of field 0 */
    bool seen;
} first_t;

static void check_record(const batch_csv_record_t *r, const batch_csv_opts_t *o, size_t size,
                         int64_t prev_end, int64_t prev_line)
{
    size_t max_record = o->max_record ? o->max_record : BATCH_CSV_MAX_RECORD;
    size_t max_fields = o->max_fields ? o->max_fields : BATCH_CSV_MAX_FIELDS;
    check(r->start >= prev_end && r->start < r->end && (size_t)r->end <= size);
    check(r->line >= prev_line);
    check(r->raw_len <= max_record && r->nfields <= max_fields && r->nfields >= 1);
    size_t total = 0;
    for (size_t i = 0; i < r->nfields; i++) {
        check(r->fields[i].len <= max_record);
        total += r->fields[i].len;
    }
    if (r->fault == BATCH_CSV_OK)
        check(total <= r->raw_len && r->error[0] == '\0');
    else
        check(r->error[0] != '\0');
}

/* Reads everything; fills *first from the second record (the one after
 * the first), to compare with a resumed read. */
static void read_through(const uint8_t *p, size_t n, const batch_csv_opts_t *o, first_t *first)
{
    batch_csv_t *c;
    if (batch_csv_open_mem("fuzz.csv", p, n, o, &c) != 0)
        abort();
    batch_csv_record_t r;
    int64_t prev_end = 0, prev_line = 1;
    int rc, k = 0;
    while ((rc = batch_csv_next(c, &r)) == 1) {
        check_record(&r, o, n, prev_end, prev_line);
        if (k == 0) {
            first->end = r.end;
            first->next_line = batch_csv_line(c);
        } else if (k == 1) {
            first->seen = true;
            first->line = r.line;
            first->nfields = r.nfields;
            first->len0 = r.fields[0].len;
        }
        prev_end = r.end;
        prev_line = r.line;
        k++;
    }
    check(rc == 0);
    uint8_t d1[32], d2[32];
    batch_csv_digest(c, d1);
    core_sha256_t s;
    core_sha256_init(&s);
    core_sha256_update(&s, p, n);
    core_sha256_final(&s, d2);
    check(memcmp(d1, d2, 32) == 0);
    batch_csv_close(c);
}

static void resume(const uint8_t *p, size_t n, const batch_csv_opts_t *o, const first_t *first)
{
    batch_csv_t *c;
    if (batch_csv_open_mem("fuzz.csv", p, n, o, &c) != 0)
        abort();
    batch_csv_record_t r;
    check(batch_csv_next(c, &r) == 1);
    check(batch_csv_skip_to(c, first->end, first->next_line) == 0);
    int rc = batch_csv_next(c, &r);
    check(rc == (first->seen ? 1 : 0));
    if (rc == 1)
        check(r.line == first->line && r.nfields == first->nfields &&
              r.fields[0].len == first->len0);
    batch_csv_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    batch_csv_opts_t o = {0};
    options(data[0], &o);
    first_t first = {0};
    first.end = -1;
    read_through(data + 1, size - 1, &o, &first);
    if (first.end >= 0)
        resume(data + 1, size - 1, &o, &first);
    return 0;
}

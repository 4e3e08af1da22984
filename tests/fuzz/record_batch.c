/*
 * tests/fuzz/record_batch.c - libFuzzer target for the RecordBatch v2
 * decoder, with a re-encode oracle.
 *
 * For each input: peek the size (two caps), parse the header with and
 * without the CRC check, and iterate every record and header. When a batch
 * iterates cleanly, rebuild it with record_builder_t and require the rebuilt
 * batch to yield the same timestamps, keys, values and headers; any
 * difference calls abort(), which is what the fuzzer reports.
 *
 * Invariants: every allocation made for an input is freed before returning
 * (the builder is finished with fini, so LeakSanitizer stays quiet).
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "record/record.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest batch the oracle rebuilds; larger inputs are only decoded. */
#define REBUILD_MAX (1u << 20)

static bool same_bytes(const uint8_t *a, int32_t alen, const uint8_t *b, int32_t blen)
{
    if (alen != blen || (a == NULL) != (b == NULL))
        return false;
    return alen <= 0 || memcmp(a, b, (size_t)alen) == 0;
}

/* Walks a record's headers; returns the count, or -1 on a decode error. */
static int32_t walk_headers(const record_t *r)
{
    const uint8_t *p = r->headers;
    const uint8_t *end = r->headers + r->headers_len;
    record_header_t h;
    int32_t n = 0;
    int rc;
    while ((rc = record_header_next(&p, end, &h)) == 1)
        n++;
    return rc < 0 ? -1 : n;
}

/* Decodes every record; returns true if the whole batch is valid. */
static bool decode_all(const uint8_t *data, size_t size, bool check_crc)
{
    record_iter_t it;
    record_t r;
    int rc;
    if (record_iter_init(&it, data, size, check_crc) < 0)
        return false;
    while ((rc = record_iter_next(&it, &r)) == 1) {
        /* The iterator validated the header section, so walking it again
         * must succeed and find exactly header_count headers. */
        if (walk_headers(&r) != r.header_count)
            abort();
    }
    return rc == 0;
}

static bool same_headers(const record_t *a, const record_t *b)
{
    const uint8_t *pa = a->headers, *pb = b->headers;
    const uint8_t *ea = pa + a->headers_len, *eb = pb + b->headers_len;
    record_header_t ha, hb;
    int ra, rb;
    if (a->header_count != b->header_count)
        return false;
    while ((ra = record_header_next(&pa, ea, &ha)) == 1) {
        rb = record_header_next(&pb, eb, &hb);
        if (rb != 1 || !same_bytes(ha.key, ha.key_len, hb.key, hb.key_len) ||
            !same_bytes(ha.value, ha.value_len, hb.value, hb.value_len))
            return false;
    }
    return ra == 0 && record_header_next(&pb, eb, &hb) == 0;
}

/* Adds one record to the builder, decoding its headers into `hdrs`. */
static int add_record(record_builder_t *b, const record_t *r, record_header_t *hdrs)
{
    const uint8_t *p = r->headers;
    const uint8_t *end = r->headers + r->headers_len;
    for (int32_t i = 0; i < r->header_count; i++)
        if (record_header_next(&p, end, &hdrs[i]) != 1)
            abort();
    return record_builder_add(b, r->timestamp, r->key, r->key_len, r->value, r->value_len,
                              r->header_count ? hdrs : NULL, r->header_count);
}

/* Compares the records of two batches, which must both iterate cleanly. */
static void compare_batches(const uint8_t *orig, size_t orig_len, const uint8_t *copy,
                            size_t copy_len)
{
    record_iter_t a, b;
    record_t ra, rb;
    int rca, rcb;
    if (record_iter_init(&a, orig, orig_len, false) < 0 ||
        record_iter_init(&b, copy, copy_len, true) < 0)
        abort();
    do {
        rca = record_iter_next(&a, &ra);
        rcb = record_iter_next(&b, &rb);
        if (rca != rcb || rca < 0)
            abort();
        if (rca == 1 &&
            (ra.timestamp != rb.timestamp || !same_bytes(ra.key, ra.key_len, rb.key, rb.key_len) ||
             !same_bytes(ra.value, ra.value_len, rb.value, rb.value_len) ||
             !same_headers(&ra, &rb)))
            abort();
    } while (rca == 1);
}

static void rebuild_and_compare(const uint8_t *data, size_t size)
{
    record_iter_t it;
    record_t r;
    record_builder_t b;
    /* Every header takes >= 2 bytes, so no record has more than this.
     * `size` is the batch's own size here, not the input's. */
    size_t max_headers = size / 2 + 1;
    record_header_t *hdrs = malloc(max_headers * sizeof(*hdrs));
    if (!hdrs)
        return;
    /* Canonical varints can grow a record by at most ~20 bytes. */
    record_builder_init(&b, CORE_MEM_TEST, size * 4 + 4096);
    if (record_iter_init(&it, data, size, false) < 0)
        abort();
    while (record_iter_next(&it, &r) == 1) {
        if (add_record(&b, &r, hdrs) < 0)
            abort();
    }
    uint8_t *batch = NULL;
    size_t len = 0;
    if (record_builder_count(&b) > 0) {
        if (record_builder_finish(&b, &batch, &len) < 0)
            abort();
        compare_batches(data, size, batch, len);
    }
    record_builder_fini(&b);
    free(hdrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t total = 0;
    record_batch_header_t h;
    (void)record_batch_peek_size(data, size, 4096, &total);
    if (record_batch_peek_size(data, size, SIZE_MAX, &total) < 0)
        return 0;
    int rc_nocrc = record_batch_parse(data, size, false, &h);
    int rc_crc = record_batch_parse(data, size, true, &h);
    /* The CRC check can only add failures. */
    if (rc_nocrc < 0 && rc_crc != rc_nocrc)
        abort();
    if (rc_nocrc < 0)
        return 0;
    if (record_batch_size(&h) != total || total > size)
        abort();
    (void)decode_all(data, size, true);
    if (decode_all(data, size, false) && total <= REBUILD_MAX)
        rebuild_and_compare(data, total);
    return 0;
}

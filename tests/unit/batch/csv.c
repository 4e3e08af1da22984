/*
 * Unit tests of the import job's CSV reader (src/batch/csv.c): RFC 4180
 * quoting, CRLF and LF, the byte order mark, delimiters, physical line
 * numbers of records that span lines, faulty records that the reader
 * reports and gets past, the caps, resuming at a record's end, the
 * SHA-256 of the input, reading a file in several blocks, and the fast
 * path against the byte-at-a-time reference reader on random input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch/csv_int.h"
#include "core/core.h"

/* The records of text as "f1|f2|...", one string each (caller frees). */
typedef struct {
    char *rec[32];
    int64_t line[32];
    batch_csv_fault_t fault[32];
    size_t n;
} got_t;

static void got_free(got_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->rec[i]);
}

static void join(const batch_csv_record_t *r, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->nfields && n + 1 < cap; i++) {
        int w = snprintf(out + n, cap - n, "%s%.*s", i ? "|" : "", (int)r->fields[i].len,
                         r->fields[i].p);
        n += w > 0 ? (size_t)w : 0;
    }
}

static void read_all(const char *text, size_t len, const batch_csv_opts_t *o, got_t *g)
{
    batch_csv_t *c;
    memset(g, 0, sizeof *g);
    assert_int_equal(batch_csv_open_mem("t.csv", text, len, o, &c), 0);
    batch_csv_record_t r;
    int rc;
    while ((rc = batch_csv_next(c, &r)) == 1) {
        assert_true(g->n < 32);
        char buf[1024];
        join(&r, buf, sizeof buf);
        g->rec[g->n] = strdup(buf);
        g->line[g->n] = r.line;
        g->fault[g->n] = r.fault;
        g->n++;
    }
    assert_int_equal(rc, 0);
    batch_csv_close(c);
}

static void test_rfc4180_quoting(void **state)
{
    (void)state;
    const char text[] = "a,b,c\n"
                        "1,\"x, y\",\"he said \"\"hi\"\"\"\n"
                        "\"\",,\"\"\"\"\n"
                        "\"multi\nline\",2,3\n";
    got_t g;
    read_all(text, sizeof text - 1, NULL, &g);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.rec[0], "a|b|c");
    assert_string_equal(g.rec[1], "1|x, y|he said \"hi\"");
    assert_string_equal(g.rec[2], "||\"");
    assert_string_equal(g.rec[3], "multi\nline|2|3");
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.fault[i], BATCH_CSV_OK);
    got_free(&g);
}

static void test_crlf_lf_and_last_line(void **state)
{
    (void)state;
    /* CRLF and LF mixed; a CR inside a quoted field stays; a lone CR in an
     * unquoted field is data; the last record has no line end. */
    const char text[] = "a,b\r\n1,\"q\r\nq\"\r\nx\ry,2\n3,4";
    got_t g;
    read_all(text, sizeof text - 1, NULL, &g);
    assert_int_equal(g.n, 4);
    assert_string_equal(g.rec[0], "a|b");
    assert_string_equal(g.rec[1], "1|q\r\nq");
    assert_string_equal(g.rec[2], "x\ry|2");
    assert_string_equal(g.rec[3], "3|4");
    assert_int_equal(g.line[3], 5);
    got_free(&g);
}

static void test_trailing_cr_and_empty_fields(void **state)
{
    (void)state;
    const char text[] = "a,b,\r\n,\r";
    got_t g;
    read_all(text, sizeof text - 1, NULL, &g);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.rec[0], "a|b|");
    assert_string_equal(g.rec[1], "|");
    got_free(&g);
}

static void test_bom_and_delimiter(void **state)
{
    (void)state;
    const char text[] = "\xEF\xBB\xBF"
                        "name;amount (INR)\n"
                        "\"a;b\";1,5\n";
    batch_csv_opts_t o = {.delimiter = ';'};
    got_t g;
    read_all(text, sizeof text - 1, &o, &g);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.rec[0], "name|amount (INR)");
    assert_string_equal(g.rec[1], "a;b|1,5");
    got_free(&g);
    /* A BOM anywhere else is data. */
    const char mid[] = "x\n\xEF\xBB\xBFy\n";
    read_all(mid, sizeof mid - 1, NULL, &g);
    assert_string_equal(g.rec[1], "\xEF\xBB\xBFy");
    got_free(&g);
}

static void test_line_numbers_and_blank_lines(void **state)
{
    (void)state;
    const char text[] = "h1,h2\n"         /* line 1 */
                        "\n"              /* 2: skipped */
                        "\"a\nb\nc\",d\n" /* 3-5 */
                        "\r\n"            /* 6: skipped */
                        "e,f\n";          /* 7 */
    got_t g;
    read_all(text, sizeof text - 1, NULL, &g);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.line[0], 1);
    assert_int_equal(g.line[1], 3);
    assert_int_equal(g.line[2], 7);
    got_free(&g);
}

static void test_record_offsets_and_raw(void **state)
{
    (void)state;
    const char text[] = "a,b\r\n\"x\"\"y\",2\r\n";
    batch_csv_t *c;
    batch_csv_record_t r;
    assert_int_equal(batch_csv_open_mem("t.csv", text, sizeof text - 1, NULL, &c), 0);
    assert_int_equal(batch_csv_next(c, &r), 1);
    assert_int_equal(r.start, 0);
    assert_int_equal(r.end, 5);
    assert_int_equal(r.raw_len, 3);
    assert_memory_equal(r.raw, "a,b", 3);
    assert_int_equal(batch_csv_next(c, &r), 1);
    assert_int_equal(r.start, 5);
    assert_int_equal(r.end, (int64_t)sizeof text - 1);
    assert_int_equal(r.raw_len, 8);
    assert_memory_equal(r.raw, "\"x\"\"y\",2", 8);
    assert_true(r.fields[0].quoted);
    assert_false(r.fields[1].quoted);
    assert_int_equal(batch_csv_line(c), 3);
    assert_int_equal(batch_csv_next(c, &r), 0);
    batch_csv_close(c);
}

static void test_faults_are_reported_and_passed(void **state)
{
    (void)state;
    const char text[] = "a,b\n"
                        "\"x\"y,2\n" /* character after the closing quote */
                        "ok,3\n"
                        "q\"uote,4\n" /* a quote inside an unquoted field: data */
                        "\"open,5\nstill open";
    got_t g;
    read_all(text, sizeof text - 1, NULL, &g);
    assert_int_equal(g.n, 5);
    assert_int_equal(g.fault[1], BATCH_CSV_BAD_QUOTE);
    assert_string_equal(g.rec[1], "xy|2");
    assert_int_equal(g.fault[2], BATCH_CSV_OK);
    assert_string_equal(g.rec[2], "ok|3");
    assert_int_equal(g.fault[3], BATCH_CSV_OK);
    assert_string_equal(g.rec[3], "q\"uote|4");
    assert_int_equal(g.fault[4], BATCH_CSV_UNTERMINATED);
    assert_int_equal(g.line[4], 5);
    got_free(&g);
}

static void test_fault_messages_name_the_line(void **state)
{
    (void)state;
    const char text[] = "a\n\"x\"y\n";
    batch_csv_t *c;
    batch_csv_record_t r;
    assert_int_equal(batch_csv_open_mem("t.csv", text, sizeof text - 1, NULL, &c), 0);
    assert_int_equal(batch_csv_next(c, &r), 1);
    assert_string_equal(r.error, "");
    assert_int_equal(batch_csv_next(c, &r), 1);
    assert_int_equal(r.fault, BATCH_CSV_BAD_QUOTE);
    assert_non_null(strstr(r.error, "line 2:"));
    assert_non_null(strstr(r.error, "'y'"));
    batch_csv_close(c);
}

static void test_caps(void **state)
{
    (void)state;
    batch_csv_opts_t o = {.max_record = 8, .max_fields = 3};
    const char text[] = "a,b,c\n"
                        "1,2,3,4\n"         /* too many fields */
                        "123456789,x\n"     /* too long */
                        "\"1234\n56789\"\n" /* too long, over two lines */
                        "x,y\n";
    got_t g;
    read_all(text, sizeof text - 1, &o, &g);
    assert_int_equal(g.n, 5);
    assert_int_equal(g.fault[0], BATCH_CSV_OK);
    assert_int_equal(g.fault[1], BATCH_CSV_TOO_MANY);
    assert_string_equal(g.rec[1], "1|2|3");
    assert_int_equal(g.fault[2], BATCH_CSV_TOO_LONG);
    assert_int_equal(g.fault[3], BATCH_CSV_TOO_LONG);
    assert_int_equal(g.line[3], 4);
    assert_int_equal(g.fault[4], BATCH_CSV_OK);
    assert_string_equal(g.rec[4], "x|y");
    assert_int_equal(g.line[4], 6);
    got_free(&g);
}

static void test_raw_is_capped(void **state)
{
    (void)state;
    batch_csv_opts_t o = {.max_record = 4};
    const char text[] = "abcdefgh\n";
    batch_csv_t *c;
    batch_csv_record_t r;
    assert_int_equal(batch_csv_open_mem("t.csv", text, sizeof text - 1, &o, &c), 0);
    assert_int_equal(batch_csv_next(c, &r), 1);
    assert_int_equal(r.fault, BATCH_CSV_TOO_LONG);
    assert_int_equal(r.raw_len, 4);
    assert_true(r.fields[0].len <= 4);
    assert_int_equal(r.end, 9);
    batch_csv_close(c);
}

static void test_bad_delimiter_refused(void **state)
{
    (void)state;
    batch_csv_t *c = NULL;
    batch_csv_opts_t o = {.delimiter = '"'};
    assert_int_equal(batch_csv_open_mem("t.csv", "a", 1, &o, &c), CORE_EINVAL);
    assert_null(c);
    o.delimiter = '\n';
    assert_int_equal(batch_csv_open_mem("t.csv", "a", 1, &o, &c), CORE_EINVAL);
}

static void test_skip_to_resumes(void **state)
{
    (void)state;
    const char text[] = "h\n\"a\nb\"\nc\nd\n";
    batch_csv_t *c;
    batch_csv_record_t r;
    assert_int_equal(batch_csv_open_mem("t.csv", text, sizeof text - 1, NULL, &c), 0);
    assert_int_equal(batch_csv_next(c, &r), 1);
    assert_int_equal(batch_csv_next(c, &r), 1);
    int64_t end = r.end, line = batch_csv_line(c);
    assert_int_equal(line, 4);
    batch_csv_close(c);

    assert_int_equal(batch_csv_open_mem("t.csv", text, sizeof text - 1, NULL, &c), 0);
    assert_int_equal(batch_csv_next(c, &r), 1); /* the header */
    assert_int_equal(batch_csv_skip_to(c, end, line), 0);
    assert_int_equal(batch_csv_next(c, &r), 1);
    assert_int_equal(r.line, 4);
    assert_memory_equal(r.fields[0].p, "c", 1);
    assert_int_equal(batch_csv_skip_to(c, 0, 1), CORE_EINVAL);
    assert_int_equal(batch_csv_skip_to(c, 1000, 9), CORE_ETRUNC);
    batch_csv_close(c);
}

static void test_digest_of_the_input(void **state)
{
    (void)state;
    /* SHA-256("abc") */
    static const char want[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    batch_csv_t *c;
    batch_csv_record_t r;
    uint8_t d[32];
    char hex[65];
    assert_int_equal(batch_csv_open_mem("t.csv", "abc", 3, NULL, &c), 0);
    while (batch_csv_next(c, &r) == 1)
        ;
    batch_csv_digest(c, d);
    core_sha256_hex(d, hex);
    assert_string_equal(hex, want);
    assert_int_equal(batch_csv_bytes_read(c), 3);
    batch_csv_close(c);
}

/* A file bigger than the reader's 256 KiB block, with records and a BOM
 * crossing block boundaries, reads the same as from memory. */
static void test_file_in_blocks(void **state)
{
    (void)state;
    char path[] = "/tmp/strata-csv-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 22);
    assert_int_equal(core_buf_append_str(&b, "\xEF\xBB\xBFid,text\r\n"), 0);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(
            core_buf_printf(&b, "%d,\"row %d, \"\"quoted\"\"\nsecond line\"\r\n", i, i), 0);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);

    batch_csv_t *f, *m;
    batch_csv_record_t rf, rm;
    assert_int_equal(batch_csv_open(path, NULL, &f), 0);
    assert_int_equal(batch_csv_open_mem("mem", b.data, b.len, NULL, &m), 0);
    int n = 0, a, z;
    while ((a = batch_csv_next(f, &rf)) == 1) {
        z = batch_csv_next(m, &rm);
        assert_int_equal(z, 1);
        assert_int_equal(rf.line, rm.line);
        assert_int_equal(rf.end, rm.end);
        assert_int_equal(rf.nfields, 2);
        assert_int_equal(rf.fields[1].len, rm.fields[1].len);
        assert_memory_equal(rf.fields[1].p, rm.fields[1].p, rf.fields[1].len);
        n++;
    }
    assert_int_equal(a, 0);
    assert_int_equal(batch_csv_next(m, &rm), 0);
    assert_int_equal(n, 20001);
    assert_int_equal(rf.line, 1 + 2 * 20000 - 1);
    uint8_t d1[32], d2[32];
    batch_csv_digest(f, d1);
    batch_csv_digest(m, d2);
    assert_memory_equal(d1, d2, 32);
    batch_csv_close(f);
    batch_csv_close(m);
    core_buf_fini(&b);
    unlink(path);
}

/* Every allocation failing in turn: the reader reports CORE_ENOMEM and
 * leaks nothing (ASan's leak checker runs on this test). */
static void test_allocation_failures(void **state)
{
    (void)state;
    const char text[] = "a,b\n\"long field, with quotes \"\"\",2\n3,4\n";
    for (long n = 1; n < 40; n++) {
        batch_csv_t *c = NULL;
        batch_csv_record_t r;
        core_mem_fail_at(n, false);
        int rc = batch_csv_open_mem("t.csv", text, sizeof text - 1, NULL, &c);
        if (rc == 0)
            while ((rc = batch_csv_next(c, &r)) == 1)
                ;
        core_mem_fail_at(0, false);
        assert_true(rc == 0 || rc == CORE_ENOMEM);
        batch_csv_close(c);
    }
}

/* ---- The fast path against the reference reader: every record the same
 * (fields, quoting, line, offsets, raw bytes, fault and message), the same
 * line after it, the same digest at the end. */

static uint64_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Random CSV-ish text: mostly plain cells, with quotes, escapes, CR, LF,
 * blank lines, both delimiters and stray bytes mixed in. */
static void random_csv(uint64_t *s, core_buf_t *b, size_t len)
{
    static const char *const pieces[] = {
        "a",    "bc",      "12.5", ",",  ",",    ",", "\n",           "\n",       "\r\n", "\"",
        "\"\"", "\"x,y\"", ";",    "\r", "\n\n", " ", "\xEF\xBB\xBF", "\xC3\xA9", "\t",   "\"\n\"",
    };
    while (b->len < len) {
        const char *p = pieces[rnd(s) % CORE_ARRAY_LEN(pieces)];
        assert_int_equal(core_buf_append_str(b, p), 0);
    }
}

static void same_record(const batch_csv_record_t *a, const batch_csv_record_t *b)
{
    assert_int_equal(a->nfields, b->nfields);
    for (size_t i = 0; i < a->nfields; i++) {
        assert_int_equal(a->fields[i].len, b->fields[i].len);
        assert_int_equal(a->fields[i].quoted, b->fields[i].quoted);
        if (a->fields[i].len > 0)
            assert_memory_equal(a->fields[i].p, b->fields[i].p, a->fields[i].len);
    }
    assert_int_equal(a->line, b->line);
    assert_int_equal(a->start, b->start);
    assert_int_equal(a->end, b->end);
    assert_int_equal(a->raw_len, b->raw_len);
    if (a->raw_len > 0)
        assert_memory_equal(a->raw, b->raw, a->raw_len);
    assert_int_equal(a->fault, b->fault);
    assert_string_equal(a->error, b->error);
}

/* Reads F (fast) and R (reference) side by side to the end. */
static void same_reading(batch_csv_t *f, batch_csv_t *r)
{
    batch_csv_record_t rf, rr;
    int a, z;
    do {
        a = batch_csv_next(f, &rf);
        z = batch_csv_next(r, &rr);
        assert_int_equal(a, z);
        if (a == 1)
            same_record(&rf, &rr);
        assert_int_equal(batch_csv_line(f), batch_csv_line(r));
    } while (a == 1);
    uint8_t d1[32], d2[32];
    batch_csv_digest(f, d1);
    batch_csv_digest(r, d2);
    assert_memory_equal(d1, d2, 32);
    assert_int_equal(batch_csv_bytes_read(f), batch_csv_bytes_read(r));
}

static void test_fast_path_matches_reference(void **state)
{
    (void)state;
    uint64_t s = 7;
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 16);
    for (int round = 0; round < 20000; round++) {
        core_buf_reset(&b);
        random_csv(&s, &b, rnd(&s) % 200);
        uint64_t k = rnd(&s);
        batch_csv_opts_t o = {.delimiter = k & 1 ? ';' : ',',
                              .max_record = k & 2 ? 1 + rnd(&s) % 24 : 0,
                              .max_fields = k & 4 ? 1 + rnd(&s) % 5 : 0};
        batch_csv_opts_t ref = o;
        ref.reference = true;
        batch_csv_t *f, *r;
        assert_int_equal(batch_csv_open_mem("t.csv", b.data, b.len, &o, &f), 0);
        assert_int_equal(batch_csv_open_mem("t.csv", b.data, b.len, &ref, &r), 0);
        same_reading(f, r);
        batch_csv_close(f);
        batch_csv_close(r);
    }
    core_buf_fini(&b);
}

/* From a file: records cross the read buffer's edges at random places, and
 * one field (300 KiB) is longer than the buffer. */
static void test_fast_path_matches_reference_in_a_file(void **state)
{
    (void)state;
    char path[] = "/tmp/strata-csv-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 23);
    uint64_t s = 11;
    random_csv(&s, &b, 700 * 1024);
    assert_int_equal(core_buf_append_str(&b, "\n\""), 0);
    for (int i = 0; i < 300 * 1024; i++)
        assert_int_equal(core_buf_append_u8(&b, i % 5000 == 0 ? '\n' : 'x'), 0);
    assert_int_equal(core_buf_append_str(&b, "\",1\r\n"), 0);
    random_csv(&s, &b, 1500 * 1024);
    assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
    close(fd);
    batch_csv_opts_t ref = {.reference = true};
    batch_csv_t *f, *r, *m;
    assert_int_equal(batch_csv_open(path, NULL, &f), 0);
    assert_int_equal(batch_csv_open(path, &ref, &r), 0);
    same_reading(f, r);
    batch_csv_close(f);
    batch_csv_close(r);
    assert_int_equal(batch_csv_open(path, NULL, &f), 0);
    assert_int_equal(batch_csv_open_mem("m", b.data, b.len, &ref, &m), 0);
    same_reading(f, m);
    batch_csv_close(f);
    batch_csv_close(m);
    core_buf_fini(&b);
    unlink(path);
}

static void test_missing_file(void **state)
{
    (void)state;
    batch_csv_t *c = NULL;
    assert_int_equal(batch_csv_open("/nonexistent/strata.csv", NULL, &c), CORE_ENOENT);
    assert_non_null(strstr(core_error_detail(), "/nonexistent/strata.csv"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4180_quoting),
        cmocka_unit_test(test_crlf_lf_and_last_line),
        cmocka_unit_test(test_trailing_cr_and_empty_fields),
        cmocka_unit_test(test_bom_and_delimiter),
        cmocka_unit_test(test_line_numbers_and_blank_lines),
        cmocka_unit_test(test_record_offsets_and_raw),
        cmocka_unit_test(test_faults_are_reported_and_passed),
        cmocka_unit_test(test_fault_messages_name_the_line),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_raw_is_capped),
        cmocka_unit_test(test_bad_delimiter_refused),
        cmocka_unit_test(test_skip_to_resumes),
        cmocka_unit_test(test_digest_of_the_input),
        cmocka_unit_test(test_file_in_blocks),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_fast_path_matches_reference),
        cmocka_unit_test(test_fast_path_matches_reference_in_a_file),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

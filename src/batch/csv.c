/*
 * csv.c - the streaming RFC 4180 reader of the import job kind (see
 * csv_int.h for what it accepts).
 *
 * Shape: a byte-at-a-time state machine over a 64 KiB read buffer. Per
 * field the states are
 *
 *   START --'"'--> QUOTED --'"'--> AFTER_QUOTE --'"'--> QUOTED (a "" escape)
 *     |                                 |
 *     +--other--> UNQUOTED              +--delimiter / line end--> field ends
 *                                       +--other--> UNQUOTED, fault BAD_QUOTE
 *
 * and a CR outside quotes looks one byte ahead: CR LF (or CR at the end of
 * the input) ends the record, any other CR is data.
 *
 * Invariants:
 *   1. `pos` is the input offset of the next unconsumed byte; a record's
 *      `end` is `pos` after its terminator, so skip_to(end) resumes there.
 *   2. Every byte fetched from the source is hashed exactly once, in
 *      fetch order, so after the end the digest is the whole input's.
 *   3. Decoded field bytes and raw bytes never exceed max_record each; the
 *      field table never exceeds max_fields entries. Past a cap the record
 *      is scanned to its end without storing, and flagged.
 *
 * Threading: one reader, one thread.
 */
#include "batch/csv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK  (64 * 1024)
#define INITIAL_BUF 4096
#define INITIAL_FLD 64

enum { S_START, S_UNQUOTED, S_QUOTED, S_AFTER_QUOTE };

struct batch_csv {
    char *name;
    int fd;             /* -1 for memory input */
    const uint8_t *buf; /* the read buffer, or the memory input */
    uint8_t *owned;     /* the read buffer when reading a file */
    size_t len, at;     /* bytes in buf, next to consume */
    bool eof;
    bool started;      /* the byte order mark was looked for */
    int64_t pos;       /* input offset of buf[at] */
    int64_t fetched;   /* bytes fetched (and hashed) */
    core_sha256_t sha; /* of the fetched bytes */
    char delim;
    size_t max_record, max_fields;
    int64_t line; /* physical line of the next byte */

    /* The record being read. */
    char *fbuf; /* decoded field bytes */
    size_t flen, fcap;
    char *raw;
    size_t rawlen, rawcap;
    size_t nbytes; /* record bytes seen, uncapped (excluding the terminator) */
    batch_csv_field_t *fields;
    size_t *offs; /* fields[i] starts at fbuf + offs[i] */
    size_t nf, cap_fields;
    size_t field_start;
    bool field_quoted;
    int64_t quote_line; /* where the open quote was */
    batch_csv_fault_t fault;
    char error[200];
};

/* ---- Input. */

/* Fetches the next block. 0, or CORE_EIO. Sets eof when none is left. */
static int fetch(batch_csv_t *c)
{
    if (c->fd < 0) {
        c->eof = true;
        return 0;
    }
    ssize_t n;
    do
        n = read(c->fd, c->owned, READ_CHUNK);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return core_error(CORE_EIO, "%s: read at byte %lld: %s", c->name, (long long)c->fetched,
                          strerror(errno));
    c->buf = c->owned;
    c->len = (size_t)n;
    c->at = 0;
    c->eof = n == 0;
    core_sha256_update(&c->sha, c->buf, c->len);
    c->fetched += n;
    return 0;
}

/* Runs once, before the first byte is looked at: makes sure the first
 * three bytes are in the buffer (or the input is shorter), then skips a
 * UTF-8 byte order mark. */
static int prime(batch_csv_t *c)
{
    c->started = true;
    while (c->fd >= 0 && c->len < 3 && !c->eof) {
        ssize_t n;
        do
            n = read(c->fd, c->owned + c->len, READ_CHUNK - c->len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return core_error(CORE_EIO, "%s: read at byte %lld: %s", c->name, (long long)c->fetched,
                              strerror(errno));
        c->eof = n == 0;
        core_sha256_update(&c->sha, c->owned + c->len, (size_t)n);
        c->fetched += n;
        c->len += (size_t)n;
    }
    if (c->len >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0) {
        c->at = 3;
        c->pos = 3;
    }
    return 0;
}

/* The next byte without consuming it: 0-255, or -1 at the end of the
 * input or on an error (then *rc < 0). */
static int peek(batch_csv_t *c, int *rc)
{
    *rc = 0;
    if (!c->started && (*rc = prime(c)) < 0)
        return -1;
    if (c->at == c->len && !c->eof && (*rc = fetch(c)) < 0)
        return -1;
    if (c->at == c->len)
        return -1;
    return c->buf[c->at];
}

static void consume(batch_csv_t *c)
{
    if (c->buf[c->at] == '\n')
        c->line++;
    c->at++;
    c->pos++;
}

/* ---- Record buffers. */

static void set_fault(batch_csv_t *c, batch_csv_fault_t f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_fault(batch_csv_t *c, batch_csv_fault_t f, const char *fmt, ...)
{
    if (c->fault != BATCH_CSV_OK)
        return; /* the first fault is the one reported */
    c->fault = f;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof c->error, fmt, ap);
    va_end(ap);
}

/* Grows *p (capacity *cap) to hold one more byte, up to max. */
static int grow(char **p, size_t *cap, size_t max)
{
    size_t ncap = *cap == 0 ? INITIAL_BUF : *cap * 2;
    if (ncap > max)
        ncap = max;
    char *n = core_realloc(CORE_MEM_BATCH, *p, ncap);
    if (n == NULL)
        return core_error(CORE_ENOMEM, "csv: out of memory for a record of %zu bytes", ncap);
    *p = n;
    *cap = ncap;
    return 0;
}

/* Appends one byte of the record as it is written. */
static int put_raw(batch_csv_t *c, int64_t line, uint8_t b)
{
    c->nbytes++;
    if (c->rawlen >= c->max_record) {
        set_fault(c, BATCH_CSV_TOO_LONG, "line %lld: record longer than %zu bytes", (long long)line,
                  c->max_record);
        return 0;
    }
    if (c->rawlen == c->rawcap && grow(&c->raw, &c->rawcap, c->max_record) < 0)
        return CORE_ENOMEM;
    c->raw[c->rawlen++] = (char)b;
    return 0;
}

/* Appends one decoded byte to the current field. */
static int put_field(batch_csv_t *c, uint8_t b)
{
    if (c->flen >= c->max_record)
        return 0; /* put_raw has flagged the record already */
    if (c->flen == c->fcap && grow(&c->fbuf, &c->fcap, c->max_record) < 0)
        return CORE_ENOMEM;
    c->fbuf[c->flen++] = (char)b;
    return 0;
}

static int end_field(batch_csv_t *c, int64_t line)
{
    if (c->nf == c->max_fields) {
        set_fault(c, BATCH_CSV_TOO_MANY, "line %lld: more than %zu fields", (long long)line,
                  c->max_fields);
        c->flen = c->field_start;
        return 0;
    }
    if (c->nf == c->cap_fields) {
        size_t ncap = c->cap_fields == 0 ? INITIAL_FLD : CORE_MIN(c->cap_fields * 2, c->max_fields);
        batch_csv_field_t *f = core_realloc(CORE_MEM_BATCH, c->fields, ncap * sizeof *f);
        if (f == NULL)
            return core_error(CORE_ENOMEM, "csv: out of memory for %zu fields", ncap);
        c->fields = f;
        size_t *o = core_realloc(CORE_MEM_BATCH, c->offs, ncap * sizeof *o);
        if (o == NULL)
            return core_error(CORE_ENOMEM, "csv: out of memory for %zu fields", ncap);
        c->offs = o;
        c->cap_fields = ncap;
    }
    c->offs[c->nf] = c->field_start;
    c->fields[c->nf].len = c->flen - c->field_start;
    c->fields[c->nf].quoted = c->field_quoted;
    c->nf++;
    c->field_start = c->flen;
    c->field_quoted = false;
    return 0;
}

/* ---- The state machine. */

typedef struct {
    int state;
    int64_t line; /* where the record started */
    bool done;    /* the record ended (terminator or end of input) */
} scan_t;

/* A CR outside quotes: CR LF or a final CR end the record; any other CR
 * is data. The CR itself has been consumed. */
static int on_cr(batch_csv_t *c, scan_t *s)
{
    int rc;
    int next = peek(c, &rc);
    if (rc < 0)
        return rc;
    if (next == '\n' || next == -1) {
        if (next == '\n')
            consume(c);
        s->done = true;
        return end_field(c, s->line);
    }
    if (s->state == S_AFTER_QUOTE)
        set_fault(c, BATCH_CSV_BAD_QUOTE,
                  "line %lld: field %zu: a CR follows the closing quote (expected '%c' or a line "
                  "end)",
                  (long long)s->line, c->nf + 1, c->delim);
    s->state = S_UNQUOTED;
    rc = put_raw(c, s->line, '\r');
    return rc < 0 ? rc : put_field(c, '\r');
}

/* Outside quotes (START, UNQUOTED, AFTER_QUOTE): a delimiter or LF. */
static int on_separator(batch_csv_t *c, scan_t *s, int b)
{
    int rc = end_field(c, s->line);
    if (b == '\n')
        s->done = true;
    else
        s->state = S_START;
    if (b != '\n' && rc == 0)
        rc = put_raw(c, s->line, (uint8_t)b);
    return rc;
}

static int step(batch_csv_t *c, scan_t *s, int b)
{
    int rc = 0;
    if (s->state == S_QUOTED) {
        if (b == '"') {
            s->state = S_AFTER_QUOTE;
            return put_raw(c, s->line, '"');
        }
        rc = put_raw(c, s->line, (uint8_t)b);
        return rc < 0 ? rc : put_field(c, (uint8_t)b);
    }
    if (b == c->delim || b == '\n')
        return on_separator(c, s, b);
    if (b == '\r')
        return on_cr(c, s);
    if (s->state == S_START && b == '"') {
        s->state = S_QUOTED;
        c->field_quoted = true;
        c->quote_line = c->line;
        return put_raw(c, s->line, '"');
    }
    if (s->state == S_AFTER_QUOTE) {
        if (b != '"')
            set_fault(c, BATCH_CSV_BAD_QUOTE,
                      "line %lld: field %zu: character '%c' after the closing quote (expected "
                      "'%c' or a line end)",
                      (long long)s->line, c->nf + 1, b >= 0x20 && b < 0x7f ? b : '?', c->delim);
        s->state = b == '"' ? S_QUOTED : S_UNQUOTED;
    } else {
        s->state = S_UNQUOTED;
    }
    rc = put_raw(c, s->line, (uint8_t)b);
    return rc < 0 ? rc : put_field(c, (uint8_t)b);
}

static void record_reset(batch_csv_t *c)
{
    c->flen = c->rawlen = c->nbytes = c->nf = c->field_start = 0;
    c->field_quoted = false;
    c->fault = BATCH_CSV_OK;
    c->error[0] = '\0';
}

static void record_out(batch_csv_t *c, const scan_t *s, int64_t start, batch_csv_record_t *rec)
{
    for (size_t i = 0; i < c->nf; i++)
        c->fields[i].p = c->fbuf != NULL ? c->fbuf + c->offs[i] : "";
    rec->fields = c->fields;
    rec->nfields = c->nf;
    rec->line = s->line;
    rec->start = start;
    rec->end = c->pos;
    rec->raw = c->raw != NULL ? c->raw : "";
    rec->raw_len = c->rawlen;
    rec->fault = c->fault;
    memcpy(rec->error, c->error, sizeof rec->error);
}

/* Reads one record, which may be an empty line (nbytes 0). 1, 0 at the
 * end of the input, or an error. */
static int scan_record(batch_csv_t *c, batch_csv_record_t *rec)
{
    record_reset(c);
    int rc;
    int b = peek(c, &rc);
    if (rc < 0)
        return rc;
    if (b == -1)
        return 0;
    scan_t s = {.state = S_START, .line = c->line};
    int64_t start = c->pos;
    while (!s.done) {
        b = peek(c, &rc);
        if (rc < 0)
            return rc;
        if (b == -1) {
            if (s.state == S_QUOTED)
                set_fault(c, BATCH_CSV_UNTERMINATED,
                          "line %lld: the quoted field opened on line %lld is not closed before "
                          "the end of the file",
                          (long long)s.line, (long long)c->quote_line);
            rc = end_field(c, s.line);
            if (rc < 0)
                return rc;
            break;
        }
        consume(c);
        rc = step(c, &s, b);
        if (rc < 0)
            return rc;
    }
    record_out(c, &s, start, rec);
    return 1;
}

int batch_csv_next(batch_csv_t *c, batch_csv_record_t *rec)
{
    for (;;) {
        int rc = scan_record(c, rec);
        if (rc <= 0)
            return rc;
        if (c->nbytes > 0)
            return 1;
        /* An empty line: not a record. */
    }
}

int batch_csv_skip_to(batch_csv_t *c, int64_t offset, int64_t line)
{
    if (offset < c->pos)
        return core_error(CORE_EINVAL, "%s: cannot move back from byte %lld to %lld", c->name,
                          (long long)c->pos, (long long)offset);
    while (c->pos < offset) {
        int rc;
        if (peek(c, &rc) == -1) {
            if (rc < 0)
                return rc;
            return core_error(CORE_ETRUNC, "%s: the file ends at byte %lld, before byte %lld",
                              c->name, (long long)c->pos, (long long)offset);
        }
        size_t n = (size_t)CORE_MIN((int64_t)(c->len - c->at), offset - c->pos);
        c->at += n;
        c->pos += (int64_t)n;
    }
    c->line = line;
    return 0;
}

int64_t batch_csv_line(const batch_csv_t *c)
{
    return c->line;
}

int64_t batch_csv_bytes_read(const batch_csv_t *c)
{
    return c->fetched;
}

void batch_csv_digest(const batch_csv_t *c, uint8_t out[32])
{
    core_sha256_t copy = c->sha;
    core_sha256_final(&copy, out);
}

/* ---- Lifecycle. */

static int create(const char *name, const batch_csv_opts_t *o, batch_csv_t **out)
{
    char d = o != NULL && o->delimiter != 0 ? o->delimiter : ',';
    if (d == '"' || d == '\r' || d == '\n')
        return core_error(CORE_EINVAL, "%s: the delimiter cannot be a quote, CR or LF", name);
    batch_csv_t *c = core_calloc(CORE_MEM_BATCH, 1, sizeof *c);
    if (c == NULL || (c->name = core_strdup(CORE_MEM_BATCH, name)) == NULL) {
        core_free(c);
        return core_error(CORE_ENOMEM, "%s: out of memory", name);
    }
    c->fd = -1;
    c->delim = d;
    c->max_record = o != NULL && o->max_record != 0 ? o->max_record : BATCH_CSV_MAX_RECORD;
    c->max_fields = o != NULL && o->max_fields != 0 ? o->max_fields : BATCH_CSV_MAX_FIELDS;
    c->line = 1;
    core_sha256_init(&c->sha);
    *out = c;
    return 0;
}

int batch_csv_open(const char *path, const batch_csv_opts_t *opts, batch_csv_t **out)
{
    *out = NULL;
    batch_csv_t *c = NULL;
    int rc = create(path, opts, &c);
    if (rc < 0)
        return rc;
    c->owned = core_alloc(CORE_MEM_BATCH, READ_CHUNK);
    if (c->owned == NULL) {
        batch_csv_close(c);
        return core_error(CORE_ENOMEM, "%s: out of memory", path);
    }
    c->buf = c->owned;
    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        int e = errno;
        batch_csv_close(c);
        return core_error(e == ENOENT ? CORE_ENOENT : CORE_EIO, "%s: open: %s", path, strerror(e));
    }
    *out = c;
    return 0;
}

int batch_csv_open_mem(const char *name, const void *p, size_t n, const batch_csv_opts_t *opts,
                       batch_csv_t **out)
{
    *out = NULL;
    batch_csv_t *c = NULL;
    int rc = create(name, opts, &c);
    if (rc < 0)
        return rc;
    c->buf = n > 0 ? p : (const uint8_t *)"";
    c->len = n;
    c->eof = true;
    c->fetched = (int64_t)n;
    core_sha256_update(&c->sha, c->buf, n);
    *out = c;
    return 0;
}

void batch_csv_close(batch_csv_t *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    core_free(c->owned);
    core_free(c->fbuf);
    core_free(c->raw);
    core_free(c->fields);
    core_free(c->offs);
    core_free(c->name);
    core_free(c);
}

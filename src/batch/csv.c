/*
 * csv.c - the streaming RFC 4180 reader of the import job kind (see
 * csv_int.h for what it accepts).
 *
 * Two readers of one record, which give the same result:
 *
 *   - the fast path (fast_record) handles the common record in place: it
 *     finds the field ends in the read buffer with a byte-class table,
 *     points unquoted fields and quoted fields without "" escapes straight
 *     into the buffer, copies only escaped fields (into fbuf), and points
 *     `raw` at the record's bytes. It gives up, consuming nothing, on
 *     anything unusual: a fault of any kind (bad quote, unterminated
 *     quote, a cap), a CR that is data, or a record longer than the read
 *     buffer;
 *   - the reference reader (scan_record), a byte-at-a-time state machine
 *     that copies every byte, then reads the record from the same
 *     position. Per field its states are
 *
 *   START --'"'--> QUOTED --'"'--> AFTER_QUOTE --'"'--> QUOTED (a "" escape)
 *     |                                 |
 *     +--other--> UNQUOTED              +--delimiter / line end--> field ends
 *                                       +--other--> UNQUOTED, fault BAD_QUOTE
 *
 *     and a CR outside quotes looks one byte ahead: CR LF (or CR at the end
 *     of the input) ends the record, any other CR is data.
 *
 * Option `reference` turns the fast path off (tests compare the two).
 *
 * Invariants:
 *   1. `pos` is the input offset of buf[at], the next unconsumed byte; a
 *      record's `end` is `pos` after its terminator, so skip_to(end)
 *      resumes there.
 *   2. Every byte read from the file is hashed exactly once, in file
 *      order (in fetch, prime and refill), so after the end the digest is
 *      the whole input's.
 *   3. Decoded field bytes and raw bytes never exceed max_record each; the
 *      field table never exceeds max_fields entries. Past a cap the
 *      reference reader scans the record to its end without storing, and
 *      flags it.
 *   4. The buffer only moves (refill compacts it) at the start of a
 *      record, so what a returned record borrows stays put until the next
 *      call.
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

#define READ_CHUNK  (256 * 1024)
#define INITIAL_BUF 4096
#define INITIAL_FLD 64
#define DIRECT      SIZE_MAX /* offs[i]: the field points into the buffer */

enum { S_START, S_UNQUOTED, S_QUOTED, S_AFTER_QUOTE };

/* Byte classes of the fast path: what ends an unquoted field. */
enum { B_DATA = 0, B_DELIM, B_LF, B_CR };

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
    bool reference;   /* no fast path */
    uint8_t cls[256]; /* byte classes (B_*) */
    size_t max_record, max_fields;
    int64_t line; /* physical line of the next byte */

    /* The record being read. */
    char *fbuf; /* decoded field bytes */
    size_t flen, fcap;
    char *raw;
    size_t rawlen, rawcap;
    size_t nbytes; /* record bytes seen, uncapped (excluding the terminator) */
    batch_csv_field_t *fields;
    size_t *offs; /* fields[i] starts at fbuf + offs[i] (or DIRECT) */
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

/* Makes room for field table entry `need` - 1 (need <= max_fields). */
static int fields_reserve(batch_csv_t *c, size_t need)
{
    if (need <= c->cap_fields)
        return 0;
    size_t ncap = c->cap_fields == 0 ? INITIAL_FLD : CORE_MIN(c->cap_fields * 2, c->max_fields);
    ncap = CORE_MAX(ncap, need);
    batch_csv_field_t *f = core_realloc(CORE_MEM_BATCH, c->fields, ncap * sizeof *f);
    if (f == NULL)
        return core_error(CORE_ENOMEM, "csv: out of memory for %zu fields", ncap);
    c->fields = f;
    size_t *o = core_realloc(CORE_MEM_BATCH, c->offs, ncap * sizeof *o);
    if (o == NULL)
        return core_error(CORE_ENOMEM, "csv: out of memory for %zu fields", ncap);
    c->offs = o;
    c->cap_fields = ncap;
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
    int rc = fields_reserve(c, c->nf + 1);
    if (rc < 0)
        return rc;
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

/* ---- The fast path. */

enum { FAST_NO = 0, FAST_OK = 1, FAST_MORE = 2 }; /* give up, done, buffer ended */

/* Moves the unconsumed bytes (the start of a record) to the front of the
 * buffer and reads more after them. File input with room left only. */
static int refill(batch_csv_t *c)
{
    size_t keep = c->len - c->at;
    if (c->at > 0 && keep > 0)
        memmove(c->owned, c->buf + c->at, keep);
    c->buf = c->owned;
    c->at = 0;
    c->len = keep;
    ssize_t n;
    do
        n = read(c->fd, c->owned + keep, READ_CHUNK - keep);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return core_error(CORE_EIO, "%s: read at byte %lld: %s", c->name, (long long)c->fetched,
                          strerror(errno));
    core_sha256_update(&c->sha, c->owned + keep, (size_t)n);
    c->fetched += n;
    c->len += (size_t)n;
    c->eof = n == 0;
    return 0;
}

/* The quoted field opening at b[i]: *close gets its closing quote, *lfs
 * grows by the line feeds inside, *esc is set if it holds "" escapes.
 * FAST_MORE when the buffer ends first and more input may follow, FAST_NO
 * when the input ends inside the field (unterminated). */
static int quoted_end(const uint8_t *b, size_t i, size_t n, bool eof, size_t *close, int64_t *lfs,
                      bool *esc)
{
    for (size_t q = i + 1;;) {
        const uint8_t *e = memchr(b + q, '"', n - q);
        size_t k = e != NULL ? (size_t)(e - b) : n;
        for (size_t j = q; j < k; j++)
            *lfs += b[j] == '\n';
        if (e == NULL || (k + 1 == n && !eof))
            return e == NULL && eof ? FAST_NO : FAST_MORE;
        if (k + 1 < n && b[k + 1] == '"') {
            *esc = true;
            q = k + 2;
            continue;
        }
        *close = k;
        return FAST_OK;
    }
}

/* Field k is p[0..n) with each "" made ", decoded into fbuf. */
static int unescape(batch_csv_t *c, const uint8_t *p, size_t n, size_t k)
{
    if (c->flen + n > c->max_record)
        return FAST_NO;
    while (c->fcap < c->flen + n)
        if (grow(&c->fbuf, &c->fcap, c->max_record) < 0)
            return CORE_ENOMEM;
    char *o = c->fbuf + c->flen;
    size_t m = 0;
    for (size_t j = 0; j < n; j++) {
        o[m++] = (char)p[j];
        j += p[j] == '"';
    }
    c->offs[k] = c->flen;
    c->fields[k].len = m;
    c->flen += m;
    return FAST_OK;
}

/* What follows field `nf` at b[*i]: a delimiter (FAST_MORE: another
 * field), a line end or the end of the input (FAST_OK, *raw_end set), or
 * anything else (FAST_NO: a CR that is data, a bad quote). *lfs counts the
 * terminator. Returns FAST_MORE + 1 when the buffer ends first. */
static int after_field(const batch_csv_t *c, size_t *i, size_t n, bool eof, size_t *raw_end,
                       int64_t *lfs)
{
    const uint8_t *b = c->buf;
    size_t at = *i;
    if (at == n) {
        *raw_end = at;
        return eof ? FAST_OK : FAST_MORE + 1;
    }
    switch (c->cls[b[at]]) {
    case B_DELIM:
        *i = at + 1;
        return FAST_MORE;
    case B_LF:
        *raw_end = at;
        *i = at + 1;
        (*lfs)++;
        return FAST_OK;
    case B_CR:
        if (at + 1 == n && !eof)
            return FAST_MORE + 1;
        if (at + 1 < n && b[at + 1] != '\n')
            return FAST_NO;
        *raw_end = at;
        *i = at + 1 + (at + 1 < n);
        *lfs += at + 1 < n;
        return FAST_OK;
    default:
        return FAST_NO;
    }
}

/* The first byte at or after b[i] that ends an unquoted field (a
 * delimiter, LF or CR), or n. Eight bytes at a time where it can: a byte
 * equal to x turns the word w ^ (x * ones) into one with a zero byte,
 * which (v - ones) & ~v & highs flags; flags can also appear above a true
 * zero (a borrow), never below it, so the lowest flag is the first hit. */
static size_t data_end(const batch_csv_t *c, const uint8_t *b, size_t i, size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    const uint64_t d = ones * (uint8_t)c->delim, lf = ones * '\n', cr = ones * '\r';
    for (; n - i >= 8; i += 8) {
        uint64_t w, x, y, z;
        memcpy(&w, b + i, 8);
        x = w ^ d;
        y = w ^ lf;
        z = w ^ cr;
        uint64_t m = (((x - ones) & ~x) | ((y - ones) & ~y) | ((z - ones) & ~z)) & highs;
        if (m != 0)
            return i + (size_t)__builtin_ctzll(m) / 8;
    }
#endif
    while (i < n && c->cls[b[i]] == B_DATA)
        i++;
    return i;
}

/* Reads one record from buf[at..len) in place. FAST_OK with *rec filled
 * (and the record consumed), FAST_NO (use the reference reader), FAST_MORE
 * (the buffer ends inside the record), or CORE_ENOMEM. */
static int fast_record(batch_csv_t *c, batch_csv_record_t *rec)
{
    const uint8_t *b = c->buf;
    size_t n = c->len, start = c->at, i = c->at, nf = 0, raw_end = 0;
    bool eof = c->eof;
    int64_t lfs = 0;
    int rc = FAST_MORE;
    c->flen = 0;
    while (rc == FAST_MORE) {
        if (nf == c->max_fields)
            return FAST_NO;
        if ((rc = fields_reserve(c, nf + 1)) < 0)
            return rc;
        batch_csv_field_t *f = &c->fields[nf];
        c->offs[nf] = DIRECT;
        f->quoted = i < n && b[i] == '"';
        if (f->quoted) {
            size_t close = 0;
            bool esc = false;
            if ((rc = quoted_end(b, i, n, eof, &close, &lfs, &esc)) != FAST_OK)
                return rc;
            f->p = (const char *)b + i + 1;
            f->len = close - i - 1;
            if (esc && (rc = unescape(c, b + i + 1, close - i - 1, nf)) != FAST_OK)
                return rc;
            i = close + 1;
        } else {
            f->p = (const char *)b + i;
            i = data_end(c, b, i, n);
            f->len = (size_t)((const char *)b + i - f->p);
        }
        nf++;
        rc = after_field(c, &i, n, eof, &raw_end, &lfs);
    }
    if (rc != FAST_OK)
        return rc == FAST_NO ? FAST_NO : FAST_MORE;
    if (raw_end - start > c->max_record)
        return FAST_NO;
    for (size_t k = 0; k < nf; k++)
        if (c->offs[k] != DIRECT)
            c->fields[k].p = c->fbuf + c->offs[k];
    *rec = (batch_csv_record_t){.fields = c->fields,
                                .nfields = nf,
                                .line = c->line,
                                .start = c->pos,
                                .end = c->pos + (int64_t)(i - start),
                                .raw = (const char *)b + start,
                                .raw_len = raw_end - start,
                                .fault = BATCH_CSV_OK};
    c->nbytes = raw_end - start;
    c->at = i;
    c->pos = rec->end;
    c->line += lfs;
    return FAST_OK;
}

/* One record, which may be an empty line (nbytes 0): the fast path, or
 * the reference reader where it gives up. 1, 0 at the end, or an error. */
static int read_record(batch_csv_t *c, batch_csv_record_t *rec)
{
    for (;;) {
        int rc;
        if (peek(c, &rc) == -1)
            return rc;
        rc = c->reference ? FAST_NO : fast_record(c, rec);
        if (rc == FAST_MORE && c->fd >= 0 && c->len - c->at < READ_CHUNK) {
            if ((rc = refill(c)) < 0)
                return rc;
            continue;
        }
        if (rc < 0)
            return rc;
        return rc == FAST_OK ? 1 : scan_record(c, rec);
    }
}

int batch_csv_next(batch_csv_t *c, batch_csv_record_t *rec)
{
    for (;;) {
        int rc = read_record(c, rec);
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
    c->reference = o != NULL && o->reference;
    c->cls[(uint8_t)d] = B_DELIM;
    c->cls['\n'] = B_LF;
    c->cls['\r'] = B_CR;
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

/*
 * tz.c - time zones read from the system tz database: a TZif decoder
 * (RFC 8536, versions 1 to 4) and the POSIX TZ rule of the file's footer.
 *
 * A loaded zone is reduced to what offset lookups need: the offset in force
 * before the first transition, the transitions that change the offset (in
 * strictly ascending order, each with the offset it starts), the time of
 * the file's last transition, and the footer rule that governs every
 * instant at or after it. Abbreviations and the isdst flag are validated
 * but not kept: nothing here reports them.
 *
 * The decoder reads bytes from outside: the file is capped at TZ_MAX_FILE
 * bytes, every count is checked against the bytes that remain before
 * anything is read, and every error names the file and what is wrong.
 * Files with leap-second records ("right/" zones) count seconds that POSIX
 * time does not, so they are refused rather than read slightly wrong.
 *
 * Footer rules repeat with the Gregorian calendar every 400 years (146097
 * days, a whole number of weeks), so a rule lookup first moves the instant
 * into one 400-year cycle; any int64 instant is answered exactly.
 *
 * Invariants: trans[] strictly ascending; off[i] != off[i - 1] and
 * off[0] != first_off; every offset lies in [TZ_OFF_MIN, TZ_OFF_MAX].
 * Threading: a zone is immutable after batch_tz_load() and may be shared;
 * loading reads $TZDIR with getenv(), so do not call setenv() concurrently.
 */
#include "batch/batch.h"

#include "core/core.h"
#include "schema/schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_MAX_FILE    (1u << 20) /* no real TZif file is near 1 MiB */
#define TZ_MAX_NAME    255
#define TZ_MAX_FOOTER  255
#define TZ_HEADER      44
/* RFC 8536 asks offsets to lie in [-89999, 93599] (about -25h to +26h). */
#define TZ_OFF_MIN (-89999)
#define TZ_OFF_MAX 93599
/* Rule transition times may be -167:59:59 to 167:59:59 (version 3). */
#define TZ_RULE_TIME_MAX (167 * 3600 + 59 * 60 + 59)
#define SECS_PER_DAY     86400
#define CYCLE_SECS       (146097LL * SECS_PER_DAY) /* 400 Gregorian years */
/* Broken-down local times are computed for instants within about 285
 * million years of the epoch; farther instants are clamped. */
#define LOCAL_T_LIMIT (1LL << 53)

typedef enum { RULE_JULIAN, RULE_ZERO_BASED, RULE_MONTH_WEEK } rule_kind_t;

/* One end of daylight time: a date form and a local time of day. */
typedef struct {
    rule_kind_t kind;
    int day;      /* Jn: 1-365; n: 0-365; Mm.w.d: weekday 0-6 */
    int week;     /* Mm.w.d: 1-5, 5 = last */
    int month;    /* Mm.w.d: 1-12 */
    int32_t secs; /* local time of day, [-TZ_RULE_TIME_MAX, TZ_RULE_TIME_MAX] */
} rule_date_t;

typedef struct {
    int32_t std_off; /* seconds east */
    int32_t dst_off;
    bool has_dst;
    rule_date_t start, end; /* daylight time starts / ends */
} tz_rule_t;

struct batch_tz {
    char *name;
    int32_t first_off; /* before trans[0] (time type 0) */
    size_t ntrans;
    int64_t *trans; /* instants where the offset changes */
    int32_t *off;   /* offset from trans[i] on */
    bool has_last;  /* the file has transitions ... */
    int64_t last;   /* ... and this is the last one */
    bool has_rule;  /* a footer rule governs t >= last (or all t) */
    tz_rule_t rule;
};

/* ---- the POSIX TZ string (footer) ---------------------------------------- */

typedef struct {
    const char *p;
    const char *err; /* first problem, for the error detail */
} tzstr_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads 1 to MAXD decimal digits. */
static bool read_num(tzstr_t *s, int maxd, int *out)
{
    int v = 0, n = 0;
    while (is_digit(*s->p) && n < maxd) {
        v = v * 10 + (*s->p - '0');
        s->p++;
        n++;
    }
    if (n == 0 || is_digit(*s->p)) {
        s->err = "bad number";
        return false;
    }
    *out = v;
    return true;
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits,
 * '+' and '-'. */
static bool read_abbr(tzstr_t *s)
{
    size_t n = 0;
    if (*s->p == '<') {
        s->p++;
        while (is_alpha(*s->p) || is_digit(*s->p) || *s->p == '+' || *s->p == '-') {
            s->p++;
            n++;
        }
        if (*s->p != '>' || n < 3) {
            s->err = "bad quoted abbreviation";
            return false;
        }
        s->p++;
        return true;
    }
    while (is_alpha(*s->p)) {
        s->p++;
        n++;
    }
    if (n < 3) {
        s->err = "abbreviation shorter than three letters";
        return false;
    }
    return true;
}

/* [+-]hh[:mm[:ss]] with hours up to MAXH, as seconds (sign applied). */
static bool read_hms(tzstr_t *s, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, sec = 0;
    if (*s->p == '+' || *s->p == '-')
        sign = *s->p++ == '-' ? -1 : 1;
    if (!read_num(s, 3, &h))
        return false;
    if (*s->p == ':') {
        s->p++;
        if (!read_num(s, 2, &m))
            return false;
        if (*s->p == ':') {
            s->p++;
            if (!read_num(s, 2, &sec))
                return false;
        }
    }
    if (h > maxh || m > 59 || sec > 59) {
        s->err = "time out of range";
        return false;
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
}

/* A POSIX offset is west-positive; ours are east-positive. */
static bool read_offset(tzstr_t *s, int32_t *east)
{
    int32_t west;
    if (!read_hms(s, 24, &west))
        return false;
    *east = -west;
    return true;
}

static bool fail(tzstr_t *s, const char *why)
{
    s->err = why;
    return false;
}

/* Consumes C if it comes next; the position never passes the end. */
static bool expect(tzstr_t *s, char c)
{
    if (*s->p != c)
        return fail(s, "unexpected character");
    s->p++;
    return true;
}

/* Jn, n or Mm.w.d, then an optional /time (default 02:00:00). */
static bool read_rule_date(tzstr_t *s, rule_date_t *d)
{
    memset(d, 0, sizeof(*d));
    if (*s->p == 'J') {
        s->p++;
        d->kind = RULE_JULIAN;
        if (!read_num(s, 3, &d->day) || d->day < 1 || d->day > 365)
            return fail(s, "Jn day out of range");
    } else if (*s->p == 'M') {
        s->p++;
        d->kind = RULE_MONTH_WEEK;
        if (!read_num(s, 2, &d->month) || !expect(s, '.') || !read_num(s, 1, &d->week) ||
            !expect(s, '.') || !read_num(s, 1, &d->day))
            return fail(s, "bad Mm.w.d date");
        if (d->month < 1 || d->month > 12 || d->week < 1 || d->week > 5 || d->day > 6)
            return fail(s, "Mm.w.d date out of range");
    } else {
        d->kind = RULE_ZERO_BASED;
        if (!read_num(s, 3, &d->day) || d->day > 365)
            return fail(s, "day out of range");
    }
    d->secs = 2 * 3600;
    if (*s->p == '/') {
        s->p++;
        return read_hms(s, 167, &d->secs);
    }
    return true;
}

/* Parses a whole TZ string. An empty string is not a rule. */
static bool parse_tz_string(const char *text, tz_rule_t *r, const char **err)
{
    tzstr_t s = {.p = text, .err = NULL};
    memset(r, 0, sizeof(*r));
    bool ok = read_abbr(&s) && read_offset(&s, &r->std_off);
    if (ok && *s.p != '\0') {
        r->has_dst = true;
        r->dst_off = r->std_off + 3600;
        ok = read_abbr(&s);
        if (ok && *s.p != ',' && *s.p != '\0')
            ok = read_offset(&s, &r->dst_off);
        if (ok && *s.p == '\0') {
            /* No rule: the customary default, as tzcode uses. */
            r->start = (rule_date_t){RULE_MONTH_WEEK, 0, 2, 3, 7200};
            r->end = (rule_date_t){RULE_MONTH_WEEK, 0, 1, 11, 7200};
        } else if (ok) {
            ok = expect(&s, ',') && read_rule_date(&s, &r->start) && expect(&s, ',') &&
                 read_rule_date(&s, &r->end);
        }
    }
    if (ok && *s.p != '\0') {
        s.err = "unexpected text";
        ok = false;
    }
    if (ok && (r->std_off < TZ_OFF_MIN || r->std_off > TZ_OFF_MAX || r->dst_off < TZ_OFF_MIN ||
               r->dst_off > TZ_OFF_MAX)) {
        s.err = "offset out of range";
        ok = false;
    }
    *err = s.err ? s.err : "malformed";
    return ok;
}

/* ---- rule evaluation ------------------------------------------------------- */

static bool is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since the epoch of rule date D in year Y. */
static int64_t rule_day(const rule_date_t *d, int y)
{
    int64_t jan1 = schema_days_from_civil(y, 1, 1);
    switch (d->kind) {
    case RULE_JULIAN: /* 1-365, February 29 never counted */
        return jan1 + d->day - 1 + (is_leap(y) && d->day >= 60);
    case RULE_ZERO_BASED:
        return jan1 + d->day;
    case RULE_MONTH_WEEK:
    default: {
        int64_t first = schema_days_from_civil(y, d->month, 1);
        int wday = (int)((first % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
        int day = (d->day - wday + 7) % 7 + (d->week - 1) * 7;
        while (day >= days_in_month(y, d->month))
            day -= 7;
        return first + day;
    }
    }
}

/* The offset the rule gives at T: the last daylight start or end at or
 * before T wins; at equal instants the later year, and within a year the
 * end, wins (so a rule with daylight time all year stays in it). */
static int32_t rule_offset(const tz_rule_t *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_off;
    t %= CYCLE_SECS; /* into [0, one cycle): years 1970-2370 */
    if (t < 0)
        t += CYCLE_SECS;
    int y, m, d;
    schema_civil_from_days(floor_div(t, SECS_PER_DAY), &y, &m, &d);
    int32_t best_off = r->std_off;
    int64_t best_t = INT64_MIN;
    for (int yy = y - 1; yy <= y + 1; yy++) {
        int64_t st = rule_day(&r->start, yy) * SECS_PER_DAY + r->start.secs - r->std_off;
        int64_t en = rule_day(&r->end, yy) * SECS_PER_DAY + r->end.secs - r->dst_off;
        if (st <= t && st >= best_t) {
            best_t = st;
            best_off = r->dst_off;
        }
        if (en <= t && en >= best_t) {
            best_t = en;
            best_off = r->std_off;
        }
    }
    return best_off;
}

/* ---- the TZif decoder -------------------------------------------------------- */

typedef struct {
    uint32_t isut, isstd, leap, time, type, chars;
    char version; /* 0, '2', '3' or '4' */
} tzif_header_t;

typedef struct {
    const char *path; /* for error details */
    const uint8_t *p;
    size_t n;
} tzif_input_t;

static int corrupt(const tzif_input_t *in, const char *what)
{
    return core_error(CORE_ECORRUPT, "time zone file %s: %s", in->path, what);
}

/* Reads the header at OFF and checks that its data block (times TSZ bytes
 * wide) fits in the file; *block gets the block's size. */
static int read_header(const tzif_input_t *in, size_t off, int tsz, tzif_header_t *h, size_t *block)
{
    if (in->n < TZ_HEADER || off > in->n - TZ_HEADER)
        return corrupt(in, "truncated header");
    const uint8_t *p = in->p + off;
    if (memcmp(p, "TZif", 4) != 0)
        return corrupt(in, "not a TZif file (bad magic)");
    h->version = (char)p[4];
    if (h->version != 0 && h->version != '2' && h->version != '3' && h->version != '4')
        return corrupt(in, "unsupported version");
    h->isut = core_load_be32(p + 20);
    h->isstd = core_load_be32(p + 24);
    h->leap = core_load_be32(p + 28);
    h->time = core_load_be32(p + 32);
    h->type = core_load_be32(p + 36);
    h->chars = core_load_be32(p + 40);
    uint64_t size = (uint64_t)h->time * (uint64_t)(tsz + 1) + (uint64_t)h->type * 6 + h->chars +
                    (uint64_t)h->leap * (uint64_t)(tsz + 4) + h->isstd + h->isut;
    if (size > in->n - off - TZ_HEADER)
        return corrupt(in, "counts exceed the file size");
    *block = (size_t)size;
    return 0;
}

static int check_counts(const tzif_input_t *in, const tzif_header_t *h)
{
    if (h->type == 0 || h->type > 256)
        return corrupt(in, "time type count not in 1-256");
    if (h->chars == 0)
        return corrupt(in, "no abbreviation characters");
    if ((h->isut != 0 && h->isut != h->type) || (h->isstd != 0 && h->isstd != h->type))
        return corrupt(in, "indicator count differs from the type count");
    if (h->leap != 0)
        return core_error(CORE_EUNSUPP,
                          "time zone file %s: leap-second records are not supported "
                          "(use the zone without the right/ prefix)",
                          in->path);
    return 0;
}

static int64_t load_time(const uint8_t *p, int tsz)
{
    return tsz == 8 ? (int64_t)core_load_be64(p) : (int64_t)(int32_t)core_load_be32(p);
}

/* Validates the time types at P and stores each one's offset in OFFS. */
static int read_types(const tzif_input_t *in, const tzif_header_t *h, const uint8_t *p,
                      int32_t *offs)
{
    for (uint32_t i = 0; i < h->type; i++, p += 6) {
        int32_t ut = (int32_t)core_load_be32(p);
        if (ut < TZ_OFF_MIN || ut > TZ_OFF_MAX)
            return corrupt(in, "time type offset out of range");
        if (p[4] > 1)
            return corrupt(in, "time type isdst is not 0 or 1");
        if (p[5] >= h->chars)
            return corrupt(in, "abbreviation index out of range");
        offs[i] = ut;
    }
    return 0;
}

/* Decodes the data block at P (times TSZ bytes wide) into TZ: the
 * transitions that change the offset, and the offset before them. */
static int read_block(const tzif_input_t *in, const tzif_header_t *h, const uint8_t *p, int tsz,
                      batch_tz_t *tz)
{
    int rc = check_counts(in, h);
    if (rc < 0)
        return rc;
    const uint8_t *times = p, *idx = p + (size_t)h->time * tsz;
    const uint8_t *types = idx + h->time, *ind = types + (size_t)h->type * 6 + h->chars;
    int32_t offs[256];
    if ((rc = read_types(in, h, types, offs)) < 0)
        return rc;
    for (uint32_t i = 0; i < h->isstd + h->isut; i++)
        if (ind[i] > 1)
            return corrupt(in, "standard/UT indicator is not 0 or 1");
    tz->first_off = offs[0];
    if (h->time > 0) {
        tz->trans = core_calloc(CORE_MEM_BATCH, h->time, sizeof(*tz->trans));
        tz->off = core_calloc(CORE_MEM_BATCH, h->time, sizeof(*tz->off));
        if (!tz->trans || !tz->off)
            return core_error(CORE_ENOMEM, "time zone file %s: out of memory", in->path);
    }
    int32_t cur = tz->first_off;
    for (uint32_t i = 0; i < h->time; i++) {
        int64_t t = load_time(times + (size_t)i * tsz, tsz);
        if (i > 0 && t <= tz->last)
            return corrupt(in, "transition times not in ascending order");
        if (idx[i] >= h->type)
            return corrupt(in, "transition type index out of range");
        tz->last = t;
        tz->has_last = true;
        if (offs[idx[i]] != cur) {
            cur = offs[idx[i]];
            tz->trans[tz->ntrans] = t;
            tz->off[tz->ntrans++] = cur;
        }
    }
    return 0;
}

/* Reads the footer at OFF: "\n" TZ-string "\n". */
static int read_footer(const tzif_input_t *in, size_t off, batch_tz_t *tz)
{
    if (off >= in->n || in->p[off] != '\n')
        return corrupt(in, "missing footer");
    const uint8_t *s = in->p + off + 1;
    size_t avail = in->n - off - 1;
    const uint8_t *nl = memchr(s, '\n', avail < TZ_MAX_FOOTER + 1 ? avail : TZ_MAX_FOOTER + 1);
    if (!nl)
        return corrupt(in, "footer unterminated or too long");
    size_t len = (size_t)(nl - s);
    if (len == 0)
        return 0; /* no rule: the last transition's offset stays */
    char text[TZ_MAX_FOOTER + 1];
    memcpy(text, s, len);
    text[len] = '\0';
    if (memchr(text, '\0', len))
        return corrupt(in, "NUL byte in footer");
    const char *why;
    if (!parse_tz_string(text, &tz->rule, &why))
        return core_error(CORE_ECORRUPT, "time zone file %s: footer \"%s\": %s", in->path, text,
                          why);
    tz->has_rule = true;
    return 0;
}

/* Decodes a whole TZif file into TZ (whose arrays are still NULL). */
static int tzif_decode(const tzif_input_t *in, batch_tz_t *tz)
{
    tzif_header_t h;
    size_t block;
    int rc = read_header(in, 0, 4, &h, &block);
    if (rc < 0)
        return rc;
    if (h.version == 0)
        return read_block(in, &h, in->p + TZ_HEADER, 4, tz);
    size_t off2 = TZ_HEADER + block; /* skip the 32-bit block */
    tzif_header_t h2;
    if ((rc = read_header(in, off2, 8, &h2, &block)) < 0)
        return rc;
    if (h2.version != h.version)
        return corrupt(in, "second header version differs");
    if ((rc = read_block(in, &h2, in->p + off2 + TZ_HEADER, 8, tz)) < 0)
        return rc;
    return read_footer(in, off2 + TZ_HEADER + block, tz);
}

/* ---- loading ------------------------------------------------------------------ */

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > TZ_MAX_NAME || name[0] == '/' || strstr(name, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '+' && c != '-' && c != '/')
            return false;
    }
    return true;
}

static bool is_utc_name(const char *name)
{
    return strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 || strcmp(name, "Z") == 0;
}

/* Reads the regular file PATH (at most TZ_MAX_FILE bytes) into *out. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return core_error(CORE_ENOENT, "unknown time zone: no file %s", path);
        return core_error(CORE_EIO, "time zone file %s: open: %s", path, strerror(errno));
    }
    struct stat st;
    int rc = 0;
    *out = NULL;
    if (fstat(fd, &st) < 0) {
        rc = core_error(CORE_EIO, "time zone file %s: stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = core_error(CORE_ENOENT, "unknown time zone: %s is not a zone file", path);
    } else if (st.st_size > (off_t)TZ_MAX_FILE) {
        rc =
            core_error(CORE_ECORRUPT, "time zone file %s: larger than %u bytes", path, TZ_MAX_FILE);
    } else if (!(*out = core_alloc(CORE_MEM_BATCH, st.st_size ? (size_t)st.st_size : 1))) {
        rc = core_error(CORE_ENOMEM, "time zone file %s: out of memory", path);
    } else if ((rc = core_pread_all(fd, *out, (size_t)st.st_size, 0)) < 0) {
        rc = core_error(rc == CORE_ETRUNC ? CORE_ECORRUPT : rc, "time zone file %s: read failed",
                        path);
    }
    close(fd);
    if (rc < 0) {
        core_free(*out);
        *out = NULL;
        return rc;
    }
    *len = (size_t)st.st_size;
    return 0;
}

static int load_file(const char *name, batch_tz_t *tz)
{
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = TZ_DEFAULT_DIR;
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return core_error(CORE_EINVAL, "time zone %s: path under %s too long", name, dir);
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = read_file(path, &bytes, &len);
    if (rc < 0)
        return rc;
    tzif_input_t in = {.path = path, .p = bytes, .n = len};
    rc = tzif_decode(&in, tz);
    core_free(bytes);
    return rc;
}

int batch_tz_load(const char *name, batch_tz_t **out)
{
    *out = NULL;
    if (!name || !name_ok(name))
        return core_error(CORE_EINVAL,
                          "invalid time zone name \"%.64s\": use a tz database name such as "
                          "Europe/Berlin",
                          name ? name : "(null)");
    batch_tz_t *tz = core_calloc(CORE_MEM_BATCH, 1, sizeof(*tz));
    if (!tz)
        return core_error(CORE_ENOMEM, "time zone %s: out of memory", name);
    tz->name = core_strdup(CORE_MEM_BATCH, name);
    int rc = tz->name ? 0 : core_error(CORE_ENOMEM, "time zone %s: out of memory", name);
    if (rc == 0 && !is_utc_name(name))
        rc = load_file(name, tz);
    if (rc < 0) {
        batch_tz_destroy(tz);
        return rc;
    }
    *out = tz;
    return 0;
}

void batch_tz_destroy(batch_tz_t *tz)
{
    if (!tz)
        return;
    core_free(tz->name);
    core_free(tz->trans);
    core_free(tz->off);
    core_free(tz);
}

const char *batch_tz_name(const batch_tz_t *tz)
{
    return tz->name;
}

/* ---- lookups ------------------------------------------------------------------ */

int32_t batch_tz_offset(const batch_tz_t *tz, int64_t t)
{
    if (tz->has_rule && (!tz->has_last || t >= tz->last))
        return rule_offset(&tz->rule, t);
    if (tz->ntrans == 0 || t < tz->trans[0])
        return tz->first_off;
    size_t lo = 0, hi = tz->ntrans; /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[lo];
}

void batch_tz_local(const batch_tz_t *tz, int64_t t, batch_local_t *out)
{
    if (t > LOCAL_T_LIMIT)
        t = LOCAL_T_LIMIT;
    if (t < -LOCAL_T_LIMIT)
        t = -LOCAL_T_LIMIT;
    int32_t off = batch_tz_offset(tz, t);
    int64_t w = t + off;
    int64_t days = floor_div(w, SECS_PER_DAY);
    int64_t sod = w - days * SECS_PER_DAY;
    schema_civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(sod / 3600);
    out->minute = (int)(sod / 60 % 60);
    out->second = (int)(sod % 60);
    out->wday = (int)((days % 7 + 11) % 7);
    out->offset = off;
}

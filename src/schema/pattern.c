/*
 * pattern.c - a fast matcher for the simple patterns schemas use most
 * (`T[0-9]+`, `[A-Z][A-Z0-9.]{0,9}`, `[^@ ]+@[^@ ]+`), decided exactly as
 * regexec() decides the anchored POSIX extended regex, without its cost or
 * its per-regex lock.
 *
 * A pattern is taken when it is a sequence of at most SCHEMA_FAST_ATOMS
 * atoms, each a set of ASCII bytes with a count range:
 *   atom:  a printable ASCII character that is not special; `\` and a
 *          punctuation character (that character); `.` (any byte 1..127);
 *          a bracket expression of printable characters other than `[` and
 *          `\`, ranges within 0-9, A-Z or a-z, optionally negated by `^`,
 *          with `-` first or last as a literal and `]` not first;
 *   count: none, `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}` (n <= m <= 255).
 * Anything else (alternation, groups, anchors, classes such as
 * [:digit:], back-references, GNU escapes) leaves the pattern to regexec.
 *
 * Matching takes each atom greedily, as many bytes of its set as its
 * maximum allows, with no backtracking. That is exact when the bytes an
 * atom with a variable count may take can never be taken by what follows
 * it: so a pattern is taken only if, for each such atom, its set is
 * disjoint from the sets of the atoms after it up to and including the
 * first one whose minimum is at least 1 (or to the end). Then an atom that
 * stops early leaves a byte no later atom can consume, and no match exists
 * that greedy matching misses.
 *
 * Values with a NUL or a byte >= 0x80 are left to regexec (the C locale's
 * treatment of them is regexec's business).
 *
 * Threading: compiled once, then read-only.
 */
#include "schema/schema_int.h"

#include <ctype.h>

typedef struct {
    uint64_t set[2]; /* bit b of set[b / 64]: byte b is in the atom's set */
    uint16_t min, max;
} atom_t;

struct schema_fast_pattern {
    size_t n;
    atom_t atoms[SCHEMA_FAST_ATOMS];
};

#define UNBOUNDED UINT16_MAX
#define MAX_COUNT 255

static void set_add(atom_t *a, unsigned c)
{
    a->set[c / 64] |= 1ull << (c % 64);
}

static bool set_has(const atom_t *a, unsigned c)
{
    return (a->set[c / 64] >> (c % 64)) & 1;
}

static bool same_kind(int a, int b)
{
    return (isdigit(a) && isdigit(b)) || (isupper(a) && isupper(b)) || (islower(a) && islower(b));
}

/* A bracket expression at *p (just after `[`); advances past `]`. */
static bool parse_bracket(const char **p, atom_t *a)
{
    const char *s = *p;
    bool negate = *s == '^';
    if (negate)
        s++;
    if (*s == ']')
        return false; /* a literal `]` first: left to regexec */
    atom_t items = {0};
    for (bool first = true; *s != ']'; first = false) {
        int c = (unsigned char)*s;
        if (c < 0x20 || c > 0x7e || c == '[' || c == '\\')
            return false;
        if (c == '-' && !first && s[1] != ']')
            return false; /* a `-` that is neither first nor last */
        if (s[1] == '-' && s[2] != ']' && s[2] != '\0' && c != '-') {
            int hi = (unsigned char)s[2];
            if (!same_kind(c, hi) || hi < c)
                return false;
            for (int b = c; b <= hi; b++)
                set_add(&items, (unsigned)b);
            s += 3;
            continue;
        }
        set_add(&items, (unsigned)c);
        s++;
    }
    for (unsigned b = 1; b < 128; b++)
        if (set_has(&items, b) != negate)
            set_add(a, b);
    *p = s + 1;
    return true;
}

/* A count `{n}`, `{n,}` or `{n,m}` at *p (just after `{`). */
static bool parse_braces(const char **p, atom_t *a)
{
    const char *s = *p;
    unsigned n = 0, m;
    if (!isdigit((unsigned char)*s))
        return false;
    while (isdigit((unsigned char)*s) && n <= MAX_COUNT)
        n = n * 10 + (unsigned)(*s++ - '0');
    m = n;
    if (*s == ',') {
        s++;
        m = UNBOUNDED;
        if (isdigit((unsigned char)*s))
            for (m = 0; isdigit((unsigned char)*s) && m <= MAX_COUNT;)
                m = m * 10 + (unsigned)(*s++ - '0');
    }
    if (*s != '}' || n > MAX_COUNT || (m != UNBOUNDED && (m > MAX_COUNT || m < n)))
        return false;
    a->min = (uint16_t)n;
    a->max = (uint16_t)m;
    *p = s + 1;
    return true;
}

static bool parse_atom(const char **p, atom_t *a)
{
    const char *s = *p;
    int c = (unsigned char)*s;
    *a = (atom_t){.min = 1, .max = 1};
    if (c == '[') {
        s++;
        if (!parse_bracket(&s, a))
            return false;
    } else if (c == '\\') {
        int e = (unsigned char)s[1];
        if (e < 0x20 || e > 0x7e || !ispunct(e))
            return false;
        set_add(a, (unsigned)e);
        s += 2;
    } else if (c == '.') {
        for (unsigned b = 1; b < 128; b++)
            set_add(a, b);
        s++;
    } else if (c >= 0x20 && c <= 0x7e && strchr("()|^$*+?{}]", c) == NULL) {
        set_add(a, (unsigned)c);
        s++;
    } else {
        return false;
    }
    c = (unsigned char)*s;
    if (c == '?' || c == '*' || c == '+') {
        a->min = c == '+' ? 1 : 0;
        a->max = c == '?' ? 1 : UNBOUNDED;
        s++;
    } else if (c == '{') {
        s++;
        if (!parse_braces(&s, a))
            return false;
    }
    if (*s == '?' || *s == '*' || *s == '+' || *s == '{')
        return false; /* stacked counts */
    *p = s;
    return true;
}

/* The greedy-exactness condition of the header. */
static bool greedy_exact(const struct schema_fast_pattern *fp)
{
    for (size_t i = 0; i < fp->n; i++) {
        const atom_t *a = &fp->atoms[i];
        if (a->min == a->max)
            continue;
        for (size_t j = i + 1; j < fp->n; j++) {
            const atom_t *b = &fp->atoms[j];
            if ((a->set[0] & b->set[0]) != 0 || (a->set[1] & b->set[1]) != 0)
                return false;
            if (b->min >= 1)
                break;
        }
    }
    return true;
}

int schema_fast_pattern_compile(const char *pattern, schema_fast_pattern_t **out)
{
    *out = NULL;
    struct schema_fast_pattern fp = {0};
    const char *s = pattern;
    while (*s != '\0') {
        if (fp.n == SCHEMA_FAST_ATOMS || !parse_atom(&s, &fp.atoms[fp.n]))
            return 0;
        fp.n++;
    }
    if (fp.n == 0 || !greedy_exact(&fp))
        return 0;
    *out = core_alloc(CORE_MEM_SCHEMA, sizeof **out);
    if (*out == NULL)
        return CORE_ENOMEM;
    **out = fp;
    return 0;
}

void schema_fast_pattern_free(schema_fast_pattern_t *fp)
{
    core_free(fp);
}

int schema_fast_pattern_match(const schema_fast_pattern_t *fp, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\0' || (unsigned char)p[i] >= 0x80)
            return -1;
    size_t pos = 0;
    for (size_t i = 0; i < fp->n; i++) {
        const atom_t *a = &fp->atoms[i];
        unsigned count = 0;
        while (count < a->max && pos < n && set_has(a, (unsigned char)p[pos])) {
            pos++;
            count++;
        }
        if (count < a->min)
            return 0;
    }
    return pos == n;
}

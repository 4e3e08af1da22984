/*
 * Tests of the fast pattern matcher (src/schema/pattern.c): which patterns
 * it takes, and, differentially, that it decides every value exactly as
 * regexec() decides the anchored POSIX extended regex, over random
 * patterns of its grammar (taken or not) and random values, including
 * values it must leave to regexec (NUL, bytes >= 0x80).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "schema/schema_int.h"

static bool taken(const char *pattern)
{
    schema_fast_pattern_t *fp = NULL;
    assert_int_equal(schema_fast_pattern_compile(pattern, &fp), 0);
    bool t = fp != NULL;
    schema_fast_pattern_free(fp);
    return t;
}

static void test_which_patterns(void **state)
{
    (void)state;
    const char *yes[] = {"T[0-9]+", "C[0-9]+", "[A-Z][A-Z0-9.]{0,9}", "/[^ ]*", "[^@ ]+@[^@ ]+",
                         "a?b*c+",  "x{3}",    "\\.[a-z]{2,}",        "[-a]",   "[a-]",
                         ".",       "ab-c d"};
    const char *no[] = {"[A-Z]*A", "a|b",    "(ab)+",  "\\d+",      "[[:digit:]]", "^a",
                        "a$",      "a**",    "[]a]",   "[a\\b]",    "x{256}",      "x{3,2}",
                        "[z-a]",   "[0-z]",  "a{,3}",  "[^a]*b*a+", ".*x",         "a*a",
                        "a?a",     "[ab]+b", "x{1,}x", "",          "\xc3\xa9",    "a}"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        if (!taken(yes[i]))
            fail_msg("pattern %s not taken", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        if (taken(no[i]))
            fail_msg("pattern %s taken", no[i]);
}

static uint64_t rng = 0x243f6a8885a308d3ull;

static unsigned roll(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char ALPHABET[] = "abAZ09-.@ ]";

/* A random pattern over a small alphabet, so that sets overlap often. */
static void random_pattern(char *out, size_t cap)
{
    static const char *const counts[] = {"", "", "", "?", "*", "+", "{2}", "{1,3}", "{0,}", "{2,}"};
    size_t n = 0, atoms = 1 + roll(4);
    for (size_t a = 0; a < atoms && n + 24 < cap; a++) {
        switch (roll(6)) {
        case 0:
            n += (size_t)snprintf(out + n, cap - n, "[%s%c-%c%c]", roll(3) == 0 ? "^" : "", 'a',
                                  "bz"[roll(2)], "0@-"[roll(3)]);
            break;
        case 1:
            n += (size_t)snprintf(out + n, cap - n, "[%c%c]", "ab0"[roll(3)], "AZ9 "[roll(4)]);
            break;
        case 2:
            out[n++] = '.';
            break;
        case 3:
            n += (size_t)snprintf(out + n, cap - n, "\\%c", ".-@"[roll(3)]);
            break;
        default:
            out[n++] = "abAZ09-@ "[roll(9)];
            break;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s", counts[roll(10)]);
    }
    out[n] = '\0';
}

static size_t random_value(char *out, size_t cap)
{
    size_t n = roll(8);
    for (size_t i = 0; i < n && i < cap; i++) {
        unsigned r = roll(40);
        out[i] = r == 0 ? '\0' : r == 1 ? (char)0xc3 : ALPHABET[roll(sizeof ALPHABET - 1)];
    }
    return n < cap ? n : cap;
}

static int regex_decides(const regex_t *re, const char *p, size_t n)
{
    char copy[64];
    memcpy(copy, p, n);
    copy[n] = '\0';
    regmatch_t m[1] = {{.rm_so = 0, .rm_eo = (regoff_t)n}};
    return regexec(re, copy, 1, m, REG_STARTEND) == 0;
}

static void test_same_as_regexec(void **state)
{
    (void)state;
    int taken_n = 0, compared = 0;
    for (int k = 0; k < 4000; k++) {
        char pat[128], anchored[140];
        random_pattern(pat, sizeof pat);
        schema_fast_pattern_t *fp = NULL;
        assert_int_equal(schema_fast_pattern_compile(pat, &fp), 0);
        if (fp == NULL)
            continue;
        taken_n++;
        snprintf(anchored, sizeof anchored, "^(%s)$", pat);
        regex_t re;
        if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0)
            fail_msg("fast matcher took %s, which regcomp refuses", pat);
        for (int v = 0; v < 200; v++) {
            char val[32];
            size_t n = random_value(val, sizeof val - 1);
            int fast = schema_fast_pattern_match(fp, val, n);
            if (fast < 0)
                continue;
            compared++;
            if (fast != regex_decides(&re, val, n))
                fail_msg("pattern %s, value \"%.*s\": fast %d, regexec %d", pat, (int)n, val, fast,
                         !fast);
        }
        regfree(&re);
        schema_fast_pattern_free(fp);
    }
    /* the generator must exercise the matcher, not only its refusals */
    assert_true(taken_n > 500);
    assert_true(compared > 50000);
}

static void test_left_to_regexec(void **state)
{
    (void)state;
    schema_fast_pattern_t *fp = NULL;
    assert_int_equal(schema_fast_pattern_compile(".+", &fp), 0);
    assert_non_null(fp);
    assert_int_equal(schema_fast_pattern_match(fp, "a\0b", 3), -1);
    assert_int_equal(schema_fast_pattern_match(fp, "caf\xc3\xa9", 5), -1);
    assert_int_equal(schema_fast_pattern_match(fp, "cafe", 4), 1);
    assert_int_equal(schema_fast_pattern_match(fp, "", 0), 0);
    schema_fast_pattern_free(fp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_patterns),
        cmocka_unit_test(test_same_as_regexec),
        cmocka_unit_test(test_left_to_regexec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for the smaller pieces of core: arenas (alignment, cap,
 * oversize requests, reset), clocks and ISO-8601 formatting, logging
 * (level parsing, the environment override, line format, filtering,
 * truncation), core_parse_i64, the I/O helpers, murmur2, and SHA-256 (the
 * portable code and the SHA-extension path, each against FIPS 180 vectors
 * and against each other).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"

static int64_t test_bytes(void)
{
    core_mem_stats_t s;
    core_mem_stats(CORE_MEM_TEST, &s);
    return s.bytes;
}

/* ---- arena ---- */

static void test_arena_alignment_and_contents(void **state)
{
    (void)state;
    core_arena_t *a = core_arena_create(CORE_MEM_TEST, 1024, 1 << 20);
    assert_non_null(a);
    uint8_t *ptrs[200];
    size_t want = 0;
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(i % 37) + 1;
        ptrs[i] = core_arena_alloc(a, n);
        assert_non_null(ptrs[i]);
        assert_int_equal((uintptr_t)ptrs[i] % 16, 0);
        memset(ptrs[i], i, n);
        want += n;
    }
    for (int i = 0; i < 200; i++) /* no allocation overlapped another */
        for (size_t j = 0; j < (size_t)(i % 37) + 1; j++)
            assert_int_equal(ptrs[i][j], (uint8_t)i);
    assert_int_equal(core_arena_used(a), want);
    char *s = core_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    assert_int_equal((uintptr_t)s % 16, 0);
    core_arena_destroy(a);
    core_arena_destroy(NULL);
}

static void test_arena_cap(void **state)
{
    (void)state;
    int64_t before = test_bytes();
    core_arena_t *a = core_arena_create(CORE_MEM_TEST, 1024, 4096);
    assert_non_null(a);
    int got = 0;
    while (core_arena_alloc(a, 100) != NULL)
        got++;
    /* 4 chunks of 1024 bytes, 7 rounded-up 112-byte pieces each */
    assert_int_equal(got, 4 * (1024 / 112));
    assert_true(test_bytes() - before < 4096 + 1024); /* chunks + headers */
    core_arena_reset(a);
    assert_int_equal(core_arena_used(a), 0);
    /* oversize requests get their own chunk and count against the cap */
    void *big = core_arena_alloc(a, 3000);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 16, 0);
    memset(big, 0xab, 3000);
    assert_null(core_arena_alloc(a, 2000)); /* 1024 + 3008 + 2000 > 4096 */
    void *small = core_arena_alloc(a, 10);  /* still served from chunk 1 */
    assert_non_null(small);
    assert_null(core_arena_alloc(a, 4097));
    assert_int_equal(core_arena_used(a), 3010);
    core_arena_destroy(a);
    assert_int_equal(test_bytes(), before);
    assert_null(core_arena_create(CORE_MEM_TEST, 0, 100));
    assert_null(core_arena_create(CORE_MEM_TEST, 200, 100));
}

static void test_arena_reset_keeps_first_chunk(void **state)
{
    (void)state;
    int64_t before = test_bytes();
    core_arena_t *a = core_arena_create(CORE_MEM_TEST, 512, 1 << 20);
    int64_t with_first = test_bytes();
    void *first = core_arena_alloc(a, 16);
    for (int i = 0; i < 100; i++)
        assert_non_null(core_arena_alloc(a, 200));
    assert_non_null(core_arena_alloc(a, 10000));
    assert_true(test_bytes() > with_first);
    core_arena_reset(a);
    assert_int_equal(test_bytes(), with_first);
    assert_int_equal(core_arena_used(a), 0);
    void *again = core_arena_alloc(a, 16);
    assert_ptr_equal(again, first); /* reuses the kept chunk from its start */
    core_arena_destroy(a);
    assert_int_equal(test_bytes(), before);
}

static void test_arena_alloc_failure(void **state)
{
    (void)state;
    core_arena_t *a = core_arena_create(CORE_MEM_TEST, 64, 1 << 20);
    assert_non_null(core_arena_alloc(a, 64));
    core_mem_fail_at(1, false);
    assert_null(core_arena_alloc(a, 16)); /* needs a new chunk, which fails */
    assert_non_null(core_arena_alloc(a, 16));
    core_arena_destroy(a);
}

/* ---- clocks ---- */

static void test_clocks(void **state)
{
    (void)state;
    int64_t m0 = core_mono_ns();
    int64_t m1 = core_mono_ns();
    assert_true(m1 >= m0);
    assert_true(core_mono_ms() >= m0 / 1000000);
    int64_t w = core_wall_ms();
    assert_true(w > 1577836800000LL); /* after 2020-01-01 */
    int64_t us = core_wall_us();
    assert_true(us / 1000 >= w && us / 1000 - w < 10000);
}

static void test_iso8601(void **state)
{
    (void)state;
    char out[32];
    core_format_iso8601_ms(0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    core_format_iso8601_ms(1700000000123LL, out, sizeof(out));
    assert_string_equal(out, "2023-11-14T22:13:20.123Z");
    core_format_iso8601_ms(-1, out, sizeof(out));
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    core_format_iso8601_ms(951782400007LL, out, 25); /* leap day, exact size */
    assert_string_equal(out, "2000-02-29T00:00:00.007Z");
    core_format_iso8601_ms(0, out, 5);
    assert_string_equal(out, "1970");
}

/* ---- logging ---- */

/* Runs first among the logging tests: the environment is read once. */
static void test_log_env_read_once(void **state)
{
    (void)state;
    setenv("STRATA_LOG_LEVEL", "error", 1);
    assert_int_equal(core_log_get_level(), CORE_LOG_ERROR);
    setenv("STRATA_LOG_LEVEL", "debug", 1);
    assert_int_equal(core_log_get_level(), CORE_LOG_ERROR);
    unsetenv("STRATA_LOG_LEVEL");
    core_log_set_level(CORE_LOG_INFO);
    assert_int_equal(core_log_get_level(), CORE_LOG_INFO);
}

static void test_log_parse_level(void **state)
{
    (void)state;
    core_log_level_t l = CORE_LOG_OFF;
    assert_int_equal(core_log_parse_level("debug", &l), CORE_OK);
    assert_int_equal(l, CORE_LOG_DEBUG);
    assert_int_equal(core_log_parse_level("info", &l), CORE_OK);
    assert_int_equal(l, CORE_LOG_INFO);
    assert_int_equal(core_log_parse_level("warn", &l), CORE_OK);
    assert_int_equal(l, CORE_LOG_WARN);
    assert_int_equal(core_log_parse_level("error", &l), CORE_OK);
    assert_int_equal(l, CORE_LOG_ERROR);
    assert_int_equal(core_log_parse_level("off", &l), CORE_OK);
    assert_int_equal(l, CORE_LOG_OFF);
    l = CORE_LOG_WARN;
    assert_int_equal(core_log_parse_level("verbose", &l), CORE_EINVAL);
    assert_int_equal(core_log_parse_level("", &l), CORE_EINVAL);
    assert_int_equal(core_log_parse_level("info ", &l), CORE_EINVAL);
    assert_int_equal(core_log_parse_level(NULL, &l), CORE_EINVAL);
    assert_int_equal(l, CORE_LOG_WARN);
}

/* Captures what core_log writes to fd 2 while `fn` runs. */
static size_t capture_stderr(void (*fn)(void), char *out, size_t cap)
{
    char path[] = "/tmp/strata-core-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    fn();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    ssize_t n = pread(fd, out, cap - 1, 0);
    close(fd);
    assert_true(n >= 0);
    out[n] = '\0';
    return (size_t)n;
}

static void log_one_warn(void)
{
    core_log_set_level(CORE_LOG_INFO);
    core_log(CORE_LOG_DEBUG, "seglog", "hidden %d", 1);
    core_log(CORE_LOG_WARN, "seglog", "orders-0: cut torn tail at byte %d", 4096);
}

static void log_nothing_when_off(void)
{
    core_log_set_level(CORE_LOG_OFF);
    core_log(CORE_LOG_ERROR, "seglog", "hidden");
    core_log_set_level(CORE_LOG_INFO);
}

static void log_long_line(void)
{
    static char big[10000];
    memset(big, 'y', sizeof(big) - 1);
    core_log(CORE_LOG_ERROR, "kafka", "%s", big);
}

static void test_log_line_format(void **state)
{
    (void)state;
    char out[16384];
    size_t n = capture_stderr(log_one_warn, out, sizeof(out));
    const char *tail = " WARN  seglog: orders-0: cut torn tail at byte 4096\n";
    assert_int_equal(n, 24 + strlen(tail));
    assert_memory_equal(out + 24, tail, strlen(tail));
    /* 2026-11-22T04:36:11.123Z */
    assert_int_equal(out[4], '-');
    assert_int_equal(out[10], 'T');
    assert_int_equal(out[19], '.');
    assert_int_equal(out[23], 'Z');
    assert_int_equal(capture_stderr(log_nothing_when_off, out, sizeof(out)), 0);
}

static void test_log_truncates_long_lines(void **state)
{
    (void)state;
    char out[16384];
    size_t n = capture_stderr(log_long_line, out, sizeof(out));
    assert_true(n > 1000 && n <= 2048);
    assert_memory_equal(out + 24, " ERROR kafka: yyy", 17);
    assert_memory_equal(out + n - 4, "...\n", 4);
    assert_null(memchr(out, '\n', n - 1)); /* a single line */
}

/* ---- core_parse_i64 ---- */

static void test_parse_i64(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(core_parse_i64("42", INT64_MIN, INT64_MAX, &v), CORE_OK);
    assert_int_equal(v, 42);
    assert_int_equal(core_parse_i64("-17", -100, 100, &v), CORE_OK);
    assert_int_equal(v, -17);
    assert_int_equal(core_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), CORE_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(core_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), CORE_OK);
    assert_true(v == INT64_MIN);
    v = 5;
    assert_int_equal(core_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), CORE_ERANGE);
    assert_int_equal(core_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), CORE_ERANGE);
    assert_int_equal(core_parse_i64("11", 0, 10, &v), CORE_ERANGE);
    assert_int_equal(core_parse_i64("-1", 0, 10, &v), CORE_ERANGE);
    assert_int_equal(core_parse_i64("", 0, 10, &v), CORE_EINVAL);
    assert_int_equal(core_parse_i64(NULL, 0, 10, &v), CORE_EINVAL);
    assert_int_equal(core_parse_i64("12x", 0, 100, &v), CORE_EINVAL);
    assert_int_equal(core_parse_i64(" 1", 0, 100, &v), CORE_EINVAL);
    assert_int_equal(core_parse_i64("1 ", 0, 100, &v), CORE_EINVAL);
    assert_int_equal(core_parse_i64("-", 0, 100, &v), CORE_EINVAL);
    assert_int_equal(core_parse_i64("0x10", 0, 100, &v), CORE_EINVAL);
    assert_int_equal(v, 5); /* untouched by failures */
}

/* ---- I/O helpers ---- */

static void test_pwrite_pread(void **state)
{
    (void)state;
    char path[] = "/tmp/strata-core-io-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t data[100000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    assert_int_equal(core_pwrite_all(fd, data, sizeof(data), 4096), CORE_OK);
    uint8_t back[sizeof(data)];
    assert_int_equal(core_pread_all(fd, back, sizeof(back), 4096), CORE_OK);
    assert_memory_equal(back, data, sizeof(data));
    uint8_t head[4096];
    assert_int_equal(core_pread_all(fd, head, sizeof(head), 0), CORE_OK); /* the hole */
    for (size_t i = 0; i < sizeof(head); i++)
        assert_int_equal(head[i], 0);
    assert_int_equal(core_pread_all(fd, back, 10, 4096 + sizeof(data) - 5), CORE_ETRUNC);
    assert_int_equal(core_pread_all(fd, back, 0, 1 << 30), CORE_OK);
    close(fd);

    int ro = open(path, O_RDONLY);
    assert_true(ro >= 0);
    errno = 0;
    assert_int_equal(core_pwrite_all(ro, data, 10, 0), CORE_EIO);
    assert_int_equal(errno, EBADF);
    assert_true(strlen(core_error_detail()) > 0);
    close(ro);
    errno = 0;
    assert_int_equal(core_pread_all(-1, back, 10, 0), CORE_EIO);
    assert_int_equal(errno, EBADF);
    unlink(path);
}

static void test_pwrite_enospc(void **state)
{
    (void)state;
    int fd = open("/dev/full", O_WRONLY);
    if (fd < 0)
        skip();
    uint8_t data[64] = {0};
    errno = 0;
    assert_int_equal(core_pwrite_all(fd, data, sizeof(data), 0), CORE_ENOSPC);
    assert_int_equal(errno, ENOSPC);
    close(fd);
}

static void test_fsync_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/strata-core-dir-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(core_fsync_dir(dir), CORE_OK);
    char file[64];
    snprintf(file, sizeof(file), "%s/f", dir);
    int fd = open(file, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(core_fsync_dir(file), CORE_EIO); /* not a directory */
    assert_int_equal(errno, ENOTDIR);
    unlink(file);
    rmdir(dir);
    assert_int_equal(core_fsync_dir(dir), CORE_ENOENT);
    assert_int_equal(errno, ENOENT);
}

/* The values of Kafka's own UtilsTest.testMurmur2. */
static void test_murmur2_kafka_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int32_t hash;
    } cases[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(cases); i++)
        assert_int_equal((int32_t)core_murmur2(cases[i].key, strlen(cases[i].key)), cases[i].hash);
}

/* ---- sha256: FIPS 180-4 example vectors through both block functions
 * (the portable code and, when the CPU has them, the SHA extensions),
 * chunking that crosses block boundaries, and the two paths agreeing on
 * random inputs. */
typedef void (*sha_init_fn)(core_sha256_t *c);

static void sha256_of(sha_init_fn init, const void *p, size_t n, char hex[65])
{
    core_sha256_t c;
    uint8_t d[32];
    init(&c);
    core_sha256_update(&c, p, n);
    core_sha256_final(&c, d);
    core_sha256_hex(d, hex);
}

static void sha256_vectors(sha_init_fn init)
{
    char hex[65];
    sha256_of(init, "", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_of(init, "abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_of(init, two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *four = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    sha256_of(init, four, strlen(four), hex);
    assert_string_equal(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

    static char million[1000000];
    memset(million, 'a', sizeof million);
    sha256_of(init, million, sizeof million, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    core_sha256_t c;
    uint8_t d[32];
    init(&c);
    for (size_t off = 0, step = 1; off < sizeof million; off += step, step = step % 97 + 1)
        core_sha256_update(&c, million + off, CORE_MIN(step, sizeof million - off));
    core_sha256_final(&c, d);
    core_sha256_hex(d, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_vectors_portable(void **state)
{
    (void)state;
    core_sha256_t c;
    core_sha256_init_portable(&c);
    assert_false(c.hw);
    sha256_vectors(core_sha256_init_portable);
}

/* The default path: the SHA extensions where the CPU has them. */
static void test_sha256_vectors_default(void **state)
{
    (void)state;
    core_sha256_t c;
    core_sha256_init(&c);
    assert_true(c.hw == core_sha256_hw_available());
    sha256_vectors(core_sha256_init);
}

static uint64_t sha_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Random lengths (0 to 3 blocks and then some, and 300 KB) fed in random
 * pieces: the default and the portable path give the same digest. */
static void test_sha256_paths_agree(void **state)
{
    (void)state;
    size_t cap = 300 * 1024;
    uint8_t *buf = core_alloc(CORE_MEM_TEST, cap);
    assert_non_null(buf);
    uint64_t s = 42;
    for (size_t i = 0; i < cap; i++)
        buf[i] = (uint8_t)sha_rand(&s);
    for (int round = 0; round < 600; round++) {
        size_t n = round < 300 ? (size_t)round : round < 599 ? sha_rand(&s) % 5000 : cap;
        size_t from = sha_rand(&s) % (cap - n + 1);
        core_sha256_t a, b;
        core_sha256_init(&a);
        core_sha256_init_portable(&b);
        for (size_t off = 0; off < n;) {
            size_t k = CORE_MIN(n - off, (size_t)(sha_rand(&s) % 200));
            core_sha256_update(&a, buf + from + off, k);
            core_sha256_update(&b, buf + from + off, k);
            off += k;
        }
        uint8_t da[32], db[32];
        core_sha256_final(&a, da);
        core_sha256_final(&b, db);
        assert_memory_equal(da, db, 32);
    }
    core_free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alignment_and_contents),
        cmocka_unit_test(test_arena_cap),
        cmocka_unit_test(test_arena_reset_keeps_first_chunk),
        cmocka_unit_test(test_arena_alloc_failure),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_log_env_read_once),
        cmocka_unit_test(test_log_parse_level),
        cmocka_unit_test(test_log_line_format),
        cmocka_unit_test(test_log_truncates_long_lines),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_pwrite_pread),
        cmocka_unit_test(test_pwrite_enospc),
        cmocka_unit_test(test_fsync_dir),
        cmocka_unit_test(test_murmur2_kafka_vectors),
        cmocka_unit_test(test_sha256_vectors_portable),
        cmocka_unit_test(test_sha256_vectors_default),
        cmocka_unit_test(test_sha256_paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

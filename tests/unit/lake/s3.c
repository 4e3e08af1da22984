/*
 * Unit tests for src/lake/s3.c and s3_upload.c without a server: the
 * settings a client refuses (and that no refusal shows a secret), object
 * keys with and without a prefix, the error text taken from S3's error
 * documents (and from truncated or hostile ones), journal lines, the
 * failures a put reports without a server (no file, a refused connection,
 * a passed deadline), and an uploader that is created and destroyed
 * without starting (what `strata check` does) or started over an empty
 * lake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"
#include "lake/lake.h"
#include "lake/lake_int.h"

#define SECRET "s3cr3t-never-shown"

static lake_s3_config_t good(void)
{
    lake_s3_config_t c;
    lake_s3_config_default(&c);
    c.endpoint = "http://127.0.0.1:9";
    c.bucket = "lake-bucket.1";
    c.access_key_id = "AKID";
    c.secret_access_key = SECRET;
    return c;
}

static void expect_refused(const lake_s3_config_t *c, const char *word)
{
    lake_s3_t *s = (lake_s3_t *)1;
    assert_int_equal(lake_s3_create(c, &s), CORE_EINVAL);
    assert_null(s);
    assert_non_null(strstr(core_error_detail(), word));
    assert_null(strstr(core_error_detail(), SECRET));
}

static void test_config_checks(void **state)
{
    (void)state;
    lake_s3_config_t c = good();
    lake_s3_t *s = NULL;
    assert_int_equal(lake_s3_create(&c, &s), 0);
    lake_s3_destroy(s);
    lake_s3_destroy(NULL);

    c = good();
    c.endpoint = "ftp://x";
    expect_refused(&c, "http");
    c.endpoint = "http://host/path";
    expect_refused(&c, "no path");
    c.endpoint = "https://";
    expect_refused(&c, "no host");
    c.endpoint = "https://AKID:" SECRET "@host"; /* refused, and not shown */
    expect_refused(&c, "not shown");
    c = good();
    const char *bad_buckets[] = {"ab", "Upper", "-start", "end-", "a..b", "under_score", NULL};
    for (int i = 0; bad_buckets[i] != NULL; i++) {
        c.bucket = bad_buckets[i];
        expect_refused(&c, "bucket");
    }
    c = good();
    c.prefix = "/lead";
    expect_refused(&c, "prefix");
    c.prefix = "trail/";
    expect_refused(&c, "prefix");
    c = good();
    c.access_key_id = NULL;
    expect_refused(&c, "access key");
    c = good();
    c.secret_access_key = "";
    expect_refused(&c, "secret");
    c.secret_access_key = SECRET "\n";
    expect_refused(&c, "secret");
    c = good();
    c.region = "eu/west";
    expect_refused(&c, "region");
    c = good();
    c.max_attempts = 0;
    expect_refused(&c, "attempts");
}

static void test_keys(void **state)
{
    (void)state;
    lake_s3_config_t c = good();
    lake_s3_t *s = NULL;
    char key[64];
    assert_int_equal(lake_s3_create(&c, &s), 0);
    assert_int_equal(
        lake_s3_key(s, "ticks", "date=2024-05-01/hour=13/ticks+0+7.parquet", key, sizeof key), 0);
    assert_string_equal(key, "ticks/date=2024-05-01/hour=13/ticks+0+7.parquet");
    assert_int_equal(lake_s3_key(s, "ticks", "date=2024-05-01/hour=13/ticks+0+7.parquet", key, 20),
                     CORE_ETOOBIG);
    lake_s3_destroy(s);
    c.prefix = "raw/lake";
    assert_int_equal(lake_s3_create(&c, &s), 0);
    assert_int_equal(lake_s3_key(s, "t", "date=2024-05-01/hour=13/_SUCCESS", key, sizeof key), 0);
    assert_string_equal(key, "raw/lake/t/date=2024-05-01/hour=13/_SUCCESS");
    lake_s3_destroy(s);
}

static void expect_target(const lake_s3_config_t *c, const char *key, const char *url,
                          const char *path, const char *host)
{
    lake_s3_t *s = NULL;
    core_buf_t u, p, h;
    core_buf_init(&u, CORE_MEM_TEST, 4096);
    core_buf_init(&p, CORE_MEM_TEST, 4096);
    core_buf_init(&h, CORE_MEM_TEST, 4096);
    assert_int_equal(lake_s3_create(c, &s), 0);
    assert_int_equal(lake_s3_target(s, key, &u, &p, &h), 0);
    assert_string_equal((const char *)u.data, url);
    assert_string_equal((const char *)p.data, path);
    assert_string_equal((const char *)h.data, host);
    lake_s3_destroy(s);
    core_buf_fini(&u);
    core_buf_fini(&p);
    core_buf_fini(&h);
}

static void test_targets(void **state)
{
    (void)state;
    lake_s3_config_t c = good();
    c.endpoint = "http://127.0.0.1:9000/";
    const char *key = "t/date=2024-05-01/hour=13/t+0+7.parquet";
    expect_target(
        &c, key,
        "http://127.0.0.1:9000/lake-bucket.1/t/date%3D2024-05-01/hour%3D13/t%2B0%2B7.parquet",
        "/lake-bucket.1/t/date%3D2024-05-01/hour%3D13/t%2B0%2B7.parquet", "127.0.0.1:9000");
    c.endpoint = "https://s3.eu-west-1.amazonaws.com";
    c.bucket = "lakebucket";
    c.path_style = false;
    expect_target(&c, "a b/_SUCCESS",
                  "https://lakebucket.s3.eu-west-1.amazonaws.com/a%20b/_SUCCESS", "/a%20b/_SUCCESS",
                  "lakebucket.s3.eu-west-1.amazonaws.com");
}

static void expect_text(const char *body, size_t n, size_t cap, const char *want)
{
    char out[512];
    memset(out, 'x', sizeof out);
    lake_s3_error_text(body, n, out, cap);
    assert_string_equal(out, want);
}

static void test_error_text(void **state)
{
    (void)state;
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
                      "<Message>The specified bucket does not exist</Message>"
                      "<BucketName>b</BucketName></Error>";
    expect_text(doc, strlen(doc), 512, "NoSuchBucket: The specified bucket does not exist");
    expect_text(doc, strlen(doc), 13, "NoSuchBucket");
    expect_text(doc, strlen(doc), 4, "NoS");
    /* Cut inside the message: what is there, up to the end. */
    size_t cut = (size_t)(strstr(doc, "bucket does") - doc);
    expect_text(doc, cut, 512, "NoSuchBucket: The specified ");
    expect_text("<Error><Message>m\x01\xff</Message></Error>", 37, 512, "m??");
    expect_text("<Code>", 6, 512, "");
    expect_text("no xml at all", 13, 512, "");
    expect_text("", 0, 512, "");
    char one = 'x';
    lake_s3_error_text(NULL, 0, &one, 1);
    assert_int_equal(one, '\0');
}

static void test_journal_line(void **state)
{
    (void)state;
    int64_t size, mtime;
    const char *name;
    size_t n;
    const char *l = "1234 1700000000123456789 date=2024-05-01/hour=13/t+0+7.parquet";
    assert_true(lake_s3_journal_line(l, strlen(l), &size, &mtime, &name, &n));
    assert_int_equal(size, 1234);
    assert_int_equal(mtime, 1700000000123456789LL);
    assert_int_equal(n, strlen("date=2024-05-01/hour=13/t+0+7.parquet"));
    assert_memory_equal(name, "date=2024-05-01/hour=13/t+0+7.parquet", n);
    l = "9223372036854775807 0 a";
    assert_true(lake_s3_journal_line(l, strlen(l), &size, &mtime, &name, &n));
    assert_int_equal(size, INT64_MAX);
    const char *bad[] = {"",
                         "1 2",
                         "1 2 ",
                         "x 2 a",
                         "1 x a",
                         "-1 2 a",
                         "1 2 /abs",
                         "1 2 date=../x",
                         "12345678901234567890 2 a",
                         "9223372036854775808 2 a",
                         "1  2 a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(lake_s3_journal_line(bad[i], strlen(bad[i]), &size, &mtime, &name, &n));
}

static void test_put_without_file(void **state)
{
    (void)state;
    lake_s3_config_t c = good();
    lake_s3_t *s = NULL;
    assert_int_equal(lake_s3_create(&c, &s), 0);
    assert_int_equal(lake_s3_put_file(s, "k", "/nonexistent/strata-s3-test"), CORE_ENOENT);
    lake_s3_destroy(s);
}

/* A port bound on 127.0.0.1 but not listening: connections are refused.
 * The socket stays open (so the port stays ours) until closed. */
static int closed_port(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(*fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

/* A closed port: every attempt fails to connect; the put says so and names
 * the endpoint, bucket and key, never the secret. */
static void test_put_unreachable(void **state)
{
    (void)state;
    int sock;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", closed_port(&sock));
    char dir[] = "/tmp/strata-s3-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/f", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("hello", f);
    fclose(f);
    lake_s3_config_t c = good();
    c.endpoint = endpoint;
    c.max_attempts = 2;
    c.retry_backoff_ms = 1;
    c.retry_backoff_max_ms = 1;
    lake_s3_t *s = NULL;
    assert_int_equal(lake_s3_create(&c, &s), 0);
    assert_int_equal(lake_s3_put_file(s, "t/x.parquet", path), CORE_EIO);
    const char *d = core_error_detail();
    assert_non_null(strstr(d, endpoint));
    assert_non_null(strstr(d, "lake-bucket.1"));
    assert_non_null(strstr(d, "t/x.parquet"));
    assert_null(strstr(d, SECRET));
    /* A deadline in the past ends a put before it starts anything. */
    lake_s3_set_deadline(s, 0);
    assert_int_equal(lake_s3_put_file(s, "t/x.parquet", path), CORE_ECLOSED);
    lake_s3_destroy(s);
    close(sock);
    unlink(path);
    rmdir(dir);
}

static void test_uploader_lifecycle(void **state)
{
    (void)state;
    lake_s3_config_t c = good();
    lake_uploader_t *u = NULL;
    /* Created and destroyed without a start: no thread, no file. */
    assert_int_equal(lake_uploader_create(&c, "/nonexistent/lake", &u), 0);
    lake_uploader_enqueue(u, "date=2024-05-01/hour=13/x.parquet");
    lake_uploader_destroy(u);
    lake_uploader_destroy(NULL);
    assert_int_equal(lake_uploader_create(&c, "", &u), CORE_EINVAL);
    c.bucket = "B";
    assert_int_equal(lake_uploader_create(&c, "/tmp", &u), CORE_EINVAL);
    assert_null(u);

    /* Started over an empty lake: it writes its journal, and stops. */
    char dir[] = "/tmp/strata-s3-unit-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char topic[160], journal[200];
    snprintf(topic, sizeof topic, "%s/ticks", dir);
    assert_int_equal(mkdir(topic, 0755), 0);
    c = good();
    c.drain_timeout_ms = 0;
    assert_int_equal(lake_uploader_create(&c, dir, &u), 0);
    assert_int_equal(lake_uploader_start(u, "ticks"), 0);
    assert_int_equal(lake_uploader_start(u, "ticks"), 0);
    assert_int_equal(lake_uploader_start(u, "other"), CORE_EINVAL);
    lake_uploader_destroy(u);
    snprintf(journal, sizeof journal, "%s/_s3_journal", topic);
    FILE *f = fopen(journal, "r");
    assert_non_null(f);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "strata-s3-journal 1 http://127.0.0.1:9/lake-bucket.1/\n");
    unlink(journal);
    rmdir(topic);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_checks),   cmocka_unit_test(test_keys),
        cmocka_unit_test(test_targets),         cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_journal_line),    cmocka_unit_test(test_put_without_file),
        cmocka_unit_test(test_put_unreachable), cmocka_unit_test(test_uploader_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The S3 client (src/lake/s3.c) against a real S3 endpoint: s3rver behind
 * the SigV4-checking gateway of s3_server.mjs, started by s3_put.sh.
 *
 * usage: test_lake_s3_put MODE ENDPOINT BUCKET KEY_ID SECRET DIR
 *   basic   puts files of 0 bytes, 5 bytes and 3 MiB, and one under a key
 *           with spaces, '+', '=', '~' and UTF-8, and prints "KEY FILE" per
 *           object for s3_put.sh to fetch and compare; then the refusals: a
 *           wrong secret (CORE_EFAILED naming the endpoint, bucket, key and
 *           SignatureDoesNotMatch, never the secret), an unknown bucket
 *           (NoSuchBucket)
 *   retry   one put succeeds although the first answers are 503 (the
 *           gateway fails the first 2 PUTs; 4 attempts)
 *   giveup  every answer is 503: after max_attempts the put fails with
 *           CORE_EIO, naming the endpoint, bucket and key
 * Exit status 0 when every expectation held; the failures are printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lake/lake.h"

static int failures;

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL: " __VA_ARGS__);                                                          \
            printf(" (%s:%d)\n", __FILE__, __LINE__);                                              \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const char *endpoint, *bucket, *key_id, *secret, *dir;

static lake_s3_t *client(const char *with_secret, const char *in_bucket, int32_t attempts)
{
    lake_s3_config_t c;
    lake_s3_config_default(&c);
    c.endpoint = endpoint;
    c.bucket = in_bucket;
    c.access_key_id = key_id;
    c.secret_access_key = with_secret;
    c.max_attempts = attempts;
    c.retry_backoff_ms = 50;
    c.retry_backoff_max_ms = 200;
    lake_s3_t *s = NULL;
    int rc = lake_s3_create(&c, &s);
    if (rc != 0) {
        printf("FAIL: lake_s3_create: %s\n", core_error_detail());
        exit(1);
    }
    return s;
}

/* Writes n bytes (a pseudo-random pattern) to DIR/name; returns the path. */
static const char *make_file(const char *name, size_t n)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        printf("FAIL: cannot write %s\n", path);
        exit(1);
    }
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fputc((int)(x & 0xff), f);
    }
    fclose(f);
    return path;
}

static void put_ok(lake_s3_t *s, const char *key, const char *path)
{
    int rc = lake_s3_put_file(s, key, path);
    EXPECT(rc == 0, "PUT %s: %s", key, core_error_detail());
    if (rc == 0)
        printf("%s\t%s\n", key, path);
}

static void refused(lake_s3_t *s, const char *key, const char *path, const char *code)
{
    int rc = lake_s3_put_file(s, key, path);
    const char *d = core_error_detail();
    EXPECT(rc == CORE_EFAILED, "PUT %s: expected refused (%s), got %d: %s", key, code, rc, d);
    EXPECT(strstr(d, code) != NULL, "detail lacks %s: %s", code, d);
    EXPECT(strstr(d, endpoint) != NULL, "detail lacks the endpoint: %s", d);
    EXPECT(strstr(d, key) != NULL, "detail lacks the key: %s", d);
    EXPECT(strstr(d, secret) == NULL, "detail shows the secret: %s", d);
    EXPECT(strstr(d, "Signature=") == NULL, "detail shows a signature: %s", d);
}

static void basic(void)
{
    lake_s3_t *s = client(secret, bucket, 4);
    put_ok(s, "t/date=2024-05-01/hour=13/_SUCCESS", make_file("empty", 0));
    put_ok(s, "t/date=2024-05-01/hour=13/t+0+7.parquet", make_file("small", 5));
    put_ok(s, "t/date=2024-05-01/hour=14/t+1+1000.parquet", make_file("big", 3u << 20));
    put_ok(s, "odd keys/a b+c=d~e/\xc3\xa9t\xc3\xa9 (1).bin", make_file("odd", 1000));
    lake_s3_destroy(s);

    char wrong[512];
    snprintf(wrong, sizeof wrong, "%sx", secret);
    s = client(wrong, bucket, 4);
    char path[4096];
    snprintf(path, sizeof path, "%s/small", dir);
    refused(s, "t/refused.parquet", path, "SignatureDoesNotMatch");
    EXPECT(strstr(core_error_detail(), bucket) != NULL, "detail lacks the bucket: %s",
           core_error_detail());
    EXPECT(strstr(core_error_detail(), wrong) == NULL, "detail shows the wrong secret");
    lake_s3_destroy(s);

    s = client(secret, "no-such-bucket", 4);
    refused(s, "t/x.parquet", path, "NoSuchBucket");
    lake_s3_destroy(s);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s basic|retry|giveup ENDPOINT BUCKET KEY_ID SECRET DIR\n",
                argv[0]);
        return 2;
    }
    endpoint = argv[2], bucket = argv[3], key_id = argv[4], secret = argv[5], dir = argv[6];
    if (strcmp(argv[1], "basic") == 0) {
        basic();
    } else if (strcmp(argv[1], "retry") == 0) {
        lake_s3_t *s = client(secret, bucket, 4);
        put_ok(s, "retry/t+0+0.parquet", make_file("retry", 70000));
        lake_s3_destroy(s);
    } else if (strcmp(argv[1], "giveup") == 0) {
        lake_s3_t *s = client(secret, bucket, 3);
        int rc = lake_s3_put_file(s, "giveup/x", make_file("giveup", 10));
        const char *d = core_error_detail();
        EXPECT(rc == CORE_EIO, "expected CORE_EIO, got %d: %s", rc, d);
        EXPECT(strstr(d, "3 times") != NULL && strstr(d, "503") != NULL, "detail: %s", d);
        EXPECT(strstr(d, "giveup/x") != NULL && strstr(d, bucket) != NULL, "detail: %s", d);
        EXPECT(strstr(d, secret) == NULL, "detail shows the secret: %s", d);
        lake_s3_destroy(s);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    return failures == 0 ? 0 : 1;
}

/*
 * Unit tests for the config's s3 section and archives' `upload` key
 * (src/app/config_keys.c, config_refs.c): where each setting comes from
 * (STRATA_S3_* over the file over AWS_* over the defaults), the computed
 * endpoint, the session token that goes only with the AWS key it came
 * with, the errors (no credentials, `upload: true` without a bucket, two
 * archives uploading one topic), and that no error shows a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/config.h"

static const char *const test_env[] = {
    "AWS_ACCESS_KEY_ID",       "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",       "AWS_REGION",
    "AWS_DEFAULT_REGION",      "AWS_ENDPOINT_URL",
    "STRATA_S3_BUCKET",        "STRATA_S3_SECRET_ACCESS_KEY",
    "STRATA_S3_ACCESS_KEY_ID", "STRATA_S3_PATH_STYLE",
    "STRATA_S3_REGION",
};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < CORE_ARRAY_LEN(test_env); i++)
        unsetenv(test_env[i]);
    return 0;
}

#define ARCHIVE                                                                                    \
    "topics:\n"                                                                                    \
    "  - {name: ticks, schema: tick}\n"                                                            \
    "schemas:\n"                                                                                   \
    "  - name: tick\n"                                                                             \
    "    fields:\n"                                                                                \
    "      - {name: ts, type: timestamp, required: true}\n"                                        \
    "pipelines:\n"                                                                                 \
    "  - {name: lake, kind: archive, topic: ticks, event_time: ts}\n"

static app_config_t *load(const char *yaml, int want_rc)
{
    app_config_t *cfg = NULL;
    int rc = app_config_load_string("t.yaml", yaml, strlen(yaml), &cfg);
    assert_non_null(cfg);
    if (rc != want_rc)
        app_config_print_errors(cfg, stderr);
    assert_int_equal(rc, want_rc);
    return cfg;
}

/* Every error's text joined, for searching. */
static void errors_text(const app_config_t *cfg, char *out, size_t cap)
{
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; app_config_error_get(cfg, i) != NULL; i++) {
        const app_config_error_t *e = app_config_error_get(cfg, i);
        int n = snprintf(out + used, cap - used, "%d: %s\n", e->line, e->text);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
}

static void test_no_bucket(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    app_config_t *cfg = load(ARCHIVE, 0);
    assert_null(cfg->s3_bucket);
    assert_null(cfg->s3_access_key_id); /* nothing is filled in without a bucket */
    assert_null(cfg->s3_endpoint);
    assert_true(cfg->pipelines[0].upload);
    assert_true(cfg->s3_path_style);
    assert_int_equal(cfg->s3_max_attempts, 4);
    assert_int_equal(cfg->s3_drain_timeout_ms, 10000);
    app_config_destroy(cfg);
}

static void test_aws_fallbacks(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    setenv("AWS_DEFAULT_REGION", "eu-west-3", 1);
    app_config_t *cfg = load("s3: {bucket: lake}\n" ARCHIVE, 0);
    assert_string_equal(cfg->s3_bucket, "lake");
    assert_string_equal(cfg->s3_access_key_id, "AKIDENV");
    assert_string_equal(cfg->s3_secret_access_key, "envsecret");
    assert_string_equal(cfg->s3_session_token, "envtoken");
    assert_string_equal(cfg->s3_region, "eu-west-3");
    assert_string_equal(cfg->s3_endpoint, "https://s3.eu-west-3.amazonaws.com");
    assert_null(cfg->s3_prefix);
    app_config_destroy(cfg);

    setenv("AWS_REGION", "ap-south-1", 1); /* beats AWS_DEFAULT_REGION */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000", 1);
    cfg = load("s3: {bucket: lake}\n" ARCHIVE, 0);
    assert_string_equal(cfg->s3_region, "ap-south-1");
    assert_string_equal(cfg->s3_endpoint, "http://127.0.0.1:9000");
    app_config_destroy(cfg);
}

static void test_precedence(void **state)
{
    (void)state;
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    setenv("AWS_REGION", "eu-west-3", 1);
    /* The file beats AWS_*; the token stays with the AWS key. */
    app_config_t *cfg = load("s3:\n"
                             "  bucket: lake\n"
                             "  region: us-west-2\n"
                             "  endpoint: http://minio:9000\n"
                             "  prefix: raw/x\n"
                             "  path_style: false\n"
                             "  access_key_id: FILEKEY\n"
                             "  secret_access_key: filesecret\n" ARCHIVE,
                             0);
    assert_string_equal(cfg->s3_access_key_id, "FILEKEY");
    assert_string_equal(cfg->s3_secret_access_key, "filesecret");
    assert_null(cfg->s3_session_token);
    assert_string_equal(cfg->s3_region, "us-west-2");
    assert_string_equal(cfg->s3_endpoint, "http://minio:9000");
    assert_string_equal(cfg->s3_prefix, "raw/x");
    assert_false(cfg->s3_path_style);
    app_config_destroy(cfg);
    /* STRATA_S3_* beats the file. */
    setenv("STRATA_S3_SECRET_ACCESS_KEY", "stratasecret", 1);
    setenv("STRATA_S3_PATH_STYLE", "true", 1);
    cfg = load(
        "s3: {bucket: lake, access_key_id: FILEKEY, secret_access_key: filesecret}\n" ARCHIVE, 0);
    assert_string_equal(cfg->s3_secret_access_key, "stratasecret");
    assert_true(cfg->s3_path_style);
    app_config_destroy(cfg);
    /* The bucket itself may come from the environment. */
    setenv("STRATA_S3_BUCKET", "envbucket", 1);
    cfg = load(ARCHIVE, 0);
    assert_string_equal(cfg->s3_bucket, "envbucket");
    assert_string_equal(cfg->s3_access_key_id, "AKIDENV");
    assert_string_equal(cfg->s3_session_token, "envtoken");
    app_config_destroy(cfg);
}

static void test_errors(void **state)
{
    (void)state;
    char text[4096];
    /* No credentials anywhere: both named, with where to set them. */
    app_config_t *cfg = load("s3:\n  bucket: lake\n" ARCHIVE, CORE_EINVAL);
    errors_text(cfg, text, sizeof text);
    assert_non_null(strstr(text, "2: s3.access_key_id: no access key for bucket 'lake'"));
    assert_non_null(strstr(text, "AWS_ACCESS_KEY_ID"));
    assert_non_null(strstr(text, "s3.secret_access_key: no secret key"));
    app_config_destroy(cfg);

    /* A secret without a key id: the error shows no secret. */
    setenv("STRATA_S3_SECRET_ACCESS_KEY", "verysecretvalue", 1);
    cfg = load("s3: {bucket: lake}\n" ARCHIVE, CORE_EINVAL);
    errors_text(cfg, text, sizeof text);
    assert_non_null(strstr(text, "no access key"));
    assert_null(strstr(text, "verysecretvalue"));
    app_config_destroy(cfg);
    unsetenv("STRATA_S3_SECRET_ACCESS_KEY");

    /* upload: true needs a bucket. */
    cfg = load("topics:\n  - {name: ticks, schema: tick}\n"
               "schemas:\n  - {name: tick, fields: [{name: ts, type: timestamp}]}\n"
               "pipelines:\n  - {name: lake, kind: archive, topic: ticks, upload: true}\n",
               CORE_EINVAL);
    errors_text(cfg, text, sizeof text);
    assert_non_null(strstr(text, "pipelines[0].upload: there is no s3.bucket"));
    app_config_destroy(cfg);

    /* Two archives uploading one topic; upload: false settles it. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    const char *two = "s3: {bucket: lake}\n" ARCHIVE
                      "  - {name: lake2, kind: archive, topic: ticks, lake_dir: /tmp/other}\n";
    cfg = load(two, CORE_EINVAL);
    errors_text(cfg, text, sizeof text);
    assert_non_null(strstr(text, "pipelines[1].upload: the archive at line 9 uploads topic "
                                 "'ticks' already"));
    assert_null(strstr(text, "envsecret"));
    app_config_destroy(cfg);
    const char *one =
        "s3: {bucket: lake}\n" ARCHIVE "  - {name: lake2, kind: archive, topic: ticks, "
        "lake_dir: /tmp/other, upload: false}\n";
    cfg = load(one, 0);
    assert_false(cfg->pipelines[1].upload);
    app_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_bucket, clear_env),
        cmocka_unit_test_setup(test_aws_fallbacks, clear_env),
        cmocka_unit_test_setup(test_precedence, clear_env),
        cmocka_unit_test_setup(test_errors, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * topic.c - topic names, topic config files, and loading a topic's
 * partitions.
 *
 * A topic's config lives in DATA/topics/<name>.topic as "key=value" lines
 * with Kafka's key names. The file is written to a temporary name, fsynced
 * and renamed, so it is either whole or absent; its presence is what makes
 * the topic exist (seglog.c creates partition folders first).
 *
 * The file is outside input: it is read with a size cap, each line is
 * checked, and errors name the file and line.
 */
#include "seglog/seglog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_FILE_MAX 65536

char *seglog_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = core_alloc(CORE_MEM_SEGLOG, la + lb + 2);
    if (s == NULL)
        return NULL;
    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

void seglog_topic_config_default(seglog_topic_config_t *c)
{
    c->partitions = 1;
    c->flush = SEGLOG_FLUSH_INTERVAL;
    c->flush_interval_ms = 1000;
    c->segment_bytes = 1LL << 30;
    c->segment_ms = 7LL * 24 * 3600 * 1000;
    c->retention_bytes = -1;
    c->retention_ms = -1;
    c->max_message_bytes = 1048588;
    c->index_interval_bytes = 4096;
}

int seglog_flush_parse(const char *s, seglog_flush_t *mode, int64_t *interval_ms)
{
    if (strcmp(s, "always") == 0) {
        *mode = SEGLOG_FLUSH_ALWAYS;
        return 0;
    }
    if (strcmp(s, "never") == 0) {
        *mode = SEGLOG_FLUSH_NEVER;
        return 0;
    }
    if (strncmp(s, "interval:", 9) == 0 &&
        core_parse_i64(s + 9, 1, 24LL * 3600 * 1000, interval_ms) == 0) {
        *mode = SEGLOG_FLUSH_INTERVAL;
        return 0;
    }
    return core_error(CORE_EINVAL,
                      "flush policy '%s' is not always, never or interval:<ms> "
                      "(1 to 86400000)",
                      s);
}

void seglog_flush_format(seglog_flush_t mode, int64_t interval_ms, char *out, size_t out_len)
{
    if (mode == SEGLOG_FLUSH_ALWAYS)
        snprintf(out, out_len, "always");
    else if (mode == SEGLOG_FLUSH_NEVER)
        snprintf(out, out_len, "never");
    else
        snprintf(out, out_len, "interval:%" PRId64, interval_ms);
}

int seglog_topic_name_check(const char *name)
{
    size_t n = strlen(name);
    if (n == 0)
        return core_error(CORE_EINVAL, "topic name is empty");
    if (n > SEGLOG_TOPIC_NAME_MAX)
        return core_error(CORE_EINVAL, "topic name is %zu characters; the limit is %d", n,
                          SEGLOG_TOPIC_NAME_MAX);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return core_error(CORE_EINVAL, "topic name cannot be '.' or '..'");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return core_error(CORE_EINVAL,
                              "topic name '%s' has the character 0x%02x at %zu; "
                              "only ASCII letters, digits, '.', '_' and '-' are allowed",
                              name, (unsigned char)c, i);
    }
    return 0;
}

int seglog_topic_config_check(const seglog_topic_config_t *c)
{
    if (c->partitions < 1 || c->partitions > SEGLOG_PARTITIONS_MAX)
        return core_error(CORE_EINVAL, "partitions must be 1..%d, not %" PRId32,
                          SEGLOG_PARTITIONS_MAX, c->partitions);
    if (c->flush == SEGLOG_FLUSH_INTERVAL && c->flush_interval_ms < 1)
        return core_error(CORE_EINVAL, "flush interval must be at least 1 ms");
    if (c->segment_bytes < 1024 || c->segment_bytes > INT32_MAX)
        return core_error(CORE_EINVAL, "segment.bytes must be 1024..%d", INT32_MAX);
    if (c->segment_ms < 1)
        return core_error(CORE_EINVAL, "segment.ms must be at least 1");
    if (c->retention_bytes < -1 || c->retention_ms < -1)
        return core_error(CORE_EINVAL, "retention.bytes and retention.ms must be -1 or more");
    if (c->max_message_bytes < RECORD_BATCH_HEADER_SIZE || c->max_message_bytes > (1 << 30))
        return core_error(CORE_EINVAL, "max.message.bytes must be %d..%d", RECORD_BATCH_HEADER_SIZE,
                          1 << 30);
    if (c->index_interval_bytes < 1)
        return core_error(CORE_EINVAL, "index.interval.bytes must be at least 1");
    return 0;
}

int seglog_topic_config_write(const char *topics_dir, const char *name,
                              const seglog_topic_config_t *c)
{
    char flush[48], path[SEGLOG_PATH_MAX], tmp[SEGLOG_PATH_MAX];
    seglog_flush_format(c->flush, c->flush_interval_ms, flush, sizeof flush);
    snprintf(path, sizeof path, "%s/%s.topic", topics_dir, name);
    /* One fixed temporary name (creates are serialised by seglog.mu): a
     * 249-character topic name plus ".topic.tmp" would exceed NAME_MAX. */
    snprintf(tmp, sizeof tmp, "%s/.topic-config.tmp", topics_dir);
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_SEGLOG, CONFIG_FILE_MAX);
    int rc =
        core_buf_printf(&b,
                        "# strata topic config\npartitions=%" PRId32 "\nflush=%s\n"
                        "segment.bytes=%" PRId64 "\nsegment.ms=%" PRId64 "\n"
                        "retention.bytes=%" PRId64 "\nretention.ms=%" PRId64 "\n"
                        "max.message.bytes=%" PRId32 "\nindex.interval.bytes=%" PRId32 "\n",
                        c->partitions, flush, c->segment_bytes, c->segment_ms, c->retention_bytes,
                        c->retention_ms, c->max_message_bytes, c->index_interval_bytes);
    int fd = rc == 0 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (rc == 0 && fd < 0)
        rc = core_error(CORE_EIO, "%s: open failed: %s", tmp, strerror(errno));
    if (rc == 0)
        rc = core_pwrite_all(fd, b.data, b.len, 0);
    if (rc == 0 && fsync(fd) != 0)
        rc = core_error(CORE_EIO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = core_error(CORE_EIO, "%s: rename failed: %s", path, strerror(errno));
    if (rc == 0)
        rc = core_fsync_dir(topics_dir);
    core_buf_fini(&b);
    return rc;
}

/* Applies one "key=value" line to c. */
static int config_line(char *line, seglog_topic_config_t *c)
{
    char *eq = strchr(line, '=');
    if (eq == NULL)
        return core_error(CORE_EINVAL, "expected key=value");
    *eq = '\0';
    const char *k = line, *v = eq + 1;
    int64_t n = 0;
    if (strcmp(k, "flush") == 0)
        return seglog_flush_parse(v, &c->flush, &c->flush_interval_ms);
    if (core_parse_i64(v, -1, INT64_MAX, &n) != 0)
        return core_error(CORE_EINVAL, "%s: '%s' is not a number", k, v);
    if (strcmp(k, "partitions") == 0 && n <= INT32_MAX)
        c->partitions = (int32_t)n;
    else if (strcmp(k, "segment.bytes") == 0)
        c->segment_bytes = n;
    else if (strcmp(k, "segment.ms") == 0)
        c->segment_ms = n;
    else if (strcmp(k, "retention.bytes") == 0)
        c->retention_bytes = n;
    else if (strcmp(k, "retention.ms") == 0)
        c->retention_ms = n;
    else if (strcmp(k, "max.message.bytes") == 0 && n <= INT32_MAX)
        c->max_message_bytes = (int32_t)n;
    else if (strcmp(k, "index.interval.bytes") == 0 && n <= INT32_MAX)
        c->index_interval_bytes = (int32_t)n;
    else
        return core_error(CORE_EINVAL, "unknown key or value out of range: %s", k);
    return 0;
}

int seglog_topic_config_read(const char *path, seglog_topic_config_t *c)
{
    seglog_topic_config_default(c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return core_error(CORE_EIO, "%s: open failed: %s", path, strerror(errno));
    char *text = core_alloc(CORE_MEM_SEGLOG, CONFIG_FILE_MAX + 1);
    ssize_t n = text ? read(fd, text, CONFIG_FILE_MAX + 1) : -1;
    close(fd);
    int rc = 0;
    if (text == NULL)
        return CORE_ENOMEM;
    if (n < 0 || n > CONFIG_FILE_MAX)
        rc = core_error(CORE_ECORRUPT, "%s: unreadable or larger than %d bytes", path,
                        CONFIG_FILE_MAX);
    for (ssize_t at = 0, lineno = 1; rc == 0 && at < n; lineno++) {
        char *line = text + at;
        char *nl = memchr(line, '\n', (size_t)(n - at));
        if (nl == NULL)
            nl = text + n; /* text has room for the terminator */
        *nl = '\0';
        at = nl - text + 1;
        if (line[0] != '\0' && line[0] != '#' && config_line(line, c) != 0)
            rc = core_error(CORE_ECORRUPT, "%s:%zd: %s", path, lineno, core_error_detail());
    }
    core_free(text);
    if (rc == 0 && seglog_topic_config_check(c) != 0)
        rc = core_error(CORE_ECORRUPT, "%s: %s", path, core_error_detail());
    return rc;
}

void seglog_topic_destroy(seglog_topic_t *t)
{
    if (t == NULL)
        return;
    for (int32_t i = 0; t->parts != NULL && i < t->cfg.partitions; i++)
        seglog_part_destroy(t->parts[i]);
    core_free(t->parts);
    core_free(t->name);
    core_free(t);
}

/* Loads a topic; a partition that fails to recover is kept, marked failed,
 * so the rest of the topic stays usable. */
int seglog_topic_load(seglog_t *log, const char *name, bool clean, seglog_topic_t **out)
{
    seglog_topic_t *t = core_calloc(CORE_MEM_SEGLOG, 1, sizeof *t);
    if (t == NULL)
        return CORE_ENOMEM;
    t->log = log;
    t->name = core_strdup(CORE_MEM_SEGLOG, name);
    char path[SEGLOG_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.topic", log->topics_dir, name);
    int rc = t->name ? seglog_topic_config_read(path, &t->cfg) : CORE_ENOMEM;
    if (rc == 0) {
        t->parts = core_calloc(CORE_MEM_SEGLOG, (size_t)t->cfg.partitions, sizeof *t->parts);
        rc = t->parts ? 0 : CORE_ENOMEM;
    }
    for (int32_t i = 0; rc == 0 && i < t->cfg.partitions; i++) {
        rc = seglog_part_create(t, i, false, &t->parts[i]);
        if (rc != 0)
            break;
        int lrc = seglog_part_load(t->parts[i], clean);
        if (lrc == CORE_ENOMEM)
            rc = lrc;
        else if (lrc != 0)
            seglog_part_fail(t->parts[i], "%s", core_error_detail());
    }
    if (rc != 0) {
        seglog_topic_destroy(t);
        return rc;
    }
    *out = t;
    return 0;
}

int seglog_remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : core_error(CORE_EIO, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0)
            rc = core_error(CORE_EIO, "%s/%s: unlink failed: %s", dir, e->d_name, strerror(errno));
    }
    closedir(d);
    if (rmdir(dir) != 0 && rc == 0)
        rc = core_error(CORE_EIO, "%s: rmdir failed: %s", dir, strerror(errno));
    return rc;
}

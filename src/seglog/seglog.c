/*
 * seglog.c - the log as a whole: opening and closing a data directory, the
 * topic registry, and the background flusher.
 *
 * Open:
 *   1. create DATA/ and DATA/topics/ if needed;
 *   2. note whether DATA/.clean-shutdown exists, then remove it and fsync
 *      DATA/ before anything else happens, so a crash from here on is
 *      detected at the next open (the KAFKA-15375 lesson: the marker must
 *      never exist while recovery or writes are incomplete);
 *   3. remove leftovers of interrupted topic operations: partition folders
 *      whose <topic>.topic file is missing (an interrupted create or delete)
 *      and *.tmp files;
 *   4. load every topic; each partition recovers on its own (recovery.c).
 * Close: stop the flusher, fsync every partition, write indexes and recovery
 * points, then write and fsync the marker.
 *
 * The flusher thread runs interval flushes and, every five minutes,
 * retention (Kafka's log.retention.check.interval.ms default).
 *
 * Threading: mu guards the topic map; topic pointers stay valid until the
 * topic is deleted or the log closed. A thread that uses them while another
 * may delete the topic holds a pin (seglog_pin: life_lock for reading)
 * across the lookup and the use. The flusher fsyncs without mu, under
 * life_lock held for reading; deletion takes life_lock for writing.
 */
#include "seglog/seglog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RETENTION_CHECK_MS   (5 * 60 * 1000)
#define FLUSHER_MAX_SLEEP_MS 1000

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    return core_error(CORE_EIO, "%s: cannot create folder: %s", path, strerror(errno));
}

/* Calls fn on every partition of every topic, with mu held. */
static void each_partition(seglog_t *log, void (*fn)(seglog_part_t *, void *), void *arg)
{
    size_t cursor = 0;
    const void *k;
    size_t kl;
    void *v;
    while (core_map_next(log->topics, &cursor, &k, &kl, &v)) {
        seglog_topic_t *t = v;
        for (int32_t i = 0; i < t->cfg.partitions; i++)
            fn(t->parts[i], arg);
    }
}

typedef struct {
    int64_t now_ms;
    int64_t next_ms;
    bool retention;
} flush_pass_t;

static void flush_one(seglog_part_t *p, void *arg)
{
    flush_pass_t *f = arg;
    int64_t wait = seglog_part_flush_tick(p, f->now_ms);
    if (wait < f->next_ms)
        f->next_ms = wait;
    if (f->retention && seglog_retention_run(p, core_wall_ms()) < 0)
        core_log(CORE_LOG_WARN, "seglog", "%s: retention: %s", p->name, core_error_detail());
}

typedef struct {
    seglog_part_t **v;
    size_t n, cap;
} part_list_t;

static void collect_one(seglog_part_t *p, void *arg)
{
    part_list_t *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        seglog_part_t **v = core_realloc(CORE_MEM_SEGLOG, l->v, cap * sizeof *v);
        if (v == NULL)
            return; /* this pass skips the rest; the next one retries */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = p;
}

/* One pass over every partition. The fsyncs run WITHOUT mu (holding it
 * would stall every seglog_topic_get for an fsync); life_lock, held for
 * reading, keeps topic deletion from freeing the partitions meanwhile.
 * The list must be collected under life_lock too: collected under mu
 * alone, a delete could take life_lock while the pass held mu, get mu
 * once the pass dropped it, and free listed partitions before the pass
 * took life_lock (a use after free). Lock order: life_lock, then mu.
 * Called with mu held; returns with it held. */
static void flush_pass(seglog_t *log, flush_pass_t *f, part_list_t *parts)
{
    pthread_mutex_unlock(&log->mu);
    pthread_rwlock_rdlock(&log->life_lock);
    pthread_mutex_lock(&log->mu);
    parts->n = 0;
    each_partition(log, collect_one, parts);
    pthread_mutex_unlock(&log->mu);
    for (size_t i = 0; i < parts->n; i++)
        flush_one(parts->v[i], f);
    pthread_rwlock_unlock(&log->life_lock);
    pthread_mutex_lock(&log->mu);
}

static void *flusher_main(void *arg)
{
    seglog_t *log = arg;
    part_list_t parts = {NULL, 0, 0};
    pthread_mutex_lock(&log->mu);
    while (!log->stopping) {
        flush_pass_t f = {core_mono_ms(), FLUSHER_MAX_SLEEP_MS, false};
        if (f.now_ms >= log->next_retention_ms) {
            f.retention = true;
            log->next_retention_ms = f.now_ms + RETENTION_CHECK_MS;
        }
        flush_pass(log, &f, &parts);
        if (log->stopping)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + CORE_MAX(f.next_ms, 1) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&log->flusher_cv, &log->mu, &ts);
    }
    pthread_mutex_unlock(&log->mu);
    core_free(parts.v);
    return NULL;
}

/* Splits "<topic>-<p>" folder names; true if it looks like a partition. */
static bool partition_dir_topic(const char *name, char *topic, size_t topic_len)
{
    const char *dash = strrchr(name, '-');
    if (dash == NULL || dash == name || dash[1] == '\0' || (size_t)(dash - name) >= topic_len)
        return false;
    for (const char *c = dash + 1; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    memcpy(topic, name, (size_t)(dash - name));
    topic[dash - name] = '\0';
    return true;
}

/* Loads topics and removes orphaned partition folders and temporaries. */
static int scan_topics(seglog_t *log, bool clean)
{
    DIR *d = opendir(log->topics_dir);
    if (d == NULL)
        return core_error(CORE_EIO, "%s: %s", log->topics_dir, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        size_t len = strlen(n);
        char topic[SEGLOG_TOPIC_NAME_MAX + 8], path[SEGLOG_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", log->topics_dir, n);
        if (len > 6 && strcmp(n + len - 6, ".topic") == 0 && len - 6 < sizeof topic) {
            memcpy(topic, n, len - 6);
            topic[len - 6] = '\0';
            seglog_topic_t *t;
            if (seglog_topic_name_check(topic) != 0)
                continue;
            rc = seglog_topic_load(log, topic, clean, &t);
            if (rc == 0 && (rc = core_map_put(log->topics, topic, strlen(topic), t, NULL)) != 0)
                seglog_topic_destroy(t);
        } else if (len > 4 && strcmp(n + len - 4, ".tmp") == 0) {
            unlink(path);
        } else if (partition_dir_topic(n, topic, sizeof topic)) {
            char cfg[SEGLOG_PATH_MAX];
            snprintf(cfg, sizeof cfg, "%s/%s.topic", log->topics_dir, topic);
            if (access(cfg, F_OK) != 0 && errno == ENOENT) {
                core_log(CORE_LOG_WARN, "seglog",
                         "removing %s: its topic does not exist "
                         "(an interrupted create or delete)",
                         path);
                seglog_remove_tree(path);
            }
        }
    }
    closedir(d);
    return rc;
}

static void destroy_topics(seglog_t *log)
{
    size_t cursor = 0;
    const void *k;
    size_t kl;
    void *v;
    while (log->topics && core_map_next(log->topics, &cursor, &k, &kl, &v))
        seglog_topic_destroy(v);
    core_map_destroy(log->topics);
}

static void log_free(seglog_t *log)
{
    destroy_topics(log);
    pthread_mutex_destroy(&log->mu);
    pthread_rwlock_destroy(&log->hook_lock);
    pthread_rwlock_destroy(&log->life_lock);
    pthread_cond_destroy(&log->flusher_cv);
    if (log->lock_fd >= 0)
        close(log->lock_fd); /* releases the flock */
    core_free(log->topics_dir);
    core_free(log->dir);
    core_free(log);
}

/* Takes an exclusive lock on DATA/.lock, so that a second process cannot
 * open the same folder: it would run recovery on partitions still being
 * written and write the clean-shutdown marker under the first one. */
static int lock_dir(seglog_t *log)
{
    char *path = seglog_path_join(log->dir, SEGLOG_LOCK_FILE);
    if (path == NULL)
        return CORE_ENOMEM;
    int rc = 0;
    log->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (log->lock_fd < 0)
        rc = core_error(CORE_EIO, "%s: cannot open: %s", path, strerror(errno));
    else if (flock(log->lock_fd, LOCK_EX | LOCK_NB) != 0)
        rc = core_error(errno == EWOULDBLOCK ? CORE_EEXIST : CORE_EIO,
                        "data folder %s is in use by another strata process (%s is locked); "
                        "stop it or pass another --data folder",
                        log->dir, path);
    core_free(path);
    return rc;
}

/* Consumes the clean-shutdown marker; returns whether it was there. */
static int take_marker(seglog_t *log, bool *clean)
{
    char *marker = seglog_path_join(log->dir, SEGLOG_CLEAN_MARKER);
    if (marker == NULL)
        return CORE_ENOMEM;
    *clean = access(marker, F_OK) == 0;
    int rc = 0;
    if (*clean && unlink(marker) != 0)
        rc = core_error(CORE_EIO, "%s: cannot remove: %s", marker, strerror(errno));
    if (rc == 0)
        rc = core_fsync_dir(log->dir);
    core_free(marker);
    return rc;
}

int seglog_open(const char *data_dir, seglog_t **out)
{
    seglog_t *log = core_calloc(CORE_MEM_SEGLOG, 1, sizeof *log);
    if (log == NULL)
        return CORE_ENOMEM;
    log->lock_fd = -1;
    pthread_mutex_init(&log->mu, NULL);
    pthread_rwlock_init(&log->hook_lock, NULL);
    /* Writers first: a delete must not starve behind pins that keep
     * overlapping; pins never nest, so a waiting writer blocks no pin
     * holder (seglog_pin). */
    pthread_rwlockattr_t la;
    pthread_rwlockattr_init(&la);
    pthread_rwlockattr_setkind_np(&la, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&log->life_lock, &la);
    pthread_rwlockattr_destroy(&la);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&log->flusher_cv, &ca);
    pthread_condattr_destroy(&ca);
    log->dir = core_strdup(CORE_MEM_SEGLOG, data_dir);
    log->topics_dir = seglog_path_join(data_dir, "topics");
    log->topics = core_map_create(CORE_MEM_SEGLOG, 16);
    int rc = log->dir && log->topics_dir && log->topics ? 0 : CORE_ENOMEM;
    bool clean = false;
    if (rc == 0)
        rc = make_dir(data_dir);
    if (rc == 0)
        rc = lock_dir(log);
    if (rc == 0)
        rc = make_dir(log->topics_dir);
    if (rc == 0)
        rc = take_marker(log, &clean);
    if (rc == 0)
        rc = scan_topics(log, clean);
    log->recovered = !clean;
    log->next_retention_ms = core_mono_ms() + RETENTION_CHECK_MS;
    if (rc == 0) {
        rc = pthread_create(&log->flusher, NULL, flusher_main, log) == 0
                 ? 0
                 : core_error(CORE_EIO, "cannot start the flusher thread");
        log->flusher_started = rc == 0;
    }
    if (rc != 0) {
        log_free(log);
        return rc;
    }
    *out = log;
    return 0;
}

static void close_one(seglog_part_t *p, void *arg)
{
    bool *all_ok = arg;
    if (seglog_part_close_clean(p) != 0) {
        core_log(CORE_LOG_ERROR, "seglog", "%s: not closed cleanly: %s", p->name,
                 core_error_detail());
        *all_ok = false;
    }
}

static void write_marker(seglog_t *log)
{
    char *marker = seglog_path_join(log->dir, SEGLOG_CLEAN_MARKER);
    int fd = marker ? open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || core_fsync_dir(log->dir) != 0)
        core_log(CORE_LOG_WARN, "seglog",
                 "cannot write the clean-shutdown marker; the next "
                 "open will run recovery");
    core_free(marker);
}

void seglog_close(seglog_t *log)
{
    if (log == NULL)
        return;
    pthread_mutex_lock(&log->mu);
    log->stopping = true;
    pthread_cond_broadcast(&log->flusher_cv);
    pthread_mutex_unlock(&log->mu);
    if (log->flusher_started)
        pthread_join(log->flusher, NULL);
    bool all_ok = true;
    pthread_mutex_lock(&log->mu);
    each_partition(log, close_one, &all_ok);
    pthread_mutex_unlock(&log->mu);
    /* A failed partition keeps the marker away, so the next open rescans. */
    if (all_ok)
        write_marker(log);
    log_free(log);
}

int seglog_add_append_hook(seglog_t *log, void (*fn)(void *arg, seglog_part_t *p), void *arg)
{
    int rc = 0;
    pthread_rwlock_wrlock(&log->hook_lock);
    if (log->nhooks == SEGLOG_MAX_HOOKS)
        rc = core_error(CORE_ETOOBIG, "seglog: more than %d append hooks", SEGLOG_MAX_HOOKS);
    else {
        log->hooks[log->nhooks].fn = fn;
        log->hooks[log->nhooks].arg = arg;
        log->nhooks++;
    }
    pthread_rwlock_unlock(&log->hook_lock);
    return rc;
}

void seglog_remove_append_hook(seglog_t *log, void (*fn)(void *arg, seglog_part_t *p), void *arg)
{
    pthread_rwlock_wrlock(&log->hook_lock);
    for (int i = 0; i < log->nhooks; i++) {
        if (log->hooks[i].fn == fn && log->hooks[i].arg == arg) {
            log->hooks[i] = log->hooks[--log->nhooks];
            break;
        }
    }
    pthread_rwlock_unlock(&log->hook_lock);
}

bool seglog_recovered(const seglog_t *log)
{
    return log->recovered;
}

static int create_locked(seglog_t *log, const char *name, const seglog_topic_config_t *cfg)
{
    if (core_map_get(log->topics, name, strlen(name), NULL))
        return core_error(CORE_EEXIST, "topic '%s' already exists", name);
    char dir[SEGLOG_PATH_MAX];
    for (int32_t i = 0; i < cfg->partitions; i++) {
        snprintf(dir, sizeof dir, "%s/%s-%d", log->topics_dir, name, (int)i);
        seglog_remove_tree(dir); /* a leftover of an interrupted create */
        if (make_dir(dir) != 0)
            return CORE_EIO;
    }
    int rc = core_fsync_dir(log->topics_dir);
    if (rc == 0)
        rc = seglog_topic_config_write(log->topics_dir, name, cfg);
    if (rc != 0)
        return core_error(rc, "topic '%s': %s writing its config: %s", name,
                          rc == CORE_ENOSPC ? "disk full" : "I/O error", core_error_detail());
    seglog_topic_t *t = NULL;
    rc = seglog_topic_load(log, name, true, &t);
    for (int32_t i = 0; rc == 0 && i < cfg->partitions; i++)
        if (seglog_part_is_failed(t->parts[i]))
            rc = core_error(CORE_EIO, "topic '%s': cannot create partition %d: %s", name, (int)i,
                            seglog_part_error(t->parts[i]));
    if (rc == 0 && (rc = core_map_put(log->topics, name, strlen(name), t, NULL)) != 0)
        rc = core_error(rc, "topic '%s': out of memory", name);
    if (rc != 0) {
        /* Undo: without its config file the topic does not exist, and the
         * folders are orphans the next open would remove anyway. */
        char path[SEGLOG_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s.topic", log->topics_dir, name);
        unlink(path);
        for (int32_t i = 0; t != NULL && i < cfg->partitions; i++)
            seglog_remove_tree(t->parts[i]->dir);
        seglog_topic_destroy(t);
    }
    return rc;
}

int seglog_topic_create(seglog_t *log, const char *name, const seglog_topic_config_t *cfg)
{
    int rc = seglog_topic_name_check(name);
    if (rc == 0 && seglog_topic_config_check(cfg) != 0)
        rc = core_error(CORE_EINVAL, "topic '%s': %s", name, core_error_detail());
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&log->mu);
    rc = create_locked(log, name, cfg);
    pthread_mutex_unlock(&log->mu);
    return rc;
}

int seglog_topic_delete(seglog_t *log, const char *name)
{
    /* Waits for a flusher pass that may be using the partitions. */
    pthread_rwlock_wrlock(&log->life_lock);
    pthread_mutex_lock(&log->mu);
    void *v = NULL;
    if (!core_map_del(log->topics, name, strlen(name), &v)) {
        pthread_mutex_unlock(&log->mu);
        pthread_rwlock_unlock(&log->life_lock);
        return core_error(CORE_ENOENT, "topic '%s' does not exist", name);
    }
    seglog_topic_t *t = v;
    char path[SEGLOG_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.topic", log->topics_dir, name);
    /* Removing the config first makes the delete atomic: leftover folders are
     * orphans that the next open removes. */
    int rc = unlink(path) == 0 ? core_fsync_dir(log->topics_dir)
                               : core_error(CORE_EIO, "%s: %s", path, strerror(errno));
    for (int32_t i = 0; rc == 0 && i < t->cfg.partitions; i++)
        rc = seglog_remove_tree(t->parts[i]->dir);
    seglog_topic_destroy(t);
    pthread_mutex_unlock(&log->mu);
    pthread_rwlock_unlock(&log->life_lock);
    return rc;
}

void seglog_pin(seglog_t *log)
{
    pthread_rwlock_rdlock(&log->life_lock);
}

void seglog_unpin(seglog_t *log)
{
    pthread_rwlock_unlock(&log->life_lock);
}

seglog_topic_t *seglog_topic_get(seglog_t *log, const char *name)
{
    void *v = NULL;
    pthread_mutex_lock(&log->mu);
    bool found = core_map_get(log->topics, name, strlen(name), &v);
    pthread_mutex_unlock(&log->mu);
    return found ? v : NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int seglog_topic_names(seglog_t *log, char ***names, size_t *count)
{
    pthread_mutex_lock(&log->mu);
    size_t n = core_map_count(log->topics), i = 0, cursor = 0;
    char **v = core_calloc(CORE_MEM_SEGLOG, n + 1, sizeof *v);
    const void *k;
    size_t kl;
    void *val;
    while (v != NULL && core_map_next(log->topics, &cursor, &k, &kl, &val)) {
        v[i] = core_strndup(CORE_MEM_SEGLOG, k, kl);
        if (v[i++] == NULL) {
            seglog_names_free(v, i);
            v = NULL;
        }
    }
    pthread_mutex_unlock(&log->mu);
    if (v == NULL)
        return CORE_ENOMEM;
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_str);
    *names = v;
    *count = n;
    return 0;
}

void seglog_names_free(char **names, size_t count)
{
    for (size_t i = 0; names != NULL && i < count; i++)
        core_free(names[i]);
    core_free(names);
}

const char *seglog_topic_name(const seglog_topic_t *t)
{
    return t->name;
}

const seglog_topic_config_t *seglog_topic_config(const seglog_topic_t *t)
{
    return &t->cfg;
}

seglog_part_t *seglog_partition(seglog_topic_t *t, int32_t p)
{
    return p >= 0 && p < t->cfg.partitions ? t->parts[p] : NULL;
}

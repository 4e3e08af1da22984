/*
 * s3_upload.c - the uploader of one archive (lake.h, lake_uploader_t): a
 * thread that PUTs the files the archive publishes, and the journal that
 * carries what was uploaded across restarts.
 *
 * The thread:
 *
 *   start   load <topic dir>/_s3_journal (name -> size, mtime) unless its
 *           first line names another destination; scan the date=/hour=
 *           folders and queue each .parquet file and _SUCCESS marker the
 *           journal does not list with its present size and mtime; rewrite
 *           the journal with the entries that still match a file
 *   loop    take the oldest queued name; upload it unless the journal
 *           already lists it as it is; append it to the journal
 *           - network error or 5xx after the client's own attempts: wait
 *             (backoff, doubling, capped) and try the same file again, so
 *             files keep their order (a marker goes after its hour's files)
 *           - refused (4xx): log the error and go on; the next start's
 *             scan tries it again
 *   stop    destroy() sets a deadline (drain_timeout) on the client and
 *           on the queue: what is queued goes until then; a failure while
 *           stopping ends the thread at once
 *
 * Invariants: a name is in the journal only after the server accepted its
 * bytes, so a crash at any moment leaves nothing unlisted that was lost and
 * at worst uploads a file twice (same key, same bytes). The journal is
 * written only by this thread; losing its tail (no fsync) costs uploads
 * again, never a missed one.
 *
 * Threading: create/start/destroy on the archive's thread; enqueue from
 * any thread; the queue, `rescan`, `stopping` and `deadline` under `mu`;
 * everything else belongs to the upload thread once it runs.
 */
#include "lake/lake.h"
#include "lake/lake_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX      65536
#define NAME_CAP       4096
#define PATH_CAP       8192
#define READ_CHUNK     65536
#define JOURNAL        "_s3_journal"
#define JOURNAL_TMP    "_s3_journal.tmp"
#define JOURNAL_MAGIC  "strata-s3-journal 1 "
#define MARKER         "_SUCCESS"
#define LIST_MAX       1000000 /* entries read from one folder */
#define REFUSAL_LOG_MS 60000   /* a refusal like the last one logged: once a minute */

typedef struct {
    int64_t size, mtime_ns;
} stamp_t;

struct lake_uploader {
    lake_s3_t *s3;
    char *lake_dir;
    char *topic, *topic_dir; /* set by start(), before the thread exists */
    char *dest;              /* the journal's first line, without "\n" */
    int64_t drain_ms, backoff_ms, backoff_max_ms;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    char **queue;      /* a ring of owned names */
    size_t head, count, cap;
    bool rescan, stopping;
    int64_t deadline;   /* while stopping: monotonic ms */
    core_map_t *done;   /* name -> stamp_t *, owned */
    int jfd;            /* the journal, appending; -1: none */
    char refusal[96];   /* the last refusal logged ("HTTP 403 SignatureDoesNotMatch") */
    int64_t refusal_ms; /* when */
    int64_t unlogged;   /* refusals like it since, not logged */
};

/* ---- The queue (under mu). */

static bool queue_push(lake_uploader_t *u, char *name)
{
    if (u->count == u->cap) {
        size_t n = u->cap == 0 ? 64 : u->cap * 2;
        if (u->cap >= QUEUE_MAX)
            return false;
        char **q = core_calloc(CORE_MEM_LAKE, n, sizeof *q);
        if (q == NULL)
            return false;
        for (size_t i = 0; i < u->count; i++)
            q[i] = u->queue[(u->head + i) % u->cap];
        core_free(u->queue);
        u->queue = q;
        u->head = 0;
        u->cap = n;
    }
    u->queue[(u->head + u->count) % u->cap] = name;
    u->count++;
    return true;
}

static char *queue_pop(lake_uploader_t *u)
{
    if (u->count == 0)
        return NULL;
    char *name = u->queue[u->head];
    u->head = (u->head + 1) % u->cap;
    u->count--;
    return name;
}

/* Queues a copy of name; past the cap (or out of memory) asks for a rescan. */
static void push_copy(lake_uploader_t *u, const char *name)
{
    char *copy = core_strdup(CORE_MEM_LAKE, name);
    pthread_mutex_lock(&u->mu);
    if (copy == NULL || !queue_push(u, copy)) {
        core_free(copy);
        u->rescan = true;
    }
    pthread_cond_signal(&u->cv);
    pthread_mutex_unlock(&u->mu);
}

void lake_uploader_enqueue(lake_uploader_t *u, const char *name)
{
    if (u != NULL && name != NULL && strlen(name) < NAME_CAP)
        push_copy(u, name);
}

/* ---- The journal (upload thread). */

bool lake_s3_journal_line(const char *line, size_t n, int64_t *size, int64_t *mtime_ns,
                          const char **name, size_t *nlen)
{
    int64_t v[2];
    size_t at = 0;
    for (int i = 0; i < 2; i++) {
        int64_t x = 0;
        size_t start = at;
        while (at < n && line[at] >= '0' && line[at] <= '9') {
            int d = line[at++] - '0';
            if (x > (INT64_MAX - d) / 10)
                return false;
            x = x * 10 + d;
        }
        if (at == start || at >= n || line[at] != ' ')
            return false;
        v[i] = x;
        at++;
    }
    const char *nm = line + at;
    size_t len = n - at;
    if (len == 0 || len >= NAME_CAP || memchr(nm, '\0', len) != NULL || nm[0] == '/')
        return false;
    for (size_t i = 0; i + 1 < len; i++)
        if (nm[i] == '.' && nm[i + 1] == '.')
            return false;
    *size = v[0];
    *mtime_ns = v[1];
    *name = nm;
    *nlen = len;
    return true;
}

static int remember(lake_uploader_t *u, const char *name, size_t n, stamp_t st)
{
    stamp_t *v = core_alloc(CORE_MEM_LAKE, sizeof *v);
    if (v == NULL)
        return core_error(CORE_ENOMEM, "s3 upload: out of memory");
    *v = st;
    void *old = NULL;
    int rc = core_map_put(u->done, name, n, v, &old);
    core_free(rc == 0 ? old : v);
    return rc;
}

static bool listed_as(const lake_uploader_t *u, const char *name, stamp_t st)
{
    void *v = NULL;
    if (!core_map_get(u->done, name, strlen(name), &v))
        return false;
    const stamp_t *s = v;
    return s->size == st.size && s->mtime_ns == st.mtime_ns;
}

static int path_of(const lake_uploader_t *u, const char *name, char *out)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", u->topic_dir, name);
    return n < 0 || n >= PATH_CAP ? core_error(CORE_EINVAL, "s3 upload: path too long") : 0;
}

/* One line of the journal read from disk. */
static void load_line(lake_uploader_t *u, const char *line, size_t n, bool *first, bool *same)
{
    if (*first) {
        *first = false;
        *same = n == strlen(u->dest) && memcmp(line, u->dest, n) == 0;
        return;
    }
    int64_t size, mtime;
    const char *name;
    size_t nlen;
    if (*same && lake_s3_journal_line(line, n, &size, &mtime, &name, &nlen))
        remember(u, name, nlen, (stamp_t){size, mtime}); /* out of memory: uploads again */
}

/* Reads the journal into u->done (nothing when it names another
 * destination). A missing journal is an empty one. */
static void load_journal(lake_uploader_t *u)
{
    char path[PATH_CAP];
    if (path_of(u, JOURNAL, path) != 0)
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char *buf = core_alloc(CORE_MEM_LAKE, READ_CHUNK + NAME_CAP + 64);
    size_t have = 0;
    bool first = true, same = false, skipping = false;
    for (ssize_t got = 1; buf != NULL && got > 0;) {
        got = read(fd, buf + have, READ_CHUNK);
        if (got < 0 && errno == EINTR) {
            got = 1;
            continue;
        }
        have += got > 0 ? (size_t)got : 0;
        size_t at = 0;
        for (char *nl; (nl = memchr(buf + at, '\n', have - at)) != NULL;
             at = (size_t)(nl - buf) + 1) {
            if (!skipping)
                load_line(u, buf + at, (size_t)(nl - buf) - at, &first, &same);
            skipping = false;
        }
        memmove(buf, buf + at, have - at);
        have -= at;
        if (have > NAME_CAP + 64) { /* an overlong line: skip to its end */
            have = 0;
            skipping = true;
        }
    }
    core_free(buf);
    close(fd);
}

static void append_entry(lake_uploader_t *u, const char *name, stamp_t st)
{
    if (u->jfd < 0)
        return;
    char line[NAME_CAP + 64];
    int n = snprintf(line, sizeof line, "%" PRId64 " %" PRId64 " %s\n", st.size, st.mtime_ns, name);
    if (n > 0 && (size_t)n < sizeof line && write(u->jfd, line, (size_t)n) != n) {
        core_log(CORE_LOG_WARN, "lake", "s3 upload of %s: cannot append to the journal: %s",
                 u->topic, strerror(errno));
        close(u->jfd);
        u->jfd = -1; /* later files upload again after a restart */
    }
}

/* ---- Scanning the lake (upload thread). */

typedef struct {
    char **names;
    size_t n, cap;
} list_t;

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_free(list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        core_free(l->names[i]);
    core_free(l->names);
    memset(l, 0, sizeof *l);
}

/* The entries of dir whose name starts with `starts` (or, with ends, that
 * end with it), sorted. A folder that cannot be read is an empty one. */
static int list_dir(const char *dir, const char *starts, const char *ends, list_t *l)
{
    memset(l, 0, sizeof *l);
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL && l->n < LIST_MAX) {
        size_t len = strlen(de->d_name), el = ends != NULL ? strlen(ends) : 0;
        bool ok = ends != NULL
                      ? len > el && de->d_name[0] != '.' && strcmp(de->d_name + len - el, ends) == 0
                      : strncmp(de->d_name, starts, strlen(starts)) == 0;
        if (!ok || len >= NAME_CAP)
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap == 0 ? 16 : l->cap * 2;
            char **p = core_realloc(CORE_MEM_LAKE, l->names, cap * sizeof *p);
            if (p == NULL) {
                rc = core_error(CORE_ENOMEM, "s3 upload: out of memory");
                break;
            }
            l->names = p;
            l->cap = cap;
        }
        if ((l->names[l->n] = core_strdup(CORE_MEM_LAKE, de->d_name)) == NULL)
            rc = core_error(CORE_ENOMEM, "s3 upload: out of memory");
        else
            l->n++;
    }
    closedir(d);
    if (l->n > 1)
        qsort(l->names, l->n, sizeof *l->names, cmp_name);
    return rc;
}

static bool stamp_of(const char *path, stamp_t *st)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return false;
    st->size = sb.st_size;
    st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    return true;
}

/* One file found by a scan: queued unless the journal lists it as it is;
 * kept (jfd >= 0: the journal being rewritten) if it does. */
static void scan_file(lake_uploader_t *u, const char *name, int jfd, size_t *queued)
{
    char path[PATH_CAP];
    stamp_t st;
    if (path_of(u, name, path) != 0 || !stamp_of(path, &st))
        return;
    if (listed_as(u, name, st)) {
        char line[NAME_CAP + 64];
        int n =
            snprintf(line, sizeof line, "%" PRId64 " %" PRId64 " %s\n", st.size, st.mtime_ns, name);
        if (jfd >= 0 && n > 0 && (size_t)n < sizeof line && write(jfd, line, (size_t)n) != n)
            core_log(CORE_LOG_WARN, "lake", "s3 upload of %s: cannot rewrite the journal: %s",
                     u->topic, strerror(errno));
        return;
    }
    push_copy(u, name);
    (*queued)++;
}

/* "a/b" into out (PATH_CAP bytes); false when it does not fit. */
static bool join(char *out, const char *a, const char *b)
{
    int n = snprintf(out, PATH_CAP, "%s/%s", a, b);
    return n > 0 && n < PATH_CAP;
}

/* The files of one hour folder: data files first, then its marker. */
static void scan_hour(lake_uploader_t *u, const char *hour, int jfd, size_t *queued)
{
    char dir[PATH_CAP], name[PATH_CAP];
    list_t files = {0};
    if (path_of(u, hour, dir) == 0 && list_dir(dir, NULL, ".parquet", &files) == 0) {
        for (size_t i = 0; i < files.n; i++)
            if (join(name, hour, files.names[i]))
                scan_file(u, name, jfd, queued);
        if (join(name, hour, MARKER))
            scan_file(u, name, jfd, queued);
    }
    list_free(&files);
}

/* Queues what the journal does not list; writes the entries it does list
 * to jfd when that is not -1. Returns the number queued. */
static size_t scan(lake_uploader_t *u, int jfd)
{
    list_t dates = {0}, hours = {0};
    size_t queued = 0;
    char dir[PATH_CAP], hour[PATH_CAP];
    if (list_dir(u->topic_dir, "date=", NULL, &dates) != 0) {
        list_free(&dates);
        return 0;
    }
    for (size_t i = 0; i < dates.n; i++) {
        if (path_of(u, dates.names[i], dir) == 0 && list_dir(dir, "hour=", NULL, &hours) == 0)
            for (size_t j = 0; j < hours.n; j++)
                if (join(hour, dates.names[i], hours.names[j]))
                    scan_hour(u, hour, jfd, &queued);
        list_free(&hours);
    }
    list_free(&dates);
    return queued;
}

/* Start: load, scan, rewrite the journal with what still holds, and open
 * it for appending. Without a journal, uploads still go (and go again
 * after the next start). */
static void start_journal(lake_uploader_t *u)
{
    char path[PATH_CAP], tmp[PATH_CAP];
    load_journal(u);
    int jfd = -1;
    if (path_of(u, JOURNAL, path) == 0 && path_of(u, JOURNAL_TMP, tmp) == 0)
        jfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    char head[NAME_CAP + 16];
    int n = snprintf(head, sizeof head, "%s\n", u->dest);
    bool ok = jfd >= 0 && n > 0 && (size_t)n < sizeof head && write(jfd, head, (size_t)n) == n;
    size_t queued = scan(u, ok ? jfd : -1);
    ok = ok && fdatasync(jfd) == 0 && rename(tmp, path) == 0;
    if (jfd >= 0)
        close(jfd);
    if (ok)
        u->jfd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (u->jfd < 0)
        core_log(CORE_LOG_WARN, "lake",
                 "s3 upload of %s: cannot write the journal %s (%s); files will be uploaded "
                 "again after a restart",
                 u->topic, path, strerror(errno));
    if (queued > 0)
        core_log(CORE_LOG_INFO, "lake", "s3 upload of %s: %zu files to upload from before",
                 u->topic, queued);
}

/* ---- The thread. */

static int upload_one(lake_uploader_t *u, const char *name)
{
    char path[PATH_CAP], key[PATH_CAP];
    stamp_t st;
    int rc = path_of(u, name, path);
    if (rc != 0 || !stamp_of(path, &st) || listed_as(u, name, st))
        return rc; /* gone (or already there) */
    rc = lake_s3_key(u->s3, u->topic, name, key, sizeof key);
    if (rc == 0)
        rc = lake_s3_put_file(u->s3, key, path);
    if (rc == CORE_ENOENT)
        return 0; /* removed since */
    if (rc != 0)
        return rc;
    core_log(CORE_LOG_DEBUG, "lake", "s3 upload of %s: %s (%" PRId64 " bytes)", u->topic, key,
             st.size);
    if (remember(u, name, strlen(name), st) == 0)
        append_entry(u, name, st);
    return 0;
}

/* The next name to upload, or NULL to stop. */
static char *next_name(lake_uploader_t *u)
{
    pthread_mutex_lock(&u->mu);
    for (;;) {
        if (u->stopping && core_mono_ms() >= u->deadline)
            break;
        if (u->count > 0) {
            char *name = queue_pop(u);
            pthread_mutex_unlock(&u->mu);
            return name;
        }
        if (u->stopping)
            break;
        if (u->rescan) {
            u->rescan = false;
            pthread_mutex_unlock(&u->mu);
            scan(u, -1);
            pthread_mutex_lock(&u->mu);
            continue;
        }
        pthread_cond_wait(&u->cv, &u->mu);
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

/* Waits ms unless stopping; false when stopping. */
static bool pause_for(lake_uploader_t *u, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_mutex_lock(&u->mu);
    int wrc = 0;
    while (!u->stopping && wrc != ETIMEDOUT)
        wrc = pthread_cond_timedwait(&u->cv, &u->mu, &ts);
    bool go = !u->stopping;
    pthread_mutex_unlock(&u->mu);
    return go;
}

/* Logs a refused upload: the first of its kind (status and S3 code), then
 * the same kind at most once a minute, with how many were not logged, so
 * wrong credentials do not log a line per file. */
static void log_refusal(lake_uploader_t *u, const char *detail)
{
    char kind[sizeof u->refusal] = "";
    const char *at = strstr(detail, "HTTP ");
    if (at != NULL)
        snprintf(kind, sizeof kind, "%.*s", (int)strcspn(at, ":"), at);
    int64_t now = core_mono_ms();
    if (kind[0] != '\0' && strcmp(kind, u->refusal) == 0 && now - u->refusal_ms < REFUSAL_LOG_MS) {
        u->unlogged++;
        return;
    }
    char more[64] = "";
    if (u->unlogged > 0)
        snprintf(more, sizeof more, "; %" PRId64 " more refused since the last such line",
                 u->unlogged);
    core_log(CORE_LOG_ERROR, "lake",
             "%s (archive of %s; the file stays in the lake and is tried again after the next "
             "start%s)",
             detail, u->topic, more);
    snprintf(u->refusal, sizeof u->refusal, "%s", kind);
    u->refusal_ms = now;
    u->unlogged = 0;
}

/* Uploads name, waiting and trying again on network errors. false: stop. */
static bool upload_until_done(lake_uploader_t *u, const char *name)
{
    int64_t wait = u->backoff_ms;
    for (;;) {
        int rc = upload_one(u, name);
        if (rc == 0)
            return true;
        if (rc == CORE_ECLOSED)
            return false;
        if (rc != CORE_EIO) { /* refused, too big, out of memory: not by waiting */
            log_refusal(u, core_error_detail());
            return true;
        }
        core_log(CORE_LOG_WARN, "lake", "%s; trying again in %" PRId64 " ms", core_error_detail(),
                 wait);
        if (!pause_for(u, wait))
            return false;
        wait = CORE_MIN(CORE_MAX(wait * 2, 1), u->backoff_max_ms);
    }
}

static void *run(void *arg)
{
    lake_uploader_t *u = arg;
    start_journal(u);
    for (char *name; (name = next_name(u)) != NULL;) {
        bool go = upload_until_done(u, name);
        core_free(name);
        if (!go)
            break;
    }
    pthread_mutex_lock(&u->mu);
    size_t left = u->count;
    pthread_mutex_unlock(&u->mu);
    if (left > 0)
        core_log(CORE_LOG_INFO, "lake",
                 "s3 upload of %s: stopped with %zu files queued; they go after the next start",
                 u->topic, left);
    return NULL;
}

/* ---- Lifecycle. */

int lake_uploader_create(const lake_s3_config_t *c, const char *lake_dir, lake_uploader_t **out)
{
    *out = NULL;
    if (lake_dir == NULL || lake_dir[0] == '\0' || strlen(lake_dir) > PATH_CAP / 4)
        return core_error(CORE_EINVAL, "s3 upload: no lake folder");
    lake_uploader_t *u = core_calloc(CORE_MEM_LAKE, 1, sizeof *u);
    if (u == NULL)
        return core_error(CORE_ENOMEM, "s3 upload: out of memory");
    u->jfd = -1;
    int rc = lake_s3_create(c, &u->s3);
    char dest[PATH_CAP] = "";
    if (rc == 0) { /* the destination as the journal names it: endpoint/bucket/prefix */
        size_t el = strlen(c->endpoint);
        el -= el > 0 && c->endpoint[el - 1] == '/';
        snprintf(dest, sizeof dest, "%s%.*s/%s/%s", JOURNAL_MAGIC, (int)el, c->endpoint, c->bucket,
                 c->prefix != NULL ? c->prefix : "");
    }
    if (rc == 0 && ((u->lake_dir = core_strdup(CORE_MEM_LAKE, lake_dir)) == NULL ||
                    (u->dest = core_strdup(CORE_MEM_LAKE, dest)) == NULL ||
                    (u->done = core_map_create(CORE_MEM_LAKE, 64)) == NULL))
        rc = core_error(CORE_ENOMEM, "s3 upload: out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, &ca);
    pthread_condattr_destroy(&ca);
    u->drain_ms = c->drain_timeout_ms;
    u->backoff_ms = c->retry_backoff_ms;
    u->backoff_max_ms = c->retry_backoff_max_ms;
    if (rc != 0) {
        lake_uploader_destroy(u);
        return rc;
    }
    *out = u;
    return 0;
}

int lake_uploader_start(lake_uploader_t *u, const char *topic)
{
    if (u->started)
        return strcmp(u->topic, topic) == 0
                   ? 0
                   : core_error(CORE_EINVAL, "s3 upload: one uploader serves one topic");
    char dir[PATH_CAP];
    int n = snprintf(dir, sizeof dir, "%s/%s", u->lake_dir, topic);
    if (n < 0 || n >= (int)sizeof dir)
        return core_error(CORE_EINVAL, "s3 upload: path too long");
    core_free(u->topic);
    core_free(u->topic_dir);
    u->topic = core_strdup(CORE_MEM_LAKE, topic);
    u->topic_dir = core_strdup(CORE_MEM_LAKE, dir);
    if (u->topic == NULL || u->topic_dir == NULL)
        return core_error(CORE_ENOMEM, "s3 upload: out of memory");
    int rc = pthread_create(&u->thread, NULL, run, u);
    if (rc != 0)
        return core_error(CORE_EIO, "s3 upload of %s: cannot start a thread: %s", topic,
                          strerror(rc));
    u->started = true;
    return 0;
}

static void free_done(core_map_t *m)
{
    size_t cur = 0;
    const void *k;
    size_t kl;
    void *v;
    while (m != NULL && core_map_next(m, &cur, &k, &kl, &v))
        core_free(v);
    core_map_destroy(m);
}

void lake_uploader_destroy(lake_uploader_t *u)
{
    if (u == NULL)
        return;
    if (u->started) {
        int64_t deadline = core_mono_ms() + u->drain_ms;
        pthread_mutex_lock(&u->mu);
        u->stopping = true;
        u->deadline = deadline;
        pthread_cond_broadcast(&u->cv);
        pthread_mutex_unlock(&u->mu);
        lake_s3_set_deadline(u->s3, deadline);
        pthread_join(u->thread, NULL);
    }
    for (char *name; (name = queue_pop(u)) != NULL;)
        core_free(name);
    core_free(u->queue);
    if (u->jfd >= 0)
        close(u->jfd);
    free_done(u->done);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    lake_s3_destroy(u->s3);
    core_free(u->lake_dir);
    core_free(u->topic);
    core_free(u->topic_dir);
    core_free(u->dest);
    core_free(u);
}

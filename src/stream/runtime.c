/*
 * The runtime: one thread per pipeline, each with its own store connection,
 * serving the tasks of all the pipeline's partitions.
 *
 * Loop (run_loop): poll every task's reader without waiting and process
 * what came; commit a task when it has commit_records pending, or when
 * commit_interval has passed since its last commit and it has pending
 * records or a moved watermark; when nothing came, wait for an append (at
 * most until the next commit is due).
 *
 * Idle partitions: a task that has seen no record for idle_timeout is idle,
 * and its watermark follows the highest watermark among the pipeline's
 * tasks, so it no longer holds windows open.
 *
 * Store failures: a commit that fails with CORE_EIO pauses the pipeline;
 * the same batch is retried with exponential backoff (100 ms to 5 s) until
 * it succeeds or the runtime stops. Nothing is consumed meanwhile, so
 * nothing is lost and, because the batch carries its offsets, nothing is
 * doubled. Any other error stops the pipeline with its error in the stats.
 *
 * Fenced commits (CORE_EFAILED): either another owner claimed a partition
 * (a zombie: the pipeline stops), or a replay switched the view to a new
 * version and handed its offsets over with a bumped epoch (stream.h,
 * "Replay"). The two are told apart by the view's registry version: the
 * tasks are claimed between two reads of it that agree, so any later
 * switch changes it. On a switch the pipeline drops what it had not
 * committed and reopens every task: it claims again, resumes at the
 * handed-over offsets and reloads its open windows from the new table.
 *
 * Driven runs (stream_drive_*, the replay) use the same loop on the
 * caller's thread and connection, in rounds bounded by end offsets, with
 * no idle timeout and no version tracking.
 *
 * Group mode (an external Kafka bus, bus_is_external): the pipeline joins
 * the consumer group "strata.<pipeline>" and holds tasks only for the
 * partitions the group assigns it, so several instances share a topic.
 * The member is polled on every pass of the loop; its callbacks run there:
 * an assignment creates tasks (each claims its partition in the store with
 * a new epoch, which fences any former owner, and reads from the store's
 * offset); a revocation gives each revoked task a final tick and commit,
 * then destroys it. A fenced commit that is not a replay's switch means the
 * group already gave a partition to another member (this one was too slow
 * and lost its membership): the uncommitted batch is dropped and every task
 * closed; the group's next rebalance hands out the partitions again.
 * Offsets committed to the group are informational (bus_group_commit).
 *
 * Threading: `stop` is an atomic flag; stats are written by the pipeline
 * thread only, which publishes a copy under snap_mu after each pass of its
 * loop and whenever it pauses, starts or stops; other threads read that
 * copy (stream_runtime_stats), so figures may be a pass old, never torn.
 */
#include "stream/stream_int.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define POLL_MAX    1024
#define WAIT_MAX_MS 100
#define BACKOFF_MIN 100
#define BACKOFF_MAX 5000

typedef struct stream_drive pipe_run_t;
struct stream_drive {
    stream_pipeline_t *p;
    bus_t *bus;
    const char *url;
    store_t *store; /* owned, except in a driven run */
    store_batch_t *batch;
    stream_task_t **tasks;
    int32_t ntasks;
    stream_stats_t stats;
    stream_stats_t snap;     /* the published copy of stats, under snap_mu */
    pthread_mutex_t snap_mu; /* initialised when `shared` */
    bool shared;             /* a runtime's pipeline: others read snap */
    pthread_t thread;
    bool started;
    const int *stop; /* set to stop */
    stream_commit_fn on_commit;
    void *on_commit_arg;
    int64_t *until;  /* run_once: end offsets per partition, or NULL */
    bool driven;     /* stream_drive_*: no idle timeout, no view version */
    int64_t version; /* the view's registry version the tasks were opened at */
    void (*on_loop)(void *arg);
    void *on_loop_arg;
    bool grouped;       /* group mode: tasks only for assigned partitions */
    bus_group_t *group; /* group mode, once joined */
    int32_t *assigned;  /* group mode: the partitions the group gave us */
    int32_t nassigned;  /* entries of assigned */
    int32_t partitions; /* group mode: the topic's partition count */
    bus_record_t recs[POLL_MAX];
};

struct stream_runtime {
    bus_t *bus;
    char *url;
    pipe_run_t **runs;
    size_t n;
    int stop;
    bool started;
    stream_commit_fn on_commit;
    void *on_commit_arg;
};

static bool stopping(const pipe_run_t *r)
{
    return r->stop != NULL && __atomic_load_n(r->stop, __ATOMIC_RELAXED) != 0;
}

/* Publishes the stats for other threads (runtime pipelines only). */
static void publish(pipe_run_t *r)
{
    if (!r->shared)
        return;
    pthread_mutex_lock(&r->snap_mu);
    r->snap = r->stats;
    pthread_mutex_unlock(&r->snap_mu);
}

static void fail(pipe_run_t *r, int rc, const char *what)
{
    snprintf(r->stats.error, sizeof r->stats.error, "%s: %s (%s)", what, core_strerror(rc),
             core_error_detail());
    r->stats.failed = true;
    core_log(CORE_LOG_ERROR, "stream", "pipeline %s: %s", r->p->name, r->stats.error);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Marks the pipeline paused and waits *backoff ms (in 50 ms naps, so a stop
 * is noticed), then doubles *backoff up to BACKOFF_MAX. CORE_ECLOSED when
 * the runtime is stopping. */
static int back_off(pipe_run_t *r, int64_t *backoff)
{
    r->stats.paused = true;
    publish(r);
    for (int64_t waited = 0; waited < *backoff; waited += 50) {
        if (stopping(r))
            return CORE_ECLOSED;
        sleep_ms(50);
    }
    *backoff = CORE_MIN(*backoff * 2, BACKOFF_MAX);
    return 0;
}

/* Commits t, retrying while the store is unreachable. */
static int commit(pipe_run_t *r, stream_task_t *t)
{
    int64_t backoff = BACKOFF_MIN;
    for (;;) {
        int rc = stream_task_commit(t, r->store);
        if (rc != CORE_EIO) {
            r->stats.paused = false;
            if (rc == 0 && r->group != NULL)
                bus_group_commit(r->group, t->partition, t->committed);
            return rc;
        }
        if (!r->stats.paused)
            core_log(CORE_LOG_WARN, "stream", "pipeline %s: store unreachable (%s); retrying",
                     r->p->name, core_error_detail());
        if (back_off(r, &backoff) != 0)
            return CORE_ECLOSED;
    }
}

static void close_tasks(pipe_run_t *r)
{
    for (int32_t i = 0; r->tasks != NULL && i < r->ntasks; i++)
        stream_task_destroy(r->tasks[i]);
    core_free(r->tasks);
    r->tasks = NULL;
    r->ntasks = 0;
}

/* Group mode: one task per assigned partition, in an array with room for
 * every partition of the topic. */
static int open_assigned(pipe_run_t *r)
{
    int rc = bus_partitions(r->bus, r->p->topic, &r->partitions);
    if (rc != 0)
        return rc;
    r->tasks = core_calloc(CORE_MEM_STREAM, (size_t)r->partitions + 1, sizeof *r->tasks);
    if (r->tasks == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    for (int32_t i = 0; i < r->nassigned && rc == 0; i++) {
        stream_task_t **t = &r->tasks[r->ntasks++];
        rc = stream_task_create(r->p, r->assigned[i], r->bus, r->store, r->batch, &r->stats, t);
        if (rc == 0) {
            (*t)->on_commit = r->on_commit;
            (*t)->on_commit_arg = r->on_commit_arg;
        }
    }
    return rc;
}

static int open_tasks(pipe_run_t *r)
{
    if (r->grouped)
        return open_assigned(r);
    int rc = bus_partitions(r->bus, r->p->topic, &r->ntasks);
    if (rc != 0)
        return rc;
    r->tasks = core_calloc(CORE_MEM_STREAM, (size_t)r->ntasks, sizeof *r->tasks);
    if (r->tasks == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    for (int32_t i = 0; i < r->ntasks && rc == 0; i++) {
        rc = stream_task_create(r->p, i, r->bus, r->store, r->batch, &r->stats, &r->tasks[i]);
        if (rc == 0) {
            r->tasks[i]->on_commit = r->on_commit;
            r->tasks[i]->on_commit_arg = r->on_commit_arg;
        }
    }
    return rc;
}

/* The view's registry version (0 for other kinds and driven runs). */
static int read_version(pipe_run_t *r, int64_t *v)
{
    *v = 0;
    if (r->driven || r->p->kind != STREAM_KIND_AGGREGATE)
        return 0;
    return stream_view_version(r->store, r->p->out_name, v);
}

/* Claims every partition between two reads of the view's version that
 * agree. A switch commits its version and its epochs together, so when
 * they agree the claims saw the same version as r->version, and any
 * switch after them changes the version. */
static int open_versioned(pipe_run_t *r)
{
    for (;;) {
        int64_t before = 0, after = 0;
        int rc = read_version(r, &before);
        if (rc == 0)
            rc = open_tasks(r);
        if (rc == 0)
            rc = read_version(r, &after);
        if (rc != 0 || before == after) {
            r->version = after;
            r->stats.view_version = after;
            return rc;
        }
        close_tasks(r);
    }
}

/* Connects, prepares the store and claims every partition. The store may
 * go away at any step (a restarting server): everything opened so far is
 * closed again and the whole start is retried with backoff. */
static int open_run(pipe_run_t *r)
{
    int64_t backoff = BACKOFF_MIN;
    for (;;) {
        int rc = store_open(r->url, &r->store);
        if (rc == 0)
            rc = store_migrate(r->store); /* a no-op once done; serialized */
        if (rc == 0)
            rc = r->p->ops->prepare(r->p, r->store);
        if (rc == 0)
            rc = stream_pipeline_prepare(r->p, r->store);
        if (rc == 0)
            rc = open_versioned(r);
        if (rc != CORE_EIO)
            return rc;
        if (!r->stats.paused)
            core_log(CORE_LOG_WARN, "stream", "pipeline %s: store unreachable (%s); retrying",
                     r->p->name, core_error_detail());
        close_tasks(r);
        store_close(r->store);
        r->store = NULL;
        if (back_off(r, &backoff) != 0)
            return CORE_ECLOSED;
    }
}

/* Processes up to POLL_MAX records of one task; *got counts them. */
static int pump(pipe_run_t *r, stream_task_t *t, size_t *got)
{
    size_t n = 0;
    size_t max = POLL_MAX;
    if (r->until != NULL) {
        int64_t left = r->until[t->partition] - bus_reader_position(t->reader);
        max = left <= 0 ? 0 : (size_t)CORE_MIN(left, (int64_t)POLL_MAX);
    }
    if (max == 0)
        return 0;
    int rc = bus_reader_poll(t->reader, r->recs, max, &n, 0);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = stream_task_record(t, &r->recs[i]);
        if (rc == STREAM_NEED_COMMIT) {
            rc = commit(r, t);
            if (rc == 0)
                rc = stream_task_record(t, &r->recs[i]);
        }
        if (rc == 0 && t->pending >= (size_t)r->p->commit_records)
            rc = commit(r, t);
    }
    /* Every record handed out is processed: offsets the poll stepped over
     * (gaps at a batch's end) need no processing either. */
    if (rc == 0 && n > 0)
        t->next = bus_reader_position(t->reader);
    if (n > 0)
        t->last_record_ms = core_mono_ms(); /* once a poll, not a record */
    *got += n;
    return rc;
}

/* Idle tasks follow the highest watermark; due tasks commit. */
static int tick(pipe_run_t *r, bool final)
{
    int64_t now = core_mono_ms();
    int64_t top = INT64_MIN;
    int64_t low = INT64_MAX, lag = 0, open = 0;
    for (int32_t i = 0; i < r->ntasks; i++)
        top = CORE_MAX(top, r->tasks[i]->wm);
    for (int32_t i = 0; i < r->ntasks; i++) {
        stream_task_t *t = r->tasks[i];
        if (!r->driven && r->p->idle_us > 0 && now - t->last_record_ms >= r->p->idle_us / 1000) {
            t->idle = true;
            stream_task_advance(t, top);
        }
        int rc = stream_task_tick(t, final); /* sinks: rolls by age, durability */
        if (rc != 0)
            return rc;
        bool due = final || now - t->last_commit_ms >= r->p->commit_interval_ms;
        if (due && (t->pending > 0 || t->wm_moved || t->flushed || t->dirty)) {
            rc = commit(r, t);
            if (rc != 0)
                return rc;
        }
        low = CORE_MIN(low, t->wm);
        lag += bus_reader_end(t->reader) - t->committed;
        if (t->winop != NULL)
            open += (int64_t)stream_winop_open(t->winop);
    }
    r->stats.watermark_us = r->ntasks > 0 ? low : INT64_MIN;
    r->stats.lag = lag;
    r->stats.open_windows = open;
    publish(r);
    return 0;
}

static bool caught_up(const pipe_run_t *r)
{
    for (int32_t i = 0; i < r->ntasks; i++)
        if (bus_reader_position(r->tasks[i]->reader) < r->until[i])
            return false;
    return true;
}

/* After a fenced commit: whether a replay switched the view since the
 * tasks were opened (the fence was the switch's), rather than another
 * owner claiming a partition (a zombie). */
static bool switched(pipe_run_t *r)
{
    char fence[CORE_ERROR_DETAIL_MAX]; /* kept for the zombie's error */
    snprintf(fence, sizeof fence, "%s", core_error_detail());
    int64_t backoff = BACKOFF_MIN;
    bool yes = false;
    for (;;) {
        int64_t v = 0;
        int rc = read_version(r, &v);
        if (rc == 0)
            yes = v != r->version;
        if (rc == 0 || rc != CORE_EIO || back_off(r, &backoff) != 0)
            break;
    }
    if (!yes)
        core_error(CORE_EFAILED, "%s", fence);
    return yes;
}

static void close_run(pipe_run_t *r)
{
    bus_group_close(r->group); /* leaves: revoked tasks commit first */
    r->group = NULL;
    core_free(r->assigned);
    r->assigned = NULL;
    r->nassigned = 0;
    close_tasks(r);
    store_batch_destroy(r->batch);
    r->batch = NULL;
    if (!r->driven)
        store_close(r->store);
    r->store = NULL;
}

/* A replay switched the view: drops what was not committed (the new
 * version holds it, or the reopened tasks read it again) and starts over
 * on a fresh connection, at the handed-over offsets. */
static int reopen(pipe_run_t *r)
{
    int64_t was = r->version;
    store_batch_reset(r->batch);
    close_tasks(r);
    store_close(r->store);
    r->store = NULL;
    int rc = open_run(r);
    if (rc == 0)
        core_log(CORE_LOG_INFO, "stream",
                 "pipeline %s: view %s switched from version %lld to %lld by a replay; "
                 "partitions reopened",
                 r->p->name, r->p->out_name, (long long)was, (long long)r->version);
    return rc;
}

/* ---- Group mode (an external bus). */

/* Group mode: one more task, for a partition the group assigned. The store
 * may be away: retried with backoff like a commit. */
static int add_task(pipe_run_t *r, int32_t partition)
{
    int64_t backoff = BACKOFF_MIN;
    for (;;) {
        stream_task_t *t = NULL;
        int rc = stream_task_create(r->p, partition, r->bus, r->store, r->batch, &r->stats, &t);
        if (rc == 0) {
            t->on_commit = r->on_commit;
            t->on_commit_arg = r->on_commit_arg;
            r->tasks[r->ntasks++] = t;
            r->stats.paused = false;
            return 0;
        }
        if (rc != CORE_EIO)
            return rc;
        if (!r->stats.paused)
            core_log(CORE_LOG_WARN, "stream", "pipeline %s: store unreachable (%s); retrying",
                     r->p->name, core_error_detail());
        if (back_off(r, &backoff) != 0)
            return CORE_ECLOSED;
    }
}

static int on_assigned(void *arg, const int32_t *ps, size_t n)
{
    pipe_run_t *r = arg;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool held = false;
        for (int32_t j = 0; j < r->nassigned; j++)
            held = held || r->assigned[j] == ps[i];
        if (held || ps[i] < 0 || ps[i] >= r->partitions)
            continue;
        r->assigned[r->nassigned++] = ps[i];
        rc = add_task(r, ps[i]);
    }
    core_log(CORE_LOG_INFO, "stream", "pipeline %s: %d partitions of %s held after an assignment",
             r->p->name, (int)r->ntasks, r->p->topic);
    return rc;
}

/* Group mode: drops every task and what they had not committed, so nothing
 * of a partition another member now holds is written. */
static int lose_all(pipe_run_t *r)
{
    core_log(CORE_LOG_WARN, "stream",
             "pipeline %s: fenced (%s); another member holds a partition: dropping every task "
             "until the group's next assignment",
             r->p->name, core_error_detail());
    store_batch_reset(r->batch);
    close_tasks(r);
    r->nassigned = 0;
    return open_assigned(r);
}

/* Gives task i a final tick and commit, and destroys it. */
static int release_task(pipe_run_t *r, int32_t i)
{
    stream_task_t *t = r->tasks[i];
    int rc = stream_task_tick(t, true);
    if (rc == 0 && (t->pending > 0 || t->wm_moved || t->flushed || t->dirty))
        rc = commit(r, t);
    stream_task_destroy(t);
    r->tasks[i] = r->tasks[--r->ntasks];
    r->tasks[r->ntasks] = NULL;
    return rc;
}

static int on_revoked(void *arg, const int32_t *ps, size_t n)
{
    pipe_run_t *r = arg;
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        for (int32_t i = 0; i < r->ntasks; i++)
            if (r->tasks[i]->partition == ps[k] && rc == 0)
                rc = release_task(r, i);
        for (int32_t j = 0; j < r->nassigned; j++)
            if (r->assigned[j] == ps[k])
                r->assigned[j--] = r->assigned[--r->nassigned];
    }
    if (rc != 0 && rc != CORE_ECLOSED) {
        core_log(CORE_LOG_WARN, "stream", "pipeline %s: commit before a revocation failed: %s (%s)",
                 r->p->name, core_strerror(rc), core_error_detail());
        rc = lose_all(r); /* the rest is read again by whoever gets it */
    }
    return rc;
}

static int join_group(pipe_run_t *r)
{
    char group[300];
    snprintf(group, sizeof group, "strata.%s", r->p->name);
    r->assigned = core_calloc(CORE_MEM_STREAM, (size_t)r->partitions + 1, sizeof *r->assigned);
    if (r->assigned == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    bus_group_callbacks_t cb = {on_assigned, on_revoked, r};
    return bus_group_open(r->bus, r->p->topic, group, &cb, &r->group);
}

static int run_loop(pipe_run_t *r)
{
    int rc = 0;
    while (rc == 0 && !stopping(r)) {
        size_t got = 0;
        uint64_t gen = bus_generation(r->bus);
        if (r->group != NULL)
            rc = bus_group_poll(r->group, 0); /* rebalances run here */
        for (int32_t i = 0; i < r->ntasks && rc == 0; i++)
            rc = pump(r, r->tasks[i], &got);
        if (rc == 0)
            rc = tick(r, false);
        if (rc == CORE_EFAILED && switched(r)) {
            rc = reopen(r);
            continue;
        }
        if (rc == CORE_EFAILED && r->group != NULL) {
            rc = lose_all(r);
            continue;
        }
        if (r->on_loop != NULL)
            r->on_loop(r->on_loop_arg);
        if (rc != 0 || (r->until != NULL && caught_up(r)))
            break;
        /* Look at `stop` again, now that `gen` was read: the bump of a
         * stop whose bus_wake() fell between the check at the top and that
         * read is already in gen, so bus_wait() would sleep out its whole
         * timeout; a stop after this check moves gen and ends the wait. */
        if (got == 0 && !stopping(r))
            bus_wait(r->bus, gen, WAIT_MAX_MS);
    }
    if (rc == 0)
        rc = tick(r, true);
    if (rc == CORE_EFAILED && switched(r))
        rc = 0; /* stopping: the next start resumes at the handed-over offsets */
    if (rc == CORE_EFAILED && r->group != NULL) {
        rc = 0; /* another member holds it now and reads it again */
        store_batch_reset(r->batch);
        close_tasks(r);
        r->nassigned = 0;
    }
    return rc;
}

static int run(pipe_run_t *r)
{
    r->grouped = bus_is_external(r->bus) && !r->driven && r->until == NULL;
    int rc = store_batch_create(&r->batch);
    if (rc == 0)
        rc = open_run(r);
    if (rc == 0 && r->grouped)
        rc = join_group(r);
    if (rc == 0 && r->until != NULL) {
        r->until = core_calloc(CORE_MEM_STREAM, (size_t)r->ntasks + 1, sizeof *r->until);
        for (int32_t i = 0; r->until != NULL && i < r->ntasks; i++)
            r->until[i] = bus_reader_end(r->tasks[i]->reader);
        if (r->until == NULL)
            rc = core_error(CORE_ENOMEM, "stream: out of memory");
    }
    r->stats.running = rc == 0;
    r->stats.paused = false;
    publish(r);
    if (rc == 0)
        rc = run_loop(r);
    if (rc != 0 && rc != CORE_ECLOSED)
        fail(r, rc, "stopped");
    r->stats.running = false;
    publish(r);
    close_run(r);
    return rc == CORE_ECLOSED ? 0 : rc;
}

static void *thread_main(void *arg)
{
    run(arg);
    return NULL;
}

int stream_runtime_create(bus_t *bus, const char *store_url, stream_runtime_t **out)
{
    stream_runtime_t *rt = core_calloc(CORE_MEM_STREAM, 1, sizeof *rt);
    if (rt == NULL || (rt->url = core_strdup(CORE_MEM_STREAM, store_url)) == NULL) {
        core_free(rt);
        return core_error(CORE_ENOMEM, "stream: out of memory");
    }
    rt->bus = bus;
    *out = rt;
    return 0;
}

int stream_runtime_add(stream_runtime_t *rt, stream_pipeline_t *p)
{
    pipe_run_t **runs = core_realloc(CORE_MEM_STREAM, rt->runs, (rt->n + 1) * sizeof *runs);
    if (runs == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    rt->runs = runs;
    pipe_run_t *r = core_calloc(CORE_MEM_STREAM, 1, sizeof *r);
    if (r == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    r->p = p;
    r->bus = rt->bus;
    r->url = rt->url;
    r->stop = &rt->stop;
    r->stats.watermark_us = INT64_MIN;
    r->snap = r->stats;
    pthread_mutex_init(&r->snap_mu, NULL);
    r->shared = true;
    rt->runs[rt->n++] = r;
    return 0;
}

void stream_runtime_set_commit_hook(stream_runtime_t *rt, stream_commit_fn fn, void *arg)
{
    rt->on_commit = fn;
    rt->on_commit_arg = arg;
}

int stream_runtime_start(stream_runtime_t *rt)
{
    /* Each pipeline migrates the store as it opens it, retrying while the
     * store is unreachable, so a server that is down at start only delays
     * the pipelines. */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rt->n; i++) {
        rt->runs[i]->on_commit = rt->on_commit;
        rt->runs[i]->on_commit_arg = rt->on_commit_arg;
        if (pthread_create(&rt->runs[i]->thread, NULL, thread_main, rt->runs[i]) != 0)
            rc = core_error(CORE_EIO, "stream: cannot start a thread");
        else
            rt->runs[i]->started = true;
    }
    rt->started = true;
    if (rc != 0)
        stream_runtime_stop(rt);
    return rc;
}

void stream_runtime_stop(stream_runtime_t *rt)
{
    __atomic_store_n(&rt->stop, 1, __ATOMIC_RELAXED);
    bus_wake(rt->bus);
    for (size_t i = 0; i < rt->n; i++) {
        if (rt->runs[i]->started)
            pthread_join(rt->runs[i]->thread, NULL);
        rt->runs[i]->started = false;
    }
}

void stream_runtime_destroy(stream_runtime_t *rt)
{
    if (rt == NULL)
        return;
    stream_runtime_stop(rt);
    for (size_t i = 0; i < rt->n; i++) {
        stream_pipeline_destroy(rt->runs[i]->p);
        pthread_mutex_destroy(&rt->runs[i]->snap_mu);
        core_free(rt->runs[i]);
    }
    core_free(rt->runs);
    core_free(rt->url);
    core_free(rt);
}

size_t stream_runtime_count(const stream_runtime_t *rt)
{
    return rt->n;
}

const char *stream_runtime_name(const stream_runtime_t *rt, size_t i)
{
    return rt->runs[i]->p->name;
}

void stream_runtime_stats(stream_runtime_t *rt, size_t i, stream_stats_t *out)
{
    pipe_run_t *r = rt->runs[i];
    pthread_mutex_lock(&r->snap_mu);
    *out = r->snap;
    pthread_mutex_unlock(&r->snap_mu);
}

int stream_pipeline_run_once(stream_pipeline_t *p, bus_t *bus, const char *store_url,
                             stream_stats_t *stats)
{
    int64_t marker = 0;
    pipe_run_t *r = core_calloc(CORE_MEM_STREAM, 1, sizeof *r);
    if (r == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    r->p = p;
    r->bus = bus;
    r->url = store_url;
    r->until = &marker; /* replaced by the end offsets once the tasks exist */
    r->stats.watermark_us = INT64_MIN;
    store_t *s = NULL;
    int rc = store_open(store_url, &s);
    if (rc == 0)
        rc = store_migrate(s);
    store_close(s);
    if (rc == 0)
        rc = run(r);
    if (r->until != &marker)
        core_free(r->until);
    if (stats != NULL)
        *stats = r->stats;
    core_free(r);
    return rc;
}

/* ---- Driven runs (the replay). */

int stream_drive_open(stream_pipeline_t *p, bus_t *bus, store_t *s, const int *stop,
                      stream_drive_t **out)
{
    *out = NULL;
    pipe_run_t *r = core_calloc(CORE_MEM_STREAM, 1, sizeof *r);
    if (r == NULL)
        return core_error(CORE_ENOMEM, "stream: out of memory");
    r->p = p;
    r->bus = bus;
    r->store = s;
    r->driven = true;
    r->stop = stop;
    r->stats.watermark_us = INT64_MIN;
    int rc = store_batch_create(&r->batch);
    if (rc == 0)
        rc = p->ops->prepare(p, s);
    if (rc == 0)
        rc = open_tasks(r);
    if (rc == 0) {
        r->until = core_calloc(CORE_MEM_STREAM, (size_t)r->ntasks + 1, sizeof *r->until);
        if (r->until == NULL)
            rc = core_error(CORE_ENOMEM, "stream: out of memory");
    }
    if (rc != 0) {
        stream_drive_close(r);
        return rc;
    }
    r->stats.running = true;
    *out = r;
    return 0;
}

int stream_drive_round(stream_drive_t *r, const int64_t *until, void (*on_loop)(void *arg),
                       void *arg)
{
    for (int32_t i = 0; i < r->ntasks; i++)
        r->until[i] = until[i];
    r->on_loop = on_loop;
    r->on_loop_arg = arg;
    int rc = run_loop(r);
    r->on_loop = NULL;
    if (rc == 0 && !caught_up(r))
        rc = core_error(CORE_ECLOSED, "pipeline %s: stopped", r->p->name);
    return rc;
}

int32_t stream_drive_partitions(const stream_drive_t *r)
{
    return r->ntasks;
}

int64_t stream_drive_end(stream_drive_t *r, int32_t i)
{
    return bus_reader_end(r->tasks[i]->reader);
}

int64_t stream_drive_position(const stream_drive_t *r, int32_t i)
{
    return bus_reader_position(r->tasks[i]->reader);
}

int64_t stream_drive_committed(const stream_drive_t *r, int32_t i)
{
    return r->tasks[i]->committed;
}

const stream_stats_t *stream_drive_stats(const stream_drive_t *r)
{
    return &r->stats;
}

void stream_drive_close(stream_drive_t *r)
{
    if (r == NULL)
        return;
    if (r->batch != NULL)
        store_batch_reset(r->batch);
    close_run(r);
    core_free(r->until);
    core_free(r);
}

/*
 * syncer.c - waits for fsyncs off the event loop.
 *
 * The loop appends with seglog_append_nowait() and, where durability is
 * owed (acks=all, a flush=always topic, an offset commit), queues a request
 * here. A few threads serve the queue. A thread takes every waiting request
 * for one partition at once, calls seglog_sync() once for the largest end
 * offset among them, and posts their completions back to the loop. So one
 * fdatasync answers every producer waiting on a partition, and different
 * partitions sync in parallel on different threads.
 *
 * Invariants: a partition is served by at most one thread at a time
 * (`busy`), so completions for a partition are posted in request order
 * (completions that could not be posted wait in `unposted`, in order);
 * every request's done callback runs exactly once, on the loop thread, even
 * at shutdown (with CORE_ECLOSED).
 *
 * Threading: kafka_syncer_request() from the loop thread; mu guards the
 * queue; done callbacks run on the loop via kafka_server_post().
 */
#include "kafka/syncer_int.h"

#include <pthread.h>
#include <time.h>

typedef struct sync_req {
    seglog_part_t *part;
    int64_t end_offset;
    kafka_sync_done_fn done;
    void *done_arg;
    int rc;
    struct sync_req *next;
} sync_req_t;

/* Partitions being synced right now, so two threads never take one. */
#define SYNCER_MAX_THREADS 16

struct kafka_syncer {
    kafka_server_t *server;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sync_req_t *head, *tail; /* waiting, in arrival order */
    sync_req_t *unposted;    /* synced, but posting the completion failed: retried */
    seglog_part_t *busy[SYNCER_MAX_THREADS];
    bool stopping;
    int n_threads;
    pthread_t threads[SYNCER_MAX_THREADS];
};

static void run_done(void *arg)
{
    sync_req_t *r = arg;
    r->done(r->done_arg, r->rc);
    core_free(r);
}

static bool part_busy(const kafka_syncer_t *s, const seglog_part_t *p)
{
    for (int i = 0; i < s->n_threads; i++)
        if (s->busy[i] == p)
            return true;
    return false;
}

/* Unlinks every waiting request for the first partition no thread holds.
 * Caller holds mu. */
static sync_req_t *take_batch(kafka_syncer_t *s)
{
    sync_req_t **pp = &s->head, *batch = NULL, **bt = &batch;
    seglog_part_t *part = NULL;
    for (sync_req_t *r = s->head; r != NULL; r = r->next)
        if (!part_busy(s, r->part)) {
            part = r->part;
            break;
        }
    if (part == NULL)
        return NULL;
    s->tail = NULL;
    while (*pp != NULL) {
        sync_req_t *r = *pp;
        if (r->part == part) {
            *pp = r->next;
            r->next = NULL;
            *bt = r;
            bt = &r->next;
        } else {
            s->tail = r;
            pp = &r->next;
        }
    }
    return batch;
}

/* Posts completions to the loop; those that cannot be posted (out of
 * memory) are kept, in order, and retried, never dropped: a dropped one
 * would leave its response deferred forever. Called with mu held. */
static void complete_batch(kafka_syncer_t *s, sync_req_t *batch, int rc)
{
    sync_req_t **tail = &s->unposted;
    while (*tail != NULL)
        tail = &(*tail)->next;
    for (sync_req_t *r = batch; r != NULL; r = r->next)
        r->rc = rc;
    *tail = batch;
    while (s->unposted != NULL) {
        sync_req_t *r = s->unposted;
        sync_req_t *next = r->next;
        r->next = NULL;
        if (kafka_server_post(s->server, run_done, r) != 0) {
            r->next = next; /* keep it first; retry later */
            core_log(CORE_LOG_WARN, "kafka", "cannot post a sync completion yet: out of memory");
            return;
        }
        s->unposted = next;
    }
}

static void *syncer_main(void *arg)
{
    kafka_syncer_t *s = arg;
    pthread_mutex_lock(&s->mu);
    int me = 0;
    while (me < s->n_threads && !pthread_equal(s->threads[me], pthread_self()))
        me++;
    for (;;) {
        sync_req_t *batch = NULL;
        while (!s->stopping && (batch = take_batch(s)) == NULL) {
            if (s->unposted == NULL) {
                pthread_cond_wait(&s->cv, &s->mu);
                continue;
            }
            complete_batch(s, NULL, 0); /* retry posting */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 10 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        if (batch == NULL)
            break;
        s->busy[me] = batch->part;
        pthread_mutex_unlock(&s->mu);
        int64_t end = 0;
        for (sync_req_t *r = batch; r != NULL; r = r->next)
            end = CORE_MAX(end, r->end_offset);
        int rc = seglog_sync(batch->part, end);
        pthread_mutex_lock(&s->mu);
        complete_batch(s, batch, rc);
        s->busy[me] = NULL;
        pthread_cond_broadcast(&s->cv); /* the partition is free again */
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int kafka_syncer_create(kafka_server_t *server, int threads, kafka_syncer_t **out)
{
    kafka_syncer_t *s = core_calloc(CORE_MEM_KAFKA, 1, sizeof *s);
    if (s == NULL)
        return CORE_ENOMEM;
    s->server = server;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    threads = CORE_MAX(1, CORE_MIN(threads, SYNCER_MAX_THREADS));
    pthread_mutex_lock(&s->mu); /* threads find their index once all exist */
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&s->threads[i], NULL, syncer_main, s) != 0)
            break;
        s->n_threads++;
    }
    pthread_mutex_unlock(&s->mu);
    if (s->n_threads == 0) {
        kafka_syncer_destroy(s);
        return core_error(CORE_EIO, "cannot start fsync threads");
    }
    *out = s;
    return 0;
}

int kafka_syncer_request(void *ctx, seglog_part_t *part, int64_t end_offset,
                         kafka_sync_done_fn done, void *done_arg)
{
    kafka_syncer_t *s = ctx;
    sync_req_t *r = core_calloc(CORE_MEM_KAFKA, 1, sizeof *r);
    if (r == NULL)
        return CORE_ENOMEM;
    *r = (sync_req_t){part, end_offset, done, done_arg, 0, NULL};
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        core_free(r);
        return CORE_ECLOSED;
    }
    if (s->tail != NULL)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void kafka_syncer_destroy(kafka_syncer_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_threads; i++)
        pthread_join(s->threads[i], NULL);
    /* Completions never posted, then requests never taken: complete them
     * directly (the loop has stopped; its thread is the caller). */
    for (sync_req_t *r = s->unposted, *next; r != NULL; r = next) {
        next = r->next;
        run_done(r);
    }
    for (sync_req_t *r = s->head, *next; r != NULL; r = next) {
        next = r->next;
        r->done(r->done_arg, CORE_ECLOSED);
        core_free(r);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    core_free(s);
}

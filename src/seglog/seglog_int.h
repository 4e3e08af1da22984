/*
 * seglog_int.h - internals shared by the seglog source files.
 *
 * Ownership and locks (STYLE.md rule 7):
 *
 *   seglog_t.mu        guards the topic map and each topic's existence.
 *   seglog_t.life_lock rwlock (writers first): the flusher and pinned
 *                      threads (seglog_pin) hold it for reading while they
 *                      use partitions outside mu; topic deletion holds it
 *                      for writing, so it never frees a partition in use.
 *   part.append_mu     serialises appenders, rolls and retention; held while
 *                      bytes are written to the active segment.
 *   part.seg_lock      rwlock over the segment array and every field a reader
 *                      looks at (segment sizes, indexes, log_start, log_end).
 *                      Appenders take it for writing only to publish a batch
 *                      they have already written; readers take it for reading
 *                      for the whole of a read, so a segment cannot be deleted
 *                      under them.
 *   part.sync_mu       guards durable_end, syncing, the failure state, and
 *                      last_flush_ms; sync_cv wakes group-commit waiters.
 *
 * Lock order: life_lock -> seglog.mu -> append_mu -> seg_lock -> sync_mu.
 *
 * Invariants of a partition with segments s[0..n):
 *   s[i].base_offset < s[i+1].base_offset and s[i].next_offset ==
 *   s[i+1].base_offset; s[n-1] is the active segment; log_start ==
 *   s[0].base_offset; log_end == s[n-1].next_offset; every byte below
 *   s[i].size in segment i is a whole, CRC-checked batch; durable_end <=
 *   log_end, and every segment but the active one is fully fsynced.
 */
#ifndef STRATA_SEGLOG_INT_H
#define STRATA_SEGLOG_INT_H

#include "seglog/seglog.h"

#include <pthread.h>
#include <stdatomic.h>

#include "record/record.h"

#define SEGLOG_OIDX_ENTRY     8  /* rel offset u32, position u32 */
#define SEGLOG_TIDX_ENTRY     12 /* timestamp i64, rel offset u32 */
#define SEGLOG_NAME_DIGITS    20
#define SEGLOG_PATH_MAX       4096
#define SEGLOG_TS_NONE        INT64_MIN
#define SEGLOG_CLEAN_MARKER   ".clean-shutdown"
#define SEGLOG_RECOVERY_POINT "recovery-point"
#define SEGLOG_LOCK_FILE      ".lock"

typedef struct {
    uint32_t rel_offset;
    uint32_t pos;
} seglog_oidx_t;

typedef struct {
    int64_t ts; /* largest record time of every batch up to and including rel_offset's */
    uint32_t rel_offset;
} seglog_tidx_t;

/* One segment: a .log file and its two sparse indexes, held in memory and
 * written to .index/.timeindex when the segment is sealed or the log closes. */
typedef struct {
    int64_t base_offset;
    int64_t next_offset;   /* offset after the last batch; == base when empty */
    int64_t size;          /* bytes of whole batches */
    int64_t max_ts;        /* largest batch MaxTimestamp, SEGLOG_TS_NONE if none */
    int64_t max_ts_offset; /* base offset of the batch that set max_ts */
    int64_t created_ms;    /* wall clock when this process opened or created it */
    int64_t since_index;   /* bytes appended since the last index entry */
    int fd;
    seglog_oidx_t *oidx;
    size_t n_oidx, cap_oidx;
    seglog_tidx_t *tidx;
    size_t n_tidx, cap_tidx;
    char *path; /* ".../00000000000000000000" without extension; owned */
} seglog_segment_t;

struct seglog_part {
    seglog_topic_t *topic;
    int32_t id;
    char *dir;  /* owned */
    char *name; /* "topic-3", owned */

    pthread_mutex_t append_mu;
    pthread_rwlock_t seg_lock;
    seglog_segment_t **segs; /* owned, guarded by seg_lock */
    size_t n_segs, cap_segs;
    int64_t log_start;
    int64_t log_end;

    pthread_mutex_t sync_mu;
    pthread_cond_t sync_cv;
    int64_t durable_end;
    bool syncing;
    int64_t last_flush_ms;
    atomic_bool failed; /* written under sync_mu; read without it on hot paths */
    char *error;        /* owned; set once, under sync_mu, before failed */

    /* Traffic since the partition was opened (seglog_part_traffic). */
    _Atomic int64_t in_records, in_bytes, out_records, out_bytes;
};

struct seglog_topic {
    seglog_t *log;
    char *name;
    seglog_topic_config_t cfg;
    seglog_part_t **parts; /* cfg.partitions entries */
};

struct seglog {
    char *dir;
    int lock_fd; /* holds an exclusive flock on DATA/.lock while open */
    char *topics_dir;
    pthread_mutex_t mu;
    pthread_rwlock_t life_lock; /* see the lock list above */
    core_map_t *topics;         /* name -> seglog_topic_t*, guarded by mu */
    bool recovered;

    /* Append hooks. Appenders call them under hook_lock for reading, so
     * adding or removing one (for writing) waits for calls in progress. */
    pthread_rwlock_t hook_lock;
    struct {
        void (*fn)(void *, seglog_part_t *);
        void *arg;
    } hooks[SEGLOG_MAX_HOOKS];
    int nhooks;

    pthread_t flusher;
    bool flusher_started;
    pthread_cond_t flusher_cv; /* with mu */
    bool stopping;
    int64_t next_retention_ms;
};

/* True if the batch's offsets fit: base >= 0 and base + delta + 1 does not
 * pass INT64_MAX. Stored bytes and file names are outside input. */
static inline bool seglog_offsets_fit(int64_t base, int64_t delta)
{
    return base >= 0 && delta >= 0 && base <= INT64_MAX - 1 - delta;
}

/* segment.c */
int seglog_segment_create(const char *dir, int64_t base_offset, seglog_segment_t **out);
int seglog_segment_open(const char *dir, int64_t base_offset, seglog_segment_t **out);
void seglog_segment_close(seglog_segment_t *s);
int seglog_segment_unlink(seglog_segment_t *s);
/* Publishes a batch written at `pos`: size, next offset, largest timestamp
 * and, when due, index entries. Cannot fail: index entries are optional. */
void seglog_segment_index_batch(seglog_segment_t *s, const record_batch_header_t *h, int64_t pos,
                                int32_t interval_bytes);
void seglog_segment_index_clear(seglog_segment_t *s);
/* Writes both index files whole and fsyncs them. */
int seglog_segment_write_indexes(seglog_segment_t *s);
/* Loads both index files and checks them against the segment; CORE_ECORRUPT
 * when they do not match (the caller rebuilds). */
int seglog_segment_load_indexes(seglog_segment_t *s);
/* Position of the last index entry at or before `offset`. */
int64_t seglog_segment_lookup(const seglog_segment_t *s, int64_t offset);
/* Position to start scanning for the first batch with max_ts >= ts. */
int64_t seglog_segment_lookup_time(const seglog_segment_t *s, int64_t ts);
/* Reads and parses (without CRC) the batch header at pos. */
int seglog_segment_read_header(const seglog_segment_t *s, int64_t pos, record_batch_header_t *h);

/* recovery.c */
/* Scans the segment from byte 0, checking every batch and rebuilding its
 * indexes. Sets *valid_end to the end of the last good batch. Returns 0 if
 * the whole file is valid, CORE_ECORRUPT (with a detail) if it stopped early. */
int seglog_segment_scan(seglog_segment_t *s, int32_t interval_bytes, int64_t *valid_end);
/* Opens the partition folder and recovers it. */
int seglog_part_load(seglog_part_t *p, bool clean);
int64_t seglog_recovery_point_read(const char *dir);
int seglog_recovery_point_write(const char *dir, int64_t offset);

/* partition.c */
int seglog_part_create(seglog_topic_t *t, int32_t id, bool create_dir, seglog_part_t **out);
void seglog_part_destroy(seglog_part_t *p);
/* Marks the partition failed with the current error detail (first failure
 * wins). Caller holds no partition lock. */
void seglog_part_fail(seglog_part_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool seglog_part_is_failed(seglog_part_t *p);
/* Sets the detail "<name>: partition failed: <why>" and returns CORE_EFAILED. */
int seglog_part_failed_error(seglog_part_t *p);
/* The last segment; caller holds seg_lock or append_mu. */
seglog_segment_t *seglog_part_active(seglog_part_t *p);
int seglog_part_push_segment(seglog_part_t *p, seglog_segment_t *s);
/* Flush at clean close: sync, write indexes and recovery point. */
int seglog_part_close_clean(seglog_part_t *p);
/* Runs the interval flush if due; returns ms until next due. */
int64_t seglog_part_flush_tick(seglog_part_t *p, int64_t now_ms);

/* topic.c */
int seglog_topic_config_write(const char *topics_dir, const char *name,
                              const seglog_topic_config_t *cfg);
int seglog_topic_config_read(const char *path, seglog_topic_config_t *cfg);
int seglog_topic_load(seglog_t *log, const char *name, bool clean, seglog_topic_t **out);
void seglog_topic_destroy(seglog_topic_t *t);
int seglog_remove_tree(const char *dir);

/* Joins path parts into a new string (tag SEGLOG); NULL on failure. */
char *seglog_path_join(const char *a, const char *b);

#endif /* STRATA_SEGLOG_INT_H */

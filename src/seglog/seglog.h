/*
 * seglog.h - the commit log that holds the master dataset.
 *
 * Layout under the data directory:
 *
 *   DATA/topics/<topic>.topic            topic config (key=value lines)
 *   DATA/topics/<topic>-<p>/             one folder per partition
 *       00000000000000000000.log         RecordBatch v2 bytes, named by base offset
 *       00000000000000000000.index       sparse offset index (rel offset u32, pos u32)
 *       00000000000000000000.timeindex   sparse time index (max ts i64, rel offset u32)
 *       recovery-point                   offset below which every byte was fsynced
 *   DATA/.lock                           flock'ed by the process that has it open
 *   DATA/.clean-shutdown                 present only after a clean close
 *
 * Lifecycle: seglog_open() -> topics and partitions -> seglog_close().
 *
 * Durability (docs/durability.md): an append is written with one pwrite.
 * Per topic, the flush policy decides when it reaches the disk:
 *   always      seglog_append() returns only after an fdatasync covers it;
 *   interval:N  a background thread fdatasyncs dirty partitions every N ms;
 *   never       the OS decides.
 * seglog_sync() waits for durability on demand under any policy (what an
 * acks=all produce uses). Concurrent waiters share one fdatasync (group
 * commit). An fsync error fails the partition for good.
 *
 * Thread-safety: every function may be called from any thread. Appends to
 * one partition are serialised; reads run concurrently with appends and see
 * only whole, published batches.
 */
#ifndef STRATA_SEGLOG_H
#define STRATA_SEGLOG_H

#include "core/core.h"

typedef struct seglog seglog_t;
typedef struct seglog_topic seglog_topic_t;
typedef struct seglog_part seglog_part_t;

#define SEGLOG_TOPIC_NAME_MAX 249
#define SEGLOG_PARTITIONS_MAX 10000

typedef enum { SEGLOG_FLUSH_NEVER, SEGLOG_FLUSH_INTERVAL, SEGLOG_FLUSH_ALWAYS } seglog_flush_t;

/* Per-topic settings. Names follow Kafka's topic configs. */
typedef struct {
    int32_t partitions; /* >= 1 */
    seglog_flush_t flush;
    int64_t flush_interval_ms;    /* for SEGLOG_FLUSH_INTERVAL, >= 1 */
    int64_t segment_bytes;        /* roll when a segment reaches this size */
    int64_t segment_ms;           /* roll when the active segment is this old */
    int64_t retention_bytes;      /* per partition; -1 = unlimited */
    int64_t retention_ms;         /* by record time; -1 = unlimited */
    int32_t max_message_bytes;    /* largest batch accepted */
    int32_t index_interval_bytes; /* bytes between sparse index entries */
} seglog_topic_config_t;

/* Fills the defaults: 1 partition, flush interval:1000, 1 GiB segments,
 * 7-day segment age, unlimited retention, 1048588-byte batches, 4096-byte
 * index interval. */
void seglog_topic_config_default(seglog_topic_config_t *c);
/* Checks every field's bounds; CORE_EINVAL with a detail naming the key. */
int seglog_topic_config_check(const seglog_topic_config_t *cfg);
/* Parses a flush policy: "always", "never" or "interval:<ms>". */
int seglog_flush_parse(const char *s, seglog_flush_t *mode, int64_t *interval_ms);
/* Formats one into out ("interval:1000"). */
void seglog_flush_format(seglog_flush_t mode, int64_t interval_ms, char *out, size_t out_len);

/* Checks a topic name as Kafka does: 1..249 of [A-Za-z0-9._-], not "." or
 * "..". Returns 0 or CORE_EINVAL with a detail saying why. */
int seglog_topic_name_check(const char *name);

/* Opens (creating if needed) the log in data_dir and recovers every
 * partition. A partition that cannot be recovered without losing sealed
 * data is marked failed; the others open normally. One process at a time:
 * the folder is locked (flock on DATA/.lock) until seglog_close().
 * Errors: CORE_EEXIST when another process has the folder open; CORE_EIO
 * and friends when the directory itself cannot be used. */
int seglog_open(const char *data_dir, seglog_t **out);
/* Stops the flusher, fsyncs every partition, writes indexes and recovery
 * points, then the clean-shutdown marker. NULL is ignored. */
void seglog_close(seglog_t *log);
/* True if the last open found no clean-shutdown marker and ran recovery. */
bool seglog_recovered(const seglog_t *log);

/* Topics. Creation is atomic: after a crash the topic either exists with all
 * partitions or not at all. Errors: CORE_EINVAL (bad name or config),
 * CORE_EEXIST. */
int seglog_topic_create(seglog_t *log, const char *name, const seglog_topic_config_t *cfg);
int seglog_topic_delete(seglog_t *log, const char *name); /* CORE_ENOENT */
/* Borrowed; valid until the topic is deleted or the log closed. NULL if
 * absent. */
seglog_topic_t *seglog_topic_get(seglog_t *log, const char *name);
/* Pins the topics: none is freed (seglog_topic_delete waits) until the
 * matching seglog_unpin. A thread that looks up a topic and uses it (or its
 * partitions) while another thread may delete it holds a pin across the
 * lookup and the use. Pins are short: nothing inside waits for new data or
 * for another thread that might be deleting; they never nest; a pinned
 * thread deletes no topic. */
void seglog_pin(seglog_t *log);
void seglog_unpin(seglog_t *log);
/* The sorted topic names, as an array of caller-owned strings; free with
 * seglog_names_free(). */
int seglog_topic_names(seglog_t *log, char ***names, size_t *count);
void seglog_names_free(char **names, size_t count);

const char *seglog_topic_name(const seglog_topic_t *t);
const seglog_topic_config_t *seglog_topic_config(const seglog_topic_t *t);
/* Borrowed partition handle; NULL if p is out of range. */
seglog_part_t *seglog_partition(seglog_topic_t *t, int32_t p);

/* Appends one RecordBatch v2 (len bytes, exactly one batch). Checks the
 * header, magic and CRC32C, assigns offsets by rewriting BaseOffset in
 * `batch` (outside the CRC) and writes it. Under flush=always it returns
 * after an fdatasync covers the batch.
 *
 * On success *base_offset is the first offset assigned; the last one is
 * *base_offset + LastOffsetDelta.
 * Errors: CORE_ECORRUPT (bad batch: magic, CRC, lengths), CORE_ETOOBIG (over
 * max_message_bytes), CORE_ENOSPC (disk full: nothing was appended and the
 * partition stays usable), CORE_EIO, CORE_EFAILED (partition failed; see
 * seglog_part_error()). */
int seglog_append(seglog_part_t *p, uint8_t *batch, size_t len, int64_t *base_offset);

/* Like seglog_append(), but never waits for an fsync, whatever the flush
 * policy: for callers that must not block (the broker's event loop), which
 * then wait with seglog_sync() elsewhere when the policy is `always` or the
 * producer asked for acks=all. *end_offset receives the offset after the
 * batch. */
int seglog_append_nowait(seglog_part_t *p, uint8_t *batch, size_t len, int64_t *base_offset,
                         int64_t *end_offset);

/* The topic a partition belongs to. Borrowed. */
seglog_topic_t *seglog_part_topic(seglog_part_t *p);
int32_t seglog_part_id(const seglog_part_t *p);

/* Registers fn to be called after every append to any partition, from the
 * appending thread, once the batch is readable (e.g. to wake parked fetch
 * requests or pipeline readers). fn must be quick and thread-safe, and must
 * not append or change the hooks. At most SEGLOG_MAX_HOOKS hooks
 * (CORE_ETOOBIG beyond). Removing waits until calls already in progress
 * have returned, so afterwards arg may be freed; removing a hook that is not
 * registered does nothing. */
#define SEGLOG_MAX_HOOKS 8
int seglog_add_append_hook(seglog_t *log, void (*fn)(void *arg, seglog_part_t *p), void *arg);
void seglog_remove_append_hook(seglog_t *log, void (*fn)(void *arg, seglog_part_t *p), void *arg);

/* Blocks until everything below `end_offset` is on disk (group commit: one
 * fdatasync serves every waiter). Returns CORE_EFAILED if the partition has
 * failed, e.g. because an fsync reported an error, and CORE_ERANGE if
 * end_offset is beyond the log end. */
int seglog_sync(seglog_part_t *p, int64_t end_offset);

/* Reads whole batches starting with the one that contains `offset`, up to
 * max_bytes but always at least one whole batch, from a single segment,
 * appending them to `out`. Appends nothing when offset == log end.
 * Errors: CORE_ERANGE when offset is below the log start or above the log
 * end, CORE_ECORRUPT when the stored bytes fail their check, CORE_EFAILED. */
int seglog_read(seglog_part_t *p, int64_t offset, size_t max_bytes, core_buf_t *out);

/* The first offset whose record timestamp is >= ts, or the log end offset if
 * there is none (Kafka's ListOffsets answers -1 in that case). */
int seglog_offset_for_time(seglog_part_t *p, int64_t ts, int64_t *offset);

typedef struct {
    int64_t log_start;   /* first offset still stored */
    int64_t log_end;     /* next offset to be assigned (the high watermark) */
    int64_t durable_end; /* everything below it has been fsynced */
    int64_t size_bytes;  /* bytes in all segments */
    int32_t segments;
    bool failed;
} seglog_part_info_t;

void seglog_part_info(seglog_part_t *p, seglog_part_info_t *out);

/* Traffic through a partition since this process opened it: records and
 * bytes (whole stored batches) appended, and records and bytes of the
 * batches handed to consumers (counted by the consumers through
 * seglog_part_count_out). Lock-free; safe from any thread. */
typedef struct {
    int64_t in_records, in_bytes;
    int64_t out_records, out_bytes;
} seglog_traffic_t;

void seglog_part_traffic(seglog_part_t *p, seglog_traffic_t *out);
/* Counts whole batches (as seglog_read returned them: `len` bytes from
 * `batches`) as delivered to a consumer, e.g. a Kafka fetch response or a
 * pipeline's reader. Bytes that do not parse as a batch header count as
 * bytes only. */
void seglog_part_count_out(seglog_part_t *p, const uint8_t *batches, size_t len);
int64_t seglog_log_start(seglog_part_t *p);
int64_t seglog_log_end(seglog_part_t *p);
/* The failure message of a failed partition, or NULL. Borrowed. */
const char *seglog_part_error(seglog_part_t *p);
/* "topic-3": the partition's folder name. Borrowed. */
const char *seglog_part_name(const seglog_part_t *p);

/* Applies retention now: deletes whole sealed segments past the topic's
 * retention.bytes or retention.ms (by the segment's largest record time,
 * measured against now_ms). Never deletes the active segment. Returns the
 * number of segments deleted, or a negative code. */
int seglog_retention_run(seglog_part_t *p, int64_t now_ms);

#endif /* STRATA_SEGLOG_H */

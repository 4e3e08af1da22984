/*
 * bench_common.h - helpers the benchmark programs share: number formatting,
 * percentiles, clocks, paths, the file system under a directory, and
 * cleanup.
 * Messages name the program set with bench_set_name().
 */
#ifndef STRATA_BENCH_COMMON_H
#define STRATA_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The program name used in messages ("bench_kafka"). Borrowed. */
void bench_set_name(const char *name);
/* "2.49M", "812.0k" or "950" into out; returns out. */
const char *bench_fmt_count(char *out, size_t n, double v);
/* Nearest-rank percentile p (0..100) of n sorted nanosecond values, in ms. */
double bench_percentile_ms(const int64_t *sorted, int64_t n, unsigned p);
/* "dir/name" into out; CORE_EINVAL (reported) if it does not fit. */
int bench_path_join(char *out, size_t n, const char *dir, const char *name);
/* The file system holding dir ("ext2/3/4", ...); *memory is set for tmpfs
 * and ramfs, where write figures would not be a disk's. */
const char *bench_fs_name(const char *dir, bool *memory);
/* Removes dir and everything below it, reporting what it cannot. */
void bench_remove_tree(const char *dir);
/* Seconds on `clock`: CLOCK_MONOTONIC for wall time, CLOCK_PROCESS_CPUTIME_ID
 * or CLOCK_THREAD_CPUTIME_ID for CPU time. */
double bench_seconds(clockid_t clock);
/* CPU time of the whole process, in nanoseconds. */
int64_t bench_cpu_ns(void);
/* Parses option `opt`'s whole-number value in [min, max], reporting errors. */
int bench_parse_count(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out);

#endif /* STRATA_BENCH_COMMON_H */

/*
 * bench_common.c - helpers shared by the benchmark programs (see
 * bench_common.h). Single-threaded use; the program name is set once at
 * start.
 */
#include "bench_common.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "core/core.h"

static const char *prog = "bench";

void bench_set_name(const char *name)
{
    prog = name;
}

const char *bench_fmt_count(char *out, size_t n, double v)
{
    if (v >= 1e6)
        snprintf(out, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(out, n, "%.1fk", v / 1e3);
    else
        snprintf(out, n, "%.0f", v);
    return out;
}

double bench_percentile_ms(const int64_t *sorted, int64_t n, unsigned p)
{
    int64_t rank = ((int64_t)p * n + 99) / 100;
    if (rank < 1)
        rank = 1;
    return (double)sorted[rank - 1] / 1e6;
}

int bench_path_join(char *out, size_t n, const char *dir, const char *name)
{
    int len = snprintf(out, n, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= n) {
        fprintf(stderr, "%s: path too long: %s/%s\n", prog, dir, name);
        return CORE_EINVAL;
    }
    return 0;
}

const char *bench_fs_name(const char *dir, bool *memory)
{
    static const struct {
        long magic;
        const char *name;
    } known[] = {{0xEF53, "ext2/3/4"},  {0x58465342, "xfs"},   {0x9123683E, "btrfs"},
                 {0x01021994, "tmpfs"}, {0x858458F6, "ramfs"}, {0x794C7630, "overlayfs"},
                 {0x2FC12FC1, "zfs"},   {0x6969, "nfs"},       {0xF2F52010, "f2fs"}};
    struct statfs st;
    *memory = false;
    if (statfs(dir, &st) != 0)
        return "unknown file system";
    for (size_t i = 0; i < CORE_ARRAY_LEN(known); i++) {
        if ((long)st.f_type == known[i].magic) {
            *memory = known[i].magic == 0x01021994 || known[i].magic == 0x858458F6;
            return known[i].name;
        }
    }
    return "unknown file system";
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "%s: cleanup: remove %s: %s\n", prog, path, strerror(errno));
    return 0;
}

void bench_remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int bench_parse_count(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
    int rc = s != NULL ? core_parse_i64(s, min, max, out) : CORE_EINVAL;
    if (rc != 0)
        fprintf(stderr, "%s: %s needs a whole number from %lld to %lld\n", prog, opt,
                (long long)min, (long long)max);
    return rc;
}

double bench_seconds(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int64_t bench_cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

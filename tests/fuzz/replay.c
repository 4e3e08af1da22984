/*
 * tests/fuzz/replay.c - replays fuzz corpora through a fuzz target without
 * libFuzzer, so every ordinary build and test run exercises every target
 * on its committed corpus (under ASan/UBSan in the sanitizer build).
 *
 * Usage: fuzz_replay_<target> DIR|FILE...
 * Each argument is a directory (its regular files are replayed; dot files
 * and subdirectories are skipped) or a single file. An argument that is
 * missing, unreadable or yields no input fails the run with exit status 1,
 * so a corpus that silently vanished cannot pass. Files over REPLAY_MAX_INPUT
 * bytes are an error too: libFuzzer never produces them.
 *
 * Generic: links against any target defining LLVMFuzzerTestOneInput.
 * Threading: single-threaded.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (16u << 20)

/* Reads the whole regular file at path and runs the target on it. Returns
 * 0, or -1 after printing why. */
static int replay_file(const char *path, size_t size)
{
    if (size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: %s: %zu bytes exceeds the %u-byte cap\n", path, size,
                REPLAY_MAX_INPUT);
        return -1;
    }
    /* An exact-size heap copy, so ASan catches reads past the input. */
    uint8_t *buf = malloc(size ? size : 1);
    FILE *f = fopen(path, "rb");
    int rc = -1;
    if (!buf || !f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (fread(buf, 1, size, f) != size) {
        fprintf(stderr, "replay: %s: short read\n", path);
        goto out;
    }
    LLVMFuzzerTestOneInput(buf, size);
    rc = 0;
out:
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

/* Builds dir/name into out; returns -1 if it does not fit. */
static int join_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* Replays every regular file in dir; returns the count, or -1. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    long count = 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        if (join_path(path, sizeof(path), dir, e->d_name) < 0 || stat(path, &st) < 0) {
            fprintf(stderr, "replay: %s/%s: cannot stat\n", dir, e->d_name);
            count = -1;
            break;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        if (replay_file(path, (size_t)st.st_size) < 0) {
            count = -1;
            break;
        }
        count++;
    }
    closedir(d);
    return count;
}

static long replay_arg(const char *arg)
{
    struct stat st;
    if (stat(arg, &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", arg, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode))
        return replay_dir(arg);
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "replay: %s: not a regular file or directory\n", arg);
        return -1;
    }
    return replay_file(arg, (size_t)st.st_size) < 0 ? -1 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        long n = replay_arg(argv[i]);
        if (n < 0)
            return 1;
        if (n == 0) {
            fprintf(stderr, "replay: %s: no inputs (corpus missing?)\n", argv[i]);
            return 1;
        }
        printf("replayed %ld inputs from %s\n", n, argv[i]);
    }
    return 0;
}

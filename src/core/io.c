/*
 * io.c - whole-buffer positional I/O and directory fsync, the three system
 * call loops every storage module needs.
 *
 * Invariants: a short pwrite/pread is continued, EINTR is retried, and on
 * failure errno still holds the failing call's value when we return (the
 * error detail is formatted with errno saved and restored).
 *
 * Threading: stateless apart from the caller's fd; thread-safe.
 */
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Records "<what>: <strerror>" as the thread's detail, keeping errno. */
static int io_fail(int code, const char *what, int fd, int64_t off)
{
    int saved = errno;
    char msg[128];
    const char *text = strerror_r(saved, msg, sizeof(msg));
    core_error(code, "%s (fd %d, offset %lld): %s", what, fd, (long long)off, text);
    errno = saved;
    return code;
}

int core_pwrite_all(int fd, const void *p, size_t n, int64_t off)
{
    const uint8_t *s = p;
    if (off < 0) {
        errno = EINVAL;
        return io_fail(CORE_EIO, "pwrite", fd, off);
    }
    while (n > 0) {
        ssize_t r = pwrite(fd, s, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* no progress and no reason: do not spin */
            int code = (errno == ENOSPC || errno == EDQUOT) ? CORE_ENOSPC : CORE_EIO;
            return io_fail(code, "pwrite", fd, off);
        }
        s += r;
        n -= (size_t)r;
        off += r;
    }
    return CORE_OK;
}

int core_pread_all(int fd, void *p, size_t n, int64_t off)
{
    uint8_t *d = p;
    if (off < 0) {
        errno = EINVAL;
        return io_fail(CORE_EIO, "pread", fd, off);
    }
    while (n > 0) {
        ssize_t r = pread(fd, d, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return io_fail(CORE_EIO, "pread", fd, off);
        if (r == 0)
            return core_error(CORE_ETRUNC,
                              "pread (fd %d): file ends at offset %lld, %zu bytes short", fd,
                              (long long)off, n);
        d += r;
        n -= (size_t)r;
        off += r;
    }
    return CORE_OK;
}

int core_fsync_dir(const char *path)
{
    int fd;
    do {
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    int rc = CORE_OK;
    int saved;
    char msg[128];
    if (fd < 0) {
        saved = errno;
        rc = saved == ENOENT ? CORE_ENOENT : CORE_EIO;
        core_error(rc, "open directory %s: %s", path, strerror_r(saved, msg, sizeof(msg)));
        errno = saved;
        return rc;
    }
    if (fsync(fd) != 0) {
        saved = errno;
        rc = CORE_EIO;
        core_error(rc, "fsync directory %s: %s", path, strerror_r(saved, msg, sizeof(msg)));
        close(fd);
        errno = saved;
    } else {
        close(fd);
    }
    return rc;
}

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
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
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

int core_split_host_port(const char *listen, const char *what, const char *example_port, char *host,
                         size_t host_len, char *port, size_t port_len)
{
    const char *h = listen, *h_end, *p;
    if (listen[0] == '[') {
        h = listen + 1;
        h_end = strchr(h, ']');
        if (h_end == NULL || h_end[1] != ':')
            goto bad;
        p = h_end + 2;
    } else {
        h_end = strrchr(listen, ':');
        if (h_end == NULL || memchr(listen, ':', (size_t)(h_end - listen)) != NULL)
            goto bad; /* no port, or an IPv6 address without brackets */
        p = h_end + 1;
    }
    size_t n = (size_t)(h_end - h);
    int64_t v;
    if (n == 0 || n >= host_len || core_parse_i64(p, 0, 65535, &v) != 0)
        goto bad;
    memcpy(host, h, n);
    host[n] = '\0';
    snprintf(port, port_len, "%d", (int)v);
    return 0;
bad:
    return core_error(CORE_EINVAL,
                      "%s: listen address '%s' is not host:port with a port in 0..65535 "
                      "(e.g. 127.0.0.1:%s, [::1]:%s, localhost:%s)",
                      what, listen, example_port, example_port, example_port);
}

/* Binds and listens on one address; 0 or errno, with *step naming the call
 * that failed. An IPv6 socket takes IPv6 only, so "[::]:P" and "0.0.0.0:P"
 * are separate listeners, as they are everywhere else. */
static int bind_one(const struct addrinfo *ai, int backlog, int *fd_out, const char **step)
{
    *step = "socket";
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        *step = "setsockopt(SO_REUSEADDR)";
    else if (ai->ai_family == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        *step = "setsockopt(IPV6_V6ONLY)";
    else if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        *step = "bind";
    else if (listen(fd, backlog) != 0)
        *step = "listen";
    else {
        *fd_out = fd;
        return 0;
    }
    int err = errno;
    close(fd);
    return err;
}

static int bound_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    if (sa.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&sa)->sin_port);
    if (sa.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    return -1;
}

int core_listen_tcp(const char *listen, const char *what, const char *example_port, int backlog,
                    int *fd_out, int *port_out)
{
    char host[256], port[8];
    int rc = core_split_host_port(listen, what, example_port, host, sizeof host, port, sizeof port);
    if (rc != 0)
        return rc;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0)
        return core_error(CORE_EINVAL, "%s: listen %s: cannot resolve '%s': %s", what, listen, host,
                          g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    int fd = -1, first_err = 0;
    const char *first_step = "bind", *step = "bind";
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        int err = bind_one(ai, backlog, &fd, &step);
        if (err != 0 && first_err == 0) {
            first_err = err;
            first_step = step;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return core_error(CORE_EIO, "%s: listen %s: %s: %s (is another process using the port?)",
                          what, listen, first_step, strerror(first_err));
    *fd_out = fd;
    *port_out = bound_port(fd);
    return 0;
}

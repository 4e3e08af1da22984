/*
 * error.c - error-code messages, the per-thread error detail, and the
 * checked integer parser that replaces atoi.
 *
 * Invariants: core_strerror() never returns NULL; the detail buffer is always
 * NUL-terminated and at most CORE_ERROR_DETAIL_MAX bytes including the NUL.
 *
 * Threading: the detail lives in thread-local storage, so each thread sees
 * only its own; everything else is pure.
 */
#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char error_detail[CORE_ERROR_DETAIL_MAX];

const char *core_strerror(int code)
{
    switch (code) {
    case CORE_OK:
        return "ok";
    case CORE_EAGAIN:
        return "try again";
    case CORE_ENOMEM:
        return "out of memory";
    case CORE_EINVAL:
        return "invalid argument";
    case CORE_EIO:
        return "I/O error";
    case CORE_ENOSPC:
        return "no space left on device";
    case CORE_ECORRUPT:
        return "corrupt data";
    case CORE_ERANGE:
        return "value out of range";
    case CORE_ENOENT:
        return "not found";
    case CORE_EEXIST:
        return "already exists";
    case CORE_ETOOBIG:
        return "too big";
    case CORE_EFAILED:
        return "in a failed state";
    case CORE_ECLOSED:
        return "closed";
    case CORE_ETRUNC:
        return "truncated input";
    case CORE_EUNSUPP:
        return "not supported";
    default:
        return "unknown error";
    }
}

int core_error(int code, const char *fmt, ...)
{
    /* Format into a copy first: callers often wrap the previous detail,
     * passing core_error_detail() itself as an argument. */
    char text[CORE_ERROR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        text[0] = '\0';
    memcpy(error_detail, text, sizeof text);
    return code;
}

const char *core_error_detail(void)
{
    return error_detail;
}

void core_error_clear(void)
{
    error_detail[0] = '\0';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int core_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    /* strtoll accepts leading space and an empty digit run; we accept
     * neither, so a config value like "" or " 5" or "5x" is rejected. */
    if (s == NULL || *s == '\0' || is_space(*s))
        return CORE_EINVAL;
    char *end = NULL;
    int saved = errno;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int err = errno;
    errno = saved;
    if (end == s || *end != '\0')
        return CORE_EINVAL;
    if (err == ERANGE || v < min || v > max)
        return CORE_ERANGE;
    *out = (int64_t)v;
    return CORE_OK;
}

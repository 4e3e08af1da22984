/*
 * clock.c - monotonic and wall clocks, and the ISO-8601 UTC formatting the
 * logger and the API use.
 *
 * Invariants: monotonic readings never go backwards; formatting is
 * reentrant (gmtime_r) and always NUL-terminates a non-empty output.
 *
 * Threading: stateless; thread-safe.
 */
#include "core/core.h"

#include <stdio.h>
#include <time.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t core_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t core_mono_ms(void)
{
    return core_mono_ns() / 1000000;
}

int64_t core_wall_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000;
}

int64_t core_wall_us(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000;
}

void core_format_iso8601_ms(int64_t wall_ms, char *out, size_t out_len)
{
    if (out == NULL || out_len == 0)
        return;
    /* Floor division so times before 1970 keep a non-negative ms field. */
    int64_t sec = wall_ms / 1000;
    int64_t ms = wall_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(out, out_len, "invalid-time");
        return;
    }
    snprintf(out, out_len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
}

/*
 * logging.c - diagnostics to stderr, one line per call:
 *   2026-11-22T04:36:11.123Z WARN  seglog: orders-0: cut torn tail at byte 4096
 *
 * Invariants: a line is formatted into a stack buffer (truncated, never
 * overflowing, always ending in '\n') and handed to a single write(2), so
 * lines from different threads never interleave. The level starts at INFO,
 * or STRATA_LOG_LEVEL if that parses, read exactly once.
 *
 * Threading: the level is a relaxed atomic; the one-time environment read
 * runs under pthread_once. Every function is thread-safe.
 */
#include "core/core.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static atomic_int log_level = CORE_LOG_INFO;
static pthread_once_t log_env_once = PTHREAD_ONCE_INIT;

static const char *const level_names[] = {
    [CORE_LOG_DEBUG] = "debug", [CORE_LOG_INFO] = "info", [CORE_LOG_WARN] = "warn",
    [CORE_LOG_ERROR] = "error", [CORE_LOG_OFF] = "off",
};
static const char *const level_labels[] = {
    [CORE_LOG_DEBUG] = "DEBUG", [CORE_LOG_INFO] = "INFO", [CORE_LOG_WARN] = "WARN",
    [CORE_LOG_ERROR] = "ERROR", [CORE_LOG_OFF] = "OFF",
};

static void log_read_env(void)
{
    const char *s = getenv("STRATA_LOG_LEVEL");
    core_log_level_t lvl;
    if (s != NULL && core_log_parse_level(s, &lvl) == CORE_OK)
        atomic_store_explicit(&log_level, (int)lvl, memory_order_relaxed);
}

void core_log_set_level(core_log_level_t level)
{
    /* Read the environment first so it cannot later override this call. */
    pthread_once(&log_env_once, log_read_env);
    if ((unsigned)level > CORE_LOG_OFF)
        level = CORE_LOG_OFF;
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

core_log_level_t core_log_get_level(void)
{
    pthread_once(&log_env_once, log_read_env);
    return (core_log_level_t)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int core_log_parse_level(const char *s, core_log_level_t *out)
{
    if (s == NULL)
        return CORE_EINVAL;
    for (size_t i = 0; i < CORE_ARRAY_LEN(level_names); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (core_log_level_t)i;
            return CORE_OK;
        }
    }
    return CORE_EINVAL;
}

/* Writes the whole line with one write(2); retries only on EINTR. */
static void log_emit(const char *line, size_t len)
{
    ssize_t r;
    do {
        r = write(STDERR_FILENO, line, len);
    } while (r < 0 && errno == EINTR);
}

void core_log(core_log_level_t level, const char *subsystem, const char *fmt, ...)
{
    if ((unsigned)level >= CORE_LOG_OFF || (int)level < (int)core_log_get_level())
        return;
    int saved = errno; /* logging must not disturb the caller's errno */
    char line[LOG_LINE_MAX];
    char ts[32];
    core_format_iso8601_ms(core_wall_ms(), ts, sizeof(ts));
    int h = snprintf(line, sizeof(line), "%s %-5s %s: ", ts, level_labels[level],
                     subsystem ? subsystem : "-");
    size_t len = h < 0 ? 0 : CORE_MIN((size_t)h, sizeof(line) - 1);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (m > 0 && len + (size_t)m > sizeof(line) - 2) {
        /* Truncated: mark it so a reader knows the line was cut. */
        len = sizeof(line) - 2;
        memcpy(line + len - 3, "...", 3);
    } else if (m > 0) {
        len += (size_t)m;
    }
    line[len++] = '\n';
    log_emit(line, len);
    errno = saved;
}

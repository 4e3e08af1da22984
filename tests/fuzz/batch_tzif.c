/*
 * tests/fuzz/batch_tzif.c - libFuzzer target for the TZif decoder: the
 * input becomes a zone file under a private $TZDIR, is loaded with
 * batch_tz_load(), and, when it loads, is queried with consistency oracles.
 *
 * Per input:
 *   1. loading returns 0, or CORE_ECORRUPT / CORE_EUNSUPP / CORE_ENOMEM
 *      with *out left NULL and a detail that names the file;
 *   2. a loaded zone answers every probe instant (fixed ones, and eight
 *      taken from the input) with an offset in [-89999, 93599], and
 *      batch_tz_local() agrees with it: its fields are in range, its offset
 *      is the same, and its date and time are exactly instant + offset;
 *   3. batch_cron_next() on the zone, for a few schedules and starts,
 *      returns INT64_MAX or an instant in (after, after + 1830 days], and
 *      asking again from one second before that instant gives it again.
 * A broken oracle calls abort(), which is what the fuzzer reports.
 *
 * The temporary folder is made once per process (on /dev/shm when it
 * exists), the file is rewritten for each input, and both are removed at
 * exit (a crash leaves them behind).
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "batch/batch.h"
#include "core/core.h"
#include "schema/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HORIZON (5LL * 366 * 86400)

static char dir[64];
static char path[128];

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* Removes the file and the folder when the process exits normally. */
static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
}

static void setup(void)
{
    if (dir[0])
        return;
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(dir), "%s/strata-fuzz-tz-XXXXXX", base);
    check(mkdtemp(dir) != NULL);
    check(setenv("TZDIR", dir, 1) == 0);
    snprintf(path, sizeof(path), "%s/Fz", dir);
    atexit(cleanup);
}

static void check_instant(const batch_tz_t *tz, int64_t t)
{
    int32_t off = batch_tz_offset(tz, t);
    check(off >= -89999 && off <= 93599);
    batch_local_t l;
    batch_tz_local(tz, t, &l);
    check(l.offset == off || t > (1LL << 53) || t < -(1LL << 53));
    check(l.month >= 1 && l.month <= 12 && l.day >= 1 && l.day <= 31);
    check(l.hour >= 0 && l.hour <= 23 && l.minute >= 0 && l.minute <= 59);
    check(l.second >= 0 && l.second <= 59 && l.wday >= 0 && l.wday <= 6);
    if (t > (1LL << 53) || t < -(1LL << 53))
        return;
    int64_t days = schema_days_from_civil(l.year, l.month, l.day);
    check(days * 86400 + l.hour * 3600 + l.minute * 60 + l.second == t + off);
    check((days % 7 + 11) % 7 == l.wday);
}

static void check_cron(const batch_tz_t *tz)
{
    static const char *const schedules[] = {"*/15 * * * *", "30 2 * * *", "0 0 29 2 *",
                                            "45 1 * * 0"};
    static const int64_t starts[] = {-2000000000LL, 0, 1774744200, 1792888200, 4000000000LL};
    for (size_t i = 0; i < CORE_ARRAY_LEN(schedules); i++) {
        batch_cron_t c;
        check(batch_cron_parse(schedules[i], &c, NULL, 0) == 0);
        for (size_t k = 0; k < CORE_ARRAY_LEN(starts); k++) {
            int64_t r = batch_cron_next(&c, tz, starts[k]);
            if (r == INT64_MAX)
                continue;
            check(r > starts[k] && r <= starts[k] + HORIZON);
            check(batch_cron_next(&c, tz, r - 1) == r);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(data, 1, size, f) == size);
    check(fclose(f) == 0);

    batch_tz_t *tz = (batch_tz_t *)&dir;
    int rc = batch_tz_load("Fz", &tz);
    if (rc != 0) {
        check(rc == CORE_ECORRUPT || rc == CORE_EUNSUPP || rc == CORE_ENOMEM);
        check(tz == NULL);
        check(strstr(core_error_detail(), path) != NULL);
        return 0;
    }
    static const int64_t fixed[] = {INT64_MIN,  -(1LL << 40), -2208988800LL, -1,        0,
                                    1774746000, 2147483647,   4102444800LL,  1LL << 40, INT64_MAX};
    for (size_t i = 0; i < CORE_ARRAY_LEN(fixed); i++)
        check_instant(tz, fixed[i]);
    for (size_t i = 0; i + 8 <= size && i < 64; i += 8)
        check_instant(tz, (int64_t)core_load_be64(data + size - 8 - i));
    check_cron(tz);
    batch_tz_destroy(tz);
    return 0;
}

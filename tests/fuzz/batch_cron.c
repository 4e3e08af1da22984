/*
 * tests/fuzz/batch_cron.c - libFuzzer target for cron schedules: arbitrary
 * text is parsed and, when it parses, searched for next runs with
 * consistency oracles.
 *
 * For each input (treated as text; a NUL byte ends it):
 *   1. batch_cron_parse() returns 0 or CORE_EINVAL; on error the message
 *      starts "cron: ", fits the buffer, and equals the thread's detail;
 *   2. a parsed schedule has every field non-empty and no bit outside its
 *      field's range;
 *   3. in UTC, batch_cron_next() returns INT64_MAX or an instant in
 *      (after, after + 1830 days] that falls on a whole minute whose
 *      fields match the schedule (Vixie day rule); and asking again from
 *      one second before it gives it again;
 *   4. in Europe/Berlin and Australia/Lord_Howe (when the system tz
 *      database has them), the same range and repeat oracles hold.
 * Any broken oracle calls abort(), which is what the fuzzer reports.
 *
 * Invariants: the zones are loaded once and kept (reachable, not a leak).
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "batch/batch.h"
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEXT 2048
#define HORIZON  (5LL * 366 * 86400)

static batch_tz_t *zones[3];
static size_t nzones;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void setup(void)
{
    if (nzones)
        return;
    const char *names[] = {"UTC", "Europe/Berlin", "Australia/Lord_Howe"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(names); i++)
        if (batch_tz_load(names[i], &zones[nzones]) == 0)
            nzones++;
    check(nzones >= 1);
}

static bool matches(const batch_cron_t *c, const batch_local_t *l)
{
    if (!(c->minutes >> l->minute & 1) || !(c->hours >> l->hour & 1) ||
        !(c->months >> l->month & 1))
        return false;
    bool dom = c->mdays >> l->day & 1, dow = c->wdays >> l->wday & 1;
    return c->mday_any || c->wday_any ? dom && dow : dom || dow;
}

static void check_schedule(const batch_cron_t *c)
{
    check(c->minutes && !(c->minutes >> 60));
    check(c->hours && !(c->hours >> 24));
    check(c->mdays && !(c->mdays & 1));
    check(c->months && !(c->months & 1) && !(c->months >> 13));
    check(c->wdays && !(c->wdays >> 7));
    static const int64_t starts[] = {-4000000000LL, -1, 0, 1774744200, 1792888200, 3812875200LL};
    for (size_t z = 0; z < nzones; z++) {
        for (size_t k = 0; k < CORE_ARRAY_LEN(starts); k++) {
            int64_t r = batch_cron_next(c, zones[z], starts[k]);
            if (r == INT64_MAX)
                continue;
            check(r > starts[k] && r <= starts[k] + HORIZON);
            check(batch_cron_next(c, zones[z], r - 1) == r);
            if (z == 0) { /* UTC: no daylight saving, so r itself matches */
                batch_local_t l;
                batch_tz_local(zones[0], r, &l);
                check(l.second == 0 && matches(c, &l));
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    char text[MAX_TEXT + 1];
    size_t n = size < MAX_TEXT ? size : MAX_TEXT;
    memcpy(text, data, n);
    text[n] = '\0';

    batch_cron_t c;
    char err[128];
    memset(err, 'x', sizeof(err));
    int rc = batch_cron_parse(text, &c, err, sizeof(err));
    if (rc != 0) {
        check(rc == CORE_EINVAL);
        check(memchr(err, '\0', sizeof(err)) != NULL);
        check(strncmp(err, "cron: ", 6) == 0);
        check(strncmp(err, core_error_detail(), strlen(err)) == 0);
        return 0;
    }
    check_schedule(&c);
    return 0;
}

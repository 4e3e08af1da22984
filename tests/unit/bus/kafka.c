/*
 * The Kafka bus (src/bus/kafka.c, kafka_group.c) against a real broker:
 * strata's own, started as a second process (`strata broker --listen
 * 127.0.0.1:0`) in a temporary data folder with topics created beforehand,
 * and stopped (SIGTERM, then waited for) when the tests end.
 *
 * Covers: partitions, offsets, offset_for_time, produce (base offsets,
 * keys landing in bus_partition_for_key's partition, null keys and values),
 * readers (from an offset, at the end with a timeout, unknown topics),
 * property passthrough errors, and consumer groups (assignment, an eager
 * rebalance to a second member, the survivor taking everything back).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus/bus.h"

#define WAIT_POLLS 600 /* group polls of 100 ms: a liveness bound, not a timing */

static char data_dir[256];
static char bootstrap[64];
static pid_t broker_pid = -1;

static int run(const char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int create_topic(const char *name, const char *partitions)
{
    const char *argv[] = {STRATA_BIN,     "topics",   "create",  name,
                          "--partitions", partitions, "--flush", "never",
                          "--data",       data_dir,   NULL};
    return run(argv);
}

/* Starts the broker and reads its port from "strata broker listening on
 * 127.0.0.1:PORT". */
static int start_broker(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    broker_pid = fork();
    if (broker_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], 1);
        close(fds[0]);
        execl(STRATA_BIN, STRATA_BIN, "broker", "--listen", "127.0.0.1:0", "--no-auto-create",
              "--data", data_dir, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256];
    int port = 0;
    while (port == 0 && f != NULL && fgets(line, sizeof line, f) != NULL)
        sscanf(line, "strata broker listening on 127.0.0.1:%d", &port);
    if (f != NULL)
        fclose(f);
    if (port <= 0)
        return -1;
    snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", port);
    return 0;
}

static int setup_all(void **state)
{
    (void)state;
    snprintf(data_dir, sizeof data_dir, "%s/strata-bus-kafka.XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(data_dir) == NULL)
        return -1;
    if (create_topic("keyed", "4") != 0 || create_topic("times", "1") != 0 ||
        create_topic("grouped", "4") != 0 || create_topic("waits", "1") != 0)
        return -1;
    return start_broker();
}

static int teardown_all(void **state)
{
    (void)state;
    if (broker_pid > 0) {
        kill(broker_pid, SIGTERM);
        waitpid(broker_pid, NULL, 0);
    }
    const char *argv[] = {"/bin/rm", "-rf", data_dir, NULL};
    run(argv);
    return 0;
}

static bus_t *open_bus(void)
{
    bus_t *b = NULL;
    assert_int_equal(bus_open_kafka(bootstrap, NULL, 0, &b), 0);
    assert_true(bus_is_external(b));
    return b;
}

/* Reads partition p from `from` until `want` records came. */
static size_t read_all(bus_t *b, const char *topic, int32_t p, int64_t from, bus_record_t *out,
                       char (*vals)[32], size_t want)
{
    bus_reader_t *r = NULL;
    assert_int_equal(bus_reader_open(b, topic, p, from, &r), 0);
    size_t got = 0;
    bus_record_t recs[64];
    for (int i = 0; i < 200 && got < want; i++) {
        size_t n = 0;
        assert_int_equal(bus_reader_poll(r, recs, 64, &n, 100), 0);
        for (size_t j = 0; j < n && got < want; j++, got++) {
            out[got] = recs[j];
            size_t len = recs[j].value_len < 31 ? recs[j].value_len : 31;
            if (recs[j].value != NULL)
                memcpy(vals[got], recs[j].value, len);
            vals[got][recs[j].value != NULL ? len : 0] = '\0';
            out[got].key = NULL; /* borrowed until the next poll */
            out[got].value = NULL;
        }
    }
    assert_int_equal(bus_reader_position(r), from + (int64_t)got);
    bus_reader_close(r);
    return got;
}

static void test_keys_land_where_strata_puts_them(void **state)
{
    (void)state;
    bus_t *b = open_bus();
    int32_t parts = 0;
    assert_int_equal(bus_partitions(b, "keyed", &parts), 0);
    assert_int_equal(parts, 4);
    int64_t count[4] = {0};
    for (int i = 0; i < 40; i++) {
        char key[16], val[32];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "v%d", i);
        bus_message_t m = {key, strlen(key), val, strlen(val), 1000 + i};
        int32_t p = bus_partition_for_key(key, strlen(key), 4);
        int64_t base = -1;
        assert_int_equal(bus_produce(b, "keyed", -1, &m, 1, true, &base), 0);
        assert_int_equal(base, count[p]); /* it went to p, at p's next offset */
        count[p]++;
    }
    for (int32_t p = 0; p < 4; p++) {
        int64_t start = -1, end = -1;
        assert_int_equal(bus_offsets(b, "keyed", p, &start, &end), 0);
        assert_int_equal(start, 0);
        assert_int_equal(end, count[p]);
        bus_record_t recs[40];
        char vals[40][32];
        assert_int_equal(read_all(b, "keyed", p, 0, recs, vals, (size_t)count[p]), count[p]);
        for (int64_t i = 0; i < count[p]; i++) {
            assert_int_equal(recs[i].offset, i);
            assert_int_equal(recs[i].partition, p);
            int v = (int)strtol(vals[i] + 1, NULL, 10);
            char key[16];
            snprintf(key, sizeof key, "k%d", v);
            assert_int_equal(bus_partition_for_key(key, strlen(key), 4), p);
            assert_int_equal(recs[i].timestamp_ms, 1000 + v);
        }
    }
    bus_close(b);
}

static void test_batch_base_and_null_fields(void **state)
{
    (void)state;
    bus_t *b = open_bus();
    bus_message_t msgs[3] = {
        {"a", 1, "one", 3, 5000},
        {"a", 1, NULL, 0, 6000}, /* a tombstone */
        {"a", 1, "three", 5, 7000},
    };
    int64_t start, end, base = -1;
    assert_int_equal(bus_offsets(b, "times", 0, &start, &end), 0);
    assert_int_equal(bus_produce(b, "times", 0, msgs, 3, false, &base), 0);
    assert_int_equal(base, end);
    bus_message_t nokey = {NULL, 0, "four", 4, 8000};
    assert_int_equal(bus_produce(b, "times", 0, &nokey, 1, true, &base), 0);
    assert_int_equal(base, end + 3);

    bus_reader_t *r = NULL;
    assert_int_equal(bus_reader_open(b, "times", 0, end + 1, &r), 0);
    bus_record_t recs[8];
    size_t got = 0, n = 0;
    bool null_value = false, null_key = false;
    for (int i = 0; i < 100 && got < 3; i++) {
        assert_int_equal(bus_reader_poll(r, recs, 8, &n, 100), 0);
        for (size_t j = 0; j < n; j++, got++) {
            assert_int_equal(recs[j].offset, end + 1 + (int64_t)got);
            if (recs[j].offset == end + 1)
                null_value = recs[j].value == NULL;
            if (recs[j].offset == end + 3)
                null_key = recs[j].key == NULL && recs[j].value_len == 4;
        }
    }
    assert_int_equal(got, 3);
    assert_true(null_value);
    assert_true(null_key);
    bus_reader_close(r);

    int64_t off = -1;
    assert_int_equal(bus_offset_for_time(b, "times", 0, 6500, &off), 0);
    assert_int_equal(off, end + 2);
    assert_int_equal(bus_offset_for_time(b, "times", 0, 0, &off), 0);
    assert_int_equal(off, 0);
    assert_int_equal(bus_offset_for_time(b, "times", 0, 99999999, &off), 0);
    assert_int_equal(off, end + 4);
    bus_close(b);
}

static void test_reader_waits_at_the_end(void **state)
{
    (void)state;
    bus_t *b = open_bus();
    bus_reader_t *r = NULL;
    int64_t start, end;
    assert_int_equal(bus_offsets(b, "waits", 0, &start, &end), 0);
    assert_int_equal(bus_reader_open(b, "waits", 0, end, &r), 0);
    bus_record_t recs[4];
    size_t n = 1;
    assert_int_equal(bus_reader_poll(r, recs, 4, &n, 200), 0);
    assert_int_equal(n, 0);
    uint64_t gen = bus_generation(b);
    bus_message_t m = {"k", 1, "late", 4, -1};
    assert_int_equal(bus_produce(b, "waits", 0, &m, 1, true, NULL), 0);
    size_t got = 0;
    for (int i = 0; i < 100 && got == 0; i++) {
        assert_int_equal(bus_reader_poll(r, recs, 4, &n, 100), 0);
        got += n;
    }
    assert_int_equal(got, 1);
    assert_int_equal(recs[0].offset, end);
    assert_memory_equal(recs[0].value, "late", 4);
    assert_true(bus_generation(b) != gen); /* the reader's queue woke the bus */
    assert_int_equal(bus_reader_end(r), end + 1);
    bus_reader_close(r);
    bus_close(b);
}

static void test_unknown_topic_and_bad_property(void **state)
{
    (void)state;
    bus_t *b = open_bus();
    int32_t parts = 0;
    assert_int_equal(bus_partitions(b, "no_such_topic", &parts), CORE_ENOENT);
    bus_message_t m = {"k", 1, "v", 1, -1};
    assert_int_equal(bus_produce(b, "no_such_topic", -1, &m, 1, true, NULL), CORE_ENOENT);
    assert_int_equal(bus_produce(b, "keyed", 7, &m, 1, true, NULL), CORE_ENOENT);
    bus_group_t *g = NULL;
    bus_group_callbacks_t cb = {0};
    bus_close(b);

    const char *bad[] = {"no.such.property=1"};
    assert_int_equal(bus_open_kafka(bootstrap, bad, 1, &b), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "no.such.property"));
    const char *coop[] = {"partition.assignment.strategy=cooperative-sticky"};
    assert_int_equal(bus_open_kafka(bootstrap, coop, 1, &b), 0);
    assert_int_equal(bus_group_open(b, "grouped", "strata.test.coop", &cb, &g), CORE_EINVAL);
    bus_close(b);
}

/* ---- Groups. */

typedef struct {
    bool mine[4];
    int assigns, revokes;
} member_t;

static int on_assigned(void *arg, const int32_t *ps, size_t n)
{
    member_t *m = arg;
    m->assigns++;
    for (size_t i = 0; i < n; i++)
        m->mine[ps[i]] = true;
    return 0;
}

static int on_revoked(void *arg, const int32_t *ps, size_t n)
{
    member_t *m = arg;
    m->revokes++;
    for (size_t i = 0; i < n; i++)
        m->mine[ps[i]] = false;
    return 0;
}

static int owned(const member_t *m)
{
    int n = 0;
    for (int i = 0; i < 4; i++)
        n += m->mine[i];
    return n;
}

static void test_group_shares_partitions(void **state)
{
    (void)state;
    const char *props[] = {"session.timeout.ms=6000", "heartbeat.interval.ms=500"};
    bus_t *b = NULL;
    assert_int_equal(bus_open_kafka(bootstrap, props, 2, &b), 0);
    member_t a = {0}, c = {0};
    bus_group_callbacks_t cba = {on_assigned, on_revoked, &a}, cbc = {on_assigned, on_revoked, &c};
    bus_group_t *ga = NULL, *gc = NULL;
    assert_int_equal(bus_group_open(b, "grouped", "strata.test.share", &cba, &ga), 0);
    for (int i = 0; i < WAIT_POLLS && owned(&a) < 4; i++)
        assert_int_equal(bus_group_poll(ga, 100), 0);
    assert_int_equal(owned(&a), 4);

    /* A second member: a's partitions are revoked, then shared 2 + 2. */
    assert_int_equal(bus_group_open(b, "grouped", "strata.test.share", &cbc, &gc), 0);
    for (int i = 0; i < WAIT_POLLS && (owned(&c) == 0 || owned(&a) + owned(&c) != 4); i++) {
        assert_int_equal(bus_group_poll(ga, 50), 0);
        assert_int_equal(bus_group_poll(gc, 50), 0);
    }
    assert_true(a.revokes >= 1);
    assert_int_equal(owned(&a), 2);
    assert_int_equal(owned(&c), 2);
    for (int p = 0; p < 4; p++)
        assert_true(a.mine[p] != c.mine[p]);
    bus_group_commit(ga, 0, 1);

    /* c leaves: its partitions are revoked, and a gets all four back. */
    bus_group_close(gc);
    assert_int_equal(owned(&c), 0);
    for (int i = 0; i < WAIT_POLLS && owned(&a) < 4; i++)
        assert_int_equal(bus_group_poll(ga, 100), 0);
    assert_int_equal(owned(&a), 4);
    bus_group_close(ga);
    assert_int_equal(owned(&a), 0);
    bus_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_land_where_strata_puts_them),
        cmocka_unit_test(test_batch_base_and_null_fields),
        cmocka_unit_test(test_reader_waits_at_the_end),
        cmocka_unit_test(test_unknown_topic_and_bad_property),
        cmocka_unit_test(test_group_shares_partitions),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}

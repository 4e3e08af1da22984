/*
 * Fuzz target for the Parquet reader (src/lake/reader.c, reader_page.c,
 * thrift_read.c). The input is a file: it is written to $TMPDIR (or /tmp)
 * under a per-process name, opened with small caps, and everything the
 * reader offers is exercised: columns, metadata, statistics of every chunk,
 * and every row group loaded and every value read.
 *
 * Properties checked (abort on violation):
 *   - open and load return 0 or one of CORE_ECORRUPT, CORE_EUNSUPP,
 *     CORE_ETOOBIG, CORE_ERANGE (never an I/O error on a readable file,
 *     never CORE_ENOMEM within the caps), and a failure names the file;
 *   - after a successful load every row's values have the column's type or
 *     are null, and strings are valid UTF-8 within max_value_bytes;
 *   - row groups' rows sum to the file's rows;
 *   - the sanitizers see no bad access and nothing leaks.
 *
 * Seeds (tests/fuzz/corpus/lake_reader/) are small files the writer made:
 * every type with nulls, each codec, dictionary and its fallback, several
 * row groups, zero rows. Threading: single-threaded.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "lake/lake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc)
{
    fprintf(stderr, "lake_reader fuzz: %s (%d: %s)\n", what, rc, core_error_detail());
    abort();
}

static bool expected_error(int rc)
{
    return rc == CORE_ECORRUPT || rc == CORE_EUNSUPP || rc == CORE_ETOOBIG || rc == CORE_ERANGE;
}

static void check_value(const lake_column_t *c, const schema_value_t *v, size_t max_value)
{
    static const schema_type_t want[] = {
        [LAKE_COL_BOOL] = SCHEMA_BOOL,           [LAKE_COL_INT64] = SCHEMA_INT,
        [LAKE_COL_DOUBLE] = SCHEMA_FLOAT,        [LAKE_COL_STRING] = SCHEMA_STRING,
        [LAKE_COL_TIMESTAMP] = SCHEMA_TIMESTAMP,
    };
    if (v->type == SCHEMA_NULL)
        return;
    if (v->type != want[c->type])
        fail("a value of another type than its column", 0);
    if (v->type == SCHEMA_STRING &&
        (v->v.s.len > max_value || !core_utf8_valid(v->v.s.p, v->v.s.len)))
        fail("a string past the cap or not UTF-8", 0);
}

static void exercise(lake_reader_t *r, const lake_read_limits_t *lim)
{
    size_t ncols = lake_reader_ncolumns(r);
    (void)lake_reader_meta(r, "strata.topic");
    int64_t sum = 0;
    for (size_t g = 0; g < lake_reader_ngroups(r); g++) {
        sum += lake_reader_group_rows(r, g);
        for (size_t c = 0; c < ncols; c++) {
            lake_read_stats_t st;
            if (lake_reader_stats(r, g, c, &st) && st.has_minmax) {
                check_value(lake_reader_column(r, c), &st.min, SIZE_MAX);
                check_value(lake_reader_column(r, c), &st.max, SIZE_MAX);
            }
        }
        int rc = lake_reader_load(r, g, NULL);
        if (rc != 0) {
            if (!expected_error(rc))
                fail("load: unexpected error", rc);
            if (strstr(core_error_detail(), lake_reader_path(r)) == NULL)
                fail("load: the detail does not name the file", rc);
            continue;
        }
        for (int64_t row = 0; row < lake_reader_group_rows(r, g); row++)
            for (size_t c = 0; c < ncols; c++) {
                schema_value_t v;
                lake_reader_value(r, c, row, &v);
                check_value(lake_reader_column(r, c), &v, lim->max_value_bytes);
            }
    }
    if (sum != lake_reader_nrows(r))
        fail("row groups do not add up to the file's rows", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/strata-fuzz-lakeread-%d.parquet", tmp ? tmp : "/tmp",
             (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
        fail("cannot write the input file", 0);
    close(fd);

    lake_read_limits_t lim;
    lake_read_limits_default(&lim);
    lim.max_footer_bytes = 1 << 20;
    lim.max_page_bytes = 4 << 20;
    lim.max_page_values = 1 << 16;
    lim.max_value_bytes = 1 << 16;
    lim.max_group_bytes = 16 << 20;
    lim.max_columns = 256;
    lim.max_row_groups = 4096;

    lake_reader_t *r = NULL;
    int rc = lake_reader_open(path, &lim, &r);
    if (rc == 0)
        exercise(r, &lim);
    else if (!expected_error(rc))
        fail("open: unexpected error", rc);
    else if (strstr(core_error_detail(), path) == NULL)
        fail("open: the detail does not name the file", rc);
    lake_reader_close(r);
    unlink(path);
    return 0;
}

/*
 * tmp_file.h - a temporary folder holding one file, `path`
 * (<dir>/t.parquet), for the lake unit tests: setup() creates the folder,
 * teardown() removes the file and the folder. cmocka group fixtures.
 *
 * Header-only (static state and functions); single-threaded.
 */
#ifndef STRATA_TESTS_LAKE_TMP_FILE_H
#define STRATA_TESTS_LAKE_TMP_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/strata-lake-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/t.parquet", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

#endif

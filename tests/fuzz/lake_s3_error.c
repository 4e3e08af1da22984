/*
 * Fuzz target for what the S3 uploader decodes from outside: the error
 * document of a refused request (lake_s3_error_text, src/lake/s3.c) and a
 * line of its journal (lake_s3_journal_line, src/lake/s3_upload.c).
 *
 * The first input byte picks the output capacity (1..256); the rest is the
 * body, and each of its lines is also parsed as a journal line.
 *
 * Properties checked (abort on violation): the text is NUL-terminated
 * within the capacity and holds printable ASCII only; a journal line that
 * parses has its name inside the line, 1 to 4095 bytes, not starting with
 * '/', without "..", and non-negative numbers. ASan catches reads past the
 * input (the body is copied to an exact-size heap block).
 *
 * Threading: single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lake/lake_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *body, size_t n, size_t cap)
{
    char out[257];
    memset(out, 'x', sizeof out);
    lake_s3_error_text(body, n, out, cap);
    size_t len = strnlen(out, cap);
    if (len >= cap)
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
            abort();
}

static void check_lines(const char *body, size_t n)
{
    for (size_t at = 0; at <= n;) {
        const char *nl = memchr(body + at, '\n', n - at);
        size_t end = nl != NULL ? (size_t)(nl - body) : n;
        int64_t size, mtime;
        const char *name;
        size_t nlen;
        if (lake_s3_journal_line(body + at, end - at, &size, &mtime, &name, &nlen)) {
            if (size < 0 || mtime < 0 || nlen == 0 || nlen >= 4096 || name < body + at ||
                name + nlen > body + end || name[0] == '/')
                abort();
            for (size_t i = 0; i + 1 < nlen; i++)
                if (name[i] == '.' && name[i + 1] == '.')
                    abort();
        }
        at = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t cap = (size_t)data[0] + 1;
    size_t n = size - 1;
    char *body = core_alloc(CORE_MEM_TEST, n > 0 ? n : 1);
    if (body == NULL)
        return 0;
    if (n > 0)
        memcpy(body, data + 1, n);
    check_text(body, n, cap);
    check_text(body, n, 256);
    check_lines(body, n);
    core_free(body);
    return 0;
}

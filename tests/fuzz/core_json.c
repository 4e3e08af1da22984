/*
 * tests/fuzz/core_json.c - libFuzzer target for the JSON scanner, with
 * consistency oracles between its entry points.
 *
 * For each input:
 *   1. core_json_validate() with the default depth cap;
 *   2. core_json_parse() must agree with it, and on success yield a root
 *      spanning a sub-range of the input;
 *   3. every container is walked recursively with the iterators (child
 *      iterators, so depth and offsets are the document's), every string
 *      decoded (the result must be valid UTF-8 and no longer than the raw
 *      text), every string compared to itself with core_json_string_eq,
 *      every number converted (to_i64 only fails with CORE_ERANGE on
 *      integers; to_double only with CORE_ERANGE);
 *   4. when the root is a container, the one-pass iterator walk must
 *      succeed exactly when validate does, and fail at the same offset;
 *   5. every object's members are found again with core_json_find;
 *   6. core_json_object_members() (the one-call hot path for small
 *      objects) agrees with the object iterator over the same bytes and
 *      depth cap: the same members, the same failure at the same offset
 *      with the same reason, CORE_ETOOBIG past its capacity.
 * Any broken oracle calls abort(), which is what the fuzzer reports.
 *
 * Invariants: every buffer is finalised before returning (LeakSanitizer).
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_scalar(const core_json_value_t *v, core_buf_t *scratch)
{
    if (v->type == CORE_JSON_STRING) {
        core_buf_reset(scratch);
        check(core_json_string_decode(v, scratch) == 0);
        check(scratch->len <= v->len);
        check(core_utf8_valid(scratch->data, scratch->len));
        check(core_json_string_eq(v, (const char *)scratch->data, scratch->len));
        check(v->escaped || (scratch->len == v->len));
    } else if (v->type == CORE_JSON_NUMBER) {
        int64_t i;
        double d;
        int rc = core_json_to_i64(v, &i);
        check(v->integer ? rc == 0 || rc == CORE_ERANGE : rc == CORE_EINVAL);
        rc = core_json_to_double(v, &d);
        check(rc == 0 || rc == CORE_ERANGE);
    }
}

/* Walks the container `v` of parent's document; returns the iteration's
 * final code (0 when every member scanned). */
static int walk(const core_json_iter_t *parent, const core_json_value_t *v, core_buf_t *scratch);

static int walk_members(core_json_iter_t *it, core_buf_t *scratch)
{
    core_json_value_t k, v, found;
    int rc;
    for (;;) {
        if (it->type == CORE_JSON_OBJECT)
            rc = core_json_object_next(it, &k, &v);
        else
            rc = core_json_array_next(it, &v);
        if (rc <= 0)
            return rc;
        if (it->type == CORE_JSON_OBJECT)
            check_scalar(&k, scratch);
        if (v.type == CORE_JSON_OBJECT || v.type == CORE_JSON_ARRAY)
            check(walk(it, &v, scratch) == 0);
        else
            check_scalar(&v, scratch);
        if (v.type == CORE_JSON_OBJECT) {
            core_json_iter_t inner;
            core_json_value_t ik, iv;
            check(core_json_iter_child(it, &v, &inner) == 0);
            while (core_json_object_next(&inner, &ik, &iv) == 1) {
                core_buf_reset(scratch);
                check(core_json_string_decode(&ik, scratch) == 0);
                check(core_json_find(&v, (const char *)scratch->data, scratch->len, &found) == 0);
                check(core_json_string_eq(&ik, (const char *)scratch->data, scratch->len));
            }
        }
    }
}

static int walk(const core_json_iter_t *parent, const core_json_value_t *v, core_buf_t *scratch)
{
    core_json_iter_t it;
    check(core_json_iter_child(parent, v, &it) == 0);
    return walk_members(&it, scratch);
}

static bool same_value(const core_json_value_t *a, const core_json_value_t *b)
{
    return a->type == b->type && a->p == b->p && a->len == b->len && a->escaped == b->escaped &&
           (a->type != CORE_JSON_NUMBER || a->integer == b->integer);
}

/* Oracle 6: the one-call member scan against the iterator. */
static void check_members(const char *p, size_t size)
{
    enum { CAP = 16 };
    size_t depth = size > 0 ? (size_t)((unsigned char)p[0] % 8) : 0; /* small caps too */
    core_json_member_t m[CAP];
    core_json_error_t e1 = {0}, e2 = {0};
    int n = core_json_object_members(p, size, depth, m, CAP, &e1);
    core_json_iter_t it;
    int rc = core_json_iter_init(&it, p, size, depth, &e2);
    if (rc < 0 || it.type != CORE_JSON_OBJECT) {
        check(n < 0);
        return;
    }
    core_json_value_t k, v;
    int count = 0, r;
    while ((r = core_json_object_next(&it, &k, &v)) == 1) {
        if (count < CAP && n >= 0)
            check(same_value(&k, &m[count].key) && same_value(&v, &m[count].value));
        count++;
    }
    if (r < 0) {
        if (n == CORE_ETOOBIG) {
            check(count >= CAP);
            return;
        }
        check(n == CORE_ECORRUPT);
        check(e1.offset == it.error.offset && strcmp(e1.what, it.error.what) == 0);
        return;
    }
    check(count > CAP ? n == CORE_ETOOBIG : n == count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    core_json_error_t verr = {0}, ierr = {0};
    core_json_value_t root;
    core_buf_t scratch;
    core_buf_init(&scratch, CORE_MEM_TEST, SIZE_MAX);
    int vrc = core_json_validate(p, size, 0, &verr);
    int prc = core_json_parse(p, size, 0, &root, NULL);
    check(vrc == prc && (vrc == 0 || vrc == CORE_ECORRUPT));
    check(vrc != 0 || verr.offset <= size);
    if (prc == 0) {
        check(root.p >= p && root.p + root.len <= p + size);
        if (root.type != CORE_JSON_OBJECT && root.type != CORE_JSON_ARRAY)
            check_scalar(&root, &scratch);
    } else {
        check(verr.offset <= size && verr.what != NULL);
    }
    /* The one-pass walk agrees with validate for container roots. */
    core_json_iter_t it;
    int irc = core_json_iter_init(&it, p, size, 0, &ierr);
    if (irc == 0) {
        irc = walk_members(&it, &scratch);
        ierr = it.error;
        check(irc == vrc);
        if (irc < 0)
            check(ierr.offset == verr.offset && strcmp(ierr.what, verr.what) == 0);
    } else {
        check(prc != 0 || (root.type != CORE_JSON_OBJECT && root.type != CORE_JSON_ARRAY));
    }
    core_buf_fini(&scratch);
    check_members(p, size);
    return 0;
}

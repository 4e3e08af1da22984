/*
 * sigv4.c - AWS Signature Version 4 for the S3 uploader (lake_int.h; docs/
 * lake.md, "Uploading to S3"), written from AWS's description of the
 * algorithm:
 *
 *   canonical request = METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n PAYLOAD
 *   string to sign    = "AWS4-HMAC-SHA256" \n DATE-TIME \n SCOPE \n hex(SHA256(canonical request))
 *   signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" secret, DATE), REGION), SERVICE),
 * "aws4_request") signature         = hex(HMAC(signing key, string to sign))
 *
 * where HEADERS are the signed headers, lower-case names sorted, values
 * trimmed with inner runs of spaces collapsed, each line "name:value\n";
 * SIGNED the names joined by ';'; QUERY the parameters, names and values
 * URI-encoded, sorted, joined by '&'; and URI the path as S3 takes it (each
 * key segment URI-encoded once, the slashes kept).
 *
 * Also HMAC-SHA256 (RFC 2104 over core's SHA-256) and AWS's URI encoding:
 * every byte but A-Z a-z 0-9 - . _ ~ becomes %XX with upper-case hex.
 *
 * Invariants: no secret, signing key or signature is ever put in an error
 * detail; the buffers a caller passes get the canonical request and the
 * string to sign, which hold neither.
 *
 * Threading: pure functions over their arguments; thread-safe.
 */
#include "lake/lake_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HMAC_BLOCK  64
#define SIGV4_ALG   "AWS4-HMAC-SHA256"
#define MAX_HEADERS 32
#define MAX_PARAMS  32
#define LINE_CAP    ((size_t)64 << 10) /* one canonical request, string to sign or header */
#define SECRET_CAP  256
#define SCOPE_CAP   256

void lake_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32])
{
    uint8_t k[HMAC_BLOCK] = {0}, pad[HMAC_BLOCK], inner[32];
    core_sha256_t c;
    if (klen > HMAC_BLOCK) {
        core_sha256_init(&c);
        core_sha256_update(&c, key, klen);
        core_sha256_final(&c, k);
    } else if (klen > 0) {
        memcpy(k, key, klen);
    }
    for (size_t i = 0; i < HMAC_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    core_sha256_init(&c);
    core_sha256_update(&c, pad, sizeof pad);
    core_sha256_update(&c, msg, n);
    core_sha256_final(&c, inner);
    for (size_t i = 0; i < HMAC_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    core_sha256_init(&c);
    core_sha256_update(&c, pad, sizeof pad);
    core_sha256_update(&c, inner, sizeof inner);
    core_sha256_final(&c, out);
    memset(k, 0, sizeof k);
    memset(pad, 0, sizeof pad);
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int lake_uri_encode(core_buf_t *out, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int rc;
        if (unreserved(c) || (keep_slash && c == '/')) {
            rc = core_buf_append_u8(out, c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = core_buf_append(out, esc, sizeof esc);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

void lake_sigv4_date(int64_t unix_s, char out[LAKE_AMZ_DATE_LEN + 1])
{
    struct tm tm;
    time_t t = (time_t)unix_s;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        memset(&tm, 0, sizeof tm); /* not reached for times strata runs at */
    /* The fields are in range; the modulos tell the compiler so. */
    snprintf(out, LAKE_AMZ_DATE_LEN + 1, "%04u%02u%02uT%02u%02u%02uZ",
             (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u);
}

static bool date_valid(const char *d)
{
    if (d == NULL || strlen(d) != LAKE_AMZ_DATE_LEN || d[8] != 'T' || d[15] != 'Z')
        return false;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (d[i] < '0' || d[i] > '9'))
            return false;
    return true;
}

void lake_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                            const char *service, uint8_t out[32])
{
    char k[SECRET_CAP + 5];
    size_t n = strnlen(secret, SECRET_CAP);
    memcpy(k, "AWS4", 4);
    memcpy(k + 4, secret, n);
    uint8_t a[32], b[32];
    lake_hmac_sha256(k, 4 + n, date8, strnlen(date8, 8), a);
    lake_hmac_sha256(a, sizeof a, region, strlen(region), b);
    lake_hmac_sha256(b, sizeof b, service, strlen(service), a);
    lake_hmac_sha256(a, sizeof a, "aws4_request", strlen("aws4_request"), out);
    memset(k, 0, sizeof k);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
}

/* ---- The canonical request. */

typedef struct {
    char name[64]; /* lower case */
    const char *value;
} sorted_header_t;

static int cmp_header(const void *x, const void *y)
{
    return strcmp(((const sorted_header_t *)x)->name, ((const sorted_header_t *)y)->name);
}

/* Header names as tokens: letters, digits and - _ . only (what strata
 * sends), at most 63 bytes; lower-cased into h. */
static int lower_headers(const lake_sigv4_request_t *r, sorted_header_t *h)
{
    if (r->nheaders == 0 || r->nheaders > MAX_HEADERS)
        return core_error(CORE_EINVAL, "sigv4: 1 to %d headers are signed", MAX_HEADERS);
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *n = r->headers[i].name;
        size_t len = n != NULL ? strlen(n) : 0;
        if (len == 0 || len >= sizeof h[i].name || r->headers[i].value == NULL)
            return core_error(CORE_EINVAL, "sigv4: header %zu has no name or value", i);
        for (size_t j = 0; j <= len; j++) {
            char c = n[j];
            if (j < len && !unreserved((unsigned char)c))
                return core_error(CORE_EINVAL, "sigv4: bad header name '%.63s'", n);
            h[i].name[j] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        }
        h[i].value = r->headers[i].value;
    }
    qsort(h, r->nheaders, sizeof *h, cmp_header);
    for (size_t i = 1; i < r->nheaders; i++)
        if (strcmp(h[i - 1].name, h[i].name) == 0)
            return core_error(CORE_EINVAL, "sigv4: header %s given twice", h[i].name);
    return 0;
}

/* A header value as signed: leading and trailing spaces and tabs dropped,
 * inner runs of them written as one space. */
static int append_value(core_buf_t *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    bool space = false;
    int rc = 0;
    for (; rc == 0 && *v != '\0'; v++) {
        if (*v == ' ' || *v == '\t') {
            space = true;
            continue;
        }
        if (space)
            rc = core_buf_append_u8(b, ' ');
        space = false;
        if (rc == 0)
            rc = core_buf_append_u8(b, (uint8_t)*v);
    }
    return rc;
}

typedef struct {
    char *text;   /* "name=value", URI-encoded; owned */
    size_t nname; /* bytes of the encoded name */
} sorted_param_t;

/* By encoded name, then by encoded value. */
static int cmp_param(const void *x, const void *y)
{
    const sorted_param_t *a = x, *b = y;
    int c = memcmp(a->text, b->text, CORE_MIN(a->nname, b->nname));
    if (c != 0 || a->nname != b->nname)
        return c != 0 ? c : (a->nname < b->nname ? -1 : 1);
    return strcmp(a->text + a->nname, b->text + b->nname);
}

/* p->text = "name=value" of one parameter. */
static int encode_param(const lake_sigv4_param_t *in, sorted_param_t *p)
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_LAKE, LINE_CAP);
    const char *v = in->value != NULL ? in->value : "";
    int rc = in->name != NULL && in->name[0] != '\0'
                 ? lake_uri_encode(&b, in->name, strlen(in->name), false)
                 : core_error(CORE_EINVAL, "sigv4: a query parameter has no name");
    p->nname = b.len;
    if (rc == 0)
        rc = core_buf_append_u8(&b, '=');
    if (rc == 0)
        rc = lake_uri_encode(&b, v, strlen(v), false);
    if (rc == 0)
        rc = core_buf_append_u8(&b, '\0');
    p->text = rc == 0 ? (char *)core_buf_take(&b, NULL) : NULL;
    core_buf_fini(&b);
    return rc;
}

int lake_sigv4_query(const lake_sigv4_param_t *params, size_t n, core_buf_t *out)
{
    if (n > MAX_PARAMS)
        return core_error(CORE_EINVAL, "sigv4: at most %d query parameters", MAX_PARAMS);
    sorted_param_t p[MAX_PARAMS];
    size_t made = 0;
    int rc = 0;
    for (; rc == 0 && made < n; made++)
        rc = encode_param(&params[made], &p[made]);
    if (rc == 0)
        qsort(p, n, sizeof *p, cmp_param);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = core_buf_append_u8(out, '&');
        if (rc == 0)
            rc = core_buf_append_str(out, p[i].text);
    }
    for (size_t i = 0; i < made; i++)
        core_free(p[i].text);
    return rc;
}

static int canonical_request(const lake_sigv4_request_t *r, const sorted_header_t *h,
                             core_buf_t *creq, core_buf_t *signed_names)
{
    int rc = core_buf_printf(creq, "%s\n%s\n", r->method, r->path);
    if (rc == 0)
        rc = lake_sigv4_query(r->params, r->nparams, creq);
    if (rc == 0)
        rc = core_buf_append_u8(creq, '\n');
    for (size_t i = 0; rc == 0 && i < r->nheaders; i++) {
        rc = core_buf_printf(creq, "%s:", h[i].name);
        if (rc == 0)
            rc = append_value(creq, h[i].value);
        if (rc == 0)
            rc = core_buf_append_u8(creq, '\n');
        if (rc == 0 && i > 0)
            rc = core_buf_append_u8(signed_names, ';');
        if (rc == 0)
            rc = core_buf_append_str(signed_names, h[i].name);
    }
    if (rc == 0)
        rc = core_buf_append_u8(signed_names, '\0');
    if (rc == 0)
        rc = core_buf_printf(creq, "\n%s\n%s", (const char *)signed_names->data, r->payload_hash);
    return rc;
}

static int check_request(const lake_sigv4_request_t *r)
{
    if (r->method == NULL || r->path == NULL || r->path[0] != '/' || r->payload_hash == NULL ||
        r->region == NULL || r->service == NULL || r->access_key_id == NULL ||
        r->secret_access_key == NULL || r->region[0] == '\0' || r->service[0] == '\0')
        return core_error(CORE_EINVAL, "sigv4: incomplete request");
    if (!date_valid(r->amz_date))
        return core_error(CORE_EINVAL, "sigv4: the date must read YYYYMMDDTHHMMSSZ");
    if (strlen(r->secret_access_key) > SECRET_CAP)
        return core_error(CORE_EINVAL, "sigv4: the secret access key is longer than %d bytes",
                          SECRET_CAP);
    if (strlen(r->region) + strlen(r->service) > SCOPE_CAP / 2 || strchr(r->region, '/') != NULL ||
        strchr(r->service, '/') != NULL)
        return core_error(CORE_EINVAL, "sigv4: bad region or service name");
    return 0;
}

int lake_sigv4_sign(const lake_sigv4_request_t *r, core_buf_t *auth, core_buf_t *creq_out,
                    core_buf_t *sts_out)
{
    int rc = check_request(r);
    sorted_header_t h[MAX_HEADERS];
    if (rc == 0)
        rc = lower_headers(r, h);
    if (rc != 0)
        return rc;
    core_buf_t creq, names, sts;
    core_buf_init(&creq, CORE_MEM_LAKE, LINE_CAP);
    core_buf_init(&names, CORE_MEM_LAKE, LINE_CAP);
    core_buf_init(&sts, CORE_MEM_LAKE, LINE_CAP);
    rc = canonical_request(r, h, &creq, &names);
    uint8_t digest[32], key[32], sig[32];
    char hex[65], scope[SCOPE_CAP], date8[9];
    memcpy(date8, r->amz_date, 8);
    date8[8] = '\0';
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date8, r->region, r->service);
    if (rc == 0) {
        core_sha256_t c;
        core_sha256_init(&c);
        core_sha256_update(&c, creq.data, creq.len);
        core_sha256_final(&c, digest);
        core_sha256_hex(digest, hex);
        rc = core_buf_printf(&sts, "%s\n%s\n%s\n%s", SIGV4_ALG, r->amz_date, scope, hex);
    }
    if (rc == 0) {
        lake_sigv4_signing_key(r->secret_access_key, date8, r->region, r->service, key);
        lake_hmac_sha256(key, sizeof key, sts.data, sts.len, sig);
        core_sha256_hex(sig, hex);
        rc = core_buf_printf(auth, "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s", SIGV4_ALG,
                             r->access_key_id, scope, (const char *)names.data, hex);
        memset(key, 0, sizeof key);
    }
    if (rc == 0 && creq_out != NULL)
        rc = core_buf_append(creq_out, creq.data, creq.len);
    if (rc == 0 && sts_out != NULL)
        rc = core_buf_append(sts_out, sts.data, sts.len);
    core_buf_fini(&creq);
    core_buf_fini(&names);
    core_buf_fini(&sts);
    return rc;
}

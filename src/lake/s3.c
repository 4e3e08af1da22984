/*
 * s3.c - the S3 client of the uploader (lake.h, "Uploading to S3"): one
 * PUT of a whole file per object, over libcurl, signed with SigV4
 * (sigv4.c).
 *
 * A put reads the file twice through one descriptor: first for the
 * payload's SHA-256 (x-amz-content-sha256 is signed, and S3 checks the body
 * against it), then to stream it to curl, so a file never sits in memory.
 * Each attempt is signed afresh (x-amz-date is part of the signature).
 *
 *   attempt -> 2xx                          done
 *           -> network error, timeout, 5xx, 408, 429
 *                                           wait (backoff, doubling, capped)
 *                                           and try again, max_attempts in all
 *           -> any other status (4xx, 3xx)  refused: no retry
 *
 * Invariants: the secret, the session token, the signing key and the
 * Authorization header are never written into an error detail or a log
 * line; details name the endpoint, bucket and key. TLS peers are always
 * verified (curl's defaults). Only http and https are spoken; redirects
 * are not followed (a signed request cannot follow them): S3's
 * PermanentRedirect says the region or endpoint is wrong.
 *
 * Threading: a client is used by one thread at a time, except
 * lake_s3_set_deadline(), which any thread may call (an atomic).
 */
#include "lake/lake.h"
#include "lake/lake_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK      ((size_t)64 << 10)
#define BODY_CAP      8192 /* of an answer: enough for S3's error document */
#define TEXT_CAP      2048 /* a URL, a header */
#define BUCKET_MIN    3
#define BUCKET_MAX    63
#define PREFIX_MAX    512
#define SLICE_MS      100 /* backoff waits check the deadline this often */
#define DEF_CONNECT   10000
#define DEF_STALL     60000
#define DEF_ATTEMPTS  4
#define DEF_BACKOFF   1000
#define DEF_BACKOFF_M 60000
#define DEF_DRAIN     10000

struct lake_s3 {
    char *scheme;    /* "http" or "https" */
    char *authority; /* host[:port] of the endpoint */
    char *endpoint;  /* scheme://authority, for messages */
    char *region, *bucket, *prefix, *key_id, *secret, *token;
    bool path_style;
    int64_t connect_ms, stall_ms, backoff_ms, backoff_max_ms;
    int32_t attempts;
    _Atomic int64_t deadline; /* monotonic ms; INT64_MAX: none */
    CURL *curl;               /* created at the first put; kept for its connections */
};

/* One attempt's state, seen by curl's callbacks. */
typedef struct {
    lake_s3_t *s;
    int fd;
    int64_t size, sent;
    core_buf_t body; /* the answer, capped */
} put_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void lake_s3_config_default(lake_s3_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->region = "us-east-1";
    c->path_style = true;
    c->connect_timeout_ms = DEF_CONNECT;
    c->stall_timeout_ms = DEF_STALL;
    c->max_attempts = DEF_ATTEMPTS;
    c->retry_backoff_ms = DEF_BACKOFF;
    c->retry_backoff_max_ms = DEF_BACKOFF_M;
    c->drain_timeout_ms = DEF_DRAIN;
}

/* ---- Checking the settings. */

/* S3's rule: 3 to 63 of a-z 0-9 . -, starting and ending with a letter or
 * digit, no "..". */
static bool bucket_valid(const char *b)
{
    size_t n = strlen(b);
    if (n < BUCKET_MIN || n > BUCKET_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-')
            return false;
        if ((i == 0 || i == n - 1) && !alnum)
            return false;
        if (c == '.' && b[i + 1] == '.')
            return false;
    }
    return true;
}

static bool printable(const char *s, bool space)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f || (!space && *s == ' '))
            return false;
    return true;
}

/* An endpoint as an error may show it: not at all when it holds '@'
 * (user:password@host would put a secret in the log). */
static const char *shown(const char *e)
{
    return strchr(e, '@') != NULL ? "(not shown: it holds '@')" : e;
}

/* "http(s)://authority[/]": the authority is a host name, an IPv4 address
 * or a bracketed IPv6 one, with an optional port. */
static int split_endpoint(const char *e, const char **auth, size_t *alen, bool *tls)
{
    const char *rest = NULL;
    if (strncmp(e, "https://", 8) == 0) {
        rest = e + 8;
        *tls = true;
    } else if (strncmp(e, "http://", 7) == 0) {
        rest = e + 7;
        *tls = false;
    } else {
        return core_error(CORE_EINVAL,
                          "s3: endpoint '%.200s' must start with http:// or "
                          "https://",
                          shown(e));
    }
    size_t n = strlen(rest);
    if (n > 0 && rest[n - 1] == '/')
        n--;
    if (n == 0 || n > 255)
        return core_error(CORE_EINVAL, "s3: endpoint '%.200s' has no host", shown(e));
    for (size_t i = 0; i < n; i++) {
        char c = rest[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
        if (!ok)
            return core_error(CORE_EINVAL,
                              "s3: endpoint '%.200s': only scheme://host[:port] is taken (no "
                              "path, user or query)",
                              shown(e));
    }
    *auth = rest;
    *alen = n;
    return 0;
}

static int check_config(const lake_s3_config_t *c)
{
    const char *a;
    size_t alen;
    bool tls;
    if (c->endpoint == NULL || c->endpoint[0] == '\0')
        return core_error(CORE_EINVAL, "s3: no endpoint");
    int rc = split_endpoint(c->endpoint, &a, &alen, &tls);
    if (rc != 0)
        return rc;
    if (c->region == NULL || c->region[0] == '\0' || strlen(c->region) > 64 ||
        !printable(c->region, false) || strchr(c->region, '/') != NULL)
        return core_error(CORE_EINVAL, "s3: the region must be 1 to 64 printable characters "
                                       "without '/'");
    if (c->bucket == NULL || !bucket_valid(c->bucket))
        return core_error(CORE_EINVAL,
                          "s3: bucket '%.80s' is not a valid name (3 to 63 of a-z 0-9 . -, "
                          "starting and ending with a letter or digit)",
                          c->bucket != NULL ? c->bucket : "");
    const char *p = c->prefix != NULL ? c->prefix : "";
    size_t pn = strlen(p);
    if (pn > PREFIX_MAX || !printable(p, true) || (pn > 0 && (p[0] == '/' || p[pn - 1] == '/')))
        return core_error(CORE_EINVAL,
                          "s3: the prefix must be at most %d printable characters, "
                          "without a leading or trailing '/'",
                          PREFIX_MAX);
    if (c->access_key_id == NULL || c->access_key_id[0] == '\0' || strlen(c->access_key_id) > 128 ||
        !printable(c->access_key_id, false))
        return core_error(CORE_EINVAL, "s3: no access key id (or not 1 to 128 printable "
                                       "characters)");
    if (c->secret_access_key == NULL || c->secret_access_key[0] == '\0' ||
        strlen(c->secret_access_key) > 256 || !printable(c->secret_access_key, false))
        return core_error(CORE_EINVAL, "s3: no secret access key (or not 1 to 256 printable "
                                       "characters)");
    if (c->session_token != NULL &&
        (strlen(c->session_token) > 4096 || !printable(c->session_token, false)))
        return core_error(CORE_EINVAL, "s3: the session token must be at most 4096 printable "
                                       "characters");
    if (c->connect_timeout_ms < 1 || c->stall_timeout_ms < 1000 || c->max_attempts < 1 ||
        c->max_attempts > 100 || c->retry_backoff_ms < 0 ||
        c->retry_backoff_max_ms < c->retry_backoff_ms || c->drain_timeout_ms < 0)
        return core_error(CORE_EINVAL, "s3: timeouts, attempts (1 to 100) or backoff out of "
                                       "range");
    return 0;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (s == NULL)
        return NULL;
    char *d = core_strdup(CORE_MEM_LAKE, s);
    if (d == NULL)
        *oom = true;
    return d;
}

int lake_s3_create(const lake_s3_config_t *c, lake_s3_t **out)
{
    *out = NULL;
    int rc = check_config(c);
    if (rc != 0)
        return rc;
    const char *a;
    size_t alen;
    bool tls;
    split_endpoint(c->endpoint, &a, &alen, &tls);
    lake_s3_t *s = core_calloc(CORE_MEM_LAKE, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "s3: out of memory");
    bool oom = false;
    s->scheme = dup_or_null(tls ? "https" : "http", &oom);
    s->authority = core_strndup(CORE_MEM_LAKE, a, alen);
    oom = oom || s->authority == NULL;
    s->endpoint = core_strndup(CORE_MEM_LAKE, c->endpoint, (size_t)(a - c->endpoint) + alen);
    oom = oom || s->endpoint == NULL;
    s->region = dup_or_null(c->region, &oom);
    s->bucket = dup_or_null(c->bucket, &oom);
    s->prefix = dup_or_null(c->prefix != NULL ? c->prefix : "", &oom);
    s->key_id = dup_or_null(c->access_key_id, &oom);
    s->secret = dup_or_null(c->secret_access_key, &oom);
    s->token = c->session_token != NULL && c->session_token[0] != '\0'
                   ? dup_or_null(c->session_token, &oom)
                   : NULL;
    s->path_style = c->path_style;
    s->connect_ms = c->connect_timeout_ms;
    s->stall_ms = c->stall_timeout_ms;
    s->attempts = c->max_attempts;
    s->backoff_ms = c->retry_backoff_ms;
    s->backoff_max_ms = c->retry_backoff_max_ms;
    atomic_init(&s->deadline, INT64_MAX);
    if (oom) {
        lake_s3_destroy(s);
        return core_error(CORE_ENOMEM, "s3: out of memory");
    }
    *out = s;
    return 0;
}

static void wipe_free(char *p)
{
    if (p != NULL) {
        volatile char *v = p;
        while (*v != '\0')
            *v++ = '\0';
    }
    core_free(p);
}

void lake_s3_destroy(lake_s3_t *s)
{
    if (s == NULL)
        return;
    if (s->curl != NULL)
        curl_easy_cleanup(s->curl);
    core_free(s->scheme);
    core_free(s->authority);
    core_free(s->endpoint);
    core_free(s->region);
    core_free(s->bucket);
    core_free(s->prefix);
    core_free(s->key_id);
    wipe_free(s->secret);
    wipe_free(s->token);
    core_free(s);
}

void lake_s3_set_deadline(lake_s3_t *s, int64_t mono_ms)
{
    atomic_store(&s->deadline, mono_ms);
}

static bool past_deadline(lake_s3_t *s)
{
    return core_mono_ms() >= atomic_load(&s->deadline);
}

int lake_s3_key(const lake_s3_t *s, const char *topic, const char *name, char *out, size_t cap)
{
    int n = s->prefix[0] != '\0' ? snprintf(out, cap, "%s/%s/%s", s->prefix, topic, name)
                                 : snprintf(out, cap, "%s/%s", topic, name);
    if (n < 0 || (size_t)n >= cap)
        return core_error(CORE_ETOOBIG, "s3: the key of %.200s is too long", name);
    return 0;
}

/* ---- Error answers. */

/* Copies the text between <tag> and </tag> of body[0..n) as printable
 * ASCII, at most max bytes; returns bytes written (0: not found). */
static size_t copy_element(const char *body, size_t n, const char *tag, char *out, size_t max)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = memmem(body, n, open, strlen(open));
    if (a == NULL)
        return 0;
    a += strlen(open);
    size_t left = n - (size_t)(a - body);
    const char *b = memmem(a, left, close, strlen(close));
    size_t len = b != NULL ? (size_t)(b - a) : left;
    size_t w = 0;
    for (size_t i = 0; i < len && w < max; i++) {
        unsigned char c = (unsigned char)a[i];
        out[w++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    return w;
}

void lake_s3_error_text(const char *body, size_t n, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (body == NULL || cap < 4)
        return;
    size_t w = copy_element(body, n, "Code", out, CORE_MIN(cap - 1, (size_t)64));
    if (w + 3 < cap) {
        size_t at = w > 0 ? w + 2 : 0;
        size_t m = copy_element(body, n, "Message", out + at, CORE_MIN(cap - 1 - at, (size_t)300));
        if (m > 0 && w > 0)
            memcpy(out + w, ": ", 2);
        w = m > 0 ? at + m : w;
    }
    out[w] = '\0';
}

/* ---- One attempt. */

static size_t on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    put_t *p = arg;
    size_t want = size * nitems;
    int64_t left = p->size - p->sent;
    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    ssize_t got = pread(p->fd, buf, want, p->sent);
    if (got <= 0)
        return CURL_READFUNC_ABORT; /* the file shrank or failed */
    p->sent += got;
    return (size_t)got;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    put_t *p = arg;
    if (origin != SEEK_SET || offset < 0 || offset > p->size)
        return CURL_SEEKFUNC_CANTSEEK;
    p->sent = offset;
    return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    put_t *p = arg;
    size_t n = size * nmemb;
    size_t room = p->body.max - p->body.len;
    core_buf_append(&p->body, data, CORE_MIN(n, room)); /* the rest is dropped */
    return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    put_t *p = arg;
    return past_deadline(p->s) ? 1 : 0;
}

int lake_s3_target(const lake_s3_t *s, const char *key, core_buf_t *url, core_buf_t *path,
                   core_buf_t *host)
{
    int rc = s->path_style ? core_buf_printf(host, "%s", s->authority)
                           : core_buf_printf(host, "%s.%s", s->bucket, s->authority);
    if (rc == 0)
        rc = s->path_style ? core_buf_printf(path, "/%s/", s->bucket)
                           : core_buf_append_u8(path, '/');
    if (rc == 0)
        rc = lake_uri_encode(path, key, strlen(key), true);
    if (rc == 0)
        rc = core_buf_append_u8(path, '\0');
    if (rc == 0)
        rc = core_buf_printf(url, "%s://%.*s%s", s->scheme, (int)host->len,
                             (const char *)host->data, (const char *)path->data);
    if (rc == 0)
        rc = core_buf_append_u8(url, '\0');
    if (rc == 0)
        rc = core_buf_append_u8(host, '\0');
    return rc;
}

/* The signed headers of one attempt, as curl takes them. */
static int attempt_headers(lake_s3_t *s, const char *hash, const char *host, const char *path,
                           struct curl_slist **out)
{
    char date[LAKE_AMZ_DATE_LEN + 1];
    lake_sigv4_date(core_wall_ms() / 1000, date);
    lake_sigv4_header_t h[4] = {
        {"host", host},
        {"x-amz-content-sha256", hash},
        {"x-amz-date", date},
        {"x-amz-security-token", s->token},
    };
    lake_sigv4_request_t r = {
        .method = "PUT",
        .path = path,
        .headers = h,
        .nheaders = s->token != NULL ? 4 : 3,
        .payload_hash = hash,
        .amz_date = date,
        .region = s->region,
        .service = "s3",
        .access_key_id = s->key_id,
        .secret_access_key = s->secret,
    };
    core_buf_t auth, line;
    core_buf_init(&auth, CORE_MEM_LAKE, TEXT_CAP);
    core_buf_init(&line, CORE_MEM_LAKE, TEXT_CAP + 8192);
    int rc = lake_sigv4_sign(&r, &auth, NULL, NULL);
    if (rc == 0)
        rc = core_buf_append_u8(&auth, '\0');
    struct curl_slist *l = NULL;
    const char *vals[5] = {host, hash, date, (const char *)auth.data, s->token};
    const char *names[5] = {"Host", "x-amz-content-sha256", "x-amz-date", "Authorization",
                            "x-amz-security-token"};
    for (size_t i = 0; rc == 0 && i < (s->token != NULL ? 5u : 4u); i++) {
        core_buf_reset(&line);
        rc = core_buf_printf(&line, "%s: %s", names[i], vals[i]);
        if (rc == 0)
            rc = core_buf_append_u8(&line, '\0');
        struct curl_slist *next = rc == 0 ? curl_slist_append(l, (const char *)line.data) : NULL;
        if (rc == 0 && next == NULL)
            rc = core_error(CORE_ENOMEM, "s3: out of memory");
        if (next != NULL)
            l = next;
    }
    if (line.data != NULL)
        memset(line.data, 0, line.cap); /* held the signature */
    if (auth.data != NULL)
        memset(auth.data, 0, auth.cap);
    core_buf_fini(&auth);
    core_buf_fini(&line);
    if (rc != 0) {
        curl_slist_free_all(l);
        return rc;
    }
    *out = l;
    return 0;
}

typedef enum { PUT_DONE, PUT_RETRY, PUT_REFUSED, PUT_CLOSED } result_t;

static void set_options(lake_s3_t *s, put_t *p, const char *url, struct curl_slist *hdrs,
                        char *errbuf)
{
    CURL *c = s->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)p->size);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, p);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, p);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, p);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_ms);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)CORE_MAX(1, s->stall_ms / 1000));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
}

static result_t perform(lake_s3_t *s, put_t *p, const char *url, struct curl_slist *hdrs, char *why,
                        size_t cap)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    p->sent = 0;
    core_buf_reset(&p->body);
    set_options(s, p, url, hdrs, errbuf);
    CURLcode cc = curl_easy_perform(s->curl);
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_reset(s->curl); /* drops its pointers to errbuf, the headers and p;
                               * keeps the connection */
    if (cc == CURLE_ABORTED_BY_CALLBACK && past_deadline(s)) {
        snprintf(why, cap, "stopped");
        return PUT_CLOSED;
    }
    if (cc != CURLE_OK) {
        snprintf(why, cap, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
        return PUT_RETRY;
    }
    if (status >= 200 && status < 300)
        return PUT_DONE;
    char text[400];
    lake_s3_error_text((const char *)p->body.data, p->body.len, text, sizeof text);
    snprintf(why, cap, "HTTP %ld%s%s", status, text[0] != '\0' ? " " : "", text);
    return status >= 500 || status == 408 || status == 429 ? PUT_RETRY : PUT_REFUSED;
}

/* One PUT. why gets the reason of a failure (no secret in it). */
static result_t attempt(lake_s3_t *s, put_t *p, const char *key, const char *hash, char *why,
                        size_t cap)
{
    core_buf_t url, path, host;
    core_buf_init(&url, CORE_MEM_LAKE, TEXT_CAP * 4);
    core_buf_init(&path, CORE_MEM_LAKE, TEXT_CAP * 4);
    core_buf_init(&host, CORE_MEM_LAKE, TEXT_CAP);
    struct curl_slist *hdrs = NULL;
    result_t res = PUT_REFUSED;
    int rc = lake_s3_target(s, key, &url, &path, &host);
    if (rc == 0)
        rc = attempt_headers(s, hash, (const char *)host.data, (const char *)path.data, &hdrs);
    if (rc != 0)
        snprintf(why, cap, "%s", core_error_detail());
    else
        res = perform(s, p, (const char *)url.data, hdrs, why, cap);
    curl_slist_free_all(hdrs); /* held the signature */
    core_buf_fini(&url);
    core_buf_fini(&path);
    core_buf_fini(&host);
    return res;
}

/* ---- A whole put. */

static int hash_file(int fd, int64_t size, char hex[65], const char *path)
{
    uint8_t *buf = core_alloc(CORE_MEM_LAKE, IO_CHUNK);
    if (buf == NULL)
        return core_error(CORE_ENOMEM, "s3: out of memory");
    core_sha256_t c;
    core_sha256_init(&c);
    int rc = 0;
    for (int64_t off = 0; rc == 0 && off < size;) {
        size_t want = (size_t)CORE_MIN((int64_t)IO_CHUNK, size - off);
        ssize_t got = pread(fd, buf, want, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            rc = core_error(CORE_EIO, "s3: cannot read %s: %s", path,
                            got == 0 ? "it shrank while being read" : strerror(errno));
        if (got > 0) {
            core_sha256_update(&c, buf, (size_t)got);
            off += got;
        }
    }
    core_free(buf);
    uint8_t d[32];
    core_sha256_final(&c, d);
    core_sha256_hex(d, hex);
    return rc;
}

/* Sleeps ms, in slices, until the deadline. false: the deadline came. */
static bool backoff_wait(lake_s3_t *s, int64_t ms)
{
    int64_t until = core_mono_ms() + ms;
    for (;;) {
        if (past_deadline(s))
            return false;
        int64_t left = until - core_mono_ms();
        if (left <= 0)
            return true;
        int64_t slice = CORE_MIN(left, (int64_t)SLICE_MS);
        struct timespec ts = {slice / 1000, (long)(slice % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int open_for_put(const char *path, int *fd, int64_t *size)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    if (*fd < 0)
        return core_error(errno == ENOENT ? CORE_ENOENT : CORE_EIO, "s3: cannot open %s: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(*fd);
        return core_error(CORE_EIO, "s3: %s is not a readable regular file", path);
    }
    *size = st.st_size;
    if (*size > LAKE_S3_MAX_OBJECT) {
        close(*fd);
        return core_error(CORE_ETOOBIG,
                          "s3: %s has %" PRId64 " bytes; one PUT takes at most 5 GiB (roll "
                          "archive files smaller)",
                          path, *size);
    }
    return 0;
}

static int ensure_curl(lake_s3_t *s)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return core_error(CORE_EIO, "s3: libcurl did not initialise: %s",
                          curl_easy_strerror(curl_init_rc));
    if (s->curl == NULL && (s->curl = curl_easy_init()) == NULL)
        return core_error(CORE_ENOMEM, "s3: no curl handle");
    return 0;
}

int lake_s3_put_file(lake_s3_t *s, const char *key, const char *path)
{
    int rc = ensure_curl(s);
    put_t p = {.s = s, .fd = -1};
    int64_t size = 0;
    if (rc == 0)
        rc = open_for_put(path, &p.fd, &size);
    if (rc != 0)
        return rc;
    p.size = size;
    char hash[65], why[600] = "";
    rc = hash_file(p.fd, size, hash, path);
    core_buf_init(&p.body, CORE_MEM_LAKE, BODY_CAP);
    result_t res = PUT_RETRY;
    int64_t wait = s->backoff_ms;
    for (int32_t i = 0; rc == 0 && i < s->attempts; i++) {
        if (i > 0 && !backoff_wait(s, wait)) {
            res = PUT_CLOSED;
            break;
        }
        wait = CORE_MIN(wait * 2, s->backoff_max_ms);
        res = attempt(s, &p, key, hash, why, sizeof why);
        if (res != PUT_RETRY)
            break;
    }
    core_buf_fini(&p.body);
    close(p.fd);
    if (rc != 0 || res == PUT_DONE)
        return rc;
    const char *bucket = s->bucket;
    if (res == PUT_CLOSED)
        return core_error(CORE_ECLOSED, "s3: upload of %s to bucket %s at %s stopped", key, bucket,
                          s->endpoint);
    if (res == PUT_REFUSED)
        return core_error(CORE_EFAILED, "s3: %s refused PUT of %s to bucket %s: %s", s->endpoint,
                          key, bucket, why);
    return core_error(CORE_EIO, "s3: PUT of %s to bucket %s at %s failed %d times, last: %s", key,
                      bucket, s->endpoint, (int)s->attempts, why);
}

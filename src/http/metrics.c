/*
 * metrics.c - the Prometheus text exposition format, version 0.0.4: a
 * writer of metric families (http.h, "Prometheus text exposition format").
 *
 * Output, per family:
 *   # HELP name text          (\\ and \n escaped)
 *   # TYPE name counter|gauge|histogram|summary
 *   name{label="value",...} 42
 * Histograms write NAME_bucket lines with cumulative counts and an "le"
 * label, the +Inf bucket, NAME_sum and NAME_count; summaries only NAME_sum
 * and NAME_count.
 *
 * Invariants: every line the writer emits is complete (a sample that fails
 * half way leaves the sticky error set, and the caller discards the
 * buffer); a family name appears in one # TYPE line at most.
 *
 * Threading: a writer belongs to one thread; nothing here is shared.
 */
#include "http/http.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(http_prom_t *p, int rc)
{
    if (p->rc == 0)
        p->rc = rc;
    return p->rc;
}

int http_prom_init(http_prom_t *p, core_buf_t *out)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->seen = core_map_create(CORE_MEM_HTTP, 64);
    if (p->seen == NULL)
        return fail(p, core_error(CORE_ENOMEM, "prometheus: out of memory"));
    return 0;
}

void http_prom_fini(http_prom_t *p)
{
    core_map_destroy(p->seen);
    p->seen = NULL;
}

int http_prom_finish(const http_prom_t *p)
{
    return p->rc;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metrics (colons allowed), the same without
 * colons for labels; never "__..." (reserved by Prometheus). */
static bool name_valid(const char *s, bool metric)
{
    size_t n = strlen(s);
    if (n == 0 || n >= HTTP_PROM_NAME_MAX || strncmp(s, "__", 2) == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (metric && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const char *type_name(http_prom_type_t t)
{
    switch (t) {
    case HTTP_PROM_COUNTER:
        return "counter";
    case HTTP_PROM_GAUGE:
        return "gauge";
    case HTTP_PROM_HISTOGRAM:
        return "histogram";
    case HTTP_PROM_SUMMARY:
        return "summary";
    }
    return NULL;
}

/* HELP text: backslash and newline escaped; bytes that are not UTF-8
 * replaced as in label values. */
static int put_escaped(core_buf_t *b, const char *s, bool quote);

int http_prom_family(http_prom_t *p, const char *name, http_prom_type_t type, const char *help)
{
    if (p->rc != 0)
        return p->rc;
    const char *tn = type_name(type);
    if (tn == NULL || name == NULL || !name_valid(name, true))
        return fail(p, core_error(CORE_EINVAL, "prometheus: '%s' is not a valid metric name",
                                  name != NULL ? name : "(null)"));
    if (type == HTTP_PROM_COUNTER && !ends_with(name, "_total"))
        return fail(p, core_error(CORE_EINVAL,
                                  "prometheus: counter %s: a counter's name ends in _total", name));
    if (core_map_get(p->seen, name, strlen(name), NULL))
        return fail(p, core_error(CORE_EINVAL, "prometheus: family %s declared twice", name));
    int rc = core_map_put(p->seen, name, strlen(name), NULL, NULL);
    if (rc == 0 && help != NULL) {
        rc = core_buf_printf(p->out, "# HELP %s ", name);
        if (rc == 0)
            rc = put_escaped(p->out, help, false);
        if (rc == 0)
            rc = core_buf_append_u8(p->out, '\n');
    }
    if (rc == 0)
        rc = core_buf_printf(p->out, "# TYPE %s %s\n", name, tn);
    if (rc != 0)
        return fail(p, rc);
    snprintf(p->family, sizeof p->family, "%s", name);
    p->type = type;
    p->open = true;
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || len > n || !core_utf8_valid(s, len))
        return 0;
    return len;
}

static int put_escaped(core_buf_t *b, const char *s, bool quote)
{
    static const char REPLACEMENT[] = "\xEF\xBF\xBD";
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t len = utf8_seq(u + i, n - i);
        if (len == 0) {
            rc = core_buf_append(b, REPLACEMENT, 3);
            i++;
        } else if (u[i] == '\\') {
            rc = core_buf_append(b, "\\\\", 2);
            i++;
        } else if (u[i] == '\n') {
            rc = core_buf_append(b, "\\n", 2);
            i++;
        } else if (quote && u[i] == '"') {
            rc = core_buf_append(b, "\\\"", 2);
            i++;
        } else {
            rc = core_buf_append(b, u + i, len);
            i += len;
        }
    }
    return rc;
}

/* Writes "{a="x",b="y"}" (nothing without labels), with `le` (may be NULL)
 * appended as the last label. */
static int put_labels(http_prom_t *p, const http_prom_label_t *labels, size_t n, const char *le)
{
    if (n > HTTP_PROM_MAX_LABELS || (n > 0 && labels == NULL))
        return core_error(CORE_EINVAL, "prometheus: %s: more than %d labels, or none given",
                          p->family, HTTP_PROM_MAX_LABELS);
    for (size_t i = 0; i < n; i++) {
        const char *ln = labels[i].name;
        if (ln == NULL || !name_valid(ln, false) || strcmp(ln, "le") == 0 ||
            strcmp(ln, "quantile") == 0 || labels[i].value == NULL)
            return core_error(CORE_EINVAL, "prometheus: %s: label name '%s' is not allowed",
                              p->family, ln != NULL ? ln : "(null)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(labels[j].name, ln) == 0)
                return core_error(CORE_EINVAL, "prometheus: %s: label %s given twice", p->family,
                                  ln);
    }
    if (n == 0 && le == NULL)
        return 0;
    int rc = core_buf_append_u8(p->out, '{');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = core_buf_printf(p->out, "%s%s=\"", i > 0 ? "," : "", labels[i].name);
        if (rc == 0)
            rc = put_escaped(p->out, labels[i].value, true);
        if (rc == 0)
            rc = core_buf_append_u8(p->out, '"');
    }
    if (rc == 0 && le != NULL)
        rc = core_buf_printf(p->out, "%sle=\"%s\"", n > 0 ? "," : "", le);
    if (rc == 0)
        rc = core_buf_append_u8(p->out, '}');
    return rc;
}

/* The shortest decimal text that reads back as v; NaN, +Inf, -Inf. */
static void format_double(double v, char *buf, size_t cap)
{
    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static int check_type(http_prom_t *p, http_prom_type_t want_a, http_prom_type_t want_b)
{
    if (p->rc != 0)
        return p->rc;
    if (!p->open)
        return fail(p, core_error(CORE_EINVAL, "prometheus: a sample before any family"));
    if (p->type != want_a && p->type != want_b)
        return fail(p, core_error(CORE_EINVAL,
                                  "prometheus: %s is a %s; this kind of sample does not belong",
                                  p->family, type_name(p->type)));
    return 0;
}

/* NAME[suffix]{labels[,le]} value-text\n */
static int put_sample(http_prom_t *p, const char *suffix, const http_prom_label_t *labels, size_t n,
                      const char *le, const char *value)
{
    int rc = core_buf_printf(p->out, "%s%s", p->family, suffix);
    if (rc == 0)
        rc = put_labels(p, labels, n, le);
    if (rc == 0)
        rc = core_buf_printf(p->out, " %s\n", value);
    return rc == 0 ? 0 : fail(p, rc);
}

int http_prom_int(http_prom_t *p, const http_prom_label_t *labels, size_t n, int64_t v)
{
    int rc = check_type(p, HTTP_PROM_COUNTER, HTTP_PROM_GAUGE);
    if (rc != 0)
        return rc;
    if (p->type == HTTP_PROM_COUNTER && v < 0)
        return fail(p, core_error(CORE_EINVAL, "prometheus: counter %s: negative value %lld",
                                  p->family, (long long)v));
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)v);
    return put_sample(p, "", labels, n, NULL, text);
}

int http_prom_double(http_prom_t *p, const http_prom_label_t *labels, size_t n, double v)
{
    int rc = check_type(p, HTTP_PROM_COUNTER, HTTP_PROM_GAUGE);
    if (rc != 0)
        return rc;
    if (p->type == HTTP_PROM_COUNTER && (v < 0 || isnan(v)))
        return fail(p, core_error(CORE_EINVAL, "prometheus: counter %s: value %g is not >= 0",
                                  p->family, v));
    char text[40];
    format_double(v, text, sizeof text);
    return put_sample(p, "", labels, n, NULL, text);
}

static int check_bounds(http_prom_t *p, const double *bounds, const int64_t *counts, size_t nb)
{
    for (size_t i = 0; i < nb; i++)
        if (isnan(bounds[i]) || isinf(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return fail(p, core_error(CORE_EINVAL,
                                      "prometheus: histogram %s: bounds must be finite and "
                                      "strictly increasing (bound %zu)",
                                      p->family, i));
    for (size_t i = 0; i <= nb; i++)
        if (counts[i] < 0)
            return fail(p, core_error(CORE_EINVAL,
                                      "prometheus: histogram %s: bucket %zu has a negative count",
                                      p->family, i));
    return 0;
}

int http_prom_histogram(http_prom_t *p, const http_prom_label_t *labels, size_t n,
                        const double *bounds, const int64_t *counts, size_t nbounds, double sum)
{
    int rc = check_type(p, HTTP_PROM_HISTOGRAM, HTTP_PROM_HISTOGRAM);
    if (rc == 0)
        rc = check_bounds(p, bounds, counts, nbounds);
    if (rc != 0)
        return rc;
    int64_t cum = 0;
    char le[40], text[40];
    for (size_t i = 0; rc == 0 && i <= nbounds; i++) {
        cum += counts[i];
        if (i < nbounds)
            format_double(bounds[i], le, sizeof le);
        else
            snprintf(le, sizeof le, "+Inf");
        snprintf(text, sizeof text, "%lld", (long long)cum);
        rc = put_sample(p, "_bucket", labels, n, le, text);
    }
    format_double(sum, text, sizeof text);
    if (rc == 0)
        rc = put_sample(p, "_sum", labels, n, NULL, text);
    snprintf(text, sizeof text, "%lld", (long long)cum);
    if (rc == 0)
        rc = put_sample(p, "_count", labels, n, NULL, text);
    return rc;
}

int http_prom_summary(http_prom_t *p, const http_prom_label_t *labels, size_t n, double sum,
                      int64_t count)
{
    int rc = check_type(p, HTTP_PROM_SUMMARY, HTTP_PROM_SUMMARY);
    if (rc != 0)
        return rc;
    if (count < 0)
        return fail(p,
                    core_error(CORE_EINVAL, "prometheus: summary %s: negative count", p->family));
    char text[40];
    format_double(sum, text, sizeof text);
    rc = put_sample(p, "_sum", labels, n, NULL, text);
    snprintf(text, sizeof text, "%lld", (long long)count);
    if (rc == 0)
        rc = put_sample(p, "_count", labels, n, NULL, text);
    return rc;
}

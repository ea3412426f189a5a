/* expo: Prometheus text 0.0.4 and OpenMetrics 1.0 from the registry's series. */
#include "expo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry_int.h"

const char *ag_expo_content_type(enum ag_expo_format format)
{
    return format == AG_EXPO_OPENMETRICS
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

/* The q of one media range, "type/subtype;a=b;q=0.5"; 1 when absent (RFC 9110 §12.4.2). */
static double range_q(const char *p, const char *end)
{
    for (const char *s = memchr(p, ';', (size_t)(end - p)); s && s < end;
         s = memchr(s + 1, ';', (size_t)(end - s - 1))) {
        const char *k = s + 1;
        while (k < end && (*k == ' ' || *k == '\t'))
            k++;
        if (end - k >= 2 && (k[0] | 32) == 'q' && k[1] == '=')
            return strtod(k + 2, NULL);
    }
    return 1;
}

static bool range_is(const char *p, const char *end, const char *type)
{
    size_t n = strlen(type);
    if ((size_t)(end - p) < n || strncasecmp(p, type, n) != 0)
        return false;
    p += n;
    return p == end || *p == ';' || *p == ' ' || *p == '\t';
}

enum ag_expo_format ag_expo_negotiate(const char *accept)
{
    double q_om = 0, q_text = 0;
    for (const char *p = accept; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        double q = range_q(p, end);
        if (range_is(p, end, "application/openmetrics-text") && q > q_om)
            q_om = q;
        else if ((range_is(p, end, "text/plain") || range_is(p, end, "*/*") ||
                  range_is(p, end, "text/*")) &&
                 q > q_text)
            q_text = q;
        p = end;
    }
    return q_om > 0 && q_om >= q_text ? AG_EXPO_OPENMETRICS : AG_EXPO_TEXT;
}

/* HELP text: 0.0.4 escapes backslash and newline; OpenMetrics also the double quote. */
static void put_help(struct ag_buf *b, const char *s, bool om)
{
    for (; *s; s++) {
        if (*s == '\\')
            ag_buf_puts(b, "\\\\");
        else if (*s == '\n')
            ag_buf_puts(b, "\\n");
        else if (*s == '"' && om)
            ag_buf_puts(b, "\\\"");
        else
            ag_buf_putc(b, *s);
    }
}

static const char *type_name(enum ag_metric_type t)
{
    return t == AG_COUNTER ? "counter" : t == AG_GAUGE ? "gauge" : "histogram";
}

/* Rendering writes straight into reserved space: at 10,000 histogram series the exposition is
 * about 30 MB, and per-byte bounds checks would dominate the scrape. */
static char *put_mem(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    return p + ag_format_u64(v, p); /* the NUL lands in reserved room and is overwritten */
}

/* name suffix{labels[,le="x"]} and a space */
static char *put_series_name(char *p, const struct ag_family *f, size_t name_len,
                             const char *suffix, size_t suffix_len, const struct ag_series *s,
                             const char *le)
{
    p = put_mem(p, f->name, name_len);
    p = put_mem(p, suffix, suffix_len);
    if (!s->labels_len && !le) {
        *p++ = ' ';
        return p;
    }
    *p++ = '{';
    p = put_mem(p, s->labels, s->labels_len);
    if (le) {
        if (s->labels_len)
            *p++ = ',';
        p = put_mem(p, "le=\"", 4);
        p = put_mem(p, le, strlen(le));
        *p++ = '"';
    }
    return put_mem(p, "} ", 2);
}

static void put_histogram(struct ag_buf *b, const struct ag_family *f, size_t name_len,
                          const struct ag_series *s)
{
    /* name_bucket{labels,le="bound"} count, each number at most AG_DOUBLE_MAX characters. */
    size_t line = name_len + 8 + s->labels_len + 1 + 4 + AG_DOUBLE_MAX + 3 + AG_DOUBLE_MAX;
    if (!ag_buf_reserve(b, (f->nbuckets + 3) * line))
        return;
    char *p = b->data + b->len;
    uint64_t cum = 0;
    for (size_t i = 0; i < f->nbuckets; i++) {
        cum += s->buckets[i];
        p = put_series_name(p, f, name_len, "_bucket", 7, s, f->bound_text[i]);
        p = put_u64(p, cum);
        *p++ = '\n';
    }
    /* +Inf equals _count: observations above the last bound live only there. */
    p = put_series_name(p, f, name_len, "_bucket", 7, s, "+Inf");
    p = put_u64(p, s->count);
    *p++ = '\n';
    p = put_series_name(p, f, name_len, "_sum", 4, s, NULL);
    p += ag_format_double(s->value, p);
    *p++ = '\n';
    p = put_series_name(p, f, name_len, "_count", 6, s, NULL);
    p = put_u64(p, s->count);
    *p++ = '\n';
    b->len = (size_t)(p - b->data);
    *p = '\0';
}

static void put_scalar(struct ag_buf *b, const struct ag_family *f, size_t name_len,
                       const struct ag_series *s)
{
    if (!ag_buf_reserve(b, name_len + s->labels_len + 4 + AG_DOUBLE_MAX))
        return;
    char *p = put_series_name(b->data + b->len, f, name_len, "", 0, s, NULL);
    p += ag_format_double(s->value, p);
    *p++ = '\n';
    b->len = (size_t)(p - b->data);
    *p = '\0';
}

static void put_family_header(struct ag_buf *b, const struct ag_family *f, bool om)
{
    /* OpenMetrics names a counter family without _total; its samples keep it. */
    size_t name_len = strlen(f->name);
    if (om && f->type == AG_COUNTER)
        name_len -= strlen("_total");
    ag_buf_puts(b, "# HELP ");
    ag_buf_append(b, f->name, name_len);
    ag_buf_putc(b, ' ');
    put_help(b, f->help, om);
    ag_buf_puts(b, "\n# TYPE ");
    ag_buf_append(b, f->name, name_len);
    ag_buf_putc(b, ' ');
    ag_buf_puts(b, type_name(f->type));
    ag_buf_putc(b, '\n');
}

void ag_expo_begin(struct ag_expo_cursor *c, struct ag_registry *reg, enum ag_expo_format format)
{
    *c = (struct ag_expo_cursor){.reg = reg, .om = format == AG_EXPO_OPENMETRICS};
    pthread_mutex_lock(&reg->lock);
    ag_registry_stream_begin(reg);
    pthread_mutex_unlock(&reg->lock);
}

void ag_expo_end(struct ag_expo_cursor *c)
{
    pthread_mutex_lock(&c->reg->lock);
    ag_registry_stream_end(c->reg);
    pthread_mutex_unlock(&c->reg->lock);
}

int ag_expo_next(struct ag_expo_cursor *c, struct ag_buf *out, size_t want)
{
    size_t stop = out->len + want;
    if (c->done)
        return 0;
    pthread_mutex_lock(&c->reg->lock);
    while (out->len < stop && !out->failed) {
        if (!c->fam || (c->header_done && !c->at)) {
            c->fam = c->fam ? c->fam->next : c->reg->families;
            c->header_done = false;
            if (!c->fam)
                break;
        }
        if (!c->header_done) {
            put_family_header(out, c->fam, c->om);
            c->header_done = true;
            c->name_len = strlen(c->fam->name);
            c->at = c->fam->first;
            continue;
        }
        const struct ag_series *s = c->at;
        c->at = s->next;
        if (s->dead)
            continue;
        if (c->fam->type == AG_HISTOGRAM)
            put_histogram(out, c->fam, c->name_len, s);
        else
            put_scalar(out, c->fam, c->name_len, s);
    }
    pthread_mutex_unlock(&c->reg->lock);
    if (out->failed)
        return -ENOMEM;
    if (c->fam)
        return 1;
    if (c->om)
        ag_buf_puts(out, "# EOF\n");
    c->done = true;
    return out->failed ? -ENOMEM : 0;
}

int ag_expo_render(struct ag_registry *reg, enum ag_expo_format format, struct ag_buf *out)
{
    struct ag_expo_cursor c;
    int rc;

    ag_expo_begin(&c, reg, format);
    while ((rc = ag_expo_next(&c, out, SIZE_MAX / 2)) > 0)
        ;
    ag_expo_end(&c);
    return rc;
}

/* ag_registry: metric families, series lookup by label values, series limit and staleness. */
#include "registry_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

/* DESIGN.md "Time and spans": 100 µs to 10 s; services here answer in well under 1 ms. */
static const double default_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

double ag_monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool valid_metric_name(const char *s)
{
    if (!s || !*s || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!(c == '_' || c == ':' || (c >= '0' && c <= '9') ||
              ((c | 32) >= 'a' && (c | 32) <= 'z')))
            return false;
    }
    return true;
}

static bool valid_label_name(const char *s)
{
    return valid_metric_name(s) && !strchr(s, ':') && strncmp(s, "__", 2) != 0;
}

static bool valid_buckets(const double *b, size_t n)
{
    if (n == 0 || n > AG_BUCKETS_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1]))
            return false;
    return true;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k >= n)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Copies values into v, replacing what Prometheus would reject; NULL reads as "". */
static void clean_values(const struct ag_family *fam, const char *const *values, const char **v)
{
    for (size_t i = 0; i < fam->nlabels; i++) {
        const char *s = values && values[i] ? values[i] : "";
        size_t n = strnlen(s, AG_LABEL_VALUE_MAX + 1);
        v[i] = n > AG_LABEL_VALUE_MAX || !utf8_valid((const unsigned char *)s, n) ? "invalid" : s;
    }
}

static uint64_t hash_values(const char *const *v, size_t n)
{
    uint64_t h =
        0xcbf29ce484222325ULL; /* FNV-1a; a separator keeps ("ab","") apart from ("a","b") */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++)
            h = (h ^ *p) * 0x100000001b3ULL;
        h = (h ^ 0xff) * 0x100000001b3ULL;
    }
    return h;
}

static struct ag_series *lookup(const struct ag_family *fam, const char *const *v, uint64_t h)
{
    for (struct ag_series *s = fam->table[h & (fam->table_size - 1)]; s; s = s->hnext) {
        if (s->hash != h)
            continue;
        size_t i = 0;
        while (i < fam->nlabels && strcmp(s->values[i], v[i]) == 0)
            i++;
        if (i == fam->nlabels)
            return s;
    }
    return NULL;
}

static size_t escaped_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
    return n;
}

static char *put_escaped(char *o, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            *o++ = '\\';
            *o++ = *s == '\n' ? 'n' : *s;
        } else {
            *o++ = *s;
        }
    }
    return o;
}

static int grow_table(struct ag_family *fam)
{
    size_t size = fam->table_size * 2;
    struct ag_series **t = calloc(size, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (struct ag_series *s = fam->first; s; s = s->next) {
        if (s->dead)
            continue;
        s->hnext = t[s->hash & (size - 1)];
        t[s->hash & (size - 1)] = s;
    }
    free(fam->table);
    fam->table = t;
    fam->table_size = size;
    return 0;
}

/* One allocation per series: the struct, bucket counts, value pointers, values, label text. */
static struct ag_series *create_series(struct ag_family *fam, const char *const *v, uint64_t h)
{
    if (fam->nseries >= fam->table_size && grow_table(fam) < 0)
        return NULL;
    size_t nb = fam->type == AG_HISTOGRAM ? fam->nbuckets : 0;
    size_t raw = 0, text = 0;
    for (size_t i = 0; i < fam->nlabels; i++) {
        raw += strlen(v[i]) + 1;
        text += strlen(fam->labels[i]) + 4 + escaped_len(v[i]); /* name="value", */
    }
    size_t size = sizeof(struct ag_series) + nb * sizeof(uint64_t) + fam->nlabels * sizeof(char *) +
                  raw + text + 1;
    struct ag_series *s = calloc(1, size);
    if (!s)
        return NULL;
    char *p = (char *)(s + 1);
    s->buckets = nb ? (uint64_t *)p : NULL;
    p += nb * sizeof(uint64_t);
    s->values = (const char **)p;
    p += fam->nlabels * sizeof(char *);
    for (size_t i = 0; i < fam->nlabels; i++) {
        size_t n = strlen(v[i]) + 1;
        memcpy(p, v[i], n);
        s->values[i] = p;
        p += n;
    }
    char *o = p;
    s->labels = p;
    for (size_t i = 0; i < fam->nlabels; i++) {
        if (i)
            *o++ = ',';
        size_t n = strlen(fam->labels[i]);
        memcpy(o, fam->labels[i], n);
        o += n;
        *o++ = '=';
        *o++ = '"';
        o = put_escaped(o, v[i]);
        *o++ = '"';
    }
    *o = '\0';
    s->labels_len = (size_t)(o - p);
    s->hash = h;
    s->touched = fam->reg->now;
    s->hnext = fam->table[h & (fam->table_size - 1)];
    fam->table[h & (fam->table_size - 1)] = s;
    s->prev = fam->last;
    if (fam->last)
        fam->last->next = s;
    else
        fam->first = s;
    fam->last = s;
    fam->nseries++;
    return s;
}

static void unlink_series(struct ag_family *fam, struct ag_series *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        fam->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        fam->last = s->prev;
    free(s);
}

void ag_series_remove(struct ag_family *fam, struct ag_series *s)
{
    struct ag_series **pp = &fam->table[s->hash & (fam->table_size - 1)];
    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
    fam->nseries--;
    if (fam->reg->streams) {
        s->dead = true;
        fam->reg->ndead++;
        return;
    }
    unlink_series(fam, s);
}

void ag_registry_stream_begin(struct ag_registry *reg)
{
    reg->streams++;
}

void ag_registry_stream_end(struct ag_registry *reg)
{
    if (--reg->streams || !reg->ndead)
        return;
    for (struct ag_family *f = reg->families; f; f = f->next)
        for (struct ag_series *s = f->first, *next; s; s = next) {
            next = s->next;
            if (s->dead)
                unlink_series(f, s);
        }
    reg->ndead = 0;
}

static struct ag_series *find_or_create(struct ag_family *fam, const char *const *v);

static struct ag_series *fold(struct ag_family *fam, const char *const *v)
{
    struct ag_registry *reg = fam->reg;
    const char *folded[AG_LABELS_MAX];
    size_t hard = reg->series_limit + reg->series_limit / 8 + 1;
    for (size_t i = 0; i < fam->nlabels; i++)
        folded[i] = (int)i == fam->service_label ? v[i] : "other";
    uint64_t h = hash_values(folded, fam->nlabels);
    struct ag_series *s = lookup(fam, folded, h);
    if (!s && fam->service_label >= 0 && fam->nseries >= hard) {
        for (size_t i = 0; i < fam->nlabels; i++)
            folded[i] = "other";
        h = hash_values(folded, fam->nlabels);
        s = lookup(fam, folded, h);
    }
    if (!s)
        s = create_series(fam, folded, h);
    if (s && reg->overflow) {
        const char *metric[1] = {fam->name};
        struct ag_series *o = find_or_create(reg->overflow, metric);
        if (o) {
            o->value += 1;
            o->touched = reg->now;
        }
    }
    return s;
}

/* Caller holds the lock; v is already cleaned. */
static struct ag_series *find_or_create(struct ag_family *fam, const char *const *v)
{
    uint64_t h = hash_values(v, fam->nlabels);
    struct ag_series *s = lookup(fam, v, h);
    if (s)
        return s;
    if (fam->nseries >= fam->reg->series_limit && fam != fam->reg->overflow && fam->nlabels)
        return fold(fam, v);
    return create_series(fam, v, h);
}

enum update_op { OP_ADD, OP_SET, OP_OBSERVE, OP_TOUCH };

static int update(struct ag_family *fam, const char *const *values, enum update_op op, double x)
{
    if (!fam)
        return -EINVAL;
    if (op == OP_OBSERVE && fam->type != AG_HISTOGRAM)
        return -EINVAL;
    if ((op == OP_ADD || op == OP_SET) && fam->type == AG_HISTOGRAM)
        return -EINVAL;
    if (op == OP_ADD && fam->type == AG_COUNTER && !(x >= 0))
        return -EINVAL;
    const char *v[AG_LABELS_MAX];
    clean_values(fam, values, v);
    pthread_mutex_lock(&fam->reg->lock);
    struct ag_series *s = find_or_create(fam, v);
    if (!s) {
        pthread_mutex_unlock(&fam->reg->lock);
        return -ENOMEM;
    }
    switch (op) {
    case OP_ADD:
        s->value += x;
        break;
    case OP_SET:
        /* An absolute total read from the kernel: unchanged means no activity, and a
         * series without activity must be able to go stale. */
        if (s->value == x && s->touched > 0) {
            pthread_mutex_unlock(&fam->reg->lock);
            return 0;
        }
        s->value = x;
        break;
    case OP_OBSERVE: {
        size_t i = 0;
        while (i < fam->nbuckets && x > fam->bounds[i])
            i++;
        if (i < fam->nbuckets)
            s->buckets[i]++;
        s->count++;
        s->value += x;
        break;
    }
    case OP_TOUCH:
        break;
    }
    s->touched = fam->reg->now;
    pthread_mutex_unlock(&fam->reg->lock);
    return 0;
}

int ag_counter_add(struct ag_family *fam, const char *const *values, double n)
{
    if (fam && fam->type != AG_COUNTER)
        return -EINVAL;
    return update(fam, values, OP_ADD, n);
}

int ag_counter_set_total(struct ag_family *fam, const char *const *values, double total)
{
    if (fam && fam->type != AG_COUNTER)
        return -EINVAL;
    return update(fam, values, OP_SET, total);
}

int ag_gauge_set(struct ag_family *fam, const char *const *values, double v)
{
    if (fam && fam->type != AG_GAUGE)
        return -EINVAL;
    return update(fam, values, OP_SET, v);
}

int ag_gauge_add(struct ag_family *fam, const char *const *values, double delta)
{
    if (fam && fam->type != AG_GAUGE)
        return -EINVAL;
    return update(fam, values, OP_ADD, delta);
}

int ag_hist_observe(struct ag_family *fam, const char *const *values, double seconds)
{
    return update(fam, values, OP_OBSERVE, seconds);
}

int ag_hist_set_totals(struct ag_family *fam, const char *const *values, const uint64_t *buckets,
                       size_t nbuckets, uint64_t count, double sum)
{
    if (!fam || fam->type != AG_HISTOGRAM || nbuckets != fam->nbuckets)
        return -EINVAL;
    const char *v[AG_LABELS_MAX];
    clean_values(fam, values, v);
    pthread_mutex_lock(&fam->reg->lock);
    struct ag_series *s = find_or_create(fam, v);
    if (!s) {
        pthread_mutex_unlock(&fam->reg->lock);
        return -ENOMEM;
    }
    if (s->count != count) { /* as for OP_SET: only activity keeps a series fresh */
        memcpy(s->buckets, buckets, nbuckets * sizeof(*buckets));
        s->count = count;
        s->value = sum;
        s->touched = fam->reg->now;
    }
    pthread_mutex_unlock(&fam->reg->lock);
    return 0;
}

int ag_series_touch(struct ag_family *fam, const char *const *values)
{
    return update(fam, values, OP_TOUCH, 0);
}

int ag_registry_read(struct ag_family *fam, const char *const *values, double *value)
{
    const char *v[AG_LABELS_MAX];
    clean_values(fam, values, v);
    pthread_mutex_lock(&fam->reg->lock);
    struct ag_series *s = lookup(fam, v, hash_values(v, fam->nlabels));
    if (s)
        *value = fam->type == AG_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&fam->reg->lock);
    return s ? 0 : -ENOENT;
}

static void free_family(struct ag_family *fam)
{
    if (!fam)
        return;
    for (struct ag_series *s = fam->first, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    free(fam->table);
    for (size_t i = 0; i < fam->nlabels; i++)
        free(fam->labels[i]);
    if (fam->bound_text)
        for (size_t i = 0; i < fam->nbuckets; i++)
            free(fam->bound_text[i]);
    free(fam->bound_text);
    free(fam->bounds);
    free(fam->name);
    free(fam->help);
    free(fam);
}

static int copy_buckets(struct ag_family *fam, const double *b, size_t n)
{
    fam->nbuckets = n;
    fam->bounds = malloc(n * sizeof(double));
    fam->bound_text = calloc(n, sizeof(char *));
    if (!fam->bounds || !fam->bound_text)
        return -ENOMEM;
    memcpy(fam->bounds, b, n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        struct ag_buf t = {0};
        ag_buf_put_double(&t, b[i]);
        if (t.failed)
            return -ENOMEM;
        fam->bound_text[i] = ag_buf_steal(&t, NULL);
    }
    return 0;
}

static int check_desc(const struct ag_family_desc *d)
{
    if (!valid_metric_name(d->name) || !d->help || d->nlabels > AG_LABELS_MAX)
        return -EINVAL;
    size_t len = strlen(d->name);
    /* OpenMetrics strips _total from a counter's family name and appends it to samples. */
    if (d->type == AG_COUNTER && (len <= 6 || strcmp(d->name + len - 6, "_total") != 0))
        return -EINVAL;
    for (size_t i = 0; i < d->nlabels; i++) {
        if (!valid_label_name(d->labels[i]))
            return -EINVAL;
        if (d->type == AG_HISTOGRAM && strcmp(d->labels[i], "le") == 0)
            return -EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->labels[i], d->labels[j]) == 0)
                return -EINVAL;
    }
    if (d->type == AG_HISTOGRAM && d->buckets && !valid_buckets(d->buckets, d->nbuckets))
        return -EINVAL;
    return 0;
}

int ag_registry_add(struct ag_registry *reg, const struct ag_family_desc *d, struct ag_family **out)
{
    if (!reg || !d || check_desc(d) < 0)
        return -EINVAL;
    if (ag_registry_find(reg, d->name))
        return -EEXIST;
    struct ag_family *fam = calloc(1, sizeof(*fam));
    int err = -ENOMEM;
    if (!fam)
        return -ENOMEM;
    fam->reg = reg;
    fam->type = d->type;
    fam->service_label = -1;
    fam->name = strdup(d->name);
    fam->help = strdup(d->help);
    fam->table_size = 16;
    fam->table = calloc(fam->table_size, sizeof(*fam->table));
    if (!fam->name || !fam->help || !fam->table)
        goto fail;
    for (size_t i = 0; i < d->nlabels; i++) {
        fam->labels[i] = strdup(d->labels[i]);
        if (!fam->labels[i])
            goto fail;
        fam->nlabels++;
        if (strcmp(d->labels[i], "service_name") == 0)
            fam->service_label = (int)i;
    }
    if (d->type == AG_HISTOGRAM) {
        err = d->buckets ? copy_buckets(fam, d->buckets, d->nbuckets)
                         : copy_buckets(fam, reg->buckets, reg->nbuckets);
        if (err)
            goto fail;
    }
    pthread_mutex_lock(&reg->lock);
    if (fam->nlabels == 0 && !find_or_create(fam, NULL)) {
        pthread_mutex_unlock(&reg->lock);
        err = -ENOMEM;
        goto fail;
    }
    if (reg->last_family)
        reg->last_family->next = fam;
    else
        reg->families = fam;
    reg->last_family = fam;
    pthread_mutex_unlock(&reg->lock);
    if (out)
        *out = fam;
    return 0;
fail:
    free_family(fam);
    return err;
}

struct ag_family *ag_registry_find(struct ag_registry *reg, const char *name)
{
    pthread_mutex_lock(&reg->lock);
    struct ag_family *fam = reg->families;
    while (fam && strcmp(fam->name, name) != 0)
        fam = fam->next;
    pthread_mutex_unlock(&reg->lock);
    return fam;
}

int ag_registry_create(const struct ag_registry_opts *opts, struct ag_registry **out)
{
    struct ag_registry_opts o = opts ? *opts : (struct ag_registry_opts){0};
    if (!o.buckets) {
        o.buckets = default_buckets;
        o.nbuckets = sizeof(default_buckets) / sizeof(default_buckets[0]);
    }
    if (!valid_buckets(o.buckets, o.nbuckets) || o.stale_after < 0 || !isfinite(o.stale_after))
        return -EINVAL;
    struct ag_registry *reg = calloc(1, sizeof(*reg));
    if (!reg)
        return -ENOMEM;
    pthread_mutex_init(&reg->lock, NULL);
    reg->series_limit = o.series_limit ? o.series_limit : AG_SERIES_LIMIT_DEFAULT;
    reg->stale_after = o.stale_after > 0 ? o.stale_after : AG_STALE_AFTER_DEFAULT;
    reg->now = ag_monotonic_seconds();
    reg->nbuckets = o.nbuckets;
    reg->buckets = malloc(o.nbuckets * sizeof(double));
    if (!reg->buckets) {
        ag_registry_destroy(reg);
        return -ENOMEM;
    }
    memcpy(reg->buckets, o.buckets, o.nbuckets * sizeof(double));
    static const char *const metric[] = {"metric"};
    int err = ag_registry_add(
        reg,
        &(struct ag_family_desc){
            .name = "vigil_agent_series_overflow_total",
            .help = "Updates folded into an 'other' series because the metric reached its series "
                    "limit.",
            .type = AG_COUNTER,
            .labels = metric,
            .nlabels = 1,
        },
        &reg->overflow);
    if (err) {
        ag_registry_destroy(reg);
        return err;
    }
    *out = reg;
    return 0;
}

void ag_registry_destroy(struct ag_registry *reg)
{
    if (!reg)
        return;
    for (struct ag_family *f = reg->families, *next; f; f = next) {
        next = f->next;
        free_family(f);
    }
    for (struct ag_exited *e = reg->exited, *next; e; e = next) {
        next = e->next;
        free(e->service);
        free(e);
    }
    free(reg->buckets);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

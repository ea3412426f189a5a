#include "stats.h"

#include "options.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LG_STATUS_MAX 1000 /* HTTP statuses are three digits */
#define LG_ROUTE_MAX  128
#define LG_ERR_KINDS  16

struct lat_samples {
    uint32_t *us; /* microseconds; 2^32 us is over an hour, past any timeout */
    size_t n, cap;
};

struct route_stats {
    char name[LG_ROUTE_MAX];
    uint64_t count;
    uint64_t transport_errors;
    uint64_t status[LG_STATUS_MAX];
    struct lat_samples lat;
};

struct err_kind {
    char what[96];
    uint64_t count;
};

struct lg_stats {
    struct route_stats *routes;
    size_t nroutes, cap_routes;
    uint64_t total;
    uint64_t transport_errors;
    uint64_t status[LG_STATUS_MAX];
    uint64_t actions[LG_NSTEPS];
    struct err_kind errs[LG_ERR_KINDS];
    size_t nerrs;
    uint64_t errs_other; /* kinds past LG_ERR_KINDS */
    uint64_t dropped_samples;
    struct lat_samples lat;
};

struct lg_stats *lg_stats_new(void)
{
    return calloc(1, sizeof(struct lg_stats));
}

void lg_stats_free(struct lg_stats *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nroutes; i++)
        free(st->routes[i].lat.us);
    free(st->routes);
    free(st->lat.us);
    free(st);
}

static int lat_push(struct lat_samples *l, uint64_t us)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        uint32_t *p = realloc(l->us, cap * sizeof(*p));

        if (!p)
            return -ENOMEM;
        l->us = p;
        l->cap = cap;
    }
    l->us[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    return 0;
}

static struct route_stats *route_get(struct lg_stats *st, const char *route)
{
    struct route_stats *r;

    for (size_t i = 0; i < st->nroutes; i++)
        if (strcmp(st->routes[i].name, route) == 0)
            return &st->routes[i];
    if (st->nroutes == st->cap_routes) {
        size_t cap = st->cap_routes ? st->cap_routes * 2 : 16;
        struct route_stats *p = realloc(st->routes, cap * sizeof(*p));

        if (!p)
            return NULL;
        st->routes = p;
        st->cap_routes = cap;
    }
    r = &st->routes[st->nroutes++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", route);
    return r;
}

static void count_error_kind(struct lg_stats *st, const char *err)
{
    if (!err || !*err)
        err = "unknown";
    for (size_t i = 0; i < st->nerrs; i++) {
        if (strcmp(st->errs[i].what, err) == 0) {
            st->errs[i].count++;
            return;
        }
    }
    if (st->nerrs == LG_ERR_KINDS) {
        st->errs_other++;
        return;
    }
    snprintf(st->errs[st->nerrs].what, sizeof(st->errs[0].what), "%s", err);
    st->errs[st->nerrs++].count = 1;
}

int lg_stats_record(struct lg_stats *st, const char *route, int status, const char *err,
                    uint64_t latency_us)
{
    struct route_stats *r = route_get(st, route);
    int rc = 0;

    st->total++;
    if (!r)
        r = route_get(st, "(unrecorded route)"); /* only when out of memory */
    if (status <= 0 || status >= LG_STATUS_MAX) {
        st->transport_errors++;
        count_error_kind(st, status <= 0 ? err : "status out of range");
        if (r) {
            r->count++;
            r->transport_errors++;
        }
        return r ? 0 : -ENOMEM;
    }
    st->status[status]++;
    if (lat_push(&st->lat, latency_us))
        rc = -ENOMEM;
    if (r) {
        r->count++;
        r->status[status]++;
        if (lat_push(&r->lat, latency_us))
            rc = -ENOMEM;
    } else {
        rc = -ENOMEM;
    }
    if (rc)
        st->dropped_samples++;
    return rc;
}

void lg_stats_action(struct lg_stats *st, int action)
{
    if (action >= 0 && action < LG_NSTEPS)
        st->actions[action]++;
}

uint64_t lg_stats_total(const struct lg_stats *st)
{
    return st->total;
}

/* ---- report ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in milliseconds. */
static double pct_ms(const struct lat_samples *l, double p)
{
    size_t rank;

    if (l->n == 0)
        return 0;
    rank = (size_t)((p / 100.0) * (double)l->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > l->n)
        rank = l->n;
    return l->us[rank - 1] / 1000.0;
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void write_latency(FILE *out, struct lat_samples *l)
{
    if (l->n > 1) /* qsort's base must not be NULL, even for no samples */
        qsort(l->us, l->n, sizeof(*l->us), cmp_u32);
    fprintf(out, "{\"samples\": %zu, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}",
            l->n, pct_ms(l, 50), pct_ms(l, 90), pct_ms(l, 99), l->n ? l->us[l->n - 1] / 1000.0 : 0);
}

static void write_statuses(FILE *out, const uint64_t *status)
{
    bool first = true;

    fputc('{', out);
    for (int s = 0; s < LG_STATUS_MAX; s++) {
        if (!status[s])
            continue;
        fprintf(out, "%s\"%d\": %llu", first ? "" : ", ", s, (unsigned long long)status[s]);
        first = false;
    }
    fputc('}', out);
}

static int cmp_route(const void *a, const void *b)
{
    return strcmp(((const struct route_stats *)a)->name, ((const struct route_stats *)b)->name);
}

static void write_routes(FILE *out, struct lg_stats *st)
{
    if (st->nroutes > 1)
        qsort(st->routes, st->nroutes, sizeof(*st->routes), cmp_route);
    fputs("  \"by_route\": {", out);
    for (size_t i = 0; i < st->nroutes; i++) {
        struct route_stats *r = &st->routes[i];

        fputs(i ? ",\n    " : "\n    ", out);
        json_str(out, r->name);
        fprintf(out, ": {\"count\": %llu, \"transport_errors\": %llu, \"by_status\": ",
                (unsigned long long)r->count, (unsigned long long)r->transport_errors);
        write_statuses(out, r->status);
        fputs(", \"latency_ms\": ", out);
        write_latency(out, &r->lat);
        fputc('}', out);
    }
    fputs(st->nroutes ? "\n  },\n" : "},\n", out);
}

static void write_errors(FILE *out, const struct lg_stats *st)
{
    fputs("  \"transport_errors_by_kind\": {", out);
    for (size_t i = 0; i < st->nerrs; i++) {
        if (i)
            fputs(", ", out);
        json_str(out, st->errs[i].what);
        fprintf(out, ": %llu", (unsigned long long)st->errs[i].count);
    }
    if (st->errs_other)
        fprintf(out, "%s\"other\": %llu", st->nerrs ? ", " : "",
                (unsigned long long)st->errs_other);
    fputs("},\n", out);
}

int lg_stats_write_json(struct lg_stats *st, const struct lg_run_info *info, FILE *out)
{
    bool first = true;

    fprintf(out, "{\n  \"requests\": %llu,\n  \"transport_errors\": %llu,\n",
            (unsigned long long)st->total, (unsigned long long)st->transport_errors);
    write_errors(out, st);
    fputs("  \"by_status\": ", out);
    write_statuses(out, st->status);
    fputs(",\n", out);
    write_routes(out, st);
    fputs("  \"by_action\": {", out);
    for (int a = 0; a < LG_NSTEPS; a++) {
        if (!st->actions[a])
            continue;
        fprintf(out, "%s\"%s\": %llu", first ? "" : ", ", lg_action_names[a],
                (unsigned long long)st->actions[a]);
        first = false;
    }
    fputs("},\n  \"latency_ms\": ", out);
    write_latency(out, &st->lat);
    fprintf(out, ",\n  \"latency_samples_dropped\": %llu,\n",
            (unsigned long long)st->dropped_samples);
    fprintf(out, "  \"elapsed_s\": %.3f,\n  \"achieved_rps\": %.1f,\n", info->elapsed_s,
            info->elapsed_s > 0 ? (double)st->total / info->elapsed_s : 0.0);
    fputs("  \"run\": {\"url\": ", out);
    json_str(out, info->url);
    fputs(", \"run_id\": ", out);
    json_str(out, info->run_id);
    fprintf(out, ", \"shoppers\": %u, \"concurrency\": %u, \"rate\": %g, \"registered\": %u}\n}\n",
            info->shoppers, info->concurrency, info->rate, info->registered);
    fflush(out);
    return ferror(out) ? -1 : 0;
}

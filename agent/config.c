/* ag_config: YAML file (libyaml) plus getopt_long overrides, validated before anything runs. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"
#include "proto/route_pattern.h"

static const double default_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

int ag_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port > 65535 || colon[1] == '-' || colon[1] == '+')
        return -EINVAL;
    memset(ss, 0, sizeof(*ss));
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return -EINVAL;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*a6);
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    /* ":9400" listens on every IPv4 address, as 0.0.0.0:9400 does. */
    if (hl == 0)
        a4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
        return -EINVAL;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof(*a4);
    return 0;
}

static int parse_uint(const char *v, unsigned long long min, unsigned long long max,
                      unsigned long long *out)
{
    if (!v || *v < '0' || *v > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || errno || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

static int parse_seconds(const char *v, double min, double max, double *out)
{
    if (!v || !*v || (*v != '.' && (*v < '0' || *v > '9')))
        return -1;
    char *end;
    double d = strtod(v, &end);
    if (*end || !isfinite(d) || d < min || d > max)
        return -1;
    *out = d;
    return 0;
}

#define WHY(...) (snprintf(why, whylen, __VA_ARGS__), -1)

static int set_listen(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    if (strlen(v) >= sizeof(c->listen) ||
        ag_parse_listen(v, &c->listen_addr, &c->listen_addr_len) < 0)
        return WHY("not ADDR:PORT (127.0.0.1:9400, [::1]:9400, :9400)");
    strcpy(c->listen, v);
    return 0;
}

/* --btf is checked now, so a wrong path is one line at start-up, not a libbpf error later. */
static int set_btf(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    struct stat st;
    if (!*v)
        return WHY("empty path");
    if (access(v, R_OK) < 0 || stat(v, &st) < 0)
        return WHY("cannot read: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return WHY("not a regular file");
    char *p = strdup(v);
    if (!p)
        return WHY("out of memory");
    free(c->btf);
    c->btf = p;
    return 0;
}

static int set_log_level(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(v, names[i]) == 0) {
            c->log_level = (enum ag_log_level)i;
            return 0;
        }
    return WHY("not error, warn, info or debug");
}

static int set_watch_mode(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    if (strcmp(v, "all") == 0)
        c->watch.mode = AG_WATCH_ALL;
    else if (strcmp(v, "list") == 0)
        c->watch.mode = AG_WATCH_LIST;
    else
        return WHY("not all or list");
    return 0;
}

static int set_u32(uint32_t *dst, const char *v, unsigned long long min, unsigned long long max,
                   char *why, size_t whylen)
{
    unsigned long long n;
    if (parse_uint(v, min, max, &n) < 0)
        return WHY("not an integer in %llu..%llu", min, max);
    *dst = (uint32_t)n;
    return 0;
}

static int set_head(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    return set_u32(&c->head_bytes, v, 64, 4096, why, whylen);
}

static int set_tail(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    return set_u32(&c->tail_bytes, v, 0, 1024, why, whylen);
}

/* BPF ring buffers must be a power of two and a multiple of the page size. */
static int set_ring(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    unsigned long long n;
    if (parse_uint(v, 4096, 1ULL << 30, &n) < 0 || (n & (n - 1)))
        return WHY("not a power of two in 4096..1073741824");
    c->ring_buffer_bytes = (uint32_t)n;
    return 0;
}

static int set_series_limit(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    unsigned long long n;
    if (parse_uint(v, 1, 1000000, &n) < 0)
        return WHY("not an integer in 1..1000000");
    c->series_limit = (size_t)n;
    return 0;
}

static int set_stale_after(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    if (parse_seconds(v, 1, 86400, &c->stale_after) < 0)
        return WHY("not a number of seconds in 1..86400");
    return 0;
}

static int set_bool(bool *dst, const char *v, char *why, size_t whylen)
{
    if (strcmp(v, "true") == 0)
        *dst = true;
    else if (strcmp(v, "false") == 0)
        *dst = false;
    else
        return WHY("not true or false");
    return 0;
}

static int set_sys_enabled(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    return set_bool(&c->syscalls_enabled, v, why, whylen);
}

static int set_sys_latency(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    return set_bool(&c->syscalls_latency, v, why, whylen);
}

static int push_str(char ***list, size_t *n, const char *v, char *why, size_t whylen)
{
    char **l = realloc(*list, (*n + 1) * sizeof(char *));
    if (!l)
        return WHY("out of memory");
    *list = l;
    if (!(l[*n] = strdup(v)))
        return WHY("out of memory");
    (*n)++;
    return 0;
}

static int add_exe(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    if (!*v || strchr(v, '/') || strlen(v) > 255)
        return WHY("not an executable name (a basename, no '/')");
    return push_str(&c->watch.exe, &c->watch.nexe, v, why, whylen);
}

static int add_cgroup(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    if (v[0] != '/')
        return WHY("not a cgroup path (starts with '/')");
    return push_str(&c->watch.cgroup, &c->watch.ncgroup, v, why, whylen);
}

static int add_pid(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    unsigned long long n;
    if (parse_uint(v, 1, 4194304, &n) < 0)
        return WHY("not a pid in 1..4194304");
    pid_t *p = realloc(c->watch.pid, (c->watch.npid + 1) * sizeof(pid_t));
    if (!p)
        return WHY("out of memory");
    c->watch.pid = p;
    p[c->watch.npid++] = (pid_t)n;
    return 0;
}

static int add_bucket(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    double d;
    char *end;
    if (c->nbuckets >= 64)
        return WHY("more than 64 buckets");
    d = strtod(v, &end);
    if (!*v || *end || !isfinite(d) || d <= 0)
        return WHY("not a positive number of seconds");
    if (c->nbuckets && d <= c->buckets[c->nbuckets - 1])
        return WHY("not greater than the bucket before it");
    double *b = realloc(c->buckets, (c->nbuckets + 1) * sizeof(double));
    if (!b)
        return WHY("out of memory");
    c->buckets = b;
    b[c->nbuckets++] = d;
    return 0;
}

static int add_route(struct ag_config *c, const char *v, char *why, size_t whylen)
{
    const char *bad = ag_route_pattern_check(v);

    if (bad)
        return WHY("%s", bad);
    return push_str(&c->route_patterns, &c->nroute_patterns, v, why, whylen);
}

void ag_config_clear_list(struct ag_config *c, const char *key)
{
    char ***list = NULL;
    size_t *n = NULL;
    if (strcmp(key, "watch.exe") == 0)
        list = &c->watch.exe, n = &c->watch.nexe;
    else if (strcmp(key, "watch.cgroup") == 0)
        list = &c->watch.cgroup, n = &c->watch.ncgroup;
    else if (strcmp(key, "metrics.route_patterns") == 0)
        list = &c->route_patterns, n = &c->nroute_patterns;
    if (list) {
        for (size_t i = 0; i < *n; i++)
            free((*list)[i]);
        free(*list);
        *list = NULL;
        *n = 0;
    } else if (strcmp(key, "watch.pid") == 0) {
        free(c->watch.pid);
        c->watch.pid = NULL;
        c->watch.npid = 0;
    } else if (strcmp(key, "metrics.buckets") == 0) {
        free(c->buckets);
        c->buckets = NULL;
        c->nbuckets = 0;
    }
}

const struct ag_config_key ag_config_keys[] = {
    {"listen", AG_KEY_SCALAR, set_listen},
    {"btf", AG_KEY_SCALAR, set_btf},
    {"log_level", AG_KEY_SCALAR, set_log_level},
    {"watch", AG_KEY_MAP, NULL},
    {"watch.mode", AG_KEY_SCALAR, set_watch_mode},
    {"watch.exe", AG_KEY_SEQ, add_exe},
    {"watch.cgroup", AG_KEY_SEQ, add_cgroup},
    {"watch.pid", AG_KEY_SEQ, add_pid},
    {"capture", AG_KEY_MAP, NULL},
    {"capture.head_bytes", AG_KEY_SCALAR, set_head},
    {"capture.tail_bytes", AG_KEY_SCALAR, set_tail},
    {"capture.ring_buffer_bytes", AG_KEY_SCALAR, set_ring},
    {"metrics", AG_KEY_MAP, NULL},
    {"metrics.buckets", AG_KEY_SEQ, add_bucket},
    {"metrics.series_limit", AG_KEY_SCALAR, set_series_limit},
    {"metrics.stale_after", AG_KEY_SCALAR, set_stale_after},
    {"metrics.route_patterns", AG_KEY_SEQ, add_route},
    {"syscalls", AG_KEY_MAP, NULL},
    {"syscalls.enabled", AG_KEY_SCALAR, set_sys_enabled},
    {"syscalls.latency", AG_KEY_SCALAR, set_sys_latency},
    {NULL, 0, NULL},
};

struct ag_config *ag_config_defaults(void)
{
    struct ag_config *c = calloc(1, sizeof(*c));
    char why[128];
    if (!c)
        return NULL;
    set_listen(c, "127.0.0.1:9400", why, sizeof(why));
    c->watch.mode = AG_WATCH_ALL;
    c->head_bytes = 512;
    c->tail_bytes = 64;
    c->ring_buffer_bytes = 8u << 20;
    c->series_limit = 10000;
    c->stale_after = 300;
    c->syscalls_enabled = true;
    c->syscalls_latency = true;
    c->log_level = AG_LOG_INFO;
    c->buckets = malloc(sizeof(default_buckets));
    if (!c->buckets) {
        free(c);
        return NULL;
    }
    memcpy(c->buckets, default_buckets, sizeof(default_buckets));
    c->nbuckets = sizeof(default_buckets) / sizeof(default_buckets[0]);
    return c;
}

void ag_config_free(struct ag_config *c)
{
    if (!c)
        return;
    ag_config_clear_list(c, "watch.exe");
    ag_config_clear_list(c, "watch.cgroup");
    ag_config_clear_list(c, "watch.pid");
    ag_config_clear_list(c, "metrics.buckets");
    ag_config_clear_list(c, "metrics.route_patterns");
    free(c->btf);
    free(c);
}

/* The response record, request getters and the pure helpers of vg_http. */
#include <arpa/inet.h>
#include <limits.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "vg_check.h"
#include "vg_http_int.h"
#include "vg_log.h"

/* Largest id the JavaScript storefront can hold exactly: 2^53 - 1. */
#define VG_ID_MAX 9007199254740991LL

void vg_resp_clear(struct vg_resp *resp)
{
    free(resp->body);
    free(resp->content_type);
    for (size_t i = 0; i < resp->nheaders; i++) {
        free(resp->headers[i].name);
        free(resp->headers[i].value);
    }
    free(resp->headers);
    memset(resp, 0, sizeof(*resp));
}

struct vg_resp *vg_resp_new(void)
{
    return calloc(1, sizeof(struct vg_resp));
}

void vg_resp_free(struct vg_resp *resp)
{
    if (!resp)
        return;
    vg_resp_clear(resp);
    free(resp);
}

int vg_resp_status(const struct vg_resp *resp)
{
    return resp->status;
}

const char *vg_resp_body(const struct vg_resp *resp, size_t *len)
{
    if (len)
        *len = resp->len;
    return resp->body;
}

bool vg_resp_is_set(const struct vg_resp *resp)
{
    return resp->status != 0;
}

static void resp_set_body(struct vg_resp *resp, int status, char *body, size_t len,
                          char *content_type)
{
    free(resp->body);
    free(resp->content_type);
    resp->status = status;
    resp->body = body;
    resp->len = len;
    resp->content_type = content_type;
}

void vg_resp_json(struct vg_resp *resp, int status, json_t *body)
{
    char *text = NULL;

    if (body) {
        text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(body);
        if (!text) {
            vg_error("cannot serialise a %d answer (out of memory?)", status);
            status = 500;
        }
    }
    resp_set_body(resp, status, text, text ? strlen(text) : 0, NULL);
}

void vg_resp_error(struct vg_resp *resp, int status, const char *code, const char *message,
                   json_t *details)
{
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);

    if (err && details)
        json_object_set_new(err, "details", details);
    else
        json_decref(details);
    vg_resp_json(resp, status, err ? json_pack("{s:o}", "error", err) : NULL);
}

void vg_resp_invalid_field(struct vg_resp *resp, const char *path, const char *message)
{
    vg_resp_error(resp, 400, "invalid_field", message, json_pack("{s:s}", "field", path));
}

void vg_resp_raw(struct vg_resp *resp, int status, const char *content_type, const char *body,
                 size_t len)
{
    char *copy = malloc(len + 1);
    char *type = content_type ? strdup(content_type) : NULL;

    if (!copy || (content_type && !type)) {
        free(copy);
        free(type);
        resp_set_body(resp, 500, NULL, 0, NULL);
        return;
    }
    if (len)
        memcpy(copy, body, len);
    copy[len] = '\0';
    resp_set_body(resp, status, copy, len, type);
}

void vg_resp_header(struct vg_resp *resp, const char *name, const char *value)
{
    struct vg_resp_header *h;

    if (resp->nheaders == resp->cap) {
        size_t cap = resp->cap ? resp->cap * 2 : 4;
        h = realloc(resp->headers, cap * sizeof(*h));
        if (!h)
            return;
        resp->headers = h;
        resp->cap = cap;
    }
    h = &resp->headers[resp->nheaders];
    h->name = strdup(name);
    h->value = strdup(value);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        return;
    }
    resp->nheaders++;
}

bool vg_resp_has_header(const struct vg_resp *resp, const char *name)
{
    for (size_t i = 0; i < resp->nheaders; i++)
        if (!strcasecmp(resp->headers[i].name, name))
            return true;
    return false;
}

const char *vg_req_header(const struct vg_req *req, const char *name)
{
    if (!req->conn)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *vg_req_query(const struct vg_req *req, const char *name)
{
    const char *value = NULL;
    size_t len = 0;

    if (!req->conn)
        return NULL;
    /* "?q" (no '=') comes back from MHD as a NULL value: still present. */
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) != MHD_YES)
        return NULL;
    return value ? value : "";
}

struct query_walk {
    void (*fn)(void *arg, const char *key, const char *value);
    void *arg;
};

static enum MHD_Result query_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct query_walk *w = cls;

    w->fn(w->arg, key, value ? value : "");
    return MHD_YES;
}

void vg_req_each_query(const struct vg_req *req,
                       void (*fn)(void *arg, const char *key, const char *value), void *arg)
{
    struct query_walk w = {fn, arg};

    if (req->conn)
        MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_visit, &w);
}

bool vg_req_from_loopback(const struct vg_req *req)
{
    unsigned char a6[16];
    struct in_addr a4;

    if (inet_pton(AF_INET, req->client_addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, req->client_addr, a6) == 1)
        return !memcmp(a6, &in6addr_loopback, sizeof(a6));
    return false;
}

bool vg_request_id_valid(const char *id)
{
    return vg_token_valid(id, VG_REQUEST_ID_MAX);
}

/* Per-thread splitmix64, seeded once from getrandom: request ids and fault
 * sampling need uniqueness and speed, not secrecy, and a getrandom call per
 * request showed up as a measurable share of a cache hit's cost. */
uint64_t vg_rand64(void)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    uint64_t z;

    if (!seeded) {
        if (getrandom(&state, sizeof(state), 0) != (ssize_t)sizeof(state))
            state = (uint64_t)time(NULL) ^ (uint64_t)pthread_self();
        seeded = true;
    }
    z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void vg_request_id_new(char out[VG_REQUEST_ID_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t words[2] = {vg_rand64(), vg_rand64()};
    const unsigned char *raw = (const unsigned char *)words;

    for (size_t i = 0; i < sizeof(words); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0xF];
    }
    out[2 * sizeof(words)] = '\0';
}

/* A path id is a positive integer in canonical form: no sign, no leading
 * zero, at most 2^53 - 1, so that each id has exactly one spelling. */
static bool parse_id(const char *s, size_t len, long long *out)
{
    long long v = 0;

    if (len == 0 || len > 16 || s[0] == '0')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > VG_ID_MAX)
        return false;
    *out = v;
    return true;
}

bool vg_route_match(const char *pattern, const char *path, long long *ids, int *nids)
{
    long long found[VG_MAX_PATH_IDS];
    const char *p = pattern;
    const char *s = path;
    int n = 0;

    while (*p) {
        bool segment_start = p > pattern && p[-1] == '/';

        if (segment_start && !strncmp(p, "{id}", 4) && (p[4] == '/' || p[4] == '\0')) {
            size_t len = strcspn(s, "/");

            if (n == VG_MAX_PATH_IDS || !parse_id(s, len, &found[n]))
                return false;
            n++;
            p += 4;
            s += len;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*s)
        return false;
    if (ids)
        memcpy(ids, found, (size_t)n * sizeof(*ids));
    if (nids)
        *nids = n;
    return true;
}

void vg_signals_block(void)
{
    sigset_t set;

    /* Peers hanging up mid-write must give EPIPE, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int vg_signals_wait(void)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (sigwait(&set, &sig) != 0)
        return -1;
    return sig;
}

/* The services are not reachable from outside (they bind loopback and sit behind the
 * gateway), so the header is trusted as long as it is a well-formed positive integer. */
int vg_auth_internal_user(struct vg_req *req)
{
    const char *v = vg_req_header(req, "X-User-Id");
    long long id = 0;

    if (!v || !*v)
        return -1;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || id > (LLONG_MAX - 9) / 10)
            return -1;
        id = id * 10 + (*v - '0');
    }
    if (id <= 0)
        return -1;
    req->user_id = id;
    return 0;
}

/* Forwarding: /api/<rest> → <upstream>/<rest> with the query string, an allow-list of headers
 * and the body; the service's status, body and Content-Type come back unchanged. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "vg_client.h"
#include "vg_log.h"

#define API_PREFIX_LEN  4 /* "/api" */
#define MAX_FWD_HEADERS 8

/* A growable string; `failed` latches an allocation failure so callers check once. */
struct strbuf {
    char *s;
    size_t len, cap;
    bool failed;
};

static void sb_append(struct strbuf *sb, const char *s, size_t n)
{
    if (sb->failed)
        return;
    if (sb->len + n + 1 > sb->cap) {
        size_t cap = sb->cap ? sb->cap : 256;
        char *grown;

        while (cap < sb->len + n + 1)
            cap *= 2;
        grown = realloc(sb->s, cap);
        if (!grown) {
            sb->failed = true;
            return;
        }
        sb->s = grown;
        sb->cap = cap;
    }
    memcpy(sb->s + sb->len, s, n);
    sb->len += n;
    sb->s[sb->len] = '\0';
}

/* Percent-encodes all but RFC 3986's unreserved characters: the server hands us decoded
 * parameters, and re-encoding them this way is always a valid query for the service. */
static void sb_append_encoded(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            sb_append(sb, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sb_append(sb, esc, 3);
        }
    }
}

struct query_state {
    struct strbuf *url;
    bool first;
};

static void append_query_param(void *arg, const char *key, const char *value)
{
    struct query_state *q = arg;

    sb_append(q->url, q->first ? "?" : "&", 1);
    q->first = false;
    sb_append_encoded(q->url, key);
    if (value) {
        sb_append(q->url, "=", 1);
        sb_append_encoded(q->url, value);
    }
}

/* Only matched routes reach here, and their patterns admit only literal segments and decimal
 * ids, so the path after /api needs no escaping. */
static char *upstream_url(const struct vg_req *req, const struct gw_upstream *up)
{
    struct strbuf url = {0};
    struct query_state q = {&url, true};

    sb_append(&url, up->base_url, strlen(up->base_url));
    sb_append(&url, req->path + API_PREFIX_LEN, strlen(req->path + API_PREFIX_LEN));
    vg_req_each_query(req, append_query_param, &q);
    if (url.failed) {
        free(url.s);
        return NULL;
    }
    return url.s;
}

struct fwd_headers {
    char *lines[MAX_FWD_HEADERS + 1]; /* NULL-terminated, as vg_http_call wants */
    int n;
    bool failed;
};

static void add_header(struct fwd_headers *h, const char *fmt, ...)
{
    va_list ap;
    char *line = NULL;
    int rc;

    if (h->failed || h->n >= MAX_FWD_HEADERS)
        return;
    va_start(ap, fmt);
    rc = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        h->failed = true;
        return;
    }
    h->lines[h->n++] = line;
}

/* libcurl drops a header written "Name:" with no value; "Name;" is its spelling for a header
 * sent empty. */
static void forward_header(struct fwd_headers *h, const char *name, const char *value)
{
    if (!value)
        return;
    if (value[0])
        add_header(h, "%s: %s", name, value);
    else
        add_header(h, "%s;", name);
}

static void free_headers(struct fwd_headers *h)
{
    for (int i = 0; i < h->n; i++) {
        /* Authorization carries a live token: do not leave it in freed heap memory. */
        explicit_bzero(h->lines[i], strlen(h->lines[i]));
        free(h->lines[i]);
    }
}

/* The allow-list of architecture.md. Headers are rebuilt from scratch, so a client's own
 * X-User-Id can never reach a service; ours comes from the session alone. The request id is the
 * gateway's resolved one, so every hop of one request logs the same id. */
static void build_headers(const struct vg_req *req, const struct gw_upstream *up,
                          struct fwd_headers *h)
{
    add_header(h, "X-Request-Id: %s", req->request_id);
    forward_header(h, "Content-Type", vg_req_header(req, "Content-Type"));
    /* An empty key is the order service's 400 to give, so it must arrive empty, not vanish. */
    forward_header(h, "Idempotency-Key", vg_req_header(req, "Idempotency-Key"));
    if (up->forward_auth)
        forward_header(h, "Authorization", vg_req_header(req, "Authorization"));
    if (req->user_id > 0)
        add_header(h, "X-User-Id: %lld", req->user_id);
}

static void pass_through(struct vg_resp *resp, const struct vg_call *call)
{
    if (call->retry_after[0])
        vg_resp_header(resp, "Retry-After", call->retry_after);
    if (call->body_len == 0 && !call->content_type[0])
        vg_resp_json(resp, call->status, NULL); /* 204 and other bodiless answers */
    else
        vg_resp_raw(resp, call->status,
                    call->content_type[0] ? call->content_type : "application/octet-stream",
                    call->body ? call->body : "", call->body_len);
}

void gw_proxy(struct vg_req *req, struct vg_resp *resp)
{
    const struct gw_ctx *ctx = req->ctx;
    const struct gw_upstream *up = req->route->arg;
    struct fwd_headers headers = {0};
    struct vg_call call = {0};
    char *url = upstream_url(req, up);
    /* HEAD is answered from a GET: the server drops the body and keeps the headers. */
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    int rc;

    build_headers(req, up, &headers);
    if (!url || headers.failed) {
        vg_error("proxy: out of memory building the call to %s", up->name);
        vg_resp_error(resp, 503, "unavailable", "the gateway is overloaded", NULL);
        goto out;
    }
    rc = vg_http_call(method, url, (const char *const *)headers.lines, req->body, req->body_len,
                      ctx->upstream_timeout_ms, &call);
    if (rc == VG_CALL_TIMEOUT) {
        vg_warn("proxy: %s %s timed out after %ld ms", method, up->name, ctx->upstream_timeout_ms);
        vg_resp_error(resp, 504, "upstream_timeout", "the service did not answer in time", NULL);
    } else if (rc != VG_CALL_OK || call.status < 100 || call.status > 599) {
        vg_warn("proxy: %s %s failed (%s)", method, up->name,
                rc == VG_CALL_CONNECT ? "connection failed" : "bad answer");
        vg_resp_error(resp, 502, "upstream_error", "the service could not be reached", NULL);
    } else {
        pass_through(resp, &call);
    }
out:
    vg_call_free(&call);
    free_headers(&headers);
    free(url);
}

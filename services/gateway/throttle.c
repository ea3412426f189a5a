/* The server's `before` hook: applies the rate limit of API.md to /api requests, one token
 * bucket per client address (ratelimit.c holds the buckets). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gateway.h"
#include "ratelimit.h"

#define CLIENT_KEY_MAX 64

/* The client's address: the TCP peer, or, when a trusted proxy sits in front
 * (VIGIL_TRUST_FORWARDED_FOR=1), the last X-Forwarded-For entry: the one that proxy appended
 * itself. Earlier entries are whatever the client chose to send. */
static void client_key(const struct vg_req *req, const struct gw_ctx *ctx, char out[CLIENT_KEY_MAX])
{
    const char *xff = ctx->trust_forwarded_for ? vg_req_header(req, "X-Forwarded-For") : NULL;
    const char *start, *end;

    if (xff) {
        end = xff + strlen(xff);
        start = strrchr(xff, ',');
        start = start ? start + 1 : xff;
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end > start) {
            snprintf(out, CLIENT_KEY_MAX, "%.*s", (int)(end - start), start);
            return;
        }
    }
    snprintf(out, CLIENT_KEY_MAX, "%s", req->client_addr);
}

/* API.md exempts /healthz and the storefront's files: only the API and admin routes count. */
static bool rate_limited_path(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
           strncmp(path, "/admin/", 7) == 0;
}

bool gw_rate_limit_hook(struct vg_req *req, struct vg_resp *resp)
{
    struct gw_ctx *ctx = req->ctx;
    char key[CLIENT_KEY_MAX], retry_after[24];
    struct timespec ts;
    long wait_s;

    if (!ctx->ratelimit || !rate_limited_path(req->path))
        return false;
    client_key(req, ctx, key);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    wait_s = gw_ratelimit_take(ctx->ratelimit, key,
                               (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
    if (wait_s == 0)
        return false;
    snprintf(retry_after, sizeof(retry_after), "%ld", wait_s);
    vg_resp_error(resp, 429, "rate_limited", "too many requests; retry after the given delay",
                  NULL);
    vg_resp_header(resp, "Retry-After", retry_after);
    return true;
}

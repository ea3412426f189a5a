#include "cache.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "localcache.h"
#include "tracking.h"
#include "vg_http.h"
#include "vg_log.h"
#include "vg_redis.h"

/* The catalogue has 720 products; the bound leaves room for growth. */
#define LOCAL_MAX_ENTRIES 4096

struct product_cache {
    struct vg_redis_pool *redis; /* borrowed */
    struct localcache *local;
    struct tracking *tracking;
};

/* A Redis outage must not flood the log at request rate: one line per
 * interval, whichever thread gets there first. */
#define CACHE_WARN_INTERVAL_S 10
static _Atomic long long last_warn_s;

static void warn_rate_limited(const char *what, const redisReply *reply)
{
    struct timespec now;
    long long prev;

    clock_gettime(CLOCK_MONOTONIC, &now);
    prev = atomic_load(&last_warn_s);
    if (prev && now.tv_sec - prev < CACHE_WARN_INTERVAL_S)
        return;
    if (!atomic_compare_exchange_strong(&last_warn_s, &prev, (long long)now.tv_sec))
        return;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        vg_warn("cache: %s: %s", what, reply->str);
    else
        vg_warn("cache: %s: Redis unreachable, reading the database", what);
}

int cache_create(struct vg_redis_pool *redis, const char *host, int port, int timeout_ms,
                 struct product_cache **out)
{
    struct product_cache *cache = calloc(1, sizeof(*cache));
    int err;

    if (!cache)
        return -ENOMEM;
    cache->redis = redis;
    err = localcache_create(LOCAL_MAX_ENTRIES, &cache->local);
    if (!err)
        err = tracking_start(cache->local, host, port, timeout_ms, &cache->tracking);
    if (err) {
        localcache_destroy(cache->local);
        free(cache);
        return err;
    }
    *out = cache;
    return 0;
}

void cache_destroy(struct product_cache *cache)
{
    if (!cache)
        return;
    tracking_stop(cache->tracking);
    localcache_destroy(cache->local);
    free(cache);
}

static bool serve_local(struct product_cache *cache, long long id, struct vg_resp *resp)
{
    struct localcache_entry *e;
    const char *body;
    size_t len;

    if (!tracking_caught_up(cache->tracking))
        return false;
    e = localcache_get(cache->local, id, tracking_clock_ms());
    if (!e)
        return false;
    body = localcache_body(e, &len);
    vg_resp_raw(resp, 200, "application/json", body, len);
    localcache_put(e);
    return true;
}

/* The local copy's deadline: the Redis key's own, never later than a full TTL. */
static long long local_deadline(long long sent_ms, const redisReply *pttl)
{
    long long ms = CACHE_TTL_S * 1000LL;

    if (pttl && pttl->type == REDIS_REPLY_INTEGER) {
        if (pttl->integer == -2)
            return 0; /* gone since the GET: a change is on its way */
        if (pttl->integer >= 0 && pttl->integer < ms)
            ms = pttl->integer;
    }
    /* Counted from before the request went out, so it errs early. */
    return sent_ms + ms;
}

static bool serve_redis(struct product_cache *cache, long long id, struct vg_resp *resp)
{
    /* Taken before the GET leaves: an invalidation applied between here and
     * the insert may announce a change the GET did not see, so any refuses it. */
    uint64_t ticket = localcache_ticket(cache->local, id);
    long long sent_ms = tracking_clock_ms();
    redisContext *ctx = vg_redis_acquire(cache->redis);
    redisReply *value = NULL, *pttl = NULL;
    int sent = 0;
    bool hit = false;

    if (!ctx) {
        warn_rate_limited("GET", NULL);
        return false;
    }
    /* One round trip for the value and its remaining lifetime. Replies are
     * read for exactly the commands queued, so the stream stays in step. */
    if (redisAppendCommand(ctx, "GET product:%lld", id) == REDIS_OK) {
        sent = 1;
        if (redisAppendCommand(ctx, "PTTL product:%lld", id) == REDIS_OK)
            sent = 2;
    }
    if (sent >= 1 && redisGetReply(ctx, (void **)&value) != REDIS_OK)
        value = NULL;
    if (sent == 2 && value && redisGetReply(ctx, (void **)&pttl) != REDIS_OK)
        pttl = NULL;
    vg_redis_release(cache->redis, ctx); /* drops the context after an I/O error */

    if (!value || value->type == REDIS_REPLY_ERROR) {
        warn_rate_limited("GET", value);
    } else if (value->type == REDIS_REPLY_STRING && value->len > 0) {
        long long now = tracking_clock_ms();
        vg_resp_raw(resp, 200, "application/json", value->str, value->len);
        hit = true;
        /* Refused while the channel is down or when the key changed meanwhile. */
        localcache_insert(cache->local, id, value->str, value->len, local_deadline(sent_ms, pttl),
                          now, ticket);
    }
    if (value)
        freeReplyObject(value);
    if (pttl)
        freeReplyObject(pttl);
    return hit;
}

bool cache_serve_product(struct product_cache *cache, long long id, struct vg_resp *resp)
{
    return serve_local(cache, id, resp) || serve_redis(cache, id, resp);
}

void cache_store_product(struct product_cache *cache, long long id, const char *body, size_t len)
{
    redisReply *reply =
        vg_redis_cmd(cache->redis, "SET product:%lld %b EX %d", id, body, len, CACHE_TTL_S);

    /* No local copy here: Redis announces this SET like any other write to
     * product:*, so the copy would be dropped at once. The next read takes it
     * from Redis. */
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        warn_rate_limited("SET", reply);
    if (reply)
        freeReplyObject(reply);
}

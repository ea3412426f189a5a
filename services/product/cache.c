#include "cache.h"

#include <stdatomic.h>
#include <time.h>

#include "vg_http.h"
#include "vg_log.h"
#include "vg_redis.h"

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

bool cache_serve_product(struct vg_redis_pool *redis, long long id, struct vg_resp *resp)
{
    redisReply *reply = vg_redis_cmd(redis, "GET product:%lld", id);
    bool hit = false;

    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        warn_rate_limited("GET", reply);
    } else if (reply->type == REDIS_REPLY_STRING && reply->len > 0) {
        /* The stored bytes are the answer: no parse, one copy into the response. */
        vg_resp_raw(resp, 200, "application/json", reply->str, reply->len);
        hit = true;
    }
    if (reply)
        freeReplyObject(reply);
    return hit;
}

void cache_store_product(struct vg_redis_pool *redis, long long id, const char *body, size_t len)
{
    redisReply *reply =
        vg_redis_cmd(redis, "SET product:%lld %b EX %d", id, body, len, CACHE_TTL_S);

    if (!reply || reply->type == REDIS_REPLY_ERROR)
        warn_rate_limited("SET", reply);
    if (reply)
        freeReplyObject(reply);
}

#include "vg_redis.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vg_config.h"
#include "vg_log.h"

#define REDIS_WARN_INTERVAL_S 5

struct vg_redis_slot {
    redisContext *ctx;
    bool in_use;
};

struct vg_redis_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *host;
    int port;
    int db;
    int size;
    int timeout_ms;
    struct vg_redis_slot *slots;
    time_t last_warn;
};

int vg_redis_pool_create(const char *host, int port, int db, int size, int timeout_ms,
                         struct vg_redis_pool **out)
{
    struct vg_redis_pool *pool;
    pthread_condattr_t attr;

    if (!host || size <= 0 || port <= 0 || port > 65535 || db < 0)
        return -EINVAL;
    pool = calloc(1, sizeof(*pool));
    if (!pool)
        return -ENOMEM;
    pool->host = strdup(host);
    pool->slots = calloc((size_t)size, sizeof(*pool->slots));
    if (!pool->host || !pool->slots) {
        free(pool->host);
        free(pool->slots);
        free(pool);
        return -ENOMEM;
    }
    pool->port = port;
    pool->db = db;
    pool->size = size;
    pool->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->freed, &attr);
    pthread_condattr_destroy(&attr);
    *out = pool;
    return 0;
}

void vg_redis_pool_destroy(struct vg_redis_pool *pool)
{
    if (!pool)
        return;
    for (int i = 0; i < pool->size; i++)
        if (pool->slots[i].ctx)
            redisFree(pool->slots[i].ctx);
    pthread_cond_destroy(&pool->freed);
    pthread_mutex_destroy(&pool->lock);
    free(pool->slots);
    free(pool->host);
    free(pool);
}

static void pool_warn(struct vg_redis_pool *pool, const char *what, const char *why)
{
    time_t now = time(NULL);
    bool say;

    pthread_mutex_lock(&pool->lock);
    say = now - pool->last_warn >= REDIS_WARN_INTERVAL_S;
    if (say)
        pool->last_warn = now;
    pthread_mutex_unlock(&pool->lock);
    if (say)
        vg_warn("redis %s:%d: %s: %s", pool->host, pool->port, what, why);
}

static struct timeval timeout_tv(const struct vg_redis_pool *pool)
{
    struct timeval tv = {pool->timeout_ms / 1000, (pool->timeout_ms % 1000) * 1000};

    return tv;
}

static redisContext *ctx_open(struct vg_redis_pool *pool)
{
    struct timeval tv = timeout_tv(pool);
    redisContext *ctx = redisConnectWithTimeout(pool->host, pool->port, tv);
    redisReply *reply;

    if (!ctx || ctx->err) {
        pool_warn(pool, "cannot connect", ctx ? ctx->errstr : "out of memory");
        if (ctx)
            redisFree(ctx);
        return NULL;
    }
    redisSetTimeout(ctx, tv);
    if (pool->db == 0)
        return ctx;
    reply = redisCommand(ctx, "SELECT %d", pool->db);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        pool_warn(pool, "SELECT failed", reply ? reply->str : ctx->errstr);
        if (reply)
            freeReplyObject(reply);
        redisFree(ctx);
        return NULL;
    }
    freeReplyObject(reply);
    return ctx;
}

/* An idle context has nothing to read; readable means the server closed it. */
static bool idle_ctx_alive(const redisContext *ctx)
{
    struct pollfd pfd = {.fd = ctx->fd, .events = POLLIN};

    return !ctx->err && pfd.fd >= 0 && poll(&pfd, 1, 0) == 0;
}

redisContext *vg_redis_acquire(struct vg_redis_pool *pool)
{
    struct vg_redis_slot *slot = NULL;
    struct timespec deadline;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += pool->timeout_ms / 1000;
    deadline.tv_nsec += (long)(pool->timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        for (int i = 0; i < pool->size; i++) {
            struct vg_redis_slot *cand = &pool->slots[i];
            if (!cand->in_use && (!slot || (!slot->ctx && cand->ctx)))
                slot = cand;
        }
        if (slot)
            break;
        if (pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&pool->lock);
            pool_warn(pool, "pool exhausted", "no connection free within the timeout");
            return NULL;
        }
    }
    slot->in_use = true;
    pthread_mutex_unlock(&pool->lock);

    if (slot->ctx && !idle_ctx_alive(slot->ctx)) {
        redisFree(slot->ctx);
        slot->ctx = NULL;
    }
    if (!slot->ctx)
        slot->ctx = ctx_open(pool);
    if (!slot->ctx) {
        pthread_mutex_lock(&pool->lock);
        slot->in_use = false;
        pthread_cond_signal(&pool->freed);
        pthread_mutex_unlock(&pool->lock);
        return NULL;
    }
    return slot->ctx;
}

void vg_redis_release(struct vg_redis_pool *pool, redisContext *ctx)
{
    if (!ctx)
        return;
    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->size; i++) {
        struct vg_redis_slot *slot = &pool->slots[i];
        if (slot->ctx != ctx)
            continue;
        /* After an error the reply stream is out of step: drop the context. */
        if (ctx->err) {
            redisFree(ctx);
            slot->ctx = NULL;
        }
        slot->in_use = false;
        pthread_cond_signal(&pool->freed);
        break;
    }
    pthread_mutex_unlock(&pool->lock);
}

static redisReply *checked(struct vg_redis_pool *pool, redisContext *ctx, void *reply)
{
    if (!reply)
        pool_warn(pool, "command failed", ctx->errstr);
    vg_redis_release(pool, ctx);
    return reply;
}

redisReply *vg_redis_cmd(struct vg_redis_pool *pool, const char *fmt, ...)
{
    redisContext *ctx = vg_redis_acquire(pool);
    void *reply;
    va_list ap;

    if (!ctx)
        return NULL;
    va_start(ap, fmt);
    reply = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    return checked(pool, ctx, reply);
}

redisReply *vg_redis_cmdargv(struct vg_redis_pool *pool, int argc, const char **argv,
                             const size_t *argvlen)
{
    redisContext *ctx = vg_redis_acquire(pool);

    if (!ctx)
        return NULL;
    return checked(pool, ctx, redisCommandArgv(ctx, argc, argv, argvlen));
}

bool vg_redis_ping(struct vg_redis_pool *pool)
{
    redisReply *reply = vg_redis_cmd(pool, "PING");
    bool ok = reply && reply->type == REDIS_REPLY_STATUS && !strcmp(reply->str, "PONG");

    if (reply)
        freeReplyObject(reply);
    return ok;
}

struct vg_redis_pool *vg_redis_pool_from_env(int default_size, int timeout_ms)
{
    struct vg_redis_pool *pool = NULL;
    int err = vg_redis_pool_create(vg_env_str("VIGIL_REDIS_HOST", "127.0.0.1"),
                                   (int)vg_env_int("VIGIL_REDIS_PORT", 56379, 1, 65535),
                                   (int)vg_env_int("VIGIL_REDIS_DB", 0, 0, 1 << 20),
                                   (int)vg_env_int("VIGIL_REDIS_POOL_SIZE", default_size, 1, 1024),
                                   timeout_ms, &pool);

    if (err)
        vg_die("cannot create the Redis pool: %s", strerror(-err));
    return pool;
}

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
#include "vg_slots.h"

#define REDIS_WARN_INTERVAL_S 5

struct vg_redis_pool {
    pthread_mutex_t lock; /* guards last_warn; vg_redis_release searches ctxs under it */
    char *host;
    int port;
    int db;
    int size;
    int timeout_ms;
    struct vg_slots *slots; /* which of ctxs are taken */
    redisContext **ctxs;    /* NULL: not connected */
    time_t last_warn;
};

int vg_redis_pool_create(const char *host, int port, int db, int size, int timeout_ms,
                         struct vg_redis_pool **out)
{
    struct vg_redis_pool *pool;

    if (!host || size <= 0 || port <= 0 || port > 65535 || db < 0)
        return -EINVAL;
    pool = calloc(1, sizeof(*pool));
    if (!pool)
        return -ENOMEM;
    pool->host = strdup(host);
    pool->ctxs = calloc((size_t)size, sizeof(*pool->ctxs));
    if (!pool->host || !pool->ctxs || vg_slots_create(size, &pool->slots)) {
        free(pool->host);
        free(pool->ctxs);
        free(pool);
        return -ENOMEM;
    }
    pool->port = port;
    pool->db = db;
    pool->size = size;
    pool->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    pthread_mutex_init(&pool->lock, NULL);
    *out = pool;
    return 0;
}

void vg_redis_pool_destroy(struct vg_redis_pool *pool)
{
    if (!pool)
        return;
    for (int i = 0; i < pool->size; i++)
        if (pool->ctxs[i])
            redisFree(pool->ctxs[i]);
    vg_slots_destroy(pool->slots);
    pthread_mutex_destroy(&pool->lock);
    free(pool->ctxs);
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

/* vg_slots_take's preference: a connected context is reused before a slot connects. */
static bool ctx_opened(void *pool, int i)
{
    return ((struct vg_redis_pool *)pool)->ctxs[i] != NULL;
}

redisContext *vg_redis_acquire(struct vg_redis_pool *pool)
{
    int i = vg_slots_take(pool->slots, pool->timeout_ms, ctx_opened, pool);
    redisContext *ctx;

    if (i < 0) {
        pool_warn(pool, "pool exhausted", "no connection free within the timeout");
        return NULL;
    }
    ctx = pool->ctxs[i];
    if (ctx && !idle_ctx_alive(ctx)) {
        redisFree(ctx);
        ctx = NULL;
    }
    if (!ctx)
        ctx = ctx_open(pool);
    /* Under the lock: vg_redis_release looks through every slot's pointer. */
    pthread_mutex_lock(&pool->lock);
    pool->ctxs[i] = ctx;
    pthread_mutex_unlock(&pool->lock);
    if (!ctx) {
        vg_slots_give(pool->slots, i);
        return NULL;
    }
    return ctx;
}

/* Called with pool->lock held. -1: not a context of this pool. */
static int slot_of(const struct vg_redis_pool *pool, const redisContext *ctx)
{
    for (int i = 0; i < pool->size; i++)
        if (pool->ctxs[i] == ctx)
            return i;
    return -1;
}

void vg_redis_release(struct vg_redis_pool *pool, redisContext *ctx)
{
    int slot;

    if (!ctx)
        return;
    pthread_mutex_lock(&pool->lock);
    slot = slot_of(pool, ctx);
    /* After an error the reply stream is out of step: drop the context. */
    if (slot >= 0 && ctx->err) {
        redisFree(ctx);
        pool->ctxs[slot] = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
    if (slot >= 0)
        vg_slots_give(pool->slots, slot);
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

/* vg_redis: a bounded Redis pool over hiredis with connect and command
 * timeouts. A context that errored is dropped and reconnected on next use. */
#ifndef VG_REDIS_H
#define VG_REDIS_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

struct vg_redis_pool;

int vg_redis_pool_create(const char *host, int port, int db, int size, int timeout_ms,
                         struct vg_redis_pool **out);
void vg_redis_pool_destroy(struct vg_redis_pool *pool);

/* The pool every service uses: VIGIL_REDIS_HOST (127.0.0.1), VIGIL_REDIS_PORT
 * (56379), VIGIL_REDIS_DB (0; tests give each shop its own) and
 * VIGIL_REDIS_POOL_SIZE (default_size). Bad configuration is fatal (vg_die). */
struct vg_redis_pool *vg_redis_pool_from_env(int default_size, int timeout_ms);

/* NULL when Redis cannot be reached or the pool is exhausted (answer 503). */
redisContext *vg_redis_acquire(struct vg_redis_pool *pool);
void vg_redis_release(struct vg_redis_pool *pool, redisContext *ctx);

/* One command through the pool (acquire, command, release). Returns the reply
 * (caller freeReplyObject), or NULL on a connection error. */
redisReply *vg_redis_cmd(struct vg_redis_pool *pool, const char *fmt, ...);
redisReply *vg_redis_cmdargv(struct vg_redis_pool *pool, int argc, const char **argv,
                             const size_t *argvlen);

bool vg_redis_ping(struct vg_redis_pool *pool);

#endif

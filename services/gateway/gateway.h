/* vg-gateway internals: the state the hooks and handlers share, and each module's entry points.
 * The gateway is the only public entry: it owns rate limits, routing, sessions and the
 * storefront's files, and forwards /api/... to the services with /api stripped. */
#ifndef VG_GATEWAY_H
#define VG_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>

#include "vg_http.h"

struct vg_redis_pool;
struct gw_ratelimit;

/* An owning service; a route's arg points at one. */
struct gw_upstream {
    const char *name;     /* for log lines */
    const char *base_url; /* "http://127.0.0.1:8081", set from the environment at start */
    bool forward_auth;    /* Authorization goes to the user service only (logout needs it) */
};

/* conf.ctx: lives for the whole run, read-only once the server starts. */
struct gw_ctx {
    struct vg_redis_pool *redis;    /* sessions */
    struct gw_ratelimit *ratelimit; /* NULL: rate limiting is off */
    bool trust_forwarded_for;
    long upstream_timeout_ms;
    char *static_root; /* realpath of VIGIL_STATIC_DIR; NULL when it does not exist */
};

/* routes.c: every /api route of API.md. */
extern struct gw_upstream gw_user_upstream, gw_product_upstream, gw_order_upstream;
extern const struct vg_route gw_routes[];
extern const size_t gw_nroutes;

/* proxy.c: forwards the request to route->arg and passes the answer through. */
void gw_proxy(struct vg_req *req, struct vg_resp *resp);

/* session.c: conf.authenticate. 0 with req->user_id set, -1 for no or an unknown token (401),
 * -2 when Redis cannot be asked (503). */
int gw_authenticate(struct vg_req *req);

/* throttle.c: conf.before; answers 429 rate_limited when the client's bucket is empty. */
bool gw_rate_limit_hook(struct vg_req *req, struct vg_resp *resp);

/* static.c: the fallback for paths no route matches. */
char *gw_static_root(const char *dir); /* realpath, or NULL (logged); caller frees */
void gw_static_serve(struct vg_req *req, struct vg_resp *resp);

#endif

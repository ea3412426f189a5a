/* vg_http: the services' HTTP server over libmicrohttpd.
 *
 * One thread per connection: a handler runs a request from start to end on
 * that thread and calls downstream services synchronously on it, so a slow
 * downstream stalls only its own client. The server owns routing and the
 * status precedence of API.md:
 *
 *   hook (gateway: 429) → 404 route → 405 method (+Allow) → 413 size →
 *   401 authentication → 415 media type → 400 invalid_json → fault flags → handler
 *
 * Built-in routes on every server: GET /healthz (conf.health) and
 * GET/POST /admin/faults (loopback only, X-Admin-Token = VIGIL_ADMIN_TOKEN).
 * Every response carries X-Request-Id: the client's own when it is 1-64 chars
 * of [A-Za-z0-9._-], otherwise a fresh one. HEAD is served wherever GET is. */
#ifndef VG_HTTP_H
#define VG_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define VG_MAX_PATH_IDS   4
#define VG_BODY_LIMIT     (1024 * 1024)
#define VG_REQUEST_ID_MAX 64

struct vg_route;

struct vg_req {
    const char *method; /* as sent: "GET", "HEAD", "POST", ... */
    const char *path;   /* without the query string */
    const char *body;   /* NUL-terminated; NULL when there was none */
    size_t body_len;
    json_t *json;                   /* parsed object body for VG_ROUTE_JSON routes (borrowed) */
    long long ids[VG_MAX_PATH_IDS]; /* values of the {id} segments, in order */
    int nids;
    long long user_id; /* set by conf.authenticate; 0 when anonymous */
    char request_id[VG_REQUEST_ID_MAX + 1];
    char client_addr[64];         /* numeric address of the TCP peer */
    const struct vg_route *route; /* matched route; NULL for the fallback */
    void *ctx;                    /* conf.ctx */
    void *conn;                   /* the MHD connection, for the getters below */
};

/* Request header / query parameter values; NULL when absent. Empty query values
 * come back as "" (API.md: an empty parameter counts as absent: check both). */
const char *vg_req_header(const struct vg_req *req, const char *name);
const char *vg_req_query(const struct vg_req *req, const char *name);
/* Calls fn for every query parameter (gateway forwarding). */
void vg_req_each_query(const struct vg_req *req,
                       void (*fn)(void *arg, const char *key, const char *value), void *arg);
bool vg_req_from_loopback(const struct vg_req *req);

struct vg_resp; /* owned by the server; handlers fill it through the calls below */

/* Sets a JSON answer; takes ownership of body (may be NULL for no body, e.g. 204). */
void vg_resp_json(struct vg_resp *resp, int status, json_t *body);
/* The one error shape of API.md: {"error":{"code","message","details"?}}.
 * Takes ownership of details (NULL for none). */
void vg_resp_error(struct vg_resp *resp, int status, const char *code, const char *message,
                   json_t *details);
/* 400 invalid_field with details {"field": path}. */
void vg_resp_invalid_field(struct vg_resp *resp, const char *path, const char *message);
/* Raw bytes (gateway pass-through, static files); copies body. */
void vg_resp_raw(struct vg_resp *resp, int status, const char *content_type, const char *body,
                 size_t len);
/* Adds a response header (copied). */
void vg_resp_header(struct vg_resp *resp, const char *name, const char *value);
bool vg_resp_is_set(const struct vg_resp *resp);
/* A response outside any server (tests, helpers that build an answer first).
 * vg_resp_body is NULL when no body was set; the body is NUL-terminated. */
struct vg_resp *vg_resp_new(void);
void vg_resp_free(struct vg_resp *resp);
int vg_resp_status(const struct vg_resp *resp); /* 0 until set */
const char *vg_resp_body(const struct vg_resp *resp, size_t *len);

typedef void (*vg_handler_fn)(struct vg_req *req, struct vg_resp *resp);

enum vg_route_flags {
    VG_ROUTE_AUTH = 1 << 0,    /* conf.authenticate must accept, else 401 unauthenticated */
    VG_ROUTE_JSON = 1 << 1,    /* body must be application/json (415) holding an object (400) */
    VG_ROUTE_NOFAULT = 1 << 2, /* never faulted (health-like routes) */
};

struct vg_route {
    const char *method;  /* "GET" also serves HEAD */
    const char *pattern; /* "/products/{id}": {id} matches a positive integer only */
    vg_handler_fn fn;
    unsigned flags;
    const void *arg; /* free for the service (gateway: the upstream) */
};

enum vg_health { VG_HEALTH_OK, VG_HEALTH_DEGRADED, VG_HEALTH_DOWN };

struct vg_server_conf {
    const char *name; /* for log lines */
    const char *bind; /* numeric IPv4/IPv6 address, default 127.0.0.1 */
    int port;
    const struct vg_route *routes;
    size_t nroutes;
    size_t body_limit;        /* 0: VG_BODY_LIMIT */
    unsigned max_connections; /* 0: 1024 */
    /* Returns 0 and sets req->user_id, -1 (answered 401 unauthenticated), or -2 when the
     * session store cannot be reached (answered 503 unavailable: the token may be valid). */
    int (*authenticate)(struct vg_req *req);
    /* Runs first, before routing; returns true when it answered (gateway rate limit). */
    bool (*before)(struct vg_req *req, struct vg_resp *resp);
    /* Paths matching no route: NULL gives 404 not_found (gateway: static files). */
    vg_handler_fn fallback;
    /* /healthz; NULL is always ok. */
    enum vg_health (*health)(void *ctx);
    void *ctx;
};

/* Sets name, and bind and port from VIGIL_BIND (127.0.0.1) and VIGIL_PORT (default_port). */
void vg_server_conf_env(struct vg_server_conf *conf, const char *name, int default_port);

struct vg_server;

/* Returns 0, or a negative errno (port taken, ...) after logging why. */
int vg_server_start(const struct vg_server_conf *conf, struct vg_server **out);
/* Stops accepting, waits for running handlers, frees everything. */
void vg_server_stop(struct vg_server *srv);
/* The port actually bound: conf.port 0 asks the kernel for a free one (tests). */
int vg_server_port(const struct vg_server *srv);

/* The authenticate hook of the services behind the gateway: X-User-Id, which the gateway
 * sets from the session (and strips from what clients send), as a positive integer. */
int vg_auth_internal_user(struct vg_req *req);

/* Pure helpers, exposed for tests. */
bool vg_request_id_valid(const char *id);
/* Matches path against pattern; fills ids. */
bool vg_route_match(const char *pattern, const char *path, long long *ids, int *nids);

/* Blocks SIGTERM/SIGINT/SIGPIPE in the calling thread (call first in main,
 * before any thread starts) and later waits for SIGTERM or SIGINT. */
void vg_signals_block(void);
int vg_signals_wait(void);

#endif

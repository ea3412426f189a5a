/* The server: per-request state, routing and the status precedence of API.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vg_faults.h"
#include "vg_config.h"
#include "vg_http_int.h"
#include "vg_log.h"

#define CONNECTION_TIMEOUT_S 60u
/* MHD 0.9.75 accepts a response only before the body or after all of it, so
 * an oversized chunked body is read and thrown away before its 413 goes out.
 * Past DISCARD_FACTOR times the limit the connection is dropped unanswered:
 * a client streaming without end must not hold a thread forever. */
#define DISCARD_FACTOR 16

struct vg_server {
    struct MHD_Daemon *daemon;
    struct vg_server_conf conf;
    struct vg_route *routes; /* copy of conf.routes */
    size_t body_limit;
    int port;
};

/* One HTTP request, from its headers to the completion notice. */
struct vg_exchange {
    struct vg_server *srv;
    struct vg_req req;
    struct vg_resp resp;
    char *body;
    size_t body_len;
    size_t body_cap;
    size_t discarded;
    bool decided; /* the answer is known; the rest of the body is discarded */
    bool queued;
};

#define EXCHANGE_OF(r) ((struct vg_exchange *)((char *)(r)-offsetof(struct vg_exchange, req)))

enum vg_health vg_http_health_of(const struct vg_req *req)
{
    const struct vg_server *srv = EXCHANGE_OF(req)->srv;

    return srv->conf.health ? srv->conf.health(srv->conf.ctx) : VG_HEALTH_OK;
}

static bool method_serves(const char *route_method, const char *method)
{
    return !strcmp(route_method, method) ||
           (!strcmp(method, "HEAD") && !strcmp(route_method, "GET"));
}

static void allow_add(char *allow, size_t size, const char *method)
{
    size_t n = strlen(allow);
    const char *p = allow;

    /* Methods are few; a substring scan over ", "-separated tokens is enough. */
    while ((p = strstr(p, method))) {
        size_t len = strlen(method);
        if ((p == allow || p[-1] == ' ') && (p[len] == ',' || p[len] == '\0'))
            return;
        p += len;
    }
    snprintf(allow + n, size - n, "%s%s", n ? ", " : "", method);
}

/* Finds the route for req; on none, answers 404 (or leaves req->route NULL for
 * the fallback) or 405 with Allow. Returns true when it answered. */
static bool route_request(struct vg_exchange *ex)
{
    struct vg_server *srv = ex->srv;
    struct vg_req *req = &ex->req;
    char allow[256] = "";
    bool path_known = false;

    for (size_t i = 0; i < vg_builtin_nroutes + srv->conf.nroutes; i++) {
        const struct vg_route *r =
            i < vg_builtin_nroutes ? &vg_builtin_routes[i] : &srv->routes[i - vg_builtin_nroutes];
        long long ids[VG_MAX_PATH_IDS];
        int nids = 0;

        if (!vg_route_match(r->pattern, req->path, ids, &nids))
            continue;
        path_known = true;
        if (method_serves(r->method, req->method)) {
            req->route = r;
            memcpy(req->ids, ids, sizeof(ids));
            req->nids = nids;
            return false;
        }
        allow_add(allow, sizeof(allow), r->method);
        if (!strcmp(r->method, "GET"))
            allow_add(allow, sizeof(allow), "HEAD");
    }
    if (path_known) {
        vg_resp_error(&ex->resp, 405, "method_not_allowed", "method not allowed on this path",
                      NULL);
        vg_resp_header(&ex->resp, "Allow", allow);
        return true;
    }
    if (srv->conf.fallback)
        return false;
    vg_resp_error(&ex->resp, 404, "not_found", "no such resource", NULL);
    return true;
}

static void answer_too_large(struct vg_exchange *ex)
{
    char msg[96];

    snprintf(msg, sizeof(msg), "request body exceeds %zu bytes", ex->srv->body_limit);
    vg_resp_error(&ex->resp, 413, "body_too_large", msg, NULL);
}

/* The checks that need no body: hook, 404, 405, and 413 by Content-Length. */
static bool early_checks(struct vg_exchange *ex)
{
    struct vg_server *srv = ex->srv;
    const char *clen;

    if (srv->conf.before && srv->conf.before(&ex->req, &ex->resp)) {
        if (!vg_resp_is_set(&ex->resp))
            vg_resp_error(&ex->resp, 500, "internal_error", "internal error", NULL);
        return true;
    }
    if (route_request(ex))
        return true;
    clen = vg_req_header(&ex->req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (clen && strtoull(clen, NULL, 10) > srv->body_limit) {
        answer_too_large(ex);
        return true;
    }
    return false;
}

/* application/json, case-insensitive, optionally followed by parameters. */
static bool is_json_media_type(const char *ct)
{
    static const char want[] = "application/json";

    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, want, sizeof(want) - 1))
        return false;
    ct += sizeof(want) - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

static bool check_json_body(struct vg_exchange *ex)
{
    struct vg_req *req = &ex->req;
    const char *ct = vg_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    json_error_t err;

    if ((ct && !is_json_media_type(ct)) || (!ct && req->body)) {
        vg_resp_error(&ex->resp, 415, "unsupported_media_type",
                      "request body must be Content-Type: application/json", NULL);
        return false;
    }
    if (req->body)
        req->json = json_loadb(req->body, req->body_len, 0, &err);
    if (!json_is_object(req->json)) {
        vg_resp_error(&ex->resp, 400, "invalid_json", "request body must be a JSON object", NULL);
        return false;
    }
    return true;
}

static double next_uniform(void)
{
    return (double)(vg_rand64() >> 11) / (double)(1ULL << 53);
}

/* Returns true when the fault flags answered the request. */
static bool apply_faults(struct vg_exchange *ex)
{
    const struct vg_route *r = ex->req.route;
    const char *path = ex->req.path;
    struct vg_faults f;

    if ((r && (r->flags & VG_ROUTE_NOFAULT)) || !strcmp(path, "/healthz") ||
        !strncmp(path, "/admin", 6))
        return false;
    f = vg_faults_get();
    if (f.added_latency_ms > 0) {
        struct timespec ts = {f.added_latency_ms / 1000, (f.added_latency_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) && errno == EINTR)
            ;
    }
    if (f.error_rate > 0 && next_uniform() < f.error_rate) {
        vg_resp_error(&ex->resp, 503, "unavailable", "service unavailable (fault drill)", NULL);
        return true;
    }
    return false;
}

/* Everything after the body: 401 → 415 → 400 → faults → handler. */
static void late_checks(struct vg_exchange *ex)
{
    struct vg_server *srv = ex->srv;
    struct vg_req *req = &ex->req;
    const struct vg_route *r = req->route;

    if (ex->body) {
        ex->body[ex->body_len] = '\0';
        req->body = ex->body;
        req->body_len = ex->body_len;
    }
    if (!r) {
        if (!apply_faults(ex))
            srv->conf.fallback(req, &ex->resp);
        return;
    }
    if (r->flags & VG_ROUTE_ADMIN) {
        if (vg_admin_check(req, &ex->resp))
            return;
    } else if (r->flags & VG_ROUTE_AUTH) {
        int auth = srv->conf.authenticate ? srv->conf.authenticate(req) : -1;

        /* -2: the session store is down; the token may be fine, so not 401. */
        if (auth == -2) {
            vg_resp_error(&ex->resp, 503, "unavailable", "the session store is unavailable", NULL);
            return;
        }
        if (auth != 0) {
            vg_resp_error(&ex->resp, 401, "unauthenticated", "authentication required", NULL);
            return;
        }
    }
    if ((r->flags & VG_ROUTE_JSON) && !check_json_body(ex))
        return;
    if (apply_faults(ex))
        return;
    r->fn(req, &ex->resp);
}

static enum MHD_Result send_answer(struct vg_exchange *ex)
{
    struct vg_resp *resp = &ex->resp;
    struct MHD_Response *mr;
    enum MHD_Result ret;

    if (!vg_resp_is_set(resp)) {
        vg_error("%s %s: handler set no answer", ex->req.method, ex->req.path);
        vg_resp_error(resp, 500, "internal_error", "internal error", NULL);
    }
    mr = MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    for (size_t i = 0; i < resp->nheaders; i++)
        MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
    if (!vg_resp_has_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE))
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
    MHD_add_response_header(mr, "X-Request-Id", ex->req.request_id);
    ret = MHD_queue_response(ex->req.conn, (unsigned)resp->status, mr);
    MHD_destroy_response(mr);
    if (ret == MHD_YES)
        ex->queued = true;
    if (resp->status >= 500)
        vg_warn("%s %s -> %d (request %s)", ex->req.method, ex->req.path, resp->status,
                ex->req.request_id);
    return ret;
}

static void client_address(struct MHD_Connection *conn, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(out, size, "unknown");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        /* A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; rate limits
         * and the loopback check want the plain IPv4 form. */
        if (IN6_IS_ADDR_V4MAPPED(a6))
            inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)size);
        else
            inet_ntop(AF_INET6, a6, out, (socklen_t)size);
    }
}

static struct vg_exchange *exchange_new(struct vg_server *srv, struct MHD_Connection *conn,
                                        const char *url, const char *method)
{
    struct vg_exchange *ex = calloc(1, sizeof(*ex));
    const char *rid;

    if (!ex)
        return NULL;
    ex->srv = srv;
    /* MHD keeps url and method alive until the request completes. */
    ex->req.method = method;
    ex->req.path = url;
    ex->req.ctx = srv->conf.ctx;
    ex->req.conn = conn;
    rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (vg_request_id_valid(rid))
        snprintf(ex->req.request_id, sizeof(ex->req.request_id), "%s", rid);
    else
        vg_request_id_new(ex->req.request_id);
    client_address(conn, ex->req.client_addr, sizeof(ex->req.client_addr));
    return ex;
}

static void exchange_free(struct vg_exchange *ex)
{
    json_decref(ex->req.json);
    vg_resp_clear(&ex->resp);
    free(ex->body);
    free(ex);
}

/* Returns false when the body went over the limit (the exchange is then decided). */
static bool body_append(struct vg_exchange *ex, const char *data, size_t len)
{
    size_t limit = ex->srv->body_limit;

    if (len > limit - ex->body_len) {
        free(ex->body);
        ex->body = NULL;
        ex->body_len = 0;
        answer_too_large(ex);
        ex->decided = true;
        return false;
    }
    if (ex->body_len + len + 1 > ex->body_cap) {
        size_t cap = ex->body_cap ? ex->body_cap : 4096;
        char *grown;
        while (cap < ex->body_len + len + 1)
            cap *= 2;
        grown = realloc(ex->body, cap);
        if (!grown) {
            vg_resp_error(&ex->resp, 500, "internal_error", "out of memory", NULL);
            ex->decided = true;
            return false;
        }
        ex->body = grown;
        ex->body_cap = cap;
    }
    memcpy(ex->body + ex->body_len, data, len);
    ex->body_len += len;
    return true;
}

static bool has_body(struct vg_exchange *ex)
{
    const char *clen = vg_req_header(&ex->req, MHD_HTTP_HEADER_CONTENT_LENGTH);

    return (clen && strtoull(clen, NULL, 10) > 0) ||
           vg_req_header(&ex->req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct vg_server *srv = cls;
    struct vg_exchange *ex = *con_cls;

    if (!ex) {
        ex = exchange_new(srv, conn, url, method);
        if (!ex)
            return MHD_NO;
        *con_cls = ex;
        if (early_checks(ex)) {
            ex->decided = true;
            /* Answering before the body is read makes MHD refuse the body and
             * close the connection after the answer: what a 413 wants. A
             * request without a body is answered on the next call instead, so
             * that a 404 or 429 keeps the connection alive. */
            if (has_body(ex))
                return send_answer(ex);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t len = *upload_data_size;
        *upload_data_size = 0;
        if (ex->queued)
            return MHD_YES;
        if (ex->decided) {
            ex->discarded += len;
            return ex->discarded / DISCARD_FACTOR > srv->body_limit ? MHD_NO : MHD_YES;
        }
        body_append(ex, upload_data, len);
        return MHD_YES;
    }
    if (ex->queued)
        return MHD_YES;
    if (!ex->decided)
        late_checks(ex);
    return send_answer(ex);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    if (*con_cls) {
        exchange_free(*con_cls);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct vg_server *srv = cls;
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    vg_warn("%s: http: %s", srv->conf.name ? srv->conf.name : "server", msg);
}

int vg_server_start(const struct vg_server_conf *conf, struct vg_server **out)
{
    const char *bind = conf->bind && *conf->bind ? conf->bind : "127.0.0.1";
    unsigned flags =
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
        MHD_USE_POLL; /* select() stops at FD_SETSIZE (1024) descriptors: the gateway passes it */
    struct sockaddr_storage ss = {0};
    struct vg_server *srv;
    int err;

    if (conf->port < 0 || conf->port > 65535)
        return -EINVAL;
    if (inet_pton(AF_INET, bind, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)conf->port);
    } else if (inet_pton(AF_INET6, bind, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)conf->port);
        flags |= MHD_USE_DUAL_STACK;
    } else {
        vg_error("%s: bind address '%s' is not a numeric IPv4 or IPv6 address", conf->name, bind);
        return -EINVAL;
    }
    srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->conf = *conf;
    srv->body_limit = conf->body_limit ? conf->body_limit : VG_BODY_LIMIT;
    if (conf->nroutes) {
        srv->routes = calloc(conf->nroutes, sizeof(*srv->routes));
        if (!srv->routes) {
            free(srv);
            return -ENOMEM;
        }
        memcpy(srv->routes, conf->routes, conf->nroutes * sizeof(*srv->routes));
    }
    errno = 0;
    /* The logger goes first so that MHD reports problems with later options through it. */
    srv->daemon = MHD_start_daemon(flags, (uint16_t)conf->port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_SOCK_ADDR,
                                   &ss, MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
                                   MHD_OPTION_CONNECTION_LIMIT,
                                   conf->max_connections ? conf->max_connections : 1024u,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        err = errno ? -errno : -EADDRINUSE;
        vg_error("%s: cannot listen on %s port %d: %s", conf->name, bind, conf->port,
                 strerror(-err));
        free(srv->routes);
        free(srv);
        return err;
    }
    {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
        srv->port = di ? di->port : conf->port;
    }
    vg_info("%s: listening on %s port %d", conf->name, bind, srv->port);
    *out = srv;
    return 0;
}

int vg_server_port(const struct vg_server *srv)
{
    return srv->port;
}

void vg_server_stop(struct vg_server *srv)
{
    if (!srv)
        return;
    /* Joins every connection thread, so no handler runs after this. */
    MHD_stop_daemon(srv->daemon);
    free(srv->routes);
    free(srv);
}

void vg_server_conf_env(struct vg_server_conf *conf, const char *name, int default_port)
{
    conf->name = name;
    conf->bind = vg_env_str("VIGIL_BIND", "127.0.0.1");
    conf->port = (int)vg_env_int("VIGIL_PORT", default_port, 1, 65535);
}

/* ag_server: /metrics, /healthz, /readyz over libmicrohttpd. The agent links neither libvg nor
 * anything of the shop: it watches the shop and must not share its failure modes. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expo.h"

struct ag_server {
    struct MHD_Daemon *mhd;
    struct ag_server_opts opts;
    atomic_bool ready;
    unsigned port;
};

/* A scrape is streamed (chunked): rendered a piece at a time into a small buffer as MHD sends.
 * At 10,000 histogram series the exposition is ~30 MB; rendering it whole kept that much in
 * the agent's RSS (67 MiB in all, against a 40 MB goal). */
#define SCRAPE_PIECE (512u << 10)
/* A chunked response is sent from the connection's memory pool (MHD's default: 32 KiB, which
 * made a 30 MB scrape a thousand send() calls, 26 ms against 12). Pages are touched only by a
 * connection that uses them: a scrape. */
#define SCRAPE_POOL (SCRAPE_PIECE + (64u << 10))

struct scrape {
    struct ag_expo_cursor cur;
    struct ag_buf piece;
    size_t off; /* bytes of piece already handed to MHD */
};

static void scrape_done(void *cls)
{
    struct scrape *sc = cls;
    ag_expo_end(&sc->cur);
    ag_buf_free(&sc->piece);
    free(sc);
}

static ssize_t scrape_read(void *cls, uint64_t pos, char *out, size_t max)
{
    struct scrape *sc = cls;
    if (sc->off == sc->piece.len) {
        sc->piece.len = 0;
        sc->off = 0;
        if (ag_expo_next(&sc->cur, &sc->piece, SCRAPE_PIECE) < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (sc->piece.len == 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = sc->piece.len - sc->off;
    if (n > max)
        n = max;
    memcpy(out, sc->piece.data + sc->off, n);
    sc->off += n;
    return (ssize_t)n;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result metrics(struct ag_server *srv, struct MHD_Connection *conn)
{
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    enum ag_expo_format fmt = ag_expo_negotiate(accept);
    struct scrape *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    if (srv->opts.before_render)
        srv->opts.before_render(srv->opts.ctx);
    ag_expo_begin(&sc->cur, srv->opts.reg, fmt);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SCRAPE_PIECE,
                                                               scrape_read, sc, scrape_done);
    if (!r) {
        scrape_done(sc);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ag_expo_content_type(fmt));
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state)
{
    struct ag_server *srv = cls;
    /* The first call only announces the headers; answer on the second, as MHD intends. */
    if (!*state) {
        *state = srv;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* bodies are not read by any endpoint here */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0)
        return metrics(srv, conn);
    if (strcmp(url, "/healthz") == 0)
        return text(conn, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0)
        return atomic_load(&srv->ready) ? text(conn, MHD_HTTP_OK, "ready\n")
                                        : text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    return text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void describe(const struct sockaddr *sa, char *out, size_t outsz)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
        snprintf(out, outsz, "[%s]:%u", host, port);
        return;
    }
    const struct sockaddr_in *a = (const void *)sa;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    snprintf(out, outsz, "%s:%u", host, ntohs(a->sin_port));
}

/* Binding ourselves gives the real errno (EADDRINUSE, EACCES) for the one-line error. */
static int listen_socket(const struct ag_server_opts *o, unsigned *port)
{
    int fd = socket(o->addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1, err;
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, o->addr, o->addr_len) < 0 || listen(fd, 64) < 0) {
        err = -errno;
        close(fd);
        return err;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int ag_server_start(const struct ag_server_opts *opts, struct ag_server **out)
{
    char where[80];
    describe(opts->addr, where, sizeof(where));
    struct ag_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->opts = *opts;
    int fd = listen_socket(opts, &srv->port);
    if (fd < 0) {
        fprintf(stderr, "vigil-agent: cannot listen on %s: %s (set listen: or --listen)\n", where,
                strerror(-fd));
        free(srv);
        return fd;
    }
    /* MHD takes the listening socket and closes it in MHD_stop_daemon(). */
    srv->mhd =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle,
                         srv, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 64u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                         (size_t)SCRAPE_POOL, MHD_OPTION_END);
    if (!srv->mhd) {
        fprintf(stderr, "vigil-agent: cannot start the HTTP server on %s\n", where);
        close(fd);
        free(srv);
        return -EIO;
    }
    *out = srv;
    return 0;
}

void ag_server_stop(struct ag_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->mhd); /* releases pending responses: scrape_done() runs first */
    free(srv);
}

void ag_server_set_ready(struct ag_server *srv, bool ready)
{
    atomic_store(&srv->ready, ready);
}

unsigned ag_server_port(struct ag_server *srv)
{
    return srv->port;
}

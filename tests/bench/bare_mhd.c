/* bare-mhd: the benchmark's floor for the services' HTTP stack.
 *
 * libmicrohttpd in the mode vg_http uses (thread per connection plus the
 * internal polling thread), answering every request with one JSON document
 * held in memory, with no routing, parsing or headers beyond Content-Type.
 * scripts/bench.sh compares vg-product and vg-gateway against it.
 *
 *   bare-mhd PORT FILE     serves FILE's bytes on 127.0.0.1:PORT until SIGTERM */
#include <microhttpd.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *body;
static size_t body_len;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **state)
{
    static int first_call;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    if (*state == NULL) { /* headers only so far: ask for the (empty) body */
        *state = &first_call;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body is read and dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    resp = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static int load(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (!f)
        return -errno;
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        fclose(f);
        return -EIO;
    }
    body = malloc((size_t)n + 1);
    body_len = body ? fread(body, 1, (size_t)n, f) : 0;
    fclose(f);
    return body && body_len == (size_t)n ? 0 : -EIO;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    sigset_t set;
    char *end;
    long port;
    int sig, err;

    if (argc != 3) {
        fprintf(stderr, "usage: bare-mhd PORT FILE\n");
        return 2;
    }
    port = strtol(argv[1], &end, 10);
    if (*end || port < 1 || port > 65535) {
        fprintf(stderr, "bare-mhd: PORT: not a port number: '%s'\n", argv[1]);
        return 2;
    }
    err = load(argv[2]);
    if (err) {
        fprintf(stderr, "bare-mhd: %s: %s\n", argv[2], strerror(-err));
        return 1;
    }
    /* Block the stop signals before MHD starts its threads; wait for them below. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ERROR_LOG | MHD_USE_POLL,
                         (uint16_t)port, NULL, NULL, on_request, NULL,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 1024u,
                         MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "bare-mhd: cannot listen on port %ld\n", port);
        return 1;
    }
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    free(body);
    return 0;
}

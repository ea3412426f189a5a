#include "vg_amqp.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vg_log.h"

#define AMQP_CHANNEL           1
#define PUB_CONNECT_TIMEOUT_MS 2000
#define PUB_RETRY_MS           1000 /* after a failed connect, publishes fail fast this long */
#define CONSUMER_HEARTBEAT_S   30
#define STOP_CHECK_MS          250
#define BACKOFF_MIN_MS         250
#define BACKOFF_MAX_MS         5000
#define REJECT_PAUSE_MS        500 /* a requeued message comes straight back: do not spin on it */

/* A parsed amqp:// URL; the info's strings point into buf. */
struct amqp_target {
    char *buf;
    struct amqp_connection_info ci;
};

static int target_parse(const char *url, struct amqp_target *t)
{
    memset(t, 0, sizeof(*t));
    t->buf = url ? strdup(url) : NULL;
    if (!t->buf)
        return -1;
    amqp_default_connection_info(&t->ci);
    if (amqp_parse_url(t->buf, &t->ci) != AMQP_STATUS_OK) {
        vg_error("amqp: not an amqp://user:pass@host:port/vhost URL");
        free(t->buf);
        t->buf = NULL;
        return -1;
    }
    /* "amqp://host:port/" names the empty vhost; RabbitMQ's default is "/". */
    if (!t->ci.vhost || !*t->ci.vhost)
        t->ci.vhost = (char *)"/";
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval tv_ms(long long ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

    return tv;
}

/* Says why an AMQP call failed without naming the URL (it holds the password). */
static void reply_why(amqp_rpc_reply_t r, char *why, size_t size)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(why, size, "ok");
        break;
    case AMQP_RESPONSE_NONE:
        snprintf(why, size, "no reply");
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(why, size, "%s", amqp_error_string2(r.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;
            snprintf(why, size, "connection closed: %.*s", (int)m->reply_text.len,
                     (const char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;
            snprintf(why, size, "channel closed: %.*s", (int)m->reply_text.len,
                     (const char *)m->reply_text.bytes);
        } else {
            snprintf(why, size, "server error (method 0x%08x)", r.reply.id);
        }
        break;
    }
}

static bool rpc_ok(amqp_connection_state_t conn, char *why, size_t size)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);

    reply_why(r, why, size);
    return r.reply_type == AMQP_RESPONSE_NORMAL;
}

/* Opens a connection with channel 1 and declares the binding's topology. */
static amqp_connection_state_t open_declared(const struct amqp_target *t,
                                             const struct vg_amqp_binding *b, int heartbeat,
                                             long timeout_ms, char *why, size_t size)
{
    amqp_connection_state_t conn = amqp_new_connection();
    struct timeval tv = tv_ms(timeout_ms);
    amqp_socket_t *sock = conn ? amqp_tcp_socket_new(conn) : NULL;
    amqp_rpc_reply_t r;
    int rc;

    snprintf(why, size, "out of memory");
    if (!sock)
        goto fail;
    rc = amqp_socket_open_noblock(sock, t->ci.host, t->ci.port, &tv);
    if (rc != AMQP_STATUS_OK) {
        snprintf(why, size, "%s", amqp_error_string2(rc));
        goto fail;
    }
    amqp_set_handshake_timeout(conn, &tv);
    amqp_set_rpc_timeout(conn, &tv);
    r = amqp_login(conn, t->ci.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat, AMQP_SASL_METHOD_PLAIN,
                   t->ci.user, t->ci.password);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        reply_why(r, why, size);
        goto fail;
    }
    amqp_channel_open(conn, AMQP_CHANNEL);
    if (!rpc_ok(conn, why, size))
        goto fail;
    /* Declares are idempotent: both sides run them, whichever starts first. */
    amqp_exchange_declare(conn, AMQP_CHANNEL, amqp_cstring_bytes(b->exchange),
                          amqp_cstring_bytes("topic"), 0, 1, 0, 0, amqp_empty_table);
    if (!rpc_ok(conn, why, size))
        goto fail;
    if (b->queue) {
        amqp_queue_declare(conn, AMQP_CHANNEL, amqp_cstring_bytes(b->queue), 0, 1, 0, 0,
                           amqp_empty_table);
        if (!rpc_ok(conn, why, size))
            goto fail;
        amqp_queue_bind(conn, AMQP_CHANNEL, amqp_cstring_bytes(b->queue),
                        amqp_cstring_bytes(b->exchange), amqp_cstring_bytes(b->routing_key),
                        amqp_empty_table);
        if (!rpc_ok(conn, why, size))
            goto fail;
    }
    return conn;
fail:
    if (conn)
        amqp_destroy_connection(conn);
    return NULL;
}

static void close_conn(amqp_connection_state_t conn, bool graceful)
{
    if (!conn)
        return;
    if (graceful) {
        amqp_channel_close(conn, AMQP_CHANNEL, AMQP_REPLY_SUCCESS);
        amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(conn);
}

/* Nothing is expected on an idle publisher connection: readable means the
 * broker closed it (restart, connection.close). */
static bool idle_conn_alive(amqp_connection_state_t conn)
{
    struct pollfd pfd = {.fd = amqp_get_sockfd(conn), .events = POLLIN};

    return pfd.fd >= 0 && poll(&pfd, 1, 0) == 0 && !amqp_frames_enqueued(conn) &&
           !amqp_data_in_buffer(conn);
}

struct vg_amqp_pub {
    pthread_mutex_t lock;
    struct amqp_target target;
    struct vg_amqp_binding binding; /* strings owned */
    amqp_connection_state_t conn;   /* NULL while disconnected */
    uint64_t next_tag;              /* delivery tag the broker gives the next publish */
    long long retry_at_ms;
    bool warned; /* one line per outage, not one per publish */
};

int vg_amqp_pub_create(const char *url, const struct vg_amqp_binding *binding,
                       struct vg_amqp_pub **out)
{
    struct vg_amqp_pub *pub = calloc(1, sizeof(*pub));

    if (!pub)
        return -ENOMEM;
    if (!binding || !binding->exchange || target_parse(url, &pub->target)) {
        free(pub);
        return -EINVAL;
    }
    pub->binding.exchange = strdup(binding->exchange);
    pub->binding.queue = binding->queue ? strdup(binding->queue) : NULL;
    pub->binding.routing_key = strdup(binding->routing_key ? binding->routing_key : "");
    pthread_mutex_init(&pub->lock, NULL);
    *out = pub;
    if (!pub->binding.exchange || !pub->binding.routing_key ||
        (binding->queue && !pub->binding.queue)) {
        vg_amqp_pub_destroy(pub);
        return -ENOMEM;
    }
    return 0;
}

void vg_amqp_pub_destroy(struct vg_amqp_pub *pub)
{
    if (!pub)
        return;
    close_conn(pub->conn, true);
    pthread_mutex_destroy(&pub->lock);
    free((char *)pub->binding.exchange);
    free((char *)pub->binding.queue);
    free((char *)pub->binding.routing_key);
    free(pub->target.buf);
    free(pub);
}

static void pub_drop(struct vg_amqp_pub *pub)
{
    close_conn(pub->conn, false);
    pub->conn = NULL;
}

/* Called with pub->lock held. */
static bool pub_ensure(struct vg_amqp_pub *pub)
{
    char why[256];

    if (pub->conn && idle_conn_alive(pub->conn))
        return true;
    pub_drop(pub);
    if (now_ms() < pub->retry_at_ms)
        return false;
    pub->conn =
        open_declared(&pub->target, &pub->binding, 0, PUB_CONNECT_TIMEOUT_MS, why, sizeof(why));
    if (pub->conn) {
        amqp_confirm_select(pub->conn, AMQP_CHANNEL);
        if (rpc_ok(pub->conn, why, sizeof(why))) {
            pub->next_tag = 1;
            pub->warned = false;
            vg_info("amqp: publisher connected to %s:%d", pub->target.ci.host, pub->target.ci.port);
            return true;
        }
        pub_drop(pub);
    }
    if (!pub->warned)
        vg_warn("amqp: publisher cannot connect to %s:%d: %s (retrying)", pub->target.ci.host,
                pub->target.ci.port, why);
    pub->warned = true;
    pub->retry_at_ms = now_ms() + PUB_RETRY_MS;
    return false;
}

/* Waits for the broker's verdict on delivery tag `tag`: 0 ack, -1 otherwise. */
static int wait_confirm(struct vg_amqp_pub *pub, uint64_t tag, long timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;

    for (;;) {
        long long left = deadline - now_ms();
        struct timeval tv = tv_ms(left > 0 ? left : 0);
        amqp_frame_t frame;
        int rc = amqp_simple_wait_frame_noblock(pub->conn, &frame, &tv);

        if (rc != AMQP_STATUS_OK) {
            /* On timeout a late ack could still arrive: start clean instead. */
            vg_warn("amqp: publish not confirmed: %s", amqp_error_string2(rc));
            pub_drop(pub);
            return -1;
        }
        if (frame.frame_type != AMQP_FRAME_METHOD)
            continue;
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            if (ack->delivery_tag == tag || (ack->multiple && ack->delivery_tag >= tag))
                return 0;
            break;
        }
        case AMQP_BASIC_NACK_METHOD: {
            amqp_basic_nack_t *nack = frame.payload.method.decoded;
            if (nack->delivery_tag == tag || (nack->multiple && nack->delivery_tag >= tag)) {
                vg_warn("amqp: broker refused the message (basic.nack)");
                return -1;
            }
            break;
        }
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD:
            vg_warn("amqp: broker closed the publisher's channel");
            pub_drop(pub);
            return -1;
        default:
            break;
        }
    }
}

int vg_amqp_publish(struct vg_amqp_pub *pub, const char *routing_key, const char *body, size_t len,
                    long timeout_ms)
{
    amqp_basic_properties_t props = {
        ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG,
        .content_type = amqp_cstring_bytes("application/json"),
        .delivery_mode = AMQP_DELIVERY_PERSISTENT,
    };
    amqp_bytes_t payload = {len, (void *)body};
    int rc = -1;

    pthread_mutex_lock(&pub->lock);
    if (!pub_ensure(pub))
        goto out;
    if (amqp_basic_publish(pub->conn, AMQP_CHANNEL, amqp_cstring_bytes(pub->binding.exchange),
                           amqp_cstring_bytes(routing_key), 0, 0, &props,
                           payload) != AMQP_STATUS_OK) {
        vg_warn("amqp: publish failed: connection lost");
        pub_drop(pub);
        goto out;
    }
    rc = wait_confirm(pub, pub->next_tag++, timeout_ms > 0 ? timeout_ms : 2000);
    if (pub->conn)
        amqp_maybe_release_buffers(pub->conn);
out:
    pthread_mutex_unlock(&pub->lock);
    return rc;
}

bool vg_amqp_pub_connected(struct vg_amqp_pub *pub)
{
    bool up;

    pthread_mutex_lock(&pub->lock);
    up = pub_ensure(pub);
    pthread_mutex_unlock(&pub->lock);
    return up;
}

static void sleep_unless_stopped(volatile sig_atomic_t *stop, long ms)
{
    while (ms > 0 && !*stop) {
        long slice = ms < STOP_CHECK_MS ? ms : STOP_CHECK_MS;
        struct timespec ts = {0, slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* Handles one delivery; returns -1 when the connection is no longer usable. */
static int deliver(amqp_connection_state_t conn, amqp_envelope_t *env, vg_amqp_msg_fn fn, void *ctx,
                   volatile sig_atomic_t *stop)
{
    size_t len = env->message.body.len;
    char *body = malloc(len + 1);
    int verdict = -1;
    int rc;

    /* Handlers get a NUL-terminated copy so that they may parse it as a string. */
    if (body) {
        memcpy(body, env->message.body.bytes, len);
        body[len] = '\0';
        verdict = fn(ctx, body, len);
        free(body);
    }
    if (verdict == 0)
        rc = amqp_basic_ack(conn, AMQP_CHANNEL, env->delivery_tag, 0);
    else
        rc = amqp_basic_reject(conn, AMQP_CHANNEL, env->delivery_tag, 1);
    if (rc != AMQP_STATUS_OK)
        return -1;
    if (verdict != 0)
        sleep_unless_stopped(stop, REJECT_PAUSE_MS);
    return 0;
}

/* Returns when *stop is set (0) or the connection failed (-1). */
static int consume_loop(amqp_connection_state_t conn, vg_amqp_msg_fn fn, void *ctx,
                        volatile sig_atomic_t *stop)
{
    while (!*stop) {
        struct timeval tv = tv_ms(STOP_CHECK_MS);
        amqp_envelope_t env;
        amqp_rpc_reply_t r;
        amqp_frame_t frame;
        char why[256];

        amqp_maybe_release_buffers(conn);
        r = amqp_consume_message(conn, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            int rc = deliver(conn, &env, fn, ctx, stop);
            amqp_destroy_envelope(&env);
            if (rc)
                return -1;
            continue;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            continue;
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            /* A frame other than a delivery: read it to learn what happened. */
            tv = tv_ms(STOP_CHECK_MS);
            if (amqp_simple_wait_frame_noblock(conn, &frame, &tv) != AMQP_STATUS_OK)
                return -1;
            if (frame.frame_type == AMQP_FRAME_METHOD &&
                (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                 frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
                 frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD)) {
                vg_warn("amqp: broker ended the consumer (method 0x%08x)", frame.payload.method.id);
                return -1;
            }
            continue;
        }
        reply_why(r, why, sizeof(why));
        vg_warn("amqp: consumer connection lost: %s", why);
        return -1;
    }
    return 0;
}

static amqp_connection_state_t consumer_open(const struct amqp_target *t,
                                             const struct vg_amqp_binding *b, int prefetch,
                                             char *why, size_t size)
{
    amqp_connection_state_t conn =
        open_declared(t, b, CONSUMER_HEARTBEAT_S, PUB_CONNECT_TIMEOUT_MS, why, size);

    if (!conn)
        return NULL;
    amqp_basic_qos(conn, AMQP_CHANNEL, 0, (uint16_t)(prefetch > 0 ? prefetch : 1), 0);
    if (!rpc_ok(conn, why, size))
        goto fail;
    amqp_basic_consume(conn, AMQP_CHANNEL, amqp_cstring_bytes(b->queue), amqp_empty_bytes, 0, 0, 0,
                       amqp_empty_table);
    if (!rpc_ok(conn, why, size))
        goto fail;
    return conn;
fail:
    amqp_destroy_connection(conn);
    return NULL;
}

int vg_amqp_consume(const char *url, const struct vg_amqp_binding *binding, int prefetch,
                    vg_amqp_msg_fn fn, void *ctx, volatile sig_atomic_t *stop)
{
    long backoff = BACKOFF_MIN_MS;
    struct amqp_target t;
    bool warned = false;

    if (!binding || !binding->exchange || !binding->queue || !fn || !stop)
        return -1;
    if (target_parse(url, &t))
        return -1;
    while (!*stop) {
        char why[256];
        amqp_connection_state_t conn = consumer_open(&t, binding, prefetch, why, sizeof(why));
        int rc;

        if (!conn) {
            /* One line per outage, not one per retry. */
            if (!warned)
                vg_warn("amqp: consumer cannot connect to %s:%d: %s (retrying)", t.ci.host,
                        t.ci.port, why);
            warned = true;
            sleep_unless_stopped(stop, backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        vg_info("amqp: consuming %s on %s:%d", binding->queue, t.ci.host, t.ci.port);
        warned = false;
        backoff = BACKOFF_MIN_MS;
        rc = consume_loop(conn, fn, ctx, stop);
        close_conn(conn, rc == 0);
    }
    free(t.buf);
    return 0;
}

#include "tracking.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "localcache.h"
#include "vg_log.h"

#define KEY_PREFIX "product:"
#define CHANNEL    "__redis__:invalidate"
/* An idle channel is PINGed this often; one silent this long is taken for
 * dead, and the lease granted by each answer lasts as long. */
#define PING_EVERY_MS 1000
#define LEASE_MS      3000
/* poll's timeout: how often the thread looks at the clock when nothing comes. */
#define TICK_MS        250
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
/* While Redis stays unreachable, one warning per this many failed attempts. */
#define WARN_EVERY_FAILURES 15

struct tracking {
    struct localcache *lc;
    char *host;
    int port;
    int timeout_ms;
    int wake[2]; /* tracking_stop writes a byte; the thread polls the read end */
    atomic_bool stop;
    atomic_int fd;        /* the subscriber's socket while subscribed, else -1 */
    atomic_bool applying; /* from reading the socket until what it held is applied */
    pthread_t thread;
    char why[192]; /* why the last attempt or session ended; thread only */
};

long long tracking_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_why(struct tracking *t, const char *step, const redisContext *ctx,
                    const redisReply *r)
{
    const char *detail = "unexpected reply";

    if (r && r->type == REDIS_REPLY_ERROR)
        detail = r->str;
    else if (!r && ctx)
        detail = ctx->errstr[0] ? ctx->errstr : "no reply";
    snprintf(t->why, sizeof(t->why), "%s: %s", step, detail);
}

/* Runs one setup command; false (with t->why) unless its reply has type want. */
static bool setup_cmd(struct tracking *t, redisContext *ctx, const char *step, int want,
                      long long *integer, const char *fmt, ...)
{
    redisReply *r;
    bool ok;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(ctx, fmt, ap);
    va_end(ap);
    ok = r && r->type == want;
    if (!ok)
        set_why(t, step, ctx, r);
    else if (integer)
        *integer = r->integer;
    if (r)
        freeReplyObject(r);
    return ok;
}

/* Connects and subscribes; NULL (with t->why) on any failure. */
static redisContext *subscribe(struct tracking *t)
{
    struct timeval tv = {t->timeout_ms / 1000, (t->timeout_ms % 1000) * 1000};
    redisContext *ctx = redisConnectWithTimeout(t->host, t->port, tv);
    long long id = 0;

    if (!ctx || ctx->err) {
        snprintf(t->why, sizeof(t->why), "cannot connect: %s", ctx ? ctx->errstr : "out of memory");
        goto fail;
    }
    /* Bounds the setup commands and the PINGs' writes; the thread reads only
     * what poll(2) says is there. */
    redisSetTimeout(ctx, tv);
    if (!setup_cmd(t, ctx, "CLIENT ID", REDIS_REPLY_INTEGER, &id, "CLIENT ID"))
        goto fail;
    /* Redirecting to itself: RESP2 delivers invalidations only as messages on
     * the channel, to a client that has subscribed to it (below). */
    if (!setup_cmd(t, ctx, "CLIENT TRACKING", REDIS_REPLY_STATUS, NULL,
                   "CLIENT TRACKING on REDIRECT %lld BCAST PREFIX %s", id, KEY_PREFIX))
        goto fail;
    if (!setup_cmd(t, ctx, "SUBSCRIBE", REDIS_REPLY_ARRAY, NULL, "SUBSCRIBE %s", CHANNEL))
        goto fail;
    return ctx;
fail:
    if (ctx)
        redisFree(ctx);
    return NULL;
}

/* Only the canonical names cache.c uses (product:<id>, no sign, no leading
 * zero) map to an entry; any other product:* name cannot be one of ours. */
static bool product_key_id(const redisReply *key, long long *id)
{
    const size_t plen = sizeof(KEY_PREFIX) - 1;
    long long v = 0;

    if (key->type != REDIS_REPLY_STRING || key->len <= plen || key->len > plen + 18 ||
        memcmp(key->str, KEY_PREFIX, plen) != 0 || key->str[plen] == '0')
        return false;
    for (size_t i = plen; i < key->len; i++) {
        if (key->str[i] < '0' || key->str[i] > '9')
            return false;
        v = v * 10 + (key->str[i] - '0');
    }
    *id = v;
    return true;
}

/* Applies one message of the subscription; false when the stream is not what
 * a subscribed RESP2 connection sends (the session is then restarted). */
static bool apply(struct tracking *t, const redisReply *r)
{
    const redisReply *keys;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(t->why, sizeof(t->why), "unexpected message of type %d", r->type);
        return false;
    }
    if (!strcmp(r->element[0]->str, "pong"))
        return true;
    if (strcmp(r->element[0]->str, "message") != 0 || r->elements != 3) {
        snprintf(t->why, sizeof(t->why), "unexpected %s message", r->element[0]->str);
        return false;
    }
    keys = r->element[2];
    if (keys->type != REDIS_REPLY_ARRAY) {
        /* A null list: FLUSHDB or FLUSHALL. */
        localcache_flush(t->lc);
        return true;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        long long id;
        if (product_key_id(keys->element[i], &id))
            localcache_invalidate(t->lc, id);
    }
    return true;
}

/* Reads what poll(2) reported and applies every complete message. On failure
 * applying stays set: the caller ends the lease before clearing it. */
static bool drain(struct tracking *t, redisContext *ctx)
{
    void *reply = NULL;

    atomic_store(&t->applying, true);
    if (redisBufferRead(ctx) != REDIS_OK) {
        set_why(t, "read", ctx, NULL);
        return false;
    }
    for (;;) {
        if (redisGetReplyFromReader(ctx, &reply) != REDIS_OK) {
            set_why(t, "read", ctx, NULL);
            return false;
        }
        if (!reply)
            break;
        if (!apply(t, reply)) {
            freeReplyObject(reply);
            return false;
        }
        freeReplyObject(reply);
    }
    atomic_store(&t->applying, false);
    return true;
}

static bool ping(struct tracking *t, redisContext *ctx)
{
    int done = 0;

    if (redisAppendCommand(ctx, "PING") != REDIS_OK) {
        set_why(t, "PING", ctx, NULL);
        return false;
    }
    while (!done) {
        if (redisBufferWrite(ctx, &done) != REDIS_OK) {
            set_why(t, "PING", ctx, NULL);
            return false;
        }
    }
    return true;
}

/* Follows the subscription until it fails, falls silent, or stop is asked. */
static void listen_channel(struct tracking *t, redisContext *ctx)
{
    long long heard = tracking_clock_ms(), pinged = heard;

    while (!atomic_load(&t->stop)) {
        struct pollfd pfd[2] = {{.fd = ctx->fd, .events = POLLIN},
                                {.fd = t->wake[0], .events = POLLIN}};
        long long now;

        if (poll(pfd, 2, TICK_MS) < 0 && errno != EINTR) {
            snprintf(t->why, sizeof(t->why), "poll: %s", strerror(errno));
            return;
        }
        if (pfd[0].revents) {
            if (!drain(t, ctx))
                return;
            heard = tracking_clock_ms();
            localcache_renew(t->lc, heard + LEASE_MS);
        }
        now = tracking_clock_ms();
        if (now - heard >= LEASE_MS) {
            snprintf(t->why, sizeof(t->why), "no answer to PING for %lld ms", now - heard);
            return;
        }
        if (now - heard >= PING_EVERY_MS && now - pinged >= PING_EVERY_MS) {
            if (!ping(t, ctx))
                return;
            pinged = now;
        }
    }
}

static void wait_or_stop(struct tracking *t, int ms)
{
    struct pollfd pfd = {.fd = t->wake[0], .events = POLLIN};

    if (!atomic_load(&t->stop))
        poll(&pfd, 1, ms);
}

static void run_session(struct tracking *t, redisContext *ctx)
{
    /* A read that began while the channel was down holds a ticket from then,
     * and the changes since were announced to nobody: moving every generation
     * on refuses its insert. */
    localcache_flush(t->lc);
    atomic_store(&t->fd, ctx->fd);
    localcache_renew(t->lc, tracking_clock_ms() + LEASE_MS);
    vg_info("tracking: subscribed to %s; local product cache on", CHANNEL);
    listen_channel(t, ctx);
    /* The lease ends before the socket closes: a reader that polled the old
     * descriptor number still fails the lease check. */
    localcache_disable(t->lc);
    atomic_store(&t->fd, -1);
    atomic_store(&t->applying, false);
}

static void *tracking_main(void *arg)
{
    struct tracking *t = arg;
    int backoff = BACKOFF_MIN_MS;
    unsigned failures = 0;

    while (!atomic_load(&t->stop)) {
        redisContext *ctx = subscribe(t);

        if (ctx) {
            failures = 0;
            backoff = BACKOFF_MIN_MS;
            run_session(t, ctx);
            redisFree(ctx);
            if (!atomic_load(&t->stop))
                vg_warn("tracking: lost the invalidation channel (%s); local product cache "
                        "off until resubscribed",
                        t->why);
        } else if (failures++ % WARN_EVERY_FAILURES == 0) {
            vg_warn("tracking: redis %s:%d: %s; product detail is read from Redis only, "
                    "retrying",
                    t->host, t->port, t->why);
        }
        wait_or_stop(t, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

int tracking_start(struct localcache *lc, const char *host, int port, int timeout_ms,
                   struct tracking **out)
{
    struct tracking *t = calloc(1, sizeof(*t));
    int err;

    if (!t)
        return -ENOMEM;
    t->lc = lc;
    t->port = port;
    t->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    atomic_init(&t->fd, -1);
    t->host = strdup(host);
    if (!t->host) {
        free(t);
        return -ENOMEM;
    }
    if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        err = -errno;
        free(t->host);
        free(t);
        return err;
    }
    err = -pthread_create(&t->thread, NULL, tracking_main, t);
    if (err) {
        close(t->wake[0]);
        close(t->wake[1]);
        free(t->host);
        free(t);
        return err;
    }
    *out = t;
    return 0;
}

void tracking_stop(struct tracking *t)
{
    if (!t)
        return;
    atomic_store(&t->stop, true);
    /* Only this call writes the pipe, once: the byte always fits. */
    if (write(t->wake[1], "x", 1) != 1)
        vg_warn("tracking: cannot wake the thread: %s", strerror(errno));
    pthread_join(t->thread, NULL);
    close(t->wake[0]);
    close(t->wake[1]);
    free(t->host);
    free(t);
}

bool tracking_caught_up(struct tracking *t)
{
    struct pollfd pfd = {.fd = atomic_load(&t->fd), .events = POLLIN};

    if (pfd.fd < 0 || poll(&pfd, 1, 0) != 0)
        return false;
    /* Checked after the poll: bytes the thread took off the socket before it
     * have been applied, unless the thread is still applying them. */
    return !atomic_load(&t->applying);
}

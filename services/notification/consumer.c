/* consumer: one message at a time on the consumer thread.
 *
 * Exactly-once intent: the notifications row (primary key order id) is the
 * record that a mail went out. The order row is locked FOR NO KEY UPDATE for
 * the whole check-send-record transaction, so a redelivery handled by another
 * instance at the same moment waits and then finds the row, instead of
 * mailing twice. The one window left is a crash between the SMTP server's
 * acceptance and COMMIT: the redelivery mails again (SMTP is not
 * transactional); Message-ID <order-N@vigil.local> lets mail clients fold it. */
#include "consumer.h"

#include "vg_amqp.h"
#include "vg_log.h"
#include "vg_pg.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000

#define SQL_LOCK_ORDER "SELECT status FROM orders WHERE id = $1 FOR NO KEY UPDATE"
#define SQL_SENT       "SELECT 1 FROM notifications WHERE order_id = $1"
#define SQL_RECORD                                                                                 \
    "INSERT INTO notifications (order_id, email) VALUES ($1, $2) ON CONFLICT (order_id) DO "       \
    "NOTHING"
#define SQL_CONFIRM                                                                                \
    "UPDATE orders SET status = 'confirmed', updated_at = now() WHERE id = $1 AND status = 'paid'"

enum outcome {
    SENT,    /* mailed and recorded: commit, ack */
    SKIPPED, /* already mailed, or nothing to mail: ack */
    RETRY,   /* reject with requeue after backoff */
};

/* Sleeps ms in short slices so SIGTERM is not held up by a long backoff. */
static void sleep_unless_stopped(long ms, volatile sig_atomic_t *stop)
{
    while (ms > 0 && !*stop) {
        long slice = ms < 100 ? ms : 100;
        struct timespec ts = {0, slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
}

/* A bounded exponential backoff: a dead SMTP sink or database must not spin
 * the message between broker and consumer. */
static int retry_later(struct notify_consumer *c)
{
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS)
        c->backoff_ms = BACKOFF_MAX_MS;
    sleep_unless_stopped(c->backoff_ms, c->stop);
    return -1;
}

/* Validates the message; returns 0 and fills order (borrowing from root). */
static int parse_order(json_t *root, struct notify_order *order)
{
    json_t *id = json_object_get(root, "order_id");
    json_t *user = json_object_get(root, "user_id");
    json_t *total = json_object_get(root, "total_cents");

    if (!json_is_integer(id) || json_integer_value(id) <= 0 || !json_is_integer(user) ||
        !json_is_integer(total) || json_integer_value(total) < 0)
        return -1;
    order->order_id = json_integer_value(id);
    order->user_id = json_integer_value(user);
    order->total_cents = json_integer_value(total);
    order->email = json_string_value(json_object_get(root, "email"));
    order->currency = json_string_value(json_object_get(root, "currency"));
    if (!notify_addr_valid(order->email))
        return -1;
    if (!order->currency || strlen(order->currency) != 3)
        return -1;
    for (int i = 0; i < 3; i++) {
        if (order->currency[i] < 'A' || order->currency[i] > 'Z')
            return -1;
    }
    return 0;
}

/* Runs one statement; returns the result when it succeeded, else NULL (logged). */
static PGresult *run(struct vg_pg_conn *conn, const char *name, const char *sql, int nparams,
                     const char *const *params)
{
    PGresult *res = vg_pg_exec(conn, name, sql, nparams, params);

    if (res && vg_pg_ok(res))
        return res;
    if (res)
        vg_error("%s failed: %s", name, PQresultErrorMessage(res));
    PQclear(res);
    return NULL;
}

/* Inside an open transaction: lock, check, send, record. */
static enum outcome notify_in_tx(struct notify_consumer *c, struct vg_pg_conn *conn,
                                 const struct notify_order *order)
{
    char id[24];
    const char *params[2] = {id, order->email};
    PGresult *res;
    bool exists;

    snprintf(id, sizeof(id), "%lld", order->order_id);
    res = run(conn, "notify_lock_order", SQL_LOCK_ORDER, 1, params);
    if (!res)
        return RETRY;
    exists = PQntuples(res) == 1;
    PQclear(res);
    if (!exists) {
        /* order.placed is published after the order committed: an unknown id
         * is a bad message, and requeueing it would loop forever. */
        vg_warn("order.placed for unknown order %lld: dropped", order->order_id);
        return SKIPPED;
    }
    res = run(conn, "notify_sent", SQL_SENT, 1, params);
    if (!res)
        return RETRY;
    exists = PQntuples(res) == 1;
    PQclear(res);
    if (exists) {
        vg_info("order %lld: confirmation already sent (redelivery)", order->order_id);
        return SKIPPED;
    }
    if (notify_mail_send(&c->mail, order))
        return RETRY;
    res = run(conn, "notify_record", SQL_RECORD, 2, params);
    if (!res)
        return RETRY;
    PQclear(res);
    res = run(conn, "notify_confirm", SQL_CONFIRM, 1, params);
    if (!res)
        return RETRY;
    PQclear(res);
    return SENT;
}

int notify_handle_message(void *ctx, const char *body, size_t len)
{
    struct notify_consumer *c = ctx;
    struct notify_order order;
    struct vg_pg_conn *conn;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    enum outcome out = RETRY;

    if (!json_is_object(root) || parse_order(root, &order)) {
        /* A poison message: acking it is the only way it stops coming back. */
        vg_warn("malformed order.placed message (%zu bytes) dropped", len);
        json_decref(root);
        return 0;
    }
    conn = vg_pg_acquire(c->pool);
    if (!conn) {
        vg_warn("order %lld: database unavailable, will retry", order.order_id);
        json_decref(root);
        return retry_later(c);
    }
    if (vg_pg_begin(conn) == 0) {
        out = notify_in_tx(c, conn, &order);
        if (out != RETRY && vg_pg_commit(conn)) {
            vg_error("order %lld: commit failed, will retry", order.order_id);
            out = RETRY;
        }
        if (out == RETRY)
            vg_pg_rollback(conn);
    }
    vg_pg_release(c->pool, conn);
    if (out == RETRY) {
        json_decref(root);
        return retry_later(c);
    }
    if (out == SENT)
        vg_info("order %lld: confirmation email sent", order.order_id);
    json_decref(root);
    c->backoff_ms = 0;
    return 0;
}

void *notify_consumer_run(void *arg)
{
    struct notify_consumer *c = arg;
    const struct vg_amqp_binding binding = {VG_AMQP_EXCHANGE, VG_AMQP_NOTIFY_QUEUE,
                                            VG_AMQP_ORDER_PLACED};

    /* vg_amqp_consume reconnects by itself; it only returns on stop or on a
     * setup error (bad URL), which we log and retry rather than die silently. */
    while (!*c->stop) {
        int rc =
            vg_amqp_consume(c->amqp_url, &binding, c->prefetch, notify_handle_message, c, c->stop);
        if (*c->stop)
            break;
        vg_error("consumer returned %d unexpectedly; restarting in %d ms", rc, BACKOFF_MAX_MS);
        sleep_unless_stopped(BACKOFF_MAX_MS, c->stop);
    }
    return NULL;
}

/* settle: moving a pending order to paid or payment_failed. The request thread and the
 * reconciler both come here; each transaction starts by updating the order row WHERE
 * status = 'pending', which locks it, so of two concurrent settlers the second finds nothing
 * to do. Stock is locked in product id order, as at checkout, so the two never deadlock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "vg_amqp.h"
#include "vg_log.h"
#include "vg_pg.h"

#define SQL_MARK_PAID                                                                              \
    "UPDATE orders SET status = 'paid', updated_at = now() WHERE id = $1 AND status = 'pending' "  \
    "RETURNING id"
/* The payload notification needs to send the email without another lookup. */
#define SQL_OUTBOX_INSERT                                                                          \
    "INSERT INTO outbox (order_id, routing_key, payload) "                                         \
    "SELECT o.id, '" VG_AMQP_ORDER_PLACED "', jsonb_build_object('order_id', o.id, "               \
    "'user_id', o.user_id, 'email', u.email, 'total_cents', o.total_cents, "                       \
    "'currency', o.currency) "                                                                     \
    "FROM orders o JOIN users u ON u.id = o.user_id WHERE o.id = $1 "                              \
    "RETURNING id, payload::text"
#define SQL_MARK_FAILED                                                                            \
    "UPDATE orders SET status = 'payment_failed', updated_at = now() "                             \
    "WHERE id = $1 AND status = 'pending' RETURNING id"
#define SQL_LOCK_ORDER_STOCK                                                                       \
    "SELECT p.id FROM products p JOIN order_items i ON i.product_id = p.id "                       \
    "WHERE i.order_id = $1 ORDER BY p.id FOR UPDATE OF p"
#define SQL_RESTORE_STOCK                                                                          \
    "UPDATE products p SET stock = p.stock + i.quantity FROM order_items i "                       \
    "WHERE i.order_id = $1 AND p.id = i.product_id"
#define SQL_ORDER_STATUS "SELECT status FROM orders WHERE id = $1"

/* Runs one statement; returns its result when it succeeded, else NULL after logging. */
static PGresult *run(struct vg_pg_conn *conn, const char *name, const char *sql,
                     const char *const *params)
{
    PGresult *res = vg_pg_exec(conn, name, sql, 1, params);

    if (res && vg_pg_ok(res))
        return res;
    if (res)
        vg_error("%s failed: %s", name, PQresultErrorMessage(res));
    PQclear(res);
    return NULL;
}

/* One settling transaction: the guarded status update `mark_sql` (it locks the order row, and
 * finds nothing when another settler came first: SETTLE_ALREADY), then `rest`'s writes in the
 * same transaction, then commit. rest returns 0 to commit; what it keeps for after the commit
 * goes in its state, which the caller frees whatever the outcome. */
static enum settle_result
settle(struct order_ctx *ctx, long long order_id, const char *mark_name, const char *mark_sql,
       int (*rest)(struct vg_pg_conn *conn, const char *const *params, void *state), void *state)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char idbuf[24];
    const char *params[1] = {idbuf};
    PGresult *res;
    int marked;
    enum settle_result out = SETTLE_UNAVAILABLE;

    if (!conn)
        return SETTLE_UNAVAILABLE;
    snprintf(idbuf, sizeof(idbuf), "%lld", order_id);
    if (vg_pg_begin(conn))
        goto done;
    res = run(conn, mark_name, mark_sql, params);
    if (!res)
        goto rollback;
    marked = PQntuples(res);
    PQclear(res);
    if (marked == 0) {
        out = SETTLE_ALREADY;
        goto rollback;
    }
    if (rest(conn, params, state) || vg_pg_commit(conn))
        goto rollback;
    out = SETTLE_DONE;
    goto done;
rollback:
    vg_pg_rollback(conn);
done:
    vg_pg_release(ctx->pg, conn);
    return out;
}

struct placed_event {
    long long outbox_id;
    char *payload;
};

/* The order_placed event goes into the outbox in the paying transaction: it exists if and only
 * if the order is paid. */
static int queue_placed_event(struct vg_pg_conn *conn, const char *const *params, void *state)
{
    struct placed_event *event = state;
    PGresult *res = run(conn, "settle_outbox_insert", SQL_OUTBOX_INSERT, params);
    int err = -1;

    if (res && PQntuples(res) == 1) {
        event->outbox_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        event->payload = strdup(PQgetvalue(res, 0, 1));
        err = event->payload ? 0 : -1;
    }
    PQclear(res);
    return err;
}

enum settle_result order_mark_paid(struct order_ctx *ctx, long long order_id)
{
    struct placed_event event = {0};
    enum settle_result out =
        settle(ctx, order_id, "settle_mark_paid", SQL_MARK_PAID, queue_placed_event, &event);

    if (out == SETTLE_DONE) {
        vg_info("order %lld paid", order_id);
        /* After commit and with the connection back in the pool: the broker may be slow. */
        outbox_publish_now(ctx, event.outbox_id, event.payload);
    }
    free(event.payload);
    return out;
}

struct released_stock {
    long long *ids; /* the products whose stock came back, for the cache */
    size_t nids;
};

static int restore_stock(struct vg_pg_conn *conn, const char *const *params, void *state)
{
    struct released_stock *stock = state;
    PGresult *res = run(conn, "settle_lock_stock", SQL_LOCK_ORDER_STOCK, params);

    if (!res)
        return -1;
    stock->nids = (size_t)PQntuples(res);
    stock->ids = calloc(stock->nids ? stock->nids : 1, sizeof(*stock->ids));
    for (size_t i = 0; stock->ids && i < stock->nids; i++)
        stock->ids[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
    PQclear(res);
    if (!stock->ids)
        return -1;
    res = run(conn, "settle_restore_stock", SQL_RESTORE_STOCK, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

enum settle_result order_release(struct order_ctx *ctx, long long order_id)
{
    struct released_stock stock = {0};
    enum settle_result out =
        settle(ctx, order_id, "settle_mark_failed", SQL_MARK_FAILED, restore_stock, &stock);

    if (out == SETTLE_DONE) {
        vg_info("order %lld payment_failed, stock released", order_id);
        product_cache_drop(ctx, stock.ids, stock.nids);
    }
    free(stock.ids);
    return out;
}

int order_status(struct order_ctx *ctx, long long order_id, char *buf, size_t size)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char idbuf[24];
    const char *params[1] = {idbuf};
    PGresult *res;
    int rc = -1;

    if (!conn)
        return -1;
    snprintf(idbuf, sizeof(idbuf), "%lld", order_id);
    res = run(conn, "settle_status", SQL_ORDER_STATUS, params);
    if (res) {
        rc = PQntuples(res) == 1 ? 0 : 1;
        if (rc == 0)
            snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    vg_pg_release(ctx->pg, conn);
    return rc;
}

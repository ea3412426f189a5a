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

enum settle_result order_mark_paid(struct order_ctx *ctx, long long order_id)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char idbuf[24];
    const char *params[1] = {idbuf};
    PGresult *res = NULL;
    long long outbox_id = 0;
    char *payload = NULL;
    enum settle_result out = SETTLE_UNAVAILABLE;

    if (!conn)
        return SETTLE_UNAVAILABLE;
    snprintf(idbuf, sizeof(idbuf), "%lld", order_id);
    if (vg_pg_begin(conn))
        goto done;
    res = run(conn, "settle_mark_paid", SQL_MARK_PAID, params);
    if (!res)
        goto rollback;
    if (PQntuples(res) == 0) {
        out = SETTLE_ALREADY;
        goto rollback;
    }
    PQclear(res);
    res = run(conn, "settle_outbox_insert", SQL_OUTBOX_INSERT, params);
    if (!res || PQntuples(res) != 1)
        goto rollback;
    outbox_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    payload = strdup(PQgetvalue(res, 0, 1));
    if (!payload || vg_pg_commit(conn))
        goto rollback;
    out = SETTLE_DONE;
    goto done;
rollback:
    vg_pg_rollback(conn);
done:
    PQclear(res);
    vg_pg_release(ctx->pg, conn);
    if (out == SETTLE_DONE) {
        vg_info("order %lld paid", order_id);
        /* After commit and with the connection back in the pool: the broker may be slow. */
        outbox_publish_now(ctx, outbox_id, payload);
    }
    free(payload);
    return out;
}

enum settle_result order_release(struct order_ctx *ctx, long long order_id)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char idbuf[24];
    const char *params[1] = {idbuf};
    PGresult *res = NULL;
    long long *ids = NULL;
    size_t nids = 0, i;
    enum settle_result out = SETTLE_UNAVAILABLE;

    if (!conn)
        return SETTLE_UNAVAILABLE;
    snprintf(idbuf, sizeof(idbuf), "%lld", order_id);
    if (vg_pg_begin(conn))
        goto done;
    res = run(conn, "settle_mark_failed", SQL_MARK_FAILED, params);
    if (!res)
        goto rollback;
    if (PQntuples(res) == 0) {
        out = SETTLE_ALREADY;
        goto rollback;
    }
    PQclear(res);
    res = run(conn, "settle_lock_stock", SQL_LOCK_ORDER_STOCK, params);
    if (!res)
        goto rollback;
    nids = (size_t)PQntuples(res);
    ids = calloc(nids ? nids : 1, sizeof(*ids));
    if (!ids)
        goto rollback;
    for (i = 0; i < nids; i++)
        ids[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
    PQclear(res);
    res = run(conn, "settle_restore_stock", SQL_RESTORE_STOCK, params);
    if (!res || vg_pg_commit(conn))
        goto rollback;
    out = SETTLE_DONE;
    goto done;
rollback:
    vg_pg_rollback(conn);
done:
    PQclear(res);
    vg_pg_release(ctx->pg, conn);
    if (out == SETTLE_DONE) {
        vg_info("order %lld payment_failed, stock released", order_id);
        product_cache_drop(ctx, ids, nids);
    }
    free(ids);
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

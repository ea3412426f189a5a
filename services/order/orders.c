/* orders: the order object of API.md and the history routes. PostgreSQL builds the whole
 * object (items aggregated, created_at formatted as RFC 3339 UTC), so the list and the single
 * order cannot drift apart. payment_failed orders are internal records of a declined attempt:
 * API.md says the shopper sees no order for them, so every query here leaves them out. */
#include <stdio.h>
#include <stdlib.h>

#include "order.h"
#include "vg_log.h"
#include "vg_pg.h"

#define ORDER_JSON_SQL                                                                             \
    "SELECT json_build_object('id', o.id, 'status', o.status, 'items', "                           \
    "COALESCE((SELECT json_agg(json_build_object('product_id', i.product_id, 'name', i.name, "     \
    "'quantity', i.quantity, 'unit_price_cents', i.unit_price_cents) ORDER BY i.product_id) "      \
    "FROM order_items i WHERE i.order_id = o.id), '[]'::json), "                                   \
    "'total_cents', o.total_cents, 'currency', o.currency, "                                       \
    "'shipping_address', o.shipping_address, 'created_at', "                                       \
    "to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))::text "           \
    "FROM orders o "
#define SQL_ORDER_ONE                                                                              \
    ORDER_JSON_SQL "WHERE o.id = $1 AND o.user_id = $2 AND o.status <> 'payment_failed'"
#define SQL_ORDER_LIST                                                                             \
    ORDER_JSON_SQL "WHERE o.user_id = $1 AND o.status <> 'payment_failed' ORDER BY o.id DESC"

int order_fetch(struct order_ctx *ctx, long long order_id, long long user_id, json_t **out)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char idbuf[24], userbuf[24];
    const char *params[2] = {idbuf, userbuf};
    PGresult *res;
    int rc = -1;

    *out = NULL;
    if (!conn)
        return -1;
    snprintf(idbuf, sizeof(idbuf), "%lld", order_id);
    snprintf(userbuf, sizeof(userbuf), "%lld", user_id);
    res = vg_pg_exec(conn, "order_one", SQL_ORDER_ONE, 2, params);
    if (res && vg_pg_ok(res)) {
        rc = 1;
        if (PQntuples(res) == 1) {
            *out = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
            rc = *out ? 0 : -1;
        }
    } else if (res) {
        vg_error("order query failed: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    vg_pg_release(ctx->pg, conn);
    return rc;
}

void handle_order_get(struct vg_req *req, struct vg_resp *resp)
{
    json_t *order;
    int rc = order_fetch(req->ctx, req->ids[0], req->user_id, &order);

    if (rc < 0)
        vg_resp_error(resp, 503, "unavailable", "The order database is unavailable", NULL);
    else if (rc > 0) /* another user's order too: API.md says 404, never 403 */
        vg_resp_error(resp, 404, "not_found", "No such order", NULL);
    else
        vg_resp_json(resp, 200, order);
}

void handle_orders_list(struct vg_req *req, struct vg_resp *resp)
{
    struct order_ctx *ctx = req->ctx;
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char userbuf[24];
    const char *params[1] = {userbuf};
    PGresult *res;
    json_t *items;
    int i;

    if (!conn) {
        vg_resp_error(resp, 503, "unavailable", "The order database is unavailable", NULL);
        return;
    }
    snprintf(userbuf, sizeof(userbuf), "%lld", req->user_id);
    res = vg_pg_exec(conn, "order_list", SQL_ORDER_LIST, 1, params);
    if (!res || !vg_pg_ok(res)) {
        if (res)
            vg_error("order list query failed: %s", PQresultErrorMessage(res));
        PQclear(res);
        vg_pg_release(ctx->pg, conn);
        vg_resp_error(resp, 503, "unavailable", "The order database is unavailable", NULL);
        return;
    }
    items = json_array();
    for (i = 0; i < PQntuples(res); i++) {
        json_t *order = json_loads(PQgetvalue(res, i, 0), 0, NULL);

        if (order)
            json_array_append_new(items, order);
    }
    PQclear(res);
    vg_pg_release(ctx->pg, conn);
    vg_resp_json(resp, 200, json_pack("{s:o}", "items", items));
}

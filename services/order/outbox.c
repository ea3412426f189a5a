/* outbox: publishing order.placed. The row is written in the transaction that marks the
 * order paid (settle.c), so a paid order always has either a confirmed publish or a row left
 * for the relay: the broker being down delays the email but never loses it. The relay may
 * publish a row twice (a publish confirmed but its DELETE lost); notification deduplicates
 * by order id, so at-least-once is enough. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "vg_amqp.h"
#include "vg_log.h"
#include "vg_pg.h"

/* Rows younger than this are still being published by their request thread. */
#define SQL_RELAY_CLAIM                                                                            \
    "SELECT id, routing_key, payload::text FROM outbox "                                           \
    "WHERE created_at < now() - interval '2 seconds' ORDER BY id LIMIT 50 "                        \
    "FOR UPDATE SKIP LOCKED"
#define SQL_OUTBOX_DELETE        "DELETE FROM outbox WHERE id = $1"
#define SQL_OUTBOX_ATTEMPT       "UPDATE outbox SET attempts = attempts + 1 WHERE id = $1"
#define RELAY_PUBLISH_TIMEOUT_MS 2000

static bool exec_by_id(struct vg_pg_conn *conn, const char *name, const char *sql, long long id)
{
    char idbuf[24];
    const char *params[1] = {idbuf};
    PGresult *res;
    bool ok;

    snprintf(idbuf, sizeof(idbuf), "%lld", id);
    res = vg_pg_exec(conn, name, sql, 1, params);
    ok = res && vg_pg_ok(res);
    if (res && !ok)
        vg_error("%s failed: %s", name, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

void outbox_publish_now(struct order_ctx *ctx, long long outbox_id, const char *payload)
{
    struct vg_pg_conn *conn;

    if (vg_amqp_publish(ctx->amqp, VG_AMQP_ORDER_PLACED, payload, strlen(payload),
                        ORD_PUBLISH_TIMEOUT_MS)) {
        vg_warn("order.placed outbox row %lld not published now; the relay retries it", outbox_id);
        return;
    }
    conn = vg_pg_acquire(ctx->pg);
    if (!conn || !exec_by_id(conn, "outbox_delete", SQL_OUTBOX_DELETE, outbox_id))
        vg_warn("outbox row %lld published but not deleted; the relay publishes it again",
                outbox_id);
    if (conn)
        vg_pg_release(ctx->pg, conn);
}

void outbox_relay_tick(struct order_ctx *ctx)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    PGresult *res = NULL;
    int i, published = 0;

    if (!conn)
        return;
    /* The transaction holds the claimed rows locked while they are published, so another
     * order instance's relay skips them instead of publishing them too. */
    if (vg_pg_begin(conn))
        goto out;
    res = vg_pg_exec(conn, "outbox_claim", SQL_RELAY_CLAIM, 0, NULL);
    if (!res || !vg_pg_ok(res)) {
        if (res)
            vg_error("outbox claim failed: %s", PQresultErrorMessage(res));
        vg_pg_rollback(conn);
        goto out;
    }
    for (i = 0; i < PQntuples(res); i++) {
        long long id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        const char *payload = PQgetvalue(res, i, 2);

        if (vg_amqp_publish(ctx->amqp, PQgetvalue(res, i, 1), payload, strlen(payload),
                            RELAY_PUBLISH_TIMEOUT_MS)) {
            /* The broker is away: the rest of the batch would fail the same way. */
            exec_by_id(conn, "outbox_attempt", SQL_OUTBOX_ATTEMPT, id);
            break;
        }
        if (!exec_by_id(conn, "outbox_delete", SQL_OUTBOX_DELETE, id))
            break;
        published++;
    }
    if (vg_pg_commit(conn))
        vg_pg_rollback(conn);
    if (published)
        vg_info("outbox relay published %d order.placed message(s)", published);
out:
    PQclear(res);
    vg_pg_release(ctx->pg, conn);
}

bool outbox_broker_up(struct order_ctx *ctx)
{
    /* vg_amqp_pub_connected reconnects a dropped publisher itself (with the library's bounded
     * connect timeout and retry backoff), so health recovers after a broker outage even when
     * no order has been published since. */
    return vg_amqp_pub_connected(ctx->amqp);
}

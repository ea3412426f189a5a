/* reconcile: settles orders left pending (a payment call that timed out or failed, or a crash
 * between charge and settle). Payment is the authority: GET /charges/{order_id} answers the
 * outcome, and for a charge it never saw it records a decline on the spot, so a late POST of
 * that charge cannot approve an order already released here. */
#include <stdio.h>
#include <stdlib.h>

#include "order.h"
#include "vg_log.h"
#include "vg_pg.h"

/* Oldest first, a bounded batch per pass so one pass stays short (each costs a payment call). */
#define SQL_STALE_PENDING                                                                          \
    "SELECT id FROM orders WHERE status = 'pending' "                                              \
    "AND updated_at < now() - make_interval(secs => $1::int) ORDER BY updated_at LIMIT 20"
#define RECONCILE_BATCH 20

void reconcile_tick(struct order_ctx *ctx)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char agebuf[24];
    const char *params[1] = {agebuf};
    long long ids[RECONCILE_BATCH];
    int n = 0, i;
    PGresult *res;

    if (!conn)
        return;
    snprintf(agebuf, sizeof(agebuf), "%lld", ctx->reconcile_after_s);
    res = vg_pg_exec(conn, "reconcile_stale", SQL_STALE_PENDING, 1, params);
    if (res && vg_pg_ok(res)) {
        for (i = 0; i < PQntuples(res) && n < RECONCILE_BATCH; i++)
            ids[n++] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    } else if (res) {
        vg_error("reconcile query failed: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    /* Back to the pool before the payment calls: they may take the whole timeout each. */
    vg_pg_release(ctx->pg, conn);

    for (i = 0; i < n; i++) {
        switch (charge_lookup(ctx, ids[i])) {
        case CHARGE_STATE_APPROVED:
            if (order_mark_paid(ctx, ids[i]) == SETTLE_DONE)
                vg_info("reconciler: order %lld was charged; marked paid", ids[i]);
            break;
        case CHARGE_STATE_DECLINED:
            if (order_release(ctx, ids[i]) == SETTLE_DONE)
                vg_info("reconciler: order %lld was not charged; released", ids[i]);
            break;
        case CHARGE_STATE_UNKNOWN:
            break; /* payment unreachable: try again next pass */
        }
    }
}

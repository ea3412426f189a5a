/* charge: the payment service's two internal routes (docs/architecture.md),
 * called only by the order service with the order id as idempotency key. */
#ifndef PAY_CHARGE_H
#define PAY_CHARGE_H

#include "vg_http.h"

/* conf.ctx of the server: the handlers find the pool through req->ctx. */
struct pay_ctx {
    struct vg_pg_pool *pool;
};

/* POST /charges: validate, decide, record once per Idempotency-Key, answer
 * 201 approved or 402 payment_declined; a repeated key replays the first answer. */
void pay_post_charge(struct vg_req *req, struct vg_resp *resp);
/* GET /charges/{order_id}: the settled outcome, or, when no charge was ever
 * made, a declined 'abandoned' row written now so a late POST cannot approve. */
void pay_get_charge(struct vg_req *req, struct vg_resp *resp);

#endif

/* vg-order internals: the state the handlers and background threads share, and the calls
 * between the service's modules (one responsibility per file, see each section). */
#ifndef ORD_ORDER_H
#define ORD_ORDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "validate.h"
#include "vg_check.h"
#include "vg_http.h"

struct vg_pg_pool;
struct vg_redis_pool;
struct vg_amqp_pub;

/* conf.ctx: lives for the whole run, read-only once the server starts. */
struct order_ctx {
    struct vg_pg_pool *pg;
    struct vg_redis_pool *redis;
    struct vg_amqp_pub *amqp;
    const char *payment_url; /* no trailing slash */
    long upstream_timeout_ms;
    long long reconcile_after_s;
};

/* Idempotency records and answers are kept a day (API.md "Idempotency"). */
#define ORD_IDEM_TTL_S 86400
/* How long one publish may wait for the broker's confirm on a request thread. */
#define ORD_PUBLISH_TIMEOUT_MS 1000

/* ---- checkout_body.c ---- */

/* A validated POST /orders body. The strings are borrowed from the request's JSON and live as
 * long as it does; line2 is NULL when absent or null. */
struct checkout_input {
    const char *name, *line1, *line2, *city, *postal_code, *country;
    const char *card_number, *cvc;
    long long exp_month, exp_year;
};

/* Returns 0 with *in filled, or -1 after answering 400 invalid_field with the dotted path of
 * the first offending field (shipping_address first, then payment, in API.md's field order). */
int ord_parse_checkout(struct vg_resp *resp, json_t *body, struct checkout_input *in);

/* The shipping address as stored and shown: {name, line1, line2 (null when absent), city,
 * postal_code, country}. New reference. */
json_t *ord_address_json(const struct checkout_input *in);

/* ---- cart.c: the cart is a Redis hash cart:<user_id> of product_id -> quantity ---- */

struct cart_line {
    long long product_id;
    int quantity;
};

/* Reads the cart sorted by product id. Returns 0 (*lines owned by the caller, free(); NULL
 * when empty), or -1 when Redis is unavailable. */
int cart_read(struct order_ctx *ctx, long long user_id, struct cart_line **lines, size_t *n);
/* "{1,2,3}": a PostgreSQL array literal of the lines' product ids (or quantities). Caller
 * frees; NULL when out of memory. */
char *cart_pg_array(const struct cart_line *lines, size_t n, bool quantities);
/* Empties the cart after a paid checkout; a failure is logged only (the order is paid). */
void cart_clear(struct order_ctx *ctx, long long user_id);
/* Drops the product service's cached detail JSON (product:<id>) after stock changed. */
void product_cache_drop(struct order_ctx *ctx, const long long *ids, size_t n);
void handle_cart_get(struct vg_req *req, struct vg_resp *resp);
void handle_cart_put(struct vg_req *req, struct vg_resp *resp);
void handle_cart_delete(struct vg_req *req, struct vg_resp *resp);

/* ---- orders.c: the order JSON of API.md and the history routes ---- */

/* Loads one order the user can see (not payment_failed) as API.md's order object.
 * Returns 0 with *out (new reference), 1 when there is no such order, -1 when PostgreSQL is
 * unavailable. */
int order_fetch(struct order_ctx *ctx, long long order_id, long long user_id, json_t **out);
void handle_orders_list(struct vg_req *req, struct vg_resp *resp);
void handle_order_get(struct vg_req *req, struct vg_resp *resp);

/* ---- settle.c: moving a pending order to paid or payment_failed (request thread and
 * reconciler alike; both guard on status = 'pending', so the first to settle wins) ---- */

enum settle_result {
    SETTLE_DONE = 0,        /* this call moved the order */
    SETTLE_ALREADY = 1,     /* it was no longer pending: someone else settled it */
    SETTLE_UNAVAILABLE = -1 /* PostgreSQL failed; the order stays pending for the reconciler */
};

/* Marks the order paid and writes its order.placed outbox row in one transaction, then
 * publishes and deletes the row (the relay retries a row whose publish failed). */
enum settle_result order_mark_paid(struct order_ctx *ctx, long long order_id);
/* Marks the order payment_failed and returns its stock in one transaction. */
enum settle_result order_release(struct order_ctx *ctx, long long order_id);
/* The order's status now ("paid", ...) into buf; 0, 1 when unknown, -1 on database failure. */
int order_status(struct order_ctx *ctx, long long order_id, char *buf, size_t size);

/* ---- outbox.c: publishing order.placed; the relay thread; broker health ---- */

/* Publishes outbox row `outbox_id` and deletes it once the broker confirmed. */
void outbox_publish_now(struct order_ctx *ctx, long long outbox_id, const char *payload);
/* One relay pass over rows the request threads left behind. */
void outbox_relay_tick(struct order_ctx *ctx);
/* true when the publisher is connected (or could reconnect now, within a bounded time). */
bool outbox_broker_up(struct order_ctx *ctx);

/* ---- payclient.c: the payment service's internal routes ---- */

enum charge_outcome {
    CHARGE_APPROVED,    /* 201/200 {"status":"approved"} */
    CHARGE_DECLINED,    /* 402 payment_declined: definitive, release the order */
    CHARGE_REJECTED,    /* 400 from payment: release, pass it through */
    CHARGE_UNAVAILABLE, /* 503 from payment: nothing was charged; release, answer 503 */
    CHARGE_ABANDONED,   /* the reconciler closed this charge first: the order is released */
    CHARGE_TIMEOUT,     /* outlived the timeout: unknown, leave pending (504) */
    CHARGE_FAILED,      /* connection error or a bad answer: unknown, leave pending (502) */
};

struct charge_result {
    enum charge_outcome outcome;
    int status;    /* payment's HTTP status, 0 when there was none */
    json_t *error; /* DECLINED/REJECTED: the "error" member of the answer to pass on (owned) */
};

void charge_post(struct order_ctx *ctx, long long order_id, long long amount_cents,
                 const struct checkout_input *in, const char *request_id,
                 struct charge_result *out);
void charge_result_free(struct charge_result *r);

enum charge_state { CHARGE_STATE_APPROVED, CHARGE_STATE_DECLINED, CHARGE_STATE_UNKNOWN };
/* GET /charges/{order_id}: settled outcome; the payment service declines a charge it never saw
 * so that a late POST cannot approve it after this answer. */
enum charge_state charge_lookup(struct order_ctx *ctx, long long order_id);

/* ---- idempotency.c: Idempotency-Key records idem:<user>:<key> ---- */

enum idem_begin_result {
    IDEM_CLAIMED,     /* first use: this request owns the key */
    IDEM_RESUME,      /* an earlier attempt left order_id pending: charge that order again */
    IDEM_REPLAY,      /* finished earlier with an equal body: answer status/body verbatim */
    IDEM_RUNNING,     /* another request with this key is still running: 409 */
    IDEM_MISMATCH,    /* the key was used with a different body: 409 */
    IDEM_UNAVAILABLE, /* Redis failed: 503 */
};

struct idem {
    char rkey[sizeof("idem::") + 20 + VG_IDEM_KEY_MAX + 1];
    char hash[65];      /* hex BLAKE2b-256 of the canonical body */
    bool held;          /* this request owns the record and must finish it */
    long long order_id; /* IDEM_RESUME */
    json_t *stored;     /* IDEM_REPLAY: the stored answer (owned) */
};

enum idem_begin_result idem_begin(struct order_ctx *ctx, long long user_id, const char *key,
                                  const json_t *body, struct idem *idem);
/* A fresh checkout created pending order_id: note it in the running record at once, so that
 * even a crash before the answer leaves a retry charging this order, not a second one. */
void idem_note_order(struct order_ctx *ctx, struct idem *idem, long long order_id);
/* Stores a final (< 500) answer: a JSON body, or an API.md error member. */
void idem_store(struct order_ctx *ctx, struct idem *idem, int status, const json_t *body,
                const json_t *error);
/* A 5xx after a pending order was created: remember the order so a retry charges it again. */
void idem_remember_order(struct order_ctx *ctx, struct idem *idem, long long order_id);
/* A 5xx with nothing to remember: the key is free for a retry. */
void idem_forget(struct order_ctx *ctx, struct idem *idem);
/* Answers a stored record (IDEM_REPLAY). */
void idem_replay(const struct idem *idem, struct vg_resp *resp);
void idem_free(struct idem *idem);

/* ---- checkout.c ---- */

void handle_order_create(struct vg_req *req, struct vg_resp *resp);

/* ---- reconcile.c ---- */

/* One pass over orders pending longer than reconcile_after_s. */
void reconcile_tick(struct order_ctx *ctx);

#endif

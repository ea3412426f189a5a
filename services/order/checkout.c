/* checkout: POST /orders (docs/architecture.md "Checkout").
 *
 *   body fields (400) → Idempotency-Key (400 / replay / 409) → empty cart (400)
 *   → reserve: one transaction locks the cart's products in id order, refuses 409
 *     out_of_stock when any is short, else decrements stock and inserts the pending order
 *   → charge with the order id as payment's idempotency key
 *   → approved: paid + outbox (settle.c), cart emptied, 201 · declined: payment_failed, stock
 *     back, 402 · timeout 504 / bad answer 502: the order stays pending for the reconciler.
 *
 * An existing Idempotency-Key record is looked at before the cart: a successful checkout
 * empties the cart, and its retry must replay the 201, not find an empty cart. Every answer
 * is built as a struct answer first so that the same value can be sent and stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "vg_log.h"
#include "vg_pg.h"

#define SQL_LOCK_PRODUCTS                                                                          \
    "SELECT id, price_cents, stock FROM products WHERE id = ANY($1::bigint[]) "                    \
    "ORDER BY id FOR UPDATE"
#define SQL_TAKE_STOCK                                                                             \
    "UPDATE products p SET stock = p.stock - v.qty "                                               \
    "FROM unnest($1::bigint[], $2::int[]) AS v(id, qty) WHERE p.id = v.id"
#define SQL_INSERT_ORDER                                                                           \
    "INSERT INTO orders (user_id, status, total_cents, currency, shipping_address) "               \
    "VALUES ($1, 'pending', $2, 'USD', $3::jsonb) RETURNING id"
/* Name and price are copied from the rows locked above: the order keeps what was bought. */
#define SQL_INSERT_ITEMS                                                                           \
    "INSERT INTO order_items (order_id, product_id, name, quantity, unit_price_cents) "            \
    "SELECT $1, p.id, p.name, v.qty, p.price_cents "                                               \
    "FROM products p JOIN unnest($2::bigint[], $3::int[]) AS v(id, qty) ON p.id = v.id"
/* A retry resuming a pending order also restarts the reconciler's clock on it. */
#define SQL_RESUME_ORDER                                                                           \
    "UPDATE orders SET updated_at = now() WHERE id = $1 AND user_id = $2 AND status = 'pending' "  \
    "RETURNING total_cents"

struct answer {
    int status;
    json_t *body;            /* a success body, or NULL */
    json_t *error;           /* an API.md error member {code, message, details?}, or NULL */
    long long pending_order; /* a 5xx that left this order to settle: a retry resumes it */
    bool no_store;           /* a 4xx that must not be replayed (empty_cart) */
};

/* Only the error member is built here; the body around it is still made by vg_resp_error. */
static void answer_error(struct answer *a, int status, const char *code, const char *message,
                         json_t *details)
{
    a->status = status;
    a->error = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (a->error && details)
        json_object_set_new(a->error, "details", details);
    else
        json_decref(details);
}

static void answer_send(const struct answer *a, struct vg_resp *resp)
{
    json_t *details = json_object_get(a->error, "details");

    if (a->error)
        vg_resp_error(resp, a->status, json_string_value(json_object_get(a->error, "code")),
                      json_string_value(json_object_get(a->error, "message")),
                      details ? json_incref(details) : NULL);
    else
        vg_resp_json(resp, a->status, json_incref(a->body));
}

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

/* Inside the open transaction: the locked rows against the cart. Returns the ids that are
 * missing or short (a JSON array, empty when none) and the total of the cart. */
static json_t *short_products(PGresult *locked, const struct cart_line *lines, size_t n,
                              long long *total)
{
    json_t *ids = json_array();
    size_t row = 0, i, rows = (size_t)PQntuples(locked);

    *total = 0;
    for (i = 0; i < n; i++) { /* both sorted by product id */
        long long id = 0;

        while (row < rows &&
               (id = strtoll(PQgetvalue(locked, (int)row, 0), NULL, 10)) < lines[i].product_id)
            row++;
        if (row == rows || id != lines[i].product_id ||
            strtoll(PQgetvalue(locked, (int)row, 2), NULL, 10) < lines[i].quantity) {
            json_array_append_new(ids, json_integer(lines[i].product_id));
            continue;
        }
        *total += strtoll(PQgetvalue(locked, (int)row, 1), NULL, 10) * lines[i].quantity;
    }
    return ids;
}

/* The reservation transaction. Returns the new pending order's id, or 0 with *a set. */
static long long reserve(struct order_ctx *ctx, long long user_id, const struct checkout_input *in,
                         const struct cart_line *lines, size_t n, long long *total,
                         struct answer *a)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char *ids = cart_pg_array(lines, n, false), *qtys = cart_pg_array(lines, n, true);
    char userbuf[24], totalbuf[24], orderbuf[24], *address = NULL;
    json_t *addr_json = ord_address_json(in), *shortage = NULL;
    PGresult *res = NULL;
    long long order_id = 0;

    address = addr_json ? json_dumps(addr_json, JSON_COMPACT) : NULL;
    json_decref(addr_json);
    if (!conn || !ids || !qtys || !address || vg_pg_begin(conn))
        goto unavailable;
    {
        const char *p[1] = {ids};

        res = run(conn, "checkout_lock", SQL_LOCK_PRODUCTS, 1, p);
    }
    if (!res)
        goto rollback;
    shortage = short_products(res, lines, n, total);
    PQclear(res);
    res = NULL;
    if (json_array_size(shortage) > 0) {
        vg_pg_rollback(conn);
        answer_error(a, 409, "out_of_stock", "Some products are out of stock",
                     json_pack("{s:O}", "product_ids", shortage));
        goto out;
    }
    snprintf(userbuf, sizeof(userbuf), "%lld", user_id);
    snprintf(totalbuf, sizeof(totalbuf), "%lld", *total);
    {
        const char *take[2] = {ids, qtys}, *order[3] = {userbuf, totalbuf, address};

        if (!(res = run(conn, "checkout_take_stock", SQL_TAKE_STOCK, 2, take)))
            goto rollback;
        PQclear(res);
        if (!(res = run(conn, "checkout_insert_order", SQL_INSERT_ORDER, 3, order)))
            goto rollback;
    }
    order_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    snprintf(orderbuf, sizeof(orderbuf), "%lld", order_id);
    {
        const char *items[3] = {orderbuf, ids, qtys};

        if (!(res = run(conn, "checkout_insert_items", SQL_INSERT_ITEMS, 3, items)))
            goto rollback;
    }
    PQclear(res);
    res = NULL;
    if (vg_pg_commit(conn))
        goto rollback;
    vg_info("order %lld pending: user %lld, %zu product(s), total %lld", order_id, user_id, n,
            *total);
    goto out;
rollback:
    vg_pg_rollback(conn);
unavailable:
    order_id = 0;
    answer_error(a, 503, "unavailable", "The order database is unavailable", NULL);
out:
    if (conn)
        vg_pg_release(ctx->pg, conn);
    if (order_id) {
        long long *pids = malloc(n * sizeof(*pids));
        size_t i;

        for (i = 0; pids && i < n; i++)
            pids[i] = lines[i].product_id;
        if (pids)
            product_cache_drop(ctx, pids, n);
        free(pids);
    }
    PQclear(res);
    json_decref(shortage);
    free(ids);
    free(qtys);
    free(address);
    return order_id;
}

/* The order is paid (by us or by the reconciler): 201 with the order, cart emptied. */
static void answer_paid(struct order_ctx *ctx, long long user_id, long long order_id,
                        struct answer *a)
{
    json_t *order;

    if (order_fetch(ctx, order_id, user_id, &order) != 0) {
        answer_error(a, 503, "unavailable", "The order database is unavailable", NULL);
        a->pending_order = order_id; /* a retry finds it paid and answers 201 */
        return;
    }
    cart_clear(ctx, user_id);
    a->status = 201;
    a->body = order;
}

static void charge_and_settle(struct order_ctx *ctx, struct vg_req *req,
                              const struct checkout_input *in, long long order_id, long long total,
                              struct answer *a)
{
    struct charge_result charge;
    char status[24];

    charge_post(ctx, order_id, total, in, req->request_id, &charge);
    switch (charge.outcome) {
    case CHARGE_APPROVED:
        switch (order_mark_paid(ctx, order_id)) {
        case SETTLE_UNAVAILABLE:
            /* Charged but not recorded: the reconciler will see the approval and mark it. */
            answer_error(a, 503, "unavailable", "The order database is unavailable", NULL);
            a->pending_order = order_id;
            break;
        case SETTLE_ALREADY:
            if (order_status(ctx, order_id, status, sizeof(status)) != 0 ||
                strcmp(status, "payment_failed") == 0) {
                answer_error(a, 502, "upstream_error", "The payment could not be settled", NULL);
                break;
            }
            /* fall through: the reconciler marked it paid first */
        case SETTLE_DONE:
            answer_paid(ctx, req->user_id, order_id, a);
            break;
        }
        break;
    case CHARGE_DECLINED:
    case CHARGE_REJECTED:
        /* Definitive: if the release fails now, the reconciler asks payment and releases. */
        order_release(ctx, order_id);
        a->status = charge.status;
        a->error = json_incref(charge.error);
        break;
    case CHARGE_UNAVAILABLE:
        order_release(ctx, order_id);
        answer_error(a, 503, "unavailable", "The payment service is unavailable", NULL);
        break;
    case CHARGE_ABANDONED:
        order_release(ctx, order_id);
        answer_error(a, 502, "upstream_error", "The payment was abandoned; please try again", NULL);
        break;
    case CHARGE_TIMEOUT:
        answer_error(a, 504, "upstream_timeout", "The payment service did not answer in time",
                     NULL);
        a->pending_order = order_id;
        break;
    case CHARGE_FAILED:
        answer_error(a, 502, "upstream_error", "The payment service failed", NULL);
        a->pending_order = order_id;
        break;
    }
    charge_result_free(&charge);
}

static void checkout_fresh(struct order_ctx *ctx, struct vg_req *req,
                           const struct checkout_input *in, const struct cart_line *lines, size_t n,
                           struct idem *idem, struct answer *a)
{
    long long total = 0, order_id;

    if (n == 0) {
        answer_error(a, 400, "empty_cart", "The cart is empty", NULL);
        a->no_store = true;
        return;
    }
    order_id = reserve(ctx, req->user_id, in, lines, n, &total, a);
    if (!order_id)
        return;
    idem_note_order(ctx, idem, order_id);
    charge_and_settle(ctx, req, in, order_id, total, a);
}

/* An earlier attempt with this key left order_id behind (a 504, 502 or crash). */
static void checkout_resume(struct order_ctx *ctx, struct vg_req *req,
                            const struct checkout_input *in, const struct cart_line *lines,
                            size_t n, struct idem *idem, struct answer *a)
{
    long long order_id = idem->order_id;
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char idbuf[24], userbuf[24], status[24] = "";
    const char *params[2] = {idbuf, userbuf};
    PGresult *res = NULL;
    int found = -1;
    long long total = 0;

    snprintf(idbuf, sizeof(idbuf), "%lld", order_id);
    snprintf(userbuf, sizeof(userbuf), "%lld", req->user_id);
    if (conn && (res = run(conn, "checkout_resume", SQL_RESUME_ORDER, 2, params))) {
        found = PQntuples(res) == 1;
        if (found)
            total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    }
    PQclear(res);
    if (conn)
        vg_pg_release(ctx->pg, conn);
    if (found < 0 || (!found && order_status(ctx, order_id, status, sizeof(status)) < 0)) {
        answer_error(a, 503, "unavailable", "The order database is unavailable", NULL);
        a->pending_order = order_id;
        return;
    }
    if (found) {
        vg_info("order %lld: retry charges the pending order again", order_id);
        charge_and_settle(ctx, req, in, order_id, total, a);
    } else if (strcmp(status, "paid") == 0 || strcmp(status, "confirmed") == 0) {
        answer_paid(ctx, req->user_id, order_id, a);
    } else {
        /* Released (declined or abandoned, no money moved): this retry is a new attempt. */
        idem->order_id = 0;
        checkout_fresh(ctx, req, in, lines, n, idem, a);
    }
}

void handle_order_create(struct vg_req *req, struct vg_resp *resp)
{
    struct order_ctx *ctx = req->ctx;
    const char *key = vg_req_header(req, "Idempotency-Key");
    struct checkout_input in;
    struct cart_line *lines = NULL;
    size_t n = 0;
    struct idem idem = {0};
    struct answer a = {0};
    enum idem_begin_result begun = IDEM_CLAIMED;

    if (ord_parse_checkout(resp, req->json, &in))
        return;
    if (key && !vg_token_valid(key, VG_IDEM_KEY_MAX)) {
        vg_resp_invalid_field(resp, "Idempotency-Key",
                              "Idempotency-Key must be 1-255 characters of [A-Za-z0-9._-]");
        return;
    }
    if (cart_read(ctx, req->user_id, &lines, &n)) {
        vg_resp_error(resp, 503, "unavailable", "The cart store is unavailable", NULL);
        return;
    }
    if (key) {
        begun = idem_begin(ctx, req->user_id, key, req->json, &idem);
        switch (begun) {
        case IDEM_REPLAY:
            idem_replay(&idem, resp);
            goto out;
        case IDEM_RUNNING:
            vg_resp_error(resp, 409, "idempotency_conflict",
                          "A request with this Idempotency-Key is still running", NULL);
            goto out;
        case IDEM_MISMATCH:
            vg_resp_error(resp, 409, "idempotency_conflict",
                          "This Idempotency-Key was used with a different request body", NULL);
            goto out;
        case IDEM_UNAVAILABLE:
            vg_resp_error(resp, 503, "unavailable", "The idempotency store is unavailable", NULL);
            goto out;
        case IDEM_CLAIMED:
        case IDEM_RESUME:
            break;
        }
    }
    if (begun == IDEM_RESUME)
        checkout_resume(ctx, req, &in, lines, n, &idem, &a);
    else
        checkout_fresh(ctx, req, &in, lines, n, &idem, &a);
    answer_send(&a, resp);
    /* 5xx answers are not kept (API.md), but an order they left pending is: see idempotency.c */
    if (a.status < 500 && !a.no_store)
        idem_store(ctx, &idem, a.status, a.body, a.error);
    else if (a.pending_order)
        idem_remember_order(ctx, &idem, a.pending_order);
    else
        idem_forget(ctx, &idem);
out:
    json_decref(a.body);
    json_decref(a.error);
    idem_free(&idem);
    free(lines);
}

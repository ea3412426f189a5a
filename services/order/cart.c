/* cart: GET /cart, PUT and DELETE /cart/items/{id}. The cart is a Redis hash cart:<user_id>
 * of product_id -> quantity; names and prices come from PostgreSQL at read time, so a cart
 * always shows today's price (the order snapshots it at checkout). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "vg_json.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_redis.h"

#define SQL_CART_PRODUCTS                                                                          \
    "SELECT id, name, price_cents FROM products WHERE id = ANY($1::bigint[]) ORDER BY id"
#define SQL_PRODUCT_STOCK "SELECT stock FROM products WHERE id = $1"

static void cart_key(long long user_id, char *buf, size_t size)
{
    snprintf(buf, size, "cart:%lld", user_id);
}

static int line_cmp(const void *a, const void *b)
{
    const struct cart_line *x = a, *y = b;

    return (x->product_id > y->product_id) - (x->product_id < y->product_id);
}

/* A positive decimal that fits the type; Redis hands hash fields back as strings. */
static long long parse_positive(const char *s, long long max)
{
    char *end;
    long long v = strtoll(s, &end, 10);

    return (*s && !*end && v > 0 && v <= max) ? v : 0;
}

int cart_read(struct order_ctx *ctx, long long user_id, struct cart_line **lines, size_t *n)
{
    char key[32];
    redisReply *r;
    struct cart_line *out = NULL;
    size_t i, count = 0;

    *lines = NULL;
    *n = 0;
    cart_key(user_id, key, sizeof(key));
    r = vg_redis_cmd(ctx->redis, "HGETALL %s", key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    if (r->elements >= 2) {
        out = calloc(r->elements / 2, sizeof(*out));
        if (!out) {
            freeReplyObject(r);
            return -1;
        }
    }
    for (i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *f = r->element[i], *v = r->element[i + 1];
        long long id, qty;

        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        id = parse_positive(f->str, INT64_MAX);
        qty = parse_positive(v->str, 99);
        if (id && qty) /* anything else was not written by this service: ignore it */
            out[count++] = (struct cart_line){id, (int)qty};
    }
    freeReplyObject(r);
    if (count > 1) /* qsort's base must not be NULL, even for zero elements */
        qsort(out, count, sizeof(*out), line_cmp);
    *lines = out;
    *n = count;
    return 0;
}

void cart_clear(struct order_ctx *ctx, long long user_id)
{
    char key[32];
    redisReply *r;

    cart_key(user_id, key, sizeof(key));
    r = vg_redis_cmd(ctx->redis, "DEL %s", key);
    if (!r)
        vg_warn("cart of user %lld not emptied: Redis unavailable", user_id);
    else
        freeReplyObject(r);
}

void product_cache_drop(struct order_ctx *ctx, const long long *ids, size_t n)
{
    size_t i;

    /* One DEL per product keeps this simple; carts are a handful of lines. A failure only
     * leaves the product service showing stale stock until its cache entry expires. */
    for (i = 0; i < n; i++) {
        redisReply *r = vg_redis_cmd(ctx->redis, "DEL product:%lld", ids[i]);

        if (r)
            freeReplyObject(r);
    }
}

/* Numbers only, so no quoting is involved (see order.h). */
char *cart_pg_array(const struct cart_line *lines, size_t n, bool quantities)
{
    size_t size = 3 + n * 21, used = 1, i;
    char *buf = malloc(size);

    if (!buf)
        return NULL;
    buf[0] = '{';
    for (i = 0; i < n; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "," : "",
                                 quantities ? (long long)lines[i].quantity : lines[i].product_id);
    snprintf(buf + used, size - used, "}");
    return buf;
}

/* Builds the cart JSON of API.md. Returns NULL after answering 503 itself. */
static json_t *cart_json(struct order_ctx *ctx, long long user_id, struct vg_resp *resp)
{
    struct cart_line *lines;
    size_t n, i, j = 0;
    json_t *items = json_array();
    long long total = 0;

    if (cart_read(ctx, user_id, &lines, &n)) {
        json_decref(items);
        vg_resp_error(resp, 503, "unavailable", "The cart store is unavailable", NULL);
        return NULL;
    }
    if (n > 0) {
        struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
        char *ids = cart_pg_array(lines, n, false);
        const char *params[1] = {ids};
        PGresult *res =
            conn && ids ? vg_pg_exec(conn, "cart_products", SQL_CART_PRODUCTS, 1, params) : NULL;

        free(ids);
        if (!res || !vg_pg_ok(res)) {
            if (res)
                vg_error("cart products query failed: %s", PQresultErrorMessage(res));
            PQclear(res);
            if (conn)
                vg_pg_release(ctx->pg, conn);
            free(lines);
            json_decref(items);
            vg_resp_error(resp, 503, "unavailable", "The product database is unavailable", NULL);
            return NULL;
        }
        /* Both lists are sorted by id; a product deleted since it was added is skipped. */
        for (i = 0; i < (size_t)PQntuples(res); i++) {
            long long id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
            long long price = strtoll(PQgetvalue(res, (int)i, 2), NULL, 10);

            while (j < n && lines[j].product_id < id)
                j++;
            if (j == n || lines[j].product_id != id)
                continue;
            total += price * lines[j].quantity;
            json_array_append_new(
                items, json_pack("{s:I, s:s, s:i, s:I, s:I}", "product_id", (json_int_t)id, "name",
                                 PQgetvalue(res, (int)i, 1), "quantity", lines[j].quantity,
                                 "unit_price_cents", (json_int_t)price, "line_total_cents",
                                 (json_int_t)(price * lines[j].quantity)));
        }
        PQclear(res);
        vg_pg_release(ctx->pg, conn);
    }
    free(lines);
    return json_pack("{s:o, s:I, s:s}", "items", items, "total_cents", (json_int_t)total,
                     "currency", "USD");
}

void handle_cart_get(struct vg_req *req, struct vg_resp *resp)
{
    json_t *cart = cart_json(req->ctx, req->user_id, resp);

    if (cart)
        vg_resp_json(resp, 200, cart);
}

/* 0 with *stock, 1 when there is no such product, -1 when PostgreSQL is unavailable. */
static int product_stock(struct order_ctx *ctx, long long id, long long *stock)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    char idbuf[24];
    const char *params[1] = {idbuf};
    PGresult *res;
    int rc = -1;

    if (!conn)
        return -1;
    snprintf(idbuf, sizeof(idbuf), "%lld", id);
    res = vg_pg_exec(conn, "cart_stock", SQL_PRODUCT_STOCK, 1, params);
    if (res && vg_pg_ok(res)) {
        rc = PQntuples(res) == 1 ? 0 : 1;
        if (rc == 0)
            *stock = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    } else if (res) {
        vg_error("product stock query failed: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    vg_pg_release(ctx->pg, conn);
    return rc;
}

void handle_cart_put(struct vg_req *req, struct vg_resp *resp)
{
    struct order_ctx *ctx = req->ctx;
    long long id = req->ids[0], quantity, stock = 0;
    int found;
    char key[32];
    redisReply *r;
    json_t *cart;

    if (vg_json_int(resp, req->json, "quantity", "quantity", 1, 99, &quantity))
        return;
    found = product_stock(ctx, id, &stock);
    if (found < 0) {
        vg_resp_error(resp, 503, "unavailable", "The product database is unavailable", NULL);
        return;
    }
    if (found > 0) {
        vg_resp_error(resp, 404, "not_found", "No such product", NULL);
        return;
    }
    /* Checked again, under lock, at checkout: this only spares the shopper a surprise there. */
    if (quantity > stock) {
        vg_resp_error(resp, 409, "insufficient_stock", "Not enough of this product in stock",
                      json_pack("{s:[I]}", "product_ids", (json_int_t)id));
        return;
    }
    cart_key(req->user_id, key, sizeof(key));
    r = vg_redis_cmd(ctx->redis, "HSET %s %lld %lld", key, id, quantity);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            freeReplyObject(r);
        vg_resp_error(resp, 503, "unavailable", "The cart store is unavailable", NULL);
        return;
    }
    freeReplyObject(r);
    cart = cart_json(ctx, req->user_id, resp);
    if (cart)
        vg_resp_json(resp, 200, cart);
}

void handle_cart_delete(struct vg_req *req, struct vg_resp *resp)
{
    struct order_ctx *ctx = req->ctx;
    char key[32];
    redisReply *r;
    long long removed;
    json_t *cart;

    cart_key(req->user_id, key, sizeof(key));
    r = vg_redis_cmd(ctx->redis, "HDEL %s %lld", key, req->ids[0]);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject(r);
        vg_resp_error(resp, 503, "unavailable", "The cart store is unavailable", NULL);
        return;
    }
    removed = r->integer;
    freeReplyObject(r);
    if (removed == 0) {
        vg_resp_error(resp, 404, "not_found", "This product is not in the cart", NULL);
        return;
    }
    cart = cart_json(ctx, req->user_id, resp);
    if (cart)
        vg_resp_json(resp, 200, cart);
}

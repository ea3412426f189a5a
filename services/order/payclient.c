/* payclient: the payment service's internal routes (docs/architecture.md), called with the
 * order id as idempotency key so that any number of attempts charge an order at most once.
 * The request body carries the card: it is wiped after use and never logged. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "vg_client.h"
#include "vg_log.h"

/* Card fields payment may name in a 400; they are under "payment." in the shopper's body. */
static const char *const card_fields[] = {"card_number", "exp_month", "exp_year", "cvc"};

/* The "error" member of an API.md error body, or NULL when the answer is not one. */
static json_t *error_member(const struct vg_call *call)
{
    json_t *doc = call->body ? json_loads(call->body, 0, NULL) : NULL;
    json_t *err = json_object_get(doc, "error");

    if (!json_is_string(json_object_get(err, "code")) ||
        !json_is_string(json_object_get(err, "message"))) {
        json_decref(doc);
        return NULL;
    }
    json_incref(err);
    json_decref(doc);
    return err;
}

/* payment validates its own body, where the card fields are top level; the shopper sent
 * them under "payment", so the path is rewritten to the one the shopper can act on. Any
 * other field payment refuses is ours, not the shopper's: NULL, treated as a bad answer. */
static json_t *shopper_rejection(json_t *err)
{
    json_t *details = json_object_get(err, "details");
    const char *field = json_string_value(json_object_get(details, "field"));
    size_t i;

    /* Payment names fields as the public API does ("payment.cvc"); accept the
     * bare name too, so either spelling reaches the shopper as payment.<field>. */
    if (field && strncmp(field, "payment.", 8) == 0)
        field += 8;
    for (i = 0; field && i < sizeof(card_fields) / sizeof(card_fields[0]); i++) {
        if (strcmp(field, card_fields[i]) == 0) {
            char path[32];

            snprintf(path, sizeof(path), "payment.%s", field);
            json_object_set_new(details, "field", json_string(path));
            return err;
        }
    }
    json_decref(err);
    return NULL;
}

static void classify(const struct vg_call *call, struct charge_result *out)
{
    json_t *doc;
    const char *reason;

    out->status = call->status;
    switch (call->status) {
    case 200:
    case 201: /* 201 when charged now, and a replay of the same key answers the same */
        doc = call->body ? json_loads(call->body, 0, NULL) : NULL;
        reason = json_string_value(json_object_get(doc, "status"));
        out->outcome = reason && strcmp(reason, "approved") == 0 ? CHARGE_APPROVED : CHARGE_FAILED;
        json_decref(doc);
        return;
    case 402:
        out->error = error_member(call);
        reason =
            json_string_value(json_object_get(json_object_get(out->error, "details"), "reason"));
        if (!out->error || !reason) {
            out->outcome = CHARGE_FAILED;
        } else if (strcmp(reason, "abandoned") == 0) {
            /* Not a reason API.md knows: the reconciler gave this charge up before it
             * arrived. The order is released; the shopper may simply try again. */
            out->outcome = CHARGE_ABANDONED;
        } else {
            out->outcome = CHARGE_DECLINED;
            return;
        }
        json_decref(out->error);
        out->error = NULL;
        return;
    case 400:
        out->error = shopper_rejection(error_member(call));
        out->outcome = out->error ? CHARGE_REJECTED : CHARGE_FAILED;
        return;
    case 503:
        out->outcome = CHARGE_UNAVAILABLE;
        return;
    default:
        out->outcome = CHARGE_FAILED;
    }
}

void charge_post(struct order_ctx *ctx, long long order_id, long long amount_cents,
                 const struct checkout_input *in, const char *request_id, struct charge_result *out)
{
    char url[512], idem_header[64], rid_header[96];
    const char *headers[] = {"Content-Type: application/json", idem_header, rid_header, NULL};
    json_t *req = json_pack("{s:I, s:I, s:s, s:s, s:I, s:I, s:s}", "order_id", (json_int_t)order_id,
                            "amount_cents", (json_int_t)amount_cents, "currency", "USD",
                            "card_number", in->card_number, "exp_month", (json_int_t)in->exp_month,
                            "exp_year", (json_int_t)in->exp_year, "cvc", in->cvc);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    struct vg_call call = {0};
    int err;

    memset(out, 0, sizeof(*out));
    json_decref(req);
    if (!body) {
        out->outcome = CHARGE_FAILED;
        return;
    }
    snprintf(url, sizeof(url), "%s/charges", ctx->payment_url);
    snprintf(idem_header, sizeof(idem_header), "Idempotency-Key: %lld", order_id);
    snprintf(rid_header, sizeof(rid_header), "X-Request-Id: %s", request_id);
    err = vg_http_call("POST", url, headers, body, strlen(body), ctx->upstream_timeout_ms, &call);
    sodium_memzero(body, strlen(body));
    free(body);
    if (err == VG_CALL_TIMEOUT)
        out->outcome = CHARGE_TIMEOUT;
    else if (err != VG_CALL_OK)
        out->outcome = CHARGE_FAILED;
    else
        classify(&call, out);
    if (out->outcome == CHARGE_FAILED || out->outcome == CHARGE_TIMEOUT)
        vg_warn("charge order=%lld: payment %s (status %d)", order_id,
                out->outcome == CHARGE_TIMEOUT ? "timed out" : "failed", call.status);
    vg_call_free(&call);
}

void charge_result_free(struct charge_result *r)
{
    json_decref(r->error);
    r->error = NULL;
}

enum charge_state charge_lookup(struct order_ctx *ctx, long long order_id)
{
    char url[512];
    struct vg_call call = {0};
    enum charge_state state = CHARGE_STATE_UNKNOWN;
    json_t *doc;
    const char *status;

    snprintf(url, sizeof(url), "%s/charges/%lld", ctx->payment_url, order_id);
    if (vg_http_call("GET", url, NULL, NULL, 0, ctx->upstream_timeout_ms, &call) != VG_CALL_OK)
        goto out;
    if (call.status == 404) {
        state = CHARGE_STATE_DECLINED; /* never charged: nothing to wait for */
        goto out;
    }
    if (call.status != 200)
        goto out;
    doc = call.body ? json_loads(call.body, 0, NULL) : NULL;
    status = json_string_value(json_object_get(doc, "status"));
    if (status && strcmp(status, "approved") == 0)
        state = CHARGE_STATE_APPROVED;
    else if (status && strcmp(status, "declined") == 0)
        state = CHARGE_STATE_DECLINED;
    json_decref(doc);
out:
    vg_call_free(&call);
    return state;
}

/* charge: POST /charges and GET /charges/{order_id}.
 *
 * The payments row is the charge: it is inserted once per idempotency key
 * (UNIQUE) with INSERT ... ON CONFLICT DO NOTHING RETURNING, so two concurrent
 * requests with one key cannot both charge; the loser reads the winner's row
 * and replays it. Every POST that names a valid key leaves one payment_attempts
 * row. Only the last 4 digits of a card are ever stored or returned; the full
 * number and the CVC live in the request body only and are never logged. */
#include "charge.h"

#include "card.h"
#include "vg_check.h"
#include "vg_json.h"
#include "vg_log.h"
#include "vg_pg.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SQL_CHARGE_INSERT                                                                          \
    "INSERT INTO payments (idempotency_key, amount_cents, currency, status, decline_reason, "      \
    "card_last4) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING "        \
    "RETURNING status, decline_reason, amount_cents, currency, card_last4"

/* A separate statement, not a CTE beside the INSERT: under READ COMMITTED it
 * takes a fresh snapshot, so it sees the concurrent winner the INSERT waited for. */
#define SQL_CHARGE_SELECT                                                                          \
    "SELECT status, decline_reason, amount_cents, currency, card_last4 FROM payments "             \
    "WHERE idempotency_key = $1"

#define SQL_ATTEMPT_INSERT                                                                         \
    "INSERT INTO payment_attempts (idempotency_key, amount_cents, card_last4, outcome, reason) "   \
    "VALUES ($1, $2, $3, $4, $5)"

/* card_last4 is NOT NULL but no card was ever presented: '----' cannot be
 * mistaken for digits. amount 0 marks the row as never charged. */
#define SQL_ABANDON_INSERT                                                                         \
    "INSERT INTO payments (idempotency_key, amount_cents, currency, status, decline_reason, "      \
    "card_last4) VALUES ($1, 0, 'USD', 'declined', 'abandoned', '----') "                          \
    "ON CONFLICT (idempotency_key) DO NOTHING RETURNING status, decline_reason"

#define SQL_STATUS_SELECT "SELECT status, decline_reason FROM payments WHERE idempotency_key = $1"

#define REASON_ABANDONED "abandoned"

/* A validated POST /charges body. Strings are borrowed from req->json. */
struct charge {
    long long order_id;
    long long amount_cents;
    const char *currency;
    const char *card_number;
    long long exp_month;
    long long exp_year;
    const char *cvc;
};

/* The stored outcome of a key, as read back from payments. */
struct charge_row {
    char status[16];
    char reason[32]; /* "" when approved */
    long long amount_cents;
    char currency[4];
    char last4[5];
};

static void copy_field(char *dst, size_t size, const PGresult *res, int col)
{
    snprintf(dst, size, "%s", PQgetisnull(res, 0, col) ? "" : PQgetvalue(res, 0, col));
}

static void row_from_result(const PGresult *res, struct charge_row *row)
{
    copy_field(row->status, sizeof(row->status), res, 0);
    copy_field(row->reason, sizeof(row->reason), res, 1);
    row->amount_cents = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
    copy_field(row->currency, sizeof(row->currency), res, 3);
    copy_field(row->last4, sizeof(row->last4), res, 4);
}

/* Audit trail: one row per attempt. last4 and reason may be NULL. Failure is
 * reported to the caller because it runs inside the charge's transaction. */
static int record_attempt(struct vg_pg_conn *conn, const char *key, long long amount_cents,
                          const char *last4, const char *outcome, const char *reason)
{
    char amount[24];
    const char *params[5] = {key, amount, last4, outcome, reason};
    PGresult *res;
    int ok;

    snprintf(amount, sizeof(amount), "%lld", amount_cents);
    res = vg_pg_exec(conn, "pay_attempt_insert", SQL_ATTEMPT_INSERT, 5, params);
    ok = res && vg_pg_ok(res);
    if (res && !ok)
        vg_error("payment_attempts insert failed: %s", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Validates the body field by field in API.md's order; on failure the
 * response is already the 400 and *bad_field names the dotted path. */
static int parse_charge(struct vg_req *req, struct vg_resp *resp, struct charge *c,
                        const char **bad_field)
{
    json_t *body = req->json;

    *bad_field = "order_id";
    if (vg_json_int(resp, body, "order_id", "order_id", 1, LLONG_MAX, &c->order_id))
        return -1;
    *bad_field = "amount_cents";
    if (vg_json_int(resp, body, "amount_cents", "amount_cents", 1, LLONG_MAX, &c->amount_cents))
        return -1;
    *bad_field = "currency";
    if (vg_json_str(resp, body, "currency", "currency", 3, 3, &c->currency))
        return -1;
    if (strcmp(c->currency, "USD") != 0) {
        vg_resp_invalid_field(resp, "currency", "currency must be USD");
        return -1;
    }
    *bad_field = "payment.card_number";
    if (vg_json_str(resp, body, "card_number", "payment.card_number", VG_CARD_MIN_DIGITS,
                    VG_CARD_MAX_DIGITS, &c->card_number))
        return -1;
    if (!vg_card_number_valid(c->card_number)) {
        vg_resp_invalid_field(resp, "payment.card_number",
                              "card_number must be 12 to 19 digits passing the Luhn check");
        return -1;
    }
    *bad_field = "payment.exp_month";
    if (vg_json_int(resp, body, "exp_month", "payment.exp_month", 1, 12, &c->exp_month))
        return -1;
    *bad_field = "payment.exp_year";
    if (vg_json_int(resp, body, "exp_year", "payment.exp_year", 1000, 9999, &c->exp_year))
        return -1;
    *bad_field = "payment.cvc";
    if (vg_json_str(resp, body, "cvc", "payment.cvc", 3, 4, &c->cvc))
        return -1;
    if (!vg_cvc_valid(c->cvc)) {
        vg_resp_invalid_field(resp, "payment.cvc", "cvc must be 3 or 4 digits");
        return -1;
    }
    *bad_field = NULL;
    return 0;
}

/* The last 4 digits of whatever card number the body holds, when it is at
 * least a plausible number, so invalid attempts are still traceable to a card
 * without ever storing more than 4 digits. */
static const char *body_last4(const json_t *body, char out[5])
{
    const char *number = json_string_value(json_object_get(body, "card_number"));

    if (!vg_digits(number, VG_CARD_MIN_DIGITS, VG_CARD_MAX_DIGITS))
        return NULL;
    pay_last4(number, out);
    return out;
}

static const char *decline_message(const char *reason)
{
    if (strcmp(reason, "expired_card") == 0)
        return "The card has expired";
    if (strcmp(reason, "insufficient_funds") == 0)
        return "The card has insufficient funds";
    if (strcmp(reason, REASON_ABANDONED) == 0)
        return "The charge was abandoned before it was made";
    return "The card was declined";
}

/* The one answer for a stored outcome, first time and replay alike. */
static void answer_row(struct vg_resp *resp, long long order_id, const struct charge_row *row)
{
    if (strcmp(row->status, "approved") == 0) {
        vg_resp_json(resp, 201,
                     json_pack("{s:s, s:I, s:I, s:s, s:s}", "status", "approved", "order_id",
                               (json_int_t)order_id, "amount_cents", (json_int_t)row->amount_cents,
                               "currency", row->currency, "card_last4", row->last4));
        return;
    }
    vg_resp_error(resp, 402, "payment_declined", decline_message(row->reason),
                  json_pack("{s:s}", "reason", row->reason));
}

static void utc_month(int *year, int *month)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    *year = tm.tm_year + 1900;
    *month = tm.tm_mon + 1;
}

/* Inserts the charge or finds the existing one for the key. Returns 1 when
 * this call charged, 0 when it found an earlier row, -1 on a database error. */
static int charge_once(struct vg_pg_conn *conn, const char *key, const struct charge *c,
                       enum pay_outcome outcome, struct charge_row *row)
{
    char amount[24], last4[5];
    const char *reason = pay_outcome_reason(outcome);
    const char *status = outcome == PAY_APPROVED ? "approved" : "declined";
    const char *ins[6] = {key, amount, c->currency, status, reason, last4};
    const char *sel[1] = {key};
    PGresult *res;
    int charged = -1;

    snprintf(amount, sizeof(amount), "%lld", c->amount_cents);
    pay_last4(c->card_number, last4);
    res = vg_pg_exec(conn, "pay_charge_insert", SQL_CHARGE_INSERT, 6, ins);
    if (res && vg_pg_ok(res) && PQntuples(res) == 1) {
        row_from_result(res, row);
        charged = 1;
    } else if (res && vg_pg_ok(res)) {
        PQclear(res);
        res = vg_pg_exec(conn, "pay_charge_select", SQL_CHARGE_SELECT, 1, sel);
        if (res && vg_pg_ok(res) && PQntuples(res) == 1) {
            row_from_result(res, row);
            charged = 0;
        }
    }
    if (res && !vg_pg_ok(res))
        vg_error("payments write failed: %s", PQresultErrorMessage(res));
    PQclear(res);
    return charged;
}

/* A replay must be for the same charge: a different amount under one key is a
 * caller bug, and replaying an approval for it would be wrong. An abandoned
 * row was written without an amount, so any late POST replays its decline. */
static bool replay_conflicts(const struct charge_row *row, const struct charge *c)
{
    if (strcmp(row->reason, REASON_ABANDONED) == 0)
        return false;
    return row->amount_cents != c->amount_cents || strcmp(row->currency, c->currency) != 0;
}

/* Runs the validated charge in one transaction (charge row + attempt row) and
 * answers. Returns -1 on a database failure, before anything was answered. */
static int settle(struct vg_pg_conn *conn, const char *key, const struct charge *c,
                  struct vg_resp *resp)
{
    struct charge_row row;
    char last4[5];
    int year, month, charged;
    enum pay_outcome outcome;
    const char *attempt, *reason;
    bool conflict = false;

    utc_month(&year, &month);
    outcome = pay_decide(c->card_number, (int)c->exp_year, (int)c->exp_month, year, month);
    if (vg_pg_begin(conn))
        return -1;
    charged = charge_once(conn, key, c, outcome, &row);
    if (charged < 0)
        goto fail;
    if (charged) {
        attempt = row.status;
        reason = row.reason[0] ? row.reason : NULL;
    } else if (replay_conflicts(&row, c)) {
        conflict = true;
        attempt = "invalid";
        reason = "idempotency_conflict";
    } else {
        attempt = "replayed";
        reason = row.reason[0] ? row.reason : NULL;
    }
    /* The attempt records the card presented now, which a replay may not have stored. */
    pay_last4(c->card_number, last4);
    if (record_attempt(conn, key, c->amount_cents, last4, attempt, reason))
        goto fail;
    if (vg_pg_commit(conn))
        goto fail;
    vg_info("charge order=%lld key=%s amount_cents=%lld %s%s%s", c->order_id, key, c->amount_cents,
            charged ? row.status : attempt, reason ? " reason=" : "", reason ? reason : "");
    if (conflict)
        vg_resp_error(resp, 409, "idempotency_conflict",
                      "Idempotency-Key was already used for a different charge", NULL);
    else
        answer_row(resp, c->order_id, &row);
    return 0;
fail:
    vg_pg_rollback(conn);
    return -1;
}

static struct vg_pg_pool *ctx_pool(const struct vg_req *req)
{
    return ((const struct pay_ctx *)req->ctx)->pool;
}

void pay_post_charge(struct vg_req *req, struct vg_resp *resp)
{
    const char *key = vg_req_header(req, "Idempotency-Key");
    struct vg_pg_conn *conn;
    struct charge c;
    const char *bad_field;

    if (!vg_token_valid(key, VG_IDEM_KEY_MAX)) {
        vg_resp_invalid_field(resp, "Idempotency-Key",
                              "Idempotency-Key must be 1 to 255 characters of [A-Za-z0-9._-]");
        return;
    }
    /* Before validation: even an invalid attempt is recorded, and a database
     * that is down is 503 whatever the body says (API.md precedence). */
    conn = vg_pg_acquire(ctx_pool(req));
    if (!conn) {
        vg_resp_error(resp, 503, "unavailable", "The payment database is unavailable", NULL);
        return;
    }
    if (parse_charge(req, resp, &c, &bad_field)) {
        json_t *amount = json_object_get(req->json, "amount_cents");
        char last4_buf[5];
        /* The amount is recorded only when it is a sane integer; 0 means unknown. */
        long long cents = json_is_integer(amount) && json_integer_value(amount) > 0
                              ? (long long)json_integer_value(amount)
                              : 0;
        record_attempt(conn, key, cents, body_last4(req->json, last4_buf), "invalid", bad_field);
        vg_pg_release(ctx_pool(req), conn);
        return;
    }
    if (settle(conn, key, &c, resp))
        vg_resp_error(resp, 503, "unavailable", "The payment database is unavailable", NULL);
    vg_pg_release(ctx_pool(req), conn);
}

void pay_get_charge(struct vg_req *req, struct vg_resp *resp)
{
    long long order_id = req->ids[0];
    char key[24];
    const char *params[1] = {key};
    struct vg_pg_conn *conn;
    PGresult *res;
    bool found = false;

    snprintf(key, sizeof(key), "%lld", order_id);
    conn = vg_pg_acquire(ctx_pool(req));
    if (!conn) {
        vg_resp_error(resp, 503, "unavailable", "The payment database is unavailable", NULL);
        return;
    }
    res = vg_pg_exec(conn, "pay_abandon_insert", SQL_ABANDON_INSERT, 1, params);
    if (res && vg_pg_ok(res) && PQntuples(res) == 0) {
        /* A charge exists (or was committed while we waited on its key). */
        PQclear(res);
        res = vg_pg_exec(conn, "pay_status_select", SQL_STATUS_SELECT, 1, params);
    } else if (res && vg_pg_ok(res)) {
        vg_info("charge order=%lld key=%s declined reason=%s (never charged)", order_id, key,
                REASON_ABANDONED);
    }
    found = res && vg_pg_ok(res) && PQntuples(res) == 1;
    if (found) {
        json_t *reason = PQgetisnull(res, 0, 1) ? json_null() : json_string(PQgetvalue(res, 0, 1));
        vg_resp_json(resp, 200,
                     json_pack("{s:I, s:s, s:o}", "order_id", (json_int_t)order_id, "status",
                               PQgetvalue(res, 0, 0), "reason", reason));
    } else {
        if (res && !vg_pg_ok(res))
            vg_error("payments status read failed: %s", PQresultErrorMessage(res));
        vg_resp_error(resp, 503, "unavailable", "The payment database is unavailable", NULL);
    }
    PQclear(res);
    vg_pg_release(ctx_pool(req), conn);
}

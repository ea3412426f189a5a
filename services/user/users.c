/* Accounts: registration and the signed-in user's profile. */
#include <stdlib.h>
#include <string.h>

#include "user.h"
#include "vg_json.h"
#include "vg_log.h"
#include "vg_pg.h"

#define EMAIL_MAX      254 /* RFC 5321's limit on a forward path, less the angle brackets */
#define NAME_MAX_CHARS 100
#define PASSWORD_MIN   8
#define PASSWORD_MAX   128

/* lower() runs in SQL, not in C, so that the stored form is exactly what the table's
 * CHECK (email = lower(email)) and the login lookup compute, non-ASCII letters included. */
static const char SQL_INSERT_USER[] = "INSERT INTO users (email, name, password_hash) "
                                      "VALUES (lower($1), $2, $3) RETURNING id, email, name";
static const char SQL_USER_BY_ID[] = "SELECT id, email, name FROM users WHERE id = $1";

json_t *user_json(const char *id, const char *email, const char *name)
{
    return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)strtoll(id, NULL, 10), "email", email,
                     "name", name);
}

/* A plausible address, not RFC 5322: exactly one '@' with something on both sides, and no
 * whitespace or control characters (they are never part of a deliverable address). */
static bool email_plausible(const char *email)
{
    const char *at = strchr(email, '@');
    size_t len = strlen(email);

    if (len > EMAIL_MAX || !at || at == email || at[1] == '\0' || strchr(at + 1, '@'))
        return false;
    for (const unsigned char *p = (const unsigned char *)email; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

void handle_register(struct vg_req *req, struct vg_resp *resp)
{
    struct user_ctx *ctx = req->ctx;
    const char *email, *name, *password;
    char hash[crypto_pwhash_STRBYTES];
    struct vg_pg_conn *conn;
    PGresult *res;
    enum pw_result pr;

    if (vg_json_str(resp, req->json, "email", "email", 1, EMAIL_MAX, &email) ||
        vg_json_str(resp, req->json, "name", "name", 1, NAME_MAX_CHARS, &name) ||
        vg_json_str(resp, req->json, "password", "password", PASSWORD_MIN, PASSWORD_MAX, &password))
        return;
    if (!email_plausible(email)) {
        vg_resp_invalid_field(resp, "email", "email must be an address like name@example.com");
        return;
    }

    /* Hash before taking a database connection: the slow step must not hold a pooled one. */
    pr = pw_hash(password, hash);
    if (pr == PW_BUSY) {
        vg_resp_error(resp, 503, "unavailable", "too many sign-ins at once; retry shortly", NULL);
        return;
    }
    if (pr != PW_OK) {
        vg_error("register: argon2id hashing failed");
        vg_resp_error(resp, 503, "unavailable", "cannot hash passwords right now", NULL);
        return;
    }

    conn = vg_pg_acquire(ctx->pg);
    if (!conn) {
        vg_resp_error(resp, 503, "unavailable", "the database is unavailable", NULL);
        return;
    }
    res = vg_pg_exec(conn, "user_insert", SQL_INSERT_USER, 3,
                     (const char *const[]){email, name, hash});
    if (!res) {
        vg_resp_error(resp, 503, "unavailable", "the database is unavailable", NULL);
    } else if (vg_pg_ok(res) && PQntuples(res) == 1) {
        vg_resp_json(
            resp, 201,
            user_json(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)));
    } else if (strcmp(vg_pg_sqlstate(res), "23505") == 0) {
        /* The unique index decides, not a prior SELECT: two racing sign-ups for one address
         * cannot both pass. */
        vg_resp_error(resp, 409, "email_taken", "an account with this email already exists", NULL);
    } else {
        vg_error("register: insert failed: SQLSTATE %s", vg_pg_sqlstate(res));
        vg_resp_error(resp, 500, "internal_error", "could not create the account", NULL);
    }
    if (res)
        PQclear(res);
    vg_pg_release(ctx->pg, conn);
    sodium_memzero(hash, sizeof(hash));
}

void handle_me(struct vg_req *req, struct vg_resp *resp)
{
    struct user_ctx *ctx = req->ctx;
    char id[24];
    struct vg_pg_conn *conn;
    PGresult *res;

    snprintf(id, sizeof(id), "%lld", req->user_id);
    conn = vg_pg_acquire(ctx->pg);
    if (!conn) {
        vg_resp_error(resp, 503, "unavailable", "the database is unavailable", NULL);
        return;
    }
    res = vg_pg_exec(conn, "user_by_id", SQL_USER_BY_ID, 1, (const char *const[]){id});
    if (!res) {
        vg_resp_error(resp, 503, "unavailable", "the database is unavailable", NULL);
    } else if (!vg_pg_ok(res)) {
        vg_error("me: select failed: SQLSTATE %s", vg_pg_sqlstate(res));
        vg_resp_error(resp, 500, "internal_error", "could not read the account", NULL);
    } else if (PQntuples(res) == 0) {
        /* A live session for an account that no longer exists authenticates nobody. */
        vg_resp_error(resp, 401, "unauthenticated", "sign in again", NULL);
    } else {
        vg_resp_json(
            resp, 200,
            user_json(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)));
    }
    if (res)
        PQclear(res);
    vg_pg_release(ctx->pg, conn);
}

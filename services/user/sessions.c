/* Sessions: sign-in issues a random bearer token; only its hash is kept in Redis
 * (session:<hex BLAKE2b-256>) so that reading Redis never yields a usable token. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "user.h"
#include "vg_log.h"
#include "vg_pg.h"
#include "vg_redis.h"

#define TOKEN_BYTES 32

static const char SQL_USER_BY_EMAIL[] =
    "SELECT id, email, name, password_hash FROM users WHERE email = lower($1)";

void session_key(const char *token, char out[SESSION_KEY_MAX])
{
    unsigned char digest[crypto_generichash_BYTES];

    crypto_generichash(digest, sizeof(digest), (const unsigned char *)token, strlen(token), NULL,
                       0);
    memcpy(out, "session:", 8);
    sodium_bin2hex(out + 8, SESSION_KEY_MAX - 8, digest, sizeof(digest));
}

static void rfc3339_utc(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void answer_db_down(struct vg_resp *resp)
{
    vg_resp_error(resp, 503, "unavailable", "the database is unavailable", NULL);
}

/* Looks the account up and checks the password. Returns 1 on a match with *user set
 * (caller PQclear), 0 on any mismatch, -1 after answering an error itself. */
static int check_credentials(struct user_ctx *ctx, const char *email, const char *password,
                             struct vg_resp *resp, PGresult **user)
{
    struct vg_pg_conn *conn = vg_pg_acquire(ctx->pg);
    PGresult *res;
    enum pw_result pr;

    if (!conn) {
        answer_db_down(resp);
        return -1;
    }
    res = vg_pg_exec(conn, "user_by_email", SQL_USER_BY_EMAIL, 1, (const char *const[]){email});
    vg_pg_release(ctx->pg, conn); /* before the slow hash: never hold a pooled connection */
    if (!res) {
        answer_db_down(resp);
        return -1;
    }
    if (!vg_pg_ok(res)) {
        vg_error("login: select failed: SQLSTATE %s", vg_pg_sqlstate(res));
        PQclear(res);
        vg_resp_error(resp, 500, "internal_error", "could not check the credentials", NULL);
        return -1;
    }
    /* Unknown email: verify against the dummy hash anyway, so the answer takes as long as for
     * a wrong password and timing does not tell which addresses have accounts. */
    pr = pw_verify(PQntuples(res) == 1 ? PQgetvalue(res, 0, 3) : NULL, password);
    if (pr == PW_BUSY) {
        PQclear(res);
        vg_resp_error(resp, 503, "unavailable", "too many sign-ins at once; retry shortly", NULL);
        return -1;
    }
    if (pr != PW_OK) {
        PQclear(res);
        return 0;
    }
    *user = res;
    return 1;
}

void handle_login(struct vg_req *req, struct vg_resp *resp)
{
    struct user_ctx *ctx = req->ctx;
    const char *email, *password;
    unsigned char raw[TOKEN_BYTES];
    char token[2 * TOKEN_BYTES + 1], key[SESSION_KEY_MAX], expires[32];
    PGresult *user = NULL;
    redisReply *reply;
    json_t *body;
    int rc;

    /* API.md: both strings, nothing else checked (no lengths: a wrong one is just a
     * mismatch); a missing field or another type is still invalid_field. */
    email = json_string_value(json_object_get(req->json, "email"));
    password = json_string_value(json_object_get(req->json, "password"));
    if (!email || !password) {
        const char *field = email ? "password" : "email";
        char message[48];

        snprintf(message, sizeof(message), "%s must be a string", field);
        vg_resp_invalid_field(resp, field, message);
        return;
    }
    rc = check_credentials(ctx, email, password, resp, &user);
    if (rc < 0)
        return;
    if (rc == 0) {
        vg_resp_error(resp, 401, "invalid_credentials", "email or password is wrong", NULL);
        return;
    }

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(token, sizeof(token), raw, sizeof(raw));
    session_key(token, key);
    reply = vg_redis_cmd(ctx->redis, "SET %s %s EX %lld", key, PQgetvalue(user, 0, 0),
                         ctx->session_ttl_s);
    if (!reply || reply->type != REDIS_REPLY_STATUS || strcasecmp(reply->str, "OK") != 0) {
        vg_error("login: storing the session in Redis failed");
        vg_resp_error(resp, 503, "unavailable", "the session store is unavailable", NULL);
        goto out;
    }
    rfc3339_utc(time(NULL) + (time_t)ctx->session_ttl_s, expires);
    body = json_pack(
        "{s:s, s:s, s:o}", "token", token, "expires_at", expires, "user",
        user_json(PQgetvalue(user, 0, 0), PQgetvalue(user, 0, 1), PQgetvalue(user, 0, 2)));
    vg_resp_json(resp, 201, body);
out:
    if (reply)
        freeReplyObject(reply);
    PQclear(user);
    sodium_memzero(token, sizeof(token));
}

/* Bearer token from the Authorization header the gateway forwards; NULL when absent. */
static const char *bearer_token(const struct vg_req *req)
{
    const char *auth = vg_req_header(req, "Authorization");

    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return NULL;
    auth += 7;
    while (*auth == ' ')
        auth++;
    return *auth ? auth : NULL;
}

void handle_logout(struct vg_req *req, struct vg_resp *resp)
{
    struct user_ctx *ctx = req->ctx;
    const char *token = bearer_token(req);
    char key[SESSION_KEY_MAX];
    redisReply *reply;

    if (!token) {
        vg_resp_error(resp, 401, "unauthenticated", "a bearer token is required", NULL);
        return;
    }
    session_key(token, key);
    reply = vg_redis_cmd(ctx->redis, "DEL %s", key);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        vg_error("logout: deleting the session in Redis failed");
        vg_resp_error(resp, 503, "unavailable", "the session store is unavailable", NULL);
    } else {
        vg_resp_json(resp, 204, NULL);
    }
    if (reply)
        freeReplyObject(reply);
}

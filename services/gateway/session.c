/* Sessions: resolve `Authorization: Bearer <token>` to a user id through Redis.
 *
 * The user service stores session:<hex BLAKE2b-256 of the token> → user id at sign-in
 * (services/user/sessions.c computes the same key; the two must agree byte for byte). Only the
 * hash is stored, so a copy of Redis holds no usable token. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "vg_log.h"
#include "vg_redis.h"

/* Sign-in issues 64 hex characters; the cap only keeps garbage from reaching Redis. */
#define TOKEN_MAX       256
#define SESSION_KEY_MAX (sizeof("session:") + 2 * crypto_generichash_BYTES)

static void session_key(const char *token, size_t len, char out[SESSION_KEY_MAX])
{
    unsigned char digest[crypto_generichash_BYTES];

    crypto_generichash(digest, sizeof(digest), (const unsigned char *)token, len, NULL, 0);
    memcpy(out, "session:", 8);
    sodium_bin2hex(out + 8, SESSION_KEY_MAX - 8, digest, sizeof(digest));
}

/* RFC 7235: the scheme is case-insensitive and the credentials are a token68. Returns the
 * token's length (its start in *token), or 0 when the header is absent or malformed. */
static size_t bearer_token(const struct vg_req *req, const char **token)
{
    const char *auth = vg_req_header(req, "Authorization");
    size_t len;

    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return 0;
    auth += 7;
    while (*auth == ' ')
        auth++;
    len = strspn(auth, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
    len += strspn(auth + len, "=");
    if (len == 0 || len > TOKEN_MAX || auth[len] != '\0')
        return 0;
    *token = auth;
    return len;
}

static long long parse_user_id(const char *s, size_t len)
{
    long long id = 0;

    if (len == 0 || len > 18)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        id = id * 10 + (s[i] - '0');
    }
    return id;
}

int gw_authenticate(struct vg_req *req)
{
    struct gw_ctx *ctx = req->ctx;
    const char *token = NULL;
    size_t len = bearer_token(req, &token);
    char key[SESSION_KEY_MAX];
    redisReply *reply;
    int rc = -1;

    if (len == 0)
        return -1;
    session_key(token, len, key);
    reply = vg_redis_cmd(ctx->redis, "GET %s", key);
    if (!reply) {
        /* Redis unreachable: the client's token may well be valid, so 503, not 401. */
        return -2;
    }
    if (reply->type == REDIS_REPLY_STRING) {
        req->user_id = parse_user_id(reply->str, reply->len);
        if (req->user_id > 0) {
            rc = 0;
        } else {
            vg_warn("session: stored user id is not a positive integer");
            req->user_id = 0;
        }
    } else if (reply->type == REDIS_REPLY_ERROR) {
        vg_error("session: Redis refused GET: %s", reply->str);
        rc = -2;
    }
    freeReplyObject(reply);
    return rc;
}

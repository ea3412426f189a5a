/* vg-user internals: the state its handlers share and the modules between them. */
#ifndef VG_USER_H
#define VG_USER_H

#include <sodium.h>
#include <stddef.h>

#include "vg_http.h"

struct vg_pg_pool;
struct vg_redis_pool;

/* conf.ctx: lives for the whole run, read-only once the server starts. */
struct user_ctx {
    struct vg_pg_pool *pg;
    struct vg_redis_pool *redis;
    long long session_ttl_s;
};

/* ---- passwd.c: argon2id hashing behind a concurrency cap ---- */

enum pw_result {
    PW_OK = 0,
    PW_MISMATCH = 1, /* verify only */
    PW_BUSY = -1,    /* every hashing slot taken: answer 503 at once, never queue */
    PW_FAIL = -2,    /* libsodium could not hash (out of memory) */
};

/* Reads VIGIL_ARGON2_OPSLIMIT, VIGIL_ARGON2_MEMLIMIT and VIGIL_HASH_CONCURRENCY and
 * prepares the dummy hash that unknown emails are verified against. Dies on bad config. */
void pw_init(void);
enum pw_result pw_hash(const char *password, char out[crypto_pwhash_STRBYTES]);
/* hash NULL: verify against the dummy hash (always PW_MISMATCH) so that an unknown email costs
 * the same time as a wrong password. */
enum pw_result pw_verify(const char *hash, const char *password);

/* ---- sessions.c ---- */

/* Redis key for a session token: "session:" + hex BLAKE2b-256 of the token text. The gateway
 * computes the same key (services/gateway/session.c); the two must agree byte for byte. */
#define SESSION_KEY_MAX (sizeof("session:") + 2 * crypto_generichash_BYTES)
void session_key(const char *token, char out[SESSION_KEY_MAX]);

void handle_login(struct vg_req *req, struct vg_resp *resp);
void handle_logout(struct vg_req *req, struct vg_resp *resp);

/* ---- users.c ---- */

void handle_register(struct vg_req *req, struct vg_resp *resp);
void handle_me(struct vg_req *req, struct vg_resp *resp);
/* {id, email, name} from text columns (ids arrive as decimal text from libpq). */
json_t *user_json(const char *id, const char *email, const char *name);

#endif

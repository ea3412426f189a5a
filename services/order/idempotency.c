/* idempotency: Idempotency-Key records (API.md "Idempotency"), one Redis string per user and
 * key, idem:<user>:<key>, kept ORD_IDEM_TTL_S. The value is a small JSON document:
 *
 *   {"state":"running","hash":H,"since":MS[,"order_id":N]}  a request holds the key
 *   {"state":"pending","hash":H,"order_id":N}                a 5xx left order N pending
 *   {"state":"done","hash":H,"status":S,"body":{...}}        a final answer (or "error":{...})
 *
 * H is the hex BLAKE2b-256 of vg_json_canonical(body), so JSON-equal bodies match whatever
 * their spacing or key order. A request claims a fresh key with SET NX; every later change of
 * a record someone else may also be looking at is a compare-and-set (a Lua script), so two
 * retries racing for one pending order cannot both charge it. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "order.h"
#include "vg_json.h"
#include "vg_log.h"
#include "vg_redis.h"

/* A running record older than this belongs to a request that died (the longest request is a
 * database transaction plus one bounded payment call): a retry may take the key over. */
#define IDEM_STALE_MS 60000

/* Replace KEYS[1] by ARGV[2] (with a TTL of ARGV[3] seconds) only if it still holds ARGV[1]. */
static const char cas_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) return 1 end return 0";

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts); /* wall clock: records are shared between instances */
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int body_hash(const json_t *body, char hex[65])
{
    unsigned char digest[32];
    char *canonical = vg_json_canonical(body);

    if (!canonical)
        return -1;
    crypto_generichash(digest, sizeof(digest), (const unsigned char *)canonical, strlen(canonical),
                       NULL, 0);
    free(canonical);
    sodium_bin2hex(hex, 65, digest, sizeof(digest));
    return 0;
}

static char *running_record(const struct idem *idem, long long order_id)
{
    json_t *rec = json_pack("{s:s, s:s, s:I}", "state", "running", "hash", idem->hash, "since",
                            (json_int_t)now_ms());
    char *text;

    if (rec && order_id > 0)
        json_object_set_new(rec, "order_id", json_integer(order_id));
    text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    return text;
}

/* SET with the day-long TTL; NX when only a fresh key may be written. 1 set, 0 not set (NX
 * lost), -1 Redis unavailable. */
static int record_set(struct order_ctx *ctx, const char *rkey, const char *text, bool nx)
{
    redisReply *r = nx ? vg_redis_cmd(ctx->redis, "SET %s %s EX %d NX", rkey, text, ORD_IDEM_TTL_S)
                       : vg_redis_cmd(ctx->redis, "SET %s %s EX %d", rkey, text, ORD_IDEM_TTL_S);
    int rc;

    if (!r)
        return -1;
    rc = r->type == REDIS_REPLY_STATUS ? 1 : r->type == REDIS_REPLY_NIL ? 0 : -1;
    freeReplyObject(r);
    return rc;
}

/* 1 swapped, 0 someone changed the record first, -1 Redis unavailable. */
static int record_cas(struct order_ctx *ctx, const char *rkey, const char *old_text,
                      const char *new_text)
{
    redisReply *r = vg_redis_cmd(ctx->redis, "EVAL %s 1 %s %s %s %d", cas_script, rkey, old_text,
                                 new_text, ORD_IDEM_TTL_S);
    int rc;

    if (!r)
        return -1;
    rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    freeReplyObject(r);
    return rc;
}

/* Decides what an existing record means for this request; may take it over. */
static enum idem_begin_result existing(struct order_ctx *ctx, struct idem *idem, const char *text)
{
    json_t *rec = json_loads(text, 0, NULL);
    const char *state = json_string_value(json_object_get(rec, "state"));
    const char *hash = json_string_value(json_object_get(rec, "hash"));
    long long order_id = json_integer_value(json_object_get(rec, "order_id"));
    enum idem_begin_result out;
    char *mine = NULL;
    int swapped;

    if (!state || !hash) {
        vg_warn("idempotency record %s is not ours; treating it as in use", idem->rkey);
        json_decref(rec);
        return IDEM_RUNNING;
    }
    if (strcmp(hash, idem->hash) != 0) {
        json_decref(rec);
        return IDEM_MISMATCH;
    }
    if (strcmp(state, "done") == 0) {
        idem->stored = rec; /* ownership passes to the caller: idem_free */
        return IDEM_REPLAY;
    }
    if (strcmp(state, "running") == 0 &&
        now_ms() - json_integer_value(json_object_get(rec, "since")) < IDEM_STALE_MS) {
        json_decref(rec);
        return IDEM_RUNNING;
    }
    /* pending, or running but abandoned: take the key over, carrying its order along. */
    json_decref(rec);
    mine = running_record(idem, order_id);
    swapped = mine ? record_cas(ctx, idem->rkey, text, mine) : -1;
    free(mine);
    if (swapped < 0)
        return IDEM_UNAVAILABLE;
    if (swapped == 0)
        return IDEM_RUNNING; /* another retry took it a moment ago */
    idem->held = true;
    idem->order_id = order_id;
    out = order_id > 0 ? IDEM_RESUME : IDEM_CLAIMED;
    return out;
}

enum idem_begin_result idem_begin(struct order_ctx *ctx, long long user_id, const char *key,
                                  const json_t *body, struct idem *idem)
{
    char *fresh;
    int attempt;

    memset(idem, 0, sizeof(*idem));
    snprintf(idem->rkey, sizeof(idem->rkey), "idem:%lld:%s", user_id, key);
    if (body_hash(body, idem->hash))
        return IDEM_UNAVAILABLE;
    fresh = running_record(idem, 0);
    if (!fresh)
        return IDEM_UNAVAILABLE;
    /* A record can expire between SET NX and GET: then claim again, a bounded number of times. */
    for (attempt = 0; attempt < 3; attempt++) {
        int set = record_set(ctx, idem->rkey, fresh, true);
        redisReply *r;
        enum idem_begin_result out;

        if (set != 0) {
            free(fresh);
            if (set < 0)
                return IDEM_UNAVAILABLE;
            idem->held = true;
            return IDEM_CLAIMED;
        }
        r = vg_redis_cmd(ctx->redis, "GET %s", idem->rkey);
        if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
            if (r)
                freeReplyObject(r);
            free(fresh);
            return IDEM_UNAVAILABLE;
        }
        if (r->type == REDIS_REPLY_NIL) {
            freeReplyObject(r);
            continue;
        }
        out = existing(ctx, idem, r->str);
        freeReplyObject(r);
        free(fresh);
        return out;
    }
    free(fresh);
    return IDEM_RUNNING;
}

static void finish(struct order_ctx *ctx, struct idem *idem, json_t *rec)
{
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;

    json_decref(rec);
    /* If this fails the running record turns stale after IDEM_STALE_MS and a retry takes it
     * over (resuming its order, if it had one), so a lost write costs a delay, not a charge. */
    if (!text || record_set(ctx, idem->rkey, text, false) < 0)
        vg_warn("idempotency record %s not updated: Redis unavailable", idem->rkey);
    free(text);
    idem->held = false;
}

void idem_note_order(struct order_ctx *ctx, struct idem *idem, long long order_id)
{
    char *text;

    if (!idem->held)
        return;
    idem->order_id = order_id;
    text = running_record(idem, order_id);
    if (!text || record_set(ctx, idem->rkey, text, false) < 0)
        vg_warn("idempotency record %s not updated: Redis unavailable", idem->rkey);
    free(text);
}

void idem_store(struct order_ctx *ctx, struct idem *idem, int status, const json_t *body,
                const json_t *error)
{
    if (!idem->held)
        return;
    finish(ctx, idem,
           json_pack("{s:s, s:s, s:i, s:O}", "state", "done", "hash", idem->hash, "status", status,
                     error ? "error" : "body", error ? error : body));
}

void idem_remember_order(struct order_ctx *ctx, struct idem *idem, long long order_id)
{
    if (!idem->held)
        return;
    finish(ctx, idem,
           json_pack("{s:s, s:s, s:I}", "state", "pending", "hash", idem->hash, "order_id",
                     (json_int_t)order_id));
}

void idem_forget(struct order_ctx *ctx, struct idem *idem)
{
    redisReply *r;

    if (!idem->held)
        return;
    r = vg_redis_cmd(ctx->redis, "DEL %s", idem->rkey);
    if (r)
        freeReplyObject(r);
    else
        vg_warn("idempotency record %s not deleted: Redis unavailable", idem->rkey);
    idem->held = false;
}

void idem_replay(const struct idem *idem, struct vg_resp *resp)
{
    int status = (int)json_integer_value(json_object_get(idem->stored, "status"));
    json_t *error = json_object_get(idem->stored, "error");

    /* Through the same helpers as the first answer, so the bytes are the same too. */
    if (error) {
        json_t *details = json_object_get(error, "details");

        vg_resp_error(resp, status, json_string_value(json_object_get(error, "code")),
                      json_string_value(json_object_get(error, "message")),
                      details ? json_incref(details) : NULL);
        return;
    }
    vg_resp_json(resp, status, json_incref(json_object_get(idem->stored, "body")));
}

void idem_free(struct idem *idem)
{
    json_decref(idem->stored);
    idem->stored = NULL;
}

/* Routes every server carries: /healthz and the fault flags of /admin/faults. */
#include <stdlib.h>
#include <string.h>

#include "vg_faults.h"
#include "vg_http_int.h"
#include "vg_json.h"

#define FAULT_MS_MAX 3600000 /* an hour: anything longer is a typo, not a drill */

static void handle_health(struct vg_req *req, struct vg_resp *resp)
{
    switch (vg_http_health_of(req)) {
    case VG_HEALTH_OK:
        vg_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
        break;
    case VG_HEALTH_DEGRADED:
        vg_resp_json(resp, 200, json_pack("{s:s}", "status", "degraded"));
        break;
    default:
        vg_resp_error(resp, 503, "unavailable", "a hard dependency is down", NULL);
        break;
    }
}

static json_t *faults_json(const struct vg_faults *f)
{
    return json_pack("{s:f, s:I, s:I}", "error_rate", f->error_rate, "added_latency_ms",
                     (json_int_t)f->added_latency_ms, "slow_query_ms",
                     (json_int_t)f->slow_query_ms);
}

static void handle_faults_get(struct vg_req *req, struct vg_resp *resp)
{
    struct vg_faults f = vg_faults_get();

    vg_resp_json(resp, 200, faults_json(&f));
}

static int read_ms(struct vg_resp *resp, json_t *body, const char *key, long *out)
{
    long long ms = 0;

    if (!json_object_get(body, key))
        return 0;
    if (vg_json_int(resp, body, key, key, 0, FAULT_MS_MAX, &ms))
        return -1;
    *out = (long)ms;
    return 0;
}

static void handle_faults_post(struct vg_req *req, struct vg_resp *resp)
{
    static const char *const known[] = {"error_rate", "added_latency_ms", "slow_query_ms"};
    struct vg_faults f = {0};
    const char *key;
    json_t *value;

    json_object_foreach(req->json, key, value)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || !strcmp(key, known[i]);
        if (!ok) {
            vg_resp_invalid_field(resp, key, "unknown fault flag");
            return;
        }
    }
    value = json_object_get(req->json, "error_rate");
    if (value) {
        /* Unlike API quantities, a rate may be written 0 or 1. */
        double rate = json_number_value(value);
        if (!json_is_number(value) || rate < 0.0 || rate > 1.0) {
            vg_resp_invalid_field(resp, "error_rate", "error_rate must be a number from 0 to 1");
            return;
        }
        f.error_rate = rate;
    }
    if (read_ms(resp, req->json, "added_latency_ms", &f.added_latency_ms) ||
        read_ms(resp, req->json, "slow_query_ms", &f.slow_query_ms))
        return;
    vg_faults_set(&f);
    vg_resp_json(resp, 200, faults_json(&f));
}

int vg_admin_check(struct vg_req *req, struct vg_resp *resp)
{
    const char *want = getenv("VIGIL_ADMIN_TOKEN");
    const char *got = vg_req_header(req, "X-Admin-Token");
    size_t want_len;
    unsigned char diff = 0;

    if (!vg_req_from_loopback(req)) {
        vg_resp_error(resp, 403, "forbidden", "admin routes answer loopback clients only", NULL);
        return -1;
    }
    if (!want || !*want || !got)
        goto refuse;
    want_len = strlen(want);
    if (strlen(got) != want_len)
        goto refuse;
    /* Constant time, so the token cannot be guessed byte by byte from timing. */
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)(want[i] ^ got[i]);
    if (diff)
        goto refuse;
    return 0;
refuse:
    vg_resp_error(resp, 401, "unauthenticated", "X-Admin-Token is missing or wrong", NULL);
    return -1;
}

const struct vg_route vg_builtin_routes[] = {
    {"GET", "/healthz", handle_health, VG_ROUTE_NOFAULT, NULL},
    {"GET", "/admin/faults", handle_faults_get, VG_ROUTE_NOFAULT | VG_ROUTE_ADMIN, NULL},
    {"POST", "/admin/faults", handle_faults_post, VG_ROUTE_NOFAULT | VG_ROUTE_ADMIN | VG_ROUTE_JSON,
     NULL},
};
const size_t vg_builtin_nroutes = sizeof(vg_builtin_routes) / sizeof(vg_builtin_routes[0]);

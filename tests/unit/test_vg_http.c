/* vg_http end to end: a real server on a free loopback port, driven by libcurl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_client.h"
#include "vg_faults.h"
#include "vg_http.h"
#include "vg_log.h"

static void echo(struct vg_req *req, struct vg_resp *resp)
{
    json_t *body = json_object();

    json_object_set_new(body, "method", json_string(req->method));
    json_object_set_new(body, "nids", json_integer(req->nids));
    if (req->nids)
        json_object_set_new(body, "id", json_integer(req->ids[0]));
    if (req->json)
        json_object_set(body, "got", req->json);
    if (req->user_id)
        json_object_set_new(body, "user", json_integer(req->user_id));
    vg_resp_json(resp, 200, body);
}

static void silent(struct vg_req *req, struct vg_resp *resp)
{
}

static int authenticate(struct vg_req *req)
{
    const char *auth = vg_req_header(req, "Authorization");

    if (auth && !strcmp(auth, "Bearer down"))
        return -2;
    if (!auth || strcmp(auth, "Bearer good"))
        return -1;
    req->user_id = 7;
    return 0;
}

static const struct vg_route routes[] = {
    {"GET", "/items", echo, 0, NULL},
    {"POST", "/items", echo, VG_ROUTE_JSON, NULL},
    {"GET", "/items/{id}", echo, 0, NULL},
    {"DELETE", "/items/{id}", echo, VG_ROUTE_AUTH, NULL},
    {"PUT", "/cart/items/{id}", echo, VG_ROUTE_AUTH | VG_ROUTE_JSON, NULL},
    {"GET", "/silent", silent, 0, NULL},
};

static struct vg_server *srv;
static char base[64];

struct reply {
    long status;
    char body[4096];
    size_t len;
    char headers[4096];
    size_t hlen;
};

static size_t on_data(char *d, size_t s, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = s * n;
    size_t room = sizeof(r->body) - 1 - r->len;

    memcpy(r->body + r->len, d, len < room ? len : room);
    r->len += len < room ? len : room;
    r->body[r->len] = '\0';
    return len;
}

static size_t on_hdr(char *d, size_t s, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t len = s * n;
    size_t room = sizeof(r->headers) - 1 - r->hlen;

    memcpy(r->headers + r->hlen, d, len < room ? len : room);
    r->hlen += len < room ? len : room;
    r->headers[r->hlen] = '\0';
    return len;
}

/* headers: NULL-terminated; body may be NULL; chunked sends the body without Content-Length. */
static void request(const char *method, const char *path, const char *const *headers,
                    const char *body, size_t body_len, bool chunked, struct reply *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *list = NULL;
    char url[256];

    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "%s%s", base, path);
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    list = curl_slist_append(list, "Expect:");
    if (chunked)
        list = curl_slist_append(list, "Transfer-Encoding: chunked");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        if (!chunked)
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
}

static bool has_header(const struct reply *r, const char *line)
{
    return strcasestr(r->headers, line) != NULL;
}

static int setup(void **state)
{
    struct vg_server_conf conf = {
        .name = "test",
        .bind = "127.0.0.1",
        .port = 0,
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .body_limit = 1024,
        .authenticate = authenticate,
    };

    if (vg_server_start(&conf, &srv))
        return -1;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", vg_server_port(srv));
    return 0;
}

static int teardown(void **state)
{
    vg_server_stop(srv);
    return 0;
}

struct status_case {
    const char *method;
    const char *path;
    const char *headers[3];
    const char *body;
    bool chunked;
    long status;
    const char *code; /* substring expected in the body */
};

static const char *const json_ct = "Content-Type: application/json";

static void test_precedence(void **state)
{
    static char big[2048];
    const struct status_case cases[] = {
        {"GET", "/nope", {NULL}, NULL, false, 404, "\"not_found\""},
        {"GET", "/items/", {NULL}, NULL, false, 404, "not_found"},
        {"GET", "/items/0", {NULL}, NULL, false, 404, "not_found"},
        {"GET", "/items/01", {NULL}, NULL, false, 404, "not_found"},
        {"GET", "/items/-1", {NULL}, NULL, false, 404, "not_found"},
        {"GET", "/items/abc", {NULL}, NULL, false, 404, "not_found"},
        {"GET", "/items/42?x=1", {NULL}, NULL, false, 200, "\"id\":42"},
        {"HEAD", "/items/42", {NULL}, NULL, false, 200, ""},
        {"PATCH", "/items", {NULL}, NULL, false, 405, "method_not_allowed"},
        /* 404 before 413: an unknown path with a huge body is still unknown. */
        {"POST", "/nope", {json_ct}, big, false, 404, "not_found"},
        {"PUT", "/items", {json_ct}, big, false, 405, "method_not_allowed"},
        /* 413 before 401 and 415. */
        {"PUT", "/cart/items/3", {"Content-Type: text/plain"}, big, false, 413, "body_too_large"},
        {"POST", "/items", {json_ct}, big, true, 413, "body_too_large"},
        /* 401 before 415. */
        {"PUT", "/cart/items/3", {"Content-Type: text/plain"}, "{}", false, 401, "unauthenticated"},
        {"DELETE", "/items/5", {NULL}, NULL, false, 401, "unauthenticated"},
        {"DELETE", "/items/5", {"Authorization: Bearer good"}, NULL, false, 200, "\"user\":7"},
        /* The session store is down: the token may be good, so 503, not 401. */
        {"DELETE", "/items/5", {"Authorization: Bearer down"}, NULL, false, 503, "unavailable"},
        /* 415 before 400. */
        {"PUT",
         "/cart/items/3",
         {"Authorization: Bearer good", "Content-Type: text/plain"},
         "nope",
         false,
         415,
         "unsupported_media_type"},
        {"POST", "/items", {NULL}, "{}", false, 415, "unsupported_media_type"},
        {"POST",
         "/items",
         {"Content-Type: Application/JSON; charset=UTF-8"},
         "{\"a\":1}",
         false,
         200,
         "\"got\":{\"a\":1}"},
        {"POST",
         "/items",
         {"Content-Type: application/jsonx"},
         "{}",
         false,
         415,
         "unsupported_media_type"},
        {"POST", "/items", {json_ct}, NULL, false, 400, "invalid_json"},
        {"POST", "/items", {json_ct}, "[1]", false, 400, "invalid_json"},
        {"POST", "/items", {json_ct}, "{\"a\":", false, 400, "invalid_json"},
        {"POST", "/items", {json_ct}, "{} x", false, 400, "invalid_json"},
        {"POST", "/items", {json_ct}, "{\"q\":2}", true, 200, "\"got\":{\"q\":2}"},
        {"GET", "/silent", {NULL}, NULL, false, 500, "internal_error"},
        {"GET", "/healthz", {NULL}, NULL, false, 200, "{\"status\":\"ok\"}"},
        {"POST", "/healthz", {NULL}, NULL, false, 405, "method_not_allowed"},
        {"GET", "/admin/faults", {NULL}, NULL, false, 401, "unauthenticated"},
        {"GET", "/admin/faults", {"X-Admin-Token: s3cret"}, NULL, false, 200, "error_rate"},
        {"GET", "/admin/faults", {"X-Admin-Token: s3cre"}, NULL, false, 401, "unauthenticated"},
    };

    memset(big, 'x', sizeof(big) - 1);
    setenv("VIGIL_ADMIN_TOKEN", "s3cret", 1);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct status_case *c = &cases[i];
        struct reply r;

        request(c->method, c->path, c->headers, c->body, c->body ? strlen(c->body) : 0, c->chunked,
                &r);
        if (r.status != c->status || !strstr(r.body, c->code))
            fail_msg("case %zu: %s %s: got %ld %s", i, c->method, c->path, r.status, r.body);
        assert_true(has_header(&r, "X-Request-Id: "));
        assert_true(has_header(&r, "Content-Type: application/json"));
    }
}

static void test_allow_and_head(void **state)
{
    struct reply get, head;

    request("POST", "/items/3", NULL, NULL, 0, false, &get);
    assert_int_equal(get.status, 405);
    assert_true(has_header(&get, "Allow: GET, HEAD, DELETE\r\n"));

    request("GET", "/healthz", NULL, NULL, 0, false, &get);
    request("HEAD", "/healthz", NULL, NULL, 0, false, &head);
    assert_int_equal(head.status, 200);
    assert_int_equal(head.len, 0);
    assert_non_null(strcasestr(head.headers, "Content-Length: "));
    assert_int_equal(atoi(strcasestr(head.headers, "Content-Length: ") + 16), get.len);
}

static void test_request_id(void **state)
{
    const char *own[] = {"X-Request-Id: abc-123_x.y", NULL};
    const char *bad[] = {"X-Request-Id: has space", NULL};
    struct reply r;
    const char *id;

    request("GET", "/items", own, NULL, 0, false, &r);
    assert_true(has_header(&r, "X-Request-Id: abc-123_x.y\r\n"));
    request("GET", "/items", bad, NULL, 0, false, &r);
    id = strcasestr(r.headers, "X-Request-Id: ");
    assert_non_null(id);
    assert_int_equal(strcspn(id + 14, "\r\n"), 32);
}

static void test_admin_faults(void **state)
{
    const char *admin[] = {"X-Admin-Token: s3cret", "Content-Type: application/json", NULL};
    struct reply r;
    struct vg_faults f;

    setenv("VIGIL_ADMIN_TOKEN", "s3cret", 1);
    request("POST", "/admin/faults", admin, "{\"error_rate\":1,\"added_latency_ms\":5}", 37, false,
            &r);
    assert_int_equal(r.status, 200);
    f = vg_faults_get();
    assert_true(f.error_rate == 1.0);
    assert_int_equal(f.added_latency_ms, 5);

    request("GET", "/items", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"unavailable\""));
    request("GET", "/healthz", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);

    request("POST", "/admin/faults", admin, "{\"bogus\":1}", 11, false, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"field\":\"bogus\""));
    request("POST", "/admin/faults", admin, "{\"error_rate\":1.5}", 18, false, &r);
    assert_int_equal(r.status, 400);
    request("POST", "/admin/faults", admin, "{\"added_latency_ms\":\"5\"}", 24, false, &r);
    assert_int_equal(r.status, 400);

    request("POST", "/admin/faults", admin, "{}", 2, false, &r);
    assert_int_equal(r.status, 200);
    f = vg_faults_get();
    assert_true(f.error_rate == 0.0);
    assert_int_equal(f.added_latency_ms, 0);
    request("GET", "/items", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);

    unsetenv("VIGIL_ADMIN_TOKEN");
    request("GET", "/admin/faults", (const char *[]){"X-Admin-Token: ", NULL}, NULL, 0, false, &r);
    assert_int_equal(r.status, 401);
}

static bool limit_hook(struct vg_req *req, struct vg_resp *resp)
{
    if (!vg_req_header(req, "X-Limit"))
        return false;
    vg_resp_error(resp, 429, "rate_limited", "slow down", NULL);
    vg_resp_header(resp, "Retry-After", "1");
    return true;
}

static void fallback(struct vg_req *req, struct vg_resp *resp)
{
    const char *q = vg_req_query(req, "q");
    const char *e = vg_req_query(req, "e");

    vg_resp_raw(resp, 200, "text/plain", "static", 6);
    vg_resp_header(resp, "X-Q", q ? q : "(null)");
    vg_resp_header(resp, "X-E", e ? (*e ? e : "(empty)") : "(null)");
}

static enum vg_health health_state = VG_HEALTH_OK;

static enum vg_health health(void *ctx)
{
    return health_state;
}

/* The gateway's shape: a before hook (429 first of all), a fallback, a health callback. */
static void test_hook_fallback_health(void **state)
{
    struct vg_server_conf conf = {
        .name = "gw",
        .port = 0,
        .routes = routes,
        .nroutes = 2,
        .before = limit_hook,
        .fallback = fallback,
        .health = health,
    };
    const char *limit[] = {"X-Limit: 1", NULL};
    struct vg_server *gw;
    struct reply r;
    char saved[64];

    memcpy(saved, base, sizeof(saved));
    assert_int_equal(vg_server_start(&conf, &gw), 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", vg_server_port(gw));

    request("PATCH", "/nope", limit, NULL, 0, false, &r);
    assert_int_equal(r.status, 429);
    assert_true(has_header(&r, "Retry-After: 1"));
    request("GET", "/index.html?q=a%20b&e=", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "static");
    assert_true(has_header(&r, "Content-Type: text/plain"));
    assert_true(has_header(&r, "X-Q: a b"));
    assert_true(has_header(&r, "X-E: (empty)"));
    request("DELETE", "/items", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 405);

    health_state = VG_HEALTH_DEGRADED;
    request("GET", "/healthz", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"degraded\"}");
    health_state = VG_HEALTH_DOWN;
    request("GET", "/healthz", NULL, NULL, 0, false, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"unavailable\""));

    vg_server_stop(gw);
    memcpy(base, saved, sizeof(saved));
}

static void test_client(void **state)
{
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    struct vg_call call;
    char url[128];

    snprintf(url, sizeof(url), "%s/items", base);
    assert_int_equal(vg_http_call("POST", url, hdrs, "{\"k\":\"v\"}", 9, 2000, &call), 0);
    assert_int_equal(call.status, 200);
    assert_non_null(strstr(call.body, "\"got\":{\"k\":\"v\"}"));
    assert_string_equal(call.content_type, "application/json");
    vg_call_free(&call);

    snprintf(url, sizeof(url), "%s/items/9", base);
    assert_int_equal(vg_http_call("GET", url, NULL, NULL, 0, 2000, &call), 0);
    assert_int_equal(call.status, 200);
    vg_call_free(&call);

    {
        /* The fault latency outlives the call's timeout. */
        struct vg_faults slow = {.added_latency_ms = 300};
        struct vg_faults none = {0};
        vg_faults_set(&slow);
        assert_int_equal(vg_http_call("GET", url, NULL, NULL, 0, 100, &call), VG_CALL_TIMEOUT);
        assert_null(call.body);
        vg_faults_set(&none);
    }

    /* Nothing listens on port 1. */
    assert_int_equal(vg_http_call("GET", "http://127.0.0.1:1/", NULL, NULL, 0, 2000, &call),
                     VG_CALL_CONNECT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),           cmocka_unit_test(test_allow_and_head),
        cmocka_unit_test(test_request_id),           cmocka_unit_test(test_admin_faults),
        cmocka_unit_test(test_hook_fallback_health), cmocka_unit_test(test_client),
    };
    int failed;

    vg_signals_block();
    vg_log_init("test");
    vg_client_global_init();
    failed = cmocka_run_group_tests(tests, setup, teardown);
    vg_client_global_cleanup();
    return failed;
}

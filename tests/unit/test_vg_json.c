/* vg_json readers and canonical serialisation, tables of cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vg_http.h"
#include "vg_json.h"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, 0, &err);

    if (!v)
        fail_msg("bad test JSON %s: %s", text, err.text);
    return v;
}

/* The refusal must be 400 invalid_field naming exactly `path`. */
static void assert_refused(struct vg_resp *resp, const char *path)
{
    const char *body = vg_resp_body(resp, NULL);
    json_t *v;
    const char *code = NULL;
    const char *field = NULL;

    assert_int_equal(vg_resp_status(resp), 400);
    assert_non_null(body);
    v = parse(body);
    assert_int_equal(
        json_unpack(v, "{s:{s:s, s:{s:s}}}", "error", "code", &code, "details", "field", &field),
        0);
    assert_string_equal(code, "invalid_field");
    assert_string_equal(field, path);
    json_decref(v);
}

struct int_case {
    const char *json;
    long long min, max;
    bool ok;
    long long want;
};

static void test_int(void **state)
{
    static const struct int_case cases[] = {
        {"{\"q\": 2}", 1, 99, true, 2},
        {"{\"q\": 1}", 1, 99, true, 1},
        {"{\"q\": 99}", 1, 99, true, 99},
        {"{\"q\": 0}", 1, 99, false, 0},
        {"{\"q\": 100}", 1, 99, false, 0},
        {"{\"q\": -1}", 1, 99, false, 0},
        {"{\"q\": \"2\"}", 1, 99, false, 0},
        {"{\"q\": 2.0}", 1, 99, false, 0},
        {"{\"q\": 2.5}", 1, 99, false, 0},
        {"{\"q\": 2e0}", 1, 99, false, 0},
        {"{\"q\": true}", 0, 1, false, 0},
        {"{\"q\": null}", 1, 99, false, 0},
        {"{\"q\": [2]}", 1, 99, false, 0},
        {"{}", 1, 99, false, 0},
        {"{\"other\": 2}", 1, 99, false, 0},
        {"{\"q\": 9223372036854775807}", 0, 9223372036854775807LL, true, 9223372036854775807LL},
        {"{\"q\": -5}", -10, -1, true, -5},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct int_case *c = &cases[i];
        struct vg_resp *resp = vg_resp_new();
        json_t *obj = parse(c->json);
        long long got = -12345;
        int rc = vg_json_int(resp, obj, "q", "item.quantity", c->min, c->max, &got);

        if ((rc == 0) != c->ok)
            fail_msg("case %zu: %s: rc %d", i, c->json, rc);
        if (c->ok) {
            assert_int_equal(got, c->want);
            assert_false(vg_resp_is_set(resp));
        } else {
            assert_int_equal(got, -12345); /* *out untouched on refusal */
            assert_refused(resp, "item.quantity");
        }
        json_decref(obj);
        vg_resp_free(resp);
    }
}

struct str_case {
    const char *json;
    size_t min, max;
    bool opt;
    bool ok;
    const char *want; /* NULL: *out must be NULL (absent optional) */
};

static void test_str(void **state)
{
    static const struct str_case cases[] = {
        {"{\"s\": \"abc\"}", 1, 3, false, true, "abc"},
        {"{\"s\": \"abcd\"}", 1, 3, false, false, NULL},
        {"{\"s\": \"\"}", 1, 3, false, false, NULL},
        {"{\"s\": \"\"}", 0, 3, false, true, ""},
        /* Lengths count code points, not bytes: é is 2 bytes, 😀 is 4. */
        {"{\"s\": \"\u00e9\u00e9\u00e9\"}", 3, 3, false, true, "\xc3\xa9\xc3\xa9\xc3\xa9"},
        {"{\"s\": \"\\ud83d\\ude00\"}", 1, 1, false, true, "\xf0\x9f\x98\x80"},
        {"{\"s\": \"\\ud83d\\ude00x\"}", 1, 1, false, false, NULL},
        {"{\"s\": 12}", 1, 3, false, false, NULL},
        {"{\"s\": null}", 1, 3, false, false, NULL},
        {"{}", 1, 3, false, false, NULL},
        {"{\"s\": {}}", 1, 3, false, false, NULL},
        {"{}", 1, 3, true, true, NULL},
        {"{\"s\": null}", 1, 3, true, true, NULL},
        {"{\"s\": \"ab\"}", 1, 3, true, true, "ab"},
        {"{\"s\": \"\"}", 1, 3, true, false, NULL},
        {"{\"s\": 3}", 1, 3, true, false, NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct str_case *c = &cases[i];
        struct vg_resp *resp = vg_resp_new();
        json_t *obj = parse(c->json);
        const char *got = "untouched";
        int rc =
            c->opt ? vg_json_str_opt(resp, obj, "s", "shipping_address.line2", c->min, c->max, &got)
                   : vg_json_str(resp, obj, "s", "shipping_address.line2", c->min, c->max, &got);

        if ((rc == 0) != c->ok)
            fail_msg("case %zu: %s: rc %d", i, c->json, rc);
        if (!c->ok) {
            assert_refused(resp, "shipping_address.line2");
        } else if (c->want) {
            assert_non_null(got);
            assert_string_equal(got, c->want);
        } else {
            assert_null(got);
        }
        json_decref(obj);
        vg_resp_free(resp);
    }
}

static void test_obj(void **state)
{
    static const struct {
        const char *json;
        bool ok;
    } cases[] = {
        {"{\"a\": {}}", true},     {"{\"a\": {\"b\": 1}}", true}, {"{\"a\": []}", false},
        {"{\"a\": \"x\"}", false}, {"{\"a\": null}", false},      {"{}", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vg_resp *resp = vg_resp_new();
        json_t *obj = parse(cases[i].json);
        json_t *got = NULL;
        int rc = vg_json_obj(resp, obj, "a", "payment", &got);

        if ((rc == 0) != cases[i].ok)
            fail_msg("case %zu: %s", i, cases[i].json);
        if (rc == 0)
            assert_ptr_equal(got, json_object_get(obj, "a"));
        else
            assert_refused(resp, "payment");
        json_decref(obj);
        vg_resp_free(resp);
    }
}

static void test_canonical(void **state)
{
    static const struct {
        const char *a, *b;
        bool equal;
    } cases[] = {
        {"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", true},
        {"{\"x\":{\"b\":[1,2],\"a\":null}}", "{ \"x\" : { \"a\" : null, \"b\" : [ 1, 2 ] } }",
         true},
        {"{\"a\":[1,2]}", "{\"a\":[2,1]}", false},
        {"{\"a\":1}", "{\"a\":\"1\"}", false},
        {"{\"a\":\"\\u00e9\"}", "{\"a\":\"\xc3\xa9\"}", true},
        {"{\"a\":1}", "{\"a\":1,\"b\":null}", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *a = parse(cases[i].a);
        json_t *b = parse(cases[i].b);
        char *ca = vg_json_canonical(a);
        char *cb = vg_json_canonical(b);

        assert_non_null(ca);
        assert_non_null(cb);
        if ((strcmp(ca, cb) == 0) != cases[i].equal)
            fail_msg("case %zu: %s vs %s", i, ca, cb);
        free(ca);
        free(cb);
        json_decref(a);
        json_decref(b);
    }
    {
        json_t *v = parse("{\"b\":{\"d\":1,\"c\":2},\"a\":[true]}");
        char *c = vg_json_canonical(v);
        assert_string_equal(c, "{\"a\":[true],\"b\":{\"c\":2,\"d\":1}}");
        free(c);
        json_decref(v);
    }
}

static void test_error_shape(void **state)
{
    struct vg_resp *resp = vg_resp_new();

    assert_false(vg_resp_is_set(resp));
    assert_null(vg_resp_body(resp, NULL));
    vg_resp_error(resp, 409, "out_of_stock", "some products are out of stock",
                  json_pack("{s:[i,i]}", "product_ids", 3, 7));
    assert_int_equal(vg_resp_status(resp), 409);
    assert_string_equal(vg_resp_body(resp, NULL),
                        "{\"error\":{\"code\":\"out_of_stock\",\"message\":\"some products are "
                        "out of stock\",\"details\":{\"product_ids\":[3,7]}}}");
    vg_resp_error(resp, 404, "not_found", "no such order", NULL);
    assert_string_equal(vg_resp_body(resp, NULL),
                        "{\"error\":{\"code\":\"not_found\",\"message\":\"no such order\"}}");
    vg_resp_json(resp, 204, NULL);
    assert_int_equal(vg_resp_status(resp), 204);
    assert_null(vg_resp_body(resp, NULL));
    vg_resp_free(resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int),         cmocka_unit_test(test_str),
        cmocka_unit_test(test_obj),         cmocka_unit_test(test_canonical),
        cmocka_unit_test(test_error_shape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* lg_route_fold: loadgen's route labels must match the agent's folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "../../tools/loadgen/route.h"

struct fold_case {
    const char *method;
    const char *target;
    const char *want;
};

static const struct fold_case cases[] = {
    {"GET", "/api/products/42", "GET /api/products/{id}"},
    {"GET", "/api/products/999999999", "GET /api/products/{id}"},
    {"GET", "/api/products?page=3", "GET /api/products"},
    {"GET", "/api/products?q=mug&page=1#top", "GET /api/products"},
    {"PUT", "/api/cart/items/7", "PUT /api/cart/items/{id}"},
    {"DELETE", "/api/cart/items/7", "DELETE /api/cart/items/{id}"},
    {"POST", "/api/orders", "POST /api/orders"},
    {"GET", "/api/orders/12/items/3", "GET /api/orders/{id}/items/{id}"},
    {"GET", "http://127.0.0.1:8080/api/products/5?x=1", "GET /api/products/{id}"},
    {"GET", "http://127.0.0.1:8080", "GET /"},
    {"GET", "http://127.0.0.1:8080?q=1", "GET /"},
    {"GET", "", "GET /"},
    {"GET", "/", "GET /"},
    {"GET", "/api/products/", "GET /api/products/"},
    {"GET", "/api/products/12a", "GET /api/products/12a"}, /* not all digits */
    {"GET", "/api/products/-1", "GET /api/products/-1"},   /* not all digits */
    {"GET", "/api//products", "GET /api//products"},       /* empty segment stays */
    {"GET", "/v1/2024", "GET /v1/{id}"},
    {"HEAD", "/healthz", "HEAD /healthz"},
    {"GET", "/o/0123456789abcdef", "GET /o/{id}"},                         /* 16 hex digits */
    {"GET", "/o/0123456789abcde", "GET /o/0123456789abcde"},               /* 15: a word */
    {"GET", "/o/123e4567-e89b-12d3-a456-426614174000/x", "GET /o/{id}/x"}, /* UUID */
    {"GET", "/o/123e4567-e89b-12d3-a456-42661417400g",
     "GET /o/123e4567-e89b-12d3-a456-42661417400g"},
};

static void test_fold_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        int n = lg_route_fold(cases[i].method, cases[i].target, out, sizeof(out));

        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_string_equal(out, cases[i].want);
    }
}

static void test_fold_too_small(void **state)
{
    char out[32];

    (void)state;
    /* "GET /api/products/{id}" is 22 characters: 23 bytes fit, 22 do not. */
    assert_int_equal(lg_route_fold("GET", "/api/products/1", out, 23), 22);
    assert_int_equal(lg_route_fold("GET", "/api/products/1", out, 22), -1);
    assert_int_equal(lg_route_fold("GET", "/", out, 1), -1);
    assert_int_equal(lg_route_fold("GET", "/", out, 0), -1);
    assert_int_equal(lg_route_fold(NULL, "/", out, sizeof(out)), -1);
    assert_int_equal(lg_route_fold("GET", NULL, out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_table),
        cmocka_unit_test(test_fold_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

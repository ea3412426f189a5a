/* ag_route_fold: ids in paths become {id}; must agree with loadgen's folding on numeric ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "proto/proto.h"

static const struct {
    const char *path, *want;
} cases[] = {
    {"/api/products/42", "/api/products/{id}"},
    {"/api/orders/12/items/3", "/api/orders/{id}/items/{id}"},
    {"/api/products?page=3", "/api/products"},
    {"/api/products/", "/api/products/"},
    {"/api/products/12a", "/api/products/12a"},
    {"/api/products/-1", "/api/products/-1"},
    {"/api//products", "/api//products"},
    {"/v1/2024", "/v1/{id}"},
    {"/", "/"},
    {"", ""},
    {"/orders/550e8400-e29b-41d4-a716-446655440000", "/orders/{id}"},
    {"/orders/550e8400-e29b-41d4-a716-44665544000g",
     "/orders/550e8400-e29b-41d4-a716-44665544000g"},
    {"/obj/5f2b7c9e8d1a4b3c", "/obj/{id}"},
    {"/obj/deadbeef", "/obj/deadbeef"}, /* short hex words stay: "cafe", "beef" */
    {"/static/app.js#x", "/static/app.js"},
};

static void test_fold_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        int n = ag_route_fold(cases[i].path, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, (int)strlen(cases[i].want));
    }
}

static void test_fold_too_small(void **state)
{
    char out[32];

    (void)state;
    /* "/api/products/{id}" is 18 characters: 19 bytes fit, 18 do not. */
    assert_int_equal(ag_route_fold("/api/products/1", out, 19), 18);
    assert_int_equal(ag_route_fold("/api/products/1", out, 18), -1);
    assert_string_equal(out, "");
    assert_int_equal(ag_route_fold("/", out, 1), -1);
    assert_int_equal(ag_route_fold("/", out, 0), -1);
    assert_int_equal(ag_route_fold(NULL, out, sizeof(out)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_table),
        cmocka_unit_test(test_fold_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

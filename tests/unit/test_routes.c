/* ag_route_patterns: configured http_route templates, tried before the built-in folding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/route_pattern.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const patterns[] = {
    "/api/orders/{id}/items/{item}",
    "/api/users/{name}",
    "/api/users/me", /* after {name}: never reached, the first match wins */
    "/files/{dir}/{file}",
    "/",
    "/static/",
    "/v1/{a}/x",
    "/v1/{b}/y",
};

static const struct {
    const char *path, *want;
} cases[] = {
    {"/api/orders/12/items/3", "/api/orders/{id}/items/{item}"},
    {"/api/orders/abc/items/x-y", "/api/orders/{id}/items/{item}"},
    {"/api/orders/12/items/3?q=1", "/api/orders/{id}/items/{item}"},
    {"/api/orders/12/items/3#frag", "/api/orders/{id}/items/{item}"},
    {"/api/orders/12/items/", "/api/orders/{id}/items/"},          /* {item} needs a segment */
    {"/api/orders/12/items", "/api/orders/{id}/items"},            /* fewer segments: folding */
    {"/api/orders/12/items/3/x", "/api/orders/{id}/items/{id}/x"}, /* more segments */
    {"/api/orders//items/3", "/api/orders//items/{id}"},           /* empty segment: no {id} */
    {"/api/users/alice", "/api/users/{name}"},
    {"/api/users/me", "/api/users/{name}"},
    {"/api/Users/alice", "/api/Users/alice"}, /* literals are case-sensitive */
    {"/files/a/b.txt", "/files/{dir}/{file}"},
    {"/files/a", "/files/a"},
    {"/", "/"},
    {"/?x=1", "/"},
    {"/static/", "/static/"},
    {"/static", "/static"},
    {"/v1/7/y", "/v1/{b}/y"},
    {"/v1/7/x", "/v1/{a}/x"},
    {"/v1/7/z", "/v1/{id}/z"},
    {"/api/products/42", "/api/products/{id}"}, /* no pattern: built-in folding */
    {"", ""},
    {"*", "*"},
    {"http://h/api/users/x", "http://h/api/users/x"}, /* absolute form: not a path */
};

static void test_match_table(void **state)
{
    struct ag_route_patterns *rp = NULL;

    (void)state;
    assert_int_equal(ag_route_patterns_compile(patterns, N(patterns), &rp, NULL), 0);
    for (size_t i = 0; i < N(cases); i++) {
        char out[320];
        int n = ag_route_match(rp, cases[i].path, out, sizeof(out));

        if (strcmp(out, cases[i].want) != 0)
            fprintf(stderr, "case %zu: %s -> %s, want %s\n", i, cases[i].path, out, cases[i].want);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, (int)strlen(cases[i].want));
    }
    ag_route_patterns_free(rp);
}

static void test_no_patterns_is_folding(void **state)
{
    struct ag_route_patterns *rp = NULL;
    char a[64], b[64];

    (void)state;
    assert_int_equal(ag_route_patterns_compile(NULL, 0, &rp, NULL), 0);
    assert_int_equal(ag_route_match(rp, "/api/products/7?x", a, sizeof(a)),
                     ag_route_match(NULL, "/api/products/7?x", b, sizeof(b)));
    assert_string_equal(a, "/api/products/{id}");
    assert_string_equal(b, "/api/products/{id}");
    ag_route_patterns_free(rp);
    ag_route_patterns_free(NULL);
}

static void test_check(void **state)
{
    static const struct {
        const char *pattern;
        int ok;
    } checks[] = {
        {"/api/{id}", 1},  {"/{a_1}/{B}", 1},  {"/", 1},          {"//", 1},
        {"/a-b/c.d", 1},   {"api/{id}", 0},    {"", 0},           {"/api/x{id}", 0},
        {"/api/{id}x", 0}, {"/api/{}", 0},     {"/api/{i-d}", 0}, {"/api/{id", 0},
        {"/api/id}", 0},   {"/api/{{id}}", 0}, {"/api?x=1", 0},   {"/api#x", 0},
    };
    char longp[AG_ROUTE_PATTERN_MAX + 1];

    (void)state;
    for (size_t i = 0; i < N(checks); i++) {
        const char *why = ag_route_pattern_check(checks[i].pattern);

        if ((why == NULL) != checks[i].ok)
            fprintf(stderr, "check %zu: %s: %s\n", i, checks[i].pattern, why ? why : "ok");
        assert_int_equal(why == NULL, checks[i].ok);
    }
    assert_non_null(ag_route_pattern_check(NULL));
    memset(longp, 'a', sizeof(longp));
    longp[0] = '/';
    longp[AG_ROUTE_PATTERN_MAX - 1] = '\0'; /* 255 bytes: the longest allowed */
    assert_null(ag_route_pattern_check(longp));
    longp[AG_ROUTE_PATTERN_MAX - 1] = 'a';
    longp[AG_ROUTE_PATTERN_MAX] = '\0';
    assert_non_null(ag_route_pattern_check(longp));
}

static void test_compile_rejects(void **state)
{
    const char *const bad[] = {"/ok/{id}", "/bad{id}"};
    struct ag_route_patterns *rp = NULL;
    size_t at = 99;

    (void)state;
    assert_int_equal(ag_route_patterns_compile(bad, 2, &rp, &at), -EINVAL);
    assert_int_equal(at, 1);
    assert_null(rp);
    assert_int_equal(ag_route_patterns_compile(bad, 1, NULL, NULL), -EINVAL);
}

static void test_out_too_small(void **state)
{
    const char *const one[] = {"/api/users/{name}"};
    struct ag_route_patterns *rp = NULL;
    char out[32];

    (void)state;
    assert_int_equal(ag_route_patterns_compile(one, 1, &rp, NULL), 0);
    /* "/api/users/{name}" is 17 bytes: 18 fit, 17 do not. */
    assert_int_equal(ag_route_match(rp, "/api/users/x", out, 18), 17);
    assert_int_equal(ag_route_match(rp, "/api/users/x", out, 17), -1);
    assert_string_equal(out, "");
    assert_int_equal(ag_route_match(rp, "/api/users/x", out, 0), -1);
    assert_int_equal(ag_route_match(rp, NULL, out, sizeof(out)), -1);
    ag_route_patterns_free(rp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),   cmocka_unit_test(test_no_patterns_is_folding),
        cmocka_unit_test(test_check),         cmocka_unit_test(test_compile_rejects),
        cmocka_unit_test(test_out_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* vg_route_match and vg_request_id_valid: pure helpers, tables of cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vg_http.h"

struct match_case {
    const char *pattern;
    const char *path;
    bool match;
    int nids;
    long long ids[VG_MAX_PATH_IDS];
};

static void test_route_match(void **state)
{
    static const struct match_case cases[] = {
        {"/products", "/products", true, 0, {0}},
        {"/products", "/products/", false, 0, {0}},
        {"/products/", "/products", false, 0, {0}},
        {"/products", "/product", false, 0, {0}},
        {"/products", "/productsx", false, 0, {0}},
        {"/", "/", true, 0, {0}},
        {"/", "", false, 0, {0}},
        {"/products/{id}", "/products/1", true, 1, {1}},
        {"/products/{id}", "/products/42", true, 1, {42}},
        {"/products/{id}", "/products/9007199254740991", true, 1, {9007199254740991LL}},
        {"/products/{id}", "/products/9007199254740992", false, 0, {0}},
        {"/products/{id}", "/products/99999999999999999999", false, 0, {0}},
        {"/products/{id}", "/products/0", false, 0, {0}},
        {"/products/{id}", "/products/007", false, 0, {0}},
        {"/products/{id}", "/products/-1", false, 0, {0}},
        {"/products/{id}", "/products/+1", false, 0, {0}},
        {"/products/{id}", "/products/1.0", false, 0, {0}},
        {"/products/{id}", "/products/1e3", false, 0, {0}},
        {"/products/{id}", "/products/ 1", false, 0, {0}},
        {"/products/{id}", "/products/abc", false, 0, {0}},
        {"/products/{id}", "/products/", false, 0, {0}},
        {"/products/{id}", "/products", false, 0, {0}},
        {"/products/{id}", "/products/1/", false, 0, {0}},
        {"/products/{id}", "/products/1/x", false, 0, {0}},
        {"/products/{id}", "/products/{id}", false, 0, {0}},
        {"/cart/items/{id}", "/cart/items/3", true, 1, {3}},
        {"/a/{id}/b/{id}", "/a/5/b/6", true, 2, {5, 6}},
        {"/a/{id}/b/{id}", "/a/5/b", false, 0, {0}},
        {"/a/{id}/b/{id}", "/a/5/c/6", false, 0, {0}},
        {"/charges/{id}", "/charges/12", true, 1, {12}},
        /* {id} only counts as a whole segment. */
        {"/x{id}", "/x{id}", true, 0, {0}},
        {"/x{id}", "/x1", false, 0, {0}},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct match_case *c = &cases[i];
        long long ids[VG_MAX_PATH_IDS] = {0};
        int nids = -1;
        bool got = vg_route_match(c->pattern, c->path, ids, &nids);

        if (got != c->match)
            fail_msg("case %zu: %s ~ %s: got %d", i, c->pattern, c->path, got);
        if (!got)
            continue;
        assert_int_equal(nids, c->nids);
        for (int k = 0; k < nids; k++)
            assert_int_equal(ids[k], c->ids[k]);
    }
}

static void test_route_match_null_outputs(void **state)
{
    assert_true(vg_route_match("/p/{id}", "/p/3", NULL, NULL));
}

static void test_request_id_valid(void **state)
{
    char max[VG_REQUEST_ID_MAX + 2];
    static const struct {
        const char *id;
        bool valid;
    } cases[] = {
        {"abc", true},     {"A-Z_a.z-0.9", true},  {"0123456789abcdef0123456789abcdef", true},
        {"", false},       {"has space", false},   {"semi;colon", false},
        {"slash/", false}, {"caf\xc3\xa9", false}, {"new\nline", false},
        {"plus+", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (vg_request_id_valid(cases[i].id) != cases[i].valid)
            fail_msg("case %zu: '%s'", i, cases[i].id);
    assert_false(vg_request_id_valid(NULL));

    memset(max, 'a', VG_REQUEST_ID_MAX);
    max[VG_REQUEST_ID_MAX] = '\0';
    assert_true(vg_request_id_valid(max));
    max[VG_REQUEST_ID_MAX] = 'a';
    max[VG_REQUEST_ID_MAX + 1] = '\0';
    assert_false(vg_request_id_valid(max));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_match),
        cmocka_unit_test(test_route_match_null_outputs),
        cmocka_unit_test(test_request_id_valid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

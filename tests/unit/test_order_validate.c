/* Unit tests for the order service's pure validators (services/order/validate.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/order/validate.h"

struct str_case {
    const char *in;
    bool want;
};

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static void test_country(void **state)
{
    static const struct str_case cases[] = {
        {"US", true},  {"DE", true},  {"GB", true},   {"AX", true},  {"ZW", true},  {"SS", true},
        {"us", false}, {"Us", false}, {"USA", false}, {"U", false},  {"", false},   {"XX", false},
        {"UK", false}, {"AA", false}, {"ZZ", false},  {"U1", false}, {"EU", false},
    };
    int assigned = 0;
    char code[3] = {0};

    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        if (ord_country_valid(cases[i].in) != cases[i].want)
            fail_msg("ord_country_valid(\"%s\") != %d", cases[i].in, cases[i].want);
    }
    assert_false(ord_country_valid(NULL));
    /* ISO 3166-1 has 249 officially assigned alpha-2 codes. */
    for (code[0] = 'A'; code[0] <= 'Z'; code[0]++)
        for (code[1] = 'A'; code[1] <= 'Z'; code[1]++)
            assigned += ord_country_valid(code);
    assert_int_equal(assigned, 249);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_country),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

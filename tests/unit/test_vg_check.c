/* Unit tests for vg_check: the card and token rules the order and payment services share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vg_check.h"

struct str_case {
    const char *in;
    bool want;
};

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

static void test_luhn(void **state)
{
    static const struct str_case cases[] = {
        {"4242424242424242", true}, /* API.md: approves */
        {"4000000000000002", true}, /* declines at payment, but a valid number */
        {"4000000000009995", true},
        {"79927398713", true}, /* the textbook example */
        {"79927398710", false},
        {"4242424242424241", false}, /* last digit off by one */
        {"0", true},
        {"", false},
        {"4242 4242 4242 4242", false}, /* spaces are not digits */
        {"42424242424242a2", false},
        {"-4242424242424242", false},
    };

    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        if (vg_luhn_valid(cases[i].in) != cases[i].want)
            fail_msg("vg_luhn_valid(\"%s\") != %d", cases[i].in, cases[i].want);
    }
    assert_false(vg_luhn_valid(NULL));
}

static void test_card_number(void **state)
{
    static const struct str_case cases[] = {
        {"4242424242424242", true},      {"000000000000", true}, /* 12 digits, Luhn sum 0 */
        {"00000000000", false},                                  /* 11 digits */
        {"0000000000000000000", true},                           /* 19 digits */
        {"00000000000000000000", false},                         /* 20 digits */
        {"4242424242424241", false},                             /* Luhn */
        {"424242424242424X", false},
    };

    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        if (vg_card_number_valid(cases[i].in) != cases[i].want)
            fail_msg("vg_card_number_valid(\"%s\") != %d", cases[i].in, cases[i].want);
    }
}

static void test_cvc(void **state)
{
    static const struct str_case cases[] = {
        {"123", true},  {"1234", true}, {"12", false},   {"12345", false},
        {"12a", false}, {"", false},    {" 123", false},
    };

    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        if (vg_cvc_valid(cases[i].in) != cases[i].want)
            fail_msg("vg_cvc_valid(\"%s\") != %d", cases[i].in, cases[i].want);
    }
}

static void test_idem_key(void **state)
{
    static const struct str_case cases[] = {
        {"a", true},
        {"checkout-2024.01_01", true},
        {"550e8400-e29b-41d4-a716-446655440000", true},
        {"", false},
        {"has space", false},
        {"slash/no", false},
        {"colon:no", false},
        {"caf\xc3\xa9", false}, /* non-ASCII */
    };
    char key[300];

    (void)state;
    for (size_t i = 0; i < NCASES(cases); i++) {
        if (vg_token_valid(cases[i].in, VG_IDEM_KEY_MAX) != cases[i].want)
            fail_msg("vg_token_valid(\"%s\", VG_IDEM_KEY_MAX) != %d", cases[i].in, cases[i].want);
    }
    assert_false(vg_token_valid(NULL, VG_IDEM_KEY_MAX));
    memset(key, 'k', sizeof(key));
    key[255] = '\0';
    assert_true(vg_token_valid(key, VG_IDEM_KEY_MAX)); /* 255 characters */
    key[255] = 'k';
    key[256] = '\0';
    assert_false(vg_token_valid(key, VG_IDEM_KEY_MAX)); /* 256 */
}

static void test_digits(void **state)
{
    (void)state;
    assert_true(vg_digits("123", 3, 3));
    assert_false(vg_digits("123", 4, 5));
    assert_false(vg_digits("123", 1, 2));
    assert_false(vg_digits(NULL, 0, 1));
    assert_true(vg_digits("", 0, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luhn),   cmocka_unit_test(test_card_number),
        cmocka_unit_test(test_cvc),    cmocka_unit_test(test_idem_key),
        cmocka_unit_test(test_digits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

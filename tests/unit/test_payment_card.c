/* Unit tests for services/payment/card.c: the pure validators and the
 * decision table of API.md's test cards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/payment/card.h"

static void test_digits(void **state)
{
    static const struct {
        const char *s;
        size_t min, max;
        bool ok;
    } cases[] = {
        {"123", 3, 4, true},
        {"1234", 3, 4, true},
        {"12", 3, 4, false},
        {"12345", 3, 4, false},
        {"12a", 3, 4, false},
        {"", 3, 4, false},
        {" 123", 3, 4, false},
        {"123 ", 3, 4, false},
        {"-123", 3, 4, false},
        {"\xd9\xa1\xd9\xa2\xd9\xa3", 3, 8, false}, /* Arabic-Indic digits are not digits here */
        {NULL, 0, 4, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(pay_digits(cases[i].s, cases[i].min, cases[i].max), cases[i].ok);
}

static void test_card_number(void **state)
{
    static const struct {
        const char *number;
        bool ok;
    } cases[] = {
        {"4242424242424242", true},
        {"4000000000000002", true},
        {"4000000000009995", true},
        {"5555555555554444", true},
        {"378282246310005", true},       /* 15 digits (Amex) */
        {"000000000000", true},          /* 12 digits, sum 0 */
        {"4242424242424241", false},     /* Luhn fails */
        {"42424242424", false},          /* 11 digits */
        {"0000000000000000000", true},   /* 19 digits */
        {"00000000000000000000", false}, /* 20 digits */
        {"4242 4242 4242 4242", false},  /* spaces are not accepted */
        {"4242-4242-4242-4242", false},
        {"", false},
        {NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(pay_card_number_valid(cases[i].number), cases[i].ok);
    assert_true(pay_luhn_valid("79927398713"));
    assert_false(pay_luhn_valid("79927398710"));
}

static void test_cvc(void **state)
{
    assert_true(pay_cvc_valid("123"));
    assert_true(pay_cvc_valid("0000"));
    assert_false(pay_cvc_valid("12"));
    assert_false(pay_cvc_valid("12345"));
    assert_false(pay_cvc_valid("12a"));
    assert_false(pay_cvc_valid(NULL));
}

static void test_idem_key(void **state)
{
    char long_key[300];

    assert_true(pay_idem_key_valid("42"));
    assert_true(pay_idem_key_valid("a.B_c-9"));
    assert_false(pay_idem_key_valid(""));
    assert_false(pay_idem_key_valid(NULL));
    assert_false(pay_idem_key_valid("a b"));
    assert_false(pay_idem_key_valid("a/b"));
    assert_false(pay_idem_key_valid("é"));
    memset(long_key, 'k', sizeof(long_key));
    long_key[255] = '\0';
    assert_true(pay_idem_key_valid(long_key));
    long_key[255] = 'k';
    long_key[256] = '\0';
    assert_false(pay_idem_key_valid(long_key));
}

static void test_expiry(void **state)
{
    /* now = March 2026 */
    assert_false(pay_card_expired(2026, 3, 2026, 3)); /* good through the month's end */
    assert_false(pay_card_expired(2026, 4, 2026, 3));
    assert_false(pay_card_expired(2027, 1, 2026, 3));
    assert_true(pay_card_expired(2026, 2, 2026, 3));
    assert_true(pay_card_expired(2025, 12, 2026, 3));
    assert_true(pay_card_expired(2025, 12, 2026, 1)); /* year boundary */
    assert_false(pay_card_expired(2026, 1, 2026, 1));
}

static void test_decision_table(void **state)
{
    static const struct {
        const char *number;
        int exp_year, exp_month;
        enum pay_outcome outcome;
        const char *reason;
    } cases[] = {
        {"4242424242424242", 2030, 12, PAY_APPROVED, NULL},
        {"5555555555554444", 2030, 12, PAY_APPROVED, NULL},
        {"4000000000000002", 2030, 12, PAY_DECLINED_CARD, "card_declined"},
        {"4000000000009995", 2030, 12, PAY_DECLINED_FUNDS, "insufficient_funds"},
        {"4242424242424242", 2026, 2, PAY_DECLINED_EXPIRED, "expired_card"},
        /* Expiry wins over the test card's own decline. */
        {"4000000000000002", 2020, 1, PAY_DECLINED_EXPIRED, "expired_card"},
        {"4000000000009995", 2026, 3, PAY_DECLINED_FUNDS, "insufficient_funds"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum pay_outcome got =
            pay_decide(cases[i].number, cases[i].exp_year, cases[i].exp_month, 2026, 3);
        assert_int_equal(got, cases[i].outcome);
        if (cases[i].reason)
            assert_string_equal(pay_outcome_reason(got), cases[i].reason);
        else
            assert_null(pay_outcome_reason(got));
    }
}

static void test_last4(void **state)
{
    char out[5];

    pay_last4("4242424242424242", out);
    assert_string_equal(out, "4242");
    pay_last4("4000000000009995", out);
    assert_string_equal(out, "9995");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digits), cmocka_unit_test(test_card_number),
        cmocka_unit_test(test_cvc),    cmocka_unit_test(test_idem_key),
        cmocka_unit_test(test_expiry), cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_last4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

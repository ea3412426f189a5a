/* Unit tests for services/payment/card.c: the pure validators and the
 * decision table of API.md's test cards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/payment/card.h"

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
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_decision_table),
        cmocka_unit_test(test_last4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

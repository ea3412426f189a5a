/* card: pure card and key rules; see card.h. */
#include "card.h"

#include <string.h>

/* The test cards of API.md; every other valid number approves. */
static const struct {
    const char *number;
    enum pay_outcome outcome;
} test_cards[] = {
    {"4000000000000002", PAY_DECLINED_CARD},
    {"4000000000009995", PAY_DECLINED_FUNDS},
};

bool pay_card_expired(int exp_year, int exp_month, int now_year, int now_month)
{
    return exp_year < now_year || (exp_year == now_year && exp_month < now_month);
}

enum pay_outcome pay_decide(const char *number, int exp_year, int exp_month, int now_year,
                            int now_month)
{
    if (pay_card_expired(exp_year, exp_month, now_year, now_month))
        return PAY_DECLINED_EXPIRED;
    for (size_t i = 0; i < sizeof(test_cards) / sizeof(test_cards[0]); i++) {
        if (strcmp(number, test_cards[i].number) == 0)
            return test_cards[i].outcome;
    }
    return PAY_APPROVED;
}

const char *pay_outcome_reason(enum pay_outcome outcome)
{
    switch (outcome) {
    case PAY_DECLINED_EXPIRED:
        return "expired_card";
    case PAY_DECLINED_CARD:
        return "card_declined";
    case PAY_DECLINED_FUNDS:
        return "insufficient_funds";
    case PAY_APPROVED:
        break;
    }
    return NULL;
}

void pay_last4(const char *number, char out[5])
{
    size_t len = strlen(number);

    /* Validated numbers have at least 12 digits; stay safe for shorter input. */
    memcpy(out, len >= 4 ? number + len - 4 : "0000", 4);
    out[4] = '\0';
}

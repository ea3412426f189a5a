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

bool pay_digits(const char *s, size_t min, size_t max)
{
    size_t n = 0;

    if (!s)
        return false;
    for (; s[n]; n++) {
        /* Compare bytes, not isdigit(): locale digits must not pass. */
        if (s[n] < '0' || s[n] > '9' || n >= max)
            return false;
    }
    return n >= min;
}

bool pay_luhn_valid(const char *number)
{
    size_t len;
    int sum = 0;

    if (!pay_digits(number, 1, PAY_CARD_MAX_DIGITS))
        return false;
    len = strlen(number);
    /* Double every second digit counting from the rightmost (the check digit). */
    for (size_t i = 0; i < len; i++) {
        int d = number[len - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

bool pay_card_number_valid(const char *number)
{
    return pay_digits(number, PAY_CARD_MIN_DIGITS, PAY_CARD_MAX_DIGITS) && pay_luhn_valid(number);
}

bool pay_cvc_valid(const char *cvc)
{
    return pay_digits(cvc, 3, 4);
}

bool pay_idem_key_valid(const char *key)
{
    size_t n = 0;

    if (!key)
        return false;
    for (; key[n]; n++) {
        char c = key[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= PAY_IDEM_KEY_MAX)
            return false;
    }
    return n >= 1;
}

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

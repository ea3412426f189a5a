/* card: the payment service's pure rules (API.md "Payment fields" and "Test
 * cards"). No I/O, no allocation, no clock: the caller passes the current UTC
 * month, so every rule is a table-driven unit test (tests/unit/test_payment_card.c). */
#ifndef PAY_CARD_H
#define PAY_CARD_H

#include <stdbool.h>
#include <stddef.h>

enum pay_outcome {
    PAY_APPROVED,
    PAY_DECLINED_EXPIRED,
    PAY_DECLINED_CARD,
    PAY_DECLINED_FUNDS,
};

/* A card is good through the last day of its expiry month, so it is expired
 * only when (exp_year, exp_month) is before (now_year, now_month). */
bool pay_card_expired(int exp_year, int exp_month, int now_year, int now_month);
/* The whole decision for an already validated request: expiry first (an
 * expired test card is expired, whatever its number), then the test cards. */
enum pay_outcome pay_decide(const char *number, int exp_year, int exp_month, int now_year,
                            int now_month);
/* details.reason for a declined outcome ("expired_card", ...); NULL when approved. */
const char *pay_outcome_reason(enum pay_outcome outcome);
/* Copies the last 4 digits of a validated number into out (5 bytes with the NUL). */
void pay_last4(const char *number, char out[5]);

#endif

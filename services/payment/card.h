/* card: the payment service's pure rules (API.md "Payment fields" and "Test
 * cards"). No I/O, no allocation, no clock: the caller passes the current UTC
 * month, so every rule is a table-driven unit test (tests/unit/test_payment_card.c). */
#ifndef PAY_CARD_H
#define PAY_CARD_H

#include <stdbool.h>
#include <stddef.h>

#define PAY_CARD_MIN_DIGITS 12
#define PAY_CARD_MAX_DIGITS 19
#define PAY_IDEM_KEY_MAX    255

enum pay_outcome {
    PAY_APPROVED,
    PAY_DECLINED_EXPIRED,
    PAY_DECLINED_CARD,
    PAY_DECLINED_FUNDS,
};

/* true when s is min..max ASCII digits and nothing else. */
bool pay_digits(const char *s, size_t min, size_t max);
/* Luhn (ISO/IEC 7812-1 annex B) over a string of digits; false for anything else. */
bool pay_luhn_valid(const char *number);
/* A card number the API accepts: 12-19 digits passing the Luhn check. */
bool pay_card_number_valid(const char *number);
/* A CVC: 3 or 4 digits. */
bool pay_cvc_valid(const char *cvc);
/* Idempotency-Key: 1-255 characters of [A-Za-z0-9._-] (API.md "Idempotency"). */
bool pay_idem_key_valid(const char *key);
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

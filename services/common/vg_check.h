/* vg_check: the pure field rules of API.md that more than one service applies (the order
 * service checks a card before it reserves stock; payment checks it again before charging).
 * No I/O, no allocation: tests/unit/test_vg_check.c table-tests them. */
#ifndef VG_CHECK_H
#define VG_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#define VG_CARD_MIN_DIGITS 12
#define VG_CARD_MAX_DIGITS 19
#define VG_IDEM_KEY_MAX    255

/* true when s is min..max ASCII digits and nothing else (bytes, not isdigit(): locale digits
 * must not pass). */
bool vg_digits(const char *s, size_t min, size_t max);
/* Luhn (ISO/IEC 7812-1 annex B) over a string of ASCII digits; false for anything else. */
bool vg_luhn_valid(const char *digits);
/* A card number the API accepts: 12-19 digits passing the Luhn check. */
bool vg_card_number_valid(const char *number);
/* A CVC: 3 or 4 digits. */
bool vg_cvc_valid(const char *cvc);
/* 1..max characters of [A-Za-z0-9._-]: Idempotency-Key (max 255), X-Request-Id (max 64). */
bool vg_token_valid(const char *s, size_t max);

#endif

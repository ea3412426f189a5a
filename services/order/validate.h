/* validate: the order service's request rules (API.md "Small rules", "Payment fields",
 * "Idempotency"). The ord_*_valid predicates are pure (no I/O, no allocation) so that
 * tests/unit/test_order_validate.c can table-test them, linked without the rest of the service;
 * checkout_body.c applies them to a POST /orders body. */
#ifndef ORD_VALIDATE_H
#define ORD_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#define ORD_CARD_MIN_DIGITS 12
#define ORD_CARD_MAX_DIGITS 19
#define ORD_IDEM_KEY_MAX    255

/* true when s is min..max ASCII digits and nothing else. */
bool ord_digits(const char *s, size_t min, size_t max);
/* Luhn (ISO/IEC 7812-1 annex B) over a string of ASCII digits; false for anything else. */
bool ord_luhn_valid(const char *digits);
/* 12-19 digits passing the Luhn check. */
bool ord_card_number_valid(const char *number);
/* 3 or 4 digits. */
bool ord_cvc_valid(const char *cvc);
/* An officially assigned ISO 3166-1 alpha-2 code: two upper-case letters naming a country. */
bool ord_country_valid(const char *code);
/* Idempotency-Key: 1-255 characters of [A-Za-z0-9._-]. */
bool ord_idem_key_valid(const char *key);

#endif

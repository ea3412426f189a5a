/* validate: the order service's request rules (API.md "Small rules", "Payment fields",
 * "Idempotency"). The ord_*_valid predicates are pure (no I/O, no allocation) so that
 * tests/unit/test_order_validate.c can table-test them, linked without the rest of the service;
 * checkout_body.c applies them to a POST /orders body. */
#ifndef ORD_VALIDATE_H
#define ORD_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

/* An officially assigned ISO 3166-1 alpha-2 code: two upper-case letters naming a country. */
bool ord_country_valid(const char *code);

#endif

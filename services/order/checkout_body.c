/* checkout_body: the POST /orders body, read with vg_json's strict readers (each answers 400
 * invalid_field with the dotted path itself) and checked with validate.c's rules. */
#include <string.h>

#include "order.h"
#include "vg_json.h"

static int parse_address(struct vg_resp *resp, json_t *body, struct checkout_input *in)
{
    json_t *addr;

    if (vg_json_obj(resp, body, "shipping_address", "shipping_address", &addr) ||
        vg_json_str(resp, addr, "name", "shipping_address.name", 1, 200, &in->name) ||
        vg_json_str(resp, addr, "line1", "shipping_address.line1", 1, 200, &in->line1) ||
        vg_json_str_opt(resp, addr, "line2", "shipping_address.line2", 0, 200, &in->line2) ||
        vg_json_str(resp, addr, "city", "shipping_address.city", 1, 100, &in->city) ||
        vg_json_str(resp, addr, "postal_code", "shipping_address.postal_code", 1, 20,
                    &in->postal_code) ||
        vg_json_str(resp, addr, "country", "shipping_address.country", 2, 2, &in->country))
        return -1;
    if (!ord_country_valid(in->country)) {
        vg_resp_invalid_field(resp, "shipping_address.country",
                              "country must be an ISO 3166-1 alpha-2 code such as US");
        return -1;
    }
    return 0;
}

static int parse_payment(struct vg_resp *resp, json_t *body, struct checkout_input *in)
{
    json_t *pay;

    if (vg_json_obj(resp, body, "payment", "payment", &pay) ||
        vg_json_str(resp, pay, "card_number", "payment.card_number", VG_CARD_MIN_DIGITS,
                    VG_CARD_MAX_DIGITS, &in->card_number))
        return -1;
    if (!vg_card_number_valid(in->card_number)) {
        vg_resp_invalid_field(resp, "payment.card_number",
                              "card_number must be 12-19 digits passing the Luhn check");
        return -1;
    }
    if (vg_json_int(resp, pay, "exp_month", "payment.exp_month", 1, 12, &in->exp_month) ||
        vg_json_int(resp, pay, "exp_year", "payment.exp_year", 1000, 9999, &in->exp_year) ||
        vg_json_str(resp, pay, "cvc", "payment.cvc", 3, 4, &in->cvc))
        return -1;
    if (!vg_cvc_valid(in->cvc)) {
        vg_resp_invalid_field(resp, "payment.cvc", "cvc must be 3 or 4 digits");
        return -1;
    }
    return 0;
}

int ord_parse_checkout(struct vg_resp *resp, json_t *body, struct checkout_input *in)
{
    memset(in, 0, sizeof(*in));
    if (parse_address(resp, body, in) || parse_payment(resp, body, in))
        return -1;
    return 0;
}

json_t *ord_address_json(const struct checkout_input *in)
{
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s}", "name", in->name, "line1", in->line1,
                     "line2", in->line2 ? json_string(in->line2) : json_null(), "city", in->city,
                     "postal_code", in->postal_code, "country", in->country);
}

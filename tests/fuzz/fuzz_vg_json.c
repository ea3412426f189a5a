/* libFuzzer target: request bodies through jansson and the strict field
 * readers, and the canonical form that idempotency keys compare. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vg_http.h"
#include "vg_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *root = json_loadb((const char *)data, size, 0, &err);
    if (!root)
        return 0;
    if (json_is_object(root)) {
        struct vg_resp *resp = vg_resp_new();
        const char *s = NULL;
        long long n = 0;
        json_t *obj = NULL;
        (void)vg_json_str(resp, root, "email", "email", 1, 254, &s);
        (void)vg_json_str_opt(resp, root, "line2", "shipping_address.line2", 0, 200, &s);
        (void)vg_json_int(resp, root, "quantity", "quantity", 1, 99, &n);
        if (vg_json_obj(resp, root, "payment", "payment", &obj) == 0)
            (void)vg_json_int(resp, obj, "exp_month", "payment.exp_month", 1, 12, &n);
        vg_resp_free(resp);
    }
    /* Canonical form is a fixed point: canonical(parse(canonical(x))) == canonical(x). */
    char *c1 = vg_json_canonical(root);
    if (c1) {
        json_t *again = json_loads(c1, JSON_DECODE_ANY, &err);
        if (!again)
            abort();
        char *c2 = vg_json_canonical(again);
        if (!c2 || strcmp(c1, c2) != 0)
            abort();
        free(c2);
        json_decref(again);
        free(c1);
    }
    json_decref(root);
    return 0;
}

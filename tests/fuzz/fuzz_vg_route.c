/* libFuzzer target: route matching and X-Request-Id validation, the two
 * pieces of vg_http that read raw request bytes before any handler runs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vg_http.h"

static const char *const patterns[] = {
    "/products/{id}",
    "/cart/items/{id}",
    "/orders/{id}",
    "/charges/{id}",
    "/a/{id}/b/{id}",
    "/healthz",
    "/",
    "/{id}",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *pattern = patterns[data[0] % (sizeof(patterns) / sizeof(patterns[0]))];
    char *path = malloc(size);
    if (!path)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';

    long long ids[VG_MAX_PATH_IDS];
    int nids = 0;
    if (vg_route_match(pattern, path, ids, &nids)) {
        if (nids < 0 || nids > VG_MAX_PATH_IDS)
            abort();
        for (int i = 0; i < nids; i++)
            if (ids[i] <= 0) /* {id} is a positive integer, always */
                abort();
    }
    if (vg_request_id_valid(path) && strlen(path) > VG_REQUEST_ID_MAX)
        abort();
    free(path);
    return 0;
}

/* Route folding for http_route labels: ids in paths become "{id}" so that label cardinality stays
 * bounded. Matches tools/loadgen's folding for numeric segments (the exactness tests compare the
 * two), and also folds UUIDs and long hex ids. */
#include "proto.h"

#include <string.h>

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static int is_id(const char *s, size_t n)
{
    size_t i, digits = 0, hex = 0;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        digits += s[i] >= '0' && s[i] <= '9';
        hex += is_hex(s[i]) != 0;
    }
    if (digits == n)
        return 1;
    if (hex == n && n >= 16) /* object ids, hashes */
        return 1;
    if (n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex == 32)
        return 1; /* UUID, RFC 9562 string form */
    return 0;
}

int ag_route_fold(const char *path, char *out, size_t outsz)
{
    size_t len = 0, n;

    if (!path || !out || outsz == 0)
        return -1;
    n = strcspn(path, "?#");
    out[0] = '\0';
    while (n > 0) {
        size_t seg = strcspn(path, "/?#");
        const char *piece = path;
        size_t plen;

        if (seg > n)
            seg = n;
        if (is_id(path, seg)) {
            piece = "{id}";
            plen = 4;
        } else {
            plen = seg;
        }
        if (len + plen + 1 > outsz)
            goto too_small;
        memcpy(out + len, piece, plen);
        len += plen;
        path += seg;
        n -= seg;
        if (n > 0) { /* the '/' ending this segment */
            if (len + 2 > outsz)
                goto too_small;
            out[len++] = '/';
            path++;
            n--;
        }
        out[len] = '\0';
    }
    return (int)len;
too_small:
    out[0] = '\0';
    return -1;
}

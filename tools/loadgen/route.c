#include "route.h"

#include <stdbool.h>
#include <string.h>

/* Skips "scheme://authority" when target is an absolute URL (RFC 9112 3.2.2). */
static const char *path_start(const char *target)
{
    const char *sep = strstr(target, "://");
    const char *slash;

    if (!sep || sep == target || memchr(target, '/', (size_t)(sep - target)))
        return target;
    slash = sep + 3;
    slash += strcspn(slash, "/?#");
    return slash;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* An id segment, as the agent folds it (agent/proto/route.c): all digits, a
 * hex string of 16 or more digits (object ids, hashes), or a UUID. */
static bool is_id(const char *s, size_t n)
{
    size_t digits = 0, hex = 0;

    for (size_t i = 0; i < n; i++) {
        digits += s[i] >= '0' && s[i] <= '9';
        hex += is_hex(s[i]);
    }
    if (n == 0)
        return false;
    if (digits == n || (hex == n && n >= 16))
        return true;
    return n == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' && hex == 32;
}

static bool append(char *out, size_t size, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > size)
        return false;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

int lg_route_fold(const char *method, const char *target, char *out, size_t size)
{
    const char *p;
    size_t path_len, len = 0;

    if (!method || !target || !out || size == 0)
        return -1;
    out[0] = '\0';
    p = path_start(target);
    path_len = strcspn(p, "?#");
    if (!append(out, size, &len, method, strlen(method)) || !append(out, size, &len, " ", 1))
        return -1;
    if (path_len == 0 || p[0] != '/') {
        /* "" or "?q=1" after the authority: the origin-form of an empty path is "/". */
        if (!append(out, size, &len, "/", 1))
            return -1;
        if (path_len == 0)
            return (int)len;
    }
    while (path_len > 0) {
        size_t seg = strcspn(p, "/?#");

        if (seg > path_len)
            seg = path_len;
        if (is_id(p, seg)) {
            if (!append(out, size, &len, "{id}", 4))
                return -1;
        } else if (!append(out, size, &len, p, seg)) {
            return -1;
        }
        p += seg;
        path_len -= seg;
        if (path_len > 0) { /* the '/' that ended this segment */
            if (!append(out, size, &len, "/", 1))
                return -1;
            p++;
            path_len--;
        }
    }
    return (int)len;
}

/* Configured route templates for http_route (route_pattern.h has the syntax and the rules). */
#include "route_pattern.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* A segment of the pattern text: a literal [off, off + len), or a {name} (param). The text is
 * under AG_ROUTE_PATTERN_MAX bytes, so offsets fit in a byte and there are fewer segments than
 * bytes. */
struct rp_seg {
    uint8_t off, len, param;
};

struct rp_pat {
    uint16_t len, nseg;
    char text[AG_ROUTE_PATTERN_MAX];
    struct rp_seg seg[AG_ROUTE_PATTERN_MAX];
};

struct ag_route_patterns {
    size_t n;
    struct rp_pat pat[];
};

static int is_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* 1 when s[0..n) is "{name}"; 0 when it holds no brace; -1 when braces are misplaced. */
static int param_segment(const char *s, size_t n)
{
    if (!memchr(s, '{', n) && !memchr(s, '}', n))
        return 0;
    if (n < 3 || s[0] != '{' || s[n - 1] != '}')
        return -1;
    for (size_t i = 1; i + 1 < n; i++) {
        if (!is_name_char((unsigned char)s[i]))
            return -1;
    }
    return 1;
}

const char *ag_route_pattern_check(const char *pattern)
{
    size_t len;

    if (!pattern || pattern[0] != '/')
        return "not a route pattern (starts with '/')";
    len = strlen(pattern);
    if (len >= AG_ROUTE_PATTERN_MAX)
        return "longer than 255 bytes";
    if (strpbrk(pattern, "?#"))
        return "has '?' or '#' (patterns match the path without its query)";
    for (const char *s = pattern + 1;;) {
        size_t seg = strcspn(s, "/");

        if (param_segment(s, seg) < 0)
            return "'{name}' must be a whole segment, name of letters, digits and '_'";
        if (!s[seg])
            return NULL;
        s += seg + 1;
    }
}

static void compile_one(const char *pattern, struct rp_pat *p)
{
    size_t pos = 1;

    p->len = (uint16_t)strlen(pattern);
    memcpy(p->text, pattern, p->len + 1u);
    p->nseg = 0;
    for (;;) {
        size_t seg = strcspn(pattern + pos, "/");
        struct rp_seg *s = &p->seg[p->nseg++];

        s->off = (uint8_t)pos;
        s->len = (uint8_t)seg;
        s->param = param_segment(pattern + pos, seg) == 1;
        pos += seg;
        if (!pattern[pos])
            return;
        pos++; /* the '/' */
    }
}

int ag_route_patterns_compile(const char *const *patterns, size_t n, struct ag_route_patterns **out,
                              size_t *bad)
{
    struct ag_route_patterns *rp;

    if (!out || (n && !patterns))
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (ag_route_pattern_check(patterns[i])) {
            if (bad)
                *bad = i;
            return -EINVAL;
        }
    }
    rp = calloc(1, sizeof(*rp) + n * sizeof(rp->pat[0]));
    if (!rp)
        return -ENOMEM;
    rp->n = n;
    for (size_t i = 0; i < n; i++)
        compile_one(patterns[i], &rp->pat[i]);
    *out = rp; /* the caller owns rp: ag_route_patterns_free() */
    return 0;
}

void ag_route_patterns_free(struct ag_route_patterns *rp)
{
    free(rp);
}

/* path[0..n) starts with '/' and holds nseg segments (its '/' count). */
static int match_one(const struct rp_pat *p, const char *path, size_t n, size_t nseg)
{
    size_t pos = 1;

    if (p->nseg != nseg)
        return 0;
    for (size_t i = 0; i < nseg; i++) {
        const char *slash = memchr(path + pos, '/', n - pos);
        size_t seg = slash ? (size_t)(slash - (path + pos)) : n - pos;
        const struct rp_seg *s = &p->seg[i];

        if (s->param ? seg == 0 : (seg != s->len || memcmp(path + pos, p->text + s->off, seg)))
            return 0;
        pos += seg + 1; /* past the '/' ending it; past n after the last segment */
    }
    return 1;
}

int ag_route_match(const struct ag_route_patterns *rp, const char *path, char *out, size_t outsz)
{
    size_t n, nseg = 0;

    if (!path || !out || outsz == 0)
        return -1;
    if (!rp || !rp->n || path[0] != '/')
        return ag_route_fold(path, out, outsz);
    n = strcspn(path, "?#");
    for (size_t i = 0; i < n; i++)
        nseg += path[i] == '/';
    for (size_t i = 0; i < rp->n; i++) {
        const struct rp_pat *p = &rp->pat[i];

        if (!match_one(p, path, n, nseg))
            continue;
        if ((size_t)p->len + 1 > outsz) {
            out[0] = '\0';
            return -1;
        }
        memcpy(out, p->text, p->len + 1u);
        return p->len;
    }
    return ag_route_fold(path, out, outsz);
}

/*
 * ag_route_patterns: configured http_route templates (metrics.route_patterns, --route-pattern).
 *
 * Syntax. A pattern is a path: '/' then segments separated by '/'. A segment is either a
 * literal, compared byte for byte (no percent-decoding, case-sensitive), or "{name}" — a whole
 * segment, name of [A-Za-z0-9_] — which matches any one non-empty segment. Examples:
 *   /api/orders/{id}/items/{id}    /api/users/{name}    /files/{dir}/{file}
 * There is no wildcard over several segments, and '?', '#', '{', '}' are allowed nowhere else.
 *
 * Matching. The path's query and fragment are stripped; the first pattern, in configuration
 * order, whose segments match all of the path's segments gives the route: the pattern text
 * itself. When none matches, the built-in folding (ag_route_fold) applies.
 *
 * Pure: compiled once at start (one allocation); matching reads the table and writes only out.
 * Paths come from the network: any bytes are safe input.
 */
#ifndef AG_ROUTE_PATTERN_H
#define AG_ROUTE_PATTERN_H

#include <stddef.h>

#define AG_ROUTE_PATTERN_MAX 256 /* bytes of one pattern, NUL included */

struct ag_route_patterns;

/* NULL when pattern is valid, else why not ("'{' not a whole segment", ...), for config errors. */
const char *ag_route_pattern_check(const char *pattern);

/* Compiles n patterns (n may be 0). Returns 0, -EINVAL (*bad, if not NULL, is the index of the
 * first invalid pattern) or -ENOMEM; *out is set only on success: ag_route_patterns_free(). */
int ag_route_patterns_compile(const char *const *patterns, size_t n, struct ag_route_patterns **out,
                              size_t *bad);
void ag_route_patterns_free(struct ag_route_patterns *rp);

/* The route of path into out: the first matching pattern, else ag_route_fold(path). rp may be
 * NULL (folding only). Returns the length written, or -1 when out is too small (out is ""). */
int ag_route_match(const struct ag_route_patterns *rp, const char *path, char *out, size_t outsz);

#endif

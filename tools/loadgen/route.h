/* lg_route: the route label loadgen counts a request under.
 *
 * It folds a request the way the agent labels http_route (DESIGN.md): the
 * path only (no scheme, host, query string or fragment), every id segment
 * (all digits, 16+ hex digits, or a UUID) replaced by {id}, the method in front:
 *   "GET", "http://127.0.0.1:8080/api/products/42?x=1" -> "GET /api/products/{id}"
 * Pure: no I/O, no allocation, so loadgen's counts and the agent's can be
 * compared series by series. */
#ifndef LG_ROUTE_H
#define LG_ROUTE_H

#include <stddef.h>

/* Writes the folded "METHOD /route" into out (NUL-terminated). target is an
 * absolute URL or an origin-form path; an empty path folds to "/".
 * Returns the label's length, or -1 when it does not fit in size bytes
 * (out then holds nothing useful) or an argument is NULL. */
int lg_route_fold(const char *method, const char *target, char *out, size_t size);

#endif

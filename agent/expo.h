/* expo: renders an ag_registry as Prometheus text 0.0.4 or OpenMetrics 1.0. */
#ifndef AG_EXPO_H
#define AG_EXPO_H

#include "buf.h"
#include "registry.h"

enum ag_expo_format { AG_EXPO_TEXT, AG_EXPO_OPENMETRICS };

/* Picks the format from an Accept header (NULL: text). OpenMetrics when the header accepts
 * application/openmetrics-text with a q at least that of text/plain (or of a wildcard). */
enum ag_expo_format ag_expo_negotiate(const char *accept);
const char *ag_expo_content_type(enum ag_expo_format format);

/* Appends the whole exposition to out under the registry's lock: every family, with HELP and
 * TYPE even when it has no series, no timestamps. 0 or -ENOMEM. */
int ag_expo_render(struct ag_registry *reg, enum ag_expo_format format, struct ag_buf *out);

#endif

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

/* The same exposition in pieces, for a streamed response: at 10,000 histogram series it is
 * ~30 MB, which a whole-buffer render keeps in the agent's memory. Each ag_expo_next() takes the
 * registry's lock for one piece only; a series is always rendered whole. Series created after
 * the cursor passed their family wait for the next scrape; a series removed meanwhile (gone
 * stale) stays allocated until ag_expo_end(), so the cursor never dangles, skips or repeats. */
struct ag_expo_cursor {
    struct ag_registry *reg;
    bool om;
    bool done;
    const struct ag_family *fam; /* family in progress; NULL before the first */
    bool header_done;            /* HELP and TYPE of fam written */
    size_t name_len;             /* strlen(fam->name) */
    const struct ag_series *at;  /* the next series of fam */
};

void ag_expo_begin(struct ag_expo_cursor *c, struct ag_registry *reg, enum ag_expo_format format);
/* Appends the next pieces, at least `want` bytes unless the end comes first. Returns 1 while
 * more remains, 0 at the end, -ENOMEM (out->failed) when out could not grow. */
int ag_expo_next(struct ag_expo_cursor *c, struct ag_buf *out, size_t want);
/* Ends the scrape, finished or not: exactly once per ag_expo_begin(). */
void ag_expo_end(struct ag_expo_cursor *c);

#endif

/* Redis RESP2 parser over head/tail-captured transfers: see proto.h for the model.
 * Requests: one AG_MSG_REQUEST per command, an array of bulk strings (or, on a fresh connection,
 * an inline command line); op = the first element upper-cased. For two-word commands ("CLIENT
 * SETNAME", "CONFIG GET") only the first word is kept: bounded label cardinality, and the
 * second element may be a key. Keys and values are never copied.
 * Responses: one AG_MSG_RESPONSE per top-level reply, in order; error is set for a top-level
 * "-ERR ..." reply. MULTI/EXEC: every command sent is one operation completed by its own reply,
 * so a queued command completes at its "+QUEUED", and EXEC completes at its reply array (errors
 * inside that array do not set error). Pub/sub push messages are not paired (known gap). */
#ifndef AG_RESP_H
#define AG_RESP_H

#include "proto.h"

#define AG_RESP_DEPTH    8  /* nested arrays followed; deeper replies lose framing */
#define AG_RESP_LINE_MAX 40 /* type line prefix kept */

struct ag_resp_state {
    struct ag_msg cur;
    struct ag_parse_stats stats;
    uint64_t remaining;          /* bulk bytes (and their CRLF) still to skip */
    int64_t left[AG_RESP_DEPTH]; /* elements still expected at each nesting level */
    int64_t top_count;           /* elements of the top-level array */
    uint32_t line_total, bulk_len;
    uint8_t depth, phase, role, synced, hunting, name_bulk, line_len;
    char line[AG_RESP_LINE_MAX];
};

void ag_resp_init(struct ag_resp_state *st, enum ag_role role);

int ag_resp_feed(struct ag_resp_state *st, const struct ag_xfer *x, struct ag_msg *out, int max_out,
                 int *nout);

/* Returns 1 and sets *role when the first transfer looks like RESP (a command array of bulk
 * strings, or a reply). */
int ag_resp_detect(const struct ag_xfer *x, enum ag_role *role);

#endif

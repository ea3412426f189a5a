/* HTTP/1.1 (RFC 9112) parser over head/tail-captured transfers: see proto.h for the model.
 * A state parses one direction; each message's kind comes from its start line ("HTTP/1.x" is a
 * response), so the role only matters to detection. */
#ifndef AG_HTTP1_H
#define AG_HTTP1_H

#include "proto.h"

#define AG_HTTP1_LINE_MAX 256 /* start/header line prefix kept; longer lines are cut, not lost */
#define AG_HTTP1_EXPECT   32  /* pending requests a response state remembers (HEAD/CONNECT) */

struct ag_http1_state {
    struct ag_msg cur; /* the message being parsed */
    struct ag_parse_stats stats;
    uint64_t remaining;   /* body or chunk bytes still to skip */
    uint64_t expect_bits; /* FIFO of pending request kinds, 2 bits each */
    uint32_t line_total;  /* bytes of the current line, also past line_max */
    uint16_t line_len;    /* bytes kept in line */
    uint8_t expect_first, expect_count;
    uint8_t phase, synced, hunting, role;
    uint8_t chunked, has_len, conn_close, no_body, tunnel_after;
    char line[AG_HTTP1_LINE_MAX];
};

void ag_http1_init(struct ag_http1_state *st, enum ag_role role);

/* Consumes one transfer; writes up to max_out messages to out and their count to *nout. */
int ag_http1_feed(struct ag_http1_state *st, const struct ag_xfer *x, struct ag_msg *out,
                  int max_out, int *nout);

/* Tells a response-direction state about a request sent on the connection, in order: a response
 * to HEAD has no body, a 2xx response to CONNECT turns the connection into a tunnel
 * (RFC 9112 6.3 rules 1-2). Without it, every response is assumed to answer a GET. */
void ag_http1_expect(struct ag_http1_state *st, const struct ag_msg *req);

/* The connection closed at ts_ns: completes a response delimited by close (RFC 9112 6.3 rule 8)
 * or emits a message cut short, flagged truncated. Returns 1 when *out was written. */
int ag_http1_finish(struct ag_http1_state *st, uint64_t ts_ns, struct ag_msg *out);

/* Does the first transfer of a connection look like HTTP/1.x? Returns 1 and sets *role. */
int ag_http1_detect(const struct ag_xfer *x, enum ag_role *role);

#endif

/* PostgreSQL frontend/backend protocol v3 parser (PostgreSQL docs, chapter "Frontend/Backend
 * Protocol"), over head/tail-captured transfers: see proto.h for the model.
 *
 * Requests (AG_ROLE_REQUESTS, what the client sends):
 *   Query 'Q'   -> one AG_MSG_REQUEST, op = first SQL keyword (after whitespace, comments and
 *                  parentheses). For WITH, the first SELECT/INSERT/UPDATE/DELETE/MERGE at
 *                  parenthesis depth 0 within the captured prefix, else "WITH".
 *   Parse 'P'   -> remembers statement name -> op in a bounded table (AG_PG_STMTS, LRU; names
 *                  compared by 64-bit hash). Nothing emitted.
 *   Bind 'B'    -> the portal's op is its statement's op ("" when the Parse was never seen).
 *   Execute 'E' -> one AG_MSG_REQUEST with the op of the most recent Bind.
 *   Sync 'S'    -> one AG_MSG_MARK (not a request; forward it to ag_pgwire_expect()).
 *   msg.batch counts the Syncs and Queries sent before the message; msg.status holds the
 *   frontend message type that made a request or mark ('Q', 'E' or 'S').
 * Responses (AG_ROLE_RESPONSES, what the server sends), one AG_MSG_RESPONSE per request, in order:
 *   an Execute completes at its CommandComplete / EmptyQueryResponse / PortalSuspended /
 *   ErrorResponse; Executes the server skipped after an error complete at the ReadyForQuery,
 *   with error set and AG_MSG_F_SKIPPED; a Query completes at ReadyForQuery. op is the first word
 *   of the (first) CommandComplete tag, which names the statement even when the Parse was never
 *   seen (late attach): the tracker should prefer it to the request's op when it is not "".
 *   ErrorResponse sets error and sqlstate. Without ag_pgwire_expect() calls the response state
 *   emits one response per ReadyForQuery that followed a result (exact for the simple protocol).
 * Start-up: the untyped StartupMessage / SSLRequest / GSSENCRequest / CancelRequest and the
 * server's one-byte 'S'/'N' answer are understood; after 'S' (TLS) both directions are opaque. */
#ifndef AG_PGWIRE_H
#define AG_PGWIRE_H

#include "proto.h"

#define AG_PG_STMTS  64  /* remembered prepared statements per connection */
#define AG_PG_CAP    160 /* body prefix kept of messages whose content matters */
#define AG_PG_EXPECT 64  /* outstanding requests a response state tracks */
#define AG_PG_OP_MAX 16

struct ag_pg_stmt {
    uint64_t name_hash;
    uint32_t last_use; /* 0: free */
    char op[AG_PG_OP_MAX];
};

struct ag_pgwire_state {
    struct ag_msg cur; /* the response being assembled; scratch for requests */
    struct ag_parse_stats stats;
    uint64_t remaining; /* body bytes of the current message still to come */
    uint64_t msg_bytes;
    uint32_t batch, clock;
    uint8_t phase, role, synced, hunting, blind, type, hdr_len, in_unit, aborting, has_result;
    uint8_t hdr[5];
    uint8_t exp_first, exp_count;
    uint16_t cap_len;
    uint8_t cap[AG_PG_CAP];
    union {
        struct { /* requests */
            char bound_op[AG_PG_OP_MAX];
            struct ag_pg_stmt stmts[AG_PG_STMTS];
        } fe;
        struct {                       /* responses */
            uint8_t exp[AG_PG_EXPECT]; /* FIFO of expected kinds */
        } be;
    } u;
};

void ag_pgwire_init(struct ag_pgwire_state *st, enum ag_role role);

int ag_pgwire_feed(struct ag_pgwire_state *st, const struct ag_xfer *x, struct ag_msg *out,
                   int max_out, int *nout);

/* Hands a response state each request or mark message the request state emitted, in order. */
void ag_pgwire_expect(struct ag_pgwire_state *st, const struct ag_msg *req);

/* Looks at the first transfer of a connection; returns 1 and sets *role when it is PostgreSQL. */
int ag_pgwire_detect(const struct ag_xfer *x, enum ag_role *role);

/* The SQL verb of a statement prefix (see above), upper-cased into op; "" when none. */
void ag_pg_sql_verb(const uint8_t *sql, size_t n, char *op, size_t opsz);

/* Internal to pgwire.c/pgsql.c. */
#define AG_PG_MAX_LEN 0x40000000u /* the server's own limit on a message (1 GB) */
int ag_pg_len_ok(int role, uint8_t t, uint32_t len);
uint64_t ag_pg_name_hash(const uint8_t *s, size_t n);
void ag_pg_stmt_put(struct ag_pgwire_state *st, uint64_t h, const char *op);
const char *ag_pg_stmt_get(struct ag_pgwire_state *st, uint64_t h);

#endif

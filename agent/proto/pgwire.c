/* PostgreSQL protocol v3 framing over head/tail-captured transfers. Message layout: Byte1 type,
 * Int32 length counting itself but not the type; the start-up packet has no type byte. */
#include "pgwire.h"

#include <string.h>

enum { PG_STARTUP, PG_ANSWER, PG_HDR, PG_BODY, PG_OPAQUE };
enum { EXP_NONE, EXP_QUERY, EXP_EXEC, EXP_SYNC };

#define PG_STARTUP_MAX 10000u /* MAX_STARTUP_PACKET_LENGTH in the server */
#define CODE_V3        196608u
#define CODE_CANCEL    80877102u
#define CODE_SSL       80877103u
#define CODE_GSS       80877104u
#define TAIL_SCAN      256u

void ag_pgwire_init(struct ag_pgwire_state *st, enum ag_role role)
{
    memset(st, 0, sizeof(*st));
    st->role = (uint8_t)role;
    st->phase = role == AG_ROLE_REQUESTS ? PG_STARTUP : PG_ANSWER;
}

static int wants_body(int role, uint8_t t)
{
    return role == AG_ROLE_REQUESTS ? t == 0 || t == 'Q' || t == 'P' || t == 'B'
                                    : t == 'C' || t == 'E';
}

/* Length of the C string at cap[i], or -1 when its NUL was not captured. */
static long cstr(const struct ag_pgwire_state *st, size_t i)
{
    const uint8_t *z = i < st->cap_len ? memchr(st->cap + i, 0, st->cap_len - i) : NULL;

    return z ? (long)(z - (st->cap + i)) : -1;
}

static void emit_unit(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x,
                      int kind, const char *op, uint8_t type)
{
    st->cur.kind = (uint8_t)kind;
    st->cur.status = type;
    st->cur.batch = st->batch;
    st->cur.ts_last_ns = x->ts_exit_ns;
    ag_copy_str(st->cur.op, sizeof(st->cur.op), (const uint8_t *)op, strlen(op));
    ag_out_emit(o, &st->cur);
    st->in_unit = 0;
}

static int on_request(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    char op[AG_PG_OP_MAX];
    long a, b;

    switch (st->type) {
    case 0: { /* start-up packet: the protocol code decides what follows */
        uint32_t code = st->cap_len >= 4 ? ag_be32(st->cap) : 0;
        st->in_unit = 0;
        if (code == CODE_SSL || code == CODE_GSS || code == CODE_CANCEL)
            return 1; /* another start-up packet or TLS follows */
        if (code >> 16 != 3)
            return 0;
        st->phase = PG_HDR;
        return 1;
    }
    case 'Q':
        ag_pg_sql_verb(st->cap, st->cap_len, op, sizeof(op));
        emit_unit(st, o, x, AG_MSG_REQUEST, op, 'Q');
        st->batch++;
        return 1;
    case 'P':
        a = cstr(st, 0);
        if (a < 0) { /* a name too long to capture: remember nothing rather than a wrong op */
            return 1;
        }
        ag_pg_sql_verb(st->cap + a + 1, st->cap_len - (size_t)a - 1, op, sizeof(op));
        ag_pg_stmt_put(st, ag_pg_name_hash(st->cap, (size_t)a), op);
        return 1;
    case 'B': { /* portal name, then statement name */
        const char *bop = "";
        a = cstr(st, 0);
        b = a < 0 ? -1 : cstr(st, (size_t)a + 1);
        if (b >= 0)
            bop = ag_pg_stmt_get(st, ag_pg_name_hash(st->cap + a + 1, (size_t)b));
        ag_copy_str(st->u.fe.bound_op, sizeof(st->u.fe.bound_op), (const uint8_t *)bop,
                    strlen(bop));
        return 1;
    }
    case 'E':
        emit_unit(st, o, x, AG_MSG_REQUEST, st->u.fe.bound_op, 'E');
        return 1;
    case 'S':
        emit_unit(st, o, x, AG_MSG_MARK, "", 'S');
        st->batch++;
        return 1;
    }
    return 1;
}

void ag_pgwire_expect(struct ag_pgwire_state *st, const struct ag_msg *req)
{
    uint8_t kind = req->status == 'Q' ? EXP_QUERY : req->status == 'E' ? EXP_EXEC : EXP_SYNC;

    if (req->proto != AG_PROTO_PGWIRE || st->role != AG_ROLE_RESPONSES)
        return;
    if (st->exp_count == AG_PG_EXPECT) {
        st->exp_first = (uint8_t)((st->exp_first + 1) % AG_PG_EXPECT);
        st->exp_count--;
    }
    st->u.be.exp[(st->exp_first + st->exp_count) % AG_PG_EXPECT] = kind;
    st->exp_count++;
}

static int exp_head(const struct ag_pgwire_state *st)
{
    return st->exp_count ? st->u.be.exp[st->exp_first] : EXP_NONE;
}

static void exp_pop(struct ag_pgwire_state *st)
{
    st->exp_first = (uint8_t)((st->exp_first + 1) % AG_PG_EXPECT);
    st->exp_count--;
}

/* CommandComplete, EmptyQueryResponse, PortalSuspended or ErrorResponse. */
static void on_result(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x,
                      const char *op, const char *sqlstate)
{
    if (sqlstate && !st->cur.error) {
        st->cur.error = 1;
        ag_copy_str(st->cur.sqlstate, sizeof(st->cur.sqlstate), (const uint8_t *)sqlstate, 5);
    }
    if (!st->cur.op[0])
        ag_copy_str(st->cur.op, sizeof(st->cur.op), (const uint8_t *)op, strlen(op));
    if (exp_head(st) == EXP_EXEC && !st->aborting) {
        emit_unit(st, o, x, AG_MSG_RESPONSE, st->cur.op, 0);
        exp_pop(st);
        /* After an error the server discards messages up to Sync (protocol docs, "Extended
         * Query"): the batch's remaining Executes get no result of their own. */
        st->aborting = sqlstate != NULL;
        return;
    }
    st->has_result = 1;
}

static void on_ready(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    if (st->exp_count == 0) {
        if (st->has_result) /* nothing to pair with: one operation per ReadyForQuery */
            emit_unit(st, o, x, AG_MSG_RESPONSE, st->cur.op, 0);
    } else {
        struct ag_msg keep = st->cur;
        while (exp_head(st) == EXP_EXEC) {
            st->cur = keep;
            st->cur.op[0] = '\0';
            st->cur.error = st->aborting;
            st->cur.flags |= st->aborting ? AG_MSG_F_SKIPPED : AG_MSG_F_TRUNCATED;
            emit_unit(st, o, x, AG_MSG_RESPONSE, "", 0);
            exp_pop(st);
        }
        st->cur = keep;
        if (exp_head(st) == EXP_QUERY)
            emit_unit(st, o, x, AG_MSG_RESPONSE, st->cur.op, 0);
        if (st->exp_count)
            exp_pop(st); /* the Query or the Sync this ReadyForQuery answers */
    }
    st->in_unit = 0;
    st->aborting = 0;
    st->has_result = 0;
}

static int on_response(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    char op[AG_PG_OP_MAX];
    size_t i;

    switch (st->type) {
    case 'C': /* the tag's first word names the command: "INSERT 0 1", "SELECT 12" */
        for (i = 0; i < st->cap_len && st->cap[i] != ' ' && st->cap[i] != 0; i++)
            ;
        ag_copy_str(op, sizeof(op), st->cap, i);
        on_result(st, o, x, op, NULL);
        break;
    case 'I':
    case 's':
        on_result(st, o, x, "", NULL);
        break;
    case 'E': { /* fields: Byte1 code, String value; the 'C' field is the SQLSTATE */
        char code[6] = "XX000";
        for (i = 0; i < st->cap_len && st->cap[i];) {
            long len = cstr(st, i + 1);
            if (len < 0)
                break;
            if (st->cap[i] == 'C' && len == 5)
                ag_copy_str(code, sizeof(code), st->cap + i + 1, 5);
            i += (size_t)len + 2;
        }
        on_result(st, o, x, "", code);
        break;
    }
    case 'Z':
        on_ready(st, o, x);
        break;
    }
    return 1;
}

/* ---- framing ---- */

static void begin_unit(struct ag_pgwire_state *st, const struct ag_xfer *x)
{
    if (st->in_unit)
        return;
    memset(&st->cur, 0, sizeof(st->cur));
    st->cur.proto = AG_PROTO_PGWIRE;
    st->cur.ts_first_ns = x->ts_enter_ns;
    st->in_unit = 1;
}

static int header_done(struct ag_pgwire_state *st)
{
    uint32_t len;

    if (st->phase == PG_STARTUP) {
        len = ag_be32(st->hdr);
        if (len < 8 || len > PG_STARTUP_MAX)
            return 0;
        st->type = 0;
    } else {
        len = ag_be32(st->hdr + 1);
        if (!ag_pg_len_ok(st->role, st->hdr[0], len))
            return 0;
        st->type = st->hdr[0];
    }
    st->remaining = len - 4;
    st->cap_len = 0;
    st->hdr_len = 0;
    st->phase = PG_BODY;
    return 1;
}

static int finish_msg(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x)
{
    int ok;

    st->phase = st->type == 0 ? PG_STARTUP : PG_HDR;
    ok = st->role == AG_ROLE_REQUESTS ? on_request(st, o, x) : on_response(st, o, x);
    st->synced |= (uint8_t)ok;
    return ok;
}

/* Parses visible bytes; returns 0 with *used set where framing was lost. */
static int consume(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x,
                   const uint8_t *p, size_t n, int ends_xfer, size_t *used)
{
    size_t i = 0;

    while (i < n) {
        switch (st->phase) {
        case PG_OPAQUE:
            st->stats.unparsed_bytes += n - i;
            i = n;
            continue;
        case PG_ANSWER:
            /* The answer to SSLRequest/GSSENCRequest is one untyped byte, alone in its write. */
            if ((p[i] == 'N' || p[i] == 'S' || p[i] == 'G') &&
                ((i + 1 == n && ends_xfer) ||
                 (p[i] == 'N' && i + 1 < n && (p[i + 1] == 'R' || p[i + 1] == 'E')))) {
                st->phase = p[i] == 'N' ? PG_HDR : PG_OPAQUE;
                st->synced = 1;
                i++;
                continue;
            }
            st->phase = PG_HDR;
            continue;
        case PG_STARTUP:
        case PG_HDR: {
            size_t need = st->phase == PG_STARTUP ? 4 : 5;
            if (st->hdr_len == 0) {
                if (st->phase == PG_STARTUP && st->synced && p[i] == 0x16) {
                    st->phase = PG_OPAQUE; /* a TLS handshake record after SSLRequest */
                    continue;
                }
                begin_unit(st, x);
            }
            size_t k = need - st->hdr_len < n - i ? need - st->hdr_len : n - i;
            memcpy(st->hdr + st->hdr_len, p + i, k);
            st->hdr_len = (uint8_t)(st->hdr_len + k);
            st->cur.bytes += k;
            i += k;
            if (st->hdr_len < need)
                continue;
            if (!header_done(st)) {
                st->cur.bytes -= k;
                *used = i - k;
                return 0;
            }
            if (st->remaining == 0 && !finish_msg(st, o, x)) {
                *used = i;
                return 0;
            }
            continue;
        }
        case PG_BODY: {
            uint64_t k = st->remaining < n - i ? st->remaining : n - i;
            if (wants_body(st->role, st->type) && st->cap_len < AG_PG_CAP) {
                size_t c =
                    k < (uint64_t)(AG_PG_CAP - st->cap_len) ? (size_t)k : AG_PG_CAP - st->cap_len;
                memcpy(st->cap + st->cap_len, p + i, c);
                st->cap_len = (uint16_t)(st->cap_len + c);
            }
            st->remaining -= k;
            st->cur.bytes += k;
            i += (size_t)k;
            if (st->remaining == 0 && !finish_msg(st, o, x)) {
                *used = i;
                return 0;
            }
            continue;
        }
        }
    }
    *used = n;
    return 1;
}

static int gap(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x, uint64_t g,
               uint64_t *used)
{
    *used = 0;
    if (st->phase == PG_OPAQUE) {
        st->stats.unparsed_bytes += g;
        return 1;
    }
    if (st->phase != PG_BODY)
        return 0;
    if (g < st->remaining) {
        st->remaining -= g;
        st->cur.bytes += g;
        return 1;
    }
    int exact = g == st->remaining;
    *used = st->remaining;
    st->cur.bytes += st->remaining;
    st->remaining = 0;
    return finish_msg(st, o, x) && exact;
}

/* Offset in the tail of a run of whole messages that ends exactly at the end of the transfer with
 * ReadyForQuery (responses) or Sync (requests), starting at or after wire offset min_off. */
static long tail_chain(const struct ag_pgwire_state *st, const struct ag_xfer *x, uint64_t min_off)
{
    uint8_t last_type = st->role == AG_ROLE_RESPONSES ? 'Z' : 'S';
    size_t L = x->tail_len < x->total ? x->tail_len : (size_t)x->total;
    size_t from = L > TAIL_SCAN ? L - TAIL_SCAN : 0;

    if (!x->tail || L < 5)
        return -1;
    for (size_t s = from; s + 5 <= L; s++) {
        size_t q = s;
        uint8_t last = 0;
        if (x->total - L + s < min_off)
            continue;
        while (q + 5 <= L) {
            uint32_t len = ag_be32(x->tail + q + 1);
            if (!ag_pg_len_ok(st->role, x->tail[q], len) || len > L - q - 1)
                break;
            last = x->tail[q];
            q += 1 + len;
        }
        if (q == L && last == last_type)
            return (long)s;
    }
    return -1;
}

static int tail_recover(struct ag_pgwire_state *st, struct ag_out *o, const struct ag_xfer *x,
                        uint64_t off)
{
    size_t L = x->tail_len < x->total ? x->tail_len : (size_t)x->total, used;
    long s = tail_chain(st, x, off);

    if (s < 0)
        return 0;
    if (st->role == AG_ROLE_RESPONSES && st->in_unit)
        st->has_result = 1; /* whatever was lost belonged to the unit the chain completes */
    st->cur.bytes += x->total - L + (uint64_t)s - off;
    st->phase = PG_HDR;
    st->hdr_len = 0;
    if (!consume(st, o, x, x->tail + s, L - (size_t)s, 1, &used))
        return 0;
    st->stats.tail_syncs++;
    return 1;
}

static int lost(struct ag_pgwire_state *st, const struct ag_xfer *x, uint64_t off)
{
    st->hdr_len = 0;
    if (st->synced && st->role == AG_ROLE_RESPONSES && st->in_unit)
        st->cur.bytes += x->total - off; /* still the unit's bytes, only unframed */
    else
        st->stats.unparsed_bytes += x->total - off;
    if (!st->synced) {
        st->phase = st->role == AG_ROLE_REQUESTS ? PG_STARTUP : PG_ANSWER;
        st->in_unit = 0;
        return AG_PARSE_NOT_MINE;
    }
    st->phase = PG_HDR;
    st->hunting = 1;
    if (st->role == AG_ROLE_RESPONSES && st->in_unit) {
        /* Typically a result set larger than the head: its ReadyForQuery at the end of a later
         * transfer's tail completes the unit, and only a restart elsewhere counts as a resync. */
        st->has_result = 1;
        st->blind = 1;
        return AG_PARSE_NEED_MORE;
    }
    st->stats.resyncs++;
    return AG_PARSE_RESYNC;
}

/* A run of typed messages from p[0], whole or cut by the end of what is visible. */
static int typed_plausible(int role, const uint8_t *p, size_t n)
{
    size_t q = 0;

    while (q < n) {
        if (n - q < 5) /* the type alone is visible: is it one this side sends at all? */
            return ag_pg_len_ok(role, p[q], 4) || ag_pg_len_ok(role, p[q], 5) ||
                   ag_pg_len_ok(role, p[q], 12);
        uint32_t len = ag_be32(p + q + 1);
        if (!ag_pg_len_ok(role, p[q], len))
            return 0;
        q += 1 + (size_t)len;
    }
    return 1;
}

static int startup_plausible(const uint8_t *p, size_t n)
{
    static const uint8_t codes[4][4] = {{0x00, 0x03, 0x00, 0x00},
                                        {0x04, 0xd2, 0x16, 0x2f},
                                        {0x04, 0xd2, 0x16, 0x30},
                                        {0x04, 0xd2, 0x16, 0x2e}};

    if (n >= 1 && p[0] != 0)
        return 0;
    if (n >= 4 && (ag_be32(p) < 8 || ag_be32(p) > PG_STARTUP_MAX))
        return 0;
    if (n <= 4)
        return 1;
    for (int c = 0; c < 4; c++) {
        size_t m = n - 4 < 4 ? n - 4 : 4;
        if (c == 0 && m > 2)
            m = 2; /* 3.x: any minor version */
        if (memcmp(p + 4, codes[c], m) == 0)
            return 1;
    }
    return 0;
}

static int start_plausible(struct ag_pgwire_state *st, const struct ag_xfer *x,
                           const struct ag_span *head)
{
    if (!head)
        return 0;
    if (!st->synced && st->phase == PG_STARTUP && startup_plausible(head->p, head->len))
        return 1;
    if (!st->synced && st->phase == PG_ANSWER &&
        (head->p[0] == 'N' || head->p[0] == 'S' || head->p[0] == 'G') &&
        (x->total == 1 ||
         (head->p[0] == 'N' && head->len > 1 && (head->p[1] == 'R' || head->p[1] == 'E'))))
        return 1;
    if (typed_plausible(st->role, head->p, head->len)) {
        st->phase = PG_HDR;
        return 1;
    }
    return 0;
}

int ag_pgwire_feed(struct ag_pgwire_state *st, const struct ag_xfer *x, struct ag_msg *out,
                   int max_out, int *nout)
{
    struct ag_out o = {out, max_out, 0, &st->stats};
    struct ag_span sp[2];
    int nsp = ag_xfer_spans(x, sp), rc = -1, resync = 0;
    int boundary = st->hdr_len == 0 && st->phase != PG_BODY && st->phase != PG_OPAQUE;
    uint64_t off = 0;
    size_t used;

    *nout = 0;
    if (x->total == 0)
        return boundary ? AG_PARSE_OK : AG_PARSE_NEED_MORE;
    if (boundary && (st->hunting || !st->synced)) {
        if (!start_plausible(st, x, nsp && sp[0].off == 0 ? &sp[0] : NULL)) {
            /* A large result set: its last transfer still ends with ReadyForQuery. */
            if (st->synced && tail_recover(st, &o, x, 0)) {
                st->hunting = st->blind = 0;
                *nout = o.n;
                return AG_PARSE_OK;
            }
            if (st->blind)
                st->cur.bytes += x->total;
            else
                st->stats.unparsed_bytes += x->total;
            return st->synced ? AG_PARSE_NEED_MORE : AG_PARSE_NOT_MINE;
        }
        st->hunting = 0;
        if (st->blind) { /* framing back at a message start, but messages may be lost */
            st->blind = 0;
            st->stats.resyncs++;
            resync = 1;
        }
    }
    for (int i = 0; i <= nsp && rc < 0; i++) {
        uint64_t end = i < nsp ? sp[i].off : x->total;
        if (end > off) {
            uint64_t g_used;
            if (!gap(st, &o, x, end - off, &g_used)) {
                if (!(i < nsp && tail_recover(st, &o, x, off + g_used)))
                    rc = lost(st, x, off + g_used);
                break;
            }
            off = end;
        }
        if (i == nsp)
            break;
        if (!consume(st, &o, x, sp[i].p, sp[i].len, i == nsp - 1, &used))
            rc = lost(st, x, off + used);
        off += sp[i].len;
    }
    *nout = o.n;
    if (rc >= 0)
        return rc;
    if (resync)
        return AG_PARSE_RESYNC;
    return st->hdr_len == 0 && st->phase != PG_BODY ? AG_PARSE_OK : AG_PARSE_NEED_MORE;
}

int ag_pgwire_detect(const struct ag_xfer *x, enum ag_role *role)
{
    size_t n = x->head_len < x->total ? x->head_len : (size_t)x->total;
    const uint8_t *p = x->head;

    if (!p || n < 5)
        return 0;
    if (n >= 8 && startup_plausible(p, n)) {
        *role = AG_ROLE_REQUESTS;
        return 1;
    }
    if (memchr("QPB", p[0], 3) && typed_plausible(AG_ROLE_REQUESTS, p, n)) {
        *role = AG_ROLE_REQUESTS;
        return 1;
    }
    if (memchr("RZT12KC", p[0], 7) && typed_plausible(AG_ROLE_RESPONSES, p, n)) {
        *role = AG_ROLE_RESPONSES;
        return 1;
    }
    return 0;
}

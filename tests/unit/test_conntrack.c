/* Connection tracker: table-driven scenarios of kernel events built from real payload bytes,
 * checked record by record (op, route, status, role, thread, start/end per the timing rule of
 * DESIGN.md), plus the table's limits: full table, idle sweep, process exit, FIFO overflow. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "conntrack.h"

#define TGID     100
#define HEAD_CAP 512 /* the agent's default capture caps */
#define TAIL_CAP 64

struct blob {
    uint8_t b[1024];
    size_t n;
};

enum step_kind { S_END = 0, S_ACCEPT, S_CONNECT, S_SEED, S_XFER, S_CLOSE };

struct step {
    uint8_t kind, dir, role;
    int32_t fd;
    uint64_t sock;
    uint32_t tid;
    const char *data; /* literal bytes, or */
    size_t len;
    const struct blob *blob; /* bytes built at start-up (binary protocols) */
    size_t fill;             /* then this many 'x' bytes (bodies larger than any capture) */
    uint64_t t;              /* ts_enter; ts_exit is t + 50 */
};

struct want {
    const char *op, *route, *dest, *sqlstate;
    uint16_t status;
    uint8_t error, role, proto;
    uint32_t tid;
    uint64_t start, end;
};

struct scenario {
    const char *name;
    const struct ag_ct_ep *ep;
    struct step steps[16];
    struct want want[8];
    int nwant;
    uint64_t unparsed, unpaired_req, unpaired_resp, conns_unparsed;
};

#define LIT(s) s, sizeof(s) - 1, NULL
#define ACC(fd, sock, t)                                                                           \
    {                                                                                              \
        S_ACCEPT, 0, 0, fd, sock, 0, NULL, 0, NULL, 0, t                                           \
    }
#define CON(fd, sock, t)                                                                           \
    {                                                                                              \
        S_CONNECT, 0, 0, fd, sock, 0, NULL, 0, NULL, 0, t                                          \
    }
#define SEED(fd, sock, role)                                                                       \
    {                                                                                              \
        S_SEED, 0, role, fd, sock, 0, NULL, 0, NULL, 0, 0                                          \
    }
#define IN(fd, sock, tid, s, t)                                                                    \
    {                                                                                              \
        S_XFER, AG_DIR_INGRESS, 0, fd, sock, tid, LIT(s), 0, t                                     \
    }
#define OUT(fd, sock, tid, s, t)                                                                   \
    {                                                                                              \
        S_XFER, AG_DIR_EGRESS, 0, fd, sock, tid, LIT(s), 0, t                                      \
    }
#define OUTF(fd, sock, tid, s, fill, t)                                                            \
    {                                                                                              \
        S_XFER, AG_DIR_EGRESS, 0, fd, sock, tid, LIT(s), fill, t                                   \
    }
#define INB(fd, sock, tid, b, t)                                                                   \
    {                                                                                              \
        S_XFER, AG_DIR_INGRESS, 0, fd, sock, tid, NULL, 0, b, 0, t                                 \
    }
#define OUTB(fd, sock, tid, b, t)                                                                  \
    {                                                                                              \
        S_XFER, AG_DIR_EGRESS, 0, fd, sock, tid, NULL, 0, b, 0, t                                  \
    }
#define CLOSE(fd, t)                                                                               \
    {                                                                                              \
        S_CLOSE, 0, 0, fd, 0, 0, NULL, 0, NULL, 0, t                                               \
    }

#define HTTP(op, route, status, role, tid, start, end)                                             \
    {                                                                                              \
        op, route, "", "", status, status >= (role == AG_CT_SERVER ? 500 : 400), role,             \
            AG_PROTO_HTTP1, tid, start, end                                                        \
    }

static struct blob pg_exec_s1, pg_resp_s1, pg_exec_s2, pg_resp_s2, pg_exec_err, pg_resp_err;
static struct blob amqp_hdr, amqp_pub, amqp_deliver, amqp_ack;

static const struct ag_ct_ep ep4 = {AF_INET, 40000, 8082, {127, 0, 0, 1}, {127, 0, 0, 1}};
static const struct ag_ct_ep ep6 = {
    AF_INET6, 8080, 51000, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, {0x20, 0x01, 0x0d, 0xb8, [15] = 2}};

/* ---- what the tracker reports ---- */

static struct ag_request got[64];
static int ngot;
static uint64_t unparsed_by_tgid[2]; /* [0]: TGID, [1]: anyone else */

static void on_emit(void *ctx, const struct ag_request *r)
{
    assert_true(ngot < 64);
    got[ngot++] = *r;
}

static void on_unparsed(void *ctx, uint32_t tgid, uint64_t bytes)
{
    unparsed_by_tgid[tgid != TGID] += bytes;
}

static struct ag_conntrack *new_ct(uint32_t max_conns)
{
    struct ag_ct_config cfg = {.max_conns = max_conns, .emit = on_emit, .unparsed = on_unparsed};
    struct ag_conntrack *ct = NULL;

    ngot = 0;
    memset(unparsed_by_tgid, 0, sizeof(unparsed_by_tgid));
    assert_int_equal(ag_ct_create(&cfg, &ct), 0);
    return ct;
}

/* ---- binary payloads ---- */

static void put(struct blob *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->b));
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void pg(struct blob *b, char type, const char *body, size_t n)
{
    uint8_t h[5] = {(uint8_t)type, 0, 0, (uint8_t)((n + 4) >> 8), (uint8_t)(n + 4)};
    put(b, h, 5);
    put(b, body, n);
}
#define PG(b, type, lit) pg(b, type, lit, sizeof(lit) - 1)

/* One AMQP frame: type, channel 1, payload, frame-end (AMQP 0-9-1 section 4.2.3). */
static void amqp(struct blob *b, uint8_t type, const char *payload, size_t n)
{
    uint8_t h[7] = {type, 0, 1, 0, 0, (uint8_t)(n >> 8), (uint8_t)n};
    put(b, h, 7);
    put(b, payload, n);
    put(b, "\xce", 1);
}
#define AMQP(b, type, lit) amqp(b, type, lit, sizeof(lit) - 1)

static int build_blobs(void **state)
{
    /* Extended protocol on statement "s1", prepared before the agent attached. */
    PG(&pg_exec_s1, 'B', "\0s1\0\0\0\0\0\0\0");
    PG(&pg_exec_s1, 'E', "\0\0\0\0\0");
    PG(&pg_exec_s1, 'S', "");
    PG(&pg_resp_s1, '2', "");
    PG(&pg_resp_s1, 'D',
       "\0\1\0\0\0\1"
       "7");
    PG(&pg_resp_s1, 'C', "SELECT 1\0");
    PG(&pg_resp_s1, 'Z', "I");
    /* A statement prepared while we watch: the request names it. */
    PG(&pg_exec_s2, 'P', "s2\0INSERT INTO orders(user_id) VALUES ($1)\0\0\0");
    PG(&pg_exec_s2, 'B', "\0s2\0\0\0\0\0\0\0");
    PG(&pg_exec_s2, 'E', "\0\0\0\0\0");
    PG(&pg_exec_s2, 'S', "");
    PG(&pg_resp_s2, '1', "");
    PG(&pg_resp_s2, '2', "");
    PG(&pg_resp_s2, 'C', "INSERT 0 1\0");
    PG(&pg_resp_s2, 'Z', "I");
    pg_exec_err = pg_exec_s1;
    PG(&pg_resp_err, '2', "");
    PG(&pg_resp_err, 'E', "SERROR\0C23505\0Mduplicate key\0\0");
    PG(&pg_resp_err, 'Z', "I");
    /* AMQP: protocol header; publish to "shop"; a delivery from it; the consumer's ack. */
    put(&amqp_hdr, "AMQP\0\0\x09\x01", 8);
    AMQP(&amqp_pub, 1,
         "\0\x3c\0\x28\0\0\x04shop\x0c"
         "order.placed\0");
    AMQP(&amqp_pub, 2, "\0\x3c\0\0\0\0\0\0\0\0\0\x05\0\0");
    AMQP(&amqp_pub, 3, "hello");
    AMQP(&amqp_deliver, 1,
         "\0\x3c\0\x3c\x03"
         "c.1\0\0\0\0\0\0\0\x01\0\x04shop\x0c"
         "order.placed");
    AMQP(&amqp_deliver, 2, "\0\x3c\0\0\0\0\0\0\0\0\0\x05\0\0");
    AMQP(&amqp_deliver, 3, "hello");
    AMQP(&amqp_ack, 1, "\0\x3c\0\x50\0\0\0\0\0\0\0\x01\0");
    return 0;
}

/* ---- running a scenario ---- */

static uint8_t wire[1 << 17];

static void run_step(struct ag_conntrack *ct, const struct scenario *sc, const struct step *s)
{
    struct ag_ct_id id = {TGID, s->fd, s->sock};
    size_t n = s->blob ? s->blob->n : s->len;
    struct ag_xfer x = {.dir = s->dir, .ts_enter_ns = s->t, .ts_exit_ns = s->t + 50};

    switch (s->kind) {
    case S_ACCEPT:
        ag_ct_accept(ct, &id, sc->ep, s->t);
        return;
    case S_CONNECT:
        ag_ct_connect(ct, &id, sc->ep, s->t);
        return;
    case S_SEED:
        ag_ct_seed(ct, &id, sc->ep, s->role);
        return;
    case S_CLOSE:
        ag_ct_close(ct, &id, s->t);
        return;
    }
    assert_true(n + s->fill <= sizeof(wire));
    memcpy(wire, s->blob ? s->blob->b : (const uint8_t *)s->data, n);
    memset(wire + n, 'x', s->fill);
    /* What the probes deliver: head cap bytes, then a tail only past the head (no overlap). */
    x.total = n + s->fill;
    x.head = wire;
    x.head_len = (uint32_t)(x.total < HEAD_CAP ? x.total : HEAD_CAP);
    x.tail_len = (uint32_t)(x.total > HEAD_CAP
                                ? (x.total - HEAD_CAP < TAIL_CAP ? x.total - HEAD_CAP : TAIL_CAP)
                                : 0);
    x.tail = wire + x.total - x.tail_len;
    ag_ct_xfer(ct, &id, sc->ep, s->tid, &x);
}

static void check(const struct scenario *sc, int i, const struct ag_request *r,
                  const struct want *w)
{
    const char *why = NULL;

#define DIFF(cond, what)                                                                           \
    if (!why && (cond))                                                                            \
    why = what
    DIFF(strcmp(r->op, w->op), "op");
    DIFF(strcmp(r->route, w->route), "route");
    DIFF(strcmp(r->destination, w->dest), "destination");
    DIFF(strcmp(r->sqlstate, w->sqlstate), "sqlstate");
    DIFF(r->status != w->status || r->error != w->error, "status/error");
    DIFF(r->role != w->role || r->proto != w->proto, "role/proto");
    DIFF(r->tid != w->tid, "tid");
    DIFF(r->ts_start_ns != w->start || r->ts_end_ns != w->end, "start/end");
    DIFF(r->tgid != TGID, "tgid");
    DIFF(sc->ep && memcmp(&r->ep, sc->ep, sizeof(r->ep)), "endpoints");
#undef DIFF
    if (why)
        fail_msg("%s: record %d: %s differs: op %s route %s dest %s status %u error %u role %u "
                 "proto %u tid %u start %llu end %llu",
                 sc->name, i, why, r->op, r->route, r->destination, r->status, r->error, r->role,
                 r->proto, r->tid, (unsigned long long)r->ts_start_ns,
                 (unsigned long long)r->ts_end_ns);
}

static void run(const struct scenario *sc)
{
    struct ag_conntrack *ct = new_ct(0);
    struct ag_ct_stats st;

    for (const struct step *s = sc->steps; s->kind != S_END; s++)
        run_step(ct, sc, s);
    ag_ct_stats(ct, &st);
    if (ngot != sc->nwant)
        fail_msg("%s: %d records, want %d", sc->name, ngot, sc->nwant);
    for (int i = 0; i < ngot; i++)
        check(sc, i, &got[i], &sc->want[i]);
    assert_int_equal(st.unparsed_bytes, sc->unparsed);
    assert_int_equal(unparsed_by_tgid[0], sc->unparsed);
    assert_int_equal(unparsed_by_tgid[1], 0);
    assert_int_equal(st.unpaired_requests, sc->unpaired_req);
    assert_int_equal(st.unpaired_responses, sc->unpaired_resp);
    assert_int_equal(st.conns_unparsed, sc->conns_unparsed);
    assert_int_equal(st.requests, (uint64_t)ngot);
    assert_int_equal(st.drops[AG_CT_DROP_REASSEMBLY_OVERFLOW] + st.drops[AG_CT_DROP_TABLE_FULL], 0);
    for (int p = 0; p < AG_CT_PROTO_N; p++)
        assert_int_equal(st.resyncs[p], 0);
    ag_ct_destroy(ct);
}

/* ---- scenarios (times in ns: each transfer enters at t and exits at t + 50) ---- */

#define S AG_CT_SERVER
#define C AG_CT_CLIENT

static const struct scenario scenarios[] = {
    {"http server keep-alive, 3 requests",
     &ep4,
     {ACC(5, 0xa1, 10),
      IN(5, 0xa1, 7, "GET /products/42?ref=mail HTTP/1.1\r\nHost: shop\r\n\r\n", 1000),
      OUT(5, 0xa1, 7, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 1200),
      IN(5, 0xa1, 7, "POST /api/cart/items HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 2000),
      OUT(5, 0xa1, 7, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 2200),
      IN(5, 0xa1, 8, "GET /orders/550e8400-e29b-41d4-a716-446655440000 HTTP/1.1\r\n\r\n", 3000),
      OUT(5, 0xa1, 8, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", 3200),
      CLOSE(5, 4000)},
     {HTTP("GET", "/products/{id}", 200, S, 7, 1000, 1250),
      HTTP("POST", "/api/cart/items", 201, S, 7, 2000, 2250),
      HTTP("GET", "/orders/{id}", 503, S, 8, 3000, 3250)},
     .nwant = 3},
    {"http pipelined requests in one transfer",
     NULL,
     {ACC(5, 0xa2, 10),
      IN(5, 0xa2, 7, "GET /a/1 HTTP/1.1\r\n\r\nGET /b/2 HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
         1000),
      OUT(5, 0xa2, 7, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", 1200),
      OUT(5, 0xa2, 7,
          "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb"
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n0\r\n\r\n",
          1300)},
     {HTTP("GET", "/a/{id}", 200, S, 7, 1000, 1250), HTTP("GET", "/b/{id}", 404, S, 7, 1000, 1350),
      HTTP("GET", "/c", 200, S, 7, 1000, 1350)},
     .nwant = 3},
    {"http request split over three transfers",
     NULL,
     {ACC(5, 0xa3, 10), IN(5, 0xa3, 7, "POST /api/orders HTTP/1.1\r\nCont", 1000),
      IN(5, 0xa3, 7, "ent-Length: 10\r\nHost: shop\r\n\r\n", 2000),
      IN(5, 0xa3, 7, "0123456789", 3000),
      OUT(5, 0xa3, 7, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 4000)},
     {HTTP("POST", "/api/orders", 201, S, 7, 1000, 4050)},
     .nwant = 1},
    {"http large response over many transfers, 512/64 captures",
     NULL,
     {ACC(5, 0xa4, 10), IN(5, 0xa4, 7, "GET /static/app.js HTTP/1.1\r\n\r\n", 1000),
      OUTF(5, 0xa4, 7, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 400, 1200),
      OUTF(5, 0xa4, 7, "", 33200, 1300), OUTF(5, 0xa4, 7, "", 33200, 1400),
      OUTF(5, 0xa4, 7, "", 33200, 1500),
      IN(5, 0xa4, 7, "GET /static/app.css HTTP/1.1\r\n\r\n", 2000),
      OUT(5, 0xa4, 7, "HTTP/1.1 304 Not Modified\r\n\r\n", 2100)},
     {HTTP("GET", "/static/app.js", 200, S, 7, 1000, 1550),
      HTTP("GET", "/static/app.css", 304, S, 7, 2000, 2150)},
     .nwant = 2},
    {"http 100-continue then 200",
     NULL,
     {ACC(5, 0xa5, 10),
      IN(5, 0xa5, 7, "POST /upload HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
         1000),
      OUT(5, 0xa5, 7, "HTTP/1.1 100 Continue\r\n\r\n", 1100), IN(5, 0xa5, 7, "data", 1200),
      OUT(5, 0xa5, 7, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1300)},
     {HTTP("POST", "/upload", 200, S, 7, 1000, 1350)},
     .nwant = 1},
    {"http HEAD with Content-Length and no body",
     NULL,
     {ACC(5, 0xa6, 10), IN(5, 0xa6, 7, "HEAD /products/7 HTTP/1.1\r\n\r\n", 1000),
      OUT(5, 0xa6, 7, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 1100),
      IN(5, 0xa6, 7, "GET /products/8 HTTP/1.1\r\n\r\n", 2000),
      OUT(5, 0xa6, 7, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 2100)},
     {HTTP("HEAD", "/products/{id}", 200, S, 7, 1000, 1150),
      HTTP("GET", "/products/{id}", 200, S, 7, 2000, 2150)},
     .nwant = 2},
    {"http client (curl-like) to a server",
     &ep4,
     {CON(6, 0xb1, 10),
      OUT(6, 0xb1, 9,
          "GET /products/5 HTTP/1.1\r\nHost: 127.0.0.1:8082\r\nUser-Agent: curl/7.88.1\r\n"
          "Accept: */*\r\n\r\n",
          1000),
      IN(6, 0xb1, 9, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot", 1500),
      IN(6, 0xb1, 9, " found", 1600), CLOSE(6, 2000)},
     {HTTP("GET", "/products/{id}", 404, C, 9, 1000, 1650)},
     .nwant = 1},
    {"http over IPv6",
     &ep6,
     {ACC(5, 0xa7, 10), IN(5, 0xa7, 7, "GET /healthz HTTP/1.1\r\n\r\n", 1000),
      OUT(5, 0xa7, 7, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1100)},
     {HTTP("GET", "/healthz", 200, S, 7, 1000, 1150)},
     .nwant = 1},
    {"fd reuse: same fd, new sock_id",
     NULL,
     {ACC(5, 0xa8, 10), IN(5, 0xa8, 7, "GET /old HTTP/1.1\r\n\r\n", 1000),
      IN(5, 0xa9, 7, "GET /new HTTP/1.1\r\n\r\n", 2000),
      OUT(5, 0xa9, 7, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 2100)},
     {HTTP("GET", "/new", 200, S, 7, 2000, 2150)},
     .nwant = 1,
     .unpaired_req = 1},
    {"pg extended protocol, statement prepared before attach",
     &ep4,
     {SEED(7, 0xc1, AG_CT_CLIENT), OUTB(7, 0xc1, 11, &pg_exec_s1, 1000),
      INB(7, 0xc1, 11, &pg_resp_s1, 1500), OUTB(7, 0xc1, 11, &pg_exec_s2, 2000),
      INB(7, 0xc1, 11, &pg_resp_s2, 2500), OUTB(7, 0xc1, 12, &pg_exec_err, 3000),
      INB(7, 0xc1, 12, &pg_resp_err, 3500)},
     {{"SELECT", "", "", "", 0, 0, C, AG_PROTO_PGWIRE, 11, 1000, 1550},
      {"INSERT", "", "", "", 0, 0, C, AG_PROTO_PGWIRE, 11, 2000, 2550},
      {"", "", "", "23505", 0, 1, C, AG_PROTO_PGWIRE, 12, 3000, 3550}},
     .nwant = 3},
    {"redis pipelined GET/SET/INCR",
     NULL,
     {CON(8, 0xd1, 10),
      OUT(8, 0xd1, 13,
          "*2\r\n$3\r\nGET\r\n$6\r\ncart:1\r\n*3\r\n$3\r\nset\r\n$6\r\ncart:2\r\n$2\r\n{}\r\n"
          "*2\r\n$4\r\nINCR\r\n$6\r\ncart:2\r\n",
          1000),
      IN(8, 0xd1, 13, "$2\r\n[]\r\n+OK\r\n", 1500),
      IN(8, 0xd1, 13, "-ERR value is not an integer or out of range\r\n", 1600)},
     {{"GET", "", "", "", 0, 0, C, AG_PROTO_RESP, 13, 1000, 1550},
      {"SET", "", "", "", 0, 0, C, AG_PROTO_RESP, 13, 1000, 1550},
      {"INCR", "", "", "", 0, 1, C, AG_PROTO_RESP, 13, 1000, 1650}},
     .nwant = 3},
    {"amqp publish, deliver, ack",
     NULL,
     {CON(9, 0xe1, 10), OUTB(9, 0xe1, 14, &amqp_hdr, 1000), OUTB(9, 0xe1, 14, &amqp_pub, 2000),
      INB(9, 0xe1, 15, &amqp_deliver, 3000), OUTB(9, 0xe1, 15, &amqp_ack, 4000)},
     {{"publish", "", "shop", "", 0, 0, C, AG_PROTO_AMQP, 14, 2000, 2050},
      {"receive", "", "shop", "", 0, 0, C, AG_PROTO_AMQP, 15, 3000, 3050},
      {"ack", "", "", "", 0, 0, C, AG_PROTO_AMQP, 15, 4000, 4050}},
     .nwant = 3},
    {"amqp consumer seeded mid-stream, met at heartbeats",
     NULL,
     /* Idle since before the agent started: more heartbeats than the detection budget, then
      * a delivery and its ack. Heartbeats are AMQP too, never unparsed bytes. */
     {SEED(13, 0xe2, AG_CT_CLIENT), IN(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1000),
      OUT(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1100),
      IN(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1200),
      OUT(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1300),
      IN(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1400),
      OUT(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1500),
      IN(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1600),
      OUT(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1700),
      IN(13, 0xe2, 16, "\x08\0\0\0\0\0\0\xce", 1800), INB(13, 0xe2, 16, &amqp_deliver, 3000),
      OUTB(13, 0xe2, 16, &amqp_ack, 4000)},
     {{"receive", "", "shop", "", 0, 0, C, AG_PROTO_AMQP, 16, 3000, 3050},
      {"ack", "", "", "", 0, 0, C, AG_PROTO_AMQP, 16, 4000, 4050}},
     .nwant = 2},
    {"amqp publisher confirms are not the publisher's acks",
     NULL,
     {SEED(14, 0xe3, AG_CT_CLIENT), OUTB(14, 0xe3, 17, &amqp_pub, 2000),
      INB(14, 0xe3, 17, &amqp_ack, 2100), OUTB(14, 0xe3, 17, &amqp_pub, 3000),
      INB(14, 0xe3, 17, &amqp_ack, 3100)},
     {{"publish", "", "shop", "", 0, 0, C, AG_PROTO_AMQP, 17, 2000, 2050},
      {"publish", "", "shop", "", 0, 0, C, AG_PROTO_AMQP, 17, 3000, 3050}},
     .nwant = 2},
    {"seeded, unknown role inferred as server",
     NULL,
     {SEED(10, 0xf1, AG_CT_UNKNOWN),
      /* attached mid-response: a body fragment no parser claims */
      OUTF(10, 0xf1, 7, "", 300, 500), IN(10, 0xf1, 7, "GET /healthz HTTP/1.1\r\n\r\n", 1000),
      OUT(10, 0xf1, 7, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1100)},
     {HTTP("GET", "/healthz", 200, S, 7, 1000, 1150)},
     .nwant = 1,
     .unparsed = 300},
    {"seeded, unknown role inferred as client",
     NULL,
     {SEED(11, 0xf2, AG_CT_UNKNOWN),
      /* the answer to a request sent before we attached: no pair, but the role */
      IN(11, 0xf2, 9, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 500),
      OUT(11, 0xf2, 9, "GET /products HTTP/1.1\r\n\r\n", 1000),
      IN(11, 0xf2, 9, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", 1100)},
     {HTTP("GET", "/products", 200, C, 9, 1000, 1150)},
     .nwant = 1,
     .unpaired_resp = 1},
    {"unparsed traffic counted",
     NULL,
     {ACC(12, 0xf3, 10), IN(12, 0xf3, 7, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 1000),
      OUTF(12, 0xf3, 7, "\x16\x03\x03\x00\x7a\x02", 1000, 1100),
      IN(12, 0xf3, 7, "\x14\x03\x03\x00\x01\x01", 1200), IN(12, 0xf3, 7, "\x17\x03\x03", 1300),
      OUT(12, 0xf3, 7, "\x17\x03\x03", 1400), IN(12, 0xf3, 7, "\x17\x03\x03", 1500),
      OUT(12, 0xf3, 7, "\x17\x03\x03", 1600), IN(12, 0xf3, 7, "\x17\x03\x03", 1700),
      /* past detection: still counted */
      IN(12, 0xf3, 7, "GET / HTTP/1.1\r\n\r\n", 1800)},
     {{0}},
     .nwant = 0,
     .unparsed = 11 + 1006 + 6 + 3 * 5 + 18,
     .conns_unparsed = 1},
};

static void test_scenarios(void **state)
{
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        run(&scenarios[i]);
}

/* ---- limits and lifecycle ---- */

static void xfer_str(struct ag_conntrack *ct, int32_t fd, uint64_t sock, int dir, const char *s,
                     uint64_t t)
{
    static const struct scenario none = {"limits", NULL, {{0}}, {{0}}, 0, 0, 0, 0, 0};
    struct step st = {S_XFER, (uint8_t)dir, 0, fd, sock, 1, s, strlen(s), NULL, 0, t};

    run_step(ct, &none, &st);
}

static void test_table_full(void **state)
{
    struct ag_conntrack *ct = new_ct(2);
    struct ag_ct_stats st;

    for (int fd = 3; fd < 6; fd++)
        xfer_str(ct, fd, 0x100 + (uint64_t)fd, AG_DIR_INGRESS, "GET / HTTP/1.1\r\n\r\n", 1000);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.conns_open, 2);
    assert_int_equal(st.drops[AG_CT_DROP_TABLE_FULL], 1);
    assert_int_equal(st.unparsed_bytes, 18); /* the refused transfer's bytes are not silent */
    /* A close frees a place for the next connection. */
    ag_ct_close(ct, &(struct ag_ct_id){TGID, 3, 0}, 2000);
    xfer_str(ct, 5, 0x105, AG_DIR_INGRESS, "GET /x HTTP/1.1\r\n\r\n", 3000);
    xfer_str(ct, 5, 0x105, AG_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3100);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.conns_open, 2);
    assert_int_equal(st.unpaired_requests, 1);
    assert_int_equal(ngot, 1);
    assert_string_equal(got[0].route, "/x");
    ag_ct_destroy(ct);
}

static void test_sweep_and_forget(void **state)
{
    struct ag_conntrack *ct = new_ct(0);
    struct ag_ct_id seeded = {TGID, 20, 0x200}, other = {TGID + 1, 20, 0x201};
    struct ag_ct_stats st;
    const uint64_t sec = 1000000000ull;

    ag_ct_seed(ct, &seeded, NULL, AG_CT_SERVER);
    xfer_str(ct, 21, 0x202, AG_DIR_INGRESS, "GET / HTTP/1.1\r\n\r\n", 10 * sec);
    ag_ct_accept(ct, &other, NULL, 20 * sec);
    /* The seed's idle time starts at the first sweep, not at boot. */
    ag_ct_sweep(ct, 11 * sec + AG_CT_IDLE_NS_DEFAULT);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.conns_evicted, 1); /* fd 21, idle since 10 s */
    assert_int_equal(st.conns_open, 2);
    assert_int_equal(st.unpaired_requests, 1);
    ag_ct_forget_tgid(ct, TGID);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.conns_open, 1);
    ag_ct_sweep(ct, 11 * sec + 2 * AG_CT_IDLE_NS_DEFAULT);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.conns_open, 0);
    assert_int_equal(st.conns_evicted, 2);
    ag_ct_destroy(ct);
}

/* More pipelined requests than the FIFO holds: the overflow is counted, and the responses that
 * follow still pair with the right requests. */
static void test_pipeline_overflow(void **state)
{
    struct ag_conntrack *ct = new_ct(0);
    struct ag_ct_stats st;
    char req[64];
    int n = AG_CT_PENDING + 3;

    ag_ct_accept(ct, &(struct ag_ct_id){TGID, 5, 0x300}, NULL, 10);
    for (int i = 0; i < n; i++) {
        snprintf(req, sizeof(req), "GET /r%d HTTP/1.1\r\n\r\n", i);
        xfer_str(ct, 5, 0x300, AG_DIR_INGRESS, req, 1000 + 10 * (uint64_t)i);
    }
    for (int i = 0; i < n; i++) {
        xfer_str(ct, 5, 0x300, AG_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                 5000 + 10 * (uint64_t)i);
        if (i == 0) { /* pending room again: this one queues behind the lost ones */
            xfer_str(ct, 5, 0x300, AG_DIR_INGRESS, "GET /late HTTP/1.1\r\n\r\n", 5005);
        }
    }
    xfer_str(ct, 5, 0x300, AG_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 9000);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.drops[AG_CT_DROP_REASSEMBLY_OVERFLOW], 3);
    assert_int_equal(ngot, AG_CT_PENDING + 1);
    for (int i = 0; i < AG_CT_PENDING; i++) {
        snprintf(req, sizeof(req), "/r%d", i);
        assert_string_equal(got[i].route, req);
        assert_int_equal(got[i].ts_start_ns, 1000 + 10 * (uint64_t)i);
        assert_int_equal(got[i].ts_end_ns, 5050 + 10 * (uint64_t)i);
    }
    assert_string_equal(got[AG_CT_PENDING].route, "/late");
    assert_int_equal(got[AG_CT_PENDING].ts_end_ns, 9050);
    ag_ct_destroy(ct);
}

/* close_range ends the process's connections on the fds in the range, and only those. */
static void test_close_range(void **state)
{
    struct ag_conntrack *ct = new_ct(0);
    struct ag_ct_stats st;

    ag_ct_accept(ct, &(struct ag_ct_id){TGID, 5, 0x500}, NULL, 10);
    ag_ct_accept(ct, &(struct ag_ct_id){TGID, 6, 0x600}, NULL, 10);
    ag_ct_accept(ct, &(struct ag_ct_id){TGID, 9, 0x900}, NULL, 10);
    ag_ct_accept(ct, &(struct ag_ct_id){TGID + 1, 6, 0x601}, NULL, 10);
    xfer_str(ct, 5, 0x500, AG_DIR_INGRESS, "GET /legacy HTTP/1.0\r\n\r\n", 1000);
    xfer_str(ct, 5, 0x500, AG_DIR_EGRESS, "HTTP/1.0 200 OK\r\n\r\nbody", 1100);
    ag_ct_close_range(ct, TGID, 4, 8, 2000);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.conns_open, 2); /* TGID's fd 9, and the other process's fd 6 */
    assert_int_equal(ngot, 1);          /* the close-delimited response completed */
    assert_string_equal(got[0].route, "/legacy");
    ag_ct_close_range(ct, TGID, 0, ~0u, 3000);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.conns_open, 1);
    ag_ct_destroy(ct);
}

/* A response delimited by the close ends with its last write, not at close. */
static void test_close_delimited(void **state)
{
    struct ag_conntrack *ct = new_ct(0);

    ag_ct_accept(ct, &(struct ag_ct_id){TGID, 5, 0x400}, NULL, 10);
    xfer_str(ct, 5, 0x400, AG_DIR_INGRESS, "GET /legacy HTTP/1.0\r\n\r\n", 1000);
    xfer_str(ct, 5, 0x400, AG_DIR_EGRESS, "HTTP/1.0 200 OK\r\n\r\nsome", 1100);
    xfer_str(ct, 5, 0x400, AG_DIR_EGRESS, " body", 1200);
    assert_int_equal(ngot, 0);
    ag_ct_close(ct, &(struct ag_ct_id){TGID, 5, 0x400}, 5000);
    assert_int_equal(ngot, 1);
    assert_string_equal(got[0].route, "/legacy");
    assert_int_equal(got[0].status, 200);
    assert_int_equal(got[0].ts_start_ns, 1000);
    assert_int_equal(got[0].ts_end_ns, 1250);
    assert_int_equal(got[0].flags, 0);
    ag_ct_destroy(ct);
}

static struct ag_ct_id quiet_ids[4];
static int nquiet;

static void on_quiet(void *ctx, const struct ag_ct_id *id)
{
    assert_true(nquiet < 4);
    quiet_ids[nquiet++] = *id;
}

/* A quiet protocol's server side is claimed but not parsed: nothing emitted, nothing unparsed,
 * the caller told once; its client side, and other protocols' server side, are parsed as ever. */
static void test_quiet_servers(void **state)
{
    struct ag_ct_config cfg = {.emit = on_emit,
                               .unparsed = on_unparsed,
                               .quiet_servers = 1u << AG_PROTO_RESP,
                               .quiet = on_quiet};
    struct ag_conntrack *ct = NULL;
    struct ag_ct_stats st;

    ngot = 0;
    memset(unparsed_by_tgid, 0, sizeof(unparsed_by_tgid));
    assert_int_equal(ag_ct_create(&cfg, &ct), 0);
    ag_ct_accept(ct, &(struct ag_ct_id){TGID, 5, 0x500}, NULL, 10); /* Redis's own side */
    xfer_str(ct, 5, 0x500, AG_DIR_INGRESS, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 1000);
    xfer_str(ct, 5, 0x500, AG_DIR_EGRESS, "$1\r\nv\r\n", 1100);
    ag_ct_connect(ct, &(struct ag_ct_id){TGID, 6, 0x600}, NULL, 10); /* a client of Redis */
    xfer_str(ct, 6, 0x600, AG_DIR_EGRESS, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 2000);
    xfer_str(ct, 6, 0x600, AG_DIR_INGRESS, "$1\r\nv\r\n", 2100);
    ag_ct_accept(ct, &(struct ag_ct_id){TGID, 7, 0x700}, NULL, 10); /* an HTTP server */
    xfer_str(ct, 7, 0x700, AG_DIR_INGRESS, "GET /a HTTP/1.1\r\n\r\n", 3000);
    xfer_str(ct, 7, 0x700, AG_DIR_EGRESS, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 3100);
    ag_ct_stats(ct, &st);
    assert_int_equal(st.conns_quiet, 1);
    assert_int_equal(nquiet, 1);
    assert_int_equal(quiet_ids[0].tgid, TGID);
    assert_int_equal(quiet_ids[0].fd, 5);
    assert_int_equal(quiet_ids[0].sock_id, 0x500);
    assert_int_equal(st.unparsed_bytes, 0);
    assert_int_equal(ngot, 2);
    assert_int_equal(got[0].proto, AG_PROTO_RESP);
    assert_int_equal(got[0].role, AG_CT_CLIENT);
    assert_string_equal(got[0].op, "GET");
    assert_int_equal(got[1].proto, AG_PROTO_HTTP1);
    assert_int_equal(got[1].role, AG_CT_SERVER);
    ag_ct_destroy(ct);
}

static void test_names(void **state)
{
    assert_string_equal(ag_ct_drop_name(AG_CT_DROP_REASSEMBLY_OVERFLOW), "reassembly_overflow");
    assert_string_equal(ag_ct_drop_name(AG_CT_DROP_TABLE_FULL), "table_full");
    assert_string_equal(ag_ct_proto_name(AG_PROTO_PGWIRE), "postgresql");
    assert_string_equal(ag_ct_proto_name(AG_PROTO_RESP), "redis");
    struct ag_ct_config bad = {0};
    struct ag_conntrack *ct = NULL;
    assert_int_equal(ag_ct_create(&bad, &ct), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),        cmocka_unit_test(test_table_full),
        cmocka_unit_test(test_sweep_and_forget), cmocka_unit_test(test_pipeline_overflow),
        cmocka_unit_test(test_close_delimited),  cmocka_unit_test(test_close_range),
        cmocka_unit_test(test_quiet_servers),    cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, build_blobs, NULL);
}

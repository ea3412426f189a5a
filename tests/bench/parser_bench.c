/* parser_bench — throughput of the agent's protocol parsers (agent/proto, libagproto.a), for
 * scripts/bench-agent.sh.
 *
 *   parser_bench [SECONDS_PER_CASE]      (default 0.5)
 *
 * Each case feeds one direction of a typical conversation of the shop, one message group per
 * transfer, the way the agent does: head = the first 512 bytes, tail = the last 64 (the agent's
 * default capture). It repeats the stream until the time is up and prints one line per case:
 *   parser proto=NAME dir=req|resp mb_s=X msgs_s=Y bytes_per_msg=Z
 * where MB/s counts wire bytes (10^6 bytes) fed. A case that emits no message, loses framing or
 * is not recognised fails (exit 1): the figure would not be a parser's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/amqp.h"
#include "proto/http1.h"
#include "proto/pgwire.h"
#include "proto/resp.h"

#define HEAD_CAP  512
#define TAIL_CAP  64
#define MAX_XFERS 8
#define XFER_MAX  2048

struct stream {
    int n;
    uint32_t len[MAX_XFERS];
    uint8_t buf[MAX_XFERS][XFER_MAX];
};

/* Appends bytes to the stream's last transfer. */
static void put(struct stream *s, const void *p, size_t n)
{
    uint32_t *len = &s->len[s->n - 1];

    if (*len + n > XFER_MAX) {
        fprintf(stderr, "parser_bench: transfer too big\n");
        exit(2);
    }
    memcpy(s->buf[s->n - 1] + *len, p, n);
    *len += (uint32_t)n;
}

static void next_xfer(struct stream *s)
{
    if (s->n == MAX_XFERS) {
        fprintf(stderr, "parser_bench: too many transfers\n");
        exit(2);
    }
    s->len[s->n++] = 0;
}

static void puts_(struct stream *s, const char *str)
{
    put(s, str, strlen(str));
}

static void put_be16(struct stream *s, unsigned v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};

    put(s, b, 2);
}

static void put_be32(struct stream *s, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    put(s, b, 4);
}

static void put_be64(struct stream *s, uint64_t v)
{
    put_be32(s, (uint32_t)(v >> 32));
    put_be32(s, (uint32_t)v);
}

static char json[301];

static void make_json(void)
{
    memset(json, 'x', 300);
    memcpy(json, "{\"id\":1,\"name\":\"", 16);
    memcpy(json + 280, "\",\"price\":1299}", 15);
    json[300] = '\0';
    for (int i = 295; i < 300; i++)
        json[i] = ' ';
}

/* ---- HTTP/1.1: the gateway's GET /api/products/1 and its 300-byte JSON answer ---- */
static void http_req(struct stream *s)
{
    next_xfer(s);
    puts_(s, "GET /api/products/1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
             "User-Agent: vg-loadgen/1\r\nAccept: */*\r\nX-Request-Id: 7f3a9c\r\n\r\n");
}

static void http_resp(struct stream *s)
{
    next_xfer(s);
    puts_(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300\r\n"
             "Date: Wed, 25 Nov 2026 17:28:13 GMT\r\n\r\n");
    puts_(s, json);
}

/* ---- PostgreSQL: a simple query, then an extended one (Parse/Bind/Describe/Execute/Sync) ---- */
static void pg_msg(struct stream *s, char type, const void *body, uint32_t n)
{
    put(s, &type, 1);
    put_be32(s, n + 4);
    put(s, body, n);
}

static void pg_req(struct stream *s)
{
    static const char q[] = "SELECT id, name, price_cents, stock FROM products WHERE id = 1";
    static const char parse[] = "\0SELECT id, name FROM products WHERE id = $1\0\0\0";
    static const char bind[] = "\0\0\0\0\0\1\0\0\0\0011\0\0";
    static const char describe[] = "P";
    static const char exec[] = "\0\0\0\0\0";

    next_xfer(s);
    pg_msg(s, 'Q', q, sizeof(q));
    next_xfer(s);
    pg_msg(s, 'P', parse, sizeof(parse) - 1);
    pg_msg(s, 'B', bind, sizeof(bind) - 1);
    pg_msg(s, 'D', describe, sizeof(describe));
    pg_msg(s, 'E', exec, sizeof(exec) - 1);
    pg_msg(s, 'S', "", 0);
}

static void pg_rows(struct stream *s, const char *tag)
{
    static const char rowdesc[] = "\0\1id\0\0\0\0\0\0\0\0\0\0\x17\0\4\xff\xff\xff\xff\0\0";
    uint8_t row[64];
    uint32_t n = 0;

    pg_msg(s, 'T', rowdesc, sizeof(rowdesc) - 1);
    row[n++] = 0, row[n++] = 1;
    row[n++] = 0, row[n++] = 0, row[n++] = 0, row[n++] = 40;
    memset(row + n, 'v', 40);
    n += 40;
    pg_msg(s, 'D', row, n);
    pg_msg(s, 'C', tag, (uint32_t)strlen(tag) + 1);
    pg_msg(s, 'Z', "I", 1);
}

static void pg_resp(struct stream *s)
{
    next_xfer(s);
    pg_rows(s, "SELECT 1");
    next_xfer(s);
    pg_msg(s, '1', "", 0);
    pg_msg(s, '2', "", 0);
    pg_rows(s, "SELECT 1");
}

/* ---- Redis RESP2: the product cache's GET and SET ... EX, and their replies ---- */
static void resp_req(struct stream *s)
{
    char cmd[512];

    next_xfer(s);
    puts_(s, "*2\r\n$3\r\nGET\r\n$9\r\nproduct:1\r\n");
    next_xfer(s);
    snprintf(cmd, sizeof(cmd),
             "*5\r\n$3\r\nSET\r\n$9\r\nproduct:1\r\n$300\r\n%s\r\n$2\r\nEX\r\n$2\r\n60\r\n", json);
    puts_(s, cmd);
}

static void resp_resp(struct stream *s)
{
    char rep[512];

    next_xfer(s);
    snprintf(rep, sizeof(rep), "$300\r\n%s\r\n", json);
    puts_(s, rep);
    next_xfer(s);
    puts_(s, "+OK\r\n");
}

/* ---- AMQP 0-9-1: basic.publish with its content; basic.deliver and the client's ack ---- */
static void amqp_frame_start(struct stream *s, uint8_t type, uint32_t size)
{
    put(s, &type, 1);
    put_be16(s, 1);
    put_be32(s, size);
}

static void amqp_shortstr(struct stream *s, const char *str)
{
    uint8_t n = (uint8_t)strlen(str);

    put(s, &n, 1);
    put(s, str, n);
}

static void amqp_content(struct stream *s)
{
    static const uint8_t end = 0xce;

    amqp_frame_start(s, 2, 14);
    put_be16(s, 60);
    put_be16(s, 0);
    put_be64(s, 300);
    put_be16(s, 0);
    put(s, &end, 1);
    amqp_frame_start(s, 3, 300);
    puts_(s, json);
    put(s, &end, 1);
}

static void amqp_req(struct stream *s)
{
    static const uint8_t end = 0xce, bits = 0;

    next_xfer(s);
    amqp_frame_start(s, 1, 4 + 2 + 1 + 4 + 1 + 12 + 1);
    put_be16(s, 60);
    put_be16(s, 40);
    put_be16(s, 0);
    amqp_shortstr(s, "shop");
    amqp_shortstr(s, "order.placed");
    put(s, &bits, 1);
    put(s, &end, 1);
    amqp_content(s);
    next_xfer(s);
    amqp_frame_start(s, 1, 4 + 8 + 1);
    put_be16(s, 60);
    put_be16(s, 80);
    put_be64(s, 7);
    put(s, &bits, 1);
    put(s, &end, 1);
}

static void amqp_resp(struct stream *s)
{
    static const uint8_t end = 0xce, redelivered = 0;

    next_xfer(s);
    amqp_frame_start(s, 1, 4 + 1 + 10 + 8 + 1 + 1 + 4 + 1 + 12);
    put_be16(s, 60);
    put_be16(s, 60);
    amqp_shortstr(s, "ctag-notif");
    put_be64(s, 7);
    put(s, &redelivered, 1);
    amqp_shortstr(s, "shop");
    amqp_shortstr(s, "order.placed");
    put(s, &end, 1);
    amqp_content(s);
}

/* ---- the driver ---- */
union state {
    struct ag_http1_state http;
    struct ag_pgwire_state pg;
    struct ag_resp_state resp;
    struct ag_amqp_state amqp;
};

struct parser {
    const char *name;
    void (*req)(struct stream *);
    void (*resp)(struct stream *);
    void (*init)(union state *, enum ag_role);
    int (*feed)(union state *, const struct ag_xfer *, struct ag_msg *, int, int *);
};

static void http_init(union state *u, enum ag_role r)
{
    ag_http1_init(&u->http, r);
}
static int http_feed(union state *u, const struct ag_xfer *x, struct ag_msg *o, int m, int *n)
{
    return ag_http1_feed(&u->http, x, o, m, n);
}
static void pg_init(union state *u, enum ag_role r)
{
    ag_pgwire_init(&u->pg, r);
}
static int pg_feed(union state *u, const struct ag_xfer *x, struct ag_msg *o, int m, int *n)
{
    return ag_pgwire_feed(&u->pg, x, o, m, n);
}
static void resp_init(union state *u, enum ag_role r)
{
    ag_resp_init(&u->resp, r);
}
static int resp_feed(union state *u, const struct ag_xfer *x, struct ag_msg *o, int m, int *n)
{
    return ag_resp_feed(&u->resp, x, o, m, n);
}
static void amqp_init(union state *u, enum ag_role r)
{
    ag_amqp_init(&u->amqp, r);
}
static int amqp_feed(union state *u, const struct ag_xfer *x, struct ag_msg *o, int m, int *n)
{
    return ag_amqp_feed(&u->amqp, x, o, m, n);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct ag_msg out[AG_MSG_BATCH];

/* Feeds the stream once; returns the messages emitted, or -1 on a framing loss. */
static long feed_once(const struct parser *p, union state *st, const struct stream *s, uint64_t *ts)
{
    long msgs = 0;

    for (int i = 0; i < s->n; i++) {
        uint32_t len = s->len[i], head = len < HEAD_CAP ? len : HEAD_CAP;
        uint32_t tail = len < TAIL_CAP ? len : TAIL_CAP;
        struct ag_xfer x = {AG_DIR_INGRESS,         len,  s->buf[i], head,
                            s->buf[i] + len - tail, tail, *ts,       *ts + 1000};
        int nout = 0, rc = p->feed(st, &x, out, AG_MSG_BATCH, &nout);

        *ts += 2000;
        if (rc == AG_PARSE_RESYNC || rc == AG_PARSE_NOT_MINE)
            return -1;
        msgs += nout;
    }
    return msgs;
}

static int run_case(const struct parser *p, enum ag_role role, double secs)
{
    static struct stream s;
    static union state st;
    uint64_t bytes_per_pass = 0, ts = 1000000, passes = 0;
    long msgs_per_pass, msgs = 0;
    double t0, t1;

    memset(&s, 0, sizeof(s));
    (role == AG_ROLE_REQUESTS ? p->req : p->resp)(&s);
    for (int i = 0; i < s.n; i++)
        bytes_per_pass += s.len[i];
    p->init(&st, role);
    if (p->init == amqp_init && role == AG_ROLE_REQUESTS) { /* the client opens with the header */
        static const uint8_t hdr[8] = {'A', 'M', 'Q', 'P', 0, 0, 9, 1};
        struct ag_xfer x = {AG_DIR_INGRESS, 8, hdr, 8, hdr, 8, ts, ts + 1000};
        int nout;

        p->feed(&st, &x, out, AG_MSG_BATCH, &nout);
    }
    msgs_per_pass = feed_once(p, &st, &s, &ts); /* warm-up, and the check */
    if (msgs_per_pass <= 0) {
        fprintf(stderr, "parser_bench: %s %s: %s\n", p->name,
                role == AG_ROLE_REQUESTS ? "req" : "resp",
                msgs_per_pass < 0 ? "framing lost" : "no message emitted");
        return 1;
    }
    t0 = now_s();
    do {
        for (int k = 0; k < 1024; k++) {
            long m = feed_once(p, &st, &s, &ts);

            if (m != msgs_per_pass) {
                fprintf(stderr, "parser_bench: %s: %ld messages in a pass, expected %ld\n", p->name,
                        m, msgs_per_pass);
                return 1;
            }
            msgs += m;
        }
        passes += 1024;
        t1 = now_s();
    } while (t1 - t0 < secs);
    printf("parser proto=%s dir=%s mb_s=%.1f msgs_s=%.0f bytes_per_msg=%.0f\n", p->name,
           role == AG_ROLE_REQUESTS ? "req" : "resp",
           (double)(passes * bytes_per_pass) / (t1 - t0) / 1e6, (double)msgs / (t1 - t0),
           (double)bytes_per_pass / (double)msgs_per_pass);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct parser parsers[] = {
        {"http", http_req, http_resp, http_init, http_feed},
        {"postgresql", pg_req, pg_resp, pg_init, pg_feed},
        {"redis", resp_req, resp_resp, resp_init, resp_feed},
        {"amqp", amqp_req, amqp_resp, amqp_init, amqp_feed},
    };
    double secs = argc > 1 ? atof(argv[1]) : 0.5;
    int rc = 0;

    if (secs <= 0) {
        fprintf(stderr, "usage: parser_bench [SECONDS_PER_CASE]\n");
        return 2;
    }
    make_json();
    for (size_t i = 0; i < sizeof(parsers) / sizeof(parsers[0]); i++) {
        rc |= run_case(&parsers[i], AG_ROLE_REQUESTS, secs);
        rc |= run_case(&parsers[i], AG_ROLE_RESPONSES, secs);
    }
    return rc;
}

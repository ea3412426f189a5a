/* Redis RESP2 parser: commands and replies as redis-cli/hiredis send them, pipelining, MULTI/EXEC,
 * every split point, large bulk values skipped by count, and resync. */
#include "proto_harness.h"

#include "proto/resp.h"

static void r_init(void *st, enum ag_role role)
{
    ag_resp_init(st, role);
}

static int r_feed(void *st, const struct ag_xfer *x, struct ag_msg *out, int max, int *n)
{
    return ag_resp_feed(st, x, out, max, n);
}

static const struct ph_parser rp = {r_init, r_feed, sizeof(struct ag_resp_state)};

/* What hiredis writes for: GET product:42; SET cart:7 {...} EX 3600; MULTI; INCR a; DEL b;
 * EXEC; client setname shop; and a pipelined PING. */
static const char commands[] =
    "*2\r\n$3\r\nGET\r\n$10\r\nproduct:42\r\n"
    "*5\r\n$3\r\nset\r\n$6\r\ncart:7\r\n$22\r\n{\"items\":[{\"id\":1}]}\r\n\r\n$2\r\nEX\r\n$"
    "4\r\n3600\r\n"
    "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\n*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n"
    "*1\r\n$4\r\nEXEC\r\n*3\r\n$6\r\nclient\r\n$7\r\nsetname\r\n$4\r\nshop\r\n"
    "*1\r\n$4\r\nPING\r\n";

static const char replies[] = "$-1\r\n"
                              "+OK\r\n"
                              "+OK\r\n+QUEUED\r\n+QUEUED\r\n"
                              "*2\r\n:1\r\n-ERR not an integer\r\n"
                              "-ERR unknown subcommand\r\n"
                              "+PONG\r\n"
                              "*3\r\n$5\r\nhello\r\n*2\r\n:1\r\n$-1\r\n*-1\r\n"
                              ":42\r\n";

static void test_commands_every_split(void **state)
{
    static const char *const want[] = {"GET", "SET",  "MULTI",  "INCR",
                                       "DEL", "EXEC", "CLIENT", "PING"};
    struct ph_result r;

    (void)state;
    ph_every_split(&rp, AG_ROLE_REQUESTS, (const uint8_t *)commands, strlen(commands), &r);
    assert_int_equal(r.n, 8);
    for (int i = 0; i < r.n; i++) {
        assert_string_equal(r.msgs[i].op, want[i]);
        assert_int_equal(r.msgs[i].kind, AG_MSG_REQUEST);
    }
    assert_int_equal(r.msgs[0].bytes, 30);
}

static void test_replies_every_split(void **state)
{
    static const uint8_t err[] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
    struct ph_result r;

    (void)state;
    ph_every_split(&rp, AG_ROLE_RESPONSES, (const uint8_t *)replies, strlen(replies), &r);
    assert_int_equal(r.n, 10);
    for (int i = 0; i < r.n; i++) {
        assert_int_equal(r.msgs[i].error, err[i]);
        assert_int_equal(r.msgs[i].kind, AG_MSG_RESPONSE);
        assert_string_equal(r.msgs[i].op, "");
    }
}

static void test_inline_and_detect(void **state)
{
    struct ph_result r;
    const char *in = "PING\r\nset k v\r\n";
    enum ag_role role;

    (void)state;
    ph_every_split(&rp, AG_ROLE_REQUESTS, (const uint8_t *)in, strlen(in), &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.msgs[1].op, "SET");
    struct ag_xfer x = {
        AG_DIR_EGRESS, strlen(commands), (const uint8_t *)commands, 512, NULL, 0, 1, 2};
    assert_int_equal(ag_resp_detect(&x, &role), 1);
    assert_int_equal(role, AG_ROLE_REQUESTS);
    x.head = (const uint8_t *)replies;
    x.total = strlen(replies);
    assert_int_equal(ag_resp_detect(&x, &role), 1);
    assert_int_equal(role, AG_ROLE_RESPONSES);
    x.head = (const uint8_t *)"GET / HTTP/1.1\r\n";
    x.total = 16;
    assert_int_equal(ag_resp_detect(&x, &role), 0);
}

/* A 1 MB value: SET then GET reply, read 64 KB at a time with a 512-byte head. */
static void test_large_bulk(void **state)
{
    static uint8_t buf[1200000];
    size_t len, cuts[32], n = 0;
    const char *h = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n";
    const char *next = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    struct ph_result r;

    (void)state;
    memcpy(buf, h, strlen(h));
    len = strlen(h);
    memset(buf + len, 'v', 1000000);
    len += 1000000;
    memcpy(buf + len, "\r\n", 2);
    len += 2;
    for (size_t at = 65536; at < len; at += 65536)
        cuts[n++] = at;
    cuts[n++] = len;
    memcpy(buf + len, next, strlen(next));
    len += strlen(next);
    cuts[n++] = len;
    ph_run(&rp, AG_ROLE_REQUESTS, buf, cuts, (int)n, 512, 64, &r);
    assert_int_equal(r.resyncs, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.msgs[0].op, "SET");
    assert_string_equal(r.msgs[1].op, "GET");
}

static void test_resync(void **state)
{
    struct ag_resp_state st;
    struct ag_msg out[8];
    int n;
    /* 300 pipelined replies in one read: beyond the 64-byte head the framing is lost. */
    static char many[2000];
    size_t len = 0;

    (void)state;
    for (int i = 0; i < 300; i++)
        len += (size_t)snprintf(many + len, sizeof(many) - len, ":%d\r\n", i % 10);
    ag_resp_init(&st, AG_ROLE_RESPONSES);
    struct ag_xfer x = {AG_DIR_INGRESS, len, (const uint8_t *)many, 64, NULL, 0, 1, 2};
    assert_int_equal(ag_resp_feed(&st, &x, out, 8, &n), AG_PARSE_RESYNC);
    assert_int_equal(n, 8);
    assert_int_equal(st.stats.dropped_msgs, 8); /* 16 whole replies in 64 bytes, 8 fit */
    x.head = (const uint8_t *)"junk";
    x.total = x.head_len = 4;
    assert_int_equal(ag_resp_feed(&st, &x, out, 8, &n), AG_PARSE_NEED_MORE);
    x.head = (const uint8_t *)"+OK\r\n";
    x.total = x.head_len = 5;
    assert_int_equal(ag_resp_feed(&st, &x, out, 8, &n), AG_PARSE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st.stats.resyncs, 1);
}

/* Lengths and counts beyond 18 digits are not RESP (fuzz_resp found 19 nines overflowing under
 * UBSan): refused as framing, never computed. */
static void test_huge_numbers(void **state)
{
    static const char *const huge[] = {"*9999999999999999999\r\n", "$9999999989999999992\r\n",
                                       "*-9999999999999999999\r\n"};
    struct ag_resp_state st;
    struct ag_msg out[8];
    int n;

    (void)state;
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        ag_resp_init(&st, AG_ROLE_RESPONSES);
        struct ag_xfer x = {AG_DIR_INGRESS,
                            strlen(huge[i]),
                            (const uint8_t *)huge[i],
                            strlen(huge[i]),
                            NULL,
                            0,
                            1,
                            2};
        assert_int_not_equal(ag_resp_feed(&st, &x, out, 8, &n), AG_PARSE_OK);
        assert_int_equal(n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_every_split),
        cmocka_unit_test(test_replies_every_split),
        cmocka_unit_test(test_inline_and_detect),
        cmocka_unit_test(test_large_bulk),
        cmocka_unit_test(test_resync),
        cmocka_unit_test(test_huge_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

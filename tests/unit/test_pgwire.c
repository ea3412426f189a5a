/* PostgreSQL wire parser: start-up, simple and extended query (pipelined), prepared statements,
 * late attach, errors, every split point, result sets larger than the head, and resync. */
#include "proto_harness.h"

#include "proto/pgwire.h"

/* Requests the response-direction state is told about before each run (the tracker's job). */
static const char *expect_types = "";

static void pg_init(void *st, enum ag_role role)
{
    ag_pgwire_init(st, role);
    for (const char *t = expect_types; *t; t++) {
        struct ag_msg m = {.proto = AG_PROTO_PGWIRE, .status = (uint8_t)*t};
        ag_pgwire_expect(st, &m);
    }
}

static int pg_feed(void *st, const struct ag_xfer *x, struct ag_msg *out, int max, int *n)
{
    return ag_pgwire_feed(st, x, out, max, n);
}

static const struct ph_parser pg = {pg_init, pg_feed, sizeof(struct ag_pgwire_state)};

static uint8_t buf[1 << 17];
static size_t blen;

static void put(const void *p, size_t n)
{
    memcpy(buf + blen, p, n);
    blen += n;
}

/* A typed message; body given as bytes with embedded NULs, so the length is explicit. */
static void msg(char type, const char *body, size_t n)
{
    uint8_t h[5] = {(uint8_t)type, (uint8_t)((n + 4) >> 24), (uint8_t)((n + 4) >> 16),
                    (uint8_t)((n + 4) >> 8), (uint8_t)(n + 4)};
    put(h, 5);
    put(body, n);
}

#define M(type, lit) msg(type, lit, sizeof(lit) - 1)

static void frontend_session(void)
{
    static const uint8_t ssl[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
    static const char params[] = "user\0shop\0database\0shop\0";
    uint8_t startup[8] = {0, 0, 0, (uint8_t)(8 + sizeof(params)), 0, 3, 0, 0};

    blen = 0;
    put(ssl, 8);
    put(startup, 8);
    put(params, sizeof(params));
    M('p', "md5abcdef0123\0");
    M('Q', "  -- list\n  select * from products where id = 42\0");
    /* libpq PQexecParams: unnamed statement, pipelined Parse/Bind/Describe/Execute/Sync */
    M('P', "\0INSERT INTO orders(user_id) VALUES ($1) RETURNING id\0\0\0");
    M('B', "\0\0\0\0\0\1\0\0\0\0017\0\0");
    M('D', "P\0");
    M('E', "\0\0\0\0\0");
    M('S', "");
    /* pgbench -M prepared style: a named statement prepared once, executed twice */
    M('P', "P0_1\0/* hi */ (UPDATE accounts SET abalance = abalance + $1)\0\0\0");
    M('B', "\0P0_1\0\0\0\0\0\0\0");
    M('E', "\0\0\0\0\0");
    M('B', "\0P0_1\0\0\0\0\0\0\0");
    M('E', "\0\0\0\0\0");
    M('S', "");
    M('Q', "WITH x AS (SELECT 1) DELETE FROM carts WHERE id IN (SELECT * FROM x)\0");
    M('Q', "BEGIN; UPDATE a SET b = 1; COMMIT\0");
    M('X', "");
}

static void test_frontend_every_split(void **state)
{
    struct ph_result r;
    static const struct {
        uint8_t kind;
        const char *op;
    } want[] = {{AG_MSG_REQUEST, "SELECT"}, {AG_MSG_REQUEST, "INSERT"}, {AG_MSG_MARK, ""},
                {AG_MSG_REQUEST, "UPDATE"}, {AG_MSG_REQUEST, "UPDATE"}, {AG_MSG_MARK, ""},
                {AG_MSG_REQUEST, "DELETE"}, {AG_MSG_REQUEST, "BEGIN"}};

    (void)state;
    frontend_session();
    expect_types = "";
    ph_every_split(&pg, AG_ROLE_REQUESTS, buf, blen, &r);
    assert_int_equal(r.n, sizeof(want) / sizeof(want[0]));
    for (int i = 0; i < r.n; i++) {
        assert_int_equal(r.msgs[i].kind, want[i].kind);
        assert_string_equal(r.msgs[i].op, want[i].op);
    }
    assert_int_equal(r.msgs[0].status, 'Q');
    assert_int_equal(r.msgs[1].status, 'E');
}

static void backend_session(int with_startup)
{
    blen = 0;
    if (with_startup) {
        put("N", 1); /* the SSLRequest answer: one untyped byte */
        M('R', "\0\0\0\0");
        M('S', "server_version\00015.5\0");
        M('K', "\0\0\0\1\0\0\0\2");
        M('Z', "I"); /* before any request: answers nothing */
    }
    /* the simple SELECT */
    M('T', "\0\1id\0\0\0\0\0\0\1\0\0\0\x17\0\4\xff\xff\xff\xff\0\0");
    M('D', "\0\1\0\0\0\00242");
    M('C', "SELECT 1\0");
    M('Z', "I");
    /* the INSERT batch */
    M('1', "");
    M('2', "");
    M('T', "\0\1id\0\0\0\0\0\0\1\0\0\0\x17\0\4\xff\xff\xff\xff\0\0");
    M('D', "\0\1\0\0\0\0017");
    M('C', "INSERT 0 1\0");
    M('Z', "I");
    /* two UPDATEs: the first fails, the second is skipped by the server */
    M('1', "");
    M('2', "");
    M('E', "SERROR\0VERROR\0C23505\0Mduplicate key value\0\0");
    M('Z', "I");
    /* WITH ... DELETE */
    M('C', "DELETE 3\0");
    M('Z', "I");
    /* BEGIN; UPDATE; COMMIT: three tags, one operation */
    M('C', "BEGIN\0");
    M('C', "UPDATE 1\0");
    M('C', "COMMIT\0");
    M('Z', "I");
}

static void test_backend_every_split(void **state)
{
    struct ph_result r;

    (void)state;
    backend_session(0);
    expect_types = "QESEESQQ";
    ph_every_split(&pg, AG_ROLE_RESPONSES, buf, blen, &r);
    assert_int_equal(r.n, 6);
    assert_string_equal(r.msgs[0].op, "SELECT");
    assert_string_equal(r.msgs[1].op, "INSERT");
    assert_int_equal(r.msgs[2].error, 1);
    assert_string_equal(r.msgs[2].sqlstate, "23505");
    assert_int_equal(r.msgs[3].error, 1);
    assert_int_equal(r.msgs[3].flags, AG_MSG_F_SKIPPED);
    assert_string_equal(r.msgs[4].op, "DELETE");
    assert_string_equal(r.msgs[5].op, "BEGIN");
    for (int i = 0; i < r.n; i++)
        assert_int_equal(r.msgs[i].kind, AG_MSG_RESPONSE);

    /* Without expectations (late attach, nothing pending known): one per ReadyForQuery. */
    backend_session(1);
    expect_types = "";
    ph_every_split(&pg, AG_ROLE_RESPONSES, buf, blen, &r);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.msgs[2].sqlstate, "23505");
}

/* Late attach: Bind/Execute of a statement prepared before the agent started. */
static void test_late_attach(void **state)
{
    struct ph_result r;

    (void)state;
    blen = 0;
    M('B', "\0S_7\0\0\0\0\0\0\0");
    M('E', "\0\0\0\0\0");
    M('S', "");
    expect_types = "";
    ph_every_split(&pg, AG_ROLE_REQUESTS, buf, blen, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.msgs[0].op, ""); /* unknown: the response's tag names it */
    blen = 0;
    M('2', "");
    M('C', "UPDATE 1\0");
    M('Z', "T");
    expect_types = "ES";
    ph_every_split(&pg, AG_ROLE_RESPONSES, buf, blen, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs[0].op, "UPDATE");
}

/* 2000 rows read 8 KB at a time with a 512-byte head: framing is lost in the first read and
 * restored by the ReadyForQuery at the end of the last read's tail. */
static void test_large_result_set(void **state)
{
    size_t cuts[64], n = 0;
    struct ph_result r;

    (void)state;
    blen = 0;
    M('T', "\0\1name\0\0\0\0\0\0\1\0\0\0\x19\xff\xff\xff\xff\xff\xff\0\0");
    for (int i = 0; i < 2000; i++)
        M('D', "\0\1\0\0\0\x10product-name-xyz");
    M('C', "SELECT 2000\0");
    M('Z', "I");
    size_t first = blen;
    M('C', "SELECT 0\0");
    M('Z', "I");
    for (size_t at = 8192; at < first; at += 8192)
        cuts[n++] = at;
    cuts[n++] = first;
    cuts[n++] = blen;
    expect_types = "QQ";
    ph_run(&pg, AG_ROLE_RESPONSES, buf, cuts, (int)n, 512, 64, &r);
    assert_int_equal(r.resyncs, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.msgs[0].op, "SELECT");
    assert_int_equal(r.msgs[0].bytes, first);
    assert_int_equal(r.msgs[0].ts_last_ns, 1000u * (n - 1) + 500);
    /* With no tail, the next unit's first message at a read start restores framing. */
    ph_run(&pg, AG_ROLE_RESPONSES, buf, cuts, (int)n, 512, 0, &r);
    assert_int_equal(r.resyncs, 1);
    assert_int_equal(r.n, 1); /* the SELECT's Z was unseen: it completes with the next Z */
}

static void test_verbs(void **state)
{
    static const struct {
        const char *sql, *op;
    } cases[] = {
        {"select 1", "SELECT"},
        {"/* a */ /* b */\n\t(( SELECT 1))", "SELECT"},
        {"-- c\ninsert into t values ('x')", "INSERT"},
        {"WITH a AS (SELECT '(' FROM t) UPDATE t SET x = 1", "UPDATE"},
        {"with recursive r(n) as (select 1 union all select n + 1 from r) select * from r",
         "SELECT"},
        {"WITH a AS (SELECT 1)", "WITH"},
        {"", ""},
        {"   ", ""},
        {"123", ""},
        {"commit", "COMMIT"},
        {"averyveryveryverylongkeywordthatistoolong", "AVERYVERYVERYVE"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char op[AG_PG_OP_MAX];
        ag_pg_sql_verb((const uint8_t *)cases[i].sql, strlen(cases[i].sql), op, sizeof(op));
        assert_string_equal(op, cases[i].op);
    }
}

static void test_statement_table_bounded(void **state)
{
    struct ag_pgwire_state st;
    struct ag_msg out[8];
    int n;
    char body[64];

    (void)state;
    ag_pgwire_init(&st, AG_ROLE_REQUESTS);
    st.phase = 2; /* past start-up, as for a connection found open */
    st.synced = 1;
    for (int i = 0; i < 200; i++) {
        int len = snprintf(body, sizeof(body), "s%d%cDELETE FROM t%c%c%c", i, 0, 0, 0, 0);
        blen = 0;
        msg('P', body, (size_t)len);
        struct ag_xfer x = {AG_DIR_INGRESS, blen, buf, (uint32_t)blen, NULL, 0, 1, 2};
        assert_int_equal(ag_pgwire_feed(&st, &x, out, 8, &n), AG_PARSE_OK);
    }
    /* the latest 64 are remembered, the oldest are not */
    blen = 0;
    M('B', "\0s199\0\0\0\0\0\0\0");
    M('E', "\0\0\0\0\0");
    M('B', "\0s0\0\0\0\0\0\0\0");
    M('E', "\0\0\0\0\0");
    struct ag_xfer x = {AG_DIR_INGRESS, blen, buf, (uint32_t)blen, NULL, 0, 1, 2};
    ag_pgwire_feed(&st, &x, out, 8, &n);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].op, "DELETE");
    assert_string_equal(out[1].op, "");
}

static void test_detect_and_not_mine(void **state)
{
    enum ag_role role;
    struct ag_pgwire_state st;
    struct ag_msg out[4];
    int n;

    (void)state;
    frontend_session();
    struct ag_xfer x = {AG_DIR_INGRESS, blen, buf, 512, NULL, 0, 1, 2};
    assert_int_equal(ag_pgwire_detect(&x, &role), 1);
    assert_int_equal(role, AG_ROLE_REQUESTS);
    backend_session(1);
    x.head = buf + 1; /* past the 'N' */
    x.total = blen - 1;
    assert_int_equal(ag_pgwire_detect(&x, &role), 1);
    assert_int_equal(role, AG_ROLE_RESPONSES);
    x.head = (const uint8_t *)"GET / HTTP/1.1\r\n\r\n";
    x.total = x.head_len = 18;
    assert_int_equal(ag_pgwire_detect(&x, &role), 0);
    ag_pgwire_init(&st, AG_ROLE_REQUESTS);
    assert_int_equal(ag_pgwire_feed(&st, &x, out, 4, &n), AG_PARSE_NOT_MINE);
    ag_pgwire_init(&st, AG_ROLE_RESPONSES);
    assert_int_equal(ag_pgwire_feed(&st, &x, out, 4, &n), AG_PARSE_NOT_MINE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frontend_every_split),
        cmocka_unit_test(test_backend_every_split),
        cmocka_unit_test(test_late_attach),
        cmocka_unit_test(test_large_result_set),
        cmocka_unit_test(test_verbs),
        cmocka_unit_test(test_statement_table_bounded),
        cmocka_unit_test(test_detect_and_not_mine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

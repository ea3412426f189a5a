/* AMQP 0-9-1 parser: protocol header, publish with content, deliver, ack, heartbeats, every split
 * point, large bodies skipped by frame size, resync, and detection from any frame boundary. */
#include "proto_harness.h"

#include "proto/amqp.h"

static void a_init(void *st, enum ag_role role)
{
    ag_amqp_init(st, role);
}

static int a_feed(void *st, const struct ag_xfer *x, struct ag_msg *out, int max, int *n)
{
    return ag_amqp_feed(st, x, out, max, n);
}

static const struct ph_parser ap = {a_init, a_feed, sizeof(struct ag_amqp_state)};

static uint8_t buf[1 << 21];
static size_t blen, ends[16];
static int nends;

static void put(const void *p, size_t n)
{
    memcpy(buf + blen, p, n);
    blen += n;
}

static void frame(uint8_t type, uint16_t ch, const void *payload, size_t n)
{
    uint8_t h[7] = {type,
                    (uint8_t)(ch >> 8),
                    (uint8_t)ch,
                    (uint8_t)(n >> 24),
                    (uint8_t)(n >> 16),
                    (uint8_t)(n >> 8),
                    (uint8_t)n};
    put(h, 7);
    put(payload, n);
    put("\xce", 1);
    if (nends < 16)
        ends[nends++] = blen;
}

#define F(type, ch, lit) frame(type, ch, lit, sizeof(lit) - 1)

static void content(uint16_t ch, uint64_t size)
{
    uint8_t hdr[14] = {0, 60, 0, 0};
    for (int i = 0; i < 8; i++)
        hdr[4 + i] = (uint8_t)(size >> (56 - 8 * i));
    frame(2, ch, hdr, sizeof(hdr)); /* property flags 0: no properties */
}

static void client_session(void)
{
    blen = 0;
    nends = 0;
    put("AMQP\0\0\x09\x01", 8);
    F(1, 0,
      "\0\x0a\0\x0b"
      "\0\0\0\0"
      "\x05PLAIN\0\0\0\x0a\0guest\0guest\x05"
      "en_US"); /* start-ok */
    F(1, 1,
      "\0\x14\0\x0a"
      "\0"); /* channel.open */
    /* basic.publish exchange "shop" routing key "order.placed", then content of 17 bytes */
    F(1, 1,
      "\0\x3c\0\x28"
      "\0\0"
      "\x04shop"
      "\x0corder.placed"
      "\0");
    content(1, 17);
    F(3, 1, "{\"order_id\":1234}");
    F(8, 0, "");
    /* publish to the default exchange: the destination is the routing key (the queue) */
    F(1, 1,
      "\0\x3c\0\x28"
      "\0\0"
      "\x00"
      "\x05"
      "email"
      "\0");
    content(1, 0);
    /* basic.ack delivery-tag 1 */
    F(1, 1,
      "\0\x3c\0\x50"
      "\0\0\0\0\0\0\0\1"
      "\0");
}

static void test_client_every_split(void **state)
{
    struct ph_result r;

    (void)state;
    client_session();
    ph_every_split(&ap, AG_ROLE_REQUESTS, buf, blen, &r);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.msgs[0].op, "publish");
    assert_string_equal(r.msgs[0].target, "shop");
    assert_int_equal(r.msgs[0].bytes, 8 + 25 + 8 + 14 + 8 + 17);
    assert_string_equal(r.msgs[1].op, "publish");
    assert_string_equal(r.msgs[1].target, "email");
    assert_string_equal(r.msgs[2].op, "ack");
    for (int i = 0; i < r.n; i++)
        assert_int_equal(r.msgs[i].kind, AG_MSG_EVENT);
}

static void test_deliver_every_split(void **state)
{
    struct ph_result r;

    (void)state;
    blen = 0;
    /* basic.deliver: consumer tag, delivery tag 7, redelivered 0, exchange "shop", key */
    F(1, 1,
      "\0\x3c\0\x3c"
      "\x0a"
      "amq.ctag-1"
      "\0\0\0\0\0\0\0\x07"
      "\0"
      "\x04shop"
      "\x0corder.placed");
    content(1, 5);
    F(3, 1, "hello");
    F(1, 1,
      "\0\x3c\0\x47"
      "\0\0\0\0\0\0\0\x08"
      "\0"
      "\0"
      "\x05"
      "email"
      "\0\0\0\0"); /* get-ok */
    content(1, 2);
    F(3, 1, "hi");
    ph_every_split(&ap, AG_ROLE_RESPONSES, buf, blen, &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.msgs[0].op, "receive");
    assert_string_equal(r.msgs[0].target, "shop");
    assert_string_equal(r.msgs[1].target, "email");
}

/* A 1 MB message body in 128 KB frames, read 64 KB at a time: skipped by frame size. */
static void test_large_body(void **state)
{
    static uint8_t body[131072];
    size_t cuts[64], n = 0;
    struct ph_result r;

    (void)state;
    blen = 0;
    F(1, 1,
      "\0\x3c\0\x28"
      "\0\0"
      "\x04shop"
      "\x01k"
      "\0");
    content(1, 8 * sizeof(body));
    for (int i = 0; i < 8; i++)
        frame(3, 1, body, sizeof(body));
    F(1, 1,
      "\0\x3c\0\x50"
      "\0\0\0\0\0\0\0\1"
      "\0");
    for (size_t at = 65536; at < blen; at += 65536)
        cuts[n++] = at;
    cuts[n++] = blen;
    ph_run(&ap, AG_ROLE_REQUESTS, buf, cuts, (int)n, 512, 64, &r);
    assert_int_equal(r.resyncs, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.msgs[0].op, "publish");
    assert_int_equal(r.msgs[0].flags, 0);
    assert_string_equal(r.msgs[1].op, "ack");
}

static void test_resync_and_detect(void **state)
{
    struct ag_amqp_state st;
    struct ag_msg out[4];
    int n;
    enum ag_role role;

    (void)state;
    client_session();
    struct ag_xfer x = {AG_DIR_EGRESS, blen, buf, (uint32_t)blen, NULL, 0, 1, 2};
    assert_int_equal(ag_amqp_detect(&x, &role), 1);
    assert_int_equal(role, AG_ROLE_REQUESTS);
    ag_amqp_init(&st, AG_ROLE_REQUESTS);
    buf[ends[0] - 1] = 0x00; /* corrupt the first frame end */
    assert_int_equal(ag_amqp_feed(&st, &x, out, 4, &n), AG_PARSE_RESYNC);
    assert_int_equal(n, 0);
    client_session();
    x.head = buf + ends[0]; /* the channel.open frame onwards */
    x.total = x.head_len = (uint32_t)(blen - ends[0]);
    assert_int_equal(ag_amqp_feed(&st, &x, out, 4, &n), AG_PARSE_OK);
    assert_int_equal(n, 3);
    x.head = (const uint8_t *)"GET / HTTP/1.1\r\n\r\n";
    x.total = x.head_len = 18;
    ag_amqp_init(&st, AG_ROLE_REQUESTS);
    assert_int_equal(ag_amqp_feed(&st, &x, out, 4, &n), AG_PARSE_NOT_MINE);
    assert_int_equal(ag_amqp_detect(&x, &role), 0);
}

static int detect_at(const uint8_t *p, size_t total, enum ag_role *role)
{
    struct ag_xfer x = {AG_DIR_INGRESS, total, p, (uint32_t)(total < 512 ? total : 512),
                        NULL,           0,     1, 2};
    return ag_amqp_detect(&x, role);
}

/* A connection seeded from /proc is met mid-stream: detection must work from every frame
 * boundary, heartbeats included (an idle consumer sends and receives nothing else). */
static void test_detect_mid_stream(void **state)
{
    static const uint8_t hb[8] = {8, 0, 0, 0, 0, 0, 0, 0xce};
    enum ag_role role;
    size_t cuts[3];
    struct ph_result r;

    (void)state;
    assert_int_equal(detect_at(hb, sizeof(hb), &role), 1);
    assert_int_equal(role, AG_ROLE_RESPONSES);
    client_session();
    assert_int_equal(detect_at(buf, blen, &role), 1);
    assert_int_equal(role, AG_ROLE_REQUESTS);
    for (int i = 0; i + 1 < nends; i++) {
        struct ag_amqp_state st;
        struct ag_msg out[8];
        int n;
        struct ag_xfer x = {AG_DIR_EGRESS,
                            blen - ends[i],
                            buf + ends[i],
                            (uint32_t)(blen - ends[i]),
                            NULL,
                            0,
                            1,
                            2};
        if (detect_at(buf + ends[i], blen - ends[i], &role) != 1)
            fail_msg("frame boundary %zu not detected", ends[i]);
        ag_amqp_init(&st, AG_ROLE_REQUESTS);
        assert_int_equal(ag_amqp_feed(&st, &x, out, 8, &n), AG_PARSE_OK);
        assert_true(n >= 1); /* the ack at the end at least */
        assert_string_equal(out[n - 1].op, "ack");
    }
    /* Not AMQP: a heartbeat on a channel or with a payload, content on channel 0, no end. */
    assert_int_equal(detect_at((const uint8_t *)"\x08\x00\x01\x00\x00\x00\x00\xce", 8, &role), 0);
    assert_int_equal(detect_at((const uint8_t *)"\x08\x00\x00\x00\x00\x00\x01x\xce", 9, &role), 0);
    assert_int_equal(detect_at((const uint8_t *)"\x03\x00\x00\x00\x00\x00\x01x\xce", 9, &role), 0);
    assert_int_equal(detect_at((const uint8_t *)"\x03\x00\x01\x00\x00\x00\x01xx", 9, &role), 0);
    assert_int_equal(detect_at(hb, 7, &role), 0);

    /* Heartbeats, then a delivery: the state syncs on the first heartbeat. */
    blen = 0;
    put(hb, sizeof(hb));
    cuts[0] = blen;
    put(hb, sizeof(hb));
    cuts[1] = blen;
    F(1, 1,
      "\0\x3c\0\x3c"
      "\x03"
      "c.1"
      "\0\0\0\0\0\0\0\x07"
      "\0"
      "\x0cvigil.events"
      "\x0corder.placed");
    content(1, 2);
    F(3, 1, "{}");
    cuts[2] = blen;
    ph_run(&ap, AG_ROLE_RESPONSES, buf, cuts, 3, 512, 64, &r);
    assert_int_equal(r.resyncs, 0);
    assert_int_equal(r.not_mine, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.msgs[0].op, "receive");
    assert_string_equal(r.msgs[0].target, "vigil.events");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_every_split), cmocka_unit_test(test_deliver_every_split),
        cmocka_unit_test(test_large_body),         cmocka_unit_test(test_resync_and_detect),
        cmocka_unit_test(test_detect_mid_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* AMQP 0-9-1 parser (RabbitMQ) over head/tail-captured transfers: see proto.h for the model.
 * Both directions use the same frame format (type, channel, size, payload, 0xCE), so one state
 * parses either. Emitted messages are one-shot AG_MSG_EVENTs, never paired: a publish gets no
 * answer unless publisher confirms are on.
 *   basic.publish (60,40)  -> op "publish", completed after its content (header and body frames)
 *   basic.deliver (60,60)  -> op "receive", completed after its content
 *   basic.get-ok  (60,71)  -> op "receive", completed after its content
 *   basic.ack (60,80), basic.reject (60,90), basic.nack (60,120) -> "ack", "reject", "nack"
 * target (messaging destination) = the exchange, or the routing key when the exchange is the
 * default exchange "" (which routes to the queue of that name); acks carry no destination.
 * Connection, channel, queue and exchange methods and heartbeats are framing only. Content is
 * tracked per connection, not per channel: frames of two channels' contents do not interleave in
 * practice (each content is written by one writer), and if they did the count would be right but
 * the byte sizes wrong. */
#ifndef AG_AMQP_H
#define AG_AMQP_H

#include "proto.h"

#define AG_AMQP_CAP 300 /* method payload prefix kept: ids, consumer tag, exchange, routing key */

struct ag_amqp_state {
    struct ag_msg cur; /* the publish/receive waiting for its content */
    struct ag_parse_stats stats;
    uint64_t remaining; /* payload bytes of the current frame still to come */
    uint64_t body_left; /* content body bytes still expected */
    uint64_t frame_ts;  /* ts_enter of the transfer holding the frame's first byte */
    uint32_t frame_size;
    uint8_t hdr[8];
    uint8_t hdr_len, phase, role, synced, hunting, ftype, pending, have_size;
    uint16_t cap_len;
    uint8_t cap[AG_AMQP_CAP];
};

void ag_amqp_init(struct ag_amqp_state *st, enum ag_role role);

int ag_amqp_feed(struct ag_amqp_state *st, const struct ag_xfer *x, struct ag_msg *out, int max_out,
                 int *nout);

/* Returns 1 and sets *role for the protocol header (client) or a well-formed frame of any type
 * (method, content header or body, heartbeat: a connection may be met at any frame boundary). */
int ag_amqp_detect(const struct ag_xfer *x, enum ag_role *role);

#endif

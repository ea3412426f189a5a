/* vg_amqp: RabbitMQ over librabbitmq (AMQP 0-9-1).
 *
 * Topology: a durable topic exchange and a durable queue bound to it, declared
 * idempotently by both sides, so messages published before the consumer ever
 * ran are kept. Publishing waits for the broker's confirm (confirm.select), so
 * 0 from vg_amqp_publish means the broker has the message. */
#ifndef VG_AMQP_H
#define VG_AMQP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define VG_AMQP_EXCHANGE     "vigil.events"
#define VG_AMQP_ORDER_PLACED "order.placed"              /* routing key */
#define VG_AMQP_NOTIFY_QUEUE "notification.order_placed" /* durable queue */

struct vg_amqp_binding {
    const char *exchange;
    const char *queue;
    const char *routing_key;
};

struct vg_amqp_pub;

/* url: amqp://user:pass@host:port/vhost. Connects lazily; never fails on a
 * broker that is down (publish fails instead). */
int vg_amqp_pub_create(const char *url, const struct vg_amqp_binding *binding,
                       struct vg_amqp_pub **out);
void vg_amqp_pub_destroy(struct vg_amqp_pub *pub);
/* Persistent message, content-type application/json. Thread-safe. 0 when
 * confirmed by the broker, -1 otherwise (the caller keeps it for retry). */
int vg_amqp_publish(struct vg_amqp_pub *pub, const char *routing_key, const char *body, size_t len,
                    long timeout_ms);
bool vg_amqp_pub_connected(struct vg_amqp_pub *pub);

/* Returns 0 to ack, -1 to reject with requeue (retry later). */
typedef int (*vg_amqp_msg_fn)(void *ctx, const char *body, size_t len);

/* Consumes binding->queue with manual acks until *stop becomes non-zero,
 * reconnecting with backoff while the broker is away. */
int vg_amqp_consume(const char *url, const struct vg_amqp_binding *binding, int prefetch,
                    vg_amqp_msg_fn fn, void *ctx, volatile sig_atomic_t *stop);

#endif

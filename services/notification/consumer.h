/* consumer: turns order.placed messages into confirmation emails, once per
 * order (docs/architecture.md, "Checkout" step 6). */
#ifndef NOTIFY_CONSUMER_H
#define NOTIFY_CONSUMER_H

#include "mail.h"

#include <signal.h>

struct vg_pg_pool;

struct notify_consumer {
    struct vg_pg_pool *pool;
    struct notify_mail_conf mail;
    const char *amqp_url;
    int prefetch;
    volatile sig_atomic_t *stop; /* set by main on SIGTERM */
    long backoff_ms;             /* current retry delay; consumer thread only */
};

/* Thread entry (pthread_create): consumes until *stop, reconnecting as needed. */
void *notify_consumer_run(void *arg);

/* The vg_amqp_msg_fn: 0 acks (done, duplicate or poison), -1 requeues after
 * a bounded backoff (SMTP or PostgreSQL failed: retry later). */
int notify_handle_message(void *ctx, const char *body, size_t len);

#endif

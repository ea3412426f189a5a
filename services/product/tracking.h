/* tracking: keeps the local cache coherent with Redis through server-assisted
 * client-side caching (Redis >= 6, RESP2 redirect mode).
 *
 * One thread owns one connection that runs, in order:
 *   CLIENT ID                                   -> n
 *   CLIENT TRACKING on REDIRECT n BCAST PREFIX product:
 *   SUBSCRIBE __redis__:invalidate
 * In BCAST mode Redis announces every change of a product:* key (any client's
 * SET or DEL, expiry, eviction; a null list for FLUSHDB/FLUSHALL) whoever read
 * it, so the registration need not sit on the connections that read: it sits
 * on the subscriber itself, and both live and die with that one socket. A
 * registration on the pool's connections could vanish unnoticed (an idle
 * connection the server closes is only reopened on use, and local hits use
 * none) while the subscription lives on, leaving entries nobody invalidates.
 * Key names come without their database: a change in any database
 * invalidates, which can only cost a Redis read.
 *
 * The thread renews the local cache's lease whenever Redis answers (it PINGs
 * an idle channel every second); when the connection fails or stays silent it
 * ends the lease and flushes, and reconnects with backoff, flushing again
 * before the lease resumes. */
#ifndef PRODUCT_TRACKING_H
#define PRODUCT_TRACKING_H

#include <stdbool.h>

struct localcache;
struct tracking;

/* Starts the thread (it connects in the background: until it has subscribed
 * the local cache serves nothing). Returns 0 or a negative errno. */
int tracking_start(struct localcache *lc, const char *host, int port, int timeout_ms,
                   struct tracking **out);
/* Stops the thread at once (it waits in poll on a wake pipe), closes the
 * connection, frees t. The local cache is left disabled. */
void tracking_stop(struct tracking *t);

/* True when no invalidation has reached this process without having been
 * applied yet. Call before a local lookup: a change Redis announced before
 * the read began is then never missed merely because the thread had not been
 * scheduled yet. Costs one poll(2), no round trip. */
bool tracking_caught_up(struct tracking *t);

/* The monotonic clock, in ms, that leases and entry deadlines are measured in. */
long long tracking_clock_ms(void);

#endif

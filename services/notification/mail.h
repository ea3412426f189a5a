/* mail: the order confirmation email, sent by SMTP through libcurl. */
#ifndef NOTIFY_MAIL_H
#define NOTIFY_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct notify_mail_conf {
    const char *smtp_url; /* smtp://host:port */
    const char *from;     /* envelope and From: address */
    long timeout_ms;      /* whole SMTP exchange */
};

/* An order.placed message, validated. Strings are borrowed. */
struct notify_order {
    long long order_id;
    long long user_id;
    const char *email;
    long long total_cents;
    const char *currency;
};

/* true when addr is safe to put in an SMTP envelope and a header: one '@',
 * no whitespace, control characters, '<', '>' or ',' (no header injection). */
bool notify_addr_valid(const char *addr);

/* Formats the RFC 5322 message (CRLF line ends) into buf. Returns its length,
 * or -1 when buf is too small. Pure: the date is passed in. */
int notify_mail_format(char *buf, size_t size, const char *from, const struct notify_order *order,
                       time_t now);

/* Returns 0 when the SMTP server accepted the message, -1 otherwise (logged). */
int notify_mail_send(const struct notify_mail_conf *conf, const struct notify_order *order);

#endif

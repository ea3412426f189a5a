/* mail: builds and sends the confirmation email. One curl easy handle per
 * message: mails are few (one per order) and a fresh SMTP session cannot
 * inherit a half-broken one after a sink restart. */
#include "mail.h"

#include "vg_log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#define MAIL_MAX 2048

bool notify_addr_valid(const char *addr)
{
    const char *at;

    if (!addr || !addr[0] || strlen(addr) > 254)
        return false;
    at = strchr(addr, '@');
    if (!at || at == addr || !at[1] || strchr(at + 1, '@'))
        return false;
    for (const unsigned char *p = (const unsigned char *)addr; *p; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>' || *p == ',')
            return false;
    }
    return true;
}

int notify_mail_format(char *buf, size_t size, const char *from, const struct notify_order *order,
                       time_t now)
{
    char date[64];
    struct tm tm;
    int n;

    /* RFC 5322 3.3 date-time, always in UTC; strftime's %a/%b are English
     * because services never call setlocale. */
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    n = snprintf(buf, size,
                 "Date: %s\r\n"
                 "From: Vigil Shop <%s>\r\n"
                 "To: <%s>\r\n"
                 "Subject: Your Vigil order #%lld is confirmed\r\n"
                 "Message-ID: <order-%lld@vigil.local>\r\n"
                 "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: 8bit\r\n"
                 "\r\n"
                 "Thank you for your order.\r\n"
                 "\r\n"
                 "Order #%lld has been paid and is confirmed.\r\n"
                 "Total: %lld.%02lld %s\r\n"
                 "\r\n"
                 "-- \r\n"
                 "Vigil Shop\r\n",
                 date, from, order->email, order->order_id, order->order_id, order->order_id,
                 order->total_cents / 100, order->total_cents % 100, order->currency);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return n;
}

struct upload {
    const char *data;
    size_t left;
};

static size_t read_message(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct upload *up = arg;
    size_t n = size * nmemb;

    if (n > up->left)
        n = up->left;
    memcpy(dst, up->data, n);
    up->data += n;
    up->left -= n;
    return n;
}

int notify_mail_send(const struct notify_mail_conf *conf, const struct notify_order *order)
{
    char message[MAIL_MAX], mail_from[300], rcpt[300];
    struct curl_slist *rcpts = NULL;
    struct upload up;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    CURL *curl;
    int len;

    len = notify_mail_format(message, sizeof(message), conf->from, order, time(NULL));
    if (len < 0)
        return -1;
    up.data = message;
    up.left = (size_t)len;
    snprintf(mail_from, sizeof(mail_from), "<%s>", conf->from);
    snprintf(rcpt, sizeof(rcpt), "<%s>", order->email);

    curl = curl_easy_init();
    if (!curl)
        goto out;
    rcpts = curl_slist_append(NULL, rcpt);
    if (!rcpts)
        goto out;
    curl_easy_setopt(curl, CURLOPT_URL, conf->smtp_url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, conf->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     conf->timeout_ms < 3000 ? conf->timeout_ms : 3000L);
    /* Threads and signals: timeouts must not use SIGALRM (libcurl docs). */
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(curl);
out:
    if (rc != CURLE_OK)
        vg_warn("order %lld: confirmation email not sent: %s", order->order_id,
                curl_easy_strerror(rc));
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(curl);
    return rc == CURLE_OK ? 0 : -1;
}

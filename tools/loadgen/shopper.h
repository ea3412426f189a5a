/* lg_shopper: one simulated shopper, a small state machine over one reusable
 * curl easy handle. A shopper has at most one request in flight:
 *
 *   REGISTER --201/409--> LOGIN --201 (token)--> SHOP (weighted loop)
 *   any 401 on an authenticated request in SHOP goes back to LOGIN;
 *   a 401 at LOGIN goes back to REGISTER.
 *
 * The driver (main.c) asks lg_shopper_prepare() for the next request, runs it
 * on its curl multi handle, then hands the outcome to lg_shopper_finish(). */
#ifndef LG_SHOPPER_H
#define LG_SHOPPER_H

#include "options.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#define LG_CART_MAX 4

/* What all shoppers share; owned by the driver. */
struct lg_shared {
    const struct lg_options *opts;
    unsigned products;   /* ids 1..products are picked */
    bool products_known; /* from --products, or learned from a listing's total */
    int exp_year;        /* a future card expiry year */
    unsigned total_weight;
};

enum lg_shopper_state { LG_S_REGISTER, LG_S_LOGIN, LG_S_SHOP };

struct lg_body {
    char *data;
    size_t len, cap;
    bool keep; /* false: the answer is read and dropped */
};

struct lg_shopper {
    unsigned index;
    CURL *easy;
    struct curl_slist *headers;
    uint64_t rng;
    enum lg_shopper_state state;
    char email[96];
    char token[256];
    char source[48]; /* CURLOPT_INTERFACE value, "" for none */
    unsigned long long cart[LG_CART_MAX];
    unsigned ncart;
    bool purge;             /* a checkout was refused for stock: empty the cart first */
    unsigned long long seq; /* idempotency keys */
    /* the request in flight */
    int action; /* enum lg_action or enum lg_step */
    unsigned long long item;
    char route[128];
    char url[640];
    char payload[640];
    struct lg_body body;
    uint64_t started_us;
};

/* Returns 0, or -1 when curl cannot make a handle. */
int lg_shopper_init(struct lg_shopper *s, unsigned index, const struct lg_shared *sh);
void lg_shopper_cleanup(struct lg_shopper *s);

/* Picks the next request and configures s->easy for it (s->action, s->route
 * say what it is). Returns 0, or -1 when curl refused an option. */
int lg_shopper_prepare(struct lg_shopper *s, struct lg_shared *sh);

/* Learns from the finished request: status is the HTTP status, 0 when none
 * arrived. Returns true when the shopper should pause before its next
 * request (the service was overloaded or unreachable). */
bool lg_shopper_finish(struct lg_shopper *s, struct lg_shared *sh, int status);

#endif

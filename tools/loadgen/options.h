/* lg_options: vg-loadgen's command line. */
#ifndef LG_OPTIONS_H
#define LG_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

/* What a shopper does on one turn of its loop; weights come from --mix. */
enum lg_action {
    LG_BROWSE,   /* GET /api/products?page=N */
    LG_SEARCH,   /* GET /api/products?q=word */
    LG_VIEW,     /* GET /api/products/{id} */
    LG_ADD,      /* PUT /api/cart/items/{id} {"quantity":1} */
    LG_CART,     /* GET /api/cart */
    LG_CHECKOUT, /* POST /api/orders, approving card */
    LG_E404,     /* GET /api/products/999999999 */
    LG_E400,     /* PUT /api/cart/items/{id} {"quantity":"2"} */
    LG_E401,     /* GET /api/cart without a token */
    LG_E402,     /* POST /api/orders with the declining card */
    LG_E409,     /* POST /api/users with the shopper's own (taken) email */
    LG_NACTIONS
};

/* Steps outside the weighted loop, counted in by_action too. */
enum lg_step {
    LG_STEP_REGISTER = LG_NACTIONS,
    LG_STEP_LOGIN,
    LG_STEP_REMOVE, /* DELETE /api/cart/items/{id} after a checkout refused for stock */
    LG_NSTEPS
};

struct lg_options {
    char url[512];        /* base URL, no trailing slash */
    unsigned shoppers;    /* simulated shoppers (one source address each) */
    unsigned concurrency; /* max requests in flight; default: shoppers */
    double rate;          /* requests/s target; 0 = as fast as possible */
    uint64_t requests;    /* total to send, 0 = unbounded (then duration bounds) */
    double duration_s;    /* stop starting requests after this; 0 = unbounded */
    long timeout_ms;      /* per request */
    uint64_t seed;
    unsigned products; /* catalogue ids 1..products (learned from listings when 0) */
    unsigned weights[LG_NACTIONS];
    bool source_addrs; /* bind each shopper to 127.0.x.y (--no-source-addrs turns off) */
    char run_id[33];   /* makes emails unique across runs */
    bool quiet;        /* no progress lines on stderr */
};

extern const char *const lg_action_names[LG_NSTEPS];

/* Parses argv into opts. Returns 0, 1 after printing --help (exit 0), or -1
 * after printing "vg-loadgen: --flag: why" on stderr (exit 2). */
int lg_options_parse(int argc, char **argv, struct lg_options *opts);

#endif

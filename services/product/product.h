/* vg-product internals: the service's shared state and its handlers. */
#ifndef PRODUCT_H
#define PRODUCT_H

#include <jansson.h>
#include <libpq-fe.h>

struct product_cache;
struct vg_pg_pool;
struct vg_redis_pool;
struct vg_req;
struct vg_resp;

struct product_svc {
    struct vg_pg_pool *pg;
    struct vg_redis_pool *redis;
    struct product_cache *cache; /* detail: local copies over Redis (cache.c) */
};

/* catalog.c */
void catalog_categories(struct vg_req *req, struct vg_resp *resp);
void catalog_product(struct vg_req *req, struct vg_resp *resp);
/* The product JSON from a row whose columns start at col in the order of
 * CATALOG_PRODUCT_COLS. NULL when out of memory. */
json_t *catalog_product_json(const PGresult *res, int row, int col);
/* Answers a failed statement: NULL (connection lost) or an unavailable server
 * is 503 unavailable, any other SQL error 500 internal_error; logs the
 * statement's name and the server's message, never its parameters. */
void catalog_db_error(struct vg_resp *resp, const char *statement, const PGresult *res);

/* The columns catalog_product_json reads, over products p and categories c. */
#define CATALOG_PRODUCT_COLS                                                                       \
    "p.id, p.sku, p.name, p.description, p.price_cents, p.currency, c.id, c.slug, c.name, "        \
    "p.stock, p.image_url"

/* The slow_query_ms fault: a one-time filter that sleeps inside the statement
 * itself, so the delay is seen where the database is (an uncorrelated
 * subquery becomes an InitPlan evaluated once per execution, rows or none).
 * n is the parameter number of the delay in milliseconds. */
#define CATALOG_SLOW_FILTER(n) "(SELECT true FROM pg_sleep($" #n "::float8 / 1000))"

/* listing.c */
void listing_products(struct vg_req *req, struct vg_resp *resp);

#endif

/* Categories and product detail (read-through cache, slow-query fault). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "product.h"
#include "vg_faults.h"
#include "vg_http.h"
#include "vg_log.h"
#include "vg_pg.h"

#define CATEGORIES_SQL(where) "SELECT id, slug, name FROM categories " where "ORDER BY id"
static const char CATEGORIES_FAST_SQL[] = CATEGORIES_SQL("");
static const char CATEGORIES_SLOW_SQL[] = CATEGORIES_SQL("WHERE " CATALOG_SLOW_FILTER(1) " ");

#define DETAIL_SQL                                                                                 \
    "SELECT " CATALOG_PRODUCT_COLS " FROM products p JOIN categories c ON c.id = p.category_id "   \
    "WHERE p.id = $1"
static const char DETAIL_FAST_SQL[] = DETAIL_SQL;
static const char DETAIL_SLOW_SQL[] = DETAIL_SQL " AND " CATALOG_SLOW_FILTER(2);

/* Each read in two forms, indexed by whether the slow-query drill runs: [1] takes the delay as
 * one more parameter and has its own statement name, since a name is prepared once per
 * connection. */
struct catalog_query {
    const char *name;
    const char *sql;
    int nparams;
};
static const struct catalog_query CATEGORIES_QUERY[2] = {
    {"categories_list", CATEGORIES_FAST_SQL, 0},
    {"categories_list_slow", CATEGORIES_SLOW_SQL, 1},
};
static const struct catalog_query DETAIL_QUERY[2] = {
    {"product_get", DETAIL_FAST_SQL, 1},
    {"product_get_slow", DETAIL_SLOW_SQL, 2},
};

static json_t *int_column(const PGresult *res, int row, int col)
{
    return json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static json_t *text_column(const PGresult *res, int row, int col)
{
    return json_stringn(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

json_t *catalog_product_json(const PGresult *res, int row, int col)
{
    /* "o" steals each reference, and json_pack frees them all when it fails. */
    // clang-format off
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o}, s:o, s:o}",
                     "id", int_column(res, row, col),
                     "sku", text_column(res, row, col + 1),
                     "name", text_column(res, row, col + 2),
                     "description", text_column(res, row, col + 3),
                     "price_cents", int_column(res, row, col + 4),
                     "currency", text_column(res, row, col + 5),
                     "category",
                         "id", int_column(res, row, col + 6),
                         "slug", text_column(res, row, col + 7),
                         "name", text_column(res, row, col + 8),
                     "stock", int_column(res, row, col + 9),
                     "image_url", text_column(res, row, col + 10));
    // clang-format on
}

void catalog_db_error(struct vg_resp *resp, const char *statement, const PGresult *res)
{
    const char *state = res ? vg_pg_sqlstate(res) : "";
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    /* Class 08 connection exception, 53 insufficient resources, 57 operator
     * intervention (shutdown, cancel): the database is the problem, not us. */
    if (!res || !strncmp(state, "08", 2) || !strncmp(state, "53", 2) || !strncmp(state, "57", 2)) {
        vg_warn("%s: database unavailable: %s", statement, msg ? msg : "connection lost");
        vg_resp_error(resp, 503, "unavailable", "The catalogue database is unavailable.", NULL);
        return;
    }
    vg_error("%s: SQLSTATE %s: %s", statement, state, msg ? msg : "?");
    vg_resp_error(resp, 500, "internal_error", "The catalogue could not be read.", NULL);
}

/* One read through the pool. Returns the result (caller PQclear), or NULL once the error is
 * answered: 503 while the database cannot be had, else as catalog_db_error says. */
static PGresult *catalog_read(struct product_svc *svc, struct vg_resp *resp,
                              const struct catalog_query *query, const char *const *params)
{
    struct vg_pg_conn *conn = vg_pg_acquire(svc->pg);
    PGresult *res;

    if (!conn) {
        vg_resp_error(resp, 503, "unavailable", "The catalogue database is unavailable.", NULL);
        return NULL;
    }
    res = vg_pg_exec(conn, query->name, query->sql, query->nparams, params);
    vg_pg_release(svc->pg, conn);
    if (!res || !vg_pg_ok(res)) {
        catalog_db_error(resp, query->name, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

void catalog_categories(struct vg_req *req, struct vg_resp *resp)
{
    struct product_svc *svc = req->ctx;
    long slow_ms = vg_faults_get().slow_query_ms;
    char ms_text[24];
    const char *params[1] = {ms_text};
    PGresult *res;
    json_t *items;

    snprintf(ms_text, sizeof(ms_text), "%ld", slow_ms);
    res = catalog_read(svc, resp, &CATEGORIES_QUERY[slow_ms > 0], params);
    if (!res)
        return;
    items = json_array();
    for (int i = 0; items && i < PQntuples(res); i++) {
        json_t *cat = json_pack("{s:o, s:o, s:o}", "id", int_column(res, i, 0), "slug",
                                text_column(res, i, 1), "name", text_column(res, i, 2));
        if (!cat || json_array_append_new(items, cat) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    PQclear(res);
    if (!items) {
        vg_resp_error(resp, 500, "internal_error", "Out of memory.", NULL);
        return;
    }
    vg_resp_json(resp, 200, json_pack("{s:o}", "items", items));
}

/* Reads product id from the database, answers it and refreshes the cache. */
static void product_from_db(struct product_svc *svc, long long id, long slow_ms,
                            struct vg_resp *resp)
{
    char id_text[24], ms_text[24];
    const char *params[2] = {id_text, ms_text};
    PGresult *res;
    json_t *product;
    char *body;

    snprintf(id_text, sizeof(id_text), "%lld", id);
    snprintf(ms_text, sizeof(ms_text), "%ld", slow_ms);
    res = catalog_read(svc, resp, &DETAIL_QUERY[slow_ms > 0], params);
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        PQclear(res);
        vg_resp_error(resp, 404, "not_found", "No product has this id.", NULL);
        return;
    }
    product = catalog_product_json(res, 0, 0);
    PQclear(res);
    body = product ? json_dumps(product, JSON_COMPACT) : NULL;
    json_decref(product);
    if (!body) {
        vg_resp_error(resp, 500, "internal_error", "Out of memory.", NULL);
        return;
    }
    cache_store_product(svc->cache, id, body, strlen(body));
    vg_resp_raw(resp, 200, "application/json", body, strlen(body));
    free(body);
}

void catalog_product(struct vg_req *req, struct vg_resp *resp)
{
    struct product_svc *svc = req->ctx;
    long long id = req->ids[0];
    long slow_ms = vg_faults_get().slow_query_ms;

    /* While the slow-query drill runs, every read must reach the database, or
     * cached products would hide the fault. */
    if (slow_ms <= 0 && cache_serve_product(svc->cache, id, resp))
        return;
    product_from_db(svc, id, slow_ms, resp);
}

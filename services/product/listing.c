/* GET /products?q=&category=&page=&per_page= (API.md "Listing"). */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "product.h"
#include "vg_faults.h"
#include "vg_http.h"
#include "vg_pg.h"

#define PER_PAGE_DEFAULT 20
#define PER_PAGE_MAX     100
/* Longer search text is refused rather than handed to the text parser. */
#define Q_MAX_BYTES 256
/* Longer than any slug: an unknown category, answered without a query. */
#define SLUG_MAX_BYTES 128

struct listing_query {
    const char *q;        /* NULL: no search */
    const char *category; /* NULL: every category */
    long long page, per_page;
};

/* One statement per shape, so each gets its own plan (the GIN index for q,
 * the category index otherwise) instead of one generic plan full of
 * "$n IS NULL OR". $1 LIMIT, $2 OFFSET, then q, then the category slug, then
 * the slow-query delay. `matched` is every hit with its rank (0 without q);
 * the LEFT JOIN keeps one row carrying the total when the page is empty. */
#define MATCH_ALL "SELECT p.id, 0::real AS rank FROM products p"
#define MATCH_CATEGORY(n)                                                                          \
    "SELECT p.id, 0::real AS rank FROM products p "                                                \
    "WHERE p.category_id = (SELECT id FROM categories WHERE slug = $" #n ")"
#define MATCH_Q                                                                                    \
    "SELECT p.id, ts_rank(p.search, query) AS rank "                                               \
    "FROM products p, plainto_tsquery('english', $3) query WHERE p.search @@ query"
#define MATCH_Q_CATEGORY MATCH_Q " AND p.category_id = (SELECT id FROM categories WHERE slug = $4)"
#define LIST_SQL(matched, where)                                                                   \
    "WITH matched AS (" matched ") "                                                               \
    "SELECT t.total, " CATALOG_PRODUCT_COLS " FROM (SELECT count(*) AS total FROM matched) t "     \
    "LEFT JOIN LATERAL (SELECT id, rank FROM matched ORDER BY rank DESC, id "                      \
    "LIMIT $1 OFFSET $2) hit ON true "                                                             \
    "LEFT JOIN products p ON p.id = hit.id LEFT JOIN categories c ON c.id = p.category_id " where  \
    "ORDER BY hit.rank DESC, hit.id"
#define SLOW_WHERE(n) "WHERE " CATALOG_SLOW_FILTER(n) " "

struct listing_stmt {
    const char *name;
    const char *sql;
};

/* Indexed [has q][has category][slow]. */
static const struct listing_stmt STMTS[2][2][2] = {
    {{{"products_list", LIST_SQL(MATCH_ALL, "")},
      {"products_list_slow", LIST_SQL(MATCH_ALL, SLOW_WHERE(3))}},
     {{"products_list_cat", LIST_SQL(MATCH_CATEGORY(3), "")},
      {"products_list_cat_slow", LIST_SQL(MATCH_CATEGORY(3), SLOW_WHERE(4))}}},
    {{{"products_search", LIST_SQL(MATCH_Q, "")},
      {"products_search_slow", LIST_SQL(MATCH_Q, SLOW_WHERE(4))}},
     {{"products_search_cat", LIST_SQL(MATCH_Q_CATEGORY, "")},
      {"products_search_cat_slow", LIST_SQL(MATCH_Q_CATEGORY, SLOW_WHERE(5))}}},
};

/* A positive decimal integer, digits only (no sign, space or exponent), at most max. */
static bool parse_positive(const char *s, long long max, long long *out)
{
    long long v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    if (v < 1)
        return false;
    *out = v;
    return true;
}

/* Strict UTF-8 (RFC 3629): PostgreSQL refuses anything else with an error. */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned cp, min;
        int n;

        if (*p < 0x80) {
            p++;
            continue;
        }
        if ((*p & 0xE0) == 0xC0) {
            n = 1, cp = *p & 0x1F, min = 0x80;
        } else if ((*p & 0xF0) == 0xE0) {
            n = 2, cp = *p & 0x0F, min = 0x800;
        } else if ((*p & 0xF8) == 0xF0) {
            n = 3, cp = *p & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (p++; n > 0; n--, p++) {
            if ((*p & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (*p & 0x3F);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
            return false;
    }
    return true;
}

/* API.md: an empty parameter counts as absent. */
static const char *param(const struct vg_req *req, const char *name)
{
    const char *v = vg_req_query(req, name);
    return v && *v ? v : NULL;
}

static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n\f\v")] == '\0';
}

/* Returns true with *lq filled, or false after answering 400. */
static bool listing_parse(const struct vg_req *req, struct vg_resp *resp, struct listing_query *lq)
{
    const char *page = param(req, "page");
    const char *per_page = param(req, "per_page");

    lq->q = param(req, "q");
    lq->category = param(req, "category");
    lq->page = 1;
    lq->per_page = PER_PAGE_DEFAULT;
    /* The offset (page - 1) * per_page must fit a bigint. */
    if (page && !parse_positive(page, LLONG_MAX / PER_PAGE_MAX, &lq->page)) {
        vg_resp_invalid_field(resp, "page", "page must be a positive integer.");
        return false;
    }
    if (per_page && !parse_positive(per_page, PER_PAGE_MAX, &lq->per_page)) {
        vg_resp_invalid_field(resp, "per_page", "per_page must be an integer from 1 to 100.");
        return false;
    }
    if (lq->q && (strlen(lq->q) > Q_MAX_BYTES || !utf8_valid(lq->q))) {
        vg_resp_invalid_field(resp, "q", "q must be UTF-8 text of at most 256 bytes.");
        return false;
    }
    if (lq->q && blank(lq->q))
        lq->q = NULL;
    return true;
}

static void answer(struct vg_resp *resp, const struct listing_query *lq, json_t *items,
                   long long total)
{
    vg_resp_json(resp, 200,
                 json_pack("{s:o, s:I, s:I, s:I}", "items", items, "page", (json_int_t)lq->page,
                           "per_page", (json_int_t)lq->per_page, "total", (json_int_t)total));
}

/* Text search of stop words only ("the") makes PostgreSQL send a NOTICE that
 * the query has no lexemes; it is expected, not worth a log line. */
static void quiet_notice(void *arg, const char *message)
{
}

static PGresult *listing_run(struct product_svc *svc, const struct listing_query *lq,
                             const struct listing_stmt *stmt, long slow_ms, struct vg_resp *resp)
{
    char limit[24], offset[24], slow[24];
    const char *params[5] = {limit, offset};
    int n = 2;
    struct vg_pg_conn *conn;
    PGresult *res;

    snprintf(limit, sizeof(limit), "%lld", lq->per_page);
    snprintf(offset, sizeof(offset), "%lld", (lq->page - 1) * lq->per_page);
    snprintf(slow, sizeof(slow), "%ld", slow_ms);
    if (lq->q)
        params[n++] = lq->q;
    if (lq->category)
        params[n++] = lq->category;
    if (slow_ms > 0)
        params[n++] = slow;

    conn = vg_pg_acquire(svc->pg);
    if (!conn) {
        vg_resp_error(resp, 503, "unavailable", "The catalogue database is unavailable.", NULL);
        return NULL;
    }
    PQsetNoticeProcessor(vg_pg_raw(conn), quiet_notice, NULL);
    res = vg_pg_exec(conn, stmt->name, stmt->sql, n, params);
    vg_pg_release(svc->pg, conn);
    if (!res || !vg_pg_ok(res)) {
        catalog_db_error(resp, stmt->name, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

void listing_products(struct vg_req *req, struct vg_resp *resp)
{
    struct product_svc *svc = req->ctx;
    struct listing_query lq;
    long slow_ms = vg_faults_get().slow_query_ms;
    const struct listing_stmt *stmt;
    PGresult *res;
    json_t *items;
    long long total;

    if (!listing_parse(req, resp, &lq))
        return;
    items = json_array();
    if (!items) {
        vg_resp_error(resp, 500, "internal_error", "Out of memory.", NULL);
        return;
    }
    /* Text that cannot be a slug names no category (PostgreSQL would also
     * refuse invalid UTF-8 with an error rather than an empty answer). */
    if (lq.category && (strlen(lq.category) > SLUG_MAX_BYTES || !utf8_valid(lq.category))) {
        answer(resp, &lq, items, 0);
        return;
    }
    stmt = &STMTS[lq.q != NULL][lq.category != NULL][slow_ms > 0];
    res = listing_run(svc, &lq, stmt, slow_ms, resp);
    if (!res) {
        json_decref(items);
        return;
    }
    total = PQntuples(res) > 0 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    /* An empty page is one row whose product columns are NULL. */
    for (int i = 0; i < PQntuples(res) && !PQgetisnull(res, i, 1); i++) {
        json_t *product = catalog_product_json(res, i, 1);
        if (!product || json_array_append_new(items, product) != 0) {
            PQclear(res);
            json_decref(items);
            vg_resp_error(resp, 500, "internal_error", "Out of memory.", NULL);
            return;
        }
    }
    PQclear(res);
    answer(resp, &lq, items, total);
}

/* The public API (API.md "Routes") and which service owns each route (architecture.md). The
 * server matches these, so 404 and 405 (+Allow) for /api come from this table; auth and JSON
 * checks run here too, so a request a service would refuse anyway never crosses the hop. */
#include "gateway.h"

/* base_url is filled in by main from VIGIL_USER_URL etc. */
struct gw_upstream gw_user_upstream = {"user", NULL, true};
struct gw_upstream gw_product_upstream = {"product", NULL, false};
struct gw_upstream gw_order_upstream = {"order", NULL, false};

#define AUTH VG_ROUTE_AUTH
#define JSON VG_ROUTE_JSON

const struct vg_route gw_routes[] = {
    {"POST", "/api/users", gw_proxy, JSON, &gw_user_upstream},
    {"GET", "/api/users/me", gw_proxy, AUTH, &gw_user_upstream},
    {"POST", "/api/sessions", gw_proxy, JSON, &gw_user_upstream},
    {"DELETE", "/api/sessions", gw_proxy, AUTH, &gw_user_upstream},

    {"GET", "/api/categories", gw_proxy, 0, &gw_product_upstream},
    {"GET", "/api/products", gw_proxy, 0, &gw_product_upstream},
    {"GET", "/api/products/{id}", gw_proxy, 0, &gw_product_upstream},

    {"GET", "/api/cart", gw_proxy, AUTH, &gw_order_upstream},
    {"PUT", "/api/cart/items/{id}", gw_proxy, AUTH | JSON, &gw_order_upstream},
    {"DELETE", "/api/cart/items/{id}", gw_proxy, AUTH, &gw_order_upstream},
    {"POST", "/api/orders", gw_proxy, AUTH | JSON, &gw_order_upstream},
    {"GET", "/api/orders", gw_proxy, AUTH, &gw_order_upstream},
    {"GET", "/api/orders/{id}", gw_proxy, AUTH, &gw_order_upstream},
};

const size_t gw_nroutes = sizeof(gw_routes) / sizeof(gw_routes[0]);

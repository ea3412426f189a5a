/* Private to vg_http*.c: the response record and the built-in routes. */
#ifndef VG_HTTP_INT_H
#define VG_HTTP_INT_H

#include <stdint.h>
#include "vg_http.h"

/* Built-in /admin routes: checked for loopback (403) and X-Admin-Token (401)
 * at the authentication step of the precedence. */
#define VG_ROUTE_ADMIN (1u << 15)

struct vg_resp_header {
    char *name;
    char *value;
};

struct vg_resp {
    int status; /* 0 until a handler answers */
    char *body; /* NULL for no body */
    size_t len;
    char *content_type; /* NULL means application/json */
    struct vg_resp_header *headers;
    size_t nheaders;
    size_t cap;
};

/* Frees what resp holds, not resp itself. */
void vg_resp_clear(struct vg_resp *resp);
bool vg_resp_has_header(const struct vg_resp *resp, const char *name);
void vg_request_id_new(char out[VG_REQUEST_ID_MAX + 1]);
uint64_t vg_rand64(void);

/* vg_http_builtin.c */
extern const struct vg_route vg_builtin_routes[];
extern const size_t vg_builtin_nroutes;
/* 0 when the request may use /admin; else answered 403 or 401. */
int vg_admin_check(struct vg_req *req, struct vg_resp *resp);

/* vg_http.c: the health callback of the server that received req. */
enum vg_health vg_http_health_of(const struct vg_req *req);

#endif

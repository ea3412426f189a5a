/* vg_client: synchronous downstream HTTP over libcurl. One easy handle per
 * thread, kept for the thread's life, so calls from one request thread reuse
 * a keep-alive connection. Every call has a timeout. */
#ifndef VG_CLIENT_H
#define VG_CLIENT_H

#include <stddef.h>

enum vg_call_err {
    VG_CALL_OK = 0,
    VG_CALL_CONNECT = -1,  /* refused, reset, DNS: the callee did not get the request */
    VG_CALL_TIMEOUT = -2,  /* outlived timeout_ms */
    VG_CALL_PROTOCOL = -3, /* garbled or truncated answer */
};

struct vg_call {
    int status;
    char *body; /* NUL-terminated, owned: vg_call_free */
    size_t body_len;
    char content_type[128];
    char retry_after[32];
};

/* headers: NULL-terminated array of "Name: value" strings, or NULL. body may be NULL. */
int vg_http_call(const char *method, const char *url, const char *const *headers, const char *body,
                 size_t body_len, long timeout_ms, struct vg_call *out);
void vg_call_free(struct vg_call *call);

/* curl_global_init; call once in main before threads. */
void vg_client_global_init(void);
void vg_client_global_cleanup(void);

#endif

/* vg_json: strict field readers over jansson for request validation. Each
 * reader returns 0 and sets *out, or -1 after answering the request with
 * 400 invalid_field whose details name the dotted path (API.md). A number must
 * be a JSON integer: "2" and 2.0 are refused. */
#ifndef VG_JSON_H
#define VG_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct vg_resp;

/* A string of min..max characters (UTF-8 code points). */
int vg_json_str(struct vg_resp *resp, json_t *obj, const char *key, const char *path, size_t min,
                size_t max, const char **out);
/* Like vg_json_str but absent or null gives *out = NULL. */
int vg_json_str_opt(struct vg_resp *resp, json_t *obj, const char *key, const char *path,
                    size_t min, size_t max, const char **out);
int vg_json_int(struct vg_resp *resp, json_t *obj, const char *key, const char *path, long long min,
                long long max, long long *out);
/* An object member; *out borrowed from obj. */
int vg_json_obj(struct vg_resp *resp, json_t *obj, const char *key, const char *path, json_t **out);

/* Compact, key-sorted serialisation: equal JSON values give equal strings. Caller frees. */
char *vg_json_canonical(const json_t *value);

#endif

#include "vg_json.h"

#include <stdarg.h>
#include <stdio.h>

#include "vg_http.h"

static int refuse(struct vg_resp *resp, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct vg_resp *resp, const char *path, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vg_resp_invalid_field(resp, path, msg);
    return -1;
}

/* jansson only hands out valid UTF-8, so counting the bytes that do not
 * continue a sequence counts code points. */
static size_t utf8_length(const char *s, size_t bytes)
{
    size_t n = 0;

    for (size_t i = 0; i < bytes; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static int read_str(struct vg_resp *resp, json_t *v, const char *path, size_t min, size_t max,
                    const char **out)
{
    size_t len;

    if (!json_is_string(v))
        return refuse(resp, path, "%s must be a string of %zu to %zu characters", path, min, max);
    len = utf8_length(json_string_value(v), json_string_length(v));
    if (len < min || len > max)
        return refuse(resp, path, "%s must be a string of %zu to %zu characters", path, min, max);
    *out = json_string_value(v);
    return 0;
}

int vg_json_str(struct vg_resp *resp, json_t *obj, const char *key, const char *path, size_t min,
                size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return refuse(resp, path, "%s is required", path);
    return read_str(resp, v, path, min, max, out);
}

int vg_json_str_opt(struct vg_resp *resp, json_t *obj, const char *key, const char *path,
                    size_t min, size_t max, const char **out)
{
    json_t *v = json_object_get(obj, key);

    if (!v || json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    return read_str(resp, v, path, min, max, out);
}

int vg_json_int(struct vg_resp *resp, json_t *obj, const char *key, const char *path, long long min,
                long long max, long long *out)
{
    json_t *v = json_object_get(obj, key);
    json_int_t n;

    if (!v)
        return refuse(resp, path, "%s is required", path);
    /* jansson keeps 2 and 2.0 apart: only the former is a JSON integer. */
    if (!json_is_integer(v))
        return refuse(resp, path, "%s must be an integer from %lld to %lld", path, min, max);
    n = json_integer_value(v);
    if (n < min || n > max)
        return refuse(resp, path, "%s must be an integer from %lld to %lld", path, min, max);
    *out = n;
    return 0;
}

int vg_json_obj(struct vg_resp *resp, json_t *obj, const char *key, const char *path, json_t **out)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return refuse(resp, path, "%s is required", path);
    if (!json_is_object(v))
        return refuse(resp, path, "%s must be an object", path);
    *out = v;
    return 0;
}

char *vg_json_canonical(const json_t *value)
{
    /* JSON_SORT_KEYS sorts every nested object too; JSON_ENCODE_ANY admits scalars. */
    return json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

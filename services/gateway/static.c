/* The storefront's files, for every path no /api route matches. Client-side routes (paths with
 * no file extension) get index.html so that a reload on /products/12 still loads the app. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway.h"
#include "vg_log.h"

#define STATIC_FILE_MAX (32L * 1024 * 1024) /* a built bundle is far smaller */

static const struct {
    const char *ext;
    const char *type;
} content_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"webmanifest", "application/manifest+json"},
    {"txt", "text/plain; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/x-icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"wasm", "application/wasm"},
};

char *gw_static_root(const char *dir)
{
    char *root = realpath(dir, NULL);

    if (!root)
        vg_warn("static: %s: %s (the storefront is not built; every page answers 404)", dir,
                strerror(errno));
    return root;
}

static const char *content_type_for(const char *file)
{
    const char *dot = strrchr(file, '.');

    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
            if (strcasecmp(dot + 1, content_types[i].ext) == 0)
                return content_types[i].type;
    return "application/octet-stream";
}

/* Refuses any segment that starts with '.': covers "..", which could climb out of the root,
 * and hidden files (.env, .git), which are never part of a build. Backslashes and empty
 * segments are refused too rather than interpreted. */
static bool path_safe(const char *path)
{
    const char *seg = path;

    if (path[0] != '/' || strchr(path, '\\'))
        return false;
    while ((seg = strchr(seg, '/'))) {
        seg++;
        if (seg[0] == '.' || (seg[0] == '/'))
            return false;
    }
    return true;
}

/* The last segment names a file when it has an extension; "/" and "/cart" do not. */
static bool names_file(const char *path)
{
    const char *last = strrchr(path, '/');

    return strchr(last, '.') != NULL;
}

/* Reads root/rel after checking that its real path stays under root (symlinks included).
 * Returns the bytes (caller frees) or NULL. */
static char *read_under_root(const char *root, const char *rel, size_t *len)
{
    char *joined = NULL, *real = NULL, *data = NULL;
    size_t rootlen = strlen(root);
    struct stat st;
    int fd = -1;
    ssize_t n;
    size_t got = 0;

    if (asprintf(&joined, "%s/%s", root, rel) < 0)
        return NULL;
    real = realpath(joined, NULL);
    if (!real || strncmp(real, root, rootlen) != 0 || real[rootlen] != '/')
        goto out;
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > STATIC_FILE_MAX)
        goto out;
    data = malloc((size_t)st.st_size + 1);
    if (!data)
        goto out;
    while (got < (size_t)st.st_size) {
        n = read(fd, data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    *len = got;
out:
    if (fd >= 0)
        close(fd);
    free(real);
    free(joined);
    return data;
}

void gw_static_serve(struct vg_req *req, struct vg_resp *resp)
{
    const struct gw_ctx *ctx = req->ctx;
    const char *rel;
    char *data;
    size_t len = 0;

    /* The route table owns /api: a path under it that no route matched is an API 404, never
     * the storefront's index.html. */
    if (strncmp(req->path, "/api/", 5) == 0 || strcmp(req->path, "/api") == 0) {
        vg_resp_error(resp, 404, "not_found", "no such API route", NULL);
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        vg_resp_error(resp, 405, "method_not_allowed", "static files are read-only", NULL);
        vg_resp_header(resp, "Allow", "GET, HEAD");
        return;
    }
    if (!ctx->static_root || !path_safe(req->path)) {
        vg_resp_error(resp, 404, "not_found", "no such page", NULL);
        return;
    }
    rel = names_file(req->path) ? req->path + 1 : "index.html";
    data = read_under_root(ctx->static_root, rel, &len);
    if (!data) {
        vg_resp_error(resp, 404, "not_found", "no such page", NULL);
        return;
    }
    vg_resp_raw(resp, 200, content_type_for(rel), data, len);
    vg_resp_header(resp, "X-Content-Type-Options", "nosniff");
    /* Vite names everything under assets/ by content hash, so those never change; anything
     * else (index.html above all) must be revalidated or a deploy would not show. */
    vg_resp_header(resp, "Cache-Control",
                   strncmp(rel, "assets/", 7) == 0 ? "public, max-age=31536000, immutable"
                                                   : "no-cache");
    free(data);
}

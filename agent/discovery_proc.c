/* ag_discovery: reading one process from /proc, and the pure parsing helpers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "discovery_int.h"

int ag_environ_get(const char *env, size_t len, const char *key, const char **value, size_t *vlen)
{
    size_t klen = strlen(key);
    const char *p = env, *end = env + len;
    while (p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        const char *e = nul ? nul : end; /* the block may be cut short: the last entry unended */
        if ((size_t)(e - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            *value = p + klen + 1;
            *vlen = (size_t)(e - *value);
            return 1;
        }
        p = e + 1;
    }
    return 0;
}

bool ag_cgroup_matches(const char *cgroup, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix);
    /* "/a/b" selects /a/b and /a/b/c but not /a/bc; "/" selects everything. */
    while (plen > 1 && prefix[plen - 1] == '/')
        plen--;
    const char *p = cgroup, *end = cgroup + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *c1 = memchr(p, ':', (size_t)(e - p));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(e - c1 - 1)) : NULL;
        if (c2) {
            const char *path = c2 + 1;
            size_t n = (size_t)(e - path);
            if (plen == 1 && prefix[0] == '/')
                return true;
            if (n >= plen && memcmp(path, prefix, plen) == 0 && (n == plen || path[plen] == '/'))
                return true;
        }
        p = e + 1;
    }
    return false;
}

void ag_exe_basename(const char *target, char *out, size_t outsz)
{
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    size_t n = strlen(base);
    static const char deleted[] = " (deleted)";
    if (n >= sizeof(deleted) - 1 && strcmp(base + n - (sizeof(deleted) - 1), deleted) == 0)
        n -= sizeof(deleted) - 1;
    if (n >= outsz)
        n = outsz - 1;
    memcpy(out, base, n);
    out[n] = '\0';
}

static int read_proc_file(struct ag_discovery *d, pid_t tgid, const char *name, struct ag_buf *b)
{
    char path[320];
    snprintf(path, sizeof(path), "%s/%d/%s", d->proc_root, (int)tgid, name);
    return ag_buf_read_file(b, path);
}

/* Name fallbacks: exe link (needs ptrace-read rights), then comm (always readable). */
static int exe_name(struct ag_discovery *d, pid_t tgid, char *out, size_t outsz, bool *kthread)
{
    char path[320], target[4096];
    snprintf(path, sizeof(path), "%s/%d/exe", d->proc_root, (int)tgid);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    *kthread = false;
    if (n > 0) {
        target[n] = '\0';
        ag_exe_basename(target, out, outsz);
        return 0;
    }
    /* A kernel thread (or a zombie) has no exe: ENOENT. EACCES is a process we may not read. */
    if (errno == ENOENT)
        *kthread = true;
    struct ag_buf b = {0};
    int err = read_proc_file(d, tgid, "comm", &b);
    if (err == 0 && b.len) {
        size_t len = strcspn(b.data, "\n");
        snprintf(out, outsz, "%.*s", (int)len, b.data);
    }
    ag_buf_free(&b);
    return err ? err : 0;
}

static bool selected(struct ag_discovery *d, pid_t tgid, const char *exe, const char *comm)
{
    const struct ag_watch *w = d->opts.watch;
    if (!w || w->mode == AG_WATCH_ALL)
        return true;
    for (size_t i = 0; i < w->npid; i++)
        if (w->pid[i] == tgid)
            return true;
    for (size_t i = 0; i < w->nexe; i++)
        if (strcmp(w->exe[i], exe) == 0 || strcmp(w->exe[i], comm) == 0)
            return true;
    if (w->ncgroup) {
        struct ag_buf b = {0};
        bool hit = false;
        if (read_proc_file(d, tgid, "cgroup", &b) == 0)
            for (size_t i = 0; i < w->ncgroup && !hit; i++)
                hit = ag_cgroup_matches(b.data ? b.data : "", b.len, w->cgroup[i]);
        ag_buf_free(&b);
        return hit;
    }
    return false;
}

int ag_proc_resolve(struct ag_discovery *d, pid_t tgid, struct ag_proc_info *info)
{
    char exe[AG_SERVICE_NAME_MAX] = "", comm[32] = "";
    bool kthread;
    memset(info, 0, sizeof(*info));
    if (exe_name(d, tgid, exe, sizeof(exe), &kthread) < 0)
        return -ENOENT; /* gone */
    if (kthread)
        return -ENOENT; /* no user space: nothing to watch */
    struct ag_buf b = {0};
    if (read_proc_file(d, tgid, "comm", &b) == 0 && b.len)
        snprintf(comm, sizeof(comm), "%.*s", (int)strcspn(b.data, "\n"), b.data);
    ag_buf_free(&b);
    info->watched = tgid != d->opts.self && selected(d, tgid, exe, comm);
    if (!info->watched)
        return 0;
    snprintf(info->service, sizeof(info->service), "%s", exe);
    /* environ is readable only with ptrace-read rights (root, or the same user). */
    if (read_proc_file(d, tgid, "environ", &b) == 0 && b.len) {
        const char *v;
        size_t vlen;
        if (ag_environ_get(b.data, b.len, "OTEL_SERVICE_NAME", &v, &vlen) && vlen > 0) {
            if (vlen >= sizeof(info->service))
                vlen = sizeof(info->service) - 1;
            memcpy(info->service, v, vlen);
            info->service[vlen] = '\0';
        }
    }
    ag_buf_free(&b);
    if (!info->service[0])
        snprintf(info->service, sizeof(info->service), "%s", comm[0] ? comm : "unknown");
    return 0;
}

/* ag_discovery: seeding the connection tracker with sockets opened before the agent started.
 * /proc/PID/fd/N -> "socket:[INODE]", joined with the rows of /proc/PID/net/tcp{,6} of each
 * network namespace the watched processes live in (containers have their own tables). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <unistd.h>

#include "buf.h"
#include "discovery_int.h"

struct holder {
    uint64_t inode;
    pid_t tgid;
    int fd;
    uint32_t svc_idx;
};

struct seed_ctx {
    struct ag_discovery *d;
    struct holder *holders;
    size_t nholders, holders_cap;
    uint64_t *netns; /* distinct namespaces, and one pid in each */
    pid_t *netns_pid;
    size_t nnetns;
    struct ag_procnet_entry *rows; /* the current namespace's rows */
    size_t nrows, rows_cap;
    struct ag_seed_sock *out;
    size_t nout, out_cap;
    int err;
};

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *q = realloc(*p, c * size);
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* "socket:[12345]" -> 12345; 0 for anything else (pipes, files, anon inodes). */
static uint64_t socket_inode(const char *target)
{
    if (strncmp(target, "socket:[", 8) != 0)
        return 0;
    char *end;
    unsigned long long ino = strtoull(target + 8, &end, 10);
    return *end == ']' ? ino : 0;
}

static int collect_fds(struct seed_ctx *s, pid_t tgid, uint32_t svc_idx)
{
    char path[320], target[64];
    snprintf(path, sizeof(path), "%s/%d/fd", s->d->proc_root, (int)tgid);
    DIR *dir = opendir(path);
    if (!dir)
        return 0; /* gone, or not ours to read: nothing to seed */
    struct dirent *de;
    while ((de = readdir(dir))) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        if (*end || de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "%s/%d/fd/%ld", s->d->proc_root, (int)tgid, fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        uint64_t ino = socket_inode(target);
        if (!ino)
            continue;
        if (grow((void **)&s->holders, &s->holders_cap, s->nholders, sizeof(*s->holders)) < 0) {
            closedir(dir);
            return -ENOMEM;
        }
        s->holders[s->nholders++] = (struct holder){ino, tgid, (int)fd, svc_idx};
    }
    closedir(dir);
    return 0;
}

static int note_netns(struct seed_ctx *s, pid_t tgid)
{
    char path[320], target[64];
    uint64_t ns = 0;
    snprintf(path, sizeof(path), "%s/%d/ns/net", s->d->proc_root, (int)tgid);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n > 0) {
        target[n] = '\0';
        sscanf(target, "net:[%" SCNu64 "]", &ns);
    }
    for (size_t i = 0; i < s->nnetns; i++)
        if (s->netns[i] == ns)
            return 0;
    uint64_t *a = realloc(s->netns, (s->nnetns + 1) * sizeof(*a));
    if (!a)
        return -ENOMEM;
    s->netns = a;
    pid_t *p = realloc(s->netns_pid, (s->nnetns + 1) * sizeof(*p));
    if (!p)
        return -ENOMEM;
    s->netns_pid = p;
    s->netns[s->nnetns] = ns;
    s->netns_pid[s->nnetns++] = tgid;
    return 0;
}

static void visit(pid_t tgid, uint32_t svc_idx, void *ctx)
{
    struct seed_ctx *s = ctx;
    if (!s->err)
        s->err = collect_fds(s, tgid, svc_idx);
    if (!s->err)
        s->err = note_netns(s, tgid);
}

static int by_inode(const void *a, const void *b)
{
    uint64_t x = ((const struct holder *)a)->inode, y = ((const struct holder *)b)->inode;
    return x < y ? -1 : x > y;
}

static int keep_row(const struct ag_procnet_entry *e, void *ctx)
{
    struct seed_ctx *s = ctx;
    if (e->state != AG_TCP_ESTABLISHED && e->state != AG_TCP_LISTEN)
        return 0;
    if (grow((void **)&s->rows, &s->rows_cap, s->nrows, sizeof(*s->rows)) < 0)
        return -ENOMEM;
    s->rows[s->nrows++] = *e;
    return 0;
}

enum ag_sock_side ag_infer_side(const struct ag_procnet_entry *e,
                                const struct ag_procnet_entry *listeners, size_t nlisteners)
{
    if (e->state == AG_TCP_LISTEN)
        return AG_SIDE_LISTENER;
    for (size_t i = 0; i < nlisteners; i++) {
        const struct ag_procnet_entry *l = &listeners[i];
        if (l->state != AG_TCP_LISTEN || l->tuple.lport != e->tuple.lport)
            continue;
        /* An accepted socket's local end is the listener's port on the listener's address, or
         * any address for a wildcard listener (a dual-stack :: listener takes IPv4 too). */
        static const uint8_t zero[16];
        size_t n = l->tuple.family == AF_INET ? 4 : 16;
        if (memcmp(l->tuple.laddr, zero, n) == 0)
            return AG_SIDE_SERVER;
        if (l->tuple.family == e->tuple.family &&
            ag_addr_matches(l->tuple.family, l->tuple.laddr, e->tuple.laddr))
            return AG_SIDE_SERVER;
    }
    return AG_SIDE_CLIENT;
}

static int join_namespace(struct seed_ctx *s, pid_t pid)
{
    static const char *const tables[] = {"net/tcp", "net/tcp6"};
    s->nrows = 0;
    for (int v6 = 0; v6 < 2; v6++) {
        char path[320];
        struct ag_buf b = {0};
        snprintf(path, sizeof(path), "%s/%d/%s", s->d->proc_root, (int)pid, tables[v6]);
        /* No tcp6 table when IPv6 is disabled: not an error. */
        int err = ag_buf_read_file(&b, path) == 0
                      ? ag_procnet_parse(b.data ? b.data : "", b.len, v6, keep_row, s, NULL)
                      : 0;
        ag_buf_free(&b);
        if (err)
            return err;
    }
    for (size_t r = 0; r < s->nrows; r++) {
        const struct ag_procnet_entry *e = &s->rows[r];
        struct holder key = {.inode = e->inode};
        struct holder *h =
            e->inode ? bsearch(&key, s->holders, s->nholders, sizeof(key), by_inode) : NULL;
        if (!h)
            continue;
        while (h > s->holders && h[-1].inode == e->inode)
            h--;
        enum ag_sock_side side = ag_infer_side(e, s->rows, s->nrows);
        /* A socket shared after fork() is one connection seen from every holder. */
        for (; h < s->holders + s->nholders && h->inode == e->inode; h++) {
            if (grow((void **)&s->out, &s->out_cap, s->nout, sizeof(*s->out)) < 0)
                return -ENOMEM;
            s->out[s->nout++] = (struct ag_seed_sock){
                .tgid = h->tgid,
                .fd = h->fd,
                .svc_idx = h->svc_idx,
                .inode = e->inode,
                .state = e->state,
                .side = side,
                .tuple = e->tuple,
            };
        }
    }
    return 0;
}

int ag_discovery_seed_sockets(struct ag_discovery *d, struct ag_seed_sock **out, size_t *n)
{
    struct seed_ctx s = {.d = d};
    ag_discovery_foreach(d, visit, &s);
    int err = s.err;
    if (!err && s.nholders) {
        qsort(s.holders, s.nholders, sizeof(*s.holders), by_inode);
        for (size_t i = 0; i < s.nnetns && !err; i++)
            err = join_namespace(&s, s.netns_pid[i]);
    }
    free(s.holders);
    free(s.netns);
    free(s.netns_pid);
    free(s.rows);
    if (err) {
        free(s.out);
        return err;
    }
    *out = s.out;
    *n = s.nout;
    return 0;
}

/* ag_discovery: the service table, the watched-process table, the /proc scan and the
 * exec/fork/exit notifications. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discovery_int.h"

int ag_discovery_create(const struct ag_discovery_opts *opts, struct ag_discovery **out)
{
    struct ag_discovery *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    if (opts)
        d->opts = *opts;
    if (!d->opts.self)
        d->opts.self = getpid();
    snprintf(d->proc_root, sizeof(d->proc_root), "%s",
             d->opts.proc_root ? d->opts.proc_root : "/proc");
    d->procs_size = 1024;
    d->procs = calloc(d->procs_size, sizeof(*d->procs));
    d->services_cap = 16;
    d->services = calloc(d->services_cap, sizeof(*d->services));
    if (!d->procs || !d->services) {
        ag_discovery_destroy(d);
        return -ENOMEM;
    }
    d->nservices = 1; /* index 0 is "not watched" */
    *out = d;
    return 0;
}

void ag_discovery_destroy(struct ag_discovery *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nservices; i++)
        free(d->services[i].name);
    free(d->services);
    free(d->procs);
    free(d);
}

static size_t slot_of(const struct ag_discovery *d, pid_t tgid)
{
    size_t mask = d->procs_size - 1;
    size_t i = ((uint32_t)tgid * 2654435761u) & mask;
    while (d->procs[i].tgid && d->procs[i].tgid != tgid)
        i = (i + 1) & mask;
    return i;
}

static int procs_grow(struct ag_discovery *d)
{
    struct ag_proc_slot *old = d->procs;
    size_t old_size = d->procs_size;
    d->procs = calloc(old_size * 2, sizeof(*d->procs));
    if (!d->procs) {
        d->procs = old;
        return -ENOMEM;
    }
    d->procs_size = old_size * 2;
    for (size_t i = 0; i < old_size; i++)
        if (old[i].tgid)
            d->procs[slot_of(d, old[i].tgid)] = old[i];
    free(old);
    return 0;
}

/* Linear-probing deletion by backward shift: no tombstones to slow later lookups. */
static void procs_delete(struct ag_discovery *d, size_t i)
{
    size_t mask = d->procs_size - 1;
    size_t j = i;
    d->procs[i].tgid = 0;
    for (;;) {
        j = (j + 1) & mask;
        if (!d->procs[j].tgid)
            break;
        size_t home = ((uint32_t)d->procs[j].tgid * 2654435761u) & mask;
        /* Move j back into the hole unless its home lies cyclically in (i, j]. */
        if ((i < j) ? (home <= i || home > j) : (home <= i && home > j)) {
            d->procs[i] = d->procs[j];
            d->procs[j].tgid = 0;
            i = j;
        }
    }
    d->nprocs--;
}

static uint32_t service_index(struct ag_discovery *d, const char *name)
{
    for (size_t i = 1; i < d->nservices; i++)
        if (strcmp(d->services[i].name, name) == 0)
            return (uint32_t)i;
    if (d->nservices == d->services_cap) {
        struct ag_service *s = realloc(d->services, 2 * d->services_cap * sizeof(*s));
        if (!s)
            return 0;
        d->services = s;
        d->services_cap *= 2;
    }
    char *copy = strdup(name);
    if (!copy)
        return 0;
    d->services[d->nservices] = (struct ag_service){.name = copy, .nproc = 0};
    return (uint32_t)d->nservices++;
}

static void service_ref(struct ag_discovery *d, uint32_t idx)
{
    if (d->services[idx].nproc++ == 0 && d->opts.service_up)
        d->opts.service_up(d->opts.ctx, d->services[idx].name);
}

/* Returns the service name when idx lost its last process. */
static const char *service_unref(struct ag_discovery *d, uint32_t idx)
{
    if (idx == 0 || idx >= d->nservices || d->services[idx].nproc == 0)
        return NULL;
    if (--d->services[idx].nproc)
        return NULL;
    if (d->opts.service_down)
        d->opts.service_down(d->opts.ctx, d->services[idx].name);
    return d->services[idx].name;
}

/* Records tgid under a service, replacing any earlier one; 0 or -ENOMEM. */
static int track(struct ag_discovery *d, pid_t tgid, uint32_t idx)
{
    if (2 * (d->nprocs + 1) > d->procs_size && procs_grow(d) < 0)
        return -ENOMEM;
    size_t i = slot_of(d, tgid);
    if (d->procs[i].tgid) {
        uint32_t old = d->procs[i].svc_idx;
        d->procs[i].svc_idx = idx;
        service_ref(d, idx); /* ref first: a service moving to itself must not flap down/up */
        service_unref(d, old);
        return 0;
    }
    d->procs[i] = (struct ag_proc_slot){.tgid = tgid, .svc_idx = idx};
    d->nprocs++;
    service_ref(d, idx);
    return 0;
}

static const char *untrack(struct ag_discovery *d, pid_t tgid)
{
    size_t i = slot_of(d, tgid);
    if (!d->procs[i].tgid)
        return NULL;
    uint32_t idx = d->procs[i].svc_idx;
    procs_delete(d, i);
    return service_unref(d, idx);
}

int ag_discovery_on_exec(struct ag_discovery *d, pid_t tgid, uint32_t *svc_idx)
{
    struct ag_proc_info info;
    if (ag_proc_resolve(d, tgid, &info) < 0 || !info.watched) {
        untrack(d, tgid);
        return 0;
    }
    uint32_t idx = service_index(d, info.service);
    if (!idx || track(d, tgid, idx) < 0)
        return -ENOMEM;
    if (svc_idx)
        *svc_idx = idx;
    return 1;
}

int ag_discovery_on_fork(struct ag_discovery *d, pid_t parent, pid_t child)
{
    uint32_t idx;
    if (!ag_discovery_lookup(d, parent, &idx))
        return 0;
    return track(d, child, idx) < 0 ? -ENOMEM : 1;
}

const char *ag_discovery_on_exit(struct ag_discovery *d, pid_t tgid)
{
    return untrack(d, tgid);
}

int ag_discovery_lookup(struct ag_discovery *d, pid_t tgid, uint32_t *svc_idx)
{
    if (tgid <= 0)
        return 0;
    size_t i = slot_of(d, tgid);
    if (!d->procs[i].tgid)
        return 0;
    if (svc_idx)
        *svc_idx = d->procs[i].svc_idx;
    return 1;
}

const char *ag_discovery_service_name(struct ag_discovery *d, uint32_t svc_idx)
{
    return svc_idx > 0 && svc_idx < d->nservices ? d->services[svc_idx].name : NULL;
}

size_t ag_discovery_process_count(struct ag_discovery *d)
{
    return d->nprocs;
}

void ag_discovery_foreach(struct ag_discovery *d, void (*fn)(pid_t, uint32_t, void *), void *ctx)
{
    for (size_t i = 0; i < d->procs_size; i++)
        if (d->procs[i].tgid)
            fn(d->procs[i].tgid, d->procs[i].svc_idx, ctx);
}

int ag_discovery_scan(struct ag_discovery *d)
{
    DIR *dir = opendir(d->proc_root);
    if (!dir)
        return -errno;
    struct dirent *de;
    int err = 0;
    while ((de = readdir(dir))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        /* A process that exits mid-scan reads as not watched: its exit event may be missed. */
        if (ag_discovery_on_exec(d, (pid_t)pid, NULL) < 0) {
            err = -ENOMEM;
            break;
        }
    }
    closedir(dir);
    return err ? err : (int)d->nprocs;
}

size_t ag_discovery_service_procs(struct ag_discovery *d, uint32_t svc_idx)
{
    return svc_idx && svc_idx < d->nservices ? d->services[svc_idx].nproc : 0;
}

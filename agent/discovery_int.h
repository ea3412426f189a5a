/* Internals shared by discovery.c, discovery_proc.c and discovery_seed.c. */
#ifndef AG_DISCOVERY_INT_H
#define AG_DISCOVERY_INT_H

#include "discovery.h"

struct ag_service {
    char *name;
    size_t nproc; /* live watched processes */
};

struct ag_proc_slot {
    pid_t tgid; /* 0: empty */
    uint32_t svc_idx;
};

struct ag_discovery {
    struct ag_discovery_opts opts;
    char proc_root[256];
    struct ag_service *services; /* index 0 unused: svc_idx 0 means "not watched" */
    size_t nservices, services_cap;
    struct ag_proc_slot *procs; /* open addressing, linear probing, power-of-two size */
    size_t procs_size, nprocs;
};

/* What /proc says about one process. */
struct ag_proc_info {
    char service[AG_SERVICE_NAME_MAX];
    bool watched;
};

/* Reads /proc/PID and decides: 0 (info set), or -ENOENT when the process is gone or is a
 * kernel thread. */
int ag_proc_resolve(struct ag_discovery *d, pid_t tgid, struct ag_proc_info *info);

#endif

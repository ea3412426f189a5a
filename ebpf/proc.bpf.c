// SPDX-License-Identifier: GPL-2.0
/* proc.bpf.c — process exec, fork and exit for discovery, and following new processes.
 *
 * Classic raw tracepoints (not sched:* tracepoints): their arguments are the task_structs, so a
 * new thread can be told from a new process at fork (child->pid != child->tgid) and a thread
 * exit from the whole process's exit (signal->live has dropped to 0).
 * New processes are added to `watched` here, synchronously, so that nothing they do is missed
 * while user space names their service; user space may later change or delete the entry.
 */
#include "vigil_common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Every new process is watched, except the agent itself (agent_tgid). */
const volatile __u8 watch_all = 0;
/* A new child of a watched process inherits its service index. */
const volatile __u8 follow_children = 1;
const volatile __u32 agent_tgid = 0;

static __always_inline struct vg_proc_event *proc_event(__u32 type, __u32 tgid, __u32 ppid)
{
    struct vg_proc_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

    if (!e) {
        vg_count(VG_CNT_DROP_PROC, 1);
        return NULL;
    }
    __builtin_memset(e, 0, sizeof(*e));
    e->kind = VG_EV_PROC;
    e->type = type;
    e->tgid = tgid;
    e->ppid = ppid;
    e->svc = VG_SVC_NONE;
    e->ts_ns = bpf_ktime_get_ns();
    return e;
}

static __always_inline void submit(struct vg_proc_event *e)
{
    bpf_ringbuf_submit(e, 0);
    vg_count(VG_CNT_PROC, 1);
}

/* Sets watched[tgid] = svc; returns the value now in the map, or VG_SVC_NONE. */
static __always_inline __u32 watch(__u32 tgid, __u32 svc)
{
    if (bpf_map_update_elem(&watched, &tgid, &svc, BPF_ANY)) {
        vg_count(VG_CNT_DROP_WATCH, 1);
        return VG_SVC_NONE;
    }
    return svc;
}

/* sched_process_fork(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tracepoint/sched_process_fork")
int vg_proc_fork(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *parent = (struct task_struct *)ctx->args[0];
    struct task_struct *child = (struct task_struct *)ctx->args[1];
    __u32 tgid = BPF_CORE_READ(child, tgid), ptgid = BPF_CORE_READ(parent, tgid);
    __u32 svc = VG_SVC_NONE, *psvc;
    struct vg_proc_event *e;

    if (BPF_CORE_READ(child, pid) != tgid)
        return 0; /* a new thread of an existing process */
    psvc = bpf_map_lookup_elem(&watched, &ptgid);
    if (tgid != agent_tgid) {
        if (psvc && follow_children)
            svc = watch(tgid, *psvc);
        else if (watch_all)
            svc = watch(tgid, VG_SVC_PENDING);
    }
    e = proc_event(VG_PROC_FORK, tgid, ptgid);
    if (!e)
        return 0;
    e->svc = svc;
    BPF_CORE_READ_STR_INTO(&e->comm, child, comm);
    submit(e);
    return 0;
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm); runs in
 * the new program, comm already set. The service may differ from the old program's: a watched
 * process becomes VG_SVC_PENDING until user space names it again. */
SEC("raw_tracepoint/sched_process_exec")
int vg_proc_exec(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *p = (struct task_struct *)ctx->args[0];
    struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
    __u32 tgid = BPF_CORE_READ(p, tgid);
    __u32 svc = VG_SVC_NONE;
    struct vg_proc_event *e;

    if (tgid != agent_tgid && (watch_all || bpf_map_lookup_elem(&watched, &tgid))) {
        svc = watch(tgid, VG_SVC_PENDING);
        vg_gen_bump(); /* the exec'ing thread has its old service cached */
    }
    e = proc_event(VG_PROC_EXEC, tgid, BPF_CORE_READ(p, real_parent, tgid));
    if (!e)
        return 0;
    e->svc = svc;
    bpf_get_current_comm(&e->comm, sizeof(e->comm));
    bpf_probe_read_kernel_str(&e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
    submit(e);
    return 0;
}

/* sched_process_exit(struct task_struct *p, ...): do_exit() has already decremented
 * signal->live, so 0 means the last thread is leaving. The watched entry goes with the
 * process, so that a later process reusing the pid is not taken for it. */
SEC("raw_tracepoint/sched_process_exit")
int vg_proc_exit(struct bpf_raw_tracepoint_args *ctx)
{
    struct task_struct *p = (struct task_struct *)ctx->args[0];
    __u32 tgid = BPF_CORE_READ(p, tgid), *svc;
    struct vg_proc_event *e;

    if (BPF_CORE_READ(p, signal, live.counter) != 0)
        return 0;
    e = proc_event(VG_PROC_EXIT, tgid, BPF_CORE_READ(p, real_parent, tgid));
    svc = bpf_map_lookup_elem(&watched, &tgid);
    if (svc) {
        if (e)
            e->svc = *svc;
        bpf_map_delete_elem(&watched, &tgid);
    }
    if (!e)
        return 0;
    e->exit_code = BPF_CORE_READ(p, exit_code);
    bpf_get_current_comm(&e->comm, sizeof(e->comm));
    submit(e);
    return 0;
}

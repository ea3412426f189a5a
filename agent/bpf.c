/* bpf.c — loader of the BPF data plane: shared maps, three skeletons, ring buffer, stats. */
#include "bpf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "proc.skel.h"
#include "syscalls.skel.h"
#include "tcp.skel.h"

#define TRACEFS_MAGIC 0x74726163
#define BPF_FS_MAGIC  0xcafe4a11
#define RING_DEFAULT  (8u << 20)

static const uint64_t default_bounds[VG_LAT_BOUNDS_MAX] = {
    100000ULL,     250000ULL,     500000ULL,     1000000ULL,     2500000ULL,   5000000ULL,
    10000000ULL,   25000000ULL,   50000000ULL,   100000000ULL,   250000000ULL, 500000000ULL,
    1000000000ULL, 2500000000ULL, 5000000000ULL, 10000000000ULL,
};

struct ag_bpf {
    unsigned parts;
    int watched_fd, events_fd, counters_fd, gen_fd;
    uint32_t *gen;               /* vg_gen[0], mapped: bumped after every change to watched */
    int stats_fd, errs_fd;       /* syscalls part's maps, -1 when that part is not running */
    int sock_svc_fd, retrans_fd; /* tcp part's maps, -1 when that part is not running */
    int quiet_fd;                /* sockio's vg_quiet, -1 when that part is not running */
    int ncpus;
    struct syscalls_bpf *syscalls;
    struct proc_bpf *proc;
    struct tcp_bpf *tcp;
    struct ring_buffer *ring;
    /* The ring's consumer position page and producer position page, mapped read-only. */
    void *ring_pos;
    size_t page;
    uint64_t ring_bytes;
    /* the handlers of the ag_bpf_poll/ag_bpf_consume call in progress */
    const struct ag_bpf_handlers *h;
    void *h_ctx;
    uint64_t malformed;
    uint64_t bounds[VG_LAT_BOUNDS_MAX];
    size_t n_bounds;
};

static bool libbpf_verbose;

static void report(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", program_invocation_short_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* libbpf's warnings (a failed load includes the verifier log) stay on stderr; its info and
 * debug chatter only with conf->verbose. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    if (level == LIBBPF_DEBUG && !libbpf_verbose)
        return 0;
    if (level == LIBBPF_INFO && !libbpf_verbose)
        return 0;
    return vfprintf(stderr, fmt, ap);
}

void ag_bpf_conf_default(struct ag_bpf_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->parts = AG_BPF_ALL;
    conf->head_cap = VG_HEAD_DEFAULT;
    conf->tail_cap = VG_TAIL_DEFAULT;
    conf->ring_bytes = RING_DEFAULT;
    conf->watch_max = 65536;
    conf->syscall_latency = true;
    conf->follow_children = true;
}

/* Mounts fstype at path unless a filesystem with that magic is already there. */
static int ensure_mounted(const char *path, const char *fstype, const char *source, long magic)
{
    struct statfs st;

    if (statfs(path, &st) == 0 && st.f_type == magic)
        return 0;
    if (mount(source, path, fstype, 0, NULL) == 0)
        return 0;
    report("%s is not mounted and mounting it failed: %s (mount -t %s %s %s)", path,
           strerror(errno), fstype, source, path);
    return -ENOENT;
}

static int libbpf_silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    return 0;
}

/* Readable and parseable as BTF (raw, as in /sys/kernel/btf, or an ELF's .BTF section): else
 * every skeleton would fail CO-RE relocation with libbpf's lines for each. */
static int check_btf(const char *path)
{
    struct btf *btf;
    int err;

    if (access(path, R_OK) != 0) {
        err = errno ? -errno : -ENOENT;
        report("%s: %s (kernel BTF is needed for CO-RE; pass --btf PATH)", path, strerror(-err));
        return err;
    }
    libbpf_print_fn_t old = libbpf_set_print(libbpf_silent); /* our one line says it */
    btf = btf__parse(path, NULL);
    err = btf ? 0 : (errno ? -errno : -EINVAL);
    libbpf_set_print(old);
    if (err) {
        if (err <= -4000) /* libbpf's own codes (LIBBPF_ERRNO__*) are no errno */
            err = -EINVAL;
        report("%s: not usable as kernel BTF: %s (pass --btf PATH)", path,
               err == -EINVAL ? "not a BTF or ELF file with .BTF" : strerror(-err));
        return err;
    }
    btf__free(btf);
    return 0;
}

int ag_bpf_check_host(const char *btf_path)
{
    int err = check_btf(btf_path ? btf_path : "/sys/kernel/btf/vmlinux");

    /* Classic tracepoints are attached by their id under tracefs; bpffs is not used (nothing is
     * pinned) but its absence marks a half-set-up host, so it is mounted too. */
    if (!err)
        err = ensure_mounted("/sys/kernel/tracing", "tracefs", "nodev", TRACEFS_MAGIC);
    if (!err)
        err = ensure_mounted("/sys/fs/bpf", "bpf", "bpf", BPF_FS_MAGIC);
    return err;
}

static uint32_t ring_size(uint32_t want)
{
    uint32_t page = (uint32_t)sysconf(_SC_PAGESIZE), sz = page;

    while (sz < want && sz < (1u << 30))
        sz <<= 1;
    return sz;
}

static int create_shared_maps(struct ag_bpf *b, const struct ag_bpf_conf *c)
{
    b->watched_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "vg_watched", sizeof(uint32_t),
                                   sizeof(uint32_t), c->watch_max ? c->watch_max : 65536, NULL);
    if (b->watched_fd < 0)
        goto fail;
    b->events_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "vg_events", 0, 0,
                                  ring_size(c->ring_bytes ? c->ring_bytes : RING_DEFAULT), NULL);
    if (b->events_fd < 0)
        goto fail;
    b->counters_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "vg_counters", sizeof(uint32_t),
                                    sizeof(uint64_t), VG_CNT_MAX, NULL);
    if (b->counters_fd < 0)
        goto fail;
    LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
    b->gen_fd =
        bpf_map_create(BPF_MAP_TYPE_ARRAY, "vg_gen", sizeof(uint32_t), sizeof(uint32_t), 1, &mo);
    if (b->gen_fd < 0)
        goto fail;
    b->gen =
        mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED, b->gen_fd, 0);
    if (b->gen == MAP_FAILED) {
        b->gen = NULL;
        goto fail;
    }
    *b->gen = 1; /* zeroed task storage must not look current */
    return 0;
fail:
    report("creating the shared maps: %s", strerror(errno));
    return -errno;
}

/* Points a skeleton's copies of the shared maps at the loader's maps (before load). */
static int reuse_shared(struct ag_bpf *b, struct bpf_map *watched, struct bpf_map *events,
                        struct bpf_map *counters, struct bpf_map *gen)
{
    int err = bpf_map__reuse_fd(watched, b->watched_fd);

    if (!err)
        err = bpf_map__reuse_fd(events, b->events_fd);
    if (!err)
        err = bpf_map__reuse_fd(counters, b->counters_fd);
    if (!err)
        err = bpf_map__reuse_fd(gen, b->gen_fd);
    return err;
}

/* After a change to watched: threads re-read their service (vigil_common.bpf.h, vg_gen). */
static void bump_gen(struct ag_bpf *b)
{
    if (__atomic_add_fetch(b->gen, 1, __ATOMIC_SEQ_CST) == 0)
        __atomic_add_fetch(b->gen, 1, __ATOMIC_SEQ_CST); /* 0 is what fresh storage holds */
}

/* Each object follows one shape: open -> rodata -> reuse maps -> load -> attach; a failure
 * destroys that skeleton only and is reported with the part's name and the step. */

/* The syscall dispatcher (ebpf/syscalls.bpf.c) serves two parts: sockio and syscalls. Both ride
 * on the same two raw tracepoints, so one object: a kernel refusing one would refuse both. */
static int load_syscalls(struct ag_bpf *b, const struct ag_bpf_conf *c,
                         const struct bpf_object_open_opts *oo)
{
    struct syscalls_bpf *s = syscalls_bpf__open_opts(oo);
    bool io = c->parts & AG_BPF_SOCKIO, st = c->parts & AG_BPF_SYSCALLS;
    const char *name = io && st ? "syscalls" : io ? "sockio" : "syscalls";
    const char *step = "open";
    int err = 0;

    if (!s) {
        err = -errno;
        goto fail;
    }
    s->rodata->sockio = io;
    s->rodata->stats = st;
    s->rodata->latency = st && c->syscall_latency;
    s->rodata->n_bounds = (uint32_t)b->n_bounds;
    for (size_t i = 0; i < VG_LAT_BOUNDS_MAX; i++)
        s->rodata->lat_bounds_ns[i] = i < b->n_bounds ? b->bounds[i] : UINT64_MAX;
    s->rodata->wakeup_bytes = ring_size(c->ring_bytes ? c->ring_bytes : RING_DEFAULT) / 8;
    s->rodata->head_cap = c->head_cap > VG_HEAD_MAX ? VG_HEAD_MAX : c->head_cap;
    s->rodata->tail_cap = c->tail_cap > VG_TAIL_MAX ? VG_TAIL_MAX : c->tail_cap;
    /* Counts only, no sockets: the exit does everything; leave sys_enter off the syscall path. */
    if (!io && !s->rodata->latency)
        bpf_program__set_autoload(s->progs.vg_sys_enter, false);
    step = "maps";
    err = reuse_shared(b, s->maps.watched, s->maps.events, s->maps.counters, s->maps.vg_gen);
    /* Socket owners are recorded only for a running tcp part; else the map is a stub. */
    s->rodata->track_sock_svc = io && b->sock_svc_fd >= 0;
    if (!err && s->rodata->track_sock_svc)
        err = bpf_map__reuse_fd(s->maps.vg_sock_svc, b->sock_svc_fd);
    else if (!err)
        err = bpf_map__set_max_entries(s->maps.vg_sock_svc, 1);
    if (err)
        goto fail;
    step = "load";
    err = syscalls_bpf__load(s);
    if (err)
        goto fail;
    step = "attach";
    err = syscalls_bpf__attach(s);
    if (err)
        goto fail;
    b->syscalls = s;
    if (st) {
        b->stats_fd = bpf_map__fd(s->maps.vg_sys_stats);
        b->errs_fd = bpf_map__fd(s->maps.vg_sys_errs);
    }
    if (io)
        b->quiet_fd = bpf_map__fd(s->maps.vg_quiet);
    b->parts |= c->parts & (AG_BPF_SOCKIO | AG_BPF_SYSCALLS);
    return 0;
fail:
    report("%s: %s: %s", name, step, strerror(-err));
    syscalls_bpf__destroy(s);
    return err;
}

static int load_proc(struct ag_bpf *b, const struct ag_bpf_conf *c,
                     const struct bpf_object_open_opts *oo)
{
    struct proc_bpf *s = proc_bpf__open_opts(oo);
    const char *step = "open";
    int err = 0;

    if (!s) {
        err = -errno;
        goto fail;
    }
    s->rodata->watch_all = c->watch_all;
    s->rodata->follow_children = c->follow_children;
    s->rodata->agent_tgid = c->agent_tgid ? c->agent_tgid : (uint32_t)getpid();
    step = "maps";
    err = reuse_shared(b, s->maps.watched, s->maps.events, s->maps.counters, s->maps.vg_gen);
    if (err)
        goto fail;
    step = "load";
    err = proc_bpf__load(s);
    if (err)
        goto fail;
    step = "attach";
    err = proc_bpf__attach(s);
    if (err)
        goto fail;
    b->proc = s;
    return 0;
fail:
    report("proc: %s: %s", step, strerror(-err));
    proc_bpf__destroy(s);
    return err;
}

static int load_tcp(struct ag_bpf *b, const struct ag_bpf_conf *c,
                    const struct bpf_object_open_opts *oo)
{
    struct tcp_bpf *s = tcp_bpf__open_opts(oo);
    const char *step = "open";
    int err = 0;

    if (!s) {
        err = -errno;
        goto fail;
    }
    step = "maps";
    err = reuse_shared(b, s->maps.watched, s->maps.events, s->maps.counters, s->maps.vg_gen);
    if (err)
        goto fail;
    step = "load";
    err = tcp_bpf__load(s);
    if (err)
        goto fail;
    step = "attach";
    err = tcp_bpf__attach(s);
    if (err)
        goto fail;
    b->tcp = s;
    b->sock_svc_fd = bpf_map__fd(s->maps.vg_sock_svc);
    b->retrans_fd = bpf_map__fd(s->maps.vg_retrans);
    return 0;
fail:
    report("tcp: %s: %s", step, strerror(-err));
    tcp_bpf__destroy(s);
    return err;
}

static int on_record(void *ctx, void *data, size_t size)
{
    struct ag_bpf *b = ctx;
    const struct ag_bpf_handlers *h = b->h;
    uint32_t kind;

    /* The next record (records are 8-aligned, each after an 8-byte header; the data pages are
     * mapped twice, so past the end is the start again): its first lines, header, 4-tuple and
     * the start of the payload, are on their way in while this one is parsed. The kernel wrote
     * them on another CPU, and that first touch was the agent's largest single cost (perf:
     * 14 % of its time on the first read of a record's tuple). Measured: ~290 against ~300 ns
     * per event in one series of runs, 259 against 325 in another; 8 lines did no better. */
    const char *next = (const char *)data + ((size + 7) & ~(size_t)7) + 8;
    for (int i = 0; i < 4; i++)
        __builtin_prefetch(next + 64 * i);
    if (size < sizeof(kind)) {
        b->malformed++;
        return 0;
    }
    memcpy(&kind, data, sizeof(kind));
    if (kind == VG_EV_XFER) {
        const struct vg_xfer_event *e = data;
        size_t head = offsetof(struct vg_xfer_event, data);

        if (size < head || size < head + e->head_len + e->tail_len) {
            b->malformed++;
            return 0;
        }
        if (h && h->on_xfer)
            h->on_xfer(b->h_ctx, e);
    } else if (kind == VG_EV_CONN && size >= sizeof(struct vg_conn_event)) {
        if (h && h->on_conn)
            h->on_conn(b->h_ctx, data);
    } else if (kind == VG_EV_PROC && size >= sizeof(struct vg_proc_event)) {
        if (h && h->on_proc)
            h->on_proc(b->h_ctx, data);
    } else {
        b->malformed++;
    }
    return 0;
}

void ag_bpf_close(struct ag_bpf *b)
{
    if (!b)
        return;
    if (b->ring_pos)
        munmap(b->ring_pos, 2 * b->page);
    ring_buffer__free(b->ring);
    /* Destroying a skeleton detaches its links and closes its programs and maps. */
    proc_bpf__destroy(b->proc);
    syscalls_bpf__destroy(b->syscalls);
    tcp_bpf__destroy(b->tcp);
    if (b->counters_fd >= 0)
        close(b->counters_fd);
    if (b->gen)
        munmap(b->gen, (size_t)sysconf(_SC_PAGESIZE));
    if (b->gen_fd >= 0)
        close(b->gen_fd);
    if (b->events_fd >= 0)
        close(b->events_fd);
    if (b->watched_fd >= 0)
        close(b->watched_fd);
    free(b);
}

int ag_bpf_open(const struct ag_bpf_conf *conf, struct ag_bpf **out)
{
    LIBBPF_OPTS(bpf_object_open_opts, oo);
    struct ag_bpf *b;
    int err;

    if (!conf || !out || conf->n_lat_bounds > VG_LAT_BOUNDS_MAX)
        return -EINVAL;
    libbpf_verbose = conf->verbose;
    libbpf_set_print(libbpf_print);
    err = ag_bpf_check_host(conf->btf_path);
    if (err)
        return err;
    b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->watched_fd = b->events_fd = b->counters_fd = b->gen_fd = b->stats_fd = b->errs_fd = -1;
    b->sock_svc_fd = b->retrans_fd = b->quiet_fd = -1;
    b->ncpus = libbpf_num_possible_cpus();
    if (b->ncpus <= 0) {
        err = b->ncpus ? b->ncpus : -EINVAL;
        goto fail;
    }
    b->n_bounds = conf->lat_bounds_ns ? conf->n_lat_bounds : VG_LAT_BOUNDS_MAX;
    memcpy(b->bounds, conf->lat_bounds_ns ? conf->lat_bounds_ns : default_bounds,
           b->n_bounds * sizeof(uint64_t));
    err = create_shared_maps(b, conf);
    if (err)
        goto fail;
    oo.btf_custom_path = conf->btf_path;
    if ((conf->parts & AG_BPF_PROC) && load_proc(b, conf, &oo) == 0)
        b->parts |= AG_BPF_PROC;
    /* tcp before sockio: sockio records socket owners only into a running tcp part's map. */
    if ((conf->parts & AG_BPF_TCP) && load_tcp(b, conf, &oo) == 0)
        b->parts |= AG_BPF_TCP;
    if (conf->parts & (AG_BPF_SOCKIO | AG_BPF_SYSCALLS))
        load_syscalls(b, conf, &oo); /* sets its parts in b->parts */
    if (!b->parts) {
        report("no BPF part could be loaded");
        err = -ENOEXEC;
        goto fail;
    }
    b->ring = ring_buffer__new(b->events_fd, on_record, b, NULL);
    if (!b->ring) {
        err = -errno;
        report("ring buffer: %s", strerror(-err));
        goto fail;
    }
    /* Page 0 holds the consumer position, page 1 the producer's: the fill gauge reads both.
     * Without them the agent still runs; the gauge stays 0. */
    b->page = (size_t)sysconf(_SC_PAGESIZE);
    b->ring_bytes = ring_size(conf->ring_bytes ? conf->ring_bytes : RING_DEFAULT);
    b->ring_pos = mmap(NULL, 2 * b->page, PROT_READ, MAP_SHARED, b->events_fd, 0);
    if (b->ring_pos == MAP_FAILED) {
        report("ring buffer: mapping its positions: %s (the fill gauge stays 0)", strerror(errno));
        b->ring_pos = NULL;
    }
    *out = b; /* the caller owns b: ag_bpf_close() */
    return 0;
fail:
    ag_bpf_close(b);
    return err;
}

unsigned ag_bpf_parts(const struct ag_bpf *b)
{
    return b->parts;
}

int ag_bpf_watch(struct ag_bpf *b, uint32_t tgid, uint32_t svc)
{
    if (svc >= VG_SVC_NONE)
        return -EINVAL;
    if (bpf_map_update_elem(b->watched_fd, &tgid, &svc, BPF_ANY))
        return -errno;
    bump_gen(b);
    return 0;
}

int ag_bpf_unwatch(struct ag_bpf *b, uint32_t tgid)
{
    if (bpf_map_delete_elem(b->watched_fd, &tgid))
        return errno == ENOENT ? 0 : -errno;
    bump_gen(b);
    return 0;
}

int ag_bpf_quiet(struct ag_bpf *b, uint32_t tgid, uint64_t sock_ino)
{
    struct vg_quiet_key key = {.ino = sock_ino, .tgid = tgid};
    uint8_t one = 1;

    if (b->quiet_fd < 0)
        return -ENOENT;
    return bpf_map_update_elem(b->quiet_fd, &key, &one, BPF_ANY) ? -errno : 0;
}

int ag_bpf_watched(struct ag_bpf *b, uint32_t tgid, uint32_t *svc)
{
    return bpf_map_lookup_elem(b->watched_fd, &tgid, svc) ? -errno : 0;
}

int ag_bpf_poll(struct ag_bpf *b, int timeout_ms, const struct ag_bpf_handlers *h, void *ctx)
{
    int n;

    b->h = h;
    b->h_ctx = ctx;
    n = ring_buffer__poll(b->ring, timeout_ms);
    /* Records below the wake-up mark (vg_ring_flags) arrive without waking epoll: read
     * whatever is there once the wait is over. */
    if (n >= 0) {
        int m = ring_buffer__consume(b->ring);

        n = m < 0 ? m : n + m;
    }
    b->h = NULL;
    return n;
}

int ag_bpf_epoll_fd(const struct ag_bpf *b)
{
    return ring_buffer__epoll_fd(b->ring);
}

int ag_bpf_consume(struct ag_bpf *b, const struct ag_bpf_handlers *h, void *ctx)
{
    int n;

    b->h = h;
    b->h_ctx = ctx;
    n = ring_buffer__consume(b->ring);
    b->h = NULL;
    return n;
}

int ag_bpf_syscall_stats(struct ag_bpf *b, ag_bpf_sys_cb cb, void *ctx)
{
    struct vg_sys_stats *vals;
    struct vg_sys_key key, next;
    void *prev = NULL;

    if (b->stats_fd < 0)
        return -ENOENT;
    vals = calloc((size_t)b->ncpus, sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    while (bpf_map_get_next_key(b->stats_fd, prev, &next) == 0) {
        struct vg_sys_stats sum = {0};

        key = next;
        prev = &key;
        if (bpf_map_lookup_elem(b->stats_fd, &key, vals))
            continue; /* deleted meanwhile */
        for (int c = 0; c < b->ncpus; c++) {
            sum.count += vals[c].count;
            sum.errors += vals[c].errors;
            sum.lat_sum_ns += vals[c].lat_sum_ns;
            for (int i = 0; i < VG_LAT_BUCKETS; i++)
                sum.lat[i] += vals[c].lat[i];
        }
        cb(ctx, &key, &sum);
    }
    free(vals);
    return 0;
}

int ag_bpf_syscall_errors(struct ag_bpf *b, ag_bpf_err_cb cb, void *ctx)
{
    struct vg_sys_err_key key, next;
    void *prev = NULL;
    uint64_t *vals;

    if (b->errs_fd < 0)
        return -ENOENT;
    vals = calloc((size_t)b->ncpus, sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    while (bpf_map_get_next_key(b->errs_fd, prev, &next) == 0) {
        uint64_t sum = 0;

        key = next;
        prev = &key;
        if (bpf_map_lookup_elem(b->errs_fd, &key, vals))
            continue;
        for (int c = 0; c < b->ncpus; c++)
            sum += vals[c];
        cb(ctx, &key, sum);
    }
    free(vals);
    return 0;
}

/* Deletes every key of map fd whose leading u32 (the service index) is svc. Keys are collected
 * first: deleting while walking with get_next_key restarts the walk on some map types. */
static int forget_svc(int fd, size_t key_size, uint32_t svc)
{
    size_t n = 0, cap = 64;
    uint8_t *keys = malloc(cap * key_size), *prev = NULL, next[32];
    int err = 0;

    if (!keys)
        return -ENOMEM;
    while (bpf_map_get_next_key(fd, prev, next) == 0) {
        if (n == cap) {
            uint8_t *grown = realloc(keys, 2 * cap * key_size);

            if (!grown) {
                err = -ENOMEM;
                break;
            }
            keys = grown;
            cap *= 2;
        }
        memcpy(keys + n * key_size, next, key_size);
        prev = keys + n * key_size;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t key_svc;

        memcpy(&key_svc, keys + i * key_size, sizeof(key_svc));
        if (key_svc == svc)
            bpf_map_delete_elem(fd, keys + i * key_size);
    }
    free(keys);
    return err;
}

int ag_bpf_syscall_forget(struct ag_bpf *b, uint32_t svc)
{
    int err;

    if (b->stats_fd < 0)
        return -ENOENT;
    err = forget_svc(b->stats_fd, sizeof(struct vg_sys_key), svc);
    if (!err)
        err = forget_svc(b->errs_fd, sizeof(struct vg_sys_err_key), svc);
    return err;
}

size_t ag_bpf_lat_bounds(const struct ag_bpf *b, const uint64_t **bounds)
{
    *bounds = b->bounds;
    return b->n_bounds;
}

int ag_bpf_counters(struct ag_bpf *b, struct ag_bpf_counters *out)
{
    uint64_t sum[VG_CNT_MAX] = {0}, *vals = calloc((size_t)b->ncpus, sizeof(uint64_t));

    if (!vals)
        return -ENOMEM;
    for (uint32_t i = 0; i < VG_CNT_MAX; i++) {
        if (bpf_map_lookup_elem(b->counters_fd, &i, vals))
            continue;
        for (int c = 0; c < b->ncpus; c++)
            sum[i] += vals[c];
    }
    free(vals);
    *out = (struct ag_bpf_counters){
        .events_xfer = sum[VG_CNT_XFER],
        .events_conn = sum[VG_CNT_CONN],
        .events_proc = sum[VG_CNT_PROC],
        .drop_xfer = sum[VG_CNT_DROP_XFER],
        .drop_conn = sum[VG_CNT_DROP_CONN],
        .drop_proc = sum[VG_CNT_DROP_PROC],
        .drop_stats = sum[VG_CNT_DROP_STATS],
        .drop_watch = sum[VG_CNT_DROP_WATCH],
        .skip_unix = sum[VG_CNT_SKIP_UNIX],
        .skip_other = sum[VG_CNT_SKIP_OTHER],
        .retrans_unowned = sum[VG_CNT_RETRANS_UNOWNED],
        .xfer_quiet = sum[VG_CNT_XFER_QUIET],
        .malformed = b->malformed,
    };
    return 0;
}

int ag_bpf_tcp_retransmits(struct ag_bpf *b, ag_bpf_retrans_cb cb, void *ctx)
{
    uint32_t key, next;
    void *prev = NULL;
    uint64_t *vals;

    if (b->retrans_fd < 0)
        return -ENOENT;
    vals = calloc((size_t)b->ncpus, sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    while (bpf_map_get_next_key(b->retrans_fd, prev, &next) == 0) {
        uint64_t sum = 0;

        key = next;
        prev = &key;
        if (bpf_map_lookup_elem(b->retrans_fd, &key, vals))
            continue;
        for (int c = 0; c < b->ncpus; c++)
            sum += vals[c];
        cb(ctx, key, sum);
    }
    free(vals);
    return 0;
}

void ag_bpf_ring_fill(const struct ag_bpf *b, uint64_t *used, uint64_t *size)
{
    uint64_t cons, prod;

    *used = 0;
    *size = b->ring_bytes;
    if (!b->ring_pos)
        return;
    /* The kernel advances the producer with release semantics; read it, then the consumer
     * (which only this process moves), so that used never goes negative. */
    prod =
        __atomic_load_n((const uint64_t *)((const char *)b->ring_pos + b->page), __ATOMIC_ACQUIRE);
    cons = __atomic_load_n((const uint64_t *)b->ring_pos, __ATOMIC_ACQUIRE);
    *used = prod > cons ? prod - cons : 0;
}

int64_t ag_bpf_boot_offset_ns(void)
{
    struct timespec m0, r, m1;
    int64_t mono;

    /* Bracket the wall-clock read by two monotonic reads and take their midpoint. */
    clock_gettime(CLOCK_MONOTONIC, &m0);
    clock_gettime(CLOCK_REALTIME, &r);
    clock_gettime(CLOCK_MONOTONIC, &m1);
    mono = ((int64_t)m0.tv_sec * 1000000000 + m0.tv_nsec + (int64_t)m1.tv_sec * 1000000000 +
            m1.tv_nsec) /
           2;
    return (int64_t)r.tv_sec * 1000000000 + r.tv_nsec - mono;
}

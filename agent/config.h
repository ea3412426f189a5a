/*
 * ag_config: vigil-agent's settings from a YAML file (--config) and command-line overrides.
 * Every error is one line "vigil-agent: FILE:LINE: key: why: 'value'" (or "--option: why") and
 * the caller exits 2; validation finishes before any BPF or network work starts.
 * agent/vigil-agent.yaml is the commented example of every key.
 */
#ifndef AG_CONFIG_H
#define AG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

#define AG_VERSION "0.1.0"

enum ag_watch_mode { AG_WATCH_ALL, AG_WATCH_LIST };
enum ag_log_level { AG_LOG_ERROR, AG_LOG_WARN, AG_LOG_INFO, AG_LOG_DEBUG };

/* Which processes to watch. AG_WATCH_LIST: a process matching any entry (never the agent). */
struct ag_watch {
    enum ag_watch_mode mode;
    char **exe; /* executable basenames (or comm) */
    size_t nexe;
    char **cgroup; /* path prefixes in /proc/PID/cgroup, e.g. /system.slice/nginx.service */
    size_t ncgroup;
    pid_t *pid;
    size_t npid;
};

struct ag_config {
    char listen[64]; /* as written, e.g. 127.0.0.1:9400 or [::1]:9400 */
    struct sockaddr_storage listen_addr;
    socklen_t listen_addr_len;
    char *btf; /* NULL: the kernel's /sys/kernel/btf/vmlinux */
    struct ag_watch watch;
    uint32_t head_bytes, tail_bytes; /* payload capture per transfer */
    uint32_t ring_buffer_bytes;      /* a power of two, a multiple of the page size */
    double *buckets;
    size_t nbuckets;
    size_t series_limit;
    double stale_after;    /* seconds */
    char **route_patterns; /* e.g. /api/products/{id}; handed to route folding */
    size_t nroute_patterns;
    bool syscalls_enabled, syscalls_latency;
    enum ag_log_level log_level;
};

enum ag_config_result {
    AG_CONFIG_RUN = 0,   /* *out is set: run the agent */
    AG_CONFIG_DONE = 1,  /* --help or --version was printed: exit 0 */
    AG_CONFIG_ERROR = 2, /* one line went to err: exit 2 */
};

/* Parses argv (and the --config file); messages go to err (--help/--version to out). */
enum ag_config_result ag_config_from_args(int argc, char **argv, FILE *out, FILE *err,
                                          struct ag_config **conf);
/* Loads only a file over the defaults; for tests. */
enum ag_config_result ag_config_load_file(const char *path, FILE *err, struct ag_config **conf);
void ag_config_free(struct ag_config *conf);

/* Parses "ADDR:PORT", "[V6]:PORT" or ":PORT" (all addresses). 0 or -EINVAL. */
int ag_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif

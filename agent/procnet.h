/*
 * procnet: a pure parser of /proc/net/tcp and /proc/net/tcp6 (kernel text, parsed as untrusted
 * bytes: tests/fuzz/fuzz_procnet.c). The kernel prints each address as 32-bit words in host byte
 * order ("0100007F" is 127.0.0.1 on x86_64) and ports in plain hex.
 */
#ifndef AG_PROCNET_H
#define AG_PROCNET_H

#include <stddef.h>
#include <stdint.h>

/* include/net/tcp_states.h */
enum ag_tcp_state { AG_TCP_ESTABLISHED = 1, AG_TCP_CLOSE_WAIT = 8, AG_TCP_LISTEN = 10 };

/* The same layout as struct ag_ct_ep (conntrack.h), and the same view as the BPF side's
 * vg_tuple: an AF_INET6 socket carrying IPv4 keeps its v4-mapped addresses (::ffff:a.b.c.d),
 * so a seeded connection and one the kernel reports compare equal. ag_tuple_unmap() gives the
 * IPv4 form for labels. */
struct ag_tuple {
    uint16_t family;       /* AF_INET or AF_INET6 */
    uint16_t lport, rport; /* host byte order */
    uint8_t laddr[16];     /* network byte order; AF_INET uses the first 4 bytes */
    uint8_t raddr[16];
};

struct ag_procnet_entry {
    struct ag_tuple tuple;
    uint8_t state;  /* enum ag_tcp_state and the rest of tcp_states.h */
    uint64_t inode; /* 0 for sockets no process holds (TIME_WAIT) */
};

/* Parses one line; 1 and *e set for a socket row, 0 for the header, -1 for a malformed line.
 * line need not be NUL-terminated; is_v6 selects the tcp6 address width. */
int ag_procnet_parse_line(const char *line, size_t len, int is_v6, struct ag_procnet_entry *e);

typedef int (*ag_procnet_fn)(const struct ag_procnet_entry *e, void *ctx);
/* Calls fn for each socket row of a whole file; skips malformed lines (counted in *bad if
 * non-NULL). Stops early when fn returns non-zero and returns that value; otherwise 0. */
int ag_procnet_parse(const char *buf, size_t len, int is_v6, ag_procnet_fn fn, void *ctx,
                     size_t *bad);

/* Rewrites an AF_INET6 tuple whose two addresses are v4-mapped as the AF_INET tuple. */
void ag_tuple_unmap(struct ag_tuple *t);

/* Whether two addresses of a family are equal, or a is the wildcard (0.0.0.0 or ::). */
int ag_addr_matches(uint8_t family, const uint8_t *wild, const uint8_t *addr);

#endif

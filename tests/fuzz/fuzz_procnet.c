/* libFuzzer: /proc/net/tcp and tcp6 text is kernel output, but the parser must survive any
 * bytes (a kernel that prints a new column, a truncated read). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "procnet.h"

static int check_row(const struct ag_procnet_entry *e, void *ctx)
{
    (void)ctx;
    /* Touch every field so the sanitizers see any uninitialised or out-of-bounds write. */
    volatile uint64_t sink = e->inode + e->state + e->tuple.lport + e->tuple.rport;
    for (int i = 0; i < 16; i++)
        sink += e->tuple.laddr[i] + e->tuple.raddr[i];
    (void)sink;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t bad = 0;
    if (size == 0)
        return 0;
    /* The first byte picks the table; the rest is the file, not NUL-terminated. */
    int is_v6 = data[0] & 1;
    ag_procnet_parse((const char *)data + 1, size - 1, is_v6, check_row, NULL, &bad);
    struct ag_procnet_entry e;
    if (ag_procnet_parse_line((const char *)data + 1, size - 1, is_v6, &e) == 1) {
        struct ag_tuple t = e.tuple;
        ag_tuple_unmap(&t);
    }
    return 0;
}

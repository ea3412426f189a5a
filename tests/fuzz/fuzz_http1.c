/* libFuzzer target: the HTTP/1.1 parser over arbitrary bytes cut into transfers. */
#include "fuzz_proto.h"
#include "proto/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_input in;
    struct ag_http1_state st;
    struct ag_msg last, head = {0};
    uint64_t emitted = 0;
    enum ag_role role;

    if (!fz_parse(data, size, &in))
        return 0;
    ag_http1_init(&st, in.role);
    strcpy(head.op, (data[0] & 2) ? "HEAD" : "CONNECT");
    if (data[0] & 4)
        ag_http1_expect(&st, &head);
    FZ_RUN(&in, &st, ag_http1_feed, AG_PROTO_HTTP1, emitted);
    fz_check_stats(&st.stats, emitted);
    if (ag_http1_finish(&st, 1000, &last))
        fz_check(&last, 1, 1, AG_PARSE_OK, AG_PROTO_HTTP1);
    struct ag_xfer x = {AG_DIR_INGRESS, in.len, in.payload, (uint32_t)in.len, NULL, 0, 1, 2};
    ag_http1_detect(&x, &role);
    return 0;
}

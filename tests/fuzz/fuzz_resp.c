/* libFuzzer target: the Redis RESP2 parser over arbitrary bytes cut into transfers. */
#include "fuzz_proto.h"
#include "proto/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_input in;
    struct ag_resp_state st;
    uint64_t emitted = 0;
    enum ag_role role;

    if (!fz_parse(data, size, &in))
        return 0;
    ag_resp_init(&st, in.role);
    FZ_RUN(&in, &st, ag_resp_feed, AG_PROTO_RESP, emitted);
    fz_check_stats(&st.stats, emitted);
    struct ag_xfer x = {AG_DIR_INGRESS, in.len, in.payload, (uint32_t)in.len, NULL, 0, 1, 2};
    ag_resp_detect(&x, &role);
    return 0;
}

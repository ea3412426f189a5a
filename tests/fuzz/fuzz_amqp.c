/* libFuzzer target: the AMQP 0-9-1 parser over arbitrary bytes cut into transfers. */
#include "fuzz_proto.h"
#include "proto/amqp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_input in;
    struct ag_amqp_state st;
    uint64_t emitted = 0;
    enum ag_role role;

    if (!fz_parse(data, size, &in))
        return 0;
    ag_amqp_init(&st, in.role);
    FZ_RUN(&in, &st, ag_amqp_feed, AG_PROTO_AMQP, emitted);
    fz_check_stats(&st.stats, emitted);
    struct ag_xfer x = {AG_DIR_INGRESS, in.len, in.payload, (uint32_t)in.len, NULL, 0, 1, 2};
    ag_amqp_detect(&x, &role);
    return 0;
}

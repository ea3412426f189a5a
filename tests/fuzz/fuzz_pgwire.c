/* libFuzzer target: the PostgreSQL wire parser over arbitrary bytes cut into transfers; the
 * response side is told about a few pending requests first. */
#include "fuzz_proto.h"
#include "proto/pgwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_input in;
    struct ag_pgwire_state st;
    uint64_t emitted = 0;
    enum ag_role role;

    if (!fz_parse(data, size, &in))
        return 0;
    ag_pgwire_init(&st, in.role);
    for (int i = 0; i < (data[0] >> 2) % 8; i++) {
        struct ag_msg m = {.proto = AG_PROTO_PGWIRE, .status = (uint8_t) "QES"[i % 3]};
        ag_pgwire_expect(&st, &m);
    }
    FZ_RUN(&in, &st, ag_pgwire_feed, AG_PROTO_PGWIRE, emitted);
    fz_check_stats(&st.stats, emitted);
    struct ag_xfer x = {AG_DIR_INGRESS, in.len, in.payload, (uint32_t)in.len, NULL, 0, 1, 2};
    ag_pgwire_detect(&x, &role);
    char op[AG_PG_OP_MAX];
    ag_pg_sql_verb(in.payload, in.len, op, sizeof(op));
    fz_check_str(op, sizeof(op));
    return 0;
}

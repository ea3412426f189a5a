/* Helpers shared by the protocol parsers: visible spans of a transfer and bounded output. */
#include "proto.h"

#include <string.h>

int ag_xfer_spans(const struct ag_xfer *x, struct ag_span sp[2])
{
    uint64_t head = x->head_len < x->total ? x->head_len : x->total;
    uint64_t tail = x->tail_len < x->total ? x->tail_len : x->total;
    uint64_t tail_start = x->total - tail;
    int n = 0;

    if (head > 0 && x->head) {
        sp[n++] = (struct ag_span){x->head, 0, (uint32_t)head};
    } else {
        head = 0;
    }
    if (tail > 0 && x->tail) {
        /* The tail may overlap the head when total < head_len + tail_len: keep the new part. */
        uint64_t start = tail_start > head ? tail_start : head;
        if (start < x->total)
            sp[n++] = (struct ag_span){x->tail + (start - tail_start), start,
                                       (uint32_t)(x->total - start)};
    }
    return n;
}

void ag_out_emit(struct ag_out *o, const struct ag_msg *m)
{
    o->stats->msgs++;
    if (o->n >= o->max) {
        o->stats->dropped_msgs++;
        return;
    }
    o->v[o->n++] = *m;
}

void ag_copy_str(char *dst, size_t dstsz, const uint8_t *src, size_t n)
{
    if (dstsz == 0)
        return;
    if (n > dstsz - 1)
        n = dstsz - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ag_pipeline: wires the BPF loader (agent/bpf.h), discovery and the connection tracker
 * (agent/conntrack.h) into the metrics registry. */
#ifndef AG_PIPELINE_H
#define AG_PIPELINE_H

#include "agent.h"

/* After the /proc scan: seeds the tracker, loads and attaches the BPF programs, watches the
 * discovered processes and adds the ring buffer to the loop. 0 or a negative errno (the
 * loader has printed why). */
int ag_pipeline_start(struct ag_agent *ag);
/* Once a second: syscall maps and drop counters into the registry, idle connections out. */
void ag_pipeline_tick(struct ag_agent *ag);
/* Detaches every BPF program and frees the tracker; safe after a failed start. */
void ag_pipeline_stop(struct ag_agent *ag);

#endif

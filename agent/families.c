/* ag_families: names, help and frozen label sets in one table-like place. */
#include "families.h"

#include <stddef.h>

/* Where events come from: the ring buffers of agent/bpf.c. Kept in step with it. */
const char *const ag_event_sources[] = {"socket", "process", "syscall", NULL};
/* Events lost, never deliberate filtering (DESIGN.md). */
const char *const ag_drop_reasons[] = {"ringbuf_full", "reassembly_overflow", NULL};
/* The parsers of agent/proto/, named as db_system_name names them where one exists. */
const char *const ag_protocols[] = {"http", "postgresql", "redis", "amqp", NULL};

#define LABELS(...)                                                                                \
    (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

static int add(struct ag_registry *reg, struct ag_family **out, const char *name,
               enum ag_metric_type type, const char *help, const char *const *labels,
               size_t nlabels)
{
    return ag_registry_add(
        reg,
        &(struct ag_family_desc){
            .name = name, .help = help, .type = type, .labels = labels, .nlabels = nlabels},
        out);
}

static int seed(struct ag_family *fam, const char *const *values)
{
    for (size_t i = 0; values[i]; i++) {
        int err = ag_series_touch(fam, &values[i]);
        if (err)
            return err;
    }
    return 0;
}

int ag_families_register(struct ag_registry *r, struct ag_families *f)
{
    int err = 0;
    err = err ? err
              : add(r, &f->http_server_duration, "http_server_request_duration_seconds",
                    AG_HISTOGRAM, "Duration of HTTP server requests, as seen on the socket.",
                    LABELS("service_name", "http_request_method", "http_response_status_code",
                           "http_route"));
    err = err ? err
              : add(r, &f->http_client_duration, "http_client_request_duration_seconds",
                    AG_HISTOGRAM, "Duration of HTTP client requests, as seen on the socket.",
                    LABELS("service_name", "http_request_method", "http_response_status_code",
                           "http_route", "server_address", "server_port"));
    err = err ? err
              : add(r, &f->db_client_duration, "db_client_operation_duration_seconds", AG_HISTOGRAM,
                    "Duration of database client operations (PostgreSQL, Redis).",
                    LABELS("service_name", "db_system_name", "db_operation_name"));
    err = err ? err
              : add(r, &f->messaging_duration, "messaging_client_operation_duration_seconds",
                    AG_HISTOGRAM, "Duration of messaging client operations (RabbitMQ).",
                    LABELS("service_name", "messaging_system", "messaging_operation_name",
                           "messaging_destination_name"));
    err =
        err ? err
            : add(r, &f->syscalls, "vigil_syscalls_total", AG_COUNTER,
                  "System calls made, by service and syscall.", LABELS("service_name", "syscall"));
    err = err ? err
              : add(r, &f->syscall_errors, "vigil_syscall_errors_total", AG_COUNTER,
                    "System calls that returned an error, by errno name.",
                    LABELS("service_name", "syscall", "errno"));
    err =
        err ? err
            : add(r, &f->syscall_duration, "vigil_syscall_duration_seconds", AG_HISTOGRAM,
                  "Time spent in system calls, entry to exit.", LABELS("service_name", "syscall"));
    /* Retransmits run in softirq, so the owner comes from the socket (ebpf/tcp.bpf.c), not
     * the current pid; retransmits on sockets no watched process used are not counted. */
    err = err ? err
              : add(r, &f->tcp_retransmits, "vigil_tcp_retransmits_total", AG_COUNTER,
                    "TCP segments retransmitted, by the service owning the socket.",
                    LABELS("service_name"));
    err = err ? err
              : add(r, &f->security_alerts, "vigil_security_alerts_total", AG_COUNTER,
                    "Security rule matches, by rule and priority.", LABELS("rule", "priority"));
    err = err ? err
              : add(r, &f->events, "vigil_agent_events_total", AG_COUNTER,
                    "Events read from the kernel, by source.", LABELS("source"));
    err = err ? err
              : add(r, &f->events_dropped, "vigil_agent_events_dropped_total", AG_COUNTER,
                    "Events lost (ring buffer full, reassembly buffer overflow); never filtering.",
                    LABELS("reason"));
    /* The kernel's ring buffer: the largest share of it seen waiting for user space since the
     * previous tick (sampled at each wake-up and at the tick). Near 1, drops are coming. */
    err = err ? err
              : add(r, &f->ringbuf_fill, "vigil_agent_ringbuf_fill_ratio", AG_GAUGE,
                    "Largest fraction of the event ring buffer found unread in the last second.",
                    NULL, 0);
    err = err ? err
              : add(r, &f->parse_resyncs, "vigil_agent_parse_resyncs_total", AG_COUNTER,
                    "Times a parser lost framing and resynchronised at a later message.",
                    LABELS("protocol"));
    err = err ? err
              : add(r, &f->unparsed_bytes, "vigil_unparsed_bytes_total", AG_COUNTER,
                    "Bytes on connections no protocol parser claimed.", LABELS("service_name"));
    err = err ? err
              : add(r, &f->export_queue_bytes, "vigil_agent_export_queue_bytes", AG_GAUGE,
                    "Bytes waiting in an exporter's queue or spool.", LABELS("exporter"));
    err = err ? err
              : add(r, &f->export_failures, "vigil_agent_export_failures_total", AG_COUNTER,
                    "Failed export attempts, by exporter.", LABELS("exporter"));
    err = err ? err : seed(f->events, ag_event_sources);
    err = err ? err : seed(f->events_dropped, ag_drop_reasons);
    err = err ? err : seed(f->parse_resyncs, ag_protocols);
    err = err ? err : ag_gauge_set(f->ringbuf_fill, NULL, 0);
    return err;
}

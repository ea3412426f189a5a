/* ag_families: every metric family of DESIGN.md ("Names — frozen label sets"), registered once
 * at start-up so each is present in /metrics from the first scrape. */
#ifndef AG_FAMILIES_H
#define AG_FAMILIES_H

#include "registry.h"

struct ag_families {
    /* RED, OpenTelemetry semantic conventions in Prometheus spelling */
    struct ag_family *http_server_duration; /* service_name, http_request_method,
                                               http_response_status_code, http_route */
    struct ag_family *http_client_duration; /* the same + server_address, server_port */
    struct ag_family *db_client_duration;   /* service_name, db_system_name, db_operation_name */
    struct ag_family *messaging_duration;   /* service_name, messaging_system,
                                               messaging_operation_name,
                                               messaging_destination_name */
    /* syscalls and TCP */
    struct ag_family *syscalls;         /* service_name, syscall */
    struct ag_family *syscall_errors;   /* service_name, syscall, errno */
    struct ag_family *syscall_duration; /* service_name, syscall */
    struct ag_family *tcp_retransmits;  /* service_name */
    struct ag_family *security_alerts;  /* rule, priority */
    /* agent health: present at 0 from the start */
    struct ag_family *events;             /* source */
    struct ag_family *events_dropped;     /* reason */
    struct ag_family *ringbuf_fill;       /* no labels: most of the ring seen in use per tick */
    struct ag_family *parse_resyncs;      /* protocol */
    struct ag_family *unparsed_bytes;     /* service_name */
    struct ag_family *export_queue_bytes; /* exporter */
    struct ag_family *export_failures;    /* exporter */
};

/* Label values the agent health families show at 0 before anything happens. */
extern const char *const ag_event_sources[]; /* NULL-terminated */
extern const char *const ag_drop_reasons[];  /* ringbuf_full, reassembly_overflow */
extern const char *const ag_protocols[];     /* http, postgresql, redis, amqp */

/* 0 or a negative errno from ag_registry_add. */
int ag_families_register(struct ag_registry *reg, struct ag_families *f);

#endif

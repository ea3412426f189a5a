/* vg_faults: the incident-drill fault flags of API.md ("Fault flags"). One
 * process-wide set, read by the HTTP server before every faultable request
 * and by services that fault inside their own work (product's slow query). */
#ifndef VG_FAULTS_H
#define VG_FAULTS_H

struct vg_faults {
    double error_rate;     /* 0.0-1.0: share of requests answered 503 unavailable */
    long added_latency_ms; /* sleep before handling */
    long slow_query_ms;    /* product only: delay inside the database query */
};

/* Reads VIGIL_FAULT_ERROR_RATE, VIGIL_FAULT_LATENCY_MS, VIGIL_FAULT_SLOW_QUERY_MS. */
void vg_faults_init_from_env(void);
struct vg_faults vg_faults_get(void);
void vg_faults_set(const struct vg_faults *f);

#endif

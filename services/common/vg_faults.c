#include "vg_faults.h"

#include <pthread.h>

#include "vg_config.h"
#include "vg_log.h"

/* Faults are read on every request by every connection thread; a mutex keeps
 * the three fields consistent with each other (a POST replaces the whole set). */
static pthread_mutex_t faults_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vg_faults faults;

void vg_faults_init_from_env(void)
{
    struct vg_faults f = {
        .error_rate = vg_env_double("VIGIL_FAULT_ERROR_RATE", 0.0, 0.0, 1.0),
        .added_latency_ms = (long)vg_env_int("VIGIL_FAULT_LATENCY_MS", 0, 0, 3600000),
        .slow_query_ms = (long)vg_env_int("VIGIL_FAULT_SLOW_QUERY_MS", 0, 0, 3600000),
    };

    vg_faults_set(&f);
    if (f.error_rate > 0 || f.added_latency_ms > 0 || f.slow_query_ms > 0)
        vg_warn("fault flags set at start: error_rate=%g added_latency_ms=%ld slow_query_ms=%ld",
                f.error_rate, f.added_latency_ms, f.slow_query_ms);
}

struct vg_faults vg_faults_get(void)
{
    struct vg_faults f;

    pthread_mutex_lock(&faults_lock);
    f = faults;
    pthread_mutex_unlock(&faults_lock);
    return f;
}

void vg_faults_set(const struct vg_faults *f)
{
    pthread_mutex_lock(&faults_lock);
    faults = *f;
    pthread_mutex_unlock(&faults_lock);
}

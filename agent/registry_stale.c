/* ag_registry staleness: series of exited services leave after stale_after seconds. */
#include "registry_int.h"

#include <stdlib.h>
#include <string.h>

void ag_registry_service_exited(struct ag_registry *reg, const char *service_name, double now)
{
    pthread_mutex_lock(&reg->lock);
    struct ag_exited *e = reg->exited;
    while (e && strcmp(e->service, service_name) != 0)
        e = e->next;
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (e && !(e->service = strdup(service_name))) {
            free(e);
            e = NULL;
        }
        if (e) {
            e->next = reg->exited;
            reg->exited = e;
        }
    }
    /* Out of memory here only delays removal until the service is marked again. */
    if (e)
        e->since = now;
    pthread_mutex_unlock(&reg->lock);
}

void ag_registry_service_returned(struct ag_registry *reg, const char *service_name)
{
    pthread_mutex_lock(&reg->lock);
    for (struct ag_exited **pp = &reg->exited; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->service, service_name) == 0) {
            struct ag_exited *e = *pp;
            *pp = e->next;
            free(e->service);
            free(e);
            break;
        }
    }
    pthread_mutex_unlock(&reg->lock);
}

/* Removes e's stale series; returns how many of its series remain. */
static size_t sweep_service(struct ag_registry *reg, struct ag_exited *e, double now,
                            size_t *removed)
{
    size_t remain = 0;
    for (struct ag_family *f = reg->families; f; f = f->next) {
        if (f->service_label < 0)
            continue;
        for (struct ag_series *s = f->first, *next; s; s = next) {
            next = s->next;
            if (s->dead || strcmp(s->values[f->service_label], e->service) != 0)
                continue;
            if (now - s->touched >= reg->stale_after) {
                ag_series_remove(f, s);
                (*removed)++;
            } else {
                remain++;
            }
        }
    }
    return remain;
}

size_t ag_registry_sweep(struct ag_registry *reg, double now)
{
    size_t removed = 0;
    pthread_mutex_lock(&reg->lock);
    reg->now = now;
    for (struct ag_exited **pp = &reg->exited; *pp;) {
        struct ag_exited *e = *pp;
        /* Keep the mark while series remain: late events may still update them. */
        if (sweep_service(reg, e, now, &removed) == 0 && now - e->since >= reg->stale_after) {
            *pp = e->next;
            free(e->service);
            free(e);
        } else {
            pp = &e->next;
        }
    }
    pthread_mutex_unlock(&reg->lock);
    return removed;
}

size_t ag_registry_series_count(struct ag_registry *reg)
{
    size_t n = 0;
    pthread_mutex_lock(&reg->lock);
    for (struct ag_family *f = reg->families; f; f = f->next)
        n += f->nseries;
    pthread_mutex_unlock(&reg->lock);
    return n;
}

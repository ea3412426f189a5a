#include "vg_pg.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vg_config.h"
#include "vg_log.h"
#include "vg_slots.h"

/* Failures while the database is down repeat on every request: say so once a while. */
#define PG_WARN_INTERVAL_S 5

struct vg_pg_conn {
    PGconn *pg;
    bool broken;
    char **prepared; /* names prepared on this connection (server-side state) */
    size_t nprepared;
    size_t cap;
};

struct vg_pg_pool {
    pthread_mutex_t warn_lock; /* guards last_warn */
    char *conninfo;
    char connect_timeout[16];
    int acquire_timeout_ms;
    int size;
    struct vg_slots *slots; /* which of conns are taken */
    struct vg_pg_conn *conns;
    time_t last_warn;
};

static void forget_prepared(struct vg_pg_conn *c)
{
    for (size_t i = 0; i < c->nprepared; i++)
        free(c->prepared[i]);
    free(c->prepared);
    c->prepared = NULL;
    c->nprepared = c->cap = 0;
}

static void conn_close(struct vg_pg_conn *c)
{
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    c->broken = false;
    forget_prepared(c);
}

int vg_pg_pool_create(const char *conninfo, int size, int acquire_timeout_ms,
                      struct vg_pg_pool **out)
{
    struct vg_pg_pool *pool;
    int secs;

    if (!conninfo || size <= 0)
        return -EINVAL;
    pool = calloc(1, sizeof(*pool));
    if (!pool)
        return -ENOMEM;
    pool->conninfo = strdup(conninfo);
    pool->conns = calloc((size_t)size, sizeof(*pool->conns));
    if (!pool->conninfo || !pool->conns || vg_slots_create(size, &pool->slots)) {
        free(pool->conninfo);
        free(pool->conns);
        free(pool);
        return -ENOMEM;
    }
    pool->size = size;
    pool->acquire_timeout_ms = acquire_timeout_ms > 0 ? acquire_timeout_ms : 1000;
    /* libpq treats anything under 2 s as 2 s. */
    secs = (pool->acquire_timeout_ms + 999) / 1000;
    snprintf(pool->connect_timeout, sizeof(pool->connect_timeout), "%d", secs < 2 ? 2 : secs);
    pthread_mutex_init(&pool->warn_lock, NULL);
    *out = pool;
    return 0;
}

void vg_pg_pool_destroy(struct vg_pg_pool *pool)
{
    if (!pool)
        return;
    for (int i = 0; i < pool->size; i++)
        conn_close(&pool->conns[i]);
    vg_slots_destroy(pool->slots);
    pthread_mutex_destroy(&pool->warn_lock);
    free(pool->conns);
    free(pool->conninfo);
    free(pool);
}

static void pool_warn(struct vg_pg_pool *pool, const char *what, const char *why)
{
    time_t now = time(NULL);
    bool say;

    pthread_mutex_lock(&pool->warn_lock);
    say = now - pool->last_warn >= PG_WARN_INTERVAL_S;
    if (say)
        pool->last_warn = now;
    pthread_mutex_unlock(&pool->warn_lock);
    if (say)
        vg_warn("postgresql: %s: %s", what, why);
}

/* An idle connection has nothing to read: anything readable is the server
 * saying goodbye (shutdown, restart, idle timeout) or EOF. */
static bool idle_conn_alive(PGconn *pg)
{
    struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};

    if (PQstatus(pg) != CONNECTION_OK || pfd.fd < 0)
        return false;
    return poll(&pfd, 1, 0) == 0;
}

static int conn_open(struct vg_pg_pool *pool, struct vg_pg_conn *c)
{
    /* dbname is expanded as a connection string; the user's connect_timeout
     * there overrides ours because it comes later. */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *const values[] = {pool->connect_timeout, pool->conninfo, NULL};

    conn_close(c);
    c->pg = PQconnectdbParams(keys, values, 1);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        char why[256];
        snprintf(why, sizeof(why), "%s", c->pg ? PQerrorMessage(c->pg) : "out of memory");
        why[strcspn(why, "\n")] = '\0';
        pool_warn(pool, "cannot connect", why);
        conn_close(c);
        return -1;
    }
    return 0;
}

/* vg_slots_take's preference: an open connection is reused before a slot is opened. */
static bool conn_opened(void *pool, int i)
{
    return ((struct vg_pg_pool *)pool)->conns[i].pg != NULL;
}

struct vg_pg_conn *vg_pg_acquire(struct vg_pg_pool *pool)
{
    int i = vg_slots_take(pool->slots, pool->acquire_timeout_ms, conn_opened, pool);
    struct vg_pg_conn *c;

    if (i < 0) {
        pool_warn(pool, "pool exhausted", "no connection free within the acquire timeout");
        return NULL;
    }
    c = &pool->conns[i];
    if (!c->pg || c->broken || !idle_conn_alive(c->pg)) {
        if (conn_open(pool, c)) {
            vg_pg_release(pool, c);
            return NULL;
        }
    }
    return c;
}

void vg_pg_release(struct vg_pg_pool *pool, struct vg_pg_conn *conn)
{
    if (!conn)
        return;
    if (conn->pg && !conn->broken) {
        PGTransactionStatusType ts = PQtransactionStatus(conn->pg);
        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            if (vg_pg_rollback(conn))
                conn->broken = true;
        } else if (ts != PQTRANS_IDLE) {
            conn->broken = true; /* a query still running or the link is gone */
        }
    }
    if (conn->broken)
        conn_close(conn);
    vg_slots_give(pool->slots, (int)(conn - pool->conns));
}

static bool is_prepared(const struct vg_pg_conn *c, const char *name)
{
    for (size_t i = 0; i < c->nprepared; i++)
        if (!strcmp(c->prepared[i], name))
            return true;
    return false;
}

static void remember_prepared(struct vg_pg_conn *c, const char *name)
{
    char *copy = strdup(name);

    if (!copy)
        return; /* prepared again next time: "already exists", harmless but noisy */
    if (c->nprepared == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **grown = realloc(c->prepared, cap * sizeof(*grown));
        if (!grown) {
            free(copy);
            return;
        }
        c->prepared = grown;
        c->cap = cap;
    }
    c->prepared[c->nprepared++] = copy;
}

/* NULL result or a dead link: the connection cannot be trusted any more. */
static bool check_link(struct vg_pg_conn *conn, PGresult *res)
{
    if (res && PQstatus(conn->pg) == CONNECTION_OK)
        return true;
    conn->broken = true;
    PQclear(res);
    return false;
}

PGresult *vg_pg_exec(struct vg_pg_conn *conn, const char *name, const char *sql, int nparams,
                     const char *const *params)
{
    PGresult *res;

    if (!conn->pg || conn->broken)
        return NULL;
    if (!is_prepared(conn, name)) {
        res = PQprepare(conn->pg, name, sql, nparams, NULL);
        if (!check_link(conn, res))
            return NULL;
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return res; /* a SQL error in the statement: the caller reads sqlstate */
        PQclear(res);
        remember_prepared(conn, name);
    }
    res = PQexecPrepared(conn->pg, name, nparams, params, NULL, NULL, 0);
    return check_link(conn, res) ? res : NULL;
}

static int simple(struct vg_pg_conn *conn, const char *sql, const char *want_tag)
{
    PGresult *res;
    int ok;

    if (!conn->pg || conn->broken)
        return -1;
    res = PQexec(conn->pg, sql);
    if (!check_link(conn, res))
        return -1;
    /* COMMIT of a failed transaction "succeeds" with the tag ROLLBACK. */
    ok = PQresultStatus(res) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(res), want_tag);
    PQclear(res);
    return ok ? 0 : -1;
}

int vg_pg_begin(struct vg_pg_conn *conn)
{
    return simple(conn, "BEGIN", "BEGIN");
}

int vg_pg_commit(struct vg_pg_conn *conn)
{
    return simple(conn, "COMMIT", "COMMIT");
}

int vg_pg_rollback(struct vg_pg_conn *conn)
{
    return simple(conn, "ROLLBACK", "ROLLBACK");
}

bool vg_pg_ok(const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

const char *vg_pg_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    return s ? s : "";
}

bool vg_pg_broken(const struct vg_pg_conn *conn)
{
    return !conn->pg || conn->broken;
}

PGconn *vg_pg_raw(struct vg_pg_conn *conn)
{
    return conn->pg;
}

bool vg_pg_ping(struct vg_pg_pool *pool)
{
    struct vg_pg_conn *c = vg_pg_acquire(pool);
    PGresult *res;
    bool ok;

    if (!c)
        return false;
    res = PQexec(c->pg, "SELECT 1");
    ok = check_link(c, res); /* clears res when it fails */
    if (ok) {
        ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
    }
    vg_pg_release(pool, c);
    return ok;
}

struct vg_pg_pool *vg_pg_pool_from_env(int acquire_timeout_ms)
{
    struct vg_pg_pool *pool = NULL;
    int size = (int)vg_env_int("VIGIL_PG_POOL_SIZE", 8, 1, 1024);
    int err = vg_pg_pool_create(vg_env_str("VIGIL_PG_DSN", VG_PG_DEFAULT_DSN), size,
                                acquire_timeout_ms, &pool);

    if (err)
        vg_die("cannot create the PostgreSQL pool: %s", strerror(-err));
    return pool;
}

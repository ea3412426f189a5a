/* vg_pg: a bounded PostgreSQL connection pool over libpq.
 *
 * Statements are always parameterised and prepared: vg_pg_exec prepares a
 * named statement once per connection, then executes it by name. SQL is never
 * built from strings. Connections are opened lazily and reopened after a
 * failure, so the pool recovers from a server restart by itself. When no
 * connection can be had within the acquire timeout (pool exhausted or database
 * down) vg_pg_acquire returns NULL: the caller answers 503 unavailable. */
#ifndef VG_PG_H
#define VG_PG_H

#include <libpq-fe.h>
#include <stdbool.h>

struct vg_pg_pool;
struct vg_pg_conn; /* a pooled connection */

/* conninfo: libpq connection string (password from PGPASSWORD, never the repo). */
int vg_pg_pool_create(const char *conninfo, int size, int acquire_timeout_ms,
                      struct vg_pg_pool **out);
void vg_pg_pool_destroy(struct vg_pg_pool *pool);

#define VG_PG_DEFAULT_DSN "host=127.0.0.1 port=55432 dbname=vigil user=vigil"

/* The pool every service uses: VIGIL_PG_DSN (default VG_PG_DEFAULT_DSN) and
 * VIGIL_PG_POOL_SIZE (default 8). Bad configuration is fatal (vg_die). */
struct vg_pg_pool *vg_pg_pool_from_env(int acquire_timeout_ms);

struct vg_pg_conn *vg_pg_acquire(struct vg_pg_pool *pool);
/* Returns the connection; one left inside a transaction or broken is reset. */
void vg_pg_release(struct vg_pg_pool *pool, struct vg_pg_conn *conn);

/* Executes prepared statement `name` (prepared from sql on first use on this
 * connection). Returns the result (caller PQclear), or NULL when the
 * connection failed (it is marked broken). A SQL error is a non-NULL result
 * with PGRES_FATAL_ERROR: see vg_pg_ok and vg_pg_sqlstate. */
PGresult *vg_pg_exec(struct vg_pg_conn *conn, const char *name, const char *sql, int nparams,
                     const char *const *params);
/* BEGIN / COMMIT / ROLLBACK: 0 or -1. */
int vg_pg_begin(struct vg_pg_conn *conn);
int vg_pg_commit(struct vg_pg_conn *conn);
int vg_pg_rollback(struct vg_pg_conn *conn);

bool vg_pg_ok(const PGresult *res);              /* COMMAND_OK or TUPLES_OK */
const char *vg_pg_sqlstate(const PGresult *res); /* "" when none */
bool vg_pg_broken(const struct vg_pg_conn *conn);
PGconn *vg_pg_raw(struct vg_pg_conn *conn);

/* SELECT 1 through the pool: the hard-dependency health check. */
bool vg_pg_ping(struct vg_pg_pool *pool);

#endif

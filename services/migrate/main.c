/* vg-migrate: applies services/migrations/NNNN_name.sql in version order, each
 * file in its own transaction, and records every applied version in
 * schema_migrations so that a second run applies nothing.
 *
 *   vg-migrate [DIR]      DIR, else VIGIL_MIGRATIONS_DIR, else services/migrations
 *
 * The DSN comes from VIGIL_PG_DSN (password: PGPASSWORD). Exit status: 0 when
 * the database is up to date, 2 on any failure, after one line naming the file
 * and PostgreSQL's message. The files are ours, not user input, so they run
 * through PQexec as multi-statement scripts; they must not contain their own
 * BEGIN/COMMIT. */
#include "migrations.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DSN "host=127.0.0.1 port=55432 dbname=vigil user=vigil"
#define DEFAULT_DIR "services/migrations"
/* Serialises concurrent runs (two services starting at once): an arbitrary
 * constant, held for the session. */
#define MIGRATE_LOCK_KEY "7363637001"

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* libpq's messages span lines ("...failed: refused\n\tIs the server
 * running..."): one line per failure is easier to grep. */
static void print_flat(const char *msg)
{
    int space = 0;

    for (const char *p = msg; *p; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r') {
            space = 1;
            continue;
        }
        if (space)
            fputc(' ', stderr);
        space = 0;
        fputc(*p, stderr);
    }
    fputc('\n', stderr);
}

/* Prints the file, the line the error points at when PostgreSQL gave a
 * position, and the server's message. */
static void report_sql_error(const char *path, const char *sql, const PGresult *res,
                             const PGconn *conn)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;

    if (!msg) {
        /* No result fields: the connection itself failed. */
        fprintf(stderr, "vg-migrate: %s: ", path);
        print_flat(PQerrorMessage(conn));
        return;
    }
    if (pos && sql)
        fprintf(stderr, "vg-migrate: %s:%d: %s (SQLSTATE %s)%s%s\n", path,
                mig_line_of_position(sql, atol(pos)), msg, state ? state : "?", detail ? ": " : "",
                detail ? detail : "");
    else
        fprintf(stderr, "vg-migrate: %s: %s (SQLSTATE %s)%s%s\n", path, msg, state ? state : "?",
                detail ? ": " : "", detail ? detail : "");
}

/* Runs a statement of ours; returns 0 or -1 after reporting. */
static int exec_simple(PGconn *conn, const char *what, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok)
        report_sql_error(what, NULL, res, conn);
    PQclear(res);
    return ok ? 0 : -1;
}

static void notice_to_stderr(void *arg, const char *message)
{
    fprintf(stderr, "vg-migrate: %s: %s", arg ? (const char *)arg : "notice", message);
}

static int prepare_tracking(PGconn *conn)
{
    if (exec_simple(conn, "schema_migrations", "SET client_min_messages TO warning") ||
        exec_simple(conn, "schema_migrations", "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")"))
        return -1;
    return exec_simple(conn, "schema_migrations",
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       " version bigint PRIMARY KEY,"
                       " name text NOT NULL,"
                       " checksum text NOT NULL,"
                       " applied_at timestamptz NOT NULL DEFAULT now())");
}

/* Looks up whether m is applied; warns when its file changed since. Returns
 * 1 applied, 0 not applied, -1 on error. */
static int applied_state(PGconn *conn, const struct mig_file *m)
{
    char version[32];
    const char *params[1] = {version};
    PGresult *res;
    int state;

    snprintf(version, sizeof(version), "%lld", m->version);
    res = PQexecParams(conn, "SELECT checksum FROM schema_migrations WHERE version = $1", 1, NULL,
                       params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        report_sql_error("schema_migrations", NULL, res, conn);
        PQclear(res);
        return -1;
    }
    state = PQntuples(res) > 0;
    if (state && strcmp(PQgetvalue(res, 0, 0), m->checksum) != 0)
        fprintf(stderr,
                "vg-migrate: warning: %s changed after it was applied (applied files are "
                "frozen: add a new migration instead)\n",
                m->name);
    PQclear(res);
    return state;
}

/* Applies one file in its own transaction; returns 0 or -1 after reporting. */
static int apply_one(PGconn *conn, const char *dir, const struct mig_file *m)
{
    char path[4096];
    char version[32];
    const char *params[3] = {version, m->name, m->checksum};
    char *sql = NULL;
    PGresult *res = NULL;

    snprintf(path, sizeof(path), "%s/%s", dir, m->name);
    snprintf(version, sizeof(version), "%lld", m->version);
    if (mig_read_file(path, &sql) != 0)
        return -1;
    PQsetNoticeProcessor(conn, notice_to_stderr, (void *)m->name);
    if (exec_simple(conn, m->name, "BEGIN"))
        goto fail;
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        report_sql_error(path, sql, res, conn);
        goto rollback;
    }
    PQclear(res);
    res = PQexecParams(conn,
                       "INSERT INTO schema_migrations (version, name, checksum) "
                       "VALUES ($1, $2, $3)",
                       3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        report_sql_error("schema_migrations", NULL, res, conn);
        goto rollback;
    }
    PQclear(res);
    res = NULL;
    if (exec_simple(conn, m->name, "COMMIT"))
        goto fail;
    PQsetNoticeProcessor(conn, notice_to_stderr, NULL);
    fprintf(stderr, "vg-migrate: applied %s\n", m->name);
    free(sql);
    return 0;
rollback:
    PQclear(res);
    res = NULL;
    PQclear(PQexec(conn, "ROLLBACK"));
fail:
    PQclear(res);
    free(sql);
    return -1;
}

int main(int argc, char **argv)
{
    const char *dsn = env_or("VIGIL_PG_DSN", DEFAULT_DSN);
    const char *dir = argc > 1 ? argv[1] : env_or("VIGIL_MIGRATIONS_DIR", DEFAULT_DIR);
    struct mig_file *files = NULL;
    size_t nfiles = 0, napplied = 0;
    PGconn *conn = NULL;
    int status = 2;

    if (argc > 2) {
        fprintf(stderr, "usage: vg-migrate [MIGRATIONS_DIR]\n");
        return 2;
    }
    if (mig_list(dir, &files, &nfiles) != 0)
        return 2;
    conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        /* PQerrorMessage never contains the password. */
        fprintf(stderr, "vg-migrate: cannot connect to PostgreSQL (VIGIL_PG_DSN): ");
        print_flat(PQerrorMessage(conn));
        goto out;
    }
    PQsetNoticeProcessor(conn, notice_to_stderr, NULL);
    if (prepare_tracking(conn) != 0)
        goto out;
    for (size_t i = 0; i < nfiles; i++) {
        int state = applied_state(conn, &files[i]);
        if (state < 0)
            goto out;
        if (state == 1)
            continue;
        if (apply_one(conn, dir, &files[i]) != 0)
            goto out;
        napplied++;
    }
    fprintf(stderr, "vg-migrate: %s: %zu migration(s) applied, %zu up to date\n", dir, napplied,
            nfiles - napplied);
    status = 0;
out:
    PQfinish(conn); /* ends the session, releasing the advisory lock */
    free(files);
    return status;
}

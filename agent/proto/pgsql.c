/* PostgreSQL helpers kept out of the framing code: message sanity rules, the prepared statement
 * table, and the SQL verb (db_operation_name: the first keyword only, so no literal, identifier
 * or parameter ever leaves the agent). */
#include "pgwire.h"

#include <string.h>

static size_t skip_space(const uint8_t *s, size_t i, size_t n)
{
    while (i < n) {
        if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '(') {
            i++;
        } else if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
            while (i < n && s[i] != '\n')
                i++;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            for (i += 2; i < n && !(s[i] == '/' && s[i - 1] == '*'); i++)
                ;
            i++;
        } else {
            break;
        }
    }
    return i;
}

static size_t word(const uint8_t *s, size_t i, size_t n, char *w, size_t wsz)
{
    size_t k = 0;

    while (i < n && (((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z') || s[i] == '_')) {
        if (k + 1 < wsz)
            w[k++] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
        i++;
    }
    w[k] = '\0';
    return i;
}

void ag_pg_sql_verb(const uint8_t *sql, size_t n, char *op, size_t opsz)
{
    char w[AG_PG_OP_MAX];
    size_t i = word(sql, skip_space(sql, 0, n), n, w, sizeof(w));
    int depth = 0;

    ag_copy_str(op, opsz, (const uint8_t *)w, strlen(w));
    if (strcmp(w, "WITH") != 0)
        return;
    /* A WITH's statement is the first data-modifying or SELECT verb outside the CTE bodies. */
    while (i < n && sql[i]) {
        uint8_t c = sql[i];
        if (c == '\'' || c == '"') {
            for (i++; i < n && sql[i] != c; i++)
                ;
            i++;
        } else if (c == '(') {
            depth++, i++;
        } else if (c == ')') {
            depth--, i++;
        } else if (depth == 0 && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
            i = word(sql, i, n, w, sizeof(w));
            if (!strcmp(w, "SELECT") || !strcmp(w, "INSERT") || !strcmp(w, "UPDATE") ||
                !strcmp(w, "DELETE") || !strcmp(w, "MERGE")) {
                ag_copy_str(op, opsz, (const uint8_t *)w, strlen(w));
                return;
            }
        } else {
            i++;
        }
    }
}

/* Is type t with length len a message this side sends? Fixed-size messages are checked exactly,
 * which is what makes hunting for a message start in arbitrary bytes reliable. */
int ag_pg_len_ok(int role, uint8_t t, uint32_t len)
{
    if (len < 4 || len > AG_PG_MAX_LEN)
        return 0;
    if (role == AG_ROLE_REQUESTS) {
        switch (t) {
        case 'S':
        case 'H':
        case 'c':
            return len == 4;
        case 'X':
            return len == 4;
        case 'Q':
        case 'p':
        case 'd':
        case 'f':
            return len >= 5;
        case 'P':
            return len >= 8;
        case 'B':
            return len >= 12;
        case 'E':
            return len >= 9;
        case 'D':
        case 'C':
            return len >= 6;
        case 'F':
            return len >= 10;
        }
        return 0;
    }
    switch (t) {
    case 'Z':
        return len == 5;
    case '1':
    case '2':
    case '3':
    case 'n':
    case 's':
    case 'I':
    case 'c':
        return len == 4;
    case 'K':
        return len >= 12;
    case 'R':
        return len >= 8;
    case 'C':
    case 'E':
    case 'N':
    case 'd':
        return len >= 5;
    case 'S':
        return len >= 6;
    case 'T':
    case 'D':
    case 't':
        return len >= 6;
    case 'A':
        return len >= 10;
    case 'G':
    case 'H':
    case 'W':
        return len >= 7;
    case 'V':
    case 'v':
        return len >= 5;
    }
    return 0;
}

/* ---- prepared statements (requests) ---- */

uint64_t ag_pg_name_hash(const uint8_t *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

void ag_pg_stmt_put(struct ag_pgwire_state *st, uint64_t h, const char *op)
{
    struct ag_pg_stmt *slot = &st->u.fe.stmts[0];

    for (int i = 0; i < AG_PG_STMTS; i++) {
        struct ag_pg_stmt *s = &st->u.fe.stmts[i];
        if (s->last_use && s->name_hash == h) {
            slot = s;
            break;
        }
        if (s->last_use < slot->last_use) /* least recently used, free slots first */
            slot = s;
    }
    slot->name_hash = h;
    slot->last_use = ++st->clock;
    ag_copy_str(slot->op, sizeof(slot->op), (const uint8_t *)op, strlen(op));
}

const char *ag_pg_stmt_get(struct ag_pgwire_state *st, uint64_t h)
{
    for (int i = 0; i < AG_PG_STMTS; i++) {
        struct ag_pg_stmt *s = &st->u.fe.stmts[i];
        if (s->last_use && s->name_hash == h) {
            s->last_use = ++st->clock;
            return s->op;
        }
    }
    return "";
}

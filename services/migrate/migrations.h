/* The migration files on disk: NNNN_name.sql, ordered by their number. */
#ifndef MIGRATIONS_H
#define MIGRATIONS_H

#include <stddef.h>

struct mig_file {
    long long version; /* the leading number */
    char name[256];    /* file name without the directory */
    char checksum[17]; /* FNV-1a 64 of the contents, hex: detects edited applied files */
};

/* Lists dir's migrations sorted by version. Returns 0, or -1 after printing
 * why (unreadable directory, two files with one version). The caller frees
 * *out. */
int mig_list(const char *dir, struct mig_file **out, size_t *n);
/* Reads a whole file, NUL-terminated; 0 or -1 after printing why. Caller frees. */
int mig_read_file(const char *path, char **out);
/* The 1-based line holding PostgreSQL's 1-based character position in sql. */
int mig_line_of_position(const char *sql, long position);

#endif

#include "migrations.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NNNN_anything.sql: digits, an underscore, a name, ".sql". */
static int parse_name(const char *name, long long *version)
{
    size_t len = strlen(name);
    const char *p = name;
    long long v = 0;

    if (len < 6 || strcmp(name + len - 4, ".sql") != 0 || !isdigit((unsigned char)*p))
        return -1;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (*p != '_')
        return -1;
    *version = v;
    return 0;
}

static int by_version(const void *a, const void *b)
{
    const struct mig_file *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

static void checksum_hex(const char *data, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)data; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int mig_read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (!f) {
        fprintf(stderr, "vg-migrate: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto fail;
    buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
        goto fail;
    buf[size] = '\0';
    if (strlen(buf) != (size_t)size) {
        fprintf(stderr, "vg-migrate: %s: contains a NUL byte\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    *out = buf; /* the caller owns buf */
    return 0;
fail:
    fprintf(stderr, "vg-migrate: %s: cannot read: %s\n", path, strerror(errno ? errno : EIO));
    free(buf);
    fclose(f);
    return -1;
}

static int add_file(const char *dir, const char *name, long long version, struct mig_file **files,
                    size_t *n, size_t *cap)
{
    char path[4096];
    char *sql = NULL;
    struct mig_file *m;

    if (strlen(name) >= sizeof((*files)->name)) {
        fprintf(stderr, "vg-migrate: %s/%s: file name too long\n", dir, name);
        return -1;
    }
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct mig_file *grown = realloc(*files, ncap * sizeof(*grown));
        if (!grown) {
            fprintf(stderr, "vg-migrate: out of memory\n");
            return -1;
        }
        *files = grown;
        *cap = ncap;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mig_read_file(path, &sql) != 0)
        return -1;
    m = &(*files)[(*n)++];
    m->version = version;
    snprintf(m->name, sizeof(m->name), "%s", name);
    checksum_hex(sql, m->checksum);
    free(sql);
    return 0;
}

int mig_list(const char *dir, struct mig_file **out, size_t *n)
{
    DIR *d = opendir(dir);
    struct mig_file *files = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;

    if (!d) {
        fprintf(stderr,
                "vg-migrate: %s: %s (pass the migrations directory as argv[1] or "
                "VIGIL_MIGRATIONS_DIR)\n",
                dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d))) {
        long long version;
        if (parse_name(e->d_name, &version) != 0)
            continue;
        if (add_file(dir, e->d_name, version, &files, &count, &cap) != 0)
            goto fail;
    }
    closedir(d);
    d = NULL;
    qsort(files, count, sizeof(*files), by_version);
    for (size_t i = 1; i < count; i++) {
        if (files[i].version == files[i - 1].version) {
            fprintf(stderr, "vg-migrate: %s: %s and %s share version %lld (renumber one)\n", dir,
                    files[i - 1].name, files[i].name, files[i].version);
            goto fail;
        }
    }
    *out = files; /* the caller owns files */
    *n = count;
    return 0;
fail:
    if (d)
        closedir(d);
    free(files);
    return -1;
}

int mig_line_of_position(const char *sql, long position)
{
    int line = 1;
    long chars = 0;

    /* The position counts characters, not bytes: skip UTF-8 continuation bytes. */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue;
        if (++chars >= position)
            break;
        if (*p == '\n')
            line++;
    }
    return line;
}

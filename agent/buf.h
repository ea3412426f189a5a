/* ag_buf: a growable byte buffer for rendering expositions and reading /proc files. */
#ifndef AG_BUF_H
#define AG_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct ag_buf {
    char *data; /* NUL-terminated whenever len > 0; malloc'd, so free() may release it */
    size_t len;
    size_t cap;
    bool failed; /* sticky: an allocation failed; later appends are no-ops */
};

/* Makes room for n more bytes (plus the NUL); false (and failed set) when out of memory. */
bool ag_buf_reserve(struct ag_buf *b, size_t n);
void ag_buf_append(struct ag_buf *b, const void *p, size_t n);
void ag_buf_puts(struct ag_buf *b, const char *s);
void ag_buf_putc(struct ag_buf *b, char c);
void ag_buf_printf(struct ag_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Longest ag_format_u64() output, its NUL included. */
#define AG_U64_MAX 21
/* Writes v in decimal into out (AG_U64_MAX bytes), NUL-terminated; returns the length. */
size_t ag_format_u64(unsigned long long v, char *out);
/* Longest ag_format_ipv4() output, its NUL included ("255.255.255.255"). */
#define AG_IPV4_MAX 16
/* Writes the 4 bytes at a as dotted decimal into out (AG_IPV4_MAX bytes), as inet_ntop does;
 * returns the length. A label on every client request: inet_ntop's sprintf was 5 % of the
 * agent's time. */
size_t ag_format_ipv4(const unsigned char *a, char *out);
/* Appends v in decimal; the hot case of exposition, so no printf. */
void ag_buf_put_u64(struct ag_buf *b, unsigned long long v);
/* Longest ag_format_double() output, its NUL included ("-1.2345678901234567e-308"). */
#define AG_DOUBLE_MAX 32
/* Writes d into out (AG_DOUBLE_MAX bytes) as ag_buf_put_double does; returns the length. */
size_t ag_format_double(double d, char *out);
/* Appends the shortest decimal form of d that reads back exactly; NaN, +Inf, -Inf by name. */
void ag_buf_put_double(struct ag_buf *b, double d);
/* Passes ownership of data to the caller (free()); the buffer is left empty. */
char *ag_buf_steal(struct ag_buf *b, size_t *len);
void ag_buf_free(struct ag_buf *b);

/* Reads a whole file (e.g. from /proc, whose stat size is 0) into b; 0 or a negative errno. */
int ag_buf_read_file(struct ag_buf *b, const char *path);

#endif

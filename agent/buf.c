/* ag_buf: growable buffer. Allocation failure is sticky so render loops need no checks. */
#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool ag_buf_reserve(struct ag_buf *b, size_t n)
{
    if (b->failed)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void ag_buf_append(struct ag_buf *b, const void *p, size_t n)
{
    if (!ag_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ag_buf_puts(struct ag_buf *b, const char *s)
{
    ag_buf_append(b, s, strlen(s));
}

void ag_buf_putc(struct ag_buf *b, char c)
{
    ag_buf_append(b, &c, 1);
}

void ag_buf_printf(struct ag_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        ag_buf_append(b, small, (size_t)n);
        return;
    }
    if (!ag_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t ag_format_u64(unsigned long long v, char *out)
{
    char tmp[AG_U64_MAX];
    size_t i = sizeof(tmp), n;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    n = sizeof(tmp) - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

size_t ag_format_ipv4(const unsigned char *a, char *out)
{
    size_t n = 0;

    for (int i = 0; i < 4; i++) {
        if (i)
            out[n++] = '.';
        n += ag_format_u64(a[i], out + n);
    }
    return n;
}

void ag_buf_put_u64(struct ag_buf *b, unsigned long long v)
{
    char tmp[AG_U64_MAX];
    ag_buf_append(b, tmp, ag_format_u64(v, tmp));
}

size_t ag_format_double(double d, char *out)
{
    if (isnan(d))
        return (size_t)sprintf(out, "NaN");
    if (isinf(d))
        return (size_t)sprintf(out, "%s", d > 0 ? "+Inf" : "-Inf");
    /* Integral values (every count) take the fast path: exact below 2^53. */
    if (d >= 0 && d < 9007199254740992.0 && d == (double)(unsigned long long)d) {
        char tmp[24];
        size_t i = sizeof(tmp);
        unsigned long long v = (unsigned long long)d;
        do {
            tmp[--i] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        memcpy(out, tmp + i, sizeof(tmp) - i);
        out[sizeof(tmp) - i] = '\0';
        return sizeof(tmp) - i;
    }
    int n = snprintf(out, AG_DOUBLE_MAX, "%.15g", d);
    if (strtod(out, NULL) != d)
        n = snprintf(out, AG_DOUBLE_MAX, "%.17g", d);
    return (size_t)n;
}

void ag_buf_put_double(struct ag_buf *b, double d)
{
    char tmp[AG_DOUBLE_MAX];
    ag_buf_append(b, tmp, ag_format_double(d, tmp));
}

char *ag_buf_steal(struct ag_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
    return p;
}

void ag_buf_free(struct ag_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

int ag_buf_read_file(struct ag_buf *b, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        if (!ag_buf_reserve(b, 4096)) {
            close(fd);
            return -ENOMEM;
        }
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        if (n == 0)
            break;
        b->len += (size_t)n;
    }
    if (b->data)
        b->data[b->len] = '\0';
    close(fd);
    return 0;
}

/* io_util.h - the small helpers io/'s sources share, written once. They are
 * static inline: io/'s objects go partly into the ptool executable and partly
 * into the network module (ptool-net.so), and a header shares them without a
 * symbol that one would have to export to the other. Internal to libptool_io. */
#ifndef PTOOL_IO_UTIL_H
#define PTOOL_IO_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define PT__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PT__PRINTF(a, b)
#endif

/* Formats a message into err[errlen] (when err and errlen are set); returns
 * code, so that `return io_errf(err, errlen, PT_EINVAL, "...")` reads well. */
static inline int io_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    PT__PRINTF(4, 5);
static inline int io_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* A malloc()ed copy of s that the caller frees; NULL for a NULL s or when out
 * of memory. */
static inline char *io_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The value of the hexadecimal digit ch, or -1. */
static inline int io_hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Strict percent-decoding of s[0, n) into out[outlen], NUL-terminated, with
 * '+' as a space when plus_is_space (query strings): 0, or -1 for a bad or
 * truncated escape, an encoded NUL, or an out too small. */
static inline int io_pct_decode_strict(const char *s, size_t n, bool plus_is_space, char *out,
                                       size_t outlen)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+' && plus_is_space) {
            ch = ' ';
        } else if (ch == '%') {
            if (n - i < 3) /* needs two hex digits after the % */
                return -1;
            int hi = io_hexval((unsigned char)s[i + 1]), lo = io_hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -1;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (k + 1 >= outlen)
            return -1;
        out[k++] = ch;
    }
    if (outlen == 0)
        return -1;
    out[k] = '\0';
    return 0;
}

#endif /* PTOOL_IO_UTIL_H */

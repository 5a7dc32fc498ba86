/* ptool/export.h - symbol export macro for the ptool compute library. */
#ifndef PTOOL_EXPORT_H
#define PTOOL_EXPORT_H

/* The library is built with hidden visibility; only PT_EXTERN symbols are
 * exported (libuv's UV_EXTERN). */
#if defined(__GNUC__) || defined(__clang__)
#define PT_EXTERN __attribute__((visibility("default")))
#else
#define PT_EXTERN
#endif

#endif /* PTOOL_EXPORT_H */

/* ptool/error.h - error codes of the ptool compute library.
 *
 * Every action returns 0 on success or a negative PT_E* code. System errors
 * pass through as -errno (PT_ENOMEM == -ENOMEM); ptool's own conditions take
 * the reserved band -3000..-3099 so they never collide with errno values.
 * Longer detail (a parse position, an OpenCL build log) goes into the
 * caller-supplied `err` buffer that those functions take.
 */
#ifndef PTOOL_ERROR_H
#define PTOOL_ERROR_H

#include <errno.h>
#include <stddef.h>

#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, message): one list generates the enum, pt_strerror() and
 * pt_err_name(). */
#define PT_ERRNO_MAP(XX)                                                                           \
    XX(EINVAL, -EINVAL, "invalid argument")                                                        \
    XX(ENOMEM, -ENOMEM, "out of memory")                                                           \
    XX(ENOENT, -ENOENT, "no such file or directory")                                               \
    XX(EACCES, -EACCES, "permission denied")                                                       \
    XX(EPERM, -EPERM, "operation not permitted")                                                   \
    XX(EISDIR, -EISDIR, "is a directory")                                                          \
    XX(ENOTDIR, -ENOTDIR, "not a directory")                                                       \
    XX(ENAMETOOLONG, -ENAMETOOLONG, "file name too long")                                          \
    XX(ELOOP, -ELOOP, "too many levels of symbolic links")                                         \
    XX(EEXIST, -EEXIST, "file exists")                                                             \
    XX(ENOSPC, -ENOSPC, "no space left on device")                                                 \
    XX(EROFS, -EROFS, "read-only file system")                                                     \
    XX(EMFILE, -EMFILE, "too many open files")                                                     \
    XX(EPIPE, -EPIPE, "broken pipe")                                                               \
    XX(EIO, -EIO, "input/output error")                                                            \
    XX(ERANGE, -ERANGE, "value out of range")                                                      \
    XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                                        \
    XX(EBUSY, -EBUSY, "resource busy")                                                             \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                         \
    XX(ECANCELED, -ECANCELED, "operation canceled")                                                \
    XX(ENOSYS, -ENOSYS, "not supported by this build")                                             \
    XX(ECLOSED, -3000, "queue or pool is closed")                                                  \
    XX(EUNAVAIL, -3001, "backend unavailable")                                                     \
    XX(ENOPLATFORM, -3002, "no OpenCL platform")                                                   \
    XX(ENODEVICE, -3003, "OpenCL device not found")                                                \
    XX(EBUILD, -3004, "OpenCL kernel build failed")                                                \
    XX(EDEVMEM, -3005, "out of device memory")                                                     \
    XX(ECL, -3006, "OpenCL error")                                                                 \
    XX(EWORKER, -3007, "worker process died")                                                      \
    XX(EPARSE, -3008, "bad input")                                                                 \
    XX(EVERIFY, -3009, "result differs from the reference")                                        \
    XX(EUNKNOWN, -3010, "unknown name")                                                            \
    XX(EOF, -3011, "end of sequence")

typedef enum pt_errno {
#define PT__ERR_ENUM(name, value, msg) PT_##name = (value),
    PT_ERRNO_MAP(PT__ERR_ENUM)
#undef PT__ERR_ENUM
        PT_ERRNO_MAX = -3099
} pt_errno;

/* Recommended size of the `err` buffers the library fills (one line plus,
 * for kernel build failures, the start of the build log). */
#define PT_ERRBUF_SIZE 4096

/* A static, human-readable message for `code` (never NULL). Other -errno
 * values get the C library's description; unknown codes a generic text. */
PT_EXTERN const char *pt_strerror(int code);

/* The symbolic name of `code`, e.g. "PT_EINVAL" (static string, never NULL). */
PT_EXTERN const char *pt_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_ERROR_H */

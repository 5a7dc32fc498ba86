/* ptool/json.h - a small streaming JSON writer.
 *
 * Jobs write their results through it, and the CLI and server their metadata.
 * Commas and nesting are tracked for the caller; strings are escaped per
 * RFC 8259 (control characters as \u00XX, invalid UTF-8 bytes as U+FFFD).
 * Output goes to a caller-supplied write callback, in small pieces.
 */
#ifndef PTOOL_JSON_H
#define PTOOL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Receives len bytes of output; returns 0, or non-zero to stop (the writer
 * then reports PT_EIO from every later call). */
typedef int (*pt_write_fn)(void *ctx, const char *buf, size_t len);

typedef struct pt_json pt_json;

#define PT_JSON_PRETTY 1u /* newlines and two-space indentation */

/* Creates a writer that sends its output to write(ctx, ...); the caller frees
 * it with pt_json_destroy(). PT_EINVAL, PT_ENOMEM. */
PT_EXTERN int pt_json_create(pt_json **out, pt_write_fn write, void *ctx, unsigned flags);

/* Frees the writer (NULL is fine); it does not close open containers. */
PT_EXTERN void pt_json_destroy(pt_json *j);

/* Containers. Nesting is limited to 64 levels (PT_EINVAL beyond). */
PT_EXTERN int pt_json_object_begin(pt_json *j);
PT_EXTERN int pt_json_object_end(pt_json *j);
PT_EXTERN int pt_json_array_begin(pt_json *j);
PT_EXTERN int pt_json_array_end(pt_json *j);

/* The key of the next member; only valid inside an object. */
PT_EXTERN int pt_json_key(pt_json *j, const char *key);

/* Values. A NULL string is written as null. Non-finite doubles become null. */
PT_EXTERN int pt_json_str(pt_json *j, const char *s);
PT_EXTERN int pt_json_strn(pt_json *j, const char *s, size_t len);
PT_EXTERN int pt_json_int(pt_json *j, int64_t v);
PT_EXTERN int pt_json_uint(pt_json *j, uint64_t v);
PT_EXTERN int pt_json_double(pt_json *j, double v);
PT_EXTERN int pt_json_bool(pt_json *j, bool v);
PT_EXTERN int pt_json_null(pt_json *j);

/* Pre-formatted JSON text inserted as one value (the caller vouches for it). */
PT_EXTERN int pt_json_raw(pt_json *j, const char *text, size_t len);

/* Ends the document: writes a final newline. PT_EINVAL if a container is
 * still open. */
PT_EXTERN int pt_json_finish(pt_json *j);

/* 0, or the first error the writer met (PT_EIO from the callback, PT_EINVAL
 * from misuse). Errors are sticky. */
PT_EXTERN int pt_json_error(const pt_json *j);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_JSON_H */

/* ptool/hash.h - file digests on a libuv loop, hashed on the compute pool.
 *
 * pt_hash_start() hashes a list of paths (directories recursively) with an
 * OpenSSL digest ("sha256", "sha512", "md5", "blake2b512"... anything
 * EVP_MD_fetch() knows). Files are read with uv_fs_read in large blocks; each
 * block is hashed on a pt_pool thread, in order, while the next block is
 * being read; results come back on the loop thread, one callback per file,
 * in a deterministic order: the order of `paths`, with the files found in a
 * directory in byte order of their names, depth first.
 *
 * What gets hashed:
 *  - a regular file, or a symbolic link to one;
 *  - a directory given in `paths`: everything below it. During that walk,
 *    symbolic links to regular files are hashed but symbolic links to
 *    directories are not followed (and produce no result), so a walk never
 *    loops and never leaves the tree; a directory named in `paths` is
 *    followed even when it is a symbolic link;
 *  - "-" is standard input when pt_hash_options.dash_is_stdin is set.
 * Everything else gets an error result and is never opened for reading: a
 * FIFO (opening one would block), a socket, a character or block device, a
 * dangling symbolic link (kind tells which, status is PT_EINVAL, or PT_ENOENT
 * for the dangling link). With check digests (pt_hash_options.expect) or
 * no_recurse, a directory is an error too (PT_EISDIR), like `sha256sum`.
 *
 * The sums-file functions at the end read and write the format of GNU
 * coreutils' sha256sum (9.1), escapes included, for any algorithm.
 *
 * Threading: every pt_hash_* call and every callback happens on the loop
 * thread; only the digest work runs on the pool.
 */
#ifndef PTOOL_HASH_H
#define PTOOL_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "ptool/export.h"
#include "ptool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_hash pt_hash;

/* What a path turned out to be. */
typedef enum pt_hash_kind {
    PT_HASH_KIND_FILE = 0, /* a regular file (or standard input) */
    PT_HASH_KIND_UNKNOWN,  /* could not be examined (see status) */
    PT_HASH_KIND_DIR,      /* a directory where a file was expected */
    PT_HASH_KIND_DANGLING, /* a symbolic link whose target does not exist */
    PT_HASH_KIND_FIFO,     /* a named pipe */
    PT_HASH_KIND_SOCKET,   /* a UNIX socket */
    PT_HASH_KIND_CHARDEV,  /* a character device (/dev/null...) */
    PT_HASH_KIND_BLOCKDEV, /* a block device */
    PT_HASH_KIND_OTHER     /* any other type of file */
} pt_hash_kind;

/* The longest digest, in bytes (SHA-512, BLAKE2b-512). */
#define PT_HASH_MAX_DIGEST 64

/* One file's outcome. Every pointer is borrowed and valid only during the
 * callback. */
typedef struct pt_hash_result {
    const char *path;            /* as given, or DIR/NAME for a file found in DIR */
    size_t arg_index;            /* the index in `paths` it came from */
    int status;                  /* 0, or why it failed: a system error as -errno
                                    (PT_ENOENT, PT_EACCES, PT_EISDIR, PT_EIO...),
                                    PT_EINVAL for a file of the wrong kind, PT_ENOMEM */
    pt_hash_kind kind;           /* what the path is (meaningful for errors too) */
    const unsigned char *digest; /* digest_len bytes; NULL unless status == 0 */
    size_t digest_len;
    const char *hex; /* lowercase hex of the digest; NULL unless status == 0 */
    uint64_t bytes;  /* bytes hashed */
    int match;       /* with expect[]: 1 the digest matches, 0 it does not
                        (or the file failed); -1 without an expectation */
} pt_hash_result;

/* Called once per file, on the loop thread, in output order. */
typedef void (*pt_hash_result_fn)(const pt_hash_result *r, void *arg);
/* Called once after the last result (status 0, or PT_ECANCELED after
 * pt_hash_cancel()). The run no longer touches the loop's handles after
 * the loop has run once more (its async handle is being closed), so
 * uv_run(UV_RUN_DEFAULT) returns. */
typedef void (*pt_hash_done_fn)(void *arg, int status);

typedef struct pt_hash_options {
    const char *algo;          /* OpenSSL digest name; NULL = "sha256" */
    size_t block_size;         /* bytes per read and per hashing task;
                                  0 = 2 MiB; at least 4 KiB, at most 64 MiB */
    unsigned max_open;         /* files being read and hashed at once;
                                  0 = 4 x the pool's threads */
    bool no_recurse;           /* a directory is an error (PT_EISDIR) */
    bool dash_is_stdin;        /* the path "-" means standard input */
    const char *const *expect; /* NULL, or npaths expected hex digests (NULL
                                  entries: none): results get `match`, and
                                  directories are errors, like no_recurse */
    pt_hash_result_fn on_result;
    pt_hash_done_fn on_done;
    void *arg; /* passed to both callbacks */
} pt_hash_options;

/* Starts hashing paths[0..npaths) on `loop` (the caller runs it) with the
 * digest work on `pool`; both are borrowed and must outlive the run. The
 * paths are copied. On success *out is the run: free it with
 * pt_hash_destroy() once on_done has been called. Errors (nothing started,
 * no callback will run): PT_EINVAL (a NULL argument, no on_result, a bad
 * block_size), PT_EUNKNOWN (the digest is unknown to OpenSSL or not
 * available), PT_ENOMEM, or a libuv error. `err` (may be NULL) receives a
 * one-line reason. Loop thread only. */
PT_EXTERN int pt_hash_start(pt_hash **out, uv_loop_t *loop, pt_pool *pool, const char *const *paths,
                            size_t npaths, const pt_hash_options *opts, char *err, size_t errlen);

/* Stops starting files: those in progress finish (their results are
 * delivered), the rest are never reported, and on_done gets PT_ECANCELED.
 * Loop thread only; no-op once done. */
PT_EXTERN void pt_hash_cancel(pt_hash *h);

/* Frees a run after its on_done (NULL is fine). */
PT_EXTERN void pt_hash_destroy(pt_hash *h);

/* Looks up a digest: its size in bytes and the tag coreutils uses in
 * "--tag" lines and check messages ("SHA256", "MD5", "BLAKE2b"; for other
 * digests the OpenSSL short name in upper case, e.g. "SHA3-256"), copied
 * into tag[taglen]. 0, or PT_EUNKNOWN. Any thread. */
PT_EXTERN int pt_hash_algo_info(const char *algo, size_t *digest_len, char *tag, size_t taglen);

/* Digests a memory buffer in the calling thread (known answers, tests).
 * 0, PT_EUNKNOWN or PT_ENOMEM. */
PT_EXTERN int pt_hash_buffer(const char *algo, const void *data, size_t len, unsigned char *digest,
                             size_t *digest_len);

/* --- the sums-file format (GNU coreutils 9.1 sha256sum and relatives) ---- */

/* Format flags for pt_hash_format_line(). */
#define PT_HASH_FMT_BINARY 1u /* "HEX *NAME" instead of "HEX  NAME" */
#define PT_HASH_FMT_TAG    2u /* "TAG (NAME) = HEX" (--tag) */
#define PT_HASH_FMT_ZERO   4u /* end with NUL, never escape (-z) */

/* Writes one output line of `sha256sum` for NAME into buf (always
 * terminated when buflen > 0): "HEX  NAME\n", with a leading backslash and
 * "\\", "\n", "\r" escapes when the name holds a backslash, newline or
 * carriage return. Returns the line's length (without the terminating
 * NUL; with PT_HASH_FMT_ZERO the line ends in a NUL that is counted), as
 * snprintf does: a result >= buflen means it was cut short. */
PT_EXTERN size_t pt_hash_format_line(char *buf, size_t buflen, const char *tag, const char *hex,
                                     const char *name, unsigned flags);

/* Writes the name part of a check report line ("NAME" of "NAME: OK") as
 * `sha256sum -c` 9.1 does: escaped, with a leading backslash, only when the
 * name holds a newline. Same return convention as pt_hash_format_line(). */
PT_EXTERN size_t pt_hash_format_check_name(char *buf, size_t buflen, const char *name);

/* State of one sums file being parsed (a file may not mix the GNU format
 * with the reversed BSD "HEX NAME" format). Zero it, then set hex_len and
 * tag (as from pt_hash_algo_info()). */
typedef struct pt_hash_parser {
    size_t hex_len;   /* 2 x digest bytes */
    const char *tag;  /* "SHA256": accepts "SHA256 (NAME) = HEX" lines */
    int bsd_reversed; /* internal: 0 not yet known, 1 GNU lines seen, 2 BSD "HEX NAME" */
} pt_hash_parser;

/* One parsed line: pointers into the (modified) line buffer. */
typedef struct pt_hash_line {
    const char *hex;  /* hex_len hex digits, NUL-terminated */
    const char *name; /* the file name, unescaped, NUL-terminated */
    bool binary;      /* the line had the '*' marker */
} pt_hash_line;

/* Parses one line of a sums file in place (line[len] need not be NUL; the
 * trailing "\n" or "\r\n" may be present; the buffer must have room for
 * len + 1 bytes). Returns 1 with *out filled, 0 for a line to skip (empty, or
 * a '#' comment), or PT_EPARSE for an improperly formatted line. */
PT_EXTERN int pt_hash_parse_line(pt_hash_parser *p, char *line, size_t len, pt_hash_line *out);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_HASH_H */

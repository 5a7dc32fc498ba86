/* cl_cache.h - the on-disk OpenCL program-binary cache (internal).
 *
 * The public side (pt_cache_path, pt_cache_list, pt_cache_clear) is declared
 * in <ptool/opencl.h>; the OpenCL backend uses the two calls below. Nothing
 * here needs the OpenCL headers, so the cache builds and is tested in every
 * configuration. See cl_cache.c for the design.
 */
#ifndef PT__CL_CACHE_H
#define PT__CL_CACHE_H

#include <stddef.h>

/* What a program binary depends on. All strings are borrowed for the call
 * only; NULL strings count as "". */
typedef struct pt__cache_key {
    /* kernel file stem, e.g. "isprime": used in the file name, so [A-Za-z0-9_]
     * only, 1..PT__CACHE_KERNEL_MAX characters */
    const char *kernel;
    const char *source;   /* the kernel source text (need not be NUL-terminated) */
    size_t source_len;    /* bytes at source */
    const char *options;  /* clBuildProgram options */
    const char *device;   /* device name */
    const char *driver;   /* driver version */
    const char *platform; /* platform name and version */
} pt__cache_key;

/* Longest kernel stem accepted (fits pt_cache_entry.kernel and .file). */
#define PT__CACHE_KERNEL_MAX 63

/* Looks up key in dir (NULL = default, "" = cache disabled). 0 on a hit with
 * *bin (malloc'd, the caller frees it) and *len set; PT_ENOENT on a miss,
 * which also covers a disabled or unresolvable cache, an unreadable or
 * corrupt entry, any header field that differs from key and a binary whose
 * checksum differs. PT_EINVAL for a bad key or NULL argument, PT_ENOMEM. */
int pt__cache_load(const char *dir, const pt__cache_key *key, unsigned char **bin, size_t *len);

/* Stores len bytes at bin as key's entry in dir (NULL = default, "" = does
 * nothing and returns 0), creating dir (mode 0700) as needed; the entry
 * appears atomically (temporary file, then rename). 0, PT_EINVAL, PT_ENOENT
 * (no default directory), PT_ENOMEM or -errno from the file system. */
int pt__cache_store(const char *dir, const pt__cache_key *key, const unsigned char *bin,
                    size_t len);

#endif /* PT__CL_CACHE_H */

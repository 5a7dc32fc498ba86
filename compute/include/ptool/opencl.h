/* ptool/opencl.h - OpenCL devices and the kernel binary cache.
 *
 * These calls link in every build and never need the OpenCL headers: without
 * OpenCL support compiled in, pt_cl_devices() returns PT_ENOSYS; the cache
 * calls and pt_cl_select() work regardless.
 *
 * The cache keeps compiled program binaries on disk so a second run skips the
 * kernel compiler. An entry's key is a SHA-256 over the kernel file's stem and
 * source, the build options, the device name, the driver version and the
 * platform, and the entry repeats all of them in its header, so an edited kernel or an upgraded
 * driver never loads a stale binary. Entries are written to a temporary
 * file and renamed into place: concurrent ptool processes never read a half
 * written entry. A missing or read-only cache directory only costs speed.
 */
#ifndef PTOOL_OPENCL_H
#define PTOOL_OPENCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_cl_device_info {
    unsigned index;          /* position among all devices of all platforms */
    unsigned platform_index; /* platform number */
    unsigned device_index;   /* device number within the platform */
    char platform[128];      /* platform name */
    char platform_version[128];
    char name[128];   /* device name */
    char vendor[128]; /* device vendor */
    char driver[64];  /* driver version */
    char version[64]; /* device OpenCL version */
    char type[16];    /* "CPU", "GPU", "ACCELERATOR", "OTHER" */
    unsigned compute_units;
    uint64_t global_mem; /* bytes */
    uint64_t max_alloc;  /* bytes, largest single buffer */
    uint64_t local_mem;  /* bytes */
    size_t max_work_group;
    bool fp64; /* double precision supported */
} pt_cl_device_info;

/* Lists every device of every platform into a new array *out (*n entries;
 * free with pt_free()). PT_ENOPLATFORM when no platform exists (the reason,
 * naming a package that provides one, goes into err), PT_ENOSYS without
 * OpenCL support, PT_ECL. */
PT_EXTERN int pt_cl_devices(pt_cl_device_info **out, size_t *n, char *err, size_t errlen);

/* Picks the device that `selector` names among list[0..n) (see
 * pt_runtime_options.device; NULL = first GPU, else first device).
 * 0 with *index set, or PT_ENODEVICE with the reason in err. */
PT_EXTERN int pt_cl_select(const pt_cl_device_info *list, size_t n, const char *selector,
                           size_t *index, char *err, size_t errlen);

/* Frees memory the library handed out (NULL is fine). */
PT_EXTERN void pt_free(void *p);

typedef struct pt_cache_entry {
    char file[128];   /* file name inside the cache directory */
    char kernel[64];  /* kernel file stem, e.g. "isprime" */
    char device[128]; /* device name */
    char driver[64];  /* driver version */
    uint64_t bytes;   /* size of the entry file */
    int64_t mtime;    /* last write, seconds since the epoch */
} pt_cache_entry;

/* The cache directory that would be used for `dir` (NULL = the default; see
 * pt_runtime_options.cache_dir) into buf. 0, PT_ENOENT if none can be
 * determined (no HOME), PT_ERANGE if buf is too small. */
PT_EXTERN int pt_cache_path(const char *dir, char *buf, size_t len);

/* Lists the entries in the cache directory (NULL = default) into a new array
 * *out (free with pt_free()), newest first. A missing directory is an empty
 * cache. Unreadable entries are skipped. -errno on a directory error. */
PT_EXTERN int pt_cache_list(const char *dir, pt_cache_entry **out, size_t *n);

/* Removes every entry (and stray temporary file) from the cache directory;
 * *removed (may be NULL) gets the count. A missing directory: 0. */
PT_EXTERN int pt_cache_clear(const char *dir, size_t *removed);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_OPENCL_H */

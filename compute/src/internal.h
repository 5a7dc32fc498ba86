/* internal.h - definitions shared by the compute library's sources; not
 * installed. Names are pt__ (internal, non-static). */
#ifndef PTOOL_INTERNAL_H
#define PTOOL_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ptool/ptool.h"

#define PT__MAX_PHASES 16
#define PT__MAX_CHUNKS 256 /* chunks per phase at most: enough to balance 64 cores */

#if defined(__GNUC__)
#define PT__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PT__PRINTF(a, b)
#endif

/* --- small helpers (util.c) --------------------------------------------- */

/* Monotonic time in seconds. */
double pt__now(void);

/* The absolute CLOCK_MONOTONIC time timeout_ms from now (for timed waits). */
struct timespec;
void pt__deadline_after(struct timespec *ts, unsigned timeout_ms);

/* Initialises a condition variable that times out on CLOCK_MONOTONIC;
 * 0 or an errno value. */
int pt__cond_init_monotonic(pthread_cond_t *cv);

/* Formats a message into err (if err and errlen are non-zero); returns code. */
int pt__errf(char *err, size_t errlen, int code, const char *fmt, ...) PT__PRINTF(4, 5);

/* Copies src into dst of size len, always NUL-terminated, truncating. */
void pt__strlcpy(char *dst, const char *src, size_t len);

/* The CPU's model name from /proc/cpuinfo into buf ("" if unknown). */
void pt__cpu_model(char *buf, size_t len);

/* cpu.c, exposed for tests: the quota in CPUs found for a process whose
 * /proc/self/cgroup text is self_cgroup, with cgroupfs mounted at root (0 =
 * no limit); and the full count using files under those paths. */
unsigned pt__cgroup_cpu_limit(const char *root, const char *self_cgroup);
unsigned pt__cpu_count_at(const char *root, const char *self_cgroup_file);

/* --- shared memory arena (shm.c) ------------------------------------------
 * One MAP_SHARED|MAP_ANONYMOUS|MAP_NORESERVE region reserved when the
 * runtime starts, before the fork server forks: it sits at the same address
 * in the parent, the fork server and every worker, so pointers into it are
 * valid in all of them. Only the parent allocates; free memory is always
 * zero (freed pages are dropped with MADV_REMOVE, partial pages cleared). */
typedef struct pt__shm pt__shm;

int pt__shm_create(pt__shm **out, size_t reserve);
void pt__shm_destroy(pt__shm *shm);
/* Zeroed memory, 64-byte aligned (page-aligned when >= 64 KiB); NULL when full. */
void *pt__shm_alloc(pt__shm *shm, size_t bytes);
void pt__shm_free(pt__shm *shm, void *p, size_t bytes);
bool pt__shm_contains(const pt__shm *shm, const void *p);
size_t pt__shm_reserved(const pt__shm *shm);

/* --- jobs (job.c, params.c) ----------------------------------------------- */

typedef union pt__value {
    bool b;
    int64_t i;
    uint64_t u;
    double d;
    char *s; /* STRING, CHOICE (heap in pt_params, job memory in a job) */
    struct {
        uint64_t *v;
        size_t n;
    } list;
} pt__value;

struct pt_params {
    const pt_job_desc *desc;
    pt__value *values; /* one per desc->params, heap; strings/lists heap */
    bool *given;
    size_t *cap; /* list capacities */
};

typedef struct pt__phase {
    size_t items, grain, partial_size;
} pt__phase;

typedef struct pt__alloc {
    struct pt__alloc *next;
    void *p;
    size_t bytes;
    int kind; /* 0 heap, 1 mmap, 2 shm */
} pt__alloc;

/* The job. With PT_JOB_SHARED it lives in the shared arena together with
 * everything its range functions read: the worker processes use `desc_copy`
 * (function pointers are valid there: same executable image) and the
 * state/buffers by address. Bookkeeping fields marked (parent) are only
 * used in the creating process. */
struct pt_job {
    pt_job_desc desc_copy; /* a copy, so workers never chase the caller's pointer */
    const pt_job_desc *desc;
    pt_runtime *rt; /* (parent) */
    unsigned flags;
    void *state;
    pt__value *values; /* job memory */
    bool *given;       /* job memory */
    pt__phase phases[PT__MAX_PHASES];
    unsigned nphases;
    unsigned repeat;
    double phase_seconds[PT__MAX_PHASES];
    _Atomic uint64_t progress_done;  /* units done in the current run */
    _Atomic uint64_t progress_total; /* units of the current run */
    void *partials;                  /* scratch for chunk partials, job memory */
    size_t partials_bytes;
    pt__alloc *allocs;    /* (parent) list of allocations */
    pthread_mutex_t lock; /* (parent) serialises pt_job_alloc */
};

/* Runs all phases of job on one CPU backend; see runtime.c. */
typedef int (*pt__chunk_exec_fn)(pt_runtime *rt, void *impl, pt_job *job, unsigned phase,
                                 size_t nchunks, size_t chunk, unsigned threads, char *err,
                                 size_t errlen);

/* Chunk layout of a phase: chunk size and count (deterministic: depends on
 * items and grain only). */
void pt__chunking(const pt__phase *ph, size_t *chunk, size_t *nchunks);

/* Runs chunk c of phase on the calling thread (the partial slot of chunk c). */
void pt__run_chunk(pt_job *job, unsigned phase, size_t c, size_t chunk);

/* a * b, or SIZE_MAX when it overflows (so a size check then fails). */
size_t pt__size_mul(size_t a, size_t b);

/* Job memory for a buffer whose size comes from parameters: fails with
 * PT_ENOMEM and "JOB: WHAT needs 12.0 GiB, more than this machine's 8.0 GiB
 * of memory" when bytes exceeds the physical memory (or overflowed). */
void *pt__job_alloc_sized(pt_job *job, size_t bytes, const char *what, char *err, size_t errlen);

/* The machine's physical memory in bytes. */
uint64_t pt__phys_mem(void);

/* --- output files (outfile.c) ----------------------------------------------
 * A file that appears under its final name only when complete: written to an
 * unnamed O_TMPFILE in the target directory and linked in at commit (a
 * crash or SIGKILL leaves nothing behind), else to a hidden temporary name
 * renamed at commit and removed on abort. */
typedef struct pt__outfile {
    FILE *f;
    int fd;
    char path[4096];
    char tmp[4200]; /* the named temporary, when O_TMPFILE is unavailable */
} pt__outfile;

/* Opens path for writing; err names the path on failure (-errno). */
int pt__outfile_open(pt__outfile *o, const char *path, char *err, size_t errlen);
/* Flushes, syncs and puts the file in place; on failure removes it. */
int pt__outfile_commit(pt__outfile *o, char *err, size_t errlen);
/* Drops the file. */
void pt__outfile_abort(pt__outfile *o);

/* Checks, before a job does its work, that `path` (the value of parameter
 * --param of job `job`) could be written: not empty, not a directory, in a
 * directory that exists and is writable. 0, or PT_EINVAL/PT_EISDIR/PT_ENOENT/
 * PT_ENOTDIR/PT_EACCES... with "JOB: --PARAM PATH: reason" in err. */
int pt__check_output_path(const char *job, const char *param, const char *path, char *err,
                          size_t errlen);

/* --- PNG images (image.c, libpng) ------------------------------------------ */
typedef struct pt__image {
    uint32_t width, height;
    uint32_t channels; /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; 8 bits each */
    uint8_t *pixels;   /* rows of width * channels bytes, no padding */
} pt__image;

/* Reads an 8-bit (or 16-bit, narrowed; palette, expanded to RGB/RGBA) PNG;
 * pixels come from alloc(ctx, bytes) (e.g. pt_job_alloc). Errors name the
 * file: PT_ENOENT etc., PT_EPARSE for a file that is not a valid PNG. */
int pt__png_read(const char *path, pt__image *img, void *(*alloc)(void *ctx, size_t bytes),
                 void *ctx, char *err, size_t errlen);

/* Writes img as a PNG through pt__outfile (never a partial file). */
int pt__png_write(const char *path, const pt__image *img, char *err, size_t errlen);

/* The shared arena of the runtime, or NULL. */
pt__shm *pt__runtime_shm(pt_runtime *rt);

/* --- embedded kernels (kernels.c, generated) ------------------------------ */

/* One embedded file of kernels/ (a kernel "x.cl" or a header "x.clh"); the
 * table is generated by CMake. */
typedef struct pt__kernel {
    const char *name;
    const char *source;
    const size_t *len;
} pt__kernel;

extern const pt__kernel pt__kernels[];
extern const size_t pt__nkernels;

/* The OpenCL source of kernels/<stem>.cl, with each of its lines
 * #include "X.clh" replaced by kernels/X.clh (one level, between #line
 * directives): files from $PTOOL_KERNEL_DIR when that variable is set (kernel
 * development without a rebuild), else the copies embedded at build time.
 * 0 with *src set; *owned is the buffer to free() when one was allocated,
 * else NULL. PT_ENOENT, PT_ENOMEM, or the error reading a file. */
int pt__kernel_source(const char *stem, const char **src, size_t *len, char **owned, char *err,
                      size_t errlen);

/* --- number theory shared by isprime and primes (jobs/isprime.c) --------- */

/* floor(sqrt(n)), exact for every 64-bit n. */
uint64_t pt__isqrt64(uint64_t n);
/* Deterministic Miller-Rabin: true when n is prime, exact for every n < 2^64. */
bool pt__isprime_mr(uint64_t n);
/* Trial division by odd numbers up to sqrt(n) (the tests' second opinion). */
bool pt__isprime_trial(uint64_t n);

/* --- the catalog ------------------------------------------------------------
 * Every compute/src/jobs/<job>.c defines `const pt_job_desc pt__job_<job>`;
 * CMake lists them in gen/jobs_table.c, in the order of PT_JOB_ORDER. */
extern const pt_job_desc *const pt__builtin_jobs[];
extern const size_t pt__nbuiltin_jobs;

#endif /* PTOOL_INTERNAL_H */

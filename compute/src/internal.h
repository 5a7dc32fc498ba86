/* internal.h - definitions shared by the compute library's sources; not
 * installed. Names are pt__ (internal, non-static). */
#ifndef PTOOL_INTERNAL_H
#define PTOOL_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    void *partials; /* scratch for chunk partials, job memory */
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

/* The shared arena of the runtime, or NULL. */
pt__shm *pt__runtime_shm(pt_runtime *rt);

/* --- embedded kernels (kernels.c, generated) ------------------------------ */

/* One embedded kernel file; the table is generated by CMake. */
typedef struct pt__kernel {
    const char *stem;
    const char *source;
    const size_t *len;
} pt__kernel;

extern const pt__kernel pt__kernels[];
extern const size_t pt__nkernels;

/* The OpenCL source of kernels/<stem>.cl: from $PTOOL_KERNEL_DIR/<stem>.cl
 * when that variable is set (kernel development without a rebuild), else the
 * copy embedded at build time. 0 with *src set; when it was read from a file
 * *owned is the buffer to free(), else NULL. PT_ENOENT. */
int pt__kernel_source(const char *stem, const char **src, size_t *len, char **owned, char *err,
                      size_t errlen);

/* --- the catalog (jobs/catalog.c) ----------------------------------------- */
extern const pt_job_desc pt__job_isprime;

#endif /* PTOOL_INTERNAL_H */

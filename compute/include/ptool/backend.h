/* ptool/backend.h - the runtime and its backends: where a job runs.
 *
 * A pt_runtime owns what the backends need: the thread pool, the process
 * pool (a fork server and its workers, started at pt_runtime_create() so that
 * every fork happens from a single-threaded process, before OpenMP or
 * OpenCL start threads), the OpenCL context and kernel cache. Create one per
 * program, early, and run jobs on it with pt_run().
 *
 * Backends: serial (one core), threads (the pool), processes (forked workers
 * writing into shared memory), openmp, opencl (any device through the ICD
 * loader). auto picks the fastest available for the job and says why.
 * pt_run() may be called from several threads at once; runs that need the
 * process pool or the OpenCL queue take turns on them.
 */
#ifndef PTOOL_BACKEND_H
#define PTOOL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "ptool/export.h"
#include "ptool/job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pt_backend_id {
    PT_BACKEND_AUTO = 0,
    PT_BACKEND_SERIAL,
    PT_BACKEND_THREADS,
    PT_BACKEND_PROCESSES,
    PT_BACKEND_OPENMP,
    PT_BACKEND_OPENCL,
} pt_backend_id;

#define PT_BACKEND_COUNT 6

/* "auto", "serial", ... (static string; "?" for an unknown id). */
PT_EXTERN const char *pt_backend_name(pt_backend_id id);

/* Parses a backend name (case-sensitive). 0, or PT_EUNKNOWN. */
PT_EXTERN int pt_backend_parse(const char *name, pt_backend_id *out);

typedef struct pt_runtime_options {
    unsigned threads;      /* threads and worker processes; 0 = pt_default_threads() */
    bool no_processes;     /* do not start the process pool (backend unavailable) */
    const char *device;    /* OpenCL device: NULL = PTOOL_DEVICE or the first
                              GPU, else the first device; "N" = Nth device of
                              all platforms; "P:D"; or a name substring */
    const char *cache_dir; /* kernel binary cache; NULL = PTOOL_CACHE_DIR, else
                              $XDG_CACHE_HOME/ptool, else ~/.cache/ptool;
                              "" = no cache */
} pt_runtime_options;

/* Creates the runtime into *out (opts may be NULL). Starts the process pool
 * unless opts->no_processes; nothing else starts yet (OpenCL initialises on
 * first use). Caller frees with pt_runtime_destroy(). -errno, PT_ENOMEM; a
 * failure to start the process pool is not an error: that backend then
 * reports itself unavailable with the reason. */
PT_EXTERN int pt_runtime_create(pt_runtime **out, const pt_runtime_options *opts);

/* Stops the workers, releases OpenCL and frees the runtime (NULL is fine).
 * No pt_run() may be in progress. */
PT_EXTERN void pt_runtime_destroy(pt_runtime *rt);

/* The default thread count of this runtime. */
PT_EXTERN unsigned pt_runtime_threads(const pt_runtime *rt);

/* True if backend b can run on this runtime; if not, a one-line reason goes
 * into why (e.g. "no OpenCL platform (install pocl-opencl-icd ...)").
 * With job non-NULL, also checks that the job supports b. auto: always true. */
PT_EXTERN bool pt_backend_available(pt_runtime *rt, pt_backend_id b, const pt_job *job, char *why,
                                    size_t whylen);

/* Resolves `requested` for job: an available backend stays; auto picks the
 * fastest available; an unavailable one falls back to auto unless strict
 * (then PT_EUNAVAIL with the reason in note). note gets a one-line
 * explanation of the choice ("auto: openmp (opencl skipped: ...)"), empty
 * when the requested backend is used as is. */
PT_EXTERN int pt_backend_resolve(pt_runtime *rt, const pt_job *job, pt_backend_id requested,
                                 bool strict, pt_backend_id *out, char *note, size_t notelen);

typedef struct pt_run_options {
    pt_backend_id backend; /* PT_BACKEND_AUTO to let ptool pick */
    bool strict;           /* an unavailable backend is an error, not a fallback */
    unsigned threads;      /* 0 = the runtime's default */
} pt_run_options;

typedef struct pt_run_info {
    pt_backend_id backend;  /* the backend that ran */
    char note[512];         /* how it was chosen (see pt_backend_resolve) */
    unsigned threads;       /* threads/processes used; compute units for opencl */
    char device[128];       /* opencl: device name; else the CPU model */
    char platform[128];     /* opencl: platform name; else "" */
    char driver[64];        /* opencl: driver version; else "" */
    double seconds;         /* wall time of the job's compute, all phases */
    double prepare_seconds; /* opencl: program load/build before the compute */
    int cache;              /* opencl kernel cache: 1 hit, 0 miss (built and
                               stored), -1 not used */
} pt_run_info;

/* Runs job on the backend ro asks for (NULL = auto) and fills info (may be
 * NULL). 0, or an error with a one-line reason in err: PT_EUNAVAIL (strict),
 * PT_EWORKER (a worker process died: names the job and the signal; the pool
 * has replaced it), PT_EBUILD (with the build log after the first line),
 * PT_EDEVMEM, PT_ENOPLATFORM, PT_ENODEVICE, PT_ECL, PT_ENOMEM. */
PT_EXTERN int pt_run(pt_runtime *rt, pt_job *job, const pt_run_options *ro, pt_run_info *info,
                     char *err, size_t errlen);

/* Writes one run of job as members of the open JSON object j, the shape of
 * `ptool run --json` and POST /run/JOB: "job", "params", "requested",
 * "backend", "note", "threads", "device", "platform", "driver", "seconds",
 * "prepare_seconds", "kernel_cache" and "throughput" ({"value", "unit"}).
 * The caller adds "result" and members of its own. Errors are j's. */
PT_EXTERN void pt_run_json(pt_json *j, const pt_job *job, pt_backend_id requested,
                           const pt_run_info *info);

/* Writes the backends report as members of the open JSON object j, the
 * shape of `ptool backends --json` and GET /backends: "threads", "cpus",
 * "backends" ([{name, available, why}]), "opencl_error" and "devices" (every
 * OpenCL device; "selected" marks the one rt's runs use). Probes each
 * backend, which may start OpenCL. Errors are j's (pt_json_error). */
PT_EXTERN void pt_backends_json(pt_json *j, pt_runtime *rt);

/* The process ids of the process pool's workers, for tests and `ptool
 * backends`: up to max into pids; returns the number of workers. */
PT_EXTERN size_t pt_runtime_worker_pids(pt_runtime *rt, int *pids, size_t max);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_BACKEND_H */

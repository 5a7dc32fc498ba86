/* backend/backend.h - the table every backend fills in (curl's struct
 * Curl_ssl, pocl's struct pocl_device_ops). One const instance per file in
 * backend/, listed in the registry in runtime.c. A backend fills in only
 * what differs; optional hooks stay NULL. Backends never include each other.
 */
#ifndef PTOOL_BACKEND_BACKEND_H
#define PTOOL_BACKEND_BACKEND_H

#include "internal.h"

struct pt_backend_ops {
    pt_backend_id id;
    const char *name;

    /* Brings up the backend's per-runtime state into *impl, lazily, on the
     * first use. Called with the runtime's lock held, at most once per
     * runtime (the result, error included, is remembered: a backend that
     * failed to start reports that reason from then on). 0, or an error with
     * a one-line reason in why. Optional: NULL means nothing to start. */
    int (*init)(pt_runtime *rt, void **impl, char *why, size_t whylen);

    /* Releases what init made; called once from pt_runtime_destroy(), with no
     * run in progress. Optional. */
    void (*fini)(void *impl);

    /* Can this backend run this particular job? (opencl: the job must have a
     * kernel and cl_run; processes: the job memory must be shared). Called
     * without locks, from any thread. Optional: NULL means every job. */
    bool (*supports)(pt_runtime *rt, void *impl, const pt_job *job, char *why, size_t whylen);

    /* CPU backends: runs every chunk of one phase of job (chunks of `chunk`
     * items, nchunks of them, each via pt__run_chunk()) with up to `threads`
     * workers, and returns when all have finished. Called by pt_run() on the
     * caller's thread, without the runtime's lock; a backend with shared
     * single-user state (the process pool) locks it itself. */
    pt__chunk_exec_fn exec;

    /* Device backends: runs the whole job (all phases and repeats) and fills
     * the device fields of info. Same threading as exec. */
    int (*run)(pt_runtime *rt, void *impl, pt_job *job, pt_run_info *info, char *err,
               size_t errlen);

    /* Fills info's device/threads fields for a run with `threads`. Optional. */
    void (*describe)(pt_runtime *rt, void *impl, unsigned threads, pt_run_info *info);
};

typedef struct pt_backend_ops pt_backend_ops;

extern const pt_backend_ops pt__backend_serial;
extern const pt_backend_ops pt__backend_threads;
extern const pt_backend_ops pt__backend_processes;
#ifdef PT_HAVE_OPENMP
extern const pt_backend_ops pt__backend_openmp;
#endif
#ifdef PT_HAVE_OPENCL
extern const pt_backend_ops pt__backend_opencl;
#endif

/* Thread pool of the runtime for the threads backend (created on first use
 * with at least `threads` workers). */
pt_pool *pt__runtime_pool(pt_runtime *rt, unsigned threads);

/* Runtime facts a backend may read. */
unsigned pt__runtime_default_threads(const pt_runtime *rt);
const pt_runtime_options *pt__runtime_options(const pt_runtime *rt);

/* Process pool (backend/processes.c): started by pt_runtime_create() before
 * any other thread runtime, stopped by pt_runtime_destroy(). */
typedef struct pt__procpool pt__procpool;
int pt__procpool_start(pt__procpool **out, unsigned workers, char *why, size_t whylen);
void pt__procpool_stop(pt__procpool *pp);
size_t pt__procpool_pids(pt__procpool *pp, int *pids, size_t max);
/* The runtime's process pool, or NULL with the reason it did not start. */
pt__procpool *pt__runtime_procpool(pt_runtime *rt, char *why, size_t whylen);

#ifdef PT_HAVE_OPENCL
/* True if the OpenCL backend's selected device is a CPU; its name into name. */
bool pt__opencl_is_cpu(void *impl, char *name, size_t len);
#endif /* PT_HAVE_OPENCL */

#endif /* PTOOL_BACKEND_BACKEND_H */

/* ptool/job.h - the job model: a job is described once and runs on every
 * backend.
 *
 * A job descriptor (pt_job_desc) names the job, lists its typed parameters
 * (the CLI's --help, `ptool jobs` and the server all read these), and gives:
 *   - setup: read the parameters, allocate buffers with pt_job_alloc(),
 *     generate or read the input, and declare the job's parallel loops
 *     ("phases") with pt_job_set_phase();
 *   - range: the CPU function over an index range [begin, end) of one phase,
 *     with an optional per-chunk partial result and a combine step;
 *   - cl_run: the few lines that enqueue the job's OpenCL kernel
 *     (kernels/<name>.cl, embedded in the library);
 *   - verify: compares a result with a reference (a serial run of the same
 *     parameters), so any backend's output can be checked.
 * The CPU backends differ only in how they split each phase's range into
 * chunks. Chunk boundaries depend on the phase's size and grain only, never
 * on the backend or thread count, and partials are combined in chunk order,
 * so reductions give bit-identical results on every CPU backend.
 *
 * Memory from pt_job_alloc() and the state block live as long as the job. A
 * job created with PT_JOB_SHARED keeps them in memory shared with the
 * process backend's workers, which run `range` in other processes: range
 * functions must only touch the job's state and pt_job_alloc() memory.
 */
#ifndef PTOOL_JOB_H
#define PTOOL_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ptool/export.h"
#include "ptool/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_job pt_job;
typedef struct pt_job_desc pt_job_desc;
typedef struct pt_params pt_params;
typedef struct pt_cl pt_cl; /* an OpenCL context for one run (see opencl.h) */

typedef enum pt_type {
    PT_TYPE_BOOL,     /* a flag: "--name" alone means true */
    PT_TYPE_INT,      /* int64_t */
    PT_TYPE_U64,      /* uint64_t, all of 0..2^64-1 */
    PT_TYPE_DOUBLE,   /* finite double */
    PT_TYPE_STRING,   /* text, e.g. a file name ("-" for stdin by convention) */
    PT_TYPE_CHOICE,   /* one of pt_param.choices, "a|b|c" */
    PT_TYPE_U64_LIST, /* zero or more uint64_t; each set appends, "1,2,3" also */
} pt_type;

#define PT_PARAM_POSITIONAL 1u /* takes the CLI's positional arguments */

/* One typed parameter of a job. */
typedef struct pt_param {
    const char *name; /* "--name" on the CLI, the key in JSON */
    pt_type type;
    const char *def;     /* the default as text; NULL = unset unless given */
    const char *help;    /* one line */
    const char *choices; /* PT_TYPE_CHOICE: "mr|trial" */
    double min, max;     /* numeric bounds, inclusive; ignored unless min < max */
    unsigned flags;      /* PT_PARAM_* */
    const char *metavar; /* what --help prints for the value, e.g. "N" */
} pt_param;

/* Flags for pt_job_write_text(). */
#define PT_OUT_QUIET 1u /* summary counts only */

/* The job descriptor. Hooks marked optional may be NULL. Unless said
 * otherwise, hooks run on the thread that called the pt_job_* or pt_run()
 * function, in the process that created the job. */
struct pt_job_desc {
    const char *name;    /* catalog name, e.g. "isprime" */
    const char *summary; /* one line for `ptool jobs` */
    const pt_param *params;
    size_t nparams;
    const char *kernel; /* stem of kernels/<kernel>.cl; NULL: no OpenCL */
    size_t state_size;  /* bytes of per-job state, zeroed, see pt_job_state() */

    /* Validates parameters beyond their declared type and range, allocates and
     * fills inputs, and declares phases. Writes a one-line reason into err on
     * failure (PT_EINVAL/PT_EPARSE/PT_ERANGE for bad input, PT_ENOENT...). */
    int (*setup)(pt_job *job, char *err, size_t errlen);

    /* Optional: sets the job up like `like` (same parameters, already set
     * up) without reading the inputs again: stdin can be read only once.
     * Used by pt_job_create_like(); without it, setup runs again. */
    int (*setup_like)(pt_job *job, const pt_job *like, char *err, size_t errlen);

    /* Optional: restores the inputs before each run (jobs that update their
     * data in place, such as time steps). */
    int (*reset)(pt_job *job);

    /* The CPU work of `phase` over [begin, end). Runs concurrently on many
     * threads, or in worker processes: touch only job memory. `partial`
     * points at the chunk's zeroed partial_size bytes (NULL if 0). */
    void (*range)(pt_job *job, unsigned phase, size_t begin, size_t end, void *partial);

    /* Optional: folds the partial of a later chunk into acc (both of the
     * phase's partial_size). Called in chunk order, on the calling thread. */
    void (*combine)(pt_job *job, unsigned phase, void *acc, const void *partial);

    /* Optional: called once after each phase with the combined partial (NULL
     * if partial_size is 0), on the calling thread, before the next phase. */
    void (*phase_end)(pt_job *job, unsigned phase, const void *acc);

    /* Optional: runs the whole job (every phase and repeat) on the OpenCL
     * device of `cl` and leaves the result in job memory. err gets a one-line
     * reason on failure. */
    int (*cl_run)(pt_job *job, pt_cl *cl, char *err, size_t errlen);

    /* Compares this job's result with ref's (same parameters, run on the
     * reference backend): 0, or PT_EVERIFY with the first difference in err. */
    int (*verify)(const pt_job *job, const pt_job *ref, char *err, size_t errlen);

    /* Optional: estimated single-core seconds, for the auto backend (too
     * small a job runs serially). */
    double (*cost)(const pt_job *job);

    /* Optional: work done per second for a run of `seconds`, and its unit
     * ("numbers/s", "GFLOP/s"). */
    double (*throughput)(const pt_job *job, double seconds, const char **unit);

    /* Writes the result as text lines (flags: PT_OUT_*). */
    int (*write_text)(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx);

    /* Writes the result's members into the JSON object that is open in j. */
    int (*write_json)(const pt_job *job, pt_json *j);

    /* Optional: frees what setup acquired outside pt_job_alloc(). */
    void (*teardown)(pt_job *job);

    /* Optional: writes the job's output files (e.g. --output image.png)
     * after a successful run, each to a temporary name renamed into place,
     * so a failed or interrupted run leaves no partial file. */
    int (*save)(const pt_job *job, char *err, size_t errlen);
};

/* --- the catalog ------------------------------------------------------- */

/* The built-in jobs plus the registered ones, in catalog order; *n gets the
 * count. The array is static: do not free. */
PT_EXTERN const pt_job_desc *const *pt_job_catalog(size_t *n);

/* The job called `name`, or NULL. */
PT_EXTERN const pt_job_desc *pt_job_find(const char *name);

/* Adds a job of the caller's to the catalog (the descriptor must outlive its
 * use). PT_EBUSY if the name is taken, PT_ENOMEM when the table (64) is full. */
PT_EXTERN int pt_job_register(const pt_job_desc *desc);

/* --- parameters -------------------------------------------------------- */

/* A fresh parameter set for desc, with every default applied; the caller
 * frees it with pt_params_destroy(). PT_EINVAL, PT_ENOMEM. */
PT_EXTERN int pt_params_create(pt_params **out, const pt_job_desc *desc);

/* Frees a parameter set (NULL is fine). */
PT_EXTERN void pt_params_destroy(pt_params *p);

/* Parses `value` as parameter `name` (text as on the command line; for
 * PT_TYPE_BOOL, NULL means true). PT_EUNKNOWN if the job has no such
 * parameter, PT_EPARSE/PT_ERANGE with a one-line reason naming the parameter
 * and value in err. A list parameter appends. */
PT_EXTERN int pt_params_set(pt_params *p, const char *name, const char *value, char *err,
                            size_t errlen);

/* The descriptor entry of parameter `name`, or NULL. */
PT_EXTERN const pt_param *pt_param_find(const pt_job_desc *desc, const char *name);

/* Parses a whole unsigned 64-bit decimal integer (leading/trailing blanks
 * allowed, nothing else). 0, or PT_EPARSE/PT_ERANGE with a short reason
 * ("negative", "not a number", "greater than 2^64-1", "empty") in why. */
PT_EXTERN int pt_parse_u64(const char *s, size_t len, uint64_t *out, const char **why);

/* --- jobs -------------------------------------------------------------- */

#define PT_JOB_SHARED 1u /* keep job memory shareable with worker processes */

typedef struct pt_runtime pt_runtime;

/* Creates a job of desc with params (copied; NULL = all defaults) and runs its
 * setup. flags: PT_JOB_SHARED (needs a runtime started with processes). The
 * caller frees the job with pt_job_destroy(). Errors come from setup (with a
 * one-line reason in err), or PT_ENOMEM. */
PT_EXTERN int pt_job_create(pt_job **out, pt_runtime *rt, const pt_job_desc *desc,
                            const pt_params *params, unsigned flags, char *err, size_t errlen);

/* A second job with like's parameters and inputs (for a reference run with
 * --verify or bench), without re-reading inputs such as stdin; flags as for
 * pt_job_create(). The caller frees it with pt_job_destroy(). */
PT_EXTERN int pt_job_create_like(pt_job **out, const pt_job *like, unsigned flags, char *err,
                                 size_t errlen);

/* Runs the teardown hook and frees all job memory (NULL is fine). */
PT_EXTERN void pt_job_destroy(pt_job *job);

/* The job's descriptor. */
PT_EXTERN const pt_job_desc *pt_job_desc_of(const pt_job *job);

/* The job's zeroed state block of desc->state_size bytes (job memory). */
PT_EXTERN void *pt_job_state(const pt_job *job);

/* job-lifetime memory of `bytes` bytes, 64-byte aligned, zeroed; NULL when
 * out of memory. Freed by pt_job_destroy(); never free it yourself. */
PT_EXTERN void *pt_job_alloc(pt_job *job, size_t bytes);

/* Declares phase `phase` (< 16) of the job: `items` indices, split into
 * chunks of at least `grain` items, each with partial_size bytes of partial
 * result. Phases run in order; the number of phases is the highest declared
 * plus one. PT_EINVAL. */
PT_EXTERN int pt_job_set_phase(pt_job *job, unsigned phase, size_t items, size_t grain,
                               size_t partial_size);

/* Runs the phase sequence `repeat` times per run (time steps). Default 1. */
PT_EXTERN int pt_job_set_repeat(pt_job *job, unsigned repeat);

/* Parameter values, by name. The name must be one of desc->params (else the
 * call asserts). A parameter without default that was not given reads as
 * 0 / 0.0 / NULL / false / an empty list. */
PT_EXTERN bool pt_job_param_given(const pt_job *job, const char *name);
PT_EXTERN int64_t pt_job_int(const pt_job *job, const char *name);
PT_EXTERN uint64_t pt_job_u64(const pt_job *job, const char *name);
PT_EXTERN double pt_job_double(const pt_job *job, const char *name);
PT_EXTERN bool pt_job_bool(const pt_job *job, const char *name);
/* Strings and choices: borrowed, valid as long as the job. */
PT_EXTERN const char *pt_job_str(const pt_job *job, const char *name);
/* Lists: borrowed, valid as long as the job; *n gets the length. */
PT_EXTERN const uint64_t *pt_job_list(const pt_job *job, const char *name, size_t *n);

/* Writes every parameter as a member of the open JSON object j. */
PT_EXTERN int pt_job_params_json(const pt_job *job, pt_json *j);

/* Writes "job" (its name) and "params" (an object of every parameter) as
 * members of the open JSON object j. Errors are j's (pt_json_error). */
PT_EXTERN void pt_job_json(pt_json *j, const pt_job *job);

/* The name of a parameter type ("bool", "u64 list", ...): a static string. */
PT_EXTERN const char *pt_type_name(pt_type t);

/* Writes descriptor d as one JSON value into j (the catalog entry of `ptool
 * jobs --json` and GET /jobs): name, summary, opencl, and params, each with
 * name, type, default, help, choices, min/max and positional. param_extra,
 * if not NULL, may add members to each parameter's object. Nothing is
 * allocated; errors are j's (pt_json_error). */
PT_EXTERN void pt_job_desc_json(pt_json *j, const pt_job_desc *d,
                                void (*param_extra)(pt_json *j, const pt_param *p));

/* Seconds the last run spent in each phase (all repeats summed); 0 if unknown.
 * OpenCL job code records its own with pt_job_record_phase(). */
PT_EXTERN double pt_job_phase_seconds(const pt_job *job, unsigned phase);
PT_EXTERN void pt_job_record_phase(pt_job *job, unsigned phase, double seconds);

/* Progress of the job's current (or last) run: *done of *total work units
 * (chunks on the CPU backends; device code reports its own). Safe to call
 * from another thread while pt_run() runs; *total is 0 before the first. */
PT_EXTERN void pt_job_progress(const pt_job *job, uint64_t *done, uint64_t *total);

/* For cl_run code: sets the run's total units (default 1, reached when the
 * run ends) and adds units as they complete. */
PT_EXTERN void pt_job_progress_total(pt_job *job, uint64_t total);
PT_EXTERN void pt_job_progress_add(pt_job *job, uint64_t units);

/* Writes the job's output files, if it has any (0 when it has none). */
PT_EXTERN int pt_job_save(const pt_job *job, char *err, size_t errlen);

/* Convenience wrappers around the descriptor's hooks (PT_ENOSYS when the job
 * has no such hook). */
PT_EXTERN int pt_job_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen);
PT_EXTERN int pt_job_write_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx);
PT_EXTERN int pt_job_write_json(const pt_job *job, pt_json *j);
PT_EXTERN double pt_job_throughput(const pt_job *job, double seconds, const char **unit);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_JOB_H */

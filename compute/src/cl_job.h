/* cl_job.h - what a job's cl_run hook works with: the run's OpenCL context,
 * queue, device and built program, plus helpers that turn cl_int failures
 * into ptool errors with one-line messages. Only for code built with
 * PT_HAVE_OPENCL. */
#ifndef PTOOL_CL_JOB_H
#define PTOOL_CL_JOB_H

#ifdef PT_HAVE_OPENCL

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "internal.h"

struct pt_cl {
    cl_context ctx;
    cl_command_queue queue;
    cl_device_id device;
    cl_program program;            /* the job's kernels/<kernel>.cl, built */
    const pt_cl_device_info *info; /* the device's facts */
    const char *job;               /* job name, for messages */
};

/* The symbolic name of an OpenCL error code ("CL_OUT_OF_RESOURCES"). */
const char *pt__cl_errname(cl_int rc);

/* Maps an OpenCL error to a ptool code (PT_EDEVMEM for allocation failures,
 * PT_EBUILD, PT_ENODEVICE, PT_ECL otherwise). */
int pt__cl_code(cl_int rc);

/* Reports a failed OpenCL call: "JOB: WHAT: CL_NAME (code)" into err, with
 * a plainer text for out-of-memory. Returns the ptool code. */
int pt__cl_fail(pt_cl *cl, cl_int rc, const char *what, char *err, size_t errlen);

/* Creates kernel `name` from the job's program into *out (caller releases). */
int pt__cl_kernel(pt_cl *cl, const char *name, cl_kernel *out, char *err, size_t errlen);

/* Creates a buffer of `bytes` (host may be NULL; with CL_MEM_COPY_HOST_PTR
 * it is copied). Checks the device's largest allocation first, so an
 * oversized request fails with PT_EDEVMEM and a clear message instead of a
 * driver error at enqueue time. Caller releases *out. */
int pt__cl_buffer(pt_cl *cl, cl_mem_flags flags, size_t bytes, void *host, cl_mem *out, char *err,
                  size_t errlen);

/* Whether job code should take its CPU-device path (code shaped for a CPU
 * OpenCL device such as PoCL: SIMD-wide work-items, no local-memory tiles)
 * rather than its GPU path. PTOOL_CL_PATH=cpu|gpu overrides the device's
 * type, so the tests run both paths on whatever device there is. */
bool pt__cl_cpu_path(const pt_cl *cl);

/* n rounded up to a multiple of m (m > 0). */
static inline size_t pt__round_up(size_t n, size_t m)
{
    return (n + m - 1) / m * m;
}

#endif /* PT_HAVE_OPENCL */
#endif /* PTOOL_CL_JOB_H */

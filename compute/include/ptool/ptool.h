/* ptool/ptool.h - the ptool compute library: one header for all of it.
 *
 *   error.h    error codes, pt_strerror()
 *   cpu.h      usable CPU count (affinity mask, cgroup quota)
 *   sem.h      counting semaphore
 *   queue.h    bounded blocking MPMC queue
 *   pool.h     thread pool, futures, map, as-completed
 *   json.h     streaming JSON writer
 *   job.h      the job model and catalog
 *   backend.h  runtime, backends, pt_run()
 *   opencl.h   OpenCL devices, kernel cache
 */
#ifndef PTOOL_PTOOL_H
#define PTOOL_PTOOL_H

#include "ptool/version.h"
#include "ptool/export.h"
#include "ptool/error.h"
#include "ptool/cpu.h"
#include "ptool/sem.h"
#include "ptool/queue.h"
#include "ptool/pool.h"
#include "ptool/json.h"
#include "ptool/job.h"
#include "ptool/backend.h"
#include "ptool/opencl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, e.g. "0.1.0" (static string). */
PT_EXTERN const char *pt_version(void);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_PTOOL_H */

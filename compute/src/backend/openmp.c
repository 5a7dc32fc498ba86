/* backend/openmp.c - OpenMP: the chunks as a dynamically scheduled parallel
 * loop. libgomp starts its threads on the first parallel region, which is why
 * the process pool forks its fork server before any run (GCC bug 60035). */
#include <omp.h>

#include "backend/backend.h"

static int openmp_exec(pt_runtime *rt, void *impl, pt_job *job, unsigned phase, size_t nchunks,
                       size_t chunk, unsigned threads, char *err, size_t errlen)
{
    (void)rt, (void)impl, (void)err, (void)errlen;
    long n = (long)nchunks;
    int t = (int)(threads < nchunks ? threads : nchunks);
#pragma omp parallel for schedule(dynamic, 1) num_threads(t)
    for (long c = 0; c < n; c++)
        pt__run_chunk(job, phase, (size_t)c, chunk);
    return 0;
}

const pt_backend_ops pt__backend_openmp = {
    .id = PT_BACKEND_OPENMP,
    .name = "openmp",
    .exec = openmp_exec,
};

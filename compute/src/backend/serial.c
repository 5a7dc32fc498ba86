/* backend/serial.c - one core, in the caller's thread: the reference every
 * other backend is checked against. */
#include "backend/backend.h"

static int serial_exec(pt_runtime *rt, void *impl, pt_job *job, unsigned phase, size_t nchunks,
                       size_t chunk, unsigned threads, char *err, size_t errlen)
{
    (void)rt, (void)impl, (void)threads, (void)err, (void)errlen;
    /* The same chunks as the parallel backends, in order, so reductions
     * combine identically. */
    for (size_t c = 0; c < nchunks; c++)
        pt__run_chunk(job, phase, c, chunk);
    return 0;
}

const pt_backend_ops pt__backend_serial = {
    .id = PT_BACKEND_SERIAL,
    .name = "serial",
    .exec = serial_exec,
};

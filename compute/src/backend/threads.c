/* backend/threads.c - the runtime's thread pool (pool.c).
 *
 * The caller of a run works too: it submits threads-1 helper tasks and then
 * takes chunks itself from the same atomic counter. Chunks are handed out
 * dynamically, so uneven chunks balance. When the helpers could not start
 * (the pool is busy with another run, or pt_run() is itself called from a
 * pool thread, as the server does) the caller simply does every chunk and
 * cancels the helpers that never started: a run never waits on a helper
 * that has not begun, so it cannot deadlock on its own pool.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "backend/backend.h"

typedef struct run {
    pt_job *job;
    unsigned phase;
    size_t nchunks, chunk;
    atomic_size_t next;
} run;

static void *work(void *arg)
{
    run *r = arg;
    size_t c;
    while ((c = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed)) < r->nchunks)
        pt__run_chunk(r->job, r->phase, c, r->chunk);
    return NULL;
}

static int threads_exec(pt_runtime *rt, void *impl, pt_job *job, unsigned phase, size_t nchunks,
                        size_t chunk, unsigned threads, char *err, size_t errlen)
{
    (void)impl, (void)err, (void)errlen;
    run r = {.job = job, .phase = phase, .nchunks = nchunks, .chunk = chunk};
    atomic_init(&r.next, 0);
    size_t helpers = (threads < nchunks ? threads : nchunks);
    helpers = helpers ? helpers - 1 : 0;
    pt_future *stack[64];
    pt_future **futs = helpers <= 64 ? stack : malloc(helpers * sizeof(*futs));
    size_t nf = 0;
    pt_pool *pool = helpers ? pt__runtime_pool(rt, threads) : NULL;
    if (futs && pool)
        for (; nf < helpers; nf++)
            if (pt_pool_submit(pool, work, &r, &futs[nf]) != 0)
                break;
    work(&r);
    for (size_t i = 0; i < nf; i++) {
        if (pt_future_cancel(futs[i]) != 0)
            pt_future_wait(futs[i]); /* started: it finishes its last chunk */
        pt_future_release(futs[i]);
    }
    if (futs != stack)
        free(futs);
    return 0;
}

const pt_backend_ops pt__backend_threads = {
    .id = PT_BACKEND_THREADS,
    .name = "threads",
    .exec = threads_exec,
};

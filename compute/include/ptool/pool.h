/* ptool/pool.h - a thread pool with futures (the course's ThreadPoolExecutor):
 * submit -> future, wait for / take a result, an ordered map, completion-order
 * iteration (as_completed), cancelling work that has not started, and a
 * shutdown that finishes queued work.
 *
 * Futures are reference counted: pt_pool_submit() hands the caller one
 * reference, which the caller drops with pt_future_release(); the pool holds
 * its own until the task has finished, so releasing early is fine (the task
 * still runs, its result is dropped). All functions are thread-safe, and
 * every one returns PT_EINVAL for a NULL handle.
 */
#ifndef PTOOL_POOL_H
#define PTOOL_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_pool pt_pool;
typedef struct pt_future pt_future;
typedef struct pt_completion pt_completion;

/* A task: runs on a pool thread with the argument given at submit; its return
 * value becomes the future's result. The pool never frees arg or result. */
typedef void *(*pt_task_fn)(void *arg);

typedef struct pt_pool_options {
    unsigned threads;  /* worker threads; 0 = pt_cpu_count() */
    size_t max_queued; /* tasks waiting to start; 0 = unbounded. When full,
                          pt_pool_submit() blocks (backpressure). */
} pt_pool_options;

/* Starts a pool into *out (opts may be NULL for defaults); the caller frees it
 * with pt_pool_destroy(). PT_EINVAL, PT_ENOMEM, or -errno from pthread_create. */
PT_EXTERN int pt_pool_create(pt_pool **out, const pt_pool_options *opts);

/* Shuts the pool down if needed (finishing queued work), joins its threads and
 * frees it. NULL is fine. Futures still referenced stay valid. Must not be
 * called from one of the pool's own threads (that asserts). */
PT_EXTERN void pt_pool_destroy(pt_pool *pool);

/* Queues fn(arg). On success *out (if out is non-NULL) receives a future the
 * caller must release; with out == NULL the task is fire-and-forget.
 * PT_ECLOSED after shutdown, PT_EINVAL, PT_ENOMEM. If it fails, fn never runs. */
PT_EXTERN int pt_pool_submit(pt_pool *pool, pt_task_fn fn, void *arg, pt_future **out);

/* Stops accepting work. With cancel_pending false the queued tasks still run;
 * with true, tasks that have not started are cancelled (their futures report
 * PT_ECANCELED). Blocks until every running and remaining task has finished.
 * Idempotent. From one of the pool's own threads: PT_EINVAL. */
PT_EXTERN int pt_pool_shutdown(pt_pool *pool, bool cancel_pending);

/* The number of worker threads. */
PT_EXTERN unsigned pt_pool_threads(const pt_pool *pool);

/* True when the calling thread is one of this pool's workers. */
PT_EXTERN bool pt_pool_on_worker(const pt_pool *pool);

/* Applies fn to args[0..n) on the pool and stores fn(args[i]) in results[i]:
 * the results come back in input order (like Executor.map), whatever order
 * the tasks finish in. Blocks until all are done. 0, or the first submit
 * error (tasks already queued are then cancelled or awaited), or PT_ECANCELED
 * when a concurrent pt_pool_shutdown(pool, true) cancelled some of them
 * (their results are NULL). */
PT_EXTERN int pt_pool_map(pt_pool *pool, pt_task_fn fn, void *const *args, void **results,
                          size_t n);

/* Blocks until the task has finished or been cancelled. 0. */
PT_EXTERN int pt_future_wait(pt_future *f);

/* Like pt_future_wait() but gives up after timeout_ms: PT_ETIMEDOUT. */
PT_EXTERN int pt_future_wait_timed(pt_future *f, unsigned timeout_ms);

/* Waits, then stores the task's return value in *result (may be NULL).
 * 0, or PT_ECANCELED if the task was cancelled before it started. */
PT_EXTERN int pt_future_result(pt_future *f, void **result);

/* True once the task has finished or was cancelled (non-blocking). */
PT_EXTERN bool pt_future_done(pt_future *f);

/* Cancels the task if it has not started: 0 (it will never run, waiters wake,
 * the result is PT_ECANCELED; cancelling it again also returns 0). PT_EBUSY
 * if it is running or has finished. A cancelled task keeps its max_queued
 * place until a worker reaches it and drops it. */
PT_EXTERN int pt_future_cancel(pt_future *f);

/* Drops the caller's reference (NULL is fine). */
PT_EXTERN void pt_future_release(pt_future *f);

/* Completion-order iteration over futs[0..n) (like as_completed): each call
 * to pt_completion_next() returns one future that is done, in the order they
 * finished, every future exactly once. The completion takes its own
 * reference on each future; the caller keeps its own. A future can belong to
 * one completion at a time: PT_EBUSY otherwise. Caller frees with
 * pt_completion_destroy(). */
PT_EXTERN int pt_completion_create(pt_completion **out, pt_future *const *futs, size_t n);

/* Blocks until one more future is done and stores it in *out (borrowed:
 * valid while the caller holds its own reference). PT_EOF once all n have
 * been returned. */
PT_EXTERN int pt_completion_next(pt_completion *c, pt_future **out);

/* Frees the completion and detaches it from its futures (NULL is fine). */
PT_EXTERN void pt_completion_destroy(pt_completion *c);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_POOL_H */

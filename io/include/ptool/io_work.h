/* ptool/io_work.h - CPU work from the IO loop, on the compute library's
 * thread pool, with the result delivered back on the loop thread.
 *
 * The libuv loop never blocks: hashing a buffer, parsing a page or running a
 * job goes to a pt_pool; when it is done, the completion callback runs on
 * the loop thread (woken through a uv_async_t). This is the bridge every IO
 * command uses (the course's "run CPU work in an executor" lesson).
 */
#ifndef PTOOL_IO_WORK_H
#define PTOOL_IO_WORK_H

#include <uv.h>

#include "ptool/export.h"
#include "ptool/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_io_work pt_io_work;
typedef struct pt_io_bridge pt_io_bridge;

/* Runs on a pool thread: the CPU part. */
typedef void (*pt_io_work_fn)(pt_io_work *w, void *arg);
/* Runs on the loop thread afterwards (status 0, or PT_ECANCELED when the
 * bridge closed before the work started). */
typedef void (*pt_io_done_fn)(pt_io_work *w, void *arg, int status);

/* A bridge between `loop` and `pool` (both borrowed; the pool must outlive
 * the bridge). Caller frees it with pt_io_bridge_close(). PT_ENOMEM, or a
 * libuv error as -errno. */
PT_EXTERN int pt_io_bridge_create(pt_io_bridge **out, uv_loop_t *loop, pt_pool *pool);

/* Queues work(arg) on the pool; done(arg, status) follows on the loop
 * thread. Must be called on the loop thread. If it fails, neither callback
 * runs. The bridge owns the pt_io_work until done returns. */
PT_EXTERN int pt_io_bridge_submit(pt_io_bridge *b, pt_io_work_fn work, pt_io_done_fn done,
                                  void *arg);

/* Work submitted and not yet completed (on the loop thread). */
PT_EXTERN size_t pt_io_bridge_pending(const pt_io_bridge *b);

/* Waits for the submitted work to finish (runs their done callbacks with
 * their status) and closes the bridge's async handle; the bridge is freed
 * once the loop has run the close callback. Loop thread only. */
PT_EXTERN void pt_io_bridge_close(pt_io_bridge *b);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_IO_WORK_H */

/* io_work.c - the bridge between the libuv loop and the compute pool.
 *
 * submit() wraps the caller's work in a pt_io_work and hands it to the pool;
 * the pool thread runs it, appends it to the bridge's done list under a
 * mutex and calls uv_async_send() (which coalesces). The async callback, on
 * the loop thread, takes the whole list and runs each done callback in
 * completion order. pending counts submitted-but-not-done items and is only
 * touched on the loop thread, like the in-flight list. close() waits on
 * each in-flight future (blocking the loop, by design: it is the last thing
 * an IO command does), delivers the results, then closes the async handle.
 */
#include <stdlib.h>

#include "ptool/error.h"
#include "ptool/io_work.h"

struct pt_io_work {
    pt_io_bridge *bridge;
    pt_io_work_fn work;
    pt_io_done_fn done;
    void *arg;
    pt_future *future;
    pt_io_work *next;              /* done list */
    pt_io_work *in_prev, *in_next; /* in-flight list, loop thread only */
    int status;
};

struct pt_io_bridge {
    uv_loop_t *loop;
    pt_pool *pool;
    uv_async_t async;
    uv_mutex_t lock; /* guards done_head/done_tail */
    pt_io_work *done_head, *done_tail;
    pt_io_work *inflight; /* submitted, not delivered; loop thread only */
    size_t pending;       /* length of inflight */
    int closing;
};

static void deliver(pt_io_bridge *b)
{
    uv_mutex_lock(&b->lock);
    pt_io_work *list = b->done_head;
    b->done_head = b->done_tail = NULL;
    uv_mutex_unlock(&b->lock);
    while (list) {
        pt_io_work *w = list;
        list = w->next;
        b->pending--;
        if (w->in_prev)
            w->in_prev->in_next = w->in_next;
        else
            b->inflight = w->in_next;
        if (w->in_next)
            w->in_next->in_prev = w->in_prev;
        pt_future_release(w->future);
        if (w->done)
            w->done(w, w->arg, w->status);
        free(w);
    }
}

static void on_async(uv_async_t *h)
{
    deliver(h->data);
}

static void *run_work(void *arg)
{
    pt_io_work *w = arg;
    pt_io_bridge *b = w->bridge;
    w->work(w, w->arg);
    w->status = 0;
    uv_mutex_lock(&b->lock);
    if (b->done_tail)
        b->done_tail->next = w;
    else
        b->done_head = w;
    b->done_tail = w;
    uv_mutex_unlock(&b->lock);
    uv_async_send(&b->async);
    return NULL;
}

int pt_io_bridge_create(pt_io_bridge **out, uv_loop_t *loop, pt_pool *pool)
{
    if (!out || !loop || !pool)
        return PT_EINVAL;
    pt_io_bridge *b = calloc(1, sizeof(*b));
    if (!b)
        return PT_ENOMEM;
    b->loop = loop;
    b->pool = pool;
    int rc = uv_mutex_init(&b->lock);
    if (rc) {
        free(b);
        return rc;
    }
    rc = uv_async_init(loop, &b->async, on_async);
    if (rc) {
        uv_mutex_destroy(&b->lock);
        free(b);
        return rc;
    }
    b->async.data = b;
    *out = b;
    return 0;
}

int pt_io_bridge_submit(pt_io_bridge *b, pt_io_work_fn work, pt_io_done_fn done, void *arg)
{
    if (!b || !work || b->closing)
        return PT_EINVAL;
    pt_io_work *w = calloc(1, sizeof(*w));
    if (!w)
        return PT_ENOMEM;
    w->bridge = b;
    w->work = work;
    w->done = done;
    w->arg = arg;
    int rc = pt_pool_submit(b->pool, run_work, w, &w->future);
    if (rc) {
        free(w);
        return rc;
    }
    w->in_next = b->inflight;
    if (b->inflight)
        b->inflight->in_prev = w;
    b->inflight = w;
    b->pending++;
    return 0;
}

size_t pt_io_bridge_pending(const pt_io_bridge *b)
{
    return b->pending;
}

static void on_close(uv_handle_t *h)
{
    pt_io_bridge *b = h->data;
    uv_mutex_destroy(&b->lock);
    free(b);
}

void pt_io_bridge_close(pt_io_bridge *b)
{
    if (!b)
        return;
    b->closing = 1;
    while (b->inflight) {
        pt_future_wait(b->inflight->future); /* then it is on the done list */
        deliver(b);
    }
    uv_close((uv_handle_t *)&b->async, on_close);
}

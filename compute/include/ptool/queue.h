/* ptool/queue.h - a bounded, blocking, multi-producer/multi-consumer queue of
 * pointers that can be closed (the course's queue.Queue producer/consumer).
 *
 * Items come out in the order they went in (FIFO). Closing wakes every
 * blocked thread: pushes then fail with PT_ECLOSED, pops keep returning the
 * items still queued and then PT_ECLOSED. The queue stores the pointers only;
 * the caller owns what they point to. All functions are thread-safe.
 */
#ifndef PTOOL_QUEUE_H
#define PTOOL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pt_queue pt_queue;

/* Creates a queue that holds at most `capacity` (>= 1) items into *out; the
 * caller frees it with pt_queue_destroy(). PT_EINVAL, PT_ENOMEM. */
PT_EXTERN int pt_queue_create(pt_queue **out, size_t capacity);

/* Frees the queue (NULL is fine); items still in it are not freed. No thread
 * may be blocked in it: close it and join the users first. */
PT_EXTERN void pt_queue_destroy(pt_queue *q);

/* Appends item, blocking while the queue is full. 0, or PT_ECLOSED if the
 * queue is (or becomes, while waiting) closed; the item was then not added. */
PT_EXTERN int pt_queue_push(pt_queue *q, void *item);

/* Appends item if there is room now: 0, PT_EAGAIN when full, PT_ECLOSED. */
PT_EXTERN int pt_queue_try_push(pt_queue *q, void *item);

/* Like pt_queue_push() but gives up after timeout_ms with PT_ETIMEDOUT. */
PT_EXTERN int pt_queue_push_timed(pt_queue *q, void *item, unsigned timeout_ms);

/* Removes the oldest item into *item, blocking while the queue is empty and
 * open. 0, or PT_ECLOSED once the queue is closed and empty. */
PT_EXTERN int pt_queue_pop(pt_queue *q, void **item);

/* Removes the oldest item if there is one now: 0, PT_EAGAIN when empty and
 * open, PT_ECLOSED when empty and closed. */
PT_EXTERN int pt_queue_try_pop(pt_queue *q, void **item);

/* Like pt_queue_pop() but gives up after timeout_ms with PT_ETIMEDOUT. */
PT_EXTERN int pt_queue_pop_timed(pt_queue *q, void **item, unsigned timeout_ms);

/* Closes the queue and wakes all waiters. Idempotent. */
PT_EXTERN void pt_queue_close(pt_queue *q);

/* True once pt_queue_close() was called. */
PT_EXTERN bool pt_queue_closed(pt_queue *q);

/* The number of items queued now (a snapshot). */
PT_EXTERN size_t pt_queue_size(pt_queue *q);

/* The capacity given at creation. */
PT_EXTERN size_t pt_queue_capacity(const pt_queue *q);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_QUEUE_H */

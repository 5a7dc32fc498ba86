/* queue.c - a bounded, closable MPMC queue of pointers.
 *
 * A ring buffer of `capacity` slots under one mutex. Two condition
 * variables carry the wake-ups: `not_empty` for poppers and `not_full` for
 * pushers. Every push signals one popper and every pop signals one pusher,
 * but only when someone is waiting on that side (`pop_waiters`,
 * `push_waiters`), so the uncontended path makes no futex calls. One signal
 * per item is enough because each item can satisfy exactly one popper and
 * each freed slot exactly one pusher; waiters re-check under the mutex, so a
 * spurious wake-up just waits again.
 *
 * Close sets `closed` and broadcasts both conditions. After that pushes fail
 * with PT_ECLOSED and pops drain what is left, then fail with PT_ECLOSED:
 * a consumer loop `while (pt_queue_pop(q, &x) == 0)` sees every item that
 * was pushed successfully.
 *
 * Timed waits use CLOCK_MONOTONIC condition variables.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "ptool/error.h"
#include "ptool/queue.h"
#include "internal.h"

struct pt_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty; /* poppers wait here */
    pthread_cond_t not_full;  /* pushers wait here */
    void **slots;             /* ring of `capacity` items */
    size_t capacity;          /* fixed at creation, >= 1 */
    size_t head;              /* index of the oldest item */
    size_t count;             /* items queued, 0..capacity */
    unsigned push_waiters;    /* threads blocked in push / push_timed */
    unsigned pop_waiters;     /* threads blocked in pop / pop_timed */
    bool closed;
};

int pt_queue_create(pt_queue **out, size_t capacity)
{
    pt_queue *q;
    int err;

    if (out == NULL || capacity == 0)
        return PT_EINVAL;
    *out = NULL;
    if (capacity > SIZE_MAX / sizeof(void *))
        return PT_ENOMEM;

    q = malloc(sizeof(*q));
    if (q == NULL)
        return PT_ENOMEM;
    q->capacity = capacity;
    q->head = 0;
    q->count = 0;
    q->push_waiters = 0;
    q->pop_waiters = 0;
    q->closed = false;

    q->slots = malloc(capacity * sizeof(*q->slots));
    if (q->slots == NULL) {
        err = ENOMEM;
        goto out_free;
    }
    err = pthread_mutex_init(&q->mu, NULL);
    if (err)
        goto out_slots;
    err = pt__cond_init_monotonic(&q->not_empty);
    if (err)
        goto out_mutex;
    err = pt__cond_init_monotonic(&q->not_full);
    if (err)
        goto out_not_empty;

    *out = q;
    return 0;

out_not_empty:
    pthread_cond_destroy(&q->not_empty);
out_mutex:
    pthread_mutex_destroy(&q->mu);
out_slots:
    free(q->slots);
out_free:
    free(q);
    return -err;
}

void pt_queue_destroy(pt_queue *q)
{
    if (q == NULL)
        return;
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->mu);
    free(q->slots);
    free(q);
}

/* Appends item; the caller holds q->mu and has checked for room. */
static void put_locked(pt_queue *q, void *item)
{
    size_t tail = q->head + q->count;

    if (tail >= q->capacity)
        tail -= q->capacity;
    q->slots[tail] = item;
    q->count++;
    if (q->pop_waiters > 0)
        pthread_cond_signal(&q->not_empty);
}

/* Removes the oldest item; the caller holds q->mu and has checked count. */
static void *take_locked(pt_queue *q)
{
    void *item = q->slots[q->head];

    if (++q->head == q->capacity)
        q->head = 0;
    q->count--;
    if (q->push_waiters > 0)
        pthread_cond_signal(&q->not_full);
    return item;
}

/* The common body of push / try_push / push_timed. deadline NULL: wait
 * forever; wait false: do not wait at all. */
static int push(pt_queue *q, void *item, bool wait, const struct timespec *deadline)
{
    int rc = 0;

    if (q == NULL)
        return PT_EINVAL;
    pthread_mutex_lock(&q->mu);
    if (wait) {
        q->push_waiters++;
        while (q->count == q->capacity && !q->closed) {
            if (deadline == NULL) {
                pthread_cond_wait(&q->not_full, &q->mu);
            } else if (pthread_cond_timedwait(&q->not_full, &q->mu, deadline) == ETIMEDOUT &&
                       q->count == q->capacity && !q->closed) {
                rc = PT_ETIMEDOUT;
                break;
            }
        }
        q->push_waiters--;
    }
    if (q->closed)
        rc = PT_ECLOSED;
    else if (rc == 0 && q->count == q->capacity)
        rc = PT_EAGAIN;
    if (rc == 0)
        put_locked(q, item);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* The common body of pop / try_pop / pop_timed (see push()). */
static int pop(pt_queue *q, void **item, bool wait, const struct timespec *deadline)
{
    int rc = 0;

    if (q == NULL || item == NULL)
        return PT_EINVAL;
    pthread_mutex_lock(&q->mu);
    if (wait) {
        q->pop_waiters++;
        while (q->count == 0 && !q->closed) {
            if (deadline == NULL) {
                pthread_cond_wait(&q->not_empty, &q->mu);
            } else if (pthread_cond_timedwait(&q->not_empty, &q->mu, deadline) == ETIMEDOUT &&
                       q->count == 0 && !q->closed) {
                rc = PT_ETIMEDOUT;
                break;
            }
        }
        q->pop_waiters--;
    }
    if (q->count > 0)
        *item = take_locked(q);
    else if (q->closed)
        rc = PT_ECLOSED;
    else if (rc == 0)
        rc = PT_EAGAIN;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int pt_queue_push(pt_queue *q, void *item)
{
    return push(q, item, true, NULL);
}

int pt_queue_try_push(pt_queue *q, void *item)
{
    return push(q, item, false, NULL);
}

int pt_queue_push_timed(pt_queue *q, void *item, unsigned timeout_ms)
{
    struct timespec deadline;

    pt__deadline_after(&deadline, timeout_ms);
    return push(q, item, true, &deadline);
}

int pt_queue_pop(pt_queue *q, void **item)
{
    return pop(q, item, true, NULL);
}

int pt_queue_try_pop(pt_queue *q, void **item)
{
    return pop(q, item, false, NULL);
}

int pt_queue_pop_timed(pt_queue *q, void **item, unsigned timeout_ms)
{
    struct timespec deadline;

    pt__deadline_after(&deadline, timeout_ms);
    return pop(q, item, true, &deadline);
}

void pt_queue_close(pt_queue *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

bool pt_queue_closed(pt_queue *q)
{
    bool closed;

    if (q == NULL)
        return false;
    pthread_mutex_lock(&q->mu);
    closed = q->closed;
    pthread_mutex_unlock(&q->mu);
    return closed;
}

size_t pt_queue_size(pt_queue *q)
{
    size_t n;

    if (q == NULL)
        return 0;
    pthread_mutex_lock(&q->mu);
    n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t pt_queue_capacity(const pt_queue *q)
{
    return q == NULL ? 0 : q->capacity;
}

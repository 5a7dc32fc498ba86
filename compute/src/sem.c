/* sem.c - a counting semaphore on one mutex and one condition variable.
 *
 * `count` is the number of free permits; acquire waits while it is zero.
 * Release adds n permits and signals the condition once per permit, but never
 * more often than there are waiters (`waiters` counts threads inside a wait),
 * so release(1) wakes one thread and release(n) up to n. A woken thread
 * re-checks `count` under the mutex, which makes spurious wake-ups and
 * "stolen" permits (a try_acquire that runs in between) harmless.
 *
 * Timed waits use a CLOCK_MONOTONIC condition variable, so changing the wall
 * clock neither shortens nor stretches a timeout.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "ptool/error.h"
#include "ptool/sem.h"
#include "internal.h"

struct pt_sem {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled once per released permit while waiters > 0 */
    unsigned count;    /* permits available now */
    unsigned waiters;  /* threads blocked in acquire / acquire_timed */
};

int pt_sem_create(pt_sem **out, unsigned initial)
{
    pt_sem *sem;
    int err;

    if (out == NULL)
        return PT_EINVAL;
    *out = NULL;

    sem = malloc(sizeof(*sem));
    if (sem == NULL)
        return PT_ENOMEM;
    sem->count = initial;
    sem->waiters = 0;

    err = pthread_mutex_init(&sem->mu, NULL);
    if (err)
        goto out_free;
    err = pt__cond_init_monotonic(&sem->cv);
    if (err)
        goto out_mutex;

    *out = sem;
    return 0;

out_mutex:
    pthread_mutex_destroy(&sem->mu);
out_free:
    free(sem);
    return -err;
}

void pt_sem_destroy(pt_sem *sem)
{
    if (sem == NULL)
        return;
    pthread_cond_destroy(&sem->cv);
    pthread_mutex_destroy(&sem->mu);
    free(sem);
}

int pt_sem_acquire(pt_sem *sem)
{
    if (sem == NULL)
        return PT_EINVAL;
    pthread_mutex_lock(&sem->mu);
    sem->waiters++;
    while (sem->count == 0)
        pthread_cond_wait(&sem->cv, &sem->mu);
    sem->waiters--;
    sem->count--;
    pthread_mutex_unlock(&sem->mu);
    return 0;
}

int pt_sem_try_acquire(pt_sem *sem)
{
    int rc = PT_EAGAIN;

    if (sem == NULL)
        return PT_EINVAL;
    pthread_mutex_lock(&sem->mu);
    if (sem->count > 0) {
        sem->count--;
        rc = 0;
    }
    pthread_mutex_unlock(&sem->mu);
    return rc;
}

int pt_sem_acquire_timed(pt_sem *sem, unsigned timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    if (sem == NULL)
        return PT_EINVAL;
    pt__deadline_after(&deadline, timeout_ms);

    pthread_mutex_lock(&sem->mu);
    sem->waiters++;
    while (sem->count == 0) {
        /* A permit that arrives together with the timeout still counts. */
        if (pthread_cond_timedwait(&sem->cv, &sem->mu, &deadline) == ETIMEDOUT && sem->count == 0) {
            rc = PT_ETIMEDOUT;
            break;
        }
    }
    sem->waiters--;
    if (rc == 0)
        sem->count--;
    pthread_mutex_unlock(&sem->mu);
    return rc;
}

int pt_sem_release(pt_sem *sem, unsigned n)
{
    unsigned wake;

    if (sem == NULL || n == 0)
        return PT_EINVAL;
    pthread_mutex_lock(&sem->mu);
    if (n > UINT_MAX - sem->count) {
        pthread_mutex_unlock(&sem->mu);
        return PT_EINVAL;
    }
    sem->count += n;
    /* Each signal wakes at least one distinct waiter (POSIX); the woken
     * threads take the permits in whatever order they get the mutex. */
    wake = n < sem->waiters ? n : sem->waiters;
    while (wake-- > 0)
        pthread_cond_signal(&sem->cv);
    pthread_mutex_unlock(&sem->mu);
    return 0;
}

unsigned pt_sem_value(pt_sem *sem)
{
    unsigned v;

    if (sem == NULL)
        return 0;
    pthread_mutex_lock(&sem->mu);
    v = sem->count;
    pthread_mutex_unlock(&sem->mu);
    return v;
}

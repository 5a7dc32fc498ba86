/* test_sem.c - the counting semaphore: permits, limits, timeouts, wake-ups. */
#include <criterion/criterion.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ptool/error.h"
#include "ptool/sem.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

Test(sem, create_destroy_and_value)
{
    pt_sem *sem = NULL;
    cr_assert_eq(pt_sem_create(&sem, 3), 0);
    cr_assert_not_null(sem);
    cr_assert_eq(pt_sem_value(sem), 3);
    pt_sem_destroy(sem);
    pt_sem_destroy(NULL);
}

Test(sem, bad_args_einval)
{
    pt_sem *sem = NULL;
    cr_assert_eq(pt_sem_create(NULL, 1), PT_EINVAL);
    cr_assert_eq(pt_sem_create(&sem, 1), 0);
    cr_assert_eq(pt_sem_release(sem, 0), PT_EINVAL);
    /* Overflow: the count stays as it was. */
    cr_assert_eq(pt_sem_release(sem, UINT_MAX), PT_EINVAL);
    cr_assert_eq(pt_sem_value(sem), 1);
    cr_assert_eq(pt_sem_release(sem, UINT_MAX - 1), 0);
    cr_assert_eq(pt_sem_value(sem), UINT_MAX);
    cr_assert_eq(pt_sem_release(sem, 1), PT_EINVAL);
    cr_assert_eq(pt_sem_acquire(NULL), PT_EINVAL);
    cr_assert_eq(pt_sem_try_acquire(NULL), PT_EINVAL);
    cr_assert_eq(pt_sem_acquire_timed(NULL, 1), PT_EINVAL);
    cr_assert_eq(pt_sem_release(NULL, 1), PT_EINVAL);
    pt_sem_destroy(sem);
}

Test(sem, try_acquire_counts_down_to_eagain)
{
    pt_sem *sem;
    cr_assert_eq(pt_sem_create(&sem, 2), 0);
    cr_assert_eq(pt_sem_try_acquire(sem), 0);
    cr_assert_eq(pt_sem_try_acquire(sem), 0);
    cr_assert_eq(pt_sem_try_acquire(sem), PT_EAGAIN);
    cr_assert_eq(pt_sem_value(sem), 0);
    /* Release may go past the initial value (not a BoundedSemaphore). */
    cr_assert_eq(pt_sem_release(sem, 5), 0);
    cr_assert_eq(pt_sem_value(sem), 5);
    cr_assert_eq(pt_sem_acquire(sem), 0);
    cr_assert_eq(pt_sem_value(sem), 4);
    pt_sem_destroy(sem);
}

Test(sem, timed_acquire_times_out, .timeout = 60)
{
    pt_sem *sem;
    cr_assert_eq(pt_sem_create(&sem, 0), 0);
    double t0 = now_s();
    cr_assert_eq(pt_sem_acquire_timed(sem, 50), PT_ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert_geq(dt, 0.045, "returned after %.3f s", dt);
    cr_assert_lt(dt, 5.0);
    cr_assert_eq(pt_sem_acquire_timed(sem, 0), PT_ETIMEDOUT);
    cr_assert_eq(pt_sem_release(sem, 1), 0);
    cr_assert_eq(pt_sem_acquire_timed(sem, 50), 0);
    cr_assert_eq(pt_sem_value(sem), 0);
    pt_sem_destroy(sem);
}

/* --- at most N holders among 16 threads ------------------------------------ */

#define HOLD_THREADS 16
#define HOLD_LIMIT   3
#define HOLD_ROUNDS  2000

struct holders {
    pt_sem *sem;
    atomic_int inside;
    atomic_int max_inside;
    atomic_long total;
};

static void *holder_main(void *arg)
{
    struct holders *h = arg;
    for (int i = 0; i < HOLD_ROUNDS; i++) {
        int rc = (i % 3 == 0) ? pt_sem_acquire_timed(h->sem, 60000) : pt_sem_acquire(h->sem);
        if (rc != 0)
            return (void *)1;
        int in = atomic_fetch_add(&h->inside, 1) + 1;
        int m = atomic_load(&h->max_inside);
        while (in > m && !atomic_compare_exchange_weak(&h->max_inside, &m, in))
            ;
        atomic_fetch_add(&h->total, 1);
        if (i % 64 == 0)
            sleep_us(50);
        atomic_fetch_sub(&h->inside, 1);
        if (pt_sem_release(h->sem, 1) != 0)
            return (void *)1;
    }
    return NULL;
}

Test(sem, never_more_than_n_holders, .timeout = 60)
{
    struct holders h;
    pthread_t th[HOLD_THREADS];

    cr_assert_eq(pt_sem_create(&h.sem, HOLD_LIMIT), 0);
    atomic_init(&h.inside, 0);
    atomic_init(&h.max_inside, 0);
    atomic_init(&h.total, 0);
    for (int i = 0; i < HOLD_THREADS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, holder_main, &h), 0);
    for (int i = 0; i < HOLD_THREADS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        cr_assert_null(ret, "thread %d failed", i);
    }
    cr_assert_leq(atomic_load(&h.max_inside), HOLD_LIMIT, "max holders %d",
                  atomic_load(&h.max_inside));
    cr_assert_geq(atomic_load(&h.max_inside), 1);
    cr_assert_eq(atomic_load(&h.total), (long)HOLD_THREADS * HOLD_ROUNDS);
    cr_assert_eq(pt_sem_value(h.sem), HOLD_LIMIT);
    pt_sem_destroy(h.sem);
}

/* --- release(n) wakes n waiters ---------------------------------------------- */

#define WAITERS 8

struct waiters {
    pt_sem *sem;
    atomic_int started;
    atomic_int acquired;
};

static void *waiter_main(void *arg)
{
    struct waiters *w = arg;
    atomic_fetch_add(&w->started, 1);
    if (pt_sem_acquire(w->sem) != 0)
        return (void *)1;
    atomic_fetch_add(&w->acquired, 1);
    return NULL;
}

/* Waits up to ~10 s for *v to reach want. */
static bool wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 10000 && atomic_load(v) < want; i++)
        sleep_us(1000);
    return atomic_load(v) >= want;
}

Test(sem, release_n_wakes_n_waiters, .timeout = 60)
{
    struct waiters w;
    pthread_t th[WAITERS];

    cr_assert_eq(pt_sem_create(&w.sem, 0), 0);
    atomic_init(&w.started, 0);
    atomic_init(&w.acquired, 0);
    for (int i = 0; i < WAITERS; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, waiter_main, &w), 0);
    cr_assert(wait_for(&w.started, WAITERS));
    sleep_us(50000); /* let them block */
    cr_assert_eq(atomic_load(&w.acquired), 0);

    cr_assert_eq(pt_sem_release(w.sem, 3), 0);
    cr_assert(wait_for(&w.acquired, 3), "only %d woke", atomic_load(&w.acquired));
    sleep_us(50000);
    cr_assert_eq(atomic_load(&w.acquired), 3, "release(3) let %d through",
                 atomic_load(&w.acquired));
    cr_assert_eq(pt_sem_value(w.sem), 0);

    cr_assert_eq(pt_sem_release(w.sem, WAITERS - 3), 0);
    for (int i = 0; i < WAITERS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        cr_assert_null(ret);
    }
    cr_assert_eq(atomic_load(&w.acquired), WAITERS);
    cr_assert_eq(pt_sem_value(w.sem), 0);
    pt_sem_destroy(w.sem);
}

/* tsan_primitives.c - the queue, pool and semaphore under ThreadSanitizer.
 *
 * A plain program, not a Criterion suite: TSan crashes inside Criterion's
 * runner. It drives the same concurrency as test_queue.c, test_pool.c and
 * test_sem.c (with fewer items, TSan is slow) and checks results with
 * CHECK(), which prints "FAIL: ..." and exits 1. Built with
 * -fsanitize=thread; any data race makes TSan report and fail the run.
 */
/* Built without _GNU_SOURCE: ask for POSIX (clock_gettime, nanosleep). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ptool/error.h"
#include "ptool/pool.h"
#include "ptool/queue.h"
#include "ptool/sem.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("FAIL: %s:%d: %s\n", __FILE__, __LINE__, #cond);                                \
            fflush(stdout);                                                                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 20000 && atomic_load(v) < want; i++)
        sleep_us(1000);
    CHECK(atomic_load(v) >= want);
}

/* --- queue: 8 producers x 8 consumers ---------------------------------------- */

#define QP     8
#define QC     8
#define QPER   20000
#define QTOTAL (QP * QPER)

static pt_queue *mq;
static atomic_uchar seen[QTOTAL];
static atomic_long received, duplicates;
static atomic_int next_producer;
static int consumer_rc[QC];

static void *q_producer(void *arg)
{
    (void)arg;
    uintptr_t id = (uintptr_t)atomic_fetch_add(&next_producer, 1);
    for (uintptr_t s = 0; s < QPER; s++) {
        void *v = (void *)(1 + id * QPER + s);
        int rc;
        if (s % 2)
            rc = pt_queue_push(mq, v);
        else
            while ((rc = pt_queue_push_timed(mq, v, 1)) == PT_ETIMEDOUT)
                ;
        CHECK(rc == 0);
    }
    return NULL;
}

static void *q_consumer(void *arg)
{
    int id = (int)(intptr_t)arg;
    void *item;
    int rc;
    for (unsigned n = 0;; n++) {
        if (n % 2)
            rc = pt_queue_pop(mq, &item);
        else
            while ((rc = pt_queue_try_pop(mq, &item)) == PT_EAGAIN)
                sched_yield();
        if (rc != 0)
            break;
        uintptr_t v = (uintptr_t)item - 1;
        CHECK(v < QTOTAL);
        if (atomic_exchange(&seen[v], 1))
            atomic_fetch_add(&duplicates, 1);
        atomic_fetch_add(&received, 1);
    }
    consumer_rc[id] = rc;
    return NULL;
}

static void check_queue(void)
{
    pthread_t p[QP], c[QC];
    CHECK(pt_queue_create(&mq, 64) == 0);
    for (int i = 0; i < QP; i++)
        CHECK(pthread_create(&p[i], NULL, q_producer, NULL) == 0);
    for (int i = 0; i < QC; i++)
        CHECK(pthread_create(&c[i], NULL, q_consumer, (void *)(intptr_t)i) == 0);
    for (int i = 0; i < QP; i++)
        pthread_join(p[i], NULL);
    pt_queue_close(mq);
    for (int i = 0; i < QC; i++)
        pthread_join(c[i], NULL);
    for (int i = 0; i < QC; i++)
        CHECK(consumer_rc[i] == PT_ECLOSED);
    CHECK(atomic_load(&duplicates) == 0);
    CHECK(atomic_load(&received) == QTOTAL);
    for (long i = 0; i < QTOTAL; i++)
        CHECK(atomic_load(&seen[i]) == 1);
    CHECK(pt_queue_size(mq) == 0);
    pt_queue_destroy(mq);
}

/* --- pool -------------------------------------------------------------------- */

static atomic_int counter;

static void *task_inc(void *arg)
{
    atomic_fetch_add(&counter, 1);
    return arg;
}

static void *task_jitter(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    sleep_us((long)(rand_r(&seed) % 300));
    return (void *)((uintptr_t)arg + 1);
}

struct gate {
    atomic_int started;
    atomic_int open;
};

static void *task_gate(void *arg)
{
    struct gate *g = arg;
    atomic_fetch_add(&g->started, 1);
    while (!atomic_load(&g->open))
        sleep_us(200);
    return NULL;
}

/* A plain (non-atomic) buffer written by tasks and read after wait: TSan
 * checks that completion gives the waiter a happens-before edge. */
static int plain[256];

static void *task_write_plain(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    plain[i] = (int)i * 3;
    return NULL;
}

static void *iterate_completion(void *arg)
{
    pt_completion *c = arg;
    pt_future *f;
    long n = 0;
    while (pt_completion_next(c, &f) == 0) {
        CHECK(pt_future_done(f));
        n++;
    }
    return (void *)n;
}

static void check_pool(void)
{
    pt_pool_options opts = {.threads = 3, .max_queued = 0};
    pt_pool *pool;
    enum { N = 200 };
    pt_future *futs[N];
    void *args[N], *results[N];

    CHECK(pt_pool_create(&pool, &opts) == 0);

    /* submit + result, plain memory handed over by wait */
    for (uintptr_t i = 0; i < 256; i++) {
        pt_future *f;
        CHECK(pt_pool_submit(pool, task_write_plain, (void *)i, &f) == 0);
        CHECK(pt_future_wait(f) == 0);
        CHECK(plain[i] == (int)i * 3);
        pt_future_release(f);
    }
    for (uintptr_t i = 0; i < N; i++)
        CHECK(pt_pool_submit(pool, task_inc, (void *)i, &futs[i]) == 0);
    for (uintptr_t i = 0; i < N; i++) {
        void *r;
        CHECK(pt_future_result(futs[i], &r) == 0 && (uintptr_t)r == i);
        pt_future_release(futs[i]);
    }

    /* map keeps order */
    for (uintptr_t i = 0; i < N; i++)
        args[i] = (void *)i;
    CHECK(pt_pool_map(pool, task_jitter, args, results, N) == 0);
    for (uintptr_t i = 0; i < N; i++)
        CHECK((uintptr_t)results[i] == i + 1);

    /* as-completed, iterated by two threads at once */
    for (uintptr_t i = 0; i < N; i++)
        CHECK(pt_pool_submit(pool, task_jitter, (void *)i, &futs[i]) == 0);
    pt_completion *c;
    CHECK(pt_completion_create(&c, futs, N) == 0);
    pthread_t it[2];
    void *got[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&it[i], NULL, iterate_completion, c) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(it[i], &got[i]);
    CHECK((intptr_t)got[0] + (intptr_t)got[1] == N);
    pt_completion_destroy(c);
    for (int i = 0; i < N; i++)
        pt_future_release(futs[i]);

    /* cancel races: cancel while workers pop */
    atomic_store(&counter, 0);
    int ran = 0, cancelled = 0;
    for (uintptr_t i = 0; i < N; i++)
        CHECK(pt_pool_submit(pool, task_inc, NULL, &futs[i]) == 0);
    for (int i = N - 1; i >= 0; i--) {
        int rc = pt_future_cancel(futs[i]);
        CHECK(rc == 0 || rc == PT_EBUSY);
    }
    for (int i = 0; i < N; i++) {
        int rc = pt_future_result(futs[i], NULL);
        CHECK(rc == 0 || rc == PT_ECANCELED);
        if (rc == 0)
            ran++;
        else
            cancelled++;
        pt_future_release(futs[i]);
    }
    CHECK(ran + cancelled == N && ran == atomic_load(&counter));

    /* cancel a queued task behind a running one */
    struct gate g = {0};
    pt_future *blocker[3], *victim;
    for (int i = 0; i < 3; i++)
        CHECK(pt_pool_submit(pool, task_gate, &g, &blocker[i]) == 0);
    wait_for(&g.started, 3);
    CHECK(pt_pool_submit(pool, task_inc, NULL, &victim) == 0);
    CHECK(pt_future_cancel(victim) == 0);
    CHECK(pt_future_cancel(blocker[0]) == PT_EBUSY);
    CHECK(pt_future_result(victim, NULL) == PT_ECANCELED);
    atomic_store(&g.open, 1);
    for (int i = 0; i < 3; i++) {
        CHECK(pt_future_result(blocker[i], NULL) == 0);
        pt_future_release(blocker[i]);
    }
    pt_future_release(victim);

    /* shutdown(false) with a full queue runs everything */
    atomic_store(&counter, 0);
    for (int i = 0; i < 3000; i++)
        CHECK(pt_pool_submit(pool, task_inc, NULL, NULL) == 0);
    CHECK(pt_pool_shutdown(pool, false) == 0);
    CHECK(atomic_load(&counter) == 3000);
    CHECK(pt_pool_submit(pool, task_inc, NULL, NULL) == PT_ECLOSED);
    pt_pool_destroy(pool);

    /* shutdown(true): everything done, cancelled ones never ran */
    opts.threads = 2;
    opts.max_queued = 0;
    CHECK(pt_pool_create(&pool, &opts) == 0);
    atomic_store(&counter, 0);
    for (int i = 0; i < N; i++)
        CHECK(pt_pool_submit(pool, task_inc, NULL, &futs[i]) == 0);
    CHECK(pt_pool_shutdown(pool, true) == 0);
    ran = 0;
    for (int i = 0; i < N; i++) {
        CHECK(pt_future_done(futs[i]));
        int rc = pt_future_result(futs[i], NULL);
        CHECK(rc == 0 || rc == PT_ECANCELED);
        ran += rc == 0;
        pt_future_release(futs[i]);
    }
    CHECK(ran == atomic_load(&counter));
    pt_pool_destroy(pool);

    /* backpressure with several submitters */
    opts.threads = 2;
    opts.max_queued = 4;
    CHECK(pt_pool_create(&pool, &opts) == 0);
    atomic_store(&counter, 0);
    for (uintptr_t i = 0; i < N; i++)
        args[i] = (void *)i;
    CHECK(pt_pool_map(pool, task_jitter, args, results, N) == 0);
    for (uintptr_t i = 0; i < N; i++)
        CHECK((uintptr_t)results[i] == i + 1);
    pt_pool_destroy(pool);
}

/* --- semaphore ------------------------------------------------------------------ */

#define SEM_THREADS 16
#define SEM_LIMIT   3

static pt_sem *sem;
static atomic_int inside, max_inside;

static void *sem_user(void *arg)
{
    (void)arg;
    for (int i = 0; i < 300; i++) {
        CHECK((i % 2 ? pt_sem_acquire(sem) : pt_sem_acquire_timed(sem, 60000)) == 0);
        int in = atomic_fetch_add(&inside, 1) + 1;
        int m = atomic_load(&max_inside);
        while (in > m && !atomic_compare_exchange_weak(&max_inside, &m, in))
            ;
        atomic_fetch_sub(&inside, 1);
        CHECK(pt_sem_release(sem, 1) == 0);
    }
    return NULL;
}

static void check_sem(void)
{
    pthread_t th[SEM_THREADS];
    CHECK(pt_sem_create(&sem, SEM_LIMIT) == 0);
    for (int i = 0; i < SEM_THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, sem_user, NULL) == 0);
    for (int i = 0; i < SEM_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&max_inside) <= SEM_LIMIT);
    CHECK(pt_sem_value(sem) == SEM_LIMIT);
    CHECK(pt_sem_acquire_timed(sem, 0) == 0);
    CHECK(pt_sem_try_acquire(sem) == 0);
    CHECK(pt_sem_try_acquire(sem) == 0);
    CHECK(pt_sem_try_acquire(sem) == PT_EAGAIN);
    CHECK(pt_sem_acquire_timed(sem, 20) == PT_ETIMEDOUT);
    CHECK(pt_sem_release(sem, 0) == PT_EINVAL);
    pt_sem_destroy(sem);
}

int main(void)
{
    check_queue();
    check_pool();
    check_sem();
    printf("tsan_primitives: all checks passed\n");
    return 0;
}

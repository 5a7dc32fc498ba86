/* test_queue.c - the bounded MPMC queue: FIFO, every item exactly once under
 * 8x8 contention, close semantics, try/timed variants, bad arguments. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "ptool/error.h"
#include "ptool/queue.h"

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

/* Waits up to ~10 s for *v to reach want. */
static bool wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 10000 && atomic_load(v) < want; i++)
        sleep_us(1000);
    return atomic_load(v) >= want;
}

Test(queue, bad_args_einval)
{
    pt_queue *q = NULL;
    void *item;
    cr_assert_eq(pt_queue_create(NULL, 4), PT_EINVAL);
    cr_assert_eq(pt_queue_create(&q, 0), PT_EINVAL);
    cr_assert_null(q);
    cr_assert_eq(pt_queue_create(&q, SIZE_MAX), PT_ENOMEM);
    cr_assert_eq(pt_queue_push(NULL, NULL), PT_EINVAL);
    cr_assert_eq(pt_queue_try_push(NULL, NULL), PT_EINVAL);
    cr_assert_eq(pt_queue_push_timed(NULL, NULL, 1), PT_EINVAL);
    cr_assert_eq(pt_queue_pop(NULL, &item), PT_EINVAL);
    cr_assert_eq(pt_queue_try_pop(NULL, &item), PT_EINVAL);
    cr_assert_eq(pt_queue_pop_timed(NULL, &item, 1), PT_EINVAL);
    cr_assert_eq(pt_queue_create(&q, 2), 0);
    cr_assert_eq(pt_queue_pop(q, NULL), PT_EINVAL);
    cr_assert_eq(pt_queue_try_pop(q, NULL), PT_EINVAL);
    pt_queue_destroy(q);
    pt_queue_destroy(NULL);
}

Test(queue, size_capacity_closed)
{
    pt_queue *q;
    cr_assert_eq(pt_queue_create(&q, 3), 0);
    cr_assert_eq(pt_queue_capacity(q), 3);
    cr_assert_eq(pt_queue_size(q), 0);
    cr_assert_not(pt_queue_closed(q));
    cr_assert_eq(pt_queue_push(q, (void *)1), 0);
    cr_assert_eq(pt_queue_push(q, (void *)2), 0);
    cr_assert_eq(pt_queue_size(q), 2);
    pt_queue_close(q);
    pt_queue_close(q); /* idempotent */
    cr_assert(pt_queue_closed(q));
    pt_queue_destroy(q);
}

Test(queue, fifo_single_producer_consumer_wraps)
{
    pt_queue *q;
    void *item;
    cr_assert_eq(pt_queue_create(&q, 3), 0);
    /* Interleave so head and tail wrap around the ring many times. */
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 1000; round++) {
        /* Fill to capacity, then empty down to 0 or 1 items. */
        while (next_in - next_out < 3)
            cr_assert_eq(pt_queue_try_push(q, (void *)next_in++), 0);
        cr_assert_eq(pt_queue_try_push(q, (void *)next_in), PT_EAGAIN);
        while (next_in - next_out > (uintptr_t)(round & 1)) {
            cr_assert_eq(pt_queue_try_pop(q, &item), 0);
            cr_assert_eq((uintptr_t)item, next_out++);
        }
    }
    while (pt_queue_try_pop(q, &item) == 0)
        cr_assert_eq((uintptr_t)item, next_out++);
    cr_assert_eq(next_in, next_out);
    pt_queue_destroy(q);
}

#define FIFO_ITEMS 100000

static void *fifo_producer(void *arg)
{
    pt_queue *q = arg;
    for (uintptr_t i = 1; i <= FIFO_ITEMS; i++)
        if (pt_queue_push(q, (void *)i) != 0)
            return (void *)1;
    pt_queue_close(q);
    return NULL;
}

Test(queue, fifo_order_across_threads, .timeout = 60)
{
    pt_queue *q;
    pthread_t th;
    void *item;
    uintptr_t expect = 1;
    int rc;

    cr_assert_eq(pt_queue_create(&q, 7), 0);
    cr_assert_eq(pthread_create(&th, NULL, fifo_producer, q), 0);
    while ((rc = pt_queue_pop(q, &item)) == 0) {
        cr_assert_eq((uintptr_t)item, expect, "got %zu, want %zu", (size_t)(uintptr_t)item,
                     (size_t)expect);
        expect++;
    }
    cr_assert_eq(rc, PT_ECLOSED);
    cr_assert_eq(expect, FIFO_ITEMS + 1);
    void *ret;
    pthread_join(th, &ret);
    cr_assert_null(ret);
    pt_queue_destroy(q);
}

/* --- 8 producers x 8 consumers ------------------------------------------------ */

#define MPMC_PRODUCERS    8
#define MPMC_CONSUMERS    8
#define MPMC_PER_PRODUCER 100000
#define MPMC_TOTAL        (MPMC_PRODUCERS * MPMC_PER_PRODUCER)

struct mpmc {
    pt_queue *q;
    atomic_uchar seen[MPMC_TOTAL];
    atomic_long received;
    atomic_long duplicates;
    atomic_long out_of_order; /* one producer's items seen out of order by one consumer */
    atomic_int next_id;
    int consumer_rc[MPMC_CONSUMERS];
};

/* Items are 1 + producer * MPMC_PER_PRODUCER + seq: non-NULL and unique. */
static void *mpmc_producer(void *arg)
{
    struct mpmc *m = arg;
    int id = atomic_fetch_add(&m->next_id, 1);
    for (uintptr_t s = 0; s < MPMC_PER_PRODUCER; s++) {
        uintptr_t v = 1 + (uintptr_t)id * MPMC_PER_PRODUCER + s;
        /* Mix the variants; all of them block or retry until there is room. */
        int rc;
        if (s % 3 == 0) {
            rc = pt_queue_push(m->q, (void *)v);
        } else if (s % 3 == 1) {
            while ((rc = pt_queue_try_push(m->q, (void *)v)) == PT_EAGAIN)
                sched_yield();
        } else {
            while ((rc = pt_queue_push_timed(m->q, (void *)v, 1)) == PT_ETIMEDOUT)
                ;
        }
        if (rc != 0)
            return (void *)1;
    }
    return NULL;
}

static void *mpmc_consumer(void *arg)
{
    struct mpmc *m = arg;
    int id = atomic_fetch_add(&m->next_id, 1) - MPMC_PRODUCERS;
    long last[MPMC_PRODUCERS];
    void *item;
    int rc;

    for (int p = 0; p < MPMC_PRODUCERS; p++)
        last[p] = -1;
    for (unsigned n = 0;; n++) {
        if (n % 2 == 0)
            rc = pt_queue_pop(m->q, &item);
        else
            while ((rc = pt_queue_pop_timed(m->q, &item, 1)) == PT_ETIMEDOUT)
                ;
        if (rc != 0)
            break;
        uintptr_t v = (uintptr_t)item - 1;
        if (v >= MPMC_TOTAL) {
            atomic_fetch_add(&m->duplicates, 1); /* garbage counts as a failure too */
            continue;
        }
        if (atomic_exchange(&m->seen[v], 1) != 0)
            atomic_fetch_add(&m->duplicates, 1);
        long p = (long)(v / MPMC_PER_PRODUCER), s = (long)(v % MPMC_PER_PRODUCER);
        if (s <= last[p])
            atomic_fetch_add(&m->out_of_order, 1);
        last[p] = s;
        atomic_fetch_add(&m->received, 1);
    }
    m->consumer_rc[id] = rc;
    return NULL;
}

Test(queue, mpmc_8x8_every_item_once, .timeout = 60)
{
    struct mpmc *m = calloc(1, sizeof(*m));
    pthread_t prod[MPMC_PRODUCERS], cons[MPMC_CONSUMERS];

    cr_assert_not_null(m);
    cr_assert_eq(pt_queue_create(&m->q, 64), 0);
    /* Producers take ids 0..7 first, then consumers 8..15. */
    for (int i = 0; i < MPMC_PRODUCERS; i++)
        cr_assert_eq(pthread_create(&prod[i], NULL, mpmc_producer, m), 0);
    while (atomic_load(&m->next_id) < MPMC_PRODUCERS)
        sched_yield();
    for (int i = 0; i < MPMC_CONSUMERS; i++)
        cr_assert_eq(pthread_create(&cons[i], NULL, mpmc_consumer, m), 0);

    for (int i = 0; i < MPMC_PRODUCERS; i++) {
        void *ret;
        pthread_join(prod[i], &ret);
        cr_assert_null(ret, "producer %d failed", i);
    }
    pt_queue_close(m->q);
    for (int i = 0; i < MPMC_CONSUMERS; i++)
        pthread_join(cons[i], NULL);

    for (int i = 0; i < MPMC_CONSUMERS; i++)
        cr_assert_eq(m->consumer_rc[i], PT_ECLOSED, "consumer %d ended with %d", i,
                     m->consumer_rc[i]);
    cr_assert_eq(atomic_load(&m->duplicates), 0);
    cr_assert_eq(atomic_load(&m->out_of_order), 0);
    cr_assert_eq(atomic_load(&m->received), MPMC_TOTAL);
    long missing = 0;
    for (long i = 0; i < MPMC_TOTAL; i++)
        missing += atomic_load(&m->seen[i]) == 0;
    cr_assert_eq(missing, 0, "%ld items never arrived", missing);
    cr_assert_eq(pt_queue_size(m->q), 0);
    pt_queue_destroy(m->q);
    free(m);
}

/* --- close ------------------------------------------------------------------ */

struct blocked {
    pt_queue *q;
    atomic_int started;
    atomic_int returned;
    atomic_int closed_rc; /* how many returned PT_ECLOSED */
};

static void *blocked_pusher(void *arg)
{
    struct blocked *b = arg;
    atomic_fetch_add(&b->started, 1);
    int rc = pt_queue_push(b->q, (void *)42);
    atomic_fetch_add(&b->returned, 1);
    if (rc == PT_ECLOSED)
        atomic_fetch_add(&b->closed_rc, 1);
    return NULL;
}

static void *blocked_popper(void *arg)
{
    struct blocked *b = arg;
    void *item;
    atomic_fetch_add(&b->started, 1);
    int rc = pt_queue_pop(b->q, &item);
    atomic_fetch_add(&b->returned, 1);
    if (rc == PT_ECLOSED)
        atomic_fetch_add(&b->closed_rc, 1);
    return NULL;
}

static void *blocked_timed_popper(void *arg)
{
    struct blocked *b = arg;
    void *item;
    atomic_fetch_add(&b->started, 1);
    int rc = pt_queue_pop_timed(b->q, &item, 60000);
    atomic_fetch_add(&b->returned, 1);
    if (rc == PT_ECLOSED)
        atomic_fetch_add(&b->closed_rc, 1);
    return NULL;
}

static void *blocked_timed_pusher(void *arg)
{
    struct blocked *b = arg;
    atomic_fetch_add(&b->started, 1);
    int rc = pt_queue_push_timed(b->q, (void *)43, 60000);
    atomic_fetch_add(&b->returned, 1);
    if (rc == PT_ECLOSED)
        atomic_fetch_add(&b->closed_rc, 1);
    return NULL;
}

static void check_close_wakes(size_t fill, void *(*fn)(void *), void *(*timed_fn)(void *))
{
    struct blocked b;
    pthread_t th[6];

    cr_assert_eq(pt_queue_create(&b.q, 1), 0);
    for (size_t i = 0; i < fill; i++)
        cr_assert_eq(pt_queue_push(b.q, (void *)1), 0);
    atomic_init(&b.started, 0);
    atomic_init(&b.returned, 0);
    atomic_init(&b.closed_rc, 0);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, i % 2 ? timed_fn : fn, &b), 0);
    cr_assert(wait_for(&b.started, 6));
    sleep_us(100000);
    cr_assert_eq(atomic_load(&b.returned), 0, "returned before close");
    pt_queue_close(b.q);
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&b.closed_rc), 6);
    pt_queue_destroy(b.q);
}

Test(queue, close_wakes_blocked_pushers, .timeout = 60)
{
    check_close_wakes(1, blocked_pusher, blocked_timed_pusher);
}

Test(queue, close_wakes_blocked_poppers, .timeout = 60)
{
    check_close_wakes(0, blocked_popper, blocked_timed_popper);
}

Test(queue, close_drains_then_eclosed)
{
    pt_queue *q;
    void *item;
    cr_assert_eq(pt_queue_create(&q, 4), 0);
    cr_assert_eq(pt_queue_push(q, (void *)1), 0);
    cr_assert_eq(pt_queue_push(q, (void *)2), 0);
    cr_assert_eq(pt_queue_push(q, (void *)3), 0);
    pt_queue_close(q);
    cr_assert_eq(pt_queue_push(q, (void *)4), PT_ECLOSED);
    cr_assert_eq(pt_queue_try_push(q, (void *)4), PT_ECLOSED);
    cr_assert_eq(pt_queue_push_timed(q, (void *)4, 10), PT_ECLOSED);
    cr_assert_eq(pt_queue_pop(q, &item), 0);
    cr_assert_eq((uintptr_t)item, 1);
    cr_assert_eq(pt_queue_try_pop(q, &item), 0);
    cr_assert_eq((uintptr_t)item, 2);
    cr_assert_eq(pt_queue_pop_timed(q, &item, 10), 0);
    cr_assert_eq((uintptr_t)item, 3);
    cr_assert_eq(pt_queue_pop(q, &item), PT_ECLOSED);
    cr_assert_eq(pt_queue_try_pop(q, &item), PT_ECLOSED);
    cr_assert_eq(pt_queue_pop_timed(q, &item, 10), PT_ECLOSED);
    pt_queue_destroy(q);
}

/* --- try / timed --------------------------------------------------------------- */

Test(queue, try_variants_eagain)
{
    pt_queue *q;
    void *item = (void *)99;
    cr_assert_eq(pt_queue_create(&q, 2), 0);
    cr_assert_eq(pt_queue_try_pop(q, &item), PT_EAGAIN);
    cr_assert_eq((uintptr_t)item, 99, "item changed on failure");
    cr_assert_eq(pt_queue_try_push(q, (void *)1), 0);
    cr_assert_eq(pt_queue_try_push(q, (void *)2), 0);
    cr_assert_eq(pt_queue_try_push(q, (void *)3), PT_EAGAIN);
    cr_assert_eq(pt_queue_size(q), 2);
    cr_assert_eq(pt_queue_try_pop(q, &item), 0);
    cr_assert_eq((uintptr_t)item, 1);
    pt_queue_destroy(q);
}

Test(queue, timed_variants_time_out, .timeout = 60)
{
    pt_queue *q;
    void *item;
    cr_assert_eq(pt_queue_create(&q, 1), 0);

    double t0 = now_s();
    cr_assert_eq(pt_queue_pop_timed(q, &item, 50), PT_ETIMEDOUT);
    double dt = now_s() - t0;
    cr_assert_geq(dt, 0.045, "pop gave up after %.3f s", dt);
    cr_assert_lt(dt, 5.0);
    cr_assert_eq(pt_queue_pop_timed(q, &item, 0), PT_ETIMEDOUT);

    cr_assert_eq(pt_queue_push_timed(q, (void *)1, 0), 0);
    t0 = now_s();
    cr_assert_eq(pt_queue_push_timed(q, (void *)2, 50), PT_ETIMEDOUT);
    dt = now_s() - t0;
    cr_assert_geq(dt, 0.045, "push gave up after %.3f s", dt);
    cr_assert_lt(dt, 5.0);
    cr_assert_eq(pt_queue_size(q), 1);
    pt_queue_destroy(q);
}

static void *late_pusher(void *arg)
{
    sleep_us(30000);
    pt_queue_push(arg, (void *)7);
    return NULL;
}

Test(queue, timed_pop_gets_item_pushed_while_waiting, .timeout = 60)
{
    pt_queue *q;
    pthread_t th;
    void *item = NULL;
    cr_assert_eq(pt_queue_create(&q, 1), 0);
    cr_assert_eq(pthread_create(&th, NULL, late_pusher, q), 0);
    cr_assert_eq(pt_queue_pop_timed(q, &item, 30000), 0);
    cr_assert_eq((uintptr_t)item, 7);
    pthread_join(th, NULL);
    pt_queue_destroy(q);
}

static void *late_popper(void *arg)
{
    void *item;
    sleep_us(30000);
    pt_queue_pop(arg, &item);
    return NULL;
}

Test(queue, timed_push_gets_room_freed_while_waiting, .timeout = 60)
{
    pt_queue *q;
    pthread_t th;
    void *item;
    cr_assert_eq(pt_queue_create(&q, 1), 0);
    cr_assert_eq(pt_queue_push(q, (void *)1), 0);
    cr_assert_eq(pthread_create(&th, NULL, late_popper, q), 0);
    cr_assert_eq(pt_queue_push_timed(q, (void *)2, 30000), 0);
    pthread_join(th, NULL);
    cr_assert_eq(pt_queue_try_pop(q, &item), 0);
    cr_assert_eq((uintptr_t)item, 2);
    pt_queue_destroy(q);
}

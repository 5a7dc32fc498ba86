/* test_pool.c - the thread pool: futures, map order, completion order,
 * cancel, shutdown with and without cancelling, backpressure, lifetimes. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "ptool/cpu.h"
#include "ptool/error.h"
#include "ptool/pool.h"

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

static pt_pool *make_pool(unsigned threads, size_t max_queued)
{
    pt_pool_options opts = {.threads = threads, .max_queued = max_queued};
    pt_pool *pool = NULL;
    cr_assert_eq(pt_pool_create(&pool, &opts), 0);
    cr_assert_not_null(pool);
    return pool;
}

static void *task_double(void *arg)
{
    return (void *)((uintptr_t)arg * 2);
}

static atomic_int counter;

static void *task_count(void *arg)
{
    (void)arg;
    atomic_fetch_add(&counter, 1);
    return NULL;
}

/* A task that blocks until its gate opens; `started` tells the test it runs. */
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
    return (void *)0x6a7e;
}

static void *task_sleep_us(void *arg)
{
    sleep_us((long)(uintptr_t)arg);
    return arg;
}

/* --- basics ----------------------------------------------------------------- */

Test(pool, create_defaults_and_destroy)
{
    pt_pool *pool = NULL;
    cr_assert_eq(pt_pool_create(&pool, NULL), 0);
    cr_assert_eq(pt_pool_threads(pool), pt_cpu_count());
    pt_pool_destroy(pool);
    pt_pool_destroy(NULL);

    pool = make_pool(3, 0);
    cr_assert_eq(pt_pool_threads(pool), 3);
    pt_pool_destroy(pool);
}

Test(pool, bad_args_einval)
{
    pt_pool *pool = make_pool(1, 0);
    pt_future *f = (pt_future *)&f;
    void *res[1];
    void *args[1] = {NULL};

    cr_assert_eq(pt_pool_create(NULL, NULL), PT_EINVAL);
    cr_assert_eq(pt_pool_submit(NULL, task_double, NULL, &f), PT_EINVAL);
    cr_assert_null(f);
    cr_assert_eq(pt_pool_submit(pool, NULL, NULL, &f), PT_EINVAL);
    cr_assert_eq(pt_pool_shutdown(NULL, false), PT_EINVAL);
    cr_assert_eq(pt_pool_map(NULL, task_double, args, res, 1), PT_EINVAL);
    cr_assert_eq(pt_pool_map(pool, NULL, args, res, 1), PT_EINVAL);
    cr_assert_eq(pt_pool_map(pool, task_double, NULL, res, 1), PT_EINVAL);
    cr_assert_eq(pt_pool_map(pool, task_double, args, NULL, 1), PT_EINVAL);
    cr_assert_eq(pt_pool_map(pool, task_double, NULL, NULL, 0), 0);
    cr_assert_eq(pt_future_wait(NULL), PT_EINVAL);
    cr_assert_eq(pt_future_wait_timed(NULL, 1), PT_EINVAL);
    cr_assert_eq(pt_future_result(NULL, NULL), PT_EINVAL);
    cr_assert_eq(pt_future_cancel(NULL), PT_EINVAL);
    cr_assert_not(pt_future_done(NULL));
    pt_future_release(NULL);

    pt_completion *c = NULL;
    pt_future *futs[1] = {NULL};
    cr_assert_eq(pt_completion_create(NULL, futs, 0), PT_EINVAL);
    cr_assert_eq(pt_completion_create(&c, NULL, 1), PT_EINVAL);
    cr_assert_eq(pt_completion_create(&c, futs, 1), PT_EINVAL);
    cr_assert_null(c);
    cr_assert_eq(pt_completion_next(NULL, &f), PT_EINVAL);
    pt_completion_destroy(NULL);
    pt_pool_destroy(pool);
}

Test(pool, submit_and_result, .timeout = 60)
{
    pt_pool *pool = make_pool(2, 0);
    pt_future *f[100];
    for (uintptr_t i = 0; i < 100; i++)
        cr_assert_eq(pt_pool_submit(pool, task_double, (void *)i, &f[i]), 0);
    for (uintptr_t i = 0; i < 100; i++) {
        void *r = NULL;
        cr_assert_eq(pt_future_result(f[i], &r), 0);
        cr_assert_eq((uintptr_t)r, 2 * i);
        cr_assert(pt_future_done(f[i]));
        cr_assert_eq(pt_future_wait(f[i]), 0);
        cr_assert_eq(pt_future_result(f[i], NULL), 0);
        pt_future_release(f[i]);
    }
    pt_pool_destroy(pool);
}

Test(pool, wait_timed_times_out_then_succeeds, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 0);
    struct gate g = {0};
    pt_future *f;
    cr_assert_eq(pt_pool_submit(pool, task_gate, &g, &f), 0);
    cr_assert_eq(pt_future_wait_timed(f, 30), PT_ETIMEDOUT);
    cr_assert_eq(pt_future_wait_timed(f, 0), PT_ETIMEDOUT);
    cr_assert_not(pt_future_done(f));
    atomic_store(&g.open, 1);
    cr_assert_eq(pt_future_wait_timed(f, 30000), 0);
    cr_assert(pt_future_done(f));
    pt_future_release(f);
    pt_pool_destroy(pool);
}

Test(pool, release_before_run_still_runs, .timeout = 60)
{
    pt_pool *pool = make_pool(2, 0);
    atomic_store(&counter, 0);
    for (int i = 0; i < 1000; i++) {
        pt_future *f;
        cr_assert_eq(pt_pool_submit(pool, task_count, NULL, &f), 0);
        pt_future_release(f);
        cr_assert_eq(pt_pool_submit(pool, task_count, NULL, NULL), 0);
    }
    pt_pool_destroy(pool);
    cr_assert_eq(atomic_load(&counter), 2000);
}

Test(pool, future_outlives_pool, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 0);
    pt_future *f;
    cr_assert_eq(pt_pool_submit(pool, task_double, (void *)21, &f), 0);
    pt_pool_destroy(pool); /* finishes the queued task */
    void *r;
    cr_assert(pt_future_done(f));
    cr_assert_eq(pt_future_result(f, &r), 0);
    cr_assert_eq((uintptr_t)r, 42);
    cr_assert_eq(pt_future_cancel(f), PT_EBUSY);
    pt_completion *c;
    pt_future *got;
    cr_assert_eq(pt_completion_create(&c, &f, 1), 0);
    cr_assert_eq(pt_completion_next(c, &got), 0);
    cr_assert_eq(got, f);
    pt_completion_destroy(c);
    pt_future_release(f);
}

/* --- map ------------------------------------------------------------------------ */

#define MAP_N 300

/* Sleeps a pseudo-random 0..999 us derived from arg, returns arg + 1. */
static void *task_jitter(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    sleep_us((long)(rand_r(&seed) % 1000));
    return (void *)((uintptr_t)arg + 1);
}

Test(pool, map_keeps_input_order, .timeout = 60)
{
    pt_pool *pool = make_pool(4, 0);
    void *args[MAP_N], *results[MAP_N];
    for (uintptr_t i = 0; i < MAP_N; i++) {
        args[i] = (void *)(i * 7);
        results[i] = NULL;
    }
    cr_assert_eq(pt_pool_map(pool, task_jitter, args, results, MAP_N), 0);
    for (uintptr_t i = 0; i < MAP_N; i++)
        cr_assert_eq((uintptr_t)results[i], i * 7 + 1, "results[%zu] = %zu", (size_t)i,
                     (size_t)(uintptr_t)results[i]);
    pt_pool_destroy(pool);
}

Test(pool, map_with_backpressure, .timeout = 60)
{
    pt_pool *pool = make_pool(2, 3);
    void *args[MAP_N], *results[MAP_N];
    for (uintptr_t i = 0; i < MAP_N; i++)
        args[i] = (void *)i;
    cr_assert_eq(pt_pool_map(pool, task_double, args, results, MAP_N), 0);
    for (uintptr_t i = 0; i < MAP_N; i++)
        cr_assert_eq((uintptr_t)results[i], 2 * i);
    pt_pool_destroy(pool);
}

Test(pool, map_after_shutdown_eclosed)
{
    pt_pool *pool = make_pool(1, 0);
    void *args[2] = {0}, *results[2];
    cr_assert_eq(pt_pool_shutdown(pool, false), 0);
    cr_assert_eq(pt_pool_map(pool, task_double, args, results, 2), PT_ECLOSED);
    pt_pool_destroy(pool);
}

/* --- completion order ----------------------------------------------------------- */

#define STAGGER_N 6

/* Completion order is made deterministic with gates, not sleeps: every task
 * blocks on its own gate; the test opens the gates in reverse submit order
 * and waits for each future before opening the next, so the finish order is
 * exactly N-1, ..., 0 however loaded the machine is. */
typedef struct staggered {
    pt_pool *pool;
    pt_future *futs[STAGGER_N];
    struct gate gates[STAGGER_N];
} staggered;

static void stagger_start(staggered *st)
{
    memset(st, 0, sizeof(*st));
    st->pool = make_pool(STAGGER_N, 0); /* one thread per task */
    for (int i = 0; i < STAGGER_N; i++)
        cr_assert_eq(pt_pool_submit(st->pool, task_gate, &st->gates[i], &st->futs[i]), 0);
}

/* Lets the k-th finisher (future N-1-k) finish and waits until it has. */
static void stagger_finish(staggered *st, int k)
{
    int i = STAGGER_N - 1 - k;
    atomic_store(&st->gates[i].open, 1);
    cr_assert_eq(pt_future_wait(st->futs[i]), 0);
}

static void stagger_end(staggered *st)
{
    for (int i = 0; i < STAGGER_N; i++) {
        atomic_store(&st->gates[i].open, 1);
        pt_future_release(st->futs[i]);
    }
    pt_pool_destroy(st->pool);
}

/* Checks that c yields the futures in the order they finished. */
static void expect_reverse_order(staggered *st, pt_completion *c)
{
    for (int k = 0; k < STAGGER_N; k++) {
        pt_future *got = NULL;
        cr_assert_eq(pt_completion_next(c, &got), 0);
        cr_assert(pt_future_done(got));
        int idx = -1;
        for (int j = 0; j < STAGGER_N; j++)
            if (st->futs[j] == got)
                idx = j;
        cr_assert_eq(idx, STAGGER_N - 1 - k, "completion %d was future %d", k, idx);
    }
    pt_future *got;
    cr_assert_eq(pt_completion_next(c, &got), PT_EOF);
    cr_assert_eq(pt_completion_next(c, &got), PT_EOF);
}

Test(pool, completion_yields_in_completion_order, .timeout = 60)
{
    staggered st;
    stagger_start(&st);
    pt_completion *c;
    cr_assert_eq(pt_completion_create(&c, st.futs, STAGGER_N), 0);
    /* next() blocks until each finishes: finish them from the test thread
     * one at a time and collect right after */
    for (int k = 0; k < STAGGER_N; k++) {
        stagger_finish(&st, k);
        pt_future *got = NULL;
        cr_assert_eq(pt_completion_next(c, &got), 0);
        cr_assert_eq(got, st.futs[STAGGER_N - 1 - k], "completion %d", k);
    }
    pt_future *got;
    cr_assert_eq(pt_completion_next(c, &got), PT_EOF);
    pt_completion_destroy(c);
    stagger_end(&st);
}

/* Attached after `finished_before` finished: those still come out in the
 * order they finished, not in array order, and the ones that finish later
 * (before the first next()) follow in their finish order. */
static void check_order_attached_late(int finished_before)
{
    staggered st;
    stagger_start(&st);
    for (int k = 0; k < finished_before; k++)
        stagger_finish(&st, k);
    pt_completion *c;
    cr_assert_eq(pt_completion_create(&c, st.futs, STAGGER_N), 0);
    for (int k = finished_before; k < STAGGER_N; k++)
        stagger_finish(&st, k);
    expect_reverse_order(&st, c);
    pt_completion_destroy(c);
    stagger_end(&st);
}

Test(pool, completion_created_after_all_finished, .timeout = 60)
{
    check_order_attached_late(STAGGER_N);
}

Test(pool, completion_created_after_some_finished, .timeout = 60)
{
    check_order_attached_late(STAGGER_N / 2);
}

Test(pool, completion_collects_in_order_while_not_iterated, .timeout = 60)
{
    check_order_attached_late(0);
}

#define MANY_N 1000

Test(pool, completion_every_future_exactly_once, .timeout = 60)
{
    pt_pool *pool = make_pool(3, 0);
    pt_future **futs = calloc(MANY_N, sizeof(*futs));
    unsigned char *seen = calloc(MANY_N, 1);
    pt_completion *c;

    cr_assert(futs && seen);
    for (uintptr_t i = 0; i < MANY_N; i++)
        cr_assert_eq(pt_pool_submit(pool, task_jitter, (void *)(i % 50), &futs[i]), 0);
    /* Let some finish before attaching: those must be enqueued at once. */
    cr_assert_eq(pt_future_wait(futs[0]), 0);
    cr_assert_eq(pt_completion_create(&c, futs, MANY_N), 0);
    for (int k = 0; k < MANY_N; k++) {
        pt_future *got = NULL;
        cr_assert_eq(pt_completion_next(c, &got), 0);
        cr_assert(pt_future_done(got));
        size_t idx = MANY_N;
        for (size_t j = 0; j < MANY_N; j++)
            if (futs[j] == got)
                idx = j;
        cr_assert_lt(idx, MANY_N, "unknown future");
        cr_assert_eq(seen[idx], 0, "future %zu returned twice", idx);
        seen[idx] = 1;
    }
    pt_future *got;
    cr_assert_eq(pt_completion_next(c, &got), PT_EOF);
    pt_completion_destroy(c);
    for (size_t i = 0; i < MANY_N; i++)
        pt_future_release(futs[i]);
    pt_pool_destroy(pool);
    free(futs);
    free(seen);
}

Test(pool, completion_one_at_a_time_and_empty, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 0);
    pt_future *f[2], *got;
    pt_completion *c1, *c2, *c3;
    cr_assert_eq(pt_pool_submit(pool, task_double, (void *)1, &f[0]), 0);
    cr_assert_eq(pt_pool_submit(pool, task_double, (void *)2, &f[1]), 0);
    cr_assert_eq(pt_completion_create(&c1, f, 1), 0);
    cr_assert_eq(pt_completion_create(&c2, f, 2), PT_EBUSY);
    cr_assert_eq(pt_completion_create(&c2, &f[1], 1), 0);
    pt_future *dup[2] = {f[0], f[0]};
    pt_completion_destroy(c1);
    cr_assert_eq(pt_completion_create(&c3, dup, 2), PT_EBUSY);
    cr_assert_eq(pt_completion_create(&c1, f, 1), 0); /* free again after destroy */
    cr_assert_eq(pt_completion_next(c1, &got), 0);
    cr_assert_eq(got, f[0]);
    cr_assert_eq(pt_completion_next(c2, &got), 0);
    cr_assert_eq(got, f[1]);
    pt_completion_destroy(c1);
    pt_completion_destroy(c2);

    cr_assert_eq(pt_completion_create(&c3, NULL, 0), 0);
    cr_assert_eq(pt_completion_next(c3, &got), PT_EOF);
    pt_completion_destroy(c3);
    pt_future_release(f[0]);
    pt_future_release(f[1]);
    pt_pool_destroy(pool);
}

Test(pool, completion_destroy_before_done_and_cancelled_futures, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 0);
    struct gate g = {0};
    pt_future *f[3], *got;
    pt_completion *c;
    cr_assert_eq(pt_pool_submit(pool, task_gate, &g, &f[0]), 0);
    cr_assert(wait_for(&g.started, 1));
    cr_assert_eq(pt_pool_submit(pool, task_double, (void *)1, &f[1]), 0);
    cr_assert_eq(pt_pool_submit(pool, task_double, (void *)2, &f[2]), 0);
    /* Destroyed while nothing finished: later finishes must not touch it. */
    cr_assert_eq(pt_completion_create(&c, f, 3), 0);
    pt_completion_destroy(c);
    cr_assert_eq(pt_completion_create(&c, f, 3), 0);
    /* A cancelled future counts as completed, and comes first. */
    cr_assert_eq(pt_future_cancel(f[2]), 0);
    cr_assert_eq(pt_completion_next(c, &got), 0);
    cr_assert_eq(got, f[2]);
    atomic_store(&g.open, 1);
    cr_assert_eq(pt_completion_next(c, &got), 0);
    cr_assert_eq(got, f[0]);
    cr_assert_eq(pt_completion_next(c, &got), 0);
    cr_assert_eq(got, f[1]);
    cr_assert_eq(pt_completion_next(c, &got), PT_EOF);
    pt_completion_destroy(c);
    for (int i = 0; i < 3; i++)
        pt_future_release(f[i]);
    pt_pool_destroy(pool);
}

/* --- cancel --------------------------------------------------------------------- */

Test(pool, cancel_pending_and_running, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 0);
    struct gate g = {0};
    pt_future *running, *pending;
    void *r = (void *)1;

    atomic_store(&counter, 0);
    cr_assert_eq(pt_pool_submit(pool, task_gate, &g, &running), 0);
    cr_assert(wait_for(&g.started, 1));
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, &pending), 0);

    cr_assert_eq(pt_future_cancel(pending), 0);
    cr_assert(pt_future_done(pending));
    cr_assert_eq(pt_future_wait(pending), 0);
    cr_assert_eq(pt_future_result(pending, &r), PT_ECANCELED);
    cr_assert_eq((uintptr_t)r, 1, "result written for a cancelled task");
    cr_assert_eq(pt_future_cancel(pending), 0); /* again: still cancelled */

    cr_assert_eq(pt_future_cancel(running), PT_EBUSY);
    cr_assert_not(pt_future_done(running));
    atomic_store(&g.open, 1);
    cr_assert_eq(pt_future_result(running, &r), 0);
    cr_assert_eq((uintptr_t)r, 0x6a7e);
    cr_assert_eq(pt_future_cancel(running), PT_EBUSY); /* finished */

    pt_pool_destroy(pool);
    cr_assert_eq(atomic_load(&counter), 0, "a cancelled task ran");
    pt_future_release(running);
    pt_future_release(pending);
}

static void *wait_cancelled(void *arg)
{
    return (void *)(intptr_t)pt_future_result(arg, NULL);
}

Test(pool, cancel_wakes_waiters, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 0);
    struct gate g = {0};
    pt_future *running, *pending;
    pthread_t th;
    void *ret;

    cr_assert_eq(pt_pool_submit(pool, task_gate, &g, &running), 0);
    cr_assert(wait_for(&g.started, 1));
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, &pending), 0);
    cr_assert_eq(pthread_create(&th, NULL, wait_cancelled, pending), 0);
    sleep_us(50000);
    cr_assert_eq(pt_future_cancel(pending), 0);
    pthread_join(th, &ret);
    cr_assert_eq((intptr_t)ret, PT_ECANCELED);
    atomic_store(&g.open, 1);
    pt_pool_destroy(pool);
    pt_future_release(running);
    pt_future_release(pending);
}

/* --- shutdown ------------------------------------------------------------------- */

#define SHUTDOWN_N 10000

static void *task_count_spin(void *arg)
{
    (void)arg;
    volatile unsigned x = 0;
    for (unsigned i = 0; i < 2000; i++)
        x += i;
    (void)x; /* a little work that the compiler cannot drop */
    atomic_fetch_add(&counter, 1);
    return NULL;
}

Test(pool, shutdown_runs_everything_queued, .timeout = 60)
{
    pt_pool *pool = make_pool(2, 0);
    pt_future *last;
    atomic_store(&counter, 0);
    cr_assert_eq(pt_pool_submit(pool, task_sleep_us, (void *)20000, NULL), 0);
    cr_assert_eq(pt_pool_submit(pool, task_sleep_us, (void *)20000, NULL), 0);
    for (int i = 0; i < SHUTDOWN_N - 1; i++)
        cr_assert_eq(pt_pool_submit(pool, task_count_spin, NULL, NULL), 0);
    cr_assert_eq(pt_pool_submit(pool, task_count_spin, NULL, &last), 0);
    cr_assert_eq(pt_pool_shutdown(pool, false), 0);
    cr_assert_eq(atomic_load(&counter), SHUTDOWN_N);
    cr_assert(pt_future_done(last));
    cr_assert_eq(pt_future_result(last, NULL), 0);
    cr_assert_eq(pt_pool_shutdown(pool, false), 0); /* idempotent */
    cr_assert_eq(pt_pool_shutdown(pool, true), 0);
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, NULL), PT_ECLOSED);
    pt_pool_destroy(pool);
    cr_assert_eq(atomic_load(&counter), SHUTDOWN_N);
    pt_future_release(last);
}

#define CANCEL_N 1000

static void *shutdown_cancel_from_thread(void *arg)
{
    return (void *)(intptr_t)pt_pool_shutdown(arg, true);
}

Test(pool, shutdown_cancel_pending, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 0);
    pt_future **futs = calloc(CANCEL_N, sizeof(*futs));
    int ran = 0, cancelled = 0;

    cr_assert_not_null(futs);
    atomic_store(&counter, 0);
    struct gate g = {0};
    cr_assert_eq(pt_pool_submit(pool, task_gate, &g, &futs[0]), 0);
    cr_assert(wait_for(&g.started, 1));
    for (int i = 1; i < CANCEL_N; i++)
        cr_assert_eq(pt_pool_submit(pool, task_count, NULL, &futs[i]), 0);
    /* shutdown(true) cancels the queue at once, then waits for the gate. */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, shutdown_cancel_from_thread, pool), 0);
    for (int i = 1; i < CANCEL_N; i++)
        cr_assert_eq(pt_future_wait(futs[i]), 0);
    cr_assert_not(pt_future_done(futs[0]));
    atomic_store(&g.open, 1);
    pthread_join(th, NULL);
    for (int i = 0; i < CANCEL_N; i++) {
        cr_assert(pt_future_done(futs[i]), "future %d not done after shutdown", i);
        int rc = pt_future_result(futs[i], NULL);
        if (rc == 0)
            ran++;
        else if (rc == PT_ECANCELED)
            cancelled++;
        else
            cr_assert_fail("future %d: %d", i, rc);
    }
    cr_assert_eq(ran + cancelled, CANCEL_N);
    cr_assert_eq(ran - 1, atomic_load(&counter)); /* futs[0] is the gate */
    cr_assert_eq(cancelled, CANCEL_N - 1);        /* the worker was stuck in the gate */
    pt_future *late;
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, &late), PT_ECLOSED);
    cr_assert_null(late);
    for (int i = 0; i < CANCEL_N; i++)
        pt_future_release(futs[i]);
    pt_pool_destroy(pool);
    free(futs);
}

static atomic_int submit_rc;
static atomic_int submit_returned;

static void *submit_one(void *arg)
{
    pt_pool *pool = arg;
    atomic_store(&submit_rc, pt_pool_submit(pool, task_count, NULL, NULL));
    atomic_store(&submit_returned, 1);
    return NULL;
}

Test(pool, submit_after_shutdown_eclosed, .timeout = 60)
{
    pt_pool *pool = make_pool(2, 0);
    pt_future *f = (pt_future *)&f;
    atomic_store(&counter, 0);
    cr_assert_eq(pt_pool_shutdown(pool, false), 0);
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, &f), PT_ECLOSED);
    cr_assert_null(f);
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, NULL), PT_ECLOSED);
    pt_pool_destroy(pool);
    cr_assert_eq(atomic_load(&counter), 0);
}

static void *shutdown_from_thread(void *arg)
{
    return (void *)(intptr_t)pt_pool_shutdown(arg, false);
}

Test(pool, concurrent_shutdowns, .timeout = 60)
{
    pt_pool *pool = make_pool(2, 0);
    pthread_t th[4];
    atomic_store(&counter, 0);
    for (int i = 0; i < 2000; i++)
        cr_assert_eq(pt_pool_submit(pool, task_count_spin, NULL, NULL), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, shutdown_from_thread, pool), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        cr_assert_eq((intptr_t)ret, 0);
    }
    /* Every caller returns only after all the work is done. */
    cr_assert_eq(atomic_load(&counter), 2000);
    pt_pool_destroy(pool);
}

/* --- backpressure --------------------------------------------------------------- */

Test(pool, max_queued_blocks_submit, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 2);
    struct gate g = {0};
    pthread_t th;

    atomic_store(&counter, 0);
    atomic_store(&submit_returned, 0);
    cr_assert_eq(pt_pool_submit(pool, task_gate, &g, NULL), 0);
    cr_assert(wait_for(&g.started, 1)); /* running, so not queued */
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, NULL), 0);
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, NULL), 0);
    cr_assert_eq(pthread_create(&th, NULL, submit_one, pool), 0);
    sleep_us(100000);
    cr_assert_eq(atomic_load(&submit_returned), 0, "submit did not block with 2 queued");
    atomic_store(&g.open, 1);
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&submit_rc), 0);
    pt_pool_destroy(pool);
    cr_assert_eq(atomic_load(&counter), 3);
}

Test(pool, shutdown_wakes_blocked_submitter, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 1);
    struct gate g = {0};
    pthread_t th;

    atomic_store(&counter, 0);
    atomic_store(&submit_returned, 0);
    cr_assert_eq(pt_pool_submit(pool, task_gate, &g, NULL), 0);
    cr_assert(wait_for(&g.started, 1));
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, NULL), 0);
    cr_assert_eq(pthread_create(&th, NULL, submit_one, pool), 0);
    sleep_us(50000);
    cr_assert_eq(atomic_load(&submit_returned), 0);
    atomic_store(&g.open, 1); /* shutdown waits for the running task */
    cr_assert_eq(pt_pool_shutdown(pool, true), 0);
    pthread_join(th, NULL);
    /* The blocked submit either got in before close (and was then cancelled)
     * or failed; it must not hang. With the gate open it usually got in. */
    int rc = atomic_load(&submit_rc);
    cr_assert(rc == 0 || rc == PT_ECLOSED, "submit returned %d", rc);
    cr_assert_leq(atomic_load(&counter), 2);
    pt_pool_destroy(pool);
}

Test(pool, shutdown_fails_blocked_submitter_eclosed, .timeout = 60)
{
    pt_pool *pool = make_pool(1, 1);
    struct gate g = {0};
    pthread_t th, sh;

    atomic_store(&submit_returned, 0);
    cr_assert_eq(pt_pool_submit(pool, task_gate, &g, NULL), 0);
    cr_assert(wait_for(&g.started, 1));
    cr_assert_eq(pt_pool_submit(pool, task_count, NULL, NULL), 0);
    cr_assert_eq(pthread_create(&th, NULL, submit_one, pool), 0);
    sleep_us(50000);
    /* The gate stays shut: the queue stays full until close wakes submit. */
    cr_assert_eq(pthread_create(&sh, NULL, shutdown_from_thread, pool), 0);
    pthread_join(th, NULL);
    cr_assert_eq(atomic_load(&submit_rc), PT_ECLOSED);
    atomic_store(&g.open, 1);
    pthread_join(sh, NULL);
    pt_pool_destroy(pool);
}

/* --- on_worker ------------------------------------------------------------------ */

static void *task_on_worker(void *arg)
{
    return (void *)(uintptr_t)pt_pool_on_worker(arg);
}

static void *task_shutdown_self(void *arg)
{
    return (void *)(intptr_t)pt_pool_shutdown(arg, false);
}

Test(pool, on_worker, .timeout = 60)
{
    pt_pool *a = make_pool(2, 0), *b = make_pool(1, 0);
    pt_future *fa, *fb, *fs;
    void *r;

    cr_assert_not(pt_pool_on_worker(a));
    cr_assert_not(pt_pool_on_worker(NULL));
    cr_assert_eq(pt_pool_submit(a, task_on_worker, a, &fa), 0);
    cr_assert_eq(pt_pool_submit(b, task_on_worker, a, &fb), 0);
    cr_assert_eq(pt_future_result(fa, &r), 0);
    cr_assert_eq((uintptr_t)r, 1);
    cr_assert_eq(pt_future_result(fb, &r), 0);
    cr_assert_eq((uintptr_t)r, 0, "b's worker claims to be a's");
    /* Shutting a pool down from its own worker is refused, not a deadlock. */
    cr_assert_eq(pt_pool_submit(a, task_shutdown_self, a, &fs), 0);
    cr_assert_eq(pt_future_result(fs, &r), 0);
    cr_assert_eq((intptr_t)r, PT_EINVAL);
    pt_future_release(fa);
    pt_future_release(fb);
    pt_future_release(fs);
    pt_pool_destroy(a);
    pt_pool_destroy(b);
}

/* pool.c - a fixed-size thread pool with futures, map and as-completed.
 *
 * DESIGN
 * ------
 *
 * Tasks. Every submitted task is a pt_future: the future *is* the queue
 * node, so a submit costs one malloc and no copy. The pool keeps one FIFO
 * list of futures (`head`/`tail`, linked through `next`) under `pool->mu`,
 * and `nthreads` workers that pop from the head. `nqueued` counts the list;
 * with `max_queued` > 0 a submitter blocks on `space_cv` while the list is
 * full, and every pop signals one such submitter (backpressure).
 *
 * Future states. A future moves PENDING -> RUNNING -> DONE, or PENDING ->
 * CANCELLED; DONE and CANCELLED are final. `state` is an atomic, and the
 * only way out of PENDING is a compare-and-swap: the worker that popped the
 * task swaps PENDING -> RUNNING, pt_future_cancel() (and shutdown with
 * cancel_pending) swaps PENDING -> CANCELLED. Exactly one of them wins, so a
 * task either runs or is cancelled, never both, and cancel needs no pool
 * lock. A cancelled task stays in the list as a tombstone until a worker pops
 * it, finds the swap lost, and drops it without running it; until then it
 * still takes one of the `max_queued` places.
 *
 * Wake-ups. An idle worker pushes itself on the pool's idle stack and
 * sleeps on its own condition variable; submit pops the top one, clears its
 * `idle` flag and signals it. The stack is LIFO on purpose: the worker that
 * went to sleep last is the one whose CPU most likely still runs and whose
 * cache is warm, and the others stay asleep. A worker sleeps only when the
 * list is empty and the pool open, both checked under `pool->mu`, and every
 * submit after that finds it on the stack, so no wake-up is lost.
 *
 * Searching workers. Waking a sleeper is a futex call, and on a small
 * machine a cross-CPU wake-up costs microseconds. A worker that has just
 * finished a task is about to lock `pool->mu` and look at the list anyway,
 * so it says so first: it increments `searching` before it wakes the task's
 * waiters, and takes the count back once it holds `pool->mu`. A submit that
 * sees `searching` > 0 takes one unit and wakes nobody: the searching worker
 * will find the task. That is what keeps a submit -> wait -> submit loop on
 * one worker at a few microseconds per task. Units are only ever taken under
 * `pool->mu`, and a unit exists only while some worker that added one has
 * not yet re-locked, so a task counted on is always picked up; a worker
 * whose unit was taken just finds the count smaller, which costs nothing.
 *
 * Bounded spinning. On an idle virtual machine a cross-CPU futex wake-up
 * costs tens of microseconds (the woken vCPU is halted), ten times the cost
 * of the task itself for small tasks. So, when the process may use more
 * than one CPU, one worker at a time (`spinning`, under `pool->mu`) polls
 * `queued_hint` for up to SPIN_NS once before it sleeps, and
 * pt_future_wait() polls the future's state for up to WAIT_SPIN_NS before it
 * sleeps. The spinner offers one unit (`spin_unit`), like a searching
 * worker: the first submit that takes it wakes nobody, later ones wake
 * sleepers as usual (one spinner never stands in for several tasks). The
 * spinner re-checks the list under `pool->mu` when it stops, so a task it
 * was counted on for is never missed; the bound keeps an idle pool from
 * burning a CPU, and sched_yield() gives the CPU to runnable threads.
 *
 * Finishing. Whoever moves a future into a final state (the worker after
 * fn returns, or the canceller) then calls finish(): under the future's own
 * mutex `f->mu` it sets `finished`, broadcasts `f->cv` if anyone waits, and,
 * if a pt_completion is attached, appends the future to that completion's
 * ready list under the completion's mutex and signals it. pt_future_wait()
 * first looks at the atomic state (no lock when already done), then sleeps
 * on `f->cv` until `finished`. The result is written before the release
 * store of DONE, so an acquire load that sees DONE also sees the result.
 * Futures carry their own mutex, not the pool's, because they outlive the
 * pool: a caller may wait on, read, cancel or attach a future after
 * pt_pool_destroy().
 *
 * Reference counts. A future starts with one reference for the pool (dropped
 * by whoever takes it off the list: the worker that pops it, after running
 * and finishing it, or a cancelling shutdown) plus one for the caller
 * when submit hands it out; a completion takes one more per future. The last
 * pt_future_release() frees it. So a caller may release a future before it
 * ran (fire-and-forget), and the pool never touches freed memory.
 *
 * Completion order. A pt_completion owns an array of n futures and a ready
 * array of n slots filled in finishing order. Attaching sets `f->comp` under
 * `f->mu`; if the future has already finished it is appended right away, and
 * otherwise finish() appends it later. `finished` and `comp` are both read
 * and written under `f->mu`, so each future is appended exactly once.
 * finish() also stamps each future with a global sequence number, and
 * pt_completion_create() sorts the futures that had finished before it by
 * that number, so they too come out in the order they finished.
 * pt_completion_next() hands out the ready slots in order and sleeps on the
 * completion's condition while none is left. Lock order: f->mu, then
 * comp->mu. pt_completion_destroy() detaches under f->mu, so a finish() in
 * progress completes before the completion is freed.
 *
 * Shutdown. pt_pool_shutdown() sets `closed` (submit then fails with
 * PT_ECLOSED, and blocked submitters wake and fail too) and wakes all
 * workers. Workers leave only when the list is empty and the pool closed,
 * so with cancel_pending false every queued task still runs. With
 * cancel_pending true the shutdown thread unhooks the whole list, cancels
 * each task still PENDING (finishing it, so its waiters wake) and drops the
 * pool's references; tasks already running finish normally. Then the first
 * shutdown caller joins the workers while later (or concurrent) callers wait
 * on `joined_cv`; it never hangs because a worker that finds the list empty
 * and the pool closed exits at once. pt_pool_destroy() is shutdown(false),
 * join, free; futures survive it because they hold no pointer to the pool.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <time.h>

#include "ptool/cpu.h"
#include "ptool/error.h"
#include "ptool/pool.h"
#include "internal.h"

enum future_state {
    FUT_PENDING,   /* queued, not started; may be cancelled */
    FUT_RUNNING,   /* a worker is running fn */
    FUT_DONE,      /* fn returned; result is valid */
    FUT_CANCELLED, /* cancelled before it started; fn never runs */
};

struct pt_future {
    pt_task_fn fn;
    void *arg;
    void *result;        /* fn's return value, written before state = DONE */
    atomic_int state;    /* enum future_state; leaves PENDING only by CAS */
    atomic_uint refs;    /* pool + caller + completion references */
    pt_future *next;     /* task list link, under pool->mu */
    pthread_mutex_t mu;  /* guards finished, waiters, comp */
    pthread_cond_t cv;   /* broadcast when finished (CLOCK_MONOTONIC) */
    unsigned waiters;    /* threads sleeping on cv */
    bool finished;       /* finish() has run: waiters may return */
    uint64_t finish_seq; /* position in the global finishing order */
    pt_completion *comp; /* attached completion or NULL */
};

/* One worker thread. While it has nothing to do it sits on the pool's idle
 * stack and sleeps on its own condition variable. */
struct worker {
    pt_pool *pool;
    pthread_t thread;
    pthread_cond_t cv;        /* signalled when popped off the idle stack */
    struct worker *next_idle; /* idle stack link, under pool->mu */
    bool idle;                /* on the idle stack; cleared by whoever wakes it */
};

struct pt_pool {
    pthread_mutex_t mu;
    struct worker *idle_top;   /* most recently idle worker (LIFO stack) */
    pthread_cond_t space_cv;   /* submitters wait for room (max_queued) */
    pthread_cond_t joined_cv;  /* shutdown callers wait for the joiner */
    pt_future *head;           /* oldest queued task */
    pt_future *tail;           /* newest queued task */
    size_t nqueued;            /* tasks in the list, tombstones included */
    size_t max_queued;         /* 0 = unbounded */
    atomic_uint searching;     /* workers between finishing a task and re-locking
                                  mu, not yet counted on by a submit */
    atomic_size_t queued_hint; /* nqueued, readable without mu (spinners poll it) */
    atomic_bool closed_hint;   /* closed, readable without mu */
    bool spinning;             /* a worker polls instead of sleeping (one at most) */
    bool spin_unit;            /* that worker is not yet counted on by a submit */
    bool spin;                 /* more than one CPU: bounded spinning pays */
    unsigned space_waiters;    /* submitters sleeping on space_cv */
    bool closed;               /* no more submits */
    bool joining;              /* a shutdown caller is joining the workers */
    bool joined;               /* the workers are joined */
    unsigned nthreads;         /* workers started */
    struct worker *workers;    /* nthreads workers (array) */
};

struct pt_completion {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a future is appended to ready */
    pt_future **futs;  /* the n futures, one reference each */
    pt_future **ready; /* finished futures in finishing order */
    size_t n;          /* number of futures */
    size_t nready;     /* entries in ready (appended so far) */
    size_t nreturned;  /* entries handed out by pt_completion_next() */
    unsigned waiters;  /* threads sleeping on cv */
};

/* The pool whose worker this thread is, or NULL. */
static _Thread_local const pt_pool *current_pool;

/* Numbers finish() calls across all pools, so that a completion created
 * after some of its futures finished can still list them in order. */
static atomic_uint_fast64_t finish_counter;

static bool state_final(int state)
{
    return state == FUT_DONE || state == FUT_CANCELLED;
}

#define SPIN_NS      50000 /* an idle worker polls this long before sleeping */
#define WAIT_SPIN_NS 20000 /* pt_future_wait() polls this long before sleeping */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Whether spinning can pay: more than one CPU to spin on (cached). */
static bool spin_allowed(void)
{
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        v = pt_cpu_count() > 1;
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return v != 0;
}

/* Polls until done() is true or ns have passed; true if done. Yields the CPU
 * now and then so a runnable thread that would make done() true gets it. */
static bool spin_until(bool (*done)(const void *), const void *arg, uint64_t ns)
{
    uint64_t deadline = 0;
    for (unsigned i = 1;; i++) {
        if (done(arg))
            return true;
        cpu_relax();
        if ((i & 63) == 0) {
            uint64_t t = now_ns();
            if (deadline == 0)
                deadline = t + ns;
            else if (t >= deadline)
                return false;
            if ((i & 1023) == 0)
                sched_yield();
        }
    }
}

static bool future_final(const void *arg)
{
    const pt_future *f = arg;
    return state_final(
        atomic_load_explicit(&((pt_future *)(uintptr_t)f)->state, memory_order_acquire));
}

/* --- futures ---------------------------------------------------------------- */

static int future_new(pt_future **out, pt_task_fn fn, void *arg, unsigned refs)
{
    pt_future *f;
    int err;

    f = malloc(sizeof(*f));
    if (f == NULL)
        return PT_ENOMEM;
    f->fn = fn;
    f->arg = arg;
    f->result = NULL;
    atomic_init(&f->state, FUT_PENDING);
    atomic_init(&f->refs, refs);
    f->next = NULL;
    f->waiters = 0;
    f->finished = false;
    f->finish_seq = 0;
    f->comp = NULL;

    err = pthread_mutex_init(&f->mu, NULL);
    if (err)
        goto out_free;
    err = pt__cond_init_monotonic(&f->cv);
    if (err)
        goto out_mutex;
    *out = f;
    return 0;

out_mutex:
    pthread_mutex_destroy(&f->mu);
out_free:
    free(f);
    return -err;
}

static void future_free(pt_future *f)
{
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static void future_retain(pt_future *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

/* Appends f to c's ready list; the caller holds f->mu (lock order f, c). */
static void completion_push(pt_completion *c, pt_future *f)
{
    pthread_mutex_lock(&c->mu);
    assert(c->nready < c->n);
    c->ready[c->nready++] = f;
    if (c->waiters > 0)
        pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Runs once per future, after its state became DONE or CANCELLED: wakes its
 * waiters and feeds its completion. */
static void finish(pt_future *f)
{
    pthread_mutex_lock(&f->mu);
    f->finished = true;
    f->finish_seq = atomic_fetch_add_explicit(&finish_counter, 1, memory_order_relaxed);
    if (f->waiters > 0)
        pthread_cond_broadcast(&f->cv);
    if (f->comp != NULL)
        completion_push(f->comp, f);
    pthread_mutex_unlock(&f->mu);
}

/* PENDING -> CANCELLED; true if this call won the race against a worker. */
static bool try_cancel(pt_future *f)
{
    int expected = FUT_PENDING;

    if (!atomic_compare_exchange_strong_explicit(&f->state, &expected, FUT_CANCELLED,
                                                 memory_order_acq_rel, memory_order_acquire))
        return false;
    finish(f);
    return true;
}

int pt_future_wait(pt_future *f)
{
    if (f == NULL)
        return PT_EINVAL;
    if (state_final(atomic_load_explicit(&f->state, memory_order_acquire)))
        return 0;
    if (spin_allowed() && spin_until(future_final, f, WAIT_SPIN_NS))
        return 0;
    pthread_mutex_lock(&f->mu);
    f->waiters++;
    while (!f->finished)
        pthread_cond_wait(&f->cv, &f->mu);
    f->waiters--;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

int pt_future_wait_timed(pt_future *f, unsigned timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    if (f == NULL)
        return PT_EINVAL;
    if (state_final(atomic_load_explicit(&f->state, memory_order_acquire)))
        return 0;
    pt__deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&f->mu);
    f->waiters++;
    while (!f->finished) {
        if (pthread_cond_timedwait(&f->cv, &f->mu, &deadline) == ETIMEDOUT && !f->finished) {
            rc = PT_ETIMEDOUT;
            break;
        }
    }
    f->waiters--;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int pt_future_result(pt_future *f, void **result)
{
    int rc = pt_future_wait(f);

    if (rc)
        return rc;
    if (atomic_load_explicit(&f->state, memory_order_acquire) == FUT_CANCELLED)
        return PT_ECANCELED;
    if (result != NULL)
        *result = f->result;
    return 0;
}

bool pt_future_done(pt_future *f)
{
    return f != NULL && state_final(atomic_load_explicit(&f->state, memory_order_acquire));
}

int pt_future_cancel(pt_future *f)
{
    if (f == NULL)
        return PT_EINVAL;
    if (try_cancel(f))
        return 0;
    /* Cancelling twice is not an error, as in Python's Future.cancel(). */
    if (atomic_load_explicit(&f->state, memory_order_acquire) == FUT_CANCELLED)
        return 0;
    return PT_EBUSY;
}

void pt_future_release(pt_future *f)
{
    if (f == NULL)
        return;
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        future_free(f);
}

/* --- workers ---------------------------------------------------------------- */

/* Pops the most recently idle worker, if any, and returns it; the caller
 * holds pool->mu and signals w->cv (after unlocking is fine: workers live
 * as long as the pool). */
static struct worker *pop_idle(pt_pool *pool)
{
    struct worker *w = pool->idle_top;

    if (w != NULL) {
        pool->idle_top = w->next_idle;
        w->next_idle = NULL;
        w->idle = false;
    }
    return w;
}

/* Takes one unit of pool->searching if there is one; the caller holds
 * pool->mu. Every decrement happens under pool->mu and increments cannot
 * make a positive count drop, so load-then-subtract is race-free. */
static bool take_searching(pt_pool *pool)
{
    if (atomic_load_explicit(&pool->searching, memory_order_relaxed) == 0)
        return false;
    atomic_fetch_sub_explicit(&pool->searching, 1, memory_order_relaxed);
    return true;
}

static bool work_or_close(const void *arg)
{
    pt_pool *pool = (pt_pool *)(uintptr_t)arg;
    return atomic_load_explicit(&pool->queued_hint, memory_order_relaxed) > 0 ||
           atomic_load_explicit(&pool->closed_hint, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
    struct worker *self = arg;
    pt_pool *pool = self->pool;
    bool searching, spun = false;
    pt_future *f;
    int expected;

    current_pool = pool;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (pool->head == NULL && !pool->closed) {
            if (pool->spin && !pool->spinning && !spun) {
                /* Poll for a while instead of sleeping, once per idle spell;
                 * the submit that takes our unit wakes nobody. */
                spun = true;
                pool->spinning = true;
                pool->spin_unit = true;
                pthread_mutex_unlock(&pool->mu);
                spin_until(work_or_close, pool, SPIN_NS);
                pthread_mutex_lock(&pool->mu);
                pool->spinning = false;
                pool->spin_unit = false;
                continue; /* re-check the list under mu */
            }
            self->idle = true;
            self->next_idle = pool->idle_top;
            pool->idle_top = self;
            while (self->idle)
                pthread_cond_wait(&self->cv, &pool->mu);
        }
        spun = false;
        f = pool->head;
        if (f == NULL)
            break; /* closed and drained */
        pool->head = f->next;
        if (pool->head == NULL)
            pool->tail = NULL;
        pool->nqueued--;
        atomic_store_explicit(&pool->queued_hint, pool->nqueued, memory_order_relaxed);
        if (pool->space_waiters > 0)
            pthread_cond_signal(&pool->space_cv);
        pthread_mutex_unlock(&pool->mu);

        searching = false;
        expected = FUT_PENDING;
        if (atomic_compare_exchange_strong_explicit(&f->state, &expected, FUT_RUNNING,
                                                    memory_order_acq_rel, memory_order_acquire)) {
            f->result = f->fn(f->arg);
            atomic_store_explicit(&f->state, FUT_DONE, memory_order_release);
            /* Announce before waking the waiter: its next submit can then
             * count on us instead of waking a sleeping worker. */
            atomic_fetch_add_explicit(&pool->searching, 1, memory_order_relaxed);
            searching = true;
            finish(f);
        }
        /* else: a tombstone; whoever cancelled it already finished it. */
        pt_future_release(f);

        pthread_mutex_lock(&pool->mu);
        if (searching)
            take_searching(pool);
    }
    pthread_mutex_unlock(&pool->mu);
    current_pool = NULL;
    return NULL;
}

/* Joins the workers once, however many threads call shutdown. */
static void join_workers(pt_pool *pool)
{
    pthread_mutex_lock(&pool->mu);
    if (pool->joining) {
        while (!pool->joined)
            pthread_cond_wait(&pool->joined_cv, &pool->mu);
        pthread_mutex_unlock(&pool->mu);
        return;
    }
    pool->joining = true;
    pthread_mutex_unlock(&pool->mu);

    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_join(pool->workers[i].thread, NULL);

    pthread_mutex_lock(&pool->mu);
    pool->joined = true;
    pthread_cond_broadcast(&pool->joined_cv);
    pthread_mutex_unlock(&pool->mu);
}

/* Closes the pool and wakes everyone; with cancel, also cancels every queued
 * task. Does not join. */
static void close_pool(pt_pool *pool, bool cancel)
{
    pt_future *list = NULL, *f;
    struct worker *w;

    pthread_mutex_lock(&pool->mu);
    pool->closed = true;
    atomic_store_explicit(&pool->closed_hint, true, memory_order_relaxed);
    if (cancel) {
        list = pool->head;
        pool->head = NULL;
        pool->tail = NULL;
        pool->nqueued = 0;
        atomic_store_explicit(&pool->queued_hint, 0, memory_order_relaxed);
    }
    while ((w = pop_idle(pool)) != NULL)
        pthread_cond_signal(&w->cv);
    pthread_cond_broadcast(&pool->space_cv);
    pthread_mutex_unlock(&pool->mu);

    /* Outside pool->mu: finish() takes future and completion locks. A task
     * that a worker popped just before is not in the list and runs. */
    while (list != NULL) {
        f = list;
        list = f->next;
        try_cancel(f);
        pt_future_release(f); /* the pool's reference */
    }
}

/* --- pool ------------------------------------------------------------------- */

int pt_pool_create(pt_pool **out, const pt_pool_options *opts)
{
    unsigned threads = opts != NULL ? opts->threads : 0;
    unsigned ncv = 0; /* workers whose cv is initialised */
    pt_pool *pool;
    int err;

    if (out == NULL)
        return PT_EINVAL;
    *out = NULL;
    if (threads == 0)
        threads = pt_cpu_count();

    pool = malloc(sizeof(*pool));
    if (pool == NULL)
        return PT_ENOMEM;
    pool->idle_top = NULL;
    pool->head = NULL;
    pool->tail = NULL;
    pool->nqueued = 0;
    pool->max_queued = opts != NULL ? opts->max_queued : 0;
    atomic_init(&pool->searching, 0);
    atomic_init(&pool->queued_hint, 0);
    atomic_init(&pool->closed_hint, false);
    pool->spinning = false;
    pool->spin_unit = false;
    pool->spin = spin_allowed();
    pool->space_waiters = 0;
    pool->closed = false;
    pool->joining = false;
    pool->joined = false;
    pool->nthreads = 0;

    pool->workers = calloc(threads, sizeof(*pool->workers));
    if (pool->workers == NULL) {
        err = ENOMEM;
        goto out_free;
    }
    err = pthread_mutex_init(&pool->mu, NULL);
    if (err)
        goto out_workers_array;
    err = pthread_cond_init(&pool->space_cv, NULL);
    if (err)
        goto out_mutex;
    err = pthread_cond_init(&pool->joined_cv, NULL);
    if (err)
        goto out_space_cv;

    for (; pool->nthreads < threads; pool->nthreads++) {
        struct worker *w = &pool->workers[pool->nthreads];

        w->pool = pool;
        w->next_idle = NULL;
        w->idle = false;
        err = pthread_cond_init(&w->cv, NULL);
        if (err)
            goto out_threads;
        ncv++;
        err = pthread_create(&w->thread, NULL, worker_main, w);
        if (err)
            goto out_threads;
    }

    *out = pool;
    return 0;

out_threads:
    /* Nothing was submitted yet: the started workers see closed and leave. */
    close_pool(pool, false);
    join_workers(pool);
    while (ncv > 0)
        pthread_cond_destroy(&pool->workers[--ncv].cv);
    pthread_cond_destroy(&pool->joined_cv);
out_space_cv:
    pthread_cond_destroy(&pool->space_cv);
out_mutex:
    pthread_mutex_destroy(&pool->mu);
out_workers_array:
    free(pool->workers);
out_free:
    free(pool);
    return -err;
}

void pt_pool_destroy(pt_pool *pool)
{
    if (pool == NULL)
        return;
    /* Joining itself would deadlock; the header forbids it. */
    assert(!pt_pool_on_worker(pool));
    if (pt_pool_shutdown(pool, false) != 0)
        return;
    assert(pool->head == NULL && pool->nqueued == 0);
    for (unsigned i = 0; i < pool->nthreads; i++)
        pthread_cond_destroy(&pool->workers[i].cv);
    pthread_cond_destroy(&pool->joined_cv);
    pthread_cond_destroy(&pool->space_cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->workers);
    free(pool);
}

int pt_pool_submit(pt_pool *pool, pt_task_fn fn, void *arg, pt_future **out)
{
    struct worker *w;
    pt_future *f;
    int err;

    if (out != NULL)
        *out = NULL;
    if (pool == NULL || fn == NULL)
        return PT_EINVAL;
    err = future_new(&f, fn, arg, out != NULL ? 2u : 1u);
    if (err)
        return err;

    pthread_mutex_lock(&pool->mu);
    while (!pool->closed && pool->max_queued > 0 && pool->nqueued >= pool->max_queued) {
        pool->space_waiters++;
        pthread_cond_wait(&pool->space_cv, &pool->mu);
        pool->space_waiters--;
    }
    if (pool->closed) {
        pthread_mutex_unlock(&pool->mu);
        future_free(f);
        return PT_ECLOSED;
    }
    if (pool->tail != NULL)
        pool->tail->next = f;
    else
        pool->head = f;
    pool->tail = f;
    pool->nqueued++;
    atomic_store_explicit(&pool->queued_hint, pool->nqueued, memory_order_relaxed);
    /* A worker that just finished a task will lock mu and see this one:
     * count on it rather than waking a sleeper (a futex call, and on a
     * small machine a second thread competing for the caller's CPU). */
    w = NULL;
    if (pool->spin_unit)
        pool->spin_unit = false; /* the spinning worker will find it */
    else if (!take_searching(pool))
        w = pop_idle(pool);
    pthread_mutex_unlock(&pool->mu);

    /* Signalling after the unlock spares the woken worker a trip through the
     * mutex. w stays valid: workers live as long as the pool. */
    if (w != NULL)
        pthread_cond_signal(&w->cv);
    if (out != NULL)
        *out = f;
    return 0;
}

int pt_pool_shutdown(pt_pool *pool, bool cancel_pending)
{
    if (pool == NULL || pt_pool_on_worker(pool))
        return PT_EINVAL;
    close_pool(pool, cancel_pending);
    join_workers(pool);
    return 0;
}

unsigned pt_pool_threads(const pt_pool *pool)
{
    return pool != NULL ? pool->nthreads : 0;
}

bool pt_pool_on_worker(const pt_pool *pool)
{
    return pool != NULL && current_pool == pool;
}

int pt_pool_map(pt_pool *pool, pt_task_fn fn, void *const *args, void **results, size_t n)
{
    pt_future **futs;
    size_t submitted = 0;
    int rc = 0, err;

    if (pool == NULL || fn == NULL || (n > 0 && (args == NULL || results == NULL)))
        return PT_EINVAL;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / sizeof(*futs))
        return PT_ENOMEM;
    futs = malloc(n * sizeof(*futs));
    if (futs == NULL)
        return PT_ENOMEM;

    for (; submitted < n; submitted++) {
        rc = pt_pool_submit(pool, fn, args[submitted], &futs[submitted]);
        if (rc)
            break;
    }
    if (rc) {
        /* Undo: what has not started never will; wait out the rest. */
        for (size_t i = 0; i < submitted; i++)
            pt_future_cancel(futs[i]);
    }
    for (size_t i = 0; i < submitted; i++) {
        err = pt_future_result(futs[i], &results[i]);
        if (err) {
            /* Cancelled by us above or by a concurrent shutdown(true). */
            results[i] = NULL;
            if (rc == 0)
                rc = err;
        }
        pt_future_release(futs[i]);
    }
    free(futs);
    return rc;
}

/* --- completion ------------------------------------------------------------- */

/* qsort order of finished futures: by finish_seq. Reading finish_seq
 * without f->mu is fine: it is written once, before the future went into a
 * ready list under the completion's lock, which the sorter holds. */
static int cmp_finish_seq(const void *a, const void *b)
{
    const pt_future *fa = *(pt_future *const *)a, *fb = *(pt_future *const *)b;

    return (fa->finish_seq > fb->finish_seq) - (fa->finish_seq < fb->finish_seq);
}

/* Detaches and releases futs[0..n) of c. */
static void completion_detach(pt_completion *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pt_future *f = c->futs[i];

        pthread_mutex_lock(&f->mu);
        if (f->comp == c)
            f->comp = NULL;
        pthread_mutex_unlock(&f->mu);
        pt_future_release(f);
    }
}

int pt_completion_create(pt_completion **out, pt_future *const *futs, size_t n)
{
    pt_completion *c;
    size_t attached = 0;
    size_t alloc_n = n > 0 ? n : 1;
    int err;

    if (out == NULL)
        return PT_EINVAL;
    *out = NULL;
    if (n > 0 && futs == NULL)
        return PT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (futs[i] == NULL)
            return PT_EINVAL;
    if (n > SIZE_MAX / sizeof(pt_future *))
        return PT_ENOMEM;

    c = malloc(sizeof(*c));
    if (c == NULL)
        return PT_ENOMEM;
    c->n = n;
    c->nready = 0;
    c->nreturned = 0;
    c->waiters = 0;
    c->ready = NULL;
    c->futs = malloc(alloc_n * sizeof(*c->futs));
    if (c->futs == NULL) {
        err = PT_ENOMEM;
        goto out_free;
    }
    c->ready = malloc(alloc_n * sizeof(*c->ready));
    if (c->ready == NULL) {
        err = PT_ENOMEM;
        goto out_arrays;
    }
    err = -pthread_mutex_init(&c->mu, NULL);
    if (err)
        goto out_arrays;
    err = -pthread_cond_init(&c->cv, NULL);
    if (err)
        goto out_mutex;

    for (; attached < n; attached++) {
        pt_future *f = futs[attached];

        pthread_mutex_lock(&f->mu);
        if (f->comp != NULL) {
            pthread_mutex_unlock(&f->mu);
            err = PT_EBUSY;
            goto out_detach;
        }
        future_retain(f);
        c->futs[attached] = f;
        f->comp = c;
        /* Already finished: finish() will not run again, so enqueue now. */
        if (f->finished)
            completion_push(c, f);
        pthread_mutex_unlock(&f->mu);
    }
    /* Those enqueued so far went in in futs[] order; put them in the order
     * they finished. (A future finishing while this runs may land just after
     * one that finished a moment later: their order was a race anyway.) */
    pthread_mutex_lock(&c->mu);
    qsort(c->ready, c->nready, sizeof(*c->ready), cmp_finish_seq);
    pthread_mutex_unlock(&c->mu);

    *out = c;
    return 0;

out_detach:
    completion_detach(c, attached);
    pthread_cond_destroy(&c->cv);
out_mutex:
    pthread_mutex_destroy(&c->mu);
out_arrays:
    free(c->ready);
    free(c->futs);
out_free:
    free(c);
    return err;
}

int pt_completion_next(pt_completion *c, pt_future **out)
{
    int rc = 0;

    if (c == NULL || out == NULL)
        return PT_EINVAL;
    pthread_mutex_lock(&c->mu);
    /* Several threads may iterate one completion; whoever finds the last
     * entry taken gets PT_EOF rather than waiting for an n+1st future. */
    c->waiters++;
    while (c->nreturned == c->nready && c->nreturned < c->n)
        pthread_cond_wait(&c->cv, &c->mu);
    c->waiters--;
    if (c->nreturned == c->n)
        rc = PT_EOF;
    else
        *out = c->ready[c->nreturned++];
    if (c->nreturned == c->n && c->waiters > 0)
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void pt_completion_destroy(pt_completion *c)
{
    if (c == NULL)
        return;
    completion_detach(c, c->n);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c->ready);
    free(c->futs);
    free(c);
}

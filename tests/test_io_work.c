/* test_io_work.c - CPU work from the libuv loop on the pool, results back on
 * the loop thread. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "ptool/io_work.h"
#include "ptool/ptool.h"

#define N 2000

typedef struct item {
    int in, out;
    pthread_t worker_thread;
    int delivered;
} item;

static pthread_t loop_thread;
static int delivered_total;
static int last_status;

static void square(pt_io_work *w, void *arg)
{
    (void)w;
    item *it = arg;
    it->out = it->in * it->in;
    it->worker_thread = pthread_self();
}

static void done(pt_io_work *w, void *arg, int status)
{
    (void)w;
    item *it = arg;
    cr_assert(pthread_equal(pthread_self(), loop_thread), "done runs on the loop thread");
    it->delivered++;
    delivered_total++;
    last_status = status;
}

Test(io_work, results_come_back_on_the_loop_thread, .timeout = 60)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    pt_pool *pool;
    pt_pool_options po = {.threads = 2};
    cr_assert_eq(pt_pool_create(&pool, &po), 0);
    pt_io_bridge *b;
    cr_assert_eq(pt_io_bridge_create(&b, &loop, pool), 0);
    loop_thread = pthread_self();
    static item items[N];
    for (int i = 0; i < N; i++) {
        items[i].in = i;
        cr_assert_eq(pt_io_bridge_submit(b, square, done, &items[i]), 0);
    }
    cr_assert_eq(pt_io_bridge_pending(b), N);
    while (delivered_total < N)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(pt_io_bridge_pending(b), 0);
    bool off_loop = false;
    for (int i = 0; i < N; i++) {
        cr_assert_eq(items[i].out, i * i);
        cr_assert_eq(items[i].delivered, 1, "item %d delivered once", i);
        off_loop = off_loop || !pthread_equal(items[i].worker_thread, loop_thread);
    }
    cr_assert(off_loop, "the work ran on pool threads");
    cr_assert_eq(last_status, 0);
    pt_io_bridge_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    pt_pool_destroy(pool);
}

Test(io_work, close_delivers_what_is_in_flight, .timeout = 60)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pt_pool *pool;
    pt_pool_options po = {.threads = 1};
    pt_pool_create(&pool, &po);
    pt_io_bridge *b;
    cr_assert_eq(pt_io_bridge_create(&b, &loop, pool), 0);
    loop_thread = pthread_self();
    static item items[50];
    delivered_total = 0;
    for (int i = 0; i < 50; i++) {
        items[i].in = i;
        pt_io_bridge_submit(b, square, done, &items[i]);
    }
    pt_io_bridge_close(b); /* without running the loop first */
    cr_assert_eq(delivered_total, 50);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    pt_pool_destroy(pool);
}

Test(io_work, bad_arguments)
{
    pt_io_bridge *b;
    cr_assert_eq(pt_io_bridge_create(&b, NULL, NULL), PT_EINVAL);
    cr_assert_eq(pt_io_bridge_submit(NULL, square, done, NULL), PT_EINVAL);
}

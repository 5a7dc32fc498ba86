/* pool_latency.c - how long an empty task takes from pt_pool_submit() until
 * pt_future_wait() returns, and how many fire-and-forget empty tasks a pool
 * gets through per second, with 1 and 2 worker threads.
 *
 *   pool_latency [--json] [--iters N] [--tasks N]
 *
 * Latency: after a warm-up, each iteration submits one task, waits for it
 * and releases the future; the per-iteration times give median, p90 and p99.
 * Throughput: N tasks submitted without futures, timed until
 * pt_pool_shutdown() returns (so every task has run).
 */
/* Built without _GNU_SOURCE: ask for POSIX (clock_gettime, nanosleep). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ptool/error.h"
#include "ptool/pool.h"

#define WARMUP_ITERS 10000

struct result {
    unsigned threads;
    double median_us, p90_us, p99_us;
    double tasks_per_s;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *empty_task(void *arg)
{
    return arg;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double percentile_us(const uint64_t *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)sorted[i] / 1000.0;
}

static int measure_latency(unsigned threads, size_t iters, struct result *res)
{
    pt_pool_options opts = {.threads = threads, .max_queued = 0};
    pt_pool *pool;
    uint64_t *ns;
    int rc;

    ns = malloc(iters * sizeof(*ns));
    if (ns == NULL)
        return PT_ENOMEM;
    rc = pt_pool_create(&pool, &opts);
    if (rc)
        goto out_free;

    for (size_t i = 0; i < WARMUP_ITERS + iters; i++) {
        pt_future *f;
        uint64_t t0 = now_ns();
        rc = pt_pool_submit(pool, empty_task, NULL, &f);
        if (rc)
            goto out_pool;
        pt_future_wait(f);
        uint64_t t1 = now_ns();
        pt_future_release(f);
        if (i >= WARMUP_ITERS)
            ns[i - WARMUP_ITERS] = t1 - t0;
    }
    qsort(ns, iters, sizeof(*ns), cmp_u64);
    res->median_us = percentile_us(ns, iters, 0.50);
    res->p90_us = percentile_us(ns, iters, 0.90);
    res->p99_us = percentile_us(ns, iters, 0.99);

out_pool:
    pt_pool_destroy(pool);
out_free:
    free(ns);
    return rc;
}

static int measure_throughput(unsigned threads, size_t tasks, struct result *res)
{
    pt_pool_options opts = {.threads = threads, .max_queued = 0};
    pt_pool *pool;
    int rc;

    rc = pt_pool_create(&pool, &opts);
    if (rc)
        return rc;
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < tasks; i++) {
        rc = pt_pool_submit(pool, empty_task, NULL, NULL);
        if (rc)
            break;
    }
    pt_pool_shutdown(pool, false);
    uint64_t t1 = now_ns();
    pt_pool_destroy(pool);
    res->tasks_per_s = (double)tasks / ((double)(t1 - t0) / 1e9);
    return rc;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: pool_latency [--json] [--iters N] [--tasks N]\n");
}

int main(int argc, char **argv)
{
    size_t iters = 200000, tasks = 1000000;
    bool json = false;
    struct result res[2];
    static const unsigned thread_counts[2] = {1, 2};
    int rc;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
            iters = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc) {
            tasks = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (iters == 0 || tasks == 0) {
        usage(stderr);
        return 2;
    }

    for (int k = 0; k < 2; k++) {
        res[k].threads = thread_counts[k];
        rc = measure_latency(thread_counts[k], iters, &res[k]);
        if (rc == 0)
            rc = measure_throughput(thread_counts[k], tasks, &res[k]);
        if (rc) {
            fprintf(stderr, "pool_latency: %s\n", pt_strerror(rc));
            return 1;
        }
    }

    if (json) {
        printf("{\"bench\":\"pool_latency\",\"iters\":%zu,\"tasks\":%zu,\"results\":[", iters,
               tasks);
        for (int k = 0; k < 2; k++)
            printf("%s{\"threads\":%u,\"median_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,"
                   "\"tasks_per_s\":%.0f}",
                   k ? "," : "", res[k].threads, res[k].median_us, res[k].p90_us, res[k].p99_us,
                   res[k].tasks_per_s);
        printf("]}\n");
    } else {
        printf("empty task, submit -> pt_future_wait: %zu iterations after %d warm-up\n", iters,
               WARMUP_ITERS);
        printf("throughput: %zu fire-and-forget empty tasks until shutdown returns\n\n", tasks);
        printf("%-8s %10s %10s %10s %16s\n", "threads", "median_us", "p90_us", "p99_us",
               "tasks_per_s");
        for (int k = 0; k < 2; k++)
            printf("%-8u %10.2f %10.2f %10.2f %16.0f\n", res[k].threads, res[k].median_us,
                   res[k].p90_us, res[k].p99_us, res[k].tasks_per_s);
    }
    return 0;
}

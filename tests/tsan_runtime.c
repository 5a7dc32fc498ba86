/* tsan_runtime.c - the runtime's threads backend under ThreadSanitizer: runs
 * from several threads at once sharing one pool (the caller-helps scheme in
 * backend/threads.c), reductions through partials, verified against serial.
 * A plain program (TSan and Criterion do not mix): exit 0 = pass. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptool/ptool.h"

#define RUNNERS 3
#define ROUNDS  30

static pt_runtime *rt;
static int failures;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what, const char *detail)
{
    pthread_mutex_lock(&fail_lock);
    failures++;
    fprintf(stderr, "FAIL: %s: %s\n", what, detail);
    pthread_mutex_unlock(&fail_lock);
}

static pt_job *make_job(const char *method)
{
    pt_params *p;
    char err[PT_ERRBUF_SIZE];
    pt_params_create(&p, pt_job_find("isprime"));
    pt_params_set(p, "numbers", "97,561,1000003,4294967291,4294967297,3215031751", err,
                  sizeof(err));
    for (int i = 0; i < 200; i++) {
        char n[32];
        snprintf(n, sizeof(n), "%d", 1000000 + i);
        pt_params_set(p, "numbers", n, err, sizeof(err));
    }
    pt_params_set(p, "method", method, err, sizeof(err));
    pt_job *job = NULL;
    if (pt_job_create(&job, rt, pt_job_find("isprime"), p, 0, err, sizeof(err)) != 0)
        fail("job", err);
    pt_params_destroy(p);
    return job;
}

static void *runner(void *arg)
{
    const char *method = arg;
    char err[PT_ERRBUF_SIZE];
    pt_job *ref = make_job(method);
    pt_run_options so = {.backend = PT_BACKEND_SERIAL, .strict = true};
    if (!ref || pt_run(rt, ref, &so, NULL, err, sizeof(err)) != 0) {
        fail("serial run", err);
        return NULL;
    }
    for (int r = 0; r < ROUNDS; r++) {
        pt_job *job = make_job(method);
        pt_run_options ro = {.backend = PT_BACKEND_THREADS, .strict = true, .threads = 2};
        if (!job || pt_run(rt, job, &ro, NULL, err, sizeof(err)) != 0)
            fail("threads run", err);
        else if (pt_job_verify(job, ref, err, sizeof(err)) != 0)
            fail("verify", err);
        pt_job_destroy(job);
    }
    pt_job_destroy(ref);
    return NULL;
}

int main(void)
{
    pt_runtime_options o = {.threads = 2, .no_processes = true};
    if (pt_runtime_create(&rt, &o) != 0) {
        fprintf(stderr, "FAIL: runtime\n");
        return 1;
    }
    pthread_t t[RUNNERS];
    static char mr[] = "mr", trial[] = "trial";
    char *methods[RUNNERS] = {mr, trial, mr};
    for (int i = 0; i < RUNNERS; i++)
        pthread_create(&t[i], NULL, runner, methods[i]);
    for (int i = 0; i < RUNNERS; i++)
        pthread_join(t[i], NULL);
    pt_runtime_destroy(rt);
    if (failures)
        return 1;
    printf("tsan_runtime: %d runners x %d rounds on the threads backend: all verified\n", RUNNERS,
           ROUNDS);
    return 0;
}

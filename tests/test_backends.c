/* test_backends.c - every backend against serial, the process pool's fork
 * safety and failure handling, auto/strict/fallback choice. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pthread.h>
#include <signal.h>

#include "jobtest.h"

/* The numbers the issue names: 0..4, even numbers, squares of primes,
 * Carmichael numbers, strong pseudoprimes, 2^32 +/- k, 2^64-59, 2^64-1. */
static size_t special_numbers(uint64_t *out)
{
    static const uint64_t fixed[] = {0,
                                     1,
                                     2,
                                     3,
                                     4,
                                     6,
                                     8,
                                     10,
                                     1000000,
                                     4294967296ull,
                                     18446744073709551614ull,
                                     9,
                                     25,
                                     49,
                                     121,
                                     10201,
                                     4293001441ull /* 65521^2 */,
                                     999999874000003969ull /* 999999937^2 */,
                                     561,
                                     1105,
                                     1729,
                                     2465,
                                     2821,
                                     6601,
                                     8911,
                                     41041,
                                     825265,
                                     321197185,
                                     5394826801ull,
                                     232250619601ull,
                                     9746347772161ull,
                                     2047,
                                     1373653,
                                     25326001,
                                     3215031751ull,
                                     2152302898747ull,
                                     3474749660383ull,
                                     341550071728321ull,
                                     3825123056546413051ull,
                                     18446744073709551557ull /* 2^64-59 */,
                                     18446744073709551615ull /* 2^64-1 */,
                                     112272535095293ull};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        out[n++] = fixed[i];
    for (int k = -15; k <= 15; k++)
        out[n++] = (uint64_t)((int64_t)4294967296ll + k);
    return n;
}

/* The state of this suite's random numbers (jt_xorshift). */
static uint64_t rng_state = 0x243F6A8885A308D3ull;

/* A comma list is long; the params accept one value per set call. */
static pt_params *params_for(const uint64_t *v, size_t n, const char *method)
{
    pt_params *p;
    cr_assert_eq(pt_params_create(&p, pt_job_find("isprime")), 0);
    char buf[32], err[256];
    for (size_t i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v[i]);
        cr_assert_eq(pt_params_set(p, "numbers", buf, err, sizeof(err)), 0, "%s", err);
    }
    cr_assert_eq(pt_params_set(p, "method", method, err, sizeof(err)), 0);
    return p;
}

/* Runs isprime with params on backend b and on serial, checks they agree
 * and that the primes match Miller-Rabin computed here. */
static void check_backend(pt_runtime *rt, pt_backend_id b, pt_params *p)
{
    char err[PT_ERRBUF_SIZE];
    char why[512];
    pt_job *job, *ref;
    const pt_job_desc *d = pt_job_find("isprime");
    cr_assert_eq(pt_job_create(&job, rt, d, p, PT_JOB_SHARED, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pt_job_create(&ref, rt, d, p, 0, err, sizeof(err)), 0, "%s", err);
    if (!pt_backend_available(rt, b, job, why, sizeof(why))) {
        pt_job_destroy(job);
        pt_job_destroy(ref);
        cr_skip_test("%s: unavailable: %s", pt_backend_name(b), why);
    }
    pt_run_info info = jt_run(rt, job, b);
    jt_run(rt, ref, PT_BACKEND_SERIAL);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s vs serial: %s",
                 pt_backend_name(b), err);
    /* and independently of the job code's own serial path: its text output
     * against Miller-Rabin computed here */
    size_t n;
    const uint64_t *nums = pt_job_list(job, "numbers", &n);
    char *text = jt_job_text(job, 0);
    const char *line = text;
    for (size_t i = 0; i < n; i++) {
        char want[64];
        int len = snprintf(want, sizeof(want), "%llu %s\n", (unsigned long long)nums[i],
                           pt__isprime_mr(nums[i]) ? "prime" : "composite");
        cr_assert(line && strncmp(line, want, (size_t)len) == 0, "%s: line %zu: want %s",
                  pt_backend_name(b), i + 1, want);
        line = strchr(line, '\n') + 1;
    }
    free(text);
    cr_log_info("%s: %zu numbers agree with serial (%s, %u threads, %.3f s)", pt_backend_name(b), n,
                info.device, info.threads, info.seconds);
    pt_job_destroy(job);
    pt_job_destroy(ref);
}

ParameterizedTestParameters(backends, special_numbers_both_methods)
{
    return cr_make_param_array(pt_backend_id, jt_backends, JT_NBACKENDS);
}

ParameterizedTest(pt_backend_id *b, backends, special_numbers_both_methods, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    uint64_t v[128];
    size_t n = special_numbers(v);
    pt_params *p = params_for(v, n, "mr");
    check_backend(rt, *b, p);
    pt_params_destroy(p);
    p = params_for(v, n, "trial");
    check_backend(rt, *b, p);
    pt_params_destroy(p);
    pt_runtime_destroy(rt);
}

ParameterizedTestParameters(backends, random_numbers)
{
    return cr_make_param_array(pt_backend_id, jt_backends, JT_NBACKENDS);
}

ParameterizedTest(pt_backend_id *b, backends, random_numbers, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof(*v));
    for (size_t i = 0; i < N; i++)
        v[i] = jt_xorshift(&rng_state);
    pt_params *p = params_for(v, N, "mr");
    check_backend(rt, *b, p);
    pt_params_destroy(p);
    /* trial division on the small ones only: below 2^32 */
    for (size_t i = 0; i < N; i++)
        v[i] >>= 32;
    p = params_for(v, N, "trial");
    check_backend(rt, *b, p);
    pt_params_destroy(p);
    free(v);
    pt_runtime_destroy(rt);
}

/* --- the process pool ---------------------------------------------------- */

typedef struct probe_state {
    pid_t parent;
    int kill_signal; /* raise this in the worker that runs index 5 (0 = none) */
    size_t n;
    int32_t *pid_of; /* which process ran each index */
    uint64_t *out;
} probe_state;

static int probe_setup(pt_job *job, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    probe_state *s = pt_job_state(job);
    s->parent = getpid();
    s->n = 64;
    s->pid_of = pt_job_alloc(job, s->n * sizeof(*s->pid_of));
    s->out = pt_job_alloc(job, s->n * sizeof(*s->out));
    return pt_job_set_phase(job, 0, s->n, 1, sizeof(uint64_t));
}

static void probe_range(pt_job *job, unsigned phase, size_t b, size_t e, void *partial)
{
    (void)phase;
    probe_state *s = pt_job_state(job);
    for (size_t i = b; i < e; i++) {
        if (i == 5 && s->kill_signal && getpid() != s->parent)
            raise(s->kill_signal);
        s->pid_of[i] = (int32_t)getpid();
        s->out[i] = i * i;
        *(uint64_t *)partial += i;
    }
}

static void probe_combine(pt_job *job, unsigned phase, void *acc, const void *partial)
{
    (void)job, (void)phase;
    *(uint64_t *)acc += *(const uint64_t *)partial;
}

static uint64_t probe_sum;
static void probe_end(pt_job *job, unsigned phase, const void *acc)
{
    (void)job, (void)phase;
    probe_sum = *(const uint64_t *)acc;
}

static const pt_job_desc probe_desc = {
    .name = "probe",
    .summary = "test job: records which process ran each index",
    .state_size = sizeof(probe_state),
    .setup = probe_setup,
    .range = probe_range,
    .combine = probe_combine,
    .phase_end = probe_end,
};

static void probe_check(const probe_state *s)
{
    for (size_t i = 0; i < s->n; i++)
        cr_assert_eq(s->out[i], i * i, "index %zu", i);
    cr_assert_eq(probe_sum, 63 * 64 / 2);
}

Test(processes, work_runs_in_worker_processes)
{
    pt_job_register(&probe_desc);
    pt_runtime *rt = jt_runtime(2);
    int pids[8];
    size_t nw = pt_runtime_worker_pids(rt, pids, 8);
    cr_assert_eq(nw, 2);
    pt_job *job;
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt_job_create(&job, rt, &probe_desc, NULL, PT_JOB_SHARED, err, sizeof(err)), 0);
    pt_run_options ro = {.backend = PT_BACKEND_PROCESSES, .strict = true};
    cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), 0, "%s", err);
    probe_state *s = pt_job_state(job);
    probe_check(s);
    for (size_t i = 0; i < s->n; i++) {
        cr_assert_neq(s->pid_of[i], getpid(), "index %zu ran in the parent", i);
        cr_assert(s->pid_of[i] == pids[0] || s->pid_of[i] == pids[1], "index %zu: pid %d", i,
                  s->pid_of[i]);
    }
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

static void killed_worker(int sig, const char *signame)
{
    pt_job_register(&probe_desc);
    pt_runtime *rt = jt_runtime(2);
    int before[8], after[8];
    cr_assert_eq(pt_runtime_worker_pids(rt, before, 8), 2);
    pt_job *job;
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt_job_create(&job, rt, &probe_desc, NULL, PT_JOB_SHARED, err, sizeof(err)), 0);
    probe_state *s = pt_job_state(job);
    pt_run_options ro = {.backend = PT_BACKEND_PROCESSES, .strict = true};
    for (int round = 0; round < 3; round++) {
        s->kill_signal = sig;
        int rc = pt_run(rt, job, &ro, NULL, err, sizeof(err));
        cr_assert_eq(rc, PT_EWORKER, "round %d: %d %s", round, rc, err);
#ifdef __SANITIZE_ADDRESS__
        /* ASan catches SIGSEGV itself, reports, and exits with status 1 */
        if (sig == SIGSEGV)
            signame = "exited with status 1";
#endif
        cr_assert(strstr(err, "probe") && strstr(err, signame), "message: %s", err);
        cr_log_info("%s", err);
        /* the pool replaced the worker and stays usable */
        cr_assert_eq(pt_runtime_worker_pids(rt, after, 8), 2);
        s->kill_signal = 0;
        memset(s->out, 0, s->n * sizeof(*s->out));
        cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), 0, "%s", err);
        probe_check(s);
    }
    cr_assert(after[0] != before[0] || after[1] != before[1], "a worker was replaced");
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

Test(processes, killed_worker_is_reported_and_replaced, .timeout = 60)
{
    killed_worker(SIGKILL, "SIGKILL");
}

Test(processes, crashing_worker_is_reported_and_replaced, .timeout = 60)
{
    killed_worker(SIGSEGV, "SIGSEGV");
}

Test(processes, aborting_worker_is_reported_and_replaced, .timeout = 60)
{
    killed_worker(SIGABRT, "SIGABRT");
}

Test(processes, openmp_and_processes_mix_in_one_process, .timeout = 300)
{
    /* GCC bug 60035: a child forked after libgomp started hangs. The fork
     * server makes the order irrelevant: openmp first, then processes, then
     * more of both, OpenCL in between. */
    pt_runtime *rt = jt_runtime(2);
    uint64_t v[128];
    size_t n = special_numbers(v);
    pt_params *p = params_for(v, n, "mr");
    const pt_backend_id order[] = {PT_BACKEND_OPENMP,    PT_BACKEND_PROCESSES, PT_BACKEND_OPENCL,
                                   PT_BACKEND_PROCESSES, PT_BACKEND_OPENMP,    PT_BACKEND_THREADS,
                                   PT_BACKEND_PROCESSES};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        char why[512];
        if (order[i] == PT_BACKEND_OPENCL && !pt_backend_available(rt, order[i], NULL, why, 512)) {
            cr_log_warn("opencl unavailable, left out of the mix: %s", why);
            continue;
        }
        check_backend(rt, order[i], p);
    }
    pt_params_destroy(p);
    pt_runtime_destroy(rt);
}

typedef struct conc {
    pt_runtime *rt;
    pt_backend_id b;
    int ok;
} conc;

static void *conc_main(void *arg)
{
    conc *c = arg;
    char err[PT_ERRBUF_SIZE];
    const char *kv = "course";
    pt_params *p;
    pt_params_create(&p, pt_job_find("isprime"));
    pt_params_set(p, "preset", kv, err, sizeof(err));
    pt_params_set(p, "method", "mr", err, sizeof(err));
    c->ok = 1;
    for (int i = 0; i < 20; i++) {
        pt_job *job;
        if (pt_job_create(&job, c->rt, pt_job_find("isprime"), p, PT_JOB_SHARED, err,
                          sizeof(err)) != 0) {
            c->ok = 0;
            break;
        }
        pt_run_options ro = {.backend = c->b, .strict = true};
        if (pt_run(c->rt, job, &ro, NULL, err, sizeof(err)) != 0)
            c->ok = 0;
        pt_job_destroy(job);
    }
    pt_params_destroy(p);
    return NULL;
}

Test(processes, concurrent_runs_from_threads, .timeout = 120)
{
    pt_runtime *rt = jt_runtime(2);
    conc c[4] = {{rt, PT_BACKEND_PROCESSES, 0},
                 {rt, PT_BACKEND_THREADS, 0},
                 {rt, PT_BACKEND_PROCESSES, 0},
                 {rt, PT_BACKEND_SERIAL, 0}};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, conc_main, &c[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert(c[i].ok, "thread %d (%s)", i, pt_backend_name(c[i].b));
    }
    pt_runtime_destroy(rt);
}

/* --- choice ------------------------------------------------------------- */

Test(choice, auto_explains_itself)
{
    pt_runtime *rt = jt_runtime(2);
    const char *kv_small[] = {"numbers", "97"};
    const char *kv_big[] = {"preset", "course", "method", "trial"};
    pt_job *small = jt_job(rt, "isprime", 0, kv_small, JT_LEN(kv_small));
    pt_job *big = jt_job(rt, "isprime", 0, kv_big, JT_LEN(kv_big));

    pt_backend_id b;
    char note[512];
    cr_assert_eq(pt_backend_resolve(rt, small, PT_BACKEND_AUTO, false, &b, note, sizeof(note)), 0);
    cr_assert_eq(b, PT_BACKEND_SERIAL);
    cr_assert(strstr(note, "auto: serial"), "%s", note);
    cr_assert_eq(pt_backend_resolve(rt, big, PT_BACKEND_AUTO, false, &b, note, sizeof(note)), 0);
    cr_assert_neq(b, PT_BACKEND_SERIAL, "%s", note);
    cr_assert(strstr(note, "auto: "), "%s", note);
    cr_log_info("course trial workload: %s", note);
    pt_job_destroy(small);
    pt_job_destroy(big);
    pt_runtime_destroy(rt);
}

Test(choice, unavailable_backend_falls_back_or_fails_when_strict)
{
    pt_runtime *rt = jt_runtime_no_processes(0);
    char why[512], note[512], err[PT_ERRBUF_SIZE];
    cr_assert_not(pt_backend_available(rt, PT_BACKEND_PROCESSES, NULL, why, sizeof(why)));
    cr_assert(strstr(why, "disabled"), "%s", why);
    pt_job *job;
    cr_assert_eq(pt_job_create(&job, rt, pt_job_find("isprime"), NULL, 0, err, sizeof(err)),
                 PT_EINVAL); /* no input */
    const char *kv[] = {"numbers", "7"};
    job = jt_job(rt, "isprime", 0, kv, JT_LEN(kv));
    pt_backend_id b;
    cr_assert_eq(pt_backend_resolve(rt, job, PT_BACKEND_PROCESSES, true, &b, note, sizeof(note)),
                 PT_EUNAVAIL);
    cr_assert(strstr(note, "processes unavailable"), "%s", note);
    cr_assert_eq(pt_backend_resolve(rt, job, PT_BACKEND_PROCESSES, false, &b, note, sizeof(note)),
                 0);
    cr_assert(strstr(note, "processes unavailable") && strstr(note, "auto:"), "%s", note);
    pt_run_options ro = {.backend = PT_BACKEND_PROCESSES, .strict = true};
    cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), PT_EUNAVAIL);
    cr_assert(strstr(err, "isprime") && strstr(err, "processes"), "%s", err);
    ro.strict = false;
    pt_run_info info;
    cr_assert_eq(pt_run(rt, job, &ro, &info, err, sizeof(err)), 0, "%s", err);
    cr_assert_neq(info.backend, PT_BACKEND_PROCESSES);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

/* test_histogram.c - the histogram job: every strategy on every backend
 * against serial and against counts made here, exact; odd sizes, one bin,
 * bins beyond OpenCL local memory, the process-shared lock under
 * contention, every SIMD variant, bad parameters. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "jobtest.h"

uint32_t pt__histogram_value(uint64_t seed, size_t i);
const uint64_t *pt__histogram_counts(const pt_job *job, uint32_t *bins);

static const char *const strategies[] = {"lock", "atomic", "private"};

/* Counts made here: value i of the seed into bin floor(v * bins / 2^32). */
static uint64_t *naive_counts(size_t n, uint32_t bins, uint64_t seed)
{
    uint64_t *c = calloc(bins, sizeof(*c));
    cr_assert_not_null(c);
    for (size_t i = 0; i < n; i++) {
        uint32_t v = pt__histogram_value(seed, i);
        uint64_t b = ((uint64_t)v * bins) >> 32;
        cr_assert_lt(b, bins);
        c[b]++;
    }
    return c;
}

/* Runs histogram with n, bins, strategy on b; checks it against serial
 * (verify) and against naive counts, and that the bins hold n values. */
static void check(pt_runtime *rt, pt_backend_id b, size_t n, uint32_t bins, const char *strategy,
                  const char *seed)
{
    char nb[32], bb[32];
    snprintf(nb, sizeof(nb), "%zu", n);
    snprintf(bb, sizeof(bb), "%u", bins);
    const char *kv[] = {"n", nb, "bins", bb, "strategy", strategy, "seed", seed};
    pt_job *job = jt_job(rt, "histogram", PT_JOB_SHARED, kv, 8);
    pt_job *ref = jt_job(rt, "histogram", 0, kv, 8);
    jt_require(rt, b, job);
    jt_run(rt, job, b);
    jt_run(rt, ref, PT_BACKEND_SERIAL);
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s %s n=%zu bins=%u: %s",
                 pt_backend_name(b), strategy, n, bins, err);
    uint32_t nbins;
    const uint64_t *got = pt__histogram_counts(job, &nbins);
    cr_assert_eq(nbins, bins);
    uint64_t *want = naive_counts(n, bins, strtoull(seed, NULL, 10));
    uint64_t total = 0;
    for (uint32_t k = 0; k < bins; k++) {
        cr_assert_eq(got[k], want[k], "%s %s n=%zu bins=%u: bin %u = %llu, want %llu",
                     pt_backend_name(b), strategy, n, bins, k, (unsigned long long)got[k],
                     (unsigned long long)want[k]);
        total += got[k];
    }
    cr_assert_eq(total, n, "sum of bins");
    free(want);
    pt_job_destroy(job);
    pt_job_destroy(ref);
}

static pt_backend_id backend_list[JT_NBACKENDS] = {PT_BACKEND_SERIAL, PT_BACKEND_THREADS,
                                                   PT_BACKEND_PROCESSES, PT_BACKEND_OPENMP,
                                                   PT_BACKEND_OPENCL};

ParameterizedTestParameters(histogram, every_strategy_every_size)
{
    return cr_make_param_array(pt_backend_id, backend_list, JT_NBACKENDS);
}

/* Odd sizes (1, primes, around the 64-value block and the 256-item
 * work-group) and bin counts (1, 2, primes, a power of two). */
ParameterizedTest(pt_backend_id *b, histogram, every_strategy_every_size, .timeout = 300)
{
    static const size_t sizes[] = {1, 2, 63, 64, 65, 255, 257, 997, 4099, 100003};
    static const uint32_t bins[] = {1, 2, 7, 256, 1021};
    pt_runtime *rt = jt_runtime(2);
    for (size_t s = 0; s < 3; s++)
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            for (size_t k = 0; k < sizeof(bins) / sizeof(bins[0]); k++)
                check(rt, *b, sizes[i], bins[k], strategies[s], "1");
    pt_runtime_destroy(rt);
}

ParameterizedTestParameters(histogram, many_bins)
{
    return cr_make_param_array(pt_backend_id, backend_list, JT_NBACKENDS);
}

/* More bins than values, and (OpenCL) more bins than fit in local memory:
 * the global-atomics kernel. Another seed. */
ParameterizedTest(pt_backend_id *b, histogram, many_bins, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    for (size_t s = 0; s < 3; s++) {
        check(rt, *b, 5000, 65536, strategies[s], "7");
        check(rt, *b, 100000, 1u << 20, strategies[s], "7");
    }
    pt_runtime_destroy(rt);
}

/* The lock and atomic strategies under contention: millions of increments
 * of one or three bins from 2 and 4 workers (4 on 2 CPUs are preempted
 * while holding the lock), where an unprotected increment loses counts.
 * For processes the mutex lives in shared job memory
 * (PTHREAD_PROCESS_SHARED) and the workers are separate processes. Lost
 * updates need the workers to overlap in time, which a busy machine may
 * not give them: a broken lock is caught often, not always. */
static pt_backend_id parallel_list[] = {PT_BACKEND_THREADS, PT_BACKEND_PROCESSES,
                                        PT_BACKEND_OPENMP};

ParameterizedTestParameters(histogram, contended_lock_and_atomics)
{
    return cr_make_param_array(pt_backend_id, parallel_list, 3);
}

ParameterizedTest(pt_backend_id *b, histogram, contended_lock_and_atomics, .timeout = 300)
{
    for (unsigned threads = 2; threads <= 4; threads += 2) {
        pt_runtime *rt = jt_runtime(threads);
        check(rt, *b, 4000000, 1, "lock", "3");
        check(rt, *b, 4000000, 3, "atomic", "3");
        pt_runtime_destroy(rt);
    }
}

/* The vectorised mapping of values to bins, on each ISA. */
static int isa_index[] = {0, 1, 2};
static const char *const isa_names[] = {"baseline", "avx2", "avx512"};

ParameterizedTestParameters(histogram, isa_variants)
{
    return cr_make_param_array(int, isa_index, 3);
}

ParameterizedTest(int *which, histogram, isa_variants, .timeout = 300)
{
    setenv("PTOOL_ISA", isa_names[*which], 1);
    cr_log_info("PTOOL_ISA=%s: variant used %s", isa_names[*which], pt_cpu_isa());
    pt_runtime *rt = jt_runtime(2);
    static const uint32_t bins[] = {1, 3, 256, 65535, 1u << 24};
    for (size_t k = 0; k < sizeof(bins) / sizeof(bins[0]); k++)
        check(rt, PT_BACKEND_THREADS, 20011, bins[k], "private", "5");
    pt_runtime_destroy(rt);
}

/* The generated values are skewed: low bins fuller than high ones. */
Test(histogram, bins_differ)
{
    uint64_t *c = naive_counts(100000, 16, 1);
    cr_expect_gt(c[0], 2 * c[15], "bin 0 %llu, bin 15 %llu", (unsigned long long)c[0],
                 (unsigned long long)c[15]);
    free(c);
}

/* --- bad parameters -------------------------------------------------------- */

Test(histogram, bad_parameters_name_the_parameter)
{
    static const jt_bad_param cases[] = {
        {"n", "0", "--n: 0 is out of range", PT_ERANGE},
        {"n", "-3", "--n: '-3': negative", PT_ERANGE},
        {"n", "9999999999999", "--n 9999999999999 (32-bit values) needs", PT_ENOMEM},
        {"n", "99999999999999", "--n: 99999999999999 is out of range", PT_ERANGE},
        {"bins", "0", "--bins: 0 is out of range", PT_ERANGE},
        {"bins", "16777217", "--bins: 16777217 is out of range", PT_ERANGE},
        {"bins", "x", "--bins: 'x': not a number", PT_EPARSE},
        {"strategy", "mutex", "--strategy: 'mutex' is not one of lock|atomic|private", PT_EPARSE},
    };
    jt_expect_bad_params("histogram", cases, sizeof(cases) / sizeof(cases[0]));
}

Test(histogram, cli_bad_parameters_exit_2)
{
    const char *a1[] = {"run", "histogram", "--bins", "0", NULL};
    jt_ptool_usage_error(a1, "--bins");
    const char *a2[] = {"run", "histogram", "--n", "-7", NULL};
    jt_ptool_usage_error(a2, "--n");
    const char *a3[] = {"run", "histogram", "--strategy", "spin", NULL};
    jt_ptool_usage_error(a3, "--strategy");
    const char *a4[] = {"bench", "histogram", "--n", "9999999999999", NULL};
    jt_ptool_usage_error(a4, "--n");
}

Test(histogram, cli_run_verify_and_output, .timeout = 120)
{
    const char *args[] = {"run",       "histogram", "--n",        "1000", "--bins",   "4",
                          "--backend", "threads",   "--strategy", "lock", "--verify", NULL};
    jt_cli r;
    jt_ptool(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.out, "1000 values in 4 bins (lock): total 1000") != NULL, "%s", r.out);
    cr_expect(strstr(r.err, "verified") != NULL, "%s", r.err);
    uint64_t *want = naive_counts(1000, 4, 1);
    for (int k = 0; k < 4; k++) {
        char line[64];
        snprintf(line, sizeof(line), "\n%d %llu\n", k, (unsigned long long)want[k]);
        cr_expect(strstr(r.out, line) != NULL, "'%s' in: %s", line + 1, r.out);
    }
    free(want);
}

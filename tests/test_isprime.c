/* test_isprime.c - the isprime job: both methods against a naive reference
 * and known answers near 2^64, every SIMD variant, and input handling. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "jobtest.h"

/* The obvious algorithm, for checking. */
static bool naive(uint64_t n)
{
    if (n < 2)
        return false;
    for (uint64_t d = 2; d <= n / d; d++)
        if (n % d == 0)
            return false;
    return true;
}

/* The state of this suite's random numbers (jt_xorshift). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* Known answers, including numbers far beyond the naive check. */
static const struct {
    uint64_t n;
    bool prime;
} known[] = {
    {0, false},
    {1, false},
    {2, true},
    {3, true},
    {4, false},
    {561, false},                     /* Carmichael */
    {41041, false},                   /* Carmichael */
    {9746347772161ull, false},        /* Carmichael */
    {2047, false},                    /* strong pseudoprime to base 2 */
    {3215031751ull, false},           /* spsp to bases 2, 3, 5, 7 */
    {3825123056546413051ull, false},  /* spsp to bases 2..23 */
    {4294967291ull, true},            /* largest prime < 2^32 */
    {4294967296ull, false},           /* 2^32 */
    {4294967311ull, true},            /* smallest prime > 2^32 */
    {4293001441ull, false},           /* 65521^2 */
    {999999874000003969ull, false},   /* 999999937^2 */
    {999999866000004473ull, false},   /* 999999929 x 999999937 */
    {112272535095293ull, true},       /* the course's number */
    {18446744073709551557ull, true},  /* 2^64 - 59, largest 64-bit prime */
    {18446744073709551615ull, false}, /* 2^64 - 1 */
    {18446744073709551533ull, true},  /* 2^64 - 83 */
    {9223372036854775783ull, true},   /* 2^63 - 25 */
    {4503599627370449ull, true},      /* 2^52 - 47 */
    {4503599627370497ull, false},     /* 2^52 + 1 = 17 x 858001 x 308761441 */
    {9007199254740881ull, true},      /* 2^53 - 111 */
};

/* pt__isqrt64 is exact where the double estimate is not: around squares of
 * large roots and at 2^64-1. */
Test(isprime, isqrt64_exact_at_the_edges)
{
    cr_assert_eq(pt__isqrt64(0), 0);
    cr_assert_eq(pt__isqrt64(1), 1);
    cr_assert_eq(pt__isqrt64(3), 1);
    cr_assert_eq(pt__isqrt64(4), 2);
    cr_assert_eq(pt__isqrt64(UINT64_MAX), UINT32_MAX);
    const uint64_t roots[] = {2, 3, 94906265, 94906266, 3037000499u, 4294967294u, 4294967295u};
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        uint64_t r = roots[i], sq = r * r;
        cr_assert_eq(pt__isqrt64(sq), r, "isqrt(%llu^2)", (unsigned long long)r);
        cr_assert_eq(pt__isqrt64(sq - 1), r - 1, "isqrt(%llu^2 - 1)", (unsigned long long)r);
        if (r < UINT32_MAX)
            cr_assert_eq(pt__isqrt64(sq + 2 * r), r, "isqrt((%llu+1)^2 - 1)",
                         (unsigned long long)r);
    }
}

Test(isprime, mr_known_answers)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        cr_expect_eq(pt__isprime_mr(known[i].n), known[i].prime, "mr(%llu)",
                     (unsigned long long)known[i].n);
}

Test(isprime, mr_matches_naive_below_300000)
{
    for (uint64_t n = 0; n < 300000; n++)
        cr_assert_eq(pt__isprime_mr(n), naive(n), "mr(%llu)", (unsigned long long)n);
}

Test(isprime, mr_matches_naive_on_random_40_bit)
{
    for (int i = 0; i < 3000; i++) {
        uint64_t n = jt_xorshift(&rng_state) >> 24;
        cr_assert_eq(pt__isprime_mr(n), naive(n), "mr(%llu)", (unsigned long long)n);
    }
}

Test(isprime, mr_on_semiprimes_near_2_64)
{
    /* products of two primes near 2^32: composite, no small factor */
    const uint64_t p[] = {4294967291ull, 4294967279ull, 4294967231ull, 4294967197ull};
    for (size_t i = 0; i < 4; i++)
        for (size_t k = i; k < 4; k++)
            cr_assert_not(pt__isprime_mr(p[i] * p[k]));
}

/* The SIMD variants: each test runs in its own process, so PTOOL_ISA set
 * here decides which variant the job's code uses. */
static const char *const isa_names[] = {"baseline", "avx2", "avx512"};
/* Criterion copies parameters into each test's process: pass indices, not
 * pointers. */
static int isa_index[] = {0, 1, 2};

ParameterizedTestParameters(isprime, trial_variants)
{
    return cr_make_param_array(int, isa_index, sizeof(isa_index) / sizeof(isa_index[0]));
}

ParameterizedTest(int *which, isprime, trial_variants, .timeout = 600)
{
    const char *const *isa = &isa_names[*which];
    setenv("PTOOL_ISA", *isa, 1);
    cr_log_info("trial division with PTOOL_ISA=%s (variant used: %s)", *isa, pt_cpu_isa());
    for (uint64_t n = 0; n < 100000; n++)
        cr_assert_eq(pt__isprime_trial(n), naive(n), "trial(%llu) [%s]", (unsigned long long)n,
                     *isa);
    /* random 40-bit numbers: mostly composites with factors found in blocks */
    for (int i = 0; i < 3000; i++) {
        uint64_t n = jt_xorshift(&rng_state) >> 24;
        cr_assert_eq(pt__isprime_trial(n), naive(n), "trial(%llu) [%s]", (unsigned long long)n,
                     *isa);
    }
    /* products whose smallest factor falls at every position of a block */
    for (uint64_t p = 100003; p < 100003 + 2 * 300; p += 2) {
        uint64_t n = p * 1000003ull;
        bool want = false;
        cr_assert_eq(pt__isprime_trial(n), want, "trial(%llu) [%s]", (unsigned long long)n, *isa);
    }
    /* above 2^52: the 64-bit method (AVX-512) or the scalar loop */
    const uint64_t big_p[] = {2097143, 2097169, 3000017};          /* ~2^21 */
    const uint64_t big_q[] = {4398046511093ull, 2199023255531ull}; /* ~2^42, 2^41 */
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 2; k++)
            cr_assert_not(pt__isprime_trial(big_p[i] * big_q[k]), "trial(%llu*%llu) [%s]",
                          (unsigned long long)big_p[i], (unsigned long long)big_q[k], *isa);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        uint64_t n = known[i].n;
        if (n > (1ull << 56) && known[i].prime)
            continue; /* 2^28 divisions each: covered by the backend tests */
        cr_assert_eq(pt__isprime_trial(n), known[i].prime, "trial(%llu) [%s]",
                     (unsigned long long)n, *isa);
    }
}

Test(isprime, trial_largest_64_bit_prime, .timeout = 300)
{
    cr_assert(pt__isprime_trial(18446744073709551557ull));
    cr_assert_not(pt__isprime_trial(18446744073709551557ull - 2)); /* 2^64-61 */
}

/* --- the job: input handling ------------------------------------------ */

static pt_runtime *rt;

static void rt_setup(void)
{
    rt = jt_runtime_no_processes(0);
}

static void rt_teardown(void)
{
    pt_runtime_destroy(rt);
}

TestSuite(isprime_job, .init = rt_setup, .fini = rt_teardown);

static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/ptool-isprime-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

Test(isprime_job, reads_a_file_skipping_blank_lines)
{
    char *path = temp_file("7\n\n  8\r\n18446744073709551557\n");
    const char *kv[] = {"input", path};
    pt_job *job = jt_job(rt, "isprime", 0, kv, 2);
    char err[512];
    pt_run_options ro = {.backend = PT_BACKEND_SERIAL};
    cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), 0, "%s", err);
    jt_expect_text(job, 0, "7 prime\n8 composite\n18446744073709551557 prime\n");
    pt_job_destroy(job);
    unlink(path);
    free(path);
}

Test(isprime_job, text_and_quiet_output)
{
    const char *kv[] = {"numbers", "7,8", "numbers", "18446744073709551557"};
    pt_job *job = jt_job(rt, "isprime", 0, kv, 4);
    char err[512];
    cr_assert_eq(pt_run(rt, job, NULL, NULL, err, sizeof(err)), 0, "%s", err);
    jt_expect_text(job, 0, "7 prime\n8 composite\n18446744073709551557 prime\n");
    jt_expect_text(job, PT_OUT_QUIET, "2 prime, 1 composite\n");
    pt_job_destroy(job);
}

Test(isprime_job, bad_lines_name_the_file_and_line)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"1\n2\n12a\n", "line 3: '12a': not a number"},
        {"5\n-3\n", "line 2: '-3': negative"},
        {"18446744073709551616\n", "line 1: '18446744073709551616': greater than 2^64-1"},
        {"", "no numbers (empty input)"},
        {"\n \n", "no numbers (empty input)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *path = temp_file(cases[i].text);
        const char *kv[] = {"input", path};
        pt_job *job = NULL;
        char err[512] = "";
        int rc = jt_make(rt, "isprime", 0, kv, 2, &job, err, sizeof(err));
        cr_expect_neq(rc, 0);
        cr_expect(strstr(err, path) != NULL, "message names the file: %s", err);
        cr_expect(strstr(err, cases[i].want) != NULL, "'%s' in: %s", cases[i].want, err);
        cr_expect_null(strchr(err, '\n'), "one line: %s", err);
        unlink(path);
        free(path);
    }
}

Test(isprime_job, missing_file_and_source_conflicts)
{
    pt_job *job = NULL;
    char err[512];
    const char *kv1[] = {"input", "/nonexistent/numbers.txt"};
    cr_assert_eq(jt_make(rt, "isprime", 0, kv1, 2, &job, err, sizeof(err)), PT_ENOENT);
    cr_assert(strstr(err, "/nonexistent/numbers.txt") && strstr(err, "no such file"), "%s", err);
    cr_assert_neq(jt_make(rt, "isprime", 0, NULL, 0, &job, err, sizeof(err)), 0);
    cr_assert(strstr(err, "no input"), "%s", err);
    const char *kv2[] = {"numbers", "7", "preset", "course"};
    cr_assert_eq(jt_make(rt, "isprime", 0, kv2, 4, &job, err, sizeof(err)), PT_EINVAL);
    cr_assert(strstr(err, "only one"), "%s", err);
}

Test(isprime_job, course_preset)
{
    const char *kv[] = {"preset", "course", "method", "trial"};
    pt_job *job = jt_job(rt, "isprime", 0, kv, 4);
    char err[512];
    pt_run_options ro = {.backend = PT_BACKEND_OPENMP};
    cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), 0, "%s", err);
    jt_expect_text(job, PT_OUT_QUIET, "100 prime, 0 composite\n");
    pt_job_destroy(job);
}

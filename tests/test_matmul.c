/* test_matmul.c - the matmul job: every backend against serial (bit for bit
 * on the CPU, within the error bound on OpenCL) and against a double-
 * precision dot product, on odd sizes (1, primes, one past every block size,
 * tall and skinny, k = 1); every SIMD variant and every OpenCL kernel;
 * --m/--n/--k against --n; bad parameters; verify's own checks; the CLI. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>

#include "jobtest.h"

int pt__matmul_data(pt_job *job, float **a, float **b, float **c, size_t *m, size_t *n, size_t *k,
                    bool *on_device);

typedef struct dims {
    size_t m, n, k;
} dims;

/* Odd sizes. The AVX-512 blocking is MR 12, NR 32, KC 256, MC 96, NC 512;
 * AVX2 MR 6, NR 16; baseline MR 4, NR 8; the OpenCL tiles are 64 x 64
 * (tiled) and 128 x 256 (wide) with 16 x 16 work-groups and depth 16. */
static const dims sizes[] = {
    {1, 1, 1},       {2, 3, 5}, {17, 31, 13}, {13, 33, 257}, /* one past MR, NR, KC */
    {97, 513, 259},                                          /* one past MC, NC; KC + 3 */
    {96, 512, 256},                                          /* exact multiples */
    {1000, 3, 5},                                            /* tall */
    {3, 1000, 7},                                            /* wide */
    {61, 67, 1},                                             /* k = 1 */
    {7, 1, 300},                                             /* n = 1 */
    {1, 300, 19},                                            /* m = 1 */
    {129, 257, 17},                                          /* one past the OpenCL tiles */
    {257, 257, 257},                                         /* a medium square, prime-ish */
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* --- helpers ---------------------------------------------------------------- */

static pt_params *params_for(dims d, const char *cl_kernel)
{
    pt_params *p;
    char buf[32], err[256];
    cr_assert_eq(pt_params_create(&p, pt_job_find("matmul")), 0);
    snprintf(buf, sizeof(buf), "%zu", d.m);
    cr_assert_eq(pt_params_set(p, "m", buf, err, sizeof(err)), 0, "%s", err);
    snprintf(buf, sizeof(buf), "%zu", d.n);
    cr_assert_eq(pt_params_set(p, "n", buf, err, sizeof(err)), 0, "%s", err);
    snprintf(buf, sizeof(buf), "%zu", d.k);
    cr_assert_eq(pt_params_set(p, "k", buf, err, sizeof(err)), 0, "%s", err);
    if (cl_kernel)
        cr_assert_eq(pt_params_set(p, "cl-kernel", cl_kernel, err, sizeof(err)), 0, "%s", err);
    return p;
}

typedef struct mats {
    float *a, *b, *c;
    size_t m, n, k;
    bool on_device;
} mats;

static mats data_of(pt_job *job)
{
    mats x;
    cr_assert_eq(pt__matmul_data(job, &x.a, &x.b, &x.c, &x.m, &x.n, &x.k, &x.on_device), 0);
    return x;
}

/* Checks C element (i, j) against a dot product in double precision (each
 * product of two floats is exact in double, the sum's error is far below
 * float's): a float dot product of length k is within gamma_k sum |a b|
 * (gamma_k ~ k 2^-24) of it, the check allows twice that. */
static void check_element(const mats *x, size_t i, size_t j, const char *what)
{
    double exact = 0, mag = 0;
    for (size_t p = 0; p < x->k; p++) {
        double t = (double)x->a[i * x->k + p] * (double)x->b[p * x->n + j];
        exact += t;
        mag += fabs(t);
    }
    double got = x->c[i * x->n + j];
    double bound = (double)x->k * 0x1p-23 * mag;
    cr_assert(fabs(got - exact) <= bound,
              "%s: %zu x %zu x %zu: C[%zu][%zu] = %.9g, the exact product is %.9g (error %.3g > "
              "bound %.3g)",
              what, x->m, x->n, x->k, i, j, got, exact, fabs(got - exact), bound);
}

/* Every element when C is small, else its four corners, the last row and
 * column (the edge micro-tiles) and 1500 pseudo-random elements. */
static void check_against_double(pt_job *job, const char *what)
{
    mats x = data_of(job);
    if (x.m * x.n <= 6000) {
        for (size_t i = 0; i < x.m; i++)
            for (size_t j = 0; j < x.n; j++)
                check_element(&x, i, j, what);
        return;
    }
    for (size_t i = 0; i < x.m; i++)
        check_element(&x, i, x.n - 1, what);
    for (size_t j = 0; j < x.n; j++)
        check_element(&x, x.m - 1, j, what);
    check_element(&x, 0, 0, what);
    check_element(&x, 0, x.n - 1, what);
    check_element(&x, x.m - 1, 0, what);
    uint64_t r = 0x2545F4914F6CDD1Dull;
    for (int t = 0; t < 1500; t++) {
        jt_xorshift(&r);
        check_element(&x, (size_t)(r % x.m), (size_t)((r >> 32) % x.n), what);
    }
}

/* Runs size d on backend b and on serial: verify() (exact on the CPU), the
 * double-precision check, and the CPU results bit for bit. Returns false
 * (after destroying what it made) when b is unavailable, with the reason. */
static bool check_size(pt_runtime *rt, pt_backend_id b, dims d, const char *cl_kernel, char *why,
                       size_t whylen)
{
    char err[PT_ERRBUF_SIZE], what[96];
    pt_job *job, *ref;
    const pt_job_desc *desc = pt_job_find("matmul");
    pt_params *p = params_for(d, cl_kernel);
    cr_assert_eq(pt_job_create(&job, rt, desc, p, b == PT_BACKEND_PROCESSES ? PT_JOB_SHARED : 0,
                               err, sizeof(err)),
                 0, "%s", err);
    cr_assert_eq(pt_job_create(&ref, rt, desc, p, 0, err, sizeof(err)), 0, "%s", err);
    pt_params_destroy(p);
    if (!pt_backend_available(rt, b, job, why, whylen)) {
        pt_job_destroy(job);
        pt_job_destroy(ref);
        return false;
    }
    snprintf(what, sizeof(what), "%s%s%s", pt_backend_name(b), cl_kernel ? " " : "",
             cl_kernel ? cl_kernel : "");
    pt_run_options ro = {.backend = b, .strict = true}, so = {.backend = PT_BACKEND_SERIAL};
    pt_run_info info;
    cr_assert_eq(pt_run(rt, job, &ro, &info, err, sizeof(err)), 0, "%s: %s", what, err);
    cr_assert_eq(info.backend, b);
    cr_assert_eq(pt_run(rt, ref, &so, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s vs serial, %zu x %zu x %zu: %s",
                 what, d.m, d.n, d.k, err);
    mats x = data_of(job), y = data_of(ref);
    cr_assert_eq(x.on_device, b == PT_BACKEND_OPENCL);
    if (b != PT_BACKEND_OPENCL)
        cr_assert(memcmp(x.c, y.c, d.m * d.n * sizeof(float)) == 0,
                  "%s: not bit-identical to serial", what);
    check_against_double(job, what);
    check_against_double(ref, "serial");
    pt_job_destroy(job);
    pt_job_destroy(ref);
    return true;
}

/* Runs size d on serial; returns its text output (the caller frees it). */
static char *run_text(pt_runtime *rt, dims d)
{
    pt_job *job;
    char err[PT_ERRBUF_SIZE];
    pt_params *p = params_for(d, NULL);
    cr_assert_eq(pt_job_create(&job, rt, pt_job_find("matmul"), p, 0, err, sizeof(err)), 0);
    pt_params_destroy(p);
    pt_run_options ro = {.backend = PT_BACKEND_SERIAL};
    cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), 0, "%s", err);
    char *out = jt_job_text(job, 0);
    pt_job_destroy(job);
    return out;
}

/* --- every backend ------------------------------------------------------------ */

ParameterizedTestParameters(matmul, backends_odd_sizes)
{
    return cr_make_param_array(pt_backend_id, jt_backends, JT_NBACKENDS);
}

ParameterizedTest(pt_backend_id *b, matmul, backends_odd_sizes, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    char why[512];
    for (size_t i = 0; i < NSIZES; i++) {
        if (!check_size(rt, *b, sizes[i], NULL, why, sizeof(why))) {
            pt_runtime_destroy(rt);
            cr_skip_test("%s: unavailable: %s", pt_backend_name(*b), why);
        }
    }
    cr_log_info("%s: %zu sizes agree with serial and the double-precision reference",
                pt_backend_name(*b), NSIZES);
    pt_runtime_destroy(rt);
}

/* Thread counts and chunking do not change a single bit. */
Test(matmul, same_bits_for_every_thread_count, .timeout = 300)
{
    dims d = {203, 611, 300};
    pt_params *p = params_for(d, NULL);
    char err[PT_ERRBUF_SIZE];
    float *first = NULL;
    for (unsigned threads = 1; threads <= 5; threads += 2) {
        pt_runtime *rt = jt_runtime(threads);
        pt_job *job;
        cr_assert_eq(pt_job_create(&job, rt, pt_job_find("matmul"), p, 0, err, sizeof(err)), 0);
        pt_run_options ro = {.backend = threads == 3 ? PT_BACKEND_OPENMP : PT_BACKEND_THREADS};
        cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), 0, "%s", err);
        mats x = data_of(job);
        if (!first) {
            first = malloc(d.m * d.n * sizeof(float));
            memcpy(first, x.c, d.m * d.n * sizeof(float));
        } else {
            cr_assert(memcmp(first, x.c, d.m * d.n * sizeof(float)) == 0, "%u threads differ",
                      threads);
        }
        pt_job_destroy(job);
        pt_runtime_destroy(rt);
    }
    free(first);
    pt_params_destroy(p);
}

/* --- every SIMD variant -------------------------------------------------------- */

static const char *const isa_names[] = {"baseline", "avx2", "avx512"};
static int isa_index[] = {0, 1, 2};

ParameterizedTestParameters(matmul, isa_variants)
{
    return cr_make_param_array(int, isa_index, sizeof(isa_index) / sizeof(isa_index[0]));
}

/* Each test runs in its own process: PTOOL_ISA set before the runtime
 * exists reaches the job code and the process backend's workers. */
ParameterizedTest(int *which, matmul, isa_variants, .timeout = 600)
{
    const char *isa = isa_names[*which];
    setenv("PTOOL_ISA", isa, 1);
    cr_log_info("PTOOL_ISA=%s: variant used %s", isa, pt_cpu_isa());
    pt_runtime *rt = jt_runtime(2);
    char why[512];
    for (size_t i = 0; i < NSIZES; i++) {
        cr_assert(check_size(rt, PT_BACKEND_THREADS, sizes[i], NULL, why, sizeof(why)), "%s", why);
        cr_assert(check_size(rt, PT_BACKEND_PROCESSES, sizes[i], NULL, why, sizeof(why)), "%s",
                  why);
    }
    /* the job says which kernel ran */
    static const char *const kernels[] = {"baseline 4x8", "avx2 6x16", "avx512 12x32"};
    const char *used = pt_cpu_isa();
    size_t level = strcmp(used, "avx512") == 0 ? 2 : strcmp(used, "avx2") == 0 ? 1 : 0;
    cr_assert_leq(level, (size_t)*which);
    char *out = run_text(rt, (dims){5, 6, 7});
    cr_assert(strstr(out, kernels[level]), "'%s' in: %s", kernels[level], out);
    free(out);
    pt_runtime_destroy(rt);
}

/* --- every OpenCL kernel ------------------------------------------------------- */

static const char *const cl_kernel_names[] = {"tiled", "wide", "simple"};
static int cl_kernel_index[] = {0, 1, 2};

ParameterizedTestParameters(matmul, opencl_kernels)
{
    return cr_make_param_array(int, cl_kernel_index,
                               sizeof(cl_kernel_index) / sizeof(cl_kernel_index[0]));
}

ParameterizedTest(int *which, matmul, opencl_kernels, .timeout = 600)
{
    const char *name = cl_kernel_names[*which];
    pt_runtime *rt = jt_runtime_no_processes(2); /* OpenCL only: no fork server */
    char why[512];
    for (size_t i = 0; i < NSIZES; i++) {
        if (!check_size(rt, PT_BACKEND_OPENCL, sizes[i], name, why, sizeof(why))) {
            pt_runtime_destroy(rt);
            cr_skip_test("opencl: unavailable: %s", why);
        }
    }
    pt_runtime_destroy(rt);
}

/* --- parameters ------------------------------------------------------------------ */

static pt_runtime *rt;

static void rt_setup(void)
{
    rt = jt_runtime_no_processes(2);
}

static void rt_teardown(void)
{
    pt_runtime_destroy(rt);
}

TestSuite(matmul_job, .init = rt_setup, .fini = rt_teardown);

/* Runs job on serial (not strict: serial always runs). */
static void run_serial(pt_job *job)
{
    char err[PT_ERRBUF_SIZE];
    pt_run_options ro = {.backend = PT_BACKEND_SERIAL};
    cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), 0, "%s", err);
}

Test(matmul_job, n_alone_means_square_and_m_k_default_to_n)
{
    char err[PT_ERRBUF_SIZE];
    const char *kv1[] = {"n", "37"};
    const char *kv2[] = {"m", "37", "n", "37", "k", "37"};
    const char *kv3[] = {"n", "20", "m", "5"};
    pt_job *sq = jt_job(rt, "matmul", 0, kv1, 2);
    pt_job *full = jt_job(rt, "matmul", 0, kv2, 6);
    pt_job *mixed = jt_job(rt, "matmul", 0, kv3, 4);
    run_serial(sq);
    run_serial(full);
    run_serial(mixed);
    mats x = data_of(sq), y = data_of(full), z = data_of(mixed);
    cr_assert(x.m == 37 && x.n == 37 && x.k == 37);
    cr_assert(memcmp(x.a, y.a, 37 * 37 * sizeof(float)) == 0);
    cr_assert(memcmp(x.c, y.c, 37 * 37 * sizeof(float)) == 0);
    cr_assert(z.m == 5 && z.n == 20 && z.k == 20, "%zu x %zu x %zu", z.m, z.n, z.k);
    cr_assert_eq(pt_job_verify(sq, full, err, sizeof(err)), 0, "%s", err);
    cr_assert_neq(pt_job_verify(sq, mixed, err, sizeof(err)), 0);
    cr_assert(strstr(err, "5 x 20"), "%s", err);
    pt_job_destroy(sq);
    pt_job_destroy(full);
    pt_job_destroy(mixed);
}

Test(matmul_job, inputs_are_seeded_floats_in_minus_one_one)
{
    const char *kv1[] = {"n", "64"};
    const char *kv3[] = {"n", "64", "seed", "2"};
    pt_job *j1 = jt_job(rt, "matmul", 0, kv1, 2);
    pt_job *j2 = jt_job(rt, "matmul", 0, kv1, 2);
    pt_job *j3 = jt_job(rt, "matmul", 0, kv3, 4);
    mats x = data_of(j1), y = data_of(j2), z = data_of(j3);
    cr_assert(memcmp(x.a, y.a, 64 * 64 * sizeof(float)) == 0);
    cr_assert(memcmp(x.b, y.b, 64 * 64 * sizeof(float)) == 0);
    cr_assert(memcmp(x.a, z.a, 64 * 64 * sizeof(float)) != 0, "another seed, other inputs");
    cr_assert(memcmp(x.a, x.b, 64 * 64 * sizeof(float)) != 0, "A and B differ");
    double sum = 0, lo = 1, hi = -1;
    for (size_t i = 0; i < 64 * 64; i++) {
        cr_assert(x.a[i] >= -1.0f && x.a[i] < 1.0f && x.b[i] >= -1.0f && x.b[i] < 1.0f);
        sum += x.a[i];
        lo = fmin(lo, x.a[i]);
        hi = fmax(hi, x.a[i]);
    }
    cr_assert(fabs(sum / 4096) < 0.05 && lo < -0.99 && hi > 0.99, "mean %g, range [%g, %g]",
              sum / 4096, lo, hi);
    pt_job_destroy(j1);
    pt_job_destroy(j2);
    pt_job_destroy(j3);
}

Test(matmul_job, bad_parameters_name_the_parameter)
{
    static const struct {
        const char *kv[6];
        size_t n;
        int code;
        const char *want[3];
    } cases[] = {
        {{"n", "0"}, 2, PT_ERANGE, {"--n", "0", "out of range"}},
        {{"m", "0"}, 2, PT_ERANGE, {"--m", "out of range", NULL}},
        {{"k", "0"}, 2, PT_ERANGE, {"--k", "out of range", NULL}},
        {{"n", "-5"}, 2, PT_ERANGE, {"--n", "negative", NULL}},
        {{"m", "-1"}, 2, PT_ERANGE, {"--m", "negative", NULL}},
        {{"k", "twelve"}, 2, PT_EPARSE, {"--k", "twelve", NULL}},
        {{"n", "3000000000"}, 2, PT_ERANGE, {"--n", "3000000000", "out of range"}},
        {{"n", "200000"}, 2, PT_ENOMEM, {"--m 200000 --n 200000 --k 200000", "GiB", "memory"}},
        {{"m", "100000000", "n", "1", "k", "100000000"},
         6,
         PT_ENOMEM,
         {"--m 100000000 --n 1 --k 100000000", "GiB", NULL}},
        {{"m", "1000000000", "n", "1000000000", "k", "1000000000"},
         6,
         PT_ENOMEM,
         {"--m 1000000000", "GiB", NULL}},
        {{"cl-kernel", "fast"}, 2, PT_EPARSE, {"--cl-kernel", "fast", "auto|tiled|wide|simple"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pt_job *job = NULL;
        char err[PT_ERRBUF_SIZE] = "";
        int rc = jt_make(rt, "matmul", 0, cases[i].kv, cases[i].n, &job, err, sizeof(err));
        cr_expect_eq(rc, cases[i].code, "case %zu: %s (%s)", i, pt_err_name(rc), err);
        cr_expect_null(job);
        for (size_t w = 0; w < 3 && cases[i].want[w]; w++)
            cr_expect(strstr(err, cases[i].want[w]) != NULL, "case %zu: '%s' in: %s", i,
                      cases[i].want[w], err);
        cr_expect_null(strchr(err, '\n'), "one line: %s", err);
    }
}

/* --- verify's own checks ------------------------------------------------------- */

Test(matmul_job, verify_catches_a_one_ulp_difference_on_the_cpu)
{
    char err[PT_ERRBUF_SIZE];
    const char *kv[] = {"m", "33", "n", "45", "k", "21"};
    pt_job *job = jt_job(rt, "matmul", 0, kv, 6);
    pt_job *ref = jt_job(rt, "matmul", 0, kv, 6);
    run_serial(job);
    run_serial(ref);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s", err);
    mats x = data_of(job);
    float keep = x.c[20 * 45 + 44];
    x.c[20 * 45 + 44] = nextafterf(keep, 10.0f);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), PT_EVERIFY);
    cr_assert(strstr(err, "C[20][44]") && strstr(err, "exactly"), "%s", err);
    x.c[20 * 45 + 44] = keep;
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s", err);
    pt_job_destroy(job);
    pt_job_destroy(ref);
}

Test(matmul_job, verify_of_a_device_result_uses_the_error_bound, .timeout = 300)
{
    char err[PT_ERRBUF_SIZE], why[512];
    const char *kv[] = {"m", "70", "n", "90", "k", "300"};
    pt_job *job = jt_job(rt, "matmul", 0, kv, 6);
    pt_job *ref = jt_job(rt, "matmul", 0, kv, 6);
    if (!pt_backend_available(rt, PT_BACKEND_OPENCL, job, why, sizeof(why))) {
        pt_job_destroy(job);
        pt_job_destroy(ref);
        cr_skip_test("opencl: unavailable: %s", why);
    }
    pt_run_options ro = {.backend = PT_BACKEND_OPENCL, .strict = true};
    cr_assert_eq(pt_run(rt, job, &ro, NULL, err, sizeof(err)), 0, "%s", err);
    run_serial(ref);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s", err);
    mats x = data_of(job), y = data_of(ref);
    /* a few ulps is within the bound (k 2^-22 ||a|| ||b||, about 1e-4 here) */
    float keep = x.c[69 * 90 + 89];
    x.c[69 * 90 + 89] = nextafterf(nextafterf(y.c[69 * 90 + 89], 10.0f), 10.0f);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s", err);
    /* a missing term of the sum is not */
    x.c[69 * 90 + 89] = y.c[69 * 90 + 89] - x.a[69 * 300 + 7] * x.b[7 * 90 + 89];
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), PT_EVERIFY);
    cr_assert(strstr(err, "C[69][89]") && strstr(err, "bound"), "%s", err);
    x.c[69 * 90 + 89] = keep;
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s", err);
    pt_job_destroy(job);
    pt_job_destroy(ref);
}

/* --- output ---------------------------------------------------------------------- */

Test(matmul_job, text_and_json_summaries)
{
    char *out = run_text(rt, (dims){17, 31, 13});
    cr_assert(strstr(out, "m 17, n 31, k 13") && strstr(out, "GFLOP/s") && strstr(out, "checksum"),
              "%s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);

    const char *kv[] = {"m", "17", "n", "31", "k", "13"};
    pt_job *job = jt_job(rt, "matmul", 0, kv, 6);
    run_serial(job);
    mats x = data_of(job);
    double sum = 0;
    for (size_t i = 0; i < 17 * 31; i++)
        sum += x.c[i];
    jt_text t = {0};
    pt_json *j;
    cr_assert_eq(pt_json_create(&j, jt_text_append, &t, 0), 0);
    pt_json_object_begin(j);
    cr_assert_eq(pt_job_write_json(job, j), 0);
    pt_json_object_end(j);
    cr_assert_eq(pt_json_finish(j), 0);
    pt_json_destroy(j);
    const char *js = t.buf;
    for (size_t i = 0; i < 6; i++) {
        static const char *const keys[] = {"\"m\":17",     "\"n\":31",   "\"k\":13",
                                           "\"checksum\"", "\"gflops\"", "\"kernel\""};
        cr_assert(strstr(js, keys[i]), "%s in %s", keys[i], js);
    }
    char want[64];
    snprintf(want, sizeof(want), "checksum %.9g", sum);
    cr_assert(strstr(out, want), "'%s' in %s", want, out);
    free(t.buf);
    free(out);
    pt_job_destroy(job);
}

/* --- the CLI --------------------------------------------------------------------- */

Test(matmul_cli, bad_sizes_exit_2_with_one_line_naming_the_parameter, .timeout = 120)
{
    jt_require_ptool();
    static const struct {
        const char *args[8];
        const char *want;
    } cases[] = {
        {{"run", "matmul", "--n", "0", NULL}, "--n"},
        {{"run", "matmul", "--m", "-4", NULL}, "--m"},
        {{"run", "matmul", "--n", "8", "--k", "0", NULL}, "--k"},
        {{"run", "matmul", "--n", "1000000", NULL}, "--n 1000000"},
        {{"bench", "matmul", "--m", "0", NULL}, "--m"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        jt_ptool_usage_error(cases[i].args, cases[i].want);
}

Test(matmul_cli, run_verify_json, .timeout = 120)
{
    jt_require_ptool();
    const char *args[] = {"run", "matmul",    "--m",     "33",       "--n",    "17", "--k",
                          "9",   "--backend", "threads", "--verify", "--json", NULL};
    jt_cli r;
    jt_ptool(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.out, "\"verified\":true"), "%s", r.out);
    cr_assert(strstr(r.out, "\"unit\":\"GFLOP/s\""), "%s", r.out);
    cr_assert(strstr(r.out, "\"checksum\""), "%s", r.out);
    const char *args2[] = {"run", "matmul", "--n", "20", "--verify", NULL};
    jt_ptool(&r, args2);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.out, "m 20, n 20, k 20"), "%s", r.out);
}

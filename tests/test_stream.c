/* test_stream.c - the stream job: every backend against serial and against
 * the kernels computed here, odd sizes, every SIMD variant with and without
 * streaming stores, the dot's documented summation order, bad parameters. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>

#include "jobtest.h"

double pt__stream_a0(size_t i);
void pt__stream_view(const pt_job *job, const double **a, const double **b, const double **c,
                     double *dot);

/* Odd sizes: 1, primes, around the 64-element chunk minimum and the
 * 256-item OpenCL work-group, and a few chunks' worth. */
static const size_t sizes[] = {1, 2, 3, 7, 13, 63, 64, 65, 97, 255, 256, 257, 1000, 4099, 65537};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* The five kernels, ntimes passes, computed plainly: a, b, c. The dot is
 * returned in the job's documented order only by expected_dot(). */
static void simulate(size_t n, unsigned ntimes, double *a, double *b, double *c)
{
    for (size_t i = 0; i < n; i++)
        a[i] = pt__stream_a0(i), b[i] = 2.0, c[i] = 0.0;
    for (unsigned r = 0; r < ntimes; r++) {
        for (size_t i = 0; i < n; i++)
            c[i] = a[i];
        for (size_t i = 0; i < n; i++)
            b[i] = 3.0 * c[i];
        for (size_t i = 0; i < n; i++)
            c[i] = a[i] + b[i];
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + 3.0 * c[i];
    }
}

/* The dot in the order stream.c documents: chunks of
 * max(64, round_up(ceil(n / 256), 8)) elements; in a chunk, element
 * begin + k of the full 16-blocks goes to lane k mod 16, the rest is summed
 * in order; lanes l and l + 8 are added, then the tree
 * ((0+4) + (2+6)) + ((1+5) + (3+7)), then the tail; chunks in order. */
static double expected_dot(const double *a, const double *b, size_t n)
{
    size_t grain = ((n + 255) / 256 + 7) / 8 * 8;
    if (grain < 64)
        grain = 64;
    double total = 0;
    for (size_t begin = 0; begin < n; begin += grain) {
        size_t end = begin + grain < n ? begin + grain : n;
        double lane[16] = {0};
        size_t i = begin;
        for (; i + 16 <= end; i += 16)
            for (int k = 0; k < 16; k++)
                lane[k] += a[i + k] * b[i + k];
        double tail = 0;
        for (; i < end; i++)
            tail += a[i] * b[i];
        double s[8];
        for (int k = 0; k < 8; k++)
            s[k] = lane[k] + lane[k + 8];
        double chunk = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7])) + tail;
        total = begin == 0 ? chunk : total + chunk;
    }
    return total;
}

/* Checks job's arrays (after ntimes passes) against the simulation; the dot
 * exactly in the documented order (cpu) or within the OpenCL tolerance. */
static void check_against_simulation(const pt_job *job, size_t n, unsigned ntimes, bool exact_dot,
                                     const char *what)
{
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)),
           *c = malloc(n * sizeof(double));
    cr_assert(a && b && c);
    simulate(n, ntimes, a, b, c);
    const double *ja, *jb, *jc;
    double dot;
    pt__stream_view(job, &ja, &jb, &jc, &dot);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(ja[i], a[i], "%s: a[%zu] = %.17g, want %.17g", what, i, ja[i], a[i]);
        cr_assert_eq(jb[i], b[i], "%s: b[%zu] = %.17g, want %.17g", what, i, jb[i], b[i]);
        cr_assert_eq(jc[i], c[i], "%s: c[%zu] = %.17g, want %.17g", what, i, jc[i], c[i]);
    }
    double want = expected_dot(a, b, n);
    if (exact_dot)
        cr_assert_eq(dot, want, "%s: dot = %.17g, want %.17g", what, dot, want);
    else
        cr_assert_leq(fabs(dot - want) / want, 2.0 * ((double)n + 2.0) * 0x1p-53,
                      "%s: dot = %.17g, want %.17g", what, dot, want);
    free(a);
    free(b);
    free(c);
}

static pt_backend_id backend_list[JT_NBACKENDS] = {PT_BACKEND_SERIAL, PT_BACKEND_THREADS,
                                                   PT_BACKEND_PROCESSES, PT_BACKEND_OPENMP,
                                                   PT_BACKEND_OPENCL};

ParameterizedTestParameters(stream, backends_against_serial)
{
    return cr_make_param_array(pt_backend_id, backend_list, JT_NBACKENDS);
}

/* Every backend, every odd size, both store kinds: verify() against serial
 * and the arrays against the plain computation here. */
ParameterizedTest(pt_backend_id *b, stream, backends_against_serial, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    static const char *const stores[] = {"streaming", "normal"};
    for (size_t s = 0; s < NSIZES; s++) {
        for (int st = 0; st < 2; st++) {
            char nbuf[32];
            snprintf(nbuf, sizeof(nbuf), "%zu", sizes[s]);
            const char *kv[] = {"n", nbuf, "ntimes", "3", "stores", stores[st]};
            pt_job *job = jt_job(rt, "stream", PT_JOB_SHARED, kv, 6);
            pt_job *ref = jt_job(rt, "stream", 0, kv, 6);
            jt_require(rt, *b, job);
            jt_run(rt, job, *b);
            jt_run(rt, ref, PT_BACKEND_SERIAL);
            char err[PT_ERRBUF_SIZE];
            cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s n=%zu %s: %s",
                         pt_backend_name(*b), sizes[s], stores[st], err);
            char what[96];
            snprintf(what, sizeof(what), "%s n=%zu %s", pt_backend_name(*b), sizes[s], stores[st]);
            check_against_simulation(job, sizes[s], 3, *b != PT_BACKEND_OPENCL, what);
            /* a second run of the same job starts from the initial arrays */
            jt_run(rt, job, *b);
            cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s second run: %s", what,
                         err);
            pt_job_destroy(job);
            pt_job_destroy(ref);
        }
    }
    pt_runtime_destroy(rt);
}

/* The SIMD variants: each test is its own process, so PTOOL_ISA set here
 * picks the variant. Arrays and the dot must be bit-identical to the
 * documented computation, whatever the ISA and store kind. */
static int isa_index[] = {0, 1, 2};
static const char *const isa_names[] = {"baseline", "avx2", "avx512"};

ParameterizedTestParameters(stream, isa_variants)
{
    return cr_make_param_array(int, isa_index, 3);
}

ParameterizedTest(int *which, stream, isa_variants, .timeout = 300)
{
    setenv("PTOOL_ISA", isa_names[*which], 1);
    cr_log_info("PTOOL_ISA=%s: variant used %s", isa_names[*which], pt_cpu_isa());
    pt_runtime *rt = jt_runtime(2);
    static const char *const stores[] = {"streaming", "normal"};
    for (size_t s = 0; s < NSIZES; s++) {
        for (int st = 0; st < 2; st++) {
            char nbuf[32];
            snprintf(nbuf, sizeof(nbuf), "%zu", sizes[s]);
            const char *kv[] = {"n", nbuf, "ntimes", "3", "stores", stores[st]};
            pt_job *job = jt_job(rt, "stream", 0, kv, 6);
            jt_run(rt, job, PT_BACKEND_THREADS);
            char what[96];
            snprintf(what, sizeof(what), "%s n=%zu %s", isa_names[*which], sizes[s], stores[st]);
            check_against_simulation(job, sizes[s], 3, true, what);
            pt_job_destroy(job);
        }
    }
    pt_runtime_destroy(rt);
}

/* Unaligned heads and tails: a run over a large n whose chunks each start
 * on a cache line; compared as above with many chunks. */
Test(stream, many_chunks_streaming, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    const char *kv[] = {"n", "1000003", "ntimes", "1", "stores", "streaming"};
    pt_job *job = jt_job(rt, "stream", 0, kv, 6);
    jt_run(rt, job, PT_BACKEND_THREADS);
    check_against_simulation(job, 1000003, 1, true, "n=1000003 streaming, threads");
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

/* The default --n: each array at least 4x the last-level cache. */
Test(stream, default_size_is_4x_the_llc)
{
    pt_runtime_options o = {.no_processes = true};
    pt_runtime *rt;
    cr_assert_eq(pt_runtime_create(&rt, &o), 0);
    pt_job *job = jt_job(rt, "stream", 0, NULL, 0);
    const double *a, *b, *c;
    double dot;
    pt__stream_view(job, &a, &b, &c, &dot);
    /* the arrays follow each other in one block: n rounded up to 8, plus 8 */
    size_t n = (size_t)(b - a) - 8;
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
    if (f) {
        unsigned long kib = 0;
        cr_assert_eq(fscanf(f, "%luK", &kib), 1);
        fclose(f);
        cr_expect_geq(n * sizeof(double), 4 * kib * 1024, "array of %zu bytes, L3 %lu KiB",
                      n * sizeof(double), kib);
    } else {
        cr_log_warn("no L3 in sysfs: checking against the 32 MiB fallback");
        cr_expect_geq(n * sizeof(double), (size_t)128 << 20);
    }
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

static int to_buf(void *ctx, const char *b, size_t n)
{
    char *dst = ctx;
    size_t len = strlen(dst);
    cr_assert_lt(len + n, 4096);
    memcpy(dst + len, b, n);
    dst[len + n] = '\0';
    return 0;
}

/* Every phase is timed and the output names the five kernels with rates. */
Test(stream, output_names_every_kernel)
{
    pt_runtime *rt = jt_runtime(2);
    const char *kv[] = {"n", "5000"};
    pt_job *job = jt_job(rt, "stream", 0, kv, 2);
    jt_run(rt, job, PT_BACKEND_OPENMP);
    for (unsigned k = 0; k < 5; k++)
        cr_expect_gt(pt_job_phase_seconds(job, k), 0.0, "phase %u timed", k);
    char text[4096] = "";
    cr_assert_eq(pt_job_write_text(job, PT_OUT_QUIET, to_buf, text), 0);
    static const char *const names[] = {"copy ", "scale ", "add ", "triad ", "dot "};
    for (int k = 0; k < 5; k++)
        cr_expect(strstr(text, names[k]) != NULL, "%s in: %s", names[k], text);
    cr_expect(strstr(text, "GB/s") != NULL, "%s", text);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

/* --- bad parameters -------------------------------------------------------- */

Test(stream, bad_parameters_name_the_parameter)
{
    static const jt_bad_param cases[] = {
        {"n", "0", "--n: 0 is out of range", PT_ERANGE},
        {"n", "-5", "--n: '-5': negative", PT_ERANGE},
        {"n", "abc", "--n: 'abc': not a number", PT_EPARSE},
        {"n", "1000000000000000", "--n 1000000000000000 (3 arrays of doubles) needs", PT_ENOMEM},
        {"n", "10000000000000000", "--n: 10000000000000000 is out of range", PT_ERANGE},
        {"ntimes", "0", "--ntimes: 0 is out of range", PT_ERANGE},
        {"ntimes", "101", "--ntimes: 101 is out of range", PT_ERANGE},
        {"stores", "fast", "--stores: 'fast' is not one of", PT_EPARSE},
    };
    jt_expect_bad_params("stream", cases, sizeof(cases) / sizeof(cases[0]));
}

Test(stream, cli_bad_parameters_exit_2)
{
    const char *a1[] = {"run", "stream", "--n", "0", NULL};
    jt_ptool_usage_error(a1, "--n");
    const char *a2[] = {"run", "stream", "--n", "-1", NULL};
    jt_ptool_usage_error(a2, "--n");
    const char *a3[] = {"run", "stream", "--n", "1000000000000000", NULL};
    jt_ptool_usage_error(a3, "--n");
    const char *a4[] = {"bench", "stream", "--ntimes", "0", NULL};
    jt_ptool_usage_error(a4, "--ntimes");
}

Test(stream, cli_run_verify_every_backend, .timeout = 300)
{
    static const char *const backends[] = {"serial", "threads", "processes", "openmp", "opencl"};
    for (size_t i = 0; i < 5; i++) {
        const char *args[] = {"run",       "stream",   "--n",     "10007", "--backend",
                              backends[i], "--verify", "--quiet", NULL};
        jt_cli r;
        jt_ptool(&r, args);
        if (r.status == 1 && strstr(r.err, "unavailable")) {
            cr_log_warn("%s unavailable: %s", backends[i], r.err);
            continue;
        }
        cr_expect_eq(r.status, 0, "%s: exit %d: %s", backends[i], r.status, r.err);
        cr_expect(strstr(r.out, "triad ") && strstr(r.out, " GB/s"), "%s: %s", backends[i], r.out);
    }
}

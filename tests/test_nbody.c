/* test_nbody.c - the nbody job: every backend against serial (bit-identical
 * on the CPU, within the stated tolerance on OpenCL), every SIMD variant
 * against the documented order of operations computed here in scalar
 * floats, the physics against a double-precision reference, repeated
 * runs, bad parameters. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>

#include "jobtest.h"

void pt__nbody_view(const pt_job *job, const float *out[7], size_t *n, size_t *npad);

#define EPS2 0.01f
#define DT   0.001f

/* 1, primes, around the 16-lane vectors and the 64-item work-group, and
 * more than one 1024-body OpenCL tile. */
static const size_t sizes[] = {1, 2, 3, 15, 16, 17, 61, 64, 65, 127, 257, 1100};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static pt_job *make(pt_runtime *rt, size_t n, unsigned steps, unsigned flags)
{
    char nb[32], sb[32];
    snprintf(nb, sizeof(nb), "%zu", n);
    snprintf(sb, sizeof(sb), "%u", steps);
    const char *kv[] = {"n", nb, "steps", sb};
    return jt_job(rt, "nbody", flags, kv, 4);
}

static pt_backend_id backend_list[JT_NBACKENDS] = {PT_BACKEND_SERIAL, PT_BACKEND_THREADS,
                                                   PT_BACKEND_PROCESSES, PT_BACKEND_OPENMP,
                                                   PT_BACKEND_OPENCL};

ParameterizedTestParameters(nbody, backends_against_serial)
{
    return cr_make_param_array(pt_backend_id, backend_list, JT_NBACKENDS);
}

ParameterizedTest(pt_backend_id *b, nbody, backends_against_serial, .timeout = 300)
{
    pt_runtime *rt = jt_runtime(2);
    double worst = 0;
    for (size_t s = 0; s < NSIZES; s++) {
        unsigned steps = 1 + (unsigned)(s % 3); /* 1, 2 or 3 steps */
        pt_job *job = make(rt, sizes[s], steps, PT_JOB_SHARED);
        pt_job *ref = make(rt, sizes[s], steps, 0);
        jt_require(rt, *b, job);
        jt_run(rt, job, *b);
        jt_run(rt, ref, PT_BACKEND_SERIAL);
        char err[PT_ERRBUF_SIZE];
        cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s n=%zu: %s",
                     pt_backend_name(*b), sizes[s], err);
        const float *got[7], *want[7];
        size_t n, npad;
        pt__nbody_view(job, got, &n, &npad);
        pt__nbody_view(ref, want, &n, &npad);
        for (int k = 0; k < 6; k++) {
            for (size_t i = 0; i < n; i++) {
                cr_assert(isfinite(got[k][i]));
                double d = fabs((double)got[k][i] - want[k][i]) / fmax(1.0, fabs(want[k][i]));
                if (k < 3 && d > worst)
                    worst = d;
                if (*b != PT_BACKEND_OPENCL)
                    cr_assert_eq(got[k][i], want[k][i], "%s n=%zu body %zu array %d",
                                 pt_backend_name(*b), n, i, k);
            }
        }
        /* a second run starts from the initial state again */
        jt_run(rt, job, *b);
        cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s n=%zu second run: %s",
                     pt_backend_name(*b), sizes[s], err);
        pt_job_destroy(job);
        pt_job_destroy(ref);
    }
    cr_log_info("%s: largest position difference from serial %.3g (tolerance 1e-4 x max(1, |x|))",
                pt_backend_name(*b), worst);
    pt_runtime_destroy(rt);
}

/* The documented order of operations, in scalar floats: 16 lanes (body j
 * goes to lane j mod 16, npad bodies), ((dx dx + dy dy) + dz dz) + eps^2,
 * m / (r2 sqrt(r2)), the lanes added as (l, l+8), then (l, l+4), then
 * (0+2) + (1+3); v += a dt; then r += v dt. */
static void emulate(float *x, float *y, float *z, float *vx, float *vy, float *vz, const float *m,
                    size_t n, size_t npad, unsigned steps)
{
    for (unsigned st = 0; st < steps; st++) {
        for (size_t i = 0; i < n; i++) {
            float lane[3][16] = {{0}};
            for (size_t j = 0; j < npad; j += 16) {
                for (int k = 0; k < 16; k++) {
                    float dx = x[j + k] - x[i], dy = y[j + k] - y[i], dz = z[j + k] - z[i];
                    float r2 = dx * dx + dy * dy + dz * dz + EPS2;
                    float s = m[j + k] / (r2 * sqrtf(r2));
                    lane[0][k] += dx * s;
                    lane[1][k] += dy * s;
                    lane[2][k] += dz * s;
                }
            }
            float a[3];
            for (int c = 0; c < 3; c++) {
                float s8[8], s4[4];
                for (int k = 0; k < 8; k++)
                    s8[k] = lane[c][k] + lane[c][k + 8];
                for (int k = 0; k < 4; k++)
                    s4[k] = s8[k] + s8[k + 4];
                a[c] = (s4[0] + s4[2]) + (s4[1] + s4[3]);
            }
            vx[i] = vx[i] + a[0] * DT;
            vy[i] = vy[i] + a[1] * DT;
            vz[i] = vz[i] + a[2] * DT;
        }
        for (size_t i = 0; i < n; i++) {
            x[i] = x[i] + vx[i] * DT;
            y[i] = y[i] + vy[i] * DT;
            z[i] = z[i] + vz[i] * DT;
        }
    }
}

/* Copies a job's 7 arrays (npad each) into one new block. */
static float *copy_state(const pt_job *job, float *arr[7], size_t *n, size_t *npad)
{
    const float *v[7];
    pt__nbody_view(job, v, n, npad);
    float *block = malloc(7 * *npad * sizeof(float));
    cr_assert_not_null(block);
    for (int k = 0; k < 7; k++) {
        arr[k] = block + (size_t)k * *npad;
        memcpy(arr[k], v[k], *npad * sizeof(float));
    }
    return block;
}

static int isa_index[] = {0, 1, 2};
static const char *const isa_names[] = {"baseline", "avx2", "avx512"};

Test(nbody, opencl_cpu_and_gpu_kernels, .timeout = 300)
{
    /* Both OpenCL code paths (the flat CPU kernel and the local-memory tiled
     * one), whatever the device is, against serial. */
    pt_runtime *rt = jt_runtime(2);
    static const char *paths[] = {"cpu", "gpu"};
    for (int p = 0; p < 2; p++) {
        setenv("PTOOL_CL_PATH", paths[p], 1);
        for (size_t s = 0; s < NSIZES; s++) {
            pt_job *job = make(rt, sizes[s], 2, 0);
            pt_job *ref = make(rt, sizes[s], 2, 0);
            jt_require(rt, PT_BACKEND_OPENCL, job);
            jt_run(rt, job, PT_BACKEND_OPENCL);
            jt_run(rt, ref, PT_BACKEND_SERIAL);
            char err[PT_ERRBUF_SIZE];
            cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s path n=%zu: %s",
                         paths[p], sizes[s], err);
            pt_job_destroy(job);
            pt_job_destroy(ref);
        }
    }
    unsetenv("PTOOL_CL_PATH");
    pt_runtime_destroy(rt);
}

ParameterizedTestParameters(nbody, isa_variants)
{
    return cr_make_param_array(int, isa_index, 3);
}

/* Each SIMD variant gives exactly the documented computation. */
ParameterizedTest(int *which, nbody, isa_variants, .timeout = 300)
{
    setenv("PTOOL_ISA", isa_names[*which], 1);
    cr_log_info("PTOOL_ISA=%s: variant used %s", isa_names[*which], pt_cpu_isa());
    pt_runtime *rt = jt_runtime(2);
    for (size_t s = 0; s < NSIZES - 1; s++) {
        pt_job *job = make(rt, sizes[s], 2, 0);
        float *w[7];
        size_t n, npad;
        float *block = copy_state(job, w, &n, &npad); /* the initial state */
        emulate(w[0], w[1], w[2], w[3], w[4], w[5], w[6], n, npad, 2);
        jt_run(rt, job, PT_BACKEND_THREADS);
        const float *got[7];
        pt__nbody_view(job, got, &n, &npad);
        for (int k = 0; k < 6; k++)
            for (size_t i = 0; i < n; i++)
                cr_assert_eq(got[k][i], w[k][i], "%s n=%zu body %zu array %d: %.9g, want %.9g",
                             isa_names[*which], n, i, k, (double)got[k][i], (double)w[k][i]);
        free(block);
        pt_job_destroy(job);
    }
    pt_runtime_destroy(rt);
}

/* The physics: the same model in double precision, written plainly. */
Test(nbody, matches_double_precision_physics)
{
    pt_runtime *rt = jt_runtime(2);
    enum { N = 40, STEPS = 20 };
    pt_job *job = make(rt, N, STEPS, 0);
    const float *v[7];
    size_t n, npad;
    pt__nbody_view(job, v, &n, &npad);
    double p[6][N], m[N];
    for (int k = 0; k < 6; k++)
        for (size_t i = 0; i < N; i++)
            p[k][i] = v[k][i];
    for (size_t i = 0; i < N; i++)
        m[i] = v[6][i];
    for (int st = 0; st < STEPS; st++) {
        for (size_t i = 0; i < N; i++) {
            double a[3] = {0, 0, 0};
            for (size_t j = 0; j < N; j++) {
                double d[3], r2 = 0.01;
                for (int c = 0; c < 3; c++) {
                    d[c] = p[c][j] - p[c][i];
                    r2 += d[c] * d[c];
                }
                for (int c = 0; c < 3; c++)
                    a[c] += m[j] * d[c] / pow(r2, 1.5);
            }
            for (int c = 0; c < 3; c++)
                p[3 + c][i] += a[c] * 0.001;
        }
        for (size_t i = 0; i < N; i++)
            for (int c = 0; c < 3; c++)
                p[c][i] += p[3 + c][i] * 0.001;
    }
    jt_run(rt, job, PT_BACKEND_OPENMP);
    pt__nbody_view(job, v, &n, &npad);
    double moved = 0;
    for (int k = 0; k < 6; k++)
        for (size_t i = 0; i < N; i++) {
            cr_assert_leq(fabs(v[k][i] - p[k][i]), 1e-5 * fmax(1.0, fabs(p[k][i])),
                          "body %zu array %d: %.9g, double precision says %.9g", i, k,
                          (double)v[k][i], p[k][i]);
            if (k >= 3)
                moved = fmax(moved, fabs(v[k][i]));
        }
    cr_assert_gt(moved, 0.0, "the bodies move");
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

/* Interactions/s count N^2 per step. */
Test(nbody, throughput_counts_n_squared_steps)
{
    pt_runtime *rt = jt_runtime(1);
    pt_job *job = make(rt, 100, 7, 0);
    const char *unit;
    double tp = pt_job_throughput(job, 2.0, &unit);
    cr_expect_str_eq(unit, "interactions/s");
    cr_expect_eq(tp, 100.0 * 100.0 * 7 / 2.0);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

/* --- bad parameters -------------------------------------------------------- */

Test(nbody, bad_parameters_name_the_parameter)
{
    static const jt_bad_param cases[] = {
        {"n", "0", "--n: 0 is out of range", PT_ERANGE},
        {"n", "-1", "--n: '-1': negative", PT_ERANGE},
        {"n", "16777217", "--n: 16777217 is out of range", PT_ERANGE},
        {"steps", "0", "--steps: 0 is out of range", PT_ERANGE},
        {"steps", "2.5", "--steps: '2.5': not a number", PT_EPARSE},
        {"seed", "-4", "--seed: '-4': negative", PT_ERANGE},
    };
    jt_expect_bad_params("nbody", cases, sizeof(cases) / sizeof(cases[0]));
}

Test(nbody, cli_bad_parameters_exit_2)
{
    const char *a1[] = {"run", "nbody", "--n", "0", NULL};
    jt_ptool_usage_error(a1, "--n");
    const char *a2[] = {"run", "nbody", "--steps", "-2", NULL};
    jt_ptool_usage_error(a2, "--steps");
    const char *a3[] = {"bench", "nbody", "--n", "99999999999", NULL};
    jt_ptool_usage_error(a3, "--n");
}

Test(nbody, cli_run_verify, .timeout = 120)
{
    const char *args[] = {"run",       "nbody",  "--n",      "300",     "--steps", "2",
                          "--backend", "openmp", "--verify", "--quiet", NULL};
    jt_cli r;
    jt_ptool(&r, args);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_expect(strstr(r.out, "nbody: 300 bodies, 2 steps") != NULL, "%s", r.out);
}

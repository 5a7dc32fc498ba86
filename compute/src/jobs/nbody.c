/* jobs/nbody.c - all-pairs gravity for N bodies in single precision.
 *
 * Model: G = 1, masses 1/N (total mass 1), positions uniform in the cube
 * [-1, 1]^3 and small random velocities, all from a seeded generator.
 * Plummer softening: the acceleration of body i is
 *     a_i = sum over all j of m_j (r_j - r_i) / (|r_j - r_i|^2 + eps^2)^(3/2)
 * with eps^2 = 0.01 (the j = i term is exactly zero, so it stays in the
 * sum). Each step is semi-implicit Euler with dt = 0.001: phase 0 updates
 * every velocity, v_i += a_i dt, from the positions as they were; phase 1,
 * after all of phase 0, moves every body, r_i += v_i dt. --steps steps run
 * per run (the job's repeat), each run from the same initial state (reset).
 * Interactions/s count N^2 per step.
 *
 * SIMD: the inner loop over j runs 16 bodies at a time as a 16-float GCC
 * vector (one AVX-512 register, two AVX2 or four SSE registers; the variant
 * is picked at run time), with 16 partial sums per component added in a
 * fixed tree at the end. (|d|^2 + eps^2)^(3/2) is computed as r2 * sqrt(r2)
 * and divided into m_j: IEEE square root and division, no approximation,
 * no FMA contraction (ISO C mode). The order of every operation is the
 * same on every ISA and backend, so all CPU backends give bit-identical
 * positions and velocities.
 *
 * OpenCL: a work-item per body; a work-group copies a tile of bodies into
 * local memory, and every work-item runs over the tile 16 bodies at a time
 * as float16, in the CPU's order and with the same tree. The device may
 * round sqrt and division differently (OpenCL allows 3 and 2.5 ulp), so the
 * result is checked within a tolerance: every coordinate of every position
 * within 1e-4 x max(1, |reference|), and every velocity's change from the
 * initial state within 1e-3 x the reference's largest change (plus 1e-7 x
 * max(1, |v|) for the rounding of v). Positions move little in a few steps;
 * the velocity changes are the accelerations, so a wrong force shows there.
 * (On PoCL's CPU device the results have been bit-identical to serial.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_job.h"
#include "internal.h"
#include "simd.h"

#if PT__X86
#include <immintrin.h>
#endif

#define EPS2     0.01f  /* softening length squared */
#define DT       0.001f /* time step */
#define LANES    16     /* bodies per vector step */
#define MAX_BODY (1u << 24)

typedef struct state {
    float *x, *y, *z, *m; /* job memory, npad each; bodies n.. have m = 0 */
    float *vx, *vy, *vz;  /* job memory, npad each */
    float *init;          /* job memory: the initial x, y, z, vx, vy, vz (6 npad) */
    size_t n, npad;       /* bodies; n rounded up to LANES */
    unsigned steps;
    bool on_device; /* the last run was OpenCL's */
} state;

/* --- the force loop ---------------------------------------------------------- */

typedef float v4f __attribute__((vector_size(16)));

/* The 16 lanes added in a fixed tree (the kernel's float16 .lo/.hi order). */
static inline float hsum16(const float v[16])
{
    float s8[8], s4[4];
    for (int k = 0; k < 8; k++)
        s8[k] = v[k] + v[k + 8];
    for (int k = 0; k < 4; k++)
        s4[k] = s8[k] + s8[k + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

/* Velocities of bodies [begin, end) from all npad bodies. The 16 lanes are
 * 16 / W vectors V of the ISA's width (GCC vectors wider than the ISA's
 * registers end up in memory); SQRT is the ISA's exact square root of a V. */
#define ACCEL_BODY(V, SQRT)                                                                        \
    enum { W = (int)(sizeof(V) / sizeof(float)), NV = LANES / W };                                 \
    const V eps2 = (V){0} + EPS2;                                                                  \
    for (size_t i = begin; i < end; i++) {                                                         \
        const V xi = (V){0} + x[i], yi = (V){0} + y[i], zi = (V){0} + z[i];                        \
        V ax[NV], ay[NV], az[NV];                                                                  \
        for (int p = 0; p < NV; p++)                                                               \
            ax[p] = ay[p] = az[p] = (V){0};                                                        \
        for (size_t j = 0; j < npad; j += LANES) {                                                 \
            _Pragma("GCC unroll 4") for (int p = 0; p < NV; p++)                                   \
            {                                                                                      \
                V xj, yj, zj, mj;                                                                  \
                memcpy(&xj, x + j + p * W, sizeof(V));                                             \
                memcpy(&yj, y + j + p * W, sizeof(V));                                             \
                memcpy(&zj, z + j + p * W, sizeof(V));                                             \
                memcpy(&mj, m + j + p * W, sizeof(V));                                             \
                V dx = xj - xi, dy = yj - yi, dz = zj - zi;                                        \
                V r2 = dx * dx + dy * dy + dz * dz + eps2;                                         \
                V s = mj / (r2 * SQRT(r2));                                                        \
                ax[p] += dx * s;                                                                   \
                ay[p] += dy * s;                                                                   \
                az[p] += dz * s;                                                                   \
            }                                                                                      \
        }                                                                                          \
        float lx[LANES], ly[LANES], lz[LANES];                                                     \
        memcpy(lx, ax, sizeof(lx));                                                                \
        memcpy(ly, ay, sizeof(ly));                                                                \
        memcpy(lz, az, sizeof(lz));                                                                \
        vx[i] = vx[i] + hsum16(lx) * DT;                                                           \
        vy[i] = vy[i] + hsum16(ly) * DT;                                                           \
        vz[i] = vz[i] + hsum16(lz) * DT;                                                           \
    }

#define ACCEL_ARGS                                                                                 \
    const float *restrict x, const float *restrict y, const float *restrict z,                     \
        const float *restrict m, float *restrict vx, float *restrict vy, float *restrict vz,       \
        size_t npad, size_t begin, size_t end

#if PT__X86
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

static inline v4f sqrt_base(v4f v)
{
    return (v4f)_mm_sqrt_ps((__m128)v);
}

PT__TARGET_AVX2 static inline v8f sqrt_avx2(v8f v)
{
    return (v8f)_mm256_sqrt_ps((__m256)v);
}

PT__TARGET_AVX512 static inline v16f sqrt_avx512(v16f v)
{
    return (v16f)_mm512_sqrt_ps((__m512)v);
}

PT__TARGET_AVX2 static void accel_avx2(ACCEL_ARGS){ACCEL_BODY(v8f, sqrt_avx2)}

PT__TARGET_AVX512 static void accel_avx512(ACCEL_ARGS)
{
    ACCEL_BODY(v16f, sqrt_avx512)
}
#else
static inline v4f sqrt_base(v4f v)
{
    for (int k = 0; k < 4; k++)
        v[k] = sqrtf(v[k]);
    return v;
}
#endif /* PT__X86 */

static void accel_base(ACCEL_ARGS)
{
    ACCEL_BODY(v4f, sqrt_base)
}

/* --- the job ------------------------------------------------------------- */

static const pt_param params[] = {
    {.name = "n",
     .type = PT_TYPE_U64,
     .def = "4096",
     .help = "number of bodies",
     .min = 1,
     .max = MAX_BODY,
     .metavar = "N"},
    {.name = "steps",
     .type = PT_TYPE_U64,
     .def = "10",
     .help = "time steps per run",
     .min = 1,
     .max = 1000000,
     .metavar = "S"},
    {.name = "seed",
     .type = PT_TYPE_U64,
     .def = "1",
     .help = "seed of the initial state",
     .metavar = "SEED"},
};

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Uniform in [-1, 1). */
static float uniform(uint64_t *s)
{
    return (float)((double)(splitmix64(s) >> 11) * 0x1p-52 - 1.0);
}

static int nbody_reset(pt_job *job)
{
    state *s = pt_job_state(job);
    float *dst[] = {s->x, s->y, s->z, s->vx, s->vy, s->vz};
    for (size_t k = 0; k < 6; k++)
        memcpy(dst[k], s->init + k * s->npad, s->npad * sizeof(float));
    s->on_device = false;
    return 0;
}

static int nbody_setup(pt_job *job, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    s->n = (size_t)pt_job_u64(job, "n");
    s->steps = (unsigned)pt_job_u64(job, "steps");
    s->npad = (s->n + LANES - 1) / LANES * LANES;
    char what[64];
    snprintf(what, sizeof(what), "--n %zu (13 arrays of floats)", s->n);
    float *block =
        pt__job_alloc_sized(job, pt__size_mul(s->npad, 13 * sizeof(float)), what, err, errlen);
    if (!block)
        return PT_ENOMEM;
    float **arrays[] = {&s->x, &s->y, &s->z, &s->m, &s->vx, &s->vy, &s->vz};
    for (size_t k = 0; k < 7; k++)
        *arrays[k] = block + k * s->npad;
    s->init = block + 7 * s->npad;
    uint64_t rng = pt_job_u64(job, "seed");
    float *ix = s->init, *iy = ix + s->npad, *iz = iy + s->npad;
    float *ivx = iz + s->npad, *ivy = ivx + s->npad, *ivz = ivy + s->npad;
    for (size_t i = 0; i < s->n; i++) {
        ix[i] = uniform(&rng);
        iy[i] = uniform(&rng);
        iz[i] = uniform(&rng);
        ivx[i] = 0.1f * uniform(&rng);
        ivy[i] = 0.1f * uniform(&rng);
        ivz[i] = 0.1f * uniform(&rng);
        s->m[i] = 1.0f / (float)s->n;
    }
    /* padding bodies: at the origin, no mass, no velocity (zeroed memory) */
    nbody_reset(job); /* a new job shows its initial state */
    int rc = pt_job_set_phase(job, 0, s->n, 8, 0);
    if (!rc)
        rc = pt_job_set_phase(job, 1, s->n, 4096, 0);
    if (!rc)
        rc = pt_job_set_repeat(job, s->steps);
    return rc;
}

static void nbody_range(pt_job *job, unsigned phase, size_t begin, size_t end, void *partial)
{
    (void)partial;
    state *s = pt_job_state(job);
    if (phase == 0) {
        pt__isa_level isa = pt__isa();
#if PT__X86
        if (isa == PT__ISA_AVX512)
            accel_avx512(s->x, s->y, s->z, s->m, s->vx, s->vy, s->vz, s->npad, begin, end);
        else if (isa == PT__ISA_AVX2)
            accel_avx2(s->x, s->y, s->z, s->m, s->vx, s->vy, s->vz, s->npad, begin, end);
        else
#endif
            accel_base(s->x, s->y, s->z, s->m, s->vx, s->vy, s->vz, s->npad, begin, end);
        (void)isa;
        return;
    }
    for (size_t i = begin; i < end; i++) {
        s->x[i] = s->x[i] + s->vx[i] * DT;
        s->y[i] = s->y[i] + s->vy[i] * DT;
        s->z[i] = s->z[i] + s->vz[i] * DT;
    }
}

/* The OpenCL tolerances (see the top comment). */
#define TOL_POS 1e-4 /* positions, relative to max(1, |reference|) */
#define TOL_DV  1e-3 /* velocity changes, relative to the largest one */
#define TOL_V   1e-7 /* plus the rounding of v itself, relative to max(1, |v|) */

static int nbody_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    const state *a = pt_job_state(job), *r = pt_job_state(ref);
    if (a->n != r->n || a->steps != r->steps)
        return pt__errf(err, errlen, PT_EVERIFY,
                        "nbody: %zu bodies and %u steps, reference has %zu and %u", a->n, a->steps,
                        r->n, r->steps);
    const float *pa[] = {a->x, a->y, a->z, a->vx, a->vy, a->vz};
    const float *pr[] = {r->x, r->y, r->z, r->vx, r->vy, r->vz};
    static const char *const names[] = {"x", "y", "z", "vx", "vy", "vz"};
    if (!a->on_device && !r->on_device) {
        for (size_t k = 0; k < 6; k++)
            for (size_t i = 0; i < a->n; i++)
                if (memcmp(&pa[k][i], &pr[k][i], sizeof(float)) != 0)
                    return pt__errf(err, errlen, PT_EVERIFY,
                                    "nbody: body %zu: %s = %.9g, reference has %.9g", i, names[k],
                                    (double)pa[k][i], (double)pr[k][i]);
        return 0;
    }
    /* The largest velocity change of the reference, from the initial state. */
    double dvmax = 0;
    for (size_t k = 3; k < 6; k++)
        for (size_t i = 0; i < r->n; i++)
            dvmax = fmax(dvmax, fabs((double)pr[k][i] - r->init[k * r->npad + i]));
    for (size_t k = 0; k < 6; k++) {
        for (size_t i = 0; i < a->n; i++) {
            double got = pa[k][i], want = pr[k][i];
            double lim = k < 3 ? TOL_POS * fmax(1.0, fabs(want))
                               : TOL_DV * dvmax + TOL_V * fmax(1.0, fabs(want));
            if (!(fabs(got - want) <= lim))
                return pt__errf(err, errlen, PT_EVERIFY,
                                "nbody: body %zu: %s = %.9g, reference has %.9g (%.3g apart, more "
                                "than the tolerance %.3g)",
                                i, names[k], got, want, fabs(got - want), lim);
        }
    }
    return 0;
}

static double nbody_cost(const pt_job *job)
{
    const state *s = pt_job_state(job);
    return (double)s->n * (double)s->n * s->steps * 0.5e-9;
}

static double nbody_throughput(const pt_job *job, double seconds, const char **unit)
{
    const state *s = pt_job_state(job);
    *unit = "interactions/s";
    return (double)s->n * (double)s->n * s->steps / seconds;
}

/* Centre of mass and kinetic energy, a summary of the state. */
static void summary(const state *s, double com[3], double *kinetic)
{
    double cx = 0, cy = 0, cz = 0, k = 0, mt = 0;
    for (size_t i = 0; i < s->n; i++) {
        double m = s->m[i];
        cx += m * s->x[i];
        cy += m * s->y[i];
        cz += m * s->z[i];
        k += 0.5 * m *
             ((double)s->vx[i] * s->vx[i] + (double)s->vy[i] * s->vy[i] +
              (double)s->vz[i] * s->vz[i]);
        mt += m;
    }
    com[0] = cx / mt, com[1] = cy / mt, com[2] = cz / mt;
    *kinetic = k;
}

static int nbody_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    const state *s = pt_job_state(job);
    char line[192];
    double com[3], kin;
    summary(s, com, &kin);
    int len = snprintf(line, sizeof(line),
                       "nbody: %zu bodies, %u steps of dt = %g, eps^2 = %g: centre of mass "
                       "(%.6f, %.6f, %.6f), kinetic energy %.6g\n",
                       s->n, s->steps, (double)DT, (double)EPS2, com[0], com[1], com[2], kin);
    if (write(ctx, line, (size_t)len))
        return PT_EIO;
    if (flags & PT_OUT_QUIET)
        return 0;
    for (size_t i = 0; i < s->n; i++) {
        len = snprintf(line, sizeof(line), "%zu %.9g %.9g %.9g %.9g %.9g %.9g\n", i,
                       (double)s->x[i], (double)s->y[i], (double)s->z[i], (double)s->vx[i],
                       (double)s->vy[i], (double)s->vz[i]);
        if (write(ctx, line, (size_t)len))
            return PT_EIO;
    }
    return 0;
}

static int nbody_json(const pt_job *job, pt_json *j)
{
    const state *s = pt_job_state(job);
    double com[3], kin;
    summary(s, com, &kin);
    pt_json_key(j, "n");
    pt_json_uint(j, s->n);
    pt_json_key(j, "steps");
    pt_json_uint(j, s->steps);
    pt_json_key(j, "dt");
    pt_json_double(j, DT);
    pt_json_key(j, "eps2");
    pt_json_double(j, EPS2);
    pt_json_key(j, "center_of_mass");
    pt_json_array_begin(j);
    for (int k = 0; k < 3; k++)
        pt_json_double(j, com[k]);
    pt_json_array_end(j);
    pt_json_key(j, "kinetic_energy");
    pt_json_double(j, kin);
    pt_json_key(j, "bodies");
    pt_json_array_begin(j);
    for (size_t i = 0; i < s->n; i++) {
        pt_json_array_begin(j);
        const float v[6] = {s->x[i], s->y[i], s->z[i], s->vx[i], s->vy[i], s->vz[i]};
        for (int k = 0; k < 6; k++)
            pt_json_double(j, v[k]);
        pt_json_array_end(j);
    }
    pt_json_array_end(j);
    return pt_json_error(j);
}

/* Read-only view for tests: x, y, z, vx, vy, vz, m into out (npad each). */
void pt__nbody_view(const pt_job *job, const float *out[7], size_t *n, size_t *npad);
void pt__nbody_view(const pt_job *job, const float *out[7], size_t *n, size_t *npad)
{
    const state *s = pt_job_state(job);
    out[0] = s->x, out[1] = s->y, out[2] = s->z;
    out[3] = s->vx, out[4] = s->vy, out[5] = s->vz, out[6] = s->m;
    *n = s->n;
    *npad = s->npad;
}

#ifdef PT_HAVE_OPENCL
#define GROUP 64   /* work-items per group (a multiple of LANES) */
#define TILE  1024 /* bodies per tile in local memory (a multiple of GROUP) */

/* A device allocation that fails names the parameter that sized it. */
static int devmem_names(int ret, const char *job, const char *param, uint64_t value, char *err,
                        size_t errlen)
{
    if (ret != PT_EDEVMEM || !err || !errlen)
        return ret;
    char tmp[PT_ERRBUF_SIZE];
    pt__strlcpy(tmp, err, sizeof(tmp));
    size_t jl = strlen(job);
    const char *rest = strncmp(tmp, job, jl) == 0 && tmp[jl] == ':' ? tmp + jl + 2 : tmp;
    return pt__errf(err, errlen, ret, "%s: %s %llu: %s", job, param, (unsigned long long)value,
                    rest);
}

static int nbody_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    cl_kernel ka = NULL, km = NULL;
    cl_mem buf[7] = {NULL};
    int ret;
    cl_int rc;
    size_t local = GROUP;
    while (local > cl->info->max_work_group && local > LANES)
        local /= 2;
    if (local > cl->info->max_work_group)
        return pt__errf(err, errlen, PT_ENOSYS,
                        "nbody: the OpenCL device allows work-groups of %zu, fewer than %d",
                        cl->info->max_work_group, LANES);
    /* A tile: TILE bodies, or fewer for few bodies, a multiple of local. */
    size_t tile = pt__round_up(s->n, local) < TILE ? pt__round_up(s->n, local) : TILE;
    tile = tile / local * local;
    size_t ncl = pt__round_up(s->n, tile); /* bodies n..ncl have no mass */
    size_t global = pt__round_up(s->n, local);
    /* CPU devices: the flat kernel (no local-memory tiles: 1.1-1.2x faster
     * on PoCL); GPUs: tiles through local memory. */
    bool flat = pt__cl_cpu_path(cl);
    if ((ret = pt__cl_kernel(cl, flat ? "nbody_accel_flat" : "nbody_accel", &ka, err, errlen)) !=
            0 ||
        (ret = pt__cl_kernel(cl, "nbody_move", &km, err, errlen)) != 0)
        goto out;
    float *host[7] = {s->x, s->y, s->z, s->m, s->vx, s->vy, s->vz};
    for (int k = 0; k < 7; k++) {
        if ((ret = pt__cl_buffer(cl, CL_MEM_READ_WRITE, ncl * sizeof(float), NULL, &buf[k], err,
                                 errlen)) != 0) {
            ret = devmem_names(ret, "nbody", "--n", s->n, err, errlen);
            goto out;
        }
        cl_float zero = 0;
        rc = clEnqueueFillBuffer(cl->queue, buf[k], &zero, sizeof(zero), 0, ncl * sizeof(float), 0,
                                 NULL, NULL);
        rc |= clEnqueueWriteBuffer(cl->queue, buf[k], CL_FALSE, 0, s->n * sizeof(float), host[k], 0,
                                   NULL, NULL);
        if (rc != CL_SUCCESS) {
            ret = pt__cl_fail(cl, rc, "clEnqueueWriteBuffer", err, errlen);
            goto out;
        }
    }
    cl_uint n = (cl_uint)s->n, npad = (cl_uint)ncl;
    cl_float dt = DT, eps2 = EPS2;
    rc = 0;
    for (cl_uint k = 0; k < 7; k++)
        rc |= clSetKernelArg(ka, k, sizeof(cl_mem), &buf[k]);
    rc |= clSetKernelArg(ka, 7, sizeof(n), &n);
    rc |= clSetKernelArg(ka, 8, sizeof(npad), &npad);
    rc |= clSetKernelArg(ka, 9, sizeof(dt), &dt);
    rc |= clSetKernelArg(ka, 10, sizeof(eps2), &eps2);
    cl_uint tile_size = (cl_uint)tile;
    if (!flat) {
        rc |= clSetKernelArg(ka, 11, sizeof(tile_size), &tile_size);
        for (cl_uint k = 0; k < 4; k++)
            rc |= clSetKernelArg(ka, 12 + k, tile * sizeof(cl_float), NULL);
    }
    static const int move_args[] = {0, 1, 2, 4, 5, 6}; /* x y z vx vy vz */
    for (cl_uint k = 0; k < 6; k++)
        rc |= clSetKernelArg(km, k, sizeof(cl_mem), &buf[move_args[k]]);
    rc |= clSetKernelArg(km, 6, sizeof(n), &n);
    rc |= clSetKernelArg(km, 7, sizeof(dt), &dt);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
        goto out;
    }
    pt_job_progress_total(job, s->steps);
    for (unsigned step = 0; step < s->steps; step++) {
        for (unsigned p = 0; p < 2; p++) {
            double t0 = pt__now();
            rc = clEnqueueNDRangeKernel(cl->queue, p == 0 ? ka : km, 1, NULL, &global, &local, 0,
                                        NULL, NULL);
            if (rc == CL_SUCCESS)
                rc = clFinish(cl->queue);
            if (rc != CL_SUCCESS) {
                ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel", err, errlen);
                goto out;
            }
            pt_job_record_phase(job, p, pt__now() - t0);
        }
        pt_job_progress_add(job, 1);
    }
    rc = 0;
    for (int k = 0; k < 7; k++)
        if (k != 3)
            rc |= clEnqueueReadBuffer(cl->queue, buf[k], CL_FALSE, 0, s->n * sizeof(float), host[k],
                                      0, NULL, NULL);
    if (rc == CL_SUCCESS)
        rc = clFinish(cl->queue);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueReadBuffer", err, errlen);
        goto out;
    }
    s->on_device = true;
    ret = 0;
out:
    for (int k = 0; k < 7; k++)
        if (buf[k])
            clReleaseMemObject(buf[k]);
    if (km)
        clReleaseKernel(km);
    if (ka)
        clReleaseKernel(ka);
    return ret;
}
#endif /* PT_HAVE_OPENCL */

const pt_job_desc pt__job_nbody = {
    .name = "nbody",
    .summary = "all-pairs gravity for N bodies (float, softened), in interactions/s",
    .params = params,
    .nparams = sizeof(params) / sizeof(params[0]),
    .kernel = "nbody",
    .state_size = sizeof(state),
    .setup = nbody_setup,
    .reset = nbody_reset,
    .range = nbody_range,
#ifdef PT_HAVE_OPENCL
    .cl_run = nbody_cl,
#endif
    .verify = nbody_verify,
    .cost = nbody_cost,
    .throughput = nbody_throughput,
    .write_text = nbody_text,
    .write_json = nbody_json,
};

/* jobs/matmul.c - single-precision matrix product C = A x B (row-major,
 * A m x k, B k x n, C m x n), blocked for cache and registers.
 *
 * DESIGN (the CPU path follows Goto and van de Geijn, "Anatomy of
 * high-performance matrix multiplication", 2008, as BLIS lays it out)
 *
 * Phase 0 packs both operands into contiguous micro-panels:
 *   A: ceil(m/MR) panels of MR rows; panel i holds A[i*MR + r][p] at
 *      ap[i][p][r] (k steps of MR floats), rows past m are zero;
 *   B: ceil(n/NR) panels of NR columns; panel j holds B[p][j*NR + q] at
 *      bp[j][p][q] (k steps of NR floats), columns past n are zero.
 * The items of phase 0 are the panels (A's first, then B's), so packing runs
 * on every thread. Packing once per run costs about 3% at N = 2048, and the
 * copies take as much memory as A and B (more for very thin matrices: a
 * width below NR is padded to NR), which setup counts before it allocates.
 *
 * Phase 1 computes C in tiles of MC x NC (the items). For each depth block
 * of KC (pc), a tile runs the micro-kernel over its MR x NR micro-tiles,
 * micro-panel of A outermost: the A micro-panel (MR x KC floats, 12 KiB for
 * AVX-512) stays in L1 while the loop streams the tile's B micro-panels
 * (KC x NC floats, 512 KiB) from L2. The first depth block stores into C,
 * later ones add to it.
 *
 * The micro-kernel holds an MR x NR block of C in registers: per k step it
 * loads NR floats of B (two vectors), broadcasts each of the MR values of A
 * and does 2 MR fused multiply-adds. Variants, chosen at run time
 * (pt__isa(), fixed when the job is set up):
 *   avx512  12 x 32: 24 zmm accumulators (x86-64-v4)
 *   avx2     6 x 16: 12 ymm accumulators (x86-64-v3)
 *   baseline 4 x  8: 8 accumulators of 4 floats (GCC vector extensions,
 *            SSE2 on x86-64, whatever the target has elsewhere; no FMA)
 * Edges (m, n not multiples of MR, NR) come out of the zero padding: the
 * kernel computes a full micro-tile into a scratch block and only the valid
 * part is added to C.
 *
 * Determinism. Every C element is summed by one chunk, in the same k order
 * (within a depth block in registers, blocks added to C in order), whatever
 * the backend or thread count, so all CPU backends give bit-identical
 * results; verify() demands that. The OpenCL kernels (kernels/matmul.cl:
 * "tiled" for GPUs, "wide" for CPU devices, "simple" for small devices) sum
 * in another order: their result is compared within the standard error
 * bound (see verify).
 */
#include <assert.h>
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

#define MAX_MR 12
#define MAX_NR 32

/* Register and cache blocking of one ISA's micro-kernel. */
typedef struct blocking {
    unsigned mr, nr; /* micro-tile, floats */
    unsigned kc;     /* depth block */
    unsigned mc, nc; /* phase 1 tile (multiples of mr, nr) */
} blocking;

typedef struct state {
    size_t m, n, k;
    uint64_t seed;
    float *a, *b, *c;   /* job memory: row-major inputs and result */
    float *ap, *bp;     /* job memory: packed micro-panels (phase 0) */
    size_t pa, pb;      /* number of A and B micro-panels */
    size_t mt, nt;      /* tiles of C down and across */
    int isa;            /* pt__isa_level the job was set up for */
    blocking blk;       /* that ISA's blocking */
    bool on_device;     /* the last run was on OpenCL */
    char kernel_cl[32]; /* the OpenCL kernel that produced it */
} state;

/* --- input ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* count floats in [-1, 1), each exactly (u - 2^23) / 2^23 for a 24-bit u. */
static void fill(float *v, size_t count, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i < count; i++)
        v[i] = (float)((int32_t)(splitmix64(&x) >> 40) - (1 << 23)) * 0x1p-23f;
}

/* --- micro-kernels ----------------------------------------------------------
 * kern(kc, a, b, c, ldc, add): c[i][j] (i < MR, j < NR, row stride ldc) =
 * (add ? c[i][j] : 0) + sum over p < kc of a[p][i] * b[p][j], where a is an
 * A micro-panel (MR floats per step) and b a B micro-panel (NR per step,
 * 64-byte aligned). */
typedef void (*kern_fn)(size_t kc, const float *a, const float *b, float *c, size_t ldc, bool add);

typedef float v4f __attribute__((vector_size(16)));

#define BASE_MR 4
static void kern_base(size_t kc, const float *restrict a, const float *restrict b,
                      float *restrict c, size_t ldc, bool add)
{
    v4f acc[BASE_MR][2];
#pragma GCC unroll 8
    for (int i = 0; i < BASE_MR; i++)
        acc[i][0] = acc[i][1] = (v4f){0, 0, 0, 0};
    for (size_t p = 0; p < kc; p++) {
        v4f b0, b1;
        memcpy(&b0, b + 8 * p, sizeof(b0));
        memcpy(&b1, b + 8 * p + 4, sizeof(b1));
#pragma GCC unroll 8
        for (int i = 0; i < BASE_MR; i++) {
            float x = a[BASE_MR * p + (size_t)i];
            v4f ai = {x, x, x, x};
            acc[i][0] += ai * b0;
            acc[i][1] += ai * b1;
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < BASE_MR; i++) {
        float *ci = c + (size_t)i * ldc;
        if (add) {
            v4f c0, c1;
            memcpy(&c0, ci, sizeof(c0));
            memcpy(&c1, ci + 4, sizeof(c1));
            acc[i][0] = c0 + acc[i][0];
            acc[i][1] = c1 + acc[i][1];
        }
        memcpy(ci, &acc[i][0], sizeof(acc[i][0]));
        memcpy(ci + 4, &acc[i][1], sizeof(acc[i][1]));
    }
}

#if PT__X86
#define AVX2_MR 6
PT__TARGET_AVX2 static void kern_avx2(size_t kc, const float *restrict a, const float *restrict b,
                                      float *restrict c, size_t ldc, bool add)
{
    __m256 acc0[AVX2_MR], acc1[AVX2_MR];
#pragma GCC unroll 8
    for (int i = 0; i < AVX2_MR; i++)
        acc0[i] = acc1[i] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b + 16 * p), b1 = _mm256_load_ps(b + 16 * p + 8);
#pragma GCC unroll 8
        for (int i = 0; i < AVX2_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(a + AVX2_MR * p + i);
            acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < AVX2_MR; i++) {
        float *ci = c + (size_t)i * ldc;
        if (add) {
            acc0[i] = _mm256_add_ps(_mm256_loadu_ps(ci), acc0[i]);
            acc1[i] = _mm256_add_ps(_mm256_loadu_ps(ci + 8), acc1[i]);
        }
        _mm256_storeu_ps(ci, acc0[i]);
        _mm256_storeu_ps(ci + 8, acc1[i]);
    }
}

#define AVX512_MR 12
PT__TARGET_AVX512 static void kern_avx512(size_t kc, const float *restrict a,
                                          const float *restrict b, float *restrict c, size_t ldc,
                                          bool add)
{
    __m512 acc0[AVX512_MR], acc1[AVX512_MR];
#pragma GCC unroll 16
    for (int i = 0; i < AVX512_MR; i++) {
        acc0[i] = acc1[i] = _mm512_setzero_ps();
        /* C is read (or written) only at the end: start fetching it now */
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + 31), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b + 32 * p), b1 = _mm512_load_ps(b + 32 * p + 16);
#pragma GCC unroll 16
        for (int i = 0; i < AVX512_MR; i++) {
            __m512 ai = _mm512_set1_ps(a[AVX512_MR * p + (size_t)i]);
            acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < AVX512_MR; i++) {
        float *ci = c + (size_t)i * ldc;
        if (add) {
            acc0[i] = _mm512_add_ps(_mm512_loadu_ps(ci), acc0[i]);
            acc1[i] = _mm512_add_ps(_mm512_loadu_ps(ci + 16), acc1[i]);
        }
        _mm512_storeu_ps(ci, acc0[i]);
        _mm512_storeu_ps(ci + 16, acc1[i]);
    }
}
#endif /* PT__X86 */

static blocking blocking_for(int isa)
{
#if PT__X86
    if (isa == PT__ISA_AVX512)
        return (blocking){.mr = AVX512_MR, .nr = 32, .kc = 256, .mc = 96, .nc = 512};
    if (isa == PT__ISA_AVX2)
        return (blocking){.mr = AVX2_MR, .nr = 16, .kc = 256, .mc = 96, .nc = 256};
#endif
    (void)isa;
    return (blocking){.mr = BASE_MR, .nr = 8, .kc = 256, .mc = 64, .nc = 256};
}

static kern_fn kernel_for(int isa)
{
#if PT__X86
    if (isa == PT__ISA_AVX512)
        return kern_avx512;
    if (isa == PT__ISA_AVX2)
        return kern_avx2;
#endif
    (void)isa;
    return kern_base;
}

/* --- packing (phase 0) ------------------------------------------------------ */

/* A micro-panel i: rows i*mr .. i*mr+mr-1, all k columns, transposed. */
static void pack_a(const state *s, size_t i)
{
    size_t mr = s->blk.mr, k = s->k;
    size_t r0 = i * mr, rows = s->m - r0 < mr ? s->m - r0 : mr;
    float *dst = s->ap + i * mr * k;
    const float *src = s->a + r0 * k;
    if (rows == mr) {
        /* blocks of 16 columns: the mr source lines stay in L1 */
        for (size_t p0 = 0; p0 < k; p0 += 16) {
            size_t p1 = p0 + 16 < k ? p0 + 16 : k;
            for (size_t r = 0; r < mr; r++)
                for (size_t p = p0; p < p1; p++)
                    dst[p * mr + r] = src[r * k + p];
        }
        return;
    }
    for (size_t p = 0; p < k; p++)
        for (size_t r = 0; r < mr; r++)
            dst[p * mr + r] = r < rows ? src[r * k + p] : 0.0f;
}

/* B micro-panel j: columns j*nr .. j*nr+nr-1, all k rows. */
static void pack_b(const state *s, size_t j)
{
    size_t nr = s->blk.nr, k = s->k, n = s->n;
    size_t c0 = j * nr, cols = n - c0 < nr ? n - c0 : nr;
    float *dst = s->bp + j * nr * k;
    const float *src = s->b + c0;
    for (size_t p = 0; p < k; p++) {
        memcpy(dst + p * nr, src + p * n, cols * sizeof(float));
        for (size_t q = cols; q < nr; q++)
            dst[p * nr + q] = 0.0f;
    }
}

/* --- tiles (phase 1) -------------------------------------------------------- */

/* Tile t of C: rows [i0, i1), columns [j0, j1), all depth blocks. */
static void tile(const state *s, kern_fn kern, size_t t)
{
    const blocking *bl = &s->blk;
    size_t mr = bl->mr, nr = bl->nr, k = s->k, n = s->n;
    size_t ti = t / s->nt, tj = t % s->nt;
    size_t i0 = ti * bl->mc, i1 = i0 + bl->mc < s->m ? i0 + bl->mc : s->m;
    size_t j0 = tj * bl->nc, j1 = j0 + bl->nc < n ? j0 + bl->nc : n;
    float tmp[MAX_MR * MAX_NR] __attribute__((aligned(64)));
    for (size_t pc = 0; pc < k; pc += bl->kc) {
        size_t kc = k - pc < bl->kc ? k - pc : bl->kc;
        bool add = pc > 0;
        for (size_t i = i0; i < i1; i += mr) {
            const float *a = s->ap + (i / mr) * mr * k + pc * mr;
            size_t rows = i1 - i < mr ? i1 - i : mr;
            for (size_t j = j0; j < j1; j += nr) {
                const float *b = s->bp + (j / nr) * nr * k + pc * nr;
                size_t cols = j1 - j < nr ? j1 - j : nr;
                float *c = s->c + i * n + j;
                if (rows == mr && cols == nr) {
                    kern(kc, a, b, c, n, add);
                    continue;
                }
                /* an edge micro-tile: compute all of it, keep what is in C,
                 * with the same rounding as the full tiles (c + sum) */
                kern(kc, a, b, tmp, nr, false);
                for (size_t r = 0; r < rows; r++)
                    for (size_t q = 0; q < cols; q++)
                        c[r * n + q] = add ? c[r * n + q] + tmp[r * nr + q] : tmp[r * nr + q];
            }
        }
    }
}

static void matmul_range(pt_job *job, unsigned phase, size_t begin, size_t end, void *partial)
{
    (void)partial;
    const state *s = pt_job_state(job);
    if (phase == 0) {
        for (size_t i = begin; i < end; i++) {
            if (i < s->pa)
                pack_a(s, i);
            else
                pack_b(s, i - s->pa);
        }
        return;
    }
    kern_fn kern = kernel_for(s->isa);
    for (size_t t = begin; t < end; t++)
        tile(s, kern, t);
}

static void matmul_phase_end(pt_job *job, unsigned phase, const void *acc)
{
    (void)acc;
    state *s = pt_job_state(job);
    if (phase == 1)
        s->on_device = false;
}

/* --- setup ------------------------------------------------------------------ */

static const pt_param params[] = {
    {.name = "n",
     .type = PT_TYPE_U64,
     .def = "1024",
     .help = "columns of B and C (and rows/depth too unless --m/--k are given)",
     .min = 1,
     .max = 1e9,
     .metavar = "N"},
    {.name = "m",
     .type = PT_TYPE_U64,
     .help = "rows of A and C (default: --n)",
     .min = 1,
     .max = 1e9,
     .metavar = "M"},
    {.name = "k",
     .type = PT_TYPE_U64,
     .help = "columns of A, rows of B (default: --n)",
     .min = 1,
     .max = 1e9,
     .metavar = "K"},
    {.name = "cl-kernel",
     .type = PT_TYPE_CHOICE,
     .def = "auto",
     .choices = "auto|tiled|wide|simple",
     .help = "OpenCL kernel: auto = wide on CPU devices, tiled elsewhere (see kernels/matmul.cl)",
     .metavar = "K"},
    {.name = "seed",
     .type = PT_TYPE_U64,
     .def = "1",
     .help = "seed of the pseudo-random inputs in [-1, 1)",
     .metavar = "S"},
};

static size_t ceil_div(size_t a, size_t b)
{
    return a / b + (a % b != 0);
}

static int matmul_setup(pt_job *job, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    s->n = (size_t)pt_job_u64(job, "n");
    s->m = pt_job_param_given(job, "m") ? (size_t)pt_job_u64(job, "m") : s->n;
    s->k = pt_job_param_given(job, "k") ? (size_t)pt_job_u64(job, "k") : s->n;
    s->seed = pt_job_u64(job, "seed");
    s->isa = (int)pt__isa();
    s->blk = blocking_for(s->isa);
    size_t m = s->m, n = s->n, k = s->k, mr = s->blk.mr, nr = s->blk.nr;
    /* tile() finds panels by dividing tile offsets by mr and nr */
    assert(s->blk.mc % mr == 0 && s->blk.nc % nr == 0);
    s->pa = ceil_div(m, mr);
    s->pb = ceil_div(n, nr);
    s->mt = ceil_div(m, s->blk.mc);
    s->nt = ceil_div(n, s->blk.nc);

    /* Everything at once first, so that no buffer is committed when the
     * sum does not fit (each alone might). */
    size_t fa = pt__size_mul(m, k), fb = pt__size_mul(k, n), fc = pt__size_mul(m, n);
    size_t fap = pt__size_mul(pt__size_mul(s->pa, mr), k);
    size_t fbp = pt__size_mul(pt__size_mul(s->pb, nr), k);
    size_t total = 0;
    const size_t parts[] = {fa, fb, fc, fap, fbp};
    for (size_t i = 0; i < 5; i++)
        total = total > SIZE_MAX - parts[i] ? SIZE_MAX : total + parts[i];
    total = pt__size_mul(total, sizeof(float));
    uint64_t mem = pt__phys_mem();
    if (total == SIZE_MAX || total > mem)
        return pt__errf(err, errlen, PT_ENOMEM,
                        "matmul: --m %zu --n %zu --k %zu needs %s%.1f GiB (A, B, C and their "
                        "packed copies), more than this machine's %.1f GiB of memory",
                        m, n, k, total == SIZE_MAX ? "more than " : "", (double)total / (1u << 30),
                        (double)mem / (1u << 30));
    s->a = pt__job_alloc_sized(job, pt__size_mul(fa, sizeof(float)), "A (--m x --k)", err, errlen);
    if (!s->a)
        return PT_ENOMEM;
    s->b = pt__job_alloc_sized(job, pt__size_mul(fb, sizeof(float)), "B (--k x --n)", err, errlen);
    if (!s->b)
        return PT_ENOMEM;
    s->c = pt__job_alloc_sized(job, pt__size_mul(fc, sizeof(float)), "C (--m x --n)", err, errlen);
    if (!s->c)
        return PT_ENOMEM;
    s->ap = pt__job_alloc_sized(job, pt__size_mul(fap, sizeof(float)), "packed A", err, errlen);
    if (!s->ap)
        return PT_ENOMEM;
    s->bp = pt__job_alloc_sized(job, pt__size_mul(fbp, sizeof(float)), "packed B", err, errlen);
    if (!s->bp)
        return PT_ENOMEM;
    fill(s->a, fa, s->seed);
    fill(s->b, fb, s->seed ^ 0x5DEECE66Dull);
    /* Fault in what the run writes now, so that a single timed run does not
     * count the kernel's zeroing of fresh pages. */
    memset(s->c, 0, fc * sizeof(float));
    memset(s->ap, 0, fap * sizeof(float));
    memset(s->bp, 0, fbp * sizeof(float));

    /* Phase 0: a chunk packs about 64 KiB or more. Phase 1: one tile
     * (MC x NC x k, 25 MFLOP per 256 of depth at AVX-512 sizes) per chunk
     * at least, so that two threads balance on N = 1024 (16 tiles). */
    size_t panel_bytes = (mr > nr ? mr : nr) * k * sizeof(float);
    size_t grain0 = panel_bytes >= 65536 ? 1 : 65536 / panel_bytes;
    int rc = pt_job_set_phase(job, 0, s->pa + s->pb, grain0, 0);
    if (!rc)
        rc = pt_job_set_phase(job, 1, pt__size_mul(s->mt, s->nt), 1, 0);
    return rc;
}

/* Exposed for the tests: the job's matrices (borrowed, valid as long as the
 * job), sizes, and whether the last run was on the device; for a job that
 * is not a matmul job, PT_EINVAL. */
int pt__matmul_data(pt_job *job, float **a, float **b, float **c, size_t *m, size_t *n, size_t *k,
                    bool *on_device);

int pt__matmul_data(pt_job *job, float **a, float **b, float **c, size_t *m, size_t *n, size_t *k,
                    bool *on_device)
{
    if (!job || strcmp(pt_job_desc_of(job)->name, "matmul") != 0)
        return PT_EINVAL;
    state *s = pt_job_state(job);
    *a = s->a, *b = s->b, *c = s->c;
    *m = s->m, *n = s->n, *k = s->k;
    *on_device = s->on_device;
    return 0;
}

/* --- verify, output ----------------------------------------------------------- */

/* sqrt(sum of squares) of row i of A (stride 1) or column j of B (stride n). */
static double norm2(const float *v, size_t count, size_t stride)
{
    double sum = 0;
    for (size_t p = 0; p < count; p++)
        sum += (double)v[p * stride] * (double)v[p * stride];
    return sqrt(sum);
}

/* The CPU backends must agree bit for bit (see DESIGN). A device result may
 * sum in any order, with or without fused multiply-adds: both it and the
 * reference are within gamma_k sum_p |a_ip b_pj| (gamma_k = k u / (1 - k u),
 * u = 2^-24) of the exact product, so they differ by at most about
 * 2 k u sum |a b| = k 2^-23 sum |a b|; the check allows k 2^-22 times the
 * Cauchy-Schwarz bound ||a_i|| ||b_j|| >= sum |a b|. */
static int matmul_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    const state *x = pt_job_state(job), *y = pt_job_state(ref);
    if (x->m != y->m || x->n != y->n || x->k != y->k)
        return pt__errf(err, errlen, PT_EVERIFY,
                        "matmul: result is %zu x %zu (k %zu), reference %zu x %zu (k %zu)", x->m,
                        x->n, x->k, y->m, y->n, y->k);
    size_t m = x->m, n = x->n, k = x->k;
    if (!x->on_device && !y->on_device) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                float u = x->c[i * n + j], v = y->c[i * n + j];
                if (memcmp(&u, &v, sizeof(u)) != 0)
                    return pt__errf(err, errlen, PT_EVERIFY,
                                    "matmul: C[%zu][%zu] = %.9g, serial gives %.9g (CPU backends "
                                    "must agree exactly)",
                                    i, j, (double)u, (double)v);
            }
        return 0;
    }
    double *cn = malloc(n * sizeof(double));
    if (!cn)
        return pt__errf(err, errlen, PT_ENOMEM, "matmul: verify: out of memory");
    for (size_t j = 0; j < n; j++)
        cn[j] = norm2(x->b + j, k, n);
    double tol = (double)k * 0x1p-22;
    int rc = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        double rn = norm2(x->a + i * k, k, 1);
        for (size_t j = 0; j < n; j++) {
            double u = x->c[i * n + j], v = y->c[i * n + j];
            double bound = tol * rn * cn[j];
            if (!(fabs(u - v) <= bound)) {
                rc = pt__errf(err, errlen, PT_EVERIFY,
                              "matmul: C[%zu][%zu] = %.9g, serial gives %.9g: differs by %.3g, "
                              "more than the bound %.3g (k 2^-22 ||a_i|| ||b_j||)",
                              i, j, u, v, fabs(u - v), bound);
                break;
            }
        }
    }
    free(cn);
    return rc;
}

static double flops(const state *s)
{
    return 2.0 * (double)s->m * (double)s->n * (double)s->k;
}

static double matmul_cost(const pt_job *job)
{
    return flops(pt_job_state(job)) / 100e9; /* ~100 GFLOP/s on one core */
}

static double matmul_throughput(const pt_job *job, double seconds, const char **unit)
{
    *unit = "GFLOP/s";
    return seconds > 0 ? flops(pt_job_state(job)) / seconds * 1e-9 : 0.0;
}

static double checksum(const state *s)
{
    double sum = 0;
    size_t count = s->m * s->n;
    for (size_t i = 0; i < count; i++)
        sum += s->c[i];
    return sum;
}

/* Seconds of the last run, from the phases it recorded. */
static double run_seconds(const pt_job *job)
{
    return pt_job_phase_seconds(job, 0) + pt_job_phase_seconds(job, 1);
}

static const char *kernel_name(const state *s)
{
    if (s->on_device)
        return s->kernel_cl;
    return s->isa == PT__ISA_AVX512 ? "avx512 12x32"
           : s->isa == PT__ISA_AVX2 ? "avx2 6x16"
                                    : "baseline 4x8";
}

static int matmul_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    (void)flags;
    const state *s = pt_job_state(job);
    char line[256];
    const char *unit;
    double secs = run_seconds(job);
    double gf = matmul_throughput(job, secs, &unit);
    int len =
        snprintf(line, sizeof(line),
                 "matmul: C = A x B, m %zu, n %zu, k %zu (seed %llu): %.2f GFLOP/s (%s), "
                 "checksum %.9g\n",
                 s->m, s->n, s->k, (unsigned long long)s->seed, gf, kernel_name(s), checksum(s));
    if (len < 0 || (size_t)len >= sizeof(line))
        return PT_EIO;
    return write(ctx, line, (size_t)len) ? PT_EIO : 0;
}

static int matmul_json(const pt_job *job, pt_json *j)
{
    const state *s = pt_job_state(job);
    const char *unit;
    double secs = run_seconds(job);
    pt_json_key(j, "m");
    pt_json_uint(j, s->m);
    pt_json_key(j, "n");
    pt_json_uint(j, s->n);
    pt_json_key(j, "k");
    pt_json_uint(j, s->k);
    pt_json_key(j, "seed");
    pt_json_uint(j, s->seed);
    pt_json_key(j, "flop");
    pt_json_double(j, flops(s));
    pt_json_key(j, "seconds");
    pt_json_double(j, secs);
    pt_json_key(j, "gflops");
    pt_json_double(j, matmul_throughput(job, secs, &unit));
    pt_json_key(j, "kernel");
    pt_json_str(j, kernel_name(s));
    pt_json_key(j, "checksum");
    pt_json_double(j, checksum(s));
    return pt_json_error(j);
}

/* --- OpenCL ------------------------------------------------------------------- */

#ifdef PT_HAVE_OPENCL
/* The kernels of kernels/matmul.cl and what they need (keep in step). */
typedef struct cl_variant {
    const char *name;   /* --cl-kernel value and kernel name "matmul_<name>" */
    unsigned tsm, tsn;  /* tile of C per work-group; 0 = one element per item */
    size_t local_bytes; /* __local memory per work-group */
} cl_variant;

static const cl_variant cl_variants[] = {
    {"tiled", 64, 64, (16 * 65 + 16 * 65) * sizeof(float)},
    {"wide", 128, 256, (16 * 129 + 16 * 256) * sizeof(float)},
    {"simple", 0, 0, 0},
};

#define CL_RTS 16 /* side of the tiled kernels' work-groups */

static const cl_variant *variant_named(const char *name)
{
    for (size_t i = 0; i < sizeof(cl_variants) / sizeof(cl_variants[0]); i++)
        if (strcmp(cl_variants[i].name, name) == 0)
            return &cl_variants[i];
    return &cl_variants[2];
}

/* Creates the kernel of variant v if the device can run it: 0, or a reason
 * in why (and *out NULL). */
static int variant_kernel(pt_cl *cl, const cl_variant *v, cl_kernel *out, char *why, size_t whylen,
                          char *err, size_t errlen)
{
    *out = NULL;
    if (v->tsm &&
        (cl->info->max_work_group < CL_RTS * CL_RTS || cl->info->local_mem < v->local_bytes)) {
        pt__errf(why, whylen, PT_EINVAL,
                 "needs %u work-items per group and %zu bytes of local memory, the device has "
                 "%zu and %llu",
                 CL_RTS * CL_RTS, v->local_bytes, cl->info->max_work_group,
                 (unsigned long long)cl->info->local_mem);
        return 0;
    }
    char name[32];
    snprintf(name, sizeof(name), "matmul_%s", v->name);
    int ret = pt__cl_kernel(cl, name, out, err, errlen);
    if (ret || !v->tsm)
        return ret;
    size_t wg = 0;
    if (clGetKernelWorkGroupInfo(*out, cl->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof(wg), &wg,
                                 NULL) != CL_SUCCESS ||
        wg < CL_RTS * CL_RTS) {
        pt__errf(why, whylen, PT_EINVAL, "compiled for at most %zu work-items per group", wg);
        clReleaseKernel(*out);
        *out = NULL;
    }
    return 0;
}

static int matmul_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    cl_kernel kr = NULL;
    cl_mem a = NULL, b = NULL, c = NULL;
    cl_int rc;
    int ret;
    double t0 = pt__now();
    if (s->m > UINT32_MAX || s->n > UINT32_MAX || s->k > UINT32_MAX)
        return pt__errf(err, errlen, PT_ERANGE, "matmul: OpenCL sizes are limited to 2^32-1");

    /* auto: the wide kernel on CPU devices, the tiled one elsewhere, the
     * simple one where the device cannot run a tiled one. */
    const char *want = pt_job_str(job, "cl-kernel");
    bool automatic = strcmp(want, "auto") == 0;
    const cl_variant *v = variant_named(!automatic                           ? want
                                        : strcmp(cl->info->type, "CPU") == 0 ? "wide"
                                                                             : "tiled");
    char why[256] = "";
    if ((ret = variant_kernel(cl, v, &kr, why, sizeof(why), err, errlen)) != 0)
        goto out;
    if (!kr) {
        if (!automatic) {
            ret = pt__errf(err, errlen, PT_EINVAL, "matmul: --cl-kernel %s: %s %s", v->name,
                           cl->info->name, why);
            goto out;
        }
        v = variant_named("simple");
        if ((ret = variant_kernel(cl, v, &kr, why, sizeof(why), err, errlen)) != 0)
            goto out;
    }
    snprintf(s->kernel_cl, sizeof(s->kernel_cl), "opencl %s", v->name);

    ret = pt__cl_buffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, s->m * s->k * sizeof(float),
                        s->a, &a, err, errlen);
    if (ret)
        goto out;
    ret = pt__cl_buffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, s->k * s->n * sizeof(float),
                        s->b, &b, err, errlen);
    if (ret)
        goto out;
    ret = pt__cl_buffer(cl, CL_MEM_WRITE_ONLY, s->m * s->n * sizeof(float), NULL, &c, err, errlen);
    if (ret)
        goto out;
    cl_uint m = (cl_uint)s->m, n = (cl_uint)s->n, k = (cl_uint)s->k;
    rc = clSetKernelArg(kr, 0, sizeof(m), &m);
    rc |= clSetKernelArg(kr, 1, sizeof(n), &n);
    rc |= clSetKernelArg(kr, 2, sizeof(k), &k);
    rc |= clSetKernelArg(kr, 3, sizeof(a), &a);
    rc |= clSetKernelArg(kr, 4, sizeof(b), &b);
    rc |= clSetKernelArg(kr, 5, sizeof(c), &c);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
        goto out;
    }
    size_t global[2], local[2] = {CL_RTS, CL_RTS};
    if (v->tsm) {
        global[0] = pt__round_up(s->n, v->tsn) / v->tsn * CL_RTS;
        global[1] = pt__round_up(s->m, v->tsm) / v->tsm * CL_RTS;
    } else {
        size_t side = cl->info->max_work_group >= 64 ? 8 : 1;
        local[0] = local[1] = side;
        global[0] = pt__round_up(s->n, side);
        global[1] = pt__round_up(s->m, side);
    }
    double t1 = pt__now();
    pt_job_record_phase(job, 0, t1 - t0);
    rc = clEnqueueNDRangeKernel(cl->queue, kr, 2, NULL, global, local, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel", err, errlen);
        goto out;
    }
    rc = clEnqueueReadBuffer(cl->queue, c, CL_TRUE, 0, s->m * s->n * sizeof(float), s->c, 0, NULL,
                             NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueReadBuffer", err, errlen);
        goto out;
    }
    pt_job_record_phase(job, 1, pt__now() - t1);
    s->on_device = true;
    ret = 0;
out:
    if (c)
        clReleaseMemObject(c);
    if (b)
        clReleaseMemObject(b);
    if (a)
        clReleaseMemObject(a);
    if (kr)
        clReleaseKernel(kr);
    return ret;
}
#endif /* PT_HAVE_OPENCL */

const pt_job_desc pt__job_matmul = {
    .name = "matmul",
    .summary = "single-precision C = A x B, cache and register blocked (GFLOP/s)",
    .params = params,
    .nparams = sizeof(params) / sizeof(params[0]),
    .kernel = "matmul",
    .state_size = sizeof(state),
    .setup = matmul_setup,
    .range = matmul_range,
    .phase_end = matmul_phase_end,
#ifdef PT_HAVE_OPENCL
    .cl_run = matmul_cl,
#endif
    .verify = matmul_verify,
    .cost = matmul_cost,
    .throughput = matmul_throughput,
    .write_text = matmul_text,
    .write_json = matmul_json,
};

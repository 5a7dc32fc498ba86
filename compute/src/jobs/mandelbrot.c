/* jobs/mandelbrot.c - the Mandelbrot set: escape-time iteration counts of a
 * view of the complex plane, a checksum of them, and optionally a PNG with a
 * smooth colour map.
 *
 * The view. Pixel (x, y) is the point c = (re0 + x*dx, im0 + y*dy): re0/im0
 * are the centres of the top-left pixel and dy < 0 (row 0 is the top). setup
 * computes these four doubles once, from --center-re/--center-im/--scale
 * (the view's width in the complex plane; square pixels) or from
 * --re-min/--re-max/--im-min/--im-max, and every backend uses them as given.
 *
 * The escape loop, identical everywhere (C variants, OpenCL kernels, the
 * tests' reference), n counting from 0:
 *     zr2 = zr*zr; zi2 = zi*zi;
 *     if (zr2 + zi2 > 4) stop: iterations n, final |z|^2 = zr2 + zi2
 *     zi = (zr + zr)*zi + ci;  zr = (zr2 - zi2) + cr;  n++
 * up to --iters (then n = iters, "in the set", final |z|^2 recorded as 0).
 * Every step is one IEEE-754 double operation rounded to nearest; nothing is
 * fused, so the iteration counts AND the final |z|^2 are bitwise the same on
 * every backend (verify checks both exactly). That needs:
 *   - C: no FMA contraction. The project builds with -std=c11, where GCC's
 *     default is -ffp-contract=off, also inside the target("arch=x86-64-v4")
 *     AVX-512 and x86-64-v3 AVX2 variants below (their FMA units are only
 *     used when contraction is allowed). The pragmas below keep it off in a
 *     GNU-mode GCC build (default "fast") and under clang (default "on").
 *   - OpenCL: kernels/mandelbrot.cl has `#pragma OPENCL FP_CONTRACT OFF` and
 *     the same operation order; it is built without -cl-mad-enable or
 *     -cl-fast-relaxed-math.
 * tests/test_mandelbrot.c compares every ISA variant and every backend with
 * a plain scalar loop of its own, exactly, on several views (the boundary of
 * the set included).
 *
 * (Checked both ways: with `#pragma GCC optimize("fp-contract=fast")` here,
 * or clang without the STDC pragma, the AVX2/AVX-512 variants fuse and the
 * tests fail; so does PoCL without the OpenCL pragma.) The final |z|^2 is
 * kept as a float (rounded from the same double everywhere): it only feeds
 * the colour map.
 *
 * SIMD: a row is done in blocks of U vectors of W doubles (GCC vector
 * extensions sized to the ISA: W = 8 for AVX-512, 4 for AVX2, 2 for SSE2;
 * U = UNROLL_*), so a block has U independent dependency chains. Lanes that
 * escaped are masked off (their count stops; their z runs on harmlessly,
 * possibly to inf/NaN, and is never read); lanes past the row's end start
 * masked off. A block ends when all its lanes escaped (looked at every
 * CHECK iterations) or at --iters.
 *
 * Colours (the PNG, written by `save` on the host from the counts and
 * |z|^2, so every backend writes the same file): black in the set, else the
 * continuous escape count mu = n + 1 - log2(ln|z|) on a five-stop gradient
 * that repeats every 32 iterations.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && !defined(__STRICT_ANSI__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_job.h"
#include "internal.h"
#include "simd.h"

#define MAX_SIDE  65536
#define MAX_ITERS 10000000

typedef struct view {
    double re0, dx; /* real part of pixel x: re0 + x*dx */
    double im0, dy; /* imaginary part of row y: im0 + y*dy (dy < 0) */
} view;

typedef struct state {
    uint32_t width, height;
    uint32_t iters; /* the limit */
    view v;
    double re_min, re_max, im_min, im_max; /* the view's edges, for output */
    uint32_t *count;                       /* job memory: iterations per pixel, rows */
    float *mag;                            /* job memory: final |z|^2 per pixel (0 in the set) */
    const char *output;                    /* --output or NULL; borrowed from the job */
} state;

/* --- the escape loop ---------------------------------------------------------- */

/* Vectors per block, per ISA (measured on Zen 5, 2048x2048, 256 iterations:
 * AVX-512 with 4 vectors 3.0 Giter/s per thread, 3 or 6 vectors 2.8, 8
 * vectors 2.3; AVX2 with 2 vectors 1.96, 3 or 4 spill its 16 registers). */
#define UNROLL_BASE   4
#define UNROLL_AVX2   2
#define UNROLL_AVX512 4
#define CHECK         4 /* iterations between looks at whether any lane is still live */

/* clang-format off */
/* One iteration of the U vectors of a block (see MANDEL_ROW_BODY). */
#define MANDEL_STEP(VD, VI, U)                                                 \
    _Pragma("GCC unroll 8")                                                    \
    for (int u = 0; u < U; u++) {                                              \
        VD zr2 = zr[u] * zr[u], zi2 = zi[u] * zi[u];                           \
        VD m = zr2 + zi2;                                                      \
        VI esc = act[u] & (m > four);                                          \
        mo[u] = (VD)(((VI)m & esc) | ((VI)mo[u] & ~esc));                      \
        act[u] &= ~esc;                                                        \
        zi[u] = (zr[u] + zr[u]) * zi[u] + ci;                                  \
        zr[u] = (zr2 - zi2) + cr[u];                                           \
        cnt[u] -= act[u];                                                      \
    }

/* Row y of the view into count/mag (the row's own pointers). VD is a vector
 * of W doubles, VI the matching 64-bit integers (comparison results: -1
 * true), U the vectors per block: independent dependency chains that hide
 * the latency of the floating-point units (as many as the ISA's registers
 * hold). The liveness test runs every CHECK iterations: lanes that escaped
 * are masked, so the extra iterations change nothing but time. */
#define MANDEL_ROW_BODY(VD, VI, U)                                             \
    enum { W = (int)(sizeof(VD) / sizeof(double)), B = W * U };                \
    const double ci_s = v->im0 + (double)y * v->dy;                            \
    VD ci, four;                                                               \
    for (int l = 0; l < W; l++) {                                              \
        ci[l] = ci_s;                                                          \
        four[l] = 4.0;                                                         \
    }                                                                          \
    for (uint32_t x0 = 0; x0 < width; x0 += B) {                               \
        VD cr[U], zr[U], zi[U], mo[U];                                         \
        VI act[U], cnt[U];                                                     \
        for (int u = 0; u < U; u++) {                                          \
            for (int l = 0; l < W; l++) {                                      \
                uint32_t x = x0 + (uint32_t)(u * W + l);                       \
                cr[u][l] = v->re0 + (double)x * v->dx;                         \
                act[u][l] = x < width ? -1 : 0;                                \
                zr[u][l] = zi[u][l] = mo[u][l] = 0.0;                          \
                cnt[u][l] = 0;                                                 \
            }                                                                  \
        }                                                                      \
        uint32_t it = 0;                                                       \
        for (; it + CHECK <= iters; it += CHECK) {                             \
            _Pragma("GCC unroll 8")                                            \
            for (int k = 0; k < CHECK; k++) {                                  \
                MANDEL_STEP(VD, VI, U)                                         \
            }                                                                  \
            VI any = act[0];                                                   \
            for (int u = 1; u < U; u++)                                        \
                any |= act[u];                                                 \
            int live = 0;                                                      \
            for (int l = 0; l < W; l++)                                        \
                live |= any[l] != 0;                                           \
            if (!live) {                                                       \
                it = iters; /* all escaped: skip the tail too */               \
                break;                                                         \
            }                                                                  \
        }                                                                      \
        for (; it < iters; it++) {                                             \
            MANDEL_STEP(VD, VI, U)                                             \
        }                                                                      \
        for (int u = 0; u < U; u++)                                            \
            for (int l = 0; l < W; l++) {                                      \
                uint32_t x = x0 + (uint32_t)(u * W + l);                       \
                if (x < width) {                                               \
                    count[x] = (uint32_t)cnt[u][l];                            \
                    mag[x] = (float)mo[u][l];                                  \
                }                                                              \
            }                                                                  \
    }

typedef double v2d __attribute__((vector_size(16)));
typedef int64_t v2i __attribute__((vector_size(16)));

static void row_base(const view *v, uint32_t y, uint32_t width, uint32_t iters, uint32_t *count,
                     float *mag)
{
    MANDEL_ROW_BODY(v2d, v2i, UNROLL_BASE)
}

#if PT__X86
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef int64_t v8i __attribute__((vector_size(64)));

PT__TARGET_AVX2 static void row_avx2(const view *v, uint32_t y, uint32_t width, uint32_t iters,
                                     uint32_t *count,
                                     float *mag){MANDEL_ROW_BODY(v4d, v4i, UNROLL_AVX2)}

/* Eight doubles per AVX-512 vector. */
PT__TARGET_AVX512 static void row_avx512(const view *v, uint32_t y, uint32_t width, uint32_t iters,
                                         uint32_t *count, float *mag)
{
    MANDEL_ROW_BODY(v8d, v8i, UNROLL_AVX512)
}
#endif /* PT__X86 */
/* clang-format on */

static void mandel_row(const view *v, uint32_t y, uint32_t width, uint32_t iters, uint32_t *count,
                       float *mag, pt__isa_level isa)
{
#if PT__X86
    if (isa == PT__ISA_AVX512)
        row_avx512(v, y, width, iters, count, mag);
    else if (isa == PT__ISA_AVX2)
        row_avx2(v, y, width, iters, count, mag);
    else
#endif
        row_base(v, y, width, iters, count, mag);
    (void)isa;
}

/* --- the job ------------------------------------------------------------------ */

static const pt_param params[] = {
    {.name = "width",
     .type = PT_TYPE_INT,
     .def = "1024",
     .help = "image width in pixels",
     .min = 1,
     .max = MAX_SIDE,
     .metavar = "N"},
    {.name = "height",
     .type = PT_TYPE_INT,
     .def = "1024",
     .help = "image height in pixels",
     .min = 1,
     .max = MAX_SIDE,
     .metavar = "N"},
    {.name = "iters",
     .type = PT_TYPE_INT,
     .def = "256",
     .help = "iteration limit per pixel",
     .min = 1,
     .max = MAX_ITERS,
     .metavar = "N"},
    {.name = "center-re",
     .type = PT_TYPE_DOUBLE,
     .def = "-0.5",
     .help = "real part of the view's centre",
     .min = -1e6,
     .max = 1e6,
     .metavar = "X"},
    {.name = "center-im",
     .type = PT_TYPE_DOUBLE,
     .def = "0",
     .help = "imaginary part of the view's centre",
     .min = -1e6,
     .max = 1e6,
     .metavar = "Y"},
    {.name = "scale",
     .type = PT_TYPE_DOUBLE,
     .def = "3",
     .help = "width of the view in the complex plane (square pixels)",
     .min = 1e-15,
     .max = 1e6,
     .metavar = "S"},
    {.name = "re-min",
     .type = PT_TYPE_DOUBLE,
     .help = "left edge (with --re-max, --im-min, --im-max instead of centre/scale)",
     .min = -1e6,
     .max = 1e6,
     .metavar = "X"},
    {.name = "re-max",
     .type = PT_TYPE_DOUBLE,
     .help = "right edge",
     .min = -1e6,
     .max = 1e6,
     .metavar = "X"},
    {.name = "im-min",
     .type = PT_TYPE_DOUBLE,
     .help = "bottom edge",
     .min = -1e6,
     .max = 1e6,
     .metavar = "Y"},
    {.name = "im-max",
     .type = PT_TYPE_DOUBLE,
     .help = "top edge",
     .min = -1e6,
     .max = 1e6,
     .metavar = "Y"},
    {.name = "output",
     .type = PT_TYPE_STRING,
     .help = "write the image as a PNG (smooth colour map); none by default",
     .metavar = "FILE.png"},
};

static int mandel_setup(pt_job *job, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    s->width = (uint32_t)pt_job_int(job, "width");
    s->height = (uint32_t)pt_job_int(job, "height");
    s->iters = (uint32_t)pt_job_int(job, "iters");

    static const char *const edges[4] = {"re-min", "re-max", "im-min", "im-max"};
    int nedges = 0;
    for (int i = 0; i < 4; i++)
        nedges += pt_job_param_given(job, edges[i]);
    if (nedges) {
        for (int i = 0; i < 4; i++)
            if (!pt_job_param_given(job, edges[i]))
                return pt__errf(err, errlen, PT_EINVAL,
                                "mandelbrot: --%s missing: give all of --re-min, --re-max, "
                                "--im-min, --im-max, or none",
                                edges[i]);
        static const char *const centre[3] = {"center-re", "center-im", "scale"};
        for (int i = 0; i < 3; i++)
            if (pt_job_param_given(job, centre[i]))
                return pt__errf(err, errlen, PT_EINVAL,
                                "mandelbrot: --%s conflicts with --re-min/--re-max/--im-min/"
                                "--im-max: give the centre and scale or the edges",
                                centre[i]);
        s->re_min = pt_job_double(job, "re-min");
        s->re_max = pt_job_double(job, "re-max");
        s->im_min = pt_job_double(job, "im-min");
        s->im_max = pt_job_double(job, "im-max");
        if (!(s->re_min < s->re_max))
            return pt__errf(err, errlen, PT_EINVAL,
                            "mandelbrot: --re-min %g must be less than --re-max %g", s->re_min,
                            s->re_max);
        if (!(s->im_min < s->im_max))
            return pt__errf(err, errlen, PT_EINVAL,
                            "mandelbrot: --im-min %g must be less than --im-max %g", s->im_min,
                            s->im_max);
        s->v.dx = (s->re_max - s->re_min) / s->width;
        double h = (s->im_max - s->im_min) / s->height;
        s->v.dy = -h;
        s->v.re0 = s->re_min + 0.5 * s->v.dx;
        s->v.im0 = s->im_max - 0.5 * h;
    } else {
        double cre = pt_job_double(job, "center-re"), cim = pt_job_double(job, "center-im");
        double scale = pt_job_double(job, "scale");
        double dx = scale / s->width;
        double half_h = 0.5 * dx * s->height;
        s->re_min = cre - 0.5 * scale;
        s->re_max = cre + 0.5 * scale;
        s->im_min = cim - half_h;
        s->im_max = cim + half_h;
        s->v.dx = dx;
        s->v.dy = -dx;
        s->v.re0 = s->re_min + 0.5 * dx;
        s->v.im0 = s->im_max - 0.5 * dx;
    }
    if (!(s->v.dx > 0) || !(s->v.dy < 0))
        return pt__errf(err, errlen, PT_EINVAL,
                        "mandelbrot: the view is too small for %ux%u pixels (pixel size 0)",
                        s->width, s->height);

    if (pt_job_param_given(job, "output")) {
        s->output = pt_job_str(job, "output");
        int rc = pt__check_output_path("mandelbrot", "output", s->output, err, errlen);
        if (rc)
            return rc;
    }

    /* One block for both arrays, so the size check sees the whole need. */
    size_t pixels = pt__size_mul(s->width, s->height);
    void *mem = pt__job_alloc_sized(job, pt__size_mul(pixels, sizeof(uint32_t) + sizeof(float)),
                                    "--width x --height (iteration counts and |z|)", err, errlen);
    if (!mem)
        return PT_ENOMEM;
    s->count = mem;
    s->mag = (float *)(s->count + pixels);
    /* Rows are the items; a chunk is at least one row, and the runtime's
     * 256 chunks per phase keep the uneven rows balanced. */
    return pt_job_set_phase(job, 0, s->height, 1, 0);
}

static void mandel_range(pt_job *job, unsigned phase, size_t begin, size_t end, void *partial)
{
    (void)phase, (void)partial;
    state *s = pt_job_state(job);
    pt__isa_level isa = pt__isa();
    for (size_t y = begin; y < end; y++)
        mandel_row(&s->v, (uint32_t)y, s->width, s->iters, s->count + y * s->width,
                   s->mag + y * s->width, isa);
}

static int mandel_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    const state *a = pt_job_state(job), *b = pt_job_state(ref);
    if (a->width != b->width || a->height != b->height || a->iters != b->iters)
        return pt__errf(err, errlen, PT_EVERIFY, "mandelbrot: the reference has other parameters");
    size_t n = (size_t)a->width * a->height;
    for (size_t i = 0; i < n; i++) {
        if (a->count[i] != b->count[i])
            return pt__errf(err, errlen, PT_EVERIFY,
                            "mandelbrot: pixel (%zu, %zu): %u iterations, the reference has %u",
                            i % a->width, i / a->width, a->count[i], b->count[i]);
        if (memcmp(&a->mag[i], &b->mag[i], sizeof(float)) != 0)
            return pt__errf(err, errlen, PT_EVERIFY,
                            "mandelbrot: pixel (%zu, %zu): final |z|^2 %.9g, the reference has "
                            "%.9g",
                            i % a->width, i / a->width, (double)a->mag[i], (double)b->mag[i]);
    }
    return 0;
}

/* The summary of a finished run. */
typedef struct summary {
    uint64_t fnv;    /* FNV-1a 64 over the counts as little-endian uint32, row by row */
    uint64_t total;  /* sum of the counts */
    uint64_t in_set; /* pixels that reached the limit */
} summary;

static summary summarise(const state *s)
{
    summary r = {.fnv = 0xcbf29ce484222325ull};
    size_t n = (size_t)s->width * s->height;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s->count[i];
        for (int b = 0; b < 4; b++) {
            r.fnv ^= (c >> (8 * b)) & 0xffu;
            r.fnv *= 0x100000001b3ull;
        }
        r.total += c;
        r.in_set += c == s->iters;
    }
    return r;
}

static double mandel_cost(const pt_job *job)
{
    const state *s = pt_job_state(job);
    /* A full view averages some tens of iterations per pixel at ~1 ns each. */
    double per_pixel = s->iters < 40 ? s->iters : 40;
    return (double)s->width * s->height * per_pixel * 1e-9;
}

static double mandel_throughput(const pt_job *job, double seconds, const char **unit)
{
    const state *s = pt_job_state(job);
    *unit = "iter/s";
    return (double)summarise(s).total / seconds;
}

static int mandel_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    const state *s = pt_job_state(job);
    summary m = summarise(s);
    char line[512];
    int len;
    if (flags & PT_OUT_QUIET) {
        len = snprintf(line, sizeof(line), "checksum %016llx\n", (unsigned long long)m.fnv);
        return write(ctx, line, (size_t)len) ? PT_EIO : 0;
    }
    size_t n = (size_t)s->width * s->height;
    len = snprintf(line, sizeof(line),
                   "mandelbrot %ux%u, up to %u iterations, re [%.15g, %.15g], im [%.15g, %.15g]\n"
                   "checksum %016llx (FNV-1a 64 of the iteration counts)\n"
                   "iterations %llu (%.2f per pixel), %llu of %zu pixels reached the limit\n",
                   s->width, s->height, s->iters, s->re_min, s->re_max, s->im_min, s->im_max,
                   (unsigned long long)m.fnv, (unsigned long long)m.total,
                   (double)m.total / (double)n, (unsigned long long)m.in_set, n);
    if (len < 0 || (size_t)len >= sizeof(line))
        return PT_EIO;
    if (write(ctx, line, (size_t)len))
        return PT_EIO;
    if (s->output) {
        len = snprintf(line, sizeof(line), "image %s\n", s->output);
        if (len < 0 || (size_t)len >= sizeof(line))
            len = (int)strlen("image (name too long)\n");
        if (write(ctx, line, (size_t)len))
            return PT_EIO;
    }
    return 0;
}

static int mandel_json(const pt_job *job, pt_json *j)
{
    const state *s = pt_job_state(job);
    summary m = summarise(s);
    char hex[24];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)m.fnv);
    pt_json_key(j, "width");
    pt_json_uint(j, s->width);
    pt_json_key(j, "height");
    pt_json_uint(j, s->height);
    pt_json_key(j, "iters");
    pt_json_uint(j, s->iters);
    pt_json_key(j, "re_min");
    pt_json_double(j, s->re_min);
    pt_json_key(j, "re_max");
    pt_json_double(j, s->re_max);
    pt_json_key(j, "im_min");
    pt_json_double(j, s->im_min);
    pt_json_key(j, "im_max");
    pt_json_double(j, s->im_max);
    pt_json_key(j, "checksum");
    pt_json_str(j, hex);
    pt_json_key(j, "iterations");
    pt_json_uint(j, m.total);
    pt_json_key(j, "in_set");
    pt_json_uint(j, m.in_set);
    pt_json_key(j, "output");
    pt_json_str(j, s->output);
    return pt_json_error(j);
}

/* Exposed for the tests: the result of a run (borrowed, valid as long as the
 * job). */
void pt__mandel_result(const pt_job *job, const uint32_t **count, const float **mag,
                       uint32_t *width, uint32_t *height);
void pt__mandel_result(const pt_job *job, const uint32_t **count, const float **mag,
                       uint32_t *width, uint32_t *height)
{
    const state *s = pt_job_state(job);
    *count = s->count;
    *mag = s->mag;
    *width = s->width;
    *height = s->height;
}

/* --- the image ------------------------------------------------------------------ */

/* A cyclic gradient (the classic five stops), position in [0, 1). */
static void palette(float t, uint8_t rgb[3])
{
    static const float pos[6] = {0.0f, 0.16f, 0.42f, 0.6425f, 0.8575f, 1.0f};
    static const float col[6][3] = {{0, 7, 100},   {32, 107, 203}, {237, 255, 255},
                                    {255, 170, 0}, {0, 2, 0},      {0, 7, 100}};
    int k = 0;
    while (k < 4 && t >= pos[k + 1])
        k++;
    float f = (t - pos[k]) / (pos[k + 1] - pos[k]);
    if (f < 0)
        f = 0;
    if (f > 1)
        f = 1;
    for (int c = 0; c < 3; c++) {
        float v = col[k][c] + f * (col[k + 1][c] - col[k][c]);
        rgb[c] = (uint8_t)(v + 0.5f);
    }
}

/* Colours pixel i: black in the set, else the continuous escape count
 * mu = n + 1 - log2(ln|z|) on a gradient that cycles every 32 iterations. */
static void colour(const state *s, size_t i, uint8_t rgb[3])
{
    uint32_t n = s->count[i];
    if (n >= s->iters) {
        rgb[0] = rgb[1] = rgb[2] = 0;
        return;
    }
    double m = s->mag[i] > 4.0f ? s->mag[i] : 4.0;
    double mu = n + 1.0 - log2(0.5 * log(m));
    if (mu < 0)
        mu = 0;
    double t = fmod(mu / 32.0, 1.0);
    palette((float)t, rgb);
}

static int mandel_save(const pt_job *job, char *err, size_t errlen)
{
    const state *s = pt_job_state(job);
    if (!s->output)
        return 0;
    size_t n = (size_t)s->width * s->height;
    uint8_t *rgb = malloc(pt__size_mul(n, 3));
    if (!rgb)
        return pt__errf(err, errlen, PT_ENOMEM, "mandelbrot: --output %s: out of memory for %ux%u",
                        s->output, s->width, s->height);
    for (size_t i = 0; i < n; i++)
        colour(s, i, rgb + 3 * i);
    pt__image img = {.width = s->width, .height = s->height, .channels = 3, .pixels = rgb};
    char why[PT_ERRBUF_SIZE / 2];
    int rc = pt__png_write(s->output, &img, why, sizeof(why));
    free(rgb);
    if (rc)
        return pt__errf(err, errlen, rc, "mandelbrot: --output %s", why);
    return 0;
}

/* --- OpenCL ------------------------------------------------------------------ */

#ifdef PT_HAVE_OPENCL

static int mandel_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    if (!cl->info->fp64)
        return pt__errf(err, errlen, PT_EUNAVAIL,
                        "mandelbrot: OpenCL device %s has no double precision (cl_khr_fp64)",
                        cl->info->name);
    cl_kernel k = NULL;
    cl_mem dcount = NULL, dmag = NULL;
    cl_int rc;
    int ret;
    double t0 = pt__now();
    /* CPU devices: "mandel_x16" (16 pixels per work-item as two double8,
     * one AVX-512 vector each); GPUs: "mandel_px" (a pixel per work-item). */
    bool x16 = pt__cl_cpu_path(cl);
    ret = pt__cl_kernel(cl, x16 ? "mandel_x16" : "mandel_px", &k, err, errlen);
    if (ret)
        goto out;

    /* Bands of rows, so that the buffers stay within the device's largest
     * allocation and progress can be reported: about 16 bands per image. */
    size_t w = s->width, h = s->height;
    size_t row_bytes = w * sizeof(uint32_t);
    size_t band = (h + 15) / 16;
    size_t max_rows = cl->info->max_alloc / row_bytes;
    if (max_rows == 0)
        max_rows = 1;
    if (band > max_rows)
        band = max_rows;
    size_t nbands = (h + band - 1) / band;
    ret = pt__cl_buffer(cl, CL_MEM_WRITE_ONLY, band * row_bytes, NULL, &dcount, err, errlen);
    if (ret)
        goto out;
    ret = pt__cl_buffer(cl, CL_MEM_WRITE_ONLY, band * w * sizeof(float), NULL, &dmag, err, errlen);
    if (ret)
        goto out;
    pt_job_progress_total(job, nbands);

    cl_double re0 = s->v.re0, dx = s->v.dx, im0 = s->v.im0, dy = s->v.dy;
    cl_uint cw = s->width, citers = s->iters;
    size_t local[2] = {x16 ? 8 : 64, 1};
    if (local[0] > cl->info->max_work_group)
        local[0] = cl->info->max_work_group;
    size_t items_x = x16 ? (w + 15) / 16 : w;
    for (size_t b = 0; b < nbands; b++) {
        size_t y0 = b * band;
        size_t rows = h - y0 < band ? h - y0 : band;
        cl_uint cy0 = (cl_uint)y0, crows = (cl_uint)rows;
        rc = clSetKernelArg(k, 0, sizeof(dcount), &dcount);
        rc |= clSetKernelArg(k, 1, sizeof(dmag), &dmag);
        rc |= clSetKernelArg(k, 2, sizeof(re0), &re0);
        rc |= clSetKernelArg(k, 3, sizeof(dx), &dx);
        rc |= clSetKernelArg(k, 4, sizeof(im0), &im0);
        rc |= clSetKernelArg(k, 5, sizeof(dy), &dy);
        rc |= clSetKernelArg(k, 6, sizeof(cw), &cw);
        rc |= clSetKernelArg(k, 7, sizeof(cy0), &cy0);
        rc |= clSetKernelArg(k, 8, sizeof(crows), &crows);
        rc |= clSetKernelArg(k, 9, sizeof(citers), &citers);
        if (rc != CL_SUCCESS) {
            ret = pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
            goto out;
        }
        size_t global[2] = {pt__round_up(items_x, local[0]), rows};
        rc = clEnqueueNDRangeKernel(cl->queue, k, 2, NULL, global, local, 0, NULL, NULL);
        if (rc != CL_SUCCESS) {
            ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel", err, errlen);
            goto out;
        }
        rc = clEnqueueReadBuffer(cl->queue, dcount, CL_FALSE, 0, rows * row_bytes,
                                 s->count + y0 * w, 0, NULL, NULL);
        if (rc == CL_SUCCESS)
            rc = clEnqueueReadBuffer(cl->queue, dmag, CL_TRUE, 0, rows * w * sizeof(float),
                                     s->mag + y0 * w, 0, NULL, NULL);
        if (rc != CL_SUCCESS) {
            ret = pt__cl_fail(cl, rc, "clEnqueueReadBuffer", err, errlen);
            goto out;
        }
        pt_job_progress_add(job, 1);
    }
    pt_job_record_phase(job, 0, pt__now() - t0);
    ret = 0;
out:
    if (dmag)
        clReleaseMemObject(dmag);
    if (dcount)
        clReleaseMemObject(dcount);
    if (k)
        clReleaseKernel(k);
    return ret;
}
#endif /* PT_HAVE_OPENCL */

const pt_job_desc pt__job_mandelbrot = {
    .name = "mandelbrot",
    .summary = "Mandelbrot set: escape-time counts, their checksum, a smooth-coloured PNG",
    .params = params,
    .nparams = sizeof(params) / sizeof(params[0]),
    .kernel = "mandelbrot",
    .state_size = sizeof(state),
    .setup = mandel_setup,
    .range = mandel_range,
#ifdef PT_HAVE_OPENCL
    .cl_run = mandel_cl,
#endif
    .verify = mandel_verify,
    .cost = mandel_cost,
    .throughput = mandel_throughput,
    .write_text = mandel_text,
    .write_json = mandel_json,
    .save = mandel_save,
};

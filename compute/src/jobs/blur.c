/* jobs/blur.c - Gaussian blur of a PNG into a PNG: separable, clamped edges,
 * every channel on its own (gray, gray+alpha, RGB, RGBA, as read).
 *
 * Weights: radius r = ceil(3 sigma), w_k = exp(-(k-r)^2 / (2 sigma^2)) for
 * k = 0..2r, normalised to sum 1 in double precision, then rounded to float.
 * Pixels outside the image take the value of the nearest edge pixel.
 *
 * Phase 0 (items: rows) blurs each row horizontally into an intermediate
 * image of floats (no rounding there); phase 1 (items: rows) blurs columns
 * of the intermediate into the 8-bit output, rounding half up: out =
 * (int)(sum + 0.5f). Every sum is formed the same way everywhere,
 *     acc = w_0 * v_0;  acc = acc + w_k * v_k  for k = 1..2r,
 * in float, one rounding per operation (no FMA contraction: -std=c11, see
 * mandelbrot.c; the kernel has FP_CONTRACT OFF), so the C variants and the
 * OpenCL kernels agree bit for bit in practice; verify allows 1 per channel.
 * The sums stay within [0, 255.5): the weights are positive and sum to 1
 * within float rounding, so no clamping is needed before the conversion.
 *
 * SIMD: the inner loops run over a row's samples (x * channels + channel),
 * which are contiguous whatever the channel count, in vectors of W floats
 * (GCC vector extensions sized to the ISA: 16 for AVX-512, 8 for AVX2, 4
 * for SSE2), four vectors at a time to hide the adders' latency. The
 * horizontal pass does the samples whose taps all fall inside the row that
 * way and the few near the edges one by one with clamping.
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

#if PT__X86
#include <immintrin.h>
#endif

#define MAX_RADIUS 300 /* ceil(3 * 100), the largest sigma */

typedef struct state {
    uint32_t width, height, channels;
    uint32_t radius; /* taps: 2 * radius + 1 */
    double sigma;
    uint8_t *in;                /* job memory: the input, rows of width * channels bytes */
    float *tmp;                 /* job memory: the horizontal pass */
    uint8_t *out;               /* job memory: the result */
    float *weights;             /* job memory: 2 * radius + 1 */
    const char *input, *output; /* borrowed from the job */
} state;

/* --- the passes ----------------------------------------------------------------- */

static inline size_t clamp_idx(long v, long n)
{
    return (size_t)(v < 0 ? 0 : v >= n ? n - 1 : v);
}

/* Sample i (= x * c + channel) of a row, horizontally, with clamping. */
static float h_sample(const uint8_t *row, size_t i, uint32_t w, uint32_t c, uint32_t r,
                      const float *wt)
{
    long x = (long)(i / c), ch = (long)(i % c);
    float acc = wt[0] * (float)row[clamp_idx(x - (long)r, w) * c + (size_t)ch];
    for (uint32_t k = 1; k <= 2 * r; k++)
        acc = acc + wt[k] * (float)row[clamp_idx(x - (long)r + (long)k, w) * c + (size_t)ch];
    return acc;
}

/* Sample i of output row y, vertically: rows[k] is the row of tap k. */
static uint8_t v_sample(const float *const *rows, size_t i, uint32_t taps, const float *wt)
{
    float acc = wt[0] * rows[0][i];
    for (uint32_t k = 1; k < taps; k++)
        acc = acc + wt[k] * rows[k][i];
    return (uint8_t)(int)(acc + 0.5f);
}

/* clang-format off */
/* The vector loops, over W floats per vector VF. LD(p) loads W bytes from p
 * as floats; ST(d, a) stores (int)(a + 0.5f) of each lane as W bytes at d.
 * Both are per ISA (below): GCC 12 scalarises a direct bytes<->floats
 * __builtin_convertvector, so they go through 16-bit lanes or vpmovzxbd.
 * Float loads and stores go through memcpy (unaligned; GCC makes them
 * single instructions). */
#define LOAD_F(VF, p)                                                          \
    __extension__({                                                            \
        VF f_;                                                                 \
        memcpy(&f_, (p), sizeof(f_));                                          \
        f_;                                                                    \
    })

/* Row `row` (w * c bytes) horizontally into dst (w * c floats). */
#define H_ROW_BODY(VF, LD)                                                     \
    enum { W = (int)(sizeof(VF) / sizeof(float)) };                            \
    const size_t wc = (size_t)w * c, rc = (size_t)r * c;                       \
    const uint32_t taps = 2 * r + 1;                                           \
    /* interior: samples whose taps all lie in the row */                      \
    size_t lo = rc < wc ? rc : wc, hi = w > 2 * r ? wc - rc : lo;              \
    for (size_t i = 0; i < lo; i++)                                            \
        dst[i] = h_sample(row, i, w, c, r, wt);                                \
    size_t i = lo;                                                             \
    const uint8_t *base = row - rc; /* tap k of sample i: base[i + k*c] */     \
    for (; i + 4 * W <= hi; i += 4 * W) {                                      \
        VF a0 = wt[0] * LD(base + i);                                          \
        VF a1 = wt[0] * LD(base + i + W);                                      \
        VF a2 = wt[0] * LD(base + i + 2 * W);                                  \
        VF a3 = wt[0] * LD(base + i + 3 * W);                                  \
        for (uint32_t k = 1; k < taps; k++) {                                  \
            const uint8_t *p = base + i + (size_t)k * c;                       \
            float wk = wt[k];                                                  \
            a0 = a0 + wk * LD(p);                                              \
            a1 = a1 + wk * LD(p + W);                                          \
            a2 = a2 + wk * LD(p + 2 * W);                                      \
            a3 = a3 + wk * LD(p + 3 * W);                                      \
        }                                                                      \
        memcpy(dst + i, &a0, sizeof(a0));                                      \
        memcpy(dst + i + W, &a1, sizeof(a1));                                  \
        memcpy(dst + i + 2 * W, &a2, sizeof(a2));                              \
        memcpy(dst + i + 3 * W, &a3, sizeof(a3));                              \
    }                                                                          \
    for (; i + W <= hi; i += W) {                                              \
        VF a0 = wt[0] * LD(base + i);                                          \
        for (uint32_t k = 1; k < taps; k++)                                    \
            a0 = a0 + wt[k] * LD(base + i + (size_t)k * c);                    \
        memcpy(dst + i, &a0, sizeof(a0));                                      \
    }                                                                          \
    for (; i < wc; i++)                                                        \
        dst[i] = h_sample(row, i, w, c, r, wt);

/* Output row from the tap rows rows[0..taps) (n floats each) into dst. */
#define V_ROW_BODY(VF, ST)                                                     \
    enum { W = (int)(sizeof(VF) / sizeof(float)) };                            \
    size_t i = 0;                                                              \
    for (; i + 4 * W <= n; i += 4 * W) {                                       \
        VF a0 = wt[0] * LOAD_F(VF, rows[0] + i);                               \
        VF a1 = wt[0] * LOAD_F(VF, rows[0] + i + W);                           \
        VF a2 = wt[0] * LOAD_F(VF, rows[0] + i + 2 * W);                       \
        VF a3 = wt[0] * LOAD_F(VF, rows[0] + i + 3 * W);                       \
        for (uint32_t k = 1; k < taps; k++) {                                  \
            const float *p = rows[k] + i;                                      \
            float wk = wt[k];                                                  \
            a0 = a0 + wk * LOAD_F(VF, p);                                      \
            a1 = a1 + wk * LOAD_F(VF, p + W);                                  \
            a2 = a2 + wk * LOAD_F(VF, p + 2 * W);                              \
            a3 = a3 + wk * LOAD_F(VF, p + 3 * W);                              \
        }                                                                      \
        ST(dst + i, a0);                                                       \
        ST(dst + i + W, a1);                                                   \
        ST(dst + i + 2 * W, a2);                                               \
        ST(dst + i + 3 * W, a3);                                               \
    }                                                                          \
    for (; i + W <= n; i += W) {                                               \
        VF a0 = wt[0] * LOAD_F(VF, rows[0] + i);                               \
        for (uint32_t k = 1; k < taps; k++)                                    \
            a0 = a0 + wt[k] * LOAD_F(VF, rows[k] + i);                         \
        ST(dst + i, a0);                                                       \
    }                                                                          \
    for (; i < n; i++)                                                         \
        dst[i] = v_sample(rows, i, taps, wt);

#define H_ROW_ARGS                                                             \
    const uint8_t *row, float *dst, uint32_t w, uint32_t c, uint32_t r,        \
        const float *wt
#define V_ROW_ARGS                                                             \
    const float *const *rows, uint8_t *dst, size_t n, uint32_t taps,           \
        const float *wt

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));
typedef uint16_t v4s __attribute__((vector_size(8)));
typedef uint8_t v4b __attribute__((vector_size(4)));

#if PT__X86
/* SSE2: 4 bytes, unpacked with zeros to 16 then 32-bit lanes. */
#define LD_BASE(p)                                                             \
    __extension__({                                                            \
        int32_t w_;                                                            \
        memcpy(&w_, (p), sizeof(w_));                                          \
        __m128i z_ = _mm_setzero_si128();                                      \
        __m128i x_ = _mm_unpacklo_epi16(                                       \
            _mm_unpacklo_epi8(_mm_cvtsi32_si128(w_), z_), z_);                 \
        (v4f)_mm_cvtepi32_ps(x_);                                              \
    })
#else
#define LD_BASE(p)                                                             \
    __extension__({                                                            \
        v4b b_;                                                                \
        memcpy(&b_, (p), sizeof(b_));                                          \
        __builtin_convertvector(                                               \
            __builtin_convertvector(__builtin_convertvector(b_, v4s), v4i),    \
            v4f);                                                              \
    })
#endif
#define ST_BASE(d, a)                                                          \
    do {                                                                       \
        v4b b_ = __builtin_convertvector(                                      \
            __builtin_convertvector(                                           \
                __builtin_convertvector((a) + 0.5f, v4i), v4s), v4b);          \
        memcpy((d), &b_, sizeof(b_));                                          \
    } while (0)

static void h_row_base(H_ROW_ARGS)
{
    H_ROW_BODY(v4f, LD_BASE)
}

static void v_row_base(V_ROW_ARGS)
{
    V_ROW_BODY(v4f, ST_BASE)
}

#if PT__X86
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef uint16_t v8s __attribute__((vector_size(16)));
typedef uint8_t v8b __attribute__((vector_size(8)));
typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint8_t v16b __attribute__((vector_size(16)));

/* vpmovzxbd: 8 or 16 bytes to int32 lanes in one instruction. */
#define LD_AVX2(p)                                                             \
    __builtin_convertvector(                                                   \
        (v8i)_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p))), v8f)
#define ST_AVX2(d, a)                                                          \
    do {                                                                       \
        v8b b_ = __builtin_convertvector(                                      \
            __builtin_convertvector(                                           \
                __builtin_convertvector((a) + 0.5f, v8i), v8s), v8b);          \
        memcpy((d), &b_, sizeof(b_));                                          \
    } while (0)
#define LD_AVX512(p)                                                           \
    __builtin_convertvector(                                                   \
        (v16i)_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p))),     \
        v16f)
/* vpmovdb narrows directly. */
#define ST_AVX512(d, a)                                                        \
    do {                                                                       \
        v16b b_ = __builtin_convertvector(                                     \
            __builtin_convertvector((a) + 0.5f, v16i), v16b);                  \
        memcpy((d), &b_, sizeof(b_));                                          \
    } while (0)

PT__TARGET_AVX2 static void h_row_avx2(H_ROW_ARGS)
{
    H_ROW_BODY(v8f, LD_AVX2)
}

PT__TARGET_AVX2 static void v_row_avx2(V_ROW_ARGS)
{
    V_ROW_BODY(v8f, ST_AVX2)
}

/* Sixteen floats per AVX-512 vector. */
PT__TARGET_AVX512 static void h_row_avx512(H_ROW_ARGS)
{
    H_ROW_BODY(v16f, LD_AVX512)
}

PT__TARGET_AVX512 static void v_row_avx512(V_ROW_ARGS)
{
    V_ROW_BODY(v16f, ST_AVX512)
}
#endif /* PT__X86 */
/* clang-format on */

static void h_row(H_ROW_ARGS, pt__isa_level isa)
{
#if PT__X86
    if (isa == PT__ISA_AVX512)
        h_row_avx512(row, dst, w, c, r, wt);
    else if (isa == PT__ISA_AVX2)
        h_row_avx2(row, dst, w, c, r, wt);
    else
#endif
        h_row_base(row, dst, w, c, r, wt);
    (void)isa;
}

static void v_row(V_ROW_ARGS, pt__isa_level isa)
{
#if PT__X86
    if (isa == PT__ISA_AVX512)
        v_row_avx512(rows, dst, n, taps, wt);
    else if (isa == PT__ISA_AVX2)
        v_row_avx2(rows, dst, n, taps, wt);
    else
#endif
        v_row_base(rows, dst, n, taps, wt);
    (void)isa;
}

/* --- the job ------------------------------------------------------------------ */

static const pt_param params[] = {
    {.name = "input",
     .type = PT_TYPE_STRING,
     .help = "the PNG to blur (gray, gray+alpha, RGB or RGBA; 16-bit and palette "
             "images are converted to 8 bits)",
     .metavar = "FILE.png"},
    {.name = "output",
     .type = PT_TYPE_STRING,
     .help = "where to write the blurred PNG (required; written only when the run "
             "succeeds)",
     .metavar = "FILE.png"},
    {.name = "sigma",
     .type = PT_TYPE_DOUBLE,
     .def = "2",
     .help = "standard deviation of the Gaussian in pixels; radius ceil(3 sigma)",
     .min = 0.1,
     .max = 100,
     .metavar = "S"},
};

typedef struct alloc_ctx {
    pt_job *job;
    char *err;
    size_t errlen;
} alloc_ctx;

static void *alloc_image(void *ctx, size_t bytes)
{
    alloc_ctx *a = ctx;
    return pt__job_alloc_sized(a->job, bytes, "--input image", a->err, a->errlen);
}

static const char *channel_name(uint32_t c)
{
    static const char *const names[5] = {"?", "gray", "gray+alpha", "RGB", "RGBA"};
    return c <= 4 ? names[c] : "?";
}

static int blur_setup(pt_job *job, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    if (!pt_job_param_given(job, "input"))
        return pt__errf(err, errlen, PT_EINVAL, "blur: --input FILE.png is required");
    if (!pt_job_param_given(job, "output"))
        return pt__errf(err, errlen, PT_EINVAL, "blur: --output FILE.png is required");
    s->input = pt_job_str(job, "input");
    s->output = pt_job_str(job, "output");
    s->sigma = pt_job_double(job, "sigma");
    if (!*s->input)
        return pt__errf(err, errlen, PT_EINVAL, "blur: --input: empty file name");
    int rc = pt__check_output_path("blur", "output", s->output, err, errlen);
    if (rc)
        return rc;

    char why[PT_ERRBUF_SIZE / 2] = "";
    alloc_ctx ac = {job, why, sizeof(why)};
    pt__image img;
    rc = pt__png_read(s->input, &img, alloc_image, &ac, why, sizeof(why));
    if (rc) {
        /* The allocator's messages start with the job's name; the reader's
         * with the file's. */
        if (strncmp(why, "blur: ", 6) == 0)
            return pt__errf(err, errlen, rc, "%s", why);
        return pt__errf(err, errlen, rc, "blur: --input %s", why);
    }
    s->in = img.pixels;
    s->width = img.width;
    s->height = img.height;
    s->channels = img.channels;

    s->radius = (uint32_t)ceil(3.0 * s->sigma);
    if (s->radius > MAX_RADIUS)
        s->radius = MAX_RADIUS;
    uint32_t taps = 2 * s->radius + 1;
    s->weights = pt_job_alloc(job, taps * sizeof(float));
    if (!s->weights)
        return pt__errf(err, errlen, PT_ENOMEM, "blur: out of memory");
    double g[2 * MAX_RADIUS + 1], sum = 0;
    for (uint32_t k = 0; k < taps; k++) {
        double d = (double)k - (double)s->radius;
        g[k] = exp(-d * d / (2.0 * s->sigma * s->sigma));
        sum += g[k];
    }
    for (uint32_t k = 0; k < taps; k++)
        s->weights[k] = (float)(g[k] / sum);

    size_t samples = pt__size_mul(pt__size_mul(s->width, s->height), s->channels);
    s->tmp = pt__job_alloc_sized(job, pt__size_mul(samples, sizeof(float)),
                                 "--input image (intermediate floats)", err, errlen);
    if (!s->tmp)
        return PT_ENOMEM;
    s->out = pt__job_alloc_sized(job, samples, "--input image (output)", err, errlen);
    if (!s->out)
        return PT_ENOMEM;
    int prc = pt_job_set_phase(job, 0, s->height, 1, 0);
    if (prc == 0)
        prc = pt_job_set_phase(job, 1, s->height, 1, 0);
    return prc;
}

static void blur_range(pt_job *job, unsigned phase, size_t begin, size_t end, void *partial)
{
    (void)partial;
    state *s = pt_job_state(job);
    pt__isa_level isa = pt__isa();
    size_t wc = (size_t)s->width * s->channels;
    uint32_t r = s->radius, taps = 2 * r + 1;
    if (phase == 0) {
        for (size_t y = begin; y < end; y++)
            h_row(s->in + y * wc, s->tmp + y * wc, s->width, s->channels, r, s->weights, isa);
        return;
    }
    const float *rows[2 * MAX_RADIUS + 1];
    for (size_t y = begin; y < end; y++) {
        for (uint32_t k = 0; k < taps; k++)
            rows[k] = s->tmp + clamp_idx((long)y - (long)r + (long)k, s->height) * wc;
        v_row(rows, s->out + y * wc, wc, taps, s->weights, isa);
    }
}

/* Exposed for the tests: the output pixels of a run and the weights
 * (borrowed, valid as long as the job). */
void pt__blur_result(const pt_job *job, const uint8_t **out, uint32_t *width, uint32_t *height,
                     uint32_t *channels, const float **weights, uint32_t *radius);
void pt__blur_result(const pt_job *job, const uint8_t **out, uint32_t *width, uint32_t *height,
                     uint32_t *channels, const float **weights, uint32_t *radius)
{
    const state *s = pt_job_state(job);
    *out = s->out;
    *width = s->width;
    *height = s->height;
    *channels = s->channels;
    *weights = s->weights;
    *radius = s->radius;
}

static int blur_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    const state *a = pt_job_state(job), *b = pt_job_state(ref);
    if (a->width != b->width || a->height != b->height || a->channels != b->channels ||
        a->radius != b->radius)
        return pt__errf(err, errlen, PT_EVERIFY, "blur: the reference has another image");
    size_t wc = (size_t)a->width * a->channels, n = wc * a->height;
    for (size_t i = 0; i < n; i++) {
        int d = (int)a->out[i] - (int)b->out[i];
        if (d > 1 || d < -1)
            return pt__errf(err, errlen, PT_EVERIFY,
                            "blur: pixel (%zu, %zu) channel %zu: %u, the reference has %u (more "
                            "than 1 apart)",
                            (i % wc) / a->channels, i / wc, i % a->channels, a->out[i], b->out[i]);
    }
    return 0;
}

static double blur_cost(const pt_job *job)
{
    const state *s = pt_job_state(job);
    /* two passes of 2r+1 taps over every sample, ~0.1 ns per tap vectorised */
    return (double)s->width * s->height * s->channels * (4.0 * s->radius + 2) * 1e-10;
}

static double blur_throughput(const pt_job *job, double seconds, const char **unit)
{
    const state *s = pt_job_state(job);
    *unit = "Pix/s";
    return (double)s->width * s->height / seconds;
}

static uint64_t checksum(const state *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t n = (size_t)s->width * s->height * s->channels;
    for (size_t i = 0; i < n; i++) {
        h ^= s->out[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int blur_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    const state *s = pt_job_state(job);
    char line[8600];
    int len;
    if (flags & PT_OUT_QUIET)
        len = snprintf(line, sizeof(line), "%s\n", s->output);
    else
        len = snprintf(line, sizeof(line),
                       "blur %ux%u %s, sigma %g (radius %u, %u taps)\n"
                       "output %s (checksum %016llx, FNV-1a 64 of the pixels)\n",
                       s->width, s->height, channel_name(s->channels), s->sigma, s->radius,
                       2 * s->radius + 1, s->output, (unsigned long long)checksum(s));
    if (len < 0 || (size_t)len >= sizeof(line))
        return PT_EIO;
    return write(ctx, line, (size_t)len) ? PT_EIO : 0;
}

static int blur_json(const pt_job *job, pt_json *j)
{
    const state *s = pt_job_state(job);
    char hex[24];
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)checksum(s));
    pt_json_key(j, "width");
    pt_json_uint(j, s->width);
    pt_json_key(j, "height");
    pt_json_uint(j, s->height);
    pt_json_key(j, "channels");
    pt_json_uint(j, s->channels);
    pt_json_key(j, "sigma");
    pt_json_double(j, s->sigma);
    pt_json_key(j, "radius");
    pt_json_uint(j, s->radius);
    pt_json_key(j, "input");
    pt_json_str(j, s->input);
    pt_json_key(j, "output");
    pt_json_str(j, s->output);
    pt_json_key(j, "checksum");
    pt_json_str(j, hex);
    return pt_json_error(j);
}

static int blur_save(const pt_job *job, char *err, size_t errlen)
{
    const state *s = pt_job_state(job);
    pt__image img = {
        .width = s->width, .height = s->height, .channels = s->channels, .pixels = s->out};
    char why[PT_ERRBUF_SIZE / 2];
    int rc = pt__png_write(s->output, &img, why, sizeof(why));
    if (rc)
        return pt__errf(err, errlen, rc, "blur: --output %s", why);
    return 0;
}

/* --- OpenCL ------------------------------------------------------------------ */

#ifdef PT_HAVE_OPENCL

static int blur_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    cl_kernel kh = NULL, kv = NULL;
    cl_mem din = NULL, dtmp = NULL, dout = NULL, dwt = NULL;
    cl_int rc;
    int ret;
    size_t wc = (size_t)s->width * s->channels, n = wc * s->height;
    uint32_t taps = 2 * s->radius + 1;
    pt_job_progress_total(job, 2);
    double t0 = pt__now();

    if ((ret = pt__cl_kernel(cl, "blur_h", &kh, err, errlen)) != 0 ||
        (ret = pt__cl_kernel(cl, "blur_v", &kv, err, errlen)) != 0)
        goto out;
    /* On a CPU device the buffers are the job's own memory (no copies, and
     * the 4-byte-per-sample intermediate is not allocated and faulted in
     * anew on every run); elsewhere device memory, the input copied in. */
    /* CPU devices: buffers on the job's memory and small work-groups; GPUs:
     * device buffers and copies. */
    bool cpu = pt__cl_cpu_path(cl);
    cl_mem_flags host = cpu ? CL_MEM_USE_HOST_PTR : 0;
    if ((ret = pt__cl_buffer(cl, CL_MEM_READ_ONLY | (cpu ? host : CL_MEM_COPY_HOST_PTR), n, s->in,
                             &din, err, errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_READ_WRITE | host, n * sizeof(float), cpu ? s->tmp : NULL,
                             &dtmp, err, errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_WRITE_ONLY | host, n, cpu ? s->out : NULL, &dout, err,
                             errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, taps * sizeof(float),
                             s->weights, &dwt, err, errlen)) != 0)
        goto out;

    cl_uint w = s->width, h = s->height, c = s->channels, r = s->radius;
    rc = clSetKernelArg(kh, 0, sizeof(din), &din);
    rc |= clSetKernelArg(kh, 1, sizeof(dtmp), &dtmp);
    rc |= clSetKernelArg(kh, 2, sizeof(dwt), &dwt);
    rc |= clSetKernelArg(kh, 3, sizeof(w), &w);
    rc |= clSetKernelArg(kh, 4, sizeof(h), &h);
    rc |= clSetKernelArg(kh, 5, sizeof(c), &c);
    rc |= clSetKernelArg(kh, 6, sizeof(r), &r);
    rc |= clSetKernelArg(kv, 0, sizeof(dtmp), &dtmp);
    rc |= clSetKernelArg(kv, 1, sizeof(dout), &dout);
    rc |= clSetKernelArg(kv, 2, sizeof(dwt), &dwt);
    rc |= clSetKernelArg(kv, 3, sizeof(w), &w);
    rc |= clSetKernelArg(kv, 4, sizeof(h), &h);
    rc |= clSetKernelArg(kv, 5, sizeof(c), &c);
    rc |= clSetKernelArg(kv, 6, sizeof(r), &r);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
        goto out;
    }
    /* A work-item does 16 consecutive samples of a row (see blur.cl). */
    size_t local[2] = {cpu ? 8 : 64, 1};
    if (local[0] > cl->info->max_work_group)
        local[0] = cl->info->max_work_group;
    size_t global[2] = {pt__round_up((wc + 15) / 16, local[0]), s->height};
    rc = clEnqueueNDRangeKernel(cl->queue, kh, 2, NULL, global, local, 0, NULL, NULL);
    if (rc == CL_SUCCESS)
        rc = clFinish(cl->queue);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel(blur_h)", err, errlen);
        goto out;
    }
    double t1 = pt__now();
    pt_job_record_phase(job, 0, t1 - t0);
    pt_job_progress_add(job, 1);
    rc = clEnqueueNDRangeKernel(cl->queue, kv, 2, NULL, global, local, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel(blur_v)", err, errlen);
        goto out;
    }
    if (cpu) {
        /* Mapping makes the kernel's writes visible in s->out (the host
         * pointer of the buffer); a CPU device maps in place. */
        void *m =
            clEnqueueMapBuffer(cl->queue, dout, CL_TRUE, CL_MAP_READ, 0, n, 0, NULL, NULL, &rc);
        if (rc == CL_SUCCESS)
            rc = clEnqueueUnmapMemObject(cl->queue, dout, m, 0, NULL, NULL);
        if (rc == CL_SUCCESS)
            rc = clFinish(cl->queue);
    } else {
        rc = clEnqueueReadBuffer(cl->queue, dout, CL_TRUE, 0, n, s->out, 0, NULL, NULL);
    }
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "reading the result", err, errlen);
        goto out;
    }
    pt_job_record_phase(job, 1, pt__now() - t1);
    pt_job_progress_add(job, 1);
    ret = 0;
out:
    if (dwt)
        clReleaseMemObject(dwt);
    if (dout)
        clReleaseMemObject(dout);
    if (dtmp)
        clReleaseMemObject(dtmp);
    if (din)
        clReleaseMemObject(din);
    if (kv)
        clReleaseKernel(kv);
    if (kh)
        clReleaseKernel(kh);
    return ret;
}
#endif /* PT_HAVE_OPENCL */

const pt_job_desc pt__job_blur = {
    .name = "blur",
    .summary = "Gaussian blur of a PNG into a PNG (separable, clamped edges)",
    .params = params,
    .nparams = sizeof(params) / sizeof(params[0]),
    .kernel = "blur",
    .state_size = sizeof(state),
    .setup = blur_setup,
    .range = blur_range,
#ifdef PT_HAVE_OPENCL
    .cl_run = blur_cl,
#endif
    .verify = blur_verify,
    .cost = blur_cost,
    .throughput = blur_throughput,
    .write_text = blur_text,
    .write_json = blur_json,
    .save = blur_save,
};

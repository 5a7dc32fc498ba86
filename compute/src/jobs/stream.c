/* jobs/stream.c - memory bandwidth, John McCalpin's STREAM kernels over three
 * arrays of doubles far larger than the cache.
 *
 * Each pass runs five phases in STREAM's order, each a parallel loop:
 *   0 copy   c = a          16 bytes per element (read a, write c)
 *   1 scale  b = s*c        16
 *   2 add    c = a + b      24
 *   3 triad  a = b + s*c    24
 *   4 dot    sum a[i]*b[i]  16 (a reduction)
 * GB/s are counted STREAM's way: the bytes the kernel names, reads plus
 * writes, 1 GB = 1e9 bytes. A plain store also reads the line it writes
 * (write-allocate), so a loop without streaming stores moves more than it is
 * credited with; that is STREAM's convention too. --ntimes passes run per
 * run, and each kernel's rate is its bytes over the time of all passes (the
 * average; STREAM prints the best, which is higher).
 *
 * The default --n gives every array at least 4x the last-level cache
 * (from sysfs), so the arrays stream from memory.
 *
 * SIMD: every kernel is compiled for AVX-512, AVX2 and the x86-64 baseline
 * (GCC vectors of the ISA's width) and picked at run time. With streaming
 * (non-temporal) stores the writes skip the read-for-ownership and go
 * straight to memory: the head of a range up to the first 64-byte line of
 * the destination, and the tail, use plain stores; chunks are multiples of
 * 8 doubles, so each cache line belongs to one chunk. An sfence ends every
 * range that streamed, before its completion is signalled. --stores auto
 * streams when the three arrays do not fit in the last-level cache.
 *
 * Exactness: copy, scale, add and triad are single IEEE operations per
 * element (no contraction to FMA: ISO C mode, and the OpenCL kernels switch
 * FP_CONTRACT off), so every backend and ISA gives bit-identical arrays.
 * The dot sums each chunk in 16 lanes (element begin+k goes to lane k mod
 * 16, the tail in order) and adds the lanes in a fixed tree, the same on
 * every ISA; chunk partials combine in chunk order, so the dot is
 * bit-identical on every CPU backend and ISA. OpenCL sums in work-group
 * order: its dot agrees within 2 (n + 2) 2^-53 relative, the rounding bound
 * of any summation order for these positive terms.
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

#define SCALAR 3.0 /* STREAM's s */

enum { K_COPY, K_SCALE, K_ADD, K_TRIAD, K_DOT, NKERNELS };

static const struct {
    const char *name, *formula;
    unsigned bytes; /* per element, STREAM's count */
} kernels[NKERNELS] = {
    {"copy", "c = a", 16},        {"scale", "b = s*c", 16}, {"add", "c = a + b", 24},
    {"triad", "a = b + s*c", 24}, {"dot", "sum a*b", 16},
};

enum { STORES_AUTO, STORES_STREAMING, STORES_NORMAL };

typedef struct state {
    double *a, *b, *c; /* job memory: n each, 64-byte aligned */
    size_t n;
    unsigned ntimes;
    bool nt;        /* streaming stores on the CPU */
    uint64_t llc;   /* last-level cache, bytes (0 unknown) */
    double dot;     /* the last pass's dot */
    bool on_device; /* the last run was OpenCL's */
} state;

/* --- the machine --------------------------------------------------------- */

/* Size in bytes of the highest-level CPU cache cpu0 reports in sysfs ("32K",
 * "32768K", "1M"), or 0 if unknown. */
static uint64_t llc_bytes(void)
{
    uint64_t best = 0;
    int best_level = -1;
    for (int i = 0; i < 16; i++) {
        char path[96], buf[64];
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "re");
        if (!f)
            break;
        int level = -1;
        if (fscanf(f, "%d", &level) != 1)
            level = -1;
        fclose(f);
        snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        f = fopen(path, "re");
        if (!f)
            continue;
        uint64_t v = 0;
        if (fgets(buf, sizeof(buf), f)) {
            char *end;
            v = strtoull(buf, &end, 10);
            if (*end == 'K')
                v <<= 10;
            else if (*end == 'M')
                v <<= 20;
            else if (*end == 'G')
                v <<= 30;
        }
        fclose(f);
        if (level > best_level || (level == best_level && v > best)) {
            best_level = level;
            best = v;
        }
    }
    return best;
}

#define DEFAULT_LLC (32u << 20) /* when sysfs says nothing */

static size_t round_up(size_t n, size_t m)
{
    return (n + m - 1) / m * m;
}

/* --- the kernels ----------------------------------------------------------- */

typedef double v2d __attribute__((vector_size(16)));

/* 16 lanes summed in a fixed tree: the same on every ISA. */
static inline double sum16(const double lane[16])
{
    double s[8];
    for (int k = 0; k < 8; k++)
        s[k] = lane[k] + lane[k + 8];
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

/* dst[i] = f(x[i], y[i]) for one kernel over [begin, end), V of the ISA's
 * width; NT_STORE(p, v) streams one vector to an aligned p. */
#define ELEMWISE_BODY(V, NT_STORE)                                                                 \
    enum { W = (int)(sizeof(V) / sizeof(double)) };                                                \
    const V sv = (V){0} + s;                                                                       \
    (void)sv;                                                                                      \
    size_t i = begin;                                                                              \
    if (nt) {                                                                                      \
        for (; i < end && ((uintptr_t)(dst + i) & 63u); i++)                                       \
            dst[i] = ELEM(x[i], y[i], s);                                                          \
        for (; i + 2 * W <= end; i += 2 * W) {                                                     \
            V x0, x1, y0, y1;                                                                      \
            memcpy(&x0, x + i, sizeof(V));                                                         \
            memcpy(&x1, x + i + W, sizeof(V));                                                     \
            memcpy(&y0, y + i, sizeof(V));                                                         \
            memcpy(&y1, y + i + W, sizeof(V));                                                     \
            NT_STORE(dst + i, ELEM(x0, y0, sv));                                                   \
            NT_STORE(dst + i + W, ELEM(x1, y1, sv));                                               \
        }                                                                                          \
    } else {                                                                                       \
        for (; i + W <= end; i += W) {                                                             \
            V x0, y0, r;                                                                           \
            memcpy(&x0, x + i, sizeof(V));                                                         \
            memcpy(&y0, y + i, sizeof(V));                                                         \
            r = ELEM(x0, y0, sv);                                                                  \
            memcpy(dst + i, &r, sizeof(V));                                                        \
        }                                                                                          \
    }                                                                                              \
    for (; i < end; i++)                                                                           \
        dst[i] = ELEM(x[i], y[i], s);

/* One function per kernel and ISA: ELEM is the element formula (the unused
 * operand's loads are dead and disappear). */
#define DEFINE_ELEMWISE(NAME, SUFFIX, TARGET, V, NT_STORE)                                         \
    TARGET static void NAME##_##SUFFIX(double *restrict dst, const double *restrict x,             \
                                       const double *restrict y, double s, size_t begin,           \
                                       size_t end, bool nt)                                        \
    {                                                                                              \
        (void)s, (void)y;                                                                          \
        ELEMWISE_BODY(V, NT_STORE)                                                                 \
    }

/* The dot over [begin, end): 16 lanes as 16 / W vectors of the ISA's width
 * (wider GCC vectors than the ISA's registers end up in memory). */
#define DEFINE_DOT(SUFFIX, TARGET, V)                                                              \
    TARGET static double dot_##SUFFIX(const double *restrict a, const double *restrict b,          \
                                      size_t begin, size_t end)                                    \
    {                                                                                              \
        enum { W = (int)(sizeof(V) / sizeof(double)), NV = 16 / W };                               \
        V acc[NV];                                                                                 \
        for (int p = 0; p < NV; p++)                                                               \
            acc[p] = (V){0};                                                                       \
        size_t i = begin;                                                                          \
        for (; i + 16 <= end; i += 16) {                                                           \
            _Pragma("GCC unroll 8") for (int p = 0; p < NV; p++)                                   \
            {                                                                                      \
                V x, y;                                                                            \
                memcpy(&x, a + i + p * W, sizeof(V));                                              \
                memcpy(&y, b + i + p * W, sizeof(V));                                              \
                acc[p] += x * y;                                                                   \
            }                                                                                      \
        }                                                                                          \
        double lane[16], tail = 0;                                                                 \
        memcpy(lane, acc, sizeof(lane));                                                           \
        for (; i < end; i++)                                                                       \
            tail += a[i] * b[i];                                                                   \
        return sum16(lane) + tail;                                                                 \
    }

/* Element formulas, for vectors (k = the scalar broadcast) and scalars. */
#define ELEM_COPY(x, y, k)  (x)
#define ELEM_SCALE(x, y, k) ((k) * (x))
#define ELEM_ADD(x, y, k)   ((x) + (y))
#define ELEM_TRIAD(x, y, k) ((x) + (k) * (y))

/* The baseline: SSE2 vectors, movntpd. */
#if PT__X86
static inline void nt_store_base(double *p, v2d v)
{
    _mm_stream_pd(p, (__m128d)v);
}
#else
static inline void nt_store_base(double *p, v2d v) /* no streaming store here */
{
    memcpy(p, &v, sizeof(v));
}
#endif
#define NT_BASE nt_store_base

#define TARGET_NONE
#define ELEM ELEM_COPY
DEFINE_ELEMWISE(copy, base, TARGET_NONE, v2d, NT_BASE)
#undef ELEM
#define ELEM ELEM_SCALE
DEFINE_ELEMWISE(scale, base, TARGET_NONE, v2d, NT_BASE)
#undef ELEM
#define ELEM ELEM_ADD
DEFINE_ELEMWISE(add, base, TARGET_NONE, v2d, NT_BASE)
#undef ELEM
#define ELEM ELEM_TRIAD
DEFINE_ELEMWISE(triad, base, TARGET_NONE, v2d, NT_BASE)
#undef ELEM
DEFINE_DOT(base, TARGET_NONE, v2d)

#if PT__X86
typedef double v4d __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

PT__TARGET_AVX2 static inline void nt_store_avx2(double *p, v4d v)
{
    _mm256_stream_pd(p, (__m256d)v);
}

PT__TARGET_AVX512 static inline void nt_store_avx512(double *p, v8d v)
{
    _mm512_stream_pd(p, (__m512d)v);
}

#define ELEM ELEM_COPY
DEFINE_ELEMWISE(copy, avx2, PT__TARGET_AVX2, v4d, nt_store_avx2)
DEFINE_ELEMWISE(copy, avx512, PT__TARGET_AVX512, v8d, nt_store_avx512)
#undef ELEM
#define ELEM ELEM_SCALE
DEFINE_ELEMWISE(scale, avx2, PT__TARGET_AVX2, v4d, nt_store_avx2)
DEFINE_ELEMWISE(scale, avx512, PT__TARGET_AVX512, v8d, nt_store_avx512)
#undef ELEM
#define ELEM ELEM_ADD
DEFINE_ELEMWISE(add, avx2, PT__TARGET_AVX2, v4d, nt_store_avx2)
DEFINE_ELEMWISE(add, avx512, PT__TARGET_AVX512, v8d, nt_store_avx512)
#undef ELEM
#define ELEM ELEM_TRIAD
DEFINE_ELEMWISE(triad, avx2, PT__TARGET_AVX2, v4d, nt_store_avx2)
DEFINE_ELEMWISE(triad, avx512, PT__TARGET_AVX512, v8d, nt_store_avx512)
#undef ELEM
DEFINE_DOT(avx2, PT__TARGET_AVX2, v4d)
DEFINE_DOT(avx512, PT__TARGET_AVX512, v8d)
#endif /* PT__X86 */

typedef void (*elem_fn)(double *restrict, const double *restrict, const double *restrict, double,
                        size_t, size_t, bool);
typedef double (*dot_fn)(const double *restrict, const double *restrict, size_t, size_t);

/* --- the job ------------------------------------------------------------- */

static const pt_param params[] = {
    {.name = "n",
     .type = PT_TYPE_U64,
     .help = "elements per array (default: each array 4x the last-level cache)",
     .min = 1,
     .max = 1e15,
     .metavar = "N"},
    {.name = "ntimes",
     .type = PT_TYPE_U64,
     .def = "5",
     .help = "passes of the five kernels per run; rates are over all of them",
     .min = 1,
     .max = 100,
     .metavar = "K"},
    {.name = "stores",
     .type = PT_TYPE_CHOICE,
     .def = "auto",
     .choices = "auto|streaming|normal",
     .help = "CPU stores: streaming (non-temporal), normal, auto = streaming when the arrays "
             "exceed the last-level cache",
     .metavar = "S"},
};

/* The initial a[i]: varied, so a misplaced element shows, and with full
 * mantissas, so the order of the dot's sum shows too. Exposed for tests. */
double pt__stream_a0(size_t i);
double pt__stream_a0(size_t i)
{
    return 1.0 + (double)(i % 1009) / 1009.0; /* not dyadic: sums round */
}

static void fill_initial(state *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->a[i] = pt__stream_a0(i);
}

static int stream_setup(pt_job *job, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    s->llc = llc_bytes();
    uint64_t llc = s->llc ? s->llc : DEFAULT_LLC;
    uint64_t n = pt_job_param_given(job, "n") ? pt_job_u64(job, "n") : 4 * llc / sizeof(double);
    s->ntimes = (unsigned)pt_job_u64(job, "ntimes");
    if (n > SIZE_MAX / 4)
        return pt__errf(err, errlen, PT_ERANGE, "stream: --n %llu: too large for this machine",
                        (unsigned long long)n);
    s->n = (size_t)n;
    /* One block for the three arrays, each padded to whole cache lines plus
     * one, so that for power-of-two sizes a[i], b[i] and c[i] are not a
     * multiple of 4 KiB apart (4K aliasing stalls, cache set conflicts). */
    size_t stride = round_up(s->n, 8) + 8;
    char what[96];
    snprintf(what, sizeof(what), "--n %llu (3 arrays of doubles)", (unsigned long long)n);
    double *block = pt__job_alloc_sized(job, pt__size_mul(pt__size_mul(stride, 3), sizeof(double)),
                                        what, err, errlen);
    if (!block)
        return PT_ENOMEM;
    s->a = block;
    s->b = block + stride;
    s->c = block + 2 * stride;
    const char *stores = pt_job_str(job, "stores");
    if (strcmp(stores, "streaming") == 0)
        s->nt = true;
    else if (strcmp(stores, "normal") == 0)
        s->nt = false;
    else
        s->nt = (double)s->n * 3 * sizeof(double) > (double)llc;
    /* Touch every page now (first use costs page faults, not bandwidth). */
    fill_initial(s);
    for (size_t i = 0; i < s->n; i++) {
        s->b[i] = 2.0;
        s->c[i] = 0.0;
    }
    /* Chunks of whole cache lines: at least 64 elements, at most 256 chunks. */
    size_t grain = round_up((s->n + PT__MAX_CHUNKS - 1) / PT__MAX_CHUNKS, 8);
    if (grain < 64)
        grain = 64;
    int rc = 0;
    for (unsigned p = 0; p < NKERNELS && !rc; p++)
        rc = pt_job_set_phase(job, p, s->n, grain, p == K_DOT ? sizeof(double) : 0);
    if (!rc)
        rc = pt_job_set_repeat(job, s->ntimes);
    return rc;
}

static int stream_reset(pt_job *job)
{
    state *s = pt_job_state(job);
    fill_initial(s); /* b and c are written before they are read */
    s->dot = 0;
    s->on_device = false;
    return 0;
}

static void stream_range(pt_job *job, unsigned phase, size_t begin, size_t end, void *partial)
{
    state *s = pt_job_state(job);
    pt__isa_level isa = pt__isa();
    elem_fn copy = copy_base, scale = scale_base, add = add_base, triad = triad_base;
    dot_fn dot = dot_base;
#if PT__X86
    if (isa == PT__ISA_AVX512) {
        copy = copy_avx512, scale = scale_avx512, add = add_avx512, triad = triad_avx512;
        dot = dot_avx512;
    } else if (isa == PT__ISA_AVX2) {
        copy = copy_avx2, scale = scale_avx2, add = add_avx2, triad = triad_avx2;
        dot = dot_avx2;
    }
#endif
    (void)isa;
    switch (phase) {
    case K_COPY:
        copy(s->c, s->a, s->a, SCALAR, begin, end, s->nt);
        break;
    case K_SCALE:
        scale(s->b, s->c, s->c, SCALAR, begin, end, s->nt);
        break;
    case K_ADD:
        add(s->c, s->a, s->b, SCALAR, begin, end, s->nt);
        break;
    case K_TRIAD:
        triad(s->a, s->b, s->c, SCALAR, begin, end, s->nt);
        break;
    default:
        *(double *)partial = dot(s->a, s->b, begin, end);
        return;
    }
#if PT__X86
    if (s->nt)
        _mm_sfence(); /* streamed lines reach memory before the chunk is reported done */
#endif
}

static void stream_combine(pt_job *job, unsigned phase, void *acc, const void *partial)
{
    (void)job, (void)phase;
    *(double *)acc += *(const double *)partial;
}

static void stream_phase_end(pt_job *job, unsigned phase, const void *acc)
{
    state *s = pt_job_state(job);
    if (phase == K_DOT)
        s->dot = *(const double *)acc;
}

/* The OpenCL dot's tolerance (relative): any order of summing n positive
 * terms is within (n-1) u of the exact sum (u = 2^-53), and the products
 * are rounded the same way, so two orders differ by at most 2 (n + 2) u. */
static double dot_tolerance(size_t n)
{
    return 2.0 * ((double)n + 2.0) * 0x1p-53;
}

static int stream_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    const state *x = pt_job_state(job), *r = pt_job_state(ref);
    if (x->n != r->n)
        return pt__errf(err, errlen, PT_EVERIFY, "stream: n = %zu, reference has %zu", x->n, r->n);
    const double *arr[3] = {x->a, x->b, x->c}, *rarr[3] = {r->a, r->b, r->c};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < x->n; i++)
            if (memcmp(&arr[k][i], &rarr[k][i], sizeof(double)) != 0)
                return pt__errf(err, errlen, PT_EVERIFY,
                                "stream: %c[%zu] = %.17g, reference has %.17g", "abc"[k], i,
                                arr[k][i], rarr[k][i]);
    if (x->on_device || r->on_device) {
        double tol = dot_tolerance(x->n);
        double rel = fabs(x->dot - r->dot) / fabs(r->dot);
        if (!(rel <= tol))
            return pt__errf(err, errlen, PT_EVERIFY,
                            "stream: dot = %.17g, reference has %.17g (relative difference %.3g > "
                            "%.3g)",
                            x->dot, r->dot, rel, tol);
    } else if (memcmp(&x->dot, &r->dot, sizeof(double)) != 0) {
        return pt__errf(err, errlen, PT_EVERIFY, "stream: dot = %.17g, reference has %.17g", x->dot,
                        r->dot);
    }
    return 0;
}

/* Bytes one pass of kernel k moves (STREAM's count). */
static double kernel_bytes(const state *s, unsigned k)
{
    return (double)kernels[k].bytes * (double)s->n;
}

static double stream_cost(const pt_job *job)
{
    const state *s = pt_job_state(job);
    return 96.0 * (double)s->n * s->ntimes / 20e9; /* at about 20 GB/s */
}

static double stream_throughput(const pt_job *job, double seconds, const char **unit)
{
    const state *s = pt_job_state(job);
    double bytes = 0;
    for (unsigned k = 0; k < NKERNELS; k++)
        bytes += kernel_bytes(s, k);
    *unit = "B/s";
    return bytes * s->ntimes / seconds;
}

/* Kernel k's rate in GB/s over the last run's passes, 0 if not timed. */
static double kernel_gbs(const pt_job *job, unsigned k)
{
    const state *s = pt_job_state(job);
    double t = pt_job_phase_seconds(job, k);
    return t > 0 ? kernel_bytes(s, k) * s->ntimes / t / 1e9 : 0.0;
}

static int stream_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    const state *s = pt_job_state(job);
    char line[256];
    int len;
    if (!(flags & PT_OUT_QUIET)) {
        len = snprintf(line, sizeof(line),
                       "stream: %zu doubles per array (%.1f MiB each, last-level cache %.1f MiB), "
                       "%u pass%s, %s stores\n",
                       s->n, (double)s->n * 8 / (1 << 20), (double)s->llc / (1 << 20), s->ntimes,
                       s->ntimes == 1 ? "" : "es",
                       s->on_device ? "device"
                       : s->nt      ? "streaming"
                                    : "normal");
        if (write(ctx, line, (size_t)len))
            return PT_EIO;
        len = snprintf(line, sizeof(line), "%-6s %-12s %8s %12s %12s\n", "kernel", "", "bytes/el",
                       "GB/s", "time/pass");
        if (write(ctx, line, (size_t)len))
            return PT_EIO;
    }
    for (unsigned k = 0; k < NKERNELS; k++) {
        double t = pt_job_phase_seconds(job, k) / s->ntimes;
        if (flags & PT_OUT_QUIET)
            len =
                snprintf(line, sizeof(line), "%s %.2f GB/s\n", kernels[k].name, kernel_gbs(job, k));
        else
            len = snprintf(line, sizeof(line), "%-6s %-12s %8u %12.2f %9.3f ms\n", kernels[k].name,
                           kernels[k].formula, kernels[k].bytes, kernel_gbs(job, k), t * 1e3);
        if (write(ctx, line, (size_t)len))
            return PT_EIO;
    }
    len = snprintf(line, sizeof(line), "dot = %.17g\n", s->dot);
    if (write(ctx, line, (size_t)len))
        return PT_EIO;
    if (!(flags & PT_OUT_QUIET)) {
        len = snprintf(line, sizeof(line),
                       "GB/s count STREAM's bytes (reads + writes named by the kernel; 1 GB = "
                       "1e9 B), averaged over the passes\n");
        if (write(ctx, line, (size_t)len))
            return PT_EIO;
    }
    return 0;
}

static int stream_json(const pt_job *job, pt_json *j)
{
    const state *s = pt_job_state(job);
    pt_json_key(j, "n");
    pt_json_uint(j, s->n);
    pt_json_key(j, "array_bytes");
    pt_json_uint(j, (uint64_t)s->n * sizeof(double));
    pt_json_key(j, "llc_bytes");
    pt_json_uint(j, s->llc);
    pt_json_key(j, "ntimes");
    pt_json_uint(j, s->ntimes);
    pt_json_key(j, "stores");
    pt_json_str(j, s->on_device ? "device" : s->nt ? "streaming" : "normal");
    pt_json_key(j, "isa");
    pt_json_str(j, s->on_device ? NULL : pt__isa_name(pt__isa()));
    pt_json_key(j, "kernels");
    pt_json_array_begin(j);
    for (unsigned k = 0; k < NKERNELS; k++) {
        pt_json_object_begin(j);
        pt_json_key(j, "name");
        pt_json_str(j, kernels[k].name);
        pt_json_key(j, "bytes_per_element");
        pt_json_uint(j, kernels[k].bytes);
        pt_json_key(j, "seconds");
        pt_json_double(j, pt_job_phase_seconds(job, k));
        pt_json_key(j, "gbps");
        pt_json_double(j, kernel_gbs(job, k));
        pt_json_object_end(j);
    }
    pt_json_array_end(j);
    pt_json_key(j, "dot");
    pt_json_double(j, s->dot);
    return pt_json_error(j);
}

/* Read-only views for tests: the arrays and the dot. */
void pt__stream_view(const pt_job *job, const double **a, const double **b, const double **c,
                     double *dot);
void pt__stream_view(const pt_job *job, const double **a, const double **b, const double **c,
                     double *dot)
{
    const state *s = pt_job_state(job);
    *a = s->a;
    *b = s->b;
    *c = s->c;
    *dot = s->dot;
}

#ifdef PT_HAVE_OPENCL
static int set_args(pt_cl *cl, cl_kernel k, cl_mem dst, cl_mem x, cl_mem y, cl_ulong n,
                    cl_ulong per, char *err, size_t errlen)
{
    cl_double sc = SCALAR;
    cl_int rc = clSetKernelArg(k, 0, sizeof(cl_mem), &dst);
    rc |= clSetKernelArg(k, 1, sizeof(cl_mem), &x);
    rc |= clSetKernelArg(k, 2, sizeof(cl_mem), &y);
    rc |= clSetKernelArg(k, 3, sizeof(sc), &sc);
    rc |= clSetKernelArg(k, 4, sizeof(n), &n);
    rc |= clSetKernelArg(k, 5, sizeof(per), &per);
    return rc == CL_SUCCESS ? 0 : pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
}

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

static int stream_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    cl_kernel k[NKERNELS] = {NULL};
    cl_mem ba = NULL, bb = NULL, bc = NULL, bp = NULL;
    double *partials = NULL;
    int ret;
    cl_int rc;
    static const char *const names[NKERNELS] = {"stream_copy", "stream_scale", "stream_add",
                                                "stream_triad", "stream_dot"};
    if (!cl->info->fp64)
        return pt__errf(err, errlen, PT_ENOSYS,
                        "stream: the OpenCL device (%s) has no double precision", cl->info->name);
    for (unsigned i = 0; i < NKERNELS; i++)
        if ((ret = pt__cl_kernel(cl, names[i], &k[i], err, errlen)) != 0)
            goto out;
    size_t bytes = s->n * sizeof(double);
    if ((ret = pt__cl_buffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, s->a, &ba, err,
                             errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, s->b, &bb, err,
                             errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, s->c, &bc, err,
                             errlen)) != 0) {
        ret = devmem_names(ret, "stream", "--n", s->n, err, errlen);
        goto out;
    }
    /* Work-groups of 64 (a power of two, for the dot's tree). A CPU device
     * gets 16 groups per compute unit, each work-item a contiguous run of
     * whole cache lines; a GPU up to 4096 groups striding over the arrays. */
    size_t local = 64;
    while (local > cl->info->max_work_group)
        local /= 2;
    bool cpu = strcmp(cl->info->type, "CPU") == 0;
    size_t groups = cpu ? (size_t)cl->info->compute_units * 16 : 4096;
    size_t need = (s->n + local - 1) / local;
    if (groups > need)
        groups = need;
    if (groups < 1)
        groups = 1;
    size_t global = groups * local;
    cl_ulong per = 0;
    if (cpu) {
        per = (s->n + global - 1) / global;
        per = (per + 7) / 8 * 8; /* whole 64-byte lines */
    }
    partials = malloc(groups * sizeof(double));
    if (!partials) {
        ret = pt__errf(err, errlen, PT_ENOMEM, "stream: out of memory");
        goto out;
    }
    if ((ret = pt__cl_buffer(cl, CL_MEM_READ_WRITE, groups * sizeof(double), NULL, &bp, err,
                             errlen)) != 0)
        goto out;
    cl_ulong n = s->n;
    if ((ret = set_args(cl, k[K_COPY], bc, ba, ba, n, per, err, errlen)) != 0 ||
        (ret = set_args(cl, k[K_SCALE], bb, bc, bc, n, per, err, errlen)) != 0 ||
        (ret = set_args(cl, k[K_ADD], bc, ba, bb, n, per, err, errlen)) != 0 ||
        (ret = set_args(cl, k[K_TRIAD], ba, bb, bc, n, per, err, errlen)) != 0 ||
        (ret = set_args(cl, k[K_DOT], bp, ba, bb, n, per, err, errlen)) != 0)
        goto out;
    rc = clSetKernelArg(k[K_DOT], 6, sizeof(double) * local, NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
        goto out;
    }
    pt_job_progress_total(job, (uint64_t)s->ntimes * NKERNELS);
    for (unsigned r = 0; r < s->ntimes; r++) {
        for (unsigned p = 0; p < NKERNELS; p++) {
            double t0 = pt__now();
            rc = clEnqueueNDRangeKernel(cl->queue, k[p], 1, NULL, &global, &local, 0, NULL, NULL);
            if (rc != CL_SUCCESS) {
                ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel", err, errlen);
                goto out;
            }
            if (p == K_DOT) {
                rc = clEnqueueReadBuffer(cl->queue, bp, CL_TRUE, 0, groups * sizeof(double),
                                         partials, 0, NULL, NULL);
                double sum = 0;
                for (size_t g = 0; g < groups; g++)
                    sum += partials[g];
                s->dot = sum;
            } else {
                rc = clFinish(cl->queue);
            }
            if (rc != CL_SUCCESS) {
                ret = pt__cl_fail(cl, rc, p == K_DOT ? "clEnqueueReadBuffer" : "clFinish", err,
                                  errlen);
                goto out;
            }
            pt_job_record_phase(job, p, pt__now() - t0);
            pt_job_progress_add(job, 1);
        }
    }
    rc = clEnqueueReadBuffer(cl->queue, ba, CL_FALSE, 0, bytes, s->a, 0, NULL, NULL);
    rc |= clEnqueueReadBuffer(cl->queue, bb, CL_FALSE, 0, bytes, s->b, 0, NULL, NULL);
    rc |= clEnqueueReadBuffer(cl->queue, bc, CL_TRUE, 0, bytes, s->c, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueReadBuffer", err, errlen);
        goto out;
    }
    s->on_device = true;
    ret = 0;
out:
    free(partials);
    if (bp)
        clReleaseMemObject(bp);
    if (bc)
        clReleaseMemObject(bc);
    if (bb)
        clReleaseMemObject(bb);
    if (ba)
        clReleaseMemObject(ba);
    for (unsigned i = 0; i < NKERNELS; i++)
        if (k[i])
            clReleaseKernel(k[i]);
    return ret;
}
#endif /* PT_HAVE_OPENCL */

const pt_job_desc pt__job_stream = {
    .name = "stream",
    .summary = "memory bandwidth: STREAM's copy, scale, add, triad and dot, in GB/s",
    .params = params,
    .nparams = sizeof(params) / sizeof(params[0]),
    .kernel = "stream",
    .state_size = sizeof(state),
    .setup = stream_setup,
    .reset = stream_reset,
    .range = stream_range,
    .combine = stream_combine,
    .phase_end = stream_phase_end,
#ifdef PT_HAVE_OPENCL
    .cl_run = stream_cl,
#endif
    .verify = stream_verify,
    .cost = stream_cost,
    .throughput = stream_throughput,
    .write_text = stream_text,
    .write_json = stream_json,
};

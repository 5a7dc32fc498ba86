/* jobs/histogram.c - N values into B bins: the course's Lock lesson,
 * measured.
 *
 * Input: n 32-bit values from a seeded generator (splitmix64), squared so
 * that small values are more frequent: bin k gets about a share
 * proportional to 1/sqrt(k + 1/2) of the values, so the bins differ.
 * Value v falls in bin floor(v * bins / 2^32), the high half of a 32x32-bit
 * product: every bin covers an equal slice of the 32-bit range.
 *
 * Strategies on the CPU backends (the course's bank-balance race, fixed
 * three ways):
 *   lock     one mutex shared by every worker, taken around every single
 *            increment. For the processes backend it lives in job memory
 *            with PTHREAD_PROCESS_SHARED, so forked workers share it.
 *   atomic   __atomic_fetch_add on the shared bins, no lock.
 *   private  every chunk counts into its own bins (its partial result),
 *            merged in chunk order at the end: no sharing at all.
 * Each range function first maps a block of 64 values to bin numbers with
 * the ISA's vectors (AVX-512, AVX2 or the baseline, picked at run time),
 * then increments the bins one by one, which no vector unit can do faster
 * when bins collide.
 *
 * OpenCL: every work-group counts its slice of the values into bins in
 * local memory (atomic_inc on __local), then adds its non-zero bins to the
 * global ones with atomic_add. Global counters are 64 bits made of two
 * 32-bit words: a group adds less than 2^32 to a bin (each group has fewer
 * than 2^31 values), and whoever makes the low word wrap adds one to the
 * high word, so the sum is exact in any order. When the bins do not fit in
 * local memory the kernel increments the global counters directly. The
 * --strategy applies to the CPU backends only.
 *
 * Counts are exact on every backend and strategy: verify wants them equal
 * to serial's, bin by bin.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_job.h"
#include "internal.h"
#include "simd.h"

enum { S_LOCK, S_ATOMIC, S_PRIVATE };
static const char *const strategy_names[] = {"lock", "atomic", "private"};

#define BLOCK          64           /* values mapped to bins per vector step */
#define PARTIAL_BUDGET (256u << 20) /* bytes of private bins per phase, at most */
#define MAX_BINS       (1u << 24)

typedef struct state {
    uint32_t *values;      /* job memory, n */
    uint64_t *counts;      /* job memory, bins */
    pthread_mutex_t *lock; /* job memory; process-shared */
    bool lock_ready;
    size_t n;
    uint32_t bins;
    int strategy;
    uint64_t seed;
    bool on_device; /* the last run was OpenCL's */
    bool cl_global; /* ... with global atomics (bins too many for local memory) */
    size_t nchunks; /* chunks of the CPU phase */
} state;

/* --- input ----------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Value i of the input for seed: a uniform 32-bit x, squared (x^2 / 2^32),
 * so small values are likelier. Exposed for tests. */
uint32_t pt__histogram_value(uint64_t seed, size_t i);
uint32_t pt__histogram_value(uint64_t seed, size_t i)
{
    uint64_t x = splitmix64(seed * 0x100000001B3ull + i) >> 32;
    return (uint32_t)((x * x) >> 32);
}

/* --- mapping values to bins (vectorised) ------------------------------------ */

/* idx[k] = (v[k] * bins) >> 32 for k < BLOCK, W values at a time: U holds W
 * 32-bit values, Q the W 64-bit products, a register of the ISA. */
#define MAP_BODY(U, Q)                                                                             \
    enum { W = (int)(sizeof(U) / sizeof(uint32_t)) };                                              \
    const Q b = (Q){0} + bins;                                                                     \
    for (int k = 0; k < BLOCK; k += W) {                                                           \
        U x;                                                                                       \
        memcpy(&x, v + k, sizeof(x));                                                              \
        Q p = __builtin_convertvector(x, Q) * b;                                                   \
        U r = __builtin_convertvector(p >> 32, U);                                                 \
        memcpy(idx + k, &r, sizeof(r));                                                            \
    }

typedef uint32_t v2u __attribute__((vector_size(8)));
typedef uint64_t v2q __attribute__((vector_size(16)));

static void map_base(const uint32_t *v, uint32_t *idx, uint32_t bins)
{
    MAP_BODY(v2u, v2q)
}

#if PT__X86
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef uint64_t v4q __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));
typedef uint64_t v8q __attribute__((vector_size(64)));

PT__TARGET_AVX2 static void map_avx2(const uint32_t *v, uint32_t *idx,
                                     uint32_t bins){MAP_BODY(v4u, v4q)}

PT__TARGET_AVX512 static void map_avx512(const uint32_t *v, uint32_t *idx, uint32_t bins)
{
    MAP_BODY(v8u, v8q)
}
#endif /* PT__X86 */

typedef void (*map_fn)(const uint32_t *, uint32_t *, uint32_t);

static map_fn pick_map(void)
{
#if PT__X86
    pt__isa_level isa = pt__isa();
    if (isa == PT__ISA_AVX512)
        return map_avx512;
    if (isa == PT__ISA_AVX2)
        return map_avx2;
#endif
    return map_base;
}

static inline uint32_t bin_of(uint32_t v, uint32_t bins)
{
    return (uint32_t)(((uint64_t)v * bins) >> 32);
}

/* --- the job ------------------------------------------------------------- */

static const pt_param params[] = {
    {.name = "n",
     .type = PT_TYPE_U64,
     .def = "10000000",
     .help = "number of values",
     .min = 1,
     .max = 1e13,
     .metavar = "N"},
    {.name = "bins",
     .type = PT_TYPE_U64,
     .def = "256",
     .help = "number of bins (at most 2^24)",
     .min = 1,
     .max = MAX_BINS,
     .metavar = "B"},
    {.name = "strategy",
     .type = PT_TYPE_CHOICE,
     .def = "private",
     .choices = "lock|atomic|private",
     .help = "CPU backends: lock = one shared mutex per increment, atomic = atomic adds, "
             "private = per-chunk bins merged at the end",
     .metavar = "S"},
    {.name = "seed",
     .type = PT_TYPE_U64,
     .def = "1",
     .help = "seed of the generated values",
     .metavar = "SEED"},
};

static int histogram_setup(pt_job *job, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    uint64_t n = pt_job_u64(job, "n");
    s->bins = (uint32_t)pt_job_u64(job, "bins");
    s->seed = pt_job_u64(job, "seed");
    const char *st = pt_job_str(job, "strategy");
    s->strategy = !strcmp(st, "lock") ? S_LOCK : !strcmp(st, "atomic") ? S_ATOMIC : S_PRIVATE;
    if (n > SIZE_MAX / 8)
        return pt__errf(err, errlen, PT_ERANGE, "histogram: --n %llu: too large for this machine",
                        (unsigned long long)n);
    s->n = (size_t)n;
    char what[64];
    snprintf(what, sizeof(what), "--n %llu (32-bit values)", (unsigned long long)n);
    s->values = pt__job_alloc_sized(job, pt__size_mul(s->n, sizeof(uint32_t)), what, err, errlen);
    if (!s->values)
        return PT_ENOMEM;
    s->counts = pt_job_alloc(job, (size_t)s->bins * sizeof(uint64_t));
    s->lock = pt_job_alloc(job, sizeof(pthread_mutex_t));
    if (!s->counts || !s->lock)
        return pt__errf(err, errlen, PT_ENOMEM, "histogram: out of memory for %u bins", s->bins);
    pthread_mutexattr_t attr;
    int e = pthread_mutexattr_init(&attr);
    if (!e) {
        /* The processes backend's workers take this same lock. */
        e = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
        if (!e)
            e = pthread_mutex_init(s->lock, &attr);
        pthread_mutexattr_destroy(&attr);
    }
    if (e)
        return pt__errf(err, errlen, -e, "histogram: cannot create the shared lock: %s",
                        pt_strerror(-e));
    s->lock_ready = true;
    for (size_t i = 0; i < s->n; i++)
        s->values[i] = pt__histogram_value(s->seed, i);

    size_t grain = 4096, partial = 0;
    if (s->strategy == S_PRIVATE) {
        /* Private bins cost memory and a merge per chunk: at most
         * PARTIAL_BUDGET bytes of them, and no more chunks than n / bins
         * (a chunk should count at least as many values as it has bins). */
        partial = (size_t)s->bins * sizeof(uint64_t);
        size_t max_chunks = PARTIAL_BUDGET / partial;
        size_t by_n = s->n / s->bins;
        if (by_n < max_chunks)
            max_chunks = by_n;
        if (max_chunks > PT__MAX_CHUNKS)
            max_chunks = PT__MAX_CHUNKS;
        if (max_chunks < 1)
            max_chunks = 1;
        grain = (s->n + max_chunks - 1) / max_chunks;
        if (grain < BLOCK && s->n > BLOCK)
            grain = BLOCK;
    }
    size_t chunk = (s->n + PT__MAX_CHUNKS - 1) / PT__MAX_CHUNKS;
    if (chunk < grain)
        chunk = grain;
    s->nchunks = (s->n + chunk - 1) / chunk;
    return pt_job_set_phase(job, 0, s->n, grain, partial);
}

static int histogram_reset(pt_job *job)
{
    state *s = pt_job_state(job);
    memset(s->counts, 0, (size_t)s->bins * sizeof(uint64_t));
    s->on_device = false;
    s->cl_global = false;
    return 0;
}

static void histogram_range(pt_job *job, unsigned phase, size_t begin, size_t end, void *partial)
{
    (void)phase;
    state *s = pt_job_state(job);
    const uint32_t bins = s->bins;
    const uint32_t *v = s->values;
    map_fn map = pick_map();
    uint32_t idx[BLOCK];
    size_t i = begin;
    while (i < end) {
        size_t m = end - i < BLOCK ? end - i : BLOCK;
        if (m == BLOCK) {
            map(v + i, idx, bins);
        } else {
            for (size_t k = 0; k < m; k++)
                idx[k] = bin_of(v[i + k], bins);
        }
        switch (s->strategy) {
        case S_LOCK:
            for (size_t k = 0; k < m; k++) {
                pthread_mutex_lock(s->lock);
                s->counts[idx[k]]++;
                pthread_mutex_unlock(s->lock);
            }
            break;
        case S_ATOMIC:
            for (size_t k = 0; k < m; k++)
                __atomic_fetch_add(&s->counts[idx[k]], 1, __ATOMIC_RELAXED);
            break;
        default: {
            uint64_t *h = partial;
            for (size_t k = 0; k < m; k++)
                h[idx[k]]++;
            break;
        }
        }
        i += m;
    }
}

static void histogram_combine(pt_job *job, unsigned phase, void *acc, const void *partial)
{
    (void)phase;
    const state *s = pt_job_state(job);
    uint64_t *a = acc;
    const uint64_t *p = partial;
    for (uint32_t b = 0; b < s->bins; b++)
        a[b] += p[b];
}

static void histogram_phase_end(pt_job *job, unsigned phase, const void *acc)
{
    (void)phase;
    state *s = pt_job_state(job);
    if (s->strategy == S_PRIVATE && acc)
        memcpy(s->counts, acc, (size_t)s->bins * sizeof(uint64_t));
}

static void histogram_teardown(pt_job *job)
{
    state *s = pt_job_state(job);
    if (s && s->lock_ready)
        pthread_mutex_destroy(s->lock);
}

static uint64_t total_count(const state *s)
{
    uint64_t t = 0;
    for (uint32_t b = 0; b < s->bins; b++)
        t += s->counts[b];
    return t;
}

static int histogram_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    const state *x = pt_job_state(job), *r = pt_job_state(ref);
    if (x->n != r->n || x->bins != r->bins)
        return pt__errf(err, errlen, PT_EVERIFY,
                        "histogram: %zu values in %u bins, reference has %zu in %u", x->n, x->bins,
                        r->n, r->bins);
    for (uint32_t b = 0; b < x->bins; b++)
        if (x->counts[b] != r->counts[b])
            return pt__errf(err, errlen, PT_EVERIFY,
                            "histogram: bin %u has %llu values, reference has %llu", b,
                            (unsigned long long)x->counts[b], (unsigned long long)r->counts[b]);
    uint64_t t = total_count(x);
    if (t != x->n)
        return pt__errf(err, errlen, PT_EVERIFY, "histogram: bins hold %llu values, not %zu",
                        (unsigned long long)t, x->n);
    return 0;
}

static double histogram_cost(const pt_job *job)
{
    const state *s = pt_job_state(job);
    static const double per_value[] = {30e-9, 5e-9, 1e-9};
    return (double)s->n * per_value[s->strategy];
}

static double histogram_throughput(const pt_job *job, double seconds, const char **unit)
{
    const state *s = pt_job_state(job);
    *unit = "values/s";
    return (double)s->n / seconds;
}

static const char *how(const state *s)
{
    if (!s->on_device)
        return strategy_names[s->strategy];
    return s->cl_global ? "device: global atomics" : "device: local-memory bins";
}

static int histogram_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    const state *s = pt_job_state(job);
    char line[192];
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t b = 0; b < s->bins; b++) {
        lo = s->counts[b] < lo ? s->counts[b] : lo;
        hi = s->counts[b] > hi ? s->counts[b] : hi;
    }
    int len = snprintf(line, sizeof(line),
                       "histogram: %zu values in %u bins (%s): total %llu, fullest bin %llu, "
                       "emptiest %llu\n",
                       s->n, s->bins, how(s), (unsigned long long)total_count(s),
                       (unsigned long long)hi, (unsigned long long)lo);
    if (write(ctx, line, (size_t)len))
        return PT_EIO;
    if (flags & PT_OUT_QUIET)
        return 0;
    for (uint32_t b = 0; b < s->bins; b++) {
        len = snprintf(line, sizeof(line), "%u %llu\n", b, (unsigned long long)s->counts[b]);
        if (write(ctx, line, (size_t)len))
            return PT_EIO;
    }
    return 0;
}

static int histogram_json(const pt_job *job, pt_json *j)
{
    const state *s = pt_job_state(job);
    pt_json_key(j, "n");
    pt_json_uint(j, s->n);
    pt_json_key(j, "bins");
    pt_json_uint(j, s->bins);
    pt_json_key(j, "strategy");
    pt_json_str(j, how(s));
    pt_json_key(j, "chunks");
    pt_json_uint(j, s->on_device ? 0 : s->nchunks);
    pt_json_key(j, "total");
    pt_json_uint(j, total_count(s));
    pt_json_key(j, "counts");
    pt_json_array_begin(j);
    for (uint32_t b = 0; b < s->bins; b++)
        pt_json_uint(j, s->counts[b]);
    pt_json_array_end(j);
    return pt_json_error(j);
}

/* Read-only view for tests. */
const uint64_t *pt__histogram_counts(const pt_job *job, uint32_t *bins);
const uint64_t *pt__histogram_counts(const pt_job *job, uint32_t *bins)
{
    const state *s = pt_job_state(job);
    *bins = s->bins;
    return s->counts;
}

#ifdef PT_HAVE_OPENCL
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

static int histogram_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    cl_kernel k = NULL;
    cl_mem vals = NULL, cnt = NULL;
    cl_uint *words = NULL;
    int ret;
    cl_int rc;
    double t0 = pt__now();
    size_t local = 256;
    if (local > cl->info->max_work_group)
        local = cl->info->max_work_group;
    /* Local bins need bins x 4 bytes; keep some room for the driver. */
    bool use_local = (uint64_t)s->bins * sizeof(cl_uint) + 1024 <= cl->info->local_mem;
    s->cl_global = !use_local;
    ret = pt__cl_kernel(cl, use_local ? "histogram_local" : "histogram_global", &k, err, errlen);
    if (ret)
        goto out;
    ret = pt__cl_buffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, s->n * sizeof(cl_uint),
                        s->values, &vals, err, errlen);
    if (ret) {
        ret = devmem_names(ret, "histogram", "--n", s->n, err, errlen);
        goto out;
    }
    /* lo words in [0, bins), hi words in [bins, 2 bins) */
    size_t cbytes = 2 * (size_t)s->bins * sizeof(cl_uint);
    ret = pt__cl_buffer(cl, CL_MEM_READ_WRITE, cbytes, NULL, &cnt, err, errlen);
    if (ret) {
        ret = devmem_names(ret, "histogram", "--bins", s->bins, err, errlen);
        goto out;
    }
    cl_uint zero = 0;
    rc = clEnqueueFillBuffer(cl->queue, cnt, &zero, sizeof(zero), 0, cbytes, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueFillBuffer", err, errlen);
        goto out;
    }
    /* Groups: a few per compute unit, each with fewer than 2^31 values and
     * at least one value per work-item. */
    size_t groups = (size_t)cl->info->compute_units * 4;
    size_t need = (size_t)((s->n + (1ull << 31) - 1) >> 31);
    if (groups < need)
        groups = need;
    size_t most = (s->n + local - 1) / local;
    if (groups > most)
        groups = most > need ? most : need;
    if (groups < 1)
        groups = 1;
    size_t global = groups * local;
    cl_ulong n = s->n;
    cl_uint bins = s->bins;
    rc = clSetKernelArg(k, 0, sizeof(cl_mem), &vals);
    rc |= clSetKernelArg(k, 1, sizeof(n), &n);
    rc |= clSetKernelArg(k, 2, sizeof(bins), &bins);
    rc |= clSetKernelArg(k, 3, sizeof(cl_mem), &cnt);
    if (use_local)
        rc |= clSetKernelArg(k, 4, (size_t)s->bins * sizeof(cl_uint), NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
        goto out;
    }
    rc = clEnqueueNDRangeKernel(cl->queue, k, 1, NULL, &global, &local, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel", err, errlen);
        goto out;
    }
    words = malloc(cbytes);
    if (!words) {
        ret = pt__errf(err, errlen, PT_ENOMEM, "histogram: out of memory");
        goto out;
    }
    rc = clEnqueueReadBuffer(cl->queue, cnt, CL_TRUE, 0, cbytes, words, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueReadBuffer", err, errlen);
        goto out;
    }
    for (uint32_t b = 0; b < s->bins; b++)
        s->counts[b] = ((uint64_t)words[s->bins + b] << 32) | words[b];
    s->on_device = true;
    pt_job_record_phase(job, 0, pt__now() - t0);
    ret = 0;
out:
    free(words);
    if (cnt)
        clReleaseMemObject(cnt);
    if (vals)
        clReleaseMemObject(vals);
    if (k)
        clReleaseKernel(k);
    return ret;
}
#endif /* PT_HAVE_OPENCL */

const pt_job_desc pt__job_histogram = {
    .name = "histogram",
    .summary = "N values into B bins: one lock, atomics or private bins (the course's Lock)",
    .params = params,
    .nparams = sizeof(params) / sizeof(params[0]),
    .kernel = "histogram",
    .state_size = sizeof(state),
    .setup = histogram_setup,
    .reset = histogram_reset,
    .range = histogram_range,
    .combine = histogram_combine,
    .phase_end = histogram_phase_end,
#ifdef PT_HAVE_OPENCL
    .cl_run = histogram_cl,
#endif
    .verify = histogram_verify,
    .cost = histogram_cost,
    .throughput = histogram_throughput,
    .write_text = histogram_text,
    .write_json = histogram_json,
    .teardown = histogram_teardown,
};

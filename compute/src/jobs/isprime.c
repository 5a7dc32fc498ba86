/* jobs/isprime.c - primality of a list of unsigned 64-bit numbers, the
 * course's CPU-bound example.
 *
 * Methods:
 *   mr     deterministic Miller-Rabin: the seven bases of Jim Sinclair
 *          (2, 325, 9375, 28178, 450775, 9780504, 1795265022) have no strong
 *          pseudoprime below 2^64, so the answer is exact for every 64-bit n.
 *          Montgomery multiplication, no division in the loop.
 *   trial  the course's algorithm: divide by 2, then by every odd d up to
 *          floor(sqrt(n)) (an exact integer square root).
 *
 * Vectorised trial division. Division is the whole cost, and there is no
 * vector integer division, so each lane computes the quotient in double
 * precision and then checks it exactly:
 *   n < 2^52:  q = round(n / d), r = n - q*d in doubles. Every value is an
 *              integer below 2^53, so r is exact. If d | n the quotient is
 *              exactly representable, the division returns it, and r = 0.
 *              If d does not divide n, no integer q makes n - q*d zero. So
 *              r == 0 exactly when d divides n: no false answer either way.
 *   n >= 2^52 (AVX-512 only, d >= 2049): q = trunc(fl(n) / d) as u64,
 *              r = n - q*d in wrapping 64-bit integers. fl(n) is within 2^10
 *              of n, and the rounded quotient within 1 of n/d (d >= 2^11),
 *              so q is within 2 of n/d and r lies in (-2d, 2d): d | n exactly
 *              when r is 0, d or -d.
 * Smaller divisors, the tail and CPUs without AVX-512 for big n use the
 * plain `%` loop. Tests compare all of it against a naive reference.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_job.h"
#include "internal.h"
#include "simd.h"

enum { METHOD_MR = 0, METHOD_TRIAL = 1 };

#define COURSE_N     112272535095293ull
#define COURSE_COUNT 100

typedef struct state {
    uint64_t *numbers; /* job memory */
    uint8_t *prime;    /* job memory: 1 prime, 0 composite */
    size_t count;
    int method;
} state;

/* --- arithmetic ---------------------------------------------------------- */

uint64_t pt__isqrt64(uint64_t n)
{
    uint64_t r = (uint64_t)sqrt((double)n);
    /* The double estimate can be off by one or two either way. */
    while (r > 0 && (r > UINT32_MAX || r * r > n))
        r--;
    while (r < UINT32_MAX && (r + 1) * (r + 1) <= n)
        r++;
    return r;
}

/* Montgomery arithmetic modulo an odd n, R = 2^64. */
typedef struct mont {
    uint64_t n, ninv, one, r2;
} mont;

static uint64_t mont_mul(const mont *m, uint64_t a, uint64_t b)
{
    __uint128_t t = (__uint128_t)a * b;
    uint64_t lo = (uint64_t)t, hi = (uint64_t)(t >> 64);
    uint64_t q = lo * m->ninv; /* q*n == lo (mod 2^64) */
    uint64_t qh = (uint64_t)(((__uint128_t)q * m->n) >> 64);
    uint64_t r = hi - qh; /* (t - q*n) / 2^64, in (-n, n) */
    return hi < qh ? r + m->n : r;
}

static void mont_init(mont *m, uint64_t n)
{
    m->n = n;
    uint64_t inv = n; /* correct to 3 bits for odd n; Newton doubles it */
    for (int i = 0; i < 5; i++)
        inv *= 2 - n * inv;
    m->ninv = inv;
    m->one = (uint64_t)(-n) % n; /* 2^64 mod n */
    m->r2 = (uint64_t)(((__uint128_t)m->one * m->one) % n);
}

static uint64_t mont_pow(const mont *m, uint64_t base_m, uint64_t e)
{
    uint64_t r = m->one;
    while (e) {
        if (e & 1)
            r = mont_mul(m, r, base_m);
        base_m = mont_mul(m, base_m, base_m);
        e >>= 1;
    }
    return r;
}

static bool is_prime_mr(uint64_t n)
{
    static const uint64_t small[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2)
        return false;
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        if (n == small[i])
            return true;
        if (n % small[i] == 0)
            return false;
    }
    if (n < 41 * 41)
        return true;
    static const uint64_t bases[] = {2, 325, 9375, 28178, 450775, 9780504, 1795265022};
    mont m;
    mont_init(&m, n);
    uint64_t d = n - 1;
    int s = __builtin_ctzll(d);
    d >>= s;
    uint64_t minus_one = n - m.one; /* -1 in Montgomery form */
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        uint64_t a = bases[i] % n;
        if (a == 0)
            continue;
        uint64_t x = mont_pow(&m, mont_mul(&m, a, m.r2), d);
        if (x == m.one || x == minus_one)
            continue;
        bool witness = true;
        for (int k = 1; k < s; k++) {
            x = mont_mul(&m, x, x);
            if (x == minus_one) {
                witness = false;
                break;
            }
        }
        if (witness)
            return false;
    }
    return true;
}

/* Odd divisors d0, d0+2, ... up to lim: does one divide n? Plain `%`. */
static bool odd_divisor_scalar(uint64_t n, uint64_t d0, uint64_t lim)
{
    for (uint64_t d = d0; d <= lim; d += 2)
        if (n % d == 0)
            return true;
    return false;
}

#define BLOCK 64 /* odd divisors per block: the early-exit test runs once per block */

/* The double-precision method (n < 2^52) over `blocks` blocks from odd d0.
 * VD is a GCC vector of doubles sized to the ISA, VI the matching integers. */
#define TRIAL_DOUBLE_BODY(VD, VI)                                                                  \
    enum { W = (int)(sizeof(VD) / sizeof(double)) };                                               \
    VD nd, magic, dd, step, zero;                                                                  \
    for (int i = 0; i < W; i++) {                                                                  \
        nd[i] = (double)n;                                                                         \
        magic[i] = 0x1p52; /* (q + 2^52) - 2^52 rounds q to an integer */                          \
        dd[i] = (double)d0 + 2.0 * i;                                                              \
        step[i] = 2.0 * W;                                                                         \
        zero[i] = 0.0;                                                                             \
    }                                                                                              \
    for (uint64_t b = 0; b < blocks; b++) {                                                        \
        VI hit = {0};                                                                              \
        for (int u = 0; u < BLOCK / W; u++) {                                                      \
            VD q = nd / dd;                                                                        \
            q = (q + magic) - magic;                                                               \
            hit |= (nd - q * dd) == zero;                                                          \
            dd += step;                                                                            \
        }                                                                                          \
        for (int i = 0; i < W; i++)                                                                \
            if (hit[i])                                                                            \
                return true;                                                                       \
    }                                                                                              \
    return false;

typedef double v2d __attribute__((vector_size(16)));
typedef int64_t v2i __attribute__((vector_size(16)));

static bool blocks_double_base(uint64_t n, uint64_t d0, uint64_t blocks)
{
    TRIAL_DOUBLE_BODY(v2d, v2i)
}

#if PT__X86
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));
typedef int64_t v8i __attribute__((vector_size(64)));
typedef uint64_t v8u __attribute__((vector_size(64)));

PT__TARGET_AVX2 static bool blocks_double_avx2(uint64_t n, uint64_t d0,
                                               uint64_t blocks){TRIAL_DOUBLE_BODY(v4d, v4i)}

PT__TARGET_AVX512 static bool blocks_double_avx512(uint64_t n, uint64_t d0,
                                                   uint64_t blocks){TRIAL_DOUBLE_BODY(v8d, v8i)}

/* The 64-bit method (any n, d0 >= 2049), AVX-512 DQ for vcvttpd2uqq/vpmullq. */
PT__TARGET_AVX512 static bool blocks_u64_avx512(uint64_t n, uint64_t d0, uint64_t blocks)
{
    v8d nd, dd, step_d;
    v8u nv, d, step_u;
    for (int i = 0; i < 8; i++) {
        nd[i] = (double)n;
        nv[i] = n;
        d[i] = d0 + 2u * (uint64_t)i;
        dd[i] = (double)d[i];
        step_u[i] = 16;
        step_d[i] = 16.0;
    }
    for (uint64_t b = 0; b < blocks; b++) {
        v8i hit = {0};
        for (int u = 0; u < BLOCK / 8; u++) {
            v8u q = __builtin_convertvector(nd / dd, v8u);
            v8u r = nv - q * d;
            hit |= (r == 0) | (r == d) | (r == -d);
            d += step_u;
            dd += step_d;
        }
        for (int i = 0; i < 8; i++)
            if (hit[i])
                return true;
    }
    return false;
}
#endif /* PT__X86 */

static bool is_prime_trial(uint64_t n, pt__isa_level isa)
{
    if (n < 2)
        return false;
    if (n < 4)
        return true;
    if (n % 2 == 0)
        return false;
    uint64_t lim = pt__isqrt64(n);
    uint64_t d = 3;
    if (n < (1ull << 52)) {
        /* Full blocks only: the last divisor of the last one is below lim. */
        uint64_t blocks = lim >= d ? (lim - d) / (2 * BLOCK) : 0;
        bool hit;
#if PT__X86
        if (isa == PT__ISA_AVX512)
            hit = blocks_double_avx512(n, d, blocks);
        else if (isa == PT__ISA_AVX2)
            hit = blocks_double_avx2(n, d, blocks);
        else
#endif
            hit = blocks_double_base(n, d, blocks);
        (void)isa;
        if (hit)
            return false;
        d += 2 * BLOCK * blocks;
        return !odd_divisor_scalar(n, d, lim);
    }
#if PT__X86
    if (isa == PT__ISA_AVX512) {
        if (odd_divisor_scalar(n, 3, 2047))
            return false;
        d = 2049;
        uint64_t blocks = lim >= d ? (lim - d) / (2 * BLOCK) : 0;
        if (blocks_u64_avx512(n, d, blocks))
            return false;
        d += 2 * BLOCK * blocks;
    }
#endif
    return !odd_divisor_scalar(n, d, lim);
}

/* The two methods on one number (internal.h): primes.c and the tests. */
bool pt__isprime_mr(uint64_t n)
{
    return is_prime_mr(n);
}

bool pt__isprime_trial(uint64_t n)
{
    return is_prime_trial(n, pt__isa());
}

/* --- the job ------------------------------------------------------------- */

static const pt_param params[] = {
    {.name = "numbers",
     .type = PT_TYPE_U64_LIST,
     .help = "numbers to test (also comma-separated)",
     .flags = PT_PARAM_POSITIONAL,
     .metavar = "N"},
    {.name = "input",
     .type = PT_TYPE_STRING,
     .help = "read numbers from FILE, one per line ('-' = stdin)",
     .metavar = "FILE"},
    {.name = "preset",
     .type = PT_TYPE_CHOICE,
     .choices = "course",
     .help = "a named workload: course = 112272535095293 x 100",
     .metavar = "NAME"},
    {.name = "method",
     .type = PT_TYPE_CHOICE,
     .def = "mr",
     .choices = "mr|trial",
     .help = "mr = deterministic Miller-Rabin; trial = the course's trial division",
     .metavar = "M"},
};

/* A growable list of numbers read from text. */
typedef struct numlist {
    uint64_t *v;
    size_t n, cap;
} numlist;

static int numlist_push(numlist *l, uint64_t x)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 1024;
        uint64_t *nv = realloc(l->v, nc * sizeof(*nv));
        if (!nv)
            return PT_ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = x;
    return 0;
}

/* Reads one number per line from path ("-" = stdin). Blank lines are
 * skipped; anything else must be a number. */
static int read_numbers(const char *path, numlist *out, char *err, size_t errlen)
{
    if (!*path)
        return pt__errf(err, errlen, PT_EINVAL, "isprime: --input: empty file name");
    bool is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "re");
    if (!f) {
        int e = -errno;
        return pt__errf(err, errlen, e, "isprime: --input %s: %s", path, pt_strerror(e));
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t l = (size_t)len;
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            l--;
        size_t k = 0;
        while (k < l && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == l)
            continue;
        uint64_t x;
        const char *why;
        rc = pt_parse_u64(line, l, &x, &why);
        if (rc) {
            pt__errf(err, errlen, rc, "isprime: --input %s: line %zu: '%.*s': %s", shown, lineno,
                     (int)(l - k > 40 ? 40 : l - k), line + k, why);
            break;
        }
        if ((rc = numlist_push(out, x)) != 0) {
            pt__errf(err, errlen, rc, "isprime: --input %s: out of memory", shown);
            break;
        }
    }
    if (!rc && ferror(f)) {
        int e = -errno;
        rc = pt__errf(err, errlen, e ? e : PT_EIO, "isprime: --input %s: %s", shown,
                      pt_strerror(e ? e : PT_EIO));
    }
    free(line);
    if (!is_stdin)
        fclose(f);
    if (!rc && out->n == 0)
        rc = pt__errf(err, errlen, PT_EPARSE, "isprime: --input %s: no numbers (empty input)",
                      shown);
    return rc;
}

static int isprime_setup(pt_job *job, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    size_t nlist;
    const uint64_t *list = pt_job_list(job, "numbers", &nlist);
    bool have_list = pt_job_param_given(job, "numbers");
    bool have_input = pt_job_param_given(job, "input");
    bool have_preset = pt_job_param_given(job, "preset");
    int sources = (int)have_list + (int)have_input + (int)have_preset;
    if (sources == 0)
        return pt__errf(err, errlen, PT_EINVAL,
                        "isprime: no input: give numbers, --input FILE or --preset course");
    if (sources > 1)
        return pt__errf(err, errlen, PT_EINVAL,
                        "isprime: give only one of: numbers, --input, --preset");
    s->method = strcmp(pt_job_str(job, "method"), "trial") == 0 ? METHOD_TRIAL : METHOD_MR;

    numlist tmp = {0};
    const uint64_t *src = list;
    size_t n = nlist;
    if (have_input) {
        int rc = read_numbers(pt_job_str(job, "input"), &tmp, err, errlen);
        if (rc) {
            free(tmp.v);
            return rc;
        }
        src = tmp.v;
        n = tmp.n;
    } else if (have_preset) {
        n = COURSE_COUNT;
        src = NULL;
    } else if (n == 0) {
        return pt__errf(err, errlen, PT_EPARSE, "isprime: no numbers (empty input)");
    }
    s->count = n;
    s->numbers = pt_job_alloc(job, n * sizeof(uint64_t));
    s->prime = pt_job_alloc(job, n);
    if (!s->numbers || !s->prime) {
        free(tmp.v);
        return pt__errf(err, errlen, PT_ENOMEM, "isprime: out of memory for %zu numbers", n);
    }
    for (size_t i = 0; i < n; i++)
        s->numbers[i] = src ? src[i] : COURSE_N;
    free(tmp.v);
    /* One number per chunk at most: trial division of a single large prime
     * is already heavy, and mr chunks of 1024 keep the dispatch cheap. */
    return pt_job_set_phase(job, 0, n, s->method == METHOD_TRIAL ? 1 : 1024, 0);
}

static int isprime_setup_like(pt_job *job, const pt_job *like, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    const state *l = pt_job_state(like);
    s->method = l->method;
    s->count = l->count;
    s->numbers = pt_job_alloc(job, l->count * sizeof(uint64_t));
    s->prime = pt_job_alloc(job, l->count);
    if (!s->numbers || !s->prime)
        return pt__errf(err, errlen, PT_ENOMEM, "isprime: out of memory for %zu numbers", l->count);
    memcpy(s->numbers, l->numbers, l->count * sizeof(uint64_t));
    return pt_job_set_phase(job, 0, s->count, s->method == METHOD_TRIAL ? 1 : 1024, 0);
}

static void isprime_range(pt_job *job, unsigned phase, size_t begin, size_t end, void *partial)
{
    (void)phase, (void)partial;
    state *s = pt_job_state(job);
    if (s->method == METHOD_MR) {
        for (size_t i = begin; i < end; i++)
            s->prime[i] = is_prime_mr(s->numbers[i]);
    } else {
        pt__isa_level isa = pt__isa();
        for (size_t i = begin; i < end; i++)
            s->prime[i] = is_prime_trial(s->numbers[i], isa);
    }
}

static int isprime_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    const state *a = pt_job_state(job), *b = pt_job_state(ref);
    if (a->count != b->count)
        return pt__errf(err, errlen, PT_EVERIFY, "isprime: %zu results, reference has %zu",
                        a->count, b->count);
    for (size_t i = 0; i < a->count; i++)
        if (a->prime[i] != b->prime[i] || a->numbers[i] != b->numbers[i])
            return pt__errf(err, errlen, PT_EVERIFY,
                            "isprime: number %zu (%llu): got %s, reference says %s", i + 1,
                            (unsigned long long)a->numbers[i], a->prime[i] ? "prime" : "composite",
                            b->prime[i] ? "prime" : "composite");
    return 0;
}

static double isprime_cost(const pt_job *job)
{
    const state *s = pt_job_state(job);
    if (s->method == METHOD_MR)
        return (double)s->count * 1.5e-6;
    /* Worst case (all prime): sqrt(n)/2 divisions at ~0.35 ns each. */
    double sum = 0;
    for (size_t i = 0; i < s->count; i++)
        sum += sqrt((double)s->numbers[i]) * 0.5 * (s->numbers[i] < (1ull << 52) ? 0.35e-9 : 2e-9);
    return sum;
}

static double isprime_throughput(const pt_job *job, double seconds, const char **unit)
{
    const state *s = pt_job_state(job);
    *unit = "numbers/s";
    return (double)s->count / seconds;
}

static size_t count_primes(const state *s)
{
    size_t p = 0;
    for (size_t i = 0; i < s->count; i++)
        p += s->prime[i];
    return p;
}

static int isprime_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    const state *s = pt_job_state(job);
    char line[64];
    if (flags & PT_OUT_QUIET) {
        size_t p = count_primes(s);
        int len = snprintf(line, sizeof(line), "%zu prime, %zu composite\n", p, s->count - p);
        return write(ctx, line, (size_t)len) ? PT_EIO : 0;
    }
    for (size_t i = 0; i < s->count; i++) {
        int len = snprintf(line, sizeof(line), "%llu %s\n", (unsigned long long)s->numbers[i],
                           s->prime[i] ? "prime" : "composite");
        if (write(ctx, line, (size_t)len))
            return PT_EIO;
    }
    return 0;
}

static int isprime_json(const pt_job *job, pt_json *j)
{
    const state *s = pt_job_state(job);
    size_t p = count_primes(s);
    pt_json_key(j, "count");
    pt_json_uint(j, s->count);
    pt_json_key(j, "prime");
    pt_json_uint(j, p);
    pt_json_key(j, "composite");
    pt_json_uint(j, s->count - p);
    pt_json_key(j, "results");
    pt_json_array_begin(j);
    for (size_t i = 0; i < s->count; i++) {
        pt_json_object_begin(j);
        pt_json_key(j, "n");
        pt_json_uint(j, s->numbers[i]);
        pt_json_key(j, "prime");
        pt_json_bool(j, s->prime[i]);
        pt_json_object_end(j);
    }
    pt_json_array_end(j);
    return pt_json_error(j);
}

#ifdef PT_HAVE_OPENCL
static int isprime_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    cl_kernel k = NULL;
    cl_mem nums = NULL, out = NULL;
    cl_int rc;
    int ret;
    bool trial = s->method == METHOD_TRIAL;
    double t0 = pt__now();

    ret = pt__cl_kernel(cl, trial ? "isprime_trial" : "isprime_mr", &k, err, errlen);
    if (ret)
        goto out;
    ret = pt__cl_buffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, s->count * sizeof(cl_ulong),
                        s->numbers, &nums, err, errlen);
    if (ret)
        goto out;
    ret = pt__cl_buffer(cl, CL_MEM_READ_WRITE, s->count * sizeof(cl_int), NULL, &out, err, errlen);
    if (ret)
        goto out;
    cl_uint count = (cl_uint)s->count;
    size_t local, global;
    if (trial) {
        /* Each number is shared by `slices` work-items that take its odd
         * divisors in turn (lane s tries d = 3 + 2(s + k*slices)): on a CPU
         * device a work-group is one number's slices, which PoCL runs as SIMD
         * lanes over neighbouring divisors; on a GPU many slices per number
         * fill the machine even for a short list. */
        bool cpu = strcmp(cl->info->type, "CPU") == 0;
        cl_uint slices = cpu ? 16 : 256;
        cl_int one = 1;
        rc = clEnqueueFillBuffer(cl->queue, out, &one, sizeof(one), 0, s->count * sizeof(cl_int), 0,
                                 NULL, NULL);
        if (rc != CL_SUCCESS) {
            ret = pt__cl_fail(cl, rc, "clEnqueueFillBuffer", err, errlen);
            goto out;
        }
        rc = clSetKernelArg(k, 0, sizeof(nums), &nums);
        rc |= clSetKernelArg(k, 1, sizeof(out), &out);
        rc |= clSetKernelArg(k, 2, sizeof(count), &count);
        rc |= clSetKernelArg(k, 3, sizeof(slices), &slices);
        local = slices;
        global = (size_t)slices * s->count;
    } else {
        rc = clSetKernelArg(k, 0, sizeof(nums), &nums);
        rc |= clSetKernelArg(k, 1, sizeof(out), &out);
        rc |= clSetKernelArg(k, 2, sizeof(count), &count);
        local = 64;
        global = pt__round_up(s->count, local);
    }
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
        goto out;
    }
    if (local > cl->info->max_work_group)
        local = cl->info->max_work_group;
    rc = clEnqueueNDRangeKernel(cl->queue, k, 1, NULL, &global, &local, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel", err, errlen);
        goto out;
    }
    cl_int *flags = malloc(s->count * sizeof(cl_int));
    if (!flags) {
        ret = pt__errf(err, errlen, PT_ENOMEM, "isprime: out of memory");
        goto out;
    }
    rc = clEnqueueReadBuffer(cl->queue, out, CL_TRUE, 0, s->count * sizeof(cl_int), flags, 0, NULL,
                             NULL);
    if (rc != CL_SUCCESS) {
        free(flags);
        ret = pt__cl_fail(cl, rc, "clEnqueueReadBuffer", err, errlen);
        goto out;
    }
    for (size_t i = 0; i < s->count; i++)
        s->prime[i] = flags[i] != 0;
    free(flags);
    pt_job_record_phase(job, 0, pt__now() - t0);
    ret = 0;
out:
    if (out)
        clReleaseMemObject(out);
    if (nums)
        clReleaseMemObject(nums);
    if (k)
        clReleaseKernel(k);
    return ret;
}
#endif /* PT_HAVE_OPENCL */

const pt_job_desc pt__job_isprime = {
    .name = "isprime",
    .summary = "primality of unsigned 64-bit numbers (Miller-Rabin or the course's trial division)",
    .params = params,
    .nparams = sizeof(params) / sizeof(params[0]),
    .kernel = "isprime",
    .state_size = sizeof(state),
    .setup = isprime_setup,
    .setup_like = isprime_setup_like,
    .range = isprime_range,
#ifdef PT_HAVE_OPENCL
    .cl_run = isprime_cl,
#endif
    .verify = isprime_verify,
    .cost = isprime_cost,
    .throughput = isprime_throughput,
    .write_text = isprime_text,
    .write_json = isprime_json,
};

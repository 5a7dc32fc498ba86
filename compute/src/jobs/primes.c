/* jobs/primes.c - count (and list) the primes in [lo, hi), anywhere below
 * 2^64: a segmented sieve of Eratosthenes on a mod-30 wheel.
 *
 * DESIGN
 *
 * Representation. Byte t of a sieve covers the 30 numbers base + 30t ..
 * base + 30t + 29 (base = lo rounded down to a multiple of 30); its 8 bits
 * stand for the residues coprime to 30, {1, 7, 11, 13, 17, 19, 23, 29}, bit
 * k for residue R[k]. 2, 3 and 5 are counted on the side. A set bit is a
 * candidate; sieving clears the composites.
 *
 * Work split. The range's bytes are cut into segments of SEG bytes (a power
 * of two sized to the L2 cache, --segment); the job has one phase whose
 * items are the segments, with a partial count per chunk of segments. A
 * chunk (a contiguous run of segments, the unit the backends hand out) is
 * sieved by one call of the range function with its own scratch memory:
 * sieving-prime state never crosses chunks, so chunks run in any thread or
 * worker process, in any order, and the counts combine in chunk order. The
 * runtime's chunks are made long enough (the phase's grain) that setting up
 * the sieving primes costs little against sieving the chunk.
 *
 * Per segment: (1) pre-sieve: the multiples of 7..53 are removed by AND-ing
 * four precomputed periodic patterns (periods 7*11*13*17, 19*23*29,
 * 31*37*41, 43*47*53 bytes; built once per process), a vectorised loop;
 * (2) cross off the multiples p*q (q coprime to 30, q >= p) of each sieving
 * prime p > 53, with three algorithms by the size of p, as primesieve does:
 *   small  (p < SMALL_MAX): many multiples per segment. The segment is
 *          processed in L1-sized blocks; one wheel turn (q -> q + 30) covers
 *          exactly p bytes and clears 8 bits at fixed offsets, so the inner
 *          loop is 8 AND instructions with constant masks (one copy per
 *          residue class of p, generated from the wheel by macros).
 *   medium (p <= 5 SEG): a few multiples per segment. The primes are kept in
 *          64 lists by (class of p, wheel position of the next multiple);
 *          after a segment each prime moves to the list of its new wheel
 *          position, so the entry jump of the next segment is predictable.
 *   big    (p > 5 SEG): at most about one multiple per segment. A bucket
 *          sieve: each prime waits in the bucket of the segment holding its
 *          next multiple (a ring of NB buckets), so a segment touches only
 *          the primes that hit it.
 * (3) clear the bits outside [lo, hi), (4) count with popcount (vectorised;
 * AVX-512 VPOPCNTDQ where the CPU has it).
 *
 * Sieving primes are found lazily inside each chunk, in increasing order,
 * and added when p^2 reaches the segment: those up to 65536 come from a list
 * in job memory; above that a second, inner sieve over [0, S] (using the
 * list) produces them a segment at a time. No table of the primes up to
 * sqrt(hi) is ever kept: a chunk just below 2^64 (sieving primes up to
 * 2^32) holds 8 bytes for each prime with a multiple in the chunk, and a
 * narrow range needs little.
 *
 * Method. --method sieve crosses off with every prime up to sqrt(hi - 1).
 * For a narrow range high up (say 10^6 numbers below 2^64) that means
 * finding the 203 million primes below 2^32 for a handful of multiples; then
 * --method hybrid sieves with the primes up to a smaller S only, and tests
 * the survivors above S^2 with a base-2 strong probable-prime test followed
 * by the deterministic Miller-Rabin of the isprime job (exact below 2^64).
 * --method auto (the default) picks S, and so the method, with a cost model.
 * Every method gives the exact count; the tests compare them.
 *
 * --list keeps the whole range's bitmap in job memory (1 byte per 30
 * numbers) and sieves in place; write_text/write_json print the primes.
 *
 * OpenCL (kernels/primes.cl): a work-group sieves one segment in local
 * memory with the sieving primes up to min(S, 2^26) from global memory
 * (Miller-Rabin on the device above that), and writes its count (and for
 * --list its bytes of the bitmap); the host sums the counts.
 *
 * Range functions cannot fail, so a chunk whose scratch allocation fails
 * marks its partial; the job then has no result (verify and the output
 * functions report PT_ENOMEM) instead of a wrong count.
 *
 * An empty range (lo == hi) is valid and holds 0 primes; lo > hi is an error.
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

/* --- the mod-30 wheel ---------------------------------------------------- */

/* WR(k): residue of bit k; WD(k): distance from residue k to the next. */
#define WR(k)                                                                                      \
    ((k) == 0   ? 1                                                                                \
     : (k) == 1 ? 7                                                                                \
     : (k) == 2 ? 11                                                                               \
     : (k) == 3 ? 13                                                                               \
     : (k) == 4 ? 17                                                                               \
     : (k) == 5 ? 19                                                                               \
     : (k) == 6 ? 23                                                                               \
                : 29)
#define WD(k) (((k) == 0 || (k) == 6) ? 6 : ((k) == 1 || (k) == 3 || (k) == 5) ? 4 : 2)
/* RI(r): bit index of residue r (r coprime to 30). */
#define RI(r)                                                                                      \
    ((r) == 1    ? 0                                                                               \
     : (r) == 7  ? 1                                                                               \
     : (r) == 11 ? 2                                                                               \
     : (r) == 13 ? 3                                                                               \
     : (r) == 17 ? 4                                                                               \
     : (r) == 19 ? 5                                                                               \
     : (r) == 23 ? 6                                                                               \
                 : 7)
/* For a prime p = 30a + B and its multiple p*q with q = R[k] (mod 30):
 * MBIT the bit the multiple sits on; CARRY the extra byte when stepping to
 * the next multiple p*(q + WD(k)), which lies a*WD(k) + CARRY bytes on. */
#define MBIT(B, k)  RI(((B)*WR(k)) % 30)
#define MASK(B, k)  ((uint8_t) ~(1u << MBIT(B, k)))
#define CARRY(B, k) ((((B)*WR(k)) % 30 + (B)*WD(k)) / 30)
/* Offset of multiple k of a wheel turn from multiple 0 (q = 1 mod 30). */
#define TURNOFF(B, k) ((B)*WR(k) / 30)

static const uint8_t wheel_r[8] = {1, 7, 11, 13, 17, 19, 23, 29};
static const uint8_t wheel_d[8] = {6, 4, 2, 4, 2, 4, 6, 2};
/* bit index of n % 30, or 8 when n shares a factor with 30 */
static const uint8_t res_idx[30] = {8, 0, 8, 8, 8, 8, 8, 1, 8, 8, 8, 2, 8, 3, 8,
                                    8, 8, 4, 8, 5, 8, 8, 8, 6, 8, 8, 8, 8, 8, 7};
/* distance from n % 30 up to the next residue coprime to 30 */
static const uint8_t res_up[30] = {1, 0, 5, 4, 3, 2, 1, 0, 3, 2, 1, 0, 1, 0, 3,
                                   2, 1, 0, 1, 0, 3, 2, 1, 0, 5, 4, 3, 2, 1, 0};

/* Tables for the table-driven loops, index w = class * 8 + k. */
#define ROW8(B, F) F(B, 0), F(B, 1), F(B, 2), F(B, 3), F(B, 4), F(B, 5), F(B, 6), F(B, 7)
#define ALL64(F)                                                                                   \
    {                                                                                              \
        ROW8(1, F), ROW8(7, F), ROW8(11, F), ROW8(13, F), ROW8(17, F), ROW8(19, F), ROW8(23, F),   \
            ROW8(29, F)                                                                            \
    }
static const uint8_t mask64[64] = ALL64(MASK);
static const uint8_t carry64[64] = ALL64(CARRY);

#define FALLTHROUGH __attribute__((fallthrough))

/* --- parameters of the sieve --------------------------------------------- */

#define PRESIEVE_MAX 53 /* primes 7..53 are removed by the patterns */
#define NPATTERNS    4
#define LIST_MAX     65536  /* sieving primes up to this come from job memory */
#define L1_BLOCK     32768  /* bytes: small primes sieve in blocks this size */
#define SMALL_MAX    6000   /* primes below this are "small" */
#define INNER_SEG    262144 /* bytes: segments of the sieve of the sieving primes */

static const uint32_t pattern_primes[NPATTERNS][4] = {
    {7, 11, 13, 17}, {19, 23, 29, 0}, {31, 37, 41, 0}, {43, 47, 53, 0}};

enum { METHOD_AUTO = 0, METHOD_SIEVE = 1, METHOD_HYBRID = 2 };

/* The patterns, built once per process (worker processes build their own:
 * they are forked before any job exists). Pattern j: byte t has bit k clear
 * when 30t + R[k] has a factor in group j; its period is the group's product. */
#define PATTERN_BYTES (17017 + 12673 + 47027 + 107113)
static uint8_t pattern_mem[PATTERN_BYTES];
static const uint8_t *pattern[NPATTERNS];
static uint32_t pattern_len[NPATTERNS];
static pthread_once_t pattern_once = PTHREAD_ONCE_INIT;

static void build_patterns(void)
{
    uint8_t *pat = pattern_mem;
    for (int j = 0; j < NPATTERNS; j++) {
        uint32_t len = 1;
        for (int g = 0; g < 4 && pattern_primes[j][g]; g++)
            len *= pattern_primes[j][g];
        memset(pat, 0xFF, len);
        /* clear each multiple v = q * c with c coprime to 30, in [0, 30 len) */
        for (int g = 0; g < 4 && pattern_primes[j][g]; g++) {
            uint64_t q = pattern_primes[j][g];
            for (uint64_t c = 1; q * c < 30 * (uint64_t)len; c += wheel_d[res_idx[c % 30]]) {
                uint64_t v = q * c;
                pat[v / 30] &= (uint8_t) ~(1u << res_idx[v % 30]);
            }
        }
        pattern[j] = pat;
        pattern_len[j] = len;
        pat += len;
    }
}

typedef struct state {
    uint64_t lo, hi;
    uint64_t base;    /* lo rounded down to a multiple of 30 */
    uint64_t nbytes;  /* bytes of the whole range */
    uint64_t limit;   /* S: sieving primes up to here */
    uint64_t mr_from; /* survivors >= this get Miller-Rabin (UINT64_MAX: none) */
    size_t seg;       /* segment bytes, a power of two */
    unsigned seg_shift;
    int method; /* as asked */
    bool hybrid;
    bool list;
    uint8_t *bitmap; /* --list: nbytes (rounded up to 64), job memory */
    uint32_t *small; /* primes 7..min(limit, LIST_MAX), job memory */
    size_t nsmall;   /* entries of small */
    uint64_t count;  /* the result */
    bool oom;        /* a chunk ran out of scratch memory: no result */
    double est_seconds;
} state;

/* --- SIMD: pre-sieve AND and popcount ----------------------------------- */

/* NAME(dst, a, b, c, d, n): dst[i] = a[i] & b[i] & c[i] & d[i] for i < n,
 * with GCC vectors VT (the ISA's register width). */
#define DEFINE_AND4(NAME, VT)                                                                      \
    static void NAME(uint8_t *dst, const uint8_t *a, const uint8_t *b, const uint8_t *c,           \
                     const uint8_t *d, size_t n)                                                   \
    {                                                                                              \
        size_t i = 0;                                                                              \
        for (; i + sizeof(VT) <= n; i += sizeof(VT)) {                                             \
            VT x, y, z, w;                                                                         \
            memcpy(&x, a + i, sizeof(VT));                                                         \
            memcpy(&y, b + i, sizeof(VT));                                                         \
            memcpy(&z, c + i, sizeof(VT));                                                         \
            memcpy(&w, d + i, sizeof(VT));                                                         \
            x &= y & z & w;                                                                        \
            memcpy(dst + i, &x, sizeof(VT));                                                       \
        }                                                                                          \
        for (; i < n; i++)                                                                         \
            dst[i] = a[i] & b[i] & c[i] & d[i];                                                    \
    }

/* NAME(p, n): the set bits in p[0, n), a 64-bit word at a time. */
#define DEFINE_POPCOUNT(NAME)                                                                      \
    static uint64_t NAME(const uint8_t *p, size_t n)                                               \
    {                                                                                              \
        uint64_t sum = 0;                                                                          \
        size_t i = 0;                                                                              \
        for (; i + 8 <= n; i += 8) {                                                               \
            uint64_t w;                                                                            \
            memcpy(&w, p + i, 8);                                                                  \
            sum += (uint64_t)__builtin_popcountll(w);                                              \
        }                                                                                          \
        for (; i < n; i++)                                                                         \
            sum += (uint64_t)__builtin_popcount(p[i]);                                             \
        return sum;                                                                                \
    }

typedef uint8_t v16u8 __attribute__((vector_size(16)));
DEFINE_AND4(and4_base, v16u8)
DEFINE_POPCOUNT(popcount_base) /* SSE2 has no POPCNT: a bit-trick sequence */

#if PT__X86
typedef uint8_t v32u8 __attribute__((vector_size(32)));
typedef uint8_t v64u8 __attribute__((vector_size(64)));
PT__TARGET_AVX2 DEFINE_AND4(and4_avx2, v32u8)
PT__TARGET_AVX512 DEFINE_AND4(and4_avx512, v64u8)
PT__TARGET_AVX2 DEFINE_POPCOUNT(popcount_avx2) /* x86-64-v3 has POPCNT */

    /* AVX-512 VPOPCNTDQ: eight words per instruction. */
    __attribute__((target("arch=x86-64-v4,avx512vpopcntdq"))) static uint64_t
    popcount_vpopcnt(const uint8_t *p, size_t n)
{
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_loadu_si512(p + i)));
    uint64_t sum = (uint64_t)_mm512_reduce_add_epi64(acc);
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        sum += (uint64_t)__builtin_popcountll(w);
    }
    for (; i < n; i++)
        sum += (uint64_t)__builtin_popcount(p[i]);
    return sum;
}
#endif /* PT__X86 */

typedef void (*and4_fn)(uint8_t *, const uint8_t *, const uint8_t *, const uint8_t *,
                        const uint8_t *, size_t);
typedef uint64_t (*popcount_fn)(const uint8_t *, size_t);

typedef struct kernels {
    and4_fn and4;
    popcount_fn popcount;
} kernels;

static bool have_vpopcnt; /* AVX-512 VPOPCNTDQ, set once per process */

static void process_init(void)
{
    build_patterns();
#if PT__X86
    __builtin_cpu_init();
    have_vpopcnt = __builtin_cpu_supports("avx512vpopcntdq");
#endif
}

/* The best variants for this CPU (PTOOL_ISA can lower the choice); also
 * makes sure this process has built the pre-sieve patterns. */
static kernels pick_kernels(void)
{
    pthread_once(&pattern_once, process_init);
    kernels k = {and4_base, popcount_base};
#if PT__X86
    pt__isa_level isa = pt__isa();
    if (isa >= PT__ISA_AVX2) {
        k.and4 = and4_avx2;
        k.popcount = popcount_avx2;
    }
    if (isa >= PT__ISA_AVX512) {
        k.and4 = and4_avx512;
        if (have_vpopcnt)
            k.popcount = popcount_vpopcnt;
    }
#endif
    return k;
}

/* --- growable arrays of packed entries (scratch of one range call) ------- */

typedef struct vec {
    uint64_t *v;
    size_t n, cap;
} vec;

/* Doubles x's room; false when out of memory. */
static bool vec_grow(vec *x)
{
    size_t nc = x->cap ? x->cap * 2 : 64;
    uint64_t *nv = realloc(x->v, nc * sizeof(*nv));
    if (!nv)
        return false;
    x->v = nv;
    x->cap = nc;
    return true;
}

/* Appends e; false when out of memory. */
static inline bool vec_push(vec *x, uint64_t e)
{
    if (__builtin_expect(x->n == x->cap, 0) && !vec_grow(x))
        return false;
    x->v[x->n++] = e;
    return true;
}

/* --- the segment sieve engine ------------------------------------------- */

/* A bucket of the big-prime sieve: a chain of blocks of entries
 * a << 32 | i << 6 | w (i: byte in the segment, w = class * 8 + k). */
#define BLOCK_ENTRIES 510
typedef struct bblock {
    struct bblock *next;
    uint64_t n;
    uint64_t e[BLOCK_ENTRIES];
} bblock;

typedef struct engine {
    const state *s;
    uint64_t lo;     /* first number, a multiple of 30 */
    uint64_t gbyte;  /* lo / 30: the patterns' phase */
    uint64_t nbytes; /* bytes of the engine's range */
    uint64_t done;   /* bytes sieved so far: the current segment starts here */
    uint64_t segno;  /* the current segment's number */
    uint64_t nseg;
    size_t seg; /* bytes per segment (power of two) */
    unsigned shift;
    uint64_t small_max, medium_max; /* p < small_max small, <= medium_max medium */
    vec small[8];                   /* by class: a << 32 | i << 3 | k */
    vec med[2][64];                 /* by w = class * 8 + k: a << 32 | i */
    int cur;
    bblock **bucket; /* ring of nb buckets, by segment number mod nb */
    uint64_t nb;
    bblock *spare; /* free blocks */
    bool oom;      /* scratch allocation failed: the count is void */
} engine;

/* An engine for the numbers lo.. (nbytes bytes, lo a multiple of 30) with
 * segments of seg bytes (a power of two) and sieving primes up to limit. */
static int eng_init(engine *e, const state *s, uint64_t lo, uint64_t nbytes, size_t seg,
                    uint64_t limit)
{
    memset(e, 0, sizeof(*e));
    e->s = s;
    e->lo = lo;
    e->gbyte = lo / 30;
    e->nbytes = nbytes;
    e->seg = seg;
    e->shift = (unsigned)__builtin_ctzll(seg);
    e->nseg = (nbytes + e->seg - 1) >> e->shift;
    e->small_max = SMALL_MAX;
    e->medium_max = (uint64_t)e->seg * 5;
    if (limit > e->medium_max) {
        /* next multiple at most 7(a + 1) bytes on, whatever the wheel */
        uint64_t ahead = ((7 * (limit / 30) + 7) >> e->shift) + 2;
        if (ahead > e->nseg + 1)
            ahead = e->nseg + 1;
        uint64_t nb = 1;
        while (nb < ahead)
            nb <<= 1;
        e->bucket = calloc(nb, sizeof(*e->bucket));
        if (!e->bucket)
            return PT_ENOMEM;
        e->nb = nb;
    }
    return 0;
}

static void eng_free(engine *e)
{
    for (int c = 0; c < 8; c++)
        free(e->small[c].v);
    for (int h = 0; h < 2; h++)
        for (int w = 0; w < 64; w++)
            free(e->med[h][w].v);
    for (uint64_t b = 0; b < e->nb; b++)
        for (bblock *x = e->bucket[b], *next; x; x = next) {
            next = x->next;
            free(x);
        }
    free(e->bucket);
    for (bblock *x = e->spare, *next; x; x = next) {
        next = x->next;
        free(x);
    }
}

static void bucket_push(engine *e, uint64_t b, uint64_t entry)
{
    bblock **head = &e->bucket[b & (e->nb - 1)];
    bblock *x = *head;
    if (!x || x->n == BLOCK_ENTRIES) {
        bblock *nx = e->spare;
        if (nx)
            e->spare = nx->next;
        else if (!(nx = malloc(sizeof(*nx)))) {
            e->oom = true;
            return;
        }
        nx->n = 0;
        nx->next = x;
        *head = x = nx;
    }
    x->e[x->n++] = entry;
}

/* Adds sieving prime p (> PRESIEVE_MAX, p^2 <= the current segment's last
 * number, so its first multiple is near) to the engine. */
static void eng_add(engine *e, uint64_t p)
{
    uint64_t first = e->lo + 30 * e->done; /* the current segment's first number */
    uint64_t q, m;
    if (p * p >= first) {
        q = p;
        m = p * p;
    } else {
        q = first / p + (first % p != 0);
        q += res_up[q % 30];
        if (__builtin_mul_overflow(p, q, &m))
            return; /* beyond 2^64: no multiple in range */
    }
    uint64_t i = (m - first) / 30;
    if (i >= e->nbytes - e->done)
        return;
    uint64_t a = p / 30, k = res_idx[q % 30], cls = res_idx[p % 30];
    bool ok = true;
    if (p < e->small_max) {
        ok = vec_push(&e->small[cls], a << 32 | i << 3 | k);
    } else if (p <= e->medium_max) {
        ok = vec_push(&e->med[e->cur][cls * 8 + k], a << 32 | i);
    } else {
        uint64_t segno = e->segno + (i >> e->shift);
        if (segno < e->nseg)
            bucket_push(e, segno, a << 32 | (i & (e->seg - 1)) << 6 | (cls * 8 + k));
    }
    if (!ok)
        e->oom = true;
}

/* Small primes of class B (p = 30a + B) over s[0, n): a wheel turn is p
 * bytes and clears 8 bits at offsets a * (R[k] - 1) + B * R[k] / 30. */
#define SMALL_CLASS(B, C)                                                                          \
    static void small_##B(uint8_t *s, size_t n, vec *v)                                            \
    {                                                                                              \
        for (size_t j = 0; j < v->n; j++) {                                                        \
            uint64_t x = v->v[j];                                                                  \
            size_t a = x >> 32, i = (x >> 3) & 0x1FFFFFFF;                                         \
            unsigned k = x & 7;                                                                    \
            while (k != 0 && i < n) {                                                              \
                s[i] &= mask64[C * 8 + k];                                                         \
                i += a * wheel_d[k] + carry64[C * 8 + k];                                          \
                k = (k + 1) & 7;                                                                   \
            }                                                                                      \
            if (k == 0) {                                                                          \
                const size_t p = 30 * a + B;                                                       \
                const size_t o1 = a * 6 + TURNOFF(B, 1), o2 = a * 10 + TURNOFF(B, 2);              \
                const size_t o3 = a * 12 + TURNOFF(B, 3), o4 = a * 16 + TURNOFF(B, 4);             \
                const size_t o5 = a * 18 + TURNOFF(B, 5), o6 = a * 22 + TURNOFF(B, 6);             \
                const size_t o7 = a * 28 + TURNOFF(B, 7);                                          \
                for (; i + o7 < n; i += p) {                                                       \
                    uint8_t *t = s + i;                                                            \
                    t[0] &= MASK(B, 0);                                                            \
                    t[o1] &= MASK(B, 1);                                                           \
                    t[o2] &= MASK(B, 2);                                                           \
                    t[o3] &= MASK(B, 3);                                                           \
                    t[o4] &= MASK(B, 4);                                                           \
                    t[o5] &= MASK(B, 5);                                                           \
                    t[o6] &= MASK(B, 6);                                                           \
                    t[o7] &= MASK(B, 7);                                                           \
                }                                                                                  \
                while (i < n) {                                                                    \
                    s[i] &= mask64[C * 8 + k];                                                     \
                    i += a * wheel_d[k] + carry64[C * 8 + k];                                      \
                    k = (k + 1) & 7;                                                               \
                }                                                                                  \
            }                                                                                      \
            v->v[j] = (uint64_t)a << 32 | (uint64_t)(i - n) << 3 | k;                              \
        }                                                                                          \
    }

SMALL_CLASS(1, 0)
SMALL_CLASS(7, 1)
SMALL_CLASS(11, 2)
SMALL_CLASS(13, 3)
SMALL_CLASS(17, 4)
SMALL_CLASS(19, 5)
SMALL_CLASS(23, 6)
SMALL_CLASS(29, 7)

/* One step of a medium prime of class B at wheel position K. */
#define MSTEP(B, K)                                                                                \
    case K:                                                                                        \
        if (i >= n) {                                                                              \
            k = K;                                                                                 \
            goto done;                                                                             \
        }                                                                                          \
        s[i] &= MASK(B, K);                                                                        \
        i += d##K;

/* Medium primes of class B, all at wheel position k0, over s[0, n); each
 * goes to out[k] for its next wheel position. */
#define MEDIUM_CLASS(B)                                                                            \
    static bool medium_##B(uint8_t *s, size_t n, const vec *in, unsigned k0, vec *out)             \
    {                                                                                              \
        bool ok = true;                                                                            \
        for (size_t j = 0; j < in->n; j++) {                                                       \
            uint64_t x = in->v[j];                                                                 \
            size_t a = x >> 32, i = (uint32_t)x;                                                   \
            const size_t d0 = a * 6 + CARRY(B, 0), d1 = a * 4 + CARRY(B, 1);                       \
            const size_t d2 = a * 2 + CARRY(B, 2), d3 = a * 4 + CARRY(B, 3);                       \
            const size_t d4 = a * 2 + CARRY(B, 4), d5 = a * 4 + CARRY(B, 5);                       \
            const size_t d6 = a * 6 + CARRY(B, 6), d7 = a * 2 + CARRY(B, 7);                       \
            unsigned k = k0;                                                                       \
            switch (k0) {                                                                          \
                for (;;) {                                                                         \
                    MSTEP(B, 0)                                                                    \
                    FALLTHROUGH;                                                                   \
                    MSTEP(B, 1)                                                                    \
                    FALLTHROUGH;                                                                   \
                    MSTEP(B, 2)                                                                    \
                    FALLTHROUGH;                                                                   \
                    MSTEP(B, 3)                                                                    \
                    FALLTHROUGH;                                                                   \
                    MSTEP(B, 4)                                                                    \
                    FALLTHROUGH;                                                                   \
                    MSTEP(B, 5)                                                                    \
                    FALLTHROUGH;                                                                   \
                    MSTEP(B, 6)                                                                    \
                    FALLTHROUGH;                                                                   \
                    MSTEP(B, 7)                                                                    \
                }                                                                                  \
            default:                                                                               \
                break;                                                                             \
            }                                                                                      \
        done:                                                                                      \
            ok &= vec_push(&out[k], (uint64_t)a << 32 | (i - n));                                  \
        }                                                                                          \
        return ok;                                                                                 \
    }

MEDIUM_CLASS(1)
MEDIUM_CLASS(7)
MEDIUM_CLASS(11)
MEDIUM_CLASS(13)
MEDIUM_CLASS(17)
MEDIUM_CLASS(19)
MEDIUM_CLASS(23)
MEDIUM_CLASS(29)

typedef void (*small_fn)(uint8_t *, size_t, vec *);
typedef bool (*medium_fn)(uint8_t *, size_t, const vec *, unsigned, vec *);
static const small_fn small_fns[8] = {small_1,  small_7,  small_11, small_13,
                                      small_17, small_19, small_23, small_29};
static const medium_fn medium_fns[8] = {medium_1,  medium_7,  medium_11, medium_13,
                                        medium_17, medium_19, medium_23, medium_29};

/* Copies the AND of the patterns, at the right phase, into s[0, n). */
static void presieve(const engine *e, const kernels *kf, uint8_t *s, size_t n)
{
    uint64_t g = e->gbyte + e->done;
    size_t off[NPATTERNS];
    for (int j = 0; j < NPATTERNS; j++)
        off[j] = (size_t)(g % pattern_len[j]);
    size_t pos = 0;
    while (pos < n) {
        size_t run = n - pos;
        for (int j = 0; j < NPATTERNS; j++)
            if (pattern_len[j] - off[j] < run)
                run = pattern_len[j] - off[j];
        kf->and4(s + pos, pattern[0] + off[0], pattern[1] + off[1], pattern[2] + off[2],
                 pattern[3] + off[3], run);
        pos += run;
        for (int j = 0; j < NPATTERNS; j++) {
            off[j] += run;
            if (off[j] == pattern_len[j])
                off[j] = 0;
        }
    }
}

/* The big primes whose next multiple falls in the current segment. */
static void cross_big(engine *e, uint8_t *s, size_t n)
{
    bblock **slot = &e->bucket[e->segno & (e->nb - 1)];
    bblock *x = *slot;
    *slot = NULL;
    bool last = n < e->seg || e->segno + 1 == e->nseg;
    while (x) {
        for (uint64_t j = 0; j < x->n; j++) {
            uint64_t v = x->e[j];
            uint64_t a = v >> 32, i = (v >> 6) & 0x3FFFFFF;
            unsigned w = v & 63;
            while (i < n) {
                s[i] &= mask64[w];
                i += a * wheel_d[w & 7] + carry64[w];
                w = (w & 56) | ((w + 1) & 7);
            }
            if (last)
                continue;
            uint64_t segno = e->segno + (i >> e->shift);
            if (segno < e->nseg)
                bucket_push(e, segno, a << 32 | (i & (e->seg - 1)) << 6 | w);
        }
        bblock *next = x->next;
        x->next = e->spare;
        e->spare = x;
        x = next;
    }
}

/* Sieves the engine's next segment (n bytes) into s: pre-sieve, then the
 * multiples of every sieving prime added so far. */
static void eng_segment(engine *e, const kernels *kf, uint8_t *s, size_t n)
{
    presieve(e, kf, s, n);
    for (size_t b = 0; b < n; b += L1_BLOCK) {
        size_t bn = n - b < L1_BLOCK ? n - b : L1_BLOCK;
        for (int c = 0; c < 8; c++)
            if (e->small[c].n)
                small_fns[c](s + b, bn, &e->small[c]);
    }
    vec *in = e->med[e->cur], *out = e->med[e->cur ^ 1];
    for (int w = 0; w < 64; w++) {
        if (!in[w].n)
            continue;
        if (!medium_fns[w >> 3](s, n, &in[w], (unsigned)(w & 7), &out[w & 56]))
            e->oom = true;
        in[w].n = 0;
    }
    e->cur ^= 1;
    if (e->nb)
        cross_big(e, s, n);
    e->done += n;
    e->segno++;
}

/* --- sieving primes in increasing order ---------------------------------- */

/* Yields the primes 7 < p <= limit: from the job's list up to LIST_MAX, then
 * from an inner sieve over (LIST_MAX, limit] that uses the list. */
typedef struct psource {
    const state *s;
    uint64_t limit;
    size_t pos; /* next entry of s->small */
    bool inner_on;
    engine inner;
    uint8_t *buf; /* the inner segment */
    size_t n;     /* its bytes */
    uint64_t first;
    size_t word; /* scan position: 8-byte word, and its bits left */
    uint64_t bits;
    size_t lpos;   /* the inner sieve's own next list entry */
    uint64_t next; /* the next prime, UINT64_MAX when none is left */
} psource;

static void ps_advance(psource *ps, const kernels *kf);

static int ps_init(psource *ps, const state *s, uint64_t limit, const kernels *kf)
{
    memset(ps, 0, sizeof(*ps));
    ps->s = s;
    ps->limit = limit;
    if (limit > LIST_MAX) {
        uint64_t lo = LIST_MAX / 30 * 30;
        int rc =
            eng_init(&ps->inner, s, lo, limit / 30 - lo / 30 + 1, INNER_SEG, pt__isqrt64(limit));
        if (rc)
            return rc;
        ps->inner_on = true;
        ps->buf = malloc(INNER_SEG + 8);
        if (!ps->buf)
            return PT_ENOMEM;
    }
    ps_advance(ps, kf);
    return 0;
}

static void ps_free(psource *ps)
{
    if (ps->inner_on)
        eng_free(&ps->inner);
    free(ps->buf);
}

/* Sieves the inner sieve's next segment; false when there is none. */
static bool ps_refill(psource *ps, const kernels *kf)
{
    engine *e = &ps->inner;
    if (e->done >= e->nbytes)
        return false;
    size_t n = e->nbytes - e->done < e->seg ? (size_t)(e->nbytes - e->done) : e->seg;
    ps->first = e->lo + 30 * e->done;
    uint64_t last = ps->first + 30 * (uint64_t)n - 1;
    const state *s = ps->s;
    while (ps->lpos < s->nsmall) {
        uint64_t p = s->small[ps->lpos];
        if (p * p > last)
            break;
        if (p > PRESIEVE_MAX)
            eng_add(e, p);
        ps->lpos++;
    }
    eng_segment(e, kf, ps->buf, n);
    memset(ps->buf + n, 0, (8 - n % 8) % 8);
    ps->n = n;
    ps->word = 0;
    memcpy(&ps->bits, ps->buf, 8);
    return true;
}

static void ps_advance(psource *ps, const kernels *kf)
{
    const state *s = ps->s;
    while (ps->pos < s->nsmall) {
        uint64_t p = s->small[ps->pos++];
        if (p > ps->limit)
            goto none;
        if (p > PRESIEVE_MAX) {
            ps->next = p;
            return;
        }
    }
    if (ps->inner_on) {
        for (;;) {
            while (ps->bits == 0) {
                ps->word += 8;
                if (ps->word >= ps->n) {
                    if (!ps_refill(ps, kf))
                        goto none;
                } else {
                    memcpy(&ps->bits, ps->buf + ps->word, 8);
                }
            }
            unsigned b = (unsigned)__builtin_ctzll(ps->bits);
            ps->bits &= ps->bits - 1;
            uint64_t p = ps->first + 30 * (uint64_t)(ps->word + b / 8) + wheel_r[b % 8];
            if (p > ps->limit)
                break;
            if (p > LIST_MAX) {
                ps->next = p;
                return;
            }
        }
    }
none:
    ps->next = UINT64_MAX;
    ps->pos = s->nsmall;
}

/* --- Miller-Rabin for the hybrid method ---------------------------------- */

/* a * b / 2^64 mod n, Montgomery multiplication (n odd, n * ninv == 1 mod
 * 2^64). */
static uint64_t mont_mul(uint64_t a, uint64_t b, uint64_t n, uint64_t ninv)
{
    __uint128_t t = (__uint128_t)a * b;
    uint64_t lo = (uint64_t)t, hi = (uint64_t)(t >> 64);
    uint64_t q = lo * ninv;
    uint64_t qh = (uint64_t)(((__uint128_t)q * n) >> 64);
    uint64_t r = hi - qh;
    return hi < qh ? r + n : r;
}

/* Strong probable prime to base 2 (n odd, n > 2): almost every composite
 * fails it, so the full test runs on few numbers besides the primes. */
static bool sprp2(uint64_t n)
{
    uint64_t ninv = n;
    for (int i = 0; i < 5; i++)
        ninv *= 2 - n * ninv;
    uint64_t one = (0 - n) % n; /* 2^64 mod n: 1 in Montgomery form */
    uint64_t minus_one = n - one;
    uint64_t d = n - 1;
    int s = __builtin_ctzll(d);
    d >>= s;
    /* 2^d, left to right: squaring, and doubling (a modular add) for 1 bits */
    uint64_t x = one;
    for (int b = 63 - __builtin_clzll(d); b >= 0; b--) {
        x = mont_mul(x, x, n, ninv);
        if ((d >> b) & 1)
            x = x >= n - x ? x - (n - x) : x + x;
    }
    if (x == one || x == minus_one)
        return true;
    for (int k = 1; k < s; k++) {
        x = mont_mul(x, x, n, ninv);
        if (x == minus_one)
            return true;
    }
    return false;
}

/* Clears the composites among the candidates >= from in s[0, n), whose
 * byte 0 starts at number first. */
static void mr_survivors(uint8_t *s, size_t n, uint64_t first, uint64_t from)
{
    for (size_t t = 0; t < n; t++) {
        unsigned bits = s[t];
        while (bits) {
            unsigned k = (unsigned)__builtin_ctz(bits);
            bits &= bits - 1;
            uint64_t v = first + 30 * (uint64_t)t + wheel_r[k];
            if (v >= from && !(sprp2(v) && pt__isprime_mr(v)))
                s[t] &= (uint8_t) ~(1u << k);
        }
    }
}

/* --- one chunk of segments ----------------------------------------------- */

typedef struct partial {
    uint64_t count;
    uint64_t oom; /* 1 when scratch memory ran out (the count is void) */
} partial;

/* Primes 7..PRESIEVE_MAX, which the patterns clear along with their multiples. */
static const uint8_t presieved[] = {7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53};

/* Clears what lies outside [lo, hi) and fixes the smallest numbers in
 * segment s[0, n) whose byte 0 starts at number first. */
static void fix_edges(const state *st, uint8_t *s, size_t n, uint64_t first, bool first_seg,
                      bool last_seg)
{
    if (first == 0)
        s[0] &= 0xFE; /* 1 is not prime */
    if (first <= PRESIEVE_MAX) {
        for (size_t j = 0; j < sizeof(presieved); j++) {
            uint64_t t = (presieved[j] - first) / 30;
            if (presieved[j] >= first && t < n)
                s[t] |= (uint8_t)(1u << res_idx[presieved[j] % 30]);
        }
    }
    if (first_seg) { /* first == base: drop the numbers below lo */
        uint64_t below = st->lo - st->base;
        for (int k = 0; k < 8; k++)
            if (wheel_r[k] < below)
                s[0] &= (uint8_t) ~(1u << k);
    }
    if (last_seg) { /* the last byte reaches to hi or past it */
        uint64_t start = first + 30 * (uint64_t)(n - 1); /* < hi: no overflow */
        uint64_t room = st->hi - start;                  /* 1..30 */
        for (int k = 0; k < 8; k++)
            if (wheel_r[k] >= room)
                s[n - 1] &= (uint8_t) ~(1u << k);
    }
}

static void primes_range(pt_job *job, unsigned phase, size_t begin, size_t end, void *out)
{
    (void)phase;
    const state *st = pt_job_state(job);
    partial *res = out;
    if (st->nbytes == 0)
        return;
    kernels kf = pick_kernels();
    uint64_t b0 = (uint64_t)begin << st->seg_shift;
    uint64_t b1 = (uint64_t)end << st->seg_shift;
    if (b1 > st->nbytes)
        b1 = st->nbytes;
    uint64_t first0 = st->base + 30 * b0;
    /* the chunk's last number (no overflow: it is below hi) */
    uint64_t last = b1 == st->nbytes ? st->hi - 1 : st->base + 30 * b1 - 1;
    uint64_t limit = pt__isqrt64(last);
    if (limit > st->limit)
        limit = st->limit;

    engine e;
    psource ps;
    uint8_t *scratch = NULL;
    bool oom = eng_init(&e, st, first0, b1 - b0, st->seg, limit) != 0;
    oom |= ps_init(&ps, st, limit, &kf) != 0;
    if (!st->list && !oom && !(scratch = malloc(st->seg)))
        oom = true;
    uint64_t count = 0;
    for (uint64_t g = begin; !oom && g < end; g++) {
        uint64_t off = g << st->seg_shift;
        size_t n = st->nbytes - off < st->seg ? (size_t)(st->nbytes - off) : st->seg;
        uint64_t first = st->base + 30 * off;
        bool last_seg = off + n == st->nbytes;
        uint64_t seg_last = last_seg ? st->hi - 1 : first + 30 * (uint64_t)n - 1;
        while (ps.next <= limit && ps.next * ps.next <= seg_last) {
            eng_add(&e, ps.next);
            ps_advance(&ps, &kf);
        }
        uint8_t *s = st->list ? st->bitmap + off : scratch;
        eng_segment(&e, &kf, s, n);
        fix_edges(st, s, n, first, g == 0, last_seg);
        if (st->hybrid && seg_last >= st->mr_from)
            mr_survivors(s, n, first, st->mr_from);
        count += kf.popcount(s, n);
        oom |= e.oom || ps.inner.oom;
    }
    free(scratch);
    ps_free(&ps);
    eng_free(&e);
    res->count = count;
    res->oom = oom;
}

static void primes_combine(pt_job *job, unsigned phase, void *acc, const void *part)
{
    (void)job, (void)phase;
    partial *a = acc;
    const partial *p = part;
    a->count += p->count;
    a->oom |= p->oom;
}

/* --- the plan: sieving limit, segment size, chunk grain ------------------- */

/* Cost model, in nanoseconds on one core, fitted to runs on the development
 * machine (AMD EPYC, see bench/sections/primes.py); it only steers speed:
 * every choice gives the exact count. */
#define NS_BASE      0.005  /* per number: pre-sieve, count */
#define NS_SMALL     0.4    /* per crossing-off by a small or medium prime */
#define NS_BIG       8.0    /* per crossing-off by a big prime (bucket sieve) */
#define NS_ADD       8.0    /* per sieving prime and chunk: first multiple, store */
#define NS_GEN       0.06   /* per number up to the limit, for the inner sieve */
#define NS_SPRP      150.0  /* base-2 test of a survivor */
#define NS_MRPRIME   1500.0 /* full Miller-Rabin of a prime */
#define GRAIN_FACTOR 4      /* a chunk's sieving costs at least this times its set-up */

static double pi_est(double x)
{
    return x < 100 ? 25 : x / (log(x) - 1.1);
}

static double loglog(double x)
{
    return log(log(x));
}

/* Set-up cost of one chunk sieving with primes up to S. */
static double init_ns(double S)
{
    return pi_est(S) * NS_ADD + (S > LIST_MAX ? S * NS_GEN : 0);
}

/* Per number: sieving with the primes up to S (the wheel leaves 8 of 30
 * numbers, a prime p crosses off 1/p of them; big primes are those above
 * medium, 5 segments), plus testing the survivors above S^2 when mr. */
static double per_number_ns(double S, double medium, bool mr, double hi)
{
    double ns = NS_BASE, m = S < medium ? S : medium;
    if (m > PRESIEVE_MAX)
        ns += 8.0 / 30 * NS_SMALL * (loglog(m) - loglog(PRESIEVE_MAX));
    if (S > medium)
        ns += 8.0 / 30 * NS_BIG * (loglog(S) - loglog(medium));
    if (mr)
        ns += 0.5615 / log(S) * NS_SPRP + NS_MRPRIME / log(hi);
    return ns;
}

/* Numbers per chunk at least, so that a chunk's set-up stays small. */
static double grain_numbers(double S, double medium, bool mr, double hi)
{
    return GRAIN_FACTOR * init_ns(S) / per_number_ns(S, medium, mr, hi);
}

/* Estimated single-core nanoseconds for the whole range with limit S. */
static double total_ns(double W, double S, bool mr, double hi, double seg_bytes)
{
    double seg_numbers = 30 * seg_bytes, medium = 5 * seg_bytes;
    double g = grain_numbers(S, medium, mr, hi);
    if (g < seg_numbers)
        g = seg_numbers;
    double chunks = ceil(W / g);
    if (chunks > PT__MAX_CHUNKS)
        chunks = PT__MAX_CHUNKS;
    if (chunks < 1)
        chunks = 1;
    return W * per_number_ns(S, medium, mr, hi) + chunks * init_ns(S);
}

static int primes_plan(pt_job *job, state *s, uint64_t seg_kib, char *err, size_t errlen)
{
    (void)job;
    double W = (double)(s->hi - s->lo), hi = (double)s->hi;
    uint64_t B = s->hi >= 2 ? pt__isqrt64(s->hi - 1) : 0;
    size_t seg;
    if (seg_kib) {
        seg = (size_t)seg_kib << 10;
    } else {
        /* a quarter of the L2 cache: the small primes work in L1-sized
         * blocks of it anyway, and fewer segments mean fewer visits of the
         * medium primes (measured: 256 KiB beats 32..128 KiB at 10^9 and
         * ties 512 KiB at 10^10); no larger than the range needs */
        seg = 262144;
        while (seg > 1024 && seg / 2 >= s->nbytes)
            seg /= 2;
    }
    s->seg = seg;
    s->seg_shift = (unsigned)__builtin_ctzll(seg);
    double segb = (double)seg;

    uint64_t S = B;
    if (s->method != METHOD_SIEVE && B > 128) {
        double best =
            s->method == METHOD_HYBRID ? INFINITY : total_ns(W, (double)B, false, hi, segb);
        for (uint64_t c = 128; c < B; c *= 2) {
            double t = total_ns(W, (double)c, true, hi, segb);
            if (t < best) {
                best = t;
                S = c;
            }
        }
    }
    s->limit = S;
    s->hybrid = S < B;
    s->mr_from = s->hybrid ? S * S : UINT64_MAX;
    s->est_seconds = total_ns(W, (double)S, s->hybrid, hi, segb) * 1e-9;
    (void)err, (void)errlen;
    return 0;
}

/* The primes 7..max (max <= LIST_MAX) into job memory. */
static int build_list(pt_job *job, state *s, uint64_t max)
{
    uint8_t *comp = calloc(max + 1, 1);
    if (!comp)
        return PT_ENOMEM;
    size_t n = 0;
    for (uint64_t i = 2; i <= max; i++) {
        if (comp[i])
            continue;
        if (i >= 7)
            n++;
        for (uint64_t m = i * i; m <= max; m += i)
            comp[m] = 1;
    }
    s->small = pt_job_alloc(job, (n ? n : 1) * sizeof(uint32_t));
    if (!s->small) {
        free(comp);
        return PT_ENOMEM;
    }
    s->nsmall = 0;
    for (uint64_t i = 7; i <= max; i++)
        if (!comp[i])
            s->small[s->nsmall++] = (uint32_t)i;
    free(comp);
    return 0;
}

/* --- the job ------------------------------------------------------------- */

static const pt_param params[] = {
    {.name = "lo",
     .type = PT_TYPE_U64,
     .def = "0",
     .help = "count the primes p with lo <= p < hi",
     .metavar = "N"},
    {.name = "hi",
     .type = PT_TYPE_U64,
     .def = "1000000000",
     .help = "end of the range, excluded (up to 2^64-1); lo == hi is an empty range",
     .metavar = "N"},
    {.name = "list",
     .type = PT_TYPE_BOOL,
     .def = "false",
     .help = "also print the primes, one per line (keeps a bitmap of the range: 1 byte per 30)"},
    {.name = "method",
     .type = PT_TYPE_CHOICE,
     .def = "auto",
     .choices = "auto|sieve|hybrid",
     .help = "sieve = cross off with all primes up to sqrt(hi); hybrid = small primes, then "
             "Miller-Rabin; auto = the faster",
     .metavar = "M"},
    {.name = "segment",
     .type = PT_TYPE_U64,
     .def = "0",
     .help = "segment size in KiB, a power of two (0 = sized to the caches)",
     .min = 0,
     .max = 8192,
     .metavar = "KIB"},
};

static const char *method_name(const state *s)
{
    return s->hybrid ? "hybrid" : "sieve";
}

static int primes_setup(pt_job *job, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    s->lo = pt_job_u64(job, "lo");
    s->hi = pt_job_u64(job, "hi");
    s->list = pt_job_bool(job, "list");
    const char *m = pt_job_str(job, "method");
    s->method = strcmp(m, "sieve") == 0    ? METHOD_SIEVE
                : strcmp(m, "hybrid") == 0 ? METHOD_HYBRID
                                           : METHOD_AUTO;
    uint64_t seg_kib = pt_job_u64(job, "segment");
    if (s->lo > s->hi)
        return pt__errf(err, errlen, PT_EINVAL,
                        "primes: --lo (%llu) is greater than --hi (%llu): the range [lo, hi) "
                        "needs lo <= hi",
                        (unsigned long long)s->lo, (unsigned long long)s->hi);
    if (seg_kib & (seg_kib - 1))
        return pt__errf(err, errlen, PT_EINVAL,
                        "primes: --segment %llu: must be a power of two (KiB) or 0",
                        (unsigned long long)seg_kib);
    s->base = s->lo - s->lo % 30;
    if (s->hi > s->lo) {
        uint64_t span = s->hi - s->base;
        s->nbytes = span / 30 + (span % 30 != 0);
    }
    int rc = primes_plan(job, s, seg_kib, err, errlen);
    if (rc)
        return rc;
    if ((rc = build_list(job, s, s->limit < LIST_MAX ? s->limit : LIST_MAX)) != 0)
        return pt__errf(err, errlen, rc, "primes: out of memory");
    if (s->list && s->nbytes) {
        char what[160];
        snprintf(what, sizeof(what), "--list over [--lo, --hi) (%llu numbers, 1 byte per 30)",
                 (unsigned long long)(s->hi - s->lo));
        size_t bytes = s->nbytes > SIZE_MAX - 64 ? SIZE_MAX : (size_t)(s->nbytes + 63) / 64 * 64;
        s->bitmap = pt__job_alloc_sized(job, bytes, what, err, errlen);
        if (!s->bitmap)
            return PT_ENOMEM;
    }
    uint64_t nseg = (s->nbytes + s->seg - 1) >> s->seg_shift;
    double g = grain_numbers((double)s->limit, 5.0 * (double)s->seg, s->hybrid, (double)s->hi) /
               (30.0 * (double)s->seg);
    size_t grain = g < 1 ? 1 : g > 1e15 ? (size_t)1e15 : (size_t)ceil(g);
    /* An empty range still runs one (empty) chunk, so the count is set. */
    return pt_job_set_phase(job, 0, nseg ? (size_t)nseg : 1, grain, sizeof(partial));
}

/* How many of 2, 3, 5 lie in [lo, hi). */
static uint64_t tiny_primes(const state *s)
{
    uint64_t n = 0;
    for (uint64_t p = 2; p <= 5; p += p == 2 ? 1 : 2)
        n += s->lo <= p && p < s->hi;
    return n;
}

static void primes_phase_end(pt_job *job, unsigned phase, const void *acc)
{
    (void)phase;
    state *s = pt_job_state(job);
    const partial *p = acc;
    s->count = p->count + tiny_primes(s);
    s->oom = p->oom != 0;
}

static int primes_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    const state *a = pt_job_state(job), *b = pt_job_state(ref);
    if (a->oom || b->oom)
        return pt__errf(err, errlen, PT_EVERIFY, "primes: a run ran out of memory");
    if (a->lo != b->lo || a->hi != b->hi || a->list != b->list)
        return pt__errf(err, errlen, PT_EVERIFY, "primes: the reference has other parameters");
    if (a->count != b->count)
        return pt__errf(err, errlen, PT_EVERIFY,
                        "primes: %llu primes in [%llu, %llu), reference says %llu",
                        (unsigned long long)a->count, (unsigned long long)a->lo,
                        (unsigned long long)a->hi, (unsigned long long)b->count);
    if (a->list && a->nbytes) {
        for (uint64_t t = 0; t < a->nbytes; t++) {
            uint8_t x = a->bitmap[t] ^ b->bitmap[t];
            if (x) {
                unsigned k = (unsigned)__builtin_ctz(x);
                unsigned long long v = a->base + 30 * t + wheel_r[k];
                return pt__errf(err, errlen, PT_EVERIFY,
                                "primes: the list has %llu as %s, the reference as %s", v,
                                (a->bitmap[t] >> k) & 1 ? "prime" : "composite",
                                (b->bitmap[t] >> k) & 1 ? "prime" : "composite");
            }
        }
    }
    return 0;
}

static double primes_cost(const pt_job *job)
{
    const state *s = pt_job_state(job);
    return s->est_seconds;
}

static double primes_throughput(const pt_job *job, double seconds, const char **unit)
{
    const state *s = pt_job_state(job);
    *unit = "numbers/s";
    return (double)(s->hi - s->lo) / seconds;
}

/* Decimal digits of v into the end of buf (24 bytes); returns the start. */
static char *fmt_u64(uint64_t v, char *end)
{
    char *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

/* Calls fn(ctx, p) for every prime of the result, in order; stops at and
 * returns fn's first non-zero result. */
static int each_prime(const state *s, int (*fn)(void *ctx, uint64_t p), void *ctx)
{
    int rc;
    for (uint64_t p = 2; p <= 5; p += p == 2 ? 1 : 2)
        if (s->lo <= p && p < s->hi && (rc = fn(ctx, p)) != 0)
            return rc;
    for (uint64_t t = 0; t < s->nbytes; t++) {
        unsigned bits = s->bitmap[t];
        while (bits) {
            unsigned k = (unsigned)__builtin_ctz(bits);
            bits &= bits - 1;
            if ((rc = fn(ctx, s->base + 30 * t + wheel_r[k])) != 0)
                return rc;
        }
    }
    return 0;
}

/* Buffered text lines for write_text. */
typedef struct textout {
    pt_write_fn write;
    void *ctx;
    size_t len;
    char buf[65536];
} textout;

static int text_flush(textout *o)
{
    int rc = o->len && o->write(o->ctx, o->buf, o->len) ? PT_EIO : 0;
    o->len = 0;
    return rc;
}

static int text_prime(void *ctx, uint64_t p)
{
    textout *o = ctx;
    if (o->len + 24 > sizeof(o->buf) && text_flush(o))
        return PT_EIO;
    char tmp[24], *d = fmt_u64(p, tmp + sizeof(tmp) - 1);
    tmp[sizeof(tmp) - 1] = '\n';
    size_t n = (size_t)(tmp + sizeof(tmp) - d);
    memcpy(o->buf + o->len, d, n);
    o->len += n;
    return 0;
}

static int primes_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    const state *s = pt_job_state(job);
    if (s->oom)
        return PT_ENOMEM;
    if (s->list && !(flags & PT_OUT_QUIET)) {
        textout *o = malloc(sizeof(*o));
        if (!o)
            return PT_ENOMEM;
        o->write = write;
        o->ctx = ctx;
        o->len = 0;
        int rc = each_prime(s, text_prime, o);
        if (!rc)
            rc = text_flush(o);
        free(o);
        if (rc)
            return rc;
    }
    char line[96];
    int len =
        snprintf(line, sizeof(line), "%llu primes in [%llu, %llu)\n", (unsigned long long)s->count,
                 (unsigned long long)s->lo, (unsigned long long)s->hi);
    return write(ctx, line, (size_t)len) ? PT_EIO : 0;
}

static int json_prime(void *ctx, uint64_t p)
{
    return pt_json_uint(ctx, p);
}

static int primes_json(const pt_job *job, pt_json *j)
{
    const state *s = pt_job_state(job);
    if (s->oom)
        return PT_ENOMEM;
    pt_json_key(j, "count");
    pt_json_uint(j, s->count);
    pt_json_key(j, "lo");
    pt_json_uint(j, s->lo);
    pt_json_key(j, "hi");
    pt_json_uint(j, s->hi);
    pt_json_key(j, "method");
    pt_json_str(j, method_name(s));
    pt_json_key(j, "sieve_limit");
    pt_json_uint(j, s->limit);
    pt_json_key(j, "segment_bytes");
    pt_json_uint(j, s->seg);
    if (s->list) {
        pt_json_key(j, "primes");
        pt_json_array_begin(j);
        each_prime(s, json_prime, j);
        pt_json_array_end(j);
    }
    return pt_json_error(j);
}

#ifdef PT_HAVE_OPENCL
static int primes_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen);
#endif

const pt_job_desc pt__job_primes = {
    .name = "primes",
    .summary = "count (and list) the primes in [lo, hi) below 2^64: segmented sieve on a "
               "mod-30 wheel",
    .params = params,
    .nparams = sizeof(params) / sizeof(params[0]),
    .kernel = "primes",
    .state_size = sizeof(state),
    .setup = primes_setup,
    .range = primes_range,
    .combine = primes_combine,
    .phase_end = primes_phase_end,
#ifdef PT_HAVE_OPENCL
    .cl_run = primes_cl,
#endif
    .verify = primes_verify,
    .cost = primes_cost,
    .throughput = primes_throughput,
    .write_text = primes_text,
    .write_json = primes_json,
};

#ifdef PT_HAVE_OPENCL
/* Sieving primes at most this on a device (2^26: 3.9 million primes, 16
 * MB); above, the device tests the survivors with Miller-Rabin. */
#define CL_MAX_LIMIT (1ull << 26)
#define CL_BATCH     2048 /* work-groups per launch */

/* The primes 7..limit into a new array (caller frees) of *n entries. */
static int cl_sieving_primes(const state *s, uint64_t limit, uint32_t **out, size_t *n)
{
    size_t cap = (size_t)pi_est((double)limit) + 64, cnt = 0;
    uint32_t *v = malloc(cap * sizeof(*v));
    if (!v)
        return PT_ENOMEM;
    for (size_t j = 0; j < sizeof(presieved); j++)
        if (presieved[j] <= limit)
            v[cnt++] = presieved[j];
    kernels kf = pick_kernels();
    psource ps;
    int rc = ps_init(&ps, s, limit, &kf);
    for (; !rc && ps.next <= limit; ps_advance(&ps, &kf)) {
        if (cnt == cap) {
            uint32_t *nv = realloc(v, 2 * cap * sizeof(*v));
            if (!nv) {
                rc = PT_ENOMEM;
                break;
            }
            v = nv;
            cap *= 2;
        }
        v[cnt++] = (uint32_t)ps.next;
    }
    if (!rc && ps.inner.oom)
        rc = PT_ENOMEM;
    ps_free(&ps);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static int primes_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    state *s = pt_job_state(job);
    double t0 = pt__now();
    s->oom = false;
    if (s->nbytes == 0) {
        s->count = tiny_primes(s);
        pt_job_record_phase(job, 0, pt__now() - t0);
        return 0;
    }
    cl_kernel k = NULL;
    cl_mem dprimes = NULL, dturns = NULL, dcounts = NULL, dbits = NULL;
    uint32_t *primes = NULL, *turns = NULL;
    cl_ulong *counts = NULL;
    size_t nprimes = 0;
    cl_int rc;
    int ret;

    uint64_t B = pt__isqrt64(s->hi - 1);
    uint64_t limit = s->limit < CL_MAX_LIMIT ? s->limit : CL_MAX_LIMIT;
    cl_ulong mr_from = limit < B ? limit * limit : UINT64_MAX;
    if ((ret = cl_sieving_primes(s, limit, &primes, &nprimes)) != 0) {
        pt__errf(err, errlen, ret, "primes: out of memory for the sieving primes");
        goto out;
    }

    /* work-group: a power of two of work-items; a segment as large as the
     * local memory allows (up to 64 KiB of flags) */
    size_t lsz = 1;
    while (lsz * 2 <= 256 && lsz * 2 <= cl->info->max_work_group)
        lsz *= 2;
    uint64_t room = cl->info->local_mem > lsz * 8 + 2048 ? cl->info->local_mem - lsz * 8 - 2048 : 0;
    if (room > 65536 + 16384)
        room = 65536 + 16384;
    /* 8 flag bytes per segment byte, and 16 bytes per shared prime (at most
     * one per 8 segment bytes) */
    cl_uint gbytes = (cl_uint)(room / 10 / 64 * 64);
    if (gbytes == 0) {
        ret = pt__errf(err, errlen, PT_EDEVMEM,
                       "primes: the device has too little local memory (%llu bytes)",
                       (unsigned long long)cl->info->local_mem);
        goto out;
    }
    /* primes with two or more wheel turns per segment are shared by the group */
    size_t nsplit = 0;
    while (nsplit < nprimes && primes[nsplit] <= gbytes / 2 && nsplit < gbytes / 8)
        nsplit++;
    turns = malloc((nsplit + 1) * sizeof(*turns));
    uint64_t ngroups = (s->nbytes + gbytes - 1) / gbytes;
    size_t batch = ngroups < CL_BATCH ? (size_t)ngroups : CL_BATCH;
    counts = malloc(batch * sizeof(*counts));
    if (!turns || !counts) {
        ret = pt__errf(err, errlen, PT_ENOMEM, "primes: out of memory");
        goto out;
    }
    turns[0] = 0;
    for (size_t i = 0; i < nsplit; i++)
        turns[i + 1] = turns[i] + gbytes / primes[i] + 2;

    if ((ret = pt__cl_kernel(cl, "primes_segment", &k, err, errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             (nprimes ? nprimes : 1) * sizeof(cl_uint), primes, &dprimes, err,
                             errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             (nsplit + 1) * sizeof(cl_uint), turns, &dturns, err, errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_WRITE_ONLY, batch * sizeof(cl_ulong), NULL, &dcounts, err,
                             errlen)) != 0 ||
        (ret = pt__cl_buffer(cl, CL_MEM_WRITE_ONLY, s->list ? (size_t)s->nbytes : 1, NULL, &dbits,
                             err, errlen)) != 0)
        goto out;

    cl_uint np = (cl_uint)nprimes, ns = (cl_uint)nsplit, want_bits = s->list;
    cl_ulong base = s->base, nbytes = s->nbytes, lo = s->lo, hi = s->hi;
    rc = clSetKernelArg(k, 0, sizeof(dprimes), &dprimes);
    rc |= clSetKernelArg(k, 1, sizeof(np), &np);
    rc |= clSetKernelArg(k, 2, sizeof(ns), &ns);
    rc |= clSetKernelArg(k, 3, sizeof(dturns), &dturns);
    rc |= clSetKernelArg(k, 4, sizeof(base), &base);
    rc |= clSetKernelArg(k, 5, sizeof(nbytes), &nbytes);
    rc |= clSetKernelArg(k, 7, sizeof(gbytes), &gbytes);
    rc |= clSetKernelArg(k, 8, sizeof(lo), &lo);
    rc |= clSetKernelArg(k, 9, sizeof(hi), &hi);
    rc |= clSetKernelArg(k, 10, sizeof(mr_from), &mr_from);
    rc |= clSetKernelArg(k, 11, sizeof(dcounts), &dcounts);
    rc |= clSetKernelArg(k, 12, sizeof(dbits), &dbits);
    rc |= clSetKernelArg(k, 13, sizeof(want_bits), &want_bits);
    rc |= clSetKernelArg(k, 14, 8 * (size_t)gbytes, NULL);
    rc |= clSetKernelArg(k, 15, lsz * sizeof(cl_ulong), NULL);
    rc |= clSetKernelArg(k, 16, (nsplit ? nsplit : 1) * sizeof(cl_ulong), NULL);
    rc |= clSetKernelArg(k, 17, (nsplit ? nsplit : 1) * sizeof(cl_ulong), NULL);
    if (rc != CL_SUCCESS) {
        ret = pt__cl_fail(cl, rc, "clSetKernelArg", err, errlen);
        goto out;
    }
    uint64_t nbatches = (ngroups + batch - 1) / batch, total = 0;
    pt_job_progress_total(job, nbatches);
    for (uint64_t b = 0; b < nbatches; b++) {
        cl_ulong byte0 = b * batch * gbytes;
        size_t groups = ngroups - b * batch < batch ? (size_t)(ngroups - b * batch) : batch;
        size_t global = groups * lsz;
        rc = clSetKernelArg(k, 6, sizeof(byte0), &byte0);
        if (rc == CL_SUCCESS)
            rc = clEnqueueNDRangeKernel(cl->queue, k, 1, NULL, &global, &lsz, 0, NULL, NULL);
        if (rc != CL_SUCCESS) {
            ret = pt__cl_fail(cl, rc, "clEnqueueNDRangeKernel", err, errlen);
            goto out;
        }
        rc = clEnqueueReadBuffer(cl->queue, dcounts, CL_TRUE, 0, groups * sizeof(cl_ulong), counts,
                                 0, NULL, NULL);
        if (rc != CL_SUCCESS) {
            ret = pt__cl_fail(cl, rc, "clEnqueueReadBuffer", err, errlen);
            goto out;
        }
        for (size_t g = 0; g < groups; g++)
            total += counts[g];
        pt_job_progress_add(job, 1);
    }
    if (s->list) {
        rc = clEnqueueReadBuffer(cl->queue, dbits, CL_TRUE, 0, (size_t)s->nbytes, s->bitmap, 0,
                                 NULL, NULL);
        if (rc != CL_SUCCESS) {
            ret = pt__cl_fail(cl, rc, "clEnqueueReadBuffer", err, errlen);
            goto out;
        }
    }
    s->count = total + tiny_primes(s);
    pt_job_record_phase(job, 0, pt__now() - t0);
    ret = 0;
out:
    if (dbits)
        clReleaseMemObject(dbits);
    if (dcounts)
        clReleaseMemObject(dcounts);
    if (dturns)
        clReleaseMemObject(dturns);
    if (dprimes)
        clReleaseMemObject(dprimes);
    if (k)
        clReleaseKernel(k);
    free(counts);
    free(turns);
    free(primes);
    return ret;
}
#endif /* PT_HAVE_OPENCL */

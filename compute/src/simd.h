/* simd.h - run-time choice of the instruction set for the CPU range
 * functions. Each hot function is compiled several times with GCC's target
 * attribute (same source, GCC vector extensions sized to the ISA) and the
 * best variant the CPU supports is called, so one binary is fast on old and
 * new x86-64 CPUs alike. Elsewhere only the baseline variant exists.
 */
#ifndef PTOOL_SIMD_H
#define PTOOL_SIMD_H

typedef enum pt__isa_level {
    PT__ISA_BASELINE = 0, /* x86-64 (SSE2) or any other architecture */
    PT__ISA_AVX2 = 1,     /* x86-64-v3: AVX2, FMA, BMI2 */
    PT__ISA_AVX512 = 2,   /* x86-64-v4: AVX-512 F/BW/CD/DQ/VL */
} pt__isa_level;

/* The best level this CPU supports, lowered by PTOOL_ISA=baseline|avx2|avx512
 * when set (for tests and comparisons; asking for more than the CPU has
 * gives what it has). Cached after the first call; thread-safe. */
pt__isa_level pt__isa(void);

/* "baseline", "avx2", "avx512". */
const char *pt__isa_name(pt__isa_level level);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PT__X86           1
#define PT__TARGET_AVX2   __attribute__((target("arch=x86-64-v3")))
#define PT__TARGET_AVX512 __attribute__((target("arch=x86-64-v4")))
#else
#define PT__X86 0
#endif

#endif /* PTOOL_SIMD_H */

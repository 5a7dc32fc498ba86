/* simd.c - instruction set detection (see simd.h). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ptool/cpu.h"
#include "simd.h"

static pt__isa_level detect(void)
{
    pt__isa_level have = PT__ISA_BASELINE;
#if PT__X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi2"))
        have = PT__ISA_AVX2;
    if (have == PT__ISA_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd"))
        have = PT__ISA_AVX512;
#endif
    const char *want = getenv("PTOOL_ISA");
    if (want) {
        pt__isa_level cap = have;
        if (strcmp(want, "baseline") == 0)
            cap = PT__ISA_BASELINE;
        else if (strcmp(want, "avx2") == 0)
            cap = PT__ISA_AVX2;
        else if (strcmp(want, "avx512") == 0)
            cap = PT__ISA_AVX512;
        if (cap < have)
            have = cap;
    }
    return have;
}

pt__isa_level pt__isa(void)
{
    static atomic_int cached = -1;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v < 0) {
        v = (int)detect();
        atomic_store_explicit(&cached, v, memory_order_relaxed);
    }
    return (pt__isa_level)v;
}

const char *pt__isa_name(pt__isa_level level)
{
    switch (level) {
    case PT__ISA_AVX512:
        return "avx512";
    case PT__ISA_AVX2:
        return "avx2";
    default:
        return "baseline";
    }
}

const char *pt_cpu_isa(void)
{
    return pt__isa_name(pt__isa());
}

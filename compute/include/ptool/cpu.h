/* ptool/cpu.h - how many CPUs this process may really use. */
#ifndef PTOOL_CPU_H
#define PTOOL_CPU_H

#include "ptool/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The number of CPUs the process can use: the CPUs in its affinity mask,
 * lowered to a cgroup CPU quota if one applies (cgroup v2 cpu.max or v1
 * cpu.cfs_quota_us / cpu.cfs_period_us, rounded up). Always >= 1. So a
 * container limited to 2 CPUs on a 64-core host gets 2. */
PT_EXTERN unsigned pt_cpu_count(void);

/* The CPU-count default for ptool's backends: PTOOL_THREADS if set to a
 * positive integer, else pt_cpu_count(). */
PT_EXTERN unsigned pt_default_threads(void);

/* The instruction set the CPU range functions use on this machine:
 * "avx512", "avx2" or "baseline" (PTOOL_ISA=baseline|avx2 lowers it). */
PT_EXTERN const char *pt_cpu_isa(void);

#ifdef __cplusplus
}
#endif
#endif /* PTOOL_CPU_H */

/* isprime.cl - primality of 64-bit numbers (OpenCL C 1.2).
 *
 * isprime_mr: one work-item per number, deterministic Miller-Rabin (mr.clh) with
 * Montgomery multiplication (mul_hi gives the high half of 64x64 products).
 *
 * isprime_trial: `slices` work-items share one number. Work-item s of a
 * number tries blocks of eight consecutive odd divisors as one double8 (so a
 * CPU device runs it as one AVX-512 vector), block k of slice s starting at
 * 3 + 16 (s + k slices). The quotient is computed in double precision and
 * checked exactly, as in compute/src/jobs/isprime.c (see its proof): for
 * n < 2^52, r = n - round(n/d) d in doubles is 0 exactly when d | n; above,
 * q = trunc(fl(n)/d) as ulong and r = n - q d in wrapping arithmetic is 0, d
 * or -d exactly when d | n (d >= 2049). Lanes past floor(sqrt(n)) are masked
 * off. out[] starts at 1 (prime); a work-item that finds a divisor writes 0,
 * and every work-item of the number checks that flag now and then to stop.
 * Built with -DPT_FP64=1 when the device has doubles; without, the plain
 * integer loop runs.
 */
#if PT_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#include "mr.clh"

static bool is_prime_mr(ulong n)
{
    const ulong small[12] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2)
        return false;
    for (int i = 0; i < 12; i++) {
        if (n == small[i])
            return true;
        if (n % small[i] == 0)
            return false;
    }
    if (n < 41 * 41)
        return true;
    return mr_odd_is_prime(n);
}

__kernel void isprime_mr(__global const ulong *nums, __global int *out, uint count)
{
    size_t i = get_global_id(0);
    if (i < count)
        out[i] = is_prime_mr(nums[i]) ? 1 : 0;
}

static ulong isqrt64(ulong n)
{
    ulong r = (ulong)sqrt((float)n);
    while (r > 0 && (r > 0xFFFFFFFFUL || r * r > n))
        r--;
    while (r < 0xFFFFFFFFUL && (r + 1) * (r + 1) <= n)
        r++;
    return r;
}

#define UNROLL 8      /* vector steps per block: one any() test per block */
#define CHECK_EVERY 4 /* blocks between looks at the shared flag */

__kernel void isprime_trial(__global const ulong *nums, __global volatile int *out, uint count,
                            uint slices)
{
    size_t gid = get_global_id(0);
    size_t i = gid / slices;
    ulong s = gid % slices;
    if (i >= count)
        return;
    ulong n = nums[i];
    if (n < 2 || (n % 2 == 0 && n != 2)) {
        out[i] = 0;
        return;
    }
    if (n < 9)
        return; /* 2, 3, 5, 7 */
    ulong lim = isqrt64(n);
    uint k = 0;
#if PT_FP64
    ulong start = 3;
    if (n >= (1UL << 52)) {
        /* small divisors one by one, then the 64-bit vector method */
        for (ulong d = 3 + 2 * s; d <= 2047 && d <= lim; d += 2 * (ulong)slices)
            if (n % d == 0) {
                out[i] = 0;
                return;
            }
        start = 2049;
    }
    const ulong step = 16 * (ulong)slices; /* between this work-item's vectors */
    const double8 nd = (double8)((double)n);
    const double8 limd = (double8)((double)lim + 0.5);
    const double8 lane = (double8)(0, 2, 4, 6, 8, 10, 12, 14);
    ulong d = start + 16 * s;
    if (n < (1UL << 52)) {
        /* Full blocks: every lane of all UNROLL vectors is <= lim. */
        double8 dd = (double8)((double)d) + lane;
        const double8 vstep = (double8)((double)step);
        for (; d + (UNROLL - 1) * step + 14 <= lim; d += UNROLL * step) {
            long8 hit = (long8)(0);
            for (int u = 0; u < UNROLL; u++) {
                double8 q = nd / dd;
                q = (q + 0x1p52) - 0x1p52;
                hit |= isequal(nd - q * dd, (double8)(0.0));
                dd += vstep;
            }
            if (any(hit)) {
                out[i] = 0;
                return;
            }
            if (++k % CHECK_EVERY == 0 && out[i] == 0)
                return;
        }
        /* The rest, with lanes past lim masked off. */
        for (; d <= lim; d += step) {
            double8 dv = (double8)((double)d) + lane;
            double8 q = nd / dv;
            q = (q + 0x1p52) - 0x1p52;
            if (any(isequal(nd - q * dv, (double8)(0.0)) & isless(dv, limd))) {
                out[i] = 0;
                return;
            }
        }
        return;
    }
    const ulong8 ulane = (ulong8)(0, 2, 4, 6, 8, 10, 12, 14);
    const ulong8 nv = (ulong8)(n);
    ulong8 dv = (ulong8)(d) + ulane;
    const ulong8 uvstep = (ulong8)(step);
    for (; d + (UNROLL - 1) * step + 14 <= lim; d += UNROLL * step) {
        long8 hit = (long8)(0);
        for (int u = 0; u < UNROLL; u++) {
            ulong8 q = convert_ulong8(nd / convert_double8(dv));
            ulong8 r = nv - q * dv;
            hit |= (r == (ulong8)(0)) | (r == dv) | (r == (ulong8)(0) - dv);
            dv += uvstep;
        }
        if (any(hit)) {
            out[i] = 0;
            return;
        }
        if (++k % CHECK_EVERY == 0 && out[i] == 0)
            return;
    }
    for (; d <= lim; d += step) {
        ulong8 dl = (ulong8)(d) + ulane;
        ulong8 q = convert_ulong8(nd / convert_double8(dl));
        ulong8 r = nv - q * dl;
        long8 hit = ((r == (ulong8)(0)) | (r == dl) | (r == (ulong8)(0) - dl)) &
                    (dl <= (ulong8)(lim));
        if (any(hit)) {
            out[i] = 0;
            return;
        }
    }
#else
    for (ulong d = 3 + 2 * s; d <= lim; d += 2 * (ulong)slices) {
        if (n % d == 0) {
            out[i] = 0;
            return;
        }
        if (++k % (UNROLL * CHECK_EVERY * 8) == 0 && out[i] == 0)
            return;
    }
#endif
}

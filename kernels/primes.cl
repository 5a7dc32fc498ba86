/* primes.cl - count (and mark) the primes in [lo, hi) (OpenCL C 1.2).
 *
 * Same representation as compute/src/jobs/primes.c: byte t of the range
 * covers the numbers base + 30t .. base + 30t + 29, one candidate for each
 * residue coprime to 30 (1, 7, 11, 13, 17, 19, 23, 29). A work-group sieves
 * one segment of `gbytes` such bytes in local memory, one flag byte per
 * candidate (storing 0 into a byte is race-free, so work-items cross off
 * without atomics), with the sieving primes 7..S from global memory:
 *   - primes with many multiples in the segment (index < nsplit) are shared
 *     by the whole group: the (prime, wheel turn) pairs are numbered through
 *     `turns` (a prefix sum over these primes of an upper bound of their
 *     turns per segment) and work-items take them in turn;
 *   - the other primes, a handful of multiples each, go one per work-item.
 * Multiples start at p^2. When S < sqrt(hi) (the host's hybrid plan), the
 * survivors >= mr_from then get a deterministic Miller-Rabin test. Finally
 * the group counts the flags inside [lo, hi) into counts[group] and, for
 * --list, packs them into bits[] (one byte per 30 numbers).
 */

__constant uchar wheel_r[8] = {1, 7, 11, 13, 17, 19, 23, 29};
/* bit index of n % 30, or 8 when n shares a factor with 30 */
__constant uchar res_idx[30] = {8, 0, 8, 8, 8, 8, 8, 1, 8, 8, 8, 2, 8, 3, 8,
                                8, 8, 4, 8, 5, 8, 8, 8, 6, 8, 8, 8, 8, 8, 7};

#include "mr.clh"

/* Crosses off the multiples p*q, q = 30u + R[k] with p <= q <= qmax, of
 * wheel turn u, that are >= first (qmax = last / p: no overflow). */
static void cross_turn(__local uchar *flags, ulong p, ulong u, ulong qmax, ulong first)
{
    const ulong q0 = 30 * u;
    for (int k = 0; k < 8; k++) {
        ulong q = q0 + wheel_r[k];
        if (q < p)
            continue;
        if (q > qmax)
            return;
        ulong m = p * q;
        if (m < first)
            continue;
        ulong rel = m - first;
        flags[(rel / 30) * 8 + res_idx[rel % 30]] = 0;
    }
}

/* The first wheel turn of p that can reach the segment. */
static ulong first_turn(ulong p, ulong first)
{
    ulong q = first / p;
    if (q < p)
        q = p;
    return q / 30;
}

__kernel void primes_segment(__global const uint *primes, uint nprimes, uint nsplit,
                             __global const uint *turns, ulong base, ulong nbytes, ulong byte0,
                             uint gbytes, ulong lo, ulong hi, ulong mr_from,
                             __global ulong *counts, __global uchar *bits, uint want_bits,
                             __local uchar *flags, __local ulong *sums, __local ulong *turn0,
                             __local ulong *qmax)
{
    const size_t lid = get_local_id(0), lsz = get_local_size(0);
    const size_t group = get_group_id(0);
    const ulong t0 = byte0 + (ulong)group * gbytes; /* the segment's first byte */
    if (t0 >= nbytes) {
        if (lid == 0)
            counts[group] = 0;
        return;
    }
    const uint nb = (uint)min((ulong)gbytes, nbytes - t0);
    const ulong first = base + 30 * t0;
    /* the segment's last number that matters (no overflow: it is < hi) */
    const ulong last = t0 + nb == nbytes ? hi - 1 : first + 30 * (ulong)nb - 1;

    for (uint i = lid; i < 8 * gbytes; i += lsz)
        flags[i] = i < 8 * nb ? 1 : 0;
    /* per shared prime: its first wheel turn and largest cofactor here */
    for (uint i = lid; i < nsplit; i += lsz) {
        ulong p = primes[i];
        turn0[i] = first_turn(p, first);
        qmax[i] = last / p;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* primes with many multiples: (prime, turn) pairs shared by the group */
    uint total = nsplit ? turns[nsplit] : 0;
    uint j = 0; /* prime of the current pair; pairs come in increasing order */
    for (uint f = lid; f < total; f += lsz) {
        while (turns[j + 1] <= f)
            j++;
        ulong p = primes[j];
        if (p * p > last)
            break;
        cross_turn(flags, p, turn0[j] + (f - turns[j]), qmax[j], first);
    }
    /* the rest: one prime per work-item */
    for (uint i = nsplit + lid; i < nprimes; i += lsz) {
        ulong p = primes[i];
        if (p * p > last)
            break;
        ulong qm = last / p;
        for (ulong u = first_turn(p, first); 30 * u <= qm; u++)
            cross_turn(flags, p, u, qm, first);
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    /* count (after Miller-Rabin on the survivors the sieve cannot decide) */
    ulong count = 0;
    for (uint i = lid; i < 8 * nb; i += lsz) {
        if (!flags[i])
            continue;
        ulong start = first + 30 * (ulong)(i / 8);
        uint r = wheel_r[i % 8];
        bool keep = start + r >= lo && r < hi - start && start + r != 1;
        if (keep && start + r >= mr_from)
            keep = mr_odd_is_prime(start + r);
        if (!keep)
            flags[i] = 0;
        count += keep;
    }
    sums[lid] = count;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t w = lsz / 2; w > 0; w /= 2) {
        if (lid < w)
            sums[lid] += sums[lid + w];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        counts[group] = sums[0];
    if (want_bits) {
        for (uint t = lid; t < nb; t += lsz) {
            uchar b = 0;
            for (int k = 0; k < 8; k++)
                b |= (uchar)(flags[8 * t + k] << k);
            bits[t0 + t] = b;
        }
    }
}

/* histogram.cl - counting values into bins (OpenCL C 1.2).
 *
 * Value v goes to bin mul_hi(v, bins) = floor(v * bins / 2^32), as on the
 * CPU. counts holds 64-bit counters as two 32-bit words: lo[b] = counts[b],
 * hi[b] = counts[bins + b]. Adding c < 2^32 to lo wraps at most once, and
 * the work-item whose add wraps it carries one into hi: exact in any order.
 *
 * histogram_local: each work-group takes a contiguous slice (fewer than
 * 2^31 values, so its local counts cannot overflow), counts it into bins in
 * local memory with atomic_inc, then adds its non-zero bins to the global
 * counters.
 * histogram_global: for bins that do not fit in local memory, every value
 * increments its global counter directly.
 */

static void add_carry(__global uint *counts, uint bins, uint b, uint c)
{
    uint old = atomic_add(&counts[b], c);
    if (old + c < old)
        atomic_inc(&counts[bins + b]);
}

__kernel void histogram_local(__global const uint *values, ulong n, uint bins,
                              __global uint *counts, __local uint *lbins)
{
    size_t lid = get_local_id(0), lsize = get_local_size(0);
    size_t g = get_group_id(0), groups = get_num_groups(0);
    for (uint b = lid; b < bins; b += lsize)
        lbins[b] = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    ulong per = (n + groups - 1) / groups;
    ulong begin = g * per, end = begin + per < n ? begin + per : n;
    for (ulong i = begin + lid; i < end; i += lsize)
        atomic_inc(&lbins[mul_hi(values[i], bins)]);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint b = lid; b < bins; b += lsize) {
        uint c = lbins[b];
        if (c)
            add_carry(counts, bins, b, c);
    }
}

__kernel void histogram_global(__global const uint *values, ulong n, uint bins,
                               __global uint *counts)
{
    size_t gsize = get_global_size(0);
    for (ulong i = get_global_id(0); i < n; i += gsize)
        add_carry(counts, bins, mul_hi(values[i], bins), 1);
}

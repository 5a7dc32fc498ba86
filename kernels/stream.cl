/* stream.cl - STREAM's kernels (OpenCL C 1.2, doubles).
 *
 * copy, scale, add, triad: one element per work-item. FP_CONTRACT is off, so
 * triad is a multiply then an add, each rounded, exactly as on the CPU: the
 * arrays are bit-identical to the CPU backends'.
 *
 * dot: each work-group sums a contiguous slice of the arrays, its work-items
 * reading neighbouring elements (coalesced on a GPU, SIMD lanes on a CPU
 * device), then a tree in local memory; one partial per group, summed by the
 * host in group order. All kernels share the argument list (dst, x, y, s, n)
 * so the host sets them alike. Built with -DPT_FP64=1 when the device has
 * doubles; without, the file is empty and the host refuses to run.
 */
#if PT_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#pragma OPENCL FP_CONTRACT OFF

__kernel void stream_copy(__global double *dst, __global const double *x,
                          __global const double *y, double s, ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        dst[i] = x[i];
}

__kernel void stream_scale(__global double *dst, __global const double *x,
                           __global const double *y, double s, ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        dst[i] = s * x[i];
}

__kernel void stream_add(__global double *dst, __global const double *x,
                         __global const double *y, double s, ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        dst[i] = x[i] + y[i];
}

__kernel void stream_triad(__global double *dst, __global const double *x,
                           __global const double *y, double s, ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        dst[i] = x[i] + s * y[i];
}

/* dst[group] = sum of x[i] * y[i] over the group's slice. The local size
 * must be a power of two. */
__kernel void stream_dot(__global double *dst, __global const double *x,
                         __global const double *y, double s, ulong n, __local double *scratch)
{
    size_t lid = get_local_id(0), lsize = get_local_size(0);
    size_t groups = get_num_groups(0), g = get_group_id(0);
    ulong per = (n + groups - 1) / groups; /* elements per group */
    ulong begin = g * per, end = begin + per < n ? begin + per : n;
    double acc = 0.0;
    for (ulong i = begin + lid; i < end; i += lsize)
        acc += x[i] * y[i];
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t h = lsize / 2; h > 0; h /= 2) {
        if (lid < h)
            scratch[lid] += scratch[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        dst[g] = scratch[0];
}
#endif

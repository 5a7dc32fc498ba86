/* stream.cl - STREAM's kernels (OpenCL C 1.2, doubles).
 *
 * Every kernel takes (dst, x, y, s, n, per). Each work-item handles either
 * a contiguous run of `per` elements (per > 0: what a CPU device wants, each
 * of its threads then streams through whole cache lines and the compiler
 * vectorises the inner loop), or, with per = 0, the elements gid, gid +
 * global size, ... (what a GPU wants: neighbouring work-items read
 * neighbouring elements).
 *
 * copy, scale, add, triad: FP_CONTRACT is off, so triad is a multiply then
 * an add, each rounded, exactly as on the CPU: the arrays are bit-identical
 * to the CPU backends'.
 * dot: each work-item sums its elements, then its work-group adds them in a
 * tree in local memory (the local size must be a power of two); one partial
 * per group, summed by the host in group order.
 *
 * Built with -DPT_FP64=1 when the device has doubles; without, the file is
 * empty and the host refuses to run.
 */
#if PT_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#pragma OPENCL FP_CONTRACT OFF

/* The loop over this work-item's elements, BODY on element i. */
#define FOR_MY_ELEMENTS(BODY)                                                                      \
    size_t gid = get_global_id(0);                                                                 \
    if (per) {                                                                                     \
        ulong begin = gid * per, end = begin + per < n ? begin + per : n;                          \
        for (ulong i = begin; i < end; i++)                                                        \
            BODY;                                                                                  \
    } else {                                                                                       \
        size_t gsize = get_global_size(0);                                                         \
        for (ulong i = gid; i < n; i += gsize)                                                     \
            BODY;                                                                                  \
    }

__kernel void stream_copy(__global double *restrict dst, __global const double *restrict x,
                          __global const double *restrict y, double s, ulong n, ulong per)
{
    FOR_MY_ELEMENTS(dst[i] = x[i])
}

__kernel void stream_scale(__global double *restrict dst, __global const double *restrict x,
                           __global const double *restrict y, double s, ulong n, ulong per)
{
    FOR_MY_ELEMENTS(dst[i] = s * x[i])
}

__kernel void stream_add(__global double *restrict dst, __global const double *restrict x,
                         __global const double *restrict y, double s, ulong n, ulong per)
{
    FOR_MY_ELEMENTS(dst[i] = x[i] + y[i])
}

__kernel void stream_triad(__global double *restrict dst, __global const double *restrict x,
                           __global const double *restrict y, double s, ulong n, ulong per)
{
    FOR_MY_ELEMENTS(dst[i] = x[i] + s * y[i])
}

__kernel void stream_dot(__global double *restrict dst, __global const double *restrict x,
                         __global const double *restrict y, double s, ulong n, ulong per,
                         __local double *scratch)
{
    double acc = 0.0;
    FOR_MY_ELEMENTS(acc += x[i] * y[i])
    size_t lid = get_local_id(0);
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t h = get_local_size(0) / 2; h > 0; h /= 2) {
        if (lid < h)
            scratch[lid] += scratch[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0)
        dst[get_group_id(0)] = scratch[0];
}
#endif

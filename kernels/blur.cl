/* blur.cl - separable Gaussian blur, clamped edges (OpenCL C 1.2).
 *
 * The same sums as compute/src/jobs/blur.c, in the same order, contraction
 * off: acc = w[0] * v[0]; acc = acc + w[k] * v[k] for k = 1..2r, in float.
 * A work-item does 16 consecutive samples (x * channels + channel) of a row
 * as one float16, so a CPU device runs it as one AVX-512 vector (PoCL does
 * not vectorise across work-items around an inner loop); samples past the
 * row's end and, in blur_h, samples whose taps reach past an edge are done
 * one by one with clamping.
 *   blur_h: the input row (bytes) horizontally into the float intermediate;
 *   blur_v: the intermediate's columns vertically into the byte output,
 *           rounding half up: (int)(acc + 0.5f) (acc is within [0, 255.5),
 *           convert_uchar_sat truncates like C's conversion).
 */
#pragma OPENCL FP_CONTRACT OFF

#define VW 16 /* samples per work-item */

static float h_one(__global const uchar *row, int i, int last, int c, int r,
                   __global const float *wt)
{
    int x = i / c, ch = i % c;
    float acc = wt[0] * (float)row[clamp(x - r, 0, last) * c + ch];
    for (int k = 1; k <= 2 * r; k++)
        acc = acc + wt[k] * (float)row[clamp(x - r + k, 0, last) * c + ch];
    return acc;
}

__kernel void blur_h(__global const uchar *in, __global float *tmp, __global const float *wt,
                     uint w, uint h, uint c, uint r)
{
    size_t g = get_global_id(0), y = get_global_id(1);
    size_t wc = (size_t)w * c, i0 = g * VW;
    if (i0 >= wc || y >= h)
        return;
    __global const uchar *row = in + y * wc;
    __global float *dst = tmp + y * wc;
    int last = (int)w - 1, ic = (int)c, ir = (int)r;
    /* all 16 samples interior: x(i0) >= r and x(i0 + 15) + r <= last */
    if (i0 + VW <= wc && (int)(i0 / c) >= ir && (int)((i0 + VW - 1) / c) + ir <= last) {
        __global const uchar *p = row + i0 - (size_t)r * c;
        float16 acc = wt[0] * convert_float16(vload16(0, p));
        for (uint k = 1; k <= 2 * r; k++)
            acc = acc + wt[k] * convert_float16(vload16(0, p + (size_t)k * c));
        vstore16(acc, 0, dst + i0);
        return;
    }
    size_t end = i0 + VW < wc ? i0 + VW : wc;
    for (size_t i = i0; i < end; i++)
        dst[i] = h_one(row, (int)i, last, ic, ir, wt);
}

__kernel void blur_v(__global const float *tmp, __global uchar *out, __global const float *wt,
                     uint w, uint h, uint c, uint r)
{
    size_t g = get_global_id(0), y = get_global_id(1);
    size_t wc = (size_t)w * c, i0 = g * VW;
    if (i0 >= wc || y >= h)
        return;
    int last = (int)h - 1, yy = (int)y - (int)r;
    __global const float *col = tmp + i0;
    if (i0 + VW <= wc) {
        float16 acc = wt[0] * vload16(0, col + (size_t)clamp(yy, 0, last) * wc);
        for (int k = 1; k <= 2 * (int)r; k++)
            acc = acc + wt[k] * vload16(0, col + (size_t)clamp(yy + k, 0, last) * wc);
        vstore16(convert_uchar16_sat(acc + 0.5f), 0, out + y * wc + i0);
        return;
    }
    for (size_t j = 0; i0 + j < wc; j++) {
        float acc = wt[0] * col[(size_t)clamp(yy, 0, last) * wc + j];
        for (int k = 1; k <= 2 * (int)r; k++)
            acc = acc + wt[k] * col[(size_t)clamp(yy + k, 0, last) * wc + j];
        out[y * wc + i0 + j] = convert_uchar_sat(acc + 0.5f);
    }
}

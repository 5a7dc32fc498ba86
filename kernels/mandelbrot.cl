/* mandelbrot.cl - escape-time iteration counts (OpenCL C 1.2, double).
 *
 * The same arithmetic as compute/src/jobs/mandelbrot.c, operation for
 * operation, with contraction off, so the counts and the final |z|^2 are
 * bitwise those of the C code:
 *     c = (re0 + x*dx, im0 + y*dy)
 *     zr2 = zr*zr; zi2 = zi*zi; if (zr2 + zi2 > 4) stop
 *     zi = (zr + zr)*zi + ci; zr = (zr2 - zi2) + cr
 * mandel_px: one pixel per work-item (GPUs). mandel_x16: sixteen neighbouring
 * pixels per work-item as two double8 (a CPU device runs each as one AVX-512
 * vector), lanes that escaped masked off as in the C code. Both write rows
 * y0 .. y0+rows-1 into band buffers (row y0 at offset 0). Without fp64
 * (PT_FP64=0) the file compiles to nothing; the host refuses such devices.
 */
#pragma OPENCL FP_CONTRACT OFF

#if PT_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable

__kernel void mandel_px(__global uint *count, __global float *mag, double re0, double dx,
                        double im0, double dy, uint width, uint y0, uint rows, uint iters)
{
    uint x = get_global_id(0), r = get_global_id(1);
    if (x >= width || r >= rows)
        return;
    double cr = re0 + (double)x * dx;
    double ci = im0 + (double)(y0 + r) * dy;
    double zr = 0.0, zi = 0.0, m_out = 0.0;
    uint n = 0;
    while (n < iters) {
        double zr2 = zr * zr;
        double zi2 = zi * zi;
        double m = zr2 + zi2;
        if (m > 4.0) {
            m_out = m;
            break;
        }
        zi = (zr + zr) * zi + ci;
        zr = (zr2 - zi2) + cr;
        n++;
    }
    size_t o = (size_t)r * width + x;
    count[o] = n;
    mag[o] = (float)m_out;
}

/* One iteration of chain k (a, b: the two double8 of a work-item). */
#define STEP(k)                                                                                    \
    {                                                                                              \
        double8 zr2 = zr##k * zr##k;                                                               \
        double8 zi2 = zi##k * zi##k;                                                               \
        double8 m = zr2 + zi2;                                                                     \
        long8 esc = act##k & isgreater(m, (double8)(4.0));                                         \
        mo##k = select(mo##k, m, esc);                                                             \
        act##k &= ~esc;                                                                            \
        zi##k = (zr##k + zr##k) * zi##k + ci;                                                      \
        zr##k = (zr2 - zi2) + cr##k;                                                               \
        cnt##k -= act##k;                                                                          \
    }

static void store8(__global uint *count, __global float *mag, size_t o, uint left, long8 cnt,
                   double8 mo)
{
    uint8 c = convert_uint8(cnt);
    float8 f = convert_float8(mo); /* round to nearest, as C's (float) */
    if (left >= 8) {
        vstore8(c, 0, count + o);
        vstore8(f, 0, mag + o);
        return;
    }
    uint c_[8];
    float f_[8];
    vstore8(c, 0, c_);
    vstore8(f, 0, f_);
    for (uint l = 0; l < left; l++) {
        count[o + l] = c_[l];
        mag[o + l] = f_[l];
    }
}

/* 16 neighbouring pixels per work-item: two double8 chains (a: x0..x0+7,
 * b: x0+8..x0+15) iterated together to hide latency, liveness checked every
 * 4 iterations (escaped lanes are masked, so extra iterations change
 * nothing). */
__kernel void mandel_x16(__global uint *count, __global float *mag, double re0, double dx,
                         double im0, double dy, uint width, uint y0, uint rows, uint iters)
{
    uint g = get_global_id(0), r = get_global_id(1);
    uint x0 = g * 16;
    if (x0 >= width || r >= rows)
        return;
    const double8 lane = (double8)(0, 1, 2, 3, 4, 5, 6, 7);
    double8 xa = (double8)((double)x0) + lane; /* exact: integers below 2^53 */
    double8 xb = xa + (double8)(8.0);
    double8 cra = (double8)(re0) + xa * (double8)(dx);
    double8 crb = (double8)(re0) + xb * (double8)(dx);
    double8 ci = (double8)(im0 + (double)(y0 + r) * dy);
    double8 zra = (double8)(0.0), zia = zra, moa = zra, zrb = zra, zib = zra, mob = zra;
    long8 acta = isless(xa, (double8)((double)width)); /* -1 inside the row */
    long8 actb = isless(xb, (double8)((double)width));
    long8 cnta = (long8)(0), cntb = (long8)(0);
    uint it = 0;
    for (; it + 4 <= iters; it += 4) {
        STEP(a) STEP(b) STEP(a) STEP(b) STEP(a) STEP(b) STEP(a) STEP(b)
        if (!any(acta | actb)) {
            it = iters;
            break;
        }
    }
    for (; it < iters; it++) {
        STEP(a) STEP(b)
    }
    size_t o = (size_t)r * width + x0;
    uint left = width - x0;
    store8(count, mag, o, left, cnta, moa);
    if (left > 8)
        store8(count, mag, o + 8, left - 8, cntb, mob);
}
#endif /* PT_FP64 */

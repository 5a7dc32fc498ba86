/* nbody.cl - all-pairs gravity, single precision (OpenCL C 1.2).
 *
 * nbody_accel: one work-item per body i; the work-group copies a tile of
 * get_local_size(0) bodies (a multiple of 16) into local memory, then every
 * work-item runs over the tile 16 bodies at a time as float16, exactly the
 * CPU's loop (compute/src/jobs/nbody.c): lane k sums the bodies j = k mod 16
 * in order, and the lanes are added in the same tree (.lo + .hi, three
 * times). FP_CONTRACT is off, as in the C code. Bodies n..npad have no mass
 * and contribute zeros. nbody_accel_flat: the same sums without local
 * memory or barriers, for CPU devices, whose caches do the tiling (PoCL runs
 * a work-group's items in a loop, and every barrier splits that loop).
 * nbody_move: r += v dt.
 */
#pragma OPENCL FP_CONTRACT OFF

static float hsum16(float16 v)
{
    float8 s8 = v.lo + v.hi;
    float4 s4 = s8.lo + s8.hi;
    return (s4.x + s4.z) + (s4.y + s4.w);
}

__kernel void nbody_accel(__global const float *x, __global const float *y,
                          __global const float *z, __global const float *m,
                          __global float *vx, __global float *vy, __global float *vz, uint n,
                          uint npad, float dt, float eps2, uint tile_size, __local float *tx,
                          __local float *ty, __local float *tz, __local float *tm)
{
    size_t i = get_global_id(0), lid = get_local_id(0), lsize = get_local_size(0);
    float16 xi = (float16)(x[i]), yi = (float16)(y[i]), zi = (float16)(z[i]);
    float16 ax = (float16)(0.0f), ay = (float16)(0.0f), az = (float16)(0.0f);
    for (uint tile = 0; tile < npad; tile += tile_size) {
        for (uint t = lid; t < tile_size; t += lsize) {
            tx[t] = x[tile + t];
            ty[t] = y[tile + t];
            tz[t] = z[tile + t];
            tm[t] = m[tile + t];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint k = 0; k < tile_size; k += 16) {
            float16 dx = vload16(0, tx + k) - xi;
            float16 dy = vload16(0, ty + k) - yi;
            float16 dz = vload16(0, tz + k) - zi;
            float16 r2 = dx * dx + dy * dy + dz * dz + eps2;
            float16 s = vload16(0, tm + k) / (r2 * sqrt(r2));
            ax += dx * s;
            ay += dy * s;
            az += dz * s;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (i < n) {
        vx[i] = vx[i] + hsum16(ax) * dt;
        vy[i] = vy[i] + hsum16(ay) * dt;
        vz[i] = vz[i] + hsum16(az) * dt;
    }
}

__kernel void nbody_accel_flat(__global const float *x, __global const float *y,
                               __global const float *z, __global const float *m,
                               __global float *vx, __global float *vy, __global float *vz,
                               uint n, uint npad, float dt, float eps2)
{
    size_t i = get_global_id(0);
    float16 xi = (float16)(x[i]), yi = (float16)(y[i]), zi = (float16)(z[i]);
    float16 ax = (float16)(0.0f), ay = (float16)(0.0f), az = (float16)(0.0f);
    for (uint k = 0; k < npad; k += 16) {
        float16 dx = vload16(0, x + k) - xi;
        float16 dy = vload16(0, y + k) - yi;
        float16 dz = vload16(0, z + k) - zi;
        float16 r2 = dx * dx + dy * dy + dz * dz + eps2;
        float16 s = vload16(0, m + k) / (r2 * sqrt(r2));
        ax += dx * s;
        ay += dy * s;
        az += dz * s;
    }
    if (i < n) {
        vx[i] = vx[i] + hsum16(ax) * dt;
        vy[i] = vy[i] + hsum16(ay) * dt;
        vz[i] = vz[i] + hsum16(az) * dt;
    }
}

__kernel void nbody_move(__global float *x, __global float *y, __global float *z,
                         __global const float *vx, __global const float *vy,
                         __global const float *vz, uint n, float dt)
{
    size_t i = get_global_id(0);
    if (i < n) {
        x[i] = x[i] + vx[i] * dt;
        y[i] = y[i] + vy[i] * dt;
        z[i] = z[i] + vz[i] * dt;
    }
}

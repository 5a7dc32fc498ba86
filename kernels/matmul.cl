/* matmul.cl - single-precision C = A x B, row-major (OpenCL C 1.2).
 *
 * Three kernels with the same arguments (m, n, k, a, b, c); the host picks
 * one per device (compute/src/jobs/matmul.c, --cl-kernel). Both tiled ones
 * use work-groups of RTS x RTS (16 x 16) work-items that stage a TSK-deep
 * slice of A and of B in __local memory, each work-item loading its share,
 * then run TSK steps of fused multiply-adds from local memory into a block
 * of C held in registers. Loads past an edge read 0 and stores past an edge
 * are skipped, so any m, n, k works. Each element sums over k in order.
 *
 * matmul_tiled (GPUs): a 64 x 64 tile of C per work-group, 4 x 4 elements
 * per work-item at rows ty + 16 i and columns tx + 16 j, so neighbouring
 * work-items touch neighbouring columns: coalesced loads and stores, and
 * conflict-free local reads (Nugteren's "myGEMM" kernel 6 layout).
 * NDRange: global (ceil(n/64) 16, ceil(m/64) 16), local (16, 16).
 *
 * matmul_wide (CPU devices, e.g. PoCL): a 128 x 256 tile per work-group,
 * each work-item computing 8 rows x 16 consecutive columns as eight
 * float16: the work-item's own arithmetic is then already one AVX-512
 * vector per row, which a CPU runs far better than the scalar layout
 * (about 3x on PoCL). NDRange: global (ceil(n/256) 16, ceil(m/128) 16),
 * local (16, 16).
 *
 * matmul_simple: one work-item per element of C and no local memory, for
 * devices with smaller work-groups or local memory than the tiles need.
 * Global (n, m) rounded up to the local size.
 */

#define RTS 16 /* work-group side */

/* --- matmul_tiled ----------------------------------------------------------- */

#define T_TS  64                                /* tile of C (square) */
#define T_TSK 16                                /* depth per local stage */
#define T_WPT (T_TS / RTS)                      /* 4 x 4 per work-item */
#define T_LPT ((T_TS * T_TSK) / (RTS * RTS))    /* loads per work-item: 4 */

__kernel __attribute__((reqd_work_group_size(RTS, RTS, 1))) void
matmul_tiled(const uint m, const uint n, const uint k, const __global float *restrict a,
             const __global float *restrict b, __global float *restrict c)
{
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int tid = ty * RTS + tx;
    const size_t row0 = (size_t)get_group_id(1) * T_TS, col0 = (size_t)get_group_id(0) * T_TS;

    /* +1: the 16 work-items that store one row's 16 depths of A hit 16
     * different banks instead of one */
    __local float asub[T_TSK][T_TS + 1]; /* A slice, transposed: asub[p][row] */
    __local float bsub[T_TSK][T_TS + 1]; /* B slice: bsub[p][col] */

    float acc[T_WPT][T_WPT];
    for (int i = 0; i < T_WPT; i++)
        for (int j = 0; j < T_WPT; j++)
            acc[i][j] = 0.0f;

    for (uint p0 = 0; p0 < k; p0 += T_TSK) {
        for (int l = 0; l < T_LPT; l++) {
            int idx = tid + l * RTS * RTS;
            /* A: 16 consecutive k values of a row per 16 work-items */
            int ar = idx / T_TSK, ap = idx % T_TSK;
            size_t grow = row0 + ar;
            uint gp = p0 + ap;
            asub[ap][ar] = (grow < m && gp < k) ? a[grow * k + gp] : 0.0f;
            /* B: 64 consecutive columns of a row per 64 work-items */
            int bp = idx / T_TS, bc = idx % T_TS;
            size_t gcol = col0 + bc;
            uint gq = p0 + bp;
            bsub[bp][bc] = (gq < k && gcol < n) ? b[(size_t)gq * n + gcol] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        for (int p = 0; p < T_TSK; p++) {
            float breg[T_WPT];
            for (int j = 0; j < T_WPT; j++)
                breg[j] = bsub[p][tx + j * RTS];
            for (int i = 0; i < T_WPT; i++) {
                float areg = asub[p][ty + i * RTS];
                for (int j = 0; j < T_WPT; j++)
                    acc[i][j] = fma(areg, breg[j], acc[i][j]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (int i = 0; i < T_WPT; i++) {
        size_t row = row0 + ty + i * RTS;
        if (row >= m)
            break;
        for (int j = 0; j < T_WPT; j++) {
            size_t col = col0 + tx + j * RTS;
            if (col < n)
                c[row * n + col] = acc[i][j];
        }
    }
}

/* --- matmul_wide ------------------------------------------------------------ */

#define W_TM   8                                /* rows per work-item */
#define W_TSM  (RTS * W_TM)                     /* 128 rows per tile */
#define W_TSN  (RTS * 16)                       /* 256 columns per tile */
#define W_TSK  16                               /* depth per local stage */
#define W_LPTA ((W_TSM * W_TSK) / (RTS * RTS))  /* A loads per work-item: 8 */
#define W_LPTB ((W_TSN * W_TSK) / (RTS * RTS))  /* B loads per work-item: 16 */

__kernel __attribute__((reqd_work_group_size(RTS, RTS, 1))) void
matmul_wide(const uint m, const uint n, const uint k, const __global float *restrict a,
            const __global float *restrict b, __global float *restrict c)
{
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int tid = ty * RTS + tx;
    const size_t row0 = (size_t)get_group_id(1) * W_TSM, col0 = (size_t)get_group_id(0) * W_TSN;

    __local float asub[W_TSK][W_TSM + 1]; /* A slice, transposed (+1: see matmul_tiled) */
    __local float16 bsub[W_TSK][RTS];  /* B slice: 16 columns per work-item */

    float16 acc[W_TM];
    for (int i = 0; i < W_TM; i++)
        acc[i] = (float16)(0.0f);

    for (uint p0 = 0; p0 < k; p0 += W_TSK) {
        for (int l = 0; l < W_LPTA; l++) {
            int idx = tid + l * RTS * RTS;
            int ar = idx / W_TSK, ap = idx % W_TSK;
            size_t grow = row0 + ar;
            uint gp = p0 + ap;
            asub[ap][ar] = (grow < m && gp < k) ? a[grow * k + gp] : 0.0f;
        }
        for (int l = 0; l < W_LPTB; l++) {
            int idx = tid + l * RTS * RTS;
            int bp = idx / W_TSN, bc = idx % W_TSN;
            size_t gcol = col0 + bc;
            uint gq = p0 + bp;
            ((__local float *)bsub[bp])[bc] =
                (gq < k && gcol < n) ? b[(size_t)gq * n + gcol] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int p = 0; p < W_TSK; p++) {
            float16 bv = bsub[p][tx];
            for (int i = 0; i < W_TM; i++)
                acc[i] = fma((float16)(asub[p][ty * W_TM + i]), bv, acc[i]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    size_t col = col0 + (size_t)tx * 16;
    for (int i = 0; i < W_TM; i++) {
        size_t row = row0 + (size_t)ty * W_TM + i;
        if (row >= m)
            break;
        if (col + 16 <= n) {
            vstore16(acc[i], 0, c + row * n + col);
        } else {
            float v[16];
            vstore16(acc[i], 0, v);
            for (int j = 0; j < 16 && col + j < n; j++)
                c[row * n + col + j] = v[j];
        }
    }
}

/* --- matmul_simple ---------------------------------------------------------- */

__kernel void matmul_simple(const uint m, const uint n, const uint k,
                            const __global float *restrict a, const __global float *restrict b,
                            __global float *restrict c)
{
    size_t col = get_global_id(0), row = get_global_id(1);
    if (row >= m || col >= n)
        return;
    const __global float *ar = a + row * k;
    float acc = 0.0f;
    for (uint p = 0; p < k; p++)
        acc = fma(ar[p], b[(size_t)p * n + col], acc);
    c[row * n + col] = acc;
}

/* mandel_scalar_omp.c - the reference point for `ptool bench mandelbrot`: a
 * plain scalar C OpenMP loop over the same image as ptool's default view
 * (centre -0.5+0i, view width --scale 3, square pixels, pixel centres),
 * -O2, one row per dynamically scheduled iteration, nothing clever. The
 * arithmetic is ptool's (see compute/src/jobs/mandelbrot.c), so the
 * checksum (FNV-1a 64 of the iteration counts) must match ptool's. Prints
 * one JSON line with the median wall time of --repeat runs.
 *
 *   bench_mandel_scalar_omp [--width N] [--height N] [--iters N] [--repeat N]
 * OMP_NUM_THREADS sets the threads (default: every CPU). */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long width = 4096, height = 4096, iters = 256, repeat = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = atol(argv[i + 1]);
        if (!strcmp(argv[i], "--width"))
            width = v;
        else if (!strcmp(argv[i], "--height"))
            height = v;
        else if (!strcmp(argv[i], "--iters"))
            iters = v;
        else if (!strcmp(argv[i], "--repeat"))
            repeat = v;
    }
    if (width < 1 || height < 1 || iters < 1 || repeat < 1 || repeat > 100 || width > 65536 ||
        height > 65536) {
        fprintf(stderr, "bench_mandel_scalar_omp: bad arguments\n");
        return 2;
    }
    uint32_t *count = malloc((size_t)width * (size_t)height * sizeof(uint32_t));
    if (!count) {
        fprintf(stderr, "bench_mandel_scalar_omp: out of memory\n");
        return 1;
    }
    const double scale = 3.0, cre = -0.5, cim = 0.0;
    const double dx = scale / (double)width;
    const double re0 = (cre - 0.5 * scale) + 0.5 * dx;
    const double im0 = (cim + 0.5 * dx * (double)height) - 0.5 * dx;
    double t[100];
    for (long r = 0; r < repeat; r++) {
        double t0 = omp_get_wtime();
#pragma omp parallel for schedule(dynamic, 1)
        for (long y = 0; y < height; y++) {
            double ci = im0 + (double)y * -dx;
            for (long x = 0; x < width; x++) {
                double cr = re0 + (double)x * dx;
                double zr = 0.0, zi = 0.0;
                uint32_t n = 0;
                while (n < (uint32_t)iters) {
                    double zr2 = zr * zr, zi2 = zi * zi;
                    if (zr2 + zi2 > 4.0)
                        break;
                    zi = (zr + zr) * zi + ci;
                    zr = (zr2 - zi2) + cr;
                    n++;
                }
                count[y * width + x] = n;
            }
        }
        t[r] = omp_get_wtime() - t0;
    }
    uint64_t fnv = 0xcbf29ce484222325ull, total = 0;
    for (size_t i = 0; i < (size_t)width * (size_t)height; i++) {
        for (int b = 0; b < 4; b++) {
            fnv ^= (count[i] >> (8 * b)) & 0xffu;
            fnv *= 0x100000001b3ull;
        }
        total += count[i];
    }
    free(count);
    printf("{\"name\":\"plain scalar C OpenMP loop\",\"threads\":%d,\"width\":%ld,\"height\":%ld,"
           "\"iters\":%ld,\"checksum\":\"%016llx\",\"iterations\":%llu,\"times\":[",
           omp_get_max_threads(), width, height, iters, (unsigned long long)fnv,
           (unsigned long long)total);
    for (long r = 0; r < repeat; r++)
        printf("%s%.6f", r ? "," : "", t[r]);
    qsort(t, (size_t)repeat, sizeof(double), cmp);
    printf("],\"median_seconds\":%.6f}\n", t[repeat / 2]);
    return 0;
}

/* test_mandelbrot.c - the mandelbrot job: iteration counts and final |z|^2
 * of every backend, every SIMD variant and both OpenCL kernels against a
 * plain scalar loop written here (exactly: the same arithmetic, nothing
 * fused), on views across the set's boundary, odd sizes and edge iteration
 * limits; the checksum; the PNG; bad parameters, in the library and on the
 * command line. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__) && !defined(__STRICT_ANSI__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>

#include "images_common.h"

void pt__mandel_result(const pt_job *job, const uint32_t **count, const float **mag,
                       uint32_t *width, uint32_t *height);

/* One view: the centre/scale form (edges false: a = centre re, b = centre
 * im, c = scale) or the edges form (a..d = re-min, re-max, im-min, im-max). */
typedef struct view_case {
    const char *name;
    uint32_t w, h, iters;
    bool edges;
    double a, b, c, d;
} view_case;

static const view_case views[] = {
    {"default 1x1", 1, 1, 256, false, -0.5, 0, 3, 0},
    {"default 7x5", 7, 5, 256, false, -0.5, 0, 3, 0},
    {"default 33x17", 33, 17, 256, false, -0.5, 0, 3, 0},
    {"default 97x61", 97, 61, 256, false, -0.5, 0, 3, 0},
    {"default 257x3", 257, 3, 100, false, -0.5, 0, 3, 0},
    {"default 3x131", 3, 131, 100, false, -0.5, 0, 3, 0},
    {"seahorse valley, 2000 iterations", 61, 37, 2000, false, -0.7436438870371587,
     0.1318259042053120, 1e-3, 0},
    {"elephant valley, 777 iterations", 45, 45, 777, false, 0.2925, 0.0149, 0.01, 0},
    {"deep zoom 1e-7 into the seahorse spiral", 33, 29, 3001, false, -0.7436438870371587,
     0.1318259042053120, 1e-7, 0},
    {"edges form", 50, 41, 100, true, -2.0, 0.75, -1.25, 1.25},
    {"edges form, thin strip on the real axis", 71, 1, 500, true, -2.0, 0.25, -1e-3, 1e-3},
    {"1 iteration", 16, 16, 1, false, -0.5, 0, 3, 0},
    {"2 iterations", 17, 3, 2, false, -0.5, 0, 3, 0},
    {"3 iterations", 17, 3, 3, false, -0.5, 0, 3, 0},
    {"5 iterations", 19, 11, 5, false, -0.5, 0, 3, 0},
    {"all outside", 17, 9, 50, false, 3, 3, 1, 0},
    {"all inside, 999 iterations", 19, 7, 999, false, -0.1, 0, 0.2, 0},
};
#define NVIEWS (sizeof(views) / sizeof(views[0]))

/* The view's pixel grid, as the job documents it (pixel centres). */
static void grid(const view_case *v, double *re0, double *dx, double *im0, double *dy)
{
    if (v->edges) {
        *dx = (v->b - v->a) / v->w;
        double h = (v->d - v->c) / v->h;
        *re0 = v->a + 0.5 * *dx;
        *im0 = v->d - 0.5 * h;
        *dy = -h;
    } else {
        *dx = v->c / v->w;
        *re0 = (v->a - 0.5 * v->c) + 0.5 * *dx;
        *im0 = (v->b + 0.5 * *dx * v->h) - 0.5 * *dx;
        *dy = -*dx;
    }
}

/* The escape loop, the obvious way. */
static uint32_t escape(double cr, double ci, uint32_t iters, double *mag)
{
    double zr = 0, zi = 0;
    *mag = 0;
    for (uint32_t n = 0; n < iters; n++) {
        double zr2 = zr * zr, zi2 = zi * zi;
        if (zr2 + zi2 > 4.0) {
            *mag = zr2 + zi2;
            return n;
        }
        zi = (zr + zr) * zi + ci;
        zr = (zr2 - zi2) + cr;
    }
    return iters;
}

/* Reference counts and |z|^2 (as float) of a view; caller frees. */
static void reference(const view_case *v, uint32_t **count, float **mag)
{
    double re0, dx, im0, dy;
    grid(v, &re0, &dx, &im0, &dy);
    size_t n = (size_t)v->w * v->h;
    *count = malloc(n * sizeof(**count));
    *mag = malloc(n * sizeof(**mag));
    cr_assert(*count && *mag);
    for (uint32_t y = 0; y < v->h; y++)
        for (uint32_t x = 0; x < v->w; x++) {
            double m;
            (*count)[(size_t)y * v->w + x] =
                escape(re0 + (double)x * dx, im0 + (double)y * dy, v->iters, &m);
            (*mag)[(size_t)y * v->w + x] = (float)m;
        }
}

static uint64_t fnv_counts(const uint32_t *c, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) {
            h ^= (c[i] >> (8 * b)) & 0xffu;
            h *= 0x100000001b3ull;
        }
    return h;
}

/* name=value pairs of a view into kv (storage in buf); returns the count. */
static size_t view_params(const view_case *v, const char **kv, char buf[8][64])
{
    size_t n = 0;
    snprintf(buf[0], 64, "%u", v->w);
    snprintf(buf[1], 64, "%u", v->h);
    snprintf(buf[2], 64, "%u", v->iters);
    kv[n++] = "width", kv[n++] = buf[0];
    kv[n++] = "height", kv[n++] = buf[1];
    kv[n++] = "iters", kv[n++] = buf[2];
    static const char *const cnames[3] = {"center-re", "center-im", "scale"};
    static const char *const enames[4] = {"re-min", "re-max", "im-min", "im-max"};
    double vals[4] = {v->a, v->b, v->c, v->d};
    for (int i = 0; i < (v->edges ? 4 : 3); i++) {
        snprintf(buf[3 + i], 64, "%.17g", vals[i]);
        kv[n++] = v->edges ? enames[i] : cnames[i];
        kv[n++] = buf[3 + i];
    }
    return n;
}

static pt_job *view_job(pt_runtime *rt, const view_case *v, unsigned flags)
{
    const char *kv[16];
    char buf[8][64], err[PT_ERRBUF_SIZE];
    size_t n = view_params(v, kv, buf);
    pt_job *job;
    cr_assert_eq(jt_make(rt, "mandelbrot", flags, kv, n, &job, err, sizeof(err)), 0, "%s: %s",
                 v->name, err);
    return job;
}

/* The job's result equals the reference exactly. */
static void expect_reference(const pt_job *job, const view_case *v, const char *what)
{
    uint32_t *rc;
    float *rm;
    reference(v, &rc, &rm);
    const uint32_t *c;
    const float *m;
    uint32_t w, h;
    pt__mandel_result(job, &c, &m, &w, &h);
    cr_assert_eq(w, v->w);
    cr_assert_eq(h, v->h);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        cr_assert_eq(c[i], rc[i], "%s, %s: pixel (%zu, %zu): %u iterations, reference %u", what,
                     v->name, i % w, i / w, c[i], rc[i]);
        cr_assert(memcmp(&m[i], &rm[i], sizeof(float)) == 0,
                  "%s, %s: pixel (%zu, %zu): |z|^2 %.9g, reference %.9g", what, v->name, i % w,
                  i / w, (double)m[i], (double)rm[i]);
    }
    free(rc);
    free(rm);
}

/* --- the reference itself ---------------------------------------------------- */

Test(mandelbrot, reference_views_cover_the_boundary)
{
    /* The views are only useful if they mix escaping and captured pixels
     * and reach high counts near the boundary. */
    for (size_t k = 0; k < NVIEWS; k++) {
        const view_case *v = &views[k];
        uint32_t *c;
        float *m;
        reference(v, &c, &m);
        size_t n = (size_t)v->w * v->h, in = 0;
        uint32_t maxesc = 0;
        for (size_t i = 0; i < n; i++) {
            in += c[i] == v->iters;
            if (c[i] < v->iters && c[i] > maxesc)
                maxesc = c[i];
        }
        cr_log_info("%s: %zu of %zu pixels in the set, highest escape count %u", v->name, in, n,
                    maxesc);
        if (strstr(v->name, "valley") || strstr(v->name, "deep")) {
            cr_expect(in > 0 && in < n, "%s: no boundary in view", v->name);
            cr_expect_gt(maxesc, v->iters / 4, "%s: nothing escapes late", v->name);
        }
        if (strstr(v->name, "all outside"))
            cr_expect_eq(in, 0);
        if (strstr(v->name, "all inside"))
            cr_expect_eq(in, n);
        free(c);
        free(m);
    }
}

/* --- every SIMD variant and every backend ---------------------------------- */

static const char *const isa_names[] = {"baseline", "avx2", "avx512"};
static int isa_index[] = {0, 1, 2};

ParameterizedTestParameters(mandelbrot, isa_variants_match_reference)
{
    return cr_make_param_array(int, isa_index, sizeof(isa_index) / sizeof(isa_index[0]));
}

ParameterizedTest(int *which, mandelbrot, isa_variants_match_reference, .timeout = 300)
{
    /* each test is its own process: PTOOL_ISA set here picks the variant */
    setenv("PTOOL_ISA", isa_names[*which], 1);
    cr_log_info("PTOOL_ISA=%s: variant used: %s", isa_names[*which], pt_cpu_isa());
    pt_runtime *rt = jt_runtime_no_processes(0);
    for (size_t k = 0; k < NVIEWS; k++) {
        pt_job *job = view_job(rt, &views[k], 0);
        jt_run_on(rt, job, PT_BACKEND_SERIAL);
        expect_reference(job, &views[k], isa_names[*which]);
        pt_job_destroy(job);
    }
    pt_runtime_destroy(rt);
}

ParameterizedTestParameters(mandelbrot, backends_match_serial_and_reference)
{
    return cr_make_param_array(pt_backend_id, jt_backends, JT_NBACKENDS);
}

ParameterizedTest(pt_backend_id *b, mandelbrot, backends_match_serial_and_reference, .timeout = 600)
{
    pt_runtime *rt = jt_runtime(2);
    /* OpenCL: both paths, whatever the device (CPU: kernel mandel_x16, GPU:
     * mandel_px). */
    static const char *const kernels[] = {"cpu", "gpu"};
    size_t nk = *b == PT_BACKEND_OPENCL ? 2 : 1;
    for (size_t ki = 0; ki < nk; ki++) {
        if (*b == PT_BACKEND_OPENCL)
            setenv("PTOOL_CL_PATH", kernels[ki], 1);
        for (size_t k = 0; k < NVIEWS; k++) {
            const view_case *v = &views[k];
            pt_job *job = view_job(rt, v, PT_JOB_SHARED), *ref = view_job(rt, v, 0);
            jt_run_on(rt, job, *b);
            jt_run_on(rt, ref, PT_BACKEND_SERIAL);
            char err[PT_ERRBUF_SIZE];
            cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s%s%s, %s: %s",
                         pt_backend_name(*b), nk > 1 ? " path " : "", nk > 1 ? kernels[ki] : "",
                         v->name, err);
            expect_reference(job, v, pt_backend_name(*b));
            pt_job_destroy(job);
            pt_job_destroy(ref);
        }
    }
    pt_runtime_destroy(rt);
}

Test(mandelbrot, verify_catches_a_difference)
{
    pt_runtime *rt = jt_runtime_no_processes(0);
    pt_job *job = view_job(rt, &views[3], 0), *ref = view_job(rt, &views[3], 0);
    jt_run_on(rt, job, PT_BACKEND_SERIAL);
    jt_run_on(rt, ref, PT_BACKEND_SERIAL);
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s", err);
    const uint32_t *c;
    const float *m;
    uint32_t w, h;
    pt__mandel_result(job, &c, &m, &w, &h);
    ((uint32_t *)(uintptr_t)c)[w * 10 + 5] += 1;
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), PT_EVERIFY);
    cr_assert_not_null(strstr(err, "pixel (5, 10)"), "%s", err);
    ((uint32_t *)(uintptr_t)c)[w * 10 + 5] -= 1;
    ((float *)(uintptr_t)m)[7] = nextafterf(m[7], 1e9f);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), PT_EVERIFY);
    cr_assert_not_null(strstr(err, "|z|^2"), "%s", err);
    pt_job_destroy(job);
    pt_job_destroy(ref);
    pt_runtime_destroy(rt);
}

/* --- output --------------------------------------------------------------- */

Test(mandelbrot, checksum_text_and_json)
{
    pt_runtime *rt = jt_runtime_no_processes(0);
    const view_case *v = &views[3];
    uint32_t *rc;
    float *rm;
    reference(v, &rc, &rm);
    uint64_t total = 0;
    size_t n = (size_t)v->w * v->h, in = 0;
    for (size_t i = 0; i < n; i++) {
        total += rc[i];
        in += rc[i] == v->iters;
    }
    char want[64], want_total[64], want_in[64];
    snprintf(want, sizeof(want), "checksum %016llx", (unsigned long long)fnv_counts(rc, n));
    snprintf(want_total, sizeof(want_total), "iterations %llu ", (unsigned long long)total);
    snprintf(want_in, sizeof(want_in), "%zu of %zu pixels reached the limit", in, n);
    for (int rep = 0; rep < 2; rep++) {
        pt_job *job = view_job(rt, v, 0);
        jt_run_on(rt, job, rep ? PT_BACKEND_OPENMP : PT_BACKEND_THREADS);
        char *text = jt_job_text(job, 0);
        cr_assert_not_null(strstr(text, want), "want '%s' in:\n%s", want, text);
        cr_assert_not_null(strstr(text, want_total), "want '%s' in:\n%s", want_total, text);
        cr_assert_not_null(strstr(text, want_in), "want '%s' in:\n%s", want_in, text);
        free(text);
        char wantq[80];
        snprintf(wantq, sizeof(wantq), "%s\n", want);
        jt_expect_text(job, PT_OUT_QUIET, wantq);
        pt_job_destroy(job);
    }
    free(rc);
    free(rm);
    pt_runtime_destroy(rt);
}

Test(mandelbrot, png_written_complete_and_readable, .timeout = 120)
{
    char dir[64], path[128], ls[1024], err[PT_ERRBUF_SIZE];
    tmpdir_make(dir, sizeof(dir), "mandel");
    snprintf(path, sizeof(path), "%s/m.png", dir);
    pt_runtime *rt = jt_runtime_no_processes(0);
    const view_case *v = &views[3];
    const char *kv[20];
    char buf[8][64];
    size_t n = view_params(v, kv, buf);
    kv[n++] = "output";
    kv[n++] = path;
    pt_job *job = jt_job(rt, "mandelbrot", 0, kv, n);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_empty(ls, "setup wrote something: %s", ls);
    jt_run_on(rt, job, PT_BACKEND_THREADS);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_empty(ls, "the run wrote something before save: %s", ls);
    cr_assert_eq(pt_job_save(job, err, sizeof(err)), 0, "%s", err);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_eq(ls, "m.png", "want only m.png, no temporaries: %s", ls);

    pt__image img;
    cr_assert_eq(pt__png_read(path, &img, heap_alloc, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(img.width, v->w);
    cr_assert_eq(img.height, v->h);
    cr_assert_eq(img.channels, 3);
    const uint32_t *c;
    const float *m;
    uint32_t w, h;
    pt__mandel_result(job, &c, &m, &w, &h);
    size_t black = 0;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        const uint8_t *px = img.pixels + 3 * i;
        bool is_black = px[0] == 0 && px[1] == 0 && px[2] == 0;
        cr_assert_eq(is_black, c[i] == v->iters, "pixel %zu: rgb %u,%u,%u, %u iterations", i, px[0],
                     px[1], px[2], c[i]);
        black += is_black;
    }
    cr_assert(black > 0 && black < (size_t)w * h);
    free(img.pixels);

    /* the same image from another backend: the same file, byte for byte */
    char path2[128];
    snprintf(path2, sizeof(path2), "%s/m2.png", dir);
    kv[n - 1] = path2;
    pt_job *job2 = jt_job(rt, "mandelbrot", 0, kv, n);
    jt_run_on(rt, job2, PT_BACKEND_SERIAL);
    cr_assert_eq(pt_job_save(job2, err, sizeof(err)), 0, "%s", err);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "cmp -s %s %s", path, path2);
    cr_assert_eq(system(cmd), 0, "the PNGs of two backends differ");
    pt_job_destroy(job2);

    /* a save that fails (the directory is gone) leaves nothing and says why */
    pt_job_destroy(job);
    tmpdir_remove(dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    job = jt_job(rt, "mandelbrot", 0, kv, n);
    jt_run_on(rt, job, PT_BACKEND_SERIAL);
    cr_assert_eq(rmdir(dir), 0);
    int rc = pt_job_save(job, err, sizeof(err));
    cr_assert_neq(rc, 0);
    cr_assert_not_null(strstr(err, "--output"), "%s", err);
    cr_assert_eq(access(path2, F_OK), -1);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
    tmpdir_remove(dir);
}

Test(mandelbrot, no_output_no_file)
{
    char dir[64], ls[1024], err[PT_ERRBUF_SIZE];
    tmpdir_make(dir, sizeof(dir), "mandel");
    char cwd[4096];
    cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
    cr_assert_eq(chdir(dir), 0);
    pt_runtime *rt = jt_runtime_no_processes(0);
    pt_job *job = view_job(rt, &views[2], 0);
    jt_run_on(rt, job, PT_BACKEND_SERIAL);
    cr_assert_eq(pt_job_save(job, err, sizeof(err)), 0, "%s", err);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_empty(ls);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
    cr_assert_eq(chdir(cwd), 0);
    tmpdir_remove(dir);
}

/* --- bad parameters ----------------------------------------------------------- */

typedef struct bad_case {
    const char *kv[12];
    int code;
    const char *names; /* what the message must contain */
} bad_case;

Test(mandelbrot, bad_parameters_are_refused_with_their_name)
{
    static const bad_case cases[] = {
        {{"width", "0"}, PT_ERANGE, "--width"},
        {{"width", "-5"}, PT_ERANGE, "--width"},
        {{"width", "65537"}, PT_ERANGE, "--width"},
        {{"width", "abc"}, PT_EPARSE, "--width"},
        {{"height", "0"}, PT_ERANGE, "--height"},
        {{"height", "-1"}, PT_ERANGE, "--height"},
        {{"iters", "0"}, PT_ERANGE, "--iters"},
        {{"iters", "10000001"}, PT_ERANGE, "--iters"},
        {{"scale", "0"}, PT_ERANGE, "--scale"},
        {{"scale", "-3"}, PT_ERANGE, "--scale"},
        {{"center-re", "nan"}, PT_ERANGE, "--center-re"},
        {{"center-im", "1e300"}, PT_ERANGE, "--center-im"},
        {{"re-min", "-2"}, PT_EINVAL, "--re-max"},
        {{"re-min", "-2", "re-max", "1", "im-min", "-1"}, PT_EINVAL, "--im-max"},
        {{"re-min", "-2", "re-max", "1", "im-min", "-1", "im-max", "1", "scale", "2"},
         PT_EINVAL,
         "--scale"},
        {{"re-min", "-2", "re-max", "1", "im-min", "-1", "im-max", "1", "center-re", "0"},
         PT_EINVAL,
         "--center-re"},
        {{"re-min", "1", "re-max", "1", "im-min", "-1", "im-max", "1"}, PT_EINVAL, "--re-min"},
        {{"re-min", "-1", "re-max", "1", "im-min", "1", "im-max", "-1"}, PT_EINVAL, "--im-min"},
        {{"output", "/nonexistent-dir-ptool/m.png"}, PT_ENOENT, "--output"},
        {{"output", "/tmp"}, PT_EISDIR, "--output"},
        {{"output", ""}, PT_EINVAL, "--output"},
    };
    pt_runtime *rt = jt_runtime_no_processes(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        while (n < 12 && cases[i].kv[n])
            n++;
        char err[PT_ERRBUF_SIZE] = "";
        pt_job *job;
        int rc = jt_make(rt, "mandelbrot", 0, cases[i].kv, n, &job, err, sizeof(err));
        cr_expect_eq(rc, cases[i].code, "case %zu (--%s %s): %s (%s), want %s", i, cases[i].kv[0],
                     cases[i].kv[1], pt_err_name(rc), err, pt_err_name(cases[i].code));
        cr_expect_not_null(strstr(err, cases[i].names), "case %zu: '%s' does not name %s", i, err,
                           cases[i].names);
        cr_expect_null(strchr(err, '\n'), "case %zu: not one line: %s", i, err);
        if (rc == 0)
            pt_job_destroy(job);
    }
    pt_runtime_destroy(rt);
}

Test(mandelbrot, too_large_to_allocate_is_refused)
{
    uint64_t need = 65536ull * 65536ull * 8;
    if (pt__phys_mem() >= need)
        cr_skip_test("this machine has %.0f GiB: 65536x65536 fits", pt__phys_mem() / 1073741824.0);
    pt_runtime *rt = jt_runtime_no_processes(0);
    const char *kv[] = {"width", "65536", "height", "65536"};
    char err[PT_ERRBUF_SIZE];
    pt_job *job;
    cr_assert_eq(jt_make(rt, "mandelbrot", 0, kv, 4, &job, err, sizeof(err)), PT_ENOMEM);
    cr_assert_not_null(strstr(err, "--width x --height"), "%s", err);
    pt_runtime_destroy(rt);
}

/* --- the command line ---------------------------------------------------------- */

Test(mandelbrot_cli, bad_parameters_exit_2_with_one_line, .timeout = 120)
{
    char dir[64];
    tmpdir_make(dir, sizeof(dir), "mandel-cli");
    static const struct {
        const char *args[10];
        const char *names;
    } cases[] = {
        {{"run", "mandelbrot", "--width", "0", NULL}, "--width"},
        {{"run", "mandelbrot", "--height", "-3", NULL}, "--height"},
        {{"run", "mandelbrot", "--iters", "0", NULL}, "--iters"},
        {{"run", "mandelbrot", "--scale", "0", NULL}, "--scale"},
        {{"run", "mandelbrot", "--re-min", "0", NULL}, "--re-max"},
        {{"run", "mandelbrot", "--width", "65536", "--height", "65536", NULL}, "--width"},
        {{"run", "mandelbrot", "--output", "/nonexistent-dir-ptool/x.png", NULL}, "--output"},
        {{"bench", "mandelbrot", "--width", "0", NULL}, "--width"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strstr(cases[i].args[3], "65536") && pt__phys_mem() >= 65536ull * 65536ull * 8)
            continue;
        cli_result r;
        cli_run(dir, cases[i].args, &r);
        expect_usage_error(&r, cases[i].names);
    }
    tmpdir_remove(dir);
}

Test(mandelbrot_cli, run_verify_output_and_json, .timeout = 300)
{
    char dir[64], path[128], ls[1024];
    tmpdir_make(dir, sizeof(dir), "mandel-cli");
    snprintf(path, sizeof(path), "%s/out.png", dir);
    const char *run[] = {"run", "mandelbrot", "--width", "61",       "--height", "37", "--iters",
                         "300", "--backend",  "openmp",  "--verify", "--output", path, NULL};
    cli_result r;
    cli_run(dir, run, &r);
    cr_assert_eq(r.status, 0, "%s: exit %d: %s", r.cmd, r.status, r.err);
    cr_assert_not_null(strstr(r.out, "checksum "), "%s", r.out);
    cr_assert_not_null(strstr(r.err, "verified"), "%s", r.err);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_eq(ls, "out.png");
    pt__image img;
    char err[512];
    cr_assert_eq(pt__png_read(path, &img, heap_alloc, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert(img.width == 61 && img.height == 37 && img.channels == 3);
    free(img.pixels);

    /* the checksum in JSON equals the one in text, on another backend */
    const char *json[] = {"run",     "mandelbrot", "--width",   "61",     "--height", "37",
                          "--iters", "300",        "--backend", "serial", "--json",   NULL};
    cli_result j;
    cli_run(dir, json, &j);
    cr_assert_eq(j.status, 0, "%s: %s", j.cmd, j.err);
    const char *cs = strstr(r.out, "checksum ") + strlen("checksum ");
    char want[40];
    snprintf(want, sizeof(want), "\"checksum\":\"%.16s\"", cs);
    cr_assert_not_null(strstr(j.out, want), "want %s in %s", want, j.out);
    tmpdir_remove(dir);
}

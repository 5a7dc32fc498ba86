/* test_blur.c - the blur job: every backend and every SIMD variant against
 * serial (within 1 per channel) and against a double-precision blur written
 * here (within 1), on PNGs the tests write themselves: odd sizes (1x1, 1xN,
 * Nx1, primes, non-multiples of the vector and work-group widths), every
 * channel count, radii larger than the image; output files that appear only
 * when complete; bad inputs, in the library and on the command line. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>

#include "images_common.h"

void pt__blur_result(const pt_job *job, const uint8_t **out, uint32_t *width, uint32_t *height,
                     uint32_t *channels, const float **weights, uint32_t *radius);

static const uint32_t sizes[][2] = {{1, 1},  {1, 17}, {17, 1},   {2, 2},  {37, 23},
                                    {64, 3}, {3, 64}, {129, 65}, {100, 7}};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))
static const char *const sigmas[] = {"0.1", "2", "7.5"};
#define NSIGMAS (sizeof(sigmas) / sizeof(sigmas[0]))

/* The inputs: one PNG per size and channel count, in dir. */
static void input_path(char *buf, size_t len, const char *dir, size_t si, uint32_t c)
{
    snprintf(buf, len, "%s/in-%ux%u-%u.png", dir, sizes[si][0], sizes[si][1], c);
}

static void write_inputs(const char *dir)
{
    char path[256];
    for (size_t si = 0; si < NSIZES; si++)
        for (uint32_t c = 1; c <= 4; c++) {
            input_path(path, sizeof(path), dir, si, c);
            write_random_png(path, sizes[si][0], sizes[si][1], c, si * 8 + c);
        }
}

/* The blur in double precision, the obvious way: weights exp(-d^2/2s^2)
 * normalised over radius ceil(3 sigma), clamped edges, rows then columns,
 * rounded half up. */
static uint8_t *reference(const pt__image *in, double sigma)
{
    uint32_t w = in->width, h = in->height, c = in->channels;
    int r = (int)ceil(3 * sigma);
    double *wt = malloc((size_t)(2 * r + 1) * sizeof(double)), sum = 0;
    for (int k = -r; k <= r; k++)
        sum += wt[k + r] = exp(-(double)k * k / (2 * sigma * sigma));
    for (int k = 0; k <= 2 * r; k++)
        wt[k] /= sum;
    size_t n = (size_t)w * h * c;
    double *tmp = malloc(n * sizeof(double));
    uint8_t *out = malloc(n);
    cr_assert(wt && tmp && out);
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t ch = 0; ch < c; ch++) {
                double acc = 0;
                for (int k = -r; k <= r; k++) {
                    long xx = (long)x + k;
                    xx = xx < 0 ? 0 : xx >= (long)w ? (long)w - 1 : xx;
                    acc += wt[k + r] * in->pixels[((size_t)y * w + (size_t)xx) * c + ch];
                }
                tmp[((size_t)y * w + x) * c + ch] = acc;
            }
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t ch = 0; ch < c; ch++) {
                double acc = 0;
                for (int k = -r; k <= r; k++) {
                    long yy = (long)y + k;
                    yy = yy < 0 ? 0 : yy >= (long)h ? (long)h - 1 : yy;
                    acc += wt[k + r] * tmp[((size_t)yy * w + x) * c + ch];
                }
                out[((size_t)y * w + x) * c + ch] = (uint8_t)floor(acc + 0.5);
            }
    free(wt);
    free(tmp);
    return out;
}

static pt_job *blur_job(pt_runtime *rt, const char *in, const char *out, const char *sigma,
                        unsigned flags)
{
    const char *kv[] = {"input", in, "output", out, "sigma", sigma};
    return jt_job(rt, "blur", flags, kv, JT_LEN(kv));
}

/* Largest difference between the job's output and the reference. */
static int max_diff_to_reference(const pt_job *job, const char *in_path, double sigma,
                                 const char *what)
{
    pt__image in;
    char err[512];
    cr_assert_eq(pt__png_read(in_path, &in, heap_alloc, NULL, err, sizeof(err)), 0, "%s", err);
    uint8_t *ref = reference(&in, sigma);
    const uint8_t *out;
    const float *wt;
    uint32_t w, h, c, r;
    pt__blur_result(job, &out, &w, &h, &c, &wt, &r);
    cr_assert(w == in.width && h == in.height && c == in.channels, "%s: shape", what);
    cr_assert_eq(r, (uint32_t)ceil(3 * sigma));
    int worst = 0;
    size_t n = (size_t)w * h * c, differ = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)out[i] - (int)ref[i]);
        cr_assert_leq(d, 1, "%s: sample %zu (pixel (%zu, %zu) channel %zu): %u, reference %u", what,
                      i, (i / c) % w, i / c / w, i % c, out[i], ref[i]);
        worst = d > worst ? d : worst;
        differ += d != 0;
    }
    /* Float and double sums round differently only when the exact value
     * lies within float rounding of a .5: rare. Many differences by 1 mean
     * a bias (rounding, weights), which "within 1" alone would let pass. */
    cr_assert_leq(differ, n / 100, "%s: %zu of %zu samples differ from the reference by 1", what,
                  differ, n);
    free(ref);
    free(in.pixels);
    return worst;
}

/* Largest difference between two runs' outputs; at most 1% may differ. */
static int max_diff(const pt_job *a, const pt_job *b, const char *what)
{
    const uint8_t *oa, *ob;
    const float *wt;
    uint32_t w, h, c, r;
    pt__blur_result(a, &oa, &w, &h, &c, &wt, &r);
    pt__blur_result(b, &ob, &w, &h, &c, &wt, &r);
    int worst = 0;
    size_t n = (size_t)w * h * c, differ = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)oa[i] - (int)ob[i]);
        worst = d > worst ? d : worst;
        differ += d != 0;
    }
    cr_assert_leq(differ, n / 100, "%s: %zu of %zu samples differ from serial", what, differ, n);
    return worst;
}

/* --- every backend and every SIMD variant ----------------------------------- */

ParameterizedTestParameters(blur, backends_match_serial_and_reference)
{
    return cr_make_param_array(pt_backend_id, jt_backends, JT_NBACKENDS);
}

ParameterizedTest(pt_backend_id *b, blur, backends_match_serial_and_reference, .timeout = 600)
{
    char dir[64], in[256], out[256], err[PT_ERRBUF_SIZE];
    tmpdir_make(dir, sizeof(dir), "blur");
    write_inputs(dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    pt_runtime *rt = jt_runtime(2);
    int worst_serial = 0, worst_ref = 0;
    size_t cases = 0;
    /* OpenCL: both paths, whatever the device (CPU: buffers on the job's
     * memory; GPU: device buffers and copies). */
    static const char *const paths[] = {"cpu", "gpu"};
    size_t np = *b == PT_BACKEND_OPENCL ? 2 : 1;
    for (size_t pi = 0; pi < np; pi++)
        for (size_t si = 0; si < NSIZES; si++)
            for (uint32_t c = 1; c <= 4; c++)
                for (size_t k = 0; k < NSIGMAS; k++) {
                    if (*b == PT_BACKEND_OPENCL)
                        setenv("PTOOL_CL_PATH", paths[pi], 1);
                    input_path(in, sizeof(in), dir, si, c);
                    pt_job *job = blur_job(rt, in, out, sigmas[k], PT_JOB_SHARED);
                    pt_job *ref = blur_job(rt, in, out, sigmas[k], 0);
                    jt_run_on(rt, job, *b);
                    jt_run_on(rt, ref, PT_BACKEND_SERIAL);
                    char what[128];
                    snprintf(what, sizeof(what), "%s%s%s, %ux%u, %u channels, sigma %s",
                             pt_backend_name(*b), np > 1 ? " path " : "", np > 1 ? paths[pi] : "",
                             sizes[si][0], sizes[si][1], c, sigmas[k]);
                    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s: %s", what, err);
                    int d = max_diff(job, ref, what);
                    worst_serial = d > worst_serial ? d : worst_serial;
                    d = max_diff_to_reference(job, in, atof(sigmas[k]), what);
                    worst_ref = d > worst_ref ? d : worst_ref;
                    pt_job_destroy(job);
                    pt_job_destroy(ref);
                    cases++;
                }
    cr_log_info("%s: %zu cases; largest difference to serial %d, to the double-precision "
                "reference %d",
                pt_backend_name(*b), cases, worst_serial, worst_ref);
    pt_runtime_destroy(rt);
    tmpdir_remove(dir);
}

static const char *const isa_names[] = {"baseline", "avx2", "avx512"};
static int isa_index[] = {0, 1, 2};

ParameterizedTestParameters(blur, isa_variants_match_reference)
{
    return cr_make_param_array(int, isa_index, sizeof(isa_index) / sizeof(isa_index[0]));
}

ParameterizedTest(int *which, blur, isa_variants_match_reference, .timeout = 300)
{
    setenv("PTOOL_ISA", isa_names[*which], 1); /* this test's own process */
    cr_log_info("PTOOL_ISA=%s: variant used: %s", isa_names[*which], pt_cpu_isa());
    char dir[64], in[256], out[256];
    tmpdir_make(dir, sizeof(dir), "blur");
    write_inputs(dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    pt_runtime *rt = jt_runtime_no_processes(0);
    int worst = 0;
    for (size_t si = 0; si < NSIZES; si++)
        for (uint32_t c = 1; c <= 4; c++)
            for (size_t k = 0; k < NSIGMAS; k++) {
                input_path(in, sizeof(in), dir, si, c);
                pt_job *job = blur_job(rt, in, out, sigmas[k], 0);
                jt_run_on(rt, job, PT_BACKEND_SERIAL);
                char what[128];
                snprintf(what, sizeof(what), "%s, %ux%u, %u channels, sigma %s", isa_names[*which],
                         sizes[si][0], sizes[si][1], c, sigmas[k]);
                int d = max_diff_to_reference(job, in, atof(sigmas[k]), what);
                worst = d > worst ? d : worst;
                pt_job_destroy(job);
            }
    cr_log_info("%s: largest difference to the reference %d", isa_names[*which], worst);
    pt_runtime_destroy(rt);
    tmpdir_remove(dir);
}

Test(blur, constant_image_stays_constant, .timeout = 120)
{
    char dir[64], in[256], out[256];
    tmpdir_make(dir, sizeof(dir), "blur");
    snprintf(in, sizeof(in), "%s/flat.png", dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    uint32_t w = 53, h = 31, c = 4;
    uint8_t *px = malloc((size_t)w * h * c);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        px[4 * i] = 0, px[4 * i + 1] = 1, px[4 * i + 2] = 254, px[4 * i + 3] = 255;
    }
    pt__image img = {.width = w, .height = h, .channels = c, .pixels = px};
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt__png_write(in, &img, err, sizeof(err)), 0, "%s", err);
    pt_runtime *rt = jt_runtime(2);
    for (size_t bi = 0; bi < JT_NBACKENDS; bi++) {
        char why[256];
        pt_job *job = blur_job(rt, in, out, "3.7", PT_JOB_SHARED);
        if (!pt_backend_available(rt, jt_backends[bi], job, why, sizeof(why))) {
            cr_log_warn("%s: unavailable: %s", pt_backend_name(jt_backends[bi]), why);
            pt_job_destroy(job);
            continue;
        }
        jt_run_on(rt, job, jt_backends[bi]);
        const uint8_t *res;
        const float *wt;
        uint32_t rw, rh, rc, rr;
        pt__blur_result(job, &res, &rw, &rh, &rc, &wt, &rr);
        cr_assert_eq(memcmp(res, px, (size_t)w * h * c), 0, "%s: a flat image changed",
                     pt_backend_name(jt_backends[bi]));
        pt_job_destroy(job);
    }
    free(px);
    pt_runtime_destroy(rt);
    tmpdir_remove(dir);
}

Test(blur, verify_allows_1_and_catches_2)
{
    char dir[64], in[256], out[256], err[PT_ERRBUF_SIZE];
    tmpdir_make(dir, sizeof(dir), "blur");
    snprintf(in, sizeof(in), "%s/in.png", dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    write_random_png(in, 37, 23, 3, 99);
    pt_runtime *rt = jt_runtime_no_processes(0);
    pt_job *job = blur_job(rt, in, out, "2", 0), *ref = blur_job(rt, in, out, "2", 0);
    jt_run_on(rt, job, PT_BACKEND_SERIAL);
    jt_run_on(rt, ref, PT_BACKEND_SERIAL);
    const uint8_t *res;
    const float *wt;
    uint32_t w, h, c, r;
    pt__blur_result(job, &res, &w, &h, &c, &wt, &r);
    uint8_t *o8 = (uint8_t *)(uintptr_t)res;
    size_t i = (size_t)(5 * w + 7) * c + 2; /* pixel (7, 5), channel 2 */
    o8[i] = (uint8_t)(o8[i] < 128 ? o8[i] + 1 : o8[i] - 1);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), 0, "%s", err);
    o8[i] = (uint8_t)(o8[i] < 128 ? o8[i] + 1 : o8[i] - 1);
    cr_assert_eq(pt_job_verify(job, ref, err, sizeof(err)), PT_EVERIFY);
    cr_assert_not_null(strstr(err, "pixel (7, 5) channel 2"), "%s", err);
    pt_job_destroy(job);
    pt_job_destroy(ref);
    pt_runtime_destroy(rt);
    tmpdir_remove(dir);
}

/* --- output files ------------------------------------------------------------ */

Test(blur, output_appears_only_when_complete, .timeout = 120)
{
    char dir[64], in[256], out[256], ls[1024], err[PT_ERRBUF_SIZE];
    tmpdir_make(dir, sizeof(dir), "blur");
    snprintf(in, sizeof(in), "%s/in.png", dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    write_random_png(in, 41, 29, 2, 7);
    pt_runtime *rt = jt_runtime_no_processes(0);

    /* success: in.png and out.png, nothing else; out.png is gray+alpha */
    pt_job *job = blur_job(rt, in, out, "1.5", 0);
    jt_run_on(rt, job, PT_BACKEND_THREADS);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_eq(ls, "in.png", "written before save: %s", ls);
    cr_assert_eq(pt_job_save(job, err, sizeof(err)), 0, "%s", err);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_eq(ls, "in.png out.png", "%s", ls);
    pt__image img;
    cr_assert_eq(pt__png_read(out, &img, heap_alloc, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert(img.width == 41 && img.height == 29 && img.channels == 2);
    const uint8_t *res;
    const float *wt;
    uint32_t w, h, c, r;
    pt__blur_result(job, &res, &w, &h, &c, &wt, &r);
    cr_assert_eq(memcmp(img.pixels, res, (size_t)w * h * c), 0, "the file is not the result");
    free(img.pixels);
    pt_job_destroy(job);
    cr_assert_eq(unlink(out), 0);

    /* a failed setup (bad sigma) writes nothing */
    const char *kv[] = {"input", in, "output", out, "sigma", "0"};
    cr_assert_eq(jt_make(rt, "blur", 0, kv, 6, &job, err, sizeof(err)), PT_ERANGE);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_eq(ls, "in.png", "%s", ls);

    /* a failed save (the output's directory vanished) leaves nothing */
    char sub[128], out2[160];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    snprintf(out2, sizeof(out2), "%s/out.png", sub);
    cr_assert_eq(mkdir(sub, 0700), 0);
    job = blur_job(rt, in, out2, "1.5", 0);
    jt_run_on(rt, job, PT_BACKEND_SERIAL);
    cr_assert_eq(rmdir(sub), 0);
    int rc = pt_job_save(job, err, sizeof(err));
    cr_assert_neq(rc, 0);
    cr_assert_not_null(strstr(err, "blur: --output"), "%s", err);
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_eq(ls, "in.png", "%s", ls);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
    tmpdir_remove(dir);
}

/* --- bad input --------------------------------------------------------------- */

Test(blur, bad_inputs_are_refused_with_their_name, .timeout = 120)
{
    char dir[64], good[256], text[256], trunc[256], empty[256], out[256], nodir[256];
    tmpdir_make(dir, sizeof(dir), "blur");
    snprintf(good, sizeof(good), "%s/good.png", dir);
    snprintf(text, sizeof(text), "%s/text.png", dir);
    snprintf(trunc, sizeof(trunc), "%s/trunc.png", dir);
    snprintf(empty, sizeof(empty), "%s/empty.png", dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    snprintf(nodir, sizeof(nodir), "%s/missing/out.png", dir);
    write_random_png(good, 40, 30, 3, 1);
    FILE *f = fopen(text, "w");
    fputs("this is not a PNG file\n", f);
    fclose(f);
    f = fopen(empty, "w");
    fclose(f);
    /* the first 100 bytes of a valid PNG */
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "head -c 100 %s > %s", good, trunc);
    cr_assert_eq(system(cmd), 0);
    const struct {
        const char *kv[6];
        int code;
        const char *names;
    } cases[] = {
        {{"output", out}, PT_EINVAL, "--input"},
        {{"input", good}, PT_EINVAL, "--output"},
        {{"input", "/nonexistent-ptool/x.png", "output", out}, PT_ENOENT, "--input"},
        {{"input", dir, "output", out}, PT_EISDIR, "--input"},
        {{"input", text, "output", out}, PT_EPARSE, "not a PNG"},
        {{"input", empty, "output", out}, PT_EPARSE, "--input"},
        {{"input", trunc, "output", out}, PT_EPARSE, "--input"},
        {{"input", "", "output", out}, PT_EINVAL, "--input"},
        {{"input", good, "output", dir}, PT_EISDIR, "--output"},
        {{"input", good, "output", nodir}, PT_ENOENT, "--output"},
        {{"input", good, "output", ""}, PT_EINVAL, "--output"},
        {{"input", good, "output", out, "sigma", "0"}, PT_ERANGE, "--sigma"},
        {{"input", good, "output", out, "sigma", "-1"}, PT_ERANGE, "--sigma"},
        {{"input", good, "output", out, "sigma", "100.5"}, PT_ERANGE, "--sigma"},
        {{"input", good, "output", out, "sigma", "wide"}, PT_EPARSE, "--sigma"},
    };
    pt_runtime *rt = jt_runtime_no_processes(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        while (n < 6 && cases[i].kv[n])
            n++;
        char err[PT_ERRBUF_SIZE] = "";
        pt_job *job = NULL;
        int rc = jt_make(rt, "blur", 0, cases[i].kv, n, &job, err, sizeof(err));
        cr_expect_eq(rc, cases[i].code, "case %zu: %s (%s), want %s", i, pt_err_name(rc), err,
                     pt_err_name(cases[i].code));
        cr_expect_not_null(strstr(err, cases[i].names), "case %zu: '%s' does not say %s", i, err,
                           cases[i].names);
        cr_expect_null(strchr(err, '\n'), "case %zu: not one line: %s", i, err);
        if (rc == 0)
            pt_job_destroy(job);
    }
    char ls[1024];
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_eq(ls, "empty.png good.png text.png trunc.png", "%s", ls);
    pt_runtime_destroy(rt);
    tmpdir_remove(dir);
}

/* --- the command line -------------------------------------------------------- */

Test(blur_cli, bad_inputs_exit_2_with_one_line, .timeout = 120)
{
    char dir[64], good[256], text[256], out[256], nodir[256];
    tmpdir_make(dir, sizeof(dir), "blur-cli");
    snprintf(good, sizeof(good), "%s/good.png", dir);
    snprintf(text, sizeof(text), "%s/text.png", dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    snprintf(nodir, sizeof(nodir), "%s/missing/out.png", dir);
    write_random_png(good, 20, 10, 1, 1);
    FILE *f = fopen(text, "w");
    fputs("GIF89a", f);
    fclose(f);
    const struct {
        const char *args[10];
        const char *names;
    } cases[] = {
        {{"run", "blur", "--output", out, NULL}, "--input"},
        {{"run", "blur", "--input", good, NULL}, "--output"},
        {{"run", "blur", "--input", "/nonexistent-ptool.png", "--output", out, NULL}, "--input"},
        {{"run", "blur", "--input", dir, "--output", out, NULL}, "--input"},
        {{"run", "blur", "--input", text, "--output", out, NULL}, "--input"},
        {{"run", "blur", "--input", good, "--output", nodir, NULL}, "--output"},
        {{"run", "blur", "--input", good, "--output", dir, NULL}, "--output"},
        {{"run", "blur", "--input", good, "--output", out, "--sigma", "0", NULL}, "--sigma"},
        {{"run", "blur", "--input", good, "--output", out, "--sigma", "-2", NULL}, "--sigma"},
        {{"bench", "blur", "--input", text, "--output", out, NULL}, "--input"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cli_result r;
        cli_run(dir, cases[i].args, &r);
        expect_usage_error(&r, cases[i].names);
    }
    char ls[1024];
    dir_listing(dir, ls, sizeof(ls));
    cr_assert_str_eq(ls, "good.png text.png", "%s", ls);
    tmpdir_remove(dir);
}

Test(blur_cli, run_verify_every_backend, .timeout = 300)
{
    char dir[64], in[256], out[256], ls[1024];
    tmpdir_make(dir, sizeof(dir), "blur-cli");
    snprintf(in, sizeof(in), "%s/in.png", dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    write_random_png(in, 131, 67, 3, 5);
    static const char *const backends[] = {"serial", "threads", "processes", "openmp", "opencl"};
    for (size_t i = 0; i < 5; i++) {
        const char *args[] = {"run",     "blur", "--input",   in,          "--output", out,
                              "--sigma", "2.5",  "--backend", backends[i], "--verify", NULL};
        cli_result r;
        cli_run(dir, args, &r);
        cr_assert_eq(r.status, 0, "%s: exit %d: %s", r.cmd, r.status, r.err);
        cr_assert_not_null(strstr(r.err, "verified"), "%s: %s", r.cmd, r.err);
        cr_assert_not_null(strstr(r.out, "blur 131x67 RGB, sigma 2.5 (radius 8, 17 taps)"), "%s",
                           r.out);
        if (strstr(r.err, "fell back") || strstr(r.err, "unavailable"))
            cr_log_warn("%s: %s", r.cmd, r.err);
        dir_listing(dir, ls, sizeof(ls));
        cr_assert_str_eq(ls, "in.png out.png", "%s: %s", r.cmd, ls);
        cr_assert_eq(unlink(out), 0);
    }
    tmpdir_remove(dir);
}

Test(blur_cli, killed_run_leaves_no_partial_file, .timeout = 300)
{
    char dir[64], in[256], out[256], ls[1024], err[512];
    tmpdir_make(dir, sizeof(dir), "blur-cli");
    snprintf(in, sizeof(in), "%s/in.png", dir);
    snprintf(out, sizeof(out), "%s/out.png", dir);
    write_random_png(in, 1500, 1000, 4, 11);
    /* Kill it at several moments: before, during and after the work and the
     * PNG writing (the run takes about a second here, most of it writing
     * and syncing the file); the last run is not killed. Whenever it dies,
     * out.png is absent or complete. */
    static const long delays_ms[] = {5, 100, 300, 600, 900, 1200, 1500, 2000, -1};
    for (size_t i = 0; i < sizeof(delays_ms) / sizeof(delays_ms[0]); i++) {
        const char *args[] = {"run",     "blur", "--input",   in,       "--output", out,
                              "--sigma", "6",    "--backend", "serial", "--quiet",  NULL};
        char cmd[1024];
        pid_t pid = cli_start(dir, args, cmd, sizeof(cmd));
        struct timespec ts = {delays_ms[i] / 1000, delays_ms[i] % 1000 * 1000000L};
        if (delays_ms[i] >= 0) {
            nanosleep(&ts, NULL);
            kill(pid, SIGKILL);
        }
        cli_result r;
        cli_wait(pid, dir, &r);
        dir_listing(dir, ls, sizeof(ls));
        if (strcmp(ls, "in.png") == 0) {
            cr_assert_geq(delays_ms[i], 0, "the run that was not killed wrote nothing: %s", r.err);
            cr_log_info("killed after %ld ms: no output (exit %d)", delays_ms[i], r.status);
            continue;
        }
        cr_assert_str_eq(ls, "in.png out.png", "killed after %ld ms: %s", delays_ms[i], ls);
        pt__image img;
        cr_assert_eq(pt__png_read(out, &img, heap_alloc, NULL, err, sizeof(err)), 0,
                     "killed after %ld ms: out.png is there but not complete: %s", delays_ms[i],
                     err);
        cr_assert(img.width == 1500 && img.height == 1000 && img.channels == 4);
        free(img.pixels);
        cr_log_info("%s %ld ms: complete output (exit %d)",
                    delays_ms[i] < 0 ? "not killed" : "killed after", delays_ms[i], r.status);
        if (delays_ms[i] < 0)
            cr_assert_eq(r.status, 0, "%s: %s", r.cmd, r.err);
        unlink(out);
    }
    tmpdir_remove(dir);
}

/* test_opencl.c - the OpenCL backend's errors (no platform, no such device,
 * kernel build failure, out of device memory), device selection and the
 * program binary cache. Runs for real on PoCL's CPU device; where no device
 * exists, the tests that need one say so (cr_skip_test), never pass. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#ifdef PT_HAVE_OPENCL
#include "cl_job.h"
#endif

/* Skips the calling test, visibly, when this machine has no OpenCL device. */
static void need_device(void)
{
#ifndef PT_HAVE_OPENCL
    cr_skip_test("opencl: this build has no OpenCL (PTOOL_WITH_OPENCL=OFF)");
#else
    pt_cl_device_info *d = NULL;
    size_t n = 0;
    char err[PT_ERRBUF_SIZE];
    if (pt_cl_devices(&d, &n, err, sizeof(err)) != 0)
        cr_skip_test("opencl: no device on this machine: %s", err);
    pt_free(d);
#endif
}

static char tmp[64];

static void mktmp(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/ptool-cl-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void rmtmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
    cr_assert_eq(system(cmd), 0);
}

static pt_job *course_job(pt_runtime *rt, const char *method)
{
    pt_params *p;
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt_params_create(&p, pt_job_find("isprime")), 0);
    pt_params_set(p, "numbers", "97,561,112272535095293,18446744073709551557", err, sizeof(err));
    pt_params_set(p, "method", method, err, sizeof(err));
    pt_job *job;
    cr_assert_eq(pt_job_create(&job, rt, pt_job_find("isprime"), p, 0, err, sizeof(err)), 0, "%s",
                 err);
    pt_params_destroy(p);
    return job;
}

static int run_cl(pt_runtime *rt, pt_job *job, pt_run_info *info, char *err, size_t errlen)
{
    pt_run_options ro = {.backend = PT_BACKEND_OPENCL, .strict = true};
    return pt_run(rt, job, &ro, info, err, errlen);
}

static pt_runtime *runtime_with(const char *device, const char *cache_dir)
{
    pt_runtime *rt;
    pt_runtime_options o = {.no_processes = true, .device = device, .cache_dir = cache_dir};
    cr_assert_eq(pt_runtime_create(&rt, &o), 0);
    return rt;
}

Test(opencl, no_platform_says_which_package)
{
#ifndef PT_HAVE_OPENCL
    cr_skip_test("opencl: this build has no OpenCL");
#endif
    setenv("OCL_ICD_VENDORS", "/nonexistent-icd-dir", 1);
    unsetenv("OPENCL_VENDOR_PATH");
    pt_cl_device_info *d;
    size_t n;
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt_cl_devices(&d, &n, err, sizeof(err)), PT_ENOPLATFORM);
    cr_assert(strstr(err, "no OpenCL platform") && strstr(err, "pocl-opencl-icd"), "%s", err);
    pt_runtime *rt = runtime_with(NULL, NULL);
    char why[512];
    cr_assert_not(pt_backend_available(rt, PT_BACKEND_OPENCL, NULL, why, sizeof(why)));
    cr_assert(strstr(why, "pocl-opencl-icd"), "%s", why);
    pt_job *job = course_job(rt, "mr");
    cr_assert_eq(run_cl(rt, job, NULL, err, sizeof(err)), PT_EUNAVAIL);
    cr_assert(strstr(err, "isprime") && strstr(err, "no OpenCL platform"), "%s", err);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

Test(opencl, device_not_found_lists_the_devices)
{
    need_device();
    pt_runtime *rt = runtime_with("no-such-device", NULL);
    char why[1024];
    cr_assert_not(pt_backend_available(rt, PT_BACKEND_OPENCL, NULL, why, sizeof(why)));
    cr_assert(strstr(why, "no OpenCL device matches 'no-such-device'") && strstr(why, "0: "), "%s",
              why);
    pt_runtime_destroy(rt);
}

Test(opencl, select_by_index_pair_and_name)
{
    pt_cl_device_info list[3];
    memset(list, 0, sizeof(list));
    strcpy(list[0].name, "pthread-skylake");
    strcpy(list[0].platform, "Portable Computing Language");
    strcpy(list[0].type, "CPU");
    strcpy(list[1].name, "NVIDIA H100");
    strcpy(list[1].platform, "NVIDIA CUDA");
    strcpy(list[1].type, "GPU");
    list[1].platform_index = 1;
    strcpy(list[2].name, "NVIDIA A10");
    strcpy(list[2].platform, "NVIDIA CUDA");
    strcpy(list[2].type, "GPU");
    list[2].platform_index = 1;
    list[2].device_index = 1;
    size_t i;
    char err[512];
    cr_assert_eq(pt_cl_select(list, 3, NULL, &i, err, sizeof(err)), 0);
    cr_assert_eq(i, 1, "no selector: the first GPU");
    cr_assert_eq(pt_cl_select(list, 3, "2", &i, err, sizeof(err)), 0);
    cr_assert_eq(i, 2);
    cr_assert_eq(pt_cl_select(list, 3, "1:1", &i, err, sizeof(err)), 0);
    cr_assert_eq(i, 2);
    cr_assert_eq(pt_cl_select(list, 3, "a10", &i, err, sizeof(err)), 0);
    cr_assert_eq(i, 2);
    cr_assert_eq(pt_cl_select(list, 3, "portable", &i, err, sizeof(err)), 0);
    cr_assert_eq(i, 0);
    cr_assert_eq(pt_cl_select(list, 3, "7", &i, err, sizeof(err)), PT_ENODEVICE);
    cr_assert(strstr(err, "no OpenCL device number 7") && strstr(err, "NVIDIA A10"), "%s", err);
    cr_assert_eq(pt_cl_select(list, 3, "3:0", &i, err, sizeof(err)), PT_ENODEVICE);
    cr_assert_eq(pt_cl_select(list, 1, NULL, &i, err, sizeof(err)), 0);
    cr_assert_eq(i, 0, "no GPU: the first device");
}

Test(opencl, real_device_by_index_and_substring)
{
    need_device();
    pt_runtime *rt = runtime_with("0", NULL);
    char why[512];
    cr_assert(pt_backend_available(rt, PT_BACKEND_OPENCL, NULL, why, sizeof(why)), "%s", why);
    pt_runtime_destroy(rt);
    pt_cl_device_info *d;
    size_t n;
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt_cl_devices(&d, &n, err, sizeof(err)), 0);
    char sub[8];
    snprintf(sub, sizeof(sub), "%.5s", d[0].name);
    pt_free(d);
    rt = runtime_with(sub, NULL);
    cr_assert(pt_backend_available(rt, PT_BACKEND_OPENCL, NULL, why, sizeof(why)), "%s", why);
    pt_runtime_destroy(rt);
}

/* Writes text into the file NAME of the test's directory. */
static void write_tmp(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    cr_assert_geq(fputs(text, f), 0);
    cr_assert_eq(fclose(f), 0);
}

Test(opencl, kernel_build_failure_gives_the_log, .init = mktmp, .fini = rmtmp)
{
    need_device();
    write_tmp("isprime.cl", "__kernel void isprime_mr(__global ulong *x) { this is not C; }\n");
    setenv("PTOOL_KERNEL_DIR", tmp, 1);
    pt_runtime *rt = runtime_with(NULL, "");
    pt_job *job = course_job(rt, "mr");
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(run_cl(rt, job, NULL, err, sizeof(err)), PT_EBUILD);
    cr_assert(strstr(err, "kernel build failed") && strstr(err, "build log") &&
                  strstr(err, "error"),
              "%s", err);
    cr_log_info("%s", err);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

/* The kernel file kernels/NAME of the source tree, read whole (free()). */
static char *read_source_file(const char *name)
{
    const char *src = getenv("PTOOL_SOURCE_DIR");
    cr_assert_not_null(src, "PTOOL_SOURCE_DIR must point at the source tree");
    char path[1024];
    snprintf(path, sizeof(path), "%s/kernels/%s", src, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Each embedded kernel that says #include "mr.clh" gets the header inlined,
 * and the #line after it puts the rest of the kernel back on its own line
 * numbers; a kernel with no include comes back as it is. */
Test(kernels, headers_inlined_with_line_marks)
{
    unsetenv("PTOOL_KERNEL_DIR");
    char *hdr = read_source_file("mr.clh");
    const char *stems[] = {"isprime", "primes"};
    for (size_t k = 0; k < 2; k++) {
        char file[32];
        snprintf(file, sizeof(file), "%s.cl", stems[k]);
        char *orig = read_source_file(file);
        const char *inc = strstr(orig, "\n#include \"mr.clh\"\n");
        cr_assert_not_null(inc, "%s no longer includes mr.clh", file);
        size_t line = 2; /* of the #include */
        for (const char *c = orig; c < inc; c++)
            line += *c == '\n';
        const char *rest = inc + strlen("\n#include \"mr.clh\"\n");

        const char *src;
        size_t len;
        char *owned;
        char err[PT_ERRBUF_SIZE];
        cr_assert_eq(pt__kernel_source(stems[k], &src, &len, &owned, err, sizeof(err)), 0, "%s",
                     err);
        cr_assert_eq(strlen(src), len);
        cr_assert_null(strstr(src, "\n#include \"mr.clh\"\n"), "%s: include line left in", file);
        char want[4096];
        snprintf(want, sizeof(want), "\n#line 1 \"mr.clh\"\n%s", hdr);
        cr_assert_not_null(strstr(src, want), "%s: mr.clh not inlined after a #line 1", file);
        snprintf(want, sizeof(want), "\n#line %zu \"%s\"\n", line + 1, file);
        const char *back = strstr(src, want);
        cr_assert_not_null(back, "%s: no '#line %zu' after the header:\n%s", file, line + 1, src);
        cr_assert_str_eq(back + strlen(want), rest, "%s: the kernel after the header differs",
                         file);
        cr_assert_eq(strncmp(src, orig, (size_t)(inc + 1 - orig)), 0,
                     "%s: the kernel before the include differs", file);
        free(owned);
        free(orig);
    }
    free(hdr);

    const char *src;
    size_t len;
    char *owned;
    char *orig = read_source_file("stream.cl");
    cr_assert_eq(pt__kernel_source("stream", &src, &len, &owned, NULL, 0), 0);
    cr_assert_null(owned, "a kernel without includes is not copied");
    cr_assert_str_eq(src, orig);
    free(orig);
}

/* PTOOL_KERNEL_DIR: a header the kernel includes but the directory lacks is
 * named in the error. */
Test(kernels, kernel_dir_missing_header_is_named, .init = mktmp, .fini = rmtmp)
{
    write_tmp("isprime.cl", "/* top */\n#include \"mr.clh\"\n__kernel void k(void) {}\n");
    setenv("PTOOL_KERNEL_DIR", tmp, 1);
    const char *src;
    size_t len;
    char *owned = (char *)1;
    char err[PT_ERRBUF_SIZE], want[200];
    cr_assert_eq(pt__kernel_source("isprime", &src, &len, &owned, err, sizeof(err)), PT_ENOENT);
    snprintf(want, sizeof(want), "cannot read %s/mr.clh", tmp);
    cr_assert(strstr(err, want), "%s", err);

    /* With the header there, it is inlined from the directory too. */
    write_tmp("mr.clh", "static int h(void) { return 1; }"); /* no final newline */
    cr_assert_eq(pt__kernel_source("isprime", &src, &len, &owned, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(src, "/* top */\n#line 1 \"mr.clh\"\nstatic int h(void) { return 1; }\n"
                          "#line 3 \"isprime.cl\"\n__kernel void k(void) {}\n");
    free(owned);
}

/* A build error inside an included header is reported at the header's own
 * file and line. */
Test(opencl, header_build_error_names_the_header, .init = mktmp, .fini = rmtmp)
{
    need_device();
    const char *src = getenv("PTOOL_SOURCE_DIR");
    cr_assert_not_null(src, "PTOOL_SOURCE_DIR must point at the source tree");
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "cp %s/kernels/isprime.cl %s/ && printf '/* one */\\nthis is not C;\\n' > %s/mr.clh",
             src, tmp, tmp);
    cr_assert_eq(system(cmd), 0);
    setenv("PTOOL_KERNEL_DIR", tmp, 1);
    pt_runtime *rt = runtime_with(NULL, "");
    pt_job *job = course_job(rt, "mr");
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(run_cl(rt, job, NULL, err, sizeof(err)), PT_EBUILD);
    cr_assert(strstr(err, "mr.clh:2:"), "the log does not point at mr.clh line 2:\n%s", err);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

static size_t count_entries(const char *dir)
{
    pt_cache_entry *e;
    size_t n;
    cr_assert_eq(pt_cache_list(dir, &e, &n), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(e[i].kernel, "isprime");
    pt_free(e);
    return n;
}

Test(opencl, binary_cache_miss_then_hit_then_new_key, .init = mktmp, .fini = rmtmp, .timeout = 120)
{
    need_device();
    char cache[128];
    snprintf(cache, sizeof(cache), "%s/cache", tmp);
    pt_run_info info;
    char err[PT_ERRBUF_SIZE];

    pt_runtime *rt = runtime_with(NULL, cache);
    pt_job *job = course_job(rt, "mr");
    cr_assert_eq(run_cl(rt, job, &info, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(info.cache, 0, "first run: a miss");
    double cold = info.prepare_seconds;
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
    cr_assert_eq(count_entries(cache), 1);

    rt = runtime_with(NULL, cache);
    job = course_job(rt, "mr");
    cr_assert_eq(run_cl(rt, job, &info, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(info.cache, 1, "second runtime: a hit");
    cr_log_info("program prepare: cold %.1f ms, from the cache %.1f ms", cold * 1e3,
                info.prepare_seconds * 1e3);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);

    /* An edited kernel has another key: a miss and a second entry. */
    const char *src = getenv("PTOOL_SOURCE_DIR");
    cr_assert_not_null(src, "PTOOL_SOURCE_DIR must point at the source tree");
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "cp %s/kernels/isprime.cl %s/kernels/mr.clh %s/ && echo '// edited' >> %s/isprime.cl",
             src, src, tmp, tmp);
    cr_assert_eq(system(cmd), 0);
    setenv("PTOOL_KERNEL_DIR", tmp, 1);
    rt = runtime_with(NULL, cache);
    job = course_job(rt, "mr");
    cr_assert_eq(run_cl(rt, job, &info, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(info.cache, 0, "edited source: a miss");
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
    cr_assert_eq(count_entries(cache), 2);
    size_t removed;
    cr_assert_eq(pt_cache_clear(cache, &removed), 0);
    cr_assert_eq(removed, 2);
    cr_assert_eq(count_entries(cache), 0);
}

Test(opencl, unusable_cache_dir_only_costs_speed)
{
    need_device();
    pt_runtime *rt = runtime_with(NULL, "/proc/ptool-no-such-dir/cache");
    pt_job *job = course_job(rt, "mr");
    pt_run_info info;
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(run_cl(rt, job, &info, err, sizeof(err)), 0, "%s", err);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
}

Test(opencl, unwritable_home_still_finds_pocl)
{
    /* PoCL reports no device when it cannot create its own cache under HOME;
     * the backend points it at /tmp instead. */
    unsetenv("POCL_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/proc/ptool-no-home", 1);
    pt_cl_device_info *d;
    size_t n;
    char err[PT_ERRBUF_SIZE];
    int rc = pt_cl_devices(&d, &n, err, sizeof(err));
    if (rc == PT_ENOPLATFORM || rc == PT_ENOSYS)
        cr_skip_test("opencl: no platform on this machine: %s", err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_geq(n, 1);
    pt_free(d);
}

#ifdef PT_HAVE_OPENCL
/* A job whose kernel asks for more memory than the device has. */
static int big_setup(pt_job *job, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    return pt_job_set_phase(job, 0, 1, 1, 0);
}

static void big_range(pt_job *job, unsigned phase, size_t b, size_t e, void *partial)
{
    (void)job, (void)phase, (void)b, (void)e, (void)partial;
}

static int big_cl(pt_job *job, pt_cl *cl, char *err, size_t errlen)
{
    (void)job;
    cl_mem m;
    size_t want = (size_t)cl->info->max_alloc * 2 + 4096;
    int rc = pt__cl_buffer(cl, CL_MEM_READ_WRITE, want, NULL, &m, err, errlen);
    if (rc == 0)
        clReleaseMemObject(m);
    return rc;
}

static const pt_job_desc big_desc = {
    .name = "bigalloc",
    .summary = "test job: an oversized device buffer",
    .kernel = "isprime",
    .setup = big_setup,
    .range = big_range,
    .cl_run = big_cl,
};
#endif

Test(opencl, out_of_device_memory_is_clear)
{
    need_device();
#ifdef PT_HAVE_OPENCL
    pt_job_register(&big_desc);
    pt_runtime *rt = runtime_with(NULL, "");
    pt_job *job;
    char err[PT_ERRBUF_SIZE];
    cr_assert_eq(pt_job_create(&job, rt, &big_desc, NULL, 0, err, sizeof(err)), 0);
    cr_assert_eq(run_cl(rt, job, NULL, err, sizeof(err)), PT_EDEVMEM);
    cr_assert(strstr(err, "bigalloc") && strstr(err, "out of device memory"), "%s", err);
    cr_assert_null(strchr(err, '\n'), "one line: %s", err);
    pt_job_destroy(job);
    pt_runtime_destroy(rt);
#endif
}

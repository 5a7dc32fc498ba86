/* backend/opencl.c - any OpenCL device through the ICD loader (a GPU, or
 * PoCL's CPU device).
 *
 * DESIGN
 *
 * Start-up (init, on first use): make sure PoCL can write its own kernel
 * cache (a read-only HOME otherwise makes it report no device at all), list
 * every device of every platform, pick one with the runtime's selector,
 * create a context and an in-order queue.
 *
 * Programs: each job names its kernel file; the first run of a job builds
 * kernels/<kernel>.cl for the device, through the on-disk binary cache
 * (cl_cache.c): a hit loads the stored binary (milliseconds instead of the
 * compiler's hundreds), a miss builds from source and stores the binary
 * after the first successful run, when drivers such as PoCL have added the
 * code they compile lazily at the first enqueue. Built programs stay in the
 * runtime for later runs. A build failure returns PT_EBUILD with the build
 * log after the first line.
 *
 * Runs take the backend's lock: one queue, one run at a time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "cl_cache.h"
#include "cl_job.h"

typedef struct program {
    char stem[64];
    cl_program prog;
    bool stored; /* binary written to the cache (or not to be) */
    int cache;   /* how it was obtained: 1 hit, 0 miss, -1 no cache */
} program;

typedef struct clstate {
    pthread_mutex_t lock;
    pt_cl_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context ctx;
    cl_command_queue queue;
    program *progs;
    size_t nprogs;
    char cache_dir[4096];
    bool cache_off;
} clstate;

/* --- error codes --------------------------------------------------------- */

const char *pt__cl_errname(cl_int rc)
{
    switch (rc) {
#define N(x)                                                                                       \
    case x:                                                                                        \
        return #x;
        N(CL_SUCCESS)
        N(CL_DEVICE_NOT_FOUND)
        N(CL_DEVICE_NOT_AVAILABLE)
        N(CL_COMPILER_NOT_AVAILABLE)
        N(CL_MEM_OBJECT_ALLOCATION_FAILURE)
        N(CL_OUT_OF_RESOURCES)
        N(CL_OUT_OF_HOST_MEMORY)
        N(CL_BUILD_PROGRAM_FAILURE)
        N(CL_INVALID_VALUE)
        N(CL_INVALID_DEVICE)
        N(CL_INVALID_BINARY)
        N(CL_INVALID_BUILD_OPTIONS)
        N(CL_INVALID_PROGRAM)
        N(CL_INVALID_PROGRAM_EXECUTABLE)
        N(CL_INVALID_KERNEL_NAME)
        N(CL_INVALID_KERNEL_ARGS)
        N(CL_INVALID_ARG_INDEX)
        N(CL_INVALID_ARG_VALUE)
        N(CL_INVALID_ARG_SIZE)
        N(CL_INVALID_WORK_DIMENSION)
        N(CL_INVALID_WORK_GROUP_SIZE)
        N(CL_INVALID_WORK_ITEM_SIZE)
        N(CL_INVALID_GLOBAL_WORK_SIZE)
        N(CL_INVALID_BUFFER_SIZE)
        N(CL_INVALID_MEM_OBJECT)
        N(CL_INVALID_COMMAND_QUEUE)
        N(CL_INVALID_CONTEXT)
        N(CL_INVALID_OPERATION)
        N(CL_INVALID_PLATFORM)
#undef N
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
        return "CL_error";
    }
}

int pt__cl_code(cl_int rc)
{
    switch (rc) {
    case CL_SUCCESS:
        return 0;
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case CL_INVALID_BUFFER_SIZE:
        return PT_EDEVMEM;
    case CL_OUT_OF_HOST_MEMORY:
        return PT_ENOMEM;
    case CL_BUILD_PROGRAM_FAILURE:
    case CL_INVALID_BUILD_OPTIONS:
    case CL_COMPILER_NOT_AVAILABLE:
        return PT_EBUILD;
    case CL_DEVICE_NOT_FOUND:
    case CL_DEVICE_NOT_AVAILABLE:
        return PT_ENODEVICE;
    case -1001:
        return PT_ENOPLATFORM;
    default:
        return PT_ECL;
    }
}

int pt__cl_fail(pt_cl *cl, cl_int rc, const char *what, char *err, size_t errlen)
{
    int code = pt__cl_code(rc);
    if (code == PT_EDEVMEM)
        return pt__errf(err, errlen, code,
                        "%s: out of device memory on %s (%s failed: %s); try a smaller size",
                        cl->job, cl->info->name, what, pt__cl_errname(rc));
    return pt__errf(err, errlen, code, "%s: OpenCL: %s failed: %s (%d)", cl->job, what,
                    pt__cl_errname(rc), (int)rc);
}

bool pt__cl_cpu_path(const pt_cl *cl)
{
    const char *p = getenv("PTOOL_CL_PATH");
    if (p && strcmp(p, "gpu") == 0)
        return false;
    if (p && strcmp(p, "cpu") == 0)
        return true;
    return strcmp(cl->info->type, "CPU") == 0;
}

int pt__cl_kernel(pt_cl *cl, const char *name, cl_kernel *out, char *err, size_t errlen)
{
    cl_int rc;
    *out = clCreateKernel(cl->program, name, &rc);
    if (rc != CL_SUCCESS)
        return pt__cl_fail(cl, rc, "clCreateKernel", err, errlen);
    return 0;
}

static void human_bytes(uint64_t b, char *buf, size_t len)
{
    if (b >= (1ull << 30))
        snprintf(buf, len, "%.1f GiB", (double)b / (double)(1ull << 30));
    else
        snprintf(buf, len, "%.1f MiB", (double)b / (double)(1ull << 20));
}

int pt__cl_buffer(pt_cl *cl, cl_mem_flags flags, size_t bytes, void *host, cl_mem *out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (bytes == 0)
        bytes = 1;
    if (bytes > cl->info->max_alloc || bytes > cl->info->global_mem) {
        char want[32], have[32];
        human_bytes(bytes, want, sizeof(want));
        human_bytes(cl->info->max_alloc, have, sizeof(have));
        return pt__errf(err, errlen, PT_EDEVMEM,
                        "%s: out of device memory: a %s buffer exceeds the largest allocation "
                        "%s of %s; try a smaller size",
                        cl->job, want, cl->info->name, have);
    }
    cl_int rc;
    *out = clCreateBuffer(cl->ctx, flags, bytes, host, &rc);
    if (rc != CL_SUCCESS)
        return pt__cl_fail(cl, rc, "clCreateBuffer", err, errlen);
    return 0;
}

/* --- device discovery ---------------------------------------------------- */

/* A device string, truncated to fit buf (drivers refuse a short buffer). */
static void dev_str(cl_device_id d, cl_device_info what, char *buf, size_t len)
{
    char tmp[1024];
    if (clGetDeviceInfo(d, what, sizeof(tmp), tmp, NULL) != CL_SUCCESS)
        tmp[0] = '\0';
    tmp[sizeof(tmp) - 1] = '\0';
    pt__strlcpy(buf, tmp, len);
}

static void plat_str(cl_platform_id p, cl_platform_info what, char *buf, size_t len)
{
    char tmp[1024];
    if (clGetPlatformInfo(p, what, sizeof(tmp), tmp, NULL) != CL_SUCCESS)
        tmp[0] = '\0';
    tmp[sizeof(tmp) - 1] = '\0';
    pt__strlcpy(buf, tmp, len);
}

static void fill_info(cl_platform_id p, cl_device_id d, pt_cl_device_info *di)
{
    plat_str(p, CL_PLATFORM_NAME, di->platform, sizeof(di->platform));
    plat_str(p, CL_PLATFORM_VERSION, di->platform_version, sizeof(di->platform_version));
    dev_str(d, CL_DEVICE_NAME, di->name, sizeof(di->name));
    dev_str(d, CL_DEVICE_VENDOR, di->vendor, sizeof(di->vendor));
    dev_str(d, CL_DRIVER_VERSION, di->driver, sizeof(di->driver));
    dev_str(d, CL_DEVICE_VERSION, di->version, sizeof(di->version));
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof(t), &t, NULL);
    pt__strlcpy(di->type,
                (t & CL_DEVICE_TYPE_GPU)           ? "GPU"
                : (t & CL_DEVICE_TYPE_CPU)         ? "CPU"
                : (t & CL_DEVICE_TYPE_ACCELERATOR) ? "ACCELERATOR"
                                                   : "OTHER",
                sizeof(di->type));
    cl_uint cu = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(cu), &cu, NULL);
    di->compute_units = cu;
    cl_ulong v = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof(v), &v, NULL);
    di->global_mem = v;
    v = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof(v), &v, NULL);
    di->max_alloc = v;
    v = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof(v), &v, NULL);
    di->local_mem = v;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof(wg), &wg, NULL);
    di->max_work_group = wg ? wg : 1;
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof(fp), &fp, NULL);
    di->fp64 = fp != 0;
}

static const char *no_platform_msg =
    "no OpenCL platform found: install an OpenCL driver (ICD), e.g. Debian's pocl-opencl-icd "
    "for the CPU or your GPU vendor's OpenCL package";

/* Lists devices, returning the platform and device handles too. */
static int list_devices(pt_cl_device_info **out, cl_platform_id **pout, cl_device_id **dout,
                        size_t *n, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &np);
    if (rc == -1001 || (rc == CL_SUCCESS && np == 0))
        return pt__errf(err, errlen, PT_ENOPLATFORM, "%s", no_platform_msg);
    if (rc != CL_SUCCESS)
        return pt__errf(err, errlen, pt__cl_code(rc), "clGetPlatformIDs failed: %s",
                        pt__cl_errname(rc));
    cl_platform_id *plats = calloc(np, sizeof(*plats));
    if (!plats)
        return PT_ENOMEM;
    clGetPlatformIDs(np, plats, NULL);
    size_t cap = 16, cnt = 0;
    pt_cl_device_info *list = calloc(cap, sizeof(*list));
    cl_platform_id *pl = calloc(cap, sizeof(*pl));
    cl_device_id *dl = calloc(cap, sizeof(*dl));
    int ret = 0;
    if (!list || !pl || !dl) {
        ret = PT_ENOMEM;
        goto out;
    }
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd)
            continue;
        cl_device_id *devs = calloc(nd, sizeof(*devs));
        if (!devs) {
            ret = PT_ENOMEM;
            goto out;
        }
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        for (cl_uint d = 0; d < nd; d++) {
            if (cnt == cap) {
                cap *= 2;
                pt_cl_device_info *nl = realloc(list, cap * sizeof(*nl));
                cl_platform_id *npl = nl ? realloc(pl, cap * sizeof(*npl)) : NULL;
                cl_device_id *ndl = npl ? realloc(dl, cap * sizeof(*ndl)) : NULL;
                if (nl)
                    list = nl;
                if (npl)
                    pl = npl;
                if (!ndl) {
                    free(devs);
                    ret = PT_ENOMEM;
                    goto out;
                }
                dl = ndl;
            }
            memset(&list[cnt], 0, sizeof(list[cnt]));
            fill_info(plats[p], devs[d], &list[cnt]);
            list[cnt].index = (unsigned)cnt;
            list[cnt].platform_index = p;
            list[cnt].device_index = d;
            pl[cnt] = plats[p];
            dl[cnt] = devs[d];
            cnt++;
        }
        free(devs);
    }
    if (cnt == 0) {
        ret = pt__errf(err, errlen, PT_ENODEVICE,
                       "the OpenCL platforms report no device (is PoCL's cache directory "
                       "writable? set POCL_CACHE_DIR)");
        goto out;
    }
out:
    free(plats);
    if (ret) {
        free(list);
        free(pl);
        free(dl);
        return ret;
    }
    *out = list;
    *n = cnt;
    if (pout)
        *pout = pl;
    else
        free(pl);
    if (dout)
        *dout = dl;
    else
        free(dl);
    return 0;
}

/* PoCL cannot find its device when it cannot create its kernel cache
 * ($XDG_CACHE_HOME/pocl or ~/.cache/pocl): point it at a private directory
 * under /tmp instead. Other drivers ignore the variable. */
static void ensure_pocl_cache(void)
{
    if (getenv("POCL_CACHE_DIR"))
        return;
    char dir[4096];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof(dir), "%s/pocl", xdg);
    else if (home && *home)
        snprintf(dir, sizeof(dir), "%s/.cache/pocl", home);
    else
        return; /* PoCL falls back to /tmp itself */
    /* mkdir -p, then check we can write there */
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    mkdir(dir, 0700);
    if (access(dir, W_OK | X_OK) == 0)
        return;
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "/tmp/ptool-pocl-%u", (unsigned)getuid());
    mkdir(tmp, 0700);
    setenv("POCL_CACHE_DIR", tmp, 0);
}

int pt_cl_devices(pt_cl_device_info **out, size_t *n, char *err, size_t errlen)
{
    if (!out || !n)
        return PT_EINVAL;
    ensure_pocl_cache();
    return list_devices(out, NULL, NULL, n, err, errlen);
}

/* --- the backend --------------------------------------------------------- */

static void clstate_free(clstate *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nprogs; i++)
        if (st->progs[i].prog)
            clReleaseProgram(st->progs[i].prog);
    free(st->progs);
    if (st->queue)
        clReleaseCommandQueue(st->queue);
    if (st->ctx)
        clReleaseContext(st->ctx);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static int opencl_init(pt_runtime *rt, void **impl, char *why, size_t whylen)
{
    ensure_pocl_cache();
    pt_cl_device_info *list = NULL;
    cl_platform_id *pl = NULL;
    cl_device_id *dl = NULL;
    size_t n = 0, idx = 0;
    int rc = list_devices(&list, &pl, &dl, &n, why, whylen);
    if (rc)
        return rc;
    const pt_runtime_options *o = pt__runtime_options(rt);
    rc = pt_cl_select(list, n, o->device, &idx, why, whylen);
    clstate *st = NULL;
    if (rc)
        goto out;
    st = calloc(1, sizeof(*st));
    if (!st) {
        rc = PT_ENOMEM;
        goto out;
    }
    pthread_mutex_init(&st->lock, NULL);
    st->info = list[idx];
    st->platform = pl[idx];
    st->device = dl[idx];
    cl_int crc;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)st->platform, 0};
    st->ctx = clCreateContext(props, 1, &st->device, NULL, NULL, &crc);
    if (crc != CL_SUCCESS) {
        rc = pt__errf(why, whylen, pt__cl_code(crc), "cannot create a context on %s: %s",
                      st->info.name, pt__cl_errname(crc));
        goto out;
    }
    st->queue = clCreateCommandQueue(st->ctx, st->device, 0, &crc);
    if (crc != CL_SUCCESS) {
        rc = pt__errf(why, whylen, pt__cl_code(crc), "cannot create a queue on %s: %s",
                      st->info.name, pt__cl_errname(crc));
        goto out;
    }
    if (o->cache_dir && !o->cache_dir[0]) {
        st->cache_off = true;
    } else if (pt_cache_path(o->cache_dir, st->cache_dir, sizeof(st->cache_dir)) != 0) {
        st->cache_off = true; /* no HOME: run without a cache */
    }
    *impl = st;
    st = NULL;
out:
    clstate_free(st);
    free(list);
    free(pl);
    free(dl);
    return rc;
}

static void opencl_fini(void *impl)
{
    clstate_free(impl);
}

bool pt__opencl_is_cpu(void *impl, char *name, size_t len)
{
    clstate *st = impl;
    pt__strlcpy(name, st->info.name, len);
    return strcmp(st->info.type, "CPU") == 0;
}

static bool opencl_supports(pt_runtime *rt, void *impl, const pt_job *job, char *why, size_t whylen)
{
    (void)rt, (void)impl;
    if (job->desc->kernel && job->desc->cl_run)
        return true;
    pt__strlcpy(why, "this job has no OpenCL kernel", whylen);
    return false;
}

/* Fetches the build log of prog for the device into a new string. */
static char *build_log(clstate *st, cl_program prog)
{
    size_t len = 0;
    clGetProgramBuildInfo(prog, st->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
    char *log = malloc(len + 1);
    if (!log)
        return NULL;
    if (clGetProgramBuildInfo(prog, st->device, CL_PROGRAM_BUILD_LOG, len, log, NULL) != CL_SUCCESS)
        len = 0;
    log[len] = '\0';
    return log;
}

/* Builds (or loads from the cache) kernels/<stem>.cl for the device. */
static int get_program(clstate *st, const char *job, const char *stem, program **out, char *err,
                       size_t errlen)
{
    for (size_t i = 0; i < st->nprogs; i++) {
        if (strcmp(st->progs[i].stem, stem) == 0) {
            *out = &st->progs[i];
            return 0;
        }
    }
    program *np = realloc(st->progs, (st->nprogs + 1) * sizeof(*np));
    if (!np)
        return PT_ENOMEM;
    st->progs = np;
    program *pg = &st->progs[st->nprogs];
    memset(pg, 0, sizeof(*pg));
    pt__strlcpy(pg->stem, stem, sizeof(pg->stem));

    const char *src;
    size_t srclen;
    char *owned;
    int rc = pt__kernel_source(stem, &src, &srclen, &owned, err, errlen);
    if (rc)
        return rc;
    char options[256];
    snprintf(options, sizeof(options), "-cl-std=CL1.2 -DPT_FP64=%d", st->info.fp64 ? 1 : 0);
    char platform[300];
    snprintf(platform, sizeof(platform), "%s %s", st->info.platform, st->info.platform_version);
    pt__cache_key key = {.kernel = stem,
                         .source = src,
                         .source_len = srclen,
                         .options = options,
                         .device = st->info.name,
                         .driver = st->info.driver,
                         .platform = platform};
    cl_int crc;
    pg->cache = st->cache_off ? -1 : 0;
    if (!st->cache_off) {
        unsigned char *bin = NULL;
        size_t binlen = 0;
        if (pt__cache_load(st->cache_dir, &key, &bin, &binlen) == 0) {
            const unsigned char *bins[1] = {bin};
            cl_int status;
            cl_program p =
                clCreateProgramWithBinary(st->ctx, 1, &st->device, &binlen, bins, &status, &crc);
            if (crc == CL_SUCCESS && status == CL_SUCCESS &&
                clBuildProgram(p, 1, &st->device, options, NULL, NULL) == CL_SUCCESS) {
                pg->prog = p;
                pg->cache = 1;
                pg->stored = true;
            } else if (p) {
                clReleaseProgram(p); /* unusable binary: rebuild from source */
            }
            free(bin);
        }
    }
    if (!pg->prog) {
        cl_program p = clCreateProgramWithSource(st->ctx, 1, &src, &srclen, &crc);
        if (crc != CL_SUCCESS) {
            rc = pt__errf(err, errlen, pt__cl_code(crc), "%s: clCreateProgramWithSource: %s", job,
                          pt__cl_errname(crc));
            goto out;
        }
        crc = clBuildProgram(p, 1, &st->device, options, NULL, NULL);
        if (crc != CL_SUCCESS) {
            char *log = build_log(st, p);
            const char *dir = getenv("PTOOL_KERNEL_DIR");
            rc = pt__errf(err, errlen, PT_EBUILD,
                          "%s: OpenCL kernel build failed (%s/%s.cl on %s: %s); build "
                          "log:\n%s",
                          job, dir && *dir ? dir : "kernels", stem, st->info.name,
                          pt__cl_errname(crc), log ? log : "");
            free(log);
            clReleaseProgram(p);
            goto out;
        }
        pg->prog = p;
        pg->stored = st->cache_off;
    }
    st->nprogs++;
    *out = pg;
    rc = 0;
out:
    free(owned);
    return rc;
}

/* Stores the program binary in the cache once (after its first run). */
static void store_program(clstate *st, program *pg)
{
    if (pg->stored)
        return;
    pg->stored = true;
    size_t size = 0;
    if (clGetProgramInfo(pg->prog, CL_PROGRAM_BINARY_SIZES, sizeof(size), &size, NULL) !=
            CL_SUCCESS ||
        size == 0)
        return;
    unsigned char *bin = malloc(size);
    if (!bin)
        return;
    unsigned char *bins[1] = {bin};
    const char *src;
    size_t srclen;
    char *owned;
    if (clGetProgramInfo(pg->prog, CL_PROGRAM_BINARIES, sizeof(bins), bins, NULL) == CL_SUCCESS &&
        pt__kernel_source(pg->stem, &src, &srclen, &owned, NULL, 0) == 0) {
        char options[256], platform[300];
        snprintf(options, sizeof(options), "-cl-std=CL1.2 -DPT_FP64=%d", st->info.fp64 ? 1 : 0);
        snprintf(platform, sizeof(platform), "%s %s", st->info.platform, st->info.platform_version);
        pt__cache_key key = {.kernel = pg->stem,
                             .source = src,
                             .source_len = srclen,
                             .options = options,
                             .device = st->info.name,
                             .driver = st->info.driver,
                             .platform = platform};
        pt__cache_store(st->cache_dir, &key, bin, size); /* failure only costs speed */
        free(owned);
    }
    free(bin);
}

static void opencl_describe(pt_runtime *rt, void *impl, unsigned threads, pt_run_info *info)
{
    (void)rt, (void)threads;
    clstate *st = impl;
    info->threads = st->info.compute_units;
    pt__strlcpy(info->device, st->info.name, sizeof(info->device));
    pt__strlcpy(info->platform, st->info.platform, sizeof(info->platform));
    pt__strlcpy(info->driver, st->info.driver, sizeof(info->driver));
}

static int opencl_run(pt_runtime *rt, void *impl, pt_job *job, pt_run_info *info, char *err,
                      size_t errlen)
{
    (void)rt;
    clstate *st = impl;
    pthread_mutex_lock(&st->lock);
    double t0 = pt__now();
    program *pg = NULL;
    int rc = get_program(st, job->desc->name, job->desc->kernel, &pg, err, errlen);
    if (rc) {
        pthread_mutex_unlock(&st->lock);
        return rc;
    }
    info->cache = pg->cache;
    double t1 = pt__now();
    info->prepare_seconds = t1 - t0;
    pt_cl cl = {.ctx = st->ctx,
                .queue = st->queue,
                .device = st->device,
                .program = pg->prog,
                .info = &st->info,
                .job = job->desc->name};
    rc = job->desc->cl_run(job, &cl, err, errlen); /* all phases and repeats */
    if (rc == 0)
        clFinish(st->queue);
    info->seconds = pt__now() - t1;
    if (rc == 0)
        store_program(st, pg);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

const pt_backend_ops pt__backend_opencl = {
    .id = PT_BACKEND_OPENCL,
    .name = "opencl",
    .init = opencl_init,
    .fini = opencl_fini,
    .supports = opencl_supports,
    .run = opencl_run,
    .describe = opencl_describe,
};

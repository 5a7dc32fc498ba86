/* runtime.c - the runtime: backend registry, lazy backend start-up, backend
 * choice (auto, fallback, strict) and pt_run(), which drives a job's phases
 * on a CPU backend or hands the whole job to a device backend.
 *
 * Start-up order matters: pt_runtime_create() reserves the shared arena and
 * forks the process pool's fork server first, while the process has a single
 * thread, and only then may anything start threads (the thread pool, OpenMP,
 * OpenCL: all started lazily by the first run that needs them). See
 * backend/processes.c for why.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"

/* The registry, in the order auto tries them (curl's available_backends[]). */
static const pt_backend_ops *const registry[] = {
#ifdef PT_HAVE_OPENCL
    &pt__backend_opencl,
#endif
#ifdef PT_HAVE_OPENMP
    &pt__backend_openmp,
#endif
    &pt__backend_threads, &pt__backend_processes, &pt__backend_serial,
};
#define NREGISTRY (sizeof(registry) / sizeof(registry[0]))

/* Jobs estimated to take less than this on one core run serially under auto:
 * waking workers costs more than it saves. */
#define AUTO_SERIAL_BELOW 2e-3
/* Below this, auto does not bring up OpenCL (its start-up alone costs more). */
#define AUTO_DEVICE_ABOVE 0.05

struct pt_runtime {
    pt_runtime_options opts;
    char device_sel[256];
    char cache_dir[4096];
    bool cache_dir_set;
    unsigned threads;

    pthread_mutex_t lock; /* guards the fields below */
    bool started[PT_BACKEND_COUNT];
    int start_rc[PT_BACKEND_COUNT];
    char why[PT_BACKEND_COUNT][512];
    void *impl[PT_BACKEND_COUNT];

    pt__shm *shm;     /* the arena shared with worker processes */
    pt__procpool *pp; /* NULL if the process pool could not start */
    char pp_why[256];
    pt_pool *pool; /* threads backend, created on first use */
    char cpu_model[128];
};

static const char *const names[PT_BACKEND_COUNT] = {"auto",      "serial", "threads",
                                                    "processes", "openmp", "opencl"};

const char *pt_backend_name(pt_backend_id id)
{
    return (unsigned)id < PT_BACKEND_COUNT ? names[id] : "?";
}

int pt_backend_parse(const char *name, pt_backend_id *out)
{
    if (!name || !out)
        return PT_EINVAL;
    for (unsigned i = 0; i < PT_BACKEND_COUNT; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (pt_backend_id)i;
            return 0;
        }
    }
    return PT_EUNKNOWN;
}

static const pt_backend_ops *ops_of(pt_backend_id id)
{
    for (size_t i = 0; i < NREGISTRY; i++)
        if (registry[i]->id == id)
            return registry[i];
    return NULL;
}

/* --- lifetime ------------------------------------------------------------ */

int pt_runtime_create(pt_runtime **out, const pt_runtime_options *opts)
{
    if (!out)
        return PT_EINVAL;
    pt_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return PT_ENOMEM;
    if (opts)
        rt->opts = *opts;
    rt->threads = rt->opts.threads ? rt->opts.threads : pt_default_threads();
    const char *sel = rt->opts.device ? rt->opts.device : getenv("PTOOL_DEVICE");
    if (sel && *sel) {
        pt__strlcpy(rt->device_sel, sel, sizeof(rt->device_sel));
        rt->opts.device = rt->device_sel;
    } else {
        rt->opts.device = NULL;
    }
    if (rt->opts.cache_dir) {
        pt__strlcpy(rt->cache_dir, rt->opts.cache_dir, sizeof(rt->cache_dir));
        rt->opts.cache_dir = rt->cache_dir;
        rt->cache_dir_set = true;
    }
    pthread_mutex_init(&rt->lock, NULL);
    pt__cpu_model(rt->cpu_model, sizeof(rt->cpu_model));

    if (rt->opts.no_processes) {
        pt__strlcpy(rt->pp_why, "process pool disabled for this runtime", sizeof(rt->pp_why));
    } else {
        /* Reserve address space for all job memory the workers may need: as
         * much as the machine has RAM (MAP_NORESERVE: nothing is committed). */
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        size_t reserve = (pages > 0 && psize > 0) ? (size_t)pages * (size_t)psize : (1ul << 32);
        int rc = pt__shm_create(&rt->shm, reserve);
        if (rc) {
            snprintf(rt->pp_why, sizeof(rt->pp_why), "cannot map shared memory: %s",
                     pt_strerror(rc));
        } else {
            rc = pt__procpool_start(&rt->pp, rt->threads, rt->pp_why, sizeof(rt->pp_why));
            if (rc) {
                pt__shm_destroy(rt->shm);
                rt->shm = NULL;
                rt->pp = NULL;
            }
        }
    }
    *out = rt;
    return 0;
}

void pt_runtime_destroy(pt_runtime *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < NREGISTRY; i++) {
        const pt_backend_ops *o = registry[i];
        if (rt->started[o->id] && rt->start_rc[o->id] == 0 && o->fini)
            o->fini(rt->impl[o->id]);
    }
    pt_pool_destroy(rt->pool);
    pt__procpool_stop(rt->pp);
    pt__shm_destroy(rt->shm);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

unsigned pt_runtime_threads(const pt_runtime *rt)
{
    return rt->threads;
}

unsigned pt__runtime_default_threads(const pt_runtime *rt)
{
    return rt->threads;
}

const pt_runtime_options *pt__runtime_options(const pt_runtime *rt)
{
    return &rt->opts;
}

pt__shm *pt__runtime_shm(pt_runtime *rt)
{
    return rt->pp ? rt->shm : NULL;
}

pt__procpool *pt__runtime_procpool(pt_runtime *rt, char *why, size_t whylen)
{
    if (!rt->pp)
        pt__strlcpy(why, rt->pp_why, whylen);
    return rt->pp;
}

pt_pool *pt__runtime_pool(pt_runtime *rt, unsigned threads)
{
    pthread_mutex_lock(&rt->lock);
    if (!rt->pool) {
        /* The caller of a run works too, so threads-1 workers give `threads`;
         * keep at least the default count so later runs need not grow it. */
        unsigned n = threads > rt->threads ? threads : rt->threads;
        pt_pool_options po = {.threads = n > 1 ? n - 1 : 1};
        if (pt_pool_create(&rt->pool, &po) != 0)
            rt->pool = NULL;
    }
    pt_pool *p = rt->pool;
    pthread_mutex_unlock(&rt->lock);
    return p;
}

size_t pt_runtime_worker_pids(pt_runtime *rt, int *pids, size_t max)
{
    return rt->pp ? pt__procpool_pids(rt->pp, pids, max) : 0;
}

/* --- availability and choice --------------------------------------------- */

/* Starts backend o if needed; 0 or its start error (reason in rt->why). */
static int ensure_started(pt_runtime *rt, const pt_backend_ops *o)
{
    pthread_mutex_lock(&rt->lock);
    if (!rt->started[o->id]) {
        rt->why[o->id][0] = '\0';
        rt->start_rc[o->id] =
            o->init ? o->init(rt, &rt->impl[o->id], rt->why[o->id], sizeof(rt->why[0])) : 0;
        rt->started[o->id] = true;
    }
    int rc = rt->start_rc[o->id];
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

bool pt_backend_available(pt_runtime *rt, pt_backend_id b, const pt_job *job, char *why,
                          size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (b == PT_BACKEND_AUTO)
        return true;
    const pt_backend_ops *o = ops_of(b);
    if (!o) {
        if (b == PT_BACKEND_OPENMP)
            pt__strlcpy(why, "not built: the compiler had no OpenMP (PTOOL_WITH_OPENMP)", whylen);
        else if (b == PT_BACKEND_OPENCL)
            pt__strlcpy(why, "not built: configured with PTOOL_WITH_OPENCL=OFF", whylen);
        else
            pt__strlcpy(why, "unknown backend", whylen);
        return false;
    }
    if (ensure_started(rt, o) != 0) {
        pt__strlcpy(why, rt->why[o->id], whylen);
        return false;
    }
    if (job && o->supports && !o->supports(rt, rt->impl[o->id], job, why, whylen))
        return false;
    return true;
}

static int resolve_auto(pt_runtime *rt, const pt_job *job, pt_backend_id *out, char *note,
                        size_t notelen)
{
    double cost = (job && job->desc->cost) ? job->desc->cost(job) : 1.0;
    if (cost < AUTO_SERIAL_BELOW) {
        *out = PT_BACKEND_SERIAL;
        snprintf(note, notelen,
                 "auto: serial (about %.2g ms of work: parallel start-up would cost more)",
                 cost * 1e3);
        return 0;
    }
    char skipped[400] = "";
    size_t used = 0;
    for (size_t i = 0; i < NREGISTRY; i++) {
        const pt_backend_ops *o = registry[i];
        char why[256];
        bool ok = true;
        if (o->id == PT_BACKEND_OPENCL && cost < AUTO_DEVICE_ABOVE) {
            snprintf(why, sizeof(why), "job too small to offload");
            ok = false;
        } else if (!pt_backend_available(rt, o->id, job, why, sizeof(why))) {
            ok = false;
        }
#ifdef PT_HAVE_OPENCL
        else if (o->id == PT_BACKEND_OPENCL) {
            char dev[128];
            if (pt__opencl_is_cpu(rt->impl[o->id], dev, sizeof(dev))) {
                snprintf(why, sizeof(why), "the device (%s) is a CPU: auto prefers native code",
                         dev);
                ok = false;
            }
        }
#endif
        if (ok) {
            *out = o->id;
            if (skipped[0])
                snprintf(note, notelen, "auto: %s (skipped %s)", o->name, skipped);
            else
                snprintf(note, notelen, "auto: %s", o->name);
            return 0;
        }
        if (used < sizeof(skipped))
            used += (size_t)snprintf(skipped + used, sizeof(skipped) - used, "%s%s: %s",
                                     used ? "; " : "", o->name, why);
    }
    snprintf(note, notelen, "auto: no backend can run this job (%s)", skipped);
    return PT_EUNAVAIL;
}

int pt_backend_resolve(pt_runtime *rt, const pt_job *job, pt_backend_id requested, bool strict,
                       pt_backend_id *out, char *note, size_t notelen)
{
    char tmp[512];
    if (!note || !notelen) {
        note = tmp;
        notelen = sizeof(tmp);
    }
    note[0] = '\0';
    if ((unsigned)requested >= PT_BACKEND_COUNT)
        return PT_EINVAL;
    if (requested == PT_BACKEND_AUTO)
        return resolve_auto(rt, job, out, note, notelen);
    char why[256];
    if (pt_backend_available(rt, requested, job, why, sizeof(why))) {
        *out = requested;
        return 0;
    }
    if (strict) {
        snprintf(note, notelen, "%s unavailable: %s", pt_backend_name(requested), why);
        return PT_EUNAVAIL;
    }
    char autonote[400];
    int rc = resolve_auto(rt, job, out, autonote, sizeof(autonote));
    snprintf(note, notelen, "%s unavailable (%s); %s", pt_backend_name(requested), why, autonote);
    return rc;
}

/* --- running ------------------------------------------------------------- */

void pt__chunking(const pt__phase *ph, size_t *chunk, size_t *nchunks)
{
    size_t c = (ph->items + PT__MAX_CHUNKS - 1) / PT__MAX_CHUNKS;
    if (c < ph->grain)
        c = ph->grain;
    if (c == 0)
        c = 1;
    *chunk = c;
    *nchunks = (ph->items + c - 1) / c;
}

static size_t partial_stride(const pt__phase *ph)
{
    return (ph->partial_size + 63) / 64 * 64;
}

void pt__run_chunk(pt_job *job, unsigned phase, size_t c, size_t chunk)
{
    const pt__phase *ph = &job->phases[phase];
    size_t begin = c * chunk;
    size_t end = begin + chunk < ph->items ? begin + chunk : ph->items;
    void *partial = ph->partial_size ? (char *)job->partials + c * partial_stride(ph) : NULL;
    job->desc_copy.range(job, phase, begin, end, partial);
    atomic_fetch_add_explicit(&job->progress_done, 1, memory_order_relaxed);
}

/* Makes sure the job has room for every chunk's partial of its largest phase. */
static int ensure_partials(pt_job *job)
{
    size_t need = 0;
    for (unsigned p = 0; p < job->nphases; p++) {
        size_t chunk, n;
        pt__chunking(&job->phases[p], &chunk, &n);
        size_t b = (n ? n : 1) * partial_stride(&job->phases[p]); /* one even when empty */
        if (b > need)
            need = b;
    }
    if (need <= job->partials_bytes)
        return 0;
    void *p = pt_job_alloc(job, need);
    if (!p)
        return PT_ENOMEM;
    job->partials = p;
    job->partials_bytes = need;
    return 0;
}

static int run_cpu(pt_runtime *rt, const pt_backend_ops *o, pt_job *job, unsigned threads,
                   char *err, size_t errlen)
{
    int rc = ensure_partials(job);
    if (rc)
        return pt__errf(err, errlen, rc, "%s: out of memory for partial results", job->desc->name);
    uint64_t units = 0;
    for (unsigned p = 0; p < job->nphases; p++) {
        size_t chunk, n;
        pt__chunking(&job->phases[p], &chunk, &n);
        units += n;
    }
    atomic_store_explicit(&job->progress_total, units * job->repeat, memory_order_relaxed);
    for (unsigned r = 0; r < job->repeat; r++) {
        for (unsigned p = 0; p < job->nphases; p++) {
            const pt__phase *ph = &job->phases[p];
            size_t chunk, n;
            pt__chunking(ph, &chunk, &n);
            size_t stride = partial_stride(ph);
            if (stride)
                memset(job->partials, 0, (n ? n : 1) * stride); /* phase_end gets zeros */
            double t0 = pt__now();
            if (n) {
                rc = o->exec(rt, rt->impl[o->id], job, p, n, chunk, threads, err, errlen);
                if (rc)
                    return rc;
            }
            if (stride && job->desc->combine)
                for (size_t c = 1; c < n; c++)
                    job->desc->combine(job, p, job->partials, (char *)job->partials + c * stride);
            if (job->desc->phase_end)
                job->desc->phase_end(job, p, stride ? job->partials : NULL);
            job->phase_seconds[p] += pt__now() - t0;
        }
    }
    return 0;
}

int pt_run(pt_runtime *rt, pt_job *job, const pt_run_options *ro, pt_run_info *info, char *err,
           size_t errlen)
{
    pt_run_info local;
    if (!info)
        info = &local;
    memset(info, 0, sizeof(*info));
    info->cache = -1;
    if (err && errlen)
        err[0] = '\0';
    if (!rt || !job)
        return pt__errf(err, errlen, PT_EINVAL, "pt_run: no runtime or job");
    pt_run_options defaults = {0};
    if (!ro)
        ro = &defaults;

    pt_backend_id b;
    int rc =
        pt_backend_resolve(rt, job, ro->backend, ro->strict, &b, info->note, sizeof(info->note));
    if (rc)
        return pt__errf(err, errlen, rc, "%s: %s", job->desc->name, info->note);
    const pt_backend_ops *o = ops_of(b);
    info->backend = b;
    unsigned threads = ro->threads ? ro->threads : rt->threads;
    if (b == PT_BACKEND_SERIAL)
        threads = 1;
    info->threads = threads;
    pt__strlcpy(info->device, rt->cpu_model, sizeof(info->device));
    if (o->describe)
        o->describe(rt, rt->impl[b], threads, info);

    if (job->desc->reset && (rc = job->desc->reset(job)) != 0)
        return pt__errf(err, errlen, rc, "%s: reset failed: %s", job->desc->name, pt_strerror(rc));
    memset(job->phase_seconds, 0, sizeof(job->phase_seconds));
    atomic_store_explicit(&job->progress_done, 0, memory_order_relaxed);
    atomic_store_explicit(&job->progress_total, 1, memory_order_relaxed);

    double t0 = pt__now();
    if (o->run)
        rc = o->run(rt, rt->impl[b], job, info, err, errlen);
    else
        rc = run_cpu(rt, o, job, threads, err, errlen);
    if (!o->run)
        info->seconds = pt__now() - t0;
    if (rc == 0) /* device code may not have counted: the run is complete */
        atomic_store_explicit(&job->progress_done,
                              atomic_load_explicit(&job->progress_total, memory_order_relaxed),
                              memory_order_relaxed);
    if (rc && err && errlen && !err[0])
        pt__errf(err, errlen, rc, "%s: %s backend: %s", job->desc->name, o->name, pt_strerror(rc));
    return rc;
}

/* --- the backends report (ptool backends --json, GET /backends) ---------- */

static void device_json(pt_json *j, const pt_cl_device_info *d, bool selected)
{
    pt_json_object_begin(j);
    pt_json_key(j, "index");
    pt_json_uint(j, d->index);
    pt_json_key(j, "platform_index");
    pt_json_uint(j, d->platform_index);
    pt_json_key(j, "device_index");
    pt_json_uint(j, d->device_index);
    pt_json_key(j, "platform");
    pt_json_str(j, d->platform);
    pt_json_key(j, "platform_version");
    pt_json_str(j, d->platform_version);
    pt_json_key(j, "name");
    pt_json_str(j, d->name);
    pt_json_key(j, "vendor");
    pt_json_str(j, d->vendor);
    pt_json_key(j, "type");
    pt_json_str(j, d->type);
    pt_json_key(j, "driver");
    pt_json_str(j, d->driver);
    pt_json_key(j, "version");
    pt_json_str(j, d->version);
    pt_json_key(j, "compute_units");
    pt_json_uint(j, d->compute_units);
    pt_json_key(j, "global_mem_bytes");
    pt_json_uint(j, d->global_mem);
    pt_json_key(j, "max_alloc_bytes");
    pt_json_uint(j, d->max_alloc);
    pt_json_key(j, "local_mem_bytes");
    pt_json_uint(j, d->local_mem);
    pt_json_key(j, "max_work_group");
    pt_json_uint(j, d->max_work_group);
    pt_json_key(j, "fp64");
    pt_json_bool(j, d->fp64);
    pt_json_key(j, "selected");
    pt_json_bool(j, selected);
    pt_json_object_end(j);
}

void pt_backends_json(pt_json *j, pt_runtime *rt)
{
    static const pt_backend_id ids[] = {PT_BACKEND_SERIAL, PT_BACKEND_THREADS, PT_BACKEND_PROCESSES,
                                        PT_BACKEND_OPENMP, PT_BACKEND_OPENCL};
    pt_json_key(j, "threads");
    pt_json_uint(j, pt_runtime_threads(rt));
    pt_json_key(j, "cpus");
    pt_json_uint(j, pt_cpu_count());
    pt_json_key(j, "backends");
    pt_json_array_begin(j);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char why[512];
        bool ok = pt_backend_available(rt, ids[i], NULL, why, sizeof(why));
        pt_json_object_begin(j);
        pt_json_key(j, "name");
        pt_json_str(j, pt_backend_name(ids[i]));
        pt_json_key(j, "available");
        pt_json_bool(j, ok);
        pt_json_key(j, "why");
        pt_json_str(j, ok ? NULL : why);
        pt_json_object_end(j);
    }
    pt_json_array_end(j);

    pt_cl_device_info *devs = NULL;
    size_t ndev = 0, selected = (size_t)-1;
    char clerr[PT_ERRBUF_SIZE] = "";
    int clrc = pt_cl_devices(&devs, &ndev, clerr, sizeof(clerr));
    if (clrc == 0 && pt_cl_select(devs, ndev, rt->opts.device, &selected, NULL, 0) != 0)
        selected = (size_t)-1;
    pt_json_key(j, "opencl_error");
    pt_json_str(j, clrc ? clerr : NULL);
    pt_json_key(j, "devices");
    pt_json_array_begin(j);
    for (size_t i = 0; i < ndev; i++)
        device_json(j, &devs[i], i == selected);
    pt_json_array_end(j);
    pt_free(devs);
}

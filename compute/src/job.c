/* job.c - jobs: the catalog, creation from parameters, job memory, phases,
 * parameter access and the wrappers around a descriptor's hooks. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* --- the catalog --------------------------------------------------------- */

#define MAX_JOBS 64

/* The built-in jobs (gen/jobs_table.c, generated from compute/src/jobs/),
 * then the registered ones. */
static const pt_job_desc *catalog[MAX_JOBS];
static size_t ncatalog;
static pthread_mutex_t catalog_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t catalog_once = PTHREAD_ONCE_INIT;

static void catalog_init(void)
{
    for (size_t i = 0; i < pt__nbuiltin_jobs && ncatalog < MAX_JOBS; i++)
        catalog[ncatalog++] = pt__builtin_jobs[i];
}

const pt_job_desc *const *pt_job_catalog(size_t *n)
{
    pthread_once(&catalog_once, catalog_init);
    pthread_mutex_lock(&catalog_lock);
    *n = ncatalog;
    pthread_mutex_unlock(&catalog_lock);
    return catalog;
}

const pt_job_desc *pt_job_find(const char *name)
{
    if (!name)
        return NULL;
    size_t n;
    const pt_job_desc *const *all = pt_job_catalog(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

int pt_job_register(const pt_job_desc *desc)
{
    if (!desc || !desc->name || !desc->setup || !desc->range)
        return PT_EINVAL;
    int rc = 0;
    pthread_once(&catalog_once, catalog_init);
    pthread_mutex_lock(&catalog_lock);
    for (size_t i = 0; i < ncatalog; i++)
        if (strcmp(catalog[i]->name, desc->name) == 0)
            rc = PT_EBUSY;
    if (!rc && ncatalog == MAX_JOBS)
        rc = PT_ENOMEM;
    if (!rc)
        catalog[ncatalog++] = desc;
    pthread_mutex_unlock(&catalog_lock);
    return rc;
}

/* --- job memory ---------------------------------------------------------- */

#define HUGE_MIN (2u << 20) /* private buffers this large get their own mapping */

static void *raw_alloc(pt__shm *shm, size_t bytes, int *kind)
{
    void *p;
    if (shm) {
        *kind = 2;
        return pt__shm_alloc(shm, bytes);
    }
    if (bytes >= HUGE_MIN) {
        /* Fresh anonymous pages are zero; ask for transparent huge pages,
         * which matter for the streaming jobs' TLB reach. */
        *kind = 1;
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        madvise(p, bytes, MADV_HUGEPAGE);
        return p;
    }
    *kind = 0;
    size_t rounded = (bytes + 63) / 64 * 64;
    p = aligned_alloc(64, rounded ? rounded : 64);
    if (p)
        memset(p, 0, rounded ? rounded : 64);
    return p;
}

static void raw_free(pt__shm *shm, void *p, size_t bytes, int kind)
{
    if (kind == 2)
        pt__shm_free(shm, p, bytes);
    else if (kind == 1)
        munmap(p, bytes);
    else
        free(p);
}

static pt__shm *job_shm(const pt_job *job)
{
    return (job->flags & PT_JOB_SHARED) ? pt__runtime_shm(job->rt) : NULL;
}

void *pt_job_alloc(pt_job *job, size_t bytes)
{
    if (!job)
        return NULL;
    pt__alloc *a = malloc(sizeof(*a));
    if (!a)
        return NULL;
    a->p = raw_alloc(job_shm(job), bytes, &a->kind);
    if (!a->p) {
        free(a);
        return NULL;
    }
    a->bytes = bytes;
    pthread_mutex_lock(&job->lock);
    a->next = job->allocs;
    job->allocs = a;
    pthread_mutex_unlock(&job->lock);
    return a->p;
}

/* --- creation ------------------------------------------------------------ */

/* Copies parameter values (strings and lists deep) into job memory. */
static int copy_values(pt_job *job, const pt__value *values, const bool *given)
{
    const pt_job_desc *d = job->desc;
    size_t n = d->nparams ? d->nparams : 1;
    job->values = pt_job_alloc(job, n * sizeof(*job->values));
    job->given = pt_job_alloc(job, n * sizeof(*job->given));
    if (!job->values || !job->given)
        return PT_ENOMEM;
    for (size_t i = 0; i < d->nparams; i++) {
        job->values[i] = values[i];
        job->given[i] = given[i];
        pt_type t = d->params[i].type;
        if ((t == PT_TYPE_STRING || t == PT_TYPE_CHOICE) && values[i].s) {
            size_t len = strlen(values[i].s) + 1;
            char *s = pt_job_alloc(job, len);
            if (!s)
                return PT_ENOMEM;
            memcpy(s, values[i].s, len);
            job->values[i].s = s;
        } else if (t == PT_TYPE_U64_LIST) {
            size_t cnt = values[i].list.n;
            uint64_t *v = pt_job_alloc(job, (cnt ? cnt : 1) * sizeof(*v));
            if (!v)
                return PT_ENOMEM;
            if (cnt)
                memcpy(v, values[i].list.v, cnt * sizeof(*v));
            job->values[i].list.v = v;
        }
    }
    return 0;
}

/* Creates a job of desc from parameter values; with `like`, the job's
 * setup_like hook (when it has one) copies the inputs instead of reading
 * them again. */
static int create(pt_job **out, pt_runtime *rt, const pt_job_desc *desc, const pt__value *values,
                  const bool *given, unsigned flags, const pt_job *like, char *err, size_t errlen)
{
    pt__shm *shm = NULL;
    if (flags & PT_JOB_SHARED) {
        shm = rt ? pt__runtime_shm(rt) : NULL;
        if (!shm)
            return pt__errf(err, errlen, PT_EINVAL,
                            "%s: shared job memory needs a runtime with the process pool",
                            desc->name);
    }
    int kind;
    pt_job *job = raw_alloc(shm, sizeof(*job), &kind);
    if (!job)
        return pt__errf(err, errlen, PT_ENOMEM, "%s: out of memory", desc->name);
    job->desc_copy = *desc;
    job->desc = desc;
    job->rt = rt;
    job->flags = flags;
    job->repeat = 1;
    pthread_mutex_init(&job->lock, NULL);

    int rc = copy_values(job, values, given);
    if (rc)
        goto out_job;
    if (desc->state_size) {
        job->state = pt_job_alloc(job, desc->state_size);
        if (!job->state) {
            rc = PT_ENOMEM;
            goto out_job;
        }
    }
    if (err && errlen)
        err[0] = '\0';
    if (like && desc->setup_like)
        rc = desc->setup_like(job, like, err, errlen);
    else
        rc = desc->setup(job, err, errlen);
    if (rc) {
        if (err && errlen && !err[0])
            pt__errf(err, errlen, rc, "%s: %s", desc->name, pt_strerror(rc));
        goto out_job;
    }
    if (job->nphases == 0) {
        rc = pt__errf(err, errlen, PT_EINVAL, "%s: setup declared no phase", desc->name);
        goto out_job;
    }
    *out = job;
    return 0;

out_job:
    if (rc == PT_ENOMEM && err && errlen && !err[0])
        pt__errf(err, errlen, rc, "%s: out of memory", desc->name);
    pt_job_destroy(job);
    return rc;
}

int pt_job_create(pt_job **out, pt_runtime *rt, const pt_job_desc *desc, const pt_params *params,
                  unsigned flags, char *err, size_t errlen)
{
    if (!out || !desc || !desc->setup || !desc->range)
        return pt__errf(err, errlen, PT_EINVAL, "invalid job descriptor");
    if (params && params->desc != desc)
        return pt__errf(err, errlen, PT_EINVAL, "%s: parameters belong to job %s", desc->name,
                        params->desc->name);
    pt_params *defaults = NULL;
    if (!params) {
        int rc = pt_params_create(&defaults, desc);
        if (rc)
            return pt__errf(err, errlen, rc, "%s: %s", desc->name, pt_strerror(rc));
        params = defaults;
    }
    int rc = create(out, rt, desc, params->values, params->given, flags, NULL, err, errlen);
    pt_params_destroy(defaults);
    return rc;
}

int pt_job_create_like(pt_job **out, const pt_job *like, unsigned flags, char *err, size_t errlen)
{
    if (!out || !like)
        return PT_EINVAL;
    return create(out, like->rt, like->desc, like->values, like->given, flags, like, err, errlen);
}

void pt_job_destroy(pt_job *job)
{
    if (!job)
        return;
    if (job->desc->teardown)
        job->desc->teardown(job);
    pt__shm *shm = job_shm(job);
    pt__alloc *a = job->allocs;
    while (a) {
        pt__alloc *next = a->next;
        raw_free(shm, a->p, a->bytes, a->kind);
        free(a);
        a = next;
    }
    pthread_mutex_destroy(&job->lock);
    raw_free(shm, job, sizeof(*job), shm ? 2 : 0);
}

const pt_job_desc *pt_job_desc_of(const pt_job *job)
{
    return job->desc;
}

void *pt_job_state(const pt_job *job)
{
    return job->state;
}

int pt_job_set_phase(pt_job *job, unsigned phase, size_t items, size_t grain, size_t partial_size)
{
    if (!job || phase >= PT__MAX_PHASES)
        return PT_EINVAL;
    job->phases[phase].items = items;
    job->phases[phase].grain = grain ? grain : 1;
    job->phases[phase].partial_size = partial_size;
    if (phase + 1 > job->nphases)
        job->nphases = phase + 1;
    return 0;
}

int pt_job_set_repeat(pt_job *job, unsigned repeat)
{
    if (!job || repeat == 0)
        return PT_EINVAL;
    job->repeat = repeat;
    return 0;
}

/* --- parameter access ---------------------------------------------------- */

static size_t param_index(const pt_job *job, const char *name, pt_type want)
{
    const pt_param *p = pt_param_find(job->desc, name);
    assert(p && "job reads a parameter its descriptor does not declare");
    assert((p->type == want || (want == PT_TYPE_STRING && p->type == PT_TYPE_CHOICE)) &&
           "job reads a parameter as the wrong type");
    (void)want;
    return (size_t)(p - job->desc->params);
}

bool pt_job_param_given(const pt_job *job, const char *name)
{
    const pt_param *p = pt_param_find(job->desc, name);
    assert(p);
    return p ? job->given[p - job->desc->params] : false;
}

int64_t pt_job_int(const pt_job *job, const char *name)
{
    return job->values[param_index(job, name, PT_TYPE_INT)].i;
}

uint64_t pt_job_u64(const pt_job *job, const char *name)
{
    return job->values[param_index(job, name, PT_TYPE_U64)].u;
}

double pt_job_double(const pt_job *job, const char *name)
{
    return job->values[param_index(job, name, PT_TYPE_DOUBLE)].d;
}

bool pt_job_bool(const pt_job *job, const char *name)
{
    return job->values[param_index(job, name, PT_TYPE_BOOL)].b;
}

const char *pt_job_str(const pt_job *job, const char *name)
{
    return job->values[param_index(job, name, PT_TYPE_STRING)].s;
}

const uint64_t *pt_job_list(const pt_job *job, const char *name, size_t *n)
{
    const pt__value *v = &job->values[param_index(job, name, PT_TYPE_U64_LIST)];
    *n = v->list.n;
    return v->list.v;
}

int pt_job_params_json(const pt_job *job, pt_json *j)
{
    const pt_job_desc *d = job->desc;
    for (size_t i = 0; i < d->nparams; i++) {
        const pt_param *p = &d->params[i];
        const pt__value *v = &job->values[i];
        if (p->type == PT_TYPE_U64_LIST) {
            /* Lists can be huge (the input numbers): give their length. */
            pt_json_key(j, p->name);
            pt_json_object_begin(j);
            pt_json_key(j, "count");
            pt_json_uint(j, job->given[i] ? v->list.n : 0);
            pt_json_object_end(j);
            continue;
        }
        pt_json_key(j, p->name);
        if (!job->given[i] && !p->def) {
            pt_json_null(j);
            continue;
        }
        switch (p->type) {
        case PT_TYPE_BOOL:
            pt_json_bool(j, v->b);
            break;
        case PT_TYPE_INT:
            pt_json_int(j, v->i);
            break;
        case PT_TYPE_U64:
            pt_json_uint(j, v->u);
            break;
        case PT_TYPE_DOUBLE:
            pt_json_double(j, v->d);
            break;
        default:
            pt_json_str(j, v->s);
            break;
        }
    }
    return pt_json_error(j);
}

double pt_job_phase_seconds(const pt_job *job, unsigned phase)
{
    return phase < PT__MAX_PHASES ? job->phase_seconds[phase] : 0.0;
}

void pt_job_record_phase(pt_job *job, unsigned phase, double seconds)
{
    if (phase < PT__MAX_PHASES)
        job->phase_seconds[phase] += seconds;
}

/* --- sizes, progress ----------------------------------------------------- */

size_t pt__size_mul(size_t a, size_t b)
{
    size_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

uint64_t pt__phys_mem(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    return pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize : (uint64_t)1 << 32;
}

void *pt__job_alloc_sized(pt_job *job, size_t bytes, const char *what, char *err, size_t errlen)
{
    uint64_t mem = pt__phys_mem();
    if (bytes == SIZE_MAX || bytes > mem) {
        if (bytes == SIZE_MAX)
            pt__errf(err, errlen, PT_ENOMEM, "%s: %s needs more than 2^64 bytes of memory",
                     job->desc->name, what);
        else
            pt__errf(err, errlen, PT_ENOMEM,
                     "%s: %s needs %.1f GiB, more than this machine's %.1f GiB of memory",
                     job->desc->name, what, (double)bytes / (1u << 30), (double)mem / (1u << 30));
        return NULL;
    }
    void *p = pt_job_alloc(job, bytes);
    if (!p)
        pt__errf(err, errlen, PT_ENOMEM, "%s: %s: cannot allocate %.1f MiB", job->desc->name, what,
                 (double)bytes / (1u << 20));
    return p;
}

void pt_job_progress(const pt_job *job, uint64_t *done, uint64_t *total)
{
    *done = atomic_load_explicit(&job->progress_done, memory_order_relaxed);
    *total = atomic_load_explicit(&job->progress_total, memory_order_relaxed);
    if (*done > *total)
        *done = *total;
}

void pt_job_progress_total(pt_job *job, uint64_t total)
{
    atomic_store_explicit(&job->progress_total, total, memory_order_relaxed);
}

void pt_job_progress_add(pt_job *job, uint64_t units)
{
    atomic_fetch_add_explicit(&job->progress_done, units, memory_order_relaxed);
}

int pt_job_save(const pt_job *job, char *err, size_t errlen)
{
    return job->desc->save ? job->desc->save(job, err, errlen) : 0;
}

/* --- hook wrappers ------------------------------------------------------- */

int pt_job_verify(const pt_job *job, const pt_job *ref, char *err, size_t errlen)
{
    if (!job->desc->verify)
        return pt__errf(err, errlen, PT_ENOSYS, "%s: no reference check", job->desc->name);
    return job->desc->verify(job, ref, err, errlen);
}

int pt_job_write_text(const pt_job *job, unsigned flags, pt_write_fn write, void *ctx)
{
    if (!job->desc->write_text)
        return PT_ENOSYS;
    return job->desc->write_text(job, flags, write, ctx);
}

int pt_job_write_json(const pt_job *job, pt_json *j)
{
    if (!job->desc->write_json)
        return PT_ENOSYS;
    return job->desc->write_json(job, j);
}

double pt_job_throughput(const pt_job *job, double seconds, const char **unit)
{
    if (!job->desc->throughput || seconds <= 0) {
        *unit = "";
        return 0.0;
    }
    return job->desc->throughput(job, seconds, unit);
}

const char *pt_type_name(pt_type t)
{
    switch (t) {
    case PT_TYPE_BOOL:
        return "bool";
    case PT_TYPE_INT:
        return "int";
    case PT_TYPE_U64:
        return "u64";
    case PT_TYPE_DOUBLE:
        return "double";
    case PT_TYPE_STRING:
        return "string";
    case PT_TYPE_CHOICE:
        return "choice";
    case PT_TYPE_U64_LIST:
        return "u64 list";
    }
    return "?";
}

void pt_job_json(pt_json *j, const pt_job *job)
{
    pt_json_key(j, "job");
    pt_json_str(j, job->desc->name);
    pt_json_key(j, "params");
    pt_json_object_begin(j);
    pt_job_params_json(job, j);
    pt_json_object_end(j);
}

void pt_run_json(pt_json *j, const pt_job *job, pt_backend_id requested, const pt_run_info *info)
{
    pt_job_json(j, job);
    pt_json_key(j, "requested");
    pt_json_str(j, pt_backend_name(requested));
    pt_json_key(j, "backend");
    pt_json_str(j, pt_backend_name(info->backend));
    pt_json_key(j, "note");
    pt_json_str(j, info->note[0] ? info->note : NULL);
    pt_json_key(j, "threads");
    pt_json_uint(j, info->threads);
    pt_json_key(j, "device");
    pt_json_str(j, info->device[0] ? info->device : NULL);
    pt_json_key(j, "platform");
    pt_json_str(j, info->platform[0] ? info->platform : NULL);
    pt_json_key(j, "driver");
    pt_json_str(j, info->driver[0] ? info->driver : NULL);
    pt_json_key(j, "seconds");
    pt_json_double(j, info->seconds);
    pt_json_key(j, "prepare_seconds");
    pt_json_double(j, info->prepare_seconds);
    pt_json_key(j, "kernel_cache");
    pt_json_str(j, info->cache == 1 ? "hit" : info->cache == 0 ? "miss" : NULL);
    const char *unit = NULL;
    double tp = pt_job_throughput(job, info->seconds, &unit);
    pt_json_key(j, "throughput");
    pt_json_object_begin(j);
    pt_json_key(j, "value");
    pt_json_double(j, tp);
    pt_json_key(j, "unit");
    pt_json_str(j, unit);
    pt_json_object_end(j);
}

void pt_job_desc_json(pt_json *j, const pt_job_desc *d,
                      void (*param_extra)(pt_json *j, const pt_param *p))
{
    pt_json_object_begin(j);
    pt_json_key(j, "name");
    pt_json_str(j, d->name);
    pt_json_key(j, "summary");
    pt_json_str(j, d->summary);
    pt_json_key(j, "opencl");
    pt_json_bool(j, d->kernel != NULL && d->cl_run != NULL);
    pt_json_key(j, "params");
    pt_json_array_begin(j);
    for (size_t i = 0; i < d->nparams; i++) {
        const pt_param *p = &d->params[i];
        pt_json_object_begin(j);
        pt_json_key(j, "name");
        pt_json_str(j, p->name);
        pt_json_key(j, "type");
        pt_json_str(j, pt_type_name(p->type));
        pt_json_key(j, "default");
        pt_json_str(j, p->def);
        pt_json_key(j, "help");
        pt_json_str(j, p->help);
        if (p->choices) {
            pt_json_key(j, "choices");
            pt_json_array_begin(j);
            for (const char *c = p->choices; *c;) {
                const char *bar = strchr(c, '|');
                size_t len = bar ? (size_t)(bar - c) : strlen(c);
                pt_json_strn(j, c, len);
                c += len + (bar ? 1 : 0);
            }
            pt_json_array_end(j);
        }
        if (p->min < p->max) {
            pt_json_key(j, "min");
            pt_json_double(j, p->min);
            pt_json_key(j, "max");
            pt_json_double(j, p->max);
        }
        pt_json_key(j, "positional");
        pt_json_bool(j, (p->flags & PT_PARAM_POSITIONAL) != 0);
        if (param_extra)
            param_extra(j, p);
        pt_json_object_end(j);
    }
    pt_json_array_end(j);
    pt_json_object_end(j);
}

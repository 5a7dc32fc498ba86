/* serve_routes.c - the server's endpoints (except /fanout) and its job slots.
 *
 * Every job run, whatever the endpoint, is a pt__job_task. The request
 * becomes a pt_params of the same text values the CLI parses, so the
 * library's own checks and messages apply: /is_prime's short URL list on the
 * loop thread, /run's JSON body (up to max_body_bytes) on the pool thread.
 * The pool thread then creates the job, runs it with pt_run() and writes the
 * answer's JSON; the loop thread completes the request. At most max_jobs tasks
 * run at once; up to max_queued_jobs wait in FIFO order, beyond that the
 * request is answered 503. No endpoint has code for a particular job: /run
 * reads the descriptors, and /is_prime only names isprime's parameters.
 *
 * Parameters of type PT_TYPE_STRING name files on the server (--input,
 * --output): they are refused over HTTP (403), and pt_job_save() is never
 * called, so a request can neither read nor write a server-side path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_int.h"

static const struct {
    const char *label; /* the route pattern, for metrics */
    const char *path;  /* exact path, or prefix when it ends in '/' */
    const char *allow;
} routes[PT__ROUTE_COUNT] = {
    [PT__ROUTE_HEALTHZ] = {"/healthz", "/healthz", "GET, HEAD"},
    [PT__ROUTE_METRICS] = {"/metrics", "/metrics", "GET, HEAD"},
    [PT__ROUTE_JOBS] = {"/jobs", "/jobs", "GET, HEAD"},
    [PT__ROUTE_BACKENDS] = {"/backends", "/backends", "GET, HEAD"},
    [PT__ROUTE_ISPRIME] = {"/is_prime/{numbers}", "/is_prime/", "GET, HEAD"},
    [PT__ROUTE_RUN] = {"/run/{job}", "/run/", "POST"},
    [PT__ROUTE_FANOUT] = {"/fanout", "/fanout", "POST"},
    [PT__ROUTE_OTHER] = {"other", NULL, NULL},
    [PT__ROUTE_INVALID] = {"invalid", NULL, NULL},
};

const char *pt__route_label(pt__route r)
{
    return (unsigned)r < PT__ROUTE_COUNT ? routes[r].label : "?";
}

pt__route pt__route_match(const char *path, const char **allow)
{
    for (int i = 0; i < PT__ROUTE_COUNT; i++) {
        const char *p = routes[i].path;
        if (!p)
            continue;
        size_t n = strlen(p);
        bool match = p[n - 1] == '/' ? strncmp(path, p, n) == 0 : strcmp(path, p) == 0;
        /* "/is_prime" without the slash: the same route, an empty list. */
        if (!match && p[n - 1] == '/' && strncmp(path, p, n - 1) == 0 && path[n - 1] == '\0')
            match = true;
        if (match) {
            *allow = routes[i].allow;
            return (pt__route)i;
        }
    }
    *allow = NULL;
    return PT__ROUTE_OTHER;
}

/* --- query strings ------------------------------------------------------ */

typedef struct qparam {
    char key[32];
    char value[256];
} qparam;

/* Splits the query into at most max pairs: the count, or -1 (bad encoding or
 * too long/many; a message goes into err). */
static int query_parse(const char *q, qparam *out, int max, char *err, size_t errlen)
{
    int n = 0;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len) {
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            if (n == max) {
                snprintf(err, errlen, "too many query parameters");
                return -1;
            }
            if (io_pct_decode_strict(q, klen, true, out[n].key, sizeof(out[n].key)) ||
                io_pct_decode_strict(eq ? eq + 1 : q + len, eq ? len - klen - 1 : 0, true,
                                     out[n].value, sizeof(out[n].value))) {
                snprintf(err, errlen, "bad query parameter '%.*s' (bad encoding or too long)",
                         (int)(klen > 32 ? 32 : klen), q);
                return -1;
            }
            n++;
        }
        q += len + (amp ? 1 : 0);
    }
    return n;
}

static int parse_bool_text(const char *v, bool *out)
{
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !*v)
        *out = true;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
        *out = false;
    else
        return -1;
    return 0;
}

#define BACKEND_CHOICES "serial, threads, processes, openmp, opencl, auto"

/* --- job slots ----------------------------------------------------------- */

void pt__job_task_free(pt__job_task *t)
{
    if (!t)
        return;
    pt_params_destroy(t->params);
    pt__sbuf_free(&t->body);
    pt__sbuf_free(&t->json);
    free(t);
}

static void task_error(pt__job_task *t, int status, const char *msg)
{
    t->status = status;
    t->body.len = 0;
    pt__json_error_body(&t->body, status, msg);
}

/* Writes the answer of a finished run (pool thread). */
static int write_answer(pt__job_task *t, pt_job *job, const pt_run_info *info)
{
    pt_json *j;
    if (pt_json_create(&j, pt__sbuf_write, &t->body, 0))
        return PT_ENOMEM;
    pt_json_object_begin(j);
    if (t->isprime_shape) {
        /* {"count","prime","composite","results":[{"n","prime"}],...} */
        pt_job_write_json(job, j);
        pt_json_key(j, "method");
        pt_json_str(j, pt_job_str(job, "method"));
        pt_json_key(j, "backend");
        pt_json_str(j, pt_backend_name(info->backend));
        pt_json_key(j, "note");
        pt_json_str(j, info->note[0] ? info->note : NULL);
        pt_json_key(j, "seconds");
        pt_json_double(j, info->seconds);
    } else {
        /* The CLI's `run --json` shape. */
        pt_json_key(j, "ptool");
        pt_json_str(j, pt_version());
        pt_json_key(j, "isa");
        pt_json_str(j, pt_cpu_isa());
        pt_run_json(j, job, t->ro.backend, info);
        pt_json_key(j, "result");
        pt_json_object_begin(j);
        pt_job_write_json(job, j);
        pt_json_object_end(j);
    }
    pt_json_object_end(j);
    pt_json_finish(j);
    int rc = pt_json_error(j);
    pt_json_destroy(j);
    return rc;
}

static int task_read_body(pt__job_task *t, pt__reqerr *e);

/* Pool thread: create, run, answer. */
static void job_work(pt_io_work *w, void *arg)
{
    (void)w;
    pt__job_task *t = arg;
    pt_runtime *rt = t->srv->rt;
    if (t->json.p) { /* POST /run/JOB: its parameters come in JSON */
        pt__reqerr e = {0};
        if (task_read_body(t, &e)) {
            task_error(t, e.status, e.msg);
            return;
        }
    }
    char err[PT_ERRBUF_SIZE];
    pt_job *job = NULL;
    unsigned flags = 0;
    if (t->ro.backend == PT_BACKEND_PROCESSES && pt_runtime_worker_pids(rt, NULL, 0))
        flags = PT_JOB_SHARED;
    int rc = pt_job_create(&job, rt, t->desc, t->params, flags, err, sizeof(err));
    if (rc) {
        /* The parameters each parsed, but the job refuses them together
         * (no input, too large to allocate): 422; a read error: 500. */
        task_error(t, rc == PT_EIO ? 500 : 422, err);
        return;
    }
    pt_run_info info;
    rc = pt_run(rt, job, &t->ro, &info, err, sizeof(err));
    if (rc) {
        task_error(t, rc == PT_EUNAVAIL ? 503 : 500, err);
        t->ran_on = info.backend;
        pt_job_destroy(job);
        return;
    }
    t->ran = true;
    t->ran_on = info.backend;
    t->seconds = info.seconds;
    t->status = 200;
    if (write_answer(t, job, &info))
        task_error(t, 500, "out of memory writing the answer");
    pt_job_destroy(job);
}

static void job_start_next(pt_server *s);

/* Loop thread: the run is over. */
static void job_done(pt_io_work *w, void *arg, int status)
{
    (void)w;
    pt__job_task *t = arg;
    pt_server *s = t->srv;
    s->jobs_running--;
    if (status) /* the bridge closed before it ran: cannot happen while running */
        task_error(t, 503, "server stopping");
    pt__metrics_job(&s->metrics, t->desc, t->ran_on, t->seconds, t->ran);
    t->finish(t);
    job_start_next(s);
    pt__server_pending_done(s);
}

static int job_start(pt__job_task *t)
{
    pt_server *s = t->srv;
    int rc = pt__server_work(s, job_work, job_done, t);
    if (rc == 0)
        s->jobs_running++;
    return rc;
}

static void job_start_next(pt_server *s)
{
    while (s->wait_head && s->jobs_running < s->o.max_jobs) {
        pt__job_task *t = s->wait_head;
        s->wait_head = t->next_wait;
        if (!s->wait_head)
            s->wait_tail = NULL;
        s->jobs_waiting--;
        if (!t->req->conn) { /* its connection has gone: do not run it */
            task_error(t, 503, "the client went away");
            t->finish(t);
        } else if (job_start(t) != 0) {
            task_error(t, 503, "cannot queue the job");
            t->finish(t);
        }
        pt__server_pending_done(s); /* the wait itself */
    }
}

int pt__job_submit(pt__job_task *t)
{
    pt_server *s = t->srv;
    t->queued_ns = uv_hrtime();
    if (s->jobs_running < s->o.max_jobs && !s->wait_head)
        return job_start(t);
    if (s->jobs_waiting >= s->o.max_queued_jobs)
        return PT_EBUSY;
    t->next_wait = NULL;
    if (s->wait_tail)
        s->wait_tail->next_wait = t;
    else
        s->wait_head = t;
    s->wait_tail = t;
    s->jobs_waiting++;
    pt__server_pending_add(s);
    return 0;
}

/* finish() of a task that answers its request directly (/is_prime, /run). */
static void finish_request(pt__job_task *t)
{
    pt__req *r = t->req;
    pt__req_complete(r, t->status, "application/json", &t->body);
    pt__job_task_free(t);
}

static pt__job_task *task_new(pt__req *r, const pt_job_desc *desc)
{
    pt__job_task *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->srv = r->srv;
    t->req = r;
    t->desc = desc;
    t->ro.backend = r->srv->o.backend;
    t->ro.threads = r->srv->o.threads;
    t->finish = finish_request;
    if (pt_params_create(&t->params, desc)) {
        free(t);
        return NULL;
    }
    return t;
}

/* Queues t for request r and marks r pending, or answers r with the error. */
static void submit_or_fail(pt__req *r, pt__job_task *t)
{
    int rc = pt__job_submit(t);
    if (rc == 0) {
        r->pending = true;
        return;
    }
    pt__job_task_free(t);
    if (rc == PT_EBUSY) {
        snprintf(r->extra, sizeof(r->extra), "Retry-After: 1\r\n");
        pt__req_error(r, 503, "too many jobs queued (limit %u): try again later",
                      r->srv->o.max_queued_jobs);
    } else {
        pt__req_error(r, 503, "cannot queue the job: %s", pt_strerror(rc));
    }
}

/* --- run options shared by /is_prime and /run ----------------------------- */

int pt__reqerr_set(pt__reqerr *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->status = status;
    return -1;
}

/* Sets ro's backend from text: 0, or -1 with a 400 in e. */
static int set_backend(const char *v, pt_run_options *ro, pt__reqerr *e)
{
    if (pt_backend_parse(v, &ro->backend) != 0)
        return pt__reqerr_set(e, 400, "unknown backend '%.64s' (choose from " BACKEND_CHOICES ")",
                              v);
    return 0;
}

static int set_threads(const pt_server *s, long long v, pt_run_options *ro, pt__reqerr *e)
{
    if (v < 1 || v > (long long)s->max_threads)
        return pt__reqerr_set(e, 400,
                              "threads: %lld is out of range [1, %u] (the server's "
                              "--threads)",
                              v, s->max_threads);
    ro->threads = (unsigned)v;
    return 0;
}

/* --- GET /is_prime/N,N,... ------------------------------------------------ */

static void h_isprime(pt__req *r, const pt__http_in *in)
{
    const pt_job_desc *desc = pt_job_find("isprime");
    if (!desc) {
        pt__req_error(r, 404, "this build has no isprime job");
        return;
    }
    const char *list = in->path_len > 10 ? in->path + 10 : ""; /* after "/is_prime/" */
    if (!*list) {
        pt__req_error(r, 400, "is_prime: no numbers (GET /is_prime/N[,N...])");
        return;
    }
    /* Check every element first, so the message names the bad one. The
     * list is at most max_header_bytes long: cheap enough for the loop. */
    size_t idx = 0;
    for (const char *s = list;; idx++) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        uint64_t x;
        const char *why = NULL;
        if (pt_parse_u64(s, len, &x, &why) != 0) {
            pt__req_error(r, 400,
                          "is_prime: number %zu ('%.*s'): %s (expected an unsigned 64-bit "
                          "integer, 0..18446744073709551615)",
                          idx + 1, (int)(len > 40 ? 40 : len), s, why);
            return;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    pt__job_task *t = task_new(r, desc);
    if (!t) {
        pt__req_error(r, 503, "out of memory");
        return;
    }
    t->isprime_shape = true;
    pt__reqerr e = {.status = 400};
    if (pt_params_set(t->params, "numbers", list, e.msg, sizeof(e.msg)) != 0)
        goto bad;
    qparam q[8];
    int nq = query_parse(in->query, q, 8, e.msg, sizeof(e.msg));
    if (nq < 0)
        goto bad;
    for (int i = 0; i < nq; i++) {
        const char *k = q[i].key, *v = q[i].value;
        if (!strcmp(k, "backend")) {
            if (set_backend(v, &t->ro, &e))
                goto bad;
        } else if (!strcmp(k, "method")) {
            if (pt_params_set(t->params, "method", v, e.msg, sizeof(e.msg)) != 0)
                goto bad;
        } else if (!strcmp(k, "strict")) {
            if (parse_bool_text(v, &t->ro.strict)) {
                pt__reqerr_set(&e, 400, "strict: '%.64s' is not a boolean (1/0, true/false)", v);
                goto bad;
            }
        } else if (!strcmp(k, "threads")) {
            char *end;
            long long x = strtoll(v, &end, 10);
            if (!*v || *end) {
                pt__reqerr_set(&e, 400, "threads: '%.64s' is not an integer", v);
                goto bad;
            }
            if (set_threads(r->srv, x, &t->ro, &e))
                goto bad;
        } else {
            pt__reqerr_set(&e, 400,
                           "unknown query parameter '%s' (allowed: backend, method, strict, "
                           "threads)",
                           k);
            goto bad;
        }
    }
    submit_or_fail(r, t);
    return;
bad:
    pt__req_error_msg(r, e.status, e.msg);
    pt__job_task_free(t);
}

/* --- POST /run/JOB: JSON parameters (read on the pool thread) ---------------- */

/* The text the CLI would parse for one JSON value of parameter p: 0, or -1
 * with a 400 in e. */
static int json_scalar_text(const pt_param *p, json_t *v, char *buf, size_t len, pt__reqerr *e)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (json_string_length(v) >= len || strlen(json_string_value(v)) != json_string_length(v))
            return pt__reqerr_set(e, 400, "parameter '%s': string too long or contains NUL",
                                  p->name);
        snprintf(buf, len, "%s", json_string_value(v));
        return 0;
    case JSON_INTEGER:
        if (p->type == PT_TYPE_BOOL || p->type == PT_TYPE_CHOICE)
            break;
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    case JSON_REAL:
        if (p->type != PT_TYPE_DOUBLE)
            return pt__reqerr_set(e, 400, "parameter '%s': %.17g is not an integer", p->name,
                                  json_real_value(v));
        snprintf(buf, len, "%.17g", json_real_value(v));
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        if (p->type != PT_TYPE_BOOL)
            break;
        snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
        return 0;
    default:
        break;
    }
    static const char *const want[] = {
        [PT_TYPE_BOOL] = "true or false",
        [PT_TYPE_INT] = "an integer",
        [PT_TYPE_U64] = "an unsigned integer (as a string above 2^63-1)",
        [PT_TYPE_DOUBLE] = "a number",
        [PT_TYPE_STRING] = "a string",
        [PT_TYPE_CHOICE] = "a string",
        [PT_TYPE_U64_LIST] = "an unsigned integer",
    };
    return pt__reqerr_set(e, 400, "parameter '%s' must be %s", p->name, want[p->type]);
}

/* Fills t->params and t->ro from a JSON object: 0, or -1 with the first bad
 * member's error in e. Keys "backend", "threads" and "strict" are run
 * options; every other key must be a parameter of the job. Any thread. */
static int params_from_json(pt__job_task *t, json_t *obj, pt__reqerr *e)
{
    const char *key;
    json_t *v;
    char text[4096];
    json_object_foreach(obj, key, v)
    {
        if (!strcmp(key, "backend")) {
            if (!json_is_string(v))
                return pt__reqerr_set(e, 400, "backend must be a string (" BACKEND_CHOICES ")");
            if (set_backend(json_string_value(v), &t->ro, e))
                return -1;
            continue;
        }
        if (!strcmp(key, "threads")) {
            if (!json_is_integer(v))
                return pt__reqerr_set(e, 400, "threads must be an integer");
            if (set_threads(t->srv, json_integer_value(v), &t->ro, e))
                return -1;
            continue;
        }
        if (!strcmp(key, "strict")) {
            if (!json_is_boolean(v))
                return pt__reqerr_set(e, 400, "strict must be true or false");
            t->ro.strict = json_is_true(v);
            continue;
        }
        const pt_param *p = pt_param_find(t->desc, key);
        if (!p)
            return pt__reqerr_set(e, 400, "unknown parameter '%.64s' for job %s (see GET /jobs)",
                                  key, t->desc->name);
        if (p->type == PT_TYPE_STRING)
            return pt__reqerr_set(e, 403,
                                  "parameter '%s' of job %s names a file on the server: not "
                                  "accepted over HTTP",
                                  p->name, t->desc->name);
        if (json_is_null(v))
            continue; /* the default */
        if (p->type == PT_TYPE_U64_LIST && json_is_array(v)) {
            size_t i;
            json_t *el;
            if (json_array_size(v) == 0)
                return pt__reqerr_set(e, 400, "parameter '%s' is an empty list", p->name);
            json_array_foreach(v, i, el)
            {
                if (json_scalar_text(p, el, text, sizeof(text), e))
                    return -1;
                if (pt_params_set(t->params, key, text, e->msg, sizeof(e->msg)) != 0) {
                    e->status = 400;
                    return -1;
                }
            }
            continue;
        }
        if (json_scalar_text(p, v, text, sizeof(text), e))
            return -1;
        if (pt_params_set(t->params, key, text, e->msg, sizeof(e->msg)) != 0) {
            e->status = 400;
            return -1;
        }
    }
    return 0;
}

/* The pool's half of POST /run/JOB: the body into parameters. */
static int task_read_body(pt__job_task *t, pt__reqerr *e)
{
    json_error_t jerr;
    json_t *root = json_loadb(t->json.p, t->json.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return pt__reqerr_set(e, 400, "bad JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                              jerr.column);
    int rc = 0;
    if (!json_is_object(root))
        rc = pt__reqerr_set(e, 400,
                            "the body must be a JSON object of parameters, e.g. "
                            "{\"numbers\": [97, 561]}");
    else
        rc = params_from_json(t, root, e);
    json_decref(root);
    pt__sbuf_free(&t->json);
    return rc;
}

static void h_run(pt__req *r, const pt__http_in *in)
{
    const char *name = in->path_len > 5 ? in->path + 5 : ""; /* after "/run/" */
    const pt_job_desc *desc = *name ? pt_job_find(name) : NULL;
    if (!desc) {
        pt__req_error(r, 404, "unknown job '%.64s' (POST /run/JOB; see GET /jobs)", name);
        return;
    }
    if (*in->query) {
        pt__req_error(r, 400, "POST /run/%s takes its parameters in the JSON body, not the query",
                      desc->name);
        return;
    }
    pt__job_task *t = task_new(r, desc);
    if (!t || pt__sbuf_add(&t->json, in->body, in->body_len)) {
        pt__job_task_free(t);
        pt__req_error(r, 503, "out of memory");
        return;
    }
    submit_or_fail(r, t);
}

int pt__job_task_from_json(pt__req *r, json_t *spec, pt__job_task **out, pt__reqerr *e)
{
    *out = NULL;
    json_t *jname = json_object_get(spec, "job");
    if (!json_is_string(jname))
        return pt__reqerr_set(e, 400, "fanout: \"job\" must be a job name (see GET /jobs)");
    const pt_job_desc *desc = pt_job_find(json_string_value(jname));
    if (!desc)
        return pt__reqerr_set(e, 400, "fanout: unknown job '%.64s' (see GET /jobs)",
                              json_string_value(jname));
    json_t *params = json_object_get(spec, "params");
    if (params && !json_is_object(params) && !json_is_null(params))
        return pt__reqerr_set(e, 400, "fanout: \"params\" must be an object of job parameters");
    pt__job_task *t = task_new(r, desc);
    if (!t)
        return pt__reqerr_set(e, 503, "out of memory");
    if (params && json_is_object(params) && params_from_json(t, params, e)) {
        pt__job_task_free(t);
        return -1;
    }
    /* Run options sit beside "job". */
    json_t *opts = json_object();
    const char *k[] = {"backend", "threads", "strict"};
    for (size_t i = 0; opts && i < 3; i++) {
        json_t *v = json_object_get(spec, k[i]);
        if (v)
            json_object_set(opts, k[i], v);
    }
    int rc = opts ? params_from_json(t, opts, e) : pt__reqerr_set(e, 503, "out of memory");
    json_decref(opts);
    if (rc) {
        pt__job_task_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* --- GET /jobs ------------------------------------------------------------- */

/* Whether POST /run/JOB accepts the parameter: file names are refused. */
static void param_http(pt_json *j, const pt_param *p)
{
    pt_json_key(j, "http");
    pt_json_bool(j, p->type != PT_TYPE_STRING);
}

static void h_jobs(pt__req *r)
{
    pt__sbuf b = {0};
    pt_json *j;
    if (pt_json_create(&j, pt__sbuf_write, &b, 0)) {
        pt__req_error(r, 503, "out of memory");
        return;
    }
    size_t n;
    const pt_job_desc *const *all = pt_job_catalog(&n);
    pt_json_object_begin(j);
    pt_json_key(j, "jobs");
    pt_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        pt_job_desc_json(j, all[i], param_http);
    pt_json_array_end(j);
    pt_json_object_end(j);
    pt_json_finish(j);
    int rc = pt_json_error(j);
    pt_json_destroy(j);
    if (rc) {
        pt__sbuf_free(&b);
        pt__req_error(r, 503, "out of memory");
        return;
    }
    pt__req_complete(r, 200, "application/json", &b);
}

/* --- GET /backends (on the pool: probing may start OpenCL) --------------- */

typedef struct backends_task {
    pt__req *req;
    pt__sbuf body;
} backends_task;

static void backends_work(pt_io_work *w, void *arg)
{
    (void)w;
    backends_task *bt = arg;
    pt_json *j;
    if (pt_json_create(&j, pt__sbuf_write, &bt->body, 0))
        return;
    pt_json_object_begin(j);
    pt_json_key(j, "default");
    pt_json_str(j, pt_backend_name(bt->req->srv->o.backend));
    pt_backends_json(j, bt->req->srv->rt);
    pt_json_object_end(j);
    pt_json_finish(j);
    if (pt_json_error(j))
        bt->body.len = 0;
    pt_json_destroy(j);
}

static void backends_done(pt_io_work *w, void *arg, int status)
{
    (void)w;
    backends_task *bt = arg;
    pt_server *s = bt->req->srv;
    if (status || !bt->body.len)
        pt__req_error(bt->req, 500, "cannot list the backends");
    else
        pt__req_complete(bt->req, 200, "application/json", &bt->body);
    pt__sbuf_free(&bt->body);
    free(bt);
    pt__server_pending_done(s);
}

static void h_backends(pt__req *r)
{
    backends_task *bt = calloc(1, sizeof(*bt));
    if (!bt) {
        pt__req_error(r, 503, "out of memory");
        return;
    }
    bt->req = r;
    int rc = pt__server_work(r->srv, backends_work, backends_done, bt);
    if (rc) {
        free(bt);
        pt__req_error(r, 503, "cannot queue the work: %s", pt_strerror(rc));
        return;
    }
    r->pending = true;
}

/* --- the rest ------------------------------------------------------------- */

static void h_healthz(pt__req *r)
{
    pt__sbuf b = {0};
    bool up = r->srv->state == PT__RUNNING;
    pt__sbuf_adds(&b, up ? "{\"status\":\"ok\"}\n" : "{\"status\":\"stopping\"}\n");
    pt__req_complete(r, up ? 200 : 503, "application/json", &b);
}

static void h_metrics(pt__req *r)
{
    pt__sbuf b = {0};
    if (pt__metrics_render(r->srv, &b)) {
        pt__sbuf_free(&b);
        pt__req_error(r, 503, "out of memory");
        return;
    }
    pt__req_complete(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

void pt__route_dispatch(pt__req *r, const pt__http_in *in)
{
    bool has_query = *in->query != '\0';
    switch (r->route) {
    case PT__ROUTE_HEALTHZ:
    case PT__ROUTE_METRICS:
    case PT__ROUTE_JOBS:
    case PT__ROUTE_BACKENDS:
        if (has_query) {
            pt__req_error(r, 400, "%s takes no query parameters", pt__route_label(r->route));
            return;
        }
        if (r->route == PT__ROUTE_HEALTHZ)
            h_healthz(r);
        else if (r->route == PT__ROUTE_METRICS)
            h_metrics(r);
        else if (r->route == PT__ROUTE_JOBS)
            h_jobs(r);
        else
            h_backends(r);
        return;
    case PT__ROUTE_ISPRIME:
        h_isprime(r, in);
        return;
    case PT__ROUTE_RUN:
        h_run(r, in);
        return;
    case PT__ROUTE_FANOUT:
        pt__fanout_start(r, in);
        return;
    default:
        pt__req_error(r, 404, "no such endpoint");
        return;
    }
}

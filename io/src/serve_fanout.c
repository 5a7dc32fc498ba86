/* serve_fanout.c - POST /fanout: the course's Flask thread-pool service
 * (read a file, query an API, query a database, concurrently) on one loop.
 *
 * Body: {"file": NAME, "url": URL, "job": NAME, "params": {...}, "backend",
 * "threads", "strict"}, any non-empty subset of the three legs. The body is
 * read and every leg checked on a pool thread (JSON parsing is CPU work);
 * then, back on the loop, all legs start at once and the answer goes out when the last one ends, so
 * its latency is the slowest leg's, not the sum: file   uv_fs open/read/close (libuv's threadpool)
 * of NAME inside the server's files_dir: a plain name (no '/', not starting with '.'), opened with
 * O_NOFOLLOW; at most max_file_bytes are read; fetch  the embedder's fetch function (options.fetch:
 * io/'s fetcher in the CLI); URL must start with one of options.upstreams; job    a catalog job
 * through the server's job slots, as POST /run/JOB. The answer has one object per leg ("ok",
 * "seconds" of wall time from the request's start, and the leg's result or error), the total
 * "seconds", and the legs' sum and maximum for comparison. Status: 200 when every leg succeeded,
 * else the first failing leg's (file 404/403/500, fetch 502, job its /run status).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_int.h"

typedef struct fanout {
    pt__req *req;
    pt_server *srv;
    pt__sbuf json;  /* the request body, until parsed */
    pt__reqerr err; /* what the parse found wrong (status 0: nothing) */
    unsigned legs;  /* legs still running, +1 while starting */
    uint64_t t0;    /* uv_hrtime at the start */

    bool want_file;
    char *file_name, *file_path;
    uv_fs_t fs;
    uv_file fd;
    pt__sbuf file_data;
    int file_err; /* libuv error, 0 = fine */
    bool file_truncated;
    uint64_t file_t1;

    bool want_fetch;
    char *url;
    int fetch_err;
    long fetch_status;
    pt__sbuf fetch_data;
    bool fetch_truncated;
    uint64_t fetch_t1;

    bool want_job;
    const char *job_name;
    pt__job_task *task; /* built by the parse, until submitted */
    int job_status;
    pt__sbuf job_body;
    uint64_t job_t1;
} fanout;

static void fanout_free(fanout *f)
{
    free(f->file_name);
    free(f->file_path);
    free(f->url);
    pt__sbuf_free(&f->file_data);
    pt__sbuf_free(&f->fetch_data);
    pt__sbuf_free(&f->job_body);
    pt__sbuf_free(&f->json);
    pt__job_task_free(f->task);
    free(f);
}

static double secs(uint64_t t0, uint64_t t1)
{
    return t1 > t0 ? (double)(t1 - t0) * 1e-9 : 0.0;
}

static int file_status(int err)
{
    switch (err) {
    case UV_ENOENT:
    case UV_ENOTDIR:
        return 404;
    case UV_EACCES:
    case UV_EPERM:
    case UV_ELOOP: /* a symbolic link: not followed */
    case UV_EISDIR:
        return 403;
    default:
        return 500;
    }
}

static void fanout_answer(fanout *f)
{
    uint64_t now = uv_hrtime();
    pt__sbuf b = {0};
    pt_json *j;
    int status = 200;
    if (pt_json_create(&j, pt__sbuf_write, &b, 0)) {
        pt__req_error(f->req, 503, "out of memory");
        fanout_free(f);
        return;
    }
    double legs[3] = {f->want_file ? secs(f->t0, f->file_t1) : 0,
                      f->want_fetch ? secs(f->t0, f->fetch_t1) : 0,
                      f->want_job ? secs(f->t0, f->job_t1) : 0};
    double sum = 0, max = 0;
    for (int i = 0; i < 3; i++) {
        sum += legs[i];
        max = legs[i] > max ? legs[i] : max;
    }
    pt_json_object_begin(j);
    pt_json_key(j, "seconds");
    pt_json_double(j, secs(f->t0, now));
    pt_json_key(j, "legs_seconds_sum");
    pt_json_double(j, sum);
    pt_json_key(j, "legs_seconds_max");
    pt_json_double(j, max);
    if (f->want_file) {
        double s = legs[0];
        pt_json_key(j, "file");
        pt_json_object_begin(j);
        pt_json_key(j, "ok");
        pt_json_bool(j, f->file_err == 0);
        pt_json_key(j, "name");
        pt_json_str(j, f->file_name);
        pt_json_key(j, "seconds");
        pt_json_double(j, s);
        if (f->file_err) {
            int st = file_status(f->file_err);
            if (status == 200)
                status = st;
            pt_json_key(j, "status");
            pt_json_int(j, st);
            pt_json_key(j, "error");
            pt_json_str(j, uv_strerror(f->file_err));
        } else {
            pt_json_key(j, "bytes");
            pt_json_uint(j, f->file_data.len);
            pt_json_key(j, "truncated");
            pt_json_bool(j, f->file_truncated);
            pt_json_key(j, "text");
            pt_json_strn(j, f->file_data.p ? f->file_data.p : "", f->file_data.len);
        }
        pt_json_object_end(j);
    }
    if (f->want_fetch) {
        double s = legs[1];
        bool ok = f->fetch_err == 0 && f->fetch_status >= 200 && f->fetch_status < 300;
        if (!ok && status == 200)
            status = 502;
        pt_json_key(j, "fetch");
        pt_json_object_begin(j);
        pt_json_key(j, "ok");
        pt_json_bool(j, ok);
        pt_json_key(j, "url");
        pt_json_str(j, f->url);
        pt_json_key(j, "seconds");
        pt_json_double(j, s);
        if (f->fetch_err) {
            pt_json_key(j, "error");
            pt_json_str(j, pt_strerror(f->fetch_err));
        } else {
            pt_json_key(j, "status");
            pt_json_int(j, f->fetch_status);
            pt_json_key(j, "bytes");
            pt_json_uint(j, f->fetch_data.len);
            pt_json_key(j, "truncated");
            pt_json_bool(j, f->fetch_truncated);
            pt_json_key(j, "text");
            pt_json_strn(j, f->fetch_data.p ? f->fetch_data.p : "", f->fetch_data.len);
        }
        pt_json_object_end(j);
    }
    if (f->want_job) {
        double s = legs[2];
        if (f->job_status != 200 && status == 200)
            status = f->job_status;
        pt_json_key(j, "job");
        pt_json_object_begin(j);
        pt_json_key(j, "ok");
        pt_json_bool(j, f->job_status == 200);
        pt_json_key(j, "job");
        pt_json_str(j, f->job_name);
        pt_json_key(j, "seconds");
        pt_json_double(j, s);
        pt_json_key(j, "status");
        pt_json_int(j, f->job_status);
        pt_json_key(j, "response");
        size_t n = f->job_body.len;
        while (n && (f->job_body.p[n - 1] == '\n'))
            n--;
        if (n)
            pt_json_raw(j, f->job_body.p, n);
        else
            pt_json_null(j);
        pt_json_object_end(j);
    }
    pt_json_object_end(j);
    pt_json_finish(j);
    int rc = pt_json_error(j);
    pt_json_destroy(j);
    pt_server *s = f->srv;
    if (rc) {
        pt__sbuf_free(&b);
        pt__req_error(f->req, 503, "out of memory");
    } else {
        pt__req_complete(f->req, status, "application/json", &b);
    }
    fanout_free(f);
    pt__server_pending_done(s);
}

static void leg_done(fanout *f)
{
    if (--f->legs == 0)
        fanout_answer(f);
}

/* --- the file leg ----------------------------------------------------------- */

static void file_read_next(fanout *f);

static void on_file_closed(uv_fs_t *req)
{
    fanout *f = req->data;
    uv_fs_req_cleanup(req);
    f->file_t1 = uv_hrtime();
    leg_done(f);
}

static void file_close(fanout *f)
{
    f->fs.data = f;
    if (uv_fs_close(f->srv->loop, &f->fs, f->fd, on_file_closed) != 0) {
        f->file_t1 = uv_hrtime();
        leg_done(f);
    }
}

static void on_file_read(uv_fs_t *req)
{
    fanout *f = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    if (n < 0) {
        f->file_err = (int)n;
        file_close(f);
        return;
    }
    if (n == 0) {
        file_close(f);
        return;
    }
    f->file_data.len += (size_t)n;
    if (f->file_data.len > f->srv->o.max_file_bytes) {
        f->file_data.len = f->srv->o.max_file_bytes;
        f->file_truncated = true;
        file_close(f);
        return;
    }
    file_read_next(f);
}

static void file_read_next(fanout *f)
{
    /* Read one byte past the limit to know whether the file is longer. */
    size_t want = f->srv->o.max_file_bytes + 1 - f->file_data.len;
    if (want > 64 * 1024)
        want = 64 * 1024;
    if (pt__sbuf_reserve(&f->file_data, want)) {
        f->file_err = UV_ENOMEM;
        file_close(f);
        return;
    }
    uv_buf_t b = uv_buf_init(f->file_data.p + f->file_data.len, (unsigned)want);
    f->fs.data = f;
    int rc = uv_fs_read(f->srv->loop, &f->fs, f->fd, &b, 1, -1, on_file_read);
    if (rc) {
        f->file_err = rc;
        file_close(f);
    }
}

static void on_file_open(uv_fs_t *req)
{
    fanout *f = req->data;
    ssize_t r = req->result;
    uv_fs_req_cleanup(req);
    if (r < 0) {
        f->file_err = (int)r;
        f->file_t1 = uv_hrtime();
        leg_done(f);
        return;
    }
    f->fd = (uv_file)r;
    file_read_next(f);
}

/* A plain file name: no directory part, no dot file, no control bytes. */
static bool plain_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 255 || n[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (n[i] == '/' || n[i] == '\\' || (unsigned char)n[i] < 0x20 || n[i] == 0x7f)
            return false;
    return true;
}

/* --- the fetch and job legs ----------------------------------------------- */

static void on_fetch_done(void *arg, int status, long http_status, const char *body, size_t len)
{
    fanout *f = arg;
    f->fetch_t1 = uv_hrtime();
    f->fetch_err = status;
    f->fetch_status = http_status;
    size_t max = f->srv->o.max_file_bytes;
    if (len > max) {
        len = max;
        f->fetch_truncated = true;
    }
    if (status == 0 && body && pt__sbuf_add(&f->fetch_data, body, len))
        f->fetch_err = PT_ENOMEM;
    leg_done(f);
}

static void on_job_finish(pt__job_task *t)
{
    fanout *f = t->finish_arg;
    f->job_t1 = uv_hrtime();
    f->job_status = t->status;
    f->job_body = t->body;
    memset(&t->body, 0, sizeof(t->body));
    pt__job_task_free(t);
    leg_done(f);
}

static bool upstream_ok(const pt_server *s, const char *url)
{
    for (size_t i = 0; i < s->o.nupstreams; i++)
        if (strncmp(url, s->o.upstreams[i], strlen(s->o.upstreams[i])) == 0)
            return true;
    return false;
}

/* Pool thread: reads the body and checks every leg before any starts. */
static void fanout_parse(pt_io_work *w, void *arg)
{
    (void)w;
    fanout *f = arg;
    pt_server *s = f->srv;
    pt__reqerr *e = &f->err;
    json_error_t jerr;
    json_t *root = json_loadb(f->json.p, f->json.len, JSON_REJECT_DUPLICATES, &jerr);
    pt__sbuf_free(&f->json);
    if (!root) {
        pt__reqerr_set(e, 400, "bad JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                       jerr.column);
        return;
    }
    if (!json_is_object(root)) {
        pt__reqerr_set(e, 400,
                       "the body must be a JSON object: {\"file\": NAME, \"url\": URL, "
                       "\"job\": NAME, \"params\": {...}}");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        static const char *const known[] = {"file",    "url",     "job",   "params",
                                            "backend", "threads", "strict"};
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(key, known[i]) == 0;
        if (!ok) {
            pt__reqerr_set(e, 400,
                           "fanout: unknown member '%.64s' (allowed: file, url, job, params, "
                           "backend, threads, strict)",
                           key);
            goto out;
        }
    }
    json_t *jfile = json_object_get(root, "file");
    json_t *jurl = json_object_get(root, "url");
    json_t *jjob = json_object_get(root, "job");
    if (!jfile && !jurl && !jjob) {
        pt__reqerr_set(e, 400, "fanout: give at least one of \"file\", \"url\", \"job\"");
        goto out;
    }
    if (!jjob && (json_object_get(root, "params") || json_object_get(root, "backend") ||
                  json_object_get(root, "threads") || json_object_get(root, "strict"))) {
        pt__reqerr_set(e, 400,
                       "fanout: \"params\", \"backend\", \"threads\" and \"strict\" "
                       "belong to a \"job\"");
        goto out;
    }
    if (jfile) {
        if (!json_is_string(jfile) || !plain_name(json_string_value(jfile))) {
            pt__reqerr_set(e, 400,
                           "fanout: \"file\" must be a plain file name (no '/', not "
                           "starting with '.')");
            goto out;
        }
        if (!s->o.files_dir) {
            pt__reqerr_set(e, 403,
                           "fanout: the file leg is disabled (start the server with --files DIR)");
            goto out;
        }
        const char *name = json_string_value(jfile);
        size_t len = strlen(s->o.files_dir) + strlen(name) + 2;
        f->file_name = strdup(name);
        f->file_path = malloc(len);
        if (!f->file_name || !f->file_path) {
            pt__reqerr_set(e, 503, "out of memory");
            goto out;
        }
        snprintf(f->file_path, len, "%s/%s", s->o.files_dir, name);
        f->want_file = true;
    }
    if (jurl) {
        if (!json_is_string(jurl)) {
            pt__reqerr_set(e, 400, "fanout: \"url\" must be a string");
            goto out;
        }
        if (!s->o.fetch) {
            pt__reqerr_set(e, 501,
                           "fanout: the fetch leg needs io/'s HTTP fetcher, which this server "
                           "was built without");
            goto out;
        }
        if (!upstream_ok(s, json_string_value(jurl))) {
            pt__reqerr_set(e, 403,
                           "fanout: url '%.200s' is not under one of the server's --upstream "
                           "prefixes",
                           json_string_value(jurl));
            goto out;
        }
        if (!(f->url = strdup(json_string_value(jurl)))) {
            pt__reqerr_set(e, 503, "out of memory");
            goto out;
        }
        f->want_fetch = true;
    }
    if (jjob) {
        if (pt__job_task_from_json(f->req, root, &f->task, e))
            goto out;
        f->task->finish = on_job_finish;
        f->task->finish_arg = f;
        f->job_name = f->task->desc->name;
        f->want_job = true;
    }
out:
    json_decref(root);
}

/* Loop thread: the body is read; start every leg, or answer the error. */
static void fanout_parsed(pt_io_work *w, void *arg, int status)
{
    (void)w;
    fanout *f = arg;
    pt_server *s = f->srv;
    pt__req *r = f->req;
    if (status || f->err.status || !r->conn) {
        if (status)
            pt__reqerr_set(&f->err, 503, "server stopping");
        else if (!r->conn)
            pt__reqerr_set(&f->err, 503, "the client went away");
        pt__req_error_msg(r, f->err.status, f->err.msg);
        fanout_free(f);
        pt__server_pending_done(s);
        return;
    }
    /* The extra count holds the answer until every leg has started; the
     * fanout stays pending work of the server until it answers. */
    f->t0 = uv_hrtime();
    f->legs = 1;
    if (f->want_file) {
        f->legs++;
        f->fs.data = f;
        int rc = uv_fs_open(s->loop, &f->fs, f->file_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0,
                            on_file_open);
        if (rc) {
            f->file_err = rc;
            f->file_t1 = uv_hrtime();
            f->legs--;
        }
    }
    if (f->want_fetch) {
        f->legs++;
        int rc = s->o.fetch(s->o.fetch_ctx, s->loop, f->url, s->o.max_file_bytes, on_fetch_done, f);
        if (rc) {
            f->fetch_err = rc;
            f->fetch_t1 = uv_hrtime();
            f->legs--;
        }
    }
    if (f->want_job) {
        f->legs++;
        pt__job_task *t = f->task;
        f->task = NULL;
        int rc = pt__job_submit(t);
        if (rc) {
            f->job_t1 = uv_hrtime();
            f->job_status = 503;
            pt__json_error_body(&f->job_body, 503,
                                rc == PT_EBUSY ? "too many jobs queued: try again later"
                                               : "cannot queue the job");
            pt__job_task_free(t);
            f->legs--;
        }
    }
    leg_done(f); /* the start's own count: answers now if every leg failed */
}

void pt__fanout_start(pt__req *r, const pt__http_in *in)
{
    pt_server *s = r->srv;
    if (*in->query) {
        pt__req_error(r, 400, "POST /fanout takes a JSON body, not query parameters");
        return;
    }
    fanout *f = calloc(1, sizeof(*f));
    if (!f || pt__sbuf_add(&f->json, in->body, in->body_len)) {
        free(f);
        pt__req_error(r, 503, "out of memory");
        return;
    }
    f->req = r;
    f->srv = s;
    int rc = pt__server_work(s, fanout_parse, fanout_parsed, f);
    if (rc) {
        fanout_free(f);
        pt__req_error(r, 503, "cannot queue the work: %s", pt_strerror(rc));
        return;
    }
    r->pending = true;
}

/* backend/processes.c - forked worker processes writing into shared memory
 * (the course's ProcessPoolExecutor, without pickling).
 *
 * DESIGN
 *
 * Fork safety. A child forked from a process whose other threads hold locks
 * inherits those locks held forever: libgomp hangs in a child forked after
 * it started its thread pool (GCC bug 60035), PoCL likewise. So workers are
 * never forked from the ptool process once it may have threads. Instead,
 * pt_runtime_create() forks one "fork server" first, while the process is
 * still single-threaded (Python's multiprocessing "forkserver" method). The
 * fork server stays single-threaded forever and forks every worker, the
 * first ones and each replacement, so every worker starts from a clean,
 * single-threaded image, whatever the parent has started since.
 *
 * Memory. Before that first fork the runtime maps the shared arena (shm.c),
 * so it is at the same address in the parent, the fork server and all
 * workers. Jobs created with PT_JOB_SHARED live entirely in it. A task sent
 * to a worker is just (job address, phase, chunk): the worker calls the
 * job's range function through the job's own copy of its descriptor (code
 * addresses are the same: same executable image) and writes results and
 * partials straight into shared memory. Nothing is serialised.
 *
 * Channels. The parent talks to the fork server over a SOCK_SEQPACKET
 * socket pair (messages keep their boundaries): SPAWN returns a new worker's
 * pid and, as SCM_RIGHTS, the parent's end of a socket pair to that worker;
 * REAP waits for a dead worker and returns its wait status. Each worker reads
 * tasks from its socket and answers each with one "done" message.
 *
 * Failure. A worker that dies (a signal, an exit) closes its socket: the
 * parent sees end-of-file, stops handing out chunks, waits for the other
 * busy workers to finish theirs (they write into the job's memory), asks the
 * fork server for the dead worker's status, spawns a replacement and fails
 * the run with PT_EWORKER naming the job and the signal. Never a hang, never
 * a partial result reported as success. If the parent dies, every socket
 * closes and the fork server and the workers exit (they also have
 * PR_SET_PDEATHSIG). Sends use MSG_NOSIGNAL: a dead peer is an error
 * return, never a SIGPIPE.
 *
 * One run at a time uses the workers (pp->lock); concurrent runs wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"

enum { OP_SPAWN = 1, OP_REAP = 2 };

typedef struct ctl_req {
    int32_t op;
    int32_t pid;
} ctl_req;

typedef struct ctl_rep {
    int32_t pid;    /* SPAWN: the new worker; REAP: the reaped one */
    int32_t status; /* REAP: the wait status */
    int32_t err;    /* 0 or an errno */
} ctl_rep;

typedef struct task {
    uint64_t job; /* address of the pt_job in the shared arena */
    uint64_t chunk_index;
    uint64_t chunk;
    uint32_t phase;
    uint32_t pad;
} task;

typedef struct done {
    uint64_t chunk_index;
} done;

typedef struct worker {
    pid_t pid;
    int fd;
} worker;

struct pt__procpool {
    pthread_mutex_t lock; /* one run at a time; guards everything below */
    pid_t server;         /* the fork server, a child of this process */
    int ctl;              /* our end of the control socket */
    worker *w;
    size_t nw, capw;
    char broken[256]; /* non-empty once the fork server is gone */
};

/* --- the worker ---------------------------------------------------------- */

static void worker_main(int fd, pid_t server)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != server)
        _exit(0);
    for (;;) {
        task t;
        ssize_t n = recv(fd, &t, sizeof(t), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(t))
            _exit(0); /* the parent closed our socket: shutdown */
        pt__run_chunk((pt_job *)(uintptr_t)t.job, t.phase, (size_t)t.chunk_index, (size_t)t.chunk);
        done d = {.chunk_index = t.chunk_index};
        if (send(fd, &d, sizeof(d), MSG_NOSIGNAL) != (ssize_t)sizeof(d))
            _exit(0);
    }
}

/* --- the fork server ----------------------------------------------------- */

static int send_fd(int sock, void *msg, size_t len, int fd)
{
    struct iovec iov = {.iov_base = msg, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

static ssize_t recv_fd(int sock, void *msg, size_t len, int *fd)
{
    struct iovec iov = {.iov_base = msg, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    *fd = -1;
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    return n;
}

static void server_main(int ctl)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGCHLD, SIG_DFL);
    /* A terminal's ^C reaches the whole process group: the parent decides
     * (ptool serve shuts down gracefully and still needs its workers); we
     * leave when it closes our sockets or dies. */
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    /* Do not hold the parent's stdin/stdout open (a pipe reader would wait
     * for our end to close); stderr stays for crash reports. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        if (devnull > STDERR_FILENO)
            close(devnull);
    }
    pid_t me = getpid();
    pid_t *kids = NULL;
    size_t nkids = 0, capkids = 0;
    for (;;) {
        ctl_req r;
        ssize_t n = recv(ctl, &r, sizeof(r), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(r))
            break; /* the parent is gone or shutting down */
        ctl_rep rep = {0};
        if (r.op == OP_SPAWN) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
                rep.err = errno;
                send_fd(ctl, &rep, sizeof(rep), -1);
                continue;
            }
            if (nkids == capkids) {
                size_t nc = capkids ? capkids * 2 : 16;
                pid_t *nk = realloc(kids, nc * sizeof(*nk));
                if (!nk) {
                    close(sv[0]);
                    close(sv[1]);
                    rep.err = ENOMEM;
                    send_fd(ctl, &rep, sizeof(rep), -1);
                    continue;
                }
                kids = nk;
                capkids = nc;
            }
            pid_t pid = fork();
            if (pid == 0) {
                close(ctl);
                close(sv[0]);
                worker_main(sv[1], me);
                _exit(0);
            }
            close(sv[1]);
            if (pid < 0) {
                rep.err = errno;
                close(sv[0]);
                send_fd(ctl, &rep, sizeof(rep), -1);
                continue;
            }
            kids[nkids++] = pid;
            rep.pid = pid;
            send_fd(ctl, &rep, sizeof(rep), sv[0]);
            close(sv[0]);
        } else if (r.op == OP_REAP) {
            int st = 0;
            pid_t got;
            do
                got = waitpid(r.pid, &st, 0);
            while (got < 0 && errno == EINTR);
            rep.pid = r.pid;
            rep.status = st;
            rep.err = got < 0 ? errno : 0;
            for (size_t i = 0; i < nkids; i++)
                if (kids[i] == r.pid)
                    kids[i] = kids[--nkids];
            send_fd(ctl, &rep, sizeof(rep), -1);
        }
    }
    /* Workers exit on their own when the parent closes their sockets; make
     * sure of it and reap them. */
    for (size_t i = 0; i < nkids; i++) {
        kill(kids[i], SIGKILL);
        while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
            ;
    }
    _exit(0);
}

/* --- the parent's side --------------------------------------------------- */

/* Asks the fork server for one more worker. Called with pp->lock held (or
 * before the pool is shared). */
static int spawn(pt__procpool *pp, char *why, size_t whylen)
{
    if (pp->broken[0])
        return pt__errf(why, whylen, PT_EUNAVAIL, "%s", pp->broken);
    if (pp->nw == pp->capw) {
        size_t nc = pp->capw ? pp->capw * 2 : 8;
        worker *nw = realloc(pp->w, nc * sizeof(*nw));
        if (!nw)
            return pt__errf(why, whylen, PT_ENOMEM, "out of memory");
        pp->w = nw;
        pp->capw = nc;
    }
    ctl_req r = {.op = OP_SPAWN};
    ctl_rep rep;
    int fd = -1;
    if (send(pp->ctl, &r, sizeof(r), MSG_NOSIGNAL) != (ssize_t)sizeof(r) ||
        recv_fd(pp->ctl, &rep, sizeof(rep), &fd) != (ssize_t)sizeof(rep)) {
        pt__strlcpy(pp->broken, "the process pool's fork server has died", sizeof(pp->broken));
        if (fd >= 0)
            close(fd);
        return pt__errf(why, whylen, PT_EUNAVAIL, "%s", pp->broken);
    }
    if (rep.err || fd < 0) {
        if (fd >= 0)
            close(fd);
        return pt__errf(why, whylen, -(rep.err ? rep.err : EIO), "cannot fork a worker: %s",
                        pt_strerror(-(rep.err ? rep.err : EIO)));
    }
    pp->w[pp->nw].pid = rep.pid;
    pp->w[pp->nw].fd = fd;
    pp->nw++;
    return 0;
}

/* Collects the wait status of a dead worker from the fork server. */
static int reap(pt__procpool *pp, pid_t pid, int *status)
{
    ctl_req r = {.op = OP_REAP, .pid = pid};
    ctl_rep rep;
    int fd;
    if (send(pp->ctl, &r, sizeof(r), MSG_NOSIGNAL) != (ssize_t)sizeof(r) ||
        recv_fd(pp->ctl, &rep, sizeof(rep), &fd) != (ssize_t)sizeof(rep)) {
        pt__strlcpy(pp->broken, "the process pool's fork server has died", sizeof(pp->broken));
        return -1;
    }
    if (fd >= 0)
        close(fd);
    *status = rep.status;
    return rep.err ? -1 : 0;
}

int pt__procpool_start(pt__procpool **out, unsigned workers, char *why, size_t whylen)
{
    pt__procpool *pp = calloc(1, sizeof(*pp));
    if (!pp)
        return pt__errf(why, whylen, PT_ENOMEM, "out of memory");
    pp->ctl = -1;
    pthread_mutex_init(&pp->lock, NULL);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        int e = -errno;
        pt__errf(why, whylen, e, "cannot create a socket pair: %s", pt_strerror(e));
        goto out_free;
    }
    /* Flush stdio so the children do not inherit (and never write) copies of
     * pending output; they leave with _exit() anyway. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(sv[0]);
        close(sv[1]);
        pt__errf(why, whylen, e, "cannot fork the fork server: %s", pt_strerror(e));
        goto out_free;
    }
    if (pid == 0) {
        close(sv[0]);
        server_main(sv[1]);
        _exit(0);
    }
    close(sv[1]);
    pp->server = pid;
    pp->ctl = sv[0];
    for (unsigned i = 0; i < workers; i++) {
        int rc = spawn(pp, why, whylen);
        if (rc) {
            pt__procpool_stop(pp);
            return rc;
        }
    }
    *out = pp;
    return 0;
out_free:
    pthread_mutex_destroy(&pp->lock);
    free(pp);
    return PT_EUNAVAIL;
}

void pt__procpool_stop(pt__procpool *pp)
{
    if (!pp)
        return;
    for (size_t i = 0; i < pp->nw; i++)
        close(pp->w[i].fd);
    if (pp->ctl >= 0)
        close(pp->ctl);
    if (pp->server > 0)
        while (waitpid(pp->server, NULL, 0) < 0 && errno == EINTR)
            ;
    pthread_mutex_destroy(&pp->lock);
    free(pp->w);
    free(pp);
}

size_t pt__procpool_pids(pt__procpool *pp, int *pids, size_t max)
{
    pthread_mutex_lock(&pp->lock);
    size_t n = pp->nw;
    for (size_t i = 0; i < n && i < max; i++)
        pids[i] = pp->w[i].pid;
    pthread_mutex_unlock(&pp->lock);
    return n;
}

/* Describes a wait status: "was killed by signal 9 (SIGKILL)". */
static void describe_status(int st, char *buf, size_t len)
{
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        const char *abbrev = sigabbrev_np(sig);
        snprintf(buf, len, "was killed by signal %d (SIG%s)", sig, abbrev ? abbrev : "?");
    } else if (WIFEXITED(st)) {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
    } else {
        snprintf(buf, len, "stopped (wait status 0x%x)", (unsigned)st);
    }
}

static int send_task(worker *w, pt_job *job, unsigned phase, size_t c, size_t chunk)
{
    task t = {.job = (uint64_t)(uintptr_t)job, .chunk_index = c, .chunk = chunk, .phase = phase};
    ssize_t n;
    do
        n = send(w->fd, &t, sizeof(t), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(t) ? 0 : -1;
}

/* Replaces dead worker i (its fd already closed): reaps it, describes how it
 * died into how, and spawns a new one in its slot. */
static void replace(pt__procpool *pp, size_t i, char *how, size_t howlen)
{
    int st = 0;
    pid_t pid = pp->w[i].pid;
    if (reap(pp, pid, &st) == 0)
        describe_status(st, how, howlen);
    else
        pt__strlcpy(how, "died (status unknown)", howlen);
    pp->w[i] = pp->w[--pp->nw];
    char why[256];
    spawn(pp, why, sizeof(why)); /* on failure the pool is one smaller */
}

static int processes_exec(pt_runtime *rt, void *impl, pt_job *job, unsigned phase, size_t nchunks,
                          size_t chunk, unsigned threads, char *err, size_t errlen)
{
    (void)rt;
    pt__procpool *pp = impl;
    pthread_mutex_lock(&pp->lock);
    int rc = 0;
    while (pp->nw < threads && rc == 0)
        if (spawn(pp, err, errlen) != 0)
            rc = pp->nw ? 0 : PT_EUNAVAIL; /* fewer workers is still fine */
    if (rc) {
        pthread_mutex_unlock(&pp->lock);
        return pt__errf(err, errlen, rc, "%s: processes: no worker process: %s", job->desc->name,
                        pp->broken[0] ? pp->broken : "fork failed");
    }
    size_t use = threads < pp->nw ? threads : pp->nw;
    if (use > nchunks)
        use = nchunks;
    bool *busy = calloc(use, sizeof(*busy));
    size_t *cur = calloc(use, sizeof(*cur)); /* the chunk each worker runs */
    struct pollfd *pfd = calloc(use, sizeof(*pfd));
    if (!busy || !cur || !pfd) {
        free(busy);
        free(cur);
        free(pfd);
        pthread_mutex_unlock(&pp->lock);
        return pt__errf(err, errlen, PT_ENOMEM, "%s: out of memory", job->desc->name);
    }
    size_t next = 0, nbusy = 0;
    pid_t dead_pid = 0;
    size_t dead_chunk = 0;
    char how[128] = "";
    bool failed = false;
    size_t dead_slots[64];
    size_t ndead = 0;

    for (size_t i = 0; i < use; i++) {
        cur[i] = next;
        if (send_task(&pp->w[i], job, phase, next, chunk) == 0) {
            busy[i] = true;
            nbusy++;
            next++;
        } else {
            failed = true;
            if (!dead_pid) {
                dead_pid = pp->w[i].pid;
                dead_chunk = next;
            }
            if (ndead < 64)
                dead_slots[ndead++] = i;
        }
    }
    while (nbusy > 0) {
        for (size_t i = 0; i < use; i++) {
            pfd[i].fd = busy[i] ? pp->w[i].fd : -1;
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        int n = poll(pfd, use, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* cannot happen with valid fds; do not spin */
        }
        for (size_t i = 0; i < use; i++) {
            if (!busy[i] || !pfd[i].revents)
                continue;
            done d;
            ssize_t got = recv(pp->w[i].fd, &d, sizeof(d), MSG_DONTWAIT);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            busy[i] = false;
            nbusy--;
            if (got == (ssize_t)sizeof(d)) {
                if (!failed && next < nchunks) {
                    cur[i] = next;
                    if (send_task(&pp->w[i], job, phase, next, chunk) == 0) {
                        busy[i] = true;
                        nbusy++;
                        next++;
                        continue;
                    }
                } else {
                    continue;
                }
            }
            /* End of file, an error, or a failed send: the worker died. */
            if (!dead_pid) {
                dead_pid = pp->w[i].pid;
                dead_chunk = cur[i];
            }
            failed = true;
            if (ndead < 64)
                dead_slots[ndead++] = i;
        }
    }
    /* Replace the dead, highest slot first so swaps do not move a pending one. */
    for (size_t k = ndead; k-- > 0;) {
        size_t i = dead_slots[k];
        close(pp->w[i].fd);
        char h[128];
        bool first = pp->w[i].pid == dead_pid;
        replace(pp, i, h, sizeof(h));
        if (first)
            pt__strlcpy(how, h, sizeof(how));
    }
    free(busy);
    free(cur);
    free(pfd);
    pthread_mutex_unlock(&pp->lock);
    if (failed)
        return pt__errf(
            err, errlen, PT_EWORKER,
            "%s: worker process %d %s while running chunk %zu of %zu (phase %u); the run "
            "failed and the pool replaced the worker",
            job->desc->name, (int)dead_pid, how[0] ? how : "died", dead_chunk, nchunks, phase);
    return 0;
}

static int processes_init(pt_runtime *rt, void **impl, char *why, size_t whylen)
{
    pt__procpool *pp = pt__runtime_procpool(rt, why, whylen);
    if (!pp)
        return PT_EUNAVAIL;
    *impl = pp;
    return 0;
}

static bool processes_supports(pt_runtime *rt, void *impl, const pt_job *job, char *why,
                               size_t whylen)
{
    (void)rt, (void)impl;
    if (job->flags & PT_JOB_SHARED)
        return true;
    pt__strlcpy(why, "the job was not created with PT_JOB_SHARED memory", whylen);
    return false;
}

const pt_backend_ops pt__backend_processes = {
    .id = PT_BACKEND_PROCESSES,
    .name = "processes",
    .init = processes_init,
    .supports = processes_supports,
    .exec = processes_exec,
};

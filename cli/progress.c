/* progress.c - a live progress line on stderr while a job runs, only when
 * stderr is a terminal: "isprime on openmp: 45% (2.1 s, about 2.6 s left)". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"

struct cli_progress {
    pthread_t thread;
    const pt_job *job;
    char label[128];
    atomic_bool stop;
    bool shown;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *progress_main(void *arg)
{
    cli_progress *p = arg;
    double t0 = now();
    while (!atomic_load(&p->stop)) {
        struct timespec nap = {0, 100 * 1000 * 1000};
        nanosleep(&nap, NULL);
        double t = now() - t0;
        if (t < 0.5 || atomic_load(&p->stop))
            continue; /* short runs stay quiet */
        uint64_t done, total;
        pt_job_progress(p->job, &done, &total);
        char el[32], left[32];
        cli_fmt_seconds(t, el, sizeof(el));
        if (total > 1 && done > 0) {
            double frac = (double)done / (double)total;
            cli_fmt_seconds(t / frac - t, left, sizeof(left));
            fprintf(stderr, "\r\033[K%s: %3.0f%% (%s, about %s left)", p->label, frac * 100, el,
                    left);
        } else {
            fprintf(stderr, "\r\033[K%s: %s", p->label, el);
        }
        p->shown = true;
    }
    return NULL;
}

cli_progress *cli_progress_start(const pt_job *job, const char *label)
{
    if (!cli_stderr_tty())
        return NULL;
    cli_progress *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->job = job;
    snprintf(p->label, sizeof(p->label), "%s", label);
    atomic_init(&p->stop, false);
    if (pthread_create(&p->thread, NULL, progress_main, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void cli_progress_stop(cli_progress *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    if (p->shown)
        fputs("\r\033[K", stderr);
    free(p);
}

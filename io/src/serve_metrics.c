/* serve_metrics.c - the server's counters and their Prometheus text
 * exposition (format 0.0.4). Counters are plain integers: only the loop
 * thread touches them. Requests are labelled by route pattern (never the raw
 * path, so the label set stays small) and status. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "serve_int.h"

/* Upper bounds of the latency buckets, seconds; the last is +Inf. */
static const double bucket_le[PT__NBUCKETS - 1] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                   1,      2.5,     5,      10};

void pt__metrics_request(pt__metrics *m, pt__route r, int status, double seconds)
{
    if ((unsigned)r >= PT__ROUTE_COUNT)
        r = PT__ROUTE_INVALID;
    if (status >= 100 && status < 600)
        m->requests[r][status - 100]++;
    size_t b = 0;
    while (b < PT__NBUCKETS - 1 && seconds > bucket_le[b])
        b++;
    m->hist[r][b]++;
    m->hist_sum[r] += seconds;
    m->hist_count[r]++;
}

static int job_index(pt__metrics *m, const pt_job_desc *d)
{
    for (int i = 0; i < PT__MAX_JOBS_TRACKED; i++) {
        if (m->job_desc[i] == d)
            return i;
        if (!m->job_desc[i]) {
            m->job_desc[i] = d;
            return i;
        }
    }
    return -1;
}

void pt__metrics_job(pt__metrics *m, const pt_job_desc *d, pt_backend_id b, double seconds, bool ok)
{
    int i = job_index(m, d);
    if (i < 0)
        return;
    if (!ok) {
        m->job_failures[i]++;
        return;
    }
    if ((unsigned)b < PT_BACKEND_COUNT) {
        m->jobs[i][b]++;
        m->job_seconds[i][b] += seconds;
    }
}

/* Resident set size of this process in bytes (0 if unknown). */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size = 0, res = 0;
    int n = fscanf(f, "%llu %llu", &size, &res);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? res * (uint64_t)page : 0;
}

#define ADDF(...)                                                                                  \
    do {                                                                                           \
        if (pt__sbuf_addf(out, __VA_ARGS__))                                                       \
            return PT_ENOMEM;                                                                      \
    } while (0)

int pt__metrics_render(const pt_server *s, pt__sbuf *out)
{
    const pt__metrics *m = &s->metrics;
    ADDF("# HELP ptool_http_requests_total HTTP requests answered, by route pattern and status.\n"
         "# TYPE ptool_http_requests_total counter\n");
    for (int r = 0; r < PT__ROUTE_COUNT; r++)
        for (int st = 0; st < 500; st++)
            if (m->requests[r][st])
                ADDF("ptool_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                     pt__route_label((pt__route)r), st + 100,
                     (unsigned long long)m->requests[r][st]);

    ADDF("# HELP ptool_http_request_duration_seconds Time from a request's first byte to its "
         "answer being queued for writing.\n"
         "# TYPE ptool_http_request_duration_seconds histogram\n");
    for (int r = 0; r < PT__ROUTE_COUNT; r++) {
        if (!m->hist_count[r])
            continue;
        const char *label = pt__route_label((pt__route)r);
        unsigned long long cum = 0;
        for (int b = 0; b < PT__NBUCKETS; b++) {
            cum += m->hist[r][b];
            if (b < PT__NBUCKETS - 1)
                ADDF("ptool_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                     label, bucket_le[b], cum);
            else
                ADDF("ptool_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} "
                     "%llu\n",
                     label, cum);
        }
        ADDF("ptool_http_request_duration_seconds_sum{route=\"%s\"} %.9g\n", label, m->hist_sum[r]);
        ADDF("ptool_http_request_duration_seconds_count{route=\"%s\"} %llu\n", label,
             (unsigned long long)m->hist_count[r]);
    }

    ADDF("# HELP ptool_http_requests_in_flight Requests received and not yet answered.\n"
         "# TYPE ptool_http_requests_in_flight gauge\n"
         "ptool_http_requests_in_flight %llu\n",
         (unsigned long long)m->in_flight);
    ADDF("# HELP ptool_http_connections_open Open client connections.\n"
         "# TYPE ptool_http_connections_open gauge\n"
         "ptool_http_connections_open %u\n",
         s->nconns);
    ADDF("# HELP ptool_http_connections_accepted_total Connections accepted.\n"
         "# TYPE ptool_http_connections_accepted_total counter\n"
         "ptool_http_connections_accepted_total %llu\n",
         (unsigned long long)m->conns_accepted);
    ADDF("# HELP ptool_http_connections_rejected_total Connections refused with 503 over "
         "--max-connections.\n"
         "# TYPE ptool_http_connections_rejected_total counter\n"
         "ptool_http_connections_rejected_total %llu\n",
         (unsigned long long)m->conns_rejected);
    ADDF("# HELP ptool_http_connections_timed_out_total Connections dropped because a request "
         "did not arrive in time or the client did not read.\n"
         "# TYPE ptool_http_connections_timed_out_total counter\n"
         "ptool_http_connections_timed_out_total %llu\n",
         (unsigned long long)m->conns_timed_out);

    ADDF("# HELP ptool_jobs_total Job runs completed, by job and the backend that ran them.\n"
         "# TYPE ptool_jobs_total counter\n");
    for (int i = 0; i < PT__MAX_JOBS_TRACKED && m->job_desc[i]; i++)
        for (int b = 0; b < PT_BACKEND_COUNT; b++)
            if (m->jobs[i][b])
                ADDF("ptool_jobs_total{job=\"%s\",backend=\"%s\"} %llu\n", m->job_desc[i]->name,
                     pt_backend_name((pt_backend_id)b), (unsigned long long)m->jobs[i][b]);
    ADDF("# HELP ptool_job_seconds_total Compute time of completed job runs.\n"
         "# TYPE ptool_job_seconds_total counter\n");
    for (int i = 0; i < PT__MAX_JOBS_TRACKED && m->job_desc[i]; i++)
        for (int b = 0; b < PT_BACKEND_COUNT; b++)
            if (m->jobs[i][b])
                ADDF("ptool_job_seconds_total{job=\"%s\",backend=\"%s\"} %.9g\n",
                     m->job_desc[i]->name, pt_backend_name((pt_backend_id)b), m->job_seconds[i][b]);
    ADDF("# HELP ptool_job_failures_total Job runs that failed (set-up or run errors).\n"
         "# TYPE ptool_job_failures_total counter\n");
    for (int i = 0; i < PT__MAX_JOBS_TRACKED && m->job_desc[i]; i++)
        if (m->job_failures[i])
            ADDF("ptool_job_failures_total{job=\"%s\"} %llu\n", m->job_desc[i]->name,
                 (unsigned long long)m->job_failures[i]);
    ADDF("# HELP ptool_jobs_running Job runs in progress.\n"
         "# TYPE ptool_jobs_running gauge\n"
         "ptool_jobs_running %u\n"
         "# HELP ptool_jobs_waiting Job runs waiting for a slot.\n"
         "# TYPE ptool_jobs_waiting gauge\n"
         "ptool_jobs_waiting %u\n",
         s->jobs_running, s->jobs_waiting);
    ADDF("# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
         "# TYPE process_resident_memory_bytes gauge\n"
         "process_resident_memory_bytes %llu\n",
         (unsigned long long)rss_bytes());
    return 0;
}

/* cpu.c - the number of CPUs this process may really use.
 *
 * sysconf(_SC_NPROCESSORS_ONLN) counts the host's CPUs, which is wrong in a
 * container or under taskset: a job started with 64 threads on a 2-CPU
 * quota runs slower than with 2. We take the affinity mask, then lower it to
 * the cgroup CPU quota (v2 cpu.max "QUOTA PERIOD", v1 cfs_quota_us /
 * cfs_period_us), rounding a fractional quota up.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ptool/cpu.h"
#include "internal.h"

static unsigned affinity_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return (unsigned)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

/* Reads up to len-1 bytes of a small file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

/* Reads dir/name into buf; -1 if missing or the path is too long. */
static int read_in(const char *dir, const char *name, char *buf, size_t len)
{
    char path[4200];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    return read_small(path, buf, len);
}

/* Quota from one cgroup directory: CPUs (rounded up), or 0 for "no limit". */
static unsigned quota_in_dir(const char *dir)
{
    char buf[128];
    long long quota = -1, period = 0;

    if (read_in(dir, "cpu.max", buf, sizeof(buf)) == 0) {
        char q[32];
        if (sscanf(buf, "%31s %lld", q, &period) == 2 && strcmp(q, "max") != 0)
            quota = atoll(q);
    } else {
        if (read_in(dir, "cpu.cfs_quota_us", buf, sizeof(buf)) == 0)
            quota = atoll(buf);
        if (read_in(dir, "cpu.cfs_period_us", buf, sizeof(buf)) == 0)
            period = atoll(buf);
    }
    if (quota <= 0 || period <= 0)
        return 0;
    long long cpus = (quota + period - 1) / period;
    return cpus > 0 ? (unsigned)cpus : 1u;
}

unsigned pt__cgroup_cpu_limit(const char *root, const char *self_cgroup)
{
    /* self_cgroup is the text of /proc/self/cgroup: "0::/path" (v2) or
     * "N:cpu,cpuacct:/path" (v1). Walk from the process's own cgroup up to the
     * root: a limit on any ancestor applies too; the smallest wins. */
    unsigned best = 0;
    const char *line = self_cgroup;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t llen = end ? (size_t)(end - line) : strlen(line);
        char entry[1024];
        if (llen < sizeof(entry)) {
            memcpy(entry, line, llen);
            entry[llen] = '\0';
            char *c1 = strchr(entry, ':');
            char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (c2) {
                *c2 = '\0';
                const char *ctrl = c1 + 1, *rel = c2 + 1;
                const char *sub = NULL; /* mount point under root */
                if (*ctrl == '\0')
                    sub = ""; /* v2 unified */
                else if (strcmp(ctrl, "cpu") == 0 || strstr(ctrl, "cpu,") ||
                         strstr(ctrl, ",cpu,") ||
                         (strlen(ctrl) > 4 && strcmp(ctrl + strlen(ctrl) - 4, ",cpu") == 0))
                    sub = ctrl; /* v1: mounted as /sys/fs/cgroup/cpu,cpuacct */
                if (sub) {
                    char dir[4096];
                    char relbuf[1024];
                    snprintf(relbuf, sizeof(relbuf), "%s", rel);
                    for (;;) {
                        if (*sub)
                            snprintf(dir, sizeof(dir), "%s/%s%s", root, sub, relbuf);
                        else
                            snprintf(dir, sizeof(dir), "%s%s", root, relbuf);
                        unsigned q = quota_in_dir(dir);
                        if (q && (!best || q < best))
                            best = q;
                        char *slash = strrchr(relbuf, '/');
                        if (!slash || relbuf[0] == '\0' || (slash == relbuf && relbuf[1] == '\0'))
                            break;
                        if (slash == relbuf)
                            relbuf[1] = '\0'; /* "/a" -> "/" */
                        else
                            *slash = '\0';
                    }
                }
            }
        }
        line = end ? end + 1 : NULL;
    }
    return best;
}

unsigned pt__cpu_count_at(const char *root, const char *self_cgroup_file)
{
    unsigned n = affinity_count();
    char buf[4096];
    if (read_small(self_cgroup_file, buf, sizeof(buf)) == 0) {
        unsigned q = pt__cgroup_cpu_limit(root, buf);
        if (q && q < n)
            n = q;
    }
    return n ? n : 1u;
}

unsigned pt_cpu_count(void)
{
    return pt__cpu_count_at("/sys/fs/cgroup", "/proc/self/cgroup");
}

unsigned pt_default_threads(void)
{
    const char *s = getenv("PTOOL_THREADS");
    if (s && *s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (*end == '\0' && v > 0 && v <= 4096)
            return (unsigned)v;
    }
    return pt_cpu_count();
}

/* test_cpu.c - the usable-CPU count: affinity mask and cgroup quotas, with
 * fabricated cgroup trees. */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static char root[64];

static void mk(const char *rel)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    mkdir(path, 0755);
}

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(root, sizeof(root), "/tmp/ptool-cg-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cpu, .init = setup, .fini = teardown);

Test(cpu, v2_quota_rounds_up)
{
    mk("kubepods/pod1");
    put("kubepods/pod1/cpu.max", "150000 100000\n");
    cr_assert_eq(pt__cgroup_cpu_limit(root, "0::/kubepods/pod1\n"), 2);
    put("kubepods/pod1/cpu.max", "200000 100000\n");
    cr_assert_eq(pt__cgroup_cpu_limit(root, "0::/kubepods/pod1\n"), 2);
    put("kubepods/pod1/cpu.max", "max 100000\n");
    cr_assert_eq(pt__cgroup_cpu_limit(root, "0::/kubepods/pod1\n"), 0);
}

Test(cpu, v2_ancestor_limit_applies)
{
    mk("a/b/c");
    put("a/cpu.max", "300000 100000\n");
    put("a/b/c/cpu.max", "max 100000\n");
    cr_assert_eq(pt__cgroup_cpu_limit(root, "0::/a/b/c\n"), 3);
    put("a/b/cpu.max", "100000 100000\n");
    cr_assert_eq(pt__cgroup_cpu_limit(root, "0::/a/b/c\n"), 1);
}

Test(cpu, v1_cfs_quota)
{
    mk("cpu,cpuacct/docker/abc");
    put("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
    put("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    cr_assert_eq(pt__cgroup_cpu_limit(root, "4:cpu,cpuacct:/docker/abc\n1:memory:/x\n"), 2);
    put("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
    cr_assert_eq(pt__cgroup_cpu_limit(root, "4:cpu,cpuacct:/docker/abc\n"), 0);
}

Test(cpu, container_on_a_big_host_gets_its_quota)
{
    /* A namespaced container sees its own cgroup as the root. */
    mk("");
    put("cpu.max", "100000 100000\n");
    put("self_cgroup", "0::/\n");
    char self[256];
    snprintf(self, sizeof(self), "%s/self_cgroup", root);
    cr_assert_eq(pt__cpu_count_at(root, self), 1);
}

Test(cpu, affinity_mask_is_honoured)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0);
    cr_assert_eq(pt_cpu_count(), 1);
    setenv("PTOOL_THREADS", "7", 1);
    cr_assert_eq(pt_default_threads(), 7);
    setenv("PTOOL_THREADS", "bogus", 1);
    cr_assert_eq(pt_default_threads(), 1);
}

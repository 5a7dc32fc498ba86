/* net.c - loads ptool-net.so, the module with the network commands.
 *
 * fetch, crawl and serve need libcurl, libxml2, jansson and http-parser,
 * whose ~35 shared libraries cost ~5 ms to map and relocate at every start
 * (measured with perf stat: a program linked against them starts in 6.9 ms,
 * one without them in 2.1 ms). Those commands live in a module instead,
 * loaded here only when one of them runs, so `ptool run`, `ptool hash` and
 * the rest start without that cost, as git keeps libcurl out of its main
 * binary. The module resolves the compute library and the IO file work
 * against this executable (which exports them), so there is one copy of
 * each in the process.
 *
 * The module is looked for next to the executable (the build tree), then
 * at PT_NET_MODULE_REL from the executable's directory (an installed tree:
 * bin/ -> lib/.../ptool/), so an installed tree can be moved. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define NET_MODULE "ptool-net.so"

#ifndef PT_NET_MODULE_REL
#define PT_NET_MODULE_REL "../lib/ptool"
#endif

typedef int (*net_main_fn)(const char *name, int argc, char **argv);

/* The directory of the running executable into dir; 0, or -1 if unknown. */
static int exe_dir(char *dir, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", dir, len - 1);
    if (n <= 0 || (size_t)n >= len - 1)
        return -1;
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return 0;
}

int cli_net_command(const char *name, int argc, char **argv)
{
    char dir[PATH_MAX], path[2][PATH_MAX + 64];
    if (exe_dir(dir, sizeof(dir)) != 0) {
        cli_error("%s: cannot find the directory of the ptool executable (/proc/self/exe), "
                  "so not the network module %s either",
                  name, NET_MODULE);
        return EXIT_FAIL;
    }
    snprintf(path[0], sizeof(path[0]), "%s/%s", dir, NET_MODULE);
    snprintf(path[1], sizeof(path[1]), "%s/%s/%s", dir, PT_NET_MODULE_REL, NET_MODULE);
    for (int i = 0; i < 2; i++) {
        if (access(path[i], F_OK) != 0)
            continue;
        void *mod = dlopen(path[i], RTLD_NOW | RTLD_LOCAL);
        if (!mod) {
            cli_error("%s: cannot load the network module: %s", name, dlerror());
            return EXIT_FAIL;
        }
        net_main_fn fn;
        /* POSIX's way to turn dlsym's void * into a function pointer. */
        *(void **)&fn = dlsym(mod, "ptool_net_main");
        if (!fn) {
            cli_error("%s: %s is not ptool's network module (no ptool_net_main)", name, path[i]);
            return EXIT_FAIL;
        }
        int rc = fn(name, argc, argv);
        return rc < 0 ? EXIT_FAIL : rc;
    }
    cli_error("%s: the network module %s is missing (looked in %s and %s/%s): reinstall ptool",
              name, NET_MODULE, dir, dir, PT_NET_MODULE_REL);
    return EXIT_FAIL;
}

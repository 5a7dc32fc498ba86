/* net_entry.c - the entry point of ptool-net.so, the module that holds the
 * network commands (fetch, crawl, serve). `ptool` loads it with dlopen()
 * when one of them runs (net.c); the module takes the compute library and
 * the IO file work from the executable. */
#include <string.h>

#include "cli.h"

/* Runs the network command `name` with argc/argv (its arguments, argv[0]
 * being the first one); returns its exit status, or -1 if `name` is not a
 * network command. Exported: the one symbol ptool looks up. */
__attribute__((visibility("default"))) int ptool_net_main(const char *name, int argc, char **argv);

int ptool_net_main(const char *name, int argc, char **argv)
{
    if (!strcmp(name, "fetch"))
        return cmd_fetch(argc, argv);
    if (!strcmp(name, "crawl"))
        return cmd_crawl(argc, argv);
    if (!strcmp(name, "serve"))
        return cmd_serve(argc, argv);
    return -1;
}

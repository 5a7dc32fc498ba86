/* cmd_cache.c - `ptool cache [list|clear|path]`: the OpenCL program binary
 * cache. */
#include <string.h>
#include <time.h>

#include "cli.h"

int cmd_cache(int argc, char **argv)
{
    const char *action = "list", *dir = NULL;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--cache-dir")) {
            if (i + 1 >= argc)
                return cli_usage_error("cache", "--cache-dir needs a value");
            dir = argv[++i];
        } else if (!strncmp(a, "--cache-dir=", 12)) {
            dir = a + 12;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("Usage: ptool cache [list|clear|path] [--cache-dir DIR] [--json]\n\n"
                 "The OpenCL program binary cache: compiled kernels, keyed by kernel source,\n"
                 "build options, device and driver version, so a second run skips the\n"
                 "compiler and an edited kernel or new driver never loads a stale binary.\n\n"
                 "  list   the entries, newest first (the default)\n"
                 "  clear  remove every entry\n"
                 "  path   print the cache directory\n\n"
                 "The directory is --cache-dir, else $PTOOL_CACHE_DIR, else\n"
                 "$XDG_CACHE_HOME/ptool, else ~/.cache/ptool.");
            return EXIT_OK;
        } else if (a[0] == '-') {
            return cli_usage_error("cache", "unknown option '%s'", a);
        } else if (!strcmp(a, "list") || !strcmp(a, "clear") || !strcmp(a, "path")) {
            action = a;
        } else {
            return cli_usage_error("cache", "unknown action '%s' (list, clear or path)", a);
        }
    }
    if (dir && !*dir) {
        cli_error("cache: the cache is disabled (empty --cache-dir)");
        return EXIT_USAGE;
    }
    char path[4096];
    int rc = pt_cache_path(dir, path, sizeof(path));
    if (rc) {
        cli_error("cache: no cache directory: set PTOOL_CACHE_DIR or HOME");
        return EXIT_FAIL;
    }
    if (!strcmp(action, "path")) {
        puts(path);
        return cli_finish_stdout(EXIT_OK);
    }
    if (!strcmp(action, "clear")) {
        size_t removed = 0;
        rc = pt_cache_clear(path, &removed);
        if (rc) {
            cli_error("cache clear: %s: %s", path, pt_strerror(rc));
            return EXIT_FAIL;
        }
        if (json)
            printf("{\"ptool\":\"%s\",\"command\":\"cache clear\",\"removed\":%zu}\n", pt_version(),
                   removed);
        else
            printf("removed %zu entr%s from %s\n", removed, removed == 1 ? "y" : "ies", path);
        return cli_finish_stdout(EXIT_OK);
    }
    pt_cache_entry *e = NULL;
    size_t n = 0;
    rc = pt_cache_list(path, &e, &n);
    if (rc) {
        cli_error("cache: %s: %s", path, pt_strerror(rc));
        return EXIT_FAIL;
    }
    if (json) {
        pt_json *j = cli_json_begin("cache");
        if (!j) {
            pt_free(e);
            return EXIT_FAIL;
        }
        pt_json_key(j, "dir");
        pt_json_str(j, path);
        pt_json_key(j, "entries");
        pt_json_array_begin(j);
        for (size_t i = 0; i < n; i++) {
            pt_json_object_begin(j);
            pt_json_key(j, "file");
            pt_json_str(j, e[i].file);
            pt_json_key(j, "kernel");
            pt_json_str(j, e[i].kernel);
            pt_json_key(j, "device");
            pt_json_str(j, e[i].device);
            pt_json_key(j, "driver");
            pt_json_str(j, e[i].driver);
            pt_json_key(j, "bytes");
            pt_json_uint(j, e[i].bytes);
            pt_json_key(j, "mtime");
            pt_json_int(j, e[i].mtime);
            pt_json_object_end(j);
        }
        pt_json_array_end(j);
        cli_json_end(j);
    } else {
        printf("%s: %zu entr%s\n", path, n, n == 1 ? "y" : "ies");
        for (size_t i = 0; i < n; i++) {
            char when[32];
            time_t t = (time_t)e[i].mtime;
            struct tm tm;
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
            printf("  %-10s %8.1f KiB  %s  %s (driver %s)  %s\n", e[i].kernel,
                   (double)e[i].bytes / 1024, when, e[i].device, e[i].driver, e[i].file);
        }
    }
    pt_free(e);
    return cli_finish_stdout(EXIT_OK);
}

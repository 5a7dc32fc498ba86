/* error.c - error names and messages, version, pt_free(). */
#include <stdlib.h>
#include <string.h>

#include "ptool/ptool.h"

const char *pt_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define PT__ERR_MSG(name, value, msg)                                                              \
    case (value):                                                                                  \
        return (msg);
        PT_ERRNO_MAP(PT__ERR_MSG)
#undef PT__ERR_MSG
    default:
        break;
    }
    /* strerrordesc_np is the thread-safe, static-string form (glibc 2.32). */
    if (code < 0 && code > -4096) {
        const char *d = strerrordesc_np(-code);
        if (d)
            return d;
    }
    return "unknown error";
}

const char *pt_err_name(int code)
{
    switch (code) {
    case 0:
        return "0";
#define PT__ERR_NAME(name, value, msg)                                                             \
    case (value):                                                                                  \
        return "PT_" #name;
        PT_ERRNO_MAP(PT__ERR_NAME)
#undef PT__ERR_NAME
    default:
        return "PT_E?";
    }
}

const char *pt_version(void)
{
    return PTOOL_VERSION_STRING;
}

void pt_free(void *p)
{
    free(p);
}

/* cl_select.c - choosing an OpenCL device by index, "platform:device" or
 * name substring (works on a device list; no OpenCL calls). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* "WHAT (devices: 0: NAME [PLATFORM]; ...)" into err. */
static int not_found(const pt_cl_device_info *list, size_t n, char *err, size_t errlen,
                     const char *what)
{
    if (!err || !errlen)
        return PT_ENODEVICE;
    size_t used = (size_t)snprintf(err, errlen, "%s", what);
    if (used < errlen)
        used += (size_t)snprintf(err + used, errlen - used, " (devices:");
    for (size_t i = 0; i < n && used < errlen; i++)
        used += (size_t)snprintf(err + used, errlen - used, "%s %zu: %s [%s]", i ? ";" : "", i,
                                 list[i].name, list[i].platform);
    if (used < errlen)
        snprintf(err + used, errlen - used, "%s)", n ? "" : " none");
    return PT_ENODEVICE;
}

int pt_cl_select(const pt_cl_device_info *list, size_t n, const char *sel, size_t *index, char *err,
                 size_t errlen)
{
    if (!index)
        return PT_EINVAL;
    if (n == 0)
        return pt__errf(err, errlen, PT_ENODEVICE, "no OpenCL device");
    if (!sel || !*sel) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(list[i].type, "GPU") == 0) {
                *index = i;
                return 0;
            }
        }
        *index = 0;
        return 0;
    }
    char what[320];
    if (all_digits(sel)) {
        unsigned long v = strtoul(sel, NULL, 10);
        if (v >= n) {
            snprintf(what, sizeof(what), "no OpenCL device number %s", sel);
            return not_found(list, n, err, errlen, what);
        }
        *index = v;
        return 0;
    }
    const char *colon = strchr(sel, ':');
    if (colon && colon != sel && all_digits(colon + 1)) {
        char p[32];
        size_t plen = (size_t)(colon - sel);
        if (plen < sizeof(p)) {
            memcpy(p, sel, plen);
            p[plen] = '\0';
            if (all_digits(p)) {
                unsigned long pi = strtoul(p, NULL, 10), di = strtoul(colon + 1, NULL, 10);
                for (size_t i = 0; i < n; i++) {
                    if (list[i].platform_index == pi && list[i].device_index == di) {
                        *index = i;
                        return 0;
                    }
                }
                snprintf(what, sizeof(what), "no OpenCL device %s (platform:device)", sel);
                return not_found(list, n, err, errlen, what);
            }
        }
    }
    /* A name substring, case-insensitive: the device name first, then the
     * platform and vendor ("nvidia", "pocl", "pthread"). */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            bool hit = pass == 0 ? strcasestr(list[i].name, sel) != NULL
                                 : (strcasestr(list[i].platform, sel) != NULL ||
                                    strcasestr(list[i].vendor, sel) != NULL);
            if (hit) {
                *index = i;
                return 0;
            }
        }
    }
    snprintf(what, sizeof(what), "no OpenCL device matches '%s'", sel);
    return not_found(list, n, err, errlen, what);
}

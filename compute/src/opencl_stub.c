/* opencl_stub.c - the OpenCL entry points of a build without OpenCL
 * (PTOOL_WITH_OPENCL=OFF): they say so. */
#include "internal.h"

int pt_cl_devices(pt_cl_device_info **out, size_t *n, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    return pt__errf(err, errlen, PT_ENOSYS,
                    "this ptool was built without OpenCL (PTOOL_WITH_OPENCL=OFF)");
}

/* outfile.c - output files that appear only when complete.
 *
 * The data goes to an unnamed file (O_TMPFILE) in the target directory; at
 * commit it is flushed, synced, linked in under a hidden temporary name and
 * renamed over the final name (rename is atomic, linkat cannot replace). A
 * crash or SIGKILL before that leaves nothing: an unnamed file vanishes with
 * its last descriptor. Where O_TMPFILE is unsupported the file is created
 * under the hidden name directly and removed on abort.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* dir and base name of path into dir/base (dir "." when there is none). */
static void split_path(const char *path, char *dir, size_t dlen, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        pt__strlcpy(dir, ".", dlen);
        *base = path;
    } else if (slash == path) {
        pt__strlcpy(dir, "/", dlen);
        *base = slash + 1;
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= dlen)
            n = dlen - 1;
        memcpy(dir, path, n);
        dir[n] = '\0';
        *base = slash + 1;
    }
}

static void temp_name(pt__outfile *o, const char *dir, const char *base)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(o->tmp, sizeof(o->tmp), "%s/.%s.tmp-%ld-%lx", dir, base, (long)getpid(),
             (unsigned long)ts.tv_nsec ^ (unsigned long)(uintptr_t)o);
}

int pt__outfile_open(pt__outfile *o, const char *path, char *err, size_t errlen)
{
    memset(o, 0, sizeof(*o));
    o->fd = -1;
    if (!path || !*path)
        return pt__errf(err, errlen, PT_EINVAL, "empty output file name");
    if (strlen(path) >= sizeof(o->path))
        return pt__errf(err, errlen, PT_ENAMETOOLONG, "%s: file name too long", path);
    pt__strlcpy(o->path, path, sizeof(o->path));
    char dir[4096];
    const char *base;
    split_path(path, dir, sizeof(dir), &base);
    if (!*base)
        return pt__errf(err, errlen, PT_EISDIR, "%s: is a directory", path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return pt__errf(err, errlen, PT_EISDIR, "%s: is a directory", path);

    o->fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
    if (o->fd < 0) {
        int e = errno;
        if (e != EOPNOTSUPP && e != EISDIR && e != EINVAL)
            return pt__errf(err, errlen, -e, "%s: %s", path, pt_strerror(-e));
        temp_name(o, dir, base);
        o->fd = open(o->tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (o->fd < 0) {
            e = errno;
            o->tmp[0] = '\0';
            return pt__errf(err, errlen, -e, "%s: %s", path, pt_strerror(-e));
        }
    } else {
        /* O_TMPFILE ignores the umask for the mode given at linkat time. */
        mode_t um = umask(0);
        umask(um);
        fchmod(o->fd, 0666 & ~um);
    }
    o->f = fdopen(o->fd, "wb");
    if (!o->f) {
        int e = errno;
        pt__outfile_abort(o);
        return pt__errf(err, errlen, -e, "%s: %s", path, pt_strerror(-e));
    }
    return 0;
}

void pt__outfile_abort(pt__outfile *o)
{
    if (o->f)
        fclose(o->f);
    else if (o->fd >= 0)
        close(o->fd);
    if (o->tmp[0])
        unlink(o->tmp);
    o->f = NULL;
    o->fd = -1;
    o->tmp[0] = '\0';
}

int pt__outfile_commit(pt__outfile *o, char *err, size_t errlen)
{
    int e = 0;
    if (fflush(o->f) != 0 || ferror(o->f))
        e = errno ? errno : EIO;
    else if (fsync(o->fd) != 0 && errno != EINVAL)
        e = errno;
    if (!e && !o->tmp[0]) {
        /* Give the unnamed file a (hidden) name next to its final one. */
        char dir[4096];
        const char *base;
        split_path(o->path, dir, sizeof(dir), &base);
        char fdpath[64];
        snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", o->fd);
        for (int tries = 0; tries < 8; tries++) {
            temp_name(o, dir, base);
            if (linkat(AT_FDCWD, fdpath, AT_FDCWD, o->tmp, AT_SYMLINK_FOLLOW) == 0) {
                e = 0;
                break;
            }
            e = errno;
            o->tmp[0] = '\0';
            if (e != EEXIST)
                break;
        }
    }
    if (!e && rename(o->tmp, o->path) != 0)
        e = errno;
    if (e) {
        pt__outfile_abort(o);
        return pt__errf(err, errlen, -e, "%s: %s", o->path, pt_strerror(-e));
    }
    o->tmp[0] = '\0';
    int rc = fclose(o->f);
    o->f = NULL;
    o->fd = -1;
    (void)rc; /* the data is synced and in place */
    return 0;
}

int pt__check_output_path(const char *job, const char *param, const char *path, char *err,
                          size_t errlen)
{
    if (!path || !*path)
        return pt__errf(err, errlen, PT_EINVAL, "%s: --%s: empty file name", job, param);
    if (strlen(path) >= sizeof(((pt__outfile *)0)->path))
        return pt__errf(err, errlen, PT_ENAMETOOLONG, "%s: --%s: file name too long", job, param);
    char dir[4096];
    const char *base;
    split_path(path, dir, sizeof(dir), &base);
    struct stat st;
    if (!*base || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return pt__errf(err, errlen, PT_EISDIR, "%s: --%s %s: is a directory", job, param, path);
    if (stat(dir, &st) != 0) {
        int e = -errno;
        return pt__errf(err, errlen, e, "%s: --%s %s: directory %s: %s", job, param, path, dir,
                        pt_strerror(e));
    }
    if (!S_ISDIR(st.st_mode))
        return pt__errf(err, errlen, PT_ENOTDIR, "%s: --%s %s: %s is not a directory", job, param,
                        path, dir);
    if (access(dir, W_OK | X_OK) != 0) {
        int e = -errno;
        return pt__errf(err, errlen, e, "%s: --%s %s: directory %s: %s", job, param, path, dir,
                        pt_strerror(e));
    }
    return 0;
}

/* An exclusive lock on the managed subtree itself: flock(2) on its directory in the first
 * hierarchy colo uses. flock works on cgroupfs (v1 and v2) as on any directory, and the lock
 * belongs to the tree rather than to a state directory, so two agents configured with different
 * state directories still cannot both manage one subtree. The kernel drops it when the holder
 * exits, however it exits. */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "cgroup/cgroup-internal.h"

int cg_root_lock(const CgRoot *root, int *ret_fd, ColoError *err) {
        const CgHierarchy *h = NULL;
        for (size_t i = 0; i < _CG_SLOT_MAX && !h; i++)
                if (root->h[i].present && root->h[i].fd >= 0)
                        h = &root->h[i];
        if (!h)
                return colo_error_setf_plain(err, ENOENT, "no hierarchy holds the managed subtree");
        /* A new open file description: the lock must not be shared with the root's own fd. */
        int fd = openat(h->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s'", h->path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int e = errno;
                (void) close(fd);
                if (e == EWOULDBLOCK)
                        return colo_error_setf_plain(err, EWOULDBLOCK, "'%s' is locked by another process", h->path);
                return colo_error_set(err, e, "flock '%s'", h->path);
        }
        *ret_fd = fd;
        return 0;
}

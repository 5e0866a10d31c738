/* Event sources that wake the agent within milliseconds instead of at the next period: PSI
 * triggers (host /proc/pressure files or a v2 group's *.pressure, POLLPRI), v1 memory usage
 * thresholds (an eventfd registered through cgroup.event_control) and v2 memory.events changes
 * (inotify IN_MODIFY). Each returns a plain fd for the caller's event loop. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

#include "cgroup/cgroup-internal.h"

/* The kernel's limits for a trigger window (kernel/sched/psi.c). */
#define PSI_WINDOW_MIN_USEC (500 * USEC_PER_MSEC)
#define PSI_WINDOW_MAX_USEC (10 * USEC_PER_SEC)

int cg_psi_trigger_open(const char *pressure_path, bool full, uint64_t stall_usec, uint64_t window_usec,
                        int *ret_fd, ColoError *err) {
        if (window_usec < PSI_WINDOW_MIN_USEC || window_usec > PSI_WINDOW_MAX_USEC)
                return colo_error_setf_plain(err, EINVAL, "PSI window %" PRIu64 " us out of range 500000..10000000",
                                             window_usec);
        if (stall_usec == 0 || stall_usec > window_usec)
                return colo_error_setf_plain(err, EINVAL, "PSI stall %" PRIu64 " us must be within 1..window (%" PRIu64 ")",
                                             stall_usec, window_usec);
        _cleanup_close_ int fd = open(pressure_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s'", pressure_path);
        char trig[64];
        int len = snprintf(trig, sizeof(trig), "%s %" PRIu64 " %" PRIu64, full ? "full" : "some", stall_usec,
                           window_usec);
        /* The kernel overwrites the last byte written with NUL: send the terminator too. */
        if (write(fd, trig, (size_t) len + 1) < 0) {
                int e = errno;
                if (e != EINVAL || window_usec % (2 * USEC_PER_SEC) == 0)
                        return colo_error_set(err, e, "write PSI trigger '%s' to '%s'", trig, pressure_path);
                /* Without CAP_SYS_RESOURCE the kernel takes only windows that are multiples of 2 s:
                 * keep the stall/window ratio on a 2 s window. */
                uint64_t stall2 = stall_usec * 2 * USEC_PER_SEC / window_usec;
                len = snprintf(trig, sizeof(trig), "%s %" PRIu64 " %" PRIu64, full ? "full" : "some", stall2,
                               2 * USEC_PER_SEC);
                if (write(fd, trig, (size_t) len + 1) < 0)
                        return colo_error_set(err, errno, "write PSI trigger '%s' to '%s'", trig, pressure_path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int cg_group_pressure_path(CgGroup *g, const char *resource, char *buf, size_t size) {
        if (!resource || (strcmp(resource, "cpu") != 0 && strcmp(resource, "memory") != 0 && strcmp(resource, "io") != 0))
                return -EINVAL;
        /* v2, or the cgroup2 mirror of a hybrid layout. */
        CgSlot s = g->root->mode == CG_MODE_V2 ? CG_SLOT_CPU : CG_SLOT_UNIFIED;
        if (cg_slot_fd(g, s) < 0)
                return -EOPNOTSUPP;
        char name[32];
        snprintf(name, sizeof(name), "%s.pressure", resource);
        cg_group_file_path(g, s, name, buf, size);
        return 0;
}

int cg_group_memory_threshold_fd(CgGroup *g, uint64_t threshold, int *ret_fd, ColoError *err) {
        if (g->root->mode != CG_MODE_V1)
                return colo_error_setf_plain(err, EOPNOTSUPP, "memory thresholds need cgroup v1 (group '%s')", g->path);
        int dfd = cg_slot_fd(g, CG_SLOT_MEMORY);
        if (dfd < 0)
                return colo_error_setf_plain(err, EOPNOTSUPP, "no v1 memory hierarchy for group '%s'", g->path);
        char p[PATH_MAX];
        _cleanup_close_ int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (efd < 0)
                return colo_error_set(err, errno, "eventfd for '%s'", g->path);
        _cleanup_close_ int ufd = openat(dfd, "memory.usage_in_bytes", O_RDONLY | O_CLOEXEC);
        if (ufd < 0) {
                cg_group_file_path(g, CG_SLOT_MEMORY, "memory.usage_in_bytes", p, sizeof(p));
                return colo_error_set(err, errno, "open '%s'", p);
        }
        char v[96];
        snprintf(v, sizeof(v), "%d %d %" PRIu64, efd, ufd, threshold);
        int r = cg_write_raw(g, CG_SLOT_MEMORY, "cgroup.event_control", v);
        if (r < 0) {
                cg_group_file_path(g, CG_SLOT_MEMORY, "cgroup.event_control", p, sizeof(p));
                return colo_error_set(err, r, "write '%s' to '%s'", v, p);
        }
        /* The registration holds its own reference to usage_in_bytes; closing efd unregisters. */
        *ret_fd = TAKE_FD(efd);
        return 0;
}

int cg_group_memory_events_fd(CgGroup *g, int *ret_fd, ColoError *err) {
        if (g->root->mode != CG_MODE_V2)
                return colo_error_setf_plain(err, EOPNOTSUPP, "memory.events needs cgroup v2 (group '%s')", g->path);
        char p[PATH_MAX];
        cg_group_file_path(g, CG_SLOT_CPU, "memory.events", p, sizeof(p));
        _cleanup_close_ int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0)
                return colo_error_set(err, errno, "inotify for '%s'", p);
        if (inotify_add_watch(fd, p, IN_MODIFY) < 0)
                return colo_error_set(err, errno, "watch '%s'", p);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

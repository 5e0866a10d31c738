/* The start-up check of the IO protections: for each disk, whether its scheduler (and on v2
 * iocost) honours the weights colo writes, and whether io.latency exists where targets are
 * configured. The weights and targets are still written (a scheduler may change at runtime);
 * this only makes sure the operator learns, once, where they do nothing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "blockdev/blockdev.h"
#include "util/fileio.h"

typedef struct DiskCheck {
        const IoSupportInput *in;
        const char *io_cost_qos;
        IoSupportReportFn fn;
        void *userdata;
        int reports;
} DiskCheck;

static void check_disk(void *userdata, const char *name, const char *devnum, const char *scheduler) {
        DiskCheck *d = userdata;
        char active[64], why[512], fix[512], what[160];
        bool has_bfq = false;
        snprintf(what, sizeof(what), "IO weights on '%s' (%s)", name, devnum);
        if (blockdev_parse_scheduler(scheduler, active, sizeof(active), &has_bfq) < 0) {
                d->fn(d->userdata, what, "its queue/scheduler file could not be parsed", "check the kernel");
                d->reports++;
                return;
        }
        bool iocost = blockdev_iocost_enabled(d->io_cost_qos, devnum);
        if (blockdev_weight_support(d->in->v2, name, active, has_bfq, iocost, why, sizeof(why), fix, sizeof(fix)) ==
            IO_WEIGHT_IGNORED) {
                d->fn(d->userdata, what, why, fix);
                d->reports++;
        }
}

int io_support_check(const IoSupportInput *in, IoSupportReportFn fn, void *userdata) {
        int reports = 0;
        if (in->latency_wanted && (!in->v2 || !in->latency_file_present)) {
                fn(userdata, "io.latency on the online parent (isolation.online_io_latency)",
                   in->v2 ? "this kernel has no io.latency (CONFIG_BLK_CGROUP_IOLATENCY)" :
                            "cgroup v1 has no io.latency",
                   "protect online IO with throttles on offline work (isolation.offline_io_max) instead");
                reports++;
        }
        if (!in->weights_wanted)
                return reports;
        char qos[4096] = "", p[PATH_MAX];
        if (in->v2) {
                snprintf(p, sizeof(p), "%s/io.cost.qos", in->cgroup_fs_root);
                if (read_small_file_at(AT_FDCWD, p, qos, sizeof(qos), NULL) < 0)
                        qos[0] = '\0';  /* no iocost in this kernel: weights need BFQ */
        }
        DiskCheck d = { .in = in, .io_cost_qos = qos, .fn = fn, .userdata = userdata };
        int r = blockdev_foreach_disk(in->sys_root, check_disk, &d);
        if (r < 0) {
                char why[PATH_MAX + 64];
                snprintf(why, sizeof(why), "cannot list the disks in %s/block: %s", in->sys_root, strerror(-r));
                fn(userdata, "IO weights", why, "mount sysfs");
                return -r > 0 ? r : -EIO;
        }
        return reports + d.reports;
}

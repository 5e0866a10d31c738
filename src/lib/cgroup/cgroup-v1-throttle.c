/* cgroup v1's blkio throttles bind only the tasks of the group they are written on, not those of
 * its descendants (blk-throttle is not hierarchical on v1), so an offline workload is throttled
 * by rules on its own leaf, which the agent writes from the policy every period. A leaf made
 * between two periods would run unthrottled until the next one, up to agent.period, in which a
 * streaming writer moves hundreds of MiB. So a new leaf gets, before any process enters it, the
 * rules the agent already put on its ancestors (the offline parent and its tier), the smaller per
 * device and setting: what the policy's per-leaf rules are (policy_knobs_io_leaf()). */
#include <fcntl.h>
#include <stdio.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

static const char *const throttle_files[_CG_V1_THROTTLE_MAX] = {
        [CG_V1_THROTTLE_READ_BPS] = "blkio.throttle.read_bps_device",
        [CG_V1_THROTTLE_WRITE_BPS] = "blkio.throttle.write_bps_device",
        [CG_V1_THROTTLE_READ_IOPS] = "blkio.throttle.read_iops_device",
        [CG_V1_THROTTLE_WRITE_IOPS] = "blkio.throttle.write_iops_device",
};

/* Adds the rules on g to acc. A file the kernel lacks (no CONFIG_BLK_DEV_THROTTLING) adds none. */
static int read_throttles(CgGroup *g, CgKnobs *acc, ColoError *err) {
        int dfd = cg_slot_fd(g, CG_SLOT_BLKIO);
        if (dfd < 0)
                return 0;
        for (CgV1Throttle t = 0; t < _CG_V1_THROTTLE_MAX; t++) {
                char buf[4096];
                int r = read_small_file_at(dfd, throttle_files[t], buf, sizeof(buf), err);
                if (r == -ENOENT) {
                        colo_error_clear(err);
                        continue;
                }
                if (r < 0)
                        return colo_error_wrap(err, "read the blkio throttles of '%s'", cg_group_path(g));
                r = cg_parse_v1_throttle_rules(buf, t, acc);
                if (r < 0)
                        return colo_error_setf_plain(err, -r, "'%s' of '%s': %s", throttle_files[t], cg_group_path(g),
                                                     r == -E2BIG ? "more devices than colo keeps rules for"
                                                                 : "not 'MAJ:MIN VALUE' lines");
        }
        return 0;
}

int cg_group_inherit_io_throttles(CgGroup *leaf, CgGroup *const *ancestors, size_t n, CgWriteCallback cb,
                                  void *userdata, ColoError *err) {
        if (cg_root_mode(leaf->root) == CG_MODE_V2 || !cg_slot_present(leaf->root, CG_SLOT_BLKIO))
                return 0;       /* v2's io.max is hierarchical: the parent's rules already bind */
        CgKnobs want, last;
        cg_knobs_init(&want);
        for (size_t i = 0; i < n; i++) {
                int r = read_throttles(ancestors[i], &want, err);
                if (r < 0)
                        return r;
        }
        if (want.n_io_limits == 0)
                return 0;
        cg_knobs_init(&last);
        return cg_group_apply(leaf, &want, &last, cb, userdata, err);
}

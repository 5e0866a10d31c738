/* Block devices as the IO knobs need them: a configured device (a path such as /dev/vda, or
 * MAJ:MIN) resolved to the whole disk's MAJ:MIN, and whether the node honours an IO weight on a
 * disk (the scheduler and, on cgroup v2, iocost). The kernel's blk-cgroup takes only whole disks
 * (a partition's MAJ:MIN is refused with ENODEV), so partitions are refused here, naming the disk
 * to use instead. The sysfs root is a parameter so tests point it at a fake tree. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define BLOCKDEV_DEVNUM_MAX 32

/* Resolves device ("/dev/vda": stat() must show a block device; "254:0": taken as is) to
 * "MAJ:MIN" in ret_devnum, checking <sys_root>/dev/block/MAJ:MIN: it must exist (a disk of this
 * node) and be a whole disk (no "partition" file). Returns 0, or -ENOENT / -ENOTBLK / -EINVAL
 * (a partition) with why set to a sentence for the operator. */
int blockdev_resolve(const char *sys_root, const char *device, char *ret_devnum, size_t devnum_size, char *why,
                     size_t why_size);

/* Pure: "MAJ:MIN" with decimal numbers of the kernel's ranges (major < 4096, minor < 2^20). */
bool blockdev_devnum_is_valid(const char *s);

/* Pure: the scheduler file ("none [mq-deadline] kyber bfq") into the active scheduler's name and
 * whether bfq is among the choices. A file without brackets ("none" on a device without a
 * queue) is that one name. Returns 0 or -EINVAL. */
int blockdev_parse_scheduler(const char *text, char *ret_active, size_t size, bool *ret_has_bfq);

/* Pure: whether the root's io.cost.qos text ("254:0 enable=1 ctrl=auto ...") enables iocost
 * for devnum. */
bool blockdev_iocost_enabled(const char *io_cost_qos, const char *devnum);

/* Whether an IO weight holds on a disk, and if not why and how to fix it. */
typedef enum IoWeightSupport {
        IO_WEIGHT_HONOURED,
        IO_WEIGHT_IGNORED,
} IoWeightSupport;

/* Pure: cgroup v1 weights act only under CFQ (blkio.weight, before Linux 5.0) and BFQ
 * (blkio.bfq.weight); v2 io.weight under iocost where enabled, io.bfq.weight under BFQ. Fills
 * why and fix (never empty for IO_WEIGHT_IGNORED). */
IoWeightSupport blockdev_weight_support(bool v2, const char *disk, const char *active, bool has_bfq, bool iocost,
                                        char *why, size_t why_size, char *fix, size_t fix_size);

/* Calls fn for each disk of <sys_root>/block with a scheduler (loop, ram and zram devices
 * skipped: they hold no disk's data) with its name, "MAJ:MIN" and scheduler file. Returns the
 * number of disks, or -errno when the directory cannot be read. */
typedef void (*BlockdevDiskFn)(void *userdata, const char *name, const char *devnum, const char *scheduler);
int blockdev_foreach_disk(const char *sys_root, BlockdevDiskFn fn, void *userdata);

/* What the IO knobs need from this node, checked once at agent start: no silent half-isolation. */
typedef struct IoSupportInput {
        const char *sys_root;           /* "/sys" */
        const char *cgroup_fs_root;     /* v2: the hierarchy root, whose io.cost.qos tells iocost */
        bool v2;
        bool weights_wanted;            /* features.io_weight */
        bool latency_wanted;            /* features.io_latency with isolation.online_io_latency rules */
        bool latency_file_present;      /* v2: the managed groups have io.latency */
} IoSupportInput;

/* what: the protection ("IO weights on 'vda' (254:0)"); why and fix: sentences for the operator. */
typedef void (*IoSupportReportFn)(void *userdata, const char *what, const char *why, const char *fix);

/* Reports each IO protection the configuration asks for that the node does not put in force:
 * weights on every disk whose scheduler ignores them (blockdev_weight_support()), io.latency on
 * v1 or on a kernel without it. Returns the number of reports, or -errno when sysfs cannot be
 * read (then nothing is known and that is reported too). */
int io_support_check(const IoSupportInput *in, IoSupportReportFn fn, void *userdata);

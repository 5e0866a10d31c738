/* The I/O half of the block device module: stat() of a configured path and the sysfs files of a
 * disk (<sys>/dev/block/MAJ:MIN/partition, .../queue/scheduler, <sys>/block/). Called when the
 * configuration is loaded and once at agent start, never per period. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "blockdev/blockdev.h"
#include "util/fileio.h"
#include "util/macro.h"

/* The whole disk a partition belongs to: sysfs puts a partition's directory inside its disk's,
 * so the parent directory's "dev" file holds the disk's MAJ:MIN. */
static void describe_parent_disk(const char *sys_root, const char *devnum, char *buf, size_t size) {
        char link[PATH_MAX], target[PATH_MAX], dev[64] = "";
        snprintf(link, sizeof(link), "%s/dev/block/%s", sys_root, devnum);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        buf[0] = '\0';
        if (n <= 0)
                return;
        target[n] = '\0';
        char *slash = strrchr(target, '/');
        if (!slash)
                return;
        *slash = '\0';
        const char *disk = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
        char devfile[PATH_MAX + 8];
        snprintf(devfile, sizeof(devfile), "%s/dev/block/%.*s/dev", sys_root, (int) (slash - target), target);
        int r = read_small_file_at(AT_FDCWD, devfile, dev, sizeof(dev), NULL);
        dev[r > 0 ? strcspn(dev, "\n") : 0] = '\0';
        snprintf(buf, size, "%s%s%s%s", disk, dev[0] ? " (" : "", dev, dev[0] ? ")" : "");
}

static int devnum_of_path(const char *device, char *ret, size_t size, char *why, size_t why_size) {
        struct stat st;
        if (stat(device, &st) < 0) {
                int e = errno;
                snprintf(why, why_size, "cannot stat '%s': %s", device, strerror(e));
                return -e;
        }
        if (!S_ISBLK(st.st_mode)) {
                snprintf(why, why_size, "'%s' is not a block device", device);
                return -ENOTBLK;
        }
        snprintf(ret, size, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
        return 0;
}

int blockdev_resolve(const char *sys_root, const char *device, char *ret_devnum, size_t devnum_size, char *why,
                     size_t why_size) {
        char devnum[BLOCKDEV_DEVNUM_MAX], p[PATH_MAX];
        struct stat st;
        int r;

        why[0] = '\0';
        if (device[0] == '/') {
                r = devnum_of_path(device, devnum, sizeof(devnum), why, why_size);
                if (r < 0)
                        return r;
        } else if (blockdev_devnum_is_valid(device)) {
                snprintf(devnum, sizeof(devnum), "%s", device);
        } else {
                snprintf(why, why_size, "'%s' is neither a device path (/dev/...) nor MAJ:MIN", device);
                return -EINVAL;
        }
        snprintf(p, sizeof(p), "%s/dev/block/%s", sys_root, devnum);
        if (stat(p, &st) < 0) {
                snprintf(why, why_size, "'%s' (%s) is no block device of this node (no %s)", device, devnum, p);
                return -ENOENT;
        }
        snprintf(p, sizeof(p), "%s/dev/block/%s/partition", sys_root, devnum);
        if (access(p, F_OK) == 0) {
                char disk[128];
                describe_parent_disk(sys_root, devnum, disk, sizeof(disk));
                snprintf(why, why_size, "'%s' (%s) is a partition; the kernel's IO controllers take only whole disks%s%s",
                         device, devnum, disk[0] ? ": name its disk, " : "", disk);
                return -EINVAL;
        }
        if (strlen(devnum) >= devnum_size)
                return -ENAMETOOLONG;
        memcpy(ret_devnum, devnum, strlen(devnum) + 1);
        return 0;
}

static bool is_virtual_disk(const char *name) {
        return strncmp(name, "loop", 4) == 0 || strncmp(name, "ram", 3) == 0 || strncmp(name, "zram", 4) == 0;
}

int blockdev_foreach_disk(const char *sys_root, BlockdevDiskFn fn, void *userdata) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/block", sys_root);
        DIR *d = opendir(dir);
        if (!d)
                return -errno;
        int n = 0;
        for (struct dirent *e; (e = readdir(d));) {
                if (e->d_name[0] == '.' || is_virtual_disk(e->d_name))
                        continue;
                char p[PATH_MAX], sched[256] = "", dev[BLOCKDEV_DEVNUM_MAX] = "";
                snprintf(p, sizeof(p), "%s/%s/queue/scheduler", dir, e->d_name);
                if (read_small_file_at(AT_FDCWD, p, sched, sizeof(sched), NULL) <= 0)
                        continue;
                snprintf(p, sizeof(p), "%s/%s/dev", dir, e->d_name);
                if (read_small_file_at(AT_FDCWD, p, dev, sizeof(dev), NULL) <= 0)
                        continue;
                dev[strcspn(dev, "\n")] = '\0';
                fn(userdata, e->d_name, dev, sched);
                n++;
        }
        closedir(d);
        return n;
}

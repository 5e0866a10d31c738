/* Removing an empty cgroup tree: rmdir only, depth-first, by directory fd. The kernel refuses to
 * remove a cgroup that still has tasks (EBUSY), so this never loses a process; there is no
 * "recursive delete" of files (cgroupfs directories hold only kernel files, which rmdir takes
 * with them). Symlinks are never followed, and the depth is bounded so a deep (or hostile) tree
 * costs at most max_depth open directories and stack frames. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup.h"

static bool is_subdirectory(DIR *d, const struct dirent *de) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                return false;   /* hidden groups (colo's names lock) are groups too */
        if (de->d_type != DT_UNKNOWN)
                return de->d_type == DT_DIR;
        struct stat st;
        return fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

int cg_remove_empty_tree_at(int dir_fd, const char *name, unsigned max_depth) {
        if (max_depth > 0) {
                int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return errno == ENOENT ? 0 : -errno;
                DIR *d = fdopendir(fd);
                if (!d) {
                        int e = errno;
                        (void) close(fd);
                        return -e;
                }
                int r = 0;
                struct dirent *de;
                while (r == 0 && (de = readdir(d)))
                        if (is_subdirectory(d, de))
                                r = cg_remove_empty_tree_at(dirfd(d), de->d_name, max_depth - 1);
                closedir(d);
                if (r < 0)
                        return r;
        }
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

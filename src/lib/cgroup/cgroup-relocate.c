/* cgroup v2's "no internal processes" rule for the agent itself: once a cgroup's children get
 * controllers, that cgroup may hold no process (the usual case under systemd with Delegate=yes,
 * where the agent runs in colo.service itself). This is the cgroupfs side of getting out of the
 * way: reading which cgroup the process is in, making a leaf next to the managed subtree and
 * moving the process into it. Whether to do it at all is the caller's decision. The same for
 * the holder process of the agent's offline scope (a leaf of its own inside the scope). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "util/fileio.h"

#define DEFAULT_FS_ROOT "/sys/fs/cgroup"
#define DEFAULT_PROC_SELF_CGROUP "/proc/self/cgroup"

/* The process's cgroup on a pure v2 host (one "0::/..." line), or 0 when it is v1 or hybrid
 * (where the rule does not bind the v1 controllers colo uses) or in the root cgroup (exempt). */
static int read_own_v2_cgroup(const char *proc_self_cgroup, char *own, size_t size) {
        char self[512];
        int n = read_small_file_at(AT_FDCWD, proc_self_cgroup, self, sizeof(self), NULL);
        if (n <= 0 || strncmp(self, "0::/", 4) != 0 || strchr(self, '\n') != self + n - 1)
                return 0;
        self[n - 1] = '\0';
        if (strcmp(self + 3, "/") == 0)
                return 0;
        if (snprintf(own, size, "%s", self + 3) >= (int) size)
                return -ENAMETOOLONG;
        return 1;
}

int cg_v2_relocate_self(const CgRelocation *r, char *ret_subtree, size_t size, ColoError *err) {
        const char *fs_root = r->fs_root ? r->fs_root : DEFAULT_FS_ROOT;
        const char *proc = r->proc_self_cgroup ? r->proc_self_cgroup : DEFAULT_PROC_SELF_CGROUP;
        char own[256], subtree[256];

        if (r->subtree[0] == '/')
                return 0;       /* an absolute subtree is named from the hierarchy's root already */
        int k = read_own_v2_cgroup(proc, own, sizeof(own));
        if (k == -ENAMETOOLONG)
                return colo_error_setf_plain(err, ENAMETOOLONG, "the cgroup of this process in '%s' is too long", proc);
        if (k <= 0)
                return 0;
        if (snprintf(subtree, sizeof(subtree), "%s/%s", own, r->subtree) >= (int) sizeof(subtree) || size <= strlen(subtree))
                return colo_error_setf_plain(err, ENAMETOOLONG, "the managed subtree '%s/%s' is too long", own, r->subtree);
        if (r->move) {
                char leaf[512], procs[600], pid[32];
                if (snprintf(leaf, sizeof(leaf), "%s%s/%s", fs_root, own, r->leaf) >= (int) sizeof(leaf))
                        return colo_error_setf_plain(err, ENAMETOOLONG, "the leaf '%s%s/%s' is too long", fs_root, own,
                                                     r->leaf);
                if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
                        return colo_error_set(err, errno, "mkdir '%s'", leaf);
                snprintf(procs, sizeof(procs), "%s/cgroup.procs", leaf);
                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                int w = write_small_file_at(AT_FDCWD, procs, pid, err);
                if (w < 0)
                        return w;
        }
        memcpy(ret_subtree, subtree, strlen(subtree) + 1);
        return 1;
}

/* The length of the parent part of "/a/b/c" ("/a/b"), 0 for "/c". */
static size_t parent_len(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? (size_t) (slash - path) : 0;
}

int cg_v2_self_beside(const char *proc_self_cgroup, const char *subtree, char *ret_dir, size_t dir_size, char *ret_leaf,
                      size_t leaf_size) {
        char own[256];
        if (subtree[0] != '/')
                return 0;
        int k = read_own_v2_cgroup(proc_self_cgroup ? proc_self_cgroup : DEFAULT_PROC_SELF_CGROUP, own, sizeof(own));
        if (k <= 0)
                return k;
        size_t n = parent_len(subtree), sub_len = strlen(subtree);
        if (strncmp(own, subtree, n) != 0 || own[n] != '/' ||
            (strncmp(own, subtree, sub_len) == 0 && (own[sub_len] == '\0' || own[sub_len] == '/')))
                return 0;       /* not below the root's parent, or the root itself or inside it */
        size_t leaf_len = strcspn(own + n + 1, "/");
        if (n >= dir_size || leaf_len >= leaf_size)
                return -ENAMETOOLONG;
        memcpy(ret_dir, own, n);
        ret_dir[n] = '\0';
        memcpy(ret_leaf, own + n + 1, leaf_len);
        ret_leaf[leaf_len] = '\0';
        return own[n + 1 + leaf_len] == '\0' ? 1 : 2;
}

bool cg_is_v2_mount(const char *fs_root) {
        struct statfs st;
        return statfs(fs_root ? fs_root : DEFAULT_FS_ROOT, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC;
}

int cg_v2_leaf_populated(const char *fs_root, const char *dir, const char *leaf) {
        char procs[PATH_MAX], buf[64];
        if (snprintf(procs, sizeof(procs), "%s%s/%s/cgroup.procs", fs_root ? fs_root : DEFAULT_FS_ROOT, dir, leaf) >=
            (int) sizeof(procs))
                return -ENAMETOOLONG;
        int n = read_small_file_at(AT_FDCWD, procs, buf, sizeof(buf), NULL);
        if (n == -EFBIG)
                return 1;       /* more pids than fit: populated */
        return n < 0 ? n : n > 0;
}

int cg_v2_move_into_leaf(const char *fs_root, const char *dir, const char *leaf, pid_t pid, ColoError *err) {
        char path[PATH_MAX], procs[PATH_MAX + 16], value[32];
        if (snprintf(path, sizeof(path), "%s%s/%s", fs_root ? fs_root : DEFAULT_FS_ROOT, dir, leaf) >= (int) sizeof(path))
                return colo_error_setf_plain(err, ENAMETOOLONG, "the leaf '%s/%s' is too long", dir, leaf);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return colo_error_set(err, errno, "mkdir '%s'", path);
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
        snprintf(value, sizeof(value), "%d", (int) pid);
        int r = write_small_file_at(AT_FDCWD, procs, value, err);
        return r < 0 ? r : 0;
}

int cg_v2_leaf_write(const char *fs_root, const char *dir, const char *leaf, const char *file, const char *value,
                     ColoError *err) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s%s/%s/%s", fs_root ? fs_root : DEFAULT_FS_ROOT, dir, leaf, file) >=
            (int) sizeof(path))
                return colo_error_setf_plain(err, ENAMETOOLONG, "the file '%s/%s/%s' is too long", dir, leaf, file);
        int r = write_small_file_at(AT_FDCWD, path, value, err);
        return r < 0 ? r : 0;
}

int cg_v2_leaf_read(const char *fs_root, const char *dir, const char *leaf, const char *file, char *buf, size_t size) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s%s/%s/%s", fs_root ? fs_root : DEFAULT_FS_ROOT, dir, leaf, file) >=
            (int) sizeof(path))
                return -ENAMETOOLONG;
        return read_small_file_at(AT_FDCWD, path, buf, size, NULL);
}

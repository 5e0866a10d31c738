/* Detection of the cgroup layout below fs_root: v2 (a cgroup2 mount), v1 (one mount per
 * controller, possibly comounted as "cpu,cpuacct" with symlinks) or hybrid (v1 controllers plus a
 * cgroup2 mount at "unified" holding none of colo's controllers, reported as v1). Detection uses
 * statfs() magic; explicit modes trust the directory layout so tests can use plain directories.
 * It also resolves the managed root of each hierarchy from /proc/self/cgroup and the subtree. */
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

#define DEFAULT_FS_ROOT "/sys/fs/cgroup"
#define DEFAULT_PROC_SELF_CGROUP "/proc/self/cgroup"
#define DEFAULT_SUBTREE "colo"

/* Mount directory names tried per slot, and the controller name /proc/self/cgroup lists. */
static const struct {
        const char *controller;
        const char *dirs[4];
} slot_info[_CG_SLOT_MAX] = {
        [CG_SLOT_CPU] = { "cpu", { "cpu", "cpu,cpuacct", "cpuacct,cpu" } },
        [CG_SLOT_CPUACCT] = { "cpuacct", { "cpuacct", "cpu,cpuacct", "cpuacct,cpu" } },
        [CG_SLOT_CPUSET] = { "cpuset", { "cpuset" } },
        [CG_SLOT_MEMORY] = { "memory", { "memory" } },
        [CG_SLOT_BLKIO] = { "blkio", { "blkio" } },
        [CG_SLOT_PIDS] = { "pids", { "pids" } },
        [CG_SLOT_UNIFIED] = { NULL, { "unified" } },    /* hybrid only, see cgroup-internal.h */
};

bool cg_path_is_valid(const char *path) {
        if (!path || path[0] == '/')
                return false;
        if (path[0] == '\0')
                return true;
        const char *p = path;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t len = slash ? (size_t) (slash - p) : strlen(p);
                if (len == 0 || len > 255)
                        return false;
                if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                for (size_t i = 0; i < len; i++)
                        if (p[i] == '\n')
                                return false;
                if (!slash)
                        return true;
                p = slash + 1;
        }
}

int cg_parse_proc_cgroup(const char *text, const char *controller, char *ret_path, size_t size) {
        const char *line = text;
        while (line && *line) {
                const char *eol = strchrnul(line, '\n');
                const char *c1 = memchr(line, ':', (size_t) (eol - line));
                const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t) (eol - c1 - 1)) : NULL;
                if (c2) {
                        const char *ctrls = c1 + 1;
                        size_t ctrls_len = (size_t) (c2 - ctrls);
                        bool match = false;
                        if (!controller)
                                match = ctrls_len == 0 && c1 - line == 1 && line[0] == '0';
                        else
                                for (const char *p = ctrls; p < c2;) {
                                        const char *comma = memchr(p, ',', (size_t) (c2 - p));
                                        const char *end = comma ? comma : c2;
                                        if ((size_t) (end - p) == strlen(controller) &&
                                            memcmp(p, controller, (size_t) (end - p)) == 0) {
                                                match = true;
                                                break;
                                        }
                                        p = end + 1;
                                }
                        if (match) {
                                const char *path = c2 + 1;
                                size_t len = (size_t) (eol - path);
                                if (len == 0 || path[0] != '/')
                                        return -EINVAL;
                                if (len >= size)
                                        return -ENAMETOOLONG;
                                memcpy(ret_path, path, len);
                                ret_path[len] = '\0';
                                return 0;
                        }
                }
                line = *eol ? eol + 1 : NULL;
        }
        return -ENOENT;
}

static bool is_fs(const char *path, long magic) {
        struct statfs sfs;
        return statfs(path, &sfs) == 0 && (long) sfs.f_type == magic;
}

static bool is_dir(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Finds the mount directory of slot s below fs_root; "" when absent. */
static void find_v1_mount(const char *fs_root, CgSlot s, bool detect, char *buf, size_t size) {
        buf[0] = '\0';
        if (s == CG_SLOT_UNIFIED)
                return;
        for (size_t i = 0; i < ELEMENTSOF(slot_info[s].dirs) && slot_info[s].dirs[i]; i++) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/%s", fs_root, slot_info[s].dirs[i]);
                if (detect ? is_fs(p, CGROUP_SUPER_MAGIC) : is_dir(p)) {
                        snprintf(buf, size, "%s", p);
                        return;
                }
        }
}

/* Joins a, b and c with single slashes, dropping empty parts and trailing slashes. */
static char *join_path(const char *a, const char *b, const char *c) {
        const char *parts[] = { a, b, c };
        size_t cap = strlen(a) + strlen(b) + strlen(c) + 4;
        char *out = malloc(cap);
        if (!out)
                return NULL;
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(parts); i++) {
                const char *p = parts[i];
                while (i > 0 && *p == '/')
                        p++;
                size_t len = strlen(p);
                while (len > 1 && p[len - 1] == '/')
                        len--;
                if (len == 0 || (i > 0 && len == 1 && p[0] == '/'))
                        continue;
                if (n > 0 && out[n - 1] != '/')
                        out[n++] = '/';
                memcpy(out + n, p, len);
                n += len;
        }
        out[n] = '\0';
        return out;
}

/* The mounts to use: with CG_MODE_DETECT by statfs() magic (v2 at fs_root, else v1 controllers
 * plus an optional cgroup2 "unified" mount for hybrid, else v2 at "unified"); with CG_MODE_V1 the
 * controller directories as they are (tests: plain directories). Sets root->hybrid and *mode to
 * V1 or V2; fills mounts[] for v1 (and the unified slot for hybrid), or v2_base. */
static int detect_mounts(CgRoot *root, const char *fs_root, CgMode *mode, char *v2_base,
                         char mounts[static _CG_SLOT_MAX][PATH_MAX], ColoError *err) {
        char unified[PATH_MAX];
        snprintf(unified, sizeof(unified), "%s/unified", fs_root);
        if (*mode == CG_MODE_V2 || (*mode == CG_MODE_DETECT && is_fs(fs_root, CGROUP2_SUPER_MAGIC))) {
                *mode = CG_MODE_V2;
                snprintf(v2_base, PATH_MAX, "%s", fs_root);
                return 0;
        }
        bool detect = *mode == CG_MODE_DETECT, any = false;
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                find_v1_mount(fs_root, s, detect, mounts[s], PATH_MAX);
                any = any || mounts[s][0];
        }
        bool has_unified = detect ? is_fs(unified, CGROUP2_SUPER_MAGIC) : is_dir(unified);
        if (any) {
                *mode = CG_MODE_V1;
                root->hybrid = has_unified;
                if (has_unified)
                        snprintf(mounts[CG_SLOT_UNIFIED], PATH_MAX, "%s", unified);
                return 0;
        }
        if (!detect)
                return colo_error_setf_plain(err, ENOMEDIUM, "no cgroup v1 controller directory under '%s'", fs_root);
        if (!has_unified)
                return colo_error_setf_plain(err, ENOMEDIUM, "no cgroup v1 or v2 hierarchy under '%s'", fs_root);
        *mode = CG_MODE_V2;
        snprintf(v2_base, PATH_MAX, "%s", unified);
        return 0;
}

/* A process in the agent's own cpu group "<own>/<subtree>.agent" (cgroup-self.c; a relative
 * subtree) resolves the subtree from "<own>", where it was started: `colo run` and `colo status`
 * find the tree through the agent's pid. */
static void strip_agent_group(char *own, const char *subtree) {
        char tail[PATH_MAX];
        size_t n = strlen(own), k = (size_t) snprintf(tail, sizeof(tail), "/%s.%s", subtree, CG_SELF_GROUP_SUFFIX);
        if (k < sizeof(tail) && n >= k && strcmp(own + n - k, tail) == 0)
                own[n == k ? 1 : n - k] = '\0';        /* "/colo.agent" -> "/" */
}

/* Hierarchy s of root at mount: the managed root's path (below this process's own cgroup, read
 * from self, unless the subtree is absolute), and which slot's fds it shares (v2: all are the
 * one directory; v1: co-mounted controllers, same device and inode as an earlier slot). Returns
 * 0, or 1 when the slot is the optional hybrid PSI mirror and this process has no v2 entry. */
static int resolve_hierarchy(CgRoot *root, CgSlot s, const char *mount, const char *self, const char *subtree,
                             const CgRootOptions *opts, struct stat seen[static _CG_SLOT_MAX], ColoError *err) {
        CgHierarchy *h = &root->h[s];
        bool mirror = root->mode == CG_MODE_V1 && s == CG_SLOT_UNIFIED;
        char own[PATH_MAX] = "/";
        if (self) {
                const char *ctrl = root->mode == CG_MODE_V2 ? NULL : slot_info[s].controller;
                int r = cg_parse_proc_cgroup(self, ctrl, own, sizeof(own));
                if (r < 0 && mirror)
                        return 1;       /* the PSI mirror is optional */
                if (r < 0)
                        return colo_error_setf_plain(err, -r, "no %s%s%s entry in '%s'", ctrl ? "'" : "",
                                                     ctrl ? ctrl : "cgroup v2 (0::)", ctrl ? "'" : "",
                                                     opts->proc_self_cgroup ? opts->proc_self_cgroup
                                                                            : DEFAULT_PROC_SELF_CGROUP);
                if (r >= 0)
                        strip_agent_group(own, subtree);
        }
        h->present = true;
        h->primary = s;
        if (root->mode == CG_MODE_V2 && s != CG_SLOT_CPU)
                h->primary = CG_SLOT_CPU;
        if (stat(mount, &seen[s]) < 0)
                return colo_error_set(err, errno, "stat '%s'", mount);
        for (CgSlot t = 0; t < s && root->mode == CG_MODE_V1; t++)
                if (root->h[t].present && root->h[t].primary == t && seen[t].st_dev == seen[s].st_dev &&
                    seen[t].st_ino == seen[s].st_ino) {
                        h->primary = t;
                        break;
                }
        h->path = join_path(mount, own, subtree);
        if (!h->path)
                return colo_error_set(err, ENOMEM, "cgroup root path");
        h->mount_len = strlen(mount);
        while (h->mount_len > 1 && mount[h->mount_len - 1] == '/')
                h->mount_len--;
        return 0;
}

int cg_detect(CgRoot *root, const CgRootOptions *opts, ColoError *err) {
        const char *fs_root = opts->fs_root ? opts->fs_root : DEFAULT_FS_ROOT;
        const char *subtree = opts->subtree ? opts->subtree : DEFAULT_SUBTREE;
        CgMode mode = opts->mode;
        char v2_base[PATH_MAX] = "";
        char mounts[_CG_SLOT_MAX][PATH_MAX] = {};

        if (mode < 0 || mode >= _CG_MODE_MAX)
                return colo_error_setf_plain(err, EINVAL, "invalid cgroup mode %d", (int) mode);
        bool absolute = subtree[0] == '/';
        if (!cg_path_is_valid(absolute ? subtree + strspn(subtree, "/") : subtree))
                return colo_error_setf_plain(err, EINVAL, "invalid cgroup subtree '%s'", subtree);
        int r = detect_mounts(root, fs_root, &mode, v2_base, mounts, err);
        if (r < 0)
                return r;
        root->mode = mode;

        _cleanup_free_ char *self = NULL;
        if (!absolute) {
                const char *p = opts->proc_self_cgroup ? opts->proc_self_cgroup : DEFAULT_PROC_SELF_CGROUP;
                r = read_full_file(p, 1 << 20, &self, NULL, err);
                if (r < 0)
                        return r;
        }
        struct stat seen[_CG_SLOT_MAX];
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                const char *mount = mode == CG_MODE_V2 ? v2_base : mounts[s];
                if (!mount[0])
                        continue;
                r = resolve_hierarchy(root, s, mount, self, subtree, opts, seen, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

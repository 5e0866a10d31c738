/* The top group: one first-level group of the tree (the offline class parent, "offline") kept
 * next to the managed root instead of below it, as "<subtree name>.offline" in the subtree's
 * parent cgroup (the agent's own cgroup for a relative subtree), in every v1 hierarchy and the
 * hybrid PSI mirror. Why: cpu.idle makes a group SCHED_IDLE only among its siblings, and the
 * managed root itself is an ordinary group, so below it offline work yields to the online
 * groups only, while every process outside the subtree (a service colo does not manage, sshd,
 * the agent) competes with it at the subtree's full weight and without wake-up preemption.
 *
 * The name is derived from the subtree's, not configured apart: two agents with different
 * subtrees never share one, an operator finds it next to the tree it belongs to, and whoever
 * removes a subtree (the test's scratch groups) knows its sibling. The mapping lives here and in
 * cg_locate() only: above the cgroup layer the group is still the tree path "offline", so the
 * tree, the tracker, enforce, `colo run`, `colo move`, status and the dry run do not know.
 *
 * On cgroup v2 under systemd the group is "offline" inside a delegated scope of a top-level slice
 * with CPUWeight=idle (src/lib/systemd/offline-units.h has the layout): systemd owns the top of
 * the tree, so the agent makes those units through systemd and passes the scope's directory in
 * (CgRootOptions.top_dir); from there the mapping is the same. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

int cg_top_map_path(const char *prefix, const char *top_name, const char *path, char *buf, size_t size) {
        size_t n = strlen(prefix);
        if (n == 0 || strncmp(path, prefix, n) != 0 || (path[n] != '\0' && path[n] != '/'))
                return 0;
        if (snprintf(buf, size, "%s%s", top_name, path + n) >= (int) size)
                return -ENAMETOOLONG;
        return 1;
}

int cg_top_place(const char *root_path, size_t mount_len, const char *prefix, size_t *ret_parent_len, char *buf,
                 size_t size) {
        size_t len = strlen(root_path);
        while (len > mount_len && root_path[len - 1] == '/')
                len--;
        if (len <= mount_len)
                return -EINVAL;         /* the managed root is the hierarchy's root */
        size_t base = len;
        while (base > mount_len && root_path[base - 1] != '/')
                base--;
        size_t parent = base > mount_len ? base - 1 : mount_len;
        if (snprintf(buf, size, "%.*s.%s", (int) (len - base), root_path + base, prefix) >= (int) size)
                return -ENAMETOOLONG;
        *ret_parent_len = parent;
        return 0;
}

int cg_locate(const CgRoot *root, CgSlot s, const char *path, CgWhere *ret) {
        const CgHierarchy *h = &root->h[s];
        ret->at_top = false;
        if (root->top_prefix) {
                int r = cg_top_map_path(root->top_prefix, root->top_name, path, ret->rel, sizeof(ret->rel));
                if (r < 0)
                        return r;
                ret->at_top = r > 0;
        }
        if (ret->at_top) {
                ret->fd = h->parent_fd;
                snprintf(ret->base, sizeof(ret->base), "%s", h->parent_path ? h->parent_path : "?");
                return 0;
        }
        ret->fd = h->fd;
        snprintf(ret->base, sizeof(ret->base), "%s", h->path ? h->path : "?");
        if (snprintf(ret->rel, sizeof(ret->rel), "%s", path) >= (int) sizeof(ret->rel))
                return -ENAMETOOLONG;
        return 0;
}

const CgTopGroup *cg_root_top_group(const CgRoot *root) {
        return &root->top;
}

static bool slot_is_mirror(const CgRoot *root, CgSlot s) {
        return root->mode == CG_MODE_V1 && s == CG_SLOT_UNIFIED;
}

/* Not placed: the group stays below the managed root, and the cause (printf-formatted) is kept
 * for the operator. Returns error (negative), for the caller to return. */
_printf_(3, 4) static int not_placed(CgRoot *root, int error, const char *fmt, ...) {
        root->top.error = error < 0 ? error : -EIO;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(root->top.cause, sizeof(root->top.cause), fmt, ap);
        va_end(ap);
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++)
                if (root->h[s].parent_fd >= 0) {
                        root->h[s].parent_fd = (close(root->h[s].parent_fd), -1);
                        root->h[s].parent_path = (free(root->h[s].parent_path), NULL);
                }
        return root->top.error;
}

/* The parent of the managed root in every hierarchy (the PSI mirror's only where it can be had). */
static int open_parents(CgRoot *root, const char *prefix) {
        CgSlot listing = cg_listing_slot(root);
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                CgHierarchy *h = &root->h[s];
                if (!h->present || h->primary != s)
                        continue;
                char name[256], parent[PATH_MAX];
                int r = cg_top_place(h->path, h->mount_len, prefix, &h->parent_len, name, sizeof(name));
                if (r < 0 && slot_is_mirror(root, s))
                        continue;
                if (r < 0)
                        return not_placed(root, r, "the managed subtree '%s' is the root of its hierarchy, which has "
                                          "no parent to hold the %s group next to it", h->path, prefix);
                snprintf(parent, sizeof(parent), "%.*s", (int) h->parent_len, h->path);
                h->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (h->parent_fd < 0 && !slot_is_mirror(root, s))
                        return not_placed(root, -errno, "cannot open '%s' (%s), the parent of the managed subtree",
                                          parent, strerror(errno));
                if (h->parent_fd >= 0 && !(h->parent_path = strdup(parent)))
                        return not_placed(root, -ENOMEM, "out of memory for '%s'%s", parent, "");
                if (s == listing) {
                        snprintf(root->top_name, sizeof(root->top_name), "%s", name);
                        root->top.parent_is_root = h->parent_len == h->mount_len;
                        snprintf(root->top.parent, sizeof(root->top.parent), "%s", parent);
                }
        }
        return 0;
}

/* Makes the group in every hierarchy (cpusets from the parent); a failure removes the ones made
 * here and leaves the group below the managed root. */
static int create_everywhere(CgRoot *root) {
        bool created[_CG_SLOT_MAX] = {};
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                CgHierarchy *h = &root->h[s];
                if (!h->present || h->primary != s || h->parent_fd < 0)
                        continue;
                const char *parent = h->parent_path;
                bool existed = faccessat(h->parent_fd, root->top_name, F_OK, 0) == 0;
                ColoError e = {};
                int fd = -1;
                int r = cg_open_walk(root, s, h->parent_fd, parent, root->top_name, true, -1, &fd, &e);
                if (fd >= 0)
                        (void) close(fd);
                created[s] = r >= 0 && !existed;
                if (r >= 0 || slot_is_mirror(root, s))
                        continue;
                for (CgSlot t = 0; t < _CG_SLOT_MAX; t++)
                        if (created[t])
                                (void) unlinkat(root->h[t].parent_fd, root->top_name, AT_REMOVEDIR);
                return not_placed(root, -e.code, "cannot make the group next to the managed subtree: %s",
                                  colo_error_msg(&e));
        }
        return 0;
}

/* A tree made in the old layout ("<subtree>/<prefix>" and no sibling): with create, its empty
 * groups are removed so the group can move next to the subtree; one that still holds processes
 * keeps the whole group below the subtree (its workloads stay in the agent's sight). */
static bool old_layout_stays(CgRoot *root, const char *prefix, bool create) {
        CgSlot listing = cg_listing_slot(root);
        if (faccessat(root->h[listing].parent_fd, root->top_name, F_OK, 0) == 0 ||
            faccessat(root->h[listing].fd, prefix, F_OK, 0) < 0)
                return false;
        int r = 0;
        for (CgSlot s = 0; create && r == 0 && s < _CG_SLOT_MAX; s++)
                if (root->h[s].present && root->h[s].primary == s && root->h[s].fd >= 0) {
                        int k = cg_remove_empty_tree_at(root->h[s].fd, prefix, CG_REMOVE_DEPTH_MAX);
                        r = slot_is_mirror(root, s) ? 0 : k;    /* the PSI mirror is best effort */
                }
        if (create && r == 0)
                return false;
        (void) not_placed(root, -ENOENT, "the tree was made with the %s group below the managed subtree '%s' (the "
                          "old layout, or an agent that could not place it next to the subtree)", prefix,
                          root->h[listing].path);
        if (create) {
                size_t n = strlen(root->top.cause);
                snprintf(root->top.cause + n, sizeof(root->top.cause) - n, ", and processes still run there");
        }
        return true;
}

/* v2: whether the slice holding the scope at top_dir ("/<slice>/<scope>") is a child of the root
 * with cpu.idle 1; if not, the cause names it. */
static bool v2_slice_idle_at_root(CgRoot *root, const CgHierarchy *h, const char *top_dir) {
        const char *slash = strchr(top_dir + 1, '/');
        char slice[PATH_MAX], idle[16] = "";
        snprintf(slice, sizeof(slice), "%.*s%.*s", (int) h->mount_len, h->path,
                 (int) (slash ? slash - top_dir : (ptrdiff_t) strlen(top_dir)), top_dir);
        if (!slash || strchr(slash + 1, '/')) {
                snprintf(root->top.cause, sizeof(root->top.cause), "the offline scope '%s' is not directly in a "
                         "top-level slice", top_dir);
                return false;
        }
        int fd = open(slice, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = fd < 0 ? -errno : read_small_file_at(fd, "cpu.idle", idle, sizeof(idle), NULL);
        if (fd >= 0)
                (void) close(fd);
        if (r >= 0 && idle[0] == '1')
                return true;
        idle[strcspn(idle, "\n")] = '\0';
        snprintf(root->top.cause, sizeof(root->top.cause), "the slice '%s' is not idle (cpu.idle: %s): its "
                 "CPUWeight is no longer idle", slice, r < 0 ? strerror(-r) : idle);
        return false;
}

/* v2: the parent is the offline scope at opts->top_dir (the agent made it through systemd). */
static int open_v2_scope(CgRoot *root, const CgRootOptions *opts) {
        CgSlot listing = cg_listing_slot(root);
        CgHierarchy *h = &root->h[listing];
        if (!opts->top_dir || opts->top_dir[0] != '/')
                return not_placed(root, -EOPNOTSUPP, "cgroup v2: the %s group stays below the managed subtree: %s",
                                  opts->top_group, opts->top_cause ? opts->top_cause : "no systemd scope was made for it");
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof(dir), "%.*s%s", (int) h->mount_len, h->path, opts->top_dir) >= (int) sizeof(dir))
                return not_placed(root, -ENAMETOOLONG, "the offline scope's cgroup '%s' is too long%s", opts->top_dir, "");
        h->parent_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (h->parent_fd < 0 && errno == ENOENT)        /* a front-end, and no agent made the units */
                return not_placed(root, -EOPNOTSUPP, "cgroup v2: the offline group stays below the managed subtree: "
                                  "no agent made the systemd scope '%s'%s", dir, "");
        if (h->parent_fd < 0)
                return not_placed(root, -errno, "cannot open the offline scope's cgroup '%s' (%s)", dir, strerror(errno));
        if (!(h->parent_path = strdup(dir)))
                return not_placed(root, -ENOMEM, "out of memory for '%s'%s", dir, "");
        snprintf(root->top_name, sizeof(root->top_name), "%s", opts->top_group);
        snprintf(root->top.parent, sizeof(root->top.parent), "%s", dir);
        root->top.in_systemd_unit = true;
        root->top.parent_is_root = v2_slice_idle_at_root(root, h, opts->top_dir);
        return 0;
}

int cg_top_open(CgRoot *root, const CgRootOptions *opts, ColoError *err) {
        const char *prefix = opts->top_group;
        root->top = (CgTopGroup) { .requested = prefix != NULL };
        CgSlot listing = cg_listing_slot(root);
        if (!prefix)
                goto below;
        int r = root->mode == CG_MODE_V2 ? open_v2_scope(root, opts) : open_parents(root, prefix);
        if (r < 0 || old_layout_stays(root, prefix, opts->create) ||
            (opts->create && create_everywhere(root) < 0))
                goto below;
        root->top_prefix = strdup(prefix);
        if (!root->top_prefix)
                return colo_error_set(err, ENOMEM, "allocate cgroup root");
        root->top.placed = true;
        snprintf(root->top.path, sizeof(root->top.path), "%s/%s", root->top.parent, root->top_name);
        return 0;
below:
        snprintf(root->top.path, sizeof(root->top.path), "%s/%s", root->h[listing].path ?: "?", prefix ?: "");
        snprintf(root->top.parent, sizeof(root->top.parent), "%s", root->h[listing].path ?: "?");
        root->top.parent_is_root = root->top.in_systemd_unit = false;
        return 0;
}

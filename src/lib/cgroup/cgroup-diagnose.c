/* Why a controller colo needs is missing from a v2 managed root, in words for the operator: the
 * kernel lacks it, the parent was not delegated it, or the parent holds processes and so cannot
 * enable it for its children (the v2 "no internal processes" rule). Reads the parent's
 * cgroup.controllers, cgroup.subtree_control and cgroup.procs; writes nothing. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

static const char *const names[_CG_CTRL_MAX] = {
        [CG_CTRL_CPU] = "cpu", [CG_CTRL_CPUSET] = "cpuset", [CG_CTRL_MEMORY] = "memory", [CG_CTRL_IO] = "io",
};

static bool file_lists(const char *dir, const char *file, CgController c) {
        char p[PATH_MAX], buf[512];
        snprintf(p, sizeof(p), "%s/%s", dir, file);
        return read_small_file_at(AT_FDCWD, p, buf, sizeof(buf), NULL) >= 0 && (cg_parse_controllers(buf) & (1u << c));
}

int cg_root_explain_missing(const CgRoot *root, CgController c, char *cause, size_t cause_size, char *fix,
                            size_t fix_size) {
        const CgHierarchy *h = &root->h[CG_SLOT_CPU];
        if (root->mode != CG_MODE_V2 || c < 0 || c >= _CG_CTRL_MAX || !h->path)
                return -EINVAL;
        if (cg_root_has_controller(root, c))
                return -EEXIST;
        char parent[PATH_MAX], mount[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", h->path);
        char *slash = strrchr(parent, '/');
        if (slash && (size_t) (slash - parent) >= h->mount_len)
                *slash = '\0';
        snprintf(mount, sizeof(mount), "%.*s", (int) h->mount_len, h->path);

        if (!file_lists(mount, "cgroup.controllers", c)) {
                snprintf(cause, cause_size, "the kernel offers no '%s' controller (not built in, or disabled with "
                         "cgroup_disable= on its command line)", names[c]);
                snprintf(fix, fix_size, "boot a kernel with the '%s' controller", names[c]);
        } else if (!file_lists(parent, "cgroup.controllers", c)) {
                snprintf(cause, cause_size, "'%s' was not delegated the '%s' controller", parent, names[c]);
                snprintf(fix, fix_size, "run colo in a unit with Delegate=yes (or enable '%s' in cgroup.subtree_control "
                         "of every ancestor of '%s')", names[c], parent);
        } else {
                char p[PATH_MAX], procs[256] = "";
                snprintf(p, sizeof(p), "%s/cgroup.procs", parent);
                (void) read_small_file_at(AT_FDCWD, p, procs, sizeof(procs), NULL);
                for (char *q = procs; (q = strchr(q, '\n'));)
                        *q = ' ';
                size_t len = strlen(procs);
                while (len > 0 && procs[len - 1] == ' ')
                        procs[--len] = '\0';
                if (procs[0]) {
                        snprintf(cause, cause_size, "'%s' still holds processes (%s), and cgroup v2 enables a "
                                 "controller for a cgroup's children only while it holds none", parent, procs);
                        snprintf(fix, fix_size, "let colo be the only process of its unit (move the others into "
                                 "a leaf cgroup of their own), or set agent.subtree to a delegated cgroup without "
                                 "processes");
                } else {
                        snprintf(cause, cause_size, "'%s' is not enabled in '%s/cgroup.subtree_control'", names[c], parent);
                        snprintf(fix, fix_size, "echo +%s > '%s/cgroup.subtree_control'", names[c], parent);
                }
        }
        return 0;
}

/* The agent's own cpu group on cgroup v1: "<subtree name>.agent" beside the managed root, in the
 * cpu hierarchy only, with the root's weight. Why: the managed root weighs as much as online
 * work (features.root_cpu_weight), and a task in the root's parent, where the agent usually runs,
 * then waits on the run queue while online work keeps every CPU busy, exactly when the CPU
 * controller must act: a task waking every 25 ms next to a busy group at cpu.shares 102400 waited
 * 388 ms per second (504 ms at nice -20), against 32 ms next to a group at the default 1024 and
 * 22 ms as a sibling group of equal shares (bench/agent-wakeup.sh, docs/benchmarks.md section 5).
 * The other hierarchies keep the agent where it was started; on v2 the agent's leaf is
 * "<own>/agent" (cgroup-relocate.c) for the no-internal-processes rule already. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

/* Whether this process's cgroup in the cpu hierarchy is dir (relative to the hierarchy's mount). */
static bool self_in_cpu_group(const char *dir) {
        char text[4096], own[PATH_MAX];
        return read_small_file_at(AT_FDCWD, "/proc/self/cgroup", text, sizeof(text), NULL) > 0 &&
               cg_parse_proc_cgroup(text, "cpu", own, sizeof(own)) >= 0 && strcmp(own, dir) == 0;
}

int cg_root_keep_self_beside(CgRoot *root, uint64_t weight, CgSelfGroup *ret, ColoError *err) {
        const CgHierarchy *h = &root->h[CG_SLOT_CPU];
        *ret = (CgSelfGroup) {};
        if (root->mode != CG_MODE_V1 || !h->present || !h->path)
                return colo_error_setf_plain(err, EOPNOTSUPP, "no cgroup v1 cpu hierarchy");
        char name[256];
        size_t parent_len;
        int r = cg_top_place(h->path, h->mount_len, CG_SELF_GROUP_SUFFIX, &parent_len, name, sizeof(name));
        if (r < 0)
                return colo_error_setf_plain(err, -r, "the managed subtree '%s' has no parent for '%s'", h->path,
                                             CG_SELF_GROUP_SUFFIX);
        if (snprintf(ret->path, sizeof(ret->path), "%.*s/%s", (int) parent_len, h->path, name) >= (int) sizeof(ret->path))
                return colo_error_setf_plain(err, ENAMETOOLONG, "the group '%.*s/%s' is too long", (int) parent_len, h->path,
                                             name);
        char file[sizeof(ret->path) + 16], want[32], now[32] = "";
        snprintf(file, sizeof(file), "%s/cpu.shares", ret->path);
        snprintf(want, sizeof(want), "%" PRIu64 "\n", cg_weight_to_shares(weight));
        if (read_small_file_at(AT_FDCWD, file, now, sizeof(now), NULL) < 0) {     /* every period: mkdir only if gone */
                if (mkdir(ret->path, 0755) < 0 && errno != EEXIST)
                        return colo_error_set(err, errno, "mkdir '%s'", ret->path);
        }
        if (strcmp(now, want) != 0) {
                r = write_small_file_at(AT_FDCWD, file, want, err);
                ret->shares_written = r >= 0;
        }
        if (r >= 0 && !self_in_cpu_group(ret->path + h->mount_len)) {
                char pid[32];
                snprintf(file, sizeof(file), "%s/cgroup.procs", ret->path);
                snprintf(pid, sizeof(pid), "%d", (int) getpid());
                r = write_small_file_at(AT_FDCWD, file, pid, err);
                ret->moved = r >= 0;
        }
        return r < 0 ? r : 0;
}

/* Scratch cgroups for integration tests: a unique "colo-test-<pid>-<n>" directory below this
 * process's own cgroup in every mounted v1 hierarchy (and the v2 one when it is writable), removed
 * recursively at the end, with its sibling "colo-test-<pid>-<n>.offline" where colo made one
 * (the offline parent next to the managed subtree), even when the test fails: scratch_cgroup_destroy() on the normal path,
 * an atexit() handler on exit(), and a reaper process (PR_SET_PDEATHSIG) when the test dies by a
 * signal or abort(). Removal kills leftover tasks, then rmdirs depth-first.
 *
 *     ScratchCgroup *s;
 *     int r = scratch_cgroup_create(&s);
 *     if (r == -EPERM || r == -ENOMEDIUM) return 77;           // not root, or no cgroupfs
 *     CgRootOptions o = { .subtree = scratch_cgroup_subtree(s), .create = false };
 *     ...
 *     scratch_cgroup_destroy(s);
 *
 * The reaper is a child of the test process: a test that reaps with waitpid(-1, ...) should use
 * scratch_cgroup_reaper_pid() to tell it apart. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

typedef struct ScratchCgroup ScratchCgroup;

/* Creates the scratch group. Returns 0, -EPERM when not root, -ENOMEDIUM when no cgroup
 * hierarchy is mounted, or another -errno (with a message on stderr). */
int scratch_cgroup_create(ScratchCgroup **ret);

/* The scratch group as CgRootOptions.subtree takes it: its name (relative to the cgroup of the
 * process reading it) where v1 hierarchies hold it, its absolute path in the hierarchy on a v2-only
 * node (where this process may have moved into a leaf "colo-test-<pid>-self" of its own cgroup, so
 * that the delegated cgroup can enable controllers for the scratch group). */
const char *scratch_cgroup_subtree(const ScratchCgroup *s);

/* Absolute path of the scratch group in the hierarchy that holds controller ("cpu", "memory",
 * "cpuacct", "name=systemd"; NULL for the v2 hierarchy), or NULL when it has none there. */
const char *scratch_cgroup_path(const ScratchCgroup *s, const char *controller);

/* True if the v1 hierarchy of controller is mounted (so v1 tests can run). */
bool scratch_cgroup_has_v1(const ScratchCgroup *s, const char *controller);

/* Kills every task left below the scratch group, removes it depth-first in every hierarchy and
 * frees s. Returns 0 when everything is gone, else -errno (what remains is reported on stderr). */
int scratch_cgroup_destroy(ScratchCgroup *s);

pid_t scratch_cgroup_reaper_pid(const ScratchCgroup *s);
/* The systemd slice the agent makes for offline work on cgroup v2 for this scratch group:
 * "colo\x2dtest\x2d<pid>\x2d<n>.offline.slice" (removed with the scratch group). */
void scratch_cgroup_offline_slice(const ScratchCgroup *s, char *buf, size_t size);

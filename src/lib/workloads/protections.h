/* Which protections colo can put in force on this node: the controllers it isolates with (cpu,
 * memory, io) in the managed root, the cpu.idle knob where the configuration wants it, and
 * whether offline work is idle next to the whole machine (PROTECTION_OFFLINE_TOP: its parent in
 * the root cgroup of the cpu hierarchy, not only idle among the managed subtree's groups). For
 * each one that is not in force, the cgroup, the cause and the fix, as the operator needs them.
 * The agent checks once at start (and logs each missing one once); `colo status` without an
 * agent checks in its snapshot. Reads cgroup files only. */
#pragma once

#include "policy/policy.h"
#include "status/status-doc.h"

typedef struct CgRoot CgRoot;

#define PROTECTION_OFFLINE_TOP "offline-idle-machine-wide"

/* Fills d->protections, d->isolation_in_force (cpu and memory in force) and sets
 * d->protections_checked. kubernetes: Kubernetes mode (offline pods are where kubelet puts
 * them). The PROTECTION_OFFLINE_TOP entry names the offline parent's cgroup even when in force. */
void protections_check(CgRoot *root, const PolicyConfig *cfg, bool kubernetes, StatusDoc *d);
/* Whether the protection named name ("cpu", "memory", "io", "cpu.idle", PROTECTION_OFFLINE_TOP)
 * is in force in d; true when d does not list it (not checked, or not wanted: nothing is
 * reported missing). Pure; the agent derives its controller metrics and readiness from it. */
bool protections_in_force(const StatusDoc *d, const char *name);

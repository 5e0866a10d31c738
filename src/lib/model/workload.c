/* String tables for classes and tiers. */
#include <string.h>

#include "model/workload.h"
#include "util/macro.h"

static const char *const class_names[_CLASS_MAX] = {
        [CLASS_ONLINE] = "online",
        [CLASS_OFFLINE] = "offline",
};

static const char *const tier_names[_TIER_MAX] = {
        [TIER_CRITICAL] = "critical",
        [TIER_NORMAL] = "normal",
        [TIER_BATCH] = "batch",
        [TIER_BEST_EFFORT] = "best-effort",
};

const char *workload_class_to_string(WorkloadClass c) {
        return c >= 0 && c < _CLASS_MAX ? class_names[c] : NULL;
}

WorkloadClass workload_class_from_string(const char *s) {
        for (int i = 0; s && i < _CLASS_MAX; i++)
                if (strcmp(s, class_names[i]) == 0)
                        return (WorkloadClass) i;
        return _CLASS_INVALID;
}

const char *workload_tier_to_string(WorkloadTier t) {
        return t >= 0 && t < _TIER_MAX ? tier_names[t] : NULL;
}

WorkloadTier workload_tier_from_string(const char *s) {
        for (int i = 0; s && i < _TIER_MAX; i++)
                if (strcmp(s, tier_names[i]) == 0)
                        return (WorkloadTier) i;
        return _TIER_INVALID;
}

WorkloadClass workload_tier_class(WorkloadTier t) {
        switch (t) {
        case TIER_CRITICAL:
        case TIER_NORMAL:
                return CLASS_ONLINE;
        case TIER_BATCH:
        case TIER_BEST_EFFORT:
                return CLASS_OFFLINE;
        default:
                return _CLASS_INVALID;
        }
}

WorkloadTier workload_class_default_tier(WorkloadClass c) {
        return c == CLASS_ONLINE ? TIER_NORMAL : c == CLASS_OFFLINE ? TIER_BATCH : _TIER_INVALID;
}

/* Prefixes of the kernel's cgroup interface files ("<controller>.<knob>", "cgroup.procs"): every
 * controller of cgroup v1 and v2 (linux/cgroup_subsys.h), plus "cgroup". A workload leaf lives
 * next to these files in its tier directory, so a name like "cpu.shares" would be a file, not a
 * group; refusing the whole "<controller>." family keeps names valid on every kernel, whatever
 * knobs it grows. Vendor controllers (openEuler's "files") are listed too. */
static const char *const interface_file_prefixes[] = {
        "cgroup", "cpu",     "cpuacct",  "cpuset", "memory", "io",   "blkio", "devices", "freezer", "net_cls",
        "net_prio", "perf_event", "hugetlb", "pids",   "rdma",   "misc", "dmem",  "debug",   "files",
};

/* v1 interface files without a dot. */
static const char *const interface_files_plain[] = { "tasks", "notify_on_release", "release_agent" };

const char *workload_name_problem(const char *name) {
        size_t n = name ? strlen(name) : 0;
        if (n == 0)
                return "empty";
        if (n >= WORKLOAD_NAME_MAX)
                return "too long";
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-' || c == '.'))
                        return "character outside A-Z a-z 0-9 _ . -";
        }
        /* Also covers "." and "..": hidden names are colo's own (and tools skip them). */
        if (name[0] == '.')
                return "starts with '.'";
        for (size_t i = 0; i < ELEMENTSOF(interface_files_plain); i++)
                if (strcmp(name, interface_files_plain[i]) == 0)
                        return "is the name of a cgroup interface file";
        const char *dot = strchr(name, '.');
        for (size_t i = 0; dot && i < ELEMENTSOF(interface_file_prefixes); i++) {
                size_t len = strlen(interface_file_prefixes[i]);
                if ((size_t) (dot - name) == len && strncmp(name, interface_file_prefixes[i], len) == 0)
                        return "looks like a cgroup interface file (<controller>.<knob>)";
        }
        return NULL;
}

bool workload_name_is_valid(const char *name) {
        return workload_name_problem(name) == NULL;
}

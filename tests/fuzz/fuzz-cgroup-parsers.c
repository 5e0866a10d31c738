/* Fuzz target for the text formats the cgroup and collect modules parse from the kernel: pressure
 * files, /proc/<pid>/cgroup, flat keyed files (cpu.stat, memory.stat, memory.events), limits,
 * cgroup.procs, cgroup.controllers, /proc/meminfo and CPU lists. Every parser sees every input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup/cgroup-internal.h"
#include "collect/collect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 65536)
                return 0;
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        CgPressure p;
        (void) cg_parse_pressure(text, &p);

        char path[256];
        static const char *const controllers[] = { "cpu", "cpuacct", "memory", "name=systemd", NULL };
        for (size_t i = 0; i < sizeof(controllers) / sizeof(controllers[0]); i++)
                (void) cg_parse_proc_cgroup(text, controllers[i], path, sizeof(path));
        (void) cg_parse_proc_cgroup(text, "cpu", path, 2);

        uint64_t v;
        static const char *const keys[] = { "usage_usec", "nr_throttled", "total_inactive_file", "oom_kill", "" };
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                (void) cg_parse_keyed_u64(text, keys[i], &v);
        (void) cg_parse_limit(text, &v);
        (void) cg_parse_controllers(text);
        CgKnobs throttles;
        cg_knobs_init(&throttles);
        for (CgV1Throttle t = 0; t < _CG_V1_THROTTLE_MAX; t++)
                (void) cg_parse_v1_throttle_rules(text, t, &throttles);

        pid_t *pids = NULL;
        size_t n = 0, cap = 0;
        (void) cg_parse_pids(text, &pids, &n, &cap);
        free(pids);

        uint64_t total, avail;
        (void) collect_parse_meminfo(text, &total, &avail);
        unsigned cpus;
        (void) collect_parse_cpu_list(text, &cpus);
        (void) cg_path_is_valid(text);

        free(text);
        return 0;
}

/* Node-level facts the policy needs every period: memory capacity and availability, usable CPUs
 * and host pressure, read from a configurable proc and sys root (tests point them at fixtures).
 * Parsing is pure and separate from the I/O so it can be unit tested and fuzzed. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cgroup/cgroup.h"
#include "util/error.h"

typedef struct CollectNode {
        uint64_t mem_total;             /* bytes, MemTotal */
        uint64_t mem_available;         /* bytes, MemAvailable (MemFree + Buffers + Cached on old kernels) */
        unsigned n_cpus;                /* CPUs online and usable by this process */
        CgPressure cpu_pressure, mem_pressure, io_pressure;     /* host PSI; !valid without PSI */
} CollectNode;

/* Reads <proc_root>/meminfo, <sys_root>/devices/system/cpu/online and <proc_root>/pressure/.
 * NULL roots mean "/proc" and "/sys"; with the real sys root the CPU count is also capped by this
 * process's affinity mask. Cost: 5 small file reads, no state kept. */
int collect_node(const char *proc_root, const char *sys_root, CollectNode *ret, ColoError *err);

/* Pure: MemTotal and MemAvailable of a /proc/meminfo text, in bytes. -EINVAL when MemTotal is
 * missing or a needed line is malformed. */
int collect_parse_meminfo(const char *text, uint64_t *ret_total, uint64_t *ret_available);

/* Pure: the number of CPUs in a kernel CPU list ("0-3,8,10-11\n"). -EINVAL if malformed. */
int collect_parse_cpu_list(const char *text, unsigned *ret_count);

/* One cumulative CPU-time sample: usage from a cgroup (CgUsage.cpu_usage_usec) and the monotonic
 * wall clock when it was read. */
typedef struct CollectCpuSample {
        uint64_t usage_usec;
        uint64_t wall_usec;
} CollectCpuSample;

/* Pure: cores used between two samples (delta usage / delta wall time). 0 when no wall time
 * passed or the counter went backwards (a recreated group). */
double collect_cpu_cores(const CollectCpuSample *prev, const CollectCpuSample *now);

/* What colo wants of a group's knobs and what it reads of a group's pressure, as plain data: the
 * pure core (policy, enforce's plans) decides in these types without linking the cgroup layer,
 * which alone turns them into cgroupfs writes (cgroup/cgroup.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sentinels for CgKnobs fields: CG_UNSET leaves a knob alone; CG_UNLIMITED writes "max"/-1. */
#define CG_UNSET UINT64_MAX
#define CG_UNLIMITED (UINT64_MAX - 1)
#define CG_UNSET_INT INT32_MIN
/* Largest pids.max the kernel takes (PID_MAX_LIMIT, 4M pids on 64-bit). */
#define CG_PIDS_MAX (UINT64_C(4) << 20)

typedef struct CgIoLimit {
        char device[32];                /* "MAJ:MIN" */
        uint64_t rbps, wbps, riops, wiops;      /* CG_UNSET / CG_UNLIMITED / value */
        /* v2 io.latency target of the group on this device; v1 has none. 0 or CG_UNSET: left
         * alone, CG_UNLIMITED: removed ("target=max"). Last so positional initialisers of the
         * throttles leave it alone. */
        uint64_t latency_usec;
} CgIoLimit;

#define CG_IO_LIMITS_MAX 8

/* What colo wants a group's knobs to be. Units are v2's; v1 converts (weights to shares and
 * blkio weights, CG_UNLIMITED to -1). mem_high/low/min exist only on v2 and mem_soft_limit only
 * on v1; each is ignored on the other. Fields left at the CG_UNSET sentinels are not touched.
 * Initialise with cg_knobs_init(). */
typedef struct CgKnobs {
        uint64_t cpu_weight;            /* 1..10000, v1: cpu.shares = weight * 1024 / 100 */
        int32_t cpu_idle;               /* 0/1: cpu.idle (SCHED_IDLE group) where the kernel has it */
        uint64_t cpu_quota_usec;        /* per period; CG_UNLIMITED = no quota */
        uint64_t cpu_period_usec;
        uint64_t cpu_burst_usec;
        char cpuset_cpus[256];          /* "" = unset */
        char cpuset_mems[64];           /* "" = unset */
        uint64_t mem_max;               /* v1 memory.limit_in_bytes */
        uint64_t mem_high;              /* v1: no equivalent; ignored there */
        uint64_t mem_low;               /* v2 only */
        uint64_t mem_min;               /* v2 only */
        uint64_t mem_soft_limit;        /* v1 memory.soft_limit_in_bytes; v2: ignored */
        uint64_t io_weight;             /* 1..10000 (v2 io.weight); v1 blkio.weight 10..1000 */
        CgIoLimit io_limits[CG_IO_LIMITS_MAX];
        size_t n_io_limits;
        int32_t oom_score_adj;          /* applied to every member task; CG_UNSET_INT = leave */
        int32_t cpu_qos_level;          /* openEuler cpu.qos_level (-1 offline, 0 online), if present */
        int32_t mem_qos_level;          /* openEuler memory.qos_level, if present */
        uint64_t pids_max;              /* pids.max (v1 and v2): 1..CG_PIDS_MAX, CG_UNLIMITED = "max" */
} CgKnobs;

/* Every field unset. */
static inline void cg_knobs_init(CgKnobs *k) {
        *k = (CgKnobs) {
                .cpu_weight = CG_UNSET,
                .cpu_idle = CG_UNSET_INT,
                .cpu_quota_usec = CG_UNSET,
                .cpu_period_usec = CG_UNSET,
                .cpu_burst_usec = CG_UNSET,
                .mem_max = CG_UNSET,
                .mem_high = CG_UNSET,
                .mem_low = CG_UNSET,
                .mem_min = CG_UNSET,
                .mem_soft_limit = CG_UNSET,
                .io_weight = CG_UNSET,
                .oom_score_adj = CG_UNSET_INT,
                .cpu_qos_level = CG_UNSET_INT,
                .mem_qos_level = CG_UNSET_INT,
                .pids_max = CG_UNSET,
        };
}

/* Pressure stall information of one resource, as in /proc/pressure/<res> or <cg>/<res>.pressure. */
typedef struct CgPressure {
        bool valid;
        double some_avg10, some_avg60, some_avg300;
        double full_avg10, full_avg60, full_avg300;
        uint64_t some_total_usec, full_total_usec;
} CgPressure;

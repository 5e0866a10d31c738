/* What colo sets on a systemd-managed cgroup through systemd's own API, so that systemd keeps it.
 * Pure: no bus, no files; the bus calls are systemd-bus.c's.
 *
 * On a slice systemd manages (kubelet's systemd driver makes kubepods.slice and its children as
 * transient slices), systemd rewrites every cgroup file it models from its unit properties on
 * `systemctl daemon-reload` and `systemctl set-property`: a cpu.idle 1 colo wrote reads 0 again,
 * memory.low colo wrote goes back to the unit's MemoryLow. So for the knobs systemd models colo
 * sets the matching unit property too (SetUnitProperties, runtime): CPUWeight (0 = "idle", which
 * systemd turns into cpu.idle 1, from systemd 252), CPUQuotaPerSecUSec/CPUQuotaPeriodUSec
 * (cpu.max), MemoryMin/Low/High/Max, TasksMax (pids.max) and IOWeight. Knobs systemd does not
 * model (io.max by device number, qos_level, oom_score_adj) stay cgroupfs writes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup/cgroup.h"

/* systemd's spelling of "no limit" and of "not set" for weights: UINT64_MAX on the bus. */
#define UNIT_PROP_INFINITY UINT64_MAX
/* CPUWeight 0 on the bus is systemd's "idle" (CGROUP_WEIGHT_IDLE): cpu.idle 1, cpu.weight left. */
#define UNIT_CPU_WEIGHT_IDLE UINT64_C(0)
/* Longest unit name systemd accepts (UNIT_NAME_MAX). */
#define UNIT_NAME_MAX 256

typedef enum UnitProp {
        UNIT_PROP_CPU_WEIGHT,
        UNIT_PROP_CPU_QUOTA_PER_SEC,
        UNIT_PROP_CPU_QUOTA_PERIOD,
        UNIT_PROP_MEMORY_MIN,
        UNIT_PROP_MEMORY_LOW,
        UNIT_PROP_MEMORY_HIGH,
        UNIT_PROP_MEMORY_MAX,
        UNIT_PROP_TASKS_MAX,
        UNIT_PROP_IO_WEIGHT,
        _UNIT_PROP_MAX,
} UnitProp;

#define UNIT_PROP_BIT(p) (1u << (p))

/* A set of unit properties, each a uint64 on the bus ("t"). Bits of mask say which are set. */
typedef struct UnitProps {
        unsigned mask;
        uint64_t value[_UNIT_PROP_MAX];
} UnitProps;

/* What colo wants systemd to hold for one unit. CPUWeight is owned in one of two ways: as a value
 * (idle, or the tier weight of an offline pod) or, where colo only wants the group not idle and
 * the weight is kubelet's, just "not idle": then any value but 0 matches, and 0 is reset to
 * systemd's default (UNIT_PROP_INFINITY) for kubelet to set again. */
typedef struct UnitWant {
        UnitProps props;
        bool cpu_not_idle;              /* CPUWeight owned only as "not 0"; props has no CPUWeight then */
} UnitWant;

/* The property's name on the bus ("CPUWeight", ...), NULL when out of range. */
const char *unit_prop_name(UnitProp p);

/* The systemd unit a cgroup path belongs to when that cgroup is a slice: the last component when it
 * is a valid slice unit name ("kubepods-besteffort.slice" of "kubepods.slice/kubepods-besteffort.slice").
 * Returns the length, -EINVAL when the cgroup is no slice (cgroupfs driver: "kubepods/besteffort")
 * or the name is not one systemd accepts, -ENOBUFS when buf is too small. */
int unit_slice_name(const char *cgroup_path, char *buf, size_t size);

/* Translates the knobs colo wants on a group into the unit properties systemd models. cpu_idle 1
 * becomes CPUWeight idle when idle_supported (systemd >= 252), otherwise colo owns no CPUWeight
 * (and says so: the caller reports that cpu.idle fades on the next daemon-reload). cpu_idle 0 with
 * a cpu_weight owns the weight; without one, only "not idle". CG_UNLIMITED is systemd's infinity,
 * CG_UNSET leaves the property alone. v1-only knobs (soft limit) are not translated. */
void unit_want_from_knobs(const CgKnobs *k, bool idle_supported, UnitWant *ret);

/* The properties of want that actual (as read back from systemd; bits of actual->mask are the
 * ones read) does not hold, as a mask: what to set again. A property not read back counts as
 * differing. The "not idle" rule adds UNIT_PROP_CPU_WEIGHT when actual's CPUWeight is idle. */
unsigned unit_want_diff(const UnitWant *want, const UnitProps *actual);

/* The value to send for property p of want (want->props, or UNIT_PROP_INFINITY for the "not
 * idle" reset of CPUWeight). */
uint64_t unit_want_value(const UnitWant *want, UnitProp p);

/* The mask of every property want owns (what to read back). */
unsigned unit_want_mask(const UnitWant *want);

/* Knobs onto systemd unit properties (unit-props.h): table lookups and integer arithmetic only. */
#include <errno.h>
#include <string.h>

#include "systemd/unit-props.h"
#include "util/macro.h"

static const char *const prop_names[_UNIT_PROP_MAX] = {
        [UNIT_PROP_CPU_WEIGHT] = "CPUWeight",
        [UNIT_PROP_CPU_QUOTA_PER_SEC] = "CPUQuotaPerSecUSec",
        [UNIT_PROP_CPU_QUOTA_PERIOD] = "CPUQuotaPeriodUSec",
        [UNIT_PROP_MEMORY_MIN] = "MemoryMin",
        [UNIT_PROP_MEMORY_LOW] = "MemoryLow",
        [UNIT_PROP_MEMORY_HIGH] = "MemoryHigh",
        [UNIT_PROP_MEMORY_MAX] = "MemoryMax",
        [UNIT_PROP_TASKS_MAX] = "TasksMax",
        [UNIT_PROP_IO_WEIGHT] = "IOWeight",
};

/* The kernel's default CFS period, when colo sets a quota without one. */
#define DEFAULT_CPU_PERIOD_USEC UINT64_C(100000)
/* systemd refuses CPUQuotaPerSecUSec 0 and writes at least 1 ms per period anyway. */
#define MIN_CPU_QUOTA_PER_SEC_USEC UINT64_C(1000)

const char *unit_prop_name(UnitProp p) {
        return p >= 0 && p < _UNIT_PROP_MAX ? prop_names[p] : NULL;
}

static bool unit_char_ok(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ':' || c == '_' ||
               c == '.' || c == '-' || c == '\\';
}

int unit_slice_name(const char *cgroup_path, char *buf, size_t size) {
        static const char suffix[] = ".slice";
        if (!cgroup_path)
                return -EINVAL;
        size_t n = strlen(cgroup_path);
        while (n > 0 && cgroup_path[n - 1] == '/')
                n--;
        size_t start = n;
        while (start > 0 && cgroup_path[start - 1] != '/')
                start--;
        const char *name = cgroup_path + start;
        size_t len = n - start;
        if (len <= strlen(suffix) || len >= UNIT_NAME_MAX || memcmp(name + len - strlen(suffix), suffix, strlen(suffix)) != 0)
                return -EINVAL;
        size_t prefix = len - strlen(suffix);
        /* systemd's slice names: '-' separates the parents, so no leading, trailing or double dash. */
        if (name[0] == '-' || name[prefix - 1] == '-')
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!unit_char_ok(name[i]) || (i > 0 && i < prefix && name[i] == '-' && name[i - 1] == '-'))
                        return -EINVAL;
        if (len >= size)
                return -ENOBUFS;
        memcpy(buf, name, len);
        buf[len] = '\0';
        return (int) len;
}

static void set_prop(UnitProps *p, UnitProp which, uint64_t v) {
        p->mask |= UNIT_PROP_BIT(which);
        p->value[which] = v;
}

/* A byte or count knob: CG_UNLIMITED is systemd's infinity. */
static void set_limit(UnitProps *p, UnitProp which, uint64_t knob) {
        if (knob != CG_UNSET)
                set_prop(p, which, knob == CG_UNLIMITED ? UNIT_PROP_INFINITY : knob);
}

static void want_cpu(const CgKnobs *k, bool idle_supported, UnitWant *w) {
        if (k->cpu_idle == 1) {
                if (idle_supported)
                        set_prop(&w->props, UNIT_PROP_CPU_WEIGHT, UNIT_CPU_WEIGHT_IDLE);
        } else if (k->cpu_weight != CG_UNSET) {
                set_prop(&w->props, UNIT_PROP_CPU_WEIGHT, CLAMP(k->cpu_weight, UINT64_C(1), UINT64_C(10000)));
        } else if (k->cpu_idle == 0 && idle_supported) {
                w->cpu_not_idle = true;
        }
        if (k->cpu_quota_usec == CG_UNSET)
                return;
        uint64_t period = k->cpu_period_usec != CG_UNSET && k->cpu_period_usec > 0 ? k->cpu_period_usec
                                                                                   : DEFAULT_CPU_PERIOD_USEC;
        if (k->cpu_quota_usec == CG_UNLIMITED) {
                set_prop(&w->props, UNIT_PROP_CPU_QUOTA_PER_SEC, UNIT_PROP_INFINITY);
                return;
        }
        /* quota per period as quota per second; 128-bit so a huge quota cannot wrap. */
        unsigned __int128 per_sec = (unsigned __int128) k->cpu_quota_usec * USEC_PER_SEC / period;
        uint64_t v = per_sec > UINT64_MAX - 1 ? UINT64_MAX - 1 : (uint64_t) per_sec;
        set_prop(&w->props, UNIT_PROP_CPU_QUOTA_PER_SEC, MAX(v, MIN_CPU_QUOTA_PER_SEC_USEC));
        set_prop(&w->props, UNIT_PROP_CPU_QUOTA_PERIOD, period);
}

void unit_want_from_knobs(const CgKnobs *k, bool idle_supported, UnitWant *ret) {
        *ret = (UnitWant) {};
        want_cpu(k, idle_supported, ret);
        set_limit(&ret->props, UNIT_PROP_MEMORY_MIN, k->mem_min);
        set_limit(&ret->props, UNIT_PROP_MEMORY_LOW, k->mem_low);
        set_limit(&ret->props, UNIT_PROP_MEMORY_HIGH, k->mem_high);
        set_limit(&ret->props, UNIT_PROP_MEMORY_MAX, k->mem_max);
        set_limit(&ret->props, UNIT_PROP_TASKS_MAX, k->pids_max);
        if (k->io_weight != CG_UNSET)
                set_prop(&ret->props, UNIT_PROP_IO_WEIGHT, CLAMP(k->io_weight, UINT64_C(1), UINT64_C(10000)));
}

unsigned unit_want_mask(const UnitWant *want) {
        return want->props.mask | (want->cpu_not_idle ? UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT) : 0u);
}

unsigned unit_want_diff(const UnitWant *want, const UnitProps *actual) {
        unsigned diff = 0;
        for (int p = 0; p < _UNIT_PROP_MAX; p++) {
                unsigned bit = UNIT_PROP_BIT(p);
                if (!(want->props.mask & bit))
                        continue;
                if (!(actual->mask & bit) || actual->value[p] != want->props.value[p])
                        diff |= bit;
        }
        unsigned cpu = UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT);
        if (want->cpu_not_idle && (actual->mask & cpu) && actual->value[UNIT_PROP_CPU_WEIGHT] == UNIT_CPU_WEIGHT_IDLE)
                diff |= cpu;
        return diff;
}

uint64_t unit_want_value(const UnitWant *want, UnitProp p) {
        if (p == UNIT_PROP_CPU_WEIGHT && want->cpu_not_idle)
                return UNIT_PROP_INFINITY;
        return p >= 0 && p < _UNIT_PROP_MAX ? want->props.value[p] : UNIT_PROP_INFINITY;
}

/* Owning knobs on systemd's slices through systemd (systemd-slices.h): per unit, what colo last
 * put in force, so that a property systemd lost later is told apart from a first setting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/systemd-slices.h"
#include "k8s/pod-cgroup.h"
#include "policy/policy.h"
#include "systemd/systemd-bus.h"
#include "systemd/unit-props.h"
#include "util/log.h"

typedef struct SliceUnit {
        char name[UNIT_NAME_MAX];
        UnitWant in_force;              /* what systemd held after colo's last successful read or set */
        bool has_in_force;
        bool failing;                   /* the last read or set failed: logged once until it works */
        bool seen;                      /* in this period's plan */
        uint64_t restores;              /* times systemd lost colo's settings on this unit */
} SliceUnit;

struct AgentSlices {
        Agent *agent;
        SystemdBus *bus;
        bool idle_supported;
        SliceUnit *units;
        size_t n_units, cap_units;
};

AgentSlices *agent_slices_new_on_bus(Agent *a, SystemdBus *bus, bool idle_supported) {
        AgentSlices *s = calloc(1, sizeof(*s));
        if (!s) {
                systemd_bus_free(bus);
                log_error("Out of memory.");
                return NULL;
        }
        s->agent = a;
        s->bus = bus;
        s->idle_supported = idle_supported;
        return s;
}

AgentSlices *agent_slices_new(Agent *a) {
        ColoError err = {};
        SystemdBus *bus = NULL;
        if (systemd_bus_open(&bus, &err) < 0) {
                log_error("kubelet's cgroup driver is systemd but colo cannot reach systemd (%s): the knobs colo writes on "
                          "kubelet's slices are lost on every 'systemctl daemon-reload'. Run the agent where it can reach "
                          "/run/dbus/system_bus_socket.", colo_error_msg(&err));
                return NULL;
        }
        AgentSlices *s = agent_slices_new_on_bus(a, bus, systemd_supports_cpu_idle(bus));
        if (s && !s->idle_supported)
                log_error("systemd here is older than 252 and has no CPUWeight=idle: cpu.idle on kubelet's besteffort "
                          "slice is colo's write only and reads 0 after each 'systemctl daemon-reload' until colo's next "
                          "period. Upgrade systemd to keep offline isolation across reloads.");
        return s;
}

AgentSlices *agent_slices_free(AgentSlices *s) {
        if (!s)
                return NULL;
        systemd_bus_free(s->bus);
        free(s->units);
        free(s);
        return NULL;
}

static SliceUnit *find_unit(AgentSlices *s, const char *name) {
        for (size_t i = 0; i < s->n_units; i++)
                if (strcmp(s->units[i].name, name) == 0)
                        return &s->units[i];
        if (s->n_units == s->cap_units) {
                size_t cap = s->cap_units ? s->cap_units * 2 : 8;
                SliceUnit *u = realloc(s->units, cap * sizeof(*u));
                if (!u)
                        return NULL;
                s->units = u;
                s->cap_units = cap;
        }
        SliceUnit *u = &s->units[s->n_units++];
        *u = (SliceUnit) {};
        snprintf(u->name, sizeof(u->name), "%s", name);
        return u;
}

/* "CPUWeight=50 MemoryLow=..." of the properties of mask as actual holds them, for the log. */
static void describe(const UnitProps *actual, unsigned mask, char *buf, size_t size) {
        size_t off = 0;
        buf[0] = '\0';
        for (int p = 0; p < _UNIT_PROP_MAX && off < size; p++) {
                if (!(mask & UNIT_PROP_BIT(p)))
                        continue;
                int k = (actual->mask & UNIT_PROP_BIT(p)) && actual->value[p] != UNIT_PROP_INFINITY
                                ? snprintf(buf + off, size - off, "%s%s=%llu", off ? " " : "", unit_prop_name(p),
                                           (unsigned long long) actual->value[p])
                                : snprintf(buf + off, size - off, "%s%s=%s", off ? " " : "", unit_prop_name(p),
                                           (actual->mask & UNIT_PROP_BIT(p)) ? "infinity" : "?");
                off += k > 0 ? (size_t) k : 0;
        }
}

static bool same_want(const UnitWant *a, const UnitWant *b) {
        return memcmp(a, b, sizeof(*a)) == 0;
}

static void report_failure(SliceUnit *u, const char *what, const ColoError *err) {
        if (!u->failing)
                log_warning("Cannot %s systemd unit '%s': %s; colo's cgroupfs writes stand until systemd's next reload, "
                            "retrying every period.", what, u->name, colo_error_msg(err));
        u->failing = true;
}

static void apply_unit(AgentSlices *s, SliceUnit *u, const UnitWant *want) {
        ColoError err = {};
        UnitProps actual = {};
        unsigned mask = unit_want_mask(want);
        if (systemd_unit_read(s->bus, u->name, mask, &actual, &err) < 0)
                return report_failure(u, "read back", &err);
        unsigned diff = unit_want_diff(want, &actual);
        if (diff == 0) {
                u->in_force = *want;
                u->has_in_force = true;
                u->failing = false;
                return;
        }
        char was[256];
        describe(&actual, diff, was, sizeof(was));
        if (s->agent->opts.dry_run) {
                log_debug("Dry run: would set %s on systemd unit '%s'.", was, u->name);
                return;
        }
        if (systemd_unit_set(s->bus, u->name, want, diff, &err) < 0) {
                s->agent->metrics.systemd_failures_total++;
                return report_failure(u, "set properties of", &err);
        }
        /* Lost behind colo's back (daemon-reload over a persistent setting, set-property, kubelet's
         * own update): the same want was in force before. */
        if (u->has_in_force && same_want(&u->in_force, want)) {
                s->agent->metrics.systemd_restores_total++;
                /* kubelet resets the QoS slices' CPUWeight about once a minute: warn the first
                 * time, then keep it to the info level (the metric counts every one). */
                log_emit(u->restores++ == 0 ? LOG_WARNING : LOG_INFO,
                         "systemd unit '%s' no longer held colo's settings (%s): restored.", u->name, was);
        } else {
                log_debug("Set on systemd unit '%s' (was %s).", u->name, was);
        }
        u->in_force = *want;
        u->has_in_force = true;
        u->failing = false;
}

void agent_slices_hold(AgentSlices *s, const char *unit, const UnitWant *want) {
        if (!s)
                return;
        SliceUnit *u = find_unit(s, unit);
        if (u)
                apply_unit(s, u, want);
        else
                log_error("Out of memory.");
}

void agent_slices_apply(AgentSlices *s, const Plan *mapped) {
        if (!s || !mapped)
                return;
        const GroupPlan *groups = mapped->groups;
        size_t n = mapped->n_groups;
        for (size_t i = 0; i < s->n_units; i++)
                s->units[i].seen = false;
        for (size_t i = 0; i < n; i++) {
                char path[512], name[UNIT_NAME_MAX];
                snprintf(path, sizeof(path), "%s/%s", s->agent->subtree, groups[i].path);
                if (unit_slice_name(path, name, sizeof(name)) < 0)
                        continue;
                UnitWant want;
                unit_want_from_knobs(&groups[i].knobs, s->idle_supported, &want);
                if (unit_want_mask(&want) == 0)
                        continue;
                SliceUnit *u = find_unit(s, name);
                if (!u) {
                        log_error("Out of memory.");
                        return;
                }
                u->seen = true;
                apply_unit(s, u, &want);
        }
        /* Units no longer in the plan (pods gone) are forgotten. */
        size_t kept = 0;
        for (size_t i = 0; i < s->n_units; i++)
                if (s->units[i].seen)
                        s->units[kept++] = s->units[i];
        s->n_units = kept;
}

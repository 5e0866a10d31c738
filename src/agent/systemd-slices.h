/* Kubernetes mode on kubelet's systemd driver (cgroup v2): the knobs colo owns on kubelet's
 * slices are set through systemd too, and read back from systemd every period, so a
 * `systemctl daemon-reload` or `systemctl set-property` does not take them away for longer than
 * one period (src/lib/systemd/unit-props.h says which knobs). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct Agent Agent;
typedef struct AgentSlices AgentSlices;
typedef struct Plan Plan;
typedef struct SystemdBus SystemdBus;
typedef struct UnitWant UnitWant;

/* Connects to systemd; NULL (after logging why, loudly) when there is no system bus or no
 * systemd on it: colo's cgroupfs writes then stand alone. */
AgentSlices *agent_slices_new(Agent *a);
/* On a bus the caller opened (standalone mode's offline slice, offline-slice.c): takes it. */
AgentSlices *agent_slices_new_on_bus(Agent *a, SystemdBus *bus, bool idle_supported);
AgentSlices *agent_slices_free(AgentSlices *s);        /* NULL-safe, returns NULL */

/* After enforce_apply(): for each group of the mapped plan (onto kubelet's tree) whose cgroup is a slice (relative to a->subtree, the kubepods
 * slice): reads back the unit properties colo owns there and sets those systemd does not hold.
 * A property colo had in force and systemd lost counts in a->metrics.systemd_restores_total and is
 * logged with the unit. NULL s: nothing. O(groups x owned properties) bus calls. */
void agent_slices_apply(AgentSlices *s, const Plan *mapped);

/* One unit outside any plan (the offline slice): reads back what want owns and sets what systemd
 * lost, counted and logged as for a pod's slice. NULL s: nothing. */
void agent_slices_hold(AgentSlices *s, const char *unit, const UnitWant *want);

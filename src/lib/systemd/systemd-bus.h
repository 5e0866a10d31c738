/* The thin layer between colo and systemd's D-Bus API (org.freedesktop.systemd1 on the system
 * bus), with libsystemd's sd-bus: the only code of colo that talks to the bus. Calls are
 * synchronous and bounded by a short method-call timeout, so a hung systemd costs the agent at
 * most that per call and never the loop. What to set is decided in unit-props.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "systemd/offline-units.h"
#include "systemd/unit-props.h"
#include "util/error.h"

typedef struct SystemdBus SystemdBus;

/* Longest a single call to systemd may take before colo gives up on it for this period. */
#define SYSTEMD_BUS_CALL_TIMEOUT_USEC (500 * USEC_PER_MSEC)

/* Connects to the system bus. -errno (ENOENT, ECONNREFUSED: no systemd here) with err set. */
int systemd_bus_open(SystemdBus **ret, ColoError *err);
SystemdBus *systemd_bus_free(SystemdBus *b);   /* NULL-safe, returns NULL */

/* Reads the properties of mask from unit's slice interface into *ret (ret->mask: those read).
 * -ENOENT when systemd has no such unit loaded, other -errno with err set. O(bits of mask) calls. */
int systemd_unit_read(SystemdBus *b, const char *unit, unsigned mask, UnitProps *ret, ColoError *err);

/* SetUnitProperties(unit, runtime=true, ...) with the properties of mask, their values from
 * unit_want_value(): systemd stores them under /run (gone at reboot, kept across daemon-reload)
 * and writes the cgroup files. -EINVAL (with err naming the property) when systemd refuses a value,
 * -ENOENT for no such unit. */
int systemd_unit_set(SystemdBus *b, const char *unit, const UnitWant *want, unsigned mask, ColoError *err);

/* Whether this systemd takes CPUWeight=idle: its Version (Manager property) is 252 or newer.
 * false when it cannot be read. */
bool systemd_supports_cpu_idle(SystemdBus *b);

/* The unit's ActiveState ("active", "inactive", "failed", ...) into buf; a unit systemd has not
 * loaded reads "inactive". -errno with err set. */
int systemd_unit_active_state(SystemdBus *b, const char *unit, char *buf, size_t size, ColoError *err);

/* StartTransientUnit(unit, "fail", props): makes the unit and waits for its start job, then checks
 * it is active. -EEXIST when systemd already has a unit of that name (err names it), -EINVAL when
 * it refuses a property, -EIO when the unit is not active after its job, other -errno. Bounded:
 * one call plus up to 2 s of polls every 10 ms for the job. */
int systemd_start_transient(SystemdBus *b, const char *unit, const TransientProp *props, size_t n, ColoError *err);

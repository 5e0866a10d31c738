/* kubelet's pod slices as its systemd driver (runc's libcontainer/cgroups/systemd) makes them,
 * next to a real systemd (the VM of tests/vm): transient slices started through systemd's
 * StartTransientUnit, and their unit properties read back from systemd. The slices are top-level
 * units of the machine: only for tests that run in the VM. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-bus.h>

/* Starts the transient slice name ("kubepods-besteffort.slice"): no default dependencies, Wants=
 * its parent (systemd derives it from the name: start parents first), accounting on for every
 * controller (which makes systemd enable them for it), and cpu_weight (kubelet's CPU shares of it
 * as runc converts them). Returns 0, or a negative errno with the reason in err. */
int kubelet_slice_start(sd_bus *bus, const char *name, uint64_t cpu_weight, char *err, size_t err_size);

/* The uint64 unit property prop ("MemoryMax", "CPUQuotaPerSecUSec") systemd holds for the slice
 * name. Returns 0, or a negative errno with the reason in err. */
int kubelet_slice_property(sd_bus *bus, const char *name, const char *prop, uint64_t *ret, char *err, size_t err_size);

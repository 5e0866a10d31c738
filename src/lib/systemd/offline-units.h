/* The systemd units that hold offline work idle next to the whole machine on cgroup v2 (agent
 * offline-slice.c makes them, the cgroup layer only gets the resulting directory). Pure: names,
 * paths and the properties to send, no bus and no files.
 *
 * Layout, for a managed subtree whose last component is "colo":
 *
 *   /sys/fs/cgroup/colo.offline.slice/           CPUWeight=idle (cpu.idle 1), a child of -.slice
 *     colo.offline.scope/                        Delegate=yes: colo owns everything below
 *       holder/                                  the holder process the scope needs
 *       offline/{batch,best-effort}/<name>       the tree's "offline"
 *
 * A slice, not the scope, carries CPUWeight=idle: systemd keeps the top of the tree and rewrites
 * slices' files on daemon-reload from their properties, and slices cannot be delegated; the scope
 * can, so systemd leaves colo's groups alone. The holder sits in a leaf of its own because cgroup
 * v2 keeps processes out of a group whose children have controllers. The names derive from the
 * subtree's last component, escaped as systemd escapes unit name prefixes ('-' would make the slice
 * a child of another slice), so two agents with different subtrees never share a slice. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "systemd/unit-props.h"

/* The tree's offline group inside the scope, and the holder's leaf. */
#define OFFLINE_UNITS_HOLDER_LEAF "holder"

typedef struct OfflineUnits {
        char slice[UNIT_NAME_MAX];      /* "colo.offline.slice" */
        char scope[UNIT_NAME_MAX];      /* "colo.offline.scope" */
        char dir[2 * UNIT_NAME_MAX + 2];        /* "/colo.offline.slice/colo.offline.scope", from the v2 root */
} OfflineUnits;

/* systemd's escaping of one path component as a unit name prefix (unit_name_escape()): every
 * character outside [A-Za-z0-9:_.] (a '-' and a backslash too, and a leading '.') becomes "\xNN".
 * Length, or -ENOBUFS, -EINVAL for an empty s. */
int unit_escape_prefix(const char *s, char *buf, size_t size);

/* The units of a managed subtree ("colo", "/colo.slice/colo", "a/colo-test-7-0/"): from its last
 * component. -EINVAL for an empty one, -ENAMETOOLONG beyond systemd's UNIT_NAME_MAX. */
int offline_units_for_subtree(const char *subtree, OfflineUnits *ret);

/* One property of a StartTransientUnit call, as it goes on the bus: "t" (value), "b" (value 0/1),
 * "s" (str) or "au" (one pid: value). */
typedef struct TransientProp {
        const char *name;
        char type;                      /* 't', 'b', 's', or 'u' for an array of one uint32 */
        uint64_t value;
        const char *str;
} TransientProp;

#define TRANSIENT_PROPS_MAX 6

/* The properties of the slice: CPUWeight=idle and a description. Count of props filled. */
size_t offline_units_slice_props(const OfflineUnits *u, TransientProp props[static TRANSIENT_PROPS_MAX]);
/* The properties of the scope: in the slice, Delegate=yes, the holder's pid, collected when it
 * ends or fails (so the name can be made again), a description. Count of props filled. */
size_t offline_units_scope_props(const OfflineUnits *u, pid_t holder, TransientProp props[static TRANSIENT_PROPS_MAX]);

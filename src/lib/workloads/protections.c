/* The protections check (protections.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup.h"
#include "workloads/protections.h"

static const struct {
        CgController c;
        const char *name, *knobs, *v1_hierarchy;
} needed[] = {
        { CG_CTRL_CPU, "cpu", "cpu.idle, cpu.weight and cpu.max", "cpu,cpuacct" },
        { CG_CTRL_MEMORY, "memory", "memory.low, memory.min and memory.max", "memory" },
        { CG_CTRL_IO, "io", "io.weight and io.max", "blkio" },
};

static StatusProtection *add(StatusDoc *d, const char *name, bool in_force) {
        if (d->n_protections >= STATUS_PROTECTIONS_MAX)
                return NULL;
        StatusProtection *p = &d->protections[d->n_protections++];
        *p = (StatusProtection) { .in_force = in_force };
        snprintf(p->name, sizeof(p->name), "%s", name);
        return p;
}

static void check_controller(CgRoot *root, size_t i, StatusDoc *d) {
        bool v2 = cg_root_mode(root) == CG_MODE_V2;
        bool present = cg_root_has_controller(root, needed[i].c);
        StatusProtection *p = add(d, needed[i].name, present);
        if (!p || present)
                return;
        const char *path = cg_root_path(root, v2 ? needed[i].c : CG_CTRL_CPU);
        snprintf(p->cgroup, sizeof(p->cgroup), "%s", path ?: cg_root_describe(root));
        char why[1024] = "", fix[512] = "";
        if (v2 && cg_root_explain_missing(root, needed[i].c, why, sizeof(why), fix, sizeof(fix)) == 0) {
                snprintf(p->cause, sizeof(p->cause), "no '%s' controller in the managed root, so colo cannot set %s: %s",
                         needed[i].name, needed[i].knobs, why);
                snprintf(p->fix, sizeof(p->fix), "%s", fix);
                return;
        }
        snprintf(p->cause, sizeof(p->cause), "no '%s' controller in the managed root, so colo cannot set %s: the v1 "
                 "'%s' hierarchy is not mounted", needed[i].name, needed[i].knobs, needed[i].v1_hierarchy);
        snprintf(p->fix, sizeof(p->fix), "mount the '%s' hierarchy (mount -t cgroup -o %s cgroup /sys/fs/cgroup/%s)",
                 needed[i].v1_hierarchy, needed[i].v1_hierarchy, needed[i].v1_hierarchy);
}

/* cpu.idle (SCHED_IDLE groups, Linux 5.15): what keeps offline work from delaying online work's
 * wake-ups. Checked on the managed root, a non-root cgroup that has it wherever the kernel does. */
static void check_cpu_idle(CgRoot *root, StatusDoc *d) {
        CgGroup *g = NULL;
        if (cg_group_open(root, "", false, &g, NULL) < 0)
                return;
        bool has = cg_group_has_file(g, CG_CTRL_CPU, "cpu.idle");
        cg_group_free(g);
        StatusProtection *p = add(d, "cpu.idle", has);
        if (!p || has)
                return;
        snprintf(p->cgroup, sizeof(p->cgroup), "%s", cg_root_path(root, CG_CTRL_CPU) ?: "");
        snprintf(p->cause, sizeof(p->cause), "the kernel has no cpu.idle (SCHED_IDLE cgroups, Linux 5.15 and later), "
                 "so offline work is not preempted at online work's wake-ups");
        snprintf(p->fix, sizeof(p->fix), "boot Linux 5.15 or later; meanwhile keep features.cpu_quota at auto (or "
                 "true) so a CFS quota holds offline work to its budget");
}

/* Why offline work is not idle next to the whole machine, and the fix; NULL when it is. */
static const char *offline_top_cause(const CgTopGroup *t, bool kubernetes, bool cpu_idle, const char **ret_fix) {
        if (kubernetes) {
                *ret_fix = "reserve CPU for the system daemons outside kubepods with kubelet's --system-reserved "
                           "and --kube-reserved (with --enforce-node-allocatable), which bound kubepods' share; colo "
                           "does not move pods out of kubelet's tree";
                return "Kubernetes mode: offline pods are in kubelet's kubepods group, an ordinary top-level group, "
                       "so they are idle only among the pods; system daemons outside kubepods compete with them at "
                       "kubepods' weight, without wake-up preemption";
        }
        if (!cpu_idle) {
                *ret_fix = "set features.cpu_idle: true";
                return "features.cpu_idle is off: the offline parent is an ordinary group wherever it is";
        }
        if (!t->requested) {
                *ret_fix = "set agent.offline_placement: top (the default) and restart the agent while no offline "
                           "work runs";
                return "agent.offline_placement is subtree: the offline parent is idle only among the managed "
                       "subtree's groups, and processes outside the subtree compete with offline work at the "
                       "subtree's weight, without wake-up preemption";
        }
        if (t->error == -EOPNOTSUPP) {
                *ret_fix = "run the agent in standalone mode where it reaches systemd 252 or newer on the system bus "
                           "(/run/dbus/system_bus_socket): it then makes a top-level slice with CPUWeight=idle for "
                           "offline work; meanwhile give the services colo does not manage a higher CPUWeight than "
                           "the unit holding colo's subtree (systemctl set-property UNIT CPUWeight=N)";
                return t->cause;
        }
        if (!t->placed) {
                *ret_fix = "let the agent create the group next to its subtree (root, a writable cgroupfs); for a "
                           "tree made in the old layout, restart the agent once its offline work has ended (it "
                           "removes the empty old groups and makes the new one)";
                return t->cause;
        }
        if (!t->parent_is_root && t->in_systemd_unit) {
                *ret_fix = "the agent sets CPUWeight=idle on the slice again every period (systemctl set-property "
                           "SLICE CPUWeight=idle does it by hand); its log has systemd's answer when that fails";
                return t->cause;
        }
        if (!t->parent_is_root) {
                *ret_fix = "start the agent in the root cgroup of the cpu hierarchy, or set agent.subtree to an "
                           "absolute path directly below the root (\"/colo\")";
                return "the offline parent is idle only among the groups of its parent cgroup, an ordinary group: "
                       "processes outside that cgroup compete with offline work at its weight";
        }
        return NULL;
}

static void check_offline_top(CgRoot *root, const PolicyConfig *cfg, bool kubernetes, StatusDoc *d) {
        const CgTopGroup *t = cg_root_top_group(root);
        const char *fix = "";
        const char *cause = offline_top_cause(t, kubernetes, cfg->cpu_idle, &fix);
        StatusProtection *p = add(d, PROTECTION_OFFLINE_TOP, cause == NULL);
        if (!p)
                return;
        if (kubernetes || !t->requested)        /* the cgroup layer knows the path only when asked to place it */
                snprintf(p->cgroup, sizeof(p->cgroup), "%s%s", cg_root_path(root, CG_CTRL_CPU) ?: "",
                         kubernetes ? "" : "/offline");
        else
                snprintf(p->cgroup, sizeof(p->cgroup), "%s", t->path);
        if (!cause)
                return;
        snprintf(p->cause, sizeof(p->cause), "offline work is not idle next to the whole machine: %s", cause);
        snprintf(p->fix, sizeof(p->fix), "%s", fix);
}

void protections_check(CgRoot *root, const PolicyConfig *cfg, bool kubernetes, StatusDoc *d) {
        d->n_protections = 0;
        for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
                check_controller(root, i, d);
        if (cfg->cpu_idle && cg_root_has_controller(root, CG_CTRL_CPU))
                check_cpu_idle(root, d);
        if (cg_root_has_controller(root, CG_CTRL_CPU))
                check_offline_top(root, cfg, kubernetes, d);
        d->isolation_in_force = protections_in_force(d, "cpu") && protections_in_force(d, "memory");
        d->protections_checked = true;
}

bool protections_in_force(const StatusDoc *d, const char *name) {
        for (size_t i = 0; i < d->n_protections; i++)
                if (strcmp(d->protections[i].name, name) == 0)
                        return d->protections[i].in_force;
        return true;
}

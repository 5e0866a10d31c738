/* The agent's own share of the CPU. With features.root_cpu_weight the managed root weighs as much
 * as online work, and the agent lives beside it: on v1 usually as a task in the root's parent, on
 * v2 in its leaf "<own>/agent". At the kernel's default weight it then gets almost no CPU while
 * online work keeps every CPU busy, which is exactly when the CPU controller has to react
 * (docs/benchmarks.md, section 5; a nice value does not help, cgroup-self.c has the figures). So
 * in standalone mode the agent keeps itself in a group of its own beside the root with the root's
 * weight: on v1 "<subtree name>.agent" in the cpu hierarchy, on v2 its leaf's cpu.weight (with an
 * absolute subtree, the cgroup it runs in when that is the root's sibling; anywhere else on v2 the
 * root competes only with its own siblings, never with the agent's cgroup). Held
 * every period like any knob (another writer, or systemd moving the agent back on v1, is undone
 * and logged); a failure leaves the agent running and says so loudly. Kubernetes mode leaves
 * kubepods' weight to kubelet, so there is nothing to keep up with; agent.own_cpu_group: false
 * leaves the agent where it was started (the ablation's colo-agent-in-place measures the cost
 * of its wake-ups at that weight to online work). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "policy/policy.h"
#include "util/log.h"

static void log_not_in_force(Agent *a, const char *where, const char *why) {
        if (a->own_group_failed)
                return;         /* once until it recovers */
        a->own_group_failed = true;
        log_error("Protection not in force: the agent's own CPU share, '%s' at the managed root's weight: %s. While "
                  "online work keeps every CPU busy the agent may react late. Fix: let the agent write there, or set "
                  "features.root_cpu_weight: false.", where, why);
}

static void hold_v2_leaf(Agent *a, uint64_t weight) {
        const char *fs_root = a->config.agent.cgroup_fs_root[0] ? a->config.agent.cgroup_fs_root : NULL;
        char where[sizeof(a->own_leaf_dir) + sizeof(a->own_leaf_name)], now[32] = "", value[32];
        snprintf(where, sizeof(where), "%s/%s", a->own_leaf_dir, a->own_leaf_name);
        snprintf(value, sizeof(value), "%" PRIu64, weight);
        if (cg_v2_leaf_read(fs_root, a->own_leaf_dir, a->own_leaf_name, "cpu.weight", now, sizeof(now)) >= 0 &&
            strtoull(now, NULL, 10) == weight) {
                a->own_group_failed = false;
                return;
        }
        ColoError err = {};
        if (cg_v2_leaf_write(fs_root, a->own_leaf_dir, a->own_leaf_name, "cpu.weight", value, &err) < 0)
                return log_not_in_force(a, where, colo_error_msg(&err));
        a->own_group_failed = false;
        log_info("cgroup write: %s/cpu.weight = %s (the agent's own leaf, at the managed root's weight).", where, value);
}

static void hold_v1_group(Agent *a, uint64_t weight) {
        CgSelfGroup g;
        ColoError err = {};
        if (cg_root_keep_self_beside(a->root, weight, &g, &err) < 0)
                return log_not_in_force(a, g.path[0] ? g.path : "<subtree>.agent", colo_error_msg(&err));
        a->own_group_failed = false;
        if (g.shares_written)
                log_info("cgroup write: %s/cpu.shares = %" PRIu64 " (the agent's own group, at the managed root's weight).",
                         g.path, cg_weight_to_shares(weight));
        if (g.moved)
                log_info("Moved the agent into its own cpu group '%s' beside the managed root.", g.path);
}

void agent_own_group_hold(Agent *a) {
        if (a->opts.dry_run || a->config.kubernetes.enabled || !a->config.agent.own_cpu_group)
                return;
        uint64_t weight = policy_root_cpu_weight(&a->config.policy);
        if (cg_root_mode(a->root) != CG_MODE_V2)
                hold_v1_group(a, weight);
        else if (a->own_leaf_name[0])   /* beside the root; elsewhere the root's weight is not its rival */
                hold_v2_leaf(a, weight);
}

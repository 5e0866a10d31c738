/* The Agent object: start-up (configuration, state directory and its lock, the managed tree,
 * tracker, enforcement state, event loop, fast-reaction sources, HTTP), shutdown, and SIGHUP reloads.
 * This is the only place colo keeps mutable process state; everything hangs off one Agent. */
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "blockdev/blockdev.h"
#include "cgroup/cgroup.h"
#include "enforce/enforce.h"
#include "predict/profile-set.h"
#include "systemd/offline-units.h"
#include "workloads/session.h"
#include "workloads/protections.h"
#include "workloads/tracker.h"
#include "workloads/tree.h"
#include "util/log.h"
#include "util/macro.h"

Agent *agent_free(Agent *a) {
        if (!a)
                return NULL;
        agent_profiles_save(a);
        a->k8s = agent_k8s_free(a->k8s);
        a->offline_slice = agent_offline_slice_free(a->offline_slice);
        a->http = agent_http_free(a->http);
        a->psi = psi_watch_free(a->psi);
        sd_event_source_disable_unref(a->checkpoint_timer);
        profile_set_free(a->profiles);
        free(a->profile_samples);
        agent_evictions_free(a);
        for (size_t i = 0; i < ELEMENTSOF(a->signals); i++)
                sd_event_source_disable_unref(a->signals[i]);
        sd_event_source_disable_unref(a->tick_timer);
        sd_event_source_disable_unref(a->tick_now);
        sd_event_unref(a->event);
        enforce_state_free(a->enforce_state);
        tracker_free(a->tracker);
        cg_root_free(a->root);
        status_doc_done(&a->status);
        free(a->status_json);
        free(a->metrics_text);
        agent_state_dir_close(a);
        if (a->subtree_lock_fd >= 0)
                (void) close(a->subtree_lock_fd);
        free(a);
        return NULL;
}

static void apply_log_level(const Config *c) {
        /* COLO_LOG_LEVEL in the environment (read by main()) wins over the file. */
        if (getenv("COLO_LOG_LEVEL"))
                return;
        int level = log_level_from_string(c->agent.log_level);
        if (level >= 0)
                log_set_max_level(level);
}

/* With an absolute subtree on v2 the agent stays where it is. If that cgroup is the root's
 * sibling it must weigh as much as the root (own-group.c holds it), so it is noted; deeper below
 * a sibling, that sibling's weight is not the agent's to set, which is said once. */
static void note_cgroup_beside_root(Agent *a) {
        int k = cg_v2_self_beside(NULL, a->subtree, a->own_leaf_dir, sizeof(a->own_leaf_dir), a->own_leaf_name,
                                  sizeof(a->own_leaf_name));
        if (k == 2 && a->config.agent.own_cpu_group && !a->config.kubernetes.enabled &&
            policy_root_cpu_weight(&a->config.policy) > POLICY_NEUTRAL_CPU_WEIGHT)
                log_error("Protection not in force: the agent's own CPU share: it runs below '%s/%s', the managed root's "
                          "sibling, whose weight is not the agent's to set; while online work keeps every CPU busy the "
                          "agent may react late. Fix: start the agent in a cgroup directly beside '%s', or use a relative "
                          "agent.subtree, or set features.root_cpu_weight: false.",
                          a->own_leaf_dir, a->own_leaf_name, a->subtree);
        if (k != 1)     /* elsewhere the root's weight is not its rival */
                a->own_leaf_dir[0] = a->own_leaf_name[0] = '\0';
}

/* cgroup v2's "no internal processes" rule: once the managed subtree below the agent's own cgroup
 * gets controllers, that cgroup may hold no process, the agent included (the usual case under
 * systemd with Delegate=yes: the agent runs in colo.service itself). So on a pure v2 host (one
 * "0::" line in /proc/self/cgroup) with a relative subtree, the agent moves itself into a leaf
 * "<own>/agent" next to the managed "<own>/<subtree>", which it then names by absolute path, in
 * its status file too, so the front-ends find the same tree. */
static int relocate_for_v2(Agent *a) {
        const char *fs_root = a->config.agent.cgroup_fs_root[0] ? a->config.agent.cgroup_fs_root : "/sys/fs/cgroup";
        char subtree[sizeof(a->subtree)];
        ColoError err = {};

        if (strcmp(a->config.agent.cgroup_mode, "v1") == 0 || strcmp(fs_root, "/sys/fs/cgroup") != 0)
                return 0;
        CgRelocation rel = { .fs_root = fs_root, .subtree = a->subtree, .leaf = "agent", .move = !a->opts.dry_run };
        int r = cg_v2_relocate_self(&rel, subtree, sizeof(subtree), &err);
        if (r < 0)
                return log_error("Cannot move the agent into its own leaf (cgroup v2 keeps processes out of cgroups "
                                 "whose children have controllers): %s", colo_error_msg(&err)), r;
        if (r > 0 && rel.move) {        /* subtree is "<own>/<a->subtree>" */
                snprintf(a->own_leaf_dir, sizeof(a->own_leaf_dir), "%.*s", (int) (strlen(subtree) - strlen(a->subtree) - 1),
                         subtree);
                snprintf(a->own_leaf_name, sizeof(a->own_leaf_name), "%s", rel.leaf);
                log_info("cgroup v2: moved the agent into '%s%s/agent'; managing '%s'.", fs_root, a->own_leaf_dir, subtree);
        } else if (r == 0 && rel.move)
                note_cgroup_beside_root(a);
        if (r > 0)
                memcpy(a->subtree, subtree, sizeof(a->subtree));
        return 0;
}

static void log_io_not_in_force(void *userdata, const char *what, const char *why, const char *fix) {
        (void) userdata;
        log_error("Protection not in force: %s: %s. Fix: %s.", what, why, fix);
}

/* Each disk where the IO weights do nothing (scheduler, iocost) and io.latency where the kernel
 * lacks it, reported once at start (io_support_check()). */
static void report_io_support(Agent *a) {
        const PolicyConfig *p = &a->config.policy;
        bool v2 = cg_root_mode(a->root) == CG_MODE_V2;
        if (!protections_in_force(&a->status, "io"))
                return;         /* reported with the missing controllers */
        bool latency_file = false;
        CgGroup *g = NULL;
        if (v2 && cg_group_open(a->root, "", false, &g, NULL) >= 0)
                latency_file = cg_group_has_file(g, CG_CTRL_IO, "io.latency");
        g = cg_group_free(g);
        IoSupportInput in = {
                .sys_root = "/sys",
                .cgroup_fs_root = a->config.agent.cgroup_fs_root,
                .v2 = v2,
                .weights_wanted = p->io_weight,
                .latency_wanted = p->io_latency && p->online_io_latency.n > 0,
                .latency_file_present = latency_file,
        };
        (void) io_support_check(&in, log_io_not_in_force, a);
}

/* No silent half-isolation: each protection colo needs and cannot get (a controller the managed
 * root lacks, cpu.idle missing from the kernel) is logged once, with the cgroup, the cause and the
 * fix, and stays in the status document and the metrics (a->status is filled once here, the one
 * probe of the root's controllers that the metrics, readiness and report_io_support() read); so
 * are the disks that ignore the IO weights. */
static void report_missing_protections(Agent *a) {
        protections_check(a->root, &a->config.policy, a->config.kubernetes.enabled, &a->status);
        report_io_support(a);
        for (size_t i = 0; i < a->status.n_protections; i++) {
                const StatusProtection *p = &a->status.protections[i];
                if (p->in_force)
                        continue;
                log_error("Protection not in force in '%s': %s. Fix: %s.", p->cgroup, p->cause, p->fix);
        }
}

static CgGroup *lookup_tracked_group(void *userdata, const char *path) {
        return tracker_workload_group(userdata, path);
}

/* The managed root, locked, with the class and tier groups in standalone mode. Logged. */
static int open_managed_root(Agent *a, bool k8s) {
        bool dry_run = a->opts.dry_run;
        ColoError err = {};
        /* cgroup v2 under systemd: offline work in a delegated scope of an idle top-level slice. */
        char top_dir[sizeof(((OfflineUnits *) NULL)->dir)], top_cause[400];
        a->offline_slice = agent_offline_slice_ensure(a, top_dir, sizeof(top_dir), top_cause, sizeof(top_cause));
        SessionTop top = { .dir = top_dir[0] ? top_dir : NULL, .cause = top_cause[0] ? top_cause : NULL };
        /* A dry run creates nothing: the managed root must exist already. */
        int r = session_open_root(&a->config, a->subtree, 0, !dry_run && !k8s, &top, &a->root, &err);
        if (r < 0) {
                log_error("Cannot open the managed cgroup subtree '%s': %s%s", a->subtree, colo_error_msg(&err),
                          r == -ENOENT && dry_run ? " (a dry run creates nothing: start a workload with colo run, "
                                                    "or the agent once without --dry-run)" : "");
                return r;
        }
        /* A dry run changes nothing, so it may watch a tree another agent manages. */
        if (!dry_run) {
                r = agent_lock_subtree(a);
                if (r < 0)
                        return r;
        }
        if (!dry_run && !k8s) {         /* in Kubernetes mode kubelet owns the tree */
                r = tree_ensure_parents(a->root, &err);
                if (r < 0) {
                        log_error("Cannot create the class and tier groups: %s", colo_error_msg(&err));
                        return r;
                }
        }
        return 0;
}

/* The front and the workload source of the mode, the tracker over that source, and the enforce
 * state. Logged. */
static int start_tracking(Agent *a, bool k8s) {
        WorkloadSource source = { .ops = &workload_source_tree };
        ColoError err = {};
        int r;

        a->front = k8s ? &agent_k8s_front : &agent_standalone_front;
        if (k8s) {
                r = agent_k8s_start(a, &source);        /* logged */
                if (r < 0)
                        return r;
        }
        TrackerOptions to = { .source = &source };
        r = tracker_new(a->root, &to, &a->tracker, &err);
        if (r < 0) {
                log_error("Cannot start tracking workloads: %s", colo_error_msg(&err));
                return r;
        }
        a->enforce_state = enforce_state_new();
        if (!a->enforce_state)
                return log_error("Out of memory."), -ENOMEM;
        /* Enforce applies through the tracker's workload handles: the tracker's cgroup.procs read
         * each period then spares the oom_score_adj pass its own scan while tasks are unchanged. */
        enforce_state_set_group_lookup(a->enforce_state, lookup_tracked_group, a->tracker);
        return 0;
}

int agent_new(const AgentOptions *opts, Agent **ret) {
        _cleanup_(agent_freep) Agent *a = calloc(1, sizeof(*a));
        ColoError err = {};
        int r;

        if (!a)
                return log_error("Out of memory."), -ENOMEM;
        a->lock_fd = a->state_dir_fd = a->subtree_lock_fd = -1;
        agent_metrics_init(&a->metrics);
        a->opts = *opts;
        a->opts.config_path = NULL;     /* kept in a->config_path, the option string may go away */
        r = session_load_config(opts->config_path, &a->config, &err);
        if (r < 0) {
                log_error("Invalid configuration: %s", colo_error_msg(&err));
                return r;
        }
        if (opts->config_path)
                snprintf(a->config_path, sizeof(a->config_path), "%s", opts->config_path);
        else if (access(DEFAULT_CONFIG_PATH, F_OK) == 0)
                snprintf(a->config_path, sizeof(a->config_path), "%s", DEFAULT_CONFIG_PATH);
        apply_log_level(&a->config);
        snprintf(a->state_dir, sizeof(a->state_dir), "%s", opts->state_dir ?: a->config.agent.state_dir);
        snprintf(a->subtree, sizeof(a->subtree), "%s", opts->subtree ?: a->config.agent.subtree);
        a->opts.state_dir = a->opts.subtree = NULL;
        bool k8s = a->config.kubernetes.enabled;
        if (k8s)
                agent_k8s_choose_subtree(a, opts->subtree != NULL);     /* kubelet's kubepods cgroup */

        r = agent_state_dir_open(a);
        if (r < 0)
                return r;
        r = relocate_for_v2(a);
        if (r < 0)
                return r;

        r = open_managed_root(a, k8s);
        if (r < 0)
                return r;
        report_missing_protections(a);
        agent_own_group_hold(a);        /* after the root: on v2 its parent has the cpu controller for the leaf */
        a->tick = agent_tick;
        a->reload = agent_reload;
        a->request_tick = agent_request_tick;
        r = agent_loop_setup(a);
        if (r < 0) {
                log_error("Cannot set up the event loop: %s", strerror(-r));
                return r;
        }
        r = start_tracking(a, k8s);
        if (r < 0)
                return r;
        agent_writes_setup(a);          /* the dry run's recorder and the reconcile's drift report */
        (void) agent_profiles_start(a);     /* on failure: the recent maximum only, logged */
        if (a->config.agent.fast_reaction) {
                r = psi_watch_new(a, &a->psi);
                if (r < 0)
                        return log_error("Out of memory."), r;
        }
        if (a->config.metrics.enabled) {
                r = agent_http_start(a, &a->http);
                if (r < 0)
                        return r;
        }
        log_info("colo agent " COLO_VERSION " started: subtree '%s' (%s), period %.3gs, state directory '%s'%s%s%s.",
                 a->subtree, cg_root_describe(a->root), (double) a->config.agent.period_usec / USEC_PER_SEC, a->state_dir,
                 a->config_path[0] ? ", config '" : ", default configuration", a->config_path,
                 a->config_path[0] ? "'" : "");
        if (opts->dry_run)
                log_notice("Dry run: decisions are logged and published; each cgroup write is logged, none is made, nothing is signalled.");
        *ret = TAKE_PTR(a);
        return 0;
}

/* Settings that need a restart: they decide which cgroups and files the agent owns. */
static void warn_restart_needed(const Config *old, const Config *new) {
        if (strcmp(old->agent.subtree, new->agent.subtree) != 0 ||
            strcmp(old->agent.cgroup_fs_root, new->agent.cgroup_fs_root) != 0 ||
            strcmp(old->agent.cgroup_mode, new->agent.cgroup_mode) != 0 ||
            strcmp(old->agent.state_dir, new->agent.state_dir) != 0 ||
            strcmp(old->agent.offline_placement, new->agent.offline_placement) != 0)
                log_warning("agent.subtree, agent.cgroup_root_fs, agent.cgroup_mode, agent.state_dir and "
                            "agent.offline_placement take effect after a restart; keeping the current ones.");
}

/* What the online CPU trigger or poll is armed from (psi-watch.c): a change re-arms it. */
static bool cpu_watch_changed(const Config *old, const Config *next) {
        return old->policy.cpu_control != next->policy.cpu_control ||
               (old->policy.cpu_quota == FEATURE_OFF) != (next->policy.cpu_quota == FEATURE_OFF) ||
               old->policy.cpu_pressure_target != next->policy.cpu_pressure_target ||
               old->agent.period_usec != next->agent.period_usec ||
               old->agent.cpu_pressure_poll_usec != next->agent.cpu_pressure_poll_usec;
}

void agent_reload(Agent *a) {
        ColoError err = {};
        Config next;

        if (!a->config_path[0]) {
                log_info("SIGHUP: no configuration file (running on defaults); nothing to reload.");
                return;
        }
        int r = config_load_file(a->config_path, &next, &err);
        if (r < 0) {
                a->metrics.reload_failures_total++;
                log_error("Reload failed, keeping the running configuration: %s", colo_error_msg(&err));
                return;
        }
        if (config_equal(&a->config, &next)) {
                a->metrics.reloads_total++;
                log_info("Reloaded '%s': no change.", a->config_path);
                return;
        }
        for (size_t i = 0; i < config_n_keys(); i++) {
                if (config_key_equal(&a->config, &next, i))
                        continue;
                char from[128], to[128];
                log_info("Reload: %s: %s -> %s", config_key_name(i), config_format_key(&a->config, i, from, sizeof(from)),
                         config_format_key(&next, i, to, sizeof(to)));
        }
        warn_restart_needed(&a->config, &next);

        Config old = a->config;
        /* Keep what needs a restart; take everything else. */
        memcpy(next.agent.subtree, old.agent.subtree, sizeof(next.agent.subtree));
        memcpy(next.agent.cgroup_fs_root, old.agent.cgroup_fs_root, sizeof(next.agent.cgroup_fs_root));
        memcpy(next.agent.cgroup_mode, old.agent.cgroup_mode, sizeof(next.agent.cgroup_mode));
        memcpy(next.agent.state_dir, old.agent.state_dir, sizeof(next.agent.state_dir));
        memcpy(next.agent.offline_placement, old.agent.offline_placement, sizeof(next.agent.offline_placement));
        a->config = next;
        apply_log_level(&a->config);

        if (old.agent.period_usec != next.agent.period_usec && agent_arm_period(a) < 0)
                log_warning("Failed to re-arm the period timer.");
        if (old.agent.fast_reaction != next.agent.fast_reaction ||
            old.agent.psi_trigger_stall_usec != next.agent.psi_trigger_stall_usec ||
            old.agent.psi_trigger_window_usec != next.agent.psi_trigger_window_usec || cpu_watch_changed(&old, &next)) {
                a->psi = psi_watch_free(a->psi);
                if (next.agent.fast_reaction && psi_watch_new(a, &a->psi) < 0)
                        log_warning("Failed to restart the fast-reaction sources.");
        }
        if (old.metrics.enabled != next.metrics.enabled || old.metrics.port != next.metrics.port ||
            strcmp(old.metrics.listen_address, next.metrics.listen_address) != 0) {
                a->http = agent_http_free(a->http);
                if (next.metrics.enabled && agent_http_start(a, &a->http) < 0)
                        log_warning("Metrics endpoint not restarted; fix metrics.* and reload again.");
        }
        if (strcmp(old.prediction.predictor, next.prediction.predictor) != 0 ||
            old.prediction.horizon_usec != next.prediction.horizon_usec ||
            old.prediction.half_life_usec != next.prediction.half_life_usec ||
            old.prediction.min_history_usec != next.prediction.min_history_usec ||
            old.prediction.checkpoint_interval_usec != next.prediction.checkpoint_interval_usec ||
            strcmp(old.prediction.checkpoint_path, next.prediction.checkpoint_path) != 0) {
                /* A checkpoint is only valid for the settings it was made under: start afresh. */
                log_notice("Prediction settings changed: the usage profiles start over.");
                (void) agent_profiles_start(a);
        }
        a->metrics.reloads_total++;
        log_info("Reloaded '%s'.", a->config_path);
        /* Apply the new policy now, not at the next period. */
        (void) sd_event_source_set_enabled(a->tick_now, SD_EVENT_ONESHOT);
}

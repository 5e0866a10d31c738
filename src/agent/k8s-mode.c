/* Kubernetes mode of the node agent (kubernetes.enabled): the front (AgentFront, agent.h) over
 * this node's pods, as listed and watched on the API server (k8s/pod-watch.h) and found in
 * kubelet's cgroup tree below the kubepods cgroup, which is the managed root. The tick is the
 * standalone one (tick.c); this front adds: following the pod store (k8s-pods.c) before the
 * tracker refreshes, the plan mapped onto kubelet's tree in front of enforce_apply(), evictions
 * through the Eviction API, the offline budget published on the Node (policy_node_budget()) and
 * the over-commitment evictions (policy_overcommit_step()), and the pods' eviction state in the
 * status.
 *
 * The API server is never waited for (k8s-api-loop.c), and a tick uses whatever pods were last
 * seen. So while the API server is unreachable the agent keeps enforcing local isolation on the
 * pods it knows, with the classes they had; it only cannot evict or publish until it is back. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/k8s-evict-report.h"
#include "agent/k8s-mode.h"
#include "agent/systemd-slices.h"
#include "cgroup/cgroup.h"
#include "k8s/node-annotation.h"
#include "workloads/tracker.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static uint64_t monotonic_now(void) {
        return now_monotonic_usec();
}

/* --- start-up --- */

static bool is_dns_subdomain(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char) s[i]) && !isdigit((unsigned char) s[i]) && s[i] != '-' && s[i] != '.')
                        return false;
        return true;
}

/* kubernetes.node_name, else $NODE_NAME (the downward API), else the hostname, lowercased. */
static int pick_node_name(const Config *c, char *buf, size_t size) {
        const char *env = getenv("NODE_NAME");
        if (c->kubernetes.node_name[0])
                snprintf(buf, size, "%s", c->kubernetes.node_name);
        else if (env && env[0])
                snprintf(buf, size, "%s", env);
        else {
                char host[256] = "";
                if (gethostname(host, sizeof(host) - 1) < 0)
                        return -errno;
                for (char *p = host; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
                snprintf(buf, size, "%s", host);
        }
        return is_dns_subdomain(buf) ? 0 : -EINVAL;
}

void agent_k8s_choose_subtree(Agent *a, bool subtree_option_given) {
        /* --subtree wins (tests, a kubelet with --cgroup-root); an absolute agent.subtree names the
         * kubepods cgroup too; otherwise it is /kubepods or /kubepods.slice, by the driver. */
        if (subtree_option_given || a->config.agent.subtree[0] == '/')
                return;
        KubeCgroupDriver d = kube_cgroup_driver_from_string(a->config.kubernetes.cgroup_driver);
        snprintf(a->subtree, sizeof(a->subtree), "/%s", pod_cgroup_kubepods_name(d >= 0 ? d : KUBE_CGROUP_DRIVER_CGROUPFS));
}

static void on_pod_change(void *userdata, PodWatchChange change, const KubePod *pod) {
        char ref[320];
        (void) userdata;
        kube_pod_ref(pod, ref, sizeof(ref));
        if (change == POD_WATCH_ADDED)
                log_debug("Pod %s (%s) on the node: %s/%s by %s.", ref, pod->uid, workload_class_to_string(pod->cls.workload_class),
                          workload_tier_to_string(pod->cls.tier), pod_class_source_to_string(pod->cls.source));
        else if (change == POD_WATCH_REMOVED)
                log_debug("Pod %s (%s) left the node.", ref, pod->uid);
}

int agent_k8s_start(Agent *a, WorkloadSource *ret_source) {
        const KubernetesConfig *kc = &a->config.kubernetes;
        ColoError err = {};
        int r;

        AgentK8s *k = calloc(1, sizeof(*k));
        if (!k)
                return log_error("Out of memory."), -ENOMEM;
        a->k8s = k;
        k->agent = a;
        k->driver = kube_cgroup_driver_from_string(kc->cgroup_driver);
        if (k->driver < 0)
                return log_error("kubernetes.cgroup_driver '%s' is not cgroupfs or systemd.", kc->cgroup_driver), -EINVAL;
        r = pick_node_name(&a->config, k->node_name, sizeof(k->node_name));
        if (r < 0) {
                log_error("No usable node name ('%s'): set kubernetes.node_name or $NODE_NAME (the downward API's "
                          "spec.nodeName).", k->node_name);
                return -EINVAL;
        }
        snprintf(k->started_kubeconfig, sizeof(k->started_kubeconfig), "%s", kc->kubeconfig);
        snprintf(k->started_driver, sizeof(k->started_driver), "%s", kc->cgroup_driver);
        snprintf(k->started_node, sizeof(k->started_node), "%s", kc->node_name);

        _cleanup_(kube_config_freep) KubeConfig *cfg = NULL;
        r = kube_config_load(kc->kubeconfig, &cfg, &err);
        if (r < 0) {
                log_error("Cannot find the API server: %s", colo_error_msg(&err));
                return r;
        }
        r = kube_client_new(cfg, &k->client, &err);
        if (r < 0) {
                log_error("Cannot set up the API client: %s", colo_error_msg(&err));
                return r;
        }
        k8s_api_loop_install(k);

        NodePublisherConfig pc = { .threshold = kc->status_change_threshold, .interval_usec = kc->status_update_interval_usec,
                                   .stale_after_usec = kc->stale_after_usec };
        r = node_publisher_new(k->client, k->node_name, &pc, monotonic_now, &k->publisher, &err);
        if (r < 0) {
                log_error("Cannot publish node status: %s", colo_error_msg(&err));
                return r;
        }
        KubeEvictorOptions eo = {
                .node_name = k->node_name,
                .grace_period_seconds = (int64_t) (a->config.agent.evict_grace_usec / USEC_PER_SEC),
                .on_answer = agent_k8s_on_eviction_answer,
                .userdata = a,
        };
        r = kube_evictor_new(k->client, &eo, &k->evictor, &err);
        if (r < 0) {
                log_error("Cannot set up evictions: %s", colo_error_msg(&err));
                return r;
        }
        r = pod_limits_enforcer_new(k->client, k->node_name, &k->limits);
        if (r < 0)
                return log_error("Out of memory."), r;
        PodWatchOptions wo = { .node_name = k->node_name };
        r = pod_watch_new(k->client, &wo, on_pod_change, k, &k->watch, &err);
        if (r < 0) {
                log_error("Cannot watch the node's pods: %s", colo_error_msg(&err));
                return r;
        }
        if (k->driver == KUBE_CGROUP_DRIVER_SYSTEMD && cg_root_mode(a->root) == CG_MODE_V2)
                k->slices = agent_slices_new(a);
        k8s_api_rearm(k);
        *ret_source = (WorkloadSource) { .ops = &k8s_pod_source, .userdata = k };
        log_info("Kubernetes mode: node '%s', API server %s (%s), kubelet cgroup driver %s, kubepods '%s'%s.",
                 k->node_name, cfg->server, cfg->source, kube_cgroup_driver_to_string(k->driver), cg_root_describe(a->root),
                 a->opts.dry_run ? "; dry run: no cgroup writes, no node status, no evictions" : "");
        return 0;
}

AgentK8s *agent_k8s_free(AgentK8s *k) {
        if (!k)
                return NULL;
        /* API objects first: they cancel their calls on the client. */
        pod_watch_free(k->watch);
        node_publisher_free(k->publisher);
        kube_evictor_free(k->evictor);
        pod_limits_enforcer_free(k->limits);
        agent_slices_free(k->slices);
        kube_client_free(k->client);
        k8s_api_loop_free(k);
        free(k->pods);
        free(k);
        return NULL;
}

/* --- evictions --- */

static void evict_pod(AgentK8s *k, const char *uid, const char *reason) {
        const KubePod *pod = pod_watch_find(k->watch, uid);
        char ref[320];
        if (!pod)
                return;
        kube_pod_ref(pod, ref, sizeof(ref));
        if (k->agent->opts.dry_run) {
                log_kv(LOG_WARNING, "evict-dry-run", "pod=%s uid=%s tier=%s reason=\"%s\"", ref, uid,
                       workload_tier_to_string(pod->cls.tier), reason);
                return;
        }
        ColoError err = {};
        int r = kube_evictor_evict(k->evictor, pod, reason, &err);
        if (r == -EALREADY)
                return;
        if (r < 0) {
                log_error("Not evicting pod %s: %s", ref, colo_error_msg(&err));
                return;
        }
        if (pod->cls.tier >= 0 && pod->cls.tier < _TIER_MAX)
                k->agent->metrics.evictions_total[pod->cls.tier]++;
        log_kv(LOG_WARNING, "evict", "pod=%s uid=%s class=offline tier=%s reason=\"%s\"", ref, uid,
               workload_tier_to_string(pod->cls.tier), reason);
}

/* When the offline pods request more than the budget, the advertised capacity stays at what they
 * request (a kubelet restart would otherwise reject some of them at random, see docs/kubernetes.md)
 * and colo evicts down to the budget instead, lowest tier first. The cgroup limits hold them to the
 * budget meanwhile (the squeeze); one pod goes once the over-commitment has lasted
 * isolation.evict_cooldown, and at most one per cooldown after that. Also runs on stale data,
 * against the decaying budget. */
static void check_overcommit(AgentK8s *k, uint64_t now) {
        const NodePublisherStats *ps = node_publisher_stats(k->publisher);
        const PodWatchStats *ws = pod_watch_stats(k->watch);
        if (!k->have_usage || !ws->synced || k->agent->opts.dry_run) {
                (void) policy_overcommit_step(&k->overcommit, false, false, &k->agent->config.policy, now);
                return;
        }
        size_t n;
        const KubePod *pods = pod_watch_pods(k->watch, &n);
        _cleanup_free_ OfflineHolding *hold = n > 0 ? calloc(n, sizeof(*hold)) : NULL;
        _cleanup_free_ size_t *index = n > 0 ? calloc(n, sizeof(*index)) : NULL;
        if (n > 0 && (!hold || !index))
                return;
        size_t m = 0;
        int64_t cpu = 0, mem = 0;
        for (size_t i = 0; i < n; i++) {
                const KubePod *p = &pods[i];
                if (p->cls.workload_class != CLASS_OFFLINE || kube_pod_is_terminal(p) || p->class_error[0])
                        continue;
                hold[m] = (OfflineHolding) { .tier = p->cls.tier, .cpu_milli = p->offline_cpu_request_milli,
                                             .memory = p->offline_memory_request,
                                             .being_evicted = k8s_pod_being_evicted(k, p->uid) };
                if (!hold[m].being_evicted)
                        cpu += p->offline_cpu_request_milli, mem += p->offline_memory_request;
                index[m++] = i;
        }
        size_t pick = 0;
        bool over = node_status_pick_overcommit(hold, m, ps->budget, &pick) >= 0;
        const PolicyConfig *pc = &k->agent->config.policy;
        unsigned act = policy_overcommit_step(&k->overcommit, true, over, pc, now);
        if (act & OVERCOMMIT_ENDED)
                log_info("Offline pods fit the advertised capacity again.");
        if (act & OVERCOMMIT_STARTED)
                log_notice("Offline pods request %" PRIi64 "m CPU and %" PRIi64 " bytes, more than the budget of %" PRIi64
                           "m and %" PRIi64 " bytes; squeezing%s.", cpu, mem, ps->budget.cpu_milli, ps->budget.memory,
                           pc->eviction ? ", evicting the lowest tier if it persists" : "");
        if (!(act & OVERCOMMIT_EVICT))
                return;
        char reason[256];
        snprintf(reason, sizeof(reason),
                 "offline pods request %" PRIi64 "m CPU and %" PRIi64 " bytes of colo.io/offline-*, the node's offline "
                 "budget is %" PRIi64 "m and %" PRIi64 " bytes; lowest tier first",
                 cpu, mem, ps->budget.cpu_milli, ps->budget.memory);
        evict_pod(k, pods[index[pick]].uid, reason);
}

/* --- status --- */

/* What the running offline pods request (colo.io/offline-*), pods on their way out left out. */
static NodeCapacity held_by_offline_pods(AgentK8s *k) {
        size_t n;
        const KubePod *pods = pod_watch_pods(k->watch, &n);
        NodeCapacity held = {};
        for (size_t i = 0; i < n; i++) {
                const KubePod *p = &pods[i];
                if (p->cls.workload_class != CLASS_OFFLINE || kube_pod_is_terminal(p) || p->class_error[0] ||
                    k8s_pod_being_evicted(k, p->uid))
                        continue;
                held.cpu_milli = held.cpu_milli > INT64_MAX - p->offline_cpu_request_milli ? INT64_MAX :
                                                                                            held.cpu_milli + p->offline_cpu_request_milli;
                held.memory = held.memory > INT64_MAX - p->offline_memory_request ? INT64_MAX :
                                                                                   held.memory + p->offline_memory_request;
        }
        return held;
}

static int64_t to_milli(double cores) {
        return (int64_t) (cores * 1000.0);
}

static int64_t to_int64(uint64_t v) {
        return (int64_t) MIN(v, (uint64_t) INT64_MAX);
}

/* The Node's colo.io/node-usage and extended resources, in the API's units. */
static NodeUsage node_usage_from_budget(const NodeBudget *b, int64_t req_cpu, int64_t req_mem, uint64_t realtime) {
        return (NodeUsage) {
                .cpu_capacity_milli = to_milli(b->cpu_capacity_cores),
                .mem_capacity = to_int64(b->mem_capacity),
                .cpu_usage_milli = to_milli(b->online_cpu_usage),
                .cpu_peak_milli = to_milli(b->online_cpu_peak),
                .mem_usage = to_int64(b->online_mem_usage),
                .mem_peak = to_int64(b->online_mem_peak),
                .offline_cpu_milli = to_milli(b->offline_cpu_cores),
                .offline_memory = to_int64(b->offline_mem_bytes),
                .offline_cpu_requested_milli = req_cpu,
                .offline_memory_requested = req_mem,
                .updated_usec = realtime,
        };
}

static void publish_node(AgentK8s *k, const NodeSample *s, const Plan *plan, bool fresh) {
        Agent *a = k->agent;
        if (fresh && plan) {
                size_t n;
                const KubePod *pods = pod_watch_pods(k->watch, &n);
                int64_t req_cpu = 0, req_mem = 0;
                for (size_t i = 0; i < n; i++)
                        if (pods[i].cls.workload_class == CLASS_OFFLINE && !kube_pod_is_terminal(&pods[i])) {
                                req_cpu += pods[i].offline_cpu_request_milli;
                                req_mem += pods[i].offline_memory_request;
                        }
                NodeBudget b;
                policy_node_budget(s, &a->estimate, &a->config.policy, plan, &b);
                k->last_usage = node_usage_from_budget(&b, req_cpu, req_mem, now_realtime_usec());
                k->have_usage = true;
                k->last_good_sample_usec = s->now_usec;
        }
        if (!k->have_usage || a->opts.dry_run)
                return;
        const KubernetesConfig *kc = &a->config.kubernetes;
        NodePublisherConfig pc = { .threshold = kc->status_change_threshold, .interval_usec = kc->status_update_interval_usec,
                                   .stale_after_usec = kc->stale_after_usec };
        node_publisher_set_config(k->publisher, &pc);
        const NodePublisherStats *before = node_publisher_stats(k->publisher);
        bool was_decaying = before->decaying;
        node_publisher_update(k->publisher, &k->last_usage, k->last_good_sample_usec, held_by_offline_pods(k));
        const NodePublisherStats *ps = node_publisher_stats(k->publisher);
        if (ps->decaying && !was_decaying)
                log_warning("The agent's measurements are older than kubernetes.stale_after: the advertised offline "
                            "capacity decays to 0.");
}

/* Pods on their way out through the Eviction API say so, with colo's reason. */
static int fill_status(Agent *a, StatusDoc *d) {
        AgentK8s *k = a->k8s;
        for (size_t i = 0; i < d->n_workloads; i++) {
                const KubeEviction *ev = kube_evictor_find(k->evictor, d->workloads[i].name);
                if (!ev || ev->state == KUBE_EVICTION_GONE)
                        continue;
                d->workloads[i].state = WORKLOAD_EVICTED;
                if (ev->state == KUBE_EVICTION_ACCEPTED)
                        snprintf(d->workloads[i].reason, sizeof(d->workloads[i].reason), "%s", ev->reason);
                else
                        snprintf(d->workloads[i].reason, sizeof(d->workloads[i].reason),
                                 "%s (eviction pending: %u blocked by a disruption budget, %u conflicts)", ev->reason,
                                 ev->blocked, ev->conflicts);
                d->workloads[i].evicted_realtime_usec = ev->requested_realtime_usec;
        }
        return 0;
}

static void report_api_state(AgentK8s *k) {
        const PodWatchStats *ws = pod_watch_stats(k->watch);
        size_t n;
        (void) pod_watch_pods(k->watch, &n);
        if (ws->synced && !k->was_synced)
                log_info("Listed the pods of node '%s': %zu; watching from resourceVersion %s.", k->node_name, n,
                         ws->resource_version);
        bool failing = ws->failures_in_row > 0 && !ws->connected;
        if (failing && k->was_connected)
                log_warning("The API server is unreachable (%s); enforcing with the %zu pods last seen, retrying.",
                            ws->last_error, n);
        else if (!failing && !k->was_connected && ws->connected && k->was_synced)
                log_info("The API server is reachable again.");
        k->was_connected = !failing && ws->connected;
        k->was_synced = ws->synced;
}

static void warn_restart_settings(AgentK8s *k) {
        const KubernetesConfig *kc = &k->agent->config.kubernetes;
        if (k->restart_warned)
                return;
        if (strcmp(kc->kubeconfig, k->started_kubeconfig) != 0 || strcmp(kc->cgroup_driver, k->started_driver) != 0 ||
            strcmp(kc->node_name, k->started_node) != 0) {
                log_warning("kubernetes.kubeconfig, kubernetes.cgroup_driver and kubernetes.node_name take effect after "
                            "a restart; keeping the current ones.");
                k->restart_warned = true;
        }
}

static void describe(Agent *a, char *buf, size_t size) {
        AgentK8s *k = a->k8s;
        const NodePublisherStats *ps = node_publisher_stats(k->publisher);
        const PodWatchStats *ws = pod_watch_stats(k->watch);
        snprintf(buf, size,
                 "%zu pods; offline budget %.2f cores, %" PRIu64 " MiB; advertised %" PRIi64 "m, %" PRIi64 " MiB; API %s%s%s",
                 k->n_pods, a->status.offline_cpu_budget_cores, a->status.offline_mem_budget >> 20, ps->advertised.cpu_milli,
                 ps->advertised.memory >> 20, pod_watch_state_to_string(ws->state), a->status.squeezed ? "; squeezed" : "",
                 a->opts.dry_run ? "; dry run" : "");
}

static void log_ready(Agent *a) {
        log_info("Ready: managing kubelet's tree %s (%s) on node '%s'.", cg_root_describe(a->root),
                 cg_root_mode(a->root) == CG_MODE_V2 ? "v2" : "v1", a->k8s->node_name);
}

static void begin(Agent *a, uint64_t now) {
        AgentK8s *k = a->k8s;
        warn_restart_settings(k);
        report_api_state(k);
        k8s_pods_sync(k, now);
        pod_limits_enforcer_sync(k->limits, k->watch, a->opts.dry_run);
}

static void workload_change(Agent *a, const TreeWorkload *w, bool added) {
        k8s_pods_tracked(a->k8s, w->name, added);
}

static bool being_evicted(Agent *a, const TrackedWorkload *w) {
        return k8s_pod_being_evicted(a->k8s, w->id.name);
}

static int transform_plan(Agent *a, const Plan *plan, Plan **ret) {
        k8s_pods_report_missing(a->k8s, now_monotonic_usec());
        return k8s_map_plan(a->k8s, plan, ret);
}

/* Kubelet's slices (systemd driver on v2) get the same knobs through systemd, so it keeps them. */
static void after_apply(Agent *a, const Plan *applied) {
        agent_slices_apply(a->k8s->slices, applied);
}

static void evict(Agent *a, const Plan *plan, uint64_t now) {
        (void) now;
        for (size_t i = 0; i < plan->n_evictions; i++)
                evict_pod(a->k8s, plan->evictions[i].name, plan->evictions[i].reason);
}

static void after_decide(Agent *a, const NodeSample *s, const Plan *plan, uint64_t now) {
        AgentK8s *k = a->k8s;
        if (plan)
                k8s_report_missing_parents(k);
        publish_node(k, s, plan, plan != NULL);
        check_overcommit(k, now);
}

static void end(Agent *a) {
        k8s_api_after_io(a->k8s);
}

const AgentFront agent_k8s_front = {
        .offline_noun = "pods",
        .begin = begin,
        .workload_change = workload_change,
        .being_evicted = being_evicted,
        .transform_plan = transform_plan,
        .after_apply = after_apply,
        .evict = evict,
        .after_decide = after_decide,
        .fill_status = fill_status,
        .end = end,
        .describe = describe,
        .log_ready = log_ready,
};

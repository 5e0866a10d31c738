/* The node's pods in Kubernetes mode: the workload source the tracker samples (each managed pod
 * of the watch's store, at its cgroup in kubelet's tree), what the agent reports about them, and
 * the plan mapped onto kubelet's tree for enforce_apply(): pod_cgroup_map_plan() (which knobs
 * colo owns on which kubelet cgroup), then each offline pod's own limits (k8s-pod-limits.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/k8s-mode.h"
#include "enforce/enforce.h"
#include "workloads/tracker.h"
#include "util/log.h"
#include "util/macro.h"

/* A pod whose cgroup is still missing after this long is reported (kubelet may be slow, or the
 * cgroup driver setting may be wrong). */
#define MISSING_CGROUP_REPORT_USEC (30 * USEC_PER_SEC)

static bool pod_is_managed(const KubePod *p) {
        /* Ended pods have no containers left; pods without a QoS class have no cgroup yet. */
        return !kube_pod_is_terminal(p) && p->qos >= 0;
}

static int list_pods(void *userdata, CgRoot *root, SourceWorkload **ret, size_t *ret_n, ColoError *err) {
        AgentK8s *k = userdata;
        size_t n;
        const KubePod *pods = pod_watch_pods(k->watch, &n);
        (void) root;
        SourceWorkload *w = n > 0 ? calloc(n, sizeof(*w)) : NULL;
        if (n > 0 && !w)
                return colo_error_set(err, ENOMEM, "list %zu pods", n);
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                const KubePod *pod = &pods[i];
                SourceWorkload *s = &w[m];
                if (!pod_is_managed(pod) || strlen(pod->uid) >= sizeof(s->id.name) ||
                    pod_cgroup_pod_path(k->driver, pod->qos, pod->uid, s->id.path, sizeof(s->id.path)) < 0)
                        continue;
                memcpy(s->id.name, pod->uid, strlen(pod->uid) + 1);
                s->id.cls = pod->cls.workload_class;
                s->id.tier = pod->cls.tier;
                s->cpu_limit_cores = (double) pod->cpu_limit_milli / 1000.0;
                s->mem_limit = pod->memory_limit > 0 ? (uint64_t) pod->memory_limit : 0;
                m++;
        }
        *ret = w;
        *ret_n = m;
        return 0;
}

const WorkloadSourceOps k8s_pod_source = {
        .name = "pods",
        .class_usage = SOURCE_ONLINE_IS_THE_REST,
        .list = list_pods,
};

static PodRecord *find_record(AgentK8s *k, const char *uid) {
        for (size_t i = 0; i < k->n_pods; i++)
                if (strcmp(k->pods[i].uid, uid) == 0)
                        return &k->pods[i];
        return NULL;
}

static PodRecord *add_record(AgentK8s *k, const KubePod *pod, uint64_t now) {
        PodRecord *grown = realloc(k->pods, (k->n_pods + 1) * sizeof(*grown));
        if (!grown) {
                log_error("Out of memory tracking pod %s; retrying next period.", pod->uid);
                return NULL;
        }
        k->pods = grown;
        PodRecord *g = &k->pods[k->n_pods++];
        *g = (PodRecord) { .cls = pod->cls, .first_seen_usec = now };
        snprintf(g->uid, sizeof(g->uid), "%s", pod->uid);
        kube_pod_ref(pod, g->ref, sizeof(g->ref));
        log_info("Managing pod %s (%s) as %s/%s (%s).", g->ref, g->uid, workload_class_to_string(pod->cls.workload_class),
                 workload_tier_to_string(pod->cls.tier), pod_class_source_to_string(pod->cls.source));
        return g;
}

/* Logs what changed about a pod colo already manages. */
static void follow_record(AgentK8s *k, PodRecord *g, const KubePod *pod) {
        if (g->cls.workload_class != pod->cls.workload_class || g->cls.tier != pod->cls.tier) {
                log_notice("Pod %s re-classified %s/%s -> %s/%s (%s); its knobs converge this period.", g->ref,
                           workload_class_to_string(g->cls.workload_class), workload_tier_to_string(g->cls.tier),
                           workload_class_to_string(pod->cls.workload_class), workload_tier_to_string(pod->cls.tier),
                           pod_class_source_to_string(pod->cls.source));
                g->cls = pod->cls;
                if (pod->cls.workload_class == CLASS_ONLINE)
                        kube_evictor_cancel(k->evictor, pod->uid);      /* never evict an online pod */
        }
        if (pod->class_error[0] && !g->class_error_reported) {
                log_warning("Pod %s: %s; treating it as online.", g->ref, pod->class_error);
                g->class_error_reported = true;
        }
        if (pod->cls.workload_class == CLASS_OFFLINE && pod->qos != KUBE_QOS_BEST_EFFORT && !g->qos_warned) {
                log_warning("Offline pod %s is %s, not BestEffort (is the admission webhook installed?): its "
                            "cgroup is outside the offline parent, so only its own limits bound it; colo still "
                            "evicts it first and raises its OOM score.", g->ref, kube_qos_class_to_string(pod->qos));
                g->qos_warned = true;
        }
}

void k8s_pods_sync(AgentK8s *k, uint64_t now) {
        size_t n;
        const KubePod *pods = pod_watch_pods(k->watch, &n);
        for (size_t i = 0; i < k->n_pods; i++)
                k->pods[i].seen = false;
        for (size_t i = 0; i < n; i++) {
                if (!pod_is_managed(&pods[i]))
                        continue;
                PodRecord *g = find_record(k, pods[i].uid) ?: add_record(k, &pods[i], now);
                if (!g)
                        continue;
                g->seen = true;
                follow_record(k, g, &pods[i]);
        }
        size_t keep = 0;
        for (size_t i = 0; i < k->n_pods; i++) {
                if (k->pods[i].seen) {
                        k->pods[keep++] = k->pods[i];
                        continue;
                }
                log_info("Pod %s (%s) is gone.", k->pods[i].ref, k->pods[i].uid);
                kube_evictor_cancel(k->evictor, k->pods[i].uid);
        }
        k->n_pods = keep;
}

void k8s_pods_tracked(AgentK8s *k, const char *uid, bool added) {
        PodRecord *g = find_record(k, uid);
        if (!g)
                return;
        g->tracked = added;
        if (added && g->missing_reported)
                log_info("The cgroup of pod %s appeared.", g->ref);
        if (added)
                g->missing_reported = false;
}

void k8s_pods_report_missing(AgentK8s *k, uint64_t now) {
        for (size_t i = 0; i < k->n_pods; i++) {
                PodRecord *g = &k->pods[i];
                if (g->tracked || g->missing_reported || now - g->first_seen_usec < MISSING_CGROUP_REPORT_USEC)
                        continue;
                log_warning("The cgroup of pod %s (%s) is still missing; retrying every period. Does "
                            "kubernetes.cgroup_driver match the kubelet's cgroupDriver?", g->ref, g->uid);
                g->missing_reported = true;
        }
}

bool k8s_pod_being_evicted(AgentK8s *k, const char *uid) {
        const KubeEviction *ev = kube_evictor_find(k->evictor, uid);
        const KubePod *p = pod_watch_find(k->watch, uid);
        return (ev && ev->state != KUBE_EVICTION_GONE) || (p && p->deleting);
}

/* --- the plan on kubelet's tree --- */

static const char *lookup_pod_path(void *userdata, const char *uid) {
        AgentK8s *k = userdata;
        int i = tracker_find(k->agent->tracker, uid);
        return i >= 0 ? tracker_get(k->agent->tracker, (size_t) i)->id.path : NULL;
}

static void remember_parent(AgentK8s *k, const char *path) {
        for (size_t i = 0; i < k->n_parents; i++)
                if (strcmp(k->parents[i].path, path) == 0)
                        return;
        if (k->n_parents < ELEMENTSOF(k->parents))
                snprintf(k->parents[k->n_parents++].path, sizeof(k->parents[0].path), "%s", path);
}

int k8s_map_plan(AgentK8s *k, const Plan *plan, Plan **ret) {
        Agent *a = k->agent;
        _cleanup_free_ KubeletGroupPlan *groups = NULL;
        size_t n = 0;
        int r = pod_cgroup_map_plan(plan, k->driver, lookup_pod_path, k, &groups, &n);
        if (r < 0)
                return r;
        const CgKnobs *parent_last = NULL;
        for (size_t i = 0; i < n; i++) {
                if (groups[i].kind == KUBELET_GROUP_OFFLINE_QOS)
                        parent_last = enforce_state_last(a->enforce_state, groups[i].path);
                if (groups[i].kind != KUBELET_GROUP_ONLINE_POD && groups[i].kind != KUBELET_GROUP_OFFLINE_POD)
                        remember_parent(k, groups[i].path);
        }
        /* Offline pods' own limits (or the default cap) join the plan's knobs for their cgroups. */
        pod_limits_enforcer_prepare(k->limits, k->watch, &a->config.kubernetes, cg_root_mode(a->root), parent_last,
                                    groups, n);
        Plan *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->groups = n > 0 ? calloc(n, sizeof(*m->groups)) : NULL;
        if (n > 0 && !m->groups)
                return plan_free(m), -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                snprintf(m->groups[i].path, sizeof(m->groups[i].path), "%s", groups[i].path);
                m->groups[i].knobs = groups[i].knobs;
        }
        m->n_groups = n;
        m->foreign_tree = true;
        *ret = m;
        return 0;
}

void k8s_report_missing_parents(AgentK8s *k) {
        for (size_t i = 0; i < k->n_parents; i++) {
                ParentReport *p = &k->parents[i];
                bool present = enforce_state_last(k->agent->enforce_state, p->path) != NULL;
                if (!present && !p->missing_reported)
                        log_warning("kubelet's cgroup '%s' is missing; colo never creates kubelet's cgroups, retrying "
                                    "every period.", p->path[0] ? p->path : "kubepods");
                p->missing_reported = !present;
        }
}

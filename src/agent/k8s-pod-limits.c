/* Offline pods' own limits in Kubernetes mode. The values come from the pure k8s/pod-limits.c
 * (annotation and spec parsed once per watch event, in the pod store); this file adds them to the
 * plan's knobs for the pod cgroups, orders the v1 quota writes against the offline parent, and
 * reports malformed annotations. One record per offline pod follows it from the store: whether its
 * limits were announced in the log, and the state of its malformed-annotation Event, in its own
 * heap slot so an Event callback keeps a stable pointer while the list changes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/k8s-pod-limits.h"
#include "kube/k8s-event.h"
#include "k8s/pod-limits.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

typedef struct LimitsRecord {
        PodLimitsEnforcer *owner;
        char uid[POD_UID_MAX];
        char ref[320];
        char error[256];                /* the malformed annotation reported, "" if none */
        bool announced;                 /* the limits in force were logged */
        bool event_posted;
        unsigned event_attempts;
        KubeCall *call;
        bool seen;
} LimitsRecord;

struct PodLimitsEnforcer {
        KubeClient *client;
        char node[254];
        LimitsRecord **records;
        size_t n_records;
};

int pod_limits_enforcer_new(KubeClient *client, const char *node_name, PodLimitsEnforcer **ret) {
        PodLimitsEnforcer *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->client = client;
        snprintf(e->node, sizeof(e->node), "%s", node_name);
        *ret = e;
        return 0;
}

static void record_free(PodLimitsEnforcer *e, LimitsRecord *r) {
        if (r->call)
                kube_call_cancel(e->client, r->call);
        free(r);
}

PodLimitsEnforcer *pod_limits_enforcer_free(PodLimitsEnforcer *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n_records; i++)
                record_free(e, e->records[i]);
        free(e->records);
        free(e);
        return NULL;
}

static LimitsRecord *find_record(PodLimitsEnforcer *e, const char *uid) {
        for (size_t i = 0; i < e->n_records; i++)
                if (strcmp(e->records[i]->uid, uid) == 0)
                        return e->records[i];
        return NULL;
}

static LimitsRecord *add_record(PodLimitsEnforcer *e, const KubePod *pod) {
        LimitsRecord **grown = realloc(e->records, (e->n_records + 1) * sizeof(*grown));
        if (!grown)
                return NULL;
        e->records = grown;
        LimitsRecord *r = calloc(1, sizeof(*r));
        if (!r)
                return NULL;
        r->owner = e;
        snprintf(r->uid, sizeof(r->uid), "%s", pod->uid);
        kube_pod_ref(pod, r->ref, sizeof(r->ref));
        e->records[e->n_records++] = r;
        return r;
}

static bool is_limited_offline(const KubePod *p) {
        return p->cls.workload_class == CLASS_OFFLINE && !p->class_error[0] && !kube_pod_is_terminal(p);
}

static void on_event_done(void *userdata, const KubeResponse *resp) {
        LimitsRecord *r = userdata;
        r->call = NULL;
        if (resp->error == 0 && resp->status >= 200 && resp->status < 300) {
                r->event_posted = true;
                return;
        }
        log_warning("Cannot record the malformed-annotation Event on pod %s (HTTP %ld%s%s)%s.", r->ref, resp->status,
                    resp->message[0] ? ": " : "", resp->message,
                    r->event_attempts < POD_LIMITS_EVENT_ATTEMPTS ? "; retrying next period" : "; giving up");
}

static void post_event(PodLimitsEnforcer *e, LimitsRecord *r, const KubePod *pod) {
        char message[512];
        snprintf(message, sizeof(message), "%s; colo caps the pod at kubernetes.offline_pod_default_* instead of its own "
                 "limits until the annotation is fixed", r->error);
        KubeEventSpec spec = {
                .namespace_ = pod->namespace_, .name = pod->name, .uid = pod->uid,
                .resource_version = pod->resource_version, .reason = POD_LIMITS_EVENT_REASON, .message = message,
                .type = "Warning", .action = "Cap", .node_name = e->node, .realtime_usec = now_realtime_usec(),
        };
        ColoError err = {};
        r->event_attempts++;
        if (kube_event_post(e->client, &spec, on_event_done, r, &r->call, &err) < 0)
                log_warning("Cannot record the malformed-annotation Event on pod %s: %s", r->ref, colo_error_msg(&err));
}

static void report_malformed(PodLimitsEnforcer *e, LimitsRecord *r, const KubePod *pod, bool dry_run) {
        if (strcmp(r->error, pod->limits_error) != 0) {
                /* A new (or first) error: reported afresh, a call for the old one abandoned. */
                if (r->call)
                        kube_call_cancel(e->client, r->call);
                r->call = NULL;
                r->event_posted = false;
                r->event_attempts = 0;
                r->announced = false;
                snprintf(r->error, sizeof(r->error), "%s", pod->limits_error);
                if (r->error[0])
                        log_warning("Offline pod %s: %s; capping it at the defaults (kubernetes.offline_pod_default_*).",
                                    r->ref, r->error);
        }
        if (r->error[0] && !dry_run && !r->event_posted && !r->call && r->event_attempts < POD_LIMITS_EVENT_ATTEMPTS)
                post_event(e, r, pod);
}

void pod_limits_enforcer_sync(PodLimitsEnforcer *e, const PodWatch *watch, bool dry_run) {
        size_t n;
        const KubePod *pods = pod_watch_pods(watch, &n);
        for (size_t i = 0; i < e->n_records; i++)
                e->records[i]->seen = false;
        for (size_t i = 0; i < n; i++) {
                if (!is_limited_offline(&pods[i]))
                        continue;
                LimitsRecord *r = find_record(e, pods[i].uid);
                if (!r && !(r = add_record(e, &pods[i]))) {
                        log_error("Out of memory following pod %s; retrying next period.", pods[i].uid);
                        continue;
                }
                r->seen = true;
                report_malformed(e, r, &pods[i], dry_run);
        }
        size_t keep = 0;
        for (size_t i = 0; i < e->n_records; i++) {
                if (e->records[i]->seen)
                        e->records[keep++] = e->records[i];
                else
                        record_free(e, e->records[i]);
        }
        e->n_records = keep;
}

static void announce(PodLimitsEnforcer *e, const KubePod *pod, const CgKnobs *k) {
        LimitsRecord *r = find_record(e, pod->uid);
        if (!r || r->announced)
                return;
        r->announced = true;
        const char *cpu_src = pod->limits_error[0] ? "default, malformed annotation" :
                              pod->own_limits.cpu_milli > 0 ? "its limit" : "default, no limit";
        const char *mem_src = pod->limits_error[0] ? "default, malformed annotation" :
                              pod->own_limits.memory > 0 ? "its limit" : "default, no limit";
        log_info("Offline pod %s: CPU quota %" PRIu64 "/%" PRIu64 " us (%s), memory.max %" PRIu64 " (%s), pids.max %" PRIu64
                 ".", r->ref, k->cpu_quota_usec, k->cpu_period_usec, cpu_src, k->mem_max, mem_src, k->pids_max);
}

/* On v1, moves the offline parent (at index qos) after the last offline pod. */
static void move_parent_after_pods(KubeletGroupPlan *groups, size_t n, size_t qos) {
        size_t last = qos;
        for (size_t i = qos + 1; i < n; i++)
                if (groups[i].kind == KUBELET_GROUP_OFFLINE_POD)
                        last = i;
        if (last == qos)
                return;
        KubeletGroupPlan parent = groups[qos];
        memmove(&groups[qos], &groups[qos + 1], (last - qos) * sizeof(*groups));
        groups[last] = parent;
}

void pod_limits_enforcer_prepare(PodLimitsEnforcer *e, const PodWatch *watch, const KubernetesConfig *kc, CgMode mode,
                                 const CgKnobs *offline_parent_last, KubeletGroupPlan *groups, size_t n) {
        const PodLimitDefaults d = {
                .cpu_milli = (int64_t) (kc->offline_pod_default_cpu_cores * 1000.0 + 0.5),
                .memory = (int64_t) MIN(kc->offline_pod_default_memory, (uint64_t) POD_LIMITS_MEMORY_MAX),
                .pids_max = kc->offline_pod_pids_max,
        };
        const CgKnobs *parent = NULL;
        size_t qos = n;
        for (size_t i = 0; i < n; i++)
                if (groups[i].kind == KUBELET_GROUP_OFFLINE_QOS) {
                        parent = &groups[i].knobs;
                        qos = i;
                }
        for (size_t i = 0; i < n; i++) {
                KubeletGroupPlan *g = &groups[i];
                const KubePod *pod = pod_watch_find(watch, g->workload);
                if (!pod || (g->kind != KUBELET_GROUP_OFFLINE_POD && g->kind != KUBELET_GROUP_ONLINE_POD))
                        continue;
                if (g->kind == KUBELET_GROUP_ONLINE_POD || !is_limited_offline(pod)) {
                        if (pod->qos == KUBE_QOS_BEST_EFFORT) {
                                /* pids.max stays: kubelet's podPidsLimit may be there. */
                                g->knobs.cpu_quota_usec = g->knobs.mem_max = g->knobs.mem_high = CG_UNLIMITED;
                        }
                        continue;
                }
                pod_limits_knobs(pod->limits_error[0] ? NULL : &pod->own_limits, &d, &g->knobs);
                if (mode == CG_MODE_V1)
                        pod_limits_clamp_quota_v1(&g->knobs, parent);
                announce(e, pod, &g->knobs);
        }
        if (mode == CG_MODE_V1 && parent && pod_limits_parent_quota_drops(parent, offline_parent_last))
                move_parent_after_pods(groups, n, qos);
}

/* Kubernetes mode: each offline pod's own limits on its pod cgroup (what they are is decided by
 * k8s/pod-limits.h), and the report of a malformed colo.io/original-resources annotation: once per
 * pod and error, a warning in the log and a Warning Event (reason ColoLimitsMalformed) on the pod,
 * while the pod is capped at the configured defaults. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cgroup/cgroup.h"
#include "config/config.h"
#include "kube/kubeclient.h"
#include "k8s/pod-cgroup.h"
#include "kube/pod-watch.h"

#define POD_LIMITS_EVENT_REASON "ColoLimitsMalformed"
#define POD_LIMITS_EVENT_ATTEMPTS 3

typedef struct PodLimitsEnforcer PodLimitsEnforcer;

/* The client must outlive the enforcer. -ENOMEM. */
int pod_limits_enforcer_new(KubeClient *client, const char *node_name, PodLimitsEnforcer **ret);
/* Cancels Events in flight; NULL-safe, returns NULL. */
PodLimitsEnforcer *pod_limits_enforcer_free(PodLimitsEnforcer *e);

/* Once per period, after the pods were synced: reports offline pods whose annotation is malformed
 * (each once per distinct error; the Event is retried at later periods, at most
 * POD_LIMITS_EVENT_ATTEMPTS times; no Event in a dry run) and forgets pods that left the store. */
void pod_limits_enforcer_sync(PodLimitsEnforcer *e, const PodWatch *watch, bool dry_run);

/* Adds to the mapped plan (groups, from pod_cgroup_map_plan()) each offline pod's CFS quota and
 * period, memory.max and memory.high, and pids.max, its own limits or kc's defaults; an online
 * BestEffort pod (kubelet writes no limits there) gets them back to unlimited, for a pod that was
 * offline before. On cgroup v1 the quotas are clamped to the offline parent's CPU ratio, and when
 * that ratio drops (offline_parent_last: what colo last wrote there, NULL if unknown) the parent
 * moves after the offline pods, so their quotas come down first: v1 refuses (EINVAL) a parent
 * quota below a child's and a child quota above its parent's. */
void pod_limits_enforcer_prepare(PodLimitsEnforcer *e, const PodWatch *watch, const KubernetesConfig *kc, CgMode mode,
                                 const CgKnobs *offline_parent_last, KubeletGroupPlan *groups, size_t n);

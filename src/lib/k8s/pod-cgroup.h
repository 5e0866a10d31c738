/* Where kubelet puts a pod's cgroups, and how colo's logical groups map onto that tree. Pure: no
 * I/O, so both drivers and every runtime are unit tested without a node.
 *
 * kubelet's tree, relative to the kubepods cgroup (the same relative path in each v1 hierarchy,
 * <fs_root>/<controller>/<kubepods>/..., and on v2, <fs_root>/<kubepods>/...):
 *
 *                 cgroupfs driver                  systemd driver
 *   kubepods      kubepods                         kubepods.slice
 *   Guaranteed    pod<uid>                         kubepods-pod<uid_>.slice
 *   Burstable     burstable/pod<uid>               kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice
 *   BestEffort    besteffort/pod<uid>              kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice
 *   container     <pod>/<id> (containerd, Docker)  <pod>/cri-containerd-<id>.scope, crio-<id>.scope,
 *                 <pod>/crio-<id> (CRI-O)          docker-<id>.scope
 *
 * <uid_> is the pod UID with '-' replaced by '_' (systemd reserves '-' in unit names for nesting).
 *
 * colo's logical groups onto that tree (see pod_cgroup_map_plan()): offline pods are BestEffort
 * (the admission webhook moves their requests to colo.io/offline-*), so the besteffort QoS cgroup
 * is the offline parent and each offline pod's cgroup is an offline workload group; online pods
 * are Burstable or Guaranteed and have no single parent. colo never creates, removes or moves
 * kubelet's cgroups and writes only knobs kubelet leaves alone:
 *
 *   plan group               kubelet cgroup           knobs colo writes there
 *   ""                       kubepods                 memory.low/min (v2 online protection)
 *   online                   burstable QoS cgroup     memory.low/min
 *   offline                  besteffort QoS cgroup    cpu.idle, CFS quota/period, memory limit,
 *                                                     v1 soft limit, qos_level, memory.low/min 0
 *   online/<tier>            (none)                   -
 *   offline/<tier>           (none)                   its CPU weight goes to the tier's pods
 *   online/<tier>/<pod>      the pod's cgroup         cpu.idle 0, memory.low/min, qos_level
 *   offline/<tier>/<pod>     the pod's cgroup         cpu.idle 0, tier CPU weight, memory.low/min 0,
 *                                                     qos_level, oom_score_adj; and (added by the
 *                                                     agent, k8s/pod-limits.h) the pod's own limits:
 *                                                     CFS quota/period, memory.max/high, pids.max
 *
 * Left to kubelet: the QoS cgroups' and online pods' CPU weights (kubelet derives them from
 * requests and rewrites them), online pods' oom_score_adj (kubelet's QoS scores), every limit of
 * an online pod's own cgroup and of every container's cgroup. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cgroup/cgroup.h"
#include "model/workload.h"
#include "util/error.h"

typedef struct Plan Plan;

/* Longest relative path these functions produce, with room to spare. */
#define POD_CGROUP_PATH_MAX 256
/* Longest pod UID accepted (UUIDs are 36 characters). */
#define POD_UID_MAX 64
/* Longest container ID accepted (runtimes use 64 hex digits). */
#define CONTAINER_ID_MAX 128

typedef enum KubeCgroupDriver {
        KUBE_CGROUP_DRIVER_CGROUPFS,
        KUBE_CGROUP_DRIVER_SYSTEMD,
        _KUBE_CGROUP_DRIVER_MAX,
        _KUBE_CGROUP_DRIVER_INVALID = -EINVAL,
} KubeCgroupDriver;

/* Pod QoS classes, as in status.qosClass. */
typedef enum KubeQosClass {
        KUBE_QOS_GUARANTEED,
        KUBE_QOS_BURSTABLE,
        KUBE_QOS_BEST_EFFORT,
        _KUBE_QOS_MAX,
        _KUBE_QOS_INVALID = -EINVAL,
} KubeQosClass;

typedef enum KubeRuntime {
        KUBE_RUNTIME_CONTAINERD,        /* "containerd://<id>" */
        KUBE_RUNTIME_CRIO,              /* "cri-o://<id>" */
        KUBE_RUNTIME_DOCKER,            /* "docker://<id>" (cri-dockerd) */
        _KUBE_RUNTIME_MAX,
        _KUBE_RUNTIME_INVALID = -EINVAL,
} KubeRuntime;

KubeCgroupDriver kube_cgroup_driver_from_string(const char *s);  /* "cgroupfs", "systemd" */
const char *kube_cgroup_driver_to_string(KubeCgroupDriver d);
KubeQosClass kube_qos_class_from_string(const char *s);          /* "Guaranteed", "Burstable", "BestEffort" */
const char *kube_qos_class_to_string(KubeQosClass q);
const char *kube_runtime_to_string(KubeRuntime r);               /* "containerd", "cri-o", "docker" */

/* Whether s is usable as a pod UID in a cgroup name: 1..POD_UID_MAX-1 of [0-9A-Za-z-]. */
bool pod_uid_is_valid(const char *s);

/* Splits status.containerStatuses[].containerID ("containerd://0123abcd...") into the runtime
 * and the ID (1..CONTAINER_ID_MAX-1 of [0-9A-Za-z], so it is safe in a path). -EINVAL for an
 * unknown runtime or a malformed ID, -ENOBUFS when id_size is too small. */
int kube_container_id_parse(const char *s, KubeRuntime *ret_runtime, char *id, size_t id_size);

/* The kubepods cgroup below kubelet's cgroup root ("/" by default): "kubepods" or
 * "kubepods.slice". NULL for an invalid driver. */
const char *pod_cgroup_kubepods_name(KubeCgroupDriver d);

/* The QoS cgroup relative to kubepods: "" (Guaranteed), "burstable", "besteffort"; systemd:
 * "", "kubepods-burstable.slice", "kubepods-besteffort.slice". Returns the length or -EINVAL,
 * -ENOBUFS. */
int pod_cgroup_qos_path(KubeCgroupDriver d, KubeQosClass q, char *buf, size_t size);

/* The pod's cgroup relative to kubepods. -EINVAL for an invalid driver, QoS class or UID. */
int pod_cgroup_pod_path(KubeCgroupDriver d, KubeQosClass q, const char *uid, char *buf, size_t size);

/* A container's cgroup relative to kubepods. */
int pod_cgroup_container_path(KubeCgroupDriver d, KubeQosClass q, const char *uid, KubeRuntime runtime,
                              const char *container_id, char *buf, size_t size);

/* The directory of rel (relative to kubepods, "" for kubepods itself) in one hierarchy:
 * v2 "<fs_root>/<kubepods>/<rel>", v1 "<fs_root>/<controller>/<kubepods>/<rel>". kubepods is the
 * kubepods cgroup's path from the hierarchy root ("kubepods", or "custom.slice/kubepods.slice"
 * under a kubelet --cgroup-root). For logs and tests: the agent itself opens groups through
 * CgRoot, which does this for every hierarchy. */
int pod_cgroup_hierarchy_path(const char *fs_root, CgMode mode, const char *controller, const char *kubepods,
                              const char *rel, char *buf, size_t size);

/* --- colo's plan onto kubelet's tree --- */

/* Resolves a plan leaf's workload name (the agent uses the pod UID) to that pod's cgroup path
 * relative to kubepods; NULL when the pod is unknown or its cgroup was not found (it is then left
 * out of the mapped plan, and retried by the caller on a later tick). */
typedef const char *(*PodCgroupLookup)(void *userdata, const char *workload_name);

typedef enum KubeletGroupKind {
        KUBELET_GROUP_KUBEPODS,
        KUBELET_GROUP_ONLINE_QOS,       /* the burstable QoS cgroup */
        KUBELET_GROUP_OFFLINE_QOS,      /* the besteffort QoS cgroup: the offline parent */
        KUBELET_GROUP_ONLINE_POD,
        KUBELET_GROUP_OFFLINE_POD,
        _KUBELET_GROUP_KIND_MAX,
} KubeletGroupKind;

typedef struct KubeletGroupPlan {
        char path[POD_CGROUP_PATH_MAX]; /* relative to kubepods; "" is kubepods itself */
        KubeletGroupKind kind;
        char workload[WORKLOAD_NAME_MAX];       /* pods: the plan's workload name */
        CgKnobs knobs;                  /* only the knobs colo owns there (table above); others unset */
} KubeletGroupPlan;

/* Keeps only the knobs of want that colo owns on a kubelet group of this kind (the table above).
 * tier_cpu_weight is the CPU weight of the pod's tier (offline pods only; CG_UNSET: leave it). */
void pod_cgroup_filter_knobs(KubeletGroupKind kind, const CgKnobs *want, uint64_t tier_cpu_weight, CgKnobs *ret);

/* Maps plan onto kubelet's tree, offline first so limits on offline work drop before online
 * protection grows: the besteffort cgroup, offline pods, then kubepods, the burstable cgroup and
 * online pods. Leaves lookup() cannot resolve are skipped. *ret is malloc'd (NULL when *ret_n is 0). Returns 0, -EINVAL (NULL argument, invalid
 * driver) or -ENOMEM. O(groups). */
int pod_cgroup_map_plan(const Plan *plan, KubeCgroupDriver d, PodCgroupLookup lookup, void *userdata,
                        KubeletGroupPlan **ret, size_t *ret_n);

/* An offline pod's own limits, which the node agent puts in force on the pod's cgroup. Pure: no
 * I/O, no clock, no globals.
 *
 * The admission webhook (admission.h) moves an offline pod's cpu and memory onto colo.io/offline-*
 * and keeps the originals in the annotation colo.io/original-resources =
 * {"containers":{NAME:{"requests":{..},"limits":{..}}},"initContainers":{..}}. kubelet then sees a
 * BestEffort pod and writes no limit on its cgroup, so colo does, from the originals: a container
 * the annotation does not name keeps its spec's cpu/memory limits (it had none to move, or the pod
 * never went through the webhook). The pod's limit of one kind is what kubelet would have written
 * (pkg/kubelet/cm/helpers_linux.go, ResourceConfigForPod): max(sum over app containers and
 * sidecars, largest init container plus the sidecars started before it), and none at all when any
 * container or init container lacks a limit of that kind. A pod without a limit of a kind gets the configured default cap of that kind: an offline
 * pod is never left uncapped. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cgroup/cgroup.h"
#include "util/error.h"

/* Kubernetes caps all annotations of an object together at 256 KiB; a longer value is refused. */
#define POD_LIMITS_ANNOTATION_MAX (256u << 10)
/* Containers per list (containers, initContainers) accepted in the annotation. */
#define POD_LIMITS_CONTAINERS_MAX 128
/* Largest limit accepted, per container and for the pod: about 4 million cores (a CFS quota the
 * kernel still takes at a 100 ms period) and 1 EiB. Larger values are refused as malformed. */
#define POD_LIMITS_CPU_MILLI_MAX (INT64_C(1) << 32)
#define POD_LIMITS_MEMORY_MAX (INT64_C(1) << 60)
/* kubelet's CFS period (its cpuCFSQuotaPeriod default) and smallest quota (MinQuotaPeriod). */
#define POD_LIMITS_CFS_PERIOD_USEC UINT64_C(100000)
#define POD_LIMITS_CFS_QUOTA_MIN_USEC UINT64_C(1000)
/* memory.high as a share of the memory limit (v2), page-aligned down: the factor kubelet's
 * MemoryQoS uses (memoryThrottlingFactor, 0.9), so reclaim throttles a pod nearing its limit
 * before the OOM killer ends it at memory.max. */
#define POD_LIMITS_MEMORY_HIGH_PERCENT 90
#define POD_LIMITS_PAGE_SIZE UINT64_C(4096)

/* One container's original limits as kept in the annotation (0 with has_* false: none given). */
typedef struct PodOriginalContainer {
        char name[64];
        bool has_cpu_limit, has_memory_limit;
        int64_t cpu_limit_milli;
        int64_t memory_limit;
} PodOriginalContainer;

typedef struct PodOriginalResources {
        PodOriginalContainer containers[POD_LIMITS_CONTAINERS_MAX];
        size_t n_containers;
        PodOriginalContainer init_containers[POD_LIMITS_CONTAINERS_MAX];
        size_t n_init_containers;
} PodOriginalResources;

/* The pod's effective limits. */
typedef struct PodLimits {
        int64_t cpu_milli;      /* 0: the pod has no CPU limit */
        int64_t memory;         /* bytes; 0: no memory limit */
} PodLimits;

/* The cap of a pod without limits of a kind (kubernetes.offline_pod_default_*), and pids.max
 * (kubernetes.offline_pod_pids_max), which Kubernetes pods cannot declare. */
typedef struct PodLimitDefaults {
        int64_t cpu_milli;      /* > 0 */
        int64_t memory;         /* > 0 */
        uint64_t pids_max;      /* 1..CG_PIDS_MAX */
} PodLimitDefaults;

/* Parses the annotation's value: a JSON object with only "containers" and "initContainers", each
 * mapping a container name to {"requests":{..},"limits":{..}} with only cpu and memory, whose
 * values are quantity strings (requests are checked too: a malformed record is refused whole).
 * Returns 0, or -EINVAL / -E2BIG / -ERANGE with err naming the field ("containers.app.limits.cpu:
 * '1x' is not a quantity"); *ret is untouched on failure. O(size). Fuzzed. */
int pod_limits_parse_annotation(const char *text, size_t size, PodOriginalResources *ret, ColoError *err);

/* The effective limits of a v1.Pod object, from its annotation (when present) and its spec's
 * containers and init containers. -EINVAL naming the field when the annotation is malformed, names
 * a container the pod does not have, or a sum exceeds the maxima above; *ret is untouched then and
 * the caller caps the pod at the defaults. */
int pod_limits_from_pod(const json_t *pod, PodLimits *ret, ColoError *err);

/* Sets the knobs that put lim in force on the pod's cgroup, with d for the kinds lim lacks (lim
 * NULL: a malformed annotation, every kind at its default): cpu_quota_usec / cpu_period_usec
 * (milli * period / 1000, at least POD_LIMITS_CFS_QUOTA_MIN_USEC), mem_max, mem_high (v2 only, see
 * POD_LIMITS_MEMORY_HIGH_PERCENT) and pids_max. Other fields of ret are left alone. */
void pod_limits_knobs(const PodLimits *lim, const PodLimitDefaults *d, CgKnobs *ret);

/* cgroup v1 refuses (EINVAL) a child CFS quota whose quota/period ratio exceeds its parent's, and
 * a parent quota below a child's; a child without its own quota simply inherits. So on v1 an
 * offline pod's quota is clamped to the ratio the offline parent gets (parent: its wanted knobs;
 * no quota wanted, or unlimited: nothing to clamp). */
void pod_limits_clamp_quota_v1(CgKnobs *pod, const CgKnobs *parent);

/* True when applying parent (wanted) after last (applied) lowers its CPU ratio on v1, so the
 * offline pods' quotas must come down before it does. Unknown last counts as lowering. */
bool pod_limits_parent_quota_drops(const CgKnobs *parent_want, const CgKnobs *parent_last);

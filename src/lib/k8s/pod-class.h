/* Classification of a Kubernetes pod as online or offline, and its tier, from the pod object.
 * Shared by the admission webhook, the scheduler extender and the node agent, so all three
 * agree on what a pod is. Markers, in precedence order:
 *   1. annotation colo.io/class: online | offline
 *   2. annotation colo.io/tier: critical | normal (online) | batch | best-effort (offline)
 *   3. Koordinator's koordinator.sh/qosClass (label, or annotation): BE => offline;
 *      LSE, LSR, SYSTEM => online critical; LS => online normal
 *   4. Rubik's / Volcano's volcano.sh/preemptable (annotation, or label): "true" => offline,
 *      "false" => online
 *   5. spec.priorityClassName == "colo-offline" => offline
 *   6. fallback on spec.priority: below 0 => offline (batch); above 1000000000 (the system
 *      classes, beyond Kubernetes' highest user-definable priority) => online critical;
 *      otherwise, and when nothing is said at all, online normal (unknown pods stay protected). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "model/workload.h"
#include "util/error.h"

#define POD_CLASS_ANNOTATION "colo.io/class"
#define POD_TIER_ANNOTATION "colo.io/tier"
#define POD_KOORDINATOR_QOS_KEY "koordinator.sh/qosClass"
#define POD_VOLCANO_PREEMPTABLE_KEY "volcano.sh/preemptable"
#define POD_OFFLINE_PRIORITY_CLASS "colo-offline"
/* What the webhook took off an offline pod's containers, so the agent can put those limits on the
 * pod's cgroup (pod-limits.h). */
#define POD_ORIGINAL_RESOURCES_ANNOTATION "colo.io/original-resources"

/* Priority fallback thresholds (step 6 above). */
#define POD_PRIORITY_OFFLINE_BELOW 0
#define POD_PRIORITY_CRITICAL_ABOVE 1000000000

typedef enum PodClassSource {
        POD_CLASS_SOURCE_ANNOTATION,
        POD_CLASS_SOURCE_TIER,
        POD_CLASS_SOURCE_KOORDINATOR,
        POD_CLASS_SOURCE_VOLCANO,
        POD_CLASS_SOURCE_PRIORITY_CLASS,
        POD_CLASS_SOURCE_PRIORITY,
        POD_CLASS_SOURCE_DEFAULT,
        _POD_CLASS_SOURCE_MAX,
        _POD_CLASS_SOURCE_INVALID = -EINVAL,
} PodClassSource;

typedef enum PodClassMode {
        /* Admission: every marker present must agree; a disagreement is an error. */
        POD_CLASS_STRICT,
        /* Running pods: the highest-precedence marker wins and .conflict records a disagreement,
         * so editing colo.io/class on a running pod changes its treatment in both directions. */
        POD_CLASS_PRECEDENCE,
} PodClassMode;

typedef struct PodClass {
        WorkloadClass workload_class;
        WorkloadTier tier;
        PodClassSource source;
        bool conflict;          /* POD_CLASS_PRECEDENCE only: a lower marker disagreed */
} PodClass;

/* The markers, as plain strings (NULL when absent), so callers without JSON can classify too. */
typedef struct PodClassInput {
        const char *class_annotation;
        const char *tier_annotation;
        const char *koordinator_qos;
        const char *volcano_preemptable;
        const char *priority_class_name;
        bool has_priority;
        int32_t priority;
} PodClassInput;

const char *pod_class_source_to_string(PodClassSource s);   /* "annotation colo.io/class", ... */

/* Returns 0 and fills *ret, or -EINVAL with a message saying what to fix (an unknown class or
 * tier value, a tier of the other class, disagreeing markers in strict mode). Pure. */
int pod_class_resolve(const PodClassInput *in, PodClassMode mode, PodClass *ret, ColoError *err);

/* Fills *ret with pointers into pod (a v1.Pod object; valid while pod is). -EINVAL when a marker
 * has the wrong JSON type or spec.priority is not an int32. */
int pod_class_input_from_json(const json_t *pod, PodClassInput *ret, ColoError *err);

/* pod_class_input_from_json() then pod_class_resolve(). */
int pod_class_from_json(const json_t *pod, PodClassMode mode, PodClass *ret, ColoError *err);

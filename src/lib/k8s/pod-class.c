/* Pod classification: collects the markers a pod carries (colo's own annotations, Koordinator's
 * QoS class, Rubik's/Volcano's preemptable flag, the priority class) as votes in precedence order,
 * then either demands agreement (admission) or lets the first vote win (running pods). */
#include <string.h>

#include "k8s/pod-class.h"
#include "util/macro.h"

static const char *const source_names[_POD_CLASS_SOURCE_MAX] = {
        [POD_CLASS_SOURCE_ANNOTATION] = "annotation " POD_CLASS_ANNOTATION,
        [POD_CLASS_SOURCE_TIER] = "annotation " POD_TIER_ANNOTATION,
        [POD_CLASS_SOURCE_KOORDINATOR] = POD_KOORDINATOR_QOS_KEY,
        [POD_CLASS_SOURCE_VOLCANO] = POD_VOLCANO_PREEMPTABLE_KEY,
        [POD_CLASS_SOURCE_PRIORITY_CLASS] = "priorityClassName " POD_OFFLINE_PRIORITY_CLASS,
        [POD_CLASS_SOURCE_PRIORITY] = "spec.priority",
        [POD_CLASS_SOURCE_DEFAULT] = "default",
};

const char *pod_class_source_to_string(PodClassSource s) {
        return s >= 0 && s < _POD_CLASS_SOURCE_MAX ? source_names[s] : NULL;
}

typedef struct Vote {
        PodClassSource source;
        WorkloadClass workload_class;
        WorkloadTier tier;              /* _TIER_INVALID: the marker says nothing about the tier */
        const char *value;
} Vote;

static int koordinator_vote(const char *v, Vote *ret) {
        static const struct {
                const char *name;
                WorkloadClass c;
                WorkloadTier t;
        } table[] = {
                { "LSE", CLASS_ONLINE, TIER_CRITICAL }, { "LSR", CLASS_ONLINE, TIER_CRITICAL },
                { "SYSTEM", CLASS_ONLINE, TIER_CRITICAL }, { "LS", CLASS_ONLINE, TIER_NORMAL },
                { "BE", CLASS_OFFLINE, _TIER_INVALID },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcmp(v, table[i].name) == 0) {
                        *ret = (Vote) { POD_CLASS_SOURCE_KOORDINATOR, table[i].c, table[i].t, v };
                        return 0;
                }
        return -EINVAL;
}

/* Turns the markers present into votes, highest precedence first. Invalid values of colo's own
 * annotations are errors in every mode; invalid foreign markers only in strict mode. */
static int collect_votes(const PodClassInput *in, PodClassMode mode, Vote votes[static 5], size_t *ret_n,
                         ColoError *err) {
        size_t n = 0;
        if (in->class_annotation) {
                WorkloadClass c = workload_class_from_string(in->class_annotation);
                if (c < 0)
                        return colo_error_setf_plain(err, EINVAL,
                                                     "annotation " POD_CLASS_ANNOTATION ": '%s' is not a class; "
                                                     "use \"online\" or \"offline\"",
                                                     in->class_annotation);
                votes[n++] = (Vote) { POD_CLASS_SOURCE_ANNOTATION, c, _TIER_INVALID, in->class_annotation };
        }
        if (in->tier_annotation) {
                WorkloadTier t = workload_tier_from_string(in->tier_annotation);
                if (t < 0)
                        return colo_error_setf_plain(err, EINVAL,
                                                     "annotation " POD_TIER_ANNOTATION ": '%s' is not a tier; use "
                                                     "\"critical\" or \"normal\" (online), \"batch\" or "
                                                     "\"best-effort\" (offline)",
                                                     in->tier_annotation);
                votes[n++] = (Vote) { POD_CLASS_SOURCE_TIER, workload_tier_class(t), t, in->tier_annotation };
        }
        if (in->koordinator_qos) {
                Vote v;
                if (koordinator_vote(in->koordinator_qos, &v) >= 0)
                        votes[n++] = v;
                else if (mode == POD_CLASS_STRICT)
                        return colo_error_setf_plain(err, EINVAL,
                                                     POD_KOORDINATOR_QOS_KEY ": '%s' is not a Koordinator QoS class "
                                                     "(LSE, LSR, LS, BE, SYSTEM)",
                                                     in->koordinator_qos);
        }
        if (in->volcano_preemptable) {
                if (strcmp(in->volcano_preemptable, "true") == 0)
                        votes[n++] = (Vote) { POD_CLASS_SOURCE_VOLCANO, CLASS_OFFLINE, _TIER_INVALID,
                                              in->volcano_preemptable };
                else if (strcmp(in->volcano_preemptable, "false") == 0)
                        votes[n++] = (Vote) { POD_CLASS_SOURCE_VOLCANO, CLASS_ONLINE, _TIER_INVALID,
                                              in->volcano_preemptable };
                else if (mode == POD_CLASS_STRICT)
                        return colo_error_setf_plain(err, EINVAL,
                                                     POD_VOLCANO_PREEMPTABLE_KEY ": '%s' must be \"true\" or \"false\"",
                                                     in->volcano_preemptable);
        }
        if (in->priority_class_name && strcmp(in->priority_class_name, POD_OFFLINE_PRIORITY_CLASS) == 0)
                votes[n++] = (Vote) { POD_CLASS_SOURCE_PRIORITY_CLASS, CLASS_OFFLINE, _TIER_INVALID,
                                      in->priority_class_name };
        *ret_n = n;
        return 0;
}

static void describe_vote(const Vote *v, char *buf, size_t size) {
        if (v->source == POD_CLASS_SOURCE_PRIORITY_CLASS)
                snprintf(buf, size, "priorityClassName '%s' (offline)", v->value);
        else
                snprintf(buf, size, "%s '%s' (%s)", pod_class_source_to_string(v->source), v->value,
                         workload_class_to_string(v->workload_class));
}

int pod_class_resolve(const PodClassInput *in, PodClassMode mode, PodClass *ret, ColoError *err) {
        Vote votes[5];
        size_t n = 0;
        int r = collect_votes(in, mode, votes, &n, err);
        if (r < 0)
                return r;

        PodClass result = { .conflict = false };
        if (n == 0) {
                /* Nothing said: decide on the resolved priority, the admission plugin's output. */
                if (in->has_priority && in->priority < POD_PRIORITY_OFFLINE_BELOW)
                        result = (PodClass) { CLASS_OFFLINE, TIER_BATCH, POD_CLASS_SOURCE_PRIORITY, false };
                else if (in->has_priority && in->priority > POD_PRIORITY_CRITICAL_ABOVE)
                        result = (PodClass) { CLASS_ONLINE, TIER_CRITICAL, POD_CLASS_SOURCE_PRIORITY, false };
                else
                        result = (PodClass) { CLASS_ONLINE, TIER_NORMAL,
                                              in->has_priority ? POD_CLASS_SOURCE_PRIORITY : POD_CLASS_SOURCE_DEFAULT,
                                              false };
                *ret = result;
                return 0;
        }

        const Vote *winner = &votes[0];
        for (size_t i = 1; i < n; i++) {
                if (votes[i].workload_class == winner->workload_class)
                        continue;
                if (mode == POD_CLASS_STRICT) {
                        char a[256], b[256];
                        describe_vote(winner, a, sizeof(a));
                        describe_vote(&votes[i], b, sizeof(b));
                        return colo_error_setf_plain(err, EINVAL, "contradictory classification: %s but %s; "
                                                     "make them agree or remove one", a, b);
                }
                result.conflict = true;
        }

        result.workload_class = winner->workload_class;
        result.source = winner->source;
        /* The tier: the first vote of the winning class that names one, else the class default. */
        result.tier = workload_class_default_tier(winner->workload_class);
        for (size_t i = 0; i < n; i++)
                if (votes[i].tier >= 0 && votes[i].workload_class == winner->workload_class) {
                        result.tier = votes[i].tier;
                        break;
                }
        *ret = result;
        return 0;
}

/* Looks key up in metadata.<field> (an object of strings). */
static int metadata_string(const json_t *pod, const char *field, const char *key, const char **ret,
                           ColoError *err) {
        *ret = NULL;
        const json_t *meta = json_object_get(pod, "metadata");
        if (!meta)
                return 0;
        if (!json_is_object(meta))
                return colo_error_setf_plain(err, EINVAL, "metadata: not an object");
        const json_t *map = json_object_get(meta, field);
        if (!map || json_is_null(map))
                return 0;
        if (!json_is_object(map))
                return colo_error_setf_plain(err, EINVAL, "metadata.%s: not an object", field);
        const json_t *v = json_object_get(map, key);
        if (!v)
                return 0;
        if (!json_is_string(v))
                return colo_error_setf_plain(err, EINVAL, "metadata.%s[\"%s\"]: not a string", field, key);
        *ret = json_string_value(v);
        return 0;
}

/* An annotation, else a label of the same key (Koordinator uses a label, Rubik an annotation). */
static int marker_string(const json_t *pod, const char *key, const char **ret, ColoError *err) {
        int r = metadata_string(pod, "annotations", key, ret, err);
        if (r < 0 || *ret)
                return r;
        return metadata_string(pod, "labels", key, ret, err);
}

int pod_class_input_from_json(const json_t *pod, PodClassInput *ret, ColoError *err) {
        PodClassInput in = {};
        int r;
        if (!json_is_object(pod))
                return colo_error_setf_plain(err, EINVAL, "pod: not an object");
        if ((r = metadata_string(pod, "annotations", POD_CLASS_ANNOTATION, &in.class_annotation, err)) < 0 ||
            (r = metadata_string(pod, "annotations", POD_TIER_ANNOTATION, &in.tier_annotation, err)) < 0 ||
            (r = marker_string(pod, POD_KOORDINATOR_QOS_KEY, &in.koordinator_qos, err)) < 0 ||
            (r = marker_string(pod, POD_VOLCANO_PREEMPTABLE_KEY, &in.volcano_preemptable, err)) < 0)
                return r;

        const json_t *spec = json_object_get(pod, "spec");
        if (spec && !json_is_object(spec))
                return colo_error_setf_plain(err, EINVAL, "spec: not an object");
        const json_t *pcn = spec ? json_object_get(spec, "priorityClassName") : NULL;
        if (pcn && !json_is_null(pcn)) {
                if (!json_is_string(pcn))
                        return colo_error_setf_plain(err, EINVAL, "spec.priorityClassName: not a string");
                in.priority_class_name = json_string_value(pcn);
        }
        const json_t *prio = spec ? json_object_get(spec, "priority") : NULL;
        if (prio && !json_is_null(prio)) {
                if (!json_is_integer(prio) || json_integer_value(prio) < INT32_MIN || json_integer_value(prio) > INT32_MAX)
                        return colo_error_setf_plain(err, EINVAL, "spec.priority: not a 32-bit integer");
                in.has_priority = true;
                in.priority = (int32_t) json_integer_value(prio);
        }
        *ret = in;
        return 0;
}

int pod_class_from_json(const json_t *pod, PodClassMode mode, PodClass *ret, ColoError *err) {
        PodClassInput in;
        int r = pod_class_input_from_json(pod, &in, err);
        if (r < 0)
                return r;
        return pod_class_resolve(&in, mode, ret, err);
}

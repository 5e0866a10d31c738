/* The mutating admission webhook's decision, as pure functions: an AdmissionReview v1 request
 * document in, an AdmissionReview v1 response document out (no I/O, no clock, no globals).
 *
 * An offline pod (see pod-class.h) is rewritten so that it consumes the node's oversold capacity
 * instead of its guaranteed capacity:
 *  - in every container and init container, cpu and memory disappear from requests and limits;
 *    the effective request (the request, or the limit when only a limit is given) becomes
 *    colo.io/offline-cpu (millicores) and colo.io/offline-memory (bytes), written as integer
 *    quantities to both requests and limits, because Kubernetes requires requests == limits for
 *    extended resources;
 *  - the original cpu/memory requests and limits are kept, verbatim, in the annotation
 *    colo.io/original-resources = {"containers":{NAME:{"requests":{..},"limits":{..}}},
 *    "initContainers":{..}} (compact JSON, keys sorted), where the node agent reads the limits;
 *  - spec.priorityClassName becomes colo-offline and spec.priority / spec.preemptionPolicy are set
 *    to that class's values: the Priority admission plugin has already resolved them from the old
 *    class before webhooks run, and would refuse a value that disagrees with the class if it runs
 *    again.
 * The annotation marks a pod as done: a pod that already has the target form gets no patch, so
 * running the webhook on its own output changes nothing. When a later mutating webhook (a sidecar
 * injector, VPA) adds cpu/memory after colo ran and colo is reinvoked, those are converted too and
 * their originals merged into the annotation. Online pods pass untouched. Only CREATE of pods (no
 * subresource) is acted on; other operations are allowed as they are. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "k8s/pod-class.h"
#include "model/workload.h"
#include "util/error.h"

#define ADMISSION_ORIGINAL_RESOURCES_ANNOTATION POD_ORIGINAL_RESOURCES_ANNOTATION
#define ADMISSION_REVIEW_API_VERSION "admission.k8s.io/v1"
/* Must equal the value of the colo-offline PriorityClass in deploy/kubernetes. */
#define ADMISSION_OFFLINE_PRIORITY_DEFAULT (-100)
/* Largest AdmissionReview accepted (the object and oldObject of a pod near etcd's 1.5 MiB limit). */
#define ADMISSION_REVIEW_MAX_SIZE (8u << 20)

typedef struct AdmissionConfig {
        int32_t offline_priority;                       /* the colo-offline PriorityClass value */
        const char *offline_preemption_policy;          /* "Never"; NULL leaves spec.preemptionPolicy */
        /* NULL-terminated list of priority classes an offline pod may carry and lose, such as a
         * cluster's globalDefault class, which the Priority plugin writes into every pod. */
        const char *const *replaceable_priority_classes;
} AdmissionConfig;

#define ADMISSION_CONFIG_DEFAULT                                                                  \
        ((AdmissionConfig) { .offline_priority = ADMISSION_OFFLINE_PRIORITY_DEFAULT,              \
                             .offline_preemption_policy = "Never",                                \
                             .replaceable_priority_classes = NULL })

typedef struct AdmissionOutcome {
        bool allowed;
        int code;                       /* 200 when allowed, else the status.code sent (400, 422) */
        WorkloadClass workload_class;   /* _CLASS_INVALID when the pod was not classified */
        size_t patch_ops;
        char uid[128];
        char pod[256];                  /* "namespace/name" for logs */
        char message[COLO_ERROR_MSG_MAX];
} AdmissionOutcome;

/* Decides on one v1.Pod object. Returns 0 with *ret_patch a JSON Patch array (empty when nothing
 * changes), or -EINVAL when the pod is rejected: out->code is 400 (malformed) or 422
 * (contradictory) and out->message says what to fix. out->workload_class is set either way when
 * the pod could be classified. */
int admission_mutate_pod(const AdmissionConfig *cfg, const json_t *pod, json_t **ret_patch, AdmissionOutcome *out);

/* Handles one AdmissionReview request body. Returns 0 with *ret_response (malloc'd JSON, to send
 * with HTTP 200; the review's allowed/status carry the decision) and *ret_outcome filled. Returns
 * -EINVAL / -EMSGSIZE when the body is not an AdmissionReview v1 request with a uid (send HTTP 400
 * with err's message); nothing is allocated then. */
int admission_review(const AdmissionConfig *cfg, const char *body, size_t size, char **ret_response,
                     size_t *ret_size, AdmissionOutcome *ret_outcome, ColoError *err);

/* Base64 (RFC 4648, padded) of data; malloc'd, NUL-terminated. NULL on allocation failure. */
char *admission_base64_encode(const void *data, size_t size);

/* The kube-scheduler extender's decisions, as pure functions over the extender JSON protocol
 * (k8s.io/kube-scheduler/extender/v1): ExtenderArgs in; ExtenderFilterResult (filter) or
 * HostPriorityList (prioritize) out, both with the Go field names of those untagged types, as
 * encoding/json writes them. No I/O; the clock is a parameter.
 *
 * Filter. Online pods are load-aware: a node fails when its predicted peak plus the pod's request
 * exceeds threshold x allocatable, for CPU or memory (colo.io/node-usage, see node-annotation.h).
 * Such nodes go to FailedAndUnresolvableNodes, because preempting pods cannot lower a predicted
 * peak. Offline pods fail on nodes whose current offline budget (the annotation, which leads the
 * hysteresis-damped node status) cannot hold what offline pods already request plus this pod
 * (FailedNodes); the fit against status.allocatable is kube-scheduler's own NodeResourcesFit.
 * Nodes whose annotation is missing, unparsable or stale pass (fail open): colo never blocks
 * scheduling because its agent is down.
 *
 * Prioritize (0..10, MaxExtenderPriority). Offline pods: oversold headroom left after placing the
 * pod, min(status.allocatable, annotation budget) - requested - pod, relative to the best
 * candidate (which scores 10), on the resources the pod requests. Online pods: 10 x (1 - (peak +
 * request) / allocatable), the lower of CPU and memory. Stale or missing data scores 0.
 *
 * Candidates come either as full Nodes (nodeCacheCapable: false, the reference configuration) or
 * as names (nodeCacheCapable: true), which are looked up in an ExtenderNodeSet the caller keeps
 * fresh (colo extender --node-source); names missing from it count as nodes without data. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/node-annotation.h"
#include "util/error.h"

#define EXTENDER_MAX_PRIORITY 10
#define EXTENDER_REQUEST_MAX_SIZE_DEFAULT (64u << 20)

typedef struct ExtenderConfig {
        double cpu_threshold;           /* online filter: fraction of allocatable CPU, (0, 1] */
        double memory_threshold;        /* the same for memory */
        uint64_t stale_after_usec;      /* older colo.io/node-usage counts as missing */
        size_t max_request_size;        /* larger ExtenderArgs are refused (-EMSGSIZE) */
} ExtenderConfig;

#define EXTENDER_CONFIG_DEFAULT                                                                   \
        ((ExtenderConfig) { .cpu_threshold = 0.80, .memory_threshold = 0.90,                      \
                            .stale_after_usec = 600 * USEC_PER_SEC,                       \
                            .max_request_size = EXTENDER_REQUEST_MAX_SIZE_DEFAULT })

/* What the extender uses of one Node. Quantities are -1 when the node does not report them. */
typedef struct ExtenderNode {
        const char *name;
        int64_t alloc_cpu_milli;
        int64_t alloc_memory;
        int64_t alloc_offline_cpu_milli;
        int64_t alloc_offline_memory;
        bool has_usage;                 /* colo.io/node-usage present and valid */
        NodeUsage usage;
} ExtenderNode;

/* An immutable, reference-counted set of nodes indexed by name, for nodeCacheCapable mode. */
typedef struct ExtenderNodeSet ExtenderNodeSet;

/* Builds a set from the text of a v1.NodeList (or a JSON array of Nodes). -EINVAL when it is not
 * one, or a node has no name or is listed twice. A node's unreadable annotation or quantity only
 * leaves that datum unknown. */
int extender_node_set_parse(const char *text, size_t size, ExtenderNodeSet **ret, ColoError *err);
ExtenderNodeSet *extender_node_set_ref(ExtenderNodeSet *s);
ExtenderNodeSet *extender_node_set_unref(ExtenderNodeSet *s);
size_t extender_node_set_size(const ExtenderNodeSet *s);
/* O(1) expected. NULL when absent. */
const ExtenderNode *extender_node_set_find(const ExtenderNodeSet *s, const char *name);

static inline void extender_node_set_unrefp(ExtenderNodeSet **s) {
        if (*s)
                extender_node_set_unref(*s);
}

/* A slot holding the current set, shared between request threads and one refresher. */
typedef struct ExtenderNodeCache ExtenderNodeCache;
int extender_node_cache_new(ExtenderNodeCache **ret);
ExtenderNodeCache *extender_node_cache_free(ExtenderNodeCache *c);
/* Replaces the current set (takes a reference of s; s may be NULL to clear). */
void extender_node_cache_replace(ExtenderNodeCache *c, ExtenderNodeSet *s);
/* A reference to the current set, or NULL when none was ever loaded. Unref when done. */
ExtenderNodeSet *extender_node_cache_acquire(ExtenderNodeCache *c);

typedef enum ExtenderVerb {
        EXTENDER_FILTER,
        EXTENDER_PRIORITIZE,
        _EXTENDER_VERB_MAX,
        _EXTENDER_VERB_INVALID = -EINVAL,
} ExtenderVerb;

typedef struct ExtenderStats {
        size_t candidates;
        size_t passed;                  /* filter */
        size_t without_data;            /* missing, stale or invalid colo.io/node-usage */
        bool offline;                   /* the pod was classified offline */
        char pod[256];                  /* "namespace/name" for logs */
} ExtenderStats;

/* Handles one ExtenderArgs body for verb. Returns 0 with *ret_body (malloc'd JSON, for HTTP 200):
 * an ExtenderFilterResult, whose "Error" is set for requests that are well-formed but cannot be
 * served (NodeNames without a node set), or a HostPriorityList. Returns -EINVAL / -EMSGSIZE when
 * the body is not a valid ExtenderArgs (answer HTTP 400 with extender_error_body()); nothing is
 * allocated then. nodes may be NULL. stats may be NULL. O(request size). */
int extender_handle(const ExtenderConfig *cfg, ExtenderVerb verb, const ExtenderNodeSet *nodes, const char *body,
                    size_t size, uint64_t now_usec, char **ret_body, size_t *ret_size, ExtenderStats *stats,
                    ColoError *err);

/* {"Error": message} (an ExtenderFilterResult with only the error set), malloc'd. */
char *extender_error_body(const char *message, size_t *ret_size);

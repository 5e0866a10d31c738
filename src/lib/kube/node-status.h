/* Publishing the node's oversold capacity: extended resources colo.io/offline-cpu (millicores)
 * and colo.io/offline-memory (bytes) in status.capacity and status.allocatable, patched on
 * nodes/<name>/status, and the colo.io/node-usage annotation (node-annotation.h) on nodes/<name>,
 * both as JSON merge patches (application/merge-patch+json), which touch only the keys named.
 *
 * What is advertised: the offline budget, but never less than what the running offline pods
 * request (their colo.io/offline-* requests, pods being evicted left out). The kubelet re-admits
 * every pod against allocatable when it restarts, so advertising less would fail pods at random;
 * instead the agent evicts down to the budget (lowest tier first, node_status_pick_overcommit())
 * and the advertised value follows as the evicted pods leave.
 *
 * Hysteresis only upward, so the scheduler sees a steady number and the API server few writes: an
 * increase is patched when it reaches status_change_threshold (10%) of the published value, and
 * no sooner than NODE_STATUS_MIN_SPACING_USEC after the previous patch; a decrease of the
 * threshold or more goes out at once, a smaller one within NODE_STATUS_MIN_SPACING_USEC
 * (advertising too much invites pods the node cannot hold); and whatever the change, the value is
 * patched every status_update_interval (5 min). The annotation follows the same rule on the
 * predicted peak and budget, but at least every NODE_ANNOTATION_MAX_INTERVAL_USEC, well within
 * what the scheduler extender counts as fresh.
 *
 * Re-advertising: every NODE_STATUS_VERIFY_INTERVAL_USEC the publisher reads its Node back
 * (GET with resourceVersion=0, served from the API server's cache); when the kubelet has zeroed
 * or dropped the extended resources (a re-registered node), or anyone else changed them, the
 * next update patches them back at once.
 *
 * Decay: when the agent's measurements are older than stale_after (its collection fails or the
 * agent stalls), the advertised capacity decays linearly from the last budget to 0 over one more
 * stale_after: at an age of 1.5 x stale_after half is left, at 2 x stale_after nothing. Decay is
 * gradual so one missed sample does not flap the node's capacity, and complete so a node whose
 * agent cannot see stops attracting offline pods. (A dead agent cannot patch at all: then the
 * annotation's timestamp goes stale and the extender ignores the node's data.) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/kubeclient.h"
#include "k8s/node-annotation.h"
#include "model/workload.h"
#include "util/error.h"

#define NODE_STATUS_PATCH_CONTENT_TYPE "application/merge-patch+json"
#define NODE_STATUS_MIN_SPACING_USEC (10 * USEC_PER_SEC)
#define NODE_ANNOTATION_MAX_INTERVAL_USEC (120 * USEC_PER_SEC)
#define NODE_STATUS_VERIFY_INTERVAL_USEC (60 * USEC_PER_SEC)
/* Failed patches are retried after 1 s, 2 s, 4 s ... up to this. */
#define NODE_STATUS_RETRY_MAX_USEC (60 * USEC_PER_SEC)

typedef struct NodeCapacity {
        int64_t cpu_milli;
        int64_t memory;
} NodeCapacity;

/* The capacity to advertise for a budget measured data_age_usec ago (the decay above). Pure. */
NodeCapacity node_status_decay(NodeCapacity budget, uint64_t data_age_usec, uint64_t stale_after_usec);

/* What was last published, for the hysteresis decision. Zero-initialise. */
#define NODE_STATUS_VALUES_MAX 4
typedef struct NodeStatusHysteresis {
        bool published;
        int64_t values[NODE_STATUS_VALUES_MAX];
        uint64_t at_usec;               /* monotonic time of the last successful patch */
} NodeStatusHysteresis;

/* Whether values[0..n-1] should be published now: nothing published yet; the interval elapsed; a
 * value dropped by threshold x its published value or more, or to exactly 0 (at once); a rise by
 * the threshold or more (or away from 0), and with follow_small_drops any smaller drop, once
 * NODE_STATUS_MIN_SPACING_USEC passed since the last patch. Pure. */
bool node_status_due(const NodeStatusHysteresis *h, const int64_t *values, size_t n, uint64_t now_usec,
                     double threshold, uint64_t interval_usec, bool follow_small_drops);

/* {"status":{"capacity":{...},"allocatable":{...}}} with both extended resources, malloc'd. */
int node_status_capacity_patch(NodeCapacity c, char **ret, ColoError *err);
/* {"metadata":{"annotations":{"colo.io/node-usage":"<node_usage_format(u)>"}}}, malloc'd. */
int node_status_annotation_patch(const NodeUsage *u, char **ret, ColoError *err);

/* The path (with its GetOptions query) of the read-back of the node, malloc'd, NULL when out of
 * memory. Exposed so tests check the query against the API. */
char *node_status_read_path(const char *node);

/* --- offline pods holding more than is advertised --- */

/* What is advertised for a (decayed) budget while running offline pods request held: the larger
 * of the two, per resource. Pure. */
NodeCapacity node_status_advertise(NodeCapacity budget, NodeCapacity held);

/* One running offline pod's colo.io/offline-* requests. */
typedef struct OfflineHolding {
        WorkloadTier tier;
        int64_t cpu_milli, memory;
        bool being_evicted;             /* already on its way out: counts as released */
} OfflineHolding;

/* When the offline pods request more than the budget (the advertised capacity then stays up at
 * what they request, see above), picks the one colo evicts: the lowest tier first (best-effort
 * before batch), inside a tier the largest request of the resource that is over, then the first
 * listed. Returns 0 with *ret_index, or -ENOENT when everything fits. Pure. */
int node_status_pick_overcommit(const OfflineHolding *pods, size_t n, NodeCapacity budget, size_t *ret_index);

/* --- the publisher --- */

typedef struct NodePublisher NodePublisher;

typedef struct NodePublisherConfig {
        double threshold;               /* kubernetes.status_change_threshold */
        uint64_t interval_usec;         /* kubernetes.status_update_interval */
        uint64_t stale_after_usec;      /* kubernetes.stale_after */
} NodePublisherConfig;

typedef struct NodePublisherStats {
        NodeCapacity advertised;        /* last patched into node status */
        bool have_advertised;
        NodeCapacity budget;            /* the budget of the last update, after decay */
        NodeCapacity wanted;            /* what the last update asked to advertise: max(budget, held) */
        bool decaying;                  /* the data is stale */
        uint64_t status_patches, annotation_patches, failures;
        uint64_t verifications, resets_detected;        /* Node read back; found changed by someone else */
        uint64_t last_status_patch_usec;
        char last_error[512];
} NodePublisherStats;

int node_publisher_new(KubeClient *client, const char *node_name, const NodePublisherConfig *cfg,
                       uint64_t (*now)(void), NodePublisher **ret, ColoError *err);
NodePublisher *node_publisher_free(NodePublisher *p);     /* cancels patches in flight */
static inline void node_publisher_freep(NodePublisher **p) {
        if (*p)
                node_publisher_free(*p);
}
void node_publisher_set_config(NodePublisher *p, const NodePublisherConfig *cfg);

/* Called every tick with the latest measurements: usage carries the budget (offline_cpu_milli,
 * offline_memory) computed from data measured at data_usec (monotonic; usage->updated_usec is
 * the same instant in real time); held is what the running offline pods request now. Starts the
 * calls that are due; at most one of each kind is in flight. */
void node_publisher_update(NodePublisher *p, const NodeUsage *usage, uint64_t data_usec, NodeCapacity held);
const NodePublisherStats *node_publisher_stats(const NodePublisher *p);

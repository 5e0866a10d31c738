/* Evicting offline pods through the Eviction API: POST
 * /api/v1/namespaces/<ns>/pods/<name>/eviction with a policy/v1 Eviction (preconditioned on the
 * pod's UID, so a new pod of the same name is never hit), which honours PodDisruptionBudgets and
 * graceful termination like `kubectl drain`. Online pods are refused (-EPERM) whatever the caller
 * says: the pod's own class (pod-class.h, precedence mode) decides. Once the API server accepts,
 * the reason is recorded as a core/v1 Event (reason ColoEvicted, type Warning) on the pod.
 *
 * A 429 means a disruption budget blocks the eviction now: the request stays and is retried with
 * a growing delay (EVICT_RETRY_INITIAL_USEC doubling up to EVICT_RETRY_MAX_USEC), as are server
 * and network errors, until it is accepted, the pod is gone (404, or 409 for another pod of that
 * name) or the caller cancels it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "k8s/kubeclient.h"
#include "k8s/pod-watch.h"
#include "util/error.h"

#define EVICT_RETRY_INITIAL_USEC (5 * USEC_PER_SEC)
#define EVICT_RETRY_MAX_USEC (60 * USEC_PER_SEC)
#define EVICT_EVENT_REASON "ColoEvicted"
#define EVICT_EVENT_ATTEMPTS 3

typedef enum KubeEvictionState {
        KUBE_EVICTION_PENDING,          /* waiting to be sent (first try or a retry) */
        KUBE_EVICTION_IN_FLIGHT,
        KUBE_EVICTION_ACCEPTED,         /* the API server is terminating the pod */
        KUBE_EVICTION_GONE,             /* the pod was already gone */
        _KUBE_EVICTION_STATE_MAX,
} KubeEvictionState;

const char *kube_eviction_state_to_string(KubeEvictionState s);

typedef struct KubeEviction {
        char uid[POD_UID_MAX];
        char namespace_[64];
        char name[254];
        char resource_version[KUBE_RESOURCE_VERSION_MAX];
        WorkloadTier tier;
        char reason[256];
        KubeEvictionState state;
        unsigned attempts;
        unsigned blocked;               /* 429 answers so far */
        uint64_t next_attempt_usec;
        uint64_t requested_usec, accepted_usec;
        uint64_t requested_realtime_usec;
        bool event_posted;
        unsigned event_attempts;
        char last_error[256];
} KubeEviction;

typedef struct KubeEvictorOptions {
        const char *node_name;          /* Event source.host and reportingInstance */
        int64_t grace_period_seconds;   /* deleteOptions.gracePeriodSeconds; < 0: the pod's own */
        uint64_t retry_initial_usec;    /* 0: EVICT_RETRY_INITIAL_USEC */
        uint64_t retry_max_usec;        /* 0: EVICT_RETRY_MAX_USEC */
        uint64_t (*now)(void);          /* monotonic clock; NULL: now_monotonic_usec() */
} KubeEvictorOptions;

typedef struct KubeEvictorStats {
        uint64_t requested, accepted, blocked, gone, failures, events_posted, event_failures;
        char last_error[512];
} KubeEvictorStats;

typedef struct KubeEvictor KubeEvictor;

int kube_evictor_new(KubeClient *client, const KubeEvictorOptions *opts, KubeEvictor **ret, ColoError *err);
KubeEvictor *kube_evictor_free(KubeEvictor *e);         /* cancels calls in flight */
static inline void kube_evictor_freep(KubeEvictor **e) {
        if (*e)
                kube_evictor_free(*e);
}

/* Requests the eviction of pod, sent at once. -EPERM for a pod that is not offline (nothing is
 * sent), -EALREADY when it is already requested, -EINVAL / -ENOMEM. */
int kube_evictor_evict(KubeEvictor *e, const KubePod *pod, const char *reason, ColoError *err);
/* Drops the request (a pod that turned online, or is gone); a call in flight is abandoned. */
void kube_evictor_cancel(KubeEvictor *e, const char *uid);
/* Sends retries that are due. */
void kube_evictor_dispatch(KubeEvictor *e);
/* Monotonic time of the next retry, UINT64_MAX if none waits. */
uint64_t kube_evictor_next_wakeup(const KubeEvictor *e);

const KubeEviction *kube_evictor_find(const KubeEvictor *e, const char *uid);
size_t kube_evictor_count(const KubeEvictor *e);
const KubeEviction *kube_evictor_get(const KubeEvictor *e, size_t i);
const KubeEvictorStats *kube_evictor_stats(const KubeEvictor *e);

/* The request bodies, malloc'd JSON (pure, for tests): the policy/v1 Eviction, and the core/v1
 * Event for an accepted eviction at realtime_usec. */
int kube_eviction_body(const KubeEviction *ev, int64_t grace_period_seconds, char **ret, ColoError *err);
int kube_eviction_event_body(const KubeEviction *ev, const char *node_name, uint64_t realtime_usec, char **ret,
                             ColoError *err);

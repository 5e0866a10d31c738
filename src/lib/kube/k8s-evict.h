/* Evicting offline pods through the Eviction API: POST
 * /api/v1/namespaces/<ns>/pods/<name>/eviction with a policy/v1 Eviction (preconditioned on the
 * pod's UID, so a new pod of the same name is never hit), which honours PodDisruptionBudgets and
 * graceful termination like `kubectl drain`. Online pods are refused (-EPERM) whatever the caller
 * says: the pod's own class (pod-class.h, precedence mode) decides. Once the API server accepts,
 * the reason is recorded as a core/v1 Event (reason ColoEvicted, type Warning) on the pod.
 *
 * The answers, as pkg/registry/core/pod/storage/eviction.go gives them: 200/201 accepted (the pod
 * is terminating); 404 the pod is gone; 429 a disruption budget refuses now (retried with a
 * growing delay, EVICT_RETRY_INITIAL_USEC doubling up to EVICT_RETRY_MAX_USEC, or after the
 * server's Retry-After / details.retryAfterSeconds, honoured up to EVICT_RETRY_AFTER_MAX_USEC);
 * 409 is not "gone": it is the UID precondition failing (another pod now has the name) or the
 * server losing a race updating the budget, so the pod is read back and the eviction retried with
 * backoff while a pod of the same UID is there, and dropped once the name is free or another
 * pod's. Server and network errors are retried with backoff too, until the caller cancels. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/kubeclient.h"
#include "kube/pod-watch.h"
#include "util/error.h"

#define EVICT_RETRY_INITIAL_USEC (5 * USEC_PER_SEC)
#define EVICT_RETRY_MAX_USEC (60 * USEC_PER_SEC)
#define EVICT_RETRY_AFTER_MAX_USEC (300 * USEC_PER_SEC)
#define EVICT_EVENT_REASON "ColoEvicted"
#define EVICT_EVENT_ATTEMPTS 3

typedef enum KubeEvictionState {
        KUBE_EVICTION_PENDING,          /* waiting to be sent (first try or a retry) */
        KUBE_EVICTION_IN_FLIGHT,
        KUBE_EVICTION_RECHECKING,       /* re-reading the pod after a 409 */
        KUBE_EVICTION_ACCEPTED,         /* the API server is terminating the pod */
        KUBE_EVICTION_GONE,             /* the pod was already gone */
        _KUBE_EVICTION_STATE_MAX,
} KubeEvictionState;


/* What to do with an answer. */
typedef enum KubeEvictAction {
        KUBE_EVICT_ACCEPT,              /* 200, 201: the pod is terminating */
        KUBE_EVICT_GONE,                /* 404, or after a 409 the name is free or another pod's */
        KUBE_EVICT_RECHECK,             /* 409: read the pod back before deciding */
        KUBE_EVICT_BLOCKED,             /* 429: a disruption budget refuses now; retry later */
        KUBE_EVICT_RETRY,               /* the same pod is still there after a 409, or an error; retry later */
        _KUBE_EVICT_ACTION_MAX,
} KubeEvictAction;

const char *kube_evict_action_to_string(KubeEvictAction a);

/* One answer: to the eviction, or to the GET of the pod after a 409. */
typedef struct KubeEvictAnswer {
        bool recheck;                   /* false: the eviction POST; true: the re-read of the pod */
        long status;                    /* HTTP status, 0 if no response arrived */
        int error;                      /* transport error (KubeResponse.error), 0 if none */
        int64_t retry_after_sec;        /* Retry-After, else the Status's details.retryAfterSeconds; <= 0: none */
        const char *uid_seen;           /* recheck, 200: metadata.uid of the pod under the name now (NULL: unreadable) */
        const char *uid_wanted;         /* the pod colo means to evict */
} KubeEvictAnswer;

typedef struct KubeEvictRetryPolicy {
        uint64_t initial_usec, max_usec;        /* retry n waits min(max, initial * 2^(n-1)) */
        uint64_t retry_after_max_usec;          /* the server's Retry-After is honoured up to this */
} KubeEvictRetryPolicy;

typedef struct KubeEvictDecision {
        KubeEvictAction action;
        uint64_t next_attempt_usec;     /* BLOCKED, RETRY: when to send the eviction again; RECHECK: now */
} KubeEvictDecision;

/* The delay before retry number n (1, 2, ...): the server's retry_after_sec when > 0 (at most
 * p->retry_after_max_usec), else min(max, initial * 2^(n-1)). Pure. */
uint64_t kube_eviction_backoff_usec(const KubeEvictRetryPolicy *p, unsigned n, int64_t retry_after_sec);
/* What to do with answer a to attempt number attempts (>= 1), at monotonic time now_usec. Pure. */
KubeEvictDecision kube_eviction_decide(const KubeEvictAnswer *a, const KubeEvictRetryPolicy *p, unsigned attempts,
                                       uint64_t now_usec);

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
        unsigned conflicts;             /* 409 answers so far */
        bool replaced;                  /* GONE because another pod has the name now */
        bool still_there;               /* the last answer: a re-read after a 409 found this very pod */
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
        /* Told what was made of each answer (ev valid during the call only); may be NULL. Must not
         * start, cancel or evict. */
        void (*on_answer)(void *userdata, const KubeEviction *ev, KubeEvictAction action);
        void *userdata;
} KubeEvictorOptions;

typedef struct KubeEvictorStats {
        uint64_t requested, accepted, blocked, conflicts, replaced, gone, failures, events_posted, event_failures;
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
const KubeEvictorStats *kube_evictor_stats(const KubeEvictor *e);

/* The request bodies, malloc'd JSON (pure, for tests): the policy/v1 Eviction, and the core/v1
 * Event for an accepted eviction at realtime_usec. */
int kube_eviction_body(const KubeEviction *ev, int64_t grace_period_seconds, char **ret, ColoError *err);
int kube_eviction_event_body(const KubeEviction *ev, const char *node_name, uint64_t realtime_usec, char **ret,
                             ColoError *err);

/* What the evictor makes of an answer of the Eviction API, and when it tries again: pure
 * functions of the answer, the attempt count and the clock passed in, so every branch is tested
 * from a table (tests/unit/test-k8s-evict.c). The status codes are those of the API server's
 * eviction subresource (pkg/registry/core/pod/storage/eviction.go): a 409 there is either the UID
 * precondition failing or a PodDisruptionBudget update that kept conflicting, so it only says
 * "look again", never "gone". */
#include <string.h>

#include "kube/k8s-evict.h"
#include "util/macro.h"

static const char *const action_names[_KUBE_EVICT_ACTION_MAX] = {
        [KUBE_EVICT_ACCEPT] = "accept", [KUBE_EVICT_GONE] = "gone",   [KUBE_EVICT_RECHECK] = "recheck",
        [KUBE_EVICT_BLOCKED] = "blocked", [KUBE_EVICT_RETRY] = "retry",
};

const char *kube_evict_action_to_string(KubeEvictAction a) {
        return a >= 0 && a < _KUBE_EVICT_ACTION_MAX ? action_names[a] : NULL;
}

uint64_t kube_eviction_backoff_usec(const KubeEvictRetryPolicy *p, unsigned n, int64_t retry_after_sec) {
        if (retry_after_sec > 0) {
                /* The server knows when its budget may allow it (10 s while the disruption
                 * controller catches up); a hostile or broken value is capped. */
                uint64_t max_sec = p->retry_after_max_usec / USEC_PER_SEC;
                return MIN((uint64_t) retry_after_sec, max_sec) * USEC_PER_SEC;
        }
        uint64_t d = p->initial_usec;
        for (unsigned i = 1; i < n && d < p->max_usec; i++)
                d *= 2;
        return MIN(d, p->max_usec);
}

static KubeEvictDecision retry_later(KubeEvictAction action, const KubeEvictAnswer *a, const KubeEvictRetryPolicy *p,
                                     unsigned attempts, uint64_t now_usec) {
        return (KubeEvictDecision) {
                .action = action,
                .next_attempt_usec = now_usec + kube_eviction_backoff_usec(p, MAX(attempts, 1U), a->retry_after_sec),
        };
}

/* After a 409 the pod was read back: the eviction is retried only while the pod colo meant is
 * still the one under that name. An error reading it is retried too: the next eviction carries
 * the UID precondition, so a replacement cannot be hit meanwhile. */
static KubeEvictDecision decide_recheck(const KubeEvictAnswer *a, const KubeEvictRetryPolicy *p, unsigned attempts,
                                        uint64_t now_usec) {
        if (a->error == 0 && a->status == 404)
                return (KubeEvictDecision) { .action = KUBE_EVICT_GONE };
        if (a->error == 0 && a->status == 200 && a->uid_seen && a->uid_wanted) {
                if (strcmp(a->uid_seen, a->uid_wanted) != 0)
                        return (KubeEvictDecision) { .action = KUBE_EVICT_GONE };
                /* The retry-after of a GET means nothing for the eviction. */
                KubeEvictAnswer plain = *a;
                plain.retry_after_sec = 0;
                return retry_later(KUBE_EVICT_RETRY, &plain, p, attempts, now_usec);
        }
        return retry_later(KUBE_EVICT_RETRY, a, p, attempts, now_usec);
}

KubeEvictDecision kube_eviction_decide(const KubeEvictAnswer *a, const KubeEvictRetryPolicy *p, unsigned attempts,
                                       uint64_t now_usec) {
        if (a->recheck)
                return decide_recheck(a, p, attempts, now_usec);
        if (a->error != 0 || a->status == 0)
                return retry_later(KUBE_EVICT_RETRY, a, p, attempts, now_usec);
        switch (a->status) {
        case 200:
        case 201:
                return (KubeEvictDecision) { .action = KUBE_EVICT_ACCEPT };
        case 404:
                return (KubeEvictDecision) { .action = KUBE_EVICT_GONE };
        case 409:
                return (KubeEvictDecision) { .action = KUBE_EVICT_RECHECK, .next_attempt_usec = now_usec };
        case 429:
                return retry_later(KUBE_EVICT_BLOCKED, a, p, attempts, now_usec);
        default:
                /* 500 (more than one budget selects the pod, or a server error), 403, 503, ... */
                return retry_later(KUBE_EVICT_RETRY, a, p, attempts, now_usec);
        }
}

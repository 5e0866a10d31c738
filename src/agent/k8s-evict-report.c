/* Counting and logging what the Eviction API answered, so an eviction a disruption budget holds
 * back, or one that found a replacement under the pod's name, is visible in /metrics and the
 * journal and not only as a pod that stays. */
#include <inttypes.h>

#include "agent/agent.h"
#include "agent/k8s-evict-report.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static double seconds_until(uint64_t at_usec) {
        uint64_t now = now_monotonic_usec();
        return at_usec > now ? (double) (at_usec - now) / USEC_PER_SEC : 0.0;
}

void agent_k8s_on_eviction_answer(void *userdata, const KubeEviction *ev, KubeEvictAction action) {
        Agent *a = userdata;
        AgentMetrics *m = &a->metrics;
        switch (action) {
        case KUBE_EVICT_ACCEPT:
                m->k8s_evictions_accepted_total++;
                log_kv(LOG_INFO, "evict-accepted", "pod=%s/%s uid=%s attempts=%u blocked=%u conflicts=%u", ev->namespace_,
                       ev->name, ev->uid, ev->attempts, ev->blocked, ev->conflicts);
                break;
        case KUBE_EVICT_BLOCKED:
                m->k8s_evictions_blocked_total++;
                log_kv(LOG_NOTICE, "evict-blocked", "pod=%s/%s uid=%s blocked=%u retry_seconds=%.1f error=\"%s\"",
                       ev->namespace_, ev->name, ev->uid, ev->blocked, seconds_until(ev->next_attempt_usec), ev->last_error);
                break;
        case KUBE_EVICT_RECHECK:
                m->k8s_eviction_conflicts_total++;
                log_kv(LOG_NOTICE, "evict-conflict", "pod=%s/%s uid=%s conflicts=%u error=\"%s\"; reading the pod back",
                       ev->namespace_, ev->name, ev->uid, ev->conflicts, ev->last_error);
                break;
        case KUBE_EVICT_GONE:
                if (ev->replaced) {
                        m->k8s_evictions_replaced_total++;
                        log_kv(LOG_NOTICE, "evict-replaced", "pod=%s/%s uid=%s: another pod has the name now; not "
                               "evicting it", ev->namespace_, ev->name, ev->uid);
                } else {
                        m->k8s_evictions_gone_total++;
                        log_kv(LOG_INFO, "evict-gone", "pod=%s/%s uid=%s: already gone", ev->namespace_, ev->name, ev->uid);
                }
                break;
        case KUBE_EVICT_RETRY:
        default:
                if (ev->still_there) {
                        log_kv(LOG_NOTICE, "evict-retry", "pod=%s/%s uid=%s: still there after the conflict, "
                               "retry_seconds=%.1f", ev->namespace_, ev->name, ev->uid, seconds_until(ev->next_attempt_usec));
                        break;
                }
                m->k8s_eviction_errors_total++;
                log_kv(LOG_WARNING, "evict-retry", "pod=%s/%s uid=%s attempts=%u retry_seconds=%.1f error=\"%s\"",
                       ev->namespace_, ev->name, ev->uid, ev->attempts, seconds_until(ev->next_attempt_usec),
                       ev->last_error);
                break;
        }
}

/* core/v1 Events on a pod, as the agent records what it did or found: the body (pure, for tests)
 * and one POST of it to /api/v1/namespaces/<ns>/events. Retrying is the caller's business, since
 * callers differ in how hard an Event is worth trying (k8s-evict.h, the agent's pod limits). */
#pragma once

#include <stdint.h>

#include "kube/kubeclient.h"
#include "util/error.h"

/* What an Event says about one Pod. Every string is required but resource_version ("" or NULL:
 * left out of involvedObject). */
typedef struct KubeEventSpec {
        const char *namespace_, *name, *uid, *resource_version;        /* the involved Pod */
        const char *reason;             /* UpperCamelCase, e.g. "ColoEvicted" */
        const char *message;
        const char *type;               /* "Normal" or "Warning" */
        const char *action;             /* what colo did: "Evict", "Cap" */
        const char *node_name;          /* source.host and reportingInstance */
        uint64_t realtime_usec;         /* firstTimestamp = lastTimestamp; also names the Event */
} KubeEventSpec;

/* The core/v1 Event, malloc'd compact JSON: named <pod>.<hex nanoseconds> as client-go names
 * events, source.component colo-agent, reportingComponent colo.io/agent, count 1. */
int kube_event_body(const KubeEventSpec *s, char **ret, ColoError *err);

/* Starts the POST (nothing is sent until the client is driven); on_done is called as for
 * kube_client_start(). -EINVAL for a malformed namespace or spec, -ENOMEM. */
int kube_event_post(KubeClient *c, const KubeEventSpec *s, KubeDoneCallback on_done, void *userdata,
                    KubeCall **ret_call, ColoError *err);

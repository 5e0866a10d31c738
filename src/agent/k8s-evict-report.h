/* How the agent reports the Eviction API's answers in Kubernetes mode: a counter per kind of
 * answer in the agent's metrics, and a log line each. */
#pragma once

#include "kube/k8s-evict.h"

/* A KubeEvictorOptions.on_answer callback; userdata is the Agent. */
void agent_k8s_on_eviction_answer(void *userdata, const KubeEviction *ev, KubeEvictAction action);

/* Kubernetes mode's state, shared only by the k8s-*.c files of the agent: k8s-mode.c (start-up,
 * the front's hooks: Node budget, Eviction API, status), k8s-pods.c (the pods as a workload
 * source, and the plan mapped onto kubelet's tree) and k8s-api-loop.c (curl on sd-event). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "agent/agent.h"
#include "agent/k8s-pod-limits.h"
#include "agent/systemd-slices.h"
#include "kube/k8s-evict.h"
#include "kube/kubeclient.h"
#include "kube/node-status.h"
#include "k8s/pod-cgroup.h"
#include "kube/pod-watch.h"
#include "policy/policy-node.h"
#include "workloads/source.h"

/* What the agent reports about one pod of the store (the tracker owns its group and usage). */
typedef struct PodRecord {
        char uid[POD_UID_MAX];
        char ref[320];                  /* "namespace/name", for messages */
        PodClass cls;
        uint64_t first_seen_usec;
        bool tracked;                   /* the tracker holds its cgroup */
        bool missing_reported, qos_warned, class_error_reported;
        bool seen;                      /* mark for the sweep in k8s_pods_sync() */
} PodRecord;

/* kubelet's parent cgroups colo writes to, for the report when one is missing. */
typedef struct ParentReport {
        char path[POD_CGROUP_PATH_MAX];
        bool missing_reported;
} ParentReport;

typedef struct KubeSocket {
        int fd;
        sd_event_source *source;
} KubeSocket;

struct AgentK8s {
        Agent *agent;
        char node_name[254];
        KubeCgroupDriver driver;
        char started_kubeconfig[256], started_driver[16], started_node[256];
        bool restart_warned;

        KubeClient *client;
        PodWatch *watch;
        NodePublisher *publisher;
        KubeEvictor *evictor;
        PodLimitsEnforcer *limits;
        AgentSlices *slices;            /* systemd driver on v2: kubelet's slices through systemd */

        sd_event_source *curl_timer;
        sd_event_source *wakeup_timer;
        KubeSocket *sockets;
        size_t n_sockets;

        PodRecord *pods;
        size_t n_pods;
        ParentReport parents[3];
        size_t n_parents;

        uint64_t last_good_sample_usec; /* monotonic; 0: never */
        NodeUsage last_usage;
        bool have_usage;
        OvercommitState overcommit;
        bool was_connected, was_synced;
};

/* k8s-api-loop.c */
void k8s_api_loop_install(AgentK8s *k);         /* the client's sockets and timer on a->event */
void k8s_api_after_io(AgentK8s *k);             /* after network activity or a tick: dispatch, re-arm */
void k8s_api_rearm(AgentK8s *k);               /* the wake-up timer, for the next backoff */
void k8s_api_loop_free(AgentK8s *k);

/* k8s-pods.c */
extern const WorkloadSourceOps k8s_pod_source;  /* userdata: the AgentK8s */
/* Follows the watch's store: reports new, re-classified and gone pods (cancelling evictions of
 * pods that left or turned online). Before the tracker's refresh. */
void k8s_pods_sync(AgentK8s *k, uint64_t now_usec);
/* The tracker adopted or dropped a pod's cgroup. */
void k8s_pods_tracked(AgentK8s *k, const char *uid, bool added);
/* After the refresh: pods whose cgroup is still missing after a while are reported. */
void k8s_pods_report_missing(AgentK8s *k, uint64_t now_usec);
bool k8s_pod_being_evicted(AgentK8s *k, const char *uid);
/* The plan on kubelet's tree, the offline pods' own limits added: a foreign_tree plan, in the
 * order pod_cgroup_map_plan() and the limits chose. Remembers the kubelet parents it names. */
int k8s_map_plan(AgentK8s *k, const Plan *plan, Plan **ret);
/* After the apply: kubelet parents the plan named that enforce found missing are reported, once
 * until they appear. */
void k8s_report_missing_parents(AgentK8s *k);

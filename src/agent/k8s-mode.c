/* Kubernetes mode of the node agent (kubernetes.enabled): the workloads are this node's pods, as
 * listed and watched on the API server (k8s/pod-watch.h), found in kubelet's cgroup tree
 * (k8s/pod-cgroup.h) below the kubepods cgroup, which is the managed root. One tick: sample the
 * pods' cgroups -> estimate -> policy_decide() (the same pure policy as standalone mode) -> map
 * the plan onto kubelet's tree, add offline pods' own limits (k8s-pod-limits.h), and apply only
 * colo's knobs there -> evict offline pods through the Eviction API -> publish the oversold
 * capacity on the Node -> status.
 *
 * The API server is never waited for: HTTP runs on curl's multi interface inside the agent's
 * sd-event loop (an I/O source per socket, one timer), and a tick uses whatever pods were last
 * seen. So while the API server is unreachable the agent keeps enforcing local isolation on the
 * pods it knows, with the classes they had; it only cannot evict or publish until it is back. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "agent/k8s-evict-report.h"
#include "agent/k8s-pod-limits.h"
#include "cgroup/cgroup.h"
#include "collect/collect.h"
#include "k8s/k8s-evict.h"
#include "k8s/kubeclient.h"
#include "k8s/node-annotation.h"
#include "k8s/node-status.h"
#include "k8s/pod-cgroup.h"
#include "k8s/pod-watch.h"
#include "standalone/snapshot.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* A pod whose cgroup is still missing after this long is reported (kubelet may be slow, or the
 * cgroup driver setting may be wrong). */
#define MISSING_CGROUP_REPORT_USEC (30 * USEC_PER_SEC)
#define TIMER_ACCURACY_USEC (10 * USEC_PER_MSEC)

/* One pod the agent follows in kubelet's tree. */
typedef struct PodGroup {
        char uid[POD_UID_MAX];
        char ref[320];                  /* "namespace/name", for messages */
        char path[POD_CGROUP_PATH_MAX]; /* relative to kubepods; "" while the QoS class is unknown */
        PodClass cls;
        CgGroup *group;                 /* NULL while the cgroup does not exist (yet) */
        CgKnobs last;                   /* what colo last wrote there */
        CgUsage usage;
        double cpu_cores;
        uint64_t prev_cpu_usec, prev_sample_usec;
        bool have_prev;
        uint64_t first_seen_usec;
        bool missing_reported, qos_warned, class_error_reported;
        bool seen;                      /* mark for the sweep in sync_pods() */
} PodGroup;

/* kubepods and the QoS cgroups colo writes to. */
typedef struct ParentGroup {
        char path[POD_CGROUP_PATH_MAX];
        CgGroup *group;
        CgKnobs last;
        bool missing_reported;
} ParentGroup;

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

        sd_event_source *curl_timer;
        sd_event_source *wakeup_timer;
        KubeSocket *sockets;
        size_t n_sockets;

        PodGroup *pods;
        size_t n_pods;
        ParentGroup parents[3];
        size_t n_parents;
        CgGroup *root_group;
        uint64_t root_prev_cpu_usec, root_prev_sample_usec;
        bool root_have_prev;
        WorkloadSample *samples;
        size_t samples_cap;

        uint64_t last_good_sample_usec; /* monotonic; 0: never */
        NodeUsage last_usage;
        bool have_usage;
        uint64_t overcommit_since_usec; /* 0: not overcommitted */
        uint64_t last_overcommit_eviction_usec;
        bool was_connected, was_synced;
};

static uint64_t monotonic_now(void) {
        return now_monotonic_usec();
}

/* --- curl on sd-event --- */

static void rearm_wakeup(AgentK8s *k);

/* After any network activity: start whatever is due (a watch after its list, retries), and
 * re-arm the timer for the next backoff. */
static void after_io(AgentK8s *k) {
        pod_watch_dispatch(k->watch);
        kube_evictor_dispatch(k->evictor);
        rearm_wakeup(k);
}

static int on_socket_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        AgentK8s *k = userdata;
        (void) s;
        int events = (revents & (EPOLLIN | EPOLLERR | EPOLLHUP) ? KUBE_POLL_IN : 0) |
                     (revents & (EPOLLOUT | EPOLLERR) ? KUBE_POLL_OUT : 0);
        (void) kube_client_socket_action(k->client, fd, events);
        after_io(k);
        return 0;
}

static KubeSocket *find_socket(AgentK8s *k, int fd) {
        for (size_t i = 0; i < k->n_sockets; i++)
                if (k->sockets[i].fd == fd)
                        return &k->sockets[i];
        return NULL;
}

static int watch_socket(void *userdata, int fd, int events) {
        AgentK8s *k = userdata;
        KubeSocket *ks = find_socket(k, fd);
        if (events == 0) {
                if (ks) {
                        sd_event_source_disable_unref(ks->source);
                        *ks = k->sockets[--k->n_sockets];
                }
                return 0;
        }
        uint32_t mask = (events & KUBE_POLL_IN ? EPOLLIN : 0) | (events & KUBE_POLL_OUT ? EPOLLOUT : 0);
        if (ks && sd_event_source_set_io_events(ks->source, mask) >= 0)
                return 0;
        if (ks) {
                /* The fd number was reused behind our back: register it afresh. */
                sd_event_source_disable_unref(ks->source);
                *ks = k->sockets[--k->n_sockets];
        }
        KubeSocket *n = realloc(k->sockets, (k->n_sockets + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        k->sockets = n;
        ks = &k->sockets[k->n_sockets];
        int r = sd_event_add_io(k->agent->event, &ks->source, fd, mask, on_socket_io, k);
        if (r < 0) {
                log_warning("Cannot watch the API server connection: %s", strerror(-r));
                return r;
        }
        (void) sd_event_source_set_description(ks->source, "kube-api-socket");
        ks->fd = fd;
        k->n_sockets++;
        return 0;
}

static int on_curl_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        AgentK8s *k = userdata;
        (void) s;
        (void) usec;
        (void) kube_client_socket_action(k->client, KUBE_SOCKET_TIMEOUT, 0);
        after_io(k);
        return 0;
}

static int arm_timer(AgentK8s *k, sd_event_source **src, uint64_t at_usec, sd_event_time_handler_t cb,
                     const char *description) {
        int r;
        if (at_usec == UINT64_MAX)
                return *src ? sd_event_source_set_enabled(*src, SD_EVENT_OFF) : 0;
        if (!*src) {
                r = sd_event_add_time(k->agent->event, src, CLOCK_MONOTONIC, at_usec, TIMER_ACCURACY_USEC, cb, k);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_description(*src, description);
                return 0;
        }
        r = sd_event_source_set_time(*src, at_usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(*src, SD_EVENT_ONESHOT);
}

static int set_curl_timer(void *userdata, uint64_t timeout_usec) {
        AgentK8s *k = userdata;
        uint64_t at = timeout_usec == UINT64_MAX ? UINT64_MAX : now_monotonic_usec() + timeout_usec;
        int r = arm_timer(k, &k->curl_timer, at, on_curl_timer, "kube-api-timer");
        if (r < 0)
                log_warning("Cannot arm the API client timer: %s", strerror(-r));
        return r;
}

static int on_wakeup(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        after_io(userdata);
        return 0;
}

static void rearm_wakeup(AgentK8s *k) {
        uint64_t at = MIN(pod_watch_next_wakeup(k->watch), kube_evictor_next_wakeup(k->evictor));
        int r = arm_timer(k, &k->wakeup_timer, at, on_wakeup, "kube-retry");
        if (r < 0)
                log_warning("Cannot arm the API retry timer: %s", strerror(-r));
}

/* --- start-up --- */

static bool is_dns_subdomain(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!islower((unsigned char) s[i]) && !isdigit((unsigned char) s[i]) && s[i] != '-' && s[i] != '.')
                        return false;
        return true;
}

/* kubernetes.node_name, else $NODE_NAME (the downward API), else the hostname, lowercased. */
static int pick_node_name(const Config *c, char *buf, size_t size) {
        const char *env = getenv("NODE_NAME");
        if (c->kubernetes.node_name[0])
                snprintf(buf, size, "%s", c->kubernetes.node_name);
        else if (env && env[0])
                snprintf(buf, size, "%s", env);
        else {
                char host[256] = "";
                if (gethostname(host, sizeof(host) - 1) < 0)
                        return -errno;
                for (char *p = host; *p; p++)
                        *p = (char) tolower((unsigned char) *p);
                snprintf(buf, size, "%s", host);
        }
        return is_dns_subdomain(buf) ? 0 : -EINVAL;
}

void agent_k8s_choose_subtree(Agent *a, bool subtree_option_given) {
        /* --subtree wins (tests, a kubelet with --cgroup-root); an absolute agent.subtree names the
         * kubepods cgroup too; otherwise it is /kubepods or /kubepods.slice, by the driver. */
        if (subtree_option_given || a->config.agent.subtree[0] == '/')
                return;
        KubeCgroupDriver d = kube_cgroup_driver_from_string(a->config.kubernetes.cgroup_driver);
        snprintf(a->subtree, sizeof(a->subtree), "/%s", pod_cgroup_kubepods_name(d >= 0 ? d : KUBE_CGROUP_DRIVER_CGROUPFS));
}

static void on_pod_change(void *userdata, PodWatchChange change, const KubePod *pod) {
        char ref[320];
        (void) userdata;
        kube_pod_ref(pod, ref, sizeof(ref));
        if (change == POD_WATCH_ADDED)
                log_debug("Pod %s (%s) on the node: %s/%s by %s.", ref, pod->uid, workload_class_to_string(pod->cls.workload_class),
                          workload_tier_to_string(pod->cls.tier), pod_class_source_to_string(pod->cls.source));
        else if (change == POD_WATCH_REMOVED)
                log_debug("Pod %s (%s) left the node.", ref, pod->uid);
}

int agent_k8s_start(Agent *a) {
        const KubernetesConfig *kc = &a->config.kubernetes;
        ColoError err = {};
        int r;

        AgentK8s *k = calloc(1, sizeof(*k));
        if (!k)
                return log_error("Out of memory."), -ENOMEM;
        a->k8s = k;
        k->agent = a;
        k->driver = kube_cgroup_driver_from_string(kc->cgroup_driver);
        if (k->driver < 0)
                return log_error("kubernetes.cgroup_driver '%s' is not cgroupfs or systemd.", kc->cgroup_driver), -EINVAL;
        r = pick_node_name(&a->config, k->node_name, sizeof(k->node_name));
        if (r < 0) {
                log_error("No usable node name ('%s'): set kubernetes.node_name or $NODE_NAME (the downward API's "
                          "spec.nodeName).", k->node_name);
                return -EINVAL;
        }
        snprintf(k->started_kubeconfig, sizeof(k->started_kubeconfig), "%s", kc->kubeconfig);
        snprintf(k->started_driver, sizeof(k->started_driver), "%s", kc->cgroup_driver);
        snprintf(k->started_node, sizeof(k->started_node), "%s", kc->node_name);

        _cleanup_(kube_config_freep) KubeConfig *cfg = NULL;
        r = kube_config_load(kc->kubeconfig, &cfg, &err);
        if (r < 0) {
                log_error("Cannot find the API server: %s", colo_error_msg(&err));
                return r;
        }
        r = kube_client_new(cfg, &k->client, &err);
        if (r < 0) {
                log_error("Cannot set up the API client: %s", colo_error_msg(&err));
                return r;
        }
        KubeLoopHooks hooks = { .watch_socket = watch_socket, .set_timer = set_curl_timer, .userdata = k };
        kube_client_set_loop(k->client, &hooks);

        r = cg_group_open(a->root, "", false, &k->root_group, &err);
        if (r < 0) {
                log_error("Cannot open kubelet's kubepods cgroup '%s': %s", a->subtree, colo_error_msg(&err));
                return r;
        }

        NodePublisherConfig pc = { .threshold = kc->status_change_threshold, .interval_usec = kc->status_update_interval_usec,
                                   .stale_after_usec = kc->stale_after_usec };
        r = node_publisher_new(k->client, k->node_name, &pc, monotonic_now, &k->publisher, &err);
        if (r < 0) {
                log_error("Cannot publish node status: %s", colo_error_msg(&err));
                return r;
        }
        KubeEvictorOptions eo = {
                .node_name = k->node_name,
                .grace_period_seconds = (int64_t) (a->config.agent.evict_grace_usec / USEC_PER_SEC),
                .on_answer = agent_k8s_on_eviction_answer,
                .userdata = a,
        };
        r = kube_evictor_new(k->client, &eo, &k->evictor, &err);
        if (r < 0) {
                log_error("Cannot set up evictions: %s", colo_error_msg(&err));
                return r;
        }
        r = pod_limits_enforcer_new(k->client, k->node_name, &k->limits);
        if (r < 0)
                return log_error("Out of memory."), r;
        PodWatchOptions wo = { .node_name = k->node_name };
        r = pod_watch_new(k->client, &wo, on_pod_change, k, &k->watch, &err);
        if (r < 0) {
                log_error("Cannot watch the node's pods: %s", colo_error_msg(&err));
                return r;
        }
        rearm_wakeup(k);
        log_info("Kubernetes mode: node '%s', API server %s (%s), kubelet cgroup driver %s, kubepods '%s'%s.",
                 k->node_name, cfg->server, cfg->source, kube_cgroup_driver_to_string(k->driver), cg_root_describe(a->root),
                 a->opts.dry_run ? "; dry run: no cgroup writes, no node status, no evictions" : "");
        return 0;
}

static void pod_group_done(PodGroup *p) {
        p->group = cg_group_free(p->group);
}

AgentK8s *agent_k8s_free(AgentK8s *k) {
        if (!k)
                return NULL;
        /* API objects first: they cancel their calls on the client. */
        pod_watch_free(k->watch);
        node_publisher_free(k->publisher);
        kube_evictor_free(k->evictor);
        pod_limits_enforcer_free(k->limits);
        kube_client_free(k->client);
        for (size_t i = 0; i < k->n_sockets; i++)
                sd_event_source_disable_unref(k->sockets[i].source);
        free(k->sockets);
        sd_event_source_disable_unref(k->curl_timer);
        sd_event_source_disable_unref(k->wakeup_timer);
        for (size_t i = 0; i < k->n_pods; i++)
                pod_group_done(&k->pods[i]);
        free(k->pods);
        for (size_t i = 0; i < k->n_parents; i++)
                cg_group_free(k->parents[i].group);
        cg_group_free(k->root_group);
        free(k->samples);
        free(k);
        return NULL;
}

/* --- pods in kubelet's tree --- */

static PodGroup *find_pod_group(AgentK8s *k, const char *uid) {
        for (size_t i = 0; i < k->n_pods; i++)
                if (strcmp(k->pods[i].uid, uid) == 0)
                        return &k->pods[i];
        return NULL;
}

static bool pod_is_managed(const KubePod *p) {
        /* Ended pods have no containers left; pods without a QoS class have no cgroup yet. */
        return !kube_pod_is_terminal(p) && p->qos >= 0;
}

/* Follows the watch's store: new pods get a PodGroup, their cgroup opened when it exists (else
 * retried every tick), re-classified pods converge, gone pods are dropped. */
static void sync_pods(AgentK8s *k, uint64_t now) {
        size_t n;
        const KubePod *pods = pod_watch_pods(k->watch, &n);
        for (size_t i = 0; i < k->n_pods; i++)
                k->pods[i].seen = false;

        for (size_t i = 0; i < n; i++) {
                const KubePod *pod = &pods[i];
                if (!pod_is_managed(pod))
                        continue;
                PodGroup *g = find_pod_group(k, pod->uid);
                if (!g) {
                        PodGroup *grown = realloc(k->pods, (k->n_pods + 1) * sizeof(*grown));
                        if (!grown) {
                                log_error("Out of memory tracking pod %s; retrying next period.", pod->uid);
                                continue;
                        }
                        k->pods = grown;
                        g = &k->pods[k->n_pods++];
                        *g = (PodGroup) { .cls = pod->cls, .first_seen_usec = now };
                        memcpy(g->uid, pod->uid, sizeof(g->uid));
                        cg_knobs_init(&g->last);
                        kube_pod_ref(pod, g->ref, sizeof(g->ref));
                        log_info("Managing pod %s (%s) as %s/%s (%s).", g->ref, g->uid,
                                 workload_class_to_string(pod->cls.workload_class), workload_tier_to_string(pod->cls.tier),
                                 pod_class_source_to_string(pod->cls.source));
                }
                g->seen = true;
                if (g->cls.workload_class != pod->cls.workload_class || g->cls.tier != pod->cls.tier) {
                        log_notice("Pod %s re-classified %s/%s -> %s/%s (%s); its knobs converge this period.", g->ref,
                                   workload_class_to_string(g->cls.workload_class), workload_tier_to_string(g->cls.tier),
                                   workload_class_to_string(pod->cls.workload_class), workload_tier_to_string(pod->cls.tier),
                                   pod_class_source_to_string(pod->cls.source));
                        g->cls = pod->cls;
                        if (pod->cls.workload_class == CLASS_ONLINE)
                                kube_evictor_cancel(k->evictor, pod->uid);      /* never evict an online pod */
                }
                if (pod->class_error[0] && !g->class_error_reported) {
                        log_warning("Pod %s: %s; treating it as online.", g->ref, pod->class_error);
                        g->class_error_reported = true;
                }
                if (pod->cls.workload_class == CLASS_OFFLINE && pod->qos != KUBE_QOS_BEST_EFFORT && !g->qos_warned) {
                        log_warning("Offline pod %s is %s, not BestEffort (is the admission webhook installed?): its "
                                    "cgroup is outside the offline parent, so only its own limits bound it; colo still "
                                    "evicts it first and raises its OOM score.", g->ref, kube_qos_class_to_string(pod->qos));
                        g->qos_warned = true;
                }

                char path[POD_CGROUP_PATH_MAX];
                if (pod_cgroup_pod_path(k->driver, pod->qos, pod->uid, path, sizeof(path)) < 0)
                        continue;
                if (strcmp(path, g->path) != 0) {
                        pod_group_done(g);
                        snprintf(g->path, sizeof(g->path), "%s", path);
                        cg_knobs_init(&g->last);
                        g->have_prev = false;
                }
                if (g->group)
                        continue;
                ColoError err = {};
                int r = cg_group_open(k->agent->root, g->path, false, &g->group, &err);
                if (r >= 0) {
                        cg_knobs_init(&g->last);
                        g->have_prev = false;
                        if (g->missing_reported)
                                log_info("The cgroup of pod %s appeared.", g->ref);
                        g->missing_reported = false;
                } else if (now - g->first_seen_usec >= MISSING_CGROUP_REPORT_USEC && !g->missing_reported) {
                        log_warning("The cgroup of pod %s is still missing (%s); retrying every period. Does "
                                    "kubernetes.cgroup_driver match the kubelet's cgroupDriver?", g->ref, colo_error_msg(&err));
                        g->missing_reported = true;
                }
        }

        size_t keep = 0;
        for (size_t i = 0; i < k->n_pods; i++) {
                if (k->pods[i].seen) {
                        k->pods[keep++] = k->pods[i];
                        continue;
                }
                log_info("Pod %s (%s) is gone.", k->pods[i].ref, k->pods[i].uid);
                kube_evictor_cancel(k->evictor, k->pods[i].uid);
                pod_group_done(&k->pods[i]);
        }
        k->n_pods = keep;
}

static double cpu_rate(uint64_t cpu_usec, uint64_t now_usec, uint64_t *prev_cpu, uint64_t *prev_t, bool *have_prev) {
        CollectCpuSample prev = { .usage_usec = *prev_cpu, .wall_usec = *prev_t }, cur = { cpu_usec, now_usec };
        double cores = *have_prev ? collect_cpu_cores(&prev, &cur) : 0.0;
        *prev_cpu = cpu_usec;
        *prev_t = now_usec;
        *have_prev = true;
        return cores;
}

static bool pod_being_evicted(AgentK8s *k, const char *uid) {
        const KubeEviction *ev = kube_evictor_find(k->evictor, uid);
        const KubePod *p = pod_watch_find(k->watch, uid);
        return (ev && ev->state != KUBE_EVICTION_GONE) || (p && p->deleting);
}

/* Reads every pod cgroup and kubepods into a NodeSample. -errno when the node cannot be read. */
static int sample(AgentK8s *k, uint64_t now, NodeSample *ret) {
        CollectNode node;
        ColoError err = {};
        int r = collect_node(NULL, NULL, &node, &err);
        if (r < 0) {
                log_warning("Cannot read the node's memory and CPUs: %s", colo_error_msg(&err));
                return r;
        }
        if (k->samples_cap < k->n_pods) {
                WorkloadSample *s = realloc(k->samples, k->n_pods * sizeof(*s));
                if (!s)
                        return -ENOMEM;
                k->samples = s;
                k->samples_cap = k->n_pods;
        }
        const unsigned fields = CG_USAGE_CPU | CG_USAGE_MEMORY | CG_USAGE_WORKING_SET | CG_USAGE_TASKS;
        size_t n = 0;
        double offline_cpu = 0;
        uint64_t offline_ws = 0, offline_usage = 0;
        for (size_t i = 0; i < k->n_pods; i++) {
                PodGroup *g = &k->pods[i];
                if (!g->group)
                        continue;
                if (cg_group_read_usage_fields(g->group, fields, &g->usage, NULL) < 0) {
                        /* Removed by kubelet meanwhile (or recreated): reopen next period. */
                        pod_group_done(g);
                        continue;
                }
                g->cpu_cores = cpu_rate(g->usage.cpu_usage_usec, now, &g->prev_cpu_usec, &g->prev_sample_usec, &g->have_prev);
                const KubePod *pod = pod_watch_find(k->watch, g->uid);
                WorkloadSample *ws = &k->samples[n++];
                *ws = (WorkloadSample) {
                        .cls = g->cls.workload_class,
                        .tier = g->cls.tier,
                        .cpu_usage_cores = g->cpu_cores,
                        .mem_usage = g->usage.mem_usage,
                        .mem_working_set = g->usage.mem_working_set,
                        .nr_tasks = g->usage.nr_tasks,
                        .cpu_limit_cores = pod ? (double) pod->cpu_limit_milli / 1000.0 : 0,
                        .mem_limit = pod && pod->memory_limit > 0 ? (uint64_t) pod->memory_limit : 0,
                        .being_evicted = pod_being_evicted(k, g->uid),
                };
                snprintf(ws->name, sizeof(ws->name), "%s", g->uid);
                if (ws->cls == CLASS_OFFLINE) {
                        offline_cpu += ws->cpu_usage_cores;
                        offline_ws += ws->mem_working_set;
                        offline_usage += ws->mem_usage;
                }
        }

        /* Online = all of kubepods but the offline pods: pods colo has not matched to a cgroup yet
         * count as online, the safe side. */
        CgUsage root = {};
        double root_cpu = 0;
        if (cg_group_read_usage_fields(k->root_group, fields | CG_USAGE_PRESSURE, &root, NULL) >= 0)
                root_cpu = cpu_rate(root.cpu_usage_usec, now, &k->root_prev_cpu_usec, &k->root_prev_sample_usec,
                                    &k->root_have_prev);
        else
                k->root_have_prev = false;
        uint64_t capacity = node.mem_total;
        if (root.mem_limit > 0 && root.mem_limit < capacity)
                capacity = root.mem_limit;
        *ret = (NodeSample) {
                .now_usec = now,
                .cpu_capacity_cores = (double) node.n_cpus,
                .mem_capacity = capacity,
                .mem_available = node.mem_available,
                .online_cpu_usage = MAX(root_cpu - offline_cpu, 0.0),
                .offline_cpu_usage = offline_cpu,
                .online_mem_working_set = root.mem_working_set > offline_ws ? root.mem_working_set - offline_ws : 0,
                .offline_mem_working_set = offline_ws,
                .offline_mem_usage = offline_usage,
                .cpu_idle_available = cg_group_has_file(k->root_group, CG_CTRL_CPU, "cpu.idle"),
                .mem_high_available = cg_group_has_file(k->root_group, CG_CTRL_MEMORY, "memory.high"),
                .online_mem_pressure = root.mem_pressure.valid ? root.mem_pressure : node.mem_pressure,
                .host_cpu_pressure = node.cpu_pressure,
                .host_mem_pressure = node.mem_pressure,
                .workloads = k->samples,
                .n_workloads = n,
        };
        return 0;
}

/* --- applying the plan --- */

static const char *lookup_pod_path(void *userdata, const char *name) {
        PodGroup *g = find_pod_group(userdata, name);
        return g && g->group ? g->path : NULL;
}

static void on_write(void *userdata, const char *path, const char *value, int r) {
        Agent *a = userdata;
        if (r >= 0)
                return;
        a->metrics.write_failures_total++;
        a->write_failures_this_tick++;
        log_warning("Failed to write '%s' to '%s': %s", value, path, strerror(-r));
}

static ParentGroup *parent_group(AgentK8s *k, const char *path) {
        for (size_t i = 0; i < k->n_parents; i++)
                if (strcmp(k->parents[i].path, path) == 0)
                        return &k->parents[i];
        if (k->n_parents == ELEMENTSOF(k->parents))
                return NULL;
        ParentGroup *p = &k->parents[k->n_parents++];
        *p = (ParentGroup) {};
        snprintf(p->path, sizeof(p->path), "%s", path);
        cg_knobs_init(&p->last);
        return p;
}

/* What colo last wrote on the besteffort QoS cgroup (the offline parent), NULL if not yet known. */
static const CgKnobs *offline_parent_last(AgentK8s *k, const KubeletGroupPlan *groups, size_t n) {
        for (size_t i = 0; i < k->n_parents && n > 0; i++)
                for (size_t j = 0; j < n; j++)
                        if (groups[j].kind == KUBELET_GROUP_OFFLINE_QOS && k->parents[i].group &&
                            strcmp(k->parents[i].path, groups[j].path) == 0)
                                return &k->parents[i].last;
        return NULL;
}

static void apply_plan(AgentK8s *k, const Plan *plan) {
        KubeletGroupPlan *groups = NULL;
        size_t n = 0;
        int r = pod_cgroup_map_plan(plan, k->driver, lookup_pod_path, k, &groups, &n);
        if (r < 0) {
                log_error("Cannot map the plan onto kubelet's cgroups: %s", strerror(-r));
                return;
        }
        /* Offline pods' own limits (or the default cap) join the plan's knobs for their cgroups. */
        pod_limits_enforcer_prepare(k->limits, k->watch, &k->agent->config.kubernetes, cg_root_mode(k->agent->root),
                                    offline_parent_last(k, groups, n), groups, n);
        for (size_t i = 0; i < n; i++) {
                const KubeletGroupPlan *gp = &groups[i];
                CgGroup *g = NULL;
                CgKnobs *last = NULL;
                if (gp->kind == KUBELET_GROUP_ONLINE_POD || gp->kind == KUBELET_GROUP_OFFLINE_POD) {
                        PodGroup *pg = find_pod_group(k, gp->workload);
                        if (!pg || !pg->group)
                                continue;
                        g = pg->group;
                        last = &pg->last;
                } else {
                        ParentGroup *pg = parent_group(k, gp->path);
                        if (!pg)
                                continue;
                        if (!pg->group) {
                                ColoError err = {};
                                if (cg_group_open(k->agent->root, gp->path, false, &pg->group, &err) < 0) {
                                        if (!pg->missing_reported)
                                                log_warning("kubelet's cgroup '%s' is missing (%s); colo never creates "
                                                            "kubelet's cgroups, retrying every period.",
                                                            gp->path[0] ? gp->path : "kubepods", colo_error_msg(&err));
                                        pg->missing_reported = true;
                                        continue;
                                }
                                pg->missing_reported = false;
                                cg_knobs_init(&pg->last);
                        }
                        g = pg->group;
                        last = &pg->last;
                }
                ColoError err = {};
                r = cg_group_apply(g, &gp->knobs, last, on_write, k->agent, &err);
                if (r < 0)
                        log_error("Refused knobs for '%s': %s", gp->path, colo_error_msg(&err));
        }
        free(groups);
}

/* --- evictions --- */

static void evict_pod(AgentK8s *k, const char *uid, const char *reason) {
        const KubePod *pod = pod_watch_find(k->watch, uid);
        char ref[320];
        if (!pod)
                return;
        kube_pod_ref(pod, ref, sizeof(ref));
        if (k->agent->opts.dry_run) {
                log_kv(LOG_WARNING, "evict-dry-run", "pod=%s uid=%s tier=%s reason=\"%s\"", ref, uid,
                       workload_tier_to_string(pod->cls.tier), reason);
                return;
        }
        ColoError err = {};
        int r = kube_evictor_evict(k->evictor, pod, reason, &err);
        if (r == -EALREADY)
                return;
        if (r < 0) {
                log_error("Not evicting pod %s: %s", ref, colo_error_msg(&err));
                return;
        }
        if (pod->cls.tier >= 0 && pod->cls.tier < _TIER_MAX)
                k->agent->metrics.evictions_total[pod->cls.tier]++;
        log_kv(LOG_WARNING, "evict", "pod=%s uid=%s class=offline tier=%s reason=\"%s\"", ref, uid,
               workload_tier_to_string(pod->cls.tier), reason);
}

/* When the offline pods request more than the budget, the advertised capacity stays at what they
 * request (a kubelet restart would otherwise reject some of them at random, see docs/kubernetes.md)
 * and colo evicts down to the budget instead, lowest tier first. The cgroup limits hold them to the
 * budget meanwhile (the squeeze); one pod goes once the over-commitment has lasted
 * isolation.evict_cooldown, and at most one per cooldown after that. Also runs on stale data,
 * against the decaying budget. */
static void check_overcommit(AgentK8s *k, uint64_t now) {
        const NodePublisherStats *ps = node_publisher_stats(k->publisher);
        const PodWatchStats *ws = pod_watch_stats(k->watch);
        if (!k->have_usage || !ws->synced || k->agent->opts.dry_run) {
                k->overcommit_since_usec = 0;
                return;
        }
        size_t n;
        const KubePod *pods = pod_watch_pods(k->watch, &n);
        _cleanup_free_ OfflineHolding *hold = n > 0 ? calloc(n, sizeof(*hold)) : NULL;
        _cleanup_free_ size_t *index = n > 0 ? calloc(n, sizeof(*index)) : NULL;
        if (n > 0 && (!hold || !index))
                return;
        size_t m = 0;
        int64_t cpu = 0, mem = 0;
        for (size_t i = 0; i < n; i++) {
                const KubePod *p = &pods[i];
                if (p->cls.workload_class != CLASS_OFFLINE || kube_pod_is_terminal(p) || p->class_error[0])
                        continue;
                hold[m] = (OfflineHolding) { .tier = p->cls.tier, .cpu_milli = p->offline_cpu_request_milli,
                                             .memory = p->offline_memory_request,
                                             .being_evicted = pod_being_evicted(k, p->uid) };
                if (!hold[m].being_evicted)
                        cpu += p->offline_cpu_request_milli, mem += p->offline_memory_request;
                index[m++] = i;
        }
        size_t pick;
        if (node_status_pick_overcommit(hold, m, ps->budget, &pick) < 0) {
                if (k->overcommit_since_usec)
                        log_info("Offline pods fit the advertised capacity again.");
                k->overcommit_since_usec = 0;
                return;
        }
        const PolicyConfig *pc = &k->agent->config.policy;
        if (!k->overcommit_since_usec) {
                k->overcommit_since_usec = now;
                log_notice("Offline pods request %" PRIi64 "m CPU and %" PRIi64 " bytes, more than the budget of %" PRIi64
                           "m and %" PRIi64 " bytes; squeezing%s.", cpu, mem, ps->budget.cpu_milli, ps->budget.memory,
                           pc->eviction ? ", evicting the lowest tier if it persists" : "");
        }
        if (!pc->eviction || now - k->overcommit_since_usec < pc->evict_cooldown_usec ||
            (k->last_overcommit_eviction_usec && now - k->last_overcommit_eviction_usec < pc->evict_cooldown_usec))
                return;
        char reason[256];
        snprintf(reason, sizeof(reason),
                 "offline pods request %" PRIi64 "m CPU and %" PRIi64 " bytes of colo.io/offline-*, the node's offline "
                 "budget is %" PRIi64 "m and %" PRIi64 " bytes; lowest tier first",
                 cpu, mem, ps->budget.cpu_milli, ps->budget.memory);
        k->last_overcommit_eviction_usec = now;
        evict_pod(k, pods[index[pick]].uid, reason);
}

/* --- status --- */

/* What the running offline pods request (colo.io/offline-*), pods on their way out left out. */
static NodeCapacity held_by_offline_pods(AgentK8s *k) {
        size_t n;
        const KubePod *pods = pod_watch_pods(k->watch, &n);
        NodeCapacity held = {};
        for (size_t i = 0; i < n; i++) {
                const KubePod *p = &pods[i];
                if (p->cls.workload_class != CLASS_OFFLINE || kube_pod_is_terminal(p) || p->class_error[0] ||
                    pod_being_evicted(k, p->uid))
                        continue;
                held.cpu_milli = held.cpu_milli > INT64_MAX - p->offline_cpu_request_milli ? INT64_MAX :
                                                                                            held.cpu_milli + p->offline_cpu_request_milli;
                held.memory = held.memory > INT64_MAX - p->offline_memory_request ? INT64_MAX :
                                                                                   held.memory + p->offline_memory_request;
        }
        return held;
}

static void publish_node(AgentK8s *k, const NodeSample *s, const Plan *plan, bool fresh) {
        Agent *a = k->agent;
        if (fresh && plan) {
                size_t n;
                const KubePod *pods = pod_watch_pods(k->watch, &n);
                int64_t req_cpu = 0, req_mem = 0;
                for (size_t i = 0; i < n; i++)
                        if (pods[i].cls.workload_class == CLASS_OFFLINE && !kube_pod_is_terminal(&pods[i])) {
                                req_cpu += pods[i].offline_cpu_request_milli;
                                req_mem += pods[i].offline_memory_request;
                        }
                /* The budget before the CPU floor; lower while squeezed, so the scheduler backs off. */
                double cpu_budget = plan->squeezed ? MIN(plan->offline_cpu_budget_raw, plan->offline_cpu_budget_cores)
                                                   : plan->offline_cpu_budget_raw;
                k->last_usage = (NodeUsage) {
                        .cpu_capacity_milli = (int64_t) (s->cpu_capacity_cores * 1000.0),
                        .mem_capacity = (int64_t) MIN(s->mem_capacity, (uint64_t) INT64_MAX),
                        .cpu_usage_milli = (int64_t) (s->online_cpu_usage * 1000.0),
                        .cpu_peak_milli = (int64_t) (MAX(a->estimate.cpu_cores, s->online_cpu_usage) * 1000.0),
                        .mem_usage = (int64_t) MIN(s->online_mem_working_set, (uint64_t) INT64_MAX),
                        .mem_peak = (int64_t) MIN(MAX(a->estimate.mem_bytes, s->online_mem_working_set), (uint64_t) INT64_MAX),
                        .offline_cpu_milli = (int64_t) (MAX(cpu_budget, 0.0) * 1000.0),
                        .offline_memory = (int64_t) MIN(plan->offline_mem_budget, (uint64_t) INT64_MAX),
                        .offline_cpu_requested_milli = req_cpu,
                        .offline_memory_requested = req_mem,
                        .updated_usec = now_realtime_usec(),
                };
                k->have_usage = true;
                k->last_good_sample_usec = s->now_usec;
        }
        if (!k->have_usage || a->opts.dry_run)
                return;
        const KubernetesConfig *kc = &a->config.kubernetes;
        NodePublisherConfig pc = { .threshold = kc->status_change_threshold, .interval_usec = kc->status_update_interval_usec,
                                   .stale_after_usec = kc->stale_after_usec };
        node_publisher_set_config(k->publisher, &pc);
        const NodePublisherStats *before = node_publisher_stats(k->publisher);
        bool was_decaying = before->decaying;
        node_publisher_update(k->publisher, &k->last_usage, k->last_good_sample_usec, held_by_offline_pods(k));
        const NodePublisherStats *ps = node_publisher_stats(k->publisher);
        if (ps->decaying && !was_decaying)
                log_warning("The agent's measurements are older than kubernetes.stale_after: the advertised offline "
                            "capacity decays to 0.");
}

static int build_status(AgentK8s *k, const NodeSample *s, const Plan *plan) {
        Agent *a = k->agent;
        StatusDoc *d = &a->status;
        int r = agent_status_fill_common(a, s, plan);
        if (r < 0)
                return r;
        /* Pods on their way out through the Eviction API say so, with colo's reason. */
        for (size_t i = 0; i < d->n_workloads; i++) {
                const KubeEviction *ev = kube_evictor_find(k->evictor, d->workloads[i].name);
                if (!ev || ev->state == KUBE_EVICTION_GONE)
                        continue;
                d->workloads[i].state = WORKLOAD_EVICTED;
                if (ev->state == KUBE_EVICTION_ACCEPTED)
                        snprintf(d->workloads[i].reason, sizeof(d->workloads[i].reason), "%s", ev->reason);
                else
                        snprintf(d->workloads[i].reason, sizeof(d->workloads[i].reason),
                                 "%s (eviction pending: %u blocked by a disruption budget, %u conflicts)", ev->reason,
                                 ev->blocked, ev->conflicts);
                d->workloads[i].evicted_realtime_usec = ev->requested_realtime_usec;
        }
        return 0;
}

static void report_api_state(AgentK8s *k) {
        const PodWatchStats *ws = pod_watch_stats(k->watch);
        size_t n;
        (void) pod_watch_pods(k->watch, &n);
        if (ws->synced && !k->was_synced)
                log_info("Listed the pods of node '%s': %zu; watching from resourceVersion %s.", k->node_name, n,
                         ws->resource_version);
        bool failing = ws->failures_in_row > 0 && !ws->connected;
        if (failing && k->was_connected)
                log_warning("The API server is unreachable (%s); enforcing with the %zu pods last seen, retrying.",
                            ws->last_error, n);
        else if (!failing && !k->was_connected && ws->connected && k->was_synced)
                log_info("The API server is reachable again.");
        k->was_connected = !failing && ws->connected;
        k->was_synced = ws->synced;
}

static void warn_restart_settings(AgentK8s *k) {
        const KubernetesConfig *kc = &k->agent->config.kubernetes;
        if (k->restart_warned)
                return;
        if (strcmp(kc->kubeconfig, k->started_kubeconfig) != 0 || strcmp(kc->cgroup_driver, k->started_driver) != 0 ||
            strcmp(kc->node_name, k->started_node) != 0) {
                log_warning("kubernetes.kubeconfig, kubernetes.cgroup_driver and kubernetes.node_name take effect after "
                            "a restart; keeping the current ones.");
                k->restart_warned = true;
        }
}

static void notify(AgentK8s *k) {
        Agent *a = k->agent;
        const NodePublisherStats *ps = node_publisher_stats(k->publisher);
        const PodWatchStats *ws = pod_watch_stats(k->watch);
        char text[384];
        snprintf(text, sizeof(text),
                 "STATUS=%zu pods; offline budget %.2f cores, %" PRIu64 " MiB; advertised %" PRIi64 "m, %" PRIi64
                 " MiB; API %s%s%s",
                 k->n_pods, a->status.offline_cpu_budget_cores, a->status.offline_mem_budget >> 20, ps->advertised.cpu_milli,
                 ps->advertised.memory >> 20, pod_watch_state_to_string(ws->state), a->status.squeezed ? "; squeezed" : "",
                 a->opts.dry_run ? "; dry run" : "");
        if (!a->ready) {
                char msg[400];
                snprintf(msg, sizeof(msg), "READY=1\n%s", text);
                (void) sd_notify(0, msg);
                a->ready = true;
                log_info("Ready: managing kubelet's tree %s (%s) on node '%s'.", cg_root_describe(a->root),
                         cg_root_mode(a->root) == CG_MODE_V2 ? "v2" : "v1", k->node_name);
                return;
        }
        (void) sd_notify(0, text);
}

int agent_k8s_tick(Agent *a) {
        AgentK8s *k = a->k8s;
        uint64_t start = now_monotonic_usec();
        NodeSample s;
        Plan *plan = NULL;
        int r;

        a->write_failures_this_tick = 0;
        warn_restart_settings(k);
        report_api_state(k);
        sync_pods(k, start);
        pod_limits_enforcer_sync(k->limits, k->watch, a->opts.dry_run);
        r = sample(k, start, &s);
        if (r >= 0) {
                agent_estimate(a, &s, start);
                r = policy_decide(&s, &a->estimate, &a->config.policy, &a->policy_state, &plan);
                if (r < 0)
                        log_error("The policy rejected the sample: %s", strerror(-r));
        }
        if (r < 0) {
                /* Nothing fresh to act on: keep the knobs as they are; the advertised capacity
                 * decays once this lasts beyond kubernetes.stale_after. */
                publish_node(k, NULL, NULL, false);
                check_overcommit(k, start);
                after_io(k);
                return r;
        }

        if (!a->opts.dry_run)
                apply_plan(k, plan);
        if (a->pending_event_usec != 0) {
                uint64_t now = now_monotonic_usec();
                prom_histogram_observe(&a->metrics.reaction_seconds,
                                       (double) (now - MIN(now, a->pending_event_usec)) / USEC_PER_SEC);
                a->pending_event_usec = 0;
        }
        for (size_t i = 0; i < plan->n_evictions; i++)
                evict_pod(k, plan->evictions[i].name, plan->evictions[i].reason);
        if (plan->squeezed != a->status.squeezed)
                log_notice(plan->squeezed ? "Offline pods squeezed: %s" : "Offline pods no longer squeezed%s",
                           plan->squeezed ? plan->squeeze_reason : ".");
        publish_node(k, &s, plan, true);
        check_overcommit(k, start);

        r = build_status(k, &s, plan);
        plan = plan_free(plan);
        if (r < 0)
                log_error("Failed to build the status: %s", strerror(-r));
        else
                (void) agent_write_status(a);
        psi_watch_update(a->psi, &s);
        after_io(k);

        a->last_tick_usec = now_monotonic_usec();
        a->metrics.ticks_total++;
        prom_histogram_observe(&a->metrics.tick_duration_seconds, (double) (a->last_tick_usec - start) / USEC_PER_SEC);
        notify(k);
        return 0;
}
